/* The training epoch and the evaluation pass: one loop for every task. The task gives each
 * batch's loss and counts (src/train/task.c) or, for a custom task, does the whole step. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "train/train_impl.h"

#include <math.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- loaders as batch sources ------------------------------------------------------------------ */
static int64_t loader_count(void *l) { return nb_loader_batches(l); }
static void loader_start(void *l, int64_t e) { nb_loader_start(l, e); }
static int loader_next(void *l, nb_batch *b) { return nb_loader_next(l, b); }

nb_batch_source nb_loader_source(nb_loader *l) {
    return (nb_batch_source){.ctx = l, .count = loader_count, .start = loader_start, .next = loader_next};
}

/* ---- per-epoch sums ------------------------------------------------------------------------------ */
typedef struct sums {
    double loss, metric[NB_MAX_METRICS], t0;
    int64_t weight, samples, correct;
    int n_metrics;
    const char *name[NB_MAX_METRICS];
} sums;

static void finish(const sums *s, nb_task_kind kind, nb_epoch_stats *out) {
    memset(out, 0, sizeof *out);
    double w = s->weight > 0 ? (double)s->weight : NAN;
    out->loss = s->loss / w;
    out->accuracy = nb__task_has_accuracy(kind) ? (double)s->correct / w : NAN;
    out->bits = kind == NB_TASK_LM ? out->loss / log(2.0) : NAN;
    out->samples = s->samples;
    out->tokens = nb__task_per_token(kind) ? s->weight : 0;
    out->seconds = now_s() - s->t0;
    out->n_metrics = s->n_metrics;
    for (int i = 0; i < s->n_metrics; i++) {
        out->metric_name[i] = s->name[i];
        out->metric[i] = s->samples ? s->metric[i] / (double)s->samples : NAN;
    }
}

static nb_status check_args(const char *fn, nb_model *m, const nb_task *task, const nb_batch_source *src,
                            nb_epoch_stats *out, bool need_opt, nb_optim *opt) {
    if (!task || !src || !src->next || !src->start || !out)
        return nb__err(NB_ERR_ARG, "%s: a task, a batch source (start, next) and stats are required", fn);
    if (!nb__task_known(task->kind)) return nb__err(NB_ERR_ARG, "%s: unknown task %d", fn, (int)task->kind);
    if (task->kind == NB_TASK_CUSTOM && !task->step) return nb__err(NB_ERR_ARG, "%s: a custom task needs a step function", fn);
    if (task->kind == NB_TASK_TOKENS) { /* a bad word-dropout setting: refused before any batch */
        nb_status st = nb__check_word_dropout(task);
        if (st) return st;
    }
    if (task->kind != NB_TASK_CUSTOM && (!m || (need_opt && !opt)))
        return nb__err(NB_ERR_ARG, "%s: the %s task needs a model%s", fn, nb_task_name(task->kind),
                       need_opt ? " and an optimizer" : "");
    return NB_OK;
}

/* A step's named metrics into the sums, weighted by the batch's samples; their names must
 * stay the same from batch to batch. */
static nb_status add_metrics(sums *s, const nb_step_result *r, int64_t n) {
    if (r->n_metrics < 0 || r->n_metrics > NB_MAX_METRICS)
        return nb__err(NB_ERR_ARG, "custom step: %d metrics (at most %d)", r->n_metrics, NB_MAX_METRICS);
    if (s->samples == 0) {
        s->n_metrics = r->n_metrics;
        for (int i = 0; i < r->n_metrics; i++) s->name[i] = r->name[i] ? r->name[i] : "metric";
    } else if (r->n_metrics != s->n_metrics) {
        return nb__err(NB_ERR_ARG, "custom step: %d metrics after %d in earlier batches", r->n_metrics, s->n_metrics);
    }
    for (int i = 0; i < r->n_metrics; i++) s->metric[i] += r->value[i] * (double)n;
    return NB_OK;
}

/* A custom step's result into the sums: its loss and metrics. */
static nb_status add_custom(sums *s, const nb_step_result *r, int64_t n) {
    nb_status st = add_metrics(s, r, n);
    if (st) return st;
    s->loss += r->loss * (double)n;
    s->weight += n;
    return NB_OK;
}

/* Before the optimizer step: clips (when asked) and stops on a non-finite gradient norm,
 * naming the first parameter whose gradient is NaN or infinite. Without clipping the norm is
 * not needed: it is non-finite exactly when a gradient is (a sum of squared floats in double
 * cannot overflow), which one scan of the gradient slab tells more cheaply. */
