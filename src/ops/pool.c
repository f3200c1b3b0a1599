/* max_pool2d and avg_pool2d on (N, C, H, W) through the pooling kernels. */
#include "autograd/op.h"
#include "kernels/kernels.h"

/* attrs: pool.kernel, stride, padding; aux: geometry, then (max) argmax indices */
typedef struct pool_saved {
    nb__conv_geom g;
    int64_t *idx; /* (N, C, OH, OW) flat input-plane index of each maximum */
} pool_saved;

static nb_status pool_shape(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0];
    int64_t k = n->a.pool.kernel, s = n->a.pool.stride, p = n->a.pool.padding;
    if (x->ndim != 4)
        return nb__err(NB_ERR_SHAPE, "%s: input %s must be 4-d (N,C,H,W)", NB_OPNAME(n), NB_SHAPE_STR(x));
    if (k < 1 || s < 1 || p < 0 || 2 * p > k)
        return nb__err(NB_ERR_ARG, "%s: kernel %lld, stride %lld, padding %lld: need kernel >= 1, stride >= 1, 0 <= padding <= kernel/2",
                       NB_OPNAME(n), (long long)k, (long long)s, (long long)p);
    pool_saved *ps = nb__arena_calloc(sizeof *ps);
    if (!ps) return NB_ERR_MEM;
    nb__conv_geom *g = &ps->g;
    g->N = x->shape[0], g->C = x->shape[1], g->H = x->shape[2], g->W = x->shape[3];
    g->O = g->C, g->KH = g->KW = k, g->SH = g->SW = s, g->PH = g->PW = p;
    g->DH = g->DW = 1, g->groups = 1;
    if (nb__conv_geom_finish(g))
        return nb__err(NB_ERR_SHAPE, "%s: input %s is smaller than the %lldx%lld window", NB_OPNAME(n),
                       NB_SHAPE_STR(x), (long long)k, (long long)k);
    n->a.aux = ps;
    out->ndim = 4;
    out->shape[0] = g->N, out->shape[1] = g->C, out->shape[2] = g->OH, out->shape[3] = g->OW;
    return NB_OK;
}

nb_status nb__shape_max_pool2d(nb_node *n, nb_tensor *out) {
    nb_status s = pool_shape(n, out);
    if (s) return s;
    pool_saved *ps = n->a.aux;
    int64_t cnt = out->shape[0] * out->shape[1] * out->shape[2] * out->shape[3];
    ps->idx = nb__arena_alloc((size_t)cnt * sizeof(int64_t));
    return ps->idx ? NB_OK : NB_ERR_MEM;
}
void nb__fwd_max_pool2d(nb_node *n) {
    pool_saved *ps = n->a.aux;
    /* No backward will read the indices without a tape: skip writing them. */
    const bool grad = nb_grad_enabled() && n->in[0]->requires_grad;
    nb__maxpool2d_fwd(&ps->g, NB_F(n->in[0]), NB_F(n->out), grad ? ps->idx : NULL);
}
void nb__bwd_max_pool2d(nb_node *n) {
    pool_saved *ps = n->a.aux;
    const nb__conv_geom *g = &ps->g;
    if (g->KH == 2 && g->KW == 2 && g->SH == 2 && g->SW == 2 && g->PH == 0 && g->PW == 0) {
        /* windows that do not overlap: a fresh gradient is stored, not zeroed and added to */
        bool set;
        float *gx = nb__grad_first(n->in[0], &set);
        if (set) nb__maxpool2x2_bwd_store(g, n->out->grad, ps->idx, gx);
        else nb__maxpool2d_bwd(g, n->out->grad, ps->idx, gx);
        return;
    }
    nb__maxpool2d_bwd(g, n->out->grad, ps->idx, nb__grad(n->in[0]));
}

nb_status nb__shape_avg_pool2d(nb_node *n, nb_tensor *out) { return pool_shape(n, out); }
void nb__fwd_avg_pool2d(nb_node *n) {
    pool_saved *ps = n->a.aux;
    nb__avgpool2d_fwd(&ps->g, NB_F(n->in[0]), NB_F(n->out));
}
void nb__bwd_avg_pool2d(nb_node *n) {
    pool_saved *ps = n->a.aux;
    nb__avgpool2d_bwd(&ps->g, n->out->grad, nb__grad(n->in[0]));
}

static nb_tensor *pool(nb_op op, nb_tensor *x, int k, int s, int p) {
    nb_attrs a = {.pool = {.kernel = k, .stride = s ? s : k, .padding = p}};
    return nb__apply(op, &x, 1, &a);
}
nb_tensor *nb_max_pool2d(nb_tensor *x, int k, int s, int p) { return pool(NB_OP_MAX_POOL2D, x, k, s, p); }
nb_tensor *nb_avg_pool2d(nb_tensor *x, int k, int s, int p) { return pool(NB_OP_AVG_POOL2D, x, k, s, p); }
