// AVX-512 wide GEMM tile for a C of at most 4 rows (matrix-vector products), B read in place:
// rows x (256 / rows) columns, 16 zmm accumulators whatever the rows (1 x 256, 2 x 128, 4 x 64),
// each k step one contiguous run of B's row (1 KiB, 512 or 256 bytes), loaded once into
// registers. The 8x32 tile's 1- and 2-row forms keep only 2 or 4 FMA chains, which wait on the
// FMA latency, and walk B one 128-byte piece of each row at a time: NN 1x1024x1024 ran at a
// fifth of oneDNN's speed (docs/gemm.md). The body is gemm_wide_template.h.
#include <immintrin.h>

#include "kernels/gemm/gemm_ukernels.h"

#define V __m512
#define VLEN 16
#define VMASK __mmask16
#define WIDE_VECS 16
#define WIDE_B_IN_REGS 1
#define WIDE_FN mimic_gemm_f32_wide__avx512
#define v_zero() _mm512_setzero_ps()
#define v_set1(x) _mm512_set1_ps(x)
#define v_load(p) _mm512_loadu_ps(p)
#define v_fma(a, b, acc) _mm512_fmadd_ps((a), (b), (acc))
#define v_load_mask(p, k) _mm512_maskz_loadu_ps((k), (p))
#define v_store_mask(p, k, v) _mm512_mask_storeu_ps((p), (k), (v))

static inline __mmask16 v_mask(size_t n, size_t first)
{
    return n >= first + 16 ? (__mmask16)0xFFFF
           : n > first     ? (__mmask16)((1u << (n - first)) - 1u)
                           : (__mmask16)0;
}

#include "kernels/gemm/gemm_wide_template.h"
