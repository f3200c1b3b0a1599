/* Shared pieces of the nabla command-line tool. */
#ifndef NB_CLI_H
#define NB_CLI_H

#include <nabla/nabla.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#define CLI_MAX_EPOCHS 1000
#define CLI_N_CLASSES 10 /* MNIST and Fashion-MNIST */

/* The parsed command line. Each flag is one row of the table in main.c; `set` records which
 * were given (so a resumed run takes the others from its checkpoint). */
typedef struct cli_args {
    const char *cmd;
    const char *model, *data, *data_dir, *optimizer, *out, *resume, *checkpoint, *schedule;
    const char *init, *freeze, *reset, *prime, *judge, *arch;
    long long length, latent, n, lora;
    double lora_alpha;
    double word_dropout;
    double denoise;
    double temperature;
    long long epochs, threads, warmup, stop_after, batch, limit_train, limit_test, seed, repeat;
    double lr, clip, head_lr, max_loss;
    bool quiet, invert, overwrite, distributed;
    const char **inputs;
    int n_inputs;
    unsigned long long set; /* bit i: the flag of table row i was given */
} cli_args;
/* Whether the flag named (e.g. "--lr") was given. */
bool cli_given(const cli_args *a, const char *flag);

/* The run's plan, kept in checkpoint metadata by the CLI (the library never reads it). */
typedef struct cli_plan {
    char model[32];    /* zoo name */
    int c, h, w, classes;
    char dataset[32];  /* e.g. "mnist" */
    int64_t epoch;     /* epochs completed */
    uint64_t seed;
    int64_t batch;
    float mean, std;   /* input normalization used in training */
    char schedule[16], optimizer[16];
    float base_lr, clip;
    int64_t warmup, epochs;
    int64_t limit_train, limit_test, train_samples;
    int threads;
    char freeze[256];  /* prefixes kept frozen (fine-tuning) */
    /* text models (the vocabulary itself is the metadata key "vocab", read apart) */
    int64_t max_tokens;      /* tokens per sample (spam 200, langid the longest training word,
                              * charlm the window of truncated BPTT) */
    char class_names[1024];  /* comma-separated; "" for the image sets (known names) */
    /* generative models (0 when not used) */
    int latent;              /* vae: code units */
    float noise;             /* autoencoders: --denoise, the std of the input noise */
    int z_dim;               /* gan, dcgan: noise units */
    int processes;           /* a data-parallel run's processes (0: one) */
    int lora;                /* LoRA rank of the encoder's adapters (0: none; docs/lora.md) */
    float lora_alpha;
    float word_dropout;      /* ner: the probability that a training word is replaced by its
                              * shape unknown (0: none; docs/ner.md) */
} cli_plan;
extern const char *const cli_optimizers[]; /* NULL-terminated */
extern const char *const cli_schedules[];
nb_status cli_plan_to_meta(const cli_plan *p, nb_meta *m);
/* Parses a plan from a checkpoint's metadata; prints the error (naming path and key) and
 * returns 1 when a value is missing or out of range. */
int cli_plan_from_meta(const nb_meta *m, const char *path, cli_plan *p);
int cli_read_plan(const char *path, cli_plan *p);
/* cli_read_plan for --resume, which also needs the key 'epoch' (how many epochs were trained). */
int cli_read_resume_plan(const char *path, cli_plan *p);
bool cli_is_nabla_checkpoint(const nb_meta *m);

/* Prints "nabla: " and the message to stderr; returns 1 (the exit status). */
/* Sets OMP_WAIT_POLICY=passive and executes the command again when the environment names
 * neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT (libgomp reads them before main); returns if it
 * does not re-execute. */
void cli_wait_policy(char **argv);
/* glibc's malloc keeps large freed blocks for reuse (mmap and trim thresholds at 1 GiB) unless
 * the environment sets MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_. */
void cli_malloc_policy(void);
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The places a dataset is looked for, in order: $NABLA_DATA/NAME (and $NABLA_DATA itself when
 * env_itself), ./data/NAME, the data folder of the checkout this binary was built in; their
 * count (at most 4). */
int cli_data_places(const char *name, bool env_itself, char tried[][PATH_MAX + 64]);
/* Finds the folder holding the dataset's IDX files; prints the install command if none. */
int cli_find_data(const char *name, const char *data_dir, char *out, size_t cap);
/* Loads the train (train=1) or test set of dataset `name` from dir, applies the normalization
 * and an optional limit (0 = all), and checks that the labels fit `classes` and that the first
 * labels are not those of the other known dataset. NULL after printing the error. */
nb_dataset *cli_load(const char *name, const char *dir, int train, int64_t limit, float mean, float std,
                     int classes);
/* The normalization (mean, std of the training pixels in [0,1]) of a known dataset. */
void cli_norm(const char *data, float *mean, float *std);
bool cli_known_data(const char *name);
/* Evaluates m on d (classification, unshuffled batches): stats, and optionally the confusion
 * matrix and the softmax outputs (n*classes). Prints nothing; returns the status. */
nb_status cli_evaluate(nb_model *m, const nb_dataset *d, int64_t batch, nb_confusion *conf, float *probs,
                       nb_epoch_stats *out);

