// mimic_softmax / mimic_log_softmax against the double reference and oneDNN's softmax and
// logsoftmax primitives, for every ISA the CPU runs: temperatures, large logits, row lengths
// around the vector widths, a very long row, equal rows, masks, NaN rows, aliasing.
#include "common.h"
#include "ref.h"
#ifdef MIMIC_TEST_HAVE_DNNL
#include "oracle_dnnl.h"
#endif

// Error bound tested, per element, with d = x/T - max(x/T) and u = 2^-24:
//   softmax:     |got - want| <= want * (SM_REL + sum_rel(cols) + 4u|d|) + 2 FLT_MIN
//   log_softmax: |got - want| <= SM_REL + sum_rel(cols) + 4u(|d| + |want|)
// SM_REL = 1e-5 (~84 ulp) covers the vectorized exp (a few ulp), the reciprocal and the
// scaling. 4u|d| is the rounding of (x - m) * (1/T) in the exponent: any fp32 evaluation of
// the argument carries a relative error of ~3u, which exp turns into a relative error of 3u|d|
// of the result (it matters for the tiny entries, |d| up to ~100). sum_rel(cols) = 2 eps
// sqrt(cols) is the statistical error of an fp32 sum of cols positive terms (the worst case,
// cols * u, is far too loose at 1e6: 6%). 2 FLT_MIN allows exp to flush subnormal results.
// Against oneDNN the input x/T is rounded to fp32 before oneDNN subtracts its maximum, which
// adds 4u(|x| + |max x|)/T to the bound in the exponent; the oracle is first checked against
// the reference with that bound.
#define SM_REL 1e-5

static double sum_rel(int64_t cols) { return 2.0 * FLT_EPSILON * sqrt((double)cols); }

typedef struct {
    double *y, *ly, *d;     // reference softmax, log-softmax, x/T - max
    double *y_tol, *ly_tol; // bounds vs the reference
    double *yo_tol, *lyo_tol; // bounds vs oneDNN
} sm_ref;

static void sm_ref_init(sm_ref *r, const float *x, int64_t rows, int64_t cols, float T) {
    size_t n = (size_t)(rows * cols);
    r->y = tc_dalloc(n), r->ly = tc_dalloc(n), r->d = tc_dalloc(n);
    r->y_tol = tc_dalloc(n), r->ly_tol = tc_dalloc(n);
    r->yo_tol = tc_dalloc(n), r->lyo_tol = tc_dalloc(n);
    ref_softmax(x, rows, cols, T, r->y, r->d);
    ref_log_softmax(x, rows, cols, T, r->ly);
    for (int64_t i = 0; i < rows; i++) {
        double m = -INFINITY;
        for (int64_t j = 0; j < cols; j++)
            m = fmax(m, fabs((double)x[i * cols + j]) < INFINITY ? x[i * cols + j] : -INFINITY);
        for (int64_t j = 0; j < cols; j++) {
            size_t k = (size_t)(i * cols + j);
            double ad = isfinite(r->d[k]) ? fabs(r->d[k]) : 0.0;
            double e = SM_REL + sum_rel(cols) + 4 * TC_U * ad;
            double eo = 4 * TC_U * (fabs((double)x[k]) + fabs(m)) / T;
            if (!isfinite(eo))
                eo = 0;
            r->y_tol[k] = r->y[k] * e + 2 * FLT_MIN;
            r->yo_tol[k] = r->y[k] * (2 * e + eo) + 2 * FLT_MIN;
            double al = isfinite(r->ly[k]) ? fabs(r->ly[k]) : 0.0;
            r->ly_tol[k] = e + 4 * TC_U * al;
            r->lyo_tol[k] = 2 * r->ly_tol[k] + eo;
        }
    }
}

static void sm_ref_free(sm_ref *r) {
    free(r->y), free(r->ly), free(r->d), free(r->y_tol), free(r->ly_tol);
    free(r->yo_tol), free(r->lyo_tol);
}

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

