/* nabla train: trains a zoo model on a dataset, evaluating after every epoch, and writes the
 * checkpoints, the metrics log, the report and the pictures into --out. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, fsync, readlink */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_CLASSES 10
#define GRID_N 40

typedef struct progress {
    bool tty, quiet;
    int epoch, epochs;
    double t0, last;
} progress;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A progress bar on a terminal: batch i/n, loss, samples/s, ETA; redrawn at most 10 times/s. */
static void on_batch(void *ctx, int64_t i, int64_t n, double loss, int64_t samples) {
    progress *p = ctx;
    if (p->quiet || !p->tty) return;
    double t = now_s();
    if (i < n && t - p->last < 0.1) return;
    p->last = t;
    double el = t - p->t0, rate = el > 0 ? (double)samples / el : 0;
    double eta = i > 0 ? el * (double)(n - i) / (double)i : 0;
    int width = 28, fill = n ? (int)(width * i / n) : width;
    char bar[32];
    for (int k = 0; k < width; k++) bar[k] = k < fill ? '=' : (k == fill ? '>' : ' ');
    bar[width] = '\0';
    fprintf(stderr, "\repoch %d/%d [%s] %lld/%lld loss %.4f %.0f samples/s ETA %d:%02d ", p->epoch, p->epochs, bar,
            (long long)i, (long long)n, loss, rate, (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

/* Per-epoch records: train/test loss and accuracy, seconds and samples/s of training. */
#define MAX_EPOCHS 1000
typedef struct history {
    int n;
    double tl[MAX_EPOCHS], vl[MAX_EPOCHS], ta[MAX_EPOCHS], va[MAX_EPOCHS], secs[MAX_EPOCHS], rate[MAX_EPOCHS];
} history;

/* On --resume, the epochs already in metrics.jsonl (up to the checkpoint's) are kept. */
static void read_history(const char *path, int64_t upto, history *h) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f) && h->n < upto && h->n < MAX_EPOCHS) {
        long long e;
        double tl, ta, vl, va;
        const char *p;
        if (sscanf(line, "{\"epoch\": %lld", &e) != 1 || e != h->n + 1) break;
        if (!(p = strstr(line, "\"train_loss\": ")) || sscanf(p + 14, "%lf", &tl) != 1) break;
        if (!(p = strstr(line, "\"train_accuracy\": ")) || sscanf(p + 18, "%lf", &ta) != 1) break;
        if (!(p = strstr(line, "\"test_loss\": ")) || sscanf(p + 13, "%lf", &vl) != 1) break;
        if (!(p = strstr(line, "\"test_accuracy\": ")) || sscanf(p + 17, "%lf", &va) != 1) break;
        if ((p = strstr(line, "\"seconds\": "))) h->secs[h->n] = atof(p + 11);
        if ((p = strstr(line, "\"samples_per_s\": "))) h->rate[h->n] = atof(p + 17);
        h->tl[h->n] = tl;
        h->ta[h->n] = ta;
        h->vl[h->n] = vl;
        h->va[h->n] = va;
        h->n++;
    }
    fclose(f);
}

/* Rewrites metrics.jsonl with the history (atomically), so a resumed run continues it. */
static int write_metrics(const char *path, const history *h) {
    size_t cap = (size_t)h->n * 256 + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) return cli_fail("out of memory");
    buf[0] = '\0';
    for (int i = 0; i < h->n; i++) {
        char v[4][32];
        const double x[4] = {h->tl[i], h->ta[i], h->vl[i], h->va[i]};
        for (int k = 0; k < 4; k++) /* JSON has no NaN: an epoch without a record is null */
            snprintf(v[k], sizeof v[k], isfinite(x[k]) ? "%.6f" : "null", x[k]);
        char line[512];
        int k = snprintf(line, sizeof line,
                         "{\"epoch\": %d, \"train_loss\": %s, \"train_accuracy\": %s, \"test_loss\": %s, "
                         "\"test_accuracy\": %s, \"seconds\": %.3f, \"samples_per_s\": %.1f}\n",
                         i + 1, v[0], v[1], v[2], v[3], fmax(fmin(h->secs[i], 1e12), 0),
                         fmax(fmin(h->rate[i], 1e12), 0));
        if (k < 0 || (size_t)k >= sizeof line || len + (size_t)k >= cap) continue; /* cannot happen: bounded */
        memcpy(buf + len, line, (size_t)k + 1);
        len += (size_t)k;
    }
    int rc = nb_write_file_atomic(path, buf, len) ? cli_fail("%s", nb_last_error()) : 0;
    free(buf);
    return rc;
}

