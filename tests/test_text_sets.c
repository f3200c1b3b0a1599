/* The text datasets on files: spam, langid and the char-LM corpus on the committed slices in
 * fixtures/text (the expected splits computed by the Python of docs/text-data.md), bad input
 * (missing folders and files, empty files, invalid UTF-8) in a temp folder, and, when
 * scripts/data.sh installed them in ../data, the real sets' sizes and a digest of their ids
 * that the same Python gives. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "internal.h"

#include <sys/stat.h>
#include <unistd.h>

#define FIX "fixtures/text"

static int err_has(const char *a, const char *b) {
    const char *m = nb_last_error();
    return strstr(m, a) && (!b || strstr(m, b));
}
static const char *or_empty(const char *s) { return s ? s : ""; }
#define CHECK_ERR(failed, a, b) \
    CHECK((failed) && err_has(a, b), "expected an error with '%s' and '%s', got '%s'", a, or_empty(b), nb_last_error())

/* FNV-1a over (label, ids..., -1) of every sample: the digest the Python prints. */
static uint64_t mix(uint64_t h, int64_t v) { return (h ^ (uint64_t)v) * 0x100000001b3ull; }
static uint64_t digest(const nb_text_dataset *d) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int64_t i = 0; i < d->n; i++) {
        h = mix(h, d->y[i]);
        for (int64_t t = 0; t < d->lengths[i]; t++) h = mix(h, d->tokens[i * d->max_len + t]);
        h = mix(h, -1);
    }
    return h;
}

/* The digest of one stream as a sample of label 0 (the Python's charlm train and valid). */
static uint64_t stream_digest(const int64_t *ids, int64_t n) {
    uint64_t h = mix(0xcbf29ce484222325ull, 0);
    for (int64_t i = 0; i < n; i++) h = mix(h, ids[i]);
    return mix(h, -1);
}

/* Sample i as text, "?" for <unk>. */
static const char *text_of(const nb_text_dataset *d, const nb_vocab *v, int64_t i, const char *sep) {
    static char out[512];
    out[0] = '\0';
    for (int64_t t = 0; t < d->lengths[i] && strlen(out) < 400; t++) {
        int64_t id = d->tokens[i * d->max_len + t];
        if (t) strcat(out, sep);
        strcat(out, id == NB_VOCAB_UNK ? "?" : nb_vocab_token(v, id));
    }
    return out;
}

static void test_spam_body(void) {
    size_t n;
    char *b = nb_spam_body("A: b\nC: d\n\nHello\n\nthere", 23, &n);
    CHECK(b && n == 12 && !strcmp(b, "Hello\n\nthere"), "body after the first empty line: '%s'", b);
    free(b);
    b = nb_spam_body("A: b\r\n\r\nHi\r\nyou\r\r\n", 19, &n);
    CHECK(b && !strcmp(b, "Hi\nyou\r\n"), "\\r\\n read as \\n (\"\\r\\r\\n\" -> \"\\r\\n\"): '%s'", b);
    free(b);
    b = nb_spam_body("\nall body", 9, &n);
    CHECK(b && !strcmp(b, "all body"), "a leading empty line: '%s'", b);
    free(b);
    b = nb_spam_body("A: b\nC: d\n", 10, &n);
    CHECK(b && n == 0, "no empty line: no body");
    free(b);
    char big[5000];
    memset(big, 'x', sizeof big);
    memcpy(big, "S: x\n\n", 6);
    b = nb_spam_body(big, sizeof big, &n);
    CHECK(b && n == NB_SPAM_MAX_BYTES && strlen(b) == NB_SPAM_MAX_BYTES, "cut to 2,000 bytes");
    free(b);
}

