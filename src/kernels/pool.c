/* nabla: 2-D max and average pooling, x (N, C, H, W) -> y (N, C, OH, OW), geometry from
 * nb__conv_geom (O = C, groups unused). Pooling is memory-bound and every (n, c) plane is
 * independent, so the kernels are direct loops parallelised over the N*C planes; each plane of
 * the output (or of gx in backward) is written by one thread in a fixed order, which keeps the
 * results deterministic. Semantics follow PyTorch (see kernels.h). */
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

/* Below this many output elements the OpenMP team costs more than it saves. */
#define NB_POOL_PAR_MIN 131072

/* The common 2x2 window, stride 2, no padding or dilation. The generic loop's rule for a
 * window (v0, v1, v2, v3) = (x[2oh][2ow], x[2oh][2ow+1], x[2oh+1][2ow], x[2oh+1][2ow+1]) is the
 * left fold of pick(best, v) = v if v > best or v is NaN, else best: the first maximum, or the
 * last NaN. Here it runs 8 windows at a time in vector lanes (the even and odd columns of two
 * rows split by shuffles, each pick a bitwise blend), the row's last windows one by one: the
 * same values and indices as the generic loop, bit for bit. With relu set each tap first goes
 * through relu(v) = v <= 0 ? 0 : v (ops/elementwise.c's), for the fused inference path
 * (nb__relu_maxpool2x2, without indices); idx may be NULL. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NB_POOL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NB_POOL_CLONES
#endif

typedef float nb_p8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t nb_p8i __attribute__((vector_size(32), aligned(4), may_alias));

/* The even and odd columns of 16 (a, b), split within each 128-bit half (one vshufps each, where
 * a split in column order takes two permutes and a blend): windows in the lane order
 * 0 1 4 5 2 3 6 7. Each pick works lane by lane, so NB_ORDER puts the result back in order
 * once (one vpermpd): the same values and indices. */
#if defined(__clang__)
#define NB_EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 8, 10, 4, 6, 12, 14)
#define NB_ODD(a, b) __builtin_shufflevector(a, b, 1, 3, 9, 11, 5, 7, 13, 15)
#define NB_ORDER(v) __builtin_shufflevector(v, v, 0, 1, 4, 5, 2, 3, 6, 7)
#else
#define NB_EVEN(a, b) __builtin_shuffle(a, b, (nb_p8i){0, 2, 8, 10, 4, 6, 12, 14})
#define NB_ODD(a, b) __builtin_shuffle(a, b, (nb_p8i){1, 3, 9, 11, 5, 7, 13, 15})
#define NB_ORDER(v) __builtin_shuffle(v, (nb_p8i){0, 1, 4, 5, 2, 3, 6, 7})
#endif

#define vrelu(v) ((nb_p8f)((nb_p8i)(v) & ~(nb_p8i)((v) <= 0.0f)))

/* 8 windows: rows a (16 floats) and b (16 floats) -> best, and the winner's offset in bi
 * (0, 1, W, W + 1). */
#define NB_POOL8(ra, rb, relu, W, best, bi)                                                        \
    do {                                                                                          \
        const nb_p8f a0_ = *(const nb_p8f *)(ra), b0_ = *(const nb_p8f *)((ra) + 8);              \
        const nb_p8f a1_ = *(const nb_p8f *)(rb), b1_ = *(const nb_p8f *)((rb) + 8);              \
        nb_p8f v0_ = NB_EVEN(a0_, b0_), v1_ = NB_ODD(a0_, b0_), v2_ = NB_EVEN(a1_, b1_);          \
        nb_p8f v3_ = NB_ODD(a1_, b1_);                                                            \
        if (relu) v0_ = vrelu(v0_), v1_ = vrelu(v1_), v2_ = vrelu(v2_), v3_ = vrelu(v3_);         \
        nb_p8i m_;                                                                                \
        best = v0_, bi = (nb_p8i){0};                                                             \
        m_ = (v1_ > best) | (v1_ != v1_);                                                         \
        best = (nb_p8f)(((nb_p8i)best & ~m_) | ((nb_p8i)v1_ & m_)), bi = (bi & ~m_) | (m_ & 1);    \
        m_ = (v2_ > best) | (v2_ != v2_);                                                         \
        best = (nb_p8f)(((nb_p8i)best & ~m_) | ((nb_p8i)v2_ & m_));                               \
        bi = (bi & ~m_) | (m_ & (int32_t)(W));                                                    \
        m_ = (v3_ > best) | (v3_ != v3_);                                                         \
        best = (nb_p8f)(((nb_p8i)best & ~m_) | ((nb_p8i)v3_ & m_));                               \
        bi = (bi & ~m_) | (m_ & (int32_t)((W) + 1));                                              \
        best = NB_ORDER(best), bi = NB_ORDER(bi);                                                 \
    } while (0)