static nb_status check_grads(nb_params *p, const nb_train_opts *o, int64_t epoch, int64_t i, double lv) {
    const double norm = o->clip > 0 ? (double)nb_clip_grad_norm(p, o->clip) : 0.0;
    if (o->clip > 0 && isfinite(norm)) return NB_OK;
    int64_t at;
    const int k = nb_params_nonfinite(p, true, &at);
    if (k < 0 && isfinite(norm)) return NB_OK;
    char nm[32] = "not finite";
    if (o->clip > 0) snprintf(nm, sizeof nm, "%g", norm);
    if (k < 0) /* a norm over FLT_MAX from finite gradients */
        return nb__err(NB_ERR_STATE, "training diverged: gradient norm is %s at epoch %lld, batch %lld (loss %g)", nm,
                       (long long)epoch + 1, (long long)i + 1, lv);
    return nb__err(NB_ERR_STATE, "training diverged: gradient norm is %s at epoch %lld, batch %lld (loss %g): the "
                   "gradient of '%s' is %g at element %lld", nm, (long long)epoch + 1, (long long)i + 1, lv,
                   nb_params_name(p, k), (double)nb_tensor_grad(nb_params_get(p, k))[at], (long long)at);
}

/* After the optimizer step: every parameter and buffer must still be finite. The optimizer
 * read back the values it wrote (nb__optim_params_nonfinite); otherwise one scan of the slab. */
static nb_status check_state(nb_model *m, const nb_optim *opt, int64_t epoch, int64_t i, double lv) {
    nb_params *sl[2] = {nb_model_params(m), nb_model_buffers(m)};
    for (int s = 0; s < 2; s++) {
        if (s == 0 && nb__optim_params_nonfinite(opt) == 0) continue;
        int64_t at;
        int k = nb_params_nonfinite(sl[s], false, &at);
        if (k >= 0)
            return nb__err(NB_ERR_STATE, "training diverged: %s '%s' is %g at element %lld after the optimizer step "
                           "at epoch %lld, batch %lld (loss %g)", s ? "buffer" : "parameter", nb_params_name(sl[s], k),
                           (double)nb_tensor_data(nb_params_get(sl[s], k))[at], (long long)at, (long long)epoch + 1,
                           (long long)i + 1, lv);
    }
    return NB_OK;
}

nb_status nb_train_epoch(nb_model *m, nb_optim *opt, const nb_task *task, const nb_batch_source *src,
                         int64_t epoch, const nb_train_opts *o, nb_epoch_stats *out) {
    nb_status st = check_args("nb_train_epoch", m, task, src, out, true, opt);
    if (st) return st;
    nb_train_opts opts = o ? *o : (nb_train_opts){0};
    if (m) nb_model_set_training(m, true);
    src->start(src->ctx, epoch);
    sums s = {.t0 = now_s()};
    int64_t i = 0, nb = src->count ? src->count(src->ctx) : 0;
    nb_batch b;
    while (src->next(src->ctx, &b)) {
        double lv;
        if (task->kind == NB_TASK_CUSTOM) {
            nb_step_result r = {0};
            nb_clear_error();
            st = task->step(task->ctx, &b, true, &r);
            nb_step_reset();
            if (st) return *nb_last_error() ? st : nb__err(st, "custom step failed at epoch %lld, batch %lld",
                                                            (long long)epoch + 1, (long long)i + 1);
            lv = r.loss;
            if (isfinite(lv) && (st = add_custom(&s, &r, b.n))) return st;
        } else if (b.n == 0 && opts.grad_hook) {
            /* This process's empty share of a global batch smaller than the world: it still
             * takes part in the step's gradient average (weight 0) and steps as the others. */
            nb_params *p = nb_model_params(m);
            nb_params_zero_grad(p);
            lv = 0;
            if ((st = opts.grad_hook(opts.grad_hook_ctx, p, 0.0)) != NB_OK ||
                (st = check_grads(p, &opts, epoch, i, lv)) != NB_OK || (st = nb_optim_step(opt)) != NB_OK ||
                (st = check_state(m, opt, epoch, i, lv)) != NB_OK)
                return st;
        } else {
            nb_params *p = nb_model_params(m);
            nb__params_unset_grads(p); /* zero_grad, written by backward's first writers */
            nb__batch_result r;
            size_t refused = nb__arena_failures();
            st = nb__task_batch(task, m, &b, NULL, &r);
            if (st) {
                nb__params_settle_grads(p);
                nb_step_reset();
                /* An op that returned NULL for want of memory reads as a bad shape to the task. */
                return nb__arena_failures() != refused ? NB_ERR_MEM : st;
            }
            lv = nb_tensor_item(r.loss);
            if (!isfinite(lv) || (opts.max_loss > 0 && lv > opts.max_loss)) nb__params_settle_grads(p);
            if (isfinite(lv) && opts.max_loss > 0 && lv > opts.max_loss) {
                nb_step_reset();
                return nb__err(NB_ERR_STATE, "training diverged: loss exploded to %g (above max_loss %g) at epoch %lld, "
                               "batch %lld", lv, opts.max_loss, (long long)epoch + 1, (long long)i + 1);
            }
            if (isfinite(lv)) {
                st = nb_backward(r.loss);
                nb__params_settle_grads(p);
                if (st != NB_OK ||
                    (opts.grad_hook && (st = opts.grad_hook(opts.grad_hook_ctx, p, (double)r.weight)) != NB_OK)) {
                    nb_step_reset();
                    return st;
                }
                if ((st = check_grads(p, &opts, epoch, i, lv)) != NB_OK || (st = nb_optim_step(opt)) != NB_OK ||
                    (st = check_state(m, opt, epoch, i, lv)) != NB_OK) {
                    nb_step_reset();
                    return st;
                }
                s.loss += lv * (double)r.weight;
                s.weight += r.weight;
                s.correct += r.correct;
                if ((st = add_metrics(&s, &r.metrics, b.n))) {
                    nb_step_reset();
                    return st;
                }
            }
            nb_step_reset();
        }
        if (!isfinite(lv))
            return nb__err(NB_ERR_STATE, "training diverged: loss is %g at epoch %lld, batch %lld", lv,
                           (long long)epoch + 1, (long long)i + 1);
        s.samples += b.n;
        i++;
        if (opts.progress) opts.progress(opts.progress_ctx, i, nb, s.weight ? s.loss / (double)s.weight : 0, s.samples);
        if (opts.stop && (nb <= 0 || i < nb) && opts.stop(opts.stop_ctx)) {
            while (src->next(src->ctx, &b)) { /* leave the source (a loader's thread) idle */
            }
            return nb__err(NB_ERR_STATE, "interrupted at epoch %lld after batch %lld of %lld", (long long)epoch + 1,
                           (long long)i, (long long)nb);
        }
    }
    /* The optimizer's state (e.g. Adam's exp_avg_sq, where a squared gradient over FLT_MAX
     * gives inf while the weights stay finite) once an epoch: a scan per step would cost as
     * much again as the parameter check. */
    for (int k = 0; task->kind != NB_TASK_CUSTOM && k < nb_optim_state_count(opt); k++) {
        const char *nm;
        const float *x = nb_optim_state(opt, k, &nm);
        int64_t at = nb__first_nonfinite(x, nb_params_numel(nb_model_params(m)));
        if (at >= 0)
            return nb__err(NB_ERR_STATE, "training diverged: optimizer state '%s' is %g at element %lld at the end of "
                           "epoch %lld", nm, (double)x[at], (long long)at, (long long)epoch + 1);
    }
    finish(&s, task->kind, out);
    return NB_OK;
}

