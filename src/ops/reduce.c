/* Reductions: sum and mean over one axis, several or all, max over one axis or all. Axes are
 * numbers as in PyTorch (negative counts from the end) or NB_ALL_AXES. Sums accumulate in
 * double in a fixed order, so results do not depend on the thread count. */
#include "autograd/op.h"

/* axis normalized to 0..ndim-1, or -1 with the error set naming the op and x's shape. */
static int norm_axis(const nb_node *n, int axis, const nb_tensor *x) {
    int a = axis < 0 ? axis + x->ndim : axis;
    if (axis == NB_ALL_AXES || a < 0 || a >= x->ndim) {
        if (axis == NB_ALL_AXES)
            nb__err(NB_ERR_ARG, "%s: NB_ALL_AXES cannot be one of several axes of %s", NB_OPNAME(n),
                    NB_SHAPE_STR(x));
        else if (x->ndim == 0)
            nb__err(NB_ERR_ARG, "%s: axis %d out of range for a 0-d tensor (it has no axes; use NB_ALL_AXES)",
                    NB_OPNAME(n), axis);
        else
            nb__err(NB_ERR_ARG, "%s: axis %d out of range for %s (axes -%d..%d)", NB_OPNAME(n), axis,
                    NB_SHAPE_STR(x), x->ndim, x->ndim - 1);
        return -1;
    }
    return a;
}

/* attrs (sum, mean): reduce.n axis numbers in reduce.axes (one NB_ALL_AXES: all axes),
 * reduce.keepdim; the shape function sets reduce.mask (bit d: axis d is reduced). */
static nb_status reduce_shape(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0];
    uint32_t mask = 0;
    if (n->a.reduce.n == 1 && n->a.reduce.axes[0] == NB_ALL_AXES) {
        mask = (1u << x->ndim) - 1u;
    } else {
        for (int i = 0; i < n->a.reduce.n; i++) {
            int ax = norm_axis(n, n->a.reduce.axes[i], x);
            if (ax < 0) return NB_ERR_ARG;
            if ((mask >> ax) & 1u)
                return nb__err(NB_ERR_ARG, "%s: axis %d of %s is named twice (as %d)", NB_OPNAME(n), ax,
                               NB_SHAPE_STR(x), n->a.reduce.axes[i]);
            mask |= 1u << ax;
        }
    }
    n->a.reduce.mask = mask;
    out->ndim = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!((mask >> d) & 1u))
            out->shape[out->ndim++] = x->shape[d];
        else if (n->a.reduce.keepdim)
            out->shape[out->ndim++] = 1;
    }
    return NB_OK;
}

/* Splits x's axes into kept (k*) and reduced (r*) lists of sizes and strides. */
static void split_axes(const nb_tensor *x, uint32_t mask, const int64_t *strides, int *nk,
                       int64_t *ks, int64_t *kst, int *nr, int64_t *rs, int64_t *rst) {
    *nk = *nr = 0;
    for (int d = 0; d < x->ndim; d++) {
        if ((mask >> d) & 1u) {
            rs[*nr] = x->shape[d];
            rst[(*nr)++] = strides[d];
        } else {
            ks[*nk] = x->shape[d];
            kst[(*nk)++] = strides[d];
        }
    }
}

static void sum_fwd(nb_node *n, double scale) {
    const nb_tensor *x = n->in[0];
    int nk, nr;
    int64_t ks[NB_MAX_DIMS], kst[NB_MAX_DIMS], rs[NB_MAX_DIMS], rst[NB_MAX_DIMS];
    split_axes(x, n->a.reduce.mask, x->stride, &nk, ks, kst, &nr, rs, rst);
    int64_t nout = n->out->numel, nred = 1;
    for (int d = 0; d < nr; d++) nred *= rs[d];
    const float *px = NB_F(x);
    float *y = NB_F(n->out);
#pragma omp parallel for schedule(static) if (nout > 64 && x->numel > 65536)
    for (int64_t o = 0; o < nout; o++) {
        int64_t base = 0, rem = o;
        for (int d = nk - 1; d >= 0; d--) {
            base += (rem % ks[d]) * kst[d];
            rem /= ks[d];
        }
        int64_t idx[NB_MAX_DIMS] = {0};
        double acc = 0;
        for (int64_t r = 0; r < nred; r++) {
            int64_t off = base;
            for (int d = 0; d < nr; d++) off += idx[d] * rst[d];
            acc += px[off];
            for (int d = nr - 1; d >= 0 && ++idx[d] == rs[d]; d--) idx[d] = 0;
        }
        y[o] = (float)(acc * scale);
    }
}

static void sum_bwd(nb_node *n, float scale) {
    nb_tensor *x = n->in[0];
    /* Read gy at each input position: strides of gy in x's index space, 0 on reduced axes. */
    uint32_t mask = n->a.reduce.mask;
    int64_t st[NB_MAX_DIMS], s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        if ((mask >> d) & 1u) {
            st[d] = 0;
        } else {
            st[d] = s;
            s *= x->shape[d];
        }
    }
    float *tmp = nb__arena_alloc((size_t)x->numel * sizeof(float));
    if (!tmp) return; /* the tape sees the arena's failure */
    nb__strided_copy(tmp, n->out->grad, x->ndim, x->shape, st);
    float *gx = nb__grad(x);
    for (int64_t i = 0; i < x->numel; i++) gx[i] += scale * tmp[i];
}

