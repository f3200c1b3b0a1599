/* Loading checkpoints by name into models built by code, strict or not, from nabla's files
 * (one model, or several parts under their prefixes) or PyTorch's; all or nothing. */
#include "checkpoint_impl.h"

typedef struct ckpt_report {
    char *text;
    size_t len, cap;
} ckpt_report;

static void note(ckpt_report *r, const char *fmt, const char *name, const char *a, const char *b) {
    char line[640];
    int n = snprintf(line, sizeof line, fmt, name, a, b);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = (int)sizeof line - 1;
    if (r->len + (size_t)n + 2 > r->cap) {
        size_t cap = r->cap ? 2 * r->cap + (size_t)n : 1024 + (size_t)n;
        char *t = realloc(r->text, cap);
        if (!t) return; /* the report is a courtesy: losing a line loses nothing loaded */
        r->text = t;
        r->cap = cap;
    }
    memcpy(r->text + r->len, line, (size_t)n);
    r->len += (size_t)n;
    r->text[r->len++] = '\n';
    r->text[r->len] = '\0';
}

static bool same_shape(const nb_st_tensor *f, int ndim, const int64_t *shape) {
    if (f->ndim != ndim) return false;
    for (int i = 0; i < ndim; i++)
        if (f->shape[i] != shape[i]) return false;
    return true;
}

/* Whether the file holds any LoRA adapter tensor: a file with none is a plain model's, which
 * loads strictly into a model with adapters (they keep their values). */
static bool file_has_adapters(const nb_st_reader *r) {
    for (int i = 0; i < nb_st_count(r); i++)
        if (nb_lora_is_adapter_name(nb_st_get(r, i)->name)) return true;
    return false;
}

/* One float tensor of the model: loaded, skipped, or (strict) an error. */
static nb_status load_float(const nb_st_reader *r, const char *path, const char *name, nb_tensor *t,
                            const nb_load_opts *o, ckpt_report *rep) {
    /* name: the tensor's name in the file (with the part's prefix) */
    if (o->skip && nb_name_matches(name, o->skip)) {
        note(rep, "skipped %s%s%s", name, "", "");
        return NB_OK;
    }
    const nb_st_tensor *f = nb_st_find(r, name);
    if (!f) {
        if (o->strict && !(nb_lora_is_adapter_name(name) && !file_has_adapters(r)))
            return nb__err(NB_ERR_FORMAT, "%s: tensor '%s' of the model is not in the file", path, name);
        note(rep, "missing %s%s%s", name, "", "");
        return NB_OK;
    }
    if (!same_shape(f, nb_tensor_ndim(t), nb_tensor_shape(t))) {
        char a[96], b[96];
        nb__shape_str(a, sizeof a, f->ndim, f->shape);
        nb__shape_str(b, sizeof b, nb_tensor_ndim(t), nb_tensor_shape(t));
        if (o->strict)
            return nb__err(NB_ERR_SHAPE, "%s: tensor '%s' has shape %s in the file, %s in the model", path, name, a, b);
        note(rep, "shape %s: file %s, model %s", name, a, b);
        return NB_OK;
    }
    return nb_st_read_f32(r, name, nb_tensor_ndim(t), nb_tensor_shape(t), nb_tensor_data(t));
}

/* Part p's tensors of slab s, named in the file under the part's prefix. */
static nb_status load_slab(const nb_st_reader *r, const char *path, const char *pfx, nb_params *p,
                           const nb_load_opts *o, ckpt_report *rep) {
    char buf[NB_CKPT_NAME_MAX];
    for (int i = 0; i < nb_params_count(p); i++) {
        nb_status st = load_float(r, path, nb__ckpt_name(buf, pfx, nb_params_name(p, i)), nb_params_get(p, i), o, rep);
        if (st) return st;
    }
    return NB_OK;
}

static nb_status load_counters(const nb_st_reader *r, const char *path, const char *pfx, nb_model *m,
                               const nb_load_opts *o, ckpt_report *rep) {
    char buf[NB_CKPT_NAME_MAX];
    nb_status st = NB_OK;
    for (int i = 0; !st && i < nb_model_counter_count(m); i++) {
        const char *name = nb__ckpt_name(buf, pfx, nb_model_counter_name(m, i));
        if (o->skip && nb_name_matches(name, o->skip)) continue;
        if (nb_st_find(r, name)) st = nb_st_read_into(r, name, NB_ST_I64, 0, NULL, nb_model_counter(m, i));
        else if (o->strict) st = nb__err(NB_ERR_FORMAT, "%s: tensor '%s' of the model is not in the file", path, name);
        else note(rep, "missing %s%s%s", name, "", "");
    }
    return st;
}

