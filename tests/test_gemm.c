// mimic_sgemm against the double reference and dnnl_sgemm, for every ISA the CPU runs: an edge
// list of shapes, long and thin shapes, a seeded random sweep, NaN/Inf contracts, leading
// dimensions, unaligned pointers, cache-block crossing sizes and thread-count determinism.
#include <omp.h>

#include "common.h"
#include "ref.h"
#ifdef MIMIC_TEST_HAVE_DNNL
#include "oracle_dnnl.h"
#endif

// Tolerance. With u = 2^-24 and eps = FLT_EPSILON = 2u, any fp32 evaluation of
//   alpha * sum_k a_ik b_kj + beta * c_ij
// as a sum tree of the K products (whatever the blocking, the FMA use or the order) plus the
// alpha scaling and the beta term has |error| <= (K + 3) u * mag, to first order, where
//   mag = |alpha| * sum_k |a_ik b_kj| + |beta c_ij|
// (the classic gamma_n bound of recursive or blocked summation; one rounding for the product,
// one per level of the tree, one for alpha, two for beta c). We test
//   |got - want| <= GEMM_C * (K + 3) * eps * mag, with GEMM_C = 1,
// which is twice the worst-case bound against the double reference (its own error is ~1e-16
// relative), and exactly the sum of both worst cases against oneDNN, which obeys the same
// bound. It is still tight enough to catch a dropped or doubled term: with entries in [-1, 1]
// one wrong product is ~mag / K, far above (K + 3) eps mag for every K tested.
#define GEMM_C 1.0

typedef struct {
    char ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    int64_t pad_a, pad_b, pad_c; // ld = minimum + pad
    size_t off;                  // pointer offset in floats (1: not 16-byte aligned)
    int c_special;               // beta == 0: pre-fill C with NaN / Inf, which must not leak
} gemm_case;

static int is_t(char t) { return t == 'T' || t == 't'; }
static int64_t max1(int64_t v) { return v > 1 ? v : 1; }

// Fills a rows x cols matrix with row stride ld: values in [-1, 1), NaN in the padding (a kernel
// that reads past the minimum leading dimension makes NaN appear in C).
static void fill_mat(tc_rng *r, float *x, int64_t rows, int64_t cols, int64_t ld) {
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < ld; j++)
            x[i * ld + j] = j < cols ? tc_rng_float(r, -1.0f, 1.0f) : NAN;
}

static void check_gemm(const gemm_case *g, uint64_t seed) {
    tc_rng rng = tc_rng_seed(seed);
    int64_t M = g->M, N = g->N, K = g->K;
    int64_t a_rows = is_t(g->ta) ? K : M, a_cols = is_t(g->ta) ? M : K;
    int64_t b_rows = is_t(g->tb) ? N : K, b_cols = is_t(g->tb) ? K : N;
    int64_t lda = max1(a_cols) + g->pad_a, ldb = max1(b_cols) + g->pad_b;
    int64_t ldc = max1(N) + g->pad_c;
    size_t na = (size_t)(a_rows * lda), nb = (size_t)(b_rows * ldb), nc = (size_t)(M * ldc);
    tc_ctx("sgemm %c%c M=%lld N=%lld K=%lld alpha=%g beta=%g lda=%lld ldb=%lld ldc=%lld "
           "off=%zu%s (seed %llu)",
           g->ta, g->tb, (long long)M, (long long)N, (long long)K, (double)g->alpha,
           (double)g->beta, (long long)lda, (long long)ldb, (long long)ldc, g->off,
           g->c_special ? " C=NaN/Inf" : "", (unsigned long long)seed);

    float *A = tc_alloc_off(na, g->off), *B = tc_alloc_off(nb, g->off);
    float *C0 = tc_alloc(nc + TC_GUARD), *C = tc_alloc_off(nc + TC_GUARD, g->off);
    double *want = tc_dalloc((size_t)(M * N)), *mag = tc_dalloc((size_t)(M * N));
    double *tol = tc_dalloc((size_t)(M * N));
    fill_mat(&rng, A, a_rows, a_cols, lda);
    fill_mat(&rng, B, b_rows, b_cols, ldb);
    if (g->alpha == 0.0f) { // alpha == 0 must not read A or B
        tc_fill(A, na, NAN);
        tc_fill(B, nb, NAN);
    }
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < ldc; j++) {
            float *c = &C0[i * ldc + j];
            if (j >= N)
                tc_fill_sentinel(c, 1); // padding: must stay untouched
            else if (g->c_special && g->beta == 0.0f)
                *c = (j % 3 == 0) ? INFINITY : (j % 3 == 1) ? NAN : -INFINITY;
            else
                *c = tc_rng_float(&rng, -1.0f, 1.0f);
        }
    tc_fill_sentinel(C0 + nc, TC_GUARD);
    ref_sgemm(g->ta, g->tb, M, N, K, g->alpha, A, lda, B, ldb, g->beta, C0, ldc, want, mag);
    for (size_t i = 0; i < (size_t)(M * N); i++)
        tol[i] = GEMM_C * (double)(K + 3) * FLT_EPSILON * mag[i];
    tc_tol t = {.tol = tol};

