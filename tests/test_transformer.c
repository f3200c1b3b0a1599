/* nabla's transformer modules (nb_layernorm_new, nb_mha_new, nb_transformer_layer_new,
 * nb_transformer_encoder_new, nb_positional_new, nb_token_transformer_new) against PyTorch and
 * on their own.
 *
 * Against PyTorch (tests/fixtures/transformer/, written by tests/gen_transformer_fixtures.py
 * from the twins in tests/transformer_twins.py): per case the twin's state_dict is loaded
 * STRICTLY into the nabla module built from the case's metadata (every name and shape must
 * match both ways), then the same inputs run forward in evaluation mode and the same loss
 * sum(w_out * out) runs backward; the output and the gradients of the input and of every
 * parameter must agree within 1e-4 of max(1, |PyTorch's value|). Cases: MultiheadAttention
 * alone (plain, key padding, causal, both), encoder layers post- and pre-norm with relu and
 * gelu (with lengths, causal), 2-layer encoders (with the final norm), learned and sinusoidal
 * positions and the token model (both position kinds, post- and pre-norm, causal).
 *
 * On their own: padding changes nothing (tokens at padded steps altered: the logits at real
 * steps are bit-identical), causality (a later token altered: earlier logits bit-identical),
 * central-difference gradients through an encoder layer with lengths and causal masking,
 * PyTorch's initialization, attention dropout in training, a token model learning to copy the
 * first token to every step (Adam, dropout on), and errors with clear messages.
 *
 * Regenerate the fixtures: /usr/bin/python3 tests/gen_transformer_fixtures.py
 *
 * With NB_TF_TORCH_SAVE=DIR set, it also writes DIR/model.safetensors (a seeded, untrained token
 * model with its configuration in the metadata) and DIR/outputs.safetensors (ids, lengths and
 * nabla's logits), for the reverse direction:
 *     /usr/bin/python3 tests/torch_check_transformer.py DIR/model.safetensors DIR/outputs.safetensors */
#include "check.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>

#define DIR "fixtures/transformer/"
#define TOL 1e-4

/* ---- against PyTorch -------------------------------------------------------------------------- */
static double worst_all;
static char worst_where[160];

/* got (numel of shape) against the fixture tensor name, within TOL of max(1, |ref|). */
static void compare(const char *cas, nb_st_reader *r, const char *name, const float *got, int ndim,
                    const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *ref = malloc((size_t)(n ? n : 1) * sizeof(float));
    nb_status st = nb_st_read_f32(r, name, ndim, shape, ref);
    CHECK(st == NB_OK && got, "%s: %s: %s", cas, name, got ? nb_last_error() : "no value from nabla");
    if (st == NB_OK && got) {
        double local = 0;
        int64_t at = 0;
        for (int64_t i = 0; i < n; i++) {
            double s = fabs((double)got[i] - ref[i]) / fmax(1.0, fabs(ref[i]));
            if (!(s <= local)) local = s, at = i;
        }
        CHECK(local <= TOL, "%s: %s[%lld] differs from PyTorch by %g (nabla %g, torch %g)", cas, name, (long long)at,
              local, (double)got[at], (double)ref[at]);
        if (local > worst_all) {
            worst_all = local;
            snprintf(worst_where, sizeof worst_where, "%s %s", cas, name);
        }
    }
    free(ref);
}

static int meta_int(nb_st_reader *r, const char *key) {
    const char *v = nb_st_meta_get(r, key);
    return v ? atoi(v) : -1;
}
static bool meta_is(nb_st_reader *r, const char *key, const char *value) {
    const char *v = nb_st_meta_get(r, key);
    return v && !strcmp(v, value);
}

