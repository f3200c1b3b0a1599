/* nabla: the command-line tool. Parses arguments from one table of flags and runs train,
 * eval, predict or bench. */
#include "cli.h"
#include "dist.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage:\n"
    "  nabla train --model {mlp,lenet5,seedcnn,lstm-rows} --data {mnist,fashion-mnist} [--epochs N] [--batch N]\n"
    "              [--optimizer {adam,adamw,sgd,rmsprop}] [--lr X] [--schedule {constant,step,cosine}]\n"
    "              [--warmup N] [--clip X] [--max-loss X] [--seed N] [--threads N] [--out DIR]\n"
    "              [--resume CHECKPOINT] [--overwrite] [--stop-after N] [--data-dir DIR] [--limit-train N]\n"
    "              [--limit-test N] [--quiet] [--distributed]\n"
    "              [--init WEIGHTS [--freeze NAMES] [--reset NAMES] [--head-lr X]]\n"
    "  nabla train --model {spam,langid} --data {spam,langid} | --model charlm --data moby-dick [options as above]\n"
    "              [--arch {lstm,transformer}]   (charlm: the LSTM, or a causal Transformer)\n"
    "  nabla train --model ner --data sotu [--init MLM-CHECKPOINT [--lora R [--lora-alpha X]]] [--word-dropout P]\n"
    "              [options as above]   (--word-dropout: each training word becomes its unknown with probability P)\n"
    "  nabla train --model mlm --data {sotu,sotu,moby-dick} [options as above]\n"
    "  nabla eval --checkpoint FILE [--model NAME --data NAME] [--data-dir DIR] [--batch N] [--limit-test N]\n"
    "  nabla predict --checkpoint FILE [--model NAME --data NAME] [--invert] IMAGE.png|IMAGES.idx ...\n"
    "  nabla predict --checkpoint FILE TEXT-FILE ...|-     (a text model: one prediction per line;\n"
    "                                                     ner: each sentence with its entities marked)\n"
    "  nabla train --model {autoencoder,conv-autoencoder,vae,gan,dcgan} --data {mnist,fashion-mnist}\n"
    "              [--denoise STD] [--latent N] [options as above]\n"
    "  nabla sample --checkpoint FILE [--length N] [--temperature T] [--prime TEXT] [--seed N]\n"
    "  nabla sample --checkpoint GAN-OR-VAE [--n N] [--out FILE.png|FILE.idx] [--seed N] [--judge CLASSIFIER]\n"
    "  nabla bench --model NAME [--batch N] [--threads N] [--repeat N]\n"
    "FILE and WEIGHTS are nabla checkpoints or PyTorch state_dicts saved with safetensors (then\n"
    "--model and --data say what they hold). NAMES are comma-separated parameter prefixes\n"
    "(conv1,conv2). Data is looked for in --data-dir, $NABLA_DATA, ./data/NAME and the installed\n"
    "packages; bash scripts/data.sh [SET ...|all] installs it. sample draws text from a charlm\n"
    "checkpoint, or images from a GAN or VAE checkpoint (--judge: the share a classifier checkpoint\n"
    "calls with probability >= 0.9, and the entropy of its classes). bench times a training step (forward, backward, optimizer), whole and per layer, on\n"
    "random data. Started by mpirun -np N, train is data-parallel over the N processes (--distributed\n"
    "starts MPI without a launcher); see docs/distributed.md.\n";

static const char *const g_datas[] = {"mnist", "fashion-mnist", "spam", "langid", "moby-dick", "sotu", "sotu,moby-dick", NULL};
static const char *const g_archs[] = {"lstm", "transformer", NULL};
static const char *const g_cmds[] = {"train", "eval", "predict", "bench", "sample", NULL};

enum { TRAIN = 1, EVAL = 2, PREDICT = 4, ALL = 7, BENCH = 8, SAMPLE = 16 }; /* ALL: train, eval, predict */
typedef enum { F_BOOL, F_INT, F_NUM, F_STR, F_CHOICE } ftype;
typedef struct flag_def {
    const char *name;
    ftype type;
    size_t off;                 /* the field in cli_args */
    unsigned cmds;              /* the commands that take it */
    long long lo, hi;           /* F_INT range; F_NUM: lo is the least, hi 1 if it must be > lo */
    const char *const *choices; /* F_CHOICE; NULL: the zoo's names */
} flag_def;

