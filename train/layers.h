// The trainer's layers: forward and backward side by side, on the public mimic API only.
// Activations are row-major [batch][features] for dense layers and NCHW for spatial ones.
#ifndef MIMIC_TRAIN_LAYERS_H
#define MIMIC_TRAIN_LAYERS_H

#include <stdint.h>

#include <mimic/mimic.h>

#include "train/rng.h"

// A trainable tensor: values, gradient (same size) and the SGD momentum buffer.
typedef struct {
    float *w, *g, *v;
    int64_t n;
    float lr_scale; // this tensor's learning rate is the step's times this (1 by default)
} mimic_param;

mimic_status mimic_param_init(mimic_param *p, int64_t n);
void mimic_param_free(mimic_param *p);

// A dense (fully connected) layer y = x W^T + b with W: out x in (as PyTorch stores it) and
// b: out. has_bias = 0 makes it the linear bottleneck of Ba & Caruana (no bias either).
typedef struct {
    int64_t in, out;
    int has_bias;
    mimic_param weight, bias;
} mimic_dense;

mimic_status mimic_dense_init(mimic_dense *d, int64_t in, int64_t out, int has_bias);
void mimic_dense_free(mimic_dense *d);
// y[batch x out] = x[batch x in] W^T + b
mimic_status mimic_dense_forward(const mimic_dense *d, int64_t batch, const float *x, float *y);
// Accumulates nothing: dW = dy^T x, db = column sums of dy (overwritten), and, if dx is not
// NULL, dx[batch x in] = dy W.
mimic_status mimic_dense_backward(mimic_dense *d, int64_t batch, const float *x,
                                  const float *dy, float *dx);
// A dense layer then a ReLU, y = max(0, x W^T + b): the ReLU applied to each tile of the
// product while it is in cache (mimic_sgemm_post), the same bits as the two layers' passes.
mimic_status mimic_dense_relu_forward(const mimic_dense *d, int64_t batch, const float *x,
                                      float *y);
// mimic_dense_backward for a layer whose input x is a ReLU's output: dx (not NULL) becomes
// d loss / d that ReLU's input, (dy W) where x > 0 and 0 elsewhere, masked tile by tile in
// the product; the same bits as the dense layer's then the ReLU's backward.
mimic_status mimic_dense_backward_relu(mimic_dense *d, int64_t batch, const float *x,
                                       const float *dy, float *dx);

// ReLU on n values; backward masks dy by y > 0 (dx may alias dy).
void mimic_relu_forward(int64_t n, const float *x, float *y);
void mimic_relu_backward(int64_t n, const float *y, const float *dy, float *dx);

// Inverted dropout on n values at rate p (0 <= p < 1): value i is kept with probability
// 1 - p' and then scaled by 1 / (1 - p'), where p' is p rounded to a multiple of 2^-16 (the
// draw's resolution), or multiplied by 0; mask[i] records which. The draws depend only on
// (key, i): the same bits for any thread count, and a resumed run that passes the same key
// per step repeats them. MIMIC_EINVAL for p outside [0, 1) or NULL pointers (with n > 0).
mimic_status mimic_dropout_forward(int64_t n, float p, uint64_t key, const float *x, float *y,
                                   uint8_t *mask);
// dx = dy times the forward pass's factor, from its mask (dx may alias dy).
mimic_status mimic_dropout_backward(int64_t n, float p, const uint8_t *mask, const float *dy,
                                    float *dx);

// The widest row the max-pool takes: its loops work on whole rows in fixed scratch.
#define MIMIC_POOL_MAX_WIDTH 4096

// 2x2 max-pool with stride 2 on NCHW (h and w even, w <= MIMIC_POOL_MAX_WIDTH): y is
// n x c x h/2 x w/2. argmax (one byte per output: which of the 4 inputs won) feeds the
// backward pass, which overwrites dx.
mimic_status mimic_maxpool2_forward(int64_t n, int64_t c, int64_t h, int64_t w, const float *x,
                                    float *y, uint8_t *argmax);
mimic_status mimic_maxpool2_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                     const uint8_t *argmax, const float *dy, float *dx);
// The backward pass of ReLU followed by this pool, in one pass: y is the pool's output (n x c
// x h/2 x w/2, non-negative since its input went through the ReLU); dx is d loss / d ReLU
// input. A window's gradient goes to its winner only where the winner was positive.
mimic_status mimic_relu_maxpool2_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                          const uint8_t *argmax, const float *y,
                                          const float *dy, float *dx);

#endif