#ifdef MIMIC_TEST_HAVE_DNNL
    // oneDNN on finite inputs only (its handling of NaN in unread operands is not the point),
    // and not for K == 0: dnnl_sgemm 2.6 leaves C unchanged there even when beta == 0.
    float *Cd = NULL;
    double *want_d = NULL;
    if (M > 0 && N > 0 && K > 0 && g->alpha != 0.0f && !g->c_special) {
        Cd = tc_alloc(nc);
        want_d = tc_dalloc((size_t)(M * N));
        memcpy(Cd, C0, nc * sizeof *Cd);
        int rc = oracle_sgemm(g->ta, g->tb, M, N, K, g->alpha, A, lda, B, ldb, g->beta, Cd, ldc);
        if (rc != 0)
            TC_FAIL("dnnl_sgemm failed with status %d", rc);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                want_d[i * N + j] = Cd[i * ldc + j];
        // The oracle itself must agree with the reference.
        tc_check_near("dnnl_sgemm vs reference", Cd, (size_t)ldc, want, (size_t)M, (size_t)N, t);
    }
#endif

    TC_FOR_EACH_ISA(isa) {
        memcpy(C, C0, (nc + TC_GUARD) * sizeof *C);
        TC_STATUS(mimic_sgemm(g->ta, g->tb, M, N, K, g->alpha, A, lda, B, ldb, g->beta, C, ldc),
                  MIMIC_OK);
        tc_check_near("mimic_sgemm vs reference", C, (size_t)ldc, want, (size_t)M, (size_t)N, t);
        for (int64_t i = 0; i < M; i++)
            tc_check_sentinel("C padding past N (ldc > N)", C + i * ldc + N, (size_t)(ldc - N));
        tc_check_sentinel("guard past the end of C", C + nc, TC_GUARD);
#ifdef MIMIC_TEST_HAVE_DNNL
        if (want_d)
            tc_check_near("mimic_sgemm vs dnnl_sgemm", C, (size_t)ldc, want_d, (size_t)M,
                          (size_t)N, t);
#endif
    }
#ifdef MIMIC_TEST_HAVE_DNNL
    free(Cd);
    free(want_d);
#endif
    tc_free_off(A, g->off);
    tc_free_off(B, g->off);
    tc_free_off(C, g->off);
    free(C0);
    free(want);
    free(mag);
    free(tol);
}

static const char k_trans[4][2] = {{'N', 'N'}, {'N', 'T'}, {'T', 'N'}, {'T', 'T'}};
static const float k_alpha[3] = {0.0f, 1.0f, -0.5f};
static const float k_beta[3] = {0.0f, 1.0f, 2.5f};

// Every M x N x K from the edge list (0..3, MR +- 1 around 4, NR +- 1 around 16, primes), all
// four transposes; alpha/beta, leading-dimension padding and alignment rotate with the index.
static void test_gemm_edges(void **state) {
    (void)state;
    static const int64_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 13, 15, 16, 17, 31, 61};
    const int ns = (int)(sizeof sizes / sizeof sizes[0]);
    uint64_t idx = 0;
    for (int t = 0; t < 4; t++)
        for (int im = 0; im < ns; im++)
            for (int in = 0; in < ns; in++)
                for (int ik = 0; ik < ns; ik++, idx++) {
                    gemm_case g = {k_trans[t][0], k_trans[t][1], sizes[im], sizes[in],
                                   sizes[ik], k_alpha[idx % 3], k_beta[(idx / 3) % 3],
                                   (int64_t)(idx / 9 % 2) * 3, (int64_t)(idx / 18 % 2) * 2,
                                   (int64_t)(idx / 36 % 2) * 5, (size_t)(idx / 9 % 2), 1};
                    check_gemm(&g, 1000 + idx);
                }
}

