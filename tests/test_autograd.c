/* Autodiff contracts: accumulation, backward twice, only the reached graph, no-grad, detach, the
 * step arena's steady state, parameter slab, bad calls that must fail with a message (no crash),
 * repeatability, the RNG state's round trip. */
#include "autograd/op.h"
#include "check.h"

#include <math.h>

static nb_tensor *make(int ndim, const int64_t *shape, bool grad) {
    nb_tensor *t = nb_tensor_new(ndim, shape);
    nb_tensor_fill_uniform(t, -1, 1);
    if (grad) nb_tensor_set_requires_grad(t, true);
    return t;
}

/* loss = mean(tanh(x @ w) * x @ w) + sum(w^2): a small graph that reuses tensors. */
static nb_tensor *graph(nb_tensor *x, nb_tensor *w) {
    nb_tensor *h = nb_matmul(x, w);
    nb_tensor *l = nb_mean(nb_mul(nb_tanh(h), h), NB_ALL_AXES, false);
    return nb_add(l, nb_sum(nb_mul(w, w), NB_ALL_AXES, false));
}

static void test_backward_twice(void) {
    nb_seed(1);
    nb_tensor *x = make(2, (int64_t[]){4, 3}, true), *w = make(2, (int64_t[]){3, 2}, true);
    nb_tensor *loss = graph(x, w);
    CHECK(nb_backward(loss) == NB_OK, "%s", nb_last_error());
    float g1[6], gx1[12];
    memcpy(g1, nb_tensor_grad(w), sizeof g1);
    memcpy(gx1, nb_tensor_grad(x), sizeof gx1);
    CHECK(nb_backward(loss) == NB_OK, "%s", nb_last_error());
    int same = 1;
    for (int i = 0; i < 6; i++) same &= fabsf(nb_tensor_grad(w)[i] - 2 * g1[i]) <= 1e-6f * fabsf(g1[i]) + 1e-7f;
    for (int i = 0; i < 12; i++) same &= fabsf(nb_tensor_grad(x)[i] - 2 * gx1[i]) <= 1e-6f * fabsf(gx1[i]) + 1e-7f;
    CHECK(same, "a second backward without zeroing must double every leaf gradient");
    nb_tensor_zero_grad(w);
    CHECK(nb_tensor_grad(w)[0] == 0.0f, "zero_grad");
    nb_step_reset();
    nb_tensor_free(x);
    nb_tensor_free(w);
}

/* Intermediate gradients are taken unset and may share a buffer (a reshape's input takes its
 * output's gradient): each result's gradient must still read exactly its own, through a second
 * backward, after a new reader of a shared result, and for a result no backward wrote. */
static void test_unset_and_shared_grads(void) {
    nb_seed(2);
    nb_tensor *x = make(2, (int64_t[]){2, 3}, true);
    nb_tensor *a = nb_scale(x, 2.0f);                          /* read by the reshape alone */
    nb_tensor *r = nb_reshape(a, 1, (int64_t[]){6});
    nb_tensor *side = nb_exp(x);                               /* no gradient reaches it */
    (void)nb_scale(side, 1.0f);
    nb_tensor *loss = nb_sum(nb_mul(r, r), NB_ALL_AXES, false); /* d/dr = 2r, d/dx = 8x */
    CHECK(nb_backward(loss) == NB_OK, "%s", nb_last_error());
    const float *xd = nb_tensor_data(x);
    int ok = 1;
    for (int i = 0; i < 6; i++) {
        ok &= nb_tensor_grad(r)[i] == 2.0f * nb_tensor_data(r)[i];
        ok &= nb_tensor_grad(a)[i] == 2.0f * nb_tensor_data(r)[i];
        ok &= fabsf(nb_tensor_grad(x)[i] - 8.0f * xd[i]) <= 1e-6f;
    }
    CHECK(ok, "gradients of a reshape's input, output and leaf after one backward");
    CHECK(nb_tensor_grad(side) == NULL || nb_tensor_grad(side)[0] == 0.0f, "an unreached result reads zeros");
    /* a new reader of a (the shared result), then a backward from a loss over both */
    nb_tensor *loss2 = nb_add(loss, nb_sum(nb_scale(a, 3.0f), NB_ALL_AXES, false));
    nb_tensor_zero_grad(x);
    CHECK(nb_backward(loss2) == NB_OK, "%s", nb_last_error());
    for (int i = 0; i < 6; i++) {
        ok &= nb_tensor_grad(r)[i] == 2.0f * nb_tensor_data(r)[i];
        ok &= fabsf(nb_tensor_grad(a)[i] - (2.0f * nb_tensor_data(r)[i] + 3.0f)) <= 1e-6f;
        ok &= fabsf(nb_tensor_grad(x)[i] - (8.0f * xd[i] + 6.0f)) <= 1e-5f;
    }
    CHECK(ok, "gradients after a new reader of a shared result and a second backward");
    nb_step_reset();
    nb_tensor_free(x);
}

/* A backward runs only the graph its loss reaches. Here the first loss's graph stays on the tape
 * while a second, unrelated loss goes backward (as a GAN's discriminator graph does during the
 * generator's backward): re-running sqrt's backward there on a zero gradient would add 0 * inf =
 * NaN into x's gradient, where PyTorch leaves it untouched. */
