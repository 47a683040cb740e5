// Re-execute this process once with an environment variable set, for libraries that read it
// only when they are loaded (libgomp's spin count, OpenBLAS's thread timeout). Used by the
// `mimic` CLI and `mimic_bench`.
#ifndef MIMIC_TOOLS_REEXEC_H
#define MIMIC_TOOLS_REEXEC_H

// setenv and execv are POSIX: the includer defines _POSIX_C_SOURCE (or _GNU_SOURCE) first.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

// Unless `name` (or `unless`, when not NULL) is set already, set name=value and execv
// /proc/self/exe with argv. Returns when nothing was to be done, or when the exec failed
// (the process then runs on without the setting, after a message naming `who`).
static inline void mimic_reexec_with_env(const char *name, const char *value, const char *unless,
                                         char **argv, const char *who)
{
    if (getenv(name) || (unless && getenv(unless)))
        return;
    setenv(name, value, 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "%s: re-exec with %s=%s: ", who, name, value);
    perror(NULL);
}

#endif
