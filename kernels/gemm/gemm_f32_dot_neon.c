// NEON dot-product GEMM tile, 4x6: 24 q-register accumulators, the 4 A vectors and one B
// vector (29 of the 32), the AVX-512 tile's shape, sized by the register file (no AArch64
// hardware here to measure it on); the K tail through a zero-filled copy. The body is gemm_dot_template.h.
#include <arm_neon.h>
#include <string.h>

#include "kernels/gemm/gemm_ukernels.h"

#define V float32x4_t
#define VLEN 4
#define DOT_MR 4
#define DOT_NR 6
#define DOT_A_FIRST 1
#define DOT_FN mimic_gemm_f32_dot_4x6__neon
#define v_zero() vdupq_n_f32(0.0f)
#define v_load(p) vld1q_f32(p)
#define v_fma(a, b, acc) vfmaq_f32((acc), (a), (b))
#define v_keep(x) ((void)0)

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
