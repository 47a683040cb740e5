// The GEMM driver without argument checks, for other kernels (convolution) to call.
#ifndef MIMIC_GEMM_INTERNAL_H
#define MIMIC_GEMM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "arch/kernels.h"

// C = alpha*op(A)*op(B) + beta*C for already-validated arguments (M, N >= 1, K >= 0,
// trans_a/trans_b are 0 or 1). MIMIC_ENOMEM leaves C untouched. Called inside a parallel
// region, it runs on the calling thread alone (as a team of one), the same bits.
mimic_status mimic_gemm_run(const mimic_kernels *k, int trans_a, int trans_b, int64_t M,
                            int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                            const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

// The same, then C[i][j] = m[i][j] > 0 ? C[i][j] : 0 on each tile as it is finished, with
// m = mask (row stride ldm) or, if mask is NULL, C itself (a ReLU). keep == 0: nothing after.
mimic_status mimic_gemm_run_post(const mimic_kernels *k, int trans_a, int trans_b, int64_t M,
                                 int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                                 const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                                 int keep, const float *mask, int64_t ldm);

// Allocate the calling thread's packing buffers for a problem of this size up front, so that a
// caller making several calls of that size can fail before writing any output.
mimic_status mimic_gemm_reserve(const mimic_kernels *k, int64_t M, int64_t N, int64_t K);

// Pack rows [i0, i0+mb) x columns [p0, p0+kb) of alpha*op(A) into MR-row panels:
// panel t holds dst[t*MR*kb + p*MR + i], zero past the last row. `tr` is the ISA's register
// transpose (mimic_kernels.conv.transpose), which packs op(A) = A.
void mimic_gemm_pack_a(mimic_transpose_fn tr, int trans, size_t mb, size_t kb, float alpha,
                       const float *A, size_t lda, size_t i0, size_t p0, size_t mr, float *dst);

// Pack the single NR-column panel of op(B) = B^T starting at (p0, j0), nb <= NR columns wide,
// through the ISA's register transpose: dst[p*NR + j], zero past the last column. (op(B) = B
// is packed by mimic_gemm_pack_b_rows.)
void mimic_gemm_pack_bt_panel(mimic_transpose_fn tr, size_t kb, size_t nb, const float *B,
                              size_t ldb, size_t p0, size_t j0, size_t nr, float *dst);

// Pack `panels` NR-column panels of op(B) = B (row p of the block at b + p*ldb), all but the
// last nr wide and the last `last` (1..nr) wide, zero-padded: panel t gets
// dst[t*nr*kb + p*nr + j]. Reads each row of the block once, front to back; with prefetch,
// the rows a few ahead are prefetched on the way (for a skinny op(A), whose few rows leave
// the pack of B streaming from memory a large share of the product: docs/gemm.md).
void mimic_gemm_pack_b_rows(size_t kb, size_t panels, size_t last, const float *b, size_t ldb,
                            size_t nr, int prefetch, float *dst);

#endif
