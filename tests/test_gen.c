/* The generative models: the VAE loss against PyTorch (tests/fixtures/gen/vae_loss.txt, written by
 * tests/gen_vae_fixture.py), the zoo's autoencoders, VAE and GANs (names, shapes, DCGAN's init,
 * bad arguments), the denoising task's noise, the GAN step (which model each half updates,
 * seeded runs bit-identical) and short seeded runs on the committed MNIST slice whose losses must
 * move as stated. */
#include "check.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>

#define MNIST "fixtures/mnist-small"

/* ---- the VAE loss against PyTorch ------------------------------------------------------------ */
typedef struct fixture {
    int n;
    char name[16][24];
    int len[16];
    double *v[16];
} fixture;

static const double *fx(const fixture *f, const char *name, int len) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->name[i], name) == 0 && f->len[i] == len) return f->v[i];
    CHECK(0, "fixture has no %s of %d values", name, len);
    return NULL;
}

static bool read_fixture(const char *path, fixture *f) {
    FILE *in = fopen(path, "r");
    if (!in) return false;
    char line[64];
    memset(f, 0, sizeof *f);
    while (f->n < 16 && fscanf(in, "%23s", f->name[f->n]) == 1) {
        if (f->name[f->n][0] == '#') {
            while (fgets(line, sizeof line, in) && !strchr(line, '\n')) {
            }
            continue;
        }
        int k = f->n;
        if (fscanf(in, "%d", &f->len[k]) != 1 || f->len[k] < 1 || f->len[k] > 10000) break;
        f->v[k] = malloc((size_t)f->len[k] * sizeof(double));
        for (int i = 0; i < f->len[k]; i++)
            if (fscanf(in, "%lf", &f->v[k][i]) != 1) return fclose(in), false;
        f->n++;
    }
    fclose(in);
    return f->n == 10;
}

static nb_tensor *leaf(int rows, int cols, const double *v) {
    nb_tensor *t = nb_tensor_new(2, (int64_t[]){rows, cols});
    for (int i = 0; i < rows * cols; i++) nb_tensor_data(t)[i] = (float)v[i];
    nb_tensor_set_requires_grad(t, true);
    return t;
}

