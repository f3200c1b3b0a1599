/* The entity-level report of named-entity recognition, as seqeval's classification_report in
 * its default mode (conlleval-compatible): entities read from BIO tags sentence by sentence,
 * counted per type (correct, gold, predicted), and laid out with the table code that the
 * classification report uses (report_text.c), followed by the token accuracy. */
#define _POSIX_C_SOURCE 200809L /* strdup under -std=c11 */
#include "metrics/metrics_impl.h"

#include <math.h>

struct nb_entity_report {
    int n_tags, n_types;
    char *kind;         /* (n_tags) 'O', 'B' or 'I' */
    int *type_of;       /* (n_tags) the type of B-X and I-X, -1 for O */
    char **type_names;  /* (n_types) in name order */
    /* The tallies, one block summed across processes by nb__entity_report_tallies' users:
     * (3, n_types) correct, gold and predicted entities; the same (3, n_types) over the
     * unseen entities; then the tokens added and those tagged right. */
    int64_t *counts, *unseen, *tokens_right;
    /* The seen surfaces: an open-addressing set of the surface hashes of the learned gold
     * entities (0 marks an empty slot; a hash of 0 is stored as 1). */
    uint64_t *seen;
    int64_t n_seen, seen_cap;
    bool keyed; /* a sentence came with keys since the last clear: the unseen table is shown */
};

/* An entity: its type and its first and last token in the sentence (as read). */
typedef struct entity {
    int type;
    int64_t begin, end;
    bool unseen; /* its surface was never learned (add_keyed only) */
} entity;

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void nb_entity_report_free(nb_entity_report *r) {
    if (!r) return;
    for (int i = 0; i < r->n_types; i++) free(r->type_names[i]);
    free(r->type_names);
    free(r->kind);
    free(r->type_of);
    free(r->counts);
    free(r->seen);
    free(r);
}

nb_entity_report *nb_entity_report_new(const char *const *tag_names, int n_tags) {
    if (!tag_names || n_tags < 1) {
        nb__err(NB_ERR_ARG, "nb_entity_report_new: %d tag names; need at least 1", n_tags);
        return NULL;
    }
    for (int i = 0; i < n_tags; i++) {
        const char *t = tag_names[i];
        if (!t || !(strcmp(t, "O") == 0 || ((t[0] == 'B' || t[0] == 'I') && t[1] == '-' && t[2] != 0))) {
            nb__err(NB_ERR_ARG, "nb_entity_report_new: tag %d is '%s'; expected O, B-TYPE or I-TYPE (BIO tags)", i,
                    t ? t : "(null)");
            return NULL;
        }
    }
    nb_entity_report *r = calloc(1, sizeof *r);
    if (!r) goto oom;
    r->n_tags = n_tags;
    r->kind = malloc((size_t)n_tags);
    r->type_of = malloc((size_t)n_tags * sizeof *r->type_of);
    r->type_names = calloc((size_t)n_tags, sizeof *r->type_names);
    if (!r->kind || !r->type_of || !r->type_names) goto oom;
    for (int i = 0; i < n_tags; i++) { /* the distinct types, then sorted */
        const char *t = tag_names[i];
        r->kind[i] = t[0];
        if (t[0] == 'O') continue;
        bool seen = false;
        for (int j = 0; j < r->n_types && !seen; j++) seen = strcmp(r->type_names[j], t + 2) == 0;
        if (!seen && !(r->type_names[r->n_types++] = strdup(t + 2))) goto oom;
    }
    qsort(r->type_names, (size_t)r->n_types, sizeof *r->type_names, by_name);
    for (int i = 0; i < n_tags; i++) {
        r->type_of[i] = -1;
        for (int j = 0; j < r->n_types && r->kind[i] != 'O'; j++)
            if (strcmp(r->type_names[j], tag_names[i] + 2) == 0) r->type_of[i] = j;
    }
    r->counts = calloc((size_t)(r->n_types > 0 ? r->n_types : 1) * 6 + 2, sizeof *r->counts);
    if (!r->counts) goto oom;
    r->unseen = r->counts + 3 * r->n_types;
    r->tokens_right = r->counts + 6 * r->n_types;
    return r;
oom:
    nb_entity_report_free(r);
    nb__err(NB_ERR_MEM, "nb_entity_report_new: out of memory for %d tags", n_tags);
    return NULL;
}

