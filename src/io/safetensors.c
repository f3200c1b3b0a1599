/* safetensors checkpoints: a writer that collects tensors and metadata and writes them
 * atomically, and a reader that loads a whole file, validates every field of the header and
 * hands out the tensors. Layout: u64 little-endian N, N bytes of JSON (space-padded so that
 * 8 + N is a multiple of 8), then the data buffer, which the tensors cover exactly. */
#define _POSIX_C_SOURCE 200809L /* fsync, fileno, O_DIRECTORY under -std=c11 */
#include "internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__)
#error "nabla safetensors: unknown host byte order"
#endif
#define NB_ST_BIG_ENDIAN (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u * 1000u * 1000u) /* 100 MB: anything larger is not a real header */
#define ST_META "__metadata__"

/* Name and element size per dtype, from the one list in io.h. */
#define ST_NAME_(name, size) #name,
#define ST_SIZE_(name, size) size,
static const char *const dtype_name[] = {NB_ST_DTYPES(ST_NAME_)};
static const size_t dtype_size[] = {NB_ST_DTYPES(ST_SIZE_)};
#undef ST_NAME_
#undef ST_SIZE_
_Static_assert(sizeof dtype_name / sizeof *dtype_name == NB_ST_DTYPE_COUNT, "dtype names");
_Static_assert(sizeof dtype_size / sizeof *dtype_size == NB_ST_DTYPE_COUNT, "dtype sizes");

static bool dtype_ok(nb_st_dtype dt) { return (int)dt >= 0 && (int)dt < NB_ST_DTYPE_COUNT; }

const char *nb_st_dtype_name(nb_st_dtype dt) { return dtype_ok(dt) ? dtype_name[dt] : "?"; }
size_t nb_st_dtype_size(nb_st_dtype dt) { return dtype_ok(dt) ? dtype_size[dt] : 0; }

/* Reverses the bytes of each esz-byte element (little-endian file <-> big-endian host). */
static void swap_elems(void *p, size_t nbytes, size_t esz) {
    unsigned char *b = p;
    for (size_t i = 0; esz > 1 && i + esz <= nbytes; i += esz)
        for (size_t j = 0; j < esz / 2; j++) {
            unsigned char t = b[i + j];
            b[i + j] = b[i + esz - 1 - j];
            b[i + esz - 1 - j] = t;
        }
}

static bool valid_utf8(const char *s) {
    json_t *j = json_string(s); /* jansson refuses strings that are not UTF-8 */
    if (!j) return false;
    json_decref(j);
    return true;
}

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- writer ------------------------------------------------------------------------------ */

typedef struct st_entry {
    char *name;
    nb_st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    unsigned char *bytes; /* little-endian copy, nbytes long (NULL when empty) */
    size_t nbytes;
} st_entry;

typedef struct st_kv {
    char *key, *value;
} st_kv;

struct nb_st_writer {
    st_entry *t;
    int nt, cap_t;
    st_kv *meta;
    int nm, cap_m;
    uint64_t total; /* bytes of the data buffer so far */
};

nb_st_writer *nb_st_writer_new(void) {
    nb_st_writer *w = calloc(1, sizeof *w);
    if (!w) nb__err(NB_ERR_MEM, "nb_st_writer_new: out of memory");
    return w;
}

void nb_st_writer_free(nb_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->nt; i++) {
        free(w->t[i].name);
        free(w->t[i].bytes);
    }
    for (int i = 0; i < w->nm; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->t);
    free(w->meta);
    free(w);
}

static bool grow(void **p, int *cap, int n, size_t esz) {
    if (n < *cap) return true;
    int nc = *cap ? 2 * *cap : 16;
    void *q = realloc(*p, (size_t)nc * esz);
    if (!q) return false;
    *p = q;
    *cap = nc;
    return true;
}

