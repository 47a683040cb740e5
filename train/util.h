// Small helpers shared by the trainer's files: error messages, clocks, directories and
// whole-file atomic writes.
#ifndef MIMIC_TRAIN_UTIL_H
#define MIMIC_TRAIN_UTIL_H

#include <stddef.h>

#include <mimic/status.h>

// Formats the message into err (if given) and returns st, so callers write
// `return train_fail(err, err_len, MIMIC_EIO, "%s: ...", path);`.
mimic_status train_fail(char *err, size_t err_len, mimic_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// Seconds on a monotonic clock.
double train_now(void);

// mkdir -p: every missing directory of `path`; MIMIC_EIO naming the one that failed.
mimic_status train_mkdirs(const char *path, char *err, size_t err_len);

// Writes `len` bytes to path.tmp, fsyncs, renames over path: a reader sees the old file or
// the whole new one, never a part.
mimic_status train_write_atomic(const char *path, const void *data, size_t len, char *err,
                                size_t err_len);

#endif
