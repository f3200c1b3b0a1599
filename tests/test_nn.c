/* Modules, models, the zoo and checkpoints: parameter names and shapes as PyTorch's state_dict,
 * initializer statistics, forward values, batch norm's running statistics, checkpoint round
 * trips and the errors of loading a wrong or damaged checkpoint. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

static char g_dir[64];

static void check_param(nb_model *m, const char *name, int ndim, const int64_t *shape) {
    nb_tensor *t = nb_params_find(nb_model_params(m), name);
    CHECK(t != NULL, "parameter %s missing", name);
    if (!t) return;
    bool ok = nb_tensor_ndim(t) == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = nb_tensor_shape(t)[i] == shape[i];
    CHECK(ok, "parameter %s has shape %s", name, NB_SHAPE_STR(t));
}

static int64_t total_params(nb_model *m) {
    int64_t n = 0;
    nb_params *p = nb_model_params(m);
    for (int i = 0; i < nb_params_count(p); i++) n += nb_tensor_numel(nb_params_get(p, i));
    return n;
}

static void test_zoo(void) {
    nb_seed(0);
    nb_model *m = nb_zoo_new("lenet5", 1, 28, 28, 10);
    CHECK(m != NULL, "%s", nb_last_error());
    check_param(m, "conv1.weight", 4, (int64_t[]){6, 1, 5, 5});
    check_param(m, "conv1.bias", 1, (int64_t[]){6});
    check_param(m, "conv2.weight", 4, (int64_t[]){16, 6, 5, 5});
    check_param(m, "fc1.weight", 2, (int64_t[]){120, 400});
    check_param(m, "fc2.weight", 2, (int64_t[]){84, 120});
    check_param(m, "fc3.weight", 2, (int64_t[]){10, 84});
    check_param(m, "fc3.bias", 1, (int64_t[]){10});
    CHECK(nb_params_count(nb_model_params(m)) == 10, "lenet5 has %d tensors", nb_params_count(nb_model_params(m)));
    CHECK(total_params(m) == 61706, "lenet5 has %lld parameters (PyTorch: 61706)", (long long)total_params(m));
    char *s = nb_model_summary(m, 3, (int64_t[]){1, 28, 28});
    CHECK(s && strstr(s, "(1,6,28,28)") && strstr(s, "(1,16,5,5)") && strstr(s, "(1,400)") &&
              strstr(s, "total parameters: 61706"), "summary:\n%s", s ? s : nb_last_error());
    free(s);
    nb_model_free(m);

    m = nb_zoo_new("mlp", 1, 28, 28, 10);
    check_param(m, "fc1.weight", 2, (int64_t[]){512, 784});
    check_param(m, "fc2.weight", 2, (int64_t[]){256, 512});
    check_param(m, "fc3.weight", 2, (int64_t[]){10, 256});
    CHECK(total_params(m) == 535818, "mlp has %lld parameters", (long long)total_params(m));
    nb_model_free(m);

    m = nb_zoo_new("seedcnn", 1, 28, 28, 10);
    check_param(m, "conv1.weight", 4, (int64_t[]){32, 1, 5, 5});
    check_param(m, "fc1.weight", 2, (int64_t[]){128, 1568});
    check_param(m, "fc2.weight", 2, (int64_t[]){10, 128});
    s = nb_model_summary(m, 3, (int64_t[]){1, 28, 28});
    CHECK(s && strstr(s, "(1,32,7,7)"), "seedcnn gives 32x7x7 before fc1:\n%s", s ? s : nb_last_error());
    free(s);
    nb_model_free(m);

    CHECK(nb_zoo_new("resnet", 1, 28, 28, 10) == NULL && strstr(nb_last_error(), "unknown model 'resnet'") &&
              strstr(nb_last_error(), "lenet5"), "unknown model: %s", nb_last_error());
    CHECK(nb_zoo_new("lenet5", 1, 8, 8, 10) == NULL && strstr(nb_last_error(), "12x12"), "tiny input: %s",
          nb_last_error());
}

/* PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases. */
static void test_init(void) {
    nb_seed(3);
    nb_model *m = nb_zoo_new("lenet5", 1, 28, 28, 10);
    nb_tensor *w = nb_params_find(nb_model_params(m), "fc1.weight");
    const float *d = nb_tensor_data(w);
    double bound = 1.0 / sqrt(400.0), mx = 0, mean = 0, var = 0;
    int64_t n = nb_tensor_numel(w);
    for (int64_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(d[i]));
        mean += d[i];
        var += (double)d[i] * d[i];
    }
    mean /= (double)n;
    var /= (double)n;
    CHECK(mx <= bound && mx > 0.99 * bound, "max |w| %g, bound %g", mx, bound);
    CHECK(fabs(mean) < 0.05 * bound, "mean %g", mean);
    CHECK(fabs(var / (bound * bound / 3) - 1) < 0.05, "variance %g, expected %g", var, bound * bound / 3);
    /* The same seed gives the same weights. */
    nb_seed(3);
    nb_model *m2 = nb_zoo_new("lenet5", 1, 28, 28, 10);
    CHECK(memcmp(nb_params_data(nb_model_params(m)), nb_params_data(nb_model_params(m2)),
                 (size_t)nb_params_numel(nb_model_params(m)) * sizeof(float)) == 0, "seeded init repeats");
    nb_model_free(m2);
    nb_model_free(m);

    /* Other initializers: Xavier-uniform bound, zeros. */
    nb_module *s = nb_sequential_new();
    nb_sequential_add(s, "fc", nb_linear_new(300, 100, true));
    m = nb_model_new(s, NB_INIT_XAVIER_UNIFORM);
    w = nb_params_find(nb_model_params(m), "fc.weight");
    d = nb_tensor_data(w);
    mx = 0;
    for (int64_t i = 0; i < nb_tensor_numel(w); i++) mx = fmax(mx, fabs(d[i]));
    bound = sqrt(6.0 / 400.0);
    CHECK(mx <= bound && mx > 0.98 * bound, "xavier max %g bound %g", mx, bound);
    const float *b = nb_tensor_data(nb_params_find(nb_model_params(m), "fc.bias"));
    CHECK(b[0] == 0 && b[99] == 0, "xavier biases are zero");
    nb_model_free(m);
}

