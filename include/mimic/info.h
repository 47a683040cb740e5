/// @file info.h
/// What mimic found about the machine and what it chose: the data behind `mimic info`.
#ifndef MIMIC_INFO_H
#define MIMIC_INFO_H

#include <stdint.h>
#include <mimic/isa.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A snapshot of the machine and of mimic's choices for the active ISA.
typedef struct {
    char cpu_model[64];         ///< CPU brand string, or "unknown"
    const char *arch;           ///< "x86_64", "aarch64" or "other"
    int supported[MIMIC_ISA_COUNT]; ///< supported[isa] != 0 if the CPU, OS and build run it
    mimic_isa best;             ///< mimic_isa_best()
    mimic_isa active;           ///< mimic_isa_active()
    int physical_cores;         ///< from hwloc
    int logical_cpus;           ///< from hwloc
    int threads;                ///< mimic_threads_get()
    int64_t l1d_bytes, l2_bytes, l3_bytes; ///< per-core L1d and L2, total L3 (hwloc)
    int gemm_mr, gemm_nr;       ///< microkernel tile of the active ISA
    int64_t gemm_mc, gemm_kc, gemm_nc; ///< cache blocking derived from the cache sizes
    const char *gemm_ukernel;   ///< name of the active GEMM microkernel
    const char *im2col_kernel;  ///< name of the active im2col kernel
    const char *softmax_kernel; ///< name of the active softmax kernel set
} mimic_info;

/// Fill @p info. MIMIC_EINVAL if info is NULL.
mimic_status mimic_info_get(mimic_info *info);

/// The library version, "MAJOR.MINOR.PATCH".
const char *mimic_version(void);

#ifdef __cplusplus
}
#endif
#endif
