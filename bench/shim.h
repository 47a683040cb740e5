// A small C API over Google Benchmark so that benchmarks can be written in C.
#ifndef MIMIC_BENCH_SHIM_H
#define MIMIC_BENCH_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mb_state mb_state; // one run of one benchmark (wraps benchmark::State)
typedef struct mb_bench mb_bench; // a registered benchmark (wraps benchmark::internal::Benchmark)
typedef void (*mb_fn)(mb_state *st);

// Counter flags: the values of benchmark::Counter::Flags, OR-able.
#define MB_COUNTER_DEFAULT 0u
#define MB_COUNTER_RATE 1u                // divide by the run's time: value per second
#define MB_COUNTER_AVG_THREADS 2u         // divide by the number of threads
#define MB_COUNTER_ITERATION_INVARIANT 4u // multiply by the number of iterations
#define MB_COUNTER_AVG_ITERATIONS 8u      // divide by the number of iterations
#define MB_COUNTER_INVERT 0x80000000u     // report 1/value (with RATE: seconds per unit)

typedef enum { MB_NS, MB_US, MB_MS, MB_S } mb_time_unit;

// Registration; the returned handle stays valid for the life of the program.
// ctx is handed back to fn through mb_context().
mb_bench *mb_register(const char *name, mb_fn fn, const void *ctx);
// Add one argument tuple (an Args list); call once per tuple. Returns b.
mb_bench *mb_args(mb_bench *b, size_t n, const int64_t *args);
mb_bench *mb_arg_names(mb_bench *b, size_t n, const char *const *names);
mb_bench *mb_use_real_time(mb_bench *b);
mb_bench *mb_unit(mb_bench *b, mb_time_unit unit);

// From C: MB_ARGS(b, 64, 64, 64) adds the tuple {64, 64, 64}.
#define MB_ARGS(b, ...)                                                                      \
    mb_args((b), sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t),                  \
            (const int64_t[]){__VA_ARGS__})

// Inside a benchmark function.
const void *mb_context(const mb_state *st);
// Replace the context that mb_context returns for the rest of this run (a wrapper that
// prepares the run hands the wrapped function its own context).
void mb_set_context(mb_state *st, const void *ctx);
int64_t mb_range(const mb_state *st, size_t i);
int mb_keep_running(mb_state *st); // the timing loop: while (mb_keep_running(st)) { ... }
int64_t mb_iterations(const mb_state *st);
void mb_counter(mb_state *st, const char *name, double value, unsigned flags);
void mb_set_items_processed(mb_state *st, int64_t items);
void mb_set_bytes_processed(mb_state *st, int64_t bytes);
void mb_set_label(mb_state *st, const char *label);
void mb_skip_with_error(mb_state *st, const char *msg);
void mb_pause_timing(mb_state *st);
void mb_resume_timing(mb_state *st);
void mb_do_not_optimize(const void *p);
void mb_clobber_memory(void);

// Context written into every report (console header and JSON "context"), added when
// mb_main runs; a --benchmark_context=key=value on the command line wins over it.
void mb_add_context(const char *key, const char *value);

// Run Google Benchmark's own command line (--benchmark_filter, --benchmark_out, ...).
// Returns 0, or 1 on an unrecognized argument.
int mb_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
