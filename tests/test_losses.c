// mimic_ce_loss, mimic_logit_l2_loss and mimic_kd_loss against the double reference, for every
// ISA the CPU runs; gradients against finite differences (in double over the reference, and
// in float over mimic's own loss); closed forms, student == teacher, NULL grad, aliasing.
#include "common.h"
#include "ref.h"

// Bounds (u = 2^-24, d = z - max z at the loss's temperature, SM_REL and sum_rel as in
// test_softmax.c: 1e-5 for exp / log / reciprocal, 2 eps sqrt(cols) for the row sum):
//   softmax-like p:  tol(p)  = p (SM_REL + sum_rel + 4u|d|) + 2 FLT_MIN
//   log-probability: tol(l)  = SM_REL + sum_rel + 4u(|d| + |l|)
//   ce loss:   mean_i tol(l_i,label) + (rows + 2) u |loss|      (the mean adds rows roundings)
//   ce grad:   (tol(p) + 2u |p - onehot|) / rows + 2u |g|
//   l2 loss:   (n + 4) u |loss|, n = rows*cols: a sum of n positive terms, worst case
//   l2 grad:   4u |g|               (difference, scaling)
//   kd loss:   T^2/rows sum p (tol(lt) + tol(ls) + |lt - ls| tol(p)/p)
//              + (cols + rows + 3) u T^2/rows sum |p (lt - ls)| + 4u |loss|
//   kd grad:   T/rows (tol(q) + tol(p) + 2u |q - p|) + 4u |g|
#define SM_REL 1e-5

static double sum_rel(int64_t cols) { return 2.0 * FLT_EPSILON * sqrt((double)cols); }
static double tol_p(double p, double d, int64_t cols) {
    return p * (SM_REL + sum_rel(cols) + 4 * TC_U * fabs(d)) + 2 * FLT_MIN;
}
static double tol_l(double l, double d, int64_t cols) {
    return SM_REL + sum_rel(cols) + 4 * TC_U * (fabs(d) + fabs(l));
}

// Reference softmax quantities of a float matrix at temperature T.
typedef struct {
    double *p, *l, *d;
} probs;
static probs probs_of(const float *x, int64_t rows, int64_t cols, double T) {
    size_t n = (size_t)(rows * cols);
    probs r = {tc_dalloc(n), tc_dalloc(n), tc_dalloc(n)};
    ref_softmax(x, rows, cols, T, r.p, r.d);
    ref_log_softmax(x, rows, cols, T, r.l);
    for (size_t k = 0; k < n; k++)
        if (!isfinite(r.d[k]))
            r.d[k] = 0; // masked entries: p = 0 exactly, no exponent error
    return r;
}
static void probs_free(probs *r) { free(r->p), free(r->l), free(r->d); }

static double *dcopy(const float *x, size_t n) {
    double *y = tc_dalloc(n);
    tc_to_double(x, y, n);
    return y;
}

// The three losses behind one signature (t is the teacher, lab the labels; unused ones NULL).
typedef enum { CE, L2, KD } loss_kind;
typedef struct {
    loss_kind kind;
    const float *t;
    const int32_t *lab;
    int64_t rows, cols;
    float T;
} loss_args;

static mimic_status lib_loss(const loss_args *a, const float *s, float *loss, float *grad) {
    switch (a->kind) {
    case CE:
        return mimic_ce_loss(s, a->lab, a->rows, a->cols, loss, grad);
    case L2:
        return mimic_logit_l2_loss(s, a->t, a->rows, a->cols, loss, grad);
    default:
        return mimic_kd_loss(s, a->t, a->rows, a->cols, a->T, loss, grad);
    }
}

static double ref_loss(const loss_args *a, const double *s, const double *t, double *grad) {
    switch (a->kind) {
    case CE:
        return ref_ce_loss(s, a->lab, a->rows, a->cols, grad);
    case L2:
        return ref_l2_loss(s, t, a->rows, a->cols, grad);
    default:
        return ref_kd_loss(s, t, a->rows, a->cols, a->T, grad);
    }
}