static void test_unreached_graph(void) {
    nb_tensor *x = nb_tensor_new(1, (int64_t[]){3}), *w = make(1, (int64_t[]){3}, true);
    const float xs[3] = {0.0f, 1.0f, 4.0f};
    memcpy(nb_tensor_data(x), xs, sizeof xs);
    nb_tensor_set_requires_grad(x, true);
    nb_tensor *s = nb_sqrt(x);
    nb_tensor *r = nb_reshape(s, 2, (int64_t[]){1, 3}); /* r's gradient is shared with s's */
    nb_tensor *la = nb_sum(r, NB_ALL_AXES, false);
    CHECK(nb_backward(la) == NB_OK, "%s", nb_last_error());
    CHECK(isinf(nb_tensor_grad(x)[0]) && nb_tensor_grad(x)[1] == 0.5f && nb_tensor_grad(x)[2] == 0.25f,
          "d sqrt(x)/dx = 1 / (2 sqrt(x)): %g %g %g", nb_tensor_grad(x)[0], nb_tensor_grad(x)[1], nb_tensor_grad(x)[2]);
    nb_tensor_zero_grad(x);
    CHECK(nb_backward(nb_sum(nb_mul(w, w), NB_ALL_AXES, false)) == NB_OK, "%s", nb_last_error());
    CHECK(nb_tensor_grad(x)[0] == 0.0f && nb_tensor_grad(x)[1] == 0.0f && nb_tensor_grad(x)[2] == 0.0f,
          "a backward that does not reach x leaves its gradient alone, got %g %g %g", nb_tensor_grad(x)[0],
          nb_tensor_grad(x)[1], nb_tensor_grad(x)[2]);
    CHECK(nb_tensor_grad(w)[1] == 2.0f * nb_tensor_data(w)[1], "the second loss's own gradient");
    CHECK(nb_tensor_grad(s) && nb_tensor_grad(s)[1] == 0.0f && nb_tensor_grad(r) && nb_tensor_grad(r)[1] == 0.0f,
          "the unreached results' gradients read zeros");
    /* the first loss again: its graph is reached once more */
    CHECK(nb_backward(la) == NB_OK, "%s", nb_last_error());
    CHECK(nb_tensor_grad(x)[2] == 0.25f && nb_tensor_grad(s)[2] == 1.0f, "a third backward from the first loss");
    nb_step_reset();
    nb_tensor_free(x);
    nb_tensor_free(w);
}

static void test_no_grad_and_detach(void) {
    nb_tensor *x = make(1, (int64_t[]){5}, true);
    nb_no_grad_begin();
    nb_tensor *y = nb_exp(x);
    nb_no_grad_end();
    CHECK(y && !nb_tensor_requires_grad(y), "no-grad results need no gradient");
    CHECK(nb_backward(nb_sum(y, NB_ALL_AXES, false)) == NB_ERR_STATE, "backward through a no-grad result must fail");
    CHECK(strstr(nb_last_error(), "does not require") != NULL, "message: %s", nb_last_error());
    nb_tensor *d = nb_detach(nb_exp(x));
    CHECK(!nb_tensor_requires_grad(d) && nb_tensor_data(d)[0] == expf(nb_tensor_data(x)[0]), "detach shares values");
    /* The gradient flows only through the attached branch: d(x*detach(x))/dx = detach(x). */
    nb_tensor *l = nb_sum(nb_mul(x, nb_detach(x)), NB_ALL_AXES, false);
    CHECK(nb_backward(l) == NB_OK, "%s", nb_last_error());
    CHECK(nb_tensor_grad(x)[2] == nb_tensor_data(x)[2], "gradient through detach");
    CHECK(nb_grad_enabled(), "grad mode restored");
    nb_step_reset();
    nb_tensor_free(x);
}

static void test_steady_state(void) {
    nb_params *p = nb_params_new();
    nb_tensor *w1 = nb_params_add(p, "fc1.weight", 2, (int64_t[]){20, 32});
    nb_tensor *w2 = nb_params_add(p, "fc2.weight", 2, (int64_t[]){32, 5});
    nb_tensor_fill_normal(w1, 0, 0.2f);
    nb_tensor_fill_normal(w2, 0, 0.2f);
    CHECK(nb_params_count(p) == 2 && nb_params_find(p, "fc2.weight") == w2, "params lookup");
    CHECK(nb_params_add(p, "fc1.weight", 1, (int64_t[]){3}) == NULL && strstr(nb_last_error(), "already"),
          "duplicate parameter names are refused");
    CHECK(nb_tensor_data(w2) == nb_params_data(p) + (nb_tensor_data(w2) - nb_tensor_data(w1)) &&
          nb_tensor_data(w1) == nb_params_data(p), "parameters are views of one slab");
    nb_optim *opt = nb_adam_new(p, nb_adam_defaults(1e-2f));
    nb_tensor *x = make(2, (int64_t[]){16, 20}, false);
    nb_tensor *t = nb_index_new(1, (int64_t[]){16});
    for (int i = 0; i < 16; i++) nb_tensor_idata(t)[i] = i % 5;
    size_t mallocs = 0;
    float first = 0, last = 0;
    for (int step = 0; step < 50; step++) {
        if (step == 3) mallocs = nb_arena_mallocs();
        nb_params_zero_grad(p);
        nb_tensor *loss = nb_cross_entropy(nb_matmul(nb_relu(nb_matmul(x, w1)), w2), t);
        if (step == 0) first = nb_tensor_item(loss);
        last = nb_tensor_item(loss);
        nb_backward(loss);
        nb_optim_step(opt);
        nb_step_reset();
    }
    CHECK(nb_arena_mallocs() == mallocs, "the arena allocated in the steady state (%zu -> %zu mallocs)",
          mallocs, nb_arena_mallocs());
    CHECK(last < 0.1f * first, "training on a fixed batch must fit it: loss %g -> %g", first, last);
    nb_params_add(p, "late", 1, (int64_t[]){4});
    CHECK(nb_optim_step(opt) == NB_ERR_STATE, "an optimizer must notice parameters added after it");
    nb_optim_free(opt);
    nb_params_free(p);
    nb_tensor_free(x);
    nb_tensor_free(t);
}

