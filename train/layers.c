// Dense, ReLU, dropout and 2x2 max-pool layers: forward and backward on mimic's kernels.
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "train/layers.h"

// Elementwise passes run on the library's threads: on 2 threads a serial ReLU or pool
// left the second core spinning for a quarter of a teacher step. Each element is computed
// the same way whatever the split, so results do not depend on the thread count.
#define PAR_MIN_ELEMS (1 << 15)

mimic_status mimic_param_init(mimic_param *p, int64_t n)
{
    if (!p || n < 0)
        return MIMIC_EINVAL;
    const size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    p->w = calloc(1, bytes);
    p->g = calloc(1, bytes);
    p->v = calloc(1, bytes);
    p->n = n;
    p->lr_scale = 1.0f;
    if (!p->w || !p->g || !p->v) {
        mimic_param_free(p);
        return MIMIC_ENOMEM;
    }
    return MIMIC_OK;
}

void mimic_param_free(mimic_param *p)
{
    if (!p)
        return;
    free(p->w);
    free(p->g);
    free(p->v);
    memset(p, 0, sizeof *p);
}

mimic_status mimic_dense_init(mimic_dense *d, int64_t in, int64_t out, int has_bias)
{
    if (!d || in < 1 || out < 1)
        return MIMIC_EINVAL;
    memset(d, 0, sizeof *d);
    d->in = in;
    d->out = out;
    d->has_bias = has_bias != 0;
    mimic_status st = mimic_param_init(&d->weight, in * out);
    if (st == MIMIC_OK)
        st = mimic_param_init(&d->bias, d->has_bias ? out : 0);
    if (st != MIMIC_OK)
        mimic_dense_free(d);
    return st;
}

void mimic_dense_free(mimic_dense *d)
{
    if (!d)
        return;
    mimic_param_free(&d->weight);
    mimic_param_free(&d->bias);
}

// The forward product, with `post` after it (NULL: none).
static mimic_status dense_forward(const mimic_dense *d, int64_t batch, const float *x, float *y,
                                  const mimic_gemm_post *post)
{
    if (!d || batch < 0 || !x || !y)
        return MIMIC_EINVAL;
    // The bias goes into y first so the GEMM adds onto it (beta = 1) in the same pass.
    if (d->has_bias) {
#pragma omp parallel for num_threads(mimic_threads_get()) if (batch * d->out >= PAR_MIN_ELEMS) \
    schedule(static)
        for (int64_t i = 0; i < batch; i++)
            memcpy(y + i * d->out, d->bias.w, (size_t)d->out * sizeof(float));
    }
    return mimic_sgemm_post('N', 'T', batch, d->out, d->in, 1.0f, x, d->in, d->weight.w, d->in,
                            d->has_bias ? 1.0f : 0.0f, y, d->out, post);
}

mimic_status mimic_dense_forward(const mimic_dense *d, int64_t batch, const float *x, float *y)
{
    return dense_forward(d, batch, x, y, NULL);
}

mimic_status mimic_dense_relu_forward(const mimic_dense *d, int64_t batch, const float *x,
                                      float *y)
{
    const mimic_gemm_post relu = {MIMIC_GEMM_POST_RELU, NULL, 0};
    return dense_forward(d, batch, x, y, &relu);
}

// The backward products; dx, if not NULL, gets `post` after its product.
static mimic_status dense_backward(mimic_dense *d, int64_t batch, const float *x, const float *dy,
                                   float *dx, const mimic_gemm_post *post)
{
    if (!d || batch < 0 || !x || !dy)
        return MIMIC_EINVAL;
    mimic_status st = mimic_sgemm('T', 'N', d->out, d->in, batch, 1.0f, dy, d->out, x, d->in,
                                  0.0f, d->weight.g, d->in);
    if (st != MIMIC_OK)
        return st;
    // The bias gradient row by row, so dy is read in order (a column walk strides by `out`
    // floats: one cache line per value on a 10k-wide layer).
    // Threads take column ranges; each column is summed over the rows in order.
    if (d->has_bias) {
        float *bg = d->bias.g;
        const int64_t out = d->out, chunk = 256, chunks = (out + chunk - 1) / chunk;
#pragma omp parallel for num_threads(mimic_threads_get()) if (batch * out >= PAR_MIN_ELEMS) \
    schedule(static)
        for (int64_t c = 0; c < chunks; c++) {
            const int64_t lo = c * chunk, hi = lo + chunk < out ? lo + chunk : out;
            for (int64_t o = lo; o < hi; o++)
                bg[o] = 0.0f;
            for (int64_t i = 0; i < batch; i++)
                for (int64_t o = lo; o < hi; o++)
                    bg[o] += dy[i * out + o];
        }
    }
    if (!dx)
        return MIMIC_OK;
    return mimic_sgemm_post('N', 'N', batch, d->in, d->out, 1.0f, dy, d->out, d->weight.w,
                            d->in, 0.0f, dx, d->in, post);
}

