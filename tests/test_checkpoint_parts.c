/* Checkpoints of several models in one file (nb_checkpoint_save_parts / _load_parts), as a GAN
 * keeps its generator and discriminator: round trip bit for bit (parameters, buffers, counters,
 * both optimizers, the RNG), the tensor names in the file, loading one part alone, strictness,
 * all or nothing across the parts, non-finite state refused, the one-part case equal to
 * nb_checkpoint_save byte for byte, and every bad argument. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

static char g_dir[64];

static void at(char *buf, size_t cap, const char *file) { snprintf(buf, cap, "%s/%s", g_dir, file); }

/* in -> fc (hidden) -> bn -> relu -> out: parameters, two buffers and a counter. */
static nb_model *net(uint64_t seed, int in, int hidden, int out) {
    nb_seed(seed);
    nb_module *s = nb_sequential_new();
    nb_sequential_add(s, "fc", nb_linear_new(in, hidden, true));
    nb_sequential_add(s, "bn", nb_batchnorm1d_new(hidden));
    nb_sequential_add(s, "act", nb_activation_new(NB_ACT_RELU));
    nb_sequential_add(s, "out", nb_linear_new(hidden, out, true));
    return nb_model_new(s, NB_INIT_DEFAULT);
}
static nb_model *gen(uint64_t seed) { return net(seed, 3, 5, 4); }
static nb_model *disc(uint64_t seed) { return net(seed, 4, 6, 1); }

/* A few optimizer steps on sum(y^3) of random batches: moments, steps, running statistics
 * and the counter all move. */
static void train(nb_model *m, nb_optim *o, int in, int steps) {
    nb_tensor *x = nb_tensor_new(2, (int64_t[]){6, in}); /* (N, D) */
    for (int k = 0; k < steps; k++) {
        nb_tensor_fill_normal(x, 0.5f, 1.0f);
        nb_params_zero_grad(nb_model_params(m));
        nb_tensor *y = nb_model_forward(m, x);
        nb_tensor *loss = nb_sum(nb_mul(y, nb_mul(y, y)), NB_ALL_AXES, false);
        CHECK(loss && nb_backward(loss) == NB_OK && nb_optim_step(o) == NB_OK, "train: %s", nb_last_error());
        nb_step_reset();
    }
    nb_tensor_free(x);
}

/* Everything a load may change in a model and its optimizer, copied. */
typedef struct snap {
    float *p, *b, *s[4];
    int64_t np, nb, counters[4], steps;
    int ns;
    float lr;
} snap;

static snap take(nb_model *m, nb_optim *o) {
    snap k = {0};
    k.np = nb_params_numel(nb_model_params(m));
    k.nb = nb_params_numel(nb_model_buffers(m));
    k.p = malloc((size_t)k.np * sizeof(float));
    k.b = malloc((size_t)k.nb * sizeof(float));
    memcpy(k.p, nb_params_data(nb_model_params(m)), (size_t)k.np * sizeof(float));
    memcpy(k.b, nb_params_data(nb_model_buffers(m)), (size_t)k.nb * sizeof(float));
    for (int i = 0; i < nb_model_counter_count(m) && i < 4; i++) k.counters[i] = *nb_model_counter(m, i);
    if (o) {
        k.ns = nb_optim_state_count(o);
        for (int i = 0; i < k.ns && i < 4; i++) {
            k.s[i] = malloc((size_t)k.np * sizeof(float));
            memcpy(k.s[i], nb_optim_state(o, i, NULL), (size_t)k.np * sizeof(float));
        }
        k.steps = nb_optim_steps(o);
        k.lr = nb_optim_lr(o);
    }
    return k;
}

static void snap_free(snap *k) {
    free(k->p);
    free(k->b);
    for (int i = 0; i < 4; i++) free(k->s[i]);
}

