// AVX-512 wide GEMM tile for a C of at most 4 rows (a batch of 1 to 4: matrix-vector products),
// B read in place: rows x (256 / rows) columns, 16 zmm accumulators whatever the rows (1 x 256,
// 2 x 128, 4 x 64), each k step one contiguous run of B's row (1 KiB, 512 or 256 bytes).
// The 8x32 tile's 1- and 2-row forms keep only 2 or 4 FMA chains, which wait on the FMA
// latency, and walk B one 128-byte piece of each row at a time: NN 1x1024x1024 ran at a fifth
// of oneDNN's speed (docs/gemm.md). Each element is the 8x32 tile's sum (from zero over the
// slice in k order, then + beta * C): the same bits.
#include <immintrin.h>

#include "kernels/gemm/gemm_ukernels.h"

static inline __mmask16 lanes_of(size_t n, size_t first)
{
    return n >= first + 16 ? (__mmask16)0xFFFF
           : n > first     ? (__mmask16)((1u << (n - first)) - 1u)
                           : (__mmask16)0;
}

// R rows (1, 2 or 4, at least m) by V = 16 / R vectors; masked: a partial strip, whose B
// loads stay within its n columns (plain loads measured faster in the 8x32 tile's loop).
static inline __attribute__((always_inline)) void
wide_body(const int R, const int masked, size_t m, size_t n, size_t kc, const float *a,
          size_t a_stride, const float *b, size_t b_stride, float *c, size_t ldc, float beta)
{
    enum { V_MAX = 16 };
    const int V = 16 / R;
    __mmask16 k[V_MAX];
    __m512 acc[4][V_MAX];
#pragma GCC unroll 16
    for (int v = 0; v < V; v++) {
        k[v] = lanes_of(n, (size_t)v * 16);
#pragma GCC unroll 4
        for (int i = 0; i < R; i++)
            acc[i][v] = _mm512_setzero_ps();
    }
    for (size_t p = 0; p < kc; p++) {
        __m512 vb[V_MAX];
#pragma GCC unroll 16
        for (int v = 0; v < V; v++)
            vb[v] = masked ? _mm512_maskz_loadu_ps(k[v], b + v * 16) : _mm512_loadu_ps(b + v * 16);
#pragma GCC unroll 4
        for (int i = 0; i < R; i++) {
            const __m512 va = _mm512_set1_ps(a[i]);
#pragma GCC unroll 16
            for (int v = 0; v < V; v++)
                acc[i][v] = _mm512_fmadd_ps(va, vb[v], acc[i][v]);
        }
        a += a_stride;
        b += b_stride;
    }
    const __m512 vbeta = _mm512_set1_ps(beta);
#pragma GCC unroll 4
    for (int i = 0; i < R; i++) {
        if ((size_t)i >= m)
            break;
        float *ci = c + (size_t)i * ldc;
#pragma GCC unroll 16
        for (int v = 0; v < V; v++) {
            if (beta != 0.0f)
                acc[i][v] = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(k[v], ci + v * 16),
                                            acc[i][v]);
            _mm512_mask_storeu_ps(ci + v * 16, k[v], acc[i][v]);
        }
    }
}

static inline __attribute__((always_inline)) void
wide_rows(const int R, size_t m, size_t n, size_t kc, const float *a, size_t a_stride,
          const float *b, size_t b_stride, float *c, size_t ldc, float beta)
{
    if (n < (size_t)(256 / R))
        wide_body(R, 1, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
    else
        wide_body(R, 0, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
}

void mimic_gemm_f32_wide__avx512(size_t m, size_t n, size_t kc, const float *a, size_t a_stride,
                                 const float *b, size_t b_stride, float *c, size_t ldc,
                                 float beta)
{
    if (m > 2)
        wide_rows(4, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
    else if (m > 1)
        wide_rows(2, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
    else
        wide_rows(1, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
}
