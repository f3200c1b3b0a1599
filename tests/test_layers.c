/* The open library: layers written outside the library (one and several tensors in and out),
 * nested names, freezing, re-initialization, optimizer groups, strict and non-strict loading,
 * the summary of any model, step tensors, and the loops for every task. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

static char g_dir[64];

/* ---- a user's layers ----------------------------------------------------------------------- */
/* Scale: y = x * a, one parameter a (D) of its own, initialized to 2. */
typedef struct scale_state {
    int d;
    nb_tensor *a;
} scale_state;
static nb_status scale_bind(nb_module *m, nb_init init) {
    scale_state *s = nb_module_state(m);
    s->a = nb_module_param(m, "a", 1, (int64_t[]){s->d});
    if (!s->a) return NB_ERR_MEM;
    nb_tensor_fill(s->a, init == NB_INIT_ZEROS ? 0.0f : 2.0f);
    return NB_OK;
}
static nb_tensor *scale_fwd(nb_module *m, nb_tensor *x) { return nb_mul(x, ((scale_state *)nb_module_state(m))->a); }
static const nb_module_ops scale_ops = {.kind = "Scale", .bind = scale_bind, .forward = scale_fwd};
static nb_module *scale_new(int d) {
    scale_state *s = calloc(1, sizeof *s);
    s->d = d;
    return nb_module_new(&scale_ops, s);
}

/* Split: one tensor in, two out (x and -x). Join: two in, one out (a + 2b). */
static nb_status split_fwd(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    if (n_in != 1) return nb_set_error(NB_ERR_ARG, "Split takes one tensor");
    out[0] = in[0];
    out[1] = nb_neg(in[0]);
    *n_out = 2;
    return out[1] ? NB_OK : NB_ERR_MEM;
}
static nb_status join_fwd(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    if (n_in != 2) return nb_set_error(NB_ERR_ARG, "Join takes two tensors, got %d", n_in);
    out[0] = nb_add(in[0], nb_scale(in[1], 2.0f));
    *n_out = 1;
    return out[0] ? NB_OK : NB_ERR_SHAPE;
}
static const nb_module_ops split_ops = {.kind = "Split", .forward_n = split_fwd};
static const nb_module_ops join_ops = {.kind = "Join", .forward_n = join_fwd};

static void test_user_layers(void) {
    /* Sequential(lin: Linear(3,2), block: Sequential(scale, split, join)). */
    nb_module *block = nb_sequential_new(), *net = nb_sequential_new();
    CHECK(nb_module_add_child(block, "scale", scale_new(2)) == NB_OK, "%s", nb_last_error());
    nb_module_add_child(block, "split", nb_module_new(&split_ops, NULL));
    nb_module_add_child(block, "join", nb_module_new(&join_ops, NULL));
    CHECK(nb_module_add_child(block, "join", nb_module_new(&join_ops, NULL)) == NB_ERR_ARG &&
              strstr(nb_last_error(), "'join' already exists"), "duplicate child: %s", nb_last_error());
    CHECK(nb_module_add_child(block, "a.b", nb_flatten_new()) == NB_ERR_ARG, "a name with a dot");
    nb_sequential_add(net, "lin", nb_linear_new(3, 2, true));
    nb_sequential_add(net, "block", block);
    nb_seed(5);
    nb_model *m = nb_model_new(net, NB_INIT_DEFAULT);
    CHECK(m != NULL, "%s", nb_last_error());
    nb_params *p = nb_model_params(m);
    CHECK(nb_params_count(p) == 3 && strcmp(nb_params_name(p, 2), "block.scale.a") == 0, "nested name: %s",
          nb_params_name(p, 2));
    CHECK(nb_tensor_data(nb_params_find(p, "block.scale.a"))[1] == 2.0f, "the layer's own init ran");
    CHECK(strcmp(nb_module_path(nb_module_find_child(nb_model_root(m), "block")), "block") == 0, "path");
    CHECK(nb_module_add_child(block, "late", nb_flatten_new()) == NB_ERR_STATE, "no children after binding");

    /* Forward: x * a - 2 x * a = -x * a = -2 lin(x); backward reaches every parameter. */
    nb_tensor *x = nb_step_tensor(2, (int64_t[]){4, 3}, (const float[]){1, 2, 3, 4, 5, 6, -1, 0, 1, 2, 2, 2});
    nb_tensor *lin = nb_module_forward(nb_module_find_child(nb_model_root(m), "lin"), x);
    nb_tensor *y = nb_model_forward(m, x);
    CHECK(y && nb_tensor_size(y, 0) == 4 && nb_tensor_size(y, 1) == 2, "shape %s", y ? NB_SHAPE_STR(y) : nb_last_error());
    bool same = y && lin;
    for (int i = 0; same && i < 8; i++) same = fabsf(nb_tensor_data(y)[i] + 2 * nb_tensor_data(lin)[i]) < 1e-5f;
    CHECK(same, "Sequential passes two tensors from Split to Join");
    nb_params_zero_grad(p);
    CHECK(nb_backward(nb_sum(y, NB_ALL_AXES, false)) == NB_OK, "%s", nb_last_error());
    float g = nb_tensor_grad(nb_params_find(p, "block.scale.a"))[0];
    float want = 0; /* d/da0 sum(-x a) = -sum_i lin_i0 */
    for (int i = 0; i < 4; i++) want -= nb_tensor_data(lin)[2 * i];
    CHECK(fabsf(g - want) < 1e-4f, "gradient of the user's parameter %g, want %g", g, want);
    nb_step_reset();

    /* Several tensors out of the model itself. */
    nb_module *two = nb_sequential_new();
    nb_sequential_add(two, "split", nb_module_new(&split_ops, NULL));
    nb_model *m2 = nb_model_new(two, NB_INIT_DEFAULT);
    nb_tensor *in[1] = {nb_step_tensor(1, (int64_t[]){2}, (const float[]){1, -3})}, *out[NB_MODULE_MAX_IO];
    int n_out = 0;
    CHECK(nb_model_forward_n(m2, 1, in, &n_out, out) == NB_OK && n_out == 2 && nb_tensor_data(out[1])[1] == 3.0f,
          "two outputs: %d", n_out);
    nb_tensor *in2[2] = {in[0], in[0]};
    CHECK(nb_model_forward_n(m2, 2, in2, &n_out, out) == NB_ERR_ARG && strstr(nb_last_error(), "Split takes one"),
          "a layer's own error: %s", nb_last_error());
    nb_step_reset();
    nb_model_free(m2);

    /* A module given no forward is refused; a failed constructor frees the state. */
    static const nb_module_ops none = {.kind = "None"};
    CHECK(nb_module_new(&none, malloc(16)) == NULL && strstr(nb_last_error(), "forward"), "no forward");
    nb_model_free(m);
}

