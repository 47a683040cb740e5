// 2-D convolution by im2col + GEMM: argument checks, the choice of lowering for each pass,
// and the workspace it needs.
#include <stdatomic.h>
#include <string.h>

#include "arch/profile.h"
#include "arch/workspace.h"
#include "kernels/conv/conv_internal.h"

// The column-buffer cap per thread. Per thread, not per call, so that how a problem is cut
// up (which decides the order of the sums) never depends on the thread count.
#define CONV_DEFAULT_LIMIT ((size_t)16 << 20)
static atomic_size_t conv_limit = CONV_DEFAULT_LIMIT;

// Lowered images side by side (column and output tiles together): half of a 1 MiB L2.
#define CONV_TILE_FLOATS 131072

// a * b into *out unless it overflows the element budget of one tensor.
static int mul_ok(int64_t a, int64_t b, int64_t *out)
{
    const int64_t limit = (int64_t)(PTRDIFF_MAX / sizeof(float));
    if (__builtin_mul_overflow(a, b, out))
        return 0;
    return *out <= limit;
}

static int elems(int64_t a, int64_t b, int64_t c, int64_t d, int64_t *out)
{
    int64_t ab, abc;
    return mul_ok(a, b, &ab) && mul_ok(ab, c, &abc) && mul_ok(abc, d, out);
}

// Shape checks and sizes; the lowering fields are left for the pass to choose.
static mimic_status conv_check(const mimic_conv2d *sh, conv_plan *pl)
{
    if (!sh)
        return MIMIC_EINVAL;
    if (sh->n < 0 || sh->c < 1 || sh->h < 1 || sh->w < 1 || sh->k < 1 || sh->r < 1 || sh->s < 1 ||
        sh->stride_h < 1 || sh->stride_w < 1 || sh->pad_h < 0 || sh->pad_w < 0)
        return MIMIC_EINVAL;
    if (sh->pad_h > (INT64_MAX - sh->h) / 2 || sh->pad_w > (INT64_MAX - sh->w) / 2)
        return MIMIC_EINVAL;
    const int64_t hp = sh->h + 2 * sh->pad_h, wp = sh->w + 2 * sh->pad_w;
    if (sh->r > hp || sh->s > wp)
        return MIMIC_EINVAL;
    memset(pl, 0, sizeof *pl);
    pl->sh = *sh;
    pl->p = (hp - sh->r) / sh->stride_h + 1;
    pl->q = (wp - sh->s) / sh->stride_w + 1;
    int64_t src, dst, wei, col;
    if (!elems(sh->n, sh->c, sh->h, sh->w, &src) || !elems(sh->n, sh->k, pl->p, pl->q, &dst) ||
        !elems(sh->k, sh->c, sh->r, sh->s, &wei) || !elems(sh->c, sh->r, sh->s, 1, &pl->crs) ||
        !elems(pl->crs, pl->p, pl->q, 1, &col))
        return MIMIC_EINVAL;
    pl->pq = pl->p * pl->q;
    pl->hw = sh->h * sh->w;
    pl->pointwise = sh->r == 1 && sh->s == 1 && sh->stride_h == 1 && sh->stride_w == 1 &&
                    sh->pad_h == 0 && sh->pad_w == 0;
    pl->k = mimic_kernels_active();
    pl->tile_n = 1;
    pl->rows = pl->p;
    pl->threads = 1;
    return MIMIC_OK;
}

static int64_t limit_floats(void)
{
    return (int64_t)(atomic_load(&conv_limit) / sizeof(float));
}

// Threads over `units` independent pieces of work when there are enough of them; otherwise
// one thread walks them and the GEMM threads itself.
static int units_threads(int64_t units)
{
    const int t = mimic_threads_get();
    return t > 1 && units >= t ? t : 1;
}

// Output rows per lowering when a whole image's column matrix of `width` rows exceeds the cap.
static int64_t rows_within_cap(const conv_plan *pl, int64_t width)
{
    return max64(1, min64(pl->p, limit_floats() / max64(1, width * pl->q)));
}

