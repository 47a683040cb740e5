// Every softmax pass of every ISA's kernel table against double references, at every length
// 1..2*4*16+1 (the 4-vector loops, the single vectors and every tail of every ISA), with
// patterns that move the online pass's reference in every block and at every position, masks,
// NaN and infinities. Outputs are checked for guards past n; inputs must stay unchanged.
//
// Bounds (u = 2^-24, d = the exp argument): an exp is within EXP_REL + 4u|d| of exp(d) in
// double (a few ulp of the polynomial and scaling, and the rounding of the argument, which
// exp turns into a relative error of |d| times it); a sum of n positive terms within
// (EXP_REL + 4u max|d| + n u) of the sum. The online pass works against a reference up to
// MIMIC_ONLINE_LIMIT above an element, so its arguments grow by up to twice that.
#include "common.h"

#include "arch/kernels.h"
#include "kernels/softmax/softmax_kernels.h"

#define EXP_REL (16 * TC_U)
#define NMAX (2 * 4 * 16 + 1)
static const float k_inv_t[] = {2.0f, 1.0f, 0.25f};

typedef enum { P_RANDOM, P_RAMP, P_SPIKE, P_MASKED, P_COUNT } pattern;

// Pattern p of length n (spike/mask position pos).
static void fill_pattern(tc_rng *rng, float *x, size_t n, pattern p, size_t pos) {
    for (size_t j = 0; j < n; j++) {
        switch (p) {
        case P_RANDOM: x[j] = tc_rng_float(rng, -8.0f, 8.0f); break;
        case P_RAMP: x[j] = (float)j * 1.5f - 40.0f; break; // moves the reference every block
        case P_SPIKE: x[j] = j == pos ? 60.0f : tc_rng_float(rng, -1.0f, 1.0f); break;
        default: x[j] = j % 3 == pos % 3 ? -INFINITY : tc_rng_float(rng, -4.0f, 4.0f); break;
        }
    }
}

// max ignoring NaN, and sum_j exp((x - m) * inv_t) in double (NaN with NaN or +inf).
static double ref_max(const float *x, size_t n) {
    double m = -INFINITY;
    for (size_t j = 0; j < n; j++)
        if (x[j] > m)
            m = x[j];
    return m;
}

static double ref_sum(const float *x, size_t n, double m, double inv_t, double *max_arg) {
    double s = 0;
    *max_arg = 0;
    for (size_t j = 0; j < n; j++) {
        const double d = ((double)x[j] - m) * inv_t;
        s += exp(d);
        if (isfinite(d) && fabs(d) > *max_arg)
            *max_arg = fabs(d);
    }
    return s;
}

static void check_exp_elems(const char *what, const float *y, const float *x, size_t n,
                            double m, double inv_t, double scale, double extra_arg) {
    for (size_t j = 0; j < n; j++) {
        const double d = ((double)x[j] - m) * inv_t, want = exp(d) * scale;
        const double ad = isfinite(d) ? fabs(d) : 0; // exp(-inf) = 0 exactly
        const double tol = want * (EXP_REL + 4 * TC_U * (ad + extra_arg)) + 2 * FLT_MIN;
        if (!(fabs((double)y[j] - want) <= tol) && !(isnan(want) && isnan(y[j])))
            TC_FAIL("%s[%zu] = %.9g, want %.9g (x = %g)", what, j, (double)y[j], want,
                    (double)x[j]);
    }
}

static void check_sum(const char *what, double got, double want, double max_arg, size_t n) {
    const double tol = want * (EXP_REL + 4 * TC_U * max_arg + (double)n * TC_U);
    if (!(fabs(got - want) <= tol) && !(isnan(got) && isnan(want)))
        TC_FAIL("%s = %.9g, want %.9g", what, got, want);
}

