/* Fused recurrences: rnn_seq (tanh, relu, GRU) and lstm_seq over whole sequences. The kernels
 * (kernels/rnn.c) run the steps; here are the checks, the buffers and the parameter gradients,
 * which take one GEMM over all steps: dW_hh += dG^T H_prev. */
#include "autograd/op.h"
#include "kernels/kernels.h"

/* What the forward keeps for the backward. */
typedef struct rnn_saved {
    float *save;    /* (T, N, 4H), step-major: LSTM gates; GRU r, z, n, W_hn h + b_hn; NULL for the RNN */
    float *scratch; /* (N, G*H): the forward's gate rows */
} rnn_saved;

static nb_status check(nb_node *n, bool lstm, nb_tensor *out) {
    const char *op = NB_OPNAME(n);
    const nb_tensor *xp = n->in[0], *w = n->in[1], *bi = n->in[2], *b = n->in[3], *h0 = n->in[4];
    const nb_tensor *c0 = lstm ? n->in[5] : NULL, *len = n->in[lstm ? 6 : 5];
    nb_cell cell = lstm ? NB_CELL_LSTM : n->a.rnn.cell;
    if (!lstm && cell != NB_CELL_TANH && cell != NB_CELL_RELU && cell != NB_CELL_GRU)
        return nb__err(NB_ERR_ARG, "%s: cell %d is not NB_CELL_TANH, NB_CELL_RELU or NB_CELL_GRU", op, (int)cell);
    int64_t G = cell == NB_CELL_LSTM ? 4 : cell == NB_CELL_GRU ? 3 : 1;
    if (xp->ndim != 3 || w->ndim != 2 || w->shape[0] != G * w->shape[1] || xp->shape[2] != w->shape[0])
        return nb__err(NB_ERR_SHAPE, "%s: xp %s and w_hh %s must be (N, T, %lld*H) and (%lld*H, H)", op,
                       NB_SHAPE_STR(xp), NB_SHAPE_STR(w), (long long)G, (long long)G);
    int64_t N = xp->shape[0], T = xp->shape[1], H = w->shape[1];
    if (T < 1 || H < 1) return nb__err(NB_ERR_SHAPE, "%s: xp %s has no steps or w_hh no units", op, NB_SHAPE_STR(xp));
    if (b->ndim != 1 || b->shape[0] != G * H || bi->ndim != 1 || bi->shape[0] != G * H)
        return nb__err(NB_ERR_SHAPE, "%s: b_ih %s and b_hh %s must be (%lld)", op, NB_SHAPE_STR(bi), NB_SHAPE_STR(b),
                       (long long)(G * H));
    const nb_tensor *st[2] = {h0, c0};
    for (int i = 0; i < 2; i++)
        if (st[i] && (st[i]->ndim != 2 || st[i]->shape[0] != N || st[i]->shape[1] != H))
            return nb__err(NB_ERR_SHAPE, "%s: %s %s must be (%lld, %lld)", op, i ? "c0" : "h0", NB_SHAPE_STR(st[i]),
                           (long long)N, (long long)H);
    if (len) {
        if (len->ndim != 1 || len->shape[0] != N || !nb_tensor_is_contiguous(len))
            return nb__err(NB_ERR_SHAPE, "%s: lengths %s must be a contiguous (%lld)", op, NB_SHAPE_STR(len),
                           (long long)N);
        for (int64_t i = 0; i < N; i++)
            if (NB_I(len)[i] < 1 || NB_I(len)[i] > T)
                return nb__err(NB_ERR_ARG, "%s: sample %lld has length %lld, outside 1..%lld", op, (long long)i,
                               (long long)NB_I(len)[i], (long long)T);
    }
    n->a.rnn.N = N, n->a.rnn.T = T, n->a.rnn.H = H, n->a.rnn.G = G;
    if (lstm) n->a.rnn.cell = NB_CELL_LSTM;
    out->ndim = lstm ? 4 : 3;
    int64_t shape[4] = {2, N, T, H};
    memcpy(out->shape, lstm ? shape : shape + 1, sizeof(int64_t) * (size_t)out->ndim);
    rnn_saved *sv = nb__arena_calloc(sizeof *sv);
    if (!sv || !(sv->scratch = nb__arena_alloc((size_t)(N * G * H) * sizeof(float)))) return NB_ERR_MEM;
    if (cell == NB_CELL_LSTM || cell == NB_CELL_GRU) {
        sv->save = nb__arena_alloc((size_t)(N * T * 4 * H) * sizeof(float));
        if (!sv->save) return NB_ERR_MEM;
    }
    n->a.aux = sv;
    return NB_OK;
}

