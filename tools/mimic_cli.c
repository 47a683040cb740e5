// The `mimic` command-line tool: machine and dispatch information (more commands to come).
#include <stdio.h>
#include <string.h>

#include <mimic/mimic.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fprintf(out, "usage: mimic <command> [options]\n"
                 "\n"
                 "commands:\n"
                 "  info [--json]   CPU, supported and active ISA, cores, caches, GEMM blocking\n"
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
    fprintf(stderr, "mimic: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
