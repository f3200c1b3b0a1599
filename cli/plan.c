/* The command line's run plan, stored in a checkpoint's metadata (which the library carries
 * without reading) and parsed back strictly: every value is checked, and the error names
 * the file and the key. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const cli_optimizers[] = {"adam", "adamw", "sgd", "rmsprop", NULL};
const char *const cli_schedules[] = {"constant", "step", "cosine", NULL};

nb_status cli_plan_to_meta(const cli_plan *p, nb_meta *m) {
    nb_status st = nb_meta_set(m, "model", p->model);
    bool text = nb_zoo_input_kind(p->model) == NB_ZOO_TOKENS;
    if (!st && !text) st = nb_meta_setf(m, "input", "%dx%dx%d", p->c, p->h, p->w);
    if (!st && text) st = nb_meta_setf(m, "max_tokens", "%lld", (long long)p->max_tokens);
    if (!st && p->class_names[0]) st = nb_meta_set(m, "class_names", p->class_names);
    if (!st) st = nb_meta_setf(m, "classes", "%d", p->classes);
    if (!st) st = nb_meta_set(m, "dataset", p->dataset);
    if (!st) st = nb_meta_setf(m, "epoch", "%lld", (long long)p->epoch);
    if (!st) st = nb_meta_setf(m, "seed", "%llu", (unsigned long long)p->seed);
    if (!st) st = nb_meta_setf(m, "batch", "%lld", (long long)p->batch);
    if (!st) st = nb_meta_setf(m, "mean", "%.9g", (double)p->mean);
    if (!st) st = nb_meta_setf(m, "std", "%.9g", (double)p->std);
    if (!st && p->schedule[0]) st = nb_meta_set(m, "schedule", p->schedule);
    if (!st && p->optimizer[0]) st = nb_meta_set(m, "optimizer", p->optimizer);
    if (!st) st = nb_meta_setf(m, "base_lr", "%.9g", (double)p->base_lr);
    if (!st) st = nb_meta_setf(m, "clip", "%.9g", (double)p->clip);
    if (!st) st = nb_meta_setf(m, "warmup", "%lld", (long long)p->warmup);
    if (!st) st = nb_meta_setf(m, "epochs", "%lld", (long long)p->epochs);
    if (!st) st = nb_meta_setf(m, "limit_train", "%lld", (long long)p->limit_train);
    if (!st) st = nb_meta_setf(m, "limit_test", "%lld", (long long)p->limit_test);
    if (!st) st = nb_meta_setf(m, "train_samples", "%lld", (long long)p->train_samples);
    if (!st) st = nb_meta_setf(m, "threads", "%d", p->threads);
    if (!st && p->freeze[0]) st = nb_meta_set(m, "freeze", p->freeze);
    if (!st && p->latent > 0) st = nb_meta_setf(m, "latent", "%d", p->latent);
    if (!st && p->noise > 0) st = nb_meta_setf(m, "noise", "%.9g", (double)p->noise);
    if (!st && p->z_dim > 0) st = nb_meta_setf(m, "z_dim", "%d", p->z_dim);
    if (!st && p->processes > 1) st = nb_meta_setf(m, "processes", "%d", p->processes);
    if (!st && p->lora > 0) st = nb_meta_setf(m, "lora", "%d", p->lora);
    if (!st && p->lora > 0) st = nb_meta_setf(m, "lora_alpha", "%.9g", (double)p->lora_alpha);
    if (!st && p->word_dropout > 0) st = nb_meta_setf(m, "word_dropout", "%.9g", (double)p->word_dropout);
    return st;
}

static int need(const nb_meta *m, const char *path, const char *key, const char **out) {
    *out = nb_meta_get(m, key);
    if (!*out) return cli_fail("%s: not a nabla training checkpoint (no '%s' in __metadata__)", path, key);
    return 0;
}

/* Strictly parsed integers: the whole string must be the number, within [lo, hi]. */
static int meta_i64(const nb_meta *m, const char *path, const char *key, long long lo, long long hi, bool required,
                    int64_t *out) {
    const char *v = nb_meta_get(m, key);
    if (!v) return required ? need(m, path, key, &v) : 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return cli_fail("%s: __metadata__ '%s' is '%.40s', not an integer in %lld..%lld", path, key, v, lo, hi);
    *out = x;
    return 0;
}

