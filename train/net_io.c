// Checkpoints of a network: written to a temp file, fsync'ed and renamed, read back with
// layout and CRC checks.
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "train/net.h"
#include "train/util.h"

#define CKPT_MAGIC "MIMICNT1"

// fwrite that folds the bytes into the running CRC.
static int put(FILE *f, const void *p, size_t n, uLong *crc)
{
    *crc = crc32(*crc, p, (uInt)n);
    return fwrite(p, 1, n, f) == n;
}

uint32_t mimic_net_weights_crc(const mimic_net *cnet)
{
    mimic_param *ps[MIMIC_NET_MAX_PARAMS];
    const int np = mimic_net_params((mimic_net *)cnet, ps); // only reads
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < np; i++)
        crc = crc32(crc, (const Bytef *)ps[i]->w, (uInt)((size_t)ps[i]->n * sizeof(float)));
    return (uint32_t)crc;
}

typedef struct {
    mimic_net *net;
    const void *extra;
    size_t extra_len;
} save_args;

// The checkpoint's bytes: magic, tensor count, each tensor's size, values and momentum, the
// caller's state, then the CRC of everything after the magic.
static int fill_checkpoint(FILE *f, const void *ctx)
{
    const save_args *a = ctx;
    mimic_param *ps[MIMIC_NET_MAX_PARAMS];
    const int np = mimic_net_params(a->net, ps);
    uLong crc = crc32(0L, Z_NULL, 0);
    const int64_t count = np, extra64 = (int64_t)a->extra_len;
    int ok = fwrite(CKPT_MAGIC, 1, 8, f) == 8 && put(f, &count, sizeof count, &crc);
    for (int i = 0; ok && i < np; i++)
        ok = put(f, &ps[i]->n, sizeof ps[i]->n, &crc) &&
             put(f, ps[i]->w, (size_t)ps[i]->n * sizeof(float), &crc) &&
             put(f, ps[i]->v, (size_t)ps[i]->n * sizeof(float), &crc);
    ok = ok && put(f, &extra64, sizeof extra64, &crc) &&
         (!a->extra_len || put(f, a->extra, a->extra_len, &crc));
    const uint32_t crc32v = (uint32_t)crc;
    return ok && fwrite(&crc32v, 1, 4, f) == 4;
}

mimic_status mimic_net_save(const mimic_net *cnet, const char *path, const void *extra,
                            size_t extra_len, char *err, size_t err_len)
{
    if (!cnet || !path || (extra_len && !extra))
        return MIMIC_EINVAL;
    // Only read: the tensor walker is shared with load, hence not const.
    const save_args a = {(mimic_net *)cnet, extra, extra_len};
    return train_write_atomic_with(path, fill_checkpoint, &a, err, err_len);
}

// The whole file in memory (checkpoints are a few MB); NULL with err set on failure.
static unsigned char *slurp(const char *path, size_t *len, mimic_status *st, char *err,
                            size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *st = train_fail(err, err_len, MIMIC_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        buf = malloc(size > 0 ? (size_t)size : 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        *st = train_fail(err, err_len, buf ? MIMIC_EIO : MIMIC_ENOMEM, "%s: cannot read", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return buf;
}

// Bounds-checked reader over the checkpoint bytes.
typedef struct {
    const unsigned char *p;
    size_t len, at;
} cursor;

static const unsigned char *take(cursor *c, size_t n)
{
    if (n > c->len - c->at)
        return NULL;
    const unsigned char *p = c->p + c->at;
    c->at += n;
    return p;
}

mimic_status mimic_net_load(mimic_net *net, const char *path, void *extra, size_t extra_len,
                            char *err, size_t err_len)
{
    if (!net || !path || (extra_len && !extra))
        return MIMIC_EINVAL;
    mimic_status st = MIMIC_OK;
    size_t len;
    unsigned char *buf = slurp(path, &len, &st, err, err_len);
    if (!buf)
        return st;
    mimic_param *ps[MIMIC_NET_MAX_PARAMS];
    const int np = mimic_net_params(net, ps);
    const unsigned char *w[MIMIC_NET_MAX_PARAMS], *v[MIMIC_NET_MAX_PARAMS], *q = NULL;
    cursor c = {buf, len >= 4 ? len - 4 : 0, 0};
    int64_t count = -1, n, extra64;
    uint32_t stored = 0;
    if (len < 8 + 8 + 8 + 4 || memcmp(buf, CKPT_MAGIC, 8) != 0)
        st = train_fail(err, err_len, MIMIC_EFORMAT, "%s: not a mimic checkpoint (magic at byte 0)",
                  path);
    if (st == MIMIC_OK) {
        memcpy(&stored, buf + len - 4, 4);
        if (stored != (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf + 8, (uInt)(len - 12)))
            st = train_fail(err, err_len, MIMIC_EFORMAT, "%s: CRC mismatch (stored at byte %zu): "
                      "corrupt or truncated file", path, len - 4);
    }
    c.at = 8;
    if (st == MIMIC_OK && (!(q = take(&c, 8)) || (memcpy(&count, q, 8), count != np)))
        st = train_fail(err, err_len, MIMIC_EFORMAT,
                  "%s: holds %lld parameter tensors at byte 8, this network has %d", path,
                  (long long)count, np);
    for (int i = 0; st == MIMIC_OK && i < np; i++) {
        const size_t at = c.at;
        const size_t bytes = (size_t)ps[i]->n * sizeof(float);
        if (!(q = take(&c, 8)) || (memcpy(&n, q, 8), n != ps[i]->n) ||
            !(w[i] = take(&c, bytes)) || !(v[i] = take(&c, bytes)))
            st = train_fail(err, err_len, MIMIC_EFORMAT,
                      "%s: tensor %d at byte %zu does not match this network (%lld values)",
                      path, i, at, (long long)ps[i]->n);
    }
    const size_t extra_at = c.at;
    if (st == MIMIC_OK && (!(q = take(&c, 8)) || (memcpy(&extra64, q, 8),
                                                  extra64 != (int64_t)extra_len) ||
                           !(q = take(&c, extra_len)) || c.at != c.len))
        st = train_fail(err, err_len, MIMIC_EFORMAT,
                  "%s: training state at byte %zu is missing or of the wrong size", path,
                  extra_at);
    // Only a checkpoint that checked out entirely changes the network.
    if (st == MIMIC_OK) {
        for (int i = 0; i < np; i++) {
            memcpy(ps[i]->w, w[i], (size_t)ps[i]->n * sizeof(float));
            memcpy(ps[i]->v, v[i], (size_t)ps[i]->n * sizeof(float));
        }
        if (extra_len)
            memcpy(extra, q, extra_len);
    }
    free(buf);
    return st;
}
