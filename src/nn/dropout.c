/* Dropout: inverted dropout with probability p in training, the identity in evaluation. */
#include "nn/nn_impl.h"

typedef struct dropout {
    float p;
} dropout;

static nb_tensor *dropout_forward(nb_module *m, nb_tensor *x) {
    return nb_dropout(x, ((dropout *)nb_module_state(m))->p, nb_module_training(m));
}
static void dropout_describe(const nb_module *m, char *buf, size_t cap) {
    snprintf(buf, cap, "Dropout(%g)", ((const dropout *)nb_module_state(m))->p);
}
static const nb_module_ops dropout_ops = {.kind = "Dropout", .forward = dropout_forward, .describe = dropout_describe};

nb_module *nb_dropout_new(float p) {
    if (!(p >= 0 && p < 1)) {
        nb__err(NB_ERR_ARG, "nb_dropout_new: p must be in [0, 1), got %g", p);
        return NULL;
    }
    nb_module *m = nb__module_alloc(&dropout_ops, sizeof(dropout), "nb_dropout_new");
    if (m) ((dropout *)nb_module_state(m))->p = p;
    return m;
}
