/* The usual recurrent model, [embedding ->] rnn -> pooled over the real steps (or every step) ->
 * head, and the pooling it uses (nb_seq_pool_apply), composed of ops so gradients flow back. */
#include "nn/nn_impl.h"

/* mask (N, T, 1): 1 at real steps, 0 at padding. */
static nb_tensor *step_mask(const int64_t *len, int64_t N, int64_t T) {
    nb_tensor *mask = nb_step_tensor(3, (int64_t[]){N, T, 1}, NULL);
    if (!mask) return NULL;
    float *md = nb_tensor_data(mask);
    for (int64_t i = 0; i < N; i++)
        for (int64_t t = 0; t < len[i]; t++) md[i * T + t] = 1.0f;
    return mask;
}

nb_tensor *nb_seq_pool_apply(nb_tensor *y, nb_tensor *lengths, nb_seq_pool mode, int directions) {
    if (!y) {
        nb__err_null("nb_seq_pool_apply", "y");
        return NULL;
    }
    if (nb_tensor_ndim(y) != 3 || nb_tensor_dtype(y) != NB_F32 || (directions != 1 && directions != 2) ||
        nb_tensor_size(y, 2) % directions) {
        nb__err(NB_ERR_SHAPE, "nb_seq_pool_apply: y %s must be float (N, T, F) with F split in %d direction(s)",
                NB_SHAPE_STR(y), directions);
        return NULL;
    }
    int64_t N = nb_tensor_size(y, 0), T = nb_tensor_size(y, 1), F = nb_tensor_size(y, 2);
    nb_tensor *lt = lengths;
    if (!lt) {
        if (!(lt = nb_step_index(1, (int64_t[]){N}, NULL))) return NULL;
        for (int64_t i = 0; i < N; i++) nb_tensor_idata(lt)[i] = T;
    }
    if (nb_tensor_dtype(lt) != NB_I64 || nb_tensor_ndim(lt) != 1 || nb_tensor_size(lt, 0) != N) {
        nb__err(NB_ERR_SHAPE, "nb_seq_pool_apply: lengths %s must be int64 (%lld)", NB_SHAPE_STR(lt), (long long)N);
        return NULL;
    }
    const int64_t *len = nb_tensor_idata(lt);
    for (int64_t i = 0; i < N; i++)
        if (len[i] < 1 || len[i] > T) {
            nb__err(NB_ERR_ARG, "nb_seq_pool_apply: sample %lld has length %lld, outside 1..%lld", (long long)i,
                    (long long)len[i], (long long)T);
            return NULL;
        }
    switch (mode) {
    case NB_SEQ_NONE: return y;
    case NB_SEQ_LAST: {
        /* rows n*T + len-1 of y as (N*T, F): a gather that passes gradients back */
        nb_tensor *rows = nb_step_index(1, (int64_t[]){N}, NULL);
        if (!rows) return NULL;
        for (int64_t i = 0; i < N; i++) nb_tensor_idata(rows)[i] = i * T + len[i] - 1;
        nb_tensor *flat = nb_reshape(nb_contiguous(y), 2, (int64_t[]){N * T, F});
        nb_tensor *last = nb_embedding(flat, rows);
        if (directions == 1) return last;
        int64_t H = F / 2; /* the backward direction ends at step 0 */
        nb_tensor *parts[2] = {nb_slice(last, 1, 0, H, 1),
                               nb_reshape(nb_contiguous(nb_slice(nb_slice(y, 1, 0, 1, 1), 2, H, F, 1)), 2,
                                          (int64_t[]){N, H})};
        return nb_concat(parts, 2, 1);
    }
    case NB_SEQ_MEAN: {
        nb_tensor *mask = step_mask(len, N, T), *inv = nb_step_tensor(2, (int64_t[]){N, 1}, NULL);
        if (!mask || !inv) return NULL;
        for (int64_t i = 0; i < N; i++) nb_tensor_data(inv)[i] = 1.0f / (float)len[i];
        return nb_mul(nb_sum(nb_mul(y, mask), 1, false), inv);
    }
    case NB_SEQ_MAX: {
        /* padded steps pushed far below any value before the maximum */
        nb_tensor *mask = step_mask(len, N, T), *low = nb_step_tensor(3, (int64_t[]){N, T, 1}, NULL);
        if (!mask || !low) return NULL;
        for (int64_t i = 0; i < N * T; i++) nb_tensor_data(low)[i] = nb_tensor_data(mask)[i] > 0 ? 0.0f : -3e38f;
        return nb_max(nb_add(nb_mul(y, mask), low), 1, false);
    }
    }
    nb__err(NB_ERR_ARG, "nb_seq_pool_apply: unknown pooling %d", (int)mode);
    return NULL;
}

