/* Pictures: curves and image grids are written into a temporary folder, read back with cairo
 * and checked for size, ink, curve and caption colours; gray PNG round trip, colour PNGs read
 * as gray, and the errors (wrong size, not a PNG, corrupt, missing, unwritable) name the path
 * and leave an existing file intact.
 * With NABLA_PLOT_SAMPLES=<folder> set, sample pictures are also written there to look at. */
#define _POSIX_C_SOURCE 200809L
#include <cairo.h>
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "nabla/nabla.h"

static char g_dir[64];

/* fontconfig (under cairo's text) keeps 288 bytes it never frees, once per process, whatever
 * is drawn; LeakSanitizer would fail the sanitizer build for it. Read only under ASan. */
const char *__lsan_default_suppressions(void);
__attribute__((used)) const char *__lsan_default_suppressions(void) {
    return "leak:libfontconfig.so\n";
}

static void path_in(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", g_dir, name);
}

/* ---- reading pictures back ----------------------------------------------------------------- */
typedef struct picture {
    int w, h;
    long ink;     /* pixels that are not white */
    long train;   /* pixels of the train colour #1f77b4 */
    long test;    /* pixels of the test colour #ff7f0e */
    long green;   /* caption green */
    long red;     /* caption red */
} picture;

static bool close_to(int r, int g, int b, int R, int G, int B) {
    return abs(r - R) <= 12 && abs(g - G) <= 12 && abs(b - B) <= 12;
}

static bool picture_read(const char *path, picture *p) {
    memset(p, 0, sizeof *p);
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return false;
    }
    p->w = cairo_image_surface_get_width(s);
    p->h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    for (int y = 0; y < p->h; y++) {
        const uint32_t *row = (const uint32_t *)(const void *)(d + (size_t)y * stride);
        for (int x = 0; x < p->w; x++) {
            int r = row[x] >> 16 & 255, g = row[x] >> 8 & 255, b = row[x] & 255;
            if (r < 250 || g < 250 || b < 250) p->ink++;
            if (close_to(r, g, b, 31, 119, 180)) p->train++;
            if (close_to(r, g, b, 255, 127, 14)) p->test++;
            if (g > 110 && r < 70 && b < 70) p->green++;
            if (r > 170 && g < 70 && b < 70) p->red++;
        }
    }
    cairo_surface_destroy(s);
    return true;
}

