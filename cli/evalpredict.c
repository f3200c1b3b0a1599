/* nabla eval and nabla predict: load a checkpoint's model, then score a test set or classify
 * images (PNG files or IDX image files). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, fsync, readlink */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The model a checkpoint holds. A nabla checkpoint says which (its run plan); PyTorch weights
 * (a state_dict saved with safetensors) need --model and --data: the input shape, the classes
 * and the normalization are then the dataset's. */
int cli_check_finite(const char *path, nb_model *m) {
    nb_params *sl[2] = {nb_model_params(m), nb_model_buffers(m)};
    for (int s = 0; s < 2; s++) {
        int64_t at;
        int k = nb_params_nonfinite(sl[s], false, &at);
        if (k >= 0)
            return cli_fail("%s: tensor '%s' is not finite (%g at element %lld): the weights are unusable", path,
                            nb_params_name(sl[s], k), (double)nb_tensor_data(nb_params_get(sl[s], k))[at], (long long)at);
    }
    return 0;
}

nb_model *cli_load_model(const cli_args *a, cli_plan *info, nb_vocab **vocab) {
    if (vocab) *vocab = NULL;
    if (!a->checkpoint) {
        cli_fail("--checkpoint FILE is required");
        return NULL;
    }
    nb_meta *meta = nb_checkpoint_meta(a->checkpoint);
    if (!meta) {
        cli_fail("%s", nb_last_error());
        return NULL;
    }
    int rc = 0;
    if (cli_is_nabla_checkpoint(meta)) {
        rc = cli_plan_from_meta(meta, a->checkpoint, info);
        if (!rc && a->model && strcmp(a->model, info->model) != 0)
            rc = cli_fail("%s holds a %s model, not --model %s", a->checkpoint, info->model, a->model);
    } else if (a->model && nb_zoo_input_kind(a->model) == NB_ZOO_TOKENS) {
        rc = cli_fail("%s is not a nabla checkpoint: a text model needs one (it holds the model's vocabulary)",
                      a->checkpoint);
    } else if (!a->model || !a->data) {
        const char *f = nb_meta_get(meta, "format");
        rc = cli_fail("%s is not a nabla checkpoint (format '%s'): give --model NAME and --data NAME to load it as "
                      "PyTorch weights", a->checkpoint, f ? f : "none");
    } else {
        *info = (cli_plan){.c = 1, .h = 28, .w = 28, .classes = CLI_N_CLASSES, .epoch = -1};
        snprintf(info->model, sizeof info->model, "%s", a->model);
        snprintf(info->dataset, sizeof info->dataset, "%s", a->data);
        cli_norm(a->data, &info->mean, &info->std);
    }
    nb_vocab *v = NULL;
    nb_zoo_input kind = rc ? NB_ZOO_UNKNOWN : nb_zoo_input_kind(info->model);
    if (kind == NB_ZOO_AUTOENCODER || kind == NB_ZOO_GAN)
        rc = cli_fail("%s holds a generative model (%s): eval and predict score classifiers; its figures are in its run's "
                      "metrics.jsonl and report.txt, and nabla sample --checkpoint %s draws images from a GAN or a VAE",
                      a->checkpoint, info->model, a->checkpoint);
    if (!rc && nb_zoo_input_kind(info->model) == NB_ZOO_TOKENS) {
        v = nb_vocab_parse(nb_meta_get(meta, "vocab"));
        if (!v) rc = cli_fail("%s: __metadata__ 'vocab': %s", a->checkpoint, nb_last_error());
    }
    nb_meta_free(meta);
    nb_model *m = rc ? NULL
                : v ? nb_zoo_text_new(info->model, (int)nb_vocab_size(v), info->classes)
                    : nb_zoo_new(info->model, info->c, info->h, info->w, info->classes);
    /* a LoRA run's checkpoint holds the adapters: the model gets them before loading */
    if (!rc && m && info->lora > 0 && nb_lora_apply(m, "encoder", info->lora, info->lora_alpha, NULL)) {
        cli_fail("%s: LoRA rank %d: %s", a->checkpoint, info->lora, nb_last_error());
        nb_model_free(m);
        nb_vocab_free(v);
        return NULL;
    }
    if (!rc && (!m || nb_checkpoint_load(a->checkpoint, m, NULL, NULL, NULL))) {
        cli_fail("%s", nb_last_error());
        nb_model_free(m);
        nb_vocab_free(v);
        return NULL;
    }
    if (rc) {
        nb_vocab_free(v);
        return NULL;
    }
    /* Weights that are not finite would give a NaN loss or (through a ReLU in older builds)
     * quietly wrong answers: refuse them, naming the tensor. */
    if (m && cli_check_finite(a->checkpoint, m)) {
        nb_model_free(m);
        nb_vocab_free(v);
        return NULL;
    }
    if (m) nb_model_set_training(m, false);
    if (vocab) *vocab = v;
    else nb_vocab_free(v);
    return m;
}