/* The error of a layer deep in a chain survives the calls that get its NULL. */
static void test_error_chain(void) {
    nb_module *net = nb_sequential_new();
    nb_sequential_add(net, "fc", nb_linear_new(4, 3, true));
    nb_model *m = nb_model_new(net, NB_INIT_DEFAULT);
    nb_tensor *bad = nb_step_tensor(2, (int64_t[]){2, 5}, NULL);
    nb_tensor *y = nb_step_index(1, (int64_t[]){2}, (const int64_t[]){0, 1});
    nb_clear_error();
    CHECK(nb_cross_entropy(nb_model_forward(m, bad), y) == NULL &&
              strncmp(nb_last_error(), "Linear(4, 3) 'fc': input (2,5), expected (N, 4)", 47) == 0,
          "the cause comes first: %s", nb_last_error());
    nb_step_reset();
    nb_model_free(m);
}

/* A summary of a model that starts with a Linear, and of a root without children. */
static void test_summary(void) {
    nb_module *net = nb_sequential_new();
    nb_sequential_add(net, "fc1", nb_linear_new(10, 4, true));
    nb_sequential_add(net, "act", nb_activation_new(NB_ACT_TANH));
    nb_sequential_add(net, "fc2", nb_linear_new(4, 2, false));
    nb_model *m = nb_model_new(net, NB_INIT_DEFAULT);
    char *s = nb_model_summary(m, 1, (int64_t[]){10});
    CHECK(s && strstr(s, "Linear(10, 4)") && strstr(s, "(1,4)") && strstr(s, "Linear(4, 2, bias=False)") &&
              strstr(s, "(1,2)") && strstr(s, "total parameters: 52"), "summary:\n%s", s ? s : nb_last_error());
    free(s);
    s = nb_model_summary(m, 3, (int64_t[]){1, 28, 28});
    CHECK(!s && strstr(nb_last_error(), "Linear(10, 4)") && strstr(nb_last_error(), "(1,1,28,28)"),
          "a wrong sample shape names the layer: %s", nb_last_error());
    nb_model_free(m);
    m = nb_model_new(nb_linear_new(3, 1, true), NB_INIT_DEFAULT);
    s = nb_model_summary(m, 1, (int64_t[]){3});
    CHECK(s && strstr(s, "(root)") && strstr(s, "total parameters: 4"), "root without children:\n%s", s ? s : "");
    free(s);
    nb_model_free(m);
}

static bool bytes_equal(nb_tensor *a, const float *b) {
    return memcmp(nb_tensor_data(a), b, (size_t)nb_tensor_numel(a) * sizeof(float)) == 0;
}

