// Shared argument checks and row-parallel policy of the softmax family.
#ifndef MIMIC_SOFTMAX_INTERNAL_H
#define MIMIC_SOFTMAX_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/kernels.h"
#include "arch/workspace.h"

// rows x cols is a valid, addressable shape.
static inline int mimic_rows_ok(int64_t rows, int64_t cols)
{
    return rows >= 0 && cols >= 0 &&
           (rows == 0 || cols <= (int64_t)(PTRDIFF_MAX / sizeof(float)) / rows);
}

// A temperature is valid when it is positive and finite.
static inline int mimic_temperature_ok(float T)
{
    return T > 0.0f && isfinite(T);
}

// Rows go to threads only when there is enough work to pay for the parallel region.
static inline int mimic_rows_parallel(int64_t rows, int64_t cols)
{
    return rows > 1 && (double)rows * (double)cols >= 32768.0;
}

// Short rows (cols <= the kernel's short_max) go to the kernel this many at a time.
#define MIMIC_SHORT_BLOCK 64

// The rows of one work item: short rows in blocks of MIMIC_SHORT_BLOCK, longer ones singly.
static inline int64_t mimic_block_rows(const mimic_softmax_kernels *k, int64_t cols)
{
    return (size_t)cols <= k->short_max ? MIMIC_SHORT_BLOCK : 1;
}

// Runs fn(ctx, i0, i1, tid) over [0, rows) in blocks of `block` rows, on the threads when
// mimic_rows_parallel says so and without an OpenMP team otherwise (starting one costs more
// than a small input). Each block's work does not depend on which thread runs it; tid (below
// mimic_threads_get()) picks the thread's part of a scratch. It is passed, not asked of
// OpenMP: a caller inside its own parallel region would get its own thread number.
typedef void (*mimic_block_fn)(const void *ctx, int64_t i0, int64_t i1, int tid);
void mimic_run_blocks(mimic_block_fn fn, const void *ctx, int64_t rows, int64_t cols,
                      int64_t block);

// Rows of at least this many elements take the online path (max, sum and the exps in one
// read); shorter rows stay in cache between passes and take three (max; exp and sum; scale).
// Chosen by measurement (docs/softmax.md; a build with -DMIMIC_ONLINE_MIN_COLS=N moves it).
#ifndef MIMIC_ONLINE_MIN_COLS
#define MIMIC_ONLINE_MIN_COLS 1024
#endif
// Log-softmax needs the statistics only (its output is (x - max)/T - log sum): the online
// pass saves a read from three quarters of that length on.
#ifndef MIMIC_LOG_ONLINE_MIN_COLS
#define MIMIC_LOG_ONLINE_MIN_COLS 768
#endif

// The online path walks a row in chunks of this many elements, each with its own reference,
// and merges their (max, sum) in chunk order. The chunks do not depend on the thread count, so
// a row split across threads (when there are fewer rows than threads) gives the same bits as
// one thread.
#define MIMIC_ROW_CHUNK 16384

typedef struct {
    float max, sum; // sum = sum_j exp((x[j] - max) * inv_t), as max_sum returns them
} mimic_row_stats;

// What the online pass leaves of one chunk: its statistics and, when it stored the exps, the
// reference they follow from `from` on.
typedef struct {
    mimic_row_stats st;
    float ref;
    size_t from;
} mimic_chunk;

static inline size_t mimic_chunk_count(size_t n)
{
    return (n + MIMIC_ROW_CHUNK - 1) / MIMIC_ROW_CHUNK;
}

// Scratch for a team of `threads`, `stride` bytes each (thread i at i * stride), from the
// calling thread's workspace: taken before any output is written. NULL if out of memory.
void *mimic_team_scratch(int threads, size_t stride);
// The scratch bytes one thread needs for a long row of n: its chunks and, when the output
// overwrites the input, the exps.
size_t mimic_scratch_bytes(size_t n, int in_place);
// Thread tid's chunks and exps in scratch (left alone when scratch is NULL).
void mimic_scratch_part(void *scratch, size_t stride, int tid, size_t n, mimic_chunk **chunks,
                        float **e);

// Merges the statistics of two parts of a row (neither max is NaN).
mimic_row_stats mimic_row_stats_merge(mimic_row_stats a, mimic_row_stats b, float inv_t);
// The statistics of a row from those of its chunks, merged in chunk order.
mimic_row_stats mimic_chunks_merge(const mimic_chunk *ch, size_t chunks, float inv_t);
// The max and sum of a row from the online pass, chunk by chunk, storing nothing.
mimic_row_stats mimic_row_stats_online(const mimic_softmax_kernels *k, const float *x, size_t n,
                                       float inv_t);
// The online pass over chunk c of the row x (n elements), storing its exps in e.
void mimic_chunk_pass(const mimic_softmax_kernels *k, const float *x, float *e, size_t n,
                      float inv_t, size_t c, mimic_chunk *out);
// y = softmax(x * inv_t) * s over chunk c, from its stored exps e and the row's statistics.
void mimic_chunk_output(const mimic_softmax_kernels *k, const float *x, const float *e, float *y,
                        size_t n, float inv_t, float s, size_t c, const mimic_chunk *ch,
                        mimic_row_stats row);
// softmax(x * inv_t) * s into y (if y != NULL) for a row longer than short_max, by three
// passes or, from MIMIC_ONLINE_MIN_COLS on, the online pass, which takes the scratch of
// mimic_scratch_part (needed only with y); returns the row's statistics.
mimic_row_stats mimic_softmax_row(const mimic_softmax_kernels *k, const float *x, float *y,
                                  size_t n, float inv_t, float s, mimic_chunk *chunks, float *e);

#endif
