/* A small hash map from byte strings to int64 values (open addressing, linear probing, FNV-1a),
 * for word counts and the vocabulary's token -> id lookup. Entries keep insertion order. */
#include "text_impl.h"

static uint64_t hash(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

void nb__strmap_init(nb__strmap *m) { memset(m, 0, sizeof *m); }

void nb__strmap_free(nb__strmap *m) {
    if (!m) return;
    for (int64_t i = 0; i < m->n; i++) free(m->key[i]);
    free(m->key);
    free(m->klen);
    free(m->value);
    free(m->slot);
    nb__strmap_init(m);
}

/* The slot of key, or of the empty place where it would go. */
static int64_t probe(const nb__strmap *m, const char *key, size_t len) {
    int64_t mask = m->cap - 1, s = (int64_t)(hash(key, len) & (uint64_t)mask);
    for (;; s = (s + 1) & mask) {
        int64_t e = m->slot[s] - 1;
        if (e < 0 || (m->klen[e] == len && memcmp(m->key[e], key, len) == 0)) return s;
    }
}

int64_t nb__strmap_find(const nb__strmap *m, const char *key, size_t len) {
    if (!m || m->cap == 0) return -1;
    return m->slot[probe(m, key, len)] - 1;
}

static bool grow_slots(nb__strmap *m) {
    int64_t cap = m->cap ? m->cap * 2 : 64;
    int64_t *slot = calloc((size_t)cap, sizeof *slot);
    if (!slot) return false;
    free(m->slot);
    m->slot = slot;
    m->cap = cap;
    for (int64_t e = 0; e < m->n; e++) m->slot[probe(m, m->key[e], m->klen[e])] = e + 1;
    return true;
}

static bool grow_entries(nb__strmap *m) {
    int64_t room = m->room ? m->room * 2 : 64;
    char **key = realloc(m->key, (size_t)room * sizeof *key);
    if (key) m->key = key;
    size_t *klen = realloc(m->klen, (size_t)room * sizeof *klen);
    if (klen) m->klen = klen;
    int64_t *value = realloc(m->value, (size_t)room * sizeof *value);
    if (value) m->value = value;
    if (!key || !klen || !value) return false;
    m->room = room;
    return true;
}

int64_t nb__strmap_put(nb__strmap *m, const char *key, size_t len, int64_t init, bool *added) {
    if (added) *added = false;
    if ((m->n + 1) * 2 > m->cap && !grow_slots(m)) return -1; /* load factor <= 1/2 */
    int64_t s = probe(m, key, len);
    if (m->slot[s]) return m->slot[s] - 1;
    if (m->n == m->room && !grow_entries(m)) return -1;
    char *k = malloc(len + 1);
    if (!k) return -1;
    memcpy(k, key, len);
    k[len] = '\0';
    int64_t e = m->n++;
    m->key[e] = k;
    m->klen[e] = len;
    m->value[e] = init;
    m->slot[s] = e + 1;
    if (added) *added = true;
    return e;
}
