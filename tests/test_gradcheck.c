/* Numerical gradient check of every op in the table: central differences of L = sum(w * y)
 * with fixed random w, per element of every float input, against the analytic backward. */
#include "cases.h"
#include "check.h"

#include <math.h>

/* L = sum(w * y) in double, reading y in logical order (it may be a strided view). */
static double weighted_sum(const nb_tensor *y, const float *w) {
    if (!y) return NAN;
    int64_t n = nb_tensor_numel(y);
    float *buf = malloc((size_t)(n ? n : 1) * sizeof(float));
    nb__strided_copy(buf, NB_F(y), y->ndim, y->shape, y->stride);
    double acc = 0;
    for (int64_t i = 0; i < n; i++) acc += (double)w[i] * buf[i];
    free(buf);
    return acc;
}

static void check_case(const op_case *c) {
    nb_seed(42);
    nb_tensor *in[5] = {0};
    for (int i = 0; i < c->n_in; i++) in[i] = case_make_input(&c->in[i]);
    nb_tensor *y = c->build(in);
    CHECK(y != NULL, "%s: build failed: %s", c->name, nb_last_error());
    if (!y) return;
    CHECK(y->node && y->node->op == c->op, "%s: the last op recorded is not %s", c->name,
          nb__ops[c->op].name);
    int64_t ny = nb_tensor_numel(y);
    float *w = malloc((size_t)(ny ? ny : 1) * sizeof(float));
    for (int64_t i = 0; i < ny; i++) w[i] = 2.0f * nb_rng_uniform() - 1.0f;
    CHECK(nb__backward_seeded(y, w) == NB_OK, "%s: backward: %s", c->name, nb_last_error());
    nb_step_reset();

    int bad = 0;
    double worst = 0;
    for (int k = 0; k < c->n_in; k++) {
        nb_tensor *x = in[k];
        if (!x || nb_tensor_dtype(x) != NB_F32) continue;
        float *xd = nb_tensor_data(x), *g = nb_tensor_grad(x);
        for (int64_t j = 0; j < nb_tensor_numel(x); j++) /* non-finite gradients fail first */
            if (!isfinite(g[j])) bad++;
        nb_no_grad_begin();
        for (int64_t j = 0; j < nb_tensor_numel(x); j++) {
            float x0 = xd[j];
            xd[j] = x0 + c->h;
            double lp = weighted_sum(c->build(in), w);
            xd[j] = x0 - c->h;
            double lm = weighted_sum(c->build(in), w);
            xd[j] = x0;
            nb_step_reset();
            double num = (lp - lm) / (2.0 * (double)c->h), err = fabs(num - g[j]);
            double lim = c->atol + c->rtol * fabs(num);
            if (err / lim > worst) worst = err / lim;
            if (!(err <= lim)) {
                if (bad++ < 5)
                    fprintf(stderr, "  %s input %d element %lld: analytic %.6g numeric %.6g\n",
                            c->name, k, (long long)j, (double)g[j], num);
            }
        }
        nb_no_grad_end();
    }
    CHECK(bad == 0, "%s: %d gradient elements off (worst error/tolerance %.3g)", c->name, bad, worst);
    printf("%-22s %-24s worst error/tolerance %.3f\n", c->name, nb__ops[c->op].name, worst);
    free(w);
    for (int i = 0; i < c->n_in; i++) nb_tensor_free(in[i]);
}

int main(void) {
    int covered[NB_OP__COUNT] = {0};
    for (int i = 0; i < nb_test_case_count; i++) {
        check_case(&nb_test_cases[i]);
        covered[nb_test_cases[i].op]++;
    }
    /* Walk the op table: every entry is filled in (name "nb_<op>", its three functions) and
     * every op needs a gradient case. */
    for (int op = 0; op < NB_OP__COUNT; op++) {
        const nb_op_def *d = &nb__ops[op];
        CHECK(d->name && !strncmp(d->name, "nb_", 3) && strncmp(d->name, "nb_nb_", 6),
              "op %d has name %s", op, d->name ? d->name : "(NULL)");
        CHECK(d->shape && d->forward && d->backward, "op %s lacks a shape, forward or backward",
              d->name ? d->name : "(NULL)");
        CHECK(covered[op] > 0, "op %s has no gradient check case", d->name ? d->name : "(NULL)");
    }
    printf("%d ops, %d gradient cases\n", (int)NB_OP__COUNT, nb_test_case_count);
    return test_end("test_gradcheck");
}
