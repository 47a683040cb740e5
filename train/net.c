// The sequential network: layer shapes, buffers, forward, backward and the SGD step.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/net.h"

mimic_status mimic_net_init(mimic_net *net, int64_t c, int64_t h, int64_t w, int64_t batch_cap)
{
    if (!net || c < 1 || h < 1 || w < 1 || batch_cap < 1)
        return MIMIC_EINVAL;
    memset(net, 0, sizeof *net);
    net->batch_cap = batch_cap;
    // A zero-layer network's "output" is its input shape; layers chain from it.
    net->layers[0].in_c = c;
    net->layers[0].in_h = h;
    net->layers[0].in_w = w;
    return MIMIC_OK;
}

// The next layer, with its input shape set from the previous output; NULL when full.
static mimic_layer *append(mimic_net *net, mimic_layer_kind kind)
{
    if (!net || net->n_layers >= MIMIC_NET_MAX_LAYERS)
        return NULL;
    mimic_layer *l = &net->layers[net->n_layers];
    if (net->n_layers > 0) {
        const mimic_layer *prev = &net->layers[net->n_layers - 1];
        l->in_c = prev->out_c;
        l->in_h = prev->out_h;
        l->in_w = prev->out_w;
    }
    l->kind = kind;
    l->out_c = l->in_c;
    l->out_h = l->in_h;
    l->out_w = l->in_w;
    return l;
}

mimic_status mimic_net_add_conv(mimic_net *net, int64_t k, int64_t r, int64_t stride,
                                int64_t pad)
{
    mimic_layer *l = append(net, MIMIC_LAYER_CONV);
    if (!l || k < 1)
        return MIMIC_EINVAL;
    l->conv = (mimic_conv2d){.n = 1, .c = l->in_c, .h = l->in_h, .w = l->in_w, .k = k, .r = r,
                             .s = r, .stride_h = stride, .stride_w = stride, .pad_h = pad,
                             .pad_w = pad};
    if (mimic_conv2d_out_hw(&l->conv, &l->out_h, &l->out_w) != MIMIC_OK)
        return MIMIC_EINVAL;
    l->out_c = k;
    net->n_layers++;
    return MIMIC_OK;
}

mimic_status mimic_net_add_relu(mimic_net *net)
{
    if (!append(net, MIMIC_LAYER_RELU))
        return MIMIC_EINVAL;
    net->n_layers++;
    return MIMIC_OK;
}

mimic_status mimic_net_add_pool(mimic_net *net)
{
    mimic_layer *l = append(net, MIMIC_LAYER_POOL);
    if (!l || l->in_h % 2 || l->in_w % 2 || l->in_w > MIMIC_POOL_MAX_WIDTH)
        return MIMIC_EINVAL;
    l->out_h = l->in_h / 2;
    l->out_w = l->in_w / 2;
    net->n_layers++;
    return MIMIC_OK;
}

mimic_status mimic_net_add_dense(mimic_net *net, int64_t out, int has_bias)
{
    mimic_layer *l = append(net, MIMIC_LAYER_DENSE);
    if (!l || out < 1)
        return MIMIC_EINVAL;
    l->in_c = l->in_c * l->in_h * l->in_w; // flatten: NCHW images are contiguous features
    l->in_h = l->in_w = 1;
    l->out_c = out;
    l->out_h = l->out_w = 1;
    l->has_bias = has_bias != 0;
    net->n_layers++;
    return MIMIC_OK;
}

mimic_status mimic_net_add_dropout(mimic_net *net, float p)
{
    mimic_layer *l = append(net, MIMIC_LAYER_DROPOUT);
    if (!l || !(p >= 0.0f && p < 1.0f))
        return MIMIC_EINVAL;
    l->drop = p;
    net->n_layers++;
    return MIMIC_OK;
}

void mimic_net_set_training(mimic_net *net, int on, uint64_t key)
{
    if (!net)
        return;
    net->training = on != 0;
    net->dropout_key = key;
}

static int64_t in_size(const mimic_layer *l)
{
    return l->in_c * l->in_h * l->in_w;
}

