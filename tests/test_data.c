/* Data layer tests: IDX (plain and gzip) and CSV readers with good and malformed files, dataset
 * slicing and gathering, and the background loader (coverage, determinism, drop_last, freeing
 * mid-epoch). Temp files go to a mkdtemp() folder removed at the end. Checks on the real MNIST
 * (../data/mnist) and Fashion-MNIST (/usr/share/datasets/fashion-mnist) run when present. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "internal.h"

#include <math.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define FIX "fixtures/mnist-small"

static char g_dir[256];       /* the temp folder */
static char g_made[64][320];  /* files made there, removed at the end */
static int g_nmade;

/* Path of name inside the temp folder (a rotating set of buffers). */
static const char *tmp_path(const char *name) {
    static char bufs[8][320];
    static int k;
    char *b = bufs[k++ & 7];
    snprintf(b, 320, "%s/%s", g_dir, name);
    return b;
}

/* Records path for removal; returns a copy that stays valid until the end. */
static const char *remember(const char *path) {
    for (int i = 0; i < g_nmade; i++)
        if (!strcmp(g_made[i], path)) return g_made[i];
    if (g_nmade == 64) return path;
    snprintf(g_made[g_nmade], 320, "%s", path);
    return g_made[g_nmade++];
}

/* Writes bytes to the temp file `name`, gzipped when gz; returns its path. */
static const char *put(const char *name, const void *data, size_t len, int gz) {
    const char *p = remember(tmp_path(name));
    if (gz) {
        gzFile g = gzopen(p, "wb9");
        if (!g) return p;
        if (len) gzwrite(g, data, (unsigned)len);
        gzclose(g);
    } else {
        FILE *f = fopen(p, "wb");
        if (!f) return p;
        if (len) fwrite(data, 1, len, f);
        fclose(f);
    }
    return p;
}

static const char *put_str(const char *name, const char *s) { return put(name, s, strlen(s), 0); }

