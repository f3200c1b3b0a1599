/* nabla eval and nabla predict for the text models: the test split (or the validation text) of
 * the set a checkpoint was trained on, and lines of text from files or standard input. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

nb_status cli_entities_of_batch(void *ctx, const nb_batch *b, const int64_t *pred) {
    const cli_ents *e = ctx;
    int64_t T = b->x_shape[0];
    if (!b->y || !b->lengths) return nb_set_error(NB_ERR_ARG, "ner: a test batch without tags or lengths");
    const nb_text_dataset *d = e->test;
    bool keyed = d && d->word_keys && b->idx;
    for (int64_t i = 0; i < b->n; i++) {
        if (keyed && (b->idx[i] < 0 || b->idx[i] >= d->n || d->lengths[b->idx[i]] != b->lengths[i]))
            return nb_set_error(NB_ERR_ARG, "ner: test batch sample %lld is not sample %lld of the test set", (long long)i,
                                (long long)b->idx[i]);
        const uint64_t *keys = keyed ? d->word_keys + b->idx[i] * d->max_len : NULL;
        nb_status st = nb_entity_report_add_keyed(e->rep, b->y + i * T, pred + i * T, keys, b->lengths[i]);
        if (st) return st;
    }
    return NB_OK;
}

int cli_eval_text(const cli_args *a, nb_model *m, const cli_plan *info, const nb_vocab *v, const char *data) {
    if (!v) return cli_fail("--data %s is text; %s holds a %s model, which reads images", data, a->checkpoint, info->model);
    if (!cli_text_data(data))
        return cli_fail("%s holds a %s model, which reads text; --data %s holds images", a->checkpoint, info->model, data);
    bool lm = !strcmp(info->model, "charlm") || !strcmp(info->model, "charlm-transformer");
    bool ner = !strcmp(info->model, "ner"), mlm = !strcmp(info->model, "mlm");
    if (lm != cli_text_stream(data))
        return cli_fail("%s holds a %s model; --data %s is %s", a->checkpoint, info->model, data,
                        lm ? "not a character stream" : "a character stream");
    if ((ner || mlm) != cli_text_sotu(data) || (ner && strcmp(data, "sotu") != 0))
        return cli_fail("%s holds a %s model; --data %s is not its data (ner: sotu; mlm: sotu or sotu,moby-dick)",
                        a->checkpoint, info->model, data);
    cli_text t;
    /* a tagger's unseen entities are those of the training sentences it was trained on */
    int rc = cli_text_open(&t, data, info->model, a->data_dir, ner ? info->limit_train : 0, a->limit_test);
    /* The model's ids mean what its own vocabulary says: the data must give the same one. */
    char *mine = rc ? NULL : nb_vocab_serialize(v);
    if (!rc && (!mine || strcmp(mine, t.vocab_str) != 0))
        rc = cli_fail("%s: the checkpoint's vocabulary (%lld tokens) is not the one %s gives (%lld tokens): was the "
                      "model trained on other data?", a->checkpoint, (long long)nb_vocab_size(v), data,
                      (long long)nb_vocab_size(t.vocab));
    free(mine);
    nb_batch_source train, test;
    if (!rc) rc = cli_text_sources(&t, lm ? 32 : 256, 0, &train, &test);
    nb_confusion *conf = rc || lm || mlm ? NULL : nb_confusion_new(info->classes);
    nb_task task = ner || mlm ? nb_task_new(NB_TASK_TOKENS) : nb_task_new(lm ? NB_TASK_LM : NB_TASK_SEQ_CLASSIFY);
    if (mlm) {
        task = nb_task_new(NB_TASK_MLM);
        task.mask_id = NB_VOCAB_MASK, task.first_id = NB_VOCAB_CASED_SPECIALS, task.vocab_size = nb_vocab_size(v);
        task.mlm_rows = true;
    }
    cli_ents *ents = NULL;
    if (!rc && ner && !(ents = nlp_report_attach(&task, t.split->train, t.split->test)))
        rc = cli_fail("%s", nb_last_error());
    nb_epoch_stats st;
    if (!rc && ((!lm && !mlm && !conf) || nb_evaluate(m, &task, &test, conf, NULL, &st)))
        rc = cli_fail("%s", nb_last_error());
    if (!rc) {
        char from[48];
        snprintf(from, sizeof from, "epoch %lld", (long long)info->epoch);
        if (ner) {
            char *rep = nb_entity_report_format(ents->rep, 4);
            printf("%s (%s, %s) on %s test: %lld sentences, %lld tokens, loss %.4f\n\n%s", a->checkpoint, info->model,
                   from, data, (long long)t.split->test->n, (long long)st.tokens, st.loss, rep ? rep : "");
            free(rep);
        } else if (mlm) {
            printf("%s (%s, %s) on %s validation: %lld sentences, %lld masked tokens, loss %.4f, masked-token accuracy "
                   "%.4f\n", a->checkpoint, info->model, from, data, (long long)t.split->test->n, (long long)st.tokens,
                   st.loss, st.accuracy);
        } else if (lm) {
            printf("%s (%s, %s) on %s validation text: %lld characters, loss %.4f, %.4f bits per character, "
                   "next-character accuracy %.4f\n", a->checkpoint, info->model, from, data, (long long)st.tokens,
                   st.loss, st.bits, st.accuracy);
        } else {
            const char *const *names = (const char *const *)t.split->test->class_names;
            char *rep = nb_classification_report(conf, names, 4), *cm = nb_confusion_format(conf, names);
            printf("%s (%s, %s) on %s test: %lld sequences, loss %.4f, accuracy %.4f\n\n%s\nconfusion matrix:\n%s",
                   a->checkpoint, info->model, from, data, (long long)st.samples, st.loss, st.accuracy, rep ? rep : "",
                   cm ? cm : "");
            free(rep);
            free(cm);
        }
    }
    nb_confusion_free(conf);
    nlp_report_free(ents);
    cli_text_close(&t);
    return rc;
}

