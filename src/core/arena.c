/* The step arena: every op result, gradient buffer and tape node of one training step comes
 * from here and is released at once by nb__arena_reset (which autograd's nb_step_reset calls
 * after dropping the tape). Chunks grow to fit; at reset they are kept, emptied, in the order
 * they were first filled, and the next step fills them again in that order: a repeated step
 * makes the same requests, so it fits in them as the step before did and calls no malloc.
 * (Merging them into one chunk of the total size, as before 2026-12-02, gave the second step
 * fresh memory to fault in: about 0.1 s for a DCGAN's step on the Zen 5 VM, four steps' work.) */
#include "internal.h"

#define NB_ALIGN 64
#define NB_FIRST_CHUNK (1u << 20)

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    unsigned char *mem;
} chunk;

static chunk *g_head;      /* chunk being filled; older chunks follow via next */
static chunk *g_spare;     /* emptied chunks waiting to be filled again, the first-filled first */
static size_t g_mallocs;
static size_t g_failures;  /* allocations refused so far: the tape compares it around a backward */
static size_t g_limit;     /* tests only: total chunk bytes allowed, 0 = no limit */

static size_t total_cap(void) {
    size_t total = 0;
    for (chunk *c = g_head; c; c = c->next) total += c->cap;
    for (chunk *c = g_spare; c; c = c->next) total += c->cap;
    return total;
}

static void chunk_free(chunk *c) {
    free(c->mem);
    free(c);
}

static void list_free(chunk *c) {
    while (c) {
        chunk *n = c->next;
        chunk_free(c);
        c = n;
    }
}

static chunk *chunk_new(size_t cap) {
    if (g_limit && (cap > g_limit || total_cap() > g_limit - cap)) return NULL;
    chunk *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->mem = aligned_alloc(NB_ALIGN, (cap + NB_ALIGN - 1) / NB_ALIGN * NB_ALIGN);
    if (!c->mem) {
        free(c);
        return NULL;
    }
    c->cap = cap;
    c->used = 0;
    c->next = NULL;
    g_mallocs++;
    return c;
}

void *nb__arena_alloc(size_t bytes) {
    size_t need = (bytes + NB_ALIGN - 1) / NB_ALIGN * NB_ALIGN;
    if (need == 0) need = NB_ALIGN;
    if (!g_head || g_head->cap - g_head->used < need) {
        /* The next emptied chunk that holds the request (one too small for it is freed: this
         * step asks for other sizes than the one before), else a new one. */
        chunk *c = NULL;
        while (g_spare && !c) {
            chunk *s = g_spare;
            g_spare = s->next;
            if (s->cap >= need) c = s;
            else chunk_free(s);
        }
        size_t cap = g_head ? g_head->cap * 2 : NB_FIRST_CHUNK;
        if (cap < need) cap = need;
        if (!c) c = chunk_new(cap);
        if (!c) {
            g_failures++;
            nb__err(NB_ERR_MEM,
                    "out of memory: the step arena (%zu bytes) could not grow by %zu bytes for "
                    "a %zu-byte buffer",
                    total_cap(), cap, bytes);
            return NULL;
        }
        c->next = g_head;
        g_head = c;
    }
    void *p = g_head->mem + g_head->used;
    g_head->used += need;
    return p;
}

void *nb__arena_calloc(size_t bytes) {
    void *p = nb__arena_alloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void nb__arena_reset(void) {
    /* g_head's list runs newest first: reversed onto the spares (which a step that used fewer
     * chunks left unfilled, first-filled first), it puts them back in the order of filling. */
    chunk *rest = g_spare;
    for (chunk *c = g_head; c;) {
        chunk *n = c->next;
        c->used = 0;
        c->next = rest;
        rest = c;
        c = n;
    }
    g_head = NULL;
    g_spare = rest;
}

size_t nb_arena_capacity(void) { return total_cap(); }

size_t nb__arena_failures(void) { return g_failures; }

void nb__arena_set_limit(size_t bytes) {
    list_free(g_head);
    list_free(g_spare);
    g_head = g_spare = NULL;
    g_limit = bytes;
}

size_t nb_arena_mallocs(void) { return g_mallocs; }

nb_tensor *nb__arena_tensor(nb_dtype dt, int ndim, const int64_t *shape) {
    nb_tensor *t = nb__arena_calloc(sizeof *t);
    if (!t) return NULL;
    t->ndim = ndim;
    t->dtype = dt;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    nb__set_contiguous(t);
    t->owner = NB_OWN_ARENA;
    t->data = nb__arena_alloc((size_t)t->numel * (dt == NB_F32 ? sizeof(float) : sizeof(int64_t)));
    if (!t->data) return NULL;
    return t;
}

nb_tensor *nb__arena_view(const nb_tensor *base, void *data) {
    nb_tensor *t = nb__arena_calloc(sizeof *t);
    if (!t) return NULL;
    *t = *base;
    t->data = data;
    t->grad = NULL;
    t->grad_unset = false;
    t->grad_shared = false;
    t->uses = 0;
    t->node = NULL;
    t->requires_grad = false;
    t->is_leaf = false;
    t->owns_data = false;
    t->owner = NB_OWN_ARENA;
    return t;
}

float *nb__grad(nb_tensor *t) {
    if (!t->grad) t->grad = nb__arena_calloc((size_t)t->numel * sizeof(float));
    else nb__grad_settle(t);
    return t->grad;
}

float *nb__grad_first(nb_tensor *t, bool *assign) {
    *assign = t->grad && t->grad_unset;
    if (*assign) {
        t->grad_unset = false;
        return t->grad;
    }
    return nb__grad(t);
}

bool nb__grad_share(nb_tensor *t, float *g) {
    if (!t->node || !t->grad_unset || t->uses != 1) return false;
    /* Its only reader is the caller: no other backward adds to the shared buffer. */
    t->grad = g;
    t->grad_unset = false;
    t->grad_shared = true;
    return true;
}

float *nb__grad_reserve(nb_tensor *t) {
    if (t->grad) return t->grad;
    t->grad = nb__arena_alloc((size_t)t->numel * sizeof(float));
    t->grad_unset = t->grad != NULL;
    return t->grad;
}

void nb__grad_settle(nb_tensor *t) {
    if (t->grad && t->grad_unset) memset(t->grad, 0, (size_t)t->numel * sizeof(float));
    t->grad_unset = false;
}
