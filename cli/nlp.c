/* The Transformer text models of the command line (issue 12): ner (a token tagger on the sotu
 * sentences, its entity report), mlm (masked-LM pre-training on the sotu text), and the LoRA
 * adapters of a fine-tuning run; the steps of cli/train.c call these. */
#include "run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool nlp_tagger(const char *model) { return model && !strcmp(model, "ner"); }
bool nlp_mlm(const char *model) { return model && !strcmp(model, "mlm"); }

/* ---- the entity report of an evaluation ---------------------------------------------------- */
/* A fresh entity report over the tags of a tagged set that knows the training entities,
 * hooked to the task's predictions. */
cli_ents *nlp_report_attach(nb_task *task, const nb_text_dataset *train, const nb_text_dataset *test) {
    cli_ents *e = calloc(1, sizeof *e);
    if (!e) {
        nb_set_error(NB_ERR_MEM, "out of memory");
        return NULL;
    }
    e->test = test;
    e->rep = nb_entity_report_new((const char *const *)test->tag_names, test->n_tags);
    for (int64_t i = 0; e->rep && train && train->word_keys && i < train->n; i++)
        if (nb_entity_report_learn(e->rep, train->tags + i * train->max_len, train->word_keys + i * train->max_len,
                                   train->lengths[i])) {
            nb_entity_report_free(e->rep);
            e->rep = NULL;
        }
    if (!e->rep) {
        free(e);
        return NULL;
    }
    task->on_pred = cli_entities_of_batch, task->pred_ctx = e;
    return e;
}

void nlp_report_free(cli_ents *e) {
    if (!e) return;
    nb_entity_report_free(e->rep);
    free(e);
}

/* ---- building the run ----------------------------------------------------------------------- */
/* The task of a sotu model; a masked LM's masking over the cased-words vocabulary. */
nb_task nlp_task(const char *model, const nb_vocab *v) {
    if (!nlp_mlm(model)) return nb_task_new(NB_TASK_TOKENS);
    nb_task t = nb_task_new(NB_TASK_MLM);
    t.mask_id = NB_VOCAB_MASK;
    t.first_id = NB_VOCAB_CASED_SPECIALS;
    t.vocab_size = nb_vocab_size(v);
    t.mlm_rows = true; /* the head over the vocabulary at the masked positions only */
    return t;
}

int nlp_word_dropout(run *r) {
    if (r->plan.word_dropout <= 0) return 0;
    if (!(r->word_unk = nb_vocab_shape_unks(r->txt.vocab))) return cli_fail("--word-dropout: %s", nb_last_error());
    r->task.word_dropout = r->plan.word_dropout;
    r->task.word_unk = r->word_unk;
    r->task.word_unk_n = nb_vocab_size(r->txt.vocab);
    if (!r->a.quiet)
        printf("word dropout %g: a training word becomes its shape unknown with that probability\n",
               (double)r->plan.word_dropout);
    return 0;
}

/* LoRA (plan.lora > 0): adapters on every Linear of the encoder, everything but them and the
 * head frozen. Before the optimizer is made, and before a --resume checkpoint is loaded. */
int nlp_lora(run *r) {
    const cli_plan *p = &r->plan;
    if (p->lora <= 0) return 0;
    int n = 0, frozen = 0;
    if (nb_lora_apply(r->m, "encoder", p->lora, p->lora_alpha, &n) || nb_lora_freeze_base(r->m, "head", &frozen))
        return cli_fail("--lora: %s", nb_last_error());
    if (!r->a.quiet)
        printf("LoRA rank %d, alpha %g on %d Linear layers of the encoder: %lld of %lld parameters train\n", p->lora,
               (double)p->lora_alpha, n, (long long)nb_model_param_count(r->m, true),
               (long long)nb_model_param_count(r->m, false));
    return 0;
}

/* --init of a ner run from a masked LM: the encoder's ids must mean what they meant, so the
 * checkpoint's vocabulary must be the data's. */
int nlp_check_init_vocab(run *r, const nb_meta *meta) {
    const char *v = nb_meta_get(meta, "vocab");
    if (v && strcmp(v, r->txt.vocab_str) != 0)
        return cli_fail("--init %s: its vocabulary is not the one --data %s gives (other data, or another --data-dir?)",
                        r->a.init, r->a.data);
    return 0;
}

/* ---- outputs ----------------------------------------------------------------------------- */
/* model.safetensors of a LoRA run: the adapters merged into the weights, a plain model that
 * loads without LoRA (nabla eval/predict, PyTorch). The training model is left as it was. */
int nlp_save_merged(run *r, const char *path) {
    nb_params *p = nb_model_params(r->m);
    int64_t n = nb_params_numel(p);
    float *keep = malloc((size_t)n * sizeof *keep);
    if (!keep) return cli_fail("out of memory");
    memcpy(keep, nb_params_data(p), (size_t)n * sizeof *keep);
    int rc = 0;
    cli_plan plain = r->plan;
    plain.lora = 0, plain.lora_alpha = 0, plain.freeze[0] = '\0';
    nb_meta *m2 = nb_meta_new();
    if (!m2 || cli_plan_to_meta(&plain, m2) || nb_meta_set(m2, "vocab", r->txt.vocab_str))
        rc = cli_fail("%s", *nb_last_error() ? nb_last_error() : "out of memory");
    else if (nb_lora_merge(r->m, NULL) || nb_checkpoint_save_merged(path, r->m, m2))
        rc = cli_fail("%s", nb_last_error());
    memcpy(nb_params_data(p), keep, (size_t)n * sizeof *keep);
    nb_meta_free(m2);
    free(keep);
    return rc;
}

/* report.txt of ner: the entity report of the last evaluation (seqeval's layout). */
int nlp_write_report(run *r, const cli_ents *e) {
    char *text = nb_entity_report_format(e->rep, 4);
    if (!text) return cli_fail("%s", nb_last_error());
    int rc = nb_write_file_atomic(r->p_report, text, strlen(text)) ? cli_fail("%s", nb_last_error()) : 0;
    if (!rc && !r->a.quiet) printf("\n%s", text);
    free(text);
    return rc;
}

/* report.txt of mlm: the last test figures. */
int nlp_write_mlm_report(run *r) {
    const history *h = r->h;
    int i = h->n - 1;
    char rep[512];
    snprintf(rep, sizeof rep, "%s on %s after %d epochs: validation masked-token loss %.4f (perplexity %.2f), "
             "masked-token accuracy %.4f\n", r->a.model, r->a.data, h->n, i >= 0 ? h->vl[i] : NAN,
             i >= 0 ? exp(h->vl[i]) : NAN, i >= 0 ? h->va[i] : NAN);
    if (nb_write_file_atomic(r->p_report, rep, strlen(rep))) return cli_fail("%s", nb_last_error());
    if (!r->a.quiet) printf("\n%s", rep);
    return 0;
}
