// Profiling counters (mimic_profile): atomics, so the library stays free of locks; the
// per-thread lowering slots are padded to a cache line each so threads do not share one.
#define _POSIX_C_SOURCE 200809L

#include <omp.h>
#include <stdatomic.h>
#include <time.h>

#include "arch/profile.h"

#define PROF_SLOTS 64

static atomic_int prof_enabled;
static _Atomic uint64_t prof_ns[MIMIC_PROF_KINDS], prof_calls[MIMIC_PROF_KINDS];
static _Atomic double prof_flops[MIMIC_PROF_KINDS];

static struct {
    _Alignas(64) _Atomic uint64_t ns;
} lower_slot[PROF_SLOTS];

int mimic_profile_enable(int on)
{
    return atomic_exchange(&prof_enabled, on != 0);
}

int mimic_prof_on(void)
{
    return atomic_load_explicit(&prof_enabled, memory_order_relaxed);
}

uint64_t mimic_prof_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void mimic_prof_lower_add(uint64_t ns)
{
    atomic_fetch_add_explicit(&lower_slot[omp_get_thread_num() % PROF_SLOTS].ns, ns,
                              memory_order_relaxed);
}

static uint64_t lower_total(void)
{
    uint64_t s = 0;
    for (int i = 0; i < PROF_SLOTS; i++)
        s += atomic_load_explicit(&lower_slot[i].ns, memory_order_relaxed);
    return s;
}

void mimic_profile_reset(void)
{
    for (int k = 0; k < MIMIC_PROF_KINDS; k++) {
        atomic_store(&prof_ns[k], 0);
        atomic_store(&prof_calls[k], 0);
        atomic_store(&prof_flops[k], 0.0);
    }
}

void mimic_profile_read(mimic_profile *out)
{
    if (!out)
        return;
    for (int k = 0; k < MIMIC_PROF_KINDS; k++) {
        out->seconds[k] = 1e-9 * (double)atomic_load(&prof_ns[k]);
        out->flops[k] = atomic_load(&prof_flops[k]);
        out->calls[k] = atomic_load(&prof_calls[k]);
    }
}

const char *mimic_prof_kind_name(mimic_prof_kind kind)
{
    switch (kind) {
    case MIMIC_PROF_GEMM:
        return "GEMM";
    case MIMIC_PROF_IM2COL:
        return "im2col/col2im";
    case MIMIC_PROF_SOFTMAX:
        return "softmax/loss";
    default:
        return "unknown";
    }
}

mimic_prof_call mimic_prof_begin(void)
{
    mimic_prof_call c = {0, 0};
    if (mimic_prof_on()) {
        c.t0 = mimic_prof_ns();
        c.lower0 = lower_total();
    }
    return c;
}

static void add(mimic_prof_kind kind, uint64_t ns, double flops, uint64_t calls)
{
    atomic_fetch_add_explicit(&prof_ns[kind], ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&prof_calls[kind], calls, memory_order_relaxed);
    double old = atomic_load_explicit(&prof_flops[kind], memory_order_relaxed);
    while (!atomic_compare_exchange_weak(&prof_flops[kind], &old, old + flops)) {
    }
}

void mimic_prof_end(const mimic_prof_call *c, mimic_prof_kind kind, double flops)
{
    if (c->t0)
        add(kind, mimic_prof_ns() - c->t0, flops, 1);
}

void mimic_prof_end_conv(const mimic_prof_call *c, double flops, int threads)
{
    if (!c->t0)
        return;
    const uint64_t wall = mimic_prof_ns() - c->t0;
    uint64_t lower = (lower_total() - c->lower0) / (uint64_t)(threads > 0 ? threads : 1);
    lower = lower < wall ? lower : wall;
    add(MIMIC_PROF_IM2COL, lower, 0.0, 0);
    add(MIMIC_PROF_GEMM, wall - lower, flops, 1);
}
