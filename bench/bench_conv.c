// Convolution rows: mimic's im2col + GEMM beside oneDNN's convolution primitive, on blocked
// layouts (format_tag any: its JIT direct kernels) and on plain NCHW, for the teacher's layers
// at batch 128, a whole teacher training step, and ResNet-like layers at batch 32.
// Each mimic row carries vs_onednn and vs_onednn_nchw: same-run speed ratios (> 1: mimic is
// faster). oneDNN is timed on primitive execution only: its reorders to and from the blocked
// layouts are not counted.
#include "bench.h"
#include "roof.h"
#include "shim.h"

#include <dnnl.h>
#include <math.h>
#include <mimic/mimic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    mimic_conv2d s;
} conv_layer;

// n, c, h, w, k, r, s, stride_h, stride_w, pad_h, pad_w.
static const conv_layer layers[] = {
    {"teacher1_b128_c1_28x28_k32_3x3", {128, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1}},
    {"teacher2_b128_c32_28x28_k32_3x3", {128, 32, 28, 28, 32, 3, 3, 1, 1, 1, 1}},
    {"teacher3_b128_c32_14x14_k64_3x3", {128, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1}},
    {"teacher4_b128_c64_14x14_k64_3x3", {128, 64, 14, 14, 64, 3, 3, 1, 1, 1, 1}},
    {"student_b128_c1_28x28_k64_5x5", {128, 1, 28, 28, 64, 5, 5, 1, 1, 2, 2}},
    {"resnet_b32_c64_56x56_k64_3x3", {32, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1}},
    {"resnet_b32_c256_56x56_k64_1x1", {32, 256, 56, 56, 64, 1, 1, 1, 1, 0, 0}},
    {"resnet_b32_c64_56x56_k128_3x3_s2", {32, 64, 56, 56, 128, 3, 3, 2, 2, 1, 1}},
};
#define NLAYERS (sizeof layers / sizeof layers[0])
#define TEACHER_LAYERS 4 // the first four rows of `layers`

enum { FWD, BWD_DATA, BWD_WEIGHTS, NPASSES };
static const char *const pass_names[NPASSES] = {"fwd", "bwd_data", "bwd_weights"};
enum { DNNL_ANY, DNNL_NCHW, NLAYOUTS };

// One oneDNN primitive with its arguments bound.
typedef struct {
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[4];
} dnnl_call;

// Everything one layer's rows need: mimic's buffers (also oneDNN's on NCHW) and the
// primitives of both layouts.
typedef struct {
    mimic_conv2d s;
    int64_t p, q;
    float *src, *wei, *bias, *dst, *ddst, *dsrc, *dwei, *dbias;
    dnnl_call dnnl[NLAYOUTS][NPASSES];
} conv_bench;

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static double pass_flops(const mimic_conv2d *s, int64_t p, int64_t q) {
    return 2.0 * (double)s->n * (double)s->k * (double)(p * q) * (double)(s->c * s->r * s->s);
}

// ---------------------------------------------------------------- oneDNN primitives

typedef struct {
    dnnl_memory_desc_t src, wei, bias, dst;
    dnnl_dims_t strides, pad;
} dnnl_descs;

static int descs_init(const conv_bench *cb, int layout, dnnl_descs *d) {
    const mimic_conv2d *s = &cb->s;
    const dnnl_format_tag_t act = layout == DNNL_ANY ? dnnl_format_tag_any : dnnl_nchw;
    const dnnl_format_tag_t w = layout == DNNL_ANY ? dnnl_format_tag_any : dnnl_oihw;
    dnnl_dims_t src = {s->n, s->c, s->h, s->w}, wei = {s->k, s->c, s->r, s->s};
    dnnl_dims_t bias = {s->k}, dst = {s->n, s->k, cb->p, cb->q};
    d->strides[0] = s->stride_h, d->strides[1] = s->stride_w;
    d->pad[0] = s->pad_h, d->pad[1] = s->pad_w;
    return dnnl_memory_desc_init_by_tag(&d->src, 4, src, dnnl_f32, act) ||
           dnnl_memory_desc_init_by_tag(&d->wei, 4, wei, dnnl_f32, w) ||
           dnnl_memory_desc_init_by_tag(&d->bias, 1, bias, dnnl_f32, dnnl_a) ||
           dnnl_memory_desc_init_by_tag(&d->dst, 4, dst, dnnl_f32, act);
}

