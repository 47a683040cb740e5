// AVX2+FMA GEMM microkernel, 6x16: 12 ymm accumulators (6 rows x 2 vectors), two B loads and
// six A broadcasts per k step; with the two B vectors and one broadcast that is 15 of the 16
// ymm registers. Edges use masked loads and stores (vmaskmovps), never a scalar loop.
// One body, four entry points (GEMM, GEMM with a prefetch stream, and the convolution's
// B-offset and A-offset forms: see arch/kernels.h); the unused forms fold away at compile time.
#include <immintrin.h>

#include "kernels/gemm/gemm_ukernels.h"

#define MR 6

#define FMA_ROW(i)                                                                                 \
    do {                                                                                           \
        const __m256 va = _mm256_broadcast_ss(a_offs ? arow##i : a + i);                         \
        vacc##i##x0 = _mm256_fmadd_ps(va, vb0, vacc##i##x0);                                       \
        vacc##i##x1 = _mm256_fmadd_ps(va, vb1, vacc##i##x1);                                       \
    } while (0)

#define STORE_ROW(i)                                                                               \
    do {                                                                                           \
        if (m > i) {                                                                               \
            float *ci = c + i * ldc;                                                               \
            if (beta != 0.0f) {                                                                    \
                vacc##i##x0 = _mm256_fmadd_ps(vbeta, _mm256_maskload_ps(ci, vmask0), vacc##i##x0); \
                vacc##i##x1 =                                                                      \
                    _mm256_fmadd_ps(vbeta, _mm256_maskload_ps(ci + 8, vmask1), vacc##i##x1);       \
            }                                                                                      \
            _mm256_maskstore_ps(ci, vmask0, vacc##i##x0);                                          \
            _mm256_maskstore_ps(ci + 8, vmask1, vacc##i##x1);                                      \
        }                                                                                          \
    } while (0)

// Lane j of the mask for a vector starting at column `first` is set when first + j < n.
static inline __m256i column_mask(size_t n, size_t first)
{
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const int valid = n > first ? (int)(n - first < 8 ? n - first : 8) : 0;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), lanes);
}

// rows (4 or 6, a constant): the rows computed. Four for m <= 4: an M of 32 leaves a last
// panel of 2 rows, 64 one of 4, which the full tile computes at the cost of 6. Four rows take
// 4 cycles per k step (their 8 FMAs, or the FMA latency for fewer rows) against the full
// tile's 6: AVX2 layer 2 forward and backward-data 0.79-0.80x -> 0.82-0.84x oneDNN, layer 3
// backward-data 0.71 -> 0.74x (docs/conv.md).
static inline __attribute__((always_inline)) void
tile(const int rows, size_t m, size_t n, size_t kc, const float *a, size_t a_stride,
     const int64_t *a_offs, const float *b, size_t b_stride, const int64_t *b_offs, float *c,
     size_t ldc, float beta, const float *pf, size_t pf_stride, unsigned pf_shift)
{
    const size_t pf_every = ((size_t)1 << pf_shift) - 1;
    // The C tile is read (beta != 0) and written only after the k loop: start fetching it now
    // so those accesses do not stall on memory.
    for (size_t i = 0; i < m; i++)
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
    // A's rows by offset (aoff): six pointers bumped each step, which GCC keeps in registers
    // (indexed from an array it spilled them to the stack: six more loads per step, and the
    // 32^3 product ran at 35-57 of this core's 80 GFLOP/s).
    const float *arow0 = a_offs ? a + a_offs[0] : a, *arow1 = a_offs ? a + a_offs[1] : a;
    const float *arow2 = a_offs ? a + a_offs[2] : a, *arow3 = a_offs ? a + a_offs[3] : a;
    const float *arow4 = a_offs ? a + a_offs[4] : a, *arow5 = a_offs ? a + a_offs[5] : a;
    __m256 vacc0x0 = _mm256_setzero_ps(), vacc0x1 = _mm256_setzero_ps();
    __m256 vacc1x0 = _mm256_setzero_ps(), vacc1x1 = _mm256_setzero_ps();
    __m256 vacc2x0 = _mm256_setzero_ps(), vacc2x1 = _mm256_setzero_ps();
    __m256 vacc3x0 = _mm256_setzero_ps(), vacc3x1 = _mm256_setzero_ps();
    __m256 vacc4x0 = _mm256_setzero_ps(), vacc4x1 = _mm256_setzero_ps();
    __m256 vacc5x0 = _mm256_setzero_ps(), vacc5x1 = _mm256_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        const float *bp = b_offs ? b + b_offs[p] : b;
        const __m256 vb0 = _mm256_loadu_ps(bp);
        const __m256 vb1 = _mm256_loadu_ps(bp + 8);
        FMA_ROW(0);
        FMA_ROW(1);
        FMA_ROW(2);
        FMA_ROW(3);
        if (rows > 4) {
            FMA_ROW(4);
            FMA_ROW(5);
        }
        if (pf && (p & pf_every) == 0) {
            _mm_prefetch((const char *)pf, _MM_HINT_T1);
            pf += pf_stride;
        }
        if (a_offs) {
            arow0++, arow1++, arow2++, arow3++, arow4++, arow5++;
        } else {
            a += a_stride;
        }
        if (!b_offs)
            b += b_stride;
    }
    const __m256i vmask0 = column_mask(n, 0);
    const __m256i vmask1 = column_mask(n, 8);
    const __m256 vbeta = _mm256_set1_ps(beta);
    STORE_ROW(0);
    STORE_ROW(1);
    STORE_ROW(2);
    STORE_ROW(3);
    STORE_ROW(4);
    STORE_ROW(5);
}

void mimic_gemm_f32_ukernel_6x16__avx2(size_t m, size_t n, size_t kc, const float *a,
                                       size_t a_stride, const float *b, size_t b_stride, float *c,
                                       size_t ldc, float beta)
{
    if (m <= 4)
        tile(4, m, n, kc, a, a_stride, NULL, b, b_stride, NULL, c, ldc, beta, NULL, 0, 0);
    else
        tile(MR, m, n, kc, a, a_stride, NULL, b, b_stride, NULL, c, ldc, beta, NULL, 0, 0);
}

void mimic_gemm_f32_ukernel_6x16_pf__avx2(size_t m, size_t n, size_t kc, const float *a,
                                          size_t a_stride, const float *b, size_t b_stride,
                                          float *c, size_t ldc, float beta, const float *pf,
                                          size_t pf_stride, unsigned pf_shift)
{
    MIMIC_UKERNEL_OFFSETS(pf);
    if (m <= 4)
        tile(4, m, n, kc, a, a_stride, NULL, b, b_stride, NULL, c, ldc, beta, pf, pf_stride,
             pf_shift);
    else
        tile(MR, m, n, kc, a, a_stride, NULL, b, b_stride, NULL, c, ldc, beta, pf, pf_stride,
             pf_shift);
}

void mimic_gemm_f32_ukernel_6x16_boff__avx2(size_t m, size_t n, size_t kc, const float *a,
                                            const float *b, const int64_t *b_offs, float *c,
                                            size_t ldc, float beta)
{
    MIMIC_UKERNEL_OFFSETS(b_offs);
    if (m <= 4)
        tile(4, m, n, kc, a, MR, NULL, b, 0, b_offs, c, ldc, beta, NULL, 0, 0);
    else
        tile(MR, m, n, kc, a, MR, NULL, b, 0, b_offs, c, ldc, beta, NULL, 0, 0);
}

void mimic_gemm_f32_ukernel_6x16_aoff__avx2(size_t m, size_t n, size_t kc, const float *a,
                                            const int64_t *a_offs, const float *b, size_t b_stride,
                                            float *c, size_t ldc, float beta)
{
    MIMIC_UKERNEL_OFFSETS(a_offs);
    if (m <= 4)
        tile(4, m, n, kc, a, 0, a_offs, b, b_stride, NULL, c, ldc, beta, NULL, 0, 0);
    else
        tile(MR, m, n, kc, a, 0, a_offs, b, b_stride, NULL, c, ldc, beta, NULL, 0, 0);
}
