/* Keeping the processes of a data-parallel run in step: the launcher's world size, models and
 * optimizers broadcast from rank 0, batch norm's buffers averaged, gradients averaged by the
 * step's weights (the loops' hook, with a stop every process agrees on), an epoch's figures
 * and a confusion matrix summed. Built on the primitives of comm_mpi.c / comm_none.c. */
#include "dist/dist_impl.h"
#include "metrics/metrics_impl.h"
#include "train/train_impl.h"

#include <math.h>

int nb_dist_launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        char *end;
        long n = v ? strtol(v, &end, 10) : 0;
        if (v && *v && !*end && n >= 1 && n <= 1 << 24) return (int)n;
    }
    return 0;
}

/* FNV-1a over the bytes, then their count. */
static uint64_t hash_bytes(const void *bytes, size_t n) {
    const unsigned char *p = bytes;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return (h ^ (uint64_t)n) * 0x100000001b3ull;
}

nb_status nb_dist_check_same(const void *bytes, size_t n, const char *what) {
    if (!bytes && n) return nb__err(NB_ERR_ARG, "nb_dist_check_same: bytes is NULL");
    bool same;
    nb_status st = nb__dist_same_u64(hash_bytes(bytes, n), &same);
    if (st) return st;
    return same ? NB_OK
                : nb__err(NB_ERR_STATE, "%s differs between the processes (each must be given the same)",
                          what ? what : "the data");
}

/* The slab sizes must agree before a broadcast or a reduction of the slabs. */
static nb_status same_sizes(const char *fn, const char *what, int64_t a, int64_t b) {
    int64_t v[2] = {a, b};
    char msg[160];
    snprintf(msg, sizeof msg, "%s: the size of %s", fn, what);
    return nb_dist_check_same(v, sizeof v, msg);
}

static nb_status broadcast_slab(nb_params *p) {
    return nb_dist_broadcast(nb_params_data(p), (size_t)nb_params_numel(p) * sizeof(float));
}

nb_status nb_dist_broadcast_model(nb_model *m, nb_optim *opt) {
    if (!m) return nb__err(NB_ERR_ARG, "nb_dist_broadcast_model: the model is NULL");
    nb_params *p = nb_model_params(m), *b = nb_model_buffers(m);
    /* an optimizer's state slabs are as long as the parameter slab it was made over */
    const int64_t np = nb_params_numel(p), sizes[3] = {np, nb_params_numel(b), opt ? nb_optim_state_count(opt) : -1};
    nb_status st = nb_dist_check_same(sizes, sizeof sizes, "nb_dist_broadcast_model: the size of the model's "
                                      "parameters, buffers or optimizer state");
    if (!st) st = broadcast_slab(p);
    if (!st) st = broadcast_slab(b);
    if (st || !opt) return st;
    int64_t steps = nb_optim_steps(opt);
    if (!(st = nb_dist_broadcast(&steps, sizeof steps))) nb_optim_set_steps(opt, steps);
    for (int i = 0; i < nb_optim_state_count(opt) && !st; i++)
        st = nb_dist_broadcast(nb_optim_state(opt, i, NULL), (size_t)np * sizeof(float));
    return st;
}

nb_status nb_dist_average_buffers(nb_model *m) {
    if (!m) return nb__err(NB_ERR_ARG, "nb_dist_average_buffers: the model is NULL");
    int size = nb_dist_size();
    nb_params *b = nb_model_buffers(m);
    int64_t n = nb_params_numel(b);
    if (size == 1) return NB_OK;
    nb_status st = same_sizes("nb_dist_average_buffers", "the model's buffers", n, 0);
    if (st || n == 0) return st;
    float *x = nb_params_data(b);
    if ((st = nb__dist_sum_f32(x, n))) return st;
    for (int64_t i = 0; i < n; i++) x[i] = (float)((double)x[i] / size);
    return NB_OK;
}

/* sum over processes of (weight * gradient) / sum of the weights, and the largest stop. */
static nb_status average(nb_params *p, double weight, int *stop) {
    if (!p) return nb__err(NB_ERR_ARG, "nb_dist_allreduce_grads: the parameters are NULL");
    if (!(weight >= 0) || !isfinite(weight))
        return nb__err(NB_ERR_ARG, "nb_dist_allreduce_grads: weight %g, expected a finite number >= 0", weight);
    if (nb_dist_size() == 1) return NB_OK;
    double total = weight;
    nb_status st = nb__dist_weight_stop(&total, stop);
    if (st) return st;
    float *g = nb_params_grad(p);
    int64_t n = nb_params_numel(p);
    /* every process has weight 0 only if every share was empty (a global batch of none) */
    const double share = total > 0 ? weight / total : 0.0;
    if (share != 1.0) {
#pragma omp parallel for schedule(static) if (n > 262144)
        for (int64_t i = 0; i < n; i++) g[i] = share == 0.0 ? 0.0f : (float)((double)g[i] * share);
    }
    return nb__dist_sum_f32(g, n);
}

