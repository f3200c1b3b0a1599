/* Linear: y = x W^T + b over the last axis; weight (out, in), bias (out). */
#include "nn/nn_impl.h"

typedef struct linear {
    int in, out;
    bool bias;
    bool zero_bias; /* the bias starts at 0 (attention's out_proj), not U(+-1/sqrt(in)) */
    nb_tensor *w, *b;
} linear;

static nb_status linear_bind(nb_module *m, nb_init init) {
    linear *s = nb_module_state(m);
    s->w = nb_module_param(m, "weight", 2, (int64_t[]){s->out, s->in});
    if (!s->w) return NB_ERR_MEM;
    if (s->bias && !(s->b = nb_module_param(m, "bias", 1, (int64_t[]){s->out}))) return NB_ERR_MEM;
    nb_init_weight(s->w, s->zero_bias ? NULL : s->b, init, s->in, s->out);
    if (s->zero_bias && s->b) nb_tensor_fill(s->b, 0);
    return NB_OK;
}

static nb_tensor *linear_forward(nb_module *m, nb_tensor *x) {
    linear *s = nb_module_state(m);
    int nd = nb_tensor_ndim(x);
    if (nd < 1 || nb_tensor_size(x, -1) != s->in) {
        nb__err(NB_ERR_SHAPE, "Linear(%d, %d) '%s': input %s, expected (N, %d)", s->in, s->out, nb_module_path(m),
                NB_SHAPE_STR(x), s->in);
        return NULL;
    }
    return nb_linear(x, s->w, s->b);
}

static void linear_describe(const nb_module *m, char *buf, size_t cap) {
    const linear *s = nb_module_state(m);
    snprintf(buf, cap, "Linear(%d, %d%s)", s->in, s->out, s->bias ? "" : ", bias=False");
}

static const nb_module_ops linear_ops = {
    .kind = "Linear", .bind = linear_bind, .forward = linear_forward, .describe = linear_describe};

bool nb__linear_get(const nb_module *m, int *in, int *out, nb_tensor **w, nb_tensor **b) {
    if (!m || nb_module_ops_of(m) != &linear_ops) return false;
    const linear *s = nb_module_state(m);
    *in = s->in;
    *out = s->out;
    *w = s->w;
    *b = s->b;
    return true;
}

void nb__linear_zero_bias(nb_module *m) {
    if (m && nb_module_ops_of(m) == &linear_ops) ((linear *)nb_module_state(m))->zero_bias = true;
}
bool nb__linear_has_zero_bias(const nb_module *m) {
    return m && nb_module_ops_of(m) == &linear_ops && ((const linear *)nb_module_state(m))->zero_bias;
}

nb_module *nb_linear_new(int in_features, int out_features, bool bias) {
    if (in_features < 1 || out_features < 1) {
        nb__err(NB_ERR_ARG, "nb_linear_new: sizes must be >= 1, got %d -> %d", in_features, out_features);
        return NULL;
    }
    nb_module *m = nb__module_alloc(&linear_ops, sizeof(linear), "nb_linear_new");
    if (m) *(linear *)nb_module_state(m) = (linear){.in = in_features, .out = out_features, .bias = bias};
    return m;
}
