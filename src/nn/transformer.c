/* Transformer encoder layers and stacks, as PyTorch 1.13's nn.TransformerEncoderLayer(d_model,
 * nhead, dim_ff, dropout, activation, layer_norm_eps=1e-5, batch_first=True, norm_first) and
 * nn.TransformerEncoder(layer, num_layers, norm): the same children (self_attn, linear1,
 * dropout, linear2, norm1, norm2, dropout1, dropout2; layers.0 .. layers.L-1 and norm) so the
 * state_dicts match name for name, and the same data flow. forward_n: x (N, T, E) [, lengths
 * int64 (N)] -> (N, T, E). */
#include "nn/nn_impl.h"

/* ---- the encoder layer ------------------------------------------------------------------------ */
typedef struct tf_layer {
    int d, nhead, ff;
    float dropout;
    nb_act act;
    bool norm_first, causal;
    nb_module *attn, *linear1, *drop, *linear2, *norm1, *norm2, *drop1, *drop2;
} tf_layer;

/* self_attn then dropout1: PyTorch's _sa_block */
static nb_tensor *sa_block(tf_layer *s, nb_tensor *x, nb_tensor *len) {
    nb_tensor *in[2] = {x, len}, *out[NB_MODULE_MAX_IO];
    int k = 0;
    if (!x || nb_module_forward_n(s->attn, len ? 2 : 1, in, &k, out)) return NULL;
    return nb_module_forward(s->drop1, out[0]);
}

/* linear2(dropout(act(linear1(x)))) then dropout2: PyTorch's _ff_block */
static nb_tensor *ff_block(tf_layer *s, nb_tensor *x) {
    nb_tensor *h = nb_module_forward(s->linear1, x);
    h = s->act == NB_ACT_GELU ? nb_gelu(h) : nb_relu(h);
    return nb_module_forward(s->drop2, nb_module_forward(s->linear2, nb_module_forward(s->drop, h)));
}

static nb_status layer_forward_n(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    tf_layer *s = nb_module_state(m);
    if (n_in > 2)
        return nb__err(NB_ERR_ARG, "TransformerEncoderLayer '%s': takes x and optionally the lengths, got %d inputs",
                       nb_module_path(m), n_in);
    nb_tensor *x = in[0], *len = n_in > 1 ? in[1] : NULL;
    if (nb_tensor_dtype(x) != NB_F32 || nb_tensor_ndim(x) != 3 || nb_tensor_size(x, 2) != s->d)
        return nb__err(NB_ERR_SHAPE, "TransformerEncoderLayer(%d) '%s': input %s, expected float (N, T, %d)", s->d,
                       nb_module_path(m), NB_SHAPE_STR(x), s->d);
    if (s->norm_first) {
        x = nb_add(x, sa_block(s, nb_module_forward(s->norm1, x), len));
        x = x ? nb_add(x, ff_block(s, nb_module_forward(s->norm2, x))) : NULL;
    } else {
        x = nb_module_forward(s->norm1, nb_add(x, sa_block(s, x, len)));
        x = x ? nb_module_forward(s->norm2, nb_add(x, ff_block(s, x))) : NULL;
    }
    out[0] = x;
    *n_out = 1;
    return x ? NB_OK : NB_ERR_SHAPE;
}

static void layer_describe(const nb_module *m, char *buf, size_t cap) {
    const tf_layer *s = nb_module_state(m);
    snprintf(buf, cap, "TransformerEncoderLayer(%d, nhead=%d, ff=%d, dropout=%g, %s, %s%s)", s->d, s->nhead, s->ff,
             (double)s->dropout, s->act == NB_ACT_GELU ? "gelu" : "relu", s->norm_first ? "pre-norm" : "post-norm",
             s->causal ? ", causal" : "");
}

static const nb_module_ops layer_ops = {
    .kind = "TransformerEncoderLayer", .forward_n = layer_forward_n, .describe = layer_describe};

/* Adds the named children in order; on the first failure the rest are freed (the parent frees
 * those already added with itself). */
static nb_status add_children(nb_module *m, int n, const char *const *names, nb_module *const *kids) {
    nb_status st = NB_OK;
    for (int i = 0; i < n; i++) {
        if (st) nb_module_free(kids[i]);
        else st = nb_module_add_child(m, names[i], kids[i]);
    }
    return st;
}

