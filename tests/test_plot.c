/* Pictures: curves, image grids, float image grids, scatter plots and series panels are
 * written into a temporary folder, read back with cairo and checked for size, ink and colours
 * where they belong (curves, captions, classes, the exact grays of mapped values), and the
 * errors (bad arguments name the function and the value; an unwritable path is named and an
 * existing file left intact). Reading PNGs: test_png.c.
 * With NABLA_PLOT_SAMPLES=<folder> set, sample pictures are also written there to look at. */
#define _POSIX_C_SOURCE 200809L
#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "nabla/nabla.h"
#include "tmpdir.h"

/* fontconfig (under cairo's text) keeps 288 bytes it never frees, once per process, whatever
 * is drawn; LeakSanitizer would fail the sanitizer build for it. Read only under ASan. */
const char *__lsan_default_suppressions(void);
__attribute__((used)) const char *__lsan_default_suppressions(void) {
    return "leak:libfontconfig.so\n";
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

/* ---- pixels -------------------------------------------------------------------------------- */
typedef struct pixels {
    int w, h;
    uint32_t *px; /* (H, W) xRGB */
} pixels;

static bool pixels_read(const char *path, pixels *p) {
    p->px = NULL;
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    bool ok = cairo_surface_status(s) == CAIRO_STATUS_SUCCESS;
    if (ok) {
        p->w = cairo_image_surface_get_width(s);
        p->h = cairo_image_surface_get_height(s);
        int stride = cairo_image_surface_get_stride(s);
        const unsigned char *d = cairo_image_surface_get_data(s);
        p->px = malloc((size_t)p->w * p->h * 4);
        for (int y = 0; y < p->h; y++)
            for (int x = 0; x < p->w; x++)
                p->px[(size_t)y * p->w + x] =
                    ((const uint32_t *)(const void *)(d + (size_t)y * stride))[x] & 0xffffffu;
    }
    cairo_surface_destroy(s);
    return ok;
}

static int gray_at(const pixels *p, int x, int y) { /* the red channel; -1 when not gray */
    uint32_t v = p->px[(size_t)y * p->w + x];
    int r = v >> 16 & 255, g = v >> 8 & 255, b = v & 255;
    return r == g && g == b ? r : -1;
}

/* Pixels in [x0, x1) x [y0, y1) within tolerance 12 of colour (R, G, B). */
static long count_rgb(const pixels *p, int x0, int y0, int x1, int y1, int R, int G, int B) {
    long c = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < p->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < p->w; x++) {
            uint32_t v = p->px[(size_t)y * p->w + x];
            c += close_to(v >> 16 & 255, v >> 8 & 255, v & 255, R, G, B);
        }
    return c;
}

/* Pixels of a scatter dot of colour (R, G, B) in the box: the colour itself where dots
 * overlap, or the colour at alpha 0.7 on white where one lies alone. */
static long count_dot(const pixels *p, int x0, int y0, int x1, int y1, int R, int G, int B) {
    return count_rgb(p, x0, y0, x1, y1, R, G, B) +
           count_rgb(p, x0, y0, x1, y1, (7 * R + 765) / 10, (7 * G + 765) / 10, (7 * B + 765) / 10);
}

/* Pixels in the box darker than text gray (all channels < 80): text, not grid or frame. */
static long count_dark(const pixels *p, int x0, int y0, int x1, int y1) {
    long c = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < p->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < p->w; x++) {
            uint32_t v = p->px[(size_t)y * p->w + x];
            c += (v >> 16 & 255) < 80 && (v >> 8 & 255) < 80 && (v & 255) < 80;
        }
    return c;
}

/* A bad argument: NB_ERR_ARG with the function's name and the bad value in the message. */
static void expect_arg(nb_status st, const char *fn, const char *value, const char *what) {
    CHECK(st == NB_ERR_ARG && strstr(nb_last_error(), fn) && strstr(nb_last_error(), value),
          "%s: %s: status %d: %s", fn, what, st, nb_last_error());
}

