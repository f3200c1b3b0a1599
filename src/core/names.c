/* Lists of parameter-name prefixes ("conv1,conv2"): how freezing, re-initialization, partial
 * loading and optimizer groups name the parameters they act on. */
#include "internal.h"

nb_status nb__each_prefix(const char *list, const char *fn, nb_status (*cb)(void *, const char *), void *ctx) {
    if (!list || !*list) return nb__err(NB_ERR_ARG, "%s: no names given", fn);
    const char *s = list;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char one[256];
        if (n == 0 || n >= sizeof one)
            return nb__err(NB_ERR_ARG, "%s: '%.300s' has an empty or over-long name", fn, list);
        memcpy(one, s, n);
        one[n] = '\0';
        nb_status st = cb(ctx, one);
        if (st) return st;
        s += n + (e ? 1 : 0);
        if (e && !*s) return nb__err(NB_ERR_ARG, "%s: '%.300s' ends with a comma", fn, list);
    }
    return NB_OK;
}

bool nb__under(const char *name, const char *prefix) {
    size_t n = strlen(prefix);
    return strncmp(name, prefix, n) == 0 && (name[n] == '\0' || name[n] == '.');
}

typedef struct match_ctx {
    const char *name;
    bool hit;
} match_ctx;

static nb_status match_cb(void *c, const char *p) {
    match_ctx *x = c;
    if (nb__under(x->name, p)) x->hit = true;
    return NB_OK;
}

bool nb_name_matches(const char *name, const char *prefixes) {
    match_ctx c = {name, false};
    if (!name || !prefixes || !*prefixes) return false;
    /* A malformed list matches nothing and leaves no error behind. */
    if (nb__each_prefix(prefixes, "nb_name_matches", match_cb, &c)) {
        nb_clear_error();
        return false;
    }
    return c.hit;
}
