/* RNN, LSTM and GRU layers as PyTorch's nn.RNN / nn.LSTM / nn.GRU with batch_first=True.
 * Per layer and direction: the input projection of all steps as one GEMM (x W_ih^T), then the
 * fused recurrence (nb_rnn_seq / nb_lstm_seq), which adds both biases. Parameters per layer l and direction,
 * in PyTorch's state_dict order: weight_ih_l{l}[_reverse] (G*H, in), weight_hh_l{l} (G*H, H),
 * bias_ih_l{l}, bias_hh_l{l} (G*H). */
#include "nn/nn_impl.h"

#include <math.h>

#define RNN_MAX_LAYERS 16

typedef struct rnn_layer {
    nb_rnn_mode mode;
    int in, hid, dirs, G;
    nb_rnn_opts o;
    nb_tensor *w_ih[RNN_MAX_LAYERS][2], *w_hh[RNN_MAX_LAYERS][2], *b_ih[RNN_MAX_LAYERS][2], *b_hh[RNN_MAX_LAYERS][2];
    /* stateful: the final states of the last call, (L*dirs, carry_n, H) each */
    float *carry_h, *carry_c;
    int64_t carry_n;
} rnn_layer;

static const char *const g_kind[] = {"RNN", "RNN", "LSTM", "GRU"};

static nb_status rnn_bind(nb_module *m, nb_init init) {
    rnn_layer *s = nb_module_state(m);
    int64_t GH = (int64_t)s->G * s->hid;
    for (int l = 0; l < s->o.num_layers; l++)
        for (int d = 0; d < s->dirs; d++) {
            char name[48];
            const char *sfx = d ? "_reverse" : "";
            int64_t in = l == 0 ? s->in : (int64_t)s->hid * s->dirs;
            snprintf(name, sizeof name, "weight_ih_l%d%s", l, sfx);
            if (!(s->w_ih[l][d] = nb_module_param(m, name, 2, (int64_t[]){GH, in}))) return NB_ERR_MEM;
            snprintf(name, sizeof name, "weight_hh_l%d%s", l, sfx);
            if (!(s->w_hh[l][d] = nb_module_param(m, name, 2, (int64_t[]){GH, s->hid}))) return NB_ERR_MEM;
            if (s->o.bias) {
                snprintf(name, sizeof name, "bias_ih_l%d%s", l, sfx);
                if (!(s->b_ih[l][d] = nb_module_param(m, name, 1, (int64_t[]){GH}))) return NB_ERR_MEM;
                snprintf(name, sizeof name, "bias_hh_l%d%s", l, sfx);
                if (!(s->b_hh[l][d] = nb_module_param(m, name, 1, (int64_t[]){GH}))) return NB_ERR_MEM;
            }
            if (init == NB_INIT_DEFAULT) { /* PyTorch: every weight and bias U(-1/sqrt(H), 1/sqrt(H)) */
                float k = 1.0f / sqrtf((float)s->hid);
                nb_tensor *all[4] = {s->w_ih[l][d], s->w_hh[l][d], s->b_ih[l][d], s->b_hh[l][d]};
                for (int i = 0; i < 4; i++)
                    if (all[i]) nb_tensor_fill_uniform(all[i], -k, k);
            } else {
                nb_init_weight(s->w_ih[l][d], s->b_ih[l][d], init, (double)in, (double)GH);
                nb_init_weight(s->w_hh[l][d], s->b_hh[l][d], init, s->hid, (double)GH);
            }
        }
    s->carry_n = 0;
    return NB_OK;
}

/* Slice k of a (L*dirs, N, H) state tensor as (N, H). */
static nb_tensor *state_at(nb_tensor *s, int k, int64_t N, int64_t H) {
    return s ? nb_reshape(nb_slice(s, 0, k, k + 1, 1), 2, (int64_t[]){N, H}) : NULL;
}
/* Step t of a (N, T, H) sequence as (N, 1, H) -> (1, N, H). */
static nb_tensor *step_at(nb_tensor *y, int64_t t, int64_t N, int64_t H) {
    return nb_reshape(nb_contiguous(nb_slice(y, 1, t, t + 1, 1)), 3, (int64_t[]){1, N, H});
}

