// AVX2+FMA wide GEMM tile for a C of at most 4 rows (matrix-vector products), B read in place:
// rows x (96 / rows) columns, 12 ymm accumulators whatever the rows (1 x 96, 2 x 48, 4 x 24),
// B's vectors taken straight into the FMAs (with the broadcast, 13 of the 16 registers). The
// 6x16 tile's four-row form (the least it computes) walked B 64 bytes of each row at a time:
// NN 1x1024x1024 at 0.28x oneDNN capped at AVX2 (docs/gemm.md). The body is
// gemm_wide_template.h.
#include <immintrin.h>

#include "kernels/gemm/gemm_ukernels.h"

#define V __m256
#define VLEN 8
#define VMASK __m256i
#define WIDE_VECS 12
#define WIDE_B_IN_REGS 0
#define WIDE_FN mimic_gemm_f32_wide__avx2
#define v_zero() _mm256_setzero_ps()
#define v_set1(x) _mm256_set1_ps(x)
#define v_load(p) _mm256_loadu_ps(p)
#define v_fma(a, b, acc) _mm256_fmadd_ps((a), (b), (acc))
#define v_load_mask(p, k) _mm256_maskload_ps((p), (k))
#define v_store_mask(p, k, v) _mm256_maskstore_ps((p), (k), (v))

static inline __m256i v_mask(size_t n, size_t first)
{
    const int valid = n > first ? (int)(n - first < 8 ? n - first : 8) : 0;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#include "kernels/gemm/gemm_wide_template.h"
