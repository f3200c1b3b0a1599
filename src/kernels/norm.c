/* nabla: batch-normalization kernels on x (N, C, S), S = H*W (or 1 for a 2-d input): element
 * (n, c, s) is x[(n*C + c)*S + s]. Each channel's statistics are reduced over its N*S values.
 *
 * Work is split into blocks of BLOCK adjacent channels, one block per OpenMP iteration: for
 * S = 1 the inner loop then walks BLOCK contiguous floats of a row (cache friendly for (N, C)),
 * for S > 1 it walks the S contiguous floats of one plane. Every channel is reduced by one
 * thread in the fixed order n, then s, so the results do not depend on the thread count.
 * Sums accumulate in double.
 *
 * The mean comes in two floats, mean + mean_lo (mean_lo may be NULL: 0): x - mean is exact in
 * float when x is near the mean, so ((x - mean) - mean_lo) centers x to float precision even
 * when the mean is large against the spread (a float mean alone would be off by half an ulp
 * of the mean, a visible error after scaling by invstd). */
#include "kernels/kernels.h"

#include <math.h>

#define BLOCK 32
/* Below this many elements the OpenMP team costs more than it saves. */
#define NB_BN_PAR_MIN 131072

void nb__bn_stats(const float *x, int64_t N, int64_t C, int64_t S, double *mean, double *var) {
    const int64_t blocks = (C + BLOCK - 1) / BLOCK, M = N * S;
#pragma omp parallel for schedule(static) if (N * C * S >= NB_BN_PAR_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t c0 = b * BLOCK, nc = C - c0 < BLOCK ? C - c0 : BLOCK;
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
                double a1 = 0.0, a2 = 0.0;
                for (int64_t s = 0; s < S; s++) {
                    const double d = (double)xc[s] - k[j];
                    a1 += d;
                    a2 += d * d;
                }
                s1[j] += a1;
                s2[j] += a2;
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
        const float *xr = x + r * S;
        float *yr = y + r * S;
        for (int64_t s = 0; s < S; s++) yr[s] = ((xr[s] - m) - ml) * sc + b;
    }
}

void nb__bn_bwd(const float *x, const float *gy, int64_t N, int64_t C, int64_t S, const float *mean,
                const float *mean_lo, const float *invstd, const float *gamma, int training,
                float *gx, float *ggamma, float *gbeta) {
    const int64_t blocks = (C + BLOCK - 1) / BLOCK, M = N * S;
#pragma omp parallel for schedule(static) if (N * C * S >= NB_BN_PAR_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t c0 = b * BLOCK, nc = C - c0 < BLOCK ? C - c0 : BLOCK;
        /* sdy = sum of gy (the beta gradient), sdx = sum of gy * xhat (the gamma gradient),
         * xhat = (x - mean - mean_lo) * invstd. */
        double sdy[BLOCK], sdx[BLOCK];
        for (int64_t j = 0; j < nc; j++) sdy[j] = sdx[j] = 0.0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < nc; j++) {
                const int64_t c = c0 + j;
                const float *xc = x + (n * C + c) * S, *gc = gy + (n * C + c) * S;
                const float m = mean[c], ml = mean_lo ? mean_lo[c] : 0.0f, is = invstd[c];
                double a1 = 0.0, a2 = 0.0;
                for (int64_t s = 0; s < S; s++) {
                    a1 += (double)gc[s];
                    a2 += (double)gc[s] * (double)(((xc[s] - m) - ml) * is);
                }
                sdy[j] += a1;
                sdx[j] += a2;
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
                const float *xc = x + (n * C + c) * S, *gc = gy + (n * C + c) * S;
                float *dc = gx + (n * C + c) * S;
                for (int64_t s = 0; s < S; s++)
                    dc[s] += k * (gc[s] - mdy - ((xc[s] - m) - ml) * is * mdx);
            }
        }
    }
}