/* Frozen parameters: no gradient, no update (bit-identical), others train; groups. */
static void test_freeze(void) {
    nb_seed(2);
    nb_model *m = nb_zoo_new("lenet5", 1, 28, 28, 10);
    nb_params *p = nb_model_params(m);
    int n = 0;
    CHECK(nb_model_freeze(m, "conv1,conv", true, &n) == NB_ERR_ARG && strstr(nb_last_error(), "'conv'") && n == 0,
          "a prefix that is not a name: %s", nb_last_error());
    CHECK(nb_tensor_requires_grad(nb_params_find(p, "conv1.weight")), "a failed freeze changes nothing");
    CHECK(nb_model_freeze(m, "conv1,conv2", true, &n) == NB_OK && n == 4, "froze %d tensors: %s", n, nb_last_error());
    CHECK(!nb_name_matches("conv10.weight", "conv1") && nb_name_matches("conv1.weight", "fc1,conv1"),
          "prefixes end at a dot");
    nb_tensor *c1 = nb_params_find(p, "conv1.weight"), *f1 = nb_params_find(p, "fc1.weight");
    float *c1_0 = malloc((size_t)nb_tensor_numel(c1) * sizeof(float)), *f1_0 = malloc((size_t)nb_tensor_numel(f1) * sizeof(float));
    memcpy(c1_0, nb_tensor_data(c1), (size_t)nb_tensor_numel(c1) * sizeof(float));
    memcpy(f1_0, nb_tensor_data(f1), (size_t)nb_tensor_numel(f1) * sizeof(float));
    nb_optim *o = nb_adam_new(p, (nb_adam_opts){1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f, true});
    nb_tensor *fc3w = nb_params_find(p, "fc3.weight");
    float *fc3_0 = malloc((size_t)nb_tensor_numel(fc3w) * sizeof(float));
    memcpy(fc3_0, nb_tensor_data(fc3w), (size_t)nb_tensor_numel(fc3w) * sizeof(float));
    CHECK(nb_optim_set_lr_scale(o, "fc3", 0.0f) == NB_OK, "%s", nb_last_error());
    CHECK(nb_optim_set_lr_scale(o, "fc9", 2.0f) == NB_ERR_ARG && strstr(nb_last_error(), "'fc9'"), "unknown group");
    for (int step = 0; step < 3; step++) {
        nb_tensor *x = nb_step_tensor(4, (int64_t[]){8, 1, 28, 28}, NULL);
        nb_tensor_fill_normal(x, 0, 1);
        nb_tensor *y = nb_step_index(1, (int64_t[]){8}, (const int64_t[]){0, 1, 2, 3, 4, 5, 6, 7});
        nb_params_zero_grad(p);
        nb_backward(nb_cross_entropy(nb_model_forward(m, x), y));
        float gmax = 0;
        for (int64_t i = 0; i < nb_tensor_numel(c1); i++) gmax = fmaxf(gmax, fabsf(nb_tensor_grad(c1)[i]));
        CHECK(gmax == 0.0f, "a frozen parameter gets no gradient (%g)", gmax);
        nb_optim_step(o);
        nb_step_reset();
    }
    CHECK(bytes_equal(c1, c1_0), "frozen conv1 is bit-identical after Adam with weight decay");
    CHECK(!bytes_equal(f1, f1_0), "fc1 trained");
    CHECK(bytes_equal(fc3w, fc3_0), "a group with lr scale 0 does not move");
    CHECK(nb_model_freeze(m, "conv1", false, &n) == NB_OK && n == 2 && nb_tensor_requires_grad(c1), "unfreeze");
    /* Re-initialization draws new values for the named layers only. */
    nb_seed(77);
    CHECK(nb_model_reinit(m, "fc1", NB_INIT_DEFAULT) == NB_OK && !bytes_equal(f1, f1_0), "reinit: %s", nb_last_error());
    CHECK(nb_params_count(p) == 10, "reinit adds no parameters (%d)", nb_params_count(p));
    CHECK(bytes_equal(c1, c1_0), "reinit leaves the other layers");
    CHECK(nb_model_reinit(m, "fc7", NB_INIT_DEFAULT) == NB_ERR_ARG && strstr(nb_last_error(), "'fc7'"), "unknown module");
    free(c1_0);
    free(f1_0);
    free(fc3_0);
    nb_optim_free(o);
    nb_model_free(m);
}

