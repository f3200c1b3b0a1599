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
    if (par && outer > 1 && outer * cs[n - 1] > 262144 && nb__threads() > 1) {
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
static void add_transposed_tiles(float *restrict dst, int64_t rs, const float *restrict src, int64_t i_lo,
                                 int64_t rows, int64_t j_lo, int64_t cols, bool assign) {
    for (int64_t i0 = i_lo; i0 < rows; i0 += NB_TILE) {
        const int64_t i1 = i0 + NB_TILE < rows ? i0 + NB_TILE : rows;
        for (int64_t j0 = j_lo; j0 < cols; j0 += NB_TILE) {
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

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define NB_HAVE_AVX2_TRANSPOSE 1
/* The same adds, 8 x 8 blocks at a time: eight src rows loaded, transposed in registers, and
 * each of the eight results added to a run of eight dst elements (one add per element, as
 * above). The edges (rows or cols not a multiple of 8) go through the tiles. */
__attribute__((target("avx2"))) static void add_transposed_avx2(float *restrict dst, int64_t rs,
                                                                const float *restrict src, int64_t rows,
                                                                int64_t cols, bool assign) {
    const int64_t r8 = rows & ~(int64_t)7, c8 = cols & ~(int64_t)7;
    for (int64_t i0 = 0; i0 < r8; i0 += 8) {
        const float *s = src + i0 * cols;
        for (int64_t j0 = 0; j0 < c8; j0 += 8) {
            __m256 a0 = _mm256_loadu_ps(s + 0 * cols + j0), a1 = _mm256_loadu_ps(s + 1 * cols + j0);
            __m256 a2 = _mm256_loadu_ps(s + 2 * cols + j0), a3 = _mm256_loadu_ps(s + 3 * cols + j0);
            __m256 a4 = _mm256_loadu_ps(s + 4 * cols + j0), a5 = _mm256_loadu_ps(s + 5 * cols + j0);
            __m256 a6 = _mm256_loadu_ps(s + 6 * cols + j0), a7 = _mm256_loadu_ps(s + 7 * cols + j0);
            __m256 b0 = _mm256_unpacklo_ps(a0, a1), b1 = _mm256_unpackhi_ps(a0, a1);
            __m256 b2 = _mm256_unpacklo_ps(a2, a3), b3 = _mm256_unpackhi_ps(a2, a3);
            __m256 b4 = _mm256_unpacklo_ps(a4, a5), b5 = _mm256_unpackhi_ps(a4, a5);
            __m256 b6 = _mm256_unpacklo_ps(a6, a7), b7 = _mm256_unpackhi_ps(a6, a7);
            __m256 c0 = _mm256_shuffle_ps(b0, b2, 0x44), c1 = _mm256_shuffle_ps(b0, b2, 0xee);
            __m256 c2 = _mm256_shuffle_ps(b1, b3, 0x44), c3 = _mm256_shuffle_ps(b1, b3, 0xee);
            __m256 c4 = _mm256_shuffle_ps(b4, b6, 0x44), c5 = _mm256_shuffle_ps(b4, b6, 0xee);
            __m256 c6 = _mm256_shuffle_ps(b5, b7, 0x44), c7 = _mm256_shuffle_ps(b5, b7, 0xee);
            __m256 t[8];
            t[0] = _mm256_permute2f128_ps(c0, c4, 0x20), t[1] = _mm256_permute2f128_ps(c1, c5, 0x20);
            t[2] = _mm256_permute2f128_ps(c2, c6, 0x20), t[3] = _mm256_permute2f128_ps(c3, c7, 0x20);
            t[4] = _mm256_permute2f128_ps(c0, c4, 0x31), t[5] = _mm256_permute2f128_ps(c1, c5, 0x31);
            t[6] = _mm256_permute2f128_ps(c2, c6, 0x31), t[7] = _mm256_permute2f128_ps(c3, c7, 0x31);
            for (int k = 0; k < 8; k++) { /* t[k] = src[i0 .. i0 + 8][j0 + k] */
                float *d = dst + (j0 + k) * rs + i0;
                _mm256_storeu_ps(d, assign ? t[k] : _mm256_add_ps(_mm256_loadu_ps(d), t[k]));
            }
        }
    }
    if (c8 < cols) add_transposed_tiles(dst, rs, src, 0, r8, c8, cols, assign);
    if (r8 < rows) add_transposed_tiles(dst, rs, src, r8, rows, 0, cols, assign);
}
#endif

static void add_transposed_run(float *dst, int64_t rs, const float *src, int64_t rows, int64_t cols, bool assign) {
#ifdef NB_HAVE_AVX2_TRANSPOSE
    if (rows >= 8 && cols >= 8 && __builtin_cpu_supports("avx2")) {
        add_transposed_avx2(dst, rs, src, rows, cols, assign);
        return;
    }
#endif
    add_transposed_tiles(dst, rs, src, 0, rows, 0, cols, assign);
}

static void add_transposed(float *restrict dst, int64_t rs, const float *restrict src, int64_t rows,
                           int64_t cols, bool assign) {
    /* Large ones split src's rows (dst's columns) over the threads in runs of 32: each element
     * still gets its one add. */
    if (rows * cols > NB__PAR_CHEAP && rows >= 64 && nb__threads() > 1) {
#pragma omp parallel
        {
            const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num(), units = (rows + 31) / 32;
            const int64_t lo = units * t / nt * 32, hi = units * (t + 1) / nt * 32;
            if (lo < rows) add_transposed_run(dst + lo, rs, src + lo * cols, (hi < rows ? hi : rows) - lo, cols, assign);
        }
        return;
    }
    add_transposed_run(dst, rs, src, rows, cols, assign);
}

void nb__add_transposed(float *dst, int64_t rs, const float *src, int64_t rows, int64_t cols, bool assign) {
    add_transposed(dst, rs, src, rows, cols, assign);
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
