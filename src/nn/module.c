/* Modules: the layer interface (nb_module_ops over private state), named children, the
 * declaration of parameters and buffers under state_dict names, and forward dispatch. */
#include "nn/nn_impl.h"

#include <math.h>

nb_module *nb_module_new(const nb_module_ops *ops, void *state) {
    if (!ops || (!ops->forward && !ops->forward_n) || !ops->kind) {
        nb__err(NB_ERR_ARG, "nb_module_new: ops needs a kind and a forward or forward_n");
        if (ops && ops->free_state) ops->free_state(state);
        else free(state);
        return NULL;
    }
    nb_module *m = calloc(1, sizeof *m);
    if (!m) {
        nb__err(NB_ERR_MEM, "nb_module_new: out of memory");
        if (ops->free_state) ops->free_state(state);
        else free(state);
        return NULL;
    }
    m->ops = ops;
    m->state = state;
    return m;
}

nb_module *nb__module_alloc(const nb_module_ops *ops, size_t size, const char *fn) {
    void *s = calloc(1, size ? size : 1);
    if (!s) {
        nb__err(NB_ERR_MEM, "%s: out of memory", fn);
        return NULL;
    }
    return nb_module_new(ops, s);
}

void *nb_module_state(const nb_module *m) { return m ? m->state : NULL; }
const nb_module_ops *nb_module_ops_of(const nb_module *m) { return m ? m->ops : NULL; }
int nb_module_child_count(const nb_module *m) { return m ? m->n : 0; }
nb_module *nb_module_child(const nb_module *m, int i) { return m && i >= 0 && i < m->n ? m->child[i] : NULL; }
const char *nb_module_child_name(const nb_module *m, int i) {
    return m && i >= 0 && i < m->n ? m->name[i] : NULL;
}
nb_module *nb_module_find_child(const nb_module *m, const char *name) {
    for (int i = 0; m && name && i < m->n; i++)
        if (strcmp(m->name[i], name) == 0) return m->child[i];
    return NULL;
}
const char *nb_module_path(const nb_module *m) { return m && m->path ? m->path : ""; }
bool nb_module_training(const nb_module *m) { return m && m->model && m->model->training; }

void nb_module_free(nb_module *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        nb_module_free(m->child[i]);
        free(m->name[i]);
    }
    free(m->child);
    free(m->name);
    free(m->path);
    if (m->ops->free_state) m->ops->free_state(m->state);
    else free(m->state);
    free(m);
}

nb_status nb_module_add_child(nb_module *m, const char *name, nb_module *child) {
    nb_status st = NB_OK;
    if (!m) st = nb__err(NB_ERR_ARG, "nb_module_add_child: parent is NULL");
    else if (m->model) st = nb__err(NB_ERR_STATE, "nb_module_add_child: the module already belongs to a model");
    else if (!child) st = nb__err(NB_ERR_ARG, "nb_module_add_child: child '%s' is NULL", name ? name : "");
    else if (child == m) st = nb__err(NB_ERR_ARG, "nb_module_add_child: a module cannot be its own child");
    else if (!name || !*name || strchr(name, '.') || strlen(name) > 48)
        st = nb__err(NB_ERR_ARG, "nb_module_add_child: name must be 1-48 characters without '.'");
    else if (nb_module_find_child(m, name))
        st = nb__err(NB_ERR_ARG, "nb_module_add_child: a child named '%s' already exists", name);
    if (st == NB_OK && m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 8;
        nb_module **c = realloc(m->child, (size_t)cap * sizeof *c);
        if (c) m->child = c;
        char **nm = realloc(m->name, (size_t)cap * sizeof *nm);
        if (nm) m->name = nm;
        if (!c || !nm) st = nb__err(NB_ERR_MEM, "nb_module_add_child: out of memory");
        else m->cap = cap;
    }
    char *copy = st == NB_OK ? malloc(strlen(name) + 1) : NULL;
    if (st == NB_OK && !copy) st = nb__err(NB_ERR_MEM, "nb_module_add_child: out of memory");
    if (st != NB_OK) {
        if (child != m) nb_module_free(child);
        return st;
    }
    strcpy(copy, name);
    m->child[m->n] = child;
    m->name[m->n] = copy;
    m->n++;
    return NB_OK;
}

