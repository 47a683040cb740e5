// im2col and col2im written once over a few row primitives; each ISA file (im2col_<isa>.c)
// defines them and includes this file, which then defines mimic_im2col__<isa> and
// mimic_col2im__<isa>. Not a normal header: it is included once per ISA file.
//
// The primitives an ISA file defines first (n >= 0 elements, no aliasing):
//   MIMIC_CONV_ISA                                   the suffix: scalar, avx2, avx512, neon
//   void copy_row(float *dst, const float *src, int64_t n)          dst[i] = src[i]
//   void zero_row(float *dst, int64_t n)                            dst[i] = 0
//   void gather_row(float *dst, const float *src, int64_t n, int64_t stride)
//                                    dst[i] = src[i*stride], stride >= 2, reads no further
//                                    than src[(n-1)*stride]
//   void add_row(float *dst, const float *src, int64_t n)           dst[i] += src[i]
// and, for im2col_panel, a vector of VL lanes (VL divides the GEMM's NR):
//   vf v_zero(void); void v_store(float *p, vf v)
//   vf v_load_bits(vf prev, uint32_t bits, const float *p)
//                     lane l = p[l] where bit l of bits is set, else prev's lane l; reads only
//                     the set lanes (masked loads: p itself may point outside the tensor)
//   vf v_loadz_bits(uint32_t bits, const float *p)     the same with zeros in the others
//   vf v_load_bits_inb(vf prev, uint32_t bits, const float *p), v_loadz_bits_inb(bits, p)
//                     the same when all of p[0..VL) may be read (a plain load and a blend:
//                     AMD's vmaskmovps load is slow; measured 70% of AVX2 panel time)
// and, for bias_act: vf v_load(const float *p); vf v_bias_act(vf x, float b, int relu)
//                     x + b, then max(0, .) with NaN kept if relu
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

// ---------------------------------------------------------------- packed panels

// One VL-lane chunk of a panel: the runs of lanes in one image (each with the offset from
// src of its lane 0's element for channel 0 and the centre tap), and the lanes each kernel
// row r and column s keep inside the image.
typedef struct {
    int nseg;
    uint32_t seg_bits[VL];
    int64_t seg_off[VL];
    uint32_t rbits[MIMIC_CONV_PANEL_MAX_TAP], sbits[MIMIC_CONV_PANEL_MAX_TAP];
} panel_chunk;

// Lanes [0, valid) of the chunk starting at flat column jc.
static void chunk_init(const mimic_conv2d *sh, int64_t P, int64_t jc, int64_t valid,
                       panel_chunk *ch)
{
    const int64_t W = sh->w, PQ = P * W, chw = sh->c * sh->h * W;
    int64_t n = jc / PQ, pix = jc % PQ, p = pix / W, q = pix % W;
    memset(ch, 0, sizeof *ch);
    ch->nseg = -1;
    for (int64_t l = 0; l < valid; l++) {
        if (l == 0 || pix == 0) {
            ch->nseg++;
            ch->seg_off[ch->nseg] = n * chw + pix - l;
        }
        const uint32_t bit = 1u << l;
        ch->seg_bits[ch->nseg] |= bit;
        for (int64_t r = 0; r < sh->r; r++)
            if (p + r - sh->pad_h >= 0 && p + r - sh->pad_h < sh->h)
                ch->rbits[r] |= bit;
        for (int64_t s = 0; s < sh->s; s++)
            if (q + s - sh->pad_w >= 0 && q + s - sh->pad_w < W)
                ch->sbits[s] |= bit;
        if (++q == W)
            q = 0, p++;
        if (++pix == PQ)
            pix = 0, p = 0, n++;
    }
    ch->nseg++;
}

// src + off without forming an out-of-bounds pointer in C terms: the lanes read are in
// bounds, lane 0's address (the vector's base) need not be.
static inline const float *at_offset(const float *src, int64_t off)
{
    return (const float *)((uintptr_t)src + (uintptr_t)off * sizeof(float));
}

#define PANEL_MAX_CHUNKS 8

