// Naive double-precision reference for every mimic kernel. Independent of kernels/: plain
// loops, double accumulation. Each also returns a magnitude (the same sum taken over absolute
// values) from which the tests derive their error bounds.
#ifndef MIMIC_TESTS_REF_H
#define MIMIC_TESTS_REF_H

#include <stdint.h>

#include <mimic/conv.h>

// out (M x N, dense) = alpha * op(A) * op(B) + beta * C; mag = |alpha| * sum_k |a||b| +
// |beta * c|. beta == 0 does not read C (C may be NULL); alpha == 0 or K == 0 does not read
// A or B. mag may be NULL.
void ref_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, double alpha,
               const float *A, int64_t lda, const float *B, int64_t ldb, double beta,
               const float *C, int64_t ldc, double *out, double *mag);

// Output size with the floor rule of conv.h.
void ref_conv_out_hw(const mimic_conv2d *s, int64_t *p, int64_t *q);
// Direct convolution loops; mag (may be NULL) is the same sum over |terms| (and |bias|).
void ref_conv_fwd(const mimic_conv2d *s, const float *src, const float *wei, const float *bias,
                  double *dst, double *mag);
void ref_conv_bwd_data(const mimic_conv2d *s, const float *diff_dst, const float *wei,
                       double *diff_src, double *mag);
// diff_bias / bias_mag may be NULL.
void ref_conv_bwd_weights(const mimic_conv2d *s, const float *src, const float *diff_dst,
                          double *diff_wei, double *wei_mag, double *diff_bias,
                          double *bias_mag);

// Row-wise softmax / log-softmax of x/T (rules of softmax.h: a row with NaN or only -inf
// becomes NaN). d (may be NULL) receives x/T - max_j x/T for each element.
void ref_softmax(const float *x, int64_t rows, int64_t cols, double T, double *y, double *d);
void ref_log_softmax(const float *x, int64_t rows, int64_t cols, double T, double *y);

// Losses on double inputs (so that finite differences can run in double). grad may be NULL.
double ref_ce_loss(const double *logits, const int32_t *labels, int64_t rows, int64_t cols,
                   double *grad);
double ref_l2_loss(const double *s, const double *t, int64_t rows, int64_t cols, double *grad);
double ref_kd_loss(const double *s, const double *t, int64_t rows, int64_t cols, double T,
                   double *grad);

#endif
