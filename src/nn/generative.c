/* Generative models' containers: an autoencoder (encoder -> code -> decoder) and a variational
 * autoencoder (encoder -> mean and log-variance heads -> a code drawn by the
 * reparameterisation trick -> decoder), with the encode/decode entry points the pictures use and
 * the VAE's loss (Bernoulli reconstruction + KL divergence), composed of ops so every gradient
 * comes from checked ops. */
#include "nn/nn_impl.h"

typedef struct gen {
    nb_module *encoder, *fc_mu, *fc_logvar, *decoder; /* fc_*: VAE only */
} gen;

static nb_tensor *ae_forward(nb_module *m, nb_tensor *x) {
    gen *s = nb_module_state(m);
    nb_tensor *z = nb_module_forward(s->encoder, x);
    return z ? nb_module_forward(s->decoder, z) : NULL;
}

/* z = mu + exp(logvar / 2) * eps, eps ~ N(0, 1) from the library RNG (one draw per element, in
 * order), so a seeded run draws the same codes. */
static nb_tensor *reparameterise(nb_tensor *mu, nb_tensor *logvar) {
    nb_tensor *eps = nb_step_tensor(nb_tensor_ndim(mu), nb_tensor_shape(mu), NULL);
    if (!eps) return NULL;
    nb_tensor_fill_normal(eps, 0.0f, 1.0f);
    return nb_add(mu, nb_mul(nb_exp(nb_scale(logvar, 0.5f)), eps));
}

/* x -> (logits of the reconstruction, mu, logvar); the code is drawn in training and in
 * evaluation alike (the ELBO of the test set is an expectation over codes, as PyTorch's VAE
 * example computes it). */
static nb_status vae_forward_n(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    gen *s = nb_module_state(m);
    if (n_in != 1) return nb__err(NB_ERR_ARG, "VAE '%s': takes one input, got %d", nb_module_path(m), n_in);
    nb_tensor *h = nb_module_forward(s->encoder, in[0]);
    nb_tensor *mu = h ? nb_module_forward(s->fc_mu, h) : NULL, *lv = h ? nb_module_forward(s->fc_logvar, h) : NULL;
    if (!mu || !lv) return NB_ERR_SHAPE;
    if (nb_tensor_ndim(mu) != 2 || nb_tensor_ndim(lv) != 2 || nb_tensor_size(mu, 1) != nb_tensor_size(lv, 1))
        return nb__err(NB_ERR_SHAPE, "VAE '%s': mu %s and logvar %s must both be (N, L)", nb_module_path(m),
                       NB_SHAPE_STR(mu), NB_SHAPE_STR(lv));
    nb_tensor *z = reparameterise(mu, lv), *logits = z ? nb_module_forward(s->decoder, z) : NULL;
    if (!logits) return NB_ERR_SHAPE;
    out[0] = logits, out[1] = mu, out[2] = lv;
    *n_out = 3;
    return NB_OK;
}

static const nb_module_ops ae_ops = {.kind = "Autoencoder", .forward = ae_forward};
static const nb_module_ops vae_ops = {.kind = "VAE", .forward_n = vae_forward_n};

/* Frees the modules not yet handed to the container. */
static void free_all(nb_module **c, int n) {
    for (int i = 0; i < n; i++) nb_module_free(c[i]);
}

static nb_module *container(const nb_module_ops *ops, const char *fn, int n, nb_module **c, const char *const *names) {
    for (int i = 0; i < n; i++)
        if (!c[i]) {
            nb__err(NB_ERR_ARG, "%s: the %s is missing", fn, names[i]);
            free_all(c, n);
            return NULL;
        }
    nb_module *m = nb__module_alloc(ops, sizeof(gen), fn);
    if (!m) {
        free_all(c, n);
        return NULL;
    }
    gen *s = nb_module_state(m);
    for (int i = 0; i < n; i++) {
        if (nb_module_add_child(m, names[i], c[i])) { /* it freed c[i] */
            free_all(c + i + 1, n - i - 1);
            nb_module_free(m);
            return NULL;
        }
    }
    s->encoder = c[0];
    s->decoder = c[n - 1];
    if (n == 4) s->fc_mu = c[1], s->fc_logvar = c[2];
    return m;
}

nb_module *nb_autoencoder_new(nb_module *encoder, nb_module *decoder) {
    static const char *const names[] = {"encoder", "decoder"};
    return container(&ae_ops, "nb_autoencoder_new", 2, (nb_module *[]){encoder, decoder}, names);
}

