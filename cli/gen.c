/* nabla train for the generative models: autoencoders (reconstruct the input, or a clean image
 * from a noisy one), the VAE (negative ELBO) and GANs (a generator and a discriminator, two
 * optimizers, one checkpoint with generator.* and discriminator.*), with their logs and
 * pictures: reconstructions, the test set's codes in 2-D, a VAE's decoded lattice, a GAN's
 * samples after every epoch. */
#include "outdir.h"
#include "run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_GRID 64 /* a GAN's per-epoch grid: 8 x 8 from one fixed noise batch */
#define LATTICE 15     /* a VAE's decoded lattice: 15 x 15 codes */

bool gen_model(const char *model) {
    nb_zoo_input k = nb_zoo_input_kind(model);
    return k == NB_ZOO_AUTOENCODER || k == NB_ZOO_GAN;
}

static bool is_vae(const run *r) { return strcmp(r->a.model, "vae") == 0; }

/* The fixed noise of the per-epoch grids: its own seeded stream, the library RNG left as it was
 * (so training draws the same numbers with and without the pictures). */
static float *fixed_noise(uint64_t seed, int z_dim) {
    float *z = malloc((size_t)SAMPLE_GRID * (size_t)z_dim * sizeof(float));
    if (!z) return NULL;
    uint64_t keep[4];
    nb_rng_get_state(keep);
    nb_seed(seed ^ 0x5A4D504C45ull); /* "SAMPLE" */
    for (int i = 0; i < SAMPLE_GRID * z_dim; i++) z[i] = nb_rng_normal();
    nb_rng_set_state(keep);
    return z;
}

int gen_build(run *r) {
    const cli_args *a = &r->a;
    const nb_dataset *tr = r->train;
    if (r->gen == NB_ZOO_GAN) {
        if (nb_zoo_gan_new(a->model, tr->c, tr->h, tr->w, r->plan.z_dim, &r->m, &r->d))
            return cli_fail("%s", nb_last_error());
        if (strcmp(a->optimizer, "adam") == 0) { /* the DCGAN paper's betas */
            nb_adam_opts o = nb_adam_defaults((float)a->lr);
            o.beta1 = 0.5f;
            r->opt = nb_adam_new(nb_model_params(r->m), o);
            r->opt_d = r->opt ? nb_adam_new(nb_model_params(r->d), o) : NULL;
        } else {
            r->opt = run_make_optim(nb_model_params(r->m), a->optimizer, (float)a->lr);
            r->opt_d = r->opt ? run_make_optim(nb_model_params(r->d), a->optimizer, (float)a->lr) : NULL;
        }
        if (!r->opt_d) return cli_fail("%s", nb_last_error());
        r->gan = (nb_gan){.generator = r->m, .discriminator = r->d, .opt_g = r->opt, .opt_d = r->opt_d,
                          .z_dim = r->plan.z_dim};
        r->task = nb_task_gan(&r->gan);
        if (!(r->fixed_z = fixed_noise((uint64_t)a->seed, r->plan.z_dim))) return cli_fail("out of memory");
    } else {
        r->m = nb_zoo_gen_new(a->model, tr->c, tr->h, tr->w, r->plan.latent);
        if (!r->m) return cli_fail("%s", nb_last_error());
        r->opt = run_make_optim(nb_model_params(r->m), a->optimizer, (float)a->lr);
        if (!r->opt) return cli_fail("%s", nb_last_error());
        r->task = nb_task_new(is_vae(r) ? NB_TASK_VAE : NB_TASK_RECONSTRUCT);
        r->task.noise = r->plan.noise;
    }
    return run_image_sources(r);
}

static void parts(run *r, bool optim, nb_checkpoint_part p[2]) {
    p[0] = (nb_checkpoint_part){.prefix = "generator", .model = r->m, .optim = optim ? r->opt : NULL};
    p[1] = (nb_checkpoint_part){.prefix = "discriminator", .model = r->d, .optim = optim ? r->opt_d : NULL};
}

int gen_load(run *r, const char *path, bool optim) {
    nb_status st;
    if (r->gen == NB_ZOO_GAN) {
        nb_checkpoint_part p[2];
        parts(r, optim, p);
        st = nb_checkpoint_load_parts(path, 2, p, NULL, NULL);
    } else {
        st = nb_checkpoint_load(path, r->m, optim ? r->opt : NULL, NULL, NULL);
    }
    return st ? cli_fail("%s", nb_last_error()) : 0;
}

