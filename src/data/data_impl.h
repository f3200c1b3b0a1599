/* Helpers shared by the data layer's files (src/data/). Not installed. */
#ifndef NB_DATA_IMPL_H
#define NB_DATA_IMPL_H

#include "internal.h"

/* A zeroed dataset of n samples of dim features with room for the labels (n) and the values
 * (n*dim bytes when u8, else n*dim floats); c=1, h=1, w=dim, mean 0, std 1. NULL (with the
 * error set, naming `what`) when out of memory or when n*dim overflows. */
nb_dataset *nb__dataset_new(int64_t n, int64_t dim, int u8, const char *what);

/* One sample's shape: (c, h, w), or (dim) for rows (c = h = 1). */
void nb__sample_shape(const nb_dataset *d, int *ndim, int64_t *shape);

/* Epoch e's order of n samples (shuffle.c): identity, or a Fisher-Yates permutation drawn from
 * (seed, e) alone with splitmix64 and unbiased bounded draws; nb_loader and nb_text_loader. */
void nb__epoch_order(int64_t *perm, int64_t n, bool shuffle, uint64_t seed, int64_t e);

/* The whole file in a malloc'd buffer with a NUL after its len bytes; errors name path
 * (textfile.c; the CSV reader uses it too). */
nb_status nb__read_file(const char *path, char **buf, size_t *len);

#endif
