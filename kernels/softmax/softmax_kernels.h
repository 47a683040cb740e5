// Softmax and loss row passes, one set per ISA (contract in arch/kernels.h).
#ifndef MIMIC_SOFTMAX_KERNELS_H
#define MIMIC_SOFTMAX_KERNELS_H

#include <stddef.h>

#define MIMIC_SOFTMAX_DECLARE(isa)                                                             \
    float mimic_row_max__##isa(const float *x, size_t n);                                      \
    float mimic_exp_sum__##isa(const float *x, float *y, size_t n, float m, float inv_t);      \
    void mimic_scale__##isa(float *y, size_t n, float s);                                      \
    void mimic_shift_scale__##isa(const float *x, float *y, size_t n, float m, float inv_t,    \
                                  float c);                                                    \
    float mimic_sq_diff__##isa(const float *s, const float *t, float *g, size_t n,             \
                               float g_scale);                                                 \
    float mimic_kd_row__##isa(const float *s, const float *t, float *g, size_t n, float ms,    \
                              float lse_s, float mt, float lse_t, float inv_t, float g_scale);

MIMIC_SOFTMAX_DECLARE(scalar)

#endif
