/* nabla: a deep-learning framework in C. Public API.
 *
 * Dimension vocabulary used in comments beside every buffer:
 *   N batch, C channels, H height, W width, T time, D features, K classes, V vocabulary.
 *
 * Memory rules (see docs/memory.md):
 *  - nb_tensor_new / nb_tensor_from / nb_index_new return heap tensors the caller owns and
 *    frees with nb_tensor_free.
 *  - Every op (nb_add, nb_matmul, ...) returns a tensor that lives in the step arena: valid until
 *    the next nb_step_reset(). Never free it. Its gradient lives there too.
 *  - Parameters live in an nb_params slab (one block for values, one for gradients); their
 *    tensors are owned by the slab and live until nb_params_free.
 *
 * Errors: functions that can fail return nb_status (NB_OK = 0) or NULL, and set a thread-local
 * message read with nb_last_error(). The library never exits or aborts on user input. Ops can
 * be chained without checking each result: an op given a NULL input (the result of an op that
 * failed) fails too and keeps the first failure's message in front, as in
 * "nb_matmul: (32,784) x (100,10): inner sizes 784 != 100; nb_relu got NULL input 0". */
#ifndef NABLA_H
#define NABLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_MAX_DIMS 8

typedef enum nb_status {
    NB_OK = 0,
    NB_ERR_ARG,    /* a NULL or out-of-range argument */
    NB_ERR_SHAPE,  /* shapes that do not fit the op */
    NB_ERR_DTYPE,  /* a float tensor where indices were expected, or the reverse */
    NB_ERR_MEM,    /* out of memory */
    NB_ERR_IO,     /* a file could not be read or written */
    NB_ERR_FORMAT, /* a file's contents are malformed */
    NB_ERR_STATE   /* a call out of order (e.g. backward of a non-scalar) */
} nb_status;

typedef enum nb_dtype { NB_F32 = 0, NB_I64 = 1 } nb_dtype;

typedef struct nb_tensor nb_tensor;
typedef struct nb_params nb_params;

/* ---- errors ---------------------------------------------------------------------------- */
/* Message of the last failure in this thread ("" if none). */
const char *nb_last_error(void);
/* Empties the message: after handling a failure and going on, so that a later NULL input is
 * not reported after the old message. */
void nb_clear_error(void);
/* Sets the message (printf-style) and returns s: how a layer or step function written outside
 * the library reports its own errors (`return nb_set_error(NB_ERR_SHAPE, "...", ...)`). */