static void test_spam_fixture(void) {
    nb_text_split *s = nb_spam_load(FIX "/spam");
    CHECK(s, "spam fixture: %s", nb_last_error());
    if (!s) return;
    const nb_text_dataset *tr = s->train, *te = s->test;
    /* Shuffled ham (eee ccc fff ddd aaa bbb) and spam (kkk jjj iii hhh ggg): the first of each
     * is test. Every mail has its own token count, so the lengths show the order. */
    int64_t len[9] = {1, 4, 7, 5, 6, 200, 6, 2, 7}, lab[9] = {0, 0, 0, 0, 0, 1, 1, 1, 1};
    bool ok = tr->n == 9 && te->n == 2 && tr->max_len == 200 && te->max_len == 4;
    for (int i = 0; ok && i < 9; i++) ok &= tr->lengths[i] == len[i] && tr->y[i] == lab[i];
    CHECK(ok, "train lengths and labels in the protocol's order");
    CHECK(te->n == 2 && te->lengths[0] == 3 && te->y[0] == 0 && te->lengths[1] == 4 && te->y[1] == 1, "test: eee, kkk");
    CHECK(tr->n_classes == 2 && !strcmp(tr->class_names[0], "ham") && !strcmp(te->class_names[1], "spam"), "classes");
    CHECK(nb_vocab_size(s->vocab) == 31 && nb_vocab_tokenizer(s->vocab) == NB_TOKENIZER_WORDS, "vocabulary of 29 words");
    const char *first[] = {"<pad>", "<unk>", "money", "the", "cheap", "is", "win", "at", "bring", "caf", "click", "for"};
    for (int i = 0; i < 12; i++) CHECK(!strcmp(or_empty(nb_vocab_token(s->vocab, i)), first[i]), "id %d", i);
    CHECK(!strcmp(text_of(tr, s->vocab, 0, " "), "?"), "a mail without tokens is one <unk>");
    CHECK(!strcmp(text_of(tr, s->vocab, 2, " "), "the report is ready for the team"), "CRLF mail: '%s'",
          text_of(tr, s->vocab, 2, " "));
    CHECK(!strcmp(text_of(tr, s->vocab, 1, " "), "caf news the menu"), "Latin-1 byte splits words: '%s'",
          text_of(tr, s->vocab, 1, " "));
    CHECK(!strcmp(text_of(te, s->vocab, 0, " "), "? ? ?"), "test words unseen in training: <unk>");
    int64_t pad = 0;
    for (int64_t t = 7; t < 200; t++) pad += tr->tokens[2 * 200 + t];
    CHECK(pad == 0, "padding is 0");
    CHECK(digest(tr) == 0x74def42fdd2788f4ull && digest(te) == 0x50deccc81dbb644dull, "digests %016llx %016llx",
          (unsigned long long)digest(tr), (unsigned long long)digest(te));
    nb_text_split_free(s);
}