/* The entities of tags[0..n), in order, into out (at most n); returns how many. seqeval's
 * get_entities for BIO: the tag before the first is O of no type, and an O follows the last. */
static int64_t entities_of(const nb_entity_report *r, const int *tags, int64_t n, entity *out) {
    char pk = 'O';
    int ptype = -2; /* no type at all, unlike O's */
    int64_t begin = 0, count = 0;
    for (int64_t i = 0; i <= n; i++) {
        const char k = i < n ? r->kind[tags[i]] : 'O';
        const int type = i < n ? r->type_of[tags[i]] : -1;
        const bool end = pk != 'O' && (k == 'B' || k == 'O' || type != ptype);
        const bool start = k == 'B' || (pk == 'O' && k == 'I') || (k != 'O' && type != ptype);
        if (end) out[count++] = (entity){ptype, begin, i - 1, false};
        if (start) begin = i;
        pk = k;
        ptype = type;
    }
    return count;
}

/* ---- surfaces: what an entity's words are --------------------------------------------------- */
/* The surface hash of the entity e over the kept tokens' keys: the keys in order, mixed
 * (splitmix64's finalizer after each), never 0. */
static uint64_t surface_of(const uint64_t *keys, entity e) {
    uint64_t h = 0x9E3779B97F4A7C15u ^ (uint64_t)(e.end - e.begin + 1);
    for (int64_t i = e.begin; i <= e.end; i++) {
        h ^= keys[i];
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9u;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBu;
        h ^= h >> 31;
    }
    return h ? h : 1;
}

static bool seen_has(const nb_entity_report *r, uint64_t h) {
    if (!r->seen_cap) return false;
    for (int64_t i = (int64_t)(h & (uint64_t)(r->seen_cap - 1));; i = (i + 1) & (r->seen_cap - 1)) {
        if (r->seen[i] == h) return true;
        if (!r->seen[i]) return false;
    }
}

static nb_status seen_put(nb_entity_report *r, uint64_t h) {
    if (seen_has(r, h)) return NB_OK;
    if (2 * (r->n_seen + 1) > r->seen_cap) { /* at most half full */
        int64_t cap = r->seen_cap ? 2 * r->seen_cap : 1024;
        uint64_t *t = calloc((size_t)cap, sizeof *t), *old = r->seen;
        if (!t) return nb__err(NB_ERR_MEM, "nb_entity_report_learn: out of memory for %lld surfaces", (long long)cap);
        for (int64_t i = 0; i < r->seen_cap; i++) {
            if (!old[i]) continue;
            int64_t j = (int64_t)(old[i] & (uint64_t)(cap - 1));
            while (t[j]) j = (j + 1) & (cap - 1);
            t[j] = old[i];
        }
        free(old);
        r->seen = t, r->seen_cap = cap;
    }
    int64_t j = (int64_t)(h & (uint64_t)(r->seen_cap - 1));
    while (r->seen[j]) j = (j + 1) & (r->seen_cap - 1);
    r->seen[j] = h;
    r->n_seen++;
    return NB_OK;
}

/* ---- adding sentences ------------------------------------------------------------------------ */
/* The checked, kept tokens of a sentence: their gold and predicted tags (2, n) and keys (n),
 * and the entities of each ((2, n) room). */
typedef struct sentence {
    int64_t n;
    int *tags;
    uint64_t *keys;
    entity *ents;
} sentence;

static void sentence_free(sentence *x) {
    free(x->tags);
    free(x->keys);
    free(x->ents);
}

