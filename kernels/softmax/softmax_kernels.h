// Softmax and loss row passes, one set per ISA (contract in arch/kernels.h).
#ifndef MIMIC_SOFTMAX_KERNELS_H
#define MIMIC_SOFTMAX_KERNELS_H

#include <stddef.h>

#include "arch/kernels.h"

// The online pass keeps, per lane, a reference value r and the sum of exp((x - r) / T). It
// moves r up (rescaling the sum) only when a term would exceed e^LIMIT = 256, so the sum never
// overflows, rescales are rare (and each divides the old sum by more than 256, which damps
// the rounding of earlier rescales), and (x - r) / T stays within LIMIT of (x - max) / T.
#define MIMIC_ONLINE_LIMIT 5.54517744f // 8 ln 2

// Lanes per vector of each ISA's passes (softmax_<isa>.c's VLEN); the short-row pass takes
// rows of up to 4 vectors.
#define MIMIC_SOFTMAX_LANES_scalar 4
#define MIMIC_SOFTMAX_LANES_avx2 8
#define MIMIC_SOFTMAX_LANES_avx512 16
#define MIMIC_SOFTMAX_LANES_neon 4

// The longest row whose exps KD keeps (the table's kd_store_max), measured on an Intel Xeon
// (docs/softmax.md): at 8 x 1048576 keeping them took the scalar ISA from 0.72x to 1.06x oneDNN,
// changed nothing on AVX2 and cost AVX-512 a fifth, so only the scalar ISA keeps them on rows
// that long (up to 4M columns: 32 MiB of scratch per thread). NEON, not measured, stays with
// the x86 SIMD ISAs. MIMIC_KD_STORE_MAX_COLS, defined at build time, sets it for every ISA.
#ifdef MIMIC_KD_STORE_MAX_COLS
#define MIMIC_KD_STORE_MAX_scalar MIMIC_KD_STORE_MAX_COLS
#define MIMIC_KD_STORE_MAX_SIMD MIMIC_KD_STORE_MAX_COLS
#else
#define MIMIC_KD_STORE_MAX_scalar ((size_t)1 << 22)
#define MIMIC_KD_STORE_MAX_SIMD ((size_t)131072)
#endif
#define MIMIC_KD_STORE_MAX_avx2 MIMIC_KD_STORE_MAX_SIMD
#define MIMIC_KD_STORE_MAX_avx512 MIMIC_KD_STORE_MAX_SIMD
#define MIMIC_KD_STORE_MAX_neon MIMIC_KD_STORE_MAX_SIMD

#define MIMIC_SOFTMAX_DECLARE(isa)                                                                 \
    void mimic_short_rows__##isa(const float *x, float *y, size_t rows, size_t n, float inv_t,     \
                                 float s, float *max, float *sum);                                 \
    float mimic_row_max__##isa(const float *x, size_t n);                                          \
    float mimic_exp_sum__##isa(const float *x, float *y, size_t n, float m, float inv_t);          \
    float mimic_max_sum__##isa(const float *x, float *y, size_t n, float inv_t, float *sum,        \
                               float *ref, size_t *from);                                          \
    void mimic_scale__##isa(const float *x, float *y, size_t n, float s);                          \
    void mimic_exp_scale__##isa(const float *x, float *y, size_t n, float m, float inv_t,          \
                                float s);                                                          \
    void mimic_shift_scale__##isa(const float *x, float *y, size_t n, float m, float inv_t,        \
                                  float c);                                                        \
    float mimic_sq_diff__##isa(const float *s, const float *t, float *g, size_t n, float g_scale); \
    float mimic_kd_row__##isa(const float *s, const float *t, const float *ep, const float *eq,    \
                              float *g, size_t n, const mimic_kd_row_args *a);                    \
    void mimic_kd_rows__##isa(const float *s, const float *t, float *scratch, float *g,           \
                              size_t rows, size_t n, float inv_t, float g_scale, float *kl);

// The table entry of one ISA (a mimic_softmax_kernels initializer).
#define MIMIC_SOFTMAX_TABLE(isa)                                                                   \
    {                                                                                              \
        .short_rows = mimic_short_rows__##isa, .short_max = 4 * MIMIC_SOFTMAX_LANES_##isa,         \
        .row_max = mimic_row_max__##isa, .exp_sum = mimic_exp_sum__##isa,                          \
        .max_sum = mimic_max_sum__##isa, .scale = mimic_scale__##isa,                              \
        .exp_scale = mimic_exp_scale__##isa, .shift_scale = mimic_shift_scale__##isa,              \
        .sq_diff = mimic_sq_diff__##isa, .kd_row = mimic_kd_row__##isa,                            \
        .kd_rows = mimic_kd_rows__##isa,                                                           \
        .kd_store_max = MIMIC_KD_STORE_MAX_##isa, .name = "softmax__" #isa                         \
    }

MIMIC_SOFTMAX_DECLARE(scalar)
MIMIC_SOFTMAX_DECLARE(avx2)
MIMIC_SOFTMAX_DECLARE(avx512)
MIMIC_SOFTMAX_DECLARE(neon)

#endif
