// Input helpers for the benchmarks: aligned buffers and deterministic fills.
#include "bench.h"

#include <stdlib.h>

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
