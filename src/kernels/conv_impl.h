/* nabla: internals shared by the convolution kernels (conv.c drives them; im2col.c lowers
 * samples to columns and back; conv_direct.c computes small-channel forwards and gradients
 * without columns; conv_infer.c the fused inference pass's wide and channels-in-lanes forwards).
 * Geometry names as in kernels.h; P = OH*OW; Kall = C*KH*KW (the rows of a column buffer). */
#ifndef NB_CONV_IMPL_H
#define NB_CONV_IMPL_H

#include "kernels/kernels.h"

/* The fast im2col/col2im read and write one sample's input through a staging plane that makes
 * every row segment of a column buffer one contiguous run: the input padded with zeros
 * (C, Hs = H + 2*PH, W + 2*PW) and split by column phase for strided convolutions, as
 * (C, Hs, SW, Wq = ceil((W + 2*PW) / SW)): element (c, i, j) of the padded input sits at
 * c*cs + i*rs + (j % SW)*ps + j / SW. Without padding and with SW = 1 the input itself is the
 * plane (staged = 0; no copy). */
typedef struct nb__conv_stage {
    int staged;
    int64_t cs, rs, ps; /* channel, row and phase strides of the plane */
    int64_t floats;     /* floats of the staging buffer (0 when not staged) */
} nb__conv_stage;

void nb__conv_stage_dims(const nb__conv_geom *g, nb__conv_stage *s);

/* Floats of slack after each row of a column buffer and after a staging plane: the runs are
 * moved in vectors of 8 and may write (and read) up to 7 floats past their end. */
#define NB_COL_SLACK 8

/* im2col of samples [n0, n1) of x (N, C, H, W) into col (Kall rows of stride ld; sample n at
 * columns (n - n0)*P ...): col[r*ld + (n - n0)*P + p]. ld >= (n1 - n0)*P + NB_COL_SLACK.
 * stage: s->floats + NB_COL_SLACK floats. */
void nb__im2col_block(const nb__conv_geom *g, const nb__conv_stage *s, const float *x, int64_t n0,
                      int64_t n1, float *col, int64_t ld, float *stage);
/* col2im of the same layout into samples [n0, n1) of x: x += the scatter of col, or, with
 * overwrite, x = the scatter + bias[c] (bias may then be NULL). Each element's contributions
 * are added in the order (c, kh, kw, oh), as nb__col2im. */
void nb__col2im_block(const nb__conv_geom *g, const nb__conv_stage *s, const float *col,
                      int64_t ld, int64_t n0, int64_t n1, float *x, const float *bias,
                      int overwrite, float *stage);

/* The direct kernels (conv_direct.c): for few input channels, where an im2col buffer would
 * cost more than the products it feeds. nb__conv_direct_ok says whether g's forward and weight
 * gradient take them, nb__conv_direct_data_ok whether its input gradient does (stride 1, few
 * channels); their staging buffer is nb__conv_direct_stage(g) floats (0: neither).
 * Forward: y (N, O, OH, OW) = conv(x, w) + b, or with add, y += conv(x, w), for samples
 * [n0, n1).
 * Input gradient: gx (N, C, H, W) = the gradient from gy + b[c], or with add, gx += it.
 * Weight gradient: lanes (O*Kc, 8 lanes; nb__conv_direct_lanes(g) floats, zeroed by the
 * caller) += the products of samples [n0, n1); nb__conv_direct_lanes_add then adds each
 * element's 8 lanes into gw (O, C, KH, KW). */
/* The direct forward of one sample xn into out (O, OH, ceil8(OW)) (the fused inference pass;
 * the columns from OW on may be left unwritten: the pooling uses them in lanes it drops). */
void nb__conv_direct_fwd_padded(const nb__conv_geom *g, const float *xn, const float *w, const float *b,
                                float *out, float *stage);
/* The wide direct forward (inference, conv.c's fused pass): unit strides, groups 1, four or
 * more output channels. out (O, ldo), ldo >= nb__conv_wide_ld(g): channel o's output row oh at
 * out + o*ldo + oh*(W + 2*PW), OW values; stage: nb__conv_wide_stage(g) floats. With in_place
 * and no padding, xn is read where it is, and up to 24 floats past its end: the caller says
 * that they are readable (another sample follows). */
int nb__conv_wide_ok(const nb__conv_geom *g);
int64_t nb__conv_wide_ld(const nb__conv_geom *g);
int64_t nb__conv_wide_stage(const nb__conv_geom *g);
void nb__conv_wide_fwd(const nb__conv_geom *g, const float *xn, const float *w, const float *b, float *out,
                       int64_t ldo, float *stage, int in_place);
/* The channels-in-lanes forward with relu and 2x2 max pooling (inference, conv.c's fused
 * pass): groups 1, SW 1, output channels filling 3/4 of 8-lane vectors. Per thread
 * nb__conv_cl_prepare(stage) once, then per sample y (O, OH/2, OW/2); tmp nb__conv_cl_tmp(g)
 * floats, stage nb__conv_cl_stage(g). */
int nb__conv_cl_ok(const nb__conv_geom *g);
int64_t nb__conv_cl_stage(const nb__conv_geom *g);
int64_t nb__conv_cl_tmp(const nb__conv_geom *g);
void nb__conv_cl_prepare(const nb__conv_geom *g, const float *w, const float *b, float *stage);
void nb__conv_cl_pool_sample(const nb__conv_geom *g, const float *xn, float *yn, int relu, float *tmp,
                             float *stage);
int nb__conv_direct_ok(const nb__conv_geom *g);
int nb__conv_direct_data_ok(const nb__conv_geom *g);
int64_t nb__conv_direct_stage(const nb__conv_geom *g);
int64_t nb__conv_direct_lanes(const nb__conv_geom *g);
void nb__conv_direct_fwd(const nb__conv_geom *g, const float *x, const float *w, const float *b,
                         float *y, int add, int64_t n0, int64_t n1, float *stage);
void nb__conv_direct_data(const nb__conv_geom *g, const float *w, const float *gy, float *gx,
                          const float *b, int add, int64_t n0, int64_t n1, float *stage);
void nb__conv_direct_wgt(const nb__conv_geom *g, const float *x, const float *gy, float *lanes,
                         int64_t n0, int64_t n1, float *stage);
void nb__conv_direct_lanes_add(const nb__conv_geom *g, const float *lanes, float *gw);
/* The forward and input gradient's kernel: 2 with 16-float vectors where the CPU has AVX-512,
 * else 1 (8-float vectors, cloned per ISA); both give the same bits. For tests: forces at most
 * `isa` (0: the best here) and returns the one that now runs. */
int nb__conv_direct_isa(int isa);

#endif
