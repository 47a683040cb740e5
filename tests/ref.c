// Naive double-precision reference kernels (see ref.h).
#include "ref.h"

#include <math.h>
#include <stdlib.h>

void ref_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, double alpha,
               const float *A, int64_t lda, const float *B, int64_t ldb, double beta,
               const float *C, int64_t ldc, double *out, double *mag) {
    int ta = transa == 'T' || transa == 't';
    int tb = transb == 'T' || transb == 't';
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double acc = 0, acc_abs = 0;
            if (alpha != 0) {
                for (int64_t k = 0; k < K; k++) {
                    double a = ta ? A[k * lda + i] : A[i * lda + k];
                    double b = tb ? B[j * ldb + k] : B[k * ldb + j];
                    acc += a * b;
                    acc_abs += fabs(a * b);
                }
            }
            double c = beta != 0 ? beta * C[i * ldc + j] : 0.0;
            out[i * N + j] = alpha * acc + c;
            if (mag)
                mag[i * N + j] = fabs(alpha) * acc_abs + fabs(c);
        }
    }
}

void ref_conv_out_hw(const mimic_conv2d *s, int64_t *p, int64_t *q) {
    *p = (s->h + 2 * s->pad_h - s->r) / s->stride_h + 1;
    *q = (s->w + 2 * s->pad_w - s->s) / s->stride_w + 1;
}

// Index helpers, NCHW and KCRS.
#define SRC(n, c, y, x) ((((n) * s->c + (c)) * s->h + (y)) * s->w + (x))
#define DST(n, k, y, x) ((((n) * s->k + (k)) * P + (y)) * Q + (x))
#define WEI(k, c, y, x) ((((k) * s->c + (c)) * s->r + (y)) * s->s + (x))

void ref_conv_fwd(const mimic_conv2d *s, const float *src, const float *wei, const float *bias,
                  double *dst, double *mag) {
    int64_t P, Q;
    ref_conv_out_hw(s, &P, &Q);
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t k = 0; k < s->k; k++)
            for (int64_t p = 0; p < P; p++)
                for (int64_t q = 0; q < Q; q++) {
                    double acc = bias ? bias[k] : 0.0;
                    double acc_abs = fabs(acc);
                    for (int64_t c = 0; c < s->c; c++)
                        for (int64_t r = 0; r < s->r; r++) {
                            int64_t y = p * s->stride_h - s->pad_h + r;
                            if (y < 0 || y >= s->h)
                                continue;
                            for (int64_t t = 0; t < s->s; t++) {
                                int64_t x = q * s->stride_w - s->pad_w + t;
                                if (x < 0 || x >= s->w)
                                    continue;
                                double v = (double)wei[WEI(k, c, r, t)] * src[SRC(n, c, y, x)];
                                acc += v;
                                acc_abs += fabs(v);
                            }
                        }
                    dst[DST(n, k, p, q)] = acc;
                    if (mag)
                        mag[DST(n, k, p, q)] = acc_abs;
                }
}

void ref_conv_bwd_data(const mimic_conv2d *s, const float *diff_dst, const float *wei,
                       double *diff_src, double *mag) {
    int64_t P, Q;
    ref_conv_out_hw(s, &P, &Q);
    size_t nsrc = (size_t)(s->n * s->c * s->h * s->w);
    for (size_t i = 0; i < nsrc; i++) {
        diff_src[i] = 0;
        if (mag)
            mag[i] = 0;
    }
    // Scatter every product of the forward pass back to the input element it read.
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t k = 0; k < s->k; k++)
            for (int64_t p = 0; p < P; p++)
                for (int64_t q = 0; q < Q; q++) {
                    double g = diff_dst[DST(n, k, p, q)];
                    for (int64_t c = 0; c < s->c; c++)
                        for (int64_t r = 0; r < s->r; r++) {
                            int64_t y = p * s->stride_h - s->pad_h + r;
                            if (y < 0 || y >= s->h)
                                continue;
                            for (int64_t t = 0; t < s->s; t++) {
                                int64_t x = q * s->stride_w - s->pad_w + t;
                                if (x < 0 || x >= s->w)
                                    continue;
                                double v = g * wei[WEI(k, c, r, t)];
                                diff_src[SRC(n, c, y, x)] += v;
                                if (mag)
                                    mag[SRC(n, c, y, x)] += fabs(v);
                            }
                        }
                }
}

