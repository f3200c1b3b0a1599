/* nabla sample for the generative image models: images from a GAN's generator (noise z ~ N(0, 1))
 * or a VAE's decoder (codes z ~ N(0, 1), its prior) into a PNG grid or an IDX file, and with
 * --judge the quality figures of the images by a classifier checkpoint (e.g. a trained lenet5):
 * the share it classifies with probability >= 0.9 and the entropy of the classes it predicts. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

nb_model *cli_load_gen_model(const char *path, const cli_plan *info) {
    nb_model *m = NULL, *d = NULL;
    nb_status st;
    if (nb_zoo_input_kind(info->model) == NB_ZOO_GAN) {
        st = nb_zoo_gan_new(info->model, info->c, info->h, info->w, info->z_dim, &m, &d);
        /* the generator alone, strictly: every generator.* tensor, nothing else but the discriminator */
        nb_checkpoint_part part = {.prefix = "generator", .model = m};
        nb_load_opts o = {.strict = true, .skip = "discriminator"};
        if (!st) st = nb_checkpoint_load_parts(path, 1, &part, &o, NULL);
        nb_model_free(d);
    } else {
        m = nb_zoo_gen_new(info->model, info->c, info->h, info->w, info->latent);
        st = m ? nb_checkpoint_load(path, m, NULL, NULL, NULL) : NB_ERR_ARG;
    }
    if (st) {
        cli_fail("%s", nb_last_error());
        nb_model_free(m);
        return NULL;
    }
    if (cli_check_finite(path, m)) {
        nb_model_free(m);
        return NULL;
    }
    nb_model_set_training(m, false);
    return m;
}

static bool ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* n images of c*h*w pixels in [0, 1] as an IDX file of unsigned bytes (n, h, w) or (n, c, h, w). */
static int write_idx(const char *path, const float *px, int64_t n, const cli_plan *info) {
    int dims = info->c == 1 ? 3 : 4;
    int64_t per = (int64_t)info->c * info->h * info->w;
    size_t len = 4 + 4 * (size_t)dims + (size_t)(n * per);
    unsigned char *buf = malloc(len);
    if (!buf) return cli_fail("out of memory");
    unsigned char *p = buf;
    *p++ = 0, *p++ = 0, *p++ = 0x08, *p++ = (unsigned char)dims;
    const int64_t sizes[4] = {n, info->c, info->h, info->w};
    for (int k = 0; k < 4; k++) {
        if (dims == 3 && k == 1) continue;
        uint32_t v = (uint32_t)sizes[k];
        *p++ = (unsigned char)(v >> 24), *p++ = (unsigned char)(v >> 16), *p++ = (unsigned char)(v >> 8), *p++ = (unsigned char)v;
    }
    for (int64_t i = 0; i < n * per; i++) {
        float v = px[i] < 0 ? 0 : px[i] > 1 ? 1 : px[i];
        *p++ = (unsigned char)lrintf(v * 255.0f);
    }
    int rc = nb_write_file_atomic(path, buf, len) ? cli_fail("%s", nb_last_error()) : 0;
    free(buf);
    return rc;
}

/* The classifier's verdict on n images (pixels in [0, 1]): share with max probability >= 0.9,
 * the class histogram and its entropy in bits. */
/* The classifier of --judge, checked before any image is drawn: an image classifier for
 * images of this shape. */
static nb_model *judge_model(const cli_args *a, const cli_plan *info, cli_plan *ci) {
    if (cli_read_plan(a->judge, ci)) return NULL;
    if (nb_zoo_input_kind(ci->model) != NB_ZOO_IMAGE || ci->c != info->c || ci->h != info->h || ci->w != info->w) {
        cli_fail("--judge %s: a %s model for %dx%dx%d inputs cannot judge %dx%dx%d images (give an image classifier "
                 "of the same data, e.g. a lenet5 checkpoint)", a->judge, ci->model, ci->c, ci->h, ci->w, info->c,
                 info->h, info->w);
        return NULL;
    }
    cli_args ja = {.checkpoint = a->judge};
    return cli_load_model(&ja, ci, NULL);
}

