/* Every op case of cases.c against reference values from PyTorch (tests/fixtures/ops.txt).
 *
 *   test_torch_ref --dump FILE  writes each case's inputs and output-gradient seed w, drawn
 *                               exactly as test_gradcheck draws them (the dropout case also
 *                               writes nabla's output, from which the generator reads the mask);
 *   test_torch_ref              (ctest, run in tests/) reads fixtures/ops.txt, written from such
 *                               a dump by gen_torch_fixtures.py, and compares the output and the
 *                               gradients of sum(w * out) with PyTorch's.
 *
 * Regenerate the fixtures after changing a case:
 *   /usr/bin/python3 tests/gen_torch_fixtures.py BUILD/tests/test_torch_ref tests/fixtures/ops.txt
 *
 * File format: '#' lines are comments; per case "case NAME", then for each labelled tensor a
 * line "tensor LABEL DTYPE NDIM D0 D1 ..." (DTYPE f32 or i64) followed by one line of its
 * values in row-major order, or "none LABEL" for a NULL input. Labels: in0, in1, ..., w, out,
 * grad0, grad1, ... (gradK for each float input K). */
#include "cases.h"
#include "check.h"

#include <errno.h>
#include <math.h>

#define FIXTURES "fixtures/ops.txt"
#define ATOL 1e-5
#define RTOL 1e-4

/* ---- dump mode ---------------------------------------------------------------------------- */
static void write_tensor(FILE *f, const char *label, nb_dtype dt, int ndim, const int64_t *shape,
                         const void *data) {
    int64_t n = 1;
    fprintf(f, "tensor %s %s %d", label, dt == NB_F32 ? "f32" : "i64", ndim);
    for (int d = 0; d < ndim; d++) {
        fprintf(f, " %lld", (long long)shape[d]);
        n *= shape[d];
    }
    fputc('\n', f);
    for (int64_t i = 0; i < n; i++) {
        if (i) fputc(' ', f);
        if (dt == NB_F32) fprintf(f, "%.9g", (double)((const float *)data)[i]);
        else fprintf(f, "%lld", (long long)((const int64_t *)data)[i]);
    }
    fputc('\n', f);
}

static int dump(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "test_torch_ref: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    int rc = 0;
    for (int ci = 0; ci < nb_test_case_count; ci++) {
        const op_case *c = &nb_test_cases[ci];
        nb_seed(42); /* the draws of test_gradcheck: inputs, forward, then w */
        nb_tensor *in[5] = {0};
        for (int i = 0; i < c->n_in; i++) in[i] = case_make_input(&c->in[i]);
        nb_tensor *y = c->build(in);
        if (!y) {
            fprintf(stderr, "test_torch_ref: %s: build failed: %s\n", c->name, nb_last_error());
            rc = 1;
        } else {
            int64_t ny = nb_tensor_numel(y);
            float *w = malloc((size_t)(ny ? ny : 1) * sizeof(float));
            float *out = malloc((size_t)(ny ? ny : 1) * sizeof(float));
            for (int64_t i = 0; i < ny; i++) w[i] = 2.0f * nb_rng_uniform() - 1.0f;
            nb__strided_copy(out, NB_F(y), y->ndim, y->shape, y->stride);
            fprintf(f, "case %s\n", c->name);
            for (int i = 0; i < c->n_in; i++) {
                char label[16];
                snprintf(label, sizeof label, "in%d", i);
                if (!in[i]) fprintf(f, "none %s\n", label);
                else write_tensor(f, label, in[i]->dtype, in[i]->ndim, in[i]->shape, in[i]->data);
            }
            write_tensor(f, "w", NB_F32, y->ndim, y->shape, w);
            /* PyTorch cannot redraw nabla's dropout mask: the generator reads it from out. */
            if (c->op == NB_OP_DROPOUT) write_tensor(f, "out", NB_F32, y->ndim, y->shape, out);
            free(w);
            free(out);
        }
        nb_step_reset();
        for (int i = 0; i < c->n_in; i++) nb_tensor_free(in[i]);
    }
    if (fclose(f) != 0) rc = 1;
    return rc;
}

