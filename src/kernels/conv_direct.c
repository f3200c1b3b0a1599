/* nabla: direct convolution for few input channels (LeNet's first layer: one channel, 5x5, a
 * 28x28 output). There im2col would write C*KH*KW floats per output position for only O
 * multiply-adds each, so the column buffer, not the products, would set the speed; and the
 * weight gradient's GEMM (O x Kc, summing over N*P) is too thin for the BLAS to run well.
 * Each sample's input is copied once into a zero-padded plane (C, H + 2*PH, Wd) and everything
 * is computed from it in vector registers, 8 output columns per vector:
 * - forward: a tile of up to 16 output columns (NC vectors) of one output row for OB output
 *   channels at a time, summing over (c, kh, kw) in that order from zero, with the bias added
 *   last (the GEMM path's terms; OpenBLAS's kernels group them differently, so the last bits
 *   differ from the GEMM path's);
 * - weight gradient: for OB output channels and up to 4 kernel columns of one (c, kh), sums of
 *   gy x input over the output rows and columns, kept per vector lane across the samples of a
 *   thread (O*Kc*8 floats) and summed across the lanes at the end.
 * The file is compiled with FMA contraction (CMakeLists.txt): its AVX2+FMA clone fuses each
 * multiply-add, the portable one rounds twice.
 * Taken for groups 1 and unit stride and dilation along W (contiguous loads), few channels and
 * output rows that fill the vectors well (nb__conv_direct_ok). */
#include "kernels/conv_impl.h"
#include "kernels/conv_vec.h"

#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#endif

#define NB_DIRECT_MAX_C 4
#define NB_DIRECT_MAX_K 75 /* C*KH*KW: three channels of 5x5 */

int nb__conv_direct_ok(const nb__conv_geom *g) {
    if (g->groups != 1 || g->SW != 1 || g->DW != 1 || g->C > NB_DIRECT_MAX_C) return 0;
    if (g->KH * g->KW == 1) return 0; /* 1x1: a GEMM with x as it is does better */
    if (g->C * g->KH * g->KW > NB_DIRECT_MAX_K) return 0;
    /* Rows padded to whole vectors waste at most a quarter of the lanes (OW 7, 14, 28: 1/8). */
    return ceil8(g->OW) * 3 <= g->OW * 4;
}

/* The input gradient of a stride-1 conv2d is a direct convolution of gy, padded by
 * (K-1)*D - P, with the kernel flipped and its channel axes swapped: input channels O, output
 * channels C, output H x W. */
static nb__conv_geom data_geom(const nb__conv_geom *g) {
    nb__conv_geom d = *g;
    d.C = g->O, d.H = g->OH, d.W = g->OW, d.O = g->C;
    d.PH = (g->KH - 1) * g->DH - g->PH, d.PW = (g->KW - 1) * g->DW - g->PW;
    d.OH = g->H, d.OW = g->W;
    return d;
}

int nb__conv_direct_data_ok(const nb__conv_geom *g) {
    if (g->groups != 1 || g->SH != 1 || g->SW != 1 || g->DW != 1 || g->KH * g->KW == 1) return 0;
    if (g->PH > (g->KH - 1) * g->DH || g->PW > g->KW - 1) return 0;
    /* Few channels on both sides: from 2 output (C) channels (one would leave most of a tile's
     * channels idle) to 16, and up to 1024 terms per output (LeNet's second layer: 6, 400). */
    if (g->C < 2 || g->C > 16 || g->O * g->KH * g->KW > 1024) return 0;
    return ceil8(g->W) * 3 <= g->W * 4;
}

/* Output columns the AVX-512 tiles of a row span (one vector of 16, else vectors of 32). */
static int64_t span16(int64_t ow) { return ow <= 16 ? 16 : (ow + 31) / 32 * 32; }

/* The plane's row length: every column the tiles read (8-column vectors, or the AVX-512 tiles'
 * 16 and 32), and the padded input. */
static int64_t plane_w(const nb__conv_geom *g) {
    int64_t a = span16(g->OW) + g->KW - 1, b = g->W + 2 * g->PW;
    return a > b ? a : b;
}

static int64_t plane_floats(const nb__conv_geom *g) {
    return g->C * (g->H + 2 * g->PH) * plane_w(g);
}

/* Forward and weight gradient: the padded input (C, Hp, Wd), then gy with rows padded with
 * zeros to whole vectors (O, OH, ceil8(OW)). Input gradient: the padded gy plane, then the
 * rearranged kernel (C, O, KH, KW). */
