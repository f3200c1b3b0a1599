/* Strided iteration: copying views into contiguous buffers and adding contiguous gradients
 * back through strides. Sums into one element (broadcast strides) run serially in a fixed order;
 * copies and one-add-per-element walks may split rows across threads. Either way the results
 * are repeatable to the bit, whatever the thread count. */
#include "internal.h"

#include <omp.h>

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

/* Rows [r0, r1) of a collapsed layout of n axes (cs sizes, st strides, the last axis the row,
 * unit stride): copy (to_rows: contiguous dst rows from strided src rows) or add/store (strided
 * dst rows from contiguous src rows). The outer axes advance like an odometer. */
static void walk_rows(float *dst, const float *src, int n, const int64_t *cs, const int64_t *st, int64_t r0,
                      int64_t r1, int mode /* 0 copy, 1 add, 2 store */) {
    const int64_t inner = cs[n - 1];
    if (r0 >= r1) return; /* none (an empty axis makes a size 0) */
    int64_t idx[NB_MAX_DIMS] = {0}, off = 0, rem = r0;
    for (int d = n - 2; d >= 0; d--) {
        idx[d] = rem % cs[d];
        rem /= cs[d];
        off += idx[d] * st[d];
    }
    for (int64_t o = r0; o < r1; o++) {
        if (mode == 0) memcpy(dst + o * inner, src + off, (size_t)inner * sizeof(float));
        else if (mode == 2) memcpy(dst + off, src + o * inner, (size_t)inner * sizeof(float));
        else {
            float *restrict dd = dst + off;
            const float *restrict ss = src + o * inner;
            for (int64_t i = 0; i < inner; i++) dd[i] += ss[i];
        }
        if (n == 1) break;
        int d = n - 2;
        off += st[d];
        while (++idx[d] == cs[d] && d > 0) {
            off -= cs[d] * st[d];
            idx[d] = 0;
            d--;
            off += st[d];
        }
    }
}

/* walk_rows over all outer rows, split across the OpenMP threads when the rows are many and
 * each element is written once (par): the split then changes no result. */
static void walk_all(float *dst, const float *src, int n, const int64_t *cs, const int64_t *st, int64_t outer,
                     int mode, bool par) {
    if (par && outer > 1 && outer * cs[n - 1] > 32768 && nb__threads() > 1) {
#pragma omp parallel
        {
            const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
            walk_rows(dst, src, n, cs, st, outer * t / nt, outer * (t + 1) / nt, mode);
        }
    } else {
        walk_rows(dst, src, n, cs, st, 0, outer, mode);
    }
}

void nb__strided_copy(float *dst, const float *src, int ndim, const int64_t *shape,
                      const int64_t *src_stride) {
    int64_t cs[NB_MAX_DIMS], st[NB_MAX_DIMS], idx[NB_MAX_DIMS] = {0};
    int n = collapse(ndim, shape, src_stride, cs, st);
    int64_t inner = cs[n - 1], is = st[n - 1], outer = 1;
    for (int i = 0; i < n - 1; i++) outer *= cs[i];
    if (is == 1) { /* contiguous rows (q, k and v out of a permuted view): one copy each */
        walk_all(dst, src, n, cs, st, outer, 0, true);
        return;
    }
    for (int64_t o = 0; o < outer; o++) {
        int64_t off = 0;
        for (int d = 0; d < n - 1; d++) off += idx[d] * st[d];
        const float *s = src + off;
        float *dd = dst + o * inner;
        for (int64_t i = 0; i < inner; i++) dd[i] = s[i * is];
        for (int d = n - 2; d >= 0 && ++idx[d] == cs[d]; d--) idx[d] = 0;
    }
}

/* dst[i] += src[i] (or = with assign): the contiguous case, one flat loop that vectorizes. dst
 * (a gradient or an output) and src (another tensor's gradient or data) are never the same
 * buffer. */
