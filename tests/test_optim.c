/* Optimizers, learning-rate schedules, gradient clipping and batch norm's running statistics.
 *
 * Against PyTorch (tests/fixtures/optim.txt, written by gen_optim_fixtures.py; its docstring
 * describes the format): 5-step trajectories of SGD, Adam, AdamW and RMSprop and their final
 * state slabs, StepLR / CosineAnnealingLR (with a warm-up), clip_grad_norm_, and the running
 * statistics F.batch_norm leaves after two training calls. Regenerate with
 *   /usr/bin/python3 tests/gen_optim_fixtures.py tests/fixtures/optim.txt
 *
 * Without a reference: a state saved mid-run and restored into a fresh optimizer continues bit
 * for bit; bad arguments are refused with a message. (Batch norm's errors and its parallel path:
 * test_batchnorm.c; the RNG state: test_autograd.c.) */
#include "check.h"
#include "internal.h"

#include <errno.h>
#include <math.h>

#define FIXTURES "fixtures/optim.txt"
/* Trajectories and states: within 1e-6 of the reference relative to the tensor's largest |ref|
 * (and at least FLOOR). Per tensor, not per element: a value that float32 reaches by
 * cancellation (a momentum buffer summing terms of about 10 to 0.07) carries the rounding of
 * its terms, and PyTorch in float32 is off by as much there (1e-6 of the element itself). */
#define RTOL 1e-6
#define FLOOR 0.1

/* ---- fixture file --------------------------------------------------------------------------- */
typedef struct {
    char label[32];
    int ndim;
    int64_t shape[4], numel;
    double *v;
} ftensor;

typedef struct {
    char name[64], kind[16];
    int nkv, nt, line;
    char key[12][16], val[12][24];
    ftensor t[16];
} fcase;

static fcase *cases;
static int ncases;

static int bad_file(int line, const char *what) {
    fprintf(stderr, "test_optim: %s:%d: malformed fixture file: %s\n", FIXTURES, line, what);
    return -1;
}

static int parse_values(ftensor *t, char *v, int line) {
    t->v = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(double));
    if (!t->v) return bad_file(line, "out of memory");
    for (int64_t i = 0; i < t->numel; i++) {
        char *end;
        t->v[i] = strtod(v, &end);
        if (end == v) return bad_file(line, "fewer values than the shape holds");
        v = end;
    }
    while (*v == ' ' || *v == '\r') v++;
    return *v ? bad_file(line, "more values than the shape holds") : 0;
}

static int load(char *buf) {
    int lineno = 0;
    for (char *p = buf; p && *p;) {
        char *s = p;
        p = strchr(p, '\n');
        if (p) *p++ = '\0';
        lineno++;
        if (s[0] == '#' || s[strspn(s, " \r")] == '\0') continue;
        if (!strncmp(s, "case ", 5)) {
            fcase *g = realloc(cases, (size_t)(ncases + 1) * sizeof *cases);
            if (!g) return bad_file(lineno, "out of memory");
            cases = g;
            fcase *fc = &cases[ncases++];
            memset(fc, 0, sizeof *fc);
            fc->line = lineno;
            int used = 0;
            if (sscanf(s + 5, "%63s %15s%n", fc->name, fc->kind, &used) != 2)
                return bad_file(lineno, "expected 'case NAME KIND key=value...'");
            for (char *tok = strtok(s + 5 + used, " \r"); tok; tok = strtok(NULL, " \r")) {
                char *eq = strchr(tok, '=');
                if (!eq || fc->nkv == 12 || eq - tok >= 16 || strlen(eq + 1) >= 24)
                    return bad_file(lineno, "bad key=value");
                *eq = '\0';
                strcpy(fc->key[fc->nkv], tok);
                strcpy(fc->val[fc->nkv++], eq + 1);
            }
        } else if (!strncmp(s, "tensor ", 7)) {
            if (!ncases) return bad_file(lineno, "a tensor before the first case");
            fcase *fc = &cases[ncases - 1];
            if (fc->nt == 16) return bad_file(lineno, "too many tensors");
            ftensor *t = &fc->t[fc->nt++];
            int used = 0;
            if (sscanf(s + 7, "%31s %d%n", t->label, &t->ndim, &used) != 2 || t->ndim < 0 ||
                t->ndim > 4)
                return bad_file(lineno, "expected 'tensor LABEL NDIM DIMS...'");
            char *d = s + 7 + used;
            t->numel = 1;
            for (int k = 0; k < t->ndim; k++) {
                char *end;
                long long x = strtoll(d, &end, 10);
                if (end == d || x < 0 || x > 100000) return bad_file(lineno, "bad dimension");
                t->shape[k] = x;
                t->numel *= x;
                d = end;
            }
            if (!p) return bad_file(lineno, "the value line is missing");
            char *v = p;
            p = strchr(p, '\n');
            if (p) *p++ = '\0';
            if (parse_values(t, v, ++lineno)) return -1;
        } else {
            return bad_file(lineno, "expected 'case' or 'tensor'");
        }
    }
    return 0;
}

