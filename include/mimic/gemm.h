/// @file gemm.h
/// Single-precision general matrix multiply.
#ifndef MIMIC_GEMM_H
#define MIMIC_GEMM_H

#include <stdint.h>
#include <mimic/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/// C = alpha * op(A) * op(B) + beta * C, all matrices row-major.
///
/// Same contract as dnnl_sgemm: op(X) = X for 'N'/'n', X^T for 'T'/'t'; op(A) is M x K,
/// op(B) is K x N, C is M x N. A is stored M x K (lda >= max(1, K)) for 'N' and K x M
/// (lda >= max(1, M)) for 'T'; likewise B is K x N (ldb >= max(1, N)) or N x K
/// (ldb >= max(1, K)); ldc >= max(1, N).
/// beta == 0 writes C without reading it (NaN or Inf already in C does not leak);
/// alpha == 0 or K == 0 scales C by beta and does not read A or B.
/// M == 0 or N == 0 is a valid no-op. Pointers may be NULL only where nothing is read or
/// written through them. Results do not depend on the thread count.
/// @return MIMIC_OK, MIMIC_EINVAL (C untouched) or MIMIC_ENOMEM (C untouched).
mimic_status mimic_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
                         const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                         float *C, int64_t ldc);

#ifdef __cplusplus
}
#endif
#endif
