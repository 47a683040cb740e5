// The exp of every ISA's softmax passes against exp in double, over the whole range they use it
// on, through the kernel table's exp_sum with m = 0 and 1/T = 1 (then the argument is x itself
// and y[j] = exp(x[j]) as the kernels evaluate it), full vectors and every tail length; and
// likewise the 2^t of the online pass through exp_scale with m = 0, 1/T = ln 2 (whose product
// with log2(e), rounded to float, is exactly 1) and s = 1, against exp2 in double.
//
// Bound tested: EXP_MAX_ULP units in the last place of the correctly rounded float result,
// over [MIMIC_EXP_LO, MIMIC_EXP_HI] including the subnormal results; outside it, and for the
// special values, the exact results (+inf above, 0 below and for -inf, NaN for NaN). The ulp of
// a subnormal result is 2^-149. The sweep takes every EXP_STRIDE-th float of the range (scaled
// by MIMIC_TEST_SCALE) plus every float whose result is subnormal and the floats around 0, LO
// and HI; MIMIC_TEST_EXP_ALL=1 takes every float (about 2.2e9 per ISA; docs/softmax.md lists
// the result).
#include "common.h"

#include "arch/kernels.h"
#include "kernels/softmax/exp_scalar.h"

// Cephes' polynomial is about 1 ulp; the FMA forms of the SIMD kernels round no more often.
#define EXP_MAX_ULP 2.0
#define EXP_STRIDE 97
#define BATCH 4096
#define LN2F 0.693147182f // ln 2 rounded to float

