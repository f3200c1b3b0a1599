/* The gradient all-reduce on its own (run it under mpirun; bench/dist_bench.sh does): for lenet5
 * and mlp, the time of one training step of a process's share of a global batch of 64
 * (forward, loss, backward, Adam; on random data) and the time of the all-reduce of its gradient
 * slab (nb_dist_allreduce_grads: the weights' sum, the scaling, the slab), each the median of
 * REPEAT, with the processes lined up before each all-reduce (a small all-reduce first), so
 * that no process waits for a slower one's step. Their ratio is the communication's share of a
 * step when the processes keep pace, which a loaded machine's end-to-end figure hides.
 * Usage: mpirun -np N bench_dist [REPEAT=200] [THREADS=1] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nabla/nabla.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static int bench(const char *name, int repeat) {
    const int rank = nb_dist_rank(), size = nb_dist_size();
    int64_t start, n;
    nb_dist_split(64, rank, size, &start, &n);
    nb_seed(1);
    nb_model *m = nb_zoo_new(name, 1, 28, 28, 10);
    nb_optim *opt = m ? nb_adam_new(nb_model_params(m), nb_adam_defaults(1e-4f)) : NULL;
    float *x = malloc((size_t)(n * 784) * sizeof(float));
    int64_t *y = malloc((size_t)n * sizeof(int64_t));
    double *step = malloc((size_t)repeat * sizeof(double)), *comm = malloc((size_t)repeat * sizeof(double));
    if (!opt || !x || !y || !step || !comm) {
        fprintf(stderr, "bench_dist: %s\n", *nb_last_error() ? nb_last_error() : "out of memory");
        return 1;
    }
    for (int64_t i = 0; i < n * 784; i++) x[i] = nb_rng_uniform();
    for (int64_t i = 0; i < n; i++) y[i] = (int64_t)(nb_rng_next() % 10);
    nb_params *p = nb_model_params(m);
    nb_status st = NB_OK;
    for (int r = -5; r < repeat && !st; r++) { /* 5 rounds of warm-up */
        double t0 = now();
        nb_params_zero_grad(p);
        nb_tensor *logits = nb_model_forward(m, nb_step_tensor(4, (int64_t[]){n, 1, 28, 28}, x));
        nb_tensor *loss = logits ? nb_cross_entropy(logits, nb_step_index(1, (int64_t[]){n}, y)) : NULL;
        st = loss ? nb_backward(loss) : NB_ERR_SHAPE;
        if (!st) st = nb_optim_step(opt);
        nb_step_reset();
        double t1 = now(), line = 0;
        if (!st) st = nb_dist_sum(&line, 1); /* every process here before the clock starts */
        double t2 = now();
        if (!st) st = nb_dist_allreduce_grads(p, (double)n);
        double t3 = now();
        if (r >= 0) step[r] = t1 - t0, comm[r] = t3 - t2;
    }
    if (st) {
        fprintf(stderr, "bench_dist: %s\n", nb_last_error());
        return 1;
    }
    /* the slowest process's medians */
    double med[2] = {median(step, repeat), median(comm, repeat)};
    if (nb_dist_max(med, 2)) return 1;
    if (rank == 0)
        printf("| %-7s | %d | %lld | %9.2f | %7.0f | %10.3f | %5.1f%% |\n", name, size, (long long)n, 1e3 * med[0],
               (double)nb_params_numel(p) * 4.0 / 1024.0, 1e3 * med[1], 100.0 * med[1] / (med[0] + med[1]));
    free(x), free(y), free(step), free(comm);
    nb_optim_free(opt);
    nb_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    int repeat = argc > 1 ? atoi(argv[1]) : 200, threads = argc > 2 ? atoi(argv[2]) : 1;
    if (repeat < 1) repeat = 1;
    if (nb_dist_launched() > 0 && nb_dist_init()) {
        fprintf(stderr, "bench_dist: %s\n", nb_last_error());
        return 1;
    }
    nb_set_threads(threads > 0 ? threads : 1);
    if (nb_dist_rank() == 0) {
        printf("| model   | processes | samples per process | step (ms) | KB | all-reduce (ms) | share |\n");
        printf("|---------|---|---|---|---|---|---|\n");
    }
    int rc = bench("lenet5", repeat) || bench("mlp", repeat);
    if (rc) nb_dist_abort(1);
    nb_dist_finalize();
    return rc;
}
