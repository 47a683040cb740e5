// Packing of A and B into the panel layouts the microkernels read (absorbs transposes and alpha).
#include <string.h>

#include "kernels/gemm/gemm_internal.h"

static void pack_a_panel(mimic_transpose_fn tr, int trans, size_t rows, size_t kb, float alpha,
                         const float *A, size_t lda, size_t mr, float *dst)
{
    if (trans) {
        // op(A) = A^T: row i of op(A) is column i of A, so a panel column is contiguous.
        for (size_t p = 0; p < kb; p++) {
            const float *src = A + p * lda;
            float *d = dst + p * mr;
            for (size_t i = 0; i < rows; i++)
                d[i] = alpha * src[i];
            for (size_t i = rows; i < mr; i++)
                d[i] = 0.0f;
        }
        return;
    }
    // op(A) = A: the panel is the transpose of a rows x kb block. One strided scalar store
    // per element took a quarter of a 16^3 GEMM; the ISA's register transpose moves whole
    // vectors.
    tr(rows, kb, A, lda, dst, mr);
    for (size_t p = 0; p < kb; p++) {
        float *d = dst + p * mr;
        if (alpha != 1.0f)
            for (size_t i = 0; i < rows; i++)
                d[i] *= alpha;
        for (size_t i = rows; i < mr; i++)
            d[i] = 0.0f;
    }
}

void mimic_gemm_pack_a(mimic_transpose_fn tr, int trans, size_t mb, size_t kb, float alpha,
                       const float *A, size_t lda, size_t i0, size_t p0, size_t mr, float *dst)
{
    for (size_t t = 0; t * mr < mb; t++) {
        const size_t i = i0 + t * mr;
        const size_t rows = mb - t * mr < mr ? mb - t * mr : mr;
        const float *src = trans ? A + p0 * lda + i : A + i * lda + p0;
        pack_a_panel(tr, trans, rows, kb, alpha, src, lda, mr, dst + t * mr * kb);
    }
}

void mimic_gemm_pack_bt_panel(mimic_transpose_fn tr, size_t kb, size_t nb, const float *B,
                              size_t ldb, size_t p0, size_t j0, size_t nr, float *dst)
{
    // Column j of op(B) = B^T is row j of B, so the panel is the transpose of an nb x kb
    // block of B.
    tr(nb, kb, B + j0 * ldb + p0, ldb, dst, nr);
    for (size_t p = 0; p < kb && nb < nr; p++)
        for (size_t j = nb; j < nr; j++)
            dst[p * nr + j] = 0.0f;
}

void mimic_gemm_pack_b_rows(size_t kb, size_t panels, size_t last, const float *b, size_t ldb,
                            size_t nr, float *dst)
{
    for (size_t p = 0; p < kb; p++) {
        const float *src = b + p * ldb;
        float *d = dst + p * nr;
        for (size_t t = 0; t + 1 < panels; t++)
            memcpy(d + t * nr * kb, src + t * nr, nr * sizeof(float));
        float *dl = d + (panels - 1) * nr * kb;
        memcpy(dl, src + (panels - 1) * nr, last * sizeof(float));
        for (size_t j = last; j < nr; j++)
            dl[j] = 0.0f;
    }
}
