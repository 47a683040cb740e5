// im2col and col2im written once over a few row primitives; each ISA file (im2col_<isa>.c)
// defines them and includes this file, which then defines mimic_im2col__<isa> and
// mimic_col2im__<isa> (and pad_rows, bias_act, keep_pos, fwd_taps). Not a normal header: it is
// included once per ISA file.
//
// The primitives an ISA file defines first (n >= 0 elements, no aliasing):
//   MIMIC_CONV_ISA                                   the suffix: scalar, avx2, avx512, neon
//   void copy_row(float *dst, const float *src, int64_t n)          dst[i] = src[i]
//   void zero_row(float *dst, int64_t n)                            dst[i] = 0
//   void gather_row(float *dst, const float *src, int64_t n, int64_t stride)
//                                    dst[i] = src[i*stride], stride >= 2, reads no further
//                                    than src[(n-1)*stride]
//   void add_row(float *dst, const float *src, int64_t n)           dst[i] += src[i]
// and, for bias_act, a vector of VL lanes:
//   vf v_load(const float *p); void v_store(float *p, vf v)
//   vf v_loadz_bits(uint32_t bits, const float *p)
//                     lane l = p[l] where bit l of bits is set, else 0; reads only the set lanes
//   void v_store_bits(float *p, vf v, uint32_t bits)   p[l] = lane l where bit l is set
//   vf v_bias_act(vf x, float b, int relu)             x + b, then max(0, .) with NaN kept if relu
//   vf v_keep_pos(vf y, vf m)                          lane l = y[l] where m[l] > 0, else 0
// and, for fwd_taps, a TAPS_MR x TAPS_NV tile of vectors sized to the register file:
//   vf v_zero(void); vf v_set1(float x)                all lanes 0, all lanes x
//   vf v_fma(vf a, vf b, vf c)                         c + a * b, as the ISA's GEMM tile rounds it
//
// Every source address formed is inside the image: the padding is never read, it is written
// as zeros (im2col) or skipped (col2im).
#include <stdint.h>
#include <string.h>

#include "kernels/conv/im2col.h"

#define MIMIC_CAT_(a, b) a##b
#define MIMIC_CAT(a, b) MIMIC_CAT_(a, b)
#define FN(name) MIMIC_CAT(mimic_##name##__, MIMIC_CONV_ISA)

// Where kernel tap (r, s) reads, for output rows [p0, p1): rows [p_lo, p_hi) and columns
// [q_lo, q_hi) fall inside the image, at input column q*stride_w + off of input row
// p*stride_h + row_off.
typedef struct {
    int64_t p_lo, p_hi, q_lo, q_hi, off, row_off;
} conv_tap;

static inline conv_tap tap_of(const mimic_conv2d *sh, int64_t Q, int64_t p0, int64_t p1, int64_t r,
                              int64_t s)
{
    conv_tap t;
    mimic_conv_valid_range(sh->pad_h, sh->h, sh->stride_h, p1, r, &t.p_lo, &t.p_hi);
    if (t.p_lo < p0)
        t.p_lo = p0;
    if (t.p_hi < t.p_lo)
        t.p_hi = t.p_lo;
    mimic_conv_valid_range(sh->pad_w, sh->w, sh->stride_w, Q, s, &t.q_lo, &t.q_hi);
    t.off = s - sh->pad_w;
    t.row_off = r - sh->pad_h;
    return t;
}

// Stride 1 with Q == W ("same" width): output rows [p_lo, p_hi) of this tap are the input
// rows shifted by one constant, so they are copied as one run and only the padding columns,
// which the run filled with the neighbouring rows' ends, are zeroed afterwards.
static void im2col_tap_shifted(const conv_tap *t, int64_t Q, const float *plane, float *dst)
{
    const int64_t rows = t->p_hi - t->p_lo, W = Q;
    // From the first valid element of the first row to the last of the last row.
    const float *src = plane + ((t->p_lo + t->row_off) * W + t->off + t->q_lo);
    copy_row(dst + t->q_lo, src, (rows - 1) * Q + t->q_hi - t->q_lo);
    if (t->q_lo == 0 && t->q_hi == Q)
        return;
    for (int64_t i = 0; i < rows; i++) {
        zero_row(dst + i * Q, t->q_lo);
        zero_row(dst + i * Q + t->q_hi, Q - t->q_hi);
    }
}

// Any stride: each output row is its valid segment plus zeros.
static void im2col_tap_rows(const mimic_conv2d *sh, const conv_tap *t, int64_t Q,
                            const float *plane, float *dst)
{
    const int64_t n = t->q_hi - t->q_lo, sw = sh->stride_w;
    for (int64_t p = t->p_lo; p < t->p_hi; p++, dst += Q) {
        const float *row = plane + (p * sh->stride_h + t->row_off) * sh->w;
        zero_row(dst, t->q_lo);
        if (n > 0 && sw == 1)
            copy_row(dst + t->q_lo, row + (t->q_lo + t->off), n);
        else if (n > 0)
            gather_row(dst + t->q_lo, row + (t->q_lo * sw + t->off), n, sw);
        zero_row(dst + t->q_hi, Q - t->q_hi);
    }
}

