// mimic_conv2d_{fwd,bwd_data,bwd_weights} against direct double loops and oneDNN's direct
// convolution, for every ISA the CPU runs; finite-difference checks of both gradients.
#include "common.h"
#include "ref.h"
#ifdef MIMIC_TEST_HAVE_DNNL
#include "oracle_dnnl.h"
#endif

// Tolerance. Each output is a sum of L products (plus the bias): L = C*R*S for fwd (+1 for
// the bias), at most K*R*S for bwd_data (GEMM then col2im adds the overlapping windows), and
// N*P*Q for bwd_weights and the bias gradient. Whatever the order im2col + GEMM sums them in,
// |error| <= (L + 2) u * mag with mag = sum |terms| (one rounding per product, one per tree
// level, the bias add). We test |got - want| <= CONV_C * (L + 2) * eps * mag with eps = 2u
// and CONV_C = 1: twice the worst case against the double reference, the sum of both worst
// cases against oneDNN.
#define CONV_C 1.0

typedef struct {
    int64_t n, c, h, w, k, r, s, sh, sw, ph, pw;
} conv_case;

static mimic_conv2d to_shape(const conv_case *cc) {
    mimic_conv2d s = {cc->n, cc->c, cc->h, cc->w, cc->k, cc->r, cc->s,
                      cc->sh, cc->sw, cc->ph, cc->pw};
    return s;
}

static void make_tol(double *tol, const double *mag, size_t n, int64_t L) {
    for (size_t i = 0; i < n; i++)
        tol[i] = CONV_C * (double)(L + 2) * FLT_EPSILON * mag[i];
}

// Output buffers are pre-filled with NaN (the kernels must overwrite, not accumulate) and
// followed by a sentinel guard.
static float *out_buf(size_t n, size_t off) {
    float *p = tc_alloc_off(n + TC_GUARD, off);
    tc_fill(p, n, NAN);
    tc_fill_sentinel(p + n, TC_GUARD);
    return p;
}

