// Machine detection: ISA flags with OS support (cpu_features) and topology (hwloc), once.
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <hwloc.h>

#include "arch/kernels.h"

#if defined(__x86_64__)
#include <cpuinfo_x86.h>
#elif defined(__aarch64__)
#include <cpuinfo_aarch64.h>
#endif

static mimic_machine machine;
static pthread_once_t machine_once = PTHREAD_ONCE_INIT;

static void detect_isas(mimic_machine *m)
{
    m->supported[MIMIC_ISA_SCALAR] = 1;
#if defined(__x86_64__)
    // cpu_features only reports AVX/AVX-512 features the OS saves (XCR0 via XGETBV).
    const X86Info info = GetX86Info();
    (void)snprintf(m->cpu_model, sizeof m->cpu_model, "%s", info.brand_string);
#if defined(MIMIC_HAVE_AVX2)
    m->supported[MIMIC_ISA_AVX2] = info.features.avx2 && info.features.fma3;
#endif
#if defined(MIMIC_HAVE_AVX512)
    m->supported[MIMIC_ISA_AVX512] = info.features.avx512f && info.features.avx512bw &&
                                     info.features.avx512vl && info.features.avx512dq &&
                                     info.features.avx2 && info.features.fma3;
#endif
#elif defined(__aarch64__)
    const Aarch64Info info = GetAarch64Info();
    (void)snprintf(m->cpu_model, sizeof m->cpu_model, "aarch64 implementer 0x%x part 0x%x",
                   (unsigned)info.implementer, (unsigned)info.part);
#if defined(MIMIC_HAVE_NEON)
    m->supported[MIMIC_ISA_NEON] = 1; // Advanced SIMD is part of the AArch64 baseline.
#endif
#endif
    // Trim the padding some CPUs put around the brand string.
    size_t len = strlen(m->cpu_model);
    while (len > 0 && m->cpu_model[len - 1] == ' ')
        m->cpu_model[--len] = '\0';
    if (len == 0)
        (void)snprintf(m->cpu_model, sizeof m->cpu_model, "unknown");
}

static int64_t first_cache_size(hwloc_topology_t topo, hwloc_obj_type_t type)
{
    hwloc_obj_t obj = hwloc_get_obj_by_type(topo, type, 0);
    return obj && obj->attr ? (int64_t)obj->attr->cache.size : 0;
}

static int64_t total_cache_size(hwloc_topology_t topo, hwloc_obj_type_t type)
{
    int64_t total = 0;
    const int count = hwloc_get_nbobjs_by_type(topo, type);
    for (int i = 0; i < count; i++) {
        hwloc_obj_t obj = hwloc_get_obj_by_type(topo, type, (unsigned)i);
        if (obj && obj->attr)
            total += (int64_t)obj->attr->cache.size;
    }
    return total;
}

static void detect_topology(mimic_machine *m)
{
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) == 0) {
        if (hwloc_topology_load(topo) == 0) {
            m->physical_cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
            m->logical_cpus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
            m->l1d_bytes = first_cache_size(topo, HWLOC_OBJ_L1CACHE);
            m->l2_bytes = first_cache_size(topo, HWLOC_OBJ_L2CACHE);
            m->l3_bytes = total_cache_size(topo, HWLOC_OBJ_L3CACHE);
        }
        hwloc_topology_destroy(topo);
    }
    // Conservative defaults where the OS does not expose the topology (some VMs, qemu-user).
    if (m->logical_cpus <= 0)
        m->logical_cpus = 1;
    if (m->physical_cores <= 0)
        m->physical_cores = m->logical_cpus;
    if (m->l1d_bytes <= 0)
        m->l1d_bytes = 32 * 1024;
    if (m->l2_bytes <= 0)
        m->l2_bytes = 512 * 1024;
    if (m->l3_bytes <= 0)
        m->l3_bytes = 8 * 1024 * 1024;
}

static void detect_machine(void)
{
    detect_isas(&machine);
    detect_topology(&machine);
}

const mimic_machine *mimic_machine_get(void)
{
    (void)pthread_once(&machine_once, detect_machine);
    return &machine;
}

int mimic_isa_supported(mimic_isa isa)
{
    if ((unsigned)isa >= MIMIC_ISA_COUNT)
        return 0;
    return mimic_machine_get()->supported[isa];
}

// Round x down to a multiple of m, but never below m.
static int64_t round_down_min(int64_t x, int64_t m)
{
    return x < m ? m : x / m * m;
}

// BLIS-style blocking, measured on Zen 4 (docs/gemm.md):
// - KC: the KC x NR micro-panel of B takes 1/16 of L2 (KC 128..512). A KC that keeps it in
//   L1d (128 for NR = 32) ran 5-10 % slower: each KC slice re-reads and re-writes the C tile,
//   and L2 feeds the FMA units fast enough to hold the B micro-panel.
// - MC: the packed MC x KC block of A fills half of L2.
// - NC: the packed KC x NC panel of B fills half of this core's share of L3.
static mimic_gemm_blocking blocking_of(int mr, int nr)
{
    const mimic_machine *m = mimic_machine_get();
    const int64_t f = (int64_t)sizeof(float);
    mimic_gemm_blocking b;
    b.kc = round_down_min(m->l2_bytes / 16 / (f * nr), 8);
    b.kc = b.kc < 128 ? 128 : b.kc > 512 ? 512 : b.kc;
    b.mc = round_down_min(m->l2_bytes / 2 / (f * b.kc), mr);
    const int64_t l3_share = m->l3_bytes / (m->physical_cores > 0 ? m->physical_cores : 1);
    b.nc = round_down_min(l3_share / 2 / (f * b.kc), nr);
    if (b.nc > 8192)
        b.nc = 8192 / nr * nr;
    return b;
}

// Every GEMM call asks: the last answer is kept per thread (its divisions and the detection
// check were 7 % of a 16^3 product).
mimic_gemm_blocking mimic_gemm_blocking_for(int mr, int nr)
{
    static _Thread_local int last_mr, last_nr;
    static _Thread_local mimic_gemm_blocking last;
    if (mr != last_mr || nr != last_nr) {
        last = blocking_of(mr, nr);
        last_mr = mr;
        last_nr = nr;
    }
    return last;
}
