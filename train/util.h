// Small helpers shared by the trainer's files: error messages, clocks, directories and
// whole-file atomic writes.
#ifndef MIMIC_TRAIN_UTIL_H
#define MIMIC_TRAIN_UTIL_H

#include <stddef.h>
#include <stdio.h>

#include <mimic/status.h>

// Formats the message into err (if given) and returns st, so callers write
// `return train_fail(err, err_len, MIMIC_EIO, "%s: ...", path);`.
mimic_status train_fail(char *err, size_t err_len, mimic_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// Seconds on a monotonic clock.
double train_now(void);

// mkdir -p: every missing directory of `path`; MIMIC_EIO naming the one that failed.
mimic_status train_mkdirs(const char *path, char *err, size_t err_len);

// Writes path.tmp through fill(f, ctx) (which returns 0 if it could not write it all),
// fsyncs, renames over path: a reader sees the old file or the whole new one, never a part,
// and a failure leaves no temp file. MIMIC_EIO naming the file on failure.
typedef int (*train_fill_fn)(FILE *f, const void *ctx);
mimic_status train_write_atomic_with(const char *path, train_fill_fn fill, const void *ctx,
                                     char *err, size_t err_len);

// train_write_atomic_with for `len` bytes already in memory.
mimic_status train_write_atomic(const char *path, const void *data, size_t len, char *err,
                                size_t err_len);

#endif