static void check_conv(const conv_case *cc, int with_bias, size_t off, uint64_t seed) {
    tc_rng rng = tc_rng_seed(seed);
    mimic_conv2d s = to_shape(cc);
    int64_t P, Q;
    ref_conv_out_hw(&s, &P, &Q);
    tc_ctx("conv n=%lld c=%lld h=%lld w=%lld k=%lld r=%lld s=%lld stride=%lldx%lld "
           "pad=%lldx%lld -> %lldx%lld bias=%d off=%zu",
           (long long)s.n, (long long)s.c, (long long)s.h, (long long)s.w, (long long)s.k,
           (long long)s.r, (long long)s.s, (long long)s.stride_h, (long long)s.stride_w,
           (long long)s.pad_h, (long long)s.pad_w, (long long)P, (long long)Q, with_bias, off);
    size_t nsrc = (size_t)(s.n * s.c * s.h * s.w), nwei = (size_t)(s.k * s.c * s.r * s.s);
    size_t ndst = (size_t)(s.n * s.k * P * Q), nk = (size_t)s.k;

    float *src = tc_alloc_off(nsrc, off), *wei = tc_alloc_off(nwei, off);
    float *bias = tc_alloc_off(nk, off), *ddst = tc_alloc_off(ndst, off);
    tc_fill_uniform(&rng, src, nsrc, -1, 1);
    tc_fill_uniform(&rng, wei, nwei, -1, 1);
    tc_fill_uniform(&rng, bias, nk, -1, 1);
    tc_fill_uniform(&rng, ddst, ndst, -1, 1);
    const float *b = with_bias ? bias : NULL;

    double *y = tc_dalloc(ndst), *y_tol = tc_dalloc(ndst);
    double *dx = tc_dalloc(nsrc), *dx_tol = tc_dalloc(nsrc);
    double *dw = tc_dalloc(nwei), *dw_tol = tc_dalloc(nwei);
    double *db = tc_dalloc(nk), *db_tol = tc_dalloc(nk);
    ref_conv_fwd(&s, src, wei, b, y, y_tol);
    make_tol(y_tol, y_tol, ndst, s.c * s.r * s.s + 1);
    ref_conv_bwd_data(&s, ddst, wei, dx, dx_tol);
    make_tol(dx_tol, dx_tol, nsrc, s.k * s.r * s.s);
    ref_conv_bwd_weights(&s, src, ddst, dw, dw_tol, db, db_tol);
    make_tol(dw_tol, dw_tol, nwei, s.n * P * Q);
    make_tol(db_tol, db_tol, nk, s.n * P * Q);
    tc_tol ty = {.tol = y_tol}, tx = {.tol = dx_tol}, tw = {.tol = dw_tol}, tb = {.tol = db_tol};

    int64_t p = -1, q = -1;
    TC_STATUS(mimic_conv2d_out_hw(&s, &p, &q), MIMIC_OK);
    if (p != P || q != Q)
        TC_FAIL("mimic_conv2d_out_hw: got %lldx%lld, want %lldx%lld", (long long)p,
                (long long)q, (long long)P, (long long)Q);

#ifdef MIMIC_TEST_HAVE_DNNL
    float *oy = tc_alloc(ndst), *ox = tc_alloc(nsrc), *ow = tc_alloc(nwei), *ob = tc_alloc(nk);
    double *oyd = tc_dalloc(ndst), *oxd = tc_dalloc(nsrc), *owd = tc_dalloc(nwei);
    double *obd = tc_dalloc(nk);
    int rc;
    if ((rc = oracle_conv_fwd(&s, src, wei, b, oy)) != 0)
        TC_FAIL("oneDNN convolution forward failed: status %d", rc);
    if ((rc = oracle_conv_bwd_data(&s, ddst, wei, ox)) != 0)
        TC_FAIL("oneDNN convolution backward data failed: status %d", rc);
    if ((rc = oracle_conv_bwd_weights(&s, src, ddst, ow, with_bias ? ob : NULL)) != 0)
        TC_FAIL("oneDNN convolution backward weights failed: status %d", rc);
    // The oracle must agree with the reference before it judges mimic.
    tc_check_near("oneDNN fwd vs reference", oy, ndst, y, 1, ndst, ty);
    tc_check_near("oneDNN bwd_data vs reference", ox, nsrc, dx, 1, nsrc, tx);
    tc_check_near("oneDNN bwd_weights vs reference", ow, nwei, dw, 1, nwei, tw);
    if (with_bias)
        tc_check_near("oneDNN diff_bias vs reference", ob, nk, db, 1, nk, tb);
    tc_to_double(oy, oyd, ndst);
    tc_to_double(ox, oxd, nsrc);
    tc_to_double(ow, owd, nwei);
    tc_to_double(ob, obd, nk);
#endif

    float *dst = out_buf(ndst, off), *dsrc = out_buf(nsrc, off);
    float *dwei = out_buf(nwei, off), *dbias = out_buf(nk, off);
    TC_FOR_EACH_ISA(isa) {
        tc_fill(dst, ndst, NAN);
        tc_fill(dsrc, nsrc, NAN);
        tc_fill(dwei, nwei, NAN);
        tc_fill(dbias, nk, NAN);
        if (!with_bias)
            tc_fill_sentinel(dbias, nk);
        TC_STATUS(mimic_conv2d_fwd(&s, src, wei, b, dst), MIMIC_OK);
        TC_STATUS(mimic_conv2d_bwd_data(&s, ddst, wei, dsrc), MIMIC_OK);
        TC_STATUS(mimic_conv2d_bwd_weights(&s, src, ddst, dwei, with_bias ? dbias : NULL),
                  MIMIC_OK);
        tc_check_near("fwd vs reference", dst, ndst, y, 1, ndst, ty);
        tc_check_near("bwd_data vs reference", dsrc, nsrc, dx, 1, nsrc, tx);
        tc_check_near("bwd_weights vs reference", dwei, nwei, dw, 1, nwei, tw);
        if (with_bias)
            tc_check_near("diff_bias vs reference", dbias, nk, db, 1, nk, tb);
        else
            tc_check_sentinel("diff_bias buffer (not passed)", dbias, nk);
        tc_check_sentinel("guard past dst", dst + ndst, TC_GUARD);
        tc_check_sentinel("guard past diff_src", dsrc + nsrc, TC_GUARD);
        tc_check_sentinel("guard past diff_wei", dwei + nwei, TC_GUARD);
        tc_check_sentinel("guard past diff_bias", dbias + nk, TC_GUARD);
#ifdef MIMIC_TEST_HAVE_DNNL
        tc_check_near("fwd vs oneDNN", dst, ndst, oyd, 1, ndst, ty);
        tc_check_near("bwd_data vs oneDNN", dsrc, nsrc, oxd, 1, nsrc, tx);
        tc_check_near("bwd_weights vs oneDNN", dwei, nwei, owd, 1, nwei, tw);
        if (with_bias)
            tc_check_near("diff_bias vs oneDNN", dbias, nk, obd, 1, nk, tb);
#endif
    }
#ifdef MIMIC_TEST_HAVE_DNNL
    free(oy), free(ox), free(ow), free(ob), free(oyd), free(oxd), free(owd), free(obd);
#endif
    tc_free_off(src, off), tc_free_off(wei, off), tc_free_off(bias, off);
    tc_free_off(ddst, off), tc_free_off(dst, off), tc_free_off(dsrc, off);
    tc_free_off(dwei, off), tc_free_off(dbias, off);
    free(y), free(y_tol), free(dx), free(dx_tol), free(dw), free(dw_tol), free(db), free(db_tol);
}

