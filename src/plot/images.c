/* nb_plot_images: float images (reconstructions, samples of a generator, filters) in a grid,
 * each pixel a zoom x zoom square of exact gray, with a title and row labels. The pixels are
 * written straight into the picture's memory rather than scaled by cairo, so that every image
 * lands on whole pixels and a value maps to one known gray. */
#define _POSIX_C_SOURCE 200809L
#include "plot_impl.h"

#include <math.h>

#define FN "nb_plot_images"
#define MAX_SIDE 16384  /* pixels of the picture either way */
#define GAP 2           /* pixels between images */
#define MARGIN 10       /* around everything */
#define TITLE_H 30      /* above the grid when there is a title */
#define LABEL_GAP 8     /* between a row label and its row */
#define MIN_GRID_W 560  /* the zoom is the smallest that makes the grid this wide, */
#define MAX_ZOOM 8      /* but at most this */

/* value -> gray byte: [lo, hi] onto 0..255, clamped; NaN is black. */
static uint32_t gray_of(float v, double lo, double range) {
    double t = ((double)v - lo) / range;
    if (!(t > 0.0)) return 0; /* also NaN */
    if (t >= 1.0) return 255;
    return (uint32_t)(t * 255.0 + 0.5);
}

/* Copies image x (H, W) into the RGB24 picture at (ox, oy), each value a z x z square. row is
 * scratch for one picture row of the image (W*z). */
static void blit(unsigned char *data, int stride, int ox, int oy, const float *x, int h, int w,
                 int z, double lo, double range, uint32_t *row) {
    for (int y = 0; y < h; y++) {
        for (int i = 0; i < w; i++) {
            uint32_t g = gray_of(x[(size_t)y * w + i], lo, range);
            uint32_t px = 0xff000000u | g << 16 | g << 8 | g;
            for (int k = 0; k < z; k++) row[(size_t)i * z + k] = px;
        }
        for (int k = 0; k < z; k++) {
            unsigned char *dst = data + (size_t)(oy + y * z + k) * stride + (size_t)ox * 4;
            memcpy(dst, row, (size_t)w * z * 4);
        }
    }
}

nb_status nb_plot_images(const char *path, const float *x, int n, int h, int w, int cols,
                         float lo, float hi, const char *title,
                         const char *const *row_labels) {
    if (!path) return nb__err(NB_ERR_ARG, FN ": path is NULL");
    if (n < 0) return nb__err(NB_ERR_ARG, FN ": %s: n is %d; expected 0 or more images", path, n);
    if (!x && n > 0) return nb__err(NB_ERR_ARG, FN ": %s: x is NULL (%d images)", path, n);
    if (h < 1 || w < 1 || h > 4096 || w > 4096)
        return nb__err(NB_ERR_ARG, FN ": %s: images of %d x %d (h x w); expected 1..4096 a side",
                       path, h, w);
    if (cols < 1) return nb__err(NB_ERR_ARG, FN ": %s: cols is %d; expected 1 or more", path, cols);
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return nb__err(NB_ERR_ARG, FN ": %s: the range [lo, hi] = [%g, %g]; expected finite lo < hi",
                       path, (double)lo, (double)hi);

    int c = n < cols ? n : cols, rows = c > 0 ? (n + c - 1) / c : 0;
    int z = MAX_ZOOM;
    if (c > 0) { /* the smallest zoom with c*w*z + GAP*(c-1) >= MIN_GRID_W, at most MAX_ZOOM */
        int64_t need = MIN_GRID_W - (int64_t)GAP * (c - 1), per = (int64_t)c * w;
        int64_t zz = need <= 0 ? 1 : (need + per - 1) / per;
        z = zz < MAX_ZOOM ? (int)zz : MAX_ZOOM;
    }
    /* Sizes in int64: c*w*z reaches 2^31 before the limit check. */
    int64_t grid_w = c > 0 ? (int64_t)c * w * z + (int64_t)GAP * (c - 1) : 0;
    int64_t grid_h = rows > 0 ? (int64_t)rows * h * z + (int64_t)GAP * (rows - 1) : 0;
    bool has_title = title && *title;
    int y0 = MARGIN + (has_title ? TITLE_H : 0);
    if (grid_w + 2 * MARGIN > MAX_SIDE || y0 + grid_h + MARGIN > MAX_SIDE)
        return nb__err(NB_ERR_ARG,
                       FN ": %s: %d images of %d x %d in %d columns at zoom %d make a %lld x %lld "
                       "grid (h x w), over %d pixels a side; show fewer images or change cols",
                       path, n, h, w, cols, z, (long long)grid_h, (long long)grid_w, MAX_SIDE);

    /* Measure the row labels and the title on a scratch surface to size the picture. */
    double row_h = (double)h * z;
    double label_size = fmax(8.0, fmin(13.0, row_h * 0.8)), label_w = 0, title_w = 0;
    cairo_surface_t *scratch = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
    cairo_t *cm = cairo_create(scratch);
    nb__plot_font(cm, label_size, false);
    for (int r = 0; row_labels && r < rows; r++)
        if (row_labels[r]) label_w = fmax(label_w, nb__plot_text_w(cm, row_labels[r]));
    if (has_title) {
        nb__plot_font(cm, 16, true);
        title_w = nb__plot_text_w(cm, title);
    }
    cairo_destroy(cm);
    cairo_surface_destroy(scratch);
    /* Long labels would push the grid away: their column stops at 300 pixels (clipped). */
    int x0 = MARGIN + (label_w > 0 ? (int)ceil(fmin(label_w, 300.0)) + LABEL_GAP : 0);
    int W = x0 + (int)grid_w + MARGIN, H = y0 + (int)grid_h + MARGIN;
    /* A narrow grid widens (up to 620 pixels) for its title; the grid stays at the left. */
    if (has_title && W < (int)ceil(fmin(title_w, 600.0)) + 2 * MARGIN)
        W = (int)ceil(fmin(title_w, 600.0)) + 2 * MARGIN;
    if (W > MAX_SIDE)
        return nb__err(NB_ERR_ARG, FN ": %s: the picture would be %d pixels wide (row labels and "
                       "grid), over %d", path, W, MAX_SIDE);

    uint32_t *row = malloc((size_t)w * z * 4); /* one zoomed row of an image: (w*z) xRGB */
    if (!row) return nb__err(NB_ERR_MEM, FN ": %s: out of memory", path);
    cairo_t *cr;
    cairo_surface_t *s = nb__plot_canvas(W, H, FN, path, &cr);
    if (!s) {
        free(row);
        return NB_ERR_MEM;
    }
    if (has_title) nb__plot_title(cr, W / 2.0, MARGIN + 20, 16, W - 2 * MARGIN, title);
    nb__plot_font(cr, label_size, false);
    nb__plot_rgb(cr, NB_COL_TEXT);
    for (int r = 0; row_labels && r < rows; r++) {
        if (!row_labels[r]) continue;
        double cy = y0 + r * (row_h + GAP) + row_h / 2;
        nb__plot_text_at(cr, x0 - LABEL_GAP, cy + label_size * 0.35, 1.0, row_labels[r]);
    }
    cairo_destroy(cr);

    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    double range = (double)hi - (double)lo;
    for (int i = 0; i < n; i++) {
        int ox = x0 + (i % c) * (w * z + GAP), oy = y0 + (i / c) * (h * z + GAP);
        blit(data, stride, ox, oy, x + (size_t)i * h * w, h, w, z, lo, range, row);
    }
    cairo_surface_mark_dirty(s);
    free(row);
    nb_status st = nb__plot_write(s, path, FN);
    cairo_surface_destroy(s);
    return st;
}
