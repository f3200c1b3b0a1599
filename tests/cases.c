/* The op cases: at least one per op of the table (test_gradcheck fails for an op without). */
#include "cases.h"

#define S(...) {__VA_ARGS__}
#define IN(nd, kind, ...) {nd, {__VA_ARGS__}, kind, 0}
#define IDX(nd, range, ...) {nd, {__VA_ARGS__}, IN_INDEX, range}
#define NONE {0, {0}, IN_NONE, 0}

nb_tensor *case_make_input(const in_spec *s) {
    if (s->kind == IN_NONE) return NULL;
    if (s->kind == IN_INDEX) {
        nb_tensor *t = nb_index_new(s->ndim, s->shape);
        for (int64_t i = 0; i < nb_tensor_numel(t); i++) nb_tensor_idata(t)[i] = (i * 7 + 3) % s->range;
        return t;
    }
    nb_tensor *t = nb_tensor_new(s->ndim, s->shape);
    float *d = nb_tensor_data(t);
    int64_t n = nb_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        float u = nb_rng_uniform();
        switch (s->kind) {
        case IN_POS: d[i] = 0.5f + 1.5f * u; break;
        case IN_AWAY: d[i] = (u < 0.5f ? -1.0f : 1.0f) * (0.2f + 0.8f * nb_rng_uniform()); break;
        case IN_PROB: d[i] = 0.1f + 0.8f * u; break;
        case IN_DISTINCT: d[i] = 0.1f * (float)i - 0.05f * (float)n; break;
        default: d[i] = 2.0f * u - 1.0f; break;
        }
    }
    if (s->kind == IN_DISTINCT) /* Fisher-Yates with the library RNG */
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)(nb_rng_next() % (uint64_t)(i + 1));
            float tmp = d[i];
            d[i] = d[j];
            d[j] = tmp;
        }
    nb_tensor_set_requires_grad(t, true);
    return t;
}

static nb_tensor *b_add(nb_tensor **x) { return nb_add(x[0], x[1]); }
static nb_tensor *b_sub(nb_tensor **x) { return nb_sub(x[0], x[1]); }
static nb_tensor *b_sub_t(nb_tensor **x) { return nb_sub(nb_transpose(x[0], 0, 1), x[1]); }
static nb_tensor *b_mul(nb_tensor **x) { return nb_mul(x[0], x[1]); }
static nb_tensor *b_div(nb_tensor **x) { return nb_div(x[0], x[1]); }
static nb_tensor *b_scale(nb_tensor **x) { return nb_scale(x[0], -1.5f); }
static nb_tensor *b_add_scalar(nb_tensor **x) { return nb_add_scalar(x[0], 0.75f); }
static nb_tensor *b_neg(nb_tensor **x) { return nb_neg(x[0]); }
static nb_tensor *b_exp(nb_tensor **x) { return nb_exp(x[0]); }
static nb_tensor *b_log(nb_tensor **x) { return nb_log(x[0]); }
static nb_tensor *b_sqrt(nb_tensor **x) { return nb_sqrt(x[0]); }
static nb_tensor *b_pow(nb_tensor **x) { return nb_pow(x[0], 2.5f); }
static nb_tensor *b_abs(nb_tensor **x) { return nb_abs(x[0]); }
static nb_tensor *b_relu(nb_tensor **x) { return nb_relu(x[0]); }
static nb_tensor *b_leaky(nb_tensor **x) { return nb_leaky_relu(x[0], 0.1f); }
static nb_tensor *b_leaky02(nb_tensor **x) { return nb_leaky_relu(x[0], 0.2f); } /* DCGAN's */
static nb_tensor *b_sigmoid(nb_tensor **x) { return nb_sigmoid(x[0]); }
static nb_tensor *b_tanh(nb_tensor **x) { return nb_tanh(x[0]); }
static nb_tensor *b_gelu(nb_tensor **x) { return nb_gelu(x[0]); }
static nb_tensor *b_matmul(nb_tensor **x) { return nb_matmul(x[0], x[1]); }
static nb_tensor *b_matmul_tt(nb_tensor **x) {
    return nb_matmul(nb_transpose(x[0], 0, 1), nb_transpose(x[1], 0, 1));
}
static nb_tensor *b_linear(nb_tensor **x) { return nb_linear(x[0], x[1], x[2]); }
/* a transposed (non-contiguous) input, 3 axes folded into rows */
static nb_tensor *b_linear_view(nb_tensor **x) { return nb_linear(nb_transpose(x[0], 0, 1), x[1], x[2]); }
static nb_tensor *b_reshape(nb_tensor **x) { return nb_reshape(x[0], 2, (int64_t[]){4, -1}); }
static nb_tensor *b_reshape_t(nb_tensor **x) {
    return nb_reshape(nb_transpose(x[0], 0, 2), 2, (int64_t[]){-1, 6});
}
static nb_tensor *b_permute(nb_tensor **x) { return nb_permute(x[0], (int[]){2, 0, 1}); }
static nb_tensor *b_slice(nb_tensor **x) { return nb_slice(x[0], 1, 1, 5, 2); }
static nb_tensor *b_slice_neg(nb_tensor **x) { return nb_slice(x[0], -1, -3, 100, 1); }
static nb_tensor *b_broadcast(nb_tensor **x) { return nb_broadcast_to(x[0], 3, (int64_t[]){2, 3, 4}); }
static nb_tensor *b_contig(nb_tensor **x) { return nb_contiguous(nb_transpose(x[0], 0, 1)); }
static nb_tensor *b_concat(nb_tensor **x) { return nb_concat(x, 3, 1); }
static nb_tensor *b_sum_ax(nb_tensor **x) { return nb_sum(x[0], 1, true); }
static nb_tensor *b_sum_all(nb_tensor **x) { return nb_sum(x[0], NB_ALL_AXES, false); }
static nb_tensor *b_sum_view(nb_tensor **x) { return nb_sum_axes(nb_transpose(x[0], 0, 2), 2, (int[]){0, 2}, false); }
static nb_tensor *b_mean(nb_tensor **x) { return nb_mean_axes(x[0], 2, (int[]){0, -1}, false); }
static nb_tensor *b_max_ax(nb_tensor **x) { return nb_max(x[0], 1, false); }
static nb_tensor *b_max_all(nb_tensor **x) { return nb_max(x[0], NB_ALL_AXES, false); }
static nb_tensor *b_softmax(nb_tensor **x) { return nb_softmax(x[0], 1); }
static nb_tensor *b_log_softmax(nb_tensor **x) { return nb_log_softmax(x[0], -1); }
static nb_tensor *b_conv(nb_tensor **x) {
    nb_conv_opts o = {{2, 1}, {1, 1}, {1, 2}, 2, {0, 0}};
    return nb_conv2d(x[0], x[1], x[2], o);
}
static nb_tensor *b_conv_plain(nb_tensor **x) { return nb_conv2d(x[0], x[1], x[2], nb_conv_defaults()); }
static nb_tensor *b_convt(nb_tensor **x) {
    nb_conv_opts o = {{2, 2}, {1, 0}, {1, 1}, 2, {1, 0}};
    return nb_conv_transpose2d(x[0], x[1], x[2], o);
}
/* The transposed convolutions of the zoo's autoencoder and DCGAN (groups 1; the kernel size is
 * the weight's) */