static const char *kv(const fcase *fc, const char *key) {
    for (int i = 0; i < fc->nkv; i++)
        if (!strcmp(fc->key[i], key)) return fc->val[i];
    return NULL;
}
/* Floats through strtof: "%.9g" of a float reads back as that very float. */
static float kvf(const fcase *fc, const char *key) {
    const char *v = kv(fc, key);
    CHECK(v != NULL, "%s: key %s missing", fc->name, key);
    return v ? strtof(v, NULL) : NAN;
}
static int64_t kvi(const fcase *fc, const char *key) {
    const char *v = kv(fc, key);
    CHECK(v != NULL, "%s: key %s missing", fc->name, key);
    return v ? strtoll(v, NULL, 10) : 0;
}
static ftensor *ft(fcase *fc, const char *label, int64_t numel) {
    for (int i = 0; i < fc->nt; i++)
        if (!strcmp(fc->t[i].label, label)) {
            CHECK(fc->t[i].numel == numel, "%s: %s holds %lld values, expected %lld", fc->name,
                  label, (long long)fc->t[i].numel, (long long)numel);
            return fc->t[i].numel == numel ? &fc->t[i] : NULL;
        }
    CHECK(0, "%s: tensor %s missing from %s", fc->name, label, FIXTURES);
    return NULL;
}

/* Number of the n values off err <= rtol * scale, scale = max(floor, max |ref|); tracks the
 * worst err / scale. */
static int compare(const char *cname, const char *label, const float *got, const double *ref,
                   int64_t n, double rtol, double floor, double *worst) {
    int bad = 0;
    double scale = floor;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    for (int64_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]) / scale;
        if (err > *worst || isnan(err)) *worst = isnan(err) ? INFINITY : err;
        if (!(err <= rtol) && bad++ < 5)
            fprintf(stderr, "  %s %s[%lld]: nabla %.9g torch %.9g\n", cname, label, (long long)i,
                    (double)got[i], ref[i]);
    }
    return bad;
}

/* ---- parameters: a (3), b (2,2), c (1), as PARAM_SHAPES in the generator --------------------- */
#define P 8 /* values in all three */
static nb_params *make_params(void) {
    nb_params *p = nb_params_new();
    nb_params_add(p, "a", 1, (int64_t[]){3});
    nb_params_add(p, "b", 2, (int64_t[]){2, 2});
    nb_params_add(p, "c", 1, (int64_t[]){1});
    return p;
}
/* Copies between the flat (P) layout and the parameters (data or grad), or any slab laid out
 * like the value slab (an optimizer state). */
static void to_slab(nb_params *p, float *slab, const double *flat) {
    for (int i = 0, k = 0; i < nb_params_count(p); i++) {
        nb_tensor *t = nb_params_get(p, i);
        float *d = slab + (nb_tensor_data(t) - nb_params_data(p));
        for (int64_t j = 0; j < nb_tensor_numel(t); j++) d[j] = (float)flat[k++];
    }
}
static void from_slab(nb_params *p, const float *slab, float *flat) {
    for (int i = 0, k = 0; i < nb_params_count(p); i++) {
        nb_tensor *t = nb_params_get(p, i);
        const float *d = slab + (nb_tensor_data(t) - nb_params_data(p));
        for (int64_t j = 0; j < nb_tensor_numel(t); j++) flat[k++] = d[j];
    }
}

static nb_optim *optim_from_case(const fcase *fc, nb_params *p) {
    if (!strcmp(fc->kind, "sgd")) {
        nb_sgd_opts o = {kvf(fc, "lr"), kvf(fc, "momentum"), kvf(fc, "weight_decay"),
                         kvi(fc, "nesterov") != 0};
        return nb_sgd_new(p, o);
    }
    if (!strcmp(fc->kind, "adam") || !strcmp(fc->kind, "adamw")) {
        nb_adam_opts o = {kvf(fc, "lr"),  kvf(fc, "beta1"),        kvf(fc, "beta2"),
                          kvf(fc, "eps"), kvf(fc, "weight_decay"), !strcmp(fc->kind, "adamw")};
        return nb_adam_new(p, o);
    }
    nb_rmsprop_opts o = {kvf(fc, "lr"),           kvf(fc, "alpha"),    kvf(fc, "eps"),
                         kvf(fc, "weight_decay"), kvf(fc, "momentum"), kvi(fc, "centered") != 0};
    return nb_rmsprop_new(p, o);
}

static void check_optim_case(fcase *fc) {
    ftensor *init = ft(fc, "init", P), *grads = ft(fc, "grads", 5 * P);
    ftensor *traj = ft(fc, "params", 5 * P);
    if (!init || !grads || !traj) return;
    nb_params *p = make_params();
    nb_optim *o = optim_from_case(fc, p);
    CHECK(o != NULL, "%s: %s", fc->name, nb_last_error());
    if (!o) {
        nb_params_free(p);
        return;
    }
    CHECK(!strcmp(nb_optim_name(o), fc->kind), "%s: name %s", fc->name, nb_optim_name(o));
    to_slab(p, nb_params_data(p), init->v);
    double worst = 0;
    float flat[P];
    for (int k = 0; k < 5; k++) {
        to_slab(p, nb_params_grad(p), grads->v + k * P);
        CHECK(nb_optim_step(o) == NB_OK, "%s: step: %s", fc->name, nb_last_error());
        from_slab(p, nb_params_data(p), flat);
        char label[32];
        snprintf(label, sizeof label, "params after step %d", k + 1);
        int bad = compare(fc->name, label, flat, traj->v + k * P, P, RTOL, FLOOR, &worst);
        CHECK(bad == 0, "%s: %d values differ from PyTorch after step %d", fc->name, bad, k + 1);
    }
    CHECK(nb_optim_steps(o) == 5, "%s: steps %lld", fc->name, (long long)nb_optim_steps(o));
    /* The state slabs: the same names as torch's state, compared after the last step. */
    int nref = 0;
    for (int i = 0; i < fc->nt; i++) {
        if (strncmp(fc->t[i].label, "state.", 6)) continue;
        nref++;
        const char *want = fc->t[i].label + 6, *name = NULL;
        float *slab = NULL;
        for (int s = 0; s < nb_optim_state_count(o) && !slab; s++) {
            float *x = nb_optim_state(o, s, &name);
            if (name && !strcmp(name, want)) slab = x;
        }
        CHECK(slab != NULL, "%s: no optimizer state named %s", fc->name, want);
        if (!slab || fc->t[i].numel != P) continue;
        from_slab(p, slab, flat);
        int bad = compare(fc->name, fc->t[i].label, flat, fc->t[i].v, P, RTOL, FLOOR, &worst);
        CHECK(bad == 0, "%s: %d values of %s differ from PyTorch", fc->name, bad, want);
    }
    CHECK(nref == nb_optim_state_count(o), "%s: torch has %d state tensors, nabla %d", fc->name,
          nref, nb_optim_state_count(o));
    printf("%-22s %-8s worst relative error %.3g\n", fc->name, fc->kind, worst);
    nb_optim_free(o);
    nb_params_free(p);
}

