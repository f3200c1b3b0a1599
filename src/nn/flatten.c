/* Flatten: (N, ...) -> (N, rest), a view when the input is contiguous. */
#include "nn/nn_impl.h"

static nb_tensor *flatten_forward(nb_module *m, nb_tensor *x) {
    if (nb_tensor_ndim(x) < 1) {
        nb__err(NB_ERR_SHAPE, "Flatten '%s': input is 0-d", nb_module_path(m));
        return NULL;
    }
    int64_t s[2] = {nb_tensor_size(x, 0), -1};
    if (s[0] == 0) s[1] = 0;
    return nb_reshape(nb_tensor_is_contiguous(x) ? x : nb_contiguous(x), 2, s);
}
static const nb_module_ops flatten_ops = {.kind = "Flatten", .forward = flatten_forward};

nb_module *nb_flatten_new(void) { return nb__module_alloc(&flatten_ops, 0, "nb_flatten_new"); }