/* Linear computes x W^T + b; Sequential rejects duplicate names and frees what it refuses. */
static void test_forward(void) {
    nb_module *s = nb_sequential_new();
    CHECK(nb_sequential_add(s, "fc", nb_linear_new(3, 2, true)) == NB_OK, "%s", nb_last_error());
    CHECK(nb_sequential_add(s, "fc", nb_linear_new(2, 2, true)) == NB_ERR_ARG &&
              strstr(nb_last_error(), "'fc' already exists"), "duplicate: %s", nb_last_error());
    CHECK(nb_sequential_add(s, "a.b", nb_flatten_new()) == NB_ERR_ARG, "dotted name");
    CHECK(nb_sequential_add(s, "act", nb_activation_new(NB_ACT_TANH)) == NB_OK, "%s", nb_last_error());
    nb_model *m = nb_model_new(s, NB_INIT_DEFAULT);
    float *w = nb_tensor_data(nb_params_find(nb_model_params(m), "fc.weight"));
    float *b = nb_tensor_data(nb_params_find(nb_model_params(m), "fc.bias"));
    float xv[6] = {1, 2, 3, -1, 0.5f, 2};
    nb_tensor *x = nb_tensor_from(2, (int64_t[]){2, 3}, xv);
    nb_tensor *y = nb_model_forward(m, x);
    CHECK(y && nb_tensor_shape(y)[0] == 2 && nb_tensor_shape(y)[1] == 2, "shape");
    float maxerr = 0;
    for (int i = 0; y && i < 2; i++)
        for (int o = 0; o < 2; o++) {
            float r = b[o];
            for (int k = 0; k < 3; k++) r += xv[i * 3 + k] * w[o * 3 + k];
            maxerr = fmaxf(maxerr, fabsf(tanhf(r) - nb_tensor_data(y)[i * 2 + o]));
        }
    CHECK(maxerr < 1e-6f, "linear+tanh error %g", maxerr);
    nb_tensor *bad = nb_tensor_new(2, (int64_t[]){2, 4});
    CHECK(nb_model_forward(m, bad) == NULL && strstr(nb_last_error(), "Linear(3, 2) 'fc': input (2,4)"),
          "wrong input: %s", nb_last_error());
    nb_step_reset();
    nb_tensor_free(bad);
    nb_tensor_free(x);
    nb_model_free(m);
}