/* Reads a whole (possibly gzipped) file; *len gets its decompressed size. */
static uint8_t *slurp_gz(const char *path, size_t *len) {
    gzFile g = gzopen(path, "rb");
    if (!g) return NULL;
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    int r;
    while (b && (r = gzread(g, b + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)r;
        if (n == cap) b = realloc(b, cap *= 2);
    }
    gzclose(g);
    *len = n;
    return b;
}

static int err_has(const char *a, const char *b) {
    const char *m = nb_last_error();
    return strstr(m, a) && (!b || strstr(m, b));
}
#define CHECK_ERR(got_null, a, b)                                                           \
    CHECK((got_null) && err_has(a, b), "expected an error naming '%s' and '%s', got '%s'",  \
          a, b ? b : "", nb_last_error())

/* An IDX header: magic then ndim big-endian sizes. Returns its length. */
static size_t idx_head(uint8_t *h, uint32_t magic, const uint32_t *dims, int ndim) {
    uint32_t v[4] = {magic, 0, 0, 0};
    for (int i = 0; i < ndim; i++) v[i + 1] = dims[i];
    for (int i = 0; i <= ndim; i++) {
        h[4 * i] = (uint8_t)(v[i] >> 24);
        h[4 * i + 1] = (uint8_t)(v[i] >> 16);
        h[4 * i + 2] = (uint8_t)(v[i] >> 8);
        h[4 * i + 3] = (uint8_t)v[i];
    }
    return 4 + 4 * (size_t)ndim;
}

/* A synthetic image file of n images 2x2 with `extra` payload bytes (negative: missing). */
static const char *put_images(const char *name, uint32_t magic, uint32_t n, int extra, int gz) {
    uint8_t buf[256];
    uint32_t dims[3] = {n, 2, 2};
    size_t h = idx_head(buf, magic, dims, 3);
    size_t len = h + (size_t)((int)(4 * n) + extra);
    for (size_t i = h; i < len; i++) buf[i] = (uint8_t)(i * 37);
    return put(name, buf, len, gz);
}

static const char *put_labels(const char *name, uint32_t n, const uint8_t *labels, int gz) {
    uint8_t buf[256];
    uint32_t dims[1] = {n};
    size_t h = idx_head(buf, 0x00000801, dims, 1);
    memcpy(buf + h, labels, n);
    return put(name, buf, h + n, gz);
}

static void test_fixture(void) {
    static const int64_t train_first[8] = {5, 0, 4, 1, 9, 2, 1, 3};
    static const int64_t test_first[8] = {7, 2, 1, 0, 4, 1, 4, 9};
    nb_dataset *tr = nb_mnist_load(FIX, 1), *te = nb_mnist_load(FIX, 0);
    CHECK(tr && te, "fixture loads: %s", nb_last_error());
    if (!tr || !te) goto done;
    CHECK(tr->n == 2000 && tr->c == 1 && tr->h == 28 && tr->w == 28 && tr->dim == 784,
          "train %lld x %d x %d x %d", (long long)tr->n, tr->c, tr->h, tr->w);
    CHECK(te->n == 500 && te->h == 28 && te->w == 28, "test %lld", (long long)te->n);
    CHECK(tr->x_u8 && !tr->x_f32 && tr->mean == 0.0f && tr->std == 1.0f, "bytes, mean 0 std 1");
    CHECK(tr->n_classes == 10 && te->n_classes == 10, "classes %d %d", tr->n_classes,
          te->n_classes);
    int same = 1;
    for (int i = 0; i < 8; i++) same &= tr->y[i] == train_first[i] && te->y[i] == test_first[i];
    CHECK(same, "first labels 5 0 4 1 9 2 1 3 / 7 2 1 0 4 1 4 9");
    /* The first image is a 5 with ink in the middle and a blank border. */
    int64_t ink = 0, border = 0;
    for (int r = 0; r < 28; r++)
        for (int c = 0; c < 28; c++) {
            int v = tr->x_u8[r * 28 + c];
            ink += v;
            if (r == 0 || c == 0 || r == 27 || c == 27) border += v;
        }
    CHECK(ink > 10000 && border == 0, "first image ink %lld border %lld", (long long)ink,
          (long long)border);

    /* Plain copies (decompressed here with zlib) give the same bytes as the gzipped files. */
    const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 4; i++) {
        char src[128];
        snprintf(src, sizeof src, FIX "/%s.gz", names[i]);
        size_t len = 0;
        uint8_t *raw = slurp_gz(src, &len);
        CHECK(raw && len > 8 && raw[0] == 0 && raw[1] == 0, "%s decompresses", src);
        if (raw) put(names[i], raw, len, 0);
        free(raw);
    }
    nb_dataset *ptr = nb_mnist_load(g_dir, 1), *pte = nb_mnist_load(g_dir, 0);
    CHECK(ptr && pte, "plain copies load: %s", nb_last_error());
    if (ptr && pte) {
        CHECK(ptr->n == tr->n && !memcmp(ptr->x_u8, tr->x_u8, (size_t)tr->n * 784) &&
                  !memcmp(ptr->y, tr->y, (size_t)tr->n * sizeof(int64_t)),
              "plain train == gz train");
        CHECK(pte->n == te->n && !memcmp(pte->x_u8, te->x_u8, (size_t)te->n * 784) &&
                  !memcmp(pte->y, te->y, (size_t)te->n * sizeof(int64_t)),
              "plain test == gz test");
    }
    nb_dataset_free(ptr);
    nb_dataset_free(pte);
    /* Explicit paths, and a gzip file whose name lacks ".gz" (detected by content). */
    size_t glen = 0;
    FILE *f = fopen(FIX "/t10k-labels-idx1-ubyte.gz", "rb");
    uint8_t gzbytes[4096];
    if (f) {
        glen = fread(gzbytes, 1, sizeof gzbytes, f);
        fclose(f);
    }
    const char *noext = put("labels-no-ext", gzbytes, glen, 0);
    nb_dataset *e = nb_idx_load(FIX "/t10k-images-idx3-ubyte.gz", noext);
    CHECK(e && e->n == 500 && e->y[0] == 7 && !memcmp(e->x_u8, te->x_u8, 500 * 784),
          "gzip detected by content: %s", nb_last_error());
    nb_dataset_free(e);

    /* Slices copy samples and keep the layout and class count. */
    nb_dataset *s = nb_dataset_slice(tr, 10, 20);
    CHECK(s && s->n == 20 && s->dim == 784 && s->h == 28 && s->n_classes == 10 &&
              !memcmp(s->x_u8, tr->x_u8 + 10 * 784, 20 * 784) && s->y[0] == tr->y[10] &&
              s->y[19] == tr->y[29],
          "slice [10,30)");
    nb_dataset_free(s);
    s = nb_dataset_slice(tr, 1990, 11);
    CHECK_ERR(!s, "nb_dataset_slice", "outside");
    nb_dataset_free(s);
    s = nb_dataset_slice(tr, -1, 2);
    CHECK_ERR(!s, "nb_dataset_slice", "outside");
    nb_dataset_free(s);

    /* Gather: bytes -> (x/255 - mean)/std; labels copied. */
    int64_t idx[3] = {5, 0, 1999}, y[3];
    float *x = malloc(3 * 784 * sizeof(float)); /* (3, 784) */
    for (int pass = 0; pass < 2; pass++) {
        if (pass) {
            tr->mean = 0.1307f;
            tr->std = 0.3081f;
        }
        nb_dataset_gather(tr, idx, 3, x, y);
        int ok = y[0] == tr->y[5] && y[1] == tr->y[0] && y[2] == tr->y[1999];
        double maxd = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 784; j++) {
                float b = tr->x_u8[idx[i] * 784 + j];
                float want = pass ? (b / 255.0f - 0.1307f) / 0.3081f : b / 255.0f;
                double dlt = fabs((double)x[i * 784 + j] - want);
                if (dlt > maxd) maxd = dlt;
            }
        CHECK(ok && maxd <= 1e-6, "gather pass %d: labels %d, max diff %g", pass, ok, maxd);
    }
    CHECK(x[1 * 784] < -0.42f && x[1 * 784] > -0.43f, "blank pixel -> -mean/std = %g",
          x[1 * 784]);
    free(x);
