/* nabla: 2-D max and average pooling, x (N, C, H, W) -> y (N, C, OH, OW), geometry from
 * nb__conv_geom (O = C, groups unused). Pooling is memory-bound and every (n, c) plane is
 * independent, so the kernels are direct loops parallelised over the N*C planes; each plane of
 * the output (or of gx in backward) is written by one thread in a fixed order, which keeps the
 * results deterministic. Semantics follow PyTorch (see kernels.h). */
#include "kernels/kernels.h"

#include <math.h>

/* Below this many output elements the OpenMP team costs more than it saves. */
#define NB_POOL_PAR_MIN 16384

/* The common 2x2 window, stride 2, no padding or dilation: the generic loop below with the
 * bounds tests and the tap loops unrolled (same visiting order, same tie and NaN rules). */
static void maxpool2x2(const nb__conv_geom *g, const float *x, float *y, int64_t *idx) {
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW, planes = g->N * g->C;
#pragma omp parallel for schedule(static) if (planes * OH * OW >= NB_POOL_PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W; /* (H, W) */
        float *yp = y + pl * OH * OW;     /* (OH, OW) */
        int64_t *ip = idx + pl * OH * OW; /* (OH, OW), flat h*W + w into xp */
        for (int64_t oh = 0; oh < OH; oh++) {
            const float *r0 = xp + 2 * oh * W, *r1 = r0 + W;
            for (int64_t ow = 0; ow < OW; ow++) {
                const int64_t c = 2 * ow;
                float best = r0[c];
                int64_t bi = 2 * oh * W + c;
                const float v1 = r0[c + 1], v2 = r1[c], v3 = r1[c + 1];
                if (v1 > best || isnan(v1)) best = v1, bi = 2 * oh * W + c + 1;
                if (v2 > best || isnan(v2)) best = v2, bi = (2 * oh + 1) * W + c;
                if (v3 > best || isnan(v3)) best = v3, bi = (2 * oh + 1) * W + c + 1;
                yp[oh * OW + ow] = best;
                ip[oh * OW + ow] = bi;
            }
        }
    }
}

void nb__maxpool2d_fwd(const nb__conv_geom *g, const float *x, float *y, int64_t *idx) {
    if (g->KH == 2 && g->KW == 2 && g->SH == 2 && g->SW == 2 && g->PH == 0 && g->PW == 0 &&
        g->DH == 1 && g->DW == 1) {
        maxpool2x2(g, x, y, idx);
        return;
    }
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW, planes = g->N * g->C;
#pragma omp parallel for schedule(static) if (planes * OH * OW >= NB_POOL_PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W; /* (H, W) */
        float *yp = y + pl * OH * OW;     /* (OH, OW) */
        int64_t *ip = idx + pl * OH * OW; /* (OH, OW), flat h*W + w into xp */
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                /* Padding is -inf, i.e. padded taps can never win: only real taps are visited.
                 * The first real tap always wins so that idx is valid even when the window
                 * holds only -inf; later taps must be strictly greater (first max on ties);
                 * NaN propagates, as in PyTorch. */
                float best = -INFINITY;
                int64_t bi = -1;
                for (int64_t kh = 0; kh < g->KH; kh++) {
                    const int64_t ih = oh * g->SH - g->PH + kh * g->DH;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t kw = 0; kw < g->KW; kw++) {
                        const int64_t iw = ow * g->SW - g->PW + kw * g->DW;
                        if (iw < 0 || iw >= W) continue;
                        const float v = xp[ih * W + iw];
                        if (bi < 0 || v > best || isnan(v)) {
                            best = v;
                            bi = ih * W + iw;
                        }
                    }
                }
                /* bi stays -1 only for a window lying wholly in the padding, which the
                 * PyTorch rule pad <= kernel/2 (checked in ops/) rules out. */
                yp[oh * OW + ow] = best;
                ip[oh * OW + ow] = bi;
            }
    }
}

void nb__maxpool2d_bwd(const nb__conv_geom *g, const float *gy, const int64_t *idx, float *gx) {
    const int64_t HW = g->H * g->W, P = g->OH * g->OW, planes = g->N * g->C;
#pragma omp parallel for schedule(static) if (planes * P >= NB_POOL_PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *gp = gy + pl * P;    /* (OH, OW) */
        const int64_t *ip = idx + pl * P; /* (OH, OW) */
        float *xp = gx + pl * HW;         /* (H, W) */
        for (int64_t p = 0; p < P; p++)
            if (ip[p] >= 0) xp[ip[p]] += gp[p];
    }
}

void nb__avgpool2d_fwd(const nb__conv_geom *g, const float *x, float *y) {
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW, planes = g->N * g->C;
    /* count_include_pad: the divisor is the full window, padded taps counting as zeros. */
    const double inv = 1.0 / (double)(g->KH * g->KW);
#pragma omp parallel for schedule(static) if (planes * OH * OW >= NB_POOL_PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W; /* (H, W) */
        float *yp = y + pl * OH * OW;     /* (OH, OW) */
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                double acc = 0.0;
                for (int64_t kh = 0; kh < g->KH; kh++) {
                    const int64_t ih = oh * g->SH - g->PH + kh * g->DH;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t kw = 0; kw < g->KW; kw++) {
                        const int64_t iw = ow * g->SW - g->PW + kw * g->DW;
                        if (iw < 0 || iw >= W) continue;
                        acc += (double)xp[ih * W + iw];
                    }
                }
                yp[oh * OW + ow] = (float)(acc * inv);
            }
    }
}

void nb__avgpool2d_bwd(const nb__conv_geom *g, const float *gy, float *gx) {
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW, planes = g->N * g->C;
    const float inv = (float)(1.0 / (double)(g->KH * g->KW));
#pragma omp parallel for schedule(static) if (planes * OH * OW >= NB_POOL_PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *gp = gy + pl * OH * OW; /* (OH, OW) */
        float *xp = gx + pl * H * W;         /* (H, W) */
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                const float v = gp[oh * OW + ow] * inv;
                for (int64_t kh = 0; kh < g->KH; kh++) {
                    const int64_t ih = oh * g->SH - g->PH + kh * g->DH;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t kw = 0; kw < g->KW; kw++) {
                        const int64_t iw = ow * g->SW - g->PW + kw * g->DW;
                        if (iw < 0 || iw >= W) continue;
                        xp[ih * W + iw] += v;
                    }
                }
            }
    }
}