nb_status nb_st_add(nb_st_writer *w, const char *name, nb_st_dtype dt, int ndim,
                    const int64_t *shape, const void *data) {
    if (!w || !name) return nb__err(NB_ERR_ARG, "nb_st_add: writer and name are required");
    if (!name[0]) return nb__err(NB_ERR_ARG, "nb_st_add: empty tensor name");
    if (strcmp(name, ST_META) == 0)
        return nb__err(NB_ERR_ARG, "nb_st_add: '%s' is reserved for the metadata", ST_META);
    if (!valid_utf8(name)) return nb__err(NB_ERR_ARG, "nb_st_add: tensor name is not UTF-8");
    if (!dtype_ok(dt)) return nb__err(NB_ERR_ARG, "nb_st_add: '%s': unknown dtype %d", name, dt);
    if (ndim < 0 || ndim > ST_MAX_DIMS)
        return nb__err(NB_ERR_ARG, "nb_st_add: '%s': ndim %d outside 0..%d", name, ndim,
                       ST_MAX_DIMS);
    if (ndim > 0 && !shape) return nb__err(NB_ERR_ARG, "nb_st_add: '%s': shape is NULL", name);
    for (int i = 0; i < w->nt; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return nb__err(NB_ERR_ARG, "nb_st_add: duplicate tensor name '%s'", name);
    /* Byte size, refusing anything that would not fit an int64 offset. */
    uint64_t esz = dtype_size[dt], nbytes = esz;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return nb__err(NB_ERR_ARG, "nb_st_add: '%s': negative size %lld in dimension %d",
                           name, (long long)shape[i], i);
        if (shape[i] == 0) nbytes = 0; /* an empty tensor, whatever the other sizes */
    }
    for (int i = 0; i < ndim && nbytes; i++) {
        if (nbytes > (uint64_t)INT64_MAX / (uint64_t)shape[i])
            return nb__err(NB_ERR_ARG, "nb_st_add: '%s': byte size of shape %s overflows", name,
                           nb__shape_str((char[96]){0}, 96, ndim, shape));
        nbytes *= (uint64_t)shape[i];
    }
    if (nbytes > SIZE_MAX || nbytes > (uint64_t)INT64_MAX - w->total)
        return nb__err(NB_ERR_ARG, "nb_st_add: '%s': total data size overflows", name);
    if (nbytes && !data) return nb__err(NB_ERR_ARG, "nb_st_add: '%s': data is NULL", name);
    if (!grow((void **)&w->t, &w->cap_t, w->nt, sizeof *w->t))
        return nb__err(NB_ERR_MEM, "nb_st_add: out of memory");
    st_entry e = {.name = dupstr(name), .dtype = dt, .ndim = ndim, .nbytes = (size_t)nbytes};
    if (nbytes) e.bytes = malloc((size_t)nbytes);
    if (!e.name || (nbytes && !e.bytes)) {
        free(e.name);
        free(e.bytes);
        return nb__err(NB_ERR_MEM, "nb_st_add: '%s': out of memory for %llu bytes", name,
                       (unsigned long long)nbytes);
    }
    for (int i = 0; i < ndim; i++) e.shape[i] = shape[i];
    if (nbytes) memcpy(e.bytes, data, (size_t)nbytes);
    if (NB_ST_BIG_ENDIAN) swap_elems(e.bytes, e.nbytes, (size_t)esz);
    w->t[w->nt++] = e;
    w->total += nbytes;
    return NB_OK;
}

