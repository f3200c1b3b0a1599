/* Finding and loading the datasets for the command-line tool. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, fsync, readlink */
#include "cli.h"

#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool cli_known_data(const char *name) {
    return name && (strcmp(name, "mnist") == 0 || strcmp(name, "fashion-mnist") == 0);
}

void cli_norm(const char *data, float *mean, float *std) {
    /* Mean and standard deviation of the 60k training pixels scaled to [0, 1]. */
    if (data && strcmp(data, "fashion-mnist") == 0) {
        *mean = 0.2860f;
        *std = 0.3530f;
    } else {
        *mean = 0.1307f;
        *std = 0.3081f;
    }
}

static bool has_idx(const char *dir) {
    static const char *const names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 4; i++) {
        char p[PATH_MAX + 64];
        if (snprintf(p, sizeof p, "%s/%s.gz", dir, names[i]) >= (int)sizeof p) return false;
        p[strlen(p) - 3] = '\0';
        if (access(p, R_OK) != 0) {
            p[strlen(p)] = '.'; /* restores "name.gz" */
            if (access(p, R_OK) != 0) return false;
        }
    }
    return true;
}

static bool try_dir(const char *dir, char *out, size_t cap) {
    if (!has_idx(dir)) return false;
    snprintf(out, cap, "%s", dir);
    return true;
}

int cli_find_data(const char *name, const char *data_dir, char *out, size_t cap) {
    char p[PATH_MAX + 64];
    if (data_dir) {
        if (try_dir(data_dir, out, cap)) return 0;
        return cli_fail("--data-dir %s: the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, plain or .gz) are not all there",
                        data_dir);
    }
    const char *env = getenv("NABLA_DATA");
    if (env && *env) {
        snprintf(p, sizeof p, "%s/%s", env, name);
        if (try_dir(p, out, cap) || try_dir(env, out, cap)) return 0;
    }
    snprintf(p, sizeof p, "data/%s", name);
    if (try_dir(p, out, cap)) return 0;
    /* The cache folder of the checkout this binary was built in: <repo>/build/nabla. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *d = dirname(exe);
        snprintf(p, sizeof p, "%s/../data/%s", d, name);
        if (try_dir(p, out, cap)) return 0;
    }
    if (strcmp(name, "fashion-mnist") == 0 && try_dir("/usr/share/datasets/fashion-mnist", out, cap)) return 0;
    if (strcmp(name, "fashion-mnist") == 0)
        return cli_fail("fashion-mnist not found (looked in $NABLA_DATA, ./data/fashion-mnist and "
                        "/usr/share/datasets/fashion-mnist); install it with: bash scripts/data.sh "
                        "(or: apt-get install dataset-fashion-mnist)");
    return cli_fail("%s not found (looked in $NABLA_DATA, ./data/%s and next to the binary); install it with: "
                    "bash scripts/data.sh, or pass --data-dir DIR", name, name);
}

nb_dataset *cli_load(const char *dir, int train, int64_t limit, float mean, float std) {
    nb_dataset *d = nb_mnist_load(dir, train);
    if (!d) {
        cli_fail("%s", nb_last_error());
        return NULL;
    }
    if (limit > 0 && limit < d->n) {
        nb_dataset *s = nb_dataset_slice(d, 0, limit);
        nb_dataset_free(d);
        if (!s) {
            cli_fail("%s", nb_last_error());
            return NULL;
        }
        d = s;
    }
    d->mean = mean;
    d->std = std;
    return d;
}
