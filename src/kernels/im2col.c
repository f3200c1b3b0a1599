/* nabla: im2col and col2im, the lowering of a convolution to GEMMs (conv.c).
 *
 * nb__im2col / nb__col2im are the plain per-row versions (one sample, rows of length P): they
 * clip every output row against the padding and step through strided input columns. They are
 * the reference that the block versions below are tested against.
 *
 * The block versions serve the kernels. They go through a staging plane (conv_impl.h): the
 * sample's input padded with zeros and, for a stride SW > 1, split by column phase, so that
 * every row segment (fixed c, kh, kw, oh; OW output columns) is one contiguous run of the plane
 * without a bound to test. Building the plane reads the input once; the runs are then moved 8
 * floats at a time. im2col's runs may write up to 7 floats past their end (into the next run,
 * the next sample's columns or the row's slack, all written later) and read up to 7 past
 * theirs (the plane has 8 floats of slack; an unstaged input is read exactly near its end).
 * col2im adds each run, in the same order as nb__col2im, into a plane that starts as the
 * sample's gradient (or zeros), then copies the plane's inner part back: every element receives
 * the same additions in the same order as with nb__col2im, so results are bitwise the same.
 * (Its vectors also add -0.0 to the floats just past a run, which changes no bit: add_runs_vec.)
 * The plane is zeroed once per call, not per sample: only the input's slots change from one
 * sample to the next (stage_fill). */
#include "kernels/conv_impl.h"

#include <string.h>

/* The run loops are cloned (NB_CLONES, kernels.h); they only move and add floats one by one, so
 * every clone gives the same bits. */

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
 * channel or the kernel row), so the per-row work below is free of divisions. */
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

/* ---- the block versions ------------------------------------------------------------------ */

void nb__conv_stage_dims(const nb__conv_geom *g, nb__conv_stage *s) {
    s->staged = !(g->PH == 0 && g->PW == 0 && g->SW == 1);
    if (!s->staged) {
        s->cs = g->H * g->W, s->rs = g->W, s->ps = 0, s->floats = 0;
        return;
    }
    const int64_t Hs = g->H + 2 * g->PH, Wq = (g->W + 2 * g->PW + g->SW - 1) / g->SW;
    s->ps = Wq;
    s->rs = g->SW * Wq;
    s->cs = Hs * s->rs;
    s->floats = g->C * s->cs;
}

/* Input column iw of a row is padded column j = iw + PW, at phase j % SW, offset j / SW of the
 * plane's row (SW phases of Wq floats). The input columns iw = r + t*SW of one residue r land
 * in one phase at consecutive offsets off[r] + t. For SW = 2 the two residues are moved in one
 * loop (an even/odd split that vectorizes); the offsets are computed once per sample. */
typedef struct {
    int64_t off0, off1; /* SW = 2: plane offsets of input columns 0 and 1 */
} phase_map;

static phase_map phases2(const nb__conv_geom *g, const nb__conv_stage *s) {
    const int64_t PW = g->PW, Wq = s->ps;
    phase_map m = {PW % 2 * Wq + PW / 2, (PW + 1) % 2 * Wq + (PW + 1) / 2};
    return m;
}

/* SW = 2 rows: input row xr (2*h floats; its odd last column is the caller's) to the plane's
 * phases d0 (even columns) and d1 (odd ones), and back (plus b when has_b). Four column pairs at
 * a time with GCC's vector shuffles; a row whose h is not a multiple of 4 ends with a chunk that
 * overlaps the one before: it moves some pairs twice, the same values to the same places (and
 * writes only inside the row), so rows of 7 pairs, the zoo's 14 columns, are two chunks. */
