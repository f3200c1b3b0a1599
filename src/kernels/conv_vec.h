/* nabla: what the vector convolution kernels share (conv_direct.c, conv_infer.c): the 8-float
 * vector type, the inlining attribute for helpers of cloned kernels, and the output-row tile
 * over a zero-padded plane. Private to src/kernels. */
#ifndef NB_CONV_VEC_H
#define NB_CONV_VEC_H

#include <stdint.h>

/* The kernels are cloned for AVX-512 and AVX2+FMA besides the baseline (NB_CLONES, kernels.h). */
#if defined(__GNUC__)
#define NB_CL_INLINE __attribute__((always_inline)) inline /* into each clone, at its target */
#else
#define NB_CL_INLINE inline
#endif

typedef float nb_v8f __attribute__((vector_size(32), aligned(4), may_alias));

static inline int64_t ceil8(int64_t n) { return (n + 7) / 8 * 8; }

/* One tile: NC vectors of output columns for OB channels (rows of weights wr[i], Kc each),
 * from the plane x0 (channel stride cs, kernel-row stride hs). Stores nout columns of the
 * first ob_n channels at yo[i]: the sum + bo[i], or with add, yo[i] + the sum. */
/* NAME: a tile of vectors VT of VW floats (ATTR: its function attributes), NC per row, OB channels. */
#define NB_DIRECT_TILE_V(NAME, VT, VW, ATTR, NC, OB)                                              \
    ATTR static inline void NAME(const float *x0, int64_t cs, int64_t hs, int64_t C, int64_t KH,  \
                                 int64_t kh0, int64_t kh1, int64_t KW, const float *const *wr,    \
                                 const float *bo, float *const *yo, int64_t nout, int64_t ob_n,   \
                                 int add) {                                                       \
        VT acc[OB][NC];                                                                           \
        for (int i = 0; i < OB; i++)                                                              \
            for (int j = 0; j < NC; j++) acc[i][j] = (VT){0};                                     \
        for (int64_t c = 0; c < C; c++)                                                           \
            for (int64_t kh = kh0; kh < kh1; kh++) {                                              \
                const float *xr = x0 + c * cs + kh * hs;                                          \
                int64_t k = (c * KH + kh) * KW;                                                   \
                for (int64_t kw = 0; kw < KW; kw++, k++) {                                        \
                    VT xv[NC];                                                                    \
                    for (int j = 0; j < NC; j++) xv[j] = *(const VT *)(xr + kw + VW * j);         \
                    for (int i = 0; i < OB; i++) {                                                \
                        const float wk = wr[i][k];                                                \
                        for (int j = 0; j < NC; j++) acc[i][j] += wk * xv[j];                     \
                    }                                                                             \
                }                                                                                 \
            }                                                                                     \
        /* constant indices only: an accumulator indexed at run time would live in memory */      \
        for (int i = 0; i < OB; i++)                                                              \
            for (int j = 0; j < NC; j++) {                                                        \
                if (i >= ob_n) break;                                                             \
                if (VW * j + VW <= nout) {                                                        \
                    VT *d = (VT *)(yo[i] + VW * j);                                               \
                    *d = add ? *d + acc[i][j] : acc[i][j] + bo[i];                                \
                } else if (VW * j < nout) { /* the row's last, partial vector */                  \
                    float out[VW];                                                                \
                    *(VT *)out = acc[i][j];                                                       \
                    for (int64_t q = 0; q < nout - VW * j; q++)                                   \
                        yo[i][VW * j + q] = add ? yo[i][VW * j + q] + out[q] : out[q] + bo[i];    \
                }                                                                                 \
            }                                                                                     \
    }

#endif
