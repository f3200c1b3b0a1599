/* nabla internals shared across modules (prefix nb__). Not installed. */
#ifndef NB_INTERNAL_H
#define NB_INTERNAL_H

#include "nabla/nabla.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Aborts on an internal invariant that no user input can reach. */
#define NB_ASSERT(cond)                                                                     \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "nabla: internal error at %s:%d: %s\n", __FILE__, __LINE__,    \
                    #cond);                                                                 \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

/* ---- errors (core/error.c) --------------------------------------------------------------- */
/* Sets the thread-local message and returns s, so callers can `return nb__err(...)`. */
nb_status nb__err(nb_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For a NULL argument `what` ("input 0") of fn: "fn: input 0 is NULL" when no message is set;
 * otherwise the message set by the failure that most likely produced the NULL is kept first,
 * then "; fn got NULL input 0". Returns NB_ERR_ARG. A message left over from an earlier
 * failure the caller handled stays too: clear it with nb_clear_error. */
nb_status nb__err_null(const char *fn, const char *what);
/* Writes "(2,3,4)" into buf. */
const char *nb__shape_str(char *buf, size_t cap, int ndim, const int64_t *shape);
#define NB_SHAPE_STR(t) nb__shape_str((char[96]){0}, 96, (t)->ndim, (t)->shape)

/* ---- tensors (core/tensor.c) ------------------------------------------------------------- */
typedef enum nb__owner { NB_OWN_HEAP, NB_OWN_ARENA, NB_OWN_PARAM } nb__owner;

struct nb_node;

struct nb_tensor {
    int ndim;
    nb_dtype dtype;
    int64_t shape[NB_MAX_DIMS];
    int64_t stride[NB_MAX_DIMS]; /* in elements; 0 on broadcast axes of views */
    int64_t numel;
    void *data;                  /* first element (float* or int64_t*) */
    float *grad;                 /* contiguous, same shape; NULL until needed */
    bool grad_unset;             /* grad taken by backward but not yet written: reads as zeros,
                                  * the first writer assigns (nb__grad_first) or zeroes it */
    bool grad_shared;            /* grad is another tensor's buffer (nb__grad_share) */
    int uses;                    /* recorded nodes that read it (counted for op results only) */
    bool requires_grad;
    bool is_leaf;                /* heap or param tensor: backward accumulates into it */
    nb__owner owner;
    bool owns_data;              /* heap tensor that malloc'ed data */
    struct nb_node *node;        /* the tape node that produced it, or NULL */
};

#define NB_F(t) ((float *)(t)->data)
#define NB_I(t) ((int64_t *)(t)->data)

/* Fills strides for a contiguous row-major layout and numel. */
void nb__set_contiguous(nb_tensor *t);
bool nb__same_shape(const nb_tensor *a, const nb_tensor *b);
/* Validates a shape from the user: ndim range, sizes >= 0, no overflow of numel. */
nb_status nb__check_shape(const char *fn, int ndim, const int64_t *shape);
/* Normalizes a possibly negative axis; returns -1 (and sets the error) when out of range. */
int nb__axis(const char *fn, int axis, int ndim);

/* ops/conv.c: max_pool2d(relu(conv2d(x, w, b, o)), 2) (relu when asked) in one fused pass,
 * for inference only (no tape is recorded: call it where nb_grad_enabled() is false). */
nb_tensor *nb__conv2d_relu_maxpool2(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv_opts o, bool relu);

/* ---- arena (core/arena.c) ----------------------------------------------------------------- */
/* Bump allocation, 64-byte aligned, zeroed or not. Returns NULL (with error) only when the
 * system is out of memory. */
void *nb__arena_alloc(size_t bytes);
void *nb__arena_calloc(size_t bytes);
/* A new arena tensor (struct and data in the arena), contiguous, data NOT zeroed. */
nb_tensor *nb__arena_tensor(nb_dtype dt, int ndim, const int64_t *shape);
/* A new arena tensor struct that shares `data` (views). */
nb_tensor *nb__arena_view(const nb_tensor *base, void *data);
/* Gradient buffer of t, allocated zeroed in the arena when missing. */
float *nb__grad(nb_tensor *t);
/* The gradient buffer for a backward that writes every element of it: *assign is set when the
 * buffer holds no contribution yet (taken but unset), and the caller must then store its values
 * (`=`) instead of adding them (`+=`), which saves zero-filling and re-reading it. 0 + v == v
 * for every float v but -0 (stored as -0 instead of +0), so the sums are the same. Either way
 * the buffer counts as written afterwards. */
float *nb__grad_first(nb_tensor *t, bool *assign);
/* For a backward whose whole contribution to t's gradient is the buffer g, in t's layout, that
 * nothing writes afterwards (the output's gradient of a reshape, or a backward's own scratch):
 * when t is an op result read by this node alone and its gradient is unset, t takes g as its
 * gradient instead of a copy, and true is returned; otherwise nothing changes. */
bool nb__grad_share(nb_tensor *t, float *g);
/* Takes t's gradient buffer for backward without zero-filling it (it stays unset until its
 * first writer): NULL when out of memory. */
float *nb__grad_reserve(nb_tensor *t);
/* Zero-fills t's gradient if it is still unset (nothing wrote it). */
void nb__grad_settle(nb_tensor *t);
/* Releases everything allocated since the last reset. Several chunks are merged into one of
 * their total size, so a repeated step stops calling malloc. Only nb_step_reset (autograd,
 * which first drops the tape that points into the arena) calls it. */
void nb__arena_reset(void);
/* How many arena allocations have failed so far (never reset). An op's backward cannot return
 * a status: the tape compares this count around each backward instead. */
size_t nb__arena_failures(void);
/* Tests only, right after nb_step_reset: frees the arena's memory and from then on refuses to
 * grow it past `bytes` in all (0 = no limit), as a full memory would, to reach the
 * out-of-memory paths without a real shortage. */
void nb__arena_set_limit(size_t bytes);

/* ---- atomic writes (core/atomic.c) ------------------------------------------------------- */
/* "<path>.tmp.<pid>", malloc'd; NULL (with the error set) when out of memory. */
char *nb__tmp_path(const char *path);
/* Makes the complete temporary file tmp durable and renames it over path, then syncs the
 * folder. On failure tmp is removed and path is untouched; the error names path. */
nb_status nb__commit_file(const char *tmp, const char *path);

/* ---- threads and RNG (core/settings.c) ---------------------------------------------------- */
/* After nb_optim_step: 0 when every parameter it updated is finite and none was frozen, 1 when
 * one is not, -1 when it cannot tell (no step yet, a frozen parameter): then scan. */
struct nb_optim;
int nb__optim_params_nonfinite(const struct nb_optim *o);
/* The training loop's zero_grad without writing the slab: nb__params_unset_grads marks every
 * parameter's gradient unset (it reads as zeros, and its first writer in backward stores instead
 * of adding, as for an intermediate result's); nb__params_settle_grads, after backward, zero-fills
 * the ones no op wrote (a frozen or unused parameter). Same values as nb_params_zero_grad before
 * the backward, without the pass over the slab and its parallel region. */
struct nb_params;
void nb__params_unset_grads(struct nb_params *p);
void nb__params_settle_grads(struct nb_params *p);
/* The largest |x[i]| over [lo, hi) as float bits (>= 0x7f800000: an infinity or a NaN there). */
uint32_t nb__top_bits(const float *x, int64_t lo, int64_t hi);
int nb__threads(void);
/* u[0..n) <- n draws of nb_rng_uniform: the same numbers in the same order, and the generator
 * left where n calls would leave it, from one loop that keeps the state in registers (dropout
 * masks draw one number per element). */
void nb__rng_uniforms(float *u, int64_t n);

/* Elementwise loops compiled for AVX-512 and AVX2 besides the portable baseline, picked at load
 * time (GCC's function multi-versioning, as kernels/rnn.c does). Loops that compute each element
 * alone give the same bits in every clone: C11 mode contracts nothing into FMAs. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NB__CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NB__CLONES
#endif

/* Runs CALL (an expression of lo and hi) over [lo, hi) ranges that split [0, N): one range per
 * OpenMP thread when N is over MIN (the includer includes omp.h), else [0, N) at once. Only for
 * elementwise work, where the split changes no result.
 *
 * MIN is where a second thread starts to pay. A parallel region costs waking the sleeping thread
 * (the passive wait policy) and, when the caller reaches the region's end first, waking it: 80-160
 * us in all on the 2-core Zen 5 VMs (bench/region_cost.c; 15-30 us on an earlier machine), so a
 * loop pays when one core takes it well over 100 us. A Zen 5 core adds 524288 floats in cache in
 * about 80 us: loads and stores with a little arithmetic split from NB__PAR_CHEAP floats, loops
 * with an exp, erf or division per element from NB__PAR_MATH (docs/architecture.md, "Threads and
 * determinism", has the measurements and the kernels' own thresholds). */
#define NB__PAR_CHEAP 524288
#define NB__PAR_MATH 262144
#define NB__SPLIT_MIN(N, MIN, CALL)                                                        \
    do {                                                                                   \
        if ((N) > (MIN)) {                                                                 \
            _Pragma("omp parallel") {                                                      \
                const int64_t nt_ = omp_get_num_threads(), t_ = omp_get_thread_num();      \
                const int64_t lo = (N) * t_ / nt_, hi = (N) * (t_ + 1) / nt_;              \
                CALL;                                                                      \
            }                                                                              \
        } else {                                                                           \
            const int64_t lo = 0, hi = (N);                                                \
            CALL;                                                                          \
        }                                                                                  \
    } while (0)
#define NB__SPLIT(N, CALL) NB__SPLIT_MIN(N, NB__PAR_CHEAP, CALL)

/* ---- strided iteration (core/strided.c) --------------------------------------------------- */
/* dst[contiguous i] = src[strided], over shape. */
void nb__strided_copy(float *dst, const float *src, int ndim, const int64_t *shape,
                      const int64_t *src_stride);
/* dst[strided] += src[contiguous i], over shape (dst strides may be 0: sums, serial order). */
void nb__strided_add(float *dst, const int64_t *dst_stride, const float *src, int ndim,
                     const int64_t *shape);
/* dst[strided] = src[contiguous i], over shape: dst strides must reach each element at most once
 * (no 0 strides on axes longer than 1). With assign false, the same as nb__strided_add. */
/* dst[j * rs + i] += src[i * cols + j] (= when assign) for a contiguous (rows, cols) src: a
 * gradient computed in the transposed layout, added back (one add per element). The strided
 * store/add take it for a transposed view; exported for tests/test_kernels.c. */
void nb__add_transposed(float *dst, int64_t rs, const float *src, int64_t rows, int64_t cols, bool assign);
void nb__strided_store(float *dst, const int64_t *dst_stride, const float *src, int ndim,
                       const int64_t *shape, bool assign);
/* Contiguous float data of t: t's own data when contiguous, otherwise a copy in the arena. */
const float *nb__contig_data(const nb_tensor *t);
/* Index of the first NaN or infinity in x[0..n), -1 when all are finite (core/params.c). */
int64_t nb__first_nonfinite(const float *x, int64_t n);
/* Row-major strides of a contiguous shape. */
void nb__contig_strides(int ndim, const int64_t *shape, int64_t *stride);

/* ---- name prefixes (core/names.c) -------------------------------------------------------- */
/* Calls cb(ctx, prefix) for each comma-separated prefix of list; an empty list, an empty or
 * over-long name is an error naming fn. */
nb_status nb__each_prefix(const char *list, const char *fn, nb_status (*cb)(void *, const char *), void *ctx);
/* name is prefix or starts with "prefix.". */
bool nb__under(const char *name, const char *prefix);
/* *mask: a malloc'd mask over p's parameters, true for those under one of the prefixes;
 * *count (may be NULL) the number selected. An error (naming fn) when a prefix names no
 * parameter or the list is malformed. */
nb_status nb__params_select(nb_params *p, const char *prefixes, const char *fn, bool **mask, int *count);

#endif
