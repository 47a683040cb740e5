// sgemm rows: mimic_sgemm beside oneDNN's dnnl_sgemm and OpenBLAS's cblas_sgemm, same shapes.
// Each mimic row also carries vs_onednn and vs_openblas: the speed ratios measured in the same
// process right after its timing loop (> 1 means mimic is faster), which survive a noisy
// machine better than comparing rows timed at different moments.
#include "bench.h"
#include "shim.h"

#include <cblas.h>
#include <dnnl.h>
#include <inttypes.h>
#include <mimic/mimic.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    int64_t m, n, k;
} gemm_shape;

// Prepared inputs of one shape: C = A * B, row-major, NN, alpha 1, beta 0, tight strides.
typedef struct {
    gemm_shape s;
    float *a, *b, *c;
} gemm_inputs;

static int sgemm_mimic(const void *ctx) {
    const gemm_inputs *g = ctx;
    return mimic_sgemm('N', 'N', g->s.m, g->s.n, g->s.k, 1.0f, g->a, g->s.k, g->b, g->s.n, 0.0f,
                       g->c, g->s.n) != MIMIC_OK;
}

static int sgemm_onednn(const void *ctx) {
    const gemm_inputs *g = ctx;
    return dnnl_sgemm('N', 'N', g->s.m, g->s.n, g->s.k, 1.0f, g->a, g->s.k, g->b, g->s.n, 0.0f,
                      g->c, g->s.n) != dnnl_success;
}

static int sgemm_openblas(const void *ctx) {
    const gemm_inputs *g = ctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)g->s.m, (blasint)g->s.n,
                (blasint)g->s.k, 1.0f, g->a, (blasint)g->s.k, g->b, (blasint)g->s.n, 0.0f, g->c,
                (blasint)g->s.n);
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

// Square sizes, then the trainer's conv layers as GEMMs (the second with a smaller N than
// the trainer's 100352 so that a quick run stays quick).
static const gemm_shape shapes[] = {
    {64, 64, 64},       {256, 256, 256},  {512, 512, 512},
    {1024, 1024, 1024}, {128, 256, 3136}, {32, 6272, 288},
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

static void bench_sgemm(mb_state *st) {
    const gemm_case *gc = mb_context(st);
    const gemm_shape s = gc->shape;
    gemm_inputs g = {s, bench_alloc_f32((size_t)(s.m * s.k)), bench_alloc_f32((size_t)(s.k * s.n)),
                     bench_alloc_f32((size_t)(s.m * s.n))};
    if (!g.a || !g.b || !g.c) {
        mb_skip_with_error(st, "out of memory");
        goto done;
    }
    bench_fill_f32(g.a, (size_t)(s.m * s.k), 1);
    bench_fill_f32(g.b, (size_t)(s.k * s.n), 2);
    bench_fill_f32(g.c, (size_t)(s.m * s.n), 3);
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
        mb_counter(st, "vs_onednn", bench_speed_ratio(sgemm_mimic, sgemm_onednn, &g, RATIO_SECONDS),
                   MB_COUNTER_DEFAULT);
        mb_counter(st, "vs_openblas",
                   bench_speed_ratio(sgemm_mimic, sgemm_openblas, &g, RATIO_SECONDS),
                   MB_COUNTER_DEFAULT);
    }
done:
    free(g.a);
    free(g.b);
    free(g.c);
}

void bench_register_gemm(void) {
    size_t i = 0;
    for (size_t s = 0; s < NSHAPES; s++) {
        for (size_t l = 0; l < NLIBS; l++, i++) {
            char name[96];
            cases[i] = (gemm_case){&libs[l], shapes[s]};
            snprintf(name, sizeof name, "sgemm/%s/%" PRId64 "x%" PRId64 "x%" PRId64,
                     libs[l].name, shapes[s].m, shapes[s].n, shapes[s].k);
            mb_unit(mb_use_real_time(mb_register(name, bench_sgemm, &cases[i])), MB_US);
        }
    }
}