done:
    nb_dataset_free(tr);
    nb_dataset_free(te);
}

static void test_idx_errors(void) {
    const uint8_t labels[8] = {3, 1, 4, 1, 5, 9, 2, 6};
    const char *lab3 = put_labels("lab3", 3, labels, 0);
    const char *good = put_images("good", 0x00000803, 3, 0, 0);
    nb_dataset *d = nb_idx_load(good, lab3);
    CHECK(d && d->n == 3 && d->h == 2 && d->w == 2 && d->dim == 4 && d->n_classes == 5 &&
              d->y[2] == 4,
          "small synthetic pair loads: %s", nb_last_error());
    nb_dataset_free(d);

    const char *p = put_images("trunc", 0x00000803, 3, -5, 0);
    d = nb_idx_load(p, lab3);
    CHECK_ERR(!d, p, "truncated: header says 3 images of 2x2 (12 bytes)");
    CHECK(err_has("holds 7 bytes after the header", NULL), "%s", nb_last_error());
    uint8_t head[6] = {0, 0, 8, 3, 0, 0};
    p = put("trunc-head", head, sizeof head, 0);
    CHECK_ERR(!nb_idx_load(p, lab3), p, "truncated header");
    p = put("trunc-magic", head, 3, 0);
    CHECK_ERR(!nb_idx_load(p, lab3), p, "truncated header");
    p = put_images("magic", 0x12345678, 3, 0, 0);
    CHECK_ERR(!nb_idx_load(p, lab3), p, "bad magic 0x12345678");
    CHECK_ERR(!nb_idx_load(good, good), good, "label");
    CHECK(err_has("bad magic 0x00000803", NULL), "%s", nb_last_error());
    CHECK_ERR(!nb_idx_load(lab3, lab3), lab3, "bad magic 0x00000801");
    p = put_images("type", 0x00000d03, 3, 0, 0);
    CHECK_ERR(!nb_idx_load(p, lab3), p, "type byte 0x0d");
    const char *lab4 = put_labels("lab4", 4, labels, 0);
    CHECK_ERR(!nb_idx_load(good, lab4), lab4, "count mismatch");
    CHECK(err_has(good, "4 labels"), "names both files: %s", nb_last_error());
    p = put_images("trailing", 0x00000803, 3, 2, 0);
    CHECK_ERR(!nb_idx_load(p, lab3), p, "trailing bytes");
    CHECK(err_has("(2 too many)", NULL), "%s", nb_last_error());
    p = put("empty", "", 0, 0);
    CHECK_ERR(!nb_idx_load(p, lab3), p, "empty file");
    CHECK_ERR(!nb_idx_load(good, p), p, "empty file");
    p = tmp_path("no-such-file");
    CHECK_ERR(!nb_idx_load(p, lab3), p, "No such file");
    p = put_images("zero", 0x00000803, 0, 0, 0);
    CHECK_ERR(!nb_idx_load(p, lab3), p, "is 0");
    CHECK_ERR(!nb_idx_load(g_dir, lab3), g_dir, "directory");

    /* gzip: sizes are checked on the decompressed bytes. */
    p = put_images("good.gz", 0x00000803, 3, 0, 1);
    d = nb_idx_load(p, lab3);
    CHECK(d && d->n == 3, "gz pair loads: %s", nb_last_error());
    nb_dataset_free(d);
    p = put_images("trunc.gz", 0x00000803, 3, -5, 1);
    CHECK_ERR(!nb_idx_load(p, lab3), p, "truncated: header says 3 images");
    p = put_images("trailing.gz", 0x00000803, 3, 1, 1);
    CHECK_ERR(!nb_idx_load(p, lab3), p, "trailing bytes");
    /* A gzip stream cut in half. */
    size_t glen = 0;
    uint8_t *gz = NULL;
    FILE *f = fopen(FIX "/train-labels-idx1-ubyte.gz", "rb");
    if (f) {
        gz = malloc(4096);
        glen = fread(gz, 1, 4096, f);
        fclose(f);
    }
    CHECK(gz && glen > 100 && gz[0] == 0x1f && gz[1] == 0x8b, "fixture is gzip");
    if (gz) {
        p = put("cut.gz", gz, glen / 2, 0);
        CHECK_ERR(!nb_idx_load(FIX "/train-images-idx3-ubyte.gz", p), p, "truncated");
        /* Issue 10: only the 10-byte gzip header was "empty file"; a member whose CRC32 +
         * ISIZE trailer is cut off (wholly or in part) was accepted; a wrong one is refused. */
        p = put("head-only.gz", gz, 10, 0);
        CHECK_ERR(!nb_idx_load(FIX "/train-images-idx3-ubyte.gz", p), p, "truncated gzip file");
        CHECK(!err_has("empty file", NULL), "a cut .gz is not empty: %s", nb_last_error());
        p = put("no-trailer.gz", gz, glen - 8, 0);
        CHECK_ERR(!nb_idx_load(FIX "/train-images-idx3-ubyte.gz", p), p, "truncated gzip file");
        p = put("half-trailer.gz", gz, glen - 3, 0);
        CHECK_ERR(!nb_idx_load(FIX "/train-images-idx3-ubyte.gz", p), p, "truncated gzip file");
        gz[glen - 8] ^= 1; /* CRC32 */
        p = put("bad-crc.gz", gz, glen, 0);
        CHECK_ERR(!nb_idx_load(FIX "/train-images-idx3-ubyte.gz", p), p, "incorrect data check");
        gz[glen - 8] ^= 1;
        gz[glen - 1] ^= 1; /* ISIZE */
        p = put("bad-size.gz", gz, glen, 0);
        CHECK_ERR(!nb_idx_load(FIX "/train-images-idx3-ubyte.gz", p), p, "incorrect length check");
        gz[glen - 1] ^= 1;
        p = put("whole.gz", gz, glen, 0);
        nb_dataset *w = nb_idx_load(FIX "/train-images-idx3-ubyte.gz", p);
        CHECK(w != NULL, "the untouched copy loads: %s", nb_last_error());
        nb_dataset_free(w);
    }
    free(gz);

    /* nb_mnist_load names the folder and the missing file. */
    p = tmp_path("no-such-dir");
    CHECK_ERR(!nb_mnist_load(p, 1), p, "No such file");
    CHECK_ERR(!nb_mnist_load(good, 1), good, "not a directory");
    mkdir(tmp_path("half"), 0700);
    put_images("half/train-images-idx3-ubyte", 0x00000803, 3, 0, 0);
    CHECK_ERR(!nb_mnist_load(tmp_path("half"), 1), tmp_path("half"),
              "missing train-labels-idx1-ubyte");
    CHECK_ERR(!nb_mnist_load(tmp_path("half"), 0), tmp_path("half"),
              "missing t10k-images-idx3-ubyte");
    put_labels("half/train-labels-idx1-ubyte.gz", 3, labels, 1);
    d = nb_mnist_load(tmp_path("half"), 1);
    CHECK(d && d->n == 3 && d->y[0] == 3, "plain images + gz labels: %s", nb_last_error());
    nb_dataset_free(d);
}