/* learning: keys are required and there is no pred; adding: pred is required, keys optional. */
static nb_status sentence_of(const nb_entity_report *r, const int64_t *gold, const int64_t *pred, const uint64_t *keys,
                             bool learning, int64_t n_tokens, const char *fn, sentence *x) {
    memset(x, 0, sizeof *x);
    if (!r) return nb__err(NB_ERR_ARG, "%s: the report is NULL", fn);
    if (n_tokens < 0) return nb__err(NB_ERR_ARG, "%s: negative length %lld", fn, (long long)n_tokens);
    if (n_tokens > 0 && (!gold || (learning ? !keys : !pred)))
        return nb__err(NB_ERR_ARG, "%s: gold or %s is NULL", fn, learning ? "keys" : "pred");
    for (int64_t i = 0; i < n_tokens; i++) { /* every id first, so that a bad sentence adds nothing */
        if (gold[i] < 0) continue;
        if (gold[i] >= r->n_tags || (pred && (pred[i] < 0 || pred[i] >= r->n_tags)))
            return nb__err(NB_ERR_ARG, "%s: token %lld has gold %lld, predicted %lld; tag ids are 0..%d", fn,
                           (long long)i, (long long)gold[i], pred ? (long long)pred[i] : 0LL, r->n_tags - 1);
    }
    const size_t m = (size_t)(n_tokens > 0 ? n_tokens : 1);
    x->tags = malloc(m * 2 * sizeof *x->tags);
    x->keys = keys ? malloc(m * sizeof *x->keys) : NULL;
    x->ents = malloc(m * 2 * sizeof *x->ents);
    if (!x->tags || (keys && !x->keys) || !x->ents) {
        sentence_free(x);
        return nb__err(NB_ERR_MEM, "%s: out of memory for a sentence of %lld tokens", fn, (long long)n_tokens);
    }
    for (int64_t i = 0; i < n_tokens; i++) {
        if (gold[i] < 0) continue;
        x->tags[x->n] = (int)gold[i];
        x->tags[n_tokens + x->n] = pred ? (int)pred[i] : 0;
        if (keys) x->keys[x->n] = keys[i];
        x->n++;
    }
    return NB_OK;
}

/* Counts the gold entities g and predicted ones p of a sentence into the tallies c (3,
 * n_types): all of them, or with only_unseen those whose surface was never learned. */
static void count(const nb_entity_report *r, int64_t *c, const entity *g, int64_t ng, const entity *p, int64_t np,
                  bool only_unseen) {
    int64_t *tp = c, *n_gold = c + r->n_types, *n_pred = c + 2 * r->n_types;
    for (int64_t i = 0; i < ng; i++) n_gold[g[i].type] += !only_unseen || g[i].unseen;
    for (int64_t j = 0; j < np; j++) n_pred[p[j].type] += !only_unseen || p[j].unseen;
    /* Both lists are ordered by their first token, and entities of one list do not overlap. */
    for (int64_t i = 0, j = 0; i < ng && j < np;) {
        if (g[i].begin < p[j].begin) i++;
        else if (g[i].begin > p[j].begin) j++;
        else {
            tp[g[i].type] += g[i].end == p[j].end && g[i].type == p[j].type && (!only_unseen || g[i].unseen);
            i++, j++;
        }
    }
}

nb_status nb_entity_report_add_keyed(nb_entity_report *r, const int64_t *gold, const int64_t *pred,
                                     const uint64_t *keys, int64_t n_tokens) {
    sentence x;
    nb_status st = sentence_of(r, gold, pred, keys, false, n_tokens, "nb_entity_report_add", &x);
    if (st) return st;
    const int64_t n = x.n;
    for (int64_t i = 0; i < n; i++) r->tokens_right[1] += x.tags[i] == x.tags[n_tokens + i];
    r->tokens_right[0] += n;
    entity *g = x.ents, *p = x.ents + n_tokens;
    const int64_t ng = entities_of(r, x.tags, n, g), np = entities_of(r, x.tags + n_tokens, n, p);
    count(r, r->counts, g, ng, p, np, false);
    if (keys) { /* the unseen table too (a correct pair has one surface: both count there or neither) */
        for (int64_t i = 0; i < ng; i++) g[i].unseen = !seen_has(r, surface_of(x.keys, g[i]));
        for (int64_t j = 0; j < np; j++) p[j].unseen = !seen_has(r, surface_of(x.keys, p[j]));
        count(r, r->unseen, g, ng, p, np, true);
    }
    if (keys) r->keyed = true;
    sentence_free(&x);
    return NB_OK;
}

