// 2-D convolution by im2col + GEMM: argument checks and the per-image lowering.
#include <string.h>

#include "arch/workspace.h"
#include "kernels/conv/im2col.h"
#include "kernels/gemm/gemm_internal.h"

// a * b into *out unless it overflows the element budget of one tensor.
static int mul_ok(int64_t a, int64_t b, int64_t *out)
{
    const int64_t limit = (int64_t)(PTRDIFF_MAX / sizeof(float));
    if (__builtin_mul_overflow(a, b, out))
        return 0;
    return *out <= limit;
}

static int elems(int64_t a, int64_t b, int64_t c, int64_t d, int64_t *out)
{
    int64_t ab, abc;
    return mul_ok(a, b, &ab) && mul_ok(ab, c, &abc) && mul_ok(abc, d, out);
}

// The checked sizes of one convolution.
typedef struct {
    int64_t p, q;      // output height and width
    int64_t pq, hw;    // output and input plane sizes
    int64_t crs;       // reduction length of the forward GEMM
    int64_t col;       // column-buffer elements per image (crs * pq)
    int is_pointwise;  // 1x1, stride 1, no padding: the image is its own column buffer
} conv_dims;

static mimic_status conv_check(const mimic_conv2d *sh, conv_dims *d)
{
    if (!sh)
        return MIMIC_EINVAL;
    if (sh->n < 0 || sh->c < 1 || sh->h < 1 || sh->w < 1 || sh->k < 1 || sh->r < 1 ||
        sh->s < 1 || sh->stride_h < 1 || sh->stride_w < 1 || sh->pad_h < 0 || sh->pad_w < 0)
        return MIMIC_EINVAL;
    if (sh->pad_h > (INT64_MAX - sh->h) / 2 || sh->pad_w > (INT64_MAX - sh->w) / 2)
        return MIMIC_EINVAL;
    const int64_t hp = sh->h + 2 * sh->pad_h, wp = sh->w + 2 * sh->pad_w;
    if (sh->r > hp || sh->s > wp)
        return MIMIC_EINVAL;
    d->p = (hp - sh->r) / sh->stride_h + 1;
    d->q = (wp - sh->s) / sh->stride_w + 1;
    int64_t src, dst, wei, col;
    if (!elems(sh->n, sh->c, sh->h, sh->w, &src) || !elems(sh->n, sh->k, d->p, d->q, &dst) ||
        !elems(sh->k, sh->c, sh->r, sh->s, &wei) || !elems(sh->c, sh->r, sh->s, 1, &d->crs) ||
        !elems(d->crs, d->p, d->q, 1, &col))
        return MIMIC_EINVAL;
    d->pq = d->p * d->q;
    d->hw = sh->h * sh->w;
    d->col = col;
    d->is_pointwise = sh->r == 1 && sh->s == 1 && sh->stride_h == 1 && sh->stride_w == 1 &&
                      sh->pad_h == 0 && sh->pad_w == 0;
    return MIMIC_OK;
}

mimic_status mimic_conv2d_out_hw(const mimic_conv2d *shape, int64_t *p, int64_t *q)
{
    conv_dims d;
    if (!p || !q || conv_check(shape, &d) != MIMIC_OK)
        return MIMIC_EINVAL;
    *p = d.p;
    *q = d.q;
    return MIMIC_OK;
}

// The column buffer (NULL for pointwise convolutions, which need none) and the GEMM
// buffers for a GEMM of M x N x K, all allocated before any output is written.
static mimic_status conv_workspace(const mimic_kernels *k, const conv_dims *d, int64_t M,
                                   int64_t N, int64_t K, float **col)
{
    *col = NULL;
    if (!d->is_pointwise) {
        *col = mimic_workspace(MIMIC_WS_CONV_COL, (size_t)d->col);
        if (!*col)
            return MIMIC_ENOMEM;
    }
    return mimic_gemm_reserve(k, M, N, K);
}

