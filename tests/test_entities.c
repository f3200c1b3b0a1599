/* The entity report (NER): seqeval's classification_report rebuilt by nb_entity_report_* on
 * the fixtures of tests/gen_entity_fixtures.py (an independent implementation of seqeval's
 * rules; numbers to 1e-12, text byte for byte), the reading of BIO corner cases by hand, tag
 * name and tag id checks, the report with no entity at all, and the unseen entities (surfaces
 * learned from training sentences) counted by hand. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nabla/nabla.h"

typedef struct fixture {
    int n_tags, digits, n_sents, n_rows;
    char **tags;
    int64_t *len;          /* (n_sents) */
    int64_t **gold, **pred; /* (n_sents) arrays of len[i] */
    char **row_name;
    double (*row)[3];
    int64_t *support;
    double accuracy;
    char *report;
} fixture;

static void fixture_free(fixture *f) {
    for (int i = 0; f->tags && i < f->n_tags; i++) free(f->tags[i]);
    for (int i = 0; f->gold && i < f->n_sents; i++) free(f->gold[i]), free(f->pred[i]);
    for (int i = 0; f->row_name && i < f->n_rows; i++) free(f->row_name[i]);
    free(f->tags), free(f->len), free(f->gold), free(f->pred), free(f->row_name), free(f->row), free(f->support);
    free(f->report);
    memset(f, 0, sizeof *f);
}

static bool read_ids(FILE *fp, const char *key, int64_t n, int64_t **out) {
    char word[16];
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof **out);
    if (!*out || fscanf(fp, "%15s", word) != 1 || strcmp(word, key) != 0) return false;
    for (int64_t i = 0; i < n; i++)
        if (fscanf(fp, "%lld", (long long *)&(*out)[i]) != 1) return false;
    return fgetc(fp) == '\n';
}

/* Reads the format described in gen_entity_fixtures.py; false on any surprise. */
static bool fixture_load(const char *path, fixture *f) {
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) return false;
    char line[512];
    bool ok = false;
    long long nbytes = 0;
    do {
        if (!fgets(line, sizeof line, fp)) goto done;
    } while (line[0] == '#');
    if (sscanf(line, "tags %d", &f->n_tags) != 1 || f->n_tags < 1) goto done;
    f->tags = calloc((size_t)f->n_tags, sizeof *f->tags);
    for (int i = 0; i < f->n_tags; i++) {
        if (!fgets(line, sizeof line, fp)) goto done;
        line[strcspn(line, "\n")] = 0;
        f->tags[i] = strdup(line);
    }
    if (!fgets(line, sizeof line, fp) || sscanf(line, "digits %d", &f->digits) != 1) goto done;
    if (!fgets(line, sizeof line, fp) || sscanf(line, "sentences %d", &f->n_sents) != 1 || f->n_sents < 1) goto done;
    f->len = calloc((size_t)f->n_sents, sizeof *f->len);
    f->gold = calloc((size_t)f->n_sents, sizeof *f->gold);
    f->pred = calloc((size_t)f->n_sents, sizeof *f->pred);
    for (int i = 0; i < f->n_sents; i++) {
        long long n;
        if (fscanf(fp, "len %lld\n", &n) != 1 || n < 0) goto done;
        f->len[i] = n;
        if (!read_ids(fp, "gold", n, &f->gold[i]) || !read_ids(fp, "pred", n, &f->pred[i])) goto done;
    }
    if (!fgets(line, sizeof line, fp) || sscanf(line, "rows %d", &f->n_rows) != 1 || f->n_rows < 3) goto done;
    f->row_name = calloc((size_t)f->n_rows, sizeof *f->row_name);
    f->row = calloc((size_t)f->n_rows, sizeof *f->row);
    f->support = calloc((size_t)f->n_rows, sizeof *f->support);
    for (int i = 0; i < f->n_rows; i++) {
        char name[128];
        long long s;
        if (!fgets(line, sizeof line, fp) ||
            sscanf(line, "%127[^\t]\t%lf\t%lf\t%lf\t%lld", name, &f->row[i][0], &f->row[i][1], &f->row[i][2], &s) != 5)
            goto done;
        f->row_name[i] = strdup(name);
        f->support[i] = s;
    }
    if (!fgets(line, sizeof line, fp) || sscanf(line, "accuracy %lf", &f->accuracy) != 1) goto done;
    if (!fgets(line, sizeof line, fp) || sscanf(line, "report %lld", &nbytes) != 1) goto done;
    f->report = malloc((size_t)nbytes + 1);
    if (fread(f->report, 1, (size_t)nbytes, fp) != (size_t)nbytes) goto done;
    f->report[nbytes] = 0;
    ok = fgetc(fp) == EOF;
