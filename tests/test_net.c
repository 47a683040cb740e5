// The sequential network: shapes and parameter counts, backward through conv, ReLU, pool and
// dense against finite differences, and checkpoints (round trip to the same bits; corrupt,
// truncated or mismatched files refused without touching the network; no temp file left).
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "train/net.h"

enum { B = 3 };

static void build(mimic_net *net, uint64_t seed)
{
    mimic_rng r;
    mimic_rng_seed(&r, seed);
    TC_STATUS(mimic_net_init(net, 2, 6, 6, B), MIMIC_OK);
    TC_STATUS(mimic_net_add_conv(net, 4, 3, 1, 1), MIMIC_OK);
    TC_STATUS(mimic_net_add_relu(net), MIMIC_OK);
    TC_STATUS(mimic_net_add_pool(net), MIMIC_OK);
    TC_STATUS(mimic_net_add_dense(net, 7, 0), MIMIC_OK); // a bottleneck: no bias
    TC_STATUS(mimic_net_add_dense(net, 5, 1), MIMIC_OK);
    TC_STATUS(mimic_net_finalize(net, &r), MIMIC_OK);
    // Non-zero biases so the ReLU sees both signs.
    for (int64_t i = 0; i < net->layers[0].bias.n; i++)
        net->layers[0].bias.w[i] = 0.1f * (float)(i % 3) - 0.1f;
}

static double loss_of(mimic_net *net, const float *x, const float *g)
{
    const float *out;
    TC_STATUS(mimic_net_forward(net, B, x, &out), MIMIC_OK);
    double l = 0.0;
    for (int64_t i = 0; i < B * mimic_net_outputs(net); i++)
        l += (double)out[i] * g[i];
    return l;
}

static void check_param_fd_h(mimic_net *net, const float *x, const float *g, mimic_param *p,
                             const char *what, float h)
{
    for (int64_t k = 0; k < p->n; k += 1 + p->n / 11) {
        const float keep = p->w[k];
        p->w[k] = keep + h;
        const double lp = loss_of(net, x, g);
        p->w[k] = keep - h;
        const double lm = loss_of(net, x, g);
        p->w[k] = keep;
        tc_ctx("%s[%lld]", what, (long long)k);
        tc_check_near1("gradient vs finite difference", p->g[k], (lp - lm) / (2.0 * h),
                       2e-3 * (1.0 + fabs(p->g[k])));
    }
}

static void check_param_fd(mimic_net *net, const float *x, const float *g, mimic_param *p,
                           const char *what)
{
    check_param_fd_h(net, x, g, p, what, 1e-2f);
}

static void test_shapes_and_gradients(void **state)
{
    (void)state;
    mimic_net net;
    build(&net, 5);
    TC_CHECK(net.n_layers == 5 && mimic_net_outputs(&net) == 5);
    TC_CHECK(net.layers[3].in_c == 4 * 3 * 3);
    TC_CHECK(mimic_net_param_count(&net) == (4 * 2 * 9 + 4) + 36 * 7 + (7 * 5 + 5));
    tc_rng r = tc_rng_seed(11);
    float x[B * 2 * 36], g[B * 5];
    tc_fill_uniform(&r, x, B * 2 * 36, -1.0f, 1.0f);
    tc_fill_uniform(&r, g, B * 5, -1.0f, 1.0f);
    TC_FOR_EACH_ISA(isa) {
        (void)loss_of(&net, x, g);
        TC_STATUS(mimic_net_backward(&net, B, g), MIMIC_OK);
        check_param_fd(&net, x, g, &net.layers[0].weight, "conv weight");
        check_param_fd(&net, x, g, &net.layers[0].bias, "conv bias");
        check_param_fd(&net, x, g, &net.layers[3].dense.weight, "bottleneck weight");
        check_param_fd(&net, x, g, &net.layers[4].dense.weight, "dense weight");
        check_param_fd(&net, x, g, &net.layers[4].dense.bias, "dense bias");
    }
    const float *out;
    TC_STATUS(mimic_net_forward(&net, B + 1, x, &out), MIMIC_EINVAL); // over the batch cap
    mimic_net_free(&net);
}

