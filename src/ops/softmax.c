/* softmax and log_softmax over one axis, through the kernels on (outer, K, inner). */
#include "autograd/op.h"
#include "kernels/kernels.h"

/* attrs: softmax.axis, and (shape) x as (outer, K, inner), K the softmax axis */
static nb_status sm_shape(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0];
    int ax = nb__axis(NB_OPNAME(n), n->a.softmax.axis, x->ndim);
    if (ax < 0) return NB_ERR_ARG;
    n->a.softmax.outer = n->a.softmax.inner = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d < ax) n->a.softmax.outer *= x->shape[d];
        if (d > ax) n->a.softmax.inner *= x->shape[d];
    }
    n->a.softmax.K = x->shape[ax];
    out->ndim = x->ndim;
    memcpy(out->shape, x->shape, sizeof out->shape);
    return NB_OK;
}

static void sm_fwd(nb_node *n, int log) {
    nb__softmax_fwd(NB_F(n->in[0]), NB_F(n->out), n->a.softmax.outer, n->a.softmax.K,
                    n->a.softmax.inner, log);
}
static void sm_bwd(nb_node *n, int log) {
    nb__softmax_bwd(NB_F(n->out), n->out->grad, nb__grad(n->in[0]), n->a.softmax.outer,
                    n->a.softmax.K, n->a.softmax.inner, log);
}

nb_status nb__shape_softmax(nb_node *n, nb_tensor *out) { return sm_shape(n, out); }
void nb__fwd_softmax(nb_node *n) { sm_fwd(n, 0); }
void nb__bwd_softmax(nb_node *n) { sm_bwd(n, 0); }
nb_status nb__shape_log_softmax(nb_node *n, nb_tensor *out) { return sm_shape(n, out); }
void nb__fwd_log_softmax(nb_node *n) { sm_fwd(n, 1); }
void nb__bwd_log_softmax(nb_node *n) { sm_bwd(n, 1); }

static nb_tensor *sm(nb_op op, nb_tensor *x, int axis) {
    nb_attrs a = {.softmax = {.axis = axis}};
    return nb__apply(op, &x, 1, &a);
}
nb_tensor *nb_softmax(nb_tensor *x, int axis) { return sm(NB_OP_SOFTMAX, x, axis); }
nb_tensor *nb_log_softmax(nb_tensor *x, int axis) { return sm(NB_OP_LOG_SOFTMAX, x, axis); }