/* The whole of a file, or of standard input for "-"; NUL-terminated; NULL after the error. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        cli_fail("%s: cannot open", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *b = cap < ((size_t)1 << 30) ? realloc(buf, cap * 2) : NULL;
        if (!b) {
            free(buf);
            buf = NULL;
            cli_fail("%s: too large (a text model reads lines of text)", path);
            break;
        }
        buf = b, cap *= 2;
    }
    bool err = ferror(f);
    if (f != stdin) fclose(f);
    if (buf && err) {
        free(buf);
        cli_fail("%s: read error", path);
        return NULL;
    }
    if (!buf) return NULL;
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Classifies one line: prints "label:line: class (p=...)". */
static int classify_line(nb_model *m, const cli_plan *info, const nb_vocab *v, const char *const *names,
                         const char *label, int64_t lineno, const char *text, size_t len) {
    char what[4200];
    snprintf(what, sizeof what, "%s:%lld", label, (long long)lineno);
    bool words = nb_vocab_tokenizer(v) == NB_TOKENIZER_WORDS;
    if (words && len > NB_SPAM_MAX_BYTES) len = NB_SPAM_MAX_BYTES; /* the spam protocol reads the first 2,000 bytes */
    int64_t cap = info->max_tokens + 1, n = 0;
    int64_t *ids = malloc((size_t)cap * sizeof *ids);
    if (!ids) return cli_fail("out of memory");
    int rc = 0;
    if (nb_text_encode(v, text, len, cap, ids, &n, what)) rc = cli_fail("%s", nb_last_error());
    else if (n > info->max_tokens && !words)
        rc = cli_fail("%s: more than %lld tokens, the longest sequence the model was trained on", what,
                      (long long)info->max_tokens);
    if (!rc && n > info->max_tokens) n = info->max_tokens; /* spam: the first 200 words */
    if (!rc && n == 0) ids[n++] = NB_VOCAB_UNK;         /* as a mail without words in training */
    if (!rc) {
        nb_no_grad_begin();
        nb_tensor *in[2] = {nb_step_index(2, (int64_t[]){1, n}, ids), nb_step_index(1, (int64_t[]){1}, &n)};
        nb_tensor *out[NB_MODULE_MAX_IO];
        int k = 0;
        if (!in[0] || !in[1] || nb_model_forward_n(m, 2, in, &k, out)) {
            rc = cli_fail("%s: %s", what, nb_last_error());
        } else {
            nb_tensor *p = nb_softmax(out[0], 1);
            int64_t best;
            nb_argmax_rows(nb_tensor_data(p), 1, info->classes, &best);
            int shown = len > 40 ? 40 : (int)len;
            printf("%s: %s (p=%.4f)  %.*s%s\n", what, names[best], (double)nb_tensor_data(p)[best], shown, text,
                   len > 40 ? "..." : "");
        }
        nb_step_reset();
        nb_no_grad_end();
    }
    free(ids);
    return rc;
}

/* The tags of tokens [from, to) of t (at most max_tokens), predicted in one forward pass. */
static int tag_span(nb_model *m, const nb_text_tokens *t, int64_t from, int64_t to, int64_t *tags, const char *what) {
    int64_t n = to - from;
    int rc = 0;
    nb_no_grad_begin();
    nb_tensor *in[2] = {nb_step_index(2, (int64_t[]){1, n}, t->ids + from), nb_step_index(1, (int64_t[]){1}, &n)};
    nb_tensor *out[NB_MODULE_MAX_IO];
    int k = 0;
    if (!in[0] || !in[1] || nb_model_forward_n(m, 2, in, &k, out)) rc = cli_fail("%s: %s", what, nb_last_error());
    else nb_argmax_rows(nb_tensor_data(out[0]), n, (int)nb_tensor_size(out[0], -1), tags + from);
    nb_step_reset();
    nb_no_grad_end();
    return rc;
}

/* A tagger's predictions: each sentence of the text with its entities marked "[words](TYPE)",
 * read with the entity report's rules (an I- tag after O or another type starts an entity). */
