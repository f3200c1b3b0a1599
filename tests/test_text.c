/* Text data, the parts without files: UTF-8 validation, letters and lower case, the three
 * tokenizers, vocabularies (build, tie order, serialize/parse, malformed strings), encoding,
 * the splits' splitmix64 shuffle, and the text and stream loaders (padding, lengths, shuffling
 * from (seed, epoch), LM stream continuity, evaluation windows). The datasets on files are in
 * test_text_sets.c. */
#include "check.h"
#include "internal.h"

static int err_has(const char *a, const char *b) {
    const char *m = nb_last_error();
    return strstr(m, a) && (!b || strstr(m, b));
}
static const char *or_empty(const char *s) { return s ? s : ""; }
#define CHECK_ERR(failed, a, b) \
    CHECK((failed) && err_has(a, b), "expected an error with '%s' and '%s', got '%s'", a, or_empty(b), nb_last_error())

static void test_splitmix(void) {
    uint64_t s = 0;
    uint64_t a = nb_splitmix64(&s), b = nb_splitmix64(&s), c = nb_splitmix64(&s);
    CHECK(a == 0xE220A8397B1DCDAFull && b == 0x6E789E6AA1B965F4ull && c == 0x06C45D188009454Full,
          "splitmix64 from state 0: %016llx %016llx %016llx", (unsigned long long)a, (unsigned long long)b,
          (unsigned long long)c);
    /* By hand: i = 2, j = 0xE220A8397B1DCDAF % 3 = 1: {0, 2, 1}; i = 1, j = 0x6E78...F4 % 2 = 0:
     * {2, 0, 1}. */
    int64_t p[3] = {0, 1, 2};
    s = 0;
    nb_split_shuffle(p, 3, &s);
    CHECK(p[0] == 2 && p[1] == 0 && p[2] == 1, "shuffle of 3: %lld %lld %lld", (long long)p[0], (long long)p[1],
          (long long)p[2]);
    CHECK(s == 2 * 0x9E3779B97F4A7C15ull, "two draws for three items");
    int64_t q[5] = {0, 1, 2, 3, 4}, want[5] = {2, 3, 1, 4, 0}; /* from the Python of docs/text-data.md */
    s = 0;
    nb_split_shuffle(q, 5, &s);
    CHECK(!memcmp(q, want, sizeof q), "shuffle of 5: %lld %lld %lld %lld %lld", (long long)q[0], (long long)q[1],
          (long long)q[2], (long long)q[3], (long long)q[4]);
    int64_t one = 7;
    s = 0;
    nb_split_shuffle(&one, 1, &s);
    CHECK(one == 7 && s == 0, "one item: no draw");
}