/* BatchNorm2d: running statistics move towards the batch's, the counter counts, eval uses them. */
static void test_batchnorm(void) {
    nb_module *s = nb_sequential_new();
    nb_sequential_add(s, "bn", nb_batchnorm2d_new(2));
    nb_model *m = nb_model_new(s, NB_INIT_DEFAULT);
    CHECK(nb_model_counter_count(m) == 1 && strcmp(nb_model_counter_name(m, 0), "bn.num_batches_tracked") == 0,
          "counter name");
    check_param(m, "bn.weight", 1, (int64_t[]){2});
    nb_params *buf = nb_model_buffers(m);
    CHECK(nb_params_find(buf, "bn.running_mean") && nb_params_find(buf, "bn.running_var"), "buffers");
    nb_tensor *x = nb_tensor_new(4, (int64_t[]){4, 2, 3, 3});
    nb_seed(5);
    nb_tensor_fill_normal(x, 3.0f, 2.0f);
    nb_tensor *y = nb_model_forward(m, x);
    CHECK(y != NULL, "%s", nb_last_error());
    float *rm = nb_tensor_data(nb_params_find(buf, "bn.running_mean"));
    float *rv = nb_tensor_data(nb_params_find(buf, "bn.running_var"));
    double mean0 = 0;
    for (int n = 0; n < 4; n++)
        for (int k = 0; k < 9; k++) mean0 += nb_tensor_data(x)[n * 18 + k];
    mean0 /= 36;
    CHECK(fabs(rm[0] - 0.1 * mean0) < 1e-5, "running mean %g, expected %g", rm[0], 0.1 * mean0);
    CHECK(rv[0] > 1.0f, "running var moved: %g", rv[0]);
    CHECK(*nb_model_counter(m, 0) == 1, "counter %lld", (long long)*nb_model_counter(m, 0));
    nb_model_set_training(m, false);
    y = nb_model_forward(m, x);
    double want = (nb_tensor_data(x)[0] - rm[0]) / sqrt(rv[0] + 1e-5);
    CHECK(y && fabs(nb_tensor_data(y)[0] - want) < 1e-4, "eval uses running stats: %g vs %g",
          y ? nb_tensor_data(y)[0] : 0, want);
    CHECK(*nb_model_counter(m, 0) == 1, "eval does not count");
    nb_step_reset();
    nb_tensor_free(x);
    nb_model_free(m);
}

static bool same_params(nb_model *a, nb_model *b) {
    nb_params *pa = nb_model_params(a), *pb = nb_model_params(b);
    return nb_params_numel(pa) == nb_params_numel(pb) &&
           memcmp(nb_params_data(pa), nb_params_data(pb), (size_t)nb_params_numel(pa) * sizeof(float)) == 0;
}

