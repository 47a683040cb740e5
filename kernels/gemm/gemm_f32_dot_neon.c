// NEON dot-product GEMM tile, 4x4: 16 q-register accumulators of the 32; the K tail through a
// zero-filled copy. The body is gemm_dot_template.h.
#include <arm_neon.h>
#include <string.h>

#include "kernels/gemm/gemm_ukernels.h"

#define V float32x4_t
#define VLEN 4
#define DOT_MR 4
#define DOT_NR 4
#define DOT_FN mimic_gemm_f32_dot_4x4__neon
#define v_zero() vdupq_n_f32(0.0f)
#define v_load(p) vld1q_f32(p)
#define v_fma(a, b, acc) vfmaq_f32((acc), (a), (b))

static inline float32x4_t v_load_tail(const float *p, size_t r)
{
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(t, p, r * sizeof(float));
    return vld1q_f32(t);
}

// Lane sums of four vectors by two rounds of pairwise adds.
static inline void v_sum4(float32x4_t a, float32x4_t b, float32x4_t c, float32x4_t d,
                          float out[4])
{
    vst1q_f32(out, vpaddq_f32(vpaddq_f32(a, b), vpaddq_f32(c, d)));
}

#include "kernels/gemm/gemm_dot_template.h"
