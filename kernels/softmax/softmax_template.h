// The softmax and loss row passes written once over a small vector API; each ISA file
// (softmax_<isa>.c) defines that API and includes this file, which then defines
// mimic_<pass>__<isa>. Not a normal header: it is included once per ISA file.
//
// The API an ISA file defines first (vf: a vector of VLEN floats; vtail: the first r lanes,
// 1 <= r <= VLEN):
//   MIMIC_SOFTMAX_ISA                       the suffix: scalar, avx2, avx512, neon
//   vf v_set1(float), v_load(const float *); void v_store(float *, vf)
//   vtail v_tail(size_t r); vf v_load_tail(const float *, vtail, float fill): fill in the
//   other lanes; void v_store_tail(float *, vtail, vf); vf v_add_tail(vf acc, vtail, vf v):
//   acc + v in the tail lanes, acc in the others
//   vf v_add, v_sub, v_mul; v_fma(a, b, c) = a*b + c; v_fms(a, b, c) = a*b - c
//   vf v_max(vf x, vf acc): lane-wise max where a NaN x leaves acc (acc is never NaN)
//   vf v_keep_pos(vf p, vf v): v where p > 0, else 0
//   int v_any_gt(vf a, vf limit): some lane of a > limit (NaN lanes are not)
//   float v_hsum(vf), v_hmax(vf): fixed-order horizontal reductions
//   the exps of exp_vector.h (every ISA includes it): vf v_exp(vf) = e^x, vf v_exp2(vf) = 2^t,
//   vf exp_any(vf, int base2) either one
// Optionally, for short rows computed VLEN at a time across the lanes (scalar, AVX2, AVX-512;
// softmax, its losses and KD):
//   V_ROWS_ACROSS_MAX                       the longest such row
//   void v_load_cols(const float *x, size_t n, vf c[]): VLEN rows of n floats transposed,
//   c[j] = column j (lane i = row i) for j < n; void v_store_cols(float *y, size_t n, vf c[]):
//   the inverse (c may be clobbered); vf v_div(vf, vf)
// Optionally, for a short form of exp on steps whose arguments all lie in the function's
// normal range ([MIMIC_EXP_NORMAL_LO, MIMIC_EXP_NORMAL_HI] or the EXP2 one; scalar, AVX2):
//   V_EXP_NORMAL; vf exp_normal_any(vf, int base2): exp_any's values there (and NaN for NaN);
//   vf v_min(vf, vf); int v_any_lt(vf a, vf limit)
// Main loops take 4 vectors per step with 4 independent accumulators, then single vectors,
// then one tail of fewer than VLEN elements (masked, or through a stack buffer on NEON).
#include <float.h>
#include <math.h>

#include "kernels/softmax/softmax_kernels.h"

#define MIMIC_CAT_(a, b) a##b
#define MIMIC_CAT(a, b) MIMIC_CAT_(a, b)
#define FN(pass) MIMIC_CAT(mimic_##pass##__, MIMIC_SOFTMAX_ISA)
#if defined(__GNUC__)
#define SHORT_ROW_INLINE __attribute__((always_inline))
#else
#define SHORT_ROW_INLINE
#endif

float FN(row_max)(const float *x, size_t n)
{
    const vf vninf = v_set1(-INFINITY);
    vf vacc0 = vninf, vacc1 = vninf, vacc2 = vninf, vacc3 = vninf;
    size_t j = 0;
    for (; j + 4 * VLEN <= n; j += 4 * VLEN) {
        vacc0 = v_max(v_load(x + j), vacc0);
        vacc1 = v_max(v_load(x + j + VLEN), vacc1);
        vacc2 = v_max(v_load(x + j + 2 * VLEN), vacc2);
        vacc3 = v_max(v_load(x + j + 3 * VLEN), vacc3);
    }
    for (; j + VLEN <= n; j += VLEN)
        vacc0 = v_max(v_load(x + j), vacc0);
    if (j < n)
        vacc0 = v_max(v_load_tail(x + j, v_tail(n - j), -INFINITY), vacc0);
    return v_hmax(v_max(v_max(vacc0, vacc1), v_max(vacc2, vacc3)));
}

// Long rows come from L3 or DRAM: the passes that stream a row (the online pass, the scaling
// and shifting passes) prefetch MIMIC_PF_DIST floats ahead, every cache line of the 4 vectors
// of a step; a prefetch never faults past the end. On the Intel Xeon of docs/softmax.md this
// took softmax 8x1048576 (1 thread) from 0.76 to 1.00 of the copy bandwidth on AVX-512 and
// from 0.59 to 0.70 on AVX2.
#ifndef MIMIC_PF_DIST
#define MIMIC_PF_DIST 1024
#endif
// scale and shift_scale prefetch from this length on: the three-pass rows (shorter) are in
// L1, and prefetching the next row there cost 4096x1000 a fifth of its speed.
#define PF_MIN 4096
static inline void prefetch_ahead(const float *p)
{
#if defined(__GNUC__) && MIMIC_PF_DIST > 0
    for (size_t u = 0; u < 4 * VLEN; u += 64 / sizeof(float))
        __builtin_prefetch(p + MIMIC_PF_DIST + u);
#else
    (void)p;
#endif
}

