/* libFuzzer target: safetensors checkpoints. nb_st_open, then every tensor read back with its
 * own dtype and shape (nb_st_read_into) and, for floating-point tensors, as float32
 * (nb_st_read_f32); every metadata entry; nb_checkpoint_meta; and nb_checkpoint_load into a
 * tiny model (fz_tiny_model), strict with an Adam optimizer and non-strict with a report.
 * The input is the file as it is (tests/fuzz/corpus/safetensors). */
#include "fuzz_common.h"

static nb_model *model;
static nb_optim *opt;

static int is_float(nb_st_dtype dt) {
    return dt == NB_ST_F32 || dt == NB_ST_F16 || dt == NB_ST_BF16 || dt == NB_ST_F64;
}

static void read_tensors(const char *path) {
    nb_st_reader *r = nb_st_open(path);
    if (!r) {
        fz_refused();
        return;
    }
    fz_accepted("nb_st_open");
    int n = nb_st_count(r);
    FZ_CHECK(n >= 0 && nb_st_get(r, n) == NULL && nb_st_get(r, -1) == NULL);
    for (int i = 0; i < n; i++) {
        const nb_st_tensor *t = nb_st_get(r, i);
        FZ_CHECK(t && t->name && nb_st_find(r, t->name) != NULL);
        FZ_CHECK(t->ndim >= 0 && t->ndim <= 8);
        size_t esz = nb_st_dtype_size(t->dtype), numel = 1;
        FZ_CHECK(esz > 0);
        for (int k = 0; k < t->ndim; k++) {
            FZ_CHECK(t->shape[k] >= 0);
            FZ_CHECK(!__builtin_mul_overflow(numel, (size_t)t->shape[k], &numel));
        }
        FZ_CHECK(numel * esz == t->nbytes); /* shapes match data_offsets */
        void *dst = malloc(numel * 8 + 1);
        FZ_CHECK(dst != NULL);
        FZ_CHECK(nb_st_read_into(r, t->name, t->dtype, t->ndim, t->shape, dst) == NB_OK);
        FZ_CHECK(t->nbytes == 0 || memcmp(dst, t->data, t->nbytes) == 0); /* little-endian host */
        nb_status s = nb_st_read_f32(r, t->name, t->ndim, t->shape, dst);
        FZ_CHECK(is_float(t->dtype) ? s == NB_OK : s != NB_OK);
        /* Another shape must be refused. */
        if (t->ndim < 8) {
            int64_t other[8];
            memcpy(other, t->shape, sizeof other);
            other[t->ndim] = 2;
            FZ_CHECK(nb_st_read_into(r, t->name, t->dtype, t->ndim + 1, other, dst) != NB_OK);
        }
        free(dst);
    }
    for (int i = 0; i < nb_st_meta_count(r); i++) {
        const char *v = NULL, *k = nb_st_meta_at(r, i, &v);
        FZ_CHECK(k && v && nb_st_meta_get(r, k) != NULL);
    }
    nb_st_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!model) {
        model = fz_tiny_model();
        opt = model ? nb_adam_new(nb_model_params(model), nb_adam_defaults(1e-3f)) : NULL;
        FZ_CHECK(model && opt);
    }
    const char *path = fz_write(0, "input.safetensors", data, size);
    read_tensors(path);
    nb_meta *m = nb_checkpoint_meta(path);
    for (int i = 0; i < nb_meta_count(m); i++)
        FZ_CHECK(nb_meta_key(m, i) && nb_meta_value(m, i) &&
                 nb_meta_get(m, nb_meta_key(m, i)) != NULL);
    nb_meta_free(m);
    nb_load_opts strict = nb_load_defaults(), loose = {.strict = false, .skip = "fc2"};
    char *report = NULL;
    if (nb_checkpoint_load(path, model, opt, &strict, &report) == NB_OK)
        fz_accepted("nb_checkpoint_load strict, with the optimizer");
    else
        fz_refused();
    free(report);
    report = NULL;
    if (nb_checkpoint_load(path, model, NULL, &loose, &report) == NB_OK)
        fz_accepted(report ? report : "nb_checkpoint_load loose: every tensor");
    else
        fz_refused();
    if (report) FZ_CHECK(strlen(report) > 0);
    free(report);
    return 0;
}
