/* Writes the seed checkpoint of tests/fuzz/corpus/safetensors: fz_tiny_model after one Adam
 * step, with metadata, the optimizer's state and the RNG state, as nabla saves them.
 * Usage: fuzz_make_checkpoint OUT.safetensors (built in build-fuzz; see make_corpus.py). */
#include "fuzz_common.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.safetensors\n", argv[0]);
        return 2;
    }
    nb_seed(1);
    nb_model *m = fz_tiny_model();
    nb_optim *opt = m ? nb_adam_new(nb_model_params(m), nb_adam_defaults(1e-3f)) : NULL;
    nb_meta *meta = nb_meta_new();
    if (!opt || !meta || nb_meta_set(meta, "model", "tiny") || nb_meta_set(meta, "epoch", "1") ||
        nb_optim_step(opt) || nb_checkpoint_save(argv[1], m, opt, meta)) {
        fprintf(stderr, "%s\n", nb_last_error());
        return 1;
    }
    nb_meta_free(meta);
    nb_optim_free(opt);
    nb_model_free(m);
    return 0;
}