// Rows [k0, k0 + kc) of one chunk whose lanes lie in a single image (the common case: runs
// of at least VL pixels): one zero-masked load per row, tap row by tap row.
static void chunk_rows_one_run(const mimic_conv2d *sh, const panel_chunk *ch, const float *src,
                               int64_t k0, int64_t kc, float *out, int64_t ld)
{
    const int64_t W = sh->w, hw = sh->h * W, R = sh->r, S = sh->s, total = sh->n * sh->c * hw;
    const uint32_t run = ch->nseg ? ch->seg_bits[0] : 0;
    int64_t c = k0 / (R * S), r = k0 / S % R, s = k0 % S;
    for (int64_t k = 0; k < kc;) {
        const uint32_t keep = run & ch->rbits[r];
        const int64_t off = ch->seg_off[0] + c * hw + (r - sh->pad_h) * W - sh->pad_w;
        for (; s < S && k < kc; s++, k++, out += ld) {
            const uint32_t bits = keep & ch->sbits[s];
            const int64_t at = off + s;
            if (!bits)
                v_store(out, v_zero());
            else if (at >= 0 && at + VL <= total)
                v_store(out, v_loadz_bits_inb(bits, src + at));
            else
                v_store(out, v_loadz_bits(bits, at_offset(src, at)));
        }
        s = 0;
        if (++r == R) {
            r = 0;
            c++;
        }
    }
}

// The same for a chunk spanning images: one masked load per run, merged.
static void chunk_rows_runs(const mimic_conv2d *sh, const panel_chunk *ch, const float *src,
                            int64_t k0, int64_t kc, float *out, int64_t ld)
{
    const int64_t W = sh->w, hw = sh->h * W, R = sh->r, S = sh->s, total = sh->n * sh->c * hw;
    int64_t c = k0 / (R * S), r = k0 / S % R, s = k0 % S;
    for (int64_t k = 0; k < kc; k++, out += ld) {
        const int64_t row_off = c * hw + (r - sh->pad_h) * W + (s - sh->pad_w);
        const uint32_t keep = ch->rbits[r] & ch->sbits[s];
        vf v = v_zero();
        for (int g = 0; g < ch->nseg; g++) {
            const uint32_t bits = ch->seg_bits[g] & keep;
            const int64_t at = ch->seg_off[g] + row_off;
            if (bits && at >= 0 && at + VL <= total)
                v = v_load_bits_inb(v, bits, src + at);
            else if (bits)
                v = v_load_bits(v, bits, at_offset(src, at));
        }
        v_store(out, v);
        if (++s == S) {
            s = 0;
            if (++r == R) {
                r = 0;
                c++;
            }
        }
    }
}

// Q == W and stride 1, so output pixel pix of an image reads input element pix + the tap's
// shift: each run of lanes in one image is one (masked) contiguous load per row.
void FN(im2col_panel)(const mimic_conv2d *sh, const float *src, int64_t k0, int64_t kc, int64_t j0,
                      int64_t nr, int64_t nr_max, float *panel)
{
    const int64_t P = sh->h + 2 * sh->pad_h - sh->r + 1;
    panel_chunk ch;
    for (int64_t i = 0; i < nr_max / VL && i < PANEL_MAX_CHUNKS; i++) {
        const int64_t valid = nr - i * VL;
        chunk_init(sh, P, j0 + i * VL, valid < 0 ? 0 : valid > VL ? VL : valid, &ch);
        if (ch.nseg <= 1)
            chunk_rows_one_run(sh, &ch, src, k0, kc, panel + i * VL, nr_max);
        else
            chunk_rows_runs(sh, &ch, src, k0, kc, panel + i * VL, nr_max);
    }
}

// ---------------------------------------------------------------- bias and ReLU

void FN(bias_act)(float *y, const float *x, size_t n, float b, int relu)
{
    size_t j = 0;
    for (; j + VL <= n; j += VL)
        v_store(y + j, v_bias_act(v_load(x + j), b, relu));
    for (; j < n; j++) {
        const float v = x[j] + b;
        y[j] = relu && v < 0.0f ? 0.0f : v;
    }
}