/* ---- text sets (text.c): spam, langid (one class per sequence), moby-dick (characters) ---- */
#define CLI_LM_STEPS 100 /* the window of truncated backpropagation through time */
typedef struct cli_text {
    nb_text_split *split;     /* spam, langid */
    nb_char_corpus *corpus;   /* moby-dick */
    const nb_vocab *vocab;    /* the split's or the corpus's */
    char *vocab_str;          /* serialized, for the checkpoint */
    char class_names[1024];   /* comma-separated (spam, langid; sotu for ner: the tags) */
    bool tagged, mlm;         /* sotu: the NER split (tags per token); the masked-LM corpus */
    int64_t n_train, n_test;  /* samples, or characters */
    nb_text_loader *tl, *tlt;
    nb_stream_loader *sl, *slt;
} cli_text;
bool cli_text_data(const char *name);     /* spam, langid, moby-dick */
bool cli_text_stream(const char *name);   /* moby-dick */
bool cli_text_sotu(const char *name);     /* sotu, sotu,moby-dick */
const char *cli_text_model_for(const char *data); /* the zoo model of a text set */
/* The folder holding a text set (as cli_find_data for the images); prints why not. */
int cli_text_find(const char *name, const char *data_dir, char *out, size_t cap);
/* model: which form of sotu (mlm: the masked-LM corpus; otherwise the NER split); may be NULL. */
int cli_text_open(cli_text *t, const char *name, const char *model, const char *data_dir, int64_t limit_train,
                  int64_t limit_test);
/* Training (shuffled per epoch from seed; streams: consecutive windows) and test sources. */
int cli_text_sources(cli_text *t, int64_t batch, uint64_t seed, nb_batch_source *train, nb_batch_source *test);
int64_t cli_text_max_tokens(const cli_text *t);
void cli_text_close(cli_text *t);
/* nabla sample: text from a character language model, images from a GAN or a VAE. */
int cli_sample(const cli_args *a);
/* nabla sample for generative image models (cli/gen_sample.c): n images into --out (.png grid
 * or .idx), and with --judge the quality figures by a classifier checkpoint. */
int cli_sample_images(const cli_args *a, const cli_plan *info);
/* The generator (GAN) or the whole model (autoencoders, VAE) of a generative checkpoint, in
 * evaluation mode; NULL after printing the error. */
nb_model *cli_load_gen_model(const char *path, const cli_plan *info);
/* length characters after prime, drawn with softmax(logits / temperature) from a seeded RNG;
 * malloc'd UTF-8, or NULL with the library error set (a prime character not in v). window 0:
 * the model keeps its state (the prime read once, then one character a call); window > 0: each
 * call reads the last `window` characters. */
char *cli_generate(nb_model *m, const nb_vocab *v, const char *prime, int64_t length, double temperature,
                   uint64_t seed, int64_t window);
/* The window cli_generate gives a model: 0 for the stateful LSTM, CLI_LM_STEPS for the
 * Transformer (which sees only the characters of its window). */
int64_t cli_lm_window(const char *model);
/* The entity report of a tagger's evaluations over the test set its batches come from. */
typedef struct cli_ents {
    nb_entity_report *rep;
    const nb_text_dataset *test; /* b->idx indexes it; its word keys mark the unseen entities */
} cli_ents;
/* nb_task.on_pred of a tagger (NB_TASK_TOKENS): each sentence's predicted tags against its gold
 * tags (the batch's y), with the test set's word keys, into the cli_ents ctx. */
nb_status cli_entities_of_batch(void *ctx, const nb_batch *b, const int64_t *pred);
/* A fresh entity report over test's tags that has learned the entities of train (their
 * surfaces: what makes a test entity unseen), fed by task's predictions (on_pred =
 * cli_entities_of_batch, cli/nlp.c); NULL with the error set. Free with nlp_report_free. */
cli_ents *nlp_report_attach(nb_task *task, const nb_text_dataset *train, const nb_text_dataset *test);
void nlp_report_free(cli_ents *e);
/* eval and predict for the text models (textcmds.c). */
int cli_eval_text(const cli_args *a, nb_model *m, const cli_plan *info, const nb_vocab *v, const char *data);
int cli_predict_text(const cli_args *a, nb_model *m, const cli_plan *info, const nb_vocab *v);
/* The model of --checkpoint (a nabla checkpoint; or PyTorch weights with --model and --data),
 * in evaluation mode, its plan, and for a text model its vocabulary (*vocab, caller frees; may
 * be NULL to not ask). NULL after printing the error. */
nb_model *cli_load_model(const cli_args *a, cli_plan *info, nb_vocab **vocab);
/* Refuses (prints, returns 1) a model whose parameters or buffers hold a NaN or infinity,
 * naming path, tensor and element. */
int cli_check_finite(const char *path, nb_model *m);

int cli_train(const cli_args *a);
int cli_eval(const cli_args *a);
int cli_predict(const cli_args *a);
/* nabla bench: times a zoo model's training step (forward, loss, backward, optimizer), whole
 * and per layer, on random data, and prints the table. */
int cli_bench(const cli_args *a);

#endif
