/* Internals of modules and models, shared by src/nn's files. Not installed. */
#ifndef NB_NN_IMPL_H
#define NB_NN_IMPL_H

#include "internal.h"

struct nb_module {
    const nb_module_ops *ops;
    void *state;
    nb_model *model;   /* set by nb_model_new */
    char *path;        /* state_dict prefix, "" for the root */
    int depth;         /* 0 for the root */
    int n, cap;        /* named children */
    nb_module **child;
    char **name;
    char shape[64];    /* the first output's shape in the last summary pass */
};

struct nb_model {
    nb_module *root;
    nb_params *params, *buffers;
    bool training;
    bool rebinding;    /* nb_model_reinit: declarations return the existing tensors */
    bool summary;      /* nb_model_summary: modules at depth 1 record their output shape */
    int n_counters, cap_counters;
    char **counter_names;
    int64_t **counters; /* each malloc'd, so pointers stay valid */
};

/* Arguments of the built-in constructors are checked by each file; this allocates a module of
 * kind ops with a zeroed state of `size` bytes (NULL with the error set). */
nb_module *nb__module_alloc(const nb_module_ops *ops, size_t size, const char *fn);

/* rnn.c: a recurrent layer's directions (1 for any other module) and its child name in a
 * Recurrent model ("lstm", "gru", "rnn"). */
int nb__rnn_directions(const nb_module *m);
const char *nb__rnn_child_name(const nb_module *m);

/* linear.c: whether m is a plain Linear, and then its sizes and tensors (w, b: NULL before
 * nb_model_new; b NULL without bias). lora.c turns such a module into a LoRA Linear in place. */
bool nb__linear_get(const nb_module *m, int *in, int *out, nb_tensor **w, nb_tensor **b);
/* linear.c: the Linear's bias starts at 0 instead of PyTorch's default draw (MultiheadAttention's
 * out_proj); whether it does. Before binding only. */
void nb__linear_zero_bias(nb_module *m);
bool nb__linear_has_zero_bias(const nb_module *m);

/* conv2d.c, pool.c, activation.c: whether m is a Conv2d (bound: w, b and its options), a
 * MaxPool2d (its window and stride), a ReLU; sequential.c fuses Conv2d, ReLU, MaxPool2d(2, 2)
 * into one pass for inference. */
bool nb__conv2d_get(const nb_module *m, nb_tensor **w, nb_tensor **b, nb_conv_opts *o);
bool nb__maxpool2d_get(const nb_module *m, int *k, int *stride);
bool nb__activation_is_relu(const nb_module *m);

#endif
