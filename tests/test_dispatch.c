// Dispatch under a MIMIC_ISA cap (BLIS's "the CPU picked the expected kernel" check). ctest
// runs this executable once per cap with MIMIC_ISA set and MIMIC_TEST_EXPECT_CAP naming the
// cap the test should assume ("none": MIMIC_ISA unset, "invalid": MIMIC_ISA names no ISA).
// The expected ISA is the best one the CPU supports at or below the cap on that ISA's chain
// (x86: scalar < avx2 < avx512; AArch64: scalar < neon).
#include "common.h"

static int chain_rank(mimic_isa isa) {
    switch (isa) {
    case MIMIC_ISA_SCALAR:
        return 0;
    case MIMIC_ISA_AVX2:
        return 1;
    case MIMIC_ISA_AVX512:
        return 2;
    case MIMIC_ISA_NEON:
        return 1;
    default:
        return -1;
    }
}

// The best supported ISA whose rank is <= cap_rank (scalar is always supported).
static mimic_isa best_at_or_below(int cap_rank) {
    mimic_isa best = MIMIC_ISA_SCALAR;
    for (int i = 0; i < MIMIC_ISA_COUNT; i++) {
        mimic_isa isa = (mimic_isa)i;
        if (mimic_isa_supported(isa) && chain_rank(isa) <= cap_rank &&
            chain_rank(isa) > chain_rank(best))
            best = isa;
    }
    return best;
}

static const char *expect_cap(void) {
    const char *e = getenv("MIMIC_TEST_EXPECT_CAP");
    return e ? e : "none";
}

static void check_info_names(mimic_isa isa) {
    mimic_info info;
    TC_STATUS(mimic_info_get(&info), MIMIC_OK);
    if (info.active != isa || info.best != mimic_isa_best())
        TC_FAIL("mimic_info: active %s best %s, want active %s best %s",
                mimic_isa_name(info.active), mimic_isa_name(info.best), mimic_isa_name(isa),
                mimic_isa_name(mimic_isa_best()));
    const char *names[3] = {info.gemm_ukernel, info.im2col_kernel, info.softmax_kernel};
    const char *what[3] = {"gemm_ukernel", "im2col_kernel", "softmax_kernel"};
    for (int i = 0; i < 3; i++) {
        if (!names[i] || !names[i][0])
            TC_FAIL("mimic_info.%s is empty", what[i]);
        // The name states the contract, ISA included (STYLE.md: ..._<MR>x<NR>__<isa>).
        // Every ISA has its own GEMM microkernel, im2col kernels and softmax passes.
        const char *suffix = strrchr(names[i], '_');
        const int names_isa = suffix && strcmp(suffix + 1, mimic_isa_name(isa)) == 0;
        if (!names_isa)
            TC_FAIL("mimic_info.%s = \"%s\" does not name the active ISA %s", what[i],
                    names[i], mimic_isa_name(isa));
    }
    for (int i = 0; i < MIMIC_ISA_COUNT; i++)
        if ((info.supported[i] != 0) != (mimic_isa_supported((mimic_isa)i) != 0))
            TC_FAIL("mimic_info.supported[%s] = %d disagrees with mimic_isa_supported",
                    mimic_isa_name((mimic_isa)i), info.supported[i]);
    TC_CHECK(info.gemm_mr >= 1 && info.gemm_nr >= 1);
    TC_CHECK(info.gemm_mc >= info.gemm_mr && info.gemm_kc >= 1 && info.gemm_nc >= info.gemm_nr);
    TC_CHECK(info.threads >= 1 && info.physical_cores >= 1 && info.logical_cpus >= 1);
    TC_CHECK(info.arch != NULL && info.cpu_model[0] != '\0');
#if defined(__x86_64__)
    TC_CHECK(strcmp(info.arch, "x86_64") == 0);
#elif defined(__aarch64__)
    TC_CHECK(strcmp(info.arch, "aarch64") == 0);
#endif
}

// Must run first: before any mimic_isa_set, the active ISA is mimic_isa_best().
static void test_dispatch_cap(void **state) {
    (void)state;
    const char *cap = expect_cap(), *env = getenv("MIMIC_ISA");
    tc_ctx("MIMIC_ISA=%s, expected cap %s", env ? env : "(unset)", cap);
    mimic_isa want;
    if (strcmp(cap, "invalid") == 0) {
        // An unknown value is reported and treated as "scalar".
        TC_STATUS(mimic_isa_env_status(), MIMIC_EINVAL);
        want = MIMIC_ISA_SCALAR;
    } else {
        TC_STATUS(mimic_isa_env_status(), MIMIC_OK);
        int rank = 1000;
        if (strcmp(cap, "none") != 0) {
            mimic_isa c;
            TC_STATUS(mimic_isa_parse(cap, &c), MIMIC_OK);
            rank = chain_rank(c);
        }
        want = best_at_or_below(rank);
    }
    if (mimic_isa_best() != want)
        TC_FAIL("mimic_isa_best() = %s, want %s", mimic_isa_name(mimic_isa_best()),
                mimic_isa_name(want));
    if (mimic_isa_active() != want)
        TC_FAIL("mimic_isa_active() = %s, want %s", mimic_isa_name(mimic_isa_active()),
                mimic_isa_name(want));
    check_info_names(want);
    print_message("[ info ] MIMIC_ISA=%s -> active %s\n", env ? env : "(unset)",
                  mimic_isa_name(want));
}

// Every supported ISA can be forced (the cap does not limit mimic_isa_set), its kernels are
// the ones reported, and a GEMM runs through them.
static void test_dispatch_set(void **state) {
    (void)state;
    mimic_isa best = mimic_isa_best();
    TC_FOR_EACH_ISA(isa) {
        tc_ctx("mimic_isa_set(%s) under MIMIC_ISA cap %s", mimic_isa_name(isa), expect_cap());
        check_info_names(isa);
        TC_CHECK(mimic_isa_best() == best); // the set changes the active ISA, not the best
        float A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8}, C[4];
        const float want[4] = {19, 22, 43, 50};
        TC_STATUS(mimic_sgemm('N', 'N', 2, 2, 2, 1, A, 2, B, 2, 0, C, 2), MIMIC_OK);
        tc_check_bitwise("2x2 product", C, want, 4);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch_cap),
        cmocka_unit_test(test_dispatch_set),
    };
    return cmocka_run_group_tests_name("dispatch", tests, NULL, tc_group_teardown);
}
