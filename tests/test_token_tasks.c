/* The token-level tasks of the training loop. NB_TASK_TOKENS: the loss and every gradient of
 * an Embedding + Linear tagger against a computation by hand in double (cross-entropy with
 * ignore_index over the scored tokens only: padding and negative labels count for nothing),
 * the model called with the lengths, the confusion matrix and the predictions given to
 * on_pred; a short training run on a synthetic tagging task (tag = f(token, previous token))
 * reaches a stated token accuracy (0.98), and its predictions feed an entity report.
 * NB_TASK_MLM: the masking's statistics (selection rate, the 80/10/10 split, specials and
 * padding never selected, random ids never special), the evaluation masks fixed and
 * independent of the library RNG (both ways), the training masks repeatable from the seed and
 * the RNG state, the one-token fallback, argument checks, and a tiny training run that at
 * least halves the masked-token loss. Word dropout (NB_TASK_TOKENS): the replacement rate, only
 * eligible ids replaced and by their table entry, one library draw per eligible token in order
 * (a reference drawn by hand matches exactly), nothing replaced in evaluation, the labels and the
 * batch untouched, bad settings refused before anything trains; nb_vocab_shape_unks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nabla/nabla.h"
#include "train/train_impl.h"

/* ---- a list of batches as a batch source ---- */
typedef struct list_src {
    nb_batch b[8];
    int n, at;
} list_src;
static int64_t list_count(void *c) { return ((list_src *)c)->n; }
static void list_start(void *c, int64_t e) {
    (void)e;
    ((list_src *)c)->at = 0;
}
static int list_next(void *c, nb_batch *b) {
    list_src *s = c;
    if (s->at >= s->n) return 0;
    *b = s->b[s->at++];
    return 1;
}
static nb_batch_source source(list_src *s) {
    return (nb_batch_source){.ctx = s, .count = list_count, .start = list_start, .next = list_next};
}

/* ---- a token embedding that takes (ids) or (ids, lengths); bigram: adds an embedding of the
 * previous token (id V before the first), then tanh ---- */
typedef struct tok_state {
    int v, d;
    bool bigram;
    int last_n_in;
    nb_tensor *w, *w_prev;
    int64_t seen[4096], n_seen; /* the ids of the last forward (word dropout's checks) */
} tok_state;
static nb_status tok_bind(nb_module *m, nb_init init) {
    (void)init;
    tok_state *s = nb_module_state(m);
    s->w = nb_module_param(m, "weight", 2, (int64_t[]){s->v, s->d});
    if (!s->w) return NB_ERR_MEM;
    nb_tensor_fill_normal(s->w, 0, 1);
    if (s->bigram) {
        s->w_prev = nb_module_param(m, "prev", 2, (int64_t[]){s->v + 1, s->d});
        if (!s->w_prev) return NB_ERR_MEM;
        nb_tensor_fill_normal(s->w_prev, 0, 1);
    }
    return NB_OK;
}
static nb_status tok_fwd(nb_module *m, int n_in, nb_tensor *const *in, int *n_out, nb_tensor **out) {
    tok_state *s = nb_module_state(m);
    s->last_n_in = n_in;
    s->n_seen = nb_tensor_numel(in[0]) <= 4096 ? nb_tensor_numel(in[0]) : 0;
    memcpy(s->seen, nb_tensor_idata(in[0]), (size_t)s->n_seen * sizeof *s->seen);
    nb_tensor *e = nb_embedding(s->w, in[0]);
    if (e && s->bigram) {
        const int64_t n = nb_tensor_size(in[0], 0), T = nb_tensor_size(in[0], 1);
        nb_tensor *prev = nb_step_index(2, (int64_t[]){n, T}, NULL);
        if (!prev) return NB_ERR_MEM;
        const int64_t *ids = nb_tensor_idata(in[0]);
        int64_t *p = nb_tensor_idata(prev);
        for (int64_t i = 0; i < n * T; i++) p[i] = i % T ? ids[i - 1] : s->v;
        e = nb_tanh(nb_add(e, nb_embedding(s->w_prev, prev)));
    }
    if (!e) return NB_ERR_SHAPE;
    out[0] = e;
    *n_out = 1;
    return NB_OK;
}
static const nb_module_ops tok_ops = {.kind = "TokEmbedding", .bind = tok_bind, .forward_n = tok_fwd};

static nb_model *tagger(int v, int d, int k, bool bigram, tok_state **st, uint64_t seed) {
    tok_state *s = calloc(1, sizeof *s);
    s->v = v, s->d = d, s->bigram = bigram;
    if (st) *st = s;
    nb_module *net = nb_sequential_new();
    nb_sequential_add(net, "emb", nb_module_new(&tok_ops, s));
    nb_sequential_add(net, "out", nb_linear_new(d, k, true));
    nb_seed(seed);
    return nb_model_new(net, NB_INIT_DEFAULT);
}

/* A parameter's values or gradient by name. */
static nb_tensor *param(nb_model *m, const char *name) {
    nb_params *p = nb_model_params(m);
    for (int i = 0; i < nb_params_count(p); i++)
        if (strcmp(nb_params_name(p, i), name) == 0) return nb_params_get(p, i);
    return NULL;
}

/* ---- NB_TASK_TOKENS: loss and gradients by hand ---- */
enum { V = 5, D = 3, K = 4, N = 3, T = 5 };
/* The gradient hook: the step's weight (the scored tokens). */
static nb_status grab(void *ctx, nb_params *p, double weight) {
    (void)p;
    *(double *)ctx = weight;
    return NB_OK;
}

typedef struct pred_log {
    int calls;
    int64_t T, n, pred[512]; /* the last batch's */
} pred_log;
static nb_status log_pred(void *ctx, const nb_batch *b, const int64_t *pred) {
    pred_log *l = ctx;
    l->calls++;
    if (b->n * b->x_shape[0] > 512) return nb_set_error(NB_ERR_ARG, "pred_log: a batch of %lld predictions",
                                                        (long long)(b->n * b->x_shape[0]));
    l->T = b->x_shape[0];
    l->n = b->n;
    memcpy(l->pred, pred, (size_t)(b->n * b->x_shape[0]) * sizeof *pred);
    return NB_OK;
}