// Rows whose reference is finite sum to 1 within the sum of the per-element bounds.
static void check_row_sums(const float *y, const sm_ref *r, int64_t rows, int64_t cols) {
    for (int64_t i = 0; i < rows; i++) {
        if (isnan(r->y[i * cols]))
            continue; // a NaN row (checked element-wise)
        double s = 0, bound = 0;
        for (int64_t j = 0; j < cols; j++) {
            s += y[i * cols + j];
            bound += r->y_tol[i * cols + j];
        }
        if (!(fabs(s - 1.0) <= bound))
            TC_FAIL("softmax row %lld sums to %.9g, |sum - 1| = %.3g > bound %.3g",
                    (long long)i, s, fabs(s - 1.0), bound);
    }
}

// -inf entries (masks) in a row that is not NaN give exactly 0 / -inf.
static void check_masks(const float *x, const float *y, const float *ly, const sm_ref *r,
                        size_t n) {
    for (size_t k = 0; k < n; k++) {
        if (x[k] == -INFINITY && !isnan(r->y[k]) && (y[k] != 0.0f || ly[k] != -INFINITY))
            TC_FAIL("masked entry %zu: softmax %g (want 0), log_softmax %g (want -inf)", k,
                    (double)y[k], (double)ly[k]);
    }
}

// One input, every ISA: softmax and log_softmax vs the reference (and oneDNN on finite input),
// row sums, masks, aliasing (y == x gives the same bits), and the guard past the output.
static void check_softmax(const float *x, int64_t rows, int64_t cols, float T, size_t off) {
    size_t n = (size_t)(rows * cols);
    sm_ref r;
    sm_ref_init(&r, x, rows, cols, T);
    float *xa = tc_alloc_off(n, off);
    memcpy(xa, x, n * sizeof *xa);
    float *y = tc_alloc_off(n + TC_GUARD, off), *ly = tc_alloc_off(n + TC_GUARD, off);
    float *z = tc_alloc_off(n, off);
    tc_tol ty = {.tol = r.y_tol}, tly = {.tol = r.ly_tol};

#ifdef MIMIC_TEST_HAVE_DNNL
    float *yo = NULL, *lyo = NULL;
    double *yod = NULL, *lyod = NULL;
    if (all_finite(x, n) && n > 0) {
        yo = tc_alloc(n), lyo = tc_alloc(n), yod = tc_dalloc(n), lyod = tc_dalloc(n);
        int rc;
        if ((rc = oracle_softmax(x, yo, rows, cols, T, 0)) != 0)
            TC_FAIL("oneDNN softmax failed: status %d", rc);
        if ((rc = oracle_softmax(x, lyo, rows, cols, T, 1)) != 0)
            TC_FAIL("oneDNN logsoftmax failed: status %d", rc);
        tc_tol to = {.tol = r.yo_tol}, tlo = {.tol = r.lyo_tol};
        tc_check_near("oneDNN softmax vs reference", yo, (size_t)cols, r.y, (size_t)rows,
                      (size_t)cols, to);
        tc_check_near("oneDNN logsoftmax vs reference", lyo, (size_t)cols, r.ly, (size_t)rows,
                      (size_t)cols, tlo);
        tc_to_double(yo, yod, n);
        tc_to_double(lyo, lyod, n);
    }
#else
    (void)all_finite;
#endif

    TC_FOR_EACH_ISA(isa) {
        tc_fill(y, n, NAN);
        tc_fill(ly, n, NAN);
        tc_fill_sentinel(y + n, TC_GUARD);
        tc_fill_sentinel(ly + n, TC_GUARD);
        TC_STATUS(mimic_softmax(xa, y, rows, cols, T), MIMIC_OK);
        TC_STATUS(mimic_log_softmax(xa, ly, rows, cols, T), MIMIC_OK);
        tc_check_bitwise("input x after the calls", xa, x, n);
        tc_check_near("softmax vs reference", y, (size_t)cols, r.y, (size_t)rows, (size_t)cols,
                      ty);
        tc_check_near("log_softmax vs reference", ly, (size_t)cols, r.ly, (size_t)rows,
                      (size_t)cols, tly);
        tc_check_sentinel("guard past softmax output", y + n, TC_GUARD);
        tc_check_sentinel("guard past log_softmax output", ly + n, TC_GUARD);
        check_row_sums(y, &r, rows, cols);
        check_masks(x, y, ly, &r, n);
        memcpy(z, x, n * sizeof *z);
        TC_STATUS(mimic_softmax(z, z, rows, cols, T), MIMIC_OK);
        tc_check_bitwise("softmax with y aliasing x", z, y, n);
        memcpy(z, x, n * sizeof *z);
        TC_STATUS(mimic_log_softmax(z, z, rows, cols, T), MIMIC_OK);
        tc_check_bitwise("log_softmax with y aliasing x", z, ly, n);
#ifdef MIMIC_TEST_HAVE_DNNL
        if (yo) {
            tc_tol to = {.tol = r.yo_tol}, tlo = {.tol = r.lyo_tol};
            tc_check_near("softmax vs oneDNN", y, (size_t)cols, yod, (size_t)rows,
                          (size_t)cols, to);
            tc_check_near("log_softmax vs oneDNN", ly, (size_t)cols, lyod, (size_t)rows,
                          (size_t)cols, tlo);
        }
#endif
    }
#ifdef MIMIC_TEST_HAVE_DNNL
    free(yo), free(lyo), free(yod), free(lyod);
#endif
    tc_free_off(xa, off), tc_free_off(y, off), tc_free_off(ly, off), tc_free_off(z, off);
    sm_ref_free(&r);
}

