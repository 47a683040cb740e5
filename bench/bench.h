// What the benchmark files share: registration entry points and input helpers.
#ifndef MIMIC_BENCH_BENCH_H
#define MIMIC_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

void bench_register_gemm(void);
void bench_register_softmax(void);
void bench_register_conv(void);

// n floats, 64-byte aligned (free with free()); NULL if out of memory.
float *bench_alloc_f32(size_t n);
// Deterministic values in [-1, 1), the same for the same seed on every machine.
void bench_fill_f32(float *p, size_t n, uint32_t seed);

// One call of the code under test on prepared inputs; 0 on success.
typedef int (*bench_call_fn)(const void *ctx);

// Speed of `own` relative to `ref` on the same inputs, measured now in this process:
// t_ref / t_own (> 1 means own is faster). Each time is the best per-call time over several
// alternating batches of calls (own, ref, own, ref, ...), so the drift of a shared machine
// hits both alike. About `seconds` in all; returns 0 if a call fails.
double bench_speed_ratio(bench_call_fn own, bench_call_fn ref, const void *ctx, double seconds);

#endif