/* Whether m (and o, when given) hold exactly what k holds, bit for bit. */
static bool same(const snap *k, nb_model *m, nb_optim *o) {
    if (nb_params_numel(nb_model_params(m)) != k->np || nb_params_numel(nb_model_buffers(m)) != k->nb) return false;
    if (memcmp(k->p, nb_params_data(nb_model_params(m)), (size_t)k->np * sizeof(float)) ||
        memcmp(k->b, nb_params_data(nb_model_buffers(m)), (size_t)k->nb * sizeof(float)))
        return false;
    for (int i = 0; i < nb_model_counter_count(m) && i < 4; i++)
        if (k->counters[i] != *nb_model_counter(m, i)) return false;
    if (!o) return true;
    if (nb_optim_state_count(o) != k->ns || nb_optim_steps(o) != k->steps || nb_optim_lr(o) != k->lr) return false;
    for (int i = 0; i < k->ns && i < 4; i++)
        if (memcmp(k->s[i], nb_optim_state(o, i, NULL), (size_t)k->np * sizeof(float))) return false;
    return true;
}

static char *slurp(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    *n = -1;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)*n + 1);
    if (b && fread(b, 1, (size_t)*n, f) != (size_t)*n) *n = -1;
    fclose(f);
    return b;
}

static bool same_file(const char *a, const char *b) {
    long na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    bool eq = x && y && na == nb && na > 0 && memcmp(x, y, (size_t)na) == 0;
    free(x);
    free(y);
    return eq;
}

static bool has(const char *err, const char *a, const char *b) { return strstr(err, a) && (!b || strstr(err, b)); }

/* A trained GAN-like pair: generator (Adam) and discriminator (Adam, another rate). */
typedef struct pair {
    nb_model *g, *d;
    nb_optim *og, *od;
} pair;

static pair pair_new(uint64_t seed, bool trained) {
    pair p = {gen(seed), disc(seed + 100), NULL, NULL};
    p.og = nb_adam_new(nb_model_params(p.g), nb_adam_defaults(trained ? 2e-3f : 0.5f));
    p.od = nb_adam_new(nb_model_params(p.d), nb_adam_defaults(trained ? 1e-3f : 0.5f));
    if (trained) {
        train(p.g, p.og, 3, 3);
        train(p.d, p.od, 4, 2);
    }
    return p;
}

static void pair_free(pair *p) {
    nb_optim_free(p->og);
    nb_optim_free(p->od);
    nb_model_free(p->g);
    nb_model_free(p->d);
}

static void parts_of(const pair *p, nb_checkpoint_part out[2]) {
    out[0] = (nb_checkpoint_part){"generator", p->g, p->og};
    out[1] = (nb_checkpoint_part){"discriminator", p->d, p->od};
}

static const char *const gan_names[] = {
    "generator.fc.weight", "generator.fc.bias", "generator.bn.weight", "generator.bn.bias",
    "generator.out.weight", "generator.out.bias", "generator.bn.running_mean", "generator.bn.running_var",
    "generator.bn.num_batches_tracked", "discriminator.fc.weight", "discriminator.fc.bias",
    "discriminator.bn.weight", "discriminator.bn.bias", "discriminator.out.weight", "discriminator.out.bias",
    "discriminator.bn.running_mean", "discriminator.bn.running_var", "discriminator.bn.num_batches_tracked",
    "_nabla.optim.generator.steps", "_nabla.optim.discriminator.steps", "_nabla.rng",
    "_nabla.optim.generator.exp_avg", "_nabla.optim.generator.exp_avg_sq", "_nabla.optim.discriminator.exp_avg",
    "_nabla.optim.discriminator.exp_avg_sq"};

/* Save two parts, load into fresh models and optimizers: everything equal bit for bit, the RNG
 * continues as after the save; the file's names and metadata are the prefixed ones. */
