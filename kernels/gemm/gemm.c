// mimic_sgemm: argument checks, then the Goto/BLIS loops (NC, KC, MC) around one microkernel.
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "arch/profile.h"
#include "arch/workspace.h"
#include "kernels/gemm/gemm_internal.h"

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int parse_trans(char t, int *trans)
{
    if (t == 'N' || t == 'n')
        *trans = 0;
    else if (t == 'T' || t == 't')
        *trans = 1;
    else
        return 0;
    return 1;
}

// A rows x ld matrix must be addressable: rows * ld floats within PTRDIFF_MAX bytes.
static int extent_ok(int64_t rows, int64_t ld)
{
    return rows <= 0 || ld <= (int64_t)(PTRDIFF_MAX / sizeof(float)) / rows;
}

// C = beta * C for the alpha == 0 / K == 0 cases; beta == 0 writes zeros without reading.
static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc)
{
    if (beta == 1.0f)
        return;
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            for (int64_t j = 0; j < N; j++)
                c[j] = 0.0f;
        else
            for (int64_t j = 0; j < N; j++)
                c[j] *= beta;
    }
}

// A of one MC block is packed whole, once, when it takes at most this many floats (1 MiB):
// gemm_blocks_owned.
#define GEMM_A_ONCE_MAX_FLOATS (256 * 1024)

// Whether op(A) (M x K) is one MC block that fits the packed-once buffer.
static int a_once_fits(mimic_gemm_blocking bl, int64_t MR, int64_t M, int64_t K)
{
    return M <= bl.mc && (M + MR - 1) / MR * MR * K <= GEMM_A_ONCE_MAX_FLOATS;
}

// Rows of an MC block of mc rows, padded to whole panels.
static int64_t mc_padded(int64_t mc, int64_t MR)
{
    return (mc + MR - 1) / MR * MR;
}

// The packing buffers for blocking `bl` of k's microkernel, with room for `a_copies` packed
// blocks of A (one per thread where each packs its own: gemm_blocks, a_own).
static mimic_status reserve_blocked(const mimic_kernels *k, mimic_gemm_blocking bl, int64_t M,
                                    int64_t N, int64_t K, int64_t a_copies)
{
    const int64_t MR = k->gemm->mr, NR = k->gemm->nr;
    const int64_t kc = min64(bl.kc, K);
    const int64_t mc_pad = mc_padded(min64(bl.mc, M), MR);
    const int64_t nc_pad = (min64(bl.nc, N) + NR - 1) / NR * NR;
    const int64_t a_floats = a_copies * (a_once_fits(bl, MR, M, K) ? mc_pad * K : kc * mc_pad);
    if (!mimic_workspace(MIMIC_WS_GEMM_A, (size_t)a_floats) ||
        !mimic_workspace(MIMIC_WS_GEMM_B, (size_t)(kc * nc_pad)))
        return MIMIC_ENOMEM;
    return MIMIC_OK;
}

mimic_status mimic_gemm_reserve(const mimic_kernels *k, int64_t M, int64_t N, int64_t K)
{
    return reserve_blocked(k, mimic_gemm_blocking_for(k->gemm->mr, k->gemm->nr), M, N, K, 1);
}

// Up to this many rows of C, B is read in place instead of packed, when it fits in half of L2:
// a larger B's rows come from memory, kb of them at once pages apart, which no prefetcher
// follows (Intel, 32x100352x288: 0.64x oneDNN in place, 0.85-0.91x packed). A small B is read
// in place at any K: the first conv layer's per-image GEMM (K = 9, its column matrix in L2)
// went from 0.59-0.60x to 0.66-0.69x oneDNN (docs/gemm.md).
#define GEMM_DIRECT_B_MAX_M 64

// Up to this many rows of C, B is also read in place when all of it fits in L2 and its rows
// do not fall on a few L1 sets: a stride that is a multiple of 512 bytes puts a tile's kc rows
// on at most 8 of the 64 sets, which evicts them before the next tile reads them (NN
// 128x1024x256, 1 thread: 0.80x oneDNN packed, 0.71x in place). The students' dense layers
// (row strides of 3136 or 784 floats) gain: NN 128x3136x128 0.75x -> 0.81-0.83x, NN 128x784x128
// 0.79x -> 0.90x, TN 128x784x128 0.82x -> 0.91x (docs/gemm.md).
#define GEMM_DIRECT_B_L2_MAX_M 128
#define GEMM_L1_ALIAS_FLOATS 128
// ... and, in one KC slice (each panel walked by all the row tiles back to back), B of up to
// this many L2s: a 1 MiB L2 kept the conv student's 1.6 MB bottleneck operands packed, 11 % of
// the product in the pack (Zen 5, 1 thread: NN and TN 128x3136x128 0.87x -> 0.95-1.01x oneDNN
// in place; 128x6272x128 2 % faster, 128x12544x128 (6.4 MB) 3-7 % slower: docs/gemm.md).
#define GEMM_DIRECT_B_ONE_SLICE_L2S 4

// Up to this many rows of C (a classifier's weight gradient, 10 x H x batch), B is read in place
// at any K as long as its rows are at most 32 KiB: each B panel serves one or two A panels, so
// packing B was most of the product (TN 10x5541x128, 1 thread: 411-434 us packed, 264-304 in
// place; 2 threads 204-218 -> 104-130). Rows 400 KiB apart ran 2x slower in place
// (NN 10x100352x288: 35-39 ms against 19-20 packed): kc rows pages apart at once.
#define GEMM_DIRECT_B_TINY_M 16
#define GEMM_DIRECT_B_TINY_MAX_N 8192

// Up to this many NR-wide panels of C, A is read in place (its rows at offsets, the
// microkernel's aoff form) instead of packed: each A panel would serve at most two tiles, and
// packing it cost a third of a 32^3 product (measured: docs/gemm.md). The offsets of one
// tile's rows live on the stack.
#define GEMM_DIRECT_A_MAX_PANELS 2
#define GEMM_MAX_MR 16
// Up to 64 columns (four AVX2 panels) when A fits half of L2, so that its rows, read once
// per panel, come from cache: AVX2 64^3 went from 0.69-0.72x to 0.87-0.89x oneDNN (AVX2).
#define GEMM_DIRECT_A_MAX_N 64

