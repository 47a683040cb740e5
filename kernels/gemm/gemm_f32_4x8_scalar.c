// Portable 4x8 GEMM microkernel, written so the compiler keeps the tile in vector registers
// (4x8: 8 accumulators of 4 lanes, which fit the 16 SSE registers of baseline x86-64).
#include "kernels/gemm/gemm_ukernels.h"

#define MR 4
#define NR 8

// One body, four entry points (GEMM, GEMM with a prefetch stream, and the convolution's
// B-offset and A-offset forms: see arch/kernels.h); the unused forms fold away at compile time.
static inline __attribute__((always_inline)) void
tile(size_t m, size_t n, size_t kc, const float *a, size_t a_stride, const int64_t *a_offs,
     const float *b, size_t b_stride, const int64_t *b_offs, float *c, size_t ldc, float beta,
     const float *pf, size_t pf_stride, unsigned pf_shift)
{
    const size_t pf_every = ((size_t)1 << pf_shift) - 1;
    float acc[MR][NR] = {{0.0f}};
    for (size_t p = 0; p < kc; p++) {
        if (pf && (p & pf_every) == 0) {
            __builtin_prefetch(pf, 0, 2);
            pf += pf_stride;
        }
        float ap[MR];
        for (int i = 0; i < MR; i++)
            ap[i] = a_offs ? a[a_offs[i] + (int64_t)p] : a[p * a_stride + i];
        const float *restrict bp = b_offs ? b + b_offs[p] : b + p * b_stride;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i][j] += ap[i] * bp[j];
    }
    if (beta == 0.0f) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                c[i * ldc + j] = acc[i][j];
        return;
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            c[i * ldc + j] = acc[i][j] + beta * c[i * ldc + j];
}

void mimic_gemm_f32_ukernel_4x8__scalar(size_t m, size_t n, size_t kc, const float *a,
                                        size_t a_stride, const float *b, size_t b_stride, float *c,
                                        size_t ldc, float beta)
{
    tile(m, n, kc, a, a_stride, NULL, b, b_stride, NULL, c, ldc, beta, NULL, 0, 0);
}

void mimic_gemm_f32_ukernel_4x8_pf__scalar(size_t m, size_t n, size_t kc, const float *a,
                                           size_t a_stride, const float *b, size_t b_stride,
                                           float *c, size_t ldc, float beta, const float *pf,
                                           size_t pf_stride, unsigned pf_shift)
{
    tile(m, n, kc, a, a_stride, NULL, b, b_stride, NULL, c, ldc, beta, pf, pf_stride, pf_shift);
}

void mimic_gemm_f32_ukernel_4x8_boff__scalar(size_t m, size_t n, size_t kc, const float *a,
                                             const float *b, const int64_t *b_offs, float *c,
                                             size_t ldc, float beta)
{
    tile(m, n, kc, a, MR, NULL, b, 0, b_offs, c, ldc, beta, NULL, 0, 0);
}

void mimic_gemm_f32_ukernel_4x8_aoff__scalar(size_t m, size_t n, size_t kc, const float *a,
                                             const int64_t *a_offs, const float *b, size_t b_stride,
                                             float *c, size_t ldc, float beta)
{
    tile(m, n, kc, a, 0, a_offs, b, b_stride, NULL, c, ldc, beta, NULL, 0, 0);
}
