/* nabla train: trains a zoo model on a dataset (from scratch, from a checkpoint to resume, or
 * from weights to fine-tune), evaluating after every epoch, and writes the checkpoints, the
 * metrics log, the report and the pictures into --out. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dist.h"
#include "history.h"
#include "outdir.h"
#include "run.h"

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

nb_optim *run_make_optim(nb_params *p, const char *name, float lr) {
    if (strcmp(name, "sgd") == 0) return nb_sgd_new(p, (nb_sgd_opts){lr, 0.9f, 0.0f, false});
    if (strcmp(name, "rmsprop") == 0) return nb_rmsprop_new(p, nb_rmsprop_defaults(lr));
    nb_adam_opts o = nb_adam_defaults(lr);
    if (strcmp(name, "adamw") == 0) {
        o.decoupled = true;
        o.weight_decay = 0.01f;
    }
    return nb_adam_new(p, o);
}

int run_path(char *buf, size_t cap, const char *dir, const char *name) {
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap) return cli_fail("--out %s: path too long", dir);
    return 0;
}

/* The names the pictures use for the zoo's models and the datasets. */
static const char *display_name(const char *name) {
    static const char *const map[][2] = {{"mlp", "MLP 784-512-256-10"}, {"lenet5", "LeNet-5"},
                                         {"seedcnn", "seed CNN"},          {"mnist", "MNIST"},
                                         {"fashion-mnist", "Fashion-MNIST"}, {"lstm-rows", "LSTM by rows"},
                                         {"spam", "spam LSTM"},           {"langid", "language GRU"},
                                         {"charlm", "char LSTM"},         {"moby-dick", "Moby-Dick"},
                                         {"charlm-transformer", "char Transformer"},
                                         {"ner", "NER Transformer"},       {"mlm", "masked-LM Transformer"},
                                         {"sotu", "State of the Union"},
                                         {"sotu,moby-dick", "State of the Union + Moby-Dick"}};
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

/* --resume: the run's plan comes from the checkpoint unless given again. */
static int take_resumed_plan(run *r) {
    cli_args *a = &r->a;
    cli_plan *ri = &r->resumed;
    if (cli_read_resume_plan(a->resume, ri)) return 1;
    if (a->model && strcmp(a->model, ri->model) != 0)
        return cli_fail("--resume %s holds a %s model, not --model %s", a->resume, ri->model, a->model);
    if (a->data && strcmp(a->data, ri->dataset) != 0)
        return cli_fail("--resume %s was trained on %s, not --data %s", a->resume, ri->dataset, a->data);
    if (a->init) return cli_fail("--resume continues a run; --init starts a new one: give one of them");
    a->model = ri->model;
    a->data = ri->dataset;
    if (!cli_given(a, "--batch") && ri->batch > 0) a->batch = ri->batch;
    if (!cli_given(a, "--seed")) a->seed = (long long)ri->seed;
    if (!cli_given(a, "--optimizer") && ri->optimizer[0]) a->optimizer = ri->optimizer;
    if (!cli_given(a, "--lr") && ri->base_lr > 0) a->lr = ri->base_lr;
    if (!cli_given(a, "--schedule") && ri->schedule[0]) a->schedule = ri->schedule;
    if (!cli_given(a, "--warmup")) a->warmup = ri->warmup;
    if (!cli_given(a, "--clip")) a->clip = ri->clip;
    if (!cli_given(a, "--epochs") && ri->epochs > 0) a->epochs = ri->epochs;
    if (!cli_given(a, "--limit-train")) a->limit_train = ri->limit_train;
    if (!cli_given(a, "--limit-test")) a->limit_test = ri->limit_test;
    if (!cli_given(a, "--freeze") && ri->freeze[0]) a->freeze = ri->freeze;
    if (!cli_given(a, "--latent") && ri->latent > 0) a->latent = ri->latent;
    if (!cli_given(a, "--denoise")) a->denoise = ri->noise;
    if (!cli_given(a, "--word-dropout")) a->word_dropout = ri->word_dropout;
    if ((cli_given(a, "--lora") && a->lora != ri->lora) ||
        (cli_given(a, "--lora-alpha") && (float)a->lora_alpha != ri->lora_alpha))
        return cli_fail("--resume %s was trained with LoRA rank %d alpha %g; they cannot change in a resumed run",
                        a->resume, ri->lora, (double)ri->lora_alpha);
    a->lora = ri->lora;
    a->lora_alpha = ri->lora_alpha;
    if ((cli_given(a, "--latent") && a->latent != ri->latent) || (cli_given(a, "--denoise") && (float)a->denoise != ri->noise))
        return cli_fail("--resume %s was trained with --latent %d --denoise %g; they cannot change in a resumed run",
                        a->resume, ri->latent, (double)ri->noise);
    if (cli_given(a, "--optimizer") && ri->optimizer[0] && strcmp(a->optimizer, ri->optimizer) != 0)
        return cli_fail("--resume %s holds %s optimizer state; --optimizer %s cannot continue it", a->resume,
                        ri->optimizer, a->optimizer);
    /* Without --out, the run continues in the checkpoint's folder. */
    if (!cli_given(a, "--out")) {
        snprintf(r->out_dir, sizeof r->out_dir, "%s", a->resume);
        char *slash = strrchr(r->out_dir, '/');
        if (slash) *slash = '\0';
        else snprintf(r->out_dir, sizeof r->out_dir, ".");
        a->out = r->out_dir;
    }
    /* A run killed after its last checkpoint but before its final outputs: resume writes them. */
    if (ri->epoch == a->epochs && !outdir_outputs_done(a->out, a->resume, ri->model)) return 0;
    if (ri->epoch >= a->epochs)
        return cli_fail("--resume %s has already trained %lld epochs; ask for more with --epochs", a->resume,
                        (long long)ri->epoch);
    if (a->stop_after > 0 && a->stop_after <= ri->epoch)
        return cli_fail("--stop-after %lld: --resume %s has already trained %lld epochs", a->stop_after, a->resume,
                        (long long)ri->epoch);
    return 0;
}

static int open_out(run *r) {
    const char *out = r->a.out;
    if (!cli_dist_writer()) goto paths; /* a data-parallel run's other processes write nothing */
    if (mkdir_p(out) != 0) return cli_fail("--out %s: %s", out, strerror(errno));
    struct stat sb;
    if (stat(out, &sb) != 0 || !S_ISDIR(sb.st_mode)) return cli_fail("--out %s: not a folder", out);
    if (outdir_prepare(out, r->a.resume != NULL, r->a.overwrite, r->a.quiet)) return 1;
paths:
    return run_path(r->p_model, sizeof r->p_model, out, "model.safetensors") ||
           run_path(r->p_ckpt, sizeof r->p_ckpt, out, "checkpoint.safetensors") ||
           run_path(r->p_metrics, sizeof r->p_metrics, out, "metrics.jsonl") ||
           run_path(r->p_curves, sizeof r->p_curves, out, "curves.png") ||
           run_path(r->p_pred, sizeof r->p_pred, out, "predictions.png") ||
           run_path(r->p_report, sizeof r->p_report, out, "report.txt");
}

/* The plan's fields every run has. */
static int plan_common(run *r, float mean, float std, int64_t train_samples) {
    const cli_args *a = &r->a;
    if (a->resume && r->resumed.threads > 0 && r->resumed.threads != nb_get_threads() && !a->quiet)
        fprintf(stderr, "nabla: note: the checkpoint was written with %d threads, this run uses %d: the result "
                        "will not be bit-identical to an uninterrupted run\n", r->resumed.threads, nb_get_threads());
    cli_plan *p = &r->plan;
    p->seed = (uint64_t)a->seed, p->batch = a->batch, p->mean = mean, p->std = std, p->base_lr = (float)a->lr;
    p->clip = (float)a->clip, p->warmup = a->warmup, p->epochs = a->epochs, p->limit_train = a->limit_train;
    p->limit_test = a->limit_test, p->train_samples = train_samples, p->threads = nb_get_threads();
    snprintf(p->model, sizeof p->model, "%s", a->model);
    snprintf(p->dataset, sizeof p->dataset, "%s", a->data);
    snprintf(p->schedule, sizeof p->schedule, "%s", a->schedule);
    snprintf(p->optimizer, sizeof p->optimizer, "%s", a->optimizer);
    if (a->freeze && strlen(a->freeze) >= sizeof p->freeze)
        return cli_fail("--freeze: at most %zu characters", sizeof p->freeze - 1);
    if (a->freeze) snprintf(p->freeze, sizeof p->freeze, "%s", a->freeze);
    return 0;
}

static int load_text(run *r) {
    const cli_args *a = &r->a;
    if (cli_text_open(&r->txt, a->data, a->model, a->data_dir, a->limit_train, a->limit_test)) return 1;
    if (a->resume && r->resumed.train_samples > 0 && r->resumed.train_samples != r->txt.n_train)
        return cli_fail("--resume %s was trained on %lld %s; %s gives %lld (use the run's --data-dir and "
                        "--limit-train)", a->resume, (long long)r->resumed.train_samples, r->lm ? "characters" : "sequences",
                        a->data, (long long)r->txt.n_train);
    if (a->resume) { /* the ids must mean what they meant: the data must give the checkpoint's vocabulary */
        nb_meta *meta = nb_checkpoint_meta(a->resume);
        const char *v = meta ? nb_meta_get(meta, "vocab") : NULL;
        bool same = v && strcmp(v, r->txt.vocab_str) == 0;
        nb_meta_free(meta);
        if (!same)
            return cli_fail("--resume %s: the checkpoint's vocabulary is not the one --data %s gives here (other "
                            "data, or another --data-dir?)", a->resume, a->data);
    }
    cli_plan *p = &r->plan;
    *p = (cli_plan){.c = 1, .h = 1, .w = 1, .max_tokens = cli_text_max_tokens(&r->txt)};
    p->classes = r->lm || r->mlm ? (int)nb_vocab_size(r->txt.vocab)
                 : r->ner        ? r->txt.split->train->n_tags
                                 : r->txt.split->train->n_classes;
    p->lora = (int)a->lora;
    p->lora_alpha = (float)a->lora_alpha;
    p->word_dropout = (float)a->word_dropout;
    snprintf(p->class_names, sizeof p->class_names, "%s", r->txt.class_names);
    return plan_common(r, 0.0f, 1.0f, r->txt.n_train);
}

static int load_data(run *r) {
    const cli_args *a = &r->a;
    if (r->text) return load_text(r);
    char dir[4096];
    if (cli_find_data(a->data, a->data_dir, dir, sizeof dir)) return 1;
    float mean, std;
    cli_norm(a->data, &mean, &std);
    if (r->gen) /* pixels as they are, in [0, 1] (autoencoders), or in [-1, 1] (GANs: a tanh output) */
        mean = r->gen == NB_ZOO_GAN ? 0.5f : 0.0f, std = r->gen == NB_ZOO_GAN ? 0.5f : 1.0f;
    r->train = cli_load(a->data, dir, 1, a->limit_train, mean, std, CLI_N_CLASSES);
    r->test = r->train ? cli_load(a->data, dir, 0, a->limit_test, mean, std, CLI_N_CLASSES) : NULL;
    if (!r->test) return 1;
    const nb_dataset *tr = r->train, *te = r->test;
    if (te->c != tr->c || te->h != tr->h || te->w != tr->w)
        return cli_fail("%s: test images are %dx%dx%d, training images %dx%dx%d", dir, te->c, te->h, te->w, tr->c,
                        tr->h, tr->w);
    if (a->resume && r->resumed.train_samples > 0 && r->resumed.train_samples != tr->n)
        return cli_fail("--resume %s was trained on %lld images; %s gives %lld (use the run's --data-dir and "
                        "--limit-train)", a->resume, (long long)r->resumed.train_samples, dir, (long long)tr->n);
    r->plan = (cli_plan){.c = tr->c, .h = tr->h, .w = tr->w, .classes = CLI_N_CLASSES};
    if (!strcmp(a->model, "vae")) r->plan.latent = (int)a->latent;
    if (r->gen == NB_ZOO_AUTOENCODER) r->plan.noise = (float)a->denoise;
    if (r->gen == NB_ZOO_GAN) r->plan.z_dim = 64;
    return plan_common(r, mean, std, tr->n);
}

/* --init: the weights of a nabla checkpoint or a PyTorch state_dict, strictly by name except
 * the layers named by --reset and a head whose shape differs (another number of classes),
 * which keep their fresh initialization. */
static int load_init(run *r) {
    const cli_args *a = &r->a;
    nb_meta *meta = nb_checkpoint_meta(a->init);
    if (!meta) return cli_fail("%s", nb_last_error());
    int rc = 0;
    if (cli_is_nabla_checkpoint(meta)) {
        cli_plan ip;
        rc = cli_plan_from_meta(meta, a->init, &ip);
        bool pretrained = r->ner && nlp_mlm(ip.model); /* a masked LM's encoder under a tagger's head */
        if (!rc && strcmp(ip.model, a->model) != 0 && !pretrained)
            rc = cli_fail("--init %s holds a %s model, not --model %s%s", a->init, ip.model, a->model,
                          r->ner ? " (or a masked LM, --model mlm)" : "");
        if (!rc && r->text) rc = nlp_check_init_vocab(r, meta);
    }
    nb_meta_free(meta);
    if (rc) return rc;
    if (a->reset && nb_model_reinit(r->m, a->reset, NB_INIT_DEFAULT)) return cli_fail("--reset: %s", nb_last_error());
    nb_load_opts o = {.strict = false, .skip = a->reset};
    char *report = NULL;
    if (nb_checkpoint_load(a->init, r->m, NULL, &o, &report)) return cli_fail("%s", nb_last_error());
    const char *head = nb_zoo_head(a->model);
    for (char *line = report; line && *line && !rc;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        char name[256] = "";
        if (sscanf(line, "shape %255[^:]", name) == 1 && head && nb_name_matches(name, head)) {
            if (!a->quiet) printf("--init: %s re-initialized (%s)\n", name, line + 6 + strlen(name) + 2);
        } else if (strncmp(line, "skipped ", 8) != 0) {
            rc = cli_fail("--init %s: %s", a->init, line);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(report);
    return rc;
}

int run_image_sources(run *r) {
    r->l = nb_loader_new(r->train, r->a.batch, 1, (uint64_t)r->a.seed, 0);
    r->lt = r->l ? nb_loader_new(r->test, r->test->n < 1000 ? (r->test->n ? r->test->n : 1) : 1000, 0, 0, 0) : NULL;
    if (!r->lt) return cli_fail("%s", *nb_last_error() ? nb_last_error() : "out of memory");
    r->src = nb_loader_source(r->l);
    r->test_src = nb_loader_source(r->lt);
    return 0;
}

/* The classifiers' model, optimizer, sources and task. */
static int build_classifier(run *r, int *frozen) {
    const cli_args *a = &r->a;
    r->m = r->text ? nb_zoo_text_new(a->model, (int)nb_vocab_size(r->txt.vocab), r->plan.classes)
                   : nb_zoo_new(a->model, r->train->c, r->train->h, r->train->w, CLI_N_CLASSES);
    if (!r->m) return cli_fail("%s", nb_last_error());
    if (a->init && load_init(r)) return 1;
    if (!a->init && (a->reset || cli_given(a, "--head-lr")))
        return cli_fail("--reset and --head-lr fine-tune the weights of --init FILE; give --init");
    if (nlp_lora(r)) return 1;
    if (a->freeze && nb_model_freeze(r->m, a->freeze, true, frozen)) return cli_fail("--freeze: %s", nb_last_error());
    if (a->freeze && *frozen >= nb_params_count(nb_model_params(r->m)))
        return cli_fail("--freeze %s: every parameter would be frozen, leaving nothing to train", a->freeze);
    r->opt = run_make_optim(nb_model_params(r->m), a->optimizer, (float)a->lr);
    if (!r->opt) return cli_fail("%s", nb_last_error());
    if (cli_given(a, "--head-lr") && nb_optim_set_lr_scale(r->opt, nb_zoo_head(a->model), (float)(a->head_lr / a->lr)))
        return cli_fail("--head-lr: %s", nb_last_error());
    if (r->text) {
        if (cli_text_sources(&r->txt, a->batch, (uint64_t)a->seed, &r->src, &r->test_src)) return 1;
        r->task = r->ner || r->mlm ? nlp_task(a->model, r->txt.vocab) : nb_task_new(r->lm ? NB_TASK_LM : NB_TASK_SEQ_CLASSIFY);
        if (r->ner && !(r->ents = nlp_report_attach(&r->task, r->txt.split->train, r->txt.split->test)))
            return cli_fail("%s", nb_last_error());
        if (r->ner && nlp_word_dropout(r)) return 1;
    } else {
        if (run_image_sources(r)) return 1;
        r->task = nb_task_new(NB_TASK_CLASSIFY);
    }
    r->conf = r->lm || r->mlm ? NULL : nb_confusion_new(r->plan.classes);
    if (!r->lm && !r->mlm && !r->conf) return cli_fail("%s", *nb_last_error() ? nb_last_error() : "out of memory");
    return 0;
}

static int build(run *r) {
    const cli_args *a = &r->a;
    nb_seed((uint64_t)a->seed);
    int frozen = 0;
    if (r->gen ? gen_build(r) : build_classifier(r, &frozen)) return 1;
    r->h = calloc(1, sizeof *r->h);
    if (!r->h) return cli_fail("out of memory");
    if (a->resume) {
        if (r->gen ? gen_load(r, a->resume, true) : nb_checkpoint_load(a->resume, r->m, r->opt, NULL, NULL) ? cli_fail("%s", nb_last_error()) : 0)
            return 1;
        r->start = r->resumed.epoch;
        history_read(r->p_metrics, r->start, r->h);
        if (r->h->n != r->start && !a->quiet)
            fprintf(stderr, "nabla: note: %s holds %d of the checkpoint's %lld epochs; the others are logged as null\n",
                    r->p_metrics, r->h->n, (long long)r->start);
        history_pad(r->h, r->start);
    }
    /* The log is written now, so an --out that cannot be written fails before any training. */
    if (cli_dist_writer() && history_write(r->p_metrics, r->h)) return 1;
    if (!a->quiet) {
        int64_t steps = r->plan.max_tokens < 100 ? r->plan.max_tokens : 100;
        char *s = r->text                  ? nb_model_summary(r->m, 1, (int64_t[]){steps})
                  : r->gen == NB_ZOO_GAN ? nb_model_summary(r->m, 1, (int64_t[]){r->plan.z_dim})
                                         : nb_model_summary(r->m, 3, (int64_t[]){r->train->c, r->train->h, r->train->w});
        char *sd = r->d ? nb_model_summary(r->d, 3, (int64_t[]){r->train->c, r->train->h, r->train->w}) : NULL;
        const char *unit = r->lm ? "characters" : r->text ? "sequences" : "images";
        printf("%s on %s: %lld train / %lld test %s, %lld epochs, batch %lld, %s lr %g (%s), seed %lld, "
               "%d threads\n", a->model, a->data, (long long)(r->text ? r->txt.n_train : r->train->n),
               (long long)(r->text ? r->txt.n_test : r->test->n), unit, a->epochs, a->batch, nb_optim_name(r->opt),
               a->lr, a->schedule, a->seed, nb_get_threads());
        if (s && sd) printf("generator:\n");
        if (s) fputs(s, stdout);
        if (s && sd) printf("discriminator:\n%s", sd);
        free(s);
        free(sd);
        if (a->init) printf("initialized from %s\n", a->init);
        if (frozen) printf("frozen: %s (%d tensors)\n", a->freeze, frozen);
        if (a->resume) printf("resuming from %s after epoch %lld\n", a->resume, (long long)r->start);
        fflush(stdout);
    }
    return 0;
}

/* Per-epoch learning rate: cosine anneals over the epochs after the warm-up; step divides by
 * 10 at each third of them. */
static nb_schedule schedule_of(const cli_args *a) {
    int64_t after = a->epochs - a->warmup > 0 ? a->epochs - a->warmup : 1;
    if (strcmp(a->schedule, "cosine") == 0)
        return (nb_schedule){.kind = NB_SCHED_COSINE, .t_max = after, .warmup = a->warmup};
    if (strcmp(a->schedule, "step") == 0)
        return (nb_schedule){.kind = NB_SCHED_STEP, .step_size = after / 3 > 0 ? after / 3 : 1, .gamma = 0.1f,
                             .warmup = a->warmup};
    return (nb_schedule){.kind = NB_SCHED_CONSTANT, .warmup = a->warmup};
}

static int save(run *r, const char *path, nb_optim *opt) {
    if (!cli_dist_writer()) return 0;
    nb_meta *meta = nb_meta_new();
    int rc = 0;
    if (!meta || cli_plan_to_meta(&r->plan, meta) || (r->text && nb_meta_set(meta, "vocab", r->txt.vocab_str)))
        rc = cli_fail("%s", nb_last_error());
    else if (r->gen)
        rc = gen_save(r, path, opt != NULL, meta);
    else if (nb_checkpoint_save(path, r->m, opt, meta))
        rc = cli_fail("%s", nb_last_error());
    nb_meta_free(meta);
    return rc;
}

/* Stopped by SIGINT/SIGTERM during or after epoch done + 1: the checkpoint of epoch done is
 * this run's, or the one it resumed from. */
static int interrupted(run *r, int64_t done, bool during) {
    const char *ckpt = done > r->start ? r->p_ckpt : r->a.resume;
    return cli_interrupted((long long)done, during, done > 0 ? ckpt : NULL);
}

static int run_epochs(run *r) {
    const cli_args *a = &r->a;
    nb_schedule sched = schedule_of(a);
    int64_t last = a->stop_after > 0 && a->stop_after < a->epochs ? a->stop_after : a->epochs;
    progress pg = {.tty = isatty(fileno(stderr)), .quiet = a->quiet, .epochs = (int)a->epochs};
    nb_task task = r->task;
    nb_batch_source src = r->src, test = r->test_src;
    nb_train_opts to = {.clip = (float)a->clip, .progress = on_batch, .progress_ctx = &pg, .stop = cli_stop_requested,
                        .max_loss = a->max_loss};
    cli_dist_train_opts(r, &to);
    char title[128];
    snprintf(title, sizeof title, "%s on %s", display_name(a->model), display_name(a->data));
    for (int64_t e = r->start; e < last; e++) {
        nb_epoch_stats tr, te;
        if (cli_signal_caught()) return interrupted(r, e, false);
        pg.epoch = (int)e + 1;
        nb_optim_set_lr(r->opt, nb_schedule_lr(&sched, (float)a->lr, e));
        if (r->opt_d) nb_optim_set_lr(r->opt_d, nb_schedule_lr(&sched, (float)a->lr, e));
        pg.t0 = now_s();
        pg.last = 0;
        bool custom = task.kind == NB_TASK_CUSTOM;
        nb_status ts = nb_train_epoch(custom ? NULL : r->m, custom ? NULL : r->opt, &task, &src, e, &to, &tr);
        if (ts) {
            if (pg.tty && !a->quiet) fputc('\n', stderr);
            if (cli_signal_caught()) return interrupted(r, e, true);
            if (ts == NB_ERR_MEM) return cli_fail("%s (a smaller --batch needs less memory)", nb_last_error());
            return cli_fail("%s (a lower --lr or --clip may help; %s keeps the last good epoch)", nb_last_error(),
                            r->p_ckpt);
        }
        if (cli_dist_epoch(r, &tr)) return cli_fail("%s", nb_last_error());
        if (r->conf) nb_confusion_clear(r->conf);
        if (r->ner) nb_entity_report_clear(r->ents->rep);
        te = (nb_epoch_stats){.loss = NAN, .accuracy = NAN, .bits = NAN};
        if ((r->gen != NB_ZOO_GAN && nb_evaluate(r->m, &task, &test, r->conf, NULL, &te)) || cli_dist_eval(r, &te))
            return cli_fail("%s", nb_last_error());
        if (!isfinite(te.loss) && te.samples > 0) /* before this epoch's checkpoint replaces the last good one */
            return cli_fail("training diverged: the test loss is %g after epoch %lld; %s keeps the last good epoch "
                            "(a lower --lr or --clip may help)", te.loss, (long long)e + 1, r->p_ckpt);
        double rate = tr.seconds > 0 ? (double)tr.samples / tr.seconds : 0;
        history_add(r->h, tr.loss, tr.accuracy, te.loss, te.accuracy, tr.seconds, rate);
        if (r->lm) history_set_bits(r->h, tr.bits, te.bits);
        double f1 = r->ner ? nb_entity_report_micro_f1(r->ents->rep) : NAN;
        double f1_unseen = r->ner ? nb_entity_report_unseen_f1(r->ents->rep, NULL) : NAN;
        if (r->ner) history_set(r->h, "test_f1", f1);
        if (r->ner && isfinite(f1_unseen)) history_set(r->h, "test_unseen_f1", f1_unseen);
        if (r->gen && gen_epoch(r, e, &tr, &te)) return 1;
        if (!a->quiet && r->gen) {
            if (pg.tty) fputc('\r', stderr), fprintf(stderr, "%-110s\r", "");
            char line[512];
            int k = snprintf(line, sizeof line, "epoch %lld/%lld  lr %.2e  train loss %.4f", (long long)e + 1, a->epochs,
                             (double)nb_optim_lr(r->opt), tr.loss);
            for (int i = 0; i < tr.n_metrics && k < (int)sizeof line; i++)
                k += snprintf(line + k, sizeof line - (size_t)k, " %s %.4f", tr.metric_name[i], tr.metric[i]);
            if (r->gen != NB_ZOO_GAN && k < (int)sizeof line)
                k += snprintf(line + k, sizeof line - (size_t)k, "  test loss %.4f", te.loss);
            for (int i = 0; i < te.n_metrics && k < (int)sizeof line; i++)
                k += snprintf(line + k, sizeof line - (size_t)k, " %s %.4f", te.metric_name[i], te.metric[i]);
            printf("%s  %.1f s  %.0f samples/s\n", line, tr.seconds, rate);
            fflush(stdout);
        } else if (!a->quiet) {
            char bits[64] = "";
            if (r->lm) snprintf(bits, sizeof bits, "  bpc %.3f / %.3f", tr.bits, te.bits);
            if (r->ner && isfinite(f1_unseen)) snprintf(bits, sizeof bits, "  entity F1 %.4f (unseen %.4f)", f1, f1_unseen);
            else if (r->ner) snprintf(bits, sizeof bits, "  entity F1 %.4f", f1);
            if (pg.tty) fputc('\r', stderr), fprintf(stderr, "%-110s\r", "");
            printf("epoch %lld/%lld  lr %.2e  train loss %.4f acc %.4f  test loss %.4f acc %.4f%s  %.1f s  %.0f "
                   "%s/s\n", (long long)e + 1, a->epochs, (double)nb_optim_lr(r->opt), tr.loss, tr.accuracy,
                   te.loss, te.accuracy, bits, tr.seconds, rate, r->lm ? "windows" : r->ner || r->mlm ? "sentences" : "samples");
            fflush(stdout);
        }
        r->plan.epoch = e + 1;
        if ((cli_dist_writer() && history_write(r->p_metrics, r->h)) || save(r, r->p_ckpt, r->opt)) return 1;
        if (!cli_dist_writer()) continue;
        const history *h = r->h;
        if (r->gen) gen_curves(r, title);
        else if (nb_plot_curves(r->p_curves, title, h->n, h->tl, h->vl, h->ta, h->va)) outdir_warn_picture();
    }
    if (cli_signal_caught()) return interrupted(r, last, false);
    if (r->start >= last) { /* --resume of a run killed before its final outputs: the last evaluation again */
        nb_epoch_stats te;
        if (!a->quiet) printf("all %lld epochs trained: writing the run's final outputs\n", (long long)r->start);
        r->plan.epoch = r->start;
        if (r->ner) nb_entity_report_clear(r->ents->rep);
        if ((r->gen != NB_ZOO_GAN && nb_evaluate(r->m, &task, &test, r->conf, NULL, &te)) || cli_dist_eval(r, &te))
            return cli_fail("%s", nb_last_error());
        if (!cli_dist_writer()) return 0;
        const history *h = r->h;
        if (r->gen) gen_curves(r, title);
        else if (nb_plot_curves(r->p_curves, title, h->n, h->tl, h->vl, h->ta, h->va)) outdir_warn_picture();
    }
    return 0;
}

/* The report of a classifier's last evaluation (class names, confusion matrix) into report.txt. */
static int write_report(run *r, const char *const *names) {
    char *rep = nb_classification_report(r->conf, names, 4), *cm = nb_confusion_format(r->conf, names);
    char *both = rep && cm ? malloc(strlen(rep) + strlen(cm) + 64) : NULL;
    int rc = 0;
    if (both) sprintf(both, "%s\nconfusion matrix:\n%s", rep, cm);
    if (!both) rc = cli_fail("out of memory");
    else if (nb_write_file_atomic(r->p_report, both, strlen(both))) rc = cli_fail("%s", nb_last_error());
    if (!rc && !r->a.quiet) printf("\n%s", both);
    free(rep);
    free(cm);
    free(both);
    return rc;
}

/* A language model's report: its last test figures and a sample of its text. */
static int write_lm_report(run *r) {
    const history *h = r->h;
    int i = h->n - 1;
    char *text = cli_generate(r->m, r->txt.vocab, "The ", 400, 0.8, 0, cli_lm_window(r->a.model));
    if (!text) return cli_fail("%s", nb_last_error());
    size_t cap = strlen(text) + 512;
    char *rep = malloc(cap);
    int rc = 0;
    if (!rep) rc = cli_fail("out of memory");
    else {
        snprintf(rep, cap, "%s on %s after %d epochs: test loss %.4f, %.4f bits per character, next-character "
                 "accuracy %.4f\n\nsample (prime \"The \", temperature 0.8, seed 0):\n%s\n", r->a.model, r->a.data,
                 h->n, i >= 0 ? h->vl[i] : NAN, i >= 0 ? h->vb[i] : NAN, i >= 0 ? h->va[i] : NAN, text);
        if (nb_write_file_atomic(r->p_report, rep, strlen(rep))) rc = cli_fail("%s", nb_last_error());
        if (!rc && !r->a.quiet) printf("\n%s", rep);
    }
    free(rep);
    free(text);
    return rc;
}

/* The first test images with their predictions. */
static int write_predictions(run *r, const char *const *names) {
    int n = r->test->n < GRID_N ? (int)r->test->n : GRID_N, rc = 0;
    float *probs = malloc((size_t)n * CLI_N_CLASSES * sizeof(float));
    int64_t pred[GRID_N];
    nb_dataset *first = nb_dataset_slice(r->test, 0, n);
    nb_epoch_stats te;
    if (!probs || !first) rc = cli_fail("%s", "out of memory");
    if (!rc && cli_evaluate(r->m, first, n, NULL, probs, &te)) rc = cli_fail("%s", nb_last_error());
    if (!rc) {
        nb_argmax_rows(probs, n, CLI_N_CLASSES, pred);
        if (nb_plot_image_grid(r->p_pred, first->x_u8, n, first->h, first->w, 10, pred, first->y, names))
            outdir_warn_picture();
    }
    nb_dataset_free(first);
    free(probs);
    return rc;
}

/* The model, the report of the last evaluation and, for images, the first test images with
 * their predictions. */
static int final_outputs(run *r) {
    const cli_args *a = &r->a;
    if (!cli_dist_writer()) return 0;
    if (r->plan.lora > 0 ? nlp_save_merged(r, r->p_model) : save(r, r->p_model, NULL)) return 1;
    int rc;
    if (r->gen) return gen_final(r);
    if (r->lm) rc = write_lm_report(r);
    else if (r->ner) rc = nlp_write_report(r, r->ents);
    else if (r->mlm) rc = nlp_write_mlm_report(r);
    else if (r->text) rc = write_report(r, (const char *const *)r->txt.split->train->class_names);
    else rc = write_report(r, nb_class_names(a->data)) || write_predictions(r, nb_class_names(a->data));
    if (!rc && !a->quiet) {
        if (r->text) printf("\nwrote %s, %s, %s, %s, %s\n", r->p_model, r->p_ckpt, r->p_metrics, r->p_curves, r->p_report);
        else printf("\nwrote %s, %s, %s, %s, %s, %s\n", r->p_model, r->p_ckpt, r->p_metrics, r->p_curves, r->p_pred,
                    r->p_report);
    }
    return rc;
}

/* Which models read which data: the image models the image sets; spam and langid the two
 * sequence sets; charlm the character stream. */
static int check_pairing(run *r) {
    const cli_args *a = &r->a;
    bool text_model = nb_zoo_input_kind(a->model) == NB_ZOO_TOKENS,
         lm_model = !strcmp(a->model, "charlm") || !strcmp(a->model, "charlm-transformer");
    r->ner = nlp_tagger(a->model);
    r->mlm = nlp_mlm(a->model);
    r->text = cli_text_data(a->data);
    r->lm = cli_text_stream(a->data);
    r->gen = gen_model(a->model) ? nb_zoo_input_kind(a->model) : NB_ZOO_UNKNOWN;
    if (r->gen && r->text)
        return cli_fail("--model %s learns images; --data %s is text (give --data mnist or fashion-mnist)", a->model,
                        a->data);
    bool ae = r->gen == NB_ZOO_AUTOENCODER && strcmp(a->model, "vae") != 0;
    if ((cli_given(a, "--denoise") && !ae) || (cli_given(a, "--latent") && strcmp(a->model, "vae") != 0))
        return cli_fail("--denoise and --latent are options of the autoencoders and the vae (--denoise: autoencoder, "
                        "conv-autoencoder; --latent: vae), not of --model %s", a->model);
    if (r->gen && (a->init || a->freeze || a->reset || cli_given(a, "--head-lr")))
        return cli_fail("--init, --freeze, --reset and --head-lr fine-tune classifiers; --model %s trains from scratch",
                        a->model);
    if (text_model && !r->text)
        return cli_fail("--model %s reads text; --data %s holds images (try --data %s)", a->model, a->data,
                        lm_model ? "moby-dick" : a->model);
    if (!text_model && r->text)
        return cli_fail("--model %s reads images; --data %s is text (try --model %s)", a->model, a->data,
                        cli_text_model_for(a->data));
    if (lm_model != r->lm || (r->ner || r->mlm) != cli_text_sotu(a->data))
        return cli_fail("--model %s and --data %s do not go together: charlm learns the character stream of moby-dick, "
                        "spam and langid classify the sequences of spam and langid, ner and mlm read sotu", a->model,
                        a->data);
    if (r->ner && strcmp(a->data, "sotu") != 0)
        return cli_fail("--model ner reads --data sotu (Moby-Dick has no tags; sotu,moby-dick is for --model mlm)");
    if ((a->lora > 0 || cli_given(a, "--lora-alpha")) && (!r->ner || (!a->init && !a->resume) || a->lora <= 0))
        return cli_fail("--lora R [--lora-alpha X] fine-tunes a pre-trained encoder: --model ner --init MLM-CHECKPOINT "
                        "--lora R");
    if (a->lora > 0 && !cli_given(a, "--lora-alpha") && !a->resume) r->a.lora_alpha = (double)a->lora; /* scaling 1 */
    if (cli_given(a, "--word-dropout") && !r->ner)
        return cli_fail("--word-dropout P replaces training words by their unknowns in the tagger: --model ner, not "
                        "--model %s", a->model);
    if (!(a->word_dropout >= 0 && a->word_dropout < 1))
        return cli_fail("--word-dropout: %g is not a probability in [0, 1)", a->word_dropout);
    /* the language model's protocol: batches of 32 windows, Adam lr 2e-3, gradients clipped at
     * norm 5 (flags given, or a resumed plan, win) */
    if (r->gen == NB_ZOO_GAN && !a->resume && !cli_given(a, "--lr")) r->a.lr = 2e-4; /* with betas (0.5, 0.999) */
    /* the Transformers' protocol: batches of 32 sentences, Adam lr 5e-4, gradients clipped at 1 */
    if ((r->ner || r->mlm) && !a->resume) {
        if (!cli_given(a, "--batch")) r->a.batch = 32;
        if (!cli_given(a, "--clip")) r->a.clip = 1;
        if (!cli_given(a, "--lr")) r->a.lr = 5e-4;
    }
    if (r->lm && !a->resume) {
        if (!cli_given(a, "--batch")) r->a.batch = 32;
        if (!cli_given(a, "--clip")) r->a.clip = 5;
        if (!cli_given(a, "--lr")) r->a.lr = 2e-3;
    }
    return 0;
}

int cli_train(const cli_args *a0) {
    run *r = calloc(1, sizeof *r);
    if (!r) return cli_fail("out of memory");
    r->a = *a0;
    int rc = 0;
    if (r->a.arch && (!r->a.model || strcmp(r->a.model, "charlm") != 0))
        rc = cli_fail("--arch chooses the network of --model charlm (lstm or transformer)");
    if (!rc && r->a.arch && !strcmp(r->a.arch, "transformer")) r->a.model = "charlm-transformer";
    if (!rc && r->a.resume) rc = take_resumed_plan(r);
    if (!rc && !r->a.model)
        rc = cli_fail("train: --model is required (mlp, lenet5, seedcnn, lstm-rows, spam, langid, charlm, autoencoder, "
                      "conv-autoencoder, vae, gan or dcgan)");
    if (!rc && !r->a.data) rc = cli_fail("train: --data is required (mnist, fashion-mnist, spam, langid or moby-dick)");
    if (!rc && !cli_known_data(r->a.data) && !cli_text_data(r->a.data))
        rc = cli_fail("train: unknown dataset '%s'", r->a.data);
    if (!rc) rc = check_pairing(r);
    if (!rc) rc = open_out(r);
    if (!rc) rc = load_data(r);
    if (!rc) rc = build(r);
    if (!rc) rc = cli_dist_setup(r);
    if (!rc) rc = outdir_check_space(r->a.out, nb_params_numel(nb_model_params(r->m)));
    cli_signals_install();
    if (!rc) rc = run_epochs(r);
    if (!rc) rc = final_outputs(r);
    cli_signals_restore();
    free(r->h);
    nb_confusion_free(r->conf);
    nlp_report_free(r->ents);
    free(r->word_unk);
    nb_loader_free(r->lt);
    nb_loader_free(r->l);
    gen_free(r);
    nb_optim_free(r->opt);
    nb_model_free(r->m);
    nb_dataset_free(r->train);
    nb_dataset_free(r->test);
    cli_text_close(&r->txt);
    free(r);
    return rc;
}
