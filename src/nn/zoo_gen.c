/* The zoo's generative models: autoencoders, a VAE and two GANs, built from modules with the
 * names of their PyTorch equivalents (nn.Sequential children "0", "1", ...; docs/generative.md
 * gives the PyTorch code that loads their weights). */
#include "internal.h"

#include "nabla/nn.h"

/* A Sequential of the given modules, named "0", "1", ... as nn.Sequential; takes them all (the
 * list ends with a NULL sentinel). NULL if any is NULL or adding fails. */
static nb_module *seq(int n, nb_module **mods) {
    nb_module *s = nb_sequential_new();
    bool ok = s != NULL;
    for (int i = 0; i < n; i++) ok = ok && mods[i] != NULL;
    for (int i = 0; i < n; i++) {
        if (!ok) {
            nb_module_free(mods[i]);
            continue;
        }
        char name[12];
        snprintf(name, sizeof name, "%d", i);
        if (nb_sequential_add(s, name, mods[i]) != NB_OK) ok = false; /* it freed mods[i] */
    }
    if (!ok) {
        nb_module_free(s);
        if (!*nb_last_error()) nb__err(NB_ERR_MEM, "nb_zoo: out of memory");
        return NULL;
    }
    return s;
}
#define SEQ(...) seq((int)(sizeof((nb_module *[]){__VA_ARGS__}) / sizeof(nb_module *)), (nb_module *[]){__VA_ARGS__})

static nb_conv_opts conv_opts(int stride, int pad, int out_pad) {
    nb_conv_opts o = nb_conv_defaults();
    o.stride[0] = o.stride[1] = stride;
    o.padding[0] = o.padding[1] = pad;
    o.output_padding[0] = o.output_padding[1] = out_pad;
    return o;
}

static nb_module *relu(void) { return nb_activation_new(NB_ACT_RELU); }
static nb_module *unflatten3(int c, int h, int w) { return nb_unflatten_new(3, (int64_t[]){c, h, w}); }

nb_model *nb_zoo_gen_new(const char *name, int c, int h, int w, int latent) {
    if (!name || c < 1 || h < 1 || w < 1 || (int64_t)c * h * w > (1 << 22)) {
        nb__err(NB_ERR_ARG, "nb_zoo_gen_new: need a name and an input of 1 to 2^22 values, got %dx%dx%d", c, h, w);
        return NULL;
    }
    const int d = c * h * w;
    nb_module *root = NULL;
    if (strcmp(name, "autoencoder") == 0) {
        /* 784-256-64-256-784: ReLU between, a linear 64-unit code, sigmoid pixels */
        root = nb_autoencoder_new(SEQ(nb_flatten_new(), nb_linear_new(d, 256, true), relu(), nb_linear_new(256, 64, true)),
                                  SEQ(nb_linear_new(64, 256, true), relu(), nb_linear_new(256, d, true),
                                      nb_activation_new(NB_ACT_SIGMOID), unflatten3(c, h, w)));
    } else if (strcmp(name, "conv-autoencoder") == 0) {
        if (h % 4 || w % 4) {
            nb__err(NB_ERR_ARG, "nb_zoo_gen_new: conv-autoencoder needs h and w divisible by 4, got %dx%d", h, w);
            return NULL;
        }
        /* conv(c,16,3,s2,p1)-ReLU-conv(16,32,3,s2,p1)-ReLU-Linear(32*h/4*w/4, 64) and back with
         * ConvTranspose2d(k3, s2, p1, output_padding 1), each doubling the size */
        int f = 32 * (h / 4) * (w / 4);
        root = nb_autoencoder_new(
            SEQ(nb_conv2d_new(c, 16, 3, conv_opts(2, 1, 0), true), relu(), nb_conv2d_new(16, 32, 3, conv_opts(2, 1, 0), true),
                relu(), nb_flatten_new(), nb_linear_new(f, 64, true)),
            SEQ(nb_linear_new(64, f, true), relu(), unflatten3(32, h / 4, w / 4),
                nb_conv_transpose2d_new(32, 16, 3, conv_opts(2, 1, 1), true), relu(),
                nb_conv_transpose2d_new(16, c, 3, conv_opts(2, 1, 1), true), nb_activation_new(NB_ACT_SIGMOID)));
    } else if (strcmp(name, "vae") == 0) {
        if (latent < 1 || latent > 256) {
            nb__err(NB_ERR_ARG, "nb_zoo_gen_new: vae needs a latent size of 1 to 256, got %d", latent);
            return NULL;
        }
        /* D-400 ReLU, Linear(400, L) twice (mu, logvar); L-400 ReLU 400-D logits */
        root = nb_vae_new(SEQ(nb_flatten_new(), nb_linear_new(d, 400, true), relu()), nb_linear_new(400, latent, true),
                          nb_linear_new(400, latent, true),
                          SEQ(nb_linear_new(latent, 400, true), relu(), nb_linear_new(400, d, true), unflatten3(c, h, w)));
    } else {
        nb__err(NB_ERR_ARG, nb_zoo_input_kind(name) == NB_ZOO_GAN
                                ? "nb_zoo_gen_new: '%s' is a GAN: build it with nb_zoo_gan_new"
                                : "unknown generative model '%s' (known: autoencoder, conv-autoencoder, vae)",
                name);
        return NULL;
    }
    return root ? nb_model_new(root, NB_INIT_DEFAULT) : NULL;
}

