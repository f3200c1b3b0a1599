/* Tensors: shape, strides, heap ownership, accessors and fills. */
#include "internal.h"

#include <math.h>

void nb__contig_strides(int ndim, const int64_t *shape, int64_t *stride) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[i] = s;
        s *= shape[i];
    }
}

void nb__set_contiguous(nb_tensor *t) {
    nb__contig_strides(t->ndim, t->shape, t->stride);
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    t->numel = n;
}

bool nb__same_shape(const nb_tensor *a, const nb_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

nb_status nb__check_shape(const char *fn, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > NB_MAX_DIMS)
        return nb__err(NB_ERR_ARG, "%s: ndim %d out of range 0..%d", fn, ndim, NB_MAX_DIMS);
    if (ndim > 0 && !shape) return nb__err(NB_ERR_ARG, "%s: shape is NULL", fn);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return nb__err(NB_ERR_ARG, "%s: size %lld of axis %d is negative", fn,
                           (long long)shape[i], i);
        if (shape[i] > 0 && n > INT64_MAX / 8 / shape[i])
            return nb__err(NB_ERR_ARG, "%s: shape %s has too many elements", fn,
                           nb__shape_str((char[96]){0}, 96, ndim, shape));
        n *= shape[i];
    }
    return NB_OK;
}

int nb__axis(const char *fn, int axis, int ndim) {
    int a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim) {
        nb__err(NB_ERR_ARG, "%s: axis %d out of range for a %d-d tensor", fn, axis, ndim);
        return -1;
    }
    return a;
}

static nb_tensor *heap_new(const char *fn, nb_dtype dt, int ndim, const int64_t *shape) {
    if (nb__check_shape(fn, ndim, shape)) return NULL;
    nb_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        nb__err(NB_ERR_MEM, "%s: out of memory", fn);
        return NULL;
    }
    t->ndim = ndim;
    t->dtype = dt;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    nb__set_contiguous(t);
    size_t el = dt == NB_F32 ? sizeof(float) : sizeof(int64_t);
    t->data = calloc((size_t)(t->numel ? t->numel : 1), el);
    if (!t->data) {
        nb__err(NB_ERR_MEM, "%s: out of memory for %lld elements", fn, (long long)t->numel);
        free(t);
        return NULL;
    }
    t->owner = NB_OWN_HEAP;
    t->owns_data = true;
    t->is_leaf = true;
    return t;
}

nb_tensor *nb_tensor_new(int ndim, const int64_t *shape) {
    return heap_new("nb_tensor_new", NB_F32, ndim, shape);
}

nb_tensor *nb_index_new(int ndim, const int64_t *shape) {
    return heap_new("nb_index_new", NB_I64, ndim, shape);
}

nb_tensor *nb_tensor_from(int ndim, const int64_t *shape, const float *data) {
    if (!data) {
        nb__err(NB_ERR_ARG, "nb_tensor_from: data is NULL");
        return NULL;
    }
    nb_tensor *t = heap_new("nb_tensor_from", NB_F32, ndim, shape);
    if (t) memcpy(t->data, data, (size_t)t->numel * sizeof(float));
    return t;
}

void nb_tensor_free(nb_tensor *t) {
    if (!t || t->owner != NB_OWN_HEAP) return;
    if (t->owns_data) free(t->data);
    free(t->grad);
    free(t);
}

int nb_tensor_ndim(const nb_tensor *t) { return t ? t->ndim : 0; }

int64_t nb_tensor_size(const nb_tensor *t, int axis) {
    if (!t) return 0;
    int a = nb__axis("nb_tensor_size", axis, t->ndim);
    return a < 0 ? 0 : t->shape[a];
}

const int64_t *nb_tensor_shape(const nb_tensor *t) { return t ? t->shape : NULL; }
int64_t nb_tensor_numel(const nb_tensor *t) { return t ? t->numel : 0; }
nb_dtype nb_tensor_dtype(const nb_tensor *t) { return t ? t->dtype : NB_F32; }