/* One output row: OW windows from the input rows r0, r1; yr the output row, ir (or NULL) its
 * indices, i0 the flat index of r0[0] in the plane, W the plane's row length. Windows 8 at a
 * time (the row's last 8 again where OW is not a multiple of 8); a row of fewer than 8 windows
 * read as it is where 16 floats from the start of each of its rows are readable (over, or
 * before xend: the lanes past OW are computed and dropped), else through a zero-padded copy. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void pool_row(const float *r0, const float *r1, int64_t OW, int64_t W, int64_t i0,
                            float *yr, int64_t *ir, int relu, int over, const float *xend) {
    nb_p8f best;
    nb_p8i bi;
    if (OW < 8) {
        float t0[16] = {0}, t1[16] = {0}, yb[8];
        int32_t off[8];
        if (over || r1 + 16 <= xend) { /* 16 floats readable from each row: lanes past OW unused */
            NB_POOL8(r0, r1, relu, W, best, bi);
        } else {
            for (int64_t q = 0; q < 2 * OW; q++) t0[q] = r0[q], t1[q] = r1[q];
            NB_POOL8(t0, t1, relu, W, best, bi);
        }
        *(nb_p8f *)yb = best;
        *(nb_p8i *)off = bi;
        for (int64_t q = 0; q < OW; q++) {
            yr[q] = yb[q];
            if (ir) ir[q] = i0 + 2 * q + off[q];
        }
        return;
    }
    for (int64_t ow = 0; ow < OW; ow += 8) {
        if (ow + 8 > OW) ow = OW - 8; /* the row's last 8 windows, some done again */
        const int64_t c = 2 * ow;
        NB_POOL8(r0 + c, r1 + c, relu, W, best, bi);
        *(nb_p8f *)(yr + ow) = best;
        if (ir) {
            int32_t off[8];
            *(nb_p8i *)off = bi;
            for (int q = 0; q < 8; q++) ir[ow + q] = i0 + c + 2 * q + off[q];
        }
    }
}

/* Planes [p0, p1) of x (planes xs floats apart, rows ldx apart; W = ldx where idx is not
 * NULL) -> y (OH, OW) each (and idx). */
NB_POOL_CLONES static void pool2x2_planes(const float *x, float *y, int64_t *idx, int64_t xs, int64_t ldx,
                                          int64_t W, int64_t OH, int64_t OW, int64_t p0, int64_t p1,
                                          int relu, int over, const float *xend) {
    for (int64_t pl = p0; pl < p1; pl++) {
        const float *xp = x + pl * xs;
        float *yp = y + pl * OH * OW; /* (OH, OW) */
        int64_t *ip = idx ? idx + pl * OH * OW : NULL;
        for (int64_t oh = 0; oh < OH; oh++) {
            const float *r0 = xp + 2 * oh * ldx;
            if (ip) pool_row(r0, r0 + ldx, OW, W, 2 * oh * W, yp + oh * OW, ip + oh * OW, 0, 0, xend);
            else if (over) pool_row(r0, r0 + ldx, OW, W, 0, yp + oh * OW, NULL, relu, 1, xend);
            else if (relu) pool_row(r0, r0 + ldx, OW, W, 0, yp + oh * OW, NULL, 1, 0, xend);
            else pool_row(r0, r0 + ldx, OW, W, 0, yp + oh * OW, NULL, 0, 0, xend);
        }
    }
}

void nb__relu_maxpool2x2(const float *x, float *y, int64_t planes, int64_t H, int64_t W, int relu) {
    pool2x2_planes(x, y, NULL, H * W, W, W, H / 2, W / 2, 0, planes, relu, 0, x + planes * H * W);
}

void nb__relu_maxpool2x2_ld(const float *x, float *y, int64_t planes, int64_t xs, int64_t ldx, int64_t H,
                            int64_t W, int relu) {
    pool2x2_planes(x, y, NULL, xs, ldx, W, H / 2, W / 2, 0, planes, relu, 1, NULL);
}

static void maxpool2x2(const nb__conv_geom *g, const float *x, float *y, int64_t *idx) {
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW, planes = g->N * g->C;
#pragma omp parallel if (planes * OH * OW >= NB_POOL_PAR_MIN)
    {
        const int64_t T = omp_get_num_threads(), t = omp_get_thread_num();
        pool2x2_planes(x, y, idx, H * W, W, W, OH, OW, planes * t / T, planes * (t + 1) / T, 0, 0,
                       x + planes * H * W);
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
        int64_t *ip = idx ? idx + pl * OH * OW : NULL; /* (OH, OW), flat h*W + w into xp */
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
                if (ip) ip[oh * OW + ow] = bi;
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

void nb__maxpool2x2_bwd_store(const nb__conv_geom *g, const float *gy, const int64_t *idx, float *gx) {
    const int64_t HW = g->H * g->W, P = g->OH * g->OW, planes = g->N * g->C;
#pragma omp parallel for schedule(static) if (planes * P >= NB_POOL_PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *gp = gy + pl * P;
        const int64_t *ip = idx + pl * P;
        float *xp = gx + pl * HW;
        /* zeros, then each window's maximum (the plane stays in the cache between the two) */
        memset(xp, 0, (size_t)HW * sizeof(float));
        for (int64_t p = 0; p < P; p++) xp[ip[p]] = 0.0f + gp[p]; /* as += into zeros: -0 -> +0 */
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