// Any stride: the fused lowering by offsets into a padded slab applies (conv_fused.c,
// conv_fused_weights.c). Pointwise convolutions keep the plain GEMM, which reads the image in
// place. The forward needs at least CONV_FUSED_MIN_CRS rows of the column matrix: below that
// the microkernel's calls are too short for their fixed costs and the round trip of its
// output tile through bias_act (the first layer, C*R*S = 9, Intel Xeon: 1.6-1.9 ms fused
// against 1.4 ms by per-image im2col + GEMM), and the forward over taps takes it (Zen 5,
// AVX-512, 1 thread: 0.43-0.45 ms against 0.59-0.60 ms by im2col + GEMM; docs/conv.md).
// Backward-weights takes it at any C*R*S (the first layer: 1.9-2.0 ms against 2.6-2.8 ms by
// the transposed per-image plan).
#define CONV_FUSED_MIN_CRS 32

static int fused_ok(const conv_plan *pl, int64_t min_crs)
{
    return !pl->pointwise && pl->crs >= min_crs;
}

// K slices of at most the GEMM's KC, all about as deep (576 = 2 x 288, not 512 + 64).
static int64_t fused_kc(const conv_plan *pl)
{
    const mimic_gemm_blocking bl = mimic_gemm_blocking_for(pl->k->gemm->mr, pl->k->gemm->nr);
    const int64_t slices = (pl->crs + bl.kc - 1) / bl.kc;
    return (pl->crs + slices - 1) / slices;
}

// The slab's row length, and output rows per slab: as many as fit in the cap (with `extra`
// floats per slab column and output row besides the slab), the whole image when it fits.
static void plan_slab(conv_plan *pl, int64_t extra)
{
    const mimic_conv2d *s = &pl->sh;
    // At stride 1 each row is stored as pad_w zeros then its W inputs, and its right padding
    // is the next row's left (or the slack after the last): Wp = W + pad_w, so a 14-wide
    // layer wastes 1 lane in 15 on columns past Q, not 2 in 16. The output row must still fit
    // in Wp: Q = W + 2*pad_w - S + 1 <= W + pad_w, i.e. pad_w <= S - 1.
    if (s->stride_w == 1 && s->pad_w <= s->s - 1)
        pl->wp = s->w + s->pad_w;
    else
        pl->wp = (s->w + 2 * s->pad_w + s->stride_w - 1) / s->stride_w;
    const int64_t ctx = (int64_t)mimic_conv_slab_floats(pl, 0);
    const int64_t per_row = (int64_t)mimic_conv_slab_floats(pl, 1) - ctx + extra * pl->wp;
    pl->rows = max64(1, min64(pl->p, (limit_floats() - ctx) / per_row));
}

// Units of a slab lowering: whole images, or slabs of rows under the cap (with `extra` floats
// per slab column and output row besides the slab), or to give every thread work when the
// batch is smaller than the team (an output is the same sum however the rows are cut).
static void plan_slab_units(conv_plan *pl, int64_t extra)
{
    const int64_t n = max64(1, pl->sh.n);
    const int t = mimic_threads_get();
    plan_slab(pl, extra);
    pl->blocks = (pl->p + pl->rows - 1) / pl->rows;
    if (n * pl->blocks < t) {
        pl->rows = max64(1, (pl->p + (t + n - 1) / n - 1) / ((t + n - 1) / n));
        pl->blocks = (pl->p + pl->rows - 1) / pl->rows;
    }
    pl->col_floats = mimic_conv_slab_floats(pl, pl->rows);
    pl->threads = units_threads(n * pl->blocks);
}

// Forward (and backward-data as a convolution): the fused lowering (C*R*S >= 32), the
// forward over taps below it, the GEMM on the image in place for pointwise convolutions.
static void plan_fwd(conv_plan *pl)
{
    if (fused_ok(pl, CONV_FUSED_MIN_CRS)) {
        const int64_t MR = pl->k->gemm->mr, NR = pl->k->gemm->nr;
        pl->fused = 1;
        pl->kc = fused_kc(pl);
        plan_slab_units(pl, 0);
        pl->tmp_floats = (size_t)(round_up(pl->sh.k, MR) * NR + 2 * round_up(pl->crs, MR));
        return;
    }
    if (pl->pointwise) {
        pl->threads = units_threads(pl->sh.n);
        return;
    }
    const int64_t planes = pl->sh.stride_h * pl->sh.c * pl->sh.s; // shifted planes per slab
    pl->taps = 1;
    plan_slab_units(pl, planes);
    pl->tmp_floats = (size_t)(round_up(mimic_conv_tap_table_floats(pl->crs), 16) +
                              planes * mimic_conv_shifted_plane(pl));
}

static void plan_bwd_data(conv_plan *pl)
{
    pl->threads = units_threads(pl->sh.n); // col2im chunks of one image overlap: images only
    if (!pl->pointwise) {
        pl->rows = rows_within_cap(pl, pl->crs);
        pl->col_floats = (size_t)(pl->crs * pl->rows * pl->q);
    }
}

