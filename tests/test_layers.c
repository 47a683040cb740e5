// The trainer's layers: forward against a naive double computation, backward against finite
// differences of L = sum(y * g) for a random g (so dL/dy = g), on every ISA.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "train/layers.h"

// L = sum_i y_i g_i in double.
static double dot(const float *y, const float *g, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)y[i] * g[i];
    return s;
}

static double dense_loss(const mimic_dense *d, int64_t batch, const float *x, const float *g,
                         float *y)
{
    TC_STATUS(mimic_dense_forward(d, batch, x, y), MIMIC_OK);
    return dot(y, g, batch * d->out);
}

// Central difference of the dense layer's L with respect to *v (a weight, bias or input).
// L is linear in each of them, so a large step is exact up to rounding.
static double dense_fd(const mimic_dense *d, int64_t batch, const float *x, const float *g,
                       float *y, float *v)
{
    const float keep = *v, h = 0.5f;
    *v = keep + h;
    const double lp = dense_loss(d, batch, x, g, y);
    *v = keep - h;
    const double lm = dense_loss(d, batch, x, g, y);
    *v = keep;
    return (lp - lm) / (2.0 * h);
}

static void check_dense(int64_t batch, int64_t in, int64_t out, int has_bias, uint64_t seed)
{
    tc_rng r = tc_rng_seed(seed);
    mimic_dense d;
    TC_STATUS(mimic_dense_init(&d, in, out, has_bias), MIMIC_OK);
    tc_fill_uniform(&r, d.weight.w, (size_t)(in * out), -1.0f, 1.0f);
    if (has_bias)
        tc_fill_uniform(&r, d.bias.w, (size_t)out, -1.0f, 1.0f);
    float *x = tc_alloc((size_t)(batch * in)), *y = tc_alloc((size_t)(batch * out));
    float *g = tc_alloc((size_t)(batch * out)), *dx = tc_alloc((size_t)(batch * in));
    tc_fill_uniform(&r, x, (size_t)(batch * in), -1.0f, 1.0f);
    tc_fill_uniform(&r, g, (size_t)(batch * out), -1.0f, 1.0f);
    TC_FOR_EACH_ISA(isa) {
        tc_ctx("dense batch=%lld in=%lld out=%lld bias=%d", (long long)batch, (long long)in,
               (long long)out, has_bias);
        TC_STATUS(mimic_dense_forward(&d, batch, x, y), MIMIC_OK);
        for (int64_t i = 0; i < batch; i++)
            for (int64_t o = 0; o < out; o++) {
                double want = has_bias ? d.bias.w[o] : 0.0, mag = fabs(want);
                for (int64_t k = 0; k < in; k++) {
                    want += (double)x[i * in + k] * d.weight.w[o * in + k];
                    mag += fabs((double)x[i * in + k] * d.weight.w[o * in + k]);
                }
                tc_check_near1("dense forward", y[i * out + o], want,
                               (double)(in + 3) * FLT_EPSILON * mag);
            }
        TC_STATUS(mimic_dense_backward(&d, batch, x, g, dx), MIMIC_OK);
        // Each gradient entry is a sum of `batch` (or `out`) products of values in [-1, 1];
        // the finite difference carries the rounding of L (~ batch*out*eps).
        const double tol = 1e-5 * (double)(batch * out + in);
        for (int64_t k = 0; k < in * out; k += 1 + in * out / 17)
            tc_check_near1("dW vs finite difference", d.weight.g[k],
                           dense_fd(&d, batch, x, g, y, &d.weight.w[k]), tol);
        for (int64_t o = 0; has_bias && o < out; o++)
            tc_check_near1("db vs finite difference", d.bias.g[o],
                           dense_fd(&d, batch, x, g, y, &d.bias.w[o]), tol);
        for (int64_t k = 0; k < batch * in; k += 1 + batch * in / 13)
            tc_check_near1("dx vs finite difference", dx[k], dense_fd(&d, batch, x, g, y, &x[k]),
                           tol);
    }
    free(x);
    free(y);
    free(g);
    free(dx);
    mimic_dense_free(&d);
}

static void test_dense(void **state)
{
    (void)state;
    check_dense(1, 1, 1, 1, 1);
    check_dense(5, 7, 3, 1, 2);
    check_dense(16, 33, 10, 1, 3);
    check_dense(9, 20, 6, 0, 4); // the linear bottleneck: no bias
}