#if defined(__GNUC__) && !defined(__clang__)
typedef float nb_v4 __attribute__((vector_size(16), aligned(4), may_alias));
typedef int32_t nb_v4i __attribute__((vector_size(16)));
#define NB_V4(p) (*(nb_v4 *)(p))
#define NB_CV4(p) (*(const nb_v4 *)(p))
static inline void split2_chunk(float *d0, float *d1, const float *xr) {
    const nb_v4 a = NB_CV4(xr), b = NB_CV4(xr + 4);
    NB_V4(d0) = __builtin_shuffle(a, b, (nb_v4i){0, 2, 4, 6});
    NB_V4(d1) = __builtin_shuffle(a, b, (nb_v4i){1, 3, 5, 7});
}
static inline void merge2_chunk(float *xr, const float *d0, const float *d1, float b, int has_b) {
    nb_v4 e = NB_CV4(d0), o = NB_CV4(d1);
    if (has_b) e += b, o += b; /* each element d + b, as the scalar loop */
    NB_V4(xr) = __builtin_shuffle(e, o, (nb_v4i){0, 4, 1, 5});
    NB_V4(xr + 4) = __builtin_shuffle(e, o, (nb_v4i){2, 6, 3, 7});
}
#define NB_PAIRS_BY4(h, CHUNK)                                                                     \
    do {                                                                                           \
        int64_t t_ = 0;                                                                            \
        for (; t_ + 4 <= (h); t_ += 4) CHUNK(t_);                                                  \
        if (t_ < (h)) CHUNK((h) - 4);                                                              \
    } while (0)
#endif

static inline void split2(float *restrict d0, float *restrict d1, const float *restrict xr, int64_t h) {
#if defined(__GNUC__) && !defined(__clang__)
    if (h >= 4) {
#define NB_SPLIT_AT(t) split2_chunk(d0 + (t), d1 + (t), xr + 2 * (t))
        NB_PAIRS_BY4(h, NB_SPLIT_AT);
#undef NB_SPLIT_AT
        return;
    }
#endif
    for (int64_t t = 0; t < h; t++) d0[t] = xr[2 * t], d1[t] = xr[2 * t + 1];
}

static inline void merge2(float *restrict xr, const float *restrict d0, const float *restrict d1, int64_t h,
                          float b, int has_b) {
#if defined(__GNUC__) && !defined(__clang__)
    if (h >= 4) {
#define NB_MERGE_AT(t) merge2_chunk(xr + 2 * (t), d0 + (t), d1 + (t), b, has_b)
        NB_PAIRS_BY4(h, NB_MERGE_AT);
#undef NB_MERGE_AT
        return;
    }
#endif
    if (has_b)
        for (int64_t t = 0; t < h; t++) xr[2 * t] = d0[t] + b, xr[2 * t + 1] = d1[t] + b;
    else
        for (int64_t t = 0; t < h; t++) xr[2 * t] = d0[t], xr[2 * t + 1] = d1[t];
}

#define NB_ROWS for (int64_t c = 0; c < C; c++) for (int64_t ih = 0; ih < H; ih++)
#define NB_ROW (stage + c * s->cs + (ih + g->PH) * s->rs)
#define NB_XROW (xn + (c * H + ih) * W)

/* SW = 2: every input row of sample xn into the plane's two phases, and back (plus bias[c] when
 * given), stepping row pointers (the per-row work is a few vectors). */
NB_CLONES static void fill2(const nb__conv_geom *g, const nb__conv_stage *s, const float *xn, float *stage) {
    const phase_map m = phases2(g, s);
    const int64_t H = g->H, W = g->W, h = W / 2;
    for (int64_t c = 0; c < g->C; c++) {
        float *row = stage + c * s->cs + g->PH * s->rs;
        const float *xr = xn + c * H * W;
        for (int64_t ih = 0; ih < H; ih++, row += s->rs, xr += W) {
            split2(row + m.off0, row + m.off1, xr, h);
            if (W & 1) row[m.off0 + h] = xr[W - 1];
        }
    }
}

NB_CLONES static void store2(const nb__conv_geom *g, const nb__conv_stage *s, const float *stage, float *xn,
                             const float *bias) {
    const phase_map m = phases2(g, s);
    const int64_t H = g->H, W = g->W, h = W / 2;
    for (int64_t c = 0; c < g->C; c++) {
        const float *row = stage + c * s->cs + g->PH * s->rs;
        float *xr = xn + c * H * W;
        const float b = bias ? bias[c] : 0.0f;
        for (int64_t ih = 0; ih < H; ih++, row += s->rs, xr += W) {
            merge2(xr, row + m.off0, row + m.off1, h, b, bias != NULL);
            if (W & 1) xr[W - 1] = bias ? row[m.off0 + h] + b : row[m.off0 + h];
        }
    }
}

