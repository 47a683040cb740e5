// Prototypes of every GEMM microkernel, generated from gemm_ukernels.inc.
#ifndef MIMIC_GEMM_UKERNELS_H
#define MIMIC_GEMM_UKERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "arch/kernels.h"

#define MIMIC_UKERNEL(isa, fn, boff, aoff, pf, mr, mr_max, nr, dot, dmr, dnr, b_reads_nr, wide,    \
                      wide_nr)                                                                     \
    void fn(size_t m, size_t n, size_t kc, const float *a, size_t a_stride, const float *b,        \
            size_t b_stride, float *c, size_t ldc, float beta);                                    \
    void boff(size_t m, size_t n, size_t kc, const float *a, const float *b,                       \
              const int64_t *b_offs, float *c, size_t ldc, float beta);                            \
    void aoff(size_t m, size_t n, size_t kc, const float *a, const int64_t *a_offs,                \
              const float *b, size_t b_stride, float *c, size_t ldc, float beta);                  \
    void pf(size_t m, size_t n, size_t kc, const float *a, size_t a_stride, const float *b,        \
            size_t b_stride, float *c, size_t ldc, float beta, const float *pf_, size_t pf_stride, \
            unsigned pf_shift);                                                                    \
    void dot(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *const *b,      \
             float *c, size_t ldc, float alpha, float beta, const float *pf);
#include "kernels/gemm/gemm_ukernels.inc"
#undef MIMIC_UKERNEL

// The wide tiles (arch/kernels.h), outside the table's macro since most ISAs have none.
void mimic_gemm_f32_wide__avx2(size_t m, size_t n, size_t kc, const float *a, size_t a_stride,
                               const float *b, size_t b_stride, float *c, size_t ldc, float beta);
void mimic_gemm_f32_wide__avx512(size_t m, size_t n, size_t kc, const float *a, size_t a_stride,
                                 const float *b, size_t b_stride, float *c, size_t ldc,
                                 float beta);

// In the offset forms' entry points: the offsets are never NULL (the contract, arch/kernels.h),
// which lets the compiler drop the packed form's loop from the shared body instead of testing
// the pointer on every k step (the AVX2 A-offset tile kept its row pointers on the stack that
// way: 32^3 at 1.00x oneDNN, 1.13-1.17x with this). Used by the AVX2 and AVX-512 tiles only:
// the portable tile's loop ran 3-4x slower with it (GCC vectorized it differently).
#define MIMIC_UKERNEL_OFFSETS(offs)                                                                \
    do {                                                                                           \
        if (!(offs))                                                                               \
            __builtin_unreachable();                                                               \
    } while (0)

// The microkernel of each ISA that has one (fn == NULL where none), indexed by mimic_isa.
extern const mimic_gemm_ukernel mimic_gemm_ukernels[MIMIC_ISA_COUNT];

#endif
