/* nb_layer_norm beyond the op cases (tests/cases.c checks its gradients numerically and against
 * PyTorch): a size that takes the parallel path against a computation in double, a mean large
 * against the spread, 1 and 3 threads giving the same bits, a non-contiguous input, and bad
 * input. */
#include "check.h"
#include "internal.h"

#include <math.h>

/* Reference in double: y, and for L = sum(w * y) the gradients of x, gamma and beta. */
static void reference(const float *x, const float *g, const float *b, const float *w, int64_t R, int64_t D,
                      double eps, double *y, double *gx, double *gg, double *gb) {
    for (int64_t d = 0; d < D; d++) gg[d] = gb[d] = 0.0;
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x + r * D, *wr = w + r * D;
        double m = 0, v = 0, a = 0, c = 0;
        for (int64_t d = 0; d < D; d++) m += xr[d];
        m /= (double)D;
        for (int64_t d = 0; d < D; d++) v += (xr[d] - m) * (xr[d] - m);
        const double rs = 1.0 / sqrt(v / (double)D + eps);
        for (int64_t d = 0; d < D; d++) {
            const double xh = (xr[d] - m) * rs, gw = (double)wr[d] * g[d];
            y[r * D + d] = xh * g[d] + b[d];
            gg[d] += (double)wr[d] * xh;
            gb[d] += wr[d];
            a += gw;
            c += gw * xh;
        }
        a /= (double)D, c /= (double)D;
        for (int64_t d = 0; d < D; d++) {
            const double xh = (xr[d] - m) * rs;
            gx[r * D + d] = rs * ((double)wr[d] * g[d] - a - xh * c);
        }
    }
}

static int count_off(const float *got, const double *want, int64_t n, double atol, double rtol, double *worst) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const double e = fabs((double)got[i] - want[i]) / (atol + rtol * fabs(want[i]));
        if (!(e <= *worst)) *worst = isnan(e) ? INFINITY : e;
        bad += !(e <= 1.0);
    }
    return bad;
}

/* x (R, D) with values offset + spread * U(-1, 1); checks forward and gradients against the
 * double reference. Returns the output, dx, dgamma and dbeta concatenated (malloc'd) for the
 * thread comparison. */
static float *check_against_double(int64_t R, int64_t D, float offset, float spread, const char *what) {
    nb_tensor *x = nb_tensor_new(2, (int64_t[]){R, D}), *g = nb_tensor_new(1, &D), *b = nb_tensor_new(1, &D);
    nb_seed(3);
    nb_tensor_fill_uniform(x, -1.0f, 1.0f);
    for (int64_t i = 0; i < R * D; i++) nb_tensor_data(x)[i] = offset + spread * nb_tensor_data(x)[i];
    nb_tensor_fill_uniform(g, 0.5f, 1.5f);
    nb_tensor_fill_uniform(b, -0.5f, 0.5f);
    nb_tensor_set_requires_grad(x, true);
    nb_tensor_set_requires_grad(g, true);
    nb_tensor_set_requires_grad(b, true);
    nb_tensor *w = nb_tensor_new(2, (int64_t[]){R, D});
    nb_tensor_fill_uniform(w, -1.0f, 1.0f);
    nb_tensor *y = nb_layer_norm(x, g, b, 1e-5f);
    nb_tensor *loss = nb_sum(nb_mul(y, w), NB_ALL_AXES, false);
    CHECK(loss && nb_backward(loss) == NB_OK, "%s: %s", what, nb_last_error());
    float *all = malloc((size_t)(2 * R * D + 2 * D) * sizeof(float));
    if (loss) {
        double *ry = malloc((size_t)(R * D) * sizeof(double)), *rgx = malloc((size_t)(R * D) * sizeof(double));
        double *rgg = malloc((size_t)D * sizeof(double)), *rgb = malloc((size_t)D * sizeof(double));
        reference(nb_tensor_data(x), nb_tensor_data(g), nb_tensor_data(b), nb_tensor_data(w), R, D, 1e-5, ry, rgx, rgg,
                  rgb);
        double worst = 0;
        int bad = count_off(nb_tensor_data(y), ry, R * D, 1e-5, 1e-4, &worst);
        bad += count_off(nb_tensor_grad(x), rgx, R * D, 1e-4, 1e-4, &worst);
        bad += count_off(nb_tensor_grad(g), rgg, D, 1e-4, 1e-4, &worst);
        bad += count_off(nb_tensor_grad(b), rgb, D, 1e-4, 1e-4, &worst);
        CHECK(bad == 0, "%s: %d values off the double reference (worst error/tolerance %.3g)", what, bad, worst);
        printf("  %-34s (%lld, %lld): worst error/tolerance %.3f\n", what, (long long)R, (long long)D, worst);
        memcpy(all, nb_tensor_data(y), (size_t)(R * D) * sizeof(float));
        memcpy(all + R * D, nb_tensor_grad(x), (size_t)(R * D) * sizeof(float));
        memcpy(all + 2 * R * D, nb_tensor_grad(g), (size_t)D * sizeof(float));
        memcpy(all + 2 * R * D + D, nb_tensor_grad(b), (size_t)D * sizeof(float));
        free(ry), free(rgx), free(rgg), free(rgb);
    }
    nb_step_reset();
    nb_tensor_free(x), nb_tensor_free(g), nb_tensor_free(b), nb_tensor_free(w);
    return all;
}

