/* The token-level tasks: NB_TASK_TOKENS (a class per token; negative labels and steps past a
 * sample's length are not scored) and NB_TASK_MLM (BERT's masked language modelling: each
 * eligible real token selected with probability mask_prob, then 80% [MASK], 10% a random id,
 * 10% kept, scored at the selected positions). Both score through one function that gathers
 * the scored rows of the logits (with their gradient), as the language model task does, and
 * write every position's prediction for nb_evaluate's on_pred. NB_TASK_TOKENS' word dropout
 * replaces, in training only, some input words by their unknowns (a copy of the batch's ids). */
#include "train/train_impl.h"

/* The batch must hold token ids (N, T) with lengths in 0..T; *T_out := T. */
static nb_status check_batch(const char *task, const nb_batch *b, int64_t *T_out) {
    if (!b->tokens || b->x_ndim != 1) return nb__err(NB_ERR_ARG, "%s task: the batch needs token ids (N, T)", task);
    const int64_t T = b->x_shape[0];
    if (b->n < 0 || T < 0)
        return nb__err(NB_ERR_ARG, "%s task: a batch of %lld samples of %lld steps", task, (long long)b->n, (long long)T);
    for (int64_t i = 0; b->lengths && i < b->n; i++)
        if (b->lengths[i] < 0 || b->lengths[i] > T)
            return nb__err(NB_ERR_ARG, "%s task: sample %lld has length %lld, outside 0..%lld", task, (long long)i,
                           (long long)b->lengths[i], (long long)T);
    *T_out = T;
    return NB_OK;
}

static int64_t length_of(const nb_batch *b, int64_t i, int64_t T) { return b->lengths ? b->lengths[i] : T; }

/* Forward of ids x (N, T), with the lengths as a second input when the batch has them (the
 * key-padding mask of a Transformer), to logits seen as (N*T, K); *k := K. */
static nb_tensor *forward(const char *task, nb_model *m, const nb_batch *b, int64_t T, nb_tensor *x, int64_t *k,
                          nb_tensor *sel) {
    const int64_t rows = sel ? nb_tensor_numel(sel) : b->n * T;
    nb_tensor *logits = NULL;
    if (sel) { /* the model gives the logits of the selected rows only */
        nb_tensor *in[3] = {x, b->lengths ? nb_step_index(1, (int64_t[]){b->n}, b->lengths) : NULL, sel};
        nb_tensor *out[NB_MODULE_MAX_IO];
        int n_out = 0;
        if ((!b->lengths || in[1]) && nb_model_forward_n(m, 3, in, &n_out, out) == NB_OK && n_out >= 1) logits = out[0];
    } else if (b->lengths) {
        nb_tensor *in[2] = {x, nb_step_index(1, (int64_t[]){b->n}, b->lengths)}, *out[NB_MODULE_MAX_IO];
        int n_out = 0;
        if (in[1] && nb_model_forward_n(m, 2, in, &n_out, out) == NB_OK && n_out >= 1) logits = out[0];
    } else {
        logits = nb_model_forward(m, x);
    }
    if (!logits) return NULL;
    *k = nb_tensor_size(logits, -1);
    if (*k < 1 || nb_tensor_numel(logits) != rows * *k) {
        if (sel)
            nb__err(NB_ERR_SHAPE, "%s task: the model gives %s for %lld selected rows, expected logits (%lld, K)", task,
                    NB_SHAPE_STR(logits), (long long)rows, (long long)rows);
        else
            nb__err(NB_ERR_SHAPE, "%s task: the model gives %s, expected logits (%lld, %lld, K)", task,
                    NB_SHAPE_STR(logits), (long long)b->n, (long long)T);
        return NULL;
    }
    return nb_reshape(nb_tensor_is_contiguous(logits) ? logits : nb_contiguous(logits), 2, (int64_t[]){rows, *k});
}

/* The loss and counts over the positions whose target tgt (N*T) is >= 0, from logits flat
 * (N*T, K), or (scored, K) in the scored positions' order when gathered. Predictions go to
 * r->pred at every real step (pred_real; not with gathered) or at the scored positions only,
 * -1 elsewhere; conf (may be NULL) gets the scored ones. */
