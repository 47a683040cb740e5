// The trainer's building blocks: the seeded RNG, the SGD step, the schedule, and a tiny
// end-to-end training (dense - ReLU - dense with cross-entropy, SGD with momentum) on a
// generated separable data set that must reach high accuracy on every ISA; the experiment's
// option checks.
#include <math.h>
#include <string.h>

#include "common.h"
#include "train/distill.h"
#include "train/layers.h"
#include "train/rng.h"
#include "train/sgd.h"

static void test_rng(void **state)
{
    (void)state;
    mimic_rng a, b;
    mimic_rng_seed(&a, 123);
    mimic_rng_seed(&b, 123);
    for (int i = 0; i < 1000; i++)
        TC_CHECK(mimic_rng_next(&a) == mimic_rng_next(&b));
    double sum = 0.0, sq = 0.0;
    for (int i = 0; i < 100000; i++) {
        const float u = mimic_rng_uniform(&a);
        TC_CHECK(u >= 0.0f && u < 1.0f);
        TC_CHECK(mimic_rng_below(&a, 7) < 7);
        const float z = mimic_rng_normal(&a);
        sum += z;
        sq += (double)z * z;
    }
    // Mean 0 and variance 1 within about 4 standard errors.
    tc_check_near1("normal mean", sum / 1e5, 0.0, 0.013);
    tc_check_near1("normal variance", sq / 1e5, 1.0, 0.02);
    int32_t idx[100], seen[100] = {0};
    for (int i = 0; i < 100; i++)
        idx[i] = i;
    mimic_rng_shuffle(&a, idx, 100);
    for (int i = 0; i < 100; i++)
        seen[idx[i]]++;
    for (int i = 0; i < 100; i++)
        TC_CHECK(seen[i] == 1);
}

static void test_sgd_and_schedule(void **state)
{
    (void)state;
    mimic_param p;
    TC_STATUS(mimic_param_init(&p, 2), MIMIC_OK);
    p.w[0] = 1.0f, p.w[1] = -2.0f, p.g[0] = 0.5f, p.g[1] = 0.25f;
    const mimic_sgd opt = {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f};
    mimic_sgd_step(&opt, &p, 1, 1.0f);
    // v = g + wd w = (0.51, 0.23); w -= 0.1 v
    tc_check_near1("w0 after one step", p.w[0], 1.0 - 0.1 * 0.51, 1e-6);
    tc_check_near1("w1 after one step", p.w[1], -2.0 - 0.1 * 0.23, 1e-6);
    mimic_sgd_step(&opt, &p, 0, 1.0f); // no decay: v = 0.9 v + g
    tc_check_near1("v0 after two steps", p.v[0], 0.9 * 0.51 + 0.5, 1e-6);
    // A scaled tensor steps by lr * lr_scale; its momentum is unchanged by the scale.
    const float w1 = p.w[1], v1 = 0.9f * p.v[1] + p.g[1];
    p.lr_scale = 0.25f;
    mimic_sgd_step(&opt, &p, 0, 1.0f);
    tc_check_near1("v1 with a scaled lr", p.v[1], v1, 1e-6);
    tc_check_near1("w1 with a scaled lr", p.w[1], w1 - 0.1 * 0.25 * v1, 1e-6);
    mimic_param_free(&p);
    tc_check_near1("warm-up start", mimic_lr_cosine(1.0f, 0, 100, 10), 0.1, 1e-6);
    tc_check_near1("cosine start", mimic_lr_cosine(1.0f, 10, 100, 10), 1.0, 1e-6);
    tc_check_near1("cosine middle", mimic_lr_cosine(1.0f, 55, 100, 10), 0.5, 1e-6);
    tc_check_near1("cosine end", mimic_lr_cosine(1.0f, 100, 100, 10), 0.0, 1e-6);
}

#define DIM 16
#define CLASSES 4
#define HIDDEN 32

// Class c is a Gaussian blob around a random centre; centres are far apart relative to the
// noise, so a small MLP separates them almost perfectly.
static void make_blobs(mimic_rng *r, const float *centres, int64_t n, float *x, int32_t *y)
{
    for (int64_t i = 0; i < n; i++) {
        y[i] = (int32_t)mimic_rng_below(r, CLASSES);
        for (int d = 0; d < DIM; d++)
            x[i * DIM + d] = centres[y[i] * DIM + d] + 0.6f * mimic_rng_normal(r);
    }
}

