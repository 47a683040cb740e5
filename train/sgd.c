// SGD with momentum and weight decay, He initialisation, warm-up + cosine schedule.
#include <math.h>

#include "train/sgd.h"

void mimic_sgd_step(const mimic_sgd *opt, mimic_param *p, int decay, float grad_scale)
{
    const float wd = decay ? opt->weight_decay : 0.0f, lr = opt->lr * p->lr_scale;
    const float mom = opt->momentum;
    // Local restrict pointers: through p the compiler must assume the stores may change
    // p->v itself, and it would not vectorize.
    float *restrict v = p->v, *restrict w = p->w;
    const float *restrict g = p->g;
    const int64_t n = p->n;
    // Elementwise, so any split over threads gives the same bits.
#pragma omp parallel for simd num_threads(mimic_threads_get()) if (n >= (1 << 16)) \
    schedule(static)
    for (int64_t i = 0; i < n; i++) {
        v[i] = mom * v[i] + (g[i] * grad_scale + wd * w[i]);
        w[i] -= lr * v[i];
    }
}

void mimic_init_he(mimic_param *p, int64_t fan_in, mimic_rng *rng)
{
    const float std = sqrtf(2.0f / (float)(fan_in > 0 ? fan_in : 1));
    for (int64_t i = 0; i < p->n; i++)
        p->w[i] = std * mimic_rng_normal(rng);
}

float mimic_lr_cosine(float base, int64_t step, int64_t total, int64_t warmup)
{
    if (step < warmup)
        return base * (float)(step + 1) / (float)warmup;
    if (total <= warmup)
        return base;
    const double t = (double)(step - warmup) / (double)(total - warmup);
    return (float)(0.5 * base * (1.0 + cos(3.141592653589793 * (t < 1.0 ? t : 1.0))));
}
