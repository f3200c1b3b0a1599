/* MaxPool2d and AvgPool2d: a square window k with stride s, no padding. */
#include "nn/nn_impl.h"

typedef struct pool {
    int k, stride;
} pool;

static nb_tensor *max_forward(nb_module *m, nb_tensor *x) {
    pool *s = nb_module_state(m);
    return nb_max_pool2d(x, s->k, s->stride, 0);
}
static nb_tensor *avg_forward(nb_module *m, nb_tensor *x) {
    pool *s = nb_module_state(m);
    return nb_avg_pool2d(x, s->k, s->stride, 0);
}
static void max_describe(const nb_module *m, char *buf, size_t cap) {
    const pool *s = nb_module_state(m);
    snprintf(buf, cap, "MaxPool2d(%d, %d)", s->k, s->stride);
}
static void avg_describe(const nb_module *m, char *buf, size_t cap) {
    const pool *s = nb_module_state(m);
    snprintf(buf, cap, "AvgPool2d(%d, %d)", s->k, s->stride);
}

static const nb_module_ops max_ops = {.kind = "MaxPool2d", .forward = max_forward, .describe = max_describe};
static const nb_module_ops avg_ops = {.kind = "AvgPool2d", .forward = avg_forward, .describe = avg_describe};

static nb_module *pool_new(const nb_module_ops *ops, int k, int stride, const char *fn) {
    if (k < 1 || stride < 0) {
        nb__err(NB_ERR_ARG, "%s: window must be >= 1 and stride >= 0, got %d, %d", fn, k, stride);
        return NULL;
    }
    nb_module *m = nb__module_alloc(ops, sizeof(pool), fn);
    if (m) *(pool *)nb_module_state(m) = (pool){.k = k, .stride = stride ? stride : k};
    return m;
}
nb_module *nb_maxpool2d_new(int k, int stride) { return pool_new(&max_ops, k, stride, "nb_maxpool2d_new"); }
nb_module *nb_avgpool2d_new(int k, int stride) { return pool_new(&avg_ops, k, stride, "nb_avgpool2d_new"); }

bool nb__maxpool2d_get(const nb_module *m, int *k, int *stride) {
    if (!m || m->ops != &max_ops) return false;
    const pool *s = nb_module_state((nb_module *)m);
    *k = s->k, *stride = s->stride;
    return true;
}
