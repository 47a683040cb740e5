// sgemm rows: mimic_sgemm beside oneDNN's dnnl_sgemm and OpenBLAS's cblas_sgemm, same shapes.
// Each mimic row also carries vs_onednn and vs_openblas: the speed ratios measured in the same
// process right after its timing loop (> 1 means mimic is faster), which survive a noisy
// machine better than comparing rows timed at different moments.
#include "bench.h"
#include "roof.h"
#include "shim.h"

#include <cblas.h>
#include <dnnl.h>
#include <inttypes.h>
#include <mimic/mimic.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    char ta, tb;
    int64_t m, n, k;
} gemm_shape;

// Prepared inputs of one shape: C = op(A) * op(B), row-major, alpha 1, beta 0, tight strides.
typedef struct {
    gemm_shape s;
    float *a, *b, *c;
} gemm_inputs;

// Tight leading dimensions of A (M x K, or K x M transposed) and B (K x N, or N x K).
static int64_t lda(const gemm_shape *s) { return s->ta == 'T' ? s->m : s->k; }
static int64_t ldb(const gemm_shape *s) { return s->tb == 'T' ? s->k : s->n; }

static int sgemm_mimic(const void *ctx) {
    const gemm_inputs *g = ctx;
    return mimic_sgemm(g->s.ta, g->s.tb, g->s.m, g->s.n, g->s.k, 1.0f, g->a, lda(&g->s), g->b,
                       ldb(&g->s), 0.0f, g->c, g->s.n) != MIMIC_OK;
}

static int sgemm_onednn(const void *ctx) {
    const gemm_inputs *g = ctx;
    return dnnl_sgemm(g->s.ta, g->s.tb, g->s.m, g->s.n, g->s.k, 1.0f, g->a, lda(&g->s), g->b,
                      ldb(&g->s), 0.0f, g->c, g->s.n) != dnnl_success;
}

static int sgemm_openblas(const void *ctx) {
    const gemm_inputs *g = ctx;
    cblas_sgemm(CblasRowMajor, g->s.ta == 'T' ? CblasTrans : CblasNoTrans,
                g->s.tb == 'T' ? CblasTrans : CblasNoTrans, (blasint)g->s.m, (blasint)g->s.n,
                (blasint)g->s.k, 1.0f, g->a, (blasint)lda(&g->s), g->b, (blasint)ldb(&g->s), 0.0f,
                g->c, (blasint)g->s.n);
    return 0;
}

typedef struct {
    const char *name;
    bench_call_fn fn;
} gemm_lib;

static const gemm_lib libs[] = {
    {"mimic", sgemm_mimic},
    {"onednn", sgemm_onednn},
    {"openblas", sgemm_openblas},
};

// Issue 3's list: square sizes; every transpose at 1024; the trainer's dense-layer GEMMs at
// batch 128 (forward, and the two backward products) and the im2col GEMMs of its teacher's
// convolutions (M = output channels, N = batch * P * Q, K = C * R * S); small problems.
static const gemm_shape shapes[] = {
    {'N', 'N', 256, 256, 256},     {'N', 'N', 512, 512, 512},     {'N', 'N', 1024, 1024, 1024},
    {'N', 'N', 2048, 2048, 2048},  {'N', 'N', 4096, 4096, 4096},  {'N', 'T', 1024, 1024, 1024},
    {'T', 'N', 1024, 1024, 1024},  {'T', 'T', 1024, 1024, 1024},  {'N', 'N', 128, 256, 3136},
    {'T', 'N', 3136, 256, 128},    {'N', 'T', 128, 3136, 256},    {'N', 'N', 128, 1024, 784},
    {'T', 'N', 784, 1024, 128},    {'N', 'T', 128, 10, 1024},     {'N', 'N', 128, 1024, 10},
    {'N', 'N', 32, 100352, 9},     {'N', 'N', 32, 100352, 288},   {'N', 'N', 64, 25088, 576},
    {'N', 'N', 16, 16, 16},        {'N', 'N', 32, 32, 32},        {'N', 'N', 64, 64, 64},
    // The shallow students' output layer (H = 5541): its weight gradient dY^T H.
    {'T', 'N', 10, 5541, 128},
    // The conv-form student's bottleneck (3136 -> 128): forward (W^T), backward-data and the
    // weight gradient.
    {'N', 'T', 128, 128, 3136},    {'N', 'N', 128, 3136, 128},    {'T', 'N', 128, 3136, 128},
    // The 784-form student's hidden layer (128 -> 5541): its weight gradient dY^T Z.
    {'T', 'N', 5541, 128, 128},
    // A matrix-vector product: a batch of one through a 1024 -> 4096 dense layer.
    {'N', 'N', 1, 4096, 1024},
};