/* stage = the padded, phase-split plane of one sample xn (C, H, W), NB_COL_SLACK zeros after it.
 * Only the input's slots are written, after zeroing the whole plane when pads is set: a caller
 * that fills the plane for sample after sample and writes nothing else into it in between zeroes
 * it for the first sample only, as the padding slots keep their zeros. (Zeroing just the padding
 * slots of each row measured slower than one memset.) */
static void stage_fill(const nb__conv_geom *g, const nb__conv_stage *s, const float *xn,
                       float *stage, int pads) {
    const int64_t C = g->C, H = g->H, W = g->W, SW = g->SW, PW = g->PW, Wq = s->ps;
    if (pads) memset(stage, 0, (size_t)(s->floats + NB_COL_SLACK) * sizeof(float));
    if (SW == 1) {
        NB_ROWS memcpy(NB_ROW + PW, NB_XROW, (size_t)W * sizeof(float));
    } else if (SW == 2) {
        fill2(g, s, xn, stage);
    } else {
        for (int64_t r = 0; r < SW && r < W; r++) {
            const int64_t off = (r + PW) % SW * Wq + (r + PW) / SW, n = (W - r + SW - 1) / SW;
            NB_ROWS {
                float *d = NB_ROW + off;
                const float *xr = NB_XROW + r;
                for (int64_t t = 0; t < n; t++) d[t] = xr[t * SW];
            }
        }
    }
}

/* xn (C, H, W) = the inner part of the plane, plus bias[c] when bias is given. */
static void stage_store(const nb__conv_geom *g, const nb__conv_stage *s, const float *stage,
                        float *xn, const float *bias) {
    const int64_t C = g->C, H = g->H, W = g->W, SW = g->SW, PW = g->PW, Wq = s->ps;
    if (SW == 1) {
        NB_ROWS {
            const float *d = NB_ROW + PW;
            float *xr = NB_XROW;
            if (bias)
                for (int64_t iw = 0; iw < W; iw++) xr[iw] = d[iw] + bias[c];
            else
                memcpy(xr, d, (size_t)W * sizeof(float));
        }
    } else if (SW == 2) {
        store2(g, s, stage, xn, bias);
    } else {
        for (int64_t r = 0; r < SW && r < W; r++) {
            const int64_t off = (r + PW) % SW * Wq + (r + PW) / SW, n = (W - r + SW - 1) / SW;
            NB_ROWS {
                const float *d = NB_ROW + off;
                float *xr = NB_XROW + r;
                if (bias)
                    for (int64_t t = 0; t < n; t++) xr[t * SW] = d[t] + bias[c];
                else
                    for (int64_t t = 0; t < n; t++) xr[t * SW] = d[t];
            }
        }
    }
#undef NB_ROWS
#undef NB_ROW
#undef NB_XROW
}

/* Plane offset of kernel column kw's first element (padded column kw*DW of output column 0). */
static int64_t kw_offset(const nb__conv_geom *g, const nb__conv_stage *s, int64_t kw) {
    const int64_t off = kw * g->DW;
    return off % g->SW * s->ps + off / g->SW;
}

#ifndef NB_RUNV
#define NB_RUNV 8 /* <= NB_COL_SLACK; in the AVX2 clone one move per run of 7 (4 measured slower there) */
#endif
#if defined(__GNUC__)
typedef float nb_vrun __attribute__((vector_size(NB_RUNV * 4), aligned(4), may_alias));
#define NB_MOVE(d, s) (*(nb_vrun *)(d) = *(const nb_vrun *)(s))
/* Run oh (OW floats) from s + oh*ss to d + oh*OW, for OH runs, moved NB_RUNV floats at a time:
 * up to NB_RUNV - 1 floats past each run are read and written. The common widths get a loop
 * with a fixed number of moves (the runs are short: 7 to 28 floats in the zoo's layers). */