static nb__rnn_dims dims(const nb_node *n, bool lstm) {
    const nb_tensor *len = n->in[lstm ? 6 : 5];
    return (nb__rnn_dims){.N = n->a.rnn.N, .T = n->a.rnn.T, .H = n->a.rnn.H, .G = n->a.rnn.G, .cell = n->a.rnn.cell,
                          .reverse = n->a.rnn.reverse, .len = len ? NB_I(len) : NULL};
}

static void forward(nb_node *n, bool lstm) {
    nb__rnn_dims d = dims(n, lstm);
    rnn_saved *sv = n->a.aux;
    float *h = NB_F(n->out), *c = lstm ? h + d.N * d.T * d.H : NULL;
    nb__rnn_forward(&d, NB_F(n->in[0]), NB_F(n->in[1]), NB_F(n->in[2]), NB_F(n->in[3]), NB_F(n->in[4]),
                    lstm ? NB_F(n->in[5]) : NULL, h, c, sv->save, sv->scratch, nb__threads());
}

/* g (C) += the column sums of a (R, C), row after row. */
static void col_sums(const float *a, int64_t R, int64_t C, float *g) {
    for (int64_t i = 0; i < R; i++)
        for (int64_t j = 0; j < C; j++) g[j] += a[i * C + j];
}

static void backward(nb_node *n, bool lstm) {
    nb__rnn_dims d = dims(n, lstm);
    const rnn_saved *sv = n->a.aux;
    nb_tensor *xp = n->in[0], *w = n->in[1], *bi = n->in[2], *b = n->in[3], *h0 = n->in[4];
    nb_tensor *c0 = lstm ? n->in[5] : NULL;
    const int64_t NT = d.N * d.T, GH = d.G * d.H, NH = d.N * d.H;
    const float *h = NB_F(n->out), *c = lstm ? h + NT * d.H : NULL;
    const float *gh = n->out->grad, *gc = lstm ? gh + NT * d.H : NULL;
    float *dxp = nb__arena_alloc((size_t)(NT * GH) * sizeof(float));
    float *dgh = d.cell == NB_CELL_GRU ? nb__arena_alloc((size_t)(NT * GH) * sizeof(float)) : dxp;
    float *dh0 = nb__arena_alloc((size_t)NH * sizeof(float)), *dc0 = nb__arena_alloc((size_t)NH * sizeof(float));
    float *scratch = nb__arena_alloc((size_t)(3 * NH) * sizeof(float));
    if (!dxp || !dgh || !dh0 || !dc0 || !scratch) return;
    nb__rnn_backward(&d, NB_F(w), NB_F(h0), c0 ? NB_F(c0) : NULL, h, c, sv->save, gh, gc, dxp, dgh, dh0,
                     lstm ? dc0 : NULL, scratch, nb__threads());
    if (xp->requires_grad && !nb__grad_share(xp, dxp)) { /* its only reader: dxp becomes its gradient */
        bool set;
        float *g = nb__grad_first(xp, &set);
        if (set) memcpy(g, dxp, (size_t)(NT * GH) * sizeof(float));
        else
            for (int64_t i = 0; i < NT * GH; i++) g[i] += dxp[i];
    }
    if (w->requires_grad) {
        float *prev = nb__arena_alloc((size_t)(NT * d.H) * sizeof(float));
        if (!prev) return;
        nb__rnn_prev_states(&d, NB_F(h0), h, prev);
        nb__gemm(1, 0, GH, d.H, NT, 1.0f, dgh, GH, prev, d.H, 1.0f, nb__grad(w), d.H);
    }
    /* The biases' gradients: column sums of dxp and dgh, added in row order. When both sum the
     * same buffer (all but the GRU) into equal gradients (both zero after zero_grad), the second
     * is a copy of the first. */
    float *gbi = bi->requires_grad ? nb__grad(bi) : NULL, *gb = b->requires_grad ? nb__grad(b) : NULL;
    bool same = gbi && gb && dgh == dxp && memcmp(gbi, gb, (size_t)GH * sizeof(float)) == 0;
    if (gbi) col_sums(dxp, NT, GH, gbi);
    if (same) memcpy(gb, gbi, (size_t)GH * sizeof(float));
    else if (gb) col_sums(dgh, NT, GH, gb);
    if (h0->requires_grad) {
        float *g = nb__grad(h0);
        for (int64_t i = 0; i < NH; i++) g[i] += dh0[i];
    }
    if (c0 && c0->requires_grad) {
        float *g = nb__grad(c0);
        for (int64_t i = 0; i < NH; i++) g[i] += dc0[i];
    }
}

