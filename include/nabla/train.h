/* nabla training and evaluation loops, by task.
 *
 * One loop serves every task: it takes batches from a batch source (a loader, or the user's
 * own), turns each into step tensors, and the task says what the loss and the metrics are:
 *   NB_TASK_CLASSIFY      x (N, sample...) -> logits (N, K); cross-entropy with labels y (N);
 *                         accuracy, confusion matrix.
 *   NB_TASK_REGRESS       x -> output (N, D); mean squared error against the batch's float
 *                         targets (N, D); no accuracy.
 *   NB_TASK_RECONSTRUCT   x -> output with N*D values; mean squared error against x itself
 *                         (autoencoders). With task.noise > 0 the model reads x plus Gaussian
 *                         noise of that standard deviation (library RNG, in evaluation too) and
 *                         is scored against the clean x (a denoising autoencoder).
 *   NB_TASK_SEQ_CLASSIFY  x (N, T, D) or token ids (N, T), with per-sample lengths when the
 *                         batch has them (the model is called with two inputs: x and the
 *                         lengths as an int64 (N) tensor) -> logits (N, K); as CLASSIFY.
 *   NB_TASK_LM            token ids (N, T) -> logits (N, T, V) or (N*T, V); cross-entropy of
 *                         each step against its next token y (N*T), only over steps below the
 *                         sample's length when lengths are given; bits per token; accuracy.
 *   NB_TASK_VAE           x -> (logits, mu, logvar) (nb_vae_new); the loss is nb_vae_loss (the
 *                         negative ELBO per sample); metrics "recon" (BCE per sample), "kl"
 *                         (per sample) and "mse" (of sigmoid(logits) against x, per value).
 *   NB_TASK_CUSTOM        a step function of the user's does the whole step (any number of
 *                         models and optimizers, e.g. a GAN) and returns its loss and metrics.
 *   NB_TASK_TOKENS        per-token classification (tagging, NER): token ids (N, T), labels y
 *                         (N*T), one per position; a negative label (PyTorch's ignore_index
 *                         -100) is not scored, nor is a step t >= the sample's length. The
 *                         model is called with (x, lengths) when the batch has lengths (as
 *                         NB_TASK_SEQ_CLASSIFY; a Transformer's key-padding mask) and gives
 *                         logits (N, T, K) or (N*T, K). Loss: the mean cross-entropy over the
 *                         scored tokens (only their rows are in the graph); accuracy per scored
 *                         token; the confusion matrix over scored tokens (nb_evaluate's conf).
 *                         Word dropout (word_dropout > 0, training only): each real token whose
 *                         id has an entry in word_unk that is not the id itself draws one
 *                         uniform from the library RNG (samples in order, steps in order) and is
 *                         replaced in the model's input by word_unk[id] when the draw is below
 *                         word_dropout; the labels stay, the batch is not modified (the ids are
 *                         a copy), and evaluation (nb_evaluate) replaces nothing.
 *   NB_TASK_MLM           masked language modelling over the same batches (y is ignored): per
 *                         sample, each real token (t < length) with an id in [first_id,
 *                         vocab_size) is selected with probability mask_prob; a selected token
 *                         is replaced by mask_id (80%), by a random id of [first_id,
 *                         vocab_size) (10%) or left as it is (10%), as BERT does, and must be
 *                         predicted; loss and accuracy (masked-token accuracy) as
 *                         NB_TASK_TOKENS over the selected tokens. Ids below first_id (the
 *                         special tokens) are never selected nor drawn. When no token of a
 *                         whole batch was selected but one is eligible, one eligible token of
 *                         the first sample that has one is selected (drawn from that sample's
 *                         stream): a batch always has something to score. Randomness: in
 *                         training (nb_train_epoch; the model in training mode) every draw
 *                         comes from the library RNG, so a run is repeatable from its seed and
 *                         a checkpoint's stored RNG state resumes it bit for bit; in evaluation
 *                         (nb_evaluate) the masks are fixed: each sample draws from its own
 *                         splitmix64 stream seeded by its dataset index (b->idx; without idx,
 *                         by a hash of its real tokens), so every evaluation of a set masks the
 *                         same positions whatever the batching and the library RNG. The batch
 *                         is not modified (the masked ids are a copy).
 * New task kinds are added after NB_TASK_CUSTOM: the numeric values of the others never change.
 * The library knows nothing of the command line: no flags in messages, no run plan. */