bool nb_tensor_is_contiguous(const nb_tensor *t) {
    if (!t) return false;
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

float *nb_tensor_data(nb_tensor *t) { return t && t->dtype == NB_F32 ? NB_F(t) : NULL; }
int64_t *nb_tensor_idata(nb_tensor *t) { return t && t->dtype == NB_I64 ? NB_I(t) : NULL; }
float *nb_tensor_grad(nb_tensor *t) {
    if (t && t->grad_unset) nb__grad_settle(t); /* taken by a backward that has not written it */
    return t ? t->grad : NULL;
}

float nb_tensor_get(const nb_tensor *t, const int64_t *index) {
    if (!t || t->dtype != NB_F32) return NAN;
    int64_t off = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (index[i] < 0 || index[i] >= t->shape[i]) return NAN;
        off += index[i] * t->stride[i];
    }
    return NB_F(t)[off];
}

float nb_tensor_item(const nb_tensor *t) {
    if (!t || t->numel != 1 || t->dtype != NB_F32) return NAN;
    return NB_F(t)[0];
}

nb_status nb_tensor_set_requires_grad(nb_tensor *t, bool on) {
    if (!t) return nb__err(NB_ERR_ARG, "nb_tensor_set_requires_grad: tensor is NULL");
    if (t->dtype != NB_F32)
        return nb__err(NB_ERR_DTYPE, "nb_tensor_set_requires_grad: index tensors have no gradient");
    if (!t->is_leaf)
        return nb__err(NB_ERR_STATE,
                       "nb_tensor_set_requires_grad: only leaf tensors (made with nb_tensor_new "
                       "or nb_params_add) can be marked; use nb_detach for op results");
    if (on && !t->grad) {
        t->grad = calloc((size_t)(t->numel ? t->numel : 1), sizeof(float));
        if (!t->grad) return nb__err(NB_ERR_MEM, "nb_tensor_set_requires_grad: out of memory");
    }
    t->requires_grad = on;
    return NB_OK;
}

bool nb_tensor_requires_grad(const nb_tensor *t) { return t && t->requires_grad; }

void nb_tensor_zero_grad(nb_tensor *t) {
    if (t && t->grad) memset(t->grad, 0, (size_t)t->numel * sizeof(float));
}

/* Fills walk the contiguous buffer: heap and parameter tensors are always contiguous. */
void nb_tensor_fill_uniform(nb_tensor *t, float lo, float hi) {
    if (!t || t->dtype != NB_F32) return;
    for (int64_t i = 0; i < t->numel; i++) NB_F(t)[i] = lo + (hi - lo) * nb_rng_uniform();
}

void nb_tensor_fill_normal(nb_tensor *t, float mean, float std) {
    if (!t || t->dtype != NB_F32) return;
    for (int64_t i = 0; i < t->numel; i++) NB_F(t)[i] = mean + std * nb_rng_normal();
}

void nb_tensor_fill(nb_tensor *t, float value) {
    if (!t || t->dtype != NB_F32) return;
    for (int64_t i = 0; i < t->numel; i++) NB_F(t)[i] = value;
}

void nb_tensor_print(const nb_tensor *t, const char *name) {
    if (!t) {
        fprintf(stderr, "%s: NULL\n", name ? name : "tensor");
        return;
    }
    fprintf(stderr, "%s %s [", name ? name : "tensor", NB_SHAPE_STR(t));
    int64_t idx[NB_MAX_DIMS] = {0};
    for (int64_t i = 0; i < t->numel && i < 64; i++) {
        int64_t off = 0;
        for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
        if (t->dtype == NB_F32)
            fprintf(stderr, i ? " %g" : "%g", (double)NB_F(t)[off]);
        else
            fprintf(stderr, i ? " %lld" : "%lld", (long long)NB_I(t)[off]);
        for (int d = t->ndim - 1; d >= 0 && ++idx[d] == t->shape[d]; d--) idx[d] = 0;
    }
    fprintf(stderr, "%s]\n", t->numel > 64 ? " ..." : "");
}