static void test_round_trip(const char *path) {
    pair a = pair_new(1, true);
    nb_checkpoint_part pa[2];
    parts_of(&a, pa);
    CHECK(*nb_model_counter(a.g, 0) == 3 && *nb_model_counter(a.d, 0) == 2, "counters moved");
    nb_meta *meta = nb_meta_new();
    nb_meta_set(meta, "epoch", "4");
    CHECK(nb_checkpoint_save_parts(path, 2, pa, meta) == NB_OK, "save: %s", nb_last_error());
    nb_meta_free(meta);
    snap sg = take(a.g, a.og), sd = take(a.d, a.od);
    uint64_t rng[4];
    nb_rng_get_state(rng);
    uint64_t next_after_save = nb_rng_next();

    nb_seed(777); /* the RNG elsewhere: the load must bring it back */
    pair b = pair_new(50, false);
    nb_checkpoint_part pb[2];
    parts_of(&b, pb);
    CHECK(!same(&sg, b.g, b.og) && !same(&sd, b.d, b.od), "fresh models differ");
    char *report = (char *)"x";
    CHECK(nb_checkpoint_load_parts(path, 2, pb, NULL, &report) == NB_OK, "load: %s", nb_last_error());
    CHECK(report == NULL, "every tensor loaded: %s", report ? report : "");
    CHECK(same(&sg, b.g, b.og), "generator, its counter and Adam (moments, steps, lr) bit for bit");
    CHECK(same(&sd, b.d, b.od), "discriminator, its counter and Adam bit for bit");
    CHECK(nb_optim_lr(b.og) == 2e-3f && nb_optim_lr(b.od) == 1e-3f && nb_optim_steps(b.og) == 3 &&
              nb_optim_steps(b.od) == 2, "lr %g %g, steps %lld %lld", nb_optim_lr(b.og), nb_optim_lr(b.od),
          (long long)nb_optim_steps(b.og), (long long)nb_optim_steps(b.od));
    CHECK(nb_rng_next() == next_after_save, "the RNG continues as after the save");

    /* The names in the file, in order, and nothing else. */
    nb_st_reader *r = nb_st_open(path);
    int want = (int)(sizeof gan_names / sizeof *gan_names);
    CHECK(r && nb_st_count(r) == want, "%d tensors in the file, expected %d", r ? nb_st_count(r) : -1, want);
    for (int i = 0; r && i < want && i < nb_st_count(r); i++)
        CHECK(strcmp(nb_st_get(r, i)->name, gan_names[i]) == 0, "tensor %d is '%s', expected '%s'", i,
              nb_st_get(r, i)->name, gan_names[i]);
    const nb_st_tensor *t = r ? nb_st_find(r, "generator.bn.num_batches_tracked") : NULL;
    CHECK(t && t->dtype == NB_ST_I64 && t->ndim == 0, "the counter is an I64 scalar under the prefix");
    t = r ? nb_st_find(r, "_nabla.optim.discriminator.exp_avg") : NULL;
    CHECK(t && t->ndim == 1 && t->shape[0] == nb_params_numel(nb_model_params(a.d)), "a state slab per part");
    if (r) nb_st_close(r);
    nb_meta *got = nb_checkpoint_meta(path);
    const char *og = got ? nb_meta_get(got, "_nabla.optimizer.generator") : NULL;
    const char *od = got ? nb_meta_get(got, "_nabla.optimizer.discriminator") : NULL;
    const char *lg = got ? nb_meta_get(got, "_nabla.lr.generator") : NULL;
    CHECK(got && strcmp(nb_meta_get(got, "format"), "nabla-checkpoint-2") == 0 &&
              strcmp(nb_meta_get(got, "epoch"), "4") == 0 && og && strcmp(og, "adam") == 0 && od &&
              strcmp(od, "adam") == 0 && lg && strtof(lg, NULL) == 2e-3f && nb_meta_get(got, "_nabla.lr.discriminator") &&
              !nb_meta_get(got, "_nabla.optimizer") && !nb_meta_get(got, "_nabla.lr") && nb_meta_count(got) == 6,
          "metadata: format, epoch and the per-part optimizer keys only");
    nb_meta_free(got);
    snap_free(&sg);
    snap_free(&sd);
    pair_free(&a);
    pair_free(&b);
}

