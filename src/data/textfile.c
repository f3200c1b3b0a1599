/* Whole files and folder listings for the text datasets. */
#define _POSIX_C_SOURCE 200809L
#include "text_impl.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

nb_status nb__read_file(const char *path, char **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return nb__err(NB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return nb__err(NB_ERR_IO, "%s: is a folder, expected a file", path);
    }
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        char *grown = cap < SIZE_MAX / 2 ? realloc(b, cap * 2) : NULL;
        if (!grown) {
            free(b);
            b = NULL;
            break;
        }
        b = grown;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!b) return nb__err(NB_ERR_MEM, "%s: out of memory reading the file", path);
    if (err) {
        free(b);
        return nb__err(NB_ERR_IO, "%s: read error", path);
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return NB_OK;
}

void nb__free_names(char **names, int64_t count) {
    if (!names) return;
    for (int64_t i = 0; i < count; i++) free(names[i]);
    free(names);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

nb_status nb__list_dir(const char *dir, const char *suffix, char ***names, int64_t *count) {
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return nb__err(NB_ERR_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    size_t sl = strlen(suffix);
    int64_t n = 0, cap = 0;
    char **v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **g = realloc(v, (size_t)cap * sizeof *g);
            if (!g) goto oom;
            v = g;
        }
        v[n] = malloc(l + 1);
        if (!v[n]) goto oom;
        memcpy(v[n++], e->d_name, l + 1);
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, by_name);
    *names = v;
    *count = n;
    return NB_OK;
oom:
    closedir(d);
    nb__free_names(v, n);
    return nb__err(NB_ERR_MEM, "%s: out of memory listing the folder", dir);
}