// A small C (at most 128 x 256, a dense layer's backward such as 128x256x3136, a student's
// 128x128x5541) with K >= 64: A and B are read in place, neither packed; with op(B) = B^T, A
// only. Packing them cost memory traffic (K x M and K x N read and written once per product)
// for panels used only N/NR or M/MR times; in place, a KC slice of B is one contiguous run of
// kc rows of at most 1 KiB, which the prefetchers stream. 1 thread: 128x256x3136 0.79-0.80x ->
// 0.93x oneDNN (AVX2 0.79x -> 0.95x), 128x128x3136 with B^T 0.81x -> 0.94-0.97x, 128x128x784
// 0.75x -> 0.87x (K >= 1024 before; K >= 64 was nowhere slower, docs/gemm.md). Rows of 4 KiB
// (N = 1024) are pages apart and went the other way (128x1024x784: 0.89x -> 0.46-0.64x), and
// so did B^T with N = 5541 (0.93x -> 0.82x), hence the bound on N.
#define GEMM_SMALL_C_MAX_M 128
#define GEMM_SMALL_C_MAX_N 256
#define GEMM_SMALL_C_MIN_K 64

// C's rows this many floats apart or a multiple of it (4 KiB) fall on the same L1 sets, so a
// column of tiles, 8 rows each, piles 2 * M of C's lines on two sets; where K is short the
// tiles are bound by those stores (NN 128x1024x10: 11 GB/s of C, 3x slower than with rows
// 4160 bytes apart). There the tiles go along the rows instead (each B panel from L2 rather
// than L1): 1 thread, AVX-512, NN 128x1024x10 29-33 -> 16-21 us, 128x2048x10 90 -> 33 us,
// 1024x1024x10 260 -> 205 us. At K >= 64 the order made no difference beyond the noise
// (1024^3, 2048^3, 784x1024x128), and with other strides it gained nothing (128x5541x10 lost
// 10 %) (docs/gemm.md).
#define GEMM_ALIAS_LDC 1024
#define GEMM_ROWS_FIRST_MAX_K 32

static int rows_first(int64_t K, int64_t ldc)
{
    return K <= GEMM_ROWS_FIRST_MAX_K && ldc % GEMM_ALIAS_LDC == 0;
}

// Up to this many rows of C, with K at least this deep and B at least as large as L2 and not
// transposed, the tiles of each block of B fetch the next block's rows of B from memory while
// they compute (the microkernel's pf form: one line every 2^pf_shift k steps, spread over all
// the block's tiles), so that the pack then copies from cache; the NC block then takes a
// quarter of L2 (it, the next one's rows and A fit), and K is split into KC slices of equal
// depth, so that every block fetches the whole of the next. The pack of a skinny product's B
// waited on memory between two blocks of compute: 40 % of a 32x100352x288 product (perf),
// 15 % now. 1 thread, AVX-512: 64x25088x576 0.78-0.83x -> 0.84-0.91x oneDNN, the 1x1 ResNet
// convolution's forward (per image 64x3136x256) 0.81-0.83x -> 0.85-0.87x (2 threads
// 0.79-0.83x -> 0.87-0.92x), 32x100352x288 within the host's noise (docs/gemm.md). Issued in
// one burst before each tile instead, the prefetches filled the miss buffers and stalled the
// tile as long as they saved; at K = 9 (32x100352x9) the tiles are too short to hide them.
#define GEMM_FETCH_NEXT_MAX_M 64
#define GEMM_FETCH_NEXT_MIN_K 64
#define LINE_FLOATS 16

// K split into equal KC slices of at most kc floats (rounded up to 8).
static int64_t even_kc(int64_t kc, int64_t K)
{
    const int64_t slices = (K + kc - 1) / kc;
    return ((K + slices - 1) / slices + 7) / 8 * 8;
}

// In gemm_blocks_owned, teams of up to this many threads pack A each for itself (its own copy,
// at most GEMM_A_ONCE_MAX_FLOATS each) when each thread has at least GEMM_A_OWN_MIN_COLS
// columns of C to compute against it, instead of packing one copy together: no barrier, and
// no thread reads the half another packed from the other core's cache. 2 threads, AVX-512:
// NN 256^3 198-206 -> 228-236 GFLOP/s, 128x1024x784 248-255 -> 264-273 (docs/gemm.md).
#define GEMM_A_OWN_MAX_TEAM 4
#define GEMM_A_OWN_MIN_COLS 64

// Below this many multiply-adds a parallel region costs more than it saves (measured: 64^3
// on 2 threads ran at 39 GFLOP/s against 84 on one; 128x1024x10 at 52 against 79).
#define GEMM_PARALLEL_MIN_FLOPS (128 * 128 * 128)

// Up to this many NR-wide panels of C, op(A) = A^T is read in place by the tiles of its full
// panels (alpha = 1, several MC blocks, A's rows off the 512-byte multiples) instead of packed:
// each panel of A serves at most this many tiles, and packing it was 16-28 % of the students'
// hidden-layer weight gradients (TN 5541x128x128, 3363x128x128). The tile reads its MR columns
// a row of A apart, each column's floats in one line or two; a partial last panel is packed.
// 1 thread, Zen 5: TN 5541x128x128 1,022-1,090 -> 920-936 us, 3363x128x128 624-626 -> 557-559,
// but 784x1024x128 (32 tiles per panel) 1-2 % slower in place (docs/gemm.md).
#define GEMM_A_T_IN_PLACE_MAX_PANELS 8

// Up to this many rows of C with B read in place, the ISA's wide tile (arch/kernels.h) takes
// the product where it has one: a matrix-vector product NN 1x1024x1024 ran at 6.6 GFLOP/s on the
// 8x32 tile's one-row form against oneDNN's 34 (Zen 5, 1 thread; docs/gemm.md).
#define GEMM_WIDE_MAX_M 4

