// Portable softmax / loss row passes. Reductions keep 8 independent partial results so the
// compiler can vectorize them without reassociating (no -ffast-math needed).
#include <math.h>

#include "kernels/softmax/exp_scalar.h"
#include "kernels/softmax/softmax_kernels.h"

#define LANES 8

float mimic_row_max__scalar(const float *x, size_t n)
{
    float m[LANES];
    for (int l = 0; l < LANES; l++)
        m[l] = -INFINITY;
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++)
            m[l] = x[j + l] > m[l] ? x[j + l] : m[l];
    for (; j < n; j++)
        m[0] = x[j] > m[0] ? x[j] : m[0];
    float r = m[0];
    for (int l = 1; l < LANES; l++)
        r = m[l] > r ? m[l] : r;
    return r;
}

float mimic_exp_sum__scalar(const float *x, float *y, size_t n, float m, float inv_t)
{
    float acc[LANES] = {0.0f};
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            const float e = mimic_expf((x[j + l] - m) * inv_t);
            if (y)
                y[j + l] = e;
            acc[l] += e;
        }
    for (; j < n; j++) {
        const float e = mimic_expf((x[j] - m) * inv_t);
        if (y)
            y[j] = e;
        acc[0] += e;
    }
    float sum = 0.0f;
    for (int l = 0; l < LANES; l++)
        sum += acc[l];
    return sum;
}

void mimic_scale__scalar(float *y, size_t n, float s)
{
    for (size_t j = 0; j < n; j++)
        y[j] *= s;
}

void mimic_shift_scale__scalar(const float *x, float *y, size_t n, float m, float inv_t, float c)
{
    for (size_t j = 0; j < n; j++)
        y[j] = (x[j] - m) * inv_t - c;
}

float mimic_sq_diff__scalar(const float *s, const float *t, float *g, size_t n, float g_scale)
{
    float acc[LANES] = {0.0f};
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            const float d = s[j + l] - t[j + l];
            if (g)
                g[j + l] = d * g_scale;
            acc[l] += d * d;
        }
    for (; j < n; j++) {
        const float d = s[j] - t[j];
        if (g)
            g[j] = d * g_scale;
        acc[0] += d * d;
    }
    float sum = 0.0f;
    for (int l = 0; l < LANES; l++)
        sum += acc[l];
    return sum;
}

// One element of the KD row: adds p*(lt - ls) to *kl and returns the gradient.
static inline float kd_term(float s, float t, float ms, float lse_s, float mt, float lse_t,
                            float inv_t, float g_scale, float *kl)
{
    const float ls = (s - ms) * inv_t - lse_s;
    const float lt = (t - mt) * inv_t - lse_t;
    const float p = mimic_expf(lt);
    const float q = mimic_expf(ls);
    *kl += p > 0.0f ? p * (lt - ls) : 0.0f; // 0 * log 0 = 0 for masked teacher classes
    return (q - p) * g_scale;
}

float mimic_kd_row__scalar(const float *s, const float *t, float *g, size_t n, float ms,
                           float lse_s, float mt, float lse_t, float inv_t, float g_scale)
{
    float acc[LANES] = {0.0f};
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            const float gj =
                kd_term(s[j + l], t[j + l], ms, lse_s, mt, lse_t, inv_t, g_scale, &acc[l]);
            if (g)
                g[j + l] = gj;
        }
    for (; j < n; j++) {
        const float gj = kd_term(s[j], t[j], ms, lse_s, mt, lse_t, inv_t, g_scale, &acc[0]);
        if (g)
            g[j] = gj;
    }
    float sum = 0.0f;
    for (int l = 0; l < LANES; l++)
        sum += acc[l];
    return sum;
}
