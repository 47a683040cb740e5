// The IDX reader: good files (plain and gzip), and every corruption it must name — wrong magic,
// wrong type, bad dimension count, huge dimensions, truncation in header and data, trailing
// bytes, a corrupt gzip stream, a missing file — without crashing or reading past the end
// (the sanitizer build runs this too). Then the real Fashion-MNIST test set.
// mkdtemp and truncate are POSIX, not C11.
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "common.h"
#include "train/idx.h"

static char tmpdir[] = "/tmp/mimic-idx-XXXXXX";

static const char *path_of(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static void write_file(const char *name, const uint8_t *bytes, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path_of(name), "wb");
        if (!f || gzwrite(f, bytes, (unsigned)n) != (int)n || gzclose(f) != Z_OK)
            TC_FAIL("cannot write %s", name);
        return;
    }
    FILE *f = fopen(path_of(name), "wb");
    if (!f || fwrite(bytes, 1, n, f) != n || fclose(f) != 0)
        TC_FAIL("cannot write %s", name);
}

// A 3 x 2 x 2 unsigned-byte tensor holding 0..11.
static size_t good_idx(uint8_t *b)
{
    const uint8_t head[] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
    memcpy(b, head, sizeof head);
    for (int i = 0; i < 12; i++)
        b[sizeof head + i] = (uint8_t)i;
    return sizeof head + 12;
}

static void expect_error(const char *name, mimic_status want, const char *must_contain)
{
    mimic_idx idx;
    char err[512] = "";
    const mimic_status st = mimic_idx_load(path_of(name), &idx, err, sizeof err);
    tc_ctx("%s: %s", name, err);
    TC_STATUS(st, want);
    if (!strstr(err, path_of(name)))
        TC_FAIL("the message does not name the file: %s", err);
    if (must_contain && !strstr(err, must_contain))
        TC_FAIL("the message lacks \"%s\": %s", must_contain, err);
    if (idx.data || idx.count)
        TC_FAIL("failed load left data behind");
}

static void test_idx_good(void **state)
{
    (void)state;
    uint8_t b[64];
    const size_t n = good_idx(b);
    for (int gz = 0; gz < 2; gz++) {
        const char *name = gz ? "good.idx.gz" : "good.idx";
        write_file(name, b, n, gz);
        mimic_idx idx;
        char err[256] = "";
        TC_STATUS(mimic_idx_load(path_of(name), &idx, err, sizeof err), MIMIC_OK);
        TC_CHECK(idx.ndim == 3 && idx.dims[0] == 3 && idx.dims[1] == 2 && idx.dims[2] == 2);
        TC_CHECK(idx.count == 12);
        for (int i = 0; i < 12; i++)
            TC_CHECK(idx.data[i] == i);
        mimic_idx_free(&idx);
        TC_CHECK(idx.data == NULL);
    }
}

static void test_idx_corrupt(void **state)
{
    (void)state;
    uint8_t b[64], c[64];
    const size_t n = good_idx(b);
    for (int gz = 0; gz < 2; gz++) {
        char name[64];
#define CASE(label) (snprintf(name, sizeof name, "%s%s", label, gz ? ".gz" : ""), name)
        memcpy(c, b, n);
        c[1] = 0x42;
        write_file(CASE("magic"), c, n, gz);
        expect_error(name, MIMIC_EFORMAT, "offset 0");
        memcpy(c, b, n);
        c[2] = 0x0D; // float: not supported
        write_file(CASE("type"), c, n, gz);
        expect_error(name, MIMIC_EFORMAT, "offset 2");
        memcpy(c, b, n);
        c[3] = 9;
        write_file(CASE("ndim"), c, n, gz);
        expect_error(name, MIMIC_EFORMAT, "offset 3");
        memcpy(c, b, n);
        c[8] = 0x7F; // dimension 1 = 0x7F000002: a 2^31 x 2 x 3-byte claim
        write_file(CASE("huge"), c, n, gz);
        expect_error(name, MIMIC_EFORMAT, "offset 8");
        memcpy(c, b, n);
        c[7] = 0; // dimension 0 = 0
        write_file(CASE("zero"), c, n, gz);
        expect_error(name, MIMIC_EFORMAT, "offset 4");
        write_file(CASE("short-header"), b, 10, gz);
        expect_error(name, MIMIC_EFORMAT, "truncated");
        write_file(CASE("short-data"), b, n - 5, gz);
        expect_error(name, MIMIC_EFORMAT, "ends at byte 23");
        memcpy(c, b, n);
        c[n] = 99;
        write_file(CASE("trailing"), c, n + 1, gz);
        expect_error(name, MIMIC_EFORMAT, "byte 28");
        write_file(CASE("empty"), b, 0, gz);
        expect_error(name, MIMIC_EFORMAT, "truncated");
#undef CASE
    }
}

static void test_idx_bad_gzip(void **state)
{
    (void)state;
    // A gzip file of 4 KiB of data with its deflate stream damaged in the middle.
    uint8_t big[4096 + 16], head[16];
    memcpy(head, (const uint8_t[]){0, 0, 8, 1, 0, 0, 0x10, 0}, 8);
    memcpy(big, head, 8);
    for (size_t i = 8; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 2654435761u >> 24);
    write_file("badgz.gz", big, 4096 + 8, 1);
    FILE *f = fopen(path_of("badgz.gz"), "r+b");
    TC_CHECK(f != NULL);
    fseek(f, 0, SEEK_END);
    const long size = ftell(f);
    for (long at = 20; at < size - 12; at += 7) {
        fseek(f, at, SEEK_SET);
        fputc(0xFF, f);
    }
    fclose(f);
    expect_error("badgz.gz", MIMIC_EFORMAT, "byte");
    // Cut in the middle of the compressed stream.
    write_file("cutgz.gz", big, 4096 + 8, 1);
    TC_CHECK(truncate(path_of("cutgz.gz"), size / 2) == 0);
    expect_error("cutgz.gz", MIMIC_EFORMAT, NULL);
    expect_error("missing.idx", MIMIC_EIO, "cannot open");
}

// The data set the trainer uses (Debian's dataset-fashion-mnist, installed by tools/setup.sh).
static void test_idx_fashion_mnist(void **state)
{
    (void)state;
    const char *dir = "/usr/share/datasets/fashion-mnist";
    char p[256];
    mimic_idx images, labels;
    char err[512] = "";
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
    tc_ctx("%s: %s", p, err);
    TC_STATUS(mimic_idx_load(p, &images, err, sizeof err), MIMIC_OK);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", dir);
    TC_STATUS(mimic_idx_load(p, &labels, err, sizeof err), MIMIC_OK);
    TC_CHECK(images.ndim == 3 && images.dims[0] == 10000 && images.dims[1] == 28 &&
             images.dims[2] == 28);
    TC_CHECK(labels.ndim == 1 && labels.dims[0] == 10000);
    int per_class[10] = {0};
    for (size_t i = 0; i < labels.count; i++) {
        TC_CHECK(labels.data[i] < 10);
        per_class[labels.data[i]]++;
    }
    for (int c = 0; c < 10; c++)
        TC_CHECK(per_class[c] == 1000); // the test set is balanced
    mimic_idx_free(&images);
    mimic_idx_free(&labels);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_good),
        cmocka_unit_test(test_idx_corrupt),
        cmocka_unit_test(test_idx_bad_gzip),
        cmocka_unit_test(test_idx_fashion_mnist),
    };
    return cmocka_run_group_tests_name("idx", tests, setup, teardown);
}
