// Shared test helpers (see common.h).
#define _POSIX_C_SOURCE 200112L // posix_memalign: exact sizes, so ASan sees every overrun
#include "common.h"

static char g_ctx[512];
static mimic_isa g_isa = MIMIC_ISA_SCALAR;
static int g_isa_ran[MIMIC_ISA_COUNT];
static int g_isa_skipped[MIMIC_ISA_COUNT];
static double g_worst_ratio; // largest |got - want| / tol seen by a passing check
static char g_worst_what[160];

void tc_fail_at(const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("[isa %s] %s\n    %s\n", mimic_isa_name(mimic_isa_active()),
                g_ctx[0] ? g_ctx : "-", msg);
    _fail(file, line);
}

void tc_ctx(const char *fmt, ...) {
    static int trace = -1; // MIMIC_TEST_TRACE=1 prints every case (to find a hang)
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_ctx, sizeof g_ctx, fmt, ap);
    va_end(ap);
    if (trace < 0)
        trace = getenv("MIMIC_TEST_TRACE") != NULL;
    if (trace) {
        fprintf(stderr, "[ trace ] %s\n", g_ctx);
        fflush(stderr);
    }
}

const char *tc_ctx_str(void) { return g_ctx; }

tc_rng tc_rng_seed(uint64_t seed) {
    tc_rng r = {seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull};
    return r;
}

uint64_t tc_rng_next(tc_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double tc_rng_unit(tc_rng *r) { return (double)(tc_rng_next(r) >> 11) * 0x1.0p-53; }

float tc_rng_float(tc_rng *r, float lo, float hi) {
    float v = (float)(lo + (hi - (double)lo) * tc_rng_unit(r));
    return v < hi ? v : lo;
}

int64_t tc_rng_int(tc_rng *r, int64_t lo, int64_t hi) {
    return lo + (int64_t)(tc_rng_next(r) % (uint64_t)(hi - lo + 1));
}

void tc_fill_uniform(tc_rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++)
        x[i] = tc_rng_float(r, lo, hi);
}

void tc_fill(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++)
        x[i] = v;
}

float *tc_alloc_off(size_t n, size_t off) {
    void *v = NULL;
    size_t bytes = (n + off) * sizeof(float);
    if (posix_memalign(&v, 64, bytes ? bytes : sizeof(float)) != 0 || !v) {
        fprintf(stderr, "out of memory (%zu floats)\n", n);
        abort();
    }
    return (float *)v + off;
}

float *tc_alloc(size_t n) { return tc_alloc_off(n, 0); }

void tc_free_off(float *p, size_t off) {
    if (p)
        free(p - off);
}

double *tc_dalloc(size_t n) {
    double *p = malloc((n ? n : 1) * sizeof(double));
    if (!p) {
        fprintf(stderr, "out of memory (%zu doubles)\n", n);
        abort();
    }
    return p;
}

void tc_to_double(const float *x, double *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = x[i];
}

static const uint32_t k_sentinel = 0x7FC0DEADu; // quiet NaN, payload 0xDEAD

void tc_fill_sentinel(float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        memcpy(&x[i], &k_sentinel, sizeof k_sentinel);
}

void tc_check_sentinel(const char *what, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &x[i], sizeof b);
        if (b != k_sentinel)
            TC_FAIL("%s: element %zu was written (now %g, bits 0x%08x); it must be untouched",
                    what, i, (double)x[i], (unsigned)b);
    }
}

void tc_check_bitwise(const char *what, const float *got, const float *want, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
            TC_FAIL("%s: element %zu differs bitwise: got %.9g, want %.9g", what, i,
                    (double)got[i], (double)want[i]);
    }
}

double tc_scale(void) {
    static double scale = -1.0;
    if (scale < 0) {
        const char *s = getenv("MIMIC_TEST_SCALE");
        double v = s ? strtod(s, NULL) : 1.0;
        scale = (v > 0 && isfinite(v)) ? v : 1.0;
    }
    return scale;
}

int64_t tc_scaled(int64_t base, int64_t min) {
    int64_t v = (int64_t)llround((double)base * tc_scale());
    return v > min ? v : min;
}

