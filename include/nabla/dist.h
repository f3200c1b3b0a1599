/* nabla data-parallel training over MPI (src/dist/), as PyTorch's DistributedDataParallel:
 * every process holds the whole model, takes its share of each global batch, and the
 * gradients are averaged across the processes before each optimizer step, so every process
 * makes the same update. Included by nabla.h.
 *
 * This header is there in every build. A nabla built without MPI (CMake option NABLA_MPI off,
 * or no MPI found) has a world of one process: nb_dist_size() is 1, the collectives below
 * leave their data as it is and return NB_OK, and only nb_dist_init() fails (it says so).
 *
 * The collectives (every function below that says so) must be called by every process of
 * the world in the same order; a process that fails should end the whole job with
 * nb_dist_abort() rather than leave the others waiting. See docs/distributed.md. */
/* nabla's own headers come before the guard, so that this header compiles on its own
 * even though nabla.h includes it back. */
#include "metrics.h"
#include "nabla.h"
#include "nn.h"
#include "train.h"

#ifndef NABLA_DIST_H
#define NABLA_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the world ------------------------------------------------------------------------------- */
/* Whether this nabla was built with MPI. */
bool nb_dist_built(void);
/* The world size a launcher announces in the environment (mpirun of Open MPI:
 * OMPI_COMM_WORLD_SIZE; MPICH's Hydra and Slurm's PMI: PMI_SIZE), or 0 when no launcher
 * started this process. Reads only the environment: MPI need not be initialized. */
int nb_dist_launched(void);
/* Initializes MPI (MPI_Init_thread, MPI_THREAD_FUNNELED: only the thread that called this
 * calls MPI; nabla's OpenMP threads and loader threads never do). Calling it again is a no-op.
 * Without MPI: NB_ERR_STATE saying so. Errors of MPI calls are returned as statuses from then
 * on (MPI_ERRORS_RETURN), not fatal. */
nb_status nb_dist_init(void);
/* Whether nb_dist_init succeeded and nb_dist_finalize has not run yet. */
bool nb_dist_initialized(void);
/* MPI_Finalize, when initialized (every process must call it: a collective). */
void nb_dist_finalize(void);
/* This process's number, 0 .. size-1 (0 when not initialized), and the world size (1). */
int nb_dist_rank(void);
int nb_dist_size(void);
/* How many processes of the world run on this machine (1 when not initialized). */
int nb_dist_local_size(void);
/* Ends every process of the job with this exit code (MPI_Abort on the world): what a process
 * that fails should do, so that the others do not wait for it in a collective forever. Does
 * not return when initialized; when not, it returns and the caller exits as it would anyway. */
void nb_dist_abort(int code);

/* ---- collectives over raw data ------------------------------------------------------------- */
/* Copies rank 0's bytes into every other process's buf. */
nb_status nb_dist_broadcast(void *buf, size_t bytes);
/* x[0..n) := the element-wise sum (nb_dist_sum) or maximum (nb_dist_max) over the
 * processes. */
nb_status nb_dist_sum(double *x, int n);
nb_status nb_dist_max(double *x, int n);
/* NB_OK when bytes[0..n) are the same on every process (compared by a 64-bit hash);
 * NB_ERR_STATE otherwise, naming `what` (e.g. "the run's plan"). */
nb_status nb_dist_check_same(const void *bytes, size_t n, const char *what);

/* ---- models, optimizers, gradients ----------------------------------------------------------- */
/* Rank 0's parameters and buffers into every process's m and, when opt (made over m's
 * parameters) is not NULL, rank 0's optimizer state: its slabs and its step count. The slabs
 * must have the same sizes on every process (an error otherwise, before anything is sent). */
nb_status nb_dist_broadcast_model(nb_model *m, nb_optim *opt);
/* Every process's buffers (batch norm's running statistics) := their mean over the
 * processes. Each process updates them from its own share of each batch; averaging the
 * running means gives exactly the running mean of the averaged shard means (the update is
 * linear), the running variances approximately the variance of the whole batches. */