// One GEMM call, planned: the validated arguments plus blocking and buffers.
typedef struct {
    mimic_gemm_ukernel_fn ukernel;
    mimic_gemm_aoff_fn ukernel_aoff;
    mimic_gemm_pf_fn ukernel_pf;
    mimic_gemm_wide_fn wide; // C of at most 4 rows, B in place: the wide tile (NULL: none) ...
    int64_t wide_nr;         // ... and its columns for one row
    mimic_transpose_fn transpose;
    int64_t MR, NR, kc_max, mc_max, nc_max;
    int64_t mr_max; // rows one packed-A tile can take (its panel and the next: merged_tail)
    int trans_a, trans_b, direct_a, direct_b, b_reads_nr;
    int a_once; // one MC block, A packed whole (every KC slice) once: gemm_blocks_owned
    int a_own;  // ... by every thread, into its own copy (GEMM_A_OWN_MAX_TEAM)
    int a_in_lda; // op(A) = A^T read in place by the tiles of full panels (A_T_IN_PLACE_...)
    int rows_first;     // short K, C's row stride aliasing in L1: tiles along the rows
    int fetch_next;     // tiles fetch the next block of B (GEMM_FETCH_NEXT_MAX_M) ...
    unsigned pf_shift;  // ... 2^pf_shift of them sharing a column of its lines, a part each
    int64_t row_group;  // in gemm_blocks, the panels (a block of B in half of L2) they span
    int solo; // on the calling thread alone, inside another team: no worksharing, no barriers
    int64_t M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C, *apack, *bpack;
    mimic_keep_pos_fn keep; // the post-op on finished tiles (NULL: none), by mask or C itself
    const float *mask;
    int64_t ldm;
} gemm_plan;

// The post-op on the finished mi x ni tile of C at (i, j): C kept where the mask (or C) > 0.
static void post_tile(mimic_keep_pos_fn keep, const float *mask, int64_t ldm, float *C,
                      int64_t ldc, int64_t i, int64_t j, int64_t mi, int64_t ni)
{
    float *c = C + i * ldc + j;
    if (mask)
        keep(c, (size_t)ldc, mask + i * ldm + j, (size_t)ldm, (size_t)mi, (size_t)ni);
    else
        keep(c, (size_t)ldc, c, (size_t)ldc, (size_t)mi, (size_t)ni);
}

// This thread's share [*lo, *hi) of [first, end), one contiguous range per thread of the team.
static void team_range(const gemm_plan *pl, int64_t first, int64_t end, int64_t *lo,
                       int64_t *hi)
{
    const int64_t team = pl->solo ? 1 : omp_get_num_threads();
    const int64_t t = pl->solo ? 0 : omp_get_thread_num();
    const int64_t per = (end - first + team - 1) / team;
    *lo = min64(end, first + t * per);
    *hi = min64(end, *lo + per);
}

// The team's barrier (none for a solo product).
static void team_barrier(const gemm_plan *pl)
{
    if (!pl->solo) {
#pragma omp barrier
    }
}

// Rows of A in place for the tile at row i (mi valid rows), from column pc: rows past mi
// repeat the last one.
static void a_row_offsets(int64_t *offs, int64_t MR, int64_t i, int64_t mi, int64_t lda,
                          int64_t pc)
{
    for (int64_t r = 0; r < MR; r++)
        offs[r] = (i + min64(r, mi - 1)) * lda + pc;
}

// op(A) with at most this many rows: the pack of op(B) = B prefetches its rows ahead. Measured
// (docs/gemm.md, 1 thread, AVX-512): 32x100352x288 0.61-0.73x -> 0.78-0.83x oneDNN,
// 64x25088x576 0.60-0.65x -> 0.72-0.75x, the 1x1 ResNet convolution (M = 64) 0.68-0.72x ->
// 0.78-0.84x; 1024^3 0.95x -> 0.92x and 256^3 0.87-0.89x -> 0.84-0.85x with it, so not there.
#define GEMM_PACK_B_PREFETCH_MAX_M 64

// Pack panels [jp0, jp1) of the kb x nb block of op(B) at (pc, jc), split over the team.
// op(B) = B is copied row by row across the thread's panels: each row of B is then read as
// one contiguous run (the hardware prefetcher streams it) instead of NR floats from each of
// kb rows far apart, which left skinny-M GEMMs (N = 100352) waiting on memory.
// Panels [lo, hi) of the kb x nb block of op(B) at (pc, jc), by the calling thread: panel jp
// at dst + (jp - lo) * NR * kb.
static void pack_b_panels(const gemm_plan *pl, int64_t jc, int64_t nb, int64_t pc, int64_t kb,
                          int64_t lo, int64_t hi, float *dst)
{
    const int64_t NR = pl->NR;
    if (pl->trans_b) {
        for (int64_t jp = lo; jp < hi; jp++)
            mimic_gemm_pack_bt_panel(pl->transpose, (size_t)kb, (size_t)min64(NR, nb - jp * NR),
                                     pl->B, (size_t)pl->ldb, (size_t)pc, (size_t)(jc + jp * NR),
                                     (size_t)NR, dst + (jp - lo) * NR * kb);
    } else if (lo < hi) {
        mimic_gemm_pack_b_rows((size_t)kb, (size_t)(hi - lo), (size_t)min64(nb - hi * NR + NR, NR),
                               pl->B + pc * pl->ldb + jc + lo * NR, (size_t)pl->ldb, (size_t)NR,
                               pl->M <= GEMM_PACK_B_PREFETCH_MAX_M, dst);
    }
}

static void pack_b_block(const gemm_plan *pl, int64_t jc, int64_t nb, int64_t pc, int64_t kb,
                         int64_t jp0, int64_t jp1)
{
    int64_t lo, hi;
    team_range(pl, jp0, jp1, &lo, &hi);
    pack_b_panels(pl, jc, nb, pc, kb, lo, hi, pl->bpack + lo * pl->NR * kb);
    team_barrier(pl);
}

// The mb x kb block of op(A) at (ic, pc), packed by the calling thread into dst.
static void pack_a_rows(const gemm_plan *pl, int64_t ic, int64_t mb, int64_t pc, int64_t kb,
                        float *dst)
{
    mimic_gemm_pack_a(pl->transpose, pl->trans_a, (size_t)mb, (size_t)kb, pl->alpha, pl->A,
                      (size_t)pl->lda, (size_t)ic, (size_t)pc, (size_t)pl->MR, dst);
}