nb_status nb_entity_report_add(nb_entity_report *r, const int64_t *gold, const int64_t *pred, int64_t n_tokens) {
    return nb_entity_report_add_keyed(r, gold, pred, NULL, n_tokens);
}

nb_status nb_entity_report_learn(nb_entity_report *r, const int64_t *gold, const uint64_t *keys, int64_t n_tokens) {
    sentence x;
    nb_status st = sentence_of(r, gold, NULL, keys, true, n_tokens, "nb_entity_report_learn", &x);
    if (st) return st;
    const int64_t ng = entities_of(r, x.tags, x.n, x.ents);
    for (int64_t i = 0; i < ng && !st; i++) st = seen_put(r, surface_of(x.keys, x.ents[i]));
    sentence_free(&x);
    return st;
}

int64_t nb_entity_report_seen(const nb_entity_report *r) { return r ? r->n_seen : 0; }

void nb_entity_report_clear(nb_entity_report *r) {
    if (!r) return;
    memset(r->counts, 0, ((size_t)r->n_types * 6 + 2) * sizeof *r->counts);
    r->keyed = false;
}

int64_t *nb__entity_report_tallies(nb_entity_report *r, int64_t *n) {
    *n = r ? (int64_t)r->n_types * 6 + 2 : 0;
    return r ? r->counts : NULL;
}

/* ---- scores -------------------------------------------------------------------------------------- */
/* The listed types' scores and the averages. */
typedef struct scores {
    int k;             /* listed types: those with a gold or a predicted entity */
    int *type;         /* (k) */
    double *p, *r, *f; /* (k) each */
    int64_t *support;  /* (k) */
    double avg[3][3];  /* micro, macro, weighted: precision, recall, f1 */
    int64_t total;     /* gold entities */
} scores;

static void scores_free(scores *s) {
    free(s->type);
    free(s->p);
    free(s->support);
}

static nb_status scores_over(const nb_entity_report *r, const int64_t *c, scores *s) {
    memset(s, 0, sizeof *s);
    const int m = r->n_types > 0 ? r->n_types : 1;
    s->type = malloc((size_t)m * sizeof *s->type);
    s->p = malloc((size_t)m * 3 * sizeof *s->p);
    s->support = malloc((size_t)m * sizeof *s->support);
    if (!s->type || !s->p || !s->support) {
        scores_free(s);
        return nb__err(NB_ERR_MEM, "entity report: out of memory for %d types", r->n_types);
    }
    s->r = s->p + m;
    s->f = s->p + 2 * m;
    const int64_t *tp = c, *n_gold = c + r->n_types, *n_pred = c + 2 * r->n_types;
    int64_t tp_all = 0, pred_all = 0;
    for (int t = 0; t < r->n_types; t++) {
        if (n_gold[t] + n_pred[t] == 0) continue;
        const int i = s->k++;
        s->type[i] = t;
        s->p[i] = nb__prf_div(tp[t], n_pred[t]);
        s->r[i] = nb__prf_div(tp[t], n_gold[t]);
        s->f[i] = nb__f1_of(s->p[i], s->r[i]);
        s->support[i] = n_gold[t];
        tp_all += tp[t];
        pred_all += n_pred[t];
        s->total += n_gold[t];
    }
    s->avg[0][0] = nb__prf_div(tp_all, pred_all);
    s->avg[0][1] = nb__prf_div(tp_all, s->total);
    s->avg[0][2] = nb__f1_of(s->avg[0][0], s->avg[0][1]);
    nb_status st = nb__report_averages(s->p, s->r, s->f, s->support, s->k, s->avg[1], s->avg[2]);
    if (st) scores_free(s);
    return st;
}

static nb_status scores_of(const nb_entity_report *r, scores *s) { return scores_over(r, r->counts, s); }

static const char *const AVG_NAMES[3] = {"micro avg", "macro avg", "weighted avg"};

int nb_entity_report_rows(const nb_entity_report *r) {
    if (!r) return 0;
    int k = 0;
    for (int t = 0; t < r->n_types; t++) k += r->counts[r->n_types + t] + r->counts[2 * r->n_types + t] > 0;
    return k + 3;
}