/* The nabla module a case's metadata describes. */
static nb_module *build(nb_st_reader *r) {
    int d = meta_int(r, "d_model"), h = meta_int(r, "nhead"), ff = meta_int(r, "dim_ff");
    int layers = meta_int(r, "num_layers"), max_len = meta_int(r, "max_len");
    float p = (float)atof(nb_st_meta_get(r, "dropout") ? nb_st_meta_get(r, "dropout") : "0");
    nb_act act = meta_is(r, "act", "gelu") ? NB_ACT_GELU : NB_ACT_RELU;
    bool nf = meta_int(r, "norm_first") == 1, causal = meta_int(r, "causal") == 1;
    nb_pos pos = meta_is(r, "pos", "sinusoidal") ? NB_POS_SINUSOIDAL : NB_POS_LEARNED;
    if (meta_is(r, "kind", "mha")) return nb_mha_new(d, h, p, causal);
    if (meta_is(r, "kind", "layer")) return nb_transformer_layer_new(d, h, ff, p, act, nf, causal);
    if (meta_is(r, "kind", "encoder"))
        return nb_transformer_encoder_new(layers, d, h, ff, p, act, nf, causal, meta_int(r, "final_norm") == 1);
    if (meta_is(r, "kind", "pos")) return nb_positional_new(pos, max_len, d);
    if (meta_is(r, "kind", "token"))
        return nb_token_transformer_new(meta_int(r, "vocab"), max_len, d, h, layers, ff, p, act, pos, nf, causal,
                                        meta_int(r, "out"));
    nb__err(NB_ERR_FORMAT, "unknown kind");
    return NULL;
}

/* A heap tensor from the fixture: float (a leaf gathering a gradient) or int64; NULL if absent. */
static nb_tensor *input(nb_st_reader *r, const char *name) {
    const nb_st_tensor *s = nb_st_find(r, name);
    if (!s) return NULL;
    if (s->dtype == NB_ST_I64) {
        nb_tensor *t = nb_index_new(s->ndim, s->shape);
        if (t && nb_st_read_into(r, name, NB_ST_I64, s->ndim, s->shape, nb_tensor_idata(t)) == NB_OK) return t;
        nb_tensor_free(t);
        return NULL;
    }
    nb_tensor *t = nb_tensor_new(s->ndim, s->shape);
    if (t && nb_st_read_f32(r, name, s->ndim, s->shape, nb_tensor_data(t)) == NB_OK) {
        nb_tensor_set_requires_grad(t, true);
        return t;
    }
    nb_tensor_free(t);
    return NULL;
}

static void run_case(const char *cas) {
    char path[256], dpath[256];
    snprintf(path, sizeof path, DIR "%s.safetensors", cas);
    snprintf(dpath, sizeof dpath, DIR "%s.data.safetensors", cas);
    nb_st_reader *r = nb_st_open(path), *dr = nb_st_open(dpath);
    CHECK(r && dr, "%s: %s", cas, nb_last_error());
    nb_module *root = r ? build(r) : NULL;
    nb_seed(1); /* the initial values are overwritten by the load */
    nb_model *m = root ? nb_model_new(root, NB_INIT_DEFAULT) : NULL;
    CHECK(!r || m, "%s: model: %s", cas, nb_last_error());
    char *report = NULL;
    nb_status st = m ? nb_checkpoint_load(path, m, NULL, NULL, &report) : NB_ERR_ARG; /* strict */
    CHECK(!m || (st == NB_OK && !report), "%s: strict load: %s %s", cas, nb_last_error(), report ? report : "");
    free(report);
    if (st || !dr) {
        nb_model_free(m);
        nb_st_close(r), nb_st_close(dr);
        return;
    }
    bool token = meta_is(r, "kind", "token");
    nb_tensor *x = input(dr, token ? "ids" : "x"), *len = input(dr, "lengths");
    nb_tensor *in[2] = {x, len}, *out[NB_MODULE_MAX_IO];
    int n_out = 0;
    nb_model_set_training(m, false);
    nb_params_zero_grad(nb_model_params(m));
    st = x ? nb_model_forward_n(m, len ? 2 : 1, in, &n_out, out) : NB_ERR_ARG;
    CHECK(st == NB_OK && n_out == 1, "%s: forward: %s", cas, nb_last_error());
    if (st == NB_OK) {
        nb_tensor *y = out[0];
        nb_tensor *w = nb_step_tensor(nb_tensor_ndim(y), nb_tensor_shape(y), NULL);
        st = nb_st_read_f32(dr, "w_out", nb_tensor_ndim(y), nb_tensor_shape(y), nb_tensor_data(w));
        CHECK(st == NB_OK, "%s: w_out: %s", cas, nb_last_error());
        nb_tensor *loss = st ? NULL : nb_sum(nb_mul(y, w), NB_ALL_AXES, false);
        CHECK(loss && nb_backward(loss) == NB_OK, "%s: backward: %s", cas, nb_last_error());
        compare(cas, dr, "out", nb_tensor_data(y), nb_tensor_ndim(y), nb_tensor_shape(y));
        if (!token) compare(cas, dr, "grad.x", nb_tensor_grad(x), nb_tensor_ndim(x), nb_tensor_shape(x));
        nb_params *p = nb_model_params(m);
        for (int i = 0; i < nb_params_count(p); i++) {
            char g[160];
            snprintf(g, sizeof g, "grad.%s", nb_params_name(p, i));
            nb_tensor *t = nb_params_get(p, i);
            compare(cas, dr, g, nb_tensor_grad(t), nb_tensor_ndim(t), nb_tensor_shape(t));
        }
        int in_file = 0;
        for (int i = 0; i < nb_st_count(dr); i++) in_file += !strncmp(nb_st_get(dr, i)->name, "grad.", 5);
        CHECK(in_file - !token == nb_params_count(p), "%s: %d parameter gradients in the file, %d parameters", cas,
              in_file - !token, nb_params_count(p));
    }
    printf("%-32s %3d parameter tensors, %s\n", cas, nb_params_count(nb_model_params(m)), len ? "lengths" : "no lengths");
    nb_step_reset();
    nb_tensor_free(x), nb_tensor_free(len);
    nb_model_free(m);
    nb_st_close(r), nb_st_close(dr);
}

