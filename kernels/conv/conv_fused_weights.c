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
            const int next = p0 == 0 && n + 1 < n1; // the next image's input and diff_dst
            conv_prefetch pf;
            conv_prefetch_init(&pf, next ? src + (n + 1) * pl->sh.c * pl->hw : NULL,
                               pl->sh.c * pl->hw, next ? diff_dst + (n + 1) * K * pl->pq : NULL,
                               K * pl->pq,
                               (cols + FUSED_WEIGHTS_CHUNK - 1) / FUSED_WEIGHTS_CHUNK *
                                   ((K + NR - 1) / NR) * ((crs + MR - 1) / MR));
            for (int64_t j0 = 0; j0 < cols; j0 += FUSED_WEIGHTS_CHUNK, beta = 1.0f) {
                const int64_t jl = min64(FUSED_WEIGHTS_CHUNK, cols - j0);
                for (int64_t k0 = 0; k0 < K; k0 += NR)
                    for (int64_t i0 = 0; i0 < crs; i0 += MR) {
                        conv_prefetch_step(&pf);
                        uk->aoff((size_t)min64(MR, crs - i0), (size_t)min64(NR, K - k0), (size_t)jl,
                                 slab + j0, offs + i0, ddT + j0 * kp + k0, (size_t)kp,
                                 part + i0 * K + k0, (size_t)K, beta);
                    }
            }
        }
}

// The dot path's scratch (MIMIC_WS_CONV_TMP): the taps' row pointers (crs + 1: the ones
// plane last), the K x crs sums at *acc_at, the shifted planes at *shifted_at
// (mimic_conv_shift_slab, `*plane` floats apart, for slabs of up to pl->rows output rows), then
// the plane of ones of `rows` x Q floats. Returns the floats it takes.
static int64_t dot_layout(const conv_plan *pl, int64_t *acc_at, int64_t *shifted_at,
                          int64_t *rows, int64_t *plane)
{
    const mimic_conv2d *sh = &pl->sh;
    *rows = mimic_conv_slab_rows(pl, pl->rows);
    *plane = mimic_conv_shifted_plane(pl);
    *acc_at = round_up(mimic_conv_tap_table_floats(pl->crs + 1), 16);
    *shifted_at = *acc_at + round_up(sh->k * pl->crs, 16);
    return *shifted_at + (sh->stride_h * sh->c * sh->s + 1) * *plane;
}

size_t mimic_conv_dot_weights_floats(const conv_plan *pl)
{
    int64_t acc_at, shifted_at, rows, plane;
    return (size_t)dot_layout(pl, &acc_at, &shifted_at, &rows, &plane);
}

// acc[i*crs + j] (= or +=) tile[i*ld + j] for i < mr, j < n; column n adds into bias.
static void add_tile(const float *tile, int64_t ld, int64_t mr, int64_t n, float beta,
                     float *acc, int64_t crs, double *bias)
{
    for (int64_t i = 0; i < mr; i++) {
        for (int64_t j = 0; j < n; j++)
            acc[i * crs + j] = beta == 0.0f ? tile[i * ld + j] : acc[i * crs + j] + tile[i * ld + j];
        bias[i] += tile[i * ld + n];
    }
}

// The rows of diff_dst read after output channels [k0, k0 + MR) of rows [p0, p1) of image
// n: the next channels', else the next piece's first ones (NULL after the group's last).
static const float *next_rows(const conv_plan *pl, const float *diff_dst, int64_t n, int64_t n1,
                              int64_t p1, int64_t k0, int64_t MR, const float *a)
{
    if (k0 + MR < pl->sh.k)
        return a + MR * pl->pq;
    if (p1 < pl->p)
        return diff_dst + n * pl->sh.k * pl->pq + p1 * pl->q;
    return n + 1 < n1 ? diff_dst + (n + 1) * pl->sh.k * pl->pq : NULL;
}

// Backward-weights on the dot-product tiles: acc (K x crs) = sum over the group's images of
// diff_dst[k][j] * tap_t[j] over the slab's output pixels j, in the vector lanes, dot_mr
// channels at a time against all taps and (with the bias) the ones plane, cut into calls of
// at most dot_nr taps, as even as they go. The first call of each channel block prefetches
// the next block's rows of diff_dst: each block streams them once from L2 or memory, the
// other calls find them in L1.
void mimic_conv_dot_weights(const conv_plan *pl, const float *src, const float *diff_dst,
                            int64_t n0, int64_t n1, float *part, double *bias)
{
    const mimic_gemm_ukernel *uk = pl->k->gemm;
    const int64_t MR = uk->dot_mr, NR = uk->dot_nr, K = pl->sh.k, crs = pl->crs, Q = pl->q;
    float *slab = mimic_workspace(MIMIC_WS_CONV_COL, pl->col_floats);
    float *tmp = mimic_workspace(MIMIC_WS_CONV_TMP, pl->tmp_floats);
    int64_t acc_at, shifted_at, rows, plane;
    const int64_t ones_at = dot_layout(pl, &acc_at, &shifted_at, &rows, &plane) - plane;
    const float **tap = (const float **)(void *)tmp;
    float *acc = tmp + acc_at; // the group's diff_wei, transposed into part
    float *shifted = tmp + shifted_at, *ones = tmp + ones_at;
    const int64_t taps = crs + (bias != NULL), calls = (taps + NR - 1) / NR;
    float tile[16 * 16];
    for (int64_t j = 0; j < rows * Q; j++)
        ones[j] = 1.0f;
    tap[crs] = ones;
    for (int64_t n = n0; n < n1; n++)
        for (int64_t p0 = 0; p0 < pl->p; p0 += pl->rows) {
            const int64_t p1 = min64(p0 + pl->rows, pl->p), len = (p1 - p0) * Q;
            const float *dd = diff_dst + n * K * pl->pq + p0 * Q;
            const float beta = n == n0 && p0 == 0 ? 0.0f : 1.0f;
            MIMIC_PROF_LOWER(mimic_conv_slab(pl, src + n * pl->sh.c * pl->hw, p0, p1, slab);
                             mimic_conv_shift_slab(pl, slab, p1 - p0, plane, shifted, tap));
            for (int64_t k0 = 0; k0 < K; k0 += MR) {
                const int64_t mr = min64(MR, K - k0);
                const float *a = dd + k0 * pl->pq;
                const float *pf = next_rows(pl, diff_dst, n, n1, p1, k0, MR, a);
                for (int64_t call = 0; call < calls; call++) {
                    const int64_t t0 = call * taps / calls, t1 = (call + 1) * taps / calls;
                    if (t1 > crs) { // the bias column: through the tile, summed in double
                        uk->dot((size_t)mr, (size_t)(t1 - t0), (size_t)len, a, (size_t)pl->pq,
                                tap + t0, tile, (size_t)NR, 1.0f, 0.0f, call ? NULL : pf);
                        add_tile(tile, NR, mr, crs - t0, beta, acc + k0 * crs + t0, crs, bias + k0);
                    } else {
                        uk->dot((size_t)mr, (size_t)(t1 - t0), (size_t)len, a, (size_t)pl->pq,
                                tap + t0, acc + k0 * crs + t0, (size_t)crs, 1.0f, beta,
                                call ? NULL : pf);
                    }
                }
            }
        }
    pl->k->conv.transpose((size_t)K, (size_t)crs, acc, (size_t)crs, part, (size_t)K);
}
