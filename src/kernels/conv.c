/* nabla: 2-D convolution. The fast kernels lower blocks of samples to GEMMs through an im2col
 * buffer (the Caffe scheme, batched): with P = OH*OW and, per group, Cg = C/groups input
 * channels, Og = O/groups output channels and Kc = Cg*KH*KW, for a block of nb samples
 *   forward      t_g (Og, nb*P)  = w_g (Og, Kc) . col_g (Kc, nb*P)   (t pre-filled with the bias),
 *                then scattered to y (N, O, P)
 *   input grad   col_g (Kc, nb*P) = w_g^T (Kc, Og) . gy_g (Og, nb*P), then col2im into gx
 *   weight grad  gw_g (Og, Kc) += gy_g (Og, nb*P) . col_g^T (nb*P, Kc)
 * col_g is rows [g*Kc, (g+1)*Kc) of the im2col of all C channels of the block (Kall = C*KH*KW
 * rows of stride ldc, sample n at columns (n - n0)*P), gy_g the block's gradient gathered to
 * (O, nb*P). One GEMM serves nb samples instead of one: OpenBLAS runs LeNet's 16 x 100 x 150
 * at 34 GFLOP/s, 16 x 1600 x 150 at 47. (In the whole kernels that gain is within noise once a
 * sample has 49 or more output positions; it is large for 1x1 outputs: docs/convolution.md.)
 * A block's column buffer is sized to stay in the core's cache (NB_CONV_BLOCK_FLOATS), with a
 * floor on its width (NB_CONV_MIN_COLS).
 *
 * Plan (nb__conv_plan, made in the op's shape step and kept in the geometry, so the forward and
 * the backward agree): T threads, the samples cut into nblk blocks of near-equal size, block k
 * = samples [k*N/nblk, (k+1)*N/nblk), thread t taking blocks [t*nblk/T, (t+1)*nblk/T) with its
 * own share of the workspace; the BLAS runs single-threaded inside the parallel region. With
 * one sample (or one thread) the blocks run in order and OpenBLAS threads each GEMM instead.
 *
 * Special cases: a 1x1 kernel with stride 1 and no padding needs no im2col (col is x: blocks of
 * one sample); a kernel that covers the whole unpadded input (a 1x1 output: a DCGAN's first and
 * last layers) is a matrix product with x's rows as they are; few input channels with unit
 * stride along W take the direct forward and weight gradient of conv_direct.c, and stride-1
 * input gradients with few channels its direct input gradient.
 *
 * Numerics: every output element of the forward pass and of the input gradient is one GEMM's
 * sum over the same terms as in the per-sample scheme (or the direct kernel's sum over them in
 * (c, kh, kw) order), then scattered or added in the same order. OpenBLAS's kernels, however,
 * group the terms of an element by its place in their register tiles, which moves with the
 * width of the product: batched results differ from per-sample ones in the last bits (blocks of
 * one sample, 1x1 kernels and most 1x1 outputs give the same bits as before). The weight
 * gradient sums over nb*P columns per GEMM and per thread, then the thread partials in thread
 * order; the bias gradient sums each channel in 8 double lanes. All orders depend on the plan
 * only: results are bitwise repeatable for a given thread count.
 *
 * conv_transpose2d is the input gradient of the conv2d whose input is its output (ops/conv.c):
 * its forward is the input-gradient pass with the bias added as each sample is written; its
 * backward makes the im2col of gy once per block for both its input gradient (a forward pass)
 * and its weight gradient. */
#include "internal.h"
#include "kernels/conv_impl.h"

#include <omp.h>
#include <string.h>

/* Floats of a block's column buffer the plan aims at (256 KiB: well inside a 512 KiB L2). */
#define NB_CONV_BLOCK_FLOATS (64 * 1024)
/* ... but a block of at least NB_CONV_MIN_COLS columns (samples x output positions) where that
 * fits in NB_CONV_BLOCK_MAX_FLOATS: a layer of many rows and few positions (a DCGAN's 4x4 stride-2
 * convolutions, 512 rows and 49 positions: 2 samples, 98 columns, in 256 KiB) otherwise runs
 * products too narrow for the GEMM. `bench_conv 10 B "2 k4 s2"` (B = 25088 x samples per block),
 * ms of the forward / training backward of those layers, 1 thread then 2: 2 samples 1.59 / 2.69,
 * 1.10 / 2.05; 6 samples 1.55 / 2.67, 0.96 / 1.56 (Zen 5 VM, oneDNN's GEMMs, 2026-12-02). The
 * zoo's other layers have blocks of 256 or more columns already. */
#define NB_CONV_MIN_COLS 256
#define NB_CONV_BLOCK_MAX_FLOATS (256 * 1024)
static int64_t g_block_floats; /* nb__conv_set_block; 0: the default */

