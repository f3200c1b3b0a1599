/* nabla: batch-normalization kernels on x (N, C, S), S = H*W (or 1 for a 2-d input): element
 * (n, c, s) is x[(n*C + c)*S + s]. Each channel's statistics are reduced over its N*S values.
 *
 * Work is split into blocks of BLOCK adjacent channels, one block per OpenMP iteration: for
 * S = 1 the inner loop then walks BLOCK contiguous floats of a row (cache friendly for (N, C)),
 * for S > 1 it walks the S contiguous floats of one plane. Every channel is reduced by one
 * thread in the fixed order n, then s (each plane in 8 lanes), so the results do not depend on
 * the thread count. Sums accumulate in double.
 *
 * The mean comes in two floats, mean + mean_lo (mean_lo may be NULL: 0): x - mean is exact in
 * float when x is near the mean, so ((x - mean) - mean_lo) centers x to float precision even
 * when the mean is large against the spread (a float mean alone would be off by half an ulp
 * of the mean, a visible error after scaling by invstd). */
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>

#define BLOCK 32
/* Below this many elements the OpenMP team costs more than it saves. */
#define NB_BN_PAR_MIN 131072

/* Channels per block: BLOCK, or fewer when the loop goes to the threads, so that every thread
 * gets a block (32 channels in blocks of 32 kept one thread busy and the other idle). A
 * channel's sums do not depend on its block, so neither do the results. */
static int64_t block_size(int64_t N, int64_t C, int64_t S) {
    if (N * C * S < NB_BN_PAR_MIN) return BLOCK;
    const int64_t nt = omp_get_max_threads(), bs = (C + nt - 1) / nt;
    return bs < 1 ? 1 : bs < BLOCK ? bs : BLOCK;
}

/* A plane's sums run in 8 double lanes (lane l takes the values at s = l mod 8), combined
 * pairwise at the end: a fixed order that the vector units follow (one sum in one double was a
 * chain of dependent additions, 4 cycles a value). The lanes are GCC vectors: the operations
 * act lane by lane (convert, subtract, multiply, add, nothing fused), so every clone, whatever
 * its vector width, gives the same bits. */
typedef float nb_bn8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef double nb_bn8d __attribute__((vector_size(64)));

static double lanes_sum(const nb_bn8d *v) { /* by pointer: a vector argument's ABI differs per clone */
    const nb_bn8d a = *v;
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* t[0..) = the values at [s, S) (fewer than 8), the rest 0. */
static void tail8(const float *x, int64_t s, int64_t S, float t[8]) {
    for (int l = 0; l < 8; l++, s++) t[l] = s < S ? x[s] : 0.0f;
}

/* *s1 += sum of (x - k), *s2 += sum of (x - k)^2 over one plane of S values. */
static NB_CLONES void plane_stats(const float *restrict x, int64_t S, double k, double *s1, double *s2) {
    nb_bn8d a1 = {0}, a2 = {0};
    const nb_bn8d kv = {k, k, k, k, k, k, k, k};
    int64_t s = 0;
    for (; s + 8 <= S; s += 8) {
        const nb_bn8d d = __builtin_convertvector(*(const nb_bn8f *)(x + s), nb_bn8d) - kv;
        a1 += d;
        a2 += d * d;
    }
    if (s < S) { /* lanes past the end add exactly 0 */
        float t[8];
        tail8(x, s, S, t);
        const nb_bn8d v = __builtin_convertvector(*(const nb_bn8f *)t, nb_bn8d);
        for (int l = 0; l < S - s; l++) {
            const double d = v[l] - k;
            a1[l] += d;
            a2[l] += d * d;
        }
    }
    *s1 += lanes_sum(&a1);
    *s2 += lanes_sum(&a2);
}

/* *sdy += sum of gy, *sdx += sum of gy * xhat over one plane, xhat = ((x - m) - ml) * is in float. */
static NB_CLONES void plane_grads(const float *restrict x, const float *restrict gy, int64_t S, float m, float ml,
                                  float is, double *sdy, double *sdx) {
    nb_bn8d a1 = {0}, a2 = {0};
    int64_t s = 0;
    for (; s + 8 <= S; s += 8) {
        const nb_bn8f xh = ((*(const nb_bn8f *)(x + s) - m) - ml) * is;
        const nb_bn8d g = __builtin_convertvector(*(const nb_bn8f *)(gy + s), nb_bn8d);
        a1 += g;
        a2 += g * __builtin_convertvector(xh, nb_bn8d);
    }
    if (s < S) {
        float tx[8], tg[8];
        tail8(x, s, S, tx);
        tail8(gy, s, S, tg);
        const nb_bn8f xh = ((*(const nb_bn8f *)tx - m) - ml) * is;
        const nb_bn8d g = __builtin_convertvector(*(const nb_bn8f *)tg, nb_bn8d), xd = __builtin_convertvector(xh, nb_bn8d);
        for (int l = 0; l < S - s; l++) {
            a1[l] += g[l];
            a2[l] += g[l] * xd[l];
        }
    }
    *sdy += lanes_sum(&a1);
    *sdx += lanes_sum(&a2);
}

/* dx += k * (gy - mdy - xhat * mdx) over one plane, or with set dx = it (dx is neither x nor gy). */
static NB_CLONES void plane_dx(const float *restrict x, const float *restrict gy, float *restrict dx, int64_t S,
                               float m, float ml, float is, float k, float mdy, float mdx, int set) {
    if (set)
        for (int64_t s = 0; s < S; s++) dx[s] = k * (gy[s] - mdy - ((x[s] - m) - ml) * is * mdx);
    else
        for (int64_t s = 0; s < S; s++) dx[s] += k * (gy[s] - mdy - ((x[s] - m) - ml) * is * mdx);
}

/* y = ((x - m) - ml) * sc + b over one plane. */
static NB_CLONES void plane_affine(const float *restrict x, float *restrict y, int64_t S, float m, float ml, float sc,
                                   float b) {
    for (int64_t s = 0; s < S; s++) y[s] = ((x[s] - m) - ml) * sc + b;
}

void nb__bn_stats(const float *x, int64_t N, int64_t C, int64_t S, double *mean, double *var) {
    const int64_t bs = block_size(N, C, S), blocks = (C + bs - 1) / bs, M = N * S;
#pragma omp parallel for schedule(static) if (N * C * S >= NB_BN_PAR_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t c0 = b * bs, nc = C - c0 < bs ? C - c0 : bs;
        /* Sums of (x - k) and (x - k)^2 with k the channel's first value: the shift keeps
         * E[d^2] - E[d]^2 accurate when the mean is large against the spread. */
        double k[BLOCK], s1[BLOCK], s2[BLOCK];
        for (int64_t j = 0; j < nc; j++) {
            k[j] = M > 0 ? (double)x[(c0 + j) * S] : 0.0;
            s1[j] = s2[j] = 0.0;
        }
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < nc; j++) {
                const float *xc = x + (n * C + c0 + j) * S; /* (S) plane of channel c0+j */
                if (S == 1) { /* (N, C): no call per value (the same sums: lane 0 alone) */
                    const double d = (double)xc[0] - k[j];
                    s1[j] += d;
                    s2[j] += d * d;
                } else {
                    plane_stats(xc, S, k[j], &s1[j], &s2[j]);
                }
            }
        for (int64_t j = 0; j < nc; j++) {
            if (M == 0) {
                mean[c0 + j] = var[c0 + j] = 0.0;
                continue;
            }
            const double m = s1[j] / (double)M, v = s2[j] / (double)M - m * m;
            mean[c0 + j] = k[j] + m;
            var[c0 + j] = v > 0.0 ? v : 0.0;
        }
    }
}