int64_t nb__conv_direct_stage(const nb__conv_geom *g) {
    int64_t s = 0;
    if (nb__conv_direct_ok(g)) s = plane_floats(g) + g->O * g->OH * ceil8(g->OW) + 8;
    if (nb__conv_direct_data_ok(g)) {
        const nb__conv_geom d = data_geom(g);
        const int64_t t = plane_floats(&d) + g->C * g->O * g->KH * g->KW + 8;
        if (t > s) s = t;
    }
    return s;
}

int64_t nb__conv_direct_lanes(const nb__conv_geom *g) {
    return g->O * g->C * g->KH * g->KW * 8;
}

/* stage (C, Hp, Wd) = the zero-padded input of one sample xn (C, H, W). */
static void pad_input(const nb__conv_geom *g, const float *xn, float *stage) {
    const int64_t C = g->C, H = g->H, W = g->W, Hp = H + 2 * g->PH, Wd = plane_w(g);
    memset(stage, 0, (size_t)(C * Hp * Wd) * sizeof(float));
    for (int64_t c = 0; c < C; c++)
        for (int64_t ih = 0; ih < H; ih++)
            memcpy(stage + (c * Hp + ih + g->PH) * Wd + g->PW, xn + (c * H + ih) * W, (size_t)W * sizeof(float));
}

#define NB_DIRECT_TILE(NC, OB) NB_DIRECT_TILE_V(tile##NC, nb_v8f, 8, , NC, OB)
/* Accumulators OB*NC plus NC input vectors and a weight fit the 16 AVX2 registers, and each
 * input vector, loaded once, feeds OB products. (Tiles of 32 columns for 2 channels measured
 * half as fast: GCC then folded each input load into every product that used it, and loads
 * across cache lines set the pace.) */
NB_DIRECT_TILE(2, 6)
NB_DIRECT_TILE(1, 12)
#define NB_DIRECT_OB_MAX 12
#define NB_DIRECT_TW 16 /* output columns per tile */

/* The weight rows and biases of channels o0.. of a tile of ob; channels past O repeat the last
 * one (computed, not stored). This and live_rows are inlined into each kernel: called, they made
 * GCC spill accumulators of the AVX-512 tiles to the stack (conv1's forward 0.15 -> 0.26 ms per
 * batch, `perf annotate` showed FMAs on stack operands). */
static NB_CL_INLINE void channel_rows(const float *w, const float *b, int64_t Kc, int64_t O, int64_t o0, int64_t ob,
                         const float **wr, float *bo) {
    for (int64_t i = 0; i < ob; i++) {
        const int64_t o = o0 + i < O ? o0 + i : O - 1;
        wr[i] = w + o * Kc;
        bo[i] = b ? b[o] : 0.0f;
    }
}

/* The kernel rows [kh0, kh1) of output row oh that meet the input's rows. Those on the plane's
 * zero rows add only w*0 to accumulators that start at +0: skipped, the same bits (unless a
 * partial sum underflowed to -0). LeNet's second-layer input gradient: 50 of 70 rows of taps. */
static NB_CL_INLINE void live_rows(const nb__conv_geom *g, int64_t oh, int64_t *kh0, int64_t *kh1) {
    int64_t a = 0, z = g->KH;
    while (a < g->KH && oh * g->SH + a * g->DH < g->PH) a++;
    while (z > a && oh * g->SH + (z - 1) * g->DH >= g->PH + g->H) z--;
    *kh0 = a, *kh1 = z;
}

/* y (O, OH, OW) of one sample = conv(x, w) + b, or with add, y += conv(x, w); w (O, Kc). */
NB_CLONES static void direct_sample(const nb__conv_geom *g, const float *xn, const float *w,
                                    const float *b, float *yn, int add, float *stage, int64_t ldy) {
    const int64_t C = g->C, O = g->O, KH = g->KH, KW = g->KW, OH = g->OH, OW = g->OW;
    const int64_t Hp = g->H + 2 * g->PH, Wd = plane_w(g), Kc = C * KH * KW;
    pad_input(g, xn, stage);
    const int64_t cs = Hp * Wd, hs = g->DH * Wd;
    for (int64_t t0 = 0; t0 < OW; t0 += NB_DIRECT_TW) {
        const int64_t nout = ldy - t0 < NB_DIRECT_TW ? ldy - t0 : NB_DIRECT_TW, nc = (nout + 7) / 8;
        const int64_t ob = nc == 2 ? 6 : 12;
        for (int64_t o0 = 0; o0 < O; o0 += ob) {
            const int64_t ob_n = O - o0 < ob ? O - o0 : ob;
            const float *wr[NB_DIRECT_OB_MAX];
            float bo[NB_DIRECT_OB_MAX];
            channel_rows(w, b, Kc, O, o0, ob, wr, bo);
            for (int64_t oh = 0; oh < OH; oh++) {
                const float *x0 = stage + oh * g->SH * Wd + t0;
                float *yo[NB_DIRECT_OB_MAX];
                for (int64_t i = 0; i < ob_n; i++) yo[i] = yn + ((o0 + i) * OH + oh) * ldy + t0;
                int64_t kh0, kh1;
                live_rows(g, oh, &kh0, &kh1);
                if (nc == 2) tile2(x0, cs, hs, C, KH, kh0, kh1, KW, wr, bo, yo, nout, ob_n, add);
                else tile1(x0, cs, hs, C, KH, kh0, kh1, KW, wr, bo, yo, nout, ob_n, add);
            }
        }
    }
}

