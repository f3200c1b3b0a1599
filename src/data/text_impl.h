/* Helpers shared by the text files of the data layer (utf8.c, strmap.c, vocab.c, the text
 * datasets and loaders). Not installed. */
#ifndef NB_TEXT_IMPL_H
#define NB_TEXT_IMPL_H

#include "data_impl.h"
#include "nabla/text.h"

/* ---- files (textfile.c; nb__read_file is in data_impl.h) -------------------------------- */
/* The entries of folder dir whose names end in suffix, sorted by strcmp; *names malloc'd
 * (each name too). An error names dir. */
nb_status nb__list_dir(const char *dir, const char *suffix, char ***names, int64_t *count);
void nb__free_names(char **names, int64_t count);

/* ---- a map from byte strings to int64 values (strmap.c) ---------------------------------- */
typedef struct nb__strmap {
    int64_t n, cap;    /* entries, slots (a power of 2) */
    int64_t *slot;     /* (cap) entry index + 1, 0 when empty */
    char **key;        /* (n) NUL-terminated copies, in insertion order */
    size_t *klen;      /* (n) */
    int64_t *value;    /* (n) */
    int64_t room;      /* allocated entries */
} nb__strmap;
void nb__strmap_init(nb__strmap *m);
void nb__strmap_free(nb__strmap *m);
/* Index of key[0..len) or -1. */
int64_t nb__strmap_find(const nb__strmap *m, const char *key, size_t len);
/* Index of key, inserted with value init when absent (*added set then); -1 out of memory. */
int64_t nb__strmap_put(nb__strmap *m, const char *key, size_t len, int64_t init, bool *added);

/* ---- tokens ----------------------------------------------------------------------------- */
/* Whitespace for the cased-words tokenizer: code points up to U+0020, U+007F and U+00A0. */
bool nb__is_space(uint32_t cp);
/* Calls fn(ctx, token, len, offset) for each token of text[0..len) in order, at most max
 * tokens (max < 0: all). Char tokens are the UTF-8 of one (lowered) code point in a scratch
 * buffer; word tokens point into a lower-cased scratch copy; cased words into text. Invalid
 * UTF-8 in char and cased-words modes is an error naming what and the offset; fn returning
 * non-zero stops with that status. */
typedef nb_status (*nb__token_fn)(void *ctx, const char *tok, size_t len, size_t offset);
nb_status nb__tokenize(nb_tokenizer t, const char *text, size_t len, int64_t max, const char *what,
                       nb__token_fn fn, void *ctx);

/* ---- datasets (text_dataset.c) ----------------------------------------------------------- */
/* A dataset of n samples padded to max_len, zeroed, with copies of the class names. */
nb_text_dataset *nb__text_dataset_new(int64_t n, int64_t max_len, int n_classes,
                                      const char *const *class_names, const char *what);
/* Gives d tags (N, T), all NB_TAG_PAD, and copies of the tag names. */
nb_status nb__text_dataset_add_tags(nb_text_dataset *d, int n_tags, const char *const *tag_names, const char *what);

/* Sequences of ids being gathered, before they become a dataset. */
typedef struct nb__seqs {
    int64_t n, cap, total, room, max_len;
    int64_t *start;  /* (n+1) offsets into ids */
    int64_t *ids;    /* (total) */
    int64_t *label;  /* (n) */
} nb__seqs;
/* Appends one sequence (len >= 1); non-zero out of memory. */
nb_status nb__seqs_add(nb__seqs *s, const int64_t *ids, int64_t len, int64_t label);
/* The sequences order[0..count) as a padded dataset (order NULL: all in order). */
nb_text_dataset *nb__seqs_dataset(const nb__seqs *s, const int64_t *order, int64_t count, int n_classes,
                                  const char *const *class_names, const char *what);
void nb__seqs_free(nb__seqs *s);

#endif
