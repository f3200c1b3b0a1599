/* Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c, docs in README.md "Fuzzing").
 *
 * nabla's readers take paths, so each input is written to a file in a temporary folder of this
 * process (made on first use under $TMPDIR or /tmp, removed at exit), then the reader opens it.
 * Every target checks the reader's contract on what it accepts (sizes, labels, shapes) and
 * traps when it does not hold, so a broken invariant is a finding like a crash. */
#ifndef NB_FUZZ_COMMON_H
#define NB_FUZZ_COMMON_H
#define _POSIX_C_SOURCE 200809L
#include <nabla/nabla.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A contract the reader promises did not hold: stop here, libFuzzer saves the input. */
#define FZ_CHECK(cond)                                                                       \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond);      \
            __builtin_trap();                                                                \
        }                                                                                    \
    } while (0)

/* A reader refused the input: it must say why. NABLA_FUZZ_VERBOSE=1 prints the message (to
 * see what a seed or a reproducer runs into: ./fuzz_idx FILE). */
__attribute__((unused)) static void fz_refused(void) {
    const char *msg = nb_last_error();
    FZ_CHECK(msg && msg[0]);
    if (getenv("NABLA_FUZZ_VERBOSE")) fprintf(stderr, "refused: %s\n", msg);
}

/* The reader took the input (NABLA_FUZZ_VERBOSE=1 says so). */
__attribute__((unused)) static void fz_accepted(const char *what) {
    if (getenv("NABLA_FUZZ_VERBOSE")) fprintf(stderr, "accepted: %s\n", what);
}

static char fz_dir[4096];
static char fz_names[16][64]; /* files made in fz_dir, removed at exit */
static int fz_nnames;

static void fz_cleanup(void) {
    char p[4200];
    for (int i = 0; i < fz_nnames; i++) {
        snprintf(p, sizeof p, "%s/%s", fz_dir, fz_names[i]);
        unlink(p);
    }
    if (fz_dir[0]) rmdir(fz_dir);
}

/* Writes data to <temp folder>/name (replacing it) and returns the path (static storage, one
 * per distinct slot 0..15). */
__attribute__((unused)) static const char *fz_write(int slot, const char *name, const uint8_t *data, size_t size) {
    static char paths[16][4200];
    if (!fz_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fz_dir, sizeof fz_dir, "%s/nabla-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fz_dir)) {
            perror("nabla fuzz: mkdtemp");
            abort();
        }
        atexit(fz_cleanup);
    }
    int known = 0;
    for (int i = 0; i < fz_nnames; i++) known |= strcmp(fz_names[i], name) == 0;
    if (!known && fz_nnames < 16) snprintf(fz_names[fz_nnames++], sizeof fz_names[0], "%s", name);
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", fz_dir, name);
    FILE *f = fopen(paths[slot], "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror("nabla fuzz: writing the input file");
        abort();
    }
    return paths[slot];
}

/* The tiny model whose checkpoint is in tests/fuzz/corpus/safetensors (made by make_seeds.c),
 * and that fuzz_safetensors loads every input into: parameters, buffers and a counter. */
static inline nb_model *fz_tiny_model(void) {
    nb_module *seq = nb_sequential_new();
    if (!seq) return NULL;
    nb_sequential_add(seq, "fc1", nb_linear_new(4, 3, true));
    nb_sequential_add(seq, "act", nb_activation_new(NB_ACT_RELU));
    nb_sequential_add(seq, "fc2", nb_linear_new(3, 2, false));
    nb_sequential_add(seq, "bn", nb_batchnorm2d_new(2));
    return nb_model_new(seq, NB_INIT_DEFAULT);
}

#endif