/* direct_sample with 16-float vectors, where the CPU has AVX-512: a tile is one vector of 16
 * output columns (rows of up to 16) or two (32), for OB output channels; every output is the same
 * sum over (c, kh, kw) from zero, then + bias, FMA by FMA, as in direct_sample's tiles, so the
 * bits are the same (test_kernels compares the two). 32 registers hold 2 x 6 or 1 x 12
 * accumulators with the input vectors and a broadcast weight. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NB_DIRECT512 1
typedef float nb_v16f __attribute__((vector_size(64), aligned(4), may_alias));

#define NB_DIRECT_TILE16(NC, OB)                                                                  \
    NB_DIRECT_TILE_V(tile16_##NC##_##OB, nb_v16f, 16, __attribute__((target("arch=x86-64-v4"), always_inline)), NC, OB)
NB_DIRECT_TILE16(2, 6)
NB_DIRECT_TILE16(1, 6)
NB_DIRECT_TILE16(1, 12)
#undef NB_DIRECT_TILE16

/* Rows of up to 16 columns for 6 channels: 6 accumulators, one FMA chain each, would wait on
 * the FMA's latency; two output rows at a time (12), rs floats apart in the plane and ldy in y.
 * Each row adds its own kernel rows, [a0, a1) and [b0, b1), in direct_sample's order, so each
 * output gets the same terms in the same order as alone. */
__attribute__((target("arch=x86-64-v4"), always_inline)) static inline void tile16_rows2(
    const float *x0, int64_t rs, int64_t cs, int64_t hs, int64_t C, int64_t KH, int64_t a0, int64_t a1, int64_t b0,
    int64_t b1, int64_t KW, const float *const *wr, const float *bo, float *const *yo, int64_t ldy, int64_t nout,
    int64_t ob_n, int add) {
    enum { OB = 6 };
    nb_v16f acc[2][OB];
    for (int i = 0; i < OB; i++) acc[0][i] = acc[1][i] = (nb_v16f){0};
    const int64_t lo = a0 < b0 ? a0 : b0, hi = a1 > b1 ? a1 : b1;
    for (int64_t c = 0; c < C; c++)
        for (int64_t kh = lo; kh < hi; kh++) {
            const float *xa = x0 + c * cs + kh * hs, *xb = xa + rs;
            const int64_t k = (c * KH + kh) * KW;
            const int ia = kh >= a0 && kh < a1, ib = kh >= b0 && kh < b1;
            if (ia && ib) {
                for (int64_t kw = 0; kw < KW; kw++) {
                    const nb_v16f va = *(const nb_v16f *)(xa + kw), vb = *(const nb_v16f *)(xb + kw);
                    for (int i = 0; i < OB; i++) {
                        const float wk = wr[i][k + kw];
                        acc[0][i] += wk * va;
                        acc[1][i] += wk * vb;
                    }
                }
            } else if (ia) {
                for (int64_t kw = 0; kw < KW; kw++) {
                    const nb_v16f va = *(const nb_v16f *)(xa + kw);
                    for (int i = 0; i < OB; i++) acc[0][i] += wr[i][k + kw] * va;
                }
            } else if (ib) {
                for (int64_t kw = 0; kw < KW; kw++) {
                    const nb_v16f vb = *(const nb_v16f *)(xb + kw);
                    for (int i = 0; i < OB; i++) acc[1][i] += wr[i][k + kw] * vb;
                }
            }
        }
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < OB; i++) {
            if (i >= ob_n) break;
            float *y = yo[i] + r * ldy;
            if (nout == 16) {
                nb_v16f *d = (nb_v16f *)y;
                *d = add ? *d + acc[r][i] : acc[r][i] + bo[i];
            } else {
                float out[16];
                *(nb_v16f *)out = acc[r][i];
                for (int64_t q = 0; q < nout; q++) y[q] = add ? y[q] + out[q] : out[q] + bo[i];
            }
        }
}