// exp((x - m) * inv_t) of one vector, or with base2 2^((x - m) * a) for a = inv_t log2(e).
static inline vf exp_shifted(vf vx, vf vm, vf vscale, int base2)
{
    return exp_any(v_mul(v_sub(vx, vm), vscale), base2);
}

// exp of the four vectors of a step's arguments. Where the ISA has the short form of exp
// (V_EXP_NORMAL), that form when every argument lies in its range, checked once for the four
// (NaN lanes give NaN either way; min and max may hide them); check_hi = 0 where the
// arguments are known to lie below the range's top (the online pass: at most its limit).
// base2 = 1: the arguments are in log2 units, 2^vd (v_exp2).
static inline void exp4(const vf vd[4], vf ve[4], int check_hi, int base2)
{
#ifdef V_EXP_NORMAL
    int out = v_any_lt(v_min(v_min(vd[0], vd[1]), v_min(vd[2], vd[3])),
                       v_set1(base2 ? MIMIC_EXP2_NORMAL_LO : MIMIC_EXP_NORMAL_LO));
    if (check_hi)
        out |= v_any_gt(v_max(v_max(vd[0], vd[1]), v_max(vd[2], vd[3])),
                        v_set1(base2 ? MIMIC_EXP2_NORMAL_HI : MIMIC_EXP_NORMAL_HI));
    if (!out) {
        for (int u = 0; u < 4; u++)
            ve[u] = exp_normal_any(vd[u], base2);
        return;
    }
#else
    (void)check_hi;
#endif
    for (int u = 0; u < 4; u++)
        ve[u] = exp_any(vd[u], base2);
}

// A row of n <= 4 * VLEN: one read, one exp per element and no reload of y (a masked store
// followed by a load of the same bytes stalls store forwarding).
static inline vf short_load(const float *x, size_t n, size_t j)
{
    if (j + VLEN <= n)
        return v_load(x + j);
    return j < n ? v_load_tail(x + j, v_tail(n - j), -INFINITY) : v_set1(-INFINITY);
}

// exp((x - m) * inv_t) of the vector at j, 0 in the lanes past n. Those lanes compute exp(0)
// from a fill of m, not exp(-inf): an underflowing exp costs a microcode assist on some CPUs.
static inline vf short_exp(const float *x, size_t n, size_t j, float m, vf vinv_t)
{
    if (j + VLEN <= n)
        return exp_shifted(v_load(x + j), v_set1(m), vinv_t, 0);
    if (j >= n)
        return v_set1(0.0f);
    const vtail t = v_tail(n - j);
    return v_add_tail(v_set1(0.0f), t, exp_shifted(v_load_tail(x + j, t, m), v_set1(m), vinv_t, 0));
}

static inline void short_store(float *y, size_t n, size_t j, vf v)
{
    if (j + VLEN <= n)
        v_store(y + j, v);
    else if (j < n)
        v_store_tail(y + j, v_tail(n - j), v);
}

// One short row; returns its max and sets *sum. Vectors past n are skipped, not computed on
// -inf: every operation here is on the critical path of a row.
// No vector crosses a call boundary: GCC 12 did not inline this function, gave it vinv_t in a
// ymm/zmm register and returned without vzeroupper, and its caller, trusting the ABI's clean
// state after a call, skipped its own vzeroupper on that path. The dirty upper state then cost
// every legacy-SSE instruction of the baseline code after it (logf's caller in ce and
// log_softmax) hundreds of cycles per row on Intel (ce 128x10: 24 us against 3.5). So the row
// takes inv_t as a float and is inlined.
static inline SHORT_ROW_INLINE float short_row(const float *x, float *y, size_t n, float inv_t,
                                               float s, float *sum)
{
    const vf vinv_t = v_set1(inv_t);
    vf vmax = v_max(short_load(x, n, 0), v_set1(-INFINITY));
    for (size_t j = VLEN; j < n; j += VLEN)
        vmax = v_max(short_load(x, n, j), vmax);
    const float m = v_hmax(vmax);
    const vf vzero = v_set1(0.0f);
    const vf ve0 = short_exp(x, n, 0, m, vinv_t);
    const vf ve1 = n > VLEN ? short_exp(x, n, VLEN, m, vinv_t) : vzero;
    const vf ve2 = n > 2 * VLEN ? short_exp(x, n, 2 * VLEN, m, vinv_t) : vzero;
    const vf ve3 = n > 3 * VLEN ? short_exp(x, n, 3 * VLEN, m, vinv_t) : vzero;
    *sum = v_hsum(n > 2 * VLEN ? v_add(v_add(ve0, ve1), v_add(ve2, ve3))
                  : n > VLEN   ? v_add(ve0, ve1)
                               : ve0);
    if (y) {
        const vf vs = v_set1(s / *sum);
        short_store(y, n, 0, v_mul(ve0, vs));
        if (n > VLEN)
            short_store(y, n, VLEN, v_mul(ve1, vs));
        if (n > 2 * VLEN)
            short_store(y, n, 2 * VLEN, v_mul(ve2, vs));
        if (n > 3 * VLEN)
            short_store(y, n, 3 * VLEN, v_mul(ve3, vs));
    }
    return m;
}

