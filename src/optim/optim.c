/* Optimizers as loops over the parameter slab: values, gradients and state (moments,
 * momentum buffers) are parallel arrays of nb_params_numel floats, updated one parameter's
 * range at a time. Updates follow PyTorch's torch.optim formulas (single-tensor code paths of
 * PyTorch 1.13), element by element in float; Adam's bias corrections are computed in double,
 * as Python does.
 *
 * The whole state is the step count, the learning rate and the state slabs, so a checkpoint
 * that restores those three continues a run bit for bit. */
#include "internal.h"

#include <math.h>

typedef enum { OPT_SGD, OPT_ADAM, OPT_RMSPROP } opt_kind;

#define NB_OPT_MAX_STATE 3

struct nb_optim {
    opt_kind kind;
    nb_params *p;
    int64_t numel;
    float lr;
    nb_sgd_opts sgd;
    nb_adam_opts adam;
    nb_rmsprop_opts rms;
    int64_t t; /* steps taken */
    uint32_t w_top;   /* the last step's largest |w| bits over the values it updated */
    bool all_stepped; /* ... and it updated every parameter (none frozen) */
    float *lr_scale; /* per parameter (groups), or NULL: all 1 */
    struct opt_chunk *chunks; /* the step's work list (reused): slab ranges and their parameter */
    int64_t chunk_cap;
    struct opt_scal *scal; /* the step's per-parameter constants (reused) */
    int scal_cap;
    int nstate;
    float *state[NB_OPT_MAX_STATE]; /* (numel) each */
    const char *state_name[NB_OPT_MAX_STATE];
};

/* A new optimizer with nstate zeroed state slabs named by names. */
static nb_optim *opt_new(const char *fn, nb_params *p, opt_kind k, float lr, int nstate,
                         const char *const *names) {
    if (!p) {
        nb__err(NB_ERR_ARG, "%s: params is NULL", fn);
        return NULL;
    }
    nb_optim *o = calloc(1, sizeof *o);
    int64_t n = nb_params_numel(p);
    bool ok = o != NULL;
    if (o) {
        o->kind = k;
        o->p = p;
        o->numel = n;
        o->lr = lr;
        o->nstate = nstate;
        for (int i = 0; i < nstate; i++) {
            o->state_name[i] = names[i];
            o->state[i] = calloc((size_t)(n ? n : 1), sizeof(float));
            ok = ok && o->state[i];
        }
    }
    if (!ok) {
        nb_optim_free(o);
        nb__err(NB_ERR_MEM, "%s: out of memory for %d state slabs of %lld floats", fn, nstate,
                (long long)n);
        return NULL;
    }
    return o;
}

nb_optim *nb_sgd_new(nb_params *p, nb_sgd_opts s) {
    if (!(s.lr >= 0) || !(s.momentum >= 0) || !(s.weight_decay >= 0) || isinf(s.lr) ||
        isinf(s.momentum) || isinf(s.weight_decay) || (s.nesterov && s.momentum <= 0)) {
        nb__err(NB_ERR_ARG,
                "nb_sgd_new: lr %g, momentum %g, weight_decay %g: each must be finite "
                "and >= 0 (and nesterov needs momentum > 0)",
                (double)s.lr, (double)s.momentum, (double)s.weight_decay);
        return NULL;
    }
    static const char *const names[] = {"momentum_buffer"};
    nb_optim *o = opt_new("nb_sgd_new", p, OPT_SGD, s.lr, s.momentum > 0 ? 1 : 0, names);
    if (o) o->sgd = s;
    return o;
}

nb_adam_opts nb_adam_defaults(float lr) {
    nb_adam_opts o = {lr, 0.9f, 0.999f, 1e-8f, 0.0f, false};
    return o;
}

nb_optim *nb_adam_new(nb_params *p, nb_adam_opts a) {
    if (!(a.lr >= 0) || isinf(a.lr) || !(a.beta1 >= 0 && a.beta1 < 1) ||
        !(a.beta2 >= 0 && a.beta2 < 1) || !(a.eps >= 0) || isinf(a.eps) || !(a.weight_decay >= 0) ||
        isinf(a.weight_decay)) {
        nb__err(NB_ERR_ARG,
                "nb_adam_new: lr %g, betas (%g, %g), eps %g, weight_decay %g: need "
                "finite lr, eps, weight_decay >= 0 and betas in [0, 1)",
                (double)a.lr, (double)a.beta1, (double)a.beta2, (double)a.eps,
                (double)a.weight_decay);
        return NULL;
    }
    static const char *const names[] = {"exp_avg", "exp_avg_sq"};
    nb_optim *o = opt_new("nb_adam_new", p, OPT_ADAM, a.lr, 2, names);
    if (o) o->adam = a;
    return o;
}