/* ---- padding and causality --------------------------------------------------------------------- */
/* logits (N, T, K) of a token model for ids (and lengths, may be NULL), copied to the heap. */
static float *logits(nb_model *m, const int64_t *ids, const int64_t *lengths, int64_t N, int64_t T) {
    nb_tensor *t = nb_step_index(2, (int64_t[]){N, T}, ids);
    nb_tensor *l = lengths ? nb_step_index(1, (int64_t[]){N}, lengths) : NULL;
    nb_tensor *in[2] = {t, l}, *out[NB_MODULE_MAX_IO];
    int k = 0;
    nb_no_grad_begin();
    nb_status st = nb_model_forward_n(m, l ? 2 : 1, in, &k, out);
    nb_no_grad_end();
    float *y = NULL;
    if (st == NB_OK) {
        int64_t n = nb_tensor_numel(out[0]);
        y = malloc((size_t)n * sizeof(float));
        memcpy(y, nb_tensor_data(nb_contiguous(out[0])), (size_t)n * sizeof(float));
    }
    CHECK(y != NULL, "token model forward: %s", nb_last_error());
    nb_step_reset();
    return y;
}

static void test_padding_and_causality(void) {
    enum { N = 3, T = 6, V = 20, K = 4 };
    for (int causal = 0; causal < 2; causal++)
        for (int pre = 0; pre < 2; pre++) {
            nb_seed(7 + causal * 2 + pre);
            nb_model *m = nb_model_new(nb_token_transformer_new(V, 8, 8, 2, 2, 16, 0.1f, pre ? NB_ACT_GELU : NB_ACT_RELU,
                                                                pre ? NB_POS_SINUSOIDAL : NB_POS_LEARNED, pre, causal, K),
                                       NB_INIT_DEFAULT);
            CHECK(m != NULL, "token model: %s", nb_last_error());
            if (!m) continue;
            nb_model_set_training(m, false);
            int64_t ids[N * T], len[N] = {6, 2, 4};
            for (int i = 0; i < N * T; i++) ids[i] = 1 + (int64_t)(nb_rng_next() % (V - 1));
            float *a = logits(m, ids, len, N, T);
            for (int i = 0; i < N; i++) /* other tokens at padded steps */
                for (int t = (int)len[i]; t < T; t++) ids[i * T + t] = (ids[i * T + t] + 5) % V;
            float *b = logits(m, ids, len, N, T);
            bool same = a && b, differs = false;
            for (int i = 0; a && b && i < N; i++) {
                same &= !memcmp(a + (size_t)i * T * K, b + (size_t)i * T * K, (size_t)len[i] * K * sizeof(float));
                differs |= len[i] < T && memcmp(a + ((size_t)i * T + len[i]) * K, b + ((size_t)i * T + len[i]) * K,
                                                (size_t)(T - len[i]) * K * sizeof(float));
            }
            CHECK(same, "causal %d pre %d: tokens at padded steps changed logits at real steps", causal, pre);
            CHECK(differs, "causal %d pre %d: tokens at padded steps changed nothing at all (test is blind)", causal,
                  pre);
            free(a), free(b);
            if (causal) { /* without lengths: a token at step 3 changes nothing before it */
                a = logits(m, ids, NULL, N, T);
                ids[1 * T + 3] = (ids[1 * T + 3] + 3) % V;
                b = logits(m, ids, NULL, N, T);
                bool before = a && b && !memcmp(a + (size_t)1 * T * K, b + (size_t)1 * T * K, 3 * K * sizeof(float));
                bool after = a && b && memcmp(a + ((size_t)1 * T + 3) * K, b + ((size_t)1 * T + 3) * K, K * sizeof(float));
                bool others = a && b && !memcmp(a, b, (size_t)T * K * sizeof(float));
                CHECK(before && after && others, "pre %d: causal: earlier %d, later changed %d, other samples %d", pre,
                      before, after, others);
                free(a), free(b);
            }
            nb_model_free(m);
        }
}

