/* The op contract: every op is one line in ops.def and three functions.
 *   shape:    validates the inputs and attributes and fills the output's ndim and shape (and,
 *             for views, its strides and data pointer). Errors name the op and the shapes.
 *   forward:  computes node->out from node->in (never fails: shape checked everything and
 *             took every buffer the forward needs from the arena, a conv's workspace, a
 *             matmul's copied operand, returning NB_ERR_MEM when memory ran out).
 *   backward: ADDS the gradient of each input that requires one (nb__grad(in)) from the
 *             output's gradient node->out->grad. Inputs that need none are skipped. The tape
 *             allocates those gradients before the walk, so nb__grad does not fail here; a
 *             backward that takes scratch returns at once when it gets NULL, and the tape,
 *             seeing the arena's failure count move, makes nb_backward return NB_ERR_MEM. */
#ifndef NB_OP_H
#define NB_OP_H

#include "internal.h"

#define NB_OPF_VIEW 1u
#define NB_OPF_CONTIG 2u
#define NB_OPF_OPTIONAL_LAST 4u

typedef enum nb_op {
#define NB_OP(E, name, nin, idx, flags) NB_OP_##E,
#include "autograd/ops.def"
#undef NB_OP
    NB_OP__COUNT
} nb_op;

/* A shape given to an op (reshape, broadcast_to). */
typedef struct nb_shape_attr {
    int ndim;
    int64_t shape[NB_MAX_DIMS];
} nb_shape_attr;

/* matmul's attributes, all derived: the shape function sets the batch count (1 = plain or
 * shared b) and the GEMM sizes (M, K) x (K, N); the forward sets each operand's transpose flag
 * and leading dimension. */
typedef struct nb_matmul_attr {
    int64_t batch, M, K, N;
    int trans_a, trans_b;
    int64_t lda, ldb;
} nb_matmul_attr;

/* conv2d's and conv_transpose2d's attributes, as in nb_conv_opts: (H, W) pairs. */
typedef struct nb_conv_attr {
    int64_t stride[2], padding[2], dilation[2], groups;
    int64_t output_padding[2]; /* conv_transpose2d only */
} nb_conv_attr;

/* Attributes of one call: one named struct per op kind, the member named after the op (or
 * its family). The builder fills what the caller chose; fields marked "shape:" are derived by
 * the shape function for the forward and backward. An op reads only its own member. aux is a
 * buffer the shape or forward function may save for the backward (a dropout mask, pooling
 * indices, a conv geometry). */
typedef struct nb_attrs {
    union {
        /* scale, add_scalar, pow, leaky_relu: the constant c of y = F(x, c); 0 for the other
         * unary maps. */
        struct {
            float c;
        } unary;
        nb_shape_attr reshape;      /* one size may be -1 */
        nb_shape_attr broadcast_to;
        struct {
            int perm[NB_MAX_DIMS];  /* output axis d is input axis perm[d] */
        } permute;
        struct {
            int axis;               /* normalized by the builder, as are start and end */
            int64_t start, end, step;
        } slice;
        struct {
            int axis;               /* shape: normalized (non-negative) */
        } concat;
        struct {                    /* sum, mean */
            int n;                  /* axis numbers (negative from the end), each once; */
            int axes[NB_MAX_DIMS];  /* n = 1 with NB_ALL_AXES: all axes */
            bool keepdim;
            uint32_t mask;          /* shape: bit d set when axis d is reduced */
        } reduce;
        struct {
            int axis;               /* or NB_ALL_AXES */
            bool keepdim;
            int64_t outer, K, inner; /* shape: x as (outer, K, inner), K the reduced axis */
        } max;
        struct {                    /* softmax, log_softmax */
            int axis;
            int64_t outer, K, inner; /* shape: as for max */
        } softmax;
        nb_matmul_attr matmul;
        nb_conv_attr conv;          /* conv2d, conv_transpose2d */
        struct {                    /* max_pool2d, avg_pool2d */
            int64_t kernel, stride, padding;
        } pool;
        struct {
            float p;
            bool training;          /* and p > 0: false makes the op the identity */
        } dropout;
        struct {
            int64_t padding_idx;    /* a row that gets no gradient; -1: none */
        } embedding;
        struct {                    /* rnn_seq, lstm_seq */
            nb_cell cell;
            bool reverse;
            int64_t N, T, H, G;     /* shape: from xp (N, T, G*H) */
        } rnn;
        struct {
            bool training;
            float momentum, eps;
            int64_t N, C, S;        /* shape: x as (N, C, S), S = H*W (1 for a 2-d x) */
        } batch_norm;
        /* ---- transformer ops (issue 12) ---- */
        struct {
            float eps;
            int64_t R, D;           /* shape: x as (R, D), D the last axis */
        } layer_norm;
        struct {
            bool causal, training;  /* training: and dropout > 0 */
            float scale, dropout;   /* shape: scale resolved (<= 0 -> 1/sqrt(Dh)) */
            int64_t N, H, Tq, Tk, Dh; /* shape: q (N, H, Tq, Dh), k and v (N, H, Tk, Dh) */
        } attention;
    };
    void *aux;
} nb_attrs;

typedef struct nb_node {
    nb_op op;
    int n_in;
    nb_tensor **in;
    nb_tensor *out;
    nb_attrs a;
    struct nb_node *prev; /* the node recorded before this one */
    unsigned reached;     /* the mark of the last backward whose gradient reached it (tape.c) */
} nb_node;

typedef struct nb_op_def {
    const char *name;
    int n_inputs;
    unsigned index_mask, flags;
    nb_status (*shape)(nb_node *n, nb_tensor *out);
    void (*forward)(nb_node *n);
    void (*backward)(nb_node *n);
} nb_op_def;

extern const nb_op_def nb__ops[NB_OP__COUNT];

#define NB_OP(E, name, nin, idx, flags)                                                    \
    nb_status nb__shape_##name(nb_node *n, nb_tensor *out);                                \
    void nb__fwd_##name(nb_node *n);                                                       \
    void nb__bwd_##name(nb_node *n);
#include "autograd/ops.def"
#undef NB_OP

/* Runs op on inputs with attributes a: checks, allocates the output in the arena, computes
 * it, and records a node when grad mode is on and an input requires a gradient. */
nb_tensor *nb__apply(nb_op op, nb_tensor **in, int n_in, const nb_attrs *a);
/* Backward from out seeded with gout (out->numel floats), for gradient checks. */
nb_status nb__backward_seeded(nb_tensor *out, const float *gout);
/* The op's name, for messages: "nb_matmul". */
#define NB_OPNAME(n) (nb__ops[(n)->op].name)

#endif
