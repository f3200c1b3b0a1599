/* Conv2d: weight (O, C/groups, k, k), bias (O); input (N, C, H, W). */
#include "nn/nn_impl.h"

typedef struct conv {
    int in, out, k;
    nb_conv_opts o;
    bool bias;
    nb_tensor *w, *b;
} conv;

static nb_status conv_bind(nb_module *m, nb_init init) {
    conv *s = nb_module_state(m);
    int cin = s->in / s->o.groups;
    s->w = nb_module_param(m, "weight", 4, (int64_t[]){s->out, cin, s->k, s->k});
    if (!s->w) return NB_ERR_MEM;
    if (s->bias && !(s->b = nb_module_param(m, "bias", 1, (int64_t[]){s->out}))) return NB_ERR_MEM;
    double kk = (double)s->k * s->k;
    nb_init_weight(s->w, s->b, init, cin * kk, s->out / s->o.groups * kk);
    return NB_OK;
}

static nb_tensor *conv_forward(nb_module *m, nb_tensor *x) {
    conv *s = nb_module_state(m);
    return nb_conv2d(x, s->w, s->b, s->o);
}

static void conv_describe(const nb_module *m, char *buf, size_t cap) {
    const conv *s = nb_module_state(m);
    snprintf(buf, cap, "Conv2d(%d, %d, k=%d, s=%d, p=%d)", s->in, s->out, s->k, s->o.stride[0], s->o.padding[0]);
}

static const nb_module_ops conv_ops = {
    .kind = "Conv2d", .bind = conv_bind, .forward = conv_forward, .describe = conv_describe};

nb_module *nb_conv2d_new(int in_channels, int out_channels, int k, nb_conv_opts o, bool bias) {
    int g = o.groups;
    if (in_channels < 1 || out_channels < 1 || k < 1 || g < 1 || in_channels % g || out_channels % g) {
        nb__err(NB_ERR_ARG, "nb_conv2d_new: need channels >= 1 divisible by groups %d and k >= 1, got %d -> %d, k %d",
                g, in_channels, out_channels, k);
        return NULL;
    }
    nb_module *m = nb__module_alloc(&conv_ops, sizeof(conv), "nb_conv2d_new");
    if (m) *(conv *)nb_module_state(m) = (conv){.in = in_channels, .out = out_channels, .k = k, .o = o, .bias = bias};
    return m;
}
