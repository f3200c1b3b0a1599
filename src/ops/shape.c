/* Shape ops: reshape, permute, slice and broadcast are views that share the input's storage;
 * contiguous and concat copy. Gradients are always contiguous in the tensor's own logical
 * order, so a view's backward adds the output gradient through the view's index mapping. */
#include "autograd/op.h"

static void copy_shape(nb_tensor *out, const nb_tensor *in) {
    out->ndim = in->ndim;
    memcpy(out->shape, in->shape, sizeof out->shape);
}

/* The gradient of x += src, the same layout: stored when x's gradient is still unset, or src
 * itself when x has no other reader (src is an output's gradient or scratch, final). */
static void flat_add(nb_tensor *x, float *restrict src, int64_t n) {
    if (nb__grad_share(x, src)) return;
    bool set;
    float *restrict dst = nb__grad_first(x, &set);
    if (set) memcpy(dst, src, (size_t)n * sizeof(float));
    else
        for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

/* ---- reshape: attrs reshape.ndim, reshape.shape (one size may be -1) ------------------- */
nb_status nb__shape_reshape(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0];
    const nb_shape_attr *at = &n->a.reshape;
    int nd = at->ndim, infer = -1;
    if (nd < 0 || nd > NB_MAX_DIMS)
        return nb__err(NB_ERR_ARG, "nb_reshape: ndim %d out of range 0..%d", nd, NB_MAX_DIMS);
    int64_t known = 1;
    for (int d = 0; d < nd; d++) {
        int64_t s = at->shape[d];
        if (s == -1 && infer < 0) {
            infer = d;
            continue;
        }
        if (s < 0) return nb__err(NB_ERR_ARG, "nb_reshape: bad size %lld at axis %d", (long long)s, d);
        if (s > 0 && known > INT64_MAX / 8 / s)
            return nb__err(NB_ERR_ARG, "nb_reshape: size %lld at axis %d makes too many elements",
                           (long long)s, d);
        known *= s;
    }
    out->ndim = nd;
    for (int d = 0; d < nd; d++) out->shape[d] = at->shape[d];
    if (infer >= 0) {
        if (known == 0 || x->numel % known)
            return nb__err(NB_ERR_SHAPE, "nb_reshape: cannot infer axis %d reshaping %s (%lld elements)",
                           infer, NB_SHAPE_STR(x), (long long)x->numel);
        out->shape[infer] = x->numel / known;
        known *= out->shape[infer];
    }
    if (known != x->numel)
        return nb__err(NB_ERR_SHAPE, "nb_reshape: %s has %lld elements, shape %s has %lld",
                       NB_SHAPE_STR(x), (long long)x->numel, NB_SHAPE_STR(out), (long long)known);
    nb__contig_strides(nd, out->shape, out->stride);
    out->data = x->data;
    return NB_OK;
}
void nb__fwd_reshape(nb_node *n) { (void)n; }
void nb__bwd_reshape(nb_node *n) { flat_add(n->in[0], n->out->grad, n->out->numel); }

/* ---- permute: attrs permute.perm -------------------------------------------------------- */
nb_status nb__shape_permute(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0];
    bool seen[NB_MAX_DIMS] = {0};
    out->ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++) {
        int p = n->a.permute.perm[d];
        if (p < 0 || p >= x->ndim || seen[p])
            return nb__err(NB_ERR_ARG, "nb_permute: not a permutation of the %d axes of %s (entry %d is %lld)",
                           x->ndim, NB_SHAPE_STR(x), d, (long long)p);
        seen[p] = true;
        out->shape[d] = x->shape[p];
        out->stride[d] = x->stride[p];
    }
    out->data = x->data;
    return NB_OK;
}
void nb__fwd_permute(nb_node *n) { (void)n; }
void nb__bwd_permute(nb_node *n) {
    nb_tensor *x = n->in[0];
    int64_t cs[NB_MAX_DIMS], st[NB_MAX_DIMS];
    nb__contig_strides(x->ndim, x->shape, cs);
    for (int d = 0; d < x->ndim; d++) st[d] = cs[n->a.permute.perm[d]];
    bool set; /* a permutation reaches every element once: an unset gradient is stored */
    float *g = nb__grad_first(x, &set);
    nb__strided_store(g, st, n->out->grad, n->out->ndim, n->out->shape, set);
}

