// The convolution kernels of every ISA table, called directly: im2col and col2im over row
// ranges [p0, p1) with a column stride wider than the block, against naive loops; the
// transpose over every size around the vector widths; pad_rows and bias_act. im2col,
// transpose and pad_rows only move data, col2im adds small integers and bias_act rounds once,
// so every check is bitwise.
#include <string.h>

#include "common.h"
#include "kernels/conv/im2col.h"

// Input value at (c, ih, iw), or 0 in the padding.
static float at(const mimic_conv2d *s, const float *img, int64_t c, int64_t ih, int64_t iw)
{
    if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w)
        return 0.0f;
    return img[(c * s->h + ih) * s->w + iw];
}

static void naive_im2col(const mimic_conv2d *s, int64_t Q, int64_t p0, int64_t p1, const float *img,
                         float *col, int64_t ldc)
{
    for (int64_t c = 0; c < s->c; c++)
        for (int64_t r = 0; r < s->r; r++)
            for (int64_t t = 0; t < s->s; t++)
                for (int64_t p = p0; p < p1; p++)
                    for (int64_t q = 0; q < Q; q++)
                        col[((c * s->r + r) * s->s + t) * ldc + (p - p0) * Q + q] =
                            at(s, img, c, p * s->stride_h - s->pad_h + r,
                               q * s->stride_w - s->pad_w + t);
}

// Same visiting order as the kernels (channel, tap row, tap column, output row, column), so
// even non-exact sums would agree; the inputs are small integers, so they are exact anyway.
static void naive_col2im(const mimic_conv2d *s, int64_t Q, int64_t p0, int64_t p1, const float *col,
                         int64_t ldc, float *img)
{
    for (int64_t c = 0; c < s->c; c++)
        for (int64_t r = 0; r < s->r; r++)
            for (int64_t t = 0; t < s->s; t++)
                for (int64_t p = p0; p < p1; p++)
                    for (int64_t q = 0; q < Q; q++) {
                        const int64_t ih = p * s->stride_h - s->pad_h + r;
                        const int64_t iw = q * s->stride_w - s->pad_w + t;
                        if (ih >= 0 && ih < s->h && iw >= 0 && iw < s->w)
                            img[(c * s->h + ih) * s->w + iw] +=
                                col[((c * s->r + r) * s->s + t) * ldc + (p - p0) * Q + q];
                    }
}

static void fill_ints(tc_rng *rng, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)tc_rng_int(rng, -8, 8);
}

// One shape, one row range, every ISA: im2col and col2im against the naive loops.
static void check_shape(const mimic_conv2d *s, int64_t p0, int64_t p1, tc_rng *rng)
{
    int64_t P, Q;
    TC_STATUS(mimic_conv2d_out_hw(s, &P, &Q), MIMIC_OK);
    const int64_t rows = s->c * s->r * s->s, cols = (p1 - p0) * Q, ldc = cols + 5;
    const size_t ncol = (size_t)(rows * ldc), nimg = (size_t)(s->c * s->h * s->w);
    float *img = tc_alloc(nimg + TC_GUARD), *col = tc_alloc(ncol), *want = tc_alloc(ncol);
    float *back = tc_alloc(nimg + TC_GUARD), *back_want = tc_alloc(nimg);
    fill_ints(rng, img, nimg);
    tc_fill_sentinel(img + nimg, TC_GUARD);
    tc_fill(want, ncol, NAN);
    naive_im2col(s, Q, p0, p1, img, want, ldc);
    TC_FOR_EACH_ISA(isa)
    {
        const mimic_kernels *k = mimic_kernels_for(isa);
        tc_ctx("%s c=%lld h=%lld w=%lld r=%lld s=%lld stride=%lldx%lld pad=%lldx%lld rows "
               "[%lld, %lld) of %lld, q=%lld",
               k->conv.name, (long long)s->c, (long long)s->h, (long long)s->w, (long long)s->r,
               (long long)s->s, (long long)s->stride_h, (long long)s->stride_w, (long long)s->pad_h,
               (long long)s->pad_w, (long long)p0, (long long)p1, (long long)P, (long long)Q);
        tc_fill(col, ncol, NAN); // the gap past each row's block must stay NaN
        k->conv.im2col(s, Q, p0, p1, img, col, ldc);
        tc_check_bitwise("im2col", col, want, ncol);
        fill_ints(rng, col, ncol);
        fill_ints(rng, back, nimg);
        memcpy(back_want, back, nimg * sizeof(float));
        tc_fill_sentinel(back + nimg, TC_GUARD);
        naive_col2im(s, Q, p0, p1, col, ldc, back_want);
        k->conv.col2im(s, Q, p0, p1, col, ldc, back);
        tc_check_bitwise("col2im", back, back_want, nimg);
        tc_check_sentinel("guard past the image", back + nimg, TC_GUARD);
    }
    free(img), free(col), free(want), free(back), free(back_want);
}

