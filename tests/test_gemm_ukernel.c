// Every GEMM microkernel of gemm_ukernels.inc, called directly: every tile size m x n in
// 1..mr_max x 1..NR (rows past MR: the packed form only, from the next panel), several depths,
// packed and in-place (strided) B, beta 0 / 1 / 2.5, in each of its three forms (packed, B rows
// at offsets, A rows at offsets), the packed form also through its prefetching entry and, for
// full panels, on A^T in place (columns a_stride apart): bit for bit the same tile; and the
// dot-product tile of each ISA over every m x n and K around its vector length.
// Padding rows of A and columns of B hold NaN, which must never reach a stored element, and
// everything of C outside the m x n tile must keep its sentinel.
#include <math.h>
#include <string.h>

#include "common.h"
#include "kernels/gemm/gemm_ukernels.h"

static const size_t depths[] = {1, 2, 3, 5, 8, 17, 64, 129};
static const float betas[] = {0.0f, 1.0f, 2.5f};

enum form { PACKED, B_OFFSETS, A_OFFSETS };
static const char *const form_names[] = {"packed", "B offsets", "A offsets"};

// The offset forms read A and B from a scattered layout: row r of `rows` rows of `len` floats
// goes to a random offset of a buffer (rows may overlap partly: later rows overwrite), every
// offset recorded. The logical matrix is then read back from the buffer, so overlaps are
// whatever the buffer holds.
static float *scatter_rows(tc_rng *rng, size_t rows, size_t len, int64_t *offs, size_t *size)
{
    *size = rows * len * 2 + 64;
    float *buf = tc_alloc(*size);
    for (size_t i = 0; i < *size; i++)
        buf[i] = tc_rng_float(rng, -1.0f, 1.0f);
    for (size_t r = 0; r < rows; r++)
        offs[r] = tc_rng_int(rng, 0, (int64_t)(*size - len));
    return buf;
}

// Element (i, p) of a packed A of two panels: rows from MR on (a tile of up to mr_max rows,
// the packed form only) lie in the next panel, MR * kc floats on.
static float *a_at(float *a, size_t MR, size_t kc, size_t i, size_t p)
{
    return i < MR ? a + p * MR + i : a + MR * kc + p * MR + (i - MR);
}