static void check_sched_case(fcase *fc) {
    const char *kind = kv(fc, "sched");
    nb_schedule s = {NB_SCHED_CONSTANT, kvi(fc, "step_size"), kvf(fc, "gamma"),
                     kvi(fc, "t_max"),  kvf(fc, "eta_min"),   kvi(fc, "warmup")};
    if (kind && !strcmp(kind, "step")) s.kind = NB_SCHED_STEP;
    if (kind && !strcmp(kind, "cosine")) s.kind = NB_SCHED_COSINE;
    float base = kvf(fc, "base");
    ftensor *lr = NULL;
    for (int i = 0; i < fc->nt; i++)
        if (!strcmp(fc->t[i].label, "lr")) lr = &fc->t[i];
    CHECK(lr != NULL, "%s: no lr tensor", fc->name);
    if (!lr) return;
    float got[64];
    CHECK(lr->numel <= 64, "%s: too many epochs", fc->name);
    for (int64_t e = 0; e < lr->numel && e < 64; e++) got[e] = nb_schedule_lr(&s, base, e);
    double worst = 0;
    /* Rates are compared relative to the base rate (a cosine passes through eta_min = 0). */
    int bad = compare(fc->name, "lr", got, lr->v, lr->numel < 64 ? lr->numel : 64, RTOL,
                      (double)base, &worst);
    CHECK(bad == 0, "%s: %d rates differ from PyTorch", fc->name, bad);
    printf("%-22s %-8s worst relative error %.3g\n", fc->name, "sched", worst);
}

static void check_clip_case(fcase *fc) {
    ftensor *g = ft(fc, "grads", P), *norm = ft(fc, "norm", 1), *clipped = ft(fc, "clipped", P);
    if (!g || !norm || !clipped) return;
    nb_params *p = make_params();
    to_slab(p, nb_params_grad(p), g->v);
    float got = nb_clip_grad_norm(p, kvf(fc, "max_norm")), flat[P];
    double worst = 0;
    int bad = compare(fc->name, "norm", &got, norm->v, 1, RTOL, 0.0, &worst);
    from_slab(p, nb_params_grad(p), flat);
    bad += compare(fc->name, "clipped", flat, clipped->v, P, RTOL, FLOOR, &worst);
    CHECK(bad == 0, "%s: %d values differ from PyTorch", fc->name, bad);
    printf("%-22s %-8s worst relative error %.3g\n", fc->name, "clip", worst);
    nb_params_free(p);
}

static nb_tensor *from_ft(const ftensor *t) {
    nb_tensor *x = nb_tensor_new(t->ndim, t->shape);
    for (int64_t i = 0; i < t->numel; i++) nb_tensor_data(x)[i] = (float)t->v[i];
    return x;
}

static void check_bn_case(fcase *fc) {
    const char *labels[] = {"x1", "x2", "gamma", "beta", "rm0", "rv0", "rm", "rv", "eval_out"};
    ftensor *t[9];
    for (int i = 0; i < 9; i++) {
        t[i] = NULL;
        for (int j = 0; j < fc->nt; j++)
            if (!strcmp(fc->t[j].label, labels[i])) t[i] = &fc->t[j];
        CHECK(t[i] != NULL, "%s: tensor %s missing", fc->name, labels[i]);
        if (!t[i]) return;
    }
    nb_tensor *x1 = from_ft(t[0]), *x2 = from_ft(t[1]), *g = from_ft(t[2]), *b = from_ft(t[3]);
    nb_tensor *rm = from_ft(t[4]), *rv = from_ft(t[5]);
    float mom = kvf(fc, "momentum"), eps = kvf(fc, "eps");
    nb_tensor_set_requires_grad(g, true);
    bool ok = nb_batch_norm(x1, g, b, rm, rv, true, mom, eps) != NULL;
    ok = ok && nb_batch_norm(x2, g, b, rm, rv, true, mom, eps) != NULL;
    CHECK(ok, "%s: %s", fc->name, nb_last_error());
    double worst = 0;
    int bad = compare(fc->name, "running_mean", nb_tensor_data(rm), t[6]->v, t[6]->numel, RTOL,
                      FLOOR, &worst);
    bad += compare(fc->name, "running_var", nb_tensor_data(rv), t[7]->v, t[7]->numel, RTOL, FLOOR,
                   &worst);
    nb_tensor *y = nb_batch_norm(x1, g, b, rm, rv, false, mom, eps);
    CHECK(y != NULL, "%s: eval: %s", fc->name, nb_last_error());
    if (y) {
        CHECK(nb_tensor_numel(y) == t[8]->numel, "%s: eval output size", fc->name);
        bad += compare(fc->name, "eval_out", nb_tensor_data(y), t[8]->v, t[8]->numel, RTOL, 1.0,
                       &worst);
    }
    CHECK(bad == 0, "%s: %d values differ from PyTorch", fc->name, bad);
    printf("%-22s %-8s worst relative error %.3g\n", fc->name, "bn", worst);
    nb_step_reset();
    nb_tensor *all[] = {x1, x2, g, b, rm, rv};
    for (int i = 0; i < 6; i++) nb_tensor_free(all[i]);
}