// The fraction of the microkernel's MR x NR tiles an M x N product fills.
static double tile_fill(const conv_plan *pl, int64_t M, int64_t N)
{
    const int64_t MR = pl->k->gemm->mr, NR = pl->k->gemm->nr;
    return (double)M / (double)((M + MR - 1) / MR * MR) * (double)N /
           (double)((N + NR - 1) / NR * NR);
}

// Image groups of backward-weights: each group's partial sum is one thread's work, and
// together they take at most the cap. A fixed count, not one per thread, so that the sums
// are the same on any number of threads; 8 keeps 2 or 4 threads busy and costs 7 extra
// K x C*R*S partials (at most the cap, in the calling thread's scratch).
#define CONV_WEIGHT_GROUPS 8

// The fused plan (diff_wei^T by offsets into each image's padded slab), for every shape but
// pointwise. Pointwise: diff_wei (K x C) = diff_dst * image^T, or its transpose
// image * diff_dst^T when C is so small against NR that it fills the microkernel's rows far
// better than its columns; the transposed plan takes whole images, a few side by side.
// Backward-weights with at most this many taps (C*R*S: the first layer's 9, the conv
// student's 25) runs on the GEMM's dot-product tiles, the reduction over output pixels in the
// vector lanes (conv_fused_weights.c): the microkernel's A-offset form fills few of its rows
// there and needs diff_dst transposed. Measured (docs/conv.md, batch 128, 28x28, 1 thread,
// AVX-512, dot against A-offset): C=1 5x5 K=64 1.7x, C=3 3x3 1.10x, C=1 7x7 1.16x, C=3 5x5
// 1.16x, C=8 3x3 0.97x, C=16 3x3 0.91x, C=32 3x3 0.86x; AVX2 (batch 32) C=1 5x5 1.37x,
// C=3 3x3 1.06x, C=3 5x5 1.08x, C=8 3x3 0.97x; scalar 1.6-2.3x up to C=8 3x3.
#define CONV_DOT_WEIGHTS_MAX_CRS 75

static void plan_bwd_weights(conv_plan *pl)
{
    const int64_t K = pl->sh.k, per_image = (pl->crs + K) * pl->pq;
    const int64_t fit = limit_floats() / max64(1, K * pl->crs);
    pl->groups = max64(1, min64(pl->sh.n, min64(CONV_WEIGHT_GROUPS, fit)));
    pl->threads = units_threads(pl->groups);
    if (fused_ok(pl, 1)) { // part = diff_wei^T by offsets into each image's padded slab
        const int64_t MR = pl->k->gemm->mr, kp = round_up(K, pl->k->gemm->nr);
        pl->fused = 1;
        pl->transposed_wei = 1;
        pl->dot_weights = pl->crs <= CONV_DOT_WEIGHTS_MAX_CRS && pl->k->gemm->dot;
        plan_slab(pl, pl->dot_weights ? 2 * pl->crs : kp);
        pl->col_floats = mimic_conv_slab_floats(pl, pl->rows);
        pl->tmp_floats = pl->dot_weights
                             ? mimic_conv_dot_weights_floats(pl)
                             : (size_t)(pl->rows * pl->wp * kp + 2 * round_up(pl->crs, MR));
        return;
    }
    if (tile_fill(pl, pl->crs, K) > 1.5 * tile_fill(pl, K, pl->crs) &&
        per_image <= limit_floats()) {
        const int64_t tile = min64(limit_floats(), CONV_TILE_FLOATS) / per_image;
        pl->transposed_wei = 1;
        pl->tile_n = max64(1, min64(pl->sh.n, tile));
        pl->col_floats = (size_t)(pl->tile_n * pl->crs * pl->pq);
        pl->tmp_floats = (size_t)(pl->tile_n * pl->pq * K);
        return;
    }
    pl->rows = rows_within_cap(pl, pl->crs); // pointwise: the image transposed, rows at a time
    pl->col_floats = (size_t)(pl->rows * pl->q * pl->crs);
}