// The fused dense + ReLU forward and masked backward give the bits of the separate passes
// (a dense layer, then mimic_relu_forward / mimic_relu_backward), on shapes that take the
// GEMM's in-place, blocked and several-KC-slice paths.
static void test_dense_relu_fused(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {{5, 7, 3}, {16, 33, 10}, {128, 128, 300}, {20, 1500, 40}};
    tc_rng r = tc_rng_seed(77);
    for (int s = 0; s < 4; s++) {
        const int64_t batch = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
        mimic_dense d;
        TC_STATUS(mimic_dense_init(&d, in, out, 1), MIMIC_OK);
        tc_fill_uniform(&r, d.weight.w, (size_t)(in * out), -1.0f, 1.0f);
        tc_fill_uniform(&r, d.bias.w, (size_t)out, -1.0f, 1.0f);
        float *x = tc_alloc((size_t)(batch * in)), *y = tc_alloc((size_t)(batch * out));
        float *want = tc_alloc((size_t)(batch * out)), *dy = tc_alloc((size_t)(batch * out));
        float *dx = tc_alloc((size_t)(batch * in)), *dx_want = tc_alloc((size_t)(batch * in));
        tc_fill_uniform(&r, x, (size_t)(batch * in), -1.0f, 1.0f);
        mimic_relu_forward(batch * in, x, x); // the input is a ReLU's output: zeros in it
        tc_fill_uniform(&r, dy, (size_t)(batch * out), -1.0f, 1.0f);
        TC_FOR_EACH_ISA(isa) {
            tc_ctx("dense+ReLU batch=%lld in=%lld out=%lld", (long long)batch, (long long)in,
                   (long long)out);
            TC_STATUS(mimic_dense_forward(&d, batch, x, want), MIMIC_OK);
            mimic_relu_forward(batch * out, want, want);
            TC_STATUS(mimic_dense_relu_forward(&d, batch, x, y), MIMIC_OK);
            tc_check_bitwise("dense_relu_forward vs dense + ReLU", y, want, (size_t)(batch * out));
            TC_STATUS(mimic_dense_backward(&d, batch, x, dy, dx_want), MIMIC_OK);
            mimic_relu_backward(batch * in, x, dx_want, dx_want);
            float *dw = tc_alloc((size_t)(in * out));
            memcpy(dw, d.weight.g, (size_t)(in * out) * sizeof *dw);
            TC_STATUS(mimic_dense_backward_relu(&d, batch, x, dy, dx), MIMIC_OK);
            tc_check_bitwise("dense_backward_relu dx vs dense + ReLU backward", dx, dx_want,
                             (size_t)(batch * in));
            tc_check_bitwise("dense_backward_relu dW", d.weight.g, dw, (size_t)(in * out));
            free(dw);
        }
        TC_STATUS(mimic_dense_backward_relu(&d, batch, x, dy, NULL), MIMIC_EINVAL);
        free(x);
        free(y);
        free(want);
        free(dy);
        free(dx);
        free(dx_want);
        mimic_dense_free(&d);
    }
}

static void test_relu(void **state)
{
    (void)state;
    const float x[6] = {-2.0f, -0.5f, 0.0f, 0.25f, 3.0f, -1e-30f};
    const float dy[6] = {1, 2, 3, 4, 5, 6};
    float y[6], dx[6];
    mimic_relu_forward(6, x, y);
    mimic_relu_backward(6, y, dy, dx);
    const float want_y[6] = {0, 0, 0, 0.25f, 3.0f, 0};
    const float want_dx[6] = {0, 0, 0, 4, 5, 0};
    for (int i = 0; i < 6; i++) {
        TC_CHECK(y[i] == want_y[i]);
        TC_CHECK(dx[i] == want_dx[i]);
    }
}

