/* LoRA adapters (src/nn/lora.c, docs/lora.md): a LoRA Linear against a hand-written PyTorch twin
 * (tests/fixtures/lora/, written by tests/gen_lora_fixtures.py: forward, the gradients of x,
 * lora_A and lora_B, none for the frozen base, the merged weight; (N, T, D) and (N, D) inputs),
 * central differences, B = 0 giving the plain Linear's outputs, training with the base frozen
 * (base bit-identical, loss down), merging and saving the plain model (no adapter names, strict
 * load into the plain model with the same outputs), a plain checkpoint into a LoRA model, a
 * bit-identical resume, prefixes over a nested Sequential and the errors.
 *
 * With NB_LORA_SAVE=DIR set it also writes DIR/merged.safetensors (a trained and merged
 * Linear-Tanh-Linear model) and DIR/outputs.safetensors (x, y), for
 *   /usr/bin/python3 tests/torch_check_lora.py DIR/merged.safetensors DIR/outputs.safetensors */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#define DIR "fixtures/lora/"
#define TOL 1e-5

static char g_dir[64];

/* max |a-b| / max(1, |b|) over n values */
static double rel_diff(const float *a, const float *b, int64_t n) {
    double w = 0;
    for (int64_t i = 0; i < n; i++) w = fmax(w, fabs((double)a[i] - b[i]) / fmax(1.0, fabs(b[i])));
    return w;
}

static nb_tensor *param(nb_model *m, const char *name) { return nb_params_find(nb_model_params(m), name); }

/* Reads the fixture tensor name (shape of t) and compares it with got (t's size). */
static void compare(const char *cas, nb_st_reader *r, const char *name, const float *got, const nb_tensor *t) {
    int64_t n = nb_tensor_numel(t);
    float *ref = malloc((size_t)n * sizeof *ref);
    nb_status st = nb_st_read_f32(r, name, nb_tensor_ndim(t), nb_tensor_shape(t), ref);
    CHECK(st == NB_OK && got, "%s: %s: %s", cas, name, got ? nb_last_error() : "no value from nabla");
    if (!st && got) {
        double d = rel_diff(got, ref, n);
        CHECK(d <= TOL, "%s: %s differs from PyTorch by %g", cas, name, d);
    }
    free(ref);
}

static nb_tensor *read_heap(nb_st_reader *r, const char *name) {
    const nb_st_tensor *s = nb_st_find(r, name);
    if (!s) return NULL;
    nb_tensor *t = nb_tensor_new(s->ndim, s->shape);
    if (t && nb_st_read_f32(r, name, s->ndim, s->shape, nb_tensor_data(t)) == NB_OK) return t;
    nb_tensor_free(t);
    return NULL;
}

/* sum(w * y) */
static nb_tensor *weighted_sum(nb_tensor *y, nb_tensor *w) { return nb_sum(nb_mul(y, w), NB_ALL_AXES, false); }