nb_rmsprop_opts nb_rmsprop_defaults(float lr) {
    nb_rmsprop_opts o = {lr, 0.99f, 1e-8f, 0.0f, 0.0f, false};
    return o;
}

nb_optim *nb_rmsprop_new(nb_params *p, nb_rmsprop_opts r) {
    if (!(r.lr >= 0) || isinf(r.lr) || !(r.alpha >= 0 && r.alpha <= 1) || !(r.eps >= 0) ||
        isinf(r.eps) || !(r.weight_decay >= 0) || isinf(r.weight_decay) || !(r.momentum >= 0) ||
        isinf(r.momentum)) {
        nb__err(NB_ERR_ARG,
                "nb_rmsprop_new: lr %g, alpha %g, eps %g, weight_decay %g, momentum "
                "%g: need alpha in [0, 1] and the others finite and >= 0",
                (double)r.lr, (double)r.alpha, (double)r.eps, (double)r.weight_decay,
                (double)r.momentum);
        return NULL;
    }
    const char *names[NB_OPT_MAX_STATE] = {"square_avg"};
    int k = 1;
    if (r.momentum > 0) names[k++] = "momentum_buffer";
    if (r.centered) names[k++] = "grad_avg";
    nb_optim *o = opt_new("nb_rmsprop_new", p, OPT_RMSPROP, r.lr, k, names);
    if (o) o->rms = r;
    return o;
}

void nb_optim_free(nb_optim *o) {
    if (!o) return;
    for (int i = 0; i < NB_OPT_MAX_STATE; i++) free(o->state[i]);
    free(o->lr_scale);
    free(o->chunks);
    free(o->scal);
    free(o);
}

float nb_optim_lr(const nb_optim *o) { return o ? o->lr : 0.0f; }

void nb_optim_set_lr(nb_optim *o, float lr) {
    if (!o) {
        nb__err(NB_ERR_ARG, "nb_optim_set_lr: optimizer is NULL");
        return;
    }
    if (!(lr >= 0) || isinf(lr)) { /* a bad rate (e.g. a NaN schedule) keeps the old one */
        nb__err(NB_ERR_ARG, "nb_optim_set_lr: lr must be finite and >= 0, got %g (kept %g)",
                (double)lr, (double)o->lr);
        return;
    }
    o->lr = lr;
}

int64_t nb_optim_steps(const nb_optim *o) { return o ? o->t : 0; }

void nb_optim_set_steps(nb_optim *o, int64_t t) {
    if (!o || t < 0) {
        nb__err(NB_ERR_ARG, "nb_optim_set_steps: %s",
                o ? "steps must be >= 0" : "optimizer is NULL");
        return;
    }
    o->t = t;
}

int nb_optim_state_count(const nb_optim *o) { return o ? o->nstate : 0; }

float *nb_optim_state(nb_optim *o, int i, const char **name) {
    if (name) *name = NULL;
    if (!o || i < 0 || i >= o->nstate) {
        nb__err(NB_ERR_ARG, "nb_optim_state: no state slab %d (the optimizer has %d)", i,
                o ? o->nstate : 0);
        return NULL;
    }
    if (name) *name = o->state_name[i];
    return o->state[i];
}

const char *nb_optim_name(const nb_optim *o) {
    if (!o) return "";
    switch (o->kind) {
    case OPT_SGD: return "sgd";
    case OPT_ADAM: return o->adam.decoupled ? "adamw" : "adam";
    case OPT_RMSPROP: return "rmsprop";
    }
    return "";
}

/* The slab loops run on OpenMP threads when large; each element is independent, so the result
 * does not depend on the thread count. Every loop below is a kernel over one range of
 * restrict pointers with no branch inside (the options pick a loop, not a path per element),
 * so gcc vectorizes it; this file is compiled with -fno-math-errno (CMakeLists.txt) so that
 * sqrtf is the sqrtps instruction rather than a call that may set errno. Vectorizing changes no
 * result: each element sees the same float operations in the same order (no reassociation, no
 * contraction: -std=c11 keeps -ffp-contract=off). */
