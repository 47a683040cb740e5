// Internal kernel tables: one const table per ISA, chosen once at first use.
#ifndef MIMIC_ARCH_KERNELS_H
#define MIMIC_ARCH_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <mimic/mimic.h>

// --- GEMM microkernel contract ---
// C[0:mr, 0:nr] = A_panel * B_panel + beta * C[0:mr, 0:nr], with 1 <= mr <= mr_max (MR, or
// more where the tile has the registers: rows MR.. then come from the next packed panel, at
// a + MR*kc, the same sums as that panel's own tile), 1 <= nr <= NR.
// a: kc columns of MR floats, column p at a + p*a_stride: a packed panel (a_stride = MR,
// a[p*MR + i], zero-padded past mr, 64-byte aligned) or, for op(A) = A^T, A itself
// (a_stride = lda, mr = MR: the tile reads all MR floats of every column; never with rows
// past MR).
// b: kc rows of NR floats, row p at b + p*b_stride: either a packed panel (b_stride = NR,
// zero-padded past nr) or, for a full-width panel, B itself (b_stride = ldb), so small-M
// problems need not copy B. beta == 0 never reads C.
// Edges are handled inside the kernel (masked or partial stores), never by the caller.
typedef void (*mimic_gemm_ukernel_fn)(size_t mr, size_t nr, size_t kc, const float *a,
                                      size_t a_stride, const float *b, size_t b_stride, float *c,
                                      size_t ldc, float beta);

// The convolution's forms of the same tile (the indirect GEMM of XNNPACK, by offsets instead
// of pointers): boff reads B row p at b + b_offs[p] (rows of the padded input: the forward
// pass without an im2col buffer); aoff reads A unpacked, element p of row i at
// a[a_offs[i] + p] (backward-weights; a_offs holds MR entries, rows past mr may repeat a
// valid one). boff reads all NR floats of every B row whatever nr is: the caller keeps them
// readable.
typedef void (*mimic_gemm_boff_fn)(size_t mr, size_t nr, size_t kc, const float *a,
                                   const float *b, const int64_t *b_offs, float *c, size_t ldc,
                                   float beta);
typedef void (*mimic_gemm_aoff_fn)(size_t mr, size_t nr, size_t kc, const float *a,
                                   const int64_t *a_offs, const float *b, size_t b_stride,
                                   float *c, size_t ldc, float beta);

// The GEMM form again, fetching another matrix's lines into the cache while it computes: at
// every step p that is a multiple of 2^pf_shift it prefetches the line at
// pf + (p >> pf_shift) * pf_stride, one line per 2^pf_shift steps of its FMAs, so that the next
// block of B comes in from memory during this one's products instead of in a burst that stalls
// them (gemm.c, fetch_next). The same sums as fn, bit for bit; pf is never dereferenced.
typedef void (*mimic_gemm_pf_fn)(size_t mr, size_t nr, size_t kc, const float *a,
                                 size_t a_stride, const float *b, size_t b_stride, float *c,
                                 size_t ldc, float beta, const float *pf, size_t pf_stride,
                                 unsigned pf_shift);

// The wide tile for a C of at most 4 rows (matrix-vector products), where present: C[0:mr,
// 0:nr] as fn computes it, bit for bit, for mr <= 4 and nr <= wide_nr / R (R = mr rounded up
// to 1, 2 or 4), B's rows read in place (only nr columns of each), a as in fn. NULL where the
// ISA has none (the MR x NR tile then takes such products).
typedef void (*mimic_gemm_wide_fn)(size_t mr, size_t nr, size_t kc, const float *a,
                                   size_t a_stride, const float *b, size_t b_stride, float *c,
                                   size_t ldc, float beta);

// The dot-product tile (kernels/gemm/gemm_dot_template.h): C[i][j] = alpha * sum_p
// a[i*lda + p] * b[j][p] + beta * C[i][j] for i < mr <= dot_mr, j < nr <= dot_nr, K along
// the vector lanes and nothing packed (op(A) = A, op(B) = B^T with few columns, its rows
// anywhere); pf, if not NULL, names dot_mr * k floats (the caller's next rows of A) to
// prefetch while it runs.
typedef void (*mimic_gemm_dot_fn)(size_t mr, size_t nr, size_t k, const float *a, size_t lda,
                                  const float *const *b, float *c, size_t ldc, float alpha,
                                  float beta, const float *pf);