/* Strict loading names what does not fit; non-strict lists it and loads the rest. */
static void test_partial_load(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/ten.safetensors", g_dir);
    nb_seed(3);
    nb_model *ten = nb_zoo_new("lenet5", 1, 28, 28, 10), *five = nb_zoo_new("lenet5", 1, 28, 28, 5);
    CHECK(nb_checkpoint_save(path, ten, NULL, NULL) == NB_OK, "%s", nb_last_error());
    CHECK(nb_checkpoint_load(path, five, NULL, NULL, NULL) == NB_ERR_SHAPE &&
              strstr(nb_last_error(), "'fc3.weight' has shape (10,84) in the file, (5,84) in the model"),
          "strict: %s", nb_last_error());
    char *report = NULL;
    nb_load_opts o = {.strict = false};
    CHECK(nb_checkpoint_load(path, five, NULL, &o, &report) == NB_OK && report &&
              strstr(report, "shape fc3.weight: file (10,84), model (5,84)\n") &&
              strstr(report, "shape fc3.bias: file (10), model (5)\n"), "report:\n%s", report ? report : nb_last_error());
    free(report);
    CHECK(bytes_equal(nb_params_find(nb_model_params(five), "conv2.weight"),
                      nb_tensor_data(nb_params_find(nb_model_params(ten), "conv2.weight"))), "the rest is loaded");
    o.skip = "fc3";
    CHECK(nb_checkpoint_load(path, five, NULL, &o, &report) == NB_OK && report && strstr(report, "skipped fc3.weight"),
          "skip: %s", report ? report : nb_last_error());
    free(report);
    /* A model with a tensor the file lacks, and the other way round. */
    nb_module *net = nb_sequential_new();
    nb_sequential_add(net, "conv1", nb_conv2d_new(1, 6, 5, (nb_conv_opts){{1, 1}, {2, 2}, {1, 1}, 1, {0, 0}}, true));
    nb_sequential_add(net, "extra", nb_linear_new(2, 2, true));
    nb_model *odd = nb_model_new(net, NB_INIT_DEFAULT);
    CHECK(nb_checkpoint_load(path, odd, NULL, NULL, NULL) == NB_ERR_FORMAT &&
              strstr(nb_last_error(), "'extra.weight' of the model is not in the file"), "missing: %s", nb_last_error());
    o.skip = NULL;
    CHECK(nb_checkpoint_load(path, odd, NULL, &o, &report) == NB_OK && report && strstr(report, "missing extra.bias") &&
              strstr(report, "unexpected fc1.weight"), "non-strict: %s", report ? report : nb_last_error());
    free(report);
    nb_model_free(odd);
    nb_model_free(five);
    nb_model_free(ten);
}

/* ---- batch sources for the task tests ---------------------------------------------------------- */
typedef struct list_src {
    nb_batch b[8];
    int n, at;
} list_src;
static int64_t list_count(void *c) { return ((list_src *)c)->n; }
static void list_start(void *c, int64_t e) { ((list_src *)c)->at = 0; }
static int list_next(void *c, nb_batch *b) {
    list_src *s = c;
    if (s->at >= s->n) return 0;
    *b = s->b[s->at++];
    return 1;
}
static nb_batch_source source(list_src *s) {
    return (nb_batch_source){.ctx = s, .count = list_count, .start = list_start, .next = list_next};
}

/* Regression: Linear(1, 1) learns y = 2x + 1 with MSE; no accuracy. */
static void test_regress(void) {
    static float x[32], t[32];
    for (int i = 0; i < 32; i++) {
        x[i] = (float)i / 16 - 1;
        t[i] = 2 * x[i] + 1;
    }
    list_src s = {.n = 2};
    for (int k = 0; k < 2; k++)
        s.b[k] = (nb_batch){.n = 16, .x = x + 16 * k, .x_ndim = 1, .x_shape = {1}, .target = t + 16 * k, .target_dim = 1};
    nb_batch_source src = source(&s);
    nb_seed(1);
    nb_model *m = nb_model_new(nb_linear_new(1, 1, true), NB_INIT_DEFAULT);
    nb_optim *o = nb_sgd_new(nb_model_params(m), (nb_sgd_opts){0.1f, 0.9f, 0, false});
    nb_task task = nb_task_new(NB_TASK_REGRESS);
    nb_epoch_stats st = {0};
    for (int e = 0; e < 60; e++) nb_train_epoch(m, o, &task, &src, e, NULL, &st);
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &st) == NB_OK && st.loss < 1e-4 && isnan(st.accuracy) &&
              st.samples == 32, "regression: loss %g acc %g", st.loss, st.accuracy);
    float w = nb_tensor_data(nb_params_find(nb_model_params(m), "weight"))[0];
    CHECK(fabsf(w - 2) < 0.01f, "learned slope %g", w);
    s.b[1].target = NULL;
    CHECK(nb_train_epoch(m, o, &task, &src, 0, NULL, &st) == NB_ERR_ARG && strstr(nb_last_error(), "float targets"),
          "missing targets: %s", nb_last_error());
    nb_optim_free(o);
    nb_model_free(m);
}

/* A stop request (Ctrl-C in the CLI) ends the epoch after the batch in progress: one
 * optimizer step of four taken, the rest of the source drawn, NB_ERR_STATE "interrupted". */
