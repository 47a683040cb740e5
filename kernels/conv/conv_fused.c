// The forward lowering without an im2col buffer (the indirect GEMM of XNNPACK, by offsets).
// Each image, or block of its output rows, is copied once into a padded slab (every
// channel's rows with their zero padding, Wp floats wide: W + pad_w at stride 1, where a
// row's right padding is the next row's left, W + 2*pad_w otherwise). At stride 1, output
// pixel (p, q) of tap (c, r, s) reads slab element c*plane + r*Wp + s + j with j = p*Wp + q:
// every row of the column matrix is the slab itself at a fixed offset, if the output is
// indexed by j, Wp columns per row, of which the last Wp - Q are never stored. A strided
// convolution is copied as stride_h x stride_w phases (rows and columns of the padded input
// taken stride apart, each phase ceil(Wp / stride_w) wide), in which every tap reads at
// stride 1 again. The microkernel's B-offset form reads those rows in place; its K x NR
// output tile goes to dst with the bias and ReLU. The cost of the lowering is one copy of the
// input, not a column matrix C*R*S times its size built in memory; the price is
// (Wp - Q)/Wp of wasted lanes (at stride 1 with pad_w = (S - 1)/2: 1 in 15 on a 14-wide
// layer, 1 in 29 on a 28-wide one).
#include <string.h>

#include "arch/profile.h"
#include "arch/workspace.h"
#include "kernels/conv/conv_internal.h"
#include "kernels/conv/im2col.h"
#include "kernels/gemm/gemm_internal.h"

void mimic_conv_slab(const conv_plan *pl, const float *img, int64_t p0, int64_t p1, float *slab)
{
    const mimic_conv2d *s = &pl->sh;
    const int64_t rows = mimic_conv_slab_rows(pl, p1 - p0), wp = pl->wp, sh = s->stride_h;
    for (int64_t a = 0; a < sh; a++)
        for (int64_t b = 0; b < s->stride_w; b++) {
            // Slab rows [t0, t1) and columns [lo, hi) of phase (a, b) lie inside the input.
            int64_t t0, t1, lo, hi;
            mimic_conv_valid_range(s->pad_h, s->h, sh, rows, p0 * sh + a, &t0, &t1);
            mimic_conv_valid_range(s->pad_w, s->w, s->stride_w, wp, b, &lo, &hi);
            if (t0 >= t1 || lo >= hi) { // all padding
                memset(slab, 0, (size_t)(s->c * rows * wp) * sizeof(float));
                slab += s->c * rows * wp;
                continue;
            }
            const int64_t first = ((p0 + t0) * sh + a - s->pad_h) * s->w + lo * s->stride_w + b -
                                  s->pad_w; // input element of slab row t0, column lo
            for (int64_t c = 0; c < s->c; c++, slab += rows * wp) {
                memset(slab, 0, (size_t)(t0 * wp) * sizeof(float));
                pl->k->conv.pad_rows(slab + t0 * wp, wp, img + c * pl->hw + first, sh * s->w,
                                     t1 - t0, hi - lo, s->stride_w, lo, wp - hi);
                memset(slab + t1 * wp, 0, (size_t)((rows - t1) * wp) * sizeof(float));
            }
        }
    memset(slab, 0, (size_t)mimic_conv_slab_slack(pl) * sizeof(float));
}

void mimic_conv_slab_offsets(const conv_plan *pl, int64_t rows, int64_t pad_to, int64_t *offs)
{
    const mimic_conv2d *s = &pl->sh;
    const int64_t plane = mimic_conv_slab_rows(pl, rows) * pl->wp, rs = s->r * s->s;
    // Channel 0's taps, then every other channel's one plane further each: the divisions
    // once per tap, not per entry (per image they were 2 % of a teacher step).
    for (int64_t r = 0; r < s->r; r++)
        for (int64_t t = 0; t < s->s; t++) {
            const int64_t phase = r % s->stride_h * s->stride_w + t % s->stride_w;
            offs[r * s->s + t] = phase * s->c * plane + r / s->stride_h * pl->wp + t / s->stride_w;
        }
    int64_t k = rs;
    for (int64_t c = 1; c < s->c; c++)
        for (int64_t i = 0; i < rs; i++, k++)
            offs[k] = offs[i] + c * plane;
    for (; k < pad_to; k++)
        offs[k] = 0;
}