mimic_status mimic_dense_backward(mimic_dense *d, int64_t batch, const float *x,
                                  const float *dy, float *dx)
{
    return dense_backward(d, batch, x, dy, dx, NULL);
}

mimic_status mimic_dense_backward_relu(mimic_dense *d, int64_t batch, const float *x,
                                       const float *dy, float *dx)
{
    if (!dx)
        return MIMIC_EINVAL;
    const mimic_gemm_post mask = {MIMIC_GEMM_POST_MASK, x, d ? d->in : 0};
    return dense_backward(d, batch, x, dy, dx, &mask);
}


void mimic_relu_forward(int64_t n, const float *x, float *y)
{
#pragma omp parallel for simd num_threads(mimic_threads_get()) if (n >= PAR_MIN_ELEMS) \
    schedule(static)
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void mimic_relu_backward(int64_t n, const float *y, const float *dy, float *dx)
{
#pragma omp parallel for simd num_threads(mimic_threads_get()) if (n >= PAR_MIN_ELEMS) \
    schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float g = dy[i]; // loaded unconditionally, so the select vectorizes
        dx[i] = y[i] > 0.0f ? g : 0.0f;
    }
}

// Dropout draws 16 bits per value, four values per 64-bit draw; a value is dropped when its
// 16 bits fall below p rounded to 16 bits, so the kept values' scale is exact.
static uint32_t dropout_threshold(float p)
{
    return (uint32_t)(p * 65536.0f + 0.5f);
}

// The threshold and the kept values' scale for rate p; 0 for a rate outside [0, 1) or within
// 2^-17 of 1 (every value would be dropped).
static int dropout_params(float p, uint32_t *threshold, float *scale)
{
    if (!(p >= 0.0f && p < 1.0f))
        return 0;
    *threshold = dropout_threshold(p);
    if (*threshold >= 65536u)
        return 0;
    *scale = 65536.0f / (float)(65536u - *threshold);
    return 1;
}

mimic_status mimic_dropout_forward(int64_t n, float p, uint64_t key, const float *x, float *y,
                                   uint8_t *mask)
{
    uint32_t t;
    float scale;
    if (n < 0 || !dropout_params(p, &t, &scale) || (n > 0 && (!x || !y || !mask)))
        return MIMIC_EINVAL;
    const int64_t groups = (n + 3) / 4;
#pragma omp parallel for num_threads(mimic_threads_get()) if (n >= PAR_MIN_ELEMS) \
    schedule(static)
    for (int64_t g = 0; g < groups; g++) {
        const uint64_t bits = mimic_rng_at(key, (uint64_t)g);
        const int64_t end = 4 * g + 4 < n ? 4 * g + 4 : n;
        for (int64_t i = 4 * g; i < end; i++) {
            const uint32_t u = (uint32_t)(bits >> (16 * (i - 4 * g))) & 0xFFFFu;
            mask[i] = u >= t;
            // A product, not a select: a NaN stays visible where it is dropped (as in
            // PyTorch) instead of being hidden as 0.
            y[i] = x[i] * (mask[i] ? scale : 0.0f);
        }
    }
    return MIMIC_OK;
}