static nb_status score(const char *task, nb_tensor *flat, int64_t k, const int64_t *tgt, const nb_batch *b, int64_t T,
                       bool pred_real, bool gathered, nb_confusion *conf, nb__batch_result *r) {
    const int64_t rows = b->n * T;
    int64_t count = 0;
    for (int64_t i = 0; i < rows; i++) {
        if (tgt[i] >= k)
            return nb__err(NB_ERR_ARG, "%s task: the target %lld of sample %lld at step %lld is outside the model's %lld "
                           "classes", task, (long long)tgt[i], (long long)(i / T), (long long)(i % T), (long long)k);
        count += tgt[i] >= 0;
    }
    if (count == 0)
        return nb__err(NB_ERR_ARG, "%s task: no token of the batch is scored (every label is negative or past its "
                       "sample's length)", task);
    nb_tensor *pt = nb_step_index(1, (int64_t[]){rows}, NULL), *ki = nb_step_index(1, (int64_t[]){count}, NULL),
              *yi = nb_step_index(1, (int64_t[]){count}, NULL), *pi = nb_step_index(1, (int64_t[]){count}, NULL);
    if (!pt || !ki || !yi || !pi) return NB_ERR_MEM;
    int64_t *pred = nb_tensor_idata(pt), *keep = nb_tensor_idata(ki), *yk = nb_tensor_idata(yi), *pk = nb_tensor_idata(pi);
    const float *lg = nb_tensor_data(flat); /* (N*T, K) */
    int64_t c = 0;
    for (int64_t i = 0; i < b->n; i++) {
        const int64_t len = length_of(b, i, T);
        for (int64_t t = 0; t < T; t++) {
            const int64_t row = i * T + t;
            pred[row] = -1;
            if (gathered) {
                if (tgt[row] >= 0) nb_argmax_rows(lg + c * k, 1, (int)k, &pred[row]);
            } else if (tgt[row] >= 0 || (pred_real && t < len)) {
                nb_argmax_rows(lg + row * k, 1, (int)k, &pred[row]);
            }
            if (tgt[row] < 0) continue;
            keep[c] = row;
            yk[c] = tgt[row];
            pk[c] = pred[row];
            r->correct += pred[row] == tgt[row];
            c++;
        }
    }
    if (conf) {
        nb_status st = nb_confusion_add(conf, yk, pk, count);
        if (st) return st;
    }
    /* Only the scored rows enter the loss, with their gradient (all of them: no gather). */
    if (gathered && nb_tensor_size(flat, 0) != count)
        return nb__err(NB_ERR_SHAPE, "%s task: %lld rows of logits for %lld scored positions", task,
                       (long long)nb_tensor_size(flat, 0), (long long)count);
    nb_tensor *rows_in = count == rows || gathered ? flat : nb_embedding(flat, ki);
    r->loss = rows_in ? nb_cross_entropy(rows_in, yi) : NULL;
    if (!r->loss) return NB_ERR_SHAPE;
    r->logits = rows_in;
    r->weight = count;
    r->pred = pred;
    return NB_OK;
}

nb_status nb__task_tokens(const nb_task *task, nb_model *m, const nb_batch *b, nb_confusion *conf,
                          nb__batch_result *r) {
    int64_t T, k;
    nb_status st = check_batch("tokens", b, &T);
    if (st) return st;
    if (!b->y) return nb__err(NB_ERR_ARG, "tokens task: the batch needs per-token labels y (N*T)");
    const int64_t rows = b->n * T;
    /* The model reads the batch's ids as they are, or in training with word dropout a copy
     * with some words replaced by their unknowns (the batch itself is never modified). */
    const bool drop = task->word_dropout > 0.0f && nb_model_training(m);
    nb_tensor *x = nb_step_index(2, (int64_t[]){b->n, T}, drop ? NULL : b->tokens),
              *tt = nb_step_index(1, (int64_t[]){rows}, NULL);
    if (!x || !tt) return NB_ERR_MEM;
    if (drop && (st = nb__word_dropout(task, b, true, nb_tensor_idata(x), NULL))) return st;
    int64_t *tgt = nb_tensor_idata(tt); /* (N*T): the label, or -1 where not scored */
    for (int64_t i = 0; i < b->n; i++)
        for (int64_t t = 0, len = length_of(b, i, T); t < T; t++)
            tgt[i * T + t] = t < len && b->y[i * T + t] >= 0 ? b->y[i * T + t] : -1;
    nb_tensor *flat = forward("tokens", m, b, T, x, &k, NULL);
    if (!flat) return NB_ERR_SHAPE;
    return score("tokens", flat, k, tgt, b, T, true, false, conf, r);
}

/* ---- masked language modelling ----------------------------------------------------------------- */
/* Where draws come from: the library RNG (training) or a sample's own splitmix64 stream. */
typedef struct stream {
    bool lib;
    uint64_t s;
} stream;