// Binds argument i of `call`: the caller's plain buffer on NCHW, else a buffer oneDNN
// allocates in the layout the primitive chose, filled with values in [-1, 1).
// (Bias and diff_bias are the second weights descriptor: index 1 of that query.)
static int bind(dnnl_call *call, const_dnnl_primitive_desc_t pd, dnnl_query_t what, int index,
                int arg, float *plain, uint32_t seed) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, what, index);
    dnnl_memory_t mem;
    if (!md || dnnl_memory_create(&mem, md, engine, plain ? plain : DNNL_MEMORY_ALLOCATE))
        return 1;
    call->args[call->nargs++] = (dnnl_exec_arg_t){arg, mem};
    void *data;
    if (!plain && dnnl_memory_get_data_handle(mem, &data) == dnnl_success)
        bench_fill_f32(data, dnnl_memory_desc_get_size(md) / sizeof(float), seed);
    return 0;
}

static int make_fwd(conv_bench *cb, int layout, const dnnl_descs *d, dnnl_primitive_desc_t *pd) {
    dnnl_convolution_desc_t cd;
    return dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training,
                                              dnnl_convolution_direct, &d->src, &d->wei,
                                              &d->bias, &d->dst, d->strides, d->pad, d->pad) ||
           dnnl_primitive_desc_create(pd, &cd, NULL, engine, NULL) ||
           dnnl_primitive_create(&cb->dnnl[layout][FWD].prim, *pd);
}

static int bind_fwd(conv_bench *cb, int layout, const_dnnl_primitive_desc_t pd) {
    dnnl_call *c = &cb->dnnl[layout][FWD];
    const int plain = layout == DNNL_NCHW;
    return bind(c, pd, dnnl_query_src_md, 0, DNNL_ARG_SRC, plain ? cb->src : NULL, 11) ||
           bind(c, pd, dnnl_query_weights_md, 0, DNNL_ARG_WEIGHTS, plain ? cb->wei : NULL,
                12) ||
           bind(c, pd, dnnl_query_weights_md, 1, DNNL_ARG_BIAS, cb->bias, 13) ||
           bind(c, pd, dnnl_query_dst_md, 0, DNNL_ARG_DST, plain ? cb->dst : NULL, 14);
}

static int make_bwd_data(conv_bench *cb, int layout, const dnnl_descs *d,
                         const_dnnl_primitive_desc_t hint) {
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_call *c = &cb->dnnl[layout][BWD_DATA];
    const int plain = layout == DNNL_NCHW;
    int rc = dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &d->src,
                                                      &d->wei, &d->dst, d->strides, d->pad,
                                                      d->pad) ||
             dnnl_primitive_desc_create(&pd, &cd, NULL, engine, hint) ||
             dnnl_primitive_create(&c->prim, pd) ||
             bind(c, pd, dnnl_query_diff_dst_md, 0, DNNL_ARG_DIFF_DST, plain ? cb->ddst : NULL,
                  21) ||
             bind(c, pd, dnnl_query_weights_md, 0, DNNL_ARG_WEIGHTS, plain ? cb->wei : NULL,
                  22) ||
             bind(c, pd, dnnl_query_diff_src_md, 0, DNNL_ARG_DIFF_SRC, plain ? cb->dsrc : NULL,
                  23);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    return rc;
}

