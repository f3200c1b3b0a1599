/* Flatten: (N, ...) -> (N, rest), a view when the input is contiguous; Unflatten: (N, D) ->
 * (N, shape...), the way back (a decoder's dense output to an image). */
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

typedef struct unflatten {
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    int64_t numel;
} unflatten;

static nb_tensor *unflatten_forward(nb_module *m, nb_tensor *x) {
    const unflatten *s = nb_module_state(m);
    if (nb_tensor_ndim(x) != 2 || nb_tensor_size(x, 1) != s->numel) {
        nb__err(NB_ERR_SHAPE, "Unflatten '%s': input %s is not (N, %lld)", nb_module_path(m), NB_SHAPE_STR(x),
                (long long)s->numel);
        return NULL;
    }
    int64_t shape[NB_MAX_DIMS + 1] = {nb_tensor_size(x, 0)};
    memcpy(shape + 1, s->shape, (size_t)s->ndim * sizeof(int64_t));
    return nb_reshape(nb_tensor_is_contiguous(x) ? x : nb_contiguous(x), s->ndim + 1, shape);
}
static void unflatten_describe(const nb_module *m, char *buf, size_t cap) {
    const unflatten *s = nb_module_state(m);
    char sh[96];
    nb__shape_str(sh, sizeof sh, s->ndim, s->shape);
    snprintf(buf, cap, "Unflatten%s", sh);
}
static const nb_module_ops unflatten_ops = {.kind = "Unflatten", .forward = unflatten_forward,
                                            .describe = unflatten_describe};

nb_module *nb_unflatten_new(int ndim, const int64_t *shape) {
    if (ndim < 1 || ndim >= NB_MAX_DIMS || !shape) {
        nb__err(NB_ERR_ARG, "nb_unflatten_new: need 1 to %d sizes, got %d", NB_MAX_DIMS - 1, ndim);
        return NULL;
    }
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1 || shape[i] > ((int64_t)1 << 31)) {
            nb__err(NB_ERR_ARG, "nb_unflatten_new: size %d is %lld", i, (long long)shape[i]);
            return NULL;
        }
        numel *= shape[i];
    }
    nb_module *m = nb__module_alloc(&unflatten_ops, sizeof(unflatten), "nb_unflatten_new");
    if (!m) return NULL;
    unflatten *s = nb_module_state(m);
    s->ndim = ndim;
    s->numel = numel;
    memcpy(s->shape, shape, (size_t)ndim * sizeof(int64_t));
    return m;
}