static int64_t g_stop_calls;
static bool stop_now(void *ctx) {
    g_stop_calls++;
    return *(const int *)ctx;
}
static void test_stop(void) {
    static float x[8], t[8];
    for (int i = 0; i < 8; i++) x[i] = (float)i, t[i] = 1;
    list_src s = {.n = 4};
    for (int k = 0; k < 4; k++)
        s.b[k] = (nb_batch){.n = 2, .x = x + 2 * k, .x_ndim = 1, .x_shape = {1}, .target = t + 2 * k, .target_dim = 1};
    nb_batch_source src = source(&s);
    nb_model *m = nb_model_new(nb_linear_new(1, 1, true), NB_INIT_DEFAULT);
    nb_optim *o = nb_sgd_new(nb_model_params(m), (nb_sgd_opts){0.01f, 0, 0, false});
    nb_task task = nb_task_new(NB_TASK_REGRESS);
    nb_epoch_stats st = {0};
    int flag = 0;
    nb_train_opts to = {.stop = stop_now, .stop_ctx = &flag};
    CHECK(nb_train_epoch(m, o, &task, &src, 0, &to, &st) == NB_OK && st.samples == 8 && g_stop_calls == 3,
          "no stop requested: %s, %lld samples, asked %lld times", nb_last_error(), (long long)st.samples,
          (long long)g_stop_calls);
    flag = 1;
    int64_t steps = nb_optim_steps(o);
    nb_status r = nb_train_epoch(m, o, &task, &src, 4, &to, &st);
    CHECK(r == NB_ERR_STATE && strstr(nb_last_error(), "interrupted at epoch 5 after batch 1 of 4"), "stop: %d %s",
          (int)r, nb_last_error());
    CHECK(nb_optim_steps(o) == steps + 1 && s.at == 4, "stop: %lld steps taken, source at %d",
          (long long)(nb_optim_steps(o) - steps), s.at);
    nb_optim_free(o);
    nb_model_free(m);
}

/* Reconstruction: a 4-2-4 linear autoencoder on data of rank 2. */
static void test_reconstruct(void) {
    static float x[64 * 4];
    nb_seed(4);
    for (int i = 0; i < 64; i++) {
        float a = nb_rng_normal(), b = nb_rng_normal();
        float row[4] = {a, b, a + b, a - b};
        memcpy(x + 4 * i, row, sizeof row);
    }
    list_src s = {.n = 4};
    for (int k = 0; k < 4; k++) s.b[k] = (nb_batch){.n = 16, .x = x + 64 * k, .x_ndim = 1, .x_shape = {4}};
    nb_batch_source src = source(&s);
    nb_module *ae = nb_sequential_new();
    nb_sequential_add(ae, "enc", nb_linear_new(4, 2, false));
    nb_sequential_add(ae, "dec", nb_linear_new(2, 4, false));
    nb_model *m = nb_model_new(ae, NB_INIT_DEFAULT);
    nb_optim *o = nb_adam_new(nb_model_params(m), nb_adam_defaults(0.02f));
    nb_task task = nb_task_new(NB_TASK_RECONSTRUCT);
    nb_epoch_stats first, st;
    nb_evaluate(m, &task, &src, NULL, NULL, &first);
    for (int e = 0; e < 150; e++) nb_train_epoch(m, o, &task, &src, e, NULL, &st);
    nb_evaluate(m, &task, &src, NULL, NULL, &st);
    CHECK(st.loss < 0.01 * first.loss, "reconstruction MSE %g from %g", st.loss, first.loss);
    nb_optim_free(o);
    nb_model_free(m);
}

/* A user layer for sequences: the mean over each sample's real steps of x (N, T, D), from
 * (x, lengths); then a Linear. Padding must change nothing. */
static nb_status masked_mean_fwd(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    if (n_in != 2) return nb_set_error(NB_ERR_ARG, "MaskedMean takes (x, lengths)");
    nb_tensor *x = in[0];
    int64_t n = nb_tensor_size(x, 0), t = nb_tensor_size(x, 1);
    nb_tensor *w = nb_step_tensor(3, (int64_t[]){n, t, 1}, NULL);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < nb_tensor_idata(in[1])[i]; j++)
            nb_tensor_data(w)[i * t + j] = 1.0f / (float)nb_tensor_idata(in[1])[i];
    out[0] = nb_sum(nb_mul(x, w), 1, false);
    *n_out = 1;
    return out[0] ? NB_OK : NB_ERR_SHAPE;
}
static const nb_module_ops masked_mean_ops = {.kind = "MaskedMean", .forward_n = masked_mean_fwd};

