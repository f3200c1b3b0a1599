/* Reductions: sum and mean over a set of axes, max over one axis. Sums accumulate in double
 * in a fixed order, so results do not depend on the thread count. */
#include "autograd/op.h"

/* attrs (sum, mean): reduce.mask (normalized: never 0), reduce.keepdim. */
static nb_status reduce_shape(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0];
    uint32_t mask = n->a.reduce.mask;
    if (mask == 0) mask = (1u << x->ndim) - 1u;
    if (mask >> x->ndim)
        return nb__err(NB_ERR_ARG, "%s: axes mask 0x%x names axes beyond the %d of %s", NB_OPNAME(n),
                       mask, x->ndim, NB_SHAPE_STR(x));
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
        int ax = nb__axis("nb_max", n->a.max.axis, x->ndim);
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
    return NB_OK;
}

void nb__fwd_max(nb_node *n) {
    int64_t outer = n->a.max.outer, K = n->a.max.K, inner = n->a.max.inner;
    const float *x = NB_F(n->in[0]);
    float *y = NB_F(n->out);
    int64_t *idx = nb__arena_alloc((size_t)(outer * inner) * sizeof(int64_t));
    n->a.aux = idx;
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

static nb_tensor *reduce(nb_op op, nb_tensor *x, uint32_t mask, bool keepdim) {
    nb_attrs a = {.reduce = {.mask = mask, .keepdim = keepdim}};
    return nb__apply(op, &x, 1, &a);
}
nb_tensor *nb_sum(nb_tensor *x, uint32_t m, bool keepdim) { return reduce(NB_OP_SUM, x, m, keepdim); }
nb_tensor *nb_mean(nb_tensor *x, uint32_t m, bool keepdim) { return reduce(NB_OP_MEAN, x, m, keepdim); }
nb_tensor *nb_max(nb_tensor *x, int axis, bool keepdim) {
    nb_attrs a = {.max = {.axis = axis, .keepdim = keepdim}};
    return nb__apply(NB_OP_MAX, &x, 1, &a);
}