static void test_csv(void) {
    const char *p = put_str("good.csv", "a,b,c,label\r\n1,2.5,-3,0\r\n 4 , 5e-1 ,6,2\n\n7,8,9,1");
    nb_dataset *d = nb_csv_load(p, 1);
    CHECK(d, "good csv loads: %s", nb_last_error());
    if (d) {
        CHECK(d->n == 3 && d->dim == 3 && d->c == 1 && d->h == 1 && d->w == 3 && d->x_f32 &&
                  !d->x_u8 && d->n_classes == 3,
              "n %lld dim %lld classes %d", (long long)d->n, (long long)d->dim, d->n_classes);
        const float want[9] = {1, 2.5f, -3, 4, 0.5f, 6, 7, 8, 9};
        CHECK(!memcmp(d->x_f32, want, sizeof want), "csv values");
        CHECK(d->y[0] == 0 && d->y[1] == 2 && d->y[2] == 1, "csv labels");
        float x[3];
        int64_t y, i1 = 1;
        nb_dataset_gather(d, &i1, 1, x, &y);
        CHECK(x[0] == 4 && x[1] == 0.5f && x[2] == 6 && y == 2, "csv gather copies floats");
    }
    nb_dataset_free(d);
    d = nb_csv_load(put_str("nohead.csv", "1,0\n2,1\n"), 0);
    CHECK(d && d->n == 2 && d->dim == 1, "no header, trailing newline: %s", nb_last_error());
    nb_dataset_free(d);

    p = put_str("ragged.csv", "x,y,z,l\n1,2,3,0\n4,5,1\n");
    CHECK_ERR(!nb_csv_load(p, 1), p, ":3: wrong column count: 3 columns, expected 4");
    p = put_str("nan.csv", "1,2,0\n1,abc,1\n");
    CHECK_ERR(!nb_csv_load(p, 0), p, ":2: column 2: 'abc' is not a number");
    p = put_str("big.csv", "1,2,0\n1e39,2,1\n");
    CHECK_ERR(!nb_csv_load(p, 0), p, ":2: column 1: '1e39' is beyond the float range");
    p = put_str("empty-field.csv", "1,,0\n");
    CHECK_ERR(!nb_csv_load(p, 0), p, ":1: column 2");
    p = put_str("neg.csv", "1,2,0\n3,4,0\n5,6,-1\n");
    CHECK_ERR(!nb_csv_load(p, 0), p, ":3: bad label '-1': negative");
    p = put_str("frac.csv", "1,2,1.5\n");
    CHECK_ERR(!nb_csv_load(p, 0), p, ":1: bad label '1.5': not an integer");
    p = put_str("word.csv", "1,2,cat\n");
    CHECK_ERR(!nb_csv_load(p, 0), p, ":1: bad label 'cat'");
    p = put_str("one-col.csv", "1\n2\n");
    CHECK_ERR(!nb_csv_load(p, 0), p, ":1:");
    p = put_str("empty.csv", "");
    CHECK_ERR(!nb_csv_load(p, 0), p, "no data rows");
    p = put_str("only-head.csv", "a,b,label\n");
    CHECK_ERR(!nb_csv_load(p, 1), p, "no data rows");
    p = tmp_path("missing.csv");
    CHECK_ERR(!nb_csv_load(p, 0), p, "No such file");
}