static void test_checkpoint(void) {
    char path[128], bad[128];
    snprintf(path, sizeof path, "%s/m.safetensors", g_dir);
    nb_seed(11);
    nb_model *m = nb_zoo_new("lenet5", 1, 28, 28, 10);
    nb_optim *o = nb_adam_new(nb_model_params(m), nb_adam_defaults(1e-3f));
    /* One step so the moments are not zero. */
    for (int64_t i = 0; i < nb_params_numel(nb_model_params(m)); i++) nb_params_grad(nb_model_params(m))[i] = 0.01f * (float)(i % 7);
    nb_optim_step(o);
    nb_meta *info = nb_meta_new();
    nb_meta_set(info, "model", "lenet5");
    nb_meta_setf(info, "epoch", "%d", 3);
    nb_meta_set(info, "anything", "the library stores it without reading it");
    CHECK(nb_meta_set(info, "bad key", "x") == NB_ERR_ARG, "a key with a space is refused");
    /* A long value (a text model's vocabulary: 160 KB for 20,000 words) goes in and back. */
    size_t big_n = 200000;
    char *big = malloc(NB_META_VALUE_MAX + 2);
    for (size_t i = 0; i < NB_META_VALUE_MAX + 1; i++) big[i] = (char)('a' + i % 26);
    big[NB_META_VALUE_MAX + 1] = '\0';
    CHECK(nb_meta_set(info, "long", big) == NB_ERR_ARG && strstr(nb_last_error(), "over"), "an over-long value is refused");
    big[big_n] = '\0';
    CHECK(nb_meta_set(info, "long", big) == NB_OK, "a 200 KB value: %s", nb_last_error());
    CHECK(nb_checkpoint_save(path, m, o, info) == NB_OK, "%s", nb_last_error());
    nb_meta *got = nb_checkpoint_meta(path);
    CHECK(got && nb_meta_get(got, "long") && strcmp(nb_meta_get(got, "long"), big) == 0, "the 200 KB value read back");
    free(big);
    CHECK(got && strcmp(nb_meta_get(got, "model"), "lenet5") == 0 && strcmp(nb_meta_get(got, "epoch"), "3") == 0 &&
              strcmp(nb_meta_get(got, "format"), "nabla-checkpoint-2") == 0 &&
              strcmp(nb_meta_get(got, "anything"), "the library stores it without reading it") == 0,
          "meta: %s", nb_last_error());
    nb_meta_free(got);
    nb_meta *fmt = nb_meta_new();
    nb_meta_set(fmt, "format", "mine");
    CHECK(nb_checkpoint_save(path, m, o, fmt) == NB_ERR_ARG && strstr(nb_last_error(), "'format'"),
          "format is nabla's key: %s", nb_last_error());
    nb_meta_free(fmt);
    nb_seed(12);
    nb_model *m2 = nb_zoo_new("lenet5", 1, 28, 28, 10);
    nb_optim *o2 = nb_adam_new(nb_model_params(m2), nb_adam_defaults(1e-3f));
    CHECK(!same_params(m, m2), "different seeds differ");
    CHECK(nb_checkpoint_load(path, m2, o2, NULL, NULL) == NB_OK, "%s", nb_last_error());
    CHECK(same_params(m, m2), "weights restored");
    CHECK(nb_optim_steps(o2) == 1, "steps restored");
    const char *nm;
    float *s1 = nb_optim_state(o, 0, &nm), *s2 = nb_optim_state(o2, 0, &nm);
    CHECK(memcmp(s1, s2, (size_t)nb_params_numel(nb_model_params(m)) * sizeof(float)) == 0, "moments restored");

    /* A checkpoint of another model: the error names the tensor, the model is untouched. */
    nb_model *mlp = nb_zoo_new("mlp", 1, 28, 28, 10);
    snprintf(bad, sizeof bad, "%s/mlp.safetensors", g_dir);
    CHECK(nb_checkpoint_save(bad, mlp, NULL, NULL) == NB_OK, "%s", nb_last_error());
    nb_seed(13);
    nb_model *m3 = nb_zoo_new("lenet5", 1, 28, 28, 10), *m3copy;
    nb_seed(13);
    m3copy = nb_zoo_new("lenet5", 1, 28, 28, 10);
    CHECK(nb_checkpoint_load(bad, m3, NULL, NULL, NULL) != NB_OK && strstr(nb_last_error(), bad) &&
              strstr(nb_last_error(), "conv1.weight"), "wrong model: %s", nb_last_error());
    CHECK(same_params(m3, m3copy), "a failed load leaves the model as it was");
    CHECK(nb_checkpoint_load(bad, m3, o2, NULL, NULL) != NB_OK, "optimizer state missing");
    /* A weights-only file has no optimizer state. */
    snprintf(bad, sizeof bad, "%s/w.safetensors", g_dir);
    nb_checkpoint_save(bad, m, NULL, info);
    CHECK(nb_checkpoint_load(bad, m3, o2, NULL, NULL) != NB_OK && strstr(nb_last_error(), "optimizer"),
          "weights-only file into an optimizer: %s", nb_last_error());
    CHECK(nb_checkpoint_load(bad, m3, NULL, NULL, NULL) == NB_OK && same_params(m, m3), "weights-only load: %s", nb_last_error());
    /* Truncated file. */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *bytes = malloc((size_t)len);
    CHECK(fread(bytes, 1, (size_t)len, f) == (size_t)len, "read");
    fclose(f);
    snprintf(bad, sizeof bad, "%s/trunc.safetensors", g_dir);
    f = fopen(bad, "wb");
    fwrite(bytes, 1, (size_t)len / 2, f);
    fclose(f);
    CHECK(nb_checkpoint_load(bad, m3, NULL, NULL, NULL) != NB_OK && strstr(nb_last_error(), bad), "truncated: %s",
          nb_last_error());
    /* A failed save keeps the old file: the target's folder is a regular file. */
    snprintf(bad, sizeof bad, "%s/m.safetensors/x.safetensors", g_dir);
    CHECK(nb_checkpoint_save(bad, m, o, info) != NB_OK, "save under a file fails");
    f = fopen(path, "rb");
    char *again = malloc((size_t)len);
    CHECK(f && fread(again, 1, (size_t)len, f) == (size_t)len && memcmp(again, bytes, (size_t)len) == 0,
          "old checkpoint intact");
    if (f) fclose(f);
    free(again);
    free(bytes);
    nb_meta_free(info);
    nb_model_free(m3copy);
    nb_model_free(m3);
    nb_model_free(mlp);
    nb_optim_free(o2);
    nb_model_free(m2);
    nb_optim_free(o);
    nb_model_free(m);
}

