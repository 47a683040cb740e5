// `mimic distill`: train the teacher, then six shallow students in lockstep over one
// augmented transfer-set stream, and report accuracy, parameters, time and throughput.
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mimic/mimic.h>

#include "train/data.h"
#include "train/distill.h"
#include "train/net.h"
#include "train/report.h"
#include "train/util.h"

#include "mimic_git_commit.h"

#define CLASSES 10
#define MAX_EPOCHS 256
#define N_MODELS 7 // the teacher, then two student forms x three trainings
#define MAX_SHIFT 2 // the teacher's shifts (and the most --student-shift allows), in pixels

void mimic_distill_defaults(mimic_distill_options *o, int quick)
{
    *o = (mimic_distill_options){
        .data_dir = MIMIC_FMNIST_DIR,
        .out_dir = "results",
        // Chosen to fit the whole run in 25 minutes on 2 cores (docs/distill.md); 15 teacher
        // epochs (94.15 %) instead of 11 (93.70 %) lifted the conv-form KD student by 0.22.
        .teacher_epochs = 15,
        // The mimic students gain from epochs up to about 30 (784 form, KD: 91.29 % after 20,
        // 91.59 after 30, 91.58 after 40); the 784 form's label students peak at 20 (90.66 %,
        // 90.40 after 30: without weight decay they overfit), the conv form's gain to 30
        // (92.53 -> 92.64 %). Each trains as long as still helps it: KD - labels +0.93 on
        // both forms, against +0.63 / +0.92 with everyone at 20 (docs/distill.md).
        .student_epochs = 30,
        .label_epochs = 20,
        .conv_label_epochs = 0,
        .batch = 128,
        .lr = 0.05f,
        .momentum = 0.9f,
        .weight_decay = 5e-4f,
        // The students' weight decay, each group at its measured best over 20 epochs
        // (docs/distill.md, session 10): the 784 form's label students and every mimic student
        // gain from less than the teacher's (784 labels 90.30 % at 5e-4, 90.59 at 1e-4, 90.66
        // at 0; KD 91.07 -> 91.29 and L2 89.90 -> 90.56 at 1e-4, less at 2e-4 and 0), the
        // conv form's label students lose (92.53 -> 92.24 at 1e-4).
        .label_weight_decay = 0.0f,
        .conv_label_weight_decay = 5e-4f,
        .mimic_weight_decay = 1e-4f,
        // The students' rates and the fan-in scaling of their wide layers: the ablation in
        // docs/distill.md.
        .label_lr = 0.1f,
        .l2_lr = 0.2f,
        .kd_lr = 0.1f,
        .student_lr_ref = 256.0f,
        .clip = 5.0f,
        .temperature = 4.0f,
        // KD = T^2 KL + 2 x the labels' cross-entropy: 2 beat 0, 0.1, 0.5, 1 and equalled 4 on
        // the 784 form, beat 0.1 and 0.5 on the conv form (docs/distill.md, R9/C10).
        .kd_label_weight = 2.0f,
        .hidden = 0,     // 0: matched to the teacher's parameter count
        .bottleneck = 128,
        // 4x4 pooling leaves 64 x 7 x 7 inputs, so a 128-unit bottleneck fits the parameter
        // budget (12544 inputs after 2x2 pooling allowed k = 32): better for every training
        // of the conv form (docs/distill.md).
        .conv_bottleneck = 128,
        .conv_channels = 64,
        .conv_pool = 4,
        // The teacher trains on shifts and flips; the students on images as the test set
        // has them (flips only for the mimic students, nothing for the label students):
        // their measured best (docs/distill.md).
        .augment = 1,
        .label_augment = 0,
        .student_shift = 0,
        .student_flip = 1,
        .mixup = 0.0f,
        .cache_logits = 1,
        .forms = 3,
        .seed = 1,
        .progress = 1,
    };
    if (quick) {
        o->teacher_epochs = 2;
        o->student_epochs = 2;
        o->label_epochs = 0;
        o->conv_label_epochs = 0;
        o->train_limit = 4096;
        o->test_limit = 2000;
    }
}

// --- Models -------------------------------------------------------------------------------

// conv3x3(32)-ReLU-conv3x3(32)-ReLU-pool-conv3x3(64)-ReLU-conv3x3(64)-ReLU-pool-
// dense 3136->256-ReLU-dense 256->10.
static mimic_status build_teacher(mimic_net *n, int64_t batch, float dropout, mimic_rng *r)
{
    mimic_status st = mimic_net_init(n, 1, 28, 28, batch);
    const int64_t widths[4] = {32, 32, 64, 64};
    for (int i = 0; st == MIMIC_OK && i < 4; i++) {
        st = mimic_net_add_conv(n, widths[i], 3, 1, 1);
        if (st == MIMIC_OK)
            st = mimic_net_add_relu(n);
        if (st == MIMIC_OK && i % 2 == 1)
            st = mimic_net_add_pool(n);
    }
    if (st == MIMIC_OK)
        st = mimic_net_add_dense(n, 256, 1);
    if (st == MIMIC_OK)
        st = mimic_net_add_relu(n);
    if (st == MIMIC_OK && dropout > 0.0f)
        st = mimic_net_add_dropout(n, dropout);
    if (st == MIMIC_OK)
        st = mimic_net_add_dense(n, CLASSES, 1);
    return st == MIMIC_OK ? mimic_net_finalize(n, r) : st;
}

// The shallow head of both student forms: [k linear] -> H ReLU [-> dropout] -> 10.
static mimic_status add_shallow_head(mimic_net *n, int64_t k, int64_t hidden, float dropout)
{
    mimic_status st = k > 0 ? mimic_net_add_dense(n, k, 0) : MIMIC_OK;
    if (st == MIMIC_OK)
        st = mimic_net_add_dense(n, hidden, 1);
    if (st == MIMIC_OK)
        st = mimic_net_add_relu(n);
    if (st == MIMIC_OK && dropout > 0.0f)
        st = mimic_net_add_dropout(n, dropout);
    return st == MIMIC_OK ? mimic_net_add_dense(n, CLASSES, 1) : st;
}

// The TIMIT form (784 -> k -> H -> 10) or the CIFAR form (conv5x5(C)-ReLU-pool -> k -> H -> 10).
static mimic_status build_student(mimic_net *n, int conv_form, const mimic_distill_options *o,
                                  int64_t hidden, float dropout, mimic_rng *r)
{
    mimic_status st = mimic_net_init(n, 1, 28, 28, o->batch);
    if (st == MIMIC_OK && conv_form) {
        st = mimic_net_add_conv(n, o->conv_channels, 5, 1, 2);
        if (st == MIMIC_OK)
            st = mimic_net_add_relu(n);
        // 2x2 max-pooling, twice for --conv-pool 4 (the same as one 4x4 max-pool).
        for (int p = 2; st == MIMIC_OK && p <= o->conv_pool; p *= 2)
            st = mimic_net_add_pool(n);
    }
    if (st == MIMIC_OK)
        st = add_shallow_head(n, conv_form ? o->conv_bottleneck : o->bottleneck, hidden,
                              dropout);
    return st == MIMIC_OK ? mimic_net_finalize(n, r) : st;
}

