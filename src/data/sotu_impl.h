/* The sotu protocol's pieces shared by src/data/sotu_text.c (sentences, corpus, labelling) and
 * src/data/sotu.c (held-out names, splits, vocabulary, datasets); tests/test_sotu.c uses them
 * too. The rules are written out in docs/text-data.md ("sotu") and mirrored by
 * bench/ner_data.py. Not installed. */
#ifndef NB_SOTU_IMPL_H
#define NB_SOTU_IMPL_H

#include "text_impl.h"

/* One token of a text: bytes text[off, off + len). */
typedef struct nb__span {
    size_t off, len;
} nb__span;

/* Cuts the cased-words tokens tok[0..n) of one paragraph of text into sentences: calls
 * fn(ctx, first, count) for each, in order (count >= 1). */
typedef nb_status (*nb__sentence_fn)(void *ctx, const nb__span *tok, int64_t count);
nb_status nb__sotu_sentences(const char *text, const nb__span *tok, int64_t n, nb__sentence_fn fn, void *ctx);

/* Splits text[0..len) into paragraphs at every "\n\n", tokenizes each (cased words, UTF-8
 * checked: an error names what and the byte offset) and calls fn for each sentence. */
nb_status nb__sotu_text_sentences(const char *text, size_t len, const char *what, nb__sentence_fn fn, void *ctx);

/* Flags of a distinct token (see nb__sotu_flags). */
enum {
    NB__SOTU_FIRST = 1,     /* a usable first name */
    NB__SOTU_SURNAME = 2,   /* can be a surname: >= 2 letters, capitalised, no month, not common */
    NB__SOTU_INITIAL = 4,   /* one capital letter */
    NB__SOTU_DAY = 8,       /* 1 or 2 digits, value 1..31 */
    NB__SOTU_YEAR = 16,     /* 4 digits */
    NB__SOTU_ORDINAL = 32,  /* st nd rd th */
    NB__SOTU_STATE = 64     /* the first token of a state's name */
};

/* A corpus: every distinct token with its count, the sentences as token entries. */
typedef struct nb__sotu {
    nb__strmap words;      /* token -> count (in the counted texts) */
    int64_t n_sent, sent_cap;
    int64_t *sent;         /* (n_sent + 1) start of each sentence in tok */
    int64_t n_tok, tok_cap;
    int64_t *tok;          /* (n_tok) word entries */
    bool count;            /* whether nb__sotu_add counts the tokens it adds */
    /* for the labelling (nb__sotu_flags): */
    nb__strmap first;      /* first names from the lists (value unused) */
    int n_states;
    char *state[64];       /* names as listed */
    int64_t state_tok[64][8], state_len[64]; /* their tokens as word entries */
    int64_t n_flags;
    uint8_t *flag;         /* (n_flags) NB__SOTU_* of each word entry */
    int8_t *month;         /* (n_flags) 0..11, or -1 */
} nb__sotu;

void nb__sotu_init(nb__sotu *c);
void nb__sotu_free(nb__sotu *c);
/* Adds the sentences of text[0..len) (counted when c->count). */
nb_status nb__sotu_add(nb__sotu *c, const char *text, size_t len, const char *what);
/* Reads dir/male.txt, female.txt (first names) and states.txt into c (an error names the
 * file: missing, empty, invalid UTF-8, a state of more than 8 tokens or over 64 states). */
nb_status nb__sotu_lists(nb__sotu *c, const char *dir);
/* (Re)computes the flags of every word entry from the lists and the counts so far. */
nb_status nb__sotu_flags(nb__sotu *c);

/* An entity: type (0 PER, 1 LOC, 2 DATE), its key (PER: the first name's entry; LOC: the
 * state's index; DATE: the month 0..11) and its tokens [start, end). */
typedef struct nb__entity {
    int type;
    int64_t key, start, end;
} nb__entity;
/* The BIO tags (NB_NER_*) of the sentence e[0..n) (word entries of c) and its entities
 * (room for n); returns the entity count. */
int64_t nb__sotu_label(const nb__sotu *c, const int64_t *e, int64_t n, int64_t *tags, nb__entity *ents);

#endif