#define NB_OPT_PAR_MIN 262144
#define NB_OPT_CHUNK 16384

/* One step is one list of chunks (at most NB_OPT_CHUNK floats of one parameter each) run in
 * one parallel region, whatever the number of parameter tensors: a region costs a thread's
 * wake-up (passive wait policy), and models have tens of small tensors. */
struct opt_chunk {
    int64_t lo, hi; /* slab offsets */
    int p;          /* the parameter */
};

/* What differs between parameters in one step: the learning rate (lr_scale) and what Adam
 * derives from it. */
struct opt_scal {
    float lr, step, sq, decay;
};

/* d = g + wd * w; w -= lr * d */
static void sgd_plain(float *restrict w, const float *restrict g, int64_t lo, int64_t hi,
                      float lr, float wd) {
    for (int64_t i = lo; i < hi; i++) {
        const float d = g[i] + wd * w[i];
        w[i] -= lr * d;
    }
}

/* buf = mom * buf + d; w -= lr * (nesterov ? d + mom * buf : buf) */
static void sgd_momentum(float *restrict w, const float *restrict g, float *restrict buf,
                         int64_t lo, int64_t hi, float lr, float wd, float mom) {
    for (int64_t i = lo; i < hi; i++) {
        const float d = g[i] + wd * w[i];
        buf[i] = mom * buf[i] + d;
        w[i] -= lr * buf[i];
    }
}

static void sgd_nesterov(float *restrict w, const float *restrict g, float *restrict buf,
                         int64_t lo, int64_t hi, float lr, float wd, float mom) {
    for (int64_t i = lo; i < hi; i++) {
        const float d = g[i] + wd * w[i];
        buf[i] = mom * buf[i] + d;
        w[i] -= lr * (d + mom * buf[i]);
    }
}

/* Adam (L2 weight decay added to the gradient) and AdamW (decoupled: w scaled first). */
/* The largest |w| bits of what the Adam loops write, taken in the same loop (they are the
 * optimizer's hottest loops; the others read their chunk back with nb__top_bits). */
#define NB_TOP_OF(x)                                                                            \
    do {                                                                                        \
        uint32_t b_;                                                                            \
        memcpy(&b_, &(x), sizeof b_);                                                           \
        b_ &= 0x7fffffffu;                                                                      \
        top = b_ > top ? b_ : top;                                                              \
    } while (0)

NB__CLONES static uint32_t adam_l2(float *restrict w, const float *restrict g, float *restrict m,
                                   float *restrict v, int64_t lo, int64_t hi, float b1, float b2, float eps,
                                   float wd, float step, float sq) {
    uint32_t top = 0;
    for (int64_t i = lo; i < hi; i++) {
        const float d = g[i] + wd * w[i];
        m[i] = b1 * m[i] + (1.0f - b1) * d;
        v[i] = b2 * v[i] + (1.0f - b2) * d * d;
        const float nw = w[i] - step * (m[i] / (sqrtf(v[i]) / sq + eps));
        w[i] = nw;
        NB_TOP_OF(nw);
    }
    return top;
}

NB__CLONES static uint32_t adam_decoupled(float *restrict w, const float *restrict g, float *restrict m,
                                          float *restrict v, int64_t lo, int64_t hi, float b1, float b2,
                                          float eps, float decay, float step, float sq) {
    uint32_t top = 0;
    for (int64_t i = lo; i < hi; i++) {
        const float d = g[i];
        const float wd = w[i] * decay;
        m[i] = b1 * m[i] + (1.0f - b1) * d;
        v[i] = b2 * v[i] + (1.0f - b2) * d * d;
        const float nw = wd - step * (m[i] / (sqrtf(v[i]) / sq + eps));
        w[i] = nw;
        NB_TOP_OF(nw);
    }
    return top;
}