done:
    fclose(fp);
    if (!ok) fixture_free(f);
    return ok;
}

static void check_fixture(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "fixtures/entities_%s.txt", name);
    fixture f;
    bool loaded = fixture_load(path, &f);
    CHECK(loaded, "%s: cannot load (run /usr/bin/python3 tests/gen_entity_fixtures.py)", path);
    if (!loaded) return;
    nb_entity_report *r = nb_entity_report_new((const char *const *)f.tags, f.n_tags);
    CHECK(r, "%s: new: %s", path, nb_last_error());
    for (int i = 0; r && i < f.n_sents; i++)
        CHECK(nb_entity_report_add(r, f.gold[i], f.pred[i], f.len[i]) == NB_OK, "%s: sentence %d: %s", path, i,
              nb_last_error());
    CHECK(nb_entity_report_rows(r) == f.n_rows, "%s: %d rows, seqeval %d", path, nb_entity_report_rows(r), f.n_rows);
    for (int i = 0; i < f.n_rows && i < nb_entity_report_rows(r); i++) {
        double v[3];
        int64_t s;
        const char *nm = nb_entity_report_row(r, i, &v[0], &v[1], &v[2], &s);
        CHECK(nm && strcmp(nm, f.row_name[i]) == 0 && s == f.support[i] && fabs(v[0] - f.row[i][0]) < 1e-12 &&
                  fabs(v[1] - f.row[i][1]) < 1e-12 && fabs(v[2] - f.row[i][2]) < 1e-12,
              "%s: row %d: %s %.17g %.17g %.17g %lld; seqeval %s %.17g %.17g %.17g %lld", path, i, nm ? nm : "(null)",
              v[0], v[1], v[2], (long long)s, f.row_name[i], f.row[i][0], f.row[i][1], f.row[i][2],
              (long long)f.support[i]);
    }
    const int k = f.n_rows - 3; /* the micro and macro rows */
    CHECK(fabs(nb_entity_report_micro_f1(r) - f.row[k][2]) < 1e-12 &&
              fabs(nb_entity_report_macro_f1(r) - f.row[k + 1][2]) < 1e-12,
          "%s: micro F1 %g macro F1 %g", path, nb_entity_report_micro_f1(r), nb_entity_report_macro_f1(r));
    CHECK(fabs(nb_entity_report_accuracy(r) - f.accuracy) < 1e-12, "%s: token accuracy %.17g, expected %.17g", path,
          nb_entity_report_accuracy(r), f.accuracy);
    char *text = nb_entity_report_format(r, f.digits);
    CHECK(text && strcmp(text, f.report) == 0, "%s: the report differs:\n%s\n--- expected ---\n%s", path,
          text ? text : nb_last_error(), f.report);
    free(text);
    nb_entity_report_free(r);
    fixture_free(&f);
}

/* Gold and predicted entities counted by hand for the BIO corner cases (conlleval's reading). */
static const char *const TAGS[] = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
enum { O, BP, IP, BL, IL };

