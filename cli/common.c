/* Finding and loading the datasets for the command-line tool. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, fsync, readlink */
#include "cli.h"

#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (nb_dist_size() > 1) fprintf(stderr, "nabla (process %d of %d): ", nb_dist_rank(), nb_dist_size());
    else fputs("nabla: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

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

int cli_data_places(const char *name, bool env_itself, char tried[][PATH_MAX + 64]) {
    int n = 0;
    const char *env = getenv("NABLA_DATA");
    if (env && *env) {
        snprintf(tried[n++], PATH_MAX + 64, "%s/%s", env, name);
        if (env_itself) snprintf(tried[n++], PATH_MAX + 64, "%s", env);
    }
    snprintf(tried[n++], PATH_MAX + 64, "data/%s", name);
    /* The cache folder of the checkout this binary was built in: <repo>/build/nabla. */
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        snprintf(tried[n++], PATH_MAX + 64, "%s/../data/%s", dirname(exe), name);
    }
    return n;
}

int cli_find_data(const char *name, const char *data_dir, char *out, size_t cap) {
    if (data_dir) {
        if (try_dir(data_dir, out, cap)) return 0;
        return cli_fail("--data-dir %s: the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, plain or .gz) are not all there",
                        data_dir);
    }
    /* The places looked in, in order; the message lists them when none holds the set. */
    char tried[6][PATH_MAX + 64];
    int n = cli_data_places(name, true, tried);
    if (strcmp(name, "fashion-mnist") == 0) snprintf(tried[n++], sizeof tried[0], "/usr/share/datasets/fashion-mnist");
    for (int i = 0; i < n; i++)
        if (try_dir(tried[i], out, cap)) return 0;
    char list[8 * (PATH_MAX + 64)] = "";
    for (int i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", tried[i]);
    return cli_fail("%s not found (looked in %s); install it with: bash scripts/data.sh, or pass --data-dir DIR",
                    name, list);
}

/* The first eight labels of each known set's files: loading one under the other's name (say
 * through NABLA_DATA) is refused instead of training digits under Fashion's class names. */
static const struct {
    const char *name;
    uint8_t train[8], test[8];
} g_signatures[] = {
    {"mnist", {5, 0, 4, 1, 9, 2, 1, 3}, {7, 2, 1, 0, 4, 1, 4, 9}},
    {"fashion-mnist", {9, 0, 0, 3, 0, 2, 7, 2}, {9, 2, 1, 1, 6, 1, 4, 6}},
};

nb_dataset *cli_load(const char *name, const char *dir, int train, int64_t limit, float mean, float std,
                     int classes) {
    nb_dataset *d = nb_mnist_load(dir, train);
    if (!d) {
        cli_fail("%s", nb_last_error());
        return NULL;
    }
    const char *which = train ? "train" : "t10k";
    if (d->n_classes > classes) {
        int64_t bad = 0;
        while (bad < d->n && d->y[bad] < classes) bad++;
        cli_fail("%s: %s label %lld (image %lld) is outside the %d classes of %s", dir, which,
                 (long long)d->y[bad], (long long)bad, classes, name);
        nb_dataset_free(d);
        return NULL;
    }
    for (size_t s = 0; s < sizeof g_signatures / sizeof g_signatures[0] && d->n >= 8; s++) {
        const uint8_t *sig = train ? g_signatures[s].train : g_signatures[s].test;
        bool same = true;
        for (int i = 0; i < 8 && same; i++) same = d->y[i] == sig[i];
        if (same && strcmp(g_signatures[s].name, name) != 0) {
            cli_fail("%s: these %s files hold %s, not %s (check --data-dir / NABLA_DATA)", dir, which,
                     g_signatures[s].name, name);
            nb_dataset_free(d);
            return NULL;
        }
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

nb_status cli_evaluate(nb_model *m, const nb_dataset *d, int64_t batch, nb_confusion *conf, float *probs,
                       nb_epoch_stats *out) {
    if (batch > d->n) batch = d->n > 0 ? d->n : 1; /* no buffers larger than the data */
    nb_loader *l = nb_loader_new(d, batch, 0, 0, 0);
    if (!l) return NB_ERR_MEM;
    nb_batch_source src = nb_loader_source(l);
    nb_task task = nb_task_new(NB_TASK_CLASSIFY);
    nb_status st = nb_evaluate(m, &task, &src, conf, probs, out);
    nb_loader_free(l);
    return st;
}
