// Portable im2col / col2im: whole valid row segments copied, padding zeroed once per segment.
#include <string.h>

#include "kernels/conv/im2col.h"

void mimic_im2col__scalar(const mimic_conv2d *sh, int64_t P, int64_t Q, const float *img,
                          float *col)
{
    const int64_t H = sh->h, W = sh->w, sh_ = sh->stride_h, sw = sh->stride_w;
    for (int64_t c = 0; c < sh->c; c++) {
        const float *plane = img + c * H * W;
        for (int64_t r = 0; r < sh->r; r++) {
            for (int64_t s = 0; s < sh->s; s++) {
                float *dst = col + ((c * sh->r + r) * sh->s + s) * P * Q;
                int64_t q_lo, q_hi;
                mimic_conv_valid_q(sh, Q, s, &q_lo, &q_hi);
                for (int64_t p = 0; p < P; p++, dst += Q) {
                    const int64_t ih = p * sh_ - sh->pad_h + r;
                    if (ih < 0 || ih >= H) {
                        memset(dst, 0, (size_t)Q * sizeof(float));
                        continue;
                    }
                    // Input column of output q is q*sw + off; valid for q in [q_lo, q_hi).
                    const float *src = plane + ih * W;
                    const int64_t off = s - sh->pad_w;
                    memset(dst, 0, (size_t)q_lo * sizeof(float));
                    if (sw == 1)
                        memcpy(dst + q_lo, src + q_lo + off, (size_t)(q_hi - q_lo) * sizeof(float));
                    else
                        for (int64_t q = q_lo; q < q_hi; q++)
                            dst[q] = src[q * sw + off];
                    memset(dst + q_hi, 0, (size_t)(Q - q_hi) * sizeof(float));
                }
            }
        }
    }
}

void mimic_col2im__scalar(const mimic_conv2d *sh, int64_t P, int64_t Q, const float *col,
                          float *img)
{
    const int64_t H = sh->h, W = sh->w, sh_ = sh->stride_h, sw = sh->stride_w;
    for (int64_t c = 0; c < sh->c; c++) {
        float *plane = img + c * H * W;
        for (int64_t r = 0; r < sh->r; r++) {
            for (int64_t s = 0; s < sh->s; s++) {
                const float *src = col + ((c * sh->r + r) * sh->s + s) * P * Q;
                int64_t q_lo, q_hi;
                mimic_conv_valid_q(sh, Q, s, &q_lo, &q_hi);
                for (int64_t p = 0; p < P; p++, src += Q) {
                    const int64_t ih = p * sh_ - sh->pad_h + r;
                    if (ih < 0 || ih >= H)
                        continue;
                    float *dst = plane + ih * W;
                    const int64_t off = s - sh->pad_w;
                    for (int64_t q = q_lo; q < q_hi; q++)
                        dst[q * sw + off] += src[q];
                }
            }
        }
    }
}