static int64_t out_size(const mimic_layer *l)
{
    return l->out_c * l->out_h * l->out_w;
}

static int is_kind(const mimic_net *net, int i, mimic_layer_kind kind)
{
    return i >= 0 && i < net->n_layers && net->layers[i].kind == kind;
}

// Whether layer i is a conv whose ReLU and pool run with it, chunk by chunk.
static int conv_relu_pool(const mimic_net *net, int i)
{
    return is_kind(net, i, MIMIC_LAYER_CONV) && is_kind(net, i + 1, MIMIC_LAYER_RELU) &&
           is_kind(net, i + 2, MIMIC_LAYER_POOL);
}

// Whether a second pool follows such a conv's pool (a 4x4 pool as two 2x2): it runs with the
// chunks as well, so the first pool's output and its gradient are read while in cache.
static int second_pool(const mimic_net *net, int i)
{
    return conv_relu_pool(net, i) && is_kind(net, i + 3, MIMIC_LAYER_POOL);
}

// The conv whose chunked block (conv, ReLU, pool, perhaps a second pool) ends at layer i, or
// -1 if no such block ends there.
static int block_conv(const mimic_net *net, int i)
{
    if (second_pool(net, i - 3))
        return i - 3;
    return conv_relu_pool(net, i - 2) && !second_pool(net, i - 2) ? i - 2 : -1;
}

// Bytes of conv output per chunk by default: the chunk's output and its lowering panels stay
// in the cores' L2 (2 MB each on the machines measured; docs/distill.md).
#define STAGE_BYTES (1 << 20)

mimic_status mimic_net_finalize(mimic_net *net, mimic_rng *rng)
{
    if (!net || net->n_layers < 1 || !rng)
        return MIMIC_EINVAL;
    const int64_t B = net->batch_cap;
    for (int i = 0; i < net->n_layers; i++) {
        mimic_layer *l = &net->layers[i];
        mimic_status st = MIMIC_OK;
        if (l->kind == MIMIC_LAYER_CONV) {
            const int64_t fan_in = l->in_c * l->conv.r * l->conv.s;
            st = mimic_param_init(&l->weight, l->out_c * fan_in);
            if (st == MIMIC_OK)
                st = mimic_param_init(&l->bias, l->out_c);
            if (st == MIMIC_OK)
                mimic_init_he(&l->weight, fan_in, rng);
            if (st == MIMIC_OK && conv_relu_pool(net, i)) {
                const int64_t per_image = out_size(l) * (int64_t)sizeof(float);
                const int64_t stage = net->stage_bytes > 0 ? net->stage_bytes : STAGE_BYTES;
                l->chunk = per_image < stage ? stage / per_image : 1;
                l->chunk = l->chunk < B ? l->chunk : B;
                l->stage = malloc((size_t)(l->chunk * out_size(l)) * sizeof(float));
                l->part = malloc((size_t)(l->weight.n + l->bias.n) * sizeof(float));
                st = l->stage && l->part ? MIMIC_OK : MIMIC_ENOMEM;
                if (st == MIMIC_OK && second_pool(net, i)) {
                    // The first pool's output size: a quarter of the conv's.
                    l->pool_grad = malloc((size_t)(l->chunk * out_size(l) / 4) * sizeof(float));
                    st = l->pool_grad ? MIMIC_OK : MIMIC_ENOMEM;
                }
            }
        } else if (l->kind == MIMIC_LAYER_DENSE) {
            st = mimic_dense_init(&l->dense, l->in_c, l->out_c, l->has_bias);
            if (st == MIMIC_OK)
                mimic_init_he(&l->dense.weight, l->in_c, rng);
        } else if (l->kind == MIMIC_LAYER_POOL) {
            l->argmax = malloc((size_t)(B * out_size(l)));
            st = l->argmax ? MIMIC_OK : MIMIC_ENOMEM;
        } else if (l->kind == MIMIC_LAYER_DROPOUT) {
            l->mask = malloc((size_t)(B * out_size(l)));
            st = l->mask ? MIMIC_OK : MIMIC_ENOMEM;
        }
        net->act[i + 1] = malloc((size_t)(B * out_size(l)) * sizeof(float));
        net->grad[i] = malloc((size_t)(B * in_size(l)) * sizeof(float));
        if (st == MIMIC_OK && (!net->act[i + 1] || !net->grad[i]))
            st = MIMIC_ENOMEM;
        if (st != MIMIC_OK) {
            mimic_net_free(net);
            return st;
        }
    }
    return MIMIC_OK;
}

