/* Recurrent layers: the fused RNN/GRU/LSTM layers against the unfused composition of ops (the
 * reference), padding that changes nothing (a padded batch against the sequences one by one),
 * multi-layer and bidirectional shapes and names, truncated BPTT with stateful layers, the
 * embedding's padding row, sequence pooling, and a small training run. */
#include "check.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>

/* A heap tensor of uniform [-1, 1) values that gathers a gradient. */
static nb_tensor *rand_leaf(int ndim, const int64_t *shape) {
    nb_tensor *t = nb_tensor_new(ndim, shape);
    nb_tensor_fill_uniform(t, -1.0f, 1.0f);
    nb_tensor_set_requires_grad(t, true);
    return t;
}

/* sum(y * w) for fixed pseudo-random w (a scalar to backpropagate). */
static nb_tensor *weighted(nb_tensor *y) {
    if (!y) return NULL;
    nb_tensor *w = nb_step_tensor(nb_tensor_ndim(y), nb_tensor_shape(y), NULL);
    float *d = nb_tensor_data(w);
    for (int64_t i = 0; i < nb_tensor_numel(y); i++) d[i] = (float)((i * 37 % 17) - 8) / 8.0f;
    return nb_sum(nb_mul(y, w), NB_ALL_AXES, false);
}

static float max_abs_diff(const float *a, const float *b, int64_t n) {
    float m = 0;
    for (int64_t i = 0; i < n; i++) m = fmaxf(m, fabsf(a[i] - b[i]));
    return m;
}

static nb_tensor *cols(nb_tensor *g, int k, int64_t H) { return nb_slice(g, 1, k * H, (k + 1) * H, 1); }

/* The reference: one layer, one direction, composed of ops step by step (zero initial state). */
static nb_tensor *reference(nb_rnn_mode mode, nb_params *p, nb_tensor *x, int64_t H) {
    int64_t N = nb_tensor_size(x, 0), T = nb_tensor_size(x, 1), D = nb_tensor_size(x, 2);
    nb_tensor *wih = nb_params_find(p, "rnn.weight_ih_l0"), *whh = nb_params_find(p, "rnn.weight_hh_l0");
    nb_tensor *bih = nb_params_find(p, "rnn.bias_ih_l0"), *bhh = nb_params_find(p, "rnn.bias_hh_l0");
    nb_tensor *h = nb_step_tensor(2, (int64_t[]){N, H}, NULL), *c = nb_step_tensor(2, (int64_t[]){N, H}, NULL);
    nb_tensor *steps[16];
    for (int64_t t = 0; t < T; t++) {
        nb_tensor *xt = nb_reshape(nb_contiguous(nb_slice(x, 1, t, t + 1, 1)), 2, (int64_t[]){N, D});
        nb_tensor *gi = nb_add(nb_matmul(xt, nb_transpose(wih, 0, 1)), bih);
        nb_tensor *gh = nb_add(nb_matmul(h, nb_transpose(whh, 0, 1)), bhh);
        if (mode == NB_RNN_LSTM) {
            nb_tensor *g = nb_add(gi, gh);
            nb_tensor *i = nb_sigmoid(cols(g, 0, H)), *f = nb_sigmoid(cols(g, 1, H));
            nb_tensor *gg = nb_tanh(cols(g, 2, H)), *o = nb_sigmoid(cols(g, 3, H));
            c = nb_add(nb_mul(f, c), nb_mul(i, gg));
            h = nb_mul(o, nb_tanh(c));
        } else if (mode == NB_RNN_GRU) {
            nb_tensor *r = nb_sigmoid(nb_add(cols(gi, 0, H), cols(gh, 0, H)));
            nb_tensor *z = nb_sigmoid(nb_add(cols(gi, 1, H), cols(gh, 1, H)));
            nb_tensor *n = nb_tanh(nb_add(cols(gi, 2, H), nb_mul(r, cols(gh, 2, H))));
            h = nb_add(n, nb_mul(z, nb_sub(h, n)));
        } else if (mode == NB_RNN_RELU) {
            h = nb_relu(nb_add(gi, gh));
        } else {
            h = nb_tanh(nb_add(gi, gh));
        }
        steps[t] = nb_reshape(h, 3, (int64_t[]){N, 1, H});
    }
    return nb_concat(steps, (int)T, 1);
}

