/* nabla's recurrent layers against PyTorch (tests/fixtures/rnn/, written by
 * tests/gen_rnn_fixtures.py): nn.RNN (tanh, relu), nn.GRU and nn.LSTM, 1 and 2 layers, one and two
 * directions, with and without lengths (torch: pack_padded_sequence / pad_packed_sequence), with
 * and without h0/c0, with and without biases, lengths of 1; and Embedding(padding_idx) -> LSTM/GRU
 * -> Linear models (nb_recurrent_new: last-step, mean and max pooling, padding_idx 0 and not).
 * Per case: the torch state_dict loaded by nb_checkpoint_load, forward_n on the same inputs,
 * backward of the same weighted sum of the outputs; outputs, final states and the gradients of
 * the inputs, initial states and every parameter must agree within 1e-5 (absolute, or relative
 * to the value when larger than 1).
 *
 * Regenerate the fixtures: /usr/bin/python3 tests/gen_rnn_fixtures.py
 *
 * With NB_RNN_TORCH_SAVE=DIR set, it also writes DIR/model.safetensors (the zoo's lstm-rows:
 * Recurrent(pool=last) with lstm = LSTM(28,128) and fc = Linear(128,10), seeded and untrained,
 * with the CLI's metadata) and DIR/outputs.safetensors (inputs x (16,1,28,28) and nabla's logits), for
 *   /usr/bin/python3 tests/torch_check_rnn.py DIR/model.safetensors --outputs DIR/outputs.safetensors */
#include "check.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>

#define DIR "fixtures/rnn/"
#define TOL 1e-5

typedef struct worst {
    double abs, scaled; /* max |a-b|, and max |a-b| / max(1, |b|) */
    char where[160];
} worst;

/* got (n floats, shape of ref) against the fixture tensor name; false if absent/mis-shaped. */
static bool compare(const char *cas, nb_st_reader *r, const char *name, const float *got, int ndim,
                    const int64_t *shape, worst *w) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *ref = malloc((size_t)n * sizeof(float));
    nb_status st = nb_st_read_f32(r, name, ndim, shape, ref);
    CHECK(st == NB_OK && got, "%s: %s: %s", cas, name, got ? nb_last_error() : "no value from nabla");
    if (st || !got) {
        free(ref);
        return false;
    }
    double local = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]), s = d / fmax(1.0, fabs(ref[i]));
        local = fmax(local, s);
        if (d > w->abs) w->abs = d;
        if (s > w->scaled) {
            w->scaled = s;
            snprintf(w->where, sizeof w->where, "%s[%lld]", name, (long long)i);
        }
    }
    CHECK(local <= TOL, "%s: %s differs from PyTorch by %g", cas, name, local);
    free(ref);
    return true;
}

static bool compare_t(const char *cas, nb_st_reader *r, const char *name, nb_tensor *t, bool grad, worst *w) {
    if (!t) {
        CHECK(0, "%s: %s: no tensor", cas, name);
        return false;
    }
    return compare(cas, r, name, grad ? nb_tensor_grad(t) : nb_tensor_data(t), nb_tensor_ndim(t), nb_tensor_shape(t),
                   w);
}

/* A heap float tensor from the fixture (gathers a gradient); NULL if the file has none. */
static nb_tensor *input(nb_st_reader *r, const char *name) {
    const nb_st_tensor *s = nb_st_find(r, name);
    if (!s) return NULL;
    nb_tensor *t = nb_tensor_new(s->ndim, s->shape);
    if (t && nb_st_read_f32(r, name, s->ndim, s->shape, nb_tensor_data(t)) == NB_OK) {
        nb_tensor_set_requires_grad(t, true);
        return t;
    }
    nb_tensor_free(t);
    return NULL;
}
static nb_tensor *index_input(nb_st_reader *r, const char *name) {
    const nb_st_tensor *s = nb_st_find(r, name);
    if (!s) return NULL;
    nb_tensor *t = nb_index_new(s->ndim, s->shape);
    if (t && nb_st_read_into(r, name, NB_ST_I64, s->ndim, s->shape, nb_tensor_idata(t)) == NB_OK) return t;
    nb_tensor_free(t);
    return NULL;
}
/* The loss term sum(w * y), w from the fixture. */
static nb_tensor *weighted(nb_st_reader *r, const char *wname, nb_tensor *y) {
    if (!y) return NULL;
    nb_tensor *w = nb_step_tensor(nb_tensor_ndim(y), nb_tensor_shape(y), NULL);
    if (!w || nb_st_read_f32(r, wname, nb_tensor_ndim(y), nb_tensor_shape(y), nb_tensor_data(w))) return NULL;
    return nb_sum(nb_mul(y, w), NB_ALL_AXES, false);
}

static int meta_int(nb_st_reader *r, const char *key) {
    const char *v = nb_st_meta_get(r, key);
    return v ? atoi(v) : -1;
}

/* The state_dict by name through the checkpoint loader (not strict: the file also holds the
 * inputs and the expected values); every parameter must load and nothing else may be reported
 * but those extra tensors. */
