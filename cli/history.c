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

void history_read(const char *path, int64_t upto, history *h) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
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
    size_t cap = (size_t)h->n * 256 + 1, len = 0;
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
        char line[512];
        int k = snprintf(line, sizeof line,
                         "{\"epoch\": %d, \"train_loss\": %s, \"train_accuracy\": %s, \"test_loss\": %s, "
                         "\"test_accuracy\": %s%s, \"seconds\": %.3f, \"samples_per_s\": %.1f}\n",
                         i + 1, v[0], v[1], v[2], v[3], bits, fmax(fmin(h->secs[i], 1e12), 0),
                         fmax(fmin(h->rate[i], 1e12), 0));
        if (k < 0 || (size_t)k >= sizeof line || len + (size_t)k >= cap) continue; /* cannot happen: bounded */
        memcpy(buf + len, line, (size_t)k + 1);
        len += (size_t)k;
    }
    int rc = nb_write_file_atomic(path, buf, len) ? cli_fail("%s", nb_last_error()) : 0;
    free(buf);
    return rc;
}