/* nabla's own headers come before the guard, so that this header compiles on its own
 * even though nabla.h includes it back. */
#include "data.h"
#include "metrics.h"
#include "nabla.h"
#include "nn.h"
#include "text.h"

#ifndef NABLA_TRAIN_H
#define NABLA_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- where batches come from --------------------------------------------------------------- */
typedef struct nb_batch_source {
    void *ctx;
    int64_t (*count)(void *ctx);             /* batches per epoch (for progress) */
    void (*start)(void *ctx, int64_t epoch); /* begins an epoch */
    int (*next)(void *ctx, nb_batch *b);     /* 1: *b filled; 0: end of the epoch */
} nb_batch_source;
/* A loader as a batch source (the loader must outlive it). */
nb_batch_source nb_loader_source(nb_loader *l);
/* The text loaders (text.h) as batch sources (src/train/text_source.c). */
nb_batch_source nb_text_loader_source(nb_text_loader *l);
nb_batch_source nb_stream_loader_source(nb_stream_loader *l);

/* ---- tasks ---------------------------------------------------------------------------------- */
typedef enum nb_task_kind {
    NB_TASK_CLASSIFY = 0, NB_TASK_REGRESS, NB_TASK_RECONSTRUCT, NB_TASK_SEQ_CLASSIFY, NB_TASK_LM, NB_TASK_VAE,
    NB_TASK_CUSTOM,
    /* token-level tasks (issue 12); appended so that the values above stay as stored */
    NB_TASK_TOKENS, NB_TASK_MLM
} nb_task_kind;

#define NB_MAX_METRICS 8
/* What a custom step reports for one batch: its loss and up to NB_MAX_METRICS named values,
 * each a mean over the batch's samples (the loop averages them over the epoch by samples). */
typedef struct nb_step_result {
    double loss;
    int n_metrics;
    const char *name[NB_MAX_METRICS]; /* static strings, the same each step */
    double value[NB_MAX_METRICS];
} nb_step_result;
/* A custom step: training (zero the gradients, forward, backward, optimizer steps) or, when
 * training is false, evaluation (called with gradients off; update nothing). Return non-zero
 * with nb_last_error set on error. */
typedef nb_status (*nb_step_fn)(void *ctx, const nb_batch *b, bool training, nb_step_result *r);

/* ---- token tasks' predictions (NB_TASK_TOKENS, NB_TASK_MLM) ---- */
/* Called by nb_evaluate after each batch (never in training) with the batch as the source
 * gave it and pred, b->n * T values (T = b->x_shape[0], this batch's padded length) laid out
 * as b->tokens: pred[i*T + t] is the predicted class (the argmax of the logits; the first on
 * ties) of sample i at step t, or -1 where nothing is predicted: steps t >= the sample's
 * length and, for NB_TASK_MLM, every position that was not selected for masking. For
 * NB_TASK_TOKENS every real step gets a prediction, scored or not (a label of -100 does not
 * hide it). Batches come in the source's order (give an unshuffled one) and may be padded to
 * different T; b->idx says which samples they are. pred is valid during the call only.
 * Return non-zero (with nb_set_error) to stop the evaluation with that status. */
typedef nb_status (*nb_token_pred_fn)(void *ctx, const nb_batch *b, const int64_t *pred);

