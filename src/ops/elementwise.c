/* Elementwise ops: binary with NumPy broadcasting (add, sub, mul, div) and unary maps. */
#include "autograd/op.h"

#include <math.h>
#include <omp.h>

#include "kernels/fastmath.h"

/* The elementwise loops are multi-versioned (NB__CLONES, internal.h): the same bits on every
 * machine. */
#define NB_CLONES NB__CLONES

/* ---- binary with broadcasting ---------------------------------------------------------- */

/* Strides of input t read in the output's index space: 0 on broadcast axes. With contig=1,
 * the strides of t's contiguous gradient buffer instead of t's own (view) strides. */
static void bcast_strides(const nb_tensor *t, const nb_tensor *out, int contig, int64_t *st) {
    int64_t cs[NB_MAX_DIMS];
    nb__contig_strides(t->ndim, t->shape, cs);
    int off = out->ndim - t->ndim;
    for (int d = 0; d < out->ndim; d++) {
        int td = d - off;
        if (td < 0 || t->shape[td] == 1)
            st[d] = 0;
        else
            st[d] = contig ? cs[td] : t->stride[td];
    }
}

static nb_status bin_shape(nb_node *n, nb_tensor *out) {
    const nb_tensor *a = n->in[0], *b = n->in[1];
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    out->ndim = nd;
    for (int d = 0; d < nd; d++) {
        int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
        int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1)
            return nb__err(NB_ERR_SHAPE, "%s: shapes %s and %s do not broadcast (axis %d: %lld vs %lld)",
                           NB_OPNAME(n), NB_SHAPE_STR(a), NB_SHAPE_STR(b), d, (long long)sa,
                           (long long)sb);
        out->shape[d] = sa == 1 ? sb : sa;
    }
    return NB_OK;
}
nb_status nb__shape_add(nb_node *n, nb_tensor *o) { return bin_shape(n, o); }
nb_status nb__shape_sub(nb_node *n, nb_tensor *o) { return bin_shape(n, o); }
nb_status nb__shape_mul(nb_node *n, nb_tensor *o) { return bin_shape(n, o); }
nb_status nb__shape_div(nb_node *n, nb_tensor *o) { return bin_shape(n, o); }


enum { B_ADD, B_SUB, B_MUL, B_DIV };

/* y[j] = a[j * ia] op b[j * ib], j < n: one loop per op and per case of unit or zero strides
 * (a bias row added to each row of a matrix is (1, 1) after (1, 0)), each of which vectorizes;
 * the same operation on each element as the general loop. */
#define BIN_ROW(OP)                                                                             \
    do {                                                                                        \
        if (ia == 1 && ib == 1)                                                                 \
            for (int64_t j = 0; j < n; j++) y[j] = a[j] OP b[j];                                \
        else if (ia == 1 && ib == 0)                                                            \
            for (int64_t j = 0; j < n; j++) y[j] = a[j] OP b[0];                                \
        else if (ia == 0 && ib == 1)                                                            \
            for (int64_t j = 0; j < n; j++) y[j] = a[0] OP b[j];                                \
        else                                                                                    \
            for (int64_t j = 0; j < n; j++) y[j] = a[j * ia] OP b[j * ib];                      \
    } while (0)
NB_CLONES static void bin_row(int k, float *restrict y, const float *restrict a, int64_t ia, const float *restrict b,
                              int64_t ib, int64_t n) {
    switch (k) {
    case B_ADD: BIN_ROW(+); break;
    case B_SUB: BIN_ROW(-); break;
    case B_MUL: BIN_ROW(*); break;
    default: BIN_ROW(/); break;
    }
}
#undef BIN_ROW