// Hand-picked shapes: n, c, h, w, k, r, s, stride_h, stride_w, pad_h, pad_w.
static const conv_case k_cases[] = {
    {1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0},      // 1x1, single channel
    {1, 3, 7, 6, 4, 1, 1, 1, 1, 0, 0},      // 1x1, non-square input
    {5, 3, 8, 8, 8, 1, 1, 2, 2, 0, 0},      // 1x1, stride 2, batch 5
    {1, 3, 9, 7, 5, 3, 3, 1, 1, 1, 1},      // 3x3 same padding
    {2, 17, 6, 9, 5, 3, 3, 2, 2, 1, 1},     // C = 17, stride 2
    {1, 64, 6, 6, 16, 3, 3, 1, 1, 1, 1},    // C = 64
    {1, 3, 11, 10, 4, 5, 5, 1, 1, 2, 2},    // 5x5
    {5, 3, 9, 8, 3, 5, 5, 3, 3, 2, 2},      // 5x5, stride 3, batch 5
    {1, 3, 13, 12, 6, 7, 7, 2, 2, 2, 2},    // 7x7, stride 2
    {1, 17, 12, 11, 4, 7, 7, 1, 1, 0, 0},   // 7x7, no padding
    {2, 3, 8, 9, 5, 1, 3, 1, 1, 0, 1},      // 1x3, pad_h != pad_w
    {1, 3, 9, 9, 4, 3, 3, 1, 2, 2, 0},      // stride_h != stride_w, pad_h != pad_w
    {1, 3, 3, 3, 2, 3, 3, 1, 1, 0, 0},      // output 1x1
    {5, 17, 1, 1, 7, 1, 1, 1, 1, 0, 0},     // 1x1 input and output, batch 5
    {1, 1, 2, 2, 3, 3, 3, 1, 1, 1, 1},      // kernel larger than the input, fits padded
    {1, 3, 5, 5, 4, 5, 5, 3, 3, 0, 0},      // output 1x1 with stride 3
    {2, 64, 5, 7, 8, 3, 3, 3, 2, 1, 2},     // C = 64, strides 3 x 2
    {1, 3, 10, 10, 2, 3, 3, 3, 3, 0, 0},    // the floor drops the last input row/column
    {1, 1, 1, 5, 3, 1, 3, 1, 1, 0, 0},      // h = 1
    {3, 17, 7, 5, 9, 5, 5, 2, 1, 2, 0},     // 5x5, asymmetric stride and pad
    {1, 64, 4, 4, 3, 1, 3, 1, 2, 0, 2},     // 1x3 with pad 2 > kernel half-width
    {5, 1, 6, 4, 2, 3, 3, 3, 3, 2, 2},      // pad 2 with stride 3
    {5, 8, 7, 5, 9, 3, 3, 1, 1, 1, 1},      // fused panels across images (35 pixels each)
    {3, 4, 3, 3, 17, 5, 5, 1, 1, 2, 2},     // fused, 9 pixels: a panel spans many images
    {2, 20, 5, 6, 3, 3, 3, 1, 1, 1, 1},     // bwd_data as a convolution (C >= 16), K = 3
    {2, 16, 4, 9, 11, 3, 1, 1, 1, 0, 0},    // as a convolution, pad 0 (P != H)
    {2, 8, 5, 6, 9, 3, 5, 1, 1, 2, 3},      // fused, pad > kernel half-width: output wider
    {2, 4, 6, 7, 40, 3, 3, 1, 1, 1, 1},     // fused, K = 40: a partial NR strip of K
    {1, 2, 9, 6, 5, 5, 4, 1, 1, 0, 0},      // fused, no padding, slab rows = input rows
    {3, 5, 7, 6, 24, 3, 3, 1, 1, 1, 1},     // pixel-rows tile (AVX-512), 24 of 32 lanes
    {2, 16, 9, 5, 64, 3, 3, 1, 1, 1, 2},    // pixel-rows tile, two lane panels, wider output
    {2, 1, 9, 8, 5, 3, 1, 1, 1, 1, 0},      // bwd_weights by dot tiles: 3x1 (S = 1)
    {2, 1, 6, 12, 6, 1, 7, 1, 2, 0, 3},     // dot tiles: 1x7 (S > a tile's columns), stride 1x2
    {3, 4, 7, 6, 9, 3, 1, 2, 1, 1, 0},      // dot tiles: C = 4, 3x1, stride 2x1
    {2, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1},   // dot tiles: the teacher's first layer
    {2, 1, 28, 28, 64, 5, 5, 1, 1, 2, 2},   // dot tiles: the conv student's 5x5 (26 taps)
    {2, 3, 9, 11, 6, 5, 5, 1, 1, 2, 2},     // dot tiles: C*R*S = 75, the largest on them
};

