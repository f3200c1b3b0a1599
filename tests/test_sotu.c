/* The sotu sets (docs/text-data.md, "sotu"): the cased-words tokenizer and its vocabulary
 * (specials, shape unknowns, serialize/parse), the sentence splitter, the BIO labels of
 * hand-checked sentences, the NER and MLM splits of the committed excerpts in
 * fixtures/sotu-small (digests that bench/ner_data.py prints for them), the tagged loader's
 * per-token y, bad input and, when scripts/data.sh installed it in ../data/sotu, the real
 * set's counts and digests. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "data/sotu_impl.h"
#include "internal.h"

#include <sys/stat.h>
#include <unistd.h>

#define FIX "fixtures/sotu-small"

static int err_has(const char *a, const char *b) {
    const char *m = nb_last_error();
    return strstr(m, a) && (!b || strstr(m, b));
}
static const char *or_empty(const char *s) { return s ? s : ""; }
#define CHECK_ERR(failed, a, b) \
    CHECK((failed) && err_has(a, b), "expected an error with '%s' and '%s', got '%s'", a, or_empty(b), nb_last_error())

/* FNV-1a over each sentence's ids then -1, and (NER) its tags then -1: bench/ner_data.py's. */
static uint64_t mix(uint64_t h, int64_t v) { return (h ^ (uint64_t)v) * 0x100000001b3ull; }
static uint64_t digest(const nb_text_dataset *d) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int64_t i = 0; i < d->n; i++) {
        for (int64_t t = 0; t < d->lengths[i]; t++) h = mix(h, d->tokens[i * d->max_len + t]);
        h = mix(h, -1);
        for (int64_t t = 0; d->tags && t < d->lengths[i]; t++) h = mix(h, d->tags[i * d->max_len + t]);
        if (d->tags) h = mix(h, -1);
    }
    return h;
}
static uint64_t vocab_digest(const nb_vocab *v, size_t *bytes) {
    char *s = nb_vocab_serialize(v);
    uint64_t h = 0xcbf29ce484222325ull;
    *bytes = s ? strlen(s) : 0;
    for (size_t i = 0; i < *bytes; i++) h = mix(h, (unsigned char)s[i]);
    free(s);
    return h;
}
static int64_t count_tag(const nb_text_dataset *d, int tag) {
    int64_t n = 0;
    for (int64_t i = 0; i < d->n; i++)
        for (int64_t t = 0; t < d->lengths[i]; t++) n += d->tags[i * d->max_len + t] == tag;
    return n;
}

/* The tokens of a text joined by "|", sentences by " / ". */
static const char *joined(const nb_text_tokens *t) {
    static char out[1024];
    out[0] = '\0';
    for (int64_t s = 0; s < t->n_sentences; s++) {
        if (s) strcat(out, " / ");
        for (int64_t i = t->sentence[s]; i < t->sentence[s + 1] && strlen(out) < 900; i++) {
            if (i > t->sentence[s]) strcat(out, "|");
            strcat(out, t->tokens[i]);
        }
    }
    return out;
}

