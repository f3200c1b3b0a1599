/* The command line's run plan in checkpoint metadata (cli/plan.c): cli_plan_to_meta then
 * cli_plan_from_meta through a checkpoint file gives back the same plan, and a value out of
 * range, an unknown name or a number that does not parse is refused with an error naming the
 * file and the key; PyTorch weights (format "pt") are refused with the --model/--data hint. */
#define _POSIX_C_SOURCE 200809L /* dup, fileno */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "check.h"

/* Runs cli_plan_from_meta with stderr captured into err (what cli_fail printed). */
static int parse_captured(const nb_meta *m, const char *path, cli_plan *p, char *err, size_t cap) {
    fflush(stderr);
    FILE *t = tmpfile();
    int saved = dup(2);
    if (!t || saved < 0 || dup2(fileno(t), 2) < 0) {
        fprintf(stderr, "cannot capture stderr\n");
        exit(2);
    }
    int rc = cli_plan_from_meta(m, path, p);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t n = 0;
    if (fseek(t, 0, SEEK_SET) == 0) n = fread(err, 1, cap - 1, t);
    err[n] = '\0';
    fclose(t);
    return rc;
}

static cli_plan sample_plan(void) {
    cli_plan p = {.c = 1, .h = 28, .w = 28, .classes = 10, .epoch = 7, .seed = 18446744073709551615ull,
                  .batch = 20, .mean = 0.1307f, .std = 0.3081f, .base_lr = 3e-4f, .clip = 1e6f, .warmup = 1000,
                  .epochs = 1000, .limit_train = 9223372036854775807LL, .limit_test = 20, .train_samples = 2000,
                  .threads = 2, .word_dropout = 0.1f};
    snprintf(p.model, sizeof p.model, "lenet5");
    snprintf(p.dataset, sizeof p.dataset, "fashion-mnist");
    snprintf(p.schedule, sizeof p.schedule, "cosine");
    snprintf(p.optimizer, sizeof p.optimizer, "rmsprop");
    snprintf(p.freeze, sizeof p.freeze, "conv1,conv2.weight");
    return p;
}

static bool same_plan(const cli_plan *a, const cli_plan *b) {
    return strcmp(a->model, b->model) == 0 && a->c == b->c && a->h == b->h && a->w == b->w &&
           a->classes == b->classes && strcmp(a->dataset, b->dataset) == 0 && a->epoch == b->epoch &&
           a->seed == b->seed && a->batch == b->batch && a->mean == b->mean && a->std == b->std &&
           strcmp(a->schedule, b->schedule) == 0 && strcmp(a->optimizer, b->optimizer) == 0 &&
           a->base_lr == b->base_lr && a->clip == b->clip && a->warmup == b->warmup && a->epochs == b->epochs &&
           a->limit_train == b->limit_train && a->limit_test == b->limit_test &&
           a->train_samples == b->train_samples && a->threads == b->threads && strcmp(a->freeze, b->freeze) == 0 &&
           a->word_dropout == b->word_dropout;
}

/* Writes plan p as the metadata of a checkpoint of model m at path and reads the metadata back. */
static nb_meta *save_and_read(const char *path, nb_model *m, const cli_plan *p) {
    nb_meta *w = nb_meta_new();
    CHECK(w && cli_plan_to_meta(p, w) == NB_OK, "cli_plan_to_meta: %s", nb_last_error());
    CHECK(nb_checkpoint_save(path, m, NULL, w) == NB_OK, "save: %s", nb_last_error());
    nb_meta_free(w);
    nb_meta *r = nb_checkpoint_meta(path);
    CHECK(r != NULL, "nb_checkpoint_meta: %s", nb_last_error());
    return r;
}

/* Sets key to value in a copy of the metadata and checks that parsing fails naming path, the
 * key and the value. */