// Reference value, gradient and the bounds above for one problem.
static double ref_with_bounds(const loss_args *a, const float *s, double *g, double *g_tol,
                              double *loss_tol) {
    int64_t rows = a->rows, cols = a->cols;
    size_t n = (size_t)(rows * cols);
    double *sd = dcopy(s, n), *td = a->t ? dcopy(a->t, n) : NULL;
    double want = ref_loss(a, sd, td, g), lt = 0;
    if (a->kind == L2) {
        for (size_t k = 0; k < n; k++)
            g_tol[k] = 4 * TC_U * fabs(g[k]);
        lt = (double)(n + 4) * TC_U * fabs(want);
    } else if (a->kind == CE) {
        probs q = probs_of(s, rows, cols, 1.0);
        for (int64_t i = 0; i < rows; i++) {
            size_t kl = (size_t)(i * cols + a->lab[i]);
            lt += tol_l(q.l[kl], q.d[kl], cols) / (double)rows;
            for (int64_t j = 0; j < cols; j++) {
                size_t k = (size_t)(i * cols + j);
                double oh = j == a->lab[i] ? 1.0 : 0.0;
                g_tol[k] = (tol_p(q.p[k], q.d[k], cols) + 2 * TC_U * fabs(q.p[k] - oh)) /
                               (double)rows + 2 * TC_U * fabs(g[k]);
            }
        }
        lt += (double)(rows + 2) * TC_U * fabs(want);
        probs_free(&q);
    } else {
        double T = a->T, acc = 0, acc_abs = 0;
        probs q = probs_of(s, rows, cols, T), p = probs_of(a->t, rows, cols, T);
        for (size_t k = 0; k < n; k++) {
            if (p.p[k] > 0) {
                double dl = p.l[k] - q.l[k];
                acc += p.p[k] * (tol_l(p.l[k], p.d[k], cols) + tol_l(q.l[k], q.d[k], cols)) +
                       fabs(dl) * (tol_p(p.p[k], p.d[k], cols) - 2 * FLT_MIN);
                acc_abs += fabs(p.p[k] * dl);
            }
            g_tol[k] = T / (double)rows *
                           (tol_p(q.p[k], q.d[k], cols) + tol_p(p.p[k], p.d[k], cols) +
                            2 * TC_U * fabs(q.p[k] - p.p[k])) +
                       4 * TC_U * fabs(g[k]);
        }
        lt = T * T / (double)rows * (acc + (double)(cols + rows + 3) * TC_U * acc_abs) +
             4 * TC_U * fabs(want);
        probs_free(&q);
        probs_free(&p);
    }
    free(sd);
    free(td);
    *loss_tol = lt;
    return want;
}

static const char *kind_name(loss_kind k) { return k == CE ? "ce" : k == L2 ? "l2" : "kd"; }

// Central differences in float over mimic's own loss, step h; the bound allows the truncation
// (1e-2 relative, 1e-3 of the largest gradient) and twice the loss bound over the step.
static void fd_float(const loss_args *a, float *s, const float *grad, double loss_tol, float h) {
    size_t n = (size_t)(a->rows * a->cols);
    double gmax = 0;
    for (size_t k = 0; k < n; k++) // (not fmax: GCC 12's AArch64 vectorizer ICEs on it)
        if (fabs(grad[k]) > gmax)
            gmax = fabs(grad[k]);
    for (size_t k = 0; k < n; k++) {
        float s0 = s[k], lp, lm;
        s[k] = s0 + h;
        double xp = s[k];
        TC_STATUS(lib_loss(a, s, &lp, NULL), MIMIC_OK);
        s[k] = s0 - h;
        double xm = s[k];
        TC_STATUS(lib_loss(a, s, &lm, NULL), MIMIC_OK);
        s[k] = s0;
        double fd = ((double)lp - lm) / (xp - xm);
        char name[64];
        snprintf(name, sizeof name, "%s grad[%zu] vs float finite difference", kind_name(a->kind),
                 k);
        tc_check_near1(name, grad[k], fd,
                       1e-2 * fabs(fd) + 1e-3 * gmax + 2 * 2 * loss_tol / (xp - xm));
    }
}

