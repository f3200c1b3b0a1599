/* The tape: eager ops record nodes here; backward walks them newest to oldest. Creation order
 * is a topological order, so no sort is needed. */
#include "autograd/op.h"

const nb_op_def nb__ops[NB_OP__COUNT] = {
#define NB_OP(E, nm, nin, idx, fl)                                                         \
    [NB_OP_##E] = {"nb_" #nm, nin, idx, fl, nb__shape_##nm, nb__fwd_##nm, nb__bwd_##nm},
#include "autograd/ops.def"
#undef NB_OP
};

static nb_node *g_tape;  /* newest node */
static int g_no_grad;

/* The tape's nodes live in the step arena: drop the tape, then release the arena. */
void nb_step_reset(void) {
    g_tape = NULL;
    nb__arena_reset();
}

void nb_no_grad_begin(void) { g_no_grad++; }
void nb_no_grad_end(void) {
    if (g_no_grad > 0) g_no_grad--;
}
bool nb_grad_enabled(void) { return g_no_grad == 0; }

nb_tensor *nb__apply(nb_op op, nb_tensor **in, int n_in, const nb_attrs *a) {
    const nb_op_def *def = &nb__ops[op];
    for (int i = 0; i < n_in; i++) {
        bool optional = (def->flags & NB_OPF_OPTIONAL_LAST) && i == n_in - 1;
        if (!in[i]) {
            if (optional) continue;
            char what[32];
            snprintf(what, sizeof what, "input %d", i);
            nb__err_null(def->name, what);
            return NULL;
        }
        nb_dtype want = (def->index_mask >> i) & 1u ? NB_I64 : NB_F32;
        if (in[i]->dtype != want) {
            nb__err(NB_ERR_DTYPE, "%s: input %d must be a %s tensor, got %s", def->name, i,
                    want == NB_F32 ? "float" : "int64 index",
                    in[i]->dtype == NB_F32 ? "float" : "int64 index");
            return NULL;
        }
    }
    nb_node *n = nb__arena_calloc(sizeof *n);
    nb_tensor **ins = nb__arena_alloc((size_t)(n_in ? n_in : 1) * sizeof *ins);
    nb_tensor *out = nb__arena_calloc(sizeof *out);
    if (!n || !ins || !out) return NULL;
    for (int i = 0; i < n_in; i++) {
        ins[i] = in[i];
        if ((def->flags & NB_OPF_CONTIG) && in[i] && in[i]->dtype == NB_F32 &&
            !nb_tensor_is_contiguous(in[i])) {
            ins[i] = nb_contiguous(in[i]);
            if (!ins[i]) return NULL;
        }
    }
    n->op = op;
    n->n_in = n_in;
    n->in = ins;
    n->out = out;
    if (a) n->a = *a;
    out->dtype = NB_F32;
    out->owner = NB_OWN_ARENA;
    if (def->shape(n, out) != NB_OK) return NULL;
    /* Every output shape, view or not, must be non-negative with a numel that fits: a shape
     * function's own arithmetic may have wrapped (huge reshape or broadcast sizes). */
    if (nb__check_shape(def->name, out->ndim, out->shape) != NB_OK) return NULL;
    if (!(def->flags & NB_OPF_VIEW)) {
        nb__set_contiguous(out);
        out->data = nb__arena_alloc((size_t)out->numel * sizeof(float));
        if (!out->data) return NULL;
    } else {
        int64_t s = 1;
        for (int i = 0; i < out->ndim; i++) s *= out->shape[i];
        out->numel = s;
    }
    def->forward(n);
    bool needs = false;
    for (int i = 0; i < n_in; i++) needs |= ins[i] && ins[i]->requires_grad;
    if (needs && g_no_grad == 0) {
        out->requires_grad = true;
        out->node = n;
        for (int i = 0; i < n_in; i++)
            if (ins[i] && ins[i]->node) ins[i]->uses++; /* for nb__grad_share */
        n->prev = g_tape;
        g_tape = n;
    }
    return out;
}

/* The nodes a backward from out reaches carry its mark: out's own node, and the producers of
 * the inputs of every reached node. A node's readers are all newer than it, so one pass newest
 * to oldest sees every reader before the node itself. The rest of the tape (another loss's
 * graph: a GAN's discriminator step, still recorded when the generator's loss goes backward)
 * is left alone: its backwards would only pass zeros. */
static unsigned g_mark;

static void mark_reached(nb_tensor *out) {
    if (++g_mark == 0) g_mark = 1; /* a fresh node carries 0 */
    out->node->reached = g_mark;
    for (nb_node *n = out->node; n; n = n->prev) {
        if (n->reached != g_mark) continue;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] && n->in[i]->node && n->in[i]->requires_grad) n->in[i]->node->reached = g_mark;
    }
}

