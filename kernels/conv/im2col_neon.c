// NEON im2col / col2im / transpose: the row primitives of im2col_template.h on 4 lanes (NEON
// has no masked loads: tails are scalar), stride-2 gathers by vld2q's de-interleave, and 4x4
// register transposes.
#include <arm_neon.h>

#include "kernels/conv/im2col.h"

#define MIMIC_CONV_ISA neon

static inline void copy_row(float *dst, const float *src, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const float32x4_t v0 = vld1q_f32(src + i), v1 = vld1q_f32(src + i + 4);
        const float32x4_t v2 = vld1q_f32(src + i + 8), v3 = vld1q_f32(src + i + 12);
        vst1q_f32(dst + i, v0);
        vst1q_f32(dst + i + 4, v1);
        vst1q_f32(dst + i + 8, v2);
        vst1q_f32(dst + i + 12, v3);
    }
    for (; i + 4 <= n; i += 4)
        vst1q_f32(dst + i, vld1q_f32(src + i));
    for (; i < n; i++)
        dst[i] = src[i];
}

static inline void zero_row(float *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(dst + i, vdupq_n_f32(0.0f));
    for (; i < n; i++)
        dst[i] = 0.0f;
}

static inline void gather_row(float *dst, const float *src, int64_t n, int64_t stride)
{
    int64_t i = 0;
    // vld2q reads src[2i .. 2i + 7]: stop one element early to stay within src[2(n - 1)].
    if (stride == 2)
        for (; i + 4 < n; i += 4)
            vst1q_f32(dst + i, vld2q_f32(src + 2 * i).val[0]);
    for (; i < n; i++)
        dst[i] = src[i * stride];
}

static inline void add_row(float *dst, const float *src, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(dst + i, vaddq_f32(vld1q_f32(dst + i), vld1q_f32(src + i)));
    for (; i < n; i++)
        dst[i] += src[i];
}

#define VL 4
typedef float32x4_t vf;

static inline vf v_load(const float *p)
{
    return vld1q_f32(p);
}

static inline void v_store(float *p, vf v)
{
    vst1q_f32(p, v);
}

// No masked loads or stores: partial vectors go lane by lane (the lanes not selected may lie
// outside the buffer and are never touched).
static inline vf v_loadz_bits(uint32_t bits, const float *p)
{
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int l = 0; l < 4; l++)
        if (bits >> l & 1u)
            t[l] = p[l];
    return vld1q_f32(t);
}

static inline void v_store_bits(float *p, vf v, uint32_t bits)
{
    float t[4];
    vst1q_f32(t, v);
    for (int l = 0; l < 4; l++)
        if (bits >> l & 1u)
            p[l] = t[l];
}

static inline vf v_bias_act(vf x, float b, int relu)
{
    const vf v = vaddq_f32(x, vdupq_n_f32(b));
    if (!relu)
        return v;
    // Zero where v < 0 (false for NaN, which is kept).
    return vbslq_f32(vcltq_f32(v, vdupq_n_f32(0.0f)), vdupq_n_f32(0.0f), v);
}

static inline vf v_keep_pos(vf y, vf m)
{
    return vreinterpretq_f32_u32(
        vandq_u32(vreinterpretq_u32_f32(y), vcgtq_f32(m, vdupq_n_f32(0.0f))));
}

// fwd_taps: 4 rows x 6 vectors (24 pixels) = 24 accumulators, the tap's 6 vectors and a
// broadcast weight, of the 32 registers.
#define TAPS_MR 4
#define TAPS_NV 6

static inline vf v_zero(void)
{
    return vdupq_n_f32(0.0f);
}

static inline vf v_set1(float x)
{
    return vdupq_n_f32(x);
}

static inline vf v_fma(vf a, vf b, vf c)
{
    return vfmaq_f32(c, a, b);
}

#include "kernels/conv/im2col_template.h"

// One full 4x4 block.
static void transpose_4x4(const float *src, size_t lds, float *dst, size_t ldd)
{
    const float32x4x2_t t01 = vtrnq_f32(vld1q_f32(src), vld1q_f32(src + lds));
    const float32x4x2_t t23 = vtrnq_f32(vld1q_f32(src + 2 * lds), vld1q_f32(src + 3 * lds));
    vst1q_f32(dst, vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0])));
    vst1q_f32(dst + ldd, vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1])));
    vst1q_f32(dst + 2 * ldd, vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0])));
    vst1q_f32(dst + 3 * ldd, vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1])));
}

void mimic_transpose__neon(size_t rows, size_t cols, const float *src, size_t lds, float *dst,
                           size_t ldd)
{
    for (size_t i0 = 0; i0 < rows; i0 += 4)
        for (size_t j0 = 0; j0 < cols; j0 += 4) {
            if (i0 + 4 <= rows && j0 + 4 <= cols) {
                transpose_4x4(src + i0 * lds + j0, lds, dst + j0 * ldd + i0, ldd);
                continue;
            }
            for (size_t j = j0; j < cols && j < j0 + 4; j++) // the ragged edge
                for (size_t i = i0; i < rows && i < i0 + 4; i++)
                    dst[j * ldd + i] = src[i * lds + j];
        }
}