nb_status nb_dist_average_buffers(nb_model *m);
/* The gradients of p := sum over processes of (weight * gradient) / sum of the weights: with
 * weight the number of samples (tokens for a language model) the process's loss averages
 * over, this is the gradient of the loss averaged over the whole global batch. A process with
 * an empty share gives weight 0 (and its gradients are ignored). One all-reduce of the
 * gradient slab (4 bytes per value) and one of two numbers. */
nb_status nb_dist_allreduce_grads(nb_params *p, double weight);

/* The training loops' gradient hook (nb_train_opts.grad_hook, nb_gan.grad_hook) with ctx an
 * nb_dist_sync: nb_dist_allreduce_grads, plus a stop that every process agrees on. A stop
 * request (a signal) reaches one process at a time; if each process stopped on its own, they
 * would stop after different batches and wait in different collectives. Instead each hook
 * call carries local_stop's answer to all processes, and nb_dist_stop (for
 * nb_train_opts.stop) answers what they agreed: every process stops after the same batch. */
typedef struct nb_dist_sync {
    /* This process's own stop request: nonzero to stop (e.g. the signal's number); NULL for
     * none. */
    int (*local_stop)(void *ctx);
    void *local_stop_ctx;
    int stop;              /* the largest local_stop answer over the processes, once nonzero */
    double comm_seconds;   /* time in the hook's all-reduces, waiting for slower processes included */
    int64_t calls;         /* hook calls */
    int64_t bytes;         /* gradient bytes all-reduced (per process, summed over calls) */
} nb_dist_sync;
nb_status nb_dist_grad_hook(void *sync, nb_params *grads_of, double weight);
bool nb_dist_stop(void *sync);

/* ---- figures ----------------------------------------------------------------------------------- */
/* An epoch's figures of this process's share := those of the whole epoch: loss, accuracy and
 * the named metrics averaged with each process's weight (samples; scored tokens for NB_TASK_LM,
 * NB_TASK_TOKENS and NB_TASK_MLM),
 * samples and tokens summed, seconds the longest. */
nb_status nb_dist_reduce_stats(nb_epoch_stats *s, nb_task_kind kind);
/* The counts of a confusion matrix summed over the processes. */
nb_status nb_dist_reduce_confusion(nb_confusion *c);
/* The counts of an entity report (entities, unseen entities, tokens) summed over the
 * processes, so that each holds the report of the whole evaluation; learned surfaces are each
 * process's own (learn the same training sentences on every process). */
nb_status nb_dist_reduce_entities(nb_entity_report *r);

/* ---- each process's share of the batches ---------------------------------------------------- */
/* The rows of a global batch of n samples that process `rank` of `size` takes: as evenly as
 * possible, the first n % size processes one more, in rank order (rank 0 the first rows). */
void nb_dist_split(int64_t n, int rank, int size, int64_t *start, int64_t *count);
/* A batch source over a global one (which must outlive it): each batch is this process's
 * rows of the global batch (nb_dist_split), pointing into the global batch's memory (no copy).
 * So the global batches, and their order for a seed, are those of a one-process run. Per
 * sample it slices x or tokens, y (by the T steps of a sample for NB_TASK_LM, NB_TASK_TOKENS and
 * NB_TASK_MLM, whose labels are per token), target, lengths and idx; carry is kept (a process always takes the same rows, so
 * a stateful model's rows continue).
 * training: an empty share (a last batch smaller than the world) is handed out as a batch of
 *   n = 0, so that the process still joins the step's gradient all-reduce (nb_train_epoch
 *   does, with a grad_hook); and at the start of each epoch, every process but rank 0 sets
 *   the library RNG (dropout, noise) to a stream drawn from rank 0's state and its rank, so
 *   that processes draw different numbers and a resumed run draws the same ones (rank 0's
 *   state is the one checkpoints keep). A collective in start().
 * not training (evaluation): empty shares are skipped. */
typedef struct nb_dist_shard nb_dist_shard;
nb_dist_shard *nb_dist_shard_new(const nb_batch_source *global, nb_task_kind kind, bool training);
nb_batch_source nb_dist_shard_source(nb_dist_shard *s);
void nb_dist_shard_free(nb_dist_shard *s);

#ifdef __cplusplus
}
#endif
#endif
