// Softmax, log-softmax and loss rows: mimic at T = 4 beside oneDNN 2.6's softmax / logsoftmax
// forward primitives and memcpy of the same bytes (on the same threads). Each mimic row carries
// GB/s (bytes read + written), vs_onednn (same-run speed ratio, > 1: mimic faster) and
// frac_copy (same-run ratio to memcpy of the same bytes: the fraction of the copy bandwidth).
// oneDNN has no temperature, so its rows run on the raw logits: a oneDNN user would pay an
// extra scaling pass, which these ratios leave out. The losses have no oneDNN primitive; their
// vs_onednn compares with the primitives that produce the same probabilities (ce: logsoftmax;
// kd: softmax of the teacher and logsoftmax of the student); l2 has none.
#include "bench.h"
#include "shim.h"

#include <dnnl.h>
#include <inttypes.h>
#include <mimic/mimic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OP_SOFTMAX, OP_LOG_SOFTMAX, OP_CE, OP_L2, OP_KD } sm_op;
typedef enum { LIB_MIMIC, LIB_ONEDNN, LIB_MEMCPY } sm_lib;

static const char *const op_names[] = {"softmax", "log_softmax", "ce_loss", "l2_loss", "kd_loss"};

typedef struct {
    int64_t rows, cols;
} sm_shape;

static const sm_shape shapes[] = {{128, 10}, {128, 1000}, {4096, 1000}, {64, 32768}, {8, 1048576}};

#define T_BENCH 4.0f
#define RATIO_SECONDS 0.3

// Prepared inputs of one row: x (logits, student), t (teacher), y (output or gradient),
// y2 (oneDNN's second output for kd), the memcpy buffers, and up to two oneDNN primitives.
typedef struct {
    sm_op op;
    sm_shape s;
    float *x, *t, *y, *y2;
    int32_t *labels;
    void *src, *dst;
    size_t copy_bytes;
    dnnl_primitive_t prim[2];
    dnnl_memory_t mem[4];
    int nprims;
} sm_inputs;

// Bytes read + written by one call of op (a memcpy row moves as many as the op it stands by).
static double op_bytes(sm_op op, sm_shape s) {
    const double n = (double)s.rows * (double)s.cols * sizeof(float);
    switch (op) {
    case OP_L2:
    case OP_KD: return 3 * n;
    case OP_CE: return 2 * n + (double)s.rows * sizeof(int32_t);
    default: return 2 * n;
    }
}

static int call_mimic(const void *ctx) {
    const sm_inputs *in = ctx;
    const int64_t r = in->s.rows, c = in->s.cols;
    float loss;
    mimic_status st;
    switch (in->op) {
    case OP_SOFTMAX: st = mimic_softmax(in->x, in->y, r, c, T_BENCH); break;
    case OP_LOG_SOFTMAX: st = mimic_log_softmax(in->x, in->y, r, c, T_BENCH); break;
    case OP_CE: st = mimic_ce_loss(in->x, in->labels, r, c, &loss, in->y); break;
    case OP_L2: st = mimic_logit_l2_loss(in->x, in->t, r, c, &loss, in->y); break;
    default: st = mimic_kd_loss(in->x, in->t, r, c, T_BENCH, &loss, in->y); break;
    }
    mb_do_not_optimize(&loss);
    return st != MIMIC_OK;
}

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static int call_onednn(const void *ctx) {
    const sm_inputs *in = ctx;
    for (int p = 0; p < in->nprims; p++) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, in->mem[2 * p]},
                                   {DNNL_ARG_DST, in->mem[2 * p + 1]}};
        if (dnnl_primitive_execute(in->prim[p], stream, 2, args) != dnnl_success)
            return 1;
    }
    return dnnl_stream_wait(stream) != dnnl_success;
}

// memcpy on as many threads as mimic uses (one contiguous part each) from 1 MiB on, so that
// frac_copy compares with the copy bandwidth of the same cores.
static int call_memcpy(const void *ctx) {
    const sm_inputs *in = ctx;
    const int threads = in->copy_bytes >= (1 << 20) ? mimic_threads_get() : 1;
    if (threads == 1) { // no OpenMP team at all: it costs more than a small copy
        memcpy(in->dst, in->src, in->copy_bytes);
        mb_do_not_optimize(in->dst);
        return 0;
    }
    const size_t part = (in->copy_bytes / (size_t)threads + 63) / 64 * 64;
#pragma omp parallel for num_threads(threads)
    for (int i = 0; i < threads; i++) {
        const size_t lo = (size_t)i * part;
        const size_t hi = lo + part < in->copy_bytes ? lo + part : in->copy_bytes;
        if (lo < hi)
            memcpy((char *)in->dst + lo, (const char *)in->src + lo, hi - lo);
    }
    mb_do_not_optimize(in->dst);
    return 0;
}