static nb_model *one_layer(nb_rnn_mode mode, int D, int H, nb_rnn_opts o) {
    nb_module *seq = nb_sequential_new();
    nb_sequential_add(seq, "rnn", nb_rnn_new(mode, D, H, o));
    return nb_model_new(seq, NB_INIT_DEFAULT);
}

/* Fused layer = unfused composition: outputs, the input's and every parameter's gradient. */
static void test_against_reference(void) {
    const char *names[] = {"tanh", "relu", "lstm", "gru"};
    for (int mode = NB_RNN_TANH; mode <= NB_RNN_GRU; mode++) {
        nb_seed(7);
        const int64_t N = 3, T = 5, D = 4, H = 6;
        nb_model *m = one_layer(mode, D, H, nb_rnn_defaults());
        nb_params *p = nb_model_params(m);
        nb_tensor *x = rand_leaf(3, (int64_t[]){N, T, D});
        int64_t np = nb_params_numel(p), nx = N * T * D, ny = N * T * H;
        float *g_fused = malloc((size_t)np * sizeof(float)), *gx = malloc((size_t)nx * sizeof(float));
        float *y_fused = malloc((size_t)ny * sizeof(float));

        nb_params_zero_grad(p);
        nb_tensor *y = nb_model_forward(m, x);
        CHECK(y && nb_tensor_ndim(y) == 3 && nb_tensor_size(y, 2) == H, "%s: output %s", names[mode],
              y ? NB_SHAPE_STR(y) : nb_last_error());
        if (!y) continue;
        memcpy(y_fused, nb_tensor_data(y), (size_t)ny * sizeof(float));
        CHECK(nb_backward(weighted(y)) == NB_OK, "%s: backward: %s", names[mode], nb_last_error());
        memcpy(g_fused, nb_params_grad(p), (size_t)np * sizeof(float));
        memcpy(gx, nb_tensor_grad(x), (size_t)nx * sizeof(float));
        nb_step_reset();

        nb_params_zero_grad(p);
        nb_tensor_zero_grad(x);
        nb_tensor *yr = reference(mode, p, x, H);
        CHECK(yr != NULL, "%s: reference: %s", names[mode], nb_last_error());
        if (!yr) continue;
        float dy = max_abs_diff(y_fused, nb_tensor_data(yr), ny);
        CHECK(nb_backward(weighted(yr)) == NB_OK, "%s: reference backward", names[mode]);
        float dg = max_abs_diff(g_fused, nb_params_grad(p), np), dx = max_abs_diff(gx, nb_tensor_grad(x), nx);
        CHECK(dy < 1e-5f && dg < 1e-4f && dx < 1e-5f, "%s: fused vs unfused: output %g, parameter grads %g, input grads %g",
              names[mode], dy, dg, dx);
        printf("%-5s fused vs unfused: output %.2g, parameter gradients %.2g, input gradients %.2g\n", names[mode], dy,
               dg, dx);
        nb_step_reset();
        free(g_fused), free(gx), free(y_fused);
        nb_tensor_free(x);
        nb_model_free(m);
    }
}

/* A padded batch gives what each sequence gives alone: outputs at real steps, final states, and
 * the gradients (the batch's = the sum of the single ones). 2 layers, bidirectional. */
