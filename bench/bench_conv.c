/* nabla: convolution kernel throughput on the zoo's layers (LeNet-5 for training at batch 64
 * and inference at 256, a DCGAN's convolutions and transposed convolutions at 64) and a few
 * other shapes. For each layer it times the forward, the input gradient, the weight gradient and
 * the fused backward that training runs (both gradients, or only the weight's for a first
 * layer), each the best of several runs after a warm-up, and prints milliseconds per pass of
 * wall time and of process CPU time (all threads; set OMP_WAIT_POLICY=passive so that idle
 * threads do not count), and GFLOP/s of the wall time with 2*N*O*OH*OW*(C/groups)*KH*KW flops
 * per pass. The naive forward runs once, on layers where it takes under a second.
 * A transposed layer ("T") times conv_transpose2d: its forward is the conv2d input gradient.
 * Usage: bench_conv [reps] [block_floats] [filter]  (minimum runs per figure, default 5, more
 * while under ~0.2 s; block_floats overrides the im2col block the kernels aim at, 0 keeps it;
 * filter: only the layers whose name contains it). */
#define _POSIX_C_SOURCE 199309L
#include "kernels/kernels.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clk(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    const char *name;
    int transpose, first; /* conv_transpose2d; first layer (no input gradient in training) */
    nb__conv_geom g;
} layer;

enum { FWD, BWD_DATA, BWD_WEIGHT, BWD, NAIVE, NPASS };

/* One pass of kind k; the bwd kernels accumulate, which is harmless for timing. a, a2: two
 * buffers shaped as the conv2d's input (N, C, H, W); c, c2 as its output (N, O, OH, OW). */