static int judge(const cli_args *a, nb_model *c, const cli_plan *ci0, const float *px, int64_t n, const cli_plan *info) {
    const cli_plan ci = *ci0;
    int rc = 0;
    int64_t per = (int64_t)info->c * info->h * info->w, bs = 500, confident = 0, hist[64] = {0};
    int K = ci.classes < 64 ? ci.classes : 64;
    float *x = rc ? NULL : malloc((size_t)(bs * per) * sizeof(float));
    if (!rc && !x) rc = cli_fail("out of memory");
    nb_no_grad_begin();
    for (int64_t i = 0; !rc && i < n; i += bs) {
        int64_t k = n - i < bs ? n - i : bs;
        for (int64_t j = 0; j < k * per; j++) x[j] = (px[i * per + j] - ci.mean) / ci.std;
        nb_tensor *lg = nb_model_forward(c, nb_step_tensor(4, (int64_t[]){k, ci.c, ci.h, ci.w}, x));
        nb_tensor *p = lg ? nb_softmax(lg, 1) : NULL;
        if (!p) rc = cli_fail("--judge %s: %s", a->judge, nb_last_error());
        for (int64_t j = 0; !rc && j < k; j++) {
            const float *row = nb_tensor_data(p) + j * ci.classes;
            int best = 0;
            for (int q = 1; q < ci.classes; q++)
                if (row[q] > row[best]) best = q;
            confident += row[best] >= 0.9f;
            if (best < K) hist[best]++;
        }
        nb_step_reset();
    }
    nb_no_grad_end();
    if (!rc) {
        double h = 0;
        for (int q = 0; q < K; q++)
            if (hist[q]) h -= (double)hist[q] / (double)n * log2((double)hist[q] / (double)n);
        printf("judged by %s (%s): %.1f%% of %lld images classified with probability >= 0.9; entropy of the predicted "
               "classes %.3f bits (uniform: %.3f)\nclasses:", a->judge, ci.model, 100.0 * (double)confident / (double)n,
               (long long)n, h, log2((double)K));
        const char *const *names = nb_class_names(ci.dataset);
        for (int q = 0; q < K; q++) printf(" %s:%lld", names && q < 10 ? names[q] : "?", (long long)hist[q]);
        printf("\n");
    }
    free(x);
    return rc;
}

int cli_sample_images(const cli_args *a, const cli_plan *info) {
    const char *model = info->model;
    if (nb_zoo_input_kind(model) == NB_ZOO_AUTOENCODER && strcmp(model, "vae") != 0)
        return cli_fail("sample: %s holds an %s, which has no distribution of codes to draw from (train --model vae "
                        "or a GAN)", a->checkpoint, model);
    if (cli_given(a, "--length") || cli_given(a, "--temperature") || a->prime)
        return cli_fail("sample: --length, --temperature and --prime are for text (charlm); %s draws images (--n, --out)",
                        a->checkpoint);
    const char *out = cli_given(a, "--out") ? a->out : "samples.png";
    if (!ends_with(out, ".png") && !ends_with(out, ".idx"))
        return cli_fail("sample: --out %s: give a .png (a grid) or an .idx file (the images as bytes)", out);
    cli_plan ci;
    nb_model *judge_m = a->judge ? judge_model(a, info, &ci) : NULL;
    if (a->judge && !judge_m) return 1;
    nb_model *m = cli_load_gen_model(a->checkpoint, info);
    if (!m) {
        nb_model_free(judge_m);
        return 1;
    }
    int64_t n = a->n, per = (int64_t)info->c * info->h * info->w;
    float *px = malloc((size_t)(n * per) * sizeof(float));
    int rc = px ? 0 : cli_fail("out of memory");
    nb_seed((uint64_t)a->seed);
    if (!rc && nb_zoo_input_kind(model) == NB_ZOO_GAN) {
        if (nb_generate(m, n, info->z_dim, NULL, n * per, px)) rc = cli_fail("%s", nb_last_error());
        for (int64_t i = 0; !rc && i < n * per; i++) px[i] = px[i] * info->std + info->mean; /* [-1, 1] -> [0, 1] */
    } else if (!rc) {
        nb_no_grad_begin();
        nb_tensor *z = nb_step_tensor(2, (int64_t[]){n, info->latent}, NULL);
        if (z) nb_tensor_fill_normal(z, 0.0f, 1.0f);
        nb_tensor *img = z ? nb_model_decode(m, z) : NULL;
        if (!img || nb_tensor_numel(img) != n * per) rc = cli_fail("%s", nb_last_error());
        else memcpy(px, nb_tensor_data(nb_contiguous(img)), (size_t)(n * per) * sizeof(float));
        nb_step_reset();
        nb_no_grad_end();
    }
    if (!rc) {
        if (ends_with(out, ".idx")) {
            rc = write_idx(out, px, n, info);
        } else {
            int cols = (int)ceil(sqrt((double)n));
            char title[160];
            snprintf(title, sizeof title, "%s (%s), %lld samples, seed %lld", model, a->checkpoint, (long long)n, a->seed);
            if (nb_plot_images(out, px, (int)(n * info->c), info->h, info->w, cols * info->c, 0.0f, 1.0f, title, NULL))
                rc = cli_fail("%s", nb_last_error());
        }
        if (!rc) printf("wrote %lld images to %s\n", (long long)n, out);
    }
    if (!rc && judge_m) rc = judge(a, judge_m, &ci, px, n, info);
    free(px);
    nb_model_free(judge_m);
    nb_model_free(m);
    return rc;
}
