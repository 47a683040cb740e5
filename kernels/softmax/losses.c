// Cross-entropy, logit-L2 (Ba & Caruana) and KD (Hinton) losses with their gradients.
// Per-row losses are summed in row order in double, so the result does not depend on the
// thread count.
#include <stdlib.h>

#include "arch/profile.h"
#include "kernels/softmax/exp_scalar.h"
#include "kernels/softmax/softmax_internal.h"

typedef struct {
    const mimic_softmax_kernels *k;
    const float *s, *t;    // student logits, teacher logits (NULL for ce)
    const int32_t *labels; // ce only
    float *grad;
    size_t cols;
    float inv_rows, T, inv_t;
    void *scratch; // per thread, scratch_stride bytes apart: ce's chunks, kd's exps
    size_t scratch_stride;
} loss_args;

// Rows [i0, i1) of a loss: partial[i] = row i's contribution to the loss (before the mean),
// and its gradient if asked.
typedef struct {
    const loss_args *a;
    double *partial;
} loss_ctx;

// Cross-entropy: softmax's passes with the gradient as their output (scaled by 1/rows), so
// the row is read no more often than softmax reads it. The path depends on the row length
// only, so the loss has the same bits with and without grad.
static void ce_block(const void *ctx, int64_t i0, int64_t i1, int tid)
{
    const loss_args *a = ((const loss_ctx *)ctx)->a;
    double *partial = ((const loss_ctx *)ctx)->partial;
    const mimic_softmax_kernels *k = a->k;
    const size_t n = a->cols, rows = (size_t)(i1 - i0);
    const float *x = a->s + i0 * (int64_t)n;
    float *g = a->grad ? a->grad + i0 * (int64_t)n : NULL;
    const int32_t *labels = a->labels + i0;
    float x_label[MIMIC_SHORT_BLOCK], max[MIMIC_SHORT_BLOCK], sum[MIMIC_SHORT_BLOCK];
    for (size_t i = 0; i < rows; i++) // read before g (which may alias x) is written
        x_label[i] = x[i * n + (size_t)labels[i]];
    if (n <= k->short_max) {
        k->short_rows(x, g, rows, n, 1.0f, a->inv_rows, max, sum);
    } else {
        mimic_chunk *chunks = NULL;
        float *e = NULL;
        mimic_scratch_part(a->scratch, a->scratch_stride, tid, n, &chunks, &e);
        const mimic_row_stats st = mimic_softmax_row(k, x, g, n, 1.0f, a->inv_rows, chunks, e);
        max[0] = st.max, sum[0] = st.sum; // one row per block
    }
    for (size_t i = 0; i < rows; i++) {
        if (g)
            g[i * n + (size_t)labels[i]] -= a->inv_rows;
        partial[i0 + (int64_t)i] = logf(sum[i]) - (x_label[i] - max[i]);
    }
}

static void l2_block(const void *ctx, int64_t i0, int64_t i1, int tid)
{
    (void)tid;
    const loss_args *a = ((const loss_ctx *)ctx)->a;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t off = i * (int64_t)a->cols;
        ((const loss_ctx *)ctx)->partial[i] =
            0.5f * a->k->sq_diff(a->s + off, a->t + off, a->grad ? a->grad + off : NULL, a->cols,
                                 a->inv_rows);
    }
}

// KD on a row of MIMIC_ONLINE_MIN_COLS to the kernel's kd_store_max columns: the online pass
// of student and teacher stores their exps (eq, ep: this thread's scratch, after its chunks),
// chunk by chunk against each chunk's reference, so kd_row needs no exp: p = ep * e^((ref_t -
// mt)/T) / St from where the chunk's last reference move left off (`from`), and q the same way.
// The few entries before `from` (stored against an older reference) go through kd_row's
// recomputing form. Returns the row's KL (without T^2); the chunks and their sums are in
// chunk order, so the bits do not depend on the thread count.
static float kd_row_stored(const loss_args *a, const float *s, const float *t, float *g,
                           void *part)
{
    const mimic_softmax_kernels *k = a->k;
    const size_t n = a->cols, count = mimic_chunk_count(n);
    mimic_chunk *chs = part, *cht = chs + count;
    float *eq = (float *)(cht + count), *ep = eq + n;
    for (size_t c = 0; c < count; c++) {
        mimic_chunk_pass(k, s, eq, n, a->inv_t, c, &chs[c]);
        mimic_chunk_pass(k, t, ep, n, a->inv_t, c, &cht[c]);
    }
    const mimic_row_stats rs = mimic_chunks_merge(chs, count, a->inv_t);
    const mimic_row_stats rt = mimic_chunks_merge(cht, count, a->inv_t);
    mimic_kd_row_args ra = {.ms = rs.max,
                            .lse_s = logf(rs.sum),
                            .mt = rt.max,
                            .lse_t = logf(rt.sum),
                            .inv_t = a->inv_t,
                            .g_scale = a->T * a->inv_rows};
    float kl = 0.0f;
    for (size_t c = 0; c < count; c++) {
        const size_t j = c * MIMIC_ROW_CHUNK;
        const size_t len = n - j < MIMIC_ROW_CHUNK ? n - j : MIMIC_ROW_CHUNK;
        size_t from = chs[c].from > cht[c].from ? chs[c].from : cht[c].from;
        from = from < len ? from : len;
        if (from > 0)
            kl += k->kd_row(s + j, t + j, NULL, NULL, g ? g + j : NULL, from, &ra);
        if (from < len) {
            ra.p_scale = mimic_expf((cht[c].ref - rt.max) * a->inv_t) / rt.sum;
            ra.q_scale = mimic_expf((chs[c].ref - rs.max) * a->inv_t) / rs.sum;
            kl += k->kd_row(s + j + from, t + j + from, ep + j + from, eq + j + from,
                            g ? g + j + from : NULL, len - from, &ra);
        }
    }
    return kl;
}