typedef struct {
    const gemm_lib *lib;
    gemm_shape shape;
} gemm_case;

#define NLIBS (sizeof libs / sizeof libs[0])
#define NSHAPES (sizeof shapes / sizeof shapes[0])
static gemm_case cases[NSHAPES * NLIBS];

// Seconds each same-run ratio measurement may take (both libraries together).
#define RATIO_SECONDS 0.2

// A, B and C of shape s, filled; 0 (and the row skipped with an error) if out of memory.
static int inputs_alloc(mb_state *st, gemm_shape s, gemm_inputs *g) {
    *g = (gemm_inputs){s, bench_alloc_f32((size_t)(s.m * s.k)),
                       bench_alloc_f32((size_t)(s.k * s.n)), bench_alloc_f32((size_t)(s.m * s.n))};
    if (!g->a || !g->b || !g->c) {
        mb_skip_with_error(st, "out of memory");
        return 0;
    }
    bench_fill_f32(g->a, (size_t)(s.m * s.k), 1);
    bench_fill_f32(g->b, (size_t)(s.k * s.n), 2);
    bench_fill_f32(g->c, (size_t)(s.m * s.n), 3);
    return 1;
}

static void inputs_free(gemm_inputs *g) {
    free(g->a);
    free(g->b);
    free(g->c);
}

static void bench_sgemm(mb_state *st) {
    const gemm_case *gc = mb_context(st);
    const gemm_shape s = gc->shape;
    gemm_inputs g;
    if (!inputs_alloc(st, s, &g))
        goto done;
    // One untimed call: JIT (oneDNN), thread pools and first-touch page faults.
    if (gc->lib->fn(&g) != 0) {
        mb_skip_with_error(st, "sgemm failed");
        goto done;
    }
    while (mb_keep_running(st)) {
        if (gc->lib->fn(&g) != 0) {
            mb_skip_with_error(st, "sgemm failed");
            break;
        }
        mb_do_not_optimize(g.c);
        mb_clobber_memory();
    }
    mb_counter(st, "GFLOP/s", 2e-9 * (double)s.m * (double)s.n * (double)s.k,
               MB_COUNTER_RATE | MB_COUNTER_ITERATION_INVARIANT);
    if (gc->lib->fn == sgemm_mimic) {
        mb_set_label(st, mimic_isa_name(mimic_isa_active()));
        // Accuracy of a fresh call (the ratios below leave the other libraries' C behind).
        if (sgemm_mimic(&g) == 0)
            mb_counter(st, "max_rel_err",
                       bench_err_sgemm(s.ta, s.tb, s.m, s.n, s.k, g.a, lda(&s), g.b, ldb(&s), g.c),
                       MB_COUNTER_DEFAULT);
        // Arithmetic intensity on compulsory traffic (A, B read once, C written once).
        mb_counter(st, "flop_per_byte",
                   2.0 * (double)s.m * (double)s.n * (double)s.k /
                       (4.0 * ((double)s.m * (double)s.k + (double)s.k * (double)s.n +
                               (double)s.m * (double)s.n)),
                   MB_COUNTER_DEFAULT);
        // Fraction of the FMA roof of the active ISA on as many threads as mimic uses,
        // measured in this process (0 where there is no roof loop: scalar, NEON).
        const double peak = bench_fma_peak_gflops(mimic_isa_active(), mimic_threads_get());
        if (peak > 0)
            mb_counter(st, "peak_frac",
                       2e-9 * (double)s.m * (double)s.n * (double)s.k / peak,
                       MB_COUNTER_RATE | MB_COUNTER_ITERATION_INVARIANT);
        mb_counter(st, "vs_onednn", bench_speed_ratio(sgemm_mimic, sgemm_onednn, &g, RATIO_SECONDS),
                   MB_COUNTER_DEFAULT);
        mb_counter(st, "vs_openblas",
                   bench_speed_ratio(sgemm_mimic, sgemm_openblas, &g, RATIO_SECONDS),
                   MB_COUNTER_DEFAULT);
    }
done:
    inputs_free(&g);
}

// --- The ReLU post-op (mimic_sgemm_post) ---------------------------------------------------
// A dense layer's forward and its ReLU, y = max(0, x W^T), at the students' hidden layers:
// mimic's product with the ReLU on each tile in cache, against the product then the ReLU as a
// pass of its own over C (what a dnnl_sgemm or cblas_sgemm caller does), each library's.
static const gemm_shape post_shapes[] = {{'N', 'T', 128, 5541, 128}, {'N', 'T', 128, 3363, 128}};
#define NPOST (sizeof post_shapes / sizeof post_shapes[0])
static gemm_shape post_cases[NPOST];