static nb_status parse_inputs(nb_module *m, const rnn_layer *s, int n_in, nb_tensor *const *in, nb_tensor **len,
                              nb_tensor **h0, nb_tensor **c0) {
    const char *path = nb_module_path(m), *kind = g_kind[s->mode];
    nb_tensor *x = in[0];
    *len = *h0 = *c0 = NULL;
    if (nb_tensor_dtype(x) != NB_F32 || nb_tensor_ndim(x) != 3 || nb_tensor_size(x, 2) != s->in)
        return nb__err(NB_ERR_SHAPE, "%s(%d, %d) '%s': input %s must be float (N, T, %d)%s", kind, s->in, s->hid,
                       path, NB_SHAPE_STR(x), s->in,
                       nb_tensor_dtype(x) == NB_I64 ? " (token ids go through an Embedding first)" : "");
    int64_t N = nb_tensor_size(x, 0), T = nb_tensor_size(x, 1), LD = (int64_t)s->o.num_layers * s->dirs;
    if (T < 1) return nb__err(NB_ERR_SHAPE, "%s '%s': input %s has no steps", kind, path, NB_SHAPE_STR(x));
    int i = 1;
    if (i < n_in && nb_tensor_dtype(in[i]) == NB_I64) {
        *len = in[i++];
        if (nb_tensor_ndim(*len) != 1 || nb_tensor_size(*len, 0) != N)
            return nb__err(NB_ERR_SHAPE, "%s '%s': lengths %s must be (%lld)", kind, path, NB_SHAPE_STR(*len),
                           (long long)N);
        const int64_t *l = nb_tensor_idata(*len);
        for (int64_t k = 0; k < N; k++)
            if (l[k] < 1 || l[k] > T)
                return nb__err(NB_ERR_ARG, "%s '%s': sample %lld has length %lld, outside 1..%lld", kind, path,
                               (long long)k, (long long)l[k], (long long)T);
    }
    nb_tensor **st[2] = {h0, c0};
    for (int k = 0; k < (s->mode == NB_RNN_LSTM ? 2 : 1) && i < n_in; k++, i++) {
        nb_tensor *t = in[i];
        if (nb_tensor_dtype(t) != NB_F32 || nb_tensor_ndim(t) != 3 || nb_tensor_size(t, 0) != LD ||
            nb_tensor_size(t, 1) != N || nb_tensor_size(t, 2) != s->hid)
            return nb__err(NB_ERR_SHAPE, "%s '%s': %s %s must be (%lld, %lld, %d)", kind, path, k ? "c0" : "h0",
                           NB_SHAPE_STR(t), (long long)LD, (long long)N, s->hid);
        *st[k] = t;
    }
    if (i < n_in)
        return nb__err(NB_ERR_ARG, "%s '%s': takes x, [lengths], [h0%s], got %d inputs", kind, path,
                       s->mode == NB_RNN_LSTM ? ", c0" : "", n_in);
    if (s->mode == NB_RNN_LSTM && *h0 && !*c0)
        return nb__err(NB_ERR_ARG, "%s '%s': h0 given without c0", kind, path);
    return NB_OK;
}

