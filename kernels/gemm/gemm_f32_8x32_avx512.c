// AVX-512 GEMM microkernel, 8x32: 16 zmm accumulators (8 rows x 2 vectors), two B loads and
// eight A broadcasts per k step. 16 independent FMA chains cover the 4-cycle FMA latency on
// two pipes with room to spare; edges use masked loads and stores, never a scalar loop. The
// packed forms also take up to 12 rows (mr_max), rows 8.. from the next packed panel of A:
// 24 accumulators, 2 B vectors and a broadcast still fit the 32 registers, and a product's
// last partial panel then shares the pass over B with the one before (gemm.c, merged_tail).
// One body, four entry points: packed A and B rows p*b_stride apart (GEMM), the same with a
// prefetch stream, B rows at offsets (the convolution's forward: rows of the padded input),
// and A rows at offsets (backward-weights); the unused forms fold away at compile time.
#include <immintrin.h>

#include "kernels/gemm/gemm_ukernels.h"

#define MR 8

// Row i: acc += A[i][p] * (b0, b1).
#define FMA_ROW(i)                                                                                 \
    do {                                                                                           \
        if (rows <= i)                                                                             \
            break;                                                                                 \
        const __m512 va = _mm512_set1_ps(a_offs ? arow[i][p] : i < MR ? a[i] : a2[i - MR]);        \
        vacc##i##x0 = _mm512_fmadd_ps(va, vb0, vacc##i##x0);                                       \
        vacc##i##x1 = _mm512_fmadd_ps(va, vb1, vacc##i##x1);                                       \
    } while (0)

