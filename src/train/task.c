/* The tasks: how a batch becomes step tensors, what the loss is, and what is counted. One
 * function per task kind, each given the model and the batch and filling a batch result. */
#include "train/train_impl.h"

#include <math.h>

static const char *const g_names[] = {"classify", "regress", "reconstruct", "seq-classify", "lm", "vae", "custom",
                                      "tokens", "mlm"};
_Static_assert(sizeof g_names / sizeof g_names[0] == NB_TASK_MLM + 1, "a name for every task kind");

bool nb__task_known(nb_task_kind k) { return (int)k >= 0 && k <= NB_TASK_MLM; }
const char *nb_task_name(nb_task_kind k) { return nb__task_known(k) ? g_names[k] : "unknown"; }
nb_task nb_task_new(nb_task_kind kind) {
    nb_task t = {.kind = kind};
    if (kind == NB_TASK_MLM) t.mask_prob = 0.15f, t.mask_id = -1;
    return t;
}
nb_task nb_task_custom(nb_step_fn step, void *ctx) { return (nb_task){.kind = NB_TASK_CUSTOM, .step = step, .ctx = ctx}; }

/* The batch's input tensor (N, sample...): floats or token ids. */
static nb_tensor *input(const nb_batch *b) {
    int64_t shape[NB_MAX_DIMS] = {b->n};
    for (int i = 0; i < b->x_ndim && i < NB_MAX_DIMS - 1; i++) shape[i + 1] = b->x_shape[i];
    if (b->x_ndim < 0 || b->x_ndim > NB_MAX_DIMS - 1) {
        nb__err(NB_ERR_ARG, "batch: a sample has %d axes (at most %d)", b->x_ndim, NB_MAX_DIMS - 1);
        return NULL;
    }
    if (b->tokens) return nb_step_index(b->x_ndim + 1, shape, b->tokens);
    if (!b->x) {
        nb__err(NB_ERR_ARG, "batch: neither x nor tokens is set");
        return NULL;
    }
    return nb_step_tensor(b->x_ndim + 1, shape, b->x);
}

static nb_tensor *labels(const nb_batch *b, int64_t n) {
    if (!b->y) {
        nb__err(NB_ERR_ARG, "batch: the task needs labels (y)");
        return NULL;
    }
    return nb_step_index(1, (int64_t[]){n}, b->y);
}

/* Counts correct rows of logits (n, k) into r and, when given, the confusion matrix. */
static nb_status count_classes(const nb_tensor *logits, const int64_t *y, int64_t n, nb_confusion *conf,
                               nb__batch_result *r) {
    int k = (int)nb_tensor_size(logits, 1);
    const float *lg = nb_tensor_data((nb_tensor *)logits);
    for (int64_t i = 0; i < n; i++) {
        int64_t p;
        nb_argmax_rows(lg + i * k, 1, k, &p);
        r->correct += p == y[i];
        if (conf) {
            nb_status st = nb_confusion_add(conf, &y[i], &p, 1);
            if (st) return st;
        }
    }
    return NB_OK;
}

static nb_status classify(nb_model *m, const nb_batch *b, bool seq, nb_confusion *conf, nb__batch_result *r) {
    nb_tensor *x = input(b), *y = x ? labels(b, b->n) : NULL, *logits = NULL;
    if (!y) return NB_ERR_ARG;
    if (seq && b->lengths) {
        nb_tensor *in[2] = {x, nb_step_index(1, (int64_t[]){b->n}, b->lengths)}, *out[NB_MODULE_MAX_IO];
        int n_out = 0;
        if (!in[1] || nb_model_forward_n(m, 2, in, &n_out, out)) return NB_ERR_SHAPE;
        logits = out[0];
    } else {
        logits = nb_model_forward(m, x);
    }
    if (logits && (nb_tensor_ndim(logits) != 2 || nb_tensor_size(logits, 0) != b->n)) {
        return nb__err(NB_ERR_SHAPE, "%s task: the model gives %s, expected logits (%lld, K)",
                       seq ? "seq-classify" : "classify", NB_SHAPE_STR(logits), (long long)b->n);
    }
    r->loss = logits ? nb_cross_entropy(logits, y) : NULL;
    if (!r->loss) return NB_ERR_SHAPE;
    r->logits = logits;
    r->weight = b->n;
    return count_classes(logits, b->y, b->n, conf, r);
}