static void test_utf8(void) {
    uint32_t cp = 0;
    CHECK(nb_utf8_decode("A", 1, &cp) == 1 && cp == 'A', "ASCII");
    CHECK(nb_utf8_decode("\xC3\xA9", 2, &cp) == 2 && cp == 0xE9, "é");
    CHECK(nb_utf8_decode("\xE2\x80\x94", 3, &cp) == 3 && cp == 0x2014, "em dash");
    CHECK(nb_utf8_decode("\xF0\x9F\x98\x80", 4, &cp) == 4 && cp == 0x1F600, "4 bytes");
    CHECK(nb_utf8_decode("\xF4\x8F\xBF\xBF", 4, &cp) == 4 && cp == 0x10FFFF, "U+10FFFF");
    CHECK(nb_utf8_decode("\xED\x9F\xBF", 3, &cp) == 3 && cp == 0xD7FF, "just below the surrogates");
    static const struct {
        const char *s;
        size_t len, at;
        const char *why;
    } bad[] = {
        {"ab\x80", 3, 2, "continuation byte"},  {"\xC0\xAF", 2, 0, "overlong"},
        {"\xC1\xBF", 2, 0, "overlong"},         {"x\xE0\x80\xAF", 4, 1, "overlong"},
        {"\xF0\x80\x80\xAF", 4, 0, "overlong"}, {"\xED\xA0\x80", 3, 0, "surrogate"},
        {"\xED\xBF\xBF", 3, 0, "surrogate"},    {"\xF4\x90\x80\x80", 4, 0, "above U+10FFFF"},
        {"\xF5\x80\x80\x80", 4, 0, "never appears"}, {"\xFF", 1, 0, "never appears"},
        {"abc\xC3", 4, 3, "end of the text"},   {"\xE2\x82", 2, 0, "end of the text"},
        {"\xC3\x41", 2, 0, "continuation byte is missing"}, {"\xF0\x9F\x98", 3, 0, "end of the text"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(nb_utf8_decode(bad[i].s + bad[i].at, bad[i].len - bad[i].at, &cp) == 0, "case %zu decodes", i);
        char at[32];
        snprintf(at, sizeof at, "at byte %zu:", bad[i].at);
        CHECK_ERR(nb_utf8_check(bad[i].s, bad[i].len, "words.txt") == NB_ERR_FORMAT, "words.txt: invalid UTF-8", at);
        CHECK(err_has(bad[i].why, NULL), "case %zu: '%s' in '%s'", i, bad[i].why, nb_last_error());
    }
    CHECK(nb_utf8_check("caf\xC3\xA9 \xE2\x80\x9Cok\xE2\x80\x9D", 14, "t") == NB_OK, "valid text");
    CHECK(nb_utf8_check("", 0, "t") == NB_OK, "empty text");
    char out[4];
    for (uint32_t c = 1; c < 0x110000; c += (c < 0x3000 ? 1 : 97)) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        int n = nb_utf8_encode(c, out);
        uint32_t back = 0;
        if (nb_utf8_decode(out, (size_t)n, &back) != n || back != c) {
            CHECK(0, "round trip of U+%04X", c);
            break;
        }
    }
    CHECK(nb_utf8_encode(0xD800, out) == 0 && nb_utf8_encode(0x110000, out) == 0, "no surrogates, max U+10FFFF");
}

