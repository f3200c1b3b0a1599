/* The OpenMP wait policy, chosen before the runtime starts.
 *
 * libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, in a constructor that runs when the
 * library loads, before main: a setenv in main (or in nb_set_threads) comes too late and there
 * is no call that changes the policy afterwards. So the command sets the policy it wants and
 * executes itself again, once, when the user's environment names neither variable. The user's
 * own setting always wins (OMP_WAIT_POLICY=active, or GOMP_SPINCOUNT=N, skips all of this).
 *
 * Why passive: between nabla's many short parallel regions, libgomp's default keeps idle threads
 * spinning (300000 rounds) before they sleep. On an idle machine that saves a wake-up; on a
 * loaded one the spinners take the cores that the busy thread needs and a 2-thread epoch ran
 * 10x slower. Passive cost little when idle and saves that (numbers: docs/architecture.md). */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv */
#include "cli.h"

#include <stdlib.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

void cli_wait_policy(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* No re-execution (no /proc, say): run on with the runtime's default policy, and leave the
     * environment of any child as the user gave it. */
    unsetenv("OMP_WAIT_POLICY");
}

/* glibc's malloc keeps freed memory for reuse. By default it maps a large block (above a
 * threshold that adapts up to 32 MiB) with mmap and unmaps it when freed, and gives the top of
 * the heap back to the kernel beyond a trim threshold, so a library that allocates a buffer per
 * call (oneDNN's GEMM packing buffers) has fresh pages faulted in call after call. Both
 * thresholds at 1 GiB keep that memory for the next call; a user's MALLOC_MMAP_THRESHOLD_ or
 * MALLOC_TRIM_THRESHOLD_ wins. (bench/train_vs_torch.py gives PyTorch and nabla the same.) */
void cli_malloc_policy(void) {
#ifdef __GLIBC__
    if (!getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 1 << 30);
    if (!getenv("MALLOC_TRIM_THRESHOLD_")) mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}