/* ---- fixture file --------------------------------------------------------------------------- */
typedef struct {
    char label[16];
    bool none;
    nb_dtype dtype;
    int ndim;
    int64_t shape[NB_MAX_DIMS], numel;
    double *v;
} ftensor;

typedef struct {
    char name[64];
    int line, nt;
    bool used;
    ftensor t[16];
} fcase;

static fcase *cases;
static int ncases;

/* Reports a malformed file and returns -1. */
static int bad_file(int line, const char *what) {
    fprintf(stderr, "test_torch_ref: %s:%d: malformed fixture file: %s\n", FIXTURES, line, what);
    return -1;
}

/* Parses "tensor LABEL DTYPE NDIM D..." (s after "tensor") and its value line v into t. */
static int parse_tensor(ftensor *t, char *s, char *v, int line) {
    char dt[8];
    int used = 0;
    if (sscanf(s, " %15s %7s %d%n", t->label, dt, &t->ndim, &used) != 3)
        return bad_file(line, "expected 'tensor LABEL DTYPE NDIM DIMS...'");
    if (strcmp(dt, "f32") && strcmp(dt, "i64")) return bad_file(line, "dtype must be f32 or i64");
    t->dtype = strcmp(dt, "f32") ? NB_I64 : NB_F32;
    if (t->ndim < 0 || t->ndim > NB_MAX_DIMS) return bad_file(line, "bad number of dimensions");
    s += used;
    t->numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (end == s || errno || x < 0 || x > 1000000) return bad_file(line, "bad dimension");
        t->shape[d] = x;
        t->numel *= x;
        if (t->numel > 100000000) return bad_file(line, "tensor too large");
        s = end;
    }
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    if (*s) return bad_file(line, "trailing text after the dimensions");
    if (!v) return bad_file(line, "the value line is missing");
    t->v = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(double));
    if (!t->v) return bad_file(line, "out of memory");
    for (int64_t i = 0; i < t->numel; i++) {
        char *end;
        t->v[i] = t->dtype == NB_F32 ? strtod(v, &end) : (double)strtoll(v, &end, 10);
        if (end == v) return bad_file(line + 1, "fewer values than the shape holds");
        v = end;
    }
    while (*v == ' ' || *v == '\t' || *v == '\r') v++;
    if (*v) return bad_file(line + 1, "more values than the shape holds, or a bad value");
    return 0;
}

/* Reads the whole fixture file into cases; -1 (after a message) when it is missing or bad. */
static int load(const char *path, char **text) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "test_torch_ref: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0)
        if ((len += got) == cap) {
            char *nb = realloc(buf, (cap *= 2) + 1);
            if (!nb) free(buf);
            buf = nb;
        }
    fclose(f);
    if (!buf) return bad_file(0, "out of memory");
    buf[len] = '\0';
    *text = buf;
    char *lines[2] = {0};
    int lineno = 0;
    for (char *p = buf; p && *p;) {
        lines[0] = p;
        p = strchr(p, '\n');
        if (p) *p++ = '\0';
        lineno++;
        char *s = lines[0];
        if (s[0] == '#' || s[strspn(s, " \t\r")] == '\0') continue;
        if (!strncmp(s, "case ", 5)) {
            fcase *grown = realloc(cases, (size_t)(ncases + 1) * sizeof *cases);
            if (!grown) return bad_file(lineno, "out of memory");
            cases = grown;
            fcase *fc = &cases[ncases++];
            memset(fc, 0, sizeof *fc);
            fc->line = lineno;
            if (sscanf(s + 5, " %63s", fc->name) != 1) return bad_file(lineno, "case without a name");
            for (int i = 0; i < ncases - 1; i++)
                if (!strcmp(cases[i].name, fc->name)) return bad_file(lineno, "duplicate case");
            continue;
        }
        if (!ncases) return bad_file(lineno, "expected 'case NAME' first");
        fcase *fc = &cases[ncases - 1];
        if (fc->nt == 16) return bad_file(lineno, "too many tensors in one case");
        ftensor *t = &fc->t[fc->nt++];
        if (!strncmp(s, "none ", 5)) {
            t->none = true;
            if (sscanf(s + 5, " %15s", t->label) != 1) return bad_file(lineno, "'none' without a label");
        } else if (!strncmp(s, "tensor ", 7)) {
            lines[1] = p; /* the value line is the next line */
            if (p) {
                p = strchr(p, '\n');
                if (p) *p++ = '\0';
            }
            if (parse_tensor(t, s + 7, lines[1], lineno)) return -1;
            lineno++;
        } else {
            return bad_file(lineno, "expected 'case', 'tensor' or 'none'");
        }
        for (int i = 0; i < fc->nt - 1; i++)
            if (!strcmp(fc->t[i].label, t->label)) return bad_file(lineno, "duplicate label in a case");
    }
    return 0;
}

