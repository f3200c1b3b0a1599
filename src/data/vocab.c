/* Vocabularies: ids for tokens, built from counts (most frequent first, ties in byte order),
 * serialized as text for checkpoint metadata and parsed back strictly; text -> ids.
 *
 * Serialized form (docs/text-data.md):
 *   "nabla-vocab 1 <tokenizer> <specials|plain> <count>\n" then each of the count regular
 *   tokens in id order, each followed by "\n". In a token "\\" is written "\\\\", a newline
 *   "\\n", any other byte below 0x20 and 0x7F "\\xHH" (two upper-case hex digits); every other
 *   byte as it is. The specials "<pad>" and "<unk>" are not listed: with specials they hold
 *   ids 0 and 1 and the listed tokens start at id 2 (cased-words: 8 specials, from id 8). */
#include "text_impl.h"

struct nb_vocab {
    nb_tokenizer tok;
    bool specials;
    nb__strmap map; /* the regular tokens in id order; value = id */
};

/* The specials: "<pad>" and "<unk>"; a cased-words vocabulary has six more (<mask> and the
 * word-shape unknowns, ids NB_VOCAB_MASK .. NB_VOCAB_UNK_P). */
static const char *const special_name[NB_VOCAB_CASED_SPECIALS] = {"<pad>",   "<unk>",    "<mask>", "<unk:Xx>",
                                                                  "<unk:x>", "<unk:X>", "<unk:d>", "<unk:p>"};

static int64_t offset(const nb_vocab *v) {
    if (!v->specials) return 0;
    return v->tok == NB_TOKENIZER_CASED_WORDS ? NB_VOCAB_CASED_SPECIALS : 2;
}

/* Counts the tokens and the bytes they cover. */
static nb_status count_token(void *ctx, const char *tok, size_t len, size_t off) {
    (void)tok, (void)off;
    size_t *c = ctx;
    c[0]++;
    c[1] += len;
    return NB_OK;
}

uint64_t nb_word_key(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3u;
    return h ? h : 1;
}

int64_t nb_token_shape(const char *tok, size_t len) {
    uint32_t cp;
    if (!tok || len == 0 || nb_utf8_decode(tok, len, &cp) == 0) return NB_VOCAB_UNK_P;
    if (cp >= '0' && cp <= '9') return NB_VOCAB_UNK_D;
    if (!nb_text_is_letter(cp)) return NB_VOCAB_UNK_P;
    bool first_cap = nb_text_lower(cp) != cp, all_caps = true;
    size_t n = 0, chars = 0;
    for (size_t i = 0; i < len; i += n, chars++) {
        uint32_t c;
        n = (size_t)nb_utf8_decode(tok + i, len - i, &c);
        if (n == 0) return NB_VOCAB_UNK_P;
        if (!nb_text_is_letter(c) || nb_text_lower(c) == c) all_caps = false;
    }
    if (all_caps && chars >= 2) return NB_VOCAB_UNK_CAPS;
    return first_cap ? NB_VOCAB_UNK_CAP : NB_VOCAB_UNK_LOWER;
}

int64_t *nb_vocab_shape_unks(const nb_vocab *v) {
    if (!v || !v->specials || v->tok != NB_TOKENIZER_CASED_WORDS) {
        nb__err(NB_ERR_ARG, "nb_vocab_shape_unks: %s; expected a cased-words vocabulary with specials (its "
                "word-shape unknowns)", !v ? "no vocabulary" : v->specials ? "a vocabulary of another tokenizer"
                                                                          : "a vocabulary without specials");
        return NULL;
    }
    const int64_t n = nb_vocab_size(v);
    int64_t *unk = malloc((size_t)n * sizeof *unk);
    if (!unk) {
        nb__err(NB_ERR_MEM, "nb_vocab_shape_unks: out of memory for %lld ids", (long long)n);
        return NULL;
    }
    for (int64_t id = 0; id < n; id++) {
        const char *tok = id < NB_VOCAB_CASED_SPECIALS ? NULL : nb_vocab_token(v, id);
        unk[id] = tok ? nb_token_shape(tok, strlen(tok)) : id;
    }
    return unk;
}