static void refused(const nb_meta *good, const char *path, const char *key, const char *value) {
    nb_meta *m = nb_meta_new();
    for (int i = 0; i < nb_meta_count(good); i++) nb_meta_set(m, nb_meta_key(good, i), nb_meta_value(good, i));
    nb_meta_set(m, key, value);
    cli_plan p;
    char err[1024], quoted[96];
    int rc = parse_captured(m, path, &p, err, sizeof err);
    snprintf(quoted, sizeof quoted, "'%s'", key);
    CHECK(rc == 1, "%s=%s accepted", key, value);
    CHECK(strstr(err, path) && strstr(err, quoted) && strstr(err, value),
          "%s=%s: the error should name the file, the key and the value: %s", key, value, err);
    nb_meta_free(m);
}

int main(void) {
    char dir[] = "/tmp/nabla_plan_XXXXXX";
    if (!mkdtemp(dir)) return 2;
    char path[256];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    nb_model *m = nb_zoo_new("lenet5", 1, 28, 28, 10);
    CHECK(m != NULL, "nb_zoo_new: %s", nb_last_error());
    if (!m) return test_end("test_cli_plan");

    /* Round trip through a checkpoint file: every field comes back. */
    cli_plan want = sample_plan(), got;
    nb_meta *meta = save_and_read(path, m, &want);
    char err[1024];
    CHECK(meta && cli_is_nabla_checkpoint(meta), "format %s", meta ? nb_meta_get(meta, "format") : "-");
    CHECK(meta && parse_captured(meta, path, &got, err, sizeof err) == 0, "parse: %s", err);
    CHECK(same_plan(&want, &got), "the plan read back differs");
    CHECK(cli_read_plan(path, &got) == 0 && same_plan(&want, &got), "cli_read_plan differs");
    nb_meta_free(meta);

    /* Optional keys absent (no schedule, optimizer, freeze; defaults of a fresh plan). */
    cli_plan bare = {.c = 3, .h = 32, .w = 32, .classes = 100000, .std = 1e6f, .mean = -1e6f, .batch = 1 << 20};
    snprintf(bare.model, sizeof bare.model, "mlp");
    meta = save_and_read(path, m, &bare);
    CHECK(meta && nb_meta_get(meta, "schedule") == NULL && nb_meta_get(meta, "freeze") == NULL &&
              nb_meta_get(meta, "word_dropout") == NULL,
          "optional keys (word_dropout 0 is not written: a run without it keeps its old metadata)");
    CHECK(meta && parse_captured(meta, path, &got, err, sizeof err) == 0, "parse bare: %s", err);
    CHECK(same_plan(&bare, &got), "the bare plan read back differs");
    nb_meta_free(meta);

    /* Values out of range, unknown names, numbers that do not parse: refused naming file and key. */
    meta = save_and_read(path, m, &want);
    if (meta) {
        refused(meta, path, "epoch", "-3");
        refused(meta, path, "epoch", "1001");
        refused(meta, path, "epochs", "2x");
        refused(meta, path, "warmup", "1001");
        refused(meta, path, "classes", "1");
        refused(meta, path, "input", "100x28x28");
        refused(meta, path, "input", "1x5000x28");
        refused(meta, path, "input", "1x28");
        refused(meta, path, "input", "1x28x28x");
        refused(meta, path, "batch", "-1");
        refused(meta, path, "batch", "0");
        refused(meta, path, "std", "0");
        refused(meta, path, "std", "nan");
        refused(meta, path, "mean", "inf");
        refused(meta, path, "base_lr", "-1e-3");
        refused(meta, path, "clip", "-1");
        refused(meta, path, "optimizer", "lbfgs");
        refused(meta, path, "schedule", "linear");
        refused(meta, path, "model", "vgg");
        refused(meta, path, "dataset", "cifar10");
        refused(meta, path, "seed", "abc");
        refused(meta, path, "seed", "-5");
        refused(meta, path, "seed", " -5"); /* strtoull skips the blank, then negates */
        refused(meta, path, "seed", "12 ");
        refused(meta, path, "seed", "99999999999999999999");
        refused(meta, path, "limit_train", "-1");
        refused(meta, path, "threads", "5000");
        refused(meta, path, "word_dropout", "1");
        refused(meta, path, "word_dropout", "1.5");
        refused(meta, path, "word_dropout", "-0.1");
        refused(meta, path, "word_dropout", "0.2x");
        char long_freeze[300];
        memset(long_freeze, 'a', sizeof long_freeze - 1);
        long_freeze[sizeof long_freeze - 1] = '\0';
        nb_meta *lf = nb_meta_new();
        for (int i = 0; i < nb_meta_count(meta); i++) nb_meta_set(lf, nb_meta_key(meta, i), nb_meta_value(meta, i));
        nb_meta_set(lf, "freeze", long_freeze);
        CHECK(parse_captured(lf, path, &got, err, sizeof err) == 1 && strstr(err, "'freeze'"),
              "a freeze list longer than the plan holds must be refused, not cut: %s", err);
        nb_meta_free(lf);

        /* A required key missing. */
        nb_meta *nm = nb_meta_new();
        for (int i = 0; i < nb_meta_count(meta); i++)
            if (strcmp(nb_meta_key(meta, i), "input") != 0)
                nb_meta_set(nm, nb_meta_key(meta, i), nb_meta_value(meta, i));
        CHECK(parse_captured(nm, path, &got, err, sizeof err) == 1 && strstr(err, path) && strstr(err, "'input'"),
              "missing input: %s", err);
        nb_meta_free(nm);
    }
    nb_meta_free(meta);

    /* PyTorch weights: refused with the hint to name the model and the data. */
    const char *pt = "fixtures/pt/lenet5-f32.safetensors";
    meta = nb_checkpoint_meta(pt);
    CHECK(meta && strcmp(nb_meta_get(meta, "format"), "pt") == 0, "%s: %s", pt, nb_last_error());
    if (meta) {
        CHECK(!cli_is_nabla_checkpoint(meta), "pt is not a nabla checkpoint");
        CHECK(parse_captured(meta, pt, &got, err, sizeof err) == 1 && strstr(err, pt) && strstr(err, "'pt'") &&
                  strstr(err, "--model") && strstr(err, "--data"),
              "pt weights: %s", err);
    }
    nb_meta_free(meta);
    fflush(stderr);
    int saved = dup(2);
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull) dup2(fileno(devnull), 2);
    int rc = cli_read_plan(pt, &got);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    if (devnull) fclose(devnull);
    CHECK(rc == 1, "cli_read_plan of PyTorch weights");

    /* Issue 10: a checkpoint without 'epoch' resumed from epoch 0 silently. --resume refuses it,
     * naming the file and the key; eval and predict (cli_read_plan) do not need it. */
    cli_plan full = sample_plan();
    nb_meta *w = nb_meta_new(), *no_epoch = nb_meta_new();
    CHECK(w && no_epoch && cli_plan_to_meta(&full, w) == NB_OK, "cli_plan_to_meta: %s", nb_last_error());
    for (int i = 0; w && no_epoch && i < nb_meta_count(w); i++)
        if (strcmp(nb_meta_key(w, i), "epoch") != 0) nb_meta_set(no_epoch, nb_meta_key(w, i), nb_meta_value(w, i));
    CHECK(nb_checkpoint_save(path, m, NULL, no_epoch) == NB_OK, "save: %s", nb_last_error());
    nb_meta_free(w);
    nb_meta_free(no_epoch);
    fflush(stderr);
    FILE *t = tmpfile();
    saved = dup(2);
    if (t) dup2(fileno(t), 2);
    int rc_plain = cli_read_plan(path, &got);
    rc = cli_read_resume_plan(path, &got);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t n = 0;
    if (t && fseek(t, 0, SEEK_SET) == 0) n = fread(err, 1, sizeof err - 1, t);
    err[n] = '\0';
    if (t) fclose(t);
    CHECK(rc_plain == 0, "eval/predict read a checkpoint without epoch: %s", err);
    CHECK(rc == 1 && strstr(err, path) && strstr(err, "'epoch'"), "--resume without epoch: rc %d, %s", rc, err);
    meta = save_and_read(path, m, &full);
    nb_meta_free(meta);
    CHECK(cli_read_resume_plan(path, &got) == 0 && got.epoch == full.epoch, "--resume with epoch");

    nb_model_free(m);
    remove(path);
    rmdir(dir);
    return test_end("test_cli_plan");
}