static void test_fixtures(void) {
    FILE *f = fopen(FIXTURES, "rb");
    CHECK(f != NULL, "cannot read %s (run from tests/): %s", FIXTURES, strerror(errno));
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    size_t got = buf ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    if (!buf) return;
    buf[got] = '\0';
    int rc = load(buf);
    CHECK(rc == 0, "%s is malformed (see above)", FIXTURES);
    int kinds[4] = {0};
    for (int i = 0; rc == 0 && i < ncases; i++) {
        fcase *fc = &cases[i];
        if (!strcmp(fc->kind, "sched"))
            check_sched_case(fc), kinds[1]++;
        else if (!strcmp(fc->kind, "clip"))
            check_clip_case(fc), kinds[2]++;
        else if (!strcmp(fc->kind, "bn"))
            check_bn_case(fc), kinds[3]++;
        else
            check_optim_case(fc), kinds[0]++;
    }
    CHECK(kinds[0] >= 10 && kinds[1] >= 5 && kinds[2] >= 2 && kinds[3] >= 2,
          "%s holds too few cases (%d optimizer, %d schedule, %d clip, %d bn)", FIXTURES, kinds[0],
          kinds[1], kinds[2], kinds[3]);
    for (int i = 0; i < ncases; i++)
        for (int j = 0; j < cases[i].nt; j++) free(cases[i].t[j].v);
    free(cases);
    free(buf);
}

/* ---- save and restore ------------------------------------------------------------------------ */
typedef struct {
    const char *what;
    int kind; /* 0 sgd, 1 adam, 2 rmsprop */
    nb_sgd_opts sgd;
    nb_adam_opts adam;
    nb_rmsprop_opts rms;
} opt_cfg;

static nb_optim *make_opt(const opt_cfg *c, nb_params *p) {
    return c->kind == 0   ? nb_sgd_new(p, c->sgd)
           : c->kind == 1 ? nb_adam_new(p, c->adam)
                          : nb_rmsprop_new(p, c->rms);
}

/* Steps from..to-1 with gradients that depend on the parameters and the step, and a cosine
 * schedule driving the rate. */
static void run_steps(nb_optim *o, nb_params *p, float base, int from, int to) {
    nb_schedule s = {NB_SCHED_COSINE, 0, 0, 10, 0.001f, 2};
    for (int k = from; k < to; k++) {
        float *w = nb_params_data(p), *g = nb_params_grad(p);
        for (int64_t i = 0; i < nb_params_numel(p); i++)
            g[i] = 0.5f * w[i] + sinf(0.37f * (float)i + 1.3f * (float)k);
        nb_optim_set_lr(o, nb_schedule_lr(&s, base, k));
        nb_optim_step(o);
    }
}

static nb_params *make_params_init(void) {
    nb_params *p = make_params();
    for (int64_t i = 0; i < nb_params_numel(p); i++) nb_params_data(p)[i] = cosf((float)i);
    return p;
}

/* Runs 8 steps straight, and 4 + save + restore into new objects + 4; the two must agree to
 * the bit. With restore_steps false the step count is not restored. */
static bool same_after_restore(const opt_cfg *c, bool restore_steps) {
    float base = c->kind == 0 ? c->sgd.lr : c->kind == 1 ? c->adam.lr : c->rms.lr;
    nb_params *p1 = make_params_init(), *p2 = make_params_init();
    nb_optim *o1 = make_opt(c, p1), *o2 = make_opt(c, p2);
    run_steps(o1, p1, base, 0, 8);
    run_steps(o2, p2, base, 0, 4);
    /* The checkpoint: values, steps, rate and state slabs. */
    int64_t n = nb_params_numel(p2), steps = nb_optim_steps(o2);
    float lr = nb_optim_lr(o2);
    int ns = nb_optim_state_count(o2);
    float *saved = malloc((size_t)(ns + 1) * (size_t)n * sizeof(float));
    memcpy(saved, nb_params_data(p2), (size_t)n * sizeof(float));
    for (int s = 0; s < ns; s++)
        memcpy(saved + (s + 1) * n, nb_optim_state(o2, s, NULL), (size_t)n * sizeof(float));
    nb_optim_free(o2);
    nb_params_free(p2);
    nb_params *p3 = make_params();
    nb_optim *o3 = make_opt(c, p3);
    memcpy(nb_params_data(p3), saved, (size_t)n * sizeof(float));
    for (int s = 0; s < ns; s++)
        memcpy(nb_optim_state(o3, s, NULL), saved + (s + 1) * n, (size_t)n * sizeof(float));
    if (restore_steps) nb_optim_set_steps(o3, steps);
    nb_optim_set_lr(o3, lr);
    run_steps(o3, p3, base, 4, 8);
    bool same = nb_optim_steps(o3) == (restore_steps ? 8 : 4);
    same = same && !memcmp(nb_params_data(p1), nb_params_data(p3), (size_t)n * sizeof(float));
    for (int s = 0; s < ns; s++)
        same = same && !memcmp(nb_optim_state(o1, s, NULL), nb_optim_state(o3, s, NULL),
                               (size_t)n * sizeof(float));
    free(saved);
    nb_optim_free(o1);
    nb_optim_free(o3);
    nb_params_free(p1);
    nb_params_free(p3);
    return same;
}