// Two conv -> ReLU -> pool blocks (the second needs d loss / d input through the first), run
// one image at a time (a stage of one image) and whole-batch: the same outputs, gradients
// that agree (summed per chunk, so not to the bit) and match finite differences.
static void build_two_blocks(mimic_net *net, int64_t stage_bytes)
{
    mimic_rng r;
    mimic_rng_seed(&r, 9);
    TC_STATUS(mimic_net_init(net, 2, 8, 8, B), MIMIC_OK);
    net->stage_bytes = stage_bytes;
    for (int i = 0; i < 2; i++) {
        TC_STATUS(mimic_net_add_conv(net, 3 + i, 3, 1, 1), MIMIC_OK);
        TC_STATUS(mimic_net_add_relu(net), MIMIC_OK);
        TC_STATUS(mimic_net_add_pool(net), MIMIC_OK);
    }
    TC_STATUS(mimic_net_add_dense(net, 5, 1), MIMIC_OK);
    TC_STATUS(mimic_net_finalize(net, &r), MIMIC_OK);
    for (int64_t i = 0; i < net->layers[0].bias.n; i++)
        net->layers[0].bias.w[i] = 0.1f * (float)(i % 3) - 0.1f;
}

static void test_chunked_conv_relu_pool(void **state)
{
    (void)state;
    mimic_net one, all;
    build_two_blocks(&one, 1);       // a chunk of one image
    build_two_blocks(&all, 1 << 20); // the whole batch at once
    TC_CHECK(one.layers[0].chunk == 1 && one.layers[3].chunk == 1);
    TC_CHECK(all.layers[0].chunk == B && all.layers[3].chunk == B);
    tc_rng r = tc_rng_seed(12);
    float x[B * 2 * 64], g[B * 5];
    tc_fill_uniform(&r, x, B * 2 * 64, -1.0f, 1.0f);
    tc_fill_uniform(&r, g, B * 5, -1.0f, 1.0f);
    TC_FOR_EACH_ISA(isa) {
        const float *o1, *o2;
        TC_STATUS(mimic_net_forward(&one, B, x, &o1), MIMIC_OK);
        TC_STATUS(mimic_net_forward(&all, B, x, &o2), MIMIC_OK);
        for (int i = 0; i < B * 5; i++)
            tc_check_near1("output, chunk 1 vs batch", o1[i], o2[i], 1e-5 * (1.0 + fabs(o2[i])));
        TC_STATUS(mimic_net_backward(&one, B, g), MIMIC_OK);
        TC_STATUS(mimic_net_backward(&all, B, g), MIMIC_OK);
        for (int l = 0; l < 6; l += 3)
            for (int64_t k = 0; k < one.layers[l].weight.n; k++) {
                const float want = all.layers[l].weight.g[k];
                tc_check_near1("conv weight gradient, chunk 1 vs batch",
                               one.layers[l].weight.g[k], want, 1e-5 * (1.0 + fabs(want)));
            }
        // A smaller step: two pools' winners and two ReLUs switch within 1e-2 here.
        check_param_fd_h(&one, x, g, &one.layers[0].weight, "first conv weight", 1e-3f);
        check_param_fd_h(&one, x, g, &one.layers[0].bias, "first conv bias", 1e-3f);
        check_param_fd_h(&one, x, g, &one.layers[3].weight, "second conv weight", 1e-3f);
    }
    mimic_net_free(&one);
    mimic_net_free(&all);
}

// conv -> ReLU -> pool -> pool (the conv-form student's 4x4 pool as two 2x2): the second
// pool runs with the chunks too. One image at a time against the whole batch: the same
// outputs, agreeing gradients, and gradients that match finite differences.
static void build_pool4(mimic_net *net, int64_t stage_bytes)
{
    mimic_rng r;
    mimic_rng_seed(&r, 19);
    TC_STATUS(mimic_net_init(net, 2, 8, 8, B), MIMIC_OK);
    net->stage_bytes = stage_bytes;
    TC_STATUS(mimic_net_add_conv(net, 3, 3, 1, 1), MIMIC_OK);
    TC_STATUS(mimic_net_add_relu(net), MIMIC_OK);
    TC_STATUS(mimic_net_add_pool(net), MIMIC_OK);
    TC_STATUS(mimic_net_add_pool(net), MIMIC_OK);
    TC_STATUS(mimic_net_add_dense(net, 5, 1), MIMIC_OK);
    TC_STATUS(mimic_net_finalize(net, &r), MIMIC_OK);
    for (int64_t i = 0; i < net->layers[0].bias.n; i++)
        net->layers[0].bias.w[i] = 0.1f * (float)(i % 3) - 0.1f;
}

