/* nabla: the inference-only convolution kernels of conv.c's fused pass, without im2col: the
 * wide forward (any channel count, unit strides: each output row with the columns past its end
 * is one run of positions) and the channels-in-lanes forward with relu and 2x2 max pooling.
 * Like the direct kernels (conv_direct.c), each output sums over (c, kh, kw) from zero, then
 * + b, written as a*b+c and compiled with FMA contraction (CMakeLists.txt). */
#include "kernels/conv_impl.h"
#include "kernels/conv_vec.h"

#include <string.h>

#define NB_DIRECT_TILE(NC, OB) NB_DIRECT_TILE_V(tile##NC, nb_v8f, 8, , NC, OB)
NB_DIRECT_TILE(3, 4) /* the wide forward's: 24 positions x 4 channels */
#undef NB_DIRECT_TILE

/* ---- wide forward (inference) --------------------------------------------------------------- */

/* With unit strides along both axes, output (oh, ow) reads the padded plane at oh*Wp + ow +
 * the tap's offset: every output row, taken with the Wp - OW columns past its end, is one run
 * of L = (OH-1)*Wp + OW positions, so any number of channels runs in tiles of 24 positions x 4
 * output channels (12 accumulators) without im2col. The columns past each row's end are
 * computed and not used. Sums over (c, kh, kw) from zero, then + b, as the direct forward. */
static int64_t wide_wp(const nb__conv_geom *g) { return g->W + 2 * g->PW; }
static int64_t wide_len(const nb__conv_geom *g) { return (g->OH - 1) * wide_wp(g) + g->OW; }

int nb__conv_wide_ok(const nb__conv_geom *g) {
    if (g->groups != 1 || g->SH != 1 || g->SW != 1 || g->DW != 1 || g->OH < 1 || g->OW < 1) return 0;
    if (g->O < 4 || g->C * g->KH * g->KW > 4096) return 0;
    /* at least half the computed positions used */
    return 2 * g->OH * g->OW >= (wide_len(g) + 23) / 24 * 24;
}

int64_t nb__conv_wide_ld(const nb__conv_geom *g) { return (wide_len(g) + 23) / 24 * 24; }

int64_t nb__conv_wide_stage(const nb__conv_geom *g) {
    return g->C * (g->H + 2 * g->PH) * wide_wp(g) + 32;
}

NB_CLONES static void wide_sample(const nb__conv_geom *g, const float *xn, const float *w, const float *b,
                                  float *out, int64_t ldo, float *stage, int in_place) {
    const int64_t C = g->C, O = g->O, KH = g->KH, KW = g->KW, Kc = C * KH * KW;
    const int64_t H = g->H, W = g->W, Hp = H + 2 * g->PH, Wp = wide_wp(g), L = wide_len(g);
    if (!in_place) {
        memset(stage, 0, (size_t)(C * Hp * Wp + 32) * sizeof(float));
        for (int64_t c = 0; c < C; c++)
            for (int64_t ih = 0; ih < H; ih++)
                memcpy(stage + (c * Hp + ih + g->PH) * Wp + g->PW, xn + (c * H + ih) * W,
                       (size_t)W * sizeof(float));
    } else {
        stage = (float *)xn;
    }
    const int64_t cs = Hp * Wp, hs = g->DH * Wp;
    for (int64_t o0 = 0; o0 < O; o0 += 4) {
        const int64_t ob_n = O - o0 < 4 ? O - o0 : 4;
        const float *wr[4];
        float bo[4];
        for (int64_t i = 0; i < 4; i++) { /* channels past O repeat the last one, unstored */
            const int64_t o = o0 + i < O ? o0 + i : O - 1;
            wr[i] = w + o * Kc;
            bo[i] = b ? b[o] : 0.0f;
        }
        for (int64_t t0 = 0; t0 < L; t0 += 24) {
            const int64_t nout = L - t0 < 24 ? L - t0 : 24;
            float *yo[4];
            for (int64_t i = 0; i < ob_n; i++) yo[i] = out + (o0 + i) * ldo + t0;
            tile3(stage + t0, cs, hs, C, KH, 0, KH, KW, wr, bo, yo, nout, ob_n, 0);
        }
    }
}

