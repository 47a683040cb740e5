// Input helpers for the benchmarks: aligned buffers and deterministic fills.
#include "bench.h"

#include <stdlib.h>
#include <time.h>

float *bench_alloc_f32(size_t n) {
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

void bench_fill_f32(float *p, size_t n, uint32_t seed) {
    uint32_t x = seed * 2654435761u + 1u; // xorshift32 state, never 0 for small seeds
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (float)(x >> 8) * (1.0f / 8388608.0f) - 1.0f;
    }
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Seconds per call over a batch of `calls` calls; negative if a call fails.
static double batch_time(bench_call_fn fn, const void *ctx, long calls) {
    const double t0 = now_seconds();
    for (long i = 0; i < calls; i++)
        if (fn(ctx) != 0)
            return -1.0;
    return (now_seconds() - t0) / (double)calls;
}

#define RATIO_ROUNDS 5

double bench_speed_ratio(bench_call_fn own, bench_call_fn ref, const void *ctx, double seconds) {
    // Warm up both (JIT, thread pools, page faults), then size batches from the slower one.
    const double t_own = batch_time(own, ctx, 1), t_ref = batch_time(ref, ctx, 1);
    if (t_own < 0 || t_ref < 0)
        return 0.0;
    const double slower = t_own > t_ref ? t_own : t_ref;
    // Calls slower than the budget get fewer rounds (at least two each), not a longer run.
    int rounds = slower > 0 ? (int)(seconds / (2.0 * slower)) : RATIO_ROUNDS;
    rounds = rounds < 2 ? 2 : rounds > RATIO_ROUNDS ? RATIO_ROUNDS : rounds;
    const double per_batch = seconds / (2.0 * rounds);
    long calls = slower > 0 ? (long)(per_batch / slower) : 1;
    if (calls < 1)
        calls = 1;
    double best_own = 1e30, best_ref = 1e30;
    for (int r = 0; r < rounds; r++) {
        const double a = batch_time(own, ctx, calls), b = batch_time(ref, ctx, calls);
        if (a < 0 || b < 0)
            return 0.0;
        best_own = a < best_own ? a : best_own;
        best_ref = b < best_ref ? b : best_ref;
    }
    return best_own > 0 ? best_ref / best_own : 0.0;
}
