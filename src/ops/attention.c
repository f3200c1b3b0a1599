/* Fused scaled dot-product attention: one op for softmax(scale * q k^T + mask) v over every
 * (n, h) block, with key padding (lengths), a causal mask and dropout on the probabilities
 * (kernels/attention.c). Checks, the saved buffers and the dropout mask live here.
 *
 * Inputs: q (N, H, Tq, Dh), k and v (N, H, Tk, Dh), and the optional int64 lengths (N). */
#include "autograd/op.h"
#include "kernels/kernels.h"

#include <math.h>

/* aux: what the forward keeps for the backward. */
typedef struct attn_saved {
    float *p;      /* (N, H, Tq, Tk) probabilities before dropout; NULL when nothing is recorded */
    uint8_t *keep; /* (N, H, Tq, Tk) dropout mask (1 = kept), or NULL: no dropout */
    float *ws;     /* the forward's scratch (nb__attn_workspace) */
} attn_saved;

static nb__attn_dims dims(const nb_node *n) {
    const nb_tensor *len = n->in[3];
    const attn_saved *sv = n->a.aux;
    const float p = n->a.attention.dropout;
    return (nb__attn_dims){.B = n->a.attention.N * n->a.attention.H, .H = n->a.attention.H,
                           .Tq = n->a.attention.Tq, .Tk = n->a.attention.Tk, .Dh = n->a.attention.Dh,
                           .scale = n->a.attention.scale, .causal = n->a.attention.causal,
                           .len = len ? NB_I(len) : NULL, .keep = sv ? sv->keep : NULL,
                           .keep_scale = 1.0f / (1.0f - p), .threads = nb__threads()};
}

nb_status nb__shape_attention(nb_node *n, nb_tensor *out) {
    const nb_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2], *len = n->in[3];
    const float p = n->a.attention.dropout, scale = n->a.attention.scale;
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4)
        return nb__err(NB_ERR_SHAPE, "nb_attention: q %s, k %s and v %s must be 4-d: (N, H, Tq, Dh), (N, H, Tk, Dh) "
                       "and (N, H, Tk, Dh)", NB_SHAPE_STR(q), NB_SHAPE_STR(k), NB_SHAPE_STR(v));
    const int64_t N = q->shape[0], H = q->shape[1], Tq = q->shape[2], Dh = q->shape[3], Tk = k->shape[2];
    if (k->shape[0] != N || k->shape[1] != H || k->shape[3] != Dh || !nb__same_shape(k, v))
        return nb__err(NB_ERR_SHAPE, "nb_attention: q %s, k %s and v %s must be (N, H, Tq, Dh), (N, H, Tk, Dh) "
                       "and (N, H, Tk, Dh) with the same N, H and Dh", NB_SHAPE_STR(q), NB_SHAPE_STR(k),
                       NB_SHAPE_STR(v));
    if (Tk < 1 || Dh < 1)
        return nb__err(NB_ERR_SHAPE, "nb_attention: k %s has no keys or no features (Tk and Dh must be >= 1)",
                       NB_SHAPE_STR(k));
    if (n->a.attention.causal && Tq != Tk)
        return nb__err(NB_ERR_SHAPE, "nb_attention: causal attention needs as many queries as keys, got "
                       "q %s and k %s (Tq %lld != Tk %lld)", NB_SHAPE_STR(q), NB_SHAPE_STR(k), (long long)Tq,
                       (long long)Tk);
    if (len) {
        if (len->ndim != 1 || len->shape[0] != N || !nb_tensor_is_contiguous(len))
            return nb__err(NB_ERR_SHAPE, "nb_attention: lengths %s must be a contiguous (%lld), one per sample of q %s",
                           NB_SHAPE_STR(len), (long long)N, NB_SHAPE_STR(q));
        for (int64_t i = 0; i < N; i++)
            if (NB_I(len)[i] < 1 || NB_I(len)[i] > Tk)
                return nb__err(NB_ERR_ARG, "nb_attention: sample %lld has length %lld, outside 1..%lld (Tk of k %s)",
                               (long long)i, (long long)NB_I(len)[i], (long long)Tk, NB_SHAPE_STR(k));
    }
    /* The scores of every block, and each thread's scratch, must be addressable (sizes are
     * checked in double, which cannot wrap). */
    if ((double)N * (double)H * (double)Tq * (double)Tk > 0x1p60 || 2.0 * nb__threads() * (double)Tq * (double)Tk > 0x1p60)
        return nb__err(NB_ERR_SHAPE, "nb_attention: q %s and k %s: the Tq x Tk scores per block are too large",
                       NB_SHAPE_STR(q), NB_SHAPE_STR(k));
    if (!(p >= 0.0f && p < 1.0f))
        return nb__err(NB_ERR_ARG, "nb_attention: dropout must be in [0, 1), got %g", (double)p);
    if (isnan(scale) || isinf(scale))
        return nb__err(NB_ERR_ARG, "nb_attention: scale must be finite (<= 0 for 1/sqrt(Dh)), got %g", (double)scale);
    n->a.attention.scale = scale > 0.0f ? scale : (float)(1.0 / sqrt((double)Dh));
    n->a.attention.N = N, n->a.attention.H = H, n->a.attention.Tq = Tq, n->a.attention.Tk = Tk;
    n->a.attention.Dh = Dh;

    attn_saved *sv = nb__arena_calloc(sizeof *sv);
    if (!sv) return NB_ERR_MEM;
    n->a.aux = sv;
    const size_t scores = (size_t)(N * H * Tq * Tk);
    /* The probabilities are kept only when the node will be recorded; otherwise the forward
     * works in its per-thread scratch. */
    bool record = false;
    for (int i = 0; i < 3; i++) record |= n->in[i]->requires_grad;
    if (record && nb_grad_enabled() && !(sv->p = nb__arena_alloc((scores ? scores : 1) * sizeof(float))))
        return NB_ERR_MEM;
    if (n->a.attention.training && !(sv->keep = nb__arena_alloc(scores ? scores : 1))) return NB_ERR_MEM;
    nb__attn_dims d = dims(n);
    if (!(sv->ws = nb__arena_alloc(nb__attn_workspace(&d) * sizeof(float)))) return NB_ERR_MEM;
    out->ndim = 4;
    memcpy(out->shape, q->shape, sizeof out->shape);
    return NB_OK;
}