void mimic_net_free(mimic_net *net)
{
    if (!net)
        return;
    for (int i = 0; i < net->n_layers; i++) {
        mimic_layer *l = &net->layers[i];
        mimic_param_free(&l->weight);
        mimic_param_free(&l->bias);
        mimic_dense_free(&l->dense);
        free(l->argmax);
        free(l->mask);
        free(l->stage);
        free(l->part);
        free(l->pool_grad);
        free(net->act[i + 1]);
        free(net->grad[i]);
    }
    memset(net, 0, sizeof *net);
}

int64_t mimic_net_outputs(const mimic_net *net)
{
    return net->n_layers > 0 ? out_size(&net->layers[net->n_layers - 1]) : 0;
}

int64_t mimic_net_param_count(const mimic_net *net)
{
    mimic_param *ps[MIMIC_NET_MAX_PARAMS];
    const int np = mimic_net_params((mimic_net *)net, ps); // only reads the sizes
    int64_t n = 0;
    for (int i = 0; i < np; i++)
        n += ps[i]->n;
    return n;
}

// A dropout layer's forward: drops in training mode, copies otherwise.
static mimic_status dropout_forward(mimic_net *net, int i, int64_t batch, const float *x,
                                    float *y)
{
    mimic_layer *l = &net->layers[i];
    const int64_t n = batch * in_size(l);
    l->masked = net->training && l->drop > 0.0f;
    if (!l->masked) {
        memcpy(y, x, (size_t)n * sizeof(float));
        return MIMIC_OK;
    }
    // Each layer its own draws: the key mixed with the layer's index.
    const uint64_t key = net->dropout_key ^ mimic_rng_at(0x6D696D6963ull, (uint64_t)i);
    return mimic_dropout_forward(n, l->drop, key, x, y, l->mask);
}

static mimic_status layer_forward(mimic_layer *l, int64_t batch, const float *x, float *y)
{
    switch (l->kind) {
    case MIMIC_LAYER_CONV:
        l->conv.n = batch;
        return mimic_conv2d_fwd(&l->conv, x, l->weight.w, l->bias.w, y);
    case MIMIC_LAYER_RELU:
        mimic_relu_forward(batch * in_size(l), x, y);
        return MIMIC_OK;
    case MIMIC_LAYER_POOL:
        return mimic_maxpool2_forward(batch, l->in_c, l->in_h, l->in_w, x, y, l->argmax);
    case MIMIC_LAYER_DENSE:
        return mimic_dense_forward(&l->dense, batch, x, y);
    case MIMIC_LAYER_DROPOUT: // needs the network's mode: dropout_forward
        break;
    }
    return MIMIC_EINVAL;
}

// Conv (layer i) -> ReLU -> pool, chunk by chunk: the conv writes its ReLU'ed output into
// the stage, the pool reads it from there into its own output (layer i + 2's). The ReLU's
// output buffer is not written: the backward pass reads the pool's output instead.
static mimic_status conv_relu_pool_forward(mimic_net *net, int i, int64_t batch, const float *x)
{
    mimic_layer *l = &net->layers[i], *pool = &net->layers[i + 2];
    const mimic_layer *pool2 = second_pool(net, i) ? &net->layers[i + 3] : NULL;
    const int64_t in = in_size(l), out = out_size(pool), out2 = pool2 ? out_size(pool2) : 0;
    mimic_status st = MIMIC_OK;
    for (int64_t b = 0; b < batch && st == MIMIC_OK; b += l->chunk) {
        l->conv.n = batch - b < l->chunk ? batch - b : l->chunk;
        st = mimic_conv2d_fwd_ex(&l->conv, x + b * in, l->weight.w, l->bias.w, l->stage,
                                 MIMIC_CONV_RELU);
        if (st == MIMIC_OK)
            st = mimic_maxpool2_forward(l->conv.n, pool->in_c, pool->in_h, pool->in_w,
                                        l->stage, net->act[i + 3] + b * out,
                                        pool->argmax + b * out);
        if (st == MIMIC_OK && pool2)
            st = mimic_maxpool2_forward(l->conv.n, pool2->in_c, pool2->in_h, pool2->in_w,
                                        net->act[i + 3] + b * out, net->act[i + 4] + b * out2,
                                        pool2->argmax + b * out2);
    }
    return st;
}