nb_status nb_evaluate(nb_model *m, const nb_task *task, const nb_batch_source *src, nb_confusion *conf,
                      float *outputs, nb_epoch_stats *out) {
    nb_status st = check_args("nb_evaluate", m, task, src, out, false, NULL);
    if (st) return st;
    bool was = m && nb_model_training(m);
    if (m) nb_model_set_training(m, false);
    nb_no_grad_begin();
    src->start(src->ctx, 0);
    sums s = {.t0 = now_s()};
    nb_batch b;
    int64_t written = 0;
    while (st == NB_OK && src->next(src->ctx, &b)) {
        if (task->kind == NB_TASK_CUSTOM) {
            nb_step_result r = {0};
            nb_clear_error();
            st = task->step(task->ctx, &b, false, &r);
            if (st && !*nb_last_error()) nb__err(st, "custom evaluation step failed");
            if (!st) st = add_custom(&s, &r, b.n);
        } else {
            nb__batch_result r;
            bool cls = task->kind == NB_TASK_CLASSIFY || task->kind == NB_TASK_SEQ_CLASSIFY;
            st = nb__task_batch(task, m, &b, cls || task->kind == NB_TASK_TOKENS ? conf : NULL, &r);
            if (!st) {
                s.loss += (double)nb_tensor_item(r.loss) * (double)r.weight;
                s.weight += r.weight;
                s.correct += r.correct;
                st = add_metrics(&s, &r.metrics, b.n);
            }
            if (!st && task->on_pred && r.pred) { /* the token tasks' predictions */
                nb_clear_error();
                st = task->on_pred(task->pred_ctx, &b, r.pred);
                if (st && !*nb_last_error()) nb__err(st, "nb_evaluate: the prediction callback failed");
            }
            if (!st && outputs && cls) {
                nb_tensor *pr = nb_softmax(r.logits, 1);
                if (!pr) st = NB_ERR_MEM;
                else {
                    int64_t k = nb_tensor_size(pr, 1);
                    memcpy(outputs + written * k, nb_tensor_data(pr), (size_t)(b.n * k) * sizeof(float));
                    written += b.n;
                }
            }
        }
        s.samples += b.n;
        nb_step_reset();
    }
    if (st) { /* finish the epoch so that the source (a loader's thread) is left idle */
        while (src->next(src->ctx, &b)) {
        }
    }
    nb_no_grad_end();
    if (m) nb_model_set_training(m, was);
    if (st) return st;
    finish(&s, task->kind, out);
    return NB_OK;
}
