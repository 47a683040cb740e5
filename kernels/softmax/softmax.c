// mimic_softmax / mimic_log_softmax: argument checks, then three passes per row.
#include "arch/workspace.h"
#include "kernels/softmax/softmax_internal.h"

static mimic_status softmax_check(const float *x, const float *y, int64_t rows, int64_t cols,
                                  float T)
{
    if (!mimic_temperature_ok(T) || !mimic_rows_ok(rows, cols))
        return MIMIC_EINVAL;
    if (rows > 0 && cols > 0 && (!x || !y))
        return MIMIC_EINVAL;
    return MIMIC_OK;
}

mimic_status mimic_softmax(const float *x, float *y, int64_t rows, int64_t cols, float T)
{
    if (softmax_check(x, y, rows, cols, T) != MIMIC_OK)
        return MIMIC_EINVAL;
    if (rows == 0 || cols == 0)
        return MIMIC_OK;
    const mimic_softmax_kernels *k = &mimic_kernels_active()->softmax;
    const float inv_t = 1.0f / T;
    const size_t n = (size_t)cols;
#pragma omp parallel for schedule(static) num_threads(mimic_threads_get())                    \
    if (mimic_rows_parallel(rows, cols))
    for (int64_t i = 0; i < rows; i++) {
        const float *xi = x + i * cols;
        float *yi = y + i * cols;
        const float m = k->row_max(xi, n);
        const float sum = k->exp_sum(xi, yi, n, m, inv_t);
        k->scale(yi, n, 1.0f / sum);
    }
    return MIMIC_OK;
}

mimic_status mimic_log_softmax(const float *x, float *y, int64_t rows, int64_t cols, float T)
{
    if (softmax_check(x, y, rows, cols, T) != MIMIC_OK)
        return MIMIC_EINVAL;
    if (rows == 0 || cols == 0)
        return MIMIC_OK;
    const mimic_softmax_kernels *k = &mimic_kernels_active()->softmax;
    const float inv_t = 1.0f / T;
    const size_t n = (size_t)cols;
#pragma omp parallel for schedule(static) num_threads(mimic_threads_get())                    \
    if (mimic_rows_parallel(rows, cols))
    for (int64_t i = 0; i < rows; i++) {
        const float *xi = x + i * cols;
        const float m = k->row_max(xi, n);
        const float lse = logf(k->exp_sum(xi, NULL, n, m, inv_t));
        k->shift_scale(xi, y + i * cols, n, m, inv_t, lse);
    }
    return MIMIC_OK;
}