// The rows loop lives here, not in the caller: a short row costs about as much as a call, and
// consecutive rows overlap in the out-of-order window only when nothing serializes them.
static inline void short_rows_impl(const float *x, float *y, size_t rows, size_t n, float inv_t,
                                   float s, float *max, float *sum, int store, int stats)
{
    for (size_t i = 0; i < rows; i++) {
        float si;
        const float mi = short_row(x + i * n, store ? y + i * n : NULL, n, inv_t, s, &si);
        if (stats) {
            max[i] = mi;
            sum[i] = si;
        }
    }
}

#ifdef V_ROWS_ACROSS_MAX
// The max, exps (into e, which may be c) and sum over the columns c of VLEN rows across the
// lanes: softmax's short rows and KD's.
static inline vf across_exps(const vf *c, vf *e, size_t n, vf vinv_t, vf *vmax)
{
    vf vm = v_max(c[0], v_set1(-INFINITY));
    for (size_t j = 1; j < n; j++)
        vm = v_max(c[j], vm);
    vf vsum = v_set1(0.0f);
    for (size_t j = 0; j < n; j++) {
        e[j] = v_exp(v_mul(v_sub(c[j], vm), vinv_t));
        vsum = v_add(vsum, e[j]);
    }
    *vmax = vm;
    return vsum;
}

// VLEN rows of n <= V_ROWS_ACROSS_MAX, transposed so that every lane is a row: the max, the
// exps and the sum need no horizontal step, no lane is spent on padding (a row of 10 takes 10
// exps per VLEN rows, not two vectors' worth, or one with 6 idle lanes), and one division
// serves them all; then transposed back. short_row's contract; the sum is the plain
// left-to-right one.
static inline void rows_across(const float *x, float *y, size_t n, float inv_t, float s,
                               float *max, float *sum)
{
    vf c[V_ROWS_ACROSS_MAX], vm;
    v_load_cols(x, n, c);
    const vf vsum = across_exps(c, c, n, v_set1(inv_t), &vm);
    if (max) {
        v_store(max, vm);
        v_store(sum, vsum);
    }
    if (!y)
        return;
    const vf vs = v_div(v_set1(s), vsum);
    for (size_t j = 0; j < n; j++)
        c[j] = v_mul(c[j], vs);
    v_store_cols(y, n, c);
}
#endif

void FN(short_rows)(const float *x, float *y, size_t rows, size_t n, float inv_t, float s,
                    float *max, float *sum)
{
#ifdef V_ROWS_ACROSS_MAX
    // Whole groups of VLEN rows across the lanes, the rest row by row. Which rows take which
    // path depends only on the block, so the bits do not depend on the thread count.
    if (n <= V_ROWS_ACROSS_MAX) {
        size_t i = 0;
        for (; i + VLEN <= rows; i += VLEN)
            rows_across(x + i * n, y ? y + i * n : NULL, n, inv_t, s, max ? max + i : NULL,
                        max ? sum + i : NULL);
        x += i * n, rows -= i;
        if (y)
            y += i * n;
        if (max)
            max += i, sum += i;
    }
#endif
    if (y && max)
        short_rows_impl(x, y, rows, n, inv_t, s, max, sum, 1, 1);
    else if (y)
        short_rows_impl(x, y, rows, n, inv_t, s, NULL, NULL, 1, 0);
    else
        short_rows_impl(x, NULL, rows, n, inv_t, s, max, sum, 0, 1);
}

// Stores four vectors of exps at j (when store) and adds them to the four sums.
static inline void store_add4(float *y, size_t j, int store, const vf ve[4], vf vacc[4])
{
    for (int u = 0; u < 4; u++) {
        if (store)
            v_store(y + j + (size_t)u * VLEN, ve[u]);
        vacc[u] = v_add(vacc[u], ve[u]);
    }
}

