/* libFuzzer target: the text readers. Every input goes to
 *  - nb_vocab_parse (the input up to its first NUL): what it accepts serializes back to exactly
 *    the same string (the format is canonical), and every id maps to a token and back;
 *  - nb_charlm_load (the input as a file): ids below the vocabulary's size, the vocabulary
 *    sorted by code point, the 10% split; the stream loaders over its training ids;
 *  - nb_langid_load (the input cut at NUL bytes into the eight word lists; missing ones empty):
 *    lengths >= 1, ids and labels in range, as many training words in every class;
 *  - nb_spam_body and nb_text_encode with each tokenizer: at most 2,000 body bytes, ids in
 *    range. */
#include "fuzz_common.h"

static const char *const lists[8] = {"american-english", "ngerman", "french", "spanish",
                                     "italian", "portuguese", "dutch", "swedish"};

static void check_vocab(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    FZ_CHECK(s);
    memcpy(s, data, size);
    s[size] = '\0';
    nb_vocab *v = nb_vocab_parse(s);
    if (!v) {
        fz_refused();
        free(s);
        return;
    }
    fz_accepted("nb_vocab_parse");
    char *back = nb_vocab_serialize(v);
    FZ_CHECK(back && strcmp(back, s) == 0);
    for (int64_t id = 0; id < nb_vocab_size(v); id++) {
        const char *t = nb_vocab_token(v, id);
        FZ_CHECK(t && nb_vocab_id(v, t, strlen(t)) == id);
    }
    free(back);
    free(s);
    nb_vocab_free(v);
}

static void check_ids(const int64_t *ids, int64_t n, int64_t size) {
    for (int64_t i = 0; i < n; i++) FZ_CHECK(ids[i] >= 0 && ids[i] < size);
}

static void check_streams(const nb_char_corpus *c) {
    for (int training = 0; training < 2; training++) {
        nb_stream_loader *l = nb_stream_loader_new(c->train, c->n_train, 3, 7, training);
        if (!l) {
            fz_refused();
            continue;
        }
        nb_stream_loader_start(l, 0);
        nb_batch b;
        int64_t batches = 0;
        while (nb_stream_loader_next(l, &b)) {
            FZ_CHECK(b.n >= 1 && b.n <= 3 && b.x_shape[0] >= 1 && b.x_shape[0] <= 7);
            check_ids(b.tokens, b.n * b.x_shape[0], nb_vocab_size(c->vocab));
            batches++;
        }
        FZ_CHECK(batches == nb_stream_loader_batches(l));
        nb_stream_loader_free(l);
    }
}

static void check_charlm(const uint8_t *data, size_t size) {
    nb_char_corpus *c = nb_charlm_load(fz_write(0, "data.txt", data, size));
    if (!c) {
        fz_refused();
        return;
    }
    fz_accepted("nb_charlm_load");
    int64_t v = nb_vocab_size(c->vocab), n = c->n_train + c->n_valid;
    FZ_CHECK(v >= 1 && v <= n && c->n_valid == n / 10 && !nb_vocab_has_specials(c->vocab));
    check_ids(c->train, c->n_train, v);
    check_ids(c->valid, c->n_valid, v);
    for (int64_t i = 1; i < v; i++) FZ_CHECK(strcmp(nb_vocab_token(c->vocab, i - 1), nb_vocab_token(c->vocab, i)) < 0);
    check_streams(c);
    nb_char_corpus_free(c);
}

static void check_split(const nb_text_dataset *d, int64_t vocab) {
    FZ_CHECK(d && d->n >= 0 && d->max_len >= 1 && d->n_classes == 8);
    int64_t per[8] = {0};
    for (int64_t i = 0; i < d->n; i++) {
        FZ_CHECK(d->lengths[i] >= 1 && d->lengths[i] <= d->max_len && d->y[i] >= 0 && d->y[i] < 8);
        check_ids(d->tokens + i * d->max_len, d->lengths[i], vocab);
        for (int64_t t = d->lengths[i]; t < d->max_len; t++) FZ_CHECK(d->tokens[i * d->max_len + t] == 0);
        per[d->y[i]]++;
    }
    for (int c = 1; c < 8; c++) FZ_CHECK(per[c] == per[0]);
}

static void check_langid(const uint8_t *data, size_t size) {
    size_t at = 0;
    for (int k = 0; k < 8; k++) {
        const uint8_t *end = at < size ? memchr(data + at, 0, size - at) : NULL;
        size_t len = at < size ? (end ? (size_t)(end - data) : size) - at : 0;
        fz_write(1 + k, lists[k], data + at, len);
        at += len + 1;
    }
    nb_text_split *s = nb_langid_load(fz_dir);
    if (!s) {
        fz_refused();
        return;
    }
    fz_accepted("nb_langid_load");
    check_split(s->train, nb_vocab_size(s->vocab));
    check_split(s->test, nb_vocab_size(s->vocab));
    nb_text_split_free(s);
}

static void check_encode(const uint8_t *data, size_t size) {
    size_t blen;
    char *body = nb_spam_body((const char *)data, size, &blen);
    FZ_CHECK(body && blen <= NB_SPAM_MAX_BYTES && body[blen] == '\0');
    free(body);
    static const char *const words[] = {"the", "a", "money"}, *const chars[] = {"a", "\xC3\xA9", "\n"};
    nb_vocab *v[3] = {nb_vocab_new(NB_TOKENIZER_WORDS, true, words, 3),
                      nb_vocab_new(NB_TOKENIZER_LOWER_CHARS, true, chars, 3),
                      nb_vocab_new(NB_TOKENIZER_CHARS, false, chars, 3)};
    int64_t ids[64], n;
    for (int k = 0; k < 3; k++) {
        FZ_CHECK(v[k]);
        nb_status st = nb_text_encode(v[k], (const char *)data, size, 64, ids, &n, "input");
        FZ_CHECK(n >= 0 && n <= 64);
        if (st != NB_OK) fz_refused();
        check_ids(ids, n, nb_vocab_size(v[k]));
        FZ_CHECK(k == 0 || st != NB_OK || nb_utf8_check((const char *)data, size, "input") == NB_OK);
        nb_vocab_free(v[k]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_vocab(data, size);
    check_charlm(data, size);
    check_langid(data, size);
    check_encode(data, size);
    return 0;
}