// Pack the mb x kb block of op(A) at (ic, pc), split over the team: each thread one contiguous
// range of panels, so op(A) = A^T is copied row by row of A across them (one run per row).
static void pack_a_block(const gemm_plan *pl, int64_t ic, int64_t mb, int64_t pc, int64_t kb,
                         int64_t m_panels, float *apack)
{
    const int64_t MR = pl->MR;
    int64_t lo, hi;
    team_range(pl, 0, m_panels, &lo, &hi);
    if (lo < hi)
        pack_a_rows(pl, ic + lo * MR, min64(mb, hi * MR) - lo * MR, pc, kb,
                    apack + lo * MR * kb);
    team_barrier(pl);
}

// The first packed panel of an NC block nb columns wide (n_panels panels): with B in place,
// its full panels, and its partial last one if the tile (or the wide tile) reads only nr
// columns, are read from B itself; the rest is packed.
static int64_t first_packed_panel(const gemm_plan *pl, int64_t nb, int64_t n_panels)
{
    return !pl->direct_b ? 0 : pl->b_reads_nr || pl->wide ? n_panels : nb / pl->NR;
}

// Where gemm_blocks is: the NC block at jc, the KC slice at pc (kb deep), the MC block at ic,
// that block's packed A, and where packed panel jp of B is: bpack + (jp - b0) * NR * kb.
typedef struct {
    int64_t jc, pc, ic, kb, first_packed;
    float beta;
    const float *apack, *bpack;
    int64_t b0;
    const float *next; // the rows of B this thread's next pack reads (NULL: none to fetch)
    int64_t next_rows; // ... how many
    int64_t next_cols; // ... their lines across (LINE_FLOATS floats each)
} block_step;

// The lines tile (jp, ip) fetches of the next block (fetch_next), from the returned address
// one per 2^pf_shift k steps, ldb floats apart: the next block's lines column by column
// (LINE_FLOATS floats across, its rows down), each column cut into 2^pf_shift parts, one per
// tile in the order the tiles run (a last part that would run past the next block's rows
// starts early enough to end on them, so no address outside B is formed). NULL when the tiles
// already cover every column, or the next block is too shallow for a tile's part.
static const float *fetch_part(const gemm_plan *pl, const block_step *st, int64_t jp, int64_t ip)
{
    const int64_t t = (jp - st->b0) * ((pl->M + pl->MR - 1) / pl->MR) + ip;
    const int64_t col = t >> pl->pf_shift, part = t & ((1 << pl->pf_shift) - 1);
    const int64_t count = (st->kb + (1 << pl->pf_shift) - 1) >> pl->pf_shift; // lines it fetches
    if (col >= st->next_cols || count > st->next_rows)
        return NULL;
    return st->next + col * LINE_FLOATS + min64(part * count, st->next_rows - count) * pl->ldb;
}

// Tile (jp, ip) of the current blocks: the microkernel on B's panel jp (packed, or in place
// below first_packed) and A's panel ip, then the post-op after the last KC slice.
static void block_tile(const gemm_plan *pl, const block_step *st, int64_t jp, int64_t ip,
                       int64_t rows)
{
    const int64_t MR = pl->MR, NR = pl->NR, kb = st->kb, pc = st->pc;
    const int64_t i = st->ic + ip * MR, j = st->jc + jp * NR;
    const int packed = jp >= st->first_packed;
    const float *b = packed ? st->bpack + (jp - st->b0) * NR * kb : pl->B + pc * pl->ldb + j;
    const size_t bs = (size_t)(packed ? NR : pl->ldb);
    const size_t mi = (size_t)min64(rows, pl->M - i), ni = (size_t)min64(NR, pl->N - j);
    float *c = pl->C + i * pl->ldc + j;
    if (pl->direct_a) {
        int64_t offs[GEMM_MAX_MR];
        a_row_offsets(offs, MR, i, (int64_t)mi, pl->lda, pc);
        pl->ukernel_aoff(mi, ni, (size_t)kb, pl->A, offs, b, bs, c, (size_t)pl->ldc, st->beta);
    } else {
        const int in_place = pl->a_in_lda && (int64_t)mi == MR;
        const float *a = in_place ? pl->A + pc * pl->lda + i : st->apack + ip * MR * kb;
        const size_t as = (size_t)(in_place ? pl->lda : MR);
        const float *pf = st->next ? fetch_part(pl, st, jp, ip) : NULL;
        if (pf)
            pl->ukernel_pf(mi, ni, (size_t)kb, a, as, b, bs, c, (size_t)pl->ldc, st->beta, pf,
                           (size_t)pl->ldb, pl->pf_shift);
        else
            pl->ukernel(mi, ni, (size_t)kb, a, as, b, bs, c, (size_t)pl->ldc, st->beta);
    }
    if (pl->keep && pc + kb == pl->K)
        post_tile(pl->keep, pl->mask, pl->ldm, pl->C, pl->ldc, i, j, (int64_t)mi, (int64_t)ni);
}

// 1 if the block's last row panel, partial, is computed by the tile before it: a tile of up to
// mr_max rows reads rows MR.. from the next packed panel of A (AVX-512: 8 + 4), so a classifier's
// 10 rows take one pass over each panel of B with 20 FMA chains instead of an 8-row pass and a
// 2-row one whose 4 chains wait on the FMA latency (TN 10x5541x128: docs/gemm.md). The same
// microkernel sums, the same bits. Not with A read in place (its row offsets hold MR rows; A^T
// in place has no packed panel after the one before the last) nor when the tiles fetch the
// next block (fetch_next deals its lines out over every panel).
static int merged_tail(const gemm_plan *pl, const block_step *st, int64_t m_panels)
{
    return !pl->direct_a && !pl->a_in_lda && !st->next && m_panels >= 2 &&
           pl->M - (st->ic + (m_panels - 2) * pl->MR) <= pl->mr_max;
}