static nb_tensor *convt(nb_tensor **x, int s, int p, int op) {
    nb_conv_opts o = nb_conv_defaults();
    o.stride[0] = o.stride[1] = s;
    o.padding[0] = o.padding[1] = p;
    o.output_padding[0] = o.output_padding[1] = op;
    return nb_conv_transpose2d(x[0], x[1], x[2], o);
}
static nb_tensor *b_convt_k4s2p1(nb_tensor **x) { return convt(x, 2, 1, 0); }    /* k 4: 3 -> 6 */
static nb_tensor *b_convt_k3s2p1op1(nb_tensor **x) { return convt(x, 2, 1, 1); } /* k 3: 3 -> 6 */
static nb_tensor *b_convt_k7_1x1(nb_tensor **x) { return convt(x, 1, 0, 0); }    /* k 7: 1 -> 7 */
static nb_tensor *b_maxpool(nb_tensor **x) { return nb_max_pool2d(x[0], 2, 2, 0); }
static nb_tensor *b_maxpool_pad(nb_tensor **x) { return nb_max_pool2d(x[0], 3, 2, 1); }
static nb_tensor *b_avgpool(nb_tensor **x) { return nb_avg_pool2d(x[0], 3, 2, 1); }
static nb_tensor *b_dropout(nb_tensor **x) {
    nb_seed(1234); /* the same mask on every call */
    return nb_dropout(x[0], 0.3f, true);
}
static nb_tensor *b_embedding(nb_tensor **x) { return nb_embedding(x[0], x[1]); }
/* Batch norm: running statistics are not case inputs (they get no gradient). They are reset to
 * fixed, exactly representable values before every call, so repeated builds (the gradient
 * check runs many) see the same state; gen_torch_fixtures.py (bn_running) builds the same. */
#define BN_C_MAX 8
static nb_tensor *bn_running(int which, int64_t C) {
    static nb_tensor *rs[2][BN_C_MAX + 1]; /* per statistic and channel count; live until exit */
    if (C < 1 || C > BN_C_MAX) return NULL;
    if (!rs[which][C]) rs[which][C] = nb_tensor_new(1, &C);
    float *d = nb_tensor_data(rs[which][C]);
    for (int64_t c = 0; c < C; c++)
        d[c] = which == 0 ? 0.125f * (float)(c % 5) - 0.25f : 0.5f + 0.25f * (float)(c % 4);
    return rs[which][C];
}
static nb_tensor *bn(nb_tensor *x, nb_tensor *g, nb_tensor *b, bool track, bool training) {
    int64_t C = nb_tensor_size(x, 1);
    nb_tensor *rm = track ? bn_running(0, C) : NULL, *rv = track ? bn_running(1, C) : NULL;
    return nb_batch_norm(x, g, b, rm, rv, training, 0.1f, 1e-5f);
}
static nb_tensor *b_bn_train(nb_tensor **x) { return bn(x[0], x[1], x[2], true, true); }
static nb_tensor *b_bn_train_plain(nb_tensor **x) { return bn(x[0], NULL, NULL, false, true); }
static nb_tensor *b_bn_train_gamma(nb_tensor **x) { return bn(x[0], x[1], NULL, true, true); }
static nb_tensor *b_bn_eval(nb_tensor **x) { return bn(x[0], x[1], x[2], true, false); }
static nb_tensor *b_bn_eval_plain(nb_tensor **x) { return bn(x[0], NULL, NULL, true, false); }
static nb_tensor *b_bn_eval_beta(nb_tensor **x) { return bn(x[0], NULL, x[1], true, false); }
/* DCGAN's first block: z (N, C, 1, 1) -> ConvTranspose2d(k 4, s 1, p 0, no bias) (N, O, 4, 4)
 * -> BatchNorm2d in training: the gradient of w flows back through the batch statistics. */