/* x plus N(0, std^2) noise, a new step tensor (x itself stays the clean target). */
static nb_tensor *noisy(nb_tensor *x, float std) {
    nb_tensor *y = nb_step_tensor(nb_tensor_ndim(x), nb_tensor_shape(x), NULL);
    if (!y) return NULL;
    nb_tensor_fill_normal(y, 0.0f, std);
    float *yd = nb_tensor_data(y);
    const float *xd = nb_tensor_data(x);
    for (int64_t i = 0, n = nb_tensor_numel(x); i < n; i++) yd[i] += xd[i];
    return y;
}

/* Mean squared error of the output against (n, d) float targets, the output seen as (n, d). */
static nb_status squared(nb_model *m, const nb_batch *b, bool reconstruct, float noise, nb__batch_result *r) {
    nb_tensor *x = input(b);
    if (!x) return NB_ERR_ARG;
    nb_tensor *t;
    int64_t d;
    if (reconstruct) {
        if (b->tokens) return nb__err(NB_ERR_ARG, "reconstruct task: the batch holds tokens, not values");
        d = nb_tensor_numel(x) / (b->n ? b->n : 1);
        t = nb_step_tensor(2, (int64_t[]){b->n, d}, b->x);
    } else {
        if (!b->target || b->target_dim < 1) return nb__err(NB_ERR_ARG, "regress task: the batch has no float targets");
        d = b->target_dim;
        t = nb_step_tensor(2, (int64_t[]){b->n, d}, b->target);
    }
    if (reconstruct && noise > 0 && t && !(x = noisy(x, noise))) return NB_ERR_MEM;
    nb_tensor *out = t ? nb_model_forward(m, x) : NULL;
    if (!out) return NB_ERR_SHAPE;
    if (nb_tensor_numel(out) != b->n * d)
        return nb__err(NB_ERR_SHAPE, "%s task: the model gives %s, expected %lld values per sample",
                       reconstruct ? "reconstruct" : "regress", NB_SHAPE_STR(out), (long long)d);
    nb_tensor *flat = nb_reshape(nb_tensor_is_contiguous(out) ? out : nb_contiguous(out), 2, (int64_t[]){b->n, d});
    r->loss = flat ? nb_mse_loss(flat, t) : NULL;
    r->weight = b->n;
    return r->loss ? NB_OK : NB_ERR_SHAPE;
}

/* The VAE: the negative ELBO and its two terms, and the mean squared error of the decoded
 * probabilities (comparable with an autoencoder's). */
static nb_status vae(nb_model *m, const nb_batch *b, nb__batch_result *r) {
    if (b->tokens || !b->x) return nb__err(NB_ERR_ARG, "vae task: the batch needs float inputs x");
    nb_tensor *x = input(b), *in[1] = {x}, *out[NB_MODULE_MAX_IO];
    int n_out = 0;
    if (!x || nb_model_forward_n(m, 1, in, &n_out, out)) return NB_ERR_SHAPE;
    if (n_out != 3) return nb__err(NB_ERR_SHAPE, "vae task: the model gives %d outputs, expected logits, mu, logvar", n_out);
    nb_tensor *rec, *kl;
    r->loss = nb_vae_loss(out[0], x, out[1], out[2], &rec, &kl);
    if (!r->loss) return NB_ERR_SHAPE;
    nb_tensor *mse;
    nb_no_grad_begin(); /* a figure, not part of the loss */
    mse = nb_mse_loss(nb_reshape(nb_sigmoid(out[0]), 1, (int64_t[]){-1}), nb_reshape(x, 1, (int64_t[]){-1}));
    nb_no_grad_end();
    if (!mse) return NB_ERR_SHAPE;
    r->weight = b->n;
    nb_step_result *mt = &r->metrics;
    mt->n_metrics = 3;
    mt->name[0] = "recon", mt->value[0] = nb_tensor_item(rec);
    mt->name[1] = "kl", mt->value[1] = nb_tensor_item(kl);
    mt->name[2] = "mse", mt->value[2] = nb_tensor_item(mse);
    return NB_OK;
}

