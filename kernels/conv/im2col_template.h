// im2col and col2im written once over a few row primitives; each ISA file (im2col_<isa>.c)
// defines them and includes this file, which then defines mimic_im2col__<isa> and
// mimic_col2im__<isa> (and pad_rows, bias_act, keep_pos). Not a normal header: it is included once per
// ISA file.
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