static nb_status rnn_forward_n(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    rnn_layer *s = nb_module_state(m);
    nb_tensor *len, *h0, *c0;
    nb_status st = parse_inputs(m, s, n_in, in, &len, &h0, &c0);
    if (st) return st;
    bool lstm = s->mode == NB_RNN_LSTM, training = nb_module_training(m);
    int64_t N = nb_tensor_size(in[0], 0), T = nb_tensor_size(in[0], 1), H = s->hid;
    int LD = s->o.num_layers * s->dirs;
    if (!h0 && s->o.stateful && s->carry_n == N && s->carry_h) { /* truncated BPTT: detached states */
        h0 = nb_step_tensor(3, (int64_t[]){LD, N, H}, s->carry_h);
        c0 = lstm ? nb_step_tensor(3, (int64_t[]){LD, N, H}, s->carry_c) : NULL;
        if (!h0 || (lstm && !c0)) return NB_ERR_MEM;
    }
    nb_cell cell = s->mode == NB_RNN_TANH ? NB_CELL_TANH : s->mode == NB_RNN_RELU ? NB_CELL_RELU : NB_CELL_GRU;
    nb_tensor *x = in[0], *hn[2 * RNN_MAX_LAYERS], *cn[2 * RNN_MAX_LAYERS];
    for (int l = 0; l < s->o.num_layers; l++) {
        nb_tensor *dir_out[2];
        for (int d = 0; d < s->dirs; d++) {
            int k = l * s->dirs + d;
            nb_tensor *xp = nb_matmul(x, nb_transpose(s->w_ih[l][d], 0, 1)); /* b_ih is added in the recurrence */
            nb_tensor *hs, *y;
            if (lstm) {
                y = nb_lstm_seq(xp, s->w_hh[l][d], s->b_ih[l][d], s->b_hh[l][d], state_at(h0, k, N, H),
                                state_at(c0, k, N, H), len, d == 1);
                hs = nb_reshape(nb_slice(y, 0, 0, 1, 1), 3, (int64_t[]){N, T, H});
                cn[k] = step_at(nb_reshape(nb_slice(y, 0, 1, 2, 1), 3, (int64_t[]){N, T, H}), d ? 0 : T - 1, N, H);
            } else {
                hs = y = nb_rnn_seq(xp, s->w_hh[l][d], s->b_ih[l][d], s->b_hh[l][d], state_at(h0, k, N, H), len, cell,
                                    d == 1);
            }
            if (!y) return NB_ERR_SHAPE;
            hn[k] = step_at(hs, d ? 0 : T - 1, N, H);
            dir_out[d] = hs;
        }
        x = s->dirs == 2 ? nb_concat(dir_out, 2, 2) : dir_out[0];
        if (l < s->o.num_layers - 1 && s->o.dropout > 0) x = nb_dropout(x, s->o.dropout, training);
    }
    /* Padded steps hold carried states inside the recurrence; the output is zero there. */
    bool padded = false;
    for (int64_t i = 0; len && i < N; i++) padded |= nb_tensor_idata(len)[i] < T;
    if (padded) {
        nb_tensor *mask = nb_step_tensor(3, (int64_t[]){N, T, 1}, NULL);
        if (!mask) return NB_ERR_MEM;
        float *md = nb_tensor_data(mask);
        for (int64_t i = 0; i < N; i++)
            for (int64_t t = 0; t < nb_tensor_idata(len)[i]; t++) md[i * T + t] = 1.0f;
        x = nb_mul(x, mask);
    }
    out[0] = x;
    out[1] = nb_concat(hn, LD, 0);
    *n_out = 2;
    if (lstm) out[(*n_out)++] = nb_concat(cn, LD, 0);
    for (int i = 0; i < *n_out; i++)
        if (!out[i]) return NB_ERR_SHAPE;
    if (s->o.stateful) {
        size_t bytes = (size_t)(LD * N * H) * sizeof(float);
        if (s->carry_n != N) {
            float *h = realloc(s->carry_h, bytes), *c = lstm ? realloc(s->carry_c, bytes) : NULL;
            if (h) s->carry_h = h;
            if (c) s->carry_c = c;
            if (!h || (lstm && !c)) {
                s->carry_n = 0;
                return nb__err(NB_ERR_MEM, "%s '%s': out of memory for the carried states", g_kind[s->mode],
                               nb_module_path(m));
            }
        }
        memcpy(s->carry_h, nb_tensor_data(out[1]), bytes);
        if (lstm) memcpy(s->carry_c, nb_tensor_data(out[2]), bytes);
        s->carry_n = N;
    }
    return NB_OK;
}

