// AVX-512 dot-product GEMM tile, 4x6: 24 zmm accumulators, the 4 A vectors and one B vector
// at a time (29 of the 32 registers), 10 loads per 24 FMAs; the K tail by masked loads. The
// body is gemm_dot_template.h. Against the 4x4 tile it replaced, on the convolution's
// backward-weights of the first layer (docs/conv.md), 6 taps per call instead of 4 left the
// loop FMA-bound although the taps' rows straddle cache lines (each such load takes two).
#include <immintrin.h>

#include "kernels/gemm/gemm_ukernels.h"

#define V __m512
#define VLEN 16
#define DOT_MR 4
#define DOT_NR 6
#define DOT_A_FIRST 1
#define DOT_FN mimic_gemm_f32_dot_4x6__avx512
#define v_zero() _mm512_setzero_ps()
#define v_load(p) _mm512_loadu_ps(p)
#define v_load_tail(p, r) _mm512_maskz_loadu_ps((__mmask16)((1u << (r)) - 1u), (p))
#define v_fma(a, b, acc) _mm512_fmadd_ps((a), (b), (acc))
#define v_keep(x) __asm__("" : "+v"(x))

// Lane sums of four vectors: pairwise interleaved adds within each 128-bit lane, then the
// four 128-bit lanes added.
static inline void v_sum4(__m512 a, __m512 b, __m512 c, __m512 d, float out[4])
{
    const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    const __m512 abcd = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                      _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(abcd),
                                   _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(abcd), 1)));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}

#include "kernels/gemm/gemm_dot_template.h"
