// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
#ifndef MIMIC_TRAIN_IDX_H
#define MIMIC_TRAIN_IDX_H

#include <stddef.h>
#include <stdint.h>

#include <mimic/status.h>

#define MIMIC_IDX_MAX_DIMS 4
// Larger files are refused as corrupt: Fashion-MNIST's largest is 47 MB.
#define MIMIC_IDX_MAX_BYTES ((size_t)1 << 31)

// An unsigned-byte IDX tensor: dims[0] items of dims[1] x ... x dims[ndim-1] bytes.
typedef struct {
    int ndim;
    int64_t dims[MIMIC_IDX_MAX_DIMS];
    size_t count; // product of dims
    uint8_t *data;
} mimic_idx;

// Load `path`. MIMIC_EIO if it cannot be opened or read; MIMIC_EFORMAT if it is not a valid
// unsigned-byte IDX file (bad magic, type or dimensions, truncated, trailing bytes, corrupt
// gzip stream); MIMIC_ENOMEM. On failure `err` (if not NULL) says what, naming the file and
// the byte offset in the uncompressed stream, and *out is left empty.
mimic_status mimic_idx_load(const char *path, mimic_idx *out, char *err, size_t err_len);

void mimic_idx_free(mimic_idx *idx);

#endif