nb_status nb__shape_rnn_seq(nb_node *n, nb_tensor *out) { return check(n, false, out); }
void nb__fwd_rnn_seq(nb_node *n) { forward(n, false); }
void nb__bwd_rnn_seq(nb_node *n) { backward(n, false); }
nb_status nb__shape_lstm_seq(nb_node *n, nb_tensor *out) { return check(n, true, out); }
void nb__fwd_lstm_seq(nb_node *n) { forward(n, true); }
void nb__bwd_lstm_seq(nb_node *n) { backward(n, true); }

/* Zeros for a missing bias or initial state: a step tensor that needs no gradient. */
static nb_tensor *or_zeros(nb_tensor *t, const nb_tensor *xp, const nb_tensor *w, int which) {
    if (t || !xp || !w || xp->ndim != 3 || w->ndim != 2) return t;
    return which == 0 ? nb_step_tensor(1, (int64_t[]){w->shape[0]}, NULL)
                      : nb_step_tensor(2, (int64_t[]){xp->shape[0], w->shape[1]}, NULL);
}

nb_tensor *nb_rnn_seq(nb_tensor *xp, nb_tensor *w_hh, nb_tensor *b_ih, nb_tensor *b_hh, nb_tensor *h0,
                      nb_tensor *lengths, nb_cell cell, bool reverse) {
    nb_tensor *in[6] = {xp, w_hh, or_zeros(b_ih, xp, w_hh, 0), or_zeros(b_hh, xp, w_hh, 0), or_zeros(h0, xp, w_hh, 1),
                        lengths};
    nb_attrs a = {.rnn = {.cell = cell, .reverse = reverse}};
    return nb__apply(NB_OP_RNN_SEQ, in, 6, &a);
}

nb_tensor *nb_lstm_seq(nb_tensor *xp, nb_tensor *w_hh, nb_tensor *b_ih, nb_tensor *b_hh, nb_tensor *h0, nb_tensor *c0,
                       nb_tensor *lengths, bool reverse) {
    nb_tensor *in[7] = {xp,      w_hh, or_zeros(b_ih, xp, w_hh, 0), or_zeros(b_hh, xp, w_hh, 0), or_zeros(h0, xp, w_hh, 1),
                        or_zeros(c0, xp, w_hh, 1), lengths};
    nb_attrs a = {.rnn = {.cell = NB_CELL_LSTM, .reverse = reverse}};
    return nb__apply(NB_OP_LSTM_SEQ, in, 7, &a);
}
