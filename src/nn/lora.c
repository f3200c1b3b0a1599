/* LoRA: low-rank adapters on a bound model's Linear layers (Hu et al. 2021, PEFT's LoraLayer).
 * A Linear becomes a "LoRALinear" in place (its ops and state are swapped, so containers that
 * hold the module keep working): y = x W^T + b + scaling * (x A^T) B^T, lora_A (r, in) and
 * lora_B (out, r) appended to the model's parameter slab next to the Linear's own names.
 * Also freezing the base, merging the adapters into W and counting parameters. */
#include "nn/nn_impl.h"

#include <math.h>

typedef struct lora {
    int in, out, r;
    bool bias, zero_bias;  /* zero_bias: the Linear's bias starts at 0 (attention's out_proj) */
    float alpha, scaling;  /* scaling = alpha / r */
    nb_tensor *w, *b;      /* (out, in), (out) or NULL: the Linear's */
    nb_tensor *a, *bm;     /* lora_A (r, in), lora_B (out, r) */
} lora;

/* PEFT's reset_lora_parameters: A kaiming_uniform(a=sqrt(5)) over fan_in = in, B zeros. */
static void init_adapter(lora *s) {
    nb_init_weight(s->a, NULL, NB_INIT_DEFAULT, s->in, s->r);
    nb_tensor_fill(s->bm, 0);
}

/* Declares lora_A and lora_B on a bound module (new slab entries, or the existing ones when
 * nb_model_reinit rebinds). */
static nb_status declare_adapter(nb_module *m, lora *s) {
    s->a = nb_module_param(m, "lora_A", 2, (int64_t[]){s->r, s->in});
    s->bm = s->a ? nb_module_param(m, "lora_B", 2, (int64_t[]){s->out, s->r}) : NULL;
    return s->bm ? NB_OK : NB_ERR_MEM;
}

/* nb_model_reinit only (a LoRA Linear is made from a bound Linear): the Linear's tensors as
 * linear.c initializes them, a fresh adapter. */
static nb_status lora_bind(nb_module *m, nb_init init) {
    lora *s = nb_module_state(m);
    s->w = nb_module_param(m, "weight", 2, (int64_t[]){s->out, s->in});
    if (!s->w) return NB_ERR_MEM;
    if (s->bias && !(s->b = nb_module_param(m, "bias", 1, (int64_t[]){s->out}))) return NB_ERR_MEM;
    nb_init_weight(s->w, s->zero_bias ? NULL : s->b, init, s->in, s->out);
    if (s->zero_bias && s->b) nb_tensor_fill(s->b, 0);
    nb_status st = declare_adapter(m, s);
    if (!st) init_adapter(s);
    return st;
}

static nb_tensor *lora_forward(nb_module *m, nb_tensor *x) {
    lora *s = nb_module_state(m);
    int nd = nb_tensor_ndim(x);
    if (nd < 1 || nb_tensor_size(x, -1) != s->in) {
        nb__err(NB_ERR_SHAPE, "LoRALinear(%d, %d, r=%d) '%s': input %s, expected (N, %d)", s->in, s->out, s->r,
                nb_module_path(m), NB_SHAPE_STR(x), s->in);
        return NULL;
    }
    nb_tensor *y = nb_linear(x, s->w, s->b);                   /* (N, ..., out) */
    nb_tensor *h = nb_linear(x, s->a, NULL);                   /* (N, ..., r) */
    if (!y || !h) return NULL;
    /* scaling on the narrow (N, ..., r) tensor: r multiplies per row instead of out */
    nb_tensor *d = nb_linear(nb_scale(h, s->scaling), s->bm, NULL); /* (N, ..., out) */
    return d ? nb_add(y, d) : NULL;
}

static void lora_describe(const nb_module *m, char *buf, size_t cap) {
    const lora *s = nb_module_state(m);
    snprintf(buf, cap, "LoRALinear(%d, %d%s, r=%d, alpha=%g)", s->in, s->out, s->bias ? "" : ", bias=False", s->r,
             (double)s->alpha);
}

static const nb_module_ops lora_ops = {
    .kind = "LoRALinear", .bind = lora_bind, .forward = lora_forward, .describe = lora_describe};

static bool is_lora(const nb_module *m) { return m->ops == &lora_ops; }

