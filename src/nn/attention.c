/* MultiheadAttention: self-attention as PyTorch's nn.MultiheadAttention(E, heads, dropout,
 * batch_first=True) with q = k = v = x. Parameters in_proj_weight (3E, E) (xavier_uniform) and
 * in_proj_bias (3E) (zeros), the child out_proj, a Linear(E, E) (default Linear weight, zero
 * bias), exactly PyTorch's _reset_parameters. forward_n: x (N, T, E) [, lengths int64 (N) in
 * 1..T: keys at t >= length are masked, PyTorch's key_padding_mask] -> (N, T, E). */
#include "nn/nn_impl.h"

#include <math.h>

/* ---- the attention layer ---------------------------------------------------------------------- */
typedef struct mha {
    int e, h;
    float dropout;
    bool causal;
    nb_tensor *w, *b; /* in_proj_weight (3E, E), in_proj_bias (3E) */
    nb_module *out;
} mha;

static nb_status mha_bind(nb_module *m, nb_init init) {
    mha *s = nb_module_state(m);
    s->w = nb_module_param(m, "in_proj_weight", 2, (int64_t[]){3 * (int64_t)s->e, s->e});
    s->b = s->w ? nb_module_param(m, "in_proj_bias", 1, (int64_t[]){3 * (int64_t)s->e}) : NULL;
    if (!s->b) return NB_ERR_MEM;
    /* PyTorch's _reset_parameters: xavier_uniform over the (3E, E) matrix, fans E and 3E */
    nb_init_weight(s->w, NULL, init == NB_INIT_DEFAULT ? NB_INIT_XAVIER_UNIFORM : init, s->e, 3.0 * s->e);
    nb_tensor_fill(s->b, 0);
    return NB_OK;
}

/* Checks lengths (int64 (N) in 1..T); the message names the module. */
static nb_status check_lengths(nb_module *m, const nb_tensor *len, int64_t N, int64_t T) {
    if (nb_tensor_dtype(len) != NB_I64 || nb_tensor_ndim(len) != 1 || nb_tensor_size(len, 0) != N)
        return nb__err(NB_ERR_SHAPE, "MultiheadAttention '%s': lengths %s must be int64 (%lld)", nb_module_path(m),
                       NB_SHAPE_STR(len), (long long)N);
    const int64_t *l = nb_tensor_idata((nb_tensor *)len);
    for (int64_t i = 0; i < N; i++)
        if (l[i] < 1 || l[i] > T)
            return nb__err(NB_ERR_ARG, "MultiheadAttention '%s': sample %lld has length %lld, outside 1..%lld",
                           nb_module_path(m), (long long)i, (long long)l[i], (long long)T);
    return NB_OK;
}

static nb_status mha_forward_n(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    mha *s = nb_module_state(m);
    nb_tensor *x = in[0], *len = n_in > 1 ? in[1] : NULL;
    if (n_in > 2)
        return nb__err(NB_ERR_ARG, "MultiheadAttention '%s': takes x and optionally the lengths, got %d inputs",
                       nb_module_path(m), n_in);
    if (nb_tensor_dtype(x) != NB_F32 || nb_tensor_ndim(x) != 3 || nb_tensor_size(x, 2) != s->e)
        return nb__err(NB_ERR_SHAPE, "MultiheadAttention(%d, heads=%d) '%s': input %s, expected float (N, T, %d)", s->e,
                       s->h, nb_module_path(m), NB_SHAPE_STR(x), s->e);
    int64_t N = nb_tensor_size(x, 0), T = nb_tensor_size(x, 1), E = s->e, H = s->h, Dh = E / H;
    if (len && check_lengths(m, len, N, T)) return NB_ERR_SHAPE;
    /* qkv (N, T, 3E) -> (N, T, 3, H, Dh) -> (3, N, H, T, Dh), a view; each of q, k and v is
     * then copied once, straight from the view (no contiguous copy of the whole). */
    nb_tensor *qkv = nb_linear(x, s->w, s->b);
    qkv = nb_permute(nb_reshape(qkv, 5, (int64_t[]){N, T, 3, H, Dh}), (int[]){2, 0, 3, 1, 4});
    nb_tensor *part[3];
    for (int i = 0; i < 3; i++)
        part[i] = nb_reshape(nb_contiguous(nb_slice(qkv, 0, i, i + 1, 1)), 4, (int64_t[]){N, H, T, Dh});
    nb_attn_opts o = {.lengths = len, .causal = s->causal, .scale = (float)(1.0 / sqrt((double)Dh)),
                      .dropout = s->dropout, .training = nb_module_training(m)};
    nb_tensor *a = nb_attention(part[0], part[1], part[2], o); /* (N, H, T, Dh) */
    a = nb_reshape(nb_contiguous(nb_permute(a, (int[]){0, 2, 1, 3})), 3, (int64_t[]){N, T, E});
    out[0] = a ? nb_module_forward(s->out, a) : NULL;
    *n_out = 1;
    return out[0] ? NB_OK : NB_ERR_SHAPE;
}

static void mha_describe(const nb_module *m, char *buf, size_t cap) {
    const mha *s = nb_module_state(m);
    snprintf(buf, cap, "MultiheadAttention(%d, heads=%d, dropout=%g%s)", s->e, s->h, (double)s->dropout,
             s->causal ? ", causal" : "");
}

static const nb_module_ops mha_ops = {
    .kind = "MultiheadAttention", .bind = mha_bind, .forward_n = mha_forward_n, .describe = mha_describe};

nb_module *nb_mha_new(int embed_dim, int num_heads, float dropout, bool causal) {
    if (embed_dim < 1 || num_heads < 1 || embed_dim % num_heads) {
        nb__err(NB_ERR_ARG, "nb_mha_new: embed_dim (%d) must be >= 1 and divisible by num_heads (%d)", embed_dim,
                num_heads);
        return NULL;
    }
    if (!(dropout >= 0 && dropout < 1)) {
        nb__err(NB_ERR_ARG, "nb_mha_new: dropout must be in [0, 1), got %g", (double)dropout);
        return NULL;
    }
    nb_module *m = nb__module_alloc(&mha_ops, sizeof(mha), "nb_mha_new");
    if (!m) return NULL;
    nb_module *op = nb_linear_new(embed_dim, embed_dim, true);
    if (op) nb__linear_zero_bias(op); /* PyTorch's out_proj: default weight, bias 0 */
    *(mha *)nb_module_state(m) = (mha){.e = embed_dim, .h = num_heads, .dropout = dropout, .causal = causal, .out = op};
    if (nb_module_add_child(m, "out_proj", op)) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}
