// Backward-weights: diff_wei = sum over images of diff_dst_n * col_n^T, by offsets into a
// padded slab (conv_fused_weights.c) or, for pointwise convolutions, by GEMM with the image
// (transposed, or as the transposed plan's A) read in place; the bias gradient as row sums of
// diff_dst. The batch is cut into a fixed number of image groups
// (pl->groups, chosen from the shape and the cap, never from the thread count): each group's
// partial sum is one thread's, and the partials are added in group order, so the result is
// the same on any number of threads.
#include "arch/profile.h"
#include "arch/workspace.h"
#include "kernels/conv/conv_internal.h"

typedef struct {
    const conv_plan *pl;
    const float *src, *diff_dst;
    float *first; // group 0's partial sum of the GEMM's output (part_len floats)
    float *rest;  // groups 1, 2, ...: part_len floats apart
    int64_t part_len;
    double *bias_part; // groups x K bias partial sums, or NULL: no bias gradient
} bwd_weights_ctx;

// Sum of x[0..n) in a fixed order: 16 running sums (vector lanes), then those in order.
static float row_sum(const float *x, int64_t n)
{
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += x[i + j];
    float s = 0.0f;
    for (; i < n; i++)
        s += x[i];
    for (int j = 0; j < 16; j++)
        s += acc[j];
    return s;
}

// colT (cols x C, cols = (p1-p0)*Q) = the transpose of a pointwise convolution's image rows
// [p0, p1) (its column matrix).
static void lower_transposed(const conv_plan *pl, const float *img, int64_t p0, int64_t p1,
                             float *colT)
{
    const int64_t crs = pl->crs, Q = pl->q;
    pl->k->conv.transpose((size_t)crs, (size_t)((p1 - p0) * Q), img + p0 * Q, (size_t)pl->hw, colT,
                          (size_t)crs);
}

static float *part_of(const bwd_weights_ctx *a, int64_t g)
{
    return g == 0 ? a->first : a->rest + (g - 1) * a->part_len;
}

// The images of group g.
static void group_range(const conv_plan *pl, int64_t g, int64_t *n0, int64_t *n1)
{
    *n0 = g * pl->sh.n / pl->groups;
    *n1 = (g + 1) * pl->sh.n / pl->groups;
}

static void bias_rows(const bwd_weights_ctx *a, int64_t g, const float *dd)
{
    const int64_t K = a->pl->sh.k;
    for (int64_t k = 0; a->bias_part && k < K; k++)
        a->bias_part[g * K + k] += row_sum(dd + k * a->pl->pq, a->pl->pq);
}

// Group g: part_g (K x crs) = sum over its images of diff_dst_n * col_n^T, row chunk by
// row chunk of each image.
static void group_unit(const void *ctx, int64_t g)
{
    const bwd_weights_ctx *a = ctx;
    const conv_plan *pl = a->pl;
    const int64_t C = pl->sh.c, K = pl->sh.k;
    float *part = part_of(a, g);
    int64_t n0, n1;
    group_range(pl, g, &n0, &n1);
    float *colT = mimic_workspace(MIMIC_WS_CONV_COL, pl->col_floats);
    for (int64_t n = n0; n < n1; n++) {
        const float *dd = a->diff_dst + n * K * pl->pq;
        for (int64_t p0 = 0; p0 < pl->p; p0 += pl->rows) {
            const int64_t p1 = p0 + pl->rows < pl->p ? p0 + pl->rows : pl->p;
            MIMIC_PROF_LOWER(lower_transposed(pl, a->src + n * C * pl->hw, p0, p1, colT));
            const float beta = n == n0 && p0 == 0 ? 0.0f : 1.0f;
            mimic_conv_gemm(pl, 0, K, pl->crs, (p1 - p0) * pl->q, dd + p0 * pl->q, pl->pq, colT,
                            pl->crs, beta, part, pl->crs);
        }
        bias_rows(a, g, dd);
    }
}

// Group g of the fused plan: part_g (crs x K) by offsets into each image's padded slab.
static void group_fused_unit(const void *ctx, int64_t g)
{
    const bwd_weights_ctx *a = ctx;
    const conv_plan *pl = a->pl;
    int64_t n0, n1;
    group_range(pl, g, &n0, &n1);
    if (pl->dot_weights) {
        mimic_conv_dot_weights(pl, a->src, a->diff_dst, n0, n1, part_of(a, g),
                               a->bias_part ? a->bias_part + g * pl->sh.k : NULL);
        return;
    }
    mimic_conv_fused_weights(pl, a->src, a->diff_dst, n0, n1, part_of(a, g));
    for (int64_t n = n0; n < n1; n++)
        bias_rows(a, g, a->diff_dst + n * pl->sh.k * pl->pq);
}