/* ---- declarations ------------------------------------------------------------------------ */
static char *join(const char *prefix, const char *leaf) {
    size_t n = strlen(prefix) + strlen(leaf) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s", prefix, *prefix ? "." : "", leaf);
    else nb__err(NB_ERR_MEM, "out of memory naming '%s'", leaf);
    return s;
}

static nb_tensor *declare(nb_module *m, nb_params *slab, const char *name, int ndim, const int64_t *shape,
                          const char *fn) {
    if (!m || !m->model || !name || !*name || strchr(name, '.')) {
        nb__err(NB_ERR_ARG, "%s: call it from a layer's bind with a name without '.'", fn);
        return NULL;
    }
    char *full = join(m->path, name);
    if (!full) return NULL;
    nb_tensor *t = nb_params_find(slab, full);
    if (m->model->rebinding && t) {
        free(full);
        return t; /* nb_model_reinit: the same tensor, initialized again by bind */
    }
    t = nb_params_add(slab, full, ndim, shape);
    free(full);
    return t;
}

nb_tensor *nb_module_param(nb_module *m, const char *name, int ndim, const int64_t *shape) {
    return declare(m, m && m->model ? m->model->params : NULL, name, ndim, shape, "nb_module_param");
}

nb_tensor *nb_module_buffer(nb_module *m, const char *name, int ndim, const int64_t *shape) {
    nb_tensor *t = declare(m, m && m->model ? m->model->buffers : NULL, name, ndim, shape, "nb_module_buffer");
    if (t) nb_tensor_set_requires_grad(t, false);
    return t;
}

int64_t *nb_module_counter(nb_module *m, const char *name) {
    if (!m || !m->model || !name || !*name || strchr(name, '.')) {
        nb__err(NB_ERR_ARG, "nb_module_counter: call it from a layer's bind with a name without '.'");
        return NULL;
    }
    nb_model *md = m->model;
    char *full = join(m->path, name);
    if (!full) return NULL;
    for (int i = 0; i < md->n_counters; i++)
        if (strcmp(md->counter_names[i], full) == 0) {
            free(full);
            if (md->rebinding) {
                *md->counters[i] = 0;
                return md->counters[i];
            }
            nb__err(NB_ERR_ARG, "nb_module_counter: a counter named '%s' already exists", md->counter_names[i]);
            return NULL;
        }
    if (md->n_counters == md->cap_counters) {
        int cap = md->cap_counters ? 2 * md->cap_counters : 8;
        char **nm = realloc(md->counter_names, (size_t)cap * sizeof *nm);
        if (nm) md->counter_names = nm;
        int64_t **cv = realloc(md->counters, (size_t)cap * sizeof *cv);
        if (cv) md->counters = cv;
        if (!nm || !cv) {
            free(full);
            nb__err(NB_ERR_MEM, "nb_module_counter: out of memory");
            return NULL;
        }
        md->cap_counters = cap;
    }
    int64_t *c = calloc(1, sizeof *c);
    if (!c) {
        free(full);
        nb__err(NB_ERR_MEM, "nb_module_counter: out of memory");
        return NULL;
    }
    md->counter_names[md->n_counters] = full;
    md->counters[md->n_counters++] = c;
    return c;
}

