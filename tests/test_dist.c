/* Data-parallel training (src/dist/, include/nabla/dist.h).
 *
 * Alone (no launcher), it checks what needs no second process: the split of a batch among
 * processes, the shard source of a world of one (the batches as they are), and that every
 * collective of a world of one leaves its data alone.
 *
 * Under mpirun (tests/dist/test_dist_mpi.sh runs it with 2 and 3 processes), each case trains
 * with the library's pieces (weights broadcast, each process's share of every global batch,
 * the gradient hook) and checks that every process ends with the same weights, bit for bit,
 * and that rank 0's one-process run over the same global batches reaches the same weights
 * within float tolerance: an MLP with an uneven last batch, LeNet-5 whose last batch is a single
 * sample (an empty share for rank 1 and up), gradient clipping on the averaged gradient, a
 * stateful LSTM language model over a stream (rows that continue, per-token labels, an
 * evaluation with lengths), a GAN (both models averaged), batch norm's buffers averaged, and a
 * stop requested on one process that every process obeys after the same step.
 *   test_dist fail: rank 1 fails in the middle of an epoch while the others wait in the
 *   gradient all-reduce, and ends the job with nb_dist_abort (the script checks that mpirun
 *   exits with an error, soon). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nabla/nabla.h"

#define MNIST "fixtures/mnist-small"

static int g_rank, g_size;

/* max over the values of |a - b| / (atol + rtol |b|): <= 1 when within tolerance */
static double worst(const float *a, const float *b, int64_t n, double atol, double rtol) {
    double w = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (atol + rtol * fabs((double)b[i]));
        if (!(d <= w)) w = d; /* NaN wins */
    }
    return w;
}

static nb_dataset *mnist(int64_t n) {
    nb_dataset *all = nb_mnist_load(MNIST, 1);
    if (!all) return NULL;
    nb_dataset *d = nb_dataset_slice(all, 0, n);
    nb_dataset_free(all);
    return d;
}

/* ---- without a second process ------------------------------------------------------------- */
static void test_split(void) {
    for (int size = 1; size <= 5; size++)
        for (int64_t n = 0; n <= 13; n++) {
            int64_t next = 0, lo = n, hi = 0;
            for (int r = 0; r < size; r++) {
                int64_t s, k;
                nb_dist_split(n, r, size, &s, &k);
                CHECK(s == next, "split(%lld, %d of %d) starts at %lld, expected %lld", (long long)n, r, size,
                      (long long)s, (long long)next);
                CHECK(k == n / size + (r < n % size), "split(%lld, %d of %d) takes %lld", (long long)n, r, size,
                      (long long)k);
                next = s + k;
                lo = k < lo ? k : lo, hi = k > hi ? k : hi;
            }
            CHECK(next == n && hi - lo <= 1, "split of %lld over %d: %lld rows, shares %lld..%lld", (long long)n, size,
                  (long long)next, (long long)lo, (long long)hi);
        }
    int64_t s = 7, k = 7;
    nb_dist_split(10, 3, 2, &s, &k);
    CHECK(s == 0 && k == 0, "a rank outside the world takes nothing");
}

/* The shard of a world of one hands out the global batches unchanged. */
static void test_world_of_one(void) {
    CHECK(nb_dist_size() == 1 && nb_dist_rank() == 0, "a world of one: rank %d of %d", nb_dist_rank(), nb_dist_size());
    nb_dataset *d = mnist(70);
    if (!d) {
        CHECK(0, "%s", nb_last_error());
        return;
    }
    nb_loader *l = nb_loader_new(d, 32, 1, 3, 0);
    nb_batch_source src = nb_loader_source(l);
    nb_dist_shard *sh = nb_dist_shard_new(&src, NB_TASK_CLASSIFY, true);
    nb_batch_source s = nb_dist_shard_source(sh);
    CHECK(s.count(s.ctx) == 3, "the shard counts the global batches");
    s.start(s.ctx, 0);
    nb_batch b;
    int64_t total = 0;
    while (s.next(s.ctx, &b)) total += b.n;
    CHECK(total == 70, "the shard of a world of one hands out all %lld samples", (long long)total);
    nb_dist_shard_free(sh);
    nb_loader_free(l);
    nb_dataset_free(d);
    double x[2] = {1.5, -2};
    nb_epoch_stats st = {.loss = 0.25, .accuracy = 0.5, .samples = 4, .seconds = 1, .bits = NAN};
    uint64_t h[4] = {1, 2, 3, 4};
    CHECK(!nb_dist_sum(x, 2) && !nb_dist_max(x, 2) && x[0] == 1.5 && x[1] == -2, "collectives of one: no change");
    CHECK(!nb_dist_reduce_stats(&st, NB_TASK_CLASSIFY) && st.loss == 0.25 && st.samples == 4, "stats of one: kept");
    CHECK(!nb_dist_broadcast(h, sizeof h) && h[3] == 4, "broadcast of one: kept");
    CHECK(!nb_dist_check_same("abc", 3, "x"), "one process agrees with itself");
    CHECK(nb_dist_shard_new(NULL, NB_TASK_CLASSIFY, true) == NULL && strstr(nb_last_error(), "global batch source"),
          "a shard needs a source: %s", nb_last_error());
}

