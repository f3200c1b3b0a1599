/* Model checkpoints in safetensors files: tensors by state_dict name, the caller's metadata
 * stored without being read, the optimizer and RNG state as "_nabla.*" tensors. One file holds
 * one model, or several (a GAN's generator and discriminator) each under its name prefix.
 * Saving and the checks of the parts are here, loading in checkpoint_load.c. */
#include "checkpoint_impl.h"

#define FORMAT "nabla-checkpoint-2" /* 2: the optimizer's name and lr under "_nabla." keys */

/* ---- parts and their names ------------------------------------------------------------------ */
const char *nb__ckpt_name(char *buf, const char *pfx, const char *name) {
    if (!*pfx) return name;
    snprintf(buf, NB_CKPT_NAME_MAX, "%s.%s", pfx, name);
    return buf;
}

const char *nb__ckpt_key(char buf[NB_CKPT_KEY_MAX], const char *base, const char *pfx, const char *tail) {
    snprintf(buf, NB_CKPT_KEY_MAX, "%s%s%s%s%s", base, *pfx ? "." : "", pfx, tail ? "." : "", tail ? tail : "");
    return buf;
}

static bool prefix_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

/* Every full name of part p fits NB_CKPT_NAME_MAX (a deeply nested model under a long prefix). */
static nb_status names_fit(const char *fn, int i, const nb_checkpoint_part *p) {
    const char *pfx = nb__ckpt_prefix(p);
    if (!*pfx) return NB_OK;
    nb_params *sl[2] = {nb_model_params(p->model), nb_model_buffers(p->model)};
    size_t room = NB_CKPT_NAME_MAX - strlen(pfx) - 2;
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < nb_params_count(sl[s]); k++)
            if (strlen(nb_params_name(sl[s], k)) > room)
                return nb__err(NB_ERR_ARG, "%s: part %d: '%s.%.64s...' is over %d characters", fn, i, pfx,
                               nb_params_name(sl[s], k), NB_CKPT_NAME_MAX - 1);
    for (int k = 0; k < nb_model_counter_count(p->model); k++)
        if (strlen(nb_model_counter_name(p->model, k)) > room)
            return nb__err(NB_ERR_ARG, "%s: part %d: '%s.%.64s...' is over %d characters", fn, i, pfx,
                           nb_model_counter_name(p->model, k), NB_CKPT_NAME_MAX - 1);
    return NB_OK;
}

static nb_status check_prefix(const char *fn, int n, int i, const char *pfx) {
    size_t len = strlen(pfx);
    if (!len) {
        if (n > 1)
            return nb__err(NB_ERR_ARG, "%s: part %d has no prefix: with %d parts each needs one (no prefix is a "
                           "prefix of every name)", fn, i, n);
        return NB_OK;
    }
    if (len > NB_CKPT_PREFIX_MAX)
        return nb__err(NB_ERR_ARG, "%s: part %d: prefix '%.64s...' is over %d characters", fn, i, pfx,
                       NB_CKPT_PREFIX_MAX);
    for (size_t c = 0; c < len; c++)
        if (!prefix_char(pfx[c]))
            return nb__err(NB_ERR_ARG, "%s: part %d: prefix '%s' has the character 0x%02x at %zu (allowed: "
                           "A-Z a-z 0-9 _ . -)", fn, i, pfx, (unsigned)(unsigned char)pfx[c], c);
    if (pfx[0] == '.' || pfx[len - 1] == '.' || strstr(pfx, ".."))
        return nb__err(NB_ERR_ARG, "%s: part %d: prefix '%s' starts or ends with '.' or holds '..'", fn, i, pfx);
    return NB_OK;
}

