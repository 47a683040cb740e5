// AVX2+FMA dot-product GEMM tile, 4x3: 12 ymm accumulators, three B vectors and one A vector
// fill the 16 registers (4x4 would spill); the K tail by vmaskmovps. The body is
// gemm_dot_template.h.
#include <immintrin.h>

#include "kernels/gemm/gemm_ukernels.h"

#define V __m256
#define VLEN 8
#define DOT_MR 4
#define DOT_NR 3
#define DOT_A_FIRST 0
#define DOT_FN mimic_gemm_f32_dot_4x3__avx2
#define v_zero() _mm256_setzero_ps()
#define v_load(p) _mm256_loadu_ps(p)
#define v_load_tail(p, r)                                                                          \
    _mm256_maskload_ps((p), _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(r)),                        \
                                               _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)))
#define v_fma(a, b, acc) _mm256_fmadd_ps((a), (b), (acc))
#define v_keep(x) ((void)0)

// Lane sums of four vectors: interleaved adds within each 128-bit lane, then the two lanes.
static inline void v_sum4(__m256 a, __m256 b, __m256 c, __m256 d, float out[4])
{
    const __m256 ab = _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
    const __m256 cd = _mm256_add_ps(_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
    const __m256 abcd = _mm256_add_ps(_mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                      _mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1)));
}

#include "kernels/gemm/gemm_dot_template.h"