int gen_save(run *r, const char *path, bool optim, const nb_meta *meta) {
    nb_status st;
    if (r->gen == NB_ZOO_GAN) {
        nb_checkpoint_part p[2];
        parts(r, optim, p);
        st = nb_checkpoint_save_parts(path, 2, p, meta);
    } else {
        st = nb_checkpoint_save(path, r->m, optim ? r->opt : NULL, meta);
    }
    return st ? cli_fail("%s", nb_last_error()) : 0;
}

static double metric(const nb_epoch_stats *s, const char *name) {
    for (int i = 0; i < s->n_metrics; i++)
        if (strcmp(s->metric_name[i], name) == 0) return s->metric[i];
    return NAN;
}

/* A generator's images of the fixed noise, as an 8 x 8 grid. */
static void epoch_samples(run *r, int64_t e) {
    const nb_dataset *d = r->train;
    int64_t per = (int64_t)d->c * d->h * d->w;
    float *img = malloc((size_t)(SAMPLE_GRID * per) * sizeof(float));
    char name[64], path[4200], title[128];
    snprintf(name, sizeof name, "samples-epoch%03lld.png", (long long)e + 1);
    snprintf(title, sizeof title, "%s, epoch %lld", r->a.model, (long long)e + 1);
    if (!img || run_path(path, sizeof path, r->a.out, name)) {
        free(img);
        return;
    }
    /* the pictures draw nothing from the library RNG: the fixed noise is given */
    if (nb_generate(r->m, SAMPLE_GRID, r->plan.z_dim, r->fixed_z, SAMPLE_GRID * per, img) ||
        nb_plot_images(path, img, SAMPLE_GRID * d->c, d->h, d->w, 8 * d->c, -1.0f, 1.0f, title, NULL))
        outdir_warn_picture();
    free(img);
}

int gen_epoch(run *r, int64_t e, const nb_epoch_stats *tr, const nb_epoch_stats *te) {
    history *h = r->h;
    if (r->gen == NB_ZOO_GAN) {
        static const char *const names[] = {"d_loss", "g_loss", "d_real", "d_fake"};
        for (int i = 0; i < 4; i++) history_set(h, names[i], metric(tr, names[i]));
        if (nb_dist_rank() == 0) epoch_samples(r, e); /* a data-parallel run's rank 0 draws */
    } else if (is_vae(r)) {
        history_set(h, "train_recon", metric(tr, "recon"));
        history_set(h, "train_kl", metric(tr, "kl"));
        history_set(h, "test_recon", metric(te, "recon"));
        history_set(h, "test_kl", metric(te, "kl"));
        history_set(h, "test_mse", metric(te, "mse"));
    } else {
        history_set(h, "test_mse", te->loss);
    }
    return 0;
}

int gen_curves(run *r, const char *title) {
    const history *h = r->h;
    nb_plot_panel p[2] = {{0}};
    int n = 1;
    if (r->gen == NB_ZOO_GAN) {
        p[0] = (nb_plot_panel){.ylabel = "BCE loss", .n_series = 2, .name = {"discriminator", "generator"},
                               .y = {history_get(h, "d_loss"), history_get(h, "g_loss")}};
        p[1] = (nb_plot_panel){.ylabel = "mean D output", .n_series = 2, .name = {"D(x) real", "D(G(z)) fake"},
                               .y = {history_get(h, "d_real"), history_get(h, "d_fake")}};
        n = 2;
    } else if (is_vae(r)) {
        p[0] = (nb_plot_panel){.ylabel = "-ELBO per image (nats)", .n_series = 2, .name = {"train", "test"},
                               .y = {h->tl, h->vl}};
        p[1] = (nb_plot_panel){.ylabel = "test terms (nats)", .n_series = 2, .name = {"reconstruction", "KL"},
                               .y = {history_get(h, "test_recon"), history_get(h, "test_kl")}};
        n = 2;
    } else {
        p[0] = (nb_plot_panel){.ylabel = r->plan.noise > 0 ? "MSE against the clean image" : "MSE per pixel",
                               .n_series = 2, .name = {"train", "test"}, .y = {h->tl, h->vl}};
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < p[i].n_series; k++)
            if (!p[i].y[k]) p[i].n_series = k; /* a series not logged (cannot happen after an epoch) */
    if (nb_plot_series(r->p_curves, title, n, p, h->n)) outdir_warn_picture();
    return 0;
}