// A softmax (log_out = 0) or logsoftmax primitive over the rows of src into dst, axis 1.
static int onednn_add(sm_inputs *in, float *src, float *dst, int log_out) {
    if (!stream && (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success ||
                    dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success))
        return 1;
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {in->s.rows, in->s.cols};
    dnnl_primitive_desc_t pd = NULL;
    const int p = in->nprims;
    int rc = dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, dnnl_ab) != dnnl_success;
    if (!rc && log_out) {
        dnnl_logsoftmax_desc_t d;
        rc = dnnl_logsoftmax_forward_desc_init(&d, dnnl_forward_inference, &md, 1) ||
             dnnl_primitive_desc_create(&pd, &d, NULL, engine, NULL);
    } else if (!rc) {
        dnnl_softmax_desc_t d;
        rc = dnnl_softmax_forward_desc_init(&d, dnnl_forward_inference, &md, 1) ||
             dnnl_primitive_desc_create(&pd, &d, NULL, engine, NULL);
    }
    rc = rc || dnnl_primitive_create(&in->prim[p], pd) ||
         dnnl_memory_create(&in->mem[2 * p], &md, engine, src) ||
         dnnl_memory_create(&in->mem[2 * p + 1], &md, engine, dst);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (!rc)
        in->nprims++;
    return rc;
}

// The oneDNN primitives that stand beside op (none for l2 and memcpy).
static int onednn_setup(sm_inputs *in) {
    switch (in->op) {
    case OP_SOFTMAX: return onednn_add(in, in->x, in->y, 0);
    case OP_LOG_SOFTMAX:
    case OP_CE: return onednn_add(in, in->x, in->y, 1);
    case OP_KD: return onednn_add(in, in->t, in->y2, 0) || onednn_add(in, in->x, in->y, 1);
    default: return 0;
    }
}

static void inputs_free(sm_inputs *in) {
    for (int i = 0; i < 2 * in->nprims; i++)
        dnnl_memory_destroy(in->mem[i]);
    for (int p = 0; p < in->nprims; p++)
        dnnl_primitive_destroy(in->prim[p]);
    free(in->x), free(in->t), free(in->y), free(in->y2), free(in->labels);
    free(in->src), free(in->dst);
}

// Logits in [-10, 10), labels i mod cols, the memcpy buffers (half the op's bytes each way).
static int inputs_init(sm_inputs *in, sm_op op, sm_shape s) {
    const size_t n = (size_t)(s.rows * s.cols);
    memset(in, 0, sizeof *in);
    in->op = op, in->s = s;
    in->x = bench_alloc_f32(n), in->t = bench_alloc_f32(n);
    in->y = bench_alloc_f32(n), in->y2 = bench_alloc_f32(n);
    in->labels = malloc((size_t)s.rows * sizeof *in->labels);
    in->copy_bytes = (size_t)(op_bytes(op, s) / 2);
    in->src = bench_alloc_f32(in->copy_bytes / sizeof(float) + 1);
    in->dst = bench_alloc_f32(in->copy_bytes / sizeof(float) + 1);
    if (!in->x || !in->t || !in->y || !in->y2 || !in->labels || !in->src || !in->dst)
        return 1;
    bench_fill_f32(in->x, n, 1);
    bench_fill_f32(in->t, n, 2);
    for (size_t i = 0; i < n; i++)
        in->x[i] *= 10.0f, in->t[i] *= 10.0f;
    for (int64_t i = 0; i < s.rows; i++)
        in->labels[i] = (int32_t)(i % s.cols);
    memset(in->src, 1, in->copy_bytes);
    memset(in->dst, 0, in->copy_bytes);
    return 0;
}

typedef struct {
    sm_op op; // for memcpy rows: the op whose bytes are copied
    sm_lib lib;
    sm_shape shape;
    int sweep; // a row of the online-threshold sweep: no same-run ratios
} sm_case;

static const bench_call_fn lib_calls[] = {call_mimic, call_onednn, call_memcpy};