/* ---- against PyTorch -------------------------------------------------------------------------- */
static void torch_case(const char *cas) {
    char path[256];
    snprintf(path, sizeof path, DIR "%s.safetensors", cas);
    nb_st_reader *r = nb_st_open(path);
    CHECK(r != NULL, "%s", nb_last_error());
    if (!r) return;
    int in = atoi(nb_st_meta_get(r, "in")), out = atoi(nb_st_meta_get(r, "out")), rank = atoi(nb_st_meta_get(r, "r"));
    float alpha = strtof(nb_st_meta_get(r, "alpha"), NULL);
    bool bias = strcmp(nb_st_meta_get(r, "bias"), "1") == 0;
    nb_model *m = nb_model_new(nb_linear_new(in, out, bias), NB_INIT_DEFAULT);
    int count = 0, trainable = 0;
    CHECK(nb_lora_apply(m, NULL, rank, alpha, &count) == NB_OK && count == 1, "%s: %s", cas, nb_last_error());
    CHECK(nb_lora_freeze_base(m, NULL, &trainable) == NB_OK && trainable == 2, "%s: %d trainable", cas, trainable);
    /* the Linear keeps its names; the adapters follow it */
    nb_params *p = nb_model_params(m);
    int k = 0;
    CHECK(strcmp(nb_params_name(p, k++), "weight") == 0, "%s: first name %s", cas, nb_params_name(p, 0));
    if (bias) CHECK(strcmp(nb_params_name(p, k++), "bias") == 0, "%s: second name %s", cas, nb_params_name(p, 1));
    CHECK(nb_params_count(p) == k + 2 && strcmp(nb_params_name(p, k), "lora_A") == 0 &&
              strcmp(nb_params_name(p, k + 1), "lora_B") == 0, "%s: adapter names", cas);
    for (int i = 0; i < nb_params_count(p); i++) {
        nb_tensor *t = nb_params_get(p, i);
        CHECK(nb_st_read_f32(r, nb_params_name(p, i), nb_tensor_ndim(t), nb_tensor_shape(t), nb_tensor_data(t)) == NB_OK,
              "%s: %s", cas, nb_last_error());
    }
    nb_tensor *x = read_heap(r, "x"), *w_out = read_heap(r, "w_out");
    CHECK(x && w_out, "%s: inputs", cas);
    nb_tensor_set_requires_grad(x, true);
    nb_params_zero_grad(p);
    nb_tensor *y = nb_model_forward(m, x);
    CHECK(y && nb_backward(weighted_sum(y, w_out)) == NB_OK, "%s: %s", cas, nb_last_error());
    if (y) {
        compare(cas, r, "y", nb_tensor_data(y), y);
        compare(cas, r, "grad.x", nb_tensor_grad(x), x);
        compare(cas, r, "grad.lora_A", nb_tensor_grad(param(m, "lora_A")), param(m, "lora_A"));
        compare(cas, r, "grad.lora_B", nb_tensor_grad(param(m, "lora_B")), param(m, "lora_B"));
        /* the frozen base gets no gradient */
        const float *g = nb_params_grad(p);
        int64_t nz = 0, nbase = nb_tensor_numel(param(m, "weight")) + (bias ? out : 0);
        for (int i = 0; i < k; i++) {
            nb_tensor *t = nb_params_get(p, i);
            const float *gt = g + (nb_tensor_data(t) - nb_params_data(p));
            for (int64_t j = 0; j < nb_tensor_numel(t); j++) nz += gt[j] != 0;
        }
        CHECK(nz == 0, "%s: the frozen base got %lld non-zero gradients of %lld", cas, (long long)nz, (long long)nbase);
    }
    int64_t ny = y ? nb_tensor_numel(y) : 0;
    float *before = malloc((size_t)(ny ? ny : 1) * sizeof *before);
    if (y) memcpy(before, nb_tensor_data(y), (size_t)ny * sizeof *before);
    nb_step_reset();
    /* merge: W + scaling B A as PEFT's merge_and_unload, and the same outputs */
    CHECK(nb_lora_merge(m, &count) == NB_OK && count == 1, "%s: merge: %s", cas, nb_last_error());
    compare(cas, r, "merged.weight", nb_tensor_data(param(m, "weight")), param(m, "weight"));
    nb_no_grad_begin();
    y = nb_model_forward(m, x);
    nb_no_grad_end();
    CHECK(y && rel_diff(nb_tensor_data(y), before, ny) <= TOL, "%s: merged outputs differ by %g", cas,
          y ? rel_diff(nb_tensor_data(y), before, ny) : -1.0);
    nb_step_reset();
    free(before);
    nb_tensor_free(x);
    nb_tensor_free(w_out);
    nb_model_free(m);
    nb_st_close(r);
}

static void test_torch(void) {
    FILE *f = fopen(DIR "cases.txt", "r");
    CHECK(f != NULL, "no " DIR "cases.txt (run tests/gen_lora_fixtures.py)");
    if (!f) return;
    char line[128];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line) continue;
        torch_case(line);
        n++;
    }
    fclose(f);
    CHECK(n == 3, "%d torch cases", n);
}

/* ---- central differences ---------------------------------------------------------------------- */
static double loss_of(nb_model *m, nb_tensor *x, nb_tensor *w) {
    nb_no_grad_begin();
    nb_tensor *y = nb_model_forward(m, x);
    double s = 0;
    for (int64_t i = 0; y && i < nb_tensor_numel(y); i++) s += (double)nb_tensor_data(y)[i] * nb_tensor_data(w)[i];
    nb_no_grad_end();
    nb_step_reset();
    return s;
}

