// ISA selection: detect, cap by MIMIC_ISA, pick one const kernel table; thread count.
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/kernels.h"
#include "kernels/conv/im2col.h"
#include "kernels/gemm/gemm_ukernels.h"
#include "kernels/softmax/softmax_kernels.h"

// The GEMM microkernels, filled from the single list in gemm_ukernels.inc.
#define MIMIC_UKERNEL(isa, fn, boff, aoff, pf, mr, mr_max, nr, dot, dmr, dnr, b_reads_nr, wide,    \
                      wide_nr)                                                                     \
    [MIMIC_ISA_##isa] = {fn,  boff, aoff, pf,  mr,         mr_max, nr,                             \
                         #fn, dot,  dmr,  dnr, b_reads_nr, wide,   wide_nr},
const mimic_gemm_ukernel mimic_gemm_ukernels[MIMIC_ISA_COUNT] = {
#include "kernels/gemm/gemm_ukernels.inc"
};
#undef MIMIC_UKERNEL

static const mimic_kernels table_scalar = {
    .isa = MIMIC_ISA_SCALAR,
    .gemm = &mimic_gemm_ukernels[MIMIC_ISA_SCALAR],
    .conv = MIMIC_CONV_TABLE(scalar),
    .softmax = MIMIC_SOFTMAX_TABLE(scalar),
};

#if defined(MIMIC_HAVE_AVX2)
static const mimic_kernels table_avx2 = {
    .isa = MIMIC_ISA_AVX2,
    .gemm = &mimic_gemm_ukernels[MIMIC_ISA_AVX2],
    .conv = MIMIC_CONV_TABLE(avx2),
    .softmax = MIMIC_SOFTMAX_TABLE(avx2),
};
#endif

#if defined(MIMIC_HAVE_AVX512)
static const mimic_kernels table_avx512 = {
    .isa = MIMIC_ISA_AVX512,
    .gemm = &mimic_gemm_ukernels[MIMIC_ISA_AVX512],
    .conv = MIMIC_CONV_TABLE(avx512),
    .softmax = MIMIC_SOFTMAX_TABLE(avx512),
};
#endif

#if defined(MIMIC_HAVE_NEON)
static const mimic_kernels table_neon = {
    .isa = MIMIC_ISA_NEON,
    .gemm = &mimic_gemm_ukernels[MIMIC_ISA_NEON],
    .conv = MIMIC_CONV_TABLE(neon),
    .softmax = MIMIC_SOFTMAX_TABLE(neon),
};
#endif

const mimic_kernels *mimic_kernels_for(mimic_isa isa)
{
    switch (isa) {
    case MIMIC_ISA_SCALAR: return &table_scalar;
#if defined(MIMIC_HAVE_AVX2)
    case MIMIC_ISA_AVX2: return &table_avx2;
#endif
#if defined(MIMIC_HAVE_AVX512)
    case MIMIC_ISA_AVX512: return &table_avx512;
#endif
#if defined(MIMIC_HAVE_NEON)
    case MIMIC_ISA_NEON: return &table_neon;
#endif
    default: return NULL;
    }
}

static const char *const isa_names[MIMIC_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};

const char *mimic_isa_name(mimic_isa isa)
{
    return (unsigned)isa < MIMIC_ISA_COUNT ? isa_names[isa] : "unknown";
}

mimic_status mimic_isa_parse(const char *name, mimic_isa *isa)
{
    if (!name || !isa)
        return MIMIC_EINVAL;
    for (int i = 0; i < MIMIC_ISA_COUNT; i++) {
        if (strcmp(name, isa_names[i]) == 0) {
            *isa = (mimic_isa)i;
            return MIMIC_OK;
        }
    }
    return MIMIC_EINVAL;
}

// The capped best ISA and the active table, set once and changed only by mimic_isa_set.
static mimic_isa isa_best = MIMIC_ISA_SCALAR;
static mimic_status isa_env = MIMIC_OK;
static _Atomic(const mimic_kernels *) active_table;
static atomic_int thread_count;
// More threads than this is a caller bug, not a request to honour.
#define MIMIC_MAX_THREADS 1024
static pthread_once_t select_once = PTHREAD_ONCE_INIT;

// The ISA levels of this architecture, lowest first.
#if defined(__x86_64__)
static const mimic_isa isa_ladder[] = {MIMIC_ISA_SCALAR, MIMIC_ISA_AVX2, MIMIC_ISA_AVX512};
#elif defined(__aarch64__)
static const mimic_isa isa_ladder[] = {MIMIC_ISA_SCALAR, MIMIC_ISA_NEON};
#else
static const mimic_isa isa_ladder[] = {MIMIC_ISA_SCALAR};
#endif
#define LADDER_LEN ((int)(sizeof isa_ladder / sizeof isa_ladder[0]))

static int ladder_index(mimic_isa isa)
{
    for (int i = 0; i < LADDER_LEN; i++)
        if (isa_ladder[i] == isa)
            return i;
    return -1;
}

static void select_isa(void)
{
    const mimic_machine *m = mimic_machine_get();
    int cap = LADDER_LEN - 1;
    const char *env = getenv("MIMIC_ISA");
    if (env && *env) {
        mimic_isa want;
        if (mimic_isa_parse(env, &want) != MIMIC_OK || ladder_index(want) < 0) {
            // Like an unknown ONEDNN_MAX_CPU_ISA, but loud: the caller asked for a cap and
            // gets the safest one, and mimic_isa_env_status() reports the error.
            fprintf(stderr,
                    "mimic: MIMIC_ISA='%s' names no ISA of this architecture "
                    "(scalar|avx2|avx512 on x86-64, scalar|neon on AArch64); using scalar\n",
                    env);
            isa_env = MIMIC_EINVAL;
            cap = 0;
        } else {
            cap = ladder_index(want);
        }
    }
    int best = 0;
    for (int i = 0; i <= cap; i++)
        if (m->supported[isa_ladder[i]])
            best = i;
    isa_best = isa_ladder[best];
    atomic_store(&active_table, mimic_kernels_for(isa_best));
    atomic_store(&thread_count, m->physical_cores);
}

static void ensure_selected(void)
{
    (void)pthread_once(&select_once, select_isa);
}

mimic_isa mimic_isa_best(void)
{
    ensure_selected();
    return isa_best;
}

mimic_status mimic_isa_env_status(void)
{
    ensure_selected();
    return isa_env;
}

const mimic_kernels *mimic_kernels_active(void)
{
    ensure_selected();
    return atomic_load(&active_table);
}

mimic_isa mimic_isa_active(void)
{
    return mimic_kernels_active()->isa;
}

mimic_status mimic_isa_set(mimic_isa isa)
{
    if ((unsigned)isa >= MIMIC_ISA_COUNT)
        return MIMIC_EINVAL;
    ensure_selected();
    const mimic_kernels *table = mimic_kernels_for(isa);
    if (!table || !mimic_isa_supported(isa))
        return MIMIC_EUNSUPPORTED;
    atomic_store(&active_table, table);
    return MIMIC_OK;
}

int mimic_threads_set(int n)
{
    ensure_selected();
    if (n <= 0)
        n = mimic_machine_get()->physical_cores;
    if (n > MIMIC_MAX_THREADS)
        n = MIMIC_MAX_THREADS;
    atomic_store(&thread_count, n);
    return n;
}

int mimic_threads_get(void)
{
    ensure_selected();
    return atomic_load(&thread_count);
}

mimic_status mimic_info_get(mimic_info *info)
{
    if (!info)
        return MIMIC_EINVAL;
    const mimic_machine *m = mimic_machine_get();
    const mimic_kernels *k = mimic_kernels_active();
    memset(info, 0, sizeof *info);
    memcpy(info->cpu_model, m->cpu_model, sizeof info->cpu_model);
#if defined(__x86_64__)
    info->arch = "x86_64";
#elif defined(__aarch64__)
    info->arch = "aarch64";
#else
    info->arch = "other";
#endif
    for (int i = 0; i < MIMIC_ISA_COUNT; i++)
        info->supported[i] = m->supported[i];
    info->best = mimic_isa_best();
    info->active = k->isa;
    info->physical_cores = m->physical_cores;
    info->logical_cpus = m->logical_cpus;
    info->threads = mimic_threads_get();
    info->l1d_bytes = m->l1d_bytes;
    info->l2_bytes = m->l2_bytes;
    info->l3_bytes = m->l3_bytes;
    info->gemm_mr = k->gemm->mr;
    info->gemm_nr = k->gemm->nr;
    const mimic_gemm_blocking b = mimic_gemm_blocking_for(k->gemm->mr, k->gemm->nr);
    info->gemm_mc = b.mc;
    info->gemm_kc = b.kc;
    info->gemm_nc = b.nc;
    info->gemm_ukernel = k->gemm->name;
    info->im2col_kernel = k->conv.name;
    info->softmax_kernel = k->softmax.name;
    return MIMIC_OK;
}
