/* Internals of the training loops (src/train/). Not installed. */
#ifndef NB_TRAIN_IMPL_H
#define NB_TRAIN_IMPL_H

#include "internal.h"

/* What one batch of a built-in task gave: the loss (a step tensor), the number of samples or
 * tokens it averages over, correct predictions, and the logits the counts came from. */
typedef struct nb__batch_result {
    nb_tensor *loss, *logits;
    int64_t weight, correct;
    nb_step_result metrics; /* named per-sample means (its loss unused) */
    const int64_t *pred;    /* token tasks: (N*T) predicted class per position, -1 where none
                             * (nb_token_pred_fn); step memory; NULL for the other tasks */
} nb__batch_result;

/* Forward and loss of a built-in task on one batch; classification tasks add their
 * predictions to conf (may be NULL). */
nb_status nb__task_batch(const nb_task *task, nb_model *m, const nb_batch *b, nb_confusion *conf,
                         nb__batch_result *r);
bool nb__task_has_accuracy(nb_task_kind k);
/* Whether k is a task kind this library knows. */
bool nb__task_known(nb_task_kind k);
/* Whether k's labels are one per token (N*T) and its weight is tokens: LM, TOKENS, MLM. */
bool nb__task_per_token(nb_task_kind k);

/* The token tasks (src/train/tokens.c). */
nb_status nb__task_tokens(const nb_task *task, nb_model *m, const nb_batch *b, nb_confusion *conf,
                          nb__batch_result *r);
nb_status nb__task_mlm(const nb_task *task, nb_model *m, const nb_batch *b, nb__batch_result *r);
/* NB_TASK_MLM's masking of batch b (the task's fields and the batch checked first): ids (N*T)
 * := the model's input, tgt (N*T) := the original id at the selected positions, -1 elsewhere.
 * training: every draw from the library RNG; else from each sample's own splitmix64 stream. */
nb_status nb__mlm_mask(const nb_task *task, const nb_batch *b, bool training, int64_t *ids, int64_t *tgt);
/* NB_TASK_TOKENS' word-dropout fields: NB_ERR_ARG naming the field unless word_dropout is in
 * [0, 1) and, when it is > 0, the table is set and its entries lie in [0, word_unk_n). */
nb_status nb__check_word_dropout(const nb_task *task);
/* NB_TASK_TOKENS' word dropout of batch b (the task's fields and the batch checked first): ids
 * (N*T) := b->tokens with, when training and word_dropout > 0, each eligible real token (t <
 * length, 0 <= id < word_unk_n, word_unk[id] != id) replaced by word_unk[id] when its one
 * uniform draw from the library RNG (sample by sample, step by step) is < word_dropout. Not
 * training, or word_dropout 0: a plain copy and no draws. *replaced (may be NULL) := count. */
nb_status nb__word_dropout(const nb_task *task, const nb_batch *b, bool training, int64_t *ids, int64_t *replaced);

#endif
