/* libFuzzer target: the CSV reader, nb_csv_load(path, header_lines), with 0 and 1 header lines.
 * The input is the CSV file as it is (tests/fuzz/corpus/csv). */
#include "fuzz_common.h"

#include <math.h>

static void check(nb_dataset *d) {
    if (!d) {
        fz_refused();
        return;
    }
    fz_accepted("nb_csv_load");
    /* Rows of dim finite features and an integer label >= 0 below n_classes. */
    FZ_CHECK(d->n > 0 && d->dim > 0 && d->c == 1 && d->h == 1 && d->w == d->dim);
    FZ_CHECK(d->x_f32 && d->y && d->n_classes >= 1);
    for (int64_t i = 0; i < d->n * d->dim; i++) FZ_CHECK(isfinite(d->x_f32[i]));
    for (int64_t i = 0; i < d->n; i++) FZ_CHECK(d->y[i] >= 0 && d->y[i] < d->n_classes);
    nb_dataset_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write(0, "data.csv", data, size);
    check(nb_csv_load(path, 0));
    check(nb_csv_load(path, 1));
    return 0;
}
