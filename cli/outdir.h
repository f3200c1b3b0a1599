/* The --out folder of nabla train (cli/outdir.c) and Ctrl-C handling (cli/signals.c): what a
 * run finds there at its start, what it leaves after a kill, a full disk or an interruption. */
#ifndef NB_CLI_OUTDIR_H
#define NB_CLI_OUTDIR_H

#include "cli.h"

/* At the start of train, once the folder exists: removes the "<name>.tmp.<pid>" files of
 * processes that are no longer alive (left by kills); without --resume, refuses a folder that
 * holds another run's files (a checkpoint, a model or a non-empty metrics.jsonl) unless
 * overwrite, which deletes them. Prints the error and returns 1. */
int outdir_prepare(const char *dir, bool resume, bool overwrite, bool quiet);
/* Whether the final outputs (model, report, the pictures a run of this zoo model writes) are in
 * dir and not older than ckpt: the run that wrote ckpt finished. */
bool outdir_outputs_done(const char *dir, const char *ckpt, const char *model);
/* Whether dir's file system has room for the run of a model of numel parameters: two
 * checkpoints with the optimizer's state (old and new side by side while one replaces the
 * other; one if a checkpoint is already there), the model, logs and pictures. */
int outdir_check_space(const char *dir, int64_t numel);
/* "nabla: warning: <the last error> (...)": a picture that could not be written costs no run. */
void outdir_warn_picture(void);

/* SIGINT and SIGTERM set a flag instead of killing the process (a second one kills it). */
void cli_signals_install(void);
void cli_signals_restore(void);
/* The signal caught (SIGINT or SIGTERM), or 0. */
int cli_signal_caught(void);
/* For nb_train_opts.stop: whether a signal was caught. */
bool cli_stop_requested(void *ctx);
/* Prints how to go on after an interruption during (or after) epoch done + 1, with ckpt the
 * checkpoint of epoch done (NULL: none); returns the exit status, 128 + the signal. */
int cli_interrupted(long long done, bool during, const char *ckpt);

#endif
