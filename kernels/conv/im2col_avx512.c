// AVX-512 im2col / col2im / transpose: the row primitives of im2col_template.h on 16 lanes
// with __mmask16 tails, stride-2 gathers by a two-register permute, and 16x16 register
// transposes.
#include <immintrin.h>
#include <stdint.h>

#include "kernels/conv/im2col.h"

#define MIMIC_CONV_ISA avx512

// The first r lanes (none for r <= 0, all for r >= 16).
static inline __mmask16 lanes(int64_t r)
{
    if (r <= 0)
        return 0;
    return r >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << r) - 1u);
}

// Stores aligned to 64 bytes (a masked head first): a misaligned 64-byte store writes two
// cache lines. Not for a short row (a slab's 28 or 14 floats): there the head was one more
// masked store and branch for no line saved.
static inline void copy_row(float *dst, const float *src, int64_t n)
{
    int64_t i = n < 64 ? 0 : (int64_t)((64 - (uintptr_t)dst % 64) % 64 / sizeof(float));
    if (i > n)
        i = n;
    if (i > 0) {
        const __mmask16 k = lanes(i);
        _mm512_mask_storeu_ps(dst, k, _mm512_maskz_loadu_ps(k, src));
    }
    for (; i + 64 <= n; i += 64) {
        const __m512 v0 = _mm512_loadu_ps(src + i), v1 = _mm512_loadu_ps(src + i + 16);
        const __m512 v2 = _mm512_loadu_ps(src + i + 32), v3 = _mm512_loadu_ps(src + i + 48);
        _mm512_storeu_ps(dst + i, v0);
        _mm512_storeu_ps(dst + i + 16, v1);
        _mm512_storeu_ps(dst + i + 32, v2);
        _mm512_storeu_ps(dst + i + 48, v3);
    }
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
    if (i < n) {
        const __mmask16 k = lanes(n - i);
        _mm512_mask_storeu_ps(dst + i, k, _mm512_maskz_loadu_ps(k, src + i));
    }
}

// Masked stores, however few the elements: the plain-store loop that a slab row's one or two
// padding columns took before, GCC compiled into a call of memset (docs/conv.md).
static inline void zero_row(float *dst, int64_t n)
{
    if (n <= 0)
        return;
    if (n < 16) {
        _mm512_mask_storeu_ps(dst, (__mmask16)((1u << n) - 1u), _mm512_setzero_ps());
        return;
    }
    for (int64_t i = 0; i < n; i += 16)
        _mm512_mask_storeu_ps(dst + i, lanes(n - i), _mm512_setzero_ps());
}

// Stride 2: the even lanes of two consecutive vectors. Reads stop at src[2*(n-1)].
static inline void gather_row_s2(float *dst, const float *src, int64_t n)
{
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int64_t i = 0; i < n; i += 16) {
        const int64_t avail = 2 * (n - i) - 1; // readable floats from src + 2i
        const __m512 lo = _mm512_maskz_loadu_ps(lanes(avail), src + 2 * i);
        const __m512 hi = avail > 16 ? _mm512_maskz_loadu_ps(lanes(avail - 16), src + 2 * i + 16)
                                     : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(dst + i, lanes(n - i), _mm512_permutex2var_ps(lo, even, hi));
    }
}

static inline void gather_row(float *dst, const float *src, int64_t n, int64_t stride)
{
    if (stride == 2) {
        gather_row_s2(dst, src, n);
        return;
    }
    if (stride >= (1 << 26)) { // 15 * stride must fit the gather's 32-bit indices
        for (int64_t i = 0; i < n; i++)
            dst[i] = src[i * stride];
        return;
    }
    const __m512i idx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32((int)stride));
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = lanes(n - i);
        const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, idx, src + i * stride, 4);
        _mm512_mask_storeu_ps(dst + i, k, v);
    }
}

static inline void add_row(float *dst, const float *src, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = lanes(n - i);
        const __m512 v =
            _mm512_add_ps(_mm512_maskz_loadu_ps(k, dst + i), _mm512_maskz_loadu_ps(k, src + i));
        _mm512_mask_storeu_ps(dst + i, k, v);
    }
}

#define VL 16
typedef __m512 vf;

