// The dot-product GEMM tile, written once for every ISA. Include it after defining:
//   V, VLEN                 the vector type and its float lanes
//   v_zero()                all lanes 0
//   v_load(p)               VLEN floats from p (unaligned)
//   v_load_tail(p, r)       r < VLEN floats from p, the other lanes 0 (reads nothing past p + r)
//   v_fma(a, b, acc)        acc + a * b
//   v_sum4(a, b, c, d, out) out[0..3] = the lane sums of a, b, c, d
//   DOT_MR, DOT_NR          the tile (DOT_NR <= 4), sized to the register file
// and name the entry point with DOT_FN.
//
// C[i][j] = alpha * sum_p A[i*lda + p] * B[j*ldb + p] + beta * C[i*ldc + j], i < m <= DOT_MR,
// j < n <= DOT_NR (beta == 0 never reads C). Both operands hold K contiguously (op(A) = A,
// op(B) = B^T), so K runs along the lanes and nothing is packed: the form for GEMMs with few
// columns and a long K (a classifier's logits, 128 x 10 x 1024), where an NR-wide tile would
// compute mostly padding. Rows past m (columns past n) repeat the last valid one and are not
// stored. Each element is summed in the same order whatever the caller's threading.
#include <stddef.h>

void DOT_FN(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
            float *c, size_t ldc, float alpha, float beta)
{
    const float *ar[DOT_MR], *br[DOT_NR];
    for (size_t i = 0; i < DOT_MR; i++)
        ar[i] = a + (i < m ? i : m - 1) * lda;
    for (size_t j = 0; j < DOT_NR; j++)
        br[j] = b + (j < n ? j : n - 1) * ldb;
    // Four columns always: those past DOT_NR stay zero and fold away in v_sum4.
    V acc[DOT_MR][4];
#pragma GCC unroll 8
    for (int i = 0; i < DOT_MR; i++)
#pragma GCC unroll 8
        for (int j = 0; j < 4; j++)
            acc[i][j] = v_zero();
    size_t p = 0;
    for (; p + VLEN <= k; p += VLEN) {
        V vb[DOT_NR];
#pragma GCC unroll 8
        for (int j = 0; j < DOT_NR; j++)
            vb[j] = v_load(br[j] + p);
#pragma GCC unroll 8
        for (int i = 0; i < DOT_MR; i++) {
            const V va = v_load(ar[i] + p);
#pragma GCC unroll 8
            for (int j = 0; j < DOT_NR; j++)
                acc[i][j] = v_fma(va, vb[j], acc[i][j]);
        }
    }
    if (p < k) {
        const size_t r = k - p;
        V vb[DOT_NR];
#pragma GCC unroll 8
        for (int j = 0; j < DOT_NR; j++)
            vb[j] = v_load_tail(br[j] + p, r);
#pragma GCC unroll 8
        for (int i = 0; i < DOT_MR; i++) {
            const V va = v_load_tail(ar[i] + p, r);
#pragma GCC unroll 8
            for (int j = 0; j < DOT_NR; j++)
                acc[i][j] = v_fma(va, vb[j], acc[i][j]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < DOT_MR; i++) {
        if ((size_t)i >= m)
            break;
        float s[4];
        v_sum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3], s);
        float *ci = c + (size_t)i * ldc;
        for (size_t j = 0; j < n; j++)
            ci[j] = beta == 0.0f ? alpha * s[j] : alpha * s[j] + beta * ci[j];
    }
}
