/* nabla sample: text from a character language model (charlm). The model's stateful LSTM keeps
 * its states from one call to the next, so the prime is read once and then one character at a
 * time is drawn from softmax(logits / temperature) and fed back. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

char *cli_generate(nb_model *m, const nb_vocab *v, const char *prime, int64_t length, double temperature,
                   uint64_t seed, int64_t window) {
    int64_t V = nb_vocab_size(v), n_prime = 0, cap_ids = (int64_t)strlen(prime) + 1 + (window > 0 ? length : 0);
    int64_t *ids = malloc((size_t)cap_ids * sizeof *ids);
    float *p = malloc((size_t)V * sizeof *p);
    size_t cap = strlen(prime) + (size_t)length * 4 + 1, len = 0;
    char *out = malloc(cap);
    if (!ids || !p || !out) {
        free(ids), free(p), free(out);
        nb_set_error(NB_ERR_MEM, "sample: out of memory");
        return NULL;
    }
    if (nb_text_encode(v, prime, strlen(prime), cap_ids, ids, &n_prime, "--prime") || n_prime < 1) {
        if (n_prime < 1 && !*nb_last_error()) nb_set_error(NB_ERR_ARG, "--prime: the text is empty");
        free(ids), free(p), free(out);
        return NULL;
    }
    memcpy(out, prime, strlen(prime));
    len = strlen(prime);
    nb_seed(seed);
    nb_model_set_training(m, false);
    nb_model_reset_states(m);
    nb_no_grad_begin();
    int64_t from = window > 0 && n_prime > window ? n_prime - window : 0;
    nb_tensor *x = nb_step_index(2, (int64_t[]){1, n_prime - from}, ids + from);
    for (int64_t k = 0; k < length; k++) {
        nb_tensor *y = x ? nb_model_forward(m, x) : NULL;
        if (!y) {
            free(out);
            out = NULL;
            break;
        }
        /* the last step's logits, tempered, softmax in double */
        const float *lg = nb_tensor_data(y) + (nb_tensor_numel(y) - V);
        double mx = -INFINITY, sum = 0;
        for (int64_t i = 0; i < V; i++) mx = fmax(mx, lg[i] / temperature);
        for (int64_t i = 0; i < V; i++) sum += (p[i] = (float)exp(lg[i] / temperature - mx));
        double u = nb_rng_uniform() * sum, acc = 0;
        int64_t next = V - 1;
        for (int64_t i = 0; i < V; i++)
            if ((acc += p[i]) > u) {
                next = i;
                break;
            }
        const char *tok = nb_vocab_token(v, next);
        size_t tl = tok ? strlen(tok) : 0;
        if (len + tl + 1 <= cap) memcpy(out + len, tok, tl), len += tl;
        nb_step_reset();
        if (window > 0) { /* no state: the last `window` characters again */
            ids[n_prime++] = next;
            int64_t first = n_prime > window ? n_prime - window : 0;
            x = nb_step_index(2, (int64_t[]){1, n_prime - first}, ids + first);
        } else {
            x = nb_step_index(2, (int64_t[]){1, 1}, &next);
        }
    }
    nb_step_reset();
    nb_no_grad_end();
    nb_model_reset_states(m);
    if (out) out[len] = '\0';
    free(ids);
    free(p);
    return out;
}

int64_t cli_lm_window(const char *model) { return model && !strcmp(model, "charlm-transformer") ? CLI_LM_STEPS : 0; }

static bool gen_kind_of(const char *model) {
    nb_zoo_input k = nb_zoo_input_kind(model);
    return k == NB_ZOO_AUTOENCODER || k == NB_ZOO_GAN;
}

int cli_sample(const cli_args *a) {
    cli_plan info;
    nb_vocab *v = NULL;
    nb_meta *meta = a->checkpoint ? nb_checkpoint_meta(a->checkpoint) : NULL;
    bool images = meta && cli_is_nabla_checkpoint(meta) && gen_kind_of(nb_meta_get(meta, "model"));
    nb_meta_free(meta);
    if (images) return cli_read_plan(a->checkpoint, &info) ? 1 : cli_sample_images(a, &info);
    if (cli_given(a, "--n") || cli_given(a, "--out") || a->judge)
        return cli_fail("sample: --n, --out and --judge are for images (a GAN or VAE checkpoint)");
    nb_model *m = cli_load_model(a, &info, &v);
    if (!m) return 1;
    int rc = 0;
    if (strcmp(info.model, "charlm") != 0 && strcmp(info.model, "charlm-transformer") != 0)
        rc = cli_fail("sample: %s holds a %s model; sample draws text from a charlm checkpoint (charlm or "
                      "charlm-transformer) or images from a GAN or VAE checkpoint", a->checkpoint, info.model);
    char *text = rc ? NULL : cli_generate(m, v, a->prime ? a->prime : "The ", a->length, a->temperature,
                                          (uint64_t)a->seed, cli_lm_window(info.model));
    if (!rc && !text) rc = cli_fail("%s", nb_last_error());
    if (text) printf("%s\n", text);
    free(text);
    nb_vocab_free(v);
    nb_model_free(m);
    return rc;
}
