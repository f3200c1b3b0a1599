/* Models: a root module bound to one parameter slab and one buffer slab; forward, training
 * mode, freezing, re-initialization and the layer summary. */
#include "kernels/kernels.h"
#include "nn/nn_impl.h"

/* Parents before children, so a parent's tensors come first in the slab, as PyTorch's
 * state_dict lists a module's own parameters before its children's. */
static nb_status bind(nb_model *md, nb_module *m, const char *path, int depth, nb_init init) {
    m->model = md;
    m->depth = depth;
    if (!m->path) {
        m->path = malloc(strlen(path) + 1);
        if (!m->path) return nb__err(NB_ERR_MEM, "nb_model_new: out of memory");
        strcpy(m->path, path);
    }
    if (m->ops->bind) {
        nb_clear_error();
        nb_status st = m->ops->bind(m, init);
        if (st) return *nb_last_error() ? st : nb__err(st, "%s '%s': bind failed", m->ops->kind, path);
    }
    for (int i = 0; i < m->n; i++) {
        char sub[512];
        if (snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", m->name[i]) >= (int)sizeof sub)
            return nb__err(NB_ERR_ARG, "nb_model_new: the name '%s.%s' is too long", path, m->name[i]);
        if (m->child[i]->model)
            return nb__err(NB_ERR_ARG, "nb_model_new: module '%s' is used twice", sub);
        nb_status st = bind(md, m->child[i], sub, depth + 1, init);
        if (st) return st;
    }
    return NB_OK;
}

nb_model *nb_model_new(nb_module *root, nb_init init) {
    if (!root) {
        nb__err(NB_ERR_ARG, "nb_model_new: root module is NULL");
        return NULL;
    }
    if ((int)init < NB_INIT_DEFAULT || init > NB_INIT_ZEROS) {
        nb__err(NB_ERR_ARG, "nb_model_new: unknown initializer %d", (int)init);
        nb_module_free(root);
        return NULL;
    }
    if (root->model) {
        nb__err(NB_ERR_ARG, "nb_model_new: the module already belongs to a model");
        return NULL;
    }
    nb_model *m = calloc(1, sizeof *m);
    if (!m) {
        nb__err(NB_ERR_MEM, "nb_model_new: out of memory");
        nb_module_free(root);
        return NULL;
    }
    nb__gemm_warm_up();
    m->root = root;
    m->training = true;
    m->params = nb_params_new();
    m->buffers = nb_params_new();
    if (!m->params || !m->buffers || bind(m, root, "", 0, init) != NB_OK) {
        nb_model_free(m);
        return NULL;
    }
    return m;
}

void nb_model_free(nb_model *m) {
    if (!m) return;
    nb_module_free(m->root);
    nb_params_free(m->params);
    nb_params_free(m->buffers);
    for (int i = 0; i < m->n_counters; i++) {
        free(m->counter_names[i]);
        free(m->counters[i]);
    }
    free(m->counter_names);
    free(m->counters);
    free(m);
}

nb_module *nb_model_root(nb_model *m) { return m ? m->root : NULL; }
void nb_model_set_training(nb_model *m, bool training) {
    if (m) m->training = training;
}
bool nb_model_training(const nb_model *m) { return m && m->training; }

static void reset_states(nb_module *mod) {
    if (mod->ops->reset_state) mod->ops->reset_state(mod);
    for (int i = 0; i < mod->n; i++) reset_states(mod->child[i]);
}
void nb_model_reset_states(nb_model *m) {
    if (m && m->root) reset_states(m->root);
}
nb_params *nb_model_params(nb_model *m) { return m ? m->params : NULL; }
nb_params *nb_model_buffers(nb_model *m) { return m ? m->buffers : NULL; }
int nb_model_counter_count(const nb_model *m) { return m ? m->n_counters : 0; }
const char *nb_model_counter_name(const nb_model *m, int i) {
    return m && i >= 0 && i < m->n_counters ? m->counter_names[i] : NULL;
}
int64_t *nb_model_counter(nb_model *m, int i) {
    return m && i >= 0 && i < m->n_counters ? m->counters[i] : NULL;
}

nb_tensor *nb_model_forward(nb_model *m, nb_tensor *x) {
    if (!m) {
        nb__err(NB_ERR_ARG, "nb_model_forward: model is NULL");
        return NULL;
    }
    if (!x) {
        nb__err_null("nb_model_forward", "input");
        return NULL;
    }
    return nb_module_forward(m->root, x);
}

nb_status nb_model_forward_n(nb_model *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    if (!m) return nb__err(NB_ERR_ARG, "nb_model_forward_n: model is NULL");
    return nb_module_forward_n(m->root, n_in, in, n_out, out);
}

/* ---- freezing and re-initialization ---------------------------------------------------------- */
nb_status nb_model_freeze(nb_model *m, const char *prefixes, bool frozen, int *count) {
    if (count) *count = 0;
    if (!m) return nb__err(NB_ERR_ARG, "nb_model_freeze: model is NULL");
    int n = 0;
    bool *sel;
    nb_status st = nb__params_select(m->params, prefixes, "nb_model_freeze", &sel, &n);
    if (st) return st;
    for (int i = 0; i < nb_params_count(m->params); i++)
        if (sel[i]) nb_tensor_set_requires_grad(nb_params_get(m->params, i), !frozen);
    free(sel);
    if (count) *count = n;
    return NB_OK;
}

static nb_module *find_path(nb_module *root, const char *path) {
    nb_module *m = root;
    const char *s = path;
    while (m && *s) {
        const char *e = strchr(s, '.');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        nb_module *next = NULL;
        for (int i = 0; i < m->n && !next; i++)
            if (strlen(m->name[i]) == n && strncmp(m->name[i], s, n) == 0) next = m->child[i];
        m = next;
        s += n + (e ? 1 : 0);
    }
    return m;
}

typedef struct reinit_ctx {
    nb_model *m;
    nb_init init;
    bool apply;
} reinit_ctx;

static nb_status rebind(nb_model *md, nb_module *m, nb_init init) {
    if (m->ops->bind) {
        nb_status st = m->ops->bind(m, init);
        if (st) return st;
    }
    for (int i = 0; i < m->n; i++) {
        nb_status st = rebind(md, m->child[i], init);
        if (st) return st;
    }
    return NB_OK;
}

static nb_status reinit_cb(void *c, const char *prefix) {
    reinit_ctx *x = c;
    nb_module *mod = find_path(x->m->root, prefix);
    if (!mod) return nb__err(NB_ERR_ARG, "nb_model_reinit: the model has no module named '%s'", prefix);
    if (!x->apply) return NB_OK;
    x->m->rebinding = true;
    nb_status st = rebind(x->m, mod, x->init);
    x->m->rebinding = false;
    return st;
}

nb_status nb_model_reinit(nb_model *m, const char *prefixes, nb_init init) {
    if (!m) return nb__err(NB_ERR_ARG, "nb_model_reinit: model is NULL");
    reinit_ctx c = {m, init, false};
    nb_status st = nb__each_prefix(prefixes, "nb_model_reinit", reinit_cb, &c);
    if (st) return st;
    c.apply = true;
    return nb__each_prefix(prefixes, "nb_model_reinit", reinit_cb, &c);
}

/* ---- summary ------------------------------------------------------------------------------ */
static int64_t params_under(nb_model *md, const nb_module *m) {
    int64_t n = 0;
    for (int i = 0; i < nb_params_count(md->params); i++)
        if (!*m->path || nb__under(nb_params_name(md->params, i), m->path))
            n += nb_tensor_numel(nb_params_get(md->params, i));
    return n;
}

static void describe(const nb_module *m, char *buf, size_t cap) {
    if (m->ops->describe) m->ops->describe(m, buf, cap);
    else snprintf(buf, cap, "%s", m->ops->kind);
}

char *nb_model_summary(nb_model *m, int ndim, const int64_t *sample_shape) {
    if (!m || ndim < 0 || ndim >= NB_MAX_DIMS || (ndim && !sample_shape)) {
        nb__err(NB_ERR_ARG, "nb_model_summary: needs a model and a sample shape of 0..%d axes", NB_MAX_DIMS - 1);
        return NULL;
    }
    int64_t shape[NB_MAX_DIMS] = {1};
    for (int i = 0; i < ndim; i++) shape[i + 1] = sample_shape[i];
    nb_tensor *x = nb_tensor_new(ndim + 1, shape);
    if (!x) return NULL;
    int rows = m->root->n ? m->root->n : 1;
    size_t cap = 256 + (size_t)rows * 160, len = 0;
    char *out = malloc(cap), kb[96];
    if (!out) {
        nb_tensor_free(x);
        nb__err(NB_ERR_MEM, "nb_model_summary: out of memory");
        return NULL;
    }
    for (int i = 0; i < m->root->n; i++) m->root->child[i]->shape[0] = '\0';
    bool was = m->training;
    m->training = false;
    m->summary = true;
    nb_no_grad_begin();
    nb_tensor *y = nb_model_forward(m, x);
    if (!y && nb_last_error()[0] && strstr(nb_last_error(), "int64 token ids")) {
        /* a model that reads token ids (an Embedding first): id 0 in every position */
        nb_tensor_free(x);
        nb_step_reset();
        nb_clear_error();
        if (!(x = nb_index_new(ndim + 1, shape))) {
            nb_no_grad_end();
            m->summary = false;
            m->training = was;
            free(out);
            return NULL;
        }
        y = nb_model_forward(m, x);
    }
    char yshape[64] = "error";
    if (y) nb__shape_str(yshape, sizeof yshape, y->ndim, y->shape);
    nb_no_grad_end();
    m->summary = false;
    m->training = was;
    int tw = 32; /* the type column: as wide as the longest description */
    for (int i = 0; i < rows; i++) {
        describe(m->root->n ? m->root->child[i] : m->root, kb, sizeof kb);
        if ((int)strlen(kb) > tw) tw = (int)strlen(kb);
    }
    len += (size_t)snprintf(out + len, cap - len, "%-10s %-*s %-18s %10s\n", "layer", tw, "type", "output", "params");
    for (int i = 0; i < rows; i++) {
        nb_module *c = m->root->n ? m->root->child[i] : m->root;
        describe(c, kb, sizeof kb);
        len += (size_t)snprintf(out + len, cap - len, "%-10.10s %-*s %-18.18s %10lld\n",
                                m->root->n ? m->root->name[i] : "(root)", tw, kb,
                                m->root->n ? (c->shape[0] ? c->shape : (y ? "(not run)" : "error")) : yshape,
                                (long long)params_under(m, c));
    }
    len += (size_t)snprintf(out + len, cap - len, "total parameters: %lld\n", (long long)params_under(m, m->root));
    nb_tensor_free(x);
    nb_step_reset();
    if (!y) {
        char why[1024]; /* the forward's message says why */
        snprintf(why, sizeof why, "%s", nb_last_error());
        nb__err(NB_ERR_SHAPE, "nb_model_summary: %s", why);
        free(out);
        return NULL;
    }
    return out;
}