/* d loss / d t by central differences against the analytic gradient g (a copy). */
static void fd_check(const char *what, nb_model *m, nb_tensor *x, nb_tensor *w, nb_tensor *t, const float *g) {
    const float eps = 1e-2f;
    double worst = 0;
    for (int64_t i = 0; i < nb_tensor_numel(t); i++) {
        float *v = nb_tensor_data(t) + i, keep = *v;
        *v = keep + eps;
        double up = loss_of(m, x, w);
        *v = keep - eps;
        double dn = loss_of(m, x, w);
        *v = keep;
        double num = (up - dn) / (2.0 * (double)eps);
        worst = fmax(worst, fabs(num - g[i]) / fmax(1.0, fabs(num)));
    }
    CHECK(worst < 2e-3, "finite differences: %s off by %g", what, worst);
}

static void test_gradcheck(void) {
    nb_seed(7);
    nb_model *m = nb_model_new(nb_linear_new(5, 3, true), NB_INIT_DEFAULT);
    CHECK(nb_lora_apply(m, NULL, 2, 3.0f, NULL) == NB_OK, "%s", nb_last_error());
    nb_tensor_fill_normal(param(m, "lora_B"), 0, 0.5f); /* a trained adapter: every path carries gradient */
    nb_tensor *x = nb_tensor_new(3, (int64_t[]){2, 3, 5}), *w = nb_tensor_new(3, (int64_t[]){2, 3, 3});
    nb_tensor_fill_normal(x, 0, 1);
    nb_tensor_fill_normal(w, 0, 1);
    nb_tensor_set_requires_grad(x, true);
    nb_params *p = nb_model_params(m);
    nb_params_zero_grad(p);
    nb_tensor *y = nb_model_forward(m, x);
    CHECK(y && nb_backward(weighted_sum(y, w)) == NB_OK, "%s", nb_last_error());
    const char *names[] = {"weight", "bias", "lora_A", "lora_B"};
    float *g[5];
    for (int i = 0; i < 4; i++) {
        nb_tensor *t = param(m, names[i]);
        g[i] = malloc((size_t)nb_tensor_numel(t) * sizeof(float));
        memcpy(g[i], nb_tensor_grad(t), (size_t)nb_tensor_numel(t) * sizeof(float));
    }
    g[4] = malloc((size_t)nb_tensor_numel(x) * sizeof(float));
    memcpy(g[4], nb_tensor_grad(x), (size_t)nb_tensor_numel(x) * sizeof(float));
    nb_step_reset();
    for (int i = 0; i < 4; i++) fd_check(names[i], m, x, w, param(m, names[i]), g[i]);
    fd_check("x", m, x, w, x, g[4]);
    for (int i = 0; i < 5; i++) free(g[i]);
    nb_tensor_free(x);
    nb_tensor_free(w);
    nb_model_free(m);
}

/* ---- models ----------------------------------------------------------------------------------- */
/* "0" Linear(4, 16), "1" Tanh, "2" Linear(16, 3) */
static nb_model *mlp(uint64_t seed) {
    nb_seed(seed);
    nb_module *s = nb_sequential_new();
    nb_sequential_add(s, "0", nb_linear_new(4, 16, true));
    nb_sequential_add(s, "1", nb_activation_new(NB_ACT_TANH));
    nb_sequential_add(s, "2", nb_linear_new(16, 3, true));
    return nb_model_new(s, NB_INIT_DEFAULT);
}

/* outputs (n floats) of m on x, malloc'd */
static float *outputs(nb_model *m, nb_tensor *x, int64_t *n) {
    nb_no_grad_begin();
    nb_tensor *y = nb_model_forward(m, x);
    nb_no_grad_end();
    *n = y ? nb_tensor_numel(y) : 0;
    float *o = malloc((size_t)(*n ? *n : 1) * sizeof *o);
    if (y) memcpy(o, nb_tensor_data(y), (size_t)*n * sizeof *o);
    nb_step_reset();
    return o;
}

static void test_b_zero(void) {
    nb_model *plain = mlp(3), *lora = mlp(3);
    CHECK(nb_lora_apply(lora, NULL, 4, 8.0f, NULL) == NB_OK, "%s", nb_last_error());
    nb_seed(11);
    nb_tensor *x = nb_tensor_new(3, (int64_t[]){2, 5, 4}); /* (N, T, D) */
    nb_tensor_fill_normal(x, 0, 1);
    int64_t n0, n1;
    float *a = outputs(plain, x, &n0), *b = outputs(lora, x, &n1);
    CHECK(n0 == 30 && n1 == n0 && memcmp(a, b, (size_t)n0 * sizeof *a) == 0, "B = 0: outputs differ from the plain model");
    float sa = 0;
    nb_tensor *A = param(lora, "0.lora_A");
    for (int64_t i = 0; i < nb_tensor_numel(A); i++) sa = fmaxf(sa, fabsf(nb_tensor_data(A)[i]));
    CHECK(sa > 0 && sa <= 0.5f, "lora_A (4, 4) should be U(+-1/2), max |A| %g", (double)sa); /* 1/sqrt(in = 4) */
    free(a);
    free(b);
    nb_tensor_free(x);
    nb_model_free(plain);
    nb_model_free(lora);
}

