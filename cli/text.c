/* The text sets for the command line: spam and langid (sequences, one class each),
 * moby-dick (a character stream for a language model) and sotu (sentences of words: tagged for
 * ner; for mlm, with "sotu,moby-dick" Moby-Dick's sentences too); finding them, loading them (with
 * --limit-train / --limit-test), their batch sources, and the vocabulary a text model keeps in
 * its checkpoint. */
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool cli_text_data(const char *name) {
    return name && (!strcmp(name, "spam") || !strcmp(name, "langid") || !strcmp(name, "moby-dick") || cli_text_sotu(name));
}
bool cli_text_sotu(const char *name) { return name && (!strcmp(name, "sotu") || !strcmp(name, "sotu,moby-dick")); }
bool cli_text_stream(const char *name) { return name && !strcmp(name, "moby-dick"); }

const char *cli_text_model_for(const char *data) {
    return !data ? NULL : !strcmp(data, "spam") ? "spam" : !strcmp(data, "langid") ? "langid"
                       : cli_text_sotu(data)      ? "ner"
                                                  : "charlm";
}

/* Whether dir holds the set: a file or folder that only it has. */
static bool holds(const char *name, const char *dir) {
    const char *probe = !strcmp(name, "spam")     ? "spam-1"
                        : !strcmp(name, "langid") ? "american-english"
                        : !strcmp(name, "sotu")   ? "speeches"
                                                  : "data.txt";
    char p[PATH_MAX + 64];
    struct stat sb;
    return snprintf(p, sizeof p, "%s/%s", dir, probe) < (int)sizeof p && stat(p, &sb) == 0;
}

