/* nabla: compute kernels on plain float arrays. No autodiff, no tensors, no errors:
 * callers (src/ops/) have checked every shape before calling. Each optimized kernel keeps a
 * naive twin (suffix _naive) that tests compare it with on odd sizes.
 *
 * Conventions: row-major, contiguous buffers; shapes in comments use N batch, C channels,
 * H, W spatial, K classes. "+=" kernels accumulate into their output (backward passes);
 * the others overwrite it.
 *
 * This header is the seam where another backend (CUDA) can be added: only src/ops/ calls it. */
#ifndef NB_KERNELS_H
#define NB_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nabla/nabla.h" /* nb_cell */

/* Kernel loops compiled for AVX-512 and AVX2+FMA besides the portable baseline, picked at load
 * time (GCC's function multi-versioning); other compilers build the baseline. A loop that only
 * moves, adds or multiplies floats one by one gives the same bits in every clone (C11 mode
 * contracts nothing into FMAs); one with explicit FMAs says so. (src/internal.h has the same
 * attribute as NB__CLONES for the ops layer, which does not include this header's kernels.) */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NB_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NB_CLONES
#endif

/* ---- GEMM (gemm.c) ------------------------------------------------------------------------ */
/* C(M,N) = alpha * op(A) op(B) + beta * C, op(X) = X or X^T. lda/ldb/ldc are row strides of the
 * stored (untransposed) matrices, as in CBLAS row-major. */
void nb__gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
              int64_t ldc);
/* nb__gemm's threading, for callers that run several products in one parallel region:
 * nb__gemm_team is how many threads nb__gemm gives an (M, N, K) product here (1 inside a
 * parallel region, for small products, or at one thread); nb__gemm_block computes thread t's
 * block of the product as nb__gemm's split over T threads does (the same bits), on the calling
 * thread alone, which must be inside a region or have OpenBLAS set to one thread with
 * nb__gemm_blas_threads(1) (and back to nb__threads() after). It returns true when the blocks
 * are rows of C, false when columns, and the block in [*lo, *hi) (empty for some t). */
int nb__gemm_team(int64_t M, int64_t N, int64_t K);
bool nb__gemm_block(int T, int t, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                    float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float beta, float *C, int64_t ldc, int64_t *lo, int64_t *hi);
void nb__gemm_blas_threads(int n);
/* Independent products (no one's C is another's A or B) as nb__gemm would compute each alone,
 * the same bits, in one parallel region where nb__gemm would open one per product: each large
 * product split into its blocks, each small one (nb__gemm_team 1) whole on one thread. */
typedef struct {
    int ta, tb;
    int64_t M, N, K;
    float alpha;
    const float *A;
    int64_t lda;
    const float *B;
    int64_t ldb;
    float beta;
    float *C;
    int64_t ldc;
} nb__gemm_job;
void nb__gemm_jobs(const nb__gemm_job *job, int n);
/* OpenBLAS takes its work buffers at its first product on each thread and, when memory is
 * short then, retries forever instead of failing. One small product on every thread, made early
 * (when a model is bound), takes them while memory is plentiful, so that a later shortage falls
 * on nabla's own allocations, which report it. Once per process; later calls return at once. */
void nb__gemm_warm_up(void);
void nb__gemm_naive(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                    float *C, int64_t ldc);

/* ---- 2-D convolution (conv.c, im2col.c, conv_direct.c, conv_naive.c) ------------------------ */
/* Geometry of y = conv2d(x, w, b):
 *   x (N, C, H, W), w (O, C/groups, KH, KW), b (O) or NULL, y (N, O, OH, OW),
 *   OH = (H + 2*PH - DH*(KH-1) - 1) / SH + 1, same for OW. Padding is zeros.
 * conv_transpose2d reuses this geometry with the roles of x and y swapped (see ops/conv.c). */
typedef struct nb__conv_geom {
    int64_t N, C, H, W;   /* input */
    int64_t O, KH, KW;    /* output channels, kernel size */
    int64_t SH, SW, PH, PW, DH, DW, groups;
    int64_t OH, OW;       /* output size, filled by nb__conv_geom_finish */
    int64_t T, nblk;      /* the kernels' plan, filled by nb__conv_plan (T = 0: not planned) */
} nb__conv_geom;

/* Computes OH, OW; returns 0, or -1 when the output would be empty (caller reports the error). */
int nb__conv_geom_finish(nb__conv_geom *g);
/* Plans the kernels for the current thread setting (conv.c): T threads that blocks of samples
 * are split over, nblk blocks. Make it where the workspace is sized (the op's shape step) so
 * that the forward and the backward use one plan; a kernel given an unplanned geometry plans a
 * copy at its call. */