static void test_conv_cases(void **state) {
    (void)state;
    int n = (int)(sizeof k_cases / sizeof k_cases[0]);
    for (int i = 0; i < n; i++)
        for (int bias = 0; bias < 2; bias++)
            check_conv(&k_cases[i], bias, (size_t)((i + bias) % 2), 100 + (uint64_t)(2 * i + bias));
}

// Seeded random sweep over the same parameter sets.
static void test_conv_random(void **state) {
    (void)state;
    tc_rng r = tc_rng_seed(7);
    static const int64_t cs[] = {1, 3, 17, 64}, ks[] = {1, 3, 5, 7};
    int64_t count = tc_scaled(40, 4);
    for (int64_t i = 0; i < count; i++) {
        conv_case cc;
        cc.n = tc_rng_int(&r, 1, 5) == 5 ? 5 : tc_rng_int(&r, 1, 2);
        cc.c = cs[tc_rng_int(&r, 0, 3)];
        cc.k = tc_rng_int(&r, 1, 12);
        cc.r = ks[tc_rng_int(&r, 0, 3)];
        cc.s = tc_rng_int(&r, 0, 3) == 0 ? ks[tc_rng_int(&r, 0, 3)] : cc.r;
        cc.sh = tc_rng_int(&r, 1, 3);
        cc.sw = tc_rng_int(&r, 1, 3);
        cc.ph = tc_rng_int(&r, 0, 2);
        cc.pw = tc_rng_int(&r, 0, 2);
        int64_t hmin = cc.r - 2 * cc.ph, wmin = cc.s - 2 * cc.pw;
        cc.h = tc_rng_int(&r, hmin > 1 ? hmin : 1, cc.r + 9);
        cc.w = tc_rng_int(&r, wmin > 1 ? wmin : 1, cc.s + 9);
        if (cc.c == 64 && cc.r * cc.s > 9) // keep the reference cheap
            cc.c = 17;
        check_conv(&cc, (int)(i % 2), (size_t)(i % 3 == 0), 500 + (uint64_t)i);
    }
}

// L = sum_o dst_o * g_o, computed in double from mimic's forward pass. L is linear in src,
// wei and bias, so the central difference (L(x + h) - L(x - h)) / (x+ - x-) has no truncation
// error: only the rounding of dst, at most E = sum_o |g_o| (L_o + 2) u mag_o per evaluation.
// The test bound is 2E / step plus the gradient's own bound (CONV_C * (L + 2) eps mag).
static double loss_of(const mimic_conv2d *s, const float *src, const float *wei,
                      const float *bias, const float *g, float *dst, size_t ndst) {
    TC_STATUS(mimic_conv2d_fwd(s, src, wei, bias, dst), MIMIC_OK);
    double L = 0;
    for (size_t i = 0; i < ndst; i++)
        L += (double)dst[i] * g[i];
    return L;
}