/* ---- one training run, distributed or alone ---------------------------------------------------- */
typedef struct cfg {
    const char *name;
    const char *model;   /* a zoo image model, or NULL: build() */
    nb_model *(*build)(void);
    int64_t n, batch;
    int epochs;
    bool sgd;
    float clip, lr;
    double atol, rtol;   /* the weights' tolerance against the one-process run */
} cfg;

typedef struct result {
    nb_model *m;
    nb_optim *opt;
    double loss[4], acc[4];
} result;

/* Trains cfg on d: with dist, each process takes its share and the hook averages the
 * gradients (every process must call it); alone, the plain one-process loop. */
static nb_status train(const cfg *c, const nb_dataset *d, bool dist, result *out) {
    memset(out, 0, sizeof *out);
    nb_seed(7);
    out->m = c->model ? nb_zoo_new(c->model, d->c, d->h, d->w, 10) : c->build();
    if (!out->m) return NB_ERR_ARG;
    nb_params *p = nb_model_params(out->m);
    out->opt = c->sgd ? nb_sgd_new(p, (nb_sgd_opts){c->lr, 0.9f, 0.0f, false}) : nb_adam_new(p, nb_adam_defaults(c->lr));
    nb_status st = dist ? nb_dist_broadcast_model(out->m, out->opt) : NB_OK;
    nb_loader *l = nb_loader_new(d, c->batch, 1, 5, 0);
    nb_batch_source src = nb_loader_source(l), s = src;
    nb_dist_shard *sh = dist ? nb_dist_shard_new(&src, NB_TASK_CLASSIFY, true) : NULL;
    if (sh) s = nb_dist_shard_source(sh);
    nb_dist_sync sync = {0};
    nb_train_opts o = {.clip = c->clip};
    if (dist) o.grad_hook = nb_dist_grad_hook, o.grad_hook_ctx = &sync, o.stop = nb_dist_stop, o.stop_ctx = &sync;
    nb_task task = nb_task_new(NB_TASK_CLASSIFY);
    for (int e = 0; e < c->epochs && !st; e++) {
        nb_epoch_stats es;
        st = nb_train_epoch(out->m, out->opt, &task, &s, e, &o, &es);
        if (!st && dist) st = nb_dist_reduce_stats(&es, NB_TASK_CLASSIFY);
        if (!st) out->loss[e] = es.loss, out->acc[e] = es.accuracy;
    }
    nb_dist_shard_free(sh);
    nb_loader_free(l);
    return st;
}

static void free_result(result *r) {
    nb_optim_free(r->opt);
    nb_model_free(r->m);
}

/* Every process's slabs are the same, bit for bit. */
static void check_same_everywhere(const char *name, nb_model *m, nb_optim *opt) {
    nb_params *p = nb_model_params(m);
    const size_t bytes = (size_t)nb_params_numel(p) * sizeof(float);
    CHECK(!nb_dist_check_same(nb_params_data(p), bytes, "the weights"), "%s: %s", name, nb_last_error());
    for (int i = 0; opt && i < nb_optim_state_count(opt); i++)
        CHECK(!nb_dist_check_same(nb_optim_state(opt, i, NULL), bytes, "the optimizer state"), "%s: %s", name,
              nb_last_error());
    int64_t steps = opt ? nb_optim_steps(opt) : 0;
    CHECK(!nb_dist_check_same(&steps, sizeof steps, "the steps"), "%s: %s", name, nb_last_error());
}

