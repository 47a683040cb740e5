// A sequential network of the trainer's layers (conv, ReLU, 2x2 max-pool, dense, dropout), with the
// activation and gradient buffers for mini-batches up to a fixed size, SGD, and checkpoints.
#ifndef MIMIC_TRAIN_NET_H
#define MIMIC_TRAIN_NET_H

#include <stddef.h>
#include <stdint.h>

#include "train/layers.h"
#include "train/rng.h"
#include "train/sgd.h"

#define MIMIC_NET_MAX_LAYERS 16

typedef enum {
    MIMIC_LAYER_CONV,
    MIMIC_LAYER_RELU,
    MIMIC_LAYER_POOL,
    MIMIC_LAYER_DENSE,
    MIMIC_LAYER_DROPOUT
} mimic_layer_kind;

typedef struct {
    mimic_layer_kind kind;
    int64_t in_c, in_h, in_w;    // input of one image (a dense layer sees in_c*in_h*in_w)
    int64_t out_c, out_h, out_w; // output of one image
    mimic_conv2d conv;           // CONV: the shape, n set per call
    mimic_param weight, bias;    // CONV (weight K*C*R*S, bias K)
    mimic_dense dense;           // DENSE
    int has_bias;                // DENSE: 0 for a linear bottleneck
    uint8_t *argmax;             // POOL: winners of the last forward pass
    float drop;                  // DROPOUT: the rate
    uint8_t *mask;               // DROPOUT: values kept by the last training forward pass
    int masked;                  // DROPOUT: whether the last forward pass dropped (training)
    // CONV followed by ReLU and a pool: the three run a few images (`chunk`) at a time, the
    // conv's output staying in `stage` (in cache) instead of a batch-sized pass through
    // memory; `part` takes a chunk's weight and bias gradients before they are summed. A
    // second pool right after runs with the chunks too; `pool_grad` then holds a chunk's
    // gradient between the two pools' backward passes.
    int64_t chunk;
    float *stage, *part, *pool_grad;
} mimic_layer;

typedef struct {
    int n_layers;
    mimic_layer layers[MIMIC_NET_MAX_LAYERS];
    int64_t batch_cap;
    int64_t stage_bytes;                    // conv output per chunk (0: 1 MiB); before finalize
    const float *input;                     // the last forward pass's input (borrowed)
    int training;                           // dropout layers drop (else they pass through)
    uint64_t dropout_key;                   // the draws of the next training forward pass
    float *act[MIMIC_NET_MAX_LAYERS + 1];   // act[i + 1]: output of layer i
    float *grad[MIMIC_NET_MAX_LAYERS + 1];  // grad[i]: d loss / d input of layer i
} mimic_net;

// An empty network for inputs of c x h x w per image and batches of up to batch_cap.
mimic_status mimic_net_init(mimic_net *net, int64_t c, int64_t h, int64_t w, int64_t batch_cap);
// Layers, appended in order; each takes the previous output shape.
mimic_status mimic_net_add_conv(mimic_net *net, int64_t k, int64_t r, int64_t stride,
                                int64_t pad);
mimic_status mimic_net_add_relu(mimic_net *net);
mimic_status mimic_net_add_pool(mimic_net *net);
mimic_status mimic_net_add_dense(mimic_net *net, int64_t out, int has_bias);
// Inverted dropout at rate p in [0, 1) (mimic_dropout_forward); it drops only in training
// mode, and is the identity otherwise (evaluation, the teacher's logits).
mimic_status mimic_net_add_dropout(mimic_net *net, float p);
// Allocate the buffers and He-initialise every weight from `rng` (biases start at 0).
mimic_status mimic_net_finalize(mimic_net *net, mimic_rng *rng);
void mimic_net_free(mimic_net *net);

// Training mode (on != 0: dropout layers drop) with the key of the next forward pass's
// draws, or evaluation mode (on = 0, the default). Layer i draws from key ^ hash(i), so a
// caller that derives the key from its seed and the step number repeats every draw on resume.
void mimic_net_set_training(mimic_net *net, int on, uint64_t key);

// Output features per image (the logits of a classifier) and trainable parameters in all.
int64_t mimic_net_outputs(const mimic_net *net);
int64_t mimic_net_param_count(const mimic_net *net);

// Forward a batch (batch <= batch_cap) of inputs; *out points at the output, batch x outputs,
// valid until the next forward.
mimic_status mimic_net_forward(mimic_net *net, int64_t batch, const float *x, const float **out);
// Backward from d loss / d output (batch x outputs) for the batch of the last forward pass:
// fills every parameter's gradient.
mimic_status mimic_net_backward(mimic_net *net, int64_t batch, const float *dout);
// Every trainable tensor, in layer order: for each conv or dense layer its weight, then its
// bias (so even indices are weights). `out` holds MIMIC_NET_MAX_PARAMS; returns the count.
#define MIMIC_NET_MAX_PARAMS (2 * MIMIC_NET_MAX_LAYERS)
int mimic_net_params(mimic_net *net, mimic_param **out);
// The factor that scales every gradient down so their global L2 norm is at most max_norm (1
// if it already is): mimic_net_step applies it as it reads the gradients, which saves the
// pass that would scale them in memory. *norm (if not NULL) gets the norm.
float mimic_net_clip_scale(mimic_net *net, double max_norm, double *norm);
// Scale the learning rate of every dense layer with more than `ref` inputs by ref / inputs.
// A step of a dense layer moves its outputs in proportion to the squared norm of its input,
// which grows with the input width; without this the wide output layer of a shallow student
// (H = 5k-11k ReLU units) makes steps hundreds of times larger than its bottleneck does, and
// regression on logits diverges at any learning rate that trains the rest (docs/distill.md).
void mimic_net_scale_lr_by_fan_in(mimic_net *net, float ref);
// One SGD step on every parameter (weights decayed, biases not), the gradients scaled by
// grad_scale (mimic_net_clip_scale; 1: as they are).
void mimic_net_step(mimic_net *net, const mimic_sgd *opt, float grad_scale);

// CRC-32 of every parameter's values in layer order: a fingerprint of the trained bits (two
// runs with the same seed, and a resumed run, give the same one).
uint32_t mimic_net_weights_crc(const mimic_net *net);

// Checkpoints: every parameter's values and momentum, plus `extra` caller bytes (training
// state), with a CRC. Written to PATH.tmp, fsync'ed, then renamed over PATH, so a crash never
// leaves a half-written checkpoint. Loading checks the layout matches this network.
mimic_status mimic_net_save(const mimic_net *net, const char *path, const void *extra,
                            size_t extra_len, char *err, size_t err_len);
mimic_status mimic_net_load(mimic_net *net, const char *path, void *extra, size_t extra_len,
                            char *err, size_t err_len);

#endif