/* Samples of batch b whose x or y differ from the dataset's (x: scratch of d->dim floats). */
static int64_t batch_mismatches(const nb_dataset *d, const nb_batch *b, float *x) {
    int64_t bad = 0;
    for (int64_t i = 0; i < b->n; i++) {
        int64_t y;
        nb_dataset_gather(d, &b->idx[i], 1, x, &y);
        bad += y != b->y[i] || memcmp(x, b->x + i * d->dim, (size_t)d->dim * sizeof(float));
    }
    return bad;
}

/* Runs one epoch; appends the indices to order (if given); returns the samples seen. Checks
 * that every batch's x and y match the dataset. */
static int64_t run_epoch(nb_loader *l, const nb_dataset *d, int64_t epoch, int64_t *order,
                         int64_t *nbatches, int64_t *last_n, int64_t *bad) {
    nb_loader_start(l, epoch);
    nb_batch b;
    int64_t seen = 0, k = 0;
    float *x = malloc((size_t)d->dim * sizeof(float)); /* (D) */
    while (nb_loader_next(l, &b)) {
        *bad += batch_mismatches(d, &b, x);
        for (int64_t i = 0; i < b.n && order; i++) order[seen + i] = b.idx[i];
        seen += b.n;
        *last_n = b.n;
        k++;
    }
    free(x);
    *nbatches = k;
    return seen;
}