// H that gives a student of this form about `target` parameters:
// params = front + in*k + (k + 1) * H + 10 * H + 10, solved for H.
static int64_t matched_hidden(int conv_form, const mimic_distill_options *o, int64_t target)
{
    const int64_t c = o->conv_channels, k = conv_form ? o->conv_bottleneck : o->bottleneck;
    const int64_t front = conv_form ? c * 25 + c : 0;
    const int64_t side = 28 / o->conv_pool, in = conv_form ? c * side * side : 28 * 28;
    const int64_t fixed = front + (k > 0 ? in * k : 0) + 10;
    const int64_t per_h = (k > 0 ? k : in) + 1 + 10;
    const int64_t h = (target - fixed) / per_h;
    return h < 16 ? 16 : h;
}

// --- Training -----------------------------------------------------------------------------

typedef enum { LOSS_LABELS, LOSS_L2, LOSS_KD } loss_kind;

static const char *const loss_names[3] = {"labels (CE)", "logits (L2)", "KD"};

typedef struct {
    char name[64];
    mimic_net net;
    loss_kind loss;
    int form;                 // -1 the teacher, 0 the 784 form, 1 the conv form
    float base_lr;
    float weight_decay;
    int epochs;               // this model's epochs (label students may stop earlier)
    float *grad;              // d loss / d logits, batch x 10
    double seconds;           // training time of this model alone
    double loss_sum;          // this epoch
    double epoch_acc[MAX_EPOCHS], epoch_loss[MAX_EPOCHS];
    double accuracy, infer_ips;
} model;