/* The generator alone from the GAN file: strict with skip "discriminator"; without the skip an
 * error naming a discriminator tensor, and the generator untouched; non-strict, a report. */
static void test_one_part_alone(const char *path) {
    pair a = pair_new(1, true); /* the same as the saved pair */
    nb_model *g = gen(9);
    nb_optim *og = nb_adam_new(nb_model_params(g), nb_adam_defaults(0.3f));
    snap before = take(g, og), want = take(a.g, a.og);
    nb_checkpoint_part p = {"generator", g, og};
    nb_load_opts o = nb_load_defaults();
    CHECK(nb_checkpoint_load_parts(path, 1, &p, &o, NULL) == NB_ERR_FORMAT &&
              has(nb_last_error(), "'discriminator.", path),
          "an unexpected discriminator tensor: %s", nb_last_error());
    CHECK(same(&before, g, og), "the failed load left the generator and its optimizer as they were");
    o.skip = "discriminator";
    char *report = NULL;
    CHECK(nb_checkpoint_load_parts(path, 1, &p, &o, &report) == NB_OK && !report, "skip: %s", nb_last_error());
    CHECK(same(&want, g, og), "the generator alone, with its optimizer, bit for bit");
    /* Non-strict without skip: loaded, the discriminator's tensors reported by their full names. */
    nb_model *g2 = gen(10);
    nb_checkpoint_part p2 = {"generator", g2, NULL};
    o = (nb_load_opts){.strict = false, .skip = NULL};
    CHECK(nb_checkpoint_load_parts(path, 1, &p2, &o, &report) == NB_OK && report &&
              strstr(report, "unexpected discriminator.fc.weight\n") &&
              strstr(report, "unexpected discriminator.bn.num_batches_tracked\n") && !strstr(report, "generator"),
          "report: %s", report ? report : nb_last_error());
    free(report);
    CHECK(same(&want, g2, NULL), "non-strict load of the generator's weights");
    /* A skip inside a part: those tensors keep their values and are reported skipped. */
    nb_model *g3 = gen(11);
    snap g3s = take(g3, NULL);
    nb_checkpoint_part p3[2] = {{"generator", g3, NULL}, {"discriminator", a.d, NULL}};
    o = (nb_load_opts){.strict = true, .skip = "generator.out"};
    CHECK(nb_checkpoint_load_parts(path, 2, p3, &o, &report) == NB_OK && report &&
              strstr(report, "skipped generator.out.weight\n") && strstr(report, "skipped generator.out.bias\n"),
          "skip in a part: %s", report ? report : nb_last_error());
    free(report);
    const float *w3 = nb_tensor_data(nb_params_find(nb_model_params(g3), "out.weight"));
    const float *f3 = nb_tensor_data(nb_params_find(nb_model_params(g3), "fc.weight"));
    CHECK(memcmp(w3, g3s.p + (w3 - nb_params_data(nb_model_params(g3))), 20 * sizeof(float)) == 0 &&
              memcmp(f3, want.p + (f3 - nb_params_data(nb_model_params(g3))), 15 * sizeof(float)) == 0,
          "the skipped tensor kept its value, the others loaded");
    snap_free(&g3s);
    snap_free(&before);
    snap_free(&want);
    nb_model_free(g3);
    nb_model_free(g2);
    nb_optim_free(og);
    nb_model_free(g);
    pair_free(&a);
}

