// mimic_softmax / mimic_log_softmax: argument checks, then the row passes of the active ISA by
// row length: short rows in registers, three passes on rows that stay in cache, the online
// pass (max, sum and exps in one read) and one rescaling pass on long rows.
#include <omp.h>

#include "kernels/softmax/exp_scalar.h"
#include "arch/profile.h"
#include "kernels/softmax/softmax_internal.h"

mimic_row_stats mimic_row_stats_merge(mimic_row_stats a, mimic_row_stats b, float inv_t)
{
    const float m = a.max > b.max ? a.max : b.max;
    // The part that holds the max keeps its sum as is (also when both are -inf or +inf).
    const float fa = a.max == m ? 1.0f : mimic_expf((a.max - m) * inv_t);
    const float fb = b.max == m ? 1.0f : mimic_expf((b.max - m) * inv_t);
    return (mimic_row_stats){m, a.sum * fa + b.sum * fb};
}

// The length of chunk c of a row of n.
static size_t chunk_len(size_t n, size_t c)
{
    const size_t j = c * MIMIC_ROW_CHUNK;
    return n - j < MIMIC_ROW_CHUNK ? n - j : MIMIC_ROW_CHUNK;
}

mimic_row_stats mimic_row_stats_online(const mimic_softmax_kernels *k, const float *x, size_t n,
                                       float inv_t)
{
    mimic_row_stats st;
    st.max = k->max_sum(x, NULL, chunk_len(n, 0), inv_t, &st.sum, NULL, NULL);
    for (size_t c = 1; c < mimic_chunk_count(n); c++) {
        mimic_row_stats cs;
        cs.max =
            k->max_sum(x + c * MIMIC_ROW_CHUNK, NULL, chunk_len(n, c), inv_t, &cs.sum, NULL, NULL);
        st = mimic_row_stats_merge(st, cs, inv_t);
    }
    return st;
}

void *mimic_team_scratch(int threads, size_t stride)
{
    const size_t bytes = (size_t)threads * stride;
    return mimic_workspace(MIMIC_WS_SOFTMAX, (bytes + sizeof(float) - 1) / sizeof(float));
}

size_t mimic_scratch_bytes(size_t n, int in_place)
{
    const size_t bytes =
        mimic_chunk_count(n) * sizeof(mimic_chunk) + (in_place ? n * sizeof(float) : 0);
    return (bytes + 63) / 64 * 64; // every thread's part aligned for its chunks
}

void mimic_scratch_part(void *scratch, size_t stride, int tid, size_t n, mimic_chunk **chunks,
                        float **e)
{
    if (!scratch)
        return;
    char *part = (char *)scratch + (size_t)tid * stride;
    *chunks = (mimic_chunk *)part;
    *e = (float *)(part + mimic_chunk_count(n) * sizeof(mimic_chunk));
}

void mimic_chunk_pass(const mimic_softmax_kernels *k, const float *x, float *e, size_t n,
                      float inv_t, size_t c, mimic_chunk *out)
{
    const size_t j = c * MIMIC_ROW_CHUNK;
    out->st.max =
        k->max_sum(x + j, e + j, chunk_len(n, c), inv_t, &out->st.sum, &out->ref, &out->from);
}

// Every thread merges in chunk order, so the row's statistics have the bits of one thread.
mimic_row_stats mimic_chunks_merge(const mimic_chunk *ch, size_t chunks, float inv_t)
{
    mimic_row_stats st = ch[0].st;
    for (size_t c = 1; c < chunks; c++)
        st = mimic_row_stats_merge(st, ch[c].st, inv_t);
    return st;
}