static int meta_u64(const nb_meta *m, const char *path, const char *key, uint64_t *out) {
    const char *v = nb_meta_get(m, key);
    if (!v) return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || strchr(v, '-'))
        return cli_fail("%s: __metadata__ '%s' is '%.40s', not an unsigned integer", path, key, v);
    *out = x;
    return 0;
}

static int meta_f32(const nb_meta *m, const char *path, const char *key, double lo, double hi, float *out) {
    const char *v = nb_meta_get(m, key);
    if (!v) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi))
        return cli_fail("%s: __metadata__ '%s' is '%.40s', not a number in %g..%g", path, key, v, lo, hi);
    *out = (float)x;
    return 0;
}

static int meta_name(const nb_meta *m, const char *path, const char *key, const char *const *ok, char *out,
                     size_t cap) {
    const char *v = nb_meta_get(m, key);
    if (!v) return 0;
    for (int i = 0; ok[i]; i++)
        if (strcmp(v, ok[i]) == 0) {
            snprintf(out, cap, "%s", v);
            return 0;
        }
    return cli_fail("%s: __metadata__ '%s' is '%.40s', which nabla does not know", path, key, v);
}

bool cli_is_nabla_checkpoint(const nb_meta *m) {
    const char *f = nb_meta_get(m, "format");
    return f && strncmp(f, "nabla-checkpoint-", 17) == 0;
}

