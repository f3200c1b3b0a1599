/* Matrix product through the GEMM kernel. Transposed views are passed to GEMM as transposed
 * operands instead of being copied. */
#include "autograd/op.h"
#include "kernels/kernels.h"

/* attrs: matmul.batch (1 = plain or shared-matrix), M, K, N, the operands' transpose flags
 * and leading dimensions; aux: the two float* operands used. */

/* True when the axes before the last two are laid out contiguously around the matrices. */
static bool batch_contig(const nb_tensor *t) {
    int64_t s = t->shape[t->ndim - 1] * t->shape[t->ndim - 2];
    for (int d = t->ndim - 3; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != s) return false;
        s *= t->shape[d];
    }
    return true;
}

/* Operand pointer, transpose flag and leading dimension for GEMM; copies only when the view
 * is neither row- nor column-major. allow_trans=0 forces a row-major operand. */
static const float *operand(const nb_tensor *t, bool allow_trans, int *trans, int64_t *ld) {
    int64_t r = t->shape[t->ndim - 2], c = t->shape[t->ndim - 1];
    const int64_t *st = t->stride + t->ndim - 2;
    if (batch_contig(t)) {
        if ((st[1] == 1 || c == 1) && (st[0] == c || r == 1)) {
            *trans = 0;
            *ld = c;
            return NB_F(t);
        }
        if (allow_trans && (st[0] == 1 || r == 1) && (st[1] == r || c == 1)) {
            *trans = 1;
            *ld = r;
            return NB_F(t);
        }
    }
    *trans = 0;
    *ld = c;
    return nb__contig_data(t);
}

nb_status nb__shape_matmul(nb_node *n, nb_tensor *out) {
    const nb_tensor *a = n->in[0], *b = n->in[1];
    if (a->ndim < 2 || b->ndim < 2)
        return nb__err(NB_ERR_SHAPE, "nb_matmul: %s x %s: both inputs need at least 2 axes",
                       NB_SHAPE_STR(a), NB_SHAPE_STR(b));
    int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1];
    int64_t K2 = b->shape[b->ndim - 2], N = b->shape[b->ndim - 1];
    if (K != K2)
        return nb__err(NB_ERR_SHAPE, "nb_matmul: %s x %s: inner sizes %lld != %lld",
                       NB_SHAPE_STR(a), NB_SHAPE_STR(b), (long long)K, (long long)K2);
    int64_t batch = 1;
    if (b->ndim > 2) {
        bool ok = a->ndim == b->ndim;
        for (int d = 0; ok && d < a->ndim - 2; d++) ok = a->shape[d] == b->shape[d];
        if (!ok)
            return nb__err(NB_ERR_SHAPE,
                           "nb_matmul: %s x %s: batch axes must be equal (or b 2-d, shared)",
                           NB_SHAPE_STR(a), NB_SHAPE_STR(b));
        for (int d = 0; d < a->ndim - 2; d++) batch *= a->shape[d];
    }
    out->ndim = a->ndim;
    memcpy(out->shape, a->shape, sizeof out->shape);
    out->shape[a->ndim - 1] = N;
    n->a.matmul.batch = batch;
    n->a.matmul.K = K;
    n->a.matmul.N = N;
    /* With a shared b, the batch folds into M: one GEMM of (batch*M, K) x (K, N). */
    int64_t rows = 1;
    for (int d = 0; d < a->ndim - 1; d++) rows *= a->shape[d];
    n->a.matmul.M = batch == 1 ? rows : M;
    /* The operands (and a copy of a view GEMM cannot read) are settled here, where running out
     * of memory can be reported; the forward cannot fail. */
    nb_matmul_attr *at = &n->a.matmul;
    const float **ops = nb__arena_alloc(2 * sizeof *ops);
    if (!ops) return NB_ERR_MEM;
    /* A folded batch (shared b) needs a row-major a. */
    ops[0] = operand(a, a->ndim == 2 || batch > 1, &at->trans_a, &at->lda);
    ops[1] = operand(b, true, &at->trans_b, &at->ldb);
    if (!ops[0] || !ops[1]) return NB_ERR_MEM;
    n->a.aux = ops;
    return NB_OK;
}

