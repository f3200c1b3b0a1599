/* metrics.jsonl: one JSON line per epoch, rewritten atomically after each, read back on
 * --resume. */
#include "history.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The value of "key": in a line: a number, or null (an epoch without that record) as NaN. */
static int field(const char *line, const char *key, double *out) {
    char k[48];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = strstr(line, k);
    if (!p) return 0;
    p += strlen(k);
    if (strncmp(p, "null", 4) == 0) {
        *out = NAN;
        return 1;
    }
    return sscanf(p, "%lf", out) == 1;
}

/* Every "key": value of the line that is not one of the fixed fields becomes a named series. */
static void read_extra(const char *line, history *h) {
    static const char *const fixed[] = {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
                                        "train_bpc", "test_bpc", "seconds", "samples_per_s", NULL};
    for (const char *p = strchr(line, '"'); p; p = strchr(p, '"')) {
        const char *q = strchr(p + 1, '"');
        if (!q) return;
        char key[32];
        size_t n = (size_t)(q - p - 1);
        if (n >= 1 && n < sizeof key && q[1] == ':') {
            memcpy(key, p + 1, n);
            key[n] = '\0';
            bool known = false;
            for (int i = 0; fixed[i] && !known; i++) known = strcmp(key, fixed[i]) == 0;
            double v;
            if (!known && field(line, key, &v)) history_set(h, key, v);
        }
        p = q + 1;
    }
}

static bool good_name(const char *name) {
    size_t n = strlen(name);
    if (n < 1 || n > 31) return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_')) return false;
    return true;
}

void history_set(history *h, const char *name, double v) {
    if (h->n < 1 || !good_name(name)) return;
    int k = 0;
    while (k < h->n_extra && strcmp(h->extra_name[k], name) != 0) k++;
    if (k == h->n_extra) {
        if (k >= HISTORY_MAX_EXTRA) return;
        snprintf(h->extra_name[k], sizeof h->extra_name[k], "%s", name);
        for (int i = 0; i < CLI_MAX_EPOCHS; i++) h->extra[k][i] = NAN;
        h->n_extra++;
    }
    h->extra[k][h->n - 1] = v;
}

const double *history_get(const history *h, const char *name) {
    for (int k = 0; k < h->n_extra; k++)
        if (strcmp(h->extra_name[k], name) == 0) return h->extra[k];
    return NULL;
}

void history_read(const char *path, int64_t upto, history *h) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f) && h->n < upto && h->n < CLI_MAX_EPOCHS) {
        long long e;
        double tl, ta, vl, va, secs = 0, rate = 0;
        if (sscanf(line, "{\"epoch\": %lld", &e) != 1 || e != h->n + 1) break;
        if (!field(line, "train_loss", &tl) || !field(line, "train_accuracy", &ta) || !field(line, "test_loss", &vl) ||
            !field(line, "test_accuracy", &va))
            break;
        field(line, "seconds", &secs);
        field(line, "samples_per_s", &rate);
        history_add(h, tl, ta, vl, va, secs, rate);
        double tb, vb;
        if (field(line, "train_bpc", &tb) && field(line, "test_bpc", &vb)) history_set_bits(h, tb, vb);
        read_extra(line, h);
    }
    fclose(f);
}

void history_add(history *h, double tl, double ta, double vl, double va, double secs, double rate) {
    if (h->n >= CLI_MAX_EPOCHS) return;
    int i = h->n++;
    h->tl[i] = tl;
    h->ta[i] = ta;
    h->vl[i] = vl;
    h->va[i] = va;
    h->secs[i] = secs;
    h->rate[i] = rate;
    h->tb[i] = h->vb[i] = NAN;
    for (int k = 0; k < h->n_extra; k++) h->extra[k][i] = NAN;
}

void history_set_bits(history *h, double train_bits, double test_bits) {
    if (h->n < 1) return;
    h->bits = true;
    h->tb[h->n - 1] = train_bits;
    h->vb[h->n - 1] = test_bits;
}

void history_pad(history *h, int64_t n) {
    while (h->n < n && h->n < CLI_MAX_EPOCHS) history_add(h, NAN, NAN, NAN, NAN, 0, 0);
}

int history_write(const char *path, const history *h) {
    size_t cap = (size_t)h->n * (256 + 64 * HISTORY_MAX_EXTRA) + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) return cli_fail("out of memory");
    buf[0] = '\0';
    for (int i = 0; i < h->n; i++) {
        char v[6][32]; /* %.9g (a float's every digit) is at most 16 characters: -1.23456789e+308 */
        const double x[6] = {h->tl[i], h->ta[i], h->vl[i], h->va[i], h->tb[i], h->vb[i]};
        for (int k = 0; k < 6; k++) /* JSON has no NaN: an epoch without a record is null */
            snprintf(v[k], sizeof v[k], isfinite(x[k]) ? "%.9g" : "null", x[k]);
        char bits[96] = "";
        if (h->bits) snprintf(bits, sizeof bits, ", \"train_bpc\": %s, \"test_bpc\": %s", v[4], v[5]);
        char extra[64 * HISTORY_MAX_EXTRA] = "";
        for (int e = 0; e < h->n_extra; e++) {
            char xs[32];
            snprintf(xs, sizeof xs, isfinite(h->extra[e][i]) ? "%.9g" : "null", h->extra[e][i]);
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", \"%s\": %s", h->extra_name[e], xs);
        }
        char line[512 + sizeof extra];
        int k = snprintf(line, sizeof line,
                         "{\"epoch\": %d, \"train_loss\": %s, \"train_accuracy\": %s, \"test_loss\": %s, "
                         "\"test_accuracy\": %s%s%s, \"seconds\": %.3f, \"samples_per_s\": %.1f}\n",
                         i + 1, v[0], v[1], v[2], v[3], bits, extra, fmax(fmin(h->secs[i], 1e12), 0),
                         fmax(fmin(h->rate[i], 1e12), 0));
        if (k < 0 || (size_t)k >= sizeof line || len + (size_t)k >= cap) continue; /* cannot happen: bounded */
        memcpy(buf + len, line, (size_t)k + 1);
        len += (size_t)k;
    }
    int rc = nb_write_file_atomic(path, buf, len) ? cli_fail("%s", nb_last_error()) : 0;
    free(buf);
    return rc;
}