__attribute__((target("arch=x86-64-v4"))) static void direct_sample512(const nb__conv_geom *g, const float *xn,
                                                                      const float *w, const float *b, float *yn,
                                                                      int add, float *stage, int64_t ldy) {
    const int64_t C = g->C, O = g->O, KH = g->KH, KW = g->KW, OH = g->OH, OW = g->OW;
    const int64_t Hp = g->H + 2 * g->PH, Wd = plane_w(g), Kc = C * KH * KW;
    pad_input(g, xn, stage);
    const int64_t cs = Hp * Wd, hs = g->DH * Wd, tw = OW <= 16 ? 16 : 32;
    for (int64_t t0 = 0; t0 < OW; t0 += tw) {
        const int64_t nout = ldy - t0 < tw ? ldy - t0 : tw, nc = (nout + 15) / 16;
        const int64_t ob = nc == 2 || O <= 6 ? 6 : 12;
        for (int64_t o0 = 0; o0 < O; o0 += ob) {
            const int64_t ob_n = O - o0 < ob ? O - o0 : ob;
            const float *wr[NB_DIRECT_OB_MAX];
            float bo[NB_DIRECT_OB_MAX];
            channel_rows(w, b, Kc, O, o0, ob, wr, bo);
            const int rows2 = nc == 1 && ob == 6;
            for (int64_t oh = 0; oh < OH; oh++) {
                const float *x0 = stage + oh * g->SH * Wd + t0;
                float *yo[NB_DIRECT_OB_MAX];
                for (int64_t i = 0; i < ob_n; i++) yo[i] = yn + ((o0 + i) * OH + oh) * ldy + t0;
                int64_t kh0, kh1;
                live_rows(g, oh, &kh0, &kh1);
                if (rows2 && oh + 1 < OH) { /* this row and the next */
                    int64_t b0, b1;
                    live_rows(g, oh + 1, &b0, &b1);
                    tile16_rows2(x0, g->SH * Wd, cs, hs, C, KH, kh0, kh1, b0, b1, KW, wr, bo, yo, ldy, nout, ob_n,
                                 add);
                    oh++;
                    continue;
                }
                if (nc == 2) tile16_2_6(x0, cs, hs, C, KH, kh0, kh1, KW, wr, bo, yo, nout, ob_n, add);
                else if (ob == 6) tile16_1_6(x0, cs, hs, C, KH, kh0, kh1, KW, wr, bo, yo, nout, ob_n, add);
                else tile16_1_12(x0, cs, hs, C, KH, kh0, kh1, KW, wr, bo, yo, nout, ob_n, add);
            }
        }
    }
}
#endif

/* Which direct_sample runs: 2 the AVX-512 one where the CPU has it, 1 the cloned one; tests set
 * it with nb__conv_direct_isa. */
static int direct_isa_forced;

static int direct_isa(void) {
#ifdef NB_DIRECT512
    const int best = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? 2 : 1;
    return direct_isa_forced && direct_isa_forced < best ? direct_isa_forced : best;
#else
    return 1;
#endif
}

int nb__conv_direct_isa(int isa) {
    direct_isa_forced = isa;
    return direct_isa();
}

static void sample_any(const nb__conv_geom *g, const float *xn, const float *w, const float *b, float *yn, int add,
                       float *stage, int64_t ldy) {
#ifdef NB_DIRECT512
    if (direct_isa() == 2) {
        direct_sample512(g, xn, w, b, yn, add, stage, ldy);
        return;
    }
#endif
    direct_sample(g, xn, w, b, yn, add, stage, ldy);
}

void nb__conv_direct_fwd(const nb__conv_geom *g, const float *x, const float *w, const float *b,
                         float *y, int add, int64_t n0, int64_t n1, float *stage) {
    const int64_t xs = g->C * g->H * g->W, ys = g->O * g->OH * g->OW;
    for (int64_t n = n0; n < n1; n++) sample_any(g, x + n * xs, w, b, y + n * ys, add, stage, g->OW);
}

void nb__conv_direct_data(const nb__conv_geom *g, const float *w, const float *gy, float *gx,
                          const float *b, int add, int64_t n0, int64_t n1, float *stage) {
    const nb__conv_geom d = data_geom(g);
    const int64_t C = g->C, O = g->O, KH = g->KH, KW = g->KW, KK = KH * KW;
    float *wt = stage + plane_floats(&d); /* (C, O, KH, KW): w flipped, its channels swapped */
    for (int64_t o = 0; o < O; o++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t k = 0; k < KK; k++) wt[(c * O + o) * KK + KK - 1 - k] = w[(o * C + c) * KK + k];
    const int64_t xs = O * g->OH * g->OW, ys = C * g->H * g->W;
    for (int64_t n = n0; n < n1; n++) sample_any(&d, gy + n * xs, wt, b, gx + n * ys, add, stage, d.OW);
}