static void test_tokens_by_hand(void) {
    /* Labels past a sample's length are valid classes (they would change the loss if they
     * counted); -100 at real steps is not scored either. */
    static const int64_t tok[N * T] = {1, 2, 3, 4, 0, /**/ 4, 4, 1, 0, 0, /**/ 2, 0, 1, 3, 3};
    static const int64_t y[N * T] = {0, -100, 3, 1, 2, /**/ 2, 1, 0, 3, 3, /**/ 1, 2, -100, 0, -7};
    static const int64_t lens[N] = {4, 2, 5};
    tok_state *ts;
    nb_model *m = tagger(V, D, K, false, &ts, 11);
    const float *E = nb_tensor_data(param(m, "emb.weight")), *W = nb_tensor_data(param(m, "out.weight")),
                *B = nb_tensor_data(param(m, "out.bias"));
    /* By hand: z = W E[id] + b at each scored step, loss = mean of logsumexp(z) - z[y]. */
    double loss = 0, gE[V][D] = {{0}}, gW[K][D] = {{0}}, gB[K] = {0};
    int count = 0, argmax[N * T];
    for (int r = 0; r < N * T; r++) {
        double z[K], mx = -1e300, se = 0;
        for (int k = 0; k < K; k++) {
            z[k] = B[k];
            for (int d = 0; d < D; d++) z[k] += (double)W[k * D + d] * E[tok[r] * D + d];
            if (z[k] > mx) mx = z[k], argmax[r] = k;
        }
        if (r % T >= lens[r / T] || y[r] < 0) continue;
        count++;
        for (int k = 0; k < K; k++) se += exp(z[k] - mx);
        loss += mx + log(se) - z[y[r]];
    }
    for (int r = 0; r < N * T; r++) {
        if (r % T >= lens[r / T] || y[r] < 0) continue;
        double z[K], mx = -1e300, se = 0;
        for (int k = 0; k < K; k++) {
            z[k] = B[k];
            for (int d = 0; d < D; d++) z[k] += (double)W[k * D + d] * E[tok[r] * D + d];
            mx = fmax(mx, z[k]);
        }
        for (int k = 0; k < K; k++) se += exp(z[k] - mx);
        for (int k = 0; k < K; k++) {
            const double dz = (exp(z[k] - mx) / se - (k == y[r])) / count;
            gB[k] += dz;
            for (int d = 0; d < D; d++) {
                gW[k][d] += dz * E[tok[r] * D + d];
                gE[tok[r]][d] += dz * W[k * D + d];
            }
        }
    }
    loss /= count;
    CHECK(count == 8, "scored tokens %d", count);

    list_src s = {.n = 1};
    s.b[0] = (nb_batch){.n = N, .tokens = tok, .x_ndim = 1, .x_shape = {T}, .y = y, .lengths = lens};
    nb_batch_source src = source(&s);
    nb_task task = nb_task_new(NB_TASK_TOKENS);
    CHECK(strcmp(nb_task_name(NB_TASK_TOKENS), "tokens") == 0 && strcmp(nb_task_name(NB_TASK_MLM), "mlm") == 0 &&
              NB_TASK_CUSTOM == 6 && NB_TASK_TOKENS == 7,
          "names and numbers: the old kinds keep theirs");
    pred_log pl = {0};
    task.on_pred = log_pred, task.pred_ctx = &pl;
    nb_confusion *conf = nb_confusion_new(K);
    nb_epoch_stats st;
    CHECK(nb_evaluate(m, &task, &src, conf, NULL, &st) == NB_OK, "evaluate: %s", nb_last_error());
    CHECK(fabs(st.loss - loss) < 1e-6 && st.tokens == count && st.samples == N, "loss %.9g (by hand %.9g), tokens %lld",
          st.loss, loss, (long long)st.tokens);
    CHECK(ts->last_n_in == 2, "the model is called with (x, lengths): %d inputs", ts->last_n_in);
    CHECK(nb_confusion_total(conf) == count && fabs(nb_accuracy(conf) - st.accuracy) < 1e-12,
          "confusion over the scored tokens: %lld, accuracy %g vs %g", (long long)nb_confusion_total(conf),
          nb_accuracy(conf), st.accuracy);
    bool preds_ok = pl.calls == 1 && pl.T == T && pl.n == N;
    for (int r = 0; r < N * T; r++) preds_ok &= pl.pred[r] == (r % T < lens[r / T] ? argmax[r] : -1);
    CHECK(preds_ok, "on_pred: the argmax at every real step (labelled -100 or not), -1 past the length");

    /* One training step (learning rate 0: the weights stay): the gradients are the hand ones
     * and the gradient hook's weight is the scored count. */
    double weight = 0;
    nb_train_opts o = {.grad_hook = grab, .grad_hook_ctx = &weight};
    nb_optim *opt = nb_sgd_new(nb_model_params(m), (nb_sgd_opts){0.0f, 0, 0, false});
    CHECK(nb_train_epoch(m, opt, &task, &src, 0, &o, &st) == NB_OK, "train: %s", nb_last_error());
    CHECK(weight == count && fabs(st.loss - loss) < 1e-6, "step weight %g loss %g", weight, st.loss);
    double worst = 0;
    const float *gE_ = nb_tensor_grad(param(m, "emb.weight")), *gW_ = nb_tensor_grad(param(m, "out.weight")),
                *gB_ = nb_tensor_grad(param(m, "out.bias"));
    for (int v = 0; v < V; v++)
        for (int d = 0; d < D; d++) worst = fmax(worst, fabs(gE_[v * D + d] - gE[v][d]));
    for (int k = 0; k < K; k++) {
        worst = fmax(worst, fabs(gB_[k] - gB[k]));
        for (int d = 0; d < D; d++) worst = fmax(worst, fabs(gW_[k * D + d] - gW[k][d]));
    }
    CHECK(worst < 1e-6, "gradients differ from the hand ones by %g", worst);
    /* Token 0 only at padded steps and at steps labelled -100: its embedding gets no gradient
     * although its rows are computed. */
    static const int64_t tok2[N * T] = {1, 0, 3, 4, 0, /**/ 4, 4, 0, 0, 0, /**/ 2, 1, 0, 3, 3};
    s.b[0].tokens = tok2;
    CHECK(nb_train_epoch(m, opt, &task, &src, 0, &o, &st) == NB_OK, "train: %s", nb_last_error());
    bool zero = true;
    for (int d = 0; d < D; d++) zero &= gE_[0 * D + d] == 0.0f;
    CHECK(zero, "a token only at padded steps gets no gradient");
    /* Without lengths the model gets one input and every step with a label >= 0 counts. */
    s.b[0] = (nb_batch){.n = N, .tokens = tok, .x_ndim = 1, .x_shape = {T}, .y = y};
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &st) == NB_OK && st.tokens == 12 && ts->last_n_in == 1,
          "no lengths: %lld tokens, %d inputs: %s", (long long)st.tokens, ts->last_n_in, nb_last_error());
    /* Bad input. */
    static const int64_t ybig[N * T] = {0, 4, 0, 0, 0, /**/ 0, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 0};
    s.b[0].y = ybig;
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &st) == NB_ERR_ARG && strstr(nb_last_error(), "sample 0 at step 1"),
          "label 4 of 4 classes: %s", nb_last_error());
    static const int64_t none[N * T] = {-100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100,
                                        -100, -100};
    s.b[0].y = none;
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &st) == NB_ERR_ARG && strstr(nb_last_error(), "no token"),
          "nothing scored: %s", nb_last_error());
    s.b[0].y = NULL;
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &st) == NB_ERR_ARG && strstr(nb_last_error(), "labels"), "no y: %s",
          nb_last_error());
    static const int64_t badlen[N] = {4, 6, 5};
    s.b[0].y = y, s.b[0].lengths = badlen;
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &st) == NB_ERR_ARG && strstr(nb_last_error(), "length 6"),
          "length past T: %s", nb_last_error());
    nb_optim_free(opt);
    nb_confusion_free(conf);
    nb_model_free(m);
}

