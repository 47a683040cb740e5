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

// How many taps from t (at most nr) lie evenly spaced, *step > 0 apart: one dot-product tile
// reads them as the rows of its B (a kernel row's S taps).
static int64_t tap_run(const int64_t *offs, int64_t t, int64_t crs, int64_t nr, int64_t *step)
{
    *step = t + 1 < crs ? offs[t + 1] - offs[t] : 0;
    if (*step <= 0 || nr < 2) {
        *step = 0;
        return 1;
    }
    int64_t n = 2;
    while (n < nr && t + n < crs && offs[t + n] - offs[t + n - 1] == *step)
        n++;
    return n;
}

// The dot path's scratch (MIMIC_WS_CONV_TMP): the taps' offsets, the K x crs sums at
// *acc_at, the shifted planes at *shifted_at, each group of S + 1 planes of `rows` x Q floats
// (rows of the largest slab). Returns the floats it takes.
static int64_t dot_layout(const conv_plan *pl, int64_t *acc_at, int64_t *shifted_at,
                          int64_t *rows)
{
    const mimic_conv2d *sh = &pl->sh;
    *rows = mimic_conv_slab_rows(pl, pl->rows);
    *acc_at = round_up(2 * pl->crs, 16);
    *shifted_at = *acc_at + round_up(sh->k * pl->crs, 16);
    return *shifted_at + sh->stride_h * sh->c * (sh->s + 1) * *rows * pl->q;
}

size_t mimic_conv_dot_weights_floats(const conv_plan *pl)
{
    int64_t acc_at, shifted_at, rows;
    return (size_t)dot_layout(pl, &acc_at, &shifted_at, &rows);
}

// The slab's planes re-cut with rows of exactly Q floats, one copy per kernel column s:
// shifted[((a*C + c)*(S + 1) + s)*rows*Q + t*Q + q] = slab row t of phase (a, s % stride_w),
// channel c, column q + s / stride_w. Tap (c, r, s) of output (p, q) then reads element
// p*Q + q of plane (r % stride_h, c, s) from row r / stride_h on: the same index as the
// output pixel in diff_dst, so both run contiguously through a whole slab. Slot s = S of each
// (a, c) keeps the planes' spacing uniform; that of (0, 0) holds ones (written once per call):
// after the S taps of the first kernel row it is one more evenly spaced "tap", whose weight
// gradient is the bias gradient. offs[t] gets where tap t starts; `rows` is a plane's rows.
static void shift_slab(const conv_plan *pl, const float *slab, int64_t out_rows, int64_t rows,
                       float *shifted, int64_t *offs)
{
    const mimic_conv2d *sh = &pl->sh;
    const int64_t Q = pl->q, slab_rows = mimic_conv_slab_rows(pl, out_rows);
    const int64_t plane = slab_rows * pl->wp;
    const int64_t C = sh->c, R = sh->r, S = sh->s, sw = sh->stride_w;
    for (int64_t a = 0; a < sh->stride_h; a++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t s = 0; s < S; s++)
                pl->k->conv.pad_rows(shifted + ((a * C + c) * (S + 1) + s) * rows * Q, Q,
                                     slab + ((a * sw + s % sw) * C + c) * plane + s / sw, pl->wp,
                                     slab_rows, Q, 1, 0, 0);
    for (int64_t c = 0; c < C; c++)
        for (int64_t r = 0; r < R; r++)
            for (int64_t s = 0; s < S; s++)
                offs[(c * R + r) * S + s] =
                    ((r % sh->stride_h * C + c) * (S + 1) + s) * rows * Q + r / sh->stride_h * Q;
}

// acc[i*crs + j] (= or +=) tile[i*4 + j] for i < mr, j < n; the bias column adds into bias.
static void add_tile(const float *tile, int64_t mr, int64_t n, float beta, float *acc,
                     int64_t crs, double *bias)
{
    for (int64_t i = 0; i < mr; i++) {
        for (int64_t j = 0; j < n; j++)
            acc[i * crs + j] = beta == 0.0f ? tile[i * 4 + j] : acc[i * crs + j] + tile[i * 4 + j];
        bias[i] += tile[i * 4 + n];
    }
}

