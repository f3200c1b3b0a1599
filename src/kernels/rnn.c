/* Recurrences over whole sequences: the fused forward and backward of the RNN (tanh, relu),
 * GRU and LSTM layers, on plain arrays, batch-first.
 *
 * Layout (G gates of H: 1 for RNN, 3 for GRU (r, z, n), 4 for LSTM (i, f, g, o), PyTorch's order):
 *   xp (N, T, G*H)  the input projection of every step, x W_ih^T + b_ih, made by one GEMM
 *   w  (G*H, H)     W_hh;  bi, bh (G*H) b_ih and b_hh (zeros for a layer without biases)
 *   h  (N, T, H)    the state after each step; c (N, T, H) the LSTM's cell state
 *   save (N, T, 4H) what the backward needs: LSTM the activated gates; GRU r, z, n and the
 *                   recurrent part of n, W_hn h + b_hn (RNN: nothing)
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

/* The gate loops compiled for AVX-512 and AVX2+FMA besides the portable baseline, picked at load
 * time for the machine (GCC's function multi-versioning); other compilers build the baseline. */
/* "omp simd" for GCC, which vectorizes these loops; clang (the fuzz build) cannot under its
 * sanitizers and would warn for every loop. */
#if defined(__GNUC__) && !defined(__clang__)
#define NB_SIMD _Pragma("omp simd")
#else
#define NB_SIMD
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NB_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NB_CLONES
#endif

static inline bool real_step(const nb__rnn_dims *d, int64_t n, int64_t t) { return !d->len || t < d->len[n]; }

NB_CLONES static void forward_block(const nb__rnn_dims *d, const float *xp, const float *w, const float *bi, const float *bh,
                          const float *h0,
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
        nb__gemm(0, 1, R, GH, H, 1.0f, hp, ldh, w, H, 1.0f, g, GH);
        for (int64_t r = 0; r < R; r++) {
            int64_t n = r0 + r;
            const float *gr = g + r * GH, *hpr = hp + r * ldh;
            float *hr = h + (n * T + t) * H;
            if (!real_step(d, n, t)) {
                memcpy(hr, hpr, (size_t)H * sizeof(float));
                if (cp) memcpy(c + (n * T + t) * H, cp + r * ldc, (size_t)H * sizeof(float));
                continue;
            }
            float *sv = save ? save + (n * T + t) * 4 * H : NULL;
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
    if (nt == 1) {
        forward_block(d, xp, w, bi, bh, h0, c0, h, c, save, scratch, 0, d->N);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int64_t r0, r1;
        block(d->N, nt, omp_get_thread_num(), &r0, &r1);
        forward_block(d, xp, w, bi, bh, h0, c0, h, c, save, scratch + r0 * d->G * d->H, r0, r1);
    }
}

/* Backward of rows r0..r1: dh, dc, dhn are this block's (R, H) scratch rows. */
NB_CLONES static void backward_block(const nb__rnn_dims *d, const float *w, const float *h0, const float *c0, const float *h,
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
            const float *sv = save ? save + at * 4 * H : NULL, *hr = h + at * H;
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
        /* dh_prev = dgh W for the real rows; the padded ones carry dh unchanged. */
        nb__gemm(0, 0, R, H, GH, 1.0f, dgh + (r0 * T + t) * GH, T * GH, w, H, 0.0f, dhn, H);
        for (int64_t r = 0; r < R; r++) {
            int64_t n = r0 + r;
            if (!real_step(d, n, t)) continue;
            float *dhr = dh + r * H;
            const float *dnr = dhn + r * H;
            if (cell == NB_CELL_GRU) {
                const float *z = save + (n * T + t) * 4 * H + H;
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
    if (nt == 1) {
        backward_block(d, w, h0, c0, h, c, save, gh, gc, dxp, dgh, dh0, dc0, dh, dc, dhn, 0, d->N);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int64_t r0, r1;
        block(d->N, nt, omp_get_thread_num(), &r0, &r1);
        backward_block(d, w, h0, c0, h, c, save, gh, gc, dxp, dgh, dh0, dc0, dh + r0 * H, dc ? dc + r0 * H : NULL,
                       dhn + r0 * H, r0, r1);
    }
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
