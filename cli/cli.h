/* Shared pieces of the nabla command-line tool. */
#ifndef NB_CLI_H
#define NB_CLI_H

#include <nabla/nabla.h>

#include <stdbool.h>
#include <stdio.h>

#define CLI_MAX_EPOCHS 1000
#define CLI_N_CLASSES 10 /* MNIST and Fashion-MNIST */

/* The parsed command line. Each flag is one row of the table in main.c; `set` records which
 * were given (so a resumed run takes the others from its checkpoint). */
typedef struct cli_args {
    const char *cmd;
    const char *model, *data, *data_dir, *optimizer, *out, *resume, *checkpoint, *schedule;
    const char *init, *freeze, *reset;
    long long epochs, threads, warmup, stop_after, batch, limit_train, limit_test, seed, repeat;
    double lr, clip, head_lr, max_loss;
    bool quiet, invert, overwrite;
    const char **inputs;
    int n_inputs;
    unsigned long long set; /* bit i: the flag of table row i was given */
} cli_args;
/* Whether the flag named (e.g. "--lr") was given. */
bool cli_given(const cli_args *a, const char *flag);

/* The run's plan, kept in checkpoint metadata by the CLI (the library never reads it). */
typedef struct cli_plan {
    char model[32];    /* zoo name */
    int c, h, w, classes;
    char dataset[32];  /* e.g. "mnist" */
    int64_t epoch;     /* epochs completed */
    uint64_t seed;
    int64_t batch;
    float mean, std;   /* input normalization used in training */
    char schedule[16], optimizer[16];
    float base_lr, clip;
    int64_t warmup, epochs;
    int64_t limit_train, limit_test, train_samples;
    int threads;
    char freeze[256];  /* prefixes kept frozen (fine-tuning) */
} cli_plan;
extern const char *const cli_optimizers[]; /* NULL-terminated */
extern const char *const cli_schedules[];
nb_status cli_plan_to_meta(const cli_plan *p, nb_meta *m);
/* Parses a plan from a checkpoint's metadata; prints the error (naming path and key) and
 * returns 1 when a value is missing or out of range. */
int cli_plan_from_meta(const nb_meta *m, const char *path, cli_plan *p);
int cli_read_plan(const char *path, cli_plan *p);
/* cli_read_plan for --resume, which also needs the key 'epoch' (how many epochs were trained). */
int cli_read_resume_plan(const char *path, cli_plan *p);
bool cli_is_nabla_checkpoint(const nb_meta *m);

/* Prints "nabla: " and the message to stderr; returns 1 (the exit status). */
/* Sets OMP_WAIT_POLICY=passive and executes the command again when the environment names
 * neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT (libgomp reads them before main); returns if it
 * does not re-execute. */
void cli_wait_policy(char **argv);
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
/* Evaluates m on d (classification, unshuffled batches): stats, and optionally the confusion
 * matrix and the softmax outputs (n*classes). Prints nothing; returns the status. */
nb_status cli_evaluate(nb_model *m, const nb_dataset *d, int64_t batch, nb_confusion *conf, float *probs,
                       nb_epoch_stats *out);

int cli_train(const cli_args *a);
int cli_eval(const cli_args *a);
int cli_predict(const cli_args *a);
/* nabla bench: times a zoo model's training step (forward, loss, backward, optimizer), whole
 * and per layer, on random data, and prints the table. */
int cli_bench(const cli_args *a);

#endif