static bool load_state(const char *cas, const char *path, nb_model *m) {
    nb_load_opts o = nb_load_defaults();
    o.strict = false;
    char *report = NULL;
    nb_status st = nb_checkpoint_load(path, m, NULL, &o, &report);
    CHECK(st == NB_OK, "%s: load: %s", cas, nb_last_error());
    bool ok = st == NB_OK;
    for (char *line = report; ok && line && *line;) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        bool extra = !strncmp(line, "unexpected ", 11) &&
                     !nb_params_find(nb_model_params(m), line + 11) && /* never a parameter */
                     (line[11] == 'x' || !strncmp(line + 11, "ids", 3) || !strncmp(line + 11, "lengths", 7) ||
                      !strncmp(line + 11, "h0", 2) || !strncmp(line + 11, "c0", 2) || !strncmp(line + 11, "w_", 2) ||
                      !strncmp(line + 11, "out", 3) || !strncmp(line + 11, "h_n", 3) ||
                      !strncmp(line + 11, "c_n", 3) || !strncmp(line + 11, "grad.", 5));
        CHECK(extra, "%s: load report: %.*s", cas, (int)len, line);
        ok = extra;
        line = end ? end + 1 : NULL;
    }
    free(report);
    return ok;
}

static nb_rnn_mode mode_of(const char *s) {
    if (!strcmp(s, "lstm")) return NB_RNN_LSTM;
    if (!strcmp(s, "gru")) return NB_RNN_GRU;
    return !strcmp(s, "relu") ? NB_RNN_RELU : NB_RNN_TANH;
}

static void compare_param_grads(const char *cas, nb_st_reader *r, nb_model *m, worst *w) {
    nb_params *p = nb_model_params(m);
    for (int i = 0; i < nb_params_count(p); i++) {
        char g[128];
        snprintf(g, sizeof g, "grad.%s", nb_params_name(p, i));
        compare_t(cas, r, g, nb_params_get(p, i), true, w);
    }
    int in_file = 0;
    for (int i = 0; i < nb_st_count(r); i++) in_file += !strncmp(nb_st_get(r, i)->name, "grad.", 5);
    int extra = 0;
    for (int i = 0; i < 3; i++) extra += nb_st_find(r, (const char *[]){"grad.x", "grad.h0", "grad.c0"}[i]) != NULL;
    CHECK(in_file - extra == nb_params_count(p), "%s: %d parameter gradients in the file, %d parameters", cas,
          in_file - extra, nb_params_count(p));
}

static void run_case(const char *cas, worst *total) {
    char path[256];
    snprintf(path, sizeof path, DIR "%s.safetensors", cas);
    nb_st_reader *r = nb_st_open(path);
    CHECK(r != NULL, "%s: %s", cas, nb_last_error());
    if (!r) return;
    const char *kind = nb_st_meta_get(r, "kind"), *mname = nb_st_meta_get(r, "mode");
    int D = meta_int(r, "input_size"), H = meta_int(r, "hidden_size");
    nb_rnn_opts o = nb_rnn_defaults();
    o.num_layers = meta_int(r, "num_layers");
    o.bidirectional = meta_int(r, "bidirectional") == 1;
    o.bias = meta_int(r, "bias") == 1;
    nb_rnn_mode mode = mode_of(mname ? mname : "");
    bool rec = kind && !strcmp(kind, "recurrent");
    nb_module *root;
    nb_seed(1); /* the initial values are overwritten by the load */
    if (rec) {
        const char *ps = nb_st_meta_get(r, "pool");
        nb_seq_pool pool = !ps                  ? NB_SEQ_NONE
                           : !strcmp(ps, "mean") ? NB_SEQ_MEAN
                           : !strcmp(ps, "max")  ? NB_SEQ_MAX
                                                 : NB_SEQ_LAST;
        root = nb_recurrent_new(nb_embedding_new(meta_int(r, "vocab"), D, meta_int(r, "padding_idx")),
                                nb_rnn_new(mode, D, H, o), pool,
                                nb_linear_new(H * (o.bidirectional ? 2 : 1), meta_int(r, "classes"), true));
    } else {
        root = nb_sequential_new();
        if (root) nb_sequential_add(root, "rnn", nb_rnn_new(mode, D, H, o));
    }
    nb_model *m = root ? nb_model_new(root, NB_INIT_DEFAULT) : NULL;
    CHECK(m != NULL, "%s: model: %s", cas, nb_last_error());
    if (!m || !load_state(cas, path, m)) {
        nb_model_free(m);
        nb_st_close(r);
        return;
    }
    nb_tensor *x = rec ? index_input(r, "ids") : input(r, "x"), *len = index_input(r, "lengths");
    nb_tensor *h0 = input(r, "h0"), *c0 = input(r, "c0");
    nb_tensor *in[4], *out[NB_MODULE_MAX_IO];
    int n_in = 0, n_out = 0;
    in[n_in++] = x;
    if (len) in[n_in++] = len;
    if (h0) in[n_in++] = h0;
    if (c0) in[n_in++] = c0;
    worst w = {0, 0, ""};
    nb_params_zero_grad(nb_model_params(m));
    nb_status st = x ? nb_model_forward_n(m, n_in, in, &n_out, out) : NB_ERR_ARG;
    CHECK(st == NB_OK && n_out == (rec ? 1 : mode == NB_RNN_LSTM ? 3 : 2), "%s: forward: %s (%d outputs)", cas,
          nb_last_error(), n_out);
    if (st == NB_OK) {
        nb_tensor *loss = weighted(r, "w_out", out[0]);
        if (!rec) {
            loss = nb_add(loss, weighted(r, "w_hn", out[1]));
            if (mode == NB_RNN_LSTM) loss = nb_add(loss, weighted(r, "w_cn", out[2]));
        }
        CHECK(loss && nb_backward(loss) == NB_OK, "%s: backward: %s", cas, nb_last_error());
        compare_t(cas, r, "out", out[0], false, &w);
        if (!rec) {
            compare_t(cas, r, "h_n", out[1], false, &w);
            if (mode == NB_RNN_LSTM) compare_t(cas, r, "c_n", out[2], false, &w);
            compare_t(cas, r, "grad.x", x, true, &w);
            if (h0) compare_t(cas, r, "grad.h0", h0, true, &w);
            if (c0) compare_t(cas, r, "grad.c0", c0, true, &w);
        }
        compare_param_grads(cas, r, m, &w);
    }
    printf("%-26s %-9s %d layer(s) %s%s%s%s: worst |diff| %.2g, worst |diff|/max(1,|ref|) %.2g at %s\n", cas,
           mname ? mname : "?", o.num_layers, o.bidirectional ? "bi" : "uni", len ? ", lengths" : "",
           h0 ? ", h0" : "", o.bias ? "" : ", no bias", w.abs, w.scaled, w.where);
    if (w.scaled > total->scaled) {
        total->scaled = w.scaled;
        snprintf(total->where, sizeof total->where, "%s", cas);
    }
    total->abs = fmax(total->abs, w.abs);
    nb_step_reset();
    nb_tensor_free(x), nb_tensor_free(len), nb_tensor_free(h0), nb_tensor_free(c0);
    nb_model_free(m);
    nb_st_close(r);
}