/* ---- float image grids --------------------------------------------------------------------- */
/* The picture of nb_plot_images without title and row labels, as documented: zoom z is the
 * smallest >= 1 with c*w*z + 2*(c-1) >= 560, at most 8 (c = min(cols, n)); a 2-pixel gap
 * between images and a 10-pixel margin. */
static void images_size(int n, int h, int w, int cols, int *z, int *pw, int *ph) {
    int c = cols < n ? cols : n, rows = (n + c - 1) / c;
    for (*z = 1; *z < 8 && c * w * *z + 2 * (c - 1) < 560; ++*z) {}
    *pw = c * w * *z + 2 * (c - 1) + 20;
    *ph = rows * h * *z + 2 * (rows - 1) + 20;
}

static void check_images(void) {
    enum { N = 16, S = 28, COLS = 8 };
    static float x[N * S * S];
    const float lo = -1.0f, hi = 3.0f;
    char path[128];
    pixels p;
    path_in(path, sizeof path, "images.png");

    /* All lo: black exactly where the images lie, white gaps between them. */
    for (int i = 0; i < N * S * S; i++) x[i] = lo;
    nb_status st = nb_plot_images(path, x, N, S, S, COLS, lo, hi, NULL, NULL);
    CHECK(st == NB_OK && pixels_read(path, &p), "images: %s", nb_last_error());
    if (!p.px) return;
    int z, pw, ph;
    images_size(N, S, S, COLS, &z, &pw, &ph);
    CHECK(z == 3 && p.w == pw && p.h == ph, "size %d x %d, expected %d x %d (zoom %d)", p.w, p.h,
          pw, ph, z);
    int bx0 = p.w, by0 = p.h, bx1 = -1, by1 = -1;
    long black = 0;
    for (int y = 0; y < p.h; y++)
        for (int xx = 0; xx < p.w; xx++)
            if (gray_at(&p, xx, y) == 0) {
                black++;
                if (xx < bx0) bx0 = xx;
                if (xx > bx1) bx1 = xx;
                if (y < by0) by0 = y;
                if (y > by1) by1 = y;
            }
    int cell = S * z + 2; /* image and gap */
    CHECK(black == (long)N * S * z * S * z, "black pixels %ld = %d images of %d^2", black, N,
          S * z);
    CHECK(bx0 == 10 && by0 == 10 && bx1 - bx0 + 1 == COLS * cell - 2 &&
              by1 - by0 + 1 == 2 * cell - 2,
          "the black grid spans (%d, %d)..(%d, %d)", bx0, by0, bx1, by1);
    bool gaps_white = true;
    for (int y = by0; y <= by1; y++)
        for (int g = 1; g < COLS; g++)
            gaps_white &= gray_at(&p, bx0 + g * cell - 2, y) == 255 &&
                          gray_at(&p, bx0 + g * cell - 1, y) == 255;
    CHECK(gaps_white, "2-pixel white gaps between the columns");
    free(p.px);

    /* Image 1 all hi (white); image 0 holds the clamping and the mapping at known pixels. */
    for (int i = 0; i < S * S; i++) x[S * S + i] = hi;
    float probe[8] = {lo - 5, hi + 5, 0.0f, NAN, INFINITY, -INFINITY, 1.0f, hi};
    int want[8] = {0, 255, 64, 0, 255, 0, 128, 255}; /* 255 * (v - lo) / (hi - lo) */
    memcpy(x, probe, sizeof probe);
    st = nb_plot_images(path, x, N, S, S, COLS, lo, hi, NULL, NULL);
    CHECK(st == NB_OK && pixels_read(path, &p), "images: %s", nb_last_error());
    if (!p.px) return;
    long white = 0;
    for (int y = 0; y < S * z; y++)
        for (int xx = 0; xx < S * z; xx++) white += gray_at(&p, bx0 + cell + xx, by0 + y) == 255;
    CHECK(white == (long)S * z * S * z, "the all-hi image is white: %ld of %d", white, S * z * S * z);
    for (int k = 0; k < 8; k++) {
        int g = gray_at(&p, bx0 + k * z + z / 2, by0 + z / 2);
        CHECK(g >= want[k] - 1 && g <= want[k] + 1, "value %g in [%g, %g]: gray %d, expected %d",
              (double)probe[k], (double)lo, (double)hi, g, want[k]);
    }
    CHECK(gray_at(&p, bx0 + 8 * z + 1, by0 + 1) == 0, "the rest of image 0 is lo, black");
    free(p.px);

    /* Sizes: the zoom cap (8), more columns than images, one column. */
    int shapes[4][4] = {{3, 4, 4, 3}, {2, 10, 6, 5}, {5, 9, 30, 1}, {7, 28, 28, 3}};
    for (int k = 0; k < 4; k++) {
        int n = shapes[k][0], h = shapes[k][1], w = shapes[k][2], cols = shapes[k][3];
        st = nb_plot_images(path, x, n, h, w, cols, lo, hi, NULL, NULL);
        images_size(n, h, w, cols, &z, &pw, &ph);
        CHECK(st == NB_OK && pixels_read(path, &p) && p.w == pw && p.h == ph,
              "%d images of %d x %d in %d columns: %d x %d, expected %d x %d (%s)", n, h, w, cols,
              p.w, p.h, pw, ph, nb_last_error());
        free(p.px);
    }

    /* A title above, labels at the left of rows 0 and 2 (row 1's is NULL). */
    const char *labels[3] = {"original", NULL, "reconstructed"};
    st = nb_plot_images(path, x, N, S, S, 6, lo, hi, "Autoencoder, epoch 5", labels);
    CHECK(st == NB_OK && pixels_read(path, &p), "title and labels: %s", nb_last_error());
    if (!p.px) return;
    images_size(N, S, S, 6, &z, &pw, &ph);
    int gx0 = p.w - (pw - 10), gy0 = p.h - (ph - 10), row_h = S * z + 2;
    CHECK(gx0 > 60 && gy0 > 30, "the grid moves right and down: it starts at (%d, %d)", gx0, gy0);
    CHECK(gray_at(&p, gx0, gy0 + 1) == 0 && gray_at(&p, gx0 - 1, gy0 + 1) == 255,
          "image 0 starts at (%d, %d)", gx0, gy0);
    CHECK(count_dark(&p, 0, 0, p.w, gy0 - 2) > 100, "title ink");
    CHECK(count_dark(&p, 0, gy0, gx0 - 1, gy0 + row_h - 2) > 60, "label of row 0");
    CHECK(count_dark(&p, 0, gy0 + row_h, gx0 - 1, gy0 + 2 * row_h - 2) == 0, "no label for row 1");
    CHECK(count_dark(&p, 0, gy0 + 2 * row_h, gx0 - 1, gy0 + 3 * row_h - 2) > 60, "label of row 2");
    free(p.px);
    st = nb_plot_images(path, NULL, 0, S, S, 4, lo, hi, "nothing", NULL);
    CHECK(st == NB_OK && picture_read(path, &(picture){0}), "n = 0: %s", nb_last_error());

    /* Bad arguments name the function and the value. */
    expect_arg(nb_plot_images(NULL, x, N, S, S, COLS, lo, hi, NULL, NULL), "nb_plot_images",
               "path", "NULL path");
    expect_arg(nb_plot_images(path, NULL, N, S, S, COLS, lo, hi, NULL, NULL), "nb_plot_images",
               "x is NULL", "NULL x");
    expect_arg(nb_plot_images(path, x, -2, S, S, COLS, lo, hi, NULL, NULL), "nb_plot_images",
               "-2", "n < 0");
    expect_arg(nb_plot_images(path, x, N, 0, S, COLS, lo, hi, NULL, NULL), "nb_plot_images",
               "0 x 28", "h = 0");
    expect_arg(nb_plot_images(path, x, N, S, 0, COLS, lo, hi, NULL, NULL), "nb_plot_images",
               "28 x 0", "w = 0");
    expect_arg(nb_plot_images(path, x, 1, 4097, 1, 1, lo, hi, NULL, NULL), "nb_plot_images",
               "4097", "h > 4096");
    expect_arg(nb_plot_images(path, x, 1, 1, 5000, 1, lo, hi, NULL, NULL), "nb_plot_images",
               "5000", "w > 4096");
    expect_arg(nb_plot_images(path, x, N, S, S, 0, lo, hi, NULL, NULL), "nb_plot_images",
               "cols is 0", "cols = 0");
    expect_arg(nb_plot_images(path, x, N, S, S, COLS, hi, hi, NULL, NULL), "nb_plot_images",
               "[3, 3]", "lo = hi");
    expect_arg(nb_plot_images(path, x, N, S, S, COLS, hi, lo, NULL, NULL), "nb_plot_images",
               "[3, -1]", "lo > hi");
    expect_arg(nb_plot_images(path, x, N, S, S, COLS, NAN, hi, NULL, NULL), "nb_plot_images",
               "nan", "lo NaN");
    expect_arg(nb_plot_images(path, x, N, S, S, COLS, lo, INFINITY, NULL, NULL),
               "nb_plot_images", "inf", "hi inf");
    /* Over 16384 pixels: 600 images of 28 in one column at zoom 8, four 4096-wide images in
     * a row (x is not read). */
    expect_arg(nb_plot_images(path, x, 600, S, S, 1, lo, hi, NULL, NULL), "nb_plot_images",
               "16384", "too tall");
    expect_arg(nb_plot_images(path, x, 4, 1, 4096, 4, lo, hi, NULL, NULL), "nb_plot_images",
               "16384", "too wide");
    CHECK(temp_files_left() == 0, "no temporary files are left behind");
}

