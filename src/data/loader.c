/* The batching loader: one background thread fills the next batches into a ring of buffers
 * while the caller uses the current one. Shuffling draws each epoch's order from (seed, epoch)
 * alone, with a local PRNG, so the library's global RNG is never touched and resuming is exact.
 *
 * Protocol (all under mu): slot s holds batch number ready[s] (-1: empty); the caller owns slot
 * `held` between two nb_loader_next calls; the worker may fill slot p % slots for batch p = prep
 * when that slot is neither ready nor held, so it runs at most slots - 1 batches ahead.
 *
 * Waking a sleeping thread is a system call, and on a virtual machine an interrupt to the other
 * virtual CPU: 7% of a small model's step at one thread when the worker was woken for every
 * batch. So the ring holds up to NB__LOADER_RING_BYTES of batches (2 to 8 slots), the worker
 * fills it and sleeps, and the caller wakes it only once half the ring is free (every batch with
 * 2 slots, every 4th with 8), after releasing the lock so that the worker does not wake only to
 * wait for it. */
#define _POSIX_C_SOURCE 200809L
#include "data_impl.h"

#include <pthread.h>

enum { MAX_SLOTS = 8 };
#define NB__LOADER_RING_BYTES ((int64_t)8 << 20)

struct nb_loader {
    const nb_dataset *d; /* not owned; must outlive the loader */
    int64_t batch, cap, nbatches; /* requested size, samples per buffer, batches per epoch */
    int shuffle, drop_last;
    uint64_t seed;
    int64_t *perm;      /* (N) this epoch's order of sample indices */
    int slots;          /* buffers in the ring, 2..MAX_SLOTS */
    float *x[MAX_SLOTS];        /* (cap, D) per slot */
    int64_t *y[MAX_SLOTS];      /* (cap) per slot */
    int64_t *idx[MAX_SLOTS];    /* (cap) per slot */
    int64_t count[MAX_SLOTS];   /* samples in the batch held by each slot */
    int64_t ready[MAX_SLOTS];   /* batch number waiting in each slot, or -1 */
    int held;           /* slot the caller is using, or -1 */
    int64_t prep, give; /* next batch to prepare, next batch to hand out */
    int started, busy, quit, thread_ok;
    int sleeping;       /* the worker waits on work */
    int waiters;        /* callers waiting on done */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work; /* the worker waits here for a free slot */
    pthread_cond_t done; /* callers wait here for a ready batch or an idle worker */
};

/* Fills l->perm with epoch e's order: identity, then Fisher-Yates when shuffling. */
static void make_order(nb_loader *l, int64_t e) { nb__epoch_order(l->perm, l->d->n, l->shuffle, l->seed, e); }

static int slot_free(const nb_loader *l, int s) { return l->ready[s] < 0 && l->held != s; }

static void *worker(void *arg) {
    nb_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->quit && !(l->started && l->prep < l->nbatches && slot_free(l, (int)(l->prep % l->slots)))) {
            l->sleeping = 1;
            pthread_cond_wait(&l->work, &l->mu);
            l->sleeping = 0;
        }
        if (l->quit) break;
        int64_t b = l->prep++;
        int s = (int)(b % l->slots);
        l->busy = 1;
        pthread_mutex_unlock(&l->mu);

        /* Nobody else touches slot s or perm while busy is set. */
        int64_t first = b * l->batch, n = l->d->n - first;
        if (n > l->batch) n = l->batch;
        memcpy(l->idx[s], l->perm + first, (size_t)n * sizeof(int64_t));
        nb_dataset_gather(l->d, l->idx[s], n, l->x[s], l->y[s]);
        l->count[s] = n;

        pthread_mutex_lock(&l->mu);
        l->busy = 0;
        l->ready[s] = b;
        if (l->waiters) pthread_cond_broadcast(&l->done);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