static void fd_check(const char *what, const mimic_conv2d *s, float *x, size_t nx,
                     const float *grad, const double *grad_tol, double E, const float *src,
                     const float *wei, const float *bias, const float *g, float *dst,
                     size_t ndst) {
    for (size_t i = 0; i < nx; i++) {
        float x0 = x[i];
        x[i] = x0 + 0.5f;
        double xp = x[i], Lp = loss_of(s, src, wei, bias, g, dst, ndst);
        x[i] = x0 - 0.5f;
        double xm = x[i], Lm = loss_of(s, src, wei, bias, g, dst, ndst);
        x[i] = x0;
        double fd = (Lp - Lm) / (xp - xm);
        char name[96];
        snprintf(name, sizeof name, "%s[%zu] vs finite difference", what, i);
        tc_check_near1(name, grad[i], fd, 2 * E / (xp - xm) + grad_tol[i]);
    }
}

static void check_fd(const conv_case *cc, uint64_t seed) {
    tc_rng rng = tc_rng_seed(seed);
    mimic_conv2d s = to_shape(cc);
    int64_t P, Q;
    ref_conv_out_hw(&s, &P, &Q);
    size_t nsrc = (size_t)(s.n * s.c * s.h * s.w), nwei = (size_t)(s.k * s.c * s.r * s.s);
    size_t ndst = (size_t)(s.n * s.k * P * Q), nk = (size_t)s.k;
    tc_ctx("conv finite differences n=%lld c=%lld h=%lld w=%lld k=%lld r=%lld s=%lld "
           "stride=%lldx%lld pad=%lldx%lld",
           (long long)s.n, (long long)s.c, (long long)s.h, (long long)s.w, (long long)s.k,
           (long long)s.r, (long long)s.s, (long long)s.stride_h, (long long)s.stride_w,
           (long long)s.pad_h, (long long)s.pad_w);
    float *src = tc_alloc(nsrc), *wei = tc_alloc(nwei), *bias = tc_alloc(nk);
    float *g = tc_alloc(ndst), *dst = tc_alloc(ndst);
    float *dsrc = tc_alloc(nsrc), *dwei = tc_alloc(nwei), *dbias = tc_alloc(nk);
    tc_fill_uniform(&rng, src, nsrc, -1, 1);
    tc_fill_uniform(&rng, wei, nwei, -1, 1);
    tc_fill_uniform(&rng, bias, nk, -1, 1);
    tc_fill_uniform(&rng, g, ndst, -1, 1);
    // Bounds: E from the forward magnitudes (with the perturbation, |x| <= 1.5), gradient
    // bounds from the reference magnitudes.
    double *mag = tc_dalloc(ndst), *y = tc_dalloc(ndst);
    double *dx = tc_dalloc(nsrc), *dx_tol = tc_dalloc(nsrc);
    double *dw = tc_dalloc(nwei), *dw_tol = tc_dalloc(nwei);
    double *db = tc_dalloc(nk), *db_tol = tc_dalloc(nk);
    ref_conv_fwd(&s, src, wei, bias, y, mag);
    double E = 0;
    for (size_t i = 0; i < ndst; i++)
        E += fabs(g[i]) * (double)(s.c * s.r * s.s + 3) * TC_U * (mag[i] * 1.5 + 1.5);
    ref_conv_bwd_data(&s, g, wei, dx, dx_tol);
    make_tol(dx_tol, dx_tol, nsrc, s.k * s.r * s.s);
    ref_conv_bwd_weights(&s, src, g, dw, dw_tol, db, db_tol);
    make_tol(dw_tol, dw_tol, nwei, s.n * P * Q);
    make_tol(db_tol, db_tol, nk, s.n * P * Q);
    TC_FOR_EACH_ISA(isa) {
        TC_STATUS(mimic_conv2d_bwd_data(&s, g, wei, dsrc), MIMIC_OK);
        TC_STATUS(mimic_conv2d_bwd_weights(&s, src, g, dwei, dbias), MIMIC_OK);
        fd_check("diff_src", &s, src, nsrc, dsrc, dx_tol, E, src, wei, bias, g, dst, ndst);
        fd_check("diff_wei", &s, wei, nwei, dwei, dw_tol, E, src, wei, bias, g, dst, ndst);
        fd_check("diff_bias", &s, bias, nk, dbias, db_tol, E, src, wei, bias, g, dst, ndst);
    }
    free(src), free(wei), free(bias), free(g), free(dst), free(dsrc), free(dwei), free(dbias);
    free(mag), free(y), free(dx), free(dx_tol), free(dw), free(dw_tol), free(db), free(db_tol);
}

