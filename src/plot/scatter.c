/* nb_plot_scatter: 2-D points coloured by class (an embedding, a latent space), with nice
 * ticks on both axes, axis titles and a legend of the classes beside the plot (outside it, so
 * that it hides no point). */
#define _POSIX_C_SOURCE 200809L
#include "plot_impl.h"

#include <math.h>

#define FN "nb_plot_scatter"

static const nb__rgb COL_OTHER = {0.70, 0.70, 0.70}; /* labels outside 0..n_classes-1 */

static bool in_classes(int64_t lab, int n_classes) { return lab >= 0 && lab < n_classes; }

static nb__rgb class_rgb(int64_t lab, int n_classes) {
    return in_classes(lab, n_classes) ? nb__plot_palette[lab % NB_PLOT_PALETTE] : COL_OTHER;
}

static const char *class_name(const char *const *names, int k, char *buf, size_t cap) {
    if (names && names[k]) return names[k];
    snprintf(buf, cap, "%d", k);
    return buf;
}

/* The legend at (x, y), entries 18 pixels apart: the first `shown` classes, "+N more" for the
 * rest, and "other" when some point has a label outside the classes. Returns nothing; its
 * width was measured by the caller as w. */
static void draw_legend(cairo_t *cr, double x, double y, double w, int n_classes, int shown,
                        bool other, const char *const *names) {
    char buf[48];
    int lines = shown + (shown < n_classes) + other;
    if (lines == 0) return;
    double h = 12 + 18 * lines;
    cairo_rectangle(cr, x + 0.5, y + 0.5, w, h);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
    cairo_set_line_width(cr, 1.0);
    cairo_stroke(cr);
    nb__plot_font(cr, 13, false);
    double ty = y + 6 + 9;
    for (int k = 0; k < shown; k++, ty += 18) {
        nb__plot_rgb(cr, nb__plot_palette[k % NB_PLOT_PALETTE]);
        cairo_arc(cr, x + 14, ty, 4.5, 0, 2 * NB_PLOT_PI);
        cairo_fill(cr);
        nb__plot_rgb(cr, NB_COL_TEXT);
        nb__plot_text_at(cr, x + 26, ty + 4.5, 0, class_name(names, k, buf, sizeof buf));
    }
    if (shown < n_classes) {
        snprintf(buf, sizeof buf, "+%d more", n_classes - shown);
        nb__plot_rgb(cr, NB_COL_AXIS);
        nb__plot_text_at(cr, x + 26, ty + 4.5, 0, buf);
        ty += 18;
    }
    if (other) {
        nb__plot_rgb(cr, COL_OTHER);
        cairo_arc(cr, x + 14, ty, 4.5, 0, 2 * NB_PLOT_PI);
        cairo_fill(cr);
        nb__plot_rgb(cr, NB_COL_TEXT);
        nb__plot_text_at(cr, x + 26, ty + 4.5, 0, "other");
    }
}

