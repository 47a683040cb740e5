// IDX reader on zlib's gz* interface, which reads gzip and plain files alike.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "train/idx.h"
#include "train/util.h"

#define IDX_TYPE_UBYTE 0x08

// Read exactly n bytes at *offset. 0 on success; otherwise fills err and returns the status.
static mimic_status read_exact(gzFile f, const char *path, void *buf, size_t n, size_t *offset,
                               const char *what, char *err, size_t err_len)
{
    size_t done = 0;
    while (done < n) {
        const unsigned chunk = n - done > (1u << 30) ? (1u << 30) : (unsigned)(n - done);
        const int got = gzread(f, (char *)buf + done, chunk);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            return train_fail(err, err_len, zerr == Z_ERRNO ? MIMIC_EIO : MIMIC_EFORMAT,
                        "%s: corrupt or unreadable at byte %zu while reading the %s (%s)", path,
                        *offset + done, what, zerr == Z_ERRNO ? strerror(errno) : msg);
        }
        if (got == 0)
            return train_fail(err, err_len, MIMIC_EFORMAT,
                        "%s: truncated: the %s needs %zu bytes from byte %zu, the file ends at "
                        "byte %zu",
                        path, what, n, *offset, *offset + done);
        done += (size_t)got;
    }
    *offset += n;
    return MIMIC_OK;
}

static int64_t big_endian32(const uint8_t *b)
{
    return ((int64_t)b[0] << 24) | ((int64_t)b[1] << 16) | ((int64_t)b[2] << 8) | b[3];
}

// Magic (0, 0, type, ndim) and the dimensions; sets out->ndim, dims, count.
static mimic_status read_header(gzFile f, const char *path, mimic_idx *out, size_t *offset,
                                char *err, size_t err_len)
{
    uint8_t magic[4];
    mimic_status st = read_exact(f, path, magic, 4, offset, "magic number", err, err_len);
    if (st != MIMIC_OK)
        return st;
    if (magic[0] != 0 || magic[1] != 0)
        return train_fail(err, err_len, MIMIC_EFORMAT,
                    "%s: not an IDX file: magic bytes at offset 0 are %02x %02x, want 00 00", path,
                    magic[0], magic[1]);
    if (magic[2] != IDX_TYPE_UBYTE)
        return train_fail(err, err_len, MIMIC_EFORMAT,
                    "%s: IDX element type 0x%02x at offset 2 is not unsigned byte (0x08)", path,
                    magic[2]);
    if (magic[3] < 1 || magic[3] > MIMIC_IDX_MAX_DIMS)
        return train_fail(err, err_len, MIMIC_EFORMAT,
                    "%s: %u dimensions at offset 3; want 1 to %d", path, magic[3],
                    MIMIC_IDX_MAX_DIMS);
    out->ndim = magic[3];
    size_t count = 1;
    for (int d = 0; d < out->ndim; d++) {
        uint8_t b[4];
        const size_t at = *offset;
        st = read_exact(f, path, b, 4, offset, "dimension sizes", err, err_len);
        if (st != MIMIC_OK)
            return st;
        out->dims[d] = big_endian32(b);
        if (out->dims[d] < 1 || (size_t)out->dims[d] > MIMIC_IDX_MAX_BYTES / count)
            return train_fail(err, err_len, MIMIC_EFORMAT,
                        "%s: dimension %d at offset %zu is %lld: empty or larger than the %zu "
                        "bytes a data file may hold",
                        path, d, at, (long long)out->dims[d], MIMIC_IDX_MAX_BYTES);
        count *= (size_t)out->dims[d];
    }
    out->count = count;
    return MIMIC_OK;
}

mimic_status mimic_idx_load(const char *path, mimic_idx *out, char *err, size_t err_len)
{
    if (!out)
        return MIMIC_EINVAL;
    memset(out, 0, sizeof *out);
    if (!path)
        return train_fail(err, err_len, MIMIC_EINVAL, "no IDX path given");
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return train_fail(err, err_len, MIMIC_EIO, "%s: cannot open: %s", path,
                    errno ? strerror(errno) : "out of memory");
    mimic_idx idx = {0};
    size_t offset = 0;
    mimic_status st = read_header(f, path, &idx, &offset, err, err_len);
    if (st == MIMIC_OK) {
        idx.data = malloc(idx.count);
        if (!idx.data)
            st = train_fail(err, err_len, MIMIC_ENOMEM, "%s: no memory for %zu bytes", path, idx.count);
    }
    if (st == MIMIC_OK)
        st = read_exact(f, path, idx.data, idx.count, &offset, "data", err, err_len);
    if (st == MIMIC_OK) {
        uint8_t extra;
        const int got = gzread(f, &extra, 1);
        if (got != 0)
            st = train_fail(err, err_len, MIMIC_EFORMAT,
                      got > 0 ? "%s: trailing bytes after the data, from byte %zu"
                              : "%s: corrupt or unreadable at byte %zu after the data",
                      path, offset);
    }
    gzclose(f);
    if (st != MIMIC_OK) {
        free(idx.data);
        return st;
    }
    *out = idx;
    return MIMIC_OK;
}

void mimic_idx_free(mimic_idx *idx)
{
    if (!idx)
        return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}