// One problem, every ISA: loss and gradient vs the reference, grad NULL gives the same loss,
// grad aliasing the student gives the same bits (CE documents it), optional float FD.
static void check_loss(const loss_args *a, const float *s, int with_fd) {
    size_t n = (size_t)(a->rows * a->cols);
    double *g = tc_dalloc(n), *g_tol = tc_dalloc(n), loss_tol;
    double want = ref_with_bounds(a, s, g, g_tol, &loss_tol);
    float *grad = tc_alloc(n + TC_GUARD), *alias = tc_alloc(n), *sc = tc_alloc(n);
    memcpy(sc, s, n * sizeof *sc);
    tc_tol tg = {.tol = g_tol};
    char what[64];
    TC_FOR_EACH_ISA(isa) {
        float loss = NAN, loss2 = NAN;
        tc_fill(grad, n, NAN);
        tc_fill_sentinel(grad + n, TC_GUARD);
        TC_STATUS(lib_loss(a, sc, &loss, grad), MIMIC_OK);
        tc_check_bitwise("student logits after the call", sc, s, n);
        snprintf(what, sizeof what, "%s loss vs reference", kind_name(a->kind));
        tc_check_near1(what, loss, want, loss_tol);
        snprintf(what, sizeof what, "%s grad vs reference", kind_name(a->kind));
        tc_check_near(what, grad, n, g, 1, n, tg);
        tc_check_sentinel("guard past grad", grad + n, TC_GUARD);
        TC_STATUS(lib_loss(a, sc, &loss2, NULL), MIMIC_OK);
        tc_check_bitwise("loss with grad NULL vs with grad", &loss2, &loss, 1);
        if (a->kind == CE) {
            memcpy(alias, s, n * sizeof *alias);
            TC_STATUS(lib_loss(a, alias, &loss2, alias), MIMIC_OK);
            tc_check_bitwise("ce loss with grad aliasing logits", &loss2, &loss, 1);
            tc_check_bitwise("ce grad aliasing logits", alias, grad, n);
        }
        if (with_fd)
            fd_float(a, sc, grad, loss_tol, a->kind == KD ? 0.02f * fmaxf(1.0f, a->T) : 1e-2f);
    }
    free(g), free(g_tol), free(grad), free(alias), free(sc);
}

static const float k_temps[] = {0.5f, 1.0f, 4.0f, 20.0f};
static const int64_t k_rows[] = {1, 3, 19}; // 19: groups of 8 (AVX2) and 16 (AVX-512) + 3
static const int64_t k_cols[] = {1, 2, 10, 17, 100};
static const float k_amp[] = {1.0f, 8.0f, 30.0f};

static void test_losses_vs_reference(void **state) {
    (void)state;
    tc_rng rng = tc_rng_seed(21);
    for (int ir = 0; ir < 3; ir++)
        for (int ic = 0; ic < 5; ic++)
            for (int ia = 0; ia < 3; ia++) {
                int64_t rows = k_rows[ir], cols = k_cols[ic];
                size_t n = (size_t)(rows * cols);
                float *s = tc_alloc(n), *t = tc_alloc(n);
                int32_t *lab = malloc((size_t)rows * sizeof *lab);
                tc_fill_uniform(&rng, s, n, -k_amp[ia], k_amp[ia]);
                tc_fill_uniform(&rng, t, n, -k_amp[ia], k_amp[ia]);
                for (int64_t i = 0; i < rows; i++)
                    lab[i] = (int32_t)tc_rng_int(&rng, 0, cols - 1);
                int fd = rows <= 3 && cols <= 17 && ia < 2;
                loss_args a = {CE, NULL, lab, rows, cols, 1.0f};
                tc_ctx("ce rows=%lld cols=%lld logits +-%g", (long long)rows, (long long)cols,
                       (double)k_amp[ia]);
                check_loss(&a, s, fd);
                a = (loss_args){L2, t, NULL, rows, cols, 1.0f};
                tc_ctx("l2 rows=%lld cols=%lld logits +-%g", (long long)rows, (long long)cols,
                       (double)k_amp[ia]);
                check_loss(&a, s, fd);
                for (int it = 0; it < 4; it++) {
                    a = (loss_args){KD, t, NULL, rows, cols, k_temps[it]};
                    tc_ctx("kd rows=%lld cols=%lld T=%g logits +-%g", (long long)rows,
                           (long long)cols, (double)k_temps[it], (double)k_amp[ia]);
                    check_loss(&a, s, fd);
                }
                free(s), free(t), free(lab);
            }
}

