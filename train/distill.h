// The experiment of Ba & Caruana (2014) on Fashion-MNIST: a deep CNN teacher, then shallow
// students trained on labels, on the teacher's logits (L2) and with Hinton's KD.
#ifndef MIMIC_TRAIN_DISTILL_H
#define MIMIC_TRAIN_DISTILL_H

#include <stdint.h>

#include <mimic/status.h>

typedef struct {
    const char *data_dir;   // IDX files (default: Debian's dataset-fashion-mnist)
    const char *out_dir;    // JSON results and checkpoints go here
    int teacher_epochs;     // epochs of the teacher
    int student_epochs;     // epochs of the students trained on the teacher (L2, KD)
    int label_epochs;       // epochs of the 784 form's students trained on labels (0:
                            // student_epochs)
    int conv_label_epochs;  // the same for the conv form's (0: student_epochs)
    int64_t batch;          // mini-batch size
    int64_t train_limit;    // use only the first N training images (0: all); --quick
    int64_t test_limit;     // evaluate on the first N test images (0: all)
    float lr, momentum, weight_decay;
    float label_weight_decay; // weight decay of the 784 form's label students
    float conv_label_weight_decay; // that of the conv form's label students
    float mimic_weight_decay; // that of every L2 and KD student
    float label_lr;         // learning rate of the students trained on labels
    float l2_lr;            // learning rate of the logit-regression students
    float kd_lr;            // learning rate of the KD students
    float student_lr_ref;   // students' dense layers with more inputs step at ref/inputs of
                            // the rate (mimic_net_scale_lr_by_fan_in); 0: no scaling
    float clip;             // clip each step's gradient to this global L2 norm (0: never)
    float temperature;      // KD temperature
    float kd_label_weight;  // weight of the label cross-entropy mixed into KD, 0..100
    float l2_label_weight;  // the same for the logit-regression (L2) students (default 0)
    int64_t hidden;         // student H (ReLU units); 0: match the teacher's parameter count
    int64_t bottleneck;     // k linear units of the 784-input student (0: no bottleneck)
    int64_t conv_bottleneck; // k of the conv-form student (its input: C x 28/pool x 28/pool)
    int64_t conv_channels;  // the CIFAR-form student's single conv layer
    int conv_pool;          // its max-pooling window: 2 (2x2) or 4 (4x4, as two 2x2)
    int augment;            // shifts and flips (0: none, for the teacher and the students)
    int label_augment;      // the label-trained students see the augmented images too
    int student_shift;      // largest shift of the students' images (the teacher's: 2)
    int student_flip;       // the students' images are mirrored at random (as the teacher's)
    float mixup;            // share of each transfer batch replaced by blends of two images
                            // (the mimic students only; the teacher labels the blends)
    float teacher_dropout;  // dropout after the teacher's 256-unit ReLU (0: none)
    float label_dropout;    // dropout after the hidden ReLU of the label students (0: none)
    float mimic_dropout;    // the same for the L2 and KD students
    int cache_logits;       // label a finite transfer set (no shifts, no blends: each image
                            // as is or mirrored) once before the first epoch (0: the teacher
                            // runs every step); the same bits either way
    int forms;              // student forms trained: 1 the 784 form, 2 the conv form, 3 both
    uint64_t seed;
    int threads;            // 0: one per physical core
    int progress;           // progress lines on stderr
    int resume;             // continue from <out_dir>/checkpoints if a run left them there
    int stop_after;         // stop (as if killed) after this many epochs of this process,
                            // teacher and students together (0: run to the end)
} mimic_distill_options;

// The defaults of `mimic distill` (and, with quick != 0, of `mimic distill --quick`).
// Dropout rates are in [0, MIMIC_DISTILL_MAX_DROPOUT].
#define MIMIC_DISTILL_MAX_DROPOUT 0.95f
// The largest KD label weight accepted (beyond it the KD student is a label student).
#define MIMIC_DISTILL_MAX_KD_LABEL_WEIGHT 100.0f
// The largest weight decay accepted.
#define MIMIC_DISTILL_MAX_WEIGHT_DECAY 0.1f

void mimic_distill_defaults(mimic_distill_options *o, int quick);

// Run the whole experiment; prints the table on stdout and writes
// <out_dir>/distill-seed<seed>.json, checkpointing every epoch under <out_dir>/checkpoints
// (o->resume continues from there). A run stopped by stop_after returns MIMIC_OK after its
// checkpoint, without the table. err gets a message on failure.
mimic_status mimic_distill_run(const mimic_distill_options *o, char *err, size_t err_len);

#endif