static void bin_fwd(nb_node *n, int k) {
    nb_tensor *a = n->in[0], *b = n->in[1], *o = n->out;
    const float *pa = NB_F(a), *pb = NB_F(b);
    float *po = NB_F(o);
    int64_t N = o->numel;
    if (nb__same_shape(a, b) && nb_tensor_is_contiguous(a) && nb_tensor_is_contiguous(b)) {
        NB__SPLIT_MIN(N, k == B_DIV ? NB__PAR_MATH : NB__PAR_CHEAP, bin_row(k, po + lo, pa + lo, 1, pb + lo, 1, hi - lo));
        return;
    }
    int64_t sa[NB_MAX_DIMS], sb[NB_MAX_DIMS];
    bcast_strides(a, o, 0, sa);
    bcast_strides(b, o, 0, sb);
    int nd = o->ndim;
    int64_t inner = nd ? o->shape[nd - 1] : 1, ia = nd ? sa[nd - 1] : 0, ib = nd ? sb[nd - 1] : 0;
    int64_t rows = inner ? N / inner : 0;
#pragma omp parallel for schedule(static) if (N > NB__PAR_CHEAP)
    for (int64_t r = 0; r < rows; r++) {
        int64_t rem = r, offa = 0, offb = 0;
        for (int d = nd - 2; d >= 0; d--) {
            int64_t i = rem % o->shape[d];
            rem /= o->shape[d];
            offa += i * sa[d];
            offb += i * sb[d];
        }
        bin_row(k, po + r * inner, pa + offa, ia, pb + offb, ib, inner);
    }
}

/* g_in += reduce(g) over the axes where `in` was broadcast; an unset gradient of the output's
 * own shape is stored instead. */
static void bcast_accum(nb_tensor *in, const nb_tensor *o, float *g) {
    int64_t st[NB_MAX_DIMS];
    bcast_strides(in, o, 1, st);
    /* The same numel: no axis was broadcast, so the layouts agree and g may become in's own. */
    if (in->numel == o->numel && nb__grad_share(in, g)) return;
    if (in->numel == o->numel) {
        bool set;
        float *gi = nb__grad_first(in, &set);
        nb__strided_store(gi, st, g, o->ndim, o->shape, set);
    } else {
        nb__strided_add(nb__grad(in), st, g, o->ndim, o->shape);
    }
}

/* Gradient scratch in the output's shape. */
static float *scratch(const nb_tensor *o) { return nb__arena_alloc((size_t)o->numel * sizeof(float)); }

/* Value of input t at each output position, in a contiguous buffer. */
static float *expand(const nb_tensor *t, const nb_tensor *o) {
    int64_t st[NB_MAX_DIMS];
    bcast_strides(t, o, 0, st);
    float *buf = scratch(o);
    if (!buf) return NULL;
    nb__strided_copy(buf, NB_F(t), o->ndim, o->shape, st);
    return buf;
}

void nb__fwd_add(nb_node *n) { bin_fwd(n, B_ADD); }
void nb__fwd_sub(nb_node *n) { bin_fwd(n, B_SUB); }
void nb__fwd_mul(nb_node *n) { bin_fwd(n, B_MUL); }
void nb__fwd_div(nb_node *n) { bin_fwd(n, B_DIV); }

void nb__bwd_add(nb_node *n) {
    for (int i = 0; i < 2; i++)
        if (n->in[i]->requires_grad) bcast_accum(n->in[i], n->out, n->out->grad);
}

void nb__bwd_sub(nb_node *n) {
    const nb_tensor *o = n->out;
    if (n->in[0]->requires_grad) bcast_accum(n->in[0], o, o->grad);
    if (n->in[1]->requires_grad) {
        float *g = scratch(o);
        if (!g) return; /* the tape sees the arena's failure */
        for (int64_t i = 0; i < o->numel; i++) g[i] = -o->grad[i];
        bcast_accum(n->in[1], o, g);
    }
}

void nb__bwd_mul(nb_node *n) {
    const nb_tensor *o = n->out;
    for (int i = 0; i < 2; i++) {
        if (!n->in[i]->requires_grad) continue;
        float *g = expand(n->in[1 - i], o);
        if (!g) return; /* the tape sees the arena's failure */
        for (int64_t j = 0; j < o->numel; j++) g[j] *= o->grad[j];
        bcast_accum(n->in[i], o, g);
    }
}