#define A(f) offsetof(cli_args, f)
static const flag_def g_flags[] = {
    {"--model", F_CHOICE, A(model), ALL | BENCH, 0, 0, NULL},
    {"--data", F_CHOICE, A(data), ALL, 0, 0, g_datas},
    {"--data-dir", F_STR, A(data_dir), ALL, 0, 0, NULL},
    {"--optimizer", F_CHOICE, A(optimizer), TRAIN, 0, 0, cli_optimizers},
    {"--schedule", F_CHOICE, A(schedule), TRAIN, 0, 0, cli_schedules},
    {"--lr", F_NUM, A(lr), TRAIN, 0, 1, NULL},
    {"--head-lr", F_NUM, A(head_lr), TRAIN, 0, 1, NULL},
    {"--clip", F_NUM, A(clip), TRAIN, 0, 0, NULL},
    {"--max-loss", F_NUM, A(max_loss), TRAIN, 0, 1, NULL},
    {"--warmup", F_INT, A(warmup), TRAIN, 0, CLI_MAX_EPOCHS, NULL},
    {"--epochs", F_INT, A(epochs), TRAIN, 1, CLI_MAX_EPOCHS, NULL},
    {"--stop-after", F_INT, A(stop_after), TRAIN, 1, CLI_MAX_EPOCHS, NULL},
    {"--batch", F_INT, A(batch), TRAIN | EVAL | BENCH, 1, 1 << 20, NULL},
    {"--threads", F_INT, A(threads), ALL | BENCH | SAMPLE, 1, 1024, NULL},
    {"--seed", F_INT, A(seed), TRAIN | SAMPLE, 0, INT64_MAX, NULL},
    {"--limit-train", F_INT, A(limit_train), TRAIN, 0, INT64_MAX, NULL},
    {"--limit-test", F_INT, A(limit_test), TRAIN | EVAL, 0, INT64_MAX, NULL},
    {"--out", F_STR, A(out), TRAIN | SAMPLE, 0, 0, NULL},
    {"--resume", F_STR, A(resume), TRAIN, 0, 0, NULL},
    {"--overwrite", F_BOOL, A(overwrite), TRAIN, 0, 0, NULL},
    {"--init", F_STR, A(init), TRAIN, 0, 0, NULL},
    {"--freeze", F_STR, A(freeze), TRAIN, 0, 0, NULL},
    {"--reset", F_STR, A(reset), TRAIN, 0, 0, NULL},
    {"--checkpoint", F_STR, A(checkpoint), EVAL | PREDICT | SAMPLE, 0, 0, NULL},
    {"--quiet", F_BOOL, A(quiet), ALL, 0, 0, NULL},
    {"--invert", F_BOOL, A(invert), PREDICT, 0, 0, NULL},
    {"--repeat", F_INT, A(repeat), BENCH, 1, 1000000, NULL},
    {"--prime", F_STR, A(prime), SAMPLE, 0, 0, NULL},
    {"--length", F_INT, A(length), SAMPLE, 1, 1000000, NULL},
    {"--temperature", F_NUM, A(temperature), SAMPLE, 0, 1, NULL},
    {"--denoise", F_NUM, A(denoise), TRAIN, 0, 0, NULL},
    {"--latent", F_INT, A(latent), TRAIN, 1, 256, NULL},
    {"--n", F_INT, A(n), SAMPLE, 1, 100000, NULL},
    {"--judge", F_STR, A(judge), SAMPLE, 0, 0, NULL},
    {"--distributed", F_BOOL, A(distributed), TRAIN, 0, 0, NULL},
    {"--arch", F_CHOICE, A(arch), TRAIN, 0, 0, g_archs},
    {"--lora", F_INT, A(lora), TRAIN, 1, 256, NULL},
    {"--lora-alpha", F_NUM, A(lora_alpha), TRAIN, 0, 1, NULL},
    {"--word-dropout", F_NUM, A(word_dropout), TRAIN, 0, 0, NULL},
};
#define N_FLAGS (int)(sizeof g_flags / sizeof g_flags[0])
_Static_assert(sizeof g_flags / sizeof g_flags[0] <= 64, "cli_args.set has 64 bits");

bool cli_given(const cli_args *a, const char *name) {
    for (int i = 0; i < N_FLAGS; i++)
        if (strcmp(g_flags[i].name, name) == 0) return (a->set >> i) & 1u;
    return false;
}

