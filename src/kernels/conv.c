/* nabla: 2-D convolution. The fast kernels lower each sample to GEMMs through an im2col buffer
 * (the classic Caffe scheme): with P = OH*OW and, per group, Cg = C/groups input channels,
 * Og = O/groups output channels and Kc = Cg*KH*KW,
 *   forward      y_g  (Og, P)  = w_g (Og, Kc) . col_g (Kc, P)            (+ bias)
 *   input grad   col_g (Kc, P) = w_g^T (Kc, Og) . gy_g (Og, P), then col2im into gx
 *   weight grad  gw_g (Og, Kc) += gy_g (Og, P) . col_g^T (P, Kc)
 * col_g is rows [g*Kc, (g+1)*Kc) of the im2col of all C channels of one sample, so one buffer
 * of C*KH*KW x P floats serves every group.
 * Threads: with N >= 2 samples and T >= 2 threads the samples are split among the threads (one
 * im2col buffer each; the BLAS runs single-threaded inside the parallel region), which keeps
 * both cores busy through im2col/col2im and the many small GEMMs of small layers. Every output
 * element of the forward pass and the input gradient is computed by one thread in a fixed
 * order; the weight gradient sums per-thread partial gradients in thread order. So results are
 * bitwise repeatable for a given thread count. With one sample (or one thread) the samples run
 * in order and OpenBLAS threads each GEMM instead. The bias sum stays single-threaded.
 * A 1x1 kernel with stride 1 and no padding needs no im2col at all: col_g is x itself. */
#include "internal.h"
#include "kernels/kernels.h"

#include <omp.h>
#include <string.h>

/* Threads the kernels split samples over: 1 means in order with threaded BLAS. */
static int64_t sample_threads(const nb__conv_geom *g) {
    int64_t t = nb__threads();
    return g->N >= 2 && t >= 2 ? (t < g->N ? t : g->N) : 1;
}

/* Floats of one thread's share of the workspace: an im2col buffer and a weight gradient. */
static int64_t share(const nb__conv_geom *g) {
    const int64_t col = g->C * g->KH * g->KW * g->OH * g->OW;
    const int64_t wgt = g->O * (g->C / g->groups) * g->KH * g->KW;
    return (col + wgt + 15) / 16 * 16;
}

int nb__conv_geom_finish(nb__conv_geom *g) {
    if (g->KH < 1 || g->KW < 1 || g->SH < 1 || g->SW < 1 || g->DH < 1 || g->DW < 1 ||
        g->PH < 0 || g->PW < 0) {
        g->OH = g->OW = 0;
        return -1;
    }
    /* Numerators are tested before dividing: C division truncates toward zero, so a kernel
     * wider than the padded input (numerator in (-SH, 0)) would otherwise yield one row. */
    int64_t nh = g->H + 2 * g->PH - g->DH * (g->KH - 1) - 1;
    int64_t nw = g->W + 2 * g->PW - g->DW * (g->KW - 1) - 1;
    g->OH = nh < 0 ? 0 : nh / g->SH + 1;
    g->OW = nw < 0 ? 0 : nw / g->SW + 1;
    return (nh < 0 || nw < 0) ? -1 : 0;
}

/* col would be a copy of x: 1x1 kernel, unit stride, no padding (dilation is then moot). */
static int is_pointwise(const nb__conv_geom *g) {
    return g->KH == 1 && g->KW == 1 && g->SH == 1 && g->SW == 1 && g->PH == 0 && g->PW == 0;
}

size_t nb__conv_workspace(const nb__conv_geom *g) {
    /* Never 0, so that a caller's malloc of it cannot return NULL for a valid request. */
    return (size_t)(sample_threads(g) * share(g)) + 1;
}

/* Output columns ow whose input column iw = ow*SW + off lies in [0, W): [*lo, *hi). */
static void valid_range(int64_t off, int64_t S, int64_t W, int64_t OW, int64_t *lo,
                        int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + S - 1) / S;
    int64_t h = (W - 1 - off) >= 0 ? (W - 1 - off) / S + 1 : 0;
    if (h > OW) h = OW;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* The valid output columns [lo, hi) of every kernel column kw (they do not depend on the
 * channel or the kernel row), so the per-row work below is free of divisions: with a 1x1
 * output (the last layer of a DCGAN discriminator, a 7x7 kernel) each row is one element. */
#define NB_KW_CACHE 64
static void kw_ranges(const nb__conv_geom *g, int64_t *lo, int64_t *hi) {
    for (int64_t kw = 0; kw < g->KW && kw < NB_KW_CACHE; kw++) valid_range(kw * g->DW - g->PW, g->SW, g->W, g->OW, &lo[kw], &hi[kw]);
}