/* ---- scatter ------------------------------------------------------------------------------- */
/* n points in k blobs around a circle, point i of class i % k (xy (n, 2)); seeded. */
static void blobs(float *xy, int64_t *lab, int n, int k) {
    uint64_t r = 12345;
    for (int i = 0; i < n; i++) {
        double u[2];
        for (int j = 0; j < 2; j++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            u[j] = (double)(r >> 11) / 9007199254740992.0;
        }
        lab[i] = i % k;
        double a = 2 * 3.14159265358979 * (double)(i % k) / k, rad = 2.2 * sqrt(u[0]);
        xy[2 * i] = (float)(5 * cos(a) + rad * cos(6.283 * u[1]));
        xy[2 * i + 1] = (float)(5 * sin(a) + rad * sin(6.283 * u[1]));
    }
}

static void check_scatter(void) {
    enum { M = 40, A = 2 * M + 2 }; /* two clusters, two anchors, A + 8 points in all */
    static float xy[2 * (A + 8)];
    static int64_t lab[A + 8];
    /* Class 0 at (0, 0), class 1 at (10, 10) and class 2 at (-10, -10) and (20, 20): the axes
     * fit -10..20 with a margin, so class 0 lies in the lower left of the middle of the plot,
     * class 1 in its upper right, class 2 near the corners; the legend is right of the plot. */
    for (int i = 0; i < 2 * M; i++) {
        xy[2 * i] = xy[2 * i + 1] = i < M ? 0.0f : 10.0f;
        lab[i] = i < M ? 0 : 1;
    }
    xy[2 * (2 * M)] = xy[2 * (2 * M) + 1] = -10.0f;
    xy[2 * A - 2] = xy[2 * A - 1] = 20.0f;
    lab[2 * M] = lab[2 * M + 1] = 2;
    const char *names[3] = {"zero", "one", "two"};
    char path[128];
    pixels p;
    path_in(path, sizeof path, "scatter.png");
    nb_status st = nb_plot_scatter(path, "two clusters", "z1", "z2", A, xy, lab, 3, names);
    CHECK(st == NB_OK && pixels_read(path, &p), "scatter: %s", nb_last_error());
    if (!p.px) return;
    CHECK(p.w >= 600 && p.h >= 400, "size %d x %d", p.w, p.h);
    int W = p.w, H = p.h;
    long blue_ll = count_rgb(&p, W / 5, H / 2, W / 2, H, 31, 119, 180);
    long blue_ur = count_rgb(&p, W / 2, 0, W * 7 / 10, H / 2, 31, 119, 180);
    long orange_ur = count_rgb(&p, W / 2, 0, W * 7 / 10, H / 2, 255, 127, 14);
    long orange_ll = count_rgb(&p, W / 5, H / 2, W / 2, H, 255, 127, 14);
    long green = count_dot(&p, 0, 0, W * 7 / 10, H, 44, 160, 44);
    CHECK(green > 10, "class 2 (green): %ld pixels", green);
    CHECK(blue_ll > 10 && orange_ur > 10 && blue_ur == 0 && orange_ll == 0,
          "class 0 (blue) at the bottom left: %ld, not top right: %ld; class 1 (orange) at the "
          "top right: %ld, not bottom left: %ld",
          blue_ll, blue_ur, orange_ur, orange_ll);
    long legend_text = count_dark(&p, W * 8 / 10, 0, W - 1, H / 3);
    long legend_blue = count_rgb(&p, W * 8 / 10, 0, W - 1, H / 3, 31, 119, 180);
    long legend_orange = count_rgb(&p, W * 8 / 10, 0, W - 1, H / 3, 255, 127, 14);
    CHECK(legend_text > 80 && legend_blue > 10 && legend_orange > 10,
          "legend at the top right: text %ld, markers %ld and %ld pixels", legend_text,
          legend_blue, legend_orange);
    /* Inside the plot, where no text is (antialiased text has every gray). */
    long grey = count_rgb(&p, W / 5, H / 10, W * 7 / 10, H * 85 / 100, 179, 179, 179);
    CHECK(grey == 0, "no grey without labels outside the classes: %ld", grey);
    free(p.px);

    /* Labels outside 0..2 are grey ("other" in the legend); NaN and inf points are skipped,
     * so the axes and the clusters stay where they were. */
    for (int i = A; i < A + 8; i++) {
        xy[2 * i] = 5.0f;
        xy[2 * i + 1] = i % 2 ? 2.0f : 8.0f;
        lab[i] = i % 3 ? 7 : -1;
    }
    xy[2 * (A + 6)] = NAN;
    xy[2 * (A + 7) + 1] = INFINITY;
    lab[A + 7] = 0; /* would be blue somewhere else if drawn */
    st = nb_plot_scatter(path, NULL, NULL, NULL, A + 8, xy, lab, 3, NULL);
    CHECK(st == NB_OK && pixels_read(path, &p), "scatter: %s", nb_last_error());
    if (!p.px) return;
    grey = count_rgb(&p, W / 5, H / 10, W * 7 / 10, H * 85 / 100, 179, 179, 179);
    blue_ll = count_rgb(&p, W / 5, H / 2, W / 2, H, 31, 119, 180);
    orange_ur = count_rgb(&p, W / 2, 0, W * 7 / 10, H / 2, 255, 127, 14);
    CHECK(grey > 20 && blue_ll > 10 && orange_ur > 10, "grey %ld, blue %ld, orange %ld", grey,
          blue_ll, orange_ur);
    free(p.px);

    /* No legend without classes: the same region is blank. */
    st = nb_plot_scatter(path, NULL, NULL, NULL, 0, NULL, NULL, 0, NULL);
    CHECK(st == NB_OK && pixels_read(path, &p), "n = 0: %s", nb_last_error());
    if (!p.px) return;
    legend_text = count_dark(&p, W * 8 / 10, 0, W - 1, H / 3);
    CHECK(legend_text == 0, "n = 0: no legend (%ld dark pixels)", legend_text);
    free(p.px);

    /* 10,000 points of 12 classes: every class colour shows. */
    enum { BIG = 10000, K = 12 };
    static float big[2 * BIG];
    static int64_t big_lab[BIG];
    blobs(big, big_lab, BIG, K);
    st = nb_plot_scatter(path, "10,000 points", "x", "y", BIG, big, big_lab, K, NULL);
    CHECK(st == NB_OK && pixels_read(path, &p), "10,000 points: %s", nb_last_error());
    if (!p.px) return;
    int palette[K][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                         {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                         {188, 189, 34}, {23, 190, 207}, {174, 199, 232}, {255, 187, 120}};
    for (int k = 0; k < K; k++) {
        long c = count_dot(&p, 0, 0, W * 7 / 10, H, palette[k][0], palette[k][1], palette[k][2]);
        CHECK(c > 50, "class %d's colour: %ld pixels", k, c);
    }
    free(p.px);

    expect_arg(nb_plot_scatter(NULL, NULL, NULL, NULL, 2, xy, lab, 3, NULL), "nb_plot_scatter",
               "path", "NULL path");
    expect_arg(nb_plot_scatter(path, NULL, NULL, NULL, -1, xy, lab, 3, NULL), "nb_plot_scatter",
               "-1", "n < 0");
    expect_arg(nb_plot_scatter(path, NULL, NULL, NULL, 2, NULL, lab, 3, NULL),
               "nb_plot_scatter", "xy is NULL", "NULL xy");
    expect_arg(nb_plot_scatter(path, NULL, NULL, NULL, 2, xy, NULL, 3, NULL),
               "nb_plot_scatter", "label is NULL", "NULL label");
    expect_arg(nb_plot_scatter(path, NULL, NULL, NULL, 2, xy, lab, -3, NULL),
               "nb_plot_scatter", "-3", "n_classes < 0");
    CHECK(temp_files_left() == 0, "no temporary files are left behind");
}

/* ---- series in panels ---------------------------------------------------------------------- */
#define PTS 30
static double s_loss[3][PTS], s_acc[PTS], s_nan[PTS];

static void make_series(void) {
    for (int i = 0; i < PTS; i++) {
        s_loss[0][i] = 0.2 + 0.8 * exp(-i / 6.0);
        s_loss[1][i] = 0.3 + 0.7 * exp(-i / 5.0) + 0.004 * i;
        s_loss[2][i] = i % 5 == 4 ? 0.35 + 0.6 * exp(-i / 5.0) : NAN; /* every 5th epoch */
        s_acc[i] = 0.95 - 0.5 * exp(-i / 4.0);
        s_nan[i] = NAN;
    }
    s_acc[12] = s_acc[13] = NAN; /* a gap */
}

static void check_series(void) {
    make_series();
    nb_plot_panel panels[2] = {
        {"loss", 3, {"train", "validation", "test"}, {s_loss[0], s_loss[1], s_loss[2]}},
        {"accuracy", 1, {"train"}, {s_acc}},
    };
    nb_plot_panel empty[2] = {
        {"loss", 3, {"train", "validation", "test"}, {s_nan, s_nan, s_nan}},
        {"accuracy", 1, {"train"}, {s_nan}},
    };
    char path[128];
    pixels a, b;
    path_in(path, sizeof path, "series.png");
    nb_status st = nb_plot_series(path, "VAE on MNIST", 2, panels, PTS);
    CHECK(st == NB_OK && pixels_read(path, &a), "series: %s", nb_last_error());
    st = nb_plot_series(path, "VAE on MNIST", 2, empty, PTS);
    CHECK(st == NB_OK && pixels_read(path, &b), "all NaN: %s", nb_last_error());
    if (!a.px || !b.px) return;
    CHECK(a.w == 1200 && a.h == 500 && b.w == a.w && b.h == a.h, "size %d x %d", a.w, a.h);
    long diff = 0;
    for (size_t i = 0; i < (size_t)a.w * a.h; i++) diff += a.px[i] != b.px[i];
    CHECK(diff > 3000, "the series change %ld pixels against all NaN", diff);
    /* Series colours in order: blue, orange, green; the all-NaN picture has them only in the
     * legend. */
    long ca[3], cb[3];
    int cols[3][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}};
    for (int k = 0; k < 3; k++) {
        ca[k] = count_rgb(&a, 0, 0, a.w / 2, a.h, cols[k][0], cols[k][1], cols[k][2]);
        cb[k] = count_rgb(&b, 0, 0, b.w / 2, b.h, cols[k][0], cols[k][1], cols[k][2]);
        CHECK(ca[k] > cb[k] + 40 && cb[k] < 120 && cb[k] > 20,
              "series %d: %ld pixels drawn, %ld in the all-NaN legend", k, ca[k], cb[k]);
    }
    free(a.px);
    free(b.px);

    /* One panel, four panels, no points, a panel without series. */
    nb_plot_panel four[4] = {panels[0], panels[1], {NULL, 0, {NULL}, {NULL}},
                             {"two", 2, {NULL, "b"}, {s_acc, s_loss[0]}}};
    int widths[4] = {700, 1200, 1800, 2400};
    for (int np = 1; np <= 4; np++) {
        st = nb_plot_series(path, NULL, np, four, PTS);
        CHECK(st == NB_OK && pixels_read(path, &a) && a.w == widths[np - 1] && a.h == 500,
              "%d panels: %d x %d: %s", np, a.w, a.h, nb_last_error());
        free(a.px);
    }
    nb_plot_panel none[1] = {{"loss", 2, {"a", "b"}, {NULL, NULL}}};
    st = nb_plot_series(path, "no points", 1, none, 0);
    CHECK(st == NB_OK && picture_read(path, &(picture){0}), "n_points = 0: %s", nb_last_error());

    expect_arg(nb_plot_series(NULL, NULL, 2, panels, PTS), "nb_plot_series", "path", "NULL path");
    expect_arg(nb_plot_series(path, NULL, 2, NULL, PTS), "nb_plot_series", "panels is NULL",
               "NULL panels");
    expect_arg(nb_plot_series(path, NULL, 0, panels, PTS), "nb_plot_series", "0 panels",
               "no panels");
    expect_arg(nb_plot_series(path, NULL, 5, four, PTS), "nb_plot_series", "5 panels",
               "5 panels");
    expect_arg(nb_plot_series(path, NULL, 2, panels, -1), "nb_plot_series", "-1", "n_points < 0");
    nb_plot_panel bad = panels[0];
    bad.n_series = 5;
    expect_arg(nb_plot_series(path, NULL, 1, &bad, PTS), "nb_plot_series", "n_series is 5",
               "5 series");
    bad.n_series = -1;
    expect_arg(nb_plot_series(path, NULL, 1, &bad, PTS), "nb_plot_series", "n_series is -1",
               "-1 series");
    bad.n_series = 3;
    bad.y[1] = NULL;
    expect_arg(nb_plot_series(path, NULL, 1, &bad, PTS), "nb_plot_series", "y[1] is NULL",
               "NULL series");
    CHECK(temp_files_left() == 0, "no temporary files are left behind");
}