static float bits_float(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static uint32_t float_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

// |got - exp(x)| in units of the last place of the float nearest exp(x).
// Which function: exp (exp_sum) or 2^t (exp_scale in log2 units).
typedef struct {
    const char *name;
    int base2;
    float lo, hi; // results 0 at or below lo, +inf at or above hi
} exp_fn;

static const exp_fn fn_exp = {"exp", 0, MIMIC_EXP_LO, MIMIC_EXP_HI};
static const exp_fn fn_exp2 = {"exp2", 1, MIMIC_EXP2_LO, MIMIC_EXP2_HI};

static double ulp_error(const exp_fn *f, float x, float got) {
    const double e = f->base2 ? exp2((double)x) : exp((double)x);
    const double ulp = e < FLT_MIN ? 0x1p-149 : ldexp(1.0, ilogb(e) - 23);
    return fabs((double)got - e) / ulp;
}

typedef struct {
    double worst;
    float worst_x;
    long count;
} exp_stats;

// f of n values of x through the active ISA's exp_sum (m = 0, inv_t = 1) or exp_scale (m = 0,
// inv_t = ln 2, s = 1).
static void kernel_exp(const exp_fn *f, const float *x, float *y, size_t n) {
    const mimic_softmax_kernels *k = &mimic_kernels_for(mimic_isa_active())->softmax;
    for (size_t j = 0; j < n; j += BATCH) {
        const size_t len = n - j < BATCH ? n - j : BATCH;
        if (f->base2)
            k->exp_scale(x + j, y + j, len, 0.0f, LN2F, 1.0f);
        else
            (void)k->exp_sum(x + j, y + j, len, 0.0f, 1.0f);
    }
}

static void check_batch(const exp_fn *f, const float *x, size_t n, exp_stats *st) {
    float y[BATCH];
    kernel_exp(f, x, y, n);
    for (size_t j = 0; j < n; j++) {
        if (x[j] >= f->hi || x[j] <= f->lo) {
            const float want = x[j] >= f->hi ? INFINITY : 0.0f;
            if (y[j] != want)
                TC_FAIL("%s(%.9g) = %.9g, want %g", f->name, (double)x[j], (double)y[j],
                        (double)want);
            continue;
        }
        const double u = ulp_error(f, x[j], y[j]);
        st->count++;
        if (!(u <= st->worst)) { // NaN lands here too
            st->worst = u;
            st->worst_x = x[j];
        }
    }
}

// Every stride-th float from bits lo up to bits hi (inclusive), one sign.
static void sweep_bits(const exp_fn *f, uint32_t lo, uint32_t hi, uint32_t stride,
                       exp_stats *st) {
    float x[BATCH];
    size_t n = 0;
    for (uint64_t b = lo; b <= hi; b += stride) {
        x[n++] = bits_float((uint32_t)b);
        if (n == BATCH) {
            check_batch(f, x, n, st);
            n = 0;
        }
    }
    if (n)
        check_batch(f, x, n, st);
}

static uint32_t sweep_stride(void) {
    const char *all = getenv("MIMIC_TEST_EXP_ALL");
    if (all && strcmp(all, "1") == 0)
        return 1;
    const double s = EXP_STRIDE / tc_scale();
    return s < 1 ? 1 : (uint32_t)s;
}

// The range, the subnormal results, and the neighbourhoods of 0, LO and HI.
static void sweep_fn(const exp_fn *f, float sub_from) {
    const uint32_t stride = sweep_stride(), lo = float_bits(f->lo);
    const uint32_t hi = float_bits(f->hi), sub = float_bits(sub_from);
    TC_FOR_EACH_ISA(isa) {
        exp_stats st = {0, 0, 0};
        tc_ctx("%s ulp sweep, stride %u", f->name, stride);
        sweep_bits(f, 0x80000000u, lo, stride, &st);            // -0 down to LO
        sweep_bits(f, 0, hi, stride, &st);                      // +0 up to HI
        sweep_bits(f, sub, lo, stride > 16 ? 16 : stride, &st); // subnormal results
        sweep_bits(f, 0x80000000u, 0x80000000u + 4096, 1, &st); // around -0
        sweep_bits(f, 0, 4096, 1, &st);                         // around +0
        sweep_bits(f, lo - 4096, lo + 4096, 1, &st);            // around LO
        sweep_bits(f, hi - 4096, hi + 4096, 1, &st);            // around HI
        print_message("[ info ] %-4s %-6s max error %.3f ulp at x = %.9g (%ld values)\n", f->name,
                      mimic_isa_name(isa), st.worst, (double)st.worst_x, st.count);
        if (!(st.worst <= EXP_MAX_ULP))
            TC_FAIL("%s error %.3f ulp at x = %.9g > %g ulp", f->name, st.worst,
                    (double)st.worst_x, EXP_MAX_ULP);
    }
}

static void test_exp_ulp(void **state) {
    (void)state;
    sweep_fn(&fn_exp, -87.33654f); // e^x < FLT_MIN below
}

static void test_exp2_ulp(void **state) {
    (void)state;
    // The premise of the sweep through exp_scale: its factor inv_t log2(e) is exactly 1.
    TC_CHECK(LN2F * MIMIC_EXP_LOG2E == 1.0f);
    sweep_fn(&fn_exp2, -126.0f);
}

// Special values, each at every position of every tail length 1..2*16+1 (so the masked and the
// full-vector paths of every ISA see it).
static void check_special(const exp_fn *f, const float *x, size_t nx) {
    float in[33], out[33 + TC_GUARD];
    TC_FOR_EACH_ISA(isa) {
        for (size_t v = 0; v < nx; v++)
            for (size_t n = 1; n <= 33; n++)
                for (size_t pos = 0; pos < n; pos++) {
                    tc_ctx("%s(%g) at %zu of %zu", f->name, (double)x[v], pos, n);
                    tc_fill(in, n, 0.5f);
                    in[pos] = x[v];
                    tc_fill_sentinel(out + n, TC_GUARD);
                    kernel_exp(f, in, out, n);
                    tc_check_sentinel("past the output", out + n, TC_GUARD);
                    const float got = out[pos];
                    int ok;
                    if (isnan(x[v]))
                        ok = isnan(got);
                    else if (x[v] >= f->hi)
                        ok = got == INFINITY;
                    else if (x[v] <= f->lo)
                        ok = got == 0.0f;
                    else
                        ok = ulp_error(f, x[v], got) <= EXP_MAX_ULP;
                    if (!ok)
                        TC_FAIL("%s(%.9g) = %.9g", f->name, (double)x[v], (double)got);
                    if (n > 1 && out[pos == 0 ? 1 : 0] != out[pos == 0 ? 1 : 0])
                        TC_FAIL("NaN leaked to a neighbour");
                }
    }
}

static void test_exp_special(void **state) {
    (void)state;
    const float x[] = {-INFINITY, INFINITY, NAN, -NAN, 0.0f, -0.0f, 89.0f, 1e30f, FLT_MAX,
                       -104.0f, -1e30f, -FLT_MAX, MIMIC_EXP_HI, MIMIC_EXP_LO,
                       nextafterf(MIMIC_EXP_HI, 0.0f), nextafterf(MIMIC_EXP_LO, 0.0f),
                       0x1p-149f, -0x1p-149f, 1.0f};
    check_special(&fn_exp, x, sizeof x / sizeof x[0]);
    // The boundaries are what exp_scalar.h says they are.
    TC_CHECK(exp((double)MIMIC_EXP_HI) > (double)FLT_MAX * (1 + 0x1p-25));
    TC_CHECK(exp((double)nextafterf(MIMIC_EXP_HI, 0.0f)) < (double)FLT_MAX);
    TC_CHECK(exp((double)MIMIC_EXP_LO) < 0x1p-150);
    TC_CHECK(exp((double)nextafterf(MIMIC_EXP_LO, 0.0f)) > 0x1p-150);
}

static void test_exp2_special(void **state) {
    (void)state;
    const float x[] = {-INFINITY, INFINITY, NAN, -NAN, 0.0f, -0.0f, 129.0f, 1e30f, FLT_MAX,
                       -151.0f, -1e30f, -FLT_MAX, MIMIC_EXP2_HI, MIMIC_EXP2_LO,
                       nextafterf(MIMIC_EXP2_HI, 0.0f), nextafterf(MIMIC_EXP2_LO, 0.0f),
                       -126.5f, -127.5f, -149.5f, 127.5f, 0x1p-149f, -0x1p-149f, 1.0f};
    check_special(&fn_exp2, x, sizeof x / sizeof x[0]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_ulp),
        cmocka_unit_test(test_exp_special),
        cmocka_unit_test(test_exp2_ulp),
        cmocka_unit_test(test_exp2_special),
    };
    return cmocka_run_group_tests_name("exp", tests, tc_group_setup, tc_group_teardown);
}