static void test_langid_fixture(void) {
    nb_text_split *s = nb_langid_load(FIX "/langid");
    CHECK(s, "langid fixture: %s", nb_last_error());
    if (!s) return;
    /* k = 6 words per language (the fewest after dropping shared, short and non-letter ones):
     * 1 test, 5 train each. */
    CHECK(s->train->n == 40 && s->test->n == 8 && s->train->n_classes == 8, "sizes %lld %lld", (long long)s->train->n,
          (long long)s->test->n);
    static const char *train[8] = {
        "hello zoo house apple garden",  "wasser mädchen über straße größe", "eau fenêtre été garçon maison",
        "mañana año agua canción corazón", "giù casa caffè perché acqua",      "avó água pão maçã não",
        "gezellig zee één huis ijsje",    "hus åsa vatten öga äpple"};
    static const char *test[8] = {"river", "haus", "c?ur", "niño", "per?", "coração", "fiets", "ärlig"};
    static const char *names[8] = {"english", "german", "french", "spanish", "italian", "portuguese", "dutch", "swedish"};
    for (int c = 0; c < 8; c++) {
        char got[256] = "";
        for (int k = 0; k < 5; k++) {
            if (k) strcat(got, " ");
            strcat(got, text_of(s->train, s->vocab, 5 * c + k, ""));
            CHECK(s->train->y[5 * c + k] == c, "label");
        }
        CHECK(!strcmp(got, train[c]), "%s train: '%s', expected '%s'", names[c], got, train[c]);
        CHECK(!strcmp(text_of(s->test, s->vocab, c, ""), test[c]) && s->test->y[c] == c, "%s test: '%s'", names[c],
              text_of(s->test, s->vocab, c, ""));
        CHECK(!strcmp(s->train->class_names[c], names[c]), "class %d", c);
    }
    char chars[256] = "";
    for (int64_t i = 2; i < nb_vocab_size(s->vocab); i++) strcat(chars, nb_vocab_token(s->vocab, i));
    CHECK(!strcmp(chars, "abcdefghijlmnopqrstuvwz\xC3\x9F\xC3\xA1\xC3\xA3\xC3\xA4\xC3\xA5\xC3\xA7\xC3\xA8\xC3\xA9"
                         "\xC3\xAA\xC3\xB1\xC3\xB3\xC3\xB6\xC3\xB9\xC3\xBC"),
          "vocabulary: the training characters by code point: '%s'", chars);
    CHECK(digest(s->train) == 0x8a0af607c0bdc560ull && digest(s->test) == 0x12742ae777fae319ull, "digests");
    nb_text_split_free(s);
}

static void test_charlm_fixture(void) {
    nb_char_corpus *c = nb_charlm_load(FIX "/moby.txt");
    CHECK(c, "moby fixture: %s", nb_last_error());
    if (!c) return;
    CHECK(c->n_train == 117 && c->n_valid == 13, "130 characters (not bytes): %lld + %lld", (long long)c->n_train,
          (long long)c->n_valid);
    CHECK(nb_vocab_size(c->vocab) == 33 && !nb_vocab_has_specials(c->vocab), "33 characters, no specials");
    CHECK(!strcmp(nb_vocab_token(c->vocab, 0), "\n") && !strcmp(nb_vocab_token(c->vocab, 32), "\xE2\x80\x9D"),
          "sorted by code point: newline first, right quote last");
    char text[512] = "";
    for (int64_t i = 0; i < c->n_train; i++) strcat(text, nb_vocab_token(c->vocab, c->train[i]));
    for (int64_t i = 0; i < c->n_valid; i++) strcat(text, nb_vocab_token(c->vocab, c->valid[i]));
    char file[512] = "";
    FILE *f = fopen(FIX "/moby.txt", "rb");
    size_t len = f ? fread(file, 1, sizeof file - 1, f) : 0;
    if (f) fclose(f);
    CHECK(len > 0 && !strcmp(text, file), "ids decode back to the text");
    CHECK(stream_digest(c->train, c->n_train) == 0x7d08d37e6d09172cull &&
              stream_digest(c->valid, c->n_valid) == 0x7b06f4ef0b38df33ull,
          "digests as the Python's");
    CHECK(!strcmp(text + strlen(text) - 22, "\xE2\x80\x9C" "Caf\xC3\xA9?\xE2\x80\x9D said he.\n"), "the end");
    nb_char_corpus_free(c);
}

/* ---- bad input, in a temp folder ------------------------------------------------------------ */
static char g_dir[256];
static char g_made[64][400];
static int g_nmade;

/* Writes name (folders made as needed) under the temp folder; returns its path. */
static const char *put(const char *name, const char *data, size_t len) {
    static char path[8][400];
    static int k;
    char *p = path[k++ & 7];
    snprintf(p, 400, "%s/%s", g_dir, name);
    for (char *q = p + strlen(g_dir) + 1; (q = strchr(q, '/')); q++) {
        *q = '\0';
        if (mkdir(p, 0700) == 0 && g_nmade < 64) snprintf(g_made[g_nmade++], 400, "%s", p);
        *q = '/';
    }
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
        if (g_nmade < 64) snprintf(g_made[g_nmade++], 400, "%s", p);
    }
    return p;
}
static const char *sub(const char *name) {
    static char p[400];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    return p;
}