static inline void copy_runs(float *d, const float *s, int64_t ss, int64_t OH, int64_t OW) {
    const int64_t nv = (OW + NB_RUNV - 1) / NB_RUNV;
    switch (nv) {
    case 1:
        for (int64_t oh = 0; oh < OH; oh++, d += OW, s += ss) NB_MOVE(d, s);
        break;
    case 2:
        for (int64_t oh = 0; oh < OH; oh++, d += OW, s += ss) {
            NB_MOVE(d, s);
            NB_MOVE(d + NB_RUNV, s + NB_RUNV);
        }
        break;
    case 3:
        for (int64_t oh = 0; oh < OH; oh++, d += OW, s += ss) {
            NB_MOVE(d, s);
            NB_MOVE(d + NB_RUNV, s + NB_RUNV);
            NB_MOVE(d + 2 * NB_RUNV, s + 2 * NB_RUNV);
        }
        break;
    case 4:
        for (int64_t oh = 0; oh < OH; oh++, d += OW, s += ss) {
            NB_MOVE(d, s);
            NB_MOVE(d + NB_RUNV, s + NB_RUNV);
            NB_MOVE(d + 2 * NB_RUNV, s + 2 * NB_RUNV);
            NB_MOVE(d + 3 * NB_RUNV, s + 3 * NB_RUNV);
        }
        break;
    default:
        for (int64_t oh = 0; oh < OH; oh++, d += OW, s += ss)
            for (int64_t j = 0; j < nv; j++) NB_MOVE(d + j * NB_RUNV, s + j * NB_RUNV);
    }
}
#else
static void copy_runs(float *d, const float *s, int64_t ss, int64_t OH, int64_t OW) {
    for (int64_t oh = 0; oh < OH; oh++, d += OW, s += ss) memcpy(d, s, (size_t)OW * sizeof(float));
}
#endif

/* The same, moving exactly OW floats per run (near the end of an unstaged input). */
static void copy_runs_exact(float *d, const float *s, int64_t ss, int64_t OH, int64_t OW) {
    for (int64_t oh = 0; oh < OH; oh++, d += OW, s += ss) memcpy(d, s, (size_t)OW * sizeof(float));
}

static inline void add_run(float *restrict d, const float *restrict s, int64_t n) {
    for (int64_t j = 0; j < n; j++) d[j] += s[j];
}

/* Vectors of 8 floats for col2im's runs: the zoo's runs are 7 or 14 floats long (two 4-float
 * vectors and a scalar per 7 before). */
#if defined(__GNUC__)
#define NB_ADDV 8
_Static_assert(NB_ADDV <= NB_COL_SLACK, "a run's last vector must stay inside the slack");
typedef float nb_vadd __attribute__((vector_size(NB_ADDV * 4), aligned(4), may_alias));
typedef int32_t nb_vaddi __attribute__((vector_size(NB_ADDV * 4), aligned(4), may_alias));

/* add_run for OH runs: run oh (OW floats at s + oh*OW) added to d + oh*ds, NB_ADDV floats at a
 * time. Staged planes only: the plane is the thread's own and has NB_COL_SLACK floats of slack,
 * as the column buffer's rows do. The last vector of a run reaches past it; its lanes past the
 * run add -0.0, which leaves every float as it was (x + -0.0 == x for x = -0.0 too; a NaN stays
 * the same quiet NaN: arithmetic makes no signalling ones; a denormal stays, as nabla never sets
 * the denormals-are-zero mode), so every float of the plane gets exactly add_run's additions, in
 * the same order. */
static inline void add_runs_vec(float *d, int64_t ds, const float *s, int64_t OH, int64_t OW) {
    const int64_t full = OW / NB_ADDV, tail = OW % NB_ADDV;
    const nb_vaddi lane = {0, 1, 2, 3, 4, 5, 6, 7};
    const nb_vaddi keep = lane < (nb_vaddi){0} + (int32_t)tail;   /* all ones in the run's lanes */
    const nb_vaddi negz = ~keep & ((nb_vaddi){0} + INT32_MIN);    /* -0.0 in the others */
    for (int64_t oh = 0; oh < OH; oh++, d += ds, s += OW) {
        for (int64_t j = 0; j < full; j++) *(nb_vadd *)(d + j * NB_ADDV) += *(const nb_vadd *)(s + j * NB_ADDV);
        if (tail) {
            const nb_vaddi t = (*(const nb_vaddi *)(s + full * NB_ADDV) & keep) | negz;
            *(nb_vadd *)(d + full * NB_ADDV) += (nb_vadd)t;
        }
    }
}
#endif

/* One sample's columns cn (rows of stride ld) added run by run into its plane base, in the order
 * (c, kh, kw, oh) of nb__col2im. */
