// The `mimic` command-line tool: machine and dispatch information (more commands to come).
#define _POSIX_C_SOURCE 200809L // readlink, setenv and execv

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mimic/mimic.h>

#include "train/data.h"
#include "train/distill.h"
#include "tools/reexec.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fprintf(out, "usage: mimic <command> [options]\n"
                 "\n"
                 "commands:\n"
                 "  info [--json]   CPU, supported and active ISA, cores, caches, GEMM blocking\n"
                 "  distill [opts]  train the teacher and the shallow students (the main job)\n"
                 "  bench [opts]    run the benchmark suite into results/ (mimic bench --help)\n"
                 "  version         print the library version\n"
                 "\n"
                 "environment:\n"
                 "  MIMIC_ISA=scalar|avx2|avx512|neon   cap the ISA the kernels use\n"
                 "\n"
                 "exit status: 0 ok, 1 failure, 2 usage error\n"
                 "Run 'mimic <command> --help' for a command's options.\n");
}

static void info_usage(FILE *out)
{
    fprintf(out, "usage: mimic info [--json]\n"
                 "Print the CPU model, the ISAs this CPU and build support, the active one\n"
                 "(after MIMIC_ISA), cores and cache sizes from hwloc, and the GEMM blocking\n"
                 "(MC, KC, NC) derived from them. --json prints the same as one JSON object.\n");
}

static const char *yes_no(int b)
{
    return b ? "yes" : "no";
}

static void print_info_text(const mimic_info *in)
{
    printf("mimic %s\n", mimic_version());
    printf("cpu:            %s (%s)\n", in->cpu_model, in->arch);
    printf("isa supported: ");
    for (int i = 0; i < MIMIC_ISA_COUNT; i++)
        printf(" %s=%s", mimic_isa_name((mimic_isa)i), yes_no(in->supported[i]));
    printf("\n");
    printf("isa best:       %s\n", mimic_isa_name(in->best));
    printf("isa active:     %s\n", mimic_isa_name(in->active));
    printf("cores:          %d physical, %d logical; threads %d\n", in->physical_cores,
           in->logical_cpus, in->threads);
    printf("caches:         L1d %lld KiB, L2 %lld KiB (per core), L3 %lld KiB (total)\n",
           (long long)(in->l1d_bytes / 1024), (long long)(in->l2_bytes / 1024),
           (long long)(in->l3_bytes / 1024));
    printf("gemm ukernel:   %s (MR=%d NR=%d)\n", in->gemm_ukernel, in->gemm_mr, in->gemm_nr);
    printf("gemm blocking:  MC=%lld KC=%lld NC=%lld\n", (long long)in->gemm_mc,
           (long long)in->gemm_kc, (long long)in->gemm_nc);
    printf("im2col kernel:  %s\n", in->im2col_kernel);
    printf("softmax kernel: %s\n", in->softmax_kernel);
}

// CPU brand strings are plain ASCII; escape the two characters JSON requires anyway.
static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        if ((unsigned char)*s >= 0x20)
            putchar(*s);
    }
    putchar('"');
}

static void print_info_json(const mimic_info *in)
{
    printf("{\"version\": ");
    print_json_string(mimic_version());
    printf(", \"cpu_model\": ");
    print_json_string(in->cpu_model);
    printf(", \"arch\": \"%s\", \"isa_supported\": [", in->arch);
    const char *sep = "";
    for (int i = 0; i < MIMIC_ISA_COUNT; i++)
        if (in->supported[i]) {
            printf("%s\"%s\"", sep, mimic_isa_name((mimic_isa)i));
            sep = ", ";
        }
    printf("], \"isa_best\": \"%s\", \"isa_active\": \"%s\"", mimic_isa_name(in->best),
           mimic_isa_name(in->active));
    printf(", \"physical_cores\": %d, \"logical_cpus\": %d, \"threads\": %d",
           in->physical_cores, in->logical_cpus, in->threads);
    printf(", \"l1d_bytes\": %lld, \"l2_bytes\": %lld, \"l3_bytes\": %lld",
           (long long)in->l1d_bytes, (long long)in->l2_bytes, (long long)in->l3_bytes);
    printf(", \"gemm\": {\"ukernel\": \"%s\", \"mr\": %d, \"nr\": %d, \"mc\": %lld, "
           "\"kc\": %lld, \"nc\": %lld}",
           in->gemm_ukernel, in->gemm_mr, in->gemm_nr, (long long)in->gemm_mc,
           (long long)in->gemm_kc, (long long)in->gemm_nc);
    printf(", \"im2col_kernel\": \"%s\", \"softmax_kernel\": \"%s\"}\n", in->im2col_kernel,
           in->softmax_kernel);
}