// Panels [jlo, jhi) of the current blocks under a C of at most 4 rows, B in place: the wide
// tile over strips of wide_nr / R columns (R = the rows rounded up to 1, 2 or 4).
static void wide_tiles(const gemm_plan *pl, const block_step *st, int64_t jlo, int64_t jhi)
{
    const int64_t NR = pl->NR, M = pl->M, kb = st->kb, pc = st->pc;
    const int64_t R = M > 2 ? 4 : M, cols = pl->wide_nr / R;
    const int64_t j1 = min64(pl->N, st->jc + jhi * NR);
    for (int64_t j = st->jc + jlo * NR; j < j1; j += cols) {
        const int64_t nj = min64(cols, j1 - j);
        float *c = pl->C + j;
        pl->wide((size_t)M, (size_t)nj, (size_t)kb, st->apack, (size_t)pl->MR,
                 pl->B + pc * pl->ldb + j, (size_t)pl->ldb, c, (size_t)pl->ldc, st->beta);
        if (pl->keep && pc + kb == pl->K)
            post_tile(pl->keep, pl->mask, pl->ldm, pl->C, pl->ldc, 0, j, M, nj);
    }
}

// Tiles [jlo, jhi) x [0, m_panels) of the current blocks: B's panels outer (each in L1 for its
// column of tiles), or with rows_first, groups of row_group panels (a block of B in half of L2)
// each row by row.
static void block_tiles(const gemm_plan *pl, const block_step *st, int64_t jlo, int64_t jhi,
                        int64_t m_panels)
{
    if (pl->wide) {
        wide_tiles(pl, st, jlo, jhi);
        return;
    }
    const int merged = merged_tail(pl, st, m_panels);
    const int64_t m_tiles = m_panels - merged, MR = pl->MR;
#define ROWS(ip) ((ip) == m_tiles - 1 && merged ? pl->mr_max : MR)
    if (!pl->rows_first) {
        for (int64_t jp = jlo; jp < jhi; jp++)
            for (int64_t ip = 0; ip < m_tiles; ip++)
                block_tile(pl, st, jp, ip, ROWS(ip));
        return;
    }
    for (int64_t g = jlo; g < jhi; g += pl->row_group)
        for (int64_t ip = 0; ip < m_tiles; ip++)
            for (int64_t jp = g; jp < min64(jhi, g + pl->row_group); jp++)
                block_tile(pl, st, jp, ip, ROWS(ip));
#undef ROWS
}

// The pf_shift of fetch_next: a panel's m_panels tiles cover its NR / LINE_FLOATS columns of
// the next block's lines, 2^pf_shift tiles to a column.
static unsigned fetch_shift(int64_t M, int64_t MR, int64_t NR)
{
    unsigned shift = 0;
    while ((2 << shift) * NR <= (M + MR - 1) / MR * LINE_FLOATS)
        shift++;
    return shift;
}

// Where this thread's pack after the block at (jc, pc) reads B (its panels [lo_full, hi_full)
// of a full block), for fetch_next.
static void next_block(const gemm_plan *pl, int64_t jc, int64_t pc, int64_t lo_full,
                       int64_t hi_full, block_step *st)
{
    const int64_t NR = pl->NR;
    if (pc + pl->kc_max < pl->K) {
        pc += pl->kc_max;
    } else {
        jc += pl->nc_max;
        pc = 0;
    }
    const int64_t nb = min64(pl->nc_max, pl->N - jc);
    const int64_t hi = min64(hi_full, (nb + NR - 1) / NR), lo = min64(lo_full, hi);
    if (jc >= pl->N || lo >= hi)
        return;
    st->next = pl->B + pc * pl->ldb + jc + lo * NR;
    st->next_rows = min64(pl->kc_max, pl->K - pc);
    st->next_cols = (min64(nb, hi * NR) - lo * NR + LINE_FLOATS - 1) / LINE_FLOATS;
}

// The NC / KC loops of a product with one MC block whose A is packed whole, once (every KC
// slice, mpad x kb floats each, one after the other) or read in place: nothing in the loops is
// shared, so they need no barrier. Each thread packs the B panels of its own range of every
// NC block and computes their tiles (every row panel), so it reads only what it packed. The
// shared loops spent three barriers per NC block (libgomp 15 % of a 2-thread 32x100352x288 in
// perf) and re-packed the same A for every block, half of it read from the other core's cache.
// 2 threads: 32x100352x288 0.45x -> 0.57-0.59x oneDNN, 128x1024x784 0.58-0.60x -> 0.73-0.82x,
// NT 128x3136x256 0.95x -> 1.18-1.27x (docs/gemm.md). Each tile is the same microkernel call
// as in gemm_blocks: the same bits.
static void gemm_blocks_owned(const gemm_plan *pl)
{
    const int64_t MR = pl->MR, NR = pl->NR, M = pl->M, N = pl->N, K = pl->K;
    const int64_t m_panels = (M + MR - 1) / MR, mpad = m_panels * MR;
    // Each thread's panels of every block are its share of a full block's, packed into its own
    // part of the buffer (a full share of kc_max-deep panels): a thread on to the next KC
    // slice or the next (last, shorter) block never packs over panels another still reads.
    int64_t lo_full, hi_full;
    team_range(pl, 0, (pl->nc_max + NR - 1) / NR, &lo_full, &hi_full);
    float *bmine = pl->bpack + lo_full * NR * pl->kc_max;
    const float *apack = pl->apack;
    if (pl->a_own) { // every thread its own copy of all of A: no barrier, no remote reads
        float *mine = pl->apack + (pl->solo ? 0 : omp_get_thread_num()) * mpad * K;
        for (int64_t pc = 0; pc < K; pc += pl->kc_max)
            pack_a_rows(pl, 0, M, pc, min64(pl->kc_max, K - pc), mine + mpad * pc);
        apack = mine;
    } else if (!pl->direct_a) {
        for (int64_t pc = 0; pc < K; pc += pl->kc_max)
            pack_a_block(pl, 0, M, pc, min64(pl->kc_max, K - pc), m_panels, pl->apack + mpad * pc);
    }
    for (int64_t jc = 0; jc < N; jc += pl->nc_max) {
        const int64_t nb = min64(pl->nc_max, N - jc);
        const int64_t n_panels = (nb + NR - 1) / NR;
        const int64_t first_packed = first_packed_panel(pl, nb, n_panels);
        const int64_t hi = min64(hi_full, n_panels), lo = min64(lo_full, hi);
        for (int64_t pc = 0; pc < K; pc += pl->kc_max) {
            const int64_t kb = min64(pl->kc_max, K - pc);
            block_step st = {jc, pc, 0, kb, first_packed, pc == 0 ? pl->beta : 1.0f,
                             apack + mpad * pc, bmine, lo, NULL, 0, 0};
            if (pl->fetch_next)
                next_block(pl, jc, pc, lo_full, hi_full, &st);
            const int64_t plo = max64(lo, first_packed), phi = max64(hi, first_packed);
            pack_b_panels(pl, jc, nb, pc, kb, plo, phi, bmine + (plo - lo) * NR * kb);
            block_tiles(pl, &st, lo, hi, m_panels);
        }
    }
}

