/* Embedding: a lookup table weight (V, D); token ids of any shape -> (..., D). */
#include "nn/nn_impl.h"

typedef struct embedding {
    int v, d, padding_idx; /* -1: none */
    nb_tensor *w;
} embedding;

static nb_status embedding_bind(nb_module *m, nb_init init) {
    embedding *s = nb_module_state(m);
    if (!(s->w = nb_module_param(m, "weight", 2, (int64_t[]){s->v, s->d}))) return NB_ERR_MEM;
    /* PyTorch's nn.Embedding: N(0, 1), the padding row zero; the other schemes by fans. */
    if (init == NB_INIT_DEFAULT) nb_tensor_fill_normal(s->w, 0.0f, 1.0f);
    else nb_init_weight(s->w, NULL, init, s->d, s->v);
    if (s->padding_idx >= 0) memset(nb_tensor_data(s->w) + (int64_t)s->padding_idx * s->d, 0, (size_t)s->d * sizeof(float));
    return NB_OK;
}

static nb_tensor *embedding_forward(nb_module *m, nb_tensor *x) {
    embedding *s = nb_module_state(m);
    if (nb_tensor_dtype(x) != NB_I64) {
        nb__err(NB_ERR_DTYPE, "Embedding(%d, %d) '%s': input %s must be int64 token ids", s->v, s->d,
                nb_module_path(m), NB_SHAPE_STR(x));
        return NULL;
    }
    return nb_embedding_pad(s->w, x, s->padding_idx);
}

static void embedding_describe(const nb_module *m, char *buf, size_t cap) {
    const embedding *s = nb_module_state(m);
    if (s->padding_idx >= 0) snprintf(buf, cap, "Embedding(%d, %d, padding_idx=%d)", s->v, s->d, s->padding_idx);
    else snprintf(buf, cap, "Embedding(%d, %d)", s->v, s->d);
}

static const nb_module_ops embedding_ops = {
    .kind = "Embedding", .bind = embedding_bind, .forward = embedding_forward, .describe = embedding_describe};

nb_module *nb_embedding_new(int num_embeddings, int dim, int padding_idx) {
    if (num_embeddings < 1 || dim < 1 || padding_idx < -1 || padding_idx >= num_embeddings) {
        nb__err(NB_ERR_ARG, "nb_embedding_new: needs num_embeddings >= 1, dim >= 1 and padding_idx in -1..%d, got %d, %d, %d",
                num_embeddings - 1, num_embeddings, dim, padding_idx);
        return NULL;
    }
    nb_module *m = nb__module_alloc(&embedding_ops, sizeof(embedding), "nb_embedding_new");
    if (m) *(embedding *)nb_module_state(m) = (embedding){.v = num_embeddings, .d = dim, .padding_idx = padding_idx};
    return m;
}
