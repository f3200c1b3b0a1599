/* libFuzzer target: the IDX reader, nb_idx_load(images, labels), plain or gzipped.
 *
 * Input layout (what tests/fuzz/corpus/idx holds): a 4-byte big-endian length L, the images
 * file (L bytes), then the labels file (the rest). When the input is shorter than 4 bytes or
 * L is larger than what follows, everything after the length is the images file and there is
 * no labels file (nb_idx_load(images, NULL), as prediction calls it). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *images, *labels = NULL;
    size_t len = size >= 4 ? (size_t)data[0] << 24 | (size_t)data[1] << 16 |
                                 (size_t)data[2] << 8 | data[3]
                           : SIZE_MAX;
    size_t skip = size >= 4 ? 4 : 0;
    if (len <= size - skip) {
        images = fz_write(0, "images", data + 4, len);
        labels = fz_write(1, "labels", data + 4 + len, size - 4 - len);
    } else {
        images = fz_write(0, "images", data + skip, size - skip);
    }
    nb_dataset *d = nb_idx_load(images, labels);
    if (!d) {
        fz_refused();
        return 0;
    }
    fz_accepted("nb_idx_load");
    /* What the header promises: n images of h x w bytes, n labels below n_classes <= 256. */
    FZ_CHECK(d->n > 0 && d->h > 0 && d->w > 0 && d->c == 1);
    FZ_CHECK(d->dim == (int64_t)d->h * d->w);
    FZ_CHECK(d->x_u8 && d->y && d->n_classes >= 1 && d->n_classes <= 256);
    volatile uint8_t last = d->x_u8[d->n * d->dim - 1]; /* AddressSanitizer: all bytes are there */
    (void)last;
    for (int64_t i = 0; i < d->n; i++) FZ_CHECK(d->y[i] >= 0 && d->y[i] < d->n_classes);
    if (!labels)
        for (int64_t i = 0; i < d->n; i++) FZ_CHECK(d->y[i] == 0);
    /* The batch conversion over the first and last samples. */
    int64_t idx[2] = {0, d->n - 1};
    float *x = malloc(2 * (size_t)d->dim * sizeof *x);
    int64_t y[2];
    FZ_CHECK(x != NULL);
    nb_dataset_gather(d, idx, 2, x, y);
    for (int64_t i = 0; i < 2 * d->dim; i++) FZ_CHECK(x[i] == x[i]);
    free(x);
    nb_dataset_free(d);
    return 0;
}
