// NEON softmax and loss row passes: the vector API of softmax_template.h on 4 lanes. NEON has
// no masked load or store, so a tail of 1-3 elements goes through a 4-float stack buffer.
#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#include "kernels/softmax/softmax_kernels.h"

#define MIMIC_SOFTMAX_ISA neon
#define VLEN MIMIC_SOFTMAX_LANES_neon
typedef float32x4_t vf;
typedef size_t vtail;

// 4 ones then 4 zeros: the mask of the first r lanes starts at index 4 - r.
static const uint32_t tail_masks[8] = {~0u, ~0u, ~0u, ~0u, 0, 0, 0, 0};

static inline vf v_set1(float a)
{
    return vdupq_n_f32(a);
}
static inline vf v_load(const float *p)
{
    return vld1q_f32(p);
}
static inline void v_store(float *p, vf v)
{
    vst1q_f32(p, v);
}
static inline vtail v_tail(size_t r)
{
    return r;
}
static inline vf v_load_tail(const float *p, vtail r, float fill)
{
    float buf[4] = {fill, fill, fill, fill};
    memcpy(buf, p, r * sizeof *p);
    return vld1q_f32(buf);
}
static inline void v_store_tail(float *p, vtail r, vf v)
{
    float buf[4];
    vst1q_f32(buf, v);
    memcpy(p, buf, r * sizeof *p);
}
static inline vf v_add_tail(vf acc, vtail r, vf v)
{
    const uint32x4_t vmask = vld1q_u32(tail_masks + 4 - r);
    return vaddq_f32(acc, vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), vmask)));
}
static inline vf v_add(vf a, vf b)
{
    return vaddq_f32(a, b);
}
static inline vf v_sub(vf a, vf b)
{
    return vsubq_f32(a, b);
}
static inline vf v_mul(vf a, vf b)
{
    return vmulq_f32(a, b);
}
static inline vf v_fma(vf a, vf b, vf c)
{
    return vfmaq_f32(c, a, b);
}
static inline vf v_fms(vf a, vf b, vf c)
{
    return vnegq_f32(vfmsq_f32(c, a, b)); // -(c - a*b), one rounding like x86's vfmsub
}
// FMAXNM returns the number when one operand is NaN.
static inline vf v_max(vf x, vf acc)
{
    return vmaxnmq_f32(x, acc);
}
static inline vf v_keep_pos(vf p, vf v)
{
    const uint32x4_t vpos = vcgtq_f32(p, vdupq_n_f32(0.0f));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), vpos));
}
static inline int v_any_gt(vf a, vf limit)
{
    return vmaxvq_u32(vcgtq_f32(a, limit)) != 0;
}
static inline float v_hsum(vf v)
{
    return vaddvq_f32(v);
}
static inline float v_hmax(vf v)
{
    return vmaxvq_f32(v);
}

// FMAX / FMIN return NaN when either operand is NaN.
static inline vf v_clamp(vf x, vf lo, vf hi)
{
    return vminq_f32(vmaxq_f32(x, lo), hi);
}
// p * 2^(e >> 1) * 2^(e - (e >> 1)) / 2^254 with e = n + 254 in the low bits of nr (the high
// bits of nr shift out): both factors are normal.
static inline vf v_mul_pow2(vf vp, vf vn, vf vnr)
{
    (void)vn;
    const uint32x4_t vb = vreinterpretq_u32_f32(vnr), vh = vshrq_n_u32(vb, 1);
    const vf vs1 = vreinterpretq_f32_u32(vshlq_n_u32(vh, 23));
    const vf vs2 = vreinterpretq_f32_u32(vshlq_n_u32(vsubq_u32(vb, vh), 23));
    return v_mul(v_mul(vp, vs1), vs2);
}

#include "kernels/softmax/exp_vector.h"
#include "kernels/softmax/softmax_template.h"
