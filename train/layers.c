// Dense, ReLU and 2x2 max-pool layers: forward and backward on mimic's kernels.
#include <stdlib.h>
#include <string.h>

#include "train/layers.h"

// Elementwise passes run on the library's threads: on 2 threads a serial ReLU or pool
// left the second core spinning for a quarter of a teacher step. Each element is computed
// the same way whatever the split, so results do not depend on the thread count.
#define PAR_MIN_ELEMS (1 << 15)

mimic_status mimic_param_init(mimic_param *p, int64_t n)
{
    if (!p || n < 0)
        return MIMIC_EINVAL;
    const size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    p->w = calloc(1, bytes);
    p->g = calloc(1, bytes);
    p->v = calloc(1, bytes);
    p->n = n;
    p->lr_scale = 1.0f;
    if (!p->w || !p->g || !p->v) {
        mimic_param_free(p);
        return MIMIC_ENOMEM;
    }
    return MIMIC_OK;
}

void mimic_param_free(mimic_param *p)
{
    if (!p)
        return;
    free(p->w);
    free(p->g);
    free(p->v);
    memset(p, 0, sizeof *p);
}

mimic_status mimic_dense_init(mimic_dense *d, int64_t in, int64_t out, int has_bias)
{
    if (!d || in < 1 || out < 1)
        return MIMIC_EINVAL;
    memset(d, 0, sizeof *d);
    d->in = in;
    d->out = out;
    d->has_bias = has_bias != 0;
    mimic_status st = mimic_param_init(&d->weight, in * out);
    if (st == MIMIC_OK)
        st = mimic_param_init(&d->bias, d->has_bias ? out : 0);
    if (st != MIMIC_OK)
        mimic_dense_free(d);
    return st;
}

void mimic_dense_free(mimic_dense *d)
{
    if (!d)
        return;
    mimic_param_free(&d->weight);
    mimic_param_free(&d->bias);
}

mimic_status mimic_dense_forward(const mimic_dense *d, int64_t batch, const float *x, float *y)
{
    if (!d || batch < 0 || !x || !y)
        return MIMIC_EINVAL;
    // The bias goes into y first so the GEMM adds onto it (beta = 1) in the same pass.
    if (d->has_bias) {
#pragma omp parallel for num_threads(mimic_threads_get()) if (batch * d->out >= PAR_MIN_ELEMS) \
    schedule(static)
        for (int64_t i = 0; i < batch; i++)
            memcpy(y + i * d->out, d->bias.w, (size_t)d->out * sizeof(float));
    }
    return mimic_sgemm('N', 'T', batch, d->out, d->in, 1.0f, x, d->in, d->weight.w, d->in,
                       d->has_bias ? 1.0f : 0.0f, y, d->out);
}

mimic_status mimic_dense_backward(mimic_dense *d, int64_t batch, const float *x,
                                  const float *dy, float *dx)
{
    if (!d || batch < 0 || !x || !dy)
        return MIMIC_EINVAL;
    mimic_status st = mimic_sgemm('T', 'N', d->out, d->in, batch, 1.0f, dy, d->out, x, d->in,
                                  0.0f, d->weight.g, d->in);
    if (st != MIMIC_OK)
        return st;
    // The bias gradient row by row, so dy is read in order (a column walk strides by `out`
    // floats: one cache line per value on a 10k-wide layer).
    // Threads take column ranges; each column is summed over the rows in order.
    if (d->has_bias) {
        float *bg = d->bias.g;
        const int64_t out = d->out, chunk = 256, chunks = (out + chunk - 1) / chunk;
#pragma omp parallel for num_threads(mimic_threads_get()) if (batch * out >= PAR_MIN_ELEMS) \
    schedule(static)
        for (int64_t c = 0; c < chunks; c++) {
            const int64_t lo = c * chunk, hi = lo + chunk < out ? lo + chunk : out;
            for (int64_t o = lo; o < hi; o++)
                bg[o] = 0.0f;
            for (int64_t i = 0; i < batch; i++)
                for (int64_t o = lo; o < hi; o++)
                    bg[o] += dy[i * out + o];
        }
    }
    if (!dx)
        return MIMIC_OK;
    return mimic_sgemm('N', 'N', batch, d->in, d->out, 1.0f, dy, d->out, d->weight.w, d->in,
                       0.0f, dx, d->in);
}


void mimic_relu_forward(int64_t n, const float *x, float *y)
{
#pragma omp parallel for simd num_threads(mimic_threads_get()) if (n >= PAR_MIN_ELEMS) \
    schedule(static)
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void mimic_relu_backward(int64_t n, const float *y, const float *dy, float *dx)
{
#pragma omp parallel for simd num_threads(mimic_threads_get()) if (n >= PAR_MIN_ELEMS) \
    schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float g = dy[i]; // loaded unconditionally, so the select vectorizes
        dx[i] = y[i] > 0.0f ? g : 0.0f;
    }
}