nb_loader *nb_loader_new(const nb_dataset *d, int64_t batch, int shuffle, uint64_t seed,
                         int drop_last) {
    if (!d) {
        nb__err(NB_ERR_ARG, "nb_loader_new: dataset is NULL");
        return NULL;
    }
    if (batch <= 0) {
        nb__err(NB_ERR_ARG, "nb_loader_new: batch size %lld, expected > 0", (long long)batch);
        return NULL;
    }
    if (d->n < 0 || d->dim < 0 || !d->y || (!d->x_u8 && !d->x_f32)) {
        nb__err(NB_ERR_ARG, "nb_loader_new: the dataset has no samples allocated");
        return NULL;
    }
    nb_loader *l = calloc(1, sizeof *l);
    if (!l) goto oom;
    l->d = d;
    l->batch = batch;
    l->cap = batch < d->n ? batch : (d->n > 0 ? d->n : 1);
    l->nbatches = drop_last ? d->n / batch : (d->n + batch - 1) / batch;
    l->shuffle = shuffle;
    l->drop_last = drop_last;
    l->seed = seed;
    l->held = -1;
    const int64_t slot_bytes = l->cap * ((d->dim ? d->dim : 1) * (int64_t)sizeof(float) + 2 * (int64_t)sizeof(int64_t));
    const int64_t fit = NB__LOADER_RING_BYTES / slot_bytes;
    l->slots = fit < 2 ? 2 : fit > MAX_SLOTS ? MAX_SLOTS : (int)fit;
    for (int s = 0; s < MAX_SLOTS; s++) l->ready[s] = -1;
    l->perm = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof *l->perm);
    if (!l->perm) goto oom;
    if ((uint64_t)l->cap * (uint64_t)(d->dim ? d->dim : 1) > SIZE_MAX / 2 / sizeof(float))
        goto oom;
    for (int s = 0; s < l->slots; s++) {
        l->x[s] = malloc((size_t)l->cap * (size_t)(d->dim ? d->dim : 1) * sizeof(float));
        l->y[s] = malloc((size_t)l->cap * sizeof(int64_t));
        l->idx[s] = malloc((size_t)l->cap * sizeof(int64_t));
        if (!l->x[s] || !l->y[s] || !l->idx[s]) goto oom;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work, NULL);
    pthread_cond_init(&l->done, NULL);
    int rc = pthread_create(&l->thread, NULL, worker, l);
    if (rc != 0) {
        nb__err(NB_ERR_MEM, "nb_loader_new: cannot start the loader thread: %s", strerror(rc));
        pthread_cond_destroy(&l->done);
        pthread_cond_destroy(&l->work);
        pthread_mutex_destroy(&l->mu);
        nb_loader_free(l);
        return NULL;
    }
    l->thread_ok = 1;
    return l;
oom:
    nb__err(NB_ERR_MEM, "nb_loader_new: out of memory for batches of %lld x %lld",
            (long long)batch, (long long)d->dim);
    nb_loader_free(l);
    return NULL;
}

int64_t nb_loader_batches(const nb_loader *l) { return l ? l->nbatches : 0; }

void nb_loader_start(nb_loader *l, int64_t epoch) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    /* Let a batch being filled finish: it reads perm and writes a slot we are about to
     * reset. Its result is then dropped with the rest of the old epoch. */
    while (l->busy) {
        l->waiters++;
        pthread_cond_wait(&l->done, &l->mu);
        l->waiters--;
    }
    make_order(l, epoch);
    for (int s = 0; s < l->slots; s++) l->ready[s] = -1;
    l->held = -1;
    l->prep = l->give = 0;
    l->started = 1;
    const int wake = l->sleeping;
    pthread_mutex_unlock(&l->mu);
    if (wake) pthread_cond_signal(&l->work);
}

int nb_loader_next(nb_loader *l, nb_batch *b) {
    if (!l || !b) {
        nb__err(NB_ERR_ARG, "nb_loader_next: %s is NULL", l ? "batch" : "loader");
        return 0;
    }
    pthread_mutex_lock(&l->mu);
    if (!l->started) {
        pthread_mutex_unlock(&l->mu);
        nb__err(NB_ERR_STATE, "nb_loader_next: call nb_loader_start(loader, epoch) first");
        return 0;
    }
    l->held = -1; /* the caller is done with the previous batch */
    if (l->give >= l->nbatches) {
        pthread_mutex_unlock(&l->mu);
        memset(b, 0, sizeof *b);
        return 0;
    }
    int s = (int)(l->give % l->slots);
    while (l->ready[s] != l->give) {
        if (l->sleeping) pthread_cond_signal(&l->work); /* it needs the slot just released */
        l->waiters++;
        pthread_cond_wait(&l->done, &l->mu);
        l->waiters--;
    }
    l->ready[s] = -1;
    l->held = s;
    l->give++;
    memset(b, 0, sizeof *b);
    b->n = l->count[s];
    b->x = l->x[s];
    b->y = l->y[s];
    b->idx = l->idx[s];
    nb__sample_shape(l->d, &b->x_ndim, b->x_shape);
    /* batches ready or being filled after this one: wake a sleeping worker once half the ring
     * is free (with 2 slots, when none is) */
    const int wake = l->sleeping && l->prep < l->nbatches && l->prep - l->give <= (l->slots - 1) / 2;
    pthread_mutex_unlock(&l->mu);
    if (wake) pthread_cond_signal(&l->work);
    return 1;
}

void nb_loader_free(nb_loader *l) {
    if (!l) return;
    if (l->thread_ok) {
        pthread_mutex_lock(&l->mu);
        l->quit = 1;
        pthread_cond_signal(&l->work);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        pthread_cond_destroy(&l->done);
        pthread_cond_destroy(&l->work);
        pthread_mutex_destroy(&l->mu);
    }
    for (int s = 0; s < MAX_SLOTS; s++) {
        free(l->x[s]);
        free(l->y[s]);
        free(l->idx[s]);
    }
    free(l->perm);
    free(l);
}