static void test_chunked_second_pool(void **state)
{
    (void)state;
    mimic_net one, all;
    build_pool4(&one, 1);       // a chunk of one image
    build_pool4(&all, 1 << 20); // the whole batch at once
    TC_CHECK(one.layers[0].chunk == 1 && all.layers[0].chunk == B);
    tc_rng r = tc_rng_seed(17);
    float x[B * 2 * 64], g[B * 5];
    tc_fill_uniform(&r, x, B * 2 * 64, -1.0f, 1.0f);
    tc_fill_uniform(&r, g, B * 5, -1.0f, 1.0f);
    TC_FOR_EACH_ISA(isa) {
        const float *o1, *o2;
        TC_STATUS(mimic_net_forward(&one, B, x, &o1), MIMIC_OK);
        TC_STATUS(mimic_net_forward(&all, B, x, &o2), MIMIC_OK);
        for (int i = 0; i < B * 5; i++)
            tc_check_near1("output, chunk 1 vs batch", o1[i], o2[i], 1e-5 * (1.0 + fabs(o2[i])));
        TC_STATUS(mimic_net_backward(&one, B, g), MIMIC_OK);
        TC_STATUS(mimic_net_backward(&all, B, g), MIMIC_OK);
        for (int64_t k = 0; k < one.layers[0].weight.n; k++) {
            const float want = all.layers[0].weight.g[k];
            tc_check_near1("conv weight gradient, chunk 1 vs batch", one.layers[0].weight.g[k],
                           want, 1e-5 * (1.0 + fabs(want)));
        }
        check_param_fd_h(&one, x, g, &one.layers[0].weight, "conv weight", 1e-3f);
        check_param_fd_h(&one, x, g, &one.layers[0].bias, "conv bias", 1e-3f);
        check_param_fd(&one, x, g, &one.layers[4].dense.weight, "dense weight");
    }
    mimic_net_free(&one);
    mimic_net_free(&all);
}

// dense -> ReLU -> dropout -> dense: in evaluation mode the dropout layer passes its input
// through (the same outputs as the net without it, whose weights it shares: dropout draws
// nothing at initialisation); in training mode a key fixes the draws, so the gradients match
// finite differences of that same function; another key gives other outputs.
static void build_dropout(mimic_net *net, float p)
{
    mimic_rng r;
    mimic_rng_seed(&r, 21);
    TC_STATUS(mimic_net_init(net, 1, 4, 5, B), MIMIC_OK);
    TC_STATUS(mimic_net_add_dense(net, 64, 1), MIMIC_OK);
    TC_STATUS(mimic_net_add_relu(net), MIMIC_OK);
    if (p > 0.0f)
        TC_STATUS(mimic_net_add_dropout(net, p), MIMIC_OK);
    TC_STATUS(mimic_net_add_dense(net, 5, 1), MIMIC_OK);
    TC_STATUS(mimic_net_finalize(net, &r), MIMIC_OK);
}

static void test_dropout(void **state)
{
    (void)state;
    mimic_net net, plain;
    build_dropout(&net, 0.5f);
    build_dropout(&plain, 0.0f);
    TC_CHECK(mimic_net_param_count(&net) == mimic_net_param_count(&plain));
    TC_STATUS(mimic_net_add_dropout(&plain, 1.0f), MIMIC_EINVAL);
    TC_STATUS(mimic_net_add_dropout(&plain, -0.5f), MIMIC_EINVAL);
    tc_rng r = tc_rng_seed(13);
    float x[B * 20], g[B * 5], eval[B * 5];
    tc_fill_uniform(&r, x, B * 20, -1.0f, 1.0f);
    tc_fill_uniform(&r, g, B * 5, -1.0f, 1.0f);
    TC_FOR_EACH_ISA(isa) {
        const float *o1, *o2;
        TC_STATUS(mimic_net_forward(&net, B, x, &o1), MIMIC_OK);
        memcpy(eval, o1, sizeof eval);
        TC_STATUS(mimic_net_forward(&plain, B, x, &o2), MIMIC_OK);
        tc_check_bitwise("evaluation mode vs no dropout layer", eval, o2, B * 5);
        mimic_net_set_training(&net, 1, 7);
        TC_STATUS(mimic_net_forward(&net, B, x, &o1), MIMIC_OK);
        TC_CHECK(memcmp(o1, eval, sizeof eval) != 0);
        // About half the hidden units dropped, the rest doubled.
        int64_t zero = 0;
        for (int64_t i = 0; i < B * 64; i++) {
            const float h = net.act[2][i], d = net.act[3][i];
            TC_CHECK(d == 0.0f || d == 2.0f * h);
            zero += d == 0.0f && h > 0.0f;
        }
        TC_CHECK(zero > 0);
        TC_STATUS(mimic_net_backward(&net, B, g), MIMIC_OK);
        check_param_fd(&net, x, g, &net.layers[0].dense.weight, "dense before dropout");
        check_param_fd(&net, x, g, &net.layers[0].dense.bias, "its bias");
        check_param_fd(&net, x, g, &net.layers[3].dense.weight, "dense after dropout");
        float k7[B * 5];
        TC_STATUS(mimic_net_forward(&net, B, x, &o1), MIMIC_OK);
        memcpy(k7, o1, sizeof k7);
        mimic_net_set_training(&net, 1, 8);
        TC_STATUS(mimic_net_forward(&net, B, x, &o1), MIMIC_OK);
        TC_CHECK(memcmp(o1, k7, sizeof k7) != 0);
        mimic_net_set_training(&net, 0, 0);
        TC_STATUS(mimic_net_forward(&net, B, x, &o1), MIMIC_OK);
        tc_check_bitwise("evaluation mode again", o1, eval, B * 5);
    }
    mimic_net_free(&net);
    mimic_net_free(&plain);
}

