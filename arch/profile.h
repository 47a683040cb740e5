// The library side of mimic_profile: clock reads around public calls and a per-thread
// accumulator for a convolution's lowering.
#ifndef MIMIC_ARCH_PROFILE_H
#define MIMIC_ARCH_PROFILE_H

#include <stdint.h>

#include <mimic/profile.h>

typedef struct {
    uint64_t t0;       // 0 when profiling is off
    uint64_t lower0;   // lowering thread-ns at the start of the call
} mimic_prof_call;

// Start timing a public call (a no-op when profiling is off).
mimic_prof_call mimic_prof_begin(void);
// End it: its wall time goes to `kind` with `flops`.
void mimic_prof_end(const mimic_prof_call *c, mimic_prof_kind kind, double flops);
// End a convolution run on `threads` threads: its lowering thread-time, divided by the
// threads, goes to im2col/col2im and the rest of its wall time to GEMM.
void mimic_prof_end_conv(const mimic_prof_call *c, double flops, int threads);

// Time a lowering step on the calling thread of a convolution's team.
int mimic_prof_on(void);
uint64_t mimic_prof_ns(void);
void mimic_prof_lower_add(uint64_t ns);

#define MIMIC_PROF_LOWER(stmt)                                        \
    do {                                                              \
        if (mimic_prof_on()) {                                        \
            const uint64_t prof_t0_ = mimic_prof_ns();                \
            stmt;                                                     \
            mimic_prof_lower_add(mimic_prof_ns() - prof_t0_);         \
        } else {                                                      \
            stmt;                                                     \
        }                                                             \
    } while (0)

#endif
