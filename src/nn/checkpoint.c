/* Checkpoints: a model's parameters, buffers and counters under PyTorch's state_dict names in
 * a safetensors file; the run's description in __metadata__; the optimizer and RNG state as
 * extra tensors named "_nabla.*" (so a strict PyTorch load_state_dict of a checkpoint needs
 * them filtered out; model.safetensors files written without an optimizer have none). */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>

#define FORMAT "nabla-checkpoint-1"

static nb_status add_slab(nb_st_writer *w, nb_params *p) {
    for (int i = 0; i < nb_params_count(p); i++) {
        nb_tensor *t = nb_params_get(p, i);
        nb_status st = nb_st_add(w, nb_params_name(p, i), NB_ST_F32, nb_tensor_ndim(t), nb_tensor_shape(t),
                                 nb_tensor_data(t));
        if (st) return st;
    }
    return NB_OK;
}

static nb_status meta_int(nb_st_writer *w, const char *k, long long v) {
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    return nb_st_meta(w, k, b);
}
static nb_status meta_float(nb_st_writer *w, const char *k, double v) {
    char b[40];
    snprintf(b, sizeof b, "%.9g", v);
    return nb_st_meta(w, k, b);
}

nb_status nb_checkpoint_save(const char *path, nb_model *m, nb_optim *opt, const nb_ckpt_info *info) {
    if (!path || !m || !info) return nb__err(NB_ERR_ARG, "nb_checkpoint_save: path, model and info are required");
    nb_st_writer *w = nb_st_writer_new();
    if (!w) return NB_ERR_MEM;
    nb_status st = add_slab(w, nb_model_params(m));
    if (!st) st = add_slab(w, nb_model_buffers(m));
    for (int i = 0; !st && i < nb_model_counter_count(m); i++)
        st = nb_st_add(w, nb_model_counter_name(m, i), NB_ST_I64, 0, NULL, nb_model_counter(m, i));
    char shape[64];
    snprintf(shape, sizeof shape, "%dx%dx%d", info->c, info->h, info->w);
    if (!st) st = nb_st_meta(w, "format", FORMAT);
    if (!st) st = nb_st_meta(w, "model", info->model);
    if (!st) st = nb_st_meta(w, "input", shape);
    if (!st) st = meta_int(w, "classes", info->classes);
    if (!st) st = nb_st_meta(w, "dataset", info->dataset);
    if (!st) st = meta_int(w, "epoch", (long long)info->epoch);
    if (!st) st = meta_int(w, "seed", (long long)info->seed);
    if (!st) st = meta_int(w, "batch", (long long)info->batch);
    if (!st) st = meta_float(w, "mean", info->mean);
    if (!st) st = meta_float(w, "std", info->std);
    if (!st && info->schedule[0]) st = nb_st_meta(w, "schedule", info->schedule);
    if (!st) st = meta_float(w, "base_lr", info->base_lr);
    if (!st) st = meta_float(w, "clip", info->clip);
    if (!st) st = meta_int(w, "warmup", (long long)info->warmup);
    if (!st) st = meta_int(w, "epochs", (long long)info->epochs);
    if (!st) st = meta_int(w, "limit_train", (long long)info->limit_train);
    if (!st) st = meta_int(w, "limit_test", (long long)info->limit_test);
    if (!st) st = meta_int(w, "train_samples", (long long)info->train_samples);
    if (!st) st = meta_int(w, "threads", (long long)info->threads);
    if (!st && opt) {
        int64_t n = nb_params_numel(nb_model_params(m)), steps = nb_optim_steps(opt);
        uint64_t rng[4];
        nb_rng_get_state(rng);
        st = nb_st_meta(w, "optimizer", nb_optim_name(opt));
        if (!st) st = meta_float(w, "lr", nb_optim_lr(opt));
        if (!st) st = nb_st_add(w, "_nabla.optim.steps", NB_ST_I64, 0, NULL, &steps);
        if (!st) st = nb_st_add(w, "_nabla.rng", NB_ST_I64, 1, (int64_t[]){4}, rng);
        for (int i = 0; !st && i < nb_optim_state_count(opt); i++) {
            const char *name;
            float *s = nb_optim_state(opt, i, &name);
            char key[96];
            snprintf(key, sizeof key, "_nabla.optim.%s", name);
            st = nb_st_add(w, key, NB_ST_F32, 1, &n, s);
        }
    }
    if (!st) st = nb_st_write(w, path);
    nb_st_writer_free(w);
    return st;
}

static nb_status need(const nb_st_reader *r, const char *path, const char *key, const char **out) {
    *out = nb_st_meta_get(r, key);
    if (!*out) return nb__err(NB_ERR_FORMAT, "%s: not a nabla checkpoint (no '%s' in __metadata__)", path, key);
    return NB_OK;
}