// One call of `uk` on an m x n tile of depth kc with B row stride bs, checked element-wise.
static void check_tile(const mimic_gemm_ukernel *uk, tc_rng *rng, enum form form, size_t m,
                       size_t n, size_t kc, size_t bs, float beta)
{
    const size_t MR = (size_t)uk->mr, NR = (size_t)uk->nr, ldc = NR + 3;
    const size_t rows = (size_t)uk->mr_max; // C's rows in the buffer
    float *a = tc_alloc(2 * kc * MR), *b = tc_alloc(kc * bs);
    float *c = tc_alloc(rows * ldc + TC_GUARD);
    double *want = tc_dalloc(m * n), *tol = tc_dalloc(m * n);
    for (size_t p = 0; p < kc; p++) {
        for (size_t i = 0; i < 2 * MR; i++)
            *a_at(a, MR, kc, i, p) = i < m ? tc_rng_float(rng, -1.0f, 1.0f) : NAN;
        for (size_t j = 0; j < bs; j++)
            b[p * bs + j] = j < n ? tc_rng_float(rng, -1.0f, 1.0f) : NAN;
    }
    // The offset forms: B rows (NR floats each, the lanes past n left as the buffer holds
    // them) or A rows (kc floats each; rows past m repeat row 0, as callers pass them).
    int64_t *offs = malloc((kc > MR ? kc : MR) * sizeof *offs);
    size_t size = 0;
    float *scattered = NULL;
    if (form == B_OFFSETS) {
        scattered = scatter_rows(rng, kc, NR, offs, &size);
        for (size_t p = 0; p < kc; p++)
            for (size_t j = 0; j < n; j++)
                b[p * bs + j] = scattered[offs[p] + (int64_t)j];
    } else if (form == A_OFFSETS) {
        scattered = scatter_rows(rng, m, kc, offs, &size);
        for (size_t i = m; i < MR; i++)
            offs[i] = offs[0];
        for (size_t p = 0; p < kc; p++)
            for (size_t i = 0; i < m; i++)
                a[p * MR + i] = scattered[offs[i] + (int64_t)p];
    }
    tc_fill_sentinel(c, rows * ldc + TC_GUARD);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            c[i * ldc + j] = beta == 0.0f ? NAN : tc_rng_float(rng, -1.0f, 1.0f);
    float *c_in = tc_alloc(rows * ldc + TC_GUARD);
    memcpy(c_in, c, (rows * ldc + TC_GUARD) * sizeof(float));
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0.0, mag = 0.0;
            for (size_t p = 0; p < kc; p++) {
                s += (double)*a_at(a, MR, kc, i, p) * b[p * bs + j];
                mag += fabs((double)*a_at(a, MR, kc, i, p) * b[p * bs + j]);
            }
            const double c0 = beta == 0.0f ? 0.0 : (double)beta * c[i * ldc + j];
            want[i * n + j] = s + c0;
            // Any summation order is within kc*u*sum|ab|; the beta term adds two roundings.
            tol[i * n + j] = 2.0 * (double)(kc + 2) * TC_U * (mag + fabs(c0)) + 1e-30;
        }
    tc_ctx("%s (%s) m=%zu n=%zu kc=%zu b_stride=%zu beta=%g", uk->name, form_names[form], m, n, kc,
           bs, beta);
    if (form == PACKED)
        uk->fn(m, n, kc, a, MR, b, bs, c, ldc, beta);
    else if (form == B_OFFSETS)
        uk->boff(m, n, kc, a, scattered, offs, c, ldc, beta);
    else
        uk->aoff(m, n, kc, scattered, offs, b, bs, c, ldc, beta);
    tc_check_near("C tile", c, ldc, want, m, n, (tc_tol){.tol = tol});
    // Outside the tile: the sentinel, untouched.
    for (size_t i = 0; i < rows; i++)
        tc_check_sentinel("C right of the tile", c + i * ldc + n, i < m ? ldc - n : 0);
    tc_check_sentinel("C below the tile", c + m * ldc, (rows - m) * ldc + TC_GUARD);
    if (form == PACKED) { // the prefetching entry: the same bits everywhere, whatever it fetches
        const size_t pf_stride = 37;
        const unsigned pf_shift = (unsigned)((m + n + kc) % 4);
        float *pf = tc_alloc(kc * pf_stride + 16);
        tc_ctx("%s (prefetching, shift %u) m=%zu n=%zu kc=%zu b_stride=%zu beta=%g", uk->name,
               pf_shift, m, n, kc, bs, beta);
        float *c_pf = tc_alloc(rows * ldc + TC_GUARD);
        memcpy(c_pf, c_in, (rows * ldc + TC_GUARD) * sizeof(float));
        uk->pf(m, n, kc, a, MR, b, bs, c_pf, ldc, beta, pf, pf_stride, pf_shift);
        assert_memory_equal(c_pf, c, (rows * ldc + TC_GUARD) * sizeof(float));
        free(c_pf);
        free(pf);
    }
    if (form == PACKED && m == MR) { // A^T read in place: columns a_stride apart, NaN between
        const size_t as = MR + 5;
        float *a_t = tc_alloc(kc * as), *c_t = tc_alloc(rows * ldc + TC_GUARD);
        for (size_t p = 0; p < kc; p++)
            for (size_t i = 0; i < as; i++)
                a_t[p * as + i] = i < MR ? a[p * MR + i] : NAN;
        memcpy(c_t, c_in, (rows * ldc + TC_GUARD) * sizeof(float));
        tc_ctx("%s (A in place, stride %zu) n=%zu kc=%zu beta=%g", uk->name, as, n, kc, beta);
        uk->fn(m, n, kc, a_t, as, b, bs, c_t, ldc, beta);
        assert_memory_equal(c_t, c, (rows * ldc + TC_GUARD) * sizeof(float));
        free(a_t);
        free(c_t);
    }
    if (form == PACKED && m > MR) { // the same bits as the two panels' own tiles
        float *c_split = tc_alloc(rows * ldc + TC_GUARD);
        memcpy(c_split, c_in, (rows * ldc + TC_GUARD) * sizeof(float));
        tc_ctx("%s (rows %zu as %zu + %zu) n=%zu kc=%zu beta=%g", uk->name, m, MR, m - MR, n, kc,
               beta);
        uk->fn(MR, n, kc, a, MR, b, bs, c_split, ldc, beta);
        uk->fn(m - MR, n, kc, a + MR * kc, MR, b, bs, c_split + MR * ldc, ldc, beta);
        assert_memory_equal(c_split, c, (rows * ldc + TC_GUARD) * sizeof(float));
        free(c_split);
    }
    free(c_in);
    free(scattered);
    free(offs);
    free(a);
    free(b);
    free(c);
    free(want);
    free(tol);
}

