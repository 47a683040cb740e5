// xoshiro256** seeded with splitmix64 (Blackman & Vigna), and the draws the trainer needs.
#include <math.h>

#include "train/rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t mimic_rng_at(uint64_t key, uint64_t counter)
{
    uint64_t x = key + counter * 0x9E3779B97F4A7C15ull;
    return splitmix64(&x);
}

void mimic_rng_seed(mimic_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t mimic_rng_next(mimic_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float mimic_rng_uniform(mimic_rng *r)
{
    return (float)(mimic_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

uint32_t mimic_rng_below(mimic_rng *r, uint32_t n)
{
    return (uint32_t)(((mimic_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

float mimic_rng_normal(mimic_rng *r)
{
    // 1 - u is in (0, 1], so the log is finite.
    const double u1 = 1.0 - (double)(mimic_rng_next(r) >> 11) * 0x1.0p-53;
    const double u2 = (double)(mimic_rng_next(r) >> 11) * 0x1.0p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void mimic_rng_shuffle(mimic_rng *r, int32_t *idx, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        const int64_t j = mimic_rng_below(r, (uint32_t)(i + 1));
        const int32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