static int mark_entities(const cli_args *a, nb_model *m, const cli_plan *info, const nb_vocab *v, const char *label,
                         const char *text, size_t len) {
    nb_text_tokens *t = nb_sotu_tokenize(v, text, len, label);
    if (!t) return cli_fail("%s", nb_last_error());
    int64_t *tags = malloc((size_t)(t->n ? t->n : 1) * sizeof *tags);
    int rc = tags ? 0 : cli_fail("out of memory");
    const char *names[NB_NER_TAGS];
    for (int i = 0; i < NB_NER_TAGS; i++) names[i] = nb_ner_tag_name(i);
    if (!rc && info->classes != NB_NER_TAGS)
        rc = cli_fail("%s: a tagger of %d tags, not the %d of ner", a->checkpoint, info->classes, NB_NER_TAGS);
    for (int64_t s = 0; s < t->n_sentences && !rc; s++) {
        int64_t first = t->sentence[s], last = t->sentence[s + 1];
        char what[4200];
        snprintf(what, sizeof what, "%s: sentence %lld", label, (long long)s + 1);
        for (int64_t from = first; from < last && !rc; from += info->max_tokens) /* long sentences in windows */
            rc = tag_span(m, t, from, from + info->max_tokens < last ? from + info->max_tokens : last, tags, what);
        if (rc) break;
        const char *open_type = NULL;
        size_t type_len = 0;
        for (int64_t i = first; i < last; i++) {
            const char *tag = names[tags[i]];
            bool inside = tag[0] == 'I' && open_type && strlen(tag + 2) == type_len && !strncmp(tag + 2, open_type, type_len);
            if (open_type && !inside) printf("](%.*s)", (int)type_len, open_type), open_type = NULL;
            if (i > first) /* the text between tokens, newlines as spaces */
                for (int64_t c = t->end[i - 1]; c < t->start[i]; c++) putchar(text[c] == '\n' || text[c] == '\r' ? ' ' : text[c]);
            if (tag[0] != 'O' && !inside) putchar('['), open_type = tag + 2, type_len = strlen(tag + 2);
            fwrite(text + t->start[i], 1, (size_t)(t->end[i] - t->start[i]), stdout);
        }
        if (open_type) printf("](%.*s)", (int)type_len, open_type);
        putchar('\n');
    }
    if (!rc && t->n_sentences == 0) rc = cli_fail("%s: no text to tag (the file is empty)", label);
    free(tags);
    nb_text_tokens_free(t);
    return rc;
}

int cli_predict_text(const cli_args *a, nb_model *m, const cli_plan *info, const nb_vocab *v) {
    if (!strcmp(info->model, "charlm") || !strcmp(info->model, "charlm-transformer"))
        return cli_fail("predict: %s holds a language model; draw text from it with nabla sample --checkpoint %s",
                        a->checkpoint, a->checkpoint);
    if (!strcmp(info->model, "mlm"))
        return cli_fail("predict: %s holds a masked language model; score it with nabla eval --checkpoint %s, or "
                        "fine-tune it: nabla train --model ner --data sotu --init %s", a->checkpoint, a->checkpoint,
                        a->checkpoint);
    if (!strcmp(info->model, "ner")) {
        int rc = 0;
        for (int i = 0; i < a->n_inputs && !rc; i++) {
            size_t len = 0;
            char *text = slurp(a->inputs[i], &len);
            if (!text) return 1;
            rc = mark_entities(a, m, info, v, strcmp(a->inputs[i], "-") ? a->inputs[i] : "stdin", text, len);
            free(text);
        }
        return rc;
    }
    /* the class names the checkpoint keeps */
    char names_buf[sizeof info->class_names];
    const char *names[64];
    int k = 0;
    snprintf(names_buf, sizeof names_buf, "%s", info->class_names);
    for (char *tok = strtok(names_buf, ","); tok && k < 64; tok = strtok(NULL, ",")) names[k++] = tok;
    if (k != info->classes)
        return cli_fail("%s: __metadata__ 'class_names' names %d classes, the model has %d", a->checkpoint, k,
                        info->classes);
    int rc = 0;
    for (int i = 0; i < a->n_inputs && !rc; i++) {
        const char *path = a->inputs[i];
        size_t len = 0;
        char *text = slurp(path, &len);
        if (!text) return 1;
        int64_t lines = 0;
        for (char *line = text; line && *line && !rc;) {
            char *nl = strchr(line, '\n');
            size_t l = nl ? (size_t)(nl - line) : strlen(line);
            if (l && line[l - 1] == '\r') l--;
            lines++;
            if (l > 0) rc = classify_line(m, info, v, names, strcmp(path, "-") ? path : "stdin", lines, line, l);
            line = nl ? nl + 1 : NULL;
        }
        bool empty = true;
        for (size_t c = 0; c < len && empty; c++) empty = text[c] == '\n' || text[c] == '\r' || text[c] == ' ';
        if (!rc && empty) rc = cli_fail("%s: no text to classify (the file is empty)", path);
        free(text);
    }
    return rc;
}