static int is_perm(const int64_t *order, int64_t n) {
    char *seen = calloc((size_t)n, 1);
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        ok = order[i] >= 0 && order[i] < n && !seen[order[i]];
        if (ok) seen[order[i]] = 1;
    }
    free(seen);
    return ok;
}

static void test_loader(void) {
    nb_dataset *d = nb_mnist_load(FIX, 1);
    CHECK(d != NULL, "fixture: %s", nb_last_error());
    if (!d) return;
    d->mean = 0.1307f;
    d->std = 0.3081f;
    int64_t n = d->n, nb, last, bad = 0;
    int64_t *o1 = malloc((size_t)n * sizeof *o1), *o2 = malloc((size_t)n * sizeof *o2);
    int64_t *o3 = malloc((size_t)n * sizeof *o3);

    CHECK_ERR(!nb_loader_new(NULL, 8, 1, 1, 0), "nb_loader_new", "NULL");
    CHECK_ERR(!nb_loader_new(d, 0, 1, 1, 0), "nb_loader_new", "batch size 0");
    CHECK_ERR(!nb_loader_new(d, -3, 1, 1, 0), "nb_loader_new", "batch size -3");

    /* The global RNG is seeded now and drawn from after the shuffles below: it must give the
     * same number as a freshly seeded one (the loader has its own generator). */
    nb_seed(7);
    nb_loader *a = nb_loader_new(d, 64, 1, 42, 0);
    CHECK(a && nb_loader_batches(a) == 32, "2000/64 -> 32 batches");
    nb_batch b;
    CHECK_ERR(!nb_loader_next(a, &b), "nb_loader_next", "nb_loader_start");
    int64_t seen = run_epoch(a, d, 3, o1, &nb, &last, &bad);
    CHECK(seen == n && nb == 32 && last == 2000 - 31 * 64 && bad == 0,
          "epoch: seen %lld batches %lld last %lld bad %lld", (long long)seen, (long long)nb,
          (long long)last, (long long)bad);
    CHECK(is_perm(o1, n), "every index exactly once");
    int ident = 1;
    for (int64_t i = 0; i < n; i++) ident &= o1[i] == i;
    CHECK(!ident, "shuffled order is not the identity");
    CHECK(!nb_loader_next(a, &b) && !nb_loader_next(a, &b), "the epoch stays ended");

    /* A second loader gives the same order for (seed, epoch), whatever ran before. */
    nb_loader *c = nb_loader_new(d, 64, 1, 42, 0);
    run_epoch(c, d, 0, o2, &nb, &last, &bad);
    CHECK(is_perm(o2, n) && memcmp(o1, o2, (size_t)n * sizeof *o1), "epoch 0 != epoch 3");
    int64_t same = 0;
    for (int64_t i = 0; i < n; i++) same += o1[i] == o2[i];
    CHECK(same < 50, "epochs 0 and 3 agree at %lld places", (long long)same);
    run_epoch(c, d, 3, o2, &nb, &last, &bad);
    CHECK(!memcmp(o1, o2, (size_t)n * sizeof *o1), "same (seed, epoch) -> same order");
    run_epoch(a, d, 4, o3, &nb, &last, &bad);
    CHECK(memcmp(o3, o1, (size_t)n * sizeof *o1), "epoch 4 != epoch 3");
    uint64_t after = nb_rng_next();
    nb_seed(7);
    CHECK(after == nb_rng_next(), "the loader leaves the global RNG alone");
    nb_loader_free(c);
    c = nb_loader_new(d, 64, 1, 43, 0);
    run_epoch(c, d, 3, o2, &nb, &last, &bad);
    CHECK(memcmp(o1, o2, (size_t)n * sizeof *o1), "another seed -> another order");
    nb_loader_free(c);

    /* Restarting mid-epoch gives a clean new epoch, equal to a fresh run of it. */
    nb_loader_start(a, 0);
    for (int i = 0; i < 3; i++) nb_loader_next(a, &b);
    nb_loader_start(a, 4);
    nb_loader_next(a, &b);
    nb_loader_start(a, 3);
    int64_t k = 0, ok = 1;
    while (nb_loader_next(a, &b)) {
        for (int64_t i = 0; i < b.n; i++) ok &= b.idx[i] == o1[k + i];
        k += b.n;
    }
    CHECK(ok && k == n, "restart mid-epoch: %lld samples in the fresh order", (long long)k);

    /* The worker runs ahead through a ring of buffers (8 of these 64-image batches): a batch the
     * caller holds stays intact while the worker fills every other slot, round the ring twice. */
    nb_loader_start(a, 3);
    k = 0, ok = 1;
    float *x = malloc((size_t)d->dim * sizeof(float)); /* (D) */
    for (int i = 0; i < 20 && nb_loader_next(a, &b); i++) {
        nanosleep(&(struct timespec){0, 3000000}, NULL); /* the worker fills the ring meanwhile */
        ok &= batch_mismatches(d, &b, x) == 0;
        for (int64_t j = 0; j < b.n; j++) ok &= b.idx[j] == o1[k + j];
        k += b.n;
    }
    free(x);
    CHECK(ok && k == 20 * 64, "held batches stay intact while the worker runs ahead (%lld samples)", (long long)k);
    nb_loader_free(a);

    /* drop_last */
    a = nb_loader_new(d, 64, 1, 42, 1);
    CHECK(nb_loader_batches(a) == 31, "drop_last -> 31 batches");
    seen = run_epoch(a, d, 3, o2, &nb, &last, &bad);
    CHECK(seen == 31 * 64 && nb == 31 && last == 64 && bad == 0, "drop_last: %lld in %lld",
          (long long)seen, (long long)nb);
    CHECK(!memcmp(o1, o2, (size_t)seen * sizeof *o1), "drop_last keeps the order");
    nb_loader_free(a);

    /* No shuffle: identity order; a batch as large as the data. */
    a = nb_loader_new(d, 2000, 0, 42, 0);
    seen = run_epoch(a, d, 5, o2, &nb, &last, &bad);
    ident = 1;
    for (int64_t i = 0; i < n; i++) ident &= o2[i] == i;
    CHECK(seen == n && nb == 1 && ident && bad == 0, "no shuffle: identity in one batch");
    nb_loader_free(a);
    nb_dataset *small = nb_dataset_slice(d, 0, 10);
    a = nb_loader_new(small, 64, 1, 1, 0);
    seen = run_epoch(a, small, 0, NULL, &nb, &last, &bad);
    CHECK(seen == 10 && nb == 1 && last == 10, "batch > n: one batch of 10");
    nb_loader_free(a);
    a = nb_loader_new(small, 64, 1, 1, 1);
    seen = run_epoch(a, small, 0, NULL, &nb, &last, &bad);
    CHECK(seen == 0 && nb == 0 && nb_loader_batches(a) == 0, "batch > n with drop_last: none");
    nb_loader_free(a);
    a = nb_loader_new(small, 3, 1, 9, 0);
    seen = run_epoch(a, small, 2, NULL, &nb, &last, &bad);
    CHECK(seen == 10 && nb == 4 && last == 1 && bad == 0, "10/3: 4 batches, last of 1");
    nb_loader_free(a);
    CHECK(bad == 0, "every batch matched the dataset (%lld bad)", (long long)bad);

    /* Freeing at every stage (ASan/TSan-relevant): unstarted, just started, mid-epoch, done. */
    /* Each loader must have served the batches asked of it before being freed (the frees
     * themselves are checked by the sanitizer build). */
    nb_loader_free(nb_loader_new(d, 32, 1, 5, 0));
    int wrong_rounds = 0;
    for (int round = 0; round < 40; round++) {
        int64_t bs = 1 + round % 7, asked = round % 5, got = 0;
        a = nb_loader_new(round & 1 ? d : small, bs, 1, (uint64_t)round, round & 2);
        nb_loader_start(a, round);
        int64_t want = nb_loader_batches(a) < asked ? nb_loader_batches(a) : asked;
        for (int64_t i = 0; i < asked; i++) got += nb_loader_next(a, &b) && b.n >= 1 && b.n <= bs;
        wrong_rounds += got != want;
        if (round % 3 == 0) nb_loader_start(a, round + 1);
        nb_loader_free(a);
    }
    CHECK(wrong_rounds == 0, "loaders freed mid-epoch: %d of 40 rounds served the wrong batches",
          wrong_rounds);
    nb_loader_free(NULL);
    nb_dataset_free(NULL);

    /* A CSV dataset through the loader: floats copied as they are. */
    nb_dataset *csv = nb_csv_load(put_str("loader.csv", "1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,10,2\n"),
                                  0);
    a = nb_loader_new(csv, 2, 0, 0, 0);
    nb_loader_start(a, 0);
    float sum = 0;
    int64_t ysum = 0;
    while (nb_loader_next(a, &b))
        for (int64_t i = 0; i < b.n; i++) {
            sum += b.x[2 * i] + b.x[2 * i + 1];
            ysum += b.y[i];
        }
    CHECK(sum == 55 && ysum == 4, "csv through loader: sum %g labels %lld", sum,
          (long long)ysum);
    nb_loader_free(a);
    nb_dataset_free(csv);
    nb_dataset_free(small);
    free(o1);
    free(o2);
    free(o3);
    nb_dataset_free(d);
}

