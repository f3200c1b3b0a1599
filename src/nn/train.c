/* The training epoch and the evaluation pass over datasets (cross-entropy classification). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, fsync, readlink */
#include "internal.h"

#include <math.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Arena tensors holding a batch: x (N, C, H, W) and labels (N). */
static nb_status batch_tensors(const nb_dataset *d, int64_t n, const float *x, const int64_t *y,
                               nb_tensor **tx, nb_tensor **ty) {
    *tx = nb__arena_tensor(NB_F32, 4, (int64_t[]){n, d->c, d->h, d->w});
    *ty = nb__arena_tensor(NB_I64, 1, (int64_t[]){n});
    if (!*tx || !*ty) return NB_ERR_MEM;
    memcpy((*tx)->data, x, (size_t)(n * d->dim) * sizeof(float));
    memcpy((*ty)->data, y, (size_t)n * sizeof(int64_t));
    return NB_OK;
}

/* Rows of logits (n, k) whose argmax (nb_argmax_rows) is the label. */
static int64_t count_correct(const float *logits, const int64_t *y, int64_t n, int k) {
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t p;
        nb_argmax_rows(logits + i * k, 1, k, &p);
        c += p == y[i];
    }
    return c;
}

nb_status nb_train_epoch(nb_model *m, nb_optim *opt, nb_loader *l, const nb_dataset *d,
                         int64_t epoch, float clip, nb_progress_fn fn, void *ctx,
                         nb_epoch_stats *out) {
    if (!m || !opt || !l || !d || !out)
        return nb__err(NB_ERR_ARG, "nb_train_epoch: model, optimizer, loader, dataset and stats are required");
    nb_params *p = nb_model_params(m);
    nb_model_set_training(m, true);
    nb_loader_start(l, epoch);
    double t0 = now_s(), loss_sum = 0;
    int64_t seen = 0, correct = 0, i = 0, nb = nb_loader_batches(l);
    nb_batch b;
    while (nb_loader_next(l, &b)) {
        nb_tensor *x, *y;
        nb_status st = batch_tensors(d, b.n, b.x, b.y, &x, &y);
        if (st) return st;
        nb_params_zero_grad(p);
        nb_tensor *logits = nb_model_forward(m, x);
        nb_tensor *loss = logits ? nb_cross_entropy(logits, y) : NULL;
        if (!loss) {
            nb_step_reset();
            return NB_ERR_SHAPE;
        }
        float lv = nb_tensor_item(loss);
        if (!isfinite(lv)) {
            nb_step_reset();
            return nb__err(NB_ERR_STATE, "training diverged: loss is %g at epoch %lld, batch %lld (try a lower --lr)",
                           lv, (long long)epoch + 1, (long long)i + 1);
        }
        if ((st = nb_backward(loss)) != NB_OK) return st;
        if (clip > 0) nb_clip_grad_norm(p, clip);
        if ((st = nb_optim_step(opt)) != NB_OK) return st;
        int k = (int)nb_tensor_size(logits, 1);
        correct += count_correct(nb_tensor_data(logits), b.y, b.n, k);
        nb_step_reset();
        loss_sum += (double)lv * (double)b.n;
        seen += b.n;
        i++;
        if (fn) fn(ctx, i, nb, loss_sum / (double)seen, seen);
    }
    out->loss = seen ? loss_sum / (double)seen : 0;
    out->accuracy = seen ? (double)correct / (double)seen : 0;
    out->samples = seen;
    out->seconds = now_s() - t0;
    return NB_OK;
}

nb_status nb_evaluate(nb_model *m, const nb_dataset *d, int64_t batch, nb_confusion *conf,
                      float *probs, nb_epoch_stats *out) {
    if (!m || !d || !out || batch < 1)
        return nb__err(NB_ERR_ARG, "nb_evaluate: model, dataset, stats and a batch >= 1 are required");
    if (batch > d->n) batch = d->n > 0 ? d->n : 1; /* no buffers larger than the data */
    double t0 = now_s(), loss_sum = 0;
    int64_t correct = 0;
    float *x = malloc((size_t)(batch * d->dim) * sizeof(float));
    int64_t *y = malloc((size_t)batch * sizeof(int64_t)), *idx = malloc((size_t)batch * sizeof(int64_t));
    int64_t *pred = malloc((size_t)batch * sizeof(int64_t));
    nb_status st = NB_OK;
    if (!x || !y || !idx || !pred) st = nb__err(NB_ERR_MEM, "nb_evaluate: out of memory");
    bool was = nb_model_training(m);
    nb_model_set_training(m, false);
    nb_no_grad_begin();
    for (int64_t s = 0; st == NB_OK && s < d->n; s += batch) {
        int64_t n = d->n - s < batch ? d->n - s : batch;
        for (int64_t j = 0; j < n; j++) idx[j] = s + j;
        nb_dataset_gather(d, idx, n, x, y);
        nb_tensor *tx, *ty;
        if ((st = batch_tensors(d, n, x, y, &tx, &ty)) != NB_OK) break;
        nb_tensor *logits = nb_model_forward(m, tx);
        nb_tensor *loss = logits ? nb_cross_entropy(logits, ty) : NULL;
        if (!loss) {
            st = NB_ERR_SHAPE;
            break;
        }
        int k = (int)nb_tensor_size(logits, 1);
        const float *lg = nb_tensor_data(logits);
        loss_sum += (double)nb_tensor_item(loss) * (double)n;
        nb_argmax_rows(lg, n, k, pred);
        for (int64_t j = 0; j < n; j++) correct += pred[j] == y[j];
        if (conf && (st = nb_confusion_add(conf, y, pred, n)) != NB_OK) break;
        if (probs) {
            nb_tensor *pr = nb_softmax(logits, 1);
            if (!pr) {
                st = NB_ERR_MEM;
                break;
            }
            memcpy(probs + s * k, nb_tensor_data(pr), (size_t)(n * k) * sizeof(float));
        }
        nb_step_reset();
    }
    nb_step_reset();
    nb_no_grad_end();
    nb_model_set_training(m, was);
    free(x);
    free(y);
    free(idx);
    free(pred);
    if (st) return st;
    out->loss = d->n ? loss_sum / (double)d->n : 0;
    out->accuracy = d->n ? (double)correct / (double)d->n : 0;
    out->samples = d->n;
    out->seconds = now_s() - t0;
    return NB_OK;
}