static int cmd_info(int argc, char **argv)
{
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            info_usage(stdout);
            return EXIT_OK;
        } else {
            fprintf(stderr, "mimic info: unknown option '%s'\n", argv[i]);
            info_usage(stderr);
            return EXIT_USAGE;
        }
    }
    mimic_info in;
    if (mimic_info_get(&in) != MIMIC_OK) {
        fprintf(stderr, "mimic info: could not read the machine information\n");
        return EXIT_FAIL;
    }
    if (json)
        print_info_json(&in);
    else
        print_info_text(&in);
    return EXIT_OK;
}

static void distill_usage(FILE *out)
{
    fprintf(out,
            "usage: mimic distill [options]\n"
            "Train a 4-conv CNN teacher on Fashion-MNIST, then shallow students (784-k-H-10 and\n"
            "conv5x5+pool4-k-H-10) on labels, on the teacher's logits (L2) and with KD; print the\n"
            "table and write <out>/distill-seed<seed>.json.\n"
            "  --quick               4096 training images, 2000 test images, 2 epochs each\n"
            "  --data DIR            IDX files (default %s)\n"
            "  --out DIR             results directory (default results)\n"
            "  --epochs N            epochs of the teacher and of every student\n"
            "  --teacher-epochs N    epochs of the teacher (default 15)\n"
            "  --student-epochs N    epochs of the L2 and KD students (default 30)\n"
            "  --label-epochs N      epochs of the label-trained students of both forms; the\n"
            "                        784 form's by default 20 (their best), 0: student's\n"
            "  --conv-label-epochs N the conv form's alone (default 0: student's)\n"
            "  --resume              continue from <out>/checkpoints (written every epoch)\n"
            "  --stop-after N        stop after N epochs (teacher and students together), as a\n"
            "                        kill would; --resume continues to the same final bits\n"
            "  --batch N             mini-batch size (default 128)\n"
            "  --lr X                the teacher's learning rate\n"
            "  --label-lr X, --l2-lr X, --kd-lr X\n"
            "                        the students' learning rates: on labels, logit\n"
            "                        regression (L2), KD\n"
            "  --student-lr-ref R    students' dense layers with more than R inputs step at\n"
            "                        R/inputs of the rate (0: off)\n"
            "  --temperature T       KD temperature (default 4)\n"
            "  --hidden H            student ReLU width (0: match the teacher's parameters)\n"
            "  --bottleneck K        linear units of the 784-input student (default 128; 0: none)\n"
            "  --conv-bottleneck K   linear units of the conv-form student (default 128)\n"
            "  --conv-pool P         the conv-form student's max-pool window, 2 or 4 (default 4)\n"
            "  --no-augment          no shifts and flips\n"
            "  --label-augment       the label-trained students see the students' view too\n"
            "  --label-no-augment    they see the images unaugmented (the default)\n"
            "  --student-shift N     largest shift (0..2) of the students' images (default 0)\n"
            "  --student-no-flip     the students' images are not mirrored\n"
            "  --kd-label-weight X   weight (0..100) of the labels' cross-entropy in the KD\n"
            "                        student's loss (default 2)\n"
            "  --l2-label-weight X   the same for the L2 students (default 0: logits only)\n"
            "  --mixup X             share (0..1) of each transfer batch replaced by blends of\n"
            "                        two images, labelled by the teacher (mimic students)\n"
            "  --dropout P           dropout rate (0..0.95) after every student's hidden ReLU\n"
            "                        (default 0); --label-dropout P, --mimic-dropout P set it\n"
            "                        for the label students or the L2 and KD students alone\n"
            "  --teacher-dropout P   dropout after the teacher's 256-unit ReLU (default 0)\n"
            "  --weight-decay X      weight decay (0..0.1) of every model (the teacher's:\n"
            "                        5e-4); --label-weight-decay X (784 form, default 0),\n"
            "                        --conv-label-weight-decay X (default 5e-4) and\n"
            "                        --mimic-weight-decay X (L2 and KD, default 1e-4) set it\n"
            "                        for the label students of a form or the mimic students\n"
            "  --forms F             student forms: 784, conv or all (default all)\n"
            "  --no-cache-logits     run the teacher on every transfer batch (by default its\n"
            "                        logits for unshifted, unblended images are computed once)\n"
            "  --train-limit N, --test-limit N\n"
            "  --seed N, --threads N (0: one per physical core)\n",
            MIMIC_FMNIST_DIR);
}