typedef struct recurrent {
    nb_module *embedding, *rnn, *head;
    nb_seq_pool pool;
} recurrent;

static nb_status recurrent_forward_n(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    recurrent *s = nb_module_state(m);
    nb_tensor *x = in[0], *len = NULL;
    if (n_in > 2 || (n_in == 2 && nb_tensor_dtype(in[1]) != NB_I64))
        return nb__err(NB_ERR_ARG, "Recurrent '%s': takes x and optionally the lengths (int64 (N)), got %d inputs",
                       nb_module_path(m), n_in);
    if (n_in == 2) len = in[1];
    if (s->embedding) {
        x = nb_module_forward(s->embedding, x);
    } else if (nb_tensor_dtype(x) == NB_F32 && nb_tensor_ndim(x) > 3) {
        /* an image (N, 1, H, W) read as H steps of W values */
        int64_t N = nb_tensor_size(x, 0), W = nb_tensor_size(x, -1);
        x = nb_reshape(nb_contiguous(x), 3, (int64_t[]){N, -1, W});
    }
    if (!x) return NB_ERR_SHAPE;
    nb_tensor *rin[2] = {x, len}, *rout[NB_MODULE_MAX_IO];
    int k = 0;
    nb_status st = nb_module_forward_n(s->rnn, len ? 2 : 1, rin, &k, rout);
    if (st) return st;
    nb_tensor *y = s->pool == NB_SEQ_NONE ? rout[0] : nb_seq_pool_apply(rout[0], len, s->pool, nb__rnn_directions(s->rnn));
    out[0] = y ? nb_module_forward(s->head, y) : NULL;
    *n_out = 1;
    return out[0] ? NB_OK : NB_ERR_SHAPE;
}

static void recurrent_describe(const nb_module *m, char *buf, size_t cap) {
    static const char *const names[] = {"every step", "last step", "mean", "max"};
    const recurrent *s = nb_module_state(m);
    snprintf(buf, cap, "Recurrent(pool=%s)", names[s->pool]);
}

static const nb_module_ops recurrent_ops = {
    .kind = "Recurrent", .forward_n = recurrent_forward_n, .describe = recurrent_describe};

nb_module *nb_recurrent_new(nb_module *embedding, nb_module *rnn, nb_seq_pool pool, nb_module *head) {
    if (!rnn || !head || (int)pool < NB_SEQ_NONE || pool > NB_SEQ_MAX) {
        nb__err(NB_ERR_ARG, "nb_recurrent_new: needs an rnn, a head and a pooling NB_SEQ_*");
        nb_module_free(embedding);
        nb_module_free(rnn);
        nb_module_free(head);
        return NULL;
    }
    nb_module *m = nb__module_alloc(&recurrent_ops, sizeof(recurrent), "nb_recurrent_new");
    if (!m) {
        nb_module_free(embedding);
        nb_module_free(rnn);
        nb_module_free(head);
        return NULL;
    }
    *(recurrent *)nb_module_state(m) = (recurrent){.embedding = embedding, .rnn = rnn, .head = head, .pool = pool};
    const char *rname = nb__rnn_child_name(rnn);
    nb_status st = embedding ? nb_module_add_child(m, "embedding", embedding) : NB_OK;
    if (st) {
        nb_module_free(rnn);
        nb_module_free(head);
    } else if ((st = nb_module_add_child(m, rname, rnn))) {
        nb_module_free(head);
    } else {
        st = nb_module_add_child(m, "fc", head);
    }
    if (st) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}