void ref_conv_bwd_weights(const mimic_conv2d *s, const float *src, const float *diff_dst,
                          double *diff_wei, double *wei_mag, double *diff_bias,
                          double *bias_mag) {
    int64_t P, Q;
    ref_conv_out_hw(s, &P, &Q);
    for (int64_t k = 0; k < s->k; k++) {
        double b = 0, b_abs = 0;
        for (int64_t n = 0; n < s->n; n++)
            for (int64_t p = 0; p < P; p++)
                for (int64_t q = 0; q < Q; q++) {
                    b += diff_dst[DST(n, k, p, q)];
                    b_abs += fabs(diff_dst[DST(n, k, p, q)]);
                }
        if (diff_bias)
            diff_bias[k] = b;
        if (bias_mag)
            bias_mag[k] = b_abs;
        for (int64_t c = 0; c < s->c; c++)
            for (int64_t r = 0; r < s->r; r++)
                for (int64_t t = 0; t < s->s; t++) {
                    double acc = 0, acc_abs = 0;
                    for (int64_t n = 0; n < s->n; n++)
                        for (int64_t p = 0; p < P; p++) {
                            int64_t y = p * s->stride_h - s->pad_h + r;
                            if (y < 0 || y >= s->h)
                                continue;
                            for (int64_t q = 0; q < Q; q++) {
                                int64_t x = q * s->stride_w - s->pad_w + t;
                                if (x < 0 || x >= s->w)
                                    continue;
                                double v =
                                    (double)diff_dst[DST(n, k, p, q)] * src[SRC(n, c, y, x)];
                                acc += v;
                                acc_abs += fabs(v);
                            }
                        }
                    diff_wei[WEI(k, c, r, t)] = acc;
                    if (wei_mag)
                        wei_mag[WEI(k, c, r, t)] = acc_abs;
                }
    }
}

#undef SRC
#undef DST
#undef WEI

// Log-softmax of one row z (already divided by T) into ls; d (may be NULL) gets z - max z.
// A row with NaN, or with every entry -inf, becomes NaN.
static void lsm_row(const double *z, int64_t n, double *ls, double *d) {
    double m = -INFINITY;
    int has_nan = 0;
    for (int64_t j = 0; j < n; j++) {
        if (isnan(z[j]))
            has_nan = 1;
        else if (z[j] > m)
            m = z[j];
    }
    if (has_nan || m == -INFINITY) {
        for (int64_t j = 0; j < n; j++) {
            ls[j] = NAN;
            if (d)
                d[j] = NAN;
        }
        return;
    }
    double sum = 0;
    for (int64_t j = 0; j < n; j++)
        sum += exp(z[j] - m);
    double lse = log(sum);
    for (int64_t j = 0; j < n; j++) {
        ls[j] = (z[j] - m) - lse;
        if (d)
            d[j] = z[j] - m;
    }
}

static void softmax_rows(const float *x, int64_t rows, int64_t cols, double T, double *y,
                         double *d, int log_out) {
    double *z = malloc((size_t)(cols > 0 ? cols : 1) * sizeof *z);
    if (!z)
        abort();
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < cols; j++)
            z[j] = (double)x[i * cols + j] / T;
        double *yi = y + i * cols;
        lsm_row(z, cols, yi, d ? d + i * cols : NULL);
        if (!log_out)
            for (int64_t j = 0; j < cols; j++)
                yi[j] = exp(yi[j]);
    }
    free(z);
}

void ref_softmax(const float *x, int64_t rows, int64_t cols, double T, double *y, double *d) {
    softmax_rows(x, rows, cols, T, y, d, 0);
}

void ref_log_softmax(const float *x, int64_t rows, int64_t cols, double T, double *y) {
    softmax_rows(x, rows, cols, T, y, NULL, 1);
}

double ref_ce_loss(const double *logits, const int32_t *labels, int64_t rows, int64_t cols,
                   double *grad) {
    double *ls = malloc((size_t)(cols > 0 ? cols : 1) * sizeof *ls);
    if (!ls)
        abort();
    double loss = 0;
    for (int64_t i = 0; i < rows; i++) {
        lsm_row(logits + i * cols, cols, ls, NULL);
        loss -= ls[labels[i]];
        if (grad)
            for (int64_t j = 0; j < cols; j++)
                grad[i * cols + j] = (exp(ls[j]) - (j == labels[i] ? 1.0 : 0.0)) / (double)rows;
    }
    free(ls);
    return loss / (double)rows;
}

double ref_l2_loss(const double *s, const double *t, int64_t rows, int64_t cols, double *grad) {
    double loss = 0;
    for (int64_t i = 0; i < rows * cols; i++) {
        double e = s[i] - t[i];
        loss += e * e;
        if (grad)
            grad[i] = e / (double)rows;
    }
    return loss / (2.0 * (double)rows);
}

double ref_kd_loss(const double *s, const double *t, int64_t rows, int64_t cols, double T,
                   double *grad) {
    size_t n = (size_t)(cols > 0 ? cols : 1);
    double *zs = malloc(4 * n * sizeof *zs);
    if (!zs)
        abort();
    double *zt = zs + n, *ls = zs + 2 * n, *lt = zs + 3 * n;
    double loss = 0;
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < cols; j++) {
            zs[j] = s[i * cols + j] / T;
            zt[j] = t[i * cols + j] / T;
        }
        lsm_row(zs, cols, ls, NULL);
        lsm_row(zt, cols, lt, NULL);
        for (int64_t j = 0; j < cols; j++) {
            double p = exp(lt[j]);
            if (p > 0) // terms with p == 0 add 0
                loss += p * (lt[j] - ls[j]);
            if (grad)
                grad[i * cols + j] = T * (exp(ls[j]) - p) / (double)rows;
        }
    }
    free(zs);
    return T * T * loss / (double)rows;
}