/* A small classification problem: 64 points in R^4, 3 classes from a random linear teacher. */
typedef struct problem {
    nb_tensor *x, *y;
} problem;

static problem make_problem(void) {
    nb_seed(5);
    problem pr = {nb_tensor_new(2, (int64_t[]){64, 4}), nb_index_new(1, (int64_t[]){64})};
    nb_tensor_fill_normal(pr.x, 0, 1);
    float t[3][4];
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 4; j++) t[k][j] = nb_rng_normal();
    for (int i = 0; i < 64; i++) {
        int best = 0;
        float bv = -INFINITY;
        for (int k = 0; k < 3; k++) {
            float v = 0;
            for (int j = 0; j < 4; j++) v += t[k][j] * nb_tensor_data(pr.x)[i * 4 + j];
            if (v > bv) bv = v, best = k;
        }
        nb_tensor_idata(pr.y)[i] = best;
    }
    return pr;
}

/* One step on samples [16 (step % 4), +16); returns the loss. */
static float train_step(nb_model *m, nb_optim *o, problem *pr, int step) {
    int off = 16 * (step % 4);
    nb_tensor *xb = nb_step_tensor(2, (int64_t[]){16, 4}, nb_tensor_data(pr->x) + off * 4);
    nb_tensor *yb = nb_step_index(1, (int64_t[]){16}, nb_tensor_idata(pr->y) + off);
    nb_params_zero_grad(nb_model_params(m));
    nb_tensor *loss = nb_cross_entropy(nb_model_forward(m, xb), yb);
    float v = loss ? nb_tensor_item(loss) : NAN;
    if (!loss || nb_backward(loss) || nb_optim_step(o)) v = NAN;
    nb_step_reset();
    return v;
}

static float full_loss(nb_model *m, problem *pr) {
    nb_no_grad_begin();
    nb_tensor *l = nb_cross_entropy(nb_model_forward(m, pr->x), pr->y);
    float v = l ? nb_tensor_item(l) : NAN;
    nb_no_grad_end();
    nb_step_reset();
    return v;
}

static bool file_has_lora(const char *path) {
    nb_st_reader *r = nb_st_open(path);
    bool any = !r;
    for (int i = 0; r && i < nb_st_count(r); i++) any |= strstr(nb_st_get(r, i)->name, "lora") != NULL;
    nb_st_close(r);
    return any;
}

