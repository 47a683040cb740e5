// exp_scalar.h's algorithm over the vector API of softmax_template.h, for every ISA; each
// softmax_<isa>.c includes it after defining the API and these two helpers:
//   vf v_clamp(vf x, vf lo, vf hi): min(hi, max(lo, x)) with NaN passed through
//   vf v_mul_pow2(vf p, vf n, vf nr): p * 2^n for the integer n in [-150, 128], rounded once
//   (two normal factors, or vscalefps). nr = n + 254 + 1.5*2^23: its low bits hold
//   e = n + 254 in [104, 382], so the factors' exponent fields are e >> 1 and e - (e >> 1),
//   two shifts and a subtraction away.
// and optionally (V_EXP_NORMAL) vf v_mul_pow2_normal(vf p, vf nr): p * 2^n for n in
// [-126, 127], one normal factor, for exp_normal_any; with V_EXP_NORMAL_EACH also
// int v_in_range(vf x, float lo, float hi): every lane in [lo, hi], which v_exp and v_exp2
// check first against their normal ranges (where the clamp and the two factors cost more than
// the check).
// The clamp passing NaN through makes NaN come out as NaN with no select; a clamped x >= HI
// gives p * 2^128 = +inf and x <= LO gives p * 2^-150 -> 0, which is what the scalar selects
// produce. FMA where the ISA has it (where mimic_expf rounds twice: no less accurate); the
// scalar ISA's v_fma rounds twice, so there the steps are mimic_expf's exactly.
#ifndef MIMIC_EXP_VECTOR_H
#define MIMIC_EXP_VECTOR_H

#include "kernels/softmax/exp_scalar.h"

// e^r on [-ln2/2, ln2/2] for x = n ln2 + r (x clamped), and nr.
static inline vf exp_reduced(vf vxc, vf *vnr_out, vf *vn_out)
{
    const vf vround = v_set1(MIMIC_EXP_ROUND + 254.0f); // still rounds to an integer
    const vf vnr = v_fma(vxc, v_set1(MIMIC_EXP_LOG2E), vround); // the add rounds to an integer
    const vf vn = v_sub(vnr, vround);
    vf vr = v_fma(vn, v_set1(-MIMIC_EXP_LN2_HI), vxc);
    vr = v_fma(vn, v_set1(-MIMIC_EXP_LN2_LO), vr);
    vf vp = v_fma(v_set1(MIMIC_EXP_C6), vr, v_set1(MIMIC_EXP_C5));
    vp = v_fma(vp, vr, v_set1(MIMIC_EXP_C4));
    vp = v_fma(vp, vr, v_set1(MIMIC_EXP_C3));
    vp = v_fma(vp, vr, v_set1(MIMIC_EXP_C2));
    vp = v_fma(vp, vr, v_set1(MIMIC_EXP_C1));
    *vnr_out = vnr, *vn_out = vn;
    return v_add(v_fma(vp, v_mul(vr, vr), vr), v_set1(1.0f));
}

// 2^t (exp_scalar.h's MIMIC_EXP2_*): n = round(t) and f = t - n (exact) by the same rounding
// constant as exp_reduced, then the polynomial; with v_mul_pow2, 8 multiply-adds against
// v_exp's 12, the point of the online pass's log2 units.
static inline vf exp2_reduced(vf vt, vf *vnr_out, vf *vn_out)
{
    const vf vround = v_set1(MIMIC_EXP_ROUND + 254.0f);
    const vf vnr = v_add(vt, vround); // rounds to an integer
    const vf vn = v_sub(vnr, vround);
    const vf vf_ = v_sub(vt, vn);
    vf vp = v_fma(v_set1(MIMIC_EXP2_C6), vf_, v_set1(MIMIC_EXP2_C5));
    vp = v_fma(vp, vf_, v_set1(MIMIC_EXP2_C4));
    vp = v_fma(vp, vf_, v_set1(MIMIC_EXP2_C3));
    vp = v_fma(vp, vf_, v_set1(MIMIC_EXP2_C2));
    vp = v_fma(vp, vf_, v_set1(MIMIC_EXP2_C1));
    *vnr_out = vnr, *vn_out = vn;
    return v_fma(vp, vf_, v_set1(1.0f));
}

// Both functions through one body: base2 = 0 for e^x, 1 for 2^x (a constant after inlining).
static inline vf exp_reduced_any(vf x, int base2, vf *vnr, vf *vn)
{
    return base2 ? exp2_reduced(x, vnr, vn) : exp_reduced(x, vnr, vn);
}

#ifdef V_EXP_NORMAL
// For x in the function's normal range ([MIMIC_EXP_NORMAL_LO, MIMIC_EXP_NORMAL_HI] or the
// EXP2 one) and NaN, which gives NaN: n is in [-126, 127], so there is nothing to clamp and 2^n
// is one normal float (v_mul_pow2_normal), whose product with p rounds once as the two
// factors' does: the same values.
static inline vf exp_normal_any(vf x, int base2)
{
    vf vnr, vn;
    const vf vp = exp_reduced_any(x, base2, &vnr, &vn);
    return v_mul_pow2_normal(vp, vnr);
}
#endif

static inline vf exp_any(vf x, int base2)
{
    const float lo = base2 ? MIMIC_EXP2_LO : MIMIC_EXP_LO;
    const float hi = base2 ? MIMIC_EXP2_HI : MIMIC_EXP_HI;
#ifdef V_EXP_NORMAL_EACH
    // The ISA's short form whenever this vector's lanes all lie in its range.
    if (v_in_range(x, base2 ? MIMIC_EXP2_NORMAL_LO : MIMIC_EXP_NORMAL_LO,
                   base2 ? MIMIC_EXP2_NORMAL_HI : MIMIC_EXP_NORMAL_HI))
        return exp_normal_any(x, base2);
#endif
    vf vnr, vn;
    const vf vp = exp_reduced_any(v_clamp(x, v_set1(lo), v_set1(hi)), base2, &vnr, &vn);
    return v_mul_pow2(vp, vn, vnr);
}

static inline vf v_exp(vf x)
{
    return exp_any(x, 0);
}
static inline vf v_exp2(vf t)
{
    return exp_any(t, 1);
}

#endif
