// oneDNN 2.6 C-API wrappers used as an independent oracle (see oracle_dnnl.h).
#include "oracle_dnnl.h"

#include <stdlib.h>

#include <dnnl.h>

#define CHK(x)                                                                                 \
    do {                                                                                       \
        dnnl_status_t st_ = (x);                                                               \
        if (st_ != dnnl_success) {                                                             \
            rc = (int)st_;                                                                     \
            goto done;                                                                         \
        }                                                                                      \
    } while (0)

static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;

static int ensure_engine(void) {
    if (g_stream)
        return 0;
    dnnl_status_t st = dnnl_engine_create(&g_engine, dnnl_cpu, 0);
    if (st != dnnl_success)
        return (int)st;
    st = dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags);
    return (int)st;
}

int oracle_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                 int64_t ldc) {
    return (int)dnnl_sgemm(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

typedef struct {
    dnnl_memory_desc_t src, wei, bias, dst;
    dnnl_dims_t strides, pad_l, pad_r;
} conv_descs;

static dnnl_status_t conv_descs_init(const mimic_conv2d *s, conv_descs *d) {
    int64_t P = (s->h + 2 * s->pad_h - s->r) / s->stride_h + 1;
    int64_t Q = (s->w + 2 * s->pad_w - s->s) / s->stride_w + 1;
    dnnl_dims_t src = {s->n, s->c, s->h, s->w}, wei = {s->k, s->c, s->r, s->s};
    dnnl_dims_t bias = {s->k}, dst = {s->n, s->k, P, Q};
    d->strides[0] = s->stride_h, d->strides[1] = s->stride_w;
    d->pad_l[0] = d->pad_r[0] = s->pad_h;
    d->pad_l[1] = d->pad_r[1] = s->pad_w;
    dnnl_status_t st;
    if ((st = dnnl_memory_desc_init_by_tag(&d->src, 4, src, dnnl_f32, dnnl_nchw)) ||
        (st = dnnl_memory_desc_init_by_tag(&d->wei, 4, wei, dnnl_f32, dnnl_oihw)) ||
        (st = dnnl_memory_desc_init_by_tag(&d->bias, 1, bias, dnnl_f32, dnnl_a)) ||
        (st = dnnl_memory_desc_init_by_tag(&d->dst, 4, dst, dnnl_f32, dnnl_nchw)))
        return st;
    return dnnl_success;
}

// The forward primitive descriptor, also the hint the backward ones need.
static dnnl_status_t conv_fwd_pd(const conv_descs *d, int with_bias,
                                 dnnl_primitive_desc_t *pd) {
    dnnl_convolution_desc_t cd;
    dnnl_status_t st = dnnl_convolution_forward_desc_init(
        &cd, dnnl_forward_training, dnnl_convolution_direct, &d->src, &d->wei,
        with_bias ? &d->bias : NULL, &d->dst, d->strides, d->pad_l, d->pad_r);
    if (st != dnnl_success)
        return st;
    return dnnl_primitive_desc_create(pd, &cd, NULL, g_engine, NULL);
}

// Creates the primitive of pd, wraps the user buffers and runs it once.
static int run_primitive(const_dnnl_primitive_desc_t pd, int nargs, const int *kinds,
                         const dnnl_memory_desc_t *const *mds, void *const *ptrs) {
    int rc = 0;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t mem[6] = {0};
    dnnl_exec_arg_t args[6];
    CHK(dnnl_primitive_create(&prim, pd));
    for (int i = 0; i < nargs; i++) {
        CHK(dnnl_memory_create(&mem[i], mds[i], g_engine, ptrs[i]));
        args[i].arg = kinds[i];
        args[i].memory = mem[i];
    }
    CHK(dnnl_primitive_execute(prim, g_stream, nargs, args));
    CHK(dnnl_stream_wait(g_stream));
done:
    for (int i = 0; i < nargs; i++)
        if (mem[i])
            dnnl_memory_destroy(mem[i]);
    if (prim)
        dnnl_primitive_destroy(prim);
    return rc;
}

int oracle_conv_fwd(const mimic_conv2d *s, const float *src, const float *wei,
                    const float *bias, float *dst) {
    int rc = ensure_engine();
    if (rc)
        return rc;
    conv_descs d;
    dnnl_primitive_desc_t pd = NULL;
    CHK(conv_descs_init(s, &d));
    CHK(conv_fwd_pd(&d, bias != NULL, &pd));
    {
        int kinds[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS};
        const dnnl_memory_desc_t *mds[] = {&d.src, &d.wei, &d.dst, &d.bias};
        void *ptrs[] = {(void *)src, (void *)wei, dst, (void *)bias};
        rc = run_primitive(pd, bias ? 4 : 3, kinds, mds, ptrs);
    }
done:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    return rc;
}

int oracle_conv_bwd_data(const mimic_conv2d *s, const float *diff_dst, const float *wei,
                         float *diff_src) {
    int rc = ensure_engine();
    if (rc)
        return rc;
    conv_descs d;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t fwd = NULL, pd = NULL;
    CHK(conv_descs_init(s, &d));
    CHK(conv_fwd_pd(&d, 0, &fwd));
    CHK(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &d.src, &d.wei,
                                                 &d.dst, d.strides, d.pad_l, d.pad_r));
    CHK(dnnl_primitive_desc_create(&pd, &cd, NULL, g_engine, fwd));
    {
        int kinds[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
        const dnnl_memory_desc_t *mds[] = {&d.dst, &d.wei, &d.src};
        void *ptrs[] = {(void *)diff_dst, (void *)wei, diff_src};
        rc = run_primitive(pd, 3, kinds, mds, ptrs);
    }
done:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (fwd)
        dnnl_primitive_desc_destroy(fwd);
    return rc;
}

int oracle_conv_bwd_weights(const mimic_conv2d *s, const float *src, const float *diff_dst,
                            float *diff_wei, float *diff_bias) {
    int rc = ensure_engine();
    if (rc)
        return rc;
    conv_descs d;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t fwd = NULL, pd = NULL;
    CHK(conv_descs_init(s, &d));
    CHK(conv_fwd_pd(&d, diff_bias != NULL, &fwd));
    CHK(dnnl_convolution_backward_weights_desc_init(
        &cd, dnnl_convolution_direct, &d.src, &d.wei, diff_bias ? &d.bias : NULL, &d.dst,
        d.strides, d.pad_l, d.pad_r));
    CHK(dnnl_primitive_desc_create(&pd, &cd, NULL, g_engine, fwd));
    {
        int kinds[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS,
                       DNNL_ARG_DIFF_BIAS};
        const dnnl_memory_desc_t *mds[] = {&d.src, &d.dst, &d.wei, &d.bias};
        void *ptrs[] = {(void *)src, (void *)diff_dst, diff_wei, diff_bias};
        rc = run_primitive(pd, diff_bias ? 4 : 3, kinds, mds, ptrs);
    }
done:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (fwd)
        dnnl_primitive_desc_destroy(fwd);
    return rc;
}

int oracle_softmax(const float *x, float *y, int64_t rows, int64_t cols, float T, int log_out) {
    int rc = ensure_engine();
    if (rc)
        return rc;
    size_t n = (size_t)(rows * cols);
    float *xs = malloc((n ? n : 1) * sizeof *xs);
    dnnl_primitive_desc_t pd = NULL;
    if (!xs)
        return -1;
    for (size_t i = 0; i < n; i++)
        xs[i] = x[i] / T;
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {rows, cols};
    CHK(dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, dnnl_ab));
    if (log_out) {
        dnnl_logsoftmax_desc_t sd;
        CHK(dnnl_logsoftmax_forward_desc_init(&sd, dnnl_forward_inference, &md, 1));
        CHK(dnnl_primitive_desc_create(&pd, &sd, NULL, g_engine, NULL));
    } else {
        dnnl_softmax_desc_t sd;
        CHK(dnnl_softmax_forward_desc_init(&sd, dnnl_forward_inference, &md, 1));
        CHK(dnnl_primitive_desc_create(&pd, &sd, NULL, g_engine, NULL));
    }
    {
        int kinds[] = {DNNL_ARG_SRC, DNNL_ARG_DST};
        const dnnl_memory_desc_t *mds[] = {&md, &md};
        void *ptrs[] = {xs, y};
        rc = run_primitive(pd, 2, kinds, mds, ptrs);
    }
done:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    free(xs);
    return rc;
}