/* ---- central differences through one layer with lengths ---------------------------------------- */
static double layer_loss(nb_model *m, nb_tensor *x, nb_tensor *len, const float *w) {
    nb_tensor *in[2] = {x, len}, *out[NB_MODULE_MAX_IO];
    int k = 0;
    if (nb_model_forward_n(m, 2, in, &k, out)) return NAN;
    nb_tensor *y = nb_contiguous(out[0]);
    double acc = 0;
    for (int64_t i = 0; i < nb_tensor_numel(y); i++) acc += (double)w[i] * nb_tensor_data(y)[i];
    return acc;
}

static void test_gradcheck(void) {
    for (int pre = 0; pre < 2; pre++) {
        nb_seed(31 + pre);
        nb_model *m = nb_model_new(nb_transformer_layer_new(4, 2, 6, 0.0f, NB_ACT_GELU, pre, true), NB_INIT_DEFAULT);
        CHECK(m != NULL, "layer: %s", nb_last_error());
        if (!m) return;
        nb_params *p = nb_model_params(m);
        for (int i = 0; i < nb_params_count(p); i++) /* move norms and biases off 1s and 0s */
            for (int64_t j = 0; j < nb_tensor_numel(nb_params_get(p, i)); j++)
                nb_tensor_data(nb_params_get(p, i))[j] += 0.3f * (2 * nb_rng_uniform() - 1);
        nb_model_set_training(m, false);
        const int64_t xs[3] = {2, 4, 4};
        nb_tensor *x = nb_tensor_new(3, xs), *len = nb_index_new(1, (int64_t[]){2});
        nb_tensor_fill_normal(x, 0, 1);
        nb_tensor_set_requires_grad(x, true);
        nb_tensor_idata(len)[0] = 4, nb_tensor_idata(len)[1] = 2;
        float w[32];
        for (int i = 0; i < 32; i++) w[i] = 2 * nb_rng_uniform() - 1;
        nb_params_zero_grad(p);
        nb_tensor *in[2] = {x, len}, *out[NB_MODULE_MAX_IO];
        int k = 0;
        nb_status st = nb_model_forward_n(m, 2, in, &k, out);
        nb_tensor *wt = nb_step_tensor(3, xs, w);
        CHECK(st == NB_OK && nb_backward(nb_sum(nb_mul(out[0], wt), NB_ALL_AXES, false)) == NB_OK, "backward: %s",
              nb_last_error());
        nb_step_reset();
        const float h = 1e-2f;
        int bad = 0, n = 0;
        double worst = 0;
        nb_no_grad_begin();
        for (int i = -1; i < nb_params_count(p); i++) {
            nb_tensor *t = i < 0 ? x : nb_params_get(p, i);
            float *v = nb_tensor_data(t), *g = nb_tensor_grad(t);
            for (int64_t j = 0; j < nb_tensor_numel(t); j++, n++) {
                float v0 = v[j];
                v[j] = v0 + h;
                double lp = layer_loss(m, x, len, w);
                v[j] = v0 - h;
                double lm = layer_loss(m, x, len, w);
                v[j] = v0;
                nb_step_reset();
                double num = (lp - lm) / (2.0 * h), err = fabs(num - g[j]), lim = 2e-3 + 1e-2 * fabs(num);
                worst = fmax(worst, err / lim);
                if (!(err <= lim) && bad++ < 5)
                    fprintf(stderr, "  %s[%lld]: analytic %.6g numeric %.6g\n", i < 0 ? "x" : nb_params_name(p, i),
                            (long long)j, (double)g[j], num);
            }
        }
        nb_no_grad_end();
        CHECK(bad == 0 && n > 100, "%s-norm layer: %d of %d gradient elements off", pre ? "pre" : "post", bad, n);
        printf("gradcheck %s-norm layer (lengths, causal): %d elements, worst error/tolerance %.3f\n",
               pre ? "pre" : "post", n, worst);
        nb_tensor_free(x), nb_tensor_free(len);
        nb_model_free(m);
    }
}

