/* nabla: GEMM throughput. For each shape it times nb__gemm (oneDNN's sgemm in the default build,
 * nb_gemm_backend() says which), cblas_sgemm called directly (the machine's OpenBLAS figure, the
 * same as nb__gemm in a NABLA_GEMM=cblas build) and, for small shapes, nb__gemm_naive. Each figure
 * is the best of several timed runs after one warm-up run, in GFLOP/s = 2*M*N*K / seconds.
 * Usage: bench_gemm [reps] (minimum runs per figure, default 10). */
#define _POSIX_C_SOURCE 199309L
#include "kernels/kernels.h"
#include <nabla/nabla.h>

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef void (*gemm_fn)(int, int, int64_t, int64_t, int64_t, float, const float *, int64_t,
                        const float *, int64_t, float, float *, int64_t);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* OpenBLAS with no wrapper in between, same (non-transposed, tight) arguments. */
static void direct(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    (void)ta, (void)tb;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, alpha, A,
                (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

/* Best seconds over at least reps runs of C (M, N) = A (M, K) . B (K, N), after one warm-up.
 * Fast shapes get more runs (up to ~0.2 s per figure): on a shared 2-core machine the best of
 * a handful of millisecond runs is mostly noise. */
static double best(gemm_fn f, int64_t M, int64_t N, int64_t K, const float *A, const float *B,
                   float *C, int reps) {
    const double start = now();
    f(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
    const double warm = now() - start;
    if (warm * reps < 0.2) reps = warm > 0.2 / 2000 ? (int)(0.2 / warm) : 2000;
    double b = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        f(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
        double t = now() - t0;
        if (t < b) b = t;
    }
    return b;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 10;
    if (reps < 1) reps = 1;
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("bench_gemm: omp_get_max_threads=%d nb__gemm=%s OPENBLAS_CORETYPE=%s openblas core=%s "
           "threads=%d reps=%d\n",
           omp_get_max_threads(), nb_gemm_backend(), ct ? ct : "(unset)", openblas_get_corename(),
           openblas_get_num_threads(), reps);
    printf("%-22s %12s %12s %12s\n", "M x N x K", "nb__gemm", "OpenBLAS", "naive");
    static const int64_t shapes[][3] = {
        {64, 64, 64},   {128, 128, 128}, {256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024},
        {64, 512, 784}, /* MLP forward: x (64, 784) . W^T (784, 512) */
        {784, 512, 64}, /* its weight gradient: x^T (784, 64) . gy (64, 512) */
        {64, 10, 512},  /* a classifier head */
        {64, 196, 288}, /* one im2col GEMM: 64 filters of 32x3x3 over 14x14 positions */
        {64, 400, 784}, /* the VAE's first layer */
        {64, 256, 64},  /* the GAN generator's first layer */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc((size_t)(M * K) * sizeof(float));
        float *B = malloc((size_t)(K * N) * sizeof(float));
        float *C = malloc((size_t)(M * N) * sizeof(float));
        for (int64_t i = 0; i < M * K; i++) A[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
        for (int64_t i = 0; i < K * N; i++) B[i] = (float)((i * 5) % 11) / 11.0f - 0.5f;
        const double fl = 2.0 * (double)M * (double)N * (double)K;
        double t_nb = best(nb__gemm, M, N, K, A, B, C, reps);
        double t_bl = best(direct, M, N, K, A, B, C, reps);
        char shape[32], naive[16] = "-";
        snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)M, (long long)N,
                 (long long)K);
        if (M <= 256 && N <= 256 && K <= 256) {
            double t_nv = best(nb__gemm_naive, M, N, K, A, B, C, 1);
            snprintf(naive, sizeof naive, "%.2f", fl / t_nv * 1e-9);
        }
        printf("%-22s %12.2f %12.2f %12s  GFLOP/s\n", shape, fl / t_nb * 1e-9, fl / t_bl * 1e-9,
               naive);
        free(A), free(B), free(C);
    }
    return 0;
}