void nb__bwd_div(nb_node *n) {
    const nb_tensor *o = n->out;
    float *b = expand(n->in[1], o);
    if (!b) return; /* the tape sees the arena's failure */
    if (n->in[0]->requires_grad) {
        float *g = scratch(o);
        if (!g) return; /* the tape sees the arena's failure */
        for (int64_t j = 0; j < o->numel; j++) g[j] = o->grad[j] / b[j];
        bcast_accum(n->in[0], o, g);
    }
    if (n->in[1]->requires_grad) {
        /* d(a/b)/db = -(a/b)/b = -y/b */
        float *g = scratch(o);
        if (!g) return; /* the tape sees the arena's failure */
        for (int64_t j = 0; j < o->numel; j++) g[j] = -o->grad[j] * NB_F(o)[j] / b[j];
        bcast_accum(n->in[1], o, g);
    }
}

/* ---- unary maps ------------------------------------------------------------------------- */
/* Each unary op: y = F(x, c) and dy/dx = D(x, y, c), with c = the op's float attribute. */
#define NB_SQRT1_2 0.70710678118654752440
#define NB_INV_SQRT_2PI 0.39894228040143267794

#define UNARY(name, MIN, F, D)                                                             \
    nb_status nb__shape_##name(nb_node *n, nb_tensor *out) {                               \
        out->ndim = n->in[0]->ndim;                                                        \
        memcpy(out->shape, n->in[0]->shape, sizeof out->shape);                            \
        return NB_OK;                                                                      \
    }                                                                                      \
    NB_CLONES static void name##_fwd_range(const float *restrict xs, float *restrict ys,   \
                                           float c, int64_t lo, int64_t hi) {              \
        (void)c;                                                                           \
        for (int64_t i = lo; i < hi; i++) {                                                \
            const float x = xs[i];                                                         \
            ys[i] = (F);                                                                   \
        }                                                                                  \
    }                                                                                      \
    /* gx = or += gy * dy/dx: an unset gradient (set) is stored, not added to */           \
    NB_CLONES static void name##_bwd_range(const float *restrict xs, const float *restrict ys, \
                                           const float *restrict gy, float *restrict gx,   \
                                           float c, bool set, int64_t lo, int64_t hi) {    \
        (void)c;                                                                           \
        if (set) {                                                                         \
            for (int64_t i = lo; i < hi; i++) {                                            \
                const float x = xs[i], y = ys[i];                                          \
                (void)x;                                                                   \
                (void)y;                                                                   \
                gx[i] = gy[i] * (D);                                                       \
            }                                                                              \
        } else {                                                                           \
            for (int64_t i = lo; i < hi; i++) {                                            \
                const float x = xs[i], y = ys[i];                                          \
                (void)x;                                                                   \
                (void)y;                                                                   \
                gx[i] += gy[i] * (D);                                                      \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    void nb__fwd_##name(nb_node *n) {                                                      \
        const float *xs = NB_F(n->in[0]);                                                  \
        float *ys = NB_F(n->out);                                                          \
        const float c = n->a.unary.c;                                                      \
        const int64_t N = n->out->numel;                                                   \
        NB__SPLIT_MIN(N, MIN, name##_fwd_range(xs, ys, c, lo, hi));                        \
    }                                                                                      \
    void nb__bwd_##name(nb_node *n) {                                                      \
        const float *xs = NB_F(n->in[0]), *ys = NB_F(n->out), *gy = n->out->grad;          \
        bool set;                                                                          \
        float *gx = nb__grad_first(n->in[0], &set);                                        \
        const float c = n->a.unary.c;                                                      \
        const int64_t N = n->out->numel;                                                   \
        NB__SPLIT_MIN(N, MIN, name##_bwd_range(xs, ys, gy, gx, c, set, lo, hi));           \
    }

UNARY(scale, NB__PAR_CHEAP, x * c, c)
UNARY(add_scalar, NB__PAR_CHEAP, x + c, 1.0f)
UNARY(neg, NB__PAR_CHEAP, -x, -1.0f)
UNARY(exp, NB__PAR_MATH, expf(x), y)
UNARY(log, NB__PAR_MATH, logf(x), 1.0f / x)
UNARY(sqrt, NB__PAR_MATH, sqrtf(x), 0.5f / y)
UNARY(pow, NB__PAR_MATH, powf(x, c), c * powf(x, c - 1.0f))
UNARY(abs, NB__PAR_CHEAP, fabsf(x), (x > 0.0f) - (x < 0.0f))
/* NaN propagates as in PyTorch: relu(NaN) = NaN, with gradient 1 there (threshold_backward
 * passes the gradient unless x <= 0); leaky_relu(NaN) = c * NaN = NaN, with gradient c. */
UNARY(relu, NB__PAR_CHEAP, x <= 0.0f ? 0.0f : x, x <= 0.0f ? 0.0f : 1.0f)
UNARY(leaky_relu, NB__PAR_CHEAP, x > 0.0f ? x : c * x, x > 0.0f ? 1.0f : c)
/* sigmoid and tanh through kernels/fastmath.h (within 2 ulp of libm, NaN passes), which
 * vectorizes where libm's calls do not. */
UNARY(sigmoid, NB__PAR_MATH, nb__sigmoidf(x), y * (1.0f - y))
UNARY(tanh, NB__PAR_MATH, nb__tanhf(x), 1.0f - y * y)
/* gelu(x) = x Phi(x) = x erfc(-x / sqrt(2)) / 2, erfc through kernels/fastmath.h (within 1e-7 of
 * libm's erf, and no cancellation for negative x), in float so that the loops vectorize. The
 * derivative Phi(x) + x phi(x) takes Phi = y / x from the forward's output (1/2 at x = 0). */
UNARY(gelu, NB__PAR_MATH, 0.5f * x * nb__erfcf(-(float)NB_SQRT1_2 * x),
      (x != 0.0f ? y / x : 0.5f) + x * (float)NB_INV_SQRT_2PI * nb__expf(-0.5f * x * x))

/* ---- public builders -------------------------------------------------------------------- */
static nb_tensor *bin(nb_op op, nb_tensor *a, nb_tensor *b) {
    nb_tensor *in[2] = {a, b};
    return nb__apply(op, in, 2, NULL);
}
static nb_tensor *un(nb_op op, nb_tensor *x, float c) {
    nb_attrs at = {.unary = {.c = c}};
    return nb__apply(op, &x, 1, &at);
}

nb_tensor *nb_add(nb_tensor *a, nb_tensor *b) { return bin(NB_OP_ADD, a, b); }
nb_tensor *nb_sub(nb_tensor *a, nb_tensor *b) { return bin(NB_OP_SUB, a, b); }
nb_tensor *nb_mul(nb_tensor *a, nb_tensor *b) { return bin(NB_OP_MUL, a, b); }
nb_tensor *nb_div(nb_tensor *a, nb_tensor *b) { return bin(NB_OP_DIV, a, b); }
nb_tensor *nb_scale(nb_tensor *x, float c) { return un(NB_OP_SCALE, x, c); }
nb_tensor *nb_add_scalar(nb_tensor *x, float c) { return un(NB_OP_ADD_SCALAR, x, c); }
nb_tensor *nb_neg(nb_tensor *x) { return un(NB_OP_NEG, x, 0); }
nb_tensor *nb_exp(nb_tensor *x) { return un(NB_OP_EXP, x, 0); }
nb_tensor *nb_log(nb_tensor *x) { return un(NB_OP_LOG, x, 0); }
nb_tensor *nb_sqrt(nb_tensor *x) { return un(NB_OP_SQRT, x, 0); }
nb_tensor *nb_pow(nb_tensor *x, float p) { return un(NB_OP_POW, x, p); }
nb_tensor *nb_abs(nb_tensor *x) { return un(NB_OP_ABS, x, 0); }
nb_tensor *nb_relu(nb_tensor *x) { return un(NB_OP_RELU, x, 0); }
nb_tensor *nb_leaky_relu(nb_tensor *x, float slope) { return un(NB_OP_LEAKY_RELU, x, slope); }
nb_tensor *nb_sigmoid(nb_tensor *x) { return un(NB_OP_SIGMOID, x, 0); }
nb_tensor *nb_tanh(nb_tensor *x) { return un(NB_OP_TANH, x, 0); }
nb_tensor *nb_gelu(nb_tensor *x) { return un(NB_OP_GELU, x, 0); }