// Its backward, chunk by chunk: the ReLU+pool backward writes d loss / d conv output into the
// stage, the conv's gradients come from there (dx, if not NULL, too). Each chunk's weight
// and bias gradients are added in chunk order: the same bits for any thread count. With
// relu_in, x is a ReLU's output and dx becomes d loss / d that ReLU's input, masked by x > 0
// chunk by chunk while the chunk's dx is still in cache (not in a pass over the batch).
// With a second pool, dy is d loss / d its output, taken back through it chunk by chunk.
static mimic_status conv_relu_pool_backward(mimic_net *net, int i, int64_t batch,
                                            const float *x, const float *dy, float *dx,
                                            int relu_in)
{
    mimic_layer *l = &net->layers[i];
    const mimic_layer *pool = &net->layers[i + 2];
    const mimic_layer *pool2 = second_pool(net, i) ? &net->layers[i + 3] : NULL;
    const int64_t in = in_size(l), out = out_size(pool), nw = l->weight.n, nb = l->bias.n;
    const int64_t out2 = pool2 ? out_size(pool2) : 0;
    mimic_status st = MIMIC_OK;
    for (int64_t b = 0; b < batch && st == MIMIC_OK; b += l->chunk) {
        l->conv.n = batch - b < l->chunk ? batch - b : l->chunk;
        const int first = b == 0;
        const float *dpool = pool2 ? l->pool_grad : dy + b * out;
        if (pool2)
            st = mimic_maxpool2_backward(l->conv.n, pool2->in_c, pool2->in_h, pool2->in_w,
                                         pool2->argmax + b * out2, dy + b * out2, l->pool_grad);
        if (st == MIMIC_OK)
            st = mimic_relu_maxpool2_backward(l->conv.n, pool->in_c, pool->in_h, pool->in_w,
                                              pool->argmax + b * out, net->act[i + 3] + b * out,
                                              dpool, l->stage);
        if (st == MIMIC_OK)
            st = mimic_conv2d_bwd_weights(&l->conv, x + b * in, l->stage,
                                          first ? l->weight.g : l->part,
                                          first ? l->bias.g : l->part + nw);
        for (int64_t j = 0; st == MIMIC_OK && !first && j < nw; j++)
            l->weight.g[j] += l->part[j];
        for (int64_t j = 0; st == MIMIC_OK && !first && j < nb; j++)
            l->bias.g[j] += l->part[nw + j];
        if (st == MIMIC_OK && dx)
            st = mimic_conv2d_bwd_data(&l->conv, l->stage, l->weight.w, dx + b * in);
        if (st == MIMIC_OK && dx && relu_in)
            mimic_relu_backward(l->conv.n * in, x + b * in, dx + b * in, dx + b * in);
    }
    return st;
}

