/* Layer normalization over the last axis of x, fused (PyTorch's F.layer_norm with
 * normalized_shape (D,)): the forward normalizes each row of D values by its own mean and biased
 * variance and keeps the row statistics; the backward gives dx, dgamma and dbeta in one pass
 * (kernels/layer_norm.c).
 *
 * The op's inputs are x alone (no affine part) or x, gamma, beta. */
#include "autograd/op.h"
#include "kernels/kernels.h"

#include <math.h>

/* aux: what the forward keeps for the backward, (R) floats each. */
typedef struct ln_saved {
    float *mean, *mean_lo, *rstd;
} ln_saved;

nb_status nb__shape_layer_norm(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0];
    const float eps = n->a.layer_norm.eps;
    if (n->n_in != 1 && n->n_in != 3)
        return nb__err(NB_ERR_ARG, "nb_layer_norm: takes x, or x, gamma and beta (got %d inputs)", n->n_in);
    if (x->ndim < 1 || x->shape[x->ndim - 1] < 1)
        return nb__err(NB_ERR_SHAPE, "nb_layer_norm: input %s must have at least one axis, the last one "
                                     "(the features normalized over) not empty", NB_SHAPE_STR(x));
    const int64_t D = x->shape[x->ndim - 1], R = x->numel / D;
    for (int i = 1; i < n->n_in; i++) {
        const nb_tensor *t = n->in[i];
        if (t->ndim != 1 || t->shape[0] != D)
            return nb__err(NB_ERR_SHAPE, "nb_layer_norm: input %s has %lld features (last axis) but %s is %s",
                           NB_SHAPE_STR(x), (long long)D, i == 1 ? "gamma" : "beta", NB_SHAPE_STR(t));
    }
    if (!(eps >= 0.0f) || isinf(eps))
        return nb__err(NB_ERR_ARG, "nb_layer_norm: eps must be finite and >= 0, got %g", (double)eps);
    ln_saved *sv = nb__arena_calloc(sizeof *sv);
    if (!sv) return NB_ERR_MEM;
    const size_t rows = (size_t)(R ? R : 1) * sizeof(float);
    if (!(sv->mean = nb__arena_alloc(rows)) || !(sv->mean_lo = nb__arena_alloc(rows)) ||
        !(sv->rstd = nb__arena_alloc(rows)))
        return NB_ERR_MEM;
    n->a.aux = sv;
    n->a.layer_norm.R = R, n->a.layer_norm.D = D;
    out->ndim = x->ndim;
    memcpy(out->shape, x->shape, sizeof out->shape);
    return NB_OK;
}

void nb__fwd_layer_norm(nb_node *n) {
    const ln_saved *sv = n->a.aux;
    const bool affine = n->n_in == 3;
    nb__ln_fwd(NB_F(n->in[0]), NB_F(n->out), n->a.layer_norm.R, n->a.layer_norm.D, n->a.layer_norm.eps,
               affine ? NB_F(n->in[1]) : NULL, affine ? NB_F(n->in[2]) : NULL, sv->mean, sv->mean_lo, sv->rstd);
}

void nb__bwd_layer_norm(nb_node *n) {
    nb_tensor *x = n->in[0];
    const ln_saved *sv = n->a.aux;
    const bool affine = n->n_in == 3;
    const int64_t R = n->a.layer_norm.R, D = n->a.layer_norm.D;
    float *gx = x->requires_grad ? nb__grad(x) : NULL;
    float *gg = affine && n->in[1]->requires_grad ? nb__grad(n->in[1]) : NULL;
    float *gb = affine && n->in[2]->requires_grad ? nb__grad(n->in[2]) : NULL;
    double *ws = NULL;
    if (gg || gb) {
        ws = nb__arena_alloc(nb__ln_workspace(R, D) * sizeof(double));
        if (!ws) return;
    }
    nb__ln_bwd(NB_F(x), n->out->grad, R, D, sv->mean, sv->mean_lo, sv->rstd, affine ? NB_F(n->in[1]) : NULL, gx,
               gg, gb, ws);
}

nb_tensor *nb_layer_norm(nb_tensor *x, nb_tensor *gamma, nb_tensor *beta, float eps) {
    nb_attrs a = {.layer_norm = {.eps = eps}};
    if (!gamma && !beta) return nb__apply(NB_OP_LAYER_NORM, &x, 1, &a);
    if (!gamma || !beta) { /* most often a failed op's result: its message stays first */
        nb__err_null("nb_layer_norm", gamma ? "beta (gamma and beta are given together or both NULL)"
                                            : "gamma (gamma and beta are given together or both NULL)");
        return NULL;
    }
    nb_tensor *in[3] = {x, gamma, beta};
    return nb__apply(NB_OP_LAYER_NORM, in, 3, &a);
}