mimic_status mimic_dropout_backward(int64_t n, float p, const uint8_t *mask, const float *dy,
                                    float *dx)
{
    uint32_t t;
    float scale;
    if (n < 0 || !dropout_params(p, &t, &scale) || (n > 0 && (!mask || !dy || !dx)))
        return MIMIC_EINVAL;
#pragma omp parallel for simd num_threads(mimic_threads_get()) if (n >= PAR_MIN_ELEMS) \
    schedule(static)
    for (int64_t i = 0; i < n; i++)
        dx[i] = dy[i] * (mask[i] ? scale : 0.0f);
    return MIMIC_OK;
}

// Rows of a plane at a time in the pool's scratch: long flat loops vectorize where a plane's
// rows (14 or 7 outputs in the students) are too short to. A row must fit.
#define POOL_SCRATCH MIMIC_POOL_MAX_WIDTH

// The trainer is built for baseline x86-64; the pool has loops of intrinsics for the
// library's active ISA (mimic_isa_active(): the MIMIC_ISA cap applies, and the tests run every
// ISA), with the same selects, so the same bits: AVX2 and AVX-512, forward and backward
// (GCC's vectorization of the stride-2 pairs gained nothing from wider vectors). Measured on
// 4 x 64 planes of 28 x 28 (in L2, as the trainer's chunks keep them), 1 thread: forward
// 80-147 us baseline, 43 us AVX2, 24-37 us AVX-512; backward (with the ReLU's) 116-187 us
// baseline, 76-78 us AVX2, 44-46 us AVX-512.

static int pool_shape_ok(int64_t n, int64_t c, int64_t h, int64_t w)
{
    return n >= 0 && c >= 1 && h >= 2 && w >= 2 && h % 2 == 0 && w % 2 == 0 &&
           w <= POOL_SCRATCH;
}

// Pooled rows [i0, i1) of one plane (h x w): the maximum of each 2x2 window and which input
// won (the first maximum in the order top-left, top-right, bottom-left, bottom-right, as
// PyTorch). The pairs of every row first, in one flat loop over the rows (w is even, so no
// pair straddles two rows), then the rows' pairs of maxima. No branches: GCC vectorizes.
static void pool_rows(int64_t w, int64_t i0, int64_t i1, const float *restrict x,
                      float *restrict y, uint8_t *restrict arg)
{
    float m[POOL_SCRATCH], k[POOL_SCRATCH]; // pair maxima, 1 where the right one won
    const int64_t wo = w / 2, pairs = 2 * (i1 - i0) * wo;
    const float *restrict in = x + 2 * i0 * w;
    for (int64_t q = 0; q < pairs; q++) {
        const float a = in[2 * q], b = in[2 * q + 1];
        m[q] = b > a ? b : a;
        k[q] = b > a ? 1.0f : 0.0f;
    }
    for (int64_t i = 0; i < i1 - i0; i++) {
        const float *restrict mt = m + 2 * i * wo, *restrict mb = mt + wo;
        const float *restrict kt = k + 2 * i * wo, *restrict kb = kt + wo;
        float *restrict yi = y + (i0 + i) * wo;
        uint8_t *restrict ai = arg + (i0 + i) * wo;
        for (int64_t j = 0; j < wo; j++) {
            // The winner's index as arithmetic on a 0/1 float: GCC if-converts no select
            // that feeds a narrowing store.
            const float t = mt[j], b = mb[j], bottom = b > t ? 1.0f : 0.0f;
            yi[j] = b > t ? b : t;
            ai[j] = (uint8_t)(int32_t)(kt[j] + bottom * (2.0f + kb[j] - kt[j]));
        }
    }
}

// Pool one plane, as many rows at a time as the scratch holds.
static void pool_plane(int64_t h, int64_t w, const float *x, float *y, uint8_t *arg)
{
    const int64_t ho = h / 2, step = POOL_SCRATCH / w;
    for (int64_t i = 0; i < ho; i += step)
        pool_rows(w, i, i + step < ho ? i + step : ho, x, y, arg);
}

typedef void (*pool_plane_fn)(int64_t h, int64_t w, const float *x, float *y, uint8_t *arg);

#if defined(__x86_64__)
// The masks of a run of n <= 16 pooled outputs at a row's end (AVX-512): the n outputs, and
// the 2n inputs under them in each row, in two vectors of 16.
__attribute__((target("avx512f"))) static inline void
row_end_masks16(int64_t n, __mmask16 *out, __mmask16 *in_lo, __mmask16 *in_hi)
{
    const int64_t in = 2 * n;
    *out = (__mmask16)((1u << n) - 1u);
    *in_lo = (__mmask16)(in >= 16 ? 0xFFFFu : (1u << in) - 1u);
    *in_hi = (__mmask16)(in <= 16 ? 0u : (1u << (in - 16)) - 1u);
}

