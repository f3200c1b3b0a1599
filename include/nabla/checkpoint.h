/* nabla checkpoints: any model's tensors by name in a safetensors file, with free-form string
 * metadata that the library stores and returns without reading it (docs/checkpoints.md).
 *
 * A checkpoint holds every parameter, buffer and counter under its state_dict name (so
 * PyTorch's load_state_dict takes it after dropping the "_nabla." entries), "format":
 * "nabla-checkpoint-2" and the caller's metadata in __metadata__, and, when an optimizer is
 * given, its state and the RNG state as tensors named "_nabla.optim.*" and "_nabla.rng".
 * Several models (parts) may share one file, each under its name prefix
 * (nb_checkpoint_save_parts).
 * Loading reads files written by nabla or by PyTorch (safetensors.torch.save_file of a
 * state_dict: F32, F16, BF16 or F64 tensors, converted to float). */
/* nabla's own headers come before the guard, so that this header compiles on its own
 * even though nabla.h includes it back. */
#include "nabla.h"
#include "nn.h"

#ifndef NABLA_CHECKPOINT_H
#define NABLA_CHECKPOINT_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- string metadata ------------------------------------------------------------------------ */
typedef struct nb_meta nb_meta;
nb_meta *nb_meta_new(void);
void nb_meta_free(nb_meta *m);
/* Sets key to value (both copied; an existing key is replaced). Keys are 1-64 printable ASCII
 * characters; values at most NB_META_VALUE_MAX bytes (a text model's vocabulary is one value);
 * "format" is the library's own. nb_meta_setf formats at most 4096 bytes. */
#define NB_META_VALUE_MAX (4 << 20)
nb_status nb_meta_set(nb_meta *m, const char *key, const char *value);
nb_status nb_meta_setf(nb_meta *m, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *nb_meta_get(const nb_meta *m, const char *key); /* NULL if absent */
int nb_meta_count(const nb_meta *m);
const char *nb_meta_key(const nb_meta *m, int i);
const char *nb_meta_value(const nb_meta *m, int i);

/* ---- saving and loading ----------------------------------------------------------------------- */
/* Writes m's tensors, meta (may be NULL) and, when opt is given, the optimizer and RNG state.
 * Atomic: a failed write keeps the old file. A NaN or infinity in a parameter, a buffer or the
 * optimizer state is NB_ERR_STATE naming the tensor, and nothing is written. */
nb_status nb_checkpoint_save(const char *path, nb_model *m, nb_optim *opt, const nb_meta *meta);
/* A model with LoRA adapters (nb_lora_apply) saved as the plain model: as nb_checkpoint_save
 * without an optimizer, leaving out every adapter tensor (nb_lora_is_adapter_name), so the
 * model built without adapters (and PyTorch's) loads the file strictly. The adapters must be
 * merged first (nb_lora_merge): an adapter whose lora_B is not all zeros would be lost, and is
 * NB_ERR_STATE naming it (nothing written). A model without adapters is saved as it is. */
nb_status nb_checkpoint_save_merged(const char *path, nb_model *m, const nb_meta *meta);
/* Every __metadata__ entry of the file ("format" included); NULL with the error naming the
 * file if it is not a valid safetensors file. */
nb_meta *nb_checkpoint_meta(const char *path);

typedef struct nb_load_opts {
    /* true (nb_load_defaults): every tensor of the model must be in the file with its shape,
     * and the file may hold no other (besides "_nabla.*"); the error names the first that is
     * not. One exception: a file holding no LoRA adapter tensor at all (a plain model's) loads
     * into a model with adapters, which keep their values (listed as "missing" in *report).
     * false: what does not fit is skipped and listed in *report. */
    bool strict;
    /* Comma-separated name prefixes not loaded (their tensors keep the model's values), e.g.
     * a head to train anew; NULL for none. */
    const char *skip;
} nb_load_opts;
nb_load_opts nb_load_defaults(void); /* strict, nothing skipped */

/* Loads the model's tensors by name (and, with opt, the optimizer and RNG state, an error if
 * the file holds none or another optimizer's). All or nothing: on error the model and
 * optimizer are as they were. o NULL: nb_load_defaults(). report (may be NULL) receives a
 * malloc'd text of one line per tensor not loaded ("missing conv1.weight", "unexpected
 * x.weight", "shape fc3.weight: file (10,84), model (5,84)", "skipped fc3.bias"), or NULL
 * when every tensor was loaded; the caller frees it. */
nb_status nb_checkpoint_load(const char *path, nb_model *m, nb_optim *opt, const nb_load_opts *o,
                             char **report);

/* ---- several models in one file (a GAN's generator and discriminator) ------------------------ */
/* Prefixes are 1-64 characters of [A-Za-z0-9_.-], neither starting nor ending with '.'; a
 * NULL or "" prefix (which prefixes every name) only for a single part. Bad arguments are
 * NB_ERR_ARG naming the function and the problem. */
/* A model (and optionally its optimizer) stored under a name prefix: its tensors are named
 * "<prefix>.<state_dict name>" (prefix NULL or "": no prefix, as nb_checkpoint_save). */
typedef struct nb_checkpoint_part {
    const char *prefix;
    nb_model *model;
    nb_optim *optim; /* may be NULL */
} nb_checkpoint_part;
/* nb_checkpoint_save for n (1..8) parts in one file: every part's tensors under its prefix,
 * each optimizer's state under "_nabla.optim.<prefix>.*" (and its name and lr in metadata
 * "_nabla.optimizer.<prefix>", "_nabla.lr.<prefix>"), the RNG state once. Prefixes must be
 * distinct and none may be a dotted prefix of another. */
nb_status nb_checkpoint_save_parts(const char *path, int n, const nb_checkpoint_part *parts, const nb_meta *meta);
/* nb_checkpoint_load for parts: strict (o->strict) means every tensor of every part is in the
 * file with its shape, and every tensor of the file belongs to a part (or is "_nabla.*", or
 * matches o->skip, which is matched against the FILE's full names, e.g. skip "discriminator"
 * loads a generator alone strictly from a GAN checkpoint). Optimizer state is loaded for
 * parts whose optim is given (an error if the file holds none for that prefix, or another
 * optimizer's). All or nothing across all parts. The report lists full (prefixed) names. */
nb_status nb_checkpoint_load_parts(const char *path, int n, const nb_checkpoint_part *parts,
                                   const nb_load_opts *o, char **report);

#ifdef __cplusplus
}
#endif
#endif