static inline vf v_load(const float *p)
{
    return _mm512_loadu_ps(p);
}

static inline void v_store(float *p, vf v)
{
    _mm512_storeu_ps(p, v);
}

static inline vf v_loadz_bits(uint32_t bits, const float *p)
{
    return _mm512_maskz_loadu_ps((__mmask16)bits, p);
}

static inline void v_store_bits(float *p, vf v, uint32_t bits)
{
    _mm512_mask_storeu_ps(p, (__mmask16)bits, v);
}

static inline vf v_bias_act(vf x, float b, int relu)
{
    const vf v = _mm512_add_ps(x, _mm512_set1_ps(b));
    if (!relu)
        return v;
    // Zero where v < 0 (false for NaN, which is kept).
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v,
                                _mm512_setzero_ps());
}

static inline vf v_keep_pos(vf y, vf m)
{
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_GT_OQ), y);
}

// fwd_taps: 4 rows x 6 vectors (96 pixels) = 24 accumulators, the tap's 6 vectors and a
// broadcast weight: 31 of the 32 registers.
#define TAPS_MR 4
#define TAPS_NV 6

static inline vf v_zero(void)
{
    return _mm512_setzero_ps();
}

static inline vf v_set1(float x)
{
    return _mm512_set1_ps(x);
}

static inline vf v_fma(vf a, vf b, vf c)
{
    return _mm512_fmadd_ps(a, b, c);
}

#include "kernels/conv/im2col_template.h"

// A rows x cols block (both <= 16) of src, transposed into dst: rows past `rows` read as
// zeros, lanes past `cols` are not read, only `cols` rows of `rows` lanes are stored.
static void transpose_16x16(size_t rows, size_t cols, const float *src, size_t lds, float *dst,
                            size_t ldd)
{
    __m512 a[16], t[16];
    const __mmask16 kc = lanes((int64_t)cols), kr = lanes((int64_t)rows);
    for (size_t i = 0; i < 16; i++)
        a[i] = i < rows ? _mm512_maskz_loadu_ps(kc, src + i * lds) : _mm512_setzero_ps();
    // Pairs of rows interleaved, then pairs of pairs: within each 128-bit lane L,
    // a[4g + m] holds rows 4g..4g+3 of column 4L + m.
    for (size_t i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(a[i], a[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(a[i], a[i + 1]);
    }
    for (size_t i = 0; i < 16; i += 4) {
        const __m512d t0 = _mm512_castps_pd(t[i]), t1 = _mm512_castps_pd(t[i + 1]);
        const __m512d t2 = _mm512_castps_pd(t[i + 2]), t3 = _mm512_castps_pd(t[i + 3]);
        a[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        a[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        a[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        a[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    // Gather the four 128-bit lanes of each column: column 4L + m is lane L of a[m],
    // a[4 + m], a[8 + m], a[12 + m].
    for (size_t m = 0; m < 4; m++) {
        const __m512 v0 = _mm512_shuffle_f32x4(a[m], a[4 + m], 0x44);
        const __m512 v1 = _mm512_shuffle_f32x4(a[m], a[4 + m], 0xee);
        const __m512 v2 = _mm512_shuffle_f32x4(a[8 + m], a[12 + m], 0x44);
        const __m512 v3 = _mm512_shuffle_f32x4(a[8 + m], a[12 + m], 0xee);
        t[m] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        t[4 + m] = _mm512_shuffle_f32x4(v0, v2, 0xdd);
        t[8 + m] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        t[12 + m] = _mm512_shuffle_f32x4(v1, v3, 0xdd);
    }
    for (size_t j = 0; j < cols; j++)
        _mm512_mask_storeu_ps(dst + j * ldd, kr, t[j]);
}

void mimic_transpose__avx512(size_t rows, size_t cols, const float *src, size_t lds, float *dst,
                             size_t ldd)
{
    for (size_t i0 = 0; i0 < rows; i0 += 16)
        for (size_t j0 = 0; j0 < cols; j0 += 16)
            transpose_16x16(rows - i0 < 16 ? rows - i0 : 16, cols - j0 < 16 ? cols - j0 : 16,
                            src + i0 * lds + j0, lds, dst + j0 * ldd + i0, ldd);
}
