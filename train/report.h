// The HTML report of a distill run: one self-contained page (no network, inline SVG charts)
// with the results table, the training curves, the accuracy comparison and the kernel times.
#ifndef MIMIC_TRAIN_REPORT_H
#define MIMIC_TRAIN_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <mimic/status.h>

// One trained model. Any number may be NaN or infinite (a diverged model): the page shows
// "n/a" and the charts skip the point; finite values must be in range (accuracies in 0..1,
// counts and times >= 0).
typedef struct {
    const char *name;          // e.g. "teacher (4 conv + 2 dense)", "784 k=128 H=5541, KD"
    const char *loss;          // "labels (CE)", "logits (L2)", "KD"
    int form;                  // 0 teacher, 1 the 784-input (TIMIT-form) student, 2 the conv (CIFAR-form) student
    int64_t params;
    double test_accuracy;      // 0..1
    double train_seconds, train_images_per_s, infer_images_per_s;
    int epochs;                // entries in the two arrays below
    const double *epoch_loss;  // training loss per epoch
    const double *epoch_acc;   // test accuracy after each epoch, 0..1
} mimic_report_model;

typedef struct {
    const char *name;          // "GEMM", "im2col/col2im", "softmax/loss", "other"
    double seconds;            // time spent in it over the whole run
    double gflops;             // GFLOP/s it reached (0 where not meaningful)
} mimic_report_kernel;

typedef struct {
    const char *title;         // "mimic distill, seed 1"
    const char *subtitle;      // CPU, ISA, threads, commit, settings (plain text; NULL: none)
    const mimic_report_model *models; int n_models;
    const mimic_report_kernel *kernels; int n_kernels;
    double total_seconds;
} mimic_report;

// Write a self-contained HTML page (no network, inline SVG charts): the results table (model,
// params, test accuracy, train s, train img/s, infer img/s), test-accuracy-per-epoch curves
// and training-loss curves (one polyline per model, legend, axes with ticks), the
// accuracy-vs-parameters comparison (teacher vs students, grouped by form and loss), and the
// kernel time breakdown (bar per kernel with share of time and GFLOP/s). Written to a temp
// file, fsync'ed, renamed: never a half-written file. Validates every argument
// (MIMIC_EINVAL; err names the problem), MIMIC_EIO naming the path if it cannot write.
mimic_status mimic_report_write_html(const char *path, const mimic_report *r, char *err, size_t err_len);

#endif