static double reduced_count(const nb_node *n) {
    const nb_tensor *x = n->in[0];
    double c = 1;
    for (int d = 0; d < x->ndim; d++)
        if ((n->a.reduce.mask >> d) & 1u) c *= (double)x->shape[d];
    return c;
}

nb_status nb__shape_sum(nb_node *n, nb_tensor *out) { return reduce_shape(n, out); }
void nb__fwd_sum(nb_node *n) { sum_fwd(n, 1.0); }
void nb__bwd_sum(nb_node *n) { sum_bwd(n, 1.0f); }

nb_status nb__shape_mean(nb_node *n, nb_tensor *out) {
    nb_status s = reduce_shape(n, out);
    if (s == NB_OK && reduced_count(n) == 0)
        return nb__err(NB_ERR_SHAPE, "nb_mean: mean over an empty axis of %s", NB_SHAPE_STR(n->in[0]));
    return s;
}
void nb__fwd_mean(nb_node *n) { sum_fwd(n, 1.0 / reduced_count(n)); }
void nb__bwd_mean(nb_node *n) { sum_bwd(n, (float)(1.0 / reduced_count(n))); }

/* ---- max over one axis: attrs max.axis (or NB_ALL_AXES), max.keepdim, and (shape) x as
 * (outer, K, inner); aux: int64 index of the maximum along the axis for each output ------- */
nb_status nb__shape_max(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0];
    int64_t outer = 1, K = x->numel, inner = 1;
    out->ndim = 0;
    if (n->a.max.axis == NB_ALL_AXES) {
        if (n->a.max.keepdim) {
            out->ndim = x->ndim;
            for (int d = 0; d < x->ndim; d++) out->shape[d] = 1;
        }
    } else {
        int ax = norm_axis(n, n->a.max.axis, x);
        if (ax < 0) return NB_ERR_ARG;
        K = x->shape[ax];
        for (int d = 0; d < x->ndim; d++) {
            if (d < ax) outer *= x->shape[d];
            if (d > ax) inner *= x->shape[d];
            if (d != ax || n->a.max.keepdim) out->shape[out->ndim++] = d == ax ? 1 : x->shape[d];
        }
    }
    if (K == 0) return nb__err(NB_ERR_SHAPE, "nb_max: maximum over an empty axis of %s", NB_SHAPE_STR(x));
    n->a.max.outer = outer;
    n->a.max.K = K;
    n->a.max.inner = inner;
    /* aux: the index of each maximum, taken here where a failure can be reported. */
    n->a.aux = nb__arena_alloc((size_t)(outer * inner) * sizeof(int64_t));
    return n->a.aux ? NB_OK : NB_ERR_MEM;
}

void nb__fwd_max(nb_node *n) {
    int64_t outer = n->a.max.outer, K = n->a.max.K, inner = n->a.max.inner;
    const float *x = NB_F(n->in[0]);
    float *y = NB_F(n->out);
    int64_t *idx = n->a.aux;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *p = x + o * K * inner + i;
            int64_t best = 0;
            for (int64_t k = 1; k < K; k++)
                if (p[k * inner] > p[best * inner] || (p[k * inner] != p[k * inner] && p[best * inner] == p[best * inner])) best = k;
            idx[o * inner + i] = best;
            y[o * inner + i] = p[best * inner];
        }
}

void nb__bwd_max(nb_node *n) {
    int64_t outer = n->a.max.outer, K = n->a.max.K, inner = n->a.max.inner;
    const int64_t *idx = n->a.aux;
    float *gx = nb__grad(n->in[0]);
    const float *gy = n->out->grad;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            gx[(o * K + idx[o * inner + i]) * inner + i] += gy[o * inner + i];
}

static nb_tensor *reduce(nb_op op, const char *fn, nb_tensor *x, int n, const int *axes,
                         bool keepdim) {
    if (n < 1 || n > NB_MAX_DIMS || !axes) {
        nb__err(NB_ERR_ARG, "%s: %d axes%s: give 1 to %d axis numbers (NB_ALL_AXES alone for all)",
                fn, n, axes ? "" : " (NULL list)", NB_MAX_DIMS);
        return NULL;
    }
    nb_attrs a = {.reduce = {.n = n, .keepdim = keepdim}};
    for (int i = 0; i < n; i++) a.reduce.axes[i] = axes[i];
    return nb__apply(op, &x, 1, &a);
}
nb_tensor *nb_sum(nb_tensor *x, int axis, bool keepdim) {
    return reduce(NB_OP_SUM, "nb_sum", x, 1, &axis, keepdim);
}
nb_tensor *nb_mean(nb_tensor *x, int axis, bool keepdim) {
    return reduce(NB_OP_MEAN, "nb_mean", x, 1, &axis, keepdim);
}
nb_tensor *nb_sum_axes(nb_tensor *x, int n, const int *axes, bool keepdim) {
    return reduce(NB_OP_SUM, "nb_sum_axes", x, n, axes, keepdim);
}
nb_tensor *nb_mean_axes(nb_tensor *x, int n, const int *axes, bool keepdim) {
    return reduce(NB_OP_MEAN, "nb_mean_axes", x, n, axes, keepdim);
}
nb_tensor *nb_max(nb_tensor *x, int axis, bool keepdim) {
    nb_attrs a = {.max = {.axis = axis, .keepdim = keepdim}};
    return nb__apply(NB_OP_MAX, &x, 1, &a);
}
