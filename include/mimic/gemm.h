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
/// written through them. Results do not depend on the thread count. Called from inside an
/// OpenMP parallel region (say, one product per thread of the caller's team), it runs on the
/// calling thread alone, with the same bits.
/// @return MIMIC_OK, MIMIC_EINVAL (C untouched) or MIMIC_ENOMEM (C untouched).
mimic_status mimic_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
                         const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                         float *C, int64_t ldc);

/// What mimic_sgemm_post does to C once its product is complete: a ReLU layer's forward or
/// backward fused into the product, applied tile by tile while each tile of C is in cache
/// (instead of a pass of its own over C).
typedef enum {
    MIMIC_GEMM_POST_NONE = 0, ///< nothing: the same as mimic_sgemm
    MIMIC_GEMM_POST_RELU,     ///< C = C > 0 ? C : 0 (NaN and -0 become 0, as a ReLU layer)
    MIMIC_GEMM_POST_MASK,     ///< C = mask > 0 ? C : 0: a ReLU's backward, given its output
} mimic_gemm_post_kind;

/// The operation after the product, and its operand.
typedef struct {
    mimic_gemm_post_kind kind;
    /// MIMIC_GEMM_POST_MASK: M x N, row-major with row stride ldm >= max(1, N); it may be C
    /// itself (ldm == ldc: a ReLU), else it must not overlap C, A or B. Unused otherwise.
    const float *mask;
    int64_t ldm;
} mimic_gemm_post;

/// mimic_sgemm, then `post` on every element of C (NULL: nothing). The bits of C are those of
/// mimic_sgemm followed by the operation as a separate pass, whatever the thread count.
/// @return MIMIC_OK, MIMIC_EINVAL (C untouched; also for an unknown kind or a missing or too
/// narrow mask) or MIMIC_ENOMEM (C untouched).
mimic_status mimic_sgemm_post(char transa, char transb, int64_t M, int64_t N, int64_t K,
                              float alpha, const float *A, int64_t lda, const float *B,
                              int64_t ldb, float beta, float *C, int64_t ldc,
                              const mimic_gemm_post *post);

#ifdef __cplusplus
}
#endif
#endif
