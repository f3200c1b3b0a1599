/* softmax and log_softmax over one axis, through the kernels on (outer, K, inner). */
#include "autograd/op.h"
#include "kernels/kernels.h"

/* attrs: i[0] axis, i[1..3] outer, K, inner */
static nb_status sm_shape(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0];
    int ax = nb__axis(NB_OPNAME(n), (int)n->a.i[0], x->ndim);
    if (ax < 0) return NB_ERR_ARG;
    n->a.i[1] = n->a.i[3] = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d < ax) n->a.i[1] *= x->shape[d];
        if (d > ax) n->a.i[3] *= x->shape[d];
    }
    n->a.i[2] = x->shape[ax];
    out->ndim = x->ndim;
    memcpy(out->shape, x->shape, sizeof out->shape);
    return NB_OK;
}

static void sm_fwd(nb_node *n, int log) {
    nb__softmax_fwd(NB_F(n->in[0]), NB_F(n->out), n->a.i[1], n->a.i[2], n->a.i[3], log);
}
static void sm_bwd(nb_node *n, int log) {
    nb__softmax_bwd(NB_F(n->out), n->out->grad, nb__grad(n->in[0]), n->a.i[1], n->a.i[2],
                    n->a.i[3], log);
}

nb_status nb__shape_softmax(nb_node *n, nb_tensor *out) { return sm_shape(n, out); }
void nb__fwd_softmax(nb_node *n) { sm_fwd(n, 0); }
void nb__bwd_softmax(nb_node *n) { sm_bwd(n, 0); }
nb_status nb__shape_log_softmax(nb_node *n, nb_tensor *out) { return sm_shape(n, out); }
void nb__fwd_log_softmax(nb_node *n) { sm_fwd(n, 1); }
void nb__bwd_log_softmax(nb_node *n) { sm_bwd(n, 1); }

static nb_tensor *sm(nb_op op, nb_tensor *x, int axis) {
    nb_attrs a = {0};
    a.i[0] = axis;
    return nb__apply(op, &x, 1, &a);
}
nb_tensor *nb_softmax(nb_tensor *x, int axis) { return sm(NB_OP_SOFTMAX, x, axis); }
nb_tensor *nb_log_softmax(nb_tensor *x, int axis) { return sm(NB_OP_LOG_SOFTMAX, x, axis); }
