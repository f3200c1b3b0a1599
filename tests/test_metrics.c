/* Metrics: the classification report against scikit-learn's exact text (fixtures written by
 * tests/gen_report_fixtures.py), accuracy and precision/recall/F1 by hand, confusion matrix
 * input checks, its text form, class names and row-wise argmax. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nabla/nabla.h"

static bool near(double a, double b) { return fabs(a - b) < 1e-12; }

/* One fixture: labels, names and sklearn's report. */
typedef struct fixture {
    int k, digits;
    char **names; /* NULL for "names none" */
    int64_t n;
    int64_t *y_true, *y_pred;
    char *report;
} fixture;

static void fixture_free(fixture *f) {
    if (f->names)
        for (int i = 0; i < f->k; i++) free(f->names[i]);
    free(f->names);
    free(f->y_true);
    free(f->y_pred);
    free(f->report);
}

static bool read_labels(FILE *fp, const char *key, int64_t n, int64_t *out) {
    char word[32];
    if (fscanf(fp, "%31s", word) != 1 || strcmp(word, key) != 0) return false;
    for (int64_t i = 0; i < n; i++)
        if (fscanf(fp, "%lld", (long long *)&out[i]) != 1) return false;
    return fgetc(fp) == '\n';
}

/* Reads the format described in gen_report_fixtures.py; false on any surprise. */
static bool fixture_load(const char *path, fixture *f) {
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) return false;
    char line[512];
    bool ok = false;
    long long n = 0, nbytes = 0;
    int nn = 0;
    do {
        if (!fgets(line, sizeof line, fp)) goto done;
    } while (line[0] == '#');
    if (sscanf(line, "k %d", &f->k) != 1 || f->k < 1) goto done;
    if (!fgets(line, sizeof line, fp) || sscanf(line, "digits %d", &f->digits) != 1) goto done;
    if (!fgets(line, sizeof line, fp)) goto done;
    if (strcmp(line, "names none\n") != 0) {
        if (sscanf(line, "names %d", &nn) != 1 || nn != f->k) goto done;
        f->names = calloc((size_t)f->k, sizeof *f->names);
        for (int i = 0; i < f->k; i++) {
            if (!fgets(line, sizeof line, fp)) goto done;
            line[strcspn(line, "\n")] = 0;
            f->names[i] = strdup(line);
        }
    }
    if (!fgets(line, sizeof line, fp) || sscanf(line, "n %lld", &n) != 1 || n < 1) goto done;
    f->n = n;
    f->y_true = malloc((size_t)n * sizeof(int64_t));
    f->y_pred = malloc((size_t)n * sizeof(int64_t));
    if (!read_labels(fp, "y_true", n, f->y_true) || !read_labels(fp, "y_pred", n, f->y_pred))
        goto done;
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
    snprintf(path, sizeof path, "fixtures/report_%s.txt", name);
    fixture f;
    bool loaded = fixture_load(path, &f);
    CHECK(loaded, "%s: cannot load (run /usr/bin/python3 tests/gen_report_fixtures.py)", path);
    if (!loaded) return;
    nb_confusion *c = nb_confusion_new(f.k);
    CHECK(c && nb_confusion_add(c, f.y_true, f.y_pred, f.n) == NB_OK, "%s: add: %s", path,
          nb_last_error());
    char *rep = nb_classification_report(c, (const char *const *)f.names, f.digits);
    CHECK(rep && strcmp(rep, f.report) == 0, "%s: report differs from sklearn's:\n%s\n--- "
          "sklearn ---\n%s", path, rep ? rep : "(null)", f.report);
    free(rep);
    nb_confusion_free(c);
    fixture_free(&f);
}

