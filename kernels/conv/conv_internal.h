// The convolution's lowering plans, shared by the entry points (conv.c) and the loops that
// carry them out (conv_fwd.c, conv_bwd.c).
#ifndef MIMIC_CONV_INTERNAL_H
#define MIMIC_CONV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "arch/kernels.h"

// One convolution, checked, and how it is lowered. For backward-data as a convolution
// (stride 1), `sh` is that convolution: diff_dst is its input and diff_src its output.
typedef struct {
    const mimic_kernels *k;
    mimic_conv2d sh;
    int64_t p, q;       // output height and width
    int64_t pq, hw;     // output and input plane sizes
    int64_t crs;        // reduction length of the forward GEMM
    int pointwise;      // 1x1, stride 1, no padding: the image is its own column matrix
    int64_t tile_n;     // bwd_weights, transposed plan: images side by side in one GEMM
    int64_t rows;       // output rows lowered at once (< p only when one image exceeds the cap)
    int threads;        // > 1: threads over images (or panels, or image groups), each GEMM on
                        // one thread
    int transposed_wei; // bwd_weights: the GEMM computes diff_wei^T = col * diff_dst^T
    int64_t groups;     // bwd_weights: image groups summed separately, then in group order
    int fused;          // by offsets into a padded slab (conv_fused.c, conv_fused_weights.c),
                        // no column matrix
    int dot_weights;    // fused backward-weights by the GEMM's dot-product tiles (few taps)
    int taps;           // forward by the conv table's fwd_taps over shifted planes (few taps)
    int64_t kc;         // fused forward: depth of one K slice of the microkernel
    int64_t wp;         // fused: the slab's row length: W + pad_w at stride 1 (rows share
                        // their padding), else ceil((W + 2*pad_w) / stride_w)
    int64_t blocks;     // fused forward: units of `rows` output rows per image
    size_t col_floats;  // per thread: column buffer, or the slab (fused)
    size_t tmp_floats;  // per thread: output tile (fused forward), diff_dst^T (fused
                        // backward-weights, transposed plan), each fused one then the offsets
} conv_plan;

static inline int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static inline int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

// Prefetches of the next unit's operands into L2 (up to two regions), a few lines before each
// of this unit's microkernel calls: they arrive while this unit computes instead of stalling
// the next one's first loads (docs/conv.md: backward-weights of the teacher's layers 2-4
// +10-14 %). A prefetch never faults, and a region prefetched in vain costs only bandwidth.
typedef struct {
    const char *at[2], *end[2];
    int64_t per_step; // lines per call of conv_prefetch_step
} conv_prefetch;

// Regions [a, a + a_floats) and [b, b + b_floats) (either may be empty) over `steps` steps.
static inline void conv_prefetch_init(conv_prefetch *f, const float *a, int64_t a_floats,
                                      const float *b, int64_t b_floats, int64_t steps)
{
    f->at[0] = (const char *)a;
    f->end[0] = f->at[0] + (a ? a_floats : 0) * (int64_t)sizeof(float);
    f->at[1] = (const char *)b;
    f->end[1] = f->at[1] + (b ? b_floats : 0) * (int64_t)sizeof(float);
    const int64_t lines = (f->end[0] - f->at[0] + f->end[1] - f->at[1]) / 64;
    f->per_step = lines / (steps > 0 ? steps : 1) + 1;
}

static inline void conv_prefetch_step(conv_prefetch *f)
{
    for (int64_t l = 0; l < f->per_step; l++) {
        const int r = f->at[0] < f->end[0] ? 0 : 1;
        if (f->at[r] >= f->end[r])
            return;
        __builtin_prefetch(f->at[r], 0, 2);
        f->at[r] += 64;
    }
}

// x rounded up to a multiple of m.
static inline int64_t round_up(int64_t x, int64_t m)
{
    return (x + m - 1) / m * m;
}

// Output channels padded to whole MR panels of the microkernel.
static inline int64_t mimic_conv_k_padded(const conv_plan *pl)
{
    return round_up(pl->sh.k, pl->k->gemm->mr);
}

// dst = act(W * lower(src) + bias) for every image: the forward pass, and backward-data as
// a convolution. relu: 0 or 1. Returns MIMIC_ENOMEM before writing dst if a buffer fails.
mimic_status mimic_conv_fwd_run(const conv_plan *pl, const float *src, const float *wei,
                                const float *bias, int relu, float *dst);

// Zero floats after a slab's last row: the microkernel's whole-vector loads may read up to
// NR - 1 floats past the last column, and with shared padding (pl->wp) the last row's right
// padding is pad_w floats of it.
#define MIMIC_CONV_SLAB_SLACK 64

static inline int64_t mimic_conv_slab_slack(const conv_plan *pl)
{
    return MIMIC_CONV_SLAB_SLACK + pl->sh.pad_w;
}

