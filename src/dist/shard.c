/* Each process's share of the global batches: a batch source over the global one that hands
 * out this process's rows of every batch, as pointers into the global batch (no copy). */
#include "dist/dist_impl.h"
#include "train/train_impl.h"

struct nb_dist_shard {
    nb_batch_source global;
    nb_task_kind kind;
    bool training;
    int rank, size;
};

void nb_dist_split(int64_t n, int rank, int size, int64_t *start, int64_t *count) {
    if (size < 1) size = 1;
    if (rank < 0 || rank >= size || n < 0) {
        *start = *count = 0;
        return;
    }
    const int64_t q = n / size, r = n % size;
    *count = q + (rank < r);
    *start = rank * q + (rank < r ? rank : r);
}

/* Rows [s, s + k) of g into b. */
static void slice(const nb_dist_shard *d, const nb_batch *g, int64_t s, int64_t k, nb_batch *b) {
    *b = *g;
    int64_t per = 1; /* values (or token ids) per sample */
    for (int i = 0; i < g->x_ndim && i < NB_MAX_DIMS - 1; i++) per *= g->x_shape[i];
    b->n = k;
    if (g->x) b->x = g->x + s * per;
    if (g->tokens) b->tokens = g->tokens + s * per;
    if (g->y) b->y = g->y + s * (nb__task_per_token(d->kind) ? per : 1); /* LM, token tasks: a label per token */
    if (g->target) b->target = g->target + s * g->target_dim;
    if (g->lengths) b->lengths = g->lengths + s;
    if (g->idx) b->idx = g->idx + s;
}

static int64_t shard_count(void *ctx) {
    nb_dist_shard *d = ctx;
    return d->global.count ? d->global.count(d->global.ctx) : 0;
}

/* Every process but rank 0 draws from its own stream, made from rank 0's state and its rank
 * alone: different numbers on each process, the same ones when a run is resumed from rank 0's
 * checkpointed state. */
static void sync_rng(const nb_dist_shard *d) {
    uint64_t s[4];
    nb_rng_get_state(s);
    if (nb_dist_broadcast(s, sizeof s) != NB_OK || d->rank == 0) return;
    uint64_t x = s[0] ^ (s[1] << 1) ^ (s[2] << 2) ^ (s[3] << 3) ^ ((uint64_t)d->rank * 0xd1b54a32d192ed03ull), mixed[4];
    for (int i = 0; i < 4; i++) mixed[i] = nb_splitmix64(&x) ^ s[i];
    if ((mixed[0] | mixed[1] | mixed[2] | mixed[3]) == 0) mixed[0] = 1;
    nb_rng_set_state(mixed);
}

static void shard_start(void *ctx, int64_t epoch) {
    nb_dist_shard *d = ctx;
    d->global.start(d->global.ctx, epoch);
    if (d->training && d->size > 1) sync_rng(d);
}

static int shard_next(void *ctx, nb_batch *b) {
    nb_dist_shard *d = ctx;
    nb_batch g;
    for (;;) {
        if (!d->global.next(d->global.ctx, &g)) {
            memset(b, 0, sizeof *b);
            return 0;
        }
        int64_t s, k;
        nb_dist_split(g.n, d->rank, d->size, &s, &k);
        if (k == 0 && !d->training) continue; /* evaluation: nothing of this batch here */
        slice(d, &g, s, k, b);
        return 1;
    }
}

nb_dist_shard *nb_dist_shard_new(const nb_batch_source *global, nb_task_kind kind, bool training) {
    if (!global || !global->start || !global->next) {
        nb__err(NB_ERR_ARG, "nb_dist_shard_new: a global batch source (start, next) is required");
        return NULL;
    }
    nb_dist_shard *d = calloc(1, sizeof *d);
    if (!d) {
        nb__err(NB_ERR_MEM, "nb_dist_shard_new: out of memory");
        return NULL;
    }
    *d = (nb_dist_shard){.global = *global, .kind = kind, .training = training, .rank = nb_dist_rank(),
                         .size = nb_dist_size()};
    return d;
}

nb_batch_source nb_dist_shard_source(nb_dist_shard *d) {
    return (nb_batch_source){.ctx = d, .count = d ? shard_count : NULL, .start = d ? shard_start : NULL,
                             .next = d ? shard_next : NULL};
}

void nb_dist_shard_free(nb_dist_shard *d) { free(d); }