static void classify_case(const cfg *c) {
    nb_dataset *d = mnist(c->n);
    if (!d) {
        CHECK(0, "%s: %s", c->name, nb_last_error());
        return;
    }
    result r;
    nb_status st = train(c, d, true, &r);
    CHECK(!st, "%s: distributed training: %s", c->name, nb_last_error());
    if (!st) check_same_everywhere(c->name, r.m, r.opt);
    if (g_rank == 0 && !st) { /* the one-process run over the same global batches */
        result ref;
        st = train(c, d, false, &ref);
        CHECK(!st, "%s: one-process training: %s", c->name, nb_last_error());
        nb_params *a = nb_model_params(r.m), *b = !st ? nb_model_params(ref.m) : NULL;
        double w = b ? worst(nb_params_data(a), nb_params_data(b), nb_params_numel(a), c->atol, c->rtol) : INFINITY;
        CHECK(w <= 1, "%s: the weights of %d processes and of one differ by %.3g of the tolerance", c->name, g_size, w);
        for (int e = 0; b && e < c->epochs; e++) {
            CHECK(fabs(r.loss[e] - ref.loss[e]) <= 1e-5 * fabs(ref.loss[e]) + 1e-7,
                  "%s: epoch %d: loss %.9g distributed, %.9g alone", c->name, e + 1, r.loss[e], ref.loss[e]);
            CHECK(fabs(r.acc[e] - ref.acc[e]) <= 1.5 / (double)c->n, "%s: epoch %d: accuracy %.6f distributed, %.6f alone",
                  c->name, e + 1, r.acc[e], ref.acc[e]);
        }
        printf("%s: %d processes vs one: weights within %.3g of the tolerance (atol %g, rtol %g); loss %.7f vs %.7f\n",
               c->name, g_size, w, c->atol, c->rtol, r.loss[c->epochs - 1], ref.loss[c->epochs - 1]);
        free_result(&ref);
    }
    free_result(&r);
    nb_dataset_free(d);
}

/* ---- a stateful language model over a stream ------------------------------------------------ */
#define LM_V 12
static nb_model *tiny_lm(void) {
    nb_rnn_opts o = nb_rnn_defaults();
    o.stateful = true;
    nb_module *r = nb_recurrent_new(nb_embedding_new(LM_V, 8, -1), nb_rnn_new(NB_RNN_LSTM, 8, 24, o), NB_SEQ_NONE,
                                    nb_linear_new(24, LM_V, true));
    return r ? nb_model_new(r, NB_INIT_DEFAULT) : NULL;
}

/* Trains the LM on the stream (and evaluates it on valid), distributed or alone. */
static nb_status train_lm(const int64_t *ids, int64_t n, const int64_t *valid, int64_t nv, bool dist, result *out,
                          nb_epoch_stats *ev) {
    memset(out, 0, sizeof *out);
    nb_seed(11);
    out->m = tiny_lm();
    out->opt = out->m ? nb_adam_new(nb_model_params(out->m), nb_adam_defaults(0.01f)) : NULL;
    if (!out->opt) return NB_ERR_MEM;
    nb_status st = dist ? nb_dist_broadcast_model(out->m, out->opt) : NB_OK;
    nb_stream_loader *l = nb_stream_loader_new(ids, n, 5, 16, true), *lv = nb_stream_loader_new(valid, nv, 3, 16, false);
    nb_batch_source src = nb_stream_loader_source(l), s = src, vsrc = nb_stream_loader_source(lv), vs = vsrc;
    nb_dist_shard *sh = dist ? nb_dist_shard_new(&src, NB_TASK_LM, true) : NULL;
    nb_dist_shard *shv = dist ? nb_dist_shard_new(&vsrc, NB_TASK_LM, false) : NULL;
    if (sh) s = nb_dist_shard_source(sh), vs = nb_dist_shard_source(shv);
    nb_dist_sync sync = {0};
    nb_train_opts o = {.clip = 1.0f};
    if (dist) o.grad_hook = nb_dist_grad_hook, o.grad_hook_ctx = &sync;
    nb_task task = nb_task_new(NB_TASK_LM);
    for (int e = 0; e < 2 && !st; e++) {
        nb_epoch_stats es;
        st = nb_train_epoch(out->m, out->opt, &task, &s, e, &o, &es);
        if (!st && dist) st = nb_dist_reduce_stats(&es, NB_TASK_LM);
        if (!st) out->loss[e] = es.loss, out->acc[e] = es.accuracy;
    }
    if (!st) st = nb_evaluate(out->m, &task, &vs, NULL, NULL, ev);
    if (!st && dist) st = nb_dist_reduce_stats(ev, NB_TASK_LM);
    nb_dist_shard_free(sh);
    nb_dist_shard_free(shv);
    nb_stream_loader_free(l);
    nb_stream_loader_free(lv);
    return st;
}