nb_status nb_st_meta(nb_st_writer *w, const char *key, const char *value) {
    if (!w || !key || !value)
        return nb__err(NB_ERR_ARG, "nb_st_meta: writer, key and value are required");
    if (!valid_utf8(key) || !valid_utf8(value))
        return nb__err(NB_ERR_ARG, "nb_st_meta: key or value of '%s' is not UTF-8", key);
    for (int i = 0; i < w->nm; i++)
        if (strcmp(w->meta[i].key, key) == 0)
            return nb__err(NB_ERR_ARG, "nb_st_meta: duplicate metadata key '%s'", key);
    if (!grow((void **)&w->meta, &w->cap_m, w->nm, sizeof *w->meta))
        return nb__err(NB_ERR_MEM, "nb_st_meta: out of memory");
    st_kv kv = {dupstr(key), dupstr(value)};
    if (!kv.key || !kv.value) {
        free(kv.key);
        free(kv.value);
        return nb__err(NB_ERR_MEM, "nb_st_meta: out of memory");
    }
    w->meta[w->nm++] = kv;
    return NB_OK;
}

/* The JSON header, compact, in insertion order (__metadata__ first when present). */
static char *header_json(const nb_st_writer *w) {
    json_t *root = json_object(), *meta = NULL;
    bool ok = root != NULL;
    if (ok && w->nm) {
        meta = json_object();
        ok = meta && json_object_set_new(root, ST_META, meta) == 0;
        for (int i = 0; ok && i < w->nm; i++)
            ok = json_object_set_new(meta, w->meta[i].key, json_string(w->meta[i].value)) == 0;
    }
    uint64_t off = 0;
    for (int i = 0; ok && i < w->nt; i++) {
        const st_entry *e = &w->t[i];
        json_t *o = json_object(), *shp = json_array(), *offs = json_array();
        ok = o && shp && offs;
        for (int d = 0; ok && d < e->ndim; d++)
            ok = json_array_append_new(shp, json_integer((json_int_t)e->shape[d])) == 0;
        ok = ok && json_array_append_new(offs, json_integer((json_int_t)off)) == 0 &&
             json_array_append_new(offs, json_integer((json_int_t)(off + e->nbytes))) == 0;
        ok = ok && json_object_set_new(o, "dtype", json_string(dtype_name[e->dtype])) == 0;
        /* set_new takes the reference even on failure, so clear our pointers at once */
        if (ok) ok = json_object_set_new(o, "shape", shp) == 0, shp = NULL;
        if (ok) ok = json_object_set_new(o, "data_offsets", offs) == 0, offs = NULL;
        if (ok) ok = json_object_set_new(root, e->name, o) == 0, o = NULL;
        json_decref(o);
        json_decref(shp);
        json_decref(offs);
        off += e->nbytes;
    }
    char *s = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return s;
}

static bool write_all(FILE *f, const void *p, size_t n) {
    return n == 0 || fwrite(p, 1, n, f) == n;
}

/* Writes the whole file to the open stream; false with errno set on failure. */
static bool write_body(const nb_st_writer *w, FILE *f, const char *json) {
    size_t len = strlen(json), pad = (8 - (8 + len) % 8) % 8;
    uint64_t n = (uint64_t)(len + pad);
    unsigned char hdr[8];
    for (int i = 0; i < 8; i++) hdr[i] = (unsigned char)(n >> (8 * i));
    static const char spaces[8] = "        ";
    if (!write_all(f, hdr, 8) || !write_all(f, json, len) || !write_all(f, spaces, pad))
        return false;
    for (int i = 0; i < w->nt; i++)
        if (!write_all(f, w->t[i].bytes, w->t[i].nbytes)) return false;
    return true;
}

/* fsync of the folder holding path, so the rename itself survives a crash. */
static int sync_parent(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? malloc((size_t)(slash - path) + 2) : dupstr(".");
    if (!dir) return ENOMEM;
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path); /* "/x" -> "/" */
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int err = 0, fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) err = errno;
    else {
        /* some file systems cannot sync a folder; that is not a failed write */
        if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP) err = errno;
        close(fd);
    }
    free(dir);
    return err;
}