static void test_real(void) {
    struct stat st;
    if (stat("../data/mnist", &st) != 0) {
        printf("skipping real-data checks: ../data/mnist not found (bash scripts/data.sh)\n");
    } else {
        nb_dataset *tr = nb_mnist_load("../data/mnist", 1), *te = nb_mnist_load("../data/mnist", 0);
        CHECK(tr && te, "real MNIST loads: %s", nb_last_error());
        if (tr && te) {
            CHECK(tr->n == 60000 && te->n == 10000 && tr->h == 28 && tr->w == 28 &&
                      te->h == 28 && te->w == 28 && tr->n_classes == 10,
                  "real MNIST sizes %lld %lld", (long long)tr->n, (long long)te->n);
            CHECK(tr->y[0] == 5 && tr->y[1] == 0 && tr->y[2] == 4 && te->y[0] == 7 &&
                      te->y[1] == 2 && te->y[2] == 1,
                  "real first labels");
            nb_dataset *fx = nb_mnist_load(FIX, 1);
            CHECK(fx && !memcmp(fx->x_u8, tr->x_u8, 2000 * 784) &&
                      !memcmp(fx->y, tr->y, 2000 * sizeof(int64_t)),
                  "the fixture is the first 2000 of the real train set");
            nb_dataset_free(fx);
        }
        nb_dataset_free(tr);
        nb_dataset_free(te);
    }
    const char *fdir = "/usr/share/datasets/fashion-mnist";
    if (stat(fdir, &st) != 0) {
        printf("skipping Fashion-MNIST checks: %s not found (bash scripts/data.sh)\n", fdir);
        return;
    }
    nb_dataset *tr = nb_mnist_load(fdir, 1), *te = nb_mnist_load(fdir, 0);
    CHECK(tr && te, "Fashion-MNIST loads: %s", nb_last_error());
    if (tr && te) {
        CHECK(tr->n == 60000 && te->n == 10000 && tr->h == 28 && tr->w == 28 &&
                  tr->n_classes == 10,
              "Fashion sizes %lld %lld", (long long)tr->n, (long long)te->n);
        int64_t per[10] = {0};
        for (int64_t i = 0; i < tr->n; i++)
            if (tr->y[i] >= 0 && tr->y[i] < 10) per[tr->y[i]]++;
        int even = 1;
        for (int c = 0; c < 10; c++) even &= per[c] == 6000;
        CHECK(even, "6000 train images per Fashion class (class 0: %lld)", (long long)per[0]);
    }
    nb_dataset_free(tr);
    nb_dataset_free(te);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/nb_test_data_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_fixture();
    test_idx_errors();
    test_csv();
    test_loader();
    test_real();
    for (int i = g_nmade - 1; i >= 0; i--) unlink(g_made[i]);
    rmdir(tmp_path("half"));
    CHECK(rmdir(g_dir) == 0, "temp folder %s removed (all files cleaned up)", g_dir);
    return test_end("test_data");
}