/* Inference without a tape fuses Conv2d, ReLU, MaxPool2d(2, 2) into one pass (sequential.c,
 * nb__conv2d_relu_maxpool2): its outputs must equal those of the ordinary ops (with a tape)
 * within rounding (the channels-in-lanes and wide kernels sum a GEMM-path layer's terms in
 * another order; a direct-kernel layer gives the same bits), for LeNet-5 (its first layer
 * takes the direct kernel, its second the channels-in-lanes one) and for odd-sized stacks (a conv without ReLU, odd
 * planes, padding), at 1 and 2 threads, for batches of one, of several blocks and ragged ones.
 * Returns the largest difference relative to max(1, |y|). */
static double rel_diff(const nb_tensor *a, const nb_tensor *b) {
    if (!a || !b || nb_tensor_numel(a) != nb_tensor_numel(b)) return INFINITY;
    const float *x = nb_tensor_data((nb_tensor *)a), *y = nb_tensor_data((nb_tensor *)b);
    double m = 0.0;
    for (int64_t i = 0; i < nb_tensor_numel(a); i++) {
        const double d = fabs((double)x[i] - (double)y[i]) / fmax(1.0, fabs((double)y[i]));
        if (!(d <= m)) m = d; /* NaN: taken */
    }
    return m;
}

static void check_fused(nb_model *m, int c, int h, int w, int64_t n, const char *what) {
    float *xv = malloc(sizeof(float) * (size_t)(n * c * h * w));
    uint64_t r = 88172645463325252ull + (uint64_t)n;
    for (int64_t i = 0; i < n * c * h * w; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        xv[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 4.0 - 2.0);
    }
    nb_tensor *x = nb_step_tensor(4, (int64_t[]){n, c, h, w}, xv);
    nb_tensor *plain = nb_model_forward(m, x); /* with a tape: the ordinary ops */
    nb_no_grad_begin();
    nb_tensor *fused = nb_model_forward(m, x);
    nb_no_grad_end();
    const double d = rel_diff(fused, plain);
    CHECK(plain && fused && nb_tensor_requires_grad(plain) && d <= 2e-6,
          "%s, batch %lld, %d threads: fused inference equals the ops (max rel. difference %g)", what,
          (long long)n, nb_get_threads(), d);
    if (n == 1 && nb_get_threads() == 1) printf("fused inference, %s: max rel. difference %g\n", what, d);
    nb_step_reset();
    free(xv);
}