nb_module *nb_vae_new(nb_module *encoder, nb_module *fc_mu, nb_module *fc_logvar, nb_module *decoder) {
    static const char *const names[] = {"encoder", "fc_mu", "fc_logvar", "decoder"};
    return container(&vae_ops, "nb_vae_new", 4, (nb_module *[]){encoder, fc_mu, fc_logvar, decoder}, names);
}

static const gen *gen_of(nb_model *m, const char *fn) {
    nb_module *root = m ? nb_model_root(m) : NULL;
    const nb_module_ops *ops = root ? nb_module_ops_of(root) : NULL;
    if (ops != &ae_ops && ops != &vae_ops) {
        nb__err(NB_ERR_ARG, "%s: the model is not an autoencoder or a VAE (nb_autoencoder_new, nb_vae_new)", fn);
        return NULL;
    }
    return nb_module_state(root);
}

bool nb_model_is_vae(nb_model *m) {
    nb_module *root = m ? nb_model_root(m) : NULL;
    return root && nb_module_ops_of(root) == &vae_ops;
}

nb_tensor *nb_model_encode(nb_model *m, nb_tensor *x) {
    const gen *s = gen_of(m, "nb_model_encode");
    if (!s) return NULL;
    nb_tensor *h = nb_module_forward(s->encoder, x);
    return s->fc_mu && h ? nb_module_forward(s->fc_mu, h) : h;
}

nb_tensor *nb_model_decode(nb_model *m, nb_tensor *z) {
    const gen *s = gen_of(m, "nb_model_decode");
    if (!s) return NULL;
    nb_tensor *y = nb_module_forward(s->decoder, z);
    return s->fc_mu && y ? nb_sigmoid(y) : y;
}

/* Per sample: BCE(sigmoid(logits), x) summed over the pixels, and KL(N(mu, exp(logvar)) ||
 * N(0, 1)) = -1/2 sum(1 + logvar - mu^2 - exp(logvar)) summed over the code; both averaged
 * over the batch. nb_bce_with_logits and nb_mean average over every element, so each is
 * scaled back by the elements per sample. */
nb_tensor *nb_vae_loss(nb_tensor *logits, nb_tensor *x, nb_tensor *mu, nb_tensor *logvar, nb_tensor **recon,
                       nb_tensor **kl) {
    if (recon) *recon = NULL;
    if (kl) *kl = NULL;
    if (!logits || !x || !mu || !logvar) {
        nb__err_null("nb_vae_loss", !logits ? "logits" : !x ? "x" : !mu ? "mu" : "logvar");
        return NULL;
    }
    int64_t n = nb_tensor_size(logits, 0);
    if (nb_tensor_ndim(mu) != 2 || nb_tensor_size(mu, 0) != n || nb_tensor_numel(x) != nb_tensor_numel(logits) ||
        nb_tensor_ndim(logvar) != 2 || nb_tensor_size(logvar, 0) != n || nb_tensor_size(logvar, 1) != nb_tensor_size(mu, 1) ||
        n < 1) {
        nb__err(NB_ERR_SHAPE, "nb_vae_loss: logits %s, x %s, mu %s, logvar %s: need N >= 1 samples, x as many values as "
                "logits, mu and logvar (N, L)", NB_SHAPE_STR(logits), NB_SHAPE_STR(x), NB_SHAPE_STR(mu), NB_SHAPE_STR(logvar));
        return NULL;
    }
    int64_t d = nb_tensor_numel(logits) / n, l = nb_tensor_size(mu, 1);
    nb_tensor *lg = nb_reshape(nb_contiguous(logits), 2, (int64_t[]){n, d});
    nb_tensor *xt = nb_reshape(nb_contiguous(x), 2, (int64_t[]){n, d});
    nb_tensor *rec = nb_scale(nb_bce_with_logits(lg, xt), (float)d);
    nb_tensor *inner = nb_sub(nb_add_scalar(logvar, 1.0f), nb_add(nb_mul(mu, mu), nb_exp(logvar)));
    nb_tensor *k = nb_scale(nb_mean(inner, NB_ALL_AXES, false), -0.5f * (float)l);
    nb_tensor *loss = rec && k ? nb_add(rec, k) : NULL;
    if (loss) {
        if (recon) *recon = rec;
        if (kl) *kl = k;
    }
    return loss;
}
