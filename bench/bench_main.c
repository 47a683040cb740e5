// mimic_bench: registers every benchmark once per run configuration (each ISA the host runs x
// 1 thread and all cores, or the lists given) and runs Google Benchmark's command line.
// Options of its own: --threads=LIST --isa=LIST --profile=quick|full --results=DIR.
// sched_setaffinity, setenv, execv, popen and mkdir are GNU/POSIX, not C11.
#define _GNU_SOURCE

#include "bench.h"
#include "roof.h"
#include "tools/reexec.h"
#include "shim.h"

#include <cblas.h>
#include <dnnl.h>
#include <errno.h>
#include <hwloc.h>
#include <mimic/mimic.h>
#include <omp.h>
#include <regex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// ------------------------------------------------------------ run configurations

#define MAX_THREAD_COUNTS 8
static mimic_isa run_isas[MIMIC_ISA_COUNT];
static int n_isas;
static int run_threads[MAX_THREAD_COUNTS];
static int n_threads;
static int reg_threads; // the thread count being registered
static int quick;
static cpu_set_t all_cpus, first_cpu;

// The rows of the quick profile (CI): enough runtime per row for a stable same-run ratio,
// one or two of each kernel family, a few minutes on two cores for every ISA x thread count.
static const char quick_rows[] =
    "^(roof/|sgemm/mimic/NN/(512x512x512|1024x1024x1024|128x1024x784|32x100352x288)$|"
    "(softmax|log_softmax|ce_loss|kd_loss)/mimic/4096x1000$|"
    "conv/mimic/teacher2_b128_c32_28x28_k32_3x3/(fwd|bwd_data|bwd_weights)$)";
static regex_t quick_re;

// A registered row: the benchmark function and its context, run under one configuration.
typedef struct {
    mb_fn fn;
    const void *ctx;
    int isa; // -1: the row does not depend on mimic's ISA
    int threads;
} bench_row;

// Applies the row's configuration (ISA, threads of all three libraries, CPU pinning: one
// thread runs on the first allowed CPU, more on all of them), then runs the row.
static void run_row(mb_state *st) {
    const bench_row *r = mb_context(st);
    if (mimic_isa_set(r->isa >= 0 ? (mimic_isa)r->isa : mimic_isa_best()) != MIMIC_OK) {
        mb_skip_with_error(st, "ISA not supported");
        return;
    }
    const int n = mimic_threads_set(r->threads);
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    (void)sched_setaffinity(0, sizeof(cpu_set_t), n == 1 ? &first_cpu : &all_cpus);
    mb_set_context(st, r->ctx);
    r->fn(st);
}

static void register_one(const char *name, mb_fn fn, const void *ctx, int isa,
                         mb_time_unit unit) {
    bench_row *r = malloc(sizeof *r); // lives as long as the registration: the whole run
    if (!r) {
        fprintf(stderr, "mimic_bench: out of memory\n");
        exit(1);
    }
    *r = (bench_row){fn, ctx, isa, reg_threads};
    char full[192];
    if (isa >= 0)
        snprintf(full, sizeof full, "%s/isa:%s/threads:%d", name, mimic_isa_name((mimic_isa)isa),
                 reg_threads);
    else
        snprintf(full, sizeof full, "%s/threads:%d", name, reg_threads);
    mb_unit(mb_use_real_time(mb_register(full, run_row, r)), unit);
}

void bench_add(const char *name, mb_fn fn, const void *ctx, bench_kind kind, double gflop,
               mb_time_unit unit) {
    if (quick && regexec(&quick_re, name, 0, NULL, 0) != 0)
        return;
    if (kind == BENCH_ANY_ISA) {
        register_one(name, fn, ctx, -1, unit);
        return;
    }
    for (int i = 0; i < n_isas; i++)
        if (run_isas[i] != MIMIC_ISA_SCALAR || gflop <= BENCH_SCALAR_MAX_GFLOP)
            register_one(name, fn, ctx, (int)run_isas[i], unit);
}

// ------------------------------------------------------------ context

static void add_context_int(const char *key, long long v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    mb_add_context(key, buf);
}

