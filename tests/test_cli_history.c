/* metrics.jsonl (cli/history.c): every number is written whole and read back on --resume.
 * Issue 10: a loss of 5.6e36 was written with %.6f into 32 bytes and came out as 5.6e30 (its
 * last 7 digits cut), and a tiny one as 0.000000. Non-finite values are null (JSON has none). */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cli/history.h"
#include "check.h"

int main(void) {
    char path[] = "/tmp/nabla_history_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) close(fd);
    static history h, back;
    const double big = 5.6e36, tiny = 1.25e-300, plain = 0.123456789, acc = 0.9875;
    history_add(&h, big, acc, -big, plain, 1.5, 1000);
    history_add(&h, -DBL_MAX, 0, plain, acc, 2, 2000);
    history_add(&h, tiny, 1, NAN, INFINITY, 3, 3000);
    history_add(&h, plain, acc, plain, acc, 4, 4000);
    CHECK(history_write(path, &h) == 0, "write %s", path);
    FILE *f = fopen(path, "r");
    char text[4096] = "";
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = '\0';
    if (f) fclose(f);
    CHECK(strstr(text, "\"train_loss\": 5.6e+36,") != NULL, "5.6e36 written whole:\n%s", text);
    CHECK(strstr(text, "\"test_loss\": -5.6e+36,") != NULL, "-5.6e36 written whole:\n%s", text);
    CHECK(strstr(text, "\"train_loss\": 1.25e-300,") != NULL, "1.25e-300 is not 0:\n%s", text);
    CHECK(strstr(text, "\"test_loss\": null, \"test_accuracy\": null") != NULL, "NaN and inf are null:\n%s", text);
    CHECK(strstr(text, "\"train_loss\": -1.79769313e+308,") != NULL, "-DBL_MAX fits:\n%s", text);
    CHECK(strstr(text, "0.123456789") != NULL && strstr(text, "0.9875,") != NULL, "nine digits:\n%s", text);
    /* An epoch logged with nulls is read back as NaN, and the epochs after it too. */
    history_read(path, 4, &back);
    CHECK(back.n == 4, "read back %d epochs", back.n);
    CHECK(back.tl[2] == tiny && isnan(back.vl[2]) && isnan(back.va[2]) && back.tl[3] == plain && back.secs[3] == 4,
          "past the nulls: %d epochs, %.9g %.9g", back.n, back.vl[2], back.tl[3]);
    CHECK(back.tl[0] == big && back.vl[0] == -big && back.va[0] == plain && back.ta[0] == acc &&
              back.tl[1] == -1.79769313e+308,
          "values read back: %.9g %.9g %.9g %.9g", back.tl[0], back.vl[0], back.va[0], back.tl[1]);
    CHECK(!back.bits && !strstr(text, "bpc"), "a classifier's log has no bits per character");
    /* A language model's log: train_bpc and test_bpc, read back. */
    static history lm, lm_back;
    history_add(&lm, 1.9, 0.45, 1.85, 0.47, 60, 500);
    history_set_bits(&lm, 2.741, 2.669);
    CHECK(history_write(path, &lm) == 0, "write lm %s", path);
    history_read(path, 1, &lm_back);
    CHECK(lm_back.n == 1 && lm_back.bits && lm_back.tb[0] == 2.741 && lm_back.vb[0] == 2.669,
          "bits read back: %d %d %g %g", lm_back.n, (int)lm_back.bits, lm_back.tb[0], lm_back.vb[0]);
    unlink(path);
    return test_end("test_cli_history");
}