static void test_bad_calls(void) {
    nb_tensor *a = make(2, (int64_t[]){32, 784}, false), *b = make(2, (int64_t[]){100, 10}, false);
    CHECK(nb_matmul(a, b) == NULL, "mismatched matmul");
    CHECK(strstr(nb_last_error(), "nb_matmul: (32,784) x (100,10): inner sizes 784 != 100"), "message: %s", nb_last_error());
    nb_clear_error();
    CHECK(nb_add(a, NULL) == NULL && !strcmp(nb_last_error(), "nb_add: input 1 is NULL"), "NULL input: %s", nb_last_error());
    CHECK(nb_add(a, b) == NULL && strstr(nb_last_error(), "do not broadcast"), "broadcast: %s", nb_last_error());
    CHECK(nb_tensor_new(2, (int64_t[]){3, -1}) == NULL && strstr(nb_last_error(), "negative"), "negative size: %s", nb_last_error());
    CHECK(nb_tensor_new(9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}) == NULL, "too many axes");
    CHECK(nb_tensor_new(2, (int64_t[]){INT64_MAX / 2, 4}) == NULL && strstr(nb_last_error(), "too many"), "overflow: %s", nb_last_error());
    CHECK(nb_reshape(a, 2, (int64_t[]){5, -1}) == NULL && strstr(nb_last_error(), "nb_reshape"), "reshape: %s", nb_last_error());
    /* Sizes whose product wraps around int64 must be rejected, not wrapped into a valid count. */
    nb_tensor *four = make(1, (int64_t[]){4}, false);
    CHECK(nb_reshape(four, 2, (int64_t[]){(1LL << 62) + 1, 4}) == NULL && strstr(nb_last_error(), "too many"),
          "wrapped reshape: %s", nb_last_error());
    CHECK(nb_reshape(four, 3, (int64_t[]){(1LL << 62), 4, -1}) == NULL, "wrapped reshape with -1: %s", nb_last_error());
    /* nb__apply's check of every output shape names the op once, as its public builder. */
    CHECK(nb_broadcast_to(four, 3, (int64_t[]){(1LL << 62), 4, 4}) == NULL &&
              !strcmp(nb_last_error(), "nb_broadcast_to: shape (4611686018427387904,4,4) has too many elements"),
          "wrapped broadcast: %s", nb_last_error());
    CHECK(nb_broadcast_to(four, 2, (int64_t[]){-3, 4}) == NULL, "negative broadcast");
    nb_tensor *sl = nb_slice(four, 0, 1, 4, INT64_MAX);
    CHECK(sl && nb_tensor_shape(sl)[0] == 1 && nb_tensor_data(sl)[0] == nb_tensor_data(four)[1],
          "huge slice step keeps one element");
    nb_tensor_free(four);
    CHECK(nb_slice(a, 5, 0, 1, 1) == NULL && strstr(nb_last_error(), "axis 5"), "slice axis: %s", nb_last_error());
    CHECK(nb_permute(a, (int[]){0, 0}) == NULL, "bad permutation");
    CHECK(nb_conv2d(a, b, NULL, nb_conv_defaults()) == NULL && strstr(nb_last_error(), "nb_conv2d"), "conv 2-d input: %s", nb_last_error());
    nb_tensor *img = make(4, (int64_t[]){1, 1, 3, 3}, false), *k = make(4, (int64_t[]){1, 1, 5, 5}, false);
    CHECK(nb_conv2d(img, k, NULL, nb_conv_defaults()) == NULL && strstr(nb_last_error(), "smaller"), "kernel larger than input: %s", nb_last_error());
    CHECK(nb_max_pool2d(img, 0, 1, 0) == NULL, "zero pooling window");
    nb_tensor *t = nb_index_new(1, (int64_t[]){32});
    nb_tensor_idata(t)[3] = 10;
    nb_tensor *logits = make(2, (int64_t[]){32, 10}, false);
    CHECK(nb_cross_entropy(logits, t) == NULL && strstr(nb_last_error(), "target 10 at position 3"), "label range: %s", nb_last_error());
    CHECK(nb_cross_entropy(t, logits) == NULL && strstr(nb_last_error(), "must be a float"), "dtype: %s", nb_last_error());
    CHECK(nb_dropout(a, 1.5f, true) == NULL, "dropout p > 1");
    CHECK(nb_backward(a) != NB_OK, "backward of a non-scalar");
    CHECK(nb_backward(NULL) == NB_ERR_ARG, "backward of NULL");
    CHECK(nb_tensor_set_requires_grad(t, true) == NB_ERR_DTYPE, "index tensors have no gradient");
    nb_tensor_free(NULL); /* accepted */
    nb_params_free(NULL);
    nb_optim_free(NULL);
    nb_step_reset();
    nb_tensor *all[] = {a, b, img, k, t, logits};
    for (int i = 0; i < 6; i++) nb_tensor_free(all[i]);
}

