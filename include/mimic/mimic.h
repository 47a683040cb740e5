/// @file mimic.h
/// The whole public API of mimic: hand-written SIMD kernels chosen at run time.
#ifndef MIMIC_MIMIC_H
#define MIMIC_MIMIC_H

#include <mimic/status.h>
#include <mimic/isa.h>
#include <mimic/info.h>
#include <mimic/gemm.h>
#include <mimic/conv.h>
#include <mimic/softmax.h>
#include <mimic/profile.h>

#endif
