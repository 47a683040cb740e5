// Shared argument checks and row-parallel policy of the softmax family.
#ifndef MIMIC_SOFTMAX_INTERNAL_H
#define MIMIC_SOFTMAX_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/kernels.h"

// rows x cols is a valid, addressable shape.
static inline int mimic_rows_ok(int64_t rows, int64_t cols)
{
    return rows >= 0 && cols >= 0 &&
           (rows == 0 || cols <= (int64_t)(PTRDIFF_MAX / sizeof(float)) / rows);
}

// A temperature is valid when it is positive and finite.
static inline int mimic_temperature_ok(float T)
{
    return T > 0.0f && isfinite(T);
}

// Rows go to threads only when there is enough work to pay for the parallel region.
static inline int mimic_rows_parallel(int64_t rows, int64_t cols)
{
    return rows > 1 && (double)rows * (double)cols >= 32768.0;
}

#endif