static void lm_case(void) {
    enum { N = 1700, NV = 230 };
    static int64_t ids[N], valid[NV];
    uint64_t s = 42;
    for (int i = 0; i < N + NV; i++) { /* a walk that mostly steps by one: something to learn */
        int64_t prev = i ? (i - 1 < N ? ids[i - 1] : valid[i - 1 - N]) : 0;
        int64_t v = nb_splitmix64(&s) % 5 == 0 ? (int64_t)(nb_splitmix64(&s) % LM_V) : (prev + 1) % LM_V;
        if (i < N) ids[i] = v;
        else valid[i - N] = v;
    }
    result r;
    nb_epoch_stats ev;
    nb_status st = train_lm(ids, N, valid, NV, true, &r, &ev);
    CHECK(!st, "lm: distributed training: %s", nb_last_error());
    if (!st) check_same_everywhere("lm", r.m, r.opt);
    if (g_rank == 0 && !st) {
        result ref;
        nb_epoch_stats evr;
        st = train_lm(ids, N, valid, NV, false, &ref, &evr);
        CHECK(!st, "lm: one-process training: %s", nb_last_error());
        nb_params *a = nb_model_params(r.m), *b = !st ? nb_model_params(ref.m) : NULL;
        double w = b ? worst(nb_params_data(a), nb_params_data(b), nb_params_numel(a), 1e-5, 1e-3) : INFINITY;
        CHECK(w <= 1, "lm: the weights of %d processes and of one differ by %.3g of the tolerance", g_size, w);
        for (int e = 0; b && e < 2; e++)
            CHECK(fabs(r.loss[e] - ref.loss[e]) <= 1e-5 * ref.loss[e], "lm: epoch %d: loss %.9g distributed, %.9g alone",
                  e + 1, r.loss[e], ref.loss[e]);
        CHECK(b && fabs(ev.loss - evr.loss) <= 1e-5 * evr.loss && ev.tokens == evr.tokens && ev.samples == evr.samples,
              "lm: evaluation: loss %.9g over %lld tokens distributed, %.9g over %lld alone", ev.loss,
              (long long)ev.tokens, evr.loss, (long long)evr.tokens);
        printf("lm: %d processes vs one: weights within %.3g of the tolerance; validation loss %.7f vs %.7f over %lld "
               "tokens\n", g_size, w, ev.loss, evr.loss, (long long)evr.tokens);
        free_result(&ref);
    }
    free_result(&r);
}