static bool file_bytes(const char *path, unsigned char **data, long *n) {
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

static bool same_file(const char *path, const unsigned char *data, long n) {
    unsigned char *now;
    long m;
    if (!file_bytes(path, &now, &m)) return false;
    bool same = m == n && memcmp(now, data, (size_t)n) == 0;
    free(now);
    return same;
}

static int temp_files_left(void) {
    DIR *d = opendir(g_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

/* ---- curves -------------------------------------------------------------------------------- */
#define EPOCHS 15
static double tl[EPOCHS], vl[EPOCHS], ta[EPOCHS], va[EPOCHS];

static void make_curves(void) {
    for (int i = 0; i < EPOCHS; i++) {
        double e = i;
        tl[i] = 0.25 + 0.65 * exp(-e / 3.0);
        vl[i] = 0.30 + 0.42 * exp(-e / 2.5) + 0.002 * e * e / 4;
        ta[i] = 0.91 - 0.23 * exp(-e / 3.0);
        va[i] = 0.885 - 0.14 * exp(-e / 2.5) - 0.0004 * e;
    }
}

static void check_curves(void) {
    char path[128];
    picture p;
    path_in(path, sizeof path, "curves.png");
    nb_status st = nb_plot_curves(path, "Fashion-MNIST, LeNet-5", EPOCHS, tl, vl, ta, va);
    CHECK(st == NB_OK, "curves: %s", nb_last_error());
    CHECK(picture_read(path, &p), "%s reads back as a PNG", path);
    CHECK(p.w >= 1000 && p.w <= 1400 && p.h >= 400 && p.h <= 600, "size %d x %d", p.w, p.h);
    CHECK(p.ink > 5000 && p.ink < p.w * (long)p.h / 2, "ink %ld of %ld", p.ink,
          p.w * (long)p.h);
    CHECK(p.train > 300 && p.test > 300, "curve colours: train %ld, test %ld pixels", p.train,
          p.test);

    /* Without the test series its colour is absent: the colour check can fail. */
    st = nb_plot_curves(path, "train only", EPOCHS, tl, NULL, ta, NULL);
    CHECK(st == NB_OK && picture_read(path, &p), "train only: %s", nb_last_error());
    CHECK(p.train > 300 && p.test < 5, "train only: train %ld, test %ld pixels", p.train, p.test);

    /* One epoch; NaN and inf values; all-equal values; no data at all. */
    double one_l[1] = {0.7}, one_a[1] = {0.8};
    st = nb_plot_curves(path, "one epoch", 1, one_l, one_l, one_a, one_a);
    CHECK(st == NB_OK && picture_read(path, &p) && p.train > 20 && p.test > 20,
          "n = 1: %s (train %ld, test %ld)", nb_last_error(), p.train, p.test);
    double bad[6] = {1.0, NAN, 0.5, INFINITY, -INFINITY, 0.25};
    double acc[6] = {NAN, 0.5, 0.6, NAN, 0.7, 0.8};
    st = nb_plot_curves(path, "holes", 6, bad, bad, acc, acc);
    CHECK(st == NB_OK && picture_read(path, &p) && p.train > 50, "NaN/inf: %s",
          nb_last_error());
    double flat[5] = {0.5, 0.5, 0.5, 0.5, 0.5}, zero[5] = {0, 0, 0, 0, 0};
    st = nb_plot_curves(path, "flat", 5, flat, zero, flat, flat);
    CHECK(st == NB_OK && picture_read(path, &p) && p.train > 50, "all equal: %s",
          nb_last_error());
    double nans[3] = {NAN, NAN, NAN};
    st = nb_plot_curves(path, NULL, 3, nans, NULL, NULL, NULL);
    CHECK(st == NB_OK && picture_read(path, &p) && p.ink > 1000, "no finite data: %s",
          nb_last_error());
    double huge[4] = {1e12, 3e12, 2e12, 5e11}, tiny[4] = {1e-9, 3e-9, 2e-9, 0};
    st = nb_plot_curves(path, "extreme", 4, huge, huge, tiny, tiny);
    CHECK(st == NB_OK && picture_read(path, &p), "extreme values: %s", nb_last_error());
    double many_l[300], many_t[300], many_a[300], many_b[300];
    for (int i = 0; i < 300; i++) {
        many_l[i] = 1.0 / (1 + i * 0.05);
        many_t[i] = 1.2 / (1 + i * 0.03);
        many_a[i] = 1 - many_l[i] / 2;
        many_b[i] = 1 - many_t[i] / 2;
    }
    st = nb_plot_curves(path, "300 epochs", 300, many_l, many_t, many_a, many_b);
    CHECK(st == NB_OK && picture_read(path, &p) && p.train > 300 && p.test > 300,
          "300 epochs: %s (train %ld, test %ld)", nb_last_error(), p.train, p.test);
    CHECK(nb_plot_curves(path, "x", 0, tl, vl, ta, va) == NB_ERR_ARG, "n = 0 is refused");
    CHECK(nb_plot_curves(NULL, "x", 3, tl, vl, ta, va) == NB_ERR_ARG, "NULL path");
    CHECK(temp_files_left() == 0, "no temporary files are left behind");
}

/* ---- image grid ---------------------------------------------------------------------------- */
/* The first n test digits of the MNIST slice (28x28 each), or false. */
static bool load_digits(uint8_t *img, int64_t *labels, int n) {
    gzFile gi = gzopen("fixtures/mnist-small/t10k-images-idx3-ubyte.gz", "rb");
    gzFile gl = gzopen("fixtures/mnist-small/t10k-labels-idx1-ubyte.gz", "rb");
    unsigned char head[16], lab[64];
    bool ok = gi && gl && gzread(gi, head, 16) == 16 && gzread(gl, head, 8) == 8 &&
              gzread(gi, img, 784 * n) == 784 * n && gzread(gl, lab, n) == n;
    for (int i = 0; ok && i < n; i++) labels[i] = lab[i];
    if (gi) gzclose(gi);
    if (gl) gzclose(gl);
    return ok;
}

static void check_grid(void) {
    enum { N = 16 };
    uint8_t img[N * 784];
    int64_t truth[N], pred[N];
    bool have = load_digits(img, truth, N);
    CHECK(have, "MNIST slice in tests/fixtures/mnist-small");
    if (!have) return;
    const char *const *digits = nb_class_names("mnist");
    char path[128];
    picture p;
    path_in(path, sizeof path, "grid.png");

    memcpy(pred, truth, sizeof pred);
    nb_status st = nb_plot_image_grid(path, img, N, 28, 28, 8, pred, truth, digits);
    CHECK(st == NB_OK && picture_read(path, &p), "grid: %s", nb_last_error());
    CHECK(p.w >= 8 * 84 && p.h >= 2 * 84, "8 x 2 images scaled to 84 pixels: %d x %d", p.w, p.h);
    CHECK(p.ink > N * 500, "ink %ld", p.ink);
    CHECK(p.green > 50 && p.red == 0, "all right: green %ld, red %ld", p.green, p.red);

    pred[3] = (truth[3] + 1) % 10;
    pred[9] = (truth[9] + 4) % 10;
    st = nb_plot_image_grid(path, img, N, 28, 28, 8, pred, truth, digits);
    CHECK(st == NB_OK && picture_read(path, &p), "grid: %s", nb_last_error());
    CHECK(p.green > 50 && p.red > 10, "two wrong: green %ld, red %ld", p.green, p.red);

    st = nb_plot_image_grid(path, img, N, 28, 28, 5, pred, NULL, NULL);
    CHECK(st == NB_OK && picture_read(path, &p), "no truth: %s", nb_last_error());
    CHECK(p.green == 0 && p.red == 0 && p.ink > N * 500, "no truth: black captions (%ld, %ld)",
          p.green, p.red);

    /* Long class names, odd sizes, more columns than images. */
    const char *const *fashion = nb_class_names("fashion-mnist");
    uint8_t odd[3 * 20 * 33];
    for (int i = 0; i < 3 * 20 * 33; i++) odd[i] = (uint8_t)(i * 7);
    int64_t op[3] = {0, 9, 2}, ot[3] = {9, 9, 6};
    st = nb_plot_image_grid(path, odd, 3, 20, 33, 10, op, ot, fashion);
    CHECK(st == NB_OK && picture_read(path, &p) && p.red > 10 && p.green > 10,
          "odd sizes: %s", nb_last_error());
    CHECK(nb_plot_image_grid(path, img, 0, 28, 28, 4, pred, truth, digits) == NB_ERR_ARG,
          "n = 0 is refused");
    CHECK(nb_plot_image_grid(path, NULL, 2, 28, 28, 4, pred, truth, digits) == NB_ERR_ARG,
          "NULL images");
    CHECK(temp_files_left() == 0, "no temporary files are left behind");

    const char *samples = getenv("NABLA_PLOT_SAMPLES");
    if (samples) {
        char sp[512];
        snprintf(sp, sizeof sp, "%s/curves.png", samples);
        nb_plot_curves(sp, "Fashion-MNIST, LeNet-5", EPOCHS, tl, vl, ta, va);
        snprintf(sp, sizeof sp, "%s/grid.png", samples);
        nb_plot_image_grid(sp, img, N, 28, 28, 8, pred, truth, digits);
        snprintf(sp, sizeof sp, "%s/grid_fashion_names.png", samples);
        nb_plot_image_grid(sp, img, N, 28, 28, 8, pred, truth, fashion);
    }
}

/* ---- PNG input and output ------------------------------------------------------------------ */
static bool write_rgb(const char *path, int h, int w, const uint8_t *px, int format) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = (png_uint_32)format;
    return png_image_write_to_file(&im, path, 0, px, 0, NULL) != 0;
}

static void check_png(void) {
    char path[128], other[128];
    uint8_t px[28 * 28], back[28 * 28];
    for (int i = 0; i < 28 * 28; i++) px[i] = (uint8_t)(i * 37 + i / 28);
    path_in(path, sizeof path, "digit.png");
    CHECK(nb_png_write_gray(path, 28, 28, px) == NB_OK, "write: %s", nb_last_error());
    memset(back, 1, sizeof back);
    CHECK(nb_png_read_gray(path, 28, 28, back) == NB_OK, "read: %s", nb_last_error());
    CHECK(memcmp(px, back, sizeof px) == 0, "gray round trip is exact");

    /* RGB reads as gray: gray colours keep their value, white and black their ends. */
    uint8_t rgb[2 * 3 * 3] = {0, 0, 0, 255, 255, 255, 128, 128, 128,
                              77, 77, 77, 200, 200, 200, 255, 0, 0};
    path_in(other, sizeof other, "colour.png");
    CHECK(write_rgb(other, 2, 3, rgb, PNG_FORMAT_RGB), "libpng wrote %s", other);
    uint8_t g[6];
    CHECK(nb_png_read_gray(other, 2, 3, g) == NB_OK, "read RGB: %s", nb_last_error());
    CHECK(g[0] == 0 && g[1] == 255 && abs(g[2] - 128) <= 1 && abs(g[3] - 77) <= 1 &&
              abs(g[4] - 200) <= 1,
          "RGB as gray: %d %d %d %d %d", g[0], g[1], g[2], g[3], g[4]);
    CHECK(g[5] > 20 && g[5] < 140, "pure red is a dark gray: %d", g[5]);
    /* RGBA: transparent white is composited on black. */
    uint8_t rgba[4 * 2] = {255, 255, 255, 0, 255, 255, 255, 255};
    CHECK(write_rgb(other, 1, 2, rgba, PNG_FORMAT_RGBA), "libpng wrote RGBA");
    CHECK(nb_png_read_gray(other, 1, 2, g) == NB_OK, "read RGBA: %s", nb_last_error());
    CHECK(g[0] == 0 && g[1] == 255, "alpha on black: %d %d", g[0], g[1]);

    /* Errors name the file. */
    nb_status st = nb_png_read_gray(path, 32, 32, back);
    CHECK(st == NB_ERR_SHAPE && strstr(nb_last_error(), path) &&
              strstr(nb_last_error(), "28 x 28") && strstr(nb_last_error(), "32 x 32"),
          "wrong size (%d): %s", st, nb_last_error());
    path_in(other, sizeof other, "not.png");
    FILE *f = fopen(other, "w");
    fputs("this is not a PNG file\n", f);
    fclose(f);
    st = nb_png_read_gray(other, 28, 28, back);
    CHECK(st == NB_ERR_FORMAT && strstr(nb_last_error(), other), "not a PNG (%d): %s", st,
          nb_last_error());
    unsigned char *data;
    long n;
    CHECK(file_bytes(path, &data, &n), "read %s", path);
    path_in(other, sizeof other, "cut.png");
    f = fopen(other, "wb");
    fwrite(data, 1, (size_t)n / 2, f);
    fclose(f);
    free(data);
    st = nb_png_read_gray(other, 28, 28, back);
    CHECK(st == NB_ERR_FORMAT && strstr(nb_last_error(), other), "truncated PNG (%d): %s", st,
          nb_last_error());
    path_in(other, sizeof other, "missing.png");
    st = nb_png_read_gray(other, 28, 28, back);
    CHECK(st == NB_ERR_IO && strstr(nb_last_error(), other), "missing (%d): %s", st,
          nb_last_error());
    CHECK(nb_png_read_gray(path, 0, 28, back) == NB_ERR_ARG, "h = 0");

    /* Issue 10: a 41-byte file, the signature, a 28x28 IHDR and the header of a tEXt chunk
     * declaring 0x7fffffff bytes, made libpng allocate 2 GB. It must fail at once, naming the
     * file and the chunk, with the process's peak memory unchanged (well under 100 MB). */
    static const unsigned char evil[41] = {
        0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
        0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 0, 28, 0, 0, 0, 28, 8, 0, 0, 0, 0,
        0x57, 0x66, 0x80, 0x48, /* CRC of IHDR */
        0x7f, 0xff, 0xff, 0xff, 't', 'E', 'X', 't'};
    path_in(other, sizeof other, "text2g.png");
    f = fopen(other, "wb");
    fwrite(evil, 1, sizeof evil, f);
    fclose(f);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    st = nb_png_read_gray(other, 28, 28, back);
    getrusage(RUSAGE_SELF, &ru1);
    CHECK(st == NB_ERR_FORMAT && strstr(nb_last_error(), other) && strstr(nb_last_error(), "tEXt"),
          "2 GB tEXt (%d): %s", st, nb_last_error());
    CHECK(ru1.ru_maxrss - ru0.ru_maxrss < 100 * 1024, "the 41-byte PNG raised the peak memory by %ld KB",
          ru1.ru_maxrss - ru0.ru_maxrss);

    /* A PNG without IEND (the last 12 bytes cut) was accepted. */
    CHECK(file_bytes(path, &data, &n), "read %s", path);
    path_in(other, sizeof other, "noiend.png");
    f = fopen(other, "wb");
    fwrite(data, 1, (size_t)n - 12, f);
    fclose(f);
    free(data);
    st = nb_png_read_gray(other, 28, 28, back);
    CHECK(st == NB_ERR_FORMAT && strstr(nb_last_error(), other) && strstr(nb_last_error(), "IEND"),
          "no IEND (%d): %s", st, nb_last_error());
}

/* ---- failed writes ------------------------------------------------------------------------- */
static void check_failed_writes(void) {
    char path[160], blocker[192];
    uint8_t px[16 * 16] = {0};
    int64_t p1[1] = {1};

    /* A folder that does not exist, and a "folder" that is a regular file (fails as root). */
    path_in(path, sizeof path, "no/such/folder/x.png");
    nb_status st = nb_png_write_gray(path, 16, 16, px);
    CHECK(st == NB_ERR_IO && strstr(nb_last_error(), path), "missing folder: %s",
          nb_last_error());
    st = nb_plot_curves(path, "t", EPOCHS, tl, vl, ta, va);
    CHECK(st == NB_ERR_IO && strstr(nb_last_error(), path), "curves, missing folder: %s",
          nb_last_error());
    path_in(path, sizeof path, "digit.png/x.png");
    st = nb_plot_image_grid(path, px, 1, 16, 16, 1, p1, p1, NULL);
    CHECK(st == NB_ERR_IO && strstr(nb_last_error(), path), "parent is a file: %s",
          nb_last_error());

    /* An existing picture survives a failed write: a folder sits where the temporary file
     * "<path>.tmp.<pid>" must go, so creating it fails even for root. */
    path_in(path, sizeof path, "keep.png");
    CHECK(nb_plot_curves(path, "first", EPOCHS, tl, vl, ta, va) == NB_OK, "first write: %s",
          nb_last_error());
    unsigned char *before;
    long n;
    CHECK(file_bytes(path, &before, &n), "read %s", path);
    snprintf(blocker, sizeof blocker, "%s.tmp.%ld", path, (long)getpid());
    CHECK(mkdir(blocker, 0700) == 0, "mkdir %s", blocker);
    st = nb_plot_curves(path, "second", 3, tl, vl, ta, va);
    CHECK(st == NB_ERR_IO && strstr(nb_last_error(), path), "blocked curves: %s",
          nb_last_error());
    CHECK(same_file(path, before, n), "curves: the old file is intact");
    st = nb_plot_image_grid(path, px, 1, 16, 16, 1, p1, p1, NULL);
    CHECK(st == NB_ERR_IO && same_file(path, before, n), "grid: the old file is intact: %s",
          nb_last_error());
    st = nb_png_write_gray(path, 16, 16, px);
    CHECK(st == NB_ERR_IO && same_file(path, before, n), "png: the old file is intact: %s",
          nb_last_error());
    CHECK(rmdir(blocker) == 0, "the blocking folder was left alone");
    free(before);
    /* Once unblocked, the write replaces the file. */
    CHECK(nb_png_write_gray(path, 16, 16, px) == NB_OK, "unblocked: %s", nb_last_error());
    uint8_t back[16 * 16];
    CHECK(nb_png_read_gray(path, 16, 16, back) == NB_OK && back[0] == 0, "replaced");
    CHECK(temp_files_left() == 0, "no temporary files are left behind");
}

static void remove_dir(void) {
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

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/nabla_plot_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    make_curves();
    check_curves();
    check_grid();
    check_png();
    check_failed_writes();
    remove_dir();
    /* Let cairo drop its font caches, so that LeakSanitizer sees only real leaks. */
    cairo_debug_reset_static_data();
    return test_end("test_plot");
}
