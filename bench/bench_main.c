// mimic_bench: registers every benchmark and runs Google Benchmark's command line, plus
// --threads=N for mimic, oneDNN and OpenBLAS alike.
// setenv and execv are POSIX, not C11.
#define _POSIX_C_SOURCE 200809L

#include "bench.h"
#include "roof.h"
#include "shim.h"

#include <cblas.h>
#include <dnnl.h>
#include <errno.h>
#include <mimic/mimic.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void add_context_int(const char *key, long long v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    mb_add_context(key, buf);
}

// What ran and on what: read by compare and dashboard tools from the JSON "context".
static void add_context(void) {
    mimic_info info;
    char buf[256];
    if (mimic_info_get(&info) != MIMIC_OK) {
        fprintf(stderr, "mimic_bench: mimic_info_get failed\n");
        return;
    }
    mb_add_context("mimic_version", mimic_version());
    mb_add_context("mimic_isa", mimic_isa_name(mimic_isa_active()));
    mb_add_context("mimic_gemm_ukernel", info.gemm_ukernel ? info.gemm_ukernel : "unknown");
    snprintf(buf, sizeof buf, "MR=%d NR=%d MC=%lld KC=%lld NC=%lld", info.gemm_mr, info.gemm_nr,
             (long long)info.gemm_mc, (long long)info.gemm_kc, (long long)info.gemm_nc);
    mb_add_context("mimic_gemm_blocking", buf);
    add_context_int("mimic_threads", mimic_threads_get());
    add_context_int("onednn_threads", omp_get_max_threads());
    add_context_int("openblas_threads", openblas_get_num_threads());
    mb_add_context("cpu_model", info.cpu_model);
    mb_add_context("arch", info.arch ? info.arch : "unknown");
    add_context_int("physical_cores", info.physical_cores);
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
    mb_add_context("onednn_version", buf);
    snprintf(buf, sizeof buf, "%s", openblas_get_config());
    mb_add_context("openblas_version", buf);
}

// --threads=N: N >= 0 (0 = one per physical core). Returns -1 when invalid.
static int parse_threads(const char *s) {
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || end == s || *end || n < 0 || n > 4096) return -1;
    return (int)n;
}

// OpenBLAS's idle threads busy-wait for 2^28 cycles (~0.1 s) after every call, and on a
// 2-core machine that steals a core from whatever runs next in this process: mimic's 2-thread
// rows ran up to 20x slower right after an OpenBLAS call. OpenBLAS reads the timeout when it
// is loaded, before main, so the process re-executes itself once with a short one.
static void shorten_openblas_spin(char **argv) {
    if (getenv("OPENBLAS_THREAD_TIMEOUT"))
        return;
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
    execv("/proc/self/exe", argv);
    perror("mimic_bench: re-exec with OPENBLAS_THREAD_TIMEOUT=4"); // run on regardless
}

int main(int argc, char **argv) {
    shorten_openblas_spin(argv);
    if (mimic_isa_env_status() != MIMIC_OK) {
        fprintf(stderr, "mimic_bench: MIMIC_ISA=%s names no ISA (use scalar, avx2, avx512 or "
                        "neon)\n", getenv("MIMIC_ISA") ? getenv("MIMIC_ISA") : "");
        return 2;
    }
    // Drop --threads=N from argv; everything else is Google Benchmark's.
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args) return 1;
    int nargs = 0, threads = -1;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strncmp(argv[i], "--threads=", 10) == 0) {
            threads = parse_threads(argv[i] + 10);
            if (threads < 0) {
                fprintf(stderr, "mimic_bench: bad %s (want --threads=N, N >= 0)\n", argv[i]);
                free(args);
                return 2;
            }
        } else {
            args[nargs++] = argv[i];
        }
    }
    // Same thread count for all three libraries, so that same-run ratios are fair.
    int n = threads >= 0 ? mimic_threads_set(threads) : mimic_threads_get();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);

    add_context();
    bench_register_roof();
    bench_register_gemm();
    bench_register_softmax();
    bench_register_conv();
    int rc = mb_main(nargs, args);
    free(args);
    return rc;
}
