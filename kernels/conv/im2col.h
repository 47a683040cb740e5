// im2col / col2im kernels, one per ISA (contract in arch/kernels.h).
#ifndef MIMIC_IM2COL_H
#define MIMIC_IM2COL_H

#include "arch/kernels.h"

void mimic_im2col__scalar(const mimic_conv2d *shape, int64_t p, int64_t q, const float *img,
                          float *col);
void mimic_col2im__scalar(const mimic_conv2d *shape, int64_t p, int64_t q, const float *col,
                          float *img);

// The output columns [q_lo, q_hi) whose input column q*stride - pad + s lies inside [0, w).
static inline void mimic_conv_valid_q(const mimic_conv2d *sh, int64_t q, int64_t s,
                                      int64_t *q_lo, int64_t *q_hi)
{
    // q*sw >= pad - s  and  q*sw < w + pad - s
    const int64_t lo_num = sh->pad_w - s;
    const int64_t hi_num = sh->w + sh->pad_w - s;
    int64_t lo = lo_num <= 0 ? 0 : (lo_num + sh->stride_w - 1) / sh->stride_w;
    int64_t hi = hi_num <= 0 ? 0 : (hi_num + sh->stride_w - 1) / sh->stride_w;
    if (hi > q)
        hi = q;
    if (lo > hi)
        lo = hi;
    *q_lo = lo;
    *q_hi = hi;
}

#endif
