/* A token model: tokens (N, T) int64 [, lengths int64 (N) or NULL [, rows int64 (M)]] -> embed (Embedding(V, D),
 * padding_idx 0) -> + positions (pos) -> drop -> encoder (a TransformerEncoder, final norm when
 * pre-norm) -> head (Linear(D, out)) at every step -> logits (N, T, out). The embedding is NOT
 * scaled by sqrt(D) (BERT's choice; docs/transformer.md says why). With rows (flat indices
 * n*T + t), the head reads only those steps and the logits are (M, out): a masked LM scores a
 * few positions of each sentence, and its head over the vocabulary is most of the work. */
#include "nn/nn_impl.h"

typedef struct token_tf {
    int vocab, max_len, d, out;
    nb_module *embed, *pos, *drop, *encoder, *head;
} token_tf;

static nb_status token_forward_n(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    token_tf *s = nb_module_state(m);
    if (n_in > 3)
        return nb__err(NB_ERR_ARG, "TokenTransformer '%s': takes tokens, optionally the lengths and the rows to "
                       "score, got %d inputs", nb_module_path(m), n_in);
    nb_tensor *ids = in[0];
    if (nb_tensor_dtype(ids) != NB_I64 || nb_tensor_ndim(ids) != 2)
        return nb__err(NB_ERR_SHAPE, "TokenTransformer '%s': input %s must be int64 token ids (N, T)", nb_module_path(m),
                       NB_SHAPE_STR(ids));
    const int64_t *id = nb_tensor_idata(ids);
    for (int64_t i = 0; i < nb_tensor_numel(ids); i++)
        if (id[i] < 0 || id[i] >= s->vocab)
            return nb__err(NB_ERR_ARG, "TokenTransformer '%s': token %lld at flat index %lld is outside 0..%d",
                           nb_module_path(m), (long long)id[i], (long long)i, s->vocab - 1);
    nb_tensor *h = nb_module_forward(s->drop, nb_module_forward(s->pos, nb_module_forward(s->embed, ids)));
    if (!h) return NB_ERR_SHAPE;
    nb_tensor *ein[2] = {h, n_in > 1 ? in[1] : NULL}, *eout[NB_MODULE_MAX_IO];
    int k = 0;
    nb_status st = nb_module_forward_n(s->encoder, ein[1] ? 2 : 1, ein, &k, eout);
    if (st) return st;
    nb_tensor *hid = eout[0], *rows = n_in > 2 ? in[2] : NULL;
    if (rows) { /* only the asked steps reach the head */
        const int64_t NT = nb_tensor_size(hid, 0) * nb_tensor_size(hid, 1);
        if (nb_tensor_dtype(rows) != NB_I64 || nb_tensor_ndim(rows) != 1)
            return nb__err(NB_ERR_SHAPE, "TokenTransformer '%s': rows %s must be int64 (M)", nb_module_path(m),
                           NB_SHAPE_STR(rows));
        const int64_t *ri = nb_tensor_idata(rows);
        for (int64_t i = 0; i < nb_tensor_numel(rows); i++)
            if (ri[i] < 0 || ri[i] >= NT)
                return nb__err(NB_ERR_ARG, "TokenTransformer '%s': row %lld is outside 0..%lld", nb_module_path(m),
                               (long long)ri[i], (long long)NT - 1);
        hid = nb_embedding(nb_reshape(hid, 2, (int64_t[]){NT, s->d}), rows); /* (M, D), gradients flow back */
    }
    out[0] = hid ? nb_module_forward(s->head, hid) : NULL;
    *n_out = 1;
    return out[0] ? NB_OK : NB_ERR_SHAPE;
}

static void token_describe(const nb_module *m, char *buf, size_t cap) {
    const token_tf *s = nb_module_state(m);
    snprintf(buf, cap, "TokenTransformer(vocab=%d, max_len=%d, d=%d, out=%d)", s->vocab, s->max_len, s->d, s->out);
}

static const nb_module_ops token_ops = {
    .kind = "TokenTransformer", .forward_n = token_forward_n, .describe = token_describe};

nb_module *nb_token_transformer_new(int vocab, int max_len, int d_model, int nhead, int num_layers, int dim_ff,
                                    float dropout, nb_act act, nb_pos pos, bool norm_first, bool causal,
                                    int out_features) {
    if (vocab < 1 || out_features < 1) {
        nb__err(NB_ERR_ARG, "nb_token_transformer_new: needs vocab >= 1 and out_features >= 1, got %d, %d", vocab,
                out_features);
        return NULL;
    }
    /* each constructor checks its own arguments; the first failure's message is kept */
    nb_module *kids[5] = {NULL};
    kids[0] = nb_embedding_new(vocab, d_model, 0);
    kids[1] = kids[0] ? nb_positional_new(pos, max_len, d_model) : NULL;
    kids[2] = kids[1] ? nb_dropout_new(dropout) : NULL;
    kids[3] = kids[2] ? nb_transformer_encoder_new(num_layers, d_model, nhead, dim_ff, dropout, act, norm_first,
                                                   causal, norm_first)
                      : NULL;
    kids[4] = kids[3] ? nb_linear_new(d_model, out_features, true) : NULL;
    nb_module *m = kids[4] ? nb__module_alloc(&token_ops, sizeof(token_tf), "nb_token_transformer_new") : NULL;
    if (!m) {
        for (int i = 0; i < 5; i++) nb_module_free(kids[i]);
        return NULL;
    }
    *(token_tf *)nb_module_state(m) = (token_tf){.vocab = vocab, .max_len = max_len, .d = d_model, .out = out_features,
                                                 .embed = kids[0], .pos = kids[1], .drop = kids[2],
                                                 .encoder = kids[3], .head = kids[4]};
    static const char *const names[5] = {"embed", "pos", "drop", "encoder", "head"};
    nb_status st = NB_OK;
    for (int i = 0; i < 5; i++) {
        if (st) nb_module_free(kids[i]);
        else st = nb_module_add_child(m, names[i], kids[i]);
    }
    if (st) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}
