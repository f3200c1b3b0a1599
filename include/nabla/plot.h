/* nabla pictures: loss/accuracy curves and image grids as PNG (drawn with cairo), and PNG
 * input for prediction (read with libpng). Included by nabla.h.
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

/* Reads a PNG as 8-bit grayscale (any PNG colour type; alpha composited on black). Its size
 * must be h x w; otherwise NB_ERR_SHAPE naming the file and both sizes. */
nb_status nb_png_read_gray(const char *path, int h, int w, uint8_t *out);
/* Writes h x w gray bytes as a PNG (used for test inputs and examples). */
nb_status nb_png_write_gray(const char *path, int h, int w, const uint8_t *px);

#ifdef __cplusplus
}
#endif
#endif