static void test_maxpool(void **state)
{
    (void)state;
    const int64_t n = 2, c = 3, h = 6, w = 4, ho = 3, wo = 2;
    const int64_t nin = n * c * h * w, nout = n * c * ho * wo;
    tc_rng r = tc_rng_seed(7);
    float *x = tc_alloc((size_t)nin), *y = tc_alloc((size_t)nout), *g = tc_alloc((size_t)nout);
    float *dx = tc_alloc((size_t)nin), *y2 = tc_alloc((size_t)nout);
    uint8_t *am = malloc((size_t)nout);
    // Distinct values, at least 0.01 apart, so a small step never changes the winner.
    for (int64_t i = 0; i < nin; i++)
        x[i] = (float)((i * 37) % nin) * 0.01f;
    tc_fill_uniform(&r, g, (size_t)nout, -1.0f, 1.0f);
    TC_STATUS(mimic_maxpool2_forward(n, c, h, w, x, y, am), MIMIC_OK);
    for (int64_t p = 0; p < n * c; p++)
        for (int64_t i = 0; i < ho; i++)
            for (int64_t j = 0; j < wo; j++) {
                const float *s = x + p * h * w + 2 * i * w + 2 * j;
                const float want = fmaxf(fmaxf(s[0], s[1]), fmaxf(s[w], s[w + 1]));
                TC_CHECK(y[(p * ho + i) * wo + j] == want);
            }
    TC_STATUS(mimic_maxpool2_backward(n, c, h, w, am, g, dx), MIMIC_OK);
    for (int64_t k = 0; k < nin; k++) {
        const float keep = x[k];
        x[k] = keep + 0.004f;
        TC_STATUS(mimic_maxpool2_forward(n, c, h, w, x, y2, am), MIMIC_OK);
        const double lp = dot(y2, g, nout);
        x[k] = keep - 0.004f;
        TC_STATUS(mimic_maxpool2_forward(n, c, h, w, x, y2, am), MIMIC_OK);
        const double lm = dot(y2, g, nout);
        x[k] = keep;
        tc_ctx("maxpool dx[%lld]", (long long)k);
        tc_check_near1("maxpool dx vs finite difference", dx[k], (lp - lm) / 0.008, 1e-3);
    }
    TC_STATUS(mimic_maxpool2_forward(n, c, 5, w, x, y, am), MIMIC_EINVAL); // odd height
    free(x);
    free(y);
    free(g);
    free(dx);
    free(y2);
    free(am);
}

// The winner of a window with ties is its first maximum in the order top-left, top-right,
// bottom-left, bottom-right (as PyTorch), on planes of 2 x 2 windows of 0s and 1s (every
// pattern) and on the widest rows allowed (one output row at a time in the scratch); wider
// rows are refused.
static void test_maxpool_ties(void **state)
{
    (void)state;
    // Widths: one vector of outputs, many, and a partial last one for every vector length
    // (the trainer runs AVX2 and AVX-512 pool loops of its own when that ISA is active).
    const int64_t shapes[5][2] = {{8, 8}, {6, 4096}, {2, 4094}, {4, 28}, {2, 14}}; // h, w
    TC_FOR_EACH_ISA(isa)
    for (int s = 0; s < 5; s++) {
        const int64_t h = shapes[s][0], w = shapes[s][1], nout = h * w / 4;
        // Guards after y and dx: the ISA loops store whole vectors under masks at row ends,
        // which ASan does not see.
        float *x = tc_alloc((size_t)(h * w)), *y = tc_alloc((size_t)nout + TC_GUARD);
        float *g = tc_alloc((size_t)nout), *dx = tc_alloc((size_t)(h * w) + TC_GUARD);
        tc_fill_sentinel(y + nout, TC_GUARD);
        tc_fill_sentinel(dx + h * w, TC_GUARD);
        uint8_t *am = malloc((size_t)nout);
        for (int64_t i = 0; i < h; i++)
            for (int64_t j = 0; j < w; j++) { // window number q gets the bits of q % 16
                const int64_t q = (i / 2) * (w / 2) + j / 2, bit = (i % 2) * 2 + j % 2;
                x[i * w + j] = (float)((q % 16) >> bit & 1);
            }
        TC_STATUS(mimic_maxpool2_forward(1, 1, h, w, x, y, am), MIMIC_OK);
        for (int64_t q = 0; q < nout; q++) {
            const int64_t v = q % 16;
            int first = 0;
            while (first < 3 && !(v >> first & 1) && v)
                first++;
            tc_ctx("%lld x %lld window %lld (pattern %lld)", (long long)h, (long long)w,
                   (long long)q, (long long)v);
            TC_CHECK(y[q] == (v ? 1.0f : 0.0f) && am[q] == first);
            g[q] = (float)(q + 1);
        }
        tc_check_sentinel("past y", y + nout, TC_GUARD);
        // The backward pass: each window's gradient on its winner, 0 on the other three.
        TC_STATUS(mimic_maxpool2_backward(1, 1, h, w, am, g, dx), MIMIC_OK);
        tc_check_sentinel("past dx", dx + h * w, TC_GUARD);
        for (int64_t i = 0; i < h; i++)
            for (int64_t j = 0; j < w; j++) {
                const int64_t q = (i / 2) * (w / 2) + j / 2, at = (i % 2) * 2 + j % 2;
                TC_CHECK(dx[i * w + j] == (am[q] == at ? g[q] : 0.0f));
            }
        free(x);
        free(y);
        free(g);
        free(dx);
        free(am);
    }
    float x[8], y[2];
    uint8_t am[2];
    TC_STATUS(mimic_maxpool2_forward(1, 1, 2, 4098, x, y, am), MIMIC_EINVAL); // too wide
}

