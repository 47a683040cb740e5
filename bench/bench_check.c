// Accuracy counters: mimic's output against tests/ref.c's double reference on a sample of
// it (a few rows, the first and last image), cheap enough to run once per benchmark row.
#include "bench.h"
#include "ref.h"

#include <math.h>
#include <stdlib.h>

#define SAMPLE_ROWS 8

// Row i of `count` rows evenly spread over [0, n), first and last included.
static int64_t sample(int64_t i, int64_t count, int64_t n) {
    return count <= 1 ? 0 : i * (n - 1) / (count - 1);
}

static double rel(double got, double want, double scale) {
    const double d = fabs(got - want);
    return scale > 0 ? d / scale : d;
}

double bench_err_sgemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const float *a,
                       int64_t lda, const float *b, int64_t ldb, const float *c) {
    double *ref = malloc((size_t)n * sizeof *ref), *mag = malloc((size_t)n * sizeof *mag);
    double err = 0.0;
    const int64_t rows = m < SAMPLE_ROWS ? m : SAMPLE_ROWS;
    for (int64_t r = 0; ref && mag && r < rows; r++) {
        const int64_t i = sample(r, rows, m);
        // Row i of op(A) as a 1 x K matrix with A's own leading dimension.
        const float *ai = ta == 'T' ? a + i : a + i * lda;
        ref_sgemm(ta, tb, 1, n, k, 1.0, ai, lda, b, ldb, 0.0, NULL, 0, ref, mag);
        for (int64_t j = 0; j < n; j++) {
            const double e = rel(c[i * n + j], ref[j], mag[j]);
            err = e > err ? e : err;
        }
    }
    if (!ref || !mag)
        err = NAN;
    free(ref);
    free(mag);
    return err;
}

static double max_err(const float *got, const double *want, const double *mag, size_t n) {
    double err = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double e = rel(got[i], want[i], mag[i]);
        err = e > err ? e : err;
    }
    return err;
}

// diff_wei[k][c][r][s] and diff_bias[k] of sampled elements, summed in double here (the
// reference's full loop nest would take seconds on the large layers).
static double err_bwd_weights(const mimic_conv2d *s, int64_t p, int64_t q, const float *src,
                              const float *ddst, const float *dwei, const float *dbias) {
    const int64_t nw = s->k * s->c * s->r * s->s, count = nw < 64 ? nw : 64;
    double err = 0.0;
    for (int64_t i = 0; i < count; i++) {
        const int64_t w = sample(i, count, nw);
        const int64_t k = w / (s->c * s->r * s->s), c = w / (s->r * s->s) % s->c;
        const int64_t r = w / s->s % s->r, x = w % s->s;
        double sum = 0.0, mag = 0.0;
        for (int64_t n = 0; n < s->n; n++)
            for (int64_t oh = 0; oh < p; oh++) {
                const int64_t h = oh * s->stride_h - s->pad_h + r;
                if (h < 0 || h >= s->h)
                    continue;
                for (int64_t ow = 0; ow < q; ow++) {
                    const int64_t wc = ow * s->stride_w - s->pad_w + x;
                    if (wc < 0 || wc >= s->w)
                        continue;
                    const double t = (double)ddst[((n * s->k + k) * p + oh) * q + ow] *
                                     (double)src[((n * s->c + c) * s->h + h) * s->w + wc];
                    sum += t, mag += fabs(t);
                }
            }
        const double e = rel(dwei[w], sum, mag);
        err = e > err ? e : err;
    }
    for (int64_t k = 0; dbias && k < s->k; k++) {
        double sum = 0.0, mag = 0.0;
        for (int64_t n = 0; n < s->n; n++)
            for (int64_t j = 0; j < p * q; j++) {
                const double t = ddst[(n * s->k + k) * p * q + j];
                sum += t, mag += fabs(t);
            }
        const double e = rel(dbias[k], sum, mag);
        err = e > err ? e : err;
    }
    return err;
}

double bench_err_conv(const mimic_conv2d *s, int pass, const float *src, const float *wei,
                      const float *bias, const float *dst, const float *ddst, const float *dsrc,
                      const float *dwei, const float *dbias) {
    int64_t p, q;
    if (mimic_conv2d_out_hw(s, &p, &q) != MIMIC_OK)
        return NAN;
    if (pass == 2)
        return err_bwd_weights(s, p, q, src, ddst, dwei, dbias);
    const size_t in_img = (size_t)(s->c * s->h * s->w), out_img = (size_t)(s->k * p * q);
    const size_t len = pass == 0 ? out_img : in_img;
    double *ref = malloc(len * sizeof *ref), *mag = malloc(len * sizeof *mag);
    double err = ref && mag ? 0.0 : NAN;
    mimic_conv2d one = *s;
    one.n = 1;
    const int64_t images[2] = {0, s->n - 1};
    for (int i = 0; ref && mag && i < (s->n > 1 ? 2 : 1); i++) {
        const size_t n = (size_t)images[i];
        double e;
        if (pass == 0) {
            ref_conv_fwd(&one, src + n * in_img, wei, bias, ref, mag);
            e = max_err(dst + n * out_img, ref, mag, len);
        } else {
            ref_conv_bwd_data(&one, ddst + n * out_img, wei, ref, mag);
            e = max_err(dsrc + n * in_img, ref, mag, len);
        }
        err = e > err ? e : err;
    }
    free(ref);
    free(mag);
    return err;
}

double bench_err_rows(int op, const float *x, const float *t, const int32_t *labels,
                      int64_t rows, int64_t cols, float T, const float *y) {
    double *ref = malloc((size_t)cols * sizeof *ref), *xs = malloc((size_t)cols * sizeof *xs),
           *ts = malloc((size_t)cols * sizeof *ts);
    double err = ref && xs && ts ? 0.0 : NAN;
    const int64_t count = rows < SAMPLE_ROWS ? rows : SAMPLE_ROWS;
    for (int64_t r = 0; ref && xs && ts && r < count; r++) {
        const int64_t i = sample(r, count, rows);
        const float *xi = x + i * cols, *ti = t + i * cols;
        for (int64_t j = 0; j < cols; j++)
            xs[j] = xi[j], ts[j] = ti[j];
        switch (op) {
        case 0: ref_softmax(xi, 1, cols, T, ref, NULL); break;
        case 1: ref_log_softmax(xi, 1, cols, T, ref); break;
        case 2: ref_ce_loss(xs, labels + i, 1, cols, ref); break;
        case 3: ref_l2_loss(xs, ts, 1, cols, ref); break;
        default: ref_kd_loss(xs, ts, 1, cols, T, ref); break;
        }
        // The losses are means over rows: one row's gradient of the mean is 1/rows of its own.
        double scale = 0.0;
        for (int64_t j = 0; j < cols; j++) {
            if (op >= 2)
                ref[j] /= (double)rows;
            scale = fabs(ref[j]) > scale ? fabs(ref[j]) : scale;
        }
        for (int64_t j = 0; j < cols; j++) {
            const double e = rel(y[i * cols + j], ref[j], scale);
            err = e > err ? e : err;
        }
    }
    free(ref);
    free(xs);
    free(ts);
    return err;
}
