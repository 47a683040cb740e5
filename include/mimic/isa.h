/// @file isa.h
/// Run-time ISA selection and threading control.
#ifndef MIMIC_ISA_H
#define MIMIC_ISA_H

#include <mimic/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction sets mimic has kernels for. Order matters: a larger x86 value is a superset.
typedef enum {
    MIMIC_ISA_SCALAR = 0, ///< portable C, any CPU
    MIMIC_ISA_AVX2 = 1,   ///< x86-64 AVX2 + FMA
    MIMIC_ISA_AVX512 = 2, ///< x86-64 AVX-512 F/BW/VL/DQ
    MIMIC_ISA_NEON = 3,   ///< AArch64 Advanced SIMD
} mimic_isa;

/// Number of mimic_isa values.
#define MIMIC_ISA_COUNT 4

/// The best ISA this CPU and OS support, capped by the environment variable MIMIC_ISA
/// (scalar|avx2|avx512|neon). An unknown MIMIC_ISA value is reported on stderr once and
/// treated as "scalar" here; mimic_isa_env_status() tells callers it was invalid.
mimic_isa mimic_isa_best(void);

/// MIMIC_EINVAL if MIMIC_ISA is set to a value that names no ISA, else MIMIC_OK.
mimic_status mimic_isa_env_status(void);

/// The ISA whose kernels run now (mimic_isa_best() unless mimic_isa_set() changed it).
mimic_isa mimic_isa_active(void);

/// Whether this CPU, OS and build can run @p isa (ignores the MIMIC_ISA cap).
int mimic_isa_supported(mimic_isa isa);

/// Force the kernels of @p isa. MIMIC_EUNSUPPORTED if this CPU or build can't run it,
/// MIMIC_EINVAL for a value outside mimic_isa. Not thread-safe against running kernels.
mimic_status mimic_isa_set(mimic_isa isa);

/// "scalar", "avx2", "avx512", "neon"; "unknown" for anything else.
const char *mimic_isa_name(mimic_isa isa);

/// Parse an ISA name as accepted by MIMIC_ISA. MIMIC_EINVAL if it names none.
mimic_status mimic_isa_parse(const char *name, mimic_isa *isa);

/// Set the number of threads kernels use; 0 = one per physical core (hwloc).
/// Returns the number now in effect (always >= 1).
int mimic_threads_set(int n);

/// The number of threads kernels use now.
int mimic_threads_get(void);

#ifdef __cplusplus
}
#endif
#endif