static uint64_t draw64(stream *d) { return d->lib ? nb_rng_next() : nb_splitmix64(&d->s); }
static double draw_unit(stream *d) { return (double)(draw64(d) >> 11) * 0x1p-53; } /* [0, 1) */
/* Uniform in [0, n), n >= 1, unbiased: draws below 2^64 mod n are rejected. */
static int64_t draw_below(stream *d, uint64_t n) {
    const uint64_t reject = (0 - n) % n;
    for (;;) {
        uint64_t x = draw64(d);
        if (x >= reject) return (int64_t)(x % n);
    }
}

/* ---- word dropout (NB_TASK_TOKENS) ------------------------------------------------------------ */
nb_status nb__check_word_dropout(const nb_task *t) {
    if (!(t->word_dropout >= 0.0f && t->word_dropout < 1.0f))
        return nb__err(NB_ERR_ARG, "tokens task: word_dropout is %g; expected a probability in [0, 1) (0: off)",
                       (double)t->word_dropout);
    if (t->word_dropout == 0.0f) return NB_OK;
    if (!t->word_unk || t->word_unk_n < 1)
        return nb__err(NB_ERR_ARG, "tokens task: word_dropout %g needs the table word_unk of each id's unknown "
                       "(word_unk_n %lld; nb_vocab_shape_unks builds one)", (double)t->word_dropout,
                       (long long)t->word_unk_n);
    for (int64_t i = 0; i < t->word_unk_n; i++)
        if (t->word_unk[i] < 0 || t->word_unk[i] >= t->word_unk_n)
            return nb__err(NB_ERR_ARG, "tokens task: word_unk[%lld] is %lld, outside the table's ids [0, %lld)",
                           (long long)i, (long long)t->word_unk[i], (long long)t->word_unk_n);
    return NB_OK;
}

nb_status nb__word_dropout(const nb_task *task, const nb_batch *b, bool training, int64_t *ids, int64_t *replaced) {
    int64_t T, count = 0;
    nb_status st = nb__check_word_dropout(task);
    if (!st) st = check_batch("tokens", b, &T);
    if (st) return st;
    memcpy(ids, b->tokens, (size_t)(b->n * T) * sizeof *ids);
    if (training && task->word_dropout > 0.0f) {
        const double p = (double)task->word_dropout;
        stream d = {.lib = true};
        for (int64_t i = 0; i < b->n; i++) {
            int64_t *row = ids + i * T;
            for (int64_t t = 0, len = length_of(b, i, T); t < len; t++) {
                const int64_t id = row[t];
                if (id < 0 || id >= task->word_unk_n || task->word_unk[id] == id) continue; /* never replaced */
                if (draw_unit(&d) < p) row[t] = task->word_unk[id], count++;
            }
        }
    }
    if (replaced) *replaced = count;
    return NB_OK;
}

/* The evaluation stream of sample i: seeded by its dataset index, or without one by an
 * FNV-1a hash of its length and real tokens. */
static stream eval_stream(const nb_batch *b, int64_t i, int64_t T, int64_t len) {
    uint64_t h;
    if (b->idx) {
        h = 0x6d6c6d2d6d61736bull ^ ((uint64_t)b->idx[i] * 0x9E3779B97F4A7C15ull);
    } else {
        h = 0xcbf29ce484222325ull ^ (uint64_t)len;
        for (int64_t t = 0; t < len; t++) h = (h ^ (uint64_t)b->tokens[i * T + t]) * 0x100000001b3ull;
    }
    return (stream){.lib = false, .s = h};
}

/* Position s is selected: its target is the original id; 80% [MASK], 10% a random eligible
 * id, 10% unchanged. */
static void replace(const nb_task *task, stream *d, int64_t *ids, int64_t *tgt, int64_t s) {
    tgt[s] = ids[s];
    const double u = draw_unit(d);
    if (u < 0.8) ids[s] = task->mask_id;
    else if (u < 0.9) ids[s] = task->first_id + draw_below(d, (uint64_t)(task->vocab_size - task->first_id));
}