// The tile edges of every microkernel through the whole driver: every M in 1..2*MR+1 and
// N in 1..2*NR+1 (MR, NR the largest of the ISAs this CPU runs), K cycling through 1, 7 and
// KC+1 (one more than the deepest K block, so the beta = 1 pass over C runs too), in-place
// and packed B alike (the driver reads B in place for M <= 64 when B fits half of L2).
static void test_gemm_tile_edges(void **state) {
    (void)state;
    int64_t mr = 1, nr = 1, kc = 1;
    TC_FOR_EACH_ISA(isa) {
        mimic_info info;
        TC_STATUS(mimic_info_get(&info), MIMIC_OK);
        mr = info.gemm_mr > mr ? info.gemm_mr : mr;
        nr = info.gemm_nr > nr ? info.gemm_nr : nr;
        kc = info.gemm_kc > kc ? info.gemm_kc : kc;
    }
    const int64_t ks[3] = {1, 7, kc + 1};
    uint64_t idx = 0;
    for (int64_t m = 1; m <= 2 * mr + 1; m++)
        for (int64_t n = 1; n <= 2 * nr + 1; n++, idx++) {
            gemm_case g = {k_trans[idx % 4][0], k_trans[idx % 4][1], m, n, ks[idx % 3],
                           k_alpha[1 + idx % 2], k_beta[idx % 3], 0, (int64_t)(idx % 2), 0, 0,
                           (int)(idx % 2)};
            check_gemm(&g, 40000 + idx);
        }
}

