/* nabla: conv2d throughput on LeNet-like and small-CNN layers. For each layer it times the fast
 * forward, input-gradient and weight-gradient kernels (im2col + GEMM) and the naive forward,
 * each the best of several runs after a warm-up, in GFLOP/s with
 * 2*N*O*OH*OW*(C/groups)*KH*KW flops per pass (the same count for all three passes).
 * Usage: bench_conv [reps] (minimum runs per fast figure, default 5, more while under ~0.2 s;
 * the naive forward runs once). */
#define _POSIX_C_SOURCE 199309L
#include "kernels/kernels.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    const char *name;
    nb__conv_geom g;
} layer;

enum { FWD, BWD_DATA, BWD_WEIGHT, NAIVE };

/* One pass of kind k; the bwd kernels accumulate, which is harmless for timing. */
static void run(int k, const nb__conv_geom *g, const float *x, const float *w, const float *b,
                float *y, float *gx, float *gw, float *gb, float *ws) {
    switch (k) {
    case FWD: nb__conv2d_fwd(g, x, w, b, y, ws); break;
    case BWD_DATA: nb__conv2d_bwd_data(g, w, y, gx, ws); break;
    case BWD_WEIGHT: nb__conv2d_bwd_weight(g, x, y, gw, gb, ws); break;
    default: nb__conv2d_fwd_naive(g, x, w, b, y); break;
    }
}

static float *buf(int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = (float)((i * 7) % 17) / 17.0f - 0.5f;
    return p;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) reps = 1;
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("bench_conv: omp_get_max_threads=%d OPENBLAS_CORETYPE=%s reps=%d\n",
           omp_get_max_threads(), ct ? ct : "(unset)", reps);
    /*               N   C   H   W   O  KH KW SH SW PH PW DH DW G */
    layer layers[] = {
        {"lenet conv1 1->6 k5 p2", {64, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 0, 0}},
        {"1->32 k5 s2 p2", {64, 1, 28, 28, 32, 5, 5, 2, 2, 2, 2, 1, 1, 1, 0, 0}},
        {"lenet conv2 6->16 k5", {64, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1, 0, 0}},
        {"32->64 k3 p1 @14", {64, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0}},
        {"64->64 k3 p1 g4 @7", {64, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 4, 0, 0}},
        {"64->128 k1 @14", {64, 64, 14, 14, 128, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0}},
    };
    printf("%-24s %10s %10s %10s %10s  (GFLOP/s; ms per fwd)\n", "layer (N=64)", "fwd",
           "bwd_data", "bwd_weight", "naive fwd");
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        nb__conv_geom *g = &layers[l].g;
        if (nb__conv_geom_finish(g) != 0) continue;
        const int64_t Cg = g->C / g->groups;
        const int64_t nx = g->N * g->C * g->H * g->W, ny = g->N * g->O * g->OH * g->OW;
        const int64_t nw = g->O * Cg * g->KH * g->KW;
        /* x (N, C, H, W), w (O, C/groups, KH, KW), b (O), y (N, O, OH, OW) also used as gy,
         * gx like x, gw like w, gb like b, ws the kernels' scratch */
        float *x = buf(nx), *w = buf(nw), *b = buf(g->O), *y = buf(ny), *gx = buf(nx);
        float *gw = buf(nw), *gb = buf(g->O);
        float *ws = malloc(nb__conv_workspace(g) * sizeof(float));
        const double fl = 2.0 * (double)(g->N * g->O * g->OH * g->OW * Cg * g->KH * g->KW);
        double gf[4], t_fwd = 0.0;
        for (int k = 0; k < 4; k++) {
            int r = k == NAIVE ? 1 : reps;
            if (k != NAIVE) { /* warm-up, and at least ~0.2 s of runs: this VM is noisy */
                double t0 = now();
                run(k, g, x, w, b, y, gx, gw, gb, ws);
                double warm = now() - t0;
                if (warm * r < 0.2) r = warm > 0.2 / 500 ? (int)(0.2 / warm) : 500;
            }
            double bt = 1e30;
            for (int i = 0; i < r; i++) {
                double t0 = now();
                run(k, g, x, w, b, y, gx, gw, gb, ws);
                double t = now() - t0;
                if (t < bt) bt = t;
            }
            gf[k] = fl / bt * 1e-9;
            if (k == FWD) t_fwd = bt;
        }
        printf("%-24s %10.2f %10.2f %10.2f %10.2f  (%.2f ms)\n", layers[l].name, gf[FWD],
               gf[BWD_DATA], gf[BWD_WEIGHT], gf[NAIVE], t_fwd * 1e3);
        free(x), free(w), free(b), free(y), free(gx), free(gw), free(gb), free(ws);
    }
    return 0;
}
