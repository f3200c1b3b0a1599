/* nabla train under mpirun: data-parallel training over the processes of an MPI job, with the
 * library's src/dist/ layer. Every process builds the same run from the same command line;
 * rank 0's weights and optimizer state are broadcast, each process trains on its rows of every
 * global batch (so the batches and their order are those of a one-process run with the seed),
 * the gradients are averaged before each optimizer step, the epoch's figures are summed, and
 * only rank 0 prints and writes files. A process that fails ends the job (MPI_Abort). */
#define _POSIX_C_SOURCE 200809L /* sysconf, alarm */
#include "dist.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    bool mpi;               /* MPI started here: finalize or abort at the end */
    bool on;                /* more than one process: data-parallel */
    bool quiet;
    int agreed;             /* the stop signal every process agreed on at an epoch's end */
    nb_dist_sync sync;      /* the gradient hook's state */
    nb_dist_shard *train, *test;
    double train_s, comm_s; /* rank 0's training and all-reduce seconds over the run's epochs */
    int64_t steps, step_bytes; /* all-reduces (a GAN's step makes two) and their mean size */
    nb_progress_fn progress;   /* the CLI's progress bar */
    void *progress_ctx;
} g;

/* The progress bar counts the world's samples: rank 0's times the world size (rank 0 takes the
 * largest share, so this is exact but for a last batch that does not split evenly). */
static void world_progress(void *ctx, int64_t i, int64_t n, double loss, int64_t samples) {
    (void)ctx;
    g.progress(g.progress_ctx, i, n, loss, samples * nb_dist_size());
}

static int local_stop(void *ctx) {
    (void)ctx;
    return cli_signal_local();
}

int cli_dist_signal(int local) {
    if (!g.on) return local;
    return g.sync.stop > g.agreed ? g.sync.stop : g.agreed;
}

bool cli_dist_writer(void) { return nb_dist_rank() == 0; }

int cli_dist_begin(cli_args *a) {
    const int launched = nb_dist_launched();
    if (strcmp(a->cmd, "train") != 0) {
        if (launched > 1)
            return cli_fail("%s runs in one process, not %d: start it without mpirun (only train is data-parallel)",
                            a->cmd, launched);
        return 0;
    }
    if (!a->distributed && launched == 0) return 0;
    if (!nb_dist_built()) {
        if (launched > 1)
            return cli_fail("mpirun started %d processes, but this nabla was built without MPI, so each would train "
                            "alone: rebuild it with MPI (docs/distributed.md) or run one process", launched);
        if (a->distributed) return nb_dist_init(), cli_fail("--distributed: %s", nb_last_error());
        return 0; /* a launcher's world of one: a plain run */
    }
    /* Open MPI spins in a collective while it waits for the other processes, on a core that this
     * process's loader thread, or another process, needs: on the 2-core machine it halved the
     * throughput of 2 processes (lenet5: 3,012 samples/s spinning, 6,787 yielding). As with
     * OpenMP's wait policy (cli/waitpolicy.c), nabla yields unless told otherwise (mpirun --mca
     * mpi_yield_when_idle 0 reaches it as this variable). */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    if (nb_dist_init()) return cli_fail("%s", nb_last_error());
    g.mpi = true;
    g.on = nb_dist_size() > 1;
    if (nb_dist_rank() > 0) a->quiet = true;
    g.quiet = a->quiet;
    /* Processes that share a machine share its cores, unless told otherwise or bound to fewer
     * cores by the launcher (then OpenMP's default already counts only those). */
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const int local = nb_dist_local_size();
    if (!cli_given(a, "--threads") && !getenv("OMP_NUM_THREADS") && local > 1 && nb_get_threads() >= cores)
        nb_set_threads(cores / local > 1 ? (int)(cores / local) : 1);
    return 0;
}