void nb__conv_plan(nb__conv_geom *g);
/* Floats a block's im2col buffer aims at (tests and benchmarks; <= 0: the default). */
void nb__conv_set_block(int64_t floats);
/* Floats of scratch space the fast kernels below need for g's plan (per thread: a block's
 * im2col buffer, a gathered gradient, a staging plane, a weight-gradient partial). Never 0. The
 * kernels do not expect its contents to survive between calls. */
size_t nb__conv_workspace(const nb__conv_geom *g);

/* im2col for one sample and one channel range: x (C, H, W) -> col (C*KH*KW, OH*OW). The plain
 * per-row version, the reference of the kernels' block version (im2col.c). */
void nb__im2col(const nb__conv_geom *g, const float *x, int64_t C, float *col);
/* col2im, accumulating: x (C, H, W) += scatter of col (C*KH*KW, OH*OW). */
void nb__col2im(const nb__conv_geom *g, const float *col, int64_t C, float *x);

/* Inference: y (N, O, OH/2, OW/2) = 2x2 stride-2 max pooling of relu (when relu is set) of
 * conv(x, w) + b, each sample's planes pooled while in the cache; the same values as the
 * three passes, bit for bit. Taken where nb__conv2d_pool_ok (not a 1x1-output or pointwise
 * conv; outputs of 2x2 or more). ws: nb__conv_workspace(g) floats. */
int nb__conv2d_pool_ok(const nb__conv_geom *g);
void nb__conv2d_relu_pool_fwd(const nb__conv_geom *g, const float *x, const float *w, const float *b,
                              float *y, int relu, float *ws);
/* y = conv(x, w) + b (overwrites y). ws: nb__conv_workspace(g) floats. */
void nb__conv2d_fwd(const nb__conv_geom *g, const float *x, const float *w, const float *b,
                    float *y, float *ws);
/* The backward from gy (N, O, OH, OW), each output optional (NULL: not wanted):
 * gx += input gradient (gx_set: gx = it, gx's contents never read), gw += weight gradient,
 * gb += bias gradient. x may be NULL when gw is, w when gx is. One pass over the blocks serves
 * gx and gw (the gathered gy is shared). gx_set gives the same values as adding to zeros. */
void nb__conv2d_bwd(const nb__conv_geom *g, const float *x, const float *w, const float *gy,
                    float *gx, int gx_set, float *gw, float *gb, float *ws);
/* gx += conv2d input gradient from gy (N, O, OH, OW). */
void nb__conv2d_bwd_data(const nb__conv_geom *g, const float *w, const float *gy, float *gx,
                         float *ws);
/* gw += weight gradient, gb += bias gradient (gb may be NULL). */
void nb__conv2d_bwd_weight(const nb__conv_geom *g, const float *x, const float *gy, float *gw,
                           float *gb, float *ws);
/* conv_transpose2d, with g the geometry of the equivalent conv2d (whose input is the
 * transpose's output): x (N, O, OH, OW), w (O, C/groups, KH, KW), b (C) or NULL,
 * y (N, C, H, W) = the conv2d input gradient of x, + b (overwrites y). */
void nb__conv_transpose2d_fwd(const nb__conv_geom *g, const float *x, const float *w,
                              const float *b, float *y, float *ws);
/* Its backward from gy (N, C, H, W): gx += conv2d(gy, w) (no bias; gx_set: gx = it), gw += the
 * conv2d weight gradient with x and gy in each other's roles, gb += per-channel sums of gy; each
 * optional. */
void nb__conv_transpose2d_bwd(const nb__conv_geom *g, const float *x, const float *w,
                              const float *gy, float *gx, int gx_set, float *gw, float *gb, float *ws);
/* Naive twins (conv_naive.c): direct loops, same contracts, no workspace. */
void nb__conv2d_fwd_naive(const nb__conv_geom *g, const float *x, const float *w,
                          const float *b, float *y);
void nb__conv2d_bwd_data_naive(const nb__conv_geom *g, const float *w, const float *gy,
                               float *gx);
void nb__conv2d_bwd_weight_naive(const nb__conv_geom *g, const float *x, const float *gy,
                                 float *gw, float *gb);
void nb__conv_transpose2d_fwd_naive(const nb__conv_geom *g, const float *x, const float *w,
                                    const float *b, float *y);
void nb__conv_transpose2d_bwd_naive(const nb__conv_geom *g, const float *x, const float *w,
                                    const float *gy, float *gx, float *gw, float *gb);