// The NC / KC / MC loops. The team packs each block of B together (a barrier after it), then
// each thread takes its own share of C's rows (of A's row panels), packs their A, MC rows at a
// time, into its own part of the A buffer and computes all their tiles against the block of
// B; a barrier before B is packed again. So no thread reads A packed by another, and an MC
// block costs no barrier (the loops before split each block's packing and tiles between the
// threads, two barriers per block; 2 threads, TN 3136x256x128: 0.64-0.88x -> 0.85-0.95x
// oneDNN, NN 1024^3 0.84-0.96x -> 0.90-1.00x, docs/gemm.md). Every
// tile starts at a row that is a multiple of MR, as before, and is the same microkernel call
// on the same packed operands: the same bits whatever the thread count. A solo product
// (called inside another team) walks them alone.
static void gemm_blocks(const gemm_plan *pl)
{
    if (pl->a_once) {
        gemm_blocks_owned(pl);
        return;
    }
    const int64_t MR = pl->MR, NR = pl->NR, M = pl->M, N = pl->N, K = pl->K;
    int64_t plo, phi;
    team_range(pl, 0, (M + MR - 1) / MR, &plo, &phi);
    const int64_t row_lo = plo * MR, row_hi = min64(M, phi * MR);
    const int64_t t = pl->solo ? 0 : omp_get_thread_num();
    float *amine = pl->apack + t * mc_padded(pl->mc_max, MR) * pl->kc_max;
    for (int64_t jc = 0; jc < N; jc += pl->nc_max) {
        const int64_t nb = min64(pl->nc_max, N - jc);
        const int64_t n_panels = (nb + NR - 1) / NR;
        const int64_t first_packed = first_packed_panel(pl, nb, n_panels);
        for (int64_t pc = 0; pc < K; pc += pl->kc_max) {
            const int64_t kb = min64(pl->kc_max, K - pc);
            const float beta_k = pc == 0 ? pl->beta : 1.0f;
            pack_b_block(pl, jc, nb, pc, kb, first_packed, n_panels);
            for (int64_t ic = row_lo; ic < row_hi; ic += pl->mc_max) {
                const int64_t mb = min64(pl->mc_max, row_hi - ic);
                if (pl->a_in_lda && mb % MR != 0) // only a partial last panel is packed
                    pack_a_rows(pl, ic + mb / MR * MR, mb % MR, pc, kb,
                                amine + mb / MR * MR * kb);
                else if (!pl->direct_a && !pl->a_in_lda)
                    pack_a_rows(pl, ic, mb, pc, kb, amine);
                const block_step st = {jc,    pc,        ic, kb,   first_packed, beta_k,
                                       amine, pl->bpack, 0,  NULL, 0,            0};
                block_tiles(pl, &st, 0, n_panels, (mb + MR - 1) / MR);
            }
            team_barrier(pl); // the next block of B goes where this one is still read
        }
    }
}

// The tile at (i, j) of gemm_in_place.
static inline void in_place_tile(const mimic_gemm_ukernel *g, int64_t M, int64_t N, int64_t K,
                                 const float *A, int64_t lda, const float *B, int64_t ldb,
                                 float beta, float *C, int64_t ldc, mimic_keep_pos_fn keep,
                                 const float *mask, int64_t ldm, int64_t i, int64_t j)
{
    const size_t mi = (size_t)min64(g->mr, M - i), ni = (size_t)min64(g->nr, N - j);
    int64_t offs[GEMM_MAX_MR];
    a_row_offsets(offs, g->mr, i, (int64_t)mi, lda, 0);
    g->aoff(mi, ni, (size_t)K, A, offs, B + j, (size_t)ldb, C + i * ldc + j, (size_t)ldc, beta);
    if (keep)
        post_tile(keep, mask, ldm, C, ldc, i, j, (int64_t)mi, (int64_t)ni);
}

// A product of one KC slice whose A and B are both read in place (alpha = 1), on one thread:
// its tiles straight away, without the blocked loops' plan, worksharing and packing
// bookkeeping (a third of a 32^3 product's time outside the microkernel). MC and NC blocks
// change no element's arithmetic when nothing is packed, and each tile is the same
// microkernel call as in gemm_blocks, so the bits are the same.
static void gemm_in_place(const mimic_gemm_ukernel *g, int64_t M, int64_t N, int64_t K,
                          const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                          float *C, int64_t ldc, mimic_keep_pos_fn keep, const float *mask,
                          int64_t ldm)
{
    const int64_t MR = g->mr, NR = g->nr;
    // B's panels outer, or along the rows where C's stride aliases (rows_first).
    if (rows_first(K, ldc)) {
        for (int64_t i = 0; i < M; i += MR)
            for (int64_t j = 0; j < N; j += NR)
                in_place_tile(g, M, N, K, A, lda, B, ldb, beta, C, ldc, keep, mask, ldm, i, j);
    } else {
        for (int64_t j = 0; j < N; j += NR)
            for (int64_t i = 0; i < M; i += MR)
                in_place_tile(g, M, N, K, A, lda, B, ldb, beta, C, ldc, keep, mask, ldm, i, j);
    }
}

