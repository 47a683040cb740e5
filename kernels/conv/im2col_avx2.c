// AVX2 im2col / col2im / transpose: the row primitives of im2col_template.h on 8 lanes with
// vmaskmovps tails, stride-2 gathers by shuffles, other strides by vgatherdps, and 8x8
// register transposes.
#include <immintrin.h>

#include "kernels/conv/im2col.h"

#define MIMIC_CONV_ISA avx2

// Eight all-ones then eight zeros: the mask of the first r lanes starts at index 8 - r.
static const int tail_masks[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline __m256i lanes(int64_t r)
{
    return _mm256_loadu_si256((const __m256i *)(tail_masks + 8 - (r < 8 ? r : 8)));
}

static inline void copy_row(float *dst, const float *src, int64_t n)
{
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256 v0 = _mm256_loadu_ps(src + i), v1 = _mm256_loadu_ps(src + i + 8);
        const __m256 v2 = _mm256_loadu_ps(src + i + 16), v3 = _mm256_loadu_ps(src + i + 24);
        _mm256_storeu_ps(dst + i, v0);
        _mm256_storeu_ps(dst + i + 8, v1);
        _mm256_storeu_ps(dst + i + 16, v2);
        _mm256_storeu_ps(dst + i + 24, v3);
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i));
    if (i < n) {
        const __m256i k = lanes(n - i);
        _mm256_maskstore_ps(dst + i, k, _mm256_maskload_ps(src + i, k));
    }
}

static inline void zero_row(float *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_setzero_ps());
    if (i < n)
        _mm256_maskstore_ps(dst + i, lanes(n - i), _mm256_setzero_ps());
}

static inline void gather_row(float *dst, const float *src, int64_t n, int64_t stride)
{
    int64_t i = 0;
    if (stride == 2) {
        // Even lanes of two vectors; the second ends at src[2i + 15], so stop one element
        // early to never read past src[2(n - 1)].
        for (; i + 8 < n; i += 8) {
            const __m256 e = _mm256_shuffle_ps(_mm256_loadu_ps(src + 2 * i),
                                               _mm256_loadu_ps(src + 2 * i + 8), 0x88);
            _mm256_storeu_ps(dst + i,
                             _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8)));
        }
    } else if (stride < (1 << 27)) { // 7 * stride must fit the gather's 32-bit indices
        const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                               _mm256_set1_epi32((int)stride));
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(dst + i, _mm256_i32gather_ps(src + i * stride, idx, 4));
    }
    for (; i < n; i++)
        dst[i] = src[i * stride];
}

static inline void add_row(float *dst, const float *src, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i,
                         _mm256_add_ps(_mm256_loadu_ps(dst + i), _mm256_loadu_ps(src + i)));
    for (; i < n; i++)
        dst[i] += src[i];
}

#define VL 8
typedef __m256 vf;

static inline __m256i lane_mask(uint32_t bits)
{
    const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), lane), lane);
}

// vmaskmovps reads only the selected lanes and gives zeros in the others.
static inline vf v_loadz_bits(uint32_t bits, const float *p)
{
    return _mm256_maskload_ps(p, lane_mask(bits));
}

static inline vf v_load(const float *p)
{
    return _mm256_loadu_ps(p);
}

static inline void v_store(float *p, vf v)
{
    _mm256_storeu_ps(p, v);
}

static inline void v_store_bits(float *p, vf v, uint32_t bits)
{
    _mm256_maskstore_ps(p, lane_mask(bits), v);
}

static inline vf v_bias_act(vf x, float b, int relu)
{
    const vf v = _mm256_add_ps(x, _mm256_set1_ps(b));
    if (!relu)
        return v;
    // Zero where v < 0 (false for NaN, which is kept).
    return _mm256_blendv_ps(v, _mm256_setzero_ps(),
                            _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
}

static inline vf v_keep_pos(vf y, vf m)
{
    return _mm256_and_ps(y, _mm256_cmp_ps(m, _mm256_setzero_ps(), _CMP_GT_OQ));
}

// fwd_taps: 4 rows x 3 vectors (24 pixels) = 12 accumulators, the tap's 3 vectors and a
// broadcast weight: the 16 registers.
#define TAPS_MR 4
#define TAPS_NV 3

static inline vf v_zero(void)
{
    return _mm256_setzero_ps();
}

static inline vf v_set1(float x)
{
    return _mm256_set1_ps(x);
}

static inline vf v_fma(vf a, vf b, vf c)
{
    return _mm256_fmadd_ps(a, b, c);
}

#include "kernels/conv/im2col_template.h"

// One full 8x8 block.
static void transpose_8x8(const float *src, size_t lds, float *dst, size_t ldd)
{
    __m256 r[8], t[8], u[8];
    for (size_t i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + i * lds);
    for (size_t i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    // Within each 128-bit half h, u[4g + m] holds rows 4g..4g+3 of column 4h + m.
    for (size_t g = 0; g < 8; g += 4) {
        u[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xee);
        u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xee);
    }
    for (size_t m = 0; m < 4; m++) {
        _mm256_storeu_ps(dst + m * ldd, _mm256_permute2f128_ps(u[m], u[4 + m], 0x20));
        _mm256_storeu_ps(dst + (4 + m) * ldd, _mm256_permute2f128_ps(u[m], u[4 + m], 0x31));
    }
}

void mimic_transpose__avx2(size_t rows, size_t cols, const float *src, size_t lds, float *dst,
                           size_t ldd)
{
    for (size_t i0 = 0; i0 < rows; i0 += 8)
        for (size_t j0 = 0; j0 < cols; j0 += 8) {
            if (i0 + 8 <= rows && j0 + 8 <= cols) {
                transpose_8x8(src + i0 * lds + j0, lds, dst + j0 * ldd + i0, ldd);
                continue;
            }
            for (size_t j = j0; j < cols && j < j0 + 8; j++) // the ragged edge
                for (size_t i = i0; i < rows && i < i0 + 8; i++)
                    dst[j * ldd + i] = src[i * lds + j];
        }
}