// exp_sum with the store decided at compile time (store = 0 or 1 after inlining).
static inline float exp_sum_impl(const float *x, float *y, size_t n, float m, float inv_t,
                                 int store)
{
    const vf vm = v_set1(m), vinv_t = v_set1(inv_t);
    vf vacc[4] = {v_set1(0.0f), v_set1(0.0f), v_set1(0.0f), v_set1(0.0f)};
    size_t j = 0;
    for (; j + 4 * VLEN <= n; j += 4 * VLEN) {
        vf vd[4], ve[4];
        for (int u = 0; u < 4; u++)
            vd[u] = v_mul(v_sub(v_load(x + j + (size_t)u * VLEN), vm), vinv_t);
        exp4(vd, ve, 1, 0);
        store_add4(y, j, store, ve, vacc);
    }
    for (; j + VLEN <= n; j += VLEN) {
        const vf ve = exp_shifted(v_load(x + j), vm, vinv_t, 0);
        if (store)
            v_store(y + j, ve);
        vacc[0] = v_add(vacc[0], ve);
    }
    if (j < n) {
        const vtail t = v_tail(n - j);
        const vf ve = exp_shifted(v_load_tail(x + j, t, m), vm, vinv_t, 0); // exp(0) past n
        if (store)
            v_store_tail(y + j, t, ve);
        vacc[0] = v_add_tail(vacc[0], t, ve);
    }
    return v_hsum(v_add(v_add(vacc[0], vacc[1]), v_add(vacc[2], vacc[3])));
}

float FN(exp_sum)(const float *x, float *y, size_t n, float m, float inv_t)
{
    return y ? exp_sum_impl(x, y, n, m, inv_t, 1) : exp_sum_impl(x, NULL, n, m, inv_t, 0);
}

// The online pass: one reference r shared by all lanes (never NaN), the running max per lane,
// and per-lane sums of exp((x - r) * inv_t), computed as 2^((x - r) * a) with a = inv_t log2(e)
// rounded once (v_exp2: four multiply-adds fewer per vector than v_exp, which is what bounds
// this pass; the argument's relative error grows from 2u to 3u). A NaN x leaves r and the max
// alone and makes its sum NaN; +inf moves r to +inf, where (x - r) = NaN makes the sum NaN too.
// Storing, it writes each exp as it goes; a rescale leaves the entries before it relative to an
// older r.
typedef struct {
    vf va, vlimit, vref, vmax; // a = inv_t log2(e); the limit in log2 units
    size_t from; // where the exps relative to the current vref start
} online_state;

// Moves the reference up to the largest lane of vxmax (the lane-wise max of the new vectors and
// the old reference: never NaN) and returns the factor that rescales the sums. Exps stored from
// j on follow the new reference.
static inline vf online_rescale(online_state *st, vf vxmax, size_t j)
{
    const vf vnew = v_set1(v_hmax(vxmax));
    const vf vscale = v_exp2(v_mul(v_sub(st->vref, vnew), st->va));
    st->vref = vnew;
    st->from = j;
    return vscale;
}

static inline vf online_arg(const online_state *st, vf vx)
{
    return v_mul(v_sub(vx, st->vref), st->va);
}

// One vector at j: rescales *vacc if some lane would pass the limit, updates the max, and
// returns the exp argument.
static inline vf online_update(online_state *st, vf vx, vf *vacc, size_t j)
{
    vf vd = online_arg(st, vx);
    if (v_any_gt(vd, st->vlimit)) {
        *vacc = v_mul(*vacc, online_rescale(st, v_max(vx, st->vref), j));
        vd = online_arg(st, vx);
    }
    st->vmax = v_max(vx, st->vmax);
    return vd;
}

