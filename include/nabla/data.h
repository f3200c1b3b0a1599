/* nabla data layer: IDX and CSV readers, in-memory datasets, a batching loader with a
 * background thread. Included by nabla.h.
 *
 * A dataset holds n samples of dim features each, either as uint8 (images: kept as bytes,
 * converted to float per batch) or as float32 (CSV columns), and an int64 label per sample. */
/* nabla's own headers come before the guard, so that this header compiles on its own
 * even though nabla.h includes it back. */
#include "nabla.h"

#ifndef NABLA_DATA_H
#define NABLA_DATA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_dataset {
    int64_t n;          /* samples */
    int64_t dim;        /* features per sample (= c*h*w for images) */
    int c, h, w;        /* image layout (c=1, h=1, w=dim for CSV) */
    int n_classes;      /* 1 + the largest label */
    uint8_t *x_u8;      /* n*dim bytes, or NULL */
    float *x_f32;       /* n*dim floats, or NULL */
    int64_t *y;         /* n labels */
    float mean, std;    /* per-batch conversion of bytes: (x/255 - mean)/std (defaults 0, 1) */
} nb_dataset;

/* Reads an IDX image file (magic 0x00000803, uint8, n x h x w) and its IDX label file (magic
 * 0x00000801, uint8, n), plain or gzipped (detected by content, not name). Checks magic, type,
 * rank, that sizes match the file length and each other, and that labels are < 256. NULL and
 * nb_last_error naming the file and the problem otherwise. labels_path may be NULL (images
 * only; every label 0). */
nb_dataset *nb_idx_load(const char *images_path, const char *labels_path);

/* Finds the four MNIST-layout files in dir: {train,t10k}-{images-idx3,labels-idx1}-ubyte,
 * each plain or with ".gz", and loads the train (train=1) or test (train=0) pair. */
nb_dataset *nb_mnist_load(const char *dir, int train);

/* CSV of numeric columns whose last column is an integer label >= 0. header_lines lines are
 * skipped. Every row must have the same number of columns; an error names file and line. */
nb_dataset *nb_csv_load(const char *path, int header_lines);

/* A copy of samples [start, start+count). */
nb_dataset *nb_dataset_slice(const nb_dataset *d, int64_t start, int64_t count);
void nb_dataset_free(nb_dataset *d);

/* Converts samples idx[0..n) to floats x (n*dim) and labels y (n). */
void nb_dataset_gather(const nb_dataset *d, const int64_t *idx, int64_t n, float *x, int64_t *y);

/* ---- loader ---------------------------------------------------------------------------- */
/* One batch of n samples, as loaders hand them out and the training loops take them. Fields a
 * source does not fill are NULL (or 0). */
typedef struct nb_batch {
    int64_t n;              /* samples in this batch (the last may be smaller unless drop_last) */
    const float *x;         /* n * prod(x_shape) floats, or NULL when the batch holds tokens */
    int x_ndim;             /* one sample's shape: (C, H, W) images, (D) features, (T, D) or */
    int64_t x_shape[NB_MAX_DIMS - 1]; /* (T) token sequences */
    const int64_t *tokens;  /* n * prod(x_shape) token ids, or NULL */
    const int64_t *y;       /* labels (n), or next-token targets (n * T) for language models */
    const float *target;    /* float targets, n * target_dim, or NULL */
    int64_t target_dim;
    const int64_t *lengths; /* real lengths of padded sequences (n), or NULL */
    const int64_t *idx;     /* the dataset indices of these samples, or NULL */
    /* Row i continues row i of the previous batch (a long stream cut into windows, for
     * truncated backpropagation through time): stateful layers keep their states. When false,
     * the loops call nb_model_reset_states before the batch. */
    bool carry;
} nb_batch;

typedef struct nb_loader nb_loader;
/* Batches of batch samples of d (which must outlive the loader); samples have the shape
 * (C, H, W) of images, or (D) when c = h = 1 (CSV rows).
 * shuffle: each epoch's order is a permutation drawn from (seed, epoch) alone, so epoch k's
 * order does not depend on what ran before (resuming at epoch k gives the same batches). */
nb_loader *nb_loader_new(const nb_dataset *d, int64_t batch, int shuffle, uint64_t seed,
                         int drop_last);
int64_t nb_loader_batches(const nb_loader *l); /* batches per epoch */
/* Starts epoch `epoch` (0-based); a background thread begins preparing the first batch. */
void nb_loader_start(nb_loader *l, int64_t epoch);
/* Fills *b with the next batch and returns 1, or returns 0 at the end of the epoch. *b stays
 * valid until the next nb_loader_next or nb_loader_start. While the caller works on it, the
 * thread prepares the following ones into a ring of 2 to 8 buffers (as many as fit in 8 MiB). */
int nb_loader_next(nb_loader *l, nb_batch *b);
void nb_loader_free(nb_loader *l);

#ifdef __cplusplus
}
#endif
#endif
