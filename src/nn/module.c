/* Modules and models: layer descriptions, parameter creation under state_dict names,
 * initialization, forward passes, and a layer summary. */
#include "internal.h"

#include <math.h>

typedef enum {
    M_LINEAR, M_CONV2D, M_MAXPOOL, M_AVGPOOL, M_BN1D, M_BN2D, M_DROPOUT, M_FLATTEN, M_ACT, M_SEQ
} mkind;

struct nb_module {
    mkind kind;
    int in, out;        /* features or channels */
    int k, stride;      /* conv kernel, pool window/stride */
    bool bias;
    nb_conv_opts co;
    float p;            /* dropout */
    nb_act act;
    float momentum, eps; /* batch norm */
    int counter;        /* batch norm: index of num_batches_tracked in the model */
    nb_tensor *w, *b, *rm, *rv; /* bound by nb_model_new */
    int n, cap;         /* sequential children */
    nb_module **child;
    char **name;
};

struct nb_model {
    nb_module *root;
    nb_params *params, *buffers;
    bool training;
    int n_counters;
    char **counter_names;
    int64_t *counters;
};

static nb_module *mod_new(mkind k, const char *fn) {
    nb_module *m = calloc(1, sizeof *m);
    if (!m) nb__err(NB_ERR_MEM, "%s: out of memory", fn);
    else m->kind = k;
    return m;
}

nb_module *nb_linear_new(int in_features, int out_features, bool bias) {
    if (in_features < 1 || out_features < 1) {
        nb__err(NB_ERR_ARG, "nb_linear_new: sizes must be >= 1, got %d -> %d", in_features, out_features);
        return NULL;
    }
    nb_module *m = mod_new(M_LINEAR, "nb_linear_new");
    if (m) {
        m->in = in_features;
        m->out = out_features;
        m->bias = bias;
    }
    return m;
}

nb_module *nb_conv2d_new(int in_channels, int out_channels, int k, nb_conv_opts o, bool bias) {
    int g = o.groups;
    if (in_channels < 1 || out_channels < 1 || k < 1 || g < 1 || in_channels % g || out_channels % g) {
        nb__err(NB_ERR_ARG, "nb_conv2d_new: need channels >= 1 divisible by groups %d and k >= 1, got %d -> %d, k %d",
                g, in_channels, out_channels, k);
        return NULL;
    }
    nb_module *m = mod_new(M_CONV2D, "nb_conv2d_new");
    if (m) {
        m->in = in_channels;
        m->out = out_channels;
        m->k = k;
        m->co = o;
        m->bias = bias;
    }
    return m;
}

static nb_module *pool_new(mkind kind, int k, int stride, const char *fn) {
    if (k < 1 || stride < 0) {
        nb__err(NB_ERR_ARG, "%s: window must be >= 1 and stride >= 0, got %d, %d", fn, k, stride);
        return NULL;
    }
    nb_module *m = mod_new(kind, fn);
    if (m) {
        m->k = k;
        m->stride = stride ? stride : k;
    }
    return m;
}
nb_module *nb_maxpool2d_new(int k, int stride) { return pool_new(M_MAXPOOL, k, stride, "nb_maxpool2d_new"); }
nb_module *nb_avgpool2d_new(int k, int stride) { return pool_new(M_AVGPOOL, k, stride, "nb_avgpool2d_new"); }

static nb_module *bn_new(mkind kind, int c, const char *fn) {
    if (c < 1) {
        nb__err(NB_ERR_ARG, "%s: features must be >= 1, got %d", fn, c);
        return NULL;
    }
    nb_module *m = mod_new(kind, fn);
    if (m) {
        m->in = m->out = c;
        m->momentum = 0.1f;
        m->eps = 1e-5f;
    }
    return m;
}
nb_module *nb_batchnorm1d_new(int features) { return bn_new(M_BN1D, features, "nb_batchnorm1d_new"); }
nb_module *nb_batchnorm2d_new(int channels) { return bn_new(M_BN2D, channels, "nb_batchnorm2d_new"); }

nb_module *nb_dropout_new(float p) {
    if (!(p >= 0 && p < 1)) {
        nb__err(NB_ERR_ARG, "nb_dropout_new: p must be in [0, 1), got %g", p);
        return NULL;
    }
    nb_module *m = mod_new(M_DROPOUT, "nb_dropout_new");
    if (m) m->p = p;
    return m;
}

nb_module *nb_flatten_new(void) { return mod_new(M_FLATTEN, "nb_flatten_new"); }

