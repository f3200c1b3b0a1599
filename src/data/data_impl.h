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

#endif