static void rnn_reset(nb_module *m) { ((rnn_layer *)nb_module_state(m))->carry_n = 0; }

static void rnn_free(void *state) {
    rnn_layer *s = state;
    if (!s) return;
    free(s->carry_h);
    free(s->carry_c);
    free(s);
}

static void rnn_describe(const nb_module *m, char *buf, size_t cap) {
    const rnn_layer *s = nb_module_state(m);
    int k = snprintf(buf, cap, "%s(%d, %d", g_kind[s->mode], s->in, s->hid);
    if (s->o.num_layers > 1 && k < (int)cap) k += snprintf(buf + k, cap - (size_t)k, ", num_layers=%d", s->o.num_layers);
    if (s->mode == NB_RNN_RELU && k < (int)cap) k += snprintf(buf + k, cap - (size_t)k, ", nonlinearity='relu'");
    if (!s->o.bias && k < (int)cap) k += snprintf(buf + k, cap - (size_t)k, ", bias=False");
    if (k < (int)cap) k += snprintf(buf + k, cap - (size_t)k, ", batch_first=True");
    if (s->o.dropout > 0 && k < (int)cap) k += snprintf(buf + k, cap - (size_t)k, ", dropout=%g", s->o.dropout);
    if (s->dirs == 2 && k < (int)cap) k += snprintf(buf + k, cap - (size_t)k, ", bidirectional=True");
    if (s->o.stateful && k < (int)cap) k += snprintf(buf + k, cap - (size_t)k, ", stateful");
    if (k < (int)cap) snprintf(buf + k, cap - (size_t)k, ")");
}

static const nb_module_ops rnn_ops = {.kind = "RNN",
                                      .bind = rnn_bind,
                                      .forward_n = rnn_forward_n,
                                      .describe = rnn_describe,
                                      .free_state = rnn_free,
                                      .reset_state = rnn_reset};

nb_rnn_opts nb_rnn_defaults(void) { return (nb_rnn_opts){.num_layers = 1, .bias = true}; }

nb_module *nb_rnn_new(nb_rnn_mode mode, int input_size, int hidden_size, nb_rnn_opts o) {
    if ((int)mode < NB_RNN_TANH || mode > NB_RNN_GRU || input_size < 1 || hidden_size < 1 || o.num_layers < 1 ||
        o.num_layers > RNN_MAX_LAYERS || !(o.dropout >= 0 && o.dropout < 1)) {
        nb__err(NB_ERR_ARG,
                "nb_rnn_new: needs a mode NB_RNN_*, sizes >= 1, 1..%d layers and dropout in [0, 1); got mode %d, %d -> %d, "
                "%d layers, dropout %g",
                RNN_MAX_LAYERS, (int)mode, input_size, hidden_size, o.num_layers, (double)o.dropout);
        return NULL;
    }
    nb_module *m = nb__module_alloc(&rnn_ops, sizeof(rnn_layer), "nb_rnn_new");
    if (!m) return NULL;
    rnn_layer *s = nb_module_state(m);
    s->mode = mode, s->in = input_size, s->hid = hidden_size, s->o = o;
    s->dirs = o.bidirectional ? 2 : 1;
    s->G = mode == NB_RNN_LSTM ? 4 : mode == NB_RNN_GRU ? 3 : 1;
    return m;
}

int nb__rnn_directions(const nb_module *m) {
    return nb_module_ops_of(m) == &rnn_ops ? ((const rnn_layer *)nb_module_state(m))->dirs : 1;
}
const char *nb__rnn_child_name(const nb_module *m) {
    if (nb_module_ops_of(m) != &rnn_ops) return "rnn";
    nb_rnn_mode mode = ((const rnn_layer *)nb_module_state(m))->mode;
    return mode == NB_RNN_LSTM ? "lstm" : mode == NB_RNN_GRU ? "gru" : "rnn";
}
