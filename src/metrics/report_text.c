/* The arithmetic and text layout shared by the reports (metrics_impl.h): sklearn's division
 * and F1 order, NumPy's pairwise sum, a growing text buffer, padding by code points, and the
 * report table's header and rows. */
#include "metrics/metrics_impl.h"

#include <stdarg.h>

/* num/den as sklearn's _prf_divide with zero_division=0. */
double nb__prf_div(int64_t num, int64_t den) {
    return den == 0 ? 0.0 : (double)num / (double)den;
}

/* F1 evaluated in sklearn's order: (1 + beta2) * p * r / (beta2 * p + r), denominator 0 -> 1. */
double nb__f1_of(double p, double r) {
    double den = 1.0 * p + r;
    if (den == 0.0) den = 1.0;
    return 2.0 * p * r / den;
}

/* NumPy's pairwise summation of float64 (as np.sum / np.mean use), so that averages in the
 * report round exactly as sklearn's do. */
double nb__pairwise_sum(const double *a, int64_t n) {
    if (n < 8) {
        double res = 0.0;
        for (int64_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        int64_t i;
        for (int j = 0; j < 8; j++) r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return nb__pairwise_sum(a, n2) + nb__pairwise_sum(a + n2, n - n2);
}

void nb__sb_printf(nb__sbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0) {
        b->failed = true;
        return;
    }
    if (b->len + (size_t)need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + (size_t)need + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

char *nb__sb_finish(nb__sbuf *b, const char *fn) {
    if (b->failed || !b->s) {
        free(b->s);
        nb__err(NB_ERR_MEM, "%s: out of memory", fn);
        return NULL;
    }
    return b->s;
}

/* Characters (UTF-8 code points) in s, which is what Python pads by. */
int nb__text_width(const char *s) {
    int n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

/* s right-aligned in a field of width characters (Python's "{:>{width}s}"). */
void nb__sb_right(nb__sbuf *b, const char *s, int width) {
    int pad = width - nb__text_width(s);
    nb__sb_printf(b, "%*s%s", pad > 0 ? pad : 0, "", s);
}

/* s left-aligned in a field of width characters. */
void nb__sb_left(nb__sbuf *b, const char *s, int width) {
    int pad = width - nb__text_width(s);
    nb__sb_printf(b, "%s%*s", s, pad > 0 ? pad : 0, "");
}

void nb__report_header(nb__sbuf *b, int width) {
    nb__sb_right(b, "", width);
    nb__sb_printf(b, "  %9s %9s %9s %9s\n\n", "precision", "recall", "f1-score", "support");
}

void nb__report_row(nb__sbuf *b, const char *name, int width, int digits, double p, double r, double f,
                    int64_t support) {
    nb__sb_right(b, name, width);
    nb__sb_printf(b, "  %9.*f %9.*f %9.*f %9lld\n", digits, p, digits, r, digits, f, (long long)support);
}

nb_status nb__report_averages(const double *p, const double *r, const double *f, const int64_t *support, int k,
                              double macro[3], double weighted[3]) {
    double *w = malloc((size_t)(k > 0 ? k : 1) * 4 * sizeof *w); /* (4, K): support, then p, r, f times it */
    if (!w) return nb__err(NB_ERR_MEM, "report: out of memory for %d classes", k);
    const double *col[3] = {p, r, f};
    int64_t total = 0;
    for (int i = 0; i < k; i++) total += support[i];
    for (int j = 0; j < 3; j++) {
        macro[j] = k > 0 ? nb__pairwise_sum(col[j], k) / k : 0.0;
        weighted[j] = 0.0;
    }
    if (total > 0) {
        for (int i = 0; i < k; i++) {
            w[i] = (double)support[i];
            for (int j = 0; j < 3; j++) w[(j + 1) * k + i] = col[j][i] * w[i];
        }
        const double scl = nb__pairwise_sum(w, k);
        for (int j = 0; j < 3; j++) weighted[j] = nb__pairwise_sum(w + (j + 1) * k, k) / scl;
    }
    free(w);
    return NB_OK;
}