// ReLU then pool, backward in one pass, against the two passes one after the other; with
// ties (several zeros in a window) and windows that are all negative before the ReLU.
static void test_relu_maxpool(void **state)
{
    (void)state;
    const int64_t n = 3, c = 2, h = 8, w = 6, nin = n * c * h * w, nout = nin / 4;
    tc_rng r = tc_rng_seed(11);
    float *pre = tc_alloc((size_t)nin), *act = tc_alloc((size_t)nin), *y = tc_alloc((size_t)nout);
    float *g = tc_alloc((size_t)nout), *dact = tc_alloc((size_t)nin), *want = tc_alloc((size_t)nin);
    float *got = tc_alloc((size_t)nin);
    uint8_t *am = malloc((size_t)nout);
    tc_fill_uniform(&r, pre, (size_t)nin, -1.0f, 0.6f);
    tc_fill_uniform(&r, g, (size_t)nout, -1.0f, 1.0f);
    mimic_relu_forward(nin, pre, act);
    // Every ISA: the trainer runs an AVX-512 build of the pool's loops when that is active.
    TC_FOR_EACH_ISA(isa) {
        tc_ctx("relu + maxpool backward");
        TC_STATUS(mimic_maxpool2_forward(n, c, h, w, act, y, am), MIMIC_OK);
        TC_STATUS(mimic_maxpool2_backward(n, c, h, w, am, g, dact), MIMIC_OK);
        mimic_relu_backward(nin, act, dact, want);
        for (int64_t i = 0; i < nin; i++)
            got[i] = NAN; // every element must be written
        TC_STATUS(mimic_relu_maxpool2_backward(n, c, h, w, am, y, g, got), MIMIC_OK);
        int zeros = 0;
        for (int64_t i = 0; i < nin; i++) {
            TC_CHECK(got[i] == want[i]);
            zeros += want[i] == 0.0f;
        }
        TC_CHECK(zeros > 3 * nin / 4); // the masked windows were exercised
    }
    TC_STATUS(mimic_relu_maxpool2_backward(n, c, h, w, am, NULL, g, got), MIMIC_EINVAL);
    free(pre);
    free(act);
    free(y);
    free(g);
    free(dact);
    free(want);
    free(got);
    free(am);
}