static void test_restore(void) {
    nb_adam_opts adamw = nb_adam_defaults(0.01f);
    adamw.decoupled = true;
    adamw.weight_decay = 0.1f;
    nb_rmsprop_opts rms = nb_rmsprop_defaults(0.01f);
    rms.momentum = 0.9f;
    rms.centered = true;
    rms.weight_decay = 0.01f;
    const opt_cfg cfgs[] = {
        {.what = "sgd momentum", .kind = 0, .sgd = {0.05f, 0.9f, 0.0f, false}},
        {.what = "sgd nesterov wd", .kind = 0, .sgd = {0.05f, 0.9f, 0.01f, true}},
        {.what = "adam", .kind = 1, .adam = nb_adam_defaults(0.01f)},
        {.what = "adamw", .kind = 1, .adam = adamw},
        {.what = "rmsprop", .kind = 2, .rms = nb_rmsprop_defaults(0.01f)},
        {.what = "rmsprop centered momentum wd", .kind = 2, .rms = rms},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        CHECK(same_after_restore(&cfgs[i], true), "%s: a restored state must continue bit for bit",
              cfgs[i].what);
    /* Without its step count Adam's bias corrections restart: the runs must then differ, or
     * the check above proves nothing. SGD does not use the count: as in PyTorch, a restored
     * momentum buffer is used as it is (not re-seeded with the next gradient). */
    CHECK(!same_after_restore(&cfgs[2], false), "adam: steps must matter to the bias correction");
    CHECK(same_after_restore(&cfgs[0], false), "sgd: a restored buffer is kept without the steps");
}

/* ---- optimizer arguments and accessors ------------------------------------------------------- */
static void test_optim_args(void) {
    nb_params *p = make_params();
    CHECK(nb_sgd_new(NULL, (nb_sgd_opts){0.1f, 0, 0, false}) == NULL, "NULL params");
    CHECK(nb_sgd_new(p, (nb_sgd_opts){-0.1f, 0, 0, false}) == NULL &&
              strstr(nb_last_error(), "nb_sgd_new"),
          "negative lr: %s", nb_last_error());
    CHECK(nb_sgd_new(p, (nb_sgd_opts){0.1f, NAN, 0, false}) == NULL, "NaN momentum");
    CHECK(nb_sgd_new(p, (nb_sgd_opts){0.1f, 0, 0, true}) == NULL, "nesterov without momentum");
    CHECK(nb_sgd_new(p, (nb_sgd_opts){INFINITY, 0, 0, false}) == NULL, "infinite lr");
    nb_adam_opts a = nb_adam_defaults(0.01f);
    a.beta1 = 1.0f;
    CHECK(nb_adam_new(p, a) == NULL && strstr(nb_last_error(), "nb_adam_new"), "beta1 = 1");
    a = nb_adam_defaults(0.01f);
    a.beta2 = -0.5f;
    CHECK(nb_adam_new(p, a) == NULL, "negative beta2");
    a = nb_adam_defaults(0.01f);
    a.eps = -1e-8f;
    CHECK(nb_adam_new(p, a) == NULL, "negative eps");
    nb_rmsprop_opts r = nb_rmsprop_defaults(0.01f);
    CHECK(r.alpha == 0.99f && r.eps == 1e-8f && r.momentum == 0 && !r.centered &&
              r.weight_decay == 0 && r.lr == 0.01f,
          "rmsprop defaults as torch");
    r.alpha = 1.5f;
    CHECK(nb_rmsprop_new(p, r) == NULL && strstr(nb_last_error(), "nb_rmsprop_new"), "alpha > 1");
    r = nb_rmsprop_defaults(0.01f);
    r.momentum = -0.1f;
    CHECK(nb_rmsprop_new(p, r) == NULL, "negative momentum");
    r = nb_rmsprop_defaults(NAN);
    CHECK(nb_rmsprop_new(p, r) == NULL, "NaN lr");

    /* State slabs: count, names and order. */
    struct {
        nb_optim *o;
        const char *name;
        int n;
        const char *states[3];
    } want[6];
    want[0].o = nb_sgd_new(p, (nb_sgd_opts){0.1f, 0, 0, false});
    want[1].o = nb_sgd_new(p, (nb_sgd_opts){0.1f, 0.9f, 0, false});
    a = nb_adam_defaults(0.01f);
    want[2].o = nb_adam_new(p, a);
    a.decoupled = true;
    want[3].o = nb_adam_new(p, a);
    r = nb_rmsprop_defaults(0.01f);
    want[4].o = nb_rmsprop_new(p, r);
    r.momentum = 0.5f;
    r.centered = true;
    want[5].o = nb_rmsprop_new(p, r);
    const char *names[] = {"sgd", "sgd", "adam", "adamw", "rmsprop", "rmsprop"};
    const int counts[] = {0, 1, 2, 2, 1, 3};
    const char *states[6][3] = {{0},
                                {"momentum_buffer"},
                                {"exp_avg", "exp_avg_sq"},
                                {"exp_avg", "exp_avg_sq"},
                                {"square_avg"},
                                {"square_avg", "momentum_buffer", "grad_avg"}};
    for (int i = 0; i < 6; i++) {
        nb_optim *o = want[i].o;
        CHECK(o != NULL, "optimizer %d: %s", i, nb_last_error());
        if (!o) continue;
        CHECK(!strcmp(nb_optim_name(o), names[i]), "name %s, expected %s", nb_optim_name(o),
              names[i]);
        CHECK(nb_optim_state_count(o) == counts[i], "%s: %d state slabs, expected %d", names[i],
              nb_optim_state_count(o), counts[i]);
        for (int s = 0; s < counts[i]; s++) {
            const char *nm = NULL;
            float *x = nb_optim_state(o, s, &nm);
            CHECK(x && nm && !strcmp(nm, states[i][s]), "%s state %d: %s, expected %s", names[i], s,
                  nm ? nm : "NULL", states[i][s]);
            bool zero = true;
            for (int64_t j = 0; x && j < nb_params_numel(p); j++) zero &= x[j] == 0.0f;
            CHECK(zero, "%s state %s starts at zero", names[i], states[i][s]);
        }
        const char *nm = "x";
        CHECK(nb_optim_state(o, counts[i], &nm) == NULL && nm == NULL, "state out of range");
        CHECK(nb_optim_state(o, -1, NULL) == NULL, "negative state index");
        nb_optim_free(o);
    }

    /* lr and steps accessors refuse bad values and keep the old ones. */
    nb_optim *o = nb_sgd_new(p, (nb_sgd_opts){0.1f, 0, 0, false});
    CHECK(nb_optim_lr(o) == 0.1f && nb_optim_steps(o) == 0, "initial lr and steps");
    nb_optim_set_lr(o, 0.02f);
    CHECK(nb_optim_lr(o) == 0.02f, "set_lr");
    nb_optim_set_lr(o, -1.0f);
    CHECK(nb_optim_lr(o) == 0.02f && strstr(nb_last_error(), "nb_optim_set_lr"),
          "negative lr refused");
    nb_optim_set_lr(o, NAN);
    CHECK(nb_optim_lr(o) == 0.02f, "NaN lr refused");
    nb_optim_set_steps(o, 7);
    CHECK(nb_optim_steps(o) == 7, "set_steps");
    nb_optim_set_steps(o, -3);
    CHECK(nb_optim_steps(o) == 7, "negative steps refused");
    CHECK(nb_optim_step(o) == NB_OK && nb_optim_steps(o) == 8, "step counts");
    nb_optim_free(o);
    CHECK(nb_optim_lr(NULL) == 0 && nb_optim_steps(NULL) == 0 && nb_optim_state_count(NULL) == 0 &&
              !strcmp(nb_optim_name(NULL), ""),
          "NULL optimizer accessors");
    nb_optim_set_lr(NULL, 0.1f);
    nb_optim_set_steps(NULL, 1);
    CHECK(nb_optim_step(NULL) == NB_ERR_ARG, "step of NULL");
    nb_params_free(p);
}

/* ---- schedules and clipping: arguments and edge cases ---------------------------------------- */
static void test_sched_args(void) {
    nb_schedule s = {NB_SCHED_STEP, 0, 0.5f, 0, 0, 0};
    CHECK(isnan(nb_schedule_lr(&s, 0.1f, 3)) && strstr(nb_last_error(), "step_size"),
          "step_size 0");
    s = (nb_schedule){NB_SCHED_COSINE, 0, 0, 0, 0, 0};
    CHECK(isnan(nb_schedule_lr(&s, 0.1f, 3)) && strstr(nb_last_error(), "t_max"), "t_max 0");
    s = (nb_schedule){NB_SCHED_CONSTANT, 0, 0, 0, 0, -2};
    CHECK(isnan(nb_schedule_lr(&s, 0.1f, 3)), "negative warmup");
    s.warmup = 0;
    CHECK(isnan(nb_schedule_lr(&s, 0.1f, -1)), "negative epoch");
    CHECK(nb_schedule_lr(&s, 0.1f, 1000000) == 0.1f, "constant");
    s.kind = (nb_sched_kind)99;
    CHECK(isnan(nb_schedule_lr(&s, 0.1f, 0)), "unknown kind");
    CHECK(isnan(nb_schedule_lr(NULL, 0.1f, 0)), "NULL schedule");
    /* Cosine far out: periodic as PyTorch's, and exact after a whole number of periods. */
    s = (nb_schedule){NB_SCHED_COSINE, 0, 0, 7, 0.01f, 0};
    CHECK(nb_schedule_lr(&s, 0.1f, 14 * 1000003) == 0.1f, "cosine period 2 t_max");
    CHECK(nb_schedule_lr(&s, 0.1f, 7) == 0.01f, "cosine reaches eta_min at t_max");
    /* Warm-up of one unit is the base rate at once. */
    s = (nb_schedule){NB_SCHED_STEP, 2, 0.5f, 0, 0, 1};
    CHECK(nb_schedule_lr(&s, 0.1f, 0) == 0.1f && nb_schedule_lr(&s, 0.1f, 3) == 0.05f, "warmup 1");

    nb_params *p = make_params();
    float *g = nb_params_grad(p);
    /* The slab's alignment gaps are not gradients: only the 8 parameter values count. */
    for (int64_t i = 0; i < nb_params_numel(p); i++) g[i] = 0.25f;
    CHECK(nb_params_numel(p) > P, "the slab has gaps (%lld floats)", (long long)nb_params_numel(p));
    CHECK(fabsf(nb_clip_grad_norm(p, 10.0f) - sqrtf(0.5f)) < 1e-7f,
          "norm over the parameters only");
    nb_params_zero_grad(p);
    CHECK(nb_clip_grad_norm(p, 1.0f) == 0.0f, "zero gradients have norm 0");
    float *ga = nb_tensor_grad(nb_params_get(p, 0)), *gb = nb_tensor_grad(nb_params_get(p, 1));
    ga[0] = 3.0f;
    gb[3] = 4.0f;
    CHECK(isnan(nb_clip_grad_norm(p, -1.0f)) && strstr(nb_last_error(), "max_norm"),
          "negative max_norm");
    CHECK(gb[3] == 4.0f, "a refused clip changes nothing");
    CHECK(nb_clip_grad_norm(p, 6.0f) == 5.0f && ga[0] == 3.0f && gb[3] == 4.0f,
          "under the limit nothing is scaled");
    float n0 = nb_clip_grad_norm(p, 1.0f), after = hypotf(ga[0], gb[3]);
    CHECK(fabsf(n0 - 5.0f) < 1e-6f && fabsf(after - 1.0f) < 1e-5f, "clip to 1: norm %g after %g",
          (double)n0, (double)after);
    float ga0 = ga[0];
    nb_tensor_grad(nb_params_get(p, 2))[0] = NAN;
    CHECK(isnan(nb_clip_grad_norm(p, 1.0f)) && ga[0] == ga0,
          "a NaN norm is returned and scales nothing");
    CHECK(isnan(nb_clip_grad_norm(NULL, 1.0f)), "NULL params");
    nb_params_free(p);
    nb_params *empty = nb_params_new();
    CHECK(nb_clip_grad_norm(empty, 1.0f) == 0.0f, "no parameters: norm 0");
    nb_params_free(empty);

    /* A large slab: the chunked parallel sum against a serial double sum. */
    nb_params *big = nb_params_new();
    nb_tensor *w = nb_params_add(big, "w", 1, (int64_t[]){300001});
    double ref = 0;
    for (int64_t i = 0; i < 300001; i++) {
        nb_tensor_grad(w)[i] = sinf((float)i);
        ref += (double)nb_tensor_grad(w)[i] * nb_tensor_grad(w)[i];
    }
    float big_norm = nb_clip_grad_norm(big, 1e9f);
    CHECK(fabs(big_norm - sqrt(ref)) <= 1e-6 * sqrt(ref), "large norm %g vs %g", (double)big_norm,
          sqrt(ref));
    nb_params_free(big);
}

/* The step's own read-back of the values it wrote (the training loop's check after the step):
 * 0 when all finite, 1 after a step that made one infinite, -1 with a frozen parameter or no
 * step yet. Large enough (200,000 values) to run in threaded chunks. */
static void test_step_finite(void) {
    nb_params *p = nb_params_new();
    nb_tensor *a = nb_params_add(p, "a", 1, (int64_t[]){200000});
    nb_tensor *b = nb_params_add(p, "b", 1, (int64_t[]){3});
    nb_tensor_fill(a, 1.0f), nb_tensor_fill(b, 1.0f);
    nb_optim *o = nb_sgd_new(p, (nb_sgd_opts){.lr = 1.0f});
    CHECK(nb__optim_params_nonfinite(o) == -1, "no step yet: cannot tell");
    nb_params_zero_grad(p);
    nb_tensor_grad(a)[123456] = 0.5f;
    CHECK(nb_optim_step(o) == NB_OK && nb__optim_params_nonfinite(o) == 0, "finite step: %d",
          nb__optim_params_nonfinite(o));
    nb_tensor_grad(a)[199999] = -3e38f, nb_tensor_data(a)[199999] = 3e38f; /* 3e38 + 3e38 = inf */
    CHECK(nb_optim_step(o) == NB_OK && nb__optim_params_nonfinite(o) == 1 && isinf(nb_tensor_data(a)[199999]),
          "a step that overflows: %d", nb__optim_params_nonfinite(o));
    nb_tensor_data(a)[199999] = 1.0f;
    nb_params_zero_grad(p);
    CHECK(nb_optim_step(o) == NB_OK && nb__optim_params_nonfinite(o) == 0, "finite again");
    nb_tensor_set_requires_grad(b, false);
    CHECK(nb_optim_step(o) == NB_OK && nb__optim_params_nonfinite(o) == -1, "a frozen parameter: cannot tell");
    nb_optim_free(o);
    nb_params_free(p);
}

/* One step over many tensors of mixed sizes (several chunks, a one-float tensor, a frozen one,
 * a group with its own rate) is one parallel region over the whole list: it must give, bit for
 * bit, what each tensor alone gives with its own optimizer, at 1 and at 2 threads. The same for
 * the gradient clip's norm and scaling, against a serial sum in the documented order. */
#define MANY 7
static const int64_t g_many[MANY] = {230000, 3, 16384, 16385, 1, 40000, 5}; /* over NB_OPT_PAR_MIN */

static nb_optim *many_optim(nb_params *p, int kind, float lr) {
    if (kind == 0) return nb_sgd_new(p, (nb_sgd_opts){lr, 0.9f, 1e-3f, true});
    if (kind == 1) return nb_adam_new(p, (nb_adam_opts){lr, 0.9f, 0.999f, 1e-8f, 1e-2f, false});
    if (kind == 2) return nb_adam_new(p, (nb_adam_opts){lr, 0.9f, 0.999f, 1e-8f, 1e-2f, true});
    nb_rmsprop_opts r = nb_rmsprop_defaults(lr);
    r.momentum = 0.5f, r.centered = true, r.weight_decay = 1e-3f;
    return nb_rmsprop_new(p, r);
}

static void many_fill(nb_tensor *t, int k, int step) {
    float *w = nb_tensor_data(t), *g = nb_tensor_grad(t);
    for (int64_t i = 0; i < nb_tensor_numel(t); i++) {
        if (step == 0) w[i] = sinf((float)(i + 1) * 0.37f + (float)k);
        g[i] = cosf((float)i * 0.11f + (float)(k + step));
    }
}

/* The MANY tensors in one slab; tensors 2 and 4 named under "grp" (a rate group) when asked. */
static nb_params *many_params(bool group) {
    nb_params *p = nb_params_new();
    for (int k = 0; k < MANY; k++) {
        char name[16];
        snprintf(name, sizeof name, "%s%d", group && (k == 2 || k == 4) ? "grp." : "t", k);
        nb_params_add(p, name, 1, &g_many[k]);
    }
    return p;
}

static void test_many_tensors(void) {
    const int threads = nb_get_threads();
    for (int kind = 0; kind < 4; kind++) {
        float *got[2] = {NULL, NULL};
        int64_t numel = 0;
        for (int run = 0; run < 2; run++) {
            nb_set_threads(run == 0 ? 1 : 2);
            nb_params *p = many_params(true);
            nb_tensor_set_requires_grad(nb_params_get(p, 5), false);
            nb_optim *o = many_optim(p, kind, 0.01f);
            CHECK(o && nb_optim_set_lr_scale(o, "grp", 0.25f) == NB_OK, "many: optimizer %d", kind);
            for (int step = 0; step < 3; step++) {
                for (int k = 0; k < MANY; k++) many_fill(nb_params_get(p, k), k, step);
                CHECK(nb_optim_step(o) == NB_OK, "many: step");
            }
            numel = nb_params_numel(p);
            got[run] = malloc((size_t)numel * sizeof(float));
            memcpy(got[run], nb_params_data(p), (size_t)numel * sizeof(float));
            if (run == 1) { /* each tensor alone, with its group's rate (the same float product) */
                int same = 1;
                for (int k = 0; k < MANY; k++) {
                    nb_tensor *t = nb_params_get(p, k);
                    nb_params *q = nb_params_new();
                    nb_tensor *u = nb_params_add(q, "u", 1, &g_many[k]);
                    nb_optim *oq = many_optim(q, kind, k == 2 || k == 4 ? 0.01f * 0.25f : 0.01f);
                    for (int step = 0; step < 3 && k != 5; step++) {
                        many_fill(u, k, step);
                        nb_optim_step(oq);
                    }
                    if (k == 5) many_fill(u, k, 0); /* frozen: never moved */
                    same &= !memcmp(nb_tensor_data(u), nb_tensor_data(t), (size_t)g_many[k] * sizeof(float));
                    nb_optim_free(oq);
                    nb_params_free(q);
                }
                CHECK(same, "many (%s): each tensor as alone", nb_optim_name(o));
            }
            nb_optim_free(o);
            nb_params_free(p);
        }
        CHECK(!memcmp(got[0], got[1], (size_t)numel * sizeof(float)), "many: 1 and 2 threads, kind %d", kind);
        free(got[0]);
        free(got[1]);
    }

    /* The clip: the norm as the serial sum (chunks of 16384 floats in double, each tensor's
     * chunks summed in order from 0, tensors in order), and the same scaled gradients at 1 and
     * 2 threads. */
    float norm[2], *gs[2];
    int64_t numel = 0;
    double ref = 0;
    for (int run = 0; run < 2; run++) {
        nb_set_threads(run == 0 ? 1 : 2);
        nb_params *p = many_params(false);
        for (int k = 0; k < MANY; k++) many_fill(nb_params_get(p, k), k, 1);
        if (run == 0) {
            for (int k = 0; k < MANY; k++) {
                const float *g = nb_tensor_grad(nb_params_get(p, k));
                double acc = 0;
                for (int64_t lo = 0; lo < g_many[k]; lo += 16384) {
                    double a = 0;
                    for (int64_t i = lo; i < lo + 16384 && i < g_many[k]; i++) a += (double)g[i] * g[i];
                    acc += a;
                }
                ref += acc;
            }
        }
        norm[run] = nb_clip_grad_norm(p, 1.0f);
        numel = nb_params_numel(p);
        gs[run] = malloc((size_t)numel * sizeof(float));
        memcpy(gs[run], nb_params_grad(p), (size_t)numel * sizeof(float));
        const float *g0 = nb_tensor_grad(nb_params_get(p, 0)), k = (float)(1.0 / (sqrt(ref) + 1e-6));
        CHECK(g0[12345] == cosf(12345 * 0.11f + 1.0f) * k, "clip scales by max_norm / (norm + 1e-6)");
        nb_params_free(p);
    }
    nb_set_threads(threads);
    CHECK(norm[0] == (float)sqrt(ref) && norm[1] == norm[0], "clip norm %g %g vs %g", (double)norm[0],
          (double)norm[1], sqrt(ref));
    CHECK(!memcmp(gs[0], gs[1], (size_t)numel * sizeof(float)), "clip: 1 and 2 threads");
    free(gs[0]);
    free(gs[1]);
}

int main(void) {
    test_many_tensors();
    test_step_finite();
    test_fixtures();
    test_restore();
    test_optim_args();
    test_sched_args();
    return test_end("test_optim");
}