nb_module *nb_activation_new(nb_act kind) {
    if ((int)kind < NB_ACT_RELU || kind > NB_ACT_LEAKY_RELU) {
        nb__err(NB_ERR_ARG, "nb_activation_new: unknown activation %d", (int)kind);
        return NULL;
    }
    nb_module *m = mod_new(M_ACT, "nb_activation_new");
    if (m) m->act = kind;
    return m;
}

nb_module *nb_sequential_new(void) { return mod_new(M_SEQ, "nb_sequential_new"); }

void nb_module_free(nb_module *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        nb_module_free(m->child[i]);
        free(m->name[i]);
    }
    free(m->child);
    free(m->name);
    free(m);
}

nb_status nb_sequential_add(nb_module *seq, const char *name, nb_module *child) {
    nb_status st = NB_OK;
    if (!seq || seq->kind != M_SEQ) st = nb__err(NB_ERR_ARG, "nb_sequential_add: not a sequential");
    else if (!child) st = nb__err(NB_ERR_ARG, "nb_sequential_add: child '%s' is NULL", name ? name : "");
    else if (!name || !*name || strchr(name, '.') || strlen(name) > 48)
        st = nb__err(NB_ERR_ARG, "nb_sequential_add: name must be 1-48 characters without '.'");
    for (int i = 0; st == NB_OK && i < seq->n; i++)
        if (strcmp(seq->name[i], name) == 0)
            st = nb__err(NB_ERR_ARG, "nb_sequential_add: a child named '%s' already exists", name);
    if (st == NB_OK && seq->n == seq->cap) {
        int cap = seq->cap ? 2 * seq->cap : 8;
        nb_module **c = realloc(seq->child, (size_t)cap * sizeof *c);
        if (c) seq->child = c;
        char **nm = realloc(seq->name, (size_t)cap * sizeof *nm);
        if (nm) seq->name = nm;
        if (!c || !nm) st = nb__err(NB_ERR_MEM, "nb_sequential_add: out of memory");
        else seq->cap = cap;
    }
    char *copy = st == NB_OK ? malloc(strlen(name) + 1) : NULL;
    if (st == NB_OK && !copy) st = nb__err(NB_ERR_MEM, "nb_sequential_add: out of memory");
    if (st != NB_OK) {
        if (child != seq) nb_module_free(child);
        return st;
    }
    strcpy(copy, name);
    seq->child[seq->n] = child;
    seq->name[seq->n] = copy;
    seq->n++;
    return NB_OK;
}

/* ---- parameter creation and initialization ---------------------------------------------- */
static nb_tensor *add_param(nb_params *p, const char *prefix, const char *leaf, int ndim,
                            const int64_t *shape) {
    char name[256];
    snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", leaf);
    return nb_params_add(p, name, ndim, shape);
}