/* Strict errors name the prefixed tensor; a failed load changes no part, no optimizer, no RNG. */
static void test_errors_all_or_nothing(const char *path) {
    /* A generator with one more layer: its tensors are missing from the file. */
    nb_seed(3);
    nb_module *s = nb_sequential_new();
    nb_sequential_add(s, "fc", nb_linear_new(3, 5, true));
    nb_sequential_add(s, "bn", nb_batchnorm1d_new(5));
    nb_sequential_add(s, "act", nb_activation_new(NB_ACT_RELU));
    nb_sequential_add(s, "out", nb_linear_new(5, 4, true));
    nb_sequential_add(s, "extra", nb_linear_new(4, 4, true));
    nb_model *big = nb_model_new(s, NB_INIT_DEFAULT);
    pair b = pair_new(60, true);
    nb_checkpoint_part p[2] = {{"generator", big, NULL}, {"discriminator", b.d, b.od}};
    CHECK(nb_checkpoint_load_parts(path, 2, p, NULL, NULL) == NB_ERR_FORMAT &&
              has(nb_last_error(), "'generator.extra.weight'", "not in the file"),
          "missing: %s", nb_last_error());
    char *report = NULL;
    nb_load_opts loose = {.strict = false};
    CHECK(nb_checkpoint_load_parts(path, 2, p, &loose, &report) == NB_OK && report &&
              strstr(report, "missing generator.extra.weight\n"),
          "non-strict missing: %s", report ? report : nb_last_error());
    free(report);
    /* A shape that differs, in the second part. */
    nb_model *wide_d = net(5, 4, 7, 1);
    nb_checkpoint_part ps[2] = {{"generator", b.g, NULL}, {"discriminator", wide_d, NULL}};
    CHECK(nb_checkpoint_load_parts(path, 2, ps, NULL, NULL) == NB_ERR_SHAPE &&
              has(nb_last_error(), "'discriminator.fc.weight'", "(6,4) in the file, (7,4)"),
          "shape: %s", nb_last_error());
    nb_model_free(wide_d);

    /* Both models and the generator's optimizer would load, the discriminator's SGD is refused:
     * nothing changes anywhere. */
    pair c = pair_new(70, true);
    nb_optim *sgd = nb_sgd_new(nb_model_params(c.d), (nb_sgd_opts){.lr = 0.1f, .momentum = 0.9f});
    train(c.d, sgd, 4, 1);
    snap sg = take(c.g, c.og), sd = take(c.d, sgd);
    uint64_t rng0[4], rng1[4];
    nb_rng_get_state(rng0);
    nb_checkpoint_part pc[2] = {{"generator", c.g, c.og}, {"discriminator", c.d, sgd}};
    CHECK(nb_checkpoint_load_parts(path, 2, pc, NULL, NULL) == NB_ERR_FORMAT &&
              has(nb_last_error(), "adam optimizer state for part 'discriminator'", "expected sgd"),
          "another optimizer: %s", nb_last_error());
    nb_rng_get_state(rng1);
    CHECK(same(&sg, c.g, c.og) && same(&sd, c.d, sgd), "a failed load leaves every part and optimizer as it was");
    CHECK(memcmp(rng0, rng1, sizeof rng0) == 0, "and the RNG");
    /* The same with the swap the other way: an SGD file part read into Adam. */
    char sgd_path[128];
    at(sgd_path, sizeof sgd_path, "sgd.safetensors");
    CHECK(nb_checkpoint_save_parts(sgd_path, 2, pc, NULL) == NB_OK, "%s", nb_last_error());
    nb_checkpoint_part pd[2] = {{"generator", b.g, b.og}, {"discriminator", b.d, b.od}};
    snap bg = take(b.g, b.og), bd = take(b.d, b.od);
    CHECK(nb_checkpoint_load_parts(sgd_path, 2, pd, NULL, NULL) == NB_ERR_FORMAT &&
              has(nb_last_error(), "sgd optimizer state for part 'discriminator'", "expected adam"),
          "sgd into adam: %s", nb_last_error());
    CHECK(same(&bg, b.g, b.og) && same(&bd, b.d, b.od), "unchanged after the refused swap");
    /* A file without optimizer state for a part. */
    nb_checkpoint_part weights_only[2] = {{"generator", c.g, c.og}, {"discriminator", c.d, NULL}};
    CHECK(nb_checkpoint_save_parts(sgd_path, 2, weights_only, NULL) == NB_OK, "%s", nb_last_error());
    CHECK(nb_checkpoint_load_parts(sgd_path, 2, pd, NULL, NULL) == NB_ERR_FORMAT &&
              has(nb_last_error(), "no optimizer state for part 'discriminator'", NULL),
          "no state for the part: %s", nb_last_error());
    CHECK(same(&bg, b.g, b.og) && same(&bd, b.d, b.od), "unchanged after the missing state");
    snap_free(&sg);
    snap_free(&sd);
    snap_free(&bg);
    snap_free(&bd);
    nb_optim_free(sgd);
    pair_free(&c);
    pair_free(&b);
    nb_model_free(big);
}