/* A NULL input that comes from a failed op keeps that op's message (the cause) first, then
 * each op the NULL went through. */
static void test_error_cause_kept(void) {
    nb_tensor *a = make(2, (int64_t[]){32, 784}, true), *b = make(2, (int64_t[]){100, 10}, true);
    nb_tensor *t = nb_index_new(1, (int64_t[]){32});
    const char *cause = "nb_matmul: (32,784) x (100,10): inner sizes 784 != 100";
    nb_clear_error();
    CHECK(nb_relu(nb_matmul(a, b)) == NULL, "relu of a failed matmul");
    char want[256];
    snprintf(want, sizeof want, "%s; nb_relu got NULL input 0", cause);
    CHECK(!strcmp(nb_last_error(), want), "relu(matmul): %s", nb_last_error());
    nb_clear_error();
    nb_tensor *loss = nb_cross_entropy(nb_relu(nb_matmul(a, b)), t);
    snprintf(want, sizeof want, "%s; nb_relu got NULL input 0; nb_cross_entropy got NULL input 0",
             cause);
    CHECK(loss == NULL && !strcmp(nb_last_error(), want), "cross_entropy(relu(matmul)): %s",
          nb_last_error());
    CHECK(nb_backward(loss) == NB_ERR_ARG && !strncmp(nb_last_error(), cause, strlen(cause)) &&
              strstr(nb_last_error(), "; nb_backward got NULL loss"),
          "backward of the failed loss: %s", nb_last_error());
    /* Views and detach keep the cause too. */
    nb_clear_error();
    CHECK(nb_transpose(nb_matmul(a, b), 0, 1) == NULL && !strncmp(nb_last_error(), cause, strlen(cause)) &&
              strstr(nb_last_error(), "; nb_transpose got NULL input"),
          "transpose(matmul): %s", nb_last_error());
    /* With no earlier message, a NULL input is the whole story. */
    nb_clear_error();
    CHECK(nb_relu(NULL) == NULL && !strcmp(nb_last_error(), "nb_relu: input 0 is NULL"), "relu(NULL): %s",
          nb_last_error());
    nb_clear_error();
    CHECK(nb_backward(NULL) == NB_ERR_ARG && !strcmp(nb_last_error(), "nb_backward: loss is NULL"),
          "backward(NULL): %s", nb_last_error());
    nb_step_reset();
    nb_tensor_free(a);
    nb_tensor_free(b);
    nb_tensor_free(t);
}

/* Reductions take axis numbers as PyTorch does: negative from the end, NB_ALL_AXES for all,
 * a list for several; a bad axis is an error naming the op and the shape. */
