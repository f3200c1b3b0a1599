/* IDX reader (the MNIST file format), plain or gzipped, and the MNIST folder loader.
 *
 * An IDX file is a 4-byte magic (0, 0, type, rank), rank big-endian uint32 sizes, then the
 * values. We accept type 0x08 (uint8) only: images of rank 3 (n, h, w) and labels of rank 1.
 * zlib's gzread reads gzip (magic 1f 8b) and plain files alike, so every size check below
 * works on the decompressed bytes. */
#include "data_impl.h"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_IMAGES 0x00000803u
#define IDX_LABELS 0x00000801u

/* Reads up to len bytes; returns the count (short only at the end of the data), or -1 on an
 * error, with the message in *why. */
static int64_t read_full(gzFile f, void *buf, size_t len, const char **why) {
    size_t got = 0;
    while (got < len) {
        size_t want = len - got;
        if (want > (1u << 30)) want = 1u << 30;
        int r = gzread(f, (char *)buf + got, (unsigned)want);
        if (r < 0) {
            int code = 0;
            const char *msg = gzerror(f, &code);
            *why = code == Z_ERRNO ? strerror(errno) : msg; /* zlib's: "incorrect data check" */
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (int64_t)got;
}

/* True when the stream stopped because a gzip member was cut short (not a clean end). */
static int gz_cut_short(gzFile f) {
    int code = 0;
    gzerror(f, &code);
    return code == Z_BUF_ERROR;
}

typedef struct idx_file {
    uint32_t dims[3]; /* sizes from the header */
    uint8_t *data;    /* the values: dims[0]*dims[1]*... bytes */
} idx_file;

/* Reads one uint8 IDX file of the given magic (and so rank) into *out. */
static nb_status idx_read(const char *path, uint32_t magic, const char *kind, idx_file *out) {
    memset(out, 0, sizeof *out);
    int rank = (int)(magic & 0xff);
    struct stat st;
    if (stat(path, &st) != 0)
        return nb__err(NB_ERR_IO, "%s: cannot open %s file: %s", path, kind, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return nb__err(NB_ERR_IO, "%s: is a directory, expected an IDX %s file", path, kind);
    gzFile f = gzopen(path, "rb");
    if (!f)
        return nb__err(NB_ERR_IO, "%s: cannot open %s file: %s", path, kind,
                       errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1u << 17);
    const char *why = NULL;
    nb_status s = NB_OK;
    uint8_t head[16]; /* magic + up to 3 sizes */
    int64_t got = read_full(f, head, 4, &why);
    if (got < 0) {
        s = nb__err(NB_ERR_IO, "%s: read error: %s", path, why);
        goto done;
    }
    if (got == 0 && gz_cut_short(f)) {
        s = nb__err(NB_ERR_FORMAT, "%s: truncated gzip file: the gzip stream ends before any data "
                    "(expected an IDX %s file)", path, kind);
        goto done;
    }
    if (got == 0) {
        s = nb__err(NB_ERR_FORMAT, "%s: empty file, expected an IDX %s file", path, kind);
        goto done;
    }
    if (got < 4) {
        s = nb__err(NB_ERR_FORMAT,
                    "%s: truncated header: the file holds %lld bytes, an IDX magic needs 4%s",
                    path, (long long)got, gz_cut_short(f) ? " (the gzip stream ends early)" : "");
        goto done;
    }
    uint32_t m = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 |
                 head[3];
    if (head[0] != 0 || head[1] != 0) {
        s = nb__err(NB_ERR_FORMAT,
                    "%s: bad magic 0x%08x: not an IDX file (expected 0x%08x for %s)", path, m,
                    magic, kind);
        goto done;
    }
    if (head[2] != 0x08) {
        s = nb__err(NB_ERR_FORMAT,
                    "%s: unsupported IDX type byte 0x%02x in magic 0x%08x "
                    "(only 0x08 = uint8 is supported)",
                    path, head[2], m);
        goto done;
    }
    if (head[3] != rank) {
        const char *hint = head[3] == 1   ? "; this looks like a label file"
                           : head[3] == 3 ? "; this looks like an image file"
                                          : "";
        s = nb__err(NB_ERR_FORMAT, "%s: bad magic 0x%08x: expected 0x%08x (%s, %d dims)%s",
                    path, m, magic, kind, rank, hint);
        goto done;
    }
    got = read_full(f, head + 4, (size_t)rank * 4, &why);
    if (got < 0) {
        s = nb__err(NB_ERR_IO, "%s: read error: %s", path, why);
        goto done;
    }
    if (got < rank * 4) {
        s = nb__err(NB_ERR_FORMAT,
                    "%s: truncated header: %d dims need %d header bytes, the file holds %lld%s",
                    path, rank, 4 + rank * 4, (long long)(4 + got),
                    gz_cut_short(f) ? " (the gzip stream ends early)" : "");
        goto done;
    }
    size_t total = 1; /* payload bytes */
    for (int i = 0; i < rank; i++) {
        const uint8_t *b = head + 4 + 4 * i;
        out->dims[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (out->dims[i] == 0) {
            s = nb__err(NB_ERR_FORMAT, "%s: header size %d is 0", path, i);
            goto done;
        }
        if (out->dims[i] > INT_MAX) {
            s = nb__err(NB_ERR_FORMAT, "%s: header size %d is %u, larger than %d", path, i,
                        out->dims[i], INT_MAX);
            goto done;
        }
        if (__builtin_mul_overflow(total, (size_t)out->dims[i], &total) ||
            total > (size_t)INT64_MAX / sizeof(float)) {
            s = nb__err(NB_ERR_FORMAT, "%s: header sizes overflow: their product exceeds the "
                        "addressable size", path);
            goto done;
        }
    }
    /* Grow the buffer as bytes arrive, so a lying header cannot make us allocate gigabytes
     * for a small file. */
    size_t cap = total < (1u << 20) ? total : (1u << 20), have = 0;
    out->data = malloc(cap);
    if (!out->data) {
        s = nb__err(NB_ERR_MEM, "%s: out of memory", path);
        goto done;
    }
    for (;;) {
        got = read_full(f, out->data + have, cap - have, &why);
        if (got < 0) {
            s = nb__err(NB_ERR_IO, "%s: read error: %s", path, why);
            goto done;
        }
        have += (size_t)got;
        if (have < cap || cap == total) break;
        size_t ncap = cap * 2 < total ? cap * 2 : total;
        uint8_t *nd = realloc(out->data, ncap);
        if (!nd) {
            s = nb__err(NB_ERR_MEM, "%s: out of memory for %zu bytes", path, ncap);
            goto done;
        }
        out->data = nd;
        cap = ncap;
    }
    char what[96];
    if (rank == 3)
        snprintf(what, sizeof what, "%u images of %ux%u", out->dims[0], out->dims[1],
                 out->dims[2]);
    else
        snprintf(what, sizeof what, "%u labels", out->dims[0]);
    if (have < total) {
        s = nb__err(NB_ERR_FORMAT,
                    "%s: truncated: header says %s (%zu bytes) but the file holds %zu bytes "
                    "after the header%s",
                    path, what, total, have,
                    gz_cut_short(f) ? " (the gzip stream ends early)" : "");
        goto done;
    }
    /* Anything after the values is an error too: count it for the message. */
    uint8_t extra[4096];
    size_t more = 0;
    while ((got = read_full(f, extra, sizeof extra, &why)) > 0) more += (size_t)got;
    if (got < 0) {
        s = nb__err(NB_ERR_IO, "%s: read error after the values: %s", path, why);
        goto done;
    }
    /* zlib checks a member's trailer (CRC32 and ISIZE) when it reaches it: a wrong one is a
     * read error above; one cut off ends the stream early, which gzread reports as a plain
     * end of data. */
    if (more == 0 && gz_cut_short(f))
        s = nb__err(NB_ERR_FORMAT,
                    "%s: truncated gzip file: the stream ends before its CRC32/length trailer", path);
    else if (more > 0)
        s = nb__err(NB_ERR_FORMAT,
                    "%s: trailing bytes: header says %s (%zu bytes) but the file holds %zu "
                    "bytes after the header (%zu too many)",
                    path, what, total, total + more, more);
done:
    gzclose(f);
    if (s != NB_OK) {
        free(out->data);
        out->data = NULL;
    }
    return s;
}

nb_dataset *nb_idx_load(const char *images_path, const char *labels_path) {
    if (!images_path) {
        nb__err(NB_ERR_ARG, "nb_idx_load: images path is NULL");
        return NULL;
    }
    idx_file img, lab = {0};
    if (idx_read(images_path, IDX_IMAGES, "uint8 images", &img) != NB_OK) return NULL;
    if (!labels_path) { /* images only (prediction): every label 0 */
        lab.dims[0] = img.dims[0];
        lab.data = calloc((size_t)img.dims[0] + 1, 1);
        if (!lab.data) {
            free(img.data);
            nb__err(NB_ERR_MEM, "%s: out of memory", images_path);
            return NULL;
        }
    } else if (idx_read(labels_path, IDX_LABELS, "uint8 labels", &lab) != NB_OK) {
        free(img.data);
        return NULL;
    }
    nb_dataset *d = NULL;
    if (img.dims[0] != lab.dims[0]) {
        nb__err(NB_ERR_FORMAT, "%s: count mismatch: %u labels but %s holds %u images",
                labels_path, lab.dims[0], images_path, img.dims[0]);
        goto done;
    }
    int64_t n = img.dims[0], dim = (int64_t)img.dims[1] * img.dims[2];
    /* Labels and bookkeeping come from the helper; the pixels keep the buffer we read. */
    d = nb__dataset_new(n, 0, 1, images_path);
    if (!d) goto done;
    free(d->x_u8);
    d->x_u8 = img.data; /* (N, H, W) bytes */
    img.data = NULL;
    d->dim = dim;
    d->c = 1;
    d->h = (int)img.dims[1];
    d->w = (int)img.dims[2];
    int maxl = 0;
    for (int64_t i = 0; i < n; i++) {
        d->y[i] = lab.data[i]; /* uint8, so always < 256 */
        if (lab.data[i] > maxl) maxl = lab.data[i];
    }
    d->n_classes = 1 + maxl;
done:
    free(img.data);
    free(lab.data);
    return d;
}

/* Writes dir/name, or dir/name.gz when only that exists, into buf; false if neither. */
static int find_file(const char *dir, const char *name, char *buf, size_t cap) {
    struct stat st;
    snprintf(buf, cap, "%s/%s", dir, name);
    if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode)) return 1;
    snprintf(buf, cap, "%s/%s.gz", dir, name);
    if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode)) return 1;
    return 0;
}

nb_dataset *nb_mnist_load(const char *dir, int train) {
    if (!dir) {
        nb__err(NB_ERR_ARG, "nb_mnist_load: dir is NULL");
        return NULL;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        nb__err(NB_ERR_IO, "%s: cannot open MNIST directory: %s (bash scripts/data.sh installs "
                "MNIST into data/mnist)", dir, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        nb__err(NB_ERR_IO, "%s: not a directory (expected a folder holding the MNIST files)",
                dir);
        return NULL;
    }
    const char *pre = train ? "train" : "t10k";
    char iname[64], lname[64], ipath[4096], lpath[4096];
    snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", pre);
    snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", pre);
    if (strlen(dir) + 80 > sizeof ipath) {
        nb__err(NB_ERR_ARG, "%s: directory path too long", dir);
        return NULL;
    }
    const char *missing = !find_file(dir, iname, ipath, sizeof ipath)   ? iname
                          : !find_file(dir, lname, lpath, sizeof lpath) ? lname
                                                                        : NULL;
    if (missing) {
        nb__err(NB_ERR_IO, "%s: missing %s (also tried %s.gz)", dir, missing, missing);
        return NULL;
    }
    return nb_idx_load(ipath, lpath);
}