static void test_tokens_and_sentences(void) {
    const char *words[] = {"the", "U", ".", "S", "1,000", "Mr"};
    nb_vocab *v = nb_vocab_new(NB_TOKENIZER_CASED_WORDS, true, words, 6);
    CHECK(v && nb_vocab_size(v) == 14, "8 specials + 6 words: %s", nb_last_error());
    if (!v) return;
    const char *sp[8] = {"<pad>", "<unk>", "<mask>", "<unk:Xx>", "<unk:x>", "<unk:X>", "<unk:d>", "<unk:p>"};
    for (int i = 0; i < 8; i++) CHECK(!strcmp(or_empty(nb_vocab_token(v, i)), sp[i]), "special %d", i);
    CHECK(!strcmp(or_empty(nb_vocab_token(v, 8)), "the") && nb_vocab_id(v, "the", 3) == 8, "words from id 8");
    CHECK(nb_vocab_id(v, "Zyx", 3) == NB_VOCAB_UNK_CAP && nb_vocab_id(v, "zyx", 3) == NB_VOCAB_UNK_LOWER &&
          nb_vocab_id(v, "ZYX", 3) == NB_VOCAB_UNK_CAPS && nb_vocab_id(v, "Q", 1) == NB_VOCAB_UNK_CAP &&
          nb_vocab_id(v, "2,5", 3) == NB_VOCAB_UNK_D && nb_vocab_id(v, "\xC2\xA7", 2) == NB_VOCAB_UNK_P &&
          nb_vocab_id(v, "\xC3\x89t\xC3\xA9", 5) == NB_VOCAB_UNK_CAP && nb_vocab_id(v, "<mask>", 6) == NB_VOCAB_MASK,
          "shape unknowns");
    const char *text = "Mr. Smith paid $1,000 for the U.S. ship. \"It's 3.5% more,\" he said. Was it? Yes!\n\n"
                       "New  paragraph\xC2\xA0\xC3\x89t\xC3\xA9 and 1.5.\n";
    nb_text_tokens *t = nb_sotu_tokenize(v, text, strlen(text), "sample");
    CHECK(t, "tokenize: %s", nb_last_error());
    if (t) {
        CHECK(!strcmp(joined(t), "Mr|.|Smith|paid|$|1,000|for|the|U|.|S|.|ship|.|\" / It|'|s|3.5|%|more|,|\"|he|"
                                 "said|. / Was|it|? / Yes|! / New|paragraph|\xC3\x89t\xC3\xA9|and|1.5|."),
              "tokens and sentences: %s", joined(t));
        CHECK(t->n_sentences == 5 && t->n == 37, "%lld sentences, %lld tokens", (long long)t->n_sentences,
              (long long)t->n);
        bool spans = true;
        for (int64_t i = 0; i < t->n; i++)
            spans &= t->end[i] - t->start[i] == (int64_t)strlen(t->tokens[i]) &&
                     !memcmp(text + t->start[i], t->tokens[i], strlen(t->tokens[i]));
        CHECK(spans && t->start[2] == 4 && t->start[5] == 16, "byte offsets");
        CHECK(t->ids[0] == 13 && t->ids[2] == 3 && t->ids[5] == 12 && t->ids[4] == NB_VOCAB_UNK_P &&
              t->ids[33] == NB_VOCAB_UNK_CAP, "ids: Mr, Smith (unknown, capitalised), 1,000, $, Été");
    }
    nb_text_tokens_free(t);
    CHECK_ERR(!nb_sotu_tokenize(v, "ok \xED\xA0\x80", 6, "bad.txt"), "bad.txt: invalid UTF-8 at byte 3", "surrogate");
    nb_vocab *w = nb_vocab_new(NB_TOKENIZER_WORDS, true, words, 1);
    CHECK_ERR(!nb_sotu_tokenize(w, "a", 1, "x"), "nb_sotu_tokenize", "cased-words");
    nb_vocab_free(w);
    /* the serialized form round-trips; tokens that are not one cased-words token are refused */
    char *s = nb_vocab_serialize(v);
    nb_vocab *back = s ? nb_vocab_parse(s) : NULL;
    char *s2 = back ? nb_vocab_serialize(back) : NULL;
    CHECK(s && s2 && !strcmp(s, s2) && !strncmp(s, "nabla-vocab 1 cased-words specials 6\n", 37) &&
          nb_vocab_size(back) == 14 && nb_vocab_id(back, "Zyx", 3) == NB_VOCAB_UNK_CAP,
          "serialize/parse round trip: %s", nb_last_error());
    free(s);
    free(s2);
    nb_vocab_free(back);
    CHECK_ERR(!nb_vocab_parse("nabla-vocab 1 cased-words specials 1\nab cd\n"), "token 0", "one run of letters");
    CHECK_ERR(!nb_vocab_parse("nabla-vocab 1 cased-words specials 1\nab1\n"), "token 0", "cased-words");
    CHECK_ERR(!nb_vocab_new(NB_TOKENIZER_CASED_WORDS, true, (const char *[]){"U.S."}, 1), "U.S.", "cased-words");
    nb_vocab_free(v);
}