int tc_isa_begin(mimic_isa isa) {
    if (!mimic_isa_supported(isa)) {
        g_isa_skipped[isa] = 1;
        return 0;
    }
    g_isa = isa;
    TC_STATUS(mimic_isa_set(isa), MIMIC_OK);
    if (mimic_isa_active() != isa)
        TC_FAIL("mimic_isa_set(%s) succeeded but mimic_isa_active() is %s",
                mimic_isa_name(isa), mimic_isa_name(mimic_isa_active()));
    g_isa_ran[isa] = 1;
    return 1;
}

mimic_isa tc_isa_current(void) { return g_isa; }

int tc_group_setup(void **state) {
    (void)state;
    print_message("[ info ] MIMIC_TEST_SCALE=%g, best ISA %s, threads %d\n", tc_scale(),
                  mimic_isa_name(mimic_isa_best()), mimic_threads_get());
    return 0;
}

int tc_group_teardown(void **state) {
    (void)state;
    char ran[64] = "", skipped[64] = "";
    for (int i = 0; i < MIMIC_ISA_COUNT; i++) {
        char *dst = g_isa_ran[i] ? ran : g_isa_skipped[i] ? skipped : NULL;
        if (dst) {
            strcat(dst, " ");
            strcat(dst, mimic_isa_name((mimic_isa)i));
        }
    }
    print_message("[ info ] ISAs tested:%s; skipped (not supported by this CPU/build):%s\n",
                  ran[0] ? ran : " none", skipped[0] ? skipped : " none");
    if (g_worst_ratio > 0)
        print_message("[ info ] tightest passing check: err/tol = %.3g in %s\n", g_worst_ratio,
                      g_worst_what);
    mimic_isa_set(mimic_isa_best());
    return 0;
}

static int nan_or_inf_match(double got, double want) {
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return -1; // finite want: compare numerically
}

void tc_check_near(const char *what, const float *got, size_t ld_got, const double *want,
                   size_t rows, size_t cols, tc_tol tol) {
    double worst = -1.0;
    size_t wi = 0, wj = 0;
    double wgot = 0, wwant = 0, wtol = 0;
    int fail = 0;
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < cols; j++) {
            size_t k = i * cols + j;
            double g = got[i * ld_got + j], w = want[k];
            double t = tol.tol ? tol.tol[k] : tol.rel * (tol.mag ? tol.mag[k] : fabs(w)) + tol.abs;
            double ratio;
            int m = nan_or_inf_match(g, w);
            if (m >= 0)
                ratio = m ? 0.0 : INFINITY;
            else if (!isfinite(g))
                ratio = INFINITY;
            else {
                double e = fabs(g - w);
                ratio = e == 0 ? 0.0 : t > 0 ? e / t : INFINITY;
            }
            if (ratio > 1.0)
                fail = 1;
            if (ratio > worst) {
                worst = ratio;
                wi = i, wj = j, wgot = g, wwant = w, wtol = t;
            }
        }
    }
    if (!fail && worst > g_worst_ratio) {
        g_worst_ratio = worst;
        snprintf(g_worst_what, sizeof g_worst_what, "%s [isa %s] %.100s", what,
                 mimic_isa_name(mimic_isa_active()), g_ctx);
    }
    if (fail)
        TC_FAIL("%s: worst element (row %zu, col %zu): got %.9g, want %.9g, |err| %.3g > tol "
                "%.3g (err/tol %.3g)",
                what, wi, wj, wgot, wwant, fabs(wgot - wwant), wtol, worst);
}

void tc_check_near1(const char *what, double got, double want, double tol) {
    int m = nan_or_inf_match(got, want);
    if (m == 1)
        return;
    double ratio = fabs(got - want) == 0 ? 0 : fabs(got - want) / tol;
    if (m < 0 && isfinite(got) && ratio <= 1 && ratio > g_worst_ratio) {
        g_worst_ratio = ratio;
        snprintf(g_worst_what, sizeof g_worst_what, "%s [isa %s] %.100s", what,
                 mimic_isa_name(mimic_isa_active()), g_ctx);
    }
    if (m == 0 || !isfinite(got) || !(fabs(got - want) <= tol))
        TC_FAIL("%s: got %.9g, want %.9g, |err| %.3g > tol %.3g", what, got, want,
                fabs(got - want), tol);
}