static const float k_temps[] = {0.5f, 1.0f, 4.0f, 20.0f};

// Row lengths around the vector widths (1, 2, 15, 16, 17) and 1000, 1..7 rows, every
// temperature, logits in [-1, 1], [-30, 30] and [-1e4, 1e4], aligned and not.
static void test_softmax_shapes(void **state) {
    (void)state;
    static const int64_t cols_list[] = {1, 2, 15, 16, 17, 1000};
    static const int64_t rows_list[] = {1, 3, 7};
    static const float amp[] = {1.0f, 30.0f, 1e4f};
    tc_rng rng = tc_rng_seed(11);
    int idx = 0;
    for (int ic = 0; ic < 6; ic++)
        for (int ir = 0; ir < 3; ir++)
            for (int it = 0; it < 4; it++)
                for (int ia = 0; ia < 3; ia++, idx++) {
                    int64_t rows = rows_list[ir], cols = cols_list[ic];
                    float *x = tc_alloc((size_t)(rows * cols));
                    tc_fill_uniform(&rng, x, (size_t)(rows * cols), -amp[ia], amp[ia]);
                    tc_ctx("softmax rows=%lld cols=%lld T=%g logits in +-%g off=%d",
                           (long long)rows, (long long)cols, (double)k_temps[it],
                           (double)amp[ia], idx % 2);
                    check_softmax(x, rows, cols, k_temps[it], (size_t)(idx % 2));
                    free(x);
                }
}

// One row of 1e6 (times MIMIC_TEST_SCALE) entries.
static void test_softmax_long_row(void **state) {
    (void)state;
    int64_t cols = tc_scaled(1000000, 1000);
    tc_rng rng = tc_rng_seed(12);
    float *x = tc_alloc((size_t)cols);
    tc_fill_uniform(&rng, x, (size_t)cols, -8.0f, 8.0f);
    for (int it = 0; it < 4; it += 3) {
        tc_ctx("softmax rows=1 cols=%lld T=%g", (long long)cols, (double)k_temps[it]);
        check_softmax(x, 1, cols, k_temps[it], 1);
    }
    free(x);
}

// All-equal rows: softmax 1/cols, log_softmax -log(cols), also at large magnitude.
static void test_softmax_equal_rows(void **state) {
    (void)state;
    static const int64_t cols_list[] = {1, 2, 15, 16, 17, 1000};
    static const float vals[] = {0.0f, 3.7f, -1e4f, 1e4f};
    for (int ic = 0; ic < 6; ic++)
        for (int iv = 0; iv < 4; iv++)
            for (int it = 0; it < 4; it++) {
                int64_t cols = cols_list[ic];
                float *x = tc_alloc((size_t)(2 * cols));
                tc_fill(x, (size_t)(2 * cols), vals[iv]);
                tc_ctx("softmax equal rows cols=%lld value=%g T=%g", (long long)cols,
                       (double)vals[iv], (double)k_temps[it]);
                check_softmax(x, 2, cols, k_temps[it], 0);
                free(x);
            }
}