void nb__bn_fwd(const float *x, float *y, int64_t N, int64_t C, int64_t S, const float *mean,
                const float *mean_lo, const float *invstd, const float *gamma, const float *beta) {
#pragma omp parallel for schedule(static) if (N * C * S >= NB_BN_PAR_MIN)
    for (int64_t r = 0; r < N * C; r++) { /* one (n, c) plane of S values */
        const int64_t c = r % C;
        const float m = mean[c], ml = mean_lo ? mean_lo[c] : 0.0f;
        const float sc = invstd[c] * (gamma ? gamma[c] : 1.0f), b = beta ? beta[c] : 0.0f;
        if (S == 1)
            y[r] = ((x[r] - m) - ml) * sc + b;
        else
            plane_affine(x + r * S, y + r * S, S, m, ml, sc, b);
    }
}

void nb__bn_bwd(const float *x, const float *gy, int64_t N, int64_t C, int64_t S, const float *mean,
                const float *mean_lo, const float *invstd, const float *gamma, int training,
                float *gx, int gx_set, float *ggamma, float *gbeta) {
    const int64_t bs = block_size(N, C, S), blocks = (C + bs - 1) / bs, M = N * S;
#pragma omp parallel for schedule(static) if (N * C * S >= NB_BN_PAR_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t c0 = b * bs, nc = C - c0 < bs ? C - c0 : bs;
        /* sdy = sum of gy (the beta gradient), sdx = sum of gy * xhat (the gamma gradient),
         * xhat = (x - mean - mean_lo) * invstd. */
        double sdy[BLOCK], sdx[BLOCK];
        for (int64_t j = 0; j < nc; j++) sdy[j] = sdx[j] = 0.0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < nc; j++) {
                const int64_t c = c0 + j, o = (n * C + c) * S;
                const float m = mean[c], ml = mean_lo ? mean_lo[c] : 0.0f, is = invstd[c];
                if (S == 1) {
                    sdy[j] += (double)gy[o];
                    sdx[j] += (double)gy[o] * (double)(((x[o] - m) - ml) * is);
                } else {
                    plane_grads(x + o, gy + o, S, m, ml, is, &sdy[j], &sdx[j]);
                }
            }
        for (int64_t j = 0; j < nc; j++) {
            if (ggamma) ggamma[c0 + j] += (float)sdx[j];
            if (gbeta) gbeta[c0 + j] += (float)sdy[j];
        }
        if (!gx) continue;
        for (int64_t j = 0; j < nc; j++) {
            const int64_t c = c0 + j;
            const float m = mean[c], ml = mean_lo ? mean_lo[c] : 0.0f, is = invstd[c];
            const float k = is * (gamma ? gamma[c] : 1.0f);
            /* Training: dx = k * (gy - mean(gy) - xhat * mean(gy * xhat)), since the batch's
             * mean and variance depend on x. Not training: an affine map, dx = k * gy. */
            const float mdy = training && M ? (float)(sdy[j] / (double)M) : 0.0f;
            const float mdx = training && M ? (float)(sdx[j] / (double)M) : 0.0f;
            for (int64_t n = 0; n < N; n++) {
                const int64_t o = (n * C + c) * S;
                if (S > 1) {
                    plane_dx(x + o, gy + o, gx + o, S, m, ml, is, k, mdy, mdx, gx_set);
                } else {
                    const float d = k * (gy[o] - mdy - ((x[o] - m) - ml) * is * mdx);
                    gx[o] = gx_set ? d : gx[o] + d;
                }
            }
        }
    }
}
