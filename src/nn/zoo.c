/* The model zoo: the architectures the command line trains, built from modules with the
 * names of their PyTorch equivalents (docs/models.md gives the PyTorch code). */
#include "internal.h"

#include "nabla/nn.h"

static const char *const g_names[] = {"mlp",  "lenet5", "seedcnn", "lstm-rows", "spam", "langid",
                                     "charlm", "autoencoder", "conv-autoencoder", "vae", "gan", "dcgan",
                                     "ner", "mlm", "charlm-transformer", NULL};
/* in the order of g_names: what each reads, and its classifier head */
static const nb_zoo_input g_kinds[] = {NB_ZOO_IMAGE, NB_ZOO_IMAGE, NB_ZOO_IMAGE, NB_ZOO_IMAGE,
                                       NB_ZOO_TOKENS, NB_ZOO_TOKENS, NB_ZOO_TOKENS, NB_ZOO_AUTOENCODER,
                                       NB_ZOO_AUTOENCODER, NB_ZOO_AUTOENCODER, NB_ZOO_GAN, NB_ZOO_GAN,
                                       NB_ZOO_TOKENS, NB_ZOO_TOKENS, NB_ZOO_TOKENS};
static const char *const g_heads[] = {"fc3", "fc3", "fc2", "fc", "fc", "fc", "fc", NULL, NULL, NULL, NULL, NULL,
                                      "head", "head", "head"};

const char *const *nb_zoo_names(void) { return g_names; }

nb_zoo_input nb_zoo_input_kind(const char *name) {
    for (int i = 0; name && g_names[i]; i++)
        if (strcmp(name, g_names[i]) == 0) return g_kinds[i];
    return NB_ZOO_UNKNOWN;
}

const char *nb_zoo_head(const char *name) {
    for (int i = 0; name && g_names[i]; i++)
        if (strcmp(name, g_names[i]) == 0) return g_heads[i];
    return NULL;
}

static nb_conv_opts conv_opts(int stride, int pad) {
    nb_conv_opts o = nb_conv_defaults();
    o.stride[0] = o.stride[1] = stride;
    o.padding[0] = o.padding[1] = pad;
    return o;
}

/* Adds layers in order; the first failure is kept (nb_sequential_add frees what it is given). */
static nb_status add(nb_module *s, nb_status st, const char *name, nb_module *m) {
    if (st != NB_OK) {
        nb_module_free(m);
        return st;
    }
    return nb_sequential_add(s, name, m);
}

nb_model *nb_zoo_new(const char *name, int c, int h, int w, int classes) {
    if (!name || c < 1 || h < 1 || w < 1 || classes < 2 || (int64_t)c * h * w > (1 << 22)) {
        nb__err(NB_ERR_ARG, "nb_zoo_new: need a name, an input of 1 to 2^22 values and >= 2 classes, got "
                "%dx%dx%d and %d", c, h, w, classes);
        return NULL;
    }
    nb_module *s = nb_sequential_new();
    if (!s) return NULL;
    nb_status st = NB_OK;
    if (strcmp(name, "mlp") == 0) {
        /* 784-512-256-10 with ReLU (for 28x28 inputs; the input size follows c*h*w). */
        st = add(s, st, "flatten", nb_flatten_new());
        st = add(s, st, "fc1", nb_linear_new(c * h * w, 512, true));
        st = add(s, st, "relu1", nb_activation_new(NB_ACT_RELU));
        st = add(s, st, "fc2", nb_linear_new(512, 256, true));
        st = add(s, st, "relu2", nb_activation_new(NB_ACT_RELU));
        st = add(s, st, "fc3", nb_linear_new(256, classes, true));
    } else if (strcmp(name, "lenet5") == 0) {
        /* conv(c,6,5,pad 2)-ReLU-maxpool 2-conv(6,16,5)-ReLU-maxpool 2-fc 400-120-84-k. */
        if (h < 12 || w < 12) {
            nb_module_free(s);
            nb__err(NB_ERR_ARG, "nb_zoo_new: lenet5 needs inputs of at least 12x12, got %dx%d", h, w);
            return NULL;
        }
        int fh = ((h / 2) - 4) / 2, fw = ((w / 2) - 4) / 2;
        st = add(s, st, "conv1", nb_conv2d_new(c, 6, 5, conv_opts(1, 2), true));
        st = add(s, st, "relu1", nb_activation_new(NB_ACT_RELU));
        st = add(s, st, "pool1", nb_maxpool2d_new(2, 2));
        st = add(s, st, "conv2", nb_conv2d_new(6, 16, 5, conv_opts(1, 0), true));
        st = add(s, st, "relu2", nb_activation_new(NB_ACT_RELU));
        st = add(s, st, "pool2", nb_maxpool2d_new(2, 2));
        st = add(s, st, "flatten", nb_flatten_new());
        st = add(s, st, "fc1", nb_linear_new(16 * fh * fw, 120, true));
        st = add(s, st, "relu3", nb_activation_new(NB_ACT_RELU));
        st = add(s, st, "fc2", nb_linear_new(120, 84, true));
        st = add(s, st, "relu4", nb_activation_new(NB_ACT_RELU));
        st = add(s, st, "fc3", nb_linear_new(84, classes, true));
    } else if (strcmp(name, "seedcnn") == 0) {
        /* The tutorial's CNN: conv(c,32,5) then maxpool 2 must give 32x7x7 from 28x28, which
         * needs stride 2 and padding 2 (its code had no stride/padding: 28-5+1 = 24 -> 12x12). */
        int oh = (h + 4 - 5) / 2 + 1, ow = (w + 4 - 5) / 2 + 1;
        if (oh < 2 || ow < 2) {
            nb_module_free(s);
            nb__err(NB_ERR_ARG, "nb_zoo_new: seedcnn needs inputs of at least 4x4, got %dx%d", h, w);
            return NULL;
        }
        st = add(s, st, "conv1", nb_conv2d_new(c, 32, 5, conv_opts(2, 2), true));
        st = add(s, st, "relu1", nb_activation_new(NB_ACT_RELU));
        st = add(s, st, "pool1", nb_maxpool2d_new(2, 2));
        st = add(s, st, "flatten", nb_flatten_new());
        st = add(s, st, "fc1", nb_linear_new(32 * (oh / 2) * (ow / 2), 128, true));
        st = add(s, st, "relu2", nb_activation_new(NB_ACT_RELU));
        st = add(s, st, "fc2", nb_linear_new(128, classes, true));
    } else if (strcmp(name, "lstm-rows") == 0) {
        /* An image read row by row: (c*h) steps of w values; LSTM(w, 128), the last step, fc. */
        nb_module_free(s);
        nb_module *r = nb_recurrent_new(NULL, nb_rnn_new(NB_RNN_LSTM, w, 128, nb_rnn_defaults()), NB_SEQ_LAST,
                                        nb_linear_new(128, classes, true));
        return r ? nb_model_new(r, NB_INIT_DEFAULT) : NULL;
    } else {
        nb_module_free(s);
        nb_zoo_input kind = nb_zoo_input_kind(name);
        if (kind == NB_ZOO_TOKENS)
            nb__err(NB_ERR_ARG, "nb_zoo_new: '%s' reads text: build it with nb_zoo_text_new", name);
        else if (kind == NB_ZOO_AUTOENCODER)
            nb__err(NB_ERR_ARG, "nb_zoo_new: '%s' is generative: build it with nb_zoo_gen_new", name);
        else if (kind == NB_ZOO_GAN)
            nb__err(NB_ERR_ARG, "nb_zoo_new: '%s' is a GAN: build it with nb_zoo_gan_new", name);
        else
            nb__err(NB_ERR_ARG, "unknown model '%s' (known: mlp, lenet5, seedcnn, lstm-rows, spam, langid, charlm, autoencoder, "
                    "conv-autoencoder, vae, gan, dcgan, ner, mlm, charlm-transformer)", name);
        return NULL;
    }
    if (st != NB_OK) {
        nb_module_free(s);
        return NULL;
    }
    return nb_model_new(s, NB_INIT_DEFAULT);
}