typedef struct nb_task {
    nb_task_kind kind;
    nb_step_fn step; /* NB_TASK_CUSTOM */
    void *ctx;       /* passed to step */
    float noise;     /* NB_TASK_RECONSTRUCT: std of the noise added to the input (0: none) */
    /* ---- NB_TASK_TOKENS, NB_TASK_MLM ---- */
    nb_token_pred_fn on_pred; /* may be NULL; see nb_token_pred_fn */
    void *pred_ctx;           /* passed to on_pred */
    /* NB_TASK_MLM (nb_task_new sets mask_prob 0.15, mask_id -1 (unset), first_id 0,
     * vocab_size 0 (unset); a batch is refused with NB_ERR_ARG until mask_id and vocab_size
     * are set, mask_prob is in (0, 1] and 0 <= first_id < vocab_size, 0 <= mask_id < vocab_size;
     * the model's logits must have at least vocab_size classes; a real token's id must be in
     * [0, vocab_size)). */
    float mask_prob;    /* probability that an eligible token is selected */
    int64_t mask_id;    /* the [MASK] token's id */
    int64_t first_id;   /* ids in [first_id, vocab_size) may be selected and drawn */
    int64_t vocab_size;
    /* The model takes a third input, rows int64 (M): the flat positions n*T + t of the
     * selected tokens, in order, and gives their logits only (M, K) (nb_token_transformer_new
     * does): the head works on the selected rows alone. false: logits at every step. */
    bool mlm_rows;
    /* NB_TASK_TOKENS: word dropout (Lample et al. 2016; Flair's word_dropout), so that a tagger
     * learns to tag the unknown words it meets at test time from their context and shape.
     * nb_task_new sets word_dropout 0 (off), word_unk NULL, word_unk_n 0. When word_dropout > 0
     * the task is refused with NB_ERR_ARG (before anything trains) unless word_dropout is in
     * [0, 1), word_unk is set, word_unk_n >= 1 and every entry is in [0, word_unk_n). */
    float word_dropout;      /* probability that an eligible real input token is replaced in training */
    const int64_t *word_unk; /* (word_unk_n) the replacement of token id i; word_unk[i] == i (the
                              * specials): never replaced; ids >= word_unk_n: never replaced.
                              * Not owned: it must outlive the task (nb_vocab_shape_unks builds
                              * one from a cased-words vocabulary). */
    int64_t word_unk_n;
} nb_task;
nb_task nb_task_new(nb_task_kind kind);
nb_task nb_task_custom(nb_step_fn step, void *ctx);
const char *nb_task_name(nb_task_kind kind); /* "classify", "regress", ... */

/* ---- the gradient hook ------------------------------------------------------------------------ */
/* Called by a training step after backward and before clipping, the finite checks and the
 * optimizer step, with the parameters whose gradients the step computed and the step's weight
 * (the number of samples, or tokens for a language model, that its loss averages over; 0 for
 * an empty batch). Data-parallel training averages the gradients across processes here
 * (nb_dist_grad_hook, dist.h). A non-zero return stops the step with that status. */
typedef nb_status (*nb_grad_hook)(void *ctx, nb_params *grads_of, double weight);

/* ---- GANs ------------------------------------------------------------------------------------- */
/* A generator (noise z (N, z_dim) -> images) and a discriminator (images -> one logit per
 * image), each with its own optimizer. grad_hook (may be NULL) is called after each of the
 * two backward passes, with the discriminator's and then the generator's parameters. */
typedef struct nb_gan {
    nb_model *generator, *discriminator;
    nb_optim *opt_g, *opt_d;
    int z_dim;
    nb_grad_hook grad_hook;
    void *grad_hook_ctx;
} nb_gan;
/* NB_ERR_ARG naming what is missing; NB_OK when the four pointers are set and z_dim >= 1. */
nb_status nb_gan_check(const nb_gan *g);
/* The GAN step as a custom task (src/train/gan.c): per batch of real images x, z ~ N(0, 1) from
 * the library RNG, then the discriminator's step on BCE(D(x), 1) + BCE(D(G(z)) detached, 0) and
 * the generator's on BCE(D(G(z)), 1) through the updated discriminator (the non-saturating
 * loss). Metrics: d_loss, g_loss, d_real and d_fake (the mean of sigmoid(D) on the real images
 * and on the fakes, before the discriminator's update); the loss is d_loss + g_loss. In
 * evaluation (nb_evaluate) both models run in evaluation mode and nothing is updated. Give it
 * to nb_train_epoch with NULL model and optimizer; gan must outlive the task. */