/* ---- nb_lora_apply ---------------------------------------------------------------------------- */
/* Visits m and its descendants, parents first, children in order (the slab's order). */
static void walk(nb_module *m, void (*fn)(nb_module *, void *), void *ctx) {
    fn(m, ctx);
    for (int i = 0; i < m->n; i++) walk(m->child[i], fn, ctx);
}

typedef struct scan {
    const char *prefix;   /* NULL: every module */
    nb_module *exact;     /* the module at the prefix */
    int modules, linears, loras;
    bool mark;            /* set `sel` for the plain Linears found */
    bool *sel;            /* indexed by the module's visit number */
    int visit;
} scan;

static void scan_cb(nb_module *m, void *c) {
    scan *x = c;
    int k = x->visit++;
    if (x->prefix && !nb__under(m->path, x->prefix)) return;
    if (x->prefix && strcmp(m->path, x->prefix) == 0) x->exact = m;
    x->modules++;
    int in, out;
    nb_tensor *w, *b;
    if (is_lora(m)) x->loras++;
    else if (nb__linear_get(m, &in, &out, &w, &b)) {
        x->linears++;
        if (x->mark) x->sel[k] = true;
    }
}

typedef struct apply_ctx {
    nb_model *m;
    bool *sel;
    int n_modules;
} apply_ctx;

/* One prefix of nb_lora_apply: must name a module holding a Linear, none with adapters. */
static nb_status check_prefix(void *c, const char *prefix) {
    apply_ctx *a = c;
    scan x = {.prefix = prefix, .mark = true, .sel = a->sel};
    walk(a->m->root, scan_cb, &x);
    if (!x.modules) return nb__err(NB_ERR_ARG, "nb_lora_apply: the model has no module named '%s'", prefix);
    if (x.loras)
        return nb__err(NB_ERR_STATE, "nb_lora_apply: '%s' already has LoRA adapters (%d LoRALinear)", prefix, x.loras);
    if (!x.linears) {
        char what[96] = "module";
        if (x.exact && x.exact->ops->describe) x.exact->ops->describe(x.exact, what, sizeof what);
        else if (x.exact) snprintf(what, sizeof what, "%s", x.exact->ops->kind);
        return nb__err(NB_ERR_ARG, "nb_lora_apply: '%s' (%s) holds no Linear (LoRA adapts Linear layers)", prefix,
                       what);
    }
    return NB_OK;
}

typedef struct convert_ctx {
    int r;
    float alpha;
    const bool *sel;
    int visit, done;
    nb_status st;
} convert_ctx;

static void convert_cb(nb_module *m, void *c) {
    convert_ctx *x = c;
    int k = x->visit++;
    if (x->st || !x->sel[k]) return;
    lora *s = calloc(1, sizeof *s);
    if (!s) {
        x->st = nb__err(NB_ERR_MEM, "nb_lora_apply: out of memory");
        return;
    }
    nb__linear_get(m, &s->in, &s->out, &s->w, &s->b);
    s->bias = s->b != NULL;
    s->zero_bias = nb__linear_has_zero_bias(m);
    s->r = x->r;
    s->alpha = x->alpha;
    s->scaling = x->alpha / (float)x->r;
    if ((x->st = declare_adapter(m, s))) {
        free(s);
        if (!*nb_last_error()) nb__err(NB_ERR_MEM, "nb_lora_apply: out of memory");
        return;
    }
    init_adapter(s);
    free(m->state); /* the Linear's state: plain memory (linear_ops has no free_state) */
    m->state = s;
    m->ops = &lora_ops;
    x->done++;
}

static void count_cb(nb_module *m, void *c) {
    (void)m;
    ++*(int *)c;
}