int cli_dist_end(int rc) {
    nb_dist_shard_free(g.train);
    nb_dist_shard_free(g.test);
    g.train = g.test = NULL;
    if (!g.mpi) return rc;
    if (rc == 0 && g.on && !g.quiet && g.train_s > 0)
        printf("data-parallel: %d processes; rank 0 spent %.2f s of %.2f s of training in the gradient all-reduce "
               "(%.1f%%, waiting for the slowest process included): %lld all-reduces of %.0f KB\n", nb_dist_size(), g.comm_s,
               g.train_s, 100.0 * g.comm_s / g.train_s, (long long)g.steps, (double)g.step_bytes / 1024.0);
    /* A stop that every process agreed on ends them all at the same point; any other failure may
     * leave the others waiting in a collective: end the whole job. */
    const int agreed = cli_dist_signal(0);
    if (rc != 0 && g.on && !(agreed && rc == 128 + agreed)) nb_dist_abort(rc);
    if (rc != 0) alarm(60); /* in case a process still waits somewhere: SIGALRM ends this one, and mpirun the job */
    fflush(stdout);
    nb_dist_finalize();
    return rc;
}

/* FNV-1a, to compare the data every process loaded. */
static uint64_t fnv(uint64_t h, const void *bytes, size_t n) {
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t data_hash(const run *r) {
    uint64_t h = 0xcbf29ce484222325ull;
    if (r->text) {
        h = fnv(h, r->txt.vocab_str, strlen(r->txt.vocab_str));
        return fnv(h, &r->txt.n_train, sizeof r->txt.n_train);
    }
    const nb_dataset *d[2] = {r->train, r->test};
    for (int i = 0; i < 2; i++) {
        h = fnv(h, &d[i]->n, sizeof d[i]->n);
        h = fnv(h, d[i]->y, (size_t)d[i]->n * sizeof(int64_t));
        if (d[i]->x_u8) h = fnv(h, d[i]->x_u8, (size_t)(d[i]->n * d[i]->dim));
        else if (d[i]->x_f32) h = fnv(h, d[i]->x_f32, (size_t)(d[i]->n * d[i]->dim) * sizeof(float));
    }
    return h;
}

/* What every process must agree on: the run (a process given other flags, or other data,
 * would take other steps and wait in other collectives). Threads may differ. */
static int check_same_run(const run *r) {
    const cli_args *a = &r->a;
    char fp[1024];
    int64_t batches = r->src.count ? r->src.count(r->src.ctx) : -1;
    snprintf(fp, sizeof fp, "%s|%s|%lld|%lld|%lld|%lld|%lld|%s|%s|%.9g|%.9g|%.9g|%.9g|%lld|%lld|%lld|%lld|%lld|%lld|%s|"
             "%llx|%lld|%lld", a->model, a->data, a->batch, a->epochs, a->stop_after, a->seed, (long long)r->start,
             a->optimizer, a->schedule, a->lr, a->clip, a->max_loss, a->denoise, a->warmup, a->latent, a->limit_train,
             a->limit_test, (long long)batches, (long long)nb_params_numel(nb_model_params(r->m)),
             a->freeze ? a->freeze : "", (unsigned long long)data_hash(r),
             (long long)(r->d ? nb_params_numel(nb_model_params(r->d)) : 0), (long long)r->plan.train_samples);
    if (nb_dist_check_same(fp, strlen(fp), "the run (its flags, its data or a resumed checkpoint)"))
        return cli_fail("%s", nb_last_error());
    return 0;
}

int cli_dist_setup(run *r) {
    const int size = nb_dist_size(), before = r->resumed.processes > 1 ? r->resumed.processes : 1;
    if (r->a.resume && before != size && !r->a.quiet)
        fprintf(stderr, "nabla: note: the checkpoint was written by a run of %d process%s, this one has %d: the result "
                "will not be bit-identical to an uninterrupted run\n", before, before > 1 ? "es" : "", size);
    if (!g.mpi) return 0;
    if (!g.on) {
        if (!g.quiet) printf("distributed: world size 1 (one process: a plain run)\n");
        return 0;
    }
    r->plan.processes = size;
    if (check_same_run(r)) return 1;
    if (nb_dist_broadcast_model(r->m, r->opt) || (r->d && nb_dist_broadcast_model(r->d, r->opt_d)))
        return cli_fail("%s", nb_last_error());
    g.sync = (nb_dist_sync){.local_stop = local_stop};
    g.train = nb_dist_shard_new(&r->src, r->task.kind, true);
    g.test = g.train ? nb_dist_shard_new(&r->test_src, r->task.kind, false) : NULL;
    if (!g.test) return cli_fail("%s", nb_last_error());
    r->src = nb_dist_shard_source(g.train);
    r->test_src = nb_dist_shard_source(g.test);
    if (r->gen == NB_ZOO_GAN) {
        r->gan.grad_hook = nb_dist_grad_hook;
        r->gan.grad_hook_ctx = &g.sync;
    }
    if (!g.quiet) {
        int64_t s, lo, hi;
        nb_dist_split(r->a.batch, size - 1, size, &s, &lo);
        nb_dist_split(r->a.batch, 0, size, &s, &hi);
        char share[64];
        if (lo == hi) snprintf(share, sizeof share, "%lld", (long long)lo);
        else snprintf(share, sizeof share, "%lld or %lld", (long long)hi, (long long)lo);
        int64_t numel = nb_params_numel(nb_model_params(r->m)) + (r->d ? nb_params_numel(nb_model_params(r->d)) : 0);
        printf("distributed: world size %d (%d on this machine), %d threads each; each global batch of %lld gives "
               "%s samples to each process; the gradients are averaged with an all-reduce of %.0f KB per step\n", size,
               nb_dist_local_size(), nb_get_threads(), r->a.batch, share, (double)numel * 4.0 / 1024.0);
        fflush(stdout);
    }
    return 0;
}

void cli_dist_train_opts(run *r, nb_train_opts *o) {
    (void)r;
    if (!g.on) return;
    o->grad_hook = nb_dist_grad_hook;
    o->grad_hook_ctx = &g.sync;
    o->stop = nb_dist_stop;
    o->stop_ctx = &g.sync;
    if (o->progress) {
        g.progress = o->progress, g.progress_ctx = o->progress_ctx;
        o->progress = world_progress;
    }
}

/* The weights must be the same everywhere (MPI's all-reduce gives every process the same sum);
 * if a library ever did not, rank 0's weights and optimizer state win, with a warning. */
static nb_status keep_same(nb_model *m, nb_optim *opt, int64_t epoch) {
    nb_params *p = nb_model_params(m);
    if (!nb_dist_check_same(nb_params_data(p), (size_t)nb_params_numel(p) * sizeof(float), "the weights")) return NB_OK;
    if (cli_dist_writer())
        fprintf(stderr, "nabla: warning: the processes' weights differ after epoch %lld; rank 0's are given to all\n",
                (long long)epoch);
    return nb_dist_broadcast_model(m, opt);
}

nb_status cli_dist_epoch(run *r, nb_epoch_stats *tr) {
    if (!g.on) return NB_OK;
    g.train_s += tr->seconds;
    g.comm_s += g.sync.comm_seconds;
    g.steps += g.sync.calls;
    g.step_bytes = g.sync.calls ? g.sync.bytes / g.sync.calls : 0;
    g.sync.comm_seconds = 0, g.sync.calls = 0, g.sync.bytes = 0;
    /* a signal caught after the epoch's last all-reduce: every process learns of it here */
    double stop = cli_signal_local() > g.sync.stop ? cli_signal_local() : g.sync.stop;
    nb_status st = nb_dist_max(&stop, 1);
    if (!st) g.agreed = (int)stop;
    if (!st) st = nb_dist_reduce_stats(tr, r->task.kind);
    if (!st) st = nb_dist_average_buffers(r->m);
    if (!st && r->d) st = nb_dist_average_buffers(r->d);
    if (!st) st = keep_same(r->m, r->opt, r->plan.epoch + 1);
    if (!st && r->d) st = keep_same(r->d, r->opt_d, r->plan.epoch + 1);
    return st;
}

nb_status cli_dist_eval(run *r, nb_epoch_stats *te) {
    if (!g.on || r->gen == NB_ZOO_GAN) return NB_OK; /* a GAN is not evaluated */
    nb_status st = nb_dist_reduce_stats(te, r->task.kind);
    if (!st && r->conf) st = nb_dist_reduce_confusion(r->conf);
    if (!st && r->ents) st = nb_dist_reduce_entities(r->ents->rep);
    return st;
}
