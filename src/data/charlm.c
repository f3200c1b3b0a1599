/* A character corpus for language models and the stream loader over its ids.
 * Protocol (docs/text-data.md): the file is UTF-8 (checked; an error names the byte offset);
 * the vocabulary is every distinct code point of the whole text, sorted, ids from 0 (no
 * <pad>, no <unk>); of the n code points the last n//10 are the validation text, the rest the
 * training text. The loader's layout of windows is described in text.h. */
#include "text_impl.h"

static int by_cp(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void nb_char_corpus_free(nb_char_corpus *c) {
    if (!c) return;
    free(c->train);
    free(c->valid);
    nb_vocab_free(c->vocab);
    free(c);
}

nb_char_corpus *nb_charlm_load(const char *path) {
    if (!path) {
        nb__err(NB_ERR_ARG, "nb_charlm_load: path is NULL");
        return NULL;
    }
    char *buf;
    size_t len;
    if (nb__read_file(path, &buf, &len) != NB_OK) return NULL;
    nb_char_corpus *c = NULL;
    uint32_t *cps = NULL, *set = NULL;
    char (*chars)[5] = NULL;
    const char **tokens = NULL;
    if (len == 0) {
        nb__err(NB_ERR_FORMAT, "%s: empty file, expected UTF-8 text", path);
        goto done;
    }
    if (nb_utf8_check(buf, len, path) != NB_OK) goto done;
    const char *nul = memchr(buf, 0, len);
    if (nul) {
        nb__err(NB_ERR_FORMAT, "%s: a NUL byte at byte %lld: not text", path, (long long)(nul - buf));
        goto done;
    }
    cps = malloc(len * sizeof *cps);
    set = malloc(len * sizeof *set);
    c = calloc(1, sizeof *c);
    if (!cps || !set || !c) goto oom;
    int64_t n = 0, v = 0;
    for (size_t i = 0; i < len; n++) i += (size_t)nb_utf8_decode(buf + i, len - i, &cps[n]);
    memcpy(set, cps, (size_t)n * sizeof *set);
    qsort(set, (size_t)n, sizeof *set, by_cp);
    for (int64_t i = 0; i < n; i++)
        if (i == 0 || set[i] != set[v - 1]) set[v++] = set[i];
    chars = malloc((size_t)v * sizeof *chars);
    tokens = malloc((size_t)v * sizeof *tokens);
    if (!chars || !tokens) goto oom;
    for (int64_t i = 0; i < v; i++) {
        chars[i][nb_utf8_encode(set[i], chars[i])] = '\0';
        tokens[i] = chars[i];
    }
    if (!(c->vocab = nb_vocab_new(NB_TOKENIZER_CHARS, false, tokens, v))) goto fail;
    c->n_valid = n / 10;
    c->n_train = n - c->n_valid;
    c->train = malloc((size_t)c->n_train * sizeof *c->train);
    c->valid = malloc((size_t)(c->n_valid ? c->n_valid : 1) * sizeof *c->valid);
    if (!c->train || !c->valid) goto oom;
    for (int64_t i = 0; i < n; i++) {
        const uint32_t *at = bsearch(&cps[i], set, (size_t)v, sizeof *set, by_cp);
        int64_t id = at - set;
        if (i < c->n_train) c->train[i] = id;
        else c->valid[i - c->n_train] = id;
    }
    goto done;
oom:
    nb__err(NB_ERR_MEM, "%s: out of memory for %zu bytes of text", path, len);
fail:
    nb_char_corpus_free(c);
    c = NULL;
done:
    free(buf);
    free(cps);
    free(set);
    free(chars);
    free(tokens);
    return c;
}

/* ---- the stream loader ------------------------------------------------------------------------ */
struct nb_stream_loader {
    const int64_t *ids; /* not owned */
    int64_t n, batch, steps, nbatches, give;
    int64_t span;       /* training: ids per stream; otherwise windows */
    bool training, started;
    int64_t *tokens, *y; /* (B, T) */
    int64_t *lengths;    /* (B) */
};

nb_stream_loader *nb_stream_loader_new(const int64_t *ids, int64_t n, int64_t batch, int64_t steps, bool training) {
    if (!ids || n < 0 || batch <= 0 || steps <= 0) {
        nb__err(NB_ERR_ARG, "nb_stream_loader_new: ids %s, n %lld, batch %lld, steps %lld: expected ids, batch > 0 "
                "and steps > 0", ids ? "set" : "NULL", (long long)n, (long long)batch, (long long)steps);
        return NULL;
    }
    int64_t span = training ? n / batch : (n - 1 + steps - 1) / steps;
    if ((training && span < 2) || (!training && n < 2)) {
        nb__err(NB_ERR_ARG, "nb_stream_loader_new: %lld ids are too few for %s (need at least %s)", (long long)n,
                training ? "that many streams" : "one window", training ? "2 ids per stream" : "2 ids");
        return NULL;
    }
    if ((uint64_t)batch * (uint64_t)steps > (SIZE_MAX / 4) / sizeof(int64_t)) {
        nb__err(NB_ERR_ARG, "nb_stream_loader_new: batches of %lld x %lld are too large", (long long)batch,
                (long long)steps);
        return NULL;
    }
    nb_stream_loader *l = calloc(1, sizeof *l);
    if (l) {
        l->ids = ids;
        l->n = n;
        l->batch = batch;
        l->steps = steps;
        l->training = training;
        l->span = span;
        l->nbatches = training ? (span - 1 + steps - 1) / steps : (span + batch - 1) / batch;
        l->tokens = malloc((size_t)(batch * steps) * sizeof *l->tokens);
        l->y = malloc((size_t)(batch * steps) * sizeof *l->y);
        l->lengths = malloc((size_t)batch * sizeof *l->lengths);
    }
    if (!l || !l->tokens || !l->y || !l->lengths) {
        nb__err(NB_ERR_MEM, "nb_stream_loader_new: out of memory for batches of %lld x %lld", (long long)batch,
                (long long)steps);
        nb_stream_loader_free(l);
        return NULL;
    }
    return l;
}

int64_t nb_stream_loader_batches(const nb_stream_loader *l) { return l ? l->nbatches : 0; }

void nb_stream_loader_start(nb_stream_loader *l, int64_t epoch) {
    (void)epoch; /* every epoch is the same pass over the streams */
    if (!l) return;
    l->give = 0;
    l->started = true;
}

int nb_stream_loader_next(nb_stream_loader *l, nb_batch *b) {
    if (!l || !b) {
        nb__err(NB_ERR_ARG, "nb_stream_loader_next: %s is NULL", l ? "batch" : "loader");
        return 0;
    }
    memset(b, 0, sizeof *b);
    if (!l->started) {
        nb__err(NB_ERR_STATE, "nb_stream_loader_next: call nb_stream_loader_start(loader, epoch) first");
        return 0;
    }
    if (l->give >= l->nbatches) return 0;
    int64_t k = l->give++, T = l->steps, rows = l->batch;
    if (l->training) { /* row i = stream i = ids[i*span, (i+1)*span), steps [kT, kT+T) */
        int64_t t0 = k * T;
        if (T > l->span - 1 - t0) T = l->span - 1 - t0;
        for (int64_t i = 0; i < rows; i++)
            for (int64_t t = 0; t < T; t++) {
                l->tokens[i * T + t] = l->ids[i * l->span + t0 + t];
                l->y[i * T + t] = l->ids[i * l->span + t0 + t + 1];
            }
        b->carry = k > 0;
    } else { /* row i = window kB+i = inputs ids[jT, jT+len), padded with 0 to the longest */
        int64_t first = k * l->batch;
        if (rows > l->span - first) rows = l->span - first;
        int64_t longest = 0;
        for (int64_t i = 0; i < rows; i++) {
            int64_t s = (first + i) * l->steps, len = l->n - 1 - s;
            l->lengths[i] = len < l->steps ? len : l->steps;
            if (l->lengths[i] > longest) longest = l->lengths[i];
        }
        T = longest;
        for (int64_t i = 0; i < rows; i++) {
            int64_t s = (first + i) * l->steps;
            for (int64_t t = 0; t < T; t++) {
                bool in = t < l->lengths[i];
                l->tokens[i * T + t] = in ? l->ids[s + t] : 0;
                l->y[i * T + t] = in ? l->ids[s + t + 1] : 0;
            }
        }
        b->lengths = l->lengths;
        b->carry = false;
    }
    b->n = rows;
    b->tokens = l->tokens;
    b->x_ndim = 1;
    b->x_shape[0] = T;
    b->y = l->y;
    return 1;
}

void nb_stream_loader_free(nb_stream_loader *l) {
    if (!l) return;
    free(l->tokens);
    free(l->y);
    free(l->lengths);
    free(l);
}