nb_model *nb_zoo_text_new(const char *name, int vocab, int classes) {
    bool lm = name && (!strcmp(name, "charlm") || !strcmp(name, "mlm") || !strcmp(name, "charlm-transformer"));
    if (!name || vocab < 2 || vocab > (1 << 24) || (classes < 2 && !lm)) {
        nb__err(NB_ERR_ARG, "nb_zoo_text_new: need a name, a vocabulary of 2 to 2^24 tokens and >= 2 classes, got %d and %d",
                vocab, classes);
        return NULL;
    }
    nb_module *r = NULL;
    if (strcmp(name, "spam") == 0) {
        /* Embedding(V, 64, padding 0) -> LSTM(64, 128) -> last real step -> Linear(128, 2) */
        r = nb_recurrent_new(nb_embedding_new(vocab, 64, 0), nb_rnn_new(NB_RNN_LSTM, 64, 128, nb_rnn_defaults()),
                             NB_SEQ_LAST, nb_linear_new(128, classes, true));
    } else if (strcmp(name, "langid") == 0) {
        /* characters -> Embedding(V, 32, padding 0) -> GRU(32, 128) -> last real step -> Linear(128, 8) */
        r = nb_recurrent_new(nb_embedding_new(vocab, 32, 0), nb_rnn_new(NB_RNN_GRU, 32, 128, nb_rnn_defaults()),
                             NB_SEQ_LAST, nb_linear_new(128, classes, true));
    } else if (strcmp(name, "charlm") == 0) {
        /* Embedding(V, 64) -> 2-layer LSTM(64, 256), stateful (truncated BPTT) -> Linear(256, V) at every step */
        nb_rnn_opts o = nb_rnn_defaults();
        o.num_layers = 2, o.stateful = true;
        r = nb_recurrent_new(nb_embedding_new(vocab, 64, -1), nb_rnn_new(NB_RNN_LSTM, 64, 256, o), NB_SEQ_NONE,
                             nb_linear_new(256, vocab, true));
    } else if (!strcmp(name, "ner") || !strcmp(name, "mlm") || !strcmp(name, "charlm-transformer")) {
        /* Embedding(V, 128) + learned positions (128) -> 4 pre-norm TransformerEncoderLayers
         * (width 128, 4 heads, feed-forward 512, GELU, dropout 0.1) + final LayerNorm -> Linear
         * at every step: to the tags (ner), the vocabulary (mlm; charlm-transformer, causal). */
        bool causal = !strcmp(name, "charlm-transformer");
        r = nb_token_transformer_new(vocab, NB_ZOO_TEXT_MAX_LEN, 128, 4, 4, 512, 0.1f, NB_ACT_GELU, NB_POS_LEARNED, true,
                                     causal, strcmp(name, "ner") ? vocab : classes);
    } else {
        nb__err(NB_ERR_ARG, nb_zoo_input_kind(name) != NB_ZOO_UNKNOWN ? "nb_zoo_text_new: '%s' reads images: build it with nb_zoo_new"
                                                                     : "unknown text model '%s' (known: spam, langid, charlm, ner, mlm, charlm-transformer)",
                name);
        return NULL;
    }
    return r ? nb_model_new(r, NB_INIT_DEFAULT) : NULL;
}