static void test_seq_classify(void) {
    /* Two sequences of lengths 3 and 1 padded to T = 4 (padding filled with junk), and the
     * same two one by one without padding. */
    static const float padded[2 * 4 * 2] = {1, 2, 3, 4, 5, 6, 99, 99, -1, 0.5f, 42, -42, 7, 7, 7, 7};
    static const int64_t lens[2] = {3, 1}, y[2] = {1, 0};
    nb_seed(9);
    nb_module *net = nb_sequential_new();
    nb_sequential_add(net, "pool", nb_module_new(&masked_mean_ops, NULL));
    nb_sequential_add(net, "fc", nb_linear_new(2, 3, true));
    nb_model *m = nb_model_new(net, NB_INIT_DEFAULT);
    nb_task task = nb_task_new(NB_TASK_SEQ_CLASSIFY);
    list_src a = {.n = 1}, b = {.n = 2};
    a.b[0] = (nb_batch){.n = 2, .x = padded, .x_ndim = 2, .x_shape = {4, 2}, .y = y, .lengths = lens};
    b.b[0] = (nb_batch){.n = 1, .x = padded, .x_ndim = 2, .x_shape = {3, 2}, .y = y, .lengths = lens};
    b.b[1] = (nb_batch){.n = 1, .x = padded + 8, .x_ndim = 2, .x_shape = {1, 2}, .y = y + 1, .lengths = lens + 1};
    nb_batch_source sa = source(&a), sb = source(&b);
    nb_epoch_stats ea, eb;
    nb_confusion *conf = nb_confusion_new(3);
    CHECK(nb_evaluate(m, &task, &sa, conf, NULL, &ea) == NB_OK && nb_evaluate(m, &task, &sb, NULL, NULL, &eb) == NB_OK,
          "%s", nb_last_error());
    CHECK(fabs(ea.loss - eb.loss) < 1e-6 && ea.samples == 2 && nb_confusion_total(conf) == 2,
          "padded batch loss %.9g, one by one %.9g", ea.loss, eb.loss);
    /* Gradients: the padded batch's equal the sum of the per-sample ones (losses are means). */
    nb_params *p = nb_model_params(m);
    int64_t np = nb_params_numel(p);
    float *ga = calloc((size_t)np, sizeof(float)), *gb = calloc((size_t)np, sizeof(float));
    nb_optim *o = nb_sgd_new(p, (nb_sgd_opts){0, 0, 0, false}); /* lr 0: gradients only */
    nb_train_epoch(m, o, &task, &sa, 0, NULL, &ea);
    memcpy(ga, nb_params_grad(p), (size_t)np * sizeof(float));
    for (int k = 0; k < 2; k++) {
        list_src one = {.n = 1, .b = {b.b[k]}};
        nb_batch_source s1 = source(&one);
        nb_train_epoch(m, o, &task, &s1, 0, NULL, &eb);
        for (int64_t i = 0; i < np; i++) gb[i] += nb_params_grad(p)[i] / 2;
    }
    float worst = 0;
    for (int64_t i = 0; i < np; i++) worst = fmaxf(worst, fabsf(ga[i] - gb[i]));
    CHECK(worst < 1e-6f, "padded and one-by-one gradients differ by %g", worst);
    free(ga);
    free(gb);
    nb_optim_free(o);
    nb_confusion_free(conf);
    nb_model_free(m);
}

/* An Embedding + Linear bigram language model on "abcabc...": it learns the next character,
 * and steps past a sample's length count for nothing. */
typedef struct emb_state {
    int v, d;
    nb_tensor *w;
} emb_state;
static nb_status emb_bind(nb_module *m, nb_init init) {
    emb_state *s = nb_module_state(m);
    s->w = nb_module_param(m, "weight", 2, (int64_t[]){s->v, s->d});
    if (!s->w) return NB_ERR_MEM;
    nb_tensor_fill_normal(s->w, 0, 1);
    return NB_OK;
}
static nb_tensor *emb_fwd(nb_module *m, nb_tensor *ids) { return nb_embedding(((emb_state *)nb_module_state(m))->w, ids); }
static const nb_module_ops emb_ops = {.kind = "Embedding", .bind = emb_bind, .forward = emb_fwd};