// mimic_conv_shift_slab: the slab's planes re-cut with rows of exactly Q floats, one copy per
// kernel column s:
// plane (a, c, s) = shifted + ((a*C + c)*S + s)*plane holds slab row t of phase
// (a, s % stride_w), channel c, from column s / stride_w, at t*Q. Tap (c, r, s) of output
// (p, q) then reads element p*Q + q of plane (r % stride_h, c, s) from row r / stride_h on: the
// same index as the output pixel in dst and diff_dst, so both run contiguously through a whole
// slab. tap[t] gets where tap t starts.
void mimic_conv_shift_slab(const conv_plan *pl, const float *slab, int64_t out_rows, int64_t plane,
                           float *shifted, const float **tap)
{
    const mimic_conv2d *sh = &pl->sh;
    const int64_t Q = pl->q, slab_rows = mimic_conv_slab_rows(pl, out_rows);
    const int64_t slab_plane = slab_rows * pl->wp;
    const int64_t C = sh->c, R = sh->r, S = sh->s, sw = sh->stride_w;
    for (int64_t a = 0; a < sh->stride_h; a++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t s = 0; s < S; s++)
                pl->k->conv.pad_rows(shifted + ((a * C + c) * S + s) * plane, Q,
                                     slab + ((a * sw + s % sw) * C + c) * slab_plane + s / sw,
                                     pl->wp, slab_rows, Q, 1, 0, 0);
    for (int64_t c = 0; c < C; c++)
        for (int64_t r = 0; r < R; r++)
            for (int64_t s = 0; s < S; s++)
                tap[(c * R + r) * S + s] =
                    shifted + ((r % sh->stride_h * C + c) * S + s) * plane + r / sh->stride_h * Q;
}

// ---------------------------------------------------------------- forward with few taps

typedef struct {
    const conv_plan *pl;
    const float *src, *wei, *bias;
    int relu;
    float *dst;
} taps_ctx;

// Unit u: output rows [p0, p1) of image u / blocks: the slab, its shifted planes, then every
// output channel's pixels of those rows straight into dst.
static void taps_unit(const void *ctx, int64_t u)
{
    const taps_ctx *a = ctx;
    const conv_plan *pl = a->pl;
    const int64_t n = u / pl->blocks, p0 = u % pl->blocks * pl->rows,
                  p1 = min64(p0 + pl->rows, pl->p);
    float *slab = mimic_workspace(MIMIC_WS_CONV_COL, pl->col_floats);
    float *tmp = mimic_workspace(MIMIC_WS_CONV_TMP, pl->tmp_floats);
    const float **tap = (const float **)(void *)tmp;
    float *shifted = tmp + round_up(mimic_conv_tap_table_floats(pl->crs), 16);
    MIMIC_PROF_LOWER(mimic_conv_slab(pl, a->src + n * pl->sh.c * pl->hw, p0, p1, slab);
                     mimic_conv_shift_slab(pl, slab, p1 - p0, mimic_conv_shifted_plane(pl),
                                           shifted, tap));
    pl->k->conv.fwd_taps(a->dst + n * pl->sh.k * pl->pq + p0 * pl->q, (size_t)pl->pq, a->wei,
                         (size_t)pl->crs, tap, (size_t)pl->crs, (size_t)pl->sh.k,
                         (size_t)((p1 - p0) * pl->q), a->bias, a->relu);
}

mimic_status mimic_conv_taps_run(const conv_plan *pl, const float *src, const float *wei,
                                 const float *bias, int relu, float *dst)
{
    const taps_ctx a = {pl, src, wei, bias, relu, dst};
    return mimic_conv_run_units(pl, pl->sh.n * pl->blocks, 0, 0, 0, taps_unit, &a);
}

// ---------------------------------------------------------------- forward by offsets

typedef struct {
    const conv_plan *pl;
    const float *src, *apack, *bias;
    int relu;
    float *dst;
} fused_ctx;

#define CONV_FWD_PREFETCH_MAX_FLOATS (16 * 1024) // 64 KiB of input