static double max_diff(const float *a, const double *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void test_vae_loss_torch(void) {
    fixture f;
    bool ok = read_fixture("fixtures/gen/vae_loss.txt", &f);
    CHECK(ok, "fixtures/gen/vae_loss.txt: 10 arrays");
    if (!ok) return;
    enum { N = 5, D = 12, L = 3 };
    nb_tensor *lg = leaf(N, D, fx(&f, "logits", N * D)), *mu = leaf(N, L, fx(&f, "mu", N * L));
    nb_tensor *lv = leaf(N, L, fx(&f, "logvar", N * L));
    nb_tensor *x = nb_tensor_new(4, (int64_t[]){N, 1, 3, 4}); /* an image's shape: the loss flattens it */
    for (int i = 0; i < N * D; i++) nb_tensor_data(x)[i] = (float)fx(&f, "x", N * D)[i];
    nb_tensor *rec, *kl, *loss = nb_vae_loss(lg, x, mu, lv, &rec, &kl);
    CHECK(loss && rec && kl, "nb_vae_loss: %s", nb_last_error());
    if (!loss) return;
    double want = fx(&f, "loss", 1)[0], got = nb_tensor_item(loss);
    CHECK(fabs(got - want) <= 1e-5 * fabs(want), "loss %.9g, PyTorch %.9g", got, want);
    CHECK(fabs(nb_tensor_item(rec) - fx(&f, "recon", 1)[0]) <= 1e-5 * fx(&f, "recon", 1)[0], "recon %.9g vs %.9g",
          (double)nb_tensor_item(rec), fx(&f, "recon", 1)[0]);
    CHECK(fabs(nb_tensor_item(kl) - fx(&f, "kl", 1)[0]) <= 1e-5 * fx(&f, "kl", 1)[0], "kl %.9g vs %.9g",
          (double)nb_tensor_item(kl), fx(&f, "kl", 1)[0]);
    CHECK(nb_backward(loss) == NB_OK, "backward");
    double e1 = max_diff(nb_tensor_grad(lg), fx(&f, "grad_logits", N * D), N * D);
    double e2 = max_diff(nb_tensor_grad(mu), fx(&f, "grad_mu", N * L), N * L);
    double e3 = max_diff(nb_tensor_grad(lv), fx(&f, "grad_logvar", N * L), N * L);
    CHECK(e1 < 1e-6 && e2 < 1e-6 && e3 < 1e-6, "gradients vs PyTorch: logits %g, mu %g, logvar %g", e1, e2, e3);
    nb_step_reset();
    nb_tensor *wide = nb_tensor_new(2, (int64_t[]){N, L + 1});
    CHECK(nb_vae_loss(lg, x, lv, wide, NULL, NULL) == NULL && strstr(nb_last_error(), "nb_vae_loss"),
          "mismatched logvar: %s", nb_last_error());
    nb_tensor_free(wide);
    for (int i = 0; i < f.n; i++) free(f.v[i]);
    nb_tensor_free(lg), nb_tensor_free(mu), nb_tensor_free(lv), nb_tensor_free(x);
}

/* ---- the zoo ---------------------------------------------------------------------------------- */
static bool has_param(nb_model *m, const char *name) { return nb_params_find(nb_model_params(m), name) != NULL; }

static void test_zoo(void) {
    static const char *const names[] = {"autoencoder", "conv-autoencoder", "vae"};
    static const char *const first[] = {"encoder.1.weight", "encoder.0.weight", "fc_mu.weight"};
    static const int codes[] = {64, 64, 16};
    nb_seed(1);
    for (int i = 0; i < 3; i++) {
        nb_model *m = nb_zoo_gen_new(names[i], 1, 28, 28, 16);
        CHECK(m && has_param(m, first[i]) && has_param(m, "decoder.0.weight"), "%s: %s", names[i], nb_last_error());
        if (!m) continue;
        nb_model_set_training(m, false);
        nb_tensor *x = nb_step_tensor(4, (int64_t[]){3, 1, 28, 28}, NULL);
        nb_tensor_fill_uniform(x, 0, 1);
        nb_tensor *z = nb_model_encode(m, x), *y = z ? nb_model_decode(m, z) : NULL;
        CHECK(z && nb_tensor_ndim(z) == 2 && nb_tensor_size(z, 1) == codes[i], "%s: code %s", names[i],
              z ? NB_SHAPE_STR(z) : nb_last_error());
        CHECK(y && nb_tensor_ndim(y) == 4 && nb_tensor_size(y, 0) == 3 && nb_tensor_size(y, 3) == 28, "%s: image %s",
              names[i], y ? NB_SHAPE_STR(y) : nb_last_error());
        float lo = 1, hi = 0;
        for (int64_t k = 0; y && k < nb_tensor_numel(y); k++)
            lo = fminf(lo, nb_tensor_data(y)[k]), hi = fmaxf(hi, nb_tensor_data(y)[k]);
        CHECK(y && lo >= 0 && hi <= 1, "%s: decoded pixels in [0, 1]: %g..%g", names[i], lo, hi);
        CHECK(nb_model_is_vae(m) == (i == 2), "%s: is_vae", names[i]);
        nb_step_reset();
        nb_model_free(m);
    }
    nb_model *v2 = nb_zoo_gen_new("vae", 1, 28, 28, 2);
    CHECK(v2 && nb_tensor_size(nb_params_find(nb_model_params(v2), "fc_logvar.weight"), 0) == 2, "vae latent 2");
    nb_model_free(v2);
    CHECK(!nb_zoo_gen_new("conv-autoencoder", 1, 30, 30, 0) && strstr(nb_last_error(), "divisible by 4"), "%s",
          nb_last_error());
    CHECK(!nb_zoo_gen_new("vae", 1, 28, 28, 0) && strstr(nb_last_error(), "latent"), "%s", nb_last_error());
    CHECK(!nb_zoo_gen_new("gan", 1, 28, 28, 0) && strstr(nb_last_error(), "nb_zoo_gan_new"), "%s", nb_last_error());
    CHECK(!nb_zoo_new("autoencoder", 1, 28, 28, 10) && strstr(nb_last_error(), "nb_zoo_gen_new"), "%s", nb_last_error());
    CHECK(nb_zoo_input_kind("dcgan") == NB_ZOO_GAN && nb_zoo_input_kind("vae") == NB_ZOO_AUTOENCODER, "kinds");

    nb_model *g, *d;
    for (int k = 0; k < 2; k++) {
        const char *name = k ? "dcgan" : "gan";
        CHECK(nb_zoo_gan_new(name, 1, 28, 28, 64, &g, &d) == NB_OK, "%s: %s", name, nb_last_error());
        nb_tensor *z = nb_step_tensor(2, (int64_t[]){3, 64}, NULL);
        nb_tensor_fill_normal(z, 0, 1);
        nb_tensor *img = nb_model_forward(g, z), *logit = img ? nb_model_forward(d, img) : NULL;
        CHECK(img && nb_tensor_ndim(img) == 4 && nb_tensor_size(img, 1) == 1 && nb_tensor_size(img, 2) == 28,
              "%s: generator gives %s", name, img ? NB_SHAPE_STR(img) : nb_last_error());
        CHECK(logit && nb_tensor_numel(logit) == 3, "%s: discriminator gives %s", name,
              logit ? NB_SHAPE_STR(logit) : nb_last_error());
        nb_step_reset();
        if (k) { /* DCGAN's init: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02) */
            nb_tensor *w = nb_params_find(nb_model_params(g), "4.weight"), *bn = nb_params_find(nb_model_params(g), "2.weight");
            double s = 0, s2 = 0, b = 0;
            int64_t n = w ? nb_tensor_numel(w) : 0;
            for (int64_t i = 0; i < n; i++) s += nb_tensor_data(w)[i], s2 += nb_tensor_data(w)[i] * nb_tensor_data(w)[i];
            for (int i = 0; bn && i < 64; i++) b += nb_tensor_data(bn)[i] / 64;
            double sd = n ? sqrt(s2 / n - (s / n) * (s / n)) : 0;
            CHECK(w && fabs(sd - 0.02) < 0.002 && bn && fabs(b - 1) < 0.01, "dcgan init: conv std %g, bn mean %g", sd, b);
            CHECK(has_param(g, "1.weight") && !has_param(g, "1.bias") && has_param(d, "3.running_mean") == false &&
                      nb_params_find(nb_model_buffers(d), "3.running_mean"), "dcgan names");
        } else {
            CHECK(has_param(g, "0.weight") && has_param(g, "2.bias") && has_param(d, "1.weight") && has_param(d, "3.bias"),
                  "gan names");
        }
        nb_model_free(g), nb_model_free(d);
    }
    CHECK(nb_zoo_gan_new("dcgan", 1, 28, 24, 64, &g, &d) == NB_ERR_ARG && !g && !d && strstr(nb_last_error(), "square"),
          "%s", nb_last_error());
    CHECK(nb_zoo_gan_new("wgan", 1, 28, 28, 64, &g, &d) == NB_ERR_ARG && strstr(nb_last_error(), "gan, dcgan"), "%s",
          nb_last_error());
}

/* ---- tasks -------------------------------------------------------------------------------------- */
typedef struct one_batch {
    nb_batch b;
    int given;
} one_batch;
static int64_t ob_count(void *c) { (void)c; return 1; }
static void ob_start(void *c, int64_t e) { (void)e, ((one_batch *)c)->given = 0; }
static int ob_next(void *c, nb_batch *b) {
    one_batch *o = c;
    if (o->given++) return 0;
    *b = o->b;
    return 1;
}

/* The identity as an autoencoder scores exactly the noise: MSE ~ std^2. */
static void test_denoise(void) {
    enum { N = 200, D = 50 };
    static float x[N * D];
    for (int i = 0; i < N * D; i++) x[i] = (float)(i % 7) / 7.0f;
    nb_module *lin = nb_linear_new(D, D, false);
    nb_model *m = nb_model_new(nb_autoencoder_new(nb_flatten_new(), lin), NB_INIT_ZEROS);
    nb_tensor *w = nb_params_get(nb_model_params(m), 0);
    for (int i = 0; i < D; i++) nb_tensor_data(w)[i * D + i] = 1;
    one_batch ob = {.b = {.n = N, .x = x, .x_ndim = 1, .x_shape = {D}}};
    nb_batch_source src = {.ctx = &ob, .count = ob_count, .start = ob_start, .next = ob_next};
    nb_task t = nb_task_new(NB_TASK_RECONSTRUCT);
    nb_epoch_stats st;
    CHECK(nb_evaluate(m, &t, &src, NULL, NULL, &st) == NB_OK && st.loss == 0, "clean: %g", st.loss);
    t.noise = 0.3f;
    nb_seed(3);
    CHECK(nb_evaluate(m, &t, &src, NULL, NULL, &st) == NB_OK && fabs(st.loss - 0.09) < 0.09 * 0.05,
          "noise std 0.3: MSE %g, expected 0.09", st.loss);
    nb_model_free(m);
}

/* ---- short runs on the MNIST slice ---------------------------------------------------------- */
static nb_dataset *mnist(int train, float mean, float std) {
    nb_dataset *d = nb_mnist_load(MNIST, train);
    CHECK(d, "%s: %s", MNIST, nb_last_error());
    if (d) d->mean = mean, d->std = std;
    return d;
}

static void test_autoencoders(void) {
    nb_dataset *tr = mnist(1, 0, 1), *te = mnist(0, 0, 1);
    if (!tr || !te) return;
    static const char *const names[] = {"autoencoder", "vae"};
    for (int k = 0; k < 2; k++) {
        nb_seed(5);
        nb_model *m = nb_zoo_gen_new(names[k], 1, 28, 28, 2);
        nb_optim *o = nb_adam_new(nb_model_params(m), nb_adam_defaults(1e-3f));
        nb_loader *l = nb_loader_new(tr, 64, 1, 5, 0), *lt = nb_loader_new(te, 250, 0, 0, 0);
        nb_batch_source src = nb_loader_source(l), test = nb_loader_source(lt);
        nb_task t = nb_task_new(k ? NB_TASK_VAE : NB_TASK_RECONSTRUCT);
        nb_epoch_stats s0, s, st;
        CHECK(nb_evaluate(m, &t, &test, NULL, NULL, &s0) == NB_OK, "%s: %s", names[k], nb_last_error());
        for (int e = 0; e < 4; e++) CHECK(nb_train_epoch(m, o, &t, &src, e, NULL, &st) == NB_OK, "%s", nb_last_error());
        CHECK(nb_evaluate(m, &t, &test, NULL, NULL, &s) == NB_OK, "%s", nb_last_error());
        printf("%s: test loss %.4f -> %.4f after 4 epochs of %lld images\n", names[k], s0.loss, s.loss, (long long)tr->n);
        if (k == 0) {
            CHECK(s0.loss > 0.1 && s.loss < 0.06, "autoencoder: test MSE %.4f -> %.4f", s0.loss, s.loss);
        } else {
            double rec = NAN, kl = NAN, mse = NAN;
            for (int i = 0; i < s.n_metrics; i++) {
                if (!strcmp(s.metric_name[i], "recon")) rec = s.metric[i];
                if (!strcmp(s.metric_name[i], "kl")) kl = s.metric[i];
                if (!strcmp(s.metric_name[i], "mse")) mse = s.metric[i];
            }
            CHECK(s0.loss > 500 && s.loss < 220 && fabs(rec + kl - s.loss) < 1e-3 * s.loss && kl > 1 && mse < 0.07,
                  "vae: -ELBO %.2f -> %.2f = recon %.2f + kl %.2f, mse %.4f", s0.loss, s.loss, rec, kl, mse);
        }
        nb_loader_free(l), nb_loader_free(lt), nb_optim_free(o), nb_model_free(m);
    }
    nb_dataset_free(tr), nb_dataset_free(te);
}

static double metric(const nb_epoch_stats *s, const char *name) {
    for (int i = 0; i < s->n_metrics; i++)
        if (!strcmp(s->metric_name[i], name)) return s->metric[i];
    return NAN;
}

/* Two epochs of the MLP GAN from one seed, twice: identical weights; the losses and D's outputs
 * as a GAN's first steps have them. */
static void test_gan(void) {
    nb_dataset *tr = mnist(1, 0.5f, 0.5f);
    if (!tr) return;
    float *w[2] = {NULL, NULL};
    int64_t nw = 0;
    nb_epoch_stats st[2];
    for (int run = 0; run < 2; run++) {
        nb_seed(11);
        nb_gan g = {.z_dim = 64};
        CHECK(nb_zoo_gan_new("gan", 1, 28, 28, 64, &g.generator, &g.discriminator) == NB_OK, "%s", nb_last_error());
        nb_adam_opts ao = nb_adam_defaults(2e-4f);
        ao.beta1 = 0.5f;
        g.opt_g = nb_adam_new(nb_model_params(g.generator), ao);
        g.opt_d = nb_adam_new(nb_model_params(g.discriminator), ao);
        CHECK(nb_gan_check(&g) == NB_OK, "gan check");
        nb_loader *l = nb_loader_new(tr, 64, 1, 11, 0);
        nb_batch_source src = nb_loader_source(l);
        nb_task t = nb_task_gan(&g);
        float g0 = nb_params_data(nb_model_params(g.generator))[0];
        for (int e = 0; e < 2; e++) CHECK(nb_train_epoch(NULL, NULL, &t, &src, e, NULL, &st[run]) == NB_OK, "%s", nb_last_error());
        nw = nb_params_numel(nb_model_params(g.generator));
        w[run] = malloc((size_t)nw * sizeof(float));
        memcpy(w[run], nb_params_data(nb_model_params(g.generator)), (size_t)nw * sizeof(float));
        CHECK(nb_params_data(nb_model_params(g.generator))[0] != g0, "the generator trained");
        if (run == 0) {
            double dl = metric(&st[0], "d_loss"), gl = metric(&st[0], "g_loss"), dr = metric(&st[0], "d_real"),
                   df = metric(&st[0], "d_fake");
            printf("gan, epoch 2: d_loss %.4f g_loss %.4f D(x) %.4f D(G(z)) %.4f\n", dl, gl, dr, df);
            /* PyTorch with this protocol on this slice (seed 11, its own RNG) after 2 epochs:
             * d_loss 1.062 g_loss 0.558 D(x) 0.873 D(G(z)) 0.603: the discriminator tells real
             * from fake (its loss below 2 log 2), the generator already pulls D(G(z)) up */
            CHECK(dr > 0.7 && dr > df + 0.15 && df > 0.3 && gl > 0.3 && gl < 1.5 && dl < 2 * log(2.0) && dl > 0.3 &&
                      fabs(st[0].loss - dl - gl) < 1e-9,
                  "d_loss %g g_loss %g d_real %g d_fake %g", dl, gl, dr, df);
            /* evaluation updates nothing */
            float before = nb_params_data(nb_model_params(g.discriminator))[3];
            nb_epoch_stats ev;
            CHECK(nb_evaluate(NULL, &t, &src, NULL, NULL, &ev) == NB_OK && ev.n_metrics == 4, "gan evaluation");
            CHECK(nb_params_data(nb_model_params(g.discriminator))[3] == before && nb_model_training(g.generator),
                  "evaluation left the weights and the training mode");
            float img[2 * 784], img2[2 * 784], z[2 * 64];
            for (int i = 0; i < 128; i++) z[i] = (float)((i * 37) % 11 - 5) / 5.0f;
            CHECK(nb_generate(g.generator, 2, 64, z, 2 * 784, img) == NB_OK &&
                      nb_generate(g.generator, 2, 64, z, 2 * 784, img2) == NB_OK && !memcmp(img, img2, sizeof img),
                  "nb_generate: the same z gives the same images");
            float lo = 1, hi = -1;
            for (int i = 0; i < 2 * 784; i++) lo = fminf(lo, img[i]), hi = fmaxf(hi, img[i]);
            CHECK(lo >= -1 && hi <= 1 && hi > lo, "tanh images: %g..%g", lo, hi);
            CHECK(nb_generate(g.generator, 2, 64, z, 784, img) == NB_ERR_SHAPE && strstr(nb_last_error(), "room"),
                  "too little room: %s", nb_last_error());
        }
        nb_loader_free(l);
        nb_optim_free(g.opt_g), nb_optim_free(g.opt_d);
        nb_model_free(g.generator), nb_model_free(g.discriminator);
    }
    CHECK(w[0] && w[1] && !memcmp(w[0], w[1], (size_t)nw * sizeof(float)) && st[0].loss == st[1].loss,
          "two seeded runs give identical generators");
    free(w[0]), free(w[1]);
    nb_gan bad = {0};
    CHECK(nb_gan_check(&bad) == NB_ERR_ARG, "an empty nb_gan is refused");
    nb_task none = nb_task_gan(NULL);
    nb_epoch_stats s;
    one_batch ob = {0};
    nb_batch_source src = {.ctx = &ob, .count = ob_count, .start = ob_start, .next = ob_next};
    CHECK(nb_train_epoch(NULL, NULL, &none, &src, 0, NULL, &s) == NB_ERR_ARG, "a GAN task without a GAN");
    nb_dataset_free(tr);
}

int main(void) {
    nb_set_threads(2);
    test_vae_loss_torch();
    test_zoo();
    test_denoise();
    test_autoencoders();
    test_gan();
    return test_end("test_gen");
}