// max_sum with the store decided at compile time (store = 0 or 1 after inlining).
static inline float max_sum_impl(const float *x, float *y, size_t n, float inv_t, float *sum,
                                 float *ref, size_t *from, int store)
{
    // The max of the first vector (-FLT_MAX when it is all -inf or NaN) is the first
    // reference, so the first step does not rescale.
    const vf vfirst = n >= VLEN ? v_load(x) : v_load_tail(x, v_tail(n), -INFINITY);
    const float a = inv_t * MIMIC_EXP_LOG2E;
    online_state st = {v_set1(a), v_set1(MIMIC_ONLINE_LIMIT * MIMIC_EXP_LOG2E),
                       v_set1(v_hmax(v_max(vfirst, v_set1(-FLT_MAX)))), v_set1(-INFINITY), 0};
    vf vacc4[4] = {v_set1(0.0f), v_set1(0.0f), v_set1(0.0f), v_set1(0.0f)};
    size_t j = 0;
    for (; j + 4 * VLEN <= n; j += 4 * VLEN) {
        prefetch_ahead(x + j);
        const vf vx0 = v_load(x + j), vx1 = v_load(x + j + VLEN);
        const vf vx2 = v_load(x + j + 2 * VLEN), vx3 = v_load(x + j + 3 * VLEN);
        vf vd0 = online_arg(&st, vx0), vd1 = online_arg(&st, vx1);
        vf vd2 = online_arg(&st, vx2), vd3 = online_arg(&st, vx3);
        // Rare: the reference moves up. `|`, not `||`: one branch for the four vectors.
        if (v_any_gt(vd0, st.vlimit) | v_any_gt(vd1, st.vlimit) | v_any_gt(vd2, st.vlimit) |
            v_any_gt(vd3, st.vlimit)) {
            const vf vxmax = v_max(vx3, v_max(vx2, v_max(vx1, v_max(vx0, st.vref))));
            const vf vscale = online_rescale(&st, vxmax, j);
            for (int u = 0; u < 4; u++)
                vacc4[u] = v_mul(vacc4[u], vscale);
            vd0 = online_arg(&st, vx0), vd1 = online_arg(&st, vx1);
            vd2 = online_arg(&st, vx2), vd3 = online_arg(&st, vx3);
        }
        st.vmax = v_max(vx3, v_max(vx2, v_max(vx1, v_max(vx0, st.vmax))));
        const vf vd[4] = {vd0, vd1, vd2, vd3};
        vf ve[4];
        exp4(vd, ve, 0, 1);
        store_add4(y, j, store, ve, vacc4);
    }
    // One accumulator from here on: a rescale must reach every sum that shares vref.
    vf vacc = v_add(v_add(vacc4[0], vacc4[1]), v_add(vacc4[2], vacc4[3]));
    for (; j + VLEN <= n; j += VLEN) {
        const vf ve = v_exp2(online_update(&st, v_load(x + j), &vacc, j));
        if (store)
            v_store(y + j, ve);
        vacc = v_add(vacc, ve);
    }
    if (j < n) {
        // Lanes past n hold -inf (never the max, never over the limit); their terms are masked
        // out and computed from an argument of 0 rather than -inf (see short_exp).
        const vtail t = v_tail(n - j);
        const vf vd = online_update(&st, v_load_tail(x + j, t, -INFINITY), &vacc, j);
        const vf ve = v_exp2(v_add_tail(v_set1(0.0f), t, vd));
        if (store)
            v_store_tail(y + j, t, ve);
        vacc = v_add_tail(vacc, t, ve);
    }
    const float m = v_hmax(st.vmax), r = v_hmax(st.vref);
    if (ref) {
        *ref = r;
        *from = st.from;
    }
    // An all -inf row has the empty sum (its output passes make it NaN through x - m = NaN).
    *sum = m == -INFINITY ? 0.0f : v_hsum(v_mul(vacc, v_exp2(v_set1((r - m) * a))));
    return m;
}

float FN(max_sum)(const float *x, float *y, size_t n, float inv_t, float *sum, float *ref,
                  size_t *from)
{
    return y ? max_sum_impl(x, y, n, inv_t, sum, ref, from, 1)
             : max_sum_impl(x, NULL, n, inv_t, sum, ref, from, 0);
}

void FN(scale)(const float *x, float *y, size_t n, float s)
{
    const vf vs = v_set1(s);
    size_t j = 0;
    const int pf = n >= PF_MIN; // short rows: in cache, and the next row is not needed yet
    for (; j + 4 * VLEN <= n; j += 4 * VLEN) {
        if (pf)
            prefetch_ahead(x + j);
        for (size_t u = 0; u < 4 * VLEN; u += VLEN)
            v_store(y + j + u, v_mul(v_load(x + j + u), vs));
    }
    for (; j + VLEN <= n; j += VLEN)
        v_store(y + j, v_mul(v_load(x + j), vs));
    if (j < n) {
        const vtail t = v_tail(n - j);
        v_store_tail(y + j, t, v_mul(v_load_tail(x + j, t, 0.0f), vs));
    }
}

// In log2 units like the online pass (it recomputes the exps that pass stored before a
// rescale): y = 2^((x - m) a) s with a = inv_t log2(e).
void FN(exp_scale)(const float *x, float *y, size_t n, float m, float inv_t, float s)
{
    const vf vm = v_set1(m), va = v_set1(inv_t * MIMIC_EXP_LOG2E), vs = v_set1(s);
    size_t j = 0;
    for (; j + 2 * VLEN <= n; j += 2 * VLEN) {
        const vf ve0 = exp_shifted(v_load(x + j), vm, va, 1);
        const vf ve1 = exp_shifted(v_load(x + j + VLEN), vm, va, 1);
        v_store(y + j, v_mul(ve0, vs));
        v_store(y + j + VLEN, v_mul(ve1, vs));
    }
    for (; j + VLEN <= n; j += VLEN)
        v_store(y + j, v_mul(exp_shifted(v_load(x + j), vm, va, 1), vs));
    if (j < n) {
        const vtail t = v_tail(n - j);
        v_store_tail(y + j, t, v_mul(exp_shifted(v_load_tail(x + j, t, m), vm, va, 1), vs));
    }
}