/* ---- row pairs (the fused inference pass) -------------------------------------------------- */

/* Rows whose last vector holds 1 to 4 columns (LeNet's first layer: 28 = 3 * 8 + 4) waste up to
 * half of it. Two output rows at a time, their last 4-column pieces share one vector (low half
 * the upper row's, high half the lower row's): 7 vectors per pair of rows of 28 instead of 8,
 * 1/8 fewer multiply-adds. The terms and their order are those of direct_sample (over
 * (c, kh, kw) from zero, then + bias), so the values are the same bits, but for one case: the
 * kernel rows skipped are those on zero rows for both rows of the pair, so a row may add w*0
 * terms the other skips, which changes nothing unless a partial sum is -0 or w is not finite. */
typedef float nb_v4f __attribute__((vector_size(16), aligned(4), may_alias));

#define NB_PAIR_OB 3 /* channels per tile */
/* One tile for NB_PAIR_OB channels (weight rows wr[i], Kc each): NJ vectors of 8 columns of both
 * rows, at x0 + 8j and x0 + rs + 8j in the plane (rs: the rows' distance there) and, with HC,
 * the 4-column pieces at x0 + 8*NJ of both rows in one vector. Stores sum + bo[i] for the first
 * ob_n channels at yo[i] (the upper row; the lower one ldy floats on). With (NJ, HC) = (2, 0):
 * 12 accumulators, 3 broadcast weights and one input vector at a time fill the 16 registers;
 * each weight, broadcast once, feeds 4 products, each input vector 3. */
#define NB_PAIR_TILE(NJ, HC)                                                                      \
    static NB_CL_INLINE void pair##NJ##_##HC(const float *x0, int64_t rs, int64_t cs, int64_t hs,     \
                                             int64_t C, int64_t KH, int64_t kh0, int64_t kh1,     \
                                             int64_t KW, const float *const *wr, const float *bo, \
                                             float *const *yo, int64_t ldy, int64_t ob_n) {       \
        enum { NV = 2 * (NJ) + (HC) };                                                            \
        nb_v8f acc[NB_PAIR_OB][NV];                                                               \
        for (int i = 0; i < NB_PAIR_OB; i++)                                                      \
            for (int v = 0; v < NV; v++) acc[i][v] = (nb_v8f){0};                                 \
        for (int64_t c = 0; c < C; c++)                                                           \
            for (int64_t kh = kh0; kh < kh1; kh++) {                                              \
                const float *xr = x0 + c * cs + kh * hs;                                          \
                int64_t k = (c * KH + kh) * KW;                                                   \
                for (int64_t kw = 0; kw < KW; kw++, k++) {                                        \
                    float wk[NB_PAIR_OB];                                                         \
                    for (int i = 0; i < NB_PAIR_OB; i++) wk[i] = wr[i][k];                        \
                    for (int v = 0; v < NV; v++) {                                                \
                        nb_v8f xv;                                                                \
                        if (v < 2 * (NJ))                                                         \
                            xv = *(const nb_v8f *)(xr + kw + (v & 1) * rs + 8 * (v >> 1));        \
                        else                                                                      \
                            xv = __builtin_shufflevector(*(const nb_v4f *)(xr + kw + 8 * (NJ)),   \
                                                         *(const nb_v4f *)(xr + kw + rs + 8 * (NJ)), \
                                                         0, 1, 2, 3, 4, 5, 6, 7);                 \
                        for (int i = 0; i < NB_PAIR_OB; i++) acc[i][v] += wk[i] * xv;             \
                    }                                                                             \
                }                                                                                 \
            }                                                                                     \
        for (int i = 0; i < NB_PAIR_OB && i < ob_n; i++)                                          \
            for (int v = 0; v < NV; v++) {                                                        \
                const nb_v8f r = acc[i][v] + bo[i];                                               \
                if (v < 2 * (NJ)) {                                                               \
                    *(nb_v8f *)(yo[i] + (v & 1) * ldy + 8 * (v >> 1)) = r;                        \
                } else {                                                                          \
                    *(nb_v4f *)(yo[i] + 8 * (NJ)) = __builtin_shufflevector(r, r, 0, 1, 2, 3);    \
                    *(nb_v4f *)(yo[i] + ldy + 8 * (NJ)) = __builtin_shufflevector(r, r, 4, 5, 6, 7); \
                }                                                                                 \
            }                                                                                     \
    }
NB_PAIR_TILE(2, 0)
NB_PAIR_TILE(1, 1)
NB_PAIR_TILE(0, 1)

