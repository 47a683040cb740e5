// SGD with momentum and weight decay, and the learning-rate schedules.
#ifndef MIMIC_TRAIN_SGD_H
#define MIMIC_TRAIN_SGD_H

#include <stdint.h>

#include "train/layers.h"
#include "train/rng.h"

typedef struct {
    float lr, momentum, weight_decay;
} mimic_sgd;

// v = momentum * v + (g * grad_scale + wd * w); w -= lr * p->lr_scale * v (PyTorch's SGD,
// dampening 0), where wd is opt->weight_decay if `decay` (weights) and 0 otherwise (biases are
// not decayed). grad_scale is the gradient clipping's factor (1: none): g * grad_scale is the
// float that scaling g in memory first would have left there, so the same bits.
void mimic_sgd_step(const mimic_sgd *opt, mimic_param *p, int decay, float grad_scale);

// He-normal initialisation for a layer with `fan_in` inputs: N(0, 2 / fan_in).
void mimic_init_he(mimic_param *p, int64_t fan_in, mimic_rng *rng);

// Learning rate at `step` of `total`: linear warm-up over `warmup` steps, then cosine decay
// from base to 0.
float mimic_lr_cosine(float base, int64_t step, int64_t total, int64_t warmup);

#endif