static ftensor *find_tensor(fcase *fc, const char *label) {
    for (int i = 0; i < fc->nt; i++)
        if (!strcmp(fc->t[i].label, label)) return &fc->t[i];
    return NULL;
}

static bool same_shape(const ftensor *t, int ndim, const int64_t *shape) {
    if (t->ndim != ndim) return false;
    for (int d = 0; d < ndim; d++)
        if (t->shape[d] != shape[d]) return false;
    return true;
}

/* ---- comparison ------------------------------------------------------------------------------ */
/* Per-case tolerances, only where float32 rounding needs more than the default. */
static const struct {
    const char *name;
    double atol, rtol;
} loose[] = {{NULL, 0, 0}}; /* none needed so far: {"case", atol, rtol} with the reason */

/* Compares n floats with expected values; returns the number off and updates the worst error. */
static int compare(const char *cname, const char *label, const float *got, const ftensor *e,
                   double atol, double rtol, double *worst) {
    int bad = 0;
    for (int64_t i = 0; i < e->numel; i++) {
        double err = fabs((double)got[i] - e->v[i]);
        if (err > *worst || isnan(err)) *worst = err;
        if (!(err <= atol + rtol * fabs(e->v[i])) && bad++ < 5)
            fprintf(stderr, "  %s %s[%lld]: nabla %.9g torch %.9g\n", cname, label, (long long)i,
                    (double)got[i], e->v[i]);
    }
    return bad;
}