nb_status nb_st_write(nb_st_writer *w, const char *path) {
    if (!w || !path || !path[0])
        return nb__err(NB_ERR_ARG, "nb_st_write: writer and path are required");
    char *json = header_json(w);
    if (!json) return nb__err(NB_ERR_MEM, "%s: out of memory building the header", path);
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(json);
        return nb__err(NB_ERR_MEM, "%s: out of memory", path);
    }
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());

    /* what failed, and on which file: the temporary until the rename, then the target */
    const char *what = "cannot create", *on = tmp;
    int err = 0;
    bool created = false;
    FILE *f = fopen(tmp, "wb");
    if (!f) err = errno;
    else {
        created = true;
        what = "cannot write";
        errno = 0;
        if (!write_body(w, f, json) || fflush(f) != 0) err = errno ? errno : EIO;
        else if (fsync(fileno(f)) != 0) what = "cannot sync", err = errno;
        if (fclose(f) != 0 && !err) what = "cannot close", err = errno ? errno : EIO;
        if (!err && rename(tmp, path) != 0) {
            what = "cannot rename the temporary over";
            on = path;
            err = errno;
        }
    }
    free(json);
    if (err) {
        if (created) remove(tmp);
        nb__err(NB_ERR_IO, "%s: %s %s: %s (an existing file there is left untouched)", path,
                what, on, strerror(err));
        free(tmp);
        return NB_ERR_IO;
    }
    free(tmp);
    err = sync_parent(path);
    if (err)
        return nb__err(NB_ERR_IO, "%s: written, but its folder could not be synced: %s", path,
                       strerror(err));
    return NB_OK;
}

/* ---- reader ------------------------------------------------------------------------------ */

struct nb_st_reader {
    char *path;
    unsigned char *buf; /* the whole file */
    size_t size;
    nb_st_tensor *t;    /* in header order; names owned here */
    int nt;
    st_kv *meta;
    int nm;
};

void nb_st_close(nb_st_reader *r) {
    if (!r) return;
    for (int i = 0; i < r->nt; i++) free((char *)r->t[i].name);
    for (int i = 0; i < r->nm; i++) {
        free(r->meta[i].key);
        free(r->meta[i].value);
    }
    free(r->t);
    free(r->meta);
    free(r->buf);
    free(r->path);
    free(r);
}