/* (support, predicted entities, correct) of type row i from the row accessor's p and r. */
static void counts(nb_entity_report *r, int i, const char *name, int64_t sup, double p, double rec) {
    double pp, rr;
    int64_t s;
    const char *nm = nb_entity_report_row(r, i, &pp, &rr, NULL, &s);
    CHECK(nm && strcmp(nm, name) == 0 && s == sup && fabs(pp - p) < 1e-15 && fabs(rr - rec) < 1e-15,
          "row %d: %s support %lld p %g r %g; expected %s %lld %g %g", i, nm ? nm : "(null)", (long long)s, pp, rr, name,
          (long long)sup, p, rec);
}

static void check_corners(void) {
    nb_entity_report *r = nb_entity_report_new(TAGS, 5);
    /* gold: I-PER I-PER I-LOC B-LOC I-PER -> PER(0,1) LOC(2,2) LOC(3,3) PER(4,4): a stray I-
     * starts an entity, an I- of another type starts a new one, B- after B- of one type too.
     * pred: B-PER I-PER B-LOC I-LOC O -> PER(0,1) LOC(2,3): one PER correct, no LOC. */
    const int64_t g1[] = {IP, IP, IL, BL, IP}, p1[] = {BP, IP, BL, IL, O};
    CHECK(nb_entity_report_add(r, g1, p1, 5) == NB_OK, "add: %s", nb_last_error());
    counts(r, 0, "LOC", 2, 0.0, 0.0);
    counts(r, 1, "PER", 2, 1.0, 0.5);
    /* A sentence that ends inside an entity and one that starts with I- of its type: two
     * entities, never joined across sentences. */
    nb_entity_report *s = nb_entity_report_new(TAGS, 5);
    const int64_t a[] = {O, BP, IP}, b[] = {IP, O};
    CHECK(nb_entity_report_add(s, a, a, 3) == NB_OK && nb_entity_report_add(s, b, b, 2) == NB_OK, "add: %s",
          nb_last_error());
    counts(s, 0, "PER", 2, 1.0, 1.0);
    /* -100 is left out: B-PER (-100) I-PER reads as one entity, which a predicted O at the
     * left-out position does not cut. */
    const int64_t g3[] = {BP, -100, IP}, p3[] = {BP, O, IP};
    CHECK(nb_entity_report_add(s, g3, p3, 3) == NB_OK, "add: %s", nb_last_error());
    counts(s, 0, "PER", 3, 1.0, 1.0);
    CHECK(nb_entity_report_tokens(s) == 7 && nb_entity_report_accuracy(s) == 1.0, "tokens %lld accuracy %g",
          (long long)nb_entity_report_tokens(s), nb_entity_report_accuracy(s));
    /* B-PER I-LOC: PER(0,0) and LOC(1,1); O I-LOC I-LOC: one LOC(1,2). */
    nb_entity_report *t = nb_entity_report_new(TAGS, 5);
    const int64_t g4[] = {BP, IL, O, IL, IL}, p4[] = {BP, BL, O, BL, IL};
    CHECK(nb_entity_report_add(t, g4, p4, 5) == NB_OK, "add: %s", nb_last_error());
    counts(t, 0, "LOC", 2, 1.0, 1.0);
    counts(t, 1, "PER", 1, 1.0, 1.0);
    CHECK(fabs(nb_entity_report_accuracy(t) - 0.6) < 1e-15, "accuracy %g", nb_entity_report_accuracy(t));
    nb_entity_report_free(r);
    nb_entity_report_free(s);
    nb_entity_report_free(t);
}