static void check_case(const op_case *c) {
    fcase *fc = NULL;
    for (int i = 0; i < ncases; i++)
        if (!strcmp(cases[i].name, c->name)) fc = &cases[i];
    CHECK(fc != NULL, "%s: case missing from %s; regenerate it with tests/gen_torch_fixtures.py",
          c->name, FIXTURES);
    if (!fc) return;
    fc->used = true;
    double atol = ATOL, rtol = RTOL;
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++)
        if (loose[i].name && !strcmp(loose[i].name, c->name)) atol = loose[i].atol, rtol = loose[i].rtol;

    nb_tensor *in[5] = {0};
    bool ok = true;
    for (int k = 0; k < c->n_in && ok; k++) {
        const in_spec *s = &c->in[k];
        char label[16];
        snprintf(label, sizeof label, "in%d", k);
        ftensor *t = find_tensor(fc, label);
        if (s->kind == IN_NONE) {
            ok = t && t->none;
            CHECK(ok, "%s: %s should be 'none' in the fixtures (stale? regenerate)", c->name, label);
            continue;
        }
        nb_dtype dt = s->kind == IN_INDEX ? NB_I64 : NB_F32;
        ok = t && !t->none && t->dtype == dt && same_shape(t, s->ndim, s->shape);
        CHECK(ok, "%s: %s missing or not of the case's dtype and shape (stale? regenerate)", c->name, label);
        if (!ok) break;
        in[k] = dt == NB_F32 ? nb_tensor_new(t->ndim, t->shape) : nb_index_new(t->ndim, t->shape);
        for (int64_t i = 0; i < t->numel; i++) {
            if (dt == NB_F32) nb_tensor_data(in[k])[i] = (float)t->v[i];
            else nb_tensor_idata(in[k])[i] = (int64_t)t->v[i];
        }
        if (dt == NB_F32) nb_tensor_set_requires_grad(in[k], true);
    }
    nb_tensor *y = ok ? c->build(in) : NULL;
    CHECK(!ok || y != NULL, "%s: build failed: %s", c->name, nb_last_error());
    ftensor *w = find_tensor(fc, "w"), *eo = find_tensor(fc, "out");
    if (y) {
        ok = w && eo && !w->none && !eo->none && same_shape(w, y->ndim, y->shape) &&
             same_shape(eo, y->ndim, y->shape);
        CHECK(ok, "%s: 'w' and 'out' must be in the fixtures with the output's shape %s", c->name,
              NB_SHAPE_STR(y));
    }
    double werr_out = 0, werr_grad = 0;
    if (y && ok) {
        int64_t ny = nb_tensor_numel(y);
        float *buf = malloc((size_t)(ny ? ny : 1) * sizeof(float));
        nb__strided_copy(buf, NB_F(y), y->ndim, y->shape, y->stride);
        int bad = compare(c->name, "out", buf, eo, atol, rtol, &werr_out);
        CHECK(bad == 0, "%s: %d output elements differ from PyTorch", c->name, bad);
        for (int64_t i = 0; i < ny; i++) buf[i] = (float)w->v[i];
        CHECK(nb__backward_seeded(y, buf) == NB_OK, "%s: backward: %s", c->name, nb_last_error());
        free(buf);
        for (int k = 0; k < c->n_in; k++) {
            if (!in[k] || nb_tensor_dtype(in[k]) != NB_F32) continue;
            char label[16];
            snprintf(label, sizeof label, "grad%d", k);
            ftensor *eg = find_tensor(fc, label);
            const float *g = nb_tensor_grad(in[k]);
            bool have = eg && !eg->none && same_shape(eg, in[k]->ndim, in[k]->shape) && g;
            CHECK(have, "%s: %s missing from the fixtures or no gradient from nabla", c->name, label);
            if (!have) continue;
            bad = compare(c->name, label, g, eg, atol, rtol, &werr_grad);
            CHECK(bad == 0, "%s: %d elements of %s differ from PyTorch", c->name, bad, label);
        }
        printf("%-22s %-24s max |error| out %.3g, gradients %.3g\n", c->name, nb__ops[c->op].name,
               werr_out, werr_grad);
    }
    nb_step_reset();
    for (int k = 0; k < c->n_in; k++) nb_tensor_free(in[k]);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--dump")) return dump(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: test_torch_ref [--dump FILE]\n");
        return 2;
    }
    char *text = NULL;
    int loaded = load(FIXTURES, &text);
    CHECK(loaded == 0, "%s could not be read (run from tests/; see the messages above)", FIXTURES);
    if (loaded == 0) {
        for (int i = 0; i < nb_test_case_count; i++) check_case(&nb_test_cases[i]);
        for (int i = 0; i < ncases; i++)
            CHECK(cases[i].used, "%s:%d: case %s is not in the C case table any more; regenerate",
                  FIXTURES, cases[i].line, cases[i].name);
        printf("%d cases compared with PyTorch\n", nb_test_case_count);
    }
    for (int i = 0; i < ncases; i++)
        for (int j = 0; j < cases[i].nt; j++) free(cases[i].t[j].v);
    free(cases);
    free(text);
    return test_end("test_torch_ref");
}
