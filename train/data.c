// Data set loading (IDX files into normalised floats) and batch assembly with augmentation.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train/data.h"
#include "train/idx.h"
#include "train/util.h"

// Fashion-MNIST training-set pixel statistics (in [0, 1]); close enough for MNIST too.
#define PIXEL_MEAN 0.2860f
#define PIXEL_STD 0.3530f

// dir/<stem>, or dir/<stem>.gz if only that exists.
static void find_file(const char *dir, const char *stem, char *path, size_t len)
{
    struct stat sb;
    (void)snprintf(path, len, "%s/%s", dir, stem);
    if (stat(path, &sb) == 0)
        return;
    (void)snprintf(path, len, "%s/%s.gz", dir, stem);
}

mimic_status mimic_dataset_load(const char *dir, int train, mimic_dataset *out, char *err,
                                size_t err_len)
{
    char msg[1200], ipath[512], lpath[512];
    if (!dir || !out)
        return train_fail(err, err_len, MIMIC_EINVAL, "%s", "no data directory given");
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        (void)snprintf(msg, sizeof msg,
                       "data set directory %s not found: install Debian's "
                       "dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass "
                       "--data DIR",
                       dir);
        return train_fail(err, err_len, MIMIC_EIO, "%s", msg);
    }
    const char *split = train ? "train" : "t10k";
    char stem[64];
    (void)snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", split);
    find_file(dir, stem, ipath, sizeof ipath);
    (void)snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", split);
    find_file(dir, stem, lpath, sizeof lpath);
    mimic_idx images, labels;
    mimic_status st = mimic_idx_load(ipath, &images, err, err_len);
    if (st != MIMIC_OK)
        return st;
    st = mimic_idx_load(lpath, &labels, err, err_len);
    if (st != MIMIC_OK) {
        mimic_idx_free(&images);
        return st;
    }
    if (images.ndim != 3 || labels.ndim != 1 || images.dims[0] != labels.dims[0]) {
        (void)snprintf(msg, sizeof msg,
                       "%s and %s do not match: want n x h x w images and n labels", ipath,
                       lpath);
        st = train_fail(err, err_len, MIMIC_EFORMAT, "%s", msg);
    }
    for (size_t i = 0; st == MIMIC_OK && i < labels.count; i++)
        if (labels.data[i] > 9) {
            (void)snprintf(msg, sizeof msg, "%s: label %u at byte %zu is not a class 0..9",
                           lpath, labels.data[i], 8 + i);
            st = train_fail(err, err_len, MIMIC_EFORMAT, "%s", msg);
        }
    if (st == MIMIC_OK) {
        out->n = images.dims[0];
        out->h = images.dims[1];
        out->w = images.dims[2];
        out->classes = 10;
        out->x = malloc(images.count * sizeof(float));
        out->y = malloc(labels.count * sizeof(int32_t));
        if (!out->x || !out->y)
            st = train_fail(err, err_len, MIMIC_ENOMEM, "%s", "no memory for the data set");
    }
    if (st == MIMIC_OK) {
        for (size_t i = 0; i < images.count; i++)
            out->x[i] = ((float)images.data[i] * (1.0f / 255.0f) - PIXEL_MEAN) / PIXEL_STD;
        for (size_t i = 0; i < labels.count; i++)
            out->y[i] = labels.data[i];
    } else {
        mimic_dataset_free(out);
    }
    mimic_idx_free(&images);
    mimic_idx_free(&labels);
    return st;
}

void mimic_dataset_free(mimic_dataset *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof *d);
}

// One image shifted by (dy, dx) pixels and optionally mirrored; outside pixels take the
// normalised value of a black pixel.
static void place_image(const float *src, float *dst, int64_t h, int64_t w, int dy, int dx,
                        int flip)
{
    const float background = -PIXEL_MEAN / PIXEL_STD;
    for (int64_t i = 0; i < h; i++)
        for (int64_t j = 0; j < w; j++) {
            const int64_t si = i - dy, sj0 = j - dx;
            const int64_t sj = flip ? w - 1 - sj0 : sj0;
            dst[i * w + j] =
                si >= 0 && si < h && sj0 >= 0 && sj0 < w ? src[si * w + sj] : background;
        }
}

void mimic_dataset_batch(const mimic_dataset *d, const int32_t *idx, int64_t n, int augment,
                         int max_shift, mimic_rng *rng, float *x, int32_t *y,
                         uint8_t *flipped)
{
    const int64_t hw = d->h * d->w;
    for (int64_t b = 0; b < n; b++) {
        const float *src = d->x + (int64_t)idx[b] * hw;
        y[b] = d->y[idx[b]];
        if (flipped)
            flipped[b] = 0;
        if (!augment) {
            memcpy(x + b * hw, src, (size_t)hw * sizeof(float));
            continue;
        }
        const uint32_t span = (uint32_t)(2 * max_shift + 1);
        const int dy = (int)mimic_rng_below(rng, span) - max_shift;
        const int dx = (int)mimic_rng_below(rng, span) - max_shift;
        const int coin = (int)mimic_rng_below(rng, 2); // drawn whatever the flags
        const int flip = (augment & MIMIC_AUG_FLIP) ? coin : 0;
        const int shift = (augment & MIMIC_AUG_SHIFT) != 0;
        place_image(src, x + b * hw, d->h, d->w, shift ? dy : 0, shift ? dx : 0, flip);
        if (flipped)
            flipped[b] = (uint8_t)flip;
    }
}

void mimic_dataset_image(const mimic_dataset *d, int64_t i, int flip, float *x)
{
    place_image(d->x + i * d->h * d->w, x, d->h, d->w, 0, 0, flip);
}