/* ---- a GAN: both models averaged -------------------------------------------------------------- */
static void gan_case(void) {
    nb_dataset *d = mnist(200);
    if (!d) {
        CHECK(0, "gan: %s", nb_last_error());
        return;
    }
    d->mean = 0.5f, d->std = 0.5f;
    nb_seed(3);
    nb_gan g = {.z_dim = 16};
    nb_status st = nb_zoo_gan_new("gan", 1, 28, 28, g.z_dim, &g.generator, &g.discriminator);
    nb_adam_opts ao = nb_adam_defaults(2e-4f);
    ao.beta1 = 0.5f;
    if (!st) g.opt_g = nb_adam_new(nb_model_params(g.generator), ao), g.opt_d = nb_adam_new(nb_model_params(g.discriminator), ao);
    if (!st) st = nb_dist_broadcast_model(g.generator, g.opt_g);
    if (!st) st = nb_dist_broadcast_model(g.discriminator, g.opt_d);
    nb_dist_sync sync = {0};
    g.grad_hook = nb_dist_grad_hook, g.grad_hook_ctx = &sync;
    nb_loader *l = nb_loader_new(d, 64, 1, 1, 0); /* 200 = 3 x 64 + 8 */
    nb_batch_source src = nb_loader_source(l);
    nb_dist_shard *sh = nb_dist_shard_new(&src, NB_TASK_CUSTOM, true);
    nb_batch_source s = nb_dist_shard_source(sh);
    nb_task task = nb_task_gan(&g);
    nb_train_opts o = {.stop = nb_dist_stop, .stop_ctx = &sync};
    nb_epoch_stats es = {0};
    if (!st) st = nb_train_epoch(NULL, NULL, &task, &s, 0, &o, &es);
    if (!st) st = nb_dist_reduce_stats(&es, NB_TASK_CUSTOM);
    CHECK(!st, "gan: %s", nb_last_error());
    CHECK(sync.calls == 8, "gan: %lld all-reduces in 4 steps, expected 8 (the discriminator's and the generator's)",
          (long long)sync.calls);
    CHECK(es.samples == 200 && es.n_metrics == 4 && isfinite(es.loss), "gan: %lld samples, %d metrics, loss %g",
          (long long)es.samples, es.n_metrics, es.loss);
    if (!st) {
        check_same_everywhere("gan generator", g.generator, g.opt_g);
        check_same_everywhere("gan discriminator", g.discriminator, g.opt_d);
    }
    /* The processes drew different noise: a process's generator output for the same z after
     * its own draws would be the same anyway, so look at the RNG itself. */
    uint64_t rs[4];
    nb_rng_get_state(rs);
    CHECK(nb_dist_check_same(rs, sizeof rs, "the RNG") != NB_OK, "gan: every process drew the same noise");
    nb_dist_shard_free(sh);
    nb_loader_free(l);
    nb_optim_free(g.opt_g), nb_optim_free(g.opt_d);
    nb_model_free(g.generator), nb_model_free(g.discriminator);
    nb_dataset_free(d);
}

/* ---- batch norm's buffers ---------------------------------------------------------------------- */
static nb_model *bn_mlp(void) {
    nb_module *s = nb_sequential_new();
    nb_sequential_add(s, "flatten", nb_flatten_new());
    nb_sequential_add(s, "fc1", nb_linear_new(784, 32, true));
    nb_sequential_add(s, "bn", nb_batchnorm1d_new(32));
    nb_sequential_add(s, "relu", nb_activation_new(NB_ACT_RELU));
    nb_sequential_add(s, "fc2", nb_linear_new(32, 10, true));
    return nb_model_new(s, NB_INIT_DEFAULT);
}

static void bn_case(void) {
    nb_dataset *d = mnist(256);
    cfg c = {.name = "bn", .build = bn_mlp, .n = 256, .batch = 64, .epochs = 1, .lr = 1e-3f};
    result r;
    nb_status st = d ? train(&c, d, true, &r) : NB_ERR_ARG;
    CHECK(!st, "bn: %s", nb_last_error());
    if (!st) {
        nb_params *b = nb_model_buffers(r.m);
        int64_t n = nb_params_numel(b);
        float *x = nb_params_data(b);
        CHECK(nb_dist_check_same(x, (size_t)n * sizeof(float), "the buffers") != NB_OK,
              "bn: the running statistics of different shares should differ before averaging");
        double *mean = malloc((size_t)n * sizeof(double));
        for (int64_t i = 0; mean && i < n; i++) mean[i] = x[i];
        if (mean && !nb_dist_sum(mean, (int)n))
            for (int64_t i = 0; i < n; i++) mean[i] /= g_size;
        CHECK(mean && !nb_dist_average_buffers(r.m), "bn: averaging: %s", nb_last_error());
        CHECK(!nb_dist_check_same(x, (size_t)n * sizeof(float), "the buffers"), "bn: after averaging: %s", nb_last_error());
        double w = 0;
        for (int64_t i = 0; mean && i < n; i++) {
            double e = fabs(x[i] - mean[i]) / (1e-6 + 1e-6 * fabs(mean[i]));
            w = e > w ? e : w;
        }
        CHECK(w <= 1, "bn: the averaged buffers are off their mean by %.3g of the tolerance", w);
        check_same_everywhere("bn", r.m, r.opt);
        free(mean);
        free_result(&r);
    }
    nb_dataset_free(d);
}