// The reference gradients are the derivatives of the reference losses (central differences in
// double, step 1e-5: truncation ~1e-10, rounding ~1e-11), which pins the 1/rows, the 1/2 of
// L2 and the T / T^2 factors of KD that the library is then compared against.
static void test_losses_reference_fd(void **state) {
    (void)state;
    tc_rng rng = tc_rng_seed(22);
    const int64_t rows = 3, cols = 5, n = rows * cols;
    double s[15], t[15], g[15], gd[15];
    int32_t lab[3] = {0, 4, 2};
    for (int64_t k = 0; k < n; k++)
        s[k] = tc_rng_float(&rng, -3, 3), t[k] = tc_rng_float(&rng, -3, 3);
    tc_ctx("reference gradients vs double finite differences");
    for (int v = 0; v < 6; v++) {
        loss_args a = {v == 0 ? CE : v == 1 ? L2 : KD, NULL, lab, rows, cols,
                       v >= 2 ? k_temps[v - 2] : 1.0f};
        ref_loss(&a, s, t, g);
        for (int64_t k = 0; k < n; k++) {
            double s0 = s[k], h = 1e-5;
            s[k] = s0 + h;
            double lp = ref_loss(&a, s, t, NULL);
            s[k] = s0 - h;
            double lm = ref_loss(&a, s, t, NULL);
            s[k] = s0;
            gd[k] = (lp - lm) / (2 * h);
            char name[64];
            snprintf(name, sizeof name, "ref %s (T=%g) grad[%lld]", kind_name(a.kind),
                     (double)a.T, (long long)k);
            tc_check_near1(name, g[k], gd[k], 1e-7 * (1 + fabs(gd[k])));
        }
    }
}

// l2 closed form: teacher on a 1/64 grid, student = teacher + 0.5, so every difference is
// exactly 0.5: loss = rows*cols*0.25 / (2 rows) = cols/8 and grad = 0.5/rows, to a few ulp.
static void test_l2_closed_form(void **state) {
    (void)state;
    tc_rng rng = tc_rng_seed(23);
    static const int64_t shapes[][2] = {{1, 1}, {3, 17}, {8, 100}, {5, 1000}};
    for (int i = 0; i < 4; i++) {
        int64_t rows = shapes[i][0], cols = shapes[i][1];
        size_t n = (size_t)(rows * cols);
        float *s = tc_alloc(n), *t = tc_alloc(n), *g = tc_alloc(n);
        for (size_t k = 0; k < n; k++) {
            t[k] = (float)tc_rng_int(&rng, -256, 256) / 64.0f;
            s[k] = t[k] + 0.5f;
        }
        double want = (double)cols / 8.0, gw = 0.5 / (double)rows;
        tc_ctx("l2 closed form rows=%lld cols=%lld", (long long)rows, (long long)cols);
        TC_FOR_EACH_ISA(isa) {
            float loss;
            TC_STATUS(mimic_logit_l2_loss(s, t, rows, cols, &loss, g), MIMIC_OK);
            tc_check_near1("l2 loss", loss, want, 4 * TC_U * want);
            for (size_t k = 0; k < n; k++)
                tc_check_near1("l2 grad", g[k], gw, 4 * TC_U * gw);
        }
        free(s), free(t), free(g);
    }
}

