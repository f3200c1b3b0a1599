/* Text datasets (padded token ids, lengths, labels, class names, optional per-token tags), the
 * sequences they are made from, and the batching loader over them. */
#include "text_impl.h"

void nb_text_dataset_free(nb_text_dataset *d) {
    if (!d) return;
    for (int c = 0; d->class_names && c < d->n_classes; c++) free(d->class_names[c]);
    free(d->class_names);
    for (int c = 0; d->tag_names && c < d->n_tags; c++) free(d->tag_names[c]);
    free(d->tag_names);
    free(d->tags);
    free(d->word_keys);
    free(d->tokens);
    free(d->lengths);
    free(d->y);
    free(d);
}

void nb_text_split_free(nb_text_split *s) {
    if (!s) return;
    nb_text_dataset_free(s->train);
    nb_text_dataset_free(s->test);
    nb_vocab_free(s->vocab);
    free(s);
}

nb_text_dataset *nb__text_dataset_new(int64_t n, int64_t max_len, int n_classes, const char *const *class_names,
                                      const char *what) {
    nb_text_dataset *d = calloc(1, sizeof *d);
    bool fits = n >= 0 && max_len >= 1 && (uint64_t)n * (uint64_t)max_len < SIZE_MAX / 16;
    if (d && fits) {
        d->n = n;
        d->max_len = max_len;
        d->n_classes = n_classes;
        d->tokens = calloc((size_t)(n * max_len + 1), sizeof *d->tokens);
        d->lengths = calloc((size_t)n + 1, sizeof *d->lengths);
        d->y = calloc((size_t)n + 1, sizeof *d->y);
        d->class_names = calloc((size_t)n_classes + 1, sizeof *d->class_names);
    }
    bool ok = d && fits && d->tokens && d->lengths && d->y && d->class_names;
    for (int c = 0; ok && c < n_classes; c++) {
        d->class_names[c] = malloc(strlen(class_names[c]) + 1);
        if (d->class_names[c]) strcpy(d->class_names[c], class_names[c]);
        else ok = false;
    }
    if (!ok) {
        nb__err(NB_ERR_MEM, "%s: out of memory for %lld sequences of up to %lld tokens", what, (long long)n,
                (long long)max_len);
        nb_text_dataset_free(d);
        return NULL;
    }
    return d;
}

nb_status nb__text_dataset_add_tags(nb_text_dataset *d, int n_tags, const char *const *tag_names, const char *what) {
    d->tags = malloc((size_t)(d->n * d->max_len + 1) * sizeof *d->tags);
    d->tag_names = calloc((size_t)n_tags + 1, sizeof *d->tag_names);
    bool ok = d->tags && d->tag_names;
    if (ok) d->n_tags = n_tags;
    for (int c = 0; ok && c < n_tags; c++) {
        d->tag_names[c] = malloc(strlen(tag_names[c]) + 1);
        if (d->tag_names[c]) strcpy(d->tag_names[c], tag_names[c]);
        else ok = false;
    }
    if (!ok) return nb__err(NB_ERR_MEM, "%s: out of memory for the tags of %lld sequences", what, (long long)d->n);
    for (int64_t i = 0; i < d->n * d->max_len; i++) d->tags[i] = NB_TAG_PAD;
    return NB_OK;
}