void nb__fwd_matmul(nb_node *n) {
    nb_matmul_attr *at = &n->a.matmul;
    int64_t batch = at->batch, M = at->M, K = at->K, N = at->N;
    const float **ops = n->a.aux;
    float *y = NB_F(n->out);
    for (int64_t p = 0; p < batch; p++)
        nb__gemm(at->trans_a, at->trans_b, M, N, K, 1.0f, ops[0] + p * M * K, at->lda,
                 ops[1] + p * K * N, at->ldb, 0.0f, y + p * M * N, N);
}

void nb__bwd_matmul(nb_node *n) {
    nb_tensor *a = n->in[0], *b = n->in[1];
    const nb_matmul_attr *at = &n->a.matmul;
    int64_t batch = at->batch, M = at->M, K = at->K, N = at->N;
    int ta = at->trans_a, tb = at->trans_b;
    const float **ops = n->a.aux;
    const float *gy = n->out->grad;
    /* Each product writes its own block of the gradient once: into an unset gradient with
     * beta 0 (the GEMM stores instead of adding to zeros, the same sums). */
    bool fresh_a = false, fresh_b = false;
    float *ga = a->requires_grad ? nb__grad_first(a, &fresh_a) : NULL;
    float *gb = b->requires_grad ? nb__grad_first(b, &fresh_b) : NULL;
    if (batch == 1 && ga && gb) { /* both products in one parallel region */
        nb__gemm_job job[2] = {{0, !tb, M, K, N, 1.0f, gy, N, ops[1], at->ldb, fresh_a ? 0.0f : 1.0f, ga, K},
                               {!ta, 0, K, N, M, 1.0f, ops[0], at->lda, gy, N, fresh_b ? 0.0f : 1.0f, gb, N}};
        nb__gemm_jobs(job, 2);
        return;
    }
    for (int64_t p = 0; p < batch; p++) {
        const float *g = gy + p * M * N;
        /* dA (M,K) += dY (M,N) op(B)^T */
        if (ga)
            nb__gemm(0, !tb, M, K, N, 1.0f, g, N, ops[1] + p * K * N, at->ldb, fresh_a ? 0.0f : 1.0f,
                     ga + p * M * K, K);
        /* dB (K,N) += op(A)^T dY */
        if (gb)
            nb__gemm(!ta, 0, K, N, M, 1.0f, ops[0] + p * M * K, at->lda, g, N, fresh_b ? 0.0f : 1.0f,
                     gb + p * K * N, N);
    }
}

nb_tensor *nb_matmul(nb_tensor *a, nb_tensor *b) {
    nb_tensor *in[2] = {a, b};
    return nb__apply(NB_OP_MATMUL, in, 2, NULL);
}

/* ---- linear: y = x W^T + b (PyTorch's F.linear) ------------------------------------------
 * inputs x (..., in), w (out, in), b (out) or NULL; attrs matmul.M = rows of x, K = in,
 * N = out. nb_add(nb_matmul(x, nb_transpose(w, 0, 1)), b) in one node: the bias added in place
 * and summed straight into its gradient, no view nodes.
 * The weight's gradient is dY^T X, computed in w's own (out, in) layout; the composition computes
 * X^T dY in the transposed view's (in, out) layout and adds it back transposed, and OpenBLAS sums
 * some elements of the two in another order (a few in 20 differ in the last bit): the output and
 * dX are the composition's bits, dW its values within rounding. */