static bool in_model(nb_model *m, const char *name) {
    if (nb_params_find(nb_model_params(m), name) || nb_params_find(nb_model_buffers(m), name)) return true;
    for (int j = 0; j < nb_model_counter_count(m); j++)
        if (strcmp(name, nb_model_counter_name(m, j)) == 0) return true;
    return false;
}

/* Whether the file's tensor `name` is one of a part's ("<prefix>.<a name of its model>"). */
static bool in_parts(int n, const nb_checkpoint_part *parts, const char *name) {
    for (int i = 0; i < n; i++) {
        const char *pfx = nb__ckpt_prefix(&parts[i]);
        size_t len = strlen(pfx);
        if (!len ? in_model(parts[i].model, name)
                 : strncmp(name, pfx, len) == 0 && name[len] == '.' && in_model(parts[i].model, name + len + 1))
            return true;
    }
    return false;
}

/* Part p's optimizer state: its name must be the file's for the prefix; the slabs are read
 * into the optimizer (backed up), the step count into *steps. */
static nb_status load_optim(const nb_st_reader *r, const char *path, const nb_checkpoint_part *p, int64_t *steps) {
    const char *pfx = nb__ckpt_prefix(p);
    char key[NB_CKPT_KEY_MAX];
    const char *oname = nb_st_meta_get(r, nb__ckpt_key(key, "_nabla.optimizer", pfx, NULL));
    if (!oname || strcmp(oname, nb_optim_name(p->optim)) != 0) {
        if (!*pfx)
            return nb__err(NB_ERR_FORMAT, "%s: holds %s optimizer state, expected %s", path, oname ? oname : "no",
                           nb_optim_name(p->optim));
        return nb__err(NB_ERR_FORMAT, "%s: holds %s optimizer state for part '%s', expected %s", path,
                       oname ? oname : "no", pfx, nb_optim_name(p->optim));
    }
    int64_t np = nb_params_numel(nb_model_params(p->model));
    nb_status st = nb_st_read_into(r, nb__ckpt_key(key, "_nabla.optim", pfx, "steps"), NB_ST_I64, 0, NULL, steps);
    for (int i = 0; !st && i < nb_optim_state_count(p->optim); i++) {
        const char *name;
        float *s = nb_optim_state(p->optim, i, &name);
        st = nb_st_read_into(r, nb__ckpt_key(key, "_nabla.optim", pfx, name), NB_ST_F32, 1, &np, s);
    }
    return st;
}

/* Copies of everything a load may change in one part, so that a failure puts it all back. */
#define NB_CKPT_STATES 8 /* optimizer state slabs kept (Adam 2, RMSprop centered 3) */
typedef struct backup {
    float *p, *b, *optim[NB_CKPT_STATES];
    int64_t *counters, steps;
    float lr;
} backup;

static float *dup_floats(const float *src, int64_t n) {
    float *d = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (d && n) memcpy(d, src, (size_t)n * sizeof(float));
    return d;
}

/* False (out of memory) leaves k partly filled, for drop. */
static bool take(backup *k, nb_model *m, nb_optim *opt) {
    nb_params *p = nb_model_params(m), *b = nb_model_buffers(m);
    int64_t np = nb_params_numel(p), nc = nb_model_counter_count(m);
    k->p = dup_floats(nb_params_data(p), np);
    k->b = dup_floats(nb_params_data(b), nb_params_numel(b));
    k->counters = malloc((size_t)(nc ? nc : 1) * sizeof(int64_t));
    bool ok = k->p && k->b && k->counters;
    for (int i = 0; ok && i < nc; i++) k->counters[i] = *nb_model_counter(m, i);
    for (int i = 0; ok && opt && i < nb_optim_state_count(opt) && i < NB_CKPT_STATES; i++)
        ok = (k->optim[i] = dup_floats(nb_optim_state(opt, i, NULL), np)) != NULL;
    if (opt) {
        k->steps = nb_optim_steps(opt);
        k->lr = nb_optim_lr(opt);
    }
    return ok;
}

static void put_back(backup *k, nb_model *m, nb_optim *opt) {
    nb_params *p = nb_model_params(m), *b = nb_model_buffers(m);
    int64_t np = nb_params_numel(p), nbuf = nb_params_numel(b);
    if (np) memcpy(nb_params_data(p), k->p, (size_t)np * sizeof(float));
    if (nbuf) memcpy(nb_params_data(b), k->b, (size_t)nbuf * sizeof(float));
    for (int i = 0; i < nb_model_counter_count(m); i++) *nb_model_counter(m, i) = k->counters[i];
    for (int i = 0; opt && i < nb_optim_state_count(opt) && i < NB_CKPT_STATES; i++)
        if (np) memcpy(nb_optim_state(opt, i, NULL), k->optim[i], (size_t)np * sizeof(float));
    if (opt) {
        nb_optim_set_steps(opt, k->steps);
        nb_optim_set_lr(opt, k->lr);
    }
}