// KD on a block of short rows: the kernel's kd_rows (softmax at T of student and teacher,
// then the KL and its gradient; the scratch holds the exps where it keeps them).
static void kd_short_block(const loss_args *a, const float *s, const float *t, float *scratch,
                           float *g, size_t rows, double *partial)
{
    float kl[MIMIC_SHORT_BLOCK];
    // d(T^2 KL)/ds = T^2 * (q - p) / T, per row, then the mean over rows.
    a->k->kd_rows(s, t, scratch, g, rows, a->cols, a->inv_t, a->T * a->inv_rows, kl);
    for (size_t i = 0; i < rows; i++)
        partial[i] = a->T * a->T * kl[i];
}

// KD on rows shorter than MIMIC_ONLINE_MIN_COLS: the exps of teacher and student at T go to
// this thread's part of the scratch in the pass that sums them (normalized on the short path:
// kd_short_block), so kd_row computes no exp. Rows up to the kernel's kd_store_max:
// kd_row_stored. Longer rows take the online max and sum, and kd_row recomputes both exps.
static void kd_block(const void *ctx, int64_t i0, int64_t i1, int tid)
{
    const loss_args *a = ((const loss_ctx *)ctx)->a;
    const mimic_softmax_kernels *k = a->k;
    const size_t n = a->cols, rows = (size_t)(i1 - i0);
    const float *s = a->s + i0 * (int64_t)n, *t = a->t + i0 * (int64_t)n;
    float *g = a->grad ? a->grad + i0 * (int64_t)n : NULL;
    void *part = a->scratch ? (char *)a->scratch + (size_t)tid * a->scratch_stride : NULL;
    if (part && (int64_t)n >= MIMIC_ONLINE_MIN_COLS) { // one row per block
        ((const loss_ctx *)ctx)->partial[i0] = a->T * a->T * kd_row_stored(a, s, t, g, part);
        return;
    }
    float *ep = part;
    if (n <= k->short_max) {
        kd_short_block(a, s, t, ep, g, rows, ((const loss_ctx *)ctx)->partial + i0);
        return;
    }
    // One row per block from here on.
    float *eq = ep ? ep + n : NULL;
    float ms, ss, mt, st;
    if (ep) {
        ms = k->row_max(s, n), mt = k->row_max(t, n);
        ss = k->exp_sum(s, eq, n, ms, a->inv_t);
        st = k->exp_sum(t, ep, n, mt, a->inv_t);
    } else {
        const mimic_row_stats rs = mimic_row_stats_online(k, s, n, a->inv_t);
        const mimic_row_stats rt = mimic_row_stats_online(k, t, n, a->inv_t);
        ms = rs.max, ss = rs.sum, mt = rt.max, st = rt.sum;
    }
    // d(T^2 KL)/ds = T^2 * (q - p) / T, per row, then the mean over rows.
    const mimic_kd_row_args ra = {.ms = ms,
                                  .lse_s = logf(ss),
                                  .mt = mt,
                                  .lse_t = logf(st),
                                  .inv_t = a->inv_t,
                                  .g_scale = a->T * a->inv_rows,
                                  .p_scale = 1.0f / st,
                                  .q_scale = 1.0f / ss};
    const float kl = k->kd_row(s, t, ep, eq, g, n, &ra);
    ((const loss_ctx *)ctx)->partial[i0] = a->T * a->T * kl;
}