static void test_bad_input(void) {
    static const char *dirs[5] = {"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"};
    CHECK_ERR(!nb_spam_load(sub("spam")), "spam/easy-ham-1: cannot open the folder", "No such file");
    for (int i = 0; i < 5; i++) {
        char n[64];
        snprintf(n, sizeof n, "spam/%s/1.txt", dirs[i]);
        put(n, "S: x\n\nhello there\n", 19);
    }
    nb_text_split *s = nb_spam_load(sub("spam"));
    CHECK(s && s->train->n == 5 && s->test->n == 0, "one mail per folder: 3 + 2, nothing for test");
    nb_text_split_free(s);
    put("spam/spam-2/2.txt", "", 0);
    CHECK_ERR(!nb_spam_load(sub("spam")), "spam/spam-2/2.txt: empty file", NULL);
    put("spam/spam-2/2.txt", "S: y\n\nagain", 11);
    put("spam/hard-ham-1/1.txt.json", "{}", 2);
    unlink(sub("spam/hard-ham-1/1.txt"));
    CHECK_ERR(!nb_spam_load(sub("spam")), "spam/hard-ham-1: no .txt files", NULL);

    static const char *lists[8] = {"american-english", "ngerman", "french", "spanish",
                                   "italian",          "portuguese", "dutch", "swedish"};
    CHECK_ERR(!nb_langid_load(sub("langid")), "langid/american-english: cannot open", NULL);
    for (int i = 0; i < 8; i++) {
        char n[64], w[64];
        snprintf(n, sizeof n, "langid/%s", lists[i]);
        int l = snprintf(w, sizeof w, "word%c%c\nother%c%c\n", 'a' + i, 'a' + i, 'a' + i, 'a' + i);
        put(n, w, (size_t)l);
    }
    s = nb_langid_load(sub("langid"));
    CHECK(s && s->train->n == 16 && s->test->n == 0, "two words a language: %s", nb_last_error());
    nb_text_split_free(s);
    put("langid/ngerman", "gut\nStra\xC3\x9F" "e\nb\xC3\xB6se\xC3(\n", 20);
    CHECK_ERR(!nb_langid_load(sub("langid")), "langid/ngerman: invalid UTF-8 at byte 17", "continuation byte is missing");
    put("langid/ngerman", "", 0);
    CHECK_ERR(!nb_langid_load(sub("langid")), "langid/ngerman: empty file", NULL);
    put("langid/ngerman", "ab\nx1y\nit's\n", 13);
    CHECK_ERR(!nb_langid_load(sub("langid")), "langid/ngerman: no word of 3 or more letters", NULL);
    put("langid/ngerman", "wordaa\nWORDAA\n", 14);
    CHECK_ERR(!nb_langid_load(sub("langid")), "langid/ngerman: no word left", NULL);
    put("langid/ngerman", "b\xC3\xB6se\n", 6);
    put("langid/swedish", "\xE5\x6C\x64\n", 4); /* Latin-1 "åld": would be invalid UTF-8 */
    s = nb_langid_load(sub("langid"));
    CHECK(s && nb_vocab_id(s->vocab, "\xC3\xA5", 2) > NB_VOCAB_UNK && s->train->n == 8 && s->test->n == 0,
          "swedish read as ISO-8859-1 (its \"å\" is in the vocabulary); k = 1: 8 to train: %s", nb_last_error());
    nb_text_split_free(s);

    CHECK_ERR(!nb_charlm_load(sub("none.txt")), "none.txt: cannot open", NULL);
    CHECK_ERR(!nb_charlm_load(sub("langid")), "langid: is a folder", NULL);
    CHECK_ERR(!nb_charlm_load(put("empty.txt", "", 0)), "empty.txt: empty file", NULL);
    CHECK_ERR(!nb_charlm_load(put("bad.txt", "Call me \xED\xA0\x80.", 12)), "bad.txt: invalid UTF-8 at byte 8",
              "surrogate");
    CHECK_ERR(!nb_spam_load(NULL) && !nb_langid_load(NULL), "NULL", NULL);
    for (int i = g_nmade - 1; i >= 0; i--) remove(g_made[i]);
    unlink(sub("spam/hard-ham-1/1.txt.json"));
    unlink(sub("spam/spam-2/2.txt"));
}

