/* String metadata: an ordered list of key/value pairs, stored in a checkpoint's __metadata__. */
#include "internal.h"

#include <stdarg.h>

#include "nabla/checkpoint.h"

struct nb_meta {
    int n, cap;
    char **key, **value;
};

nb_meta *nb_meta_new(void) {
    nb_meta *m = calloc(1, sizeof *m);
    if (!m) nb__err(NB_ERR_MEM, "nb_meta_new: out of memory");
    return m;
}

void nb_meta_free(nb_meta *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        free(m->key[i]);
        free(m->value[i]);
    }
    free(m->key);
    free(m->value);
    free(m);
}

static char *copy(const char *s) {
    char *c = malloc(strlen(s) + 1);
    if (c) strcpy(c, s);
    return c;
}

nb_status nb_meta_set(nb_meta *m, const char *key, const char *value) {
    if (!m || !key || !value) return nb__err(NB_ERR_ARG, "nb_meta_set: meta, key and value are required");
    size_t kl = strlen(key);
    bool ok = kl >= 1 && kl <= 64;
    for (size_t i = 0; ok && i < kl; i++) ok = key[i] > ' ' && key[i] < 127;
    if (!ok) return nb__err(NB_ERR_ARG, "nb_meta_set: key '%.64s' must be 1-64 printable ASCII characters", key);
    if (strlen(value) > NB_META_VALUE_MAX)
        return nb__err(NB_ERR_ARG, "nb_meta_set: the value of '%s' is over %d bytes", key, NB_META_VALUE_MAX);
    char *v = copy(value);
    if (!v) return nb__err(NB_ERR_MEM, "nb_meta_set: out of memory");
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->key[i], key) == 0) {
            free(m->value[i]);
            m->value[i] = v;
            return NB_OK;
        }
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 16;
        char **k = realloc(m->key, (size_t)cap * sizeof *k);
        if (k) m->key = k;
        char **vv = realloc(m->value, (size_t)cap * sizeof *vv);
        if (vv) m->value = vv;
        if (!k || !vv) {
            free(v);
            return nb__err(NB_ERR_MEM, "nb_meta_set: out of memory");
        }
        m->cap = cap;
    }
    char *k = copy(key);
    if (!k) {
        free(v);
        return nb__err(NB_ERR_MEM, "nb_meta_set: out of memory");
    }
    m->key[m->n] = k;
    m->value[m->n++] = v;
    return NB_OK;
}

nb_status nb_meta_setf(nb_meta *m, const char *key, const char *fmt, ...) {
    char buf[4097];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof buf)
        return nb__err(NB_ERR_ARG, "nb_meta_setf: the value of '%s' is over 4096 bytes", key ? key : "");
    return nb_meta_set(m, key, buf);
}

const char *nb_meta_get(const nb_meta *m, const char *key) {
    for (int i = 0; m && key && i < m->n; i++)
        if (strcmp(m->key[i], key) == 0) return m->value[i];
    return NULL;
}
int nb_meta_count(const nb_meta *m) { return m ? m->n : 0; }
const char *nb_meta_key(const nb_meta *m, int i) { return m && i >= 0 && i < m->n ? m->key[i] : NULL; }
const char *nb_meta_value(const nb_meta *m, int i) { return m && i >= 0 && i < m->n ? m->value[i] : NULL; }
