/* nabla: the command-line tool. Parses arguments and runs train, eval or predict. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage:\n"
    "  nabla train --model {mlp,lenet5,seedcnn} --data {mnist,fashion-mnist} [--epochs N] [--batch N]\n"
    "              [--optimizer {adam,adamw,sgd,rmsprop}] [--lr X] [--schedule {constant,step,cosine}]\n"
    "              [--warmup N] [--clip X] [--seed N] [--threads N] [--out DIR] [--resume CHECKPOINT]\n"
    "              [--stop-after N] [--data-dir DIR] [--limit-train N] [--limit-test N] [--quiet]\n"
    "  nabla eval --checkpoint FILE [--data NAME] [--data-dir DIR] [--batch N] [--limit-test N]\n"
    "  nabla predict --checkpoint FILE [--invert] IMAGE.png|IMAGES.idx ...\n"
    "Data is looked for in --data-dir, $NABLA_DATA, ./data/NAME and the installed packages;\n"
    "bash scripts/data.sh installs it.\n";

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("nabla: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int parse_int(const char *flag, const char *v, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi)
        return cli_fail("%s: '%s' is not an integer in %lld..%lld", flag, v, lo, hi);
    *out = x;
    return 0;
}

static int parse_double(const char *flag, const char *v, double lo, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || end == v || !(x >= lo) || x > 1e6)
        return cli_fail("%s: '%s' is not a number >= %g", flag, v, lo);
    *out = x;
    return 0;
}

static int one_of(const char *flag, const char *v, const char *const *ok) {
    for (int i = 0; ok[i]; i++)
        if (strcmp(v, ok[i]) == 0) return 0;
    char list[256] = "";
    for (int i = 0; ok[i]; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", ok[i]);
    return cli_fail("%s: unknown value '%s' (expected one of: %s)", flag, v, list);
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    cli_args a = {.cmd = argv[1], .epochs = 10, .batch = 64, .lr = 1e-3, .optimizer = "adam", .out = "out", .schedule = "constant",
                  .threads = 0};
    static const char *const cmds[] = {"train", "eval", "predict", NULL};
    static const char *const opts[] = {"adam", "adamw", "sgd", "rmsprop", NULL};
    static const char *const datas[] = {"mnist", "fashion-mnist", NULL};
    static const char *const scheds[] = {"constant", "step", "cosine", NULL};
    if (one_of("command", a.cmd, cmds)) {
        fputs(USAGE, stderr);
        return 2;
    }
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) return cli_fail("out of memory");
    a.inputs = inputs;
    long long v;
    int rc = 0;
    for (int i = 2; i < argc && !rc; i++) {
        const char *f = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(f, "--quiet") == 0) {
            a.quiet = true;
            continue;
        }
        if (strcmp(f, "--invert") == 0) {
            a.invert = true;
            continue;
        }
        if (strcmp(f, "-h") == 0 || strcmp(f, "--help") == 0) {
            fputs(USAGE, stdout);
            free(inputs);
            return 0;
        }
        if (strncmp(f, "--", 2) != 0) {
            inputs[a.n_inputs++] = f;
            continue;
        }
        if (!has) {
            rc = cli_fail("%s needs a value", f);
            break;
        }
        const char *val = argv[++i];
        if (strcmp(f, "--model") == 0) {
            a.model = val;
            rc = one_of(f, val, nb_zoo_names());
        } else if (strcmp(f, "--data") == 0) {
            a.data = val;
            rc = one_of(f, val, datas);
        } else if (strcmp(f, "--data-dir") == 0) a.data_dir = val;
        else if (strcmp(f, "--optimizer") == 0) {
            a.optimizer = val;
            a.optimizer_set = true;
            rc = one_of(f, val, opts);
        } else if (strcmp(f, "--schedule") == 0) {
            a.schedule = val;
            a.schedule_set = true;
            rc = one_of(f, val, scheds);
        } else if (strcmp(f, "--warmup") == 0) {
            rc = parse_int(f, val, 0, 1000, &v);
            a.warmup = (int)v;
            a.warmup_set = true;
        } else if (strcmp(f, "--stop-after") == 0) {
            rc = parse_int(f, val, 1, 100000, &v);
            a.stop_after = (int)v;
        } else if (strcmp(f, "--out") == 0) {
            a.out = val;
            a.out_set = true;
        }
        else if (strcmp(f, "--resume") == 0) a.resume = val;
        else if (strcmp(f, "--checkpoint") == 0) a.checkpoint = val;
        else if (strcmp(f, "--epochs") == 0) {
            rc = parse_int(f, val, 1, 1000, &v);
            a.epochs = (int)v;
            a.epochs_set = true;
        } else if (strcmp(f, "--batch") == 0) {
            rc = parse_int(f, val, 1, 1 << 20, &v);
            a.batch = v;
            a.batch_set = true;
        } else if (strcmp(f, "--threads") == 0) {
            rc = parse_int(f, val, 1, 1024, &v);
            a.threads = (int)v;
        } else if (strcmp(f, "--seed") == 0) {
            rc = parse_int(f, val, 0, INT64_MAX, &v);
            a.seed = (uint64_t)v;
            a.seed_set = true;
        } else if (strcmp(f, "--limit-train") == 0) {
            rc = parse_int(f, val, 0, INT64_MAX, &v);
            a.limit_train = v;
            a.limit_train_set = true;
        } else if (strcmp(f, "--limit-test") == 0) {
            rc = parse_int(f, val, 0, INT64_MAX, &v);
            a.limit_test = v;
            a.limit_test_set = true;
        } else if (strcmp(f, "--lr") == 0) {
            rc = parse_double(f, val, 0, &a.lr);
            if (!rc && !(a.lr > 0)) rc = cli_fail("--lr must be > 0");
            a.lr_set = true;
        } else if (strcmp(f, "--clip") == 0) {
            rc = parse_double(f, val, 0, &a.clip);
            a.clip_set = true;
        } else {
            rc = cli_fail("unknown option %s (see nabla --help)", f);
        }
    }
    if (!rc && a.n_inputs > 0 && strcmp(a.cmd, "predict") != 0)
        rc = cli_fail("%s: unexpected argument '%s' (see nabla --help)", a.cmd, a.inputs[0]);
    if (!rc && a.threads) nb_set_threads(a.threads);
    if (!rc) {
        if (strcmp(a.cmd, "train") == 0) rc = cli_train(&a);
        else if (strcmp(a.cmd, "eval") == 0) rc = cli_eval(&a);
        else rc = cli_predict(&a);
    }
    free(inputs);
    return rc;
}
