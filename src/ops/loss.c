/* Losses, averaged over their elements (PyTorch's reduction="mean"); the result is 0-d.
 * Sums accumulate in double in a fixed order. */
#include "autograd/op.h"
#include "kernels/fastmath.h"
#include "kernels/kernels.h"

#include <math.h>

static nb_status scalar_out(nb_tensor *out) {
    out->ndim = 0;
    return NB_OK;
}

/* ---- classification: x (N, K), target int64 (N) ---------------------------------------- */
static nb_status class_shape(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0], *t = n->in[1];
    if (x->ndim != 2 || t->ndim != 1 || t->shape[0] != x->shape[0])
        return nb__err(NB_ERR_SHAPE, "%s: input %s must be (N, K) and target %s must be (N)",
                       NB_OPNAME(n), NB_SHAPE_STR(x), NB_SHAPE_STR(t));
    if (x->shape[0] == 0) return nb__err(NB_ERR_SHAPE, "%s: empty batch", NB_OPNAME(n));
    if (!nb_tensor_is_contiguous(t))
        return nb__err(NB_ERR_ARG, "%s: the target tensor must be contiguous", NB_OPNAME(n));
    for (int64_t i = 0; i < t->numel; i++)
        if (NB_I(t)[i] < 0 || NB_I(t)[i] >= x->shape[1])
            return nb__err(NB_ERR_ARG, "%s: target %lld at position %lld is outside the classes 0..%lld",
                           NB_OPNAME(n), (long long)NB_I(t)[i], (long long)i, (long long)x->shape[1] - 1);
    return scalar_out(out);
}

nb_status nb__shape_nll_loss(nb_node *n, nb_tensor *out) { return class_shape(n, out); }
void nb__fwd_nll_loss(nb_node *n) {
    const nb_tensor *x = n->in[0], *t = n->in[1];
    int64_t N = x->shape[0], K = x->shape[1];
    double acc = 0;
    for (int64_t i = 0; i < N; i++) acc -= NB_F(x)[i * K + NB_I(t)[i]];
    NB_F(n->out)[0] = (float)(acc / (double)N);
}
void nb__bwd_nll_loss(nb_node *n) {
    nb_tensor *x = n->in[0];
    const nb_tensor *t = n->in[1];
    int64_t N = x->shape[0], K = x->shape[1];
    float g = n->out->grad[0] / (float)N, *gx = nb__grad(x);
    for (int64_t i = 0; i < N; i++) gx[i * K + NB_I(t)[i]] -= g;
}

/* cross_entropy = nll(log_softmax(x)); aux keeps softmax(x) (N, K) for the backward. */
nb_status nb__shape_cross_entropy(nb_node *n, nb_tensor *out) {
    nb_status s = class_shape(n, out);
    if (s) return s;
    n->a.aux = nb__arena_alloc((size_t)n->in[0]->numel * sizeof(float));
    return n->a.aux ? NB_OK : NB_ERR_MEM;
}
void nb__fwd_cross_entropy(nb_node *n) {
    const nb_tensor *x = n->in[0], *t = n->in[1];
    int64_t N = x->shape[0], K = x->shape[1];
    float *lp = n->a.aux;
    nb__softmax_fwd(NB_F(x), lp, N, K, 1, 1);
    double acc = 0;
    for (int64_t i = 0; i < N; i++) acc -= lp[i * K + NB_I(t)[i]];
    NB_F(n->out)[0] = (float)(acc / (double)N);
    for (int64_t i = 0; i < N * K; i++) lp[i] = expf(lp[i]); /* now softmax(x) */
}
void nb__bwd_cross_entropy(nb_node *n) {
    nb_tensor *x = n->in[0];
    const nb_tensor *t = n->in[1];
    int64_t N = x->shape[0], K = x->shape[1];
    const float *p = n->a.aux;
    float g = n->out->grad[0] / (float)N, *gx = nb__grad(x);
    for (int64_t i = 0; i < N; i++) {
        for (int64_t k = 0; k < K; k++) gx[i * K + k] += g * p[i * K + k];
        gx[i * K + NB_I(t)[i]] -= g;
    }
}

/* ---- elementwise losses: x and y of one shape ------------------------------------------ */
static nb_status pair_shape(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0], *y = n->in[1];
    if (!nb__same_shape(x, y))
        return nb__err(NB_ERR_SHAPE, "%s: input %s and target %s must have the same shape",
                       NB_OPNAME(n), NB_SHAPE_STR(x), NB_SHAPE_STR(y));
    if (x->numel == 0) return nb__err(NB_ERR_SHAPE, "%s: empty input", NB_OPNAME(n));
    return scalar_out(out);
}

/* Loss value L(x, y) and partials dL/dx, dL/dy of one element, for each elementwise loss. */
static inline float clamp_log(float v) {
    float l = logf(v);
    return l < -100.0f ? -100.0f : l;
}