void nb__conv_set_block(int64_t floats) { g_block_floats = floats > 0 ? floats : 0; }

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

/* The kernel covers the whole unpadded input: col (Kall, N) is x^T, y (N, O) = x w^T. */
static int is_full(const nb__conv_geom *g) {
    return g->OH == 1 && g->OW == 1 && g->PH == 0 && g->PW == 0 && g->KH == g->H &&
           g->KW == g->W;
}

void nb__conv_plan(nb__conv_geom *g) {
    const int64_t t = nb__threads(), N = g->N;
    int64_t T = N >= 2 && t >= 2 ? (t < N ? t : N) : 1;
    const int64_t per = g->C * g->KH * g->KW * g->OH * g->OW; /* one sample's columns */
    const int64_t target = g_block_floats ? g_block_floats : NB_CONV_BLOCK_FLOATS;
    int64_t bmax = per > 0 ? target / per : N;
    const int64_t P = g->OH * g->OW, want = P > 0 ? (NB_CONV_MIN_COLS + P - 1) / P : 1;
    if (!g_block_floats && bmax < want && want * per <= NB_CONV_BLOCK_MAX_FLOATS) bmax = want;
    /* A 1x1 output is a few matrix products of the whole batch: one block and no team of the
     * kernel's own; nb__gemm threads a product that is large enough, split by rows or columns, so
     * no thread partials of the weight gradient are added up (a DCGAN's first and last layers:
     * with a block per thread their 2-thread passes were slower than 1 thread's). */
    if (is_full(g) && !g_block_floats && N * per <= NB_CONV_BLOCK_MAX_FLOATS) T = 1, bmax = N;
    if (bmax < 1 || is_pointwise(g)) bmax = 1;
    int64_t nblk = T * ((N + T * bmax - 1) / (T * bmax)); /* a multiple of T: even shares */
    if (nblk > N) nblk = N;
    g->T = T;
    g->nblk = nblk;
}

/* A planned copy of g (the kernels take unplanned geometries too: tests, benchmarks). */
static nb__conv_geom planned(const nb__conv_geom *g) {
    nb__conv_geom p = *g;
    if (p.T < 1) nb__conv_plan(&p);
    return p;
}

/* One thread's share of the workspace, in floats: col (Kall rows of stride ldc; in the full
 * case a (B, Kall) product), tmp (O, B*P: the gathered gy or the forward's output before the
 * scatter), the staging plane, a weight-gradient partial when T > 1, and the direct weight
 * gradient's lane sums. */
typedef struct {
    int64_t B, ldc, col, tmp, stage, part, lanes, share;
} ws_layout;

static int64_t up16(int64_t n) { return (n + 15) / 16 * 16; }

static void layout(const nb__conv_geom *g, ws_layout *L) {
    const int64_t P = g->OH * g->OW, Kall = g->C * g->KH * g->KW;
    nb__conv_stage s;
    nb__conv_stage_dims(g, &s);
    L->B = g->nblk > 0 ? (g->N + g->nblk - 1) / g->nblk : 0;
    L->ldc = L->B * P + NB_COL_SLACK;
    L->col = up16(Kall * L->ldc);
    L->tmp = up16(g->O * L->B * P);
    L->stage = s.floats + NB_COL_SLACK;
    if (nb__conv_direct_stage(g) > L->stage) L->stage = nb__conv_direct_stage(g);
    L->stage = up16(L->stage);
    L->part = g->T > 1 ? up16(g->O * (g->C / g->groups) * g->KH * g->KW) : 0;
    if (nb__conv_direct_ok(g) && g->O * g->OH * ((g->OW + 7) / 8 * 8) + 16 > L->tmp) /* the fused pass */
        L->tmp = up16(g->O * g->OH * ((g->OW + 7) / 8 * 8) + 16);
    if (!nb__conv_direct_ok(g) && nb__conv_wide_ok(g)) { /* the fused inference pass's */
        if (g->O * nb__conv_wide_ld(g) + 16 > L->tmp) L->tmp = up16(g->O * nb__conv_wide_ld(g) + 16);
        if (nb__conv_wide_stage(g) > L->stage) L->stage = up16(nb__conv_wide_stage(g));
    }
    if (nb__conv_cl_ok(g)) { /* the fused inference pass's channels-in-lanes kernel */
        if (nb__conv_cl_tmp(g) > L->tmp) L->tmp = up16(nb__conv_cl_tmp(g));
        if (nb__conv_cl_stage(g) > L->stage) L->stage = up16(nb__conv_cl_stage(g));
    }
    L->lanes = nb__conv_direct_ok(g) ? up16(nb__conv_direct_lanes(g)) : 0;
    L->share = L->col + L->tmp + L->stage + L->part + L->lanes;
}

