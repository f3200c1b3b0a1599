/* Recurrences over whole sequences: the fused forward and backward of the RNN (tanh, relu),
 * GRU and LSTM layers, on plain arrays, batch-first.
 *
 * Layout (G gates of H: 1 for RNN, 3 for GRU (r, z, n), 4 for LSTM (i, f, g, o), PyTorch's order):
 *   xp (N, T, G*H)  the input projection of every step, x W_ih^T + b_ih, made by one GEMM
 *   w  (G*H, H)     W_hh;  bi, bh (G*H) b_ih and b_hh (zeros for a layer without biases)
 *   h  (N, T, H)    the state after each step; c (N, T, H) the LSTM's cell state
 *   save (T, N, 4H) what the backward needs: LSTM the activated gates; GRU r, z, n and the
 *                   recurrent part of n, W_hn h + b_hn (RNN: nothing); step-major, so that a
 *                   step's rows of a thread's block are contiguous
 * Steps run t = 0..T-1, or T-1..0 when reverse. A step at or past a sample's length is padding:
 * its state is the previous one carried unchanged, so h at the last step (step 0 when reverse)
 * is the state after the last real one, and gradients pass through the carry untouched.
 *
 * Threads: the rows (samples) are cut into one block per thread. A sample's recurrence needs
 * nothing from the others, so each thread runs the whole sequence for its block, one
 * single-threaded GEMM per step, with no barrier between steps. The result depends on the
 * thread count only through the GEMM blocking (fixed for a given count): runs repeat. */
#include "kernels/fastmath.h"
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Row block of thread k of nt over N rows. */
static void block(int64_t N, int nt, int k, int64_t *r0, int64_t *r1) {
    *r0 = N * k / nt;
    *r1 = N * (k + 1) / nt;
}

/* Threads for a recurrence over N rows: one per row at most; one when the work is small
 * (then OpenBLAS may thread each GEMM itself). */
static int rnn_threads(const nb__rnn_dims *d, int threads) {
    int64_t work = d->N * d->G * d->H * d->H;
    int nt = threads < 1 ? 1 : threads;
    if (nt > d->N) nt = (int)d->N;
    if (work < 64 * 64 * 64) nt = 1;
    return nt < 1 ? 1 : nt;
}

/* The previous state of rows r0.. at step t (its pointer and row stride). */
static const float *prev_rows(const nb__rnn_dims *d, const float *s0, const float *s, int64_t r0, int64_t t,
                              bool first, int64_t *ld) {
    if (first) {
        *ld = d->H;
        return s0 + r0 * d->H;
    }
    int64_t tp = d->reverse ? t + 1 : t - 1;
    *ld = d->T * d->H;
    return s + (r0 * d->T + tp) * d->H;
}

/* The gate loops are cloned for AVX-512 and AVX2+FMA besides the baseline (NB_CLONES, kernels.h).
 * "omp simd" for GCC, which vectorizes these loops; clang (the fuzz build) cannot under its
 * sanitizers and would warn for every loop. */
#if defined(__GNUC__) && !defined(__clang__)
#define NB_SIMD _Pragma("omp simd")
#else
#define NB_SIMD
#endif

/* The per-step products against W_hh. OpenBLAS packs both operands on every call, and for a
 * step's small product (a thread's R rows) repacking the whole of W_hh each step costs about as
 * much as the multiply itself. With AVX2 and FMA, W_hh is packed once per call of the layer into
 * panels of PANEL columns (k-major, zero-padded) and each step runs a register-blocked kernel on
 * it: C (M, N) = [C +] A (M, K) op(B), every element one FMA chain over k in order (started from
 * C when accumulating, from zero otherwise). Two kernels compute those chains: an AVX2 one (tiles
 * of 6 rows by one panel) and, where the CPU has AVX-512, one with tiles of 8 rows by two panels
 * (twice the multiply-adds per instruction, whatever OPENBLAS_CORETYPE says, as the product is
 * nabla's). A chain is the same FMAs in the same order in either, so both give the same bits.
 * Other machines call nb__gemm. */
