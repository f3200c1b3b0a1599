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
} nb__batch_result;

/* Forward and loss of a built-in task on one batch; classification tasks add their
 * predictions to conf (may be NULL). */
nb_status nb__task_batch(const nb_task *task, nb_model *m, const nb_batch *b, nb_confusion *conf,
                         nb__batch_result *r);
bool nb__task_has_accuracy(nb_task_kind k);

#endif