/* Why tok[0..len) cannot be a token of t, or NULL. */
static const char *bad_token(nb_tokenizer t, const char *tok, size_t len) {
    if (len == 0) return "an empty token";
    if (t == NB_TOKENIZER_WORDS) {
        for (size_t i = 0; i < len; i++)
            if (tok[i] < 'a' || tok[i] > 'z') return "a word token must be letters a-z only";
        return NULL;
    }
    if (t == NB_TOKENIZER_CASED_WORDS) { /* exactly one token of the tokenizer */
        size_t c[2] = {0, 0}; /* tokens, bytes covered */
        if (nb__tokenize(t, tok, len, -1, "token", count_token, c) != NB_OK) return "not valid UTF-8";
        if (c[0] != 1 || c[1] != len)
            return "a cased-words token must be one run of letters, one number or one other character";
        return NULL;
    }
    uint32_t cp;
    int n = nb_utf8_decode(tok, len, &cp);
    if (n == 0) return "not valid UTF-8";
    if ((size_t)n != len) return "a character token must be exactly one character";
    if (cp == 0) return "U+0000 (a NUL byte) is not a token: C strings end there";
    if (t == NB_TOKENIZER_LOWER_CHARS && nb_text_lower(cp) != cp) return "a lower-chars token must be lower case";
    return NULL;
}

/* tok with control bytes and backslashes escaped, cut to fit buf (for messages). */
static const char *shown(const char *tok, size_t len, char *buf, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)tok[i];
        if (c == '\\') o += (size_t)snprintf(buf + o, cap - o, "\\\\");
        else if (c == '\n') o += (size_t)snprintf(buf + o, cap - o, "\\n");
        else if (c < 0x20 || c == 0x7F) o += (size_t)snprintf(buf + o, cap - o, "\\x%02X", c);
        else buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return buf;
}
#define SHOWN(tok, len) shown(tok, len, (char[80]){0}, 80)

static nb_vocab *vocab_alloc(nb_tokenizer t, bool specials, const char *fn) {
    if ((int)t < 0 || t >= NB_TOKENIZER_COUNT) {
        nb__err(NB_ERR_ARG, "%s: unknown tokenizer %d", fn, (int)t);
        return NULL;
    }
    nb_vocab *v = calloc(1, sizeof *v);
    if (!v) {
        nb__err(NB_ERR_MEM, "%s: out of memory", fn);
        return NULL;
    }
    v->tok = t;
    v->specials = specials;
    nb__strmap_init(&v->map);
    return v;
}

/* Adds token i (for messages: its position `what` i); fails on a bad token or a duplicate. */
static nb_status vocab_add(nb_vocab *v, const char *tok, size_t len, const char *fn, const char *what, int64_t i) {
    const char *why = bad_token(v->tok, tok, len);
    if (why)
        return nb__err(NB_ERR_FORMAT, "%s: %s %lld \"%s\": %s", fn, what, (long long)i, SHOWN(tok, len), why);
    bool added;
    int64_t e = nb__strmap_put(&v->map, tok, len, v->map.n + offset(v), &added);
    if (e < 0) return nb__err(NB_ERR_MEM, "%s: out of memory at %s %lld", fn, what, (long long)i);
    if (!added)
        return nb__err(NB_ERR_FORMAT, "%s: %s %lld \"%s\" appears twice (first as id %lld)", fn, what, (long long)i,
                       SHOWN(tok, len), (long long)v->map.value[e]);
    return NB_OK;
}

nb_vocab *nb_vocab_new(nb_tokenizer t, bool specials, const char *const *tokens, int64_t n) {
    if (n < 0 || (n > 0 && !tokens)) {
        nb__err(NB_ERR_ARG, "nb_vocab_new: %lld tokens at %p", (long long)n, (const void *)tokens);
        return NULL;
    }
    nb_vocab *v = vocab_alloc(t, specials, "nb_vocab_new");
    for (int64_t i = 0; v && i < n; i++) {
        if (!tokens[i] || vocab_add(v, tokens[i], strlen(tokens[i]), "nb_vocab_new", "token", i) != NB_OK) {
            if (!tokens[i]) nb__err(NB_ERR_ARG, "nb_vocab_new: token %lld is NULL", (long long)i);
            nb_vocab_free(v);
            return NULL;
        }
    }
    return v;
}

typedef struct counted {
    const char *tok;
    int64_t count;
} counted;

static int by_count(const void *a, const void *b) {
    const counted *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->tok, y->tok);
}

nb_vocab *nb_vocab_from_counts(nb_tokenizer t, const char *const *tokens, const int64_t *counts, int64_t n,
                               int64_t max_size) {
    if (n < 0 || (n > 0 && (!tokens || !counts)) || max_size < 0) {
        nb__err(NB_ERR_ARG, "nb_vocab_from_counts: %lld tokens, max_size %lld (expected n >= 0 with tokens "
                "and counts, max_size >= 0)", (long long)n, (long long)max_size);
        return NULL;
    }
    counted *c = malloc((size_t)(n ? n : 1) * sizeof *c);
    const char **keep = malloc((size_t)(n ? n : 1) * sizeof *keep);
    if (!c || !keep) {
        free(c);
        free(keep);
        nb__err(NB_ERR_MEM, "nb_vocab_from_counts: out of memory for %lld tokens", (long long)n);
        return NULL;
    }
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!tokens[i]) {
            free(c);
            free(keep);
            nb__err(NB_ERR_ARG, "nb_vocab_from_counts: token %lld is NULL", (long long)i);
            return NULL;
        }
        if (counts[i] > 0) c[m++] = (counted){tokens[i], counts[i]};
    }
    qsort(c, (size_t)m, sizeof *c, by_count);
    if (m > max_size) m = max_size;
    for (int64_t i = 0; i < m; i++) keep[i] = c[i].tok;
    nb_vocab *v = nb_vocab_new(t, true, keep, m);
    free(c);
    free(keep);
    return v;
}

