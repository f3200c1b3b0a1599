/* Language identification from Debian's word lists under the protocol of docs/text-data.md,
 * written out here so that another framework can rebuild the same split:
 *  1. classes in order, with their files in the folder: english (american-english), german
 *     (ngerman), french (french), spanish (spanish), italian (italian), portuguese
 *     (portuguese), dutch (dutch), swedish (swedish). swedish is ISO-8859-1 (each byte is the
 *     code point of that value); the others are UTF-8 and checked (an error names the file and
 *     the byte offset).
 *  2. a file's lines are its text split at every "\n" (nothing else is stripped); each line is
 *     lower-cased code point by code point (nb_text_lower) and kept as a word when every code
 *     point is a letter (nb_text_is_letter) and it has at least 3 code points.
 *  3. a language's words are its distinct kept words; a word kept in more than one language
 *     is dropped from all of them. Each language's words are then sorted by code point.
 *  4. k = min(20,000, the fewest words of any language). One splitmix64 stream with state 0
 *     shuffles each language's sorted words in class order (nb_split_shuffle over all of
 *     them); the first k of each are used: the first k//5 for test, the next k - k//5 for
 *     train. Each split lists the classes in order, each in shuffled order.
 *  5. vocabulary: <pad> = 0, <unk> = 1, then every code point of the training words, sorted,
 *     from id 2; a sample is its word's code points as ids (<unk> for a code point of a test
 *     word that no training word has), no length limit. */
#include "text_impl.h"

#define NLANG 8
static const char *const lang_names[NLANG] = {"english", "german", "french", "spanish",
                                              "italian", "portuguese", "dutch", "swedish"};
static const char *const lang_files[NLANG] = {"american-english", "ngerman", "french", "spanish",
                                              "italian", "portuguese", "dutch", "swedish"};
static const bool lang_latin1[NLANG] = {false, false, false, false, false, false, false, true};
#define MAX_CP 0x180 /* letters end at U+017F */

/* ISO-8859-1 bytes as UTF-8 (malloc'd, NUL-terminated). */
static char *latin1_to_utf8(const char *s, size_t len, size_t *out_len) {
    char *u = malloc(2 * len + 1);
    if (!u) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) o += (size_t)nb_utf8_encode((unsigned char)s[i], u + o);
    u[o] = '\0';
    *out_len = o;
    return u;
}

/* Adds language c's words from the file to words (value: bit c set for each language). */
static nb_status read_list(const char *dir, int c, nb__strmap *words) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, lang_files[c]);
    char *buf;
    size_t len;
    nb_status st = nb__read_file(path, &buf, &len);
    if (st != NB_OK) return st;
    if (len == 0) {
        free(buf);
        return nb__err(NB_ERR_FORMAT, "%s: empty file, expected a word list (one word a line)", path);
    }
    if (lang_latin1[c]) {
        char *u = latin1_to_utf8(buf, len, &len);
        free(buf);
        if (!u) return nb__err(NB_ERR_MEM, "%s: out of memory", path);
        buf = u;
    } else if ((st = nb_utf8_check(buf, len, path)) != NB_OK) {
        free(buf);
        return st;
    }
    char *word = malloc(len + 1); /* a lowered line: never longer (lowering keeps byte lengths
                                   * but for U+0130 -> 'i', which is shorter) */
    if (!word) {
        free(buf);
        return nb__err(NB_ERR_MEM, "%s: out of memory", path);
    }
    int64_t kept = 0;
    for (size_t i = 0; i <= len && st == NB_OK;) {
        const char *eol = memchr(buf + i, '\n', len - i);
        size_t end = eol ? (size_t)(eol - buf) : len, wl = 0, chars = 0;
        bool letters = true;
        for (size_t j = i; j < end && letters;) {
            uint32_t cp;
            int n = nb_utf8_decode(buf + j, end - j, &cp); /* valid: checked or converted above */
            letters = n > 0 && nb_text_is_letter(cp);
            if (letters) wl += (size_t)nb_utf8_encode(nb_text_lower(cp), word + wl);
            j += (size_t)(n > 0 ? n : 1);
            chars++;
        }
        if (letters && chars >= 3) {
            int64_t e = nb__strmap_put(words, word, wl, 0, NULL);
            if (e < 0) {
                st = nb__err(NB_ERR_MEM, "%s: out of memory", path);
            } else {
                words->value[e] |= (int64_t)1 << c;
                kept++;
            }
        }
        i = end + 1;
    }
    free(word);
    free(buf);
    if (st == NB_OK && kept == 0)
        st = nb__err(NB_ERR_FORMAT, "%s: no word of 3 or more letters (A-Z, a-z, U+00C0-U+017F)", path);
    return st;
}