static void progress(const mimic_distill_options *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    va_list ap;
    va_start(ap, fmt);
    (void)vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

// Accuracy on (the first `limit` of) the test set and the inference rate.
static double evaluate(mimic_net *net, const mimic_dataset *test, int64_t limit, double *ips)
{
    const int64_t n = limit > 0 && limit < test->n ? limit : test->n;
    const int64_t B = net->batch_cap, hw = test->h * test->w;
    int64_t correct = 0;
    const double t0 = train_now();
    for (int64_t first = 0; first < n; first += B) {
        const int64_t b = n - first < B ? n - first : B;
        const float *out;
        if (mimic_net_forward(net, b, test->x + first * hw, &out) != MIMIC_OK)
            return -1.0;
        for (int64_t i = 0; i < b; i++) {
            int best = 0;
            for (int c = 1; c < CLASSES; c++)
                best = out[i * CLASSES + c] > out[i * CLASSES + best] ? c : best;
            correct += best == test->y[first + i];
        }
    }
    *ips = (double)n / (train_now() - t0);
    return (double)correct / (double)n;
}

// One step of one model on a batch: forward, its loss, backward, SGD.
// `key` seeds the step's dropout draws.
static mimic_status train_step(model *m, const mimic_distill_options *o, int64_t b,
                               int64_t clean, const float *x, const int32_t *y,
                               const float *teacher_logits, float lr, uint64_t key,
                               float *scratch)
{
    const double t0 = train_now();
    const float *out;
    mimic_net_set_training(&m->net, 1, key);
    mimic_status st = mimic_net_forward(&m->net, b, x, &out);
    mimic_net_set_training(&m->net, 0, 0); // evaluation and the teacher's logits: no drops
    float loss = 0.0f;
    if (st == MIMIC_OK && m->loss == LOSS_LABELS)
        st = mimic_ce_loss(out, y, b, CLASSES, &loss, m->grad);
    else if (st == MIMIC_OK && m->loss == LOSS_L2)
        st = mimic_logit_l2_loss(out, teacher_logits, b, CLASSES, &loss, m->grad);
    else if (st == MIMIC_OK)
        // Hinton: T^2 KL at temperature T (plus the labels' term below).
        st = mimic_kd_loss(out, teacher_logits, b, CLASSES, o->temperature, &loss, m->grad);
    const float label_weight = m->loss == LOSS_KD   ? o->kd_label_weight
                               : m->loss == LOSS_L2 ? o->l2_label_weight
                                                    : 0.0f;
    if (st == MIMIC_OK && label_weight > 0.0f) {
        // A weight on the labels' cross-entropy over the first `clean` rows (the rest are
        // blends of two images, without a label), weighted as a mean over the whole batch.
        float ce = 0.0f;
        const float w = label_weight * (float)clean / (float)b;
        if (clean > 0)
            st = mimic_ce_loss(out, y, clean, CLASSES, &ce, scratch);
        for (int64_t i = 0; st == MIMIC_OK && i < clean * CLASSES; i++)
            m->grad[i] += w * scratch[i];
        loss += w * ce;
    }
    if (st == MIMIC_OK)
        st = mimic_net_backward(&m->net, b, m->grad);
    if (st == MIMIC_OK) {
        const float clip = o->clip > 0.0f ? mimic_net_clip_scale(&m->net, o->clip, NULL) : 1.0f;
        const mimic_sgd opt = {lr, o->momentum, m->weight_decay};
        mimic_net_step(&m->net, &opt, clip);
    }
    m->loss_sum += loss;
    m->seconds += train_now() - t0;
    return st;
}

// --- Checkpoints --------------------------------------------------------------------------
//
// After every epoch each model of a phase is saved (weights, momentum and this state) to
// <out>/checkpoints/seed<S>-<phase>-m<i>-e<E>.ckpt; once all are on disk the file
// seed<S>-<phase>.epoch is replaced by one saying "E", and the epoch E-1 files go. A kill at
// any point leaves a complete set named by the .epoch file, and --resume continues from it
// to the same final bits: the state holds the data stream's RNG, and the learning rate is a
// function of the step.

typedef struct {
    uint64_t settings;   // hash of every option that shapes the phase's bits
    int64_t epochs_done;
    mimic_rng rng;       // the phase's data stream after epochs_done epochs
    double seconds, phase_seconds;
    double epoch_acc[MAX_EPOCHS], epoch_loss[MAX_EPOCHS];
    mimic_profile prof;  // the phase's kernel time so far
} ckpt_state;

// FNV-1a of a string.
static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

// Epochs of the label students of a form (0: the 784 form, 1: the conv form).
static int label_epochs_of(const mimic_distill_options *o, int form)
{
    const int e = form ? o->conv_label_epochs : o->label_epochs;
    return e > 0 ? e : o->student_epochs;
}

// The settings each phase's result depends on (not the thread count: results are the same
// bits for any).
static uint64_t teacher_settings(const mimic_distill_options *o)
{
    char b[512];
    snprintf(b, sizeof b, "teacher v1 %llu %lld %d %lld %lld %a %a %a %a %d",
             (unsigned long long)o->seed, (long long)o->batch, o->teacher_epochs,
             (long long)o->train_limit, (long long)o->test_limit, (double)o->lr,
             (double)o->momentum, (double)o->weight_decay, (double)o->clip, o->augment);
    // Appended only when used: checkpoints of runs without dropout keep their hash.
    if (o->teacher_dropout > 0.0f)
        snprintf(b + strlen(b), sizeof b - strlen(b), " dropout %a", (double)o->teacher_dropout);
    return hash_str(b);
}

static uint64_t student_settings(const mimic_distill_options *o)
{
    char b[512];
    snprintf(b, sizeof b,
             "students v2 %llu %d %d %d %d %a %d %a %a %a %a %a %a %lld %lld %lld %lld %d",
             (unsigned long long)teacher_settings(o), o->student_epochs, o->label_epochs,
             o->label_augment, o->student_shift * 2 + o->student_flip, (double)o->mixup, o->forms,
             (double)o->label_lr, (double)o->l2_lr, (double)o->kd_lr, (double)o->student_lr_ref,
             (double)o->temperature, (double)o->kd_label_weight,
             (long long)o->hidden, (long long)o->bottleneck, (long long)o->conv_bottleneck,
             (long long)o->conv_channels, o->conv_pool);
    if (o->l2_label_weight > 0.0f)
        snprintf(b + strlen(b), sizeof b - strlen(b), " l2w %a", (double)o->l2_label_weight);
    if (o->conv_label_epochs > 0)
        snprintf(b + strlen(b), sizeof b - strlen(b), " cle %d", o->conv_label_epochs);
    if (o->label_weight_decay != o->weight_decay || o->mimic_weight_decay != o->weight_decay ||
        o->conv_label_weight_decay != o->weight_decay)
        snprintf(b + strlen(b), sizeof b - strlen(b), " wd %a %a %a", (double)o->label_weight_decay,
                 (double)o->conv_label_weight_decay, (double)o->mimic_weight_decay);
    if (o->label_dropout > 0.0f || o->mimic_dropout > 0.0f)
        snprintf(b + strlen(b), sizeof b - strlen(b), " dropout %a %a", (double)o->label_dropout,
                 (double)o->mimic_dropout);
    return hash_str(b);
}

// A phase's wall time and where it went, over all its epochs (resumed ones too).
typedef struct {
    double seconds;
    mimic_profile prof;
} phase_time;

// a + b, family by family.
static phase_time phase_time_sum(const phase_time *a, const phase_time *b)
{
    phase_time s = {a->seconds + b->seconds, {{0}, {0}, {0}}};
    for (int k = 0; k < MIMIC_PROF_KINDS; k++) {
        s.prof.seconds[k] = a->prof.seconds[k] + b->prof.seconds[k];
        s.prof.flops[k] = a->prof.flops[k] + b->prof.flops[k];
        s.prof.calls[k] = a->prof.calls[k] + b->prof.calls[k];
    }
    return s;
}

typedef struct {
    const char *name;   // "teacher" or "students"
    model *models;
    int count;
    mimic_net *teacher; // the students' phase: targets of the L2 and KD models
    uint64_t stream_seed, settings;
    int epochs;         // the longest model's
} phase;

static void ckpt_path(char *buf, size_t len, const mimic_distill_options *o, const phase *ph,
                      int i, int64_t epoch)
{
    if (i < 0)
        snprintf(buf, len, "%s/checkpoints/seed%llu-%s.epoch", o->out_dir,
                 (unsigned long long)o->seed, ph->name);
    else
        snprintf(buf, len, "%s/checkpoints/seed%llu-%s-m%d-e%lld.ckpt", o->out_dir,
                 (unsigned long long)o->seed, ph->name, i, (long long)epoch);
}

static mimic_status save_phase(const mimic_distill_options *o, const phase *ph, int64_t done,
                               const mimic_rng *rng, const phase_time *pt, char *err,
                               size_t err_len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoints", o->out_dir);
    mimic_status st = train_mkdirs(path, err, err_len);
    for (int i = 0; i < ph->count && st == MIMIC_OK; i++) {
        const model *m = &ph->models[i];
        ckpt_state s = {ph->settings, done, *rng, m->seconds, pt->seconds, {0}, {0}, pt->prof};
        memcpy(s.epoch_acc, m->epoch_acc, sizeof s.epoch_acc);
        memcpy(s.epoch_loss, m->epoch_loss, sizeof s.epoch_loss);
        ckpt_path(path, sizeof path, o, ph, i, done);
        st = mimic_net_save(&m->net, path, &s, sizeof s, err, err_len);
    }
    if (st != MIMIC_OK)
        return st;
    char text[32];
    const int len = snprintf(text, sizeof text, "%lld\n", (long long)done);
    ckpt_path(path, sizeof path, o, ph, -1, 0);
    st = train_write_atomic(path, text, (size_t)len, err, err_len);
    for (int i = 0; i < ph->count && st == MIMIC_OK && done > 1; i++) {
        ckpt_path(path, sizeof path, o, ph, i, done - 1);
        (void)remove(path);
    }
    return st;
}

// Epochs done by the phase's last complete checkpoint (0: none, start afresh), loading the
// models, the stream RNG and the elapsed phase time from it.
static mimic_status load_phase(const mimic_distill_options *o, const phase *ph, int64_t *done,
                               mimic_rng *rng, phase_time *pt, char *err, size_t err_len)
{
    char path[4096];
    *done = 0;
    ckpt_path(path, sizeof path, o, ph, -1, 0);
    FILE *f = fopen(path, "r");
    if (!f)
        return MIMIC_OK;
    long long e = -1;
    const int n = fscanf(f, "%lld", &e);
    fclose(f);
    if (n != 1 || e < 1)
        return train_fail(err, err_len, MIMIC_EFORMAT,
                          "%s: expected an epoch count in 1..%d at byte 0", path, ph->epochs);
    if (e > ph->epochs)
        return train_fail(err, err_len, MIMIC_EINVAL,
                          "%s: %lld epochs done, more than this run's %d: written by a run with "
                          "other settings; remove %s/checkpoints, run without --resume or "
                          "with that run's epochs",
                          path, e, ph->epochs, o->out_dir);
    for (int i = 0; i < ph->count; i++) {
        model *m = &ph->models[i];
        ckpt_state s;
        ckpt_path(path, sizeof path, o, ph, i, e);
        mimic_status st = mimic_net_load(&m->net, path, &s, sizeof s, err, err_len);
        if (st != MIMIC_OK)
            return st;
        if (s.settings != ph->settings || s.epochs_done != e)
            return train_fail(err, err_len, MIMIC_EINVAL,
                              "%s: written by a run with other settings; remove %s/checkpoints "
                              "or run without --resume",
                              path, o->out_dir);
        m->seconds = s.seconds;
        memcpy(m->epoch_acc, s.epoch_acc, sizeof s.epoch_acc);
        memcpy(m->epoch_loss, s.epoch_loss, sizeof s.epoch_loss);
        *rng = s.rng;
        pt->seconds = s.phase_seconds;
        pt->prof = s.prof;
    }
    *done = e;
    return MIMIC_OK;
}

// --- Training -----------------------------------------------------------------------------

// Whether a model that needs the teacher's logits trains in epoch e.
static int needs_teacher(const phase *ph, int e)
{
    for (int i = 0; i < ph->count; i++)
        if (ph->models[i].loss != LOSS_LABELS && e < ph->models[i].epochs)
            return 1;
    return 0;
}

// One step's images: `view` (the teacher's phase: shifts of up to MAX_SHIFT and flips; the
// students': --student-shift and flips unless --student-no-flip), `raw` (no augmentation:
// label students with --label-no-augment), and `mimic`, the mimic students' transfer batch:
// the view itself, or (--mixup) `blend`: the view with its last rows replaced by blends of
// two images. The teacher labels it in `logits`.
// `mirrored` says which rows of `view` are mirrored images.
typedef struct {
    float *view, *raw, *blend, *logits;
    const float *mimic;
    int32_t *y;
    uint8_t *mirrored;
} step_batches;

static void batches_free(step_batches *sb)
{
    free(sb->view);
    free(sb->raw);
    free(sb->blend);
    free(sb->logits);
    free(sb->y);
    free(sb->mirrored);
}

static int batches_alloc(step_batches *sb, int64_t B, int64_t hw)
{
    const size_t img = (size_t)(B * hw) * sizeof(float);
    *sb = (step_batches){malloc(img), malloc(img), malloc(img),
                         malloc((size_t)(B * CLASSES) * sizeof(float)), NULL,
                         malloc((size_t)B * sizeof(int32_t)), malloc((size_t)B)};
    sb->mimic = sb->view;
    return sb->view && sb->raw && sb->blend && sb->logits && sb->y && sb->mirrored;
}

// Whether the students' view mirrors images (at random, as the teacher's).
static int students_mirrored(const mimic_distill_options *o)
{
    return o->augment && o->student_flip;
}

// Rows that are blends at the end of each transfer batch (--mixup).
static int64_t blended_rows(const mimic_distill_options *o, int64_t B)
{
    return (int64_t)((double)o->mixup * (double)B + 0.5);
}

// The step's images for batch `idx`. The random draws do not depend on which forms train, so
// each model sees the same images whatever --forms selects.
static void make_batches(const phase *ph, const mimic_distill_options *o, const int32_t *idx,
                         int64_t B, int64_t hw, const mimic_dataset *train, mimic_rng *rng,
                         step_batches *sb)
{
    if (!ph->teacher) {
        mimic_dataset_batch(train, idx, B, o->augment ? MIMIC_AUG_ALL : 0, MAX_SHIFT, rng,
                            sb->view, sb->y, NULL);
        return;
    }
    const int flags =
        o->augment ? MIMIC_AUG_SHIFT | (students_mirrored(o) ? MIMIC_AUG_FLIP : 0) : 0;
    mimic_dataset_batch(train, idx, B, flags, o->student_shift, rng, sb->view, sb->y,
                        sb->mirrored);
    if (!o->label_augment)
        mimic_dataset_batch(train, idx, B, 0, 0, rng, sb->raw, sb->y, NULL);
    const int64_t blends = blended_rows(o, B);
    sb->mimic = blends > 0 ? sb->blend : sb->view;
    if (blends > 0)
        memcpy(sb->blend, sb->view, (size_t)((B - blends) * hw) * sizeof(float));
    for (int64_t i = B - blends; i < B; i++) {
        const int64_t partner = mimic_rng_below(rng, (uint32_t)B); // drawn first, then λ
        const float l = mimic_rng_uniform(rng);
        const float *a = sb->view + i * hw, *b = sb->view + partner * hw;
        for (int64_t p = 0; p < hw; p++)
            sb->blend[i * hw + p] = l * a[p] + (1.0f - l) * b[p];
    }
}

// The images a model trains on in this step.
static const float *model_input(const model *m, const mimic_distill_options *o,
                                const step_batches *sb)
{
    if (m->form >= 0 && m->loss != LOSS_LABELS)
        return sb->mimic;
    return m->form >= 0 && !o->label_augment ? sb->raw : sb->view;
}

// --- The teacher's logits on a finite transfer set -----------------------------------------
//
// Without shifts and blends the mimic students see 2n distinct images: each training image
// as it is or mirrored (n with --student-no-flip). The teacher then labels them once, before
// the first epoch: 2n forwards (two epochs' worth) instead of one per step of every epoch,
// kept in 2 x 60000 x 10 floats (4.8 MB) for Fashion-MNIST. A row of the teacher's output
// depends only on its own image, so these are the bits the per-step forward gives
// (distill_resume checks the weights against --no-cache-logits). Shifts (25 times as many
// views) and blends (a continuum) keep the per-step forward.
typedef struct {
    float *logits; // [mirrored][image][class]; NULL: the teacher runs every step
    int64_t n;
} logit_cache;

static int logits_cached(const mimic_distill_options *o)
{
    return o->cache_logits && (!o->augment || o->student_shift == 0) &&
           blended_rows(o, o->batch) == 0;
}

// The teacher's logits on images 0..n-1, as they are and (if the students' images are
// mirrored) mirrored; `x` holds one batch of images.
static mimic_status cache_fill(logit_cache *c, const phase *ph, const mimic_distill_options *o,
                               const mimic_dataset *train, int64_t n, float *x)
{
    const int64_t B = o->batch, hw = train->h * train->w;
    const int mirrors = students_mirrored(o) ? 2 : 1;
    c->n = n;
    c->logits = malloc((size_t)(mirrors * n * CLASSES) * sizeof(float));
    if (!c->logits)
        return MIMIC_ENOMEM;
    const double t0 = train_now();
    for (int m = 0; m < mirrors; m++)
        for (int64_t first = 0; first < n; first += B) {
            const int64_t b = n - first < B ? n - first : B;
            for (int64_t i = 0; i < b; i++)
                mimic_dataset_image(train, first + i, m, x + i * hw);
            const float *out;
            const mimic_status st = mimic_net_forward(ph->teacher, b, x, &out);
            if (st != MIMIC_OK)
                return st;
            memcpy(c->logits + (m * n + first) * CLASSES, out,
                   (size_t)(b * CLASSES) * sizeof(float));
        }
    progress(o, "%s: the teacher labelled %lld transfer images in %.1f s\n", ph->name,
             (long long)(mirrors * n), train_now() - t0);
    return MIMIC_OK;
}

// The teacher's logits for a step's mimic batch, from the cache.
static void cache_rows(const logit_cache *c, const int32_t *idx, int64_t B,
                       const step_batches *sb)
{
    for (int64_t b = 0; b < B; b++)
        memcpy(sb->logits + b * CLASSES,
               c->logits + ((int64_t)sb->mirrored[b] * c->n + idx[b]) * CLASSES,
               CLASSES * sizeof(float));
}

// One epoch of every model still training, in lockstep over the same stream of (augmented)
// batches; the teacher's logits on the mimic batch, if needed, are computed once and shared
// by all mimic students.
static mimic_status train_epoch(const phase *ph, const mimic_distill_options *o, int e,
                                int64_t n, const mimic_dataset *train, mimic_rng *rng,
                                int32_t *order, step_batches *sb, const logit_cache *cache,
                                float *scratch, double t_start, int64_t steps_before)
{
    const int64_t B = o->batch, steps = n / B, hw = train->h * train->w;
    const int64_t clean = ph->teacher ? B - blended_rows(o, B) : B;
    const int teach = ph->teacher && needs_teacher(ph, e);
    // Each epoch's order depends only on the RNG, so a resumed run draws the same one.
    for (int64_t i = 0; i < n; i++)
        order[i] = (int32_t)i;
    mimic_rng_shuffle(rng, order, n);
    for (int i = 0; i < ph->count; i++)
        ph->models[i].loss_sum = 0.0;
    for (int64_t s = 0; s < steps; s++) {
        make_batches(ph, o, order + s * B, B, hw, train, rng, sb);
        if (teach && cache->logits) {
            cache_rows(cache, order + s * B, B, sb);
        } else if (teach) {
            const float *out;
            mimic_status st = mimic_net_forward(ph->teacher, B, sb->mimic, &out);
            if (st != MIMIC_OK)
                return st;
            memcpy(sb->logits, out, (size_t)(B * CLASSES) * sizeof(float));
        }
        const int64_t step = (int64_t)e * steps + s;
        for (int i = 0; i < ph->count; i++) {
            model *m = &ph->models[i];
            if (e >= m->epochs)
                continue;
            const float lr = mimic_lr_cosine(m->base_lr, step, m->epochs * steps, steps / 2 + 1);
            // The step's dropout draws: a function of the phase, the model (its form and
            // loss, not its place, so --forms changes no bit) and the step, so a resumed run
            // repeats them.
            const uint64_t who = (uint64_t)(m->form + 1) * 4 + (uint64_t)m->loss;
            const uint64_t key = mimic_rng_at(ph->stream_seed * 0x100000001B3ull + who,
                                              (uint64_t)step);
            const mimic_status st = train_step(m, o, B, m->loss == LOSS_LABELS ? B : clean,
                                               model_input(m, o, sb), sb->y, sb->logits, lr,
                                               key, scratch);
            if (st != MIMIC_OK)
                return st;
        }
        if (o->progress && isatty(2) && (s % 20 == 0 || s == steps - 1)) {
            const double el = train_now() - t_start;
            const double done = (double)(step + 1 - steps_before),
                         left = (double)((int64_t)ph->epochs * steps - step - 1);
            // A 30-character bar of the whole phase.
            char bar[31];
            const int fill = (int)(30.0 * (double)(step + 1) / (double)(ph->epochs * steps));
            for (int k = 0; k < 30; k++)
                bar[k] = k < fill ? '#' : '.';
            bar[30] = '\0';
            progress(o, "\r%s [%s] epoch %d/%d step %lld/%lld  %.0f img/s  ETA %.0f s   ",
                     ph->name, bar, e + 1, ph->epochs, (long long)s + 1, (long long)steps,
                     done * (double)B / el, el / done * left);
        }
    }
    return MIMIC_OK;
}

// Train a phase's models for their epochs, resuming from its checkpoint with --resume,
// checkpointing after every epoch.
static mimic_status run_phase(const phase *ph, const mimic_distill_options *o,
                              const mimic_dataset *train, const mimic_dataset *test,
                              int *epochs_run, int *stopped, phase_time *pt, char *err,
                              size_t err_len)
{
    const int64_t n = o->train_limit > 0 && o->train_limit < train->n ? o->train_limit : train->n;
    const int64_t B = o->batch, steps = n / B, hw = train->h * train->w;
    mimic_rng rng;
    mimic_rng_seed(&rng, ph->stream_seed);
    int64_t done = 0;
    mimic_status st = MIMIC_OK;
    memset(pt, 0, sizeof *pt);
    if (o->resume) {
        st = load_phase(o, ph, &done, &rng, pt, err, err_len);
        if (st == MIMIC_OK && done > 0)
            progress(o, "%s: resumed after epoch %lld of %d\n", ph->name, (long long)done,
                     ph->epochs);
    }
    int32_t *order = malloc((size_t)n * sizeof *order);
    float *scratch = malloc((size_t)(B * CLASSES) * sizeof *scratch);
    step_batches sb;
    const int have = batches_alloc(&sb, B, hw);
    if (st == MIMIC_OK && !(order && scratch && have))
        st = train_fail(err, err_len, MIMIC_ENOMEM, "no memory for the %s' batches", ph->name);
    const phase_time before = *pt;
    (void)mimic_profile_enable(1);
    mimic_profile_reset();
    const double t_start = train_now();
    logit_cache cache = {NULL, 0};
    if (st == MIMIC_OK && done < ph->epochs && needs_teacher(ph, (int)done) &&
        logits_cached(o))
        st = cache_fill(&cache, ph, o, train, n, sb.view);
    for (int e = (int)done; e < ph->epochs && st == MIMIC_OK; e++) {
        if (o->stop_after > 0 && *epochs_run >= o->stop_after) {
            *stopped = 1;
            break;
        }
        ++*epochs_run;
        st = train_epoch(ph, o, e, n, train, &rng, order, &sb, &cache, scratch, t_start,
                         done * steps);
        for (int i = 0; i < ph->count && st == MIMIC_OK; i++) {
            model *m = &ph->models[i];
            if (e >= m->epochs)
                continue;
            double ips;
            m->epoch_loss[e] = m->loss_sum / (double)steps;
            m->epoch_acc[e] = evaluate(&m->net, test, o->test_limit, &ips);
            progress(o, "%s%s: epoch %d/%d %-28s loss %.4f  test accuracy %.4f\n",
                     o->progress && isatty(2) ? "\r" : "", ph->name, e + 1, m->epochs, m->name,
                     m->epoch_loss[e], m->epoch_acc[e]);
        }
        // The plain line a log file gets (a terminal also had the live bar).
        const double el = train_now() - t_start, per = el / (double)(e + 1 - done);
        progress(o, "%s: epoch %d/%d done, %.0f s elapsed, %.0f img/s, ETA %.0f s\n", ph->name,
                 e + 1, ph->epochs, el, (double)(steps * B) / per,
                 per * (double)(ph->epochs - e - 1));
        phase_time now = {el, {{0}, {0}, {0}}};
        mimic_profile_read(&now.prof);
        *pt = phase_time_sum(&before, &now);
        if (st == MIMIC_OK)
            st = save_phase(o, ph, e + 1, &rng, pt, err, err_len);
    }
    free(order);
    free(scratch);
    free(cache.logits);
    batches_free(&sb);
    return st;
}

// --- Report -------------------------------------------------------------------------------

// A model's training rate over all its epochs.
static double train_ips(const model *m, int64_t train_images)
{
    return (double)(train_images * m->epochs) / m->seconds;
}

static void print_table(const model *m, int count, int64_t train_images)
{
    printf("\n%-40s %10s %9s %10s %12s %12s\n", "model", "params", "test acc", "train s",
           "train img/s", "infer img/s");
    for (int i = 0; i < count; i++)
        printf("%-40s %10lld %8.2f%% %10.1f %12.0f %12.0f\n", m[i].name,
               (long long)mimic_net_param_count(&m[i].net), 100.0 * m[i].accuracy,
               m[i].seconds, train_ips(&m[i], train_images), m[i].infer_ips);
}

// The kernel families' time in a phase, "other" (layers, SGD, data) being the rest of it.
static double kernel_seconds(const phase_time *t, int k)
{
    if (k < MIMIC_PROF_KINDS)
        return t->prof.seconds[k];
    double other = t->seconds;
    for (int i = 0; i < MIMIC_PROF_KINDS; i++)
        other -= t->prof.seconds[i];
    return other > 0.0 ? other : 0.0;
}

static const char *kernel_name(int k)
{
    return k < MIMIC_PROF_KINDS ? mimic_prof_kind_name((mimic_prof_kind)k) : "other";
}

static double kernel_gflops(const phase_time *t, int k)
{
    const double s = kernel_seconds(t, k);
    return k < MIMIC_PROF_KINDS && s > 0.0 && t->prof.flops[k] > 0.0 ? t->prof.flops[k] / s / 1e9
                                                                      : 0.0;
}

static void print_kernels(const phase_time t[2])
{
    printf("\n%-16s %24s %24s\n", "time per kernel", "teacher phase", "students phase");
    for (int k = 0; k <= MIMIC_PROF_KINDS; k++) {
        printf("%-16s", kernel_name(k));
        for (int p = 0; p < 2; p++) {
            const double s = kernel_seconds(&t[p], k), g = kernel_gflops(&t[p], k);
            char gf[32] = "";
            if (g > 0.0)
                snprintf(gf, sizeof gf, "%.0f GFLOP/s", g);
            printf(" %7.1f s %4.0f%% %-12s", s, t[p].seconds > 0 ? 100.0 * s / t[p].seconds : 0.0,
                   gf);
        }
        printf("\n");
    }
}

static void json_kernels(FILE *f, const char *phase, const phase_time *t, int last)
{
    fprintf(f, "    \"%s\": {\"seconds\": %.3f, \"kernels\": [", phase, t->seconds);
    for (int k = 0; k <= MIMIC_PROF_KINDS; k++)
        fprintf(f, "%s{\"name\": \"%s\", \"seconds\": %.3f, \"flops\": %.6g, \"gflops\": %.2f}",
                k ? ", " : "", kernel_name(k), kernel_seconds(t, k),
                k < MIMIC_PROF_KINDS ? t->prof.flops[k] : 0.0, kernel_gflops(t, k));
    fprintf(f, "]}%s\n", last ? "" : ",");
}

static void json_model(FILE *f, const model *m, int epochs, int last)
{
    fprintf(f, "    {\"name\": \"%s\", \"loss\": \"%s\", \"params\": %lld, \"test_accuracy\": %.6f, "
               "\"train_seconds\": %.3f, \"infer_images_per_s\": %.1f, "
               "\"weights_crc32\": \"%08x\", \"epochs\": [",
            m->name, loss_names[m->loss], (long long)mimic_net_param_count(&m->net), m->accuracy,
            m->seconds, m->infer_ips, (unsigned)mimic_net_weights_crc(&m->net));
    for (int e = 0; e < epochs; e++)
        fprintf(f, "%s{\"loss\": %.6f, \"test_accuracy\": %.6f}", e ? ", " : "",
                m->epoch_loss[e], m->epoch_acc[e]);
    fprintf(f, "]}%s\n", last ? "" : ",");
}

typedef struct {
    const mimic_distill_options *o;
    const model *m;
    int count;
    const phase_time *times; // teacher, students
    double process_s;
} json_args;

static int fill_json(FILE *f, const void *ctx)
{
    const json_args *a = ctx;
    const mimic_distill_options *o = a->o;
    mimic_info info;
    (void)mimic_info_get(&info);
    const char *spin = getenv("GOMP_SPINCOUNT"), *wait = getenv("OMP_WAIT_POLICY");
    fprintf(f, "{\n  \"mimic_version\": \"%s\", \"commit\": \"%s\", \"cpu_model\": \"%s\", "
               "\"isa\": \"%s\", \"threads\": %d, \"gomp_spincount\": \"%s\", "
               "\"omp_wait_policy\": \"%s\",\n",
            mimic_version(), MIMIC_GIT_COMMIT, info.cpu_model, mimic_isa_name(info.active),
            info.threads, spin ? spin : "", wait ? wait : "");
    fprintf(f, "  \"settings\": {\"seed\": %llu, \"batch\": %lld, \"teacher_epochs\": %d, "
               "\"student_epochs\": %d, \"label_epochs\": %d, \"conv_label_epochs\": %d, "
               "\"train_limit\": %lld, "
               "\"test_limit\": %lld, \"lr\": %g, \"label_lr\": %g, \"l2_lr\": %g, "
               "\"kd_lr\": %g, \"student_lr_ref\": %g, \"momentum\": %g, "
               "\"weight_decay\": %g, \"label_weight_decay\": %g, "
               "\"conv_label_weight_decay\": %g, \"mimic_weight_decay\": %g, "
               "\"temperature\": %g, \"kd_label_weight\": %g, "
               "\"l2_label_weight\": %g, "
               "\"augment\": %d, \"label_augment\": %d, \"student_shift\": %d, "
               "\"student_flip\": %d, "
               "\"mixup\": %g, \"forms\": %d, \"conv_pool\": %d, \"clip\": %g, "
               "\"teacher_dropout\": %g, \"label_dropout\": %g, \"mimic_dropout\": %g, "
               "\"teacher_logits\": \"%s\"},\n",
            (unsigned long long)o->seed, (long long)o->batch, o->teacher_epochs,
            o->student_epochs, label_epochs_of(o, 0), label_epochs_of(o, 1),
            (long long)o->train_limit, (long long)o->test_limit, (double)o->lr,
            (double)o->label_lr, (double)o->l2_lr, (double)o->kd_lr, (double)o->student_lr_ref,
            (double)o->momentum, (double)o->weight_decay, (double)o->label_weight_decay,
            (double)o->conv_label_weight_decay, (double)o->mimic_weight_decay, (double)o->temperature,
            (double)o->kd_label_weight, (double)o->l2_label_weight, o->augment,
            o->label_augment, o->student_shift,
            o->student_flip,
            (double)o->mixup, o->forms, o->conv_pool, (double)o->clip,
            (double)o->teacher_dropout, (double)o->label_dropout, (double)o->mimic_dropout,
            logits_cached(o) ? "cached" : "per step");
    // total: both phases over all their epochs, resumed ones too; process: this run alone.
    fprintf(f, "  \"total_seconds\": %.3f, \"process_seconds\": %.3f,\n",
            a->times[0].seconds + a->times[1].seconds, a->process_s);
    fprintf(f, "  \"phases\": {\n");
    json_kernels(f, "teacher", &a->times[0], 0);
    json_kernels(f, "students", &a->times[1], 1);
    fprintf(f, "  },\n  \"models\": [\n");
    for (int i = 0; i < a->count; i++)
        json_model(f, &a->m[i], a->m[i].epochs, i == a->count - 1);
    fprintf(f, "  ]\n}\n");
    return 1; // write errors show in ferror(f)
}

// The results as JSON, written to a temp file and renamed so no half file is ever left.
static mimic_status write_json(const mimic_distill_options *o, const model *m, int count,
                               const phase_time times[2], double process_s, char *err,
                               size_t err_len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/distill-seed%llu.json", o->out_dir,
             (unsigned long long)o->seed);
    const json_args a = {o, m, count, times, process_s};
    const mimic_status st = train_write_atomic_with(path, fill_json, &a, err, err_len);
    if (st == MIMIC_OK)
        printf("\nresults: %s\n", path);
    return st;
}