static nb_status read_file(nb_st_reader *r) {
    const char *path = r->path;
    FILE *f = fopen(path, "rb");
    if (!f) return nb__err(NB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    nb_status st = NB_OK;
    if (fstat(fileno(f), &sb) != 0)
        st = nb__err(NB_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = nb__err(NB_ERR_IO, "%s: not a regular file", path);
    else if ((uint64_t)sb.st_size >= SIZE_MAX)
        st = nb__err(NB_ERR_MEM, "%s: too large (%lld bytes)", path, (long long)sb.st_size);
    if (!st) {
        r->size = (size_t)sb.st_size;
        r->buf = malloc(r->size ? r->size : 1);
        if (!r->buf)
            st = nb__err(NB_ERR_MEM, "%s: out of memory for %zu bytes", path, r->size);
        else if (fread(r->buf, 1, r->size, f) != r->size)
            st = nb__err(NB_ERR_IO, "%s: read error: %s", path,
                         ferror(f) ? strerror(errno) : "file shrank while reading");
    }
    fclose(f);
    return st;
}

/* A JSON integer in [lo, hi] into *out; false for anything else. */
static bool json_int_in(const json_t *j, int64_t lo, int64_t hi, int64_t *out) {
    if (!json_is_integer(j)) return false;
    json_int_t v = json_integer_value(j);
    if (v < lo || v > hi) return false;
    *out = (int64_t)v;
    return true;
}

static nb_status parse_meta(nb_st_reader *r, json_t *meta) {
    const char *path = r->path;
    if (!json_is_object(meta))
        return nb__err(NB_ERR_FORMAT, "%s: %s is not an object", path, ST_META);
    r->meta = calloc(json_object_size(meta) + 1, sizeof *r->meta);
    if (!r->meta) return nb__err(NB_ERR_MEM, "%s: out of memory", path);
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        if (!json_is_string(v))
            return nb__err(NB_ERR_FORMAT, "%s: %s value of '%s' is not a string", path, ST_META,
                           k);
        st_kv *kv = &r->meta[r->nm++];
        kv->key = dupstr(k);
        kv->value = dupstr(json_string_value(v));
        if (!kv->key || !kv->value) return nb__err(NB_ERR_MEM, "%s: out of memory", path);
    }
    return NB_OK;
}

/* Fills one tensor entry from its JSON object; offsets are relative to the data buffer. */
static nb_status parse_entry(nb_st_reader *r, const char *name, json_t *o, uint64_t data_size,
                             nb_st_tensor *t, uint64_t *begin, uint64_t *end) {
    const char *path = r->path;
    if (!json_is_object(o))
        return nb__err(NB_ERR_FORMAT, "%s: tensor '%s': entry is not an object", path, name);
    json_t *jd = json_object_get(o, "dtype"), *js = json_object_get(o, "shape"),
           *jo = json_object_get(o, "data_offsets");
    const char *miss = !jd ? "dtype" : !js ? "shape" : !jo ? "data_offsets" : NULL;
    if (miss) return nb__err(NB_ERR_FORMAT, "%s: tensor '%s': no \"%s\"", path, name, miss);
    if (!json_is_string(jd))
        return nb__err(NB_ERR_FORMAT, "%s: tensor '%s': dtype is not a string", path, name);
    const char *ds = json_string_value(jd);
    int dt = -1;
    for (int i = 0; i < NB_ST_DTYPE_COUNT; i++)
        if (strcmp(ds, dtype_name[i]) == 0) dt = i;
    if (dt < 0) {
        char known[8 * NB_ST_DTYPE_COUNT] = "";
        for (int i = 0; i < NB_ST_DTYPE_COUNT; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                     dtype_name[i]);
        return nb__err(NB_ERR_FORMAT,
                       "%s: tensor '%s': unsupported dtype \"%s\" (nabla reads %s)", path, name,
                       ds, known);
    }
    if (!json_is_array(js))
        return nb__err(NB_ERR_FORMAT, "%s: tensor '%s': shape is not an array", path, name);
    if (json_array_size(js) > ST_MAX_DIMS)
        return nb__err(NB_ERR_FORMAT, "%s: tensor '%s': shape has %zu dimensions, at most %d",
                       path, name, json_array_size(js), ST_MAX_DIMS);
    t->name = name;
    t->dtype = (nb_st_dtype)dt;
    t->ndim = (int)json_array_size(js);
    uint64_t nbytes = dtype_size[dt];
    bool overflow = false;
    for (int d = 0; d < t->ndim; d++) {
        if (!json_int_in(json_array_get(js, (size_t)d), 0, INT64_MAX, &t->shape[d]))
            return nb__err(NB_ERR_FORMAT,
                           "%s: tensor '%s': shape[%d] is not a non-negative integer", path,
                           name, d);
        if (t->shape[d] == 0) nbytes = 0;
    }
    for (int d = 0; d < t->ndim && nbytes; d++) {
        uint64_t s = (uint64_t)t->shape[d];
        if (nbytes > UINT64_MAX / s) overflow = true, nbytes = 1; /* keep going, flagged */
        else nbytes *= s;
    }
    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return nb__err(NB_ERR_FORMAT, "%s: tensor '%s': data_offsets is not [begin, end]", path,
                       name);
    int64_t b, e;
    if (!json_int_in(json_array_get(jo, 0), 0, INT64_MAX, &b) ||
        !json_int_in(json_array_get(jo, 1), 0, INT64_MAX, &e))
        return nb__err(NB_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets are not non-negative integers", path, name);
    if (e < b)
        return nb__err(NB_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] end before begin",
                       path, name, (long long)b, (long long)e);
    char shp[96];
    nb__shape_str(shp, sizeof shp, t->ndim, t->shape);
    if (overflow || nbytes != (uint64_t)(e - b))
        return nb__err(NB_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%lld, %lld] hold %lld bytes, but %s %s "
                       "needs %s%llu",
                       path, name, (long long)b, (long long)e, (long long)(e - b), ds, shp,
                       overflow ? "more than " : "",
                       overflow ? (unsigned long long)UINT64_MAX : (unsigned long long)nbytes);
    if ((uint64_t)e > data_size)
        return nb__err(NB_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%lld, %lld] lie outside the %llu-byte data",
                       path, name, (long long)b, (long long)e, (unsigned long long)data_size);
    *begin = (uint64_t)b;
    *end = (uint64_t)e;
    t->nbytes = (size_t)nbytes;
    return NB_OK;
}