/* Rows of 8k + 1 to 8k + 4 columns (k >= 1), an even count of them. */
static int pairs_ok(const nb__conv_geom *g) {
    return g->OW > 8 && g->OW % 8 != 0 && g->OW % 8 <= 4 && g->OH % 2 == 0;
}

/* out (O, OH, ceil8(OW)) = conv(xn, w) + b, the columns from OW on left unwritten. */
NB_CLONES static void pairs_sample(const nb__conv_geom *g, const float *xn, const float *w, const float *b,
                                   float *out, float *stage) {
    const int64_t C = g->C, O = g->O, KH = g->KH, KW = g->KW, OH = g->OH, OW = g->OW;
    const int64_t Hp = g->H + 2 * g->PH, Wd = plane_w(g), Kc = C * KH * KW, ldy = ceil8(OW);
    const int64_t V = OW / 8; /* whole vectors of a row */
    pad_input(g, xn, stage);
    const int64_t cs = Hp * Wd, hs = g->DH * Wd, rs = g->SH * Wd;
    for (int64_t o0 = 0; o0 < O; o0 += NB_PAIR_OB) {
        const int64_t ob_n = O - o0 < NB_PAIR_OB ? O - o0 : NB_PAIR_OB;
        const float *wr[NB_PAIR_OB];
        float bo[NB_PAIR_OB];
        for (int64_t i = 0; i < NB_PAIR_OB; i++) { /* channels past O repeat the last one, unstored */
            const int64_t o = o0 + i < O ? o0 + i : O - 1;
            wr[i] = w + o * Kc;
            bo[i] = b ? b[o] : 0.0f;
        }
        for (int64_t oh = 0; oh < OH; oh += 2) {
            const float *x0 = stage + oh * g->SH * Wd;
            float *yo[NB_PAIR_OB];
            for (int64_t i = 0; i < ob_n; i++) yo[i] = out + ((o0 + i) * OH + oh) * ldy;
            /* kernel rows on zero rows of the plane for both rows (the lower row's first
             * real one, the upper row's last): skipped, as in direct_sample */
            int64_t kh0 = 0, kh1 = KH;
            while (kh0 < KH && (oh + 1) * g->SH + kh0 * g->DH < g->PH) kh0++;
            while (kh1 > kh0 && oh * g->SH + (kh1 - 1) * g->DH >= g->PH + g->H) kh1--;
            int64_t j = 0;
            for (; j + 2 <= V; j += 2) {
                float *yj[NB_PAIR_OB];
                for (int64_t i = 0; i < ob_n; i++) yj[i] = yo[i] + 8 * j;
                pair2_0(x0 + 8 * j, rs, cs, hs, C, KH, kh0, kh1, KW, wr, bo, yj, ldy, ob_n);
            }
            float *yj[NB_PAIR_OB];
            for (int64_t i = 0; i < ob_n; i++) yj[i] = yo[i] + 8 * j;
            if (j < V) pair1_1(x0 + 8 * j, rs, cs, hs, C, KH, kh0, kh1, KW, wr, bo, yj, ldy, ob_n);
            else pair0_1(x0 + 8 * j, rs, cs, hs, C, KH, kh0, kh1, KW, wr, bo, yj, ldy, ob_n);
        }
    }
}

/* One sample's forward into out (O, OH, ceil8(OW)): rows padded to whole vectors, the columns
 * past OW not used (no partial stores; the fused inference pass). */
void nb__conv_direct_fwd_padded(const nb__conv_geom *g, const float *xn, const float *w, const float *b,
                                float *out, float *stage) {
    if (pairs_ok(g)) pairs_sample(g, xn, w, b, out, stage);
    else direct_sample(g, xn, w, b, out, 0, stage, ceil8(g->OW));
}

/* ---- weight gradient ----------------------------------------------------------------------- */

/* Lane sums acc[i][t] (8 lanes each) for channels i < OB and kernel columns t < KT of one
 * (c, kh): += gy rows gr[i] (row stride gs, NV vectors per row) times the plane's row xr (row
 * stride xs) shifted by t, over OH rows. acc lives in lanes (O, C, KH, KW, 8): rows li[i]. */
