// Portable softmax and loss row passes: the vector API of softmax_template.h on GCC's generic
// vectors of 4 floats, one register of the baseline ISA (SSE2 on x86-64, NEON on AArch64;
// 8-lane vectors, two registers each, were lowered lane by lane: comparisons and selects
// became scalar branches). exp is exp_scalar.h's algorithm operation for operation (no FMA:
// each multiply and add rounds as mimic_expf's do), its selects as lane masks, so the passes
// vectorize without -ffast-math or any assumption about traps. Where SSE is the baseline
// (x86-64) a few lane operations use its intrinsics: maxps, minps, movmskps.
#include <stdint.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "kernels/softmax/exp_scalar.h"
#include "kernels/softmax/softmax_kernels.h"

#define MIMIC_SOFTMAX_ISA scalar
#define VLEN MIMIC_SOFTMAX_LANES_scalar
typedef float vf __attribute__((vector_size(VLEN * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VLEN * sizeof(float))));
typedef uint32_t vu __attribute__((vector_size(VLEN * sizeof(float))));
typedef size_t vtail;
// The tails, the transposes and the SSE casts below are written for 4 lanes.
_Static_assert(VLEN == 4, "softmax_scalar.c is written for 4 lanes");

static inline vf v_set1(float a)
{
    vf v;
    for (int l = 0; l < VLEN; l++)
        v[l] = a;
    return v;
}
static inline vf v_load(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void v_store(float *p, vf v)
{
    memcpy(p, &v, sizeof v);
}
static inline vtail v_tail(size_t r)
{
    return r;
}
// Tails (1 <= r < 4) lane by lane, unrolled: a memcpy of a variable length, or a loop that
// GCC turned into one, became a call to libc's memcpy.
static inline vf v_load_tail(const float *p, vtail r, float fill)
{
    vf v = v_set1(fill);
    v[0] = p[0];
    if (r > 1)
        v[1] = p[1];
    if (r > 2)
        v[2] = p[2];
    return v;
}
static inline void v_store_tail(float *p, vtail r, vf v)
{
    p[0] = v[0];
    if (r > 1)
        p[1] = v[1];
    if (r > 2)
        p[2] = v[2];
}
// Lane mask m (-1 or 0 per lane, from a comparison) selecting a where set, b elsewhere.
static inline vf v_select(vi m, vf a, vf b)
{
    return (vf)(((vi)a & m) | ((vi)b & ~m));
}
static inline vf v_add_tail(vf acc, vtail r, vf v)
{
    vi lane;
    for (int l = 0; l < VLEN; l++)
        lane[l] = l;
    return acc + v_select(lane < (int32_t)r, v, v_set1(0.0f));
}
static inline vf v_add(vf a, vf b)
{
    return a + b;
}
static inline vf v_sub(vf a, vf b)
{
    return a - b;
}
static inline vf v_mul(vf a, vf b)
{
    return a * b;
}
// Two roundings, as the scalar code everywhere (the build never contracts: -std=c11).
static inline vf v_fma(vf a, vf b, vf c)
{
    return a * b + c;
}
static inline vf v_fms(vf a, vf b, vf c)
{
    return a * b - c;
}
// x > acc ? x : acc, which is what maxps computes (its second operand on NaN or equality):
// one instruction where SSE is the baseline instead of a compare and three logic operations.
static inline vf v_max(vf x, vf acc)
{
#if defined(__SSE__)
    return (vf)_mm_max_ps((__m128)x, (__m128)acc);
#else
    return v_select(x > acc, x, acc);
#endif
}
// Some lane set in the comparison mask m: one movmskps where SSE is the baseline (x86-64),
// two shuffles and two logic operations elsewhere.
static inline int v_any(vi m)
{
#if defined(__SSE__)
    return _mm_movemask_ps((__m128)m) != 0;
#else
    m |= __builtin_shuffle(m, (vi){2, 3, 0, 1});
    m |= __builtin_shuffle(m, (vi){1, 0, 3, 2});
    return m[0] != 0;
#endif
}
static inline int v_any_gt(vf a, vf limit)
{
    return v_any(a > limit);
}
static inline int v_any_lt(vf a, vf limit)
{
    return v_any(a < limit);
}
static inline vf v_min(vf a, vf b)
{
#if defined(__SSE__)
    return (vf)_mm_min_ps((__m128)a, (__m128)b);
#else
    return v_select(a < b, a, b);
#endif
}
static inline vf v_keep_pos(vf p, vf v)
{
    return (vf)((vi)v & (p > 0.0f));
}
static inline float v_hsum(vf v)
{
    float s = v[0];
    for (int l = 1; l < VLEN; l++)
        s += v[l];
    return s;
}
static inline float v_hmax(vf v)
{
    float m = v[0];
    for (int l = 1; l < VLEN; l++)
        m = v[l] > m ? v[l] : m;
    return m;
}

// exp_vector.h's helpers. Its v_fma is this file's (two roundings), so its steps are
// mimic_expf's, operation for operation: the same values.
// min(hi, max(lo, x)) with NaN passed through: the comparisons are false for NaN.
static inline vf v_clamp(vf x, vf lo, vf hi)
{
    const vf xl = v_select(x < lo, lo, x);
    return v_select(xl > hi, hi, xl);
}
// p * 2^n as two normal factors 2^(e >> 1) and 2^(e - (e >> 1)) over 2^254, e = n + 254 in
// the low bits of nr: the product rounds once, as mimic_expf's 2^(n/2) * 2^(n - n/2) does.
static inline vf v_mul_pow2(vf vp, vf vn, vf vnr)
{
    (void)vn;
    const vu e = (vu)vnr & 0x1ffu, h = e >> 1;
    return vp * (vf)(h << 23) * (vf)((e - h) << 23);
}
// p * 2^n for n in [-126, 127]: the exponent field n + 127 is the low bits of nr minus 127.
#define V_EXP_NORMAL 1
static inline vf v_mul_pow2_normal(vf vp, vf vnr)
{
    return vp * (vf)(((vu)vnr - 127u) << 23);
}
// Without FMA the clamp's selects and the two factors cost more than a vector's own range
// check (one movmskps on x86-64): v_exp takes the short form whenever its vector allows.
// NaN lanes fail the check.
#define V_EXP_NORMAL_EACH 1
static inline int v_in_range(vf x, float lo, float hi)
{
    const vi m = (x >= lo) & (x <= hi);
#if defined(__SSE__)
    return _mm_movemask_ps((__m128)m) == 0xf;
#else
    return !v_any(~m);
#endif
}

#include "kernels/softmax/exp_vector.h"

// ---------------------------------------------------------------- 4 short rows across lanes

// r[j] becomes column j of the 4 x 4 block whose rows were r[0..3] (unpacks and half moves on
// SSE2, zips on NEON).
static inline void transpose4(vf r[4])
{
    const vf t0 = __builtin_shuffle(r[0], r[1], (vi){0, 4, 1, 5});
    const vf t1 = __builtin_shuffle(r[0], r[1], (vi){2, 6, 3, 7});
    const vf t2 = __builtin_shuffle(r[2], r[3], (vi){0, 4, 1, 5});
    const vf t3 = __builtin_shuffle(r[2], r[3], (vi){2, 6, 3, 7});
    r[0] = __builtin_shuffle(t0, t2, (vi){0, 1, 4, 5});
    r[1] = __builtin_shuffle(t0, t2, (vi){2, 3, 6, 7});
    r[2] = __builtin_shuffle(t1, t3, (vi){0, 1, 4, 5});
    r[3] = __builtin_shuffle(t1, t3, (vi){2, 3, 6, 7});
}

// The template's rows_across, on 4 rows of up to 16 floats: one 4 x 4 transpose per 4
// columns each way; a last block narrower than 4 columns is read and written through
// v_load_tail / v_store_tail, never past the last row's end.
#define V_ROWS_ACROSS_MAX 16
static inline void load_cols4(const float *x, size_t n, size_t c0, vf c[4])
{
    const size_t w = n - c0 < VLEN ? n - c0 : VLEN;
    for (size_t i = 0; i < VLEN; i++)
        c[i] = w == VLEN ? v_load(x + i * n + c0) : v_load_tail(x + i * n + c0, w, 0.0f);
    transpose4(c);
}
static inline void store_cols4(float *y, size_t n, size_t c0, vf c[4])
{
    const size_t w = n - c0 < VLEN ? n - c0 : VLEN;
    transpose4(c);
    for (size_t i = 0; i < VLEN; i++) {
        if (w == VLEN)
            v_store(y + i * n + c0, c[i]);
        else
            v_store_tail(y + i * n + c0, w, c[i]);
    }
}
static inline void v_load_cols(const float *x, size_t n, vf c[])
{
    for (size_t c0 = 0; c0 < V_ROWS_ACROSS_MAX; c0 += VLEN)
        if (c0 < n)
            load_cols4(x, n, c0, c + c0);
}
static inline void v_store_cols(float *y, size_t n, vf c[])
{
    for (size_t c0 = 0; c0 < V_ROWS_ACROSS_MAX; c0 += VLEN)
        if (c0 < n)
            store_cols4(y, n, c0, c + c0);
}
static inline vf v_div(vf a, vf b)
{
    return a / b;
}

#include "kernels/softmax/softmax_template.h"
