/* The --out folder of nabla train: stale temporary files of killed runs, another run's files,
 * free space, and pictures whose failure is only a warning. */
#define _POSIX_C_SOURCE 200809L
#include "outdir.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* What a run writes into --out; the first three show another run, the last four are written at
 * its end. */
/* The files every run writes first (FINAL_FILES: at its end), then the pictures of some kinds. */
static const char *const RUN_FILES[] = {"checkpoint.safetensors", "metrics.jsonl", "model.safetensors", "report.txt",
                                        "curves.png", NULL, "predictions.png", "reconstructions.png", "latent.png",
                                        "lattice.png", NULL};
#define FINAL_FILES (RUN_FILES + 2)
#define ALL_RUN_FILES 11

/* The pid of a temporary file "<name>.tmp.<pid>" (src/core/atomic.c), or 0. */
static long tmp_pid(const char *name) {
    const char *last = NULL;
    for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp.")) last = p;
    if (!last || last == name || !isdigit((unsigned char)last[5])) return 0;
    char *end;
    errno = 0;
    long pid = strtol(last + 5, &end, 10);
    return errno || *end || pid <= 0 || pid > INT_MAX ? 0 : pid;
}

static int join(char *buf, size_t cap, const char *dir, const char *name) {
    return (size_t)snprintf(buf, cap, "%s/%s", dir, name) < cap ? 0 : -1;
}

/* Removes the temporary files of processes that no longer exist (kill(pid, 0) fails with
 * ESRCH; a live process, or another user's, keeps its files). */
static void clean_stale(const char *dir, bool quiet) {
    DIR *d = opendir(dir);
    if (!d) return;
    int n = 0;
    char path[4352];
    for (struct dirent *de; (de = readdir(d));) {
        long pid = tmp_pid(de->d_name);
        struct stat sb;
        if (!pid || pid == (long)getpid() || join(path, sizeof path, dir, de->d_name)) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        if (unlink(path) == 0) n++;
        else fprintf(stderr, "nabla: warning: cannot remove the stale temporary file %s: %s\n", path, strerror(errno));
    }
    closedir(d);
    if (n && !quiet)
        fprintf(stderr, "nabla: note: removed %d temporary file%s left in %s by an interrupted run\n", n,
                n == 1 ? "" : "s", dir);
}

int outdir_prepare(const char *dir, bool resume, bool overwrite, bool quiet) {
    if (resume && overwrite)
        return cli_fail("--resume continues a run; --overwrite starts a new one: give one of them");
    clean_stale(dir, quiet);
    if (resume) return 0;
    char path[4352], found[1024] = "";
    bool ckpt = false;
    for (int i = 0; i < ALL_RUN_FILES; i++) {
        struct stat sb;
        if (!RUN_FILES[i] || join(path, sizeof path, dir, RUN_FILES[i]) || lstat(path, &sb) != 0 || S_ISDIR(sb.st_mode)) continue;
        if (overwrite) {
            if (unlink(path) != 0) return cli_fail("--overwrite: cannot remove %s: %s", path, strerror(errno));
            continue;
        }
        /* an empty log is what a run stopped before its first epoch leaves: no run to lose */
        if (i == 1 && S_ISREG(sb.st_mode) && sb.st_size == 0) continue;
        if (i > 2) continue; /* a report or pictures alone: the new run replaces them at its end */
        if (i == 0) ckpt = true;
        snprintf(found + strlen(found), sizeof found - strlen(found), "%s%s", *found ? ", " : "", RUN_FILES[i]);
    }
    if (!*found) return 0;
    if (ckpt)
        return cli_fail("--out %s holds another run's files (%s): continue it with --resume %s/checkpoint.safetensors, "
                        "start anew there with --overwrite (which deletes them), or give another --out", dir, found,
                        dir);
    return cli_fail("--out %s holds another run's files (%s): start anew there with --overwrite (which deletes "
                    "them), or give another --out", dir, found);
}

static bool not_older(const struct stat *a, const struct stat *b) {
    return a->st_mtim.tv_sec > b->st_mtim.tv_sec ||
           (a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec >= b->st_mtim.tv_nsec);
}

bool outdir_outputs_done(const char *dir, const char *ckpt, const char *model) {
    struct stat cs, sb;
    if (stat(ckpt, &cs) != 0) return false;
    /* the pictures a run of this model writes at its end, besides curves.png */
    static const char *const classifier[] = {"predictions.png", NULL}, *const ae[] = {"reconstructions.png", "latent.png", NULL},
                             *const vae[] = {"reconstructions.png", "latent.png", "lattice.png", NULL}, *const none[] = {NULL};
    nb_zoo_input k = nb_zoo_input_kind(model);
    const char *const *pics = k == NB_ZOO_IMAGE ? classifier : !strcmp(model, "vae") ? vae : k == NB_ZOO_AUTOENCODER ? ae : none;
    char path[4352];
    for (int i = 0; FINAL_FILES[i]; i++)
        if (join(path, sizeof path, dir, FINAL_FILES[i]) || stat(path, &sb) != 0 || !not_older(&sb, &cs)) return false;
    for (int i = 0; pics[i]; i++)
        if (join(path, sizeof path, dir, pics[i]) || stat(path, &sb) != 0 || !not_older(&sb, &cs)) return false;
    return true;
}

int outdir_check_space(const char *dir, int64_t numel) {
    struct statvfs v;
    if (statvfs(dir, &v) != 0) return 0; /* cannot tell: the writes will say */
    char path[4352];
    struct stat sb;
    bool have_ckpt = !join(path, sizeof path, dir, RUN_FILES[0]) && stat(path, &sb) == 0;
    double model = (double)numel * 4, ckpt = 3 * model; /* weights and Adam's two moments */
    double need = (have_ckpt ? 1 : 2) * ckpt + model + 1024.0 * 1024, avail = (double)v.f_bavail * (double)v.f_frsize;
    if (avail >= need) return 0;
    return cli_fail("--out %s: %.1f MB free; this run needs about %.1f MB (checkpoints of %.1f MB, the model, logs "
                    "and pictures)", dir, avail / 1e6, need / 1e6, ckpt / 1e6);
}

void outdir_warn_picture(void) {
    fprintf(stderr, "nabla: warning: %s (the run goes on without this picture)\n", nb_last_error());
}
