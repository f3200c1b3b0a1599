/* NaN and divergence: relu, leaky_relu, max pooling and nb_max propagate NaN as PyTorch 1.13
 * does (values and gradients below were printed by torch); the training loop stops on a
 * non-finite gradient norm, a parameter left non-finite by the step and a loss above max_loss,
 * naming the epoch, the batch and the parameter; checkpoints are never written from
 * non-finite state. */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include "check.h"
#include "nabla/nabla.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N6 6
static const int64_t SH6[1] = {N6};

/* y = op(x) for x = [nan, 1, -1, 0, inf, -inf]; backward with ones: y and x.grad. */
static void unary(nb_tensor *(*op)(nb_tensor *, float), float c, float *y, float *g) {
    const float xs[N6] = {NAN, 1, -1, 0, INFINITY, -INFINITY};
    nb_tensor *x = nb_tensor_from(1, SH6, xs);
    nb_tensor_set_requires_grad(x, true);
    nb_tensor *out = op(x, c);
    memcpy(y, nb_tensor_data(out), sizeof(float) * N6);
    nb_backward(nb_sum(out, NB_ALL_AXES, false)); /* the sum is NaN; its gradient is ones */
    memcpy(g, nb_tensor_grad(x), sizeof(float) * N6);
    nb_step_reset();
    nb_tensor_free(x);
}
static nb_tensor *relu_c(nb_tensor *x, float c) { (void)c; return nb_relu(x); }

static bool same(const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++)
        if (!(isnan(a[i]) ? isnan(b[i]) : a[i] == b[i])) return false;
    return true;
}

static void test_ops(void) {
    float y[N6], g[N6];
    /* torch.relu: [nan, 1, 0, 0, inf, 0], grad [1, 1, 0, 0, 1, 0] */
    unary(relu_c, 0, y, g);
    CHECK(same(y, (float[]){NAN, 1, 0, 0, INFINITY, 0}, N6), "relu: %g %g %g %g %g %g", y[0], y[1], y[2], y[3], y[4], y[5]);
    CHECK(same(g, (float[]){1, 1, 0, 0, 1, 0}, N6), "relu grad: %g %g %g %g %g %g", g[0], g[1], g[2], g[3], g[4], g[5]);
    /* F.leaky_relu(x, 0.01): [nan, 1, -0.01, 0, inf, -inf], grad [0.01, 1, 0.01, 0.01, 1, 0.01] */
    unary(nb_leaky_relu, 0.01f, y, g);
    CHECK(same(y, (float[]){NAN, 1, -0.01f, 0, INFINITY, -INFINITY}, N6), "leaky_relu: %g %g", y[0], y[2]);
    CHECK(same(g, (float[]){0.01f, 1, 0.01f, 0.01f, 1, 0.01f}, N6), "leaky_relu grad: %g %g", g[0], g[3]);

    /* torch.max(x, 1): values [nan, nan, 3], indices [1, 0, 2] (the first NaN) */
    const float m[9] = {1, NAN, 3, NAN, 2, 5, 1, 2, 3};
    nb_tensor *x = nb_tensor_from(2, (int64_t[]){3, 3}, m);
    nb_tensor_set_requires_grad(x, true);
    nb_tensor *mx = nb_max(x, 1, false);
    CHECK(same(nb_tensor_data(mx), (float[]){NAN, NAN, 3}, 3), "max values");
    nb_backward(nb_sum(mx, NB_ALL_AXES, false));
    CHECK(same(nb_tensor_grad(x), (float[]){0, 1, 0, 1, 0, 0, 0, 0, 1}, 9), "max gradient goes to the first NaN");
    nb_step_reset();
    nb_tensor_free(x);

    /* F.max_pool2d([[1, nan], [3, 0]], 2) = nan; with [[nan, 1], [nan, 0]] the index is 2 (the last NaN) */
    nb_tensor *p = nb_tensor_from(4, (int64_t[]){1, 1, 2, 2}, (float[]){NAN, 1, NAN, 0});
    nb_tensor_set_requires_grad(p, true);
    nb_tensor *py = nb_max_pool2d(p, 2, 2, 0);
    CHECK(isnan(nb_tensor_data(py)[0]), "max_pool2d of a NaN window");
    nb_backward(nb_sum(py, NB_ALL_AXES, false));
    CHECK(same(nb_tensor_grad(p), (float[]){0, 0, 1, 0}, 4), "max_pool2d gradient goes to the last NaN");
    nb_step_reset();
    nb_tensor_free(p);
}