static void test_im2col_col2im(void **state)
{
    (void)state;
    tc_rng rng = tc_rng_seed(11);
    // c, h, w, r, s, stride_h, stride_w, pad_h, pad_w (n and k unused).
    static const int64_t shapes[][9] = {
        {2, 28, 28, 3, 3, 1, 1, 1, 1}, // "same" width: the shifted whole-plane copy
        {1, 5, 37, 3, 3, 1, 1, 1, 1},  // rows longer than two AVX-512 vectors
        {3, 7, 6, 5, 5, 1, 1, 2, 2},   // same, 5x5
        {2, 9, 8, 3, 3, 1, 1, 0, 0},   // stride 1, no padding (Q != W)
        {2, 11, 33, 3, 3, 2, 2, 1, 1}, // stride 2
        {1, 6, 70, 1, 3, 1, 2, 0, 2},  // stride 2, long rows, pad 2
        {2, 10, 29, 3, 3, 3, 3, 0, 0}, // stride 3 (gather)
        {1, 9, 9, 3, 3, 1, 2, 2, 0},   // strides differ, pads differ
        {2, 2, 2, 3, 3, 1, 1, 1, 1},   // kernel larger than the input
        {1, 1, 5, 1, 3, 1, 1, 0, 0},   // h = 1
        {3, 5, 5, 1, 1, 1, 1, 0, 0},   // pointwise
        {2, 8, 19, 7, 7, 2, 1, 3, 3},  // 7x7
        {1, 4, 3, 3, 5, 1, 1, 2, 2},   // padding wider than the input
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t *v = shapes[i];
        const mimic_conv2d s = {1, v[0], v[1], v[2], 1, v[3], v[4], v[5], v[6], v[7], v[8]};
        int64_t P, Q;
        TC_STATUS(mimic_conv2d_out_hw(&s, &P, &Q), MIMIC_OK);
        check_shape(&s, 0, P, &rng);
        if (P > 2) {
            check_shape(&s, 1, P - 1, &rng); // a middle range: neither edge
            check_shape(&s, P - 1, P, &rng); // the last row alone
        }
    }
}

// bias_act over a block of rows: every width around the vector lengths (masked tails), per-row
// bias or none, ReLU or not, NaN kept; the strides' gaps keep their sentinel. One rounding
// (x + b) in every ISA, so the check is bitwise.
static void test_bias_act(void **state)
{
    (void)state;
    tc_rng rng = tc_rng_seed(14);
    const size_t rows = 3, ldx = 41, ldy = 43;
    float *x = tc_alloc(rows * ldx), *y = tc_alloc(rows * ldy), *want = tc_alloc(rows * ldy);
    const float bias[3] = {0.5f, -0.25f, 2.0f};
    tc_fill_uniform(&rng, x, rows * ldx, -2, 2);
    x[ldx + 3] = NAN;
    for (size_t n = 0; n <= 37; n++)
        for (int relu = 0; relu <= 1; relu++)
            for (int with_bias = 0; with_bias <= 1; with_bias++) {
                tc_fill_sentinel(want, rows * ldy);
                for (size_t i = 0; i < rows; i++)
                    for (size_t j = 0; j < n; j++) {
                        const float v = x[i * ldx + j] + (with_bias ? bias[i] : 0.0f);
                        want[i * ldy + j] = relu && v < 0.0f ? 0.0f : v;
                    }
                TC_FOR_EACH_ISA(isa)
                {
                    const mimic_kernels *k = mimic_kernels_for(isa);
                    tc_ctx("%s bias_act n=%zu relu=%d bias=%d", k->conv.name, n, relu, with_bias);
                    tc_fill_sentinel(y, rows * ldy);
                    k->conv.bias_act(y, ldy, x, ldx, rows, n, with_bias ? bias : NULL, relu);
                    tc_check_bitwise("bias_act", y, want, rows * ldy);
                }
            }
    free(x), free(y), free(want);
}

