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

/* Sum of squares of each gradient in double, in fixed chunks (CHUNK floats of one tensor)
 * reduced in order, tensor by tensor: the same result whatever the thread count. All chunks of
 * all tensors are summed in one parallel region (a model has tens of small tensors, and each
 * region costs a thread's wake-up). */
#define CHUNK 16384
/* Over this many chunks (131072 floats, about 130 us of double sums on one core) the sums and the
 * scaling go to the threads: a region costs 80-160 us on the 2-core VMs (docs/architecture.md). */
#define PAR_CHUNKS 8
static double chunk_squares(const float *g, int64_t lo, int64_t hi) {
    double a = 0.0;
    for (int64_t i = lo; i < hi; i++) a += (double)g[i] * g[i];
    return a;
}

/* The tensor of flat chunk c: first[i] is tensor i's first chunk, first[np] the count. */
static int chunk_tensor(const int64_t *first, int np, int64_t c) {
    int a = 0, b = np - 1;
    while (a < b) {
        const int m = (a + b + 1) / 2;
        if (first[m] <= c) a = m;
        else b = m - 1;
    }
    return a;
}

float nb_clip_grad_norm(nb_params *p, float max_norm) {
    if (!p || !(max_norm >= 0.0f)) {
        nb__err(NB_ERR_ARG, "nb_clip_grad_norm: %s",
                p ? "max_norm must be >= 0" : "params is NULL");
        return NAN;
    }
    /* The work list lives on the stack for models up to 256 tensors and 512 chunks (8M floats:
     * every zoo model), so clipping in a training step allocates nothing; beyond, the heap. */
    enum { NB_CLIP_TENSORS = 256, NB_CLIP_CHUNKS = 512 };
    const int np = nb_params_count(p);
    int64_t first_stack[NB_CLIP_TENSORS + 1], chunks = 0;
    int64_t *first = np <= NB_CLIP_TENSORS ? first_stack : malloc((size_t)(np + 1) * sizeof(int64_t));
    if (first) {
        for (int i = 0; i < np; i++) {
            first[i] = chunks;
            chunks += (nb_tensor_numel(nb_params_get(p, i)) + CHUNK - 1) / CHUNK;
        }
        first[np] = chunks;
    }
    double stack[NB_CLIP_CHUNKS];
    double *part = !first ? NULL : chunks <= NB_CLIP_CHUNKS ? stack : malloc((size_t)chunks * sizeof(double));
    double ss = 0.0;
    if (!part) { /* no memory: the same chunks, one after another */
        for (int i = 0; i < np; i++) {
            nb_tensor *t = nb_params_get(p, i);
            const float *g = nb_tensor_grad(t);
            const int64_t n = nb_tensor_numel(t);
            double acc = 0.0;
            for (int64_t lo = 0; lo < n; lo += CHUNK) acc += chunk_squares(g, lo, lo + CHUNK < n ? lo + CHUNK : n);
            ss += acc;
        }
    } else {
#pragma omp parallel for schedule(static) if (chunks > PAR_CHUNKS)
        for (int64_t c = 0; c < chunks; c++) {
            const int i = chunk_tensor(first, np, c);
            nb_tensor *t = nb_params_get(p, i);
            const int64_t n = nb_tensor_numel(t), lo = (c - first[i]) * CHUNK;
            part[c] = chunk_squares(nb_tensor_grad(t), lo, lo + CHUNK < n ? lo + CHUNK : n);
        }
        for (int i = 0; i < np; i++) {
            double acc = 0.0;
            for (int64_t c = first[i]; c < first[i + 1]; c++) acc += part[c];
            ss += acc;
        }
    }
    const double norm = sqrt(ss), coef = (double)max_norm / (norm + 1e-6);
    /* Scales only when the norm is over the limit. A NaN or infinite norm scales nothing: the
     * caller sees it in the result (PyTorch would turn every gradient into NaN). */
    if (isfinite(norm) && coef < 1.0) {
        const float k = (float)coef;
        if (part) {
#pragma omp parallel for schedule(static) if (chunks > PAR_CHUNKS)
            for (int64_t c = 0; c < chunks; c++) {
                const int i = chunk_tensor(first, np, c);
                nb_tensor *t = nb_params_get(p, i);
                float *g = nb_tensor_grad(t);
                const int64_t n = nb_tensor_numel(t), lo = (c - first[i]) * CHUNK, hi = lo + CHUNK < n ? lo + CHUNK : n;
                for (int64_t j = lo; j < hi; j++) g[j] *= k;
            }
        } else {
            for (int i = 0; i < np; i++) {
                nb_tensor *t = nb_params_get(p, i);
                float *g = nb_tensor_grad(t);
                const int64_t n = nb_tensor_numel(t);
                for (int64_t j = 0; j < n; j++) g[j] *= k;
            }
        }
    }
    if (part != stack) free(part);
    if (first != first_stack) free(first);
    return (float)norm;
}