// "package 1, numanode 1, L3 1x32768KiB, ..., core 2, pu 2" from hwloc.
static void topology_string(char *buf, size_t len) {
    static const struct {
        hwloc_obj_type_t type;
        const char *name;
    } kinds[] = {{HWLOC_OBJ_PACKAGE, "package"}, {HWLOC_OBJ_NUMANODE, "numanode"},
                 {HWLOC_OBJ_L3CACHE, "L3"},      {HWLOC_OBJ_L2CACHE, "L2"},
                 {HWLOC_OBJ_L1CACHE, "L1d"},     {HWLOC_OBJ_CORE, "core"},
                 {HWLOC_OBJ_PU, "pu"}};
    hwloc_topology_t t;
    size_t used = 0;
    buf[0] = '\0';
    if (hwloc_topology_init(&t) != 0)
        return;
    if (hwloc_topology_load(t) == 0) {
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && used < len; i++) {
            const int count = hwloc_get_nbobjs_by_type(t, kinds[i].type);
            if (count <= 0)
                continue;
            hwloc_obj_t o = hwloc_get_obj_by_type(t, kinds[i].type, 0);
            if (hwloc_obj_type_is_cache(kinds[i].type))
                used += (size_t)snprintf(buf + used, len - used, "%s%s %dx%lluKiB",
                                         used ? ", " : "", kinds[i].name, count,
                                         (unsigned long long)(o->attr->cache.size / 1024));
            else
                used += (size_t)snprintf(buf + used, len - used, "%s%s %d", used ? ", " : "",
                                         kinds[i].name, count);
        }
    }
    hwloc_topology_destroy(t);
}

// The commit the binary was built from: $MIMIC_COMMIT, else git in the source tree
// ("-dirty" when tracked files differ from it), else "nogit".
static void commit_string(char *buf, size_t len) {
    const char *env = getenv("MIMIC_COMMIT");
    snprintf(buf, len, "%s", env && *env ? env : "nogit");
    if (env && *env)
        return;
    FILE *p = popen("git -C '" MIMIC_SOURCE_DIR "' rev-parse --short=10 HEAD 2>/dev/null", "r");
    char line[64] = "";
    if (p && fgets(line, sizeof line, p))
        line[strcspn(line, "\n")] = '\0';
    if (p)
        pclose(p);
    if (!line[0])
        return;
    p = popen("git -C '" MIMIC_SOURCE_DIR "' status --porcelain --untracked-files=no "
              "2>/dev/null", "r");
    char any[8] = "";
    const int dirty = p && fgets(any, sizeof any, p) != NULL;
    if (p)
        pclose(p);
    snprintf(buf, len, "%s%s", line, dirty ? "-dirty" : "");
}

static void list_string(char *buf, size_t len, int isas) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < (isas ? n_isas : n_threads) && used < len; i++) {
        if (isas)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                                     mimic_isa_name(run_isas[i]));
        else
            used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "," : "", run_threads[i]);
    }
}

// What ran and on what: read by tools/compare.py and tools/dashboard.py from "context".
static void add_context(const char *commit) {
    mimic_info info;
    char buf[512];
    if (mimic_info_get(&info) != MIMIC_OK) {
        fprintf(stderr, "mimic_bench: mimic_info_get failed\n");
        return;
    }
    mb_add_context("mimic_version", mimic_version());
    mb_add_context("git_commit", commit);
    mb_add_context("profile", quick ? "quick" : "full");
    list_string(buf, sizeof buf, 1);
    mb_add_context("mimic_isas", buf);
    list_string(buf, sizeof buf, 0);
    mb_add_context("threads", buf);
    mb_add_context("mimic_gemm_ukernel", info.gemm_ukernel ? info.gemm_ukernel : "unknown");
    snprintf(buf, sizeof buf, "MR=%d NR=%d MC=%lld KC=%lld NC=%lld", info.gemm_mr, info.gemm_nr,
             (long long)info.gemm_mc, (long long)info.gemm_kc, (long long)info.gemm_nc);
    mb_add_context("mimic_gemm_blocking", buf);
    mb_add_context("cpu_model", info.cpu_model);
    mb_add_context("arch", info.arch ? info.arch : "unknown");
    add_context_int("physical_cores", info.physical_cores);
    topology_string(buf, sizeof buf);
    mb_add_context("hwloc_topology", buf[0] ? buf : "unknown");
#if defined(__clang__)
    mb_add_context("compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
    mb_add_context("compiler", "gcc " __VERSION__);
#else
    mb_add_context("compiler", "unknown");
#endif
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
    mb_add_context("onednn_version", buf);
    snprintf(buf, sizeof buf, "%s", openblas_get_config());
    mb_add_context("openblas_version", buf);
}

// ------------------------------------------------------------ options

// "1,0": thread counts, 0 = one per physical core; duplicates (after resolving) dropped.
static int parse_threads(const char *s) {
    n_threads = 0;
    while (*s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || (*end && *end != ',') || v < 0 || v > 4096)
            return -1;
        const int n = mimic_threads_set((int)v);
        int seen = 0;
        for (int i = 0; i < n_threads; i++)
            seen |= run_threads[i] == n;
        if (!seen) {
            if (n_threads == MAX_THREAD_COUNTS)
                return -1;
            run_threads[n_threads++] = n;
        }
        s = *end ? end + 1 : end;
    }
    return n_threads > 0 ? 0 : -1;
}