static int make_bwd_weights(conv_bench *cb, int layout, const dnnl_descs *d,
                            const_dnnl_primitive_desc_t hint) {
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_call *c = &cb->dnnl[layout][BWD_WEIGHTS];
    const int plain = layout == DNNL_NCHW;
    int rc =
        dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &d->src,
                                                    &d->wei, &d->bias, &d->dst, d->strides,
                                                    d->pad, d->pad) ||
        dnnl_primitive_desc_create(&pd, &cd, NULL, engine, hint) ||
        dnnl_primitive_create(&c->prim, pd) ||
        bind(c, pd, dnnl_query_src_md, 0, DNNL_ARG_SRC, plain ? cb->src : NULL, 31) ||
        bind(c, pd, dnnl_query_diff_dst_md, 0, DNNL_ARG_DIFF_DST, plain ? cb->ddst : NULL,
             32) ||
        bind(c, pd, dnnl_query_diff_weights_md, 0, DNNL_ARG_DIFF_WEIGHTS,
             plain ? cb->dwei : NULL, 33) ||
        bind(c, pd, dnnl_query_diff_weights_md, 1, DNNL_ARG_DIFF_BIAS, cb->dbias, 34);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    return rc;
}

// The three primitives of one layout; the forward descriptor is the backward ones' hint.
static int make_dnnl(conv_bench *cb, int layout) {
    dnnl_descs d;
    dnnl_primitive_desc_t fwd = NULL;
    if (!stream && (dnnl_engine_create(&engine, dnnl_cpu, 0) ||
                    dnnl_stream_create(&stream, engine, dnnl_stream_default_flags)))
        return 1;
    int rc = descs_init(cb, layout, &d) || make_fwd(cb, layout, &d, &fwd) ||
             bind_fwd(cb, layout, fwd) || make_bwd_data(cb, layout, &d, fwd) ||
             make_bwd_weights(cb, layout, &d, fwd);
    if (fwd)
        dnnl_primitive_desc_destroy(fwd);
    return rc;
}

static int run_dnnl(const dnnl_call *c) {
    return dnnl_primitive_execute(c->prim, stream, c->nargs, c->args) != dnnl_success ||
           dnnl_stream_wait(stream) != dnnl_success;
}

// ---------------------------------------------------------------- setup and teardown

static void conv_bench_free(conv_bench *cb) {
    for (int l = 0; l < NLAYOUTS; l++)
        for (int p = 0; p < NPASSES; p++) {
            dnnl_call *c = &cb->dnnl[l][p];
            for (int i = 0; i < c->nargs; i++)
                dnnl_memory_destroy(c->args[i].memory);
            if (c->prim)
                dnnl_primitive_destroy(c->prim);
        }
    free(cb->src), free(cb->wei), free(cb->bias), free(cb->dst);
    free(cb->ddst), free(cb->dsrc), free(cb->dwei), free(cb->dbias);
    memset(cb, 0, sizeof *cb);
}

// Buffers filled, primitives created; 0 on success (on failure cb is freed).
static int conv_bench_init(conv_bench *cb, const mimic_conv2d *s) {
    memset(cb, 0, sizeof *cb);
    cb->s = *s;
    if (mimic_conv2d_out_hw(s, &cb->p, &cb->q) != MIMIC_OK)
        return 1;
    const size_t nsrc = (size_t)(s->n * s->c * s->h * s->w), nk = (size_t)s->k;
    const size_t nwei = (size_t)(s->k * s->c * s->r * s->s);
    const size_t ndst = (size_t)(s->n * s->k * cb->p * cb->q);
    float **bufs[] = {&cb->src, &cb->wei, &cb->bias, &cb->dst,
                      &cb->ddst, &cb->dsrc, &cb->dwei, &cb->dbias};
    const size_t sizes[] = {nsrc, nwei, nk, ndst, ndst, nsrc, nwei, nk};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (!(*bufs[i] = bench_alloc_f32(sizes[i]))) {
            conv_bench_free(cb);
            return 1;
        }
        bench_fill_f32(*bufs[i], sizes[i], (uint32_t)(i + 1));
    }
    if (make_dnnl(cb, DNNL_ANY) || make_dnnl(cb, DNNL_NCHW)) {
        conv_bench_free(cb);
        return 1;
    }
    return 0;
}

// ---------------------------------------------------------------- the calls under test