/* ---- the final pictures --------------------------------------------------------------------- */
/* The codes of the first n test images (n * L floats, malloc'd) in evaluation mode. */
static float *encode_test(run *r, int64_t n, int64_t *L) {
    const nb_dataset *d = r->test;
    int64_t per = (int64_t)d->c * d->h * d->w, bs = 500;
    float *x = malloc((size_t)(bs * per) * sizeof(float)), *codes = NULL;
    int64_t *idx = malloc((size_t)bs * sizeof(int64_t)), *y = malloc((size_t)bs * sizeof(int64_t));
    bool ok = x && idx && y;
    nb_model_set_training(r->m, false);
    nb_no_grad_begin();
    for (int64_t i = 0; ok && i < n; i += bs) {
        int64_t k = n - i < bs ? n - i : bs;
        for (int64_t j = 0; j < k; j++) idx[j] = i + j;
        nb_dataset_gather(d, idx, k, x, y);
        int64_t shape[4] = {k, d->c, d->h, d->w};
        nb_tensor *z = nb_model_encode(r->m, nb_step_tensor(4, shape, x));
        if (!z || nb_tensor_ndim(z) != 2) {
            ok = false;
        } else {
            if (!codes) {
                *L = nb_tensor_size(z, 1);
                codes = malloc((size_t)(n * *L) * sizeof(float));
                ok = codes != NULL;
            }
            if (ok) memcpy(codes + i * *L, nb_tensor_data(nb_contiguous(z)), (size_t)(k * *L) * sizeof(float));
        }
        nb_step_reset();
    }
    nb_no_grad_end();
    free(x), free(idx), free(y);
    if (!ok) {
        free(codes);
        return NULL;
    }
    return codes;
}

/* The two leading principal directions of n codes of L values (power iteration with deflation
 * on the covariance, in double), their mean and the spread along each. */
static void pca2(const float *x, int64_t n, int64_t L, double *mean, double *dir /* 2*L */, double sd[2]) {
    double *cov = calloc((size_t)(L * L), sizeof(double)), *v = malloc((size_t)L * sizeof(double));
    for (int64_t j = 0; j < L; j++) mean[j] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < L; j++) mean[j] += x[i * L + j] / (double)n;
    for (int64_t i = 0; cov && i < n; i++)
        for (int64_t a = 0; a < L; a++)
            for (int64_t b = 0; b < L; b++)
                cov[a * L + b] += (x[i * L + a] - mean[a]) * (x[i * L + b] - mean[b]) / (double)n;
    for (int c = 0; c < 2; c++) {
        double *u = dir + c * L, lambda = 0;
        for (int64_t j = 0; j < L; j++) u[j] = L > c ? (j == c ? 1.0 : 0.1) : 0; /* fixed start: reproducible */
        for (int it = 0; cov && v && it < 300 && L > c; it++) {
            double norm = 0;
            for (int64_t a = 0; a < L; a++) {
                v[a] = 0;
                for (int64_t b = 0; b < L; b++) v[a] += cov[a * L + b] * u[b];
            }
            if (c == 1) { /* deflation: keep it orthogonal to the first direction */
                double dot = 0;
                for (int64_t a = 0; a < L; a++) dot += v[a] * dir[a];
                for (int64_t a = 0; a < L; a++) v[a] -= dot * dir[a];
            }
            for (int64_t a = 0; a < L; a++) norm += v[a] * v[a];
            norm = sqrt(norm);
            if (norm == 0) break;
            for (int64_t a = 0; a < L; a++) u[a] = v[a] / norm;
            lambda = norm;
        }
        sd[c] = sqrt(lambda);
    }
    free(cov);
    free(v);
}

/* latent.png: the test set's codes in 2-D (a 2-unit code directly, others through PCA). */
static void latent_picture(run *r, const float *codes, int64_t n, int64_t L, const double *mean, const double *dir) {
    const nb_dataset *d = r->test;
    float *xy = malloc((size_t)(2 * n) * sizeof(float));
    int64_t *y = malloc((size_t)n * sizeof(int64_t)), *idx = malloc((size_t)n * sizeof(int64_t));
    float *px = malloc((size_t)d->c * d->h * d->w * sizeof(float));
    char path[4200], title[160];
    if (!xy || !y || !idx || !px || run_path(path, sizeof path, r->a.out, "latent.png")) goto done;
    for (int64_t i = 0; i < n; i++) {
        if (L == 2) {
            xy[2 * i] = codes[2 * i], xy[2 * i + 1] = codes[2 * i + 1];
        } else {
            double p0 = 0, p1 = 0;
            for (int64_t j = 0; j < L; j++) {
                p0 += (codes[i * L + j] - mean[j]) * dir[j];
                p1 += (codes[i * L + j] - mean[j]) * dir[L + j];
            }
            xy[2 * i] = (float)p0, xy[2 * i + 1] = (float)p1;
        }
        idx[0] = i;
        nb_dataset_gather(d, idx, 1, px, &y[i]);
    }
    snprintf(title, sizeof title, "%s on %s: %lld test codes%s", r->a.model, r->a.data, (long long)n,
             L == 2 ? "" : " (first two principal components)");
    if (nb_plot_scatter(path, title, L == 2 ? "z[0]" : "PC 1", L == 2 ? "z[1]" : "PC 2", (int)n, xy, y, CLI_N_CLASSES,
                        nb_class_names(r->a.data)))
        outdir_warn_picture();
done:
    free(xy), free(y), free(idx), free(px);
}