// With a single MC block of A, each packed B panel is used right after it is packed and never
// again: an NC block sized for L3 only sends the packed copy out of L2 and back. Keep it in
// half of L2 instead (`bytes`), or a quarter where the next block's rows of B come in while it
// is used (fetch_next: both, and A, then fit). The team splits each block's panels, so their
// number is a multiple of the team's size: 7 panels (fetch_next's 32x100352x288) left one of
// two threads idle an eighth of the time (2 threads, 6 panels instead: 32x100352x288 14.1-15.7
// -> 11.9-14.2 ms, 64x25088x576 9.7-9.8 -> 8.6-9.6 ms; docs/gemm.md).
static int64_t nc_in_l2(mimic_gemm_blocking bl, int64_t kc, int64_t NR, double bytes,
                        int64_t team)
{
    const int64_t panels = min64((int64_t)bytes / ((int64_t)sizeof(float) * kc), bl.nc) / NR;
    return max64(team, panels / team * team) * NR;
}

// op(A) = A and op(B) = B^T with at most this many columns of C and K at least this long go
// to the dot-product tiles (K along the lanes, nothing packed): an MR x NR tile would spend
// most of its FMAs on padding columns and the packing of A would cost more than the product
// (measured: docs/gemm.md).
#define GEMM_DOT_MAX_N 16
#define GEMM_DOT_MIN_K 64

static int use_dot(const mimic_gemm_ukernel *g, int trans_a, int trans_b, int64_t N, int64_t K)
{
    return g->dot && !trans_a && trans_b && N <= GEMM_DOT_MAX_N && K >= GEMM_DOT_MIN_K;
}

// The dot-product path: tiles of dot_mr rows of C (all N columns, dot_nr at a time), the row
// tiles split over the threads. B (N <= GEMM_DOT_MAX_N rows) is first copied to a buffer whose
// rows start on cache lines: vector loads that straddle two lines halved the tile's speed
// (128x16x1024: 95 against 136 GFLOP/s with both operands aligned). Each element is one tile
// call's sum whatever the team.
static mimic_status gemm_dot(const mimic_gemm_ukernel *g, int64_t M, int64_t N, int64_t K,
                             float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                             float beta, float *C, int64_t ldc, int solo)
{
    const int64_t mr = g->dot_mr, nr = g->dot_nr, tiles = (M + mr - 1) / mr;
    const int64_t ldd = (K + 15) / 16 * 16;
    float *bd = mimic_workspace(MIMIC_WS_GEMM_B, (size_t)(N * ldd));
    if (!bd)
        return MIMIC_ENOMEM;
    const float *rows[GEMM_DOT_MAX_N];
    for (int64_t j = 0; j < N; j++) {
        memcpy(bd + j * ldd, B + j * ldb, (size_t)K * sizeof(float));
        rows[j] = bd + j * ldd;
    }
    const int threads = solo ? 1 : mimic_threads_get();
    const int team = threads > 1 && (double)M * N * K >= GEMM_PARALLEL_MIN_FLOPS ? threads : 1;
#pragma omp parallel for num_threads(team) schedule(static) if (team > 1)
    for (int64_t t = 0; t < tiles; t++) {
        const int64_t i = t * mr;
        for (int64_t j = 0; j < N; j += nr)
            g->dot((size_t)min64(mr, M - i), (size_t)min64(nr, N - j), (size_t)K, A + i * lda,
                   (size_t)lda, rows + j, C + i * ldc + j, (size_t)ldc, alpha, beta, NULL);
    }
    return MIMIC_OK;
}

mimic_status mimic_gemm_run(const mimic_kernels *k, int trans_a, int trans_b, int64_t M,
                            int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                            const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    return mimic_gemm_run_post(k, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                               0, NULL, 0);
}

