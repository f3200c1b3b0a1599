/* nabla: single-precision GEMM. nb__gemm is a thin wrapper over oneDNN's sgemm (or, built with
 * NABLA_GEMM=cblas or without oneDNN, the machine's CBLAS: OpenBLAS), which is where nearly all of
 * the library's flops go; nb__gemm_naive is the reference the tests compare it with. Both follow
 * CBLAS row-major semantics:
 *   C (M, N), row stride ldc;  A stored (M, K) with row stride lda, or (K, M) when trans_a;
 *   B stored (K, N) with row stride ldb, or (N, K) when trans_b. */
#include "internal.h" /* nb__threads */
#include "kernels/kernels.h"

#include <cblas.h>
#ifdef NB_GEMM_ONEDNN
#include <dnnl.h>
#endif
#include <limits.h>
#include <stdbool.h>
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

/* A product of fewer multiply-adds than this runs on one thread even when more are set: a
 * parallel region's wake-up (15-30 us with the passive wait policy) costs more than the second
 * core saves below about 3M (64 x 128 x 256 takes 46 us on one thread, 50-52 on two; 64 x 256 x
 * 256 90 on one, 72 on two). */
#define NB__GEMM_PAR_MIN 3.0e6

/* OpenBLAS's own thread setting (settings.c sets it with nb_set_threads). */
void openblas_set_num_threads(int num_threads);

/* One product on the calling thread (K > 0, alpha != 0, every size under INT_MAX). Inside a
 * parallel region either library runs on the calling thread by itself; outside one it would use
 * every thread set, so its thread count is 1 around the call there.
 *
 * oneDNN (NB_GEMM_ONEDNN, the default where libdnnl-dev is installed): its sgemm picks its JIT
 * kernels from the CPU (AVX-512 where there is AVX-512), whatever OPENBLAS_CORETYPE says, about
 * twice OpenBLAS's AVX2 kernels on the batch-sized products of the zoo (docs/architecture.md,
 * "GEMM"). Its thread count is OpenMP's (omp_get_max_threads()). With beta 0
 * it never reads C. Its result does not depend on the arrays' alignment (checked on random shapes
 * and offsets), so a seeded run gives the same bits whatever addresses malloc returns.
 *
 * CBLAS: beta 0: C is cleared here and OpenBLAS adds to it (beta 1): OpenBLAS would clear it with
 * its own beta pass, three times slower than memset per float on this machine (6.6% of an mlp
 * step's samples); it then adds the product to the zeros all the same, so the values are the same
 * bits. */
static void gemm_part(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
#ifdef NB_GEMM_ONEDNN
    const int outer = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (outer > 1) omp_set_num_threads(1);
    dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (outer > 1) omp_set_num_threads(outer);
#else
    const int outer = omp_in_parallel() ? 1 : nb__threads();
    if (outer > 1) openblas_set_num_threads(1);
    if (beta == 0.0f) {
        const size_t row = (size_t)N * sizeof(float);
        if (ldc == N) {
            memset(C, 0, (size_t)M * row);
        } else {
            for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, row);
        }
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda,
                B, (int)ldb, beta, C, (int)ldc);
    if (outer > 1) openblas_set_num_threads(outer);
#endif
}

#ifdef NB_GEMM_ONEDNN
#define NB__STR(x) #x
#define NB__XSTR(x) NB__STR(x)
const char *nb_gemm_backend(void) {
    return "oneDNN " NB__XSTR(DNNL_VERSION_MAJOR) "." NB__XSTR(DNNL_VERSION_MINOR) "." NB__XSTR(
        DNNL_VERSION_PATCH) " sgemm";
}
#else
const char *nb_gemm_backend(void) { return "CBLAS"; }
#endif

/* T threads, each computing one block of C's rows (or, when C has few rows, of its columns) with
 * a one-thread call of the GEMM library (gemm_part), in one parallel region. OpenBLAS's own
 * threading (measured before oneDNN's sgemm took the products) shares packed
 * panels between its threads and waits for them by yielding, which on these 2-core machines
 * cost more than it saved for batch-sized products (docs/ops.md, "GEMM threads"); here each
 * thread packs its own panels and nothing is shared but the region. Blocks are multiples of 16
 * rows/columns (the kernel's tile), so the split depends only on the shape and T: a seeded run
 * gives the same bits at the same thread count. */