int cli_text_find(const char *name, const char *data_dir, char *out, size_t cap) {
    const char *what = !strcmp(name, "spam")     ? "the spam-assassin folders (easy-ham-1, ..., spam-2)"
                       : !strcmp(name, "langid") ? "the word lists (american-english, ngerman, ...)"
                       : !strcmp(name, "sotu")   ? "the speeches folder and the name lists (male.txt, female.txt, states.txt)"
                                                 : "data.txt (the text of Moby-Dick)";
    if (data_dir) {
        if (holds(name, data_dir)) return snprintf(out, cap, "%s", data_dir) >= (int)cap;
        return cli_fail("--data-dir %s: %s not there", data_dir, what);
    }
    char tried[6][PATH_MAX + 64];
    int n = cli_data_places(name, false, tried);
    if (!strcmp(name, "langid")) snprintf(tried[n++], sizeof tried[0], "/usr/share/dict");
    for (int i = 0; i < n; i++)
        if (holds(name, tried[i])) return snprintf(out, cap, "%s", tried[i]) >= (int)cap;
    char list[6 * (PATH_MAX + 64)] = "";
    for (int i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", tried[i]);
    return cli_fail("%s not found (looked for %s in %s); install it with: bash scripts/data.sh %s, or pass "
                    "--data-dir DIR", name, what, list, name);
}

/* A subset of d when limit asks for fewer samples (d is replaced). */
static int limit_set(nb_text_dataset **d, int64_t limit) {
    if (limit <= 0 || limit >= (*d)->n) return 0;
    nb_text_dataset *s = nb_text_dataset_subset(*d, limit);
    if (!s) return cli_fail("%s", nb_last_error());
    nb_text_dataset_free(*d);
    *d = s;
    return 0;
}

/* sotu: the NER split (tags named in class_names), or for mlm the masked-LM corpus (Moby-Dick's
 * sentences added for "sotu,moby-dick"). */
static int open_sotu(cli_text *t, const char *name, bool mlm, const char *data_dir) {
    char dir[PATH_MAX + 64], moby[PATH_MAX + 80] = "";
    if (cli_text_find("sotu", data_dir, dir, sizeof dir)) return 1;
    if (strcmp(name, "sotu") != 0) {
        if (!mlm) return cli_fail("--data %s: Moby-Dick's sentences join the masked-LM corpus only (--model mlm)", name);
        if (cli_text_find("moby-dick", NULL, moby, sizeof moby - 16)) return 1;
        strcat(moby, "/data.txt");
    }
    t->split = mlm ? nb_sotu_mlm_load(dir, *moby ? moby : NULL) : nb_sotu_ner_load(dir);
    if (!t->split) return cli_fail("%s", nb_last_error());
    t->tagged = !mlm;
    t->mlm = mlm;
    for (int c = 0; !mlm && c < t->split->train->n_tags; c++)
        snprintf(t->class_names + strlen(t->class_names), sizeof t->class_names - strlen(t->class_names), "%s%s",
                 c ? "," : "", t->split->train->tag_names[c]);
    return 0;
}

int cli_text_open(cli_text *t, const char *name, const char *model, const char *data_dir, int64_t limit_train,
                  int64_t limit_test) {
    memset(t, 0, sizeof *t);
    char dir[PATH_MAX + 64];
    if (cli_text_sotu(name)) {
        if (open_sotu(t, name, model && !strcmp(model, "mlm"), data_dir) || limit_set(&t->split->train, limit_train) ||
            limit_set(&t->split->test, limit_test))
            return 1;
        t->vocab = t->split->vocab;
        t->n_train = t->split->train->n;
        t->n_test = t->split->test->n;
    } else if (cli_text_find(name, data_dir, dir, sizeof dir)) {
        return 1;
    } else if (cli_text_stream(name)) {
        char path[PATH_MAX + 80];
        snprintf(path, sizeof path, "%s/data.txt", dir);
        if (!(t->corpus = nb_charlm_load(path))) return cli_fail("%s", nb_last_error());
        if (limit_train > 0 && limit_train < t->corpus->n_train) t->corpus->n_train = limit_train;
        if (limit_test > 0 && limit_test < t->corpus->n_valid) t->corpus->n_valid = limit_test;
        if (t->corpus->n_train < 2 || t->corpus->n_valid < 2)
            return cli_fail("%s: %lld training and %lld validation characters: too few for a language model", path,
                            (long long)t->corpus->n_train, (long long)t->corpus->n_valid);
        t->vocab = t->corpus->vocab;
        t->n_train = t->corpus->n_train;
        t->n_test = t->corpus->n_valid;
    } else {
        t->split = !strcmp(name, "spam") ? nb_spam_load(dir) : nb_langid_load(dir);
        if (!t->split) return cli_fail("%s", nb_last_error());
        if (limit_set(&t->split->train, limit_train) || limit_set(&t->split->test, limit_test)) return 1;
        t->vocab = t->split->vocab;
        t->n_train = t->split->train->n;
        t->n_test = t->split->test->n;
        /* class names, comma-separated, for the checkpoint */
        for (int c = 0; c < t->split->train->n_classes; c++) {
            size_t at = strlen(t->class_names);
            if (at + strlen(t->split->train->class_names[c]) + 2 >= sizeof t->class_names)
                return cli_fail("%s: the class names are too long", dir);
            snprintf(t->class_names + at, sizeof t->class_names - at, "%s%s", c ? "," : "",
                     t->split->train->class_names[c]);
        }
    }
    if (!(t->vocab_str = nb_vocab_serialize(t->vocab))) return cli_fail("out of memory");
    return 0;
}

int cli_text_sources(cli_text *t, int64_t batch, uint64_t seed, nb_batch_source *train, nb_batch_source *test) {
    if (t->corpus) {
        t->sl = nb_stream_loader_new(t->corpus->train, t->corpus->n_train, batch, CLI_LM_STEPS, true);
        t->slt = t->sl ? nb_stream_loader_new(t->corpus->valid, t->corpus->n_valid, batch, CLI_LM_STEPS, false) : NULL;
        if (!t->slt) return cli_fail("%s", nb_last_error());
        *train = nb_stream_loader_source(t->sl);
        *test = nb_stream_loader_source(t->slt);
    } else {
        t->tl = nb_text_loader_new(t->split->train, batch, true, seed, false);
        t->tlt = t->tl ? nb_text_loader_new(t->split->test, 256, false, 0, false) : NULL;
        if (!t->tlt) return cli_fail("%s", nb_last_error());
        *train = nb_text_loader_source(t->tl);
        *test = nb_text_loader_source(t->tlt);
    }
    return 0;
}

int64_t cli_text_max_tokens(const cli_text *t) {
    if (t->corpus) return CLI_LM_STEPS;
    return t->split->train->max_len > t->split->test->max_len ? t->split->train->max_len : t->split->test->max_len;
}

void cli_text_close(cli_text *t) {
    nb_text_loader_free(t->tl);
    nb_text_loader_free(t->tlt);
    nb_stream_loader_free(t->sl);
    nb_stream_loader_free(t->slt);
    nb_text_split_free(t->split);
    nb_char_corpus_free(t->corpus);
    free(t->vocab_str);
    memset(t, 0, sizeof *t);
}