int cli_eval(const cli_args *a) {
    cli_plan info;
    nb_vocab *v = NULL;
    nb_model *m = cli_load_model(a, &info, &v);
    if (!m) return 1;
    const char *data = a->data ? a->data : info.dataset;
    if (v || cli_text_data(data)) {
        int rt = cli_eval_text(a, m, &info, v, data);
        nb_vocab_free(v);
        nb_model_free(m);
        return rt;
    }
    char dir[4096];
    int rc = 0;
    if (!cli_known_data(data)) rc = cli_fail("eval: --data mnist or fashion-mnist is required");
    else if (cli_find_data(data, a->data_dir, dir, sizeof dir)) rc = 1;
    if (!rc && info.classes != 10)
        rc = cli_fail("%s: the model has %d classes, %s has 10", a->checkpoint, info.classes, data);
    nb_dataset *test = rc ? NULL : cli_load(data, dir, 0, a->limit_test, info.mean, info.std, info.classes);
    if (!rc && !test) rc = 1;
    if (!rc && (test->c != info.c || test->h != info.h || test->w != info.w))
        rc = cli_fail("%s: images are %dx%dx%d, the model expects %dx%dx%d", dir, test->c, test->h, test->w,
                      info.c, info.h, info.w);
    nb_confusion *conf = rc ? NULL : nb_confusion_new(info.classes);
    nb_epoch_stats st;
    if (!rc && (!conf || cli_evaluate(m, test, cli_given(a, "--batch") && a->batch < 1000 ? a->batch : 1000, conf, NULL, &st)))
        rc = cli_fail("%s", nb_last_error());
    if (!rc) {
        const char *const *names = nb_class_names(data);
        char *rep = nb_classification_report(conf, names, 4), *cm = nb_confusion_format(conf, names);
        char from[48];
        if (info.epoch < 0) snprintf(from, sizeof from, "PyTorch weights");
        else snprintf(from, sizeof from, "epoch %lld", (long long)info.epoch);
        printf("%s (%s, %s) on %s test: %lld images, loss %.4f, accuracy %.4f\n\n", a->checkpoint, info.model, from, data, (long long)st.samples, st.loss, st.accuracy);
        printf("%s\nconfusion matrix:\n%s", rep ? rep : "", cm ? cm : "");
        free(rep);
        free(cm);
    }
    nb_confusion_free(conf);
    nb_dataset_free(test);
    nb_model_free(m);
    return rc;
}

/* Classifies n images of h*w bytes and prints one line each. */
static int classify(nb_model *m, const cli_plan *info, const char *label, uint8_t *px, int64_t n,
                    bool invert, const char *const *names) {
    int64_t dim = (int64_t)info->c * info->h * info->w;
    nb_dataset d = {.n = n, .dim = dim, .c = info->c, .h = info->h, .w = info->w, .n_classes = info->classes,
                    .x_u8 = px, .mean = info->mean, .std = info->std};
    d.y = calloc((size_t)n, sizeof(int64_t));
    float *probs = malloc((size_t)(n * info->classes) * sizeof(float));
    nb_epoch_stats st;
    int rc = 0;
    if (invert)
        for (int64_t i = 0; i < n * dim; i++) px[i] = (uint8_t)(255 - px[i]);
    if (!d.y || !probs) rc = cli_fail("out of memory");
    else if (cli_evaluate(m, &d, 256, NULL, probs, &st)) rc = cli_fail("%s: %s", label, nb_last_error());
    for (int64_t i = 0; !rc && i < n; i++) {
        int64_t k;
        nb_argmax_rows(probs + i * info->classes, 1, info->classes, &k);
        char idx[32] = "", num[24];
        if (n > 1) snprintf(idx, sizeof idx, "[%lld]", (long long)i);
        snprintf(num, sizeof num, "%lld", (long long)k);
        printf("%s%s: %s (p=%.4f)\n", label, idx, names ? names[k] : num, probs[i * info->classes + k]);
    }
    free(d.y);
    free(probs);
    return rc;
}

int cli_predict(const cli_args *a) {
    cli_plan info;
    if (a->n_inputs == 0) return cli_fail("predict: give one or more IMAGE.png or IDX image files (text files, or - "
                                          "for standard input, for a text model)");
    nb_vocab *v = NULL;
    nb_model *m = cli_load_model(a, &info, &v);
    if (!m) return 1;
    if (v) {
        int rt = cli_predict_text(a, m, &info, v);
        nb_vocab_free(v);
        nb_model_free(m);
        return rt;
    }
    /* Class names of the known sets (10 classes); class numbers otherwise. */
    const char *const *names = info.classes == 10 ? nb_class_names(info.dataset) : NULL;
    int rc = 0;
    if (info.c != 1)
        rc = cli_fail("%s: the model expects %d-channel images; predict reads gray (1-channel) PNG and IDX files",
                      a->checkpoint, info.c);
    for (int i = 0; i < a->n_inputs && !rc; i++) {
        const char *path = a->inputs[i];
        size_t len = strlen(path);
        if (len > 4 && strcasecmp(path + len - 4, ".png") == 0) {
            uint8_t *px = malloc((size_t)info.h * (size_t)info.w);
            if (!px) rc = cli_fail("out of memory");
            else if (nb_png_read_gray(path, info.h, info.w, px)) rc = cli_fail("%s", nb_last_error());
            else rc = classify(m, &info, path, px, 1, a->invert, names);
            free(px);
        } else {
            nb_dataset *d = nb_idx_load(path, NULL);
            if (!d) rc = cli_fail("%s", nb_last_error());
            else if (d->h != info.h || d->w != info.w)
                rc = cli_fail("%s: images are %dx%d, the model expects %dx%d", path, d->h, d->w, info.h, info.w);
            else rc = classify(m, &info, path, d->x_u8, d->n, a->invert, names);
            nb_dataset_free(d);
        }
    }
    nb_model_free(m);
    return rc;
}
