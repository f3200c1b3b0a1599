/* nabla bench: times a zoo model's training step on random data, whole and per layer (as
 * darknet's per-layer timings and PyTorch's profiler table). Public API only.
 *
 * The whole step is forward, loss (cross-entropy), backward and the Adam step, as in training.
 * Per layer (the root's children in order): the forward pass runs the children one by one on
 * the real activations; each layer's backward runs on a graph of its own: its input copied into
 * a leaf that requires a gradient (not the first layer's, which needs none in training), the
 * layer, and sum(y * r) with a fixed random r, so the backward time includes that mul and sum. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_WARMUP 3
#define BENCH_TARGET_S 1.0 /* the default repetitions aim at about this much timed work */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void shape_str(const nb_tensor *t, char *buf, size_t cap) {
    size_t len = (size_t)snprintf(buf, cap, "(");
    for (int d = 0; d < nb_tensor_ndim(t) && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", d ? "," : "", (long long)nb_tensor_shape(t)[d]);
    if (len < cap) snprintf(buf + len, cap - len, ")");
}

typedef struct layer_info {
    nb_module *mod;
    const char *name;
    char type[96], out[48];
    nb_tensor *leaf;   /* heap copy of the layer's input (requires a gradient unless the first) */
    nb_tensor *r;      /* fixed random weights of the output's scalar */
    bool has_backward; /* the layer's output needs a gradient */
    double fwd, bwd;   /* seconds summed over the repetitions */
} layer_info;

typedef struct bench {
    nb_model *m;
    nb_optim *opt;
    nb_module *root;
    int n;             /* layers (the root's children; 0: the root alone) */
    layer_info *l;
    int64_t shape[4];  /* (batch, 1, 28, 28) */
    float *x;          /* the random batch */
    int64_t *y;        /* its random labels */
} bench;

static nb_module *layer_mod(const bench *b, int i) { return b->n ? nb_module_child(b->root, i) : b->root; }

/* One training step; adds the seconds of each part to t[0..3] (forward, loss, backward,
 * optimizer) when t is not NULL. */
static int whole_step(bench *b, double *t) {
    nb_params_zero_grad(nb_model_params(b->m));
    nb_tensor *x = nb_step_tensor(4, b->shape, b->x), *y = nb_step_index(1, b->shape, b->y);
    double t0 = now_s();
    nb_tensor *logits = x && y ? nb_model_forward(b->m, x) : NULL;
    double t1 = now_s();
    nb_tensor *loss = nb_cross_entropy(logits, y);
    double t2 = now_s();
    nb_status st = loss ? nb_backward(loss) : NB_ERR_SHAPE;
    double t3 = now_s();
    if (!st) st = nb_optim_step(b->opt);
    double t4 = now_s();
    nb_step_reset();
    if (st) return cli_fail("bench: %s", nb_last_error());
    if (t) t[0] += t1 - t0, t[1] += t2 - t1, t[2] += t3 - t2, t[3] += t4 - t3;
    return 0;
}

/* Runs the layers one by one on the batch, timing each when timed; the first run (setup) keeps
 * each layer's input as a heap leaf, its output shape and a random weight for its scalar. */
static int layers_forward(bench *b, bool setup, bool timed) {
    nb_tensor *x = nb_step_tensor(4, b->shape, b->x);
    int rc = 0;
    for (int i = 0; i < (b->n ? b->n : 1) && x && !rc; i++) {
        layer_info *L = &b->l[i];
        if (setup) {
            nb_tensor *c = nb_contiguous(x);
            L->leaf = c ? nb_tensor_from(nb_tensor_ndim(c), nb_tensor_shape(c), nb_tensor_data(c)) : NULL;
            if (!L->leaf || (i > 0 && nb_tensor_set_requires_grad(L->leaf, true))) rc = 1;
        }
        double t0 = now_s();
        nb_tensor *y = rc ? NULL : nb_module_forward(L->mod, x);
        if (timed) L->fwd += now_s() - t0;
        if (setup && y) {
            shape_str(y, L->out, sizeof L->out);
            L->r = nb_tensor_new(nb_tensor_ndim(y), nb_tensor_shape(y));
            if (!L->r) rc = 1;
            else nb_tensor_fill_normal(L->r, 0.f, 1.f);
        }
        x = y;
    }
    if (!x && !rc) rc = 1;
    if (rc) cli_fail("bench: %s", nb_last_error());
    nb_step_reset();
    return rc;
}

/* Each layer's backward on its own graph (see the top of the file). */
static int layers_backward(bench *b, bool timed) {
    for (int i = 0; i < (b->n ? b->n : 1); i++) {
        layer_info *L = &b->l[i];
        nb_params_zero_grad(nb_model_params(b->m));
        if (nb_tensor_requires_grad(L->leaf)) nb_tensor_zero_grad(L->leaf);
        nb_tensor *y = nb_module_forward(L->mod, L->leaf);
        nb_tensor *s = y ? nb_sum(nb_mul(y, L->r), NB_ALL_AXES, false) : NULL;
        if (!s) {
            nb_step_reset();
            return cli_fail("bench: %s", nb_last_error());
        }
        L->has_backward = nb_tensor_requires_grad(s);
        double t0 = now_s();
        nb_status st = L->has_backward ? nb_backward(s) : NB_OK;
        if (timed) L->bwd += now_s() - t0;
        nb_step_reset();
        if (st) return cli_fail("bench: %s", nb_last_error());
    }
    return 0;
}

static int run(bench *b, const cli_args *a) {
    int64_t batch = a->batch, n_in = batch * 28 * 28;
    b->shape[0] = batch, b->shape[1] = 1, b->shape[2] = 28, b->shape[3] = 28;
    b->x = malloc((size_t)n_in * sizeof *b->x);
    b->y = malloc((size_t)batch * sizeof *b->y);
    int nl = b->n ? b->n : 1;
    b->l = calloc((size_t)nl, sizeof *b->l);
    if (!b->x || !b->y || !b->l) return cli_fail("bench: out of memory for a batch of %lld", (long long)batch);
    for (int64_t i = 0; i < n_in; i++) b->x[i] = nb_rng_normal();
    for (int64_t i = 0; i < batch; i++) b->y[i] = (int64_t)(nb_rng_next() % CLI_N_CLASSES);
    for (int i = 0; i < nl; i++) {
        layer_info *L = &b->l[i];
        L->mod = layer_mod(b, i);
        L->name = b->n ? nb_module_child_name(b->root, i) : "(root)";
        const nb_module_ops *ops = nb_module_ops_of(L->mod);
        if (ops->describe) ops->describe(L->mod, L->type, sizeof L->type);
        else snprintf(L->type, sizeof L->type, "%s", ops->kind);
    }

    /* Warm-up (arena, BLAS buffers), timing the steps to size the default repetitions. */
    double t0 = now_s();
    for (int k = 0; k < BENCH_WARMUP; k++)
        if (whole_step(b, NULL)) return 1;
    double per_step = (now_s() - t0) / BENCH_WARMUP;
    if (layers_forward(b, true, false) || layers_backward(b, false)) return 1;
    long long reps = a->repeat;
    if (!reps) {
        double r = BENCH_TARGET_S / (3.0 * (per_step > 1e-6 ? per_step : 1e-6));
        reps = r < 5 ? 5 : r > 200 ? 200 : (long long)r;
    }

    double t[4] = {0};
    for (long long k = 0; k < reps; k++)
        if (whole_step(b, t)) return 1;
    for (long long k = 0; k < reps; k++)
        if (layers_forward(b, false, true) || layers_backward(b, true)) return 1;

    double ms = 1e3 / (double)reps, sum = 0, sf = 0, sb = 0;
    for (int i = 0; i < nl; i++) sum += b->l[i].fwd + b->l[i].bwd, sf += b->l[i].fwd, sb += b->l[i].bwd;
    int th = nb_get_threads();
    printf("nabla bench: %s, batch %lld, %d thread%s, %lld repetitions after %d warm-up steps\n", a->model,
           (long long)batch, th, th == 1 ? "" : "s", reps, BENCH_WARMUP);
    printf("random N(0,1) inputs (%lld,1,28,28), 10 classes, cross-entropy, Adam; GEMM: %s; ms per batch\n\n",
           (long long)batch, nb_gemm_backend());
    printf("%-10s %-32s %-18s %10s %11s %7s\n", "layer", "type", "output", "forward", "backward", "share");
    for (int i = 0; i < nl; i++) {
        layer_info *L = &b->l[i];
        char bw[32];
        if (L->has_backward) snprintf(bw, sizeof bw, "%.3f", L->bwd * ms);
        else snprintf(bw, sizeof bw, "-");
        printf("%-10.10s %-32.32s %-18.18s %10.3f %11s %6.1f%%\n", L->name, L->type, L->out, L->fwd * ms, bw,
               sum > 0 ? 100.0 * (L->fwd + L->bwd) / sum : 0.0);
    }
    printf("%-10s %-32s %-18s %10.3f %11.3f %6.1f%%\n", "total", "(layers)", "", sf * ms, sb * ms, 100.0);
    printf("(a layer's backward is timed on a graph of its own and includes the mul and sum that make its\n"
           " output a scalar; '-': no gradient flows through it in training)\n\n");
    double total = t[0] + t[1] + t[2] + t[3];
    printf("whole step: forward %.3f + loss %.3f ms, backward %.3f ms, optimizer %.3f ms, total %.3f ms/batch\n",
           t[0] * ms, t[1] * ms, t[2] * ms, t[3] * ms, total * ms);
    printf("throughput: %.0f samples/s\n", total > 0 ? (double)batch * (double)reps / total : 0.0);
    return 0;
}

int cli_bench(const cli_args *a) {
    if (!a->model) return cli_fail("bench: --model NAME is required (see nabla --help)");
    if (nb_zoo_input_kind(a->model) != NB_ZOO_IMAGE) /* text, autoencoder and GAN models */
        return cli_fail("bench: times the image classifiers (mlp, lenet5, seedcnn, lstm-rows); '%s' is not one: "
                        "time its training with `nabla train --model %s --limit-train N` (metrics.jsonl's "
                        "\"seconds\") or bench/all_vs_torch.py",
                        a->model, a->model);
    nb_seed(0);
    bench b = {0};
    b.m = nb_zoo_new(a->model, 1, 28, 28, CLI_N_CLASSES);
    if (!b.m) return cli_fail("%s", nb_last_error());
    b.opt = nb_adam_new(nb_model_params(b.m), nb_adam_defaults(1e-3f));
    int rc;
    if (!b.opt) rc = cli_fail("bench: %s", nb_last_error());
    else {
        b.root = nb_model_root(b.m);
        /* Layer by layer only through a Sequential; any other root (a Recurrent model, whose
         * children do not run one after the other) is timed as one layer. */
        b.n = strcmp(nb_module_ops_of(b.root)->kind, "Sequential") == 0 ? nb_module_child_count(b.root) : 0;
        rc = run(&b, a);
    }
    for (int i = 0; b.l && i < (b.n ? b.n : 1); i++) {
        nb_tensor_free(b.l[i].leaf);
        nb_tensor_free(b.l[i].r);
    }
    free(b.l);
    free(b.x);
    free(b.y);
    nb_optim_free(b.opt);
    nb_model_free(b.m);
    return rc;
}