static void test_reference_and_threads(void) {
    const int saved = nb_get_threads();
    const int64_t R = 1801, D = 160; /* 288160 values: the parallel path (NB_LN_PAR_MIN), 29 chunks of rows */
    nb_set_threads(1);
    float *one = check_against_double(R, D, 0.0f, 1.0f, "1 thread");
    nb_set_threads(3);
    float *three = check_against_double(R, D, 0.0f, 1.0f, "3 threads");
    CHECK(!memcmp(one, three, (size_t)(2 * R * D + 2 * D) * sizeof(float)),
          "1 and 3 threads give different bits");
    free(check_against_double(7, 33, 1000.0f, 0.01f, "mean 1000, spread 0.01"));
    free(check_against_double(5, 1, 0.0f, 1.0f, "one feature"));
    nb_set_threads(saved);
    free(one);
    free(three);
}

/* A transposed (non-contiguous) x gives the values of its contiguous copy; 3-d x without the
 * affine part is the 2-d one reshaped; no-grad works. */
static void test_views(void) {
    nb_seed(4);
    nb_tensor *x = nb_tensor_new(3, (int64_t[]){2, 5, 4});
    nb_tensor_fill_uniform(x, -1.0f, 1.0f);
    nb_no_grad_begin();
    nb_tensor *a = nb_layer_norm(nb_transpose(x, 1, 2), NULL, NULL, 1e-5f); /* (2, 4, 5) */
    nb_tensor *c = nb_layer_norm(nb_contiguous(nb_transpose(x, 1, 2)), NULL, NULL, 1e-5f);
    nb_tensor *f = nb_layer_norm(nb_reshape(nb_contiguous(nb_transpose(x, 1, 2)), 2, (int64_t[]){8, 5}), NULL,
                                 NULL, 1e-5f);
    nb_no_grad_end();
    CHECK(a && c && f, "views: %s", nb_last_error());
    if (a && c && f) {
        CHECK(!memcmp(nb_tensor_data(a), nb_tensor_data(c), 40 * sizeof(float)), "a transposed x differs");
        CHECK(!memcmp(nb_tensor_data(f), nb_tensor_data(c), 40 * sizeof(float)), "3-d and 2-d differ");
    }
    nb_step_reset();
    nb_tensor_free(x);
}

static void expect_error(nb_tensor *y, const char *needle, const char *what) {
    CHECK(y == NULL, "%s: accepted", what);
    CHECK(strstr(nb_last_error(), "nb_layer_norm") && strstr(nb_last_error(), needle), "%s: message '%s' lacks '%s'",
          what, nb_last_error(), needle);
    nb_clear_error();
    nb_step_reset();
}

static void test_errors(void) {
    nb_tensor *x = nb_tensor_new(2, (int64_t[]){3, 4}), *g = nb_tensor_new(1, (int64_t[]){4});
    nb_tensor *g5 = nb_tensor_new(1, (int64_t[]){5}), *s = nb_tensor_new(0, NULL);
    nb_tensor *e = nb_tensor_new(2, (int64_t[]){3, 0}), *i = nb_index_new(1, (int64_t[]){4});
    expect_error(nb_layer_norm(x, g, NULL, 1e-5f), "gamma and beta are given together", "gamma without beta");
    expect_error(nb_layer_norm(x, NULL, g, 1e-5f), "gamma and beta are given together", "beta without gamma");
    expect_error(nb_layer_norm(x, g5, g, 1e-5f), "gamma is (5)", "gamma of the wrong size");
    expect_error(nb_layer_norm(x, g, g5, 1e-5f), "beta is (5)", "beta of the wrong size");
    expect_error(nb_layer_norm(s, NULL, NULL, 1e-5f), "at least one axis", "0-d x");
    expect_error(nb_layer_norm(e, NULL, NULL, 1e-5f), "not empty", "an empty last axis");
    expect_error(nb_layer_norm(x, NULL, NULL, -1.0f), "eps must be finite", "negative eps");
    expect_error(nb_layer_norm(x, NULL, NULL, NAN), "eps must be finite", "NaN eps");
    expect_error(nb_layer_norm(i, NULL, NULL, 1e-5f), "float", "an index tensor");
    expect_error(nb_layer_norm(NULL, g, g, 1e-5f), "NULL", "NULL x");
    nb_tensor *t[] = {x, g, g5, s, e, i};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) nb_tensor_free(t[k]);
}

int main(void) {
    test_reference_and_threads();
    test_views();
    test_errors();
    return test_end("test_layer_norm");
}
