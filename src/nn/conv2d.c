/* Conv2d: weight (O, C/groups, k, k), bias (O); input (N, C, H, W).
 * ConvTranspose2d: weight (C, O/groups, k, k), bias (O), as PyTorch's; its fan-in for the
 * default initialization is PyTorch's too (weight.size(1) * k * k = O/groups * k * k). */
#include "nn/nn_impl.h"

typedef struct conv {
    int in, out, k;
    nb_conv_opts o;
    bool bias, transposed;
    nb_tensor *w, *b;
} conv;

static nb_status conv_bind(nb_module *m, nb_init init) {
    conv *s = nb_module_state(m);
    int g = s->o.groups, rows = s->transposed ? s->in : s->out, cols = s->transposed ? s->out / g : s->in / g;
    s->w = nb_module_param(m, "weight", 4, (int64_t[]){rows, cols, s->k, s->k});
    if (!s->w) return NB_ERR_MEM;
    if (s->bias && !(s->b = nb_module_param(m, "bias", 1, (int64_t[]){s->out}))) return NB_ERR_MEM;
    double kk = (double)s->k * s->k;
    nb_init_weight(s->w, s->b, init, cols * kk, rows / g * kk);
    return NB_OK;
}

static nb_tensor *conv_forward(nb_module *m, nb_tensor *x) {
    conv *s = nb_module_state(m);
    return s->transposed ? nb_conv_transpose2d(x, s->w, s->b, s->o) : nb_conv2d(x, s->w, s->b, s->o);
}

static void conv_describe(const nb_module *m, char *buf, size_t cap) {
    const conv *s = nb_module_state(m);
    if (s->transposed && (s->o.output_padding[0] || s->o.output_padding[1]))
        snprintf(buf, cap, "ConvTranspose2d(%d, %d, k=%d, s=%d, p=%d, op=%d)", s->in, s->out, s->k, s->o.stride[0],
                 s->o.padding[0], s->o.output_padding[0]);
    else
        snprintf(buf, cap, "%s(%d, %d, k=%d, s=%d, p=%d)", s->transposed ? "ConvTranspose2d" : "Conv2d", s->in, s->out,
                 s->k, s->o.stride[0], s->o.padding[0]);
}

static const nb_module_ops conv_ops = {
    .kind = "Conv2d", .bind = conv_bind, .forward = conv_forward, .describe = conv_describe};
static const nb_module_ops convt_ops = {
    .kind = "ConvTranspose2d", .bind = conv_bind, .forward = conv_forward, .describe = conv_describe};

static nb_module *conv_new(int in_channels, int out_channels, int k, nb_conv_opts o, bool bias, bool transposed,
                           const char *fn) {
    int g = o.groups;
    if (in_channels < 1 || out_channels < 1 || k < 1 || g < 1 || in_channels % g || out_channels % g) {
        nb__err(NB_ERR_ARG, "%s: need channels >= 1 divisible by groups %d and k >= 1, got %d -> %d, k %d", fn, g,
                in_channels, out_channels, k);
        return NULL;
    }
    nb_module *m = nb__module_alloc(transposed ? &convt_ops : &conv_ops, sizeof(conv), fn);
    if (m)
        *(conv *)nb_module_state(m) =
            (conv){.in = in_channels, .out = out_channels, .k = k, .o = o, .bias = bias, .transposed = transposed};
    return m;
}

nb_module *nb_conv2d_new(int in_channels, int out_channels, int k, nb_conv_opts o, bool bias) {
    return conv_new(in_channels, out_channels, k, o, bias, false, "nb_conv2d_new");
}
nb_module *nb_conv_transpose2d_new(int in_channels, int out_channels, int k, nb_conv_opts o, bool bias) {
    return conv_new(in_channels, out_channels, k, o, bias, true, "nb_conv_transpose2d_new");
}

bool nb__conv2d_get(const nb_module *m, nb_tensor **w, nb_tensor **b, nb_conv_opts *o) {
    if (!m || m->ops != &conv_ops) return false;
    const conv *s = nb_module_state((nb_module *)m);
    if (!s->w) return false;
    *w = s->w, *b = s->b, *o = s->o;
    return true;
}
