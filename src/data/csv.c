/* CSV reader: rows of numeric feature columns with an integer class label in the last column.
 * Blank lines are skipped; "\r\n" line ends are accepted; errors name file:line. */
#include "data_impl.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Parses one trimmed field [p, e) as a finite number. */
static int parse_num(const char *p, const char *e, double *v) {
    if (p == e) return 0;
    char *end;
    errno = 0;
    *v = strtod(p, &end);
    return end == e && isfinite(*v);
}

nb_dataset *nb_csv_load(const char *path, int header_lines) {
    if (!path) {
        nb__err(NB_ERR_ARG, "nb_csv_load: path is NULL");
        return NULL;
    }
    if (header_lines < 0) {
        nb__err(NB_ERR_ARG, "%s: header_lines is %d, expected >= 0", path, header_lines);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    if (nb__read_file(path, &buf, &len) != NB_OK) return NULL;

    int64_t rows = 0, cap = 0, dim = 0, first_line = 0, line = 0, maxl = 0;
    float *x = NULL;   /* (N, D) */
    int64_t *y = NULL; /* (N) */
    const char *p = buf, *end = buf + len;
    nb_dataset *d = NULL;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *le = eol; /* line end without "\r" */
        if (le > p && le[-1] == '\r') le--;
        line++;
        const char *lp = p;
        p = eol < end ? eol + 1 : end;
        if (line <= header_lines) continue;
        const char *q = lp;
        while (q < le && (is_blank(*q) || *q == '\r')) q++;
        if (q == le) continue; /* blank line */

        /* Count the columns first: the first data row fixes D + 1. */
        int64_t cols = 1;
        for (q = lp; q < le; q++) cols += *q == ',';
        if (!dim) {
            if (cols < 2) {
                nb__err(NB_ERR_FORMAT, "%s:%lld: found 1 column, expected features and a "
                        "label (at least 2 columns)", path, (long long)line);
                goto fail;
            }
            dim = cols - 1;
            first_line = line;
        } else if (cols != dim + 1) {
            nb__err(NB_ERR_FORMAT, "%s:%lld: wrong column count: %lld columns, expected %lld "
                    "(as on line %lld)", path, (long long)line, (long long)cols,
                    (long long)(dim + 1), (long long)first_line);
            goto fail;
        }
        if (rows == cap) {
            int64_t ncap = cap ? cap * 2 : 256;
            if ((uint64_t)ncap * (uint64_t)dim > SIZE_MAX / sizeof(float)) goto oom;
            float *nx = realloc(x, (size_t)ncap * (size_t)dim * sizeof *x);
            if (!nx) goto oom;
            x = nx;
            int64_t *ny = realloc(y, (size_t)ncap * sizeof *y);
            if (!ny) goto oom;
            y = ny;
            cap = ncap;
        }
        q = lp;
        for (int64_t c = 0; c <= dim; c++) {
            const char *fe = memchr(q, ',', (size_t)(le - q));
            if (!fe) fe = le;
            const char *a = q, *b = fe;
            while (a < b && is_blank(*a)) a++;
            while (b > a && is_blank(b[-1])) b--;
            q = fe + 1;
            double v;
            int ok = parse_num(a, b, &v);
            if (c < dim) {
                if (!ok) {
                    nb__err(NB_ERR_FORMAT, "%s:%lld: column %lld: '%.*s' is not a number", path,
                            (long long)line, (long long)c + 1, (int)(b - a), a);
                    goto fail;
                }
                if (!(fabs(v) <= FLT_MAX)) { /* finite as a double, infinite as a float */
                    nb__err(NB_ERR_FORMAT, "%s:%lld: column %lld: '%.*s' is beyond the float range (+-%g)", path,
                            (long long)line, (long long)c + 1, (int)(b - a), a, (double)FLT_MAX);
                    goto fail;
                }
                x[rows * dim + c] = (float)v;
                continue;
            }
            if (!ok) {
                nb__err(NB_ERR_FORMAT, "%s:%lld: bad label '%.*s': not a number", path,
                        (long long)line, (int)(b - a), a);
                goto fail;
            }
            if (v < 0) {
                nb__err(NB_ERR_FORMAT, "%s:%lld: bad label '%.*s': negative (labels are class "
                        "numbers >= 0)", path, (long long)line, (int)(b - a), a);
                goto fail;
            }
            if (v != floor(v) || v >= INT_MAX) {
                nb__err(NB_ERR_FORMAT, "%s:%lld: bad label '%.*s': not an integer class number",
                        path, (long long)line, (int)(b - a), a);
                goto fail;
            }
            y[rows] = (int64_t)v;
            if (y[rows] > maxl) maxl = y[rows];
        }
        rows++;
    }
    if (rows == 0) {
        nb__err(NB_ERR_FORMAT, "%s: no data rows%s", path,
                len == 0 ? " (empty file)" : header_lines ? " after the header" : "");
        goto fail;
    }
    d = calloc(1, sizeof *d);
    if (!d) goto oom;
    /* Give back the unused tail of the doubled buffers. */
    float *fx = realloc(x, (size_t)rows * (size_t)dim * sizeof *x);
    if (fx) x = fx;
    int64_t *fy = realloc(y, (size_t)rows * sizeof *y);
    if (fy) y = fy;
    d->n = rows;
    d->dim = dim;
    d->c = 1;
    d->h = 1;
    d->w = dim <= INT_MAX ? (int)dim : 0;
    d->n_classes = (int)maxl + 1;
    d->x_f32 = x;
    d->y = y;
    d->mean = 0.0f;
    d->std = 1.0f;
    free(buf);
    return d;
oom:
    nb__err(NB_ERR_MEM, "%s: out of memory at line %lld", path, (long long)line);
fail:
    free(buf);
    free(x);
    free(y);
    return NULL;
}
