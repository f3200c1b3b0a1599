/* dropout and embedding lookup. */
#include "autograd/op.h"

#include <omp.h>

/* ---- dropout: attrs dropout.p, training; aux: the mask scaled by 1/(1-p) (N floats) ------ */
nb_status nb__shape_dropout(nb_node *n, nb_tensor *out) {
    float p = n->a.dropout.p;
    if (!(p >= 0.0f && p < 1.0f))
        return nb__err(NB_ERR_ARG, "nb_dropout: p must be in [0, 1), got %g", (double)p);
    out->ndim = n->in[0]->ndim;
    memcpy(out->shape, n->in[0]->shape, sizeof out->shape);
    if (n->a.dropout.training) {
        n->a.aux = nb__arena_alloc((size_t)n->in[0]->numel * sizeof(float));
        if (!n->a.aux) return NB_ERR_MEM;
    }
    return NB_OK;
}
/* m = the uniforms in m turned into the mask (0, or 1/(1-p) kept), y = x * m. */
NB__CLONES static void mask_apply(const float *restrict x, float *restrict y, float *restrict m, float p,
                                  int64_t N) {
    const float keep = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < N; i++) {
        m[i] = m[i] < p ? 0.0f : keep;
        y[i] = x[i] * m[i];
    }
}

/* gx = or += gy * m (set: gx is unset, stored) */
NB__CLONES static void mask_grad(const float *restrict gy, const float *restrict m, float *restrict gx, bool set,
                                 int64_t N) {
    if (set)
        for (int64_t i = 0; i < N; i++) gx[i] = gy[i] * m[i];
    else
        for (int64_t i = 0; i < N; i++) gx[i] += gy[i] * m[i];
}

void nb__fwd_dropout(nb_node *n) {
    const float *x = NB_F(n->in[0]);
    float *y = NB_F(n->out), *m = n->a.aux;
    int64_t N = n->out->numel;
    if (!m) {
        memcpy(y, x, (size_t)N * sizeof(float));
        return;
    }
    /* Drawn serially from the library RNG, so a seed fixes the mask whatever the threads: the
     * uniforms in bulk (the numbers of N nb_rng_uniform calls), then a loop that vectorizes. */
    nb__rng_uniforms(m, N);
    const float p = n->a.dropout.p;
    NB__SPLIT(N, mask_apply(x + lo, y + lo, m + lo, p, hi - lo));
}

void nb__bwd_dropout(nb_node *n) {
    const float *m = n->a.aux;
    float *gy = n->out->grad;
    const int64_t N = n->out->numel;
    if (!m && nb__grad_share(n->in[0], gy)) return; /* the identity: x may take y's gradient */
    bool set; /* an unset gradient is stored, not added to */
    float *gx = nb__grad_first(n->in[0], &set);
    if (!m && set) memcpy(gx, gy, (size_t)N * sizeof(float));
    else if (!m)
        for (int64_t i = 0; i < N; i++) gx[i] += gy[i];
    else
        NB__SPLIT(N, mask_grad(gy + lo, m + lo, gx + lo, set, hi - lo));
}

/* ---- embedding: weight (V, D), idx int64 (S...) -> (S..., D) ---------------------------- */
nb_status nb__shape_embedding(nb_node *n, nb_tensor *out) {
    const nb_tensor *w = n->in[0], *idx = n->in[1];
    if (w->ndim != 2)
        return nb__err(NB_ERR_SHAPE, "nb_embedding: weight %s must be 2-d (V, D)", NB_SHAPE_STR(w));
    if (idx->ndim + 1 > NB_MAX_DIMS)
        return nb__err(NB_ERR_SHAPE, "nb_embedding: indices %s have too many axes", NB_SHAPE_STR(idx));
    const int64_t *ix = NB_I(nb_tensor_is_contiguous(idx) ? idx : NULL);
    if (!ix) return nb__err(NB_ERR_ARG, "nb_embedding: the index tensor must be contiguous");
    for (int64_t i = 0; i < idx->numel; i++)
        if (ix[i] < 0 || ix[i] >= w->shape[0])
            return nb__err(NB_ERR_ARG, "nb_embedding: index %lld at position %lld is outside the vocabulary 0..%lld",
                           (long long)ix[i], (long long)i, (long long)w->shape[0] - 1);
    out->ndim = idx->ndim + 1;
    memcpy(out->shape, idx->shape, sizeof(int64_t) * (size_t)idx->ndim);
    out->shape[idx->ndim] = w->shape[1];
    return NB_OK;
}
void nb__fwd_embedding(nb_node *n) {
    const nb_tensor *w = n->in[0], *idx = n->in[1];
    int64_t D = w->shape[1];
    for (int64_t i = 0; i < idx->numel; i++)
        memcpy(NB_F(n->out) + i * D, NB_F(w) + NB_I(idx)[i] * D, (size_t)D * sizeof(float));
}
void nb__bwd_embedding(nb_node *n) {
    nb_tensor *w = n->in[0];
    const nb_tensor *idx = n->in[1];
    int64_t D = w->shape[1];
    float *gw = nb__grad(w);
    const float *gy = n->out->grad;
    for (int64_t i = 0; i < idx->numel; i++) {
        if (NB_I(idx)[i] == n->a.embedding.padding_idx) continue;
        float *row = gw + NB_I(idx)[i] * D;
        for (int64_t d = 0; d < D; d++) row[d] += gy[i * D + d];
    }
}

nb_tensor *nb_dropout(nb_tensor *x, float p, bool training) {
    nb_attrs a = {.dropout = {.p = p, .training = training && p > 0.0f}};
    return nb__apply(NB_OP_DROPOUT, &x, 1, &a);
}

nb_tensor *nb_embedding(nb_tensor *weight, nb_tensor *idx) {
    return nb_embedding_pad(weight, idx, -1);
}

nb_tensor *nb_embedding_pad(nb_tensor *weight, nb_tensor *idx, int64_t padding_idx) {
    nb_tensor *in[2] = {weight, idx};
    nb_attrs a = {.embedding = {.padding_idx = padding_idx < 0 ? -1 : padding_idx}};
    return nb__apply(NB_OP_EMBEDDING, in, 2, &a);
}