/* The evaluation's predictions into an entity report, sentence by sentence (docs/layers.md). */
static nb_status to_report(void *ctx, const nb_batch *b, const int64_t *pred) {
    const int64_t steps = b->x_shape[0]; /* this batch's T */
    for (int64_t i = 0; i < b->n; i++) {
        const int64_t len = b->lengths ? b->lengths[i] : steps;
        nb_status st = nb_entity_report_add(ctx, b->y + i * steps, pred + i * steps, len);
        if (st) return st;
    }
    return NB_OK;
}

/* ---- NB_TASK_TOKENS: learning tag = (token + 2 * previous token) % 4 ---- */
static void test_tokens_training(void) {
    enum { NS = 48, TMAX = 12, VOC = 8, TAGS = 4, B = 16 };
    static int64_t tok[NS * TMAX], y[NS * TMAX], len[NS], idx[NS];
    uint64_t rs = 99;
    for (int i = 0; i < NS; i++) {
        len[i] = 3 + (int64_t)(nb_splitmix64(&rs) % 10);
        idx[i] = i;
    }
    /* Three batches padded to their own longest sample (different T). */
    list_src s = {.n = 3};
    int64_t *tp = tok, *yp = y;
    for (int b = 0; b < 3; b++) {
        int64_t Tb = 0;
        for (int i = 0; i < B; i++) Tb = len[b * B + i] > Tb ? len[b * B + i] : Tb;
        for (int i = 0; i < B; i++)
            for (int64_t t = 0; t < Tb; t++) {
                int64_t *tk = tp + i * Tb + t, *yk = yp + i * Tb + t;
                *tk = (int64_t)(nb_splitmix64(&rs) % VOC);
                *yk = (*tk + 2 * (t ? tk[-1] : 0)) % TAGS;
                if (t >= len[b * B + i]) *yk = (int64_t)(nb_splitmix64(&rs) % TAGS); /* padding: noise */
                else if (nb_splitmix64(&rs) % 10 == 0) *yk = -100; /* some unscored */
            }
        s.b[b] = (nb_batch){.n = B, .tokens = tp, .x_ndim = 1, .x_shape = {Tb}, .y = yp, .lengths = len + b * B,
                            .idx = idx + b * B};
        tp += B * Tb, yp += B * Tb;
    }
    nb_batch_source src = source(&s);
    nb_model *m = tagger(VOC, 24, TAGS, true, NULL, 3);
    nb_optim *o = nb_adam_new(nb_model_params(m), nb_adam_defaults(0.05f));
    nb_task task = nb_task_new(NB_TASK_TOKENS);
    nb_epoch_stats st, first;
    nb_evaluate(m, &task, &src, NULL, NULL, &first);
    for (int e = 0; e < 60; e++) nb_train_epoch(m, o, &task, &src, e, NULL, &st);
    nb_confusion *conf = nb_confusion_new(TAGS);
    CHECK(nb_evaluate(m, &task, &src, conf, NULL, &st) == NB_OK, "evaluate: %s", nb_last_error());
    CHECK(st.accuracy >= 0.98 && st.loss < 0.2 * first.loss, "token accuracy %.4f (before: %.4f), loss %g from %g",
          st.accuracy, first.accuracy, st.loss, first.loss);
    CHECK(nb_confusion_total(conf) == st.tokens && fabs(nb_accuracy(conf) - st.accuracy) < 1e-12,
          "confusion %lld of %lld tokens", (long long)nb_confusion_total(conf), (long long)st.tokens);
    /* The same pass into an entity report: the same tokens (-100 and padding left out) and
     * accuracy; a callback's error stops the evaluation. */
    static const char *const names[TAGS] = {"O", "B-X", "I-X", "B-Y"};
    nb_entity_report *rep = nb_entity_report_new(names, TAGS);
    task.on_pred = to_report, task.pred_ctx = rep;
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &st) == NB_OK && nb_entity_report_tokens(rep) == st.tokens &&
              fabs(nb_entity_report_accuracy(rep) - st.accuracy) < 1e-12 && nb_entity_report_micro_f1(rep) > 0.95,
          "entity report: %lld tokens, accuracy %g, micro F1 %g: %s", (long long)nb_entity_report_tokens(rep),
          nb_entity_report_accuracy(rep), nb_entity_report_micro_f1(rep), nb_last_error());
    static const char *const three[3] = {"O", "B-X", "I-X"}; /* tag 3 is out of its range */
    nb_entity_report *small = nb_entity_report_new(three, 3);
    task.pred_ctx = small;
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &st) == NB_ERR_ARG && strstr(nb_last_error(), "tag ids are 0..2"),
          "a callback's error: %s", nb_last_error());
    nb_entity_report_free(small);
    nb_entity_report_free(rep);
    nb_confusion_free(conf);
    nb_optim_free(o);
    nb_model_free(m);
}