void FN(shift_scale)(const float *x, float *y, size_t n, float m, float inv_t, float c)
{
    const vf vm = v_set1(m), vinv_t = v_set1(inv_t), vc = v_set1(c);
    size_t j = 0;
    const int pf = n >= PF_MIN;
    for (; j + 4 * VLEN <= n; j += 4 * VLEN) {
        if (pf)
            prefetch_ahead(x + j);
        for (size_t u = 0; u < 4 * VLEN; u += VLEN)
            v_store(y + j + u, v_fms(v_sub(v_load(x + j + u), vm), vinv_t, vc));
    }
    for (; j + VLEN <= n; j += VLEN)
        v_store(y + j, v_fms(v_sub(v_load(x + j), vm), vinv_t, vc));
    if (j < n) {
        const vtail t = v_tail(n - j);
        v_store_tail(y + j, t, v_fms(v_sub(v_load_tail(x + j, t, 0.0f), vm), vinv_t, vc));
    }
}

// Returns acc + (s - t)^2 of one vector; *vg = (s - t) * g_scale.
static inline vf sq_diff_step(vf vs, vf vt, vf vg_scale, vf vacc, vf *vg)
{
    const vf vd = v_sub(vs, vt);
    *vg = v_mul(vd, vg_scale);
    return v_fma(vd, vd, vacc);
}

static inline float sq_diff_impl(const float *s, const float *t, float *g, size_t n, float g_scale,
                                 int grad)
{
    const vf vg_scale = v_set1(g_scale);
    vf vacc0 = v_set1(0.0f), vacc1 = vacc0, vacc2 = vacc0, vacc3 = vacc0;
    vf vg0, vg1, vg2, vg3;
    size_t j = 0;
    for (; j + 4 * VLEN <= n; j += 4 * VLEN) {
        vacc0 = sq_diff_step(v_load(s + j), v_load(t + j), vg_scale, vacc0, &vg0);
        vacc1 = sq_diff_step(v_load(s + j + VLEN), v_load(t + j + VLEN), vg_scale, vacc1, &vg1);
        vacc2 =
            sq_diff_step(v_load(s + j + 2 * VLEN), v_load(t + j + 2 * VLEN), vg_scale, vacc2, &vg2);
        vacc3 =
            sq_diff_step(v_load(s + j + 3 * VLEN), v_load(t + j + 3 * VLEN), vg_scale, vacc3, &vg3);
        if (grad) {
            v_store(g + j, vg0);
            v_store(g + j + VLEN, vg1);
            v_store(g + j + 2 * VLEN, vg2);
            v_store(g + j + 3 * VLEN, vg3);
        }
    }
    for (; j + VLEN <= n; j += VLEN) {
        vacc0 = sq_diff_step(v_load(s + j), v_load(t + j), vg_scale, vacc0, &vg0);
        if (grad)
            v_store(g + j, vg0);
    }
    if (j < n) { // zero-filled lanes add (0 - 0)^2 = 0
        const vtail tl = v_tail(n - j);
        vacc0 = sq_diff_step(v_load_tail(s + j, tl, 0.0f), v_load_tail(t + j, tl, 0.0f), vg_scale,
                             vacc0, &vg0);
        if (grad)
            v_store_tail(g + j, tl, vg0);
    }
    return v_hsum(v_add(v_add(vacc0, vacc1), v_add(vacc2, vacc3)));
}

float FN(sq_diff)(const float *s, const float *t, float *g, size_t n, float g_scale)
{
    return g ? sq_diff_impl(s, t, g, n, g_scale, 1) : sq_diff_impl(s, t, NULL, n, g_scale, 0);
}

// The constants of one KD row, and the stored exps when the caller has them.
typedef struct {
    vf vms, vlse_s, vmt, vlse_t, vinv_t, vg_scale, vp_scale, vq_scale;
    float ms, mt;
    const float *ep, *eq;
} kd_consts;

// One vector of the KD row: returns p (lt - ls) where p > 0 (0 * log 0 = 0 for masked teacher
// classes); with grad, *vg = (q - p) * g_scale. With stored exps p and q are vep * p_scale and
// veq * q_scale; otherwise exp(lt) and exp(ls), q only for the gradient.
static inline vf kd_step(const kd_consts *c, vf vs, vf vt, vf vep, vf veq, vf *vg, int stored,
                         int grad)
{
    const vf vls = v_fms(v_sub(vs, c->vms), c->vinv_t, c->vlse_s);
    const vf vlt = v_fms(v_sub(vt, c->vmt), c->vinv_t, c->vlse_t);
    const vf vp = stored ? v_mul(vep, c->vp_scale) : v_exp(vlt);
    if (grad)
        *vg = v_mul(v_sub(stored ? v_mul(veq, c->vq_scale) : v_exp(vls), vp), c->vg_scale);
    return v_keep_pos(vp, v_mul(vp, v_sub(vlt, vls)));
}

