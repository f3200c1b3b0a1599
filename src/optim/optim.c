/* Optimizers as one loop over the parameter slab: values, gradients and moments are parallel
 * arrays of nb_params_numel floats. Updates follow PyTorch's torch.optim formulas. */
#include "internal.h"

#include <math.h>

typedef enum { OPT_SGD, OPT_ADAM } opt_kind;

struct nb_optim {
    opt_kind kind;
    nb_params *p;
    int64_t numel;
    nb_sgd_opts sgd;
    nb_adam_opts adam;
    int64_t t;     /* steps taken */
    float *m, *v;  /* momentum / first moment, second moment (one slab each) */
};

static nb_optim *opt_new(nb_params *p, opt_kind k, int moments) {
    if (!p) {
        nb__err(NB_ERR_ARG, "optimizer: params is NULL");
        return NULL;
    }
    nb_optim *o = calloc(1, sizeof *o);
    int64_t n = nb_params_numel(p);
    if (o) {
        o->kind = k;
        o->p = p;
        o->numel = n;
        if (moments >= 1) o->m = calloc((size_t)(n ? n : 1), sizeof(float));
        if (moments >= 2) o->v = calloc((size_t)(n ? n : 1), sizeof(float));
    }
    if (!o || (moments >= 1 && !o->m) || (moments >= 2 && !o->v)) {
        nb_optim_free(o);
        nb__err(NB_ERR_MEM, "optimizer: out of memory for %lld moments", (long long)n);
        return NULL;
    }
    return o;
}

nb_optim *nb_sgd_new(nb_params *p, nb_sgd_opts s) {
    if (!(s.lr >= 0) || !(s.momentum >= 0) || !(s.weight_decay >= 0) || (s.nesterov && s.momentum <= 0)) {
        nb__err(NB_ERR_ARG, "nb_sgd_new: lr, momentum and weight_decay must be >= 0 (nesterov needs momentum > 0)");
        return NULL;
    }
    nb_optim *o = opt_new(p, OPT_SGD, s.momentum > 0 ? 1 : 0);
    if (o) o->sgd = s;
    return o;
}

nb_adam_opts nb_adam_defaults(float lr) {
    nb_adam_opts o = {lr, 0.9f, 0.999f, 1e-8f, 0.0f, false};
    return o;
}

nb_optim *nb_adam_new(nb_params *p, nb_adam_opts a) {
    if (!(a.lr >= 0) || !(a.beta1 >= 0 && a.beta1 < 1) || !(a.beta2 >= 0 && a.beta2 < 1) ||
        !(a.eps >= 0) || !(a.weight_decay >= 0)) {
        nb__err(NB_ERR_ARG, "nb_adam_new: need lr >= 0, betas in [0, 1), eps >= 0, weight_decay >= 0");
        return NULL;
    }
    nb_optim *o = opt_new(p, OPT_ADAM, 2);
    if (o) o->adam = a;
    return o;
}

void nb_optim_free(nb_optim *o) {
    if (!o) return;
    free(o->m);
    free(o->v);
    free(o);
}

nb_status nb_optim_step(nb_optim *o) {
    if (!o) return nb__err(NB_ERR_ARG, "nb_optim_step: optimizer is NULL");
    if (nb_params_numel(o->p) != o->numel)
        return nb__err(NB_ERR_STATE, "nb_optim_step: parameters were added after the optimizer was made");
    float *w = nb_params_data(o->p), *g = nb_params_grad(o->p);
    int64_t n = o->numel;
    o->t++;
    if (o->kind == OPT_SGD) {
        nb_sgd_opts s = o->sgd;
        bool first = o->t == 1;
#pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) {
            float d = g[i] + s.weight_decay * w[i];
            if (o->m) {
                o->m[i] = first ? d : s.momentum * o->m[i] + d;
                d = s.nesterov ? d + s.momentum * o->m[i] : o->m[i];
            }
            w[i] -= s.lr * d;
        }
        return NB_OK;
    }
    nb_adam_opts a = o->adam;
    float bc1 = 1.0f - powf(a.beta1, (float)o->t), bc2 = 1.0f - powf(a.beta2, (float)o->t);
    float step = a.lr / bc1, sq = sqrtf(bc2);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float d = g[i];
        if (a.decoupled)
            w[i] *= 1.0f - a.lr * a.weight_decay;
        else
            d += a.weight_decay * w[i];
        o->m[i] = a.beta1 * o->m[i] + (1.0f - a.beta1) * d;
        o->v[i] = a.beta2 * o->v[i] + (1.0f - a.beta2) * d * d;
        w[i] -= step * o->m[i] / (sqrtf(o->v[i]) / sq + a.eps);
    }
    return NB_OK;
}