// The fused lowering's slab for `out_rows` output rows: stride_h x stride_w phases (phase
// (a, b) holds rows a, a + stride_h, ... and columns b, b + stride_w, ... of the padded
// input), each C planes of mimic_conv_slab_rows rows of pl->wp floats, then the slack. In
// phase coordinates every tap of a strided convolution reads at stride 1.
static inline int64_t mimic_conv_slab_rows(const conv_plan *pl, int64_t out_rows)
{
    return out_rows + (pl->sh.r - 1) / pl->sh.stride_h;
}

static inline size_t mimic_conv_slab_floats(const conv_plan *pl, int64_t out_rows)
{
    return (size_t)(pl->sh.stride_h * pl->sh.stride_w * pl->sh.c *
                    mimic_conv_slab_rows(pl, out_rows) * pl->wp + mimic_conv_slab_slack(pl));
}

// The slab of output rows [p0, p1) of one image (img: C x H x W), zero padding included.
void mimic_conv_slab(const conv_plan *pl, const float *img, int64_t p0, int64_t p1, float *slab);

// offs[(c*R + r)*S + s] = where tap (c, r, s) of output j = 0 reads in a slab of `rows`
// output rows; entries [C*R*S, pad_to) are 0. Output (p, q) of the slab is j = p*wp + q.
void mimic_conv_slab_offsets(const conv_plan *pl, int64_t rows, int64_t pad_to, int64_t *offs);

// Floats of a table of n tap pointers.
static inline int64_t mimic_conv_tap_table_floats(int64_t n)
{
    return (int64_t)((size_t)n * sizeof(float *) / sizeof(float));
}

// Floats from one shifted plane to the next: rows of the largest slab (pl->rows output rows)
// times Q, rounded up to whole cache lines (a tap of kernel row 0 is aligned).
static inline int64_t mimic_conv_shifted_plane(const conv_plan *pl)
{
    return round_up(mimic_conv_slab_rows(pl, pl->rows) * pl->q, 16);
}

// A slab of out_rows output rows re-cut into stride_h * C * S planes of rows of exactly Q
// floats, `plane` floats apart from `shifted` on (conv_fused.c); tap[(c*R + r)*S + s] gets
// where tap (c, r, s) of output pixel 0 reads: output pixel p*Q + q reads element p*Q + q
// from there, the index of the output (and of diff_dst).
void mimic_conv_shift_slab(const conv_plan *pl, const float *slab, int64_t out_rows, int64_t plane,
                           float *shifted, const float **tap);

// The forward with few taps (pl->taps): per slab, the shifted planes, then fwd_taps straight
// into dst with the bias and ReLU.
mimic_status mimic_conv_taps_run(const conv_plan *pl, const float *src, const float *wei,
                                 const float *bias, int relu, float *dst);

// The fused forward: the microkernel reads the rows of the column matrix in place, as
// offsets into each image's padded slab.
mimic_status mimic_conv_fused_run(const conv_plan *pl, const float *src, const float *wei,
                                  const float *bias, int relu, float *dst);

// The fused backward-weights of images [n0, n1): part (crs x K, the transpose of diff_wei)
// = sum of col * diff_dst^T.
void mimic_conv_fused_weights(const conv_plan *pl, const float *src, const float *diff_dst,
                              int64_t n0, int64_t n1, float *part);

// The same for a plan with dot_weights: diff_wei itself by the GEMM's dot-product tiles,
// plus each image's bias gradient added into bias[0..K) (if not NULL); part as above.
void mimic_conv_dot_weights(const conv_plan *pl, const float *src, const float *diff_dst,
                            int64_t n0, int64_t n1, float *part, double *bias);
// The per-thread scratch floats (MIMIC_WS_CONV_TMP) mimic_conv_dot_weights needs.
size_t mimic_conv_dot_weights_floats(const conv_plan *pl);

// Backward-data by GEMM then col2im (any stride), or by one GEMM for pointwise shapes.
mimic_status mimic_conv_bwd_data_run(const conv_plan *pl, const float *diff_dst, const float *wei,
                                     float *diff_src);

// diff_wei = sum over images of diff_dst_n * lower(src_n)^T; diff_bias (may be NULL) the row
// sums of diff_dst.
mimic_status mimic_conv_bwd_weights_run(const conv_plan *pl, const float *src,
                                        const float *diff_dst, float *diff_wei, float *diff_bias);

// mimic_gemm_run, callable from a thread of the convolution's own OpenMP team.
void mimic_conv_gemm(const conv_plan *pl, int trans_a, int64_t M, int64_t N, int64_t K,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                     int64_t ldc);

// Per-thread buffers of the plan (and the GEMM's for M x N x K) for the calling thread;
// MIMIC_ENOMEM if one cannot be had.
mimic_status mimic_conv_reserve(const conv_plan *pl, int64_t M, int64_t N, int64_t K);

// Runs fn(ctx, u) for u in [0, units) on pl->threads threads (static schedule). Every thread
// first reserves its buffers (for GEMMs up to M x N x K), so an allocation failure is
// reported before any output is written.
typedef void (*mimic_conv_unit_fn)(const void *ctx, int64_t u);
mimic_status mimic_conv_run_units(const conv_plan *pl, int64_t units, int64_t M, int64_t N,
                                  int64_t K, mimic_conv_unit_fn fn, const void *ctx);

#endif