/* Non-finite state in the second part: NB_ERR_STATE naming "discriminator.<...>" (or its
 * optimizer key), and the file saved before stays byte for byte. */
static void test_non_finite(void) {
    char path[128];
    at(path, sizeof path, "nan.safetensors");
    pair a = pair_new(2, true);
    nb_checkpoint_part p[2];
    parts_of(&a, p);
    CHECK(nb_checkpoint_save_parts(path, 2, p, NULL) == NB_OK, "%s", nb_last_error());
    long n0;
    char *before = slurp(path, &n0);
    float *bias = nb_tensor_data(nb_params_find(nb_model_params(a.d), "out.bias"));
    bias[0] = NAN;
    CHECK(nb_checkpoint_save_parts(path, 2, p, NULL) == NB_ERR_STATE &&
              has(nb_last_error(), "nb_checkpoint_save_parts", "tensor 'discriminator.out.bias' is nan at element 0"),
          "NaN parameter: %s", nb_last_error());
    bias[0] = 0;
    float *rv = nb_tensor_data(nb_params_find(nb_model_buffers(a.d), "bn.running_var"));
    rv[2] = -INFINITY;
    CHECK(nb_checkpoint_save_parts(path, 2, p, NULL) == NB_ERR_STATE &&
              has(nb_last_error(), "tensor 'discriminator.bn.running_var' is -inf at element 2", NULL),
          "infinite buffer: %s", nb_last_error());
    rv[2] = 1;
    const char *name;
    float *s = nb_optim_state(a.od, 1, &name);
    s[3] = NAN;
    char key[96];
    snprintf(key, sizeof key, "tensor '_nabla.optim.discriminator.%s' is nan at element 3", name);
    CHECK(nb_checkpoint_save_parts(path, 2, p, NULL) == NB_ERR_STATE && has(nb_last_error(), key, NULL),
          "NaN optimizer state: %s", nb_last_error());
    long n1;
    char *after = slurp(path, &n1);
    CHECK(before && after && n0 == n1 && memcmp(before, after, (size_t)n0) == 0, "the old file is kept byte for byte");
    free(before);
    free(after);
    pair_free(&a);
}