static nb_status check_mlm(const nb_task *t) {
    if (!(t->mask_prob > 0.0f && t->mask_prob <= 1.0f))
        return nb__err(NB_ERR_ARG, "mlm task: mask_prob is %g; expected a probability in (0, 1]", (double)t->mask_prob);
    if (t->vocab_size < 1 || t->first_id < 0 || t->first_id >= t->vocab_size)
        return nb__err(NB_ERR_ARG, "mlm task: vocab_size %lld and first_id %lld; expected 0 <= first_id < vocab_size "
                       "(set the task's vocab_size)", (long long)t->vocab_size, (long long)t->first_id);
    if (t->mask_id < 0 || t->mask_id >= t->vocab_size)
        return nb__err(NB_ERR_ARG, "mlm task: mask_id %lld is outside the vocabulary [0, %lld) (set the task's mask_id)",
                       (long long)t->mask_id, (long long)t->vocab_size);
    return NB_OK;
}

nb_status nb__mlm_mask(const nb_task *task, const nb_batch *b, bool training, int64_t *ids, int64_t *tgt) {
    int64_t T;
    nb_status st = check_mlm(task);
    if (!st) st = check_batch("mlm", b, &T);
    if (st) return st;
    stream first = {.lib = true}; /* the stream of the first sample with an eligible token */
    int64_t selected = 0, first_i = -1, first_n = 0;
    for (int64_t i = 0; i < b->n; i++) {
        const int64_t len = length_of(b, i, T);
        int64_t *row = ids + i * T, *trow = tgt + i * T, eligible = 0;
        for (int64_t t = 0; t < T; t++) {
            row[t] = b->tokens[i * T + t];
            trow[t] = -1;
            if (t < len && (row[t] < 0 || row[t] >= task->vocab_size))
                return nb__err(NB_ERR_ARG, "mlm task: token id %lld of sample %lld at step %lld is outside the vocabulary "
                               "[0, %lld)", (long long)row[t], (long long)i, (long long)t, (long long)task->vocab_size);
        }
        stream d = training ? (stream){.lib = true} : eval_stream(b, i, T, len);
        for (int64_t t = 0; t < len; t++) {
            if (row[t] < task->first_id) continue; /* a special token: never selected */
            eligible++;
            if (draw_unit(&d) < (double)task->mask_prob) {
                replace(task, &d, row, trow, t);
                selected++;
            }
        }
        if (eligible > 0 && first_i < 0) first = d, first_i = i, first_n = eligible;
    }
    if (selected == 0 && first_i >= 0) { /* one token of the first sample that has one: something to score */
        int64_t j = draw_below(&first, (uint64_t)first_n), *row = ids + first_i * T;
        for (int64_t t = 0;; t++)
            if (row[t] >= task->first_id && j-- == 0) {
                replace(task, &first, row, tgt + first_i * T, t);
                break;
            }
    }
    return NB_OK;
}

nb_status nb__task_mlm(const nb_task *task, nb_model *m, const nb_batch *b, nb__batch_result *r) {
    int64_t T, k;
    nb_status st = check_batch("mlm", b, &T);
    if (st) return st;
    const int64_t rows = b->n * T;
    nb_tensor *x = nb_step_index(2, (int64_t[]){b->n, T}, NULL), *tt = nb_step_index(1, (int64_t[]){rows}, NULL);
    if (!x || !tt) return NB_ERR_MEM;
    /* The model's input (N, T) and the targets (N*T); in training mode (nb_train_epoch) from the
     * library RNG, in evaluation mode from each sample's own stream. */
    int64_t *tgt = nb_tensor_idata(tt);
    if ((st = nb__mlm_mask(task, b, nb_model_training(m), nb_tensor_idata(x), tgt))) return st;
    nb_tensor *sel = NULL;
    if (task->mlm_rows) { /* the selected positions, for a model that scores only them */
        int64_t count = 0;
        for (int64_t i = 0; i < rows; i++) count += tgt[i] >= 0;
        if (count == 0) return nb__err(NB_ERR_ARG, "mlm task: no token of the batch can be masked");
        if (!(sel = nb_step_index(1, (int64_t[]){count}, NULL))) return NB_ERR_MEM;
        int64_t *si = nb_tensor_idata(sel), c = 0;
        for (int64_t i = 0; i < rows; i++)
            if (tgt[i] >= 0) si[c++] = i;
    }
    nb_tensor *flat = forward("mlm", m, b, T, x, &k, sel);
    if (!flat) return NB_ERR_SHAPE;
    if (k < task->vocab_size)
        return nb__err(NB_ERR_SHAPE, "mlm task: the model gives %lld classes for a vocabulary of %lld", (long long)k,
                       (long long)task->vocab_size);
    return score("mlm", flat, k, tgt, b, T, false, sel != NULL, NULL, r);
}