// Columns [j0, j0 + nr) of the output tile (K x NR, j = (p - p0)*Wp + q) to image n's dst:
// each run of valid columns (q < Q) is a piece of one output row of every channel.
static void tile_out(const fused_ctx *a, int64_t n, int64_t p0, int64_t j0, int64_t nr,
                     const float *tile)
{
    const conv_plan *pl = a->pl;
    const int64_t K = pl->sh.k, NR = pl->k->gemm->nr, wp = pl->wp, Q = pl->q;
    float *out = a->dst + n * K * pl->pq;
    for (int64_t l = 0; l < nr;) {
        const int64_t j = j0 + l, q = j % wp;
        if (q >= Q) {
            l += wp - q;
            continue;
        }
        const int64_t len = min64(Q - q, nr - l), pix = (p0 + j / wp) * Q + q;
        pl->k->conv.bias_act(out + pix, (size_t)pl->pq, tile + l, (size_t)NR, (size_t)K,
                             (size_t)len, a->bias, a->relu);
        l += len;
    }
}

// Unit u: output rows [p0, p1) of image u / blocks, NR columns of j at a time, each through
// every K slice and every MR rows of output channels.
static void fused_unit(const void *ctx, int64_t u)
{
    const fused_ctx *a = ctx;
    const conv_plan *pl = a->pl;
    const mimic_gemm_ukernel *uk = pl->k->gemm;
    const int64_t MR = uk->mr, NR = uk->nr, K = pl->sh.k, crs = pl->crs,
                  kpad = mimic_conv_k_padded(pl);
    const int64_t n = u / pl->blocks, p0 = u % pl->blocks * pl->rows,
                  p1 = min64(p0 + pl->rows, pl->p);
    float *slab = mimic_workspace(MIMIC_WS_CONV_COL, pl->col_floats);
    float *tile = mimic_workspace(MIMIC_WS_CONV_TMP, pl->tmp_floats);
    int64_t *offs = (int64_t *)(tile + kpad * NR);
    MIMIC_PROF_LOWER(mimic_conv_slab(pl, a->src + n * pl->sh.c * pl->hw, p0, p1, slab));
    mimic_conv_slab_offsets(pl, p1 - p0, crs, offs);
    const int64_t cols = (p1 - p0 - 1) * pl->wp + pl->q;
    // Whole images of small inputs: the next one's input (units go to the threads in runs,
    // schedule(static)). Measured (docs/conv.md): the 14 x 14 layers' passes +2-5 %, the 28 x 28
    // one's (100 KB of input) 4-5 % slower with it.
    const int next = pl->blocks == 1 && n + 1 < pl->sh.n &&
                     pl->sh.c * pl->hw <= CONV_FWD_PREFETCH_MAX_FLOATS;
    conv_prefetch pf;
    conv_prefetch_init(&pf, next ? a->src + (n + 1) * pl->sh.c * pl->hw : NULL,
                       pl->sh.c * pl->hw, NULL, 0,
                       (cols + NR - 1) / NR * ((crs + pl->kc - 1) / pl->kc) * ((K + MR - 1) / MR));
    for (int64_t j0 = 0; j0 < cols; j0 += NR) {
        const int64_t nr = min64(NR, cols - j0);
        for (int64_t k0 = 0; k0 < crs; k0 += pl->kc) {
            const int64_t kb = min64(pl->kc, crs - k0);
            const float *ap = a->apack + kpad * k0;
            for (int64_t i = 0; i < K; i += MR, conv_prefetch_step(&pf))
                uk->boff((size_t)min64(MR, K - i), (size_t)nr, (size_t)kb, ap + i * kb, slab + j0,
                         offs + k0, tile + i * NR, (size_t)NR, k0 == 0 ? 0.0f : 1.0f);
        }
        tile_out(a, n, p0, j0, nr, tile);
    }
}

mimic_status mimic_conv_fused_run(const conv_plan *pl, const float *src, const float *wei,
                                  const float *bias, int relu, float *dst)
{
    const int64_t crs = pl->crs, kpad = mimic_conv_k_padded(pl);
    // The weights, packed once per call into MR-row panels, one block per K slice.
    float *apack = mimic_workspace(MIMIC_WS_CONV_WEI, (size_t)(kpad * crs));
    if (!apack)
        return MIMIC_ENOMEM;
    for (int64_t k0 = 0; k0 < crs; k0 += pl->kc) {
        const int64_t kb = min64(pl->kc, crs - k0);
        mimic_gemm_pack_a(pl->k->conv.transpose, 0, (size_t)pl->sh.k, (size_t)kb, 1.0f, wei,
                          (size_t)crs, 0, (size_t)k0, (size_t)pl->k->gemm->mr, apack + kpad * k0);
    }
    const fused_ctx a = {pl, src, apack, bias, relu, dst};
    return mimic_conv_run_units(pl, pl->sh.n * pl->blocks, 0, 0, 0, fused_unit, &a);
}