#define PAIR_LOSS(name, L, DX, DY)                                                         \
    nb_status nb__shape_##name(nb_node *n, nb_tensor *out) { return pair_shape(n, out); }  \
    void nb__fwd_##name(nb_node *n) {                                                      \
        const float *xs = NB_F(n->in[0]), *ys = NB_F(n->in[1]);                            \
        int64_t N = n->in[0]->numel;                                                       \
        double acc = 0;                                                                    \
        for (int64_t i = 0; i < N; i++) {                                                  \
            const float x = xs[i], y = ys[i];                                              \
            acc += (L);                                                                    \
        }                                                                                  \
        NB_F(n->out)[0] = (float)(acc / (double)N);                                        \
    }                                                                                      \
    void nb__bwd_##name(nb_node *n) {                                                      \
        const float *xs = NB_F(n->in[0]), *ys = NB_F(n->in[1]);                            \
        int64_t N = n->in[0]->numel;                                                       \
        float g = n->out->grad[0] / (float)N;                                              \
        float *gx = n->in[0]->requires_grad ? nb__grad(n->in[0]) : NULL;                   \
        float *gyv = n->in[1]->requires_grad ? nb__grad(n->in[1]) : NULL;                  \
        for (int64_t i = 0; i < N; i++) {                                                  \
            const float x = xs[i], y = ys[i];                                              \
            if (gx) gx[i] += g * (DX);                                                     \
            if (gyv) gyv[i] += g * (DY);                                                   \
        }                                                                                  \
    }

PAIR_LOSS(mse_loss, (double)(x - y) * (x - y), 2.0f * (x - y), -2.0f * (x - y))
/* PyTorch clamps each log at -100 and the gradient's denominator at 1e-12. */
PAIR_LOSS(bce_loss, -((double)y * clamp_log(x) + (1.0 - y) * clamp_log(1.0f - x)),
          (x - y) / fmaxf((1.0f - x) * x, 1e-12f), clamp_log(1.0f - x) - clamp_log(x))
/* max(x,0) - x*y + log(1 + exp(-|x|)) is the stable form of the sigmoid cross-entropy. The
 * forward's terms (the loss value only: no gradient depends on them) are computed a block at a
 * time by bce_logit_terms, in a loop that vectorizes, and summed in double in element order. */
#define NB_BCE_BLOCK 256
NB__CLONES static void bce_logit_terms(double *restrict t, const float *restrict xs, const float *restrict ys,
                                       int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float x = xs[i];
        /* log1p(e) = 2 atanh(s), s = e / (2 + e) <= 1/3 for e = exp(-|x|) in (0, 1]: the odd
         * series to s^15 is within 2e-9 relative; e from fastmath.h's expf (2 ulp). */
        const double e = (double)nb__expf(-fabsf(x)), s = e / (2.0 + e), s2 = s * s;
        double p = 1.0 / 15;
        p = p * s2 + 1.0 / 13, p = p * s2 + 1.0 / 11, p = p * s2 + 1.0 / 9, p = p * s2 + 1.0 / 7;
        p = p * s2 + 1.0 / 5, p = p * s2 + 1.0 / 3, p = p * s2 + 1.0;
        t[i] = (x > 0.0f ? (double)x : 0.0) - (double)x * ys[i] + 2.0 * s * p;
    }
}
nb_status nb__shape_bce_with_logits(nb_node *n, nb_tensor *out) { return pair_shape(n, out); }
void nb__fwd_bce_with_logits(nb_node *n) {
    const float *xs = NB_F(n->in[0]), *ys = NB_F(n->in[1]);
    const int64_t N = n->in[0]->numel;
    double acc = 0, t[NB_BCE_BLOCK];
    for (int64_t i0 = 0; i0 < N; i0 += NB_BCE_BLOCK) {
        const int64_t m = N - i0 < NB_BCE_BLOCK ? N - i0 : NB_BCE_BLOCK;
        bce_logit_terms(t, xs + i0, ys + i0, m);
        for (int64_t i = 0; i < m; i++) acc += t[i];
    }
    NB_F(n->out)[0] = (float)(acc / (double)N);
}
void nb__bwd_bce_with_logits(nb_node *n) {
    const float *xs = NB_F(n->in[0]), *ys = NB_F(n->in[1]);
    int64_t N = n->in[0]->numel;
    float g = n->out->grad[0] / (float)N;
    float *gx = n->in[0]->requires_grad ? nb__grad(n->in[0]) : NULL;
    float *gyv = n->in[1]->requires_grad ? nb__grad(n->in[1]) : NULL;
    for (int64_t i = 0; i < N; i++) {
        const float x = xs[i], y = ys[i];
        if (gx) gx[i] += g * (1.0f / (1.0f + expf(-x)) - y);
        if (gyv) gyv[i] += g * -x;
    }
}

/* ---- public builders -------------------------------------------------------------------- */
static nb_tensor *loss(nb_op op, nb_tensor *a, nb_tensor *b) {
    nb_tensor *in[2] = {a, b};
    return nb__apply(op, in, 2, NULL);
}
nb_tensor *nb_nll_loss(nb_tensor *logp, nb_tensor *t) { return loss(NB_OP_NLL_LOSS, logp, t); }
nb_tensor *nb_cross_entropy(nb_tensor *x, nb_tensor *t) { return loss(NB_OP_CROSS_ENTROPY, x, t); }
nb_tensor *nb_mse_loss(nb_tensor *x, nb_tensor *y) { return loss(NB_OP_MSE_LOSS, x, y); }
nb_tensor *nb_bce_loss(nb_tensor *p, nb_tensor *y) { return loss(NB_OP_BCE_LOSS, p, y); }
nb_tensor *nb_bce_with_logits(nb_tensor *x, nb_tensor *y) { return loss(NB_OP_BCE_WITH_LOGITS, x, y); }
