// The pointwise forward (the GEMM on the image in place, + bias, ReLU) and the backward-data
// lowering GEMM + col2im, one image per unit of work, units spread over threads.
#include <string.h>

#include "arch/profile.h"
#include "arch/workspace.h"
#include "kernels/conv/conv_internal.h"
#include "kernels/gemm/gemm_internal.h"

void mimic_conv_gemm(const conv_plan *pl, int trans_a, int64_t M, int64_t N, int64_t K,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                     int64_t ldc)
{
    // From a thread of the convolution's team the GEMM runs on that thread alone
    // (mimic_gemm_run: no worksharing inside another team, and no nested team to open).
    (void)mimic_gemm_run(pl->k, trans_a, 0, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

mimic_status mimic_conv_reserve(const conv_plan *pl, int64_t M, int64_t N, int64_t K)
{
    if ((pl->col_floats && !mimic_workspace(MIMIC_WS_CONV_COL, pl->col_floats)) ||
        (pl->tmp_floats && !mimic_workspace(MIMIC_WS_CONV_TMP, pl->tmp_floats)))
        return MIMIC_ENOMEM;
    return M > 0 ? mimic_gemm_reserve(pl->k, M, N, K) : MIMIC_OK;
}

mimic_status mimic_conv_run_units(const conv_plan *pl, int64_t units, int64_t M, int64_t N,
                                  int64_t K, mimic_conv_unit_fn fn, const void *ctx)
{
    if (pl->threads <= 1) {
        if (mimic_conv_reserve(pl, M, N, K) != MIMIC_OK)
            return MIMIC_ENOMEM;
        for (int64_t u = 0; u < units; u++)
            fn(ctx, u);
        return MIMIC_OK;
    }
    int failed = 0;
#pragma omp parallel num_threads(pl->threads)
    {
        const int bad = mimic_conv_reserve(pl, M, N, K) != MIMIC_OK;
#pragma omp atomic
        failed |= bad;
#pragma omp barrier
        if (!failed) {
#pragma omp for schedule(static)
            for (int64_t u = 0; u < units; u++)
                fn(ctx, u);
        }
    }
    return failed ? MIMIC_ENOMEM : MIMIC_OK;
}

// y[i][j] = act(y[i][j] + bias[i]), act = ReLU or identity; ReLU keeps NaN.
static void bias_act(const conv_plan *pl, float *y, int64_t rows, int64_t cols, int64_t ldy,
                     const float *bias, int relu)
{
    if (bias || relu)
        pl->k->conv.bias_act(y, (size_t)ldy, y, (size_t)ldy, (size_t)rows, (size_t)cols, bias,
                             relu);
}

// ---------------------------------------------------------------- forward

typedef struct {
    const conv_plan *pl;
    const float *src, *wei, *bias;
    int relu;
    float *dst;
} fwd_ctx;

// Unit n: a pointwise convolution of image n, the GEMM on the image in place, straight into
// dst, then the bias and ReLU while the image's output is in L2.
static void fwd_unit(const void *ctx, int64_t n)
{
    const fwd_ctx *a = ctx;
    const conv_plan *pl = a->pl;
    float *out = a->dst + n * pl->sh.k * pl->pq;
    mimic_conv_gemm(pl, 0, pl->sh.k, pl->pq, pl->crs, a->wei, pl->crs,
                    a->src + n * pl->sh.c * pl->hw, pl->pq, 0.0f, out, pl->pq);
    bias_act(pl, out, pl->sh.k, pl->pq, pl->pq, a->bias, a->relu);
}

mimic_status mimic_conv_fwd_run(const conv_plan *pl, const float *src, const float *wei,
                                const float *bias, int relu, float *dst)
{
    if (pl->fused)
        return mimic_conv_fused_run(pl, src, wei, bias, relu, dst);
    if (pl->taps)
        return mimic_conv_taps_run(pl, src, wei, bias, relu, dst);
    const fwd_ctx a = {pl, src, wei, bias, relu, dst};
    return mimic_conv_run_units(pl, pl->sh.n, pl->sh.k, pl->pq, pl->crs, fwd_unit, &a);
}

// ---------------------------------------------------------------- backward data

typedef struct {
    const conv_plan *pl;
    const float *diff_dst, *wei;
    float *diff_src;
} bwd_data_ctx;

// Unit n: image n; col = W^T * diff_dst, chunk by chunk, each added back by col2im.
static void bwd_data_unit(const void *ctx, int64_t n)
{
    const bwd_data_ctx *a = ctx;
    const conv_plan *pl = a->pl;
    const int64_t C = pl->sh.c, K = pl->sh.k;
    const float *dd = a->diff_dst + n * K * pl->pq;
    float *ds = a->diff_src + n * C * pl->hw;
    if (pl->pointwise) {
        mimic_conv_gemm(pl, 1, C, pl->hw, K, a->wei, C, dd, pl->pq, 0.0f, ds, pl->hw);
        return;
    }
    float *col = mimic_workspace(MIMIC_WS_CONV_COL, pl->col_floats);
    memset(ds, 0, (size_t)(C * pl->hw) * sizeof(float));
    for (int64_t p0 = 0; p0 < pl->p; p0 += pl->rows) {
        const int64_t p1 = p0 + pl->rows < pl->p ? p0 + pl->rows : pl->p;
        const int64_t cols = (p1 - p0) * pl->q;
        mimic_conv_gemm(pl, 1, pl->crs, cols, K, a->wei, pl->crs, dd + p0 * pl->q, pl->pq, 0.0f,
                        col, cols);
        MIMIC_PROF_LOWER(pl->k->conv.col2im(&pl->sh, pl->q, p0, p1, col, cols, ds));
    }
}

mimic_status mimic_conv_bwd_data_run(const conv_plan *pl, const float *diff_dst, const float *wei,
                                     float *diff_src)
{
    const bwd_data_ctx a = {pl, diff_dst, wei, diff_src};
    const int64_t M = pl->pointwise ? pl->sh.c : pl->crs;
    const int64_t N = pl->pointwise ? pl->hw : pl->rows * pl->q;
    return mimic_conv_run_units(pl, pl->sh.n, M, N, pl->sh.k, bwd_data_unit, &a);
}