size_t nb__conv_workspace(const nb__conv_geom *g0) {
    const nb__conv_geom g = planned(g0);
    ws_layout L;
    layout(&g, &L);
    /* Never 0, so that a caller's malloc of it cannot return NULL for a valid request. */
    return (size_t)(g.T * L.share) + 1;
}

/* This thread's pieces of the workspace and its blocks. */
typedef struct {
    float *col, *tmp, *stage, *part, *lanes;
    int64_t k0, k1, nt;
} share_t;

static share_t my_share(const nb__conv_geom *g, const ws_layout *L, float *ws) {
    share_t s;
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    float *m = ws + t * L->share;
    s.col = m, s.tmp = m + L->col, s.stage = s.tmp + L->tmp, s.part = s.stage + L->stage;
    s.lanes = s.part + L->part;
    s.k0 = t * g->nblk / nt, s.k1 = (t + 1) * g->nblk / nt, s.nt = nt;
    return s;
}

static int64_t blk_lo(const nb__conv_geom *g, int64_t k) { return k * g->N / g->nblk; }

/* dst (O, ld) <- src (samples [n0, n1) of (N, O, P)), and its inverse (add: dst += ). */
static void gather(const float *src, int64_t O, int64_t P, int64_t n0, int64_t n1, float *dst,
                   int64_t ld) {
    for (int64_t n = n0; n < n1; n++)
        for (int64_t o = 0; o < O; o++)
            memcpy(dst + o * ld + (n - n0) * P, src + (n * O + o) * P, (size_t)P * sizeof(float));
}
static void scatter(const float *src, int64_t ld, int64_t O, int64_t P, int64_t n0, int64_t n1,
                    float *dst, int add) {
    for (int64_t n = n0; n < n1; n++)
        for (int64_t o = 0; o < O; o++) {
            const float *s = src + o * ld + (n - n0) * P;
            float *restrict d = dst + (n * O + o) * P;
            if (add)
                for (int64_t p = 0; p < P; p++) d[p] += s[p];
            else
                memcpy(d, s, (size_t)P * sizeof(float));
        }
}

/* rows (R, ld): row r = b[r] (beta 1 then adds the product onto the bias) or untouched. */
static float fill_bias(float *rows, int64_t R, int64_t len, int64_t ld, const float *b) {
    if (!b) return 0.0f;
    for (int64_t r = 0; r < R; r++)
        for (int64_t j = 0; j < len; j++) rows[r * ld + j] = b[r];
    return 1.0f;
}

/* gw += the thread partials in thread order, both threads over halves of gw. Called by every
 * thread of the region. */
static void reduce_parts(const ws_layout *L, float *ws, int64_t nt, float *gw, int64_t WN) {
#pragma omp barrier
#pragma omp for schedule(static)
    for (int64_t i = 0; i < WN; i++) {
        float acc = gw[i];
        for (int64_t k = 0; k < nt; k++) acc += ws[k * L->share + L->col + L->tmp + L->stage + i];
        gw[i] = acc;
    }
}