// -inf entries (masks): random masks, a row with a single unmasked entry, leading and
// trailing masks around the vector tails.
static void test_softmax_masked(void **state) {
    (void)state;
    static const int64_t cols_list[] = {2, 15, 16, 17, 33, 1000};
    tc_rng rng = tc_rng_seed(13);
    for (int ic = 0; ic < 6; ic++)
        for (int it = 0; it < 4; it++) {
            int64_t rows = 20, cols = cols_list[ic]; // rows 4..19 unmasked: groups of 8, 16
            float *x = tc_alloc((size_t)(rows * cols));
            tc_fill_uniform(&rng, x, (size_t)(rows * cols), -5.0f, 5.0f);
            for (int64_t j = 0; j < cols; j++) {
                if (tc_rng_int(&rng, 0, 2) == 0)
                    x[j] = -INFINITY; // row 0: random third masked
                if (j != cols / 2)
                    x[cols + j] = -INFINITY; // row 1: one entry left
            }
            x[2 * cols] = -INFINITY; // row 2: first and last masked
            x[3 * cols - 1] = -INFINITY;
            x[0] = 1.0f; // row 0 keeps at least one entry
            tc_ctx("softmax masked rows=%lld cols=%lld T=%g", (long long)rows, (long long)cols,
                   (double)k_temps[it]);
            check_softmax(x, rows, cols, k_temps[it], (size_t)(ic % 2));
            free(x);
        }
}

// A row with NaN, or all -inf, becomes NaN; the other rows are unaffected.
static void test_softmax_nan_rows(void **state) {
    (void)state;
    static const int64_t cols_list[] = {1, 2, 15, 16, 17, 33, 1000};
    tc_rng rng = tc_rng_seed(14);
    for (int ic = 0; ic < 7; ic++) {
        int64_t rows = 22, cols = cols_list[ic]; // rows 6..21 finite: groups of 8, 16
        float *x = tc_alloc((size_t)(rows * cols));
        tc_fill_uniform(&rng, x, (size_t)(rows * cols), -3.0f, 3.0f);
        x[1 * cols + cols / 2] = NAN;          // row 1: NaN in the middle
        tc_fill(x + 3 * cols, (size_t)cols, -INFINITY); // row 3: all masked
        x[4 * cols + cols - 1] = NAN;          // row 4: NaN in the tail
        x[5 * cols] = NAN;                     // row 5: NaN first, some -inf
        if (cols > 2)
            x[5 * cols + 1] = -INFINITY;
        for (int it = 0; it < 4; it++) {
            tc_ctx("softmax NaN / all -inf rows cols=%lld T=%g", (long long)cols,
                   (double)k_temps[it]);
            check_softmax(x, rows, cols, k_temps[it], (size_t)(ic % 2));
        }
        free(x);
    }
}

// Every row length 1..65 (every tail of every ISA, the short-row path up to 4 vectors of
// AVX-512 and the step to three passes) and the lengths around the online path and its chunks.
static void test_softmax_every_length(void **state) {
    (void)state;
    static const int64_t long_cols[] = {1023, 1024, 1025, 16384 + 17, 40000};
    tc_rng rng = tc_rng_seed(15);
    for (int64_t c = 1; c <= 65 + 5; c++) {
        // 19 short rows: two groups of 8 (across the lanes on AVX2 up to 16 columns) or one of
        // 16 (AVX-512), and 3 rows on their own.
        const int64_t cols = c <= 65 ? c : long_cols[c - 66], rows = c <= 65 ? 19 : 2;
        float *x = tc_alloc((size_t)(rows * cols));
        tc_fill_uniform(&rng, x, (size_t)(rows * cols), -30.0f, 30.0f);
        for (int it = 0; it < 4; it += 3) {
            tc_ctx("softmax rows=%lld cols=%lld T=%g", (long long)rows, (long long)cols,
                   (double)k_temps[it]);
            check_softmax(x, rows, cols, k_temps[it], (size_t)(c % 2));
        }
        free(x);
    }
}