bool nb__gemm_block(int T, int t, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                    float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float beta, float *C, int64_t ldc, int64_t *lo_out, int64_t *hi_out) {
    const bool rows = M >= 32 * (int64_t)T || M >= N;
    const int64_t L = rows ? M : N, step = ((L + T - 1) / T + 15) / 16 * 16;
    const int64_t lo = t * step < L ? t * step : L, hi = lo + step < L ? lo + step : L;
    if (lo < hi && K > 0) {
        if (rows)
            gemm_part(trans_a, trans_b, hi - lo, N, K, alpha, trans_a ? A + lo : A + lo * lda, lda,
                      B, ldb, beta, C + lo * ldc, ldc);
        else
            gemm_part(trans_a, trans_b, M, hi - lo, K, alpha, A, lda,
                      trans_b ? B + lo * ldb : B + lo, ldb, beta, C + lo, ldc);
    }
    *lo_out = lo, *hi_out = hi;
    return rows;
}

int nb__gemm_team(int64_t M, int64_t N, int64_t K) {
    if (M <= 0 || N <= 0 || K <= 0 || omp_in_parallel()) return 1;
    const int T = nb__threads();
    return T > 1 && (double)M * (double)N * (double)K >= NB__GEMM_PAR_MIN ? T : 1;
}

void nb__gemm_blas_threads(int n) { openblas_set_num_threads(n); }

void nb__gemm_jobs(const nb__gemm_job *job, int n) {
    enum { MAX_JOBS = 8 };
    bool split[MAX_JOBS];
    int T = 1;
    for (int j = 0; j < n; j++) {
        const nb__gemm_job *g = &job[j];
        /* alpha 0 and 32-bit overflows take nb__gemm's own paths, whole */
        const bool fits = g->alpha != 0.0f && g->M <= INT_MAX && g->N <= INT_MAX && g->K <= INT_MAX &&
                          g->lda <= INT_MAX && g->ldb <= INT_MAX && g->ldc <= INT_MAX;
        const int t = fits ? nb__gemm_team(g->M, g->N, g->K) : 1;
        if (j < MAX_JOBS) split[j] = t > 1;
        T = t > T ? t : T;
    }
    /* Products that write overlapping memory (nb_matmul(x, x): both gradients are x's) run one
     * after the other, as nb__gemm calls would. */
    for (int i = 0; i < n && T > 1; i++)
        for (int j = i + 1; j < n; j++) {
            if (job[i].M <= 0 || job[i].N <= 0 || job[j].M <= 0 || job[j].N <= 0) continue;
            const float *ci = job[i].C, *ei = ci + (job[i].M - 1) * job[i].ldc + job[i].N;
            const float *cj = job[j].C, *ej = cj + (job[j].M - 1) * job[j].ldc + job[j].N;
            if (ci < ej && cj < ei) T = 1;
        }
    if (T == 1 || n > MAX_JOBS) {
        for (int j = 0; j < n; j++)
            nb__gemm(job[j].ta, job[j].tb, job[j].M, job[j].N, job[j].K, job[j].alpha, job[j].A, job[j].lda,
                     job[j].B, job[j].ldb, job[j].beta, job[j].C, job[j].ldc);
        return;
    }
    openblas_set_num_threads(1);
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num();
        int whole = 0; /* products nb__gemm would not split go whole to one thread each, in turn */
        for (int j = 0; j < n; j++) {
            const nb__gemm_job *g = &job[j];
            int64_t lo, hi;
            if (split[j])
                nb__gemm_block(T, t, g->ta, g->tb, g->M, g->N, g->K, g->alpha, g->A, g->lda, g->B,
                               g->ldb, g->beta, g->C, g->ldc, &lo, &hi);
            else if (whole++ % T == t) /* inside the region: one thread, the same bits */
                nb__gemm(g->ta, g->tb, g->M, g->N, g->K, g->alpha, g->A, g->lda, g->B, g->ldb, g->beta,
                         g->C, g->ldc);
        }
    }
    openblas_set_num_threads(T);
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
    if (nb__gemm_team(M, N, K) > 1) { /* split over the threads: a job list of one */
        const nb__gemm_job job = {trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
        nb__gemm_jobs(&job, 1);
        return;
    }
    gemm_part(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); /* one thread */
}

void nb__gemm_warm_up(void) {
    static int done;
    if (done) return;
    done = 1;
    /* 64x64x64 takes the library's packing path (a tiny product may skip it) and, with oneDNN,
     * generates its kernels; once on the calling thread outside any parallel region and once on
     * each OpenMP thread (a GEMM inside conv2d's parallel region runs there, each taking a buffer
     * of its own). */
    enum { S = 64 };
    static float a[S * S], c[S * S];
    gemm_part(0, 0, S, S, S, 1.0f, a, S, a, S, 0.0f, c, S);
#pragma omp parallel
    {
        float t[S * S];
        gemm_part(0, 0, S, S, S, 1.0f, a, S, a, S, 0.0f, t, S);
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
