// What the benchmark files share: registration entry points and input helpers.
#ifndef MIMIC_BENCH_BENCH_H
#define MIMIC_BENCH_BENCH_H

#include "shim.h"

#include <mimic/mimic.h>
#include <stddef.h>
#include <stdint.h>

void bench_register_gemm(void);
void bench_register_softmax(void);
void bench_register_conv(void);

// Every row is registered through bench_add (bench_main.c), once per run configuration: a
// BENCH_PER_ISA row (mimic's) as NAME/isa:<isa>/threads:<n> for each ISA of the run, a
// BENCH_ANY_ISA row (oneDNN, OpenBLAS, memcpy, the roofs) as NAME/threads:<n>. The row runs
// with that ISA and thread count set for mimic, oneDNN and OpenBLAS, one-thread rows pinned to
// one CPU. gflop is the work of one call: scalar skips per-ISA rows above
// BENCH_SCALAR_MAX_GFLOP (a 4096^3 scalar GEMM takes half a minute per call). Real time.
typedef enum { BENCH_ANY_ISA, BENCH_PER_ISA } bench_kind;
#define BENCH_SCALAR_MAX_GFLOP 4.0
void bench_add(const char *name, mb_fn fn, const void *ctx, bench_kind kind, double gflop,
               mb_time_unit unit);

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

// Accuracy of mimic's output against tests/ref.c's double reference, measured once outside
// the timed loop (bench_check.c) and reported as the max_rel_err counter.
// sgemm: max over sampled rows of C of |c - ref| / sum_k |a b| (0 = exact).
double bench_err_sgemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const float *a,
                       int64_t lda, const float *b, int64_t ldb, const float *c);
// conv: |y - ref| / sum |terms| over the first and last image (fwd: dst, bwd_data: diff_src)
// or over sampled diff_wei elements and every diff_bias element (bwd_weights).
double bench_err_conv(const mimic_conv2d *s, int pass, const float *src, const float *wei,
                      const float *bias, const float *dst, const float *ddst, const float *dsrc,
                      const float *dwei, const float *dbias);
// Row-wise ops on sampled rows: max |y - ref| / max |ref| of the row. op: 0 softmax (y), 1
// log_softmax (y), 2 ce_loss, 3 l2_loss, 4 kd_loss (y = the gradient).
double bench_err_rows(int op, const float *x, const float *t, const int32_t *labels,
                      int64_t rows, int64_t cols, float T, const float *y);

#endif