static nb_tensor *b_convt_bn_train(nb_tensor **x) {
    nb_tensor *y = nb_conv_transpose2d(x[0], x[1], NULL, nb_conv_defaults());
    return bn(y, x[2], x[3], true, true);
}

static nb_tensor *b_nll(nb_tensor **x) { return nb_nll_loss(x[0], x[1]); }
static nb_tensor *b_ce(nb_tensor **x) { return nb_cross_entropy(x[0], x[1]); }
static nb_tensor *b_mse(nb_tensor **x) { return nb_mse_loss(x[0], x[1]); }
static nb_tensor *b_bce(nb_tensor **x) { return nb_bce_loss(x[0], x[1]); }
static nb_tensor *b_bcel(nb_tensor **x) { return nb_bce_with_logits(x[0], x[1]); }

/* ---- composite cases: views composed with ops ---------------------------------------------
 * Each builds a small expression whose last op is the case's op; the gradient has to flow
 * back through strided, broadcast (stride 0) and permuted views, and to accumulate where one
 * input is read through several views. Mirrored by the same names in gen_torch_fixtures.py. */
/* (3,1,4) -> broadcast (2,3,5,4) -> permute (4,3,2,5) -> sum over axes 1 (an input axis)
 * and 2 (a broadcast one): (4,5) */
static nb_tensor *b_perm_bcast_sum(nb_tensor **x) {
    nb_tensor *b = nb_broadcast_to(x[0], 4, (int64_t[]){2, 3, 5, 4});
    return nb_sum_axes(nb_permute(b, (int[]){3, 1, 0, 2}), 2, (int[]){2, 1}, false);
}
/* (2,1,3) -> broadcast (2,4,3) -> permute (3,2,4), times (3,1,4): (3,2,4) */
static nb_tensor *b_perm_bcast_mul(nb_tensor **x) {
    nb_tensor *b = nb_broadcast_to(x[0], 3, (int64_t[]){2, 4, 3});
    return nb_mul(nb_permute(b, (int[]){2, 0, 1}), x[1]);
}
/* (4,9,3)[:, 1:9:2][:, -3::2][-4:-1:2] = rows 0, 2 and columns 3, 7: (2,2,3), times (2,1,3) */
static nb_tensor *b_slice_slice_mul(nb_tensor **x) {
    nb_tensor *s = nb_slice(x[0], 1, 1, 9, 2);
    s = nb_slice(s, -2, -3, 100, 2);
    return nb_mul(nb_slice(s, 0, -4, -1, 2), x[1]);
}
/* (5,4)[0:5:2] transposed (4,3) x (3,6)[:, 1:6] (3,5): both operands strided, (4,5) */
static nb_tensor *b_matmul_slice_t(nb_tensor **x) {
    nb_tensor *a = nb_transpose(nb_slice(x[0], 0, 0, 5, 2), 0, 1);
    return nb_matmul(a, nb_slice(x[1], 1, 1, 6, 1));
}
/* (3,2,4) permuted to (2,3,4) x (5,2,4) permuted to (2,4,5): batch axis not outermost, (2,3,5) */
static nb_tensor *b_matmul_batched_perm(nb_tensor **x) {
    return nb_matmul(nb_permute(x[0], (int[]){1, 0, 2}), nb_permute(x[1], (int[]){1, 2, 0}));
}
/* x (2,3,4) times its own transpose: the gradient of x accumulates from both operands */
static nb_tensor *b_matmul_x_xt(nb_tensor **x) { return nb_matmul(x[0], nb_transpose(x[0], 1, 2)); }
/* (2,3,4) -> permute (4,2,3) -> reshape (4,6) (through contiguous) -> softmax over axis 1 */
static nb_tensor *b_softmax_reshape_perm(nb_tensor **x) {
    nb_tensor *p = nb_permute(x[0], (int[]){2, 0, 1});
    return nb_softmax(nb_reshape(p, 2, (int64_t[]){4, 6}), 1);
}
/* (3,4,2) -> transpose (4,3,2) -> reshape (2,6,2) -> log_softmax over the middle axis */
static nb_tensor *b_log_softmax_reshaped(nb_tensor **x) {
    nb_tensor *t = nb_transpose(x[0], 0, 1);
    return nb_log_softmax(nb_reshape(t, 3, (int64_t[]){2, -1, 2}), 1);
}
/* concat on axis 1 of (4,5)[:, 1:5:2] (4,2) and (3,4) transposed (4,3), then mean over axis 0 */
static nb_tensor *b_concat_views_mean(nb_tensor **x) {
    nb_tensor *v[2] = {nb_slice(x[0], 1, 1, 5, 2), nb_transpose(x[1], 0, 1)};
    return nb_mean(nb_concat(v, 2, 1), 0, false);
}
/* x * x^T + broadcast of x's row 1: three views of one (4,4) input in one expression. The row
 * is built last, so its backward runs before mul's: a backward that assigns instead of
 * accumulating into x (directly or through the transpose) loses a contribution. */