void nb__im2col(const nb__conv_geom *g, const float *x, int64_t C, float *col) {
    const int64_t H = g->H, W = g->W, KH = g->KH, KW = g->KW, OH = g->OH, OW = g->OW;
    const int64_t SH = g->SH, SW = g->SW, PH = g->PH, PW = g->PW, DH = g->DH, DW = g->DW;
    const int64_t P = OH * OW;
    int64_t los[NB_KW_CACHE], his[NB_KW_CACHE];
    kw_ranges(g, los, his);
    /* One row (c, kh, kw) of col (C*KH*KW, P) after the other. */
    float *dst = col;
    for (int64_t c = 0; c < C; c++) {
        const float *xc = x + c * H * W; /* input plane (H, W) */
        for (int64_t kh = 0; kh < KH; kh++) {
            for (int64_t kw = 0; kw < KW; kw++, dst += P) {
                int64_t lo, hi;
                if (kw < NB_KW_CACHE) lo = los[kw], hi = his[kw];
                else valid_range(kw * DW - PW, SW, W, OW, &lo, &hi);
                for (int64_t oh = 0; oh < OH; oh++) {
                    float *d = dst + oh * OW; /* this row, viewed as (OH, OW) */
                    const int64_t ih = oh * SH - PH + kh * DH;
                    if (ih < 0 || ih >= H) {
                        memset(d, 0, (size_t)OW * sizeof(float));
                        continue;
                    }
                    /* x[c, ih, iw] is xc[base + ow*SW]; base itself may be negative, so index
                     * rather than form a pointer outside the plane. */
                    const int64_t base = ih * W + kw * DW - PW;
                    for (int64_t ow = 0; ow < lo; ow++) d[ow] = 0.0f;
                    if (SW == 1) {
                        if (hi > lo) memcpy(d + lo, xc + base + lo, (size_t)(hi - lo) * sizeof(float));
                    } else {
                        for (int64_t ow = lo; ow < hi; ow++) d[ow] = xc[base + ow * SW];
                    }
                    for (int64_t ow = hi; ow < OW; ow++) d[ow] = 0.0f;
                }
            }
        }
    }
}

void nb__col2im(const nb__conv_geom *g, const float *col, int64_t C, float *x) {
    const int64_t H = g->H, W = g->W, KH = g->KH, KW = g->KW, OH = g->OH, OW = g->OW;
    const int64_t SH = g->SH, SW = g->SW, PH = g->PH, PW = g->PW, DH = g->DH, DW = g->DW;
    const int64_t P = OH * OW;
    int64_t los[NB_KW_CACHE], his[NB_KW_CACHE];
    kw_ranges(g, los, his);
    /* Per channel: the KH*KW rows of one channel overlap in x and are summed in this fixed
     * order (a parallel version must keep a channel on one thread to stay deterministic). */
    for (int64_t c = 0; c < C; c++) {
        float *xc = x + c * H * W; /* input plane (H, W) */
        for (int64_t kh = 0; kh < KH; kh++) {
            for (int64_t kw = 0; kw < KW; kw++) {
                const float *src = col + ((c * KH + kh) * KW + kw) * P; /* (OH, OW) */
                int64_t lo, hi;
                if (kw < NB_KW_CACHE) lo = los[kw], hi = his[kw];
                else valid_range(kw * DW - PW, SW, W, OW, &lo, &hi);
                for (int64_t oh = 0; oh < OH; oh++) {
                    const int64_t ih = oh * SH - PH + kh * DH;
                    if (ih < 0 || ih >= H) continue;
                    const int64_t base = ih * W + kw * DW - PW; /* as in nb__im2col */
                    const float *s = src + oh * OW;
                    for (int64_t ow = lo; ow < hi; ow++) xc[base + ow * SW] += s[ow];
                }
            }
        }
    }
}

/* One sample of the forward pass: yn (O, P) from xn (C, H, W); col: an im2col buffer. */
static void fwd_sample(const nb__conv_geom *g, const float *xn, const float *w, const float *b,
                       float *yn, float *col_buf) {
    const int64_t G = g->groups, Cg = g->C / G, Og = g->O / G;
    const int64_t Kc = Cg * g->KH * g->KW, P = g->OH * g->OW;
    const float *col = xn; /* (C*KH*KW, P) */
    if (!is_pointwise(g)) {
        nb__im2col(g, xn, g->C, col_buf);
        col = col_buf;
    }
    /* Bias goes in first so the GEMM adds onto it (beta = 1): one pass over y, not two. */
    float beta = 0.0f;
    if (b) {
        for (int64_t o = 0; o < g->O; o++)
            for (int64_t p = 0; p < P; p++) yn[o * P + p] = b[o];
        beta = 1.0f;
    }
    for (int64_t gi = 0; gi < G; gi++)
        nb__gemm(0, 0, Og, P, Kc, 1.0f, w + gi * Og * Kc, Kc, col + gi * Kc * P, P, beta,
                 yn + gi * Og * P, P);
}