/* Labels of hand-checked sentences, with the fixture's counts and lists. */
static void test_labels(void) {
    nb__sotu c;
    nb__sotu_init(&c);
    char path[256], *buf;
    size_t len;
    const char *files[2] = {"1790_george_washington_n.txt", "1934_franklin_d_roosevelt_d.txt"};
    for (int f = 0; f < 2; f++) {
        snprintf(path, sizeof path, FIX "/speeches/%s", files[f]);
        CHECK(nb__read_file(path, &buf, &len) == NB_OK && nb__sotu_add(&c, buf, len, path) == NB_OK, "%s", path);
        free(buf);
    }
    CHECK(nb__sotu_lists(&c, FIX) == NB_OK, "lists: %s", nb_last_error());
    static const struct {
        const char *text, *tags;
    } cases[] = {
        {"President George Washington went to New York on May 1, 1865.", "O B-PER I-PER O O B-LOC I-LOC O B-DATE "
                                                                            "I-DATE I-DATE I-DATE O"},
        {"May we visit North Carolina, Washington and Virginia in June?", "O O O B-LOC I-LOC O B-LOC O B-LOC O B-DATE O"},
        {"We thank John for his work in Georgia Company.", "O O O O O O O B-LOC O O"},
        {"Then Franklin D. Roosevelt spoke of the 4th of July, 1776 and December, 1862.",
         "O B-PER I-PER I-PER I-PER O O O O O O B-DATE I-DATE I-DATE O B-DATE I-DATE I-DATE O"},
        {"Will Congress act in May?", "O O O O B-DATE O"},
        {"North Carolina and Will Washington met George in March 3rd.", "B-LOC I-LOC O O B-LOC O O O B-DATE I-DATE I-DATE O"},
        {"The state of West Virginia.", "O O O B-LOC I-LOC O"},
    };
    int n_cases = (int)(sizeof cases / sizeof *cases);
    c.count = false; /* the sentences under test must not change the counts */
    int64_t first = c.n_sent;
    for (int k = 0; k < n_cases; k++)
        CHECK(nb__sotu_add(&c, cases[k].text, strlen(cases[k].text), "case") == NB_OK, "case %d", k);
    CHECK(c.n_sent == first + n_cases, "one sentence each: %lld", (long long)(c.n_sent - first));
    CHECK(nb__sotu_flags(&c) == NB_OK, "flags");
    for (int k = 0; k < n_cases && c.n_sent == first + n_cases; k++) {
        int64_t s = first + k, n = c.sent[s + 1] - c.sent[s], tags[64];
        nb__entity ents[64];
        nb__sotu_label(&c, c.tok + c.sent[s], n, tags, ents);
        char got[512] = "";
        for (int64_t i = 0; i < n; i++) {
            if (i) strcat(got, " ");
            strcat(got, nb_ner_tag_name((int)tags[i]));
        }
        CHECK(!strcmp(got, cases[k].tags), "case %d '%s':\n  got  %s\n  want %s", k, cases[k].text, got, cases[k].tags);
    }
    nb__sotu_free(&c);
}

