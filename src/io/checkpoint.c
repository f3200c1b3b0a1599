/* Model checkpoints in safetensors files: tensors by state_dict name, the caller's metadata
 * stored without being read, the optimizer and RNG state as "_nabla.*" tensors. Loading is by
 * name into a model built by code, strict or not, from nabla's files or PyTorch's. */
#include "internal.h"

#include "nabla/checkpoint.h"

#define FORMAT "nabla-checkpoint-2" /* 2: the optimizer's name and lr under "_nabla." keys */

nb_load_opts nb_load_defaults(void) { return (nb_load_opts){.strict = true, .skip = NULL}; }

static nb_status add_slab(nb_st_writer *w, nb_params *p) {
    for (int i = 0; i < nb_params_count(p); i++) {
        nb_tensor *t = nb_params_get(p, i);
        nb_status st = nb_st_add(w, nb_params_name(p, i), NB_ST_F32, nb_tensor_ndim(t), nb_tensor_shape(t),
                                 nb_tensor_data(t));
        if (st) return st;
    }
    return NB_OK;
}

static bool is_nabla_state(const char *name) { return strncmp(name, "_nabla.", 7) == 0; }

/* The tensor name of the optimizer's i-th state slab ("_nabla.optim.exp_avg") and the slab. */
static float *optim_slab(nb_optim *opt, int i, char key[96]) {
    const char *name;
    float *s = nb_optim_state(opt, i, &name);
    snprintf(key, 96, "_nabla.optim.%s", name);
    return s;
}

/* A checkpoint is never written from non-finite state: the first NaN or infinity among the
 * parameters, buffers and optimizer state is an error naming the tensor (the old file stays). */
static nb_status check_finite(const char *path, nb_model *m, nb_optim *opt) {
    nb_params *sl[2] = {nb_model_params(m), nb_model_buffers(m)};
    for (int s = 0; s < 2; s++) {
        int64_t at;
        int k = nb_params_nonfinite(sl[s], false, &at);
        if (k >= 0)
            return nb__err(NB_ERR_STATE, "nb_checkpoint_save: %s: not written: tensor '%s' is %g at element %lld",
                           path, nb_params_name(sl[s], k), (double)nb_tensor_data(nb_params_get(sl[s], k))[at],
                           (long long)at);
    }
    const int64_t n = nb_params_numel(nb_model_params(m));
    for (int i = 0; opt && i < nb_optim_state_count(opt); i++) {
        char key[96];
        const float *x = optim_slab(opt, i, key);
        int64_t at = nb__first_nonfinite(x, n);
        if (at >= 0)
            return nb__err(NB_ERR_STATE, "nb_checkpoint_save: %s: not written: tensor '%s' is %g at element %lld",
                           path, key, (double)x[at], (long long)at);
    }
    return NB_OK;
}

nb_status nb_checkpoint_save(const char *path, nb_model *m, nb_optim *opt, const nb_meta *meta) {
    if (!path || !m) return nb__err(NB_ERR_ARG, "nb_checkpoint_save: path and model are required");
    nb_status cf = check_finite(path, m, opt);
    if (cf) return cf;
    if (nb_meta_get(meta, "format"))
        return nb__err(NB_ERR_ARG, "nb_checkpoint_save: the metadata key 'format' is nabla's own");
    nb_st_writer *w = nb_st_writer_new();
    if (!w) return NB_ERR_MEM;
    nb_status st = nb_st_meta(w, "format", FORMAT);
    for (int i = 0; !st && i < nb_meta_count(meta); i++) st = nb_st_meta(w, nb_meta_key(meta, i), nb_meta_value(meta, i));
    if (!st) st = add_slab(w, nb_model_params(m));
    if (!st) st = add_slab(w, nb_model_buffers(m));
    for (int i = 0; !st && i < nb_model_counter_count(m); i++)
        st = nb_st_add(w, nb_model_counter_name(m, i), NB_ST_I64, 0, NULL, nb_model_counter(m, i));
    if (!st && opt) {
        int64_t n = nb_params_numel(nb_model_params(m)), steps = nb_optim_steps(opt);
        uint64_t rng[4];
        nb_rng_get_state(rng);
        char lr[40];
        snprintf(lr, sizeof lr, "%.9g", (double)nb_optim_lr(opt));
        st = nb_st_meta(w, "_nabla.optimizer", nb_optim_name(opt));
        if (!st) st = nb_st_meta(w, "_nabla.lr", lr);
        if (!st) st = nb_st_add(w, "_nabla.optim.steps", NB_ST_I64, 0, NULL, &steps);
        if (!st) st = nb_st_add(w, "_nabla.rng", NB_ST_I64, 1, (int64_t[]){4}, rng);
        for (int i = 0; !st && i < nb_optim_state_count(opt); i++) {
            char key[96];
            float *s = optim_slab(opt, i, key);
            st = nb_st_add(w, key, NB_ST_F32, 1, &n, s);
        }
    }
    if (!st) st = nb_st_write(w, path);
    nb_st_writer_free(w);
    return st;
}

