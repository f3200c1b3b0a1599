/* Classification metrics: the confusion matrix, accuracy, per-class precision/recall/F1, the
 * scikit-learn style classification report (byte for byte as sklearn 1.2's
 * classification_report with zero_division=0), a text confusion matrix, known class names and
 * row-wise argmax. */
#include "internal.h"

#include <stdarg.h>

nb_confusion *nb_confusion_new(int k) {
    if (k <= 0) {
        nb__err(NB_ERR_ARG, "nb_confusion_new: %d classes; need at least 1", k);
        return NULL;
    }
    nb_confusion *c = malloc(sizeof *c);
    int64_t *m = calloc((size_t)k * (size_t)k, sizeof *m); /* (K, K): m[true*k + pred] */
    if (!c || !m) {
        free(c);
        free(m);
        nb__err(NB_ERR_MEM, "nb_confusion_new: out of memory for %d x %d counts", k, k);
        return NULL;
    }
    c->k = k;
    c->m = m;
    return c;
}

void nb_confusion_free(nb_confusion *c) {
    if (!c) return;
    free(c->m);
    free(c);
}

void nb_confusion_clear(nb_confusion *c) {
    if (c) memset(c->m, 0, (size_t)c->k * (size_t)c->k * sizeof *c->m);
}

nb_status nb_confusion_add(nb_confusion *c, const int64_t *y_true, const int64_t *y_pred,
                           int64_t n) {
    if (!c) return nb__err(NB_ERR_ARG, "nb_confusion_add: the confusion matrix is NULL");
    if (n < 0) return nb__err(NB_ERR_ARG, "nb_confusion_add: negative count %lld", (long long)n);
    if (n > 0 && (!y_true || !y_pred))
        return nb__err(NB_ERR_ARG, "nb_confusion_add: y_true or y_pred is NULL");
    /* Check every label first, so that a bad batch adds nothing. */
    for (int64_t i = 0; i < n; i++) {
        if (y_true[i] < 0 || y_true[i] >= c->k)
            return nb__err(NB_ERR_ARG,
                           "nb_confusion_add: y_true[%lld] = %lld is outside the classes [0, %d)",
                           (long long)i, (long long)y_true[i], c->k);
        if (y_pred[i] < 0 || y_pred[i] >= c->k)
            return nb__err(NB_ERR_ARG,
                           "nb_confusion_add: y_pred[%lld] = %lld is outside the classes [0, %d)",
                           (long long)i, (long long)y_pred[i], c->k);
    }
    for (int64_t i = 0; i < n; i++) c->m[y_true[i] * c->k + y_pred[i]]++;
    return NB_OK;
}

int64_t nb_confusion_total(const nb_confusion *c) {
    if (!c) return 0;
    int64_t s = 0;
    for (int64_t i = 0; i < (int64_t)c->k * c->k; i++) s += c->m[i];
    return s;
}

double nb_accuracy(const nb_confusion *c) {
    int64_t total = nb_confusion_total(c), right = 0;
    if (total == 0) return 0.0;
    for (int i = 0; i < c->k; i++) right += c->m[(int64_t)i * c->k + i];
    return (double)right / (double)total;
}

/* num/den as sklearn's _prf_divide with zero_division=0. */
static double prf_div(int64_t num, int64_t den) {
    return den == 0 ? 0.0 : (double)num / (double)den;
}

/* F1 evaluated in sklearn's order: (1 + beta2) * p * r / (beta2 * p + r), denominator 0 -> 1. */
static double f1_of(double p, double r) {
    double den = 1.0 * p + r;
    if (den == 0.0) den = 1.0;
    return 2.0 * p * r / den;
}

void nb_prf(const nb_confusion *c, double *precision, double *recall, double *f1,
            int64_t *support) {
    if (!c) return;
    int k = c->k;
    for (int j = 0; j < k; j++) {
        int64_t tp = c->m[(int64_t)j * k + j], pred = 0, truth = 0;
        for (int i = 0; i < k; i++) {
            pred += c->m[(int64_t)i * k + j];
            truth += c->m[(int64_t)j * k + i];
        }
        double p = prf_div(tp, pred), r = prf_div(tp, truth);
        if (precision) precision[j] = p;
        if (recall) recall[j] = r;
        if (f1) f1[j] = f1_of(p, r);
        if (support) support[j] = truth;
    }
}

