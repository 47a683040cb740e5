// AVX2+FMA wide GEMM tile for a C of at most 4 rows (matrix-vector products), B read in place:
// rows x (96 / rows) columns, 12 ymm accumulators whatever the rows (1 x 96, 2 x 48, 4 x 24),
// B's vectors taken straight into the FMAs (with the broadcast, 13 of the 16 registers). The
// 6x16 tile's four-row form (the least it computes) walked B 64 bytes of each row at a time:
// NN 1x1024x1024 at 0.28x oneDNN capped at AVX2 (docs/gemm.md). Each element is the 6x16
// tile's sum (from zero over the slice in k order, then + beta * C): the same bits.
#include <immintrin.h>

#include "kernels/gemm/gemm_ukernels.h"

// The lanes of the vector at column `first` that lie below n.
static inline __m256i lanes_of(size_t n, size_t first)
{
    const int valid = n > first ? (int)(n - first < 8 ? n - first : 8) : 0;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// R rows (1, 2 or 4, at least m) by V = 12 / R vectors; masked: a partial strip, whose B loads
// stay within its n columns.
static inline __attribute__((always_inline)) void
wide_body(const int R, const int masked, size_t m, size_t n, size_t kc, const float *a,
          size_t a_stride, const float *b, size_t b_stride, float *c, size_t ldc, float beta)
{
    enum { V_MAX = 12 };
    const int V = 12 / R;
    __m256i k[V_MAX];
    __m256 acc[4][V_MAX];
#pragma GCC unroll 12
    for (int v = 0; v < V; v++) {
        k[v] = lanes_of(n, (size_t)v * 8);
#pragma GCC unroll 4
        for (int i = 0; i < R; i++)
            acc[i][v] = _mm256_setzero_ps();
    }
    for (size_t p = 0; p < kc; p++) {
#pragma GCC unroll 4
        for (int i = 0; i < R; i++) {
            const __m256 va = _mm256_broadcast_ss(a + i);
#pragma GCC unroll 12
            for (int v = 0; v < V; v++) {
                const __m256 vb =
                    masked ? _mm256_maskload_ps(b + v * 8, k[v]) : _mm256_loadu_ps(b + v * 8);
                acc[i][v] = _mm256_fmadd_ps(va, vb, acc[i][v]);
            }
        }
        a += a_stride;
        b += b_stride;
    }
    const __m256 vbeta = _mm256_set1_ps(beta);
#pragma GCC unroll 4
    for (int i = 0; i < R; i++) {
        if ((size_t)i >= m)
            break;
        float *ci = c + (size_t)i * ldc;
#pragma GCC unroll 12
        for (int v = 0; v < V; v++) {
            if (beta != 0.0f)
                acc[i][v] = _mm256_fmadd_ps(vbeta, _mm256_maskload_ps(ci + v * 8, k[v]), acc[i][v]);
            _mm256_maskstore_ps(ci + v * 8, k[v], acc[i][v]);
        }
    }
}

static inline __attribute__((always_inline)) void
wide_rows(const int R, size_t m, size_t n, size_t kc, const float *a, size_t a_stride,
          const float *b, size_t b_stride, float *c, size_t ldc, float beta)
{
    if (n < (size_t)(96 / R))
        wide_body(R, 1, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
    else
        wide_body(R, 0, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
}

void mimic_gemm_f32_wide__avx2(size_t m, size_t n, size_t kc, const float *a, size_t a_stride,
                               const float *b, size_t b_stride, float *c, size_t ldc, float beta)
{
    if (m > 2)
        wide_rows(4, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
    else if (m > 1)
        wide_rows(2, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
    else
        wide_rows(1, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
}