static void bench_softmax_row(mb_state *st) {
    const sm_case *c = mb_context(st);
    const bench_call_fn fn = lib_calls[c->lib];
    sm_inputs in;
    if (inputs_init(&in, c->op, c->shape) || (c->lib != LIB_MEMCPY && onednn_setup(&in))) {
        mb_skip_with_error(st, "out of memory or oneDNN setup failed");
        goto done;
    }
    // One untimed call: JIT (oneDNN), thread pools and first-touch page faults.
    if (fn(&in) != 0) {
        mb_skip_with_error(st, "call failed");
        goto done;
    }
    while (mb_keep_running(st)) {
        if (fn(&in) != 0) {
            mb_skip_with_error(st, "call failed");
            break;
        }
        mb_clobber_memory();
    }
    mb_counter(st, "GB/s", 1e-9 * op_bytes(c->op, c->shape),
               MB_COUNTER_RATE | MB_COUNTER_ITERATION_INVARIANT);
    if (c->lib == LIB_MIMIC && !c->sweep) {
        mb_set_label(st, mimic_isa_name(mimic_isa_active()));
        // Accuracy of a fresh call (the ratios below leave oneDNN's output behind).
        if (call_mimic(&in) == 0)
            mb_counter(st, "max_rel_err",
                       bench_err_rows((int)c->op, in.x, in.t, in.labels, c->shape.rows,
                                      c->shape.cols, T_BENCH, in.y),
                       MB_COUNTER_DEFAULT);
        if (in.nprims > 0)
            mb_counter(st, "vs_onednn",
                       bench_speed_ratio(call_mimic, call_onednn, &in, RATIO_SECONDS),
                       MB_COUNTER_DEFAULT);
        mb_counter(st, "frac_copy", bench_speed_ratio(call_mimic, call_memcpy, &in, RATIO_SECONDS),
                   MB_COUNTER_DEFAULT);
    }
done:
    inputs_free(&in);
}

#define NSHAPES (sizeof shapes / sizeof shapes[0])
// Per shape: five mimic rows, two oneDNN rows, two memcpy rows (8 and 12 bytes per element).
#define ROWS_PER_SHAPE 9
static sm_case cases[NSHAPES * ROWS_PER_SHAPE];

// The sweep that placed MIMIC_ONLINE_MIN_COLS: 2^23 elements (32 MiB) in rows of each length,
// registered when MIMIC_BENCH_SWEEP=1 (docs/softmax.md runs it on two builds).
static const int64_t sweep_cols[] = {256, 512, 768, 1024, 1536, 2048, 4096, 16384, 1048576};
#define NSWEEP (sizeof sweep_cols / sizeof sweep_cols[0])
static sm_case sweep_cases[NSWEEP * 3];

static const char *row_lib_name(const sm_case *c) {
    if (c->lib == LIB_MEMCPY)
        return op_bytes(c->op, (sm_shape){1, 1}) > 8 ? "12B" : "8B";
    return c->lib == LIB_ONEDNN ? "onednn" : "mimic";
}

static void register_case(const sm_case *c) {
    char name[96];
    snprintf(name, sizeof name, "%s%s/%s/%" PRId64 "x%" PRId64, c->sweep ? "sweep/" : "",
             c->lib == LIB_MEMCPY ? "memcpy" : op_names[c->op], row_lib_name(c), c->shape.rows,
             c->shape.cols);
    bench_add(name, bench_softmax_row, c, c->lib == LIB_MIMIC ? BENCH_PER_ISA : BENCH_ANY_ISA, 0.0,
              MB_US);
}

void bench_register_softmax(void) {
    size_t i = 0;
    for (size_t s = 0; s < NSHAPES; s++) {
        for (int op = OP_SOFTMAX; op <= OP_KD; op++)
            cases[i++] = (sm_case){(sm_op)op, LIB_MIMIC, shapes[s], 0};
        cases[i++] = (sm_case){OP_SOFTMAX, LIB_ONEDNN, shapes[s], 0};
        cases[i++] = (sm_case){OP_LOG_SOFTMAX, LIB_ONEDNN, shapes[s], 0};
        cases[i++] = (sm_case){OP_SOFTMAX, LIB_MEMCPY, shapes[s], 0};
        cases[i++] = (sm_case){OP_KD, LIB_MEMCPY, shapes[s], 0};
    }
    for (size_t k = 0; k < i; k++)
        register_case(&cases[k]);
    const char *sweep = getenv("MIMIC_BENCH_SWEEP");
    if (!sweep || strcmp(sweep, "1") != 0)
        return;
    static const sm_op sweep_ops[] = {OP_SOFTMAX, OP_LOG_SOFTMAX, OP_KD};
    for (size_t c = 0, k = 0; c < NSWEEP; c++)
        for (size_t o = 0; o < 3; o++, k++) {
            const sm_shape sh = {((int64_t)1 << 23) / sweep_cols[c], sweep_cols[c]};
            sweep_cases[k] = (sm_case){sweep_ops[o], LIB_MIMIC, sh, 1};
            register_case(&sweep_cases[k]);
        }
}
