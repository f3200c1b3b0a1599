/* nabla metrics: accuracy, confusion matrix, scikit-learn style classification report, and the
 * entity-level (NER) report of seqeval.
 * Included by nabla.h. */
/* nabla's own headers come before the guard, so that this header compiles on its own
 * even though nabla.h includes it back. */
#include "nabla.h"

#ifndef NABLA_METRICS_H
#define NABLA_METRICS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_confusion {
    int k;       /* classes */
    int64_t *m;  /* k*k counts: m[true*k + pred] */
} nb_confusion;

nb_confusion *nb_confusion_new(int k);
void nb_confusion_free(nb_confusion *c);
void nb_confusion_clear(nb_confusion *c);
/* Labels outside [0, k) are an error (NB_ERR_ARG), nothing is added. */
nb_status nb_confusion_add(nb_confusion *c, const int64_t *y_true, const int64_t *y_pred, int64_t n);
int64_t nb_confusion_total(const nb_confusion *c);
double nb_accuracy(const nb_confusion *c); /* 0 when empty */

/* Per-class precision, recall, f1 and support; precision/recall/f1 are 0 when undefined (as
 * scikit-learn with zero_division=0). Arrays of k. */
void nb_prf(const nb_confusion *c, double *precision, double *recall, double *f1,
            int64_t *support);

/* The report laid out like sklearn.metrics.classification_report(digits=digits): a header
 * line, one line per class, a blank line, then accuracy, macro avg, weighted avg. names may be
 * NULL (class numbers are used). Returns a malloc'd string the caller frees. */
char *nb_classification_report(const nb_confusion *c, const char *const *names, int digits);
/* The confusion matrix as text: rows are true classes, columns predicted. malloc'd. */
char *nb_confusion_format(const nb_confusion *c, const char *const *names);

/* Class names of a known dataset ("mnist": "0".."9"; "fashion-mnist": "T-shirt/top",
 * "Trouser", ...), or NULL. */
const char *const *nb_class_names(const char *dataset);

/* Index of the largest of each row of an (n, k) array. */
void nb_argmax_rows(const float *x, int64_t n, int k, int64_t *out);

/* ---- entity report (NER): seqeval's classification_report -------------------------------------- */
/* Entities are read from BIO tags with seqeval's default rules (mode=None, compatible with
 * conlleval): an entity starts at B-X, at an I-X after O, and at an I-X after a tag of another
 * type (conlleval's lenient reading of a stray I-); it goes on over the I-X that follow and ends
 * before O, before a B-, before a tag of another type, and at the end of the sentence. An
 * entity is (type, first token, last token); a predicted entity is correct when the gold
 * sentence has the same triple. Per type: precision = correct / predicted entities, recall =
 * correct / gold entities (the support), F1; 0 where undefined (seqeval's zero_division). */
typedef struct nb_entity_report nb_entity_report;
/* n_tags tag names (copied), each "O", "B-X" or "I-X" with a non-empty type X (which may
 * itself hold '-'); tag ids index them. Anything else is refused with NB_ERR_ARG naming the
 * tag (NULL returned). */
nb_entity_report *nb_entity_report_new(const char *const *tag_names, int n_tags);
void nb_entity_report_free(nb_entity_report *r);
/* Adds one sentence of n_tokens gold and predicted tag ids. A position whose gold id is
 * negative (-100: a sub-word's continuation, a special token) is left out of the sentence, as
 * if it were not there: the pairs that remain make the sentence that is read. Every other
 * gold and predicted id must be in [0, n_tags) (NB_ERR_ARG naming the position; nothing is
 * added). */
nb_status nb_entity_report_add(nb_entity_report *r, const int64_t *gold, const int64_t *pred, int64_t n_tokens);
/* Unseen entities (generalization to names the tagger never saw; the "unseen" split of
 * Augenstein et al., 2017): an entity's surface is the sequence of its tokens' keys, any
 * 64-bit values that name the tokens' words (nb_word_key of their text). learn records the
 * surfaces of the gold entities of one training sentence as seen (gold and keys n_tokens each;
 * negative gold ids left out as in add). add_keyed adds a sentence as add does and also counts,
 * in a second table, the gold and the predicted entities whose surface was never learned (a
 * correct pair has one surface, so both or neither count): that table's precision, recall and
 * F1 are the scores on unseen entities. keys NULL is nb_entity_report_add. */
nb_status nb_entity_report_learn(nb_entity_report *r, const int64_t *gold, const uint64_t *keys, int64_t n_tokens);
nb_status nb_entity_report_add_keyed(nb_entity_report *r, const int64_t *gold, const int64_t *pred,
                                     const uint64_t *keys, int64_t n_tokens);
/* Distinct surfaces learned. */
int64_t nb_entity_report_seen(const nb_entity_report *r);
/* Zeroes every count (entities, unseen entities, tokens); the learned surfaces stay. */
void nb_entity_report_clear(nb_entity_report *r);
/* The micro-averaged F1 over unseen entities and their support (gold unseen entities); NaN
 * (support 0) when no sentence was added with keys since the last clear. */
double nb_entity_report_unseen_f1(const nb_entity_report *r, int64_t *support);
/* The report's rows: the types that occur in a gold or a predicted entity, in name order
 * (bytewise, as Python sorts), then "micro avg", "macro avg" and "weighted avg" (seqeval's
 * averages; macro over the listed types; all 0 with no entity). Row i's name and scores, or
 * NULL when i is outside 0 .. nb_entity_report_rows(r) - 1. */
int nb_entity_report_rows(const nb_entity_report *r);
const char *nb_entity_report_row(const nb_entity_report *r, int i, double *precision, double *recall, double *f1,
                                 int64_t *support);
double nb_entity_report_micro_f1(const nb_entity_report *r);
double nb_entity_report_macro_f1(const nb_entity_report *r);
/* Tokens whose predicted tag is the gold one over tokens added (seqeval's accuracy_score);
 * 0 when none was added. */
double nb_entity_report_accuracy(const nb_entity_report *r);
int64_t nb_entity_report_tokens(const nb_entity_report *r);
/* The text of seqeval.metrics.classification_report(y_true, y_pred, digits=digits) (default
 * mode), byte for byte: a header, a row per type, a blank line, the three averages; then a
 * blank line and "token accuracy: A (C of N tokens)" with A to digits places. digits 0..30.
 * With no entity at all (where seqeval raises) the table has no type rows and zero averages.
 * When sentences were added with keys, a blank line, "unseen entities (...; S surfaces
 * learned):" and the same table over the unseen entities follow.
 * malloc'd; the caller frees it. */
char *nb_entity_report_format(const nb_entity_report *r, int digits);

#ifdef __cplusplus
}
#endif
#endif
