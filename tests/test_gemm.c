/* nabla: tests of the matrix products: nb__gemm against its naive twin (every transpose, odd
 * sizes, strides, beta 0 over NaN, K = 0, alignment), its split over 1-3 threads and job lists,
 * the transposed add of nb_linear's weight gradient, and the recurrences' per-step product bit for
 * bit against the fmaf chain. Prints one line per check; exits nonzero on failure. */
#include "internal.h" /* nb__add_transposed */
#include "kernel_check.h"
#include "kernels/kernels.h"
#include "nabla/nabla.h"

#include <stdbool.h>


/* Products large enough for nb__gemm to split them over the threads (blocks of rows, or of
 * columns when C has few rows, each a one-thread OpenBLAS call) at 1, 2 and 3 threads: against
 * the naive product, padding untouched, beta 0 over NaN, the same bits on a second call, and
 * the blocks of nb__gemm_block stitched together equal to nb__gemm's result bit for bit. */
static void test_gemm_split(void) {
    static const int64_t shapes[][3] = {{64, 400, 200}, {20, 1000, 300}, {100, 40, 900}, {33, 37, 3000}};
    for (int threads = 1; threads <= 3; threads++) {
        nb_set_threads(threads);
        for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) {
                    const int64_t M = shapes[c][0], N = shapes[c][1], K = shapes[c][2];
                    const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 3, ldc = N + 3;
                    float *A = rnd((ta ? K : M) * lda), *B = rnd((tb ? N : K) * ldb);
                    float *C1 = rnd(M * ldc), *C2 = dup(C1, M * ldc), *C0 = dup(C1, M * ldc);
                    float *C3 = dup(C1, M * ldc), *C4 = dup(C1, M * ldc);
                    nb__gemm(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, -1.3f, C1, ldc);
                    nb__gemm_naive(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, -1.3f, C2, ldc);
                    nb__gemm(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, -1.3f, C3, ldc);
                    const int T = nb__gemm_team(M, N, K);
                    bool rows = true;
                    nb__gemm_blas_threads(1);
                    for (int t = 0; t < T; t++) {
                        int64_t lo, hi;
                        rows = nb__gemm_block(T, t, ta, tb, M, N, K, 0.7f, A, lda, B, ldb, -1.3f, C4,
                                              ldc, &lo, &hi);
                    }
                    nb__gemm_blas_threads(threads);
                    int pad_ok = 1;
                    for (int64_t i = 0; i < M; i++)
                        for (int64_t j = N; j < ldc; j++) pad_ok &= C1[i * ldc + j] == C0[i * ldc + j];
                    const size_t bytes = (size_t)(M * ldc) * sizeof(float);
                    check(max_err(C1, C2, M * ldc) < 1e-3 && pad_ok && !memcmp(C1, C3, bytes) &&
                              !memcmp(C1, C4, bytes) && T == (threads > 1 ? threads : 1),
                          "gemm %lldx%lldx%lld ta=%d tb=%d at %d threads (%d blocks of %s): max err "
                          "%.2e, padding untouched %d, same bits again %d and from the blocks %d",
                          (long long)M, (long long)N, (long long)K, ta, tb, threads, T,
                          rows ? "rows" : "columns", max_err(C1, C2, M * ldc), pad_ok,
                          !memcmp(C1, C3, bytes), !memcmp(C1, C4, bytes));
                    fill(C1, M * ldc, NAN), fill(C2, M * ldc, NAN);
                    nb__gemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C1, ldc);
                    nb__gemm_naive(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C2, ldc);
                    double e = 0.0;
                    for (int64_t i = 0; i < M; i++) {
                        double ei = max_err(C1 + i * ldc, C2 + i * ldc, N);
                        if (ei > e || ei != ei) e = ei;
                    }
                    check(e < 1e-3, "gemm %lldx%lldx%lld ta=%d tb=%d at %d threads, beta 0 over NaN: max err %.2e",
                          (long long)M, (long long)N, (long long)K, ta, tb, threads, e);
                    free(A), free(B), free(C0), free(C1), free(C2), free(C3), free(C4);
                }
    }
    /* nb__gemm_jobs: two large and two small independent products in one region, each equal to
     * nb__gemm alone bit for bit. */
    for (int threads = 1; threads <= 3; threads++) {
        nb_set_threads(threads);
        static const int64_t js[4][5] = {{64, 400, 200, 0, 1}, {7, 9, 11, 1, 0}, {300, 200, 64, 1, 0}, {5, 3, 8, 0, 0}};
        nb__gemm_job job[4];
        float *want[4];
        int same = 1;
        for (int j = 0; j < 4; j++) {
            const int64_t M = js[j][0], N = js[j][1], K = js[j][2], ta = js[j][3], tb = js[j][4];
            float *A = rnd(M * K), *B = rnd(K * N), *C = rnd(M * N);
            want[j] = dup(C, M * N);
            nb__gemm((int)ta, (int)tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, j == 2 ? 0.0f : 0.5f, want[j], N);
            job[j] = (nb__gemm_job){(int)ta, (int)tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, j == 2 ? 0.0f : 0.5f, C, N};
        }
        nb__gemm_jobs(job, 4);
        for (int j = 0; j < 4; j++) {
            same &= !memcmp(job[j].C, want[j], (size_t)(job[j].M * job[j].N) * sizeof(float));
            free((void *)job[j].A), free((void *)job[j].B), free(job[j].C), free(want[j]);
        }
        check(same, "gemm jobs (2 split, 2 whole) at %d threads: each product's bits as nb__gemm alone", threads);
    }
    /* Small products and products inside a parallel region stay on one thread. */
    nb_set_threads(2);
    int inside = 0;
