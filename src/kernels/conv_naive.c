/* nabla: the naive twins of the convolution kernels (conv.c): direct loops written from the
 * definition, accumulating in double, no workspace. Tests compare the fast kernels with them on
 * odd sizes, and check them against each other through the adjoint identity. */
#include "kernels/kernels.h"

#include <string.h>

/* Written from the definition
 *   y[n, o, oh, ow] = b[o] + sum_{c in group(o), kh, kw} w[o, c, kh, kw] * x[n, c, ih, iw],
 *   ih = oh*SH - PH + kh*DH, iw = ow*SW - PW + kw*DW (zero outside the input). */

void nb__conv2d_fwd_naive(const nb__conv_geom *g, const float *x, const float *w,
                          const float *b, float *y) {
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t o = 0; o < g->O; o++)
            for (int64_t oh = 0; oh < g->OH; oh++)
                for (int64_t ow = 0; ow < g->OW; ow++) {
                    double acc = b ? (double)b[o] : 0.0;
                    for (int64_t cc = 0; cc < Cg; cc++) {
                        const int64_t c = (o / Og) * Cg + cc;
                        for (int64_t kh = 0; kh < g->KH; kh++) {
                            const int64_t ih = oh * g->SH - g->PH + kh * g->DH;
                            if (ih < 0 || ih >= g->H) continue;
                            for (int64_t kw = 0; kw < g->KW; kw++) {
                                const int64_t iw = ow * g->SW - g->PW + kw * g->DW;
                                if (iw < 0 || iw >= g->W) continue;
                                acc += (double)w[((o * Cg + cc) * g->KH + kh) * g->KW + kw] *
                                       (double)x[((n * g->C + c) * g->H + ih) * g->W + iw];
                            }
                        }
                    }
                    y[((n * g->O + o) * g->OH + oh) * g->OW + ow] = (float)acc;
                }
}

/* Gather form: gx[n, c, ih, iw] += sum over the (o, kh, kw) whose output position (oh, ow)
 * reads (ih, iw), i.e. oh*SH = ih + PH - kh*DH exactly (same for ow). */
void nb__conv2d_bwd_data_naive(const nb__conv_geom *g, const float *w, const float *gy,
                               float *gx) {
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t c = 0; c < g->C; c++)
            for (int64_t ih = 0; ih < g->H; ih++)
                for (int64_t iw = 0; iw < g->W; iw++) {
                    double acc = 0.0;
                    const int64_t gi = c / Cg, cc = c % Cg;
                    for (int64_t o = gi * Og; o < (gi + 1) * Og; o++)
                        for (int64_t kh = 0; kh < g->KH; kh++) {
                            const int64_t th = ih + g->PH - kh * g->DH;
                            if (th < 0 || th % g->SH != 0 || th / g->SH >= g->OH) continue;
                            for (int64_t kw = 0; kw < g->KW; kw++) {
                                const int64_t tw = iw + g->PW - kw * g->DW;
                                if (tw < 0 || tw % g->SW != 0 || tw / g->SW >= g->OW) continue;
                                acc += (double)w[((o * Cg + cc) * g->KH + kh) * g->KW + kw] *
                                       (double)gy[((n * g->O + o) * g->OH + th / g->SH) * g->OW +
                                                  tw / g->SW];
                            }
                        }
                    gx[((n * g->C + c) * g->H + ih) * g->W + iw] += (float)acc;
                }
}

void nb__conv2d_bwd_weight_naive(const nb__conv_geom *g, const float *x, const float *gy,
                                 float *gw, float *gb) {
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups, P = g->OH * g->OW;
    for (int64_t o = 0; o < g->O; o++) {
        for (int64_t cc = 0; cc < Cg; cc++) {
            const int64_t c = (o / Og) * Cg + cc;
            for (int64_t kh = 0; kh < g->KH; kh++)
                for (int64_t kw = 0; kw < g->KW; kw++) {
                    double acc = 0.0;
                    for (int64_t n = 0; n < g->N; n++)
                        for (int64_t oh = 0; oh < g->OH; oh++) {
                            const int64_t ih = oh * g->SH - g->PH + kh * g->DH;
                            if (ih < 0 || ih >= g->H) continue;
                            for (int64_t ow = 0; ow < g->OW; ow++) {
                                const int64_t iw = ow * g->SW - g->PW + kw * g->DW;
                                if (iw < 0 || iw >= g->W) continue;
                                acc += (double)gy[((n * g->O + o) * g->OH + oh) * g->OW + ow] *
                                       (double)x[((n * g->C + c) * g->H + ih) * g->W + iw];
                            }
                        }
                    gw[((o * Cg + cc) * g->KH + kh) * g->KW + kw] += (float)acc;
                }
        }
        if (gb) {
            double acc = 0.0;
            for (int64_t n = 0; n < g->N; n++)
                for (int64_t p = 0; p < P; p++) acc += (double)gy[(n * g->O + o) * P + p];
            gb[o] += (float)acc;
        }
    }
}

/* conv_transpose2d is the input gradient of the conv2d g (ops/conv.c): y = 0, += that
 * gradient of x, then + b per channel. */
void nb__conv_transpose2d_fwd_naive(const nb__conv_geom *g, const float *x, const float *w,
                                    const float *b, float *y) {
    const int64_t HW = g->H * g->W;
    memset(y, 0, (size_t)(g->N * g->C * HW) * sizeof(float));
    nb__conv2d_bwd_data_naive(g, w, x, y);
    if (!b) return;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t c = 0; c < g->C; c++)
            for (int64_t j = 0; j < HW; j++) y[(n * g->C + c) * HW + j] += b[c];
}

/* Its backward: gx += conv2d(gy, w) without bias, gw += the conv2d weight gradient with the
 * roles of x and gy swapped, gb[c] += the sum of gy's channel c. */
void nb__conv_transpose2d_bwd_naive(const nb__conv_geom *g, const float *x, const float *w,
                                    const float *gy, float *gx, float *gw, float *gb) {
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups, HW = g->H * g->W;
    if (gx)
        for (int64_t n = 0; n < g->N; n++)
            for (int64_t o = 0; o < g->O; o++)
                for (int64_t oh = 0; oh < g->OH; oh++)
                    for (int64_t ow = 0; ow < g->OW; ow++) {
                        double acc = 0.0;
                        for (int64_t cc = 0; cc < Cg; cc++) {
                            const int64_t c = (o / Og) * Cg + cc;
                            for (int64_t kh = 0; kh < g->KH; kh++) {
                                const int64_t ih = oh * g->SH - g->PH + kh * g->DH;
                                if (ih < 0 || ih >= g->H) continue;
                                for (int64_t kw = 0; kw < g->KW; kw++) {
                                    const int64_t iw = ow * g->SW - g->PW + kw * g->DW;
                                    if (iw < 0 || iw >= g->W) continue;
                                    acc += (double)w[((o * Cg + cc) * g->KH + kh) * g->KW + kw] *
                                           (double)gy[((n * g->C + c) * g->H + ih) * g->W + iw];
                                }
                            }
                        }
                        gx[((n * g->O + o) * g->OH + oh) * g->OW + ow] += (float)acc;
                    }
    if (gw) nb__conv2d_bwd_weight_naive(g, gy, x, gw, NULL);
    if (gb)
        for (int64_t c = 0; c < g->C; c++) {
            double acc = 0.0;
            for (int64_t n = 0; n < g->N; n++)
                for (int64_t j = 0; j < HW; j++) acc += (double)gy[(n * g->C + c) * HW + j];
            gb[c] += (float)acc;
        }
}