// dense -> ReLU -> dense: the ReLU fused into the first layer's product (forward) and into the
// second layer's input gradient (backward); the gradients of both layers, through the mask,
// match finite differences, and the hidden activations are the ReLU's.
static void test_dense_relu_dense(void **state)
{
    (void)state;
    mimic_net net;
    build_dropout(&net, 0.0f);
    TC_CHECK(net.n_layers == 3 && net.layers[1].kind == MIMIC_LAYER_RELU);
    tc_rng r = tc_rng_seed(14);
    float x[B * 20], g[B * 5];
    tc_fill_uniform(&r, x, B * 20, -1.0f, 1.0f);
    tc_fill_uniform(&r, g, B * 5, -1.0f, 1.0f);
    TC_FOR_EACH_ISA(isa) {
        (void)loss_of(&net, x, g);
        int64_t positive = 0, zero = 0;
        for (int64_t i = 0; i < B * 64; i++) {
            TC_CHECK(net.act[2][i] >= 0.0f);
            positive += net.act[2][i] > 0.0f;
            zero += net.act[2][i] == 0.0f;
        }
        TC_CHECK(positive > 0 && zero > 0); // both sides of the ReLU are exercised
        TC_STATUS(mimic_net_backward(&net, B, g), MIMIC_OK);
        check_param_fd(&net, x, g, &net.layers[0].dense.weight, "dense before the ReLU");
        check_param_fd(&net, x, g, &net.layers[0].dense.bias, "its bias");
        check_param_fd(&net, x, g, &net.layers[2].dense.weight, "dense after the ReLU");
    }
    mimic_net_free(&net);
}

// Bitwise equality of two parameter arrays (NULL and empty alike for layers without one).
static int same(const float *a, const float *b, int64_t n)
{
    return n == 0 || memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

// Dense layers wider than ref step at ref / inputs of the rate; conv layers and narrow dense
// layers keep the full rate.
static void test_lr_scale(void **state)
{
    (void)state;
    mimic_net net;
    build(&net, 5);
    mimic_net_scale_lr_by_fan_in(&net, 9.0f); // dense inputs: 4*3*3 = 36, then 7
    TC_CHECK(net.layers[0].weight.lr_scale == 1.0f);
    TC_CHECK(net.layers[3].dense.weight.lr_scale == 0.25f);
    TC_CHECK(net.layers[4].dense.weight.lr_scale == 1.0f);
    TC_CHECK(net.layers[4].dense.bias.lr_scale == 1.0f);
    mimic_net_free(&net);
}

// The clipping factor: max / norm of all gradients together when the norm exceeds max, else 1;
// a step with it is the step on gradients scaled in memory first, to the bit.
static void test_clip_scale(void **state)
{
    (void)state;
    mimic_net a, b;
    build(&a, 3);
    build(&b, 3);
    mimic_param *pa[MIMIC_NET_MAX_PARAMS], *pb[MIMIC_NET_MAX_PARAMS];
    const int np = mimic_net_params(&a, pa);
    TC_CHECK(mimic_net_params(&b, pb) == np);
    double want = 0.0;
    for (int i = 0; i < np; i++)
        for (int64_t j = 0; j < pa[i]->n; j++) {
            pa[i]->g[j] = pb[i]->g[j] = (float)((j * 7 + i) % 11) * 0.125f - 0.5f;
            pa[i]->v[j] = pb[i]->v[j] = 0.01f * (float)(j % 5);
            want += (double)pa[i]->g[j] * pa[i]->g[j];
        }
    want = sqrt(want);
    double norm = 0.0;
    TC_CHECK(mimic_net_clip_scale(&a, 2.0 * want, &norm) == 1.0f);
    tc_check_near1("gradient norm", norm, want, 1e-12 * want);
    const float s = mimic_net_clip_scale(&a, 0.5 * want, NULL);
    TC_CHECK(s == (float)(0.5 * want / norm));
    for (int i = 0; i < np; i++)
        for (int64_t j = 0; j < pb[i]->n; j++)
            pb[i]->g[j] *= s;
    const mimic_sgd opt = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 5e-4f};
    mimic_net_step(&a, &opt, s);
    mimic_net_step(&b, &opt, 1.0f);
    for (int i = 0; i < np; i++) {
        tc_check_bitwise("weights after a clipped step", pa[i]->w, pb[i]->w, (size_t)pa[i]->n);
        tc_check_bitwise("momentum after a clipped step", pa[i]->v, pb[i]->v, (size_t)pa[i]->n);
    }
    mimic_net_free(&a);
    mimic_net_free(&b);
}