static void test_conv_finite_differences(void **state) {
    (void)state;
    static const conv_case cases[] = {
        {2, 2, 5, 4, 3, 3, 2, 2, 1, 1, 0}, // stride 2 x 1, pad 1 x 0, non-square kernel
        {1, 3, 4, 4, 2, 3, 3, 1, 1, 1, 1}, // same padding
        {2, 1, 7, 6, 2, 3, 3, 3, 2, 0, 2}, // floor drops input rows, pad 2
    };
    for (int i = 0; i < 3; i++)
        check_fd(&cases[i], 900 + (uint64_t)i);
}

// mimic_conv2d_fwd_ex with MIMIC_CONV_RELU: max(0, reference), NaN kept; unknown flags
// rejected with dst untouched.
static void check_relu(const conv_case *cc, uint64_t seed) {
    tc_rng rng = tc_rng_seed(seed);
    mimic_conv2d s = to_shape(cc);
    int64_t P, Q;
    ref_conv_out_hw(&s, &P, &Q);
    tc_ctx("conv relu n=%lld c=%lld h=%lld w=%lld k=%lld r=%lld s=%lld", (long long)s.n,
           (long long)s.c, (long long)s.h, (long long)s.w, (long long)s.k, (long long)s.r,
           (long long)s.s);
    size_t nsrc = (size_t)(s.n * s.c * s.h * s.w), nwei = (size_t)(s.k * s.c * s.r * s.s);
    size_t ndst = (size_t)(s.n * s.k * P * Q);
    float *src = tc_alloc(nsrc), *wei = tc_alloc(nwei), *bias = tc_alloc((size_t)s.k);
    float *dst = out_buf(ndst, 0);
    double *y = tc_dalloc(ndst), *tol = tc_dalloc(ndst);
    tc_fill_uniform(&rng, src, nsrc, -1, 1);
    tc_fill_uniform(&rng, wei, nwei, -1, 1);
    tc_fill_uniform(&rng, bias, (size_t)s.k, -1, 1);
    src[nsrc / 2] = NAN; // reaches some outputs: they must stay NaN through the ReLU
    ref_conv_fwd(&s, src, wei, bias, y, tol);
    make_tol(tol, tol, ndst, s.c * s.r * s.s + 1);
    for (size_t i = 0; i < ndst; i++)
        y[i] = y[i] < 0 ? 0.0 : y[i];
    TC_FOR_EACH_ISA(isa) {
        tc_fill(dst, ndst, NAN);
        TC_STATUS(mimic_conv2d_fwd_ex(&s, src, wei, bias, dst, MIMIC_CONV_RELU), MIMIC_OK);
        tc_check_near("fwd_ex relu vs reference", dst, ndst, y, 1, ndst, (tc_tol){.tol = tol});
        tc_check_sentinel("guard past dst", dst + ndst, TC_GUARD);
        tc_fill_sentinel(dst, ndst);
        TC_STATUS(mimic_conv2d_fwd_ex(&s, src, wei, bias, dst, 2u), MIMIC_EINVAL);
        tc_check_sentinel("dst after an unknown flag", dst, ndst);
    }
    free(src), free(wei), free(bias), tc_free_off(dst, 0), free(y), free(tol);
}

static void test_conv_relu(void **state) {
    (void)state;
    static const conv_case cases[] = {
        {5, 3, 9, 7, 5, 3, 3, 1, 1, 1, 1},
        {2, 17, 6, 9, 5, 3, 3, 2, 2, 1, 1},
        {3, 8, 5, 5, 4, 1, 1, 1, 1, 0, 0}, // pointwise
    };
    for (int i = 0; i < 3; i++)
        check_relu(&cases[i], 300 + (uint64_t)i);
}

