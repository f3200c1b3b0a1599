/* What every picture of src/plot shares (plot_impl.h): fonts and text, the palette, nice
 * value axes with grid and ticks, a white canvas, and the atomic PNG writer: a picture goes
 * to "<path>.tmp.<pid>" and is renamed over path only when complete (core/atomic.c). */
#define _POSIX_C_SOURCE 200809L
#include "plot_impl.h"

#include <errno.h>
#include <math.h>
#include <unistd.h>

const nb__rgb nb__plot_palette[NB_PLOT_PALETTE] = {
    {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173}, /* 1f77b4 ff7f0e 2ca02c */
    {0.839, 0.153, 0.157}, {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294}, /* d62728 9467bd 8c564b */
    {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498}, {0.737, 0.741, 0.133}, /* e377c2 7f7f7f bcbd22 */
    {0.090, 0.745, 0.812},                                               /* 17becf */
    {0.682, 0.780, 0.910}, {1.000, 0.733, 0.471}, {0.596, 0.875, 0.541}, /* aec7e8 ffbb78 98df8a */
    {1.000, 0.596, 0.588}, {0.773, 0.690, 0.835}, {0.769, 0.612, 0.580}, /* ff9896 c5b0d5 c49c94 */
    {0.969, 0.714, 0.824}, {0.224, 0.231, 0.475}, {0.859, 0.859, 0.553}, /* f7b6d2 393b79 dbdb8d */
    {0.620, 0.855, 0.898},                                               /* 9edae5 */
};

