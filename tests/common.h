// Shared test helpers: seeded RNG, buffers, the per-ISA loop, comparisons that name the worst
// element, and the MIMIC_TEST_SCALE knob.
#ifndef MIMIC_TESTS_COMMON_H
#define MIMIC_TESTS_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimic/mimic.h>

// Unit roundoff of fp32 (2^-24); FLT_EPSILON is 2u.
#define TC_U ((double)FLT_EPSILON * 0.5)

// --- Failure reporting: every message carries the ISA under test and the case context. ---
void tc_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define TC_FAIL(...) tc_fail_at(__FILE__, __LINE__, __VA_ARGS__)
// Describe the current case ("sgemm N T M=3 ..."); shown by every failure message.
void tc_ctx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *tc_ctx_str(void);
// Fail unless status == want, naming the call.
#define TC_STATUS(call, want)                                                                  \
    do {                                                                                       \
        mimic_status tc_st_ = (call);                                                          \
        if (tc_st_ != (want))                                                                  \
            TC_FAIL("%s returned %d (%s), want %d", #call, (int)tc_st_,                        \
                    mimic_status_str(tc_st_), (int)(want));                                    \
    } while (0)
#define TC_CHECK(cond)                                                                         \
    do {                                                                                       \
        if (!(cond))                                                                           \
            TC_FAIL("check failed: %s", #cond);                                                \
    } while (0)

// --- RNG: splitmix64, fixed seeds, identical on every host. ---
typedef struct {
    uint64_t s;
} tc_rng;
tc_rng tc_rng_seed(uint64_t seed);
uint64_t tc_rng_next(tc_rng *r);
double tc_rng_unit(tc_rng *r);                          // [0, 1)
float tc_rng_float(tc_rng *r, float lo, float hi);      // [lo, hi)
int64_t tc_rng_int(tc_rng *r, int64_t lo, int64_t hi); // [lo, hi]
void tc_fill_uniform(tc_rng *r, float *x, size_t n, float lo, float hi);
void tc_fill(float *x, size_t n, float v);

// --- Buffers: 64-byte aligned; tc_alloc_off returns base + off floats (off = 1 gives a
// pointer that is 4-byte but not 16-byte aligned). Abort on allocation failure. ---
float *tc_alloc(size_t n);
float *tc_alloc_off(size_t n, size_t off);
void tc_free_off(float *p, size_t off);
double *tc_dalloc(size_t n);
void tc_to_double(const float *x, double *y, size_t n);
// Floats of sentinel past the end of output buffers, checked after each call.
#define TC_GUARD 16
// A sentinel bit pattern (a quiet NaN with a payload) and its check.
void tc_fill_sentinel(float *x, size_t n);
// Fails naming the first element whose bits differ from the sentinel.
void tc_check_sentinel(const char *what, const float *x, size_t n);
// Bitwise comparison of two float arrays; fails naming the first difference.
void tc_check_bitwise(const char *what, const float *got, const float *want, size_t n);

// --- Scale knob: MIMIC_TEST_SCALE (default 1) shrinks random sweeps and big cases. ---
double tc_scale(void);
int64_t tc_scaled(int64_t base, int64_t min); // max(min, round(base * scale))

// --- ISA loop: runs the body for every ISA the CPU supports, after mimic_isa_set(isa). ---
int tc_isa_begin(mimic_isa isa);
mimic_isa tc_isa_current(void);
#define TC_FOR_EACH_ISA(isa)                                                                   \
    for (mimic_isa isa = MIMIC_ISA_SCALAR; isa < MIMIC_ISA_COUNT; isa = (mimic_isa)(isa + 1))  \
        if (tc_isa_begin(isa))
// Group setup/teardown: the teardown prints which ISAs were skipped and restores the best.
int tc_group_setup(void **state);
int tc_group_teardown(void **state);

// --- Comparisons. Element i passes when |got - want| <= tol_i, where tol_i comes from the
// callback (or rel * mag[i] + abs). NaN must match NaN, an infinity must match exactly. On
// failure the element with the largest |got - want| / tol is reported with its (row, col). ---
typedef struct {
    const double *mag; // per-element magnitude (NULL: |want|)
    double rel;        // tol_i = rel * mag_i + abs
    double abs;
    const double *tol; // if non-NULL, the per-element tolerance itself (rel, abs, mag ignored)
} tc_tol;
// got is rows x cols with row stride ld_got; want/mag/tol are dense rows x cols.
void tc_check_near(const char *what, const float *got, size_t ld_got, const double *want,
                   size_t rows, size_t cols, tc_tol tol);
// Scalar version.
void tc_check_near1(const char *what, double got, double want, double tol);

#endif