static void test_padding_invariance(nb_rnn_mode mode) {
    nb_seed(3);
    const int64_t N = 3, T = 6, D = 3, H = 4, len[3] = {6, 2, 4};
    nb_rnn_opts o = nb_rnn_defaults();
    o.num_layers = 2, o.bidirectional = true;
    nb_model *m = one_layer(mode, D, H, o);
    nb_params *p = nb_model_params(m);
    int64_t np = nb_params_numel(p), F = 2 * H, LD = 4;
    nb_tensor *x = rand_leaf(3, (int64_t[]){N, T, D}); /* the padded steps hold junk: it must not matter */
    nb_tensor *lt = nb_index_new(1, (int64_t[]){N});
    memcpy(nb_tensor_idata(lt), len, sizeof len);
    float *gsum = calloc((size_t)np, sizeof(float)), *gbatch = malloc((size_t)np * sizeof(float));
    float *ybatch = malloc((size_t)(N * T * F) * sizeof(float)), *hbatch = malloc((size_t)(LD * N * H) * sizeof(float));
    float *gxb = malloc((size_t)(N * T * D) * sizeof(float));

    nb_params_zero_grad(p);
    nb_tensor *in[2] = {x, lt}, *out[NB_MODULE_MAX_IO];
    int k = 0;
    nb_status st = nb_model_forward_n(m, 2, in, &k, out);
    CHECK(st == NB_OK && k == (mode == NB_RNN_LSTM ? 3 : 2), "padding: forward: %s", nb_last_error());
    if (st) return;
    memcpy(ybatch, nb_tensor_data(out[0]), sizeof(float) * (size_t)(N * T * F));
    memcpy(hbatch, nb_tensor_data(out[1]), sizeof(float) * (size_t)(LD * N * H));
    nb_backward(nb_add(weighted(out[0]), weighted(out[1])));
    memcpy(gbatch, nb_params_grad(p), (size_t)np * sizeof(float));
    memcpy(gxb, nb_tensor_grad(x), sizeof(float) * (size_t)(N * T * D));
    nb_step_reset();
    float worst_y = 0, worst_h = 0, worst_gx = 0, pad_out = 0, pad_gx = 0;
    for (int64_t i = 0; i < N; i++) {
        for (int64_t t = len[i]; t < T; t++)
            for (int64_t f = 0; f < F; f++) pad_out = fmaxf(pad_out, fabsf(ybatch[(i * T + t) * F + f]));
        for (int64_t t = len[i]; t < T; t++)
            for (int64_t d = 0; d < D; d++) pad_gx = fmaxf(pad_gx, fabsf(gxb[(i * T + t) * D + d]));
        nb_params_zero_grad(p);
        nb_tensor *xi = rand_leaf(3, (int64_t[]){1, len[i], D});
        for (int64_t t = 0; t < len[i]; t++)
            memcpy(nb_tensor_data(xi) + t * D, nb_tensor_data(x) + (i * T + t) * D, (size_t)D * sizeof(float));
        nb_tensor *in1[1] = {xi};
        if (nb_model_forward_n(m, 1, in1, &k, out)) {
            CHECK(0, "padding: single forward: %s", nb_last_error());
            return;
        }
        /* the same weights of the loss as the batch's rows: weighted() indexes the batch layout */
        nb_tensor *wy = nb_step_tensor(3, (int64_t[]){1, len[i], F}, NULL), *wh = nb_step_tensor(3, (int64_t[]){LD, 1, H}, NULL);
        for (int64_t t = 0; t < len[i]; t++)
            for (int64_t f = 0; f < F; f++) {
                int64_t j = (i * T + t) * F + f;
                nb_tensor_data(wy)[t * F + f] = (float)((j * 37 % 17) - 8) / 8.0f;
                worst_y = fmaxf(worst_y, fabsf(nb_tensor_data(out[0])[t * F + f] - ybatch[j]));
            }
        for (int64_t l = 0; l < LD; l++)
            for (int64_t h = 0; h < H; h++) {
                int64_t j = (l * N + i) * H + h;
                nb_tensor_data(wh)[l * H + h] = (float)((j * 37 % 17) - 8) / 8.0f;
                worst_h = fmaxf(worst_h, fabsf(nb_tensor_data(out[1])[l * H + h] - hbatch[j]));
            }
        nb_backward(nb_add(nb_sum(nb_mul(out[0], wy), NB_ALL_AXES, false), nb_sum(nb_mul(out[1], wh), NB_ALL_AXES, false)));
        for (int64_t j = 0; j < np; j++) gsum[j] += nb_params_grad(p)[j];
        for (int64_t t = 0; t < len[i]; t++)
            for (int64_t d = 0; d < D; d++)
                worst_gx = fmaxf(worst_gx, fabsf(nb_tensor_grad(xi)[t * D + d] - gxb[(i * T + t) * D + d]));
        nb_step_reset();
        nb_tensor_free(xi);
    }
    float dg = max_abs_diff(gsum, gbatch, np);
    CHECK(worst_y < 1e-5f && worst_h < 1e-5f && dg < 1e-4f && worst_gx < 1e-5f && pad_out == 0 && pad_gx == 0,
          "padding (%d): outputs %g, h_n %g, parameter grads %g, input grads %g, padded outputs %g, padded input grads %g",
          (int)mode, worst_y, worst_h, dg, worst_gx, pad_out, pad_gx);
    printf("padding invariance mode %d (2 layers, bidirectional): outputs %.2g, h_n %.2g, parameter gradients %.2g\n",
           (int)mode, worst_y, worst_h, dg);
    free(gsum), free(gbatch), free(ybatch), free(hbatch), free(gxb);
    nb_tensor_free(x);
    nb_tensor_free(lt);
    nb_model_free(m);
}