/* RMSprop: sqa = al * sqa + (1 - al) * d * d; centered subtracts gavg^2; momentum keeps buf. */
static void rms_kernel(float *restrict w, const float *restrict g, float *restrict sqa,
                       float *restrict buf, float *restrict gavg, int64_t lo, int64_t hi,
                       float lr, float al, float eps, float wd, float mom, int kind) {
    /* kind: bit 0 momentum, bit 1 centered; four loops so no branch sits inside one. */
#define RMS_HEAD                                                                                \
    const float d = g[i] + wd * w[i];                                                           \
    sqa[i] = al * sqa[i] + (1.0f - al) * d * d;                                                 \
    float var = sqa[i];
#define RMS_CENTER                                                                              \
    gavg[i] = al * gavg[i] + (1.0f - al) * d;                                                   \
    var -= gavg[i] * gavg[i];
#define RMS_MOM                                                                                 \
    const float avg = sqrtf(var) + eps;                                                         \
    buf[i] = mom * buf[i] + d / avg;                                                            \
    w[i] -= lr * buf[i];
#define RMS_PLAIN                                                                               \
    const float avg = sqrtf(var) + eps;                                                         \
    w[i] -= lr * (d / avg);
    switch (kind) {
    case 0: for (int64_t i = lo; i < hi; i++) { RMS_HEAD RMS_PLAIN } break;
    case 1: for (int64_t i = lo; i < hi; i++) { RMS_HEAD RMS_MOM } break;
    case 2: for (int64_t i = lo; i < hi; i++) { RMS_HEAD RMS_CENTER RMS_PLAIN } break;
    default: for (int64_t i = lo; i < hi; i++) { RMS_HEAD RMS_CENTER RMS_MOM } break;
    }
#undef RMS_HEAD
#undef RMS_CENTER
#undef RMS_MOM
#undef RMS_PLAIN
}

/* Updates slab offsets [lo, hi) with parameter k's constants; returns the largest |w| bits
 * written there. */
static uint32_t opt_range(const nb_optim *o, const struct opt_scal *k, int64_t lo, int64_t hi, float *w,
                      const float *g) {
    switch (o->kind) {
    case OPT_SGD: {
        const nb_sgd_opts s = o->sgd;
        /* PyTorch starts the momentum buffer at the first d (a clone, no dampening). The slab
         * starts at zero and momentum * 0 + d == d exactly, so one formula does both; and, like
         * PyTorch, a restored buffer is used as it is whatever the step count says. */
        float *buf = o->nstate ? o->state[0] : NULL;
        if (!buf) sgd_plain(w, g, lo, hi, k->lr, s.weight_decay);
        else if (s.nesterov) sgd_nesterov(w, g, buf, lo, hi, k->lr, s.weight_decay, s.momentum);
        else sgd_momentum(w, g, buf, lo, hi, k->lr, s.weight_decay, s.momentum);
        return nb__top_bits(w, lo, hi);
    }
    case OPT_ADAM: {
        const nb_adam_opts a = o->adam;
        float *m = o->state[0], *v = o->state[1];
        if (a.decoupled)
            return adam_decoupled(w, g, m, v, lo, hi, a.beta1, a.beta2, a.eps, k->decay, k->step, k->sq);
        return adam_l2(w, g, m, v, lo, hi, a.beta1, a.beta2, a.eps, a.weight_decay, k->step, k->sq);
    }
    case OPT_RMSPROP: {
        const nb_rmsprop_opts r = o->rms;
        float *sqa = o->state[0];
        int i = 1;
        float *buf = r.momentum > 0 ? o->state[i++] : NULL; /* starts at zero, as PyTorch */
        float *gavg = r.centered ? o->state[i++] : NULL;
        const int kind = (buf ? 1 : 0) | (gavg ? 2 : 0);
        rms_kernel(w, g, sqa, buf, gavg, lo, hi, k->lr, r.alpha, r.eps, r.weight_decay, r.momentum, kind);
        return nb__top_bits(w, lo, hi);
    }
    }
    return 0;
}