// The stored exps from `from` on need one factor; the few before it (stored against an older
// reference) are recomputed from x. An all -inf row has row = {-inf, 0}: x - max = NaN in the
// recomputed part, 0 * inf in the scaled part make it NaN; a NaN sum does the same.
void mimic_chunk_output(const mimic_softmax_kernels *k, const float *x, const float *e, float *y,
                        size_t n, float inv_t, float s, size_t c, const mimic_chunk *ch,
                        mimic_row_stats row)
{
    const size_t j = c * MIMIC_ROW_CHUNK, len = chunk_len(n, c), from = ch->from;
    const float scale = s / row.sum;
    if (from > 0)
        k->exp_scale(x + j, y + j, from, row.max, inv_t, scale);
    if (from < len)
        k->scale(e + j + from, y + j + from, len - from,
                 mimic_expf((ch->ref - row.max) * inv_t) * scale);
}

mimic_row_stats mimic_softmax_row(const mimic_softmax_kernels *k, const float *x, float *y,
                                  size_t n, float inv_t, float s, mimic_chunk *chunks, float *e)
{
    mimic_row_stats st;
    if ((int64_t)n < MIMIC_ONLINE_MIN_COLS) {
        st.max = k->row_max(x, n);
        st.sum = k->exp_sum(x, y, n, st.max, inv_t);
        if (y)
            k->scale(y, y, n, s / st.sum);
        return st;
    }
    if (!y)
        return mimic_row_stats_online(k, x, n, inv_t);
    const size_t count = mimic_chunk_count(n);
    e = y == x ? e : y; // in place, x must outlive the online pass: the exps go to e
    for (size_t c = 0; c < count; c++)
        mimic_chunk_pass(k, x, e, n, inv_t, c, &chunks[c]);
    st = mimic_chunks_merge(chunks, count, inv_t);
    for (size_t c = 0; c < count; c++)
        mimic_chunk_output(k, x, e, y, n, inv_t, s, c, &chunks[c], st);
    return st;
}

typedef struct {
    const mimic_softmax_kernels *k;
    const float *x;
    float *y;
    size_t cols;
    float inv_t;
    int log;       // log_softmax
    void *scratch; // long rows: mimic_scratch_bytes per thread (the split: one set)
    size_t scratch_stride;
} sm_args;

void mimic_run_blocks(mimic_block_fn fn, const void *ctx, int64_t rows, int64_t cols, int64_t block)
{
    const int64_t blocks = (rows + block - 1) / block;
    const int threads = mimic_threads_get();
    if (threads <= 1 || !mimic_rows_parallel(rows, cols)) {
        for (int64_t b = 0; b < blocks; b++)
            fn(ctx, b * block, b + 1 < blocks ? (b + 1) * block : rows, 0);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t b = 0; b < blocks; b++)
        fn(ctx, b * block, b + 1 < blocks ? (b + 1) * block : rows, omp_get_thread_num());
}

// Rows [i0, i1): short ones through the kernel's rows loop, the others one by one.
static void sm_block(const void *ctx, int64_t i0, int64_t i1, int tid)
{
    const sm_args *a = ctx;
    const mimic_softmax_kernels *k = a->k;
    const size_t n = a->cols, rows = (size_t)(i1 - i0);
    const float *x = a->x + i0 * (int64_t)n;
    float *y = a->y + i0 * (int64_t)n;
    if (n <= k->short_max && !a->log) {
        k->short_rows(x, y, rows, n, a->inv_t, 1.0f, NULL, NULL);
        return;
    }
    float max[MIMIC_SHORT_BLOCK], sum[MIMIC_SHORT_BLOCK];
    if (n <= k->short_max)
        k->short_rows(x, NULL, rows, n, a->inv_t, 1.0f, max, sum);
    mimic_chunk *chunks = NULL;
    float *e = NULL;
    mimic_scratch_part(a->scratch, a->scratch_stride, tid, n, &chunks, &e);
    for (size_t i = 0; i < rows; i++) {
        const float *xi = x + i * n;
        float *yi = y + i * n;
        if (!a->log) {
            (void)mimic_softmax_row(k, xi, yi, n, a->inv_t, 1.0f, chunks, e);
            continue;
        }
        if (n > k->short_max) {
            const mimic_row_stats st =
                (int64_t)n >= MIMIC_LOG_ONLINE_MIN_COLS
                    ? mimic_row_stats_online(k, xi, n, a->inv_t)
                    : mimic_softmax_row(k, xi, NULL, n, a->inv_t, 1.0f, NULL, NULL);
            max[i] = st.max, sum[i] = st.sum;
        }
        k->shift_scale(xi, yi, n, max[i], a->inv_t, logf(sum[i]));
    }
}

