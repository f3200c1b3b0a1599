/* Classification metrics: the confusion matrix, accuracy, per-class precision/recall/F1, the
 * scikit-learn style classification report (byte for byte as sklearn 1.2's
 * classification_report with zero_division=0), a text confusion matrix, known class names and
 * row-wise argmax. */
#include "metrics/metrics_impl.h"

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
        double p = nb__prf_div(tp, pred), r = nb__prf_div(tp, truth);
        if (precision) precision[j] = p;
        if (recall) recall[j] = r;
        if (f1) f1[j] = nb__f1_of(p, r);
        if (support) support[j] = truth;
    }
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
    /* Per-class scores, (K) each. */
    double *buf = malloc((size_t)k * 3 * sizeof *buf);
    int64_t *sup = malloc((size_t)k * sizeof *sup);
    double macro[3], weighted[3];
    if (!buf || !sup) {
        free(buf);
        free(sup);
        nb__err(NB_ERR_MEM, "nb_classification_report: out of memory for %d classes", k);
        return NULL;
    }
    double *p = buf, *r = buf + k, *f = buf + 2 * k;
    nb_prf(c, p, r, f, sup);
    if (nb__report_averages(p, r, f, sup, k, macro, weighted)) {
        free(buf);
        free(sup);
        return NULL;
    }

    char num[24];
    int width = 12; /* len("weighted avg") */
    for (int i = 0; i < k; i++) {
        int w = nb__text_width(class_name(names, i, num));
        if (w > width) width = w;
    }
    if (digits > width) width = digits;

    nb__sbuf b = {0};
    nb__report_header(&b, width);
    int64_t total = 0, tp_all = 0;
    for (int i = 0; i < k; i++) {
        nb__report_row(&b, class_name(names, i, num), width, digits, p[i], r[i], f[i], sup[i]);
        total += sup[i];
        tp_all += c->m[(int64_t)i * k + i];
    }
    nb__sb_printf(&b, "\n");

    /* Micro average, printed as "accuracy": p = r = sum tp / n, F1 through the same formula. */
    double acc = nb__f1_of(nb__prf_div(tp_all, total), nb__prf_div(tp_all, total));
    nb__sb_right(&b, "accuracy", width);
    nb__sb_printf(&b, "  %9s %9s %9.*f %9lld\n", "", "", digits, acc, (long long)total);
    nb__report_row(&b, "macro avg", width, digits, macro[0], macro[1], macro[2], total);
    nb__report_row(&b, "weighted avg", width, digits, weighted[0], weighted[1], weighted[2], total);
    free(buf);
    free(sup);
    return nb__sb_finish(&b, "nb_classification_report");
}

/* Copies at most max characters of s into out (UTF-8 aware), ending with '.' when cut. */
static void truncate_name(const char *s, int max, char *out, size_t cap) {
    size_t o = 0;
    int chars = 0, total = nb__text_width(s);
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
        int w = nb__text_width(class_name(names, i, num));
        if ((w > ROW_MAX ? ROW_MAX : w) > roww) roww = w > ROW_MAX ? ROW_MAX : w;
        if ((w > COL_MAX ? COL_MAX : w) > colw) colw = w > COL_MAX ? COL_MAX : w;
    }
    for (int64_t i = 0; i < (int64_t)k * k; i++)
        if (c->m[i] > big) big = c->m[i];
    int digw = snprintf(cnt, sizeof cnt, "%lld", (long long)big);
    if (digw > colw) colw = digw;

    nb__sbuf b = {0};
    nb__sb_printf(&b, "Confusion matrix (rows = true class, columns = predicted class)\n");
    nb__sb_left(&b, "true \\ pred", roww);
    for (int j = 0; j < k; j++) {
        truncate_name(class_name(names, j, num), COL_MAX, cut, sizeof cut);
        nb__sb_printf(&b, "  ");
        nb__sb_right(&b, cut, colw);
    }
    nb__sb_printf(&b, "\n");
    for (int i = 0; i < k; i++) {
        truncate_name(class_name(names, i, num), ROW_MAX, cut, sizeof cut);
        nb__sb_left(&b, cut, roww);
        for (int j = 0; j < k; j++)
            nb__sb_printf(&b, "  %*lld", colw, (long long)c->m[(int64_t)i * k + j]);
        nb__sb_printf(&b, "\n");
    }
    return nb__sb_finish(&b, "nb_confusion_format");
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