// Taps outermost: where a tap reads is the same for every channel (and costs divisions).
void FN(im2col)(const mimic_conv2d *sh, int64_t Q, int64_t p0, int64_t p1, const float *img,
                float *col, int64_t ldc)
{
    const int64_t hw = sh->h * sh->w, rs = sh->r * sh->s;
    const int shifted = sh->stride_h == 1 && sh->stride_w == 1 && Q == sh->w;
    for (int64_t r = 0; r < sh->r; r++)
        for (int64_t s = 0; s < sh->s; s++) {
            const conv_tap t = tap_of(sh, Q, p0, p1, r, s);
            const int run = shifted && t.p_hi > t.p_lo && t.q_hi > t.q_lo;
            for (int64_t c = 0; c < sh->c; c++) {
                float *dst = col + (c * rs + r * sh->s + s) * ldc;
                // Rows above and below the image are all padding.
                zero_row(dst, (t.p_lo - p0) * Q);
                float *mid = dst + (t.p_lo - p0) * Q;
                if (run)
                    im2col_tap_shifted(&t, Q, img + c * hw, mid);
                else
                    im2col_tap_rows(sh, &t, Q, img + c * hw, mid);
                zero_row(dst + (t.p_hi - p0) * Q, (p1 - t.p_hi) * Q);
            }
        }
}

void FN(col2im)(const mimic_conv2d *sh, int64_t Q, int64_t p0, int64_t p1, const float *col,
                int64_t ldc, float *img)
{
    const int64_t hw = sh->h * sh->w, rs = sh->r * sh->s, sw = sh->stride_w;
    for (int64_t c = 0; c < sh->c; c++)
        for (int64_t r = 0; r < sh->r; r++)
            for (int64_t s = 0; s < sh->s; s++) {
                // Channel-major, so each image element receives its terms in (r, s, p) order
                // whatever the ISA; the taps' divisions are cheap beside the GEMM here.
                const conv_tap t = tap_of(sh, Q, p0, p1, r, s);
                const float *src = col + (c * rs + r * sh->s + s) * ldc + (t.p_lo - p0) * Q;
                const int64_t n = t.q_hi - t.q_lo;
                for (int64_t p = t.p_lo; p < t.p_hi; p++, src += Q) {
                    float *row = img + c * hw + (p * sh->stride_h + t.row_off) * sh->w;
                    if (sw == 1) {
                        if (n > 0)
                            add_row(row + (t.q_lo + t.off), src + t.q_lo, n);
                        continue;
                    }
                    // Strided scatter: the general path, not worth a per-ISA version.
                    for (int64_t q = t.q_lo; q < t.q_hi; q++)
                        row[q * sw + t.off] += src[q];
                }
            }
}

// ---------------------------------------------------------------- padded rows

// pad_rows at stride 1, a loop of its own: inside pad_rows' the compiler kept the row state on
// the stack (docs/conv.md).
static void pad_rows_unit(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                          int64_t n, int64_t left, int64_t right)
{
    for (int64_t i = 0; i < rows; i++, dst += ldd, src += lds) {
        zero_row(dst, left);
        copy_row(dst + left, src, n);
        zero_row(dst + left + n, right);
    }
}

void FN(pad_rows)(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows, int64_t n,
                  int64_t stride, int64_t left, int64_t right)
{
    if (stride == 1) {
        pad_rows_unit(dst, ldd, src, lds, rows, n, left, right);
        return;
    }
    for (int64_t i = 0; i < rows; i++, dst += ldd, src += lds) {
        zero_row(dst, left);
        if (n > 0)
            gather_row(dst + left, src, n, stride);
        zero_row(dst + left + n, right);
    }
}

// ---------------------------------------------------------------- bias and ReLU

void FN(bias_act)(float *y, size_t ldy, const float *x, size_t ldx, size_t rows, size_t n,
                  const float *bias, int relu)
{
    const size_t full = n / VL * VL;
    const uint32_t tail = (uint32_t)((1u << (n - full)) - 1u);
    for (size_t i = 0; i < rows; i++, y += ldy, x += ldx) {
        const float b = bias ? bias[i] : 0.0f;
        for (size_t j = 0; j < full; j += VL)
            v_store(y + j, v_bias_act(v_load(x + j), b, relu));
        if (tail)
            v_store_bits(y + full, v_bias_act(v_loadz_bits(tail, x + full), b, relu), tail);
    }
}

