/* Batch norm without a reference: the shape and argument errors (with their messages), the
 * running statistics' edge cases, and the blocked, parallel path of the kernels against a direct
 * computation in double, with 1 and 2 threads giving the same bits (the blocks differ: 32
 * channels a block on one thread, fewer on two when a thread would otherwise get none). The
 * comparison with PyTorch's F.batch_norm is in test_torch_ref (outputs and gradients) and
 * test_optim (running statistics). */
#include "check.h"
#include "internal.h"

#include <math.h>

static nb_tensor *filled(int ndim, const int64_t *shape, float lo, float hi) {
    nb_tensor *t = nb_tensor_new(ndim, shape);
    nb_tensor_fill_uniform(t, lo, hi);
    return t;
}

static void test_bn_errors(void) {
    nb_seed(3);
    nb_tensor *x3 = filled(3, (int64_t[]){2, 3, 4}, -1, 1),
              *x = filled(2, (int64_t[]){2, 3}, -1, 1);
    nb_tensor *g4 = filled(1, (int64_t[]){4}, 0, 1), *g = filled(1, (int64_t[]){3}, 0, 1);
    nb_tensor *rm = filled(1, (int64_t[]){3}, 0, 1), *rv = filled(1, (int64_t[]){3}, 1, 2);
    nb_tensor *one = filled(2, (int64_t[]){1, 3}, -1, 1),
              *one4 = filled(4, (int64_t[]){1, 3, 1, 1}, -1, 1);
    nb_tensor *idx = nb_index_new(1, (int64_t[]){3});
    const char *e = "";
    CHECK(!nb_batch_norm(x3, NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f) &&
              strstr(e = nb_last_error(), "nb_batch_norm") && strstr(e, "(2,3,4)"),
          "3-d input: %s", e);
    CHECK(!nb_batch_norm(x, g4, g, NULL, NULL, true, 0.1f, 1e-5f) &&
              strstr(e = nb_last_error(), "(4)") && strstr(e, "(2,3)") && strstr(e, "gamma"),
          "gamma of the wrong size: %s", e);
    CHECK(!nb_batch_norm(x, g, g4, NULL, NULL, true, 0.1f, 1e-5f) &&
              strstr(nb_last_error(), "beta"),
          "beta of the wrong size");
    CHECK(!nb_batch_norm(x, g4, NULL, NULL, NULL, true, 0.1f, 1e-5f) &&
              strstr(nb_last_error(), "gamma"),
          "gamma alone of the wrong size");
    CHECK(!nb_batch_norm(x, NULL, NULL, g4, g4, true, 0.1f, 1e-5f) &&
              strstr(nb_last_error(), "running_mean"),
          "running stats of the wrong size");
    CHECK(!nb_batch_norm(one, g, g, rm, rv, true, 0.1f, 1e-5f) &&
              strstr(e = nb_last_error(), "more than 1 value per channel") && strstr(e, "(1,3)"),
          "one value per channel in training: %s", e);
    CHECK(!nb_batch_norm(one4, NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f), "(1,3,1,1) in training");
    CHECK(nb_batch_norm(one, g, g, rm, rv, false, 0.1f, 1e-5f) != NULL,
          "one value is fine in eval");
    CHECK(!nb_batch_norm(x, g, g, NULL, NULL, false, 0.1f, 1e-5f) &&
              strstr(nb_last_error(), "required"),
          "eval without running stats");
    CHECK(!nb_batch_norm(x, g, g, rm, NULL, true, 0.1f, 1e-5f) &&
              strstr(nb_last_error(), "together"),
          "running mean without running var");
    CHECK(!nb_batch_norm(x, g, g, idx, rv, true, 0.1f, 1e-5f) && strstr(nb_last_error(), "float"),
          "index running mean");
    CHECK(!nb_batch_norm(x, g, g, rm, rv, true, 1.5f, 1e-5f) && strstr(nb_last_error(), "momentum"),
          "momentum > 1");
    CHECK(!nb_batch_norm(x, g, g, rm, rv, true, 0.1f, -1.0f) && strstr(nb_last_error(), "eps"),
          "negative eps");
    CHECK(!nb_batch_norm(NULL, g, g, rm, rv, true, 0.1f, 1e-5f), "NULL input");
    nb_step_reset();

    /* Eval leaves the running stats alone; training moves them and gives them no gradient. */
    float rm0[3], rv0[3];
    memcpy(rm0, nb_tensor_data(rm), sizeof rm0);
    memcpy(rv0, nb_tensor_data(rv), sizeof rv0);
    nb_tensor *xs = filled(4, (int64_t[]){3, 3, 2, 2}, -1, 1);
    nb_tensor_set_requires_grad(xs, true);
    nb_tensor_set_requires_grad(g, true);
    nb_tensor_set_requires_grad(rm, true); /* a user mistake: still no gradient flows */
    nb_tensor *y = nb_batch_norm(xs, g, NULL, rm, rv, false, 0.1f, 1e-5f);
    CHECK(y && !memcmp(rm0, nb_tensor_data(rm), sizeof rm0) &&
              !memcmp(rv0, nb_tensor_data(rv), sizeof rv0),
          "eval does not touch the running stats");
    y = nb_batch_norm(xs, g, NULL, rm, rv, true, 0.1f, 1e-5f);
    CHECK(y && memcmp(rm0, nb_tensor_data(rm), sizeof rm0) &&
              memcmp(rv0, nb_tensor_data(rv), sizeof rv0),
          "training updates them");
    CHECK(y && nb_backward(nb_sum(nb_mul(y, y), NB_ALL_AXES, false)) == NB_OK, "backward: %s",
          nb_last_error());
    bool rm_zero = true, g_any = false;
    for (int c = 0; c < 3; c++) {
        rm_zero &= nb_tensor_grad(rm)[c] == 0.0f;
        g_any |= nb_tensor_grad(g)[c] != 0.0f;
    }
    CHECK(rm_zero && g_any, "gamma gets a gradient, running_mean none");
    /* Training under no-grad still updates the running stats (as PyTorch). */
    memcpy(rm0, nb_tensor_data(rm), sizeof rm0);
    nb_no_grad_begin();
    y = nb_batch_norm(xs, g, NULL, rm, rv, true, 0.1f, 1e-5f);
    nb_no_grad_end();
    CHECK(y && !nb_tensor_requires_grad(y) && memcmp(rm0, nb_tensor_data(rm), sizeof rm0),
          "no-grad training updates the running stats");
    /* An empty batch: an empty output, running stats unchanged. */
    nb_tensor *x0 = nb_tensor_new(2, (int64_t[]){0, 3});
    memcpy(rm0, nb_tensor_data(rm), sizeof rm0);
    y = nb_batch_norm(x0, g, g, rm, rv, true, 0.1f, 1e-5f);
    CHECK(y && nb_tensor_numel(y) == 0 && !memcmp(rm0, nb_tensor_data(rm), sizeof rm0),
          "empty batch: %s", y ? "stats changed" : nb_last_error());
    nb_step_reset();
    nb_tensor *all[] = {x3, x, g4, g, rm, rv, one, one4, idx, xs, x0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nb_tensor_free(all[i]);
}

/* Forward and backward of a large batch norm (the blocked, parallel path) against a direct
 * computation in double, and bit-identical results with 1 and 2 threads. */
static void check_bn_large(int ndim, const int64_t *shape, float offset) {
    const int64_t N = shape[0], C = shape[1], S = ndim == 4 ? shape[2] * shape[3] : 1, M = N * S;
    nb_seed(11);
    nb_tensor *x = filled(ndim, shape, offset - 1.0f, offset + 1.0f);
    nb_tensor *g = filled(1, &C, 0.5f, 1.5f), *b = filled(1, &C, -1, 1);
    nb_tensor_set_requires_grad(x, true);
    nb_tensor_set_requires_grad(g, true);
    nb_tensor_set_requires_grad(b, true);
    const int64_t n = nb_tensor_numel(x);
    float *w = malloc((size_t)n * sizeof(float)), *out[2], *gx[2], *gg[2];
    for (int64_t i = 0; i < n; i++) w[i] = nb_rng_uniform() - 0.5f;
    nb_tensor *wt = nb_tensor_from(ndim, shape, w);
    int threads = nb_get_threads();
    for (int run = 0; run < 2; run++) {
        nb_set_threads(run == 0 ? 1 : 2);
        nb_tensor_zero_grad(x);
        nb_tensor_zero_grad(g);
        nb_tensor_zero_grad(b);
        nb_tensor *y = nb_batch_norm(x, g, b, NULL, NULL, true, 0.1f, 1e-5f);
        nb_backward(nb_sum(nb_mul(y, wt), NB_ALL_AXES, false));
        out[run] = malloc((size_t)n * sizeof(float));
        gx[run] = malloc((size_t)n * sizeof(float));
        gg[run] = malloc((size_t)C * sizeof(float));
        memcpy(out[run], nb_tensor_data(y), (size_t)n * sizeof(float));
        memcpy(gx[run], nb_tensor_grad(x), (size_t)n * sizeof(float));
        memcpy(gg[run], nb_tensor_grad(g), (size_t)C * sizeof(float));
        nb_step_reset();
    }
    nb_set_threads(threads);
    CHECK(!memcmp(out[0], out[1], (size_t)n * sizeof(float)) &&
              !memcmp(gx[0], gx[1], (size_t)n * sizeof(float)) &&
              !memcmp(gg[0], gg[1], (size_t)C * sizeof(float)),
          "batch norm %s: 1 and 2 threads must agree to the bit", NB_SHAPE_STR(x));
    /* The reference in double, channel by channel. */
    const float *xd = nb_tensor_data(x), *gd = nb_tensor_data(g), *bd = nb_tensor_data(b);
    double worst_y = 0, worst_gx = 0, worst_gg = 0;
    for (int64_t c = 0; c < C; c++) {
        double mean = 0, var = 0, sdy = 0, sdx = 0;
        for (int64_t i = 0; i < N; i++)
            for (int64_t s = 0; s < S; s++) mean += xd[(i * C + c) * S + s];
        mean /= (double)M;
        for (int64_t i = 0; i < N; i++)
            for (int64_t s = 0; s < S; s++) var += pow(xd[(i * C + c) * S + s] - mean, 2);
        const double is = 1.0 / sqrt(var / (double)M + 1e-5f);
        for (int64_t i = 0; i < N; i++)
            for (int64_t s = 0; s < S; s++) {
                const int64_t k = (i * C + c) * S + s;
                const double xh = (xd[k] - mean) * is;
                worst_y = fmax(worst_y, fabs(out[0][k] - (xh * gd[c] + bd[c])));
                sdy += w[k];
                sdx += w[k] * xh;
            }
        worst_gg = fmax(worst_gg, fabs(gg[0][c] - sdx) / fmax(1.0, fabs(sdx)));
        for (int64_t i = 0; i < N; i++)
            for (int64_t s = 0; s < S; s++) {
                const int64_t k = (i * C + c) * S + s;
                const double xh = (xd[k] - mean) * is;
                const double ref = gd[c] * is * (w[k] - sdy / (double)M - xh * sdx / (double)M);
                worst_gx = fmax(worst_gx, fabs(gx[0][k] - ref) / fmax(1.0, fabs(ref)));
            }
    }
    CHECK(worst_y < 2e-5 && worst_gx < 2e-5 && worst_gg < 1e-5,
          "batch norm %s offset %g: errors y %.3g, dx %.3g, dgamma %.3g", NB_SHAPE_STR(x),
          (double)offset, worst_y, worst_gx, worst_gg);
    printf("batch norm %-14s offset %-5g vs double: y %.3g, dx %.3g, dgamma %.3g\n",
           NB_SHAPE_STR(x), (double)offset, worst_y, worst_gx, worst_gg);
    for (int r = 0; r < 2; r++) {
        free(out[r]);
        free(gx[r]);
        free(gg[r]);
    }
    free(w);
    nb_tensor *all[] = {x, g, b, wt};
    for (int i = 0; i < 4; i++) nb_tensor_free(all[i]);
}

int main(void) {
    test_bn_errors();
    check_bn_large(4, (int64_t[]){8, 40, 24, 24}, 0.0f); /* over NB_BN_PAR_MIN = 131072 values */
    check_bn_large(2, (int64_t[]){2000, 70}, 0.0f);
    /* 32 channels: one block on one thread, two of 16 on two (a DCGAN generator's layer) */
    check_bn_large(4, (int64_t[]){16, 32, 16, 16}, 0.0f);
    /* A mean far from zero against a spread of about 0.6: the shifted sums keep the variance. */
    check_bn_large(4, (int64_t[]){4, 5, 3, 3}, 1000.0f);
    return test_end("test_batchnorm");
}
