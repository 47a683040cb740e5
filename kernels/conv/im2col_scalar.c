// Portable im2col / col2im / transpose: the row primitives of im2col_template.h as plain
// loops (memcpy / memset for the contiguous ones), the transpose in 8x8 blocks.
#include <string.h>

#include "kernels/conv/im2col.h"

#define MIMIC_CONV_ISA scalar

static inline void copy_row(float *dst, const float *src, int64_t n)
{
    if (n > 0)
        memcpy(dst, src, (size_t)n * sizeof(float));
}

static inline void zero_row(float *dst, int64_t n)
{
    if (n > 0)
        memset(dst, 0, (size_t)n * sizeof(float));
}

static inline void gather_row(float *dst, const float *src, int64_t n, int64_t stride)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = src[i * stride];
}

static inline void add_row(float *dst, const float *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] += src[i];
}

#define VL 1
typedef float vf;

static inline vf v_load(const float *p)
{
    return *p;
}

static inline void v_store(float *p, vf v)
{
    *p = v;
}

static inline vf v_loadz_bits(uint32_t bits, const float *p)
{
    return bits ? *p : 0.0f;
}

static inline void v_store_bits(float *p, vf v, uint32_t bits)
{
    if (bits)
        *p = v;
}

static inline vf v_bias_act(vf x, float b, int relu)
{
    const vf v = x + b;
    return relu && v < 0.0f ? 0.0f : v;
}

static inline vf v_keep_pos(vf y, vf m)
{
    return m > 0.0f ? y : 0.0f;
}

// fwd_taps: 4 rows x 4 pixels; multiply then add, as the scalar GEMM tile writes it.
#define TAPS_MR 4
#define TAPS_NV 4

static inline vf v_zero(void)
{
    return 0.0f;
}

static inline vf v_set1(float x)
{
    return x;
}

static inline vf v_fma(vf a, vf b, vf c)
{
    return c + a * b;
}

#include "kernels/conv/im2col_template.h"

// Blocks of 8x8 keep both the rows read and the rows written within a few cache lines.
#define TB 8

void mimic_transpose__scalar(size_t rows, size_t cols, const float *src, size_t lds, float *dst,
                             size_t ldd)
{
    for (size_t i0 = 0; i0 < rows; i0 += TB)
        for (size_t j0 = 0; j0 < cols; j0 += TB) {
            const size_t i1 = i0 + TB < rows ? i0 + TB : rows;
            const size_t j1 = j0 + TB < cols ? j0 + TB : cols;
            for (size_t j = j0; j < j1; j++)
                for (size_t i = i0; i < i1; i++)
                    dst[j * ldd + i] = src[i * lds + j];
        }
}