typedef struct span {
    uint64_t begin, end;
    int idx;
} span;

static int span_cmp(const void *pa, const void *pb) {
    const span *a = pa, *b = pb;
    if (a->begin != b->begin) return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    return a->idx - b->idx;
}

/* The tensors must tile the data buffer: no overlap, no gap, nothing left over. */
static nb_status check_coverage(const nb_st_reader *r, span *sp, uint64_t data_size) {
    qsort(sp, (size_t)r->nt, sizeof *sp, span_cmp);
    uint64_t at = 0;
    int prev = -1;
    for (int i = 0; i < r->nt; i++) {
        if (sp[i].begin < at)
            return nb__err(NB_ERR_FORMAT,
                           "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap", r->path,
                           r->t[sp[prev].idx].name, (unsigned long long)sp[prev].begin,
                           (unsigned long long)sp[prev].end, r->t[sp[i].idx].name,
                           (unsigned long long)sp[i].begin, (unsigned long long)sp[i].end);
        if (sp[i].begin > at)
            return nb__err(NB_ERR_FORMAT,
                           "%s: data bytes [%llu, %llu) belong to no tensor (before '%s')",
                           r->path, (unsigned long long)at, (unsigned long long)sp[i].begin,
                           r->t[sp[i].idx].name);
        if (sp[i].end > sp[i].begin || prev < 0) prev = i;
        at = sp[i].end;
    }
    if (at != data_size)
        return nb__err(NB_ERR_FORMAT,
                       "%s: data bytes [%llu, %llu) at the end belong to no tensor", r->path,
                       (unsigned long long)at, (unsigned long long)data_size);
    return NB_OK;
}

static nb_status parse_header(nb_st_reader *r) {
    const char *path = r->path;
    if (r->size < 8)
        return nb__err(NB_ERR_FORMAT,
                       "%s: truncated: %zu bytes, shorter than the 8-byte header length", path,
                       r->size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | r->buf[i];
    if (n > ST_MAX_HEADER)
        return nb__err(NB_ERR_FORMAT,
                       "%s: header length %llu is absurd (over %u bytes); not a safetensors file?",
                       path, (unsigned long long)n, ST_MAX_HEADER);
    if (n > r->size - 8)
        return nb__err(NB_ERR_FORMAT,
                       "%s: truncated: header length %llu but only %zu bytes follow it", path,
                       (unsigned long long)n, r->size - 8);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)r->buf + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return nb__err(NB_ERR_FORMAT, "%s: invalid JSON header at byte %d: %s", path,
                       8 + jerr.position, jerr.text);
    nb_status st = NB_OK;
    span *sp = NULL;
    uint64_t data_size = r->size - 8 - n;
    if (!json_is_object(root)) {
        st = nb__err(NB_ERR_FORMAT, "%s: JSON header is not an object", path);
        goto done;
    }
    size_t cap = json_object_size(root) + 1;
    r->t = calloc(cap, sizeof *r->t);
    sp = calloc(cap, sizeof *sp);
    if (!r->t || !sp) {
        st = nb__err(NB_ERR_MEM, "%s: out of memory", path);
        goto done;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (strcmp(k, ST_META) == 0) {
            st = parse_meta(r, v);
        } else {
            nb_st_tensor *t = &r->t[r->nt];
            char *name = dupstr(k);
            if (!name) st = nb__err(NB_ERR_MEM, "%s: out of memory", path);
            else {
                t->name = name;
                r->nt++;
                st = parse_entry(r, name, v, data_size, t, &sp[r->nt - 1].begin,
                                 &sp[r->nt - 1].end);
                sp[r->nt - 1].idx = r->nt - 1;
                t->data = r->buf + 8 + n + sp[r->nt - 1].begin;
            }
        }
        if (st) goto done;
    }
    st = check_coverage(r, sp, data_size);
    if (!st && NB_ST_BIG_ENDIAN)
        for (int i = 0; i < r->nt; i++)
            swap_elems((void *)r->t[i].data, r->t[i].nbytes, dtype_size[r->t[i].dtype]);
done:
    free(sp);
    json_decref(root);
    return st;
}