NB_CLONES static void add_sample(const nb__conv_geom *g, const nb__conv_stage *s, const float *cn,
                                 int64_t ld, float *base, const int64_t *koff) {
    const int64_t KH = g->KH, KW = g->KW, OH = g->OH, OW = g->OW, ds = g->SH * s->rs;
    int64_t r = 0;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t kh = 0; kh < KH; kh++)
            for (int64_t kw = 0; kw < KW; kw++, r++) {
                float *dst = base + c * s->cs + kh * g->DH * s->rs + (kw < NB_KW_CACHE ? koff[kw] : kw_offset(g, s, kw));
                const float *src = cn + r * ld;
#if defined(__GNUC__)
                if (s->staged) {
                    add_runs_vec(dst, ds, src, OH, OW);
                    continue;
                }
#endif
                for (int64_t oh = 0; oh < OH; oh++) add_run(dst + oh * ds, src + oh * OW, OW);
            }
}

/* One sample's plane base moved run by run into its columns dn (rows of stride ld). */
NB_CLONES static void copy_sample(const nb__conv_geom *g, const nb__conv_stage *s, const float *base,
                                  float *dn, int64_t ld, const int64_t *koff, int exact) {
    const int64_t KH = g->KH, KW = g->KW, OH = g->OH, OW = g->OW;
    const int64_t ss = g->SH * s->rs; /* plane floats from one output row to the next */
    int64_t r = 0;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t kh = 0; kh < KH; kh++)
            for (int64_t kw = 0; kw < KW; kw++, r++) {
                const float *src = base + c * s->cs + kh * g->DH * s->rs + (kw < NB_KW_CACHE ? koff[kw] : kw_offset(g, s, kw));
                if (exact) copy_runs_exact(dn + r * ld, src, ss, OH, OW);
                else copy_runs(dn + r * ld, src, ss, OH, OW);
            }
}

void nb__im2col_block(const nb__conv_geom *g, const nb__conv_stage *s, const float *x, int64_t n0,
                      int64_t n1, float *col, int64_t ld, float *stage) {
    const int64_t P = g->OH * g->OW, CHW = g->C * g->H * g->W;
    int64_t koff[NB_KW_CACHE];
    for (int64_t kw = 0; kw < g->KW && kw < NB_KW_CACHE; kw++) koff[kw] = kw_offset(g, s, kw);
    for (int64_t n = n0; n < n1; n++) {
        const float *base = x + n * CHW; /* the plane */
        /* Unstaged, the last samples' runs could read past the input: move those exactly. */
        int exact = 0;
        if (s->staged) {
            stage_fill(g, s, base, stage, n == n0); /* im2col writes nothing into the plane */
            base = stage;
        } else {
            exact = (g->N - 1 - n) * CHW < NB_RUNV - 1; /* floats after this sample */
        }
        copy_sample(g, s, base, col + (n - n0) * P, ld, koff, exact);
    }
}

void nb__col2im_block(const nb__conv_geom *g, const nb__conv_stage *s, const float *col,
                      int64_t ld, int64_t n0, int64_t n1, float *x, const float *bias,
                      int overwrite, float *stage) {
    const int64_t P = g->OH * g->OW, HW = g->H * g->W, CHW = g->C * HW;
    int64_t koff[NB_KW_CACHE];
    for (int64_t kw = 0; kw < g->KW && kw < NB_KW_CACHE; kw++) koff[kw] = kw_offset(g, s, kw);
    for (int64_t n = n0; n < n1; n++) {
        float *xn = x + n * CHW, *base = xn;
        if (s->staged) {
            /* Accumulating, the plane's padding slots gather the previous sample's runs, but
             * only the input's slots are read back (stage_store) and stage_fill rewrites them
             * all: zeroing the plane once per call keeps stale data out of the padding. */
            if (overwrite) memset(stage, 0, (size_t)s->floats * sizeof(float));
            else stage_fill(g, s, xn, stage, n == n0);
            base = stage;
        } else if (overwrite) {
            memset(xn, 0, (size_t)CHW * sizeof(float));
        }
        add_sample(g, s, col + (n - n0) * P, ld, base, koff);
        if (s->staged) {
            stage_store(g, s, stage, xn, overwrite ? bias : NULL);
        } else if (overwrite && bias) {
            for (int64_t c = 0; c < g->C; c++)
                for (int64_t j = 0; j < HW; j++) xn[c * HW + j] += bias[c];
        }
    }
}