/* Sample pictures of the three to look at (NABLA_PLOT_SAMPLES=<folder>): MNIST digits over a
 * blurred copy, 10,000 points in the ten Fashion-MNIST classes, and series in two panels. */
static void write_samples(const char *dir) {
    char sp[512];
    enum { N = 8 };
    uint8_t img[N * 784];
    int64_t truth[N];
    static float x[2 * N * 784]; /* (2N, 28, 28): originals, then blurred */
    if (load_digits(img, truth, N)) {
        for (int i = 0; i < N * 784; i++) x[i] = img[i] / 255.0f;
        for (int i = 0; i < N; i++)
            for (int y = 0; y < 28; y++)
                for (int xx = 0; xx < 28; xx++) {
                    float s = 0;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++) {
                            int yy = y + dy < 0 ? 0 : y + dy > 27 ? 27 : y + dy;
                            int xc = xx + dx < 0 ? 0 : xx + dx > 27 ? 27 : xx + dx;
                            s += x[i * 784 + yy * 28 + xc];
                        }
                    x[(N + i) * 784 + y * 28 + xx] = s / 9 * 1.2f - 0.1f; /* a little out of range */
                }
        const char *rows[2] = {"original", "reconstructed"};
        snprintf(sp, sizeof sp, "%s/images.png", dir);
        CHECK(nb_plot_images(sp, x, 2 * N, 28, 28, N, 0, 1, "Autoencoder, epoch 10", rows) == NB_OK,
              "sample %s: %s", sp, nb_last_error());
    }
    enum { BIG = 10000 };
    static float xy[2 * BIG];
    static int64_t lab[BIG];
    blobs(xy, lab, BIG, 10);
    lab[17] = 12; /* one point of no class: "other" */
    snprintf(sp, sizeof sp, "%s/scatter.png", dir);
    CHECK(nb_plot_scatter(sp, "Latent space (10,000 test images)", "z1", "z2", BIG, xy, lab, 10,
                          nb_class_names("fashion-mnist")) == NB_OK,
          "sample %s: %s", sp, nb_last_error());
    make_series();
    nb_plot_panel panels[2] = {
        {"loss", 3, {"train", "validation", "test"}, {s_loss[0], s_loss[1], s_loss[2]}},
        {"accuracy", 1, {"train"}, {s_acc}},
    };
    snprintf(sp, sizeof sp, "%s/series.png", dir);
    CHECK(nb_plot_series(sp, "VAE on MNIST", 2, panels, PTS) == NB_OK, "sample %s: %s", sp,
          nb_last_error());
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
    float fx[4] = {0};
    float fxy[4] = {0, 0, 1, 1};
    int64_t flab[2] = {0, 1};
    nb_plot_panel fpanel = {"loss", 1, {"train"}, {tl}};
    st = nb_plot_images(path, fx, 1, 2, 2, 1, 0, 1, NULL, NULL);
    CHECK(st == NB_ERR_IO && strstr(nb_last_error(), path) && strstr(nb_last_error(), strerror(ENOENT)),
          "images, missing folder: %s", nb_last_error());
    st = nb_plot_scatter(path, NULL, NULL, NULL, 2, fxy, flab, 2, NULL);
    CHECK(st == NB_ERR_IO && strstr(nb_last_error(), path) && strstr(nb_last_error(), strerror(ENOENT)),
          "scatter, missing folder: %s", nb_last_error());
    st = nb_plot_series(path, NULL, 1, &fpanel, EPOCHS);
    CHECK(st == NB_ERR_IO && strstr(nb_last_error(), path) && strstr(nb_last_error(), strerror(ENOENT)),
          "series, missing folder: %s", nb_last_error());
    CHECK(temp_files_left() == 0, "no temporary files are left behind");
    path_in(path, sizeof path, "file.png");
    CHECK(nb_png_write_gray(path, 16, 16, px) == NB_OK, "write %s: %s", path, nb_last_error());
    path_in(path, sizeof path, "file.png/x.png");
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
    st = nb_plot_images(path, fx, 1, 2, 2, 1, 0, 1, NULL, NULL);
    CHECK(st == NB_ERR_IO && strstr(nb_last_error(), path) && same_file(path, before, n),
          "images: the old file is intact: %s", nb_last_error());
    st = nb_plot_scatter(path, NULL, NULL, NULL, 2, fxy, flab, 2, NULL);
    CHECK(st == NB_ERR_IO && strstr(nb_last_error(), path) && same_file(path, before, n),
          "scatter: the old file is intact: %s", nb_last_error());
    st = nb_plot_series(path, NULL, 1, &fpanel, EPOCHS);
    CHECK(st == NB_ERR_IO && strstr(nb_last_error(), path) && same_file(path, before, n),
          "series: the old file is intact: %s", nb_last_error());
    CHECK(rmdir(blocker) == 0, "the blocking folder was left alone");
    free(before);
    /* Once unblocked, the write replaces the file. */
    CHECK(nb_png_write_gray(path, 16, 16, px) == NB_OK, "unblocked: %s", nb_last_error());
    uint8_t back[16 * 16];
    CHECK(nb_png_read_gray(path, 16, 16, back) == NB_OK && back[0] == 0, "replaced");
    CHECK(temp_files_left() == 0, "no temporary files are left behind");
}

int main(void) {
    if (!tmpdir_make("nabla_plot")) return 1;
    make_curves();
    check_curves();
    check_grid();
    check_images();
    check_scatter();
    check_series();
    check_failed_writes();
    tmpdir_remove();
    const char *samples = getenv("NABLA_PLOT_SAMPLES");
    if (samples) write_samples(samples);
    /* Let cairo drop its font caches, so that LeakSanitizer sees only real leaks. */
    cairo_debug_reset_static_data();
    return test_end("test_plot");
}