enum { PANEL = 16, TILE_ROWS = 6, TILE_ROWS512 = 8 };

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#define NB_RNN_PACKED 1

/* The best kernel here: 0 none (nb__gemm), 1 AVX2+FMA, 2 AVX-512. Asked on every call (the CPU
 * flags are read once, at start-up, by libgcc; no state here for threads to race on). */
static int packed_isa(void) {
    return !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 0
           : __builtin_cpu_supports("avx512f")                                ? 2
                                                                               : 1;
}

/* mr rows (1..TILE_ROWS, a constant after inlining) by one panel of 16 columns. */
__attribute__((target("avx2,fma"), always_inline)) static inline void tile(const int mr, int64_t K, const float *A,
                                                                            int64_t lda, const float *bp, float *C,
                                                                            int64_t ldc, bool acc) {
    __m256 c0[TILE_ROWS], c1[TILE_ROWS];
    for (int r = 0; r < mr; r++) {
        c0[r] = acc ? _mm256_loadu_ps(C + r * ldc) : _mm256_setzero_ps();
        c1[r] = acc ? _mm256_loadu_ps(C + r * ldc + 8) : _mm256_setzero_ps();
    }
    for (int64_t k = 0; k < K; k++) {
        __m256 b0 = _mm256_load_ps(bp + k * PANEL), b1 = _mm256_load_ps(bp + k * PANEL + 8);
        for (int r = 0; r < mr; r++) {
            __m256 a = _mm256_broadcast_ss(A + r * lda + k);
            c0[r] = _mm256_fmadd_ps(a, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(a, b1, c1[r]);
        }
    }
    for (int r = 0; r < mr; r++) {
        _mm256_storeu_ps(C + r * ldc, c0[r]);
        _mm256_storeu_ps(C + r * ldc + 8, c1[r]);
    }
}

/* Columns of all panels, rows of all tiles, k over [0, kb) of a panel whose full depth is K. */
__attribute__((target("avx2,fma"))) static void gemm_block(int64_t M, int64_t N, int64_t K, int64_t kb,
                                                            const float *A, int64_t lda, const float *bp, float *C,
                                                            int64_t ldc, bool acc) {
    for (int64_t j = 0; j < N; j += PANEL) {
        const float *b = bp + j * K;
        int64_t nc = N - j < PANEL ? N - j : PANEL;
        for (int64_t i = 0; i < M; i += TILE_ROWS) {
            int mr = M - i < TILE_ROWS ? (int)(M - i) : TILE_ROWS;
            float tmp[TILE_ROWS * PANEL];
            float *c = C + i * ldc + j;
            int64_t ld = ldc;
            if (nc < PANEL) { /* the last, partial panel goes through a full-width buffer */
                for (int r = 0; r < mr; r++)
                    for (int q = 0; q < PANEL; q++) tmp[r * PANEL + q] = acc && q < nc ? c[r * ldc + q] : 0.0f;
                c = tmp, ld = PANEL;
            }
            const float *a = A + i * lda;
            switch (mr) {
            case 1: tile(1, kb, a, lda, b, c, ld, acc); break;
            case 2: tile(2, kb, a, lda, b, c, ld, acc); break;
            case 3: tile(3, kb, a, lda, b, c, ld, acc); break;
            case 4: tile(4, kb, a, lda, b, c, ld, acc); break;
            case 5: tile(5, kb, a, lda, b, c, ld, acc); break;
            default: tile(TILE_ROWS, kb, a, lda, b, c, ld, acc); break;
            }
            if (nc < PANEL)
                for (int r = 0; r < mr; r++) memcpy(C + (i + r) * ldc + j, tmp + r * PANEL, (size_t)nc * sizeof(float));
        }
    }
}

/* mr rows (1..TILE_ROWS512) by np (1 or 2) consecutive panels, whose starts are ps floats apart
 * (K * PANEL); mr and np are constants after inlining. */
__attribute__((target("avx512f"), always_inline)) static inline void tile512(const int mr, const int np, int64_t K,
                                                                              const float *A, int64_t lda,
                                                                              const float *bp, int64_t ps, float *C,
                                                                              int64_t ldc, bool acc) {
    __m512 c0[TILE_ROWS512], c1[TILE_ROWS512];
    for (int r = 0; r < mr; r++) {
        c0[r] = acc ? _mm512_loadu_ps(C + r * ldc) : _mm512_setzero_ps();
        if (np == 2) c1[r] = acc ? _mm512_loadu_ps(C + r * ldc + PANEL) : _mm512_setzero_ps();
    }
    for (int64_t k = 0; k < K; k++) {
        __m512 b0 = _mm512_load_ps(bp + k * PANEL), b1 = _mm512_setzero_ps();
        if (np == 2) b1 = _mm512_load_ps(bp + ps + k * PANEL);
        for (int r = 0; r < mr; r++) {
            __m512 a = _mm512_set1_ps(A[r * lda + k]);
            c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
            if (np == 2) c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
        }
    }
    for (int r = 0; r < mr; r++) {
        _mm512_storeu_ps(C + r * ldc, c0[r]);
        if (np == 2) _mm512_storeu_ps(C + r * ldc + PANEL, c1[r]);
    }
}

#define NB_TILE512_ROWS(np)                                                                                             \
    switch (mr) {                                                                                                      \
    case 1: tile512(1, np, kb, a, lda, b, ps, c, ld, acc); break;                                                     \
    case 2: tile512(2, np, kb, a, lda, b, ps, c, ld, acc); break;                                                     \
    case 3: tile512(3, np, kb, a, lda, b, ps, c, ld, acc); break;                                                     \
    case 4: tile512(4, np, kb, a, lda, b, ps, c, ld, acc); break;                                                     \
    case 5: tile512(5, np, kb, a, lda, b, ps, c, ld, acc); break;                                                     \
    case 6: tile512(6, np, kb, a, lda, b, ps, c, ld, acc); break;                                                     \
    case 7: tile512(7, np, kb, a, lda, b, ps, c, ld, acc); break;                                                     \
    default: tile512(TILE_ROWS512, np, kb, a, lda, b, ps, c, ld, acc); break;                                         \
    }

/* gemm_block's AVX-512 twin: two full panels at a time, then one, the partial last one through a
 * full-width buffer. */
__attribute__((target("avx512f"))) static void gemm_block512(int64_t M, int64_t N, int64_t K, int64_t kb,
                                                              const float *A, int64_t lda, const float *bp, float *C,
                                                              int64_t ldc, bool acc) {
    const int64_t ps = K * PANEL;
    for (int64_t j = 0; j < N;) {
        const float *b = bp + j * K;
        int64_t nc = N - j < PANEL ? N - j : PANEL;
        const int np = N - j >= 2 * PANEL ? 2 : 1;
        for (int64_t i = 0; i < M; i += TILE_ROWS512) {
            int mr = M - i < TILE_ROWS512 ? (int)(M - i) : TILE_ROWS512;
            float tmp[TILE_ROWS512 * PANEL];
            float *c = C + i * ldc + j;
            int64_t ld = ldc;
            if (nc < PANEL) {
                for (int r = 0; r < mr; r++)
                    for (int q = 0; q < PANEL; q++) tmp[r * PANEL + q] = acc && q < nc ? c[r * ldc + q] : 0.0f;
                c = tmp, ld = PANEL;
            }
            const float *a = A + i * lda;
            if (np == 2) {
                NB_TILE512_ROWS(2)
            } else {
                NB_TILE512_ROWS(1)
            }
            if (nc < PANEL)
                for (int r = 0; r < mr; r++) memcpy(C + (i + r) * ldc + j, tmp + r * PANEL, (size_t)nc * sizeof(float));
        }
        j += np * PANEL;
    }
}
#undef NB_TILE512_ROWS

/* Over k in blocks of KBLOCK (a panel's block, 16 KB, or two, stay in L1 across the row tiles); a block
 * continues the chain from the stored partial sums, so the blocking does not change the result. */
enum { KBLOCK = 256 };

static void gemm_packed(int isa, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *bp,
                        float *C, int64_t ldc, bool acc) {
    for (int64_t k0 = 0; k0 < K; k0 += KBLOCK) {
        int64_t kb = K - k0 < KBLOCK ? K - k0 : KBLOCK;
        if (isa == 2)
            gemm_block512(M, N, K, kb, A + k0, lda, bp + k0 * PANEL, C, ldc, acc || k0 > 0);
        else
            gemm_block(M, N, K, kb, A + k0, lda, bp + k0 * PANEL, C, ldc, acc || k0 > 0);
    }
}
#endif

/* Panels of op(B) (K, N) for gemm_packed, columns [j0, j1) (multiples of PANEL but for the end):
 * trans: B stored (N, K), else (K, N); row stride K resp. N. */
static void pack_panels(bool trans, int64_t K, int64_t N, const float *B, float *out, int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; j += PANEL) {
        float *o = out + j * K;
        for (int64_t k = 0; k < K; k++)
            for (int64_t q = 0; q < PANEL; q++)
                o[k * PANEL + q] = j + q < N ? (trans ? B[(j + q) * K + k] : B[k * N + j + q]) : 0.0f;
    }
}