static void test_letters(void) {
    CHECK(nb_text_is_letter('a') && nb_text_is_letter('Z') && !nb_text_is_letter('\'') && !nb_text_is_letter('1'),
          "ASCII letters");
    CHECK(nb_text_is_letter(0xE9) && nb_text_is_letter(0xDF) && nb_text_is_letter(0x153) && nb_text_is_letter(0x17F),
          "é, ß, œ, long s");
    CHECK(!nb_text_is_letter(0xD7) && !nb_text_is_letter(0xF7) && !nb_text_is_letter(0xB5) &&
              !nb_text_is_letter(0x3B1) && !nb_text_is_letter(0x180),
          "× ÷ µ α and U+0180 are not letters");
    static const uint32_t pairs[][2] = {{'A', 'a'},     {'z', 'z'},     {0xC9, 0xE9},   {0xDE, 0xFE},
                                        {0xD7, 0xD7},   {0xDF, 0xDF},   {0x178, 0xFF},  {0x130, 'i'},
                                        {0x131, 0x131}, {0x100, 0x101}, {0x141, 0x142}, {0x139, 0x13A},
                                        {0x152, 0x153}, {0x17D, 0x17E}, {0x17F, 0x17F}, {0x138, 0x138},
                                        {0x149, 0x149}, {0x3A9, 0x3A9}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        CHECK(nb_text_lower(pairs[i][0]) == pairs[i][1], "lower(U+%04X) = U+%04X, expected U+%04X", pairs[i][0],
              nb_text_lower(pairs[i][0]), pairs[i][1]);
    for (uint32_t c = 0; c < 0x180; c++) /* lower case stays a letter (or not) and is a fixed point */
        if (nb_text_is_letter(c) != nb_text_is_letter(nb_text_lower(c)) ||
            nb_text_lower(nb_text_lower(c)) != nb_text_lower(c)) {
            CHECK(0, "U+%04X", c);
            break;
        }
}

/* The tokens of text under a vocabulary without unknowns, joined with '|'. */
static const char *tokens_of(const nb_vocab *v, const char *text, int64_t max) {
    static char out[256];
    int64_t ids[64], n = 0;
    out[0] = '\0';
    if (nb_text_encode(v, text, strlen(text), max, ids, &n, "t") != NB_OK) return nb_last_error();
    for (int64_t i = 0; i < n; i++) {
        if (i) strcat(out, "|");
        strcat(out, nb_vocab_token(v, ids[i]));
    }
    return out;
}

static void test_tokenizers(void) {
    const char *w[] = {"hello", "world", "it", "s", "x", "fast"};
    nb_vocab *words = nb_vocab_new(NB_TOKENIZER_WORDS, true, w, 6);
    CHECK(words && nb_vocab_size(words) == 8, "word vocabulary: %s", nb_last_error());
    CHECK(!strcmp(tokens_of(words, "Hello, WORLD! it's 2x-fast\xFF\xFEhello", 64), "hello|world|it|s|x|fast|hello"),
          "words: '%s'", tokens_of(words, "Hello, WORLD! it's 2x-fast\xFF\xFEhello", 64));
    CHECK(!strcmp(tokens_of(words, "caf\xC3\xA9 new hello", 64), "<unk>|<unk>|hello"), "unknown words: '%s'",
          tokens_of(words, "caf\xC3\xA9 new hello", 64));
    CHECK(!strcmp(tokens_of(words, "hello world it", 2), "hello|world"), "max tokens");
    CHECK(!strcmp(tokens_of(words, "12 -- !!", 64), ""), "no tokens");
    nb_vocab_free(words);

    const char *c[] = {"\xC3\xA9", "t", "\xC3\x89", "\n"};
    nb_vocab *chars = nb_vocab_new(NB_TOKENIZER_CHARS, false, c, 4);
    CHECK(chars && nb_vocab_size(chars) == 4 && !nb_vocab_has_specials(chars), "char vocabulary: %s", nb_last_error());
    CHECK(!strcmp(tokens_of(chars, "\xC3\x89t\xC3\xA9\n", 64), "\xC3\x89|t|\xC3\xA9|\n"), "chars keep case");
    CHECK_ERR(!strcmp(tokens_of(chars, "tT", 64), nb_last_error()), "t: byte 1", "\"T\" is not in the vocabulary");
    CHECK_ERR(!strcmp(tokens_of(chars, "tt\xC3", 1), nb_last_error()), "t: invalid UTF-8 at byte 2", "end of the text");
    nb_vocab_free(chars);

    const char *lc[] = {"\xC3\xA9", "t", "\xC5\x93"};
    nb_vocab *lower = nb_vocab_new(NB_TOKENIZER_LOWER_CHARS, true, lc, 3);
    CHECK(lower && nb_vocab_id(lower, "t", 1) == 3, "lower-chars vocabulary: %s", nb_last_error());
    CHECK(!strcmp(tokens_of(lower, "\xC3\x89T\xC3\xA9\xC5\x92!", 64), "\xC3\xA9|t|\xC3\xA9|\xC5\x93|<unk>"),
          "lower-chars: É -> é, Œ -> œ, ! unknown: '%s'", tokens_of(lower, "\xC3\x89T\xC3\xA9\xC5\x92!", 64));
    nb_vocab_free(lower);
}

static void test_vocab(void) {
    const char *tok[] = {"b", "a", "c", "d", "e", "ab"};
    int64_t count[] = {3, 3, 5, 1, 0, 3};
    nb_vocab *v = nb_vocab_from_counts(NB_TOKENIZER_WORDS, tok, count, 6, 4);
    CHECK(v && nb_vocab_size(v) == 6, "from counts: %s", nb_last_error());
    const char *want[] = {"<pad>", "<unk>", "c", "a", "ab", "b"};
    for (int i = 0; v && i < 6; i++)
        CHECK(!strcmp(nb_vocab_token(v, i), want[i]), "id %d: %s, expected %s", i, nb_vocab_token(v, i), want[i]);
    CHECK(nb_vocab_id(v, "d", 1) == NB_VOCAB_UNK && nb_vocab_id(v, "e", 1) == NB_VOCAB_UNK, "cut and zero counts: unk");
    CHECK(nb_vocab_id(v, "<pad>", 5) == 0 && nb_vocab_id(v, "ab", 2) == 4 && nb_vocab_id(v, "abc", 2) == 4, "ids");
    CHECK(!nb_vocab_token(v, 6) && !nb_vocab_token(v, -1), "out of range");
    char *s = nb_vocab_serialize(v);
    CHECK(s && !strcmp(s, "nabla-vocab 1 words specials 4\nc\na\nab\nb\n"), "serialized: '%s'", s);
    free(s);
    nb_vocab_free(v);
    v = nb_vocab_from_counts(NB_TOKENIZER_WORDS, tok, count, 6, 0);
    CHECK(v && nb_vocab_size(v) == 2, "max_size 0: the specials only");
    nb_vocab_free(v);

    /* Round trips with every kind of byte the escapes cover. */
    const char *odd[] = {"\n", "\\", "\t", "\x7F", " ", "\xC3\xA9", "\xE2\x80\x9C", "x", "\x01"};
    nb_vocab *c = nb_vocab_new(NB_TOKENIZER_CHARS, false, odd, 9);
    s = nb_vocab_serialize(c);
    CHECK(s && !strcmp(s, "nabla-vocab 1 chars plain 9\n\\n\n\\\\\n\\x09\n\\x7F\n \n\xC3\xA9\n\xE2\x80\x9C\nx\n\\x01\n"),
          "escapes: '%s'", s);
    nb_vocab *back = nb_vocab_parse(s);
    CHECK(back && nb_vocab_size(back) == 9 && !nb_vocab_has_specials(back), "parse: %s", nb_last_error());
    for (int i = 0; back && i < 9; i++) CHECK(!strcmp(nb_vocab_token(back, i), odd[i]), "token %d back", i);
    CHECK(nb_vocab_id(back, "q", 1) == -1, "no unk: -1");
    char *again = nb_vocab_serialize(back);
    CHECK(again && !strcmp(again, s), "serialize(parse(s)) == s");
    free(again);
    free(s);
    nb_vocab_free(back);
    nb_vocab_free(c);
    nb_vocab *empty = nb_vocab_parse("nabla-vocab 1 lower-chars specials 0\n");
    CHECK(empty && nb_vocab_size(empty) == 2 && nb_vocab_tokenizer(empty) == NB_TOKENIZER_LOWER_CHARS, "empty");
    nb_vocab_free(empty);

    static const struct {
        const char *s, *why;
    } bad[] = {
        {"", "first line"},
        {"nabla-vocab 1 words specials 1\na", "closing newline"},
        {"nabla-vocab 1 words specials 2\na\n", "1 tokens, expected 2"},
        {"nabla-vocab 1 words specials 1\na\nb\n", "text after"},
        {"nabla-vocab 1 words specials 01\na\n", "leading zeros"},
        {"nabla-vocab 1 words  specials 1\na\n", "single spaces"},
        {"nabla-vocab 2 words specials 1\na\n", "first line"},
        {"nabla-vocab 1 bytes specials 1\na\n", "tokenizer"},
        {"nabla-vocab 1 words some 1\na\n", "specials or plain"},
        {"nabla-vocab 1 words specials -1\na\n", "first line"},
        {"nabla-vocab 1 words specials 1\r\na\n", "first line"},
        {"nabla-vocab 1 chars plain 1\n\\q\n", "token 0 (line 2): a backslash"},
        {"nabla-vocab 1 chars plain 1\n\\x0A\n", "other than a newline"},
        {"nabla-vocab 1 chars plain 1\n\\x41\n", "control byte"},
        {"nabla-vocab 1 chars plain 1\n\\x0a\n", "upper-case hex"},
        {"nabla-vocab 1 chars plain 1\n\t\n", "should have been escaped"},
        {"nabla-vocab 1 chars plain 2\nx\nx\n", "token 1 \"x\" appears twice"},
        {"nabla-vocab 1 chars plain 1\n\xC3\n", "not valid UTF-8"},
        {"nabla-vocab 1 chars plain 1\nab\n", "exactly one character"},
        {"nabla-vocab 1 chars plain 1\n\n", "empty token"},
        {"nabla-vocab 1 chars plain 1\n\\x00\n", "NUL"}, /* fuzz_text's finding: a token no C string holds */
        {"nabla-vocab 1 lower-chars plain 1\nA\n", "lower case"},
        {"nabla-vocab 1 words specials 1\nAb\n", "letters a-z"},
        {"nabla-vocab 1 words specials 1\n<unk>\n", "letters a-z"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_ERR(!nb_vocab_parse(bad[i].s), "nb_vocab_parse", bad[i].why);
    CHECK_ERR(!nb_vocab_parse(NULL), "nb_vocab_parse", "NULL");
    const char *dup[] = {"a", "b", "a"};
    CHECK_ERR(!nb_vocab_new(NB_TOKENIZER_WORDS, true, dup, 3), "token 2 \"a\" appears twice", "first as id 2");
    CHECK_ERR(!nb_vocab_new(NB_TOKENIZER_COUNT, true, dup, 1), "nb_vocab_new", "unknown tokenizer");
    CHECK_ERR(!nb_vocab_from_counts(NB_TOKENIZER_WORDS, dup, count, 3, -1), "nb_vocab_from_counts", "max_size");
}

/* A dataset of lengths len[i] (token t of sample i = 100 i + t + 1), label i % 3. */
static nb_text_dataset *toy(int64_t n, const int64_t *len) {
    int64_t T = 1;
    for (int64_t i = 0; i < n; i++) T = len[i] > T ? len[i] : T;
    nb_text_dataset *d = calloc(1, sizeof *d);
    d->n = n;
    d->max_len = T;
    d->tokens = calloc((size_t)(n * T), sizeof *d->tokens);
    d->lengths = malloc((size_t)n * sizeof *d->lengths);
    d->y = malloc((size_t)n * sizeof *d->y);
    for (int64_t i = 0; i < n; i++) {
        d->lengths[i] = len[i];
        d->y[i] = i % 3;
        for (int64_t t = 0; t < len[i]; t++) d->tokens[i * T + t] = 100 * i + t + 1;
    }
    return d;
}

static void test_text_loader(void) {
    int64_t len[7] = {3, 1, 5, 2, 2, 4, 1};
    nb_text_dataset *d = toy(7, len);
    nb_text_loader *l = nb_text_loader_new(d, 3, false, 0, false);
    CHECK(l && nb_text_loader_batches(l) == 3, "7 in batches of 3: 3 batches");
    nb_batch b;
    CHECK(!nb_text_loader_next(l, &b) && err_has("nb_text_loader_start", NULL), "next before start");
    nb_text_loader_start(l, 0);
    int64_t want_T[3] = {5, 4, 1}, k = 0;
    bool ok = true;
    while (nb_text_loader_next(l, &b)) {
        int64_t T = b.x_shape[0];
        ok &= b.x_ndim == 1 && T == want_T[k] && b.tokens && b.lengths && b.y && b.idx && !b.x && !b.carry;
        for (int64_t r = 0; r < b.n; r++) {
            int64_t i = b.idx[r];
            ok &= i == 3 * k + r && b.lengths[r] == len[i] && b.y[r] == i % 3;
            for (int64_t t = 0; t < T; t++) ok &= b.tokens[r * T + t] == (t < len[i] ? 100 * i + t + 1 : 0);
        }
        k++;
    }
    CHECK(ok && k == 3, "batches padded to their longest (5, 4, 1), pad 0, lengths, labels, idx in order");
    nb_text_loader_free(l);

    /* Shuffled: each epoch a permutation from (seed, epoch) alone, the same as nb_loader's. */
    l = nb_text_loader_new(d, 2, true, 42, true);
    CHECK(l && nb_text_loader_batches(l) == 3, "drop_last: 3 batches of 2");
    int64_t order[3][6];
    for (int e = 0; e < 3; e++) {
        nb_text_loader_start(l, e == 2 ? 0 : e);
        int64_t m = 0;
        while (nb_text_loader_next(l, &b))
            for (int64_t r = 0; r < b.n; r++) order[e][m++] = b.idx[r];
        CHECK(m == 6, "6 samples with drop_last");
    }
    CHECK(!memcmp(order[0], order[2], sizeof order[0]) && memcmp(order[0], order[1], sizeof order[0]),
          "epoch 0 repeats, epoch 1 differs");
    nb_text_loader_free(l);
    nb_dataset bytes = {.n = 7, .dim = 1, .c = 1, .h = 1, .w = 1, .n_classes = 3, .std = 1};
    uint8_t x[7] = {0};
    int64_t y[7] = {0};
    bytes.x_u8 = x;
    bytes.y = y;
    nb_loader *ref = nb_loader_new(&bytes, 7, 1, 42, 0);
    nb_loader_start(ref, 1);
    nb_loader_next(ref, &b);
    CHECK(!memcmp(b.idx, order[1], 6 * sizeof(int64_t)), "the same order as nb_loader for (seed 42, epoch 1)");
    nb_loader_free(ref);

    nb_text_loader *lt = nb_text_loader_new(d, 4, false, 0, false);
    nb_batch_source src = nb_text_loader_source(lt);
    src.start(src.ctx, 0);
    int64_t seen = 0;
    while (src.next(src.ctx, &b)) seen += b.n;
    CHECK(src.count(src.ctx) == 2 && seen == 7, "as a batch source");
    nb_text_loader_free(lt);
    d->lengths[3] = 9;
    CHECK_ERR(!nb_text_loader_new(d, 2, false, 0, false), "sample 3 has length 9", "1..5");
    CHECK_ERR(!nb_text_loader_new(d, 0, false, 0, false), "nb_text_loader_new", "batch size");
    nb_text_dataset_free(d);
}

static void test_stream_loader(void) {
    int64_t ids[1000];
    for (int i = 0; i < 1000; i++) ids[i] = i;
    /* 1000 ids in 4 streams of 250: windows of 100 over 249 steps: 100, 100, 49. */
    nb_stream_loader *l = nb_stream_loader_new(ids, 1000, 4, 100, true);
    CHECK(l && nb_stream_loader_batches(l) == 3, "3 training batches");
    nb_batch b, prev = {0};
    int64_t last[4] = {0}, k = 0;
    bool ok = true;
    nb_stream_loader_start(l, 0);
    while (nb_stream_loader_next(l, &b)) {
        int64_t T = b.x_shape[0];
        ok &= b.n == 4 && b.x_ndim == 1 && T == (k < 2 ? 100 : 49) && b.carry == (k > 0) && !b.lengths;
        for (int64_t i = 0; i < 4; i++) {
            ok &= b.tokens[i * T] == i * 250 + k * 100;             /* stream i, step kT */
            if (k > 0) ok &= b.tokens[i * T] == last[i];            /* continues the row before */
            for (int64_t t = 0; t < T; t++) ok &= b.y[i * T + t] == b.tokens[i * T + t] + 1;
            last[i] = b.y[i * T + T - 1];
        }
        prev = b;
        k++;
    }
    CHECK(ok && k == 3, "row i of batch k+1 starts where row i of batch k ended; targets the next ids; carry");
    CHECK(last[3] == 999 && prev.n == 4, "the last target is the stream's last id");
    nb_batch_source src = nb_stream_loader_source(l);
    src.start(src.ctx, 5);
    CHECK(src.next(src.ctx, &b) && !b.carry && b.tokens[0] == 0, "every epoch starts over, carry false");
    nb_stream_loader_free(l);

    /* Evaluation: 1000 ids -> 999 targets -> windows 100 x 9 and 99; 4 per batch. */
    l = nb_stream_loader_new(ids, 1000, 4, 100, false);
    CHECK(l && nb_stream_loader_batches(l) == 3, "3 evaluation batches");
    nb_stream_loader_start(l, 0);
    int64_t w = 0, targets = 0;
    ok = true;
    while (nb_stream_loader_next(l, &b)) {
        int64_t T = b.x_shape[0];
        ok &= !b.carry && b.lengths && T == 100; /* the last batch: windows of 100 and 99 */
        for (int64_t i = 0; i < b.n; i++, w++) {
            ok &= b.lengths[i] == (w < 9 ? 100 : 99) && b.tokens[i * T] == w * 100;
            for (int64_t t = 0; t < b.lengths[i]; t++) ok &= b.y[i * T + t] == w * 100 + t + 1;
            for (int64_t t = b.lengths[i]; t < T; t++) ok &= b.tokens[i * T + t] == 0;
            targets += b.lengths[i];
        }
    }
    CHECK(ok && w == 10 && targets == 999, "10 non-overlapping windows, every target once: %lld %lld", (long long)w,
          (long long)targets);
    nb_stream_loader_free(l);
    CHECK_ERR(!nb_stream_loader_new(ids, 7, 4, 100, true), "too few", "2 ids per stream");
    CHECK_ERR(!nb_stream_loader_new(ids, 1, 4, 100, false), "too few", "one window");
    CHECK_ERR(!nb_stream_loader_new(ids, 100, 4, 0, true), "nb_stream_loader_new", "steps > 0");
}

int main(void) {
    test_splitmix();
    test_utf8();
    test_letters();
    test_tokenizers();
    test_vocab();
    test_text_loader();
    test_stream_loader();
    return test_end("test_text");
}