static int mimic_pass(const conv_bench *cb, int pass) {
    const mimic_conv2d *s = &cb->s;
    mimic_status st = MIMIC_OK;
    switch (pass) {
    case FWD: st = mimic_conv2d_fwd(s, cb->src, cb->wei, cb->bias, cb->dst); break;
    case BWD_DATA: st = mimic_conv2d_bwd_data(s, cb->ddst, cb->wei, cb->dsrc); break;
    case BWD_WEIGHTS:
        st = mimic_conv2d_bwd_weights(s, cb->src, cb->ddst, cb->dwei, cb->dbias);
        break;
    }
    return st != MIMIC_OK;
}

// The context of one row: one pass of one layer, or (pass < 0) every pass of `count` layers.
typedef struct {
    conv_bench *cb;
    int count, pass;
} conv_call;

static int each_pass(const conv_call *cc, int (*one)(const conv_bench *, int, int), int arg) {
    for (int i = 0; i < cc->count; i++)
        for (int p = 0; p < NPASSES; p++)
            if ((cc->pass < 0 || cc->pass == p) && one(&cc->cb[i], p, arg))
                return 1;
    return 0;
}

static int mimic_one(const conv_bench *cb, int pass, int unused) {
    (void)unused;
    return mimic_pass(cb, pass);
}

static int dnnl_one(const conv_bench *cb, int pass, int layout) {
    return run_dnnl(&cb->dnnl[layout][pass]);
}

static int call_mimic(const void *ctx) { return each_pass(ctx, mimic_one, 0); }
static int call_onednn(const void *ctx) { return each_pass(ctx, dnnl_one, DNNL_ANY); }
static int call_onednn_nchw(const void *ctx) { return each_pass(ctx, dnnl_one, DNNL_NCHW); }

// ---------------------------------------------------------------- rows

typedef struct {
    const char *name;
    bench_call_fn fn;
} conv_lib;

static const conv_lib libs[] = {
    {"mimic", call_mimic},
    {"onednn", call_onednn},
    {"onednn_nchw", call_onednn_nchw},
};
#define NLIBS (sizeof libs / sizeof libs[0])

// A registered row: which library, which layers (first, count) and pass (-1: all three).
typedef struct {
    const conv_lib *lib;
    int first, count, pass;
} conv_row;

static conv_row rows[NLIBS * (NLAYERS * NPASSES + 1)];

// Seconds each same-run ratio measurement may take (both libraries together).
#define RATIO_SECONDS 0.3

// Accuracy of fresh calls of every pass the row runs (oneDNN on NCHW shares the buffers).
static double mimic_err(const conv_call *cc) {
    double err = 0.0;
    for (int i = 0; i < cc->count; i++)
        for (int p = 0; p < NPASSES; p++) {
            const conv_bench *b = &cc->cb[i];
            if (cc->pass >= 0 && cc->pass != p)
                continue;
            if (mimic_pass(b, p) != 0)
                return NAN;
            const double e = bench_err_conv(&b->s, p, b->src, b->wei, b->bias, b->dst, b->ddst,
                                            b->dsrc, b->dwei, b->dbias);
            err = e > err ? e : err;
        }
    return err;
}