/* The packed W_hh (NULL without AVX2/FMA: then nb__gemm): (H, G*H) for the forward steps
 * (trans), (G*H, H) for the backward ones. Packed by the nt threads of the caller's region (or
 * alone), a barrier after. */
static float *packed_alloc(int64_t K, int64_t N) {
#ifdef NB_RNN_PACKED
    if (!packed_isa()) return NULL;
    int64_t np = (N + PANEL - 1) / PANEL;
    return aligned_alloc(64, (size_t)(np * PANEL * K) * sizeof(float));
#else
    (void)K, (void)N;
    return NULL;
#endif
}

static void pack_share(bool trans, int64_t K, int64_t N, const float *B, float *out, int nt, int k) {
    int64_t np = (N + PANEL - 1) / PANEL;
    pack_panels(trans, K, N, B, out, np * k / nt * PANEL, np * (k + 1) / nt * PANEL < N ? np * (k + 1) / nt * PANEL : N);
}

/* C (M, N) = [C +] A (M, K) op(B) by the packed panels, or nb__gemm on op(B) = B^T (trans) / B. */
static void step_gemm(bool trans, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                      const float *bp, float *C, int64_t ldc, bool acc) {
#ifdef NB_RNN_PACKED
    if (bp) {
        gemm_packed(packed_isa(), M, N, K, A, lda, bp, C, ldc, acc);
        return;
    }
#else
    (void)bp;
#endif
    nb__gemm(0, trans, M, N, K, 1.0f, A, lda, B, trans ? K : N, acc ? 1.0f : 0.0f, C, ldc);
}