/* ---- 2-D pooling (pool.c) ----------------------------------------------------------------- */
/* x (N, C, H, W) -> y (N, C, OH, OW) with the conv geometry above (O = C, groups unused,
 * DH = DW = 1 for average pooling). Max pooling pads with -inf and records in idx the flat
 * index (h*W + w) within the input plane of each maximum (the first one on ties), as PyTorch.
 * Average pooling counts padded zeros in the divisor (PyTorch's count_include_pad=True).
 * idx may be NULL (inference: no indices written). */
void nb__maxpool2d_fwd(const nb__conv_geom *g, const float *x, float *y, int64_t *idx);
/* relu (when relu is set) then 2x2 stride-2 max pooling of planes (H, W) -> (H/2, W/2), no
 * indices: the values of relu then nb__maxpool2d_fwd, bit for bit (the fused inference path). */
void nb__relu_maxpool2x2(const float *x, float *y, int64_t planes, int64_t H, int64_t W, int relu);
/* The same with planes xs floats apart and rows ldx apart (H x W of each used), 16 floats
 * readable from the start of every row used (the values past W are not used). */
void nb__relu_maxpool2x2_ld(const float *x, float *y, int64_t planes, int64_t xs, int64_t ldx, int64_t H,
                            int64_t W, int relu);
void nb__maxpool2d_bwd(const nb__conv_geom *g, const float *gy, const int64_t *idx, float *gx);
/* 2x2 windows, stride 2, no padding: gx = the backward's contribution, stored (every element
 * written: gy at each window's maximum, +0 elsewhere), the bits of nb__maxpool2d_bwd into a
 * zeroed gx. */
void nb__maxpool2x2_bwd_store(const nb__conv_geom *g, const float *gy, const int64_t *idx, float *gx);
void nb__avgpool2d_fwd(const nb__conv_geom *g, const float *x, float *y);
void nb__avgpool2d_bwd(const nb__conv_geom *g, const float *gy, float *gx);

/* ---- softmax over the middle axis of (outer, K, inner) (softmax.c) ------------------------ */
void nb__softmax_fwd(const float *x, float *y, int64_t outer, int64_t K, int64_t inner, int log);
/* gx += backward of softmax (log=0) or log_softmax (log=1) given its output y and gy. */
void nb__softmax_bwd(const float *y, const float *gy, float *gx, int64_t outer, int64_t K,
                     int64_t inner, int log);
void nb__softmax_fwd_naive(const float *x, float *y, int64_t outer, int64_t K, int64_t inner,
                           int log);

/* ---- batch normalization over axis 1 of x (N, C, S), S = H*W or 1 (norm.c) ----------------- */
/* mean[c] and the biased variance var[c] (C each) of the N*S values of channel c. */
void nb__bn_stats(const float *x, int64_t N, int64_t C, int64_t S, double *mean, double *var);
/* y = (x - mean[c] - mean_lo[c]) * invstd[c] * gamma[c] + beta[c] (overwrites y). mean_lo is
 * the low part of a mean held in two floats (see norm.c); mean_lo, gamma, beta may be NULL
 * (0, 1 and 0). All per-channel arrays are (C). */
void nb__bn_fwd(const float *x, float *y, int64_t N, int64_t C, int64_t S, const float *mean,
                const float *mean_lo, const float *invstd, const float *gamma, const float *beta);
/* Backward given gy (N, C, S): ggamma += sum gy * xhat, gbeta += sum gy, and gx += the input
 * gradient (gx_set: gx = it, its contents never read): with the batch statistics (training: mean
 * and invstd were computed from x) or through a fixed affine map (training = 0). gx, ggamma,
 * gbeta may each be NULL. */
void nb__bn_bwd(const float *x, const float *gy, int64_t N, int64_t C, int64_t S,
                const float *mean, const float *mean_lo, const float *invstd, const float *gamma,
                int training, float *gx, int gx_set, float *ggamma, float *gbeta);

/* ---- recurrences (rnn.c): RNN, GRU, LSTM over whole sequences, batch-first -------------------- */
typedef struct nb__rnn_dims {
    int64_t N, T, H, G;  /* G gates: 1 (RNN), 3 (GRU), 4 (LSTM) */
    nb_cell cell;
    bool reverse;        /* steps T-1..0 */
    const int64_t *len;  /* (N) real lengths in 1..T, or NULL: all T */
} nb__rnn_dims;
/* Forward: h (N,T,H), c (LSTM, N,T,H), save (T,N,4H, step-major; NULL for RNN) written; scratch N*G*H.
 * bi, bh: b_ih and b_hh (G*H), never NULL (zeros for none). */