static void run(int k, const layer *l, float *a, float *a2, float *c, float *c2, const float *w,
                const float *b, float *gw, float *gb, float *ws) {
    const nb__conv_geom *g = &l->g;
    if (l->transpose) { /* input c (N, O, OH, OW), its gradient c2; output a, its gradient a2 */
        switch (k) {
        case FWD: nb__conv_transpose2d_fwd(g, c, w, b, a, ws); break;
        case BWD_DATA: nb__conv_transpose2d_bwd(g, c, w, a2, c2, 0, NULL, NULL, ws); break;
        case BWD_WEIGHT: nb__conv_transpose2d_bwd(g, c, w, a2, NULL, 0, gw, gb, ws); break;
        case BWD: nb__conv_transpose2d_bwd(g, c, w, a2, l->first ? NULL : c2, 0, gw, gb, ws); break;
        default: nb__conv_transpose2d_fwd_naive(g, c, w, b, a); break;
        }
        return;
    }
    switch (k) { /* input a, its gradient a2; output c, its gradient c2 */
    case FWD: nb__conv2d_fwd(g, a, w, b, c, ws); break;
    case BWD_DATA: nb__conv2d_bwd_data(g, w, c2, a2, ws); break;
    case BWD_WEIGHT: nb__conv2d_bwd_weight(g, a, c2, gw, gb, ws); break;
    case BWD: nb__conv2d_bwd(g, a, w, c2, l->first ? NULL : a2, 0, gw, gb, ws); break;
    default: nb__conv2d_fwd_naive(g, a, w, b, c); break;
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
    if (argc > 2) nb__conv_set_block(atoll(argv[2]));
    const char *ct = getenv("OPENBLAS_CORETYPE"), *wp = getenv("OMP_WAIT_POLICY");
    printf("bench_conv: omp_get_max_threads=%d OPENBLAS_CORETYPE=%s OMP_WAIT_POLICY=%s reps=%d\n",
           omp_get_max_threads(), ct ? ct : "(unset)", wp ? wp : "(unset)", reps);
    /*                                   N   C   H   W   O  KH KW SH SW PH PW DH DW G */
    layer layers[] = {
        {"lenet conv1 1->6 k5 p2", 0, 1, {64, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 0, 0, 0, 0}},
        {"lenet conv2 6->16 k5", 0, 0, {64, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0}},
        {"lenet conv1 N=256", 0, 1, {256, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 0, 0, 0, 0}},
        {"lenet conv2 N=256", 0, 0, {256, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0}},
        {"dcgan D1 1->32 k4 s2", 0, 1, {64, 1, 28, 28, 32, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0}},
        {"dcgan D2 32->64 k4 s2", 0, 0, {64, 32, 14, 14, 64, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0}},
        {"dcgan D3 64->1 k7", 0, 0, {64, 64, 7, 7, 1, 7, 7, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0}},
        /* transposed: the equivalent conv2d's geometry (C: the transpose's output channels) */
        {"dcgan G1 T 100->64 k7", 1, 1, {64, 64, 7, 7, 100, 7, 7, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0}},
        {"dcgan G2 T 64->32 k4 s2", 1, 0, {64, 32, 14, 14, 64, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0}},
        {"dcgan G3 T 32->1 k4 s2", 1, 0, {64, 1, 28, 28, 32, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0}},
        {"32->64 k3 p1 @14", 0, 0, {64, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}},
        {"64->64 k3 p1 g4 @7", 0, 0, {64, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 4, 0, 0, 0, 0}},
        {"64->128 k1 @14", 0, 0, {64, 64, 14, 14, 128, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0}},
    };
    static const char *pname[NPASS] = {"fwd", "bwd_data", "bwd_weight", "bwd(train)", "naive fwd"};
    printf("%-24s %-10s %9s %9s %8s\n", "layer", "pass", "wall ms", "CPU ms", "GFLOP/s");
    double tot_wall[NPASS] = {0}, tot_cpu[NPASS] = {0};
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        nb__conv_geom *g = &layers[l].g;
        if (nb__conv_geom_finish(g) != 0 || (argc > 3 && !strstr(layers[l].name, argv[3]))) continue;
        const int64_t Cg = g->C / g->groups;
        const int64_t nx = g->N * g->C * g->H * g->W, ny = g->N * g->O * g->OH * g->OW;
        const int64_t nw = g->O * Cg * g->KH * g->KW, nbias = g->O > g->C ? g->O : g->C;
        /* a, a2 (N, C, H, W), c, c2 (N, O, OH, OW), w (O, C/groups, KH, KW), b and gb (the
         * larger of O and C), gw like w, ws the kernels' scratch */
        float *a = buf(nx), *a2 = buf(nx), *c = buf(ny), *c2 = buf(ny), *w = buf(nw);
        float *b = buf(nbias), *gw = buf(nw), *gb = buf(nbias);
        float *ws = malloc(nb__conv_workspace(g) * sizeof(float));
        const double fl = 2.0 * (double)(g->N * g->O * g->OH * g->OW * Cg * g->KH * g->KW);
        for (int k = 0; k < NPASS; k++) {
            int r = reps;
            double t0 = clk(CLOCK_MONOTONIC);
            run(k, &layers[l], a, a2, c, c2, w, b, gw, gb, ws); /* warm-up */
            double warm = clk(CLOCK_MONOTONIC) - t0;
            if (k == NAIVE) {
                if (warm > 1.0) continue;
                r = 1;
            } else if (warm * r < 0.2) {
                r = warm > 0.2 / 500 ? (int)(0.2 / warm) : 500;
            }
            double bw = 1e30, bc = 1e30;
            for (int i = 0; i < r; i++) {
                double w0 = clk(CLOCK_MONOTONIC), c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
                run(k, &layers[l], a, a2, c, c2, w, b, gw, gb, ws);
                double tw = clk(CLOCK_MONOTONIC) - w0, tc = clk(CLOCK_PROCESS_CPUTIME_ID) - c0;
                if (tw < bw) bw = tw;
                if (tc < bc) bc = tc;
            }
            const double mult = k == BWD ? (layers[l].first ? 1.0 : 2.0) : 1.0;
            printf("%-24s %-10s %9.3f %9.3f %8.2f\n", layers[l].name, pname[k], bw * 1e3, bc * 1e3,
                   mult * fl / bw * 1e-9);
            tot_wall[k] += bw, tot_cpu[k] += bc;
        }
        free(a), free(a2), free(c), free(c2), free(w), free(b), free(gw), free(gb), free(ws);
    }
    printf("%-24s %-10s %9.3f %9.3f\n", "total (all layers)", "fwd", tot_wall[FWD] * 1e3, tot_cpu[FWD] * 1e3);
    printf("%-24s %-10s %9.3f %9.3f\n", "total (all layers)", "bwd(train)", tot_wall[BWD] * 1e3, tot_cpu[BWD] * 1e3);
    return 0;
}