static void add_flat(float *restrict dst, const float *restrict src, int64_t n, bool assign) {
    if (assign) memcpy(dst, src, (size_t)n * sizeof(float));
    else
        for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

/* dst[j * rs + i] += src[i * cols + j] (or =) for a (rows, cols) src: a transposed add (a
 * weight's gradient through its transposed view), walked in tiles so both sides stay in cache.
 * Each element of dst receives exactly one add, so the tile order changes no result. */
#define NB_TILE 32
static void add_transposed(float *restrict dst, int64_t rs, const float *restrict src,
                           int64_t rows, int64_t cols, bool assign) {
    for (int64_t i0 = 0; i0 < rows; i0 += NB_TILE) {
        const int64_t i1 = i0 + NB_TILE < rows ? i0 + NB_TILE : rows;
        for (int64_t j0 = 0; j0 < cols; j0 += NB_TILE) {
            const int64_t j1 = j0 + NB_TILE < cols ? j0 + NB_TILE : cols;
            /* src rows read along, dst written down: src rows are often a power of two
             * apart (512 floats), which a walk down src would thrash in L1's sets. */
            if (assign)
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = j0; j < j1; j++) dst[j * rs + i] = src[i * cols + j];
            else
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = j0; j < j1; j++) dst[j * rs + i] += src[i * cols + j];
        }
    }
}

static void strided_store(float *dst, const int64_t *dst_stride, const float *src, int ndim,
                          const int64_t *shape, bool assign) {
    int64_t cs[NB_MAX_DIMS], st[NB_MAX_DIMS], idx[NB_MAX_DIMS] = {0};
    int n = collapse(ndim, shape, dst_stride, cs, st);
    int64_t inner = cs[n - 1], is = st[n - 1], outer = 1;
    for (int i = 0; i < n - 1; i++) outer *= cs[i];
    /* Fast paths with the same adds per element as the walk below. */
    if (n == 1 && is == 1) { /* both contiguous, same shape */
        add_flat(dst, src, inner, assign);
        return;
    }
    if (n == 2 && st[0] == 1 && is > 1 && is >= cs[0]) { /* a transposed view */
        add_transposed(dst, is, src, cs[0], inner, assign);
        return;
    }
    if (is == 1 && n > 1) {
        /* Contiguous rows (a permuted gradient with its last axis kept, a bias summed over
         * rows). Without a 0 stride each element gets one add, and threads may split the rows;
         * a broadcast (0) stride sums rows into one, serially in row order. */
        bool once = true;
        for (int d = 0; d < n - 1; d++) once &= st[d] != 0;
        walk_all(dst, src, n, cs, st, outer, assign ? 2 : 1, once);
        return;
    }
    for (int64_t o = 0; o < outer; o++) {
        int64_t off = 0;
        for (int d = 0; d < n - 1; d++) off += idx[d] * st[d];
        float *dd = dst + off;
        const float *s = src + o * inner;
        if (is == 0) {
            float acc = 0;
            for (int64_t i = 0; i < inner; i++) acc += s[i];
            dd[0] = assign ? acc : dd[0] + acc;
        } else if (assign) {
            for (int64_t i = 0; i < inner; i++) dd[i * is] = s[i];
        } else {
            for (int64_t i = 0; i < inner; i++) dd[i * is] += s[i];
        }
        for (int d = n - 2; d >= 0 && ++idx[d] == cs[d]; d--) idx[d] = 0;
    }
}

void nb__strided_add(float *dst, const int64_t *dst_stride, const float *src, int ndim,
                     const int64_t *shape) {
    strided_store(dst, dst_stride, src, ndim, shape, false);
}

void nb__strided_store(float *dst, const int64_t *dst_stride, const float *src, int ndim,
                       const int64_t *shape, bool assign) {
    strided_store(dst, dst_stride, src, ndim, shape, assign);
}

const float *nb__contig_data(const nb_tensor *t) {
    if (nb_tensor_is_contiguous(t)) return NB_F(t);
    float *buf = nb__arena_alloc((size_t)t->numel * sizeof(float));
    if (!buf) return NULL;
    nb__strided_copy(buf, NB_F(t), t->ndim, t->shape, t->stride);
    return buf;
}