nb_status nb_set_error(nb_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *nb_status_name(nb_status s);

/* ---- settings -------------------------------------------------------------------------- */
/* Threads used by kernels and BLAS (default: OMP_NUM_THREADS or the core count). */
void nb_set_threads(int n);
int nb_get_threads(void);
/* The library that runs nabla's matrix products, as built: "oneDNN 2.6.3 sgemm" (the default
 * where Debian's libdnnl-dev is installed) or "CBLAS" (NABLA_GEMM=cblas: OpenBLAS by default).
 * Seeded runs give the same bits only with the same backend (docs/architecture.md, "GEMM"). */
const char *nb_gemm_backend(void);
/* Seeds the library's RNG (initializers, dropout, nb_rng_*). A loader's shuffling has its
 * own seed (nb_loader_new), so that resuming at any epoch repeats its order. */
void nb_seed(uint64_t seed);
uint64_t nb_rng_next(void); /* 64 random bits */
float nb_rng_uniform(void); /* [0, 1) */
float nb_rng_normal(void);  /* N(0, 1) */
/* The generator's whole state (for checkpoints). */
void nb_rng_get_state(uint64_t state[4]);
void nb_rng_set_state(const uint64_t state[4]);

/* ---- tensors --------------------------------------------------------------------------- */
/* New zero-filled heap tensor of the given shape (ndim 0..NB_MAX_DIMS, sizes >= 0). */
nb_tensor *nb_tensor_new(int ndim, const int64_t *shape);
/* New heap tensor holding a copy of data (numel floats). */
nb_tensor *nb_tensor_from(int ndim, const int64_t *shape, const float *data);
/* New heap index tensor (int64, e.g. class labels or token ids), zero-filled. */
nb_tensor *nb_index_new(int ndim, const int64_t *shape);
/* Frees a heap tensor; NULL is accepted; arena and parameter tensors are left alone. */
void nb_tensor_free(nb_tensor *t);

int nb_tensor_ndim(const nb_tensor *t);
int64_t nb_tensor_size(const nb_tensor *t, int axis); /* axis may be negative */
const int64_t *nb_tensor_shape(const nb_tensor *t);
int64_t nb_tensor_numel(const nb_tensor *t);
nb_dtype nb_tensor_dtype(const nb_tensor *t);
bool nb_tensor_is_contiguous(const nb_tensor *t);
/* Float data (NULL for index tensors). For a view, the first element of the view: use
 * nb_tensor_get or nb_contiguous for non-contiguous views. */
float *nb_tensor_data(nb_tensor *t);
int64_t *nb_tensor_idata(nb_tensor *t); /* index data (NULL for float tensors) */
/* Gradient buffer (contiguous, same shape), or NULL before backward reaches it. */
float *nb_tensor_grad(nb_tensor *t);
/* Element at a multi-index, following strides (float tensors). */
float nb_tensor_get(const nb_tensor *t, const int64_t *index);
/* Item of a tensor with one element. */
float nb_tensor_item(const nb_tensor *t);

/* Marks a heap tensor as a leaf that gathers a gradient (allocates its grad buffer). */
nb_status nb_tensor_set_requires_grad(nb_tensor *t, bool on);
bool nb_tensor_requires_grad(const nb_tensor *t);
/* Sets the gradient of a leaf tensor to zero. */
void nb_tensor_zero_grad(nb_tensor *t);
/* Fills with uniform [lo, hi) or normal(mean, std) draws from the library RNG. */
void nb_tensor_fill_uniform(nb_tensor *t, float lo, float hi);
void nb_tensor_fill_normal(nb_tensor *t, float mean, float std);
void nb_tensor_fill(nb_tensor *t, float value);
/* Writes "name (2,3) [...]" to stderr, for debugging. */
void nb_tensor_print(const nb_tensor *t, const char *name);

/* ---- autodiff -------------------------------------------------------------------------- */
/* Backpropagates from a one-element tensor: gradients are ADDED into every leaf that requires
 * them (call nb_params_zero_grad first). The tape is kept until nb_step_reset, so calling
 * backward twice adds the gradients twice, as PyTorch with retain_graph=True. */
nb_status nb_backward(nb_tensor *loss);
/* While no-grad mode is on (nestable), ops record nothing: use for evaluation. */
void nb_no_grad_begin(void);
void nb_no_grad_end(void);
bool nb_grad_enabled(void);
/* Frees every arena tensor and the tape: call once per training step. Heap and parameter
 * tensors are kept. No memory is returned to the system: the arena keeps its size. */
void nb_step_reset(void);
/* Step tensors made from the caller's data (a batch): contiguous copies in the step arena,
 * valid until the next nb_step_reset(), needing no gradient. data may be NULL (zeros). */
nb_tensor *nb_step_tensor(int ndim, const int64_t *shape, const float *data);
nb_tensor *nb_step_index(int ndim, const int64_t *shape, const int64_t *data);
/* Bytes the arena holds (capacity), for tests and benchmarks. */
size_t nb_arena_capacity(void);
/* Number of malloc calls the arena has made since start, for the steady-state test. */
size_t nb_arena_mallocs(void);

/* ---- parameters (one slab) ------------------------------------------------------------- */
nb_params *nb_params_new(void);
void nb_params_free(nb_params *p);
/* Adds a named parameter (zero-filled, requires_grad) to the slab. The tensor stays valid
 * until nb_params_free, even as the slab grows. */
nb_tensor *nb_params_add(nb_params *p, const char *name, int ndim, const int64_t *shape);
int nb_params_count(const nb_params *p);
nb_tensor *nb_params_get(nb_params *p, int i);
const char *nb_params_name(const nb_params *p, int i);
nb_tensor *nb_params_find(nb_params *p, const char *name);
int64_t nb_params_numel(const nb_params *p);
float *nb_params_data(nb_params *p); /* the whole value slab, nb_params_numel floats */
float *nb_params_grad(nb_params *p); /* the whole gradient slab */
void nb_params_zero_grad(nb_params *p);
/* The first parameter (its index) whose values (grads false) or gradients (grads true) hold
 * a NaN or an infinity, with the element's flat index in *at (may be NULL); -1 when every one
 * is finite or p is NULL. One pass over the slab; the parameter is looked up only on a hit. */
int nb_params_nonfinite(nb_params *p, bool grads, int64_t *at);
/* Whether a parameter name lies under one of the comma-separated prefixes: "conv1,fc"
 * matches "conv1.weight" and "fc.bias", not "conv10.weight". */
bool nb_name_matches(const char *name, const char *prefixes);

/* ---- ops: each returns an arena tensor, or NULL with nb_last_error set ------------------- */
/* Elementwise with NumPy broadcasting. */
nb_tensor *nb_add(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_sub(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_mul(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_div(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_scale(nb_tensor *x, float c);      /* x * c */
nb_tensor *nb_add_scalar(nb_tensor *x, float c); /* x + c */
nb_tensor *nb_neg(nb_tensor *x);
nb_tensor *nb_exp(nb_tensor *x);
nb_tensor *nb_log(nb_tensor *x);
nb_tensor *nb_sqrt(nb_tensor *x);
nb_tensor *nb_pow(nb_tensor *x, float p);
nb_tensor *nb_abs(nb_tensor *x);
nb_tensor *nb_relu(nb_tensor *x);
nb_tensor *nb_leaky_relu(nb_tensor *x, float slope);
nb_tensor *nb_sigmoid(nb_tensor *x);
nb_tensor *nb_tanh(nb_tensor *x);
nb_tensor *nb_gelu(nb_tensor *x); /* exact (erf) form, as PyTorch's default */

/* Matrix product: (M,K) x (K,N); batched (...,M,K) x (...,K,N) with equal batch dims, or
 * (...,M,K) x (K,N) with the matrix shared across the batch. */
nb_tensor *nb_matmul(nb_tensor *a, nb_tensor *b);
/* x (..., in) W^T + b as PyTorch's F.linear: w (out, in), b (out) or NULL; the result
 * (..., out). The values of nb_add(nb_matmul(x, nb_transpose(w, 0, 1)), b), with the weight's
 * gradient written in w's own layout (no transposed copy). */
nb_tensor *nb_linear(nb_tensor *x, nb_tensor *w, nb_tensor *b);

/* Views and shape ops. Views share storage with their input; gradients flow back. */
nb_tensor *nb_reshape(nb_tensor *x, int ndim, const int64_t *shape); /* one size may be -1 */
nb_tensor *nb_permute(nb_tensor *x, const int *perm);
nb_tensor *nb_transpose(nb_tensor *x, int axis0, int axis1);
nb_tensor *nb_slice(nb_tensor *x, int axis, int64_t start, int64_t end, int64_t step);
nb_tensor *nb_broadcast_to(nb_tensor *x, int ndim, const int64_t *shape);
nb_tensor *nb_contiguous(nb_tensor *x); /* a contiguous copy (or x itself if it is one) */
nb_tensor *nb_concat(nb_tensor *const *xs, int n, int axis);
/* A tensor sharing x's values that records nothing and needs no gradient. */
nb_tensor *nb_detach(nb_tensor *x);

/* Reductions, with PyTorch's axis convention: an axis number, negative counting from the end
 * (-1 is the last axis), or NB_ALL_AXES for all axes. keepdim keeps each reduced axis with
 * size 1; otherwise it is removed (all axes: a 0-d result). An axis out of range is an error
 * that names the op and the shape. nb_sum(x, 1, false) is torch.sum(x, 1);
 * nb_sum(x, NB_ALL_AXES, false) is torch.sum(x). */
#define NB_ALL_AXES 0x7fffffff
nb_tensor *nb_sum(nb_tensor *x, int axis, bool keepdim);
nb_tensor *nb_mean(nb_tensor *x, int axis, bool keepdim);
/* Over several axes at once (torch.sum(x, (0, 2))): n (1..NB_MAX_DIMS) axis numbers, each
 * axis at most once, in any order; NB_ALL_AXES alone (n = 1) for all. */
nb_tensor *nb_sum_axes(nb_tensor *x, int n, const int *axes, bool keepdim);
nb_tensor *nb_mean_axes(nb_tensor *x, int n, const int *axes, bool keepdim);
/* Maximum over one axis or all (NB_ALL_AXES), as torch.max(x, axis) / torch.max(x); the
 * gradient goes to the first maximum. */
nb_tensor *nb_max(nb_tensor *x, int axis, bool keepdim);

/* Softmax and log-softmax over one axis (negative counts from the end). */
nb_tensor *nb_softmax(nb_tensor *x, int axis);
nb_tensor *nb_log_softmax(nb_tensor *x, int axis);

/* Convolution and pooling on (N, C, H, W). w (O, C/groups, KH, KW), b (O) or NULL. */
typedef struct nb_conv_opts {
    int stride[2], padding[2], dilation[2], groups;
    int output_padding[2]; /* conv_transpose2d only */
} nb_conv_opts;
/* stride 1, padding 0, dilation 1, groups 1. */
nb_conv_opts nb_conv_defaults(void);
nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv_opts o);
/* w (C, O/groups, KH, KW) as PyTorch's ConvTranspose2d. */
nb_tensor *nb_conv_transpose2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv_opts o);
/* kernel k, stride s (0 = k), padding p. */
nb_tensor *nb_max_pool2d(nb_tensor *x, int k, int s, int p);
nb_tensor *nb_avg_pool2d(nb_tensor *x, int k, int s, int p);

/* Inverted dropout: in training, zeroes each element with probability p (seeded by nb_seed)
 * and scales the rest by 1/(1-p); the identity when training is false. */
nb_tensor *nb_dropout(nb_tensor *x, float p, bool training);
/* Batch normalization over axis 1 of x (N, C) or (N, C, H, W); gamma, beta (C) or both NULL.
 * training: normalizes with the batch's mean and biased variance and, when running_mean and
 * running_var (C) are given, updates them in place as PyTorch does: r = (1-momentum)*r +
 * momentum*stat, with the unbiased variance for running_var (no gradient flows into them).
 * Not training: normalizes with running_mean/running_var (required). */
nb_tensor *nb_batch_norm(nb_tensor *x, nb_tensor *gamma, nb_tensor *beta, nb_tensor *running_mean,
                         nb_tensor *running_var, bool training, float momentum, float eps);
/* Rows of weight (V, D) picked by the int64 indices idx (any shape S): result (S..., D). */
nb_tensor *nb_embedding(nb_tensor *weight, nb_tensor *idx);
/* The same with a padding index (-1: none): that row's gradient stays zero, as PyTorch's. */
nb_tensor *nb_embedding_pad(nb_tensor *weight, nb_tensor *idx, int64_t padding_idx);

/* Recurrences over whole sequences, fused (what the recurrent layers of nn.h run), batch-first.
 * G gates of H per step in PyTorch's order: RNN 1, GRU 3 (r, z, n), LSTM 4 (i, f, g, o).
 *   xp (N, T, G*H)  every step's input projection x W_ih^T (one GEMM for all steps)
 *   w_hh (G*H, H), b_ih and b_hh (G*H) or NULL, h0 (N, H) or NULL (zeros), c0 likewise (LSTM)
 *   lengths         int64 (N) in 1..T, or NULL (all T): at and past a sample's length the state
 *                   is carried unchanged (those steps are padding and change nothing)
 *   reverse         steps run T-1..0 (the backward direction of a bidirectional layer)
 * nb_rnn_seq (cell NB_CELL_TANH, NB_CELL_RELU or NB_CELL_GRU) -> the state after every step
 * (N, T, H); nb_lstm_seq -> (2, N, T, H): [0] the hidden states, [1] the cell states. The last
 * step (step 0 when reverse) holds each sample's final state. */
typedef enum nb_cell { NB_CELL_TANH = 0, NB_CELL_RELU, NB_CELL_GRU, NB_CELL_LSTM } nb_cell;
nb_tensor *nb_rnn_seq(nb_tensor *xp, nb_tensor *w_hh, nb_tensor *b_ih, nb_tensor *b_hh, nb_tensor *h0,
                      nb_tensor *lengths, nb_cell cell, bool reverse);
nb_tensor *nb_lstm_seq(nb_tensor *xp, nb_tensor *w_hh, nb_tensor *b_ih, nb_tensor *b_hh, nb_tensor *h0, nb_tensor *c0,
                       nb_tensor *lengths, bool reverse);

/* ---- transformer ops (issue 12): layer norm and fused attention ---------------------------- */
/* Layer normalization over the LAST axis, as PyTorch's F.layer_norm(x, (D,), gamma, beta, eps):
 * x of any ndim >= 1 with last size D >= 1, each row of D values normalized by its own mean and
 * biased variance, y = (x - mean) / sqrt(var + eps) * gamma + beta. gamma and beta (D) are both
 * given or both NULL (no affine part); eps finite and >= 0. One fused op: the forward keeps
 * each row's mean and 1/sqrt(var + eps), the backward gives dx, dgamma and dbeta in one pass.
 * Results do not depend on the thread count. */
nb_tensor *nb_layer_norm(nb_tensor *x, nb_tensor *gamma, nb_tensor *beta, float eps);

/* Options of nb_attention; start from nb_attn_defaults() (no mask, scale 1/sqrt(Dh), no
 * dropout, not training). */
typedef struct nb_attn_opts {
    nb_tensor *lengths; /* int64 (N) or NULL: key padding, keys j >= lengths[n] are masked out
                         * (1 <= lengths[n] <= Tk); their values are never read */
    bool causal;        /* query i attends only to keys j <= i; requires Tq == Tk */
    float scale;        /* multiplies q.k; <= 0 means 1/sqrt(Dh) */
    float dropout;      /* in [0, 1): on the attention probabilities, in training only (drawn
                         * serially from the library RNG, as nb_dropout, one draw per element
                         * of (N, H, Tq, Tk) in row-major order) */
    bool training;
} nb_attn_opts;
nb_attn_opts nb_attn_defaults(void);
/* Fused scaled dot-product attention: q (N, H, Tq, Dh), k and v (N, H, Tk, Dh) ->
 * (N, H, Tq, Dh), per (n, h): softmax(scale * q k^T + mask) v, the mask -inf where a key is
 * padding or (causal) in the future; masked probabilities are exactly 0 and give no gradient.
 * A padded QUERY row (i >= lengths[n]) is computed normally, as PyTorch does: the caller
 * ignores it. Saves the probabilities (N*H*Tq*Tk floats, and a byte mask with dropout) for the
 * backward. Bad shapes, lengths out of range or causal with Tq != Tk are errors. */
nb_tensor *nb_attention(nb_tensor *q, nb_tensor *k, nb_tensor *v, nb_attn_opts o);
/* ---- end of the transformer ops ----------------------------------------------------------- */

/* Losses, averaged over the batch (reduction="mean" in PyTorch). target: int64 (N) classes. */
nb_tensor *nb_nll_loss(nb_tensor *logp, nb_tensor *target);      /* logp (N, K) */
nb_tensor *nb_cross_entropy(nb_tensor *logits, nb_tensor *target); /* logits (N, K) */
nb_tensor *nb_mse_loss(nb_tensor *x, nb_tensor *y);
nb_tensor *nb_bce_loss(nb_tensor *p, nb_tensor *y); /* p in (0,1); log clamped at -100 */
nb_tensor *nb_bce_with_logits(nb_tensor *x, nb_tensor *y);

/* ---- optimizers over a parameter slab ---------------------------------------------------- */
typedef struct nb_sgd_opts {
    float lr, momentum, weight_decay;
    bool nesterov;
} nb_sgd_opts;
typedef struct nb_adam_opts {
    float lr, beta1, beta2, eps, weight_decay;
    bool decoupled; /* AdamW */
} nb_adam_opts;
typedef struct nb_optim nb_optim;
nb_optim *nb_sgd_new(nb_params *p, nb_sgd_opts o);
nb_optim *nb_adam_new(nb_params *p, nb_adam_opts o); /* defaults: betas (0.9,0.999), eps 1e-8 */
nb_adam_opts nb_adam_defaults(float lr);
typedef struct nb_rmsprop_opts {
    float lr, alpha, eps, weight_decay, momentum;
    bool centered;
} nb_rmsprop_opts;
nb_rmsprop_opts nb_rmsprop_defaults(float lr); /* alpha 0.99, eps 1e-8, as torch.optim.RMSprop */
nb_optim *nb_rmsprop_new(nb_params *p, nb_rmsprop_opts o);
float nb_optim_lr(const nb_optim *opt);
void nb_optim_set_lr(nb_optim *opt, float lr); /* a negative or non-finite lr is refused (kept) */
/* Optimizer state for checkpoints: steps taken, and its state slabs (each nb_params_numel
 * floats; e.g. Adam: "exp_avg", "exp_avg_sq"; SGD with momentum: "momentum_buffer"). */
int64_t nb_optim_steps(const nb_optim *opt);
void nb_optim_set_steps(nb_optim *opt, int64_t t);
int nb_optim_state_count(const nb_optim *opt);
float *nb_optim_state(nb_optim *opt, int i, const char **name);
const char *nb_optim_name(const nb_optim *opt); /* "sgd", "adam", "adamw", "rmsprop" */

/* Learning-rate schedules, evaluated per epoch (or step) e from 0: the rate to use then.
 * Closed forms of PyTorch's StepLR and CosineAnnealingLR (computed in double). A bad schedule
 * (step_size < 1, t_max < 1, e or warmup < 0) gives NaN with nb_last_error set, which
 * nb_optim_set_lr refuses. */
typedef enum nb_sched_kind { NB_SCHED_CONSTANT = 0, NB_SCHED_STEP, NB_SCHED_COSINE } nb_sched_kind;
typedef struct nb_schedule {
    nb_sched_kind kind;
    int64_t step_size; /* STEP: base * gamma^floor(e / step_size) */
    float gamma;
    int64_t t_max;     /* COSINE: eta_min + (base - eta_min)(1 + cos(pi e / t_max))/2; past
                        * t_max it rises again (period 2 t_max), as CosineAnnealingLR */
    float eta_min;
    int64_t warmup;    /* any kind: linear warm-up, base * (e+1)/warmup for e < warmup (from
                        * base/warmup up to base), then the schedule runs with e - warmup */
} nb_schedule;
float nb_schedule_lr(const nb_schedule *s, float base_lr, int64_t e);

/* Scales every gradient so their global L2 norm is at most max_norm (as
 * torch.nn.utils.clip_grad_norm_: norm in double over all gradients, scaled by
 * max_norm/(norm + 1e-6) when that is below 1); returns the norm before clipping. A NaN or
 * infinite norm is returned and nothing is scaled; NaN for a NULL p or max_norm < 0. */
float nb_clip_grad_norm(nb_params *p, float max_norm);
/* A parameter group: the parameters under the comma-separated prefixes are updated with
 * scale times the optimizer's rate (so a schedule moves every group together); 1 restores
 * the common rate. A prefix that names no parameter is an error. */
nb_status nb_optim_set_lr_scale(nb_optim *opt, const char *prefixes, float scale);
/* Updates every trainable parameter from its gradient; frozen ones (requires_grad off, e.g.
 * nb_model_freeze) and their state are left untouched. Create the optimizer after the last
 * nb_params_add: a slab that grew since is an error (NB_ERR_STATE). */
nb_status nb_optim_step(nb_optim *opt);
void nb_optim_free(nb_optim *opt);

#ifdef __cplusplus
}
#endif

/* The layers above the core: data, text, metrics, pictures, checkpoints, modules. */
#include "data.h"
#include "text.h"
#include "metrics.h"
#include "plot.h"
#include "io.h"
#include "nn.h"
#include "train.h"
#include "checkpoint.h"
#include "dist.h"

#endif