void nb_vocab_free(nb_vocab *v) {
    if (!v) return;
    nb__strmap_free(&v->map);
    free(v);
}

int64_t nb_vocab_size(const nb_vocab *v) { return v ? v->map.n + offset(v) : 0; }
nb_tokenizer nb_vocab_tokenizer(const nb_vocab *v) { return v ? v->tok : NB_TOKENIZER_CHARS; }
bool nb_vocab_has_specials(const nb_vocab *v) { return v && v->specials; }

const char *nb_vocab_token(const nb_vocab *v, int64_t id) {
    if (!v || id < 0 || id >= nb_vocab_size(v)) return NULL;
    if (id < offset(v)) return special_name[id];
    return v->map.key[id - offset(v)];
}

int64_t nb_vocab_id(const nb_vocab *v, const char *token, size_t len) {
    if (!v || (!token && len)) return -1;
    for (int64_t k = 0; k < offset(v); k++)
        if (len == strlen(special_name[k]) && memcmp(token, special_name[k], len) == 0) return k;
    int64_t e = nb__strmap_find(&v->map, token ? token : "", len);
    if (e >= 0) return v->map.value[e];
    if (v->specials && v->tok == NB_TOKENIZER_CASED_WORDS) return nb_token_shape(token, len);
    return v->specials ? NB_VOCAB_UNK : -1;
}

/* ---- serialization ------------------------------------------------------------------------ */
char *nb_vocab_serialize(const nb_vocab *v) {
    if (!v) {
        nb__err(NB_ERR_ARG, "nb_vocab_serialize: vocabulary is NULL");
        return NULL;
    }
    size_t cap = 96;
    for (int64_t e = 0; e < v->map.n; e++) cap += 4 * v->map.klen[e] + 1; /* "\xHH" at worst */
    char *s = malloc(cap);
    if (!s) {
        nb__err(NB_ERR_MEM, "nb_vocab_serialize: out of memory for %zu bytes", cap);
        return NULL;
    }
    size_t o = (size_t)snprintf(s, cap, "nabla-vocab 1 %s %s %lld\n", nb_tokenizer_name(v->tok),
                                v->specials ? "specials" : "plain", (long long)v->map.n);
    for (int64_t e = 0; e < v->map.n; e++) {
        for (size_t i = 0; i < v->map.klen[e]; i++) {
            unsigned char c = (unsigned char)v->map.key[e][i];
            if (c == '\\') o += (size_t)sprintf(s + o, "\\\\");
            else if (c == '\n') o += (size_t)sprintf(s + o, "\\n");
            else if (c < 0x20 || c == 0x7F) o += (size_t)sprintf(s + o, "\\x%02X", c);
            else s[o++] = (char)c;
        }
        s[o++] = '\n';
    }
    s[o] = '\0';
    return s;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Unescapes the token line p[0..len) into out (room for len bytes); its length, or -1 with
 * *why set. */
static long unescape(const char *p, size_t len, char *out, const char **why) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7F) {
            *why = "a control byte that should have been escaped";
            return -1;
        }
        if (c != '\\') {
            out[o++] = (char)c;
            continue;
        }
        if (i + 1 < len && p[i + 1] == '\\') out[o++] = '\\', i++;
        else if (i + 1 < len && p[i + 1] == 'n') out[o++] = '\n', i++;
        else if (i + 3 < len && p[i + 1] == 'x' && hexval(p[i + 2]) >= 0 && hexval(p[i + 3]) >= 0) {
            int b = hexval(p[i + 2]) * 16 + hexval(p[i + 3]);
            if ((b >= 0x20 && b != 0x7F) || b == '\n') {
                *why = "\\xHH stands only for a control byte other than a newline";
                return -1;
            }
            out[o++] = (char)b;
            i += 3;
        } else {
            *why = "a backslash not followed by \\\\, n or xHH (upper-case hex)";
            return -1;
        }
    }
    return (long)o;
}