// Parses a non-negative integer option value; -1 if it is not one.
static long long parse_count(const char *s)
{
    char *end;
    const long long v = strtoll(s, &end, 10);
    return *s && !*end && v >= 0 ? v : -1;
}

// Parses option a's value v as a number in [0, hi] into *x; says why on stderr and returns 0
// if it is not one.
static int parse_in_range(const char *a, const char *v, float hi, float *x)
{
    char *end;
    *x = strtof(v, &end);
    if (*end || !(*x >= 0.0f && *x <= hi)) {
        fprintf(stderr, "mimic distill: %s wants a number in 0..%g, got '%s'\n", a, (double)hi,
                v);
        return 0;
    }
    return 1;
}

static int cmd_distill(int argc, char **argv)
{
    mimic_distill_options o;
    int quick = 0;
    for (int i = 0; i < argc; i++)
        quick |= strcmp(argv[i], "--quick") == 0;
    mimic_distill_defaults(&o, quick);
    o.progress = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n = v ? parse_count(v) : -1;
        int used = 1; // consumed the value
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            distill_usage(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--quick") == 0 || strcmp(a, "--no-augment") == 0 ||
                   strcmp(a, "--label-no-augment") == 0 || strcmp(a, "--resume") == 0 ||
                   strcmp(a, "--student-no-flip") == 0 || strcmp(a, "--label-augment") == 0 ||
                   strcmp(a, "--no-cache-logits") == 0) {
            o.cache_logits = strcmp(a, "--no-cache-logits") == 0 ? 0 : o.cache_logits;
            o.label_augment = strcmp(a, "--label-augment") == 0 ? 1 : o.label_augment;
            o.student_flip = strcmp(a, "--student-no-flip") == 0 ? 0 : o.student_flip;
            o.augment = strcmp(a, "--no-augment") == 0 ? 0 : o.augment;
            o.label_augment = strcmp(a, "--label-no-augment") == 0 ? 0 : o.label_augment;
            o.resume |= strcmp(a, "--resume") == 0;
            used = 0;
        } else if (!v) {
            fprintf(stderr, "mimic distill: %s needs a value\n", a);
            return EXIT_USAGE;
        } else if (strcmp(a, "--data") == 0) {
            o.data_dir = v;
        } else if (strcmp(a, "--out") == 0) {
            o.out_dir = v;
        } else if (strcmp(a, "--forms") == 0) {
            o.forms = strcmp(v, "784") == 0 ? 1 : strcmp(v, "conv") == 0 ? 2
                      : strcmp(v, "all") == 0 ? 3 : 0;
            if (!o.forms) {
                fprintf(stderr, "mimic distill: --forms wants 784, conv or all, got '%s'\n", v);
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--dropout") == 0 || strcmp(a, "--label-dropout") == 0 ||
                   strcmp(a, "--mimic-dropout") == 0 || strcmp(a, "--teacher-dropout") == 0) {
            float x;
            if (!parse_in_range(a, v, MIMIC_DISTILL_MAX_DROPOUT, &x))
                return EXIT_USAGE;
            if (strcmp(a, "--teacher-dropout") == 0)
                o.teacher_dropout = x;
            if (strcmp(a, "--dropout") == 0 || strcmp(a, "--label-dropout") == 0)
                o.label_dropout = x;
            if (strcmp(a, "--dropout") == 0 || strcmp(a, "--mimic-dropout") == 0)
                o.mimic_dropout = x;
        } else if (strcmp(a, "--weight-decay") == 0 || strcmp(a, "--label-weight-decay") == 0 ||
                   strcmp(a, "--conv-label-weight-decay") == 0 ||
                   strcmp(a, "--mimic-weight-decay") == 0) {
            float x;
            if (!parse_in_range(a, v, MIMIC_DISTILL_MAX_WEIGHT_DECAY, &x))
                return EXIT_USAGE;
            if (strcmp(a, "--weight-decay") == 0)
                o.weight_decay = o.label_weight_decay = o.conv_label_weight_decay =
                    o.mimic_weight_decay = x;
            else if (strcmp(a, "--label-weight-decay") == 0)
                o.label_weight_decay = x;
            else if (strcmp(a, "--conv-label-weight-decay") == 0)
                o.conv_label_weight_decay = x;
            else
                o.mimic_weight_decay = x;
        } else if (strcmp(a, "--mixup") == 0 || strcmp(a, "--kd-label-weight") == 0 ||
                   strcmp(a, "--l2-label-weight") == 0) {
            float x;
            const float hi = strcmp(a, "--mixup") == 0 ? 1.0f : MIMIC_DISTILL_MAX_KD_LABEL_WEIGHT;
            if (!parse_in_range(a, v, hi, &x))
                return EXIT_USAGE;
            if (strcmp(a, "--mixup") == 0)
                o.mixup = x;
            else if (strcmp(a, "--kd-label-weight") == 0)
                o.kd_label_weight = x;
            else
                o.l2_label_weight = x;
        } else if (strcmp(a, "--lr") == 0 || strcmp(a, "--l2-lr") == 0 ||
                   strcmp(a, "--kd-lr") == 0 || strcmp(a, "--label-lr") == 0 || strcmp(a, "--student-lr-ref") == 0 ||
                   strcmp(a, "--temperature") == 0) {
            char *end;
            const float x = strtof(v, &end);
            // --student-lr-ref 0 turns the scaling off; every other value must be positive.
            const int zero_ok = strcmp(a, "--student-lr-ref") == 0 && x == 0.0f;
            if (*end || !(x > 0.0f || zero_ok) || !isfinite(x)) {
                fprintf(stderr, "mimic distill: %s wants a positive number, got '%s'\n", a, v);
                return EXIT_USAGE;
            }
            if (strcmp(a, "--lr") == 0)
                o.lr = x;
            else if (strcmp(a, "--l2-lr") == 0)
                o.l2_lr = x;
            else if (strcmp(a, "--label-lr") == 0)
                o.label_lr = x;
            else if (strcmp(a, "--kd-lr") == 0)
                o.kd_lr = x;
            else if (strcmp(a, "--student-lr-ref") == 0)
                o.student_lr_ref = x;
            else
                o.temperature = x;
        } else if (n < 0) {
            fprintf(stderr, "mimic distill: %s wants a non-negative integer, got '%s'\n", a, v);
            return EXIT_USAGE;
        } else if (strcmp(a, "--epochs") == 0) {
            o.teacher_epochs = o.student_epochs = o.label_epochs = o.conv_label_epochs = (int)n;
        } else if (strcmp(a, "--teacher-epochs") == 0) {
            o.teacher_epochs = (int)n;
        } else if (strcmp(a, "--student-epochs") == 0) {
            o.student_epochs = (int)n;
        } else if (strcmp(a, "--stop-after") == 0) {
            o.stop_after = (int)n;
        } else if (strcmp(a, "--conv-pool") == 0) {
            o.conv_pool = (int)n;
        } else if (strcmp(a, "--student-shift") == 0) {
            o.student_shift = (int)n;
        } else if (strcmp(a, "--label-epochs") == 0) {
            o.label_epochs = o.conv_label_epochs = (int)n;
        } else if (strcmp(a, "--conv-label-epochs") == 0) {
            o.conv_label_epochs = (int)n;
        } else if (strcmp(a, "--batch") == 0) {
            o.batch = n;
        } else if (strcmp(a, "--hidden") == 0) {
            o.hidden = n;
        } else if (strcmp(a, "--bottleneck") == 0) {
            o.bottleneck = n;
        } else if (strcmp(a, "--conv-bottleneck") == 0) {
            o.conv_bottleneck = n;
        } else if (strcmp(a, "--train-limit") == 0) {
            o.train_limit = n;
        } else if (strcmp(a, "--test-limit") == 0) {
            o.test_limit = n;
        } else if (strcmp(a, "--seed") == 0) {
            o.seed = (uint64_t)n;
        } else if (strcmp(a, "--threads") == 0) {
            o.threads = (int)n;
        } else {
            fprintf(stderr, "mimic distill: unknown option '%s'\n", a);
            distill_usage(stderr);
            return EXIT_USAGE;
        }
        i += used;
    }
    char err[2048] = "";
    const mimic_status st = mimic_distill_run(&o, err, sizeof err);
    if (st != MIMIC_OK) {
        fprintf(stderr, "mimic distill: %s\n", err[0] ? err : mimic_status_str(st));
        return st == MIMIC_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    return EXIT_OK;
}

// libgomp's threads spin about 300,000 times in every barrier before they sleep. When another
// process shares the cores, a spinning thread burns the time slice its partner needs to
// reach the barrier: a small distill run took 178 s instead of 28 s beside another 2-thread
// job on this 2-core machine (docs/distill.md). A short spin keeps barriers fast on an idle
// machine and sleeps soon on a busy one. libgomp reads the setting when it is loaded, so the
// process re-executes itself once; the user's own GOMP_SPINCOUNT or OMP_WAIT_POLICY wins.
#define DISTILL_GOMP_SPINCOUNT "10000"

// --- mimic bench: runs mimic_bench from beside this executable ---------------------------

static void bench_usage(FILE *out)
{
    fprintf(out, "usage: mimic bench [--quick] [--filter=REGEX] [--out-dir=DIR | --no-save]\n"
                 "                   [--threads=N,...] [--isa=ISA,...] [Google Benchmark flags]\n"
                 "Run the benchmark suite (every ISA this CPU runs x 1 thread and all cores,\n"
                 "with the oneDNN, OpenBLAS and roof rows) and write its Google Benchmark JSON to\n"
                 "DIR/<arch>/<cpu-model>/<date>-<commit>.json (DIR: results). --quick runs the\n"
                 "CI subset; --filter keeps the rows whose name matches. See docs/benchmarks.md.\n");
}

static int cmd_bench(int argc, char **argv)
{
    char self[4096], bin[4200];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "mimic bench: cannot find this executable's folder\n");
        return EXIT_FAIL;
    }
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(bin, sizeof bin, "%s/bench/mimic_bench", self); // build tree
    if (access(bin, X_OK) != 0)
        snprintf(bin, sizeof bin, "%s/mimic_bench", self);
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "mimic bench: no mimic_bench beside %s (configure with "
                        "-DMIMIC_BUILD_BENCH=ON and build)\n", self);
        return EXIT_FAIL;
    }
    char **args = calloc((size_t)argc + 3, sizeof *args);
    char *owned[64] = {0};
    int nargs = 0, nowned = 0, save = 1;
    const char *out_dir = "results";
    if (!args)
        return EXIT_FAIL;
    args[nargs++] = bin;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            bench_usage(stdout);
            free(args);
            return EXIT_OK;
        } else if (strcmp(a, "--quick") == 0) {
            args[nargs++] = "--profile=quick";
        } else if (strcmp(a, "--no-save") == 0) {
            save = 0;
        } else if (strncmp(a, "--out-dir=", 10) == 0 && a[10]) {
            out_dir = a + 10;
        } else if (strncmp(a, "--filter=", 9) == 0 && nowned < 63) {
            owned[nowned] = malloc(strlen(a) + 20);
            if (!owned[nowned])
                break;
            sprintf(owned[nowned], "--benchmark_filter=%s", a + 9);
            args[nargs++] = owned[nowned++];
        } else if (strncmp(a, "--", 2) == 0) {
            args[nargs++] = argv[i]; // mimic_bench's own and Google Benchmark's flags
        } else {
            fprintf(stderr, "mimic bench: unexpected argument '%s'\n", a);
            bench_usage(stderr);
            free(args);
            return EXIT_USAGE;
        }
    }
    char results[4200];
    if (save) {
        snprintf(results, sizeof results, "--results=%s", out_dir);
        args[nargs++] = results;
    }
    fflush(stdout);
    execv(bin, args);
    fprintf(stderr, "mimic bench: cannot run %s\n", bin);
    for (int i = 0; i < nowned; i++)
        free(owned[i]);
    free(args);
    return EXIT_FAIL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("%s\n", mimic_version());
        return EXIT_OK;
    }
    // A bad ISA cap would make every result lie about what ran: refuse to go on.
    if (mimic_isa_env_status() != MIMIC_OK) {
        fprintf(stderr, "mimic: invalid MIMIC_ISA; unset it or use one of the names above\n");
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "info") == 0)
        return cmd_info(argc - 2, argv + 2);
    if (strcmp(cmd, "distill") == 0) {
        mimic_reexec_with_env("GOMP_SPINCOUNT", DISTILL_GOMP_SPINCOUNT, "OMP_WAIT_POLICY", argv,
                              "mimic");
        return cmd_distill(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc - 2, argv + 2);
    fprintf(stderr, "mimic: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