/* One part without prefix is nb_checkpoint_save / _load; with a prefix, prefixed keys. */
static void test_one_part(void) {
    char a[128], b[128], c[128], d[128];
    at(a, sizeof a, "plain.safetensors");
    at(b, sizeof b, "parts-null.safetensors");
    at(c, sizeof c, "parts-empty.safetensors");
    at(d, sizeof d, "parts-g.safetensors");
    pair x = pair_new(4, true);
    nb_meta *meta = nb_meta_new();
    nb_meta_set(meta, "model", "mine");
    uint64_t rng[4];
    nb_rng_get_state(rng);
    CHECK(nb_checkpoint_save(a, x.g, x.og, meta) == NB_OK, "%s", nb_last_error());
    nb_checkpoint_part p = {NULL, x.g, x.og};
    CHECK(nb_checkpoint_save_parts(b, 1, &p, meta) == NB_OK, "%s", nb_last_error());
    p.prefix = "";
    CHECK(nb_checkpoint_save_parts(c, 1, &p, meta) == NB_OK, "%s", nb_last_error());
    CHECK(same_file(a, b) && same_file(a, c), "one part without prefix is nb_checkpoint_save byte for byte");
    nb_meta *got = nb_checkpoint_meta(b);
    CHECK(got && nb_meta_get(got, "_nabla.optimizer") && nb_meta_get(got, "_nabla.lr"), "unprefixed keys");
    nb_meta_free(got);
    /* Loading it either way gives the same. */
    pair y = pair_new(40, false), z = pair_new(41, false);
    snap want = take(x.g, x.og);
    nb_checkpoint_part q = {NULL, y.g, y.og};
    CHECK(nb_checkpoint_load_parts(a, 1, &q, NULL, NULL) == NB_OK && same(&want, y.g, y.og), "%s", nb_last_error());
    CHECK(nb_checkpoint_load(b, z.g, z.og, NULL, NULL) == NB_OK && same(&want, z.g, z.og), "%s", nb_last_error());

    /* One part with a prefix: its names and optimizer keys carry the prefix. */
    p.prefix = "g";
    CHECK(nb_checkpoint_save_parts(d, 1, &p, NULL) == NB_OK, "%s", nb_last_error());
    nb_st_reader *r = nb_st_open(d);
    CHECK(r && nb_st_find(r, "g.fc.weight") && nb_st_find(r, "g.bn.num_batches_tracked") &&
              nb_st_find(r, "_nabla.optim.g.steps") && nb_st_find(r, "_nabla.optim.g.exp_avg") &&
              nb_st_find(r, "_nabla.rng") && !nb_st_find(r, "fc.weight") && !nb_st_find(r, "_nabla.optim.steps") &&
              nb_st_meta_get(r, "_nabla.optimizer.g") && nb_st_meta_get(r, "_nabla.lr.g") &&
              !nb_st_meta_get(r, "_nabla.optimizer"),
          "prefixed one-part file");
    if (r) nb_st_close(r);
    CHECK(nb_checkpoint_load(d, z.g, NULL, NULL, NULL) == NB_ERR_FORMAT && has(nb_last_error(), "'fc.weight'", NULL),
          "a prefixed file does not load without the prefix: %s", nb_last_error());
    CHECK(nb_checkpoint_load(d, z.g, z.og, &(nb_load_opts){.strict = false}, NULL) == NB_ERR_FORMAT &&
              has(nb_last_error(), "no optimizer state", NULL),
          "nor its optimizer: %s", nb_last_error());
    pair w = pair_new(42, false);
    q = (nb_checkpoint_part){"g", w.g, w.og};
    CHECK(nb_checkpoint_load_parts(d, 1, &q, NULL, NULL) == NB_OK && same(&want, w.g, w.og), "%s", nb_last_error());
    snap_free(&want);
    nb_meta_free(meta);
    pair_free(&w);
    pair_free(&x);
    pair_free(&y);
    pair_free(&z);
}