nb_st_reader *nb_st_open(const char *path) {
    if (!path) {
        nb__err(NB_ERR_ARG, "nb_st_open: path is NULL");
        return NULL;
    }
    nb_st_reader *r = calloc(1, sizeof *r);
    if (r) r->path = dupstr(path);
    if (!r || !r->path) {
        nb__err(NB_ERR_MEM, "%s: out of memory", path);
        nb_st_close(r);
        return NULL;
    }
    if (read_file(r) || parse_header(r)) {
        nb_st_close(r);
        return NULL;
    }
    return r;
}

int nb_st_count(const nb_st_reader *r) { return r ? r->nt : 0; }

const nb_st_tensor *nb_st_get(const nb_st_reader *r, int i) {
    if (!r || i < 0 || i >= r->nt) {
        nb__err(NB_ERR_ARG, "nb_st_get: index %d outside 0..%d", i, r ? r->nt - 1 : -1);
        return NULL;
    }
    return &r->t[i];
}

const nb_st_tensor *nb_st_find(const nb_st_reader *r, const char *name) {
    if (!r || !name) return NULL;
    for (int i = 0; i < r->nt; i++)
        if (strcmp(r->t[i].name, name) == 0) return &r->t[i];
    return NULL;
}

/* The tensor called name into *out, or NB_ERR_FORMAT naming the file and the tensor. */
static nb_status lookup(const nb_st_reader *r, const char *name, const nb_st_tensor **out) {
    *out = nb_st_find(r, name);
    return *out ? NB_OK : nb__err(NB_ERR_FORMAT, "%s: no tensor '%s'", r->path, name);
}

/* NB_ERR_SHAPE naming the file, the tensor and both shapes unless t has exactly this shape. */
static nb_status same_shape(const nb_st_reader *r, const nb_st_tensor *t, int ndim,
                            const int64_t *shape) {
    bool same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (same) return NB_OK;
    return nb__err(NB_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", r->path, t->name,
                   nb__shape_str((char[96]){0}, 96, t->ndim, t->shape),
                   nb__shape_str((char[96]){0}, 96, ndim, shape));
}

nb_status nb_st_read_into(const nb_st_reader *r, const char *name, nb_st_dtype dt, int ndim,
                          const int64_t *shape, void *dst) {
    if (!r || !name) return nb__err(NB_ERR_ARG, "nb_st_read_into: reader and name are required");
    if (!dtype_ok(dt) || ndim < 0 || ndim > ST_MAX_DIMS || (ndim > 0 && !shape))
        return nb__err(NB_ERR_ARG, "nb_st_read_into: '%s': bad dtype, ndim or shape", name);
    const nb_st_tensor *t;
    nb_status st = lookup(r, name, &t);
    if (st) return st;
    if (t->dtype != dt)
        return nb__err(NB_ERR_DTYPE, "%s: tensor '%s' has dtype %s, expected %s", r->path, name,
                       dtype_name[t->dtype], dtype_name[dt]);
    if ((st = same_shape(r, t, ndim, shape))) return st;
    if (t->nbytes) {
        if (!dst) return nb__err(NB_ERR_ARG, "nb_st_read_into: '%s': dst is NULL", name);
        memcpy(dst, t->data, t->nbytes); /* data may be unaligned in the file: copy bytes */
    }
    return NB_OK;
}