/* gb[c] += the sum of channel c of g (N, Ch, S), in 8 double lanes per channel. */
static void bias_grad(const float *gr, int64_t N, int64_t Ch, int64_t S, float *gb, int64_t T) {
#pragma omp parallel for num_threads(T) if (T > 1) schedule(static)
    for (int64_t c = 0; c < Ch; c++) {
        double acc[8] = {0};
        for (int64_t n = 0; n < N; n++) {
            const float *s = gr + (n * Ch + c) * S;
            int64_t p = 0;
            for (; p + 8 <= S; p += 8)
                for (int j = 0; j < 8; j++) acc[j] += (double)s[p + j];
            for (int j = 0; p < S; p++, j++) acc[j] += (double)s[p];
        }
        gb[c] += (float)(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
    }
}

/* One kernel call: its arguments, the planned geometry and the workspace layout. A worker runs
 * on every thread of the call (or alone when T = 1: outside any parallel region, so that
 * OpenBLAS may thread its GEMMs and takes no in-region path). */
typedef struct job {
    const nb__conv_geom *g;
    const ws_layout *L;
    const nb__conv_stage *st;
    const float *x, *w, *b, *gy;
    float *y, *gx, *gw, *ws;
    int full, pw, direct, direct_data; /* the direct kernels: forward/weight, input gradient */
    int gx_set;                        /* gx is overwritten, not added to (its contents unset) */
    int relu, wide, cl; /* the fused inference pass: relu before the pooling, the wide kernel, the channels-in-lanes one */
    int64_t *next;      /* blocks handed out one at a time from this counter; NULL: static shares */
} job;

/* A worker's blocks: its static share [k0, k1), or, where the call set j->next, blocks taken one
 * at a time from a shared counter. The latter serves passes whose blocks write disjoint outputs
 * and sum nothing across blocks (the forwards, an input gradient without the weight's), so any
 * thread may take any block with the same bits; a thread that wakes late (a sleeping OpenMP
 * thread takes 10-170 us to start on these VMs) then takes fewer blocks instead of finishing
 * last. Weight gradients keep the static shares: each thread's partial sums its own blocks. */
static int64_t take(int64_t *counter) {
    int64_t k;
#pragma omp atomic capture
    k = (*counter)++;
    return k;
}
static int64_t blk_first(const job *j, const share_t *s) { return j->next ? take(j->next) : s->k0; }
static int64_t blk_end(const job *j, const share_t *s) { return j->next ? j->g->nblk : s->k1; }
static int64_t blk_after(const job *j, int64_t k) { return j->next ? take(j->next) : k + 1; }
#define NB_BLOCKS(k, j, s) for (int64_t k = blk_first(j, s); k < blk_end(j, s); k = blk_after(j, k))

/* dynamic: a pass that may take its blocks one at a time (see above) does so when it has a team. */
static void run(void (*worker)(const job *), job *j, int dynamic) {
    int64_t next = 0;
    j->next = dynamic && j->g->T > 1 ? &next : NULL;
    if (j->g->T > 1) {
#pragma omp parallel num_threads(j->g->T)
        worker(j);
    } else {
        worker(j);
    }
    j->next = NULL;
}

static void job_init(job *j, const nb__conv_geom *g, const ws_layout *L, const nb__conv_stage *st,
                     float *ws) {
    memset(j, 0, sizeof *j);
    j->g = g, j->L = L, j->st = st, j->ws = ws;
    j->full = is_full(g);
    j->pw = is_pointwise(g);
    j->direct = !j->full && nb__conv_direct_ok(g);
    j->direct_data = !j->full && nb__conv_direct_data_ok(g);
}

#define NB_PLAN(g0)                                                                                \
    const nb__conv_geom gp_ = planned(g0), *g = &gp_;                                              \
    ws_layout L;                                                                                   \
    layout(g, &L);                                                                                 \
    nb__conv_stage st;                                                                             \
    nb__conv_stage_dims(g, &st)

/* ---- conv2d forward ------------------------------------------------------------------------ */

/* x (N, C, H, W), w, b -> y (N, O, P). */
static void fwd_worker(const job *j) {
    const nb__conv_geom *g = j->g;
    const share_t s = my_share(g, j->L, j->ws);
    const int64_t G = g->groups, Og = g->O / G, Kc = (g->C / G) * g->KH * g->KW;
    const int64_t P = g->OH * g->OW, CHW = g->C * g->H * g->W;
    const int64_t ldc = j->L->ldc;
    if (j->full) { /* y rows (n, O) = (b +) x rows (n, CHW) . w^T, per group */
        const int64_t r0 = blk_lo(g, s.k0), r1 = blk_lo(g, s.k1);
        float beta = 0.0f;
        if (j->b) {
            for (int64_t n = r0; n < r1; n++) memcpy(j->y + n * g->O, j->b, (size_t)g->O * sizeof(float));
            beta = 1.0f;
        }
        for (int64_t gi = 0; gi < G; gi++)
            nb__gemm(0, 1, r1 - r0, Og, Kc, 1.0f, j->x + r0 * CHW + gi * Kc, CHW, j->w + gi * Og * Kc,
                     Kc, beta, j->y + r0 * g->O + gi * Og, g->O);
        return;
    }
    NB_BLOCKS(k, j, &s) {
        const int64_t n0 = blk_lo(g, k), n1 = blk_lo(g, k + 1), nb = n1 - n0;
        if (j->direct) {
            nb__conv_direct_fwd(g, j->x, j->w, j->b, j->y, 0, n0, n1, s.stage);
            continue;
        }
        const float *col = j->x + n0 * CHW; /* pointwise: x itself, one sample */
        int64_t ld = P;
        if (!j->pw) {
            nb__im2col_block(g, j->st, j->x, n0, n1, s.col, ldc, s.stage);
            col = s.col, ld = ldc;
        }
        /* One sample writes y directly; a block goes through tmp and a scatter. */
        float *out = nb == 1 ? j->y + n0 * g->O * P : s.tmp;
        const int64_t ldo = nb * P;
        const float beta = fill_bias(out, g->O, ldo, ldo, j->b);
        for (int64_t gi = 0; gi < G; gi++)
            nb__gemm(0, 0, Og, ldo, Kc, 1.0f, j->w + gi * Og * Kc, Kc, col + gi * Kc * ld, ld, beta,
                     out + gi * Og * ldo, ldo);
        if (nb > 1) scatter(s.tmp, ldo, g->O, P, n0, n1, j->y, 0);
    }
}

void nb__conv2d_fwd(const nb__conv_geom *g0, const float *x, const float *w, const float *b,
                    float *y, float *ws) {
    NB_PLAN(g0);
    job j;
    job_init(&j, g, &L, &st, ws);
    j.x = x, j.w = w, j.b = b, j.y = y;
    run(fwd_worker, &j, !j.full);
}

/* ---- conv2d, relu and 2x2 max pooling, fused (inference) ---------------------------------- */

int nb__conv2d_pool_ok(const nb__conv_geom *g) {
    return !is_full(g) && !is_pointwise(g) && g->OH >= 2 && g->OW >= 2;
}

/* As fwd_worker, but each sample's output planes are pooled (after relu when asked) while they
 * are in the cache, into y (N, O, OH/2, OW/2): the direct kernel writes one sample into tmp, a
 * GEMM block its (O, nb*P) product, whose planes are the same values fwd_worker scatters.
 * Layers the direct kernel does not take run the channels-in-lanes kernel (conv_direct.c;
 * LeNet's second layer: no padding columns computed), else the wide one, else im2col + GEMM. */
#define NB_FUSED_CHUNK 4 /* samples */
static void fwd_pool_worker(const job *j) {
    const nb__conv_geom *g = j->g;
    const share_t s = my_share(g, j->L, j->ws);
    const int64_t G = g->groups, Og = g->O / G, Kc = (g->C / G) * g->KH * g->KW;
    const int64_t P = g->OH * g->OW, CHW = g->C * g->H * g->W, PP = (g->OH / 2) * (g->OW / 2);
    const int64_t ldc = j->L->ldc;
    const int relu = j->relu;
    if (j->cl || j->direct || j->wide) {
        /* Samples one by one, handed out in small chunks as the threads ask for them: on a
         * shared machine a thread that is descheduled for a while leaves its samples to the
         * other rather than holding up the end of the pass. Each sample's values do not depend
         * on the thread that computes it. */
        int prepared = 0;
        const int64_t dld = (g->OW + 7) / 8 * 8, wld = j->wide ? nb__conv_wide_ld(g) : 0;
#pragma omp for schedule(dynamic, NB_FUSED_CHUNK)
        for (int64_t n = 0; n < g->N; n++) {
            if (j->cl) {
                if (!prepared) nb__conv_cl_prepare(g, j->w, j->b, s.stage), prepared = 1;
                nb__conv_cl_pool_sample(g, j->x + n * CHW, j->y + n * g->O * PP, relu, s.tmp, s.stage);
            } else if (j->direct) { /* rows padded to whole vectors */
                nb__conv_direct_fwd_padded(g, j->x + n * CHW, j->w, j->b, s.tmp, s.stage);
                nb__relu_maxpool2x2_ld(s.tmp, j->y + n * g->O * PP, g->O, g->OH * dld, dld, g->OH, g->OW, relu);
            } else {
                nb__conv_wide_fwd(g, j->x + n * CHW, j->w, j->b, s.tmp, wld, s.stage,
                                  (n + 1) * CHW + 24 <= g->N * CHW);
                nb__relu_maxpool2x2_ld(s.tmp, j->y + n * g->O * PP, g->O, wld, g->W + 2 * g->PW, g->OH, g->OW,
                                       relu);
            }
        }
        return;
    }
    for (int64_t k = s.k0; k < s.k1; k++) {
        const int64_t n0 = blk_lo(g, k), n1 = blk_lo(g, k + 1), nb = n1 - n0;
        nb__im2col_block(g, j->st, j->x, n0, n1, s.col, ldc, s.stage);
        const int64_t ldo = nb * P;
        const float beta = fill_bias(s.tmp, g->O, ldo, ldo, j->b);
        for (int64_t gi = 0; gi < G; gi++)
            nb__gemm(0, 0, Og, ldo, Kc, 1.0f, j->w + gi * Og * Kc, Kc, s.col + gi * Kc * ldc, ldc, beta,
                     s.tmp + gi * Og * ldo, ldo);
        for (int64_t n = n0; n < n1; n++)
            for (int64_t o = 0; o < g->O; o++)
                nb__relu_maxpool2x2(s.tmp + o * ldo + (n - n0) * P, j->y + (n * g->O + o) * PP, 1, g->OH,
                                    g->OW, relu);
    }
}

void nb__conv2d_relu_pool_fwd(const nb__conv_geom *g0, const float *x, const float *w, const float *b,
                              float *y, int relu, float *ws) {
    NB_PLAN(g0);
    job j;
    job_init(&j, g, &L, &st, ws);
    j.x = x, j.w = w, j.b = b, j.y = y;
    j.relu = relu;
    j.cl = !j.direct && nb__conv_cl_ok(g);
    j.wide = !j.cl && !j.direct && nb__conv_wide_ok(g);
    run(fwd_pool_worker, &j, 0);
}

/* ---- conv2d backward ----------------------------------------------------------------------- */

/* Where a thread sums its weight gradient: gw itself, or with T > 1 its zeroed partial (and
 * the direct kernel's lane sums zeroed too). */
static float *wgt_target(const job *j, const share_t *s) {
    if (!j->gw) return NULL;
    const int64_t WN = j->g->O * (j->g->C / j->g->groups) * j->g->KH * j->g->KW;
    float *gwt = s->nt > 1 ? s->part : j->gw;
    if (s->nt > 1) memset(gwt, 0, (size_t)WN * sizeof(float));
    if (j->direct) memset(s->lanes, 0, (size_t)nb__conv_direct_lanes(j->g) * sizeof(float));
    return gwt;
}

/* The thread partials into gw, after every thread's blocks. */
static void wgt_finish(const job *j, const share_t *s, float *gwt) {
    if (!j->gw) return;
    if (j->direct) nb__conv_direct_lanes_add(j->g, s->lanes, gwt);
    if (s->nt > 1)
        reduce_parts(j->L, j->ws, s->nt, j->gw, j->g->O * (j->g->C / j->g->groups) * j->g->KH * j->g->KW);
}

/* Full case: gx rows += gy rows . w (through col, as the per-sample scheme's col then col2im);
 * gw += gy^T . x rows. */
static void bwd_full(const job *j, const share_t *s, float *gwt) {
    const nb__conv_geom *g = j->g;
    const int64_t G = g->groups, Og = g->O / G, Kc = (g->C / G) * g->KH * g->KW;
    const int64_t Kall = g->C * g->KH * g->KW; /* = C*H*W */
    if (j->gx)
        for (int64_t k = s->k0; k < s->k1; k++) {
            const int64_t n0 = blk_lo(g, k), n1 = blk_lo(g, k + 1), nb = n1 - n0;
            float *out = j->gx_set ? j->gx + n0 * Kall : s->col; /* set: the product is gx's rows */
            for (int64_t gi = 0; gi < G; gi++)
                nb__gemm(0, 0, nb, Kc, Og, 1.0f, j->gy + n0 * g->O + gi * Og, g->O, j->w + gi * Og * Kc,
                         Kc, 0.0f, out + gi * Kc, Kall);
            if (j->gx_set) continue;
            float *restrict d = j->gx + n0 * Kall;
            const float *t = s->col;
            for (int64_t i = 0; i < nb * Kall; i++) d[i] += t[i];
        }
    if (gwt) {
        const int64_t r0 = blk_lo(g, s->k0), r1 = blk_lo(g, s->k1);
        for (int64_t gi = 0; gi < G; gi++)
            nb__gemm(1, 0, Og, Kc, r1 - r0, 1.0f, j->gy + r0 * g->O + gi * Og, g->O,
                     j->x + r0 * Kall + gi * Kc, Kall, 1.0f, gwt + gi * Og * Kc, Kc);
    }
}

static void bwd_worker(const job *j) {
    const nb__conv_geom *g = j->g;
    const share_t s = my_share(g, j->L, j->ws);
    const int64_t G = g->groups, Cg = g->C / G, Og = g->O / G, Kc = Cg * g->KH * g->KW;
    const int64_t P = g->OH * g->OW, HW = g->H * g->W, CHW = g->C * HW;
    const int64_t ldc = j->L->ldc;
    float *gwt = wgt_target(j, &s);
    if (j->full) {
        bwd_full(j, &s, gwt);
    } else {
        NB_BLOCKS(k, j, &s) {
            const int64_t n0 = blk_lo(g, k), n1 = blk_lo(g, k + 1), nb = n1 - n0;
            const float *gyb = j->gy + n0 * g->O * P; /* (O, nb*P) */
            const int64_t ldg = nb * P;
            if (nb > 1 && ((j->gx && !j->direct_data) || (gwt && !j->direct))) {
                gather(j->gy, g->O, P, n0, n1, s.tmp, ldg);
                gyb = s.tmp;
            }
            if (j->gx && j->direct_data) {
                nb__conv_direct_data(g, j->w, j->gy, j->gx, NULL, !j->gx_set, n0, n1, s.stage);
            } else if (j->gx && j->pw) { /* col_g is gx_g itself: accumulate straight into it */
                for (int64_t gi = 0; gi < G; gi++)
                    nb__gemm(1, 0, Kc, P, Og, 1.0f, j->w + gi * Og * Kc, Kc, gyb + gi * Og * P, P,
                             j->gx_set ? 0.0f : 1.0f, j->gx + n0 * CHW + gi * Cg * HW, P);
            } else if (j->gx) {
                for (int64_t gi = 0; gi < G; gi++)
                    nb__gemm(1, 0, Kc, ldg, Og, 1.0f, j->w + gi * Og * Kc, Kc, gyb + gi * Og * ldg, ldg,
                             0.0f, s.col + gi * Kc * ldc, ldc);
                nb__col2im_block(g, j->st, s.col, ldc, n0, n1, j->gx, NULL, j->gx_set, s.stage);
            }
            if (gwt && j->direct) {
                nb__conv_direct_wgt(g, j->x, j->gy, s.lanes, n0, n1, s.stage);
            } else if (gwt) {
                const float *col = j->x + n0 * CHW; /* pointwise: x itself */
                int64_t ld = P;
                if (!j->pw) {
                    nb__im2col_block(g, j->st, j->x, n0, n1, s.col, ldc, s.stage);
                    col = s.col, ld = ldc;
                }
                for (int64_t gi = 0; gi < G; gi++)
                    nb__gemm(0, 1, Og, Kc, ldg, 1.0f, gyb + gi * Og * ldg, ldg, col + gi * Kc * ld, ld, 1.0f,
                             gwt + gi * Og * Kc, Kc);
            }
        }
    }
    wgt_finish(j, &s, gwt);
}

void nb__conv2d_bwd(const nb__conv_geom *g0, const float *x, const float *w, const float *gy,
                    float *gx, int gx_set, float *gw, float *gb, float *ws) {
    NB_PLAN(g0);
    if (gx || gw) {
        job j;
        job_init(&j, g, &L, &st, ws);
        j.x = x, j.w = w, j.gy = gy, j.gx = gx, j.gw = gw;
        j.gx_set = gx_set;
        run(bwd_worker, &j, !gw && !j.full);
    }
    if (gb) bias_grad(gy, g->N, g->O, g->OH * g->OW, gb, g->T);
}

void nb__conv2d_bwd_data(const nb__conv_geom *g, const float *w, const float *gy, float *gx,
                         float *ws) {
    nb__conv2d_bwd(g, NULL, w, gy, gx, 0, NULL, NULL, ws);
}

void nb__conv2d_bwd_weight(const nb__conv_geom *g, const float *x, const float *gy, float *gw,
                           float *gb, float *ws) {
    nb__conv2d_bwd(g, x, NULL, gy, NULL, 0, gw, gb, ws);
}

/* ---- conv_transpose2d ---------------------------------------------------------------------- */

/* x (N, O, OH, OW) -> y (N, C, H, W) = the conv2d input gradient of x, + b. */
static void tfwd_worker(const job *j) {
    const nb__conv_geom *g = j->g;
    const share_t s = my_share(g, j->L, j->ws);
    const int64_t G = g->groups, Cg = g->C / G, Og = g->O / G, Kc = Cg * g->KH * g->KW;
    const int64_t P = g->OH * g->OW, HW = g->H * g->W, CHW = g->C * HW, KK = g->KH * g->KW;
    const int64_t ldc = j->L->ldc;
    const float *x = j->x, *w = j->w, *b = j->b;
    float *y = j->y;
    NB_BLOCKS(k, j, &s) {
        const int64_t n0 = blk_lo(g, k), n1 = blk_lo(g, k + 1), nb = n1 - n0;
        if (j->full) { /* y rows = (0 + x rows . w) + b, as the per-sample col2im then bias */
            for (int64_t gi = 0; gi < G; gi++)
                nb__gemm(0, 0, nb, Kc, Og, 1.0f, x + n0 * g->O + gi * Og, g->O, w + gi * Og * Kc, Kc, 0.0f,
                         y + n0 * CHW + gi * Kc, CHW);
            if (b)
                for (int64_t n = n0; n < n1; n++)
                    for (int64_t c = 0; c < g->C; c++)
                        for (int64_t i = 0; i < KK; i++) y[n * CHW + c * KK + i] += b[c];
            continue;
        }
        if (j->direct_data) { /* y = the direct input gradient of x + b */
            nb__conv_direct_data(g, w, x, y, b, 0, n0, n1, s.stage);
            continue;
        }
        const float *xb = x + n0 * g->O * P; /* (O, nb*P) */
        const int64_t ldx = nb * P;
        if (nb > 1) {
            gather(x, g->O, P, n0, n1, s.tmp, ldx);
            xb = s.tmp;
        }
        if (j->pw) { /* one sample: y = 0, += w^T x, + b */
            float *yn = y + n0 * CHW;
            memset(yn, 0, (size_t)CHW * sizeof(float));
            for (int64_t gi = 0; gi < G; gi++)
                nb__gemm(1, 0, Kc, P, Og, 1.0f, w + gi * Og * Kc, Kc, xb + gi * Og * P, P, 1.0f,
                         yn + gi * Cg * HW, P);
            if (b)
                for (int64_t c = 0; c < g->C; c++)
                    for (int64_t i = 0; i < HW; i++) yn[c * HW + i] += b[c];
            continue;
        }
        for (int64_t gi = 0; gi < G; gi++)
            nb__gemm(1, 0, Kc, ldx, Og, 1.0f, w + gi * Og * Kc, Kc, xb + gi * Og * ldx, ldx, 0.0f,
                     s.col + gi * Kc * ldc, ldc);
        nb__col2im_block(g, j->st, s.col, ldc, n0, n1, y, b, 1, s.stage);
    }
}

void nb__conv_transpose2d_fwd(const nb__conv_geom *g0, const float *x, const float *w,
                              const float *b, float *y, float *ws) {
    NB_PLAN(g0);
    job j;
    job_init(&j, g, &L, &st, ws);
    j.x = x, j.w = w, j.b = b, j.y = y;
    run(tfwd_worker, &j, 1);
}

/* The conv's input is gy (N, C, H, W): gx (N, O, OH, OW) += conv2d(gy, w); gw += the weight
 * gradient with x in gy's role; one im2col of gy per block serves both. */
static void tbwd_worker(const job *j) {
    const nb__conv_geom *g = j->g;
    const share_t s = my_share(g, j->L, j->ws);
    const int64_t G = g->groups, Og = g->O / G, Kc = (g->C / G) * g->KH * g->KW;
    const int64_t P = g->OH * g->OW, CHW = g->C * g->H * g->W, ldc = j->L->ldc;
    const float *x = j->x, *w = j->w, *gy = j->gy;
    float *gwt = wgt_target(j, &s);
    NB_BLOCKS(k, j, &s) {
        const int64_t n0 = blk_lo(g, k), n1 = blk_lo(g, k + 1), nb = n1 - n0;
        if (j->full) { /* gy's rows are col^T */
            if (j->gx) {
                float *out = j->gx_set ? j->gx + n0 * g->O : s.tmp; /* set: the product is gx's rows */
                for (int64_t gi = 0; gi < G; gi++)
                    nb__gemm(0, 1, nb, Og, Kc, 1.0f, gy + n0 * CHW + gi * Kc, CHW, w + gi * Og * Kc, Kc,
                             0.0f, out + gi * Og, g->O);
                float *restrict d = j->gx + n0 * g->O;
                if (!j->gx_set)
                    for (int64_t i = 0; i < nb * g->O; i++) d[i] += s.tmp[i];
            }
            if (gwt)
                for (int64_t gi = 0; gi < G; gi++)
                    nb__gemm(1, 0, Og, Kc, nb, 1.0f, x + n0 * g->O + gi * Og, g->O, gy + n0 * CHW + gi * Kc,
                             CHW, 1.0f, gwt + gi * Og * Kc, Kc);
            continue;
        }
        if (j->direct) { /* the direct conv2d forward of gy, and its weight gradient */
            if (j->gx) nb__conv_direct_fwd(g, gy, w, NULL, j->gx, !j->gx_set, n0, n1, s.stage);
            if (gwt) nb__conv_direct_wgt(g, gy, x, s.lanes, n0, n1, s.stage);
            continue;
        }
        const float *col = gy + n0 * CHW; /* pointwise: gy itself */
        int64_t ld = P;
        if (!j->pw) {
            nb__im2col_block(g, j->st, gy, n0, n1, s.col, ldc, s.stage);
            col = s.col, ld = ldc;
        }
        const int64_t ldo = nb * P;
        if (j->gx) { /* gx += w . col, through tmp as a forward pass then an add (set, one sample: gx itself) */
            float *out = j->gx_set && nb == 1 ? j->gx + n0 * g->O * P : s.tmp;
            for (int64_t gi = 0; gi < G; gi++)
                nb__gemm(0, 0, Og, ldo, Kc, 1.0f, w + gi * Og * Kc, Kc, col + gi * Kc * ld, ld, 0.0f,
                         out + gi * Og * ldo, ldo);
            if (out == s.tmp) scatter(s.tmp, ldo, g->O, P, n0, n1, j->gx, !j->gx_set);
        }
        if (gwt) { /* gw += x_g (Og, nb*P) . col_g^T */
            const float *xb = x + n0 * g->O * P;
            if (nb > 1) {
                gather(x, g->O, P, n0, n1, s.tmp, ldo);
                xb = s.tmp;
            }
            for (int64_t gi = 0; gi < G; gi++)
                nb__gemm(0, 1, Og, Kc, ldo, 1.0f, xb + gi * Og * ldo, ldo, col + gi * Kc * ld, ld, 1.0f,
                         gwt + gi * Og * Kc, Kc);
        }
    }
    wgt_finish(j, &s, gwt);
}

void nb__conv_transpose2d_bwd(const nb__conv_geom *g0, const float *x, const float *w,
                              const float *gy, float *gx, int gx_set, float *gw, float *gb, float *ws) {
    NB_PLAN(g0);
    if (gx || gw) {
        job j;
        job_init(&j, g, &L, &st, ws);
        j.x = x, j.w = w, j.gy = gy, j.gx = gx, j.gw = gw;
        j.gx_set = gx_set;
        run(tbwd_worker, &j, !gw);
    }
    if (gb) bias_grad(gy, g->N, g->C, g->H * g->W, gb, g->T);
}
