/* nabla pictures: loss/accuracy curves, named series, image grids and scatter plots as PNG
 * (drawn with cairo), and PNG input for prediction (read with libpng). Included by nabla.h.
 * Every write goes to a temporary file in the same folder and is renamed over the target only
 * when complete, so a failed write leaves an older picture intact. */
/* nabla's own headers come before the guard, so that this header compiles on its own
 * even though nabla.h includes it back. */
#include "nabla.h"

#ifndef NABLA_PLOT_H
#define NABLA_PLOT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Two panels side by side: loss (train and test) and accuracy (train and test, 0..1) per
 * epoch 1..n. Any series may be NULL (not drawn). */
nb_status nb_plot_curves(const char *path, const char *title, int n, const double *train_loss,
                   const double *test_loss, const double *train_acc, const double *test_acc);

/* A grid of n grayscale images (h*w bytes each, 0 = black), cols per row, each captioned
 * "pred (true)" with class names, green when pred == truth and red otherwise. truth may be
 * NULL (captions show only the prediction). */
nb_status nb_plot_image_grid(const char *path, const uint8_t *images, int n, int h, int w, int cols,
                       const int64_t *pred, const int64_t *truth, const char *const *names);

/* A grid of n grayscale images given as floats (n*h*w, row-major, image after image), each
 * value mapped linearly from [lo, hi] to black..white (clamped; NaN drawn black), cols images
 * per row, each pixel drawn as a square of `zoom` pixels (there is no zoom argument: it is
 * chosen so the grid is at least ~560 px wide, at most 8: the smallest zoom >= 1 with
 * c*w*zoom + 2*(c-1) >= 560, c = min(cols, n) columns), a 2-px gap between images; title (may
 * be NULL) above the grid. row_labels (may be NULL, else one string per grid row, may contain
 * NULLs) are written at the left of each row (e.g. "original", "reconstructed"). n may be 0 (x
 * may then be NULL): a picture of the title alone. NB_ERR_ARG for NULL path or x, n < 0, h or
 * w outside 1..4096, cols < 1, lo >= hi or either non-finite, and a picture over 16384 pixels
 * either way. */
nb_status nb_plot_images(const char *path, const float *x, int n, int h, int w, int cols, float lo, float hi,
                         const char *title, const char *const *row_labels);

/* A scatter plot of n points (xy: n pairs x0,y0,x1,y1,...), each coloured by its class
 * label[i] in 0..n_classes-1 (a fixed qualitative palette of at least 10 distinct colours,
 * like matplotlib's tab10; labels outside the range drawn grey), with a legend of the class
 * names (names may be NULL: "0", "1", ...), axis labels and ticks, title. Points small
 * (radius ~1.5 px) and slightly transparent so 10,000 points stay readable. Non-finite points
 * are skipped; axes fit the finite points with a margin. n may be 0 (empty axes).
 * A 900 x 700 picture; the legend stands right of the plot (the classes that fit, about 30,
 * then "+N more"; "other" for labels outside the range); up to 2000 points get bigger dots
 * (radius 2.2, 3 up to 300). NB_ERR_ARG for NULL path, n < 0, NULL xy or label when n > 0,
 * n_classes < 0. */
nb_status nb_plot_scatter(const char *path, const char *title, const char *xlabel, const char *ylabel, int n,
                          const float *xy, const int64_t *label, int n_classes, const char *const *names);

/* Curves over epochs 1..n_points in side-by-side panels (like nb_plot_curves, which stays as
 * it is): each panel has a y-axis label and up to 4 named series (a legend), NaN values leave a
 * gap. Series k is drawn in tab10 colour k (blue, orange, green, red) with its own marker;
 * ylabel may be NULL (none), name[k] NULL shows "series k+1". 600 x 500 pixels a panel (700
 * for one). NB_ERR_ARG for NULL path or panels, n_panels outside 1..4, n_series outside 0..4,
 * n_points < 0, and y[k] NULL (k < n_series) when n_points > 0. */
#define NB_PLOT_MAX_SERIES 4
typedef struct nb_plot_panel {
    const char *ylabel;
    int n_series;
    const char *name[NB_PLOT_MAX_SERIES];
    const double *y[NB_PLOT_MAX_SERIES]; /* n_points values each */
} nb_plot_panel;
nb_status nb_plot_series(const char *path, const char *title, int n_panels, const nb_plot_panel *panels,
                         int n_points);

/* Reads a PNG as 8-bit grayscale (any PNG colour type; alpha composited on black). Its size
 * must be h x w; otherwise NB_ERR_SHAPE naming the file and both sizes. */
nb_status nb_png_read_gray(const char *path, int h, int w, uint8_t *out);
/* Writes h x w gray bytes as a PNG (used for test inputs and examples). */
nb_status nb_png_write_gray(const char *path, int h, int w, const uint8_t *px);

#ifdef __cplusplus
}
#endif
#endif