/* ---- NB_TASK_TOKENS: word dropout ---- */
enum { WV = 90, WSPEC = 8 }; /* the table's ids: 0..89, 0..7 specials; ids 90..99 are outside it */
static int64_t g_unk[WV];
static nb_task wd_task(float p) {
    for (int i = 0; i < WV; i++) g_unk[i] = i < WSPEC || i == 40 ? i : 3 + i % 5; /* 40 maps to itself */
    nb_task t = nb_task_new(NB_TASK_TOKENS);
    t.word_dropout = p, t.word_unk = g_unk, t.word_unk_n = WV;
    return t;
}
static bool wd_eligible(int64_t id) { return id >= 0 && id < WV && g_unk[id] != id; }

static void test_word_dropout_statistics(void) {
    enum { NS = 400, TT = 50 };
    static int64_t tok[NS * TT], keep[NS * TT], len[NS], ids[NS * TT], ref[NS * TT], ids2[NS * TT];
    uint64_t rs = 21;
    for (int i = 0; i < NS; i++) {
        len[i] = (int64_t)(nb_splitmix64(&rs) % (TT + 1));
        for (int t = 0; t < TT; t++) /* ids 0..99: specials, 40 (its own entry), ids past the table; padding 0 or 50 */
            tok[i * TT + t] = t < len[i] ? (int64_t)(nb_splitmix64(&rs) % 100) : t & 1 ? 50 : 0;
    }
    memcpy(keep, tok, sizeof tok);
    nb_batch b = {.n = NS, .tokens = tok, .x_ndim = 1, .x_shape = {TT}, .lengths = len};
    const float p = 0.3f;
    nb_task task = wd_task(p);
    CHECK(nb_task_new(NB_TASK_TOKENS).word_dropout == 0.0f && nb_task_new(NB_TASK_TOKENS).word_unk == NULL,
          "word dropout is off by default");
    nb_seed(5);
    int64_t replaced = -1;
    CHECK(nb__word_dropout(&task, &b, true, ids, &replaced) == NB_OK, "word dropout: %s", nb_last_error());
    uint64_t after[4], want[4];
    nb_rng_get_state(after);
    /* The reference: one draw per eligible real token, samples then steps, from the same seed. */
    nb_seed(5);
    int64_t eligible = 0, bad = 0, count = 0, shapes[8] = {0};
    for (int i = 0; i < NS; i++)
        for (int t = 0; t < TT; t++) {
            const int64_t r = i * TT + t, o = tok[r];
            ref[r] = o;
            if (t < len[i] && wd_eligible(o)) {
                eligible++;
                if ((double)(nb_rng_next() >> 11) * 0x1p-53 < (double)p) ref[r] = g_unk[o];
            }
            if (ids[r] == o) continue;
            count++;
            bad += t >= len[i] || !wd_eligible(o) || ids[r] != g_unk[o]; /* only eligible real ids, by their entry */
            if (ids[r] >= 0 && ids[r] < 8) shapes[ids[r]]++;
        }
    nb_rng_get_state(want);
    CHECK(bad == 0, "%lld replacements break the rules (padding, specials, id 40, ids past the table untouched; "
          "an eligible id becomes its entry)", (long long)bad);
    CHECK(!memcmp(ids, ref, sizeof ids) && !memcmp(after, want, sizeof after),
          "one draw per eligible token, none for the others: the replacements and the RNG state match a reference");
    CHECK(!memcmp(tok, keep, sizeof tok), "the batch is not modified");
    const double rate = (double)count / (double)eligible, sigma = sqrt(0.3 * 0.7 / (double)eligible);
    CHECK(replaced == count && eligible > 7000 && fabs(rate - 0.3) < 5 * sigma,
          "replacement rate %.4f of %lld eligible tokens (p 0.3, 5 sigma %.4f), counted %lld", rate,
          (long long)eligible, 5 * sigma, (long long)replaced);
    CHECK(shapes[3] > 0 && shapes[4] > 0 && shapes[5] > 0 && shapes[6] > 0 && shapes[7] > 0,
          "every unknown of the table is used: %lld %lld %lld %lld %lld", (long long)shapes[3], (long long)shapes[4],
          (long long)shapes[5], (long long)shapes[6], (long long)shapes[7]);
    /* Repeatable from the seed and from a stored RNG state; the next batch differs. */
    nb_seed(5);
    nb__word_dropout(&task, &b, true, ids2, NULL);
    CHECK(!memcmp(ids, ids2, sizeof ids), "the same seed, the same replacements");
    uint64_t state[4];
    nb_rng_get_state(state);
    nb__word_dropout(&task, &b, true, ids, NULL);
    nb_rng_set_state(state);
    nb__word_dropout(&task, &b, true, ids2, NULL);
    CHECK(!memcmp(ids, ids2, sizeof ids), "the same RNG state, the same replacements");
    nb__word_dropout(&task, &b, true, ids2, NULL);
    CHECK(memcmp(ids, ids2, sizeof ids) != 0, "the next batch's draws differ");
    /* Not training, or p = 0: a plain copy and no draws. */
    nb_rng_get_state(state);
    CHECK(nb__word_dropout(&task, &b, false, ids, &replaced) == NB_OK && replaced == 0 && !memcmp(ids, tok, sizeof ids),
          "evaluation: nothing replaced");
    nb_task off = nb_task_new(NB_TASK_TOKENS);
    CHECK(nb__word_dropout(&off, &b, true, ids, &replaced) == NB_OK && replaced == 0 && !memcmp(ids, tok, sizeof ids),
          "word_dropout 0 (no table): nothing replaced: %s", nb_last_error());
    nb_rng_get_state(after);
    CHECK(!memcmp(state, after, sizeof state), "no draws without word dropout or in evaluation");
}

/* Through the loop: the model reads the replaced ids in training (those of nb__word_dropout
 * from the same RNG state) and the batch's ids in evaluation; the labels are the batch's (the
 * loss equals that of a run without dropout on the replaced ids); bad settings are refused
 * before anything trains. */