/* reconstructions.png: groups of 10 test images, the input (noisy when denoising) above its
 * reconstruction (and the clean original below when denoising). */
static void reconstructions(run *r) {
    const nb_dataset *d = r->test;
    int64_t per = (int64_t)d->c * d->h * d->w, k = d->n < 10 ? d->n : 10, groups = d->n >= 30 ? 3 : 1;
    bool noisy = r->plan.noise > 0;
    int rows = noisy ? 3 : 2;
    int64_t n = k * groups;
    float *x = malloc((size_t)(n * per) * sizeof(float)), *grid = malloc((size_t)(n * rows * per) * sizeof(float));
    int64_t *idx = malloc((size_t)n * sizeof(int64_t)), *y = malloc((size_t)n * sizeof(int64_t));
    char path[4200], title[160];
    const char *labels[9];
    if (!x || !grid || !idx || !y || k < 1 || run_path(path, sizeof path, r->a.out, "reconstructions.png")) goto done;
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    nb_dataset_gather(d, idx, n, x, y);
    nb_model_set_training(r->m, false);
    nb_no_grad_begin();
    nb_tensor *in = nb_step_tensor(4, (int64_t[]){n, d->c, d->h, d->w}, x);
    if (in && noisy) { /* the evaluation's noise: the library RNG, as the task draws it */
        nb_tensor *e = nb_step_tensor(4, (int64_t[]){n, d->c, d->h, d->w}, NULL);
        if (e) nb_tensor_fill_normal(e, 0.0f, r->plan.noise);
        in = e ? nb_add(in, e) : NULL;
    }
    nb_tensor *out = NULL;
    if (in && is_vae(r)) out = nb_model_decode(r->m, nb_model_encode(r->m, in)); /* the mean code's image */
    else if (in) out = nb_model_forward(r->m, in);
    bool ok = out && nb_tensor_numel(out) == n * per;
    for (int64_t g = 0; ok && g < groups; g++) {
        float *row = grid + g * rows * k * per;
        memcpy(row, nb_tensor_data(nb_contiguous(in)) + g * k * per, (size_t)(k * per) * sizeof(float));
        memcpy(row + k * per, nb_tensor_data(nb_contiguous(out)) + g * k * per, (size_t)(k * per) * sizeof(float));
        if (noisy) memcpy(row + 2 * k * per, x + g * k * per, (size_t)(k * per) * sizeof(float));
        for (int j = 0; j < rows; j++) labels[g * rows + j] = j == 0 ? (noisy ? "noisy input" : "original") : j == 1 ? "reconstructed" : "clean";
    }
    nb_step_reset();
    nb_no_grad_end();
    snprintf(title, sizeof title, "%s on %s: test images and their reconstructions", r->a.model, r->a.data);
    if (!ok || nb_plot_images(path, grid, (int)(n * rows * d->c), d->h, d->w, (int)(k * d->c), 0.0f, 1.0f, title, labels))
        outdir_warn_picture();
done:
    free(x), free(grid), free(idx), free(y);
}

/* lattice.png: a VAE's decoder over a regular 15 x 15 lattice of codes: a 2-unit code over
 * [-2, 2]^2 of the prior, a larger one along the two principal directions of the test codes
 * (+-2 of their spread) around the codes' mean. */