nb_text_dataset *nb_text_dataset_subset(const nb_text_dataset *d, int64_t n) {
    if (!d || n < 1 || n > d->n) {
        nb__err(NB_ERR_ARG, "nb_text_dataset_subset: %lld of %lld samples", (long long)n, d ? (long long)d->n : 0LL);
        return NULL;
    }
    int64_t longest = 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t len = d->lengths[i * d->n / n];
        if (len > longest) longest = len;
    }
    nb_text_dataset *s = nb__text_dataset_new(n, longest, d->n_classes, (const char *const *)d->class_names,
                                              "nb_text_dataset_subset");
    for (int64_t i = 0; s && i < n; i++) {
        int64_t k = i * d->n / n; /* evenly spaced: every class keeps its share */
        s->lengths[i] = d->lengths[k];
        s->y[i] = d->y[k];
        memcpy(s->tokens + i * longest, d->tokens + k * d->max_len, (size_t)d->lengths[k] * sizeof *s->tokens);
    }
    if (s && d->tags && nb__text_dataset_add_tags(s, d->n_tags, (const char *const *)d->tag_names,
                                                  "nb_text_dataset_subset") != NB_OK) {
        nb_text_dataset_free(s);
        return NULL;
    }
    for (int64_t i = 0; s && s->tags && i < n; i++) {
        int64_t k = i * d->n / n;
        memcpy(s->tags + i * longest, d->tags + k * d->max_len, (size_t)d->lengths[k] * sizeof *s->tags);
    }
    if (s && d->word_keys && !(s->word_keys = calloc((size_t)(n * longest + 1), sizeof *s->word_keys))) {
        nb__err(NB_ERR_MEM, "nb_text_dataset_subset: out of memory for the word keys of %lld sequences", (long long)n);
        nb_text_dataset_free(s);
        return NULL;
    }
    for (int64_t i = 0; s && s->word_keys && i < n; i++) {
        int64_t k = i * d->n / n;
        memcpy(s->word_keys + i * longest, d->word_keys + k * d->max_len, (size_t)d->lengths[k] * sizeof *s->word_keys);
    }
    return s;
}

/* ---- sequences being gathered ---------------------------------------------------------------- */
nb_status nb__seqs_add(nb__seqs *s, const int64_t *ids, int64_t len, int64_t label) {
    if (s->n + 1 >= s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 256;
        int64_t *st = realloc(s->start, (size_t)cap * sizeof *st);
        if (st) s->start = st;
        int64_t *lb = realloc(s->label, (size_t)cap * sizeof *lb);
        if (lb) s->label = lb;
        if (!st || !lb) return NB_ERR_MEM;
        if (s->cap == 0) s->start[0] = 0;
        s->cap = cap;
    }
    if (s->total + len > s->room) {
        int64_t room = s->room ? 2 * s->room : 4096;
        while (room < s->total + len) room *= 2;
        int64_t *g = realloc(s->ids, (size_t)room * sizeof *g);
        if (!g) return NB_ERR_MEM;
        s->ids = g;
        s->room = room;
    }
    memcpy(s->ids + s->total, ids, (size_t)len * sizeof *ids);
    s->total += len;
    s->label[s->n] = label;
    s->start[++s->n] = s->total;
    if (len > s->max_len) s->max_len = len;
    return NB_OK;
}

void nb__seqs_free(nb__seqs *s) {
    free(s->start);
    free(s->ids);
    free(s->label);
    memset(s, 0, sizeof *s);
}

nb_text_dataset *nb__seqs_dataset(const nb__seqs *s, const int64_t *order, int64_t count, int n_classes,
                                  const char *const *class_names, const char *what) {
    int64_t T = 1;
    for (int64_t k = 0; k < count; k++) {
        int64_t i = order ? order[k] : k, len = s->start[i + 1] - s->start[i];
        if (len > T) T = len;
    }
    nb_text_dataset *d = nb__text_dataset_new(count, T, n_classes, class_names, what);
    if (!d) return NULL;
    for (int64_t k = 0; k < count; k++) {
        int64_t i = order ? order[k] : k, len = s->start[i + 1] - s->start[i];
        memcpy(d->tokens + k * T, s->ids + s->start[i], (size_t)len * sizeof *d->tokens);
        d->lengths[k] = len;
        d->y[k] = s->label[i];
    }
    return d;
}

/* ---- the batching loader --------------------------------------------------------------------- */
struct nb_text_loader {
    const nb_text_dataset *d; /* not owned */
    int64_t batch, cap, nbatches, give;
    bool shuffle, started;
    uint64_t seed;
    int64_t *perm;              /* (N) this epoch's order */
    int64_t *tokens;            /* (cap, T) with T the batch's longest */
    int64_t *lengths, *idx;     /* (cap) */
    int64_t *y;                 /* (cap) labels, or (cap, T) tags when the dataset has them */
};