// kd_step on the full vector at j.
static inline vf kd_at(const kd_consts *c, const float *s, const float *t, size_t j, vf *vg,
                       int stored, int grad)
{
    const vf vep = stored ? v_load(c->ep + j) : v_set1(0.0f);
    const vf veq = stored && grad ? v_load(c->eq + j) : v_set1(0.0f);
    return kd_step(c, v_load(s + j), v_load(t + j), vep, veq, vg, stored, grad);
}

// kd_step on the n - j < VLEN elements at j. The lanes past n load the row maxima, so their
// discarded exps do not underflow.
static inline vf kd_tail(const kd_consts *c, const float *s, const float *t, size_t j, vtail tl,
                         vf *vg, int stored, int grad)
{
    const vf vep = stored ? v_load_tail(c->ep + j, tl, 0.0f) : v_set1(0.0f);
    const vf veq = stored && grad ? v_load_tail(c->eq + j, tl, 0.0f) : v_set1(0.0f);
    return kd_step(c, v_load_tail(s + j, tl, c->ms), v_load_tail(t + j, tl, c->mt), vep, veq, vg,
                   stored, grad);
}

static inline float kd_row_impl(const kd_consts *c, const float *s, const float *t, float *g,
                                size_t n, int stored, int grad)
{
    vf vacc0 = v_set1(0.0f), vacc1 = vacc0, vg0 = vacc0, vg1 = vacc0;
    size_t j = 0;
    for (; j + 2 * VLEN <= n; j += 2 * VLEN) {
        vacc0 = v_add(vacc0, kd_at(c, s, t, j, &vg0, stored, grad));
        vacc1 = v_add(vacc1, kd_at(c, s, t, j + VLEN, &vg1, stored, grad));
        if (grad) {
            v_store(g + j, vg0);
            v_store(g + j + VLEN, vg1);
        }
    }
    for (; j + VLEN <= n; j += VLEN) {
        vacc0 = v_add(vacc0, kd_at(c, s, t, j, &vg0, stored, grad));
        if (grad)
            v_store(g + j, vg0);
    }
    if (j < n) {
        const vtail tl = v_tail(n - j);
        vacc0 = v_add_tail(vacc0, tl, kd_tail(c, s, t, j, tl, &vg0, stored, grad));
        if (grad)
            v_store_tail(g + j, tl, vg0);
    }
    return v_hsum(v_add(vacc0, vacc1));
}

static inline kd_consts kd_consts_of(const mimic_kd_row_args *a, const float *ep, const float *eq)
{
    return (kd_consts){
        .vms = v_set1(a->ms),
        .vlse_s = v_set1(a->lse_s),
        .vmt = v_set1(a->mt),
        .vlse_t = v_set1(a->lse_t),
        .vinv_t = v_set1(a->inv_t),
        .vg_scale = v_set1(a->g_scale),
        .vp_scale = v_set1(a->p_scale),
        .vq_scale = v_set1(a->q_scale),
        .ms = a->ms,
        .mt = a->mt,
        .ep = ep,
        .eq = eq,
    };
}

float FN(kd_row)(const float *s, const float *t, const float *ep, const float *eq, float *g,
                 size_t n, const mimic_kd_row_args *a)
{
    const kd_consts c = kd_consts_of(a, ep, eq);
    if (ep)
        return g ? kd_row_impl(&c, s, t, g, n, 1, 1) : kd_row_impl(&c, s, t, NULL, n, 1, 0);
    return g ? kd_row_impl(&c, s, t, g, n, 0, 1) : kd_row_impl(&c, s, t, NULL, n, 0, 0);
}

// KD on VLEN short rows at once from their logits, transposed as in rows_across: each lane is
// a row, so the max, exps and sums of student and teacher need no horizontal step, the per-row
// constants are vectors of VLEN rows and there are no tails; the exps stay in registers (or
// the stack) between the softmax and the KD step instead of a trip through the scratch and
// three more transposes. The operations are rows_across's and kd_step's, in their order, so g
// has the bits of the composition kd_rows_stored runs (kl is summed in another order). KD
// 128x10, 1 thread: scalar 1.40x -> 1.95x oneDNN, AVX2 1.7-2.0x -> 2.3-2.6x, AVX-512
// 2.4-2.9x -> 3.1-3.8x (the unfused form, with five 16 x 16 transposes, had lost there).
#if defined(V_ROWS_ACROSS_MAX)
#define KD_ACROSS 1