nb_status nb_dist_allreduce_grads(nb_params *p, double weight) {
    int stop = 0;
    return average(p, weight, &stop);
}

nb_status nb_dist_grad_hook(void *ctx, nb_params *grads_of, double weight) {
    nb_dist_sync *s = ctx;
    int stop = s && s->local_stop ? s->local_stop(s->local_stop_ctx) : 0;
    double t0 = nb__dist_now();
    nb_status st = average(grads_of, weight, &stop);
    if (s) {
        s->comm_seconds += nb__dist_now() - t0;
        s->calls++;
        s->bytes += nb_params_numel(grads_of) * (int64_t)sizeof(float);
        if (stop > s->stop) s->stop = stop;
    }
    return st;
}

bool nb_dist_stop(void *ctx) { return ctx && ((const nb_dist_sync *)ctx)->stop != 0; }

nb_status nb_dist_reduce_stats(nb_epoch_stats *s, nb_task_kind kind) {
    if (!s) return nb__err(NB_ERR_ARG, "nb_dist_reduce_stats: the stats are NULL");
    if (nb_dist_size() == 1) return NB_OK;
    const bool lm = kind == NB_TASK_LM, acc = nb__task_has_accuracy(kind);
    const double w = nb__task_per_token(kind) ? (double)s->tokens : (double)s->samples, n = (double)s->samples;
    /* sums: loss * weight, correct, weight, samples, tokens, samples with metrics, metric * samples */
    double v[6 + NB_MAX_METRICS] = {w > 0 ? s->loss * w : 0, w > 0 && acc ? s->accuracy * w : 0, w, n,
                                    (double)s->tokens, s->n_metrics > 0 ? n : 0};
    for (int i = 0; i < s->n_metrics && i < NB_MAX_METRICS; i++) v[6 + i] = n > 0 ? s->metric[i] * n : 0;
    double mx[2] = {s->seconds, s->n_metrics};
    nb_status st = nb_dist_sum(v, 6 + NB_MAX_METRICS);
    if (!st) st = nb_dist_max(mx, 2);
    if (st) return st;
    s->loss = v[2] > 0 ? v[0] / v[2] : NAN;
    s->accuracy = acc && v[2] > 0 ? v[1] / v[2] : NAN;
    s->bits = lm ? s->loss / log(2.0) : NAN;
    s->samples = (int64_t)v[3];
    s->tokens = (int64_t)v[4];
    s->seconds = mx[0];
    int k = (int)mx[1];
    /* a process that saw no sample does not know the metrics' names (rank 0 always does when
     * any process does: it takes the first rows) */
    for (int i = s->n_metrics; i < k; i++) s->metric_name[i] = "metric";
    s->n_metrics = k;
    for (int i = 0; i < k; i++) s->metric[i] = v[5] > 0 ? v[6 + i] / v[5] : NAN;
    return NB_OK;
}

nb_status nb_dist_reduce_confusion(nb_confusion *c) {
    if (!c) return nb__err(NB_ERR_ARG, "nb_dist_reduce_confusion: the matrix is NULL");
    if (nb_dist_size() == 1) return NB_OK;
    nb_status st = same_sizes("nb_dist_reduce_confusion", "the confusion matrix", c->k, 0);
    if (st) return st;
    int64_t kk = (int64_t)c->k * c->k;
    double *v = malloc((size_t)(kk > 0 ? kk : 1) * sizeof(double));
    if (!v) return nb__err(NB_ERR_MEM, "nb_dist_reduce_confusion: out of memory");
    for (int64_t i = 0; i < kk; i++) v[i] = (double)c->m[i]; /* exact below 2^53 */
    st = nb_dist_sum(v, (int)kk);
    for (int64_t i = 0; !st && i < kk; i++) c->m[i] = (int64_t)v[i];
    free(v);
    return st;
}

nb_status nb_dist_reduce_entities(nb_entity_report *r) {
    if (!r) return nb__err(NB_ERR_ARG, "nb_dist_reduce_entities: the report is NULL");
    if (nb_dist_size() == 1) return NB_OK;
    int64_t n;
    int64_t *c = nb__entity_report_tallies(r, &n);
    nb_status st = same_sizes("nb_dist_reduce_entities", "the entity report", n, 0);
    if (st) return st;
    double *v = malloc((size_t)n * sizeof(double));
    if (!v) return nb__err(NB_ERR_MEM, "nb_dist_reduce_entities: out of memory");
    for (int64_t i = 0; i < n; i++) v[i] = (double)c[i]; /* exact below 2^53 */
    st = nb_dist_sum(v, (int)n);
    for (int64_t i = 0; !st && i < n; i++) c[i] = (int64_t)v[i];
    free(v);
    return st;
}