static void test_fixture(void) {
    nb_text_split *a = nb_sotu_ner_load(FIX), *b = nb_sotu_ner_load(FIX);
    CHECK(a && b, "ner fixture: %s", nb_last_error());
    if (!a || !b) goto done;
    size_t bytes;
    /* the figures and digests of `python3 bench/ner_data.py --data tests/fixtures/sotu-small` */
    CHECK(nb_vocab_size(a->vocab) == 241 && vocab_digest(a->vocab, &bytes) == 0x7fe21ff105a3d40cull && bytes == 1351,
          "vocabulary %lld ids, %zu bytes, digest %016llx", (long long)nb_vocab_size(a->vocab), bytes,
          (unsigned long long)vocab_digest(a->vocab, &bytes));
    CHECK(a->train->n == 162 && a->test->n == 14, "ner %lld train, %lld test", (long long)a->train->n,
          (long long)a->test->n);
    CHECK(digest(a->train) == 0xb9edb8e40bc0dcecull && digest(a->test) == 0x71b4a825ab3bb67cull,
          "ner digests %016llx %016llx", (unsigned long long)digest(a->train), (unsigned long long)digest(a->test));
    CHECK(digest(b->train) == digest(a->train) && digest(b->test) == digest(a->test), "the split is deterministic");
    CHECK(count_tag(a->train, NB_NER_B_PER) == 5 && count_tag(a->train, NB_NER_B_LOC) == 11 &&
          count_tag(a->train, NB_NER_I_DATE) == 6 && count_tag(a->test, NB_NER_B_LOC) == 5, "tag counts");
    CHECK(a->train->n_tags == NB_NER_TAGS && !strcmp(a->train->tag_names[1], "B-PER") &&
          !strcmp(a->test->tag_names[6], "I-DATE") && a->train->max_len <= NB_SOTU_MAX_TOKENS, "tag names");
    /* held out (seed 0): William; Florida, Louisiana; May. They appear only in test sentences,
     * so the vocabulary (MLM training text) does not know them: they read as shapes. */
    const char *held[4] = {"William", "Florida", "Louisiana", "May"};
    for (int k = 0; k < 4; k++)
        CHECK(nb_vocab_id(a->vocab, held[k], strlen(held[k])) == NB_VOCAB_UNK_CAP, "%s is held out", held[k]);
    CHECK(nb_vocab_id(a->vocab, "the", 3) == 8 && nb_vocab_id(a->vocab, "of", 2) == 9, "most frequent first");
    bool pad = true, short_ok = true;
    for (int64_t i = 0; i < a->train->n; i++) {
        short_ok &= a->train->lengths[i] >= NB_SOTU_MIN_TOKENS;
        for (int64_t t = a->train->lengths[i]; t < a->train->max_len; t++)
            pad &= a->train->tags[i * a->train->max_len + t] == NB_TAG_PAD && a->train->tokens[i * a->train->max_len + t] == 0;
    }
    CHECK(pad && short_ok, "tags -100 and tokens 0 after each length; lengths >= 3");

    /* word keys: nb_word_key of each token's text (FNV-1a), 0 as padding; the vocabulary's
     * words by their own text, a held-out name by its own key though its id is a shape */
    CHECK(nb_word_key("a", 1) == 0xaf63dc4c8601ec8cull && nb_word_key("", 0) == 0xcbf29ce484222325ull, "FNV-1a");
    const uint64_t william = nb_word_key("William", 7);
    int64_t in_train = 0, in_test = 0, known_ok = 1;
    for (int split = 0; split < 2; split++) {
        const nb_text_dataset *d = split ? a->test : a->train;
        CHECK(d->word_keys != NULL, "split %d has word keys", split);
        for (int64_t i = 0; d->word_keys && i < d->n; i++)
            for (int64_t t = 0; t < d->max_len; t++) {
                const int64_t id = d->tokens[i * d->max_len + t];
                const uint64_t key = d->word_keys[i * d->max_len + t];
                if (t >= d->lengths[i]) {
                    known_ok &= key == 0;
                    continue;
                }
                const char *w = id >= NB_VOCAB_CASED_SPECIALS ? nb_vocab_token(a->vocab, id) : NULL;
                if (w) known_ok &= key == nb_word_key(w, strlen(w));
                if (key == william) {
                    *(split ? &in_test : &in_train) += 1;
                    known_ok &= id == NB_VOCAB_UNK_CAP;
                }
            }
    }
    CHECK(known_ok && in_train == 0 && in_test > 0, "word keys: known words by their text, padding 0, William (%lld in "
          "test, %lld in train) a shape with its own key", (long long)in_test, (long long)in_train);

    /* the loader: y = the tags in the batch's padded layout */
    nb_text_loader *l = nb_text_loader_new(a->train, 5, true, 7, false);
    nb_batch bt;
    int64_t seen = 0;
    bool ok = l != NULL;
    nb_text_loader_start(l, 0);
    while (l && nb_text_loader_next(l, &bt)) {
        int64_t T = bt.x_shape[0], longest = 0;
        for (int64_t k = 0; k < bt.n; k++) {
            int64_t i = bt.idx[k], len = a->train->lengths[i];
            if (len > longest) longest = len;
            for (int64_t t = 0; t < T; t++) {
                int64_t want = t < len ? a->train->tags[i * a->train->max_len + t] : NB_TAG_PAD;
                ok &= bt.y[k * T + t] == want && bt.tokens[k * T + t] == (t < len ? a->train->tokens[i * a->train->max_len + t] : 0);
            }
        }
        ok &= T == longest;
        seen += bt.n;
    }
    CHECK(ok && seen == a->train->n, "tagged batches: y (n, T) with -100 padding (%lld samples)", (long long)seen);
    nb_text_loader_free(l);
    nb_text_dataset *sub = nb_text_dataset_subset(a->test, 3);
    CHECK(sub && sub->tags && sub->n_tags == NB_NER_TAGS && sub->tags[0] == a->test->tags[0] &&
          sub->tags[sub->max_len + sub->lengths[1] - 1] == a->test->tags[(a->test->n / 3) * a->test->max_len +
                                                                             a->test->lengths[a->test->n / 3] - 1],
          "subset keeps the tags");
    CHECK(sub && sub->word_keys && sub->word_keys[0] == a->test->word_keys[0] &&
              sub->word_keys[sub->max_len + sub->lengths[1] - 1] ==
                  a->test->word_keys[(a->test->n / 3) * a->test->max_len + a->test->lengths[a->test->n / 3] - 1],
          "subset keeps the word keys");
    nb_text_dataset_free(sub);

    /* the MLM corpus: same vocabulary; a dataset without tags batches per-sample labels */
    nb_text_split *m = nb_sotu_mlm_load(FIX, NULL), *mm = nb_sotu_mlm_load(FIX, "fixtures/moby-small/data.txt");
    CHECK(m && mm, "mlm fixture: %s", nb_last_error());
    if (m && mm) {
        CHECK(m->train->n == 162 && m->test->n == 8 && !m->train->tags, "mlm %lld train, %lld valid",
              (long long)m->train->n, (long long)m->test->n);
        CHECK(digest(m->train) == 0x2fde9637e35f28a5ull && digest(m->test) == 0x36fc53da53097318ull,
              "mlm digests %016llx %016llx", (unsigned long long)digest(m->train), (unsigned long long)digest(m->test));
        CHECK(mm->train->n == 437 && digest(mm->train) == 0x0891bbb7dc09196full && digest(mm->test) == digest(m->test),
              "mlm + moby-dick: %lld, %016llx", (long long)mm->train->n, (unsigned long long)digest(mm->train));
        char *s1 = nb_vocab_serialize(m->vocab), *s2 = nb_vocab_serialize(a->vocab), *s3 = nb_vocab_serialize(mm->vocab);
        CHECK(s1 && s2 && s3 && !strcmp(s1, s2) && !strcmp(s1, s3), "MLM and NER share one vocabulary");
        free(s1);
        free(s2);
        free(s3);
        nb_text_loader *ml = nb_text_loader_new(m->train, 4, false, 0, false);
        nb_text_loader_start(ml, 0);
        CHECK(ml && nb_text_loader_next(ml, &bt) && bt.n == 4 && bt.y[0] == 0 && bt.y[3] == 0, "untagged batch");
        nb_text_loader_free(ml);
    }
    nb_text_split_free(m);
    nb_text_split_free(mm);
done:
    nb_text_split_free(a);
    nb_text_split_free(b);
}

