// Portable dot-product GEMM tile, 4x2, on GCC/Clang generic 4-lane vectors (SSE on baseline
// x86-64, NEON-width elsewhere): 8 accumulators of the 16 baseline registers. One-lane sums
// ran 1.5x slower than the blocked 4x8 path, which the compiler vectorizes. The body is
// gemm_dot_template.h.
#include <string.h>

#include "kernels/gemm/gemm_ukernels.h"

typedef float v4f __attribute__((vector_size(16)));

#define V v4f
#define VLEN 4
#define DOT_MR 4
#define DOT_NR 2
#define DOT_A_FIRST 0
#define DOT_FN mimic_gemm_f32_dot_4x2__scalar
#define v_zero() ((v4f){0.0f, 0.0f, 0.0f, 0.0f})
#define v_fma(a, b, acc) ((acc) + (a) * (b))
#define v_keep(x) ((void)0)

static inline v4f v_load(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline v4f v_load_tail(const float *p, size_t r)
{
    v4f v = v_zero();
    memcpy(&v, p, r * sizeof(float));
    return v;
}

// Lane sums, lanes (0 + 1) + (2 + 3) as the NEON pairwise adds do.
static inline void v_sum4(v4f a, v4f b, v4f c, v4f d, float out[4])
{
    out[0] = (a[0] + a[1]) + (a[2] + a[3]);
    out[1] = (b[0] + b[1]) + (b[2] + b[3]);
    out[2] = (c[0] + c[1]) + (c[2] + c[3]);
    out[3] = (d[0] + d[1]) + (d[2] + d[3]);
}

#include "kernels/gemm/gemm_dot_template.h"
