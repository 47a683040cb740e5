// AVX-512 softmax and loss row passes: the vector API of softmax_template.h on 16 lanes, tails
// through __mmask16 masked loads and stores.
#include <immintrin.h>

#include "kernels/softmax/softmax_kernels.h"

#define MIMIC_SOFTMAX_ISA avx512
#define VLEN MIMIC_SOFTMAX_LANES_avx512
typedef __m512 vf;
typedef __mmask16 vtail;

static inline vf v_set1(float a)
{
    return _mm512_set1_ps(a);
}
static inline vf v_load(const float *p)
{
    return _mm512_loadu_ps(p);
}
static inline void v_store(float *p, vf v)
{
    _mm512_storeu_ps(p, v);
}
static inline vtail v_tail(size_t r)
{
    return (vtail)((1u << r) - 1u);
}
static inline vf v_load_tail(const float *p, vtail k, float fill)
{
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), k, p);
}
static inline void v_store_tail(float *p, vtail k, vf v)
{
    _mm512_mask_storeu_ps(p, k, v);
}
static inline vf v_add_tail(vf acc, vtail k, vf v)
{
    return _mm512_mask_add_ps(acc, k, acc, v);
}
static inline vf v_add(vf a, vf b)
{
    return _mm512_add_ps(a, b);
}
static inline vf v_sub(vf a, vf b)
{
    return _mm512_sub_ps(a, b);
}
static inline vf v_mul(vf a, vf b)
{
    return _mm512_mul_ps(a, b);
}
static inline vf v_fma(vf a, vf b, vf c)
{
    return _mm512_fmadd_ps(a, b, c);
}
static inline vf v_fms(vf a, vf b, vf c)
{
    return _mm512_fmsub_ps(a, b, c);
}
// vmaxps returns its second operand when either is NaN.
static inline vf v_max(vf x, vf acc)
{
    return _mm512_max_ps(x, acc);
}
static inline vf v_keep_pos(vf p, vf v)
{
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(p, _mm512_setzero_ps(), _CMP_GT_OQ), v);
}
static inline int v_any_gt(vf a, vf limit)
{
    return _mm512_cmp_ps_mask(a, limit, _CMP_GT_OQ) != 0;
}
static inline float v_hsum(vf v)
{
    return _mm512_reduce_add_ps(v);
}
static inline float v_hmax(vf v)
{
    return _mm512_reduce_max_ps(v);
}

// vmaxps / vminps return the second operand when either is NaN: x goes second.
static inline vf v_clamp(vf x, vf lo, vf hi)
{
    return _mm512_min_ps(hi, _mm512_max_ps(lo, x));
}
// vscalefps computes p * 2^n with one rounding, subnormal results included: the same value as
// the two normal factors of exp_scalar.h (p * 2^(n >> 1) is exact, the second product rounds
// once), in one instruction instead of seven integer operations and two multiplies.
static inline vf v_mul_pow2(vf vp, vf vn, vf vnr)
{
    (void)vnr;
    return _mm512_scalef_ps(vp, vn);
}

#include "kernels/softmax/exp_vector.h"
#include "kernels/softmax/softmax_template.h"
