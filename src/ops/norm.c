/* Batch normalization over axis 1 of x (N, C) or (N, C, H, W), fused: one forward computes the
 * per-channel statistics and the normalized output, one backward gives dx, dgamma and dbeta.
 *
 * The op's inputs are x alone (affine off) or x, gamma, beta. The running statistics are not
 * inputs: no gradient flows into them, and training updates them in place in the forward, as
 * PyTorch's F.batch_norm does (momentum, unbiased variance for running_var). */
#include "autograd/op.h"
#include "kernels/kernels.h"

#include <math.h>

/* attrs: batch_norm.training, momentum, eps, and (shape) N, C, S = H*W (1 for a 2-d x).
 * aux: the builder passes a bn_saved holding only rm and rv; the shape function replaces it
 * with one in the arena that the forward fills for the backward. */
typedef struct bn_saved {
    nb_tensor *rm, *rv;   /* (C) running mean and variance, or both NULL */
    float *mean, *invstd; /* (C) statistics the output was normalized with */
    float *mean_lo;       /* (C) training: the batch mean's low part, dmean - mean */
    double *dmean, *dvar; /* (C) batch statistics in double (training) */
} bn_saved;

/* A per-channel tensor (gamma, beta, running stats) must be (C). */
static nb_status check_channel(const nb_tensor *t, const char *what, const nb_tensor *x) {
    if (t->ndim != 1 || t->shape[0] != x->shape[1])
        return nb__err(NB_ERR_SHAPE, "nb_batch_norm: input %s has %lld channels but %s is %s",
                       NB_SHAPE_STR(x), (long long)x->shape[1], what, NB_SHAPE_STR(t));
    return NB_OK;
}

nb_status nb__shape_batch_norm(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0];
    const bn_saved *arg = n->a.aux;
    NB_ASSERT(arg && (n->n_in == 1 || n->n_in == 3));
    const bool training = n->a.batch_norm.training;
    const float momentum = n->a.batch_norm.momentum, eps = n->a.batch_norm.eps;
    if (x->ndim != 2 && x->ndim != 4)
        return nb__err(NB_ERR_SHAPE,
                       "nb_batch_norm: input %s must be 2-d (N, C) or 4-d (N, C, H, W)",
                       NB_SHAPE_STR(x));
    const int64_t N = x->shape[0], C = x->shape[1];
    const int64_t S = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
    if (n->n_in == 3) {
        if (check_channel(n->in[1], "gamma", x) || check_channel(n->in[2], "beta", x))
            return NB_ERR_SHAPE;
    }
    if (!arg->rm != !arg->rv)
        return nb__err(NB_ERR_ARG, "nb_batch_norm: running_mean and running_var must be given "
                                   "together (one of them is NULL)");
    if (arg->rm) {
        const nb_tensor *rs[2] = {arg->rm, arg->rv};
        const char *names[2] = {"running_mean", "running_var"};
        for (int i = 0; i < 2; i++) {
            if (rs[i]->dtype != NB_F32)
                return nb__err(NB_ERR_DTYPE, "nb_batch_norm: %s must be a float tensor", names[i]);
            if (check_channel(rs[i], names[i], x)) return NB_ERR_SHAPE;
            if (!nb_tensor_is_contiguous(rs[i]))
                return nb__err(NB_ERR_ARG, "nb_batch_norm: %s must be contiguous", names[i]);
        }
    } else if (!training) {
        return nb__err(NB_ERR_ARG,
                       "nb_batch_norm: input %s: running_mean and running_var (%lld) "
                       "are required when not training",
                       NB_SHAPE_STR(x), (long long)C);
    }
    if (training && N * S == 1)
        return nb__err(NB_ERR_SHAPE,
                       "nb_batch_norm: input %s: expected more than 1 value per "
                       "channel when training (N*H*W = 1)",
                       NB_SHAPE_STR(x));
    if (!(eps >= 0.0f) || isinf(eps))
        return nb__err(NB_ERR_ARG, "nb_batch_norm: eps must be finite and >= 0, got %g",
                       (double)eps);
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return nb__err(NB_ERR_ARG, "nb_batch_norm: momentum must be in [0, 1], got %g",
                       (double)momentum);

    bn_saved *sv = nb__arena_calloc(sizeof *sv);
    if (!sv) return NB_ERR_MEM;
    sv->rm = arg->rm;
    sv->rv = arg->rv;
    sv->mean = nb__arena_alloc((size_t)(C ? C : 1) * sizeof(float));
    sv->invstd = nb__arena_alloc((size_t)(C ? C : 1) * sizeof(float));
    if (!sv->mean || !sv->invstd) return NB_ERR_MEM;
    if (training) {
        sv->dmean = nb__arena_alloc((size_t)(C ? C : 1) * sizeof(double));
        sv->dvar = nb__arena_alloc((size_t)(C ? C : 1) * sizeof(double));
        sv->mean_lo = nb__arena_alloc((size_t)(C ? C : 1) * sizeof(float));
        if (!sv->dmean || !sv->dvar || !sv->mean_lo) return NB_ERR_MEM;
    }
    n->a.aux = sv;
    n->a.batch_norm.N = N, n->a.batch_norm.C = C, n->a.batch_norm.S = S;
    out->ndim = x->ndim;
    memcpy(out->shape, x->shape, sizeof out->shape);
    return NB_OK;
}