static int one_of(const char *flag, const char *v, const char *const *ok) {
    for (int i = 0; ok[i]; i++)
        if (strcmp(v, ok[i]) == 0) return 0;
    char list[256] = "";
    for (int i = 0; ok[i]; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", ok[i]);
    return cli_fail("%s: unknown value '%s' (expected one of: %s)", flag, v, list);
}

/* Parses one flag's value into its field. */
static int parse_value(const flag_def *fl, const char *v, cli_args *a) {
    char *field = (char *)a + fl->off, *end;
    errno = 0;
    switch (fl->type) {
    case F_INT: {
        long long x = strtoll(v, &end, 10);
        if (errno || *end || end == v || x < fl->lo || x > fl->hi)
            return cli_fail("%s: '%s' is not an integer in %lld..%lld", fl->name, v, fl->lo, fl->hi);
        *(long long *)field = x;
        return 0;
    }
    case F_NUM: {
        double x = strtod(v, &end);
        if (errno || *end || end == v || !(x >= (double)fl->lo) || x > 1e6 || (fl->hi && !((float)x > (float)fl->lo)))
            return cli_fail("%s: '%s' is not a number %s %lld (and at most 1e6)", fl->name, v, fl->hi ? ">" : ">=", fl->lo);
        *(double *)field = x;
        return 0;
    }
    case F_CHOICE:
        if (one_of(fl->name, v, fl->choices ? fl->choices : nb_zoo_names())) return 1;
        *(const char **)field = v;
        return 0;
    case F_STR:
        if (!*v) return cli_fail("%s: the value is empty", fl->name);
        *(const char **)field = v;
        return 0;
    case F_BOOL: break;
    }
    return 0;
}

static unsigned cmd_bit(const char *cmd) {
    return strcmp(cmd, "train") == 0   ? TRAIN
           : strcmp(cmd, "eval") == 0  ? EVAL
           : strcmp(cmd, "bench") == 0 ? BENCH
           : strcmp(cmd, "sample") == 0 ? SAMPLE
                                       : PREDICT;
}

int main(int argc, char **argv) {
    cli_wait_policy(argv); /* first: it may execute the command again */
    cli_malloc_policy();
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    cli_args a = {.cmd = argv[1], .epochs = 10, .batch = 64, .lr = 1e-3, .optimizer = "adam", .out = "out",
                  .schedule = "constant", .length = 500, .temperature = 0.8, .latent = 16, .n = 64};
    if (one_of("command", a.cmd, g_cmds)) {
        fputs(USAGE, stderr);
        return 2;
    }
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) return cli_fail("out of memory");
    a.inputs = inputs;
    int rc = 0;
    for (int i = 2; i < argc && !rc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(USAGE, stdout);
            free(inputs);
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0) {
            inputs[a.n_inputs++] = arg;
            continue;
        }
        int k = 0;
        while (k < N_FLAGS && strcmp(g_flags[k].name, arg) != 0) k++;
        if (k == N_FLAGS) {
            rc = cli_fail("unknown option %s (see nabla --help)", arg);
            break;
        }
        const flag_def *f = &g_flags[k];
        if (!(f->cmds & cmd_bit(a.cmd))) {
            rc = cli_fail("%s: %s is not an option of this command (see nabla --help)", a.cmd, arg);
            break;
        }
        a.set |= 1ull << k;
        if (f->type == F_BOOL) {
            *(bool *)((char *)&a + f->off) = true;
            continue;
        }
        if (i + 1 >= argc) {
            rc = cli_fail("%s needs a value", arg);
            break;
        }
        rc = parse_value(f, argv[++i], &a);
    }
    if (!rc && a.n_inputs > 0 && strcmp(a.cmd, "predict") != 0)
        rc = cli_fail("%s: unexpected argument '%s' (see nabla --help)", a.cmd, a.inputs[0]);
    if (!rc && a.threads) nb_set_threads((int)a.threads);
    if (!rc) rc = cli_dist_begin(&a);
    if (!rc) {
        if (strcmp(a.cmd, "train") == 0) rc = cli_train(&a);
        else if (strcmp(a.cmd, "eval") == 0) rc = cli_eval(&a);
        else if (strcmp(a.cmd, "bench") == 0) rc = cli_bench(&a);
        else if (strcmp(a.cmd, "sample") == 0) rc = cli_sample(&a);
        else rc = cli_predict(&a);
    }
    free(inputs);
    return cli_dist_end(rc);
}
