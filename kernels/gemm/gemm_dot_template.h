// The dot-product GEMM tile, written once for every ISA. Include it after defining:
//   V, VLEN                 the vector type and its float lanes
//   v_zero()                all lanes 0
//   v_load(p)               VLEN floats from p (unaligned)
//   v_load_tail(p, r)       r < VLEN floats from p, the other lanes 0 (reads nothing past p + r)
//   v_fma(a, b, acc)        acc + a * b
//   v_keep(x)               keeps x in a register (AVX-512: else GCC folds the B load into each
//                           of the MR FMAs that use it, MR loads instead of one); may be empty
//   v_sum4(a, b, c, d, out) out[0..3] = the lane sums of a, b, c, d
//   DOT_MR, DOT_NR          the tile, sized to the register file
//   DOT_A_FIRST             1: the MR rows of A are loaded first and each B vector streamed
//                           through them (MR*NR + MR + 1 registers); 0: the NR B vectors first
//                           and each A vector streamed (MR*NR + NR + 1: the AVX2 tile's 16)
// and name the entry point with DOT_FN.
//
// C[i][j] = alpha * sum_p A[i*lda + p] * B_j[p] + beta * C[i*ldc + j], i < m <= DOT_MR,
// j < n <= DOT_NR, B_j = b[j] (beta == 0 never reads C). Both operands hold K contiguously
// (op(A) = A, op(B) = B^T), so K runs along the lanes and nothing is packed: the form for
// GEMMs with few columns and a long K (a classifier's logits, 128 x 10 x 1024), where an
// NR-wide tile would compute mostly padding, and for the convolution's backward-weights with
// few taps, whose B rows are the taps of a padded image at their offsets (any rows, hence the
// table). Rows past m repeat the last valid one and are not stored; only n columns are
// computed (the body is specialized per n). pf, if not NULL: the DOT_MR * (k rounded down to
// VLEN) floats from pf on are prefetched into L1 along the way, DOT_MR * VLEN floats per step
// (the caller's next A rows, when they lie contiguous); a prefetch never faults, and nothing
// else reads them here. Each element is summed in the same order whatever the tile's
// position, n, m or pf (the lane sums of one column are one v_sum4 lane).
#include <stddef.h>

#define DOT_NC ((DOT_NR + 3) / 4 * 4) // accumulator columns, whole v_sum4 groups

static inline __attribute__((always_inline)) void
dot_body(size_t m, const int n, const int prefetch, size_t k, const float *a, size_t lda,
         const float *const *b, float *c, size_t ldc, float alpha, float beta, const float *pf)
{
    const float *ar[DOT_MR], *br[DOT_NR];
    for (size_t i = 0; i < DOT_MR; i++)
        ar[i] = a + (i < m ? i : m - 1) * lda;
#pragma GCC unroll 16
    for (int j = 0; j < n; j++)
        br[j] = b[j];
    // Columns from n on stay zero and fold away in v_sum4.
    V acc[DOT_MR][DOT_NC];
#pragma GCC unroll 16
    for (int i = 0; i < DOT_MR; i++)
#pragma GCC unroll 16
        for (int j = 0; j < DOT_NC; j++)
            acc[i][j] = v_zero();
    size_t p = 0;
    for (; p + VLEN <= k; p += VLEN) {
        if (prefetch)
#pragma GCC unroll 16
            for (int u = 0; u < DOT_MR * VLEN; u += 16)
                __builtin_prefetch(pf + p * DOT_MR + u, 0, 3);
#if DOT_A_FIRST
        V va[DOT_MR];
#pragma GCC unroll 16
        for (int i = 0; i < DOT_MR; i++)
            va[i] = v_load(ar[i] + p);
#pragma GCC unroll 16
        for (int j = 0; j < n; j++) {
            V vb = v_load(br[j] + p);
            v_keep(vb);
#pragma GCC unroll 16
            for (int i = 0; i < DOT_MR; i++)
                acc[i][j] = v_fma(va[i], vb, acc[i][j]);
        }
#else
        V vb[DOT_NR];
#pragma GCC unroll 16
        for (int j = 0; j < n; j++)
            vb[j] = v_load(br[j] + p);
#pragma GCC unroll 16
        for (int i = 0; i < DOT_MR; i++) {
            const V va = v_load(ar[i] + p);
#pragma GCC unroll 16
            for (int j = 0; j < n; j++)
                acc[i][j] = v_fma(va, vb[j], acc[i][j]);
        }
#endif
    }
    if (p < k) {
        const size_t r = k - p;
#pragma GCC unroll 16
        for (int i = 0; i < DOT_MR; i++) {
            const V va = v_load_tail(ar[i] + p, r);
#pragma GCC unroll 16
            for (int j = 0; j < n; j++)
                acc[i][j] = v_fma(va, v_load_tail(br[j] + p, r), acc[i][j]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < DOT_MR; i++) {
        if ((size_t)i >= m)
            break;
        float *ci = c + (size_t)i * ldc;
#pragma GCC unroll 4
        for (int j0 = 0; j0 < n; j0 += 4) {
            float s[4];
            v_sum4(acc[i][j0], acc[i][j0 + 1], acc[i][j0 + 2], acc[i][j0 + 3], s);
            for (int j = j0; j < n && j < j0 + 4; j++)
                ci[j] = beta == 0.0f ? alpha * s[j - j0] : alpha * s[j - j0] + beta * ci[j];
        }
    }
}

void DOT_FN(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *const *b,
            float *c, size_t ldc, float alpha, float beta, const float *pf)
{
    switch (n * 2 + (pf != NULL)) {
#define DOT_CASE(N)                                                                                \
    case 2 * (N):                                                                                  \
        dot_body(m, N, 0, k, a, lda, b, c, ldc, alpha, beta, pf);                                  \
        break;                                                                                     \
    case 2 * (N) + 1:                                                                              \
        dot_body(m, N, 1, k, a, lda, b, c, ldc, alpha, beta, pf);                                  \
        break;
        DOT_CASE(1)
#if DOT_NR > 1
        DOT_CASE(2)
#endif
#if DOT_NR > 2
        DOT_CASE(3)
#endif
#if DOT_NR > 3
        DOT_CASE(4)
#endif
#if DOT_NR > 4
        DOT_CASE(5)
#endif
#if DOT_NR > 5
        DOT_CASE(6)
#endif
#if DOT_NR > 6
#error "gemm_dot_template.h: DOT_NR > 6 needs more cases"
#endif
#undef DOT_CASE
    default:
        break;
    }
}