// Long and thin shapes, every permutation of (M, N, K), every transpose, every alpha/beta.
static void test_gemm_long_thin(void **state) {
    (void)state;
    static const int64_t dims[][3] = {{1, 300, 5}, {300, 1, 7}, {257, 3, 129}};
    static const int perm[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                   {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    uint64_t idx = 0;
    for (int d = 0; d < 3; d++)
        for (int p = 0; p < 6; p++)
            for (int t = 0; t < 4; t++)
                for (int ab = 0; ab < 9; ab++, idx++) {
                    gemm_case g = {k_trans[t][0], k_trans[t][1], dims[d][perm[p][0]],
                                   dims[d][perm[p][1]], dims[d][perm[p][2]], k_alpha[ab % 3],
                                   k_beta[ab / 3], (int64_t)(idx % 2), 0, (int64_t)(idx % 3),
                                   (size_t)(idx % 2), (int)(idx % 2)};
                    check_gemm(&g, 5000 + idx);
                }
}

// Seeded random sweep: sizes 1..160, lower- and upper-case trans, alpha/beta from the fixed
// set or random, padded leading dimensions, unaligned pointers.
static void test_gemm_random(void **state) {
    (void)state;
    tc_rng r = tc_rng_seed(42);
    int64_t count = tc_scaled(150, 8);
    static const char tr[4] = {'N', 'T', 'n', 't'};
    for (int64_t i = 0; i < count; i++) {
        gemm_case g;
        g.ta = tr[tc_rng_int(&r, 0, 3)];
        g.tb = tr[tc_rng_int(&r, 0, 3)];
        g.M = tc_rng_int(&r, 1, 160);
        g.N = tc_rng_int(&r, 1, 160);
        g.K = tc_rng_int(&r, 1, 160);
        int64_t ka = tc_rng_int(&r, 0, 3), kb = tc_rng_int(&r, 0, 3);
        g.alpha = ka < 3 ? k_alpha[ka] : tc_rng_float(&r, -2.0f, 2.0f);
        g.beta = kb < 3 ? k_beta[kb] : tc_rng_float(&r, -2.0f, 2.0f);
        g.pad_a = tc_rng_int(&r, 0, 7);
        g.pad_b = tc_rng_int(&r, 0, 7);
        g.pad_c = tc_rng_int(&r, 0, 7);
        g.off = (size_t)tc_rng_int(&r, 0, 1);
        g.c_special = (int)tc_rng_int(&r, 0, 1);
        check_gemm(&g, 20000 + (uint64_t)i);
    }
}

// beta == 0 must write C without reading it (NaN and Inf in C vanish), alpha == 0 must not
// read A or B (NaN there, or NULL pointers), K == 0 scales C by beta.
static void test_gemm_nan_contracts(void **state) {
    (void)state;
    for (int t = 0; t < 4; t++) {
        for (int ib = 0; ib < 3; ib++) {
            gemm_case g = {k_trans[t][0], k_trans[t][1], 23, 37, 19, 1.0f, 0.0f, 1, 2, 3, 1, 1};
            check_gemm(&g, 70 + (uint64_t)t); // beta = 0, C full of NaN/Inf
            g.alpha = 0.0f;
            g.beta = k_beta[ib];
            g.c_special = 0;
            check_gemm(&g, 80 + (uint64_t)t); // alpha = 0, A and B full of NaN
            g.K = 0;
            g.alpha = -0.5f;
            check_gemm(&g, 90 + (uint64_t)t); // K = 0: C = beta * C
        }
    }
    // NULL A and B where nothing is read through them.
    float C[6] = {1, 2, 3, 4, 5, 6};
    const float want_beta[6] = {2.5f, 5, 7.5f, 10, 12.5f, 15};
    TC_FOR_EACH_ISA(isa) {
        float c[6];
        tc_ctx("sgemm with NULL A and B, alpha = 0");
        memcpy(c, C, sizeof c);
        TC_STATUS(mimic_sgemm('N', 'N', 2, 3, 4, 0.0f, NULL, 4, NULL, 3, 2.5f, c, 3), MIMIC_OK);
        tc_check_bitwise("C = beta * C", c, want_beta, 6);
        tc_ctx("sgemm with NULL A and B, K = 0");
        memcpy(c, C, sizeof c);
        TC_STATUS(mimic_sgemm('T', 'N', 2, 3, 0, 1.0f, NULL, 2, NULL, 3, 2.5f, c, 3), MIMIC_OK);
        tc_check_bitwise("C = beta * C", c, want_beta, 6);
        tc_ctx("sgemm alpha = 0, beta = 0 over NaN C");
        tc_fill(c, 6, NAN);
        TC_STATUS(mimic_sgemm('N', 'T', 2, 3, 4, 0.0f, NULL, 4, NULL, 4, 0.0f, c, 3), MIMIC_OK);
        for (int i = 0; i < 6; i++)
            if (c[i] != 0.0f)
                TC_FAIL("C[%d] = %g, want 0", i, (double)c[i]);
    }
}

// A problem past the cache blocks: K beyond KC, M beyond MC (from mimic_info), N ~ 100.
// MC and KC are per ISA: take the largest of the ISAs tested.
static void big_dims(int64_t *M, int64_t *N, int64_t *K) {
    int64_t mc = 0, kc = 0, mr = 0;
    TC_FOR_EACH_ISA(isa) {
        mimic_info info;
        TC_STATUS(mimic_info_get(&info), MIMIC_OK);
        mc = info.gemm_mc > mc ? info.gemm_mc : mc;
        kc = info.gemm_kc > kc ? info.gemm_kc : kc;
        mr = info.gemm_mr > mr ? info.gemm_mr : mr;
    }
    *M = tc_scaled(602, 1); // the last MC block ends in a partial row panel (merged_tail)
    *K = tc_scaled(600, 1);
    *N = tc_scaled(100, 17);
    if (*K <= kc && kc < 2048)
        *K = kc + 37; // still cross a KC boundary when the scale shrinks the problem
    if (*M <= mc && mc < 2048)
        *M = mc + mr + 1;
}

static void test_gemm_big(void **state) {
    (void)state;
    int64_t M, N, K;
    big_dims(&M, &N, &K);
    gemm_case g = {'N', 'N', M, N, K, 1.0f, 0.0f, 0, 0, 0, 0, 0};
    check_gemm(&g, 7);
    gemm_case h = {'T', 'T', M, N, K, -0.5f, 2.5f, 3, 1, 2, 1, 0};
    check_gemm(&h, 8);
    // alpha = 1 and op(A) = A^T over several MC blocks: the tiles read A in place but for the
    // partial last panel, which is packed (A allocated to its last float: the sanitizer build
    // catches a tile that reads the panel's missing columns past it).
    gemm_case t = {'T', 'N', M, N, K, 1.0f, 1.0f, 0, 0, 1, 1, 0};
    check_gemm(&t, 9);
}

// Few rows of C (one MC block of A) and N across several NC blocks, which are then sized to
// half of L2 (kernels/gemm/gemm.c: nc_in_l2), with B too large to be read in place: the
// row-by-row packing of B and its partial last panel, every transpose.
static void skinny_dims(int64_t *M, int64_t *N, int64_t *K) {
    int64_t kc = 0, l2 = 0;
    TC_FOR_EACH_ISA(isa) {
        mimic_info info;
        TC_STATUS(mimic_info_get(&info), MIMIC_OK);
        kc = info.gemm_kc > kc ? info.gemm_kc : kc;
        l2 = info.l2_bytes > l2 ? info.l2_bytes : l2;
    }
    *M = 40;
    *K = kc + 37;
    *N = 2 * (l2 / 2 / (int64_t)(sizeof(float) * kc)) + 45;
}

static void test_gemm_skinny(void **state) {
    (void)state;
    int64_t M, N, K;
    skinny_dims(&M, &N, &K);
    for (int t = 0; t < 4; t++) {
        gemm_case g = {k_trans[t][0], k_trans[t][1], M, N, K, t == 1 ? -0.5f : 1.0f,
                       t == 2 ? 2.5f : 0.0f, t, 0, t % 2, (size_t)(t % 2), 0};
        check_gemm(&g, 900 + (uint64_t)t);
    }
}

// A small C (M <= 128, N <= 256, K >= 64): A and B read in place (op(B) = B^T: A only), over
// one or several KC slices, with alpha = 1 (the in-place path) and not (packed), padded
// leading dimensions (NaN in the padding) and unaligned pointers. Then B in place under at most
// 128 rows of C when it fits in L2 or, in one KC slice, a few L2s (row strides off the 512-byte
// multiples; 100 x 3000 x 130: 1.6 MB), and a C of a few rows.
static void test_gemm_small_c(void **state) {
    (void)state;
    static const int64_t dims[][3] = {{128, 256, 1024}, {37, 70, 1500}, {1, 5, 1100},
                                      {9, 33, 2049},    {128, 128, 64},  {100, 200, 300}};
    for (int d = 0; d < 6; d++)
        for (int v = 0; v < 3; v++)
            for (int t = 0; t < 2; t++) {
                gemm_case g = {'N', t ? 'T' : 'N', dims[d][0], dims[d][1], dims[d][2],
                               v == 2 ? -0.5f : 1.0f, v == 1 ? 2.5f : 0.0f, v, (int64_t)(v % 2),
                               1, (size_t)(v % 2), v == 0};
                check_gemm(&g, 7000 + (uint64_t)(d * 6 + v * 2 + t));
            }
    for (int t = 0; t < 2; t++) {
        gemm_case g = {t ? 'T' : 'N', 'N', 100, 3000, 130, 1.0f, t ? 2.5f : 0.0f, t, t, 0,
                       (size_t)t, 0};
        check_gemm(&g, 7200 + (uint64_t)t);
    }
    // A few rows of C against a B larger than half of L2 with rows of at most 32 KiB (B read in
    // place at any K), both forms of op(A), a partial last panel.
    for (int t = 0; t < 2; t++) {
        gemm_case g = {t ? 'T' : 'N', 'N', 10, 5541, 130, 1.0f, t ? 2.5f : 0.0f, t, 1, 0,
                       (size_t)t, 0};
        check_gemm(&g, 7100 + (uint64_t)t);
    }
    // One to four rows of C (matrix-vector products: the wide tile where the ISA has one) over
    // strips of 256 / R columns and a partial last one, two KC slices, B in place.
    for (int m = 1; m <= 4; m++) {
        gemm_case g = {m % 2 ? 'T' : 'N', 'N', m, 1000, 600, m == 3 ? -0.5f : 1.0f,
                       m % 2 ? 2.5f : 0.0f, m % 2, m / 2, 1, (size_t)(m % 2), m == 2};
        check_gemm(&g, 7300 + (uint64_t)m);
    }
}

// Short K with C's rows a multiple of 4 KiB apart: the tiles go along the rows (rows_first in
// gemm.c) on each path: one MC block (A packed once), several MC blocks in groups of panels
// with a partial last group and panel, the in-place tiles of a small product, and A^T.
static void test_gemm_aliased_rows(void **state) {
    (void)state;
    static const int64_t dims[][5] = {
        // M, N, K, pad_c (ldc = N + pad_c), trans_a
        {128, 1024, 10, 0, 0}, {300, 1000, 10, 24, 0}, {5, 64, 7, 960, 0},
        {37, 2048, 32, 0, 1},  {257, 2030, 3, 18, 0},  {9, 1000, 33, 24, 0}};
    for (int d = 0; d < 6; d++)
        for (int v = 0; v < 3; v++) {
            gemm_case g = {dims[d][4] ? 'T' : 'N', 'N', dims[d][0], dims[d][1], dims[d][2],
                           v == 2 ? -0.5f : 1.0f, v == 1 ? 2.5f : 0.0f, 0, 0, dims[d][3],
                           (size_t)(v % 2), v == 0};
            check_gemm(&g, 7300 + (uint64_t)(d * 3 + v));
        }
}

// Threads 1 and 2 give bit-identical results.
static void test_gemm_threads(void **state) {
    (void)state;
    int64_t M, N, K;
    big_dims(&M, &N, &K);
    int64_t sm, sn, sk;
    skinny_dims(&sm, &sn, &sk);
    // {301, 10, 1024, 1} and {1000, 3, 700, 1} go to the dot-product tiles (B^T with few
    // columns), rows split over threads. One MC block with A packed once (gemm_blocks_owned):
    // the skinny shape, {40, 2000, 1100, 1} and {64, 1500, 700, 0} (several NC blocks, a
    // shorter last one, several KC slices: each thread packs its own panels, and a thread ahead
    // must not pack over panels another still reads; 3 threads cut the panels unevenly).
    // {300, 1024, 10, 0} and {128, 2048, 16, 0}: tiles along C's rows (4 KiB apart, short K).
    // {3, 3000, 600, 0}: the wide tile (B in place, strips split between the threads).
    const int64_t shapes[][4] = {{M, N, K, 0},       {97, 83, 300, 0},   {5, 1000, 7, 0},
                                 {1000, 5, 33, 0},   {sm, sn, sk, 0},    {128, 256, 1300, 0},
                                 {301, 10, 1024, 1}, {1000, 3, 700, 1},  {120, 3000, 100, 0},
                                 {128, 200, 300, 1}, {40, 2000, 1100, 1}, {64, 1500, 700, 0},
                                 {300, 1024, 10, 0}, {128, 2048, 16, 0}, {3, 3000, 600, 0}};
    tc_rng r = tc_rng_seed(99);
    for (int s = 0; s < 15; s++) {
        int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        const char tb = shapes[s][3] ? 'T' : 'N';
        const int64_t ldb = shapes[s][3] ? k : n;
        float *A = tc_alloc((size_t)(m * k)), *B = tc_alloc((size_t)(k * n));
        float *C0 = tc_alloc((size_t)(m * n)), *C1 = tc_alloc((size_t)(m * n));
        float *C2 = tc_alloc((size_t)(m * n));
        tc_fill_uniform(&r, A, (size_t)(m * k), -1, 1);
        tc_fill_uniform(&r, B, (size_t)(k * n), -1, 1);
        tc_fill_uniform(&r, C0, (size_t)(m * n), -1, 1);
        tc_ctx("sgemm N%c M=%lld N=%lld K=%lld, threads 1 vs 2", tb, (long long)m, (long long)n,
               (long long)k);
        TC_FOR_EACH_ISA(isa) {
            memcpy(C1, C0, (size_t)(m * n) * sizeof *C1);
            memcpy(C2, C0, (size_t)(m * n) * sizeof *C2);
            if (mimic_threads_set(1) != 1)
                TC_FAIL("mimic_threads_set(1) != 1");
            TC_STATUS(mimic_sgemm('N', tb, m, n, k, 1.0f, A, k, B, ldb, 1.0f, C1, n), MIMIC_OK);
            if (mimic_threads_set(2) != 2)
                TC_FAIL("mimic_threads_set(2) != 2");
            TC_STATUS(mimic_sgemm('N', tb, m, n, k, 1.0f, A, k, B, ldb, 1.0f, C2, n), MIMIC_OK);
            tc_check_bitwise("C with 2 threads vs 1 thread", C2, C1, (size_t)(m * n));
            memcpy(C2, C0, (size_t)(m * n) * sizeof *C2);
            if (mimic_threads_set(3) != 3)
                TC_FAIL("mimic_threads_set(3) != 3");
            TC_STATUS(mimic_sgemm('N', tb, m, n, k, 1.0f, A, k, B, ldb, 1.0f, C2, n), MIMIC_OK);
            tc_check_bitwise("C with 3 threads vs 1 thread", C2, C1, (size_t)(m * n));
        }
        mimic_threads_set(0);
        free(A);
        free(B);
        free(C0);
        free(C1);
        free(C2);
    }
}

static void sgemm_inside_team(int64_t m, int64_t n, int64_t k) {
    tc_rng r = tc_rng_seed(7);
    float *A = tc_alloc((size_t)(m * k)), *B = tc_alloc((size_t)(k * n));
    float *want = tc_alloc((size_t)(2 * m * n)), *got = tc_alloc((size_t)(2 * m * n));
    tc_fill_uniform(&r, A, (size_t)(m * k), -1, 1);
    tc_fill_uniform(&r, B, (size_t)(k * n), -1, 1);
    if (mimic_threads_set(2) != 2)
        TC_FAIL("mimic_threads_set(2) != 2");
    TC_FOR_EACH_ISA(isa) {
        tc_ctx("sgemm %lldx%lldx%lld from each thread of a team of 2", (long long)m,
               (long long)n, (long long)k);
        for (int t = 0; t < 2; t++) // thread t's product: alpha 1 or -0.5
            TC_STATUS(mimic_sgemm('N', 'N', m, n, k, t ? -0.5f : 1.0f, A, k, B, n, 0.0f,
                                  want + t * m * n, n),
                      MIMIC_OK);
        int status[2] = {-1, -1};
#pragma omp parallel num_threads(2)
        {
            const int t = omp_get_thread_num();
            status[t] = (int)mimic_sgemm('N', 'N', m, n, k, t ? -0.5f : 1.0f, A, k, B, n, 0.0f,
                                         got + t * m * n, n);
        }
        TC_STATUS((mimic_status)status[0], MIMIC_OK);
        TC_STATUS((mimic_status)status[1], MIMIC_OK);
        tc_check_bitwise("C of each thread vs outside the team", got, want, (size_t)(2 * m * n));
    }
    mimic_threads_set(0);
    free(A), free(B), free(want), free(got);
}

// Called from each thread of the caller's own OpenMP team, mimic_sgemm runs on that thread
// alone: the same bits as a call outside any team, each thread's product its own (its loops
// must not bind to the caller's team, where each thread runs a different product).
static void test_gemm_inside_team(void **state) {
    (void)state;
    // Blocked loops below the size that gets a team of its own, and past it.
    const int64_t shapes[][3] = {{100, 130, 90}, {160, 150, 170}};
    for (int s = 0; s < 2; s++)
        sgemm_inside_team(shapes[s][0], shapes[s][1], shapes[s][2]);
}

// mimic_sgemm_post = mimic_sgemm, then the ReLU (or the mask) as a pass of its own, to the bit,
// on every path of the driver: the dot tiles (B^T, few columns), the in-place tiles on one
// thread, the blocked loops over one and several KC slices (the post-op only after the last;
// 3 x 700 x 600: the wide tile's strips),
// alpha = 0 and K = 0; 1 and 2 threads; a mask with negatives, zeros, -0, NaN and a padded
// row stride (NaN in the padding, never read); the mask as C itself. C's padding untouched.
static void test_gemm_post(void **state) {
    (void)state;
    // M, N, K, op(B) transposed, alpha; K = 1300 spans several KC slices (KC <= 512).
    const int64_t shapes[][5] = {{37, 10, 300, 1, 1},     {20, 33, 17, 0, 1}, {128, 300, 128, 0, 1},
                                 {128, 256, 1300, 0, 1},  {9, 70, 40, 1, 2},  {5, 7, 0, 0, 1},
                                 {6, 40, 20, 0, 0},       {128, 5541, 10, 0, 1},
                                 {3, 700, 600, 0, 1}};
    tc_rng r = tc_rng_seed(4242);
    for (int s = 0; s < 9; s++) {
        const int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        const char tb = shapes[s][3] ? 'T' : 'N';
        const float alpha = shapes[s][4] == 2 ? -0.5f : (float)shapes[s][4];
        const int64_t ldb = tb == 'T' ? (K > 1 ? K : 1) : N, ldc = N + 3, ldm = N + 5;
        float *A = tc_alloc((size_t)(M * (K > 1 ? K : 1))), *B = tc_alloc((size_t)(N * ldb + K * N + 1));
        float *mask = tc_alloc((size_t)(M * ldm)), *C0 = tc_alloc((size_t)(M * ldc));
        float *want = tc_alloc((size_t)(M * ldc)), *got = tc_alloc((size_t)(M * ldc));
        tc_fill_uniform(&r, A, (size_t)(M * (K > 1 ? K : 1)), -1, 1);
        tc_fill_uniform(&r, B, (size_t)(N * ldb + K * N + 1), -1, 1);
        tc_fill_uniform(&r, C0, (size_t)(M * ldc), -1, 1);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < ldm; j++) {
                const int64_t v = (i * 7 + j * 3) % 11;
                mask[i * ldm + j] = j >= N ? NAN : v == 0 ? 0.0f : v == 1 ? -0.0f
                                    : v == 2 ? NAN : tc_rng_float(&r, -1.0f, 1.0f);
            }
        for (int64_t i = 0; i < M; i++)
            tc_fill_sentinel(C0 + i * ldc + N, (size_t)(ldc - N));
        for (int kind = 0; kind < 3; kind++)
            for (int threads = 1; threads <= 2; threads++) {
                const float beta = kind == 1 ? 0.0f : 1.0f;
                tc_ctx("sgemm_post N%c M=%lld N=%lld K=%lld alpha=%g, %s, %d threads", tb,
                       (long long)M, (long long)N, (long long)K, (double)alpha,
                       kind == 0 ? "ReLU" : kind == 1 ? "mask" : "mask = C", threads);
                TC_FOR_EACH_ISA(isa) {
                    mimic_threads_set(threads);
                    memcpy(want, C0, (size_t)(M * ldc) * sizeof *want);
                    memcpy(got, C0, (size_t)(M * ldc) * sizeof *got);
                    TC_STATUS(mimic_sgemm('N', tb, M, N, K, alpha, A, K > 1 ? K : 1, B, ldb,
                                          beta, want, ldc), MIMIC_OK);
                    for (int64_t i = 0; i < M; i++)
                        for (int64_t j = 0; j < N; j++) {
                            float *w = &want[i * ldc + j];
                            const float m = kind == 1 ? mask[i * ldm + j] : *w;
                            *w = m > 0.0f ? *w : 0.0f;
                        }
                    const mimic_gemm_post post = {
                        kind == 0 ? MIMIC_GEMM_POST_RELU : MIMIC_GEMM_POST_MASK,
                        kind == 1 ? mask : got, kind == 1 ? ldm : ldc};
                    TC_STATUS(mimic_sgemm_post('N', tb, M, N, K, alpha, A, K > 1 ? K : 1, B, ldb,
                                               beta, got, ldc, &post), MIMIC_OK);
                    tc_check_bitwise("mimic_sgemm_post vs mimic_sgemm + pass", got, want,
                                     (size_t)(M * ldc));
                }
            }
        mimic_threads_set(0);
        free(A);
        free(B);
        free(mask);
        free(C0);
        free(want);
        free(got);
    }
}

// mimic_sgemm_post refuses an unknown kind, a missing mask and a mask narrower than N, and
// leaves C as it was; NULL post and MIMIC_GEMM_POST_NONE are mimic_sgemm.
static void test_gemm_post_invalid(void **state) {
    (void)state;
    float A[12], B[12], C[12], mask[12];
    for (int i = 0; i < 12; i++) {
        A[i] = (float)i;
        B[i] = 1.0f;
        mask[i] = 1.0f;
    }
    const mimic_gemm_post bad_kind = {(mimic_gemm_post_kind)7, NULL, 0};
    const mimic_gemm_post no_mask = {MIMIC_GEMM_POST_MASK, NULL, 4};
    const mimic_gemm_post narrow = {MIMIC_GEMM_POST_MASK, mask, 3};
    const mimic_gemm_post *bad[] = {&bad_kind, &no_mask, &narrow};
    for (int b = 0; b < 3; b++) {
        tc_fill(C, 12, 5.0f);
        TC_STATUS(mimic_sgemm_post('N', 'N', 3, 4, 3, 1.0f, A, 3, B, 4, 0.0f, C, 4, bad[b]),
                  MIMIC_EINVAL);
        for (int i = 0; i < 12; i++)
            if (C[i] != 5.0f)
                TC_FAIL("C changed by a refused call (case %d)", b);
    }
    const mimic_gemm_post none = {MIMIC_GEMM_POST_NONE, NULL, 0};
    float C2[12];
    TC_STATUS(mimic_sgemm('N', 'N', 3, 4, 3, 1.0f, A, 3, B, 4, 0.0f, C, 4), MIMIC_OK);
    TC_STATUS(mimic_sgemm_post('N', 'N', 3, 4, 3, 1.0f, A, 3, B, 4, 0.0f, C2, 4, &none), MIMIC_OK);
    tc_check_bitwise("POST_NONE vs mimic_sgemm", C2, C, 12);
    TC_STATUS(mimic_sgemm_post('N', 'N', 3, 4, 3, 1.0f, A, 3, B, 4, 0.0f, C2, 4, NULL), MIMIC_OK);
    tc_check_bitwise("NULL post vs mimic_sgemm", C2, C, 12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_edges),         cmocka_unit_test(test_gemm_tile_edges),
        cmocka_unit_test(test_gemm_long_thin),
        cmocka_unit_test(test_gemm_random),        cmocka_unit_test(test_gemm_nan_contracts),
        cmocka_unit_test(test_gemm_big),           cmocka_unit_test(test_gemm_skinny),
        cmocka_unit_test(test_gemm_threads),       cmocka_unit_test(test_gemm_small_c),
        cmocka_unit_test(test_gemm_inside_team),  cmocka_unit_test(test_gemm_aliased_rows),
        cmocka_unit_test(test_gemm_post),          cmocka_unit_test(test_gemm_post_invalid),
    };
    return cmocka_run_group_tests_name("gemm", tests, tc_group_setup, tc_group_teardown);
}