/* PyTorch's names and shapes for a 2-layer bidirectional LSTM. */
static void test_names(void) {
    nb_rnn_opts o = nb_rnn_defaults();
    o.num_layers = 2, o.bidirectional = true;
    nb_model *m = one_layer(NB_RNN_LSTM, 5, 3, o);
    nb_params *p = nb_model_params(m);
    const char *want[] = {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                          "rnn.weight_ih_l0_reverse", "rnn.weight_hh_l0_reverse", "rnn.bias_ih_l0_reverse",
                          "rnn.bias_hh_l0_reverse", "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1",
                          "rnn.bias_hh_l1", "rnn.weight_ih_l1_reverse", "rnn.weight_hh_l1_reverse",
                          "rnn.bias_ih_l1_reverse", "rnn.bias_hh_l1_reverse"};
    CHECK(nb_params_count(p) == 16, "names: %d parameters", nb_params_count(p));
    for (int i = 0; i < 16 && i < nb_params_count(p); i++)
        CHECK(!strcmp(nb_params_name(p, i), want[i]), "names: %d is %s, expected %s", i, nb_params_name(p, i), want[i]);
    nb_tensor *w1 = nb_params_find(p, "rnn.weight_ih_l1");
    CHECK(w1 && nb_tensor_size(w1, 0) == 12 && nb_tensor_size(w1, 1) == 6, "names: weight_ih_l1 %s", w1 ? NB_SHAPE_STR(w1) : "missing");
    /* PyTorch's initialization: U(-1/sqrt(H), 1/sqrt(H)) */
    float lim = 1.0f / sqrtf(3.0f), mx = 0;
    for (int64_t i = 0; i < nb_params_numel(p); i++) mx = fmaxf(mx, fabsf(nb_params_data(p)[i]));
    CHECK(mx <= lim && mx > 0.8f * lim, "names: init max |w| %g, bound %g", mx, lim);
    char *sum = nb_model_summary(m, 2, (int64_t[]){4, 5});
    CHECK(sum && strstr(sum, "LSTM(5, 3, num_layers=2, batch_first=True, bidirectional=True)"), "summary:\n%s", sum ? sum : nb_last_error());
    free(sum);
    nb_model_free(m);
}

/* Truncated BPTT: a stateful layer run on two halves gives what it gives on the whole, and no
 * gradient reaches the first half from the second. */