/* ---- bad input, in a temp folder ------------------------------------------------------------ */
static char g_dir[256];

static void put(const char *name, const char *data) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(data, f);
        fclose(f);
    }
}
static void rm(const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    unlink(p);
}

static void test_bad_input(void) {
    char sp[400];
    snprintf(sp, sizeof sp, "%s/speeches", g_dir);
    CHECK_ERR(!nb_sotu_ner_load(g_dir), "speeches: cannot open the folder", "No such file");
    mkdir(sp, 0700);
    CHECK_ERR(!nb_sotu_ner_load(g_dir), "speeches: no .txt files", "scripts/data.sh sotu");
    put("speeches/1790_a.txt", "");
    CHECK_ERR(!nb_sotu_mlm_load(g_dir, NULL), "speeches/1790_a.txt: empty file", NULL);
    put("speeches/1790_a.txt", "Fellow citizens. We met George Washington in New York.\n");
    put("speeches/1791_b.txt", "We thank you. It is \xC3\x28 bad.\n");
    CHECK_ERR(!nb_sotu_ner_load(g_dir), "speeches/1791_b.txt: invalid UTF-8 at byte 20", NULL);
    put("speeches/1791_b.txt", "We thank you. It is good.\n");
    CHECK_ERR(!nb_sotu_ner_load(g_dir), "male.txt: cannot open", NULL);
    put("male.txt", "George\nJohn\n");
    put("female.txt", "\n");
    CHECK_ERR(!nb_sotu_ner_load(g_dir), "female.txt: no names", NULL);
    put("female.txt", "Mary\n");
    put("states.txt", "New York\nBad\xFF\n");
    CHECK_ERR(!nb_sotu_ner_load(g_dir), "states.txt: invalid UTF-8 at byte 12", NULL);
    put("states.txt", "New York\n");
    CHECK_ERR(!nb_sotu_ner_load(g_dir), "no sentence of 3..64 tokens", NULL); /* too few for every split */
    CHECK_ERR(!nb_sotu_mlm_load(g_dir, "/nonexistent/moby.txt"), "/nonexistent/moby.txt: cannot open", NULL);
    const char *files[] = {"speeches/1790_a.txt", "speeches/1791_b.txt", "male.txt", "female.txt", "states.txt"};
    for (int i = 0; i < 5; i++) rm(files[i]);
    rmdir(sp);
}