void nb__conv_wide_fwd(const nb__conv_geom *g, const float *xn, const float *w, const float *b, float *out,
                       int64_t ldo, float *stage, int in_place) {
    /* Without padding the plane is the sample itself; the tiles read up to 24 floats past it,
     * into the next sample (in_place: the caller's word that they are there), for columns
     * that are not used. */
    wide_sample(g, xn, w, b, out, ldo, stage, in_place && g->PH == 0 && g->PW == 0);
}

/* ---- channels-in-lanes forward, pooled (inference) ---------------------------------------- */

/* Output channels in the vector lanes: a tile is NP consecutive output positions of one row x
 * NV vectors of 8 channels; each tap (c, kh, kw) loads NV weight vectors (from the transposed
 * kernel wt (Kc, ldw), ldw = ceil8(O), its columns past O zero) and broadcasts the NP inputs it
 * meets, so no lane computes a padding column (the wide kernel's rows of OW of W + 2*PW) and
 * no input is copied when there is no padding (the taps read the sample in place, exactly the
 * floats they need). Sums over (c, kh, kw) from zero, then + b, as the direct kernels. Then
 * relu and 2x2 max pooling over the (positions, channels) output, vectors of channels. */
static int64_t cl_wp(const nb__conv_geom *g) { return g->W + 2 * g->PW; }
static int64_t cl_ldw(const nb__conv_geom *g) { return ceil8(g->O); }

int nb__conv_cl_ok(const nb__conv_geom *g) {
    if (g->groups != 1 || g->SW != 1 || g->OH < 2 || g->OW < 2) return 0;
    if (g->C * g->KH * g->KW > 4096 || g->O > 256) return 0;
    /* at least 3/4 of the lanes used (8 output channels per vector) */
    return ceil8(g->O) * 3 <= g->O * 4;
}

/* Floats: the padded plane, the transposed kernel, the tap offsets (as int32), the bias. */
int64_t nb__conv_cl_stage(const nb__conv_geom *g) {
    const int64_t Kc = g->C * g->KH * g->KW;
    return g->C * (g->H + 2 * g->PH) * cl_wp(g) + Kc * cl_ldw(g) + Kc + cl_ldw(g) + 32;
}

/* (positions, ldw) */
int64_t nb__conv_cl_tmp(const nb__conv_geom *g) { return g->OH * g->OW * cl_ldw(g) + 16; }

#define NB_CL_TILE(NV, NP)                                                                        \
    static NB_CL_INLINE void cl##NV##_##NP(const float *x0, const int32_t *toff, int64_t Kc,            \
                                     const float *wt, int64_t ldw, const float *bo, float *out) { \
        nb_v8f acc[NP][NV];                                                                       \
        for (int j = 0; j < NP; j++)                                                              \
            for (int v = 0; v < NV; v++) acc[j][v] = (nb_v8f){0};                                 \
        for (int64_t k = 0; k < Kc; k++) {                                                        \
            const float *xk = x0 + toff[k];                                                       \
            nb_v8f wv[NV];                                                                        \
            for (int v = 0; v < NV; v++) wv[v] = *(const nb_v8f *)(wt + k * ldw + 8 * v);         \
            for (int j = 0; j < NP; j++) {                                                        \
                const float xs = xk[j];                                                           \
                for (int v = 0; v < NV; v++) acc[j][v] += xs * wv[v];                             \
            }                                                                                     \
        }                                                                                         \
        for (int j = 0; j < NP; j++)                                                              \
            for (int v = 0; v < NV; v++)                                                          \
                *(nb_v8f *)(out + j * ldw + 8 * v) = acc[j][v] + *(const nb_v8f *)(bo + 8 * v);   \
    }
/* NP*NV accumulators, NV weights and a broadcast input: at most 16 registers. */
NB_CL_TILE(2, 6)
NB_CL_TILE(2, 5)
NB_CL_TILE(2, 4)
NB_CL_TILE(2, 3)
NB_CL_TILE(2, 2)
NB_CL_TILE(1, 14)
NB_CL_TILE(1, 12)
NB_CL_TILE(1, 10)
NB_CL_TILE(1, 8)
NB_CL_TILE(1, 7)
NB_CL_TILE(1, 6)
NB_CL_TILE(1, 5)
NB_CL_TILE(1, 4)
NB_CL_TILE(1, 3)
NB_CL_TILE(1, 2)