// The dot tile again on the same operands, with a prefetch pointer (pf: a buffer of
// dot_mr * k floats) and then one column at a time: every element must be bitwise the sum
// of the first call (the convolution's weight gradients rely on it: docs/conv.md).
static void check_dot_same_sums(const mimic_gemm_ukernel *uk, size_t m, size_t n, size_t k,
                                const float *a, size_t ld, const float *const *rows,
                                const float *c, size_t ldc, float alpha)
{
    const size_t MR = (size_t)uk->dot_mr;
    float *pf = tc_alloc(MR * k + 16), *c2 = tc_alloc(MR * ldc), *c3 = tc_alloc(MR * ldc);
    uk->dot(m, n, k, a, ld, rows, c2, ldc, alpha, 0.0f, pf);
    for (size_t j = 0; j < n; j++)
        uk->dot(m, 1, k, a, ld, rows + j, c3 + j, ldc, alpha, 0.0f, NULL);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            tc_ctx("%s dot tile m=%zu n=%zu k=%zu: C[%zu][%zu] with pf / alone", uk->name, m, n, k,
                   i, j);
            assert_memory_equal(&c2[i * ldc + j], &c[i * ldc + j], sizeof(float));
            assert_memory_equal(&c3[i * ldc + j], &c[i * ldc + j], sizeof(float));
        }
    free(pf);
    free(c2);
    free(c3);
}

// One call of the dot-product tile on m x n of depth k: rows of A and B padded by NaN past k
// (must not be read), rows past m and n NaN (must not be read: the tile repeats the last valid
// row), beta == 0 over a NaN C, C outside the tile left alone. B's rows are taken through the
// table in reverse order, at odd offsets (unaligned), as the convolution's taps are.
static void check_dot(const mimic_gemm_ukernel *uk, tc_rng *rng, size_t m, size_t n, size_t k,
                      float alpha, float beta)
{
    const size_t MR = (size_t)uk->dot_mr, NR = (size_t)uk->dot_nr, ld = k + 5, ldc = NR + 2;
    float *a = tc_alloc(MR * ld), *b = tc_alloc(NR * ld + 3), *c = tc_alloc(MR * ldc + TC_GUARD);
    double *want = tc_dalloc(m * n), *tol = tc_dalloc(m * n);
    const float *rows[16];
    for (size_t j = 0; j < NR; j++)
        rows[j] = b + (NR - 1 - j) * ld + j % 4;
    for (size_t i = 0; i < NR * ld + 3; i++)
        b[i] = NAN;
    for (size_t p = 0; p < ld; p++) {
        for (size_t i = 0; i < MR; i++)
            a[i * ld + p] = i < m && p < k ? tc_rng_float(rng, -1.0f, 1.0f) : NAN;
        for (size_t j = 0; j < n && p < k; j++)
            ((float *)rows[j])[p] = tc_rng_float(rng, -1.0f, 1.0f);
    }
    tc_fill_sentinel(c, MR * ldc + TC_GUARD);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            c[i * ldc + j] = beta == 0.0f ? NAN : tc_rng_float(rng, -1.0f, 1.0f);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double sum = 0.0, mag = 0.0;
            for (size_t p = 0; p < k; p++) {
                sum += (double)a[i * ld + p] * rows[j][p];
                mag += fabs((double)a[i * ld + p] * rows[j][p]);
            }
            const double c0 = beta == 0.0f ? 0.0 : (double)beta * c[i * ldc + j];
            want[i * n + j] = (double)alpha * sum + c0;
            tol[i * n + j] = 2.0 * (double)(k + 3) * TC_U * (fabs(alpha) * mag + fabs(c0)) + 1e-30;
        }
    tc_ctx("%s dot tile m=%zu n=%zu k=%zu alpha=%g beta=%g", uk->name, m, n, k, (double)alpha,
           (double)beta);
    uk->dot(m, n, k, a, ld, rows, c, ldc, alpha, beta, NULL);
    tc_check_near("C tile", c, ldc, want, m, n, (tc_tol){.tol = tol});
    for (size_t i = 0; i < MR; i++)
        tc_check_sentinel("C right of the tile", c + i * ldc + n, i < m ? ldc - n : 0);
    tc_check_sentinel("C below the tile", c + m * ldc, (MR - m) * ldc + TC_GUARD);
    if (beta == 0.0f)
        check_dot_same_sums(uk, m, n, k, a, ld, rows, c, ldc, alpha);
    free(a);
    free(b);
    free(c);
    free(want);
    free(tol);
}

static void test_dot(void **state)
{
    (void)state;
    static const size_t ks[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 129};
    static const float alphas[] = {1.0f, -0.5f};
    tc_rng rng = tc_rng_seed(43);
    for (int isa = 0; isa < MIMIC_ISA_COUNT; isa++) {
        const mimic_gemm_ukernel *uk = &mimic_gemm_ukernels[isa];
        if (!uk->dot || !mimic_isa_supported((mimic_isa)isa))
            continue;
        for (size_t m = 1; m <= (size_t)uk->dot_mr; m++)
            for (size_t n = 1; n <= (size_t)uk->dot_nr; n++)
                for (size_t d = 0; d < sizeof ks / sizeof ks[0]; d++)
                    check_dot(uk, &rng, m, n, ks[d], alphas[(m + d) % 2], betas[(n + d) % 3]);
    }
}