static void test_word_dropout_loop(void) {
    enum { NS = 6, TT = 10 };
    static int64_t tok[NS * TT], y[NS * TT], len[NS] = {10, 7, 3, 10, 9, 1}, keep[NS * TT], keep_y[NS * TT];
    static int64_t dropped[NS * TT];
    uint64_t rs = 4;
    for (int r = 0; r < NS * TT; r++) {
        tok[r] = (int64_t)(nb_splitmix64(&rs) % 100);
        y[r] = (int64_t)(nb_splitmix64(&rs) % 4);
    }
    memcpy(keep, tok, sizeof tok), memcpy(keep_y, y, sizeof y);
    list_src s = {.n = 1};
    s.b[0] = (nb_batch){.n = NS, .tokens = tok, .x_ndim = 1, .x_shape = {TT}, .y = y, .lengths = len};
    nb_batch_source src = source(&s);
    nb_task task = wd_task(0.5f);
    tok_state *ts;
    nb_model *m = tagger(100, 4, 4, true, &ts, 2);
    nb_optim *o = nb_sgd_new(nb_model_params(m), (nb_sgd_opts){.lr = 0.0f});
    nb_epoch_stats st, plain;
    nb_seed(8);
    nb__word_dropout(&task, &s.b[0], true, dropped, NULL);
    nb_seed(8);
    CHECK(nb_train_epoch(m, o, &task, &src, 0, NULL, &st) == NB_OK, "train: %s", nb_last_error());
    int64_t changed = 0;
    for (int r = 0; r < NS * TT; r++) changed += dropped[r] != tok[r];
    CHECK(ts->n_seen == NS * TT && !memcmp(ts->seen, dropped, sizeof dropped) && changed > 5,
          "training: the model reads the replaced ids (%lld replaced)", (long long)changed);
    CHECK(!memcmp(tok, keep, sizeof tok) && !memcmp(y, keep_y, sizeof y),
          "the batch's ids and labels are not modified");
    /* The same loss as training without word dropout on a batch of the replaced ids. */
    list_src s2 = {.n = 1};
    s2.b[0] = s.b[0], s2.b[0].tokens = dropped;
    nb_batch_source src2 = source(&s2);
    nb_task none = nb_task_new(NB_TASK_TOKENS);
    CHECK(nb_train_epoch(m, o, &none, &src2, 0, NULL, &plain) == NB_OK && plain.loss == st.loss &&
              plain.tokens == st.tokens && plain.accuracy == st.accuracy,
          "the labels are the batch's: loss %.9g vs %.9g, %lld vs %lld tokens", st.loss, plain.loss,
          (long long)st.tokens, (long long)plain.tokens);
    uint64_t before[4], after[4];
    nb_rng_get_state(before);
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &st) == NB_OK && !memcmp(ts->seen, tok, sizeof tok),
          "evaluation: the model reads the batch's ids: %s", nb_last_error());
    nb_rng_get_state(after);
    CHECK(!memcmp(before, after, sizeof before), "evaluation draws nothing");
    /* Refused, naming what is wrong, with the parameters untouched. */
    static int64_t bad_unk[WV];
    memcpy(bad_unk, g_unk, sizeof bad_unk);
    struct { float p; const int64_t *unk; int64_t n; int64_t bad_at, bad_to; const char *want; } cases[] = {
        {1.0f, g_unk, WV, -1, 0, "word_dropout is 1"},
        {-0.1f, g_unk, WV, -1, 0, "word_dropout is -0.1"},
        {NAN, g_unk, WV, -1, 0, "expected a probability in [0, 1)"},
        {0.2f, NULL, WV, -1, 0, "needs the table word_unk"},
        {0.2f, g_unk, 0, -1, 0, "needs the table word_unk"},
        {0.2f, bad_unk, WV, 17, WV, "word_unk[17] is 90, outside the table's ids [0, 90)"},
        {0.2f, bad_unk, WV, 9, -1, "word_unk[9] is -1"},
    };
    nb_params *pp = nb_model_params(m);
    const int64_t np = nb_params_numel(pp);
    float *w0 = malloc((size_t)np * sizeof *w0);
    memcpy(w0, nb_params_data(pp), (size_t)np * sizeof *w0);
    nb_optim *o2 = nb_sgd_new(pp, (nb_sgd_opts){.lr = 0.5f});
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(bad_unk, g_unk, sizeof bad_unk);
        if (cases[c].bad_at >= 0) bad_unk[cases[c].bad_at] = cases[c].bad_to;
        nb_task t = task;
        t.word_dropout = cases[c].p, t.word_unk = cases[c].unk, t.word_unk_n = cases[c].n;
        int64_t ids[NS * TT];
        CHECK(nb__word_dropout(&t, &s.b[0], true, ids, NULL) == NB_ERR_ARG && strstr(nb_last_error(), cases[c].want),
              "case %zu: %s (wanted '%s')", c, nb_last_error(), cases[c].want);
        CHECK(nb_train_epoch(m, o2, &t, &src, 0, NULL, &st) == NB_ERR_ARG && strstr(nb_last_error(), cases[c].want) &&
                  !memcmp(w0, nb_params_data(pp), (size_t)np * sizeof *w0),
              "case %zu through the loop: %s (wanted '%s'), nothing trained", c, nb_last_error(), cases[c].want);
        CHECK(nb_evaluate(m, &t, &src, NULL, NULL, &st) == NB_ERR_ARG, "case %zu: evaluation refuses it too", c);
    }
    free(w0);
    nb_optim_free(o2);
    nb_optim_free(o);
    nb_model_free(m);
}

/* nb_vocab_shape_unks: specials to themselves, every word to the unknown of its shape (the id
 * the vocabulary gives that word when it does not know it); other vocabularies refused. */