/* Strictly parsed metadata values: the whole string must be the number, within [lo, hi]. */
static nb_status meta_i64(const nb_st_reader *r, const char *path, const char *key, long long lo,
                          long long hi, bool required, int64_t *out) {
    const char *v = nb_st_meta_get(r, key);
    if (!v) return required ? nb__err(NB_ERR_FORMAT, "%s: not a nabla checkpoint (no '%s' in __metadata__)",
                                      path, key) : NB_OK;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return nb__err(NB_ERR_FORMAT, "%s: __metadata__ '%s' is '%s', not an integer in %lld..%lld", path, key,
                       v, lo, hi);
    *out = x;
    return NB_OK;
}

static nb_status meta_f32(const nb_st_reader *r, const char *path, const char *key, double lo, double hi,
                          float *out) {
    const char *v = nb_st_meta_get(r, key);
    if (!v) return NB_OK;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi))
        return nb__err(NB_ERR_FORMAT, "%s: __metadata__ '%s' is '%s', not a number in %g..%g", path, key, v, lo,
                       hi);
    *out = (float)x;
    return NB_OK;
}

static nb_status meta_name(const nb_st_reader *r, const char *path, const char *key, const char *const *ok,
                           char *out, size_t cap) {
    const char *v = nb_st_meta_get(r, key);
    if (!v) return NB_OK;
    for (int i = 0; ok[i]; i++)
        if (strcmp(v, ok[i]) == 0) {
            snprintf(out, cap, "%s", v);
            return NB_OK;
        }
    return nb__err(NB_ERR_FORMAT, "%s: __metadata__ '%s' is '%s', which nabla does not know", path, key, v);
}

static nb_status parse_info(const nb_st_reader *r, const char *path, nb_ckpt_info *info) {
    static const char *const scheds[] = {"constant", "step", "cosine", NULL};
    static const char *const optims[] = {"sgd", "adam", "adamw", "rmsprop", NULL};
    static const char *const datasets[] = {"mnist", "fashion-mnist", "", NULL};
    const char *v;
    memset(info, 0, sizeof *info);
    info->std = 1.0f;
    nb_status st = need(r, path, "format", &v);
    if (st) return st;
    if (strcmp(v, FORMAT) != 0)
        return nb__err(NB_ERR_FORMAT, "%s: format '%s' is not %s", path, v, FORMAT);
    if ((st = meta_name(r, path, "model", nb_zoo_names(), info->model, sizeof info->model))) return st;
    if (!info->model[0]) return need(r, path, "model", &v);
    if ((st = need(r, path, "input", &v))) return st;
    char tail;
    if (sscanf(v, "%4dx%4dx%4d%c", &info->c, &info->h, &info->w, &tail) != 3 || info->c < 1 || info->c > 64 ||
        info->h < 1 || info->h > 1024 || info->w < 1 || info->w > 1024 ||
        (int64_t)info->c * info->h * info->w > (1 << 20))
        return nb__err(NB_ERR_FORMAT, "%s: __metadata__ 'input' is '%s', not CxHxW with C <= 64, H, W <= 1024 "
                       "and at most 2^20 values", path, v);
    int64_t x = 0;
    if ((st = meta_i64(r, path, "classes", 2, 100000, true, &x))) return st;
    info->classes = (int)x;
    if ((st = meta_name(r, path, "dataset", datasets, info->dataset, sizeof info->dataset))) return st;
    if ((st = meta_i64(r, path, "epoch", 0, 1000000, false, &info->epoch))) return st;
    if ((st = meta_i64(r, path, "seed", 0, INT64_MAX, false, &x))) return st;
    info->seed = (uint64_t)x;
    if ((st = meta_i64(r, path, "batch", 1, 1 << 20, false, &info->batch))) return st;
    if ((st = meta_f32(r, path, "mean", -1e6, 1e6, &info->mean))) return st;
    if ((st = meta_f32(r, path, "std", 1e-6, 1e6, &info->std))) return st;
    if ((st = meta_name(r, path, "optimizer", optims, info->optimizer, sizeof info->optimizer))) return st;
    if ((st = meta_name(r, path, "schedule", scheds, info->schedule, sizeof info->schedule))) return st;
    if ((st = meta_f32(r, path, "base_lr", 0, 1e6, &info->base_lr))) return st;
    if ((st = meta_f32(r, path, "clip", 0, 1e30, &info->clip))) return st;
    if ((st = meta_i64(r, path, "epochs", 0, 1000000, false, &info->epochs))) return st;
    if ((st = meta_i64(r, path, "warmup", 0, info->epochs, false, &info->warmup))) return st;
    if ((st = meta_i64(r, path, "limit_train", 0, INT64_MAX, false, &info->limit_train))) return st;
    if ((st = meta_i64(r, path, "limit_test", 0, INT64_MAX, false, &info->limit_test))) return st;
    if ((st = meta_i64(r, path, "train_samples", 0, INT64_MAX, false, &info->train_samples))) return st;
    if ((st = meta_i64(r, path, "threads", 0, 4096, false, &x))) return st;
    info->threads = (int)x;
    return NB_OK;
}

