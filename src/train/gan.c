/* The GAN step as a task (two models, two optimizers, one step function), and drawing images
 * from a generator. The step is the one of Goodfellow et al. with the non-saturating generator
 * loss, as PyTorch's DCGAN example writes it:
 *   D: zero its gradients; loss_d = BCE(D(x), 1) + BCE(D(G(z).detach()), 0); backward; step.
 *   G: zero its gradients; loss_g = BCE(D(G(z)), 1) through the updated D; backward; step.
 * (The G step's backward also adds into D's gradients; the next D step zeroes them first.)
 * A gradient hook (nb_gan.grad_hook: data-parallel training averages across processes there)
 * sees each model's gradients after its backward, before the finite check and the step. */
#include "train/train_impl.h"

#include <math.h>

/* z (n, z_dim) ~ N(0, 1) from the library RNG, or a copy of the caller's. */
static nb_tensor *noise(int64_t n, int z_dim, const float *z) {
    nb_tensor *t = nb_step_tensor(2, (int64_t[]){n, z_dim}, z);
    if (t && !z) nb_tensor_fill_normal(t, 0.0f, 1.0f);
    return t;
}

static nb_tensor *constant(int64_t n, float v) {
    nb_tensor *t = nb_step_tensor(2, (int64_t[]){n, 1}, NULL);
    if (t) nb_tensor_fill(t, v);
    return t;
}

/* D's logits for images as (n, 1). */
static nb_tensor *judge(nb_model *d, nb_tensor *img, int64_t n) {
    nb_tensor *y = nb_model_forward(d, img);
    if (!y) return NULL;
    if (nb_tensor_numel(y) != n) {
        nb__err(NB_ERR_SHAPE, "gan task: the discriminator gives %s for %lld images, expected one logit each",
                NB_SHAPE_STR(y), (long long)n);
        return NULL;
    }
    return nb_reshape(nb_tensor_is_contiguous(y) ? y : nb_contiguous(y), 2, (int64_t[]){n, 1});
}

static double mean_sigmoid(const nb_tensor *logits) {
    const float *v = nb_tensor_data((nb_tensor *)logits);
    int64_t n = nb_tensor_numel(logits);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += 1.0 / (1.0 + exp(-(double)v[i]));
    return n ? s / (double)n : NAN;
}

/* The first parameter with a non-finite gradient stops the step before the optimizer runs. */
static nb_status finite_grads(nb_model *m, const char *who) {
    int64_t at;
    nb_params *p = nb_model_params(m);
    int k = nb_params_nonfinite(p, true, &at);
    if (k < 0) return NB_OK;
    return nb__err(NB_ERR_STATE, "training diverged: the gradient of the %s's '%s' is %g at element %lld", who,
                   nb_params_name(p, k), (double)nb_tensor_grad(nb_params_get(p, k))[at], (long long)at);
}

/* One model's update: the hook (when set) on its fresh gradients, the finite check, the step. */
static nb_status update(nb_gan *g, nb_model *m, nb_optim *opt, const char *who, int64_t n) {
    nb_status st = g->grad_hook ? g->grad_hook(g->grad_hook_ctx, nb_model_params(m), (double)n) : NB_OK;
    if (!st) st = finite_grads(m, who);
    if (!st) st = nb_optim_step(opt);
    return st;
}

static const char *const g_metric_names[] = {"d_loss", "g_loss", "d_real", "d_fake"};

/* A process's empty share of a global batch (data-parallel training): both updates with zero
 * gradients of weight 0, so that the process joins both all-reduces and steps as the others. */
static nb_status empty_step(nb_gan *g, nb_step_result *r) {
    nb_params_zero_grad(nb_model_params(g->discriminator));
    nb_status st = update(g, g->discriminator, g->opt_d, "discriminator", 0);
    nb_params_zero_grad(nb_model_params(g->generator));
    if (!st) st = update(g, g->generator, g->opt_g, "generator", 0);
    r->n_metrics = 4;
    for (int i = 0; i < 4; i++) r->name[i] = g_metric_names[i], r->value[i] = 0;
    r->loss = 0;
    return st;
}