nb_task nb_task_gan(nb_gan *gan);
/* n images from a generator in evaluation mode without gradients: z (n * z_dim floats), or
 * NULL to draw it from the library RNG; out receives out_numel floats (n times the values of
 * one image). Ends with nb_step_reset(): call it between training steps. */
nb_status nb_generate(nb_model *generator, int64_t n, int z_dim, const float *z, int64_t out_numel, float *out);

/* An epoch's figures. Metrics a task does not have are NaN. */
typedef struct nb_epoch_stats {
    double loss;       /* mean per sample (per scored token for NB_TASK_LM, _TOKENS, _MLM) */
    double accuracy;   /* fraction correct (per scored token for NB_TASK_LM, _TOKENS, _MLM) */
    double bits;       /* NB_TASK_LM: bits per token, loss / ln 2 */
    int64_t samples, tokens; /* tokens: scored tokens of NB_TASK_LM, _TOKENS, _MLM (else 0) */
    double seconds;
    int n_metrics;     /* the task's named metrics (NB_TASK_VAE's, a custom step's), epoch means */
    const char *metric_name[NB_MAX_METRICS];
    double metric[NB_MAX_METRICS];
} nb_epoch_stats;

/* ---- the loops -------------------------------------------------------------------------------- */
/* Called after each batch: i of n batches, the running mean loss, samples so far. */
typedef void (*nb_progress_fn)(void *ctx, int64_t i, int64_t n, double loss, int64_t samples);
typedef struct nb_train_opts {
    float clip;               /* > 0: clip gradients to this global L2 norm */
    nb_progress_fn progress;  /* may be NULL */
    void *progress_ctx;
    /* May be NULL; asked after each batch (step finished, optimizer updated): returning true
     * ends the epoch early with NB_ERR_STATE ("interrupted ..."), the rest of the source's
     * batches drawn and dropped. A program's Ctrl-C handler sets a flag that this reads. */
    bool (*stop)(void *ctx);
    void *stop_ctx;
    double max_loss;          /* > 0: a batch loss above it stops the epoch ("loss exploded") */
    /* May be NULL; see nb_grad_hook (a custom task's step calls its own). With a hook, a batch
     * of n = 0 (a process's empty share of a global batch) is a step too: the gradients are
     * zeroed, the hook is called with weight 0 and the optimizer steps, so the process takes
     * part in the step's all-reduce. */
    nb_grad_hook grad_hook;
    void *grad_hook_ctx;
} nb_train_opts;

/* One epoch of training (model in training mode). m and opt are required except for a
 * custom task (whose step owns its models). Divergence stops the epoch with NB_ERR_STATE
 * naming the epoch and batch: a loss that is not finite or above max_loss (before backward),
 * a non-finite gradient norm (before the optimizer step; the message names the first
 * parameter with a NaN or infinite gradient), or a parameter or buffer left non-finite by the
 * step (named), or optimizer state that is not finite at the end of the epoch (named). A
 * custom task's step is checked by its loss only. A stop request (opts.stop) ends it the same
 * way with "interrupted". */
nb_status nb_train_epoch(nb_model *m, nb_optim *opt, const nb_task *task, const nb_batch_source *src,
                         int64_t epoch, const nb_train_opts *o, nb_epoch_stats *out);
/* One pass in evaluation mode without gradients (epoch 0 of src; give an unshuffled one).
 * conf (may be NULL): the classification tasks' predictions (NB_TASK_TOKENS: one per scored
 * token). outputs (may be NULL): the classification tasks' softmax probabilities, N*K floats
 * in the source's order; other tasks ignore it (the token tasks give their predictions to
 * task->on_pred instead). */
nb_status nb_evaluate(nb_model *m, const nb_task *task, const nb_batch_source *src, nb_confusion *conf,
                      float *outputs, nb_epoch_stats *out);

#ifdef __cplusplus
}
#endif
#endif
