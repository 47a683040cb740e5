/// @file conv.h
/// 2-D convolution by im2col + GEMM: forward, backward-data and backward-weights.
#ifndef MIMIC_CONV_H
#define MIMIC_CONV_H

#include <stddef.h>
#include <stdint.h>
#include <mimic/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Shape of a 2-D convolution. Activations are NCHW, weights KCRS (K output channels,
/// C input channels, R x S kernel), the output N x K x P x Q with
/// P = (h + 2*pad_h - r) / stride_h + 1 and Q = (w + 2*pad_w - s) / stride_w + 1.
/// Valid when n >= 0; c, h, w, k, r, s, stride_h, stride_w >= 1; pad_h, pad_w >= 0;
/// r <= h + 2*pad_h and s <= w + 2*pad_w (the kernel fits the padded input).
typedef struct {
    int64_t n, c, h, w, k, r, s, stride_h, stride_w, pad_h, pad_w;
} mimic_conv2d;

/// Output height @p p and width @p q of @p shape. MIMIC_EINVAL if the shape is invalid.
mimic_status mimic_conv2d_out_hw(const mimic_conv2d *shape, int64_t *p, int64_t *q);

/// dst[n][k][p][q] = bias[k] + sum_{c,r,s} wei[k][c][r][s] * src[n][c][p*sh-ph+r][q*sw-pw+s]
/// (zero outside the input). @p bias may be NULL (no bias). n == 0 is a no-op.
mimic_status mimic_conv2d_fwd(const mimic_conv2d *shape, const float *src, const float *wei,
                              const float *bias, float *dst);

/// diff_src = gradient of the forward pass with respect to src, given diff_dst. Overwrites
/// diff_src (it is not accumulated into). n == 0 is a no-op.
mimic_status mimic_conv2d_bwd_data(const mimic_conv2d *shape, const float *diff_dst,
                                   const float *wei, float *diff_src);

/// diff_wei (K x C x R x S) and, if non-NULL, diff_bias (K) = gradients of the forward pass,
/// summed over the batch. Overwrites both (with zeros when n == 0: the sum over no images).
mimic_status mimic_conv2d_bwd_weights(const mimic_conv2d *shape, const float *src,
                                      const float *diff_dst, float *diff_wei,
                                      float *diff_bias);

/// Flags of mimic_conv2d_fwd_ex.
enum {
    MIMIC_CONV_RELU = 1u, ///< dst = max(0, convolution + bias), applied as dst is written
};

/// mimic_conv2d_fwd with @p flags (0 or MIMIC_CONV_RELU); MIMIC_EINVAL for unknown flags
/// (dst untouched). With MIMIC_CONV_RELU a NaN output stays NaN.
mimic_status mimic_conv2d_fwd_ex(const mimic_conv2d *shape, const float *src, const float *wei,
                                 const float *bias, float *dst, unsigned flags);

/// The three passes, for mimic_conv2d_workspace_bytes.
typedef enum {
    MIMIC_CONV_FWD,
    MIMIC_CONV_BWD_DATA,
    MIMIC_CONV_BWD_WEIGHTS,
} mimic_conv_pass;

/// Scratch memory one call of @p pass on @p shape uses with the active ISA, the current
/// thread count and workspace limit, all threads together: column buffers, packed panels,
/// the GEMM's packing buffers and per-call partial sums. It is allocated per thread on first
/// use and kept for later calls (not freed between calls). It does not grow with the batch
/// beyond a few images. MIMIC_EINVAL for an invalid shape or pass, or a NULL @p bytes.
mimic_status mimic_conv2d_workspace_bytes(const mimic_conv2d *shape, mimic_conv_pass pass,
                                          size_t *bytes);

/// Cap on the column-buffer bytes of each thread (default 16 MiB): an image whose column
/// matrix is larger is lowered a few output rows at a time. At least one output row is
/// always lowered, so a cap below C*R*S*Q*4 bytes only means "as little as possible". Per
/// thread, not per call, so that how a problem is cut up, and so every rounding, does not
/// depend on the thread count. 0 restores the default. Applies to later calls from every
/// thread.
mimic_status mimic_conv2d_set_workspace_limit(size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