nb_text_loader *nb_text_loader_new(const nb_text_dataset *d, int64_t batch, bool shuffle, uint64_t seed,
                                   bool drop_last) {
    if (!d || batch <= 0 || d->n < 0 || d->max_len < 1 || !d->tokens || !d->lengths || !d->y) {
        nb__err(NB_ERR_ARG, "nb_text_loader_new: %s", !d ? "dataset is NULL" : batch <= 0 ? "batch size must be > 0"
                                                                             : "the dataset has no samples allocated");
        return NULL;
    }
    for (int64_t i = 0; i < d->n; i++)
        if (d->lengths[i] < 1 || d->lengths[i] > d->max_len) {
            nb__err(NB_ERR_ARG, "nb_text_loader_new: sample %lld has length %lld, expected 1..%lld", (long long)i,
                    (long long)d->lengths[i], (long long)d->max_len);
            return NULL;
        }
    nb_text_loader *l = calloc(1, sizeof *l);
    if (!l) goto oom;
    l->d = d;
    l->batch = batch;
    l->cap = batch < d->n ? batch : (d->n > 0 ? d->n : 1);
    l->nbatches = drop_last ? d->n / batch : (d->n + batch - 1) / batch;
    l->shuffle = shuffle;
    l->seed = seed;
    l->perm = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof *l->perm);
    l->tokens = malloc((size_t)l->cap * (size_t)d->max_len * sizeof *l->tokens);
    l->lengths = malloc((size_t)l->cap * sizeof *l->lengths);
    l->y = malloc((size_t)l->cap * (size_t)(d->tags ? d->max_len : 1) * sizeof *l->y);
    l->idx = malloc((size_t)l->cap * sizeof *l->idx);
    if (!l->perm || !l->tokens || !l->lengths || !l->y || !l->idx) goto oom;
    return l;
oom:
    nb__err(NB_ERR_MEM, "nb_text_loader_new: out of memory for batches of %lld x %lld tokens", (long long)batch,
            (long long)d->max_len);
    nb_text_loader_free(l);
    return NULL;
}

int64_t nb_text_loader_batches(const nb_text_loader *l) { return l ? l->nbatches : 0; }

void nb_text_loader_start(nb_text_loader *l, int64_t epoch) {
    if (!l) return;
    nb__epoch_order(l->perm, l->d->n, l->shuffle, l->seed, epoch);
    l->give = 0;
    l->started = true;
}

int nb_text_loader_next(nb_text_loader *l, nb_batch *b) {
    if (!l || !b) {
        nb__err(NB_ERR_ARG, "nb_text_loader_next: %s is NULL", l ? "batch" : "loader");
        return 0;
    }
    memset(b, 0, sizeof *b);
    if (!l->started) {
        nb__err(NB_ERR_STATE, "nb_text_loader_next: call nb_text_loader_start(loader, epoch) first");
        return 0;
    }
    if (l->give >= l->nbatches) return 0;
    const nb_text_dataset *d = l->d;
    int64_t first = l->give++ * l->batch, n = d->n - first, T = 1;
    if (n > l->batch) n = l->batch;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = l->perm[first + k];
        l->idx[k] = i;
        l->lengths[k] = d->lengths[i];
        if (!d->tags) l->y[k] = d->y[i];
        if (d->lengths[i] > T) T = d->lengths[i];
    }
    for (int64_t k = 0; k < n; k++) /* (n, T): the batch's longest; d pads with 0 already */
        memcpy(l->tokens + k * T, d->tokens + l->idx[k] * d->max_len, (size_t)T * sizeof *l->tokens);
    for (int64_t k = 0; d->tags && k < n; k++) /* (n, T) tags; d pads with NB_TAG_PAD already */
        memcpy(l->y + k * T, d->tags + l->idx[k] * d->max_len, (size_t)T * sizeof *l->y);
    b->n = n;
    b->tokens = l->tokens;
    b->x_ndim = 1;
    b->x_shape[0] = T;
    b->lengths = l->lengths;
    b->y = l->y;
    b->idx = l->idx;
    b->carry = false;
    return 1;
}

void nb_text_loader_free(nb_text_loader *l) {
    if (!l) return;
    free(l->perm);
    free(l->tokens);
    free(l->lengths);
    free(l->y);
    free(l->idx);
    free(l);
}