// The same for AVX2 (n <= 8 outputs): lane masks of the 2n inputs in two vectors of 8.
__attribute__((target("avx2"))) static inline void row_end_masks8(int n, __m256i *in_lo,
                                                                  __m256i *in_hi)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    *in_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(2 * n), lane);
    *in_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(2 * n - 8), lane);
}

// One plane with AVX-512, 16 outputs at a time: the 32 inputs of each of the two rows split
// into even and odd columns by two-source permutes (GCC's vectorization of pool_rows' stride-2
// pairs gained nothing from wider vectors), then pool_rows' selects, so the same bits:
// right beats left and bottom beats top only when strictly greater, NaN never wins.
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void
pool_plane_avx512(int64_t h, int64_t w, const float *x, float *y, uint8_t *arg)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i one = _mm512_set1_epi32(1), two = _mm512_set1_epi32(2);
    const int64_t wo = w / 2;
    for (int64_t i = 0; i < h / 2; i++) {
        const float *top = x + 2 * i * w, *bot = top + w;
        for (int64_t j = 0; j < wo; j += 16) {
            __mmask16 mo, ml, mh;
            row_end_masks16(wo - j < 16 ? wo - j : 16, &mo, &ml, &mh);
            const __m512 t0 = _mm512_maskz_loadu_ps(ml, top + 2 * j);
            const __m512 t1 = _mm512_maskz_loadu_ps(mh, top + 2 * j + 16);
            const __m512 b0 = _mm512_maskz_loadu_ps(ml, bot + 2 * j);
            const __m512 b1 = _mm512_maskz_loadu_ps(mh, bot + 2 * j + 16);
            const __m512 tl = _mm512_permutex2var_ps(t0, even, t1);
            const __m512 tr = _mm512_permutex2var_ps(t0, odd, t1);
            const __m512 bl = _mm512_permutex2var_ps(b0, even, b1);
            const __m512 br = _mm512_permutex2var_ps(b0, odd, b1);
            const __mmask16 kt = _mm512_cmp_ps_mask(tr, tl, _CMP_GT_OQ);
            const __mmask16 kb = _mm512_cmp_ps_mask(br, bl, _CMP_GT_OQ);
            const __m512 mt = _mm512_mask_blend_ps(kt, tl, tr);
            const __m512 mb = _mm512_mask_blend_ps(kb, bl, br);
            const __mmask16 down = _mm512_cmp_ps_mask(mb, mt, _CMP_GT_OQ);
            const __m512i at = _mm512_maskz_mov_epi32(kt, one);
            const __m512i ab = _mm512_mask_add_epi32(two, kb, two, one);
            _mm512_mask_storeu_ps(y + i * wo + j, mo, _mm512_mask_blend_ps(down, mt, mb));
            _mm512_mask_cvtepi32_storeu_epi8(arg + i * wo + j, mo,
                                              _mm512_mask_blend_epi32(down, at, ab));
        }
    }
}