static nb_tensor *b_views_twice(nb_tensor **x) {
    nb_tensor *m = nb_mul(x[0], nb_transpose(x[0], 0, 1));
    return nb_add(m, nb_broadcast_to(nb_slice(x[0], 0, 1, 2, 1), 2, (int64_t[]){4, 4}));
}
/* NHWC (2,5,5,3) permuted to NCHW (2,3,5,5), conv 3x3 padding 1 with w (4,3,3,3), b (4) */
static nb_tensor *b_conv_nhwc(nb_tensor **x) {
    nb_conv_opts o = nb_conv_defaults();
    o.padding[0] = o.padding[1] = 1;
    return nb_conv2d(nb_permute(x[0], (int[]){0, 3, 1, 2}), x[1], x[2], o);
}
/* (1,2,7,9)[:, :, -6:, ::2] (1,2,6,5) -> max pool 2x2 stride 2: (1,2,3,2) */
static nb_tensor *b_maxpool_slice(nb_tensor **x) {
    nb_tensor *s = nb_slice(nb_slice(x[0], 2, -6, 100, 1), -1, 0, 9, 2);
    return nb_max_pool2d(s, 2, 2, 0);
}
/* (3,1,4) * (1,5,1) -> (3,5,4), sum over axis 1 keepdim (3,1,4), divided by (1,1,4) */
static nb_tensor *b_bcast_sum_div(nb_tensor **x) {
    nb_tensor *s = nb_sum(nb_mul(x[0], x[1]), 1, true);
    return nb_div(s, x[2]);
}
/* p = (3,1,4) * (1,5,1); p / sum(p, axis 1, keepdim): a cancels, so its gradient sums to 0 */
static nb_tensor *b_bcast_normalize(nb_tensor **x) {
    nb_tensor *p = nb_mul(x[0], x[1]);
    return nb_div(p, nb_sum(p, 1, true));
}

/* Recurrences: N 3, T 3, H 2, lengths {3, 1, 2} (gen_torch_fixtures.py uses the same). */
static nb_tensor *rnn_lengths(void) {
    static nb_tensor *l; /* lives until exit */
    if (!l) {
        l = nb_index_new(1, (int64_t[]){3});
        int64_t *d = nb_tensor_idata(l);
        d[0] = 3, d[1] = 1, d[2] = 2;
    }
    return l;
}
static nb_tensor *b_rnn_tanh(nb_tensor **x) { return nb_rnn_seq(x[0], x[1], NULL, x[2], x[3], rnn_lengths(), NB_CELL_TANH, false); }
static nb_tensor *b_rnn_tanh_rev(nb_tensor **x) { return nb_rnn_seq(x[0], x[1], NULL, x[2], x[3], rnn_lengths(), NB_CELL_TANH, true); }
static nb_tensor *b_rnn_relu(nb_tensor **x) { return nb_rnn_seq(x[0], x[1], NULL, x[2], x[3], NULL, NB_CELL_RELU, false); }
static nb_tensor *b_gru(nb_tensor **x) { return nb_rnn_seq(x[0], x[1], NULL, x[2], x[3], rnn_lengths(), NB_CELL_GRU, false); }
static nb_tensor *b_gru_rev(nb_tensor **x) { return nb_rnn_seq(x[0], x[1], NULL, x[2], x[3], rnn_lengths(), NB_CELL_GRU, true); }
static nb_tensor *b_lstm(nb_tensor **x) { return nb_lstm_seq(x[0], x[1], NULL, x[2], x[3], x[4], rnn_lengths(), false); }
static nb_tensor *b_lstm_rev(nb_tensor **x) { return nb_lstm_seq(x[0], x[1], NULL, x[2], x[3], x[4], rnn_lengths(), true); }
/* b_ih given, b_hh NULL */
static nb_tensor *b_lstm_full(nb_tensor **x) { return nb_lstm_seq(x[0], x[1], x[2], NULL, x[3], x[4], NULL, false); }
static nb_tensor *b_gru_bih(nb_tensor **x) { return nb_rnn_seq(x[0], x[1], x[2], x[3], NULL, rnn_lengths(), NB_CELL_GRU, false); }

/* ---- transformer ops (issue 12) -------------------------------------------------------------
 * layer norm over the last axis (eps 1e-5); attention q (N, H, Tq, Dh), k and v (N, H, Tk, Dh),
 * key lengths {5, 1, 3} for N 3 and {4, 2} for N 2 (gen_torch_fixtures.py uses the same). */
static nb_tensor *b_layer_norm(nb_tensor **x) { return nb_layer_norm(x[0], x[1], x[2], 1e-5f); }
static nb_tensor *b_layer_norm_plain(nb_tensor **x) { return nb_layer_norm(x[0], NULL, NULL, 1e-5f); }
static nb_tensor *attn_lengths(int which) {
    static nb_tensor *l[2]; /* live until exit */
    static const int64_t v[2][3] = {{5, 1, 3}, {4, 2, 0}};
    if (!l[which]) {
        int64_t n = which == 0 ? 3 : 2;
        l[which] = nb_index_new(1, &n);
        for (int64_t i = 0; i < n; i++) nb_tensor_idata(l[which])[i] = v[which][i];
    }
    return l[which];
}
static nb_tensor *b_attn(nb_tensor **x) { return nb_attention(x[0], x[1], x[2], nb_attn_defaults()); }
static nb_tensor *b_attn_lengths(nb_tensor **x) {
    nb_attn_opts o = nb_attn_defaults();
    o.lengths = attn_lengths(0);
    return nb_attention(x[0], x[1], x[2], o);
}
static nb_tensor *b_attn_causal(nb_tensor **x) {
    nb_attn_opts o = nb_attn_defaults();
    o.causal = true;
    o.scale = 0.3f;
    return nb_attention(x[0], x[1], x[2], o);
}
static nb_tensor *b_attn_causal_lengths(nb_tensor **x) {
    nb_attn_opts o = nb_attn_defaults();
    o.causal = true;
    o.lengths = attn_lengths(1);
    return nb_attention(x[0], x[1], x[2], o);
}