nb_status nb_zoo_gan_new(const char *name, int c, int h, int w, int z_dim, nb_model **generator,
                         nb_model **discriminator) {
    if (generator) *generator = NULL;
    if (discriminator) *discriminator = NULL;
    if (!name || !generator || !discriminator || c < 1 || h < 1 || w < 1 || (int64_t)c * h * w > (1 << 22) ||
        z_dim < 1 || z_dim > 4096)
        return nb__err(NB_ERR_ARG, "nb_zoo_gan_new: need a name, both model pointers, an image of 1 to 2^22 values and "
                       "a noise size of 1 to 4096, got %dx%dx%d and %d", c, h, w, z_dim);
    const int d = c * h * w;
    nb_module *g = NULL, *dm = NULL;
    nb_init init = NB_INIT_DEFAULT;
    if (strcmp(name, "gan") == 0) {
        g = SEQ(nb_linear_new(z_dim, 256, true), relu(), nb_linear_new(256, d, true), nb_activation_new(NB_ACT_TANH),
                unflatten3(c, h, w));
        dm = g ? SEQ(nb_flatten_new(), nb_linear_new(d, 256, true), nb_leaky_relu_new(0.2f), nb_linear_new(256, 1, true))
               : NULL;
    } else if (strcmp(name, "dcgan") == 0) {
        if (h != w || h % 4 || h < 8)
            return nb__err(NB_ERR_ARG, "nb_zoo_gan_new: dcgan needs square images with a side divisible by 4 (at "
                           "least 8), got %dx%d", h, w);
        const int s = h / 4;
        /* z as a 1x1 image -> ConvT(z,64,s) 64xsxs -> ConvT(64,32,4,2,1) 32x2sx2s -> ConvT(32,c,4,2,1) */
        g = SEQ(unflatten3(z_dim, 1, 1), nb_conv_transpose2d_new(z_dim, 64, s, conv_opts(1, 0, 0), false),
                nb_batchnorm2d_new(64), relu(), nb_conv_transpose2d_new(64, 32, 4, conv_opts(2, 1, 0), false),
                nb_batchnorm2d_new(32), relu(), nb_conv_transpose2d_new(32, c, 4, conv_opts(2, 1, 0), false),
                nb_activation_new(NB_ACT_TANH));
        dm = g ? SEQ(nb_conv2d_new(c, 32, 4, conv_opts(2, 1, 0), false), nb_leaky_relu_new(0.2f),
                     nb_conv2d_new(32, 64, 4, conv_opts(2, 1, 0), false), nb_batchnorm2d_new(64), nb_leaky_relu_new(0.2f),
                     nb_conv2d_new(64, 1, s, conv_opts(1, 0, 0), false), nb_flatten_new())
               : NULL;
        init = NB_INIT_NORMAL;
    } else {
        return nb__err(NB_ERR_ARG, "unknown GAN '%s' (known: gan, dcgan)", name);
    }
    if (!g || !dm) {
        nb_module_free(g);
        return *nb_last_error() ? NB_ERR_ARG : nb__err(NB_ERR_MEM, "nb_zoo_gan_new: out of memory");
    }
    *generator = nb_model_new(g, init);
    *discriminator = *generator ? nb_model_new(dm, init) : NULL;
    if (!*discriminator) {
        if (!*generator) nb_module_free(dm);
        nb_model_free(*generator);
        *generator = NULL;
        return NB_ERR_MEM;
    }
    return NB_OK;
}
