/* The op contract: every op is one line in ops.def and three functions.
 *   shape:    validates the inputs and attributes and fills the output's ndim and shape (and,
 *             for views, its strides and data pointer). Errors name the op and the shapes.
 *   forward:  computes node->out from node->in (never fails: shape checked everything).
 *   backward: ADDS the gradient of each input that requires one (nb__grad(in)) from the
 *             output's gradient node->out->grad. Inputs that need none are skipped. */
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

/* Attributes of one call: small integers and floats, plus a buffer the forward may save for
 * the backward (a dropout mask, pooling indices). */
typedef struct nb_attrs {
    int64_t i[16];
    float f[4];
    void *aux;
} nb_attrs;

typedef struct nb_node {
    nb_op op;
    int n_in;
    nb_tensor **in;
    nb_tensor *out;
    nb_attrs a;
    struct nb_node *prev; /* the node recorded before this one */
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
