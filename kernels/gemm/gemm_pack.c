// Packing of A and B into the panel layouts the microkernels read (absorbs transposes and alpha).
#include <string.h>

#include "kernels/gemm/gemm_internal.h"

// op(A) = A: the panel is the transpose of a rows x kb block. One strided scalar store per
// element took a quarter of a 16^3 GEMM; the ISA's register transpose moves whole vectors.
static void pack_a_panel(mimic_transpose_fn tr, size_t rows, size_t kb, float alpha,
                         const float *A, size_t lda, size_t mr, float *dst)
{
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

// mr floats of a panel column from src (alpha = 1, a full panel): a copy of a size the
// compiler knows for the microkernels' MR, so it is a couple of vector moves, not a call.
static void copy_mr(float *d, const float *src, size_t mr)
{
    switch (mr) {
    case 4:
        memcpy(d, src, 4 * sizeof(float));
        break;
    case 6:
        memcpy(d, src, 6 * sizeof(float));
        break;
    case 8:
        memcpy(d, src, 8 * sizeof(float));
        break;
    default:
        memcpy(d, src, mr * sizeof(float));
    }
}

// op(A) = A^T: row i of op(A) is column i of A, so a panel column is a contiguous run of a
// row of A. PACK_AT_ROWS rows of A at a time across all the panels of the block, so each of
// those rows is read as one run (panel by panel, every step read 32 bytes of another row lda
// apart: the packing was a quarter of a 5541x128x128 TN product, 15 % this way).
#define PACK_AT_ROWS 16

static void pack_at_rows(size_t mb, size_t kb, float alpha, const float *A, size_t lda,
                         size_t mr, float *dst)
{
    const size_t panels = (mb + mr - 1) / mr, last = mb - (panels - 1) * mr;
    for (size_t p0 = 0; p0 < kb; p0 += PACK_AT_ROWS) {
        const size_t p1 = p0 + PACK_AT_ROWS < kb ? p0 + PACK_AT_ROWS : kb;
        for (size_t t = 0; t < panels; t++) {
            const size_t rows = t + 1 < panels ? mr : last;
            for (size_t p = p0; p < p1; p++) {
                const float *src = A + p * lda + t * mr;
                float *d = dst + t * mr * kb + p * mr;
                if (rows == mr && alpha == 1.0f) {
                    copy_mr(d, src, mr);
                    continue;
                }
                for (size_t i = 0; i < rows; i++)
                    d[i] = alpha * src[i];
                for (size_t i = rows; i < mr; i++)
                    d[i] = 0.0f;
            }
        }
    }
}

void mimic_gemm_pack_a(mimic_transpose_fn tr, int trans, size_t mb, size_t kb, float alpha,
                       const float *A, size_t lda, size_t i0, size_t p0, size_t mr, float *dst)
{
    if (trans) {
        pack_at_rows(mb, kb, alpha, A + p0 * lda + i0, lda, mr, dst);
        return;
    }
    for (size_t t = 0; t * mr < mb; t++) {
        const size_t i = i0 + t * mr;
        const size_t rows = mb - t * mr < mr ? mb - t * mr : mr;
        pack_a_panel(tr, rows, kb, alpha, A + i * lda + p0, lda, mr, dst + t * mr * kb);
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

// n floats, n one of the tiles' NR: a constant size, so the compiler moves them inline
// instead of calling memcpy for every 32 to 128 bytes (with the rows prefetched, the calls
// cost skinny products about 10 %: docs/gemm.md).
static inline void copy_panel_row(float *d, const float *s, size_t n)
{
    switch (n) {
    case 32:
        memcpy(d, s, 32 * sizeof(float));
        break;
    case 16:
        memcpy(d, s, 16 * sizeof(float));
        break;
    case 8:
        memcpy(d, s, 8 * sizeof(float));
        break;
    default:
        memcpy(d, s, n * sizeof(float));
    }
}

// How many rows of B ahead the copy prefetches, when asked: each row's run is one block's
// panels, a few KB, too short for the hardware prefetcher to get ahead of.
#define PACK_B_PREFETCH_ROWS 4

void mimic_gemm_pack_b_rows(size_t kb, size_t panels, size_t last, const float *b, size_t ldb,
                            size_t nr, int prefetch, float *dst)
{
    const size_t run = (panels - 1) * nr + last; // floats of each row
    for (size_t p = 0; p < kb; p++) {
        const float *src = b + p * ldb;
        float *d = dst + p * nr;
        if (prefetch && p + PACK_B_PREFETCH_ROWS < kb)
            for (size_t j = 0; j < run; j += 16)
                __builtin_prefetch(src + PACK_B_PREFETCH_ROWS * ldb + j, 0, 3);
        for (size_t t = 0; t + 1 < panels; t++)
            copy_panel_row(d + t * nr * kb, src + t * nr, nr);
        float *dl = d + (panels - 1) * nr * kb;
        memcpy(dl, src + (panels - 1) * nr, last * sizeof(float));
        for (size_t j = last; j < nr; j++)
            dl[j] = 0.0f;
    }
}