// Workspace query: valid for every pass, independent of the batch once the batch keeps
// every thread busy, and rejected for invalid arguments.
static void test_conv_workspace_query(void **state) {
    (void)state;
    mimic_conv2d s = {8, 32, 28, 28, 32, 3, 3, 1, 1, 1, 1};
    size_t bytes = 0, big = 0;
    TC_FOR_EACH_ISA(isa) {
        for (int pass = MIMIC_CONV_FWD; pass <= MIMIC_CONV_BWD_WEIGHTS; pass++) {
            tc_ctx("workspace bytes, pass %d", pass);
            s.n = 8;
            TC_STATUS(mimic_conv2d_workspace_bytes(&s, (mimic_conv_pass)pass, &bytes), MIMIC_OK);
            // At least one column buffer of one output row.
            TC_CHECK(bytes >= (size_t)(32 * 9 * 28) * sizeof(float));
            s.n = 1 << 20; // a million images need no more than eight
            TC_STATUS(mimic_conv2d_workspace_bytes(&s, (mimic_conv_pass)pass, &big), MIMIC_OK);
            if (big != bytes)
                TC_FAIL("workspace grows with the batch: %zu bytes at n=8, %zu at n=2^20", bytes,
                        big);
        }
        tc_ctx("workspace bytes, invalid arguments");
        TC_STATUS(mimic_conv2d_workspace_bytes(&s, MIMIC_CONV_FWD, NULL), MIMIC_EINVAL);
        TC_STATUS(mimic_conv2d_workspace_bytes(NULL, MIMIC_CONV_FWD, &bytes), MIMIC_EINVAL);
        TC_STATUS(mimic_conv2d_workspace_bytes(&s, (mimic_conv_pass)3, &bytes), MIMIC_EINVAL);
        mimic_conv2d bad = s;
        bad.stride_h = 0;
        TC_STATUS(mimic_conv2d_workspace_bytes(&bad, MIMIC_CONV_FWD, &bytes), MIMIC_EINVAL);
    }
}

// A cap far below one image's column matrix: every pass lowers a few output rows at a time
// (over a batch large enough to keep every thread busy), still exact to the reference and
// oneDNN, and reports less workspace than with the default cap.
static void test_conv_small_cap(void **state) {
    (void)state;
    static const conv_case cases[] = {
        {9, 3, 9, 7, 5, 3, 3, 1, 1, 1, 1},     // stride 1: bwd_data as a convolution
        {6, 17, 11, 9, 5, 3, 3, 2, 2, 1, 1},   // stride 2: bwd_data by col2im
        {7, 4, 6, 5, 3, 1, 1, 1, 1, 0, 0},     // pointwise
        {5, 3, 13, 12, 6, 7, 7, 2, 1, 3, 2},   // 7x7
        {5, 2, 13, 11, 4, 3, 3, 2, 3, 1, 0},   // forward with few taps, strided, in row chunks
    };
    for (int i = 0; i < 5; i++) {
        mimic_conv2d s = to_shape(&cases[i]);
        size_t before[3], after[3];
        for (int pass = 0; pass < 3; pass++)
            TC_STATUS(mimic_conv2d_workspace_bytes(&s, (mimic_conv_pass)pass, &before[pass]),
                      MIMIC_OK);
        TC_STATUS(mimic_conv2d_set_workspace_limit(256), MIMIC_OK);
        for (int pass = 0; pass < 3; pass++)
            TC_STATUS(mimic_conv2d_workspace_bytes(&s, (mimic_conv_pass)pass, &after[pass]),
                      MIMIC_OK);
        check_conv(&cases[i], i % 2, 0, 700 + (uint64_t)i);
        TC_STATUS(mimic_conv2d_set_workspace_limit(0), MIMIC_OK); // back to the default
        // Never more with the cap; backward-weights always lowers a whole image by default, so
        // the cap must shrink it (the other passes' buffers may already be small).
        for (int pass = 0; pass < 3; pass++) {
            tc_ctx("workspace with a 256-byte cap, case %d pass %d", i, pass);
            const int shrinks = pass == MIMIC_CONV_BWD_WEIGHTS;
            if (shrinks ? after[pass] >= before[pass] : after[pass] > before[pass])
                TC_FAIL("workspace %zu bytes with the cap, %zu without", after[pass],
                        before[pass]);
        }
    }
}