static void test_vocab_shape_unks(void) {
    static const char *const words[] = {"the", "Washington", "USA", "1789", ",", "I", "Émile", "élan"};
    enum { NW = sizeof words / sizeof words[0] };
    static const int64_t want[NW] = {NB_VOCAB_UNK_LOWER, NB_VOCAB_UNK_CAP, NB_VOCAB_UNK_CAPS, NB_VOCAB_UNK_D,
                                     NB_VOCAB_UNK_P,     NB_VOCAB_UNK_CAP, NB_VOCAB_UNK_CAP,  NB_VOCAB_UNK_LOWER};
    nb_vocab *v = nb_vocab_new(NB_TOKENIZER_CASED_WORDS, true, words, NW);
    int64_t *unk = v ? nb_vocab_shape_unks(v) : NULL;
    CHECK(unk != NULL && nb_vocab_size(v) == NB_VOCAB_CASED_SPECIALS + NW, "shape unks: %s", nb_last_error());
    for (int64_t id = 0; unk && id < NB_VOCAB_CASED_SPECIALS; id++)
        CHECK(unk[id] == id, "special %lld -> %lld", (long long)id, (long long)unk[id]);
    for (int w = 0; unk && w < NW; w++) {
        const int64_t id = NB_VOCAB_CASED_SPECIALS + w;
        CHECK(unk[id] == want[w] && unk[id] == nb_token_shape(words[w], strlen(words[w])),
              "'%s' (id %lld) -> %lld, wanted %lld", words[w], (long long)id, (long long)unk[id], (long long)want[w]);
    }
    free(unk);
    nb_vocab_free(v);
    static const char *const lower[] = {"the", "cat"};
    v = nb_vocab_new(NB_TOKENIZER_WORDS, true, lower, 2);
    CHECK(v && !nb_vocab_shape_unks(v) && strstr(nb_last_error(), "cased-words"), "words vocabulary: %s",
          nb_last_error());
    nb_vocab_free(v);
    v = nb_vocab_new(NB_TOKENIZER_CASED_WORDS, false, words, NW);
    CHECK(v && !nb_vocab_shape_unks(v) && strstr(nb_last_error(), "without specials"), "no specials: %s",
          nb_last_error());
    nb_vocab_free(v);
    CHECK(!nb_vocab_shape_unks(NULL), "NULL vocabulary");
}

/* ---- NB_TASK_MLM ---- */
static nb_task mlm_task(void) {
    nb_task t = nb_task_new(NB_TASK_MLM);
    t.mask_id = 4, t.first_id = 5, t.vocab_size = 100;
    return t;
}

static void test_mlm_statistics(void) {
    enum { NS = 400, TT = 50 };
    static int64_t tok[NS * TT], len[NS], ids[NS * TT], tgt[NS * TT];
    uint64_t rs = 5;
    for (int i = 0; i < NS; i++) {
        len[i] = (int64_t)(nb_splitmix64(&rs) % (TT + 1));
        for (int t = 0; t < TT; t++) /* about one in ten a special (0..4), padding -1 or 0 */
            tok[i * TT + t] = t >= len[i] ? -(t & 1) : nb_splitmix64(&rs) % 10 == 0 ? (int64_t)(nb_splitmix64(&rs) % 5)
                                                                                  : 5 + (int64_t)(nb_splitmix64(&rs) % 95);
    }
    nb_batch b = {.n = NS, .tokens = tok, .x_ndim = 1, .x_shape = {TT}, .lengths = len};
    nb_task task = mlm_task();
    CHECK(task.mask_prob == 0.15f, "default mask_prob %g", (double)task.mask_prob);
    nb_seed(17);
    CHECK(nb__mlm_mask(&task, &b, true, ids, tgt) == NB_OK, "mask: %s", nb_last_error());
    int64_t eligible = 0, sel = 0, masked = 0, randomized = 0, kept = 0, bad = 0, distinct = 0;
    bool seen[100] = {false};
    for (int i = 0; i < NS; i++)
        for (int t = 0; t < TT; t++) {
            const int64_t r = i * TT + t, o = tok[r];
            const bool real = t < len[i];
            eligible += real && o >= 5;
            if (tgt[r] < 0) {
                bad += ids[r] != o; /* unselected: unchanged */
                continue;
            }
            sel++;
            bad += !real || o < 5 || tgt[r] != o; /* padding and specials never selected; target = original */
            if (ids[r] == 4) masked++;
            else if (ids[r] == o) kept++;
            else {
                randomized++;
                bad += ids[r] < 5 || ids[r] >= 100; /* never a special */
                if (!seen[ids[r]]) seen[ids[r]] = true, distinct++;
            }
        }
    const double rate = (double)sel / eligible;
    CHECK(bad == 0, "%lld positions break the rules", (long long)bad);
    CHECK(eligible > 7000 && fabs(rate - 0.15) < 0.015, "selection rate %.4f of %lld eligible tokens", rate,
          (long long)eligible);
    /* kept includes the random draws that gave the original id back (1 in 95). */
    CHECK(fabs((double)masked / sel - 0.8) < 0.035 && fabs((double)randomized / sel - 0.1 * 94 / 95) < 0.025 &&
              fabs((double)kept / sel - (0.1 + 0.1 / 95)) < 0.025,
          "80/10/10: %lld masked, %lld random, %lld kept of %lld", (long long)masked, (long long)randomized,
          (long long)kept, (long long)sel);
    CHECK(distinct > 60, "random ids spread over the vocabulary: %lld distinct", (long long)distinct);

    /* Training masks: repeatable from the seed and from a stored RNG state. */
    static int64_t ids2[NS * TT], tgt2[NS * TT];
    nb_seed(17);
    nb__mlm_mask(&task, &b, true, ids2, tgt2);
    CHECK(!memcmp(ids, ids2, sizeof ids) && !memcmp(tgt, tgt2, sizeof tgt), "the same seed, the same masks");
    uint64_t state[4];
    nb_rng_get_state(state);
    nb__mlm_mask(&task, &b, true, ids, tgt);
    nb_rng_set_state(state);
    nb__mlm_mask(&task, &b, true, ids2, tgt2);
    CHECK(!memcmp(ids, ids2, sizeof ids) && !memcmp(tgt, tgt2, sizeof tgt), "the same RNG state, the same masks");
    nb__mlm_mask(&task, &b, true, ids2, tgt2);
    CHECK(memcmp(tgt, tgt2, sizeof tgt) != 0, "the next batch's draws differ");

    /* Evaluation masks: fixed per sample (by idx), whatever the RNG and the batch around it,
     * and the RNG is left alone. */
    static int64_t idx[NS];
    for (int i = 0; i < NS; i++) idx[i] = 1000 + i;
    b.idx = idx;
    nb_seed(1);
    nb_rng_get_state(state);
    nb__mlm_mask(&task, &b, false, ids, tgt);
    uint64_t after[4];
    nb_rng_get_state(after);
    CHECK(!memcmp(state, after, sizeof state), "evaluation masking draws nothing from the library RNG");
    nb_seed(2);
    nb__mlm_mask(&task, &b, false, ids2, tgt2);
    CHECK(!memcmp(ids, ids2, sizeof ids) && !memcmp(tgt, tgt2, sizeof tgt), "evaluation masks ignore the library RNG");
    nb_batch one = {.n = 1, .tokens = tok + 37 * TT, .x_ndim = 1, .x_shape = {TT}, .lengths = len + 37, .idx = idx + 37};
    int64_t ids1[TT], tgt1[TT];
    nb__mlm_mask(&task, &one, false, ids1, tgt1);
    CHECK(len[37] > 10 && !memcmp(ids1, ids + 37 * TT, sizeof ids1) && !memcmp(tgt1, tgt + 37 * TT, sizeof tgt1),
          "sample 37 alone is masked as in the big batch");
    int64_t sel_eval = 0;
    for (int r = 0; r < NS * TT; r++) sel_eval += tgt[r] >= 0;
    CHECK(fabs((double)sel_eval / eligible - 0.15) < 0.015, "evaluation selection rate %.4f",
          (double)sel_eval / eligible);
    idx[37] = 5;
    nb__mlm_mask(&task, &one, false, ids1, tgt1);
    CHECK(memcmp(tgt1, tgt + 37 * TT, sizeof tgt1) != 0, "another dataset index, another mask");
    /* Without idx: by content, the same whatever the batch. */
    b.idx = NULL, one.idx = NULL;
    nb__mlm_mask(&task, &b, false, ids, tgt);
    nb__mlm_mask(&task, &one, false, ids1, tgt1);
    CHECK(!memcmp(tgt1, tgt + 37 * TT, sizeof tgt1), "without idx: masked by content");
}