// student == teacher: KD loss and gradient vanish to a few ulp of the terms; masks in the
// teacher (p = 0, also where the student is masked too) add 0, not NaN. On short rows, on the
// online path with stored exps (one chunk, two) and on rows long enough to recompute them.
static void kd_equal_and_masked(tc_rng *rng, int64_t rows, int64_t cols) {
    const size_t n = (size_t)(rows * cols);
    float *s = tc_alloc(n), *g = tc_alloc(n);
    tc_fill_uniform(rng, s, n, -6, 6);
    for (int it = 0; it < 4; it++) {
        float T = k_temps[it];
        probs p = probs_of(s, rows, cols, T);
        double ent = 0;
        for (size_t k = 0; k < n; k++)
            ent += p.p[k] * fabs(p.l[k]) / (double)rows;
        tc_ctx("kd student == teacher, rows=%lld cols=%lld T=%g", (long long)rows,
               (long long)cols, (double)T);
        TC_FOR_EACH_ISA(isa) {
            float loss;
            TC_STATUS(mimic_kd_loss(s, s, rows, cols, T, &loss, g), MIMIC_OK);
            tc_check_near1("kd loss, student == teacher", loss, 0.0,
                           (double)T * T * 16 * TC_U * (1 + ent));
            for (size_t k = 0; k < n; k++)
                tc_check_near1("kd grad, student == teacher", g[k], 0.0,
                               (double)T / (double)rows * 16 * TC_U * p.p[k] + 2 * FLT_MIN);
        }
        probs_free(&p);
    }
    float *t = tc_alloc(n);
    tc_fill_uniform(rng, t, n, -6, 6);
    for (int64_t i = 0; i < rows; i++) {
        t[i * cols + i] = -INFINITY;     // teacher masked, student not
        t[i * cols + cols - 1] = -INFINITY; // both masked
        s[i * cols + cols - 1] = -INFINITY;
    }
    for (int it = 0; it < 4; it++) {
        loss_args a = {KD, t, NULL, rows, cols, k_temps[it]};
        tc_ctx("kd with masked teacher entries, cols=%lld T=%g", (long long)cols,
               (double)k_temps[it]);
        check_loss(&a, s, 0);
    }
    free(s), free(g), free(t);
}

static void test_kd_equal_and_masked(void **state) {
    (void)state;
    tc_rng rng = tc_rng_seed(24);
    kd_equal_and_masked(&rng, 4, 33);
    kd_equal_and_masked(&rng, 4, 1100);
    kd_equal_and_masked(&rng, 2, 20000);
    kd_equal_and_masked(&rng, 1, 140000);
}

// Rows on every path: short (in registers on some ISAs, not on others), three passes, and the
// online pass (one chunk, two); ce with the gradient written over the logits included.
static void test_losses_long_rows(void **state) {
    (void)state;
    static const int64_t cols_list[] = {33, 65, 1023, 1024, 20000, 140000};
    tc_rng rng = tc_rng_seed(25);
    for (int ic = 0; ic < 6; ic++) {
        const int64_t rows = 2, cols = cols_list[ic];
        const size_t n = (size_t)(rows * cols);
        float *s = tc_alloc(n), *t = tc_alloc(n);
        int32_t lab[2] = {0, (int32_t)(cols - 1)};
        tc_fill_uniform(&rng, s, n, -8, 8);
        tc_fill_uniform(&rng, t, n, -8, 8);
        loss_args a = {CE, NULL, lab, rows, cols, 1.0f};
        tc_ctx("ce rows=%lld cols=%lld", (long long)rows, (long long)cols);
        check_loss(&a, s, 0);
        a = (loss_args){L2, t, NULL, rows, cols, 1.0f};
        tc_ctx("l2 rows=%lld cols=%lld", (long long)rows, (long long)cols);
        check_loss(&a, s, 0);
        for (int it = 0; it < 4; it++) {
            a = (loss_args){KD, t, NULL, rows, cols, k_temps[it]};
            tc_ctx("kd rows=%lld cols=%lld T=%g", (long long)rows, (long long)cols,
                   (double)k_temps[it]);
            check_loss(&a, s, 0);
        }
        free(s), free(t);
    }
}

