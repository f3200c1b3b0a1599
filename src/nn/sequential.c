/* Sequential: runs its children in order; all the tensors one child returns are the next
 * one's inputs, so layers that take and return several (an LSTM's output and states) chain. */
#include "nn/nn_impl.h"

static nb_status seq_forward_n(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    nb_tensor *cur[NB_MODULE_MAX_IO];
    int n = n_in;
    for (int i = 0; i < n; i++) cur[i] = in[i];
    for (int c = 0; c < nb_module_child_count(m); c++) {
        nb_tensor *next[NB_MODULE_MAX_IO] = {0};
        int k = 0;
        nb_status st = nb_module_forward_n(nb_module_child(m, c), n, cur, &k, next);
        if (st) return st;
        n = k;
        for (int i = 0; i < n; i++) cur[i] = next[i];
    }
    *n_out = n;
    for (int i = 0; i < n; i++) out[i] = cur[i];
    return NB_OK;
}

/* Children c.. are Conv2d, ReLU (optional), MaxPool2d(2, 2): how many (3 or 2), else 0. */
static int conv_pool_run(nb_module *m, int c, nb_tensor **w, nb_tensor **b, nb_conv_opts *o, bool *relu) {
    const int n = nb_module_child_count(m);
    int k, s;
    if (c + 1 >= n || !nb__conv2d_get(nb_module_child(m, c), w, b, o)) return 0;
    *relu = nb__activation_is_relu(nb_module_child(m, c + 1));
    const int p = c + 1 + (*relu ? 1 : 0);
    if (p >= n || !nb__maxpool2d_get(nb_module_child(m, p), &k, &s) || k != 2 || s != 2) return 0;
    return p - c + 1;
}

/* The common case, one tensor through layers of one tensor, without the copies. Without a
 * tape (nb_no_grad: inference), Conv2d, ReLU, MaxPool2d(2, 2) run as one fused pass
 * (nb__conv2d_relu_maxpool2: the same values, no intermediate tensors). */
static nb_tensor *seq_forward(nb_module *m, nb_tensor *x) {
    for (int c = 0; c < nb_module_child_count(m) && x; c++) {
        nb_module *ch = nb_module_child(m, c);
        nb_tensor *w, *b;
        nb_conv_opts o;
        bool relu;
        int run;
        if (!nb_grad_enabled() && !(ch->model && ch->model->summary) &&
            (run = conv_pool_run(m, c, &w, &b, &o, &relu)) > 0) {
            x = nb__conv2d_relu_maxpool2(x, w, b, o, relu);
            c += run - 1;
            continue;
        }
        if (nb_module_ops_of(ch)->forward) {
            x = nb_module_forward(ch, x);
        } else {
            nb_tensor *in[1] = {x}, *out[NB_MODULE_MAX_IO] = {0};
            int k = 0;
            /* From here on several tensors may flow: run the rest through forward_n. */
            if (nb_module_forward_n(ch, 1, in, &k, out)) return NULL;
            for (int r = c + 1; r < nb_module_child_count(m); r++) {
                nb_tensor *next[NB_MODULE_MAX_IO] = {0};
                int k2 = 0;
                if (nb_module_forward_n(nb_module_child(m, r), k, out, &k2, next)) return NULL;
                k = k2;
                for (int i = 0; i < k; i++) out[i] = next[i];
            }
            return out[0];
        }
    }
    return x;
}

static const nb_module_ops seq_ops = {.kind = "Sequential", .forward = seq_forward, .forward_n = seq_forward_n};

nb_module *nb_sequential_new(void) { return nb__module_alloc(&seq_ops, 0, "nb_sequential_new"); }

nb_status nb_sequential_add(nb_module *seq, const char *name, nb_module *child) {
    if (!seq || nb_module_ops_of(seq) != &seq_ops) {
        nb_module_free(child);
        return nb__err(NB_ERR_ARG, "nb_sequential_add: not a sequential");
    }
    return nb_module_add_child(seq, name, child);
}
