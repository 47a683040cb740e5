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

// ---------------------------------------------------------------- 16 short rows across lanes

// r[j] becomes column j of the 16 x 16 block whose rows were r[0..15] (its own inverse).
// Stage 1 and 2 transpose the 4 x 4 blocks inside each 128-bit lane: s[4g + k], lane L, is
// column 4L + k of rows 4g..4g+3; stages 3 and 4 gather each column's four lanes.
static inline void transpose16(vf r[16])
{
    vf t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) {
        r[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int k = 0; k < 4; k++) {
        // x: columns k and 8 + k of rows 0-7, y: 4 + k and 12 + k; x2, y2 of rows 8-15.
        const vf x = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x88);
        const vf y = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xDD);
        const vf x2 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x88);
        const vf y2 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xDD);
        t[k] = _mm512_shuffle_f32x4(x, x2, 0x88);
        t[8 + k] = _mm512_shuffle_f32x4(x, x2, 0xDD);
        t[4 + k] = _mm512_shuffle_f32x4(y, y2, 0x88);
        t[12 + k] = _mm512_shuffle_f32x4(y, y2, 0xDD);
    }
    for (int j = 0; j < 16; j++)
        r[j] = t[j];
}

// The template's rows_across, on 16 rows of up to 16 floats: one masked load and store per
// row, one 16 x 16 transpose each way.
#define V_ROWS_ACROSS_MAX 16
static inline void v_load_cols(const float *x, size_t n, vf c[])
{
    for (size_t i = 0; i < 16; i++)
        c[i] = _mm512_maskz_loadu_ps(v_tail(n), x + i * n);
    transpose16(c);
}
static inline void v_store_cols(float *y, size_t n, vf c[])
{
    transpose16(c);
    for (size_t i = 0; i < 16; i++)
        v_store_tail(y + i * n, v_tail(n), c[i]);
}
static inline vf v_div(vf a, vf b)
{
    return _mm512_div_ps(a, b);
}

#include "kernels/softmax/softmax_template.h"
