// Per-thread scratch buffers, 64-byte aligned, grown on demand and reused across calls.
#ifndef MIMIC_ARCH_WORKSPACE_H
#define MIMIC_ARCH_WORKSPACE_H

#include <stddef.h>

typedef enum {
    MIMIC_WS_GEMM_A,   // packed A block
    MIMIC_WS_GEMM_B,   // packed B panel
    MIMIC_WS_CONV_COL, // conv: column buffer, or the fused B panels
    MIMIC_WS_CONV_TMP, // conv: fused output tile or A panels, im2col before its transpose
    MIMIC_WS_CONV_AUX, // conv, calling thread: flipped weights, bias and weight partial sums
    MIMIC_WS_CONV_WEI, // conv, calling thread: weights packed for the GEMM microkernel
    MIMIC_WS_SOFTMAX,  // softmax, calling thread: chunks and exps of long rows, KD's exps
    MIMIC_WS_COUNT
} mimic_ws_slot;

// A buffer of at least @p floats floats for the calling thread, or NULL if out of memory.
// Valid until the next call with the same slot on the same thread.
float *mimic_workspace(mimic_ws_slot slot, size_t floats);

#endif