// The same with AVX2, 8 outputs at a time: shuffles then a 64-bit lane permute split the 16
// inputs of each row into even and odd columns; the winners' indices packed to bytes.
__attribute__((target("avx2,fma"))) static void
pool_plane_avx2(int64_t h, int64_t w, const float *x, float *y, uint8_t *arg)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i one = _mm256_set1_epi32(1), two = _mm256_set1_epi32(2);
    const int64_t wo = w / 2;
    for (int64_t i = 0; i < h / 2; i++) {
        const float *top = x + 2 * i * w, *bot = top + w;
        for (int64_t j = 0; j < wo; j += 8) {
            const int n = (int)(wo - j < 8 ? wo - j : 8); // outputs
            // Whole vectors but at a row's end (vmaskmovps is slow even with all lanes on).
            __m256i m0, m1;
            row_end_masks8(n, &m0, &m1);
            const __m256 t0 = n == 8 ? _mm256_loadu_ps(top + 2 * j) : _mm256_maskload_ps(top + 2 * j, m0);
            const __m256 t1 = n == 8 ? _mm256_loadu_ps(top + 2 * j + 8) : _mm256_maskload_ps(top + 2 * j + 8, m1);
            const __m256 b0 = n == 8 ? _mm256_loadu_ps(bot + 2 * j) : _mm256_maskload_ps(bot + 2 * j, m0);
            const __m256 b1 = n == 8 ? _mm256_loadu_ps(bot + 2 * j + 8) : _mm256_maskload_ps(bot + 2 * j + 8, m1);
#define POOL_SPLIT(a, b, sel)                                                                      \
    _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, sel)),         \
                                           _MM_SHUFFLE(3, 1, 2, 0)))
            const __m256 tl = POOL_SPLIT(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));
            const __m256 tr = POOL_SPLIT(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));
            const __m256 bl = POOL_SPLIT(b0, b1, _MM_SHUFFLE(2, 0, 2, 0));
            const __m256 br = POOL_SPLIT(b0, b1, _MM_SHUFFLE(3, 1, 3, 1));
#undef POOL_SPLIT
            const __m256 kt = _mm256_cmp_ps(tr, tl, _CMP_GT_OQ);
            const __m256 kb = _mm256_cmp_ps(br, bl, _CMP_GT_OQ);
            const __m256 mt = _mm256_blendv_ps(tl, tr, kt), mb = _mm256_blendv_ps(bl, br, kb);
            const __m256 down = _mm256_cmp_ps(mb, mt, _CMP_GT_OQ);
            const __m256i at = _mm256_and_si256(_mm256_castps_si256(kt), one);
            const __m256i ab = _mm256_add_epi32(two, _mm256_and_si256(_mm256_castps_si256(kb), one));
            const __m256i a = _mm256_blendv_epi8(at, ab, _mm256_castps_si256(down));
            const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(a),
                                                _mm256_extracti128_si256(a, 1));
            const __m128i b8 = _mm_packus_epi16(w16, w16);
            const __m256 yv = _mm256_blendv_ps(mt, mb, down);
            if (n == 8) {
                _mm256_storeu_ps(y + i * wo + j, yv);
                _mm_storel_epi64((__m128i *)(arg + i * wo + j), b8);
            } else {
                uint8_t bytes[16];
                _mm_storeu_si128((__m128i *)bytes, b8);
                _mm256_maskstore_ps(y + i * wo + j, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane),
                                    yv);
                memcpy(arg + i * wo + j, bytes, (size_t)n);
            }
        }
    }
}
#endif

static pool_plane_fn pool_plane_for_isa(void)
{
#if defined(__x86_64__)
    const mimic_isa isa = mimic_isa_active();
    if (isa == MIMIC_ISA_AVX512)
        return pool_plane_avx512;
    if (isa == MIMIC_ISA_AVX2)
        return pool_plane_avx2;
#endif
    return pool_plane;
}

mimic_status mimic_maxpool2_forward(int64_t n, int64_t c, int64_t h, int64_t w, const float *x,
                                    float *y, uint8_t *argmax)
{
    if (!pool_shape_ok(n, c, h, w) || (n > 0 && (!x || !y || !argmax)))
        return MIMIC_EINVAL;
    const int64_t planes = n * c, in = h * w, out = in / 4;
    const pool_plane_fn plane = pool_plane_for_isa();
#pragma omp parallel for num_threads(mimic_threads_get()) if (planes * in >= PAR_MIN_ELEMS) \
    schedule(static)
    for (int64_t p = 0; p < planes; p++)
        plane(h, w, x + p * in, y + p * out, argmax + p * out);
    return MIMIC_OK;
}