#define H 1e-2f
#define TOL 2e-3f, 1e-2f

const op_case nb_test_cases[] = {
    {NB_OP_ADD, "add_broadcast", 2, {IN(3, IN_RAND, 2, 3, 4), IN(2, IN_RAND, 3, 1)}, b_add, H, TOL},
    {NB_OP_SUB, "sub", 2, {IN(2, IN_RAND, 3, 4), IN(2, IN_RAND, 3, 4)}, b_sub, H, TOL},
    {NB_OP_SUB, "sub_view", 2, {IN(2, IN_RAND, 4, 3), IN(1, IN_RAND, 4)}, b_sub_t, H, TOL},
    {NB_OP_MUL, "mul_broadcast", 2, {IN(3, IN_RAND, 2, 1, 4), IN(2, IN_RAND, 3, 4)}, b_mul, H, TOL},
    {NB_OP_DIV, "div", 2, {IN(2, IN_RAND, 3, 4), IN(1, IN_POS, 4)}, b_div, H, TOL},
    {NB_OP_SCALE, "scale", 1, {IN(2, IN_RAND, 3, 4)}, b_scale, H, TOL},
    {NB_OP_ADD_SCALAR, "add_scalar", 1, {IN(2, IN_RAND, 3, 4)}, b_add_scalar, H, TOL},
    {NB_OP_NEG, "neg", 1, {IN(2, IN_RAND, 3, 4)}, b_neg, H, TOL},
    {NB_OP_EXP, "exp", 1, {IN(2, IN_RAND, 3, 4)}, b_exp, H, TOL},
    {NB_OP_LOG, "log", 1, {IN(2, IN_POS, 3, 4)}, b_log, H, TOL},
    {NB_OP_SQRT, "sqrt", 1, {IN(2, IN_POS, 3, 4)}, b_sqrt, H, TOL},
    {NB_OP_POW, "pow", 1, {IN(2, IN_POS, 3, 4)}, b_pow, H, TOL},
    {NB_OP_ABS, "abs", 1, {IN(2, IN_AWAY, 3, 4)}, b_abs, H, TOL},
    {NB_OP_RELU, "relu", 1, {IN(2, IN_AWAY, 3, 4)}, b_relu, H, TOL},
    {NB_OP_LEAKY_RELU, "leaky_relu", 1, {IN(2, IN_AWAY, 3, 4)}, b_leaky, H, TOL},
    {NB_OP_LEAKY_RELU, "leaky_relu_02", 1, {IN(2, IN_AWAY, 3, 4)}, b_leaky02, H, TOL},
    {NB_OP_SIGMOID, "sigmoid", 1, {IN(2, IN_RAND, 3, 4)}, b_sigmoid, H, TOL},
    {NB_OP_TANH, "tanh", 1, {IN(2, IN_RAND, 3, 4)}, b_tanh, H, TOL},
    {NB_OP_GELU, "gelu", 1, {IN(2, IN_RAND, 3, 4)}, b_gelu, H, TOL},
    {NB_OP_MATMUL, "matmul", 2, {IN(2, IN_RAND, 3, 4), IN(2, IN_RAND, 4, 5)}, b_matmul, H, TOL},
    {NB_OP_MATMUL, "matmul_batched", 2, {IN(3, IN_RAND, 2, 3, 4), IN(3, IN_RAND, 2, 4, 5)}, b_matmul, H, TOL},
    {NB_OP_MATMUL, "matmul_shared", 2, {IN(3, IN_RAND, 2, 3, 4), IN(2, IN_RAND, 4, 5)}, b_matmul, H, TOL},
    {NB_OP_MATMUL, "matmul_transposed", 2, {IN(2, IN_RAND, 4, 3), IN(2, IN_RAND, 5, 4)}, b_matmul_tt, H, TOL},
    {NB_OP_LINEAR, "linear", 3, {IN(2, IN_RAND, 3, 4), IN(2, IN_RAND, 5, 4), IN(1, IN_RAND, 5)}, b_linear, H, TOL},
    {NB_OP_LINEAR, "linear_view_nobias", 3, {IN(3, IN_RAND, 3, 2, 4), IN(2, IN_RAND, 5, 4), NONE}, b_linear_view, H, TOL},
    {NB_OP_RESHAPE, "reshape", 1, {IN(3, IN_RAND, 2, 3, 4)}, b_reshape, H, TOL},
    {NB_OP_RESHAPE, "reshape_view", 1, {IN(3, IN_RAND, 2, 3, 4)}, b_reshape_t, H, TOL},
    {NB_OP_PERMUTE, "permute", 1, {IN(3, IN_RAND, 2, 3, 4)}, b_permute, H, TOL},
    {NB_OP_SLICE, "slice_step", 1, {IN(3, IN_RAND, 2, 5, 3)}, b_slice, H, TOL},
    {NB_OP_SLICE, "slice_negative", 1, {IN(2, IN_RAND, 3, 5)}, b_slice_neg, H, TOL},
    {NB_OP_BROADCAST_TO, "broadcast_to", 1, {IN(2, IN_RAND, 3, 1)}, b_broadcast, H, TOL},
    {NB_OP_CONTIGUOUS, "contiguous", 1, {IN(3, IN_RAND, 3, 2, 4)}, b_contig, H, TOL},
    {NB_OP_CONCAT, "concat", 3, {IN(3, IN_RAND, 2, 1, 3), IN(3, IN_RAND, 2, 3, 3), IN(3, IN_RAND, 2, 2, 3)}, b_concat, H, TOL},
    {NB_OP_SUM, "sum_axis_keepdim", 1, {IN(3, IN_RAND, 2, 3, 4)}, b_sum_ax, H, TOL},
    {NB_OP_SUM, "sum_all", 1, {IN(3, IN_RAND, 2, 3, 4)}, b_sum_all, H, TOL},
    {NB_OP_SUM, "sum_view", 1, {IN(3, IN_RAND, 2, 3, 4)}, b_sum_view, H, TOL},
    {NB_OP_MEAN, "mean_axes", 1, {IN(3, IN_RAND, 2, 3, 4)}, b_mean, H, TOL},
    {NB_OP_MAX, "max_axis", 1, {IN(3, IN_DISTINCT, 2, 3, 4)}, b_max_ax, H, TOL},
    {NB_OP_MAX, "max_all", 1, {IN(2, IN_DISTINCT, 3, 4)}, b_max_all, H, TOL},
    {NB_OP_SOFTMAX, "softmax", 1, {IN(3, IN_RAND, 2, 3, 4)}, b_softmax, H, TOL},
    {NB_OP_LOG_SOFTMAX, "log_softmax", 1, {IN(2, IN_RAND, 3, 5)}, b_log_softmax, H, TOL},
    {NB_OP_CONV2D, "conv2d_groups", 3, {IN(4, IN_RAND, 2, 4, 7, 6), IN(4, IN_RAND, 6, 2, 3, 2), IN(1, IN_RAND, 6)}, b_conv, H, TOL},
    {NB_OP_CONV2D, "conv2d_nobias", 3, {IN(4, IN_RAND, 2, 3, 5, 5), IN(4, IN_RAND, 4, 3, 3, 3), NONE}, b_conv_plain, H, TOL},
    {NB_OP_CONV_TRANSPOSE2D, "conv_transpose2d", 3, {IN(4, IN_RAND, 2, 4, 3, 3), IN(4, IN_RAND, 4, 3, 3, 2), IN(1, IN_RAND, 6)}, b_convt, H, TOL},
    /* the zoo's autoencoder and DCGAN: k4 s2 p1 (14 -> 28), k3 s2 p1 op1 (7 -> 14), k7 from 1x1 */
    {NB_OP_CONV_TRANSPOSE2D, "convt2d_k4s2p1", 3, {IN(4, IN_RAND, 2, 3, 3, 3), IN(4, IN_RAND, 3, 2, 4, 4), NONE},
     b_convt_k4s2p1, H, TOL},
    {NB_OP_CONV_TRANSPOSE2D, "convt2d_k3s2p1_op1", 3,
     {IN(4, IN_RAND, 2, 3, 3, 3), IN(4, IN_RAND, 3, 2, 3, 3), IN(1, IN_RAND, 2)}, b_convt_k3s2p1op1, H, TOL},
    {NB_OP_CONV_TRANSPOSE2D, "convt2d_k7_from_1x1", 3, {IN(4, IN_RAND, 2, 4, 1, 1), IN(4, IN_RAND, 4, 3, 7, 7), NONE},
     b_convt_k7_1x1, H, TOL},
    {NB_OP_MAX_POOL2D, "max_pool2d", 1, {IN(4, IN_DISTINCT, 2, 2, 4, 6)}, b_maxpool, H, TOL},
    {NB_OP_MAX_POOL2D, "max_pool2d_pad", 1, {IN(4, IN_DISTINCT, 1, 2, 5, 5)}, b_maxpool_pad, H, TOL},
    {NB_OP_AVG_POOL2D, "avg_pool2d", 1, {IN(4, IN_RAND, 2, 2, 5, 5)}, b_avgpool, H, TOL},
    {NB_OP_DROPOUT, "dropout", 1, {IN(3, IN_RAND, 2, 3, 4)}, b_dropout, H, TOL},
    {NB_OP_BATCH_NORM, "bn_train_2d", 3, {IN(2, IN_RAND, 6, 3), IN(1, IN_RAND, 3), IN(1, IN_RAND, 3)}, b_bn_train, H, TOL},
    {NB_OP_BATCH_NORM, "bn_train_4d", 3, {IN(4, IN_RAND, 2, 3, 3, 2), IN(1, IN_RAND, 3), IN(1, IN_RAND, 3)}, b_bn_train, H, TOL},
    {NB_OP_BATCH_NORM, "bn_train_4d_noaffine", 1, {IN(4, IN_RAND, 3, 2, 2, 2)}, b_bn_train_plain, H, TOL},
    /* 5 values per channel, one with a small spread: a smaller step keeps the truncation error low */
    {NB_OP_BATCH_NORM, "bn_train_2d_gamma_only", 2, {IN(2, IN_RAND, 5, 4), IN(1, IN_RAND, 4)}, b_bn_train_gamma, 3e-3f, TOL},
    {NB_OP_BATCH_NORM, "bn_eval_4d", 3, {IN(4, IN_RAND, 2, 3, 2, 3), IN(1, IN_RAND, 3), IN(1, IN_RAND, 3)}, b_bn_eval, H, TOL},
    {NB_OP_BATCH_NORM, "bn_eval_2d_noaffine", 1, {IN(2, IN_RAND, 4, 5)}, b_bn_eval_plain, H, TOL},
    {NB_OP_BATCH_NORM, "bn_eval_4d_beta_only", 2, {IN(4, IN_RAND, 2, 2, 3, 2), IN(1, IN_RAND, 2)}, b_bn_eval_beta, H, TOL},
    /* a transposed convolution's output shape (7x7), 3 samples: 147 values per channel */
    {NB_OP_BATCH_NORM, "bn_train_4d_7x7", 3, {IN(4, IN_RAND, 3, 4, 7, 7), IN(1, IN_RAND, 4), IN(1, IN_RAND, 4)},
     b_bn_train, H, TOL},
    {NB_OP_EMBEDDING, "embedding", 2, {IN(2, IN_RAND, 5, 3), IDX(2, 5, 2, 3)}, b_embedding, H, TOL},
    {NB_OP_RNN_SEQ, "rnn_tanh", 4, {IN(3, IN_RAND, 3, 3, 2), IN(2, IN_RAND, 2, 2), IN(1, IN_RAND, 2), IN(2, IN_RAND, 3, 2)},
     b_rnn_tanh, H, TOL},
    {NB_OP_RNN_SEQ, "rnn_tanh_rev", 4, {IN(3, IN_RAND, 3, 3, 2), IN(2, IN_RAND, 2, 2), IN(1, IN_RAND, 2), IN(2, IN_RAND, 3, 2)},
     b_rnn_tanh_rev, H, TOL},
    {NB_OP_RNN_SEQ, "rnn_relu", 4, {IN(3, IN_AWAY, 3, 3, 2), IN(2, IN_RAND, 2, 2), IN(1, IN_RAND, 2), IN(2, IN_RAND, 3, 2)},
     b_rnn_relu, 1e-3f, TOL},
    {NB_OP_RNN_SEQ, "gru", 4, {IN(3, IN_RAND, 3, 3, 6), IN(2, IN_RAND, 6, 2), IN(1, IN_RAND, 6), IN(2, IN_RAND, 3, 2)},
     b_gru, H, TOL},
    {NB_OP_RNN_SEQ, "gru_rev", 4, {IN(3, IN_RAND, 3, 3, 6), IN(2, IN_RAND, 6, 2), IN(1, IN_RAND, 6), IN(2, IN_RAND, 3, 2)},
     b_gru_rev, H, TOL},
    {NB_OP_RNN_SEQ, "gru_bih", 4, {IN(3, IN_RAND, 3, 3, 6), IN(2, IN_RAND, 6, 2), IN(1, IN_RAND, 6), IN(1, IN_RAND, 6)},
     b_gru_bih, H, TOL},
    {NB_OP_LSTM_SEQ, "lstm", 5, {IN(3, IN_RAND, 3, 3, 8), IN(2, IN_RAND, 8, 2), IN(1, IN_RAND, 8), IN(2, IN_RAND, 3, 2), IN(2, IN_RAND, 3, 2)},
     b_lstm, H, TOL},
    {NB_OP_LSTM_SEQ, "lstm_rev", 5, {IN(3, IN_RAND, 3, 3, 8), IN(2, IN_RAND, 8, 2), IN(1, IN_RAND, 8), IN(2, IN_RAND, 3, 2), IN(2, IN_RAND, 3, 2)},
     b_lstm_rev, H, TOL},
    {NB_OP_LSTM_SEQ, "lstm_full", 5, {IN(3, IN_RAND, 3, 4, 8), IN(2, IN_RAND, 8, 2), IN(1, IN_RAND, 8), IN(2, IN_RAND, 3, 2), IN(2, IN_RAND, 3, 2)},
     b_lstm_full, H, TOL},
    {NB_OP_NLL_LOSS, "nll_loss", 2, {IN(2, IN_RAND, 4, 5), IDX(1, 5, 4)}, b_nll, H, TOL},
    {NB_OP_CROSS_ENTROPY, "cross_entropy", 2, {IN(2, IN_RAND, 4, 5), IDX(1, 5, 4)}, b_ce, H, TOL},
    {NB_OP_MSE_LOSS, "mse_loss", 2, {IN(2, IN_RAND, 3, 4), IN(2, IN_RAND, 3, 4)}, b_mse, H, TOL},
    {NB_OP_BCE_LOSS, "bce_loss", 2, {IN(2, IN_PROB, 3, 4), IN(2, IN_PROB, 3, 4)}, b_bce, 1e-3f, TOL},
    {NB_OP_BCE_WITH_LOGITS, "bce_with_logits", 2, {IN(2, IN_RAND, 3, 4), IN(2, IN_PROB, 3, 4)}, b_bcel, H, TOL},
    /* composite cases (see above): op is the last op of the expression */
    {NB_OP_SUM, "perm_bcast_sum", 1, {IN(3, IN_RAND, 3, 1, 4)}, b_perm_bcast_sum, H, TOL},
    {NB_OP_MUL, "perm_bcast_mul", 2, {IN(3, IN_RAND, 2, 1, 3), IN(3, IN_RAND, 3, 1, 4)},
     b_perm_bcast_mul, H, TOL},
    {NB_OP_MUL, "slice_slice_mul", 2, {IN(3, IN_RAND, 4, 9, 3), IN(3, IN_RAND, 2, 1, 3)},
     b_slice_slice_mul, H, TOL},
    {NB_OP_MATMUL, "matmul_slice_t", 2, {IN(2, IN_RAND, 5, 4), IN(2, IN_RAND, 3, 6)},
     b_matmul_slice_t, H, TOL},
    {NB_OP_MATMUL, "matmul_batched_perm", 2, {IN(3, IN_RAND, 3, 2, 4), IN(3, IN_RAND, 5, 2, 4)},
     b_matmul_batched_perm, H, TOL},
    {NB_OP_MATMUL, "matmul_x_xt", 1, {IN(3, IN_RAND, 2, 3, 4)}, b_matmul_x_xt, H, TOL},
    {NB_OP_SOFTMAX, "softmax_reshape_perm", 1, {IN(3, IN_RAND, 2, 3, 4)},
     b_softmax_reshape_perm, H, TOL},
    {NB_OP_LOG_SOFTMAX, "log_softmax_reshaped", 1, {IN(3, IN_RAND, 3, 4, 2)},
     b_log_softmax_reshaped, H, TOL},
    {NB_OP_MEAN, "concat_views_mean", 2, {IN(2, IN_RAND, 4, 5), IN(2, IN_RAND, 3, 4)},
     b_concat_views_mean, H, TOL},
    {NB_OP_ADD, "views_twice", 1, {IN(2, IN_RAND, 4, 4)}, b_views_twice, H, TOL},
    {NB_OP_CONV2D, "conv2d_nhwc", 3, {IN(4, IN_RAND, 2, 5, 5, 3), IN(4, IN_RAND, 4, 3, 3, 3),
                                       IN(1, IN_RAND, 4)}, b_conv_nhwc, H, TOL},
    {NB_OP_MAX_POOL2D, "max_pool2d_slice", 1, {IN(4, IN_DISTINCT, 1, 2, 7, 9)},
     b_maxpool_slice, H, TOL},
    {NB_OP_DIV, "bcast_sum_div", 3, {IN(3, IN_RAND, 3, 1, 4), IN(3, IN_RAND, 1, 5, 1),
                                     IN(3, IN_POS, 1, 1, 4)}, b_bcast_sum_div, H, TOL},
    {NB_OP_DIV, "bcast_normalize", 2, {IN(3, IN_AWAY, 3, 1, 4), IN(3, IN_POS, 1, 5, 1)},
     b_bcast_normalize, H, TOL},
    /* transformer ops (issue 12) */
    {NB_OP_LAYER_NORM, "layer_norm_2d", 3, {IN(2, IN_RAND, 4, 6), IN(1, IN_RAND, 6), IN(1, IN_RAND, 6)}, b_layer_norm, H, TOL},
    {NB_OP_LAYER_NORM, "layer_norm_3d", 3, {IN(3, IN_RAND, 2, 3, 5), IN(1, IN_RAND, 5), IN(1, IN_RAND, 5)}, b_layer_norm, H, TOL},
    {NB_OP_LAYER_NORM, "layer_norm_2d_noaffine", 1, {IN(2, IN_RAND, 3, 7)}, b_layer_norm_plain, H, TOL},
    {NB_OP_LAYER_NORM, "layer_norm_3d_noaffine", 1, {IN(3, IN_RAND, 2, 2, 6)}, b_layer_norm_plain, H, TOL},
    {NB_OP_ATTENTION, "attention", 3, {IN(4, IN_RAND, 2, 2, 3, 4), IN(4, IN_RAND, 2, 2, 5, 4), IN(4, IN_RAND, 2, 2, 5, 4)},
     b_attn, H, TOL},
    {NB_OP_ATTENTION, "attention_lengths", 3, {IN(4, IN_RAND, 3, 2, 3, 4), IN(4, IN_RAND, 3, 2, 5, 4), IN(4, IN_RAND, 3, 2, 5, 4)},
     b_attn_lengths, H, TOL},
    {NB_OP_ATTENTION, "attention_causal", 3, {IN(4, IN_RAND, 2, 2, 4, 3), IN(4, IN_RAND, 2, 2, 4, 3), IN(4, IN_RAND, 2, 2, 4, 3)},
     b_attn_causal, H, TOL},
    {NB_OP_ATTENTION, "attention_causal_lengths", 3, {IN(4, IN_RAND, 2, 1, 4, 3), IN(4, IN_RAND, 2, 1, 4, 3), IN(4, IN_RAND, 2, 1, 4, 3)},
     b_attn_causal_lengths, H, TOL},
    {NB_OP_BATCH_NORM, "convt_bn_train", 4, {IN(4, IN_RAND, 3, 3, 1, 1), IN(4, IN_RAND, 3, 2, 4, 4), IN(1, IN_RAND, 2),
                                             IN(1, IN_RAND, 2)}, b_convt_bn_train, H, TOL},
};
const int nb_test_case_count = (int)(sizeof nb_test_cases / sizeof nb_test_cases[0]);
