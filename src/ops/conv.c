/* conv2d and conv_transpose2d through the im2col + GEMM kernels. conv_transpose2d is the
 * input-gradient of a conv2d whose input is the transpose's output, so it reuses the conv
 * kernels with x and y swapped. */
#include "autograd/op.h"
#include "kernels/kernels.h"

/* attrs: conv.stride, padding, dilation, groups, output_padding (transpose only); aux: a
 * conv_saved, the planned nb__conv_geom (of the equivalent conv2d for the transpose) and the
 * kernels' workspace. The workspace is taken in the shape step, where a failure can be
 * reported (the forward cannot fail); the plan made there holds for the backward, which
 * reuses the workspace. The backward makes the im2col of x again rather than keeping the
 * forward's: keeping it (N*C*KH*KW*OH*OW floats, 3.8 MB for LeNet's second layer at batch 64)
 * measured slower, its writes and reads leaving the cache, than making it again from x. */
typedef struct conv_saved {
    nb__conv_geom g;
    float *ws; /* nb__conv_workspace(&g) floats */
} conv_saved;

static nb_status conv_geom(nb_node *n, bool transpose, nb__conv_geom *g) {
    const nb_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    const char *op = NB_OPNAME(n);
    if (x->ndim != 4 || w->ndim != 4)
        return nb__err(NB_ERR_SHAPE, "%s: input %s and weight %s must both be 4-d (N,C,H,W) and (O,C/groups,KH,KW)",
                       op, NB_SHAPE_STR(x), NB_SHAPE_STR(w));
    const nb_conv_attr *a = &n->a.conv;
    for (int k = 0; k < 2; k++)
        if (a->stride[k] < 1 || a->padding[k] < 0 || a->dilation[k] < 1)
            return nb__err(NB_ERR_ARG, "%s: stride, dilation and groups must be >= 1 and padding >= 0", op);
    if (a->groups < 1)
        return nb__err(NB_ERR_ARG, "%s: stride, dilation and groups must be >= 1 and padding >= 0", op);
    int64_t G = a->groups, C = x->shape[1];
    int64_t O = transpose ? w->shape[1] * G : w->shape[0];
    int64_t win = transpose ? w->shape[0] : w->shape[1] * G;
    if (C != win || C % G || O % G || (transpose ? w->shape[0] % G : w->shape[0] % G))
        return nb__err(NB_ERR_SHAPE, "%s: input %s and weight %s with groups %lld: channels do not match",
                       op, NB_SHAPE_STR(x), NB_SHAPE_STR(w), (long long)G);
    if (b && (b->ndim != 1 || b->shape[0] != O))
        return nb__err(NB_ERR_SHAPE, "%s: bias %s must be (%lld)", op, NB_SHAPE_STR(b), (long long)O);
    memset(g, 0, sizeof *g);
    g->KH = w->shape[2];
    g->KW = w->shape[3];
    g->SH = a->stride[0], g->SW = a->stride[1], g->PH = a->padding[0], g->PW = a->padding[1];
    g->DH = a->dilation[0], g->DW = a->dilation[1];
    g->groups = G;
    g->N = x->shape[0];
    if (!transpose) {
        g->C = C, g->H = x->shape[2], g->W = x->shape[3], g->O = O;
        if (nb__conv_geom_finish(g))
            return nb__err(NB_ERR_SHAPE, "%s: input %s is smaller than the dilated kernel %s with padding (%lld,%lld)",
                           op, NB_SHAPE_STR(x), NB_SHAPE_STR(w), (long long)g->PH, (long long)g->PW);
        return NB_OK;
    }
    /* The transpose's output is the input of the equivalent conv2d. */
    const int64_t *op_pad = a->output_padding;
    if (op_pad[0] < 0 || op_pad[1] < 0 || (op_pad[0] >= a->stride[0] && op_pad[0] >= a->dilation[0]) ||
        (op_pad[1] >= a->stride[1] && op_pad[1] >= a->dilation[1]))
        return nb__err(NB_ERR_ARG, "%s: output_padding must be smaller than stride or dilation", op);
    g->C = O;
    g->O = C;
    g->H = (x->shape[2] - 1) * g->SH - 2 * g->PH + g->DH * (g->KH - 1) + op_pad[0] + 1;
    g->W = (x->shape[3] - 1) * g->SW - 2 * g->PW + g->DW * (g->KW - 1) + op_pad[1] + 1;
    if (g->H < 1 || g->W < 1 || nb__conv_geom_finish(g) || g->OH != x->shape[2] || g->OW != x->shape[3])
        return nb__err(NB_ERR_SHAPE, "%s: input %s with weight %s gives an empty output", op,
                       NB_SHAPE_STR(x), NB_SHAPE_STR(w));
    return NB_OK;
}

static nb_status shape_common(nb_node *n, nb_tensor *out, bool transpose) {
    nb__conv_geom g;
    nb_status s = conv_geom(n, transpose, &g);
    if (s) return s;
    nb__conv_plan(&g);
    conv_saved *sv = nb__arena_alloc(sizeof *sv);
    if (!sv) return NB_ERR_MEM;
    sv->g = g;
    const size_t bytes = nb__conv_workspace(&g) * sizeof(float) + 64;
    sv->ws = nb__arena_alloc(bytes);
    if (!sv->ws)
        return nb__err(NB_ERR_MEM, "%s: input %s: out of memory for the %zu-byte im2col workspace",
                       NB_OPNAME(n), NB_SHAPE_STR(n->in[0]), bytes);
    n->a.aux = sv;
    out->ndim = 4;
    out->shape[0] = g.N;
    out->shape[1] = transpose ? g.C : g.O;
    out->shape[2] = transpose ? g.H : g.OH;
    out->shape[3] = transpose ? g.W : g.OW;
    return NB_OK;
}