bool nb__rnn_packed_gemm(int isa, bool trans, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                         const float *B, float *C, int64_t ldc, bool acc) {
#ifdef NB_RNN_PACKED
    if (isa < 1 || isa > packed_isa()) return false;
    float *bp = packed_alloc(K, N);
    if (!bp) return false;
    pack_share(trans, K, N, B, bp, 1, 0);
    gemm_packed(isa, M, N, K, A, lda, bp, C, ldc, acc);
    free(bp);
    return true;
#else
    (void)isa, (void)trans, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)C, (void)ldc, (void)acc;
    return false;
#endif
}

static inline bool real_step(const nb__rnn_dims *d, int64_t n, int64_t t) { return !d->len || t < d->len[n]; }

NB_CLONES static void forward_block(const nb__rnn_dims *d, const float *xp, const float *w, const float *wp,
                          const float *bi, const float *bh, const float *h0,
                          const float *c0, float *h, float *c, float *save, float *g, int64_t r0, int64_t r1) {
    const int64_t T = d->T, H = d->H, GH = d->G * H, R = r1 - r0;
    const int cell = d->cell;
    for (int64_t s = 0; s < T; s++) {
        int64_t t = d->reverse ? T - 1 - s : s, ldh, ldc = 0;
        const float *hp = prev_rows(d, h0, h, r0, t, s == 0, &ldh);
        const float *cp = cell == NB_CELL_LSTM ? prev_rows(d, c0, c, r0, t, s == 0, &ldc) : NULL;
        /* g = [xp + bi +] bh + h_prev W^T: the GRU keeps the recurrent part apart (n needs r * it). */
        for (int64_t r = 0; r < R; r++) {
            float *gr = g + r * GH;
            const float *xr = xp + ((r0 + r) * T + t) * GH;
            if (cell == NB_CELL_GRU) {
                memcpy(gr, bh, (size_t)GH * sizeof(float));
            } else {
NB_SIMD
                for (int64_t j = 0; j < GH; j++) gr[j] = xr[j] + bi[j] + bh[j];
            }
        }
        step_gemm(true, R, GH, H, hp, ldh, w, wp, g, GH, true);
        for (int64_t r = 0; r < R; r++) {
            int64_t n = r0 + r;
            const float *gr = g + r * GH, *hpr = hp + r * ldh;
            float *hr = h + (n * T + t) * H;
            if (!real_step(d, n, t)) {
                memcpy(hr, hpr, (size_t)H * sizeof(float));
                if (cp) memcpy(c + (n * T + t) * H, cp + r * ldc, (size_t)H * sizeof(float));
                continue;
            }
            float *sv = save ? save + (t * d->N + n) * 4 * H : NULL;
            if (cell == NB_CELL_LSTM) {
                const float *cpr = cp + r * ldc;
                float *cr = c + (n * T + t) * H;
                NB_SIMD
                for (int64_t j = 0; j < H; j++) {
                    float i = nb__sigmoidf(gr[j]), f = nb__sigmoidf(gr[H + j]), gg = nb__tanhf(gr[2 * H + j]), o = nb__sigmoidf(gr[3 * H + j]);
                    float cn = f * cpr[j] + i * gg;
                    cr[j] = cn;
                    hr[j] = o * nb__tanhf(cn);
                    sv[j] = i, sv[H + j] = f, sv[2 * H + j] = gg, sv[3 * H + j] = o;
                }
            } else if (cell == NB_CELL_GRU) {
                const float *xr = xp + (n * T + t) * GH;
                NB_SIMD
                for (int64_t j = 0; j < H; j++) {
                    float rr = nb__sigmoidf(xr[j] + bi[j] + gr[j]), z = nb__sigmoidf(xr[H + j] + bi[H + j] + gr[H + j]);
                    float nn = nb__tanhf(xr[2 * H + j] + bi[2 * H + j] + rr * gr[2 * H + j]);
                    hr[j] = (1.0f - z) * nn + z * hpr[j];
                    sv[j] = rr, sv[H + j] = z, sv[2 * H + j] = nn, sv[3 * H + j] = gr[2 * H + j];
                }
            } else if (cell == NB_CELL_RELU) {
                NB_SIMD
                for (int64_t j = 0; j < H; j++) hr[j] = gr[j] > 0.0f ? gr[j] : (gr[j] == gr[j] ? 0.0f : gr[j]);
            } else {
                NB_SIMD
                for (int64_t j = 0; j < H; j++) hr[j] = nb__tanhf(gr[j]);
            }
        }
    }
}

