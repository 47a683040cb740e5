// roof/fma/<isa> rows: the measured FMA peak per ISA, on the benchmark's thread count. The
// sgemm rows divide by the same measurement for their peak_frac counter. roof/copy: memcpy of
// 64 MiB (past the caches) on the same threads, the bandwidth roof of the dashboard's roofline.
#include "bench.h"
#include "roof.h"
#include "shim.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef double (*fma_loop_fn)(long iters);

static fma_loop_fn loop_for(mimic_isa isa)
{
    switch (isa) {
    case MIMIC_ISA_AVX2: return bench_fma_loop_avx2;
    case MIMIC_ISA_AVX512: return bench_fma_loop_avx512;
    default: return NULL;
    }
}

double bench_fma_loop_flops(mimic_isa isa)
{
    return isa == MIMIC_ISA_AVX512 ? 12.0 * 16 * 2 : 12.0 * 8 * 2;
}

// Runs the loop on every thread at once; the sink keeps the results alive.
static volatile double roof_sink;

static void run_parallel(fma_loop_fn loop, long iters, int threads)
{
    double sum = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
    sum += loop(iters);
    roof_sink = sum;
}

#define ROOF_ITERS 2000000L

double bench_fma_peak_gflops(mimic_isa isa, int threads)
{
    static double cache[MIMIC_ISA_COUNT][65];
    const fma_loop_fn loop = loop_for(isa);
    if (!loop || !mimic_isa_supported(isa) || threads < 1 || threads > 64)
        return 0.0;
    if (cache[isa][threads] > 0.0)
        return cache[isa][threads];
    run_parallel(loop, ROOF_ITERS / 10, threads); // wake the cores and the thread pool
    double best = 0.0;
    for (int r = 0; r < 5; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        run_parallel(loop, ROOF_ITERS, threads);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        const double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        const double g = 1e-9 * bench_fma_loop_flops(isa) * ROOF_ITERS * threads / s;
        best = g > best ? g : best;
    }
    cache[isa][threads] = best;
    return best;
}

static void bench_roof(mb_state *st)
{
    const mimic_isa isa = *(const mimic_isa *)mb_context(st);
    const fma_loop_fn loop = loop_for(isa);
    const int threads = mimic_threads_get();
    while (mb_keep_running(st))
        run_parallel(loop, ROOF_ITERS, threads);
    mb_counter(st, "GFLOP/s", 1e-9 * bench_fma_loop_flops(isa) * ROOF_ITERS * threads,
               MB_COUNTER_RATE | MB_COUNTER_ITERATION_INVARIANT);
}

#define COPY_BYTES ((size_t)64 << 20)

static void bench_copy(mb_state *st)
{
    char *src = (char *)bench_alloc_f32(COPY_BYTES / 4), *dst = (char *)bench_alloc_f32(COPY_BYTES / 4);
    const int threads = mimic_threads_get();
    const size_t part = (COPY_BYTES / (size_t)threads + 63) / 64 * 64;
    if (!src || !dst) {
        mb_skip_with_error(st, "out of memory");
        goto done;
    }
    memset(src, 1, COPY_BYTES);
    memset(dst, 0, COPY_BYTES);
    while (mb_keep_running(st)) {
#pragma omp parallel for num_threads(threads)
        for (int i = 0; i < threads; i++) {
            const size_t lo = (size_t)i * part;
            const size_t hi = lo + part < COPY_BYTES ? lo + part : COPY_BYTES;
            if (lo < hi)
                memcpy(dst + lo, src + lo, hi - lo);
        }
        mb_do_not_optimize(dst);
        mb_clobber_memory();
    }
    // Bytes read + written, as the softmax rows count theirs.
    mb_counter(st, "GB/s", 2e-9 * (double)COPY_BYTES,
               MB_COUNTER_RATE | MB_COUNTER_ITERATION_INVARIANT);
done:
    free(src);
    free(dst);
}

void bench_register_roof(void)
{
    bench_add("roof/copy", bench_copy, NULL, BENCH_ANY_ISA, 0.0, MB_US);
    static const mimic_isa isas[] = {MIMIC_ISA_AVX2, MIMIC_ISA_AVX512};
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        if (!mimic_isa_supported(isas[i]))
            continue;
        char name[64];
        snprintf(name, sizeof name, "roof/fma/%s", mimic_isa_name(isas[i]));
        bench_add(name, bench_roof, &isas[i], BENCH_ANY_ISA, 0.0, MB_US);
    }
}