// Backward-data of a stride-1 convolution is the forward convolution of diff_dst with the
// kernel flipped and transposed, padded by (R - 1 - pad): one im2col + GEMM, no col2im. Its
// GEMM has C rows, so few input channels starve the microkernel: with C = 1 it measured
// 4x slower than GEMM + col2im (GEMM of C*R*S rows), with C >= 32 1.2-1.45x faster.
#define CONV_AS_CONV_MIN_C 16
static int bwd_data_as_conv(const conv_plan *pl)
{
    const mimic_conv2d *s = &pl->sh;
    return !pl->pointwise && s->stride_h == 1 && s->stride_w == 1 && s->pad_h <= s->r - 1 &&
           s->pad_w <= s->s - 1 && s->c >= CONV_AS_CONV_MIN_C;
}

static void plan_transposed(const conv_plan *fwd, conv_plan *pl)
{
    const mimic_conv2d *s = &fwd->sh;
    const mimic_conv2d t = {s->n,
                            s->k,
                            fwd->p,
                            fwd->q,
                            s->c,
                            s->r,
                            s->s,
                            1,
                            1,
                            s->r - 1 - s->pad_h,
                            s->s - 1 - s->pad_w};
    *pl = (conv_plan){0};
    (void)conv_check(&t, pl); // valid: its output is the forward input
    plan_fwd(pl);
}

// wt[c][k][r][s] = wei[k][c][R-1-r][S-1-s]
static void flip_weights(const mimic_conv2d *s, const float *wei, float *wt)
{
    const int64_t rs = s->r * s->s;
    for (int64_t c = 0; c < s->c; c++)
        for (int64_t k = 0; k < s->k; k++) {
            const float *from = wei + (k * s->c + c) * rs;
            float *to = wt + (c * s->k + k) * rs;
            for (int64_t i = 0; i < rs; i++)
                to[i] = from[rs - 1 - i];
        }
}

mimic_status mimic_conv2d_out_hw(const mimic_conv2d *shape, int64_t *p, int64_t *q)
{
    conv_plan pl;
    if (!p || !q || conv_check(shape, &pl) != MIMIC_OK)
        return MIMIC_EINVAL;
    *p = pl.p;
    *q = pl.q;
    return MIMIC_OK;
}

// Multiply-adds times two of one pass: 2*N*K*P*Q*C*R*S (each pass does the same count).
static double conv_flops(const conv_plan *pl)
{
    return 2.0 * (double)pl->sh.n * (double)pl->sh.k * (double)pl->pq * (double)pl->crs;
}

mimic_status mimic_conv2d_fwd_ex(const mimic_conv2d *sh, const float *src, const float *wei,
                                 const float *bias, float *dst, unsigned flags)
{
    conv_plan pl;
    if (conv_check(sh, &pl) != MIMIC_OK || (flags & ~(unsigned)MIMIC_CONV_RELU))
        return MIMIC_EINVAL;
    if (sh->n == 0)
        return MIMIC_OK;
    if (!src || !wei || !dst)
        return MIMIC_EINVAL;
    plan_fwd(&pl);
    const mimic_prof_call pc = mimic_prof_begin();
    const mimic_status st =
        mimic_conv_fwd_run(&pl, src, wei, bias, (flags & MIMIC_CONV_RELU) != 0, dst);
    mimic_prof_end_conv(&pc, conv_flops(&pl), pl.threads);
    return st;
}

mimic_status mimic_conv2d_fwd(const mimic_conv2d *sh, const float *src, const float *wei,
                              const float *bias, float *dst)
{
    return mimic_conv2d_fwd_ex(sh, src, wei, bias, dst, 0);
}

mimic_status mimic_conv2d_bwd_data(const mimic_conv2d *sh, const float *diff_dst, const float *wei,
                                   float *diff_src)
{
    conv_plan pl;
    if (conv_check(sh, &pl) != MIMIC_OK)
        return MIMIC_EINVAL;
    if (sh->n == 0)
        return MIMIC_OK;
    if (!diff_dst || !wei || !diff_src)
        return MIMIC_EINVAL;
    const mimic_prof_call pc = mimic_prof_begin();
    mimic_status st;
    if (!bwd_data_as_conv(&pl)) {
        plan_bwd_data(&pl);
        st = mimic_conv_bwd_data_run(&pl, diff_dst, wei, diff_src);
        mimic_prof_end_conv(&pc, conv_flops(&pl), pl.threads);
        return st;
    }
    conv_plan tp;
    plan_transposed(&pl, &tp);
    float *wt = mimic_workspace(MIMIC_WS_CONV_AUX, (size_t)(sh->k * pl.crs));
    if (!wt)
        return MIMIC_ENOMEM;
    flip_weights(sh, wei, wt);
    st = mimic_conv_fwd_run(&tp, diff_dst, wt, NULL, 0, diff_src);
    mimic_prof_end_conv(&pc, conv_flops(&pl), tp.threads);
    return st;
}