static void test_reduce_axes(void) {
    nb_tensor *x = nb_tensor_new(3, (int64_t[]){2, 3, 4}); /* x[i][j][k] = 100i + 10j + k */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) nb_tensor_data(x)[(i * 3 + j) * 4 + k] = (float)(100 * i + 10 * j + k);
    nb_tensor *s1 = nb_sum(x, -1, false), *s2 = nb_sum(x, 2, false);
    CHECK(s1 && s2 && nb_tensor_ndim(s1) == 2 && nb_tensor_size(s1, 0) == 2 && nb_tensor_size(s1, 1) == 3,
          "sum over axis -1: %s", nb_last_error());
    CHECK(s1 && nb_tensor_data(s1)[4] == 4 * 110.0f + 6 && !memcmp(nb_tensor_data(s1), nb_tensor_data(s2), 6 * sizeof(float)),
          "axis -1 is axis 2 of a 3-d tensor");
    nb_tensor *m = nb_mean(x, -3, true);
    CHECK(m && nb_tensor_ndim(m) == 3 && nb_tensor_size(m, 0) == 1 && nb_tensor_data(m)[5] == 50.0f + 11,
          "mean over axis -3 with keepdim: %s", nb_last_error());
    nb_tensor *all = nb_sum(x, NB_ALL_AXES, false), *allk = nb_mean(x, NB_ALL_AXES, true);
    /* sum over i, j, k of 100i + 10j + k = 12*100 + 2*4*30 + 2*3*6 */
    CHECK(all && nb_tensor_ndim(all) == 0 && nb_tensor_item(all) == 1200.0f + 240 + 36, "sum of all: %s",
          nb_last_error());
    CHECK(allk && nb_tensor_ndim(allk) == 3 && nb_tensor_numel(allk) == 1 && nb_tensor_item(allk) == 1476.0f / 24,
          "mean of all with keepdim");
    nb_tensor *sa = nb_sum_axes(x, 2, (int[]){-1, 0}, false), *ma = nb_mean_axes(x, 2, (int[]){0, 2}, true);
    CHECK(sa && nb_tensor_ndim(sa) == 1 && nb_tensor_size(sa, 0) == 3 && nb_tensor_data(sa)[1] == 8 * 10.0f + 400 + 12,
          "sum over axes {-1, 0}: %s", nb_last_error());
    CHECK(ma && nb_tensor_ndim(ma) == 3 && nb_tensor_size(ma, 1) == 3 && nb_tensor_data(ma)[2] == 20.0f + 50 + 1.5f,
          "mean over axes {0, 2} with keepdim");
    nb_tensor *mx = nb_max(x, -2, false), *mxa = nb_max(x, NB_ALL_AXES, false);
    CHECK(mx && nb_tensor_size(mx, 1) == 4 && nb_tensor_data(mx)[5] == 121.0f && mxa && nb_tensor_item(mxa) == 123.0f,
          "max over axis -2 and over all");
    /* Errors name the op and the shape. */
    CHECK(nb_sum(x, 3, false) == NULL && !strcmp(nb_last_error(), "nb_sum: axis 3 out of range for (2,3,4) (axes -3..2)"),
          "axis 3: %s", nb_last_error());
    CHECK(nb_mean(x, -4, false) == NULL && !strcmp(nb_last_error(), "nb_mean: axis -4 out of range for (2,3,4) (axes -3..2)"),
          "axis -4: %s", nb_last_error());
    CHECK(nb_max(x, 7, true) == NULL && !strcmp(nb_last_error(), "nb_max: axis 7 out of range for (2,3,4) (axes -3..2)"),
          "max axis 7: %s", nb_last_error());
    CHECK(nb_sum_axes(x, 2, (int[]){1, -2}, false) == NULL &&
              !strcmp(nb_last_error(), "nb_sum: axis 1 of (2,3,4) is named twice (as -2)"),
          "axis named twice: %s", nb_last_error());
    CHECK(nb_sum_axes(x, 2, (int[]){0, NB_ALL_AXES}, false) == NULL && strstr(nb_last_error(), "NB_ALL_AXES cannot be one of several"),
          "NB_ALL_AXES in a list: %s", nb_last_error());
    CHECK(nb_mean_axes(x, 0, (int[]){0}, false) == NULL && strstr(nb_last_error(), "nb_mean_axes: 0 axes"),
          "no axes: %s", nb_last_error());
    CHECK(nb_sum_axes(x, 1, NULL, false) == NULL, "NULL axes");
    nb_tensor *s0 = nb_sum(x, NB_ALL_AXES, false);
    CHECK(nb_sum(s0, 0, false) == NULL && strstr(nb_last_error(), "0-d tensor"), "axis of a 0-d tensor: %s", nb_last_error());
    CHECK(nb_sum(s0, NB_ALL_AXES, false) && nb_tensor_item(nb_sum(s0, NB_ALL_AXES, true)) == 1476.0f, "sum of a 0-d tensor");
    /* Gradients through a negative axis and a list: d sum / dx = 1, d mean / dx = 1/count. */
    nb_tensor_set_requires_grad(x, true);
    nb_tensor *l = nb_add(nb_sum(nb_sum(x, -2, false), NB_ALL_AXES, false),
                          nb_sum(nb_mean_axes(x, 2, (int[]){-3, -1}, false), NB_ALL_AXES, false));
    CHECK(l && nb_backward(l) == NB_OK && nb_tensor_grad(x)[0] == 1.0f + 1.0f / 8 && nb_tensor_grad(x)[23] == 1.0f + 1.0f / 8,
          "gradients through axis numbers: %s", nb_last_error());
    nb_step_reset();
    nb_tensor_free(x);
}

/* The same seed and thread count give the same bits, conv and matmul included. */
static void run_once(float *out) {
    nb_seed(7);
    nb_tensor *x = make(4, (int64_t[]){8, 3, 12, 12}, false), *w = make(4, (int64_t[]){6, 3, 3, 3}, true);
    nb_conv_opts o = nb_conv_defaults();
    o.padding[0] = o.padding[1] = 1;
    nb_tensor *y = nb_max_pool2d(nb_relu(nb_conv2d(x, w, NULL, o)), 2, 2, 0);
    nb_tensor *loss = nb_mean(nb_mul(nb_dropout(y, 0.2f, true), y), NB_ALL_AXES, false);
    nb_backward(loss);
    out[0] = nb_tensor_item(loss);
    memcpy(out + 1, nb_tensor_grad(w), 162 * sizeof(float));
    nb_step_reset();
    nb_tensor_free(x);
    nb_tensor_free(w);
}

/* nb_dropout draws its mask in bulk (nb__rng_uniforms): the same numbers, in the same order, as
 * one nb_rng_uniform call per element, so seeded runs keep the bits they had; the generator is
 * left where those calls leave it. Odd sizes, several p; the gradient is the mask too. */
static void test_dropout_draws(void) {
    const int64_t sizes[] = {1, 7, 1000, 4099};
    const float ps[] = {0.1f, 0.5f, 0.9f};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++) {
            const int64_t n = sizes[a];
            const float p = ps[b], keep = 1.0f / (1.0f - p);
            nb_seed(42 + (uint64_t)a);
            nb_tensor *x = make(1, (int64_t[]){n}, true);
            nb_seed(1234);
            nb_tensor *y = nb_dropout(x, p, true);
            uint64_t after[4], ref[4];
            nb_rng_get_state(after);
            nb_backward(nb_sum(y, NB_ALL_AXES, false));
            nb_seed(1234);
            int same = y != NULL, grads = y != NULL;
            for (int64_t i = 0; same && i < n; i++) {
                const float m = nb_rng_uniform() < p ? 0.0f : keep; /* the reference: one call each */
                const float want = nb_tensor_data(x)[i] * m;
                same = memcmp(&nb_tensor_data(y)[i], &want, sizeof want) == 0;
                grads = grads && nb_tensor_grad(x)[i] == m;
            }
            nb_rng_get_state(ref);
            CHECK(same && grads, "dropout n %lld p %g: output or gradient differs from the per-element nb_rng_uniform draws",
                  (long long)n, (double)p);
            CHECK(memcmp(after, ref, sizeof ref) == 0, "dropout n %lld: the RNG state after differs", (long long)n);
            nb_step_reset();
            nb_tensor_free(x);
        }
}