/* ---- initialization and dropout ---------------------------------------------------------------- */
static double rms(nb_tensor *t) {
    double s = 0;
    for (int64_t i = 0; i < nb_tensor_numel(t); i++) s += (double)nb_tensor_data(t)[i] * nb_tensor_data(t)[i];
    return sqrt(s / (double)nb_tensor_numel(t));
}
static double max_abs(nb_tensor *t) {
    double s = 0;
    for (int64_t i = 0; i < nb_tensor_numel(t); i++) s = fmax(s, fabs(nb_tensor_data(t)[i]));
    return s;
}

static void test_init(void) {
    nb_seed(3);
    const int E = 64;
    nb_model *m = nb_model_new(nb_token_transformer_new(50, 128, E, 4, 2, 128, 0.1f, NB_ACT_RELU, NB_POS_LEARNED,
                                                        true, false, 3),
                               NB_INIT_DEFAULT);
    CHECK(m != NULL, "token model: %s", nb_last_error());
    if (!m) return;
    nb_params *p = nb_model_params(m);
    static const char *const names[] = {
        "embed.weight", "pos.weight", "encoder.layers.0.self_attn.in_proj_weight",
        "encoder.layers.0.self_attn.in_proj_bias", "encoder.layers.0.self_attn.out_proj.weight",
        "encoder.layers.0.self_attn.out_proj.bias", "encoder.layers.0.linear1.weight", "encoder.layers.0.linear1.bias",
        "encoder.layers.0.linear2.weight", "encoder.layers.0.linear2.bias", "encoder.layers.0.norm1.weight",
        "encoder.layers.0.norm1.bias", "encoder.layers.0.norm2.weight", "encoder.layers.0.norm2.bias",
        "encoder.layers.1.self_attn.in_proj_weight", "encoder.norm.weight", "encoder.norm.bias", "head.weight",
        "head.bias"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        CHECK(nb_params_find(p, names[i]) != NULL, "no parameter %s", names[i]);
    CHECK(nb_params_count(p) == 2 + 12 * 2 + 2 + 2, "%d parameters", nb_params_count(p));
    double xb = sqrt(6.0 / (E + 3 * E)); /* xavier_uniform over (3E, E) */
    nb_tensor *ipw = nb_params_find(p, "encoder.layers.0.self_attn.in_proj_weight");
    CHECK(ipw && max_abs(ipw) <= xb && fabs(rms(ipw) - xb / sqrt(3.0)) < 0.05 * xb, "in_proj_weight rms %g, max %g",
          ipw ? rms(ipw) : 0, ipw ? max_abs(ipw) : 0);
    nb_tensor *opw = nb_params_find(p, "encoder.layers.0.self_attn.out_proj.weight");
    double lb = 1.0 / sqrt(E); /* Linear's default */
    CHECK(opw && max_abs(opw) <= lb && fabs(rms(opw) - lb / sqrt(3.0)) < 0.05 * lb, "out_proj.weight rms %g",
          opw ? rms(opw) : 0);
    static const char *const zeros[] = {"encoder.layers.0.self_attn.in_proj_bias",
                                        "encoder.layers.0.self_attn.out_proj.bias", "encoder.layers.1.norm2.bias",
                                        "encoder.norm.bias"};
    for (int i = 0; i < 4; i++) {
        nb_tensor *t = nb_params_find(p, zeros[i]);
        CHECK(t && max_abs(t) == 0, "%s is not zero", zeros[i]);
    }
    nb_tensor *nw = nb_params_find(p, "encoder.layers.1.norm1.weight");
    CHECK(nw && nb_tensor_data(nw)[0] == 1 && nb_tensor_data(nw)[E - 1] == 1, "norm weight not 1");
    nb_tensor *l1b = nb_params_find(p, "encoder.layers.0.linear1.bias"); /* Linear's U(+-1/sqrt(in)) */
    CHECK(l1b && max_abs(l1b) > 0 && max_abs(l1b) <= lb, "linear1.bias max %g", l1b ? max_abs(l1b) : 0);
    nb_tensor *pw = nb_params_find(p, "pos.weight");
    CHECK(pw && fabs(rms(pw) - 0.02) < 0.002, "pos.weight rms %g, expected 0.02", pw ? rms(pw) : 0);
    char *sum = nb_model_summary(m, 1, (int64_t[]){12}); /* token ids (12): read as id 0 everywhere */
    CHECK(sum && strstr(sum, "(1,12,3)") && strstr(sum, "TransformerEncoder(2 layers, final norm)"), "summary: %s",
          sum ? sum : nb_last_error());
    if (sum) printf("%s", sum);
    free(sum);
    nb_tensor *ew = nb_params_find(p, "embed.weight");
    CHECK(ew && max_abs(nb_slice(ew, 0, 0, 1, 1)) == 0 && fabs(rms(ew) - 1) < 0.1, "embed.weight rms %g",
          ew ? rms(ew) : 0);
    nb_step_reset();
    nb_model_free(m);
}

static void test_dropout(void) {
    nb_seed(4);
    nb_model *m = nb_model_new(nb_mha_new(8, 2, 0.5f, false), NB_INIT_DEFAULT);
    CHECK(m != NULL, "mha: %s", nb_last_error());
    if (!m) return;
    nb_tensor *x = nb_tensor_new(3, (int64_t[]){2, 5, 8});
    nb_tensor_fill_normal(x, 0, 1);
    nb_model_set_training(m, false);
    nb_tensor *a = nb_contiguous(nb_model_forward(m, x));
    nb_tensor *b = nb_contiguous(nb_model_forward(m, x));
    nb_model_set_training(m, true);
    nb_tensor *c = nb_contiguous(nb_model_forward(m, x));
    size_t bytes = 2 * 5 * 8 * sizeof(float);
    CHECK(a && b && c && !memcmp(nb_tensor_data(a), nb_tensor_data(b), bytes) &&
              memcmp(nb_tensor_data(a), nb_tensor_data(c), bytes),
          "attention dropout: evaluation must repeat, training must differ: %s", nb_last_error());
    nb_step_reset();
    nb_tensor_free(x);
    nb_model_free(m);
}

/* ---- it learns ------------------------------------------------------------------------------------ */
/* Every step's label is the sequence's first token: only attention can carry it there. Trained
 * in training mode (dropout on) with Adam; the loss must fall from ~log(8) to near 0. */
static void test_learns(void) {
    enum { N = 16, T = 5, V = 8 };
    for (int causal = 0; causal < 2; causal++) {
        nb_seed(21 + causal);
        nb_model *m = nb_model_new(nb_token_transformer_new(V, T, 16, 2, 1, 32, 0.1f, NB_ACT_GELU, NB_POS_LEARNED,
                                                            causal, causal, V),
                                   NB_INIT_DEFAULT);
        CHECK(m != NULL, "token model: %s", nb_last_error());
        if (!m) return;
        nb_optim *opt = nb_adam_new(nb_model_params(m), nb_adam_defaults(1e-2f));
        float first = 0, last = 0;
        for (int step = 0; step < 150; step++) {
            int64_t ids[N * T], target[N * T];
            for (int i = 0; i < N; i++)
                for (int t = 0; t < T; t++) ids[i * T + t] = 1 + (int64_t)(nb_rng_next() % (V - 1));
            for (int i = 0; i < N * T; i++) target[i] = ids[i / T * T];
            nb_tensor *in = nb_step_index(2, (int64_t[]){N, T}, ids), *out[NB_MODULE_MAX_IO];
            int k = 0;
            nb_params_zero_grad(nb_model_params(m));
            if (nb_model_forward_n(m, 1, &in, &k, out)) break;
            nb_tensor *loss = nb_cross_entropy(nb_reshape(out[0], 2, (int64_t[]){N * T, V}),
                                               nb_step_index(1, (int64_t[]){N * T}, target));
            if (!loss || nb_backward(loss) || nb_optim_step(opt)) break;
            last = nb_tensor_item(loss);
            if (step == 0) first = last;
            nb_step_reset();
        }
        nb_step_reset();
        CHECK(first > 1.5f && last < 0.2f, "causal %d: cross-entropy %g -> %g after 150 steps: %s", causal,
              (double)first, (double)last, nb_last_error());
        printf("learns the first token (%s): cross-entropy %.3f -> %.3f in 150 Adam steps\n",
               causal ? "causal, pre-norm" : "post-norm", (double)first, (double)last);
        nb_optim_free(opt);
        nb_model_free(m);
    }
}

/* ---- errors ------------------------------------------------------------------------------------ */
static void expect_error(bool failed, const char *what, const char *needle) {
    CHECK(failed && strstr(nb_last_error(), needle), "%s: expected an error naming '%s', got '%s'", what, needle,
          failed ? nb_last_error() : "(success)");
    nb_clear_error();
}

static void test_errors(void) {
    expect_error(nb_mha_new(10, 3, 0, false) == NULL, "embed_dim % heads", "divisible by num_heads");
    expect_error(nb_mha_new(8, 2, 1.0f, false) == NULL, "dropout 1", "dropout");
    expect_error(nb_transformer_layer_new(8, 2, 16, 0, NB_ACT_TANH, false, false) == NULL, "tanh", "NB_ACT_GELU");
    expect_error(nb_transformer_encoder_new(0, 8, 2, 16, 0, NB_ACT_RELU, false, false, false) == NULL, "0 layers",
                 "num_layers");
    expect_error(nb_transformer_encoder_new(2, 8, 3, 16, 0, NB_ACT_RELU, false, false, false) == NULL, "8 % 3",
                 "divisible by nhead");
    expect_error(nb_positional_new(NB_POS_SINUSOIDAL, 10, 7) == NULL, "odd sinusoidal", "even dim");
    expect_error(nb_layernorm_new(0, 1e-5f) == NULL, "layernorm 0", "dim >= 1");
    expect_error(nb_token_transformer_new(10, 8, 8, 3, 1, 16, 0, NB_ACT_RELU, NB_POS_LEARNED, false, false, 2) == NULL,
                 "token 8 % 3", "divisible");

    nb_seed(5);
    nb_model *m = nb_model_new(nb_token_transformer_new(10, 5, 8, 2, 1, 16, 0, NB_ACT_RELU, NB_POS_LEARNED, false,
                                                        false, 2),
                               NB_INIT_DEFAULT);
    CHECK(m != NULL, "token model: %s", nb_last_error());
    if (!m) return;
    nb_model_set_training(m, false);
    int64_t ids[2 * 6] = {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6};
    nb_tensor *in[2], *out[NB_MODULE_MAX_IO];
    int k = 0;
    in[0] = nb_step_index(2, (int64_t[]){2, 6}, ids);
    expect_error(nb_model_forward_n(m, 1, in, &k, out) != NB_OK, "T 6 > max_len 5", "more than max_len 5");
    in[0] = nb_step_index(2, (int64_t[]){2, 3}, ids);
    in[1] = nb_step_index(1, (int64_t[]){2}, (int64_t[]){3, 0});
    expect_error(nb_model_forward_n(m, 2, in, &k, out) != NB_OK, "length 0", "has length 0, outside 1..3");
    in[1] = nb_step_index(1, (int64_t[]){2}, (int64_t[]){4, 1});
    expect_error(nb_model_forward_n(m, 2, in, &k, out) != NB_OK, "length 4 > T", "outside 1..3");
    in[1] = nb_step_tensor(1, (int64_t[]){2}, (float[]){3, 1});
    expect_error(nb_model_forward_n(m, 2, in, &k, out) != NB_OK, "float lengths", "must be int64");
    in[1] = nb_step_index(1, (int64_t[]){3}, (int64_t[]){3, 1, 1});
    expect_error(nb_model_forward_n(m, 2, in, &k, out) != NB_OK, "3 lengths for 2", "must be int64 (2)");
    ids[4] = 10;
    in[0] = nb_step_index(2, (int64_t[]){2, 6}, ids);
    expect_error(nb_model_forward_n(m, 1, in, &k, out) != NB_OK, "token 10", "outside 0..9");
    in[0] = nb_step_tensor(2, (int64_t[]){2, 3}, NULL);
    expect_error(nb_model_forward_n(m, 1, in, &k, out) != NB_OK, "float tokens", "int64 token ids (N, T)");
    nb_step_reset();
    nb_model_free(m);

    m = nb_model_new(nb_mha_new(8, 2, 0, false), NB_INIT_DEFAULT);
    nb_tensor *x = nb_step_tensor(3, (int64_t[]){2, 3, 6}, NULL);
    expect_error(m && nb_model_forward(m, x) == NULL, "mha (2,3,6)", "expected float (N, T, 8)");
    x = nb_step_tensor(2, (int64_t[]){3, 8}, NULL);
    expect_error(m && nb_model_forward(m, x) == NULL, "mha (3,8)", "expected float (N, T, 8)");
    nb_step_reset();
    nb_model_free(m);
    m = nb_model_new(nb_layernorm_new(8, 1e-5f), NB_INIT_DEFAULT);
    x = nb_step_tensor(2, (int64_t[]){3, 7}, NULL);
    expect_error(m && nb_model_forward(m, x) == NULL, "layernorm (3,7)", "expected float (..., 8)");
    nb_step_reset();
    nb_model_free(m);
}

/* ---- a model for PyTorch to load (NB_TF_TORCH_SAVE=DIR) ---------------------------------------- */
static void save_for_torch(const char *dir) {
    enum { V = 40, L = 16, D = 16, H = 4, NL = 2, FF = 32, K = 6, N = 3, T = 9 };
    nb_seed(11);
    nb_model *m = nb_model_new(nb_token_transformer_new(V, L, D, H, NL, FF, 0.1f, NB_ACT_GELU, NB_POS_LEARNED, true,
                                                        false, K),
                               NB_INIT_DEFAULT);
    CHECK(m != NULL, "save: model: %s", nb_last_error());
    if (!m) return;
    nb_model_set_training(m, false);
    nb_meta *meta = nb_meta_new();
    nb_meta_setf(meta, "transformer", "vocab=%d max_len=%d d_model=%d nhead=%d num_layers=%d dim_ff=%d dropout=0.1 "
                                      "act=gelu pos=learned norm_first=1 causal=0 out=%d",
                 V, L, D, H, NL, FF, K);
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(nb_checkpoint_save(path, m, NULL, meta) == NB_OK, "save: %s", nb_last_error());
    nb_meta_free(meta);
    int64_t ids[N * T], len[N] = {9, 4, 1};
    for (int i = 0; i < N * T; i++) ids[i] = i % T < len[i / T] ? 1 + (int64_t)(nb_rng_next() % (V - 1)) : 0;
    float *y = logits(m, ids, len, N, T);
    if (y) {
        nb_st_writer *w = nb_st_writer_new();
        nb_st_add(w, "ids", NB_ST_I64, 2, (int64_t[]){N, T}, ids);
        nb_st_add(w, "lengths", NB_ST_I64, 1, (int64_t[]){N}, len);
        nb_st_add(w, "logits", NB_ST_F32, 3, (int64_t[]){N, T, K}, y);
        snprintf(path, sizeof path, "%s/outputs.safetensors", dir);
        CHECK(nb_st_write(w, path) == NB_OK, "save: %s", nb_last_error());
        nb_st_writer_free(w);
        printf("wrote %s/model.safetensors and %s\n", dir, path);
    }
    free(y);
    nb_model_free(m);
}

int main(void) {
    FILE *f = fopen(DIR "cases.txt", "r");
    CHECK(f != NULL, "%s: cannot open (run from tests/)", DIR "cases.txt");
    char line[128];
    int cases = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        run_case(line);
        cases++;
    }
    if (f) fclose(f);
    CHECK(cases >= 15, "only %d cases in %s", cases, DIR "cases.txt");
    printf("%d cases against PyTorch: worst |diff|/max(1,|ref|) %.2g (%s)\n", cases, worst_all, worst_where);
    test_padding_and_causality();
    test_gradcheck();
    test_init();
    test_dropout();
    test_learns();
    test_errors();
    const char *save = getenv("NB_TF_TORCH_SAVE");
    if (save && *save) save_for_torch(save);
    return test_end("test_transformer");
}
