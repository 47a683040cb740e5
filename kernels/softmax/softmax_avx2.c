// AVX2+FMA softmax and loss row passes: the vector API of softmax_template.h on 8 lanes, tails
// through vmaskmovps with a lane mask from a sliding table.
#include <immintrin.h>
#include <stdint.h>

#include "kernels/softmax/softmax_kernels.h"

#define MIMIC_SOFTMAX_ISA avx2
#define VLEN MIMIC_SOFTMAX_LANES_avx2
typedef __m256 vf;
typedef __m256i vtail;

// 8 ones then 8 zeros: the mask of the first r lanes starts at index 8 - r.
static const int32_t tail_masks[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline vf v_set1(float a)
{
    return _mm256_set1_ps(a);
}
static inline vf v_load(const float *p)
{
    return _mm256_loadu_ps(p);
}
static inline void v_store(float *p, vf v)
{
    _mm256_storeu_ps(p, v);
}
static inline vtail v_tail(size_t r)
{
    return _mm256_loadu_si256((const __m256i *)(tail_masks + 8 - r));
}
static inline vf v_load_tail(const float *p, vtail k, float fill)
{
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, k), _mm256_castsi256_ps(k));
}
static inline void v_store_tail(float *p, vtail k, vf v)
{
    _mm256_maskstore_ps(p, k, v);
}
static inline vf v_add_tail(vf acc, vtail k, vf v)
{
    return _mm256_add_ps(acc, _mm256_and_ps(v, _mm256_castsi256_ps(k)));
}
static inline vf v_add(vf a, vf b)
{
    return _mm256_add_ps(a, b);
}
static inline vf v_sub(vf a, vf b)
{
    return _mm256_sub_ps(a, b);
}
static inline vf v_mul(vf a, vf b)
{
    return _mm256_mul_ps(a, b);
}
static inline vf v_fma(vf a, vf b, vf c)
{
    return _mm256_fmadd_ps(a, b, c);
}
static inline vf v_fms(vf a, vf b, vf c)
{
    return _mm256_fmsub_ps(a, b, c);
}
// vmaxps returns its second operand when either is NaN.
static inline vf v_max(vf x, vf acc)
{
    return _mm256_max_ps(x, acc);
}
static inline vf v_keep_pos(vf p, vf v)
{
    return _mm256_and_ps(v, _mm256_cmp_ps(p, _mm256_setzero_ps(), _CMP_GT_OQ));
}
static inline int v_any_gt(vf a, vf limit)
{
    return _mm256_movemask_ps(_mm256_cmp_ps(a, limit, _CMP_GT_OQ)) != 0;
}
static inline float v_hsum(vf v)
{
    __m128 v4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    v4 = _mm_add_ps(v4, _mm_movehl_ps(v4, v4));
    return _mm_cvtss_f32(_mm_add_ss(v4, _mm_movehdup_ps(v4)));
}
static inline float v_hmax(vf v)
{
    __m128 v4 = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    v4 = _mm_max_ps(v4, _mm_movehl_ps(v4, v4));
    return _mm_cvtss_f32(_mm_max_ss(v4, _mm_movehdup_ps(v4)));
}

// vmaxps / vminps return the second operand when either is NaN: x goes second.
static inline vf v_clamp(vf x, vf lo, vf hi)
{
    return _mm256_min_ps(hi, _mm256_max_ps(lo, x));
}
// p * 2^(e >> 1) * 2^(e - (e >> 1)) / 2^254 with e = n + 254 in the low bits of nr (the high
// bits of nr shift out): both factors are normal.
static inline vf v_mul_pow2(vf vp, vf vn, vf vnr)
{
    (void)vn;
    const __m256i vb = _mm256_castps_si256(vnr), vh = _mm256_srli_epi32(vb, 1);
    const vf vs1 = _mm256_castsi256_ps(_mm256_slli_epi32(vh, 23));
    const vf vs2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_sub_epi32(vb, vh), 23));
    return v_mul(v_mul(vp, vs1), vs2);
}

// p * 2^n for n in [-126, 127]: the exponent field n + 127 is the low bits of nr minus 127.
#define V_EXP_NORMAL 1
static inline vf v_mul_pow2_normal(vf vp, vf vnr)
{
    const __m256i ve = _mm256_sub_epi32(_mm256_castps_si256(vnr), _mm256_set1_epi32(127));
    return v_mul(vp, _mm256_castsi256_ps(_mm256_slli_epi32(ve, 23)));
}
static inline vf v_min(vf a, vf b)
{
    return _mm256_min_ps(a, b);
}
static inline int v_any_lt(vf a, vf limit)
{
    return _mm256_movemask_ps(_mm256_cmp_ps(a, limit, _CMP_LT_OQ)) != 0;
}

#include "kernels/softmax/exp_vector.h"

// ---------------------------------------------------------------- 8 short rows across lanes

// r[j] becomes column j of the 8 x 8 block whose rows were r[0..7].
static inline void transpose8(vf r[8])
{
    vf t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) { // rows 0-3, then 4-7
        vf *th = t + 4 * h, *uh = u + 4 * h;
        uh[0] = _mm256_shuffle_ps(th[0], th[2], _MM_SHUFFLE(1, 0, 1, 0));
        uh[1] = _mm256_shuffle_ps(th[0], th[2], _MM_SHUFFLE(3, 2, 3, 2));
        uh[2] = _mm256_shuffle_ps(th[1], th[3], _MM_SHUFFLE(1, 0, 1, 0));
        uh[3] = _mm256_shuffle_ps(th[1], th[3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20);
        r[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
    }
}

// Columns [c0, c0 + 8) of 8 rows of n floats, as columns (lanes = rows); only the first
// n - c0 are meaningful. Masked loads when the row has fewer than 8 left: no read past a
// row of the block's last row.
static inline void load_cols8(const float *x, size_t n, size_t c0, vf col[8])
{
    const size_t w = n - c0;
    const vtail t = v_tail(w < 8 ? w : 8);
    for (size_t i = 0; i < 8; i++)
        col[i] = w >= 8 ? v_load(x + i * n + c0) : _mm256_maskload_ps(x + i * n + c0, t);
    transpose8(col);
}

static inline void store_cols8(float *y, size_t n, size_t c0, vf col[8])
{
    const size_t w = n - c0;
    const vtail t = v_tail(w < 8 ? w : 8);
    transpose8(col);
    for (size_t i = 0; i < 8; i++) {
        if (w >= 8)
            v_store(y + i * n + c0, col[i]);
        else
            v_store_tail(y + i * n + c0, t, col[i]);
    }
}

// The template's rows_across, on 8 rows of up to 16 floats: two 8 x 8 transposes each way.
#define V_ROWS_ACROSS_MAX 16
static inline void v_load_cols(const float *x, size_t n, vf c[])
{
    load_cols8(x, n, 0, c);
    if (n > 8)
        load_cols8(x, n, 8, c + 8);
}
static inline void v_store_cols(float *y, size_t n, vf c[])
{
    store_cols8(y, n, 0, c);
    if (n > 8)
        store_cols8(y, n, 8, c + 8);
}
static inline vf v_div(vf a, vf b)
{
    return _mm256_div_ps(a, b);
}

#include "kernels/softmax/softmax_template.h"