static void test_real(void) {
    struct stat st;
    if (stat("../data/sotu/speeches", &st) != 0) {
        printf("test_sotu: ../data/sotu not installed (bash scripts/data.sh sotu): real set skipped\n");
        return;
    }
    /* `python3 bench/ner_data.py --data data/sotu --moby-dick data/moby-dick/data.txt` */
    nb_text_split *s = nb_sotu_ner_load("../data/sotu");
    CHECK(s, "real sotu: %s", nb_last_error());
    if (s) {
        size_t bytes;
        CHECK(nb_vocab_size(s->vocab) == 14060 && vocab_digest(s->vocab, &bytes) == 0x23d7a92ccb95fb66ull &&
                  bytes == 121776,
              "vocabulary %lld, %zu bytes, %016llx", (long long)nb_vocab_size(s->vocab), bytes,
              (unsigned long long)vocab_digest(s->vocab, &bytes));
        CHECK(s->train->n == 18621 && s->test->n == 3980, "ner %lld / %lld", (long long)s->train->n,
              (long long)s->test->n);
        CHECK(digest(s->train) == 0xf989371bfb6f5869ull && digest(s->test) == 0xbe24ca53a1b8f4a8ull,
              "ner digests %016llx %016llx", (unsigned long long)digest(s->train), (unsigned long long)digest(s->test));
        CHECK(count_tag(s->train, NB_NER_B_PER) == 306 && count_tag(s->test, NB_NER_B_LOC) == 1056, "tag counts");
    }
    nb_text_split_free(s);
    bool moby = stat("../data/moby-dick/data.txt", &st) == 0;
    nb_text_split *m = nb_sotu_mlm_load("../data/sotu", moby ? "../data/moby-dick/data.txt" : NULL);
    CHECK(m, "real sotu mlm: %s", nb_last_error());
    if (m) {
        CHECK(m->train->n == (moby ? 51386 + 7736 : 51386) && m->test->n == 2854, "mlm %lld / %lld",
              (long long)m->train->n, (long long)m->test->n);
        CHECK(digest(m->test) == 0xa56c020a27ec05c9ull, "mlm valid digest %016llx", (unsigned long long)digest(m->test));
        CHECK(digest(m->train) == (moby ? 0x8e5dc464d0d92652ull : 0xaec5ff33a1c2fca1ull), "mlm train digest %016llx",
              (unsigned long long)digest(m->train));
    }
    nb_text_split_free(m);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/nb_test_sotu_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_tokens_and_sentences();
    test_labels();
    test_fixture();
    test_bad_input();
    test_real();
    CHECK(rmdir(g_dir) == 0, "temp folder %s removed (all files cleaned up)", g_dir);
    return test_end("test_sotu");
}