// The HTML report beside the JSON: the same numbers, as tables and SVG charts. The kernel
// breakdown is of both phases together.
static mimic_status write_report(const mimic_distill_options *o, const model *m, int count,
                                 const phase_time times[2], int64_t images, char *err,
                                 size_t err_len)
{
    mimic_report_model rm[N_MODELS];
    mimic_report_kernel rk[MIMIC_PROF_KINDS + 1];
    const phase_time both = phase_time_sum(&times[0], &times[1]);
    for (int i = 0; i < count; i++)
        rm[i] = (mimic_report_model){
            .name = m[i].name,
            .loss = loss_names[m[i].loss],
            .form = m[i].form + 1,
            .params = mimic_net_param_count(&m[i].net),
            .test_accuracy = m[i].accuracy,
            .train_seconds = m[i].seconds,
            .train_images_per_s = train_ips(&m[i], images),
            .infer_images_per_s = m[i].infer_ips,
            .epochs = m[i].epochs,
            .epoch_loss = m[i].epoch_loss,
            .epoch_acc = m[i].epoch_acc,
        };
    for (int k = 0; k <= MIMIC_PROF_KINDS; k++)
        rk[k] = (mimic_report_kernel){kernel_name(k), kernel_seconds(&both, k),
                                      kernel_gflops(&both, k)};
    mimic_info info;
    (void)mimic_info_get(&info);
    char title[128], subtitle[512], path[4096];
    snprintf(title, sizeof title, "mimic distill, seed %llu", (unsigned long long)o->seed);
    snprintf(subtitle, sizeof subtitle,
             "%s, %s, %d threads, commit %s; batch %lld, teacher %d epochs, students %d "
             "(labels: 784 form %d, conv form %d), T = %g",
             info.cpu_model, mimic_isa_name(info.active), info.threads, MIMIC_GIT_COMMIT,
             (long long)o->batch, o->teacher_epochs, o->student_epochs, label_epochs_of(o, 0),
             label_epochs_of(o, 1), (double)o->temperature);
    snprintf(path, sizeof path, "%s/distill-seed%llu.html", o->out_dir,
             (unsigned long long)o->seed);
    const mimic_report r = {title, subtitle, rm, count, rk, MIMIC_PROF_KINDS + 1, both.seconds};
    const mimic_status st = mimic_report_write_html(path, &r, err, err_len);
    if (st == MIMIC_OK)
        printf("report:  %s\n", path);
    return st;
}

