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

typedef struct select_ctx {
    nb_params *p;
    bool *mask;
    const char *fn;
} select_ctx;

static nb_status select_cb(void *c, const char *prefix) {
    select_ctx *x = c;
    int hits = 0;
    for (int i = 0; i < nb_params_count(x->p); i++)
        if (nb__under(nb_params_name(x->p, i), prefix)) {
            x->mask[i] = true;
            hits++;
        }
    if (!hits) return nb__err(NB_ERR_ARG, "%s: no parameter is named '%s' or starts with '%s.'", x->fn, prefix, prefix);
    return NB_OK;
}

nb_status nb__params_select(nb_params *p, const char *prefixes, const char *fn, bool **out, int *count) {
    *out = NULL;
    int n = nb_params_count(p);
    bool *mask = calloc((size_t)(n ? n : 1), sizeof *mask);
    if (!mask) return nb__err(NB_ERR_MEM, "%s: out of memory", fn);
    select_ctx c = {p, mask, fn};
    nb_status st = nb__each_prefix(prefixes, fn, select_cb, &c);
    if (st) {
        free(mask);
        return st;
    }
    if (count) {
        *count = 0;
        for (int i = 0; i < n; i++) *count += mask[i];
    }
    *out = mask;
    return NB_OK;
}