/* ---- slice: attrs slice.axis, start, end, step (normalized in the builder) --------------- */
nb_status nb__shape_slice(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0];
    int ax = n->a.slice.axis;
    int64_t start = n->a.slice.start, end = n->a.slice.end, step = n->a.slice.step;
    copy_shape(out, x);
    memcpy(out->stride, x->stride, sizeof out->stride);
    out->shape[ax] = end > start ? 1 + (end - start - 1) / step : 0; /* no overflow for huge steps */
    out->stride[ax] = x->stride[ax] * step;
    out->data = NB_F(x) + start * x->stride[ax];
    return NB_OK;
}
void nb__fwd_slice(nb_node *n) { (void)n; }
void nb__bwd_slice(nb_node *n) {
    nb_tensor *x = n->in[0];
    int ax = n->a.slice.axis;
    int64_t st[NB_MAX_DIMS];
    nb__contig_strides(x->ndim, x->shape, st);
    float *g = nb__grad(x) + n->a.slice.start * st[ax];
    st[ax] *= n->a.slice.step;
    nb__strided_add(g, st, n->out->grad, n->out->ndim, n->out->shape);
}

/* ---- broadcast_to: attrs broadcast_to.ndim, broadcast_to.shape -------------------------- */
nb_status nb__shape_broadcast_to(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0];
    const nb_shape_attr *at = &n->a.broadcast_to;
    int nd = at->ndim, off = nd - x->ndim;
    if (nd > NB_MAX_DIMS || off < 0)
        return nb__err(NB_ERR_SHAPE, "nb_broadcast_to: cannot broadcast %s to %d axes", NB_SHAPE_STR(x), nd);
    out->ndim = nd;
    for (int d = 0; d < nd; d++) {
        out->shape[d] = at->shape[d];
        int xd = d - off;
        if (xd >= 0 && x->shape[xd] != 1 && x->shape[xd] != out->shape[d])
            return nb__err(NB_ERR_SHAPE, "nb_broadcast_to: cannot broadcast %s to %s (axis %d)",
                           NB_SHAPE_STR(x), NB_SHAPE_STR(out), d);
        if (out->shape[d] < 0) return nb__err(NB_ERR_ARG, "nb_broadcast_to: negative size");
        out->stride[d] = xd >= 0 && x->shape[xd] != 1 ? x->stride[xd] : 0;
    }
    out->data = x->data;
    return NB_OK;
}
void nb__fwd_broadcast_to(nb_node *n) { (void)n; }
void nb__bwd_broadcast_to(nb_node *n) {
    nb_tensor *x = n->in[0];
    const nb_tensor *o = n->out;
    int64_t cs[NB_MAX_DIMS], st[NB_MAX_DIMS];
    nb__contig_strides(x->ndim, x->shape, cs);
    int off = o->ndim - x->ndim;
    for (int d = 0; d < o->ndim; d++) {
        int xd = d - off;
        st[d] = xd >= 0 && x->shape[xd] != 1 ? cs[xd] : 0;
    }
    nb__strided_add(nb__grad(x), st, o->grad, o->ndim, o->shape);
}

/* ---- contiguous ------------------------------------------------------------------------ */
nb_status nb__shape_contiguous(nb_node *n, nb_tensor *out) {
    copy_shape(out, n->in[0]);
    return NB_OK;
}
void nb__fwd_contiguous(nb_node *n) {
    const nb_tensor *x = n->in[0];
    nb__strided_copy(NB_F(n->out), NB_F(x), x->ndim, x->shape, x->stride);
}
void nb__bwd_contiguous(nb_node *n) { flat_add(n->in[0], n->out->grad, n->out->numel); }

/* ---- concat: attrs concat.axis ---------------------------------------------------------- */
nb_status nb__shape_concat(nb_node *n, nb_tensor *out) {
    if (n->n_in < 1) return nb__err(NB_ERR_ARG, "nb_concat: no inputs");
    const nb_tensor *x0 = n->in[0];
    int ax = nb__axis("nb_concat", n->a.concat.axis, x0->ndim);
    if (ax < 0) return NB_ERR_ARG;
    n->a.concat.axis = ax;
    copy_shape(out, x0);
    out->shape[ax] = 0;
    for (int k = 0; k < n->n_in; k++) {
        const nb_tensor *x = n->in[k];
        bool ok = x->ndim == x0->ndim;
        for (int d = 0; ok && d < x0->ndim; d++) ok = d == ax || x->shape[d] == x0->shape[d];
        if (!ok)
            return nb__err(NB_ERR_SHAPE, "nb_concat: input %d has shape %s, input 0 has %s (they may differ only on axis %d)",
                           k, NB_SHAPE_STR(x), NB_SHAPE_STR(x0), ax);
        out->shape[ax] += x->shape[ax];
    }
    return NB_OK;
}
void nb__fwd_concat(nb_node *n) {
    nb_tensor *o = n->out;
    int ax = n->a.concat.axis;
    memset(o->data, 0, (size_t)o->numel * sizeof(float));
    int64_t off = 0;
    for (int k = 0; k < n->n_in; k++) {
        const nb_tensor *x = n->in[k];
        nb__strided_add(NB_F(o) + off * o->stride[ax], o->stride, NB_F(x), x->ndim, x->shape);
        off += x->shape[ax];
    }
}
void nb__bwd_concat(nb_node *n) {
    const nb_tensor *o = n->out;
    int ax = n->a.concat.axis;
    int64_t off = 0;
    for (int k = 0; k < n->n_in; k++) {
        nb_tensor *x = n->in[k];
        if (x->requires_grad) {
            float *tmp = nb__arena_alloc((size_t)x->numel * sizeof(float));
            if (!tmp) return; /* the tape sees the arena's failure */
            nb__strided_copy(tmp, o->grad + off * o->stride[ax], x->ndim, x->shape, o->stride);
            flat_add(x, tmp, x->numel);
        }
        off += x->shape[ax];
    }
}