nb_module *nb_transformer_layer_new(int d_model, int nhead, int dim_ff, float dropout, nb_act act, bool norm_first,
                                    bool causal) {
    if (d_model < 1 || nhead < 1 || dim_ff < 1 || d_model % nhead) {
        nb__err(NB_ERR_ARG,
                "nb_transformer_layer_new: needs d_model, nhead, dim_ff >= 1 with d_model divisible by nhead, got %d, "
                "%d, %d",
                d_model, nhead, dim_ff);
        return NULL;
    }
    if (act != NB_ACT_RELU && act != NB_ACT_GELU) {
        nb__err(NB_ERR_ARG, "nb_transformer_layer_new: activation must be NB_ACT_RELU or NB_ACT_GELU, got %d", (int)act);
        return NULL;
    }
    if (!(dropout >= 0 && dropout < 1)) {
        nb__err(NB_ERR_ARG, "nb_transformer_layer_new: dropout must be in [0, 1), got %g", (double)dropout);
        return NULL;
    }
    nb_module *m = nb__module_alloc(&layer_ops, sizeof(tf_layer), "nb_transformer_layer_new");
    tf_layer *s = nb_module_state(m);
    static const char *const names[8] = {"self_attn", "linear1", "dropout", "linear2",
                                         "norm1",     "norm2",   "dropout1", "dropout2"};
    nb_module *kids[8] = {nb_mha_new(d_model, nhead, dropout, causal), nb_linear_new(d_model, dim_ff, true),
                          nb_dropout_new(dropout),                     nb_linear_new(dim_ff, d_model, true),
                          nb_layernorm_new(d_model, 1e-5f),             nb_layernorm_new(d_model, 1e-5f),
                          nb_dropout_new(dropout),                     nb_dropout_new(dropout)};
    if (!m) {
        for (int i = 0; i < 8; i++) nb_module_free(kids[i]);
        return NULL;
    }
    *s = (tf_layer){.d = d_model, .nhead = nhead, .ff = dim_ff, .dropout = dropout, .act = act,
                    .norm_first = norm_first, .causal = causal, .attn = kids[0], .linear1 = kids[1], .drop = kids[2],
                    .linear2 = kids[3], .norm1 = kids[4], .norm2 = kids[5], .drop1 = kids[6], .drop2 = kids[7]};
    if (add_children(m, 8, names, kids)) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

/* ---- a list of modules (PyTorch's nn.ModuleList): names "0", "1", ...; its parent runs them --- */
static nb_status list_forward_n(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    (void)n_in, (void)in, (void)n_out, (void)out;
    return nb__err(NB_ERR_STATE, "ModuleList '%s' holds modules and is not run itself; its parent runs them",
                   nb_module_path(m));
}
static const nb_module_ops list_ops = {.kind = "ModuleList", .forward_n = list_forward_n};

/* ---- the encoder stack ------------------------------------------------------------------------ */
typedef struct tf_encoder {
    int n;
    nb_module *layers, *norm; /* norm may be NULL */
} tf_encoder;

static nb_status encoder_forward_n(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    tf_encoder *s = nb_module_state(m);
    if (n_in > 2)
        return nb__err(NB_ERR_ARG, "TransformerEncoder '%s': takes x and optionally the lengths, got %d inputs",
                       nb_module_path(m), n_in);
    nb_tensor *x = in[0], *lin[2] = {NULL, n_in > 1 ? in[1] : NULL}, *lout[NB_MODULE_MAX_IO];
    for (int i = 0; i < s->n; i++) {
        lin[0] = x;
        int k = 0;
        nb_status st = nb_module_forward_n(nb_module_child(s->layers, i), n_in, lin, &k, lout);
        if (st) return st;
        x = lout[0];
    }
    out[0] = s->norm ? nb_module_forward(s->norm, x) : x;
    *n_out = 1;
    return out[0] ? NB_OK : NB_ERR_SHAPE;
}

static void encoder_describe(const nb_module *m, char *buf, size_t cap) {
    const tf_encoder *s = nb_module_state(m);
    snprintf(buf, cap, "TransformerEncoder(%d layers%s)", s->n, s->norm ? ", final norm" : "");
}

static const nb_module_ops encoder_ops = {
    .kind = "TransformerEncoder", .forward_n = encoder_forward_n, .describe = encoder_describe};

nb_module *nb_transformer_encoder_new(int num_layers, int d_model, int nhead, int dim_ff, float dropout, nb_act act,
                                      bool norm_first, bool causal, bool final_norm) {
    if (num_layers < 1 || num_layers > 1000) {
        nb__err(NB_ERR_ARG, "nb_transformer_encoder_new: num_layers must be in 1..1000, got %d", num_layers);
        return NULL;
    }
    nb_module *probe = nb_transformer_layer_new(d_model, nhead, dim_ff, dropout, act, norm_first, causal);
    if (!probe) return NULL; /* the layer's message says which argument is wrong */
    nb_module *m = nb__module_alloc(&encoder_ops, sizeof(tf_encoder), "nb_transformer_encoder_new");
    nb_module *list = nb__module_alloc(&list_ops, 0, "nb_transformer_encoder_new");
    nb_module *norm = final_norm ? nb_layernorm_new(d_model, 1e-5f) : NULL;
    nb_status st = m && list && (norm || !final_norm) ? NB_OK : NB_ERR_MEM;
    for (int i = 0; i < num_layers && st == NB_OK; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        nb_module *layer = i == 0 ? probe : nb_transformer_layer_new(d_model, nhead, dim_ff, dropout, act, norm_first, causal);
        if (i == 0) probe = NULL;
        st = layer ? nb_module_add_child(list, name, layer) : NB_ERR_MEM;
    }
    if (st == NB_OK) {
        *(tf_encoder *)nb_module_state(m) = (tf_encoder){.n = num_layers, .layers = list, .norm = norm};
        st = nb_module_add_child(m, "layers", list);
        list = NULL;
        if (st == NB_OK && norm) st = nb_module_add_child(m, "norm", norm);
        norm = NULL;
    }
    if (st) {
        nb_module_free(probe);
        nb_module_free(list);
        nb_module_free(norm);
        nb_module_free(m);
        return NULL;
    }
    return m;
}