static void mimic_counters(mb_state *st, const conv_call *cc, double flops) {
    size_t ws = 0;
    double bytes = 0;
    for (int i = 0; i < cc->count; i++)
        for (int p = 0; p < NPASSES; p++) {
            size_t b = 0;
            const conv_bench *c = &cc->cb[i];
            // Compulsory traffic of a pass: its three tensors (src, weights, dst) once each.
            if (cc->pass < 0 || cc->pass == p)
                bytes += 4.0 * (double)(c->s.n * c->s.c * c->s.h * c->s.w +
                                        c->s.k * c->s.c * c->s.r * c->s.s +
                                        c->s.n * c->s.k * c->p * c->q);
            if ((cc->pass < 0 || cc->pass == p) &&
                mimic_conv2d_workspace_bytes(&cc->cb[i].s, (mimic_conv_pass)p, &b) == MIMIC_OK &&
                b > ws)
                ws = b;
        }
    mb_set_label(st, mimic_isa_name(mimic_isa_active()));
    mb_counter(st, "workspace_bytes", (double)ws, MB_COUNTER_DEFAULT);
    mb_counter(st, "flop_per_byte", flops / bytes, MB_COUNTER_DEFAULT);
    mb_counter(st, "max_rel_err", mimic_err(cc), MB_COUNTER_DEFAULT);
    const double peak = bench_fma_peak_gflops(mimic_isa_active(), mimic_threads_get());
    if (peak > 0)
        mb_counter(st, "peak_frac", 1e-9 * flops / peak,
                   MB_COUNTER_RATE | MB_COUNTER_ITERATION_INVARIANT);
    mb_counter(st, "vs_onednn", bench_speed_ratio(call_mimic, call_onednn, cc, RATIO_SECONDS),
               MB_COUNTER_DEFAULT);
    mb_counter(st, "vs_onednn_nchw",
               bench_speed_ratio(call_mimic, call_onednn_nchw, cc, RATIO_SECONDS),
               MB_COUNTER_DEFAULT);
}

static void bench_conv(mb_state *st) {
    const conv_row *row = mb_context(st);
    conv_bench cb[TEACHER_LAYERS];
    conv_call cc = {cb, 0, row->pass};
    double flops = 0;
    for (; cc.count < row->count; cc.count++) {
        const mimic_conv2d *s = &layers[row->first + cc.count].s;
        if (conv_bench_init(&cb[cc.count], s)) {
            mb_skip_with_error(st, "setup failed (memory, or oneDNN refused the shape)");
            goto done;
        }
        flops += pass_flops(s, cb[cc.count].p, cb[cc.count].q) * (row->pass < 0 ? NPASSES : 1);
    }
    // One untimed call: JIT (oneDNN), thread pools, workspaces and first-touch page faults.
    if (row->lib->fn(&cc) != 0) {
        mb_skip_with_error(st, "convolution failed");
        goto done;
    }
    while (mb_keep_running(st)) {
        if (row->lib->fn(&cc) != 0) {
            mb_skip_with_error(st, "convolution failed");
            break;
        }
        mb_clobber_memory();
    }
    mb_counter(st, "GFLOP/s", 1e-9 * flops, MB_COUNTER_RATE | MB_COUNTER_ITERATION_INVARIANT);
    if (row->lib->fn == call_mimic)
        mimic_counters(st, &cc, flops);
done:
    for (int i = 0; i < cc.count; i++)
        conv_bench_free(&cb[i]);
}

static void add_row(size_t *i, const conv_lib *lib, int first, int count, int pass,
                    const char *what) {
    char name[128];
    double flops = 0;
    rows[*i] = (conv_row){lib, first, count, pass};
    snprintf(name, sizeof name, "conv/%s/%s", lib->name, what);
    for (int l = first; l < first + count; l++) {
        int64_t p, q;
        if (mimic_conv2d_out_hw(&layers[l].s, &p, &q) == MIMIC_OK)
            flops += pass_flops(&layers[l].s, p, q) * (pass < 0 ? NPASSES : 1);
    }
    bench_add(name, bench_conv, &rows[*i], lib->fn == call_mimic ? BENCH_PER_ISA : BENCH_ANY_ISA,
              1e-9 * flops, MB_MS);
    (*i)++;
}

void bench_register_conv(void) {
    size_t i = 0;
    char what[96];
    for (size_t l = 0; l < NLAYERS; l++) {
        for (int p = 0; p < NPASSES; p++)
            for (size_t b = 0; b < NLIBS; b++) {
                snprintf(what, sizeof what, "%s/%s", layers[l].name, pass_names[p]);
                add_row(&i, &libs[b], (int)l, 1, p, what);
            }
        // A whole training step of the teacher's convolutions: every pass of its four layers.
        if (l + 1 == TEACHER_LAYERS)
            for (size_t b = 0; b < NLIBS; b++)
                add_row(&i, &libs[b], 0, TEACHER_LAYERS, -1, "teacher_step_b128/all");
    }
}