void nb__fwd_batch_norm(nb_node *n) {
    const nb_tensor *x = n->in[0];
    bn_saved *sv = n->a.aux;
    const int64_t N = n->a.batch_norm.N, C = n->a.batch_norm.C, S = n->a.batch_norm.S, M = N * S;
    const double momentum = n->a.batch_norm.momentum, eps = n->a.batch_norm.eps;
    if (n->a.batch_norm.training) {
        nb__bn_stats(NB_F(x), N, C, S, sv->dmean, sv->dvar);
        for (int64_t c = 0; c < C; c++) {
            sv->mean[c] = (float)sv->dmean[c];
            sv->mean_lo[c] = (float)(sv->dmean[c] - (double)sv->mean[c]);
            sv->invstd[c] = (float)(1.0 / sqrt(sv->dvar[c] + eps));
        }
        /* An empty batch leaves the running statistics alone, as PyTorch does. */
        if (sv->rm && M > 1) {
            float *rm = NB_F(sv->rm), *rv = NB_F(sv->rv);
            const double unbias = (double)M / (double)(M - 1);
            for (int64_t c = 0; c < C; c++) {
                rm[c] = (float)((1.0 - momentum) * rm[c] + momentum * sv->dmean[c]);
                rv[c] = (float)((1.0 - momentum) * rv[c] + momentum * sv->dvar[c] * unbias);
            }
        }
    } else {
        const float *rm = NB_F(sv->rm), *rv = NB_F(sv->rv);
        for (int64_t c = 0; c < C; c++) {
            sv->mean[c] = rm[c];
            sv->invstd[c] = (float)(1.0 / sqrt((double)rv[c] + eps));
        }
    }
    const bool affine = n->n_in == 3;
    nb__bn_fwd(NB_F(x), NB_F(n->out), N, C, S, sv->mean, sv->mean_lo, sv->invstd,
               affine ? NB_F(n->in[1]) : NULL, affine ? NB_F(n->in[2]) : NULL);
}

void nb__bwd_batch_norm(nb_node *n) {
    nb_tensor *x = n->in[0];
    const bn_saved *sv = n->a.aux;
    const bool affine = n->n_in == 3;
    bool set = false; /* x's gradient unwritten yet: stored, not zero-filled and added to */
    float *gx = x->requires_grad ? nb__grad_first(x, &set) : NULL;
    float *gg = affine && n->in[1]->requires_grad ? nb__grad(n->in[1]) : NULL;
    float *gb = affine && n->in[2]->requires_grad ? nb__grad(n->in[2]) : NULL;
    const int64_t N = n->a.batch_norm.N, C = n->a.batch_norm.C, S = n->a.batch_norm.S;
    nb__bn_bwd(NB_F(x), n->out->grad, N, C, S, sv->mean, sv->mean_lo, sv->invstd,
               affine ? NB_F(n->in[1]) : NULL, n->a.batch_norm.training, gx, set, gg, gb);
}

nb_tensor *nb_batch_norm(nb_tensor *x, nb_tensor *gamma, nb_tensor *beta, nb_tensor *running_mean,
                         nb_tensor *running_var, bool training, float momentum, float eps) {
    bn_saved arg = {running_mean, running_var, NULL, NULL, NULL, NULL, NULL};
    nb_attrs a = {.batch_norm = {.training = training, .momentum = momentum, .eps = eps},
                  .aux = &arg};
    if (!gamma && !beta) return nb__apply(NB_OP_BATCH_NORM, &x, 1, &a);
    /* Only one of gamma and beta: the other is a constant (ones or zeros) with no gradient. */
    if (x && (!gamma || !beta)) {
        int64_t C = x->ndim >= 2 ? x->shape[1] : 1;
        nb_tensor *k = nb__arena_tensor(NB_F32, 1, &C);
        if (!k) return NULL;
        for (int64_t c = 0; c < C; c++) NB_F(k)[c] = gamma ? 0.0f : 1.0f;
        if (!gamma)
            gamma = k;
        else
            beta = k;
    }
    nb_tensor *in[3] = {x, gamma, beta};
    return nb__apply(NB_OP_BATCH_NORM, in, 3, &a);
}
