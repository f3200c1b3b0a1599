/* nabla checkpoints: the safetensors format (8-byte little-endian header length, a JSON header
 * {"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}, then the raw
 * little-endian tensor bytes), readable by PyTorch's safetensors loader. Included by nabla.h. */
/* nabla's own headers come before the guard, so that this header compiles on its own
 * even though nabla.h includes it back. */
#include "nabla.h"

#ifndef NABLA_IO_H
#define NABLA_IO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The element types nabla reads and writes, as one list: X(enum suffix, bytes per element). The
 * enum constant is NB_ST_<suffix> and the name in the file is the suffix ("F32", "BF16").
 * F16 is IEEE binary16, BF16 the upper half of a binary32, F64 IEEE binary64; PyTorch's
 * safetensors files hold these (and F32) for floating-point weights. */
#define NB_ST_DTYPES(X) X(F32, 4) X(I64, 8) X(U8, 1) X(F16, 2) X(BF16, 2) X(F64, 8)

typedef enum nb_st_dtype {
#define NB_ST_DTYPE_ENUM_(name, size) NB_ST_##name,
    NB_ST_DTYPES(NB_ST_DTYPE_ENUM_)
#undef NB_ST_DTYPE_ENUM_
    NB_ST_DTYPE_COUNT
} nb_st_dtype;

/* "F32", "BF16", ...; "?" for a value outside the enum. */
const char *nb_st_dtype_name(nb_st_dtype dt);
/* Bytes per element; 0 for a value outside the enum. */
size_t nb_st_dtype_size(nb_st_dtype dt);

/* ---- writing --------------------------------------------------------------------------- */
typedef struct nb_st_writer nb_st_writer;
nb_st_writer *nb_st_writer_new(void);
/* Adds a tensor; the bytes (host-order elements of dt: float, int64_t, uint8_t, the uint16_t
 * bit patterns of F16/BF16, double) are copied. Names must be unique and non-empty. */
nb_status nb_st_add(nb_st_writer *w, const char *name, nb_st_dtype dt, int ndim, const int64_t *shape,
              const void *data);
/* Adds a string to __metadata__ (keys unique). */
nb_status nb_st_meta(nb_st_writer *w, const char *key, const char *value);
/* Writes atomically: path.tmp.<pid>, fsync, rename over path, fsync the folder. On any failure
 * the old file at path is untouched and the temporary is removed. */
nb_status nb_st_write(nb_st_writer *w, const char *path);
void nb_st_writer_free(nb_st_writer *w);

/* Writes n bytes to path atomically (temporary file, fsync, rename, folder sync): a failed
 * write leaves an existing file at path untouched. */
nb_status nb_write_file_atomic(const char *path, const void *data, size_t n);

/* ---- reading --------------------------------------------------------------------------- */
typedef struct nb_st_tensor {
    const char *name;
    nb_st_dtype dtype;
    int ndim;
    int64_t shape[8];
    const void *data; /* inside the reader's buffer */
    size_t nbytes;
} nb_st_tensor;

typedef struct nb_st_reader nb_st_reader;
/* Reads and validates the whole file: header length within the file, valid JSON, known
 * dtypes, shapes whose byte size equals data_offsets, offsets inside the data and not
 * overlapping. NULL with nb_last_error naming the file and the problem otherwise. */
nb_st_reader *nb_st_open(const char *path);
int nb_st_count(const nb_st_reader *r);
const nb_st_tensor *nb_st_get(const nb_st_reader *r, int i);
const nb_st_tensor *nb_st_find(const nb_st_reader *r, const char *name); /* NULL if absent */
/* Copies a tensor into dst after checking it exists with exactly this dtype and shape; the
 * error names the file, the tensor and what differs ("conv1.weight: shape (6,1,3,3), expected
 * (6,1,5,5)"). */
nb_status nb_st_read_into(const nb_st_reader *r, const char *name, nb_st_dtype dt, int ndim,
                    const int64_t *shape, void *dst);
/* Reads a floating-point tensor (F32, F16, BF16 or F64) into float32 dst after checking it
 * exists with exactly this shape (same error as nb_st_read_into). F16 and BF16 widen exactly
 * (subnormals, infinities and NaNs included); F64 rounds to the nearest float (ties to even,
 * beyond the float range to an infinity). An integer tensor is NB_ERR_DTYPE. */
nb_status nb_st_read_f32(const nb_st_reader *r, const char *name, int ndim, const int64_t *shape,
                         float *dst);
const char *nb_st_meta_get(const nb_st_reader *r, const char *key); /* NULL if absent */
/* The i-th __metadata__ entry in file order: its key (NULL out of range) and *value. */
int nb_st_meta_count(const nb_st_reader *r);
const char *nb_st_meta_at(const nb_st_reader *r, int i, const char **value);
void nb_st_close(nb_st_reader *r);

#ifdef __cplusplus
}
#endif
#endif