nb_status nb_plot_scatter(const char *path, const char *title, const char *xlabel,
                          const char *ylabel, int n, const float *xy, const int64_t *label,
                          int n_classes, const char *const *names) {
    if (!path) return nb__err(NB_ERR_ARG, FN ": path is NULL");
    if (n < 0) return nb__err(NB_ERR_ARG, FN ": %s: n is %d; expected 0 or more points", path, n);
    if (n > 0 && (!xy || !label))
        return nb__err(NB_ERR_ARG, FN ": %s: %s is NULL (%d points)", path, !xy ? "xy" : "label", n);
    if (n_classes < 0)
        return nb__err(NB_ERR_ARG, FN ": %s: n_classes is %d; expected 0 or more", path, n_classes);

    /* The range of the finite points, and whether any has a label outside the classes. */
    double xlo = 0, xhi = 0, ylo = 0, yhi = 0;
    bool any = false, other = false;
    for (int i = 0; i < n; i++) {
        double px = xy[2 * (size_t)i], py = xy[2 * (size_t)i + 1]; /* xy (n, 2) */
        if (!isfinite(px) || !isfinite(py)) continue;
        if (!any || px < xlo) xlo = px;
        if (!any || px > xhi) xhi = px;
        if (!any || py < ylo) ylo = py;
        if (!any || py > yhi) yhi = py;
        any = true;
        other |= !in_classes(label[i], n_classes);
    }

    enum { W = 900, H = 700 };
    cairo_t *cr;
    cairo_surface_t *s = nb__plot_canvas(W, H, FN, path, &cr);
    if (!s) return NB_ERR_MEM;
    double top = 16;
    if (title && *title) {
        nb__plot_title(cr, W / 2.0, 34, 20, W - 40, title);
        top = 52;
    }

    /* The legend's width fits the longest name shown (names longer than 200 pixels overrun
     * into the margin); as many classes as fit the height are listed. */
    char buf[48];
    nb__plot_font(cr, 13, false);
    int room = (int)((H - top - 60 - 12) / 18) - other;
    int shown = n_classes <= room ? n_classes : room - 1;
    double name_w = other ? nb__plot_text_w(cr, "other") : 0;
    for (int k = 0; k < shown; k++)
        name_w = fmax(name_w, nb__plot_text_w(cr, class_name(names, k, buf, sizeof buf)));
    if (shown < n_classes) name_w = fmax(name_w, nb__plot_text_w(cr, "+9999999999 more"));
    double legend_w = shown > 0 || other ? 26 + fmin(name_w, 200.0) + 12 : 0;

    nb__plot_box p;
    /* Up to about 8 ticks a side: with 5, as on the curves, a nice end can leave a third of
     * the plot empty (data in -7..7 on an axis -10..10). */
    p.xa = nb__plot_value_axis(any, xlo, xhi, 8, false, false);
    p.ya = nb__plot_value_axis(any, ylo, yhi, 8, false, false);
    nb__plot_font(cr, 12, false);
    p.x0 = 30 + nb__plot_ticks_w(cr, &p.ya) + 10;
    p.x1 = W - 20 - (legend_w > 0 ? legend_w + 14 : 0);
    p.y0 = top;
    p.y1 = H - 52;
    nb__plot_axes(cr, &p, -INFINITY, INFINITY);

    nb__plot_font(cr, 13, false);
    nb__plot_rgb(cr, NB_COL_TEXT);
    if (xlabel) nb__plot_text_at(cr, (p.x0 + p.x1) / 2, p.y1 + 40, 0.5, xlabel);
    if (ylabel) {
        cairo_save(cr);
        cairo_translate(cr, 20, (p.y0 + p.y1) / 2);
        cairo_rotate(cr, -NB_PLOT_PI / 2);
        nb__plot_text_at(cr, 0, 0, 0.5, ylabel);
        cairo_restore(cr);
    }

    /* Points one by one in their order (overlaps darken, the last drawn on top), points of no
     * class first so that they hide none of a class. Small and translucent: 10,000 points
     * still show their density; a few hundred get bigger dots. */
    double r = n > 2000 ? 1.5 : n > 300 ? 2.2 : 3.0;
    cairo_save(cr);
    cairo_rectangle(cr, p.x0, p.y0, p.x1 - p.x0, p.y1 - p.y0);
    cairo_clip(cr);
    for (int pass = other ? 0 : 1; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            double px = xy[2 * (size_t)i], py = xy[2 * (size_t)i + 1];
            if (!isfinite(px) || !isfinite(py)) continue;
            if (in_classes(label[i], n_classes) != (pass == 1)) continue;
            nb__rgb c = class_rgb(label[i], n_classes);
            cairo_set_source_rgba(cr, c.r, c.g, c.b, 0.7);
            cairo_arc(cr, nb__px_x(&p, px), nb__px_y(&p, py), r, 0, 2 * NB_PLOT_PI);
            cairo_fill(cr);
        }
    }
    cairo_restore(cr);
    if (!any) {
        nb__plot_font(cr, 14, false);
        nb__plot_rgb(cr, NB_COL_AXIS);
        nb__plot_text_at(cr, (p.x0 + p.x1) / 2, (p.y0 + p.y1) / 2, 0.5, "no data");
    }
    draw_legend(cr, p.x1 + 14, p.y0, legend_w, n_classes, shown, other, names);

    cairo_destroy(cr);
    nb_status st = nb__plot_write(s, path, FN);
    cairo_surface_destroy(s);
    return st;
}