// Every pass gives bit-identical results on 1, 2 and 3 threads (and with the cap, which
// cuts images into row chunks, on each of them too).
static void test_conv_threads_bitwise(void **state) {
    (void)state;
    static const conv_case cases[] = {
        {6, 8, 10, 9, 7, 3, 3, 1, 1, 1, 1},
        {5, 6, 11, 9, 5, 3, 3, 2, 2, 1, 1},
        {4, 5, 6, 7, 3, 1, 1, 1, 1, 0, 0},
        {6, 2, 10, 9, 7, 3, 3, 1, 1, 1, 1}, // the forward with few taps (C*R*S = 18)
        {5, 2, 10, 9, 7, 3, 3, 1, 1, 1, 1}, // ... on an odd batch
    };
    const int saved = mimic_threads_get();
    for (int i = 0; i < 5; i++) {
        tc_rng rng = tc_rng_seed(800 + (uint64_t)i);
        mimic_conv2d s = to_shape(&cases[i]);
        int64_t P, Q;
        ref_conv_out_hw(&s, &P, &Q);
        size_t nsrc = (size_t)(s.n * s.c * s.h * s.w), nwei = (size_t)(s.k * s.c * s.r * s.s);
        size_t ndst = (size_t)(s.n * s.k * P * Q), nk = (size_t)s.k;
        float *src = tc_alloc(nsrc), *wei = tc_alloc(nwei), *bias = tc_alloc(nk);
        float *ddst = tc_alloc(ndst);
        float *out[3][4]; // [threads - 1][dst, diff_src, diff_wei, diff_bias]
        tc_fill_uniform(&rng, src, nsrc, -1, 1);
        tc_fill_uniform(&rng, wei, nwei, -1, 1);
        tc_fill_uniform(&rng, bias, nk, -1, 1);
        tc_fill_uniform(&rng, ddst, ndst, -1, 1);
        for (int cap = 0; cap < 2; cap++) {
            TC_STATUS(mimic_conv2d_set_workspace_limit(cap ? 512 : 0), MIMIC_OK);
            TC_FOR_EACH_ISA(isa) {
                for (int t = 0; t < 3; t++) {
                    mimic_threads_set(t + 1);
                    out[t][0] = tc_alloc(ndst), out[t][1] = tc_alloc(nsrc);
                    out[t][2] = tc_alloc(nwei), out[t][3] = tc_alloc(nk);
                    TC_STATUS(mimic_conv2d_fwd_ex(&s, src, wei, bias, out[t][0],
                                                  MIMIC_CONV_RELU),
                              MIMIC_OK);
                    TC_STATUS(mimic_conv2d_bwd_data(&s, ddst, wei, out[t][1]), MIMIC_OK);
                    TC_STATUS(mimic_conv2d_bwd_weights(&s, src, ddst, out[t][2], out[t][3]),
                              MIMIC_OK);
                }
                tc_ctx("case %d cap %d: 2 and 3 threads against 1", i, cap);
                for (int t = 1; t < 3; t++) {
                    tc_check_bitwise("fwd", out[t][0], out[0][0], ndst);
                    tc_check_bitwise("bwd_data", out[t][1], out[0][1], nsrc);
                    tc_check_bitwise("bwd_weights", out[t][2], out[0][2], nwei);
                    tc_check_bitwise("diff_bias", out[t][3], out[0][3], nk);
                }
                for (int t = 0; t < 3; t++)
                    for (int j = 0; j < 4; j++)
                        free(out[t][j]);
            }
        }
        free(src), free(wei), free(bias), free(ddst);
    }
    TC_STATUS(mimic_conv2d_set_workspace_limit(0), MIMIC_OK);
    mimic_threads_set(saved);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_cases),
        cmocka_unit_test(test_conv_random),
        cmocka_unit_test(test_conv_finite_differences),
        cmocka_unit_test(test_conv_relu),
        cmocka_unit_test(test_conv_workspace_query),
        cmocka_unit_test(test_conv_small_cap),
        cmocka_unit_test(test_conv_threads_bitwise),
    };
    return cmocka_run_group_tests_name("conv", tests, tc_group_setup, tc_group_teardown);
}