static int pool_shape_ok(int64_t n, int64_t c, int64_t h, int64_t w)
{
    return n >= 0 && c >= 1 && h >= 2 && w >= 2 && h % 2 == 0 && w % 2 == 0;
}

// One output row of the pool: the maximum of each 2x2 window and which input won (the
// first maximum in the order top-left, top-right, bottom-left, bottom-right, as PyTorch).
// Written without branches so the compiler vectorizes it.
static void pool_row(int64_t wo, const float *restrict top, const float *restrict bot,
                     float *restrict y, uint8_t *restrict arg)
{
    for (int64_t j = 0; j < wo; j++) {
        const float a = top[2 * j], b = top[2 * j + 1], c = bot[2 * j], d = bot[2 * j + 1];
        const float m1 = b > a ? b : a, m2 = d > c ? d : c;
        const int k1 = b > a, k2 = 2 + (d > c);
        y[j] = m2 > m1 ? m2 : m1;
        arg[j] = (uint8_t)(m2 > m1 ? k2 : k1);
    }
}

mimic_status mimic_maxpool2_forward(int64_t n, int64_t c, int64_t h, int64_t w, const float *x,
                                    float *y, uint8_t *argmax)
{
    if (!pool_shape_ok(n, c, h, w) || (n > 0 && (!x || !y || !argmax)))
        return MIMIC_EINVAL;
    const int64_t ho = h / 2, wo = w / 2, rows = n * c * ho;
#pragma omp parallel for num_threads(mimic_threads_get()) if (rows * wo >= PAR_MIN_ELEMS / 4) \
    schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *top = x + (r / ho) * h * w + 2 * (r % ho) * w;
        pool_row(wo, top, top + w, y + r * wo, argmax + r * wo);
    }
    return MIMIC_OK;
}

// One row of windows: dy goes to each window's winner and 0 to its other three inputs, with
// `y` given only where y > 0 (the ReLU's backward folded in). All four inputs are written at
// once, with no data-dependent address, so the compiler vectorizes it.
static void unpool_row(int64_t wo, const uint8_t *restrict arg, const float *restrict dy,
                       const float *restrict y, float *restrict top, float *restrict bot)
{
    for (int64_t j = 0; j < wo; j++) {
        const float k = (float)arg[j]; // compared as a float: GCC vectorizes float selects
        const float d = dy[j], g = y[j] > 0.0f ? d : 0.0f;
        top[2 * j] = k == 0.0f ? g : 0.0f;
        top[2 * j + 1] = k == 1.0f ? g : 0.0f;
        bot[2 * j] = k == 2.0f ? g : 0.0f;
        bot[2 * j + 1] = k == 3.0f ? g : 0.0f;
    }
}

// dx of one pooled plane; `y` NULL: the plain pool's backward (as if y > 0 everywhere).
static void unpool_plane(int64_t h, int64_t w, const uint8_t *arg, const float *dy,
                         const float *y, float *dx)
{
    const int64_t ho = h / 2, wo = w / 2;
    float ones[64];
    for (int j = 0; j < 64; j++)
        ones[j] = 1.0f;
    for (int64_t i = 0; i < ho; i++) {
        float *top = dx + 2 * i * w;
        if (y || wo <= 64) {
            unpool_row(wo, arg + i * wo, dy + i * wo, y ? y + i * wo : ones, top, top + w);
            continue;
        }
        for (int64_t j0 = 0; j0 < wo; j0 += 64) { // a wide plane without y: 64 at a time
            const int64_t n = wo - j0 < 64 ? wo - j0 : 64;
            unpool_row(n, arg + i * wo + j0, dy + i * wo + j0, ones, top + 2 * j0,
                       top + w + 2 * j0);
        }
    }
}

static mimic_status pool_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                  const uint8_t *argmax, const float *dy, const float *y,
                                  float *dx)
{
    if (!pool_shape_ok(n, c, h, w) || (n > 0 && (!argmax || !dy || !dx)))
        return MIMIC_EINVAL;
    const int64_t planes = n * c, in = h * w, out = in / 4;
#pragma omp parallel for num_threads(mimic_threads_get()) if (planes * in >= PAR_MIN_ELEMS) \
    schedule(static)
    for (int64_t p = 0; p < planes; p++)
        unpool_plane(h, w, argmax + p * out, dy + p * out, y ? y + p * out : NULL, dx + p * in);
    return MIMIC_OK;
}

mimic_status mimic_maxpool2_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                     const uint8_t *argmax, const float *dy, float *dx)
{
    return pool_backward(n, c, h, w, argmax, dy, NULL, dx);
}

mimic_status mimic_relu_maxpool2_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                          const uint8_t *argmax, const float *y,
                                          const float *dy, float *dx)
{
    return y ? pool_backward(n, c, h, w, argmax, dy, y, dx) : MIMIC_EINVAL;
}