#define NB_WGT_TILE(KT, OB)                                                                      \
    static inline void wtile##KT(const float *const *gr, int64_t gs, const float *xr, int64_t xs, \
                                 int64_t OH, int64_t NV, float *const *li) {                      \
        nb_v8f acc[OB][KT];                                                                       \
        for (int i = 0; i < OB; i++)                                                              \
            for (int t = 0; t < KT; t++) acc[i][t] = *(const nb_v8f *)(li[i] + 8 * t);             \
        for (int64_t oh = 0; oh < OH; oh++)                                                       \
            for (int64_t v = 0; v < NV; v++) {                                                    \
                nb_v8f gv[OB];                                                                    \
                for (int i = 0; i < OB; i++) gv[i] = *(const nb_v8f *)(gr[i] + oh * gs + 8 * v);   \
                const float *xv0 = xr + oh * xs + 8 * v;                                          \
                for (int t = 0; t < KT; t++) {                                                    \
                    const nb_v8f xv = *(const nb_v8f *)(xv0 + t);                                 \
                    for (int i = 0; i < OB; i++) acc[i][t] += gv[i] * xv;                          \
                }                                                                                 \
            }                                                                                     \
        for (int i = 0; i < OB; i++)                                                              \
            for (int t = 0; t < KT; t++) *(nb_v8f *)(li[i] + 8 * t) = acc[i][t];                   \
    }
/* NB_WOB channels' gy vectors, a shifted input vector and NB_WOB*KT accumulators: 16
 * registers. Measured on LeNet's first layer against (OB, KT) = (2, 4), (2, 5), (3, 3),
 * (3, 5), (4, 3), (6, 2): 1.2 to 1.5 times faster. */
#define NB_WOB 3
#define NB_WKT 4
NB_WGT_TILE(1, NB_WOB)
NB_WGT_TILE(2, NB_WOB)
NB_WGT_TILE(3, NB_WOB)
NB_WGT_TILE(4, NB_WOB)

/* The weight gradient's staging: the padded input plane, then gy (O, OH, ceil8(OW)) with its rows
 * padded with zeros to whole vectors, returned. */
static const float *wgt_stage(const nb__conv_geom *g, const float *xn, const float *gyn, float *stage) {
    const int64_t OW = g->OW, OWc = ceil8(OW);
    pad_input(g, xn, stage);
    float *gp = stage + plane_floats(g);
    for (int64_t r = 0; r < g->O * g->OH; r++) {
        memcpy(gp + r * OWc, gyn + r * OW, (size_t)OW * sizeof(float));
        for (int64_t q = OW; q < OWc; q++) gp[r * OWc + q] = 0.0f;
    }
    return gp;
}

/* li[i]: the lane sums of channel o0 + i at (c, kh, kw0) (O, C, KH, KW, 8), for ob channels; those
 * past O get the zeroed dummy (their sums are dropped). */
static void wgt_rows(const nb__conv_geom *g, float *lanes, int64_t o0, int ob, int64_t c, int64_t kh, int64_t kw0,
                     float *dummy, size_t dummy_bytes, float **li) {
    for (int i = 0; i < ob; i++)
        li[i] = o0 + i < g->O ? lanes + ((((o0 + i) * g->C + c) * g->KH + kh) * g->KW + kw0) * 8 : dummy;
    if (o0 + ob > g->O) memset(dummy, 0, dummy_bytes);
}

/* One sample's weight gradient into the lanes: tiles of OB channels x up to KT kernel columns of
 * one (c, kh); TILES(kt, ...) runs the tile of kt columns. ATTR: the function's attributes. */
#define NB_WGT_SAMPLE(NAME, ATTR, OB, KT, TILES)                                                  \
    ATTR static void NAME(const nb__conv_geom *g, const float *xn, const float *gyn, float *lanes, \
                          float *stage) {                                                         \
        const int64_t C = g->C, O = g->O, KH = g->KH, KW = g->KW, OH = g->OH, OW = g->OW;         \
        const int64_t Hp = g->H + 2 * g->PH, Wd = plane_w(g), OWc = ceil8(OW), NV = OWc / 8;      \
        const float *gp = wgt_stage(g, xn, gyn, stage);                                           \
        const int64_t gs = OWc, xs = g->SH * Wd;                                                  \
        float dummy[(KT) * 8]; /* the sums of channels past O (repeats of the last), dropped */   \
        for (int64_t o0 = 0; o0 < O; o0 += (OB)) {                                                \
            const float *gr[OB];                                                                  \
            for (int i = 0; i < (OB); i++) gr[i] = gp + (o0 + i < O ? o0 + i : O - 1) * OH * OWc; \
            for (int64_t c = 0; c < C; c++)                                                       \
                for (int64_t kh = 0; kh < KH; kh++) {                                             \
                    const float *xr = stage + (c * Hp + kh * g->DH) * Wd;                         \
                    for (int64_t kw0 = 0; kw0 < KW; kw0 += (KT)) {                                \
                        const int64_t kt = KW - kw0 < (KT) ? KW - kw0 : (KT);                     \
                        float *li[OB];                                                            \
                        wgt_rows(g, lanes, o0, (OB), c, kh, kw0, dummy, sizeof dummy, li);        \
                        TILES(kt, gr, gs, xr + kw0, xs, OH, NV, li);                              \
                    }                                                                             \
                }                                                                                 \
        }                                                                                         \
    }