mimic_status mimic_gemm_run_post(const mimic_kernels *k, int trans_a, int trans_b, int64_t M,
                                 int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                                 const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                                 int keep, const float *mask, int64_t ldm)
{
    const mimic_keep_pos_fn keep_fn = keep ? k->conv.keep_pos : NULL;
    // Called from a thread of another team (a convolution's), the product runs on that
    // thread alone: its loops must not bind to that team, whose threads run products of
    // their own.
    const int solo = omp_in_parallel();
    // The paths without tiles of their own: the post-op as a pass over C afterwards.
    if (K == 0 || alpha == 0.0f || use_dot(k->gemm, trans_a, trans_b, N, K)) {
        mimic_status st = MIMIC_OK;
        if (K == 0 || alpha == 0.0f)
            scale_c(M, N, beta, C, ldc);
        else
            st = gemm_dot(k->gemm, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, solo);
        if (st == MIMIC_OK && keep_fn)
            post_tile(keep_fn, mask, ldm, C, ldc, 0, 0, M, N);
        return st;
    }
    const mimic_gemm_blocking bl = mimic_gemm_blocking_for(k->gemm->mr, k->gemm->nr);
    const double l2 = (double)mimic_machine_get()->l2_bytes, half_l2 = l2 / 2;
    const double b_bytes = (double)K * (double)N * sizeof(float);
    const int64_t MR = k->gemm->mr, NR = k->gemm->nr;
    // alpha is applied by the packing, so A can be read in place only when it is 1.
    const int a_in_place_ok = !trans_a && alpha == 1.0f && MR <= GEMM_MAX_MR;
    const int small_c_shape = a_in_place_ok && M <= GEMM_SMALL_C_MAX_M &&
                              N <= GEMM_SMALL_C_MAX_N && K >= GEMM_SMALL_C_MIN_K;
    const int small_c = small_c_shape && !trans_b;
    const int direct_a = a_in_place_ok &&
                         (small_c_shape || N <= GEMM_DIRECT_A_MAX_PANELS * NR ||
                          (N <= GEMM_DIRECT_A_MAX_N && (double)M * K * sizeof(float) <= half_l2));
    // Packing B pays off only when each B panel is reused by enough A panels; below that,
    // full-width panels are read from B in place (row stride ldb), and the last, partial
    // one too where the tile reads only its columns (else it is copied).
    const int direct_b =
        small_c || (!trans_b && M <= GEMM_DIRECT_B_TINY_M && N <= GEMM_DIRECT_B_TINY_MAX_N) ||
        (!trans_b && M <= GEMM_DIRECT_B_MAX_M && b_bytes <= half_l2) ||
        (!trans_b && M <= GEMM_DIRECT_B_L2_MAX_M && ldb % GEMM_L1_ALIAS_FLOATS != 0 &&
         (b_bytes <= l2 || (K <= bl.kc && b_bytes <= GEMM_DIRECT_B_ONE_SLICE_L2S * l2)));
    const int threads = mimic_threads_get();
    const int serial = solo || threads == 1 || (double)M * N * K < GEMM_PARALLEL_MIN_FLOPS;
    // One KC slice with nothing to pack, on one thread: the tiles straight away.
    if (serial && direct_a && direct_b && K <= bl.kc && (k->gemm->b_reads_nr || N % NR == 0)) {
        gemm_in_place(k->gemm, M, N, K, A, lda, B, ldb, beta, C, ldc, keep_fn, mask, ldm);
        return MIMIC_OK;
    }
    const int a_once = direct_a ? M <= bl.mc : a_once_fits(bl, MR, M, K);
    const int a_own = a_once && !direct_a && !serial && threads <= GEMM_A_OWN_MAX_TEAM &&
                      N >= GEMM_A_OWN_MIN_COLS * threads;
    const int fetch_next = k->gemm->pf && a_once && !direct_a && !trans_b && !direct_b &&
                           M <= GEMM_FETCH_NEXT_MAX_M && K >= GEMM_FETCH_NEXT_MIN_K &&
                           b_bytes >= l2 && (M + MR - 1) / MR * LINE_FLOATS >= NR;
    const int64_t kc = fetch_next ? even_kc(bl.kc, K) : min64(bl.kc, K);
    const mimic_gemm_wide_fn wide =
        M <= GEMM_WIDE_MAX_M && direct_b && !direct_a ? k->gemm->wide : NULL;
    gemm_plan pl = {
        .ukernel = k->gemm->fn,
        .ukernel_aoff = k->gemm->aoff,
        .ukernel_pf = k->gemm->pf,
        .wide = wide,
        .wide_nr = k->gemm->wide_nr,
        .transpose = k->conv.transpose,
        .MR = k->gemm->mr,
        .NR = k->gemm->nr,
        .mr_max = k->gemm->mr_max,
        .kc_max = kc,
        .mc_max = min64(bl.mc, M),
        .nc_max =
            min64(wide ? bl.nc // B in place, nothing packed: each thread a run of strips
                  : M <= bl.mc
                      ? nc_in_l2(bl, kc, NR, fetch_next ? l2 / 4 : half_l2, serial ? 1 : threads)
                      : bl.nc,
                  N),
        .trans_a = trans_a,
        .trans_b = trans_b,
        .direct_a = direct_a,
        .direct_b = direct_b,
        .a_once = a_once,
        .a_own = a_own,
        .a_in_lda = !a_once && trans_a && alpha == 1.0f &&
                    N <= GEMM_A_T_IN_PLACE_MAX_PANELS * NR && lda % GEMM_L1_ALIAS_FLOATS != 0,
        .rows_first = rows_first(K, ldc),
        .fetch_next = fetch_next,
        .pf_shift = fetch_next ? fetch_shift(M, MR, NR) : 0,
        .row_group = max64(1, (int64_t)half_l2 / ((int64_t)sizeof(float) * NR * kc)),
        .b_reads_nr = k->gemm->b_reads_nr,
        .solo = solo,
        .M = M, .N = N, .K = K, .lda = lda, .ldb = ldb, .ldc = ldc,
        .alpha = alpha, .beta = beta,
        .A = A, .B = B, .C = C,
        .keep = keep_fn, .mask = mask, .ldm = ldm,
    };
    if (reserve_blocked(k, bl, M, N, K, serial || (a_once && !a_own) ? 1 : threads) != MIMIC_OK)
        return MIMIC_ENOMEM;
    pl.apack = mimic_workspace(MIMIC_WS_GEMM_A, 0);
    pl.bpack = mimic_workspace(MIMIC_WS_GEMM_B, 0);
    if (!serial) {
#pragma omp parallel num_threads(threads)
        gemm_blocks(&pl);
    } else {
        gemm_blocks(&pl);
    }
    return MIMIC_OK;
}

mimic_status mimic_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
                         const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                         float *C, int64_t ldc)
{
    return mimic_sgemm_post(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

mimic_status mimic_sgemm_post(char transa, char transb, int64_t M, int64_t N, int64_t K,
                              float alpha, const float *A, int64_t lda, const float *B,
                              int64_t ldb, float beta, float *C, int64_t ldc,
                              const mimic_gemm_post *post)
{
    int ta, tb;
    if (!parse_trans(transa, &ta) || !parse_trans(transb, &tb))
        return MIMIC_EINVAL;
    if (M < 0 || N < 0 || K < 0)
        return MIMIC_EINVAL;
    if (lda < max64(1, ta ? M : K) || ldb < max64(1, tb ? K : N) || ldc < max64(1, N))
        return MIMIC_EINVAL;
    if (!extent_ok(ta ? K : M, lda) || !extent_ok(tb ? N : K, ldb) || !extent_ok(M, ldc))
        return MIMIC_EINVAL;
    const mimic_gemm_post_kind kind = post ? post->kind : MIMIC_GEMM_POST_NONE;
    if (kind != MIMIC_GEMM_POST_NONE && kind != MIMIC_GEMM_POST_RELU &&
        kind != MIMIC_GEMM_POST_MASK)
        return MIMIC_EINVAL;
    if (kind == MIMIC_GEMM_POST_MASK && (post->ldm < max64(1, N) || !extent_ok(M, post->ldm)))
        return MIMIC_EINVAL;
    if (M == 0 || N == 0)
        return MIMIC_OK;
    if (!C || (kind == MIMIC_GEMM_POST_MASK && !post->mask))
        return MIMIC_EINVAL;
    const int reads_ab = K > 0 && alpha != 0.0f;
    if (reads_ab && (!A || !B))
        return MIMIC_EINVAL;
    const mimic_prof_call pc = mimic_prof_begin();
    const mimic_status st = mimic_gemm_run_post(
        mimic_kernels_active(), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
        kind != MIMIC_GEMM_POST_NONE, kind == MIMIC_GEMM_POST_MASK ? post->mask : NULL,
        kind == MIMIC_GEMM_POST_MASK ? post->ldm : 0);
    mimic_prof_end(&pc, MIMIC_PROF_GEMM, 2.0 * (double)M * (double)N * (double)K);
    return st;
}