void nb__fwd_attention(nb_node *n) {
    attn_saved *sv = n->a.aux;
    if (sv->keep) {
        /* Drawn serially from the library RNG, as nb_dropout draws its mask (in bulk, a chunk
         * at a time), so a seed fixes the mask whatever the threads. */
        const float p = n->a.attention.dropout;
        const int64_t cnt = n->a.attention.N * n->a.attention.H * n->a.attention.Tq * n->a.attention.Tk;
        float u[1024];
        for (int64_t i0 = 0; i0 < cnt; i0 += 1024) {
            const int64_t m = cnt - i0 < 1024 ? cnt - i0 : 1024;
            nb__rng_uniforms(u, m);
            for (int64_t i = 0; i < m; i++) sv->keep[i0 + i] = u[i] < p ? 0 : 1;
        }
    }
    nb__attn_dims d = dims(n);
    nb__attn_fwd(&d, NB_F(n->in[0]), NB_F(n->in[1]), NB_F(n->in[2]), sv->p, NB_F(n->out), sv->ws);
}

void nb__bwd_attention(nb_node *n) {
    const attn_saved *sv = n->a.aux;
    nb_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2];
    nb__attn_dims d = dims(n);
    float *ws = nb__arena_alloc(nb__attn_workspace(&d) * sizeof(float));
    if (!ws) return;
    NB_ASSERT(sv->p);
    /* Unset gradients of three distinct tensors are stored, not zero-filled and added to (with a
     * tensor given twice, one product would overwrite another's sum). */
    float *g[3] = {NULL, NULL, NULL};
    const bool distinct = q != k && k != v && q != v;
    for (int i = 0; i < 3; i++) {
        nb_tensor *t = n->in[i];
        bool set = false;
        if (t->requires_grad) g[i] = distinct ? nb__grad_first(t, &set) : nb__grad(t);
        if (set) d.store |= 1u << i;
    }
    nb__attn_bwd(&d, NB_F(q), NB_F(k), NB_F(v), sv->p, n->out->grad, g[0], g[1], g[2], ws);
}

nb_attn_opts nb_attn_defaults(void) {
    return (nb_attn_opts){.lengths = NULL, .causal = false, .scale = 0.0f, .dropout = 0.0f, .training = false};
}

nb_tensor *nb_attention(nb_tensor *q, nb_tensor *k, nb_tensor *v, nb_attn_opts o) {
    nb_tensor *in[4] = {q, k, v, o.lengths};
    nb_attrs a = {.attention = {.causal = o.causal, .training = o.training && o.dropout > 0.0f, .scale = o.scale,
                                .dropout = o.dropout}};
    return nb__apply(NB_OP_ATTENTION, in, 4, &a);
}