void nb__rnn_forward(const nb__rnn_dims *d, const float *xp, const float *w, const float *bi, const float *bh,
                     const float *h0,
                     const float *c0, float *h, float *c, float *save, float *scratch, int threads);
/* Backward from gh (N,T,H) and gc (LSTM, or NULL): writes dxp (N,T,G*H: the gradient of the
 * input projection), dgh (N,T,G*H: of the recurrent pre-activation h W^T + b; the same buffer as
 * dxp except for the GRU), dh0 and dc0 (N,H). scratch 3*N*H floats. */
void nb__rnn_backward(const nb__rnn_dims *d, const float *w, const float *h0, const float *c0, const float *h,
                      const float *c, const float *save, const float *gh, const float *gc, float *dxp, float *dgh,
                      float *dh0, float *dc0, float *scratch, int threads);
/* The recurrences' per-step product, for tests: C (M, N) = [C +] A (M, K) op(B), op(B) = B^T
 * (B stored (N, K)) when trans, else B (K, N), with W packed as the recurrences pack it and the
 * kernel `isa` (1 AVX2+FMA, 2 AVX-512), each element one FMA chain over k in order. False when
 * that kernel is not built or not supported here (or out of memory). */
bool nb__rnn_packed_gemm(int isa, bool trans, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                         const float *B, float *C, int64_t ldc, bool acc);
/* prev (N,T,H): the state each step started from (s0 or s at the step before). */
void nb__rnn_prev_states(const nb__rnn_dims *d, const float *s0, const float *s, float *prev);

/* ---- transformer kernels (issue 12): layer norm (layer_norm.c), fused attention (attention.c) -- */
/* Layer norm over the last axis of x (R, D): per row, mean and biased variance; the mean is kept
 * as mean + mean_lo (two floats, see norm.c) and rstd = 1/sqrt(var + eps), all (R).
 * y = ((x - mean) - mean_lo) * rstd * gamma + beta, gamma and beta (D) both given or both NULL. */
void nb__ln_fwd(const float *x, float *y, int64_t R, int64_t D, float eps, const float *gamma,
                const float *beta, float *mean, float *mean_lo, float *rstd);
/* Doubles of scratch nb__ln_bwd needs for (R, D) (never 0). */
size_t nb__ln_workspace(int64_t R, int64_t D);
/* Backward from gy (R, D): gx += input gradient, ggamma += sum over rows of gy * xhat,
 * gbeta += sum of gy; each may be NULL; gamma NULL means ones. ws: nb__ln_workspace doubles. */
void nb__ln_bwd(const float *x, const float *gy, int64_t R, int64_t D, const float *mean,
                const float *mean_lo, const float *rstd, const float *gamma, float *gx,
                float *ggamma, float *gbeta, double *ws);

/* Scaled dot-product attention over B = N*H independent blocks: q (B, Tq, Dh), k and v
 * (B, Tk, Dh), out (B, Tq, Dh) = softmax(scale * q k^T + mask) v per block. Query row i of a
 * block of sample n = b / H sees the keys j < lim(i) = min(len[n], causal ? i + 1 : Tk) (always
 * at least 1); the other probabilities are exactly 0, and keys j >= len[n] are never read. */
typedef struct nb__attn_dims {
    int64_t B, H, Tq, Tk, Dh;
    float scale;
    bool causal;
    const int64_t *len;  /* (N) in 1..Tk, or NULL: all Tk */
    const uint8_t *keep; /* (B, Tq, Tk) dropout mask, 1 = kept (scaled by keep_scale), or NULL */
    float keep_scale;    /* 1 / (1 - p) */
    int threads;         /* OpenMP threads over the blocks (1: serial, BLAS may thread) */
    unsigned store;      /* backward: bit 0, 1, 2 set: gq, gk, gv hold nothing yet (unset, not even
                          * zeros) and are written (=), padded keys' rows zeroed, not added to */
} nb__attn_dims;
/* Floats of scratch each call needs: 2 * Tq * Tk per thread (never 0). */
size_t nb__attn_workspace(const nb__attn_dims *d);
/* Forward: out written; p (B, Tq, Tk) the softmax probabilities before dropout, kept for the
 * backward, or NULL (no backward: a per-thread scratch row block is used instead). */
void nb__attn_fwd(const nb__attn_dims *d, const float *q, const float *k, const float *v, float *p,
                  float *out, float *ws);
/* Backward from gout (B, Tq, Dh) with the forward's p: gq, gk, gv += the gradients (each may
 * be NULL; = for those flagged in d->store). */
void nb__attn_bwd(const nb__attn_dims *d, const float *q, const float *k, const float *v,
                  const float *p, const float *gout, float *gq, float *gk, float *gv, float *ws);

#endif
