/* nabla: what a 2-thread OpenMP region costs on this machine, the figure behind NB__PAR_CHEAP and
 * NB__PAR_MATH (src/internal.h) and docs/architecture.md, "Threads and determinism". After a
 * serial stretch of GAP us, the caller opens a region in which each thread busy-works W0 (thread
 * 0) or W1 (thread 1) us; prints the mean delay before the second thread starts, the region's
 * time and the overhead (region time minus the longer block). Run it with the policy nabla runs
 * with:
 *     OMP_WAIT_POLICY=passive build/bench/region_cost [GAP W0 W1 [ROUNDS]]   (default 100 150 150 200)
 *     gap 100 us, blocks 150/150 us: second thread starts +36.8 us, region 280.8 us, overhead 130.8 us
 * Not a test; built with the project. */
#define _POSIX_C_SOURCE 199309L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static void work(double us) {
    const double end = now_us() + us;
    while (now_us() < end) {
    }
}

int main(int argc, char **argv) {
    const double gap = argc > 1 ? atof(argv[1]) : 100, w0 = argc > 2 ? atof(argv[2]) : 150,
                 w1 = argc > 3 ? atof(argv[3]) : 150;
    const int rounds = argc > 4 ? atoi(argv[4]) : 200, skip = 10;
    if (gap < 0 || w0 < 0 || w1 < 0 || rounds <= skip) {
        fprintf(stderr, "usage: region_cost [GAP W0 W1 [ROUNDS > %d]] (microseconds)\n", skip);
        return 2;
    }
    double start = 0, region = 0;
    for (int i = 0; i < rounds; i++) {
        work(gap);
        double t0 = now_us(), s1 = t0;
#pragma omp parallel num_threads(2)
        {
            if (omp_get_thread_num() == 1) {
                s1 = now_us();
                work(w1);
            } else {
                work(w0);
            }
        }
        const double t1 = now_us();
        if (i >= skip) start += s1 - t0, region += t1 - t0;
    }
    const int n = rounds - skip;
    const double longer = w0 > w1 ? w0 : w1;
    printf("gap %.0f us, blocks %.0f/%.0f us: second thread starts +%.1f us, region %.1f us, overhead %.1f us\n",
           gap, w0, w1, start / n, region / n, region / n - longer);
    return 0;
}