nb_status nb_checkpoint_info(const char *path, nb_ckpt_info *info) {
    if (!path || !info) return nb__err(NB_ERR_ARG, "nb_checkpoint_info: path and info are required");
    nb_st_reader *r = nb_st_open(path);
    if (!r) return NB_ERR_FORMAT;
    nb_status st = parse_info(r, path, info);
    nb_st_close(r);
    return st;
}

static nb_status read_slab(const nb_st_reader *r, nb_params *p) {
    for (int i = 0; i < nb_params_count(p); i++) {
        nb_tensor *t = nb_params_get(p, i);
        nb_status st = nb_st_read_into(r, nb_params_name(p, i), NB_ST_F32, nb_tensor_ndim(t),
                                       nb_tensor_shape(t), nb_tensor_data(t));
        if (st) return st;
    }
    return NB_OK;
}

nb_status nb_checkpoint_load(const char *path, nb_model *m, nb_optim *opt) {
    if (!path || !m) return nb__err(NB_ERR_ARG, "nb_checkpoint_load: path and model are required");
    nb_st_reader *r = nb_st_open(path);
    if (!r) return NB_ERR_FORMAT;
    nb_ckpt_info info;
    nb_status st = parse_info(r, path, &info);
    /* Read into copies first so a failure half-way leaves the model as it was. */
    nb_params *p = nb_model_params(m), *b = nb_model_buffers(m);
    int64_t np = nb_params_numel(p), nbuf = nb_params_numel(b);
    float *save_p = malloc((size_t)(np ? np : 1) * sizeof(float));
    float *save_b = malloc((size_t)(nbuf ? nbuf : 1) * sizeof(float));
    if (!st && (!save_p || !save_b)) st = nb__err(NB_ERR_MEM, "%s: out of memory", path);
    if (!st) {
        memcpy(save_p, nb_params_data(p), (size_t)np * sizeof(float));
        if (nbuf) memcpy(save_b, nb_params_data(b), (size_t)nbuf * sizeof(float));
        st = read_slab(r, p);
        if (!st) st = read_slab(r, b);
        int nc = nb_model_counter_count(m);
        int64_t *cnt = calloc((size_t)nc + 1, sizeof *cnt);
        if (!cnt && !st) st = nb__err(NB_ERR_MEM, "%s: out of memory", path);
        for (int i = 0; !st && i < nc; i++)
            st = nb_st_read_into(r, nb_model_counter_name(m, i), NB_ST_I64, 0, NULL, &cnt[i]);
        /* Every tensor in the file must belong to the model (or be nabla's own state). */
        for (int i = 0; !st && i < nb_st_count(r); i++) {
            const char *name = nb_st_get(r, i)->name;
            bool known = strncmp(name, "_nabla.optim.", 13) == 0 || strcmp(name, "_nabla.rng") == 0 ||
                         nb_params_find(p, name) || nb_params_find(b, name);
            for (int j = 0; !known && j < nc; j++) known = strcmp(name, nb_model_counter_name(m, j)) == 0;
            if (!known)
                st = nb__err(NB_ERR_FORMAT, "%s: tensor '%s' is not a parameter of this model (%s)", path, name,
                             info.model);
        }
        int64_t steps = 0;
        int64_t rng[4];
        const char *oname = nb_st_meta_get(r, "optimizer");
        if (!st && opt) {
            if (!oname || strcmp(oname, nb_optim_name(opt)) != 0)
                st = nb__err(NB_ERR_FORMAT, "%s: holds %s optimizer state, expected %s", path,
                             oname ? oname : "no", nb_optim_name(opt));
            if (!st) st = nb_st_read_into(r, "_nabla.optim.steps", NB_ST_I64, 0, NULL, &steps);
            if (!st) st = nb_st_read_into(r, "_nabla.rng", NB_ST_I64, 1, (int64_t[]){4}, rng);
            for (int i = 0; !st && i < nb_optim_state_count(opt); i++) {
                const char *name;
                float *s = nb_optim_state(opt, i, &name);
                char key[96];
                snprintf(key, sizeof key, "_nabla.optim.%s", name);
                st = nb_st_read_into(r, key, NB_ST_F32, 1, &np, s);
            }
        }
        if (!st) {
            for (int i = 0; i < nc; i++) *nb_model_counter(m, i) = cnt[i];
            if (opt) {
                const char *lr = nb_st_meta_get(r, "lr");
                nb_optim_set_steps(opt, steps);
                if (lr) nb_optim_set_lr(opt, strtof(lr, NULL));
                nb_rng_set_state((const uint64_t *)rng);
            }
        } else {
            memcpy(nb_params_data(p), save_p, (size_t)np * sizeof(float));
            if (nbuf) memcpy(nb_params_data(b), save_b, (size_t)nbuf * sizeof(float));
        }
        free(cnt);
    }
    free(save_p);
    free(save_b);
    nb_st_close(r);
    return st;
}