static int by_bytes(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Ids of word into s with label c. */
static nb_status add_word(const nb_vocab *v, const char *word, int c, int64_t *ids, nb__seqs *s) {
    int64_t n;
    size_t len = strlen(word);
    nb_status st = nb_text_encode(v, word, len, (int64_t)len, ids, &n, lang_names[c]);
    if (st == NB_OK && nb__seqs_add(s, ids, n, c) != NB_OK) st = nb__err(NB_ERR_MEM, "langid: out of memory");
    return st;
}

nb_text_split *nb_langid_load(const char *dir) {
    if (!dir) {
        nb__err(NB_ERR_ARG, "nb_langid_load: folder is NULL");
        return NULL;
    }
    nb__strmap words;
    nb__strmap_init(&words);
    const char **list[NLANG] = {NULL};
    int64_t count[NLANG] = {0}, *perm[NLANG] = {NULL}, k = NB_LANGID_PER_CLASS, *ids = NULL;
    nb__seqs part[2]; /* train, test */
    memset(part, 0, sizeof part);
    nb_text_split *out = NULL;
    for (int c = 0; c < NLANG; c++)
        if (read_list(dir, c, &words) != NB_OK) goto done;
    size_t longest = 1;
    for (int64_t e = 0; e < words.n; e++) {
        for (int c = 0; c < NLANG; c++) count[c] += words.value[e] == (int64_t)1 << c;
        if (words.klen[e] > longest) longest = words.klen[e];
    }
    for (int c = 0; c < NLANG; c++) {
        list[c] = malloc((size_t)(count[c] ? count[c] : 1) * sizeof *list[c]);
        if (!list[c]) goto oom;
        count[c] = 0;
        for (int64_t e = 0; e < words.n; e++)
            if (words.value[e] == (int64_t)1 << c) list[c][count[c]++] = words.key[e];
        if (count[c] == 0) {
            nb__err(NB_ERR_FORMAT, "%s/%s: no word left that is in no other list", dir, lang_files[c]);
            goto done;
        }
        if (count[c] < k) k = count[c];
        qsort(list[c], (size_t)count[c], sizeof *list[c], by_bytes); /* UTF-8 byte order = code point order */
    }
    uint64_t state = 0; /* one stream through the classes */
    bool seen[MAX_CP] = {false};
    for (int c = 0; c < NLANG; c++) {
        perm[c] = malloc((size_t)count[c] * sizeof *perm[c]);
        if (!perm[c]) goto oom;
        for (int64_t i = 0; i < count[c]; i++) perm[c][i] = i;
        nb_split_shuffle(perm[c], count[c], &state);
        for (int64_t j = k / 5; j < k; j++) /* the training words' characters */
            for (const char *w = list[c][perm[c][j]]; *w;) {
                uint32_t cp = 0;
                int n = nb_utf8_decode(w, strlen(w), &cp);
                if (cp < MAX_CP) seen[cp] = true;
                w += n > 0 ? n : 1;
            }
    }
    out = calloc(1, sizeof *out);
    ids = malloc(longest * sizeof *ids);
    if (!out || !ids) goto oom;
    char chars[MAX_CP][4];
    const char *tokens[MAX_CP];
    int64_t nt = 0;
    for (uint32_t cp = 0; cp < MAX_CP; cp++)
        if (seen[cp]) {
            chars[nt][nb_utf8_encode(cp, chars[nt])] = '\0';
            tokens[nt] = chars[nt];
            nt++;
        }
    out->vocab = nb_vocab_new(NB_TOKENIZER_LOWER_CHARS, true, tokens, nt);
    if (!out->vocab) goto fail;
    for (int train = 1; train >= 0; train--)
        for (int c = 0; c < NLANG; c++)
            for (int64_t j = train ? k / 5 : 0; j < (train ? k : k / 5); j++)
                if (add_word(out->vocab, list[c][perm[c][j]], c, ids, &part[!train]) != NB_OK) goto fail;
    out->train = nb__seqs_dataset(&part[0], NULL, part[0].n, NLANG, lang_names, dir);
    out->test = out->train ? nb__seqs_dataset(&part[1], NULL, part[1].n, NLANG, lang_names, dir) : NULL;
    if (!out->test) goto fail;
    goto done;
oom:
    nb__err(NB_ERR_MEM, "%s: out of memory loading the word lists", dir);
fail:
    nb_text_split_free(out);
    out = NULL;
done:
    for (int c = 0; c < NLANG; c++) {
        free(list[c]);
        free(perm[c]);
    }
    free(ids);
    nb__strmap_free(&words);
    nb__seqs_free(&part[0]);
    nb__seqs_free(&part[1]);
    return out;
}
