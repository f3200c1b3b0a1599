/* Per-epoch records of a training run, kept in metrics.jsonl. */
#ifndef NB_CLI_HISTORY_H
#define NB_CLI_HISTORY_H

#include "cli.h"

#define HISTORY_MAX_EXTRA 12
typedef struct history {
    int n;
    double tl[CLI_MAX_EPOCHS], vl[CLI_MAX_EPOCHS], ta[CLI_MAX_EPOCHS], va[CLI_MAX_EPOCHS];
    double secs[CLI_MAX_EPOCHS], rate[CLI_MAX_EPOCHS];
    bool bits; /* a language model's run: train_bpc and test_bpc (bits per character) too */
    double tb[CLI_MAX_EPOCHS], vb[CLI_MAX_EPOCHS];
    /* named series beyond those (test_mse, d_loss, ...), logged after the others */
    int n_extra;
    char extra_name[HISTORY_MAX_EXTRA][32];
    double extra[HISTORY_MAX_EXTRA][CLI_MAX_EPOCHS];
} history;

/* On --resume, the epochs already in metrics.jsonl (up to the checkpoint's) are kept. */
void history_read(const char *path, int64_t upto, history *h);
/* Epochs without a record up to n are logged as null. */
void history_pad(history *h, int64_t n);
void history_add(history *h, double tl, double ta, double vl, double va, double secs, double rate);
/* The bits per character of the epoch added last (a language model's run). */
void history_set_bits(history *h, double train_bits, double test_bits);
/* Sets series `name` (1-31 characters of [a-z0-9_]) of the epoch added last; a new series is
 * null for the epochs before. Ignored beyond HISTORY_MAX_EXTRA series. */
void history_set(history *h, const char *name, double v);
/* The series `name` (h->n values), or NULL. */
const double *history_get(const history *h, const char *name);
/* Rewrites metrics.jsonl with the history (atomically); prints the error and returns 1. */
int history_write(const char *path, const history *h);

#endif
