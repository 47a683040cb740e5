// Backward-weights of the convolutions the fused forward takes (stride 1, output as wide as
// the input, C*R*S >= 32): part (K x C*R*S) += diff_dst * col^T over a group of images,
// with the reduction running over the group's columns j = n*P*Q + p*Q + q, KC at a time.
// For each slice the diff_dst rows are transposed into the microkernel's A panels, and each
// NR-wide panel of col^T is built by im2col_panel (NR rows of col, NR columns at a time) and
// a register transpose, in L1; the GEMM's own packing of a separate col^T (an extra pass
// over it, with strided stores) is never needed.
#include "arch/profile.h"
#include "arch/workspace.h"
#include "kernels/conv/conv_internal.h"

// A panels for columns [j0, j0 + kb): apack[t*MR*kb + p*MR + i] = diff_dst row t*MR + i at
// column j0 + p (zero for rows past K), run by run of columns in one image.
static void pack_diff_dst(const conv_plan *pl, const float *diff_dst, int64_t j0, int64_t kb,
                          float *apack)
{
    const int64_t MR = pl->k->gemm->mr, K = pl->sh.k, pq = pl->pq;
    for (int64_t t = 0; t * MR < K; t++) {
        const int64_t rows = K - t * MR < MR ? K - t * MR : MR;
        float *panel = apack + t * MR * kb;
        if (rows < MR)
            for (int64_t p = 0; p < kb; p++)
                for (int64_t i = rows; i < MR; i++)
                    panel[p * MR + i] = 0.0f;
        for (int64_t l = 0; l < kb;) {
            const int64_t n = (j0 + l) / pq, pix = (j0 + l) % pq;
            const int64_t len = pq - pix < kb - l ? pq - pix : kb - l;
            pl->k->conv.transpose((size_t)rows, (size_t)len, diff_dst + (n * K + t * MR) * pq + pix,
                                  (size_t)pq, panel + l * MR, (size_t)MR);
            l += len;
        }
    }
}

// bias[k] += the sum of row k of the slice, read back from the packed panels (in L1).
static void bias_from_panels(const conv_plan *pl, const float *apack, int64_t kb, double *bias)
{
    const int64_t MR = pl->k->gemm->mr, K = pl->sh.k;
    for (int64_t t = 0; t * MR < K; t++) {
        const float *panel = apack + t * MR * kb;
        float acc[16] = {0}; // MR <= 16 lanes, summed along the slice in a fixed order
        for (int64_t p = 0; p < kb; p++)
            for (int64_t i = 0; i < MR; i++)
                acc[i] += panel[p * MR + i];
        for (int64_t i = 0; i < MR && t * MR + i < K; i++)
            bias[t * MR + i] += acc[i];
    }
}

// The slice's col^T (kb x crs) as crs/NR B panels of kb x NR, panel c at colT + c*kb*NR:
// NR columns at a time, every row of col by one im2col_panel call into `block` (crs x NR),
// whose NR-row strips are transposed into the panels. Lanes past crs stay zero.
static void build_colT(const conv_plan *pl, const float *src, int64_t j0, int64_t kb, float *block,
                       float *colT)
{
    const int64_t NR = pl->k->gemm->nr, crs = pl->crs;
    for (int64_t l = 0; l < kb; l += NR) {
        const int64_t w = kb - l < NR ? kb - l : NR;
        pl->k->conv.im2col_panel(&pl->sh, src, 0, crs, j0 + l, w, NR, block);
        for (int64_t c0 = 0; c0 < crs; c0 += NR) {
            const int64_t nc = crs - c0 < NR ? crs - c0 : NR;
            float *panel = colT + c0 * kb + l * NR;
            pl->k->conv.transpose((size_t)nc, (size_t)w, block + c0 * NR, (size_t)NR, panel,
                                  (size_t)NR);
            for (int64_t p = 0; p < w && nc < NR; p++)
                for (int64_t i = nc; i < NR; i++)
                    panel[p * NR + i] = 0.0f;
        }
    }
}

void mimic_conv_fused_weights(const conv_plan *pl, const float *src, const float *diff_dst,
                              int64_t n0, int64_t n1, float *part, double *bias)
{
    const mimic_gemm_ukernel *uk = pl->k->gemm;
    const int64_t MR = uk->mr, NR = uk->nr, K = pl->sh.k, crs = pl->crs,
                  kpad = mimic_conv_k_padded(pl);
    float *colT = mimic_workspace(MIMIC_WS_CONV_COL, pl->col_floats);
    float *apack = mimic_workspace(MIMIC_WS_CONV_TMP, pl->tmp_floats);
    float *block = apack + kpad * pl->kc;
    const int64_t first = n0 * pl->pq, end = n1 * pl->pq;
    for (int64_t j0 = first; j0 < end; j0 += pl->kc) {
        const int64_t kb = end - j0 < pl->kc ? end - j0 : pl->kc;
        const float beta = j0 == first ? 0.0f : 1.0f;
        pack_diff_dst(pl, diff_dst, j0, kb, apack);
        if (bias)
            bias_from_panels(pl, apack, kb, bias);
        MIMIC_PROF_LOWER(build_colT(pl, src, j0, kb, block, colT));
        for (int64_t c0 = 0; c0 < crs; c0 += NR)
            for (int64_t i = 0; i < K; i += MR)
                uk->fn((size_t)(K - i < MR ? K - i : MR), (size_t)(crs - c0 < NR ? crs - c0 : NR),
                       (size_t)kb, apack + i * kb, colT + c0 * kb, (size_t)NR, part + i * crs + c0,
                       (size_t)crs, beta);
    }
}
