/* UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), letters and
 * lower case by explicit code-point ranges (never the locale, so that Python can repeat them),
 * and the tokenizers. */
#include "text_impl.h"

/* Why bytes s[0..len) do not start a valid sequence, or NULL when they do (*n, *cp set). */
static const char *decode(const unsigned char *s, size_t len, int *n, uint32_t *cp) {
    unsigned b = s[0];
    if (b < 0x80) {
        *n = 1;
        *cp = b;
        return NULL;
    }
    if (b < 0xC0) return "a continuation byte with no lead byte";
    if (b < 0xC2) return "an overlong encoding (lead byte 0xC0 or 0xC1)";
    if (b > 0xF4) return "a byte that never appears in UTF-8 (0xF5-0xFF)";
    int need = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    uint32_t c = b & (need == 2 ? 0x1F : need == 3 ? 0x0F : 0x07);
    for (int k = 1; k < need; k++) {
        if ((size_t)k >= len) return "a sequence cut short by the end of the text";
        if ((s[k] & 0xC0) != 0x80) return "a sequence cut short (a continuation byte is missing)";
        c = (c << 6) | (s[k] & 0x3F);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < least[need]) return "an overlong encoding";
    if (c >= 0xD800 && c <= 0xDFFF) return "a surrogate (U+D800-U+DFFF)";
    if (c > 0x10FFFF) return "a value above U+10FFFF";
    *n = need;
    *cp = c;
    return NULL;
}

int nb_utf8_decode(const char *s, size_t len, uint32_t *cp) {
    int n = 0;
    uint32_t c = 0;
    if (!s || len == 0 || decode((const unsigned char *)s, len, &n, &c)) return 0;
    if (cp) *cp = c;
    return n;
}

static nb_status bad_utf8(const char *what, const char *s, size_t len, size_t at, const char *why) {
    char hex[16] = "";
    size_t k = 0;
    for (; k < 4 && at + k < len; k++) snprintf(hex + 3 * k, 4, "%02X ", (unsigned char)s[at + k]);
    if (k) hex[3 * k - 1] = '\0';
    return nb__err(NB_ERR_FORMAT, "%s: invalid UTF-8 at byte %zu: %s (bytes %s)", what ? what : "text", at,
                   why, hex);
}

nb_status nb_utf8_check(const char *s, size_t len, const char *what) {
    if (!s && len) return nb__err(NB_ERR_ARG, "nb_utf8_check: text is NULL");
    for (size_t i = 0; i < len;) {
        int n;
        uint32_t cp;
        const char *why = decode((const unsigned char *)s + i, len - i, &n, &cp);
        if (why) return bad_utf8(what, s, len, i, why);
        i += (size_t)n;
    }
    return NB_OK;
}

int nb_utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

bool nb_text_is_letter(uint32_t cp) {
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z')) return true;
    return cp >= 0xC0 && cp <= 0x17F && cp != 0xD7 && cp != 0xF7;
}

uint32_t nb_text_lower(uint32_t cp) {
    if (cp >= 'A' && cp <= 'Z') return cp + 32;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;
    if (cp == 0x130) return 'i'; /* capital I with dot above */
    if (cp == 0x178) return 0xFF; /* capital Y with diaeresis */
    bool even = (cp & 1) == 0;
    if (((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) && even) return cp + 1;
    if (((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) && !even) return cp + 1;
    return cp;
}

const char *nb_tokenizer_name(nb_tokenizer t) {
    switch (t) {
    case NB_TOKENIZER_CHARS: return "chars";
    case NB_TOKENIZER_LOWER_CHARS: return "lower-chars";
    case NB_TOKENIZER_WORDS: return "words";
    case NB_TOKENIZER_CASED_WORDS: return "cased-words";
    default: return "?";
    }
}

static nb_status words(const char *text, size_t len, int64_t max, nb__token_fn fn, void *ctx) {
    char *low = malloc(len ? len : 1);
    if (!low) return nb__err(NB_ERR_MEM, "tokenizer: out of memory for %zu bytes", len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        low[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    nb_status st = NB_OK;
    int64_t count = 0;
    for (size_t i = 0; i < len && (max < 0 || count < max) && st == NB_OK;) {
        if (low[i] < 'a' || low[i] > 'z') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && low[j] >= 'a' && low[j] <= 'z') j++;
        st = fn(ctx, low + i, j - i, i);
        count++;
        i = j;
    }
    free(low);
    return st;
}

bool nb__is_space(uint32_t cp) { return cp <= 0x20 || cp == 0x7F || cp == 0xA0; }

/* Cased words (sotu, docs/text-data.md): whitespace (nb__is_space) separates; a token is a
 * maximal run of letters, a number (ASCII digits, joined across one "," or "." that has a
 * digit on each side: "1,000", "3.5"), or any other single code point. Tokens point into
 * text; every byte is checked as UTF-8, also past max tokens. */
static nb_status cased_words(const char *text, size_t len, int64_t max, const char *what, nb__token_fn fn,
                             void *ctx) {
    int64_t count = 0;
    for (size_t i = 0; i < len;) {
        int n;
        uint32_t cp;
        const char *why = decode((const unsigned char *)text + i, len - i, &n, &cp);
        if (why) return bad_utf8(what, text, len, i, why);
        if (nb__is_space(cp)) {
            i += (size_t)n;
            continue;
        }
        size_t j = i + (size_t)n;
        if (nb_text_is_letter(cp)) {
            while (j < len) {
                int m;
                uint32_t c2;
                why = decode((const unsigned char *)text + j, len - j, &m, &c2);
                if (why) return bad_utf8(what, text, len, j, why);
                if (!nb_text_is_letter(c2)) break;
                j += (size_t)m;
            }
        } else if (cp >= '0' && cp <= '9') {
            while (j < len && ((text[j] >= '0' && text[j] <= '9') ||
                               ((text[j] == ',' || text[j] == '.') && j + 1 < len && text[j + 1] >= '0' &&
                                text[j + 1] <= '9')))
                j++;
        }
        if (max < 0 || count < max) {
            nb_status st = fn(ctx, text + i, j - i, i);
            if (st != NB_OK) return st;
            count++;
        }
        i = j;
    }
    return NB_OK;
}

nb_status nb__tokenize(nb_tokenizer t, const char *text, size_t len, int64_t max, const char *what,
                       nb__token_fn fn, void *ctx) {
    if (!text && len) return nb__err(NB_ERR_ARG, "tokenizer: text is NULL");
    if (t == NB_TOKENIZER_WORDS) return words(text, len, max, fn, ctx);
    if (t == NB_TOKENIZER_CASED_WORDS) return cased_words(text, len, max, what, fn, ctx);
    if (t != NB_TOKENIZER_CHARS && t != NB_TOKENIZER_LOWER_CHARS)
        return nb__err(NB_ERR_ARG, "tokenizer: unknown tokenizer %d", (int)t);
    int64_t count = 0;
    for (size_t i = 0; i < len;) { /* every byte is checked, also past max tokens */
        int n;
        uint32_t cp;
        const char *why = decode((const unsigned char *)text + i, len - i, &n, &cp);
        if (why) return bad_utf8(what, text, len, i, why);
        if (max < 0 || count < max) {
            char tok[4];
            if (t == NB_TOKENIZER_LOWER_CHARS) cp = nb_text_lower(cp);
            nb_status st = fn(ctx, tok, (size_t)nb_utf8_encode(cp, tok), i);
            if (st != NB_OK) return st;
            count++;
        }
        i += (size_t)n;
    }
    return NB_OK;
}
