// A small seeded RNG (xoshiro256**, seeded by splitmix64) so a seed gives the same bits on
// every machine: initialisation, shuffling, augmentation and dropout all draw from it.
#ifndef MIMIC_TRAIN_RNG_H
#define MIMIC_TRAIN_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} mimic_rng;

void mimic_rng_seed(mimic_rng *r, uint64_t seed);
uint64_t mimic_rng_next(mimic_rng *r);
// Uniform in [0, 1) with 24 random bits.
float mimic_rng_uniform(mimic_rng *r);
// Uniform integer in [0, n), n >= 1 (Lemire's multiply-shift, rejection-free bias < 2^-32).
uint32_t mimic_rng_below(mimic_rng *r, uint32_t n);
// Standard normal (Box-Muller; one value per call).
float mimic_rng_normal(mimic_rng *r);
// The counter-th value of splitmix64's stream from `key`: 64 random bits that depend only on
// (key, counter), so a pass can draw them in any order or split over any number of threads.
uint64_t mimic_rng_at(uint64_t key, uint64_t counter);
// Fisher-Yates shuffle of idx[0..n).
void mimic_rng_shuffle(mimic_rng *r, int32_t *idx, int64_t n);

#endif
