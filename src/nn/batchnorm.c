/* BatchNorm1d/2d: weight and bias (C) parameters, running_mean/running_var (C) buffers and a
 * num_batches_tracked counter, as PyTorch's (momentum 0.1, eps 1e-5). Weight 1 and bias 0,
 * except under NB_INIT_NORMAL: weight N(1, 0.02), as the DCGAN paper's initialization. */
#include "nn/nn_impl.h"

typedef struct bn {
    int c, dims; /* dims: 2 for (N, D), 4 for (N, C, H, W) */
    float momentum, eps;
    nb_tensor *w, *b, *rm, *rv;
    int64_t *tracked;
} bn;

static nb_status bn_bind(nb_module *m, nb_init init) {
    bn *s = nb_module_state(m);
    int64_t c[1] = {s->c};
    s->w = nb_module_param(m, "weight", 1, c);
    s->b = s->w ? nb_module_param(m, "bias", 1, c) : NULL;
    s->rm = s->b ? nb_module_buffer(m, "running_mean", 1, c) : NULL;
    s->rv = s->rm ? nb_module_buffer(m, "running_var", 1, c) : NULL;
    s->tracked = s->rv ? nb_module_counter(m, "num_batches_tracked") : NULL;
    if (!s->tracked) return NB_ERR_MEM;
    if (init == NB_INIT_NORMAL) nb_tensor_fill_normal(s->w, 1.0f, 0.02f); /* DCGAN's convention */
    else nb_tensor_fill(s->w, 1);
    nb_tensor_fill(s->b, 0);
    nb_tensor_fill(s->rm, 0);
    nb_tensor_fill(s->rv, 1);
    return NB_OK;
}

static nb_tensor *bn_forward(nb_module *m, nb_tensor *x) {
    bn *s = nb_module_state(m);
    if (nb_tensor_ndim(x) != s->dims) {
        nb__err(NB_ERR_SHAPE, "BatchNorm%s(%d) '%s': input %s is not %d-d", s->dims == 2 ? "1d" : "2d", s->c,
                nb_module_path(m), NB_SHAPE_STR(x), s->dims);
        return NULL;
    }
    bool training = nb_module_training(m);
    nb_tensor *y = nb_batch_norm(x, s->w, s->b, s->rm, s->rv, training, s->momentum, s->eps);
    if (y && training) ++*s->tracked;
    return y;
}

static void bn_describe(const nb_module *m, char *buf, size_t cap) {
    const bn *s = nb_module_state(m);
    snprintf(buf, cap, "BatchNorm%s(%d)", s->dims == 2 ? "1d" : "2d", s->c);
}

static const nb_module_ops bn_ops = {.kind = "BatchNorm", .bind = bn_bind, .forward = bn_forward, .describe = bn_describe};

static nb_module *bn_new(int c, int dims, const char *fn) {
    if (c < 1) {
        nb__err(NB_ERR_ARG, "%s: features must be >= 1, got %d", fn, c);
        return NULL;
    }
    nb_module *m = nb__module_alloc(&bn_ops, sizeof(bn), fn);
    if (m) *(bn *)nb_module_state(m) = (bn){.c = c, .dims = dims, .momentum = 0.1f, .eps = 1e-5f};
    return m;
}
nb_module *nb_batchnorm1d_new(int features) { return bn_new(features, 2, "nb_batchnorm1d_new"); }
nb_module *nb_batchnorm2d_new(int channels) { return bn_new(channels, 4, "nb_batchnorm2d_new"); }
