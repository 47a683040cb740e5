// Portable softmax and loss row passes: the vector API of softmax_template.h as 8 plain float
// lanes, exp per lane by mimic_expf. The fixed 8-lane loops let the compiler vectorize with
// the baseline ISA (SSE2, or NEON on AArch64) without reassociating: no -ffast-math needed.
#include <string.h>

#include "kernels/softmax/exp_scalar.h"
#include "kernels/softmax/softmax_kernels.h"

#define MIMIC_SOFTMAX_ISA scalar
#define VLEN MIMIC_SOFTMAX_LANES_scalar
typedef struct {
    float v[VLEN];
} vf;
typedef size_t vtail;

#define LANES(l) for (size_t l = 0; l < VLEN; l++)

static inline vf v_set1(float a)
{
    vf r;
    LANES(l) r.v[l] = a;
    return r;
}
static inline vf v_load(const float *p)
{
    vf r;
    memcpy(r.v, p, sizeof r.v);
    return r;
}
static inline void v_store(float *p, vf v)
{
    memcpy(p, v.v, sizeof v.v);
}
static inline vtail v_tail(size_t r)
{
    return r;
}
static inline vf v_load_tail(const float *p, vtail r, float fill)
{
    vf v = v_set1(fill);
    memcpy(v.v, p, r * sizeof *p);
    return v;
}
static inline void v_store_tail(float *p, vtail r, vf v)
{
    memcpy(p, v.v, r * sizeof *p);
}
static inline vf v_add_tail(vf acc, vtail r, vf v)
{
    for (size_t l = 0; l < r; l++)
        acc.v[l] += v.v[l];
    return acc;
}
static inline vf v_add(vf a, vf b)
{
    LANES(l) a.v[l] += b.v[l];
    return a;
}
static inline vf v_sub(vf a, vf b)
{
    LANES(l) a.v[l] -= b.v[l];
    return a;
}
static inline vf v_mul(vf a, vf b)
{
    LANES(l) a.v[l] *= b.v[l];
    return a;
}
static inline vf v_fma(vf a, vf b, vf c)
{
    LANES(l) c.v[l] += a.v[l] * b.v[l];
    return c;
}
static inline vf v_fms(vf a, vf b, vf c)
{
    LANES(l) c.v[l] = a.v[l] * b.v[l] - c.v[l];
    return c;
}
static inline vf v_max(vf x, vf acc)
{
    LANES(l) acc.v[l] = x.v[l] > acc.v[l] ? x.v[l] : acc.v[l];
    return acc;
}
static inline vf v_keep_pos(vf p, vf v)
{
    LANES(l) v.v[l] = p.v[l] > 0.0f ? v.v[l] : 0.0f;
    return v;
}
static inline int v_any_gt(vf a, vf limit)
{
    int any = 0;
    LANES(l) any |= a.v[l] > limit.v[l];
    return any;
}
static inline float v_hsum(vf v)
{
    float s = v.v[0];
    for (size_t l = 1; l < VLEN; l++)
        s += v.v[l];
    return s;
}
static inline float v_hmax(vf v)
{
    float m = v.v[0];
    for (size_t l = 1; l < VLEN; l++)
        m = v.v[l] > m ? v.v[l] : m;
    return m;
}
static inline vf v_exp(vf x)
{
    LANES(l) x.v[l] = mimic_expf(x.v[l]);
    return x;
}

#include "kernels/softmax/softmax_template.h"