static void test_stateful(void) {
    nb_seed(5);
    nb_rnn_opts o = nb_rnn_defaults();
    o.stateful = true, o.num_layers = 2;
    nb_model *m = one_layer(NB_RNN_LSTM, 3, 4, o);
    nb_tensor *x = rand_leaf(3, (int64_t[]){2, 6, 3});
    nb_tensor *whole = nb_model_forward(m, x);
    float ref[2 * 6 * 4];
    memcpy(ref, nb_tensor_data(whole), sizeof ref);
    nb_step_reset();
    nb_model_reset_states(m);
    float worst = 0;
    for (int half = 0; half < 2; half++) {
        nb_tensor *xh = nb_contiguous(nb_slice(x, 1, half * 3, half * 3 + 3, 1));
        nb_tensor *y = nb_model_forward(m, xh);
        for (int64_t i = 0; i < 2; i++)
            for (int64_t t = 0; t < 3; t++)
                for (int64_t h = 0; h < 4; h++)
                    worst = fmaxf(worst, fabsf(nb_tensor_data(y)[(i * 3 + t) * 4 + h] - ref[(i * 6 + half * 3 + t) * 4 + h]));
        if (half == 1) {
            nb_tensor_zero_grad(x);
            nb_backward(nb_sum(y, NB_ALL_AXES, false));
            float g0 = 0;
            for (int64_t i = 0; i < 2; i++)
                for (int64_t k = 0; k < 9; k++) g0 = fmaxf(g0, fabsf(nb_tensor_grad(x)[i * 18 + k]));
            CHECK(g0 == 0, "stateful: the first half got gradient %g from the second", g0);
        }
        nb_step_reset();
    }
    CHECK(worst < 1e-6f, "stateful: halves differ from the whole by %g", worst);
    /* after a reset the state starts from zeros again */
    nb_model_reset_states(m);
    nb_tensor *y1 = nb_model_forward(m, nb_contiguous(nb_slice(x, 1, 0, 3, 1)));
    CHECK(y1 && fabsf(nb_tensor_data(y1)[0] - ref[0]) < 1e-6f, "stateful: reset did not restart from zeros");
    nb_step_reset();
    nb_tensor_free(x);
    nb_model_free(m);
}

/* The padding row of an embedding starts at zero and gets no gradient. */
static void test_embedding(void) {
    nb_seed(1);
    nb_module *seq = nb_sequential_new();
    nb_sequential_add(seq, "emb", nb_embedding_new(5, 3, 0));
    nb_model *m = nb_model_new(seq, NB_INIT_DEFAULT);
    nb_params *p = nb_model_params(m);
    float *w = nb_params_data(p);
    CHECK(w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] != 0, "embedding: padding row not zero");
    nb_tensor *ids = nb_step_index(2, (int64_t[]){2, 3}, (int64_t[]){1, 0, 4, 0, 0, 2});
    nb_params_zero_grad(p);
    nb_backward(nb_sum(nb_model_forward(m, ids), NB_ALL_AXES, false));
    float *g = nb_params_grad(p);
    CHECK(g[0] == 0 && g[1] == 0 && g[3] == 1 && g[12] == 1 && g[6] == 1, "embedding: grads %g %g %g %g", g[0], g[3], g[6], g[12]);
    nb_step_reset();
    nb_tensor *bad = nb_step_tensor(2, (int64_t[]){2, 3}, NULL);
    CHECK(!nb_model_forward(m, bad) && strstr(nb_last_error(), "int64 token ids"), "embedding: float input: %s", nb_last_error());
    nb_step_reset();
    nb_clear_error();
    CHECK(!nb_embedding_new(5, 3, 5) && strstr(nb_last_error(), "padding_idx"), "embedding: bad padding_idx accepted");
    nb_model_free(m);
}

