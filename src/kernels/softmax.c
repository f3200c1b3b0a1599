/* nabla: softmax and log_softmax over the middle axis of x (outer, K, inner): element (o, k, i)
 * is x[(o*K + k)*inner + i]. Numerically stable (the max along K is subtracted before exp);
 * exp in float, sums in double.
 *
 * For inner > 1 the K values of one softmax are inner floats apart, so walking them one softmax
 * at a time would touch a new cache line per element. The fast kernels instead process a tile
 * of up to TILE adjacent i at once, sweeping k in the outer loop and i in the inner one, with
 * the per-i max and sum kept in small stack arrays. Tiles are independent and each is reduced
 * in a fixed order by one thread, so results do not depend on the OpenMP schedule.
 * The flag kernels.h calls `log` is named is_log here so as not to shadow log() of math.h. */
#include "kernels/kernels.h"

#include <math.h>

#define TILE 256
/* Below this many elements the OpenMP team costs more than it saves. */
#define NB_SOFTMAX_PAR_MIN 262144

void nb__softmax_fwd(const float *x, float *y, int64_t outer, int64_t K, int64_t inner,
                     int is_log) {
    const int64_t tiles = (inner + TILE - 1) / TILE;
#pragma omp parallel for schedule(static) if (outer * K * inner >= NB_SOFTMAX_PAR_MIN)
    for (int64_t t = 0; t < outer * tiles; t++) {
        const int64_t o = t / tiles, i0 = (t % tiles) * TILE;
        const int64_t nt = inner - i0 < TILE ? inner - i0 : TILE;
        const float *xs = x + o * K * inner + i0; /* xs[k*inner + j], j < nt */
        float *ys = y + o * K * inner + i0;
        float m[TILE];  /* max over k, per column j */
        double s[TILE]; /* sum over k of exp(x - m), per column j */
        for (int64_t j = 0; j < nt; j++) {
            m[j] = -INFINITY;
            s[j] = 0.0;
        }
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < nt; j++)
                if (xs[k * inner + j] > m[j]) m[j] = xs[k * inner + j];
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < nt; j++) {
                const float d = xs[k * inner + j] - m[j];
                const float e = expf(d);
                s[j] += (double)e;
                ys[k * inner + j] = is_log ? d : e; /* finished below once s is known */
            }
        if (is_log) {
            for (int64_t j = 0; j < nt; j++) s[j] = log(s[j]);
            for (int64_t k = 0; k < K; k++)
                for (int64_t j = 0; j < nt; j++)
                    ys[k * inner + j] = (float)((double)ys[k * inner + j] - s[j]);
        } else {
            for (int64_t j = 0; j < nt; j++) s[j] = 1.0 / s[j];
            for (int64_t k = 0; k < K; k++)
                for (int64_t j = 0; j < nt; j++)
                    ys[k * inner + j] = (float)((double)ys[k * inner + j] * s[j]);
        }
    }
}

/* softmax:     gx += y * (gy - sum_k gy*y)     (the Jacobian diag(y) - y y^T applied to gy)
 * log_softmax: gx += gy - exp(y) * sum_k gy    (y = log p, so exp(y) = p) */
void nb__softmax_bwd(const float *y, const float *gy, float *gx, int64_t outer, int64_t K,
                     int64_t inner, int is_log) {
    const int64_t tiles = (inner + TILE - 1) / TILE;
#pragma omp parallel for schedule(static) if (outer * K * inner >= NB_SOFTMAX_PAR_MIN)
    for (int64_t t = 0; t < outer * tiles; t++) {
        const int64_t o = t / tiles, i0 = (t % tiles) * TILE;
        const int64_t nt = inner - i0 < TILE ? inner - i0 : TILE;
        const int64_t off = o * K * inner + i0; /* element (o, k, i0 + j) is at off + k*inner + j */
        const float *ys = y + off, *gs = gy + off;
        float *gxs = gx + off;
        double s[TILE]; /* the sum over k above, per column j */
        for (int64_t j = 0; j < nt; j++) s[j] = 0.0;
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < nt; j++) {
                const int64_t e = k * inner + j;
                s[j] += is_log ? (double)gs[e] : (double)gs[e] * (double)ys[e];
            }
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < nt; j++) {
                const int64_t e = k * inner + j;
                if (is_log)
                    gxs[e] += (float)((double)gs[e] - (double)expf(ys[e]) * s[j]);
                else
                    gxs[e] += (float)((double)ys[e] * ((double)gs[e] - s[j]));
            }
    }
}

/* Reference: one softmax at a time, everything in double. */
void nb__softmax_fwd_naive(const float *x, float *y, int64_t outer, int64_t K, int64_t inner,
                           int is_log) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xs = x + o * K * inner + i; /* xs[k*inner] is x(o, k, i) */
            float *ys = y + o * K * inner + i;
            double m = -INFINITY, s = 0.0;
            for (int64_t k = 0; k < K; k++)
                if ((double)xs[k * inner] > m) m = (double)xs[k * inner];
            for (int64_t k = 0; k < K; k++) s += exp((double)xs[k * inner] - m);
            for (int64_t k = 0; k < K; k++) {
                const double d = (double)xs[k * inner] - m;
                ys[k * inner] = (float)(is_log ? d - log(s) : exp(d) / s);
            }
        }
}
