/* Internals of the metrics (src/metrics/): the arithmetic and the text layout that the
 * classification report (metrics.c) and the entity report (entities.c) share, so that both
 * round and align exactly as scikit-learn and seqeval do. Not installed. */
#ifndef NB_METRICS_IMPL_H
#define NB_METRICS_IMPL_H

#include "internal.h"

/* num/den as sklearn's _prf_divide with zero_division=0 (seqeval's with "warn"). */
double nb__prf_div(int64_t num, int64_t den);
/* F1 evaluated in sklearn's order: (1 + beta2) * p * r / (beta2 * p + r), denominator 0 -> 1. */
double nb__f1_of(double p, double r);
/* NumPy's pairwise summation of float64 (as np.sum / np.mean use), so that averages round
 * exactly as sklearn's and seqeval's do. */
double nb__pairwise_sum(const double *a, int64_t n);

/* ---- a growing text buffer ---- */
typedef struct nb__sbuf {
    char *s;
    size_t len, cap;
    bool failed;
} nb__sbuf;
void nb__sb_printf(nb__sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text (the caller frees it), or NULL with NB_ERR_MEM naming fn when a write failed. */
char *nb__sb_finish(nb__sbuf *b, const char *fn);
/* Characters (UTF-8 code points) in s, which is what Python pads by. */
int nb__text_width(const char *s);
/* s right-aligned (Python's "{:>{width}s}") or left-aligned in a field of width characters. */
void nb__sb_right(nb__sbuf *b, const char *s, int width);
void nb__sb_left(nb__sbuf *b, const char *s, int width);

/* The report table shared by sklearn's and seqeval's classification_report: the header
 * ("{:>{width}s} " + " {:>9}" * 4, then a blank line) and one row ("{:>{width}s} " +
 * " {:>9.{digits}f}" * 3 + " {:>9}", then a newline). */
void nb__report_header(nb__sbuf *b, int width);
void nb__report_row(nb__sbuf *b, const char *name, int width, int digits, double p, double r, double f,
                    int64_t support);
/* The macro average (NumPy's mean; 0 for k = 0) and the support-weighted average (np.average
 * with weights; all 0 when the supports sum to 0, as sklearn and seqeval) of per-class
 * precision p, recall r and F1 f (k each): macro, weighted := {precision, recall, f1}.
 * NB_ERR_MEM (with its message) when its scratch memory cannot be had. */
nb_status nb__report_averages(const double *p, const double *r, const double *f, const int64_t *support, int k,
                              double macro[3], double weighted[3]);

/* The entity report's tallies as one array of *n counts (entities per type, unseen entities
 * per type, tokens, right tokens) that may be summed element-wise across reports of the same
 * tags (the processes of a distributed evaluation); the learned surfaces are not in it. */
int64_t *nb__entity_report_tallies(nb_entity_report *r, int64_t *n);

#endif