static nb_optim *make_optim(nb_params *p, const char *name, float lr) {
    if (strcmp(name, "sgd") == 0) return nb_sgd_new(p, (nb_sgd_opts){lr, 0.9f, 0.0f, false});
    if (strcmp(name, "rmsprop") == 0) return nb_rmsprop_new(p, nb_rmsprop_defaults(lr));
    nb_adam_opts o = nb_adam_defaults(lr);
    if (strcmp(name, "adamw") == 0) {
        o.decoupled = true;
        o.weight_decay = 0.01f;
    }
    return nb_adam_new(p, o);
}

static int path_in(char *buf, size_t cap, const char *dir, const char *name) {
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap) return cli_fail("--out %s: path too long", dir);
    return 0;
}

/* The names the pictures use for the zoo's models and the datasets. */
static const char *display_name(const char *name) {
    static const char *const map[][2] = {{"mlp", "MLP 784-512-256-10"}, {"lenet5", "LeNet-5"},
                                         {"seedcnn", "seed CNN"}, {"mnist", "MNIST"},
                                         {"fashion-mnist", "Fashion-MNIST"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(name, map[i][0]) == 0) return map[i][1];
    return name;
}

/* mkdir -p: creates the folder and its missing parents. */
static int mkdir_p(const char *dir) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) return -1;
            *c = '/';
        }
    return mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