#define NB_WTILES8(kt, ...)                                                                       \
    switch (kt) {                                                                                 \
    case 4: wtile4(__VA_ARGS__); break;                                                           \
    case 3: wtile3(__VA_ARGS__); break;                                                           \
    case 2: wtile2(__VA_ARGS__); break;                                                           \
    default: wtile1(__VA_ARGS__); break;                                                          \
    }
NB_WGT_SAMPLE(wgt_sample, NB_CLONES, NB_WOB, NB_WKT, NB_WTILES8)

#ifdef NB_DIRECT512
/* wgt_sample with AVX-512: the same 8-lane sums, two of them (kernel columns t and t + 1, next
 * to each other in lanes) in one 16-float register; the gy vector is duplicated into both halves
 * and the input vectors at t and t + 1 put side by side. Each lane adds the same products in
 * the same order as wgt_sample's, so the bits are the same. Tiles of 6 channels x up to 6
 * kernel columns (18 accumulators; an odd last column in an 8-float one). */
#define NB_WOB512 6
#define NB_WKT512 6
__attribute__((target("arch=x86-64-v4"), always_inline)) static inline void wtile512(
    const int KT, const float *const *gr, int64_t gs, const float *xr, int64_t xs, int64_t OH, int64_t NV,
    float *const *li) {
    enum { OB = NB_WOB512 };
    const int P = KT / 2, odd = KT & 1;
    __m512 a[OB][NB_WKT512 / 2];
    __m256 a1[OB];
    for (int i = 0; i < OB; i++) {
        for (int p = 0; p < P; p++) a[i][p] = _mm512_loadu_ps(li[i] + 16 * p);
        if (odd) a1[i] = _mm256_loadu_ps(li[i] + 16 * P);
    }
    for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t v = 0; v < NV; v++) {
            const float *x0 = xr + oh * xs + 8 * v;
            __m512 xp[NB_WKT512 / 2];
            __m256 xo = _mm256_setzero_ps();
            for (int p = 0; p < P; p++)
                xp[p] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(x0 + 2 * p)),
                                           _mm256_loadu_ps(x0 + 2 * p + 1), 1);
            if (odd) xo = _mm256_loadu_ps(x0 + 2 * P);
            for (int i = 0; i < OB; i++) {
                const __m512 gv = _mm512_broadcast_f32x8(_mm256_loadu_ps(gr[i] + oh * gs + 8 * v));
                /* a * b + c, contracted as in wgt_sample (fused where the build fuses that one) */
                for (int p = 0; p < P; p++) a[i][p] += gv * xp[p];
                if (odd) a1[i] += _mm512_castps512_ps256(gv) * xo;
            }
        }
    for (int i = 0; i < OB; i++) {
        for (int p = 0; p < P; p++) _mm512_storeu_ps(li[i] + 16 * p, a[i][p]);
        if (odd) _mm256_storeu_ps(li[i] + 16 * P, a1[i]);
    }
}

#define NB_WTILES512(kt, ...)                                                                     \
    switch (kt) {                                                                                 \
    case 6: wtile512(6, __VA_ARGS__); break;                                                      \
    case 5: wtile512(5, __VA_ARGS__); break;                                                      \
    case 4: wtile512(4, __VA_ARGS__); break;                                                      \
    case 3: wtile512(3, __VA_ARGS__); break;                                                      \
    case 2: wtile512(2, __VA_ARGS__); break;                                                      \
    default: wtile512(1, __VA_ARGS__); break;                                                     \
    }
NB_WGT_SAMPLE(wgt_sample512, __attribute__((target("arch=x86-64-v4"))), NB_WOB512, NB_WKT512, NB_WTILES512)
#endif

void nb__conv_direct_wgt(const nb__conv_geom *g, const float *x, const float *gy, float *lanes,
                         int64_t n0, int64_t n1, float *stage) {
    const int64_t xs = g->C * g->H * g->W, ys = g->O * g->OH * g->OW;
#ifdef NB_DIRECT512
    if (direct_isa() == 2) {
        for (int64_t n = n0; n < n1; n++) wgt_sample512(g, x + n * xs, gy + n * ys, lanes, stage);
        return;
    }
#endif
    for (int64_t n = n0; n < n1; n++) wgt_sample(g, x + n * xs, gy + n * ys, lanes, stage);
}

void nb__conv_direct_lanes_add(const nb__conv_geom *g, const float *lanes, float *gw) {
    const int64_t n = g->O * g->C * g->KH * g->KW;
    for (int64_t i = 0; i < n; i++) {
        const float *l = lanes + i * 8;
        gw[i] += ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    }
}