/* Positions per tile for rows of OW (>= 2) with NV vectors: the candidate that wastes the
 * fewest computed positions (tiles past the row's end start earlier and overlap), the larger
 * on ties. */
static int cl_np(int64_t OW, int nv) {
    static const int c2[] = {6, 5, 4, 3, 2}, c1[] = {14, 12, 10, 8, 7, 6, 5, 4, 3, 2};
    const int *c = nv == 2 ? c2 : c1;
    const int nc = nv == 2 ? 5 : 10;
    int best = 0;
    int64_t bw = -1;
    for (int i = 0; i < nc; i++) {
        if (c[i] > OW) continue;
        const int64_t w = (OW + c[i] - 1) / c[i] * c[i] + ((OW + c[i] - 1) / c[i]) * 2; /* + per-tile cost */
        if (bw < 0 || w < bw) bw = w, best = c[i];
    }
    return best;
}

/* Into this thread's stage, after the plane: the transposed kernel wt (Kc, ldw) from w (O, Kc),
 * columns past O zero; the taps' offsets in the plane; the bias padded to ldw with zeros. */
void nb__conv_cl_prepare(const nb__conv_geom *g, const float *w, const float *b, float *stage) {
    const int64_t Kc = g->C * g->KH * g->KW, O = g->O, ldw = cl_ldw(g);
    float *wt = stage + g->C * (g->H + 2 * g->PH) * cl_wp(g);
    for (int64_t k = 0; k < Kc; k++)
        for (int64_t o = 0; o < ldw; o++) wt[k * ldw + o] = o < O ? w[o * Kc + k] : 0.0f;
    int32_t *toff = (int32_t *)(wt + Kc * ldw);
    const int64_t Hp = g->H + 2 * g->PH, Wp = cl_wp(g);
    for (int64_t c = 0, k = 0; c < g->C; c++)
        for (int64_t kh = 0; kh < g->KH; kh++)
            for (int64_t kw = 0; kw < g->KW; kw++, k++)
                toff[k] = (int32_t)((c * Hp + kh * g->DH) * Wp + kw * g->DW);
    float *bp = (float *)(toff + Kc);
    for (int64_t o = 0; o < ldw; o++) bp[o] = b && o < O ? b[o] : 0.0f;
}

#define NB_CL_PICK(best, v)                                                                       \
    do {                                                                                          \
        const nb_v8i m_ = (v > best) | (v != v);                                                   \
        best = (nb_v8f)(((nb_v8i)best & ~m_) | ((nb_v8i)v & m_));                                  \
    } while (0)
typedef int32_t nb_v8i __attribute__((vector_size(32), aligned(4), may_alias));

/* One sample: y (O, OH/2, OW/2) = maxpool2(relu?(conv(xn))); tmp: nb__conv_cl_tmp(g) floats,
 * stage: nb__conv_cl_stage(g) floats, prepared by nb__conv_cl_prepare. */