/* ---- a stop asked on one process --------------------------------------------------------------- */
static int stop_at_third(void *ctx) {
    int *calls = ctx;
    return g_rank == g_size - 1 && ++*calls >= 3 ? 15 : 0;
}

static void stop_case(void) {
    nb_dataset *d = mnist(640);
    cfg c = {.name = "stop", .model = "mlp", .n = 640, .batch = 64, .epochs = 1, .lr = 1e-3f};
    nb_seed(7);
    nb_model *m = d ? nb_zoo_new(c.model, 1, 28, 28, 10) : NULL;
    nb_optim *opt = m ? nb_adam_new(nb_model_params(m), nb_adam_defaults(c.lr)) : NULL;
    nb_loader *l = opt ? nb_loader_new(d, c.batch, 1, 5, 0) : NULL;
    if (!l) {
        CHECK(0, "stop: %s", nb_last_error());
        return;
    }
    nb_batch_source src = nb_loader_source(l);
    nb_dist_shard *sh = nb_dist_shard_new(&src, NB_TASK_CLASSIFY, true);
    nb_batch_source s = nb_dist_shard_source(sh);
    int calls = 0;
    nb_dist_sync sync = {.local_stop = stop_at_third, .local_stop_ctx = &calls};
    nb_train_opts o = {.grad_hook = nb_dist_grad_hook, .grad_hook_ctx = &sync, .stop = nb_dist_stop, .stop_ctx = &sync};
    nb_task task = nb_task_new(NB_TASK_CLASSIFY);
    nb_epoch_stats es;
    nb_status st = nb_train_epoch(m, opt, &task, &s, 0, &o, &es);
    CHECK(st == NB_ERR_STATE && strstr(nb_last_error(), "interrupted at epoch 1 after batch 3 of 10"),
          "stop: rank %d: %s", g_rank, nb_last_error());
    CHECK(sync.stop == 15 && sync.calls == 3, "stop: rank %d: stop %d after %lld steps", g_rank, sync.stop,
          (long long)sync.calls);
    check_same_everywhere("stop", m, opt);
    nb_dist_shard_free(sh);
    nb_loader_free(l);
    nb_optim_free(opt);
    nb_model_free(m);
    nb_dataset_free(d);
}

/* ---- a process that fails ---------------------------------------------------------------------- */
static nb_status failing_hook(void *ctx, nb_params *p, double w) {
    int *calls = ctx;
    if (g_rank == 1 && ++*calls == 3) return nb_set_error(NB_ERR_STATE, "rank 1 fails at its third step");
    return nb_dist_grad_hook(NULL, p, w);
}

static int fail_mode(void) {
    nb_dataset *d = mnist(640);
    nb_seed(7);
    nb_model *m = d ? nb_zoo_new("mlp", 1, 28, 28, 10) : NULL;
    nb_optim *opt = m ? nb_adam_new(nb_model_params(m), nb_adam_defaults(1e-3f)) : NULL;
    nb_loader *l = opt ? nb_loader_new(d, 64, 1, 5, 0) : NULL;
    if (!l) return 2;
    nb_batch_source src = nb_loader_source(l);
    nb_dist_shard *sh = nb_dist_shard_new(&src, NB_TASK_CLASSIFY, true);
    nb_batch_source s = nb_dist_shard_source(sh);
    int calls = 0;
    nb_train_opts o = {.grad_hook = failing_hook, .grad_hook_ctx = &calls};
    nb_task task = nb_task_new(NB_TASK_CLASSIFY);
    nb_epoch_stats es;
    nb_status st = nb_train_epoch(m, opt, &task, &s, 0, &o, &es);
    if (st) {
        /* the others wait in the third step's all-reduce: end them all */
        fprintf(stderr, "test_dist fail: rank %d: %s: ending the job\n", g_rank, nb_last_error());
        nb_dist_abort(3);
    }
    printf("test_dist fail: rank %d finished its epoch (it should have been ended)\n", g_rank);
    nb_dist_finalize();
    return 0;
}