typedef struct {
    mimic_gemm_ukernel_fn fn;
    mimic_gemm_boff_fn boff;
    mimic_gemm_aoff_fn aoff;
    mimic_gemm_pf_fn pf;
    int mr, mr_max, nr; // mr_max: the rows fn and pf take (boff and aoff: mr)
    const char *name;
    mimic_gemm_dot_fn dot;
    int dot_mr, dot_nr;
    // fn, boff and aoff read only the first nr columns of each B row (masked loads), so a
    // last, partial panel of B can be read in place instead of copied into a padded one.
    int b_reads_nr;
    mimic_gemm_wide_fn wide; // NULL: none
    int wide_nr;             // its columns for one row of C
} mimic_gemm_ukernel;

// --- im2col / col2im contract (output rows [p0, p1) of one image) ---
// col is (C*R*S) x ((p1-p0)*Q) with row stride ldc, column (p-p0)*Q + q: im2col writes every
// element of it (zeros for padding); col2im adds each element into the image position it
// came from (img is not cleared). Q is the output width.
typedef void (*mimic_im2col_fn)(const mimic_conv2d *shape, int64_t q, int64_t p0, int64_t p1,
                                const float *img, float *col, int64_t ldc);
typedef void (*mimic_col2im_fn)(const mimic_conv2d *shape, int64_t q, int64_t p0, int64_t p1,
                                const float *col, int64_t ldc, float *img);
// dst[j*ldd + i] = src[i*lds + j] for i < rows, j < cols (no aliasing).
typedef void (*mimic_transpose_fn)(size_t rows, size_t cols, const float *src, size_t lds,
                                   float *dst, size_t ldd);
// Rows i < rows of dst (ldd apart): `left` zeros, then src[i*lds + j*stride] for j < n
// (stride >= 1), then `right` zeros (no aliasing): padded input rows for the convolution's
// slab.
typedef void (*mimic_pad_rows_fn)(float *dst, int64_t ldd, const float *src, int64_t lds,
                                  int64_t rows, int64_t n, int64_t stride, int64_t left,
                                  int64_t right);
// y[i*ldy + j] = act(x[i*ldx + j] + b_i) for i < rows, j < n, b_i = bias[i] (0 if bias is
// NULL), act = max(0, .) if relu (NaN kept) else identity; x may be y (with ldx == ldy).
typedef void (*mimic_bias_act_fn)(float *y, size_t ldy, const float *x, size_t ldx, size_t rows,
                                  size_t n, const float *bias, int relu);
// y[i*ldy + j] = m[i*ldm + j] > 0 ? y[i*ldy + j] : 0 for i < rows, j < n (m may be y, with
// ldm == ldy: a ReLU as its layer computes it, NaN to 0): a ReLU, or its backward given the
// ReLU's output m, on a block of rows.
typedef void (*mimic_keep_pos_fn)(float *y, size_t ldy, const float *m, size_t ldm, size_t rows,
                                  size_t n);
// y[i*ldy + j] = act(sum_{t < taps} w[i*ldw + t] * tap[t][j] + b_i) for i < rows, j < n (b_i
// and act as in bias_act; with neither bias nor relu the sum is stored as it is): the forward
// convolution with few taps over shifted input planes whose pixel index is the output's
// (conv_fused.c), no im2col buffer and no pass over the output after it. Each sum starts from
// 0 and runs over the taps in order, as the GEMM tile sums a column of its K; reads
// tap[t][0..n) only.
typedef void (*mimic_fwd_taps_fn)(float *y, size_t ldy, const float *w, size_t ldw,
                                  const float *const *tap, size_t taps, size_t rows, size_t n,
                                  const float *bias, int relu);

typedef struct {
    mimic_im2col_fn im2col;
    mimic_col2im_fn col2im;
    mimic_transpose_fn transpose;
    mimic_pad_rows_fn pad_rows;
    mimic_bias_act_fn bias_act;
    mimic_keep_pos_fn keep_pos;
    mimic_fwd_taps_fn fwd_taps;
    const char *name;
} mimic_conv_kernels;

// --- Softmax passes (one row of n >= 1 elements each) ---
// The per-row constants of kd_row: student and teacher max and log-sum-exp at temperature T,
// 1/T, the gradient's scale, and the scales of stored exps.
typedef struct {
    float ms, lse_s, mt, lse_t, inv_t, g_scale, p_scale, q_scale;
} mimic_kd_row_args;

