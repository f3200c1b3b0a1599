/* nabla: inference throughput of a zoo model (lenet5 by default) on the MNIST test set, in
 * images/s: batches of --batch images are converted from bytes, normalized and run through
 * nb_model_forward under nb_no_grad (evaluation mode), one nb_step_reset per batch, as
 * `nabla eval` does. One untimed pass warms up; the best of REPS timed passes is printed.
 *     bench_infer DATA_DIR [threads] [batch] [reps] [model]    (defaults: 1 256 3 lenet5)
 *     lenet5 inference, batch 256, 1 threads: 41234 images/s (10000 images, best of 3)
 * The weights are the seeded initialization: speed does not depend on them. Not a test. */
#define _POSIX_C_SOURCE 199309L
#include <nabla/data.h>
#include <nabla/nabla.h>
#include <nabla/nn.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_infer DATA_DIR [threads] [batch] [reps] [model]\n");
        return 2;
    }
    const int threads = argc > 2 ? atoi(argv[2]) : 1;
    const int64_t batch = argc > 3 ? atoll(argv[3]) : 256;
    const int reps = argc > 4 ? atoi(argv[4]) : 3;
    const char *name = argc > 5 ? argv[5] : "lenet5";
    if (threads < 1 || batch < 1 || reps < 1) {
        fprintf(stderr, "bench_infer: threads, batch and reps must be >= 1\n");
        return 2;
    }
    nb_set_threads(threads);
    nb_seed(0);
    nb_dataset *d = nb_mnist_load(argv[1], 0);
    if (!d) {
        fprintf(stderr, "bench_infer: %s\n", nb_last_error());
        return 1;
    }
    d->mean = 0.1307f, d->std = 0.3081f; /* MNIST's, as the CLI sets them */
    nb_model *m = nb_zoo_new(name, d->c, d->h, d->w, 10);
    if (!m) {
        fprintf(stderr, "bench_infer: %s\n", nb_last_error());
        return 1;
    }
    nb_model_set_training(m, false);
    float *x = malloc(sizeof(float) * (size_t)(batch * d->dim));   // (N, C, H, W)
    int64_t *y = malloc(sizeof(int64_t) * (size_t)batch);          // (N)
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)batch);
    if (!x || !y || !idx) return 1;
    double best = 1e30, checksum = 0.0;
    for (int rep = 0; rep <= reps; rep++) { /* rep 0 warms up */
        const double t0 = now();
        for (int64_t s = 0; s < d->n; s += batch) {
            const int64_t n = d->n - s < batch ? d->n - s : batch;
            for (int64_t i = 0; i < n; i++) idx[i] = s + i;
            nb_dataset_gather(d, idx, n, x, y);
            const int64_t shape[4] = {n, d->c, d->h, d->w};
            nb_no_grad_begin();
            nb_tensor *out = nb_model_forward(m, nb_step_tensor(4, shape, x)); // (N, K)
            nb_no_grad_end();
            if (!out) {
                fprintf(stderr, "bench_infer: %s\n", nb_last_error());
                return 1;
            }
            checksum += nb_tensor_data(out)[0];
            nb_step_reset();
        }
        const double dt = now() - t0;
        if (rep > 0 && dt < best) best = dt;
    }
    printf("%s inference, batch %lld, %d threads: %.0f images/s (%lld images, best of %d)\n", name,
           (long long)batch, threads, (double)d->n / best, (long long)d->n, reps);
    if (checksum != checksum) fprintf(stderr, "bench_infer: NaN output\n");
    free(x), free(y), free(idx);
    nb_model_free(m);
    nb_dataset_free(d);
    return 0;
}
