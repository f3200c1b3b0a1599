/* One run of nabla train: what the steps of cli/train.c and the generative models' steps of
 * cli/gen.c share. */
#ifndef NB_CLI_RUN_H
#define NB_CLI_RUN_H

#include "cli.h"
#include "history.h"

/* Everything one run holds, so the steps below share it and one function frees it. */
typedef struct run {
    cli_args a;
    cli_plan resumed, plan;
    char p_model[4200], p_ckpt[4200], p_metrics[4200], p_curves[4200], p_pred[4200], p_report[4200];
    char out_dir[4096];
    nb_dataset *train, *test;     /* image sets */
    cli_text txt;                 /* text sets */
    bool text, lm;                /* a text set; a character stream (language model) */
    nb_batch_source src, test_src;
    nb_task task;
    nb_model *m;
    nb_optim *opt;
    nb_loader *l, *lt;
    nb_confusion *conf;
    /* generative models (cli/gen.c) */
    nb_zoo_input gen;             /* NB_ZOO_AUTOENCODER, NB_ZOO_GAN, or 0 */
    nb_model *d;                  /* a GAN's discriminator (r->m is its generator) */
    nb_optim *opt_d;
    nb_gan gan;
    float *fixed_z;               /* the noise of the per-epoch sample grids */
    history *h;
    int64_t start;
    /* the Transformer text models (cli/nlp.c) */
    bool ner, mlm;                /* --model ner (a tagger: entity report), mlm */
    cli_ents *ents;               /* ner: the entities of the current evaluation */
    int64_t *word_unk;            /* ner with word dropout: the task's table (nb_vocab_shape_unks) */
} run;

nb_optim *run_make_optim(nb_params *p, const char *name, float lr);
int run_path(char *buf, size_t cap, const char *dir, const char *name);
/* The image sets' loaders: training shuffled by the seed, test in batches of up to 1000. */
int run_image_sources(run *r);

/* cli/gen.c: the generative models' steps of a run. */
bool gen_model(const char *model);  /* autoencoder, conv-autoencoder, vae, gan, dcgan */
int gen_build(run *r);              /* model(s), optimizer(s), loaders, task */
int gen_load(run *r, const char *path, bool optim); /* a checkpoint into the run's model(s) */
int gen_save(run *r, const char *path, bool optim, const nb_meta *meta);
/* After epoch e (0-based) was trained (tr) and evaluated (te, NaN for a GAN): the history's
 * extra series and the per-epoch pictures. */
int gen_epoch(run *r, int64_t e, const nb_epoch_stats *tr, const nb_epoch_stats *te);
int gen_curves(run *r, const char *title);
int gen_final(run *r);              /* report and pictures */
void gen_free(run *r);

/* cli/nlp.c: the Transformer text models (ner, mlm) and LoRA fine-tuning. */
bool nlp_tagger(const char *model); /* ner */
bool nlp_mlm(const char *model);    /* mlm */
nb_task nlp_task(const char *model, const nb_vocab *v);
/* ner: plan.word_dropout > 0 sets the task's word dropout over the run's vocabulary (the
 * table in r->word_unk, freed with the run). */
int nlp_word_dropout(run *r);
/* A fresh report for the next evaluation (old freed); give it to the task's pred_ctx. */
int nlp_lora(run *r);               /* plan.lora > 0: adapters on the encoder, the rest frozen but the head */
int nlp_check_init_vocab(run *r, const nb_meta *meta);
int nlp_save_merged(run *r, const char *path); /* a LoRA run's model.safetensors: merged, plain */
int nlp_write_report(run *r, const cli_ents *e);
int nlp_write_mlm_report(run *r);

#endif