/* An entity report summed across the processes: each adds every size-th sentence (rank 0 more
 * of them), all learn the same training entities; after nb_dist_reduce_entities each holds
 * the report of all the sentences, unseen table and token accuracy included. */
static void entities_case(void) {
    const char *tags[] = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
    nb_entity_report *all = nb_entity_report_new(tags, 5), *mine = nb_entity_report_new(tags, 5);
    if (!all || !mine) {
        CHECK(0, "%s", nb_last_error());
        return;
    }
    uint64_t rng = 12345;
    int64_t gold[8], pred[8];
    uint64_t keys[8];
    for (int s = 0; s < 40; s++) {
        for (int t = 0; t < 8; t++) {
            gold[t] = (int64_t)(nb_splitmix64(&rng) % 5);
            pred[t] = nb_splitmix64(&rng) % 3 ? gold[t] : (int64_t)(nb_splitmix64(&rng) % 5);
            keys[t] = nb_splitmix64(&rng) % 6 + 1; /* few words: some surfaces repeat */
        }
        if (s < 10) { /* training sentences */
            CHECK(nb_entity_report_learn(all, gold, keys, 8) == NB_OK && nb_entity_report_learn(mine, gold, keys, 8) == NB_OK,
                  "learn: %s", nb_last_error());
            continue;
        }
        CHECK(nb_entity_report_add_keyed(all, gold, pred, keys, 8) == NB_OK, "add: %s", nb_last_error());
        if (s % g_size == g_rank) CHECK(nb_entity_report_add_keyed(mine, gold, pred, keys, 8) == NB_OK, "add");
    }
    CHECK(nb_dist_reduce_entities(mine) == NB_OK, "reduce: %s", nb_last_error());
    char *a = nb_entity_report_format(all, 6), *b = nb_entity_report_format(mine, 6);
    CHECK(a && b && strcmp(a, b) == 0 && strstr(a, "unseen"), "the summed report is the whole one:\n%s\nvs\n%s", b ? b : "",
          a ? a : "");
    free(a);
    free(b);
    nb_entity_report_free(all);
    nb_entity_report_free(mine);
}

int main(int argc, char **argv) {
    test_split();
    if (nb_dist_launched() == 0) {
        test_world_of_one();
        return test_end("test_dist (one process; tests/dist/test_dist_mpi.sh runs the rest under mpirun)");
    }
    if (nb_dist_init()) {
        fprintf(stderr, "test_dist: %s\n", nb_last_error());
        return 1;
    }
    g_rank = nb_dist_rank(), g_size = nb_dist_size();
    nb_set_threads(1);
    if (argc > 1 && strcmp(argv[1], "fail") == 0) return fail_mode();
    const cfg cases[] = {
        /* 517 = 8 x 64 + 5: the last global batch splits 3 + 2 (2 + 2 + 1 over 3 processes).
         * Adam divides by the root of the squared gradients, so a float difference in a tiny
         * gradient can move its weight by a good part of lr: atol 5% of lr. */
        {"mlp", "mlp", NULL, 517, 64, 2, false, 0, 1e-3f, 5e-5, 1e-3},
        /* 129 = 2 x 64 + 1: the last batch's single sample goes to rank 0, the others step with
         * an empty share */
        {"lenet5", "lenet5", NULL, 129, 64, 2, true, 0, 0.05f, 1e-6, 1e-4},
        /* clipping sees the averaged gradient, as alone */
        {"mlp-clip", "mlp", NULL, 300, 50, 1, true, 0.5f, 0.1f, 1e-6, 1e-4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) classify_case(&cases[i]);
    lm_case();
    gan_case();
    bn_case();
    stop_case();
    entities_case();
    int rc = nb_checks_failed ? 1 : 0;
    char name[64];
    snprintf(name, sizeof name, "test_dist (rank %d of %d)", g_rank, g_size);
    rc = test_end(name);
    nb_dist_finalize();
    return rc;
}
