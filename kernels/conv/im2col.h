// im2col / col2im / transpose kernels, one set per ISA (contract in arch/kernels.h).
#ifndef MIMIC_IM2COL_H
#define MIMIC_IM2COL_H

#include "arch/kernels.h"

#define MIMIC_CONV_DECLARE(isa)                                                                    \
    void mimic_im2col__##isa(const mimic_conv2d *shape, int64_t q, int64_t p0, int64_t p1,         \
                             const float *img, float *col, int64_t ldc);                           \
    void mimic_col2im__##isa(const mimic_conv2d *shape, int64_t q, int64_t p0, int64_t p1,         \
                             const float *col, int64_t ldc, float *img);                           \
    void mimic_transpose__##isa(size_t rows, size_t cols, const float *src, size_t lds,            \
                                float *dst, size_t ldd);                                           \
    void mimic_pad_rows__##isa(float *dst, int64_t ldd, const float *src, int64_t lds,            \
                               int64_t rows, int64_t n, int64_t stride, int64_t left,             \
                               int64_t right);                                                    \
    void mimic_bias_act__##isa(float *y, size_t ldy, const float *x, size_t ldx, size_t rows,      \
                               size_t n, const float *bias, int relu);                            \
    void mimic_keep_pos__##isa(float *y, size_t ldy, const float *m, size_t ldm, size_t rows,      \
                               size_t n);                                                         \
    void mimic_fwd_taps__##isa(float *y, size_t ldy, const float *w, size_t ldw,                   \
                               const float *const *tap, size_t taps, size_t rows, size_t n,       \
                               const float *bias, int relu);

// The table entry of one ISA (a mimic_conv_kernels initializer).
#define MIMIC_CONV_TABLE(isa)                                                                      \
    {                                                                                              \
        .im2col = mimic_im2col__##isa, .col2im = mimic_col2im__##isa,                              \
        .transpose = mimic_transpose__##isa, .pad_rows = mimic_pad_rows__##isa,                    \
        .bias_act = mimic_bias_act__##isa, .keep_pos = mimic_keep_pos__##isa,                      \
        .fwd_taps = mimic_fwd_taps__##isa, .name = "im2col__" #isa                                 \
    }

MIMIC_CONV_DECLARE(scalar)
MIMIC_CONV_DECLARE(avx2)
MIMIC_CONV_DECLARE(avx512)
MIMIC_CONV_DECLARE(neon)

// The output positions [lo, hi) of [0, out) whose input position o*stride - pad + k lies
// inside [0, in): along a row (pad_w, w, stride_w, q, kernel column s) or a column (pad_h, h,
// stride_h, p, kernel row r).
static inline void mimic_conv_valid_range(int64_t pad, int64_t in, int64_t stride, int64_t out,
                                          int64_t k, int64_t *lo, int64_t *hi)
{
    // o*stride >= pad - k  and  o*stride < in + pad - k
    const int64_t lo_num = pad - k, hi_num = in + pad - k;
    int64_t l = lo_num <= 0 ? 0 : (lo_num + stride - 1) / stride;
    int64_t h = hi_num <= 0 ? 0 : (hi_num + stride - 1) / stride;
    if (h > out)
        h = out;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

#endif