// Inverted dropout on n values of x = 1 + i/n: the share kept, each kept value scaled by
// exactly 1/(1-p), neighbours drawn independently (four values share a 64-bit draw), the same
// bits for a key on any thread count, other bits for another key, and the backward pass.
static void check_dropout(float p, double want_scale)
{
    enum { N = 100003 }; // not a multiple of 4, and above the threading threshold
    float *x = tc_alloc_off(N, 0), *y = tc_alloc_off(N, 0), *y1 = tc_alloc_off(N, 0);
    float *dx = tc_alloc_off(N, 0);
    uint8_t *mask = malloc(N), *mask1 = malloc(N);
    for (int i = 0; i < N; i++)
        x[i] = 1.0f + (float)i / N;
    TC_STATUS(mimic_dropout_forward(N, p, 42, x, y, mask), MIMIC_OK);
    tc_ctx("dropout p = %g", (double)p);
    int64_t kept = 0, pairs = 0;
    for (int i = 0; i < N; i++) {
        TC_CHECK(mask[i] == 0 || mask[i] == 1);
        TC_CHECK(y[i] == (mask[i] ? x[i] * (float)want_scale : 0.0f));
        kept += mask[i];
        pairs += i + 1 < N && mask[i] && mask[i + 1];
    }
    // Five standard deviations of a binomial count.
    const double q = 1.0 - p, sd = sqrt(N * q * (1.0 - q));
    tc_check_near1("values kept", (double)kept, N * q, 5.0 * sd + 1.0);
    // Overlapping pairs: the variance of a sum of X_i X_(i+1) counts the covariance of
    // adjacent terms (q^3 - q^4) twice.
    const double pair_var = N * (q * q * (1.0 - q * q) + 2.0 * (q * q * q - q * q * q * q));
    tc_check_near1("neighbours both kept", (double)pairs, (N - 1) * q * q,
                   5.0 * sqrt(pair_var) + 1.0);
    // The same key on one thread: the same bits; another key: other draws.
    const int threads = mimic_threads_get();
    (void)mimic_threads_set(1);
    TC_STATUS(mimic_dropout_forward(N, p, 42, x, y1, mask1), MIMIC_OK);
    (void)mimic_threads_set(threads);
    tc_check_bitwise("dropout, 1 thread vs the team", y1, y, N);
    TC_CHECK(memcmp(mask1, mask, N) == 0);
    TC_STATUS(mimic_dropout_forward(N, p, 43, x, y1, mask1), MIMIC_OK);
    TC_CHECK(p == 0.0f || memcmp(mask1, mask, N) != 0);
    // Backward: dy times the same factor, also in place.
    TC_STATUS(mimic_dropout_backward(N, p, mask, x, dx), MIMIC_OK);
    tc_check_bitwise("dropout backward", dx, y, N);
    memcpy(dx, x, N * sizeof(float));
    TC_STATUS(mimic_dropout_backward(N, p, mask, dx, dx), MIMIC_OK);
    tc_check_bitwise("dropout backward in place", dx, y, N);
    tc_free_off(x, 0);
    tc_free_off(y, 0);
    tc_free_off(y1, 0);
    tc_free_off(dx, 0);
    free(mask);
    free(mask1);
}

static void test_dropout(void **state)
{
    (void)state;
    check_dropout(0.0f, 1.0);
    check_dropout(0.1f, 65536.0 / (65536 - 6554)); // p rounded to 6554 / 65536
    check_dropout(0.25f, 4.0 / 3.0);
    check_dropout(0.5f, 2.0);
    check_dropout(0.9f, 65536.0 / (65536 - 58982));
    // A dropped NaN stays NaN (a product, not a select).
    float x[8], y[8];
    uint8_t mask[8];
    for (int i = 0; i < 8; i++)
        x[i] = NAN;
    TC_STATUS(mimic_dropout_forward(8, 0.5f, 1, x, y, mask), MIMIC_OK);
    for (int i = 0; i < 8; i++)
        TC_CHECK(isnan(y[i]));
    // Invalid rates and pointers; n = 0 needs none.
    const float bad[4] = {-0.1f, 1.0f, 0.999999f, NAN}; // 0.999999: rounds to 1 in 16 bits
    for (int i = 0; i < 4; i++) {
        TC_STATUS(mimic_dropout_forward(8, bad[i], 1, x, y, mask), MIMIC_EINVAL);
        TC_STATUS(mimic_dropout_backward(8, bad[i], mask, x, y), MIMIC_EINVAL);
    }
    TC_STATUS(mimic_dropout_forward(8, 0.5f, 1, NULL, y, mask), MIMIC_EINVAL);
    TC_STATUS(mimic_dropout_forward(8, 0.5f, 1, x, y, NULL), MIMIC_EINVAL);
    TC_STATUS(mimic_dropout_backward(8, 0.5f, NULL, x, y), MIMIC_EINVAL);
    TC_STATUS(mimic_dropout_forward(-1, 0.5f, 1, x, y, mask), MIMIC_EINVAL);
    TC_STATUS(mimic_dropout_forward(0, 0.5f, 1, NULL, NULL, NULL), MIMIC_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense),
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_dense_relu_fused),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_maxpool_ties),
        cmocka_unit_test(test_relu_maxpool),
    };
    return cmocka_run_group_tests_name("layers", tests, tc_group_setup, tc_group_teardown);
}
