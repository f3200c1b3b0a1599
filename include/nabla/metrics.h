/* nabla metrics: accuracy, confusion matrix, scikit-learn style classification report.
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

#ifdef __cplusplus
}
#endif
#endif