/* ---- public builders -------------------------------------------------------------------- */
nb_tensor *nb_reshape(nb_tensor *x, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > NB_MAX_DIMS || (ndim && !shape)) {
        nb__err(NB_ERR_ARG, "nb_reshape: bad ndim %d or NULL shape", ndim);
        return NULL;
    }
    nb_attrs a = {.reshape = {.ndim = ndim}};
    for (int d = 0; d < ndim; d++) a.reshape.shape[d] = shape[d];
    return nb__apply(NB_OP_RESHAPE, &x, 1, &a);
}

nb_tensor *nb_permute(nb_tensor *x, const int *perm) {
    if (!x || !perm) {
        if (x) nb__err(NB_ERR_ARG, "nb_permute: perm is NULL");
        else nb__err_null("nb_permute", "input");
        return NULL;
    }
    nb_attrs a = {.permute = {{0}}};
    for (int d = 0; d < x->ndim; d++) a.permute.perm[d] = perm[d];
    return nb__apply(NB_OP_PERMUTE, &x, 1, &a);
}

nb_tensor *nb_transpose(nb_tensor *x, int axis0, int axis1) {
    if (!x) {
        nb__err_null("nb_transpose", "input");
        return NULL;
    }
    int a0 = nb__axis("nb_transpose", axis0, x->ndim), a1 = nb__axis("nb_transpose", axis1, x->ndim);
    if (a0 < 0 || a1 < 0) return NULL;
    int perm[NB_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) perm[d] = d;
    perm[a0] = a1;
    perm[a1] = a0;
    return nb_permute(x, perm);
}

nb_tensor *nb_slice(nb_tensor *x, int axis, int64_t start, int64_t end, int64_t step) {
    if (!x) {
        nb__err_null("nb_slice", "input");
        return NULL;
    }
    int ax = nb__axis("nb_slice", axis, x->ndim);
    if (ax < 0) return NULL;
    if (step < 1) {
        nb__err(NB_ERR_ARG, "nb_slice: step must be >= 1, got %lld", (long long)step);
        return NULL;
    }
    /* Python semantics: negative indices count from the end; out-of-range ones clamp. */
    int64_t len = x->shape[ax];
    if (start < 0) start += len;
    if (end < 0) end += len;
    start = start < 0 ? 0 : start > len ? len : start;
    end = end < 0 ? 0 : end > len ? len : end;
    nb_attrs a = {.slice = {.axis = ax, .start = start, .end = end, .step = step}};
    return nb__apply(NB_OP_SLICE, &x, 1, &a);
}

nb_tensor *nb_broadcast_to(nb_tensor *x, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > NB_MAX_DIMS || (ndim && !shape)) {
        nb__err(NB_ERR_ARG, "nb_broadcast_to: bad ndim %d or NULL shape", ndim);
        return NULL;
    }
    nb_attrs a = {.broadcast_to = {.ndim = ndim}};
    for (int d = 0; d < ndim; d++) a.broadcast_to.shape[d] = shape[d];
    return nb__apply(NB_OP_BROADCAST_TO, &x, 1, &a);
}

nb_tensor *nb_contiguous(nb_tensor *x) {
    if (x && nb_tensor_is_contiguous(x)) return x;
    return nb__apply(NB_OP_CONTIGUOUS, &x, 1, NULL);
}

nb_tensor *nb_concat(nb_tensor *const *xs, int n, int axis) {
    if (!xs || n < 1) {
        nb__err(NB_ERR_ARG, "nb_concat: need at least one input, got %d", xs ? n : 0);
        return NULL;
    }
    nb_attrs a = {.concat = {.axis = axis}};
    return nb__apply(NB_OP_CONCAT, (nb_tensor **)xs, n, &a);
}

nb_tensor *nb_detach(nb_tensor *x) {
    if (!x) {
        nb__err_null("nb_detach", "input");
        return NULL;
    }
    return nb__arena_view(x, x->data);
}