static nb_status gan_step(void *ctx, const nb_batch *b, bool training, nb_step_result *r) {
    nb_gan *g = ctx;
    if (b->n == 0 && training && g->grad_hook) return empty_step(g, r);
    if (b->tokens || !b->x) return nb__err(NB_ERR_ARG, "gan task: the batch needs float images x");
    int64_t n = b->n, shape[NB_MAX_DIMS] = {n};
    if (b->x_ndim < 1 || b->x_ndim > NB_MAX_DIMS - 1) return nb__err(NB_ERR_ARG, "gan task: a sample has %d axes", b->x_ndim);
    for (int i = 0; i < b->x_ndim; i++) shape[i + 1] = b->x_shape[i];
    bool gt = nb_model_training(g->generator), dt = nb_model_training(g->discriminator);
    nb_model_set_training(g->generator, training);
    nb_model_set_training(g->discriminator, training);
    nb_status st = NB_OK;
    nb_tensor *x = nb_step_tensor(b->x_ndim + 1, shape, b->x), *z = noise(n, g->z_dim, NULL);
    nb_tensor *ones = constant(n, 1.0f), *zeros = constant(n, 0.0f);
    nb_tensor *fake = x && z && ones && zeros ? nb_model_forward(g->generator, z) : NULL;
    if (fake && nb_tensor_numel(fake) != nb_tensor_numel(x))
        st = nb__err(NB_ERR_SHAPE, "gan task: the generator gives %s, the data %s", NB_SHAPE_STR(fake), NB_SHAPE_STR(x));
    nb_tensor *dr = fake && !st ? judge(g->discriminator, x, n) : NULL;
    nb_tensor *df = dr ? judge(g->discriminator, nb_detach(fake), n) : NULL;
    nb_tensor *ld = df ? nb_add(nb_bce_with_logits(dr, ones), nb_bce_with_logits(df, zeros)) : NULL;
    if (!ld && !st) st = *nb_last_error() ? NB_ERR_SHAPE : nb__err(NB_ERR_MEM, "gan task: out of memory");
    if (!st) {
        r->value[2] = mean_sigmoid(dr);
        r->value[3] = mean_sigmoid(df);
        r->value[0] = nb_tensor_item(ld);
    }
    /* With a hook (an all-reduce), a process must not skip the discriminator's update and go on
     * to the generator's while the others wait in the first: it stops here. */
    if (!st && training && g->grad_hook && !isfinite(r->value[0]))
        st = nb__err(NB_ERR_STATE, "training diverged: the discriminator's loss is %g", r->value[0]);
    if (!st && training && isfinite(r->value[0])) {
        nb__params_unset_grads(nb_model_params(g->discriminator)); /* zero_grad, by backward's writers */
        st = nb_backward(ld);
        nb__params_settle_grads(nb_model_params(g->discriminator));
        if (!st) st = update(g, g->discriminator, g->opt_d, "discriminator", n);
    }
    nb_tensor *lg = NULL;
    /* The generator's step needs the gradient through the discriminator, not the one of its
     * weights (which its next step zeroes unread): they are held out of this pass, as PyTorch's
     * requires_grad_(False) would, and the backward skips their products (a discriminator of more
     * than 64 parameter tensors keeps them: the same result, the products computed). */
    nb_params *dp = nb_model_params(g->discriminator);
    bool held[64];
    const int nheld = nb_params_count(dp) <= 64 ? nb_params_count(dp) : 0;
    for (int i = 0; i < nheld; i++) {
        held[i] = nb_tensor_requires_grad(nb_params_get(dp, i));
        nb_tensor_set_requires_grad(nb_params_get(dp, i), false);
    }
    if (!st) {
        /* fake's forward through the discriminator as it is now (after its update) */
        nb_tensor *dg = judge(g->discriminator, fake, n);
        lg = dg ? nb_bce_with_logits(dg, ones) : NULL;
        if (!lg) st = NB_ERR_SHAPE;
    }
    if (!st) r->value[1] = nb_tensor_item(lg);
    if (!st && training && isfinite(r->value[1])) {
        nb__params_unset_grads(nb_model_params(g->generator));
        st = nb_backward(lg);
        nb__params_settle_grads(nb_model_params(g->generator));
        if (!st) st = update(g, g->generator, g->opt_g, "generator", n);
    }
    for (int i = 0; i < nheld; i++) nb_tensor_set_requires_grad(nb_params_get(dp, i), held[i]);
    nb_model_set_training(g->generator, gt);
    nb_model_set_training(g->discriminator, dt);
    if (st) return st;
    r->n_metrics = 4;
    for (int i = 0; i < 4; i++) r->name[i] = g_metric_names[i];
    r->loss = r->value[0] + r->value[1];
    return NB_OK;
}

nb_task nb_task_gan(nb_gan *gan) { return nb_task_custom(gan ? gan_step : NULL, gan); }

nb_status nb_gan_check(const nb_gan *g) {
    if (!g || !g->generator || !g->discriminator || !g->opt_g || !g->opt_d || g->z_dim < 1)
        return nb__err(NB_ERR_ARG, "nb_gan: a generator, a discriminator, their two optimizers and a noise size >= 1 "
                       "are required");
    return NB_OK;
}

nb_status nb_generate(nb_model *generator, int64_t n, int z_dim, const float *z, int64_t out_numel, float *out) {
    if (!generator || n < 1 || z_dim < 1 || !out || out_numel < n)
        return nb__err(NB_ERR_ARG, "nb_generate: a generator, n >= 1, z_dim >= 1 and room for the images are required");
    bool was = nb_model_training(generator);
    nb_model_set_training(generator, false);
    nb_no_grad_begin();
    nb_tensor *zt = noise(n, z_dim, z), *y = zt ? nb_model_forward(generator, zt) : NULL;
    nb_status st = y ? NB_OK : NB_ERR_SHAPE;
    if (y && nb_tensor_numel(y) != out_numel)
        st = nb__err(NB_ERR_SHAPE, "nb_generate: the generator gives %s, room for %lld values", NB_SHAPE_STR(y),
                     (long long)out_numel);
    if (!st) memcpy(out, nb_tensor_data(nb_contiguous(y)), (size_t)out_numel * sizeof(float));
    nb_no_grad_end();
    nb_step_reset();
    nb_model_set_training(generator, was);
    return st;
}
