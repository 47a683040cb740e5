// oneDNN 2.6 as a second oracle (x86-64 builds only): dnnl_sgemm, the direct convolution
// primitives and the (log-)softmax primitives on plain layouts. Each returns 0 on success,
// or a dnnl_status_t value (the caller fails the test with it).
#ifndef MIMIC_TESTS_ORACLE_DNNL_H
#define MIMIC_TESTS_ORACLE_DNNL_H

#include <stdint.h>

#include <mimic/conv.h>

int oracle_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                 int64_t ldc);

// NCHW / OIHW memory, dnnl_convolution_direct, padding_r = padding_l (mimic's symmetric pad;
// oneDNN's output-size check uses the same floor rule). bias / diff_bias may be NULL.
int oracle_conv_fwd(const mimic_conv2d *s, const float *src, const float *wei,
                    const float *bias, float *dst);
int oracle_conv_bwd_data(const mimic_conv2d *s, const float *diff_dst, const float *wei,
                         float *diff_src);
int oracle_conv_bwd_weights(const mimic_conv2d *s, const float *src, const float *diff_dst,
                            float *diff_wei, float *diff_bias);

// Softmax (log_out = 0) or log-softmax (log_out = 1) along axis 1 of a rows x cols matrix,
// applied to x / T (computed in float, as a caller of oneDNN would).
int oracle_softmax(const float *x, float *y, int64_t rows, int64_t cols, float T, int log_out);

#endif