nb_vocab *nb_vocab_parse(const char *s) {
    if (!s) {
        nb__err(NB_ERR_ARG, "nb_vocab_parse: string is NULL");
        return NULL;
    }
    const char *eol = strchr(s, '\n');
    char tname[16], kind[16], num[24]; /* "cased-words" is the longest tokenizer name (11) */
    int used = 0;
    if (!eol || eol - s > 70 || sscanf(s, "nabla-vocab 1 %15[a-z-] %15[a-z] %23[0-9]%n", tname, kind, num, &used) != 3 ||
        s + used != eol) {
        nb__err(NB_ERR_FORMAT, "nb_vocab_parse: the first line is not \"nabla-vocab 1 <tokenizer> "
                "<specials|plain> <count>\"");
        return NULL;
    }
    int t = 0;
    while (t < NB_TOKENIZER_COUNT && strcmp(tname, nb_tokenizer_name((nb_tokenizer)t))) t++;
    bool specials = strcmp(kind, "specials") == 0;
    if (t == NB_TOKENIZER_COUNT || (!specials && strcmp(kind, "plain")) || (num[0] == '0' && num[1]) ||
        strlen(num) > 15) {
        nb__err(NB_ERR_FORMAT, "nb_vocab_parse: header \"%s %s %s\": expected a tokenizer (chars, lower-chars, "
                "words, cased-words), specials or plain, and a count without leading zeros", tname, kind, num);
        return NULL;
    }
    int64_t count = strtoll(num, NULL, 10);
    char canon[80]; /* sscanf lets spaces stretch: the line must be exactly the canonical one */
    int cl = snprintf(canon, sizeof canon, "nabla-vocab 1 %s %s %lld", tname, kind, (long long)count);
    if (cl != eol - s || memcmp(canon, s, (size_t)cl) != 0) {
        nb__err(NB_ERR_FORMAT, "nb_vocab_parse: the first line is not exactly \"%s\" (single spaces)", canon);
        return NULL;
    }
    nb_vocab *v = vocab_alloc((nb_tokenizer)t, specials, "nb_vocab_parse");
    char *tok = malloc(strlen(s) + 1);
    if (!v || !tok) goto fail_mem;
    const char *p = eol + 1;
    for (int64_t i = 0; i < count; i++) {
        const char *e = strchr(p, '\n');
        if (!e) {
            nb__err(NB_ERR_FORMAT, "nb_vocab_parse: %lld tokens, expected %lld (or a token without its "
                    "closing newline)", (long long)i, (long long)count);
            goto fail;
        }
        const char *why = NULL;
        long len = unescape(p, (size_t)(e - p), tok, &why);
        if (len < 0) {
            nb__err(NB_ERR_FORMAT, "nb_vocab_parse: token %lld (line %lld): %s", (long long)i, (long long)i + 2, why);
            goto fail;
        }
        if (vocab_add(v, tok, (size_t)len, "nb_vocab_parse", "token", i) != NB_OK) goto fail;
        p = e + 1;
    }
    if (*p) {
        nb__err(NB_ERR_FORMAT, "nb_vocab_parse: text after the %lld tokens the header announces", (long long)count);
        goto fail;
    }
    free(tok);
    return v;
fail_mem:
    nb__err(NB_ERR_MEM, "nb_vocab_parse: out of memory");
fail:
    free(tok);
    nb_vocab_free(v);
    return NULL;
}

/* ---- encoding ----------------------------------------------------------------------------- */
typedef struct enc {
    const nb_vocab *v;
    int64_t *ids, n;
    const char *what;
} enc;

static nb_status put_id(void *ctx, const char *tok, size_t len, size_t off) {
    enc *c = ctx;
    int64_t id = nb_vocab_id(c->v, tok, len);
    if (id < 0)
        return nb__err(NB_ERR_FORMAT, "%s: byte %zu: \"%s\" is not in the vocabulary", c->what, off, SHOWN(tok, len));
    c->ids[c->n++] = id;
    return NB_OK;
}

nb_status nb_text_encode(const nb_vocab *v, const char *text, size_t len, int64_t max_tokens, int64_t *ids,
                         int64_t *n_ids, const char *what) {
    if (n_ids) *n_ids = 0;
    if (!v || (!text && len) || max_tokens < 0 || (max_tokens > 0 && !ids) || !n_ids)
        return nb__err(NB_ERR_ARG, "nb_text_encode: vocabulary, text, ids (room for max_tokens >= 0) and n_ids "
                       "are required");
    enc c = {v, ids, 0, what ? what : "text"};
    nb_status st = nb__tokenize(v->tok, text ? text : "", len, max_tokens, c.what, put_id, &c);
    *n_ids = c.n;
    return st;
}
