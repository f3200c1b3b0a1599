/* Drawing helpers shared by the picture files of src/plot (draw.c): text, colours, nice axes
 * and the atomic PNG writer. Not installed. */
#ifndef NB_PLOT_IMPL_H
#define NB_PLOT_IMPL_H

#include "internal.h"

#include <cairo.h>

#define NB_PLOT_FONT "DejaVu Sans"
#define NB_PLOT_PI 3.14159265358979323846

typedef struct nb__rgb {
    double r, g, b;
} nb__rgb;

/* Ink of text, axes and grid lines, the same in every picture. In a header, so unused ones
 * draw no warning (-Wunused-const-variable=1 skips headers). */
static const nb__rgb NB_COL_TEXT = {0.13, 0.13, 0.13};
static const nb__rgb NB_COL_AXIS = {0.35, 0.35, 0.35};
static const nb__rgb NB_COL_GRID = {0.90, 0.90, 0.90};

/* A qualitative palette: matplotlib's tab10, then tab20's light partners of the first ten
 * with the light gray swapped for a dark blue (gray is kept for labels outside the classes).
 * Series and classes take colours in this order, cycling past the end. */
#define NB_PLOT_PALETTE 20
extern const nb__rgb nb__plot_palette[NB_PLOT_PALETTE];

void nb__plot_rgb(cairo_t *cr, nb__rgb c);
void nb__plot_font(cairo_t *cr, double size, bool bold);
/* Advance width of s in the current font. */
double nb__plot_text_w(cairo_t *cr, const char *s);
/* Draws s with its baseline at y; align 0 = left at x, 0.5 = centred, 1 = right. */
void nb__plot_text_at(cairo_t *cr, double x, double y, double align, const char *s);
/* A bold title centred at (x, y), shrunk from size (down to 9) until it is at most max_w wide. */
void nb__plot_title(cairo_t *cr, double x, double y, double size, double max_w, const char *title);

/* A white w x h RGB picture and its context; NULL (the error set, naming fn and path) when
 * cairo cannot make it. Free with cairo_destroy, then cairo_surface_destroy. */
cairo_surface_t *nb__plot_canvas(int w, int h, const char *fn, const char *path, cairo_t **cr);
/* Renders s into "<path>.tmp.<pid>" and renames it over path; on failure the temporary file
 * is removed and the error names fn, path and errno's text. */
nb_status nb__plot_write(cairo_surface_t *s, const char *path, const char *fn);

/* ---- axes -------------------------------------------------------------------------------- */
typedef struct nb__plot_axis {
    double lo, hi, step; /* visible range and tick spacing */
    int decimals;        /* of tick labels; -1 = %g */
} nb__plot_axis;

/* A "nice" step (1, 2 or 5 times a power of ten) giving at most about max_ticks intervals. */
double nb__plot_nice_step(double range, int max_ticks);
/* A value axis around [lo, hi] (a 5% margin, nice ends, at most about max_ticks intervals);
 * any = false gives a plain 0..1 axis.
 * unit01 keeps it inside [0, 1] when the data are; from0 starts it at 0 rather than below
 * when the data are nonnegative (losses; not scatter coordinates). */
nb__plot_axis nb__plot_value_axis(bool any, double lo, double hi, int max_ticks, bool unit01,
                                  bool from0);
void nb__plot_tick_label(char *buf, size_t cap, const nb__plot_axis *a, double v);
/* Width of the widest tick label of a in the current font. */
double nb__plot_ticks_w(cairo_t *cr, const nb__plot_axis *a);

typedef struct nb__plot_box {
    double x0, y0, x1, y1; /* plot rectangle in pixels (y0 at the top) */
    nb__plot_axis xa, ya;
} nb__plot_box;

static inline double nb__px_x(const nb__plot_box *p, double v) {
    return p->x0 + (v - p->xa.lo) / (p->xa.hi - p->xa.lo) * (p->x1 - p->x0);
}
static inline double nb__px_y(const nb__plot_box *p, double v) {
    return p->y1 - (v - p->ya.lo) / (p->ya.hi - p->ya.lo) * (p->y1 - p->y0);
}

/* Horizontal grid lines with their labels at the left, vertical grid lines with tick marks
 * and labels below (only for ticks inside [xmin, xmax]: epochs 1..n), then the frame. */
void nb__plot_axes(cairo_t *cr, const nb__plot_box *p, double xmin, double xmax);

#endif