// Loss and gradient bits do not depend on the thread count.
static void test_losses_threads_bitwise(void **state) {
    (void)state;
    static const int64_t shapes[][2] = {{300, 10}, {70, 1000}, {3, 3000}, {5, 20000}};
    tc_rng rng = tc_rng_seed(26);
    const int threads = mimic_threads_get();
    for (int i = 0; i < 4; i++) {
        const int64_t rows = shapes[i][0], cols = shapes[i][1];
        const size_t n = (size_t)(rows * cols);
        float *s = tc_alloc(n), *t = tc_alloc(n), *g1 = tc_alloc(n), *g2 = tc_alloc(n);
        int32_t *lab = malloc((size_t)rows * sizeof *lab);
        tc_fill_uniform(&rng, s, n, -8, 8);
        tc_fill_uniform(&rng, t, n, -8, 8);
        for (int64_t r = 0; r < rows; r++)
            lab[r] = (int32_t)tc_rng_int(&rng, 0, cols - 1);
        TC_FOR_EACH_ISA(isa) {
            for (int kind = CE; kind <= KD; kind++) {
                loss_args a = {(loss_kind)kind, t, lab, rows, cols, 4.0f};
                float l1, l2;
                tc_ctx("%s rows=%lld cols=%lld, 1 thread vs 3", kind_name(a.kind),
                       (long long)rows, (long long)cols);
                mimic_threads_set(1);
                TC_STATUS(lib_loss(&a, s, &l1, g1), MIMIC_OK);
                mimic_threads_set(3);
                TC_STATUS(lib_loss(&a, s, &l2, g2), MIMIC_OK);
                mimic_threads_set(threads);
                tc_check_bitwise("loss, 3 threads vs 1", &l2, &l1, 1);
                tc_check_bitwise("grad, 3 threads vs 1", g2, g1, n);
            }
        }
        free(s), free(t), free(g1), free(g2), free(lab);
    }
}

// Labels out of range: MIMIC_EINVAL, loss and grad untouched.
static void test_ce_bad_labels(void **state) {
    (void)state;
    float x[6] = {1, 2, 3, 4, 5, 6}, loss, g[6];
    const int32_t bad[][2] = {{0, 3}, {-1, 0}, {2, 1000}, {INT32_MIN, 0}};
    TC_FOR_EACH_ISA(isa) {
        for (int i = 0; i < 4; i++) {
            tc_ctx("ce labels {%d, %d}, cols = 3", (int)bad[i][0], (int)bad[i][1]);
            tc_fill_sentinel(&loss, 1);
            tc_fill_sentinel(g, 6);
            TC_STATUS(mimic_ce_loss(x, bad[i], 2, 3, &loss, g), MIMIC_EINVAL);
            TC_STATUS(mimic_ce_loss(x, bad[i], 2, 3, &loss, NULL), MIMIC_EINVAL);
            tc_check_sentinel("loss", &loss, 1);
            tc_check_sentinel("grad", g, 6);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_losses_vs_reference), cmocka_unit_test(test_losses_reference_fd),
        cmocka_unit_test(test_l2_closed_form),      cmocka_unit_test(test_kd_equal_and_masked),
        cmocka_unit_test(test_ce_bad_labels),       cmocka_unit_test(test_losses_long_rows),
        cmocka_unit_test(test_losses_threads_bitwise),
    };
    return cmocka_run_group_tests_name("losses", tests, tc_group_setup, tc_group_teardown);
}
