#ifndef MIMIC_PROFILE_H
#define MIMIC_PROFILE_H
/// @file
/// Where the time goes: wall-clock seconds and operations per kernel family, summed over
/// every call since the last reset. Off by default; when on, each public call reads the clock
/// twice and each convolution also times its lowering (im2col, col2im, panel packing of the
/// input) on every thread. Meant for one calling thread at a time (the trainer, a benchmark).

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The kernel families of the breakdown.
typedef enum {
    MIMIC_PROF_GEMM,    ///< mimic_sgemm, and the GEMM part of every convolution
    MIMIC_PROF_IM2COL,  ///< a convolution's lowering: im2col, col2im, transposes of the input
    MIMIC_PROF_SOFTMAX, ///< softmax, log-softmax and the three losses
    MIMIC_PROF_KINDS
} mimic_prof_kind;

typedef struct {
    double seconds[MIMIC_PROF_KINDS]; ///< wall-clock time inside the family
    double flops[MIMIC_PROF_KINDS];   ///< GEMM: 2*M*N*K, convolutions 2*N*K*P*Q*C*R*S per pass
    uint64_t calls[MIMIC_PROF_KINDS]; ///< public calls (a convolution counts under GEMM)
} mimic_profile;

/// Turn the counters on (1) or off (0); returns the previous setting.
int mimic_profile_enable(int on);
/// Zero the counters.
void mimic_profile_reset(void);
/// The counters since the last reset.
void mimic_profile_read(mimic_profile *out);
/// A family's name: "GEMM", "im2col/col2im", "softmax/loss".
const char *mimic_prof_kind_name(mimic_prof_kind kind);

#ifdef __cplusplus
}
#endif
#endif