nb_status nb__shape_linear(nb_node *n, nb_tensor *out) {
    const nb_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    if (x->ndim < 1 || w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1])
        return nb__err(NB_ERR_SHAPE, "nb_linear: input %s and weight %s: expected (..., in) and (out, in)",
                       NB_SHAPE_STR(x), NB_SHAPE_STR(w));
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
        return nb__err(NB_ERR_SHAPE, "nb_linear: bias %s for weight %s: expected (%lld)", NB_SHAPE_STR(b),
                       NB_SHAPE_STR(w), (long long)w->shape[0]);
    out->ndim = x->ndim;
    memcpy(out->shape, x->shape, sizeof out->shape);
    out->shape[x->ndim - 1] = w->shape[0];
    n->a.matmul.batch = 1;
    n->a.matmul.K = w->shape[1];
    n->a.matmul.N = w->shape[0];
    n->a.matmul.M = w->shape[1] ? x->numel / w->shape[1] : 0;
    return NB_OK;
}

/* y[r][j] += b[j] for every row: each element gets the one add nb_add would make. */
NB__CLONES static void add_bias_rows(float *restrict y, const float *restrict b, int64_t lo, int64_t hi,
                                     int64_t N) {
    for (int64_t r = lo; r < hi; r++)
        for (int64_t j = 0; j < N; j++) y[r * N + j] = y[r * N + j] + b[j];
}

/* gb[j] += g[r][j] over the rows in order: nb_add's un-broadcast sum, in its order. With one
 * output (a (rows, 1) gradient, whose strides collapse to one broadcast axis) nb_add sums the
 * rows apart from 0 and adds the total once, so this does too. */
NB__CLONES static void sum_rows(float *restrict gb, const float *restrict g, int64_t M, int64_t N) {
    if (N == 1) {
        float acc = 0;
        for (int64_t r = 0; r < M; r++) acc += g[r];
        gb[0] += acc;
        return;
    }
    for (int64_t r = 0; r < M; r++)
        for (int64_t j = 0; j < N; j++) gb[j] += g[r * N + j];
}

void nb__fwd_linear(nb_node *n) {
    const nb_matmul_attr *at = &n->a.matmul;
    const int64_t M = at->M, K = at->K, N = at->N;
    float *y = NB_F(n->out);
    nb__gemm(0, 1, M, N, K, 1.0f, NB_F(n->in[0]), K, NB_F(n->in[1]), K, 0.0f, y, N);
    if (n->in[2]) {
        const float *b = NB_F(n->in[2]);
#pragma omp parallel for schedule(static) if (M * N > NB__PAR_CHEAP)
        for (int64_t r = 0; r < M; r++) add_bias_rows(y, b, r, r + 1, N);
    }
}

/* dX = dY W and dW = dY^T X, the two products in one parallel region (nb__gemm_jobs), dW
 * written in w's own (out, in) layout. */
void nb__bwd_linear(nb_node *n) {
    nb_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    const nb_matmul_attr *at = &n->a.matmul;
    const int64_t M = at->M, K = at->K, N = at->N;
    const float *gy = n->out->grad;
    nb__gemm_job job[2];
    int jobs = 0;
    bool fresh;
    if (x->requires_grad) { /* dX (M, K) = dY (M, N) W (N, K) */
        float *gx = nb__grad_first(x, &fresh);
        job[jobs++] = (nb__gemm_job){0, 0, M, K, N, 1.0f, gy, N, NB_F(w), K, fresh ? 0.0f : 1.0f, gx, K};
    }
    if (w->requires_grad) { /* dW (N, K) = dY^T (N, M) X (M, K) */
        float *gw = nb__grad_first(w, &fresh);
        job[jobs++] = (nb__gemm_job){1, 0, N, K, M, 1.0f, gy, N, NB_F(x), K, fresh ? 0.0f : 1.0f, gw, K};
    }
    nb__gemm_jobs(job, jobs);
    if (b && b->requires_grad) sum_rows(nb__grad(b), gy, M, N);
}

nb_tensor *nb_linear(nb_tensor *x, nb_tensor *w, nb_tensor *b) {
    nb_tensor *in[3] = {x, w, b};
    return nb__apply(NB_OP_LINEAR, in, 3, NULL);
}