NB_CLONES void nb__conv_cl_pool_sample(const nb__conv_geom *g, const float *xn, float *yn,
                                       int relu, float *tmp, float *stage) {
    const int64_t C = g->C, H = g->H, W = g->W, Hp = H + 2 * g->PH, Wp = cl_wp(g);
    const int64_t Kc = C * g->KH * g->KW, ldw = cl_ldw(g), OH = g->OH, OW = g->OW, O = g->O;
    const float *wt = stage + C * Hp * Wp;
    const int32_t *toff = (const int32_t *)(wt + Kc * ldw);
    const float *bp = (const float *)(toff + Kc);
    const float *plane = xn;
    if (g->PH || g->PW) {
        memset(stage, 0, (size_t)(C * Hp * Wp) * sizeof(float));
        for (int64_t c = 0; c < C; c++)
            for (int64_t ih = 0; ih < H; ih++)
                memcpy(stage + (c * Hp + ih + g->PH) * Wp + g->PW, xn + (c * H + ih) * W,
                       (size_t)W * sizeof(float));
        plane = stage;
    }
    for (int64_t o0 = 0; o0 < ldw; o0 += 16) {
        const int nv = ldw - o0 >= 16 ? 2 : 1;
        const int np = cl_np(OW, nv);
        for (int64_t oh = 0; oh < OH; oh++) {
            const float *xr = plane + oh * g->SH * Wp;
            float *orow = tmp + oh * OW * ldw + o0;
            for (int64_t t0 = 0; t0 < OW; t0 += np) {
                const int64_t s = t0 + np <= OW ? t0 : OW - np; /* the last tile overlaps */
                const float *x0 = xr + s;
                float *out = orow + s * ldw;
                const float *wk = wt + o0, *bo = bp + o0;
                if (nv == 2) {
                    switch (np) {
                    case 6: cl2_6(x0, toff, Kc, wk, ldw, bo, out); break;
                    case 5: cl2_5(x0, toff, Kc, wk, ldw, bo, out); break;
                    case 4: cl2_4(x0, toff, Kc, wk, ldw, bo, out); break;
                    case 3: cl2_3(x0, toff, Kc, wk, ldw, bo, out); break;
                    default: cl2_2(x0, toff, Kc, wk, ldw, bo, out); break;
                    }
                } else {
                    switch (np) {
                    case 14: cl1_14(x0, toff, Kc, wk, ldw, bo, out); break;
                    case 12: cl1_12(x0, toff, Kc, wk, ldw, bo, out); break;
                    case 10: cl1_10(x0, toff, Kc, wk, ldw, bo, out); break;
                    case 8: cl1_8(x0, toff, Kc, wk, ldw, bo, out); break;
                    case 7: cl1_7(x0, toff, Kc, wk, ldw, bo, out); break;
                    case 6: cl1_6(x0, toff, Kc, wk, ldw, bo, out); break;
                    case 5: cl1_5(x0, toff, Kc, wk, ldw, bo, out); break;
                    case 4: cl1_4(x0, toff, Kc, wk, ldw, bo, out); break;
                    case 3: cl1_3(x0, toff, Kc, wk, ldw, bo, out); break;
                    default: cl1_2(x0, toff, Kc, wk, ldw, bo, out); break;
                    }
                }
            }
        }
    }
    /* pooling: window taps (0,0), (0,1), (1,0), (1,1), each through relu, the later one kept
     * where greater or NaN (pool.c's rule) */
    const int64_t PH = OH / 2, PW = OW / 2, PP = PH * PW;
    for (int64_t ph = 0; ph < PH; ph++)
        for (int64_t pw = 0; pw < PW; pw++) {
            const float *t = tmp + (2 * ph * OW + 2 * pw) * ldw;
            for (int64_t o0 = 0; o0 < ldw; o0 += 8) {
                nb_v8f v0 = *(const nb_v8f *)(t + o0), v1 = *(const nb_v8f *)(t + ldw + o0);
                nb_v8f v2 = *(const nb_v8f *)(t + OW * ldw + o0), v3 = *(const nb_v8f *)(t + (OW + 1) * ldw + o0);
                if (relu) {
                    v0 = (nb_v8f)((nb_v8i)v0 & ~(nb_v8i)(v0 <= 0.0f));
                    v1 = (nb_v8f)((nb_v8i)v1 & ~(nb_v8i)(v1 <= 0.0f));
                    v2 = (nb_v8f)((nb_v8i)v2 & ~(nb_v8i)(v2 <= 0.0f));
                    v3 = (nb_v8f)((nb_v8i)v3 & ~(nb_v8i)(v3 <= 0.0f));
                }
                nb_v8f best = v0;
                NB_CL_PICK(best, v1);
                NB_CL_PICK(best, v2);
                NB_CL_PICK(best, v3);
                float r[8];
                *(nb_v8f *)r = best;
                const int64_t nq = O - o0 < 8 ? O - o0 : 8;
                float *y = yn + o0 * PP + ph * PW + pw;
                for (int64_t q = 0; q < nq; q++) y[q * PP] = r[q];
            }
        }
}