// Row i of C (if it exists) = acc (+ beta * C), masked to the nr valid columns.
#define STORE_ROW(i)                                                                               \
    do {                                                                                           \
        if (m > i) {                                                                               \
            float *ci = c + i * ldc;                                                               \
            if (beta != 0.0f) {                                                                    \
                vacc##i##x0 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(k0, ci), vacc##i##x0);  \
                vacc##i##x1 =                                                                      \
                    _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(k1, ci + 16), vacc##i##x1);       \
            }                                                                                      \
            _mm512_mask_storeu_ps(ci, k0, vacc##i##x0);                                            \
            _mm512_mask_storeu_ps(ci + 16, k1, vacc##i##x1);                                       \
        }                                                                                          \
    } while (0)

// masked: B is loaded under the column masks (a partial panel: nothing past column n is read,
// so it can stay in place); full panels load plainly, since the masked loads measured 7-10 %
// slower in the k loop (1024^3 0.90 -> 0.84x oneDNN, 64^3 1.02 -> 0.91x). rows (a constant
// at each call: 12, 10, 8, 4, 2 or 1, at least m) is how many rows the k loop computes, so
// that a partial panel of a few rows does not pay for all eight. Rows from MR on (packed A
// only) are read from a2, the next panel: the same FMAs per element as its own tile's.
static inline __attribute__((always_inline)) void
tile_body(size_t m, size_t n, size_t kc, const float *a, size_t a_stride, const int64_t *a_offs,
          const float *b, size_t b_stride, const int64_t *b_offs, float *c, size_t ldc, float beta,
          int masked, int rows, const float *pf, size_t pf_stride, unsigned pf_shift)
{
    const size_t pf_every = ((size_t)1 << pf_shift) - 1;
    // The C tile is read (beta != 0) and written only after the k loop: start fetching it now
    // so those accesses do not stall on memory.
    for (size_t i = 0; i < m; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
    const float *arow[MR + 4];
    for (int i = 0; i < MR + 4; i++)
        arow[i] = a_offs && i < MR ? a + a_offs[i] : a;
    __m512 vacc0x0 = _mm512_setzero_ps(), vacc0x1 = _mm512_setzero_ps();
    __m512 vacc1x0 = _mm512_setzero_ps(), vacc1x1 = _mm512_setzero_ps();
    __m512 vacc2x0 = _mm512_setzero_ps(), vacc2x1 = _mm512_setzero_ps();
    __m512 vacc3x0 = _mm512_setzero_ps(), vacc3x1 = _mm512_setzero_ps();
    __m512 vacc4x0 = _mm512_setzero_ps(), vacc4x1 = _mm512_setzero_ps();
    __m512 vacc5x0 = _mm512_setzero_ps(), vacc5x1 = _mm512_setzero_ps();
    __m512 vacc6x0 = _mm512_setzero_ps(), vacc6x1 = _mm512_setzero_ps();
    __m512 vacc7x0 = _mm512_setzero_ps(), vacc7x1 = _mm512_setzero_ps();
    __m512 vacc8x0 = _mm512_setzero_ps(), vacc8x1 = _mm512_setzero_ps();
    __m512 vacc9x0 = _mm512_setzero_ps(), vacc9x1 = _mm512_setzero_ps();
    __m512 vacc10x0 = _mm512_setzero_ps(), vacc10x1 = _mm512_setzero_ps();
    __m512 vacc11x0 = _mm512_setzero_ps(), vacc11x1 = _mm512_setzero_ps();
    const float *a2 = a + MR * kc;
    // The n valid columns, for C's stores and a partial panel's loads.
    const __mmask16 k0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
    const __mmask16 k1 = n <= 16   ? (__mmask16)0
                         : n >= 32 ? (__mmask16)0xFFFF
                                   : (__mmask16)((1u << (n - 16)) - 1u);
    for (size_t p = 0; p < kc; p++) {
        const float *bp = b_offs ? b + b_offs[p] : b;
        const __m512 vb0 = masked ? _mm512_maskz_loadu_ps(k0, bp) : _mm512_loadu_ps(bp);
        const __m512 vb1 = masked ? _mm512_maskz_loadu_ps(k1, bp + 16) : _mm512_loadu_ps(bp + 16);
        FMA_ROW(0);
        FMA_ROW(1);
        FMA_ROW(2);
        FMA_ROW(3);
        FMA_ROW(4);
        FMA_ROW(5);
        FMA_ROW(6);
        FMA_ROW(7);
        FMA_ROW(8);
        FMA_ROW(9);
        FMA_ROW(10);
        FMA_ROW(11);
        if (pf && (p & pf_every) == 0) {
            _mm_prefetch((const char *)pf, _MM_HINT_T1);
            pf += pf_stride;
        }
        if (!a_offs)
            a += a_stride, a2 += MR;
        if (!b_offs)
            b += b_stride;
    }
    const __m512 vbeta = _mm512_set1_ps(beta);
    STORE_ROW(0);
    STORE_ROW(1);
    STORE_ROW(2);
    STORE_ROW(3);
    STORE_ROW(4);
    STORE_ROW(5);
    STORE_ROW(6);
    STORE_ROW(7);
    STORE_ROW(8);
    STORE_ROW(9);
    STORE_ROW(10);
    STORE_ROW(11);
}

static inline __attribute__((always_inline)) void
tile_rows(size_t m, size_t n, size_t kc, const float *a, size_t a_stride, const int64_t *a_offs,
          const float *b, size_t b_stride, const int64_t *b_offs, float *c, size_t ldc, float beta,
          int rows, const float *pf, size_t pf_stride, unsigned pf_shift)
{
    if (n < 32)
        tile_body(m, n, kc, a, a_stride, a_offs, b, b_stride, b_offs, c, ldc, beta, 1, rows, pf,
                  pf_stride, pf_shift);
    else
        tile_body(m, n, kc, a, a_stride, a_offs, b, b_stride, b_offs, c, ldc, beta, 0, rows, pf,
                  pf_stride, pf_shift);
}

static inline __attribute__((always_inline)) void
tile(size_t m, size_t n, size_t kc, const float *a, size_t a_stride, const int64_t *a_offs,
     const float *b, size_t b_stride, const int64_t *b_offs, float *c, size_t ldc, float beta,
     const float *pf, size_t pf_stride, unsigned pf_shift)
{
#define TILE_ROWS(rows)                                                                            \
    tile_rows(m, n, kc, a, a_stride, a_offs, b, b_stride, b_offs, c, ldc, beta, rows, pf,         \
              pf_stride, pf_shift)
    if (!a_offs && m > 10)
        TILE_ROWS(12);
    else if (!a_offs && m > 8)
        TILE_ROWS(10);
    else if (m > 4)
        TILE_ROWS(8);
    else if (m > 2)
        TILE_ROWS(4);
    else if (m > 1)
        TILE_ROWS(2);
    else
        TILE_ROWS(1);
#undef TILE_ROWS
}

void mimic_gemm_f32_ukernel_8x32__avx512(size_t m, size_t n, size_t kc, const float *a,
                                         size_t a_stride, const float *b, size_t b_stride,
                                         float *c, size_t ldc, float beta)
{
    tile(m, n, kc, a, a_stride, NULL, b, b_stride, NULL, c, ldc, beta, NULL, 0, 0);
}

void mimic_gemm_f32_ukernel_8x32_pf__avx512(size_t m, size_t n, size_t kc, const float *a,
                                            size_t a_stride, const float *b, size_t b_stride,
                                            float *c, size_t ldc, float beta, const float *pf,
                                            size_t pf_stride, unsigned pf_shift)
{
    MIMIC_UKERNEL_OFFSETS(pf);
    tile(m, n, kc, a, a_stride, NULL, b, b_stride, NULL, c, ldc, beta, pf, pf_stride, pf_shift);
}

void mimic_gemm_f32_ukernel_8x32_boff__avx512(size_t m, size_t n, size_t kc, const float *a,
                                              const float *b, const int64_t *b_offs, float *c,
                                              size_t ldc, float beta)
{
    MIMIC_UKERNEL_OFFSETS(b_offs);
    tile(m, n, kc, a, MR, NULL, b, 0, b_offs, c, ldc, beta, NULL, 0, 0);
}

void mimic_gemm_f32_ukernel_8x32_aoff__avx512(size_t m, size_t n, size_t kc, const float *a,
                                              const int64_t *a_offs, const float *b,
                                              size_t b_stride, float *c, size_t ldc, float beta)
{
    MIMIC_UKERNEL_OFFSETS(a_offs);
    tile(m, n, kc, a, 0, a_offs, b, b_stride, NULL, c, ldc, beta, NULL, 0, 0);
}
