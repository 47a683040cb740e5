// sgemm rows: mimic_sgemm beside oneDNN's dnnl_sgemm and OpenBLAS's cblas_sgemm, same shapes.
#include "bench.h"
#include "shim.h"

#include <cblas.h>
#include <dnnl.h>
#include <inttypes.h>
#include <mimic/mimic.h>
#include <stdio.h>
#include <stdlib.h>

// C = A * B, row-major, NN, alpha 1, beta 0, tight leading dimensions. 0 on success.
typedef int (*sgemm_fn)(int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                        float *c);

static int sgemm_mimic(int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                       float *c) {
    return mimic_sgemm('N', 'N', m, n, k, 1.0f, a, k, b, n, 0.0f, c, n) != MIMIC_OK;
}

static int sgemm_onednn(int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                        float *c) {
    return dnnl_sgemm('N', 'N', m, n, k, 1.0f, a, k, b, n, 0.0f, c, n) != dnnl_success;
}

static int sgemm_openblas(int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                          float *c) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)m, (blasint)n, (blasint)k,
                1.0f, a, (blasint)k, b, (blasint)n, 0.0f, c, (blasint)n);
    return 0;
}

typedef struct {
    const char *name;
    sgemm_fn fn;
} gemm_lib;

typedef struct {
    int64_t m, n, k;
} gemm_shape;

typedef struct {
    const gemm_lib *lib;
    gemm_shape shape;
} gemm_case;

static const gemm_lib libs[] = {
    {"mimic", sgemm_mimic},
    {"onednn", sgemm_onednn},
    {"openblas", sgemm_openblas},
};

// Square sizes, then the trainer's conv layers as GEMMs (the second with a smaller N than
// the trainer's 100352 so that a quick run stays quick).
static const gemm_shape shapes[] = {
    {64, 64, 64},     {256, 256, 256}, {512, 512, 512},
    {1024, 1024, 1024}, {128, 256, 3136}, {32, 6272, 288},
};

#define NLIBS (sizeof libs / sizeof libs[0])
#define NSHAPES (sizeof shapes / sizeof shapes[0])
static gemm_case cases[NSHAPES * NLIBS];

static void bench_sgemm(mb_state *st) {
    const gemm_case *gc = mb_context(st);
    const int64_t m = gc->shape.m, n = gc->shape.n, k = gc->shape.k;
    float *a = bench_alloc_f32((size_t)(m * k));
    float *b = bench_alloc_f32((size_t)(k * n));
    float *c = bench_alloc_f32((size_t)(m * n));
    if (!a || !b || !c) {
        mb_skip_with_error(st, "out of memory");
        goto done;
    }
    bench_fill_f32(a, (size_t)(m * k), 1);
    bench_fill_f32(b, (size_t)(k * n), 2);
    bench_fill_f32(c, (size_t)(m * n), 3);
    // One untimed call: JIT (oneDNN), thread pools and first-touch page faults.
    if (gc->lib->fn(m, n, k, a, b, c) != 0) {
        mb_skip_with_error(st, "sgemm failed");
        goto done;
    }
    while (mb_keep_running(st)) {
        if (gc->lib->fn(m, n, k, a, b, c) != 0) {
            mb_skip_with_error(st, "sgemm failed");
            break;
        }
        mb_do_not_optimize(c);
        mb_clobber_memory();
    }
    mb_counter(st, "GFLOP/s", 2e-9 * (double)m * (double)n * (double)k,
               MB_COUNTER_RATE | MB_COUNTER_ITERATION_INVARIANT);
    if (gc->lib->fn == sgemm_mimic) mb_set_label(st, mimic_isa_name(mimic_isa_active()));
done:
    free(a);
    free(b);
    free(c);
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