// Backward-weights on the dot-product tiles: acc (K x crs) = sum over the group's images of
// diff_dst[k][j] * shifted[offs[t] + j] over the slab's output pixels j, in the vector lanes,
// dot_mr channels at a time against runs of evenly spaced taps. The bias gradient comes with
// the first run, through its ones plane, when the tile has a column to spare.
void mimic_conv_dot_weights(const conv_plan *pl, const float *src, const float *diff_dst,
                            int64_t n0, int64_t n1, float *part, double *bias)
{
    const mimic_gemm_ukernel *uk = pl->k->gemm;
    const int64_t MR = uk->dot_mr, NR = uk->dot_nr, K = pl->sh.k, crs = pl->crs, Q = pl->q;
    float *slab = mimic_workspace(MIMIC_WS_CONV_COL, pl->col_floats);
    float *tmp = mimic_workspace(MIMIC_WS_CONV_TMP, pl->tmp_floats);
    int64_t acc_at, shifted_at, planes; // planes: rows of a shifted plane
    dot_layout(pl, &acc_at, &shifted_at, &planes);
    int64_t *offs = (int64_t *)tmp;
    float *acc = tmp + acc_at; // the group's diff_wei, transposed into part
    float *shifted = tmp + shifted_at;
    float *ones = shifted + pl->sh.s * planes * Q; // slot S of (0, 0)
    float tile[16 * 4];
    for (int64_t j = 0; j < planes * Q; j++)
        ones[j] = 1.0f;
    for (int64_t n = n0; n < n1; n++)
        for (int64_t p0 = 0; p0 < pl->p; p0 += pl->rows) {
            const int64_t p1 = min64(p0 + pl->rows, pl->p), len = (p1 - p0) * Q;
            const float *dd = diff_dst + n * K * pl->pq + p0 * Q;
            const float beta = n == n0 && p0 == 0 ? 0.0f : 1.0f;
            MIMIC_PROF_LOWER(mimic_conv_slab(pl, src + n * pl->sh.c * pl->hw, p0, p1, slab);
                             shift_slab(pl, slab, p1 - p0, planes, shifted, offs));
            for (int64_t k0 = 0; k0 < K; k0 += MR) {
                const int64_t mr = min64(MR, K - k0);
                const float *a = dd + k0 * pl->pq;
                int64_t step, t = 0;
                if (bias) { // the first run and the ones plane after it
                    const int64_t nt = tap_run(offs, 0, crs, NR, &step), pl_step = planes * Q;
                    if (nt == pl->sh.s && nt < NR && (nt == 1 || step == pl_step)) {
                        uk->dot((size_t)mr, (size_t)nt + 1, (size_t)len, a, (size_t)pl->pq,
                                shifted + offs[0], (size_t)pl_step, tile, 4, 1.0f, 0.0f);
                        add_tile(tile, mr, nt, beta, acc + k0 * crs, crs, bias + k0);
                        t = nt;
                    } else {
                        uk->dot((size_t)mr, 1, (size_t)len, a, (size_t)pl->pq, ones, 0, tile, 4,
                                1.0f, 0.0f);
                        for (int64_t i = 0; i < mr; i++)
                            bias[k0 + i] += tile[i * 4];
                    }
                }
                while (t < crs) {
                    const int64_t nt = tap_run(offs, t, crs, NR, &step);
                    uk->dot((size_t)mr, (size_t)nt, (size_t)len, a, (size_t)pl->pq,
                            shifted + offs[t], (size_t)step, acc + k0 * crs + t, (size_t)crs,
                            1.0f, beta);
                    t += nt;
                }
            }
        }
    pl->k->conv.transpose((size_t)K, (size_t)crs, acc, (size_t)crs, part, (size_t)K);
}
