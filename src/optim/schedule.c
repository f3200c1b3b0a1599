/* Learning-rate schedules (closed forms of torch.optim.lr_scheduler's StepLR and
 * CosineAnnealingLR, with an optional linear warm-up) and gradient clipping by global norm
 * (torch.nn.utils.clip_grad_norm_). */
#include "internal.h"

#include <math.h>

#define NB_PI 3.14159265358979323846

float nb_schedule_lr(const nb_schedule *s, float base_lr, int64_t e) {
    if (!s) {
        nb__err(NB_ERR_ARG, "nb_schedule_lr: schedule is NULL");
        return NAN;
    }
    if (e < 0 || s->warmup < 0) {
        nb__err(NB_ERR_ARG, "nb_schedule_lr: epoch %lld and warmup %lld must be >= 0", (long long)e,
                (long long)s->warmup);
        return NAN;
    }
    /* Linear warm-up: base * (e+1)/warmup for e < warmup (as LinearLR with start_factor
     * 1/warmup over warmup-1 steps); the schedule proper then starts from 0. */
    if (e < s->warmup) return (float)((double)base_lr * (double)(e + 1) / (double)s->warmup);
    e -= s->warmup;
    switch (s->kind) {
    case NB_SCHED_CONSTANT: return base_lr;
    case NB_SCHED_STEP:
        if (s->step_size < 1 || !isfinite(s->gamma)) {
            nb__err(NB_ERR_ARG,
                    "nb_schedule_lr: step schedule needs step_size >= 1 and a finite "
                    "gamma, got %lld and %g",
                    (long long)s->step_size, (double)s->gamma);
            return NAN;
        }
        return (float)((double)base_lr * pow((double)s->gamma, (double)(e / s->step_size)));
    case NB_SCHED_COSINE: {
        if (s->t_max < 1 || s->t_max > INT64_MAX / 2 || !isfinite(s->eta_min)) {
            nb__err(NB_ERR_ARG,
                    "nb_schedule_lr: cosine schedule needs t_max in [1, 2^62] and a finite "
                    "eta_min, got %lld and %g",
                    (long long)s->t_max, (double)s->eta_min);
            return NAN;
        }
        /* pi e / t_max, reduced modulo 2 pi first so huge e stay exact. */
        const double ph = (double)(e % (2 * s->t_max)) / (double)s->t_max;
        const double lo = s->eta_min;
        return (float)(lo + ((double)base_lr - lo) * (1.0 + cos(NB_PI * ph)) / 2.0);
    }
    }
    nb__err(NB_ERR_ARG, "nb_schedule_lr: unknown schedule kind %d", (int)s->kind);
    return NAN;
}

/* Sum of squares of g (n floats) in double, in fixed chunks reduced in order: the same result
 * whatever the thread count. */
#define CHUNK 16384
static double sum_squares(const float *g, int64_t n) {
    const int64_t chunks = (n + CHUNK - 1) / CHUNK;
    double stack[64], *part = chunks <= 64 ? stack : malloc((size_t)chunks * sizeof(double));
    if (!part) { /* no memory for the partial sums: the same chunks, one after another */
        double acc = 0.0;
        for (int64_t c = 0; c < chunks; c++) {
            double a = 0.0;
            for (int64_t i = c * CHUNK; i < n && i < (c + 1) * CHUNK; i++) a += (double)g[i] * g[i];
            acc += a;
        }
        return acc;
    }
#pragma omp parallel for schedule(static) if (chunks > 4)
    for (int64_t c = 0; c < chunks; c++) {
        double a = 0.0;
        const int64_t end = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
        for (int64_t i = c * CHUNK; i < end; i++) a += (double)g[i] * g[i];
        part[c] = a;
    }
    double acc = 0.0;
    for (int64_t c = 0; c < chunks; c++) acc += part[c];
    if (part != stack) free(part);
    return acc;
}

float nb_clip_grad_norm(nb_params *p, float max_norm) {
    if (!p || !(max_norm >= 0.0f)) {
        nb__err(NB_ERR_ARG, "nb_clip_grad_norm: %s",
                p ? "max_norm must be >= 0" : "params is NULL");
        return NAN;
    }
    /* Per parameter (the slab's alignment gaps are left out), in a fixed order. */
    const int np = nb_params_count(p);
    double ss = 0.0;
    for (int i = 0; i < np; i++) {
        nb_tensor *t = nb_params_get(p, i);
        ss += sum_squares(nb_tensor_grad(t), nb_tensor_numel(t));
    }
    const double norm = sqrt(ss), coef = (double)max_norm / (norm + 1e-6);
    /* Scales only when the norm is over the limit. A NaN or infinite norm scales nothing: the
     * caller sees it in the result (PyTorch would turn every gradient into NaN). */
    if (isfinite(norm) && coef < 1.0) {
        const float k = (float)coef;
        for (int i = 0; i < np; i++) {
            nb_tensor *t = nb_params_get(p, i);
            float *g = nb_tensor_grad(t);
            const int64_t n = nb_tensor_numel(t);
#pragma omp parallel for schedule(static) if (n > 65536)
            for (int64_t j = 0; j < n; j++) g[j] *= k;
        }
    }
    return (float)norm;
}