void nb__rnn_forward(const nb__rnn_dims *d, const float *xp, const float *w, const float *bi, const float *bh,
                     const float *h0,
                     const float *c0, float *h, float *c, float *save, float *scratch, int threads) {
    int nt = rnn_threads(d, threads);
    const int64_t GH = d->G * d->H;
    float *wp = d->T > 1 ? packed_alloc(d->H, GH) : NULL; /* one step: nothing to share the packing */
    if (nt == 1) {
        if (wp) pack_share(true, d->H, GH, w, wp, 1, 0);
        forward_block(d, xp, w, wp, bi, bh, h0, c0, h, c, save, scratch, 0, d->N);
        free(wp);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int64_t r0, r1;
        int k = omp_get_thread_num();
        if (wp) {
            pack_share(true, d->H, GH, w, wp, nt, k);
#pragma omp barrier
        }
        block(d->N, nt, k, &r0, &r1);
        forward_block(d, xp, w, wp, bi, bh, h0, c0, h, c, save, scratch + r0 * GH, r0, r1);
    }
    free(wp);
}

/* Backward of rows r0..r1: dh, dc, dhn are this block's (R, H) scratch rows. */
NB_CLONES static void backward_block(const nb__rnn_dims *d, const float *w, const float *wp, const float *h0, const float *c0, const float *h,
                           const float *c, const float *save, const float *gh, const float *gc, float *dxp,
                           float *dgh, float *dh0, float *dc0, float *dh, float *dc, float *dhn, int64_t r0,
                           int64_t r1) {
    const int64_t T = d->T, H = d->H, GH = d->G * H, R = r1 - r0;
    const int cell = d->cell;
    memset(dh, 0, (size_t)(R * H) * sizeof(float));
    if (dc) memset(dc, 0, (size_t)(R * H) * sizeof(float));
    for (int64_t s = T - 1; s >= 0; s--) {
        int64_t t = d->reverse ? T - 1 - s : s, ldh, ldc = 0;
        const float *hp = prev_rows(d, h0, h, r0, t, s == 0, &ldh);
        const float *cp = cell == NB_CELL_LSTM ? prev_rows(d, c0, c, r0, t, s == 0, &ldc) : NULL;
        for (int64_t r = 0; r < R; r++) {
            int64_t n = r0 + r, at = n * T + t;
            float *dhr = dh + r * H;
            const float *ghr = gh ? gh + at * H : NULL;
            if (ghr)
                NB_SIMD
                for (int64_t j = 0; j < H; j++) dhr[j] += ghr[j];
            if (cell == NB_CELL_LSTM && gc) {
                const float *gcr = gc + at * H;
                for (int64_t j = 0; j < H; j++) dc[r * H + j] += gcr[j];
            }
            float *dg = dgh + at * GH, *dx = dxp + at * GH;
            if (!real_step(d, n, t)) {
                memset(dg, 0, (size_t)GH * sizeof(float));
                if (dx != dg) memset(dx, 0, (size_t)GH * sizeof(float));
                continue;
            }
            const float *sv = save ? save + (t * d->N + n) * 4 * H : NULL, *hr = h + at * H;
            if (cell == NB_CELL_LSTM) {
                const float *cr = c + at * H, *cpr = cp + r * ldc;
                float *dcr = dc + r * H;
                NB_SIMD
                for (int64_t j = 0; j < H; j++) {
                    float i = sv[j], f = sv[H + j], gg = sv[2 * H + j], o = sv[3 * H + j];
                    float tc = nb__tanhf(cr[j]);
                    float dcc = dcr[j] + dhr[j] * o * (1.0f - tc * tc);
                    dg[j] = dcc * gg * i * (1.0f - i);
                    dg[H + j] = dcc * cpr[j] * f * (1.0f - f);
                    dg[2 * H + j] = dcc * i * (1.0f - gg * gg);
                    dg[3 * H + j] = dhr[j] * tc * o * (1.0f - o);
                    dcr[j] = dcc * f;
                }
            } else if (cell == NB_CELL_GRU) {
                const float *hpr = hp + r * ldh;
                NB_SIMD
                for (int64_t j = 0; j < H; j++) {
                    float rr = sv[j], z = sv[H + j], nn = sv[2 * H + j], hn = sv[3 * H + j];
                    float dn = dhr[j] * (1.0f - z) * (1.0f - nn * nn);
                    float dz = dhr[j] * (hpr[j] - nn) * z * (1.0f - z);
                    float dr = dn * hn * rr * (1.0f - rr);
                    dx[j] = dg[j] = dr;
                    dx[H + j] = dg[H + j] = dz;
                    dx[2 * H + j] = dn;
                    dg[2 * H + j] = dn * rr;
                }
            } else if (cell == NB_CELL_RELU) {
                NB_SIMD
                for (int64_t j = 0; j < H; j++) dg[j] = hr[j] > 0.0f ? dhr[j] : 0.0f;
            } else {
                NB_SIMD
                for (int64_t j = 0; j < H; j++) dg[j] = dhr[j] * (1.0f - hr[j] * hr[j]);
            }
        }
        /* dh_prev = dgh W for the real rows; the padded ones carry dh unchanged. Without padded
         * rows, the RNN's and LSTM's dh_prev is the product itself, written in place. */
        bool direct = cell != NB_CELL_GRU;
        for (int64_t r = 0; d->len && direct && r < R; r++) direct = real_step(d, r0 + r, t);
        step_gemm(false, R, H, GH, dgh + (r0 * T + t) * GH, T * GH, w, wp, direct ? dh : dhn, H, false);
        for (int64_t r = 0; !direct && r < R; r++) {
            int64_t n = r0 + r;
            if (!real_step(d, n, t)) continue;
            float *dhr = dh + r * H;
            const float *dnr = dhn + r * H;
            if (cell == NB_CELL_GRU) {
                const float *z = save + (t * d->N + n) * 4 * H + H;
                NB_SIMD
                for (int64_t j = 0; j < H; j++) dhr[j] = dnr[j] + dhr[j] * z[j];
            } else {
                memcpy(dhr, dnr, (size_t)H * sizeof(float));
            }
        }
    }
    memcpy(dh0 + r0 * H, dh, (size_t)(R * H) * sizeof(float));
    if (dc0 && dc) memcpy(dc0 + r0 * H, dc, (size_t)(R * H) * sizeof(float));
}

