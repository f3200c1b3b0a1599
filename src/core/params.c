/* Parameters: one contiguous slab of values and one of gradients, a view per parameter.
 * Zeroing is one memset, an optimizer one loop, a checkpoint one pass. */
#include "internal.h"

#include <math.h>
#include <omp.h>

struct nb_params {
    int count, cap;
    nb_tensor **t; /* owned structs; data/grad point into the slabs */
    char **names;
    int64_t *offset; /* first element of each parameter in the slabs */
    float *data, *grad;
    int64_t numel, slab_cap;
};

nb_params *nb_params_new(void) {
    nb_params *p = calloc(1, sizeof *p);
    if (!p) nb__err(NB_ERR_MEM, "nb_params_new: out of memory");
    return p;
}

void nb_params_free(nb_params *p) {
    if (!p) return;
    for (int i = 0; i < p->count; i++) {
        free(p->t[i]);
        free(p->names[i]);
    }
    free(p->t);
    free(p->names);
    free(p->offset);
    free(p->data);
    free(p->grad);
    free(p);
}

static void repoint(nb_params *p) {
    for (int i = 0; i < p->count; i++) {
        p->t[i]->data = p->data + p->offset[i];
        p->t[i]->grad = p->grad + p->offset[i];
    }
}

nb_tensor *nb_params_add(nb_params *p, const char *name, int ndim, const int64_t *shape) {
    if (!p || !name) {
        nb__err(NB_ERR_ARG, "nb_params_add: %s is NULL", p ? "name" : "params");
        return NULL;
    }
    if (nb__check_shape("nb_params_add", ndim, shape)) return NULL;
    if (nb_params_find(p, name)) {
        nb__err(NB_ERR_ARG, "nb_params_add: a parameter named '%s' already exists", name);
        return NULL;
    }
    if (p->count == p->cap) {
        int cap = p->cap ? p->cap * 2 : 16;
        nb_tensor **t = realloc(p->t, (size_t)cap * sizeof *t);
        if (t) p->t = t;
        char **nm = realloc(p->names, (size_t)cap * sizeof *nm);
        if (nm) p->names = nm;
        int64_t *off = realloc(p->offset, (size_t)cap * sizeof *off);
        if (off) p->offset = off;
        if (!t || !nm || !off) goto oom;
        p->cap = cap;
    }
    nb_tensor *t = calloc(1, sizeof *t);
    char *nm = malloc(strlen(name) + 1);
    if (!t || !nm) {
        free(t);
        free(nm);
        goto oom;
    }
    strcpy(nm, name);
    t->ndim = ndim;
    t->dtype = NB_F32;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    nb__set_contiguous(t);
    /* Each parameter starts on a 16-float (64-byte) boundary of the slab. */
    int64_t off = (p->numel + 15) / 16 * 16, end = off + t->numel;
    if (end > p->slab_cap) {
        int64_t cap = p->slab_cap ? p->slab_cap : 1024;
        while (cap < end) cap *= 2;
        float *d = realloc(p->data, (size_t)cap * sizeof(float));
        if (d) p->data = d;
        float *g = realloc(p->grad, (size_t)cap * sizeof(float));
        if (g) p->grad = g;
        if (!d || !g) {
            repoint(p);
            free(t);
            free(nm);
            goto oom;
        }
        memset(p->data + p->slab_cap, 0, (size_t)(cap - p->slab_cap) * sizeof(float));
        memset(p->grad + p->slab_cap, 0, (size_t)(cap - p->slab_cap) * sizeof(float));
        p->slab_cap = cap;
    }
    t->owner = NB_OWN_PARAM;
    t->is_leaf = true;
    t->requires_grad = true;
    p->t[p->count] = t;
    p->names[p->count] = nm;
    p->offset[p->count] = off;
    p->count++;
    p->numel = end;
    repoint(p);
    return t;
oom:
    nb__err(NB_ERR_MEM, "nb_params_add: out of memory adding '%s'", name);
    return NULL;
}

int nb_params_count(const nb_params *p) { return p ? p->count : 0; }

nb_tensor *nb_params_get(nb_params *p, int i) {
    return p && i >= 0 && i < p->count ? p->t[i] : NULL;
}

const char *nb_params_name(const nb_params *p, int i) {
    return p && i >= 0 && i < p->count ? p->names[i] : NULL;
}

nb_tensor *nb_params_find(nb_params *p, const char *name) {
    if (!p || !name) return NULL;
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->names[i], name) == 0) return p->t[i];
    return NULL;
}

int64_t nb_params_numel(const nb_params *p) { return p ? p->numel : 0; }
float *nb_params_data(nb_params *p) { return p ? p->data : NULL; }
float *nb_params_grad(nb_params *p) { return p ? p->grad : NULL; }

void nb_params_zero_grad(nb_params *p) {
    if (!p || !p->grad) return;
    float *g = p->grad;
    NB__SPLIT(p->numel, memset(g + lo, 0, (size_t)(hi - lo) * sizeof(float))); /* large: by all threads */
}

void nb__params_unset_grads(nb_params *p) {
    if (!p || !p->grad) return;
    for (int i = 0; i < p->count; i++) p->t[i]->grad_unset = true;
}

void nb__params_settle_grads(nb_params *p) {
    if (!p || !p->grad) return;
    for (int i = 0; i < p->count; i++) nb__grad_settle(p->t[i]);
}

/* Whether any of x[0..n) is NaN or infinite: a float is not finite exactly when its exponent
 * bits are all ones. An OR of integer tests has no order to keep, so it vectorizes (in the
 * AVX-512/AVX2/baseline clones) and splits across threads without changing the answer (a float
 * sum would need -ffast-math). */
NB__CLONES uint32_t nb__top_bits(const float *restrict x, int64_t lo, int64_t hi) {
    uint32_t top = 0; /* the largest magnitude's bits: >= 0x7f800000 is an infinity or a NaN */
    for (int64_t i = lo; i < hi; i++) {
        uint32_t v;
        memcpy(&v, x + i, sizeof v);
        v &= 0x7fffffffu;
        top = v > top ? v : top;
    }
    return top;
}

static bool any_nonfinite(const float *x, int64_t n) {
    if (n <= 1048576 || nb__threads() < 2) return nb__top_bits(x, 0, n) >= 0x7f800000u;
    uint32_t top = 0;
#pragma omp parallel reduction(max : top)
    {
        const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        top = nb__top_bits(x, n * t / nt, n * (t + 1) / nt);
    }
    return top >= 0x7f800000u;
}

int64_t nb__first_nonfinite(const float *x, int64_t n) {
    if (!x || n <= 0 || !any_nonfinite(x, n)) return -1;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

int nb_params_nonfinite(nb_params *p, bool grads, int64_t *at) {
    if (at) *at = -1;
    if (!p || p->count == 0) return -1;
    const float *slab = grads ? p->grad : p->data;
    /* One pass over the whole slab (its alignment gaps stay zero); the owner is looked up only
     * when something is wrong. */
    if (!any_nonfinite(slab, p->numel)) return -1;
    for (int i = 0; i < p->count; i++) {
        int64_t k = nb__first_nonfinite(slab + p->offset[i], p->t[i]->numel);
        if (k >= 0) {
            if (at) *at = k;
            return i;
        }
    }
    return -1;
}
