/* Step tensors from the caller's data: copies in the step arena (a batch for one step). */
#include "internal.h"

static nb_tensor *step_tensor(const char *fn, nb_dtype dt, int ndim, const int64_t *shape, const void *data) {
    if (nb__check_shape(fn, ndim, shape)) return NULL;
    nb_tensor *t = nb__arena_tensor(dt, ndim, shape);
    if (!t) return NULL;
    size_t bytes = (size_t)t->numel * (dt == NB_F32 ? sizeof(float) : sizeof(int64_t));
    if (data) memcpy(t->data, data, bytes);
    else memset(t->data, 0, bytes);
    return t;
}

nb_tensor *nb_step_tensor(int ndim, const int64_t *shape, const float *data) {
    return step_tensor("nb_step_tensor", NB_F32, ndim, shape, data);
}

nb_tensor *nb_step_index(int ndim, const int64_t *shape, const int64_t *data) {
    return step_tensor("nb_step_index", NB_I64, ndim, shape, data);
}