int cli_plan_from_meta(const nb_meta *m, const char *path, cli_plan *p) {
    static const char *const datasets[] = {"mnist", "fashion-mnist", "spam", "langid", "moby-dick", "sotu",
                                           "sotu,moby-dick", "", NULL};
    const char *v;
    memset(p, 0, sizeof *p);
    p->std = 1.0f;
    if (!cli_is_nabla_checkpoint(m)) {
        const char *f = nb_meta_get(m, "format");
        return cli_fail("%s: format '%s' is not a nabla checkpoint; for PyTorch weights name the model and the data "
                        "(--model NAME --data NAME)", path, f ? f : "(none)");
    }
    if (meta_name(m, path, "model", nb_zoo_names(), p->model, sizeof p->model)) return 1;
    if (!p->model[0]) return need(m, path, "model", &v);
    if (nb_zoo_input_kind(p->model) == NB_ZOO_TOKENS) {
        /* a text model: its vocabulary and its tokens per sample instead of an image shape */
        if (need(m, path, "vocab", &v) || meta_i64(m, path, "max_tokens", 1, 1 << 20, true, &p->max_tokens)) return 1;
        p->c = p->h = p->w = 1;
    } else {
        if (need(m, path, "input", &v)) return 1;
        char tail;
        if (sscanf(v, "%4dx%4dx%4d%c", &p->c, &p->h, &p->w, &tail) != 3 || p->c < 1 || p->c > 64 || p->h < 1 ||
            p->h > 1024 || p->w < 1 || p->w > 1024 || (int64_t)p->c * p->h * p->w > (1 << 20))
            return cli_fail("%s: __metadata__ 'input' is '%.40s', not CxHxW with C <= 64, H, W <= 1024 and at most "
                            "2^20 values", path, v);
    }
    v = nb_meta_get(m, "class_names");
    if (v && strlen(v) >= sizeof p->class_names)
        return cli_fail("%s: __metadata__ 'class_names' is longer than %zu characters", path, sizeof p->class_names - 1);
    if (v) snprintf(p->class_names, sizeof p->class_names, "%s", v);
    int64_t x = 0;
    if (meta_i64(m, path, "classes", 2, 100000, true, &x)) return 1;
    p->classes = (int)x;
    if (meta_name(m, path, "dataset", datasets, p->dataset, sizeof p->dataset)) return 1;
    if (meta_i64(m, path, "epoch", 0, CLI_MAX_EPOCHS, false, &p->epoch)) return 1;
    if (meta_u64(m, path, "seed", &p->seed)) return 1;
    if (meta_i64(m, path, "batch", 1, 1 << 20, false, &p->batch)) return 1;
    if (meta_f32(m, path, "mean", -1e6, 1e6, &p->mean)) return 1;
    if (meta_f32(m, path, "std", 1e-6, 1e6, &p->std)) return 1;
    if (meta_name(m, path, "optimizer", cli_optimizers, p->optimizer, sizeof p->optimizer)) return 1;
    if (meta_name(m, path, "schedule", cli_schedules, p->schedule, sizeof p->schedule)) return 1;
    if (meta_f32(m, path, "base_lr", 0, 1e6, &p->base_lr)) return 1;
    if (meta_f32(m, path, "clip", 0, 1e30, &p->clip)) return 1;
    if (meta_i64(m, path, "epochs", 0, CLI_MAX_EPOCHS, false, &p->epochs)) return 1;
    if (meta_i64(m, path, "warmup", 0, CLI_MAX_EPOCHS, false, &p->warmup)) return 1;
    if (meta_i64(m, path, "limit_train", 0, INT64_MAX, false, &p->limit_train)) return 1;
    if (meta_i64(m, path, "limit_test", 0, INT64_MAX, false, &p->limit_test)) return 1;
    if (meta_i64(m, path, "train_samples", 0, INT64_MAX, false, &p->train_samples)) return 1;
    if (meta_i64(m, path, "threads", 0, 4096, false, &x)) return 1;
    p->threads = (int)x;
    v = nb_meta_get(m, "freeze");
    if (v && strlen(v) >= sizeof p->freeze)
        return cli_fail("%s: __metadata__ 'freeze' is longer than %zu characters", path, sizeof p->freeze - 1);
    if (v) snprintf(p->freeze, sizeof p->freeze, "%s", v);
    x = 0;
    if (meta_i64(m, path, "latent", 1, 256, !strcmp(p->model, "vae"), &x)) return 1;
    p->latent = (int)x;
    x = 0;
    if (meta_i64(m, path, "z_dim", 1, 4096, nb_zoo_input_kind(p->model) == NB_ZOO_GAN, &x)) return 1;
    p->z_dim = (int)x;
    if (meta_f32(m, path, "noise", 0, 1e3, &p->noise)) return 1;
    x = 0;
    if (meta_i64(m, path, "processes", 1, 1 << 24, false, &x)) return 1;
    p->processes = (int)x;
    x = 0;
    if (meta_i64(m, path, "lora", 1, 256, false, &x)) return 1;
    p->lora = (int)x;
    if (meta_f32(m, path, "lora_alpha", 1e-6, 1e6, &p->lora_alpha)) return 1;
    if (p->lora > 0 && !(p->lora_alpha > 0))
        return cli_fail("%s: __metadata__ 'lora' is %d but 'lora_alpha' is missing", path, p->lora);
    if (meta_f32(m, path, "word_dropout", 0, 1, &p->word_dropout)) return 1;
    if (p->word_dropout >= 1.0f)
        return cli_fail("%s: __metadata__ 'word_dropout' is '%.40s', not a probability in [0, 1)", path,
                        nb_meta_get(m, "word_dropout"));
    return 0;
}

int cli_read_plan(const char *path, cli_plan *p) {
    nb_meta *m = nb_checkpoint_meta(path);
    if (!m) return cli_fail("%s", nb_last_error());
    int rc = cli_plan_from_meta(m, path, p);
    nb_meta_free(m);
    return rc;
}

int cli_read_resume_plan(const char *path, cli_plan *p) {
    nb_meta *m = nb_checkpoint_meta(path);
    if (!m) return cli_fail("%s", nb_last_error());
    int rc = cli_plan_from_meta(m, path, p);
    /* Optional for eval and predict, but a resumed run would silently start again at epoch 0. */
    if (!rc && !nb_meta_get(m, "epoch"))
        rc = cli_fail("%s: __metadata__ has no 'epoch': --resume cannot tell how many epochs it has trained", path);
    nb_meta_free(m);
    return rc;
}