/* IEEE binary16 -> binary32, exact: every half is a float. */
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0x1F) bits = sign | 0x7F800000u | (man << 13); /* inf, NaN (payload kept) */
    else if (exp) bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    else {
        float m = (float)man * 0x1p-24f; /* zero or subnormal: man * 2^-24, exact */
        memcpy(&bits, &m, 4);
        bits |= sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* bfloat16 is the upper half of a binary32. */
static float bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* binary64 -> binary32, to nearest with ties to even. Past the float range the result is an
 * infinity from FLT_MAX + half an ulp (2^103) up, FLT_MAX below it; spelt out because a C
 * cast of an out-of-range value is undefined. */
static float f64_to_f32(double d) {
    const double lim = 0x1.ffffffp127; /* FLT_MAX + 2^103: the tie rounds to even = inf */
    if (d >= lim) return INFINITY;
    if (d <= -lim) return -INFINITY;
    if (d > FLT_MAX) return FLT_MAX;
    if (d < -FLT_MAX) return -FLT_MAX;
    return (float)d; /* NaN stays NaN */
}

nb_status nb_st_read_f32(const nb_st_reader *r, const char *name, int ndim, const int64_t *shape,
                         float *dst) {
    if (!r || !name) return nb__err(NB_ERR_ARG, "nb_st_read_f32: reader and name are required");
    if (ndim < 0 || ndim > ST_MAX_DIMS || (ndim > 0 && !shape))
        return nb__err(NB_ERR_ARG, "nb_st_read_f32: '%s': bad ndim or shape", name);
    const nb_st_tensor *t;
    nb_status st = lookup(r, name, &t);
    if (st) return st;
    if (t->dtype != NB_ST_F32 && t->dtype != NB_ST_F16 && t->dtype != NB_ST_BF16 &&
        t->dtype != NB_ST_F64)
        return nb__err(NB_ERR_DTYPE,
                       "%s: tensor '%s' has dtype %s, expected a floating-point one (F32, F16, "
                       "BF16 or F64)",
                       r->path, name, dtype_name[t->dtype]);
    if ((st = same_shape(r, t, ndim, shape))) return st;
    if (!t->nbytes) return NB_OK;
    if (!dst) return nb__err(NB_ERR_ARG, "nb_st_read_f32: '%s': dst is NULL", name);
    size_t n = t->nbytes / dtype_size[t->dtype]; /* elements; the data may be unaligned */
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case NB_ST_F32: memcpy(dst, p, t->nbytes); break;
    case NB_ST_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = f16_to_f32(h);
        }
        break;
    case NB_ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t b;
            memcpy(&b, p + 2 * i, 2);
            dst[i] = bf16_to_f32(b);
        }
        break;
    default: /* NB_ST_F64 */
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = f64_to_f32(d);
        }
        break;
    }
    return NB_OK;
}

const char *nb_st_meta_get(const nb_st_reader *r, const char *key) {
    if (!r || !key) return NULL;
    for (int i = 0; i < r->nm; i++)
        if (strcmp(r->meta[i].key, key) == 0) return r->meta[i].value;
    return NULL;
}

int nb_st_meta_count(const nb_st_reader *r) { return r ? r->nm : 0; }

const char *nb_st_meta_at(const nb_st_reader *r, int i, const char **value) {
    if (value) *value = r && i >= 0 && i < r->nm ? r->meta[i].value : NULL;
    return r && i >= 0 && i < r->nm ? r->meta[i].key : NULL;
}