// keep_pos over a block of rows: every width around the vector lengths (masked tails), a
// mask of its own (negatives, 0, -0, NaN: only > 0 keeps) and the block as its own mask (a
// ReLU: NaN and -0 to 0); the gaps of the strides keep their sentinel, and the mask's padding
// (NaN) is never read into a kept lane.
static void test_keep_pos(void **state)
{
    (void)state;
    tc_rng rng = tc_rng_seed(15);
    const size_t rows = 3, ldm = 41, ldy = 43;
    float *m = tc_alloc(rows * ldm), *y0 = tc_alloc(rows * ldy), *y = tc_alloc(rows * ldy);
    float *want = tc_alloc(rows * ldy);
    tc_fill_uniform(&rng, m, rows * ldm, -2, 2);
    tc_fill_uniform(&rng, y0, rows * ldy, -2, 2);
    m[1] = 0.0f, m[2] = -0.0f, m[ldm + 3] = NAN, y0[5] = NAN, y0[ldy + 6] = -0.0f;
    for (size_t n = 0; n <= 37; n++)
        for (int own = 0; own <= 1; own++) {
            memcpy(want, y0, rows * ldy * sizeof *want);
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < n; j++) {
                    float *w = &want[i * ldy + j];
                    const float mv = own ? *w : m[i * ldm + j];
                    *w = mv > 0.0f ? *w : 0.0f;
                }
            TC_FOR_EACH_ISA(isa)
            {
                const mimic_kernels *k = mimic_kernels_for(isa);
                tc_ctx("%s keep_pos n=%zu own mask=%d", k->conv.name, n, own);
                memcpy(y, y0, rows * ldy * sizeof *y);
                k->conv.keep_pos(y, ldy, own ? y : m, own ? ldy : ldm, rows, n);
                tc_check_bitwise("keep_pos", y, want, rows * ldy);
            }
        }
    free(m), free(y0), free(y), free(want);
}

// pad_rows at strides 1-4 over every length around the vector widths, with 0-3 zeros on
// either side, from a buffer that ends at the last element read (ASan catches a read past
// it); the gaps between the destination's rows keep their sentinel. Also without gaps
// (stride 1: rows touching in both buffers, as a slab's rows sharing their padding).
static void test_pad_rows(void **state)
{
    (void)state;
    tc_rng rng = tc_rng_seed(16);
    for (int64_t gap = 0; gap <= 1; gap++)
        for (int64_t stride = 1; stride <= 4; stride++)
            for (int64_t n = 0; n <= 40; n++) {
                const int64_t rows = gap ? 3 : 7;
                const int64_t left = n % 4, right = (n / 4) % 4, ldd = left + n + right + 5 * gap;
                const int64_t lds = n * stride + 3 * gap,
                              len = (rows - 1) * lds + (n ? (n - 1) * stride + 1 : 0);
                float *src = tc_alloc((size_t)(len ? len : 1));
                float *dst = tc_alloc((size_t)(rows * ldd)), *want = tc_alloc((size_t)(rows * ldd));
                tc_fill_uniform(&rng, src, (size_t)(len ? len : 1), -1, 1);
                tc_fill_sentinel(want, (size_t)(rows * ldd));
                for (int64_t i = 0; i < rows; i++) {
                    float *w = want + i * ldd;
                    for (int64_t j = 0; j < left + n + right; j++)
                        w[j] = j < left || j >= left + n ? 0.0f
                                                         : src[i * lds + (j - left) * stride];
                }
                TC_FOR_EACH_ISA(isa)
                {
                    const mimic_kernels *k = mimic_kernels_for(isa);
                    tc_ctx("%s pad_rows n=%lld stride=%lld left=%lld right=%lld", k->conv.name,
                           (long long)n, (long long)stride, (long long)left, (long long)right);
                    tc_fill_sentinel(dst, (size_t)(rows * ldd));
                    k->conv.pad_rows(dst, ldd, src, lds, rows, n, stride, left, right);
                    tc_check_bitwise("pad_rows", dst, want, (size_t)(rows * ldd));
                }
                free(src), free(dst), free(want);
            }
}

