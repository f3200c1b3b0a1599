/* Atomic file replacement: write "<path>.tmp.<pid>", flush it to disk, rename it over the
 * target and sync the folder, so a write that fails at any point leaves the old file intact.
 * Used by the pictures (src/plot) and nb_write_file_atomic (the CLI's logs and reports). A
 * core service: it knows nothing of what is written. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* "<path>.tmp.<pid>", malloc'd; NULL (with the error set) when out of memory. */
char *nb__tmp_path(const char *path) {
    size_t cap = strlen(path) + 32;
    char *tmp = malloc(cap);
    if (!tmp) {
        nb__err(NB_ERR_MEM, "%s: out of memory for the temporary file name", path);
        return NULL;
    }
    snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    return tmp;
}

/* Makes the complete temporary file tmp durable and renames it over path, then syncs the
 * folder. On failure tmp is removed and path is untouched; the error names path. */
nb_status nb__commit_file(const char *tmp, const char *path) {
    int fd = open(tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        unlink(tmp);
        return nb__err(NB_ERR_IO, "%s: cannot flush the temporary file %s: %s", path, tmp,
                       strerror(e));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return nb__err(NB_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp, strerror(e));
    }
    /* Sync the folder so that the rename itself survives a crash; some file systems refuse
     * to sync a folder, which loses nothing that was written. */
    size_t n = strlen(path);
    char *dir = malloc(n + 2);
    if (dir) {
        memcpy(dir, path, n + 1);
        char *slash = strrchr(dir, '/');
        if (!slash) strcpy(dir, ".");
        else if (slash == dir) dir[1] = 0;
        else *slash = 0;
        int dfd = open(dir, O_RDONLY);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    return NB_OK;
}

nb_status nb_write_file_atomic(const char *path, const void *data, size_t n) {
    if (!path || (!data && n)) return nb__err(NB_ERR_ARG, "nb_write_file_atomic: path or data is NULL");
    char *tmp = nb__tmp_path(path);
    if (!tmp) return NB_ERR_MEM;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        nb_status st = nb__err(NB_ERR_IO, "%s: cannot create the temporary file %s: %s", path, tmp,
                               strerror(errno));
        free(tmp);
        return st;
    }
    /* errno is read only right after the call that failed: a successful buffered fwrite may
     * leave an unrelated value there (ENOTTY from the stream's isatty check), and a full disk
     * shows up only when the buffer is flushed, in fflush or fclose. */
    const char *what = NULL;
    int e = 0;
    if (n && fwrite(data, 1, n, f) != n) what = "cannot write", e = errno;
    else if (fflush(f) != 0) what = "cannot write", e = errno;
    if (fclose(f) != 0 && !what) what = "cannot close", e = errno;
    if (what) {
        unlink(tmp);
        nb_status st = nb__err(NB_ERR_IO, "%s: %s the temporary file %s: %s", path, what, tmp,
                               strerror(e ? e : EIO));
        free(tmp);
        return st;
    }
    nb_status st = nb__commit_file(tmp, path);
    free(tmp);
    return st;
}