nb_status nb__ckpt_check_parts(const char *fn, const char *path, int n, const nb_checkpoint_part *parts) {
    if (!path) return nb__err(NB_ERR_ARG, "%s: path is NULL", fn);
    if (n < 1 || n > NB_CKPT_MAX_PARTS)
        return nb__err(NB_ERR_ARG, "%s: %d parts, expected 1 to %d", fn, n, NB_CKPT_MAX_PARTS);
    if (!parts) return nb__err(NB_ERR_ARG, "%s: parts is NULL", fn);
    for (int i = 0; i < n; i++) {
        const char *pfx = nb__ckpt_prefix(&parts[i]);
        nb_status st = check_prefix(fn, n, i, pfx);
        if (st) return st;
        if (!parts[i].model) return nb__err(NB_ERR_ARG, "%s: part %d ('%s') has no model", fn, i, pfx);
        for (int j = 0; j < i; j++) {
            const char *q = nb__ckpt_prefix(&parts[j]);
            if (strcmp(pfx, q) == 0) return nb__err(NB_ERR_ARG, "%s: parts %d and %d have the same prefix '%s'", fn, j, i, pfx);
            bool under = nb__under(pfx, q); /* q is shorter, or pfx is (or neither) */
            if (under || nb__under(q, pfx))
                return nb__err(NB_ERR_ARG, "%s: prefix '%s' (part %d) is a dotted prefix of '%s' (part %d): their "
                               "names would mix", fn, under ? q : pfx, under ? j : i, under ? pfx : q, under ? i : j);
        }
        if ((st = names_fit(fn, i, &parts[i]))) return st;
    }
    return NB_OK;
}

/* ---- saving --------------------------------------------------------------------------------- */
nb_load_opts nb_load_defaults(void) { return (nb_load_opts){.strict = true, .skip = NULL}; }

/* plain: leave out LoRA adapters (nb_checkpoint_save_merged). */
static nb_status add_slab(nb_st_writer *w, const char *pfx, nb_params *p, bool plain) {
    char buf[NB_CKPT_NAME_MAX];
    for (int i = 0; i < nb_params_count(p); i++) {
        if (plain && nb_lora_is_adapter_name(nb_params_name(p, i))) continue;
        nb_tensor *t = nb_params_get(p, i);
        nb_status st = nb_st_add(w, nb__ckpt_name(buf, pfx, nb_params_name(p, i)), NB_ST_F32, nb_tensor_ndim(t),
                                 nb_tensor_shape(t), nb_tensor_data(t));
        if (st) return st;
    }
    return NB_OK;
}

/* A checkpoint is never written from non-finite state: the first NaN or infinity among the
 * parameters, buffers and optimizer state of part p is an error naming the tensor by its name
 * in the file (the old file stays). */
static nb_status check_finite(const char *fn, const char *path, const nb_checkpoint_part *p) {
    const char *pfx = nb__ckpt_prefix(p);
    char buf[NB_CKPT_NAME_MAX];
    nb_params *sl[2] = {nb_model_params(p->model), nb_model_buffers(p->model)};
    for (int s = 0; s < 2; s++) {
        int64_t at;
        int k = nb_params_nonfinite(sl[s], false, &at);
        if (k >= 0)
            return nb__err(NB_ERR_STATE, "%s: %s: not written: tensor '%s' is %g at element %lld", fn, path,
                           nb__ckpt_name(buf, pfx, nb_params_name(sl[s], k)),
                           (double)nb_tensor_data(nb_params_get(sl[s], k))[at], (long long)at);
    }
    const int64_t n = nb_params_numel(nb_model_params(p->model));
    for (int i = 0; p->optim && i < nb_optim_state_count(p->optim); i++) {
        const char *name;
        const float *x = nb_optim_state(p->optim, i, &name);
        int64_t at = nb__first_nonfinite(x, n);
        if (at >= 0)
            return nb__err(NB_ERR_STATE, "%s: %s: not written: tensor '%s' is %g at element %lld", fn, path,
                           nb__ckpt_key(buf, "_nabla.optim", pfx, name), (double)x[at], (long long)at);
    }
    return NB_OK;
}

/* The parts' optimizers: names and rates in the metadata, then every step count, the RNG
 * state once, then the state slabs (for one part without prefix the order of version 2). */