static void test_repeatable(void) {
    float r1[163], r2[163];
    run_once(r1);
    run_once(r2);
    CHECK(memcmp(r1, r2, sizeof r1) == 0, "two seeded runs differ");
}

static void test_views(void) {
    nb_tensor *x = nb_tensor_new(2, (int64_t[]){2, 3});
    for (int i = 0; i < 6; i++) nb_tensor_data(x)[i] = (float)i;
    nb_tensor *t = nb_transpose(x, 0, 1);
    CHECK(!nb_tensor_is_contiguous(t) && nb_tensor_get(t, (int64_t[]){2, 1}) == 5.0f, "transpose is a view");
    CHECK(nb_tensor_data(nb_contiguous(t))[1] == 3.0f, "contiguous copy in logical order");
    nb_tensor *s = nb_slice(x, 1, 0, 3, 2);
    CHECK(nb_tensor_size(s, 1) == 2 && nb_tensor_get(s, (int64_t[]){1, 1}) == 5.0f, "strided slice");
    nb_tensor *m = nb_max(x, 1, false);
    CHECK(nb_tensor_data(m)[0] == 2.0f && nb_tensor_data(m)[1] == 5.0f, "max over an axis");
    nb_tensor *e = nb_reshape(x, 3, (int64_t[]){1, 6, 1});
    CHECK(e && nb_tensor_size(e, 1) == 6, "reshape with ones");
    nb_tensor *big = nb_tensor_new(6, (int64_t[]){2, 1, 2, 1, 2, 3});
    CHECK(nb_sum_axes(big, 6, (int[]){0, 1, 2, 3, 4, 5}, false) && nb_tensor_ndim(nb_sum(big, 0, true)) == 6, "6-d tensors");
    nb_step_reset();
    nb_tensor_free(x);
    nb_tensor_free(big);
}

/* Zero-size tensors go through ops and backward without crashing and with the right shapes. */
static void test_empty(void) {
    nb_tensor *a = make(2, (int64_t[]){0, 3}, true), *b = make(1, (int64_t[]){3}, true);
    nb_tensor *k0 = make(2, (int64_t[]){3, 0}, true), *k1 = make(2, (int64_t[]){0, 5}, true);
    nb_tensor *s = nb_add(a, b);
    CHECK(s && nb_tensor_size(s, 0) == 0, "empty broadcast add");
    nb_tensor *m = nb_matmul(k0, k1); /* (3,0) x (0,5) = zeros (3,5) */
    CHECK(m && nb_tensor_numel(m) == 15 && nb_tensor_data(m)[7] == 0.0f, "matmul with K = 0");
    nb_tensor *r = make(2, (int64_t[]){3, 4}, false);
    CHECK(nb_matmul(a, r) != NULL, "matmul with M = 0");
    nb_tensor *tot = nb_add(nb_sum(nb_relu(s), NB_ALL_AXES, false), nb_sum(m, NB_ALL_AXES, false));
    CHECK(tot && nb_tensor_item(tot) == 0.0f, "sum of nothing is 0");
    CHECK(nb_backward(tot) == NB_OK && nb_tensor_grad(b)[0] == 0.0f, "backward through empty tensors");
    CHECK(nb_mean(a, 0, false) == NULL && strstr(nb_last_error(), "empty"), "mean over an empty axis: %s", nb_last_error());
    CHECK(nb_max(a, 0, false) == NULL, "max over an empty axis");
    CHECK(nb_softmax(a, 1) != NULL && nb_slice(b, 0, 2, 1, 1) != NULL, "empty softmax and slice");
    nb_tensor *parts[2] = {a, make(2, (int64_t[]){2, 3}, false)};
    CHECK(nb_concat(parts, 2, 0) && nb_tensor_size(nb_concat(parts, 2, 0), 0) == 2, "concat with an empty part");
    nb_tensor *img = make(4, (int64_t[]){0, 1, 5, 5}, false), *w = make(4, (int64_t[]){2, 1, 3, 3}, false);
    CHECK(nb_conv2d(img, w, NULL, nb_conv_defaults()) != NULL && nb_max_pool2d(img, 2, 2, 0) != NULL, "empty batch conv and pool");
    nb_step_reset();
    nb_tensor *all[] = {a, b, k0, k1, r, parts[1], img, w};
    for (int i = 0; i < 8; i++) nb_tensor_free(all[i]);
}

/* Out of memory (issue 10): the arena is held under a limit, as a full memory would be, and
 * every op and the backward must then fail with NB_ERR_MEM and a message, never crash. The old
 * conv forward wrote into a NULL workspace. */