static void test_train_merge_save(void) {
    problem pr = make_problem();
    nb_model *m = mlp(1);
    int64_t total0 = nb_model_param_count(m, false);
    CHECK(total0 == 4 * 16 + 16 + 16 * 3 + 3, "plain parameters %lld", (long long)total0);
    int count = 0, trainable = 0;
    CHECK(nb_lora_apply(m, "0", 4, 8.0f, &count) == NB_OK && count == 1, "%s", nb_last_error());
    CHECK(nb_lora_freeze_base(m, "2", &trainable) == NB_OK && trainable == 4, "trainable tensors %d: %s", trainable,
          nb_last_error());
    CHECK(nb_model_param_count(m, false) == total0 + 4 * 4 + 16 * 4, "total %lld", (long long)nb_model_param_count(m, false));
    CHECK(nb_model_param_count(m, true) == 4 * 4 + 16 * 4 + 16 * 3 + 3, "trainable %lld",
          (long long)nb_model_param_count(m, true));
    nb_tensor *w0 = param(m, "0.weight"), *b0 = param(m, "0.bias"), *w2 = param(m, "2.weight");
    float *keep_w = malloc(64 * sizeof(float)), keep_b[16], keep_w2[48];
    memcpy(keep_w, nb_tensor_data(w0), 64 * sizeof(float));
    memcpy(keep_b, nb_tensor_data(b0), sizeof keep_b);
    memcpy(keep_w2, nb_tensor_data(w2), sizeof keep_w2);
    nb_optim *o = nb_adam_new(nb_model_params(m), nb_adam_defaults(0.02f));
    float first = full_loss(m, &pr);
    for (int s = 0; s < 40; s++) train_step(m, o, &pr, s);
    float last = full_loss(m, &pr);
    CHECK(last < 0.7f * first, "loss %g -> %g: did not go down", (double)first, (double)last);
    CHECK(memcmp(keep_w, nb_tensor_data(w0), 64 * sizeof(float)) == 0 && memcmp(keep_b, nb_tensor_data(b0), sizeof keep_b) == 0,
          "the frozen base changed");
    CHECK(memcmp(keep_w2, nb_tensor_data(w2), sizeof keep_w2) != 0, "the head did not train");
    float bmax = 0;
    for (int i = 0; i < 64; i++) bmax = fmaxf(bmax, fabsf(nb_tensor_data(param(m, "0.lora_B"))[i]));
    CHECK(bmax > 0, "lora_B did not train");

    /* saving the plain model refuses unmerged adapters, keeping the file there */
    char path[128], plain_path[128];
    snprintf(path, sizeof path, "%s/merged.safetensors", g_dir);
    snprintf(plain_path, sizeof plain_path, "%s/plain.safetensors", g_dir);
    nb_model *plain = mlp(99);
    CHECK(nb_checkpoint_save(path, plain, NULL, NULL) == NB_OK, "%s", nb_last_error());
    CHECK(nb_checkpoint_save_merged(path, m, NULL) == NB_ERR_STATE && strstr(nb_last_error(), "0.lora_B") &&
              strstr(nb_last_error(), "nb_lora_merge"), "unmerged save: %s", nb_last_error());
    CHECK(!file_has_lora(path) && nb_checkpoint_load(path, plain, NULL, NULL, NULL) == NB_OK,
          "the old file was damaged: %s", nb_last_error());
    /* merge: same outputs */
    int64_t n0, n1, n2;
    float *before = outputs(m, pr.x, &n0);
    CHECK(nb_lora_merge(m, &count) == NB_OK && count == 1, "%s", nb_last_error());
    float *after = outputs(m, pr.x, &n1);
    CHECK(n1 == n0 && rel_diff(after, before, n0) <= TOL, "merge changed the outputs by %g", rel_diff(after, before, n0));
    CHECK(memcmp(keep_w, nb_tensor_data(w0), 64 * sizeof(float)) != 0, "merge left W as it was");
    /* the merged file: no adapter, loads strictly into the plain model, same outputs */
    CHECK(nb_checkpoint_save_merged(path, m, NULL) == NB_OK, "%s", nb_last_error());
    CHECK(!file_has_lora(path), "the merged file holds adapter tensors");
    char *report = NULL;
    CHECK(nb_checkpoint_load(path, plain, NULL, NULL, &report) == NB_OK && !report, "strict load: %s",
          report ? report : nb_last_error());
    free(report);
    float *p_out = outputs(plain, pr.x, &n2);
    CHECK(n2 == n0 && rel_diff(p_out, after, n0) <= 1e-6, "plain model on the merged file differs by %g",
          rel_diff(p_out, after, n0));
    /* and the LoRA file itself does not load into the plain model */
    CHECK(nb_checkpoint_save(plain_path, m, NULL, NULL) == NB_OK, "%s", nb_last_error());
    CHECK(nb_checkpoint_load(plain_path, plain, NULL, NULL, NULL) == NB_ERR_FORMAT && strstr(nb_last_error(), "0.lora_A"),
          "LoRA file into the plain model: %s", nb_last_error());

    const char *save_dir = getenv("NB_LORA_SAVE");
    if (save_dir && *save_dir) {
        char p1[512], p2[512];
        snprintf(p1, sizeof p1, "%s/merged.safetensors", save_dir);
        snprintf(p2, sizeof p2, "%s/outputs.safetensors", save_dir);
        nb_st_writer *w = nb_st_writer_new();
        CHECK(nb_checkpoint_save_merged(p1, m, NULL) == NB_OK && w &&
                  nb_st_add(w, "x", NB_ST_F32, 2, (int64_t[]){64, 4}, nb_tensor_data(pr.x)) == NB_OK &&
                  nb_st_add(w, "y", NB_ST_F32, 2, (int64_t[]){64, 3}, after) == NB_OK && nb_st_write(w, p2) == NB_OK,
              "NB_LORA_SAVE: %s", nb_last_error());
        nb_st_writer_free(w);
        printf("wrote %s and %s\n", p1, p2);
    }
    free(keep_w);
    free(before);
    free(after);
    free(p_out);
    nb_optim_free(o);
    nb_model_free(m);
    nb_model_free(plain);
    nb_tensor_free(pr.x);
    nb_tensor_free(pr.y);
}