/* ---- initializers -------------------------------------------------------------------------- */
void nb_init_weight(nb_tensor *w, nb_tensor *b, nb_init init, double fan_in, double fan_out) {
    double bound;
    if (!w || !(fan_in > 0) || !(fan_out > 0)) return;
    switch (init) {
    case NB_INIT_DEFAULT: /* kaiming_uniform(a = sqrt(5)): gain sqrt(1/3), bound sqrt(3)*gain/sqrt(fan_in) */
        bound = 1.0 / sqrt(fan_in);
        nb_tensor_fill_uniform(w, (float)-bound, (float)bound);
        if (b) nb_tensor_fill_uniform(b, (float)-bound, (float)bound);
        return;
    case NB_INIT_XAVIER_UNIFORM:
        bound = sqrt(6.0 / (fan_in + fan_out));
        nb_tensor_fill_uniform(w, (float)-bound, (float)bound);
        break;
    case NB_INIT_XAVIER_NORMAL: nb_tensor_fill_normal(w, 0, (float)sqrt(2.0 / (fan_in + fan_out))); break;
    case NB_INIT_KAIMING_UNIFORM:
        bound = sqrt(6.0 / fan_in);
        nb_tensor_fill_uniform(w, (float)-bound, (float)bound);
        break;
    case NB_INIT_KAIMING_NORMAL: nb_tensor_fill_normal(w, 0, (float)sqrt(2.0 / fan_in)); break;
    case NB_INIT_NORMAL: nb_tensor_fill_normal(w, 0, 0.02f); break;
    case NB_INIT_ZEROS: nb_tensor_fill(w, 0); break;
    }
    if (b) nb_tensor_fill(b, 0);
}

/* ---- forward dispatch ------------------------------------------------------------------------ */
static void record_shape(nb_module *m, const nb_tensor *y) {
    if (m->model && m->model->summary && m->depth == 1 && y) nb__shape_str(m->shape, sizeof m->shape, y->ndim, y->shape);
}

nb_tensor *nb_module_forward(nb_module *m, nb_tensor *x) {
    if (!m) {
        nb__err(NB_ERR_ARG, "nb_module_forward: module is NULL");
        return NULL;
    }
    if (!x) {
        nb__err_null(m->ops->kind, "input"); /* keeps the cause's message first */
        return NULL;
    }
    nb_tensor *y;
    if (m->ops->forward) {
        y = m->ops->forward(m, x);
    } else {
        int n_out = 0;
        nb_tensor *out[NB_MODULE_MAX_IO] = {0};
        y = m->ops->forward_n(m, 1, &x, &n_out, out) == NB_OK && n_out > 0 ? out[0] : NULL;
    }
    record_shape(m, y);
    return y;
}

nb_status nb_module_forward_n(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    if (!m || !in || !n_out || !out || n_in < 1 || n_in > NB_MODULE_MAX_IO)
        return nb__err(NB_ERR_ARG, "nb_module_forward_n: needs a module, 1..%d inputs and output slots",
                       NB_MODULE_MAX_IO);
    for (int i = 0; i < n_in; i++)
        if (!in[i]) {
            char what[32];
            snprintf(what, sizeof what, "input %d", i);
            return nb__err_null(m->ops->kind, what);
        }
    *n_out = 0;
    nb_status st;
    if (m->ops->forward_n) {
        st = m->ops->forward_n(m, n_in, in, n_out, out);
        if (st == NB_OK && (*n_out < 1 || *n_out > NB_MODULE_MAX_IO))
            st = nb__err(NB_ERR_STATE, "%s: forward_n returned %d outputs", m->ops->kind, *n_out);
    } else {
        if (n_in != 1) return nb__err(NB_ERR_ARG, "%s takes one input, got %d", m->ops->kind, n_in);
        out[0] = m->ops->forward(m, in[0]);
        *n_out = out[0] ? 1 : 0;
        st = out[0] ? NB_OK : NB_ERR_SHAPE;
        if (!out[0] && !*nb_last_error()) nb__err(st, "%s: forward failed", m->ops->kind);
    }
    if (st == NB_OK) record_shape(m, out[0]);
    return st;
}
