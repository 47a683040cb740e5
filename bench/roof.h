// The measured FMA roof of each x86 ISA: the GFLOP/s a peak_frac counter divides by.
#ifndef MIMIC_BENCH_ROOF_H
#define MIMIC_BENCH_ROOF_H

#include <mimic/mimic.h>

// iters x 12 independent FMAs of one vector each; returns a value that depends on all of them.
double bench_fma_loop_avx512(long iters);
double bench_fma_loop_avx2(long iters);

// Floating-point operations per iteration of the loop of `isa` (12 FMAs x lanes x 2).
double bench_fma_loop_flops(mimic_isa isa);

// Peak GFLOP/s of `isa` on `threads` threads, measured on first use and cached; 0 if this
// build or CPU has no roof loop for it.
double bench_fma_peak_gflops(mimic_isa isa, int threads);

void bench_register_roof(void);

#endif
