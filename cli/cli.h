/* Shared pieces of the nabla command-line tool. */
#ifndef NB_CLI_H
#define NB_CLI_H

#include <nabla/nabla.h>

#include <stdbool.h>
#include <stdio.h>

typedef struct cli_args {
    const char *cmd;
    const char *model, *data, *data_dir, *optimizer, *out, *resume, *checkpoint, *schedule;
    int epochs, threads, warmup, stop_after;
    int64_t batch, limit_train, limit_test;
    double lr, clip;
    uint64_t seed;
    bool quiet, invert, seed_set, batch_set, lr_set, optimizer_set, schedule_set, warmup_set, clip_set,
        epochs_set, out_set, limit_train_set, limit_test_set;
    const char **inputs;
    int n_inputs;
} cli_args;

/* Prints "nabla: " and the message to stderr; returns 1 (the exit status). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Finds the folder holding the dataset's IDX files; prints the install command if none. */
int cli_find_data(const char *name, const char *data_dir, char *out, size_t cap);
/* Loads the train (train=1) or test set of dataset `name` from dir, applies the normalization
 * and an optional limit (0 = all), and checks that the labels fit `classes` and that the first
 * labels are not those of the other known dataset. NULL after printing the error. */
nb_dataset *cli_load(const char *name, const char *dir, int train, int64_t limit, float mean, float std,
                     int classes);
/* The normalization (mean, std of the training pixels in [0,1]) of a known dataset. */
void cli_norm(const char *data, float *mean, float *std);
bool cli_known_data(const char *name);

int cli_train(const cli_args *a);
int cli_eval(const cli_args *a);
int cli_predict(const cli_args *a);

#endif