// Fewer long rows than threads: each row's chunks go to the threads, first for the online pass,
// then for the output. Every thread merges the chunks in chunk order, so the bits are those of
// one thread.
static void sm_split_rows(const sm_args *a, int64_t rows, int threads)
{
    const mimic_softmax_kernels *k = a->k;
    const size_t n = a->cols, count = mimic_chunk_count(n);
    mimic_chunk *ch = NULL;
    float *e = NULL;
    mimic_scratch_part(a->scratch, 0, 0, n, &ch, &e); // one set, shared by the team
#pragma omp parallel num_threads(threads)
    for (int64_t i = 0; i < rows; i++) {
        const float *x = a->x + i * (int64_t)n;
        float *y = a->y + i * (int64_t)n, *ei = x == y ? e : y;
#pragma omp for schedule(static)
        for (size_t c = 0; c < count; c++) {
            if (a->log)
                ch[c].st.max = k->max_sum(x + c * MIMIC_ROW_CHUNK, NULL, chunk_len(n, c), a->inv_t,
                                          &ch[c].st.sum, NULL, NULL);
            else
                mimic_chunk_pass(k, x, ei, n, a->inv_t, c, &ch[c]);
        }
        const mimic_row_stats st = mimic_chunks_merge(ch, count, a->inv_t);
        const float lse = logf(st.sum);
#pragma omp for schedule(static)
        for (size_t c = 0; c < count; c++) {
            const size_t j = c * MIMIC_ROW_CHUNK;
            if (a->log)
                k->shift_scale(x + j, y + j, chunk_len(n, c), st.max, a->inv_t, lse);
            else
                mimic_chunk_output(k, x, ei, y, n, a->inv_t, 1.0f, c, &ch[c], st);
        }
    }
}

static mimic_status sm_run(const float *x, float *y, int64_t rows, int64_t cols, float T, int log)
{
    if (!mimic_temperature_ok(T) || !mimic_rows_ok(rows, cols))
        return MIMIC_EINVAL;
    if (rows == 0 || cols == 0)
        return MIMIC_OK;
    if (!x || !y)
        return MIMIC_EINVAL;
    sm_args a = {&mimic_kernels_active()->softmax, x, y, (size_t)cols, 1.0f / T, log, NULL, 0};
    const int threads = mimic_threads_get();
    // Only rows on the online path split, so one thread takes the same path.
    const int split = threads > 1 && rows < threads && cols >= MIMIC_ONLINE_MIN_COLS &&
                      cols >= 2 * MIMIC_ROW_CHUNK;
    if (split || (!log && cols >= MIMIC_ONLINE_MIN_COLS)) {
        a.scratch_stride = mimic_scratch_bytes((size_t)cols, x == y);
        a.scratch = mimic_team_scratch(split ? 1 : threads, a.scratch_stride);
        if (!a.scratch)
            return MIMIC_ENOMEM;
    }
    const mimic_prof_call pc = mimic_prof_begin();
    if (split)
        sm_split_rows(&a, rows, threads);
    else
        mimic_run_blocks(sm_block, &a, rows, cols, mimic_block_rows(a.k, cols));
    mimic_prof_end(&pc, MIMIC_PROF_SOFTMAX, 0.0);
    return MIMIC_OK;
}

mimic_status mimic_softmax(const float *x, float *y, int64_t rows, int64_t cols, float T)
{
    return sm_run(x, y, rows, cols, T, 0);
}

mimic_status mimic_log_softmax(const float *x, float *y, int64_t rows, int64_t cols, float T)
{
    return sm_run(x, y, rows, cols, T, 1);
}
