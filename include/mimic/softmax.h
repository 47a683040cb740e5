/// @file softmax.h
/// Softmax with temperature and the distillation losses built on it.
#ifndef MIMIC_SOFTMAX_H
#define MIMIC_SOFTMAX_H

#include <stdint.h>
#include <mimic/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/// y[i][j] = exp(x[i][j]/T - m_i) / sum_j exp(x[i][j]/T - m_i), m_i = max_j x[i][j]/T.
/// Rows are contiguous (row stride = cols). T must be > 0 and finite. y may alias x.
/// A row containing NaN or +inf, or one whose entries are all -inf, becomes all NaN; other
/// rows are unaffected. -inf entries (masks) give 0. rows == 0 or cols == 0 is a no-op.
mimic_status mimic_softmax(const float *x, float *y, int64_t rows, int64_t cols, float T);

/// y[i][j] = x[i][j]/T - m_i - log(sum_j exp(x[i][j]/T - m_i)); same rules as mimic_softmax
/// (-inf entries give -inf).
mimic_status mimic_log_softmax(const float *x, float *y, int64_t rows, int64_t cols, float T);

/// The losses below: @p loss is required; rows == 0 (or cols == 0 for L2 and KD) sets
/// *loss = 0 (the empty mean) and writes no gradient. Invalid arguments leave *loss and grad
/// untouched.
///
/// Cross-entropy on integer labels:
///   *loss = (1/rows) * sum_i -log softmax(logits_i)[labels_i]
///   grad  = (softmax(logits) - onehot(labels)) / rows   (skipped when grad is NULL)
/// Every label must be in [0, cols). grad may alias logits.
mimic_status mimic_ce_loss(const float *logits, const int32_t *labels, int64_t rows,
                           int64_t cols, float *loss, float *grad);

/// Ba & Caruana's logit regression:
///   *loss = 1/(2*rows) * sum_{i,j} (student - teacher)^2
///   grad  = (student - teacher) / rows                  (skipped when grad is NULL)
mimic_status mimic_logit_l2_loss(const float *student, const float *teacher, int64_t rows,
                                 int64_t cols, float *loss, float *grad);

/// Hinton's knowledge distillation at temperature T, with p = softmax(teacher/T) and
/// q = softmax(student/T):
///   *loss = T^2/rows * sum_i KL(p_i || q_i) = T^2/rows * sum_{i,j} p_ij (log p_ij - log q_ij)
///   grad  = T * (q - p) / rows                          (skipped when grad is NULL)
/// The T^2 factor keeps gradient magnitudes independent of T. Terms with p_ij = 0 add 0.
mimic_status mimic_kd_loss(const float *student, const float *teacher, int64_t rows,
                           int64_t cols, float T, float *loss, float *grad);

#ifdef __cplusplus
}
#endif
#endif