// Pooled rows [i0, i1) of one plane's backward: dy goes to each window's winner and 0 to its
// other three inputs, with `y` given only where y > 0 (the ReLU's backward folded in; NULL:
// the plain pool's). All four inputs are written at once, top and bottom rows into scratch
// in one flat loop (no data-dependent address: GCC vectorizes it), then copied row by row.
static void unpool_rows(int64_t w, int64_t i0, int64_t i1, const uint8_t *restrict arg,
                        const float *restrict dy, const float *restrict y, float *restrict dx)
{
    float top[POOL_SCRATCH], bot[POOL_SCRATCH], g[POOL_SCRATCH / 2];
    const int64_t wo = w / 2, o0 = i0 * wo, n = (i1 - i0) * wo;
    for (int64_t o = 0; y && o < n; o++) {
        const float d = dy[o0 + o]; // loaded unconditionally: a select, not a branch
        g[o] = y[o0 + o] > 0.0f ? d : 0.0f;
    }
    if (!y)
        memcpy(g, dy + o0, (size_t)n * sizeof(float));
    for (int64_t o = 0; o < n; o++) {
        const float k = (float)arg[o0 + o]; // compared as a float: GCC vectorizes float selects
        top[2 * o] = k == 0.0f ? g[o] : 0.0f;
        top[2 * o + 1] = k == 1.0f ? g[o] : 0.0f;
        bot[2 * o] = k == 2.0f ? g[o] : 0.0f;
        bot[2 * o + 1] = k == 3.0f ? g[o] : 0.0f;
    }
    for (int64_t i = 0; i < i1 - i0; i++) {
        memcpy(dx + 2 * (i0 + i) * w, top + i * w, (size_t)w * sizeof(float));
        memcpy(dx + (2 * (i0 + i) + 1) * w, bot + i * w, (size_t)w * sizeof(float));
    }
}

// dx of one pooled plane, as many rows at a time as the scratch holds.
static void unpool_plane(int64_t h, int64_t w, const uint8_t *arg, const float *dy,
                         const float *y, float *dx)
{
    const int64_t ho = h / 2, step = POOL_SCRATCH / w;
    for (int64_t i = 0; i < ho; i += step)
        unpool_rows(w, i, i + step < ho ? i + step : ho, arg, dy, y, dx);
}

typedef void (*unpool_plane_fn)(int64_t h, int64_t w, const uint8_t *arg, const float *dy,
                                const float *y, float *dx);

#if defined(__x86_64__)
// unpool_plane with AVX-512, 16 windows at a time, straight into dx: each window's gradient
// (0 where the ReLU's output y is not > 0) selected into four vectors by its winner's index,
// and the left/right pairs interleaved by two-source permutes into the two input rows.
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void
unpool_plane_avx512(int64_t h, int64_t w, const uint8_t *arg, const float *dy, const float *y,
                    float *dx)
{
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    const int64_t wo = w / 2;
    for (int64_t i = 0; i < h / 2; i++) {
        float *top = dx + 2 * i * w, *bot = top + w;
        for (int64_t j = 0; j < wo; j += 16) {
            __mmask16 mo, ml, mh;
            row_end_masks16(wo - j < 16 ? wo - j : 16, &mo, &ml, &mh);
            __m512 g = _mm512_maskz_loadu_ps(mo, dy + i * wo + j);
            if (y)
                g = _mm512_maskz_mov_ps(
                    _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(mo, y + i * wo + j),
                                       _mm512_setzero_ps(), _CMP_GT_OQ),
                    g);
            const __m512i a = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mo, arg + i * wo + j));
#define POOL_WIN(v) _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a, _mm512_set1_epi32(v)), g)
            const __m512 tl = POOL_WIN(0), tr = POOL_WIN(1), bl = POOL_WIN(2), br = POOL_WIN(3);
#undef POOL_WIN
            _mm512_mask_storeu_ps(top + 2 * j, ml, _mm512_permutex2var_ps(tl, lo, tr));
            _mm512_mask_storeu_ps(top + 2 * j + 16, mh, _mm512_permutex2var_ps(tl, hi, tr));
            _mm512_mask_storeu_ps(bot + 2 * j, ml, _mm512_permutex2var_ps(bl, lo, br));
            _mm512_mask_storeu_ps(bot + 2 * j + 16, mh, _mm512_permutex2var_ps(bl, hi, br));
        }
    }
}