static void check_bad_input(void) {
    const char *bad[][3] = {{"O", "B-PER", "PER"}, {"O", "B-", "I-X"}, {"O", "E-PER", "I-PER"}, {"o", "B-X", "I-X"},
                            {"O", "B", "I"}};
    for (int i = 0; i < 5; i++) {
        CHECK(nb_entity_report_new(bad[i], 3) == NULL && strstr(nb_last_error(), "expected O, B-TYPE or I-TYPE"),
              "tags %s %s %s: %s", bad[i][0], bad[i][1], bad[i][2], nb_last_error());
    }
    CHECK(nb_entity_report_new(TAGS, 0) == NULL, "no tags");
    const char *with_null[] = {"O", NULL};
    CHECK(nb_entity_report_new(with_null, 2) == NULL && strstr(nb_last_error(), "(null)"), "%s", nb_last_error());
    nb_entity_report *r = nb_entity_report_new(TAGS, 5);
    const int64_t g[] = {BP, IP, 5}, p[] = {BP, IP, O}, q[] = {BP, -1, O}, ok[] = {BP, IP, O};
    CHECK(nb_entity_report_add(r, g, p, 3) == NB_ERR_ARG && strstr(nb_last_error(), "token 2"), "gold 5: %s",
          nb_last_error());
    CHECK(nb_entity_report_add(r, ok, q, 3) == NB_ERR_ARG && strstr(nb_last_error(), "predicted -1"), "pred -1: %s",
          nb_last_error());
    CHECK(nb_entity_report_add(r, ok, p, -1) == NB_ERR_ARG && nb_entity_report_add(NULL, ok, p, 3) == NB_ERR_ARG &&
              nb_entity_report_add(r, NULL, p, 3) == NB_ERR_ARG,
          "bad arguments");
    CHECK(nb_entity_report_tokens(r) == 0 && nb_entity_report_rows(r) == 3, "a refused sentence adds nothing");
    /* No entity at all: no type rows, zero averages (seqeval raises here). */
    const int64_t none[] = {O, O};
    CHECK(nb_entity_report_add(r, none, none, 2) == NB_OK, "add: %s", nb_last_error());
    char *text = nb_entity_report_format(r, 2);
    const char *want = "              precision    recall  f1-score   support\n\n\n"
                       "   micro avg       0.00      0.00      0.00         0\n"
                       "   macro avg       0.00      0.00      0.00         0\n"
                       "weighted avg       0.00      0.00      0.00         0\n\n"
                       "token accuracy: 1.00 (2 of 2 tokens)\n";
    CHECK(text && strcmp(text, want) == 0, "empty report:\n%s", text ? text : nb_last_error());
    free(text);
    CHECK(nb_entity_report_format(r, 31) == NULL && strstr(nb_last_error(), "digits"), "digits 31");
    CHECK(nb_entity_report_row(r, 3, NULL, NULL, NULL, NULL) == NULL && nb_entity_report_micro_f1(r) == 0.0,
          "row 3 of 3");
    nb_entity_report_free(r);
    nb_entity_report_free(NULL);
}

/* Unseen entities: training sentences teach surfaces (key sequences); a test entity whose
 * surface was never a training entity counts in the second table, gold and predicted alike. */