mimic_status mimic_net_forward(mimic_net *net, int64_t batch, const float *x, const float **out)
{
    if (!net || net->n_layers < 1 || !net->act[1] || batch < 1 || batch > net->batch_cap || !x ||
        !out)
        return MIMIC_EINVAL;
    net->input = x;
    for (int i = 0; i < net->n_layers; i++) {
        const float *in = i == 0 ? x : net->act[i];
        mimic_layer *l = &net->layers[i];
        mimic_status st;
        if (conv_relu_pool(net, i)) {
            st = conv_relu_pool_forward(net, i, batch, in);
            i += second_pool(net, i) ? 3 : 2;
        } else if (l->kind == MIMIC_LAYER_CONV && is_kind(net, i + 1, MIMIC_LAYER_RELU)) {
            // Conv then ReLU: the ReLU is applied as the conv writes its output, saving a
            // pass over the largest activations; the ReLU's output buffer receives it (the
            // backward passes read only the conv's input and the ReLU's output).
            l->conv.n = batch;
            st = mimic_conv2d_fwd_ex(&l->conv, in, l->weight.w, l->bias.w, net->act[i + 2],
                                     MIMIC_CONV_RELU);
            i++;
        } else if (l->kind == MIMIC_LAYER_DENSE && is_kind(net, i + 1, MIMIC_LAYER_RELU)) {
            // Dense then ReLU: the ReLU on each tile of the product while it is in cache, into
            // the ReLU's output buffer (the dense layer's own output is read by no backward).
            st = mimic_dense_relu_forward(&l->dense, batch, in, net->act[i + 2]);
            i++;
        } else if (l->kind == MIMIC_LAYER_DROPOUT) {
            st = dropout_forward(net, i, batch, in, net->act[i + 1]);
        } else {
            st = layer_forward(l, batch, in, net->act[i + 1]);
        }
        if (st != MIMIC_OK)
            return st;
    }
    *out = net->act[net->n_layers];
    return MIMIC_OK;
}

// Gradients of layer l: parameters from (x, dy); dx (may be NULL for the first layer).
static mimic_status layer_backward(mimic_layer *l, int64_t batch, const float *x,
                                   const float *y, const float *dy, float *dx)
{
    switch (l->kind) {
    case MIMIC_LAYER_CONV: {
        l->conv.n = batch;
        mimic_status st = mimic_conv2d_bwd_weights(&l->conv, x, dy, l->weight.g, l->bias.g);
        if (st == MIMIC_OK && dx)
            st = mimic_conv2d_bwd_data(&l->conv, dy, l->weight.w, dx);
        return st;
    }
    case MIMIC_LAYER_RELU:
        if (dx)
            mimic_relu_backward(batch * in_size(l), y, dy, dx);
        return MIMIC_OK;
    case MIMIC_LAYER_POOL:
        return dx ? mimic_maxpool2_backward(batch, l->in_c, l->in_h, l->in_w, l->argmax, dy, dx)
                  : MIMIC_OK;
    case MIMIC_LAYER_DENSE:
        return mimic_dense_backward(&l->dense, batch, x, dy, dx);
    case MIMIC_LAYER_DROPOUT:
        if (dx && l->masked)
            return mimic_dropout_backward(batch * in_size(l), l->drop, l->mask, dy, dx);
        if (dx)
            memcpy(dx, dy, (size_t)(batch * in_size(l)) * sizeof(float));
        return MIMIC_OK;
    }
    return MIMIC_EINVAL;
}

mimic_status mimic_net_backward(mimic_net *net, int64_t batch, const float *dout)
{
    if (!net || !net->input || batch < 1 || batch > net->batch_cap || !dout)
        return MIMIC_EINVAL;
    const float *dy = dout;
    for (int i = net->n_layers - 1; i >= 0; i--) {
        const mimic_layer *l = &net->layers[i];
        mimic_status st;
        const int conv = block_conv(net, i);
        if (conv >= 0) {
            const float *x = conv == 0 ? net->input : net->act[conv];
            float *dx = conv == 0 ? NULL : net->grad[conv];
            // A ReLU before the conv (whose output x is): its backward goes with the chunks.
            const int relu_in = conv >= 2 && is_kind(net, conv - 1, MIMIC_LAYER_RELU);
            st = conv_relu_pool_backward(net, conv, batch, x, dy, dx, relu_in);
            dy = dx;
            i = conv - relu_in;
        } else if (l->kind == MIMIC_LAYER_POOL && i >= 2 &&
                   is_kind(net, i - 1, MIMIC_LAYER_RELU)) {
            // ReLU then pool: one pass writes d loss / d ReLU input.
            float *dx = net->grad[i - 1];
            st = mimic_relu_maxpool2_backward(batch, l->in_c, l->in_h, l->in_w, l->argmax,
                                              net->act[i + 1], dy, dx);
            dy = dx;
            i--;
        } else if (l->kind == MIMIC_LAYER_DENSE && i >= 2 &&
                   is_kind(net, i - 1, MIMIC_LAYER_RELU)) {
            // ReLU then dense: the dense layer's input is the ReLU's output, so its dx product
            // is masked by it tile by tile and becomes d loss / d ReLU input in one pass.
            float *dx = net->grad[i - 1];
            st = mimic_dense_backward_relu(&net->layers[i].dense, batch, net->act[i], dy, dx);
            dy = dx;
            i--;
        } else {
            const float *x = i == 0 ? net->input : net->act[i];
            // The input's gradient is not needed: skip that (often the largest) product.
            float *dx = i == 0 ? NULL : net->grad[i];
            st = layer_backward(&net->layers[i], batch, x, net->act[i + 1], dy, dx);
            dy = dx;
        }
        if (st != MIMIC_OK)
            return st;
    }
    return MIMIC_OK;
}