static void test_mlm_edges(void) {
    nb_task task = mlm_task();
    task.mask_prob = 1e-9f; /* nothing would be selected: one token is */
    static const int64_t tok[2 * 6] = {0, 1, 2, 3, 4, 0, /**/ 0, 7, 9, 8, 2, 0};
    static const int64_t len[2] = {6, 5};
    int64_t ids[12], tgt[12];
    nb_batch b = {.n = 2, .tokens = tok, .x_ndim = 1, .x_shape = {6}, .lengths = len};
    int64_t sel = 0, at = -1;
    CHECK(nb__mlm_mask(&task, &b, true, ids, tgt) == NB_OK, "mask: %s", nb_last_error());
    for (int r = 0; r < 12; r++)
        if (tgt[r] >= 0) sel++, at = r;
    CHECK(sel == 1 && at >= 7 && at <= 9 && tgt[at] == tok[at], "one eligible token of sample 1 selected: %lld at %lld",
          (long long)sel, (long long)at);
    static const int64_t specials[6] = {0, 1, 2, 3, 4, 0};
    nb_batch sp = {.n = 1, .tokens = specials, .x_ndim = 1, .x_shape = {6}};
    CHECK(nb__mlm_mask(&task, &sp, true, ids, tgt) == NB_OK, "only specials: %s", nb_last_error());
    bool none = true;
    for (int r = 0; r < 6; r++) none &= tgt[r] < 0 && ids[r] == specials[r];
    CHECK(none, "a batch of specials: nothing selected");
    nb_task t2 = task;
    t2.mask_id = -1;
    CHECK(nb__mlm_mask(&t2, &b, true, ids, tgt) == NB_ERR_ARG && strstr(nb_last_error(), "mask_id"), "mask_id unset: %s",
          nb_last_error());
    t2 = task, t2.vocab_size = 0;
    CHECK(nb__mlm_mask(&t2, &b, true, ids, tgt) == NB_ERR_ARG && strstr(nb_last_error(), "vocab_size"), "no vocab: %s",
          nb_last_error());
    t2 = task, t2.mask_prob = 0;
    CHECK(nb__mlm_mask(&t2, &b, true, ids, tgt) == NB_ERR_ARG && strstr(nb_last_error(), "mask_prob"), "prob 0: %s",
          nb_last_error());
    static const int64_t big[6] = {5, 6, 100, 7, 8, 9};
    nb_batch bb = {.n = 1, .tokens = big, .x_ndim = 1, .x_shape = {6}};
    CHECK(nb__mlm_mask(&task, &bb, true, ids, tgt) == NB_ERR_ARG && strstr(nb_last_error(), "token id 100"),
          "id past the vocabulary: %s", nb_last_error());
    nb_task plain = nb_task_new(NB_TASK_MLM); /* through the loop: refused until set */
    nb_model *m = tagger(100, 4, 100, false, NULL, 1);
    list_src s = {.n = 1};
    s.b[0] = b;
    nb_batch_source src = source(&s);
    nb_epoch_stats st;
    CHECK(nb_evaluate(m, &plain, &src, NULL, NULL, &st) == NB_ERR_ARG && strstr(nb_last_error(), "vocab_size"),
          "unset task: %s", nb_last_error());
    nb_model_free(m);
    m = tagger(100, 4, 50, false, NULL, 1);
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &st) == NB_ERR_SHAPE && strstr(nb_last_error(), "50 classes"),
          "too few classes: %s", nb_last_error());
    nb_model_free(m);
}

/* Evaluation through the loop: the same masks, loss and predictions twice, the RNG untouched;
 * then a tiny MLM run (token t+1 = token t + 1, cyclic over 20 ids; the model sees the previous
 * token) at least halves the masked-token loss (3.16 -> 1.24 measured). */