static void test_checkpoint(void **state)
{
    (void)state;
    char dir[] = "/tmp/mimic-ckpt-XXXXXX", path[128], tmp[160], err[512] = "";
    TC_CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/net.ckpt", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    mimic_net a, b, other;
    build(&a, 1);
    build(&b, 2);
    a.layers[4].dense.weight.v[3] = 0.25f; // momentum is part of the state
    const int64_t state_out[2] = {17, 42};
    int64_t state_in[2] = {0, 0};
    TC_STATUS(mimic_net_save(&a, path, state_out, sizeof state_out, err, sizeof err), MIMIC_OK);
    TC_CHECK(access(tmp, F_OK) != 0);
    TC_STATUS(mimic_net_load(&b, path, state_in, sizeof state_in, err, sizeof err), MIMIC_OK);
    TC_CHECK(state_in[0] == 17 && state_in[1] == 42);
    for (int i = 0; i < a.n_layers; i++) {
        const mimic_layer *la = &a.layers[i], *lb = &b.layers[i];
        TC_CHECK(same(la->weight.w, lb->weight.w, la->weight.n));
        TC_CHECK(same(la->bias.w, lb->bias.w, la->bias.n));
        TC_CHECK(same(la->dense.weight.w, lb->dense.weight.w, la->dense.weight.n));
        TC_CHECK(same(la->dense.weight.v, lb->dense.weight.v, la->dense.weight.n));
    }
    // A different architecture is refused, and leaves the network as it was.
    mimic_rng r;
    mimic_rng_seed(&r, 3);
    TC_STATUS(mimic_net_init(&other, 2, 6, 6, B), MIMIC_OK);
    TC_STATUS(mimic_net_add_dense(&other, 5, 1), MIMIC_OK);
    TC_STATUS(mimic_net_finalize(&other, &r), MIMIC_OK);
    const float w0 = other.layers[0].dense.weight.w[0];
    TC_STATUS(mimic_net_load(&other, path, state_in, sizeof state_in, err, sizeof err),
              MIMIC_EFORMAT);
    TC_CHECK(other.layers[0].dense.weight.w[0] == w0);
    // One flipped byte, then a truncated file: both refused, naming the file.
    FILE *f = fopen(path, "r+b");
    TC_CHECK(f != NULL);
    fseek(f, 100, SEEK_SET);
    const int c = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
    TC_STATUS(mimic_net_load(&b, path, state_in, sizeof state_in, err, sizeof err),
              MIMIC_EFORMAT);
    if (!strstr(err, path) || !strstr(err, "CRC"))
        TC_FAIL("unexpected message: %s", err);
    TC_CHECK(truncate(path, 50) == 0);
    TC_STATUS(mimic_net_load(&b, path, state_in, sizeof state_in, err, sizeof err),
              MIMIC_EFORMAT);
    TC_STATUS(mimic_net_load(&b, "/nonexistent/x.ckpt", NULL, 0, err, sizeof err), MIMIC_EIO);
    // A directory that does not exist: the save fails cleanly.
    TC_STATUS(mimic_net_save(&a, "/nonexistent/dir/x.ckpt", NULL, 0, err, sizeof err),
              MIMIC_EIO);
    remove(path);
    rmdir(dir);
    mimic_net_free(&a);
    mimic_net_free(&b);
    mimic_net_free(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes_and_gradients),
        cmocka_unit_test(test_chunked_conv_relu_pool),
        cmocka_unit_test(test_dense_relu_dense),
        cmocka_unit_test(test_chunked_second_pool),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_lr_scale),
        cmocka_unit_test(test_clip_scale),
        cmocka_unit_test(test_checkpoint),
    };
    return cmocka_run_group_tests_name("net", tests, tc_group_setup, tc_group_teardown);
}
