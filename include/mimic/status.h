/// @file status.h
/// Status codes returned by every public mimic function.
#ifndef MIMIC_STATUS_H
#define MIMIC_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Result of a public call. On any error other than MIMIC_OK the outputs are untouched.
typedef enum {
    MIMIC_OK = 0,          ///< success
    MIMIC_EINVAL = 1,      ///< an argument is invalid (NULL, negative size, ld too small, ...)
    MIMIC_ENOMEM = 2,      ///< a workspace allocation failed
    MIMIC_EUNSUPPORTED = 3,///< the CPU (or this build) cannot run the requested ISA
    MIMIC_EIO = 4,         ///< reading or writing a file failed
    MIMIC_EFORMAT = 5,     ///< a data file is corrupt or not in the expected format
} mimic_status;

/// A short, static, human-readable name for a status ("ok", "invalid argument", ...).
const char *mimic_status_str(mimic_status s);

#ifdef __cplusplus
}
#endif
#endif
