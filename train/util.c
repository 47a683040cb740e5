// Small helpers shared by the trainer's files.
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "train/util.h"

mimic_status train_fail(char *err, size_t err_len, mimic_status st, const char *fmt, ...)
{
    if (err && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return st;
}

double train_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

mimic_status train_mkdirs(const char *path, char *err, size_t err_len)
{
    char buf[4096];
    if (!path || !*path || strlen(path) >= sizeof buf)
        return train_fail(err, err_len, MIMIC_EINVAL, "directory path empty or too long");
    strcpy(buf, path);
    for (char *p = buf + 1;; p++) {
        const char c = *p;
        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return train_fail(err, err_len, MIMIC_EIO, "%s: cannot create directory: %s", buf,
                              strerror(errno));
        struct stat sb;
        if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return train_fail(err, err_len, MIMIC_EIO, "%s: not a directory", buf);
        *p = c;
        if (c == '\0')
            return MIMIC_OK;
    }
}

mimic_status train_write_atomic_with(const char *path, train_fill_fn fill, const void *ctx,
                                     char *err, size_t err_len)
{
    const size_t n = strlen(path) + sizeof ".tmp";
    char *tmp = malloc(n);
    if (!tmp)
        return train_fail(err, err_len, MIMIC_ENOMEM, "%s: out of memory", path);
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        const mimic_status st = train_fail(err, err_len, MIMIC_EIO, "%s: cannot create: %s", tmp,
                                           strerror(errno));
        free(tmp);
        return st;
    }
    errno = 0;
    int ok = fill(f, ctx) && !ferror(f) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok)
        (void)remove(tmp);
    free(tmp);
    return ok ? MIMIC_OK
              : train_fail(err, err_len, MIMIC_EIO, "%s: cannot write: %s", path,
                           e ? strerror(e) : "short write");
}

typedef struct {
    const void *data;
    size_t len;
} bytes;

static int fill_bytes(FILE *f, const void *ctx)
{
    const bytes *b = ctx;
    return fwrite(b->data, 1, b->len, f) == b->len;
}

mimic_status train_write_atomic(const char *path, const void *data, size_t len, char *err,
                                size_t err_len)
{
    const bytes b = {data, len};
    return train_write_atomic_with(path, fill_bytes, &b, err, err_len);
}