static void test_ukernels(void **state)
{
    (void)state;
    tc_rng rng = tc_rng_seed(42);
    for (int isa = 0; isa < MIMIC_ISA_COUNT; isa++) {
        const mimic_gemm_ukernel *uk = &mimic_gemm_ukernels[isa];
        if (!uk->fn || !mimic_isa_supported((mimic_isa)isa))
            continue;
        print_message("gemm ukernel %s\n", uk->name);
        // Up to mr_max rows in the packed form (its rows past MR from the next panel); the
        // offset forms take at most MR.
        for (size_t m = 1; m <= (size_t)uk->mr_max; m++)
            for (size_t n = 1; n <= (size_t)uk->nr; n++)
                for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++) {
                    const size_t kc = depths[d];
                    const float beta = betas[(m + n + d) % 3];
                    const int last = m <= (size_t)uk->mr ? A_OFFSETS : PACKED;
                    for (int f = PACKED; f <= last; f++)
                        check_tile(uk, &rng, (enum form)f, m, n, kc, (size_t)uk->nr, beta);
                    if ((m + n) % 4 == 0) { // B in place: a wider row stride
                        check_tile(uk, &rng, PACKED, m, n, kc, (size_t)uk->nr + 7, beta);
                        if (m <= (size_t)uk->mr)
                            check_tile(uk, &rng, A_OFFSETS, m, n, kc, (size_t)uk->nr + 7, beta);
                    }
                }
    }
}

// The wide tile (where the ISA has one) against the MR x NR tile over the same columns, panel
// by panel: the same bits for every row count, strip width (up to wide_nr / rows), depth and
// beta, B in place (a row stride wider than the strip, NaN past it: nothing beyond n columns
// may be read into C).
static void test_wide(void **state)
{
    (void)state;
    static const size_t widths[] = {1,  7,  8,   9,   15,  16,  17,  23,  24,  33,  47,
                                    48, 64, 65,  95,  96,  100, 127, 128, 129, 200, 255, 256};
    tc_rng rng = tc_rng_seed(44);
    for (int isa = 0; isa < MIMIC_ISA_COUNT; isa++) {
        const mimic_gemm_ukernel *uk = &mimic_gemm_ukernels[isa];
        if (!uk->wide || !mimic_isa_supported((mimic_isa)isa))
            continue;
        const size_t MR = (size_t)uk->mr, NR = (size_t)uk->nr, bs = 256 + 9, ldc = 256 + 5;
        for (size_t m = 1; m <= 4; m++)
            for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
                for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++) {
                    const size_t n = widths[w], kc = depths[d], r = m > 2 ? 4 : m;
                    const float beta = betas[(m + w + d) % 3];
                    if (n > (size_t)uk->wide_nr / r)
                        continue;
                    float *a = tc_alloc(kc * MR), *b = tc_alloc(kc * bs);
                    float *c = tc_alloc(4 * ldc + TC_GUARD), *want = tc_alloc(4 * ldc + TC_GUARD);
                    for (size_t p = 0; p < kc; p++) {
                        for (size_t i = 0; i < MR; i++)
                            a[p * MR + i] = i < m ? tc_rng_float(&rng, -1.0f, 1.0f) : 0.0f;
                        for (size_t j = 0; j < bs; j++)
                            b[p * bs + j] = j < n ? tc_rng_float(&rng, -1.0f, 1.0f) : NAN;
                    }
                    tc_fill_sentinel(c, 4 * ldc + TC_GUARD);
                    for (size_t i = 0; i < m; i++)
                        for (size_t j = 0; j < n; j++)
                            c[i * ldc + j] = tc_rng_float(&rng, -1.0f, 1.0f);
                    memcpy(want, c, (4 * ldc + TC_GUARD) * sizeof(float));
                    for (size_t j = 0; j < n; j += NR)
                        uk->fn(m, n - j < NR ? n - j : NR, kc, a, MR, b + j, bs, want + j, ldc,
                               beta);
                    tc_ctx("%s wide tile m=%zu n=%zu kc=%zu beta=%g", uk->name, m, n, kc, beta);
                    uk->wide(m, n, kc, a, MR, b, bs, c, ldc, beta);
                    assert_memory_equal(c, want, (4 * ldc + TC_GUARD) * sizeof(float));
                    free(a);
                    free(b);
                    free(c);
                    free(want);
                }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_ukernels), cmocka_unit_test(test_dot),
                                       cmocka_unit_test(test_wide)};
    return cmocka_run_group_tests_name("gemm_ukernel", tests, tc_group_setup, tc_group_teardown);
}
