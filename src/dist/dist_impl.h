/* Internals of the data-parallel layer (src/dist/). Not installed.
 *
 * The communication primitives below are the only functions that touch MPI: comm_mpi.c
 * implements them over MPI (the only file of nabla that includes mpi.h), comm_none.c for a
 * world of one process when nabla is built without MPI. Everything else of src/dist is built
 * on them and compiles in both builds. */
#ifndef NB_DIST_IMPL_H
#define NB_DIST_IMPL_H

#include "internal.h"

/* x[0..n) := the sum over the processes, in place (float32: the gradient slab). */
nb_status nb__dist_sum_f32(float *x, int64_t n);
/* The hook's small all-reduce: *weight := the sum of the weights, *stop := the largest stop. */
nb_status nb__dist_weight_stop(double *weight, int *stop);
/* Whether h is the same on every process (one all-reduce of two words). */
nb_status nb__dist_same_u64(uint64_t h, bool *same);
/* Seconds on a monotonic clock (MPI_Wtime when built with MPI). */
double nb__dist_now(void);

#endif