// logf of every lane (the row-by-row path's log of each sum).
static inline vf lanes_logf(vf v)
{
    float l[VLEN];
    v_store(l, v);
    for (size_t i = 0; i < VLEN; i++)
        l[i] = logf(l[i]);
    return v_load(l);
}

static inline void kd_across(const float *s, const float *t, float *g, size_t n, float inv_t,
                             float g_scale, float *kl, int grad)
{
    vf cs[V_ROWS_ACROSS_MAX], ct[V_ROWS_ACROSS_MAX], es[V_ROWS_ACROSS_MAX],
        et[V_ROWS_ACROSS_MAX];
    v_load_cols(s, n, cs);
    v_load_cols(t, n, ct);
    const vf vinv_t = v_set1(inv_t), one = v_set1(1.0f);
    vf vms, vmt;
    const vf ss = across_exps(cs, es, n, vinv_t, &vms);
    const vf st = across_exps(ct, et, n, vinv_t, &vmt);
    // short_rows' normalization (its s = 1), then kd_row's constants with p_scale = q_scale = 1
    const vf rs = v_div(one, ss), rt = v_div(one, st);
    const kd_consts c = {.vms = vms,
                         .vlse_s = lanes_logf(ss),
                         .vmt = vmt,
                         .vlse_t = lanes_logf(st),
                         .vinv_t = vinv_t,
                         .vg_scale = v_set1(g_scale),
                         .vp_scale = one,
                         .vq_scale = one};
    vf vkl = v_set1(0.0f);
    for (size_t j = 0; j < n; j++) {
        vf vg;
        const vf vp = v_mul(et[j], rt), vq = grad ? v_mul(es[j], rs) : vp;
        vkl = v_add(vkl, kd_step(&c, cs[j], ct[j], vp, vq, &vg, 1, grad));
        if (grad)
            es[j] = vg;
    }
    v_store(kl, vkl);
    if (grad)
        v_store_cols(g, n, es);
}
#endif

// Rows of a sub-block at most this long share the stack arrays below; a multiple of VLEN, so
// short_rows groups a sub-block's rows as it would the whole block's.
#define KD_SUB_ROWS 64

// The composition: short_rows' max and normalized exps of student and teacher into the
// scratch, the log of each sum, then kd_row's formulas row by row.
static void kd_rows_stored(const float *s, const float *t, float *scratch, float *g, size_t rows,
                           size_t n, float inv_t, float g_scale, float *kl)
{
    float ms[KD_SUB_ROWS], ls[KD_SUB_ROWS], mt[KD_SUB_ROWS], lt[KD_SUB_ROWS];
    for (size_t i0 = 0; i0 < rows; i0 += KD_SUB_ROWS) {
        const size_t r = rows - i0 < KD_SUB_ROWS ? rows - i0 : KD_SUB_ROWS, off0 = i0 * n;
        float *eq = scratch, *ep = scratch + r * n;
        FN(short_rows)(s + off0, eq, r, n, inv_t, 1.0f, ms, ls);
        FN(short_rows)(t + off0, ep, r, n, inv_t, 1.0f, mt, lt);
        for (size_t i = 0; i < r; i++) {
            const size_t off = i * n;
            const mimic_kd_row_args ra = {.ms = ms[i],
                                          .lse_s = logf(ls[i]),
                                          .mt = mt[i],
                                          .lse_t = logf(lt[i]),
                                          .inv_t = inv_t,
                                          .g_scale = g_scale,
                                          .p_scale = 1.0f,
                                          .q_scale = 1.0f};
            const kd_consts c = kd_consts_of(&ra, ep + off, eq + off);
            kl[i0 + i] = g ? kd_row_impl(&c, s + off0 + off, t + off0 + off, g + off0 + off, n, 1, 1)
                           : kd_row_impl(&c, s + off0 + off, t + off0 + off, NULL, n, 1, 0);
        }
    }
}

void FN(kd_rows)(const float *s, const float *t, float *scratch, float *g, size_t rows, size_t n,
                 float inv_t, float g_scale, float *kl)
{
    size_t i = 0;
#ifdef KD_ACROSS
    // Whole groups of VLEN rows across the lanes, the rest through the scratch.
    if (n <= V_ROWS_ACROSS_MAX) {
        for (; i + VLEN <= rows; i += VLEN) {
            const size_t off = i * n;
            if (g)
                kd_across(s + off, t + off, g + off, n, inv_t, g_scale, kl + i, 1);
            else
                kd_across(s + off, t + off, NULL, n, inv_t, g_scale, kl + i, 0);
        }
    }
#endif
    if (i < rows)
        kd_rows_stored(s + i * n, t + i * n, scratch, g ? g + i * n : NULL, rows - i, n, inv_t,
                       g_scale, kl + i);
}