static void relu_pass(float *c, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        c[i] = c[i] > 0.0f ? c[i] : 0.0f;
}

static int relu_fused_mimic(const void *ctx) {
    const gemm_inputs *g = ctx;
    const mimic_gemm_post relu = {MIMIC_GEMM_POST_RELU, NULL, 0};
    return mimic_sgemm_post(g->s.ta, g->s.tb, g->s.m, g->s.n, g->s.k, 1.0f, g->a, lda(&g->s),
                            g->b, ldb(&g->s), 0.0f, g->c, g->s.n, &relu) != MIMIC_OK;
}

static int relu_pass_mimic(const void *ctx) {
    const gemm_inputs *g = ctx;
    const int rc = sgemm_mimic(ctx);
    relu_pass(g->c, g->s.m * g->s.n);
    return rc;
}

static int relu_pass_onednn(const void *ctx) {
    const gemm_inputs *g = ctx;
    const int rc = sgemm_onednn(ctx);
    relu_pass(g->c, g->s.m * g->s.n);
    return rc;
}

static int relu_pass_openblas(const void *ctx) {
    const gemm_inputs *g = ctx;
    sgemm_openblas(ctx);
    relu_pass(g->c, g->s.m * g->s.n);
    return 0;
}

static void bench_sgemm_relu(mb_state *st) {
    const gemm_shape s = *(const gemm_shape *)mb_context(st);
    gemm_inputs g;
    if (!inputs_alloc(st, s, &g))
        goto done;
    if (relu_fused_mimic(&g) != 0) {
        mb_skip_with_error(st, "mimic_sgemm_post failed");
        goto done;
    }
    while (mb_keep_running(st)) {
        (void)relu_fused_mimic(&g);
        mb_do_not_optimize(g.c);
        mb_clobber_memory();
    }
    mb_set_label(st, mimic_isa_name(mimic_isa_active()));
    mb_counter(st, "GFLOP/s", 2e-9 * (double)s.m * (double)s.n * (double)s.k,
               MB_COUNTER_RATE | MB_COUNTER_ITERATION_INVARIANT);
    mb_counter(st, "vs_unfused", bench_speed_ratio(relu_fused_mimic, relu_pass_mimic, &g,
                                                   RATIO_SECONDS), MB_COUNTER_DEFAULT);
    mb_counter(st, "vs_onednn", bench_speed_ratio(relu_fused_mimic, relu_pass_onednn, &g,
                                                  RATIO_SECONDS), MB_COUNTER_DEFAULT);
    mb_counter(st, "vs_openblas", bench_speed_ratio(relu_fused_mimic, relu_pass_openblas, &g,
                                                    RATIO_SECONDS), MB_COUNTER_DEFAULT);
done:
    inputs_free(&g);
}

void bench_register_gemm(void) {
    for (size_t p = 0; p < NPOST; p++) {
        char name[96];
        post_cases[p] = post_shapes[p];
        snprintf(name, sizeof name, "sgemm_relu/mimic/%c%c/%" PRId64 "x%" PRId64 "x%" PRId64,
                 post_shapes[p].ta, post_shapes[p].tb, post_shapes[p].m, post_shapes[p].n,
                 post_shapes[p].k);
        bench_add(name, bench_sgemm_relu, &post_cases[p], BENCH_PER_ISA,
                  2e-9 * (double)post_shapes[p].m * (double)post_shapes[p].n *
                      (double)post_shapes[p].k,
                  MB_US);
    }
    size_t i = 0;
    for (size_t s = 0; s < NSHAPES; s++) {
        for (size_t l = 0; l < NLIBS; l++, i++) {
            char name[96];
            cases[i] = (gemm_case){&libs[l], shapes[s]};
            snprintf(name, sizeof name, "sgemm/%s/%c%c/%" PRId64 "x%" PRId64 "x%" PRId64,
                     libs[l].name, shapes[s].ta, shapes[s].tb, shapes[s].m, shapes[s].n,
                     shapes[s].k);
            bench_add(name, bench_sgemm, &cases[i], l == 0 ? BENCH_PER_ISA : BENCH_ANY_ISA,
                      2e-9 * (double)shapes[s].m * (double)shapes[s].n * (double)shapes[s].k,
                      MB_US);
        }
    }
}