// row_max, exp_sum (with and without y), scale, exp_scale, shift_scale of one row.
static void check_row_passes(const mimic_softmax_kernels *k, const float *x, size_t n,
                             float inv_t, float *y) {
    const double m = ref_max(x, n);
    const float mk = k->row_max(x, n);
    if (mk != (float)m)
        TC_FAIL("row_max = %g, want %g", (double)mk, m);
    if (m == -INFINITY)
        return; // the passes below take a finite max
    double max_arg;
    const double sum = ref_sum(x, n, m, inv_t, &max_arg);
    tc_fill_sentinel(y + n, TC_GUARD);
    const float s1 = k->exp_sum(x, y, n, mk, inv_t), s0 = k->exp_sum(x, NULL, n, mk, inv_t);
    tc_check_bitwise("exp_sum with y vs without", &s1, &s0, 1);
    check_sum("exp_sum", s1, sum, max_arg, n);
    check_exp_elems("exp_sum y", y, x, n, m, inv_t, 1.0, 0);
    k->scale(y, y, n, 0.5f);
    check_exp_elems("scale y", y, x, n, m, inv_t, 0.5, 0);
    k->exp_scale(x, y, n, mk, inv_t, 3.0f);
    check_exp_elems("exp_scale y", y, x, n, m, inv_t, 3.0, 0);
    k->shift_scale(x, y, n, mk, inv_t, 1.5f);
    for (size_t j = 0; j < n; j++) {
        const double want = ((double)x[j] - m) * inv_t - 1.5;
        if (!(fabs(y[j] - want) <= 4 * TC_U * (fabs(want) + 1.5)) && y[j] != want)
            TC_FAIL("shift_scale y[%zu] = %.9g, want %.9g", j, (double)y[j], want);
    }
    tc_check_sentinel("past y", y + n, TC_GUARD);
}

// max_sum with and without the store: the same max and sum bits; stored exps relative to *ref
// from *from on, *from on a vector boundary.
static void check_max_sum(const mimic_softmax_kernels *k, const float *x, size_t n, float inv_t,
                          float *y) {
    const double m = ref_max(x, n);
    float s0, s1, ref;
    size_t from = n + 1;
    tc_fill_sentinel(y + n, TC_GUARD);
    const float m0 = k->max_sum(x, NULL, n, inv_t, &s0, NULL, NULL);
    const float m1 = k->max_sum(x, y, n, inv_t, &s1, &ref, &from);
    tc_check_sentinel("past max_sum's y", y + n, TC_GUARD);
    tc_check_bitwise("max_sum max with y vs without", &m1, &m0, 1);
    tc_check_bitwise("max_sum sum with y vs without", &s1, &s0, 1);
    if (m0 != (float)m)
        TC_FAIL("max_sum max = %g, want %g", (double)m0, m);
    double max_arg = 0;
    const double sum = m == -INFINITY ? 0.0 : ref_sum(x, n, m, inv_t, &max_arg);
    if (m == -INFINITY) {
        if (s0 != 0.0f)
            TC_FAIL("max_sum of an all -inf row: sum %g, want 0", (double)s0);
        return;
    }
    check_sum("max_sum sum", s0, sum, max_arg + 2 * MIMIC_ONLINE_LIMIT, n);
    const size_t lanes = k->short_max / 4;
    if (from > n || from % lanes != 0)
        TC_FAIL("max_sum from = %zu (n %zu, %zu lanes)", from, n, lanes);
    if (!isnan(sum) && !(ref <= m0))
        TC_FAIL("max_sum reference %g above the max %g", (double)ref, (double)m0);
    if (isfinite(sum))
        check_exp_elems("max_sum y", y + from, x + from, n - from, ref, inv_t, 1.0,
                        2 * MIMIC_ONLINE_LIMIT);
}

// short_rows over three copies of the row (rows of stride n), with and without y.
static void check_short_rows(const mimic_softmax_kernels *k, const float *x, size_t n,
                             float inv_t) {
    float xs[3 * 64], y[3 * 64 + TC_GUARD], max[3], sum[3], max0[3], sum0[3];
    for (size_t r = 0; r < 3; r++)
        memcpy(xs + r * n, x, n * sizeof *x);
    tc_fill_sentinel(y + 3 * n, TC_GUARD);
    k->short_rows(xs, y, 3, n, inv_t, 2.0f, max, sum);
    k->short_rows(xs, NULL, 3, n, inv_t, 2.0f, max0, sum0);
    tc_check_sentinel("past short_rows' y", y + 3 * n, TC_GUARD);
    tc_check_bitwise("short_rows max with y vs without", max, max0, 3);
    tc_check_bitwise("short_rows sum with y vs without", sum, sum0, 3);
    const double m = ref_max(x, n);
    double max_arg = 0;
    const double s = m == -INFINITY ? NAN : ref_sum(x, n, m, inv_t, &max_arg);
    for (size_t r = 0; r < 3; r++) {
        if (max[r] != (float)m)
            TC_FAIL("short_rows max = %g, want %g", (double)max[r], m);
        check_sum("short_rows sum", sum[r], s, max_arg, n);
        if (isfinite(s))
            check_exp_elems("short_rows y", y + r * n, x, n, m, inv_t, 2.0 / s,
                            (double)n); // (the sum's rounding, in units of u)
        else
            for (size_t j = 0; j < n; j++)
                if (!isnan(y[r * n + j]))
                    TC_FAIL("short_rows y[%zu] = %g in a NaN row", j, (double)y[r * n + j]);
    }
}