const char *nb_entity_report_row(const nb_entity_report *r, int i, double *precision, double *recall, double *f1,
                                 int64_t *support) {
    scores s;
    if (!r || i < 0 || i >= nb_entity_report_rows(r) || scores_of(r, &s)) return NULL;
    const char *name;
    double v[3];
    int64_t sup;
    if (i < s.k) {
        name = r->type_names[s.type[i]];
        v[0] = s.p[i], v[1] = s.r[i], v[2] = s.f[i], sup = s.support[i];
    } else {
        name = AVG_NAMES[i - s.k];
        memcpy(v, s.avg[i - s.k], sizeof v);
        sup = s.total;
    }
    if (precision) *precision = v[0];
    if (recall) *recall = v[1];
    if (f1) *f1 = v[2];
    if (support) *support = sup;
    scores_free(&s);
    return name;
}

/* The F1 of average a (0 micro, 1 macro); NaN when the scores cannot be had. */
static double avg_f1(const nb_entity_report *r, int a) {
    scores s;
    if (!r || scores_of(r, &s)) return NAN;
    double f = s.avg[a][2];
    scores_free(&s);
    return f;
}
double nb_entity_report_micro_f1(const nb_entity_report *r) { return avg_f1(r, 0); }
double nb_entity_report_macro_f1(const nb_entity_report *r) { return avg_f1(r, 1); }
double nb_entity_report_unseen_f1(const nb_entity_report *r, int64_t *support) {
    scores s;
    if (support) *support = 0;
    if (!r || !r->keyed || scores_over(r, r->unseen, &s)) return NAN;
    double f = s.avg[0][2];
    if (support) *support = s.total;
    scores_free(&s);
    return f;
}
double nb_entity_report_accuracy(const nb_entity_report *r) {
    return r && r->tokens_right[0] > 0 ? (double)r->tokens_right[1] / (double)r->tokens_right[0] : 0.0;
}
int64_t nb_entity_report_tokens(const nb_entity_report *r) { return r ? r->tokens_right[0] : 0; }

/* The table of one set of tallies: header, type rows, blank line, the three averages. */
static nb_status table(const nb_entity_report *r, const int64_t *c, int digits, nb__sbuf *b) {
    scores s;
    if (scores_over(r, c, &s)) return NB_ERR_MEM; /* its only failure, with its message */
    int width = 12; /* max(len(type) for the listed types, len("weighted avg"), digits) */
    for (int i = 0; i < s.k; i++) {
        const int w = nb__text_width(r->type_names[s.type[i]]);
        if (w > width) width = w;
    }
    if (digits > width) width = digits;
    nb__report_header(b, width);
    for (int i = 0; i < s.k; i++)
        nb__report_row(b, r->type_names[s.type[i]], width, digits, s.p[i], s.r[i], s.f[i], s.support[i]);
    nb__sb_printf(b, "\n");
    for (int a = 0; a < 3; a++) nb__report_row(b, AVG_NAMES[a], width, digits, s.avg[a][0], s.avg[a][1], s.avg[a][2], s.total);
    scores_free(&s);
    return NB_OK;
}

char *nb_entity_report_format(const nb_entity_report *r, int digits) {
    if (!r) {
        nb__err(NB_ERR_ARG, "nb_entity_report_format: the report is NULL");
        return NULL;
    }
    if (digits < 0 || digits > 30) {
        nb__err(NB_ERR_ARG, "nb_entity_report_format: digits = %d; expected 0..30", digits);
        return NULL;
    }
    nb__sbuf b = {0};
    if (table(r, r->counts, digits, &b)) {
        free(b.s);
        return NULL;
    }
    nb__sb_printf(&b, "\ntoken accuracy: %.*f (%lld of %lld tokens)\n", digits, nb_entity_report_accuracy(r),
                  (long long)r->tokens_right[1], (long long)r->tokens_right[0]);
    if (r->keyed) {
        nb__sb_printf(&b, "\nunseen entities (their words never form an entity in training; %lld surfaces learned):\n",
                      (long long)r->n_seen);
        if (table(r, r->unseen, digits, &b)) {
            free(b.s);
            return NULL;
        }
    }
    return nb__sb_finish(&b, "nb_entity_report_format");
}