mimic_status mimic_conv2d_fwd(const mimic_conv2d *sh, const float *src, const float *wei,
                              const float *bias, float *dst)
{
    conv_dims d;
    if (conv_check(sh, &d) != MIMIC_OK)
        return MIMIC_EINVAL;
    if (sh->n == 0)
        return MIMIC_OK;
    if (!src || !wei || !dst)
        return MIMIC_EINVAL;
    const mimic_kernels *k = mimic_kernels_active();
    float *col;
    if (conv_workspace(k, &d, sh->k, d.pq, d.crs, &col) != MIMIC_OK)
        return MIMIC_ENOMEM;
    for (int64_t n = 0; n < sh->n; n++) {
        const float *img = src + n * sh->c * d.hw;
        float *out = dst + n * sh->k * d.pq;
        if (!d.is_pointwise)
            k->conv.im2col(sh, d.p, d.q, img, col);
        // The bias goes in first so the GEMM adds onto it (beta = 1) in the same pass.
        if (bias)
            for (int64_t o = 0; o < sh->k; o++)
                for (int64_t j = 0; j < d.pq; j++)
                    out[o * d.pq + j] = bias[o];
        (void)mimic_gemm_run(k, 0, 0, sh->k, d.pq, d.crs, 1.0f, wei, d.crs,
                             d.is_pointwise ? img : col, d.pq, bias ? 1.0f : 0.0f, out, d.pq);
    }
    return MIMIC_OK;
}

mimic_status mimic_conv2d_bwd_data(const mimic_conv2d *sh, const float *diff_dst,
                                   const float *wei, float *diff_src)
{
    conv_dims d;
    if (conv_check(sh, &d) != MIMIC_OK)
        return MIMIC_EINVAL;
    if (sh->n == 0)
        return MIMIC_OK;
    if (!diff_dst || !wei || !diff_src)
        return MIMIC_EINVAL;
    const mimic_kernels *k = mimic_kernels_active();
    float *col;
    if (conv_workspace(k, &d, d.crs, d.pq, sh->k, &col) != MIMIC_OK)
        return MIMIC_ENOMEM;
    for (int64_t n = 0; n < sh->n; n++) {
        const float *dd = diff_dst + n * sh->k * d.pq;
        float *ds = diff_src + n * sh->c * d.hw;
        // col = W^T * diff_dst, then every column element goes back where im2col took it.
        float *target = d.is_pointwise ? ds : col;
        (void)mimic_gemm_run(k, 1, 0, d.crs, d.pq, sh->k, 1.0f, wei, d.crs, dd, d.pq, 0.0f,
                             target, d.pq);
        if (!d.is_pointwise) {
            memset(ds, 0, (size_t)(sh->c * d.hw) * sizeof(float));
            k->conv.col2im(sh, d.p, d.q, col, ds);
        }
    }
    return MIMIC_OK;
}

mimic_status mimic_conv2d_bwd_weights(const mimic_conv2d *sh, const float *src,
                                      const float *diff_dst, float *diff_wei, float *diff_bias)
{
    conv_dims d;
    if (conv_check(sh, &d) != MIMIC_OK || !diff_wei)
        return MIMIC_EINVAL;
    if (sh->n > 0 && (!src || !diff_dst))
        return MIMIC_EINVAL;
    const mimic_kernels *k = mimic_kernels_active();
    float *col;
    if (conv_workspace(k, &d, sh->k, d.crs, d.pq, &col) != MIMIC_OK)
        return MIMIC_ENOMEM;
    if (sh->n == 0) // the gradient summed over an empty batch
        memset(diff_wei, 0, (size_t)(sh->k * d.crs) * sizeof(float));
    for (int64_t n = 0; n < sh->n; n++) {
        const float *img = src + n * sh->c * d.hw;
        const float *dd = diff_dst + n * sh->k * d.pq;
        if (!d.is_pointwise)
            k->conv.im2col(sh, d.p, d.q, img, col);
        // diff_wei += diff_dst_n * col_n^T, summed over the batch in image order.
        (void)mimic_gemm_run(k, 0, 1, sh->k, d.crs, d.pq, 1.0f, dd, d.pq,
                             d.is_pointwise ? img : col, d.pq, n == 0 ? 0.0f : 1.0f, diff_wei,
                             d.crs);
    }
    if (diff_bias) {
        for (int64_t o = 0; o < sh->k; o++) {
            double sum = 0.0;
            for (int64_t n = 0; n < sh->n; n++) {
                const float *dd = diff_dst + (n * sh->k + o) * d.pq;
                for (int64_t j = 0; j < d.pq; j++)
                    sum += dd[j];
            }
            diff_bias[o] = (float)sum;
        }
    }
    return MIMIC_OK;
}