/* A plain model's file into a LoRA model (the adapters keep their values); a file with some
 * adapters must have them all. */
static void test_load_plain(void) {
    char path[128], part[128];
    snprintf(path, sizeof path, "%s/pre.safetensors", g_dir);
    snprintf(part, sizeof part, "%s/part.safetensors", g_dir);
    nb_model *pre = mlp(21), *m = mlp(22), *m0 = mlp(23);
    CHECK(nb_checkpoint_save(path, pre, NULL, NULL) == NB_OK, "%s", nb_last_error());
    CHECK(nb_lora_apply(m, NULL, 2, 2.0f, NULL) == NB_OK, "%s", nb_last_error());
    float a_before = nb_tensor_data(param(m, "2.lora_A"))[0];
    char *report = NULL;
    CHECK(nb_checkpoint_load(path, m, NULL, NULL, &report) == NB_OK, "plain file into a LoRA model: %s", nb_last_error());
    CHECK(report && strstr(report, "missing 0.lora_A") && strstr(report, "missing 2.lora_B"), "report: %s",
          report ? report : "(none)");
    free(report);
    CHECK(memcmp(nb_tensor_data(param(m, "0.weight")), nb_tensor_data(param(pre, "0.weight")), 64 * sizeof(float)) == 0 &&
              nb_tensor_data(param(m, "2.lora_A"))[0] == a_before, "loaded values");
    /* a file with the adapters of "0" only does not fill the adapters of "2" */
    CHECK(nb_lora_apply(m0, "0", 2, 2.0f, NULL) == NB_OK, "%s", nb_last_error());
    CHECK(nb_checkpoint_save(part, m0, NULL, NULL) == NB_OK, "%s", nb_last_error());
    CHECK(nb_checkpoint_load(part, m, NULL, NULL, NULL) == NB_ERR_FORMAT && strstr(nb_last_error(), "2.lora_A"),
          "partly adapted file: %s", nb_last_error());
    nb_model_free(pre);
    nb_model_free(m);
    nb_model_free(m0);
}

/* Train 2 steps, save, load into a model built the same way, 2 more == 4 steps straight. */
static nb_model *lora_mlp(uint64_t seed, nb_optim **o) {
    nb_model *m = mlp(seed);
    CHECK(nb_lora_apply(m, "0,2", 3, 6.0f, NULL) == NB_OK && nb_lora_freeze_base(m, "2.bias", NULL) == NB_OK, "%s",
          nb_last_error());
    *o = nb_adam_new(nb_model_params(m), nb_adam_defaults(0.01f));
    return m;
}

static void test_resume(void) {
    problem pr = make_problem();
    char path[128];
    snprintf(path, sizeof path, "%s/ckpt.safetensors", g_dir);
    nb_optim *o1, *o2;
    nb_model *a = lora_mlp(31, &o1), *b = lora_mlp(32, &o2);
    for (int s = 0; s < 2; s++) train_step(a, o1, &pr, s);
    CHECK(nb_checkpoint_save(path, a, o1, NULL) == NB_OK, "%s", nb_last_error());
    for (int s = 2; s < 4; s++) train_step(a, o1, &pr, s);
    CHECK(nb_checkpoint_load(path, b, o2, NULL, NULL) == NB_OK, "resume: %s", nb_last_error());
    for (int s = 2; s < 4; s++) train_step(b, o2, &pr, s);
    nb_params *pa = nb_model_params(a), *pb = nb_model_params(b);
    CHECK(nb_params_numel(pa) == nb_params_numel(pb) &&
              memcmp(nb_params_data(pa), nb_params_data(pb), (size_t)nb_params_numel(pa) * sizeof(float)) == 0,
          "resumed run differs from the straight run");
    for (int i = 0; i < nb_optim_state_count(o1); i++)
        CHECK(memcmp(nb_optim_state(o1, i, NULL), nb_optim_state(o2, i, NULL),
                     (size_t)nb_params_numel(pa) * sizeof(float)) == 0, "optimizer state %d differs", i);
    nb_optim_free(o1);
    nb_optim_free(o2);
    nb_model_free(a);
    nb_model_free(b);
    nb_tensor_free(pr.x);
    nb_tensor_free(pr.y);
}