// Group g of the transposed plan: part_g (crs x K) = sum over tiles of its images of
// col_tile (crs x t*PQ) * diff_dst_tile^T, each image's diff_dst transposed into consecutive
// rows so the GEMM reads it in place. Used for pointwise convolutions of few input channels:
// C then fills the microkernel's rows far better than it would fill its columns.
static void group_transposed_unit(const void *ctx, int64_t g)
{
    const bwd_weights_ctx *a = ctx;
    const conv_plan *pl = a->pl;
    const int64_t C = pl->sh.c, K = pl->sh.k, pq = pl->pq;
    float *col = mimic_workspace(MIMIC_WS_CONV_COL, pl->col_floats);
    float *ddT = mimic_workspace(MIMIC_WS_CONV_TMP, pl->tmp_floats);
    int64_t n0, n1;
    group_range(pl, g, &n0, &n1);
    for (int64_t t0 = n0; t0 < n1; t0 += pl->tile_n) {
        const int64_t t = t0 + pl->tile_n < n1 ? pl->tile_n : n1 - t0;
        for (int64_t i = 0; i < t; i++) {
            const float *dd = a->diff_dst + (t0 + i) * K * pq;
            MIMIC_PROF_LOWER(pl->k->conv.im2col(
                &pl->sh, pl->q, 0, pl->p, a->src + (t0 + i) * C * pl->hw, col + i * pq, t * pq));
            pl->k->conv.transpose((size_t)K, (size_t)pq, dd, (size_t)pq, ddT + i * pq * K,
                                  (size_t)K);
            bias_rows(a, g, dd);
        }
        mimic_conv_gemm(pl, 0, pl->crs, K, t * pq, col, t * pq, ddT, K, t0 == n0 ? 0.0f : 1.0f,
                        part_of(a, g), K);
    }
}

// part_0 += part_g for g = 1, 2, ... in order; bias likewise, into diff_bias.
static void reduce_groups(const bwd_weights_ctx *a, float *diff_bias)
{
    const conv_plan *pl = a->pl;
    const int64_t K = pl->sh.k;
    for (int64_t g = 1; g < pl->groups; g++) {
        const float *from = part_of(a, g);
        for (int64_t i = 0; i < a->part_len; i++)
            a->first[i] += from[i];
    }
    for (int64_t k = 0; diff_bias && k < K; k++) {
        double s = 0.0;
        for (int64_t g = 0; g < pl->groups; g++)
            s += a->bias_part[g * K + k];
        diff_bias[k] = (float)s;
    }
}

mimic_status mimic_conv_bwd_weights_run(const conv_plan *pl, const float *src,
                                        const float *diff_dst, float *diff_wei, float *diff_bias)
{
    const int64_t K = pl->sh.k, len = K * pl->crs, G = pl->groups, tw = pl->transposed_wei;
    // The calling thread's scratch: groups x K bias sums (per image in float, across images
    // in double), then the partial sums: group 0's is diff_wei itself unless the plan
    // computes the transpose.
    float *aux = mimic_workspace(MIMIC_WS_CONV_AUX, (size_t)(2 * G * K + (G - 1 + tw) * len));
    if (!aux)
        return MIMIC_ENOMEM;
    double *bias = diff_bias ? (double *)aux : NULL;
    for (int64_t i = 0; bias && i < G * K; i++)
        bias[i] = 0.0;
    float *first = tw ? aux + 2 * G * K : diff_wei;
    const bwd_weights_ctx a = {pl,  src, diff_dst, first, tw ? first + len : aux + 2 * G * K,
                               len, bias};
    const mimic_status st =
        pl->fused ? mimic_conv_run_units(pl, G, 0, 0, 0, group_fused_unit, &a)
        : tw ? mimic_conv_run_units(pl, G, pl->crs, K, pl->tile_n * pl->pq, group_transposed_unit,
                                    &a)
             : mimic_conv_run_units(pl, G, K, pl->crs, pl->rows * pl->q, group_unit, &a);
    if (st != MIMIC_OK)
        return st;
    reduce_groups(&a, diff_bias);
    if (tw)
        pl->k->conv.transpose((size_t)pl->crs, (size_t)K, first, (size_t)K, diff_wei,
                              (size_t)pl->crs);
    return MIMIC_OK;
}