static double train_and_evaluate(uint64_t seed)
{
    enum { TRAIN = 2048, TEST = 1024, BATCH = 64, EPOCHS = 4 };
    mimic_rng r;
    mimic_rng_seed(&r, seed);
    float centres[CLASSES * DIM];
    for (int i = 0; i < CLASSES * DIM; i++)
        centres[i] = mimic_rng_normal(&r);
    float *xtr = tc_alloc(TRAIN * DIM), *xte = tc_alloc(TEST * DIM);
    int32_t ytr[TRAIN], yte[TEST];
    make_blobs(&r, centres, TRAIN, xtr, ytr);
    make_blobs(&r, centres, TEST, xte, yte);

    mimic_dense l1, l2;
    TC_STATUS(mimic_dense_init(&l1, DIM, HIDDEN, 1), MIMIC_OK);
    TC_STATUS(mimic_dense_init(&l2, HIDDEN, CLASSES, 1), MIMIC_OK);
    mimic_init_he(&l1.weight, DIM, &r);
    mimic_init_he(&l2.weight, HIDDEN, &r);
    float *h = tc_alloc(TEST * HIDDEN), *logits = tc_alloc(TEST * CLASSES);
    float *dlogits = tc_alloc(BATCH * CLASSES), *dh = tc_alloc(BATCH * HIDDEN);
    float *xb = tc_alloc(BATCH * DIM);
    int32_t order[TRAIN], yb[BATCH];
    for (int i = 0; i < TRAIN; i++)
        order[i] = i;
    mimic_sgd opt = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-4f};
    const int64_t steps = EPOCHS * (TRAIN / BATCH);
    for (int64_t step = 0; step < steps; step++) {
        if (step % (TRAIN / BATCH) == 0)
            mimic_rng_shuffle(&r, order, TRAIN);
        const int64_t first = (step % (TRAIN / BATCH)) * BATCH;
        for (int b = 0; b < BATCH; b++) {
            memcpy(xb + b * DIM, xtr + order[first + b] * DIM, DIM * sizeof(float));
            yb[b] = ytr[order[first + b]];
        }
        float loss;
        TC_STATUS(mimic_dense_forward(&l1, BATCH, xb, h), MIMIC_OK);
        mimic_relu_forward(BATCH * HIDDEN, h, h);
        TC_STATUS(mimic_dense_forward(&l2, BATCH, h, logits), MIMIC_OK);
        TC_STATUS(mimic_ce_loss(logits, yb, BATCH, CLASSES, &loss, dlogits), MIMIC_OK);
        TC_STATUS(mimic_dense_backward(&l2, BATCH, h, dlogits, dh), MIMIC_OK);
        mimic_relu_backward(BATCH * HIDDEN, h, dh, dh);
        TC_STATUS(mimic_dense_backward(&l1, BATCH, xb, dh, NULL), MIMIC_OK);
        opt.lr = mimic_lr_cosine(0.05f, step, steps, steps / 10);
        mimic_sgd_step(&opt, &l1.weight, 1, 1.0f);
        mimic_sgd_step(&opt, &l1.bias, 0, 1.0f);
        mimic_sgd_step(&opt, &l2.weight, 1, 1.0f);
        mimic_sgd_step(&opt, &l2.bias, 0, 1.0f);
    }
    TC_STATUS(mimic_dense_forward(&l1, TEST, xte, h), MIMIC_OK);
    mimic_relu_forward(TEST * HIDDEN, h, h);
    TC_STATUS(mimic_dense_forward(&l2, TEST, h, logits), MIMIC_OK);
    int correct = 0;
    for (int i = 0; i < TEST; i++) {
        int best = 0;
        for (int c = 1; c < CLASSES; c++)
            best = logits[i * CLASSES + c] > logits[i * CLASSES + best] ? c : best;
        correct += best == yte[i];
    }
    free(xtr);
    free(xte);
    free(h);
    free(logits);
    free(dlogits);
    free(dh);
    free(xb);
    mimic_dense_free(&l1);
    mimic_dense_free(&l2);
    return (double)correct / TEST;
}

static void test_tiny_training(void **state)
{
    (void)state;
    TC_FOR_EACH_ISA(isa)
    {
        const double acc = train_and_evaluate(2024);
        tc_ctx("tiny MLP test accuracy %.4f", acc);
        print_message("tiny MLP on blobs [%s]: test accuracy %.4f\n", mimic_isa_name(isa), acc);
        if (acc < 0.97)
            TC_FAIL("test accuracy %.4f < 0.97", acc);
    }
}

// Out-of-range experiment options are refused with MIMIC_EINVAL and a message, before any
// file is read or written (the output directory is never created).
static void test_distill_invalid_options(void **state)
{
    (void)state;
    const char *out = "test_train_never_created";
    for (int which = 0; which < 11; which++) {
        mimic_distill_options o;
        mimic_distill_defaults(&o, 1);
        o.out_dir = out;
        o.data_dir = "test_train_no_data"; // were the checks missing: a quick failure
        o.progress = 0;
        switch (which) {
        case 0: o.kd_label_weight = 101.0f; break;
        case 1: o.kd_label_weight = -0.1f; break;
        case 2: o.kd_label_weight = NAN; break;
        case 3: o.mixup = 2.0f; break;
        case 4: o.conv_pool = 3; break;
        case 5: o.mimic_weight_decay = -1e-4f; break;
        case 6: o.label_weight_decay = 0.2f; break;
        case 7: o.weight_decay = NAN; break;
        case 8: o.conv_label_weight_decay = -1.0f; break;
        case 9: o.conv_label_epochs = -1; break;
        default: o.forms = 0; break;
        }
        char err[256] = "";
        tc_ctx("invalid distill option case %d", which);
        TC_STATUS(mimic_distill_run(&o, err, sizeof err), MIMIC_EINVAL);
        TC_CHECK(strstr(err, "invalid options") != NULL);
    }
    FILE *f = fopen(out, "r");
    TC_CHECK(f == NULL);
    if (f)
        fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_sgd_and_schedule),
        cmocka_unit_test(test_tiny_training),
        cmocka_unit_test(test_distill_invalid_options),
    };
    return cmocka_run_group_tests_name("train", tests, tc_group_setup, tc_group_teardown);
}