/* ---- prefixes and errors ------------------------------------------------------------------------ */
/* "enc" (Sequential "0" Linear(4, 8), "1" ReLU, "2" Linear(8, 8)), "act" Tanh, "head" Linear(8, 2) */
static nb_model *nested(void) {
    nb_seed(41);
    nb_module *enc = nb_sequential_new(), *root = nb_sequential_new();
    nb_sequential_add(enc, "0", nb_linear_new(4, 8, true));
    nb_sequential_add(enc, "1", nb_activation_new(NB_ACT_RELU));
    nb_sequential_add(enc, "2", nb_linear_new(8, 8, false));
    nb_sequential_add(root, "enc", enc);
    nb_sequential_add(root, "act", nb_activation_new(NB_ACT_TANH));
    nb_sequential_add(root, "head", nb_linear_new(8, 2, true));
    return nb_model_new(root, NB_INIT_DEFAULT);
}

static void expect_err(nb_status st, nb_status want, const char *text, const char *what) {
    CHECK(st == want && strstr(nb_last_error(), text), "%s: status %d, message '%s' (wanted '%s')", what, (int)st,
          nb_last_error(), text);
}

static void test_prefixes(void) {
    nb_model *m = nested();
    int n0 = nb_params_count(nb_model_params(m)), count = -1;
    expect_err(nb_lora_apply(m, "nope", 2, 1, &count), NB_ERR_ARG, "no module named 'nope'", "unknown path");
    expect_err(nb_lora_apply(m, "en", 2, 1, NULL), NB_ERR_ARG, "no module named 'en'", "partial name");
    expect_err(nb_lora_apply(m, "act", 2, 1, NULL), NB_ERR_ARG, "'act' (Tanh) holds no Linear", "activation");
    expect_err(nb_lora_apply(m, "enc.1", 2, 1, NULL), NB_ERR_ARG, "'enc.1' (ReLU) holds no Linear", "ReLU");
    expect_err(nb_lora_apply(m, "enc,nope", 2, 1, NULL), NB_ERR_ARG, "'nope'", "one bad prefix of two");
    expect_err(nb_lora_apply(m, "enc,", 2, 1, NULL), NB_ERR_ARG, "comma", "trailing comma");
    expect_err(nb_lora_apply(m, NULL, 0, 1, NULL), NB_ERR_ARG, "rank r must be", "r = 0");
    expect_err(nb_lora_apply(m, NULL, -3, 1, NULL), NB_ERR_ARG, "rank r must be", "r < 0");
    expect_err(nb_lora_apply(m, NULL, 2, 0, NULL), NB_ERR_ARG, "alpha must be > 0", "alpha = 0");
    expect_err(nb_lora_apply(m, NULL, 2, -1, NULL), NB_ERR_ARG, "alpha must be > 0", "alpha < 0");
    expect_err(nb_lora_apply(m, NULL, 2, NAN, NULL), NB_ERR_ARG, "alpha must be > 0", "alpha NaN");
    expect_err(nb_lora_apply(m, NULL, 2, INFINITY, NULL), NB_ERR_ARG, "alpha must be > 0", "alpha inf");
    expect_err(nb_lora_apply(NULL, NULL, 2, 1, NULL), NB_ERR_ARG, "model is NULL", "NULL model");
    expect_err(nb_lora_freeze_base(m, NULL, NULL), NB_ERR_STATE, "no LoRA adapters", "freeze without adapters");
    expect_err(nb_lora_merge(m, NULL), NB_ERR_STATE, "no LoRA adapters", "merge without adapters");
    CHECK(count == 0 && nb_params_count(nb_model_params(m)) == n0, "a failed apply changed the model");

    CHECK(nb_lora_apply(m, "enc", 2, 4.0f, &count) == NB_OK && count == 2, "enc: %d: %s", count, nb_last_error());
    CHECK(param(m, "enc.0.lora_A") && param(m, "enc.0.lora_B") && param(m, "enc.2.lora_A") && param(m, "enc.2.lora_B") &&
              !param(m, "head.lora_A"), "adapter names");
    nb_tensor *b2 = param(m, "enc.2.lora_B");
    CHECK(b2 && nb_tensor_shape(b2)[0] == 8 && nb_tensor_shape(b2)[1] == 2, "enc.2.lora_B shape");
    expect_err(nb_lora_apply(m, "enc.0", 2, 1, NULL), NB_ERR_STATE, "already has LoRA adapters", "twice");
    expect_err(nb_lora_apply(m, NULL, 2, 1, NULL), NB_ERR_STATE, "already has LoRA adapters", "all, twice");
    CHECK(nb_lora_apply(m, "head", 1, 1.0f, &count) == NB_OK && count == 1, "head: %s", nb_last_error());
    /* an optimizer made before an apply refuses to step */
    nb_optim *o = nb_adam_new(nb_model_params(m), nb_adam_defaults(0.01f));
    nb_model *m2 = nested();
    nb_optim *o2 = nb_adam_new(nb_model_params(m2), nb_adam_defaults(0.01f));
    CHECK(nb_lora_apply(m2, "head", 1, 1.0f, NULL) == NB_OK, "%s", nb_last_error());
    expect_err(nb_optim_step(o2), NB_ERR_STATE, "grew", "optimizer made before the adapters");
    nb_optim_free(o2);
    nb_model_free(m2);
    /* freezing */
    int trainable = -1;
    expect_err(nb_lora_freeze_base(m, "hed", &trainable), NB_ERR_ARG, "'hed'", "bad trainable prefix");
    CHECK(trainable == 0 && nb_tensor_requires_grad(param(m, "enc.0.weight")), "a failed freeze changed the model");
    CHECK(nb_lora_freeze_base(m, NULL, &trainable) == NB_OK && trainable == 6, "adapters only: %d", trainable);
    CHECK(!nb_tensor_requires_grad(param(m, "head.weight")) && nb_tensor_requires_grad(param(m, "head.lora_B")), "flags");
    CHECK(nb_model_param_count(m, true) == (2 * 4 + 8 * 2) + (2 * 8 + 8 * 2) + (1 * 8 + 2 * 1),
          "trainable %lld", (long long)nb_model_param_count(m, true));
    /* the summary names the adapted layers; (N, T, D) goes through */
    char *s = nb_model_summary(m, 2, (int64_t[]){5, 4});
    CHECK(s && strstr(s, "LoRALinear(8, 2, r=1, alpha=1)") && strstr(s, "(1,5,2)"), "summary:\n%s", s ? s : nb_last_error());
    free(s);
    /* reinit gives a fresh adapter (B zeros again) */
    nb_tensor_fill(b2, 1.0f);
    CHECK(nb_model_reinit(m, "enc.2", NB_INIT_DEFAULT) == NB_OK && nb_tensor_data(b2)[5] == 0.0f, "reinit: %s",
          nb_last_error());
    /* a Linear as the root; adapter names */
    nb_model *one = nb_model_new(nb_linear_new(3, 3, false), NB_INIT_DEFAULT);
    expect_err(nb_lora_apply(one, "weight", 1, 1, NULL), NB_ERR_ARG, "no module named 'weight'", "a parameter's name");
    CHECK(nb_lora_apply(one, "", 1, 1, &count) == NB_OK && count == 1 && param(one, "lora_A"), "root: %s", nb_last_error());
    nb_model *none = nb_model_new(nb_activation_new(NB_ACT_RELU), NB_INIT_DEFAULT);
    expect_err(nb_lora_apply(none, NULL, 1, 1, NULL), NB_ERR_ARG, "no Linear", "a model without Linear");
    CHECK(nb_lora_is_adapter_name("lora_A") && nb_lora_is_adapter_name("a.b.lora_B") && !nb_lora_is_adapter_name("xlora_A") &&
              !nb_lora_is_adapter_name("a.lora_AB") && !nb_lora_is_adapter_name("a.lora_a") &&
              !nb_lora_is_adapter_name("a.weight") && !nb_lora_is_adapter_name(NULL),
          "nb_lora_is_adapter_name");
    nb_model_free(one);
    nb_model_free(none);
    nb_optim_free(o);
    nb_model_free(m);
}

int main(void) {
    nb_set_threads(1);
    snprintf(g_dir, sizeof g_dir, "/tmp/nabla_lora_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    test_torch();
    test_gradcheck();
    test_b_zero();
    test_train_merge_save();
    test_load_plain();
    test_resume();
    test_prefixes();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return test_end("test_lora");
}