/* NumPy's pairwise summation of float64 (as np.sum / np.mean use), so that averages in the
 * report round exactly as sklearn's do. */
static double pairwise_sum(const double *a, int64_t n) {
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
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

/* ---- a growing text buffer ---------------------------------------------------------------- */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
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

static char *sb_finish(sbuf *b, const char *fn) {
    if (b->failed || !b->s) {
        free(b->s);
        nb__err(NB_ERR_MEM, "%s: out of memory", fn);
        return NULL;
    }
    return b->s;
}

/* Characters (UTF-8 code points) in s, which is what Python pads by. */
static int text_width(const char *s) {
    int n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

/* s right-aligned in a field of width characters (Python's "{:>{width}s}"). */
static void sb_right(sbuf *b, const char *s, int width) {
    int pad = width - text_width(s);
    sb_printf(b, "%*s%s", pad > 0 ? pad : 0, "", s);
}

/* s left-aligned in a field of width characters. */
static void sb_left(sbuf *b, const char *s, int width) {
    int pad = width - text_width(s);
    sb_printf(b, "%s%*s", s, pad > 0 ? pad : 0, "");
}

/* Name of class i: names[i], or its number written into num. */
static const char *class_name(const char *const *names, int i, char num[24]) {
    if (names && names[i]) return names[i];
    snprintf(num, 24, "%d", i);
    return num;
}

char *nb_classification_report(const nb_confusion *c, const char *const *names, int digits) {
    if (!c) {
        nb__err(NB_ERR_ARG, "nb_classification_report: the confusion matrix is NULL");
        return NULL;
    }
    if (digits < 0 || digits > 30) {
        nb__err(NB_ERR_ARG, "nb_classification_report: digits = %d; expected 0..30", digits);
        return NULL;
    }
    int k = c->k;
    /* Per-class scores, (K) each, then the products p*support for the weighted average. */
    double *buf = malloc((size_t)k * 7 * sizeof *buf);
    int64_t *sup = malloc((size_t)k * sizeof *sup);
    if (!buf || !sup) {
        free(buf);
        free(sup);
        nb__err(NB_ERR_MEM, "nb_classification_report: out of memory for %d classes", k);
        return NULL;
    }
    double *p = buf, *r = buf + k, *f = buf + 2 * k, *wp = buf + 3 * k, *wr = buf + 4 * k,
           *wf = buf + 5 * k, *wsup = buf + 6 * k;
    nb_prf(c, p, r, f, sup);

    char num[24];
    int width = 12; /* len("weighted avg") */
    for (int i = 0; i < k; i++) {
        int w = text_width(class_name(names, i, num));
        if (w > width) width = w;
    }
    if (digits > width) width = digits;

    sbuf b = {0};
    sb_right(&b, "", width);
    sb_printf(&b, "  %9s %9s %9s %9s\n\n", "precision", "recall", "f1-score", "support");
    int64_t total = 0, tp_all = 0;
    for (int i = 0; i < k; i++) {
        sb_right(&b, class_name(names, i, num), width);
        sb_printf(&b, "  %9.*f %9.*f %9.*f %9lld\n", digits, p[i], digits, r[i], digits, f[i],
                  (long long)sup[i]);
        total += sup[i];
        tp_all += c->m[(int64_t)i * k + i];
    }
    sb_printf(&b, "\n");

    /* Micro average, printed as "accuracy": p = r = sum tp / n, F1 through the same formula. */
    double acc = f1_of(prf_div(tp_all, total), prf_div(tp_all, total));
    sb_right(&b, "accuracy", width);
    sb_printf(&b, "  %9s %9s %9.*f %9lld\n", "", "", digits, acc, (long long)total);

    double mp = pairwise_sum(p, k) / k, mr = pairwise_sum(r, k) / k, mf = pairwise_sum(f, k) / k;
    sb_right(&b, "macro avg", width);
    sb_printf(&b, "  %9.*f %9.*f %9.*f %9lld\n", digits, mp, digits, mr, digits, mf,
              (long long)total);

    double ap = 0.0, ar = 0.0, af = 0.0;
    if (total > 0) {
        for (int i = 0; i < k; i++) {
            wsup[i] = (double)sup[i];
            wp[i] = p[i] * wsup[i];
            wr[i] = r[i] * wsup[i];
            wf[i] = f[i] * wsup[i];
        }
        double scl = pairwise_sum(wsup, k);
        ap = pairwise_sum(wp, k) / scl;
        ar = pairwise_sum(wr, k) / scl;
        af = pairwise_sum(wf, k) / scl;
    }
    sb_right(&b, "weighted avg", width);
    sb_printf(&b, "  %9.*f %9.*f %9.*f %9lld\n", digits, ap, digits, ar, digits, af,
              (long long)total);
    free(buf);
    free(sup);
    return sb_finish(&b, "nb_classification_report");
}

/* Copies at most max characters of s into out (UTF-8 aware), ending with '.' when cut. */
static void truncate_name(const char *s, int max, char *out, size_t cap) {
    size_t o = 0;
    int chars = 0, total = text_width(s);
    for (const char *q = s; *q && o + 1 < cap; q++) {
        bool start = ((unsigned char)*q & 0xC0) != 0x80;
        if (start) {
            if (total > max && chars == max - 1) break;
            chars++;
        }
        out[o++] = *q;
    }
    if (total > max && o + 1 < cap) out[o++] = '.';
    out[o] = 0;
}

char *nb_confusion_format(const nb_confusion *c, const char *const *names) {
    if (!c) {
        nb__err(NB_ERR_ARG, "nb_confusion_format: the confusion matrix is NULL");
        return NULL;
    }
    enum { ROW_MAX = 16, COL_MAX = 8 }; /* characters kept of a class name */
    int k = c->k;
    char num[24], cut[96], cnt[32];
    int roww = 11, colw = 1; /* the corner reads "true \ pred" */
    int64_t big = 0;
    for (int i = 0; i < k; i++) {
        int w = text_width(class_name(names, i, num));
        if ((w > ROW_MAX ? ROW_MAX : w) > roww) roww = w > ROW_MAX ? ROW_MAX : w;
        if ((w > COL_MAX ? COL_MAX : w) > colw) colw = w > COL_MAX ? COL_MAX : w;
    }
    for (int64_t i = 0; i < (int64_t)k * k; i++)
        if (c->m[i] > big) big = c->m[i];
    int digw = snprintf(cnt, sizeof cnt, "%lld", (long long)big);
    if (digw > colw) colw = digw;

    sbuf b = {0};
    sb_printf(&b, "Confusion matrix (rows = true class, columns = predicted class)\n");
    sb_left(&b, "true \\ pred", roww);
    for (int j = 0; j < k; j++) {
        truncate_name(class_name(names, j, num), COL_MAX, cut, sizeof cut);
        sb_printf(&b, "  ");
        sb_right(&b, cut, colw);
    }
    sb_printf(&b, "\n");
    for (int i = 0; i < k; i++) {
        truncate_name(class_name(names, i, num), ROW_MAX, cut, sizeof cut);
        sb_left(&b, cut, roww);
        for (int j = 0; j < k; j++)
            sb_printf(&b, "  %*lld", colw, (long long)c->m[(int64_t)i * k + j]);
        sb_printf(&b, "\n");
    }
    return sb_finish(&b, "nb_confusion_format");
}

static const char *const MNIST_NAMES[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", NULL};
static const char *const FASHION_NAMES[] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                            "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                            "Ankle boot", NULL};

const char *const *nb_class_names(const char *dataset) {
    if (!dataset) return NULL;
    if (strcmp(dataset, "mnist") == 0) return MNIST_NAMES;
    if (strcmp(dataset, "fashion-mnist") == 0) return FASHION_NAMES;
    return NULL;
}

void nb_argmax_rows(const float *x, int64_t n, int k, int64_t *out) {
    if (!x || !out || k <= 0) return;
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + i * (int64_t)k; /* (K) */
        int best = 0;
        /* Strict ">" keeps the first maximum on ties; NaN never wins. */
        for (int j = 1; j < k; j++)
            if (row[j] > row[best] || (row[best] != row[best] && row[j] == row[j])) best = j;
        out[i] = best;
    }
}