static void test_mlm_training(void) {
    enum { NS = 32, TT = 16, VOC = 24, FIRST = 4, MASK = 3, B = 16 };
    static int64_t tok[NS * TT], len[NS], idx[NS];
    uint64_t rs = 8;
    for (int i = 0; i < NS; i++) {
        len[i] = 6 + (int64_t)(nb_splitmix64(&rs) % (TT - 5));
        idx[i] = i;
        int64_t start = (int64_t)(nb_splitmix64(&rs) % (VOC - FIRST));
        tok[i * TT] = 1; /* a [CLS]-like special */
        for (int t = 1; t < TT; t++) tok[i * TT + t] = t < len[i] ? FIRST + (start + t) % (VOC - FIRST) : 0;
    }
    list_src s = {.n = 2};
    for (int b = 0; b < 2; b++)
        s.b[b] = (nb_batch){.n = B, .tokens = tok + b * B * TT, .x_ndim = 1, .x_shape = {TT}, .lengths = len + b * B,
                            .idx = idx + b * B};
    nb_batch_source src = source(&s);
    nb_task task = nb_task_new(NB_TASK_MLM);
    task.mask_id = MASK, task.first_id = FIRST, task.vocab_size = VOC, task.mask_prob = 0.25f;
    pred_log pl = {0};
    nb_model *m = tagger(VOC, 24, VOC, true, NULL, 4);
    nb_epoch_stats e1, e2, st;
    static int64_t p1[B * TT];
    task.on_pred = log_pred, task.pred_ctx = &pl;
    nb_seed(100);
    uint64_t before[4], after[4];
    nb_rng_get_state(before);
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &e1) == NB_OK, "evaluate: %s", nb_last_error());
    nb_rng_get_state(after);
    memcpy(p1, pl.pred, sizeof p1); /* the last batch's */
    nb_seed(200);
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &e2) == NB_OK, "evaluate: %s", nb_last_error());
    CHECK(e1.loss == e2.loss && e1.tokens == e2.tokens && e1.accuracy == e2.accuracy && !memcmp(p1, pl.pred, sizeof p1) &&
              !memcmp(before, after, sizeof before) && pl.calls == 4,
          "two evaluations: loss %.9g %.9g, %lld %lld tokens", e1.loss, e2.loss, (long long)e1.tokens,
          (long long)e2.tokens);
    int64_t marked = 0;
    for (int r = 0; r < B * TT; r++) marked += p1[r] >= 0;
    CHECK(marked > 0 && marked < e1.tokens, "predictions at the selected positions only (%lld)", (long long)marked);
    task.on_pred = NULL;

    /* Training from one seed twice: bit-identical weights. */
    nb_model *twin = tagger(VOC, 24, VOC, true, NULL, 4);
    nb_optim *o = nb_adam_new(nb_model_params(m), nb_adam_defaults(0.03f)),
             *ot = nb_adam_new(nb_model_params(twin), nb_adam_defaults(0.03f));
    nb_seed(7);
    for (int e = 0; e < 3; e++) nb_train_epoch(m, o, &task, &src, e, NULL, &st);
    nb_seed(7);
    for (int e = 0; e < 3; e++) nb_train_epoch(twin, ot, &task, &src, e, NULL, &st);
    CHECK(!memcmp(nb_params_data(nb_model_params(m)), nb_params_data(nb_model_params(twin)),
                  (size_t)nb_params_numel(nb_model_params(m)) * sizeof(float)),
          "training masks come from the seeded library RNG");
    for (int e = 3; e < 80; e++) nb_train_epoch(m, o, &task, &src, e, NULL, &st);
    CHECK(nb_evaluate(m, &task, &src, NULL, NULL, &e2) == NB_OK, "evaluate: %s", nb_last_error());
    CHECK(e2.loss < 0.5 * e1.loss && e2.accuracy > 0.55 && isnan(e2.bits), "masked-token loss %.4f from %.4f, accuracy %.3f",
          e2.loss, e1.loss, e2.accuracy);
    nb_optim_free(o);
    nb_optim_free(ot);
    nb_model_free(m);
    nb_model_free(twin);
}

/* mlm_rows: a token transformer's head at the selected rows only gives the loss, predictions
 * and gradients of the head at every step. */
static void test_mlm_rows(void) {
    enum { NS = 6, TT = 9, VOC = 40 };
    static int64_t tok[NS * TT], len[NS], idx[NS];
    uint64_t rs = 11;
    for (int i = 0; i < NS; i++) {
        len[i] = 3 + (int64_t)(nb_splitmix64(&rs) % (TT - 2));
        idx[i] = i;
        for (int t = 0; t < TT; t++) tok[i * TT + t] = t < len[i] ? 5 + (int64_t)(nb_splitmix64(&rs) % (VOC - 5)) : 0;
    }
    list_src s = {.n = 1};
    s.b[0] = (nb_batch){.n = NS, .tokens = tok, .x_ndim = 1, .x_shape = {TT}, .lengths = len, .idx = idx};
    nb_batch_source src = source(&s);
    nb_task task = nb_task_new(NB_TASK_MLM);
    task.mask_id = 3, task.first_id = 5, task.vocab_size = VOC, task.mask_prob = 0.3f;
    float *grad[2] = {NULL, NULL};
    double loss[2], acc[2];
    int64_t n_params = 0;
    for (int k = 0; k < 2; k++) {
        task.mlm_rows = k == 1;
        nb_seed(3);
        nb_model *m = nb_model_new(nb_token_transformer_new(VOC, 16, 8, 2, 1, 16, 0.0f, NB_ACT_GELU, NB_POS_LEARNED, true,
                                                            false, VOC), NB_INIT_DEFAULT);
        nb_optim *o = nb_sgd_new(nb_model_params(m), (nb_sgd_opts){.lr = 0.0f});
        nb_epoch_stats st;
        nb_seed(9); /* the same masks both times */
        CHECK(m && o && nb_train_epoch(m, o, &task, &src, 0, NULL, &st) == NB_OK, "mlm_rows %d: %s", k, nb_last_error());
        loss[k] = st.loss, acc[k] = st.accuracy;
        n_params = nb_params_numel(nb_model_params(m));
        grad[k] = malloc((size_t)n_params * sizeof(float));
        memcpy(grad[k], nb_params_grad(nb_model_params(m)), (size_t)n_params * sizeof(float));
        nb_optim_free(o);
        nb_model_free(m);
    }
    double worst = 0;
    for (int64_t i = 0; i < n_params; i++) worst = fmax(worst, fabs((double)grad[0][i] - grad[1][i]));
    CHECK(fabs(loss[0] - loss[1]) < 1e-5 * fabs(loss[0]) && acc[0] == acc[1] && worst < 1e-5,
          "head at the selected rows: loss %.7f vs %.7f, accuracy %.4f vs %.4f, largest gradient difference %.2e",
          loss[0], loss[1], acc[0], acc[1], worst);
    free(grad[0]);
    free(grad[1]);
}

int main(void) {
    nb_set_threads(1);
    test_mlm_rows();
    test_tokens_by_hand();
    test_tokens_training();
    test_mlm_statistics();
    test_mlm_edges();
    test_mlm_training();
    test_word_dropout_statistics();
    test_word_dropout_loop();
    test_vocab_shape_unks();
    return test_end("test_token_tasks");
}
