// The image data sets (Fashion-MNIST, or MNIST in the same IDX layout) and augmentation.
#ifndef MIMIC_TRAIN_DATA_H
#define MIMIC_TRAIN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include <mimic/status.h>

#include "train/rng.h"

// Where Debian's dataset-fashion-mnist package puts the files.
#define MIMIC_FMNIST_DIR "/usr/share/datasets/fashion-mnist"

// n single-channel h x w images as floats, NCHW, normalised to zero mean and unit variance
// with the data set's statistics, and their labels in [0, classes).
typedef struct {
    int64_t n, h, w, classes;
    float *x;
    int32_t *y;
} mimic_dataset;

// Load the training (train != 0) or test split from `dir` ({train,t10k}-{images-idx3,
// labels-idx1}-ubyte, with or without .gz). A missing directory or file names the Debian
// package to install; a corrupt file names the file and the byte offset (see idx.h).
mimic_status mimic_dataset_load(const char *dir, int train, mimic_dataset *out, char *err,
                                size_t err_len);
void mimic_dataset_free(mimic_dataset *d);

// Augmentations, or'ed into mimic_dataset_batch's `augment`.
#define MIMIC_AUG_SHIFT 1 // shifts of up to max_shift pixels in each direction
#define MIMIC_AUG_FLIP 2  // left-right mirror with probability 1/2
#define MIMIC_AUG_ALL (MIMIC_AUG_SHIFT | MIMIC_AUG_FLIP)

// Copy images `idx[0..n)` of `d` into `x` (n x 1 x h x w) and their labels into `y`. With
// augment: each image shifted by up to `max_shift` pixels in each direction (uncovered pixels
// take the normalised value of black) and/or mirrored left-right with probability 1/2, as
// the flags say. Any non-zero `augment` draws the same numbers from `rng` (a shift and a
// coin per image), so views with different flags of one batch stay aligned. `flipped`, if
// not NULL, gets 1 for each image that was mirrored, else 0.
void mimic_dataset_batch(const mimic_dataset *d, const int32_t *idx, int64_t n, int augment,
                         int max_shift, mimic_rng *rng, float *x, int32_t *y,
                         uint8_t *flipped);

// Image i of `d` into x (h x w), mirrored left-right if `flip`: the images the flips of
// mimic_dataset_batch produce.
void mimic_dataset_image(const mimic_dataset *d, int64_t i, int flip, float *x);

#endif
