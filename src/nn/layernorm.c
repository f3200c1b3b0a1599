/* LayerNorm: PyTorch's nn.LayerNorm(dim, eps) over the last axis; weight (dim) 1s, bias (dim)
 * 0s (under every init scheme, as BERT initializes its layer norms). */
#include "nn/nn_impl.h"

#include <math.h>

typedef struct layernorm {
    int d;
    float eps;
    nb_tensor *w, *b;
} layernorm;

static nb_status layernorm_bind(nb_module *m, nb_init init) {
    (void)init;
    layernorm *s = nb_module_state(m);
    s->w = nb_module_param(m, "weight", 1, (int64_t[]){s->d});
    s->b = s->w ? nb_module_param(m, "bias", 1, (int64_t[]){s->d}) : NULL;
    if (!s->b) return NB_ERR_MEM;
    nb_tensor_fill(s->w, 1);
    nb_tensor_fill(s->b, 0);
    return NB_OK;
}

static nb_tensor *layernorm_forward(nb_module *m, nb_tensor *x) {
    layernorm *s = nb_module_state(m);
    if (nb_tensor_dtype(x) != NB_F32 || nb_tensor_ndim(x) < 1 || nb_tensor_size(x, -1) != s->d) {
        nb__err(NB_ERR_SHAPE, "LayerNorm(%d) '%s': input %s, expected float (..., %d)", s->d, nb_module_path(m),
                NB_SHAPE_STR(x), s->d);
        return NULL;
    }
    return nb_layer_norm(x, s->w, s->b, s->eps);
}

static void layernorm_describe(const nb_module *m, char *buf, size_t cap) {
    const layernorm *s = nb_module_state(m);
    snprintf(buf, cap, "LayerNorm(%d, eps=%g)", s->d, (double)s->eps);
}

static const nb_module_ops layernorm_ops = {
    .kind = "LayerNorm", .bind = layernorm_bind, .forward = layernorm_forward, .describe = layernorm_describe};

nb_module *nb_layernorm_new(int dim, float eps) {
    if (dim < 1 || !(eps > 0) || !isfinite(eps)) {
        nb__err(NB_ERR_ARG, "nb_layernorm_new: needs dim >= 1 and a finite eps > 0, got %d, %g", dim, (double)eps);
        return NULL;
    }
    nb_module *m = nb__module_alloc(&layernorm_ops, sizeof(layernorm), "nb_layernorm_new");
    if (m) *(layernorm *)nb_module_state(m) = (layernorm){.d = dim, .eps = eps};
    return m;
}