static const conv_saved *saved(const nb_node *n) { return (const conv_saved *)n->a.aux; }

nb_status nb__shape_conv2d(nb_node *n, nb_tensor *out) { return shape_common(n, out, false); }

void nb__fwd_conv2d(nb_node *n) {
    const conv_saved *sv = saved(n);
    nb__conv2d_fwd(&sv->g, NB_F(n->in[0]), NB_F(n->in[1]), n->in[2] ? NB_F(n->in[2]) : NULL,
                   NB_F(n->out), sv->ws);
}

/* One pass over the blocks for all the gradients wanted (a NULL output is skipped). */
void nb__bwd_conv2d(nb_node *n) {
    const conv_saved *sv = saved(n);
    nb_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    bool set = false; /* x's gradient unwritten yet: the kernel stores it (no zero-fill, no add) */
    float *gx = x->requires_grad ? nb__grad_first(x, &set) : NULL;
    nb__conv2d_bwd(&sv->g, NB_F(x), NB_F(w), n->out->grad, gx, set, w->requires_grad ? nb__grad(w) : NULL,
                   b && b->requires_grad ? nb__grad(b) : NULL, sv->ws);
}

nb_status nb__shape_conv_transpose2d(nb_node *n, nb_tensor *out) { return shape_common(n, out, true); }

/* The conv2d input gradient of x, with the bias added as each sample is written. */
void nb__fwd_conv_transpose2d(nb_node *n) {
    const conv_saved *sv = saved(n);
    nb__conv_transpose2d_fwd(&sv->g, NB_F(n->in[0]), NB_F(n->in[1]),
                             n->in[2] ? NB_F(n->in[2]) : NULL, NB_F(n->out), sv->ws);
}

/* dx = conv2d(gy, w) and the weight gradient share one im2col of gy per block. */
void nb__bwd_conv_transpose2d(nb_node *n) {
    const conv_saved *sv = saved(n);
    nb_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    bool set = false;
    float *gx = x->requires_grad ? nb__grad_first(x, &set) : NULL;
    nb__conv_transpose2d_bwd(&sv->g, NB_F(x), NB_F(w), n->out->grad, gx, set,
                             w->requires_grad ? nb__grad(w) : NULL,
                             b && b->requires_grad ? nb__grad(b) : NULL, sv->ws);
}

nb_conv_opts nb_conv_defaults(void) {
    nb_conv_opts o = {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}};
    return o;
}

static nb_tensor *conv(nb_op op, nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv_opts o) {
    nb_attrs a = {.conv = {.stride = {o.stride[0], o.stride[1]},
                           .padding = {o.padding[0], o.padding[1]},
                           .dilation = {o.dilation[0], o.dilation[1]},
                           .groups = o.groups,
                           .output_padding = {o.output_padding[0], o.output_padding[1]}}};
    nb_tensor *in[3] = {x, w, b};
    return nb__apply(op, in, 3, &a);
}
nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv_opts o) {
    return conv(NB_OP_CONV2D, x, w, b, o);
}
nb_tensor *nb_conv_transpose2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv_opts o) {
    return conv(NB_OP_CONV_TRANSPOSE2D, x, w, b, o);
}

/* Inference without a tape: max_pool2d(relu(conv2d(x, w, b, o)), 2) (relu when asked) in one
 * pass over the samples (nb__conv2d_relu_pool_fwd), leaving out the conv's and relu's outputs
 * and the pooling's indices; the same values as the three ops. A geometry the fused kernel does
 * not take, or an argument error (reported as the ops report it), runs the ops themselves. */
nb_tensor *nb__conv2d_relu_maxpool2(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv_opts o, bool relu) {
    if (x && w && x->dtype == NB_F32 && w->dtype == NB_F32 && (!b || b->dtype == NB_F32) &&
        nb_tensor_is_contiguous(x) && nb_tensor_is_contiguous(w) && (!b || nb_tensor_is_contiguous(b))) {
        nb_tensor *in[3] = {x, w, b};
        nb_node n;
        memset(&n, 0, sizeof n);
        n.op = NB_OP_CONV2D, n.n_in = 3, n.in = in;
        n.a.conv = (nb_conv_attr){.stride = {o.stride[0], o.stride[1]},
                                  .padding = {o.padding[0], o.padding[1]},
                                  .dilation = {o.dilation[0], o.dilation[1]},
                                  .groups = o.groups};
        nb__conv_geom g;
        if (conv_geom(&n, false, &g) == NB_OK && nb__conv2d_pool_ok(&g)) {
            nb__conv_plan(&g);
            float *ws = nb__arena_alloc(nb__conv_workspace(&g) * sizeof(float) + 64);
            nb_tensor *y = nb__arena_tensor(NB_F32, 4, (int64_t[]){g.N, g.O, g.OH / 2, g.OW / 2});
            if (!ws || !y) return NULL;
            nb__conv2d_relu_pool_fwd(&g, NB_F(x), NB_F(w), b ? NB_F(b) : NULL, NB_F(y), relu, ws);
            return y;
        }
    }
    nb_tensor *y = nb_conv2d(x, w, b, o);
    if (y && relu) y = nb_relu(y);
    return y ? nb_max_pool2d(y, 2, 2, 0) : NULL;
}