mimic_status mimic_conv2d_bwd_weights(const mimic_conv2d *sh, const float *src,
                                      const float *diff_dst, float *diff_wei, float *diff_bias)
{
    conv_plan pl;
    if (conv_check(sh, &pl) != MIMIC_OK || !diff_wei)
        return MIMIC_EINVAL;
    if (sh->n > 0 && (!src || !diff_dst))
        return MIMIC_EINVAL;
    if (sh->n == 0) { // the gradient summed over an empty batch
        memset(diff_wei, 0, (size_t)(sh->k * pl.crs) * sizeof(float));
        if (diff_bias)
            memset(diff_bias, 0, (size_t)sh->k * sizeof(float));
        return MIMIC_OK;
    }
    plan_bwd_weights(&pl);
    const mimic_prof_call pc = mimic_prof_begin();
    const mimic_status st = mimic_conv_bwd_weights_run(&pl, src, diff_dst, diff_wei, diff_bias);
    mimic_prof_end_conv(&pc, conv_flops(&pl), pl.threads);
    return st;
}

// ---------------------------------------------------------------- workspace

// Packing buffers of one GEMM of M x N x K, as mimic_gemm_reserve sizes them.
static size_t gemm_floats(const mimic_kernels *k, int64_t M, int64_t N, int64_t K)
{
    const int64_t MR = k->gemm->mr, NR = k->gemm->nr;
    const mimic_gemm_blocking bl = mimic_gemm_blocking_for(k->gemm->mr, k->gemm->nr);
    const int64_t kc = min64(bl.kc, K);
    const int64_t a = kc * ((min64(bl.mc, M) + MR - 1) / MR * MR);
    const int64_t b = kc * ((min64(bl.nc, N) + NR - 1) / NR * NR);
    return (size_t)(a + b);
}

static size_t plan_bytes(const conv_plan *pl, size_t gemm)
{
    return (size_t)pl->threads * (pl->col_floats + pl->tmp_floats + gemm) * sizeof(float);
}

// The forward plan's buffers: the slab, the output tile and the packed weights, or the column
// buffer and the GEMM's packing.
static size_t fwd_bytes(const conv_plan *pl)
{
    if (pl->taps)
        return plan_bytes(pl, 0);
    if (!pl->fused)
        return plan_bytes(pl, gemm_floats(pl->k, pl->sh.k, pl->rows * pl->q, pl->crs));
    return plan_bytes(pl, 0) + (size_t)(mimic_conv_k_padded(pl) * pl->crs) * sizeof(float);
}

mimic_status mimic_conv2d_workspace_bytes(const mimic_conv2d *shape, mimic_conv_pass pass,
                                          size_t *bytes)
{
    conv_plan pl, tp;
    if (!bytes || conv_check(shape, &pl) != MIMIC_OK)
        return MIMIC_EINVAL;
    const int64_t K = shape->k, cols = pl.rows * pl.q;
    switch (pass) {
    case MIMIC_CONV_FWD:
        plan_fwd(&pl);
        *bytes = fwd_bytes(&pl);
        return MIMIC_OK;
    case MIMIC_CONV_BWD_DATA:
        if (bwd_data_as_conv(&pl)) {
            plan_transposed(&pl, &tp);
            *bytes = fwd_bytes(&tp) + (size_t)(K * pl.crs) * sizeof(float);
            return MIMIC_OK;
        }
        plan_bwd_data(&pl);
        *bytes = plan_bytes(&pl, gemm_floats(pl.k, pl.crs, pl.rows * pl.q, K));
        return MIMIC_OK;
    case MIMIC_CONV_BWD_WEIGHTS:
        plan_bwd_weights(&pl);
        *bytes =
            (size_t)(2 * pl.groups * K + (pl.groups - 1 + pl.transposed_wei) * K * pl.crs) *
                sizeof(float) +
            plan_bytes(&pl, pl.fused            ? 0
                            : pl.transposed_wei ? gemm_floats(pl.k, pl.crs, K, pl.tile_n * pl.pq)
                                                : gemm_floats(pl.k, K, pl.crs, cols));
        return MIMIC_OK;
    }
    return MIMIC_EINVAL;
}

mimic_status mimic_conv2d_set_workspace_limit(size_t bytes)
{
    atomic_store(&conv_limit, bytes ? bytes : CONV_DEFAULT_LIMIT);
    return MIMIC_OK;
}