/* NB_RNN_TORCH_SAVE=DIR: an lstm-rows checkpoint and its outputs on 16 inputs, for
 * tests/torch_check_rnn.py. */
static void save_for_torch(const char *dir) {
    nb_seed(5);
    nb_model *m = nb_zoo_new("lstm-rows", 1, 28, 28, 10);
    CHECK(m != NULL, "save: model: %s", nb_last_error());
    if (!m) return;
    nb_model_set_training(m, false);
    nb_meta *meta = nb_meta_new();
    nb_meta_set(meta, "model", "lstm-rows");
    nb_meta_set(meta, "input", "1x28x28");
    nb_meta_set(meta, "classes", "10");
    nb_meta_set(meta, "mean", "0.1307");
    nb_meta_set(meta, "std", "0.3081");
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(nb_checkpoint_save(path, m, NULL, meta) == NB_OK, "save: %s", nb_last_error());
    nb_meta_free(meta);
    const int64_t xs[4] = {16, 1, 28, 28};
    nb_tensor *x = nb_tensor_new(4, xs);
    nb_tensor_fill_uniform(x, -0.5f, 2.8f);
    nb_tensor *y = nb_model_forward(m, x);
    CHECK(y && nb_tensor_ndim(y) == 2 && nb_tensor_size(y, 1) == 10, "save: forward: %s", nb_last_error());
    if (y) {
        nb_st_writer *w = nb_st_writer_new();
        nb_st_add(w, "x", NB_ST_F32, 4, xs, nb_tensor_data(x));
        nb_st_add(w, "logits", NB_ST_F32, 2, nb_tensor_shape(y), nb_tensor_data(y));
        snprintf(path, sizeof path, "%s/outputs.safetensors", dir);
        CHECK(nb_st_write(w, path) == NB_OK, "save: %s", nb_last_error());
        nb_st_writer_free(w);
        printf("wrote %s/model.safetensors and %s\n", dir, path);
    }
    nb_step_reset();
    nb_tensor_free(x);
    nb_model_free(m);
}

int main(void) {
    FILE *f = fopen(DIR "cases.txt", "r");
    CHECK(f != NULL, "%s: cannot open (run from tests/)", DIR "cases.txt");
    char line[128];
    int cases = 0;
    worst total = {0, 0, ""};
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        run_case(line, &total);
        cases++;
    }
    if (f) fclose(f);
    CHECK(cases >= 33, "only %d cases in %s", cases, DIR "cases.txt");
    printf("%d cases against PyTorch: worst |diff| %.2g, worst |diff|/max(1,|ref|) %.2g (%s)\n", cases, total.abs,
           total.scaled, total.where);
    const char *save = getenv("NB_RNN_TORCH_SAVE");
    if (save && *save) save_for_torch(save);
    return test_end("test_rnn_torch");
}