static void check_unseen(void) {
    nb_entity_report *r = nb_entity_report_new(TAGS, 5);
    /* training: "George Washington visited Ohio": PER {1, 2}, LOC {4} */
    const int64_t tg[] = {BP, IP, O, BL};
    const uint64_t tk[] = {1, 2, 3, 4};
    CHECK(nb_entity_report_learn(r, tg, tk, 4) == NB_OK && nb_entity_report_learn(r, tg, tk, 4) == NB_OK &&
              nb_entity_report_seen(r) == 2,
          "learn: %s, %lld surfaces", nb_last_error(), (long long)nb_entity_report_seen(r));
    CHECK(isnan(nb_entity_report_unseen_f1(r, NULL)), "no keyed sentence yet: NaN");
    /* "John Adams left Ohio": PER {5, 6} unseen and found; LOC {4} seen and found. */
    const int64_t g1[] = {BP, IP, O, BL}, p1[] = {BP, IP, O, BL};
    const uint64_t k1[] = {5, 6, 3, 4};
    /* "George Washington and Texas": gold PER {1, 2} seen, predicted PER {1} alone: never a
     * training entity, so an unseen false positive; LOC {8} unseen and found. */
    const int64_t g2[] = {BP, IP, O, BL}, p2[] = {BP, O, O, BL};
    const uint64_t k2[] = {1, 2, 7, 8};
    CHECK(nb_entity_report_add_keyed(r, g1, p1, k1, 4) == NB_OK && nb_entity_report_add_keyed(r, g2, p2, k2, 4) == NB_OK,
          "add_keyed: %s", nb_last_error());
    counts(r, 0, "LOC", 2, 1.0, 1.0); /* the table of all entities is as without keys */
    counts(r, 1, "PER", 2, 0.5, 0.5);
    int64_t sup = -1;
    const double f = nb_entity_report_unseen_f1(r, &sup); /* tp 2, predicted 3, gold 2 */
    CHECK(sup == 2 && fabs(f - 0.8) < 1e-12, "unseen micro F1 %g support %lld; expected 0.8, 2", f, (long long)sup);
    char *text = nb_entity_report_format(r, 2);
    const char *want = "\nunseen entities (their words never form an entity in training; 2 surfaces learned):\n"
                       "              precision    recall  f1-score   support\n\n"
                       "         LOC       1.00      1.00      1.00         1\n"
                       "         PER       0.50      1.00      0.67         1\n\n"
                       "   micro avg       0.67      1.00      0.80         2\n"
                       "   macro avg       0.75      1.00      0.83         2\n"
                       "weighted avg       0.75      1.00      0.83         2\n";
    const char *at = text ? strstr(text, "\nunseen entities") : NULL;
    CHECK(at && strcmp(at, want) == 0, "unseen table:\n%s", text ? text : nb_last_error());
    CHECK(text && strstr(text, "token accuracy: 0.88 (7 of 8 tokens)\n\nunseen"), "token line then the table");
    free(text);
    /* clear: counts gone, surfaces kept; an unkeyed sentence shows no unseen table */
    nb_entity_report_clear(r);
    CHECK(nb_entity_report_tokens(r) == 0 && nb_entity_report_seen(r) == 2 && isnan(nb_entity_report_unseen_f1(r, &sup)) &&
              sup == 0,
          "clear");
    CHECK(nb_entity_report_add(r, g1, p1, 4) == NB_OK, "add: %s", nb_last_error());
    text = nb_entity_report_format(r, 2);
    CHECK(text && !strstr(text, "unseen"), "no keys, no unseen table");
    free(text);
    /* many surfaces (the set grows): each learned one is seen, a new one is not */
    const int64_t one[] = {BL};
    for (uint64_t k = 100; k < 5100; k++) {
        const uint64_t key[] = {k};
        if (nb_entity_report_learn(r, one, key, 1) != NB_OK) CHECK(0, "learn %llu: %s", (unsigned long long)k, nb_last_error());
    }
    CHECK(nb_entity_report_seen(r) == 5002, "%lld surfaces", (long long)nb_entity_report_seen(r));
    nb_entity_report_clear(r);
    for (uint64_t k = 100; k < 5100; k += 7) {
        const uint64_t key[] = {k};
        CHECK(nb_entity_report_add_keyed(r, one, one, key, 1) == NB_OK, "add_keyed");
    }
    const uint64_t fresh[] = {99999};
    CHECK(nb_entity_report_add_keyed(r, one, one, fresh, 1) == NB_OK && nb_entity_report_unseen_f1(r, &sup) == 1.0 &&
              sup == 1,
          "only the new surface is unseen: support %lld", (long long)sup);
    /* bad input: nothing learned */
    const int64_t bad[] = {BP, 9};
    CHECK(nb_entity_report_learn(r, bad, tk, 2) == NB_ERR_ARG && strstr(nb_last_error(), "token 1"), "gold 9: %s",
          nb_last_error());
    CHECK(nb_entity_report_learn(r, tg, NULL, 4) == NB_ERR_ARG && nb_entity_report_learn(NULL, tg, tk, 4) == NB_ERR_ARG &&
              nb_entity_report_seen(r) == 5002,
          "NULL keys or report");
    nb_entity_report_free(r);
}

int main(void) {
    check_fixture("docstring");
    check_fixture("corners");
    check_fixture("random_conll");
    check_fixture("wide_types");
    check_fixture("digits0");
    check_corners();
    check_bad_input();
    check_unseen();
    return test_end("test_entities");
}
