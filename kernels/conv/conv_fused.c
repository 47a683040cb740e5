// The forward lowering of stride-1 convolutions whose output is as wide as their input
// ("same" padding, pointwise): the batch's column matrix (column j = n*P*Q + p*Q + q) is
// never written out. Each NR-wide panel of it is built by im2col_panel straight into the
// GEMM microkernel's packed layout, where it stays in L1 while the microkernel runs over
// all output channels; the output tile then goes to dst with the bias and ReLU. Panels run
// across image boundaries, so a 14x14 layer wastes no lanes on a 196 = 6*32 + 4 tail.
#include "arch/profile.h"
#include "arch/workspace.h"
#include "kernels/conv/conv_internal.h"
#include "kernels/gemm/gemm_internal.h"

typedef struct {
    const conv_plan *pl;
    const float *src, *apack, *bias;
    int relu;
    float *dst;
} fused_ctx;

// Columns [0, nr) of the output tile (K x NR) to dst: each run of columns in one image is a
// contiguous piece of each of that image's K output planes.
static void tile_out(const fused_ctx *a, int64_t j0, int64_t nr, const float *tile)
{
    const conv_plan *pl = a->pl;
    const int64_t K = pl->sh.k, NR = pl->k->gemm->nr, pq = pl->pq;
    for (int64_t l = 0; l < nr;) {
        const int64_t n = (j0 + l) / pq, pix = (j0 + l) % pq;
        const int64_t len = pq - pix < nr - l ? pq - pix : nr - l;
        for (int64_t k = 0; k < K; k++)
            pl->k->conv.bias_act(a->dst + (n * K + k) * pq + pix, tile + k * NR + l, (size_t)len,
                                 a->bias ? a->bias[k] : 0.0f, a->relu);
        l += len;
    }
}

// Panels this far ahead have their newest input rows prefetched: im2col_panel reads one
// row segment per channel and tap row, a pattern (channel planes apart) the hardware
// prefetchers do not follow, so without this its loads wait on DRAM (measured: 48% of its
// time on one masked load, teacher layer 2).
#define FUSED_PREFETCH_PANELS 2

// Lines [first, end) of every plane of image n, for reading or (write = 1) writing.
static void prefetch_planes(const float *t, int64_t planes, int64_t hw, int64_t first, int64_t end,
                            int write)
{
    const int64_t line = 64 / (int64_t)sizeof(float);
    for (int64_t c = 0; c < planes; c++, t += hw) {
        for (int64_t i = first; i < end; i += line)
            write ? __builtin_prefetch(t + i, 1) : __builtin_prefetch(t + i, 0);
        write ? __builtin_prefetch(t + end - 1, 1) : __builtin_prefetch(t + end - 1, 0);
    }
}

// For panel u: the input rows it needs that its predecessor did not (from its first pixel's
// last tap row, NR floats plus the tap columns, every channel), and the output lines it will
// write (every output channel): its loads and its stores' line fills then find L1 or L2.
static void prefetch_panel(const fused_ctx *a, int64_t u)
{
    const conv_plan *pl = a->pl;
    const int64_t NR = pl->k->gemm->nr, j = u * NR, W = pl->sh.w;
    if (j >= pl->sh.n * pl->pq)
        return;
    const int64_t n = j / pl->pq, pix = j % pl->pq;
    const int64_t out_end = pix + NR < pl->pq ? pix + NR : pl->pq;
    prefetch_planes(a->dst + n * pl->sh.k * pl->pq, pl->sh.k, pl->pq, pix, out_end, 1);
    const int64_t row = pix / W + pl->sh.r - 1 - pl->sh.pad_h;
    if (row < 0 || row >= pl->sh.h)
        return;
    const int64_t first = row * W + (pix % W), last = first + NR + pl->sh.s;
    prefetch_planes(a->src + n * pl->sh.c * pl->hw, pl->sh.c, pl->hw, first,
                    last < pl->hw ? last : pl->hw, 0);
}

// Unit u: the panel of columns [u*NR, u*NR + NR), K slice by K slice.
static void fused_unit(const void *ctx, int64_t u)
{
    const fused_ctx *a = ctx;
    const conv_plan *pl = a->pl;
    const mimic_gemm_ukernel *uk = pl->k->gemm;
    const int64_t MR = uk->mr, NR = uk->nr, K = pl->sh.k, crs = pl->crs,
                  kpad = mimic_conv_k_padded(pl);
    const int64_t j0 = u * NR, total = pl->sh.n * pl->pq;
    const int64_t nr = total - j0 < NR ? total - j0 : NR;
    float *panel = mimic_workspace(MIMIC_WS_CONV_COL, pl->col_floats);
    float *tile = mimic_workspace(MIMIC_WS_CONV_TMP, pl->tmp_floats);
    prefetch_panel(a, u + FUSED_PREFETCH_PANELS);
    for (int64_t k0 = 0; k0 < crs; k0 += pl->kc) {
        const int64_t kb = crs - k0 < pl->kc ? crs - k0 : pl->kc;
        MIMIC_PROF_LOWER(pl->k->conv.im2col_panel(&pl->sh, a->src, k0, kb, j0, nr, NR, panel));
        const float *ap = a->apack + kpad * k0;
        for (int64_t i = 0; i < K; i += MR)
            uk->fn((size_t)(K - i < MR ? K - i : MR), (size_t)nr, (size_t)kb, ap + i * kb, panel,
                   (size_t)NR, tile + i * NR, (size_t)NR, k0 == 0 ? 0.0f : 1.0f);
    }
    tile_out(a, j0, nr, tile);
}

mimic_status mimic_conv_fused_run(const conv_plan *pl, const float *src, const float *wei,
                                  const float *bias, int relu, float *dst)
{
    const int64_t crs = pl->crs, kpad = mimic_conv_k_padded(pl), NR = pl->k->gemm->nr;
    // The weights, packed once per call into MR-row panels, one block per K slice.
    float *apack = mimic_workspace(MIMIC_WS_CONV_WEI, (size_t)(kpad * crs));
    if (!apack)
        return MIMIC_ENOMEM;
    for (int64_t k0 = 0; k0 < crs; k0 += pl->kc) {
        const int64_t kb = crs - k0 < pl->kc ? crs - k0 : pl->kc;
        mimic_gemm_pack_a(pl->k->conv.transpose, 0, (size_t)pl->sh.k, (size_t)kb, 1.0f, wei, (size_t)crs, 0, (size_t)k0,
                          (size_t)pl->k->gemm->mr, apack + kpad * k0);
    }
    const fused_ctx a = {pl, src, apack, bias, relu, dst};
    const int64_t panels = (pl->sh.n * pl->pq + NR - 1) / NR;
    return mimic_conv_run_units(pl, panels, 0, 0, 0, fused_unit, &a);
}