static mimic_status run_loss(mimic_block_fn block, const loss_args *a, int64_t rows,
                             int64_t block_rows, float *loss)
{
    double *partial = malloc((size_t)rows * sizeof *partial);
    if (!partial)
        return MIMIC_ENOMEM;
    const loss_ctx ctx = {a, partial};
    const mimic_prof_call pc = mimic_prof_begin();
    mimic_run_blocks(block, &ctx, rows, (int64_t)a->cols, block_rows);
    mimic_prof_end(&pc, MIMIC_PROF_SOFTMAX, 0.0);
    double sum = 0.0;
    for (int64_t i = 0; i < rows; i++)
        sum += partial[i];
    free(partial);
    *loss = (float)(sum / (double)rows);
    return MIMIC_OK;
}

static mimic_status loss_check(const float *s, const float *t, int64_t rows, int64_t cols,
                               const float *loss)
{
    if (!loss || !mimic_rows_ok(rows, cols))
        return MIMIC_EINVAL;
    if (rows > 0 && cols > 0 && (!s || !t))
        return MIMIC_EINVAL;
    return MIMIC_OK;
}

static loss_args make_args(const float *s, const float *t, int64_t rows, int64_t cols, float *grad)
{
    loss_args a = {.k = &mimic_kernels_active()->softmax,
                   .s = s,
                   .t = t,
                   .grad = grad,
                   .cols = (size_t)cols,
                   .inv_rows = rows > 0 ? 1.0f / (float)rows : 0.0f,
                   .T = 1.0f,
                   .inv_t = 1.0f};
    return a;
}

mimic_status mimic_ce_loss(const float *logits, const int32_t *labels, int64_t rows, int64_t cols,
                           float *loss, float *grad)
{
    if (loss_check(logits, logits, rows, cols, loss) != MIMIC_OK)
        return MIMIC_EINVAL;
    if (rows > 0 && (!labels || cols == 0))
        return MIMIC_EINVAL;
    for (int64_t i = 0; i < rows; i++)
        if (labels[i] < 0 || labels[i] >= cols)
            return MIMIC_EINVAL;
    if (rows == 0) {
        *loss = 0.0f;
        return MIMIC_OK;
    }
    loss_args a = make_args(logits, NULL, rows, cols, grad);
    a.labels = labels;
    if (grad && cols >= MIMIC_ONLINE_MIN_COLS) { // the online path's chunks, before any output
        a.scratch_stride = mimic_scratch_bytes((size_t)cols, grad == logits);
        a.scratch = mimic_team_scratch(mimic_threads_get(), a.scratch_stride);
        if (!a.scratch)
            return MIMIC_ENOMEM;
    }
    return run_loss(ce_block, &a, rows, mimic_block_rows(a.k, cols), loss);
}

mimic_status mimic_logit_l2_loss(const float *student, const float *teacher, int64_t rows,
                                 int64_t cols, float *loss, float *grad)
{
    if (loss_check(student, teacher, rows, cols, loss) != MIMIC_OK)
        return MIMIC_EINVAL;
    if (rows == 0 || cols == 0) {
        *loss = 0.0f;
        return MIMIC_OK;
    }
    const loss_args a = make_args(student, teacher, rows, cols, grad);
    return run_loss(l2_block, &a, rows, mimic_block_rows(a.k, cols), loss);
}

mimic_status mimic_kd_loss(const float *student, const float *teacher, int64_t rows, int64_t cols,
                           float T, float *loss, float *grad)
{
    if (!mimic_temperature_ok(T) || loss_check(student, teacher, rows, cols, loss) != MIMIC_OK)
        return MIMIC_EINVAL;
    if (rows == 0 || cols == 0) {
        *loss = 0.0f;
        return MIMIC_OK;
    }
    loss_args a = make_args(student, teacher, rows, cols, grad);
    a.T = T;
    a.inv_t = 1.0f / T;
    const int64_t block = mimic_block_rows(a.k, cols);
    if (cols < MIMIC_ONLINE_MIN_COLS) {
        a.scratch_stride = 2 * (size_t)(block < rows ? block : rows) * (size_t)cols * sizeof(float);
        a.scratch = mimic_team_scratch(mimic_threads_get(), a.scratch_stride);
        if (!a.scratch)
            return MIMIC_ENOMEM;
    } else if ((size_t)cols <= a.k->kd_store_max) { // kd_row_stored: both rows' chunks and exps
        a.scratch_stride = (2 * mimic_chunk_count((size_t)cols) * sizeof(mimic_chunk) +
                            2 * (size_t)cols * sizeof(float) + 63) / 64 * 64;
        a.scratch = mimic_team_scratch(mimic_threads_get(), a.scratch_stride);
        if (!a.scratch)
            return MIMIC_ENOMEM;
    }
    return run_loss(kd_block, &a, rows, block, loss);
}
