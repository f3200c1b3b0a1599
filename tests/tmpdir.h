/* A test program's own temporary folder (mkdtemp under /tmp) and helpers for the files it writes
 * there: a path in it, a file's bytes, whether a file still holds given bytes, the temporary
 * files ("<name>.tmp.<pid>") that an atomic write must not leave behind, and removing the folder
 * at the end. The includer defines _POSIX_C_SOURCE 200809L (mkdtemp) before any include. */
#ifndef NB_TEST_TMPDIR_H
#define NB_TEST_TMPDIR_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static char g_dir[64];

/* Makes /tmp/<prefix>_XXXXXX the folder; false (and a message) when it cannot. */
static inline bool tmpdir_make(const char *prefix) {
    snprintf(g_dir, sizeof g_dir, "/tmp/%s_XXXXXX", prefix);
    if (mkdtemp(g_dir)) return true;
    perror("mkdtemp");
    return false;
}

static inline void path_in(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", g_dir, name);
}

static inline bool file_bytes(const char *path, unsigned char **data, long *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc((size_t)*n + 1);
    bool ok = fread(*data, 1, (size_t)*n, f) == (size_t)*n;
    fclose(f);
    return ok;
}

static inline bool same_file(const char *path, const unsigned char *data, long n) {
    unsigned char *now;
    long m;
    if (!file_bytes(path, &now, &m)) return false;
    bool same = m == n && memcmp(now, data, (size_t)n) == 0;
    free(now);
    return same;
}

static inline int temp_files_left(void) {
    DIR *d = opendir(g_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

/* Removes the folder and what is in it (one level of subfolders, empty). */
static inline void tmpdir_remove(void) {
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        if (unlink(p) != 0) rmdir(p);
    }
    if (d) closedir(d);
    CHECK(rmdir(g_dir) == 0, "temporary folder %s removed", g_dir);
}

#endif
