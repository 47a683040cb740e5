// Every invalid-argument path returns MIMIC_EINVAL and leaves the outputs untouched (checked
// with a sentinel bit pattern); zero-sized problems are MIMIC_OK; ISA control, status names,
// info and version.
#include "common.h"

#define NBUF 256

static float g_a[NBUF], g_b[NBUF], g_out[NBUF], g_out2[NBUF];

static void reset_out(void) {
    tc_fill_sentinel(g_out, NBUF);
    tc_fill_sentinel(g_out2, NBUF);
}

static void check_out(void) {
    tc_check_sentinel("output", g_out, NBUF);
    tc_check_sentinel("second output", g_out2, NBUF);
}

#define EXPECT_INVALID(call)                                                                   \
    do {                                                                                       \
        reset_out();                                                                           \
        tc_ctx("%s", #call);                                                                   \
        TC_STATUS(call, MIMIC_EINVAL);                                                         \
        check_out();                                                                           \
    } while (0)

#define EXPECT_NOOP(call)                                                                      \
    do {                                                                                       \
        reset_out();                                                                           \
        tc_ctx("%s", #call);                                                                   \
        TC_STATUS(call, MIMIC_OK);                                                             \
        check_out();                                                                           \
    } while (0)

static void init_inputs(void) {
    tc_rng r = tc_rng_seed(3);
    tc_fill_uniform(&r, g_a, NBUF, -1, 1);
    tc_fill_uniform(&r, g_b, NBUF, -1, 1);
}

static void test_sgemm_invalid(void **state) {
    (void)state;
    const float *A = g_a, *B = g_b;
    float *C = g_out;
    init_inputs();
    TC_FOR_EACH_ISA(isa) {
        // Bad trans characters.
        EXPECT_INVALID(mimic_sgemm('X', 'N', 4, 4, 4, 1, A, 4, B, 4, 0, C, 4));
        EXPECT_INVALID(mimic_sgemm('N', 'x', 4, 4, 4, 1, A, 4, B, 4, 0, C, 4));
        EXPECT_INVALID(mimic_sgemm('C', 'C', 4, 4, 4, 1, A, 4, B, 4, 0, C, 4));
        EXPECT_INVALID(mimic_sgemm('\0', 'N', 4, 4, 4, 1, A, 4, B, 4, 0, C, 4));
        // Negative sizes.
        EXPECT_INVALID(mimic_sgemm('N', 'N', -1, 4, 4, 1, A, 4, B, 4, 0, C, 4));
        EXPECT_INVALID(mimic_sgemm('N', 'N', 4, -1, 4, 1, A, 4, B, 4, 0, C, 4));
        EXPECT_INVALID(mimic_sgemm('N', 'N', 4, 4, -1, 1, A, 4, B, 4, 0, C, 4));
        EXPECT_INVALID(mimic_sgemm('N', 'N', INT64_MIN, 4, 4, 1, A, 4, B, 4, 0, C, 4));
        // Leading dimensions too small (M=3, N=5, K=7).
        EXPECT_INVALID(mimic_sgemm('N', 'N', 3, 5, 7, 1, A, 6, B, 5, 0, C, 5));  // lda < K
        EXPECT_INVALID(mimic_sgemm('T', 'N', 3, 5, 7, 1, A, 2, B, 5, 0, C, 5));  // lda < M
        EXPECT_INVALID(mimic_sgemm('N', 'N', 3, 5, 7, 1, A, 7, B, 4, 0, C, 5));  // ldb < N
        EXPECT_INVALID(mimic_sgemm('N', 'T', 3, 5, 7, 1, A, 7, B, 6, 0, C, 5));  // ldb < K
        EXPECT_INVALID(mimic_sgemm('N', 'N', 3, 5, 7, 1, A, 7, B, 5, 0, C, 4));  // ldc < N
        EXPECT_INVALID(mimic_sgemm('N', 'N', 3, 5, 7, 1, A, 0, B, 5, 0, C, 5));  // lda 0
        EXPECT_INVALID(mimic_sgemm('N', 'N', 3, 5, 7, 1, A, 7, B, 5, 0, C, -5)); // ldc < 0
        // The stored width is the one checked: 'T' A with lda == K < M, 'T' B with
        // ldb == N < K are too small.
        EXPECT_INVALID(mimic_sgemm('T', 'N', 9, 5, 3, 1, A, 3, B, 5, 0, C, 5));
        EXPECT_INVALID(mimic_sgemm('N', 'T', 3, 5, 9, 1, A, 9, B, 5, 0, C, 5));
        // NULL where something is read or written.
        EXPECT_INVALID(mimic_sgemm('N', 'N', 4, 4, 4, 1, NULL, 4, B, 4, 0, C, 4));
        EXPECT_INVALID(mimic_sgemm('N', 'N', 4, 4, 4, 1, A, 4, NULL, 4, 0, C, 4));
        EXPECT_INVALID(mimic_sgemm('N', 'N', 4, 4, 4, 1, A, 4, B, 4, 0, NULL, 4));
        EXPECT_INVALID(mimic_sgemm('N', 'N', 4, 4, 0, 1, NULL, 1, NULL, 4, 1, NULL, 4));
        // Zero-sized problems are no-ops (C neither read nor written, NULL accepted).
        EXPECT_NOOP(mimic_sgemm('N', 'N', 0, 4, 4, 1, A, 4, B, 4, 1, C, 4));
        EXPECT_NOOP(mimic_sgemm('T', 'T', 4, 0, 4, 1, A, 4, B, 4, 0, C, 1));
        EXPECT_NOOP(mimic_sgemm('N', 'N', 0, 0, 0, 1, NULL, 1, NULL, 1, 0, NULL, 1));
        EXPECT_NOOP(mimic_sgemm('N', 'N', 0, 5, 3, 2, NULL, 3, NULL, 5, 0, NULL, 5));
    }
}

static mimic_conv2d good_shape(void) {
    mimic_conv2d s = {1, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1}; // 1x2x5x5 -> 1x3x5x5
    return s;
}

// Invalid shape: all four entry points reject it, and out_hw leaves p and q alone.
static void expect_bad_shape(const mimic_conv2d *s, const char *why) {
    int64_t p = -7, q = -7;
    tc_ctx("conv shape: %s", why);
    reset_out();
    TC_STATUS(mimic_conv2d_out_hw(s, &p, &q), MIMIC_EINVAL);
    if (p != -7 || q != -7)
        TC_FAIL("mimic_conv2d_out_hw wrote p/q for an invalid shape");
    TC_STATUS(mimic_conv2d_fwd(s, g_a, g_b, g_b, g_out), MIMIC_EINVAL);
    TC_STATUS(mimic_conv2d_bwd_data(s, g_a, g_b, g_out), MIMIC_EINVAL);
    TC_STATUS(mimic_conv2d_bwd_weights(s, g_a, g_b, g_out, g_out2), MIMIC_EINVAL);
    check_out();
}

static void test_conv_invalid(void **state) {
    (void)state;
    init_inputs();
    TC_FOR_EACH_ISA(isa) {
        mimic_conv2d s;
        expect_bad_shape(NULL, "NULL");
#define BAD(field, value)                                                                      \
    s = good_shape();                                                                          \
    s.field = (value);                                                                         \
    expect_bad_shape(&s, #field " = " #value)
        BAD(n, -1);
        BAD(c, 0);
        BAD(c, -2);
        BAD(h, 0);
        BAD(w, -1);
        BAD(k, 0);
        BAD(r, 0);
        BAD(s, -1);
        BAD(stride_h, 0);
        BAD(stride_w, 0);
        BAD(stride_h, -1);
        BAD(pad_h, -1);
        BAD(pad_w, -1);
        BAD(r, 8); // r > h + 2 pad_h = 7
        BAD(s, 8);
#undef BAD
        s = good_shape();
        s.pad_h = s.pad_w = 0;
        s.r = 6; // larger than the unpadded input
        expect_bad_shape(&s, "kernel 6 > input 5, no padding");

        // NULL pointers with a valid shape.
        s = good_shape();
        EXPECT_INVALID(mimic_conv2d_out_hw(&s, NULL, NULL));
        EXPECT_INVALID(mimic_conv2d_fwd(&s, NULL, g_b, NULL, g_out));
        EXPECT_INVALID(mimic_conv2d_fwd(&s, g_a, NULL, g_b, g_out));
        EXPECT_INVALID(mimic_conv2d_fwd(&s, g_a, g_b, g_b, NULL));
        EXPECT_INVALID(mimic_conv2d_bwd_data(&s, NULL, g_b, g_out));
        EXPECT_INVALID(mimic_conv2d_bwd_data(&s, g_a, NULL, g_out));
        EXPECT_INVALID(mimic_conv2d_bwd_data(&s, g_a, g_b, NULL));
        EXPECT_INVALID(mimic_conv2d_bwd_weights(&s, NULL, g_b, g_out, g_out2));
        EXPECT_INVALID(mimic_conv2d_bwd_weights(&s, g_a, NULL, g_out, g_out2));
        EXPECT_INVALID(mimic_conv2d_bwd_weights(&s, g_a, g_b, NULL, g_out2));

        // Batch 0: forward and backward-data write nothing; backward-weights writes the
        // empty sum, zeros (it overwrites diff_wei and diff_bias).
        s = good_shape();
        s.n = 0;
        int64_t p = -1, q = -1;
        TC_STATUS(mimic_conv2d_out_hw(&s, &p, &q), MIMIC_OK);
        if (p != 5 || q != 5)
            TC_FAIL("out_hw with n = 0: %lldx%lld, want 5x5", (long long)p, (long long)q);
        EXPECT_NOOP(mimic_conv2d_fwd(&s, g_a, g_b, g_b, g_out));
        EXPECT_NOOP(mimic_conv2d_bwd_data(&s, g_a, g_b, g_out));
        reset_out();
        tc_ctx("bwd_weights with n = 0");
        TC_STATUS(mimic_conv2d_bwd_weights(&s, g_a, g_b, g_out, g_out2), MIMIC_OK);
        for (int i = 0; i < 3 * 2 * 3 * 3; i++)
            if (g_out[i] != 0.0f)
                TC_FAIL("diff_wei[%d] = %g, want 0 (empty batch)", i, (double)g_out[i]);
        for (int i = 0; i < 3; i++)
            if (g_out2[i] != 0.0f)
                TC_FAIL("diff_bias[%d] = %g, want 0 (empty batch)", i, (double)g_out2[i]);
        tc_check_sentinel("past diff_wei", g_out + 54, NBUF - 54);
        tc_check_sentinel("past diff_bias", g_out2 + 3, NBUF - 3);
    }
}

static void test_softmax_invalid(void **state) {
    (void)state;
    init_inputs();
    const float bad_t[] = {0.0f, -0.0f, -1.0f, NAN, -NAN, INFINITY, -INFINITY};
    int32_t lab[4] = {0, 1, 2, 3};
    float *y = g_out, *loss = g_out2;
    TC_FOR_EACH_ISA(isa) {
        for (int i = 0; i < 7; i++) {
            float T = bad_t[i];
            EXPECT_INVALID(mimic_softmax(g_a, y, 4, 4, T));
            EXPECT_INVALID(mimic_log_softmax(g_a, y, 4, 4, T));
            EXPECT_INVALID(mimic_kd_loss(g_a, g_b, 4, 4, T, loss, y));
            EXPECT_INVALID(mimic_kd_loss(g_a, g_b, 4, 4, T, loss, NULL));
        }
        EXPECT_INVALID(mimic_softmax(NULL, y, 4, 4, 1));
        EXPECT_INVALID(mimic_softmax(g_a, NULL, 4, 4, 1));
        EXPECT_INVALID(mimic_softmax(g_a, y, -1, 4, 1));
        EXPECT_INVALID(mimic_softmax(g_a, y, 4, -1, 1));
        EXPECT_INVALID(mimic_log_softmax(NULL, y, 4, 4, 1));
        EXPECT_INVALID(mimic_log_softmax(g_a, NULL, 4, 4, 1));
        EXPECT_INVALID(mimic_log_softmax(g_a, y, -3, 4, 1));
        EXPECT_INVALID(mimic_log_softmax(g_a, y, 4, -3, 1));

        EXPECT_INVALID(mimic_ce_loss(NULL, lab, 4, 4, loss, y));
        EXPECT_INVALID(mimic_ce_loss(g_a, NULL, 4, 4, loss, y));
        EXPECT_INVALID(mimic_ce_loss(g_a, lab, 4, 4, NULL, y));
        EXPECT_INVALID(mimic_ce_loss(g_a, lab, -1, 4, loss, y));
        EXPECT_INVALID(mimic_ce_loss(g_a, lab, 4, -1, loss, y));
        EXPECT_INVALID(mimic_ce_loss(g_a, lab, 4, 3, loss, y)); // label 3 >= cols
        EXPECT_INVALID(mimic_ce_loss(g_a, lab, 4, 0, loss, y)); // no column to label

        EXPECT_INVALID(mimic_logit_l2_loss(NULL, g_b, 4, 4, loss, y));
        EXPECT_INVALID(mimic_logit_l2_loss(g_a, NULL, 4, 4, loss, y));
        EXPECT_INVALID(mimic_logit_l2_loss(g_a, g_b, 4, 4, NULL, y));
        EXPECT_INVALID(mimic_logit_l2_loss(g_a, g_b, -1, 4, loss, y));
        EXPECT_INVALID(mimic_logit_l2_loss(g_a, g_b, 4, -1, loss, y));

        EXPECT_INVALID(mimic_kd_loss(NULL, g_b, 4, 4, 2, loss, y));
        EXPECT_INVALID(mimic_kd_loss(g_a, NULL, 4, 4, 2, loss, y));
        EXPECT_INVALID(mimic_kd_loss(g_a, g_b, 4, 4, 2, NULL, y));
        EXPECT_INVALID(mimic_kd_loss(g_a, g_b, -1, 4, 2, loss, y));
        EXPECT_INVALID(mimic_kd_loss(g_a, g_b, 4, -1, 2, loss, y));

        // Zero rows / columns: softmax writes nothing.
        EXPECT_NOOP(mimic_softmax(g_a, y, 0, 4, 1));
        EXPECT_NOOP(mimic_softmax(g_a, y, 4, 0, 1));
        EXPECT_NOOP(mimic_log_softmax(g_a, y, 0, 4, 1));
        EXPECT_NOOP(mimic_log_softmax(g_a, y, 4, 0, 1));
        // Zero rows for a loss: OK, grad untouched, and the mean of nothing is not NaN.
        reset_out();
        tc_ctx("losses with rows = 0");
        TC_STATUS(mimic_ce_loss(g_a, lab, 0, 4, loss, y), MIMIC_OK);
        TC_CHECK(!isnan(*loss) || memcmp(loss, g_out2 + 1, sizeof *loss) == 0);
        TC_STATUS(mimic_logit_l2_loss(g_a, g_b, 0, 4, loss, y), MIMIC_OK);
        TC_CHECK(!isnan(*loss) || memcmp(loss, g_out2 + 1, sizeof *loss) == 0);
        TC_STATUS(mimic_kd_loss(g_a, g_b, 0, 4, 2, loss, y), MIMIC_OK);
        TC_CHECK(!isnan(*loss) || memcmp(loss, g_out2 + 1, sizeof *loss) == 0);
        tc_check_sentinel("grad with rows = 0", y, NBUF);
    }
}

static void test_isa_control(void **state) {
    (void)state;
    mimic_isa before = mimic_isa_active();
    tc_ctx("mimic_isa_set");
#if defined(__x86_64__)
    TC_CHECK(!mimic_isa_supported(MIMIC_ISA_NEON));
    TC_STATUS(mimic_isa_set(MIMIC_ISA_NEON), MIMIC_EUNSUPPORTED);
#elif defined(__aarch64__)
    TC_CHECK(!mimic_isa_supported(MIMIC_ISA_AVX2));
    TC_CHECK(!mimic_isa_supported(MIMIC_ISA_AVX512));
    TC_STATUS(mimic_isa_set(MIMIC_ISA_AVX2), MIMIC_EUNSUPPORTED);
    TC_STATUS(mimic_isa_set(MIMIC_ISA_AVX512), MIMIC_EUNSUPPORTED);
#endif
    for (int i = 0; i < MIMIC_ISA_COUNT; i++)
        if (!mimic_isa_supported((mimic_isa)i))
            TC_STATUS(mimic_isa_set((mimic_isa)i), MIMIC_EUNSUPPORTED);
    TC_CHECK(mimic_isa_supported(MIMIC_ISA_SCALAR));
    TC_STATUS(mimic_isa_set((mimic_isa)MIMIC_ISA_COUNT), MIMIC_EINVAL);
    TC_STATUS(mimic_isa_set((mimic_isa)-1), MIMIC_EINVAL);
    TC_STATUS(mimic_isa_set((mimic_isa)1000), MIMIC_EINVAL);
    TC_CHECK(mimic_isa_active() == before); // failed calls change nothing
    TC_CHECK(!mimic_isa_supported((mimic_isa)MIMIC_ISA_COUNT));
    TC_CHECK(!mimic_isa_supported((mimic_isa)-1));

    tc_ctx("mimic_isa_name / mimic_isa_parse");
    static const char *names[MIMIC_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};
    for (int i = 0; i < MIMIC_ISA_COUNT; i++) {
        mimic_isa v = (mimic_isa)-1;
        TC_CHECK(strcmp(mimic_isa_name((mimic_isa)i), names[i]) == 0);
        TC_STATUS(mimic_isa_parse(names[i], &v), MIMIC_OK);
        TC_CHECK(v == (mimic_isa)i);
    }
    TC_CHECK(strcmp(mimic_isa_name((mimic_isa)MIMIC_ISA_COUNT), "unknown") == 0);
    TC_CHECK(strcmp(mimic_isa_name((mimic_isa)-1), "unknown") == 0);
    const char *bad[] = {"bogus", "", "avx", "avx5120", "scalar ", "neon2"};
    for (int i = 0; i < 6; i++) {
        mimic_isa v = MIMIC_ISA_AVX2;
        TC_STATUS(mimic_isa_parse(bad[i], &v), MIMIC_EINVAL);
        TC_CHECK(v == MIMIC_ISA_AVX2); // untouched
    }
    mimic_isa v = MIMIC_ISA_AVX2;
    TC_STATUS(mimic_isa_parse(NULL, &v), MIMIC_EINVAL);
    TC_CHECK(v == MIMIC_ISA_AVX2);
    TC_STATUS(mimic_isa_parse("scalar", NULL), MIMIC_EINVAL);

    tc_ctx("mimic_threads_set / get");
    TC_CHECK(mimic_threads_set(1) == 1);
    TC_CHECK(mimic_threads_get() == 1);
    TC_CHECK(mimic_threads_set(2) == 2);
    TC_CHECK(mimic_threads_get() == 2);
    TC_CHECK(mimic_threads_set(0) >= 1);
    TC_CHECK(mimic_threads_get() >= 1);
}

static void test_status_info_version(void **state) {
    (void)state;
    tc_ctx("mimic_status_str");
    const char *s[6];
    for (int i = 0; i < 6; i++) {
        s[i] = mimic_status_str((mimic_status)i);
        TC_CHECK(s[i] != NULL && s[i][0] != '\0');
        for (int j = 0; j < i; j++)
            if (strcmp(s[i], s[j]) == 0)
                TC_FAIL("status %d and %d share the name \"%s\"", i, j, s[i]);
    }
    TC_CHECK(strcmp(mimic_status_str(MIMIC_OK), "ok") == 0);
    TC_CHECK(strcmp(mimic_status_str(MIMIC_EINVAL), "invalid argument") == 0);
    const char *unk = mimic_status_str((mimic_status)99);
    TC_CHECK(unk != NULL && unk[0] != '\0');

    tc_ctx("mimic_info_get");
    TC_STATUS(mimic_info_get(NULL), MIMIC_EINVAL);
    mimic_info info;
    TC_STATUS(mimic_info_get(&info), MIMIC_OK);
    TC_CHECK(info.active == mimic_isa_active());
    TC_CHECK(info.best == mimic_isa_best());

    tc_ctx("mimic_version");
    int a, b, c;
    char tail;
    const char *ver = mimic_version();
    TC_CHECK(ver != NULL);
    TC_CHECK(sscanf(ver, "%d.%d.%d%c", &a, &b, &c, &tail) == 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgemm_invalid),   cmocka_unit_test(test_conv_invalid),
        cmocka_unit_test(test_softmax_invalid), cmocka_unit_test(test_isa_control),
        cmocka_unit_test(test_status_info_version),
    };
    return cmocka_run_group_tests_name("invalid", tests, tc_group_setup, tc_group_teardown);
}