// "avx2,avx512": each must be an ISA this CPU runs.
static int parse_isas(const char *s) {
    char copy[128];
    snprintf(copy, sizeof copy, "%s", s);
    n_isas = 0;
    for (char *save, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = -1;
        for (int i = 0; i < MIMIC_ISA_COUNT; i++)
            if (strcmp(tok, mimic_isa_name((mimic_isa)i)) == 0)
                found = i;
        if (found < 0 || !mimic_isa_supported((mimic_isa)found)) {
            fprintf(stderr, "mimic_bench: ISA '%s' is unknown or not supported here\n", tok);
            return -1;
        }
        if (n_isas < MIMIC_ISA_COUNT)
            run_isas[n_isas++] = (mimic_isa)found;
    }
    return n_isas > 0 ? 0 : -1;
}

// Default ISAs: only MIMIC_ISA's when it is set, else every ISA the host runs.
static void default_isas(void) {
    n_isas = 0;
    if (getenv("MIMIC_ISA")) {
        run_isas[n_isas++] = mimic_isa_best();
        return;
    }
    for (int i = 0; i < MIMIC_ISA_COUNT; i++)
        if (mimic_isa_supported((mimic_isa)i) && i <= (int)mimic_isa_best())
            run_isas[n_isas++] = (mimic_isa)i;
}