static nb_status add_optims(nb_st_writer *w, int np, const nb_checkpoint_part *parts) {
    char key[NB_CKPT_KEY_MAX];
    nb_status st = NB_OK;
    bool any = false;
    for (int i = 0; !st && i < np; i++) {
        nb_optim *opt = parts[i].optim;
        if (!opt) continue;
        const char *pfx = nb__ckpt_prefix(&parts[i]);
        int64_t steps = nb_optim_steps(opt);
        char lr[40];
        snprintf(lr, sizeof lr, "%.9g", (double)nb_optim_lr(opt));
        st = nb_st_meta(w, nb__ckpt_key(key, "_nabla.optimizer", pfx, NULL), nb_optim_name(opt));
        if (!st) st = nb_st_meta(w, nb__ckpt_key(key, "_nabla.lr", pfx, NULL), lr);
        if (!st) st = nb_st_add(w, nb__ckpt_key(key, "_nabla.optim", pfx, "steps"), NB_ST_I64, 0, NULL, &steps);
        any = true;
    }
    if (!st && any) {
        uint64_t rng[4];
        nb_rng_get_state(rng);
        st = nb_st_add(w, "_nabla.rng", NB_ST_I64, 1, (int64_t[]){4}, rng);
    }
    for (int i = 0; !st && i < np; i++) {
        nb_optim *opt = parts[i].optim;
        int64_t n = nb_params_numel(nb_model_params(parts[i].model));
        for (int k = 0; opt && !st && k < nb_optim_state_count(opt); k++) {
            const char *name;
            float *s = nb_optim_state(opt, k, &name);
            st = nb_st_add(w, nb__ckpt_key(key, "_nabla.optim", nb__ckpt_prefix(&parts[i]), name), NB_ST_F32, 1, &n, s);
        }
    }
    return st;
}

/* The one way a checkpoint is written; fn names the public function in errors; plain leaves
 * out the LoRA adapters. */
static nb_status save(const char *fn, const char *path, int n, const nb_checkpoint_part *parts, const nb_meta *meta,
                      bool plain) {
    nb_status st = nb__ckpt_check_parts(fn, path, n, parts);
    for (int i = 0; !st && i < n; i++) st = check_finite(fn, path, &parts[i]);
    if (st) return st;
    if (nb_meta_get(meta, "format")) return nb__err(NB_ERR_ARG, "%s: the metadata key 'format' is nabla's own", fn);
    nb_st_writer *w = nb_st_writer_new();
    if (!w) return NB_ERR_MEM;
    st = nb_st_meta(w, "format", FORMAT);
    for (int i = 0; !st && i < nb_meta_count(meta); i++) st = nb_st_meta(w, nb_meta_key(meta, i), nb_meta_value(meta, i));
    for (int i = 0; !st && i < n; i++) {
        nb_model *m = parts[i].model;
        const char *pfx = nb__ckpt_prefix(&parts[i]);
        char buf[NB_CKPT_NAME_MAX];
        st = add_slab(w, pfx, nb_model_params(m), plain);
        if (!st) st = add_slab(w, pfx, nb_model_buffers(m), plain);
        for (int k = 0; !st && k < nb_model_counter_count(m); k++)
            st = nb_st_add(w, nb__ckpt_name(buf, pfx, nb_model_counter_name(m, k)), NB_ST_I64, 0, NULL,
                           nb_model_counter(m, k));
    }
    if (!st) st = add_optims(w, n, parts);
    if (!st) st = nb_st_write(w, path);
    nb_st_writer_free(w);
    return st;
}

nb_status nb_checkpoint_save(const char *path, nb_model *m, nb_optim *opt, const nb_meta *meta) {
    if (!path || !m) return nb__err(NB_ERR_ARG, "nb_checkpoint_save: path and model are required");
    nb_checkpoint_part one = {.prefix = NULL, .model = m, .optim = opt};
    return save("nb_checkpoint_save", path, 1, &one, meta, false);
}

nb_status nb_checkpoint_save_parts(const char *path, int n, const nb_checkpoint_part *parts, const nb_meta *meta) {
    return save("nb_checkpoint_save_parts", path, n, parts, meta, false);
}

nb_status nb_checkpoint_save_merged(const char *path, nb_model *m, const nb_meta *meta) {
    if (!path || !m) return nb__err(NB_ERR_ARG, "nb_checkpoint_save_merged: path and model are required");
    nb_params *p = nb_model_params(m);
    for (int i = 0; i < nb_params_count(p); i++) {
        const char *name = nb_params_name(p, i);
        if (!nb_lora_is_adapter_name(name) || name[strlen(name) - 1] != 'B') continue;
        nb_tensor *t = nb_params_get(p, i);
        const float *x = nb_tensor_data(t);
        for (int64_t k = 0; k < nb_tensor_numel(t); k++)
            if (x[k] != 0)
                return nb__err(NB_ERR_STATE, "nb_checkpoint_save_merged: %s: not written: adapter '%s' is not merged "
                               "(element %lld is %g; call nb_lora_merge first)", path, name, (long long)k,
                               (double)x[k]);
    }
    nb_checkpoint_part one = {.prefix = NULL, .model = m, .optim = NULL};
    return save("nb_checkpoint_save_merged", path, 1, &one, meta, true);
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
