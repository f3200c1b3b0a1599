/* nabla train under mpirun (cli/dist.c): data-parallel training over the processes of an MPI
 * job (src/dist/). Every function is a no-op in a run of one process. */
#ifndef NB_CLI_DIST_H
#define NB_CLI_DIST_H

#include "run.h"

/* main, before the command: under a launcher (mpirun) or with --distributed, train starts MPI
 * (other commands refuse more than one process); every process but rank 0 becomes quiet; when
 * neither --threads nor OMP_NUM_THREADS says otherwise, the machine's cores are shared among
 * its processes. Prints the error and returns 1. */
int cli_dist_begin(cli_args *a);
/* main, after the command, with its exit status: ends MPI. A process that fails ends the whole
 * job (MPI_Abort), so that no other waits for it; a stop all processes agreed on ends normally. */
int cli_dist_end(int rc);
/* Whether this process writes the run's files and prints: rank 0, or a run of one process. */
bool cli_dist_writer(void);
/* After the run's model(s), optimizer(s) and sources are built (and a checkpoint resumed):
 * checks that every process was given the same run, broadcasts rank 0's weights and optimizer
 * state, gives each process its share of the batches, prints the world size. */
int cli_dist_setup(run *r);
/* The gradient all-reduce and the agreed stop in the training options (and the GAN's). */
void cli_dist_train_opts(run *r, nb_train_opts *o);
/* After a training epoch: the figures of the whole world, batch norm's buffers averaged, the
 * weights checked to be the same everywhere. After an evaluation: its figures and confusion
 * matrix summed. Statuses with nb_last_error set. */
nb_status cli_dist_epoch(run *r, nb_epoch_stats *tr);
nb_status cli_dist_eval(run *r, nb_epoch_stats *te);
/* The signal the run stops for: the caught one (local, from cli/signals.c) in a run of one
 * process, the one every process agreed on in a data-parallel run (so that all stop after the
 * same step); 0 for none. */
int cli_dist_signal(int local);
/* The signal this process caught itself (cli/signals.c). */
int cli_signal_local(void);

#endif
