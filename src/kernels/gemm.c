/* nabla: single-precision GEMM. nb__gemm is a thin wrapper over the machine's CBLAS (OpenBLAS),
 * which is where nearly all of the library's flops go; nb__gemm_naive is the reference the tests
 * compare it with. Both follow CBLAS row-major semantics:
 *   C (M, N), row stride ldc;  A stored (M, K) with row stride lda, or (K, M) when trans_a;
 *   B stored (K, N) with row stride ldb, or (N, K) when trans_b. */
#include "internal.h" /* nb__threads */
#include "kernels/kernels.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <string.h>

/* C = beta * C on an M x N block; beta == 0 overwrites so that NaN/Inf already in C (e.g. an
 * uninitialised buffer) never leaks into the result, as BLAS specifies. */
static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f) {
            for (int64_t j = 0; j < N; j++) c[j] = 0.0f;
        } else if (beta != 1.0f) {
            for (int64_t j = 0; j < N; j++) c[j] *= beta;
        }
    }
}

void nb__gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
              int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    /* Degenerate products are handled here: OpenBLAS's argument checker (xerbla) rejects
     * lda < max(1, K) even when K == 0, and callers legitimately pass empty reductions. */
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    /* The Debian OpenBLAS uses 32-bit BLAS integers; ops/ keeps every matrix dimension and
     * stride under INT_MAX (a 2^31-float matrix would be 8 GiB), so these casts are exact. */
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX) {
        nb__gemm_naive(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* beta 0: C is cleared here and OpenBLAS adds to it (beta 1). OpenBLAS would clear it with
     * its own beta pass, three times slower than memset per float on this machine (6.6% of an
     * mlp step's samples); it then adds the product to the zeros all the same, so the values
     * are the same bits. */
    if (beta == 0.0f) {
        const size_t row = (size_t)N * sizeof(float);
        if (M * N > 65536 && !omp_in_parallel() && nb__threads() > 1) {
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, row);
        } else if (ldc == N) {
            memset(C, 0, (size_t)M * row);
        } else {
            for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, row);
        }
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda,
                B, (int)ldb, beta, C, (int)ldc);
}

void nb__gemm_warm_up(void) {
    static int done;
    if (done) return;
    done = 1;
    /* 64x64x64 takes OpenBLAS's packing path (a tiny product may skip it); once outside any
     * parallel region (OpenBLAS's own threads) and once on each OpenMP thread (a GEMM inside
     * conv2d's parallel region runs there, each taking a buffer of its own). */
    enum { S = 64 };
    static float a[S * S], c[S * S];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, S, S, S, 1.0f, a, S, a, S, 0.0f, c, S);
#pragma omp parallel
    {
        float t[S * S];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, S, S, S, 1.0f, a, S, a, S, 0.0f, t, S);
    }
}

void nb__gemm_naive(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                    float *C, int64_t ldc) {
    /* Element strides of op(A) (M, K) and op(B) (K, N) in the stored arrays, so one loop nest
     * serves all four transpose combinations. */
    const int64_t a_i = trans_a ? 1 : lda, a_k = trans_a ? lda : 1;
    const int64_t b_k = trans_b ? 1 : ldb, b_j = trans_b ? ldb : 1;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double acc = 0.0; /* double so the reference is more accurate than what it checks */
            for (int64_t k = 0; alpha != 0.0f && k < K; k++) /* alpha == 0: A, B unread */
                acc += (double)A[i * a_i + k * a_k] * (double)B[k * b_k + j * b_j];
            float *c = &C[i * ldc + j];
            double r = (double)alpha * acc;
            if (beta != 0.0f) r += (double)beta * (double)*c; /* beta == 0: never read C */
            *c = (float)r;
        }
    }
}