#pragma omp parallel num_threads(2)
    {
#pragma omp master
        inside = nb__gemm_team(64, 400, 200);
    }
    check(nb__gemm_team(64, 400, 200) == 2 && nb__gemm_team(64, 128, 256) == 1 && inside == 1,
          "gemm team: 2 threads for 64x400x200, 1 for 64x128x256 and inside a parallel region (%d)", inside);
}

/* ---- GEMM ---------------------------------------------------------------------------------- */
static void test_gemm(void) {
    static const int64_t sz[4] = {1, 3, 17, 33};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int im = 0; im < 4; im++) {
                double worst = 0.0;
                int pad_ok = 1;
                for (int in = 0; in < 4; in++)
                    for (int ik = 0; ik < 4; ik++) {
                        const int64_t M = sz[im], N = sz[in], K = sz[ik];
                        /* stored A (ta ? K : M, lda), B (tb ? N : K, ldb), C (M, ldc); every
                         * row stride is 3 wider than needed, so the strides are exercised */
                        const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 3;
                        const int64_t ldc = N + 3;
                        float *A = rnd((ta ? K : M) * lda), *B = rnd((tb ? N : K) * ldb);
                        float *C1 = rnd(M * ldc), *C2 = dup(C1, M * ldc), *C0 = dup(C1, M * ldc);
                        nb__gemm(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, -1.3f, C1, ldc);
                        nb__gemm_naive(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, -1.3f, C2, ldc);
                        double e = max_err(C1, C2, M * ldc);
                        if (e > worst || e != e) worst = e;
                        for (int64_t i = 0; i < M; i++) /* the 3 padding columns: untouched */
                            for (int64_t j = N; j < ldc; j++)
                                pad_ok &= C1[i * ldc + j] == C0[i * ldc + j];
                        free(A), free(B), free(C1), free(C2), free(C0);
                    }
                check(worst < TOL && pad_ok,
                      "gemm ta=%d tb=%d M=%lld N,K in {1,3,17,33} alpha=0.7 beta=-1.3: "
                      "max err %.2e, ld padding untouched %d", ta, tb, (long long)sz[im], worst,
                      pad_ok);
            }
    /* beta == 0 must overwrite a C full of NaN; K == 0 leaves beta * C. */
    const int64_t M = 5, N = 7, K = 4;
    float *A = rnd(M * K), *B = rnd(K * N), C1[35], C2[35];
    fill(C1, 35, NAN), fill(C2, 35, NAN);
    nb__gemm(0, 0, M, N, K, 1.5f, A, K, B, N, 0.0f, C1, N);
    nb__gemm_naive(0, 0, M, N, K, 1.5f, A, K, B, N, 0.0f, C2, N);
    check(max_err(C1, C2, 35) < TOL, "gemm beta=0 overwrites NaN in C (fast and naive)");
    fill(C1, 35, 2.0f), fill(C2, 35, 2.0f);
    nb__gemm(0, 0, M, N, 0, 1.0f, A, 1, B, N, 0.5f, C1, N);
    nb__gemm_naive(0, 0, M, N, 0, 1.0f, A, 1, B, N, 0.5f, C2, N);
    check(C1[0] == 1.0f && C1[34] == 1.0f && C2[17] == 1.0f, "gemm K=0 gives beta*C");
    free(A), free(B);
    /* A seeded run is repeatable only if a product's bits do not depend on where its arrays lie
     * (malloc's addresses change from run to run): the same product with A, B and C shifted by
     * 1, 8 and 15 floats gives the same bits (docs/architecture.md, "GEMM"). */
    static const int64_t al[][5] = {{64, 400, 784, 0, 1}, {64, 784, 256, 0, 0}, {256, 784, 64, 1, 0},
                                    {17, 33, 300, 1, 1}, {64, 16, 400, 0, 1}, {5, 1, 64, 0, 0}};
    int same = 1;
    for (size_t c = 0; c < sizeof al / sizeof al[0]; c++) {
        const int64_t m = al[c][0], n = al[c][1], k = al[c][2], ta = al[c][3], tb = al[c][4];
        const int64_t lda = ta ? m : k, ldb = tb ? k : n;
        float *a = rnd(m * k + 16), *b = rnd(k * n + 16), *c0 = rnd(m * n + 16), *c1 = rnd(m * n + 16);
        nb__gemm((int)ta, (int)tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c0, n);
        for (int shift = 1; shift < 16; shift += 7) {
            memmove(a + shift, a, (size_t)(m * k) * sizeof(float));
            memmove(b + shift, b, (size_t)(k * n) * sizeof(float));
            nb__gemm((int)ta, (int)tb, m, n, k, 1.0f, a + shift, lda, b + shift, ldb, 0.0f, c1 + shift, n);
            same &= !memcmp(c0, c1 + shift, (size_t)(m * n) * sizeof(float));
            memmove(a, a + shift, (size_t)(m * k) * sizeof(float));
            memmove(b, b + shift, (size_t)(k * n) * sizeof(float));
        }
        free(a), free(b), free(c0), free(c1);
    }
    check(same, "gemm (%s): the same bits with the arrays shifted by 1, 8 and 15 floats", nb_gemm_backend());
}

