// Data sets and augmentation: Fashion-MNIST loads with the right shapes and statistics, a
// missing directory names the Debian package, and every augmented image is exactly one of the
// allowed shifts / mirrors of its source.
#include <math.h>
#include <string.h>

#include "common.h"
#include "train/data.h"

static void test_load(void **state)
{
    (void)state;
    mimic_dataset d;
    char err[768] = "";
    tc_ctx("%s", err);
    TC_STATUS(mimic_dataset_load(MIMIC_FMNIST_DIR, 0, &d, err, sizeof err), MIMIC_OK);
    TC_CHECK(d.n == 10000 && d.h == 28 && d.w == 28 && d.classes == 10);
    double sum = 0.0, sq = 0.0;
    for (int64_t i = 0; i < d.n * d.h * d.w; i++) {
        sum += d.x[i];
        sq += (double)d.x[i] * d.x[i];
    }
    const double mean = sum / (double)(d.n * d.h * d.w);
    // Normalised with the training-set statistics: the test set is close to N(0, 1).
    tc_check_near1("normalised mean", mean, 0.0, 0.02);
    tc_check_near1("normalised variance", sq / (double)(d.n * d.h * d.w) - mean * mean, 1.0,
                   0.03);
    mimic_dataset_free(&d);
    TC_CHECK(d.x == NULL && d.n == 0);

    TC_STATUS(mimic_dataset_load("/nonexistent/fmnist", 1, &d, err, sizeof err), MIMIC_EIO);
    if (!strstr(err, "dataset-fashion-mnist") || !strstr(err, "/nonexistent/fmnist"))
        TC_FAIL("the message should name the directory and the Debian package: %s", err);
}

// Whether dst is src shifted by some (dy, dx) in [-s, s]^2, mirrored or not.
// dst is src shifted by up to s pixels (background bg filling in), mirrored too if flips = 2.
static int is_shift_of(const float *src, const float *dst, int h, int w, int s, float bg,
                       int flips)
{
    for (int flip = 0; flip < flips; flip++)
        for (int dy = -s; dy <= s; dy++)
            for (int dx = -s; dx <= s; dx++) {
                int same = 1;
                for (int i = 0; i < h && same; i++)
                    for (int j = 0; j < w && same; j++) {
                        const int si = i - dy, sj0 = j - dx, sj = flip ? w - 1 - sj0 : sj0;
                        const int inside = si >= 0 && si < h && sj0 >= 0 && sj0 < w;
                        same = dst[i * w + j] == (inside ? src[si * w + sj] : bg);
                    }
                if (same)
                    return 1;
            }
    return 0;
}

static void test_batch_and_augment(void **state)
{
    (void)state;
    enum { N = 6, H = 7, W = 5 };
    float x[N * H * W];
    int32_t labels[N];
    for (int i = 0; i < N * H * W; i++)
        x[i] = (float)(i % 97) + 1.0f; // distinct within an image, never the background
    for (int i = 0; i < N; i++)
        labels[i] = i % 3;
    const mimic_dataset d = {.n = N, .h = H, .w = W, .classes = 3, .x = x, .y = labels};
    const int32_t idx[4] = {5, 0, 3, 3};
    float out[4 * H * W];
    int32_t y[4];
    mimic_rng r;
    mimic_rng_seed(&r, 9);
    mimic_dataset_batch(&d, idx, 4, 0, 2, &r, out, y, NULL);
    for (int b = 0; b < 4; b++) {
        TC_CHECK(y[b] == labels[idx[b]]);
        TC_CHECK(memcmp(out + b * H * W, x + idx[b] * H * W, sizeof(float) * H * W) == 0);
    }
    const float bg = -0.2860f / 0.3530f;
    int changed = 0;
    for (int trial = 0; trial < 50; trial++) {
        mimic_dataset_batch(&d, idx, 4, MIMIC_AUG_ALL, 2, &r, out, y, NULL);
        for (int b = 0; b < 4; b++) {
            const float *src = x + idx[b] * H * W, *dst = out + b * H * W;
            if (!is_shift_of(src, dst, H, W, 2, bg, 2))
                TC_FAIL("augmented image %d (trial %d) is no shift/mirror of its source", b,
                        trial);
            changed += memcmp(src, dst, sizeof(float) * H * W) != 0;
        }
    }
    TC_CHECK(changed > 150); // 1 in 50 draws is the identity
}

// Each flag alone does only its own augmentation, and every augmented view draws the same
// random numbers (so views of one batch stay aligned: the trainer's students' view and the
// teacher's).
static void test_augment_flags(void **state)
{
    (void)state;
    enum { N = 4, H = 6, W = 5 };
    float x[N * H * W], out[N * H * W];
    int32_t labels[N] = {0, 1, 2, 0}, y[N];
    for (int i = 0; i < N * H * W; i++)
        x[i] = (float)(i % 89) + 1.0f;
    const mimic_dataset d = {.n = N, .h = H, .w = W, .classes = 3, .x = x, .y = labels};
    const int32_t idx[N] = {3, 1, 0, 2};
    const float bg = -0.2860f / 0.3530f;
    const int flags[3] = {MIMIC_AUG_FLIP, MIMIC_AUG_SHIFT, MIMIC_AUG_ALL};
    mimic_rng r[3];
    int flipped = 0, shifted = 0;
    for (int f = 0; f < 3; f++)
        mimic_rng_seed(&r[f], 21);
    for (int trial = 0; trial < 40; trial++)
        for (int f = 0; f < 3; f++) {
            uint8_t mirrored[N];
            mimic_dataset_batch(&d, idx, N, flags[f], 2, &r[f], out, y, mirrored);
            for (int b = 0; b < N; b++) {
                const float *src = x + idx[b] * H * W, *dst = out + b * H * W;
                const int same = memcmp(src, dst, sizeof(float) * H * W) == 0;
                if (flags[f] == MIMIC_AUG_FLIP) { // the image, or its mirror, unshifted
                    TC_CHECK(is_shift_of(src, dst, H, W, 0, bg, 2));
                    TC_CHECK(mirrored[b] == !same); // says which (no test image is symmetric)
                    flipped += !same;
                } else if (flags[f] == MIMIC_AUG_SHIFT) { // shifted, never mirrored
                    TC_CHECK(is_shift_of(src, dst, H, W, 2, bg, 1));
                    TC_CHECK(mirrored[b] == 0);
                    shifted += !same;
                }
            }
        }
    TC_CHECK(flipped > 40 && shifted > 100);
    // The same numbers drawn by every view.
    const uint64_t a = mimic_rng_next(&r[0]), b = mimic_rng_next(&r[1]), c = mimic_rng_next(&r[2]);
    TC_CHECK(a == b && b == c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_batch_and_augment),
        cmocka_unit_test(test_augment_flags),
    };
    return cmocka_run_group_tests_name("data", tests, NULL, NULL);
}