// The same with AVX2, 8 windows at a time: the left/right pairs interleaved by unpacks and a
// 128-bit lane permute. Row ends go through masked loads and stores and a copy of the bytes.
__attribute__((target("avx2,fma"))) static void
unpool_plane_avx2(int64_t h, int64_t w, const uint8_t *arg, const float *dy, const float *y,
                  float *dx)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const int64_t wo = w / 2;
    for (int64_t i = 0; i < h / 2; i++) {
        float *top = dx + 2 * i * w, *bot = top + w;
        for (int64_t j = 0; j < wo; j += 8) {
            const int n = (int)(wo - j < 8 ? wo - j : 8), o = (int)(i * wo + j);
            const __m256i mo = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
            uint8_t bytes[8] = {0};
            memcpy(bytes, arg + o, (size_t)n);
            __m256 g = n == 8 ? _mm256_loadu_ps(dy + o) : _mm256_maskload_ps(dy + o, mo);
            if (y) {
                const __m256 yv = n == 8 ? _mm256_loadu_ps(y + o) : _mm256_maskload_ps(y + o, mo);
                g = _mm256_and_ps(g, _mm256_cmp_ps(yv, _mm256_setzero_ps(), _CMP_GT_OQ));
            }
            const __m256i a = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)bytes));
#define POOL_WIN(v) _mm256_and_ps(g, _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, _mm256_set1_epi32(v))))
            const __m256 tl = POOL_WIN(0), tr = POOL_WIN(1), bl = POOL_WIN(2), br = POOL_WIN(3);
#undef POOL_WIN
            const __m256 tlo = _mm256_unpacklo_ps(tl, tr), thi = _mm256_unpackhi_ps(tl, tr);
            const __m256 blo = _mm256_unpacklo_ps(bl, br), bhi = _mm256_unpackhi_ps(bl, br);
            const __m256 t0 = _mm256_permute2f128_ps(tlo, thi, 0x20);
            const __m256 t1 = _mm256_permute2f128_ps(tlo, thi, 0x31);
            const __m256 b0 = _mm256_permute2f128_ps(blo, bhi, 0x20);
            const __m256 b1 = _mm256_permute2f128_ps(blo, bhi, 0x31);
            if (n == 8) {
                _mm256_storeu_ps(top + 2 * j, t0);
                _mm256_storeu_ps(top + 2 * j + 8, t1);
                _mm256_storeu_ps(bot + 2 * j, b0);
                _mm256_storeu_ps(bot + 2 * j + 8, b1);
            } else {
                __m256i m0, m1;
                row_end_masks8(n, &m0, &m1);
                _mm256_maskstore_ps(top + 2 * j, m0, t0);
                _mm256_maskstore_ps(top + 2 * j + 8, m1, t1);
                _mm256_maskstore_ps(bot + 2 * j, m0, b0);
                _mm256_maskstore_ps(bot + 2 * j + 8, m1, b1);
            }
        }
    }
}
#endif

static unpool_plane_fn unpool_plane_for_isa(void)
{
#if defined(__x86_64__)
    const mimic_isa isa = mimic_isa_active();
    if (isa == MIMIC_ISA_AVX512)
        return unpool_plane_avx512;
    if (isa == MIMIC_ISA_AVX2)
        return unpool_plane_avx2;
#endif
    return unpool_plane;
}

static mimic_status pool_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                  const uint8_t *argmax, const float *dy, const float *y,
                                  float *dx)
{
    if (!pool_shape_ok(n, c, h, w) || (n > 0 && (!argmax || !dy || !dx)))
        return MIMIC_EINVAL;
    const int64_t planes = n * c, in = h * w, out = in / 4;
    const unpool_plane_fn plane = unpool_plane_for_isa();
#pragma omp parallel for num_threads(mimic_threads_get()) if (planes * in >= PAR_MIN_ELEMS) \
    schedule(static)
    for (int64_t p = 0; p < planes; p++)
        plane(h, w, argmax + p * out, dy + p * out, y ? y + p * out : NULL, dx + p * in);
    return MIMIC_OK;
}

mimic_status mimic_maxpool2_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                     const uint8_t *argmax, const float *dy, float *dx)
{
    return pool_backward(n, c, h, w, argmax, dy, NULL, dx);
}

mimic_status mimic_relu_maxpool2_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                          const uint8_t *argmax, const float *y,
                                          const float *dy, float *dx)
{
    return y ? pool_backward(n, c, h, w, argmax, dy, y, dx) : MIMIC_EINVAL;
}