/* NaN weights before a ReLU reach the output (the all-NaN conv gave loss 2.31). */
static void test_nan_weights_reach_the_output(void) {
    nb_module *s = nb_sequential_new();
    nb_sequential_add(s, "fc1", nb_linear_new(4, 3, true));
    nb_sequential_add(s, "relu", nb_activation_new(NB_ACT_RELU));
    nb_sequential_add(s, "fc2", nb_linear_new(3, 2, true));
    nb_model *m = nb_model_new(s, NB_INIT_DEFAULT);
    nb_tensor *w = nb_params_find(nb_model_params(m), "fc1.weight");
    for (int i = 0; i < 12; i++) nb_tensor_data(w)[i] = NAN;
    nb_tensor *x = nb_tensor_from(2, (int64_t[]){1, 4}, (float[]){1, 2, 3, 4});
    nb_tensor *y = nb_model_forward(m, x);
    CHECK(y && isnan(nb_tensor_data(y)[0]) && isnan(nb_tensor_data(y)[1]), "NaN weights give NaN outputs: %g",
          y ? nb_tensor_data(y)[0] : 0.0);
    int64_t at;
    CHECK(nb_params_nonfinite(nb_model_params(m), false, &at) == 0 && at == 0, "nb_params_nonfinite finds fc1.weight");
    nb_tensor_data(w)[0] = 0;
    nb_tensor_data(w)[5] = INFINITY;
    for (int i = 6; i < 12; i++) nb_tensor_data(w)[i] = 0;
    for (int i = 1; i < 5; i++) nb_tensor_data(w)[i] = 0;
    CHECK(nb_params_nonfinite(nb_model_params(m), false, &at) == 0 && at == 5, "infinity at element 5: %lld",
          (long long)at);
    nb_tensor_data(w)[5] = 0;
    CHECK(nb_params_nonfinite(nb_model_params(m), false, &at) == -1 && at == -1, "all finite");
    CHECK(nb_params_nonfinite(nb_model_params(m), true, NULL) == -1, "gradients finite");
    nb_step_reset();
    nb_tensor_free(x);
    nb_model_free(m);
}

/* One batch of one sample x with target 0 for Linear(1, 1): output w*x, loss (w*x)^2, gradient
 * of w 2*w*x^2. */
typedef struct one_src {
    float x, t;
    int done;
} one_src;
static int64_t one_count(void *c) { (void)c; return 1; }
static void one_start(void *c, int64_t e) { (void)e; ((one_src *)c)->done = 0; }
static int one_next(void *c, nb_batch *b) {
    one_src *s = c;
    if (s->done++) return 0;
    *b = (nb_batch){.n = 1, .x = &s->x, .x_ndim = 1, .x_shape = {1}, .target = &s->t, .target_dim = 1};
    return 1;
}

/* Trains one epoch of one batch from weight w (bias 0); returns the status, the weight after. */
static nb_status one_epoch(float x, float w, float lr, float clip, double max_loss, float *w_after, bool adam) {
    nb_model *m = nb_model_new(nb_linear_new(1, 1, true), NB_INIT_DEFAULT);
    nb_tensor *wt = nb_params_find(nb_model_params(m), "weight");
    nb_tensor_data(wt)[0] = w;
    nb_tensor_data(nb_params_find(nb_model_params(m), "bias"))[0] = 0;
    nb_optim *o = adam ? nb_adam_new(nb_model_params(m), nb_adam_defaults(lr))
                       : nb_sgd_new(nb_model_params(m), (nb_sgd_opts){lr, 0, 0, false});
    one_src s = {.x = x};
    nb_batch_source src = {.ctx = &s, .count = one_count, .start = one_start, .next = one_next};
    nb_task task = nb_task_new(NB_TASK_REGRESS);
    nb_train_opts opts = {.clip = clip, .max_loss = max_loss};
    nb_epoch_stats st;
    nb_status rc = nb_train_epoch(m, o, &task, &src, 2, &opts, &st);
    *w_after = nb_tensor_data(wt)[0];
    nb_optim_free(o);
    nb_model_free(m);
    return rc;
}

