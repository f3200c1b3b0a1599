/* nabla: the machine's fp32 FMA peak, the denominator of "share of peak" in
 * bench/train_vs_torch.py. Each thread runs NCHAIN independent chains acc = acc * a + b on full
 * vector registers (16 floats with AVX-512 when both the compiler and the CPU have it, else 8
 * with AVX2+FMA), enough chains to cover the FMA latency on two FMA ports. One FMA on one lane is
 * 2 FLOPs. Prints, per thread count, the best of several runs:
 *     fma_peak [threads...]         (default: 1 2)
 *     threads 1: 98.3 GFLOP/s (avx2, 8 floats per FMA)
 * Not a test; built with the project. */
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NCHAIN 12
#define ITERS 20000000L

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* acc -> acc * 0.999999 + 1e-6 stays near 1: no overflow, no denormals. The sum at the end keeps
 * the compiler from dropping the loop. */
#define CHAIN_BODY(VEC, SET1, FMA, STORE, LANES)                                  \
    VEC acc[NCHAIN];                                                              \
    const VEC a = SET1(0.999999f), b = SET1(1e-6f);                               \
    for (int c = 0; c < NCHAIN; c++) acc[c] = SET1(1.0f + 0.001f * (float)c);     \
    for (long i = 0; i < iters; i++)                                              \
        for (int c = 0; c < NCHAIN; c++) acc[c] = FMA(acc[c], a, b);              \
    float lanes[LANES], s = 0.0f;                                                 \
    for (int c = 0; c < NCHAIN; c++) {                                            \
        STORE(lanes, acc[c]);                                                     \
        for (int l = 0; l < LANES; l++) s += lanes[l];                            \
    }                                                                             \
    return s;

#ifdef NB_HAVE_AVX512
__attribute__((target("avx512f"))) static float run512(long iters) {
    CHAIN_BODY(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps, 16)
}
#endif
__attribute__((target("avx2,fma"))) static float run256(long iters) {
    CHAIN_BODY(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps, 8)
}

int main(int argc, char **argv) {
    int lanes = 8;
    const char *isa = "avx2";
    __builtin_cpu_init();
#ifdef NB_HAVE_AVX512
    if (__builtin_cpu_supports("avx512f")) lanes = 16, isa = "avx512f";
#endif
    if (lanes == 8 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        fprintf(stderr, "fma_peak: this CPU has neither AVX-512F nor AVX2+FMA\n");
        return 1;
    }
    int default_threads[] = {1, 2}, *threads = default_threads, nt = 2;
    if (argc > 1) {
        nt = argc - 1;
        threads = malloc(sizeof(int) * (size_t)nt);
        for (int i = 0; i < nt; i++) threads[i] = atoi(argv[i + 1]);
    }
    volatile float sink = 0.0f;
    const long iters = lanes == 16 ? ITERS / 2 : ITERS;
    for (int i = 0; i < nt; i++) {
        const int t = threads[i] > 0 ? threads[i] : 1;
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            const double t0 = now();
#pragma omp parallel num_threads(t) reduction(+ : sink)
            {
#ifdef NB_HAVE_AVX512
                if (lanes == 16) sink += run512(iters);
                else
#endif
                    sink += run256(iters);
            }
            const double dt = now() - t0;
            if (dt < best) best = dt;
        }
        const double flops = 2.0 * lanes * NCHAIN * (double)iters * t;
        printf("threads %d: %.1f GFLOP/s (%s, %d floats per FMA)\n", t, flops / best * 1e-9, isa, lanes);
    }
    if (sink == 12345.0f) printf("(sink)\n");
    return 0;
}