static void init_weight(nb_tensor *w, nb_tensor *b, nb_init init, double fan_in, double fan_out) {
    double bound;
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

static nb_status bind(nb_model *m, nb_module *mod, const char *prefix, nb_init init) {
    switch (mod->kind) {
    case M_LINEAR:
        mod->w = add_param(m->params, prefix, "weight", 2, (int64_t[]){mod->out, mod->in});
        if (!mod->w) return NB_ERR_MEM;
        if (mod->bias && !(mod->b = add_param(m->params, prefix, "bias", 1, (int64_t[]){mod->out})))
            return NB_ERR_MEM;
        init_weight(mod->w, mod->b, init, mod->in, mod->out);
        return NB_OK;
    case M_CONV2D: {
        int cin = mod->in / mod->co.groups;
        mod->w = add_param(m->params, prefix, "weight", 4, (int64_t[]){mod->out, cin, mod->k, mod->k});
        if (!mod->w) return NB_ERR_MEM;
        if (mod->bias && !(mod->b = add_param(m->params, prefix, "bias", 1, (int64_t[]){mod->out})))
            return NB_ERR_MEM;
        double kk = (double)mod->k * mod->k;
        init_weight(mod->w, mod->b, init, cin * kk, mod->out / mod->co.groups * kk);
        return NB_OK;
    }
    case M_BN1D:
    case M_BN2D: {
        int64_t c[1] = {mod->in};
        mod->w = add_param(m->params, prefix, "weight", 1, c);
        mod->b = mod->w ? add_param(m->params, prefix, "bias", 1, c) : NULL;
        mod->rm = mod->b ? add_param(m->buffers, prefix, "running_mean", 1, c) : NULL;
        mod->rv = mod->rm ? add_param(m->buffers, prefix, "running_var", 1, c) : NULL;
        if (!mod->rv) return NB_ERR_MEM;
        nb_tensor_fill(mod->w, 1);
        nb_tensor_fill(mod->b, 0);
        nb_tensor_fill(mod->rm, 0);
        nb_tensor_fill(mod->rv, 1);
        nb_tensor_set_requires_grad(mod->rm, false);
        nb_tensor_set_requires_grad(mod->rv, false);
        char **nm = realloc(m->counter_names, (size_t)(m->n_counters + 1) * sizeof *nm);
        if (!nm) return nb__err(NB_ERR_MEM, "nb_model_new: out of memory");
        m->counter_names = nm;
        int64_t *cv = realloc(m->counters, (size_t)(m->n_counters + 1) * sizeof *cv);
        if (!cv) return nb__err(NB_ERR_MEM, "nb_model_new: out of memory");
        m->counters = cv;
        char *name = malloc(strlen(prefix) + 32);
        if (!name) return nb__err(NB_ERR_MEM, "nb_model_new: out of memory");
        sprintf(name, "%s%snum_batches_tracked", prefix, *prefix ? "." : "");
        mod->counter = m->n_counters;
        m->counter_names[m->n_counters] = name;
        m->counters[m->n_counters++] = 0;
        return NB_OK;
    }
    case M_SEQ:
        for (int i = 0; i < mod->n; i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s%s%s", prefix, *prefix ? "." : "", mod->name[i]);
            nb_status st = bind(m, mod->child[i], sub, init);
            if (st) return st;
        }
        return NB_OK;
    default: return NB_OK;
    }
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
    nb_model *m = calloc(1, sizeof *m);
    if (!m) {
        nb__err(NB_ERR_MEM, "nb_model_new: out of memory");
        nb_module_free(root);
        return NULL;
    }
    m->root = root;
    m->training = true;
    m->params = nb_params_new();
    m->buffers = nb_params_new();
    if (!m->params || !m->buffers || bind(m, root, "", init) != NB_OK) {
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
    for (int i = 0; i < m->n_counters; i++) free(m->counter_names[i]);
    free(m->counter_names);
    free(m->counters);
    free(m);
}

void nb_model_set_training(nb_model *m, bool training) {
    if (m) m->training = training;
}
bool nb_model_training(const nb_model *m) { return m && m->training; }
nb_params *nb_model_params(nb_model *m) { return m ? m->params : NULL; }
nb_params *nb_model_buffers(nb_model *m) { return m ? m->buffers : NULL; }
int nb_model_counter_count(const nb_model *m) { return m ? m->n_counters : 0; }
const char *nb_model_counter_name(const nb_model *m, int i) {
    return m && i >= 0 && i < m->n_counters ? m->counter_names[i] : NULL;
}
int64_t *nb_model_counter(nb_model *m, int i) {
    return m && i >= 0 && i < m->n_counters ? &m->counters[i] : NULL;
}

/* ---- forward ------------------------------------------------------------------------------ */
static nb_tensor *fwd(nb_model *m, nb_module *mod, nb_tensor *x) {
    switch (mod->kind) {
    case M_LINEAR: {
        if (nb_tensor_ndim(x) != 2 || nb_tensor_size(x, 1) != mod->in) {
            nb__err(NB_ERR_SHAPE, "Linear(%d, %d): input %s, expected (N, %d)", mod->in, mod->out,
                    NB_SHAPE_STR(x), mod->in);
            return NULL;
        }
        nb_tensor *y = nb_matmul(x, nb_transpose(mod->w, 0, 1));
        return mod->b ? nb_add(y, mod->b) : y;
    }
    case M_CONV2D: return nb_conv2d(x, mod->w, mod->b, mod->co);
    case M_MAXPOOL: return nb_max_pool2d(x, mod->k, mod->stride, 0);
    case M_AVGPOOL: return nb_avg_pool2d(x, mod->k, mod->stride, 0);
    case M_BN1D:
    case M_BN2D: {
        int want = mod->kind == M_BN1D ? 2 : 4;
        if (nb_tensor_ndim(x) != want) {
            nb__err(NB_ERR_SHAPE, "BatchNorm%s(%d): input %s is not %d-d", want == 2 ? "1d" : "2d", mod->in,
                    NB_SHAPE_STR(x), want);
            return NULL;
        }
        nb_tensor *y = nb_batch_norm(x, mod->w, mod->b, mod->rm, mod->rv, m->training, mod->momentum,
                                     mod->eps);
        if (y && m->training) m->counters[mod->counter]++;
        return y;
    }
    case M_DROPOUT: return nb_dropout(x, mod->p, m->training);
    case M_FLATTEN: {
        int64_t s[2] = {nb_tensor_size(x, 0), -1};
        if (nb_tensor_ndim(x) < 1) {
            nb__err(NB_ERR_SHAPE, "Flatten: input is 0-d");
            return NULL;
        }
        if (s[0] == 0) s[1] = 0;
        return nb_reshape(nb_tensor_is_contiguous(x) ? x : nb_contiguous(x), 2, s);
    }
    case M_ACT:
        switch (mod->act) {
        case NB_ACT_RELU: return nb_relu(x);
        case NB_ACT_TANH: return nb_tanh(x);
        case NB_ACT_SIGMOID: return nb_sigmoid(x);
        case NB_ACT_GELU: return nb_gelu(x);
        case NB_ACT_LEAKY_RELU: return nb_leaky_relu(x, 0.01f);
        }
        return NULL;
    case M_SEQ:
        for (int i = 0; i < mod->n && x; i++) x = fwd(m, mod->child[i], x);
        return x;
    }
    return NULL;
}

nb_tensor *nb_model_forward(nb_model *m, nb_tensor *x) {
    if (!m || !x) {
        nb__err(NB_ERR_ARG, "nb_model_forward: %s is NULL", m ? "input" : "model");
        return NULL;
    }
    return fwd(m, m->root, x);
}

/* ---- summary ------------------------------------------------------------------------------ */
static const char *kind_name(const nb_module *mod, char *buf, size_t cap) {
    static const char *acts[] = {"ReLU", "Tanh", "Sigmoid", "GELU", "LeakyReLU"};
    switch (mod->kind) {
    case M_LINEAR: snprintf(buf, cap, "Linear(%d, %d)", mod->in, mod->out); break;
    case M_CONV2D:
        snprintf(buf, cap, "Conv2d(%d, %d, k=%d, s=%d, p=%d)", mod->in, mod->out, mod->k, mod->co.stride[0],
                 mod->co.padding[0]);
        break;
    case M_MAXPOOL: snprintf(buf, cap, "MaxPool2d(%d, %d)", mod->k, mod->stride); break;
    case M_AVGPOOL: snprintf(buf, cap, "AvgPool2d(%d, %d)", mod->k, mod->stride); break;
    case M_BN1D: snprintf(buf, cap, "BatchNorm1d(%d)", mod->in); break;
    case M_BN2D: snprintf(buf, cap, "BatchNorm2d(%d)", mod->in); break;
    case M_DROPOUT: snprintf(buf, cap, "Dropout(%g)", mod->p); break;
    case M_FLATTEN: snprintf(buf, cap, "Flatten"); break;
    case M_ACT: snprintf(buf, cap, "%s", acts[mod->act]); break;
    case M_SEQ: snprintf(buf, cap, "Sequential"); break;
    }
    return buf;
}

static int64_t mod_params(const nb_module *mod) {
    int64_t n = (mod->w ? nb_tensor_numel(mod->w) : 0) + (mod->b ? nb_tensor_numel(mod->b) : 0);
    for (int i = 0; i < mod->n; i++) n += mod_params(mod->child[i]);
    return n;
}

char *nb_model_summary(nb_model *m, int c, int h, int w) {
    if (!m || m->root->kind != M_SEQ) {
        nb__err(NB_ERR_ARG, "nb_model_summary: needs a model whose root is a sequential");
        return NULL;
    }
    size_t cap = 256 + (size_t)m->root->n * 128, len = 0;
    char *out = malloc(cap), kb[96];
    if (!out) return NULL;
    len += (size_t)snprintf(out + len, cap - len, "%-10s %-32s %-18s %10s\n", "layer", "type", "output",
                            "params");
    bool was = m->training;
    m->training = false;
    nb_no_grad_begin();
    nb_tensor *x = nb_tensor_new(4, (int64_t[]){1, c, h, w});
    nb_tensor *y = x;
    for (int i = 0; i < m->root->n && y; i++) {
        nb_module *mod = m->root->child[i];
        y = fwd(m, mod, y);
        len += (size_t)snprintf(out + len, cap - len, "%-10s %-32s %-18s %10lld\n", m->root->name[i],
                                kind_name(mod, kb, sizeof kb), y ? NB_SHAPE_STR(y) : "error",
                                (long long)mod_params(mod));
    }
    len += (size_t)snprintf(out + len, cap - len, "total parameters: %lld\n", (long long)mod_params(m->root));
    nb_no_grad_end();
    nb_tensor_free(x);
    nb_step_reset();
    m->training = was;
    return out;
}
