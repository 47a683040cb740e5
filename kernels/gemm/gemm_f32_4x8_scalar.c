// Portable 4x8 GEMM microkernel, written so the compiler keeps the tile in vector registers
// (4x8: 8 accumulators of 4 lanes, which fit the 16 SSE registers of baseline x86-64).
#include "kernels/gemm/gemm_ukernels.h"

#define MR 4
#define NR 8

void mimic_gemm_f32_ukernel_4x8__scalar(size_t m, size_t n, size_t kc, const float *a,
                                         const float *b, size_t b_stride, float *c, size_t ldc,
                                        float beta)
{
    float acc[MR][NR] = {{0.0f}};
    for (size_t p = 0; p < kc; p++) {
        const float *restrict ap = a + p * MR;
        const float *restrict bp = b + p * b_stride;
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
