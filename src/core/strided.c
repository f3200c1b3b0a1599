/* Strided iteration: copying views into contiguous buffers and adding contiguous gradients
 * back through strides. Serial and in a fixed order, so results are repeatable to the bit. */
#include "internal.h"

/* Collapses axes that are contiguous in both layouts, so the inner loop is long. */
static int collapse(int ndim, const int64_t *shape, const int64_t *stride, int64_t *cs,
                    int64_t *cst) {
    int n = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 1) continue;
        if (n > 0 && cst[n - 1] == stride[i] * shape[i]) {
            cs[n - 1] *= shape[i];
            cst[n - 1] = stride[i];
        } else {
            cs[n] = shape[i];
            cst[n] = stride[i];
            n++;
        }
    }
    if (n == 0) {
        cs[0] = 1;
        cst[0] = 1;
        n = 1;
    }
    return n;
}

void nb__strided_copy(float *dst, const float *src, int ndim, const int64_t *shape,
                      const int64_t *src_stride) {
    int64_t cs[NB_MAX_DIMS], st[NB_MAX_DIMS], idx[NB_MAX_DIMS] = {0};
    int n = collapse(ndim, shape, src_stride, cs, st);
    int64_t inner = cs[n - 1], is = st[n - 1], outer = 1;
    for (int i = 0; i < n - 1; i++) outer *= cs[i];
    for (int64_t o = 0; o < outer; o++) {
        int64_t off = 0;
        for (int d = 0; d < n - 1; d++) off += idx[d] * st[d];
        const float *s = src + off;
        float *dd = dst + o * inner;
        for (int64_t i = 0; i < inner; i++) dd[i] = s[i * is];
        for (int d = n - 2; d >= 0 && ++idx[d] == cs[d]; d--) idx[d] = 0;
    }
}

void nb__strided_add(float *dst, const int64_t *dst_stride, const float *src, int ndim,
                     const int64_t *shape) {
    int64_t cs[NB_MAX_DIMS], st[NB_MAX_DIMS], idx[NB_MAX_DIMS] = {0};
    int n = collapse(ndim, shape, dst_stride, cs, st);
    int64_t inner = cs[n - 1], is = st[n - 1], outer = 1;
    for (int i = 0; i < n - 1; i++) outer *= cs[i];
    for (int64_t o = 0; o < outer; o++) {
        int64_t off = 0;
        for (int d = 0; d < n - 1; d++) off += idx[d] * st[d];
        float *dd = dst + off;
        const float *s = src + o * inner;
        if (is == 0) {
            float acc = 0;
            for (int64_t i = 0; i < inner; i++) acc += s[i];
            dd[0] += acc;
        } else {
            for (int64_t i = 0; i < inner; i++) dd[i * is] += s[i];
        }
        for (int d = n - 2; d >= 0 && ++idx[d] == cs[d]; d--) idx[d] = 0;
    }
}

const float *nb__contig_data(const nb_tensor *t) {
    if (nb_tensor_is_contiguous(t)) return NB_F(t);
    float *buf = nb__arena_alloc((size_t)t->numel * sizeof(float));
    if (!buf) return NULL;
    nb__strided_copy(buf, NB_F(t), t->ndim, t->shape, t->stride);
    return buf;
}