static void test_passes_patterns(void **state) {
    (void)state;
    tc_rng rng = tc_rng_seed(51);
    float x[NMAX], x_copy[NMAX], y[NMAX + TC_GUARD];
    TC_FOR_EACH_ISA(isa) {
        const mimic_softmax_kernels *k = &mimic_kernels_for(isa)->softmax;
        for (size_t n = 1; n <= NMAX; n++)
            for (int p = 0; p < P_COUNT; p++)
                for (size_t pos = 0; pos < (p == P_SPIKE ? n : 1); pos++)
                    for (int it = 0; it < 3; it++) {
                        tc_ctx("%s n=%zu pattern %d pos %zu 1/T=%g", k->name, n, p, pos,
                               (double)k_inv_t[it]);
                        fill_pattern(&rng, x, n, (pattern)p, pos);
                        memcpy(x_copy, x, n * sizeof *x);
                        check_row_passes(k, x, n, k_inv_t[it], y);
                        check_max_sum(k, x, n, k_inv_t[it], y);
                        if (n <= k->short_max)
                            check_short_rows(k, x, n, k_inv_t[it]);
                        tc_check_bitwise("x after the passes", x, x_copy, n);
                    }
    }
}

// NaN, +inf and all -inf at every position of every length: max_sum's and short_rows' sums
// are NaN (0 for all -inf in max_sum, whose output passes make the row NaN), the max ignores
// NaN.
static void test_passes_special(void **state) {
    (void)state;
    float x[NMAX], y[NMAX + TC_GUARD], s;
    const float vals[] = {NAN, INFINITY};
    TC_FOR_EACH_ISA(isa) {
        const mimic_softmax_kernels *k = &mimic_kernels_for(isa)->softmax;
        for (size_t n = 1; n <= NMAX; n++) {
            tc_ctx("%s all -inf n=%zu", k->name, n);
            tc_fill(x, n, -INFINITY);
            if (k->max_sum(x, y, n, 1.0f, &s, &(float){0}, &(size_t){0}) != -INFINITY ||
                s != 0.0f)
                TC_FAIL("all -inf: max_sum sum %g", (double)s);
            for (int v = 0; v < 2; v++)
                for (size_t pos = 0; pos < n; pos++) {
                    tc_ctx("%s %g at %zu of %zu", k->name, (double)vals[v], pos, n);
                    tc_fill(x, n, 1.0f);
                    x[pos] = vals[v];
                    // A row of NaN alone has no max: -inf and the empty sum, like all -inf.
                    const int only_nan = n == 1 && isnan(vals[v]);
                    const float m = k->max_sum(x, NULL, n, 1.0f, &s, NULL, NULL);
                    const float want_m = only_nan ? -INFINITY : isnan(vals[v]) ? 1.0f : INFINITY;
                    if ((only_nan ? s != 0.0f : !isnan(s)) || m != want_m)
                        TC_FAIL("max_sum: max %g sum %g", (double)m, (double)s);
                    if (n <= k->short_max) {
                        float mx, sm;
                        k->short_rows(x, y, 1, n, 1.0f, 1.0f, &mx, &sm);
                        if (!isnan(sm))
                            TC_FAIL("short_rows sum %g", (double)sm);
                    }
                }
        }
    }
}