static bool live(const nb_node *n) { return n->reached == g_mark && n->out->grad; }

/* Takes the gradient buffers, then runs every backward newest to oldest. */
static nb_status walk(nb_tensor *out) {
    /* Every gradient buffer the walk will need is taken first, in the walk's own order (a node
     * whose output gets no gradient is skipped), so that running out of memory is a status
     * here and never a NULL inside a backward, which cannot return one. Intermediate results'
     * buffers are taken unset; leaves' are zero-filled (they accumulate across backwards). */
    for (nb_node *n = out->node; n; n = n->prev) {
        if (!live(n)) continue;
        for (int i = 0; i < n->n_in; i++) {
            nb_tensor *t = n->in[i];
            if (t && t->requires_grad && !(t->node ? nb__grad_reserve(t) : nb__grad(t)))
                return nb__err(NB_ERR_MEM, "nb_backward: out of memory for the gradient of %s's input %d %s",
                               nb__ops[n->op].name, i, NB_SHAPE_STR(t));
        }
    }
    /* A backward that still needs scratch returns early when the arena refuses it. */
    size_t failures = nb__arena_failures();
    for (nb_node *n = out->node; n; n = n->prev) {
        if (!live(n)) continue;
        nb__grad_settle(n->out); /* no consumer wrote it: zeros */
        nb__ops[n->op].backward(n);
        if (nb__arena_failures() != failures)
            return nb__err(NB_ERR_MEM, "nb_backward: %s: out of memory for scratch (%s)",
                           nb__ops[n->op].name, nb_last_error());
    }
    return NB_OK;
}

nb_status nb__backward_seeded(nb_tensor *out, const float *gout) {
    if (!out) return nb__err_null("nb_backward", "tensor");
    if (!out->requires_grad)
        return nb__err(NB_ERR_STATE,
                       "nb_backward: the tensor does not require a gradient (no input of the "
                       "ops that made it requires one, or it was made in no-grad mode)");
    if (!out->node) {
        /* A leaf: its gradient is the seed. */
        for (int64_t i = 0; i < out->numel; i++) out->grad[i] += gout[i];
        return NB_OK;
    }
    /* Gradients of intermediate results are fresh for each backward; leaves accumulate. A fresh
     * buffer is not zero-filled: it is marked unset, and its first writer stores into it
     * (nb__grad_first) or zero-fills it just before adding (nb__grad), while it is in cache. */
    nb_status st = NB_OK;
    mark_reached(out);
    for (nb_node *n = out->node; n && st == NB_OK; n = n->prev) {
        nb_tensor *t = n->out;
        if (t->grad_shared) { /* the last backward's sharing is decided afresh (new readers) */
            t->grad = NULL;
            t->grad_shared = false;
            if (!nb__grad_reserve(t)) /* unreached too: its gradient then reads as zeros */
                st = nb__err(NB_ERR_MEM, "nb_backward: out of memory for the gradient of %s's result %s",
                             nb__ops[n->op].name, NB_SHAPE_STR(t));
        }
        if (t->grad) t->grad_unset = true;
    }
    float *g = st == NB_OK ? nb__grad_reserve(out) : NULL;
    if (g) {
        memcpy(g, gout, (size_t)out->numel * sizeof(float));
        out->grad_unset = false;
        st = walk(out);
    } else if (st == NB_OK) {
        st = NB_ERR_MEM;
    }
    /* Whatever no backward wrote (an input an op passes no gradient to, or a walk cut short)
     * reads as zeros, as if it had been zero-filled up front. The unreached nodes' results keep
     * their unset buffers: nb_tensor_grad reads them as zeros (it settles them then), and no
     * backward reads them before the next one marks them unset again. */
    for (nb_node *n = out->node; n; n = n->prev) {
        if (n->reached != g_mark) continue;
        nb__grad_settle(n->out);
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i]) nb__grad_settle(n->in[i]);
    }
    return st;
}

nb_status nb_backward(nb_tensor *loss) {
    if (!loss) return nb__err_null("nb_backward", "loss");
    if (loss->numel != 1)
        return nb__err(NB_ERR_SHAPE,
                       "nb_backward: the loss must have one element, got shape %s (reduce it "
                       "with nb_sum or nb_mean first)",
                       NB_SHAPE_STR(loss));
    const float one = 1.0f;
    return nb__backward_seeded(loss, &one);
}