/* Hand-computed precision/recall/F1 and accuracy of a 3-class case. */
static void check_prf(void) {
    /* true: 0 0 1 1 2 2; pred: 0 1 1 1 0 2 */
    const int64_t yt[] = {0, 0, 1, 1, 2, 2}, yp[] = {0, 1, 1, 1, 0, 2};
    nb_confusion *c = nb_confusion_new(3);
    CHECK(nb_confusion_add(c, yt, yp, 6) == NB_OK, "add: %s", nb_last_error());
    CHECK(nb_confusion_total(c) == 6, "total %lld", (long long)nb_confusion_total(c));
    CHECK(near(nb_accuracy(c), 4.0 / 6.0), "accuracy %g", nb_accuracy(c));
    CHECK(c->m[0 * 3 + 1] == 1 && c->m[2 * 3 + 0] == 1 && c->m[1 * 3 + 1] == 2,
          "rows are true, columns predicted");
    double p[4], r[4], f[4]; /* room for the 4-class case below */
    int64_t s[4];
    nb_prf(c, p, r, f, s);
    CHECK(near(p[0], 0.5) && near(r[0], 0.5) && near(f[0], 0.5), "class 0: %g %g %g", p[0], r[0],
          f[0]);
    CHECK(near(p[1], 2.0 / 3.0) && near(r[1], 1.0) && near(f[1], 0.8), "class 1: %g %g %g", p[1],
          r[1], f[1]);
    CHECK(near(p[2], 1.0) && near(r[2], 0.5) && near(f[2], 2.0 / 3.0), "class 2: %g %g %g", p[2],
          r[2], f[2]);
    CHECK(s[0] == 2 && s[1] == 2 && s[2] == 2, "support %lld %lld %lld", (long long)s[0],
          (long long)s[1], (long long)s[2]);

    /* A class never predicted and one never true: 0, not NaN (zero_division=0). */
    const int64_t zt[] = {0, 1, 1}, zp[] = {0, 0, 3};
    nb_confusion *z = nb_confusion_new(4);
    CHECK(nb_confusion_add(z, zt, zp, 3) == NB_OK, "add: %s", nb_last_error());
    nb_prf(z, p, r, f, s);
    CHECK(p[1] == 0.0 && r[1] == 0.0 && f[1] == 0.0, "class 1 never predicted: %g %g %g", p[1],
          r[1], f[1]);
    CHECK(p[3] == 0.0 && r[3] == 0.0 && f[3] == 0.0 && s[3] == 0, "class 3 never true");
    CHECK(p[2] == 0.0 && r[2] == 0.0 && f[2] == 0.0 && s[2] == 0, "class 2 absent");
    CHECK(near(p[0], 0.5) && near(r[0], 1.0), "class 0: %g %g", p[0], r[0]);
    nb_confusion_clear(z);
    CHECK(nb_confusion_total(z) == 0 && nb_accuracy(z) == 0.0, "cleared matrix is empty");
    char *rep = nb_classification_report(z, NULL, 2);
    CHECK(rep && strstr(rep, "accuracy") && strstr(rep, "0.00"), "empty report: %s",
          rep ? rep : nb_last_error());
    free(rep);
    nb_confusion_free(z);
    nb_confusion_free(c);
}