// Every ISA computes exp with the algorithms of kernels/softmax/exp_scalar.h: mimic_expf's,
// and for the online pass and exp_scale 2^t with t = (x - m) * (inv_t * log2(e)) (the factor
// rounded once; inv_t = ln 2 as a float makes it exactly 1, so exp_scale(x, y, n, 0, ln 2, 1)
// is 2^x, which test_exp sweeps).
typedef struct {
    // Rows of n <= short_max (row stride n), each in one read: m_i = max_j x[j] (NaN
    // ignored), sum_i = sum_j exp((x[j] - m_i) * inv_t) (NaN for a row with NaN or +inf, or
    // all -inf); y = exp(...) * (s / sum_i) if y != NULL; max[i], sum[i] if max != NULL (y and
    // max are not both NULL).
    void (*short_rows)(const float *x, float *y, size_t rows, size_t n, float inv_t, float s,
                       float *max, float *sum);
    size_t short_max;
    // max_j x[j] ignoring NaN (-inf for an all -inf row).
    float (*row_max)(const float *x, size_t n);
    // y[j] = exp((x[j] - m) * inv_t) if y != NULL; returns the sum of those values.
    float (*exp_sum)(const float *x, float *y, size_t n, float m, float inv_t);
    // Online (Milakov & Gimelshein 2018), one read: returns m = row_max(x) and sets
    // *sum = sum_j exp((x[j] - m) * inv_t): NaN if x holds NaN or +inf, 0 if every entry is
    // -inf or NaN (the empty sum; the output passes then make the row NaN through x - m = NaN).
    // With y != NULL it also writes y[j] = exp((x[j] - *ref) * inv_t) for j >= *from (the
    // entries before *from are relative to older references: recompute them).
    float (*max_sum)(const float *x, float *y, size_t n, float inv_t, float *sum, float *ref,
                     size_t *from);
    // y[j] = x[j] * s (y may be x)
    void (*scale)(const float *x, float *y, size_t n, float s);
    // y[j] = exp((x[j] - m) * inv_t) * s, in log2 units like max_sum
    void (*exp_scale)(const float *x, float *y, size_t n, float m, float inv_t, float s);
    // y[j] = (x[j] - m) * inv_t - c
    void (*shift_scale)(const float *x, float *y, size_t n, float m, float inv_t, float c);
    // returns sum_j (s[j] - t[j])^2; g[j] = (s[j] - t[j]) * g_scale if g != NULL
    float (*sq_diff)(const float *s, const float *t, float *g, size_t n, float g_scale);
    // With ls = (s - ms) * inv_t - lse_s and lt likewise (log-probabilities at T), p = exp(lt)
    // and q = exp(ls), or p = ep * p_scale and q = eq * q_scale when ep != NULL (eq is read
    // only with g): returns sum_j p_j (lt_j - ls_j) (0 where p == 0);
    // g[j] = (q_j - p_j) * g_scale if g != NULL.
    float (*kd_row)(const float *s, const float *t, const float *ep, const float *eq, float *g,
                    size_t n, const mimic_kd_row_args *a);
    // KD on `rows` rows of n <= short_max (row stride n) from the logits: short_rows of
    // student and teacher at inv_t (normalized, s = 1) into the scratch (2 * min(rows, 64) * n
    // floats), lse = logf of each sum, then kd_row with p_scale = q_scale = 1: kl[i] per row,
    // g (if not NULL) per element. The same g bits as that composition; kl summed in another
    // order where rows go across the lanes (which may not touch the scratch).
    void (*kd_rows)(const float *s, const float *t, float *scratch, float *g, size_t rows,
                    size_t n, float inv_t, float g_scale, float *kl);
    // KD keeps both rows' exps (2 * cols floats of scratch per thread) for rows of up to this
    // many columns, so that kd_row computes none; longer rows recompute them (four exps per
    // element pair instead of two). Per ISA: where exps are cheap, recomputing beats writing
    // and reading back row-sized buffers that leave the L2.
    size_t kd_store_max;
    const char *name;
} mimic_softmax_kernels;

typedef struct {
    mimic_isa isa;
    const mimic_gemm_ukernel *gemm;
    mimic_conv_kernels conv;
    mimic_softmax_kernels softmax;
} mimic_kernels;

// The table of the active ISA (never NULL; initialises detection on first use).
const mimic_kernels *mimic_kernels_active(void);
// The table compiled for @p isa, or NULL if this build has none.
const mimic_kernels *mimic_kernels_for(mimic_isa isa);

// GEMM cache blocking for a microkernel of mr x nr, from the detected cache sizes.
typedef struct {
    int64_t mc, kc, nc;
} mimic_gemm_blocking;
mimic_gemm_blocking mimic_gemm_blocking_for(int mr, int nr);

// Machine facts from cpu_features and hwloc (detected once).
typedef struct {
    char cpu_model[64];
    int physical_cores, logical_cpus;
    int64_t l1d_bytes, l2_bytes, l3_bytes;
    int supported[MIMIC_ISA_COUNT];
} mimic_machine;
const mimic_machine *mimic_machine_get(void);

#endif