nb_meta *nb_checkpoint_meta(const char *path) {
    if (!path) {
        nb__err(NB_ERR_ARG, "nb_checkpoint_meta: path is NULL");
        return NULL;
    }
    nb_st_reader *r = nb_st_open(path);
    if (!r) return NULL;
    nb_meta *m = nb_meta_new();
    for (int i = 0; m && i < nb_st_meta_count(r); i++) {
        const char *v, *k = nb_st_meta_at(r, i, &v);
        if (nb_meta_set(m, k, v)) {
            nb__err(NB_ERR_FORMAT, "%s: __metadata__ key '%.64s' cannot be kept: %s", path, k, nb_last_error());
            nb_meta_free(m);
            m = NULL;
        }
    }
    nb_st_close(r);
    return m;
}

/* ---- loading ------------------------------------------------------------------------------- */
typedef struct report {
    char *text;
    size_t len, cap;
} report;

static void note(report *r, const char *fmt, const char *name, const char *a, const char *b) {
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

/* One float tensor of the model: loaded, skipped, or (strict) an error. */
static nb_status load_float(const nb_st_reader *r, const char *path, const char *name, nb_tensor *t,
                            const nb_load_opts *o, report *rep) {
    if (o->skip && nb_name_matches(name, o->skip)) {
        note(rep, "skipped %s%s%s", name, "", "");
        return NB_OK;
    }
    const nb_st_tensor *f = nb_st_find(r, name);
    if (!f) {
        if (o->strict) return nb__err(NB_ERR_FORMAT, "%s: tensor '%s' of the model is not in the file", path, name);
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

static nb_status load_slab(const nb_st_reader *r, const char *path, nb_params *p, const nb_load_opts *o, report *rep) {
    for (int i = 0; i < nb_params_count(p); i++) {
        nb_status st = load_float(r, path, nb_params_name(p, i), nb_params_get(p, i), o, rep);
        if (st) return st;
    }
    return NB_OK;
}

static bool in_model(nb_model *m, const char *name) {
    if (nb_params_find(nb_model_params(m), name) || nb_params_find(nb_model_buffers(m), name)) return true;
    for (int j = 0; j < nb_model_counter_count(m); j++)
        if (strcmp(name, nb_model_counter_name(m, j)) == 0) return true;
    return false;
}

static nb_status load_optim(const nb_st_reader *r, const char *path, nb_model *m, nb_optim *opt, int64_t *steps,
                            int64_t rng[4]) {
    const char *oname = nb_st_meta_get(r, "_nabla.optimizer");
    if (!oname || strcmp(oname, nb_optim_name(opt)) != 0)
        return nb__err(NB_ERR_FORMAT, "%s: holds %s optimizer state, expected %s", path, oname ? oname : "no",
                       nb_optim_name(opt));
    int64_t np = nb_params_numel(nb_model_params(m));
    nb_status st = nb_st_read_into(r, "_nabla.optim.steps", NB_ST_I64, 0, NULL, steps);
    if (!st) st = nb_st_read_into(r, "_nabla.rng", NB_ST_I64, 1, (int64_t[]){4}, rng);
    for (int i = 0; !st && i < nb_optim_state_count(opt); i++) {
        char key[96];
        float *s = optim_slab(opt, i, key);
        st = nb_st_read_into(r, key, NB_ST_F32, 1, &np, s);
    }
    return st;
}

/* Copies of everything a load may change, so that a failure puts it all back. */
typedef struct backup {
    float *p, *b, *optim[8];
    int64_t *counters, steps;
    float lr;
} backup;

static float *dup_floats(const float *src, int64_t n) {
    float *d = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (d && n) memcpy(d, src, (size_t)n * sizeof(float));
    return d;
}

static bool take(backup *k, nb_model *m, nb_optim *opt) {
    nb_params *p = nb_model_params(m), *b = nb_model_buffers(m);
    int64_t np = nb_params_numel(p), nc = nb_model_counter_count(m);
    k->p = dup_floats(nb_params_data(p), np);
    k->b = dup_floats(nb_params_data(b), nb_params_numel(b));
    k->counters = malloc((size_t)(nc ? nc : 1) * sizeof(int64_t));
    bool ok = k->p && k->b && k->counters;
    for (int i = 0; ok && i < nc; i++) k->counters[i] = *nb_model_counter(m, i);
    for (int i = 0; ok && opt && i < nb_optim_state_count(opt) && i < 8; i++)
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
    for (int i = 0; opt && i < nb_optim_state_count(opt) && i < 8; i++)
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
    for (int i = 0; i < 8; i++) free(k->optim[i]);
}

nb_status nb_checkpoint_load(const char *path, nb_model *m, nb_optim *opt, const nb_load_opts *o0, char **rep_out) {
    if (rep_out) *rep_out = NULL;
    if (!path || !m) return nb__err(NB_ERR_ARG, "nb_checkpoint_load: path and model are required");
    nb_load_opts o = o0 ? *o0 : nb_load_defaults();
    nb_st_reader *r = nb_st_open(path);
    if (!r) return NB_ERR_FORMAT;
    backup k = {0};
    report rep = {0};
    nb_status st = take(&k, m, opt) ? NB_OK : nb__err(NB_ERR_MEM, "%s: out of memory", path);
    if (!st) st = load_slab(r, path, nb_model_params(m), &o, &rep);
    if (!st) st = load_slab(r, path, nb_model_buffers(m), &o, &rep);
    for (int i = 0; !st && i < nb_model_counter_count(m); i++) {
        const char *name = nb_model_counter_name(m, i);
        if (o.skip && nb_name_matches(name, o.skip)) continue;
        if (nb_st_find(r, name)) st = nb_st_read_into(r, name, NB_ST_I64, 0, NULL, nb_model_counter(m, i));
        else if (o.strict) st = nb__err(NB_ERR_FORMAT, "%s: tensor '%s' of the model is not in the file", path, name);
        else note(&rep, "missing %s%s%s", name, "", "");
    }
    for (int i = 0; !st && i < nb_st_count(r); i++) {
        const char *name = nb_st_get(r, i)->name;
        if (is_nabla_state(name) || in_model(m, name)) continue;
        if (o.skip && nb_name_matches(name, o.skip)) continue;
        if (o.strict) st = nb__err(NB_ERR_FORMAT, "%s: tensor '%s' is not a tensor of this model", path, name);
        else note(&rep, "unexpected %s%s%s", name, "", "");
    }
    int64_t steps = 0, rng[4];
    if (!st && opt) st = load_optim(r, path, m, opt, &steps, rng);
    if (!st && opt) {
        const char *lr = nb_st_meta_get(r, "_nabla.lr");
        nb_optim_set_steps(opt, steps);
        if (lr) nb_optim_set_lr(opt, strtof(lr, NULL));
        nb_rng_set_state((const uint64_t *)rng);
    }
    if (st && k.p) put_back(&k, m, opt);
    drop(&k);
    nb_st_close(r);
    if (!st && rep_out) *rep_out = rep.text;
    else free(rep.text);
    return st;
}
