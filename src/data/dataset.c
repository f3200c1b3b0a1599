/* In-memory datasets: allocation, slicing, freeing, and gathering samples into float batches. */
#include "data_impl.h"

#include <limits.h>

nb_dataset *nb__dataset_new(int64_t n, int64_t dim, int u8, const char *what) {
    if (n < 0 || dim < 0 || (dim > 0 && n > INT64_MAX / dim) ||
        (uint64_t)(n * dim) > SIZE_MAX / sizeof(float)) {
        nb__err(NB_ERR_ARG, "%s: %lld samples of %lld features is too large", what,
                (long long)n, (long long)dim);
        return NULL;
    }
    nb_dataset *d = calloc(1, sizeof *d);
    if (!d) goto oom;
    d->n = n;
    d->dim = dim;
    d->c = 1;
    d->h = 1;
    d->w = dim <= INT_MAX ? (int)dim : 0;
    d->mean = 0.0f;
    d->std = 1.0f;
    size_t count = (size_t)(n * dim);
    d->y = malloc((size_t)(n ? n : 1) * sizeof *d->y); /* (N) */
    if (!d->y) goto oom;
    if (u8)
        d->x_u8 = malloc(count ? count : 1); /* (N, D) bytes */
    else
        d->x_f32 = malloc((count ? count : 1) * sizeof(float)); /* (N, D) floats */
    if (!d->x_u8 && !d->x_f32) goto oom;
    return d;
oom:
    nb_dataset_free(d);
    nb__err(NB_ERR_MEM, "%s: out of memory for %lld samples of %lld features", what,
            (long long)n, (long long)dim);
    return NULL;
}

void nb_dataset_free(nb_dataset *d) {
    if (!d) return;
    free(d->x_u8);
    free(d->x_f32);
    free(d->y);
    free(d);
}

nb_dataset *nb_dataset_slice(const nb_dataset *d, int64_t start, int64_t count) {
    if (!d) {
        nb__err(NB_ERR_ARG, "nb_dataset_slice: dataset is NULL");
        return NULL;
    }
    if (start < 0 || count < 0 || start > d->n || count > d->n - start) {
        nb__err(NB_ERR_ARG, "nb_dataset_slice: [%lld, %lld) is outside the %lld samples",
                (long long)start, (long long)start + (long long)count, (long long)d->n);
        return NULL;
    }
    nb_dataset *s = nb__dataset_new(count, d->dim, d->x_u8 != NULL, "nb_dataset_slice");
    if (!s) return NULL;
    /* The slice keeps the parent's layout, class count and normalization. */
    s->c = d->c;
    s->h = d->h;
    s->w = d->w;
    s->n_classes = d->n_classes;
    s->mean = d->mean;
    s->std = d->std;
    size_t off = (size_t)start * (size_t)d->dim, len = (size_t)count * (size_t)d->dim;
    if (d->x_u8)
        memcpy(s->x_u8, d->x_u8 + off, len);
    else if (d->x_f32)
        memcpy(s->x_f32, d->x_f32 + off, len * sizeof(float));
    memcpy(s->y, d->y + start, (size_t)count * sizeof *s->y);
    return s;
}

void nb_dataset_gather(const nb_dataset *d, const int64_t *idx, int64_t n, float *x, int64_t *y) {
    if (!d || n <= 0) return;
    size_t dim = (size_t)d->dim;
    /* Bytes convert through a 256-entry table computed with the documented formula, so
     * every value equals (b/255 - mean)/std exactly as written. */
    float lut[256];
    if (d->x_u8)
        for (int b = 0; b < 256; b++) lut[b] = ((float)b / 255.0f - d->mean) / d->std;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = idx ? idx[i] : i;
        float *xi = x ? x + (size_t)i * dim : NULL; /* (D) row of x (N, D) */
        if (k < 0 || k >= d->n) {
            /* A caller bug: fill something harmless and leave a message, never abort. */
            nb__err(NB_ERR_ARG, "nb_dataset_gather: index %lld is outside the %lld samples",
                    (long long)k, (long long)d->n);
            if (xi) memset(xi, 0, dim * sizeof(float));
            if (y) y[i] = -1;
            continue;
        }
        if (xi) {
            if (d->x_u8) {
                const uint8_t *src = d->x_u8 + (size_t)k * dim;
                for (size_t j = 0; j < dim; j++) xi[j] = lut[src[j]];
            } else if (d->x_f32) {
                memcpy(xi, d->x_f32 + (size_t)k * dim, dim * sizeof(float));
            }
        }
        if (y) y[i] = d->y[k];
    }
}

void nb__sample_shape(const nb_dataset *d, int *ndim, int64_t *shape) {
    if (d->c == 1 && d->h == 1) {
        *ndim = 1;
        shape[0] = d->dim;
    } else {
        *ndim = 3;
        shape[0] = d->c;
        shape[1] = d->h;
        shape[2] = d->w;
    }
}