void FN(keep_pos)(float *y, size_t ldy, const float *m, size_t ldm, size_t rows, size_t n)
{
    const size_t full = n / VL * VL;
    const uint32_t tail = (uint32_t)((1u << (n - full)) - 1u);
    for (size_t i = 0; i < rows; i++, y += ldy, m += ldm) {
        for (size_t j = 0; j < full; j += VL)
            v_store(y + j, v_keep_pos(v_load(y + j), v_load(m + j)));
        if (tail)
            v_store_bits(y + full,
                         v_keep_pos(v_loadz_bits(tail, y + full), v_loadz_bits(tail, m + full)),
                         tail);
    }
}

// ---------------------------------------------------------------- forward over taps

// Output rows [0, m) (m <= TAPS_MR; rows past m repeat the last valid one and are not
// stored) of pixels [j, j + nv*VL) (the last vector masked by `tail` if not 0): TAPS_MR x nv
// accumulators, each tap's nv vectors loaded once and multiplied by TAPS_MR broadcast weights.
// Each sum starts from 0 and runs over the taps in order, the bias added after: the bits of
// the GEMM (beta = 0) then bias_act that this replaces.
static inline __attribute__((always_inline)) void
taps_tile(const int nv, uint32_t tail, size_t m, const float *w, size_t ldw,
          const float *const *tap, size_t taps, size_t j, const float *bias, int relu, float *y,
          size_t ldy)
{
    const float *wr[TAPS_MR];
    for (int i = 0; i < TAPS_MR; i++)
        wr[i] = w + ((size_t)i < m ? (size_t)i : m - 1) * ldw;
    vf acc[TAPS_MR][TAPS_NV];
#pragma GCC unroll 16
    for (int i = 0; i < TAPS_MR; i++)
#pragma GCC unroll 16
        for (int v = 0; v < nv; v++)
            acc[i][v] = v_zero();
    for (size_t t = 0; t < taps; t++) {
        const float *b = tap[t] + j;
        vf vb[TAPS_NV];
#pragma GCC unroll 16
        for (int v = 0; v < nv; v++)
            vb[v] = tail && v == nv - 1 ? v_loadz_bits(tail, b + v * VL) : v_load(b + v * VL);
#pragma GCC unroll 16
        for (int i = 0; i < TAPS_MR; i++) {
            const vf a = v_set1(wr[i][t]);
#pragma GCC unroll 16
            for (int v = 0; v < nv; v++)
                acc[i][v] = v_fma(a, vb[v], acc[i][v]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < TAPS_MR; i++) {
        if ((size_t)i >= m)
            break;
        float *yi = y + (size_t)i * ldy + j;
        const float b = bias ? bias[i] : 0.0f;
#pragma GCC unroll 16
        for (int v = 0; v < nv; v++) {
            const vf o = bias || relu ? v_bias_act(acc[i][v], b, relu) : acc[i][v];
            if (tail && v == nv - 1)
                v_store_bits(yi + v * VL, o, tail);
            else
                v_store(yi + v * VL, o);
        }
    }
}

// TAPS_MR output rows at a time, each over every tile of pixels: the rows are written one
// after the other, in runs the width of the tile, while the taps (a few KiB) stay in L1.
void FN(fwd_taps)(float *y, size_t ldy, const float *w, size_t ldw, const float *const *tap,
                  size_t taps, size_t rows, size_t n, const float *bias, int relu)
{
    const size_t tile = (size_t)TAPS_NV * VL, full = n / tile * tile, rest = n - full;
    const uint32_t tail = (uint32_t)((1u << (rest % VL)) - 1u); // 0: the last vector is whole
    for (size_t i = 0; i < rows; i += TAPS_MR) {
        const size_t m = rows - i < TAPS_MR ? rows - i : TAPS_MR;
        const float *wi = w + i * ldw, *bi = bias ? bias + i : NULL;
        float *yi = y + i * ldy;
        for (size_t j = 0; j < full; j += tile)
            taps_tile(TAPS_NV, 0, m, wi, ldw, tap, taps, j, bi, relu, yi, ldy);
        switch ((rest + VL - 1) / VL) {
#define TAPS_CASE(NV)                                                                              \
    case NV:                                                                                       \
        taps_tile(NV, tail, m, wi, ldw, tap, taps, full, bi, relu, yi, ldy);                       \
        break;
            TAPS_CASE(1) // up to TAPS_NV vectors: the last one partial
#if TAPS_NV > 1
            TAPS_CASE(2)
#endif
#if TAPS_NV > 2
            TAPS_CASE(3)
#endif
#if TAPS_NV > 3
            TAPS_CASE(4)
#endif
#if TAPS_NV > 4
            TAPS_CASE(5)
#endif
#if TAPS_NV > 5
            TAPS_CASE(6)
#endif
#if TAPS_NV > 6
#error "im2col_template.h: TAPS_NV > 6 needs more cases"
#endif
#undef TAPS_CASE
        default:
            break;
        }
    }
}