// --- The experiment -----------------------------------------------------------------------

// x in [0, hi] (NaN is not).
static int in_range(float x, float hi)
{
    return x >= 0.0f && x <= hi;
}

mimic_status mimic_distill_run(const mimic_distill_options *o, char *err, size_t err_len)
{
    if (!o || o->batch < 1 || o->teacher_epochs < 1 || o->student_epochs < 1 ||
        o->teacher_epochs > MAX_EPOCHS || o->student_epochs > MAX_EPOCHS ||
        o->label_epochs < 0 || o->label_epochs > MAX_EPOCHS || o->conv_label_epochs < 0 ||
        o->conv_label_epochs > MAX_EPOCHS || !o->out_dir ||
        o->student_shift < 0 || o->student_shift > MAX_SHIFT ||
        !in_range(o->mixup, 1.0f) ||
        !in_range(o->kd_label_weight, MIMIC_DISTILL_MAX_KD_LABEL_WEIGHT) ||
        !in_range(o->l2_label_weight, MIMIC_DISTILL_MAX_KD_LABEL_WEIGHT) ||
        !in_range(o->teacher_dropout, MIMIC_DISTILL_MAX_DROPOUT) ||
        !in_range(o->label_dropout, MIMIC_DISTILL_MAX_DROPOUT) ||
        !in_range(o->mimic_dropout, MIMIC_DISTILL_MAX_DROPOUT) ||
        !in_range(o->weight_decay, MIMIC_DISTILL_MAX_WEIGHT_DECAY) ||
        !in_range(o->label_weight_decay, MIMIC_DISTILL_MAX_WEIGHT_DECAY) ||
        !in_range(o->conv_label_weight_decay, MIMIC_DISTILL_MAX_WEIGHT_DECAY) ||
        !in_range(o->mimic_weight_decay, MIMIC_DISTILL_MAX_WEIGHT_DECAY) ||
        o->forms < 1 || o->forms > 3 || (o->conv_pool != 2 && o->conv_pool != 4))
        return train_fail(err, err_len, MIMIC_EINVAL,
                          "invalid options (epochs 1..%d, batch >= 1, student shift 0..%d, "
                          "mixup 0..1, label weights 0..%g, dropout 0..%g, weight decay "
                          "0..%g, forms 1..3, conv pool 2 or 4)",
                          MAX_EPOCHS, MAX_SHIFT, (double)MIMIC_DISTILL_MAX_KD_LABEL_WEIGHT,
                          (double)MIMIC_DISTILL_MAX_DROPOUT,
                          (double)MIMIC_DISTILL_MAX_WEIGHT_DECAY);
    if (o->threads >= 0)
        (void)mimic_threads_set(o->threads);
    mimic_status st = train_mkdirs(o->out_dir, err, err_len);
    if (st != MIMIC_OK)
        return st;
    mimic_dataset train, test;
    st = mimic_dataset_load(o->data_dir, 1, &train, err, err_len);
    if (st != MIMIC_OK)
        return st;
    st = mimic_dataset_load(o->data_dir, 0, &test, err, err_len);
    if (st != MIMIC_OK) {
        mimic_dataset_free(&train);
        return st;
    }
    const double t0 = train_now();
    const int64_t images = o->train_limit > 0 && o->train_limit < train.n ? o->train_limit
                                                                           : train.n;
    static model m[N_MODELS];
    memset(m, 0, sizeof m);
    mimic_rng init;
    mimic_rng_seed(&init, o->seed);
    snprintf(m[0].name, sizeof m[0].name, "teacher (4 conv + 2 dense)");
    m[0].loss = LOSS_LABELS;
    m[0].form = -1;
    m[0].base_lr = o->lr;
    m[0].weight_decay = o->weight_decay;
    m[0].epochs = o->teacher_epochs;
    st = build_teacher(&m[0].net, o->batch, o->teacher_dropout, &init);
    const int64_t target = mimic_net_param_count(&m[0].net);
    int student_epochs = o->student_epochs; // the phase's: its longest-training student's
    int count = 1;
    for (int form = 0; form < 2 && st == MIMIC_OK; form++) {
        if (!(o->forms & (1 << form)))
            continue;
        const int64_t hidden = o->hidden > 0 ? o->hidden : matched_hidden(form, o, target);
        // The three students of a form start from the same weights, drawn from a stream of
        // their own: what --forms selects changes no model's bits.
        mimic_rng form_init;
        mimic_rng_seed(&form_init, o->seed * 0x9E3779B97F4A7C15ull + 1 + (uint64_t)form);
        for (int l = 0; l < 3 && st == MIMIC_OK; l++) {
            model *s = &m[count++];
            s->form = form;
            char form_name[32] = "784";
            if (form)
                snprintf(form_name, sizeof form_name, "conv5x5+pool%d", o->conv_pool);
            snprintf(s->name, sizeof s->name, "%s k=%lld H=%lld, %s", form_name,
                     (long long)(form ? o->conv_bottleneck : o->bottleneck),
                     (long long)hidden, loss_names[l]);
            s->loss = (loss_kind)l;
            s->base_lr = l == LOSS_L2 ? o->l2_lr : l == LOSS_KD ? o->kd_lr : o->label_lr;
            s->weight_decay = l != LOSS_LABELS ? o->mimic_weight_decay
                              : form ? o->conv_label_weight_decay
                                     : o->label_weight_decay;
            s->epochs = l == LOSS_LABELS ? label_epochs_of(o, form) : o->student_epochs;
            student_epochs = s->epochs > student_epochs ? s->epochs : student_epochs;
            mimic_rng r = form_init;
            st = build_student(&s->net, form, o, hidden,
                               l == LOSS_LABELS ? o->label_dropout : o->mimic_dropout, &r);
            if (st == MIMIC_OK && o->student_lr_ref > 0.0f)
                mimic_net_scale_lr_by_fan_in(&s->net, o->student_lr_ref);
        }
    }
    for (int i = 0; i < count && st == MIMIC_OK; i++) {
        m[i].grad = malloc((size_t)(o->batch * CLASSES) * sizeof(float));
        if (!m[i].grad)
            st = MIMIC_ENOMEM;
    }
    const phase teacher = {"teacher", &m[0], 1, NULL, o->seed + 1, teacher_settings(o),
                           o->teacher_epochs};
    const phase students = {"students", &m[1], count - 1, &m[0].net, o->seed + 2,
                            student_settings(o), student_epochs};
    int epochs_run = 0, stopped = 0;
    phase_time times[2];
    memset(times, 0, sizeof times);
    if (st == MIMIC_OK)
        st = run_phase(&teacher, o, &train, &test, &epochs_run, &stopped, &times[0], err,
                       err_len);
    if (st == MIMIC_OK && !stopped)
        st = run_phase(&students, o, &train, &test, &epochs_run, &stopped, &times[1], err,
                       err_len);
    for (int i = 0; i < count && st == MIMIC_OK && !stopped; i++)
        m[i].accuracy = evaluate(&m[i].net, &test, o->test_limit, &m[i].infer_ips);
    if (st == MIMIC_OK && stopped) {
        printf("stopped after %d epochs (--stop-after); checkpoints in %s/checkpoints, "
               "--resume continues\n", epochs_run, o->out_dir);
    } else if (st == MIMIC_OK) {
        print_table(m, count, images);
        print_kernels(times);
        st = write_json(o, m, count, times, train_now() - t0, err, err_len);
        if (st == MIMIC_OK)
            st = write_report(o, m, count, times, images, err, err_len);
    } else if (err && !err[0]) {
        train_fail(err, err_len, st, "training failed: %s", mimic_status_str(st));
    }
    for (int i = 0; i < N_MODELS; i++) {
        mimic_net_free(&m[i].net);
        free(m[i].grad);
    }
    mimic_dataset_free(&train);
    mimic_dataset_free(&test);
    return st;
}