static void test_fused_inference(void) {
    nb_model *le = nb_zoo_new("lenet5", 1, 28, 28, 10);
    /* a stack with a conv+pool without ReLU, odd sizes, padding and groups */
    nb_module *s = nb_sequential_new();
    nb_conv_opts o = nb_conv_defaults();
    o.padding[0] = o.padding[1] = 1;
    CHECK(nb_sequential_add(s, "c1", nb_conv2d_new(3, 5, 3, o, true)) == NB_OK &&
              nb_sequential_add(s, "p1", nb_maxpool2d_new(2, 2)) == NB_OK &&
              nb_sequential_add(s, "c2", nb_conv2d_new(5, 18, 3, o, true)) == NB_OK &&
              nb_sequential_add(s, "r2", nb_activation_new(NB_ACT_RELU)) == NB_OK &&
              nb_sequential_add(s, "p2", nb_maxpool2d_new(2, 2)) == NB_OK,
          "%s", nb_last_error());
    nb_model *st = nb_model_new(s, NB_INIT_DEFAULT);
    /* the wide kernel (5 output channels), then channels in lanes with stride (2, 1), 12
     * channels (a vector pair with 4 idle lanes), no ReLU */
    nb_module *s2 = nb_sequential_new();
    nb_conv_opts o2 = nb_conv_defaults();
    o2.stride[0] = 2;
    CHECK(nb_sequential_add(s2, "c1", nb_conv2d_new(3, 5, 3, nb_conv_defaults(), true)) == NB_OK &&
              nb_sequential_add(s2, "r1", nb_activation_new(NB_ACT_RELU)) == NB_OK &&
              nb_sequential_add(s2, "p1", nb_maxpool2d_new(2, 2)) == NB_OK &&
              nb_sequential_add(s2, "c2", nb_conv2d_new(5, 12, 3, o2, true)) == NB_OK &&
              nb_sequential_add(s2, "p2", nb_maxpool2d_new(2, 2)) == NB_OK,
          "%s", nb_last_error());
    nb_model *st2 = nb_model_new(s2, NB_INIT_DEFAULT);
    /* the direct kernel's row pairs (conv_direct.c) with rows of 20 = 2 vectors + 4 columns (the
     * pieces of 4 in a vector of their own), 7 channels (a partial tile of 3), stride 2 and
     * dilation 2 along H, padding: 2x25x18 -> 7x12x20 */
    nb_module *s3 = nb_sequential_new();
    nb_conv_opts o3 = nb_conv_defaults();
    o3.stride[0] = 2, o3.dilation[0] = 2, o3.padding[0] = 1, o3.padding[1] = 2;
    CHECK(nb_sequential_add(s3, "c1", nb_conv2d_new(2, 7, 3, o3, true)) == NB_OK &&
              nb_sequential_add(s3, "r1", nb_activation_new(NB_ACT_RELU)) == NB_OK &&
              nb_sequential_add(s3, "p1", nb_maxpool2d_new(2, 2)) == NB_OK,
          "%s", nb_last_error());
    nb_model *st3 = nb_model_new(s3, NB_INIT_DEFAULT);
    /* row pairs again, without ReLU, rows of 19 (a piece of 3 columns, the last column unused
     * by the pooling), 4 channels: 1x14x19 -> 4x12x19 */
    nb_module *s4 = nb_sequential_new();
    nb_conv_opts o4 = nb_conv_defaults();
    o4.padding[1] = 1;
    CHECK(nb_sequential_add(s4, "c1", nb_conv2d_new(1, 4, 3, o4, true)) == NB_OK &&
              nb_sequential_add(s4, "p1", nb_maxpool2d_new(2, 2)) == NB_OK,
          "%s", nb_last_error());
    nb_model *st4 = nb_model_new(s4, NB_INIT_DEFAULT);
    const int t0 = nb_get_threads();
    for (int t = 1; t <= 2; t++) {
        nb_set_threads(t);
        for (int64_t n = 1; n <= 300; n += 299 / 3) {
            check_fused(le, 1, 28, 28, n, "lenet5");
            check_fused(st, 3, 21, 19, n, "conv-pool (direct), conv-relu-pool (channels in lanes, 18) 3x21x19");
            check_fused(st2, 3, 21, 19, n, "conv-relu-pool (wide), conv-pool (channels in lanes, stride 2x1) 3x21x19");
            check_fused(st3, 2, 25, 18, n, "conv-relu-pool (direct row pairs, rows of 20, stride 2x1, dilation 2x1) 2x25x18");
            check_fused(st4, 1, 14, 19, n, "conv-pool (direct row pairs, rows of 19) 1x14x19");
        }
    }
    nb_set_threads(t0);
    /* an input the convolution refuses: the ops' message */
    nb_no_grad_begin();
    nb_tensor *bad = nb_tensor_new(4, (int64_t[]){2, 2, 28, 28});
    CHECK(nb_model_forward(le, bad) == NULL && strstr(nb_last_error(), "conv2d"), "wrong channels: %s",
          nb_last_error());
    nb_no_grad_end();
    nb_tensor_free(bad);
    nb_step_reset();
    nb_model_free(le);
    nb_model_free(st);
    nb_model_free(st2);
    nb_model_free(st3);
    nb_model_free(st4);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/nabla_nn_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    test_zoo();
    test_init();
    test_forward();
    test_batchnorm();
    test_fused_inference();
    test_checkpoint();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return test_end("test_nn");
}