static void test_loop_guards(void) {
    float w;
    /* x = 1e30, w = 1e-15: loss 1e30 (finite), gradient of w 2e45 = inf: stopped before the
     * step, which would have made w NaN. */
    nb_status rc = one_epoch(1e30f, 1e-15f, 0.1f, 0, 0, &w, false);
    CHECK(rc == NB_ERR_STATE && strstr(nb_last_error(), "gradient norm is not finite at epoch 3, batch 1") &&
              strstr(nb_last_error(), "the gradient of 'weight' is inf"),
          "non-finite gradient: rc %d, %s", rc, nb_last_error());
    CHECK(w == 1e-15f, "no step taken: w %g", w);
    rc = one_epoch(1e30f, 1e-15f, 0.1f, 1.0f, 0, &w, false);
    CHECK(rc == NB_ERR_STATE && strstr(nb_last_error(), "gradient norm is inf at epoch 3, batch 1") &&
              strstr(nb_last_error(), "'weight'"),
          "non-finite gradient with clipping: rc %d, %s", rc, nb_last_error());
    /* x = 1e20, w = 1e-10: loss 1e20, gradient 2e30 (finite); lr 1e9 makes w -inf. */
    rc = one_epoch(1e20f, 1e-10f, 1e9f, 0, 0, &w, false);
    CHECK(rc == NB_ERR_STATE && strstr(nb_last_error(), "parameter 'weight' is -inf at element 0 after the optimizer "
                                                        "step at epoch 3, batch 1"),
          "non-finite parameter: rc %d, %s", rc, nb_last_error());
    /* The loss-explosion guard: 1e20 > 1e6 stops before the step. */
    rc = one_epoch(1e20f, 1e-10f, 0.1f, 0, 1e6, &w, false);
    CHECK(rc == NB_ERR_STATE && strstr(nb_last_error(), "loss exploded to 1e+20 (above max_loss 1e+06) at epoch 3, "
                                                        "batch 1"),
          "max_loss: rc %d, %s", rc, nb_last_error());
    CHECK(w == 1e-10f, "no step taken: w %g", w);
    /* Adam: gradient 2e30 squares to inf in exp_avg_sq while w stays finite (the update is
     * m / sqrt(inf) = 0): stopped at the end of the epoch, naming the state. */
    rc = one_epoch(1e20f, 1e-10f, 0.1f, 0, 0, &w, true);
    CHECK(rc == NB_ERR_STATE && strstr(nb_last_error(), "optimizer state 'exp_avg_sq' is inf at element 0 at the end "
                                                        "of epoch 3"),
          "non-finite optimizer state: rc %d, %s", rc, nb_last_error());
    rc = one_epoch(1.0f, 0.5f, 0.1f, 0, 1e6, &w, false);
    CHECK(rc == NB_OK && w < 0.5f, "a sane step passes every guard: rc %d %s", rc, nb_last_error());
}

static char *slurp(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)*n + 1);
    if (b && fread(b, 1, (size_t)*n, f) != (size_t)*n) *n = -1;
    fclose(f);
    return b;
}

static void test_checkpoint_refuses(void) {
    char path[] = "/tmp/nb_nan_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "temporary file");
    if (fd < 0) return;
    close(fd);
    nb_module *s = nb_sequential_new();
    nb_sequential_add(s, "fc", nb_linear_new(2, 2, true));
    nb_sequential_add(s, "bn", nb_batchnorm1d_new(2));
    nb_model *m = nb_model_new(s, NB_INIT_DEFAULT);
    nb_optim *o = nb_adam_new(nb_model_params(m), nb_adam_defaults(0.1f));
    CHECK(nb_checkpoint_save(path, m, o, NULL) == NB_OK, "a finite model saves: %s", nb_last_error());
    long n0 = 0, n1 = 0;
    char *before = slurp(path, &n0);

    float *b = nb_tensor_data(nb_params_find(nb_model_params(m), "fc.bias"));
    b[1] = NAN;
    nb_status rc = nb_checkpoint_save(path, m, o, NULL);
    CHECK(rc == NB_ERR_STATE && strstr(nb_last_error(), "tensor 'fc.bias' is nan at element 1"), "NaN parameter: %s",
          nb_last_error());
    b[1] = 0;
    float *rv = nb_tensor_data(nb_params_find(nb_model_buffers(m), "bn.running_var"));
    rv[0] = INFINITY;
    rc = nb_checkpoint_save(path, m, NULL, NULL);
    CHECK(rc == NB_ERR_STATE && strstr(nb_last_error(), "tensor 'bn.running_var' is inf at element 0"),
          "infinite buffer: %s", nb_last_error());
    rv[0] = 1;
    const char *name;
    float *ea = nb_optim_state(o, 1, &name);
    ea[0] = NAN;
    rc = nb_checkpoint_save(path, m, o, NULL);
    CHECK(rc == NB_ERR_STATE && strstr(nb_last_error(), "'_nabla.optim.") && strstr(nb_last_error(), name),
          "NaN optimizer state: %s", nb_last_error());
    char *after = slurp(path, &n1);
    CHECK(before && after && n0 == n1 && n0 > 0 && memcmp(before, after, (size_t)n0) == 0,
          "the old checkpoint is kept byte for byte");
    free(before);
    free(after);
    nb_optim_free(o);
    nb_model_free(m);
    remove(path);
}

int main(void) {
    test_ops();
    test_nan_weights_reach_the_output();
    test_loop_guards();
    test_checkpoint_refuses();
    return test_end("test_nan");
}
