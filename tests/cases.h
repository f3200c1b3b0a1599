/* The op cases shared by the gradient check and the PyTorch reference test: each names the
 * table op it covers, its inputs, and a builder that applies the op. */
#ifndef NB_TEST_CASES_H
#define NB_TEST_CASES_H

#include "autograd/op.h"

/* How an input is filled: values chosen away from each op's kinks and poles. */
typedef enum {
    IN_NONE,     /* a NULL input (optional bias) */
    IN_RAND,     /* uniform [-1, 1) */
    IN_POS,      /* uniform [0.5, 2) */
    IN_AWAY,     /* uniform +-[0.2, 1): away from 0 */
    IN_PROB,     /* uniform [0.1, 0.9] */
    IN_DISTINCT, /* a shuffled grid with gaps of 0.1: no near-ties for max */
    IN_INDEX     /* int64 indices in [0, range) */
} in_kind;

typedef struct {
    int ndim;
    int64_t shape[6];
    in_kind kind;
    int64_t range; /* IN_INDEX: number of classes or vocabulary size */
} in_spec;

typedef struct {
    nb_op op; /* the op it covers: the last op the builder applies (composite cases chain
               * views and other ops before it) */
    const char *name;
    int n_in;
    in_spec in[5];
    nb_tensor *(*build)(nb_tensor **in);
    float h, atol, rtol; /* finite-difference step and tolerances for the gradient check */
} op_case;

extern const op_case nb_test_cases[];
extern const int nb_test_case_count;

/* New heap input tensor for spec (float inputs require a gradient); NULL for IN_NONE. */
nb_tensor *case_make_input(const in_spec *s);

#endif