void nb__conv2d_fwd(const nb__conv_geom *g, const float *x, const float *w, const float *b,
                    float *y, float *ws) {
    const int64_t T = sample_threads(g), S = share(g);
    const int64_t xs = g->C * g->H * g->W, ys = g->O * g->OH * g->OW;
    if (T == 1) {
        for (int64_t n = 0; n < g->N; n++) fwd_sample(g, x + n * xs, w, b, y + n * ys, ws);
        return;
    }
#pragma omp parallel for num_threads(T) schedule(static)
    for (int64_t n = 0; n < g->N; n++)
        fwd_sample(g, x + n * xs, w, b, y + n * ys, ws + omp_get_thread_num() * S);
}

/* One sample of the input gradient: gxn (C, H, W) += from gyn (O, P). */
static void bwd_data_sample(const nb__conv_geom *g, const float *w, const float *gyn, float *gxn,
                            float *col) {
    const int64_t G = g->groups, Cg = g->C / G, Og = g->O / G;
    const int64_t Kc = Cg * g->KH * g->KW, P = g->OH * g->OW, HW = g->H * g->W;
    const int pw = is_pointwise(g);
    for (int64_t gi = 0; gi < G; gi++) {
        /* Pointwise: col_g is gx_g itself (Cg, HW = P), so accumulate straight into it. */
        float *dst = pw ? gxn + gi * Cg * HW : col + gi * Kc * P; /* (Kc, P) */
        nb__gemm(1, 0, Kc, P, Og, 1.0f, w + gi * Og * Kc, Kc, gyn + gi * Og * P, P,
                 pw ? 1.0f : 0.0f, dst, P);
    }
    if (!pw) nb__col2im(g, col, g->C, gxn);
}

void nb__conv2d_bwd_data(const nb__conv_geom *g, const float *w, const float *gy, float *gx,
                         float *ws) {
    const int64_t T = sample_threads(g), S = share(g);
    const int64_t xs = g->C * g->H * g->W, ys = g->O * g->OH * g->OW;
    if (T == 1) {
        for (int64_t n = 0; n < g->N; n++) bwd_data_sample(g, w, gy + n * ys, gx + n * xs, ws);
        return;
    }
#pragma omp parallel for num_threads(T) schedule(static)
    for (int64_t n = 0; n < g->N; n++)
        bwd_data_sample(g, w, gy + n * ys, gx + n * xs, ws + omp_get_thread_num() * S);
}

/* gw (O, Kc) += the weight gradient of samples [n0, n1); col: an im2col buffer. */
static void bwd_weight_range(const nb__conv_geom *g, const float *x, const float *gy, float *gw,
                             float *col_buf, int64_t n0, int64_t n1) {
    const int64_t G = g->groups, Cg = g->C / G, Og = g->O / G;
    const int64_t Kc = Cg * g->KH * g->KW, P = g->OH * g->OW, HW = g->H * g->W;
    for (int64_t n = n0; n < n1; n++) {
        const float *xn = x + n * g->C * HW;  /* (C, H, W) */
        const float *gyn = gy + n * g->O * P; /* (O, P) */
        const float *col = xn;                /* (C*KH*KW, P) */
        if (!is_pointwise(g)) {
            nb__im2col(g, xn, g->C, col_buf);
            col = col_buf;
        }
        for (int64_t gi = 0; gi < G; gi++)
            nb__gemm(0, 1, Og, Kc, P, 1.0f, gyn + gi * Og * P, P, col + gi * Kc * P, P, 1.0f,
                     gw + gi * Og * Kc, Kc);
    }
}

void nb__conv2d_bwd_weight(const nb__conv_geom *g, const float *x, const float *gy, float *gw,
                           float *gb, float *ws) {
    const int64_t T = sample_threads(g), S = share(g), P = g->OH * g->OW;
    const int64_t col = g->C * g->KH * g->KW * P, WN = g->O * (g->C / g->groups) * g->KH * g->KW;
    if (T == 1) {
        bwd_weight_range(g, x, gy, gw, ws, 0, g->N);
    } else {
        /* Thread t sums samples [t*N/T, (t+1)*N/T) into its own buffer; the buffers are then
         * added to gw in thread order, by both threads over halves of gw. */
#pragma omp parallel num_threads(T)
        {
            const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
            float *mine = ws + t * S + col; /* (O, Kc) */
            memset(mine, 0, (size_t)WN * sizeof(float));
            bwd_weight_range(g, x, gy, mine, ws + t * S, t * g->N / nt, (t + 1) * g->N / nt);
#pragma omp barrier
#pragma omp for schedule(static)
            for (int64_t i = 0; i < WN; i++) {
                float acc = gw[i];
                for (int64_t k = 0; k < nt; k++) acc += ws[k * S + col + i];
                gw[i] = acc;
            }
        }
    }
    if (!gb) return;
    /* gb (O): each channel summed in double, over samples then positions. */
    for (int64_t o = 0; o < g->O; o++) {
        double acc = 0.0;
        for (int64_t n = 0; n < g->N; n++) {
            const float *s = gy + (n * g->O + o) * P;
            for (int64_t p = 0; p < P; p++) acc += s[p];
        }
        gb[o] += (float)acc;
    }
}

/* ---- naive twins: direct loops, double accumulation, written from the definition
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