// sq_diff and kd_row (exps recomputed, and stored) against double, every length.
static void test_passes_losses(void **state) {
    (void)state;
    tc_rng rng = tc_rng_seed(52);
    float s[NMAX], t[NMAX], g[NMAX + TC_GUARD], ep[NMAX], eq[NMAX];
    TC_FOR_EACH_ISA(isa) {
        const mimic_softmax_kernels *k = &mimic_kernels_for(isa)->softmax;
        for (size_t n = 1; n <= NMAX; n++) {
            tc_ctx("%s sq_diff / kd_row n=%zu", k->name, n);
            tc_fill_uniform(&rng, s, n, -6, 6);
            tc_fill_uniform(&rng, t, n, -6, 6);
            if (n > 1)
                t[n / 2] = -INFINITY; // a masked teacher class adds 0
            double want = 0, mag = 0;
            for (size_t j = 0; j < n; j++)
                want += ((double)s[j] - t[j]) * ((double)s[j] - t[j]);
            tc_fill_sentinel(g + n, TC_GUARD);
            const float got = k->sq_diff(s, t, g, n, 0.5f);
            tc_check_near1("sq_diff", got, want, (double)(n + 4) * TC_U * want);
            tc_check_sentinel("past sq_diff's g", g + n, TC_GUARD);
            // kd_row at 1/T = 0.5 with the exact statistics.
            const double inv_t = 0.5, ms = ref_max(s, n), mt = ref_max(t, n);
            double a1, a2;
            const double ss = ref_sum(s, n, ms, inv_t, &a1), st = ref_sum(t, n, mt, inv_t, &a2);
            const mimic_kd_row_args ra = {(float)ms, (float)log(ss), (float)mt, (float)log(st),
                                          0.5f, 2.0f, (float)(1 / st), (float)(1 / ss)};
            want = 0;
            for (size_t j = 0; j < n; j++) {
                const double lt = (t[j] - mt) * inv_t - log(st), ls = (s[j] - ms) * inv_t - log(ss);
                const double p = exp(lt);
                ep[j] = (float)exp((t[j] - mt) * inv_t), eq[j] = (float)exp((s[j] - ms) * inv_t);
                want += p > 0 ? p * (lt - ls) : 0;
                mag += (p > 0 ? p * (fabs(lt) + fabs(ls)) : 0) + exp(ls);
            }
            for (int stored = 0; stored < 2; stored++) {
                const float kl = k->kd_row(s, t, stored ? ep : NULL, stored ? eq : NULL, g, n, &ra);
                tc_check_near1(stored ? "kd_row (stored exps)" : "kd_row", kl, want,
                               64 * TC_U * mag + 1e-6 * fabs(want));
                for (size_t j = 0; j < n; j++) {
                    const double lt = (t[j] - mt) * inv_t - log(st);
                    const double ls = (s[j] - ms) * inv_t - log(ss);
                    const double gw = (exp(ls) - exp(lt)) * 2.0;
                    tc_check_near1("kd_row g", g[j], gw, 64 * TC_U * (exp(ls) + exp(lt)) * 2);
                }
                tc_check_sentinel("past kd_row's g", g + n, TC_GUARD);
            }
        }
    }
}

// The exps near the bottom of the normal range and below it, where some ISAs switch between a
// short and a full form of exp inside the online pass (V_EXP_NORMAL) or per vector (scalar):
// every stored exp within a few ulp of a subnormal's spacing, not just of FLT_MIN. exp_sum's
// argument is x itself (T = 1); the online pass's is x log2(e) rounded (two roundings in
// log2 units), which the usual 4u|d| term covers.
static void test_passes_exp_range(void **state) {
    (void)state;
    tc_rng rng = tc_rng_seed(54);
    enum { N = 200 };
    float x[N], y[N + TC_GUARD];
    TC_FOR_EACH_ISA(isa) {
        const mimic_softmax_kernels *k = &mimic_kernels_for(isa)->softmax;
        for (int lo = 0; lo < 4; lo++) { // args in [-88.5, -86.5], [-104, -86], [-87, 0], [-88, -87]
            tc_ctx("%s exps near the normal range's bottom, case %d", k->name, lo);
            x[0] = 0.0f; // the max and the first reference: no rescale
            for (size_t j = 1; j < N; j++)
                x[j] = lo == 0   ? tc_rng_float(&rng, -88.5f, -86.5f)
                       : lo == 1 ? tc_rng_float(&rng, -104.0f, -86.0f)
                       : lo == 2 ? tc_rng_float(&rng, -87.0f, 0.0f)
                                 : tc_rng_float(&rng, -88.0f, -87.0f);
            float sum, ref;
            size_t from;
            for (int pass = 0; pass < 2; pass++) {
                tc_fill_sentinel(y + N, TC_GUARD);
                if (pass == 0)
                    k->max_sum(x, y, N, 1.0f, &sum, &ref, &from);
                else
                    k->exp_sum(x, y, N, 0.0f, 1.0f);
                tc_check_sentinel("past y", y + N, TC_GUARD);
                for (size_t j = 0; j < N; j++) {
                    const double want = exp((double)x[j]);
                    const double rel = EXP_REL + (pass ? 0 : 4 * TC_U * fabs((double)x[j]));
                    const double tol = want * rel + 0x1p-148;
                    if (!(fabs((double)y[j] - want) <= tol))
                        TC_FAIL("%s y[%zu] = %.9g, want %.9g (x = %.9g)",
                                pass ? "exp_sum" : "max_sum", j, (double)y[j], want,
                                (double)x[j]);
                }
            }
        }
    }
}