void nb__plot_rgb(cairo_t *cr, nb__rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

void nb__plot_font(cairo_t *cr, double size, bool bold) {
    cairo_select_font_face(cr, NB_PLOT_FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double nb__plot_text_w(cairo_t *cr, const char *s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

void nb__plot_text_at(cairo_t *cr, double x, double y, double align, const char *s) {
    cairo_move_to(cr, x - align * nb__plot_text_w(cr, s), y);
    cairo_show_text(cr, s);
}

void nb__plot_title(cairo_t *cr, double x, double y, double size, double max_w, const char *title) {
    nb__plot_font(cr, size, true);
    while (nb__plot_text_w(cr, title) > max_w && size > 9) { /* long titles shrink to fit */
        size -= 1;
        nb__plot_font(cr, size, true);
    }
    nb__plot_rgb(cr, NB_COL_TEXT);
    nb__plot_text_at(cr, x, y, 0.5, title);
}

cairo_surface_t *nb__plot_canvas(int w, int h, const char *fn, const char *path, cairo_t **cr) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    *cr = cairo_create(s);
    if (cairo_status(*cr) != CAIRO_STATUS_SUCCESS) {
        nb__err(NB_ERR_MEM, "%s: %s: cannot create a %d x %d picture (height x width; %s)", fn,
                path, h, w, cairo_status_to_string(cairo_status(*cr)));
        cairo_destroy(*cr);
        cairo_surface_destroy(s);
        *cr = NULL;
        return NULL;
    }
    cairo_set_source_rgb(*cr, 1, 1, 1);
    cairo_paint(*cr);
    return s;
}

nb_status nb__plot_write(cairo_surface_t *s, const char *path, const char *fn) {
    char *tmp = nb__tmp_path(path);
    if (!tmp) return NB_ERR_MEM;
    errno = 0;
    cairo_status_t cs = cairo_surface_write_to_png(s, tmp);
    if (cs != CAIRO_STATUS_SUCCESS) {
        /* cairo reports only "error while writing"; errno from its fopen/fwrite says why. */
        int e = errno;
        unlink(tmp);
        nb_status st = nb__err(NB_ERR_IO, "%s: %s: cannot write the temporary file %s (%s%s%s)",
                               fn, path, tmp, cairo_status_to_string(cs), e ? ": " : "",
                               e ? strerror(e) : "");
        free(tmp);
        return st;
    }
    nb_status st = nb__commit_file(tmp, path);
    free(tmp);
    return st;
}

/* ---- axes -------------------------------------------------------------------------------- */

double nb__plot_nice_step(double range, int max_ticks) {
    double raw = range / max_ticks;
    double mag = pow(10.0, floor(log10(raw)));
    double norm = raw / mag;
    double f = norm <= 1.0 ? 1.0 : norm <= 2.0 ? 2.0 : norm <= 5.0 ? 5.0 : 10.0;
    return f * mag;
}

nb__plot_axis nb__plot_value_axis(bool any, double lo, double hi, int max_ticks, bool unit01,
                                  bool from0) {
    nb__plot_axis a;
    if (!any) { /* an empty panel: a plain 0..1 axis */
        a.lo = 0.0;
        a.hi = 1.0;
        a.step = 0.2;
        a.decimals = 1;
        return a;
    }
    /* Keep clear of overflow in hi - lo. */
    lo = fmax(lo, -1e300);
    hi = fmin(hi, 1e300);
    bool nonneg = from0 && lo >= 0.0, in01 = unit01 && lo >= 0.0 && hi <= 1.0;
    double span = hi - lo, mag = fmax(fabs(lo), fabs(hi));
    if (span <= 1e-9 * mag || span == 0.0) { /* all equal: open a window around the value */
        double pad = mag > 0.0 ? 0.1 * mag : 0.5;
        lo -= pad;
        hi += pad;
    } else {
        lo -= 0.05 * span;
        hi += 0.05 * span;
    }
    a.step = nb__plot_nice_step(hi - lo, max_ticks);
    a.lo = floor(lo / a.step) * a.step;
    a.hi = ceil(hi / a.step) * a.step;
    if (nonneg && a.lo < 0.0) a.lo = 0.0;
    if (in01 && a.hi > 1.0) a.hi = 1.0;
    if (in01 && a.lo < 0.0) a.lo = 0.0;
    double big = fmax(fabs(a.lo), fabs(a.hi));
    if (big >= 1e6 || a.step < 1e-4) a.decimals = -1;
    else a.decimals = a.step >= 1.0 ? 0 : (int)ceil(-log10(a.step) - 1e-9);
    return a;
}

void nb__plot_tick_label(char *buf, size_t cap, const nb__plot_axis *a, double v) {
    if (fabs(v) < a->step * 1e-9) v = 0.0; /* no "-0.00" */
    if (a->decimals < 0) snprintf(buf, cap, "%.3g", v);
    else snprintf(buf, cap, "%.*f", a->decimals, v);
}

/* The first and last tick index of a (ticks at t * step); the slack keeps ends that rounding
 * put a hair outside the range. */
static void tick_range(const nb__plot_axis *a, int *t0, int *t1) {
    *t0 = (int)ceil(a->lo / a->step - 1e-9);
    *t1 = (int)floor(a->hi / a->step + 1e-9);
}

double nb__plot_ticks_w(cairo_t *cr, const nb__plot_axis *a) {
    char buf[64];
    double w = 0;
    int t0, t1;
    tick_range(a, &t0, &t1);
    for (int t = t0; t <= t1; t++) {
        nb__plot_tick_label(buf, sizeof buf, a, t * a->step);
        w = fmax(w, nb__plot_text_w(cr, buf));
    }
    return w;
}

void nb__plot_axes(cairo_t *cr, const nb__plot_box *p, double xmin, double xmax) {
    char buf[64];
    int t0, t1;
    cairo_set_line_width(cr, 1.0);
    nb__plot_font(cr, 12, false);
    tick_range(&p->ya, &t0, &t1);
    for (int t = t0; t <= t1; t++) {
        double v = t * p->ya.step, y = round(nb__px_y(p, v)) + 0.5;
        nb__plot_rgb(cr, NB_COL_GRID);
        cairo_move_to(cr, p->x0, y);
        cairo_line_to(cr, p->x1, y);
        cairo_stroke(cr);
        nb__plot_rgb(cr, NB_COL_TEXT);
        nb__plot_tick_label(buf, sizeof buf, &p->ya, v);
        nb__plot_text_at(cr, p->x0 - 8, y + 4.5, 1.0, buf);
    }
    tick_range(&p->xa, &t0, &t1);
    for (int t = t0; t <= t1; t++) {
        double v = t * p->xa.step;
        if (v < xmin || v > xmax) continue;
        double x = round(nb__px_x(p, v)) + 0.5;
        nb__plot_rgb(cr, NB_COL_GRID);
        cairo_move_to(cr, x, p->y0);
        cairo_line_to(cr, x, p->y1);
        cairo_stroke(cr);
        nb__plot_rgb(cr, NB_COL_AXIS);
        cairo_move_to(cr, x, p->y1);
        cairo_line_to(cr, x, p->y1 + 5);
        cairo_stroke(cr);
        nb__plot_rgb(cr, NB_COL_TEXT);
        nb__plot_tick_label(buf, sizeof buf, &p->xa, v);
        nb__plot_text_at(cr, x, p->y1 + 19, 0.5, buf);
    }
    nb__plot_rgb(cr, NB_COL_AXIS);
    cairo_rectangle(cr, round(p->x0) + 0.5, round(p->y0) + 0.5, round(p->x1 - p->x0),
                    round(p->y1 - p->y0));
    cairo_stroke(cr);
}