static nb_status oom_step(int64_t N, nb_tensor *w, nb_tensor *b, nb_tensor *wt, nb_tensor *fc,
                          nb_tensor *scale) {
    nb_tensor *x = make(4, (int64_t[]){N, 3, 32, 32}, false);
    nb_tensor *t = nb_index_new(1, (int64_t[]){N});
    for (int64_t i = 0; i < N; i++) nb_tensor_idata(t)[i] = i % 10;
    nb_status st = NB_ERR_MEM;
    nb_tensor *h = nb_relu(nb_conv2d(x, w, b, nb_conv_defaults()));       /* (N,16,28,28) */
    h = nb_conv_transpose2d(h, wt, NULL, nb_conv_defaults());             /* (N,4,30,30) */
    h = nb_mul(h, scale);                                                 /* broadcast (4,1,1) */
    h = nb_max_pool2d(h, 2, 2, 0);                                        /* (N,4,15,15) */
    h = nb_reshape(h, 2, (int64_t[]){N, 900});
    nb_tensor *loss = nb_cross_entropy(nb_matmul(h, fc), t);
    if (loss) st = nb_backward(loss);
    nb_step_reset();
    nb_tensor_free(x);
    nb_tensor_free(t);
    return st;
}

static void test_out_of_memory(void) {
    nb_seed(3);
    nb_tensor *w = make(4, (int64_t[]){16, 3, 5, 5}, true), *b = make(1, (int64_t[]){16}, true);
    nb_tensor *wt = make(4, (int64_t[]){16, 4, 3, 3}, true), *fc = make(2, (int64_t[]){900, 10}, true);
    nb_tensor *scale = make(3, (int64_t[]){4, 1, 1}, true);
    int failed = 0, ok = 0;
    /* Batch sizes shift which allocation crosses a chunk boundary; the limits fall between the
     * arena's chunk totals (1, 3, 7, 15, ... MB). */
    for (int64_t N = 1; N <= 12; N++)
        for (size_t mb = 0; mb <= 16; mb++) {
            nb_step_reset();
            nb__arena_set_limit(mb ? mb << 20 : 4096);
            nb_status st = oom_step(N, w, b, wt, fc, scale);
            if (st == NB_OK) {
                ok++;
            } else {
                failed++;
                CHECK(st == NB_ERR_MEM && strstr(nb_last_error(), "out of memory"),
                      "N %lld, limit %zu MB: status %d, %s", (long long)N, mb, (int)st, nb_last_error());
            }
        }
    CHECK(failed > 0 && ok > 0, "the limits made %d steps fail and %d pass", failed, ok);
    /* The conv's workspace itself: the message names the op and the size. */
    nb_step_reset();
    nb__arena_set_limit(1u << 20);
    nb_tensor *img = make(4, (int64_t[]){1, 16, 128, 128}, false), *k = make(4, (int64_t[]){1, 16, 3, 3}, false);
    CHECK(nb_conv2d(img, k, NULL, nb_conv_defaults()) == NULL &&
              strstr(nb_last_error(), "nb_conv2d") && strstr(nb_last_error(), "workspace"),
          "conv2d under a 1 MB arena: %s", nb_last_error());
    nb_step_reset();
    nb__arena_set_limit(0);
    CHECK(nb_conv2d(img, k, NULL, nb_conv_defaults()) != NULL, "without the limit: %s", nb_last_error());
    nb_step_reset();
    nb_tensor *all[] = {w, b, wt, fc, scale, img, k};
    for (int i = 0; i < 7; i++) nb_tensor_free(all[i]);
}

/* nb_linear against nb_add(nb_matmul(x, w^T), b), for products large enough to be split over
 * the threads (the backward's two products run in one parallel region, each split as nb__gemm
 * would split it alone): the output, dX and db bit for bit, dW (which nb_linear computes in w's
 * own layout, the composition in the transposed view's) within rounding and against a double
 * sum; at 1, 2 and 3 threads, with the gradients accumulated twice (fresh, then added), and with
 * shapes whose blocks are rows or columns (x (8, 1000): dX in column blocks). */