static void lattice(run *r, int64_t L, const double *mean, const double *dir, const double sd[2]) {
    const nb_dataset *d = r->test;
    int64_t per = (int64_t)d->c * d->h * d->w, n = LATTICE * LATTICE;
    float *z = malloc((size_t)(n * L) * sizeof(float));
    char path[4200], title[160];
    if (!z || run_path(path, sizeof path, r->a.out, "lattice.png")) {
        free(z);
        return;
    }
    for (int i = 0; i < LATTICE; i++)
        for (int j = 0; j < LATTICE; j++) {
            double a = -2.0 + 4.0 * j / (LATTICE - 1), b = 2.0 - 4.0 * i / (LATTICE - 1);
            float *zz = z + (i * LATTICE + j) * L;
            for (int64_t k = 0; k < L; k++)
                zz[k] = L == 2 ? (float)(k == 0 ? a : b) : (float)(mean[k] + a * sd[0] * dir[k] + b * sd[1] * dir[L + k]);
        }
    nb_model_set_training(r->m, false);
    nb_no_grad_begin();
    nb_tensor *img = nb_model_decode(r->m, nb_step_tensor(2, (int64_t[]){n, L}, z));
    snprintf(title, sizeof title, "vae (%lld-unit code) on %s: decoded lattice%s", (long long)L, r->a.data,
             L == 2 ? " over [-2, 2]^2" : " along the codes' two principal directions");
    if (!img || nb_tensor_numel(img) != n * per ||
        nb_plot_images(path, nb_tensor_data(nb_contiguous(img)), (int)(n * d->c), d->h, d->w, LATTICE * d->c, 0.0f, 1.0f,
                       title, NULL))
        outdir_warn_picture();
    nb_step_reset();
    nb_no_grad_end();
    free(z);
}

static int write_report(run *r) {
    const history *h = r->h;
    int i = h->n - 1;
    char rep[2048];
    int k = snprintf(rep, sizeof rep, "%s on %s after %d epochs (batch %lld, %s lr %g, seed %lld)\n", r->a.model, r->a.data,
                     h->n, r->a.batch, nb_optim_name(r->opt), r->a.lr, r->a.seed);
    for (int e = 0; i >= 0 && e < h->n_extra && k < (int)sizeof rep; e++)
        k += snprintf(rep + k, sizeof rep - (size_t)k, "  %-12s %.6f\n", h->extra_name[e], h->extra[e][i]);
    if (r->gen != NB_ZOO_GAN && i >= 0 && k < (int)sizeof rep)
        k += snprintf(rep + k, sizeof rep - (size_t)k, "  %-12s %.6f%s\n", "test_loss", h->vl[i],
                      is_vae(r) ? " (negative ELBO per image, nats)" : "");
    if (r->gen == NB_ZOO_GAN && k < (int)sizeof rep)
        snprintf(rep + k, sizeof rep - (size_t)k, "samples of every epoch: samples-epochNNN.png; more with nabla sample "
                 "--checkpoint %s --n 100 --out samples.png\n", r->p_model);
    if (nb_write_file_atomic(r->p_report, rep, strlen(rep))) return cli_fail("%s", nb_last_error());
    if (!r->a.quiet) printf("\n%s", rep);
    return 0;
}

int gen_final(run *r) {
    if (r->gen == NB_ZOO_AUTOENCODER && r->train->c * r->train->h * r->train->w > 0) {
        reconstructions(r);
        int64_t n = r->test->n, L = 0;
        float *codes = n > 0 ? encode_test(r, n, &L) : NULL;
        double *mean = codes ? malloc((size_t)L * sizeof(double)) : NULL;
        double *dir = codes ? malloc((size_t)(2 * L) * sizeof(double)) : NULL, sd[2] = {0, 0};
        if (mean && dir) {
            pca2(codes, n, L, mean, dir, sd);
            latent_picture(r, codes, n, L, mean, dir);
            if (is_vae(r)) lattice(r, L, mean, dir, sd);
        } else {
            nb_set_error(NB_ERR_MEM, "latent.png: the test codes: %s", *nb_last_error() ? nb_last_error() : "out of memory");
            outdir_warn_picture();
        }
        free(codes), free(mean), free(dir);
    }
    int rc = write_report(r);
    if (!rc && !r->a.quiet)
        printf("\nwrote %s, %s, %s, %s, %s%s\n", r->p_model, r->p_ckpt, r->p_metrics, r->p_curves, r->p_report,
               r->gen == NB_ZOO_GAN ? " and samples-epochNNN.png"
               : is_vae(r)         ? ", reconstructions.png, latent.png and lattice.png"
                                   : ", reconstructions.png and latent.png");
    return rc;
}

void gen_free(run *r) {
    nb_optim_free(r->opt_d);
    nb_model_free(r->d);
    free(r->fixed_z);
}