nb_status nb_optim_step(nb_optim *o) {
    if (!o) return nb__err(NB_ERR_ARG, "nb_optim_step: optimizer is NULL");
    if (nb_params_numel(o->p) != o->numel)
        return nb__err(NB_ERR_STATE,
                       "nb_optim_step: the parameter slab grew from %lld to %lld "
                       "floats after the optimizer was made; make it after the last "
                       "nb_params_add",
                       (long long)o->numel, (long long)nb_params_numel(o->p));
    float *w = nb_params_data(o->p), *g = nb_params_grad(o->p);
    const int np = nb_params_count(o->p);
    const int64_t need = o->numel / NB_OPT_CHUNK + np + 1;
    if (need > o->chunk_cap || np > o->scal_cap) {
        struct opt_chunk *c = need > o->chunk_cap ? malloc((size_t)need * sizeof *c) : NULL;
        struct opt_scal *k = np > o->scal_cap ? malloc((size_t)np * sizeof *k) : NULL;
        if ((need > o->chunk_cap && !c) || (np > o->scal_cap && !k)) {
            free(c);
            free(k);
            return nb__err(NB_ERR_MEM, "nb_optim_step: out of memory for the step's work list");
        }
        if (c) free(o->chunks), o->chunks = c, o->chunk_cap = need;
        if (k) free(o->scal), o->scal = k, o->scal_cap = np;
    }
    o->t++;
    o->all_stepped = true;
    /* Adam's bias corrections, in double as Python computes them */
    const double bc1 = 1.0 - pow((double)o->adam.beta1, (double)o->t);
    const double bc2 = 1.0 - pow((double)o->adam.beta2, (double)o->t);
    int64_t nch = 0, total = 0;
    for (int i = 0; i < np; i++) {
        nb_tensor *t = nb_params_get(o->p, i);
        if (!nb_tensor_requires_grad(t)) { /* frozen */
            o->all_stepped = false;
            continue;
        }
        const int64_t off = nb_tensor_data(t) - w, n = nb_tensor_numel(t);
        struct opt_scal *k = &o->scal[i];
        k->lr = o->lr_scale ? o->lr * o->lr_scale[i] : o->lr;
        k->step = (float)((double)k->lr / bc1);
        k->sq = (float)sqrt(bc2);
        k->decay = (float)(1.0 - (double)k->lr * (double)o->adam.weight_decay); /* AdamW */
        /* Parameter by parameter: the slab's alignment gaps between them are never touched, so
         * whatever lands there (a gradient written over the whole slab) cannot move a value
         * that no checkpoint saves. */
        for (int64_t lo = off; lo < off + n; lo += NB_OPT_CHUNK) {
            o->chunks[nch].lo = lo;
            o->chunks[nch].hi = lo + NB_OPT_CHUNK < off + n ? lo + NB_OPT_CHUNK : off + n;
            o->chunks[nch++].p = i;
        }
        total += n;
    }
    /* Each element is independent: the result does not depend on the thread count. Each chunk
     * gives the largest |w| it wrote (o->w_top; Adam's loops take it as they write, the others
     * read the chunk back while in cache), so the training loop need not scan the parameter
     * slab again after the step. */
    const struct opt_chunk *ch = o->chunks;
    uint32_t top = 0;
#pragma omp parallel for schedule(static) reduction(max : top) if (total > NB_OPT_PAR_MIN)
    for (int64_t c = 0; c < nch; c++) {
        const uint32_t b = opt_range(o, &o->scal[ch[c].p], ch[c].lo, ch[c].hi, w, g);
        top = b > top ? b : top;
    }
    o->w_top = top;
    return NB_OK;
}

int nb__optim_params_nonfinite(const nb_optim *o) {
    if (!o || o->t == 0 || !o->all_stepped) return -1;
    return o->w_top >= 0x7f800000u ? 1 : 0;
}

nb_status nb_optim_set_lr_scale(nb_optim *o, const char *prefixes, float scale) {
    if (!o) return nb__err(NB_ERR_ARG, "nb_optim_set_lr_scale: optimizer is NULL");
    if (!(scale >= 0) || isinf(scale))
        return nb__err(NB_ERR_ARG, "nb_optim_set_lr_scale: scale must be finite and >= 0, got %g", (double)scale);
    bool *sel;
    nb_status st = nb__params_select(o->p, prefixes, "nb_optim_set_lr_scale", &sel, NULL);
    if (st) return st;
    int n = nb_params_count(o->p);
    if (!o->lr_scale) {
        o->lr_scale = malloc((size_t)(n ? n : 1) * sizeof(float));
        if (!o->lr_scale) {
            free(sel);
            return nb__err(NB_ERR_MEM, "nb_optim_set_lr_scale: out of memory");
        }
        for (int i = 0; i < n; i++) o->lr_scale[i] = 1.0f;
    }
    for (int i = 0; i < n; i++)
        if (sel[i]) o->lr_scale[i] = scale;
    free(sel);
    return NB_OK;
}