/* Next-token prediction: logits (N, T, V) or (N*T, V) against y (N*T); with lengths, only
 * the steps t < length of each sample count (their rows are gathered first). */
static nb_status lm(nb_model *m, const nb_batch *b, nb__batch_result *r) {
    if (!b->tokens || b->x_ndim != 1) return nb__err(NB_ERR_ARG, "lm task: the batch needs token ids (N, T)");
    int64_t n = b->n, T = b->x_shape[0], rows = n * T;
    nb_tensor *x = input(b), *logits = x ? nb_model_forward(m, x) : NULL;
    if (!logits) return NB_ERR_SHAPE;
    int64_t v = nb_tensor_size(logits, -1);
    if (nb_tensor_numel(logits) != rows * v || v < 1)
        return nb__err(NB_ERR_SHAPE, "lm task: the model gives %s, expected (%lld, %lld, V)", NB_SHAPE_STR(logits),
                       (long long)n, (long long)T);
    nb_tensor *flat = nb_reshape(nb_tensor_is_contiguous(logits) ? logits : nb_contiguous(logits), 2,
                                 (int64_t[]){rows, v});
    const int64_t *y = b->y;
    int64_t count = rows;
    if (b->lengths) {
        count = 0;
        for (int64_t i = 0; i < n; i++) {
            if (b->lengths[i] < 0 || b->lengths[i] > T)
                return nb__err(NB_ERR_ARG, "lm task: sample %lld has length %lld, outside 0..%lld", (long long)i,
                               (long long)b->lengths[i], (long long)T);
            count += b->lengths[i];
        }
        if (count == 0) return nb__err(NB_ERR_ARG, "lm task: every sample of the batch has length 0");
        nb_tensor *ki = nb_step_index(1, (int64_t[]){count}, NULL), *yi = nb_step_index(1, (int64_t[]){count}, NULL);
        if (!ki || !yi) return NB_ERR_MEM;
        int64_t *keep = nb_tensor_idata(ki), *yk = nb_tensor_idata(yi), k = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t t = 0; t < b->lengths[i]; t++) {
                keep[k] = i * T + t;
                yk[k++] = b->y[i * T + t];
            }
        flat = flat ? nb_embedding(flat, ki) : NULL; /* the real steps' rows, with their gradient */
        y = yk;
    }
    nb_tensor *ty = nb_step_index(1, (int64_t[]){count}, y);
    r->loss = flat && ty ? nb_cross_entropy(flat, ty) : NULL;
    if (!r->loss) return NB_ERR_SHAPE;
    r->weight = count;
    r->logits = flat;
    return count_classes(flat, y, count, NULL, r);
}

nb_status nb__task_batch(const nb_task *task, nb_model *m, const nb_batch *b, nb_confusion *conf,
                         nb__batch_result *r) {
    memset(r, 0, sizeof *r);
    if (!b->carry) nb_model_reset_states(m); /* a batch that does not continue the last one */
    switch (task->kind) {
    case NB_TASK_CLASSIFY: return classify(m, b, false, conf, r);
    case NB_TASK_SEQ_CLASSIFY: return classify(m, b, true, conf, r);
    case NB_TASK_REGRESS: return squared(m, b, false, 0, r);
    case NB_TASK_RECONSTRUCT: return squared(m, b, true, task->noise, r);
    case NB_TASK_VAE: return vae(m, b, r);
    case NB_TASK_LM: return lm(m, b, r);
    case NB_TASK_TOKENS: return nb__task_tokens(task, m, b, conf, r);
    case NB_TASK_MLM: return nb__task_mlm(task, m, b, r);
    case NB_TASK_CUSTOM: break;
    }
    return nb__err(NB_ERR_ARG, "task %d has no batch function", (int)task->kind);
}

bool nb__task_has_accuracy(nb_task_kind k) {
    return k == NB_TASK_CLASSIFY || k == NB_TASK_SEQ_CLASSIFY || k == NB_TASK_LM || k == NB_TASK_TOKENS ||
           k == NB_TASK_MLM;
}
bool nb__task_per_token(nb_task_kind k) { return k == NB_TASK_LM || k == NB_TASK_TOKENS || k == NB_TASK_MLM; }
