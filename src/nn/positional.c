/* Positions added to a sequence: x (N, T, D) -> x + P[:T] with P (max_len, D).
 * NB_POS_LEARNED: a parameter `weight` (max_len, D), N(0, 0.02) as BERT's (other init schemes by
 * fans D and max_len). NB_POS_SINUSOIDAL: no tensors; "Attention Is All You Need"'s
 * PE[p, 2i] = sin(p / 10000^(2i/D)), PE[p, 2i+1] = cos(p / 10000^(2i/D)), computed in float32
 * the way PyTorch's word_language_model example does (D even). */
#include "nn/nn_impl.h"

#include <math.h>

typedef struct positional {
    nb_pos kind;
    int max_len, d;
    nb_tensor *w;   /* learned */
    float *table;   /* sinusoidal: (max_len, D), malloc'd */
} positional;

static nb_status pos_bind(nb_module *m, nb_init init) {
    positional *s = nb_module_state(m);
    if (s->kind != NB_POS_LEARNED) return NB_OK;
    if (!(s->w = nb_module_param(m, "weight", 2, (int64_t[]){s->max_len, s->d}))) return NB_ERR_MEM;
    if (init == NB_INIT_DEFAULT || init == NB_INIT_NORMAL) nb_tensor_fill_normal(s->w, 0.0f, 0.02f);
    else nb_init_weight(s->w, NULL, init, s->d, s->max_len);
    return NB_OK;
}

static nb_tensor *pos_forward(nb_module *m, nb_tensor *x) {
    positional *s = nb_module_state(m);
    if (nb_tensor_dtype(x) != NB_F32 || nb_tensor_ndim(x) != 3 || nb_tensor_size(x, 2) != s->d) {
        nb__err(NB_ERR_SHAPE, "Positional(%d, %d) '%s': input %s, expected float (N, T, %d)", s->max_len, s->d,
                nb_module_path(m), NB_SHAPE_STR(x), s->d);
        return NULL;
    }
    int64_t T = nb_tensor_size(x, 1);
    if (T > s->max_len) {
        nb__err(NB_ERR_SHAPE, "Positional(%d, %d) '%s': input %s has %lld steps, more than max_len %d", s->max_len,
                s->d, nb_module_path(m), NB_SHAPE_STR(x), (long long)T, s->max_len);
        return NULL;
    }
    nb_tensor *p = s->kind == NB_POS_LEARNED ? nb_slice(s->w, 0, 0, T, 1)
                                             : nb_step_tensor(2, (int64_t[]){T, s->d}, s->table);
    return nb_add(x, p);
}

static void pos_describe(const nb_module *m, char *buf, size_t cap) {
    const positional *s = nb_module_state(m);
    snprintf(buf, cap, "%sPositions(%d, %d)", s->kind == NB_POS_LEARNED ? "Learned" : "Sinusoidal", s->max_len, s->d);
}

static void pos_free(void *state) {
    positional *s = state;
    if (s) free(s->table);
    free(s);
}

static const nb_module_ops pos_ops = {
    .kind = "Positional", .bind = pos_bind, .forward = pos_forward, .describe = pos_describe, .free_state = pos_free};

nb_module *nb_positional_new(nb_pos kind, int max_len, int dim) {
    if ((kind != NB_POS_LEARNED && kind != NB_POS_SINUSOIDAL) || max_len < 1 || dim < 1 ||
        (int64_t)max_len * dim > ((int64_t)1 << 31)) {
        nb__err(NB_ERR_ARG, "nb_positional_new: needs NB_POS_LEARNED or NB_POS_SINUSOIDAL, max_len >= 1 and dim >= 1, "
                            "got kind %d, %d, %d",
                (int)kind, max_len, dim);
        return NULL;
    }
    if (kind == NB_POS_SINUSOIDAL && dim % 2) {
        nb__err(NB_ERR_ARG, "nb_positional_new: sinusoidal positions need an even dim (sin and cos pairs), got %d", dim);
        return NULL;
    }
    float *table = NULL;
    if (kind == NB_POS_SINUSOIDAL) {
        if (!(table = malloc((size_t)max_len * (size_t)dim * sizeof(float)))) {
            nb__err(NB_ERR_MEM, "nb_positional_new: out of memory for a (%d, %d) table", max_len, dim);
            return NULL;
        }
        /* float32 as PyTorch: div_term = exp(arange(0, D, 2) * (-log(10000) / D)),
         * pe[:, 0::2] = sin(position * div_term), pe[:, 1::2] = cos(position * div_term) */
        const float c = (float)(-log(10000.0) / dim);
        for (int i = 0; i < dim / 2; i++) {
            float div = expf((float)(2 * i) * c);
            for (int p = 0; p < max_len; p++) {
                float a = (float)p * div;
                table[(size_t)p * dim + 2 * i] = sinf(a);
                table[(size_t)p * dim + 2 * i + 1] = cosf(a);
            }
        }
    }
    nb_module *m = nb__module_alloc(&pos_ops, sizeof(positional), "nb_positional_new");
    if (!m) {
        free(table);
        return NULL;
    }
    *(positional *)nb_module_state(m) = (positional){.kind = kind, .max_len = max_len, .d = dim, .table = table};
    return m;
}
