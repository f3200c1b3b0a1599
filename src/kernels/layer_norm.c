/* nabla: layer-normalization kernels over the last axis: x as (R, D), R rows of D features,
 * each row normalized by its own mean and biased variance (PyTorch's F.layer_norm).
 *
 * Rows are independent, so the forward and the input gradient split rows across OpenMP threads
 * when the tensor is large. The parameter gradients sum over rows: the backward walks fixed
 * chunks of LN_CHUNK rows, each summing its rows into its own double partials (ws), and the
 * partials are then added in chunk order. Chunks do not depend on the thread count, so the
 * results are bit-for-bit the same for any number of threads. Row sums are in double; their
 * loops are `omp simd` reductions (a fixed vector order, so still deterministic).
 *
 * As in the batch-norm kernels (norm.c), the mean is kept in two floats, mean + mean_lo, so
 * that ((x - mean) - mean_lo) centers x to float precision even when the mean is large against
 * the spread. */
#include "kernels/kernels.h"

#include <math.h>

#define LN_CHUNK 64
/* Below this many elements the OpenMP team costs more than it saves. */
#define NB_LN_PAR_MIN 262144

size_t nb__ln_workspace(int64_t R, int64_t D) {
    const int64_t chunks = (R + LN_CHUNK - 1) / LN_CHUNK;
    return (size_t)(chunks * 2 * D) + 1; /* never 0 */
}

void nb__ln_fwd(const float *x, float *y, int64_t R, int64_t D, float eps, const float *gamma,
                const float *beta, float *mean, float *mean_lo, float *rstd) {
#pragma omp parallel for schedule(static) if (R * D >= NB_LN_PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const float *restrict xr = x + r * D; /* (D) */
        float *restrict yr = y + r * D;
        double s = 0.0, v = 0.0;
#pragma omp simd reduction(+ : s)
        for (int64_t d = 0; d < D; d++) s += (double)xr[d];
        const double m = s / (double)D;
#pragma omp simd reduction(+ : v)
        for (int64_t d = 0; d < D; d++) {
            const double t = (double)xr[d] - m;
            v += t * t;
        }
        const float mh = (float)m, ml = (float)(m - (double)mh);
        const float rs = (float)(1.0 / sqrt(v / (double)D + (double)eps));
        mean[r] = mh, mean_lo[r] = ml, rstd[r] = rs;
        if (gamma && beta) {
#pragma omp simd
            for (int64_t d = 0; d < D; d++) yr[d] = ((xr[d] - mh) - ml) * rs * gamma[d] + beta[d];
        } else {
#pragma omp simd
            for (int64_t d = 0; d < D; d++) yr[d] = ((xr[d] - mh) - ml) * rs;
        }
    }
}

/* One row's input gradient: g = gy * gamma, xhat = (x - mean) * rstd,
 * gx += rstd * (g - mean(g) - xhat * mean(g * xhat)). */
static void row_bwd(const float *restrict xr, const float *restrict gr, int64_t D, float mh,
                    float ml, float rs, const float *restrict gamma, float *restrict gxr) {
    double a = 0.0, b = 0.0;
#pragma omp simd reduction(+ : a, b)
    for (int64_t d = 0; d < D; d++) {
        const float g = gamma ? gr[d] * gamma[d] : gr[d];
        a += (double)g;
        b += (double)g * (double)(((xr[d] - mh) - ml) * rs);
    }
    const float ma = (float)(a / (double)D), mb = (float)(b / (double)D);
#pragma omp simd
    for (int64_t d = 0; d < D; d++) {
        const float g = gamma ? gr[d] * gamma[d] : gr[d];
        gxr[d] += rs * (g - ma - ((xr[d] - mh) - ml) * rs * mb);
    }
}

void nb__ln_bwd(const float *x, const float *gy, int64_t R, int64_t D, const float *mean,
                const float *mean_lo, const float *rstd, const float *gamma, float *gx,
                float *ggamma, float *gbeta, double *ws) {
    const int64_t chunks = (R + LN_CHUNK - 1) / LN_CHUNK;
    const bool params = ggamma || gbeta;
#pragma omp parallel for schedule(static) if (R * D >= NB_LN_PAR_MIN)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t r0 = c * LN_CHUNK, r1 = r0 + LN_CHUNK < R ? r0 + LN_CHUNK : R;
        double *restrict pg = ws + c * 2 * D, *restrict pb = pg + D; /* (D) each */
        if (params)
            for (int64_t d = 0; d < 2 * D; d++) pg[d] = 0.0;
        for (int64_t r = r0; r < r1; r++) {
            const float *restrict xr = x + r * D, *restrict gr = gy + r * D;
            const float mh = mean[r], ml = mean_lo[r], rs = rstd[r];
            if (gx) row_bwd(xr, gr, D, mh, ml, rs, gamma, gx + r * D);
            if (params) {
#pragma omp simd
                for (int64_t d = 0; d < D; d++) {
                    pg[d] += (double)gr[d] * (double)(((xr[d] - mh) - ml) * rs);
                    pb[d] += (double)gr[d];
                }
            }
        }
    }
    if (!params) return;
    /* The chunks' partials in chunk order, one feature per iteration. */
#pragma omp parallel for schedule(static) if (chunks * D >= NB_LN_PAR_MIN)
    for (int64_t d = 0; d < D; d++) {
        double sg = 0.0, sb = 0.0;
        for (int64_t c = 0; c < chunks; c++) {
            sg += ws[c * 2 * D + d];
            sb += ws[c * 2 * D + D + d];
        }
        if (ggamma) ggamma[d] += (float)sg;
        if (gbeta) gbeta[d] += (float)sb;
    }
}