static void drop(backup *k) {
    free(k->p);
    free(k->b);
    free(k->counters);
    for (int i = 0; i < NB_CKPT_STATES; i++) free(k->optim[i]);
}

/* Every part's tensors, then the file's tensors that belong to none, then the optimizers. */
static nb_status load_all(const nb_st_reader *r, const char *path, int n, const nb_checkpoint_part *parts,
                          const nb_load_opts *o, ckpt_report *rep, int64_t steps[]) {
    nb_status st = NB_OK;
    for (int i = 0; !st && i < n; i++) {
        const char *pfx = nb__ckpt_prefix(&parts[i]);
        nb_model *m = parts[i].model;
        st = load_slab(r, path, pfx, nb_model_params(m), o, rep);
        if (!st) st = load_slab(r, path, pfx, nb_model_buffers(m), o, rep);
        if (!st) st = load_counters(r, path, pfx, m, o, rep);
    }
    for (int i = 0; !st && i < nb_st_count(r); i++) {
        const char *name = nb_st_get(r, i)->name;
        if (nb__ckpt_is_nabla_state(name) || in_parts(n, parts, name)) continue;
        if (o->skip && nb_name_matches(name, o->skip)) continue;
        if (!o->strict) note(rep, "unexpected %s%s%s", name, "", "");
        else if (n == 1 && !*nb__ckpt_prefix(&parts[0]))
            st = nb__err(NB_ERR_FORMAT, "%s: tensor '%s' is not a tensor of this model", path, name);
        else
            st = nb__err(NB_ERR_FORMAT, "%s: tensor '%s' belongs to no part (nb_load_opts.skip can leave it out)",
                         path, name);
    }
    for (int i = 0; !st && i < n; i++)
        if (parts[i].optim) st = load_optim(r, path, &parts[i], &steps[i]);
    return st;
}

static nb_status load(const char *fn, const char *path, int n, const nb_checkpoint_part *parts,
                      const nb_load_opts *o0, char **rep_out) {
    if (rep_out) *rep_out = NULL;
    nb_status st = nb__ckpt_check_parts(fn, path, n, parts);
    if (st) return st;
    nb_load_opts o = o0 ? *o0 : nb_load_defaults();
    nb_st_reader *r = nb_st_open(path);
    if (!r) return NB_ERR_FORMAT;
    backup k[NB_CKPT_MAX_PARTS] = {0};
    int taken = 0;
    while (!st && taken < n) {
        if (take(&k[taken], parts[taken].model, parts[taken].optim)) taken++;
        else st = nb__err(NB_ERR_MEM, "%s: out of memory", path);
    }
    ckpt_report rep = {0};
    int64_t steps[NB_CKPT_MAX_PARTS] = {0}, rng[4];
    bool any_optim = false;
    for (int i = 0; i < n; i++) any_optim |= parts[i].optim != NULL;
    if (!st) st = load_all(r, path, n, parts, &o, &rep, steps);
    if (!st && any_optim) st = nb_st_read_into(r, "_nabla.rng", NB_ST_I64, 1, (int64_t[]){4}, rng);
    if (!st) {
        for (int i = 0; i < n; i++) {
            if (!parts[i].optim) continue;
            char key[NB_CKPT_KEY_MAX];
            const char *lr = nb_st_meta_get(r, nb__ckpt_key(key, "_nabla.lr", nb__ckpt_prefix(&parts[i]), NULL));
            nb_optim_set_steps(parts[i].optim, steps[i]);
            if (lr) nb_optim_set_lr(parts[i].optim, strtof(lr, NULL));
        }
        if (any_optim) nb_rng_set_state((const uint64_t *)rng);
    } else {
        for (int i = taken - 1; i >= 0; i--) put_back(&k[i], parts[i].model, parts[i].optim);
    }
    for (int i = 0; i < n; i++) drop(&k[i]);
    nb_st_close(r);
    if (!st && rep_out) *rep_out = rep.text;
    else free(rep.text);
    return st;
}

nb_status nb_checkpoint_load(const char *path, nb_model *m, nb_optim *opt, const nb_load_opts *o, char **rep_out) {
    if (rep_out) *rep_out = NULL;
    if (!path || !m) return nb__err(NB_ERR_ARG, "nb_checkpoint_load: path and model are required");
    nb_checkpoint_part one = {.prefix = NULL, .model = m, .optim = opt};
    return load("nb_checkpoint_load", path, 1, &one, o, rep_out);
}

nb_status nb_checkpoint_load_parts(const char *path, int n, const nb_checkpoint_part *parts, const nb_load_opts *o,
                                   char **report) {
    return load("nb_checkpoint_load_parts", path, n, parts, o, report);
}