// Sorted long rows move the online pass's reference in every block (ascending) or never
// (descending); logits up to +-1e4 at T = 0.5 underflow most terms.
static void test_softmax_sorted_rows(void **state) {
    (void)state;
    const int64_t cols = tc_scaled(50000, 3000);
    float *x = tc_alloc((size_t)(2 * cols));
    for (int64_t j = 0; j < cols; j++) {
        x[j] = -1e4f + 2e4f * (float)j / (float)cols;
        x[cols + j] = 50.0f - 0.01f * (float)j;
    }
    for (int it = 0; it < 4; it++) {
        tc_ctx("softmax sorted rows cols=%lld T=%g", (long long)cols, (double)k_temps[it]);
        check_softmax(x, 2, cols, k_temps[it], 0);
    }
    free(x);
}

// The bits do not depend on the thread count: rows split over threads, and (fewer rows than
// threads) a row's chunks split over them.
static void test_softmax_threads_bitwise(void **state) {
    (void)state;
    static const int64_t shapes[][2] = {{300, 10}, {5, 1000}, {3, 3000}, {1, 40000}, {3, 70000}};
    tc_rng rng = tc_rng_seed(16);
    const int threads = mimic_threads_get();
    for (int i = 0; i < 5; i++) {
        const int64_t rows = shapes[i][0], cols = shapes[i][1];
        const size_t n = (size_t)(rows * cols);
        float *x = tc_alloc(n), *y1 = tc_alloc(n), *y2 = tc_alloc(n);
        tc_fill_uniform(&rng, x, n, -20.0f, 20.0f);
        TC_FOR_EACH_ISA(isa) {
            for (int log = 0; log < 2; log++) {
                tc_ctx("%s rows=%lld cols=%lld, 1 thread vs 3", log ? "log_softmax" : "softmax",
                       (long long)rows, (long long)cols);
                mimic_threads_set(1);
                TC_STATUS((log ? mimic_log_softmax : mimic_softmax)(x, y1, rows, cols, 2.0f),
                          MIMIC_OK);
                mimic_threads_set(3);
                TC_STATUS((log ? mimic_log_softmax : mimic_softmax)(x, y2, rows, cols, 2.0f),
                          MIMIC_OK);
                mimic_threads_set(threads);
                tc_check_bitwise("3 threads vs 1", y2, y1, n);
            }
        }
        free(x), free(y1), free(y2);
    }
}

// rows == 0 or cols == 0: MIMIC_OK and nothing written.
static void test_softmax_empty(void **state) {
    (void)state;
    float x[4] = {1, 2, 3, 4}, y[4];
    TC_FOR_EACH_ISA(isa) {
        tc_ctx("softmax rows=0 / cols=0");
        tc_fill_sentinel(y, 4);
        TC_STATUS(mimic_softmax(x, y, 0, 4, 1.0f), MIMIC_OK);
        TC_STATUS(mimic_log_softmax(x, y, 0, 4, 1.0f), MIMIC_OK);
        TC_STATUS(mimic_softmax(x, y, 4, 0, 1.0f), MIMIC_OK);
        TC_STATUS(mimic_log_softmax(x, y, 4, 0, 1.0f), MIMIC_OK);
        tc_check_sentinel("y", y, 4);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_shapes),     cmocka_unit_test(test_softmax_long_row),
        cmocka_unit_test(test_softmax_equal_rows), cmocka_unit_test(test_softmax_masked),
        cmocka_unit_test(test_softmax_nan_rows),   cmocka_unit_test(test_softmax_empty),
        cmocka_unit_test(test_softmax_every_length), cmocka_unit_test(test_softmax_sorted_rows),
        cmocka_unit_test(test_softmax_threads_bitwise),
    };
    return cmocka_run_group_tests_name("softmax", tests, tc_group_setup, tc_group_teardown);
}