static int mkdir_p(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        const int rc = mkdir(path, 0777);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

// DIR/<arch>/<cpu-model-slug>/<yyyymmdd>-<commit>[-quick].json
static int results_path(const char *dir, const char *commit, char *out, size_t len) {
    mimic_info info;
    if (mimic_info_get(&info) != MIMIC_OK)
        return -1;
    char slug[64];
    size_t n = 0;
    for (const char *c = info.cpu_model; *c && n + 1 < sizeof slug; c++) {
        const char ch = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
        const int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (alnum)
            slug[n++] = ch;
        else if (n > 0 && slug[n - 1] != '-')
            slug[n++] = '-';
    }
    while (n > 0 && slug[n - 1] == '-')
        n--;
    slug[n] = '\0';
    char date[16];
    const time_t now = time(NULL);
    strftime(date, sizeof date, "%Y%m%d", gmtime(&now));
    snprintf(out, len, "%s/%s/%s", dir, info.arch ? info.arch : "unknown", n ? slug : "unknown");
    if (mkdir_p(out) != 0) {
        fprintf(stderr, "mimic_bench: cannot create %s: %s\n", out, strerror(errno));
        return -1;
    }
    const size_t used = strlen(out);
    snprintf(out + used, len - used, "/%s-%s%s.json", date, commit, quick ? "-quick" : "");
    return 0;
}

// OpenBLAS's idle threads busy-wait for 2^28 cycles (~0.1 s) after every call, and on a
// 2-core machine that steals a core from whatever runs next in this process: mimic's 2-thread
// rows ran up to 20x slower right after an OpenBLAS call. OpenBLAS reads the timeout when it
// is loaded, before main, so the process re-executes itself once with a short one (in main).

static int usage_error(const char *arg, char **args) {
    fprintf(stderr, "mimic_bench: bad option %s\n"
                    "  --threads=N[,N...]  thread counts, 0 = one per core (default 1,0)\n"
                    "  --isa=ISA[,ISA...]  scalar, avx2, avx512, neon (default: all the host runs)\n"
                    "  --profile=quick|full  quick: the CI subset, shorter timing (default full)\n"
                    "  --results=DIR       write DIR/<arch>/<cpu>/<date>-<commit>.json\n"
                    "  and any Google Benchmark flag (--benchmark_filter=REGEX, ...)\n",
            arg);
    free(args);
    return 2;
}

int main(int argc, char **argv) {
    mimic_reexec_with_env("OPENBLAS_THREAD_TIMEOUT", "4", NULL, argv, "mimic_bench");
    if (mimic_isa_env_status() != MIMIC_OK) {
        fprintf(stderr, "mimic_bench: MIMIC_ISA=%s names no ISA (use scalar, avx2, avx512 or "
                        "neon)\n", getenv("MIMIC_ISA") ? getenv("MIMIC_ISA") : "");
        return 2;
    }
    // Our options out of argv; everything else is Google Benchmark's. Room for 3 more.
    char **args = calloc((size_t)argc + 4, sizeof *args);
    if (!args)
        return 1;
    int nargs = 0;
    const char *results = NULL;
    default_isas();
    parse_threads("1,0");
    args[nargs++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--threads=", 10) == 0) {
            if (parse_threads(a + 10) != 0)
                return usage_error(a, args);
        } else if (strncmp(a, "--isa=", 6) == 0) {
            if (parse_isas(a + 6) != 0)
                return usage_error(a, args);
        } else if (strncmp(a, "--profile=", 10) == 0) {
            if (strcmp(a + 10, "quick") != 0 && strcmp(a + 10, "full") != 0)
                return usage_error(a, args);
            quick = strcmp(a + 10, "quick") == 0;
        } else if (strncmp(a, "--results=", 10) == 0 && a[10]) {
            results = a + 10;
        } else {
            args[nargs++] = argv[i];
        }
    }
    char commit[96], path[1024], tmp[1100], out_flag[1120];
    commit_string(commit, sizeof commit);
    if (results) {
        if (results_path(results, commit, path, sizeof path) != 0) {
            free(args);
            return 1;
        }
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        snprintf(out_flag, sizeof out_flag, "--benchmark_out=%s", tmp);
        args[nargs++] = out_flag;
        args[nargs++] = "--benchmark_out_format=json";
    }
    if (quick) {
        // Before the user's flags: a later --benchmark_min_time on the command line wins.
        memmove(args + 2, args + 1, (size_t)(nargs - 1) * sizeof *args);
        args[1] = "--benchmark_min_time=0.1";
        nargs++;
        if (regcomp(&quick_re, quick_rows, REG_EXTENDED | REG_NOSUB) != 0) {
            free(args);
            return 1;
        }
    }
    CPU_ZERO(&first_cpu);
    if (sched_getaffinity(0, sizeof all_cpus, &all_cpus) != 0)
        CPU_SET(0, &all_cpus);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all_cpus)) {
            CPU_SET(c, &first_cpu);
            break;
        }

    add_context(commit);
    // Rows run in registration order: every row of the first thread count, then the next.
    // run_row restores the full CPU mask before a many-thread row, so OpenMP's workers, created
    // by the first team of more than one thread, are never confined to the pinned CPU.
    for (int t = 0; t < n_threads; t++) {
        reg_threads = run_threads[t];
        bench_register_roof();
        bench_register_gemm();
        bench_register_softmax();
        bench_register_conv();
    }
    int rc = mb_main(nargs, args);
    if (rc == 0 && results) {
        if (rename(tmp, path) != 0) {
            fprintf(stderr, "mimic_bench: cannot rename %s to %s: %s\n", tmp, path,
                    strerror(errno));
            rc = 1;
        } else {
            printf("results: %s\n", path);
        }
    }
    free(args);
    return rc;
}