static void test_lm(void) {
    enum { N = 4, T = 6, V = 3 };
    static int64_t tok[N * T], next[N * T];
    static const int64_t lens[N] = {6, 6, 3, 1};
    for (int i = 0; i < N * T; i++) {
        tok[i] = (i + i / T) % V;
        next[i] = (tok[i] + 1) % V;
        if (i % T >= lens[i / T]) next[i] = 0; /* padding: a wrong target that must not count */
    }
    emb_state *es = calloc(1, sizeof *es);
    es->v = V;
    es->d = 4;
    nb_module *net = nb_sequential_new();
    nb_sequential_add(net, "emb", nb_module_new(&emb_ops, es));
    nb_sequential_add(net, "out", nb_linear_new(4, V, true));
    nb_seed(6);
    nb_model *m = nb_model_new(net, NB_INIT_DEFAULT);
    list_src s = {.n = 1};
    s.b[0] = (nb_batch){.n = N, .tokens = tok, .x_ndim = 1, .x_shape = {T}, .y = next, .lengths = lens};
    nb_batch_source src = source(&s);
    nb_task task = nb_task_new(NB_TASK_LM);
    nb_epoch_stats st;
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &st) == NB_OK && st.tokens == 16 && st.samples == N &&
              fabs(st.bits - st.loss / log(2.0)) < 1e-12, "tokens %lld bits %g loss %g: %s", (long long)st.tokens,
          st.bits, st.loss, nb_last_error());
    nb_optim *o = nb_adam_new(nb_model_params(m), nb_adam_defaults(0.1f));
    for (int e = 0; e < 100; e++) nb_train_epoch(m, o, &task, &src, e, NULL, &st);
    nb_evaluate(m, &task, &src, NULL, NULL, &st);
    CHECK(st.accuracy == 1.0 && st.bits < 0.1, "next-character accuracy %g, %g bits per character", st.accuracy,
          st.bits);
    static const int64_t bad[N] = {6, 7, 1, 1};
    s.b[0].lengths = bad;
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &st) == NB_ERR_ARG && strstr(nb_last_error(), "length 7"),
          "a length past T: %s", nb_last_error());
    nb_optim_free(o);
    nb_model_free(m);
}

/* A custom step owns two models and two optimizers (as a GAN does); the loop averages its
 * named metrics over samples. */
typedef struct two_models {
    nb_model *a, *b;
    nb_optim *oa, *ob;
    int calls;
} two_models;
static nb_status two_step(void *ctx, const nb_batch *bt, bool training, nb_step_result *r) {
    two_models *t = ctx;
    t->calls++;
    nb_tensor *x = nb_step_tensor(2, (int64_t[]){bt->n, 1}, bt->x);
    nb_tensor *la = nb_mse_loss(nb_model_forward(t->a, x), nb_detach(x));
    nb_tensor *lb = nb_mse_loss(nb_model_forward(t->b, x), nb_scale(nb_detach(x), -1));
    if (!la || !lb) return NB_ERR_SHAPE;
    if (training) {
        nb_params_zero_grad(nb_model_params(t->a));
        nb_params_zero_grad(nb_model_params(t->b));
        nb_backward(nb_add(la, lb));
        nb_optim_step(t->oa);
        nb_optim_step(t->ob);
    }
    r->loss = nb_tensor_item(la) + nb_tensor_item(lb);
    r->n_metrics = 2;
    r->name[0] = "loss_a";
    r->value[0] = nb_tensor_item(la);
    r->name[1] = "batch_n";
    r->value[1] = (double)bt->n;
    return NB_OK;
}

static void test_custom(void) {
    static float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    list_src s = {.n = 2};
    s.b[0] = (nb_batch){.n = 8, .x = x, .x_ndim = 1, .x_shape = {1}};
    s.b[1] = (nb_batch){.n = 4, .x = x + 8, .x_ndim = 1, .x_shape = {1}};
    nb_batch_source src = source(&s);
    two_models t = {0};
    nb_seed(8);
    t.a = nb_model_new(nb_linear_new(1, 1, false), NB_INIT_DEFAULT);
    t.b = nb_model_new(nb_linear_new(1, 1, false), NB_INIT_DEFAULT);
    t.oa = nb_sgd_new(nb_model_params(t.a), (nb_sgd_opts){0.003f, 0, 0, false});
    t.ob = nb_sgd_new(nb_model_params(t.b), (nb_sgd_opts){0.003f, 0, 0, false});
    nb_task task = nb_task_custom(two_step, &t);
    nb_epoch_stats st;
    for (int e = 0; e < 30; e++) CHECK(nb_train_epoch(NULL, NULL, &task, &src, e, NULL, &st) == NB_OK, "%s", nb_last_error());
    CHECK(st.n_metrics == 2 && strcmp(st.metric_name[1], "batch_n") == 0 &&
              fabs(st.metric[1] - (8.0 * 8 + 4.0 * 4) / 12) < 1e-12 && isnan(st.accuracy), "metrics averaged by samples: %g",
          st.metric[1]);
    float wa = nb_tensor_data(nb_params_get(nb_model_params(t.a), 0))[0];
    float wb = nb_tensor_data(nb_params_get(nb_model_params(t.b), 0))[0];
    CHECK(fabsf(wa - 1) < 1e-3f && fabsf(wb + 1) < 1e-3f, "both models trained: %g %g", wa, wb);
    t.calls = 0;
    CHECK(nb_evaluate(NULL, &task, &src, NULL, NULL, &st) == NB_OK && t.calls == 2 && st.samples == 12, "evaluate");
    nb_task none = nb_task_custom(NULL, NULL);
    CHECK(nb_train_epoch(NULL, NULL, &none, &src, 0, NULL, &st) == NB_ERR_ARG, "a custom task needs a step");
    nb_task cls = nb_task_new(NB_TASK_CLASSIFY);
    CHECK(nb_train_epoch(NULL, NULL, &cls, &src, 0, NULL, &st) == NB_ERR_ARG && strstr(nb_last_error(), "needs a model"),
          "built-in tasks need a model: %s", nb_last_error());
    nb_optim_free(t.oa);
    nb_optim_free(t.ob);
    nb_model_free(t.a);
    nb_model_free(t.b);
}