/* Pooling over the real steps: values and where the gradient goes. */
static void test_pool(void) {
    const int64_t N = 2, T = 3, F = 4;
    float yd[24];
    for (int i = 0; i < 24; i++) yd[i] = (float)i;
    nb_tensor *y = nb_tensor_from(3, (int64_t[]){N, T, F}, yd);
    nb_tensor_set_requires_grad(y, true);
    nb_tensor *len = nb_step_index(1, (int64_t[]){2}, (int64_t[]){3, 2});
    nb_tensor *last = nb_seq_pool_apply(y, len, NB_SEQ_LAST, 1);
    CHECK(last && nb_tensor_data(last)[0] == 8 && nb_tensor_data(last)[4] == 16, "pool last: %g %g",
          last ? nb_tensor_data(last)[0] : -1, last ? nb_tensor_data(last)[4] : -1);
    nb_tensor *bi = nb_seq_pool_apply(y, len, NB_SEQ_LAST, 2); /* forward half at len-1, backward half at 0 */
    CHECK(bi && nb_tensor_data(bi)[0] == 8 && nb_tensor_data(bi)[2] == 2 && nb_tensor_data(bi)[4] == 16 &&
              nb_tensor_data(bi)[6] == 14, "pool last bidirectional");
    nb_tensor *mean = nb_seq_pool_apply(y, len, NB_SEQ_MEAN, 1);
    CHECK(mean && nb_tensor_data(mean)[0] == 4 && nb_tensor_data(mean)[4] == 14, "pool mean: %g %g",
          mean ? nb_tensor_data(mean)[0] : -1, mean ? nb_tensor_data(mean)[4] : -1);
    nb_tensor *mx = nb_seq_pool_apply(y, len, NB_SEQ_MAX, 1);
    CHECK(mx && nb_tensor_data(mx)[0] == 8 && nb_tensor_data(mx)[4] == 16, "pool max");
    nb_backward(nb_sum(mean, NB_ALL_AXES, false));
    const float *g = nb_tensor_grad(y);
    CHECK(fabsf(g[0] - 1.0f / 3) < 1e-6f && g[12] == 0.5f && g[20] == 0, "pool mean grads %g %g %g", g[0], g[12], g[20]);
    nb_step_reset();
    nb_tensor *bad = nb_step_index(1, (int64_t[]){2}, (int64_t[]){4, 0});
    CHECK(!nb_seq_pool_apply(y, bad, NB_SEQ_LAST, 1) && strstr(nb_last_error(), "outside 1..3"), "pool: bad lengths: %s",
          nb_last_error());
    nb_step_reset();
    nb_tensor_free(y);
}

/* Bad input: clear errors. */
static void test_errors(void) {
    nb_model *m = one_layer(NB_RNN_GRU, 3, 4, nb_rnn_defaults());
    nb_tensor *x = nb_step_tensor(3, (int64_t[]){2, 4, 5}, NULL);
    CHECK(!nb_model_forward(m, x) && strstr(nb_last_error(), "must be float (N, T, 3)"), "errors: width: %s", nb_last_error());
    nb_clear_error();
    nb_tensor *x2 = nb_step_tensor(3, (int64_t[]){2, 4, 3}, NULL), *l = nb_step_index(1, (int64_t[]){2}, (int64_t[]){5, 1});
    nb_tensor *in[2] = {x2, l}, *out[NB_MODULE_MAX_IO];
    int k;
    CHECK(nb_model_forward_n(m, 2, in, &k, out) && strstr(nb_last_error(), "length 5, outside 1..4"), "errors: length: %s",
          nb_last_error());
    nb_step_reset();
    nb_clear_error();
    nb_rnn_opts o = nb_rnn_defaults();
    o.num_layers = 0;
    CHECK(!nb_rnn_new(NB_RNN_LSTM, 3, 4, o) && strstr(nb_last_error(), "layers"), "errors: 0 layers");
    nb_model_free(m);
}

int main(void) {
    nb_set_threads(2);
    test_against_reference();
    for (int mode = NB_RNN_TANH; mode <= NB_RNN_GRU; mode++) test_padding_invariance(mode);
    test_names();
    test_stateful();
    test_embedding();
    test_pool();
    test_errors();
    return test_end("test_rnn");
}
