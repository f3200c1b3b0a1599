/* conv2d and conv_transpose2d through the im2col + GEMM kernels. conv_transpose2d is the
 * input-gradient of a conv2d whose input is the transpose's output, so it reuses the conv
 * kernels with x and y swapped. */
#include "autograd/op.h"
#include "kernels/kernels.h"

/* attrs: conv.stride, padding, dilation, groups, output_padding (transpose only); aux: a
 * conv_saved, the nb__conv_geom (of the equivalent conv2d for the transpose) and the im2col
 * workspace. The workspace is taken in the shape step, where a failure can be reported (the
 * forward cannot fail), and the backward reuses it. */
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
    conv_saved *sv = nb__arena_alloc(sizeof *sv);
    if (!sv) return NB_ERR_MEM;
    sv->g = g;
    sv->ws = nb__arena_alloc(nb__conv_workspace(&g) * sizeof(float) + 64);
    if (!sv->ws)
        return nb__err(NB_ERR_MEM, "%s: input %s: out of memory for the %zu-byte im2col workspace",
                       NB_OPNAME(n), NB_SHAPE_STR(n->in[0]),
                       nb__conv_workspace(&g) * sizeof(float) + 64);
    n->a.aux = sv;
    out->ndim = 4;
    out->shape[0] = g.N;
    out->shape[1] = transpose ? g.C : g.O;
    out->shape[2] = transpose ? g.H : g.OH;
    out->shape[3] = transpose ? g.W : g.OW;
    return NB_OK;
}

static float *workspace(const nb_node *n) { return ((const conv_saved *)n->a.aux)->ws; }

nb_status nb__shape_conv2d(nb_node *n, nb_tensor *out) { return shape_common(n, out, false); }

void nb__fwd_conv2d(nb_node *n) {
    const nb__conv_geom *g = &((const conv_saved *)n->a.aux)->g;
    nb__conv2d_fwd(g, NB_F(n->in[0]), NB_F(n->in[1]), n->in[2] ? NB_F(n->in[2]) : NULL,
                   NB_F(n->out), workspace(n));
}

void nb__bwd_conv2d(nb_node *n) {
    const nb__conv_geom *g = &((const conv_saved *)n->a.aux)->g;
    nb_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    float *ws = workspace(n);
    if (x->requires_grad) nb__conv2d_bwd_data(g, NB_F(w), n->out->grad, nb__grad(x), ws);
    bool gw = w->requires_grad, gb = b && b->requires_grad;
    if (gw || gb) {
        /* The kernel computes both; a weight gradient not wanted goes to scratch. */
        float *dw = gw ? nb__grad(w) : nb__arena_calloc((size_t)w->numel * sizeof(float));
        if (!dw) return; /* the tape sees the arena's failure */
        nb__conv2d_bwd_weight(g, NB_F(x), n->out->grad, dw, gb ? nb__grad(b) : NULL, ws);
    }
}

nb_status nb__shape_conv_transpose2d(nb_node *n, nb_tensor *out) { return shape_common(n, out, true); }

static void add_bias(float *y, const float *b, int64_t N, int64_t C, int64_t HW) {
    for (int64_t i = 0; i < N; i++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = 0; j < HW; j++) y[(i * C + c) * HW + j] += b[c];
}

void nb__fwd_conv_transpose2d(nb_node *n) {
    const nb__conv_geom *g = &((const conv_saved *)n->a.aux)->g;
    float *y = NB_F(n->out);
    memset(y, 0, (size_t)n->out->numel * sizeof(float));
    nb__conv2d_bwd_data(g, NB_F(n->in[1]), NB_F(n->in[0]), y, workspace(n));
    if (n->in[2]) add_bias(y, NB_F(n->in[2]), g->N, g->C, g->H * g->W);
}

void nb__bwd_conv_transpose2d(nb_node *n) {
    const nb__conv_geom *g = &((const conv_saved *)n->a.aux)->g;
    nb_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    const float *gy = n->out->grad;
    float *ws = workspace(n);
    if (x->requires_grad) {
        /* dx = conv2d(gy, w); the kernel overwrites, so go through scratch and add. */
        float *tmp = nb__arena_alloc((size_t)x->numel * sizeof(float));
        if (!tmp) return; /* the tape sees the arena's failure */
        nb__conv2d_fwd(g, gy, NB_F(w), NULL, tmp, ws);
        float *gx = nb__grad(x);
        for (int64_t i = 0; i < x->numel; i++) gx[i] += tmp[i];
    }
    if (w->requires_grad) nb__conv2d_bwd_weight(g, gy, NB_F(x), nb__grad(w), NULL, ws);
    if (b && b->requires_grad) {
        float *gb = nb__grad(b);
        int64_t HW = g->H * g->W;
        for (int64_t c = 0; c < g->C; c++) {
            double acc = 0;
            for (int64_t i = 0; i < g->N; i++)
                for (int64_t j = 0; j < HW; j++) acc += gy[(i * g->C + c) * HW + j];
            gb[c] += (float)acc;
        }
    }
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
