// What the benchmark files share: registration entry points and input helpers.
#ifndef MIMIC_BENCH_BENCH_H
#define MIMIC_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

void bench_register_gemm(void);

// n floats, 64-byte aligned (free with free()); NULL if out of memory.
float *bench_alloc_f32(size_t n);
// Deterministic values in [-1, 1), the same for the same seed on every machine.
void bench_fill_f32(float *p, size_t n, uint32_t seed);

#endif