static void test_linear_team(void) {
    static const int64_t shapes[][3] = {{64, 300, 200}, {8, 1000, 500}, {64, 40, 2000}}; /* M, K, N */
    for (int threads = 1; threads <= 3; threads++) {
        nb_set_threads(threads);
        for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
            const int64_t M = shapes[c][0], K = shapes[c][1], N = shapes[c][2];
            nb_seed(7);
            nb_tensor *x = make(2, (int64_t[]){M, K}, true), *w = make(2, (int64_t[]){N, K}, true);
            nb_tensor *b = make(1, (int64_t[]){N}, true), *r = make(2, (int64_t[]){M, N}, false);
            float *g[2][3];
            float *y[2];
            for (int way = 0; way < 2; way++) {
                nb_tensor_zero_grad(x), nb_tensor_zero_grad(w), nb_tensor_zero_grad(b);
                for (int pass = 0; pass < 2; pass++) {
                    nb_tensor *out = way ? nb_add(nb_matmul(x, nb_transpose(w, 0, 1)), b) : nb_linear(x, w, b);
                    if (pass == 0) y[way] = malloc((size_t)(M * N) * sizeof(float)),
                    memcpy(y[way], nb_tensor_data(out), (size_t)(M * N) * sizeof(float));
                    nb_backward(nb_sum(nb_mul(out, r), NB_ALL_AXES, false));
                    nb_step_reset();
                }
                nb_tensor *leaf[3] = {x, w, b};
                for (int i = 0; i < 3; i++) {
                    const size_t bytes = (size_t)nb_tensor_numel(leaf[i]) * sizeof(float);
                    g[way][i] = malloc(bytes);
                    memcpy(g[way][i], nb_tensor_grad(leaf[i]), bytes);
                }
            }
            int same = !memcmp(y[0], y[1], (size_t)(M * N) * sizeof(float));
            nb_tensor *leaf[3] = {x, w, b};
            for (int i = 0; i < 3; i += 2)
                same &= !memcmp(g[0][i], g[1][i], (size_t)nb_tensor_numel(leaf[i]) * sizeof(float));
            double ew = 0;
            for (int64_t i = 0; i < N * K; i++) {
                const double d = fabs(g[0][1][i] - g[1][1][i]) / (fabs(g[1][1][i]) + 1);
                if (d > ew || d != d) ew = d;
            }
            double e = 0; /* dW against a plain double sum, twice (two backward passes) */
            for (int64_t o = 0; o < N; o += 97)
                for (int64_t k = 0; k < K; k += 31) {
                    double s = 0;
                    for (int64_t m = 0; m < M; m++)
                        s += (double)nb_tensor_data(r)[m * N + o] * (double)nb_tensor_data(x)[m * K + k];
                    const double d = fabs(g[0][1][o * K + k] - 2 * s) / (fabs(2 * s) + 1);
                    if (d > e) e = d;
                }
            CHECK(same && e < 1e-4 && ew < 1e-5, "linear %lldx%lld -> %lld at %d threads: output, dX and db bit-equal "
                  "to the composition %d, dW against it %.1e and against a double sum %.1e", (long long)M,
                  (long long)K, (long long)N, threads, same, ew, e);
            for (int way = 0; way < 2; way++) {
                free(y[way]);
                for (int i = 0; i < 3; i++) free(g[way][i]);
            }
            nb_tensor_free(x), nb_tensor_free(w), nb_tensor_free(b), nb_tensor_free(r);
        }
    }
    /* nb_matmul(x, x): both products write x's gradient, so they must not run at once. */
    for (int threads = 1; threads <= 2; threads++) {
        nb_set_threads(threads);
        nb_seed(3);
        const int64_t S = 200;
        nb_tensor *x = make(2, (int64_t[]){S, S}, true), *r = make(2, (int64_t[]){S, S}, false);
        nb_backward(nb_sum(nb_mul(nb_matmul(x, x), r), NB_ALL_AXES, false));
        const float *xv = nb_tensor_data(x), *rv = nb_tensor_data(r), *g = nb_tensor_grad(x);
        double e = 0; /* dx = r x^T + x^T r */
        for (int64_t i = 0; i < S; i += 13)
            for (int64_t j = 0; j < S; j += 7) {
                double s = 0;
                for (int64_t k = 0; k < S; k++)
                    s += (double)rv[i * S + k] * xv[j * S + k] + (double)xv[k * S + i] * rv[k * S + j];
                const double d = fabs(g[i * S + j] - s) / (fabs(s) + 1);
                if (d > e || d != d) e = d;
            }
        CHECK(e < 1e-4, "matmul(x, x) %lldx%lld at %d threads: dx error %.1e", (long long)S, (long long)S, threads, e);
        nb_step_reset();
        nb_tensor_free(x), nb_tensor_free(r);
    }
    nb_set_threads(2);
}

/* ---- RNG state ------------------------------------------------------------------------------- */
static void draw(float *out, int n) {
    for (int i = 0; i < n; i++) {
        switch (i % 3) {
        case 0: out[i] = nb_rng_normal(); break; /* an odd count of normals: no spare kept */
        case 1: out[i] = nb_rng_uniform(); break;
        default: out[i] = (float)(nb_rng_next() >> 40); break;
        }
    }
}

static void test_rng_state(void) {
    nb_seed(7);
    float a[31], b[31];
    draw(a, 10);
    uint64_t st[4], st2[4];
    nb_rng_get_state(st);
    draw(a, 31);
    nb_rng_set_state(st);
    draw(b, 31);
    CHECK(!memcmp(a, b, sizeof a), "restoring the state reproduces the same draws");
    nb_rng_get_state(st2);
    CHECK(memcmp(st, st2, sizeof st) != 0, "drawing moves the state");
    /* A tensor fill through the state as well. */
    nb_rng_set_state(st);
    nb_tensor *t1 = nb_tensor_new(1, (int64_t[]){9}), *t2 = nb_tensor_new(1, (int64_t[]){9});
    nb_tensor_fill_normal(t1, 0, 1);
    nb_rng_set_state(st);
    nb_tensor_fill_normal(t2, 0, 1);
    CHECK(!memcmp(nb_tensor_data(t1), nb_tensor_data(t2), 9 * sizeof(float)),
          "fill_normal repeats");
    nb_tensor_free(t1);
    nb_tensor_free(t2);
    /* The all-zero state is refused and the old one kept. */
    nb_rng_get_state(st);
    nb_rng_set_state((uint64_t[4]){0, 0, 0, 0});
    CHECK(strstr(nb_last_error(), "nb_rng_set_state") != NULL, "zero state refused");
    nb_rng_get_state(st2);
    CHECK(!memcmp(st, st2, sizeof st), "the state is kept after a refused set");
    nb_rng_set_state(NULL);
    nb_rng_get_state(NULL);
    nb_rng_get_state(st2);
    CHECK(!memcmp(st, st2, sizeof st), "NULL arguments change nothing");
}

int main(void) {
    test_empty();
    test_backward_twice();
    test_unset_and_shared_grads();
    test_unreached_graph();
    test_rng_state();
    test_no_grad_and_detach();
    test_steady_state();
    test_bad_calls();
    test_error_cause_kept();
    test_reduce_axes();
    test_repeatable();
    test_dropout_draws();
    test_views();
    test_linear_team();
    test_out_of_memory();
    return test_end("test_autograd");
}