void nb__rnn_backward(const nb__rnn_dims *d, const float *w, const float *h0, const float *c0, const float *h,
                      const float *c, const float *save, const float *gh, const float *gc, float *dxp, float *dgh,
                      float *dh0, float *dc0, float *scratch, int threads) {
    int nt = rnn_threads(d, threads);
    const int64_t H = d->H;
    bool lstm = d->cell == NB_CELL_LSTM;
    float *dh = scratch, *dhn = scratch + d->N * H, *dc = lstm ? scratch + 2 * d->N * H : NULL;
    const int64_t GH = d->G * H;
    float *wp = d->T > 1 ? packed_alloc(GH, H) : NULL;
    if (nt == 1) {
        if (wp) pack_share(false, GH, H, w, wp, 1, 0);
        backward_block(d, w, wp, h0, c0, h, c, save, gh, gc, dxp, dgh, dh0, dc0, dh, dc, dhn, 0, d->N);
        free(wp);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int64_t r0, r1;
        int k = omp_get_thread_num();
        if (wp) {
            pack_share(false, GH, H, w, wp, nt, k);
#pragma omp barrier
        }
        block(d->N, nt, k, &r0, &r1);
        backward_block(d, w, wp, h0, c0, h, c, save, gh, gc, dxp, dgh, dh0, dc0, dh + r0 * H, dc ? dc + r0 * H : NULL,
                       dhn + r0 * H, r0, r1);
    }
    free(wp);
}

void nb__rnn_prev_states(const nb__rnn_dims *d, const float *s0, const float *s, float *prev) {
    const int64_t T = d->T, H = d->H;
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t t = 0; t < T; t++) {
            bool first = d->reverse ? t == T - 1 : t == 0;
            int64_t tp = d->reverse ? t + 1 : t - 1;
            const float *src = first ? s0 + n * H : s + (n * T + tp) * H;
            memcpy(prev + (n * T + t) * H, src, (size_t)H * sizeof(float));
        }
}