/* ---- the real sets, when installed ---------------------------------------------------------- */
static void test_real(void) {
    struct stat st;
    if (stat("../data/spam/spam-2", &st) == 0) {
        nb_text_split *s = nb_spam_load("../data/spam");
        CHECK(s, "real spam: %s", nb_last_error());
        if (s) {
            int64_t ham = 0, n = s->train->n + s->test->n;
            for (int64_t i = 0; i < s->train->n; i++) ham += s->train->y[i] == 0;
            for (int64_t i = 0; i < s->test->n; i++) ham += s->test->y[i] == 0;
            CHECK(ham == 4150 && n - ham == 1896 && s->test->n == 830 + 379, "4,150 ham, 1,896 spam, test 1,209");
            CHECK(nb_vocab_size(s->vocab) == 20002 && !strcmp(nb_vocab_token(s->vocab, 2), "the"), "20,000 words");
            CHECK(digest(s->train) == 0x72c9f526b8f77788ull && digest(s->test) == 0x0d0535546e6f7f4cull,
                  "spam digests %016llx %016llx", (unsigned long long)digest(s->train),
                  (unsigned long long)digest(s->test));
        }
        nb_text_split_free(s);
    } else {
        printf("test_text_sets: ../data/spam not installed (bash scripts/data.sh spam): real spam skipped\n");
    }
    if (stat("../data/langid/swedish", &st) == 0) {
        nb_text_split *s = nb_langid_load("../data/langid");
        CHECK(s && s->train->n == 128000 && s->test->n == 32000, "real langid: %s", nb_last_error());
        CHECK(s && nb_vocab_size(s->vocab) == 54, "54 ids (52 characters)");
        CHECK(s && digest(s->train) == 0x4279a1c3ea1da86bull && digest(s->test) == 0x0579aeeddfb47006ull,
              "langid digests");
        nb_text_split_free(s);
    } else {
        printf("test_text_sets: ../data/langid not installed (bash scripts/data.sh langid): real langid skipped\n");
    }
    if (stat("../data/moby-dick/data.txt", &st) == 0) {
        nb_char_corpus *c = nb_charlm_load("../data/moby-dick/data.txt");
        CHECK(c && nb_vocab_size(c->vocab) == 83 && c->n_train == 1071286 && c->n_valid == 119031,
              "real moby-dick: 83 characters, 1,190,317 in all: %s", nb_last_error());
        CHECK(c && stream_digest(c->train, c->n_train) == 0xbb1f322d83a9f7aaull &&
                  stream_digest(c->valid, c->n_valid) == 0x7ba23be509cf795aull,
              "moby-dick digests");
        nb_stream_loader *l = c ? nb_stream_loader_new(c->train, c->n_train, 32, 100, true) : NULL;
        CHECK(l && nb_stream_loader_batches(l) == 335, "335 batches of 32 x 100 an epoch");
        nb_stream_loader_free(l);
        nb_char_corpus_free(c);
    } else {
        printf("test_text_sets: ../data/moby-dick not installed (bash scripts/data.sh moby-dick): skipped\n");
    }
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/nb_test_text_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_spam_body();
    test_spam_fixture();
    test_langid_fixture();
    test_charlm_fixture();
    test_bad_input();
    test_real();
    CHECK(rmdir(g_dir) == 0, "temp folder %s removed (all files cleaned up)", g_dir);
    return test_end("test_text_sets");
}
