// Backward-weights of every convolution but pointwise ones (any stride, any C*R*S), by
// offsets into the padded slab of conv_fused.c: part (C*R*S x K, diff_wei transposed) = sum
// over images of col * diff_dst^T. Row (c, r, s) of col is the slab itself at its offset
// (c*plane + r*Wp + s at stride 1; mimic_conv_slab_offsets), read in place, unpacked, by the
// microkernel's A-offset form; diff_dst is transposed once per image into rows j = p*Wp + q of Kp
// floats (K rounded up to NR), zero where q >= Q (those j belong to no output) and past K. No
// column matrix, and no transpose of one, is ever built.
#include <string.h>

#include "arch/profile.h"
#include "arch/workspace.h"
#include "kernels/conv/conv_internal.h"

// The reduction over j runs this many rows at a time: the chunk's NR-column strip of
// diff_dst^T (32 KiB with NR = 32) stays in L1 while every MR rows of col go by.
#define FUSED_WEIGHTS_CHUNK 256

// Output rows [p0, p1) of one image's diff_dst (K x P*Q) as rows j = (p - p0)*Wp + q of
// ddT, kp floats each.
static void transpose_diff_dst(const conv_plan *pl, const float *dd, int64_t p0, int64_t p1,
                               int64_t kp, float *ddT)
{
    const int64_t K = pl->sh.k, Q = pl->q, wp = pl->wp;
    for (int64_t p = p0; p < p1; p++) {
        float *rows = ddT + (p - p0) * wp * kp;
        pl->k->conv.transpose((size_t)K, (size_t)Q, dd + p * Q, (size_t)pl->pq, rows, (size_t)kp);
        for (int64_t q = 0; q < Q && kp > K; q++)
            memset(rows + q * kp + K, 0, (size_t)(kp - K) * sizeof(float));
        if (p + 1 < p1)
            memset(rows + Q * kp, 0, (size_t)((wp - Q) * kp) * sizeof(float));
    }
}

void mimic_conv_fused_weights(const conv_plan *pl, const float *src, const float *diff_dst,
                              int64_t n0, int64_t n1, float *part)
{
    const mimic_gemm_ukernel *uk = pl->k->gemm;
    const int64_t MR = uk->mr, NR = uk->nr, K = pl->sh.k, crs = pl->crs, wp = pl->wp;
    const int64_t kp = round_up(K, NR), crs_pad = round_up(crs, MR);
    float *slab = mimic_workspace(MIMIC_WS_CONV_COL, pl->col_floats);
    float *ddT = mimic_workspace(MIMIC_WS_CONV_TMP, pl->tmp_floats);
    int64_t *offs = (int64_t *)(ddT + pl->rows * wp * kp);
    float beta = 0.0f;
    for (int64_t n = n0; n < n1; n++)
        for (int64_t p0 = 0; p0 < pl->p; p0 += pl->rows) {
            const int64_t p1 = min64(p0 + pl->rows, pl->p), cols = (p1 - p0 - 1) * wp + pl->q;
            MIMIC_PROF_LOWER(mimic_conv_slab(pl, src + n * pl->sh.c * pl->hw, p0, p1, slab));
            transpose_diff_dst(pl, diff_dst + n * K * pl->pq, p0, p1, kp, ddT);
            mimic_conv_slab_offsets(pl, p1 - p0, crs_pad, offs);
            for (int64_t j0 = 0; j0 < cols; j0 += FUSED_WEIGHTS_CHUNK, beta = 1.0f) {
                const int64_t jl = min64(FUSED_WEIGHTS_CHUNK, cols - j0);
                for (int64_t k0 = 0; k0 < K; k0 += NR)
                    for (int64_t i0 = 0; i0 < crs; i0 += MR)
                        uk->aoff((size_t)min64(MR, crs - i0), (size_t)min64(NR, K - k0), (size_t)jl,
                                 slab + j0, offs + i0, ddT + j0 * kp + k0, (size_t)kp,
                                 part + i0 * K + k0, (size_t)K, beta);
            }
        }
}