/* A loss that is not finite stops the epoch, naming it; no update happens. */
static void test_diverged(void) {
    static float x[4] = {1, 2, 3, NAN}, t[4] = {1, 2, 3, 4};
    list_src s = {.n = 1};
    s.b[0] = (nb_batch){.n = 4, .x = x, .x_ndim = 1, .x_shape = {1}, .target = t, .target_dim = 1};
    nb_batch_source src = source(&s);
    nb_model *m = nb_model_new(nb_linear_new(1, 1, true), NB_INIT_DEFAULT);
    nb_optim *o = nb_sgd_new(nb_model_params(m), (nb_sgd_opts){0.1f, 0, 0, false});
    float w0 = nb_tensor_data(nb_params_get(nb_model_params(m), 0))[0];
    nb_task task = nb_task_new(NB_TASK_REGRESS);
    nb_epoch_stats st;
    CHECK(nb_train_epoch(m, o, &task, &src, 4, NULL, &st) == NB_ERR_STATE &&
              strstr(nb_last_error(), "loss is nan at epoch 5, batch 1") && !strstr(nb_last_error(), "--"),
          "diverged: %s", nb_last_error());
    CHECK(nb_tensor_data(nb_params_get(nb_model_params(m), 0))[0] == w0, "no step from a NaN loss");
    nb_optim_free(o);
    nb_model_free(m);
}

/* The loader's order depends on its own seed, not on nb_seed. */
static void test_loader_seed(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/rows.csv", g_dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 32; i++) fprintf(f, "%d,%d\n", i, i % 3);
    fclose(f);
    nb_dataset *d = nb_csv_load(path, 0);
    int64_t first[3][8];
    for (int k = 0; k < 3; k++) {
        nb_seed(k == 1 ? 12345 : 1);
        nb_loader *l = nb_loader_new(d, 8, 1, k == 2 ? 99 : 7, 0);
        nb_batch b;
        nb_loader_start(l, 0);
        nb_loader_next(l, &b);
        memcpy(first[k], b.idx, sizeof first[k]);
        while (nb_loader_next(l, &b)) {
        }
        nb_loader_free(l);
    }
    CHECK(memcmp(first[0], first[1], sizeof first[0]) == 0, "nb_seed does not change the loader's order");
    CHECK(memcmp(first[0], first[2], sizeof first[0]) != 0, "the loader's seed does");
    nb_dataset_free(d);
}

/* Step tensors copy the caller's batch; NULL data gives zeros; bad shapes are refused. */
static void test_step_tensors(void) {
    float src[6] = {1, 2, 3, 4, 5, 6};
    nb_tensor *t = nb_step_tensor(2, (int64_t[]){2, 3}, src), *z = nb_step_tensor(1, (int64_t[]){4}, NULL);
    int64_t ids[3] = {7, 8, 9};
    nb_tensor *i = nb_step_index(1, (int64_t[]){3}, ids);
    src[0] = 100;
    ids[2] = -1;
    CHECK(t && nb_tensor_data(t)[0] == 1 && nb_tensor_data(t)[5] == 6 && !nb_tensor_requires_grad(t), "a copy");
    CHECK(z && nb_tensor_data(z)[3] == 0 && i && nb_tensor_idata(i)[2] == 9 && nb_tensor_dtype(i) == NB_I64, "zeros, ids");
    CHECK(nb_step_tensor(2, (int64_t[]){2, -1}, NULL) == NULL && strstr(nb_last_error(), "nb_step_tensor"), "bad shape: %s",
          nb_last_error());
    nb_step_reset();
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/nabla_layers_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    test_step_tensors();
    test_user_layers();
    test_error_chain();
    test_summary();
    test_freeze();
    test_partial_load();
    test_regress();
    test_stop();
    test_reconstruct();
    test_seq_classify();
    test_lm();
    test_custom();
    test_diverged();
    test_loader_seed();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return test_end("test_layers");
}
