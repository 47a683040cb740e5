// Cross-entropy, logit-L2 (Ba & Caruana) and KD (Hinton) losses with their gradients.
// Per-row losses are summed in row order in double, so the result does not depend on the
// thread count.
#include <stdlib.h>

#include "kernels/softmax/softmax_internal.h"

typedef struct {
    const mimic_softmax_kernels *k;
    const float *s, *t;    // student logits, teacher logits (NULL for ce)
    const int32_t *labels; // ce only
    float *grad;
    size_t cols;
    float inv_rows, T, inv_t;
} loss_args;

// Row i's contribution to the loss (before the mean), writing its gradient if asked.
typedef float (*loss_row_fn)(const loss_args *a, int64_t i);

static float ce_row(const loss_args *a, int64_t i)
{
    const float *x = a->s + i * (int64_t)a->cols;
    float *g = a->grad ? a->grad + i * (int64_t)a->cols : NULL;
    const int32_t label = a->labels[i];
    const float x_label = x[label]; // read before g (which may alias x) is written
    const float m = a->k->row_max(x, a->cols);
    const float sum = a->k->exp_sum(x, g, a->cols, m, 1.0f);
    if (g) {
        a->k->scale(g, a->cols, a->inv_rows / sum);
        g[label] -= a->inv_rows;
    }
    return logf(sum) - (x_label - m);
}

static float l2_row(const loss_args *a, int64_t i)
{
    const int64_t off = i * (int64_t)a->cols;
    return 0.5f * a->k->sq_diff(a->s + off, a->t + off, a->grad ? a->grad + off : NULL,
                                a->cols, a->inv_rows);
}

static float kd_row(const loss_args *a, int64_t i)
{
    const int64_t off = i * (int64_t)a->cols;
    const float *s = a->s + off, *t = a->t + off;
    const float ms = a->k->row_max(s, a->cols);
    const float mt = a->k->row_max(t, a->cols);
    const float lse_s = logf(a->k->exp_sum(s, NULL, a->cols, ms, a->inv_t));
    const float lse_t = logf(a->k->exp_sum(t, NULL, a->cols, mt, a->inv_t));
    // d(T^2 KL)/ds = T^2 * (q - p) / T, per row, then the mean over rows.
    return a->T * a->T *
           a->k->kd_row(s, t, a->grad ? a->grad + off : NULL, a->cols, ms, lse_s, mt, lse_t,
                        a->inv_t, a->T * a->inv_rows);
}

static mimic_status run_loss(loss_row_fn row, const loss_args *a, int64_t rows, float *loss)
{
    double *partial = malloc((size_t)rows * sizeof *partial);
    if (!partial)
        return MIMIC_ENOMEM;
#pragma omp parallel for schedule(static) num_threads(mimic_threads_get())                    \
    if (mimic_rows_parallel(rows, (int64_t)a->cols))
    for (int64_t i = 0; i < rows; i++)
        partial[i] = row(a, i);
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

static loss_args make_args(const float *s, const float *t, int64_t rows, int64_t cols,
                           float *grad)
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

mimic_status mimic_ce_loss(const float *logits, const int32_t *labels, int64_t rows,
                           int64_t cols, float *loss, float *grad)
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
    return run_loss(ce_row, &a, rows, loss);
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
    return run_loss(l2_row, &a, rows, loss);
}

mimic_status mimic_kd_loss(const float *student, const float *teacher, int64_t rows,
                           int64_t cols, float T, float *loss, float *grad)
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
    return run_loss(kd_row, &a, rows, loss);
}