int cli_train(const cli_args *a0) {
    cli_args a = *a0;
    nb_ckpt_info ri = {0};
    if (a.resume) {
        if (nb_checkpoint_info(a.resume, &ri)) return cli_fail("%s", nb_last_error());
        if (a.model && strcmp(a.model, ri.model) != 0)
            return cli_fail("--resume %s holds a %s model, not --model %s", a.resume, ri.model, a.model);
        if (a.data && strcmp(a.data, ri.dataset) != 0)
            return cli_fail("--resume %s was trained on %s, not --data %s", a.resume, ri.dataset, a.data);
        a.model = strcmp(ri.model, "") ? ri.model : a.model;
        a.data = ri.dataset;
        /* The run's plan comes from the checkpoint unless given again. */
        if (!a.batch_set && ri.batch > 0) a.batch = ri.batch;
        if (!a.seed_set) a.seed = ri.seed;
        if (!a.optimizer_set && ri.optimizer[0]) a.optimizer = ri.optimizer;
        if (!a.lr_set && ri.base_lr > 0) a.lr = ri.base_lr;
        if (!a.schedule_set && ri.schedule[0]) a.schedule = ri.schedule;
        if (!a.warmup_set) a.warmup = (int)ri.warmup;
        if (!a.clip_set) a.clip = ri.clip;
        if (!a.epochs_set && ri.epochs > 0) a.epochs = (int)ri.epochs;
        if (!a.limit_train_set) a.limit_train = ri.limit_train;
        if (!a.limit_test_set) a.limit_test = ri.limit_test;
        if (a.optimizer_set && ri.optimizer[0] && strcmp(a.optimizer, ri.optimizer) != 0)
            return cli_fail("--resume %s holds %s optimizer state; --optimizer %s cannot continue it", a.resume,
                            ri.optimizer, a.optimizer);
        if (ri.epoch > MAX_EPOCHS || a.epochs > MAX_EPOCHS)
            return cli_fail("--resume %s: %lld of %d epochs; nabla trains at most %d", a.resume,
                            (long long)ri.epoch, a.epochs, MAX_EPOCHS);
        if (ri.epoch >= a.epochs)
            return cli_fail("--resume %s has already trained %lld epochs; ask for more with --epochs", a.resume,
                            (long long)ri.epoch);
        if (a.stop_after > 0 && a.stop_after <= ri.epoch)
            return cli_fail("--stop-after %d: --resume %s has already trained %lld epochs", a.stop_after, a.resume,
                            (long long)ri.epoch);
        /* Without --out, the run continues in the checkpoint's folder. */
        if (!a.out_set) {
            static char dir[4096];
            snprintf(dir, sizeof dir, "%s", a.resume);
            char *slash = strrchr(dir, '/');
            if (slash) *slash = '\0';
            else snprintf(dir, sizeof dir, ".");
            a.out = dir;
        }
    }
    if (!a.model) return cli_fail("train: --model is required (mlp, lenet5 or seedcnn)");
    if (!a.data) return cli_fail("train: --data is required (mnist or fashion-mnist)");
    if (!cli_known_data(a.data)) return cli_fail("train: unknown dataset '%s'", a.data);
    if (mkdir_p(a.out) != 0) return cli_fail("--out %s: %s", a.out, strerror(errno));
    struct stat sb;
    if (stat(a.out, &sb) != 0 || !S_ISDIR(sb.st_mode)) return cli_fail("--out %s: not a folder", a.out);
    char p_model[4200], p_ckpt[4200], p_metrics[4200], p_curves[4200], p_pred[4200], p_report[4200];
    if (path_in(p_model, sizeof p_model, a.out, "model.safetensors") ||
        path_in(p_ckpt, sizeof p_ckpt, a.out, "checkpoint.safetensors") ||
        path_in(p_metrics, sizeof p_metrics, a.out, "metrics.jsonl") ||
        path_in(p_curves, sizeof p_curves, a.out, "curves.png") ||
        path_in(p_pred, sizeof p_pred, a.out, "predictions.png") ||
        path_in(p_report, sizeof p_report, a.out, "report.txt"))
        return 1;

    char dir[4096];
    if (cli_find_data(a.data, a.data_dir, dir, sizeof dir)) return 1;
    float mean, std;
    cli_norm(a.data, &mean, &std);
    nb_dataset *train = cli_load(a.data, dir, 1, a.limit_train, mean, std, N_CLASSES);
    nb_dataset *test = train ? cli_load(a.data, dir, 0, a.limit_test, mean, std, N_CLASSES) : NULL;
    if (!test) {
        nb_dataset_free(train);
        return 1;
    }
    int rc = 0;
    if (test->c != train->c || test->h != train->h || test->w != train->w)
        rc = cli_fail("%s: test images are %dx%dx%d, training images %dx%dx%d", dir, test->c, test->h, test->w,
                      train->c, train->h, train->w);
    if (!rc && a.resume && ri.train_samples > 0 && ri.train_samples != train->n)
        rc = cli_fail("--resume %s was trained on %lld images; %s gives %lld (use the run's --data-dir and "
                      "--limit-train)", a.resume, (long long)ri.train_samples, dir, (long long)train->n);
    if (!rc && a.resume && ri.threads > 0 && ri.threads != nb_get_threads() && !a.quiet)
        fprintf(stderr, "nabla: note: the checkpoint was written with %d threads, this run uses %d: the result "
                        "will not be bit-identical to an uninterrupted run\n", ri.threads, nb_get_threads());
    nb_seed(a.seed);
    nb_model *m = nb_zoo_new(a.model, train->c, train->h, train->w, N_CLASSES);
    nb_optim *opt = m ? make_optim(nb_model_params(m), a.optimizer, (float)a.lr) : NULL;
    nb_loader *l = opt ? nb_loader_new(train, a.batch, 1, a.seed, 0) : NULL;
    nb_confusion *conf = nb_confusion_new(N_CLASSES);
    history *h = calloc(1, sizeof *h);
    if (!rc && (!m || !opt || !l || !conf || !h)) rc = cli_fail("%s", nb_last_error());
    int64_t start = 0;
    if (!rc && a.resume) {
        if (nb_checkpoint_load(a.resume, m, opt)) rc = cli_fail("%s", nb_last_error());
        start = ri.epoch;
        read_history(p_metrics, start, h);
        if (!rc && h->n != start && !a.quiet)
            fprintf(stderr, "nabla: note: %s holds %d of the checkpoint's %lld epochs; the others are logged "
                            "as null\n", p_metrics, h->n, (long long)start);
        for (; h->n < start; h->n++) h->tl[h->n] = h->ta[h->n] = h->vl[h->n] = h->va[h->n] = NAN;
    }
    /* The log is written now, so an --out that cannot be written fails before any training. */
    if (!rc && write_metrics(p_metrics, h)) rc = 1;
    if (!rc && !a.quiet) {
        char *s = nb_model_summary(m, train->c, train->h, train->w);
        printf("%s on %s: %lld train / %lld test images, %d epochs, batch %lld, %s lr %g (%s), seed %llu, "
               "%d threads\n", a.model, a.data, (long long)train->n, (long long)test->n, a.epochs,
               (long long)a.batch, nb_optim_name(opt), a.lr, a.schedule, (unsigned long long)a.seed,
               nb_get_threads());
        if (s) fputs(s, stdout);
        free(s);
        if (a.resume) printf("resuming from %s after epoch %lld\n", a.resume, (long long)start);
        fflush(stdout);
    }
    nb_ckpt_info info = {.c = train->c, .h = train->h, .w = train->w, .classes = N_CLASSES, .seed = a.seed,
                         .batch = a.batch, .mean = mean, .std = std, .base_lr = (float)a.lr,
                         .clip = (float)a.clip, .warmup = a.warmup, .epochs = a.epochs,
                         .limit_train = a.limit_train, .limit_test = a.limit_test, .train_samples = train->n,
                         .threads = nb_get_threads()};
    snprintf(info.schedule, sizeof info.schedule, "%s", a.schedule);
    /* Per-epoch learning rate: cosine anneals over the epochs after the warm-up; step divides
     * by 10 at each third of them. */
    nb_schedule sched = {.kind = NB_SCHED_CONSTANT, .warmup = a.warmup};
    int64_t after = a.epochs - a.warmup > 0 ? a.epochs - a.warmup : 1;
    if (strcmp(a.schedule, "cosine") == 0) sched = (nb_schedule){.kind = NB_SCHED_COSINE, .t_max = after, .warmup = a.warmup};
    if (strcmp(a.schedule, "step") == 0)
        sched = (nb_schedule){.kind = NB_SCHED_STEP, .step_size = after / 3 > 0 ? after / 3 : 1, .gamma = 0.1f,
                              .warmup = a.warmup};
    int64_t last = a.stop_after > 0 && a.stop_after < a.epochs ? a.stop_after : a.epochs;
    snprintf(info.model, sizeof info.model, "%s", a.model);
    snprintf(info.dataset, sizeof info.dataset, "%s", a.data);
    progress pg = {.tty = isatty(fileno(stderr)), .quiet = a.quiet, .epochs = a.epochs};
    nb_epoch_stats tr, te;
    for (int64_t e = start; !rc && e < last; e++) {
        pg.epoch = (int)e + 1;
        nb_optim_set_lr(opt, nb_schedule_lr(&sched, (float)a.lr, e));
        pg.t0 = now_s();
        pg.last = 0;
        if (nb_train_epoch(m, opt, l, train, e, (float)a.clip, on_batch, &pg, &tr)) {
            if (pg.tty && !a.quiet) fputc('\n', stderr);
            rc = cli_fail("%s", nb_last_error());
            break;
        }
        nb_confusion_clear(conf);
        if (nb_evaluate(m, test, 1000, conf, NULL, &te)) {
            rc = cli_fail("%s", nb_last_error());
            break;
        }
        int i = h->n++;
        h->tl[i] = tr.loss;
        h->ta[i] = tr.accuracy;
        h->vl[i] = te.loss;
        h->va[i] = te.accuracy;
        h->secs[i] = tr.seconds;
        h->rate[i] = tr.seconds > 0 ? (double)tr.samples / tr.seconds : 0;
        if (!a.quiet) {
            if (pg.tty) fputc('\r', stderr), fprintf(stderr, "%-110s\r", "");
            printf("epoch %lld/%d  lr %.2e  train loss %.4f acc %.4f  test loss %.4f acc %.4f  %.1f s  %.0f samples/s\n",
                   (long long)e + 1, a.epochs, (double)nb_optim_lr(opt), tr.loss, tr.accuracy, te.loss,
                   te.accuracy, tr.seconds, h->rate[i]);
            fflush(stdout);
        }
        info.epoch = e + 1;
        if (write_metrics(p_metrics, h)) rc = 1;
        if (!rc && nb_checkpoint_save(p_ckpt, m, opt, &info)) rc = cli_fail("%s", nb_last_error());
        char title[128];
        snprintf(title, sizeof title, "%s on %s", display_name(a.model), display_name(a.data));
        if (!rc && nb_plot_curves(p_curves, title, h->n, h->tl, h->vl, h->ta, h->va))
            rc = cli_fail("%s", nb_last_error());
    }
    if (!rc && nb_checkpoint_save(p_model, m, NULL, &info)) rc = cli_fail("%s", nb_last_error());
    if (!rc) {
        const char *const *names = nb_class_names(a.data);
        char *rep = nb_classification_report(conf, names, 4), *cm = nb_confusion_format(conf, names);
        char *both = rep && cm ? malloc(strlen(rep) + strlen(cm) + 64) : NULL;
        if (both) sprintf(both, "%s\nconfusion matrix:\n%s", rep, cm);
        if (!both) rc = cli_fail("out of memory");
        else if (nb_write_file_atomic(p_report, both, strlen(both))) rc = cli_fail("%s", nb_last_error());
        if (!rc && !a.quiet) printf("\n%s", both);
        free(rep);
        free(cm);
        free(both);
        /* The first test images with their predictions. */
        int n = test->n < GRID_N ? (int)test->n : GRID_N;
        float *probs = malloc((size_t)n * N_CLASSES * sizeof(float));
        int64_t pred[GRID_N];
        nb_dataset *first = nb_dataset_slice(test, 0, n);
        if (!rc && (!probs || !first)) rc = cli_fail("%s", "out of memory");
        if (!rc && nb_evaluate(m, first, n, NULL, probs, &te)) rc = cli_fail("%s", nb_last_error());
        if (!rc) {
            nb_argmax_rows(probs, n, N_CLASSES, pred);
            if (nb_plot_image_grid(p_pred, first->x_u8, n, first->h, first->w, 10, pred, first->y, names))
                rc = cli_fail("%s", nb_last_error());
        }
        nb_dataset_free(first);
        free(probs);
    }
    if (!rc && !a.quiet)
        printf("\nwrote %s, %s, %s, %s, %s, %s\n", p_model, p_ckpt, p_metrics, p_curves, p_pred, p_report);
    free(h);
    nb_confusion_free(conf);
    nb_loader_free(l);
    nb_optim_free(opt);
    nb_model_free(m);
    nb_dataset_free(train);
    nb_dataset_free(test);
    return rc;
}