int mimic_net_params(mimic_net *net, mimic_param **out)
{
    int n = 0;
    for (int i = 0; i < net->n_layers; i++) {
        mimic_layer *l = &net->layers[i];
        if (l->kind == MIMIC_LAYER_CONV) {
            out[n++] = &l->weight;
            out[n++] = &l->bias;
        } else if (l->kind == MIMIC_LAYER_DENSE) {
            out[n++] = &l->dense.weight;
            out[n++] = &l->dense.bias;
        }
    }
    return n;
}

// Sum of squares in fixed blocks of 4096, the blocks' sums added in order: the same bits
// for any number of threads.
static double sum_squares(const float *g, int64_t n)
{
    enum { BLOCK = 4096 };
    const int64_t blocks = (n + BLOCK - 1) / BLOCK;
    double part[256], total = 0.0;
    for (int64_t b0 = 0; b0 < blocks; b0 += 256) {
        const int64_t nb = blocks - b0 < 256 ? blocks - b0 : 256;
#pragma omp parallel for num_threads(mimic_threads_get()) if (nb >= 16) schedule(static)
        for (int64_t b = 0; b < nb; b++) {
            const int64_t lo = (b0 + b) * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
            // Eight running sums (element j goes to sum j % 8), added in a fixed order: the
            // compiler vectorizes it, and the bits do not depend on the thread count.
            double s[8] = {0.0};
            int64_t j = lo;
            for (; j + 8 <= hi; j += 8)
                for (int k = 0; k < 8; k++)
                    s[k] += (double)g[j + k] * g[j + k];
            for (; j < hi; j++)
                s[j % 8] += (double)g[j] * g[j];
            part[b] = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
        }
        for (int64_t b = 0; b < nb; b++)
            total += part[b];
    }
    return total;
}

float mimic_net_clip_scale(mimic_net *net, double max_norm, double *norm)
{
    mimic_param *ps[MIMIC_NET_MAX_PARAMS];
    const int np = mimic_net_params(net, ps);
    double sq = 0.0;
    for (int i = 0; i < np; i++)
        sq += sum_squares(ps[i]->g, ps[i]->n);
    const double total = sqrt(sq);
    if (norm)
        *norm = total;
    return total > max_norm ? (float)(max_norm / total) : 1.0f;
}

void mimic_net_scale_lr_by_fan_in(mimic_net *net, float ref)
{
    for (int i = 0; i < net->n_layers; i++) {
        mimic_layer *l = &net->layers[i];
        if (l->kind != MIMIC_LAYER_DENSE)
            continue;
        const float s = (float)l->dense.in > ref ? ref / (float)l->dense.in : 1.0f;
        l->dense.weight.lr_scale = l->dense.bias.lr_scale = s;
    }
}

void mimic_net_step(mimic_net *net, const mimic_sgd *opt, float grad_scale)
{
    mimic_param *ps[MIMIC_NET_MAX_PARAMS];
    const int np = mimic_net_params(net, ps);
    for (int i = 0; i < np; i++)
        mimic_sgd_step(opt, ps[i], i % 2 == 0, grad_scale); // weights decayed, biases not
}