static void check_bad_input(void) {
    nb_confusion *c = nb_confusion_new(3);
    const int64_t yt[] = {0, 1, 2}, yp[] = {0, 1, 2};
    CHECK(nb_confusion_add(c, yt, yp, 3) == NB_OK, "add: %s", nb_last_error());
    int64_t before[9];
    memcpy(before, c->m, sizeof before);
    const int64_t bt[] = {0, 1, 2, 1}, bp[] = {1, 1, 3, 0};
    CHECK(nb_confusion_add(c, bt, bp, 4) == NB_ERR_ARG, "pred 3 with k=3 is rejected");
    CHECK(strstr(nb_last_error(), "y_pred[2]") && strstr(nb_last_error(), "3"),
          "message names the element: %s", nb_last_error());
    CHECK(memcmp(before, c->m, sizeof before) == 0, "a rejected batch adds nothing");
    const int64_t nt[] = {0, -1};
    CHECK(nb_confusion_add(c, nt, yp, 2) == NB_ERR_ARG, "negative true label is rejected");
    CHECK(strstr(nb_last_error(), "y_true[1]"), "message: %s", nb_last_error());
    CHECK(memcmp(before, c->m, sizeof before) == 0 && nb_confusion_total(c) == 3,
          "still nothing added");
    CHECK(nb_confusion_add(c, NULL, yp, 1) == NB_ERR_ARG, "NULL labels");
    CHECK(nb_confusion_add(c, yt, yp, -1) == NB_ERR_ARG, "negative n");
    CHECK(nb_confusion_add(c, NULL, NULL, 0) == NB_OK, "n = 0 adds nothing");
    CHECK(nb_confusion_new(0) == NULL && nb_confusion_new(-2) == NULL, "k < 1 is refused");
    CHECK(nb_classification_report(NULL, NULL, 2) == NULL, "NULL matrix");
    CHECK(nb_classification_report(c, NULL, -1) == NULL, "negative digits");
    nb_confusion_free(c);
    nb_confusion_free(NULL);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void check_format(void) {
    const char *const *fa = nb_class_names("fashion-mnist");
    nb_confusion *c = nb_confusion_new(10);
    int64_t yt[20], yp[20];
    for (int i = 0; i < 20; i++) {
        yt[i] = i % 10;
        yp[i] = i < 17 ? i % 10 : 9;
    }
    yt[0] = 0, yp[0] = 0;
    nb_confusion_add(c, yt, yp, 20);
    char *s = nb_confusion_format(c, fa);
    CHECK(s != NULL, "format: %s", nb_last_error());
    if (s) {
        CHECK(strstr(s, "rows = true") && strstr(s, "columns = predicted"), "header:\n%s", s);
        CHECK(count_lines(s) == 12, "title, column header and 10 rows:\n%s", s);
        CHECK(strstr(s, "\nT-shirt/top ") != NULL, "row names are kept whole:\n%s", s);
        CHECK(strstr(s, "T-shirt.") && strstr(s, "Ankle b.") && strstr(s, "Pullover"),
              "long column names are cut to 8 characters:\n%s", s);
        /* Row "Sneaker" (7): two samples, one right, one predicted Ankle boot. */
        const char *row = strstr(s, "\nSneaker ");
        CHECK(row && strstr(row, "         1         0         1\n") == strchr(row + 1, '\n') - 30,
              "Sneaker row ends with 1 0 1:\n%s", s);
        /* Every line of the matrix has the same length. */
        const char *l2 = strchr(s, '\n') + 1;
        size_t w = strcspn(l2, "\n");
        bool same = true;
        for (const char *q = l2; *q; q += strcspn(q, "\n") + 1) same &= strcspn(q, "\n") == w;
        CHECK(same, "aligned columns:\n%s", s);
    }
    free(s);
    const char *const longn[] = {"a class name far too long to show", "b"};
    nb_confusion *c2 = nb_confusion_new(2);
    nb_confusion_add(c2, yt, yt, 1);
    s = nb_confusion_format(c2, longn);
    CHECK(s && strstr(s, "a class name fa.") && !strstr(s, "too long"), "long row name:\n%s",
          s ? s : "");
    free(s);
    s = nb_confusion_format(c2, NULL);
    CHECK(s && strstr(s, "\n0 ") && strstr(s, "\n1 "), "numbers without names:\n%s", s ? s : "");
    free(s);
    nb_confusion_free(c2);
    nb_confusion_free(c);
}

static void check_names_argmax(void) {
    const char *const *m = nb_class_names("mnist");
    CHECK(m && strcmp(m[0], "0") == 0 && strcmp(m[9], "9") == 0, "mnist names");
    const char *const *f = nb_class_names("fashion-mnist");
    const char *want[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    bool same = f != NULL;
    for (int i = 0; same && i < 10; i++) same = strcmp(f[i], want[i]) == 0;
    CHECK(same, "fashion-mnist names");
    CHECK(nb_class_names("cifar10") == NULL && nb_class_names(NULL) == NULL, "unknown -> NULL");

    const float x[] = {1, 3, 3, 0,    /* tie: first */
                       -5, -4, -9, -4, /* tie of negatives */
                       NAN, 1, 2, 0,  /* NaN never wins */
                       7, 7, 7, 7};
    int64_t out[4];
    nb_argmax_rows(x, 4, 4, out);
    CHECK(out[0] == 1 && out[1] == 1 && out[2] == 2 && out[3] == 0,
          "argmax %lld %lld %lld %lld", (long long)out[0], (long long)out[1], (long long)out[2],
          (long long)out[3]);
}

int main(void) {
    const char *cases[] = {"fashion10",       "never_predicted", "absent_true",
                           "numbers_digits2", "long_names",      "perfect"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_fixture(cases[i]);
    check_prf();
    check_bad_input();
    check_format();
    check_names_argmax();
    return test_end("test_metrics");
}