nb_status nb_lora_apply(nb_model *m, const char *prefixes, int r, float alpha, int *count) {
    if (count) *count = 0;
    if (!m) return nb__err(NB_ERR_ARG, "nb_lora_apply: model is NULL");
    if (r < 1 || r > (1 << 20)) return nb__err(NB_ERR_ARG, "nb_lora_apply: rank r must be 1..%d, got %d", 1 << 20, r);
    if (!(alpha > 0) || !isfinite(alpha))
        return nb__err(NB_ERR_ARG, "nb_lora_apply: alpha must be > 0 and finite, got %g", (double)alpha);
    apply_ctx a = {.m = m};
    walk(m->root, count_cb, &a.n_modules);
    a.sel = calloc((size_t)a.n_modules, sizeof *a.sel);
    if (!a.sel) return nb__err(NB_ERR_MEM, "nb_lora_apply: out of memory");
    nb_status st = NB_OK;
    if (prefixes && *prefixes) {
        st = nb__each_prefix(prefixes, "nb_lora_apply", check_prefix, &a);
    } else {
        scan x = {.mark = true, .sel = a.sel};
        walk(m->root, scan_cb, &x);
        if (x.loras)
            st = nb__err(NB_ERR_STATE, "nb_lora_apply: the model already has LoRA adapters (%d LoRALinear)", x.loras);
        else if (!x.linears) st = nb__err(NB_ERR_ARG, "nb_lora_apply: the model has no Linear layer");
    }
    if (!st) {
        convert_ctx c = {.r = r, .alpha = alpha, .sel = a.sel};
        walk(m->root, convert_cb, &c);
        st = c.st; /* only out of memory: the Linears converted so far keep their adapters */
        if (count) *count = c.done;
    }
    free(a.sel);
    return st;
}

/* ---- freezing, merging, counting ----------------------------------------------------------- */
bool nb_lora_is_adapter_name(const char *name) {
    if (!name) return false;
    size_t n = strlen(name);
    const char *leaf = n >= 7 && name[n - 7] == '.' ? name + n - 6 : (n == 6 ? name : NULL);
    return leaf && (strcmp(leaf, "lora_A") == 0 || strcmp(leaf, "lora_B") == 0);
}

static void count_lora_cb(nb_module *m, void *c) {
    if (is_lora(m)) ++*(int *)c;
}

static int adapters(nb_model *m) {
    int n = 0;
    if (m && m->root) walk(m->root, count_lora_cb, &n);
    return n;
}

nb_status nb_lora_freeze_base(nb_model *m, const char *trainable_prefixes, int *count) {
    if (count) *count = 0;
    if (!m) return nb__err(NB_ERR_ARG, "nb_lora_freeze_base: model is NULL");
    if (!adapters(m))
        return nb__err(NB_ERR_STATE, "nb_lora_freeze_base: the model has no LoRA adapters (nb_lora_apply)");
    int n = nb_params_count(m->params);
    bool *sel = NULL;
    if (trainable_prefixes && *trainable_prefixes) {
        nb_status st = nb__params_select(m->params, trainable_prefixes, "nb_lora_freeze_base", &sel, NULL);
        if (st) return st;
    }
    int trainable = 0;
    for (int i = 0; i < n; i++) {
        bool on = (sel && sel[i]) || nb_lora_is_adapter_name(nb_params_name(m->params, i));
        nb_tensor_set_requires_grad(nb_params_get(m->params, i), on);
        trainable += on;
    }
    free(sel);
    if (count) *count = trainable;
    return NB_OK;
}

/* W (out, in) += scaling * B (out, r) A (r, in), each element summed in double; then B = 0. */
static void merge_cb(nb_module *m, void *c) {
    if (!is_lora(m)) return;
    lora *s = nb_module_state(m);
    float *w = nb_tensor_data(s->w), *bm = nb_tensor_data(s->bm);
    const float *a = nb_tensor_data(s->a);
    const int64_t in = s->in, r = s->r;
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < s->out; o++)
        for (int64_t i = 0; i < in; i++) {
            double acc = 0;
            for (int64_t k = 0; k < r; k++) acc += (double)bm[o * r + k] * a[k * in + i];
            w[o * in + i] = (float)(w[o * in + i] + (double)s->scaling * acc);
        }
    nb_tensor_fill(s->bm, 0);
    ++*(int *)c;
}

nb_status nb_lora_merge(nb_model *m, int *count) {
    if (count) *count = 0;
    if (!m) return nb__err(NB_ERR_ARG, "nb_lora_merge: model is NULL");
    if (!adapters(m)) return nb__err(NB_ERR_STATE, "nb_lora_merge: the model has no LoRA adapters (nb_lora_apply)");
    int n = 0;
    walk(m->root, merge_cb, &n);
    if (count) *count = n;
    return NB_OK;
}

int64_t nb_model_param_count(const nb_model *m, bool trainable_only) {
    int64_t n = 0;
    for (int i = 0; m && i < nb_params_count(m->params); i++) {
        nb_tensor *t = nb_params_get(m->params, i);
        if (!trainable_only || nb_tensor_requires_grad(t)) n += nb_tensor_numel(t);
    }
    return n;
}