static void test_transpose(void **state)
{
    (void)state;
    tc_rng rng = tc_rng_seed(12);
    for (size_t rows = 1; rows <= 35; rows += (rows < 18 ? 1 : 8))
        for (size_t cols = 1; cols <= 35; cols += (cols < 18 ? 1 : 8)) {
            const size_t lds = cols + 3, ldd = rows + 2;
            float *src = tc_alloc(rows * lds), *dst = tc_alloc(cols * ldd);
            float *want = tc_alloc(cols * ldd);
            tc_fill_uniform(&rng, src, rows * lds, -1, 1);
            tc_fill_sentinel(want, cols * ldd);
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++)
                    want[j * ldd + i] = src[i * lds + j];
            TC_FOR_EACH_ISA(isa)
            {
                const mimic_kernels *k = mimic_kernels_for(isa);
                tc_ctx("%s transpose %zux%zu", k->conv.name, rows, cols);
                tc_fill_sentinel(dst, cols * ldd); // the gaps keep their sentinel
                k->conv.transpose(rows, cols, src, lds, dst, ldd);
                tc_check_bitwise("transpose", dst, want, cols * ldd);
            }
            free(src), free(dst), free(want);
        }
}

// fwd_taps against a naive loop: rows 1-9 (the TAPS_MR blocks and their tails), widths 0-200
// (whole tiles of every ISA, partial tiles, masked last vectors), 1, 9 and 25 taps, bias or
// none, ReLU or not. Small integers, so every sum is exact and the check bitwise; each tap is a
// buffer of exactly n floats at an odd address (ASan catches a read past it), and the gaps
// between the output's rows keep their sentinel.
static void test_fwd_taps(void **state)
{
    (void)state;
    tc_rng rng = tc_rng_seed(17);
    enum { MAX_ROWS = 9, MAX_TAPS = 25, MAX_N = 200 };
    const size_t ldy = MAX_N + 3, ldw = MAX_TAPS + 2;
    float *w = tc_alloc(MAX_ROWS * ldw), *y = tc_alloc(MAX_ROWS * ldy);
    float *want = tc_alloc(MAX_ROWS * ldy), bias[MAX_ROWS];
    fill_ints(&rng, w, MAX_ROWS * ldw);
    fill_ints(&rng, bias, MAX_ROWS);
    const size_t taps_cases[] = {1, 9, 25}, rows_cases[] = {1, 3, 4, 5, 8, 9};
    for (size_t n = 0; n <= MAX_N; n += n < 40 ? 1 : 7) {
        float *base[MAX_TAPS];
        const float *tap[MAX_TAPS];
        for (size_t t = 0; t < MAX_TAPS; t++) {
            base[t] = tc_alloc_off(n, 1);
            fill_ints(&rng, base[t], n);
            tap[t] = base[t];
        }
        for (size_t ti = 0; ti < 3; ti++)
            for (size_t ri = 0; ri < 6; ri++)
                for (int mode = 0; mode < 4; mode++) {
                    const size_t taps = taps_cases[ti], rows = rows_cases[ri];
                    const int relu = mode & 1, with_bias = mode >> 1;
                    tc_fill_sentinel(want, MAX_ROWS * ldy);
                    for (size_t i = 0; i < rows; i++)
                        for (size_t j = 0; j < n; j++) {
                            float v = 0.0f;
                            for (size_t t = 0; t < taps; t++)
                                v += w[i * ldw + t] * tap[t][j];
                            v += with_bias ? bias[i] : 0.0f;
                            want[i * ldy + j] = relu && v < 0.0f ? 0.0f : v;
                        }
                    TC_FOR_EACH_ISA(isa)
                    {
                        const mimic_kernels *k = mimic_kernels_for(isa);
                        tc_ctx("%s fwd_taps rows=%zu n=%zu taps=%zu relu=%d bias=%d",
                               k->conv.name, rows, n, taps, relu, with_bias);
                        tc_fill_sentinel(y, MAX_ROWS * ldy);
                        k->conv.fwd_taps(y, ldy, w, ldw, tap, taps, rows, n,
                                         with_bias ? bias : NULL, relu);
                        tc_check_bitwise("fwd_taps", y, want, MAX_ROWS * ldy);
                    }
                }
        for (size_t t = 0; t < MAX_TAPS; t++)
            tc_free_off(base[t], 1);
    }
    free(w), free(y), free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_im2col_col2im),
        cmocka_unit_test(test_bias_act),
        cmocka_unit_test(test_keep_pos),
        cmocka_unit_test(test_pad_rows),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_fwd_taps),
    };
    return cmocka_run_group_tests_name("conv_kernels", tests, tc_group_setup, tc_group_teardown);
}