/* Every bad argument: NB_ERR_ARG naming the function and the problem; nothing is written. */
static void test_bad_args(const char *good) {
    char path[128];
    at(path, sizeof path, "never.safetensors");
    pair x = pair_new(5, false);
    nb_checkpoint_part ok[2];
    parts_of(&x, ok);
    struct {
        const char *p0, *p1;
        int n;
        bool no_parts, no_model;
        const char *why;
    } bad[] = {
        {"generator", "discriminator", 0, false, false, "0 parts, expected 1 to 8"},
        {"generator", "discriminator", 9, false, false, "9 parts, expected 1 to 8"},
        {"generator", "discriminator", -1, false, false, "-1 parts"},
        {"generator", "discriminator", 2, true, false, "parts is NULL"},
        {"generator", "discriminator", 2, false, true, "part 1 ('discriminator') has no model"},
        {"gan", "gan", 2, false, false, "parts 0 and 1 have the same prefix 'gan'"},
        {"g", "g.x", 2, false, false, "prefix 'g' (part 0) is a dotted prefix of 'g.x' (part 1)"},
        {"g.x.y", "g.x", 2, false, false, "prefix 'g.x' (part 1) is a dotted prefix of 'g.x.y' (part 0)"},
        {"g x", "d", 2, false, false, "prefix 'g x' has the character 0x20 at 1"},
        {"g", "d/e", 2, false, false, "prefix 'd/e' has the character 0x2f at 1"},
        {"g", "d\xc3\xa9", 2, false, false, "has the character 0xc3 at 1"},
        {".g", "d", 2, false, false, "prefix '.g' starts or ends with '.'"},
        {"g", "d.", 2, false, false, "prefix 'd.' starts or ends with '.'"},
        {"g..x", "d", 2, false, false, "holds '..'"},
        {NULL, "d", 2, false, false, "part 0 has no prefix: with 2 parts each needs one"},
        {"g", "", 2, false, false, "part 1 has no prefix"},
        {"g", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 2, false, false,
         "is over 64 characters"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        nb_checkpoint_part p[9];
        for (int k = 0; k < 9; k++) p[k] = ok[k % 2];
        p[0].prefix = bad[i].p0;
        p[1].prefix = bad[i].p1;
        if (bad[i].no_model) p[1].model = NULL;
        const nb_checkpoint_part *pp = bad[i].no_parts ? NULL : p;
        nb_status s = nb_checkpoint_save_parts(path, bad[i].n, pp, NULL);
        CHECK(s == NB_ERR_ARG && has(nb_last_error(), "nb_checkpoint_save_parts: ", bad[i].why), "save case %zu: %d %s",
              i, s, nb_last_error());
        s = nb_checkpoint_load_parts(good, bad[i].n, pp, NULL, NULL);
        CHECK(s == NB_ERR_ARG && has(nb_last_error(), "nb_checkpoint_load_parts: ", bad[i].why), "load case %zu: %d %s",
              i, s, nb_last_error());
    }
    CHECK(nb_checkpoint_save_parts(NULL, 2, ok, NULL) == NB_ERR_ARG && has(nb_last_error(), "path", NULL), "no path");
    char *report = (char *)"x";
    CHECK(nb_checkpoint_load_parts(NULL, 2, ok, NULL, &report) == NB_ERR_ARG && report == NULL, "no path to load");
    nb_meta *fmt = nb_meta_new();
    nb_meta_set(fmt, "format", "mine");
    CHECK(nb_checkpoint_save_parts(path, 2, ok, fmt) == NB_ERR_ARG && has(nb_last_error(), "'format'", NULL),
          "format is nabla's: %s", nb_last_error());
    nb_meta_free(fmt);
    CHECK(access(path, F_OK) != 0, "no bad call wrote a file");
    /* Eight parts are fine; "g" and "gx" are not prefixes of each other. */
    nb_model *m[8];
    nb_checkpoint_part eight[8];
    char names[8][8];
    for (int i = 0; i < 8; i++) {
        m[i] = net((uint64_t)i, 2, 3, 2);
        snprintf(names[i], sizeof names[i], i == 1 ? "p0x" : "p%d.a", i);
        eight[i] = (nb_checkpoint_part){names[i], m[i], NULL};
    }
    snprintf(names[0], sizeof names[0], "p0");
    CHECK(nb_checkpoint_save_parts(path, 8, eight, NULL) == NB_OK, "eight parts: %s", nb_last_error());
    CHECK(nb_checkpoint_load_parts(path, 8, eight, NULL, NULL) == NB_OK, "eight parts back: %s", nb_last_error());
    for (int i = 0; i < 8; i++) nb_model_free(m[i]);
    pair_free(&x);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/nabla_ckparts_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    char gan[128];
    at(gan, sizeof gan, "gan.safetensors");
    test_round_trip(gan);
    test_one_part_alone(gan);
    test_errors_all_or_nothing(gan);
    test_non_finite();
    test_one_part();
    test_bad_args(gan);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return test_end("test_checkpoint_parts");
}