// kd_rows (short rows from their logits; groups of rows across the lanes on some ISAs, the
// rest through the scratch) against its composition: short_rows of student and teacher
// (normalized), logf of the sums, kd_row on each row. The same gradient bits, the same KL up
// to the order of its sum, with and without the gradient, nothing written past g or past the
// scratch it may use.
static void test_passes_kd_rows(void **state) {
    (void)state;
    tc_rng rng = tc_rng_seed(53);
    static const size_t rows_list[] = {1, 3, 4, 9, 16, 37, 64};
    TC_FOR_EACH_ISA(isa) {
        const mimic_softmax_kernels *k = &mimic_kernels_for(isa)->softmax;
        for (size_t n = 1; n <= k->short_max; n++)
            for (int ir = 0; ir < 7; ir++) {
                const size_t rows = rows_list[ir], len = rows * n;
                tc_ctx("%s kd_rows rows=%zu n=%zu", k->name, rows, n);
                float *s = tc_alloc(len), *t = tc_alloc(len), *ep = tc_alloc(len);
                float *eq = tc_alloc(len), *g = tc_alloc(len + TC_GUARD), *gr = tc_alloc(n);
                float *scratch = tc_alloc(2 * len + TC_GUARD);
                float ms[64], ls[64], mt[64], lt[64], kl[64], kl0[64];
                tc_fill_uniform(&rng, s, len, -6, 6);
                tc_fill_uniform(&rng, t, len, -6, 6);
                if (n > 1)
                    t[len - n / 2] = -INFINITY; // a masked teacher class in the last row
                if (n > 2 && rows > 4)
                    s[4 * n + 1] = NAN; // a row with NaN, in the second group of rows
                tc_fill_sentinel(g + len, TC_GUARD);
                tc_fill_sentinel(scratch + 2 * len, TC_GUARD);
                k->kd_rows(s, t, scratch, g, rows, n, 0.25f, 0.5f, kl);
                tc_check_sentinel("past kd_rows' g", g + len, TC_GUARD);
                tc_check_sentinel("past kd_rows' scratch", scratch + 2 * len, TC_GUARD);
                k->kd_rows(s, t, scratch, NULL, rows, n, 0.25f, 0.5f, kl0);
                tc_check_bitwise("kd_rows kl without g", kl0, kl, rows);
                k->short_rows(s, eq, rows, n, 0.25f, 1.0f, ms, ls);
                k->short_rows(t, ep, rows, n, 0.25f, 1.0f, mt, lt);
                for (size_t i = 0; i < rows; i++) {
                    const size_t off = i * n;
                    const mimic_kd_row_args a1 = {ms[i], logf(ls[i]), mt[i], logf(lt[i]), 0.25f,
                                                  0.5f, 1, 1};
                    const float want = k->kd_row(s + off, t + off, ep + off, eq + off, gr, n, &a1);
                    tc_check_bitwise("kd_rows g against the composition's", g + off, gr, n);
                    if (isnan(want))
                        TC_CHECK(isnan(kl[i]));
                    else
                        tc_check_near1("kd_rows kl against the composition's", kl[i], want,
                                       8 * (double)n * TC_U * (fabs(want) + 1));
                }
                free(s), free(t), free(ep), free(eq), free(g), free(gr), free(scratch);
            }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passes_patterns),
        cmocka_unit_test(test_passes_special),
        cmocka_unit_test(test_passes_losses),
        cmocka_unit_test(test_passes_kd_rows),
        cmocka_unit_test(test_passes_exp_range),
    };
    return cmocka_run_group_tests_name("softmax passes", tests, tc_group_setup,
                                       tc_group_teardown);
}
