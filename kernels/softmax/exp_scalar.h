// Portable single-precision exp: the algorithm every ISA variant implements.
// Range reduction x = n*ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact n*ln2_hi),
// a degree-6 polynomial for e^r (Cephes' expf coefficients, error about 1 ulp), then 2^n
// applied as two factors so results down to the smallest subnormal come out right.
// x > 88.72 gives +inf, x < -103.97 gives 0, -inf gives 0, NaN gives NaN.
// The SIMD variants (softmax_<isa>.c) use the constants below, so there is one copy of them.
#ifndef MIMIC_EXP_SCALAR_H
#define MIMIC_EXP_SCALAR_H

#include <stdint.h>
#include <math.h>
#include <string.h>

#define MIMIC_EXP_HI 88.72283935546875f   // smallest float whose e^x overflows (e^HI -> +inf)
#define MIMIC_EXP_LO -103.97208404541016f // largest float whose e^x rounds to 0
// Arguments whose n = round(x log2e) is in [-126, 127]: 2^n is one normal float.
#define MIMIC_EXP_NORMAL_LO -87.0f
#define MIMIC_EXP_NORMAL_HI 88.0f
#define MIMIC_EXP_ROUND 12582912.0f       // 1.5 * 2^23: adding it rounds to an integer
#define MIMIC_EXP_LOG2E 1.44269504088896341f
#define MIMIC_EXP_LN2_HI 0.693359375f    // few bits, so n * LN2_HI is exact for |n| <= 150
#define MIMIC_EXP_LN2_LO -2.12194440e-4f // ln2 - LN2_HI
#define MIMIC_EXP_C6 1.9875691500e-4f
#define MIMIC_EXP_C5 1.3981999507e-3f
#define MIMIC_EXP_C4 8.3334519073e-3f
#define MIMIC_EXP_C3 4.1665795894e-2f
#define MIMIC_EXP_C2 1.6666665459e-1f
#define MIMIC_EXP_C1 5.0000001201e-1f // e^r = 1 + r + r^2 * (C1 + C2 r + ... + C6 r^5)

// 2^t = 2^n * 2^f with n = round(t), f = t - n in [-1/2, 1/2] (exact): the online pass's exp,
// whose argument arrives in log2 units (the factor log2(e) folded into 1/T), so the range
// reduction needs no split ln2. Degree-6 minimax polynomial for 2^f (relative error 0.14 ulp
// on [-1/2, 1/2], fitted by linear programming on 20001 points); t in [EXP2_LO, EXP2_HI].
#define MIMIC_EXP2_HI 128.0f  // 2^128 = +inf
#define MIMIC_EXP2_LO -150.0f // 2^-150 rounds to 0
#define MIMIC_EXP2_NORMAL_LO -126.0f
#define MIMIC_EXP2_NORMAL_HI 127.0f
#define MIMIC_EXP2_C1 6.931471807e-01f
#define MIMIC_EXP2_C2 2.402265071e-01f
#define MIMIC_EXP2_C3 5.550361150e-02f
#define MIMIC_EXP2_C4 9.617655353e-03f
#define MIMIC_EXP2_C5 1.339086774e-03f
#define MIMIC_EXP2_C6 1.564093627e-04f

static inline float mimic_bits_to_float(int32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline float mimic_expf(float x)
{
    // NaN is replaced by 0 here (and restored at the end) so the integer conversion below
    // never sees it.
    float xc = x < MIMIC_EXP_LO ? MIMIC_EXP_LO : (x > MIMIC_EXP_HI ? MIMIC_EXP_HI : x);
    xc = x != x ? 0.0f : xc;
    const float n = (xc * MIMIC_EXP_LOG2E + MIMIC_EXP_ROUND) - MIMIC_EXP_ROUND;
    float r = xc - n * MIMIC_EXP_LN2_HI;
    r = r - n * MIMIC_EXP_LN2_LO;
    float p = MIMIC_EXP_C6;
    p = p * r + MIMIC_EXP_C5;
    p = p * r + MIMIC_EXP_C4;
    p = p * r + MIMIC_EXP_C3;
    p = p * r + MIMIC_EXP_C2;
    p = p * r + MIMIC_EXP_C1;
    p = p * (r * r) + r + 1.0f;
    // 2^n with n in [-150, 128] as 2^n1 * 2^n2, each factor a normal float.
    const int32_t ni = (int32_t)n;
    const int32_t n1 = ni / 2, n2 = ni - n1;
    float y = p * mimic_bits_to_float((int32_t)((uint32_t)(n1 + 127) << 23)) *
              mimic_bits_to_float((int32_t)((uint32_t)(n2 + 127) << 23));
    y = x > MIMIC_EXP_HI ? (float)INFINITY : y;
    y = x < MIMIC_EXP_LO ? 0.0f : y;
    return x != x ? x : y;
}

#endif
