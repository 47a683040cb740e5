// Small helpers shared by the trainer's files.
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
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

mimic_status train_write_atomic(const char *path, const void *data, size_t len, char *err,
                                size_t err_len)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return train_fail(err, err_len, MIMIC_EINVAL, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return train_fail(err, err_len, MIMIC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    int ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    const int e = errno;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        const int e2 = ok ? errno : e;
        (void)remove(tmp);
        return train_fail(err, err_len, MIMIC_EIO, "%s: cannot write: %s", path, strerror(e2));
    }
    return MIMIC_OK;
}
