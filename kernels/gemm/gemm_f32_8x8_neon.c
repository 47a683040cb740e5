// NEON GEMM microkernel, 8x8: 16 q-register accumulators (8 rows x 2 vectors); per k step two
// B loads, two A loads, and 16 FMAs that take their A value by lane (vfmaq_laneq_f32), so no
// broadcasts are needed. AArch64 has 32 q registers: 16 + 2 + 2 leaves room for the pipeline.
// Edge columns go through a small stack tile (NEON has no masked store).
// One body, four entry points (GEMM, GEMM with a prefetch stream, and the convolution's
// B-offset and A-offset forms: see arch/kernels.h); the unused forms fold away at compile time.
// The A-offset form gathers its eight A values lane by lane (rows are apart in memory).
#include <arm_neon.h>
#include <string.h>

#include "kernels/gemm/gemm_ukernels.h"

#define MR 8

#define FMA_ROW(i, va, lane)                                                                       \
    do {                                                                                           \
        vacc##i##x0 = vfmaq_laneq_f32(vacc##i##x0, vb0, va, lane);                                 \
        vacc##i##x1 = vfmaq_laneq_f32(vacc##i##x1, vb1, va, lane);                                 \
    } while (0)

// One row of C (n <= 8 columns) = acc (+ beta * C).
static inline void store_row(float *ci, size_t n, float32x4_t v0, float32x4_t v1, float beta)
{
    float tile[8];
    if (n < 8)
        memcpy(tile, ci, n * sizeof(float));
    float *dst = n < 8 ? tile : ci;
    if (beta != 0.0f) {
        v0 = vfmaq_n_f32(v0, vld1q_f32(dst), beta);
        v1 = vfmaq_n_f32(v1, vld1q_f32(dst + 4), beta);
    }
    vst1q_f32(dst, v0);
    vst1q_f32(dst + 4, v1);
    if (n < 8)
        memcpy(ci, tile, n * sizeof(float));
}

#define STORE_ROW(i)                                                                               \
    do {                                                                                           \
        if (m > i)                                                                                 \
            store_row(c + i * ldc, n, vacc##i##x0, vacc##i##x1, beta);                             \
    } while (0)

static inline __attribute__((always_inline)) void
tile(size_t m, size_t n, size_t kc, const float *a, size_t a_stride, const int64_t *a_offs,
     const float *b, size_t b_stride, const int64_t *b_offs, float *c, size_t ldc, float beta,
     const float *pf, size_t pf_stride, unsigned pf_shift)
{
    const size_t pf_every = ((size_t)1 << pf_shift) - 1;
    // Start fetching the C tile, which is read and written only after the k loop.
    for (size_t i = 0; i < m; i++)
        __builtin_prefetch(c + i * ldc);
    const float *arow[MR];
    for (int i = 0; i < MR; i++)
        arow[i] = a_offs ? a + a_offs[i] : a;
    float32x4_t vacc0x0 = vdupq_n_f32(0.0f), vacc0x1 = vdupq_n_f32(0.0f);
    float32x4_t vacc1x0 = vdupq_n_f32(0.0f), vacc1x1 = vdupq_n_f32(0.0f);
    float32x4_t vacc2x0 = vdupq_n_f32(0.0f), vacc2x1 = vdupq_n_f32(0.0f);
    float32x4_t vacc3x0 = vdupq_n_f32(0.0f), vacc3x1 = vdupq_n_f32(0.0f);
    float32x4_t vacc4x0 = vdupq_n_f32(0.0f), vacc4x1 = vdupq_n_f32(0.0f);
    float32x4_t vacc5x0 = vdupq_n_f32(0.0f), vacc5x1 = vdupq_n_f32(0.0f);
    float32x4_t vacc6x0 = vdupq_n_f32(0.0f), vacc6x1 = vdupq_n_f32(0.0f);
    float32x4_t vacc7x0 = vdupq_n_f32(0.0f), vacc7x1 = vdupq_n_f32(0.0f);
    for (size_t p = 0; p < kc; p++) {
        const float *bp = b_offs ? b + b_offs[p] : b;
        const float32x4_t vb0 = vld1q_f32(bp);
        const float32x4_t vb1 = vld1q_f32(bp + 4);
        float32x4_t va0, va1;
        if (a_offs) {
            va0 = vld1q_lane_f32(arow[0] + p, vdupq_n_f32(0.0f), 0);
            va0 = vld1q_lane_f32(arow[1] + p, va0, 1);
            va0 = vld1q_lane_f32(arow[2] + p, va0, 2);
            va0 = vld1q_lane_f32(arow[3] + p, va0, 3);
            va1 = vld1q_lane_f32(arow[4] + p, vdupq_n_f32(0.0f), 0);
            va1 = vld1q_lane_f32(arow[5] + p, va1, 1);
            va1 = vld1q_lane_f32(arow[6] + p, va1, 2);
            va1 = vld1q_lane_f32(arow[7] + p, va1, 3);
        } else {
            va0 = vld1q_f32(a);
            va1 = vld1q_f32(a + 4);
        }
        FMA_ROW(0, va0, 0);
        FMA_ROW(1, va0, 1);
        FMA_ROW(2, va0, 2);
        FMA_ROW(3, va0, 3);
        FMA_ROW(4, va1, 0);
        FMA_ROW(5, va1, 1);
        FMA_ROW(6, va1, 2);
        FMA_ROW(7, va1, 3);
        if (pf && (p & pf_every) == 0) {
            __builtin_prefetch(pf, 0, 2);
            pf += pf_stride;
        }
        if (!a_offs)
            a += a_stride;
        if (!b_offs)
            b += b_stride;
    }
    STORE_ROW(0);
    STORE_ROW(1);
    STORE_ROW(2);
    STORE_ROW(3);
    STORE_ROW(4);
    STORE_ROW(5);
    STORE_ROW(6);
    STORE_ROW(7);
}

void mimic_gemm_f32_ukernel_8x8__neon(size_t m, size_t n, size_t kc, const float *a,
                                      size_t a_stride, const float *b, size_t b_stride, float *c,
                                      size_t ldc, float beta)
{
    tile(m, n, kc, a, a_stride, NULL, b, b_stride, NULL, c, ldc, beta, NULL, 0, 0);
}

void mimic_gemm_f32_ukernel_8x8_pf__neon(size_t m, size_t n, size_t kc, const float *a,
                                         size_t a_stride, const float *b, size_t b_stride,
                                         float *c, size_t ldc, float beta, const float *pf,
                                         size_t pf_stride, unsigned pf_shift)
{
    tile(m, n, kc, a, a_stride, NULL, b, b_stride, NULL, c, ldc, beta, pf, pf_stride, pf_shift);
}

void mimic_gemm_f32_ukernel_8x8_boff__neon(size_t m, size_t n, size_t kc, const float *a,
                                           const float *b, const int64_t *b_offs, float *c,
                                           size_t ldc, float beta)
{
    tile(m, n, kc, a, MR, NULL, b, 0, b_offs, c, ldc, beta, NULL, 0, 0);
}

void mimic_gemm_f32_ukernel_8x8_aoff__neon(size_t m, size_t n, size_t kc, const float *a,
                                           const int64_t *a_offs, const float *b, size_t b_stride,
                                           float *c, size_t ldc, float beta)
{
    tile(m, n, kc, a, 0, a_offs, b, b_stride, NULL, c, ldc, beta, NULL, 0, 0);
}