/* ---- transposed add (the weight gradient of nb_linear, a transposed view's backward) ------ */
static void test_add_transposed(void) {
    /* sizes around the 8 x 8 register blocks and the 32 x 32 tiles, dst rows padded (rs > rows) */
    const int64_t sizes[][2] = {{1, 1}, {7, 9}, {8, 8}, {9, 7}, {16, 24}, {33, 17}, {64, 40}, {100, 3}, {5, 70},
                                {801, 701} /* split over 2 threads: over 524288 */};
    const int threads = nb_get_threads();
    nb_set_threads(2);
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        const int64_t rows = sizes[c][0], cols = sizes[c][1], rs = rows + 3;
        float *src = rnd(rows * cols), *d0 = rnd(cols * rs), *d1 = dup(d0, cols * rs);
        for (int assign = 0; assign < 2; assign++) {
            for (int64_t j = 0; j < cols; j++)
                for (int64_t i = 0; i < rows; i++)
                    d0[j * rs + i] = assign ? src[i * cols + j] : d0[j * rs + i] + src[i * cols + j];
            nb__add_transposed(d1, rs, src, rows, cols, assign);
            check(memcmp(d0, d1, (size_t)(cols * rs) * sizeof(float)) == 0,
                  "add_transposed %lldx%lld (%s): bit-equal to the plain loop, padding untouched", (long long)rows,
                  (long long)cols, assign ? "store" : "add");
        }
        free(src), free(d0), free(d1);
    }
    nb_set_threads(threads);
}

/* The recurrences' per-step product (rnn.c's packed kernels): every element is one FMA chain over
 * k in order, started from C or from zero, so each kernel available here must give exactly the
 * bits of that chain written with fmaf, on sizes around the row tiles (6, 8), the panels (16, two
 * of 16) and the k blocks (256), with padded rows in A and C left untouched. */
static void test_rnn_step_gemm(void) {
    const int64_t Ms[] = {1, 2, 5, 6, 7, 8, 9, 13, 16, 17, 32};
    const int64_t Ns[] = {1, 5, 16, 17, 31, 32, 33, 48, 70, 128};
    const int64_t Ks[] = {1, 3, 64, 256, 257, 600};
    const char *names[] = {"", "AVX2+FMA", "AVX-512"};
    for (int isa = 1; isa <= 2; isa++) {
        int64_t cases = 0, bad = 0, skipped = 0;
        for (int trans = 0; trans < 2; trans++)
            for (int acc = 0; acc < 2; acc++)
                for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
                    for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++)
                        for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++) {
                            const int64_t M = Ms[mi], N = Ns[ni], K = Ks[ki], lda = K + 3, ldc = N + 2;
                            if (M * N * K > 2000000) continue;
                            float *A = rnd(M * lda), *B = rnd(N * K), *C = rnd(M * ldc), *want = dup(C, M * ldc);
                            for (int64_t i = 0; i < M; i++)
                                for (int64_t j = 0; j < N; j++) {
                                    float c = acc ? want[i * ldc + j] : 0.0f;
                                    for (int64_t k = 0; k < K; k++)
                                        c = fmaf(A[i * lda + k], trans ? B[j * K + k] : B[k * N + j], c);
                                    want[i * ldc + j] = c;
                                }
                            if (!nb__rnn_packed_gemm(isa, trans, M, N, K, A, lda, B, C, ldc, acc)) {
                                skipped++;
                            } else {
                                cases++;
                                bad += memcmp(C, want, (size_t)(M * ldc) * sizeof(float)) != 0;
                            }
                            free(A), free(B), free(C), free(want);
                        }
        if (cases == 0) {
            printf("SKIP rnn step product, %s kernel: not built or not supported on this CPU (%lld cases)\n",
                   names[isa], (long long)skipped);
            continue;
        }
        check(bad == 0 && skipped == 0, "rnn step product, %s kernel: %lld of %lld cases bit-equal to the fmaf chain",
              names[isa], (long long)(cases - bad), (long long)cases);
    }
}

int main(void) {
    printf("GEMM: %s\n", nb_gemm_backend());
    test_add_transposed();
    test_gemm();
    test_gemm_split();
    test_rnn_step_gemm();
    printf("test_gemm: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail != 0;
}
