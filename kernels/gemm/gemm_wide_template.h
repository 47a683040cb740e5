// The wide GEMM tile for a C of at most 4 rows (matrix-vector products, B read in place),
// written once for every ISA that has one. Include it after defining:
//   V, VLEN               the vector type and its float lanes
//   VMASK                 the type of a lane mask for masked loads and stores
//   WIDE_VECS             the accumulators: R rows (1, 2 or 4) x WIDE_VECS / R vectors, so the
//                         tile is R x (WIDE_VECS * VLEN / R) columns (the table's wide_nr / R)
//   WIDE_B_IN_REGS        1: each k step loads the row's vectors once, then the rows' FMAs use
//                         them (a register file with room for them); 0: loaded per row, where
//                         the compiler folds each into its FMA (AVX2's 16 registers)
//   v_zero(), v_set1(x), v_load(p), v_fma(a, b, acc)
//   v_mask(n, first)      the lanes of the vector at column `first` below n
//   v_load_mask(p, k), v_store_mask(p, k, v)
// and name the entry point with WIDE_FN.
//
// C[0:m, 0:n] = A B + beta C for m <= 4 rows, n <= the strip, A packed or strided (a_stride),
// B's rows b_stride apart, read only within n columns; each k step reads one contiguous run
// of B's row. Each element is the MR x NR tile's sum (from zero over the slice in k order,
// then + beta * C by one FMA; beta == 0 never reads C): the same bits.
#include <stddef.h>

static inline __attribute__((always_inline)) void
wide_body(const int R, const int masked, size_t m, size_t n, size_t kc, const float *a,
          size_t a_stride, const float *b, size_t b_stride, float *c, size_t ldc, float beta)
{
    const int NV = WIDE_VECS / R;
    VMASK k[WIDE_VECS];
    V acc[4][WIDE_VECS];
#pragma GCC unroll 16
    for (int v = 0; v < NV; v++) {
        k[v] = v_mask(n, (size_t)v * VLEN);
#pragma GCC unroll 4
        for (int i = 0; i < R; i++)
            acc[i][v] = v_zero();
    }
    for (size_t p = 0; p < kc; p++) {
        V vb[WIDE_VECS];
#pragma GCC unroll 16
        for (int v = 0; v < NV && WIDE_B_IN_REGS; v++)
            vb[v] = masked ? v_load_mask(b + v * VLEN, k[v]) : v_load(b + v * VLEN);
#pragma GCC unroll 4
        for (int i = 0; i < R; i++) {
            const V va = v_set1(a[i]);
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) {
                const V bv = WIDE_B_IN_REGS ? vb[v]
                             : masked       ? v_load_mask(b + v * VLEN, k[v])
                                            : v_load(b + v * VLEN);
                acc[i][v] = v_fma(va, bv, acc[i][v]);
            }
        }
        a += a_stride;
        b += b_stride;
    }
    const V vbeta = v_set1(beta);
#pragma GCC unroll 4
    for (int i = 0; i < R; i++) {
        if ((size_t)i >= m)
            break;
        float *ci = c + (size_t)i * ldc;
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) {
            if (beta != 0.0f)
                acc[i][v] = v_fma(vbeta, v_load_mask(ci + v * VLEN, k[v]), acc[i][v]);
            v_store_mask(ci + v * VLEN, k[v], acc[i][v]);
        }
    }
}

static inline __attribute__((always_inline)) void
wide_rows(const int R, size_t m, size_t n, size_t kc, const float *a, size_t a_stride,
          const float *b, size_t b_stride, float *c, size_t ldc, float beta)
{
    if (n < (size_t)(WIDE_VECS * VLEN / R))
        wide_body(R, 1, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
    else
        wide_body(R, 0, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
}

void WIDE_FN(size_t m, size_t n, size_t kc, const float *a, size_t a_stride, const float *b,
             size_t b_stride, float *c, size_t ldc, float beta)
{
    if (m > 2)
        wide_rows(4, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
    else if (m > 1)
        wide_rows(2, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
    else
        wide_rows(1, m, n, kc, a, a_stride, b, b_stride, c, ldc, beta);
}
