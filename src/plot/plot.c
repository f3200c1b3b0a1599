/* Line pictures and image grids drawn with cairo: training curves (loss and accuracy panels),
 * named series in side-by-side panels (both with nice ticks, axis titles, legends and
 * per-epoch markers), and captioned image grids. Written atomically (draw.c). */
#define _POSIX_C_SOURCE 200809L
#include "plot_impl.h"

#include <math.h>

static const nb__rgb COL_RIGHT = {0.10, 0.56, 0.10}; /* captions of correct predictions */
static const nb__rgb COL_WRONG = {0.84, 0.10, 0.10}; /* and of wrong ones */

/* ---- line panels ---------------------------------------------------------------------------- */

/* Up to NB_PLOT_MAX_SERIES series over epochs 1..n of one panel; y[k] NULL is not drawn (but
 * its name still sizes the legend, as nb_plot_curves has always drawn it). */
typedef struct lines {
    int n_series;
    const char *name[NB_PLOT_MAX_SERIES];
    const double *y[NB_PLOT_MAX_SERIES]; /* (n) each */
} lines;

enum { SHAPE_CIRCLE, SHAPE_SQUARE, SHAPE_TRIANGLE, SHAPE_DIAMOND }; /* series k has shape k */

/* Range of the finite values of the series; false when there are none. */
static bool data_range(int n, const lines *l, double *lo, double *hi) {
    bool any = false;
    for (int k = 0; k < l->n_series; k++) {
        if (!l->y[k]) continue;
        for (int i = 0; i < n; i++) {
            double v = l->y[k][i];
            if (!isfinite(v)) continue;
            if (!any || v < *lo) *lo = v;
            if (!any || v > *hi) *hi = v;
            any = true;
        }
    }
    return any;
}

static void marker(cairo_t *cr, double x, double y, double r, int shape) {
    switch (shape) {
    case SHAPE_SQUARE: cairo_rectangle(cr, x - r, y - r, 2 * r, 2 * r); break;
    case SHAPE_TRIANGLE: /* the circle's area, centred on its centroid */
        cairo_move_to(cr, x, y - 1.55 * r);
        cairo_line_to(cr, x + 1.35 * r, y + 0.85 * r);
        cairo_line_to(cr, x - 1.35 * r, y + 0.85 * r);
        cairo_close_path(cr);
        break;
    case SHAPE_DIAMOND:
        cairo_move_to(cr, x, y - 1.3 * r);
        cairo_line_to(cr, x + 1.3 * r, y);
        cairo_line_to(cr, x, y + 1.3 * r);
        cairo_line_to(cr, x - 1.3 * r, y);
        cairo_close_path(cr);
        break;
    default: cairo_arc(cr, x, y, r, 0, 2 * NB_PLOT_PI);
    }
}

/* One series: a line broken at non-finite values, and a marker on every finite epoch. */
static void draw_series(cairo_t *cr, const nb__plot_box *p, int n, const double *v, nb__rgb col,
                        int shape, double mr) {
    nb__plot_rgb(cr, col);
    cairo_set_line_width(cr, 2.2);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    bool pen = false;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            pen = false;
            continue;
        }
        double x = nb__px_x(p, i + 1), y = nb__px_y(p, v[i]);
        if (pen) cairo_line_to(cr, x, y);
        else cairo_move_to(cr, x, y);
        pen = true;
    }
    cairo_stroke(cr);
    for (int i = 0; mr <= 0 && i < n; i++) {
        /* Without markers a finite value between gaps (a test loss every 5th epoch) would
         * draw nothing: it gets a dot as wide as the line. */
        bool alone = isfinite(v[i]) && (i == 0 || !isfinite(v[i - 1])) &&
                     (i == n - 1 || !isfinite(v[i + 1]));
        if (!alone) continue;
        cairo_arc(cr, nb__px_x(p, i + 1), nb__px_y(p, v[i]), 2.2, 0, 2 * NB_PLOT_PI);
        cairo_fill(cr);
    }
    if (mr <= 0) return;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        marker(cr, nb__px_x(p, i + 1), nb__px_y(p, v[i]), mr, shape);
        nb__plot_rgb(cr, col);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 1.0);
        cairo_stroke(cr);
    }
}

/* Points of the series that fall inside the box (for placing the legend). */
static int points_in(const nb__plot_box *p, int n, const double *v, double bx, double by,
                     double bw, double bh) {
    int c = 0;
    if (!v) return 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        double x = nb__px_x(p, i + 1), y = nb__px_y(p, v[i]);
        if (x >= bx - 8 && x <= bx + bw + 8 && y >= by - 8 && y <= by + bh + 8) c++;
        /* Segments crossing the box count too: sample their midpoints. */
        if (i + 1 < n && isfinite(v[i + 1])) {
            double mx = (x + nb__px_x(p, i + 2)) / 2, my = (y + nb__px_y(p, v[i + 1])) / 2;
            if (mx >= bx && mx <= bx + bw && my >= by && my <= by + bh) c++;
        }
    }
    return c;
}

static const char *series_name(const lines *l, int k, char *buf, size_t cap) {
    if (l->name[k]) return l->name[k];
    snprintf(buf, cap, "series %d", k + 1);
    return buf;
}

static void draw_legend(cairo_t *cr, const nb__plot_box *p, int n, const lines *l, double mr) {
    char buf[32];
    int count = 0;
    double name_w = 0;
    nb__plot_font(cr, 13, false);
    for (int k = 0; k < l->n_series; k++) {
        count += l->y[k] != NULL;
        name_w = fmax(name_w, nb__plot_text_w(cr, series_name(l, k, buf, sizeof buf)));
    }
    if (count == 0) return;
    double bw = 36 + name_w + 14, bh = 10 + 20 * count;
    /* Try the four corners and keep the one that hides the fewest points. */
    double pad = 10, best_x = 0, best_y = 0;
    int best = -1;
    for (int c = 0; c < 4; c++) {
        double bx = (c & 1) ? p->x0 + pad : p->x1 - pad - bw;
        double by = (c & 2) ? p->y1 - pad - bh : p->y0 + pad;
        int hits = 0;
        for (int k = 0; k < l->n_series; k++) hits += points_in(p, n, l->y[k], bx, by, bw, bh);
        if (best < 0 || hits < best) {
            best = hits;
            best_x = bx;
            best_y = by;
        }
    }
    cairo_rectangle(cr, best_x, best_y, bw, bh);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.92);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
    cairo_set_line_width(cr, 1.0);
    cairo_stroke(cr);
    double y = best_y + 5 + 10;
    for (int k = 0; k < l->n_series; k++) {
        if (!l->y[k]) continue;
        nb__rgb col = nb__plot_palette[k];
        nb__plot_rgb(cr, col);
        cairo_set_line_width(cr, 2.2);
        cairo_move_to(cr, best_x + 8, y);
        cairo_line_to(cr, best_x + 32, y);
        cairo_stroke(cr);
        marker(cr, best_x + 20, y, mr > 0 ? mr : 3.5, k);
        cairo_fill(cr);
        nb__plot_rgb(cr, NB_COL_TEXT);
        nb__plot_text_at(cr, best_x + 40, y + 4.5, 0, series_name(l, k, buf, sizeof buf));
        y += 20;
    }
}

/* One panel in the box [bx, bx + bw] x [by, by + bh]: a bold heading (name; NULL: none), the
 * series over epochs 1..n, axis titles "epoch" and ylabel (NULL: none) and a legend. */
static void draw_panel(cairo_t *cr, double bx, double by, double bw, double bh, const char *name,
                       const char *ylabel, bool unit01, int n, const lines *l) {
    nb__plot_box p;
    double lo = 0, hi = 0;
    bool any = data_range(n, l, &lo, &hi);
    p.ya = nb__plot_value_axis(any, lo, hi, 5, unit01, true);
    /* Epochs 1..n with half a marker of air at the ends; integer ticks. */
    double xpad = n > 1 ? fmax(0.3, 0.02 * (n - 1)) : 1.0;
    p.xa.lo = 1 - xpad;
    p.xa.hi = n + xpad;
    p.xa.step = n > 1 ? fmax(1.0, nb__plot_nice_step(n - 1, 8)) : 1.0;
    p.xa.decimals = 0;

    /* The left margin fits the widest tick label and the rotated axis title. */
    nb__plot_font(cr, 12, false);
    p.x0 = bx + 30 + nb__plot_ticks_w(cr, &p.ya) + 10;
    p.x1 = bx + bw - 20;
    p.y0 = by + (name ? 34 : 16);
    p.y1 = by + bh - 52;

    if (name) {
        nb__plot_rgb(cr, NB_COL_TEXT);
        nb__plot_font(cr, 15, true);
        nb__plot_text_at(cr, (p.x0 + p.x1) / 2, by + 20, 0.5, name);
    }
    nb__plot_axes(cr, &p, 1, n);

    /* Axis titles. */
    nb__plot_font(cr, 13, false);
    nb__plot_rgb(cr, NB_COL_TEXT);
    nb__plot_text_at(cr, (p.x0 + p.x1) / 2, p.y1 + 40, 0.5, "epoch");
    if (ylabel) {
        cairo_save(cr);
        cairo_translate(cr, bx + 20, (p.y0 + p.y1) / 2);
        cairo_rotate(cr, -NB_PLOT_PI / 2);
        nb__plot_text_at(cr, 0, 0, 0.5, ylabel);
        cairo_restore(cr);
    }

    /* The series, clipped to the plot. */
    double mr = n > 80 ? 0.0 : n > 30 ? 2.5 : 3.5;
    cairo_save(cr);
    cairo_rectangle(cr, p.x0, p.y0, p.x1 - p.x0, p.y1 - p.y0);
    cairo_clip(cr);
    for (int k = 0; k < l->n_series; k++)
        if (l->y[k]) draw_series(cr, &p, n, l->y[k], nb__plot_palette[k], k, mr);
    cairo_restore(cr);
    if (!any) {
        nb__plot_font(cr, 14, false);
        nb__plot_rgb(cr, NB_COL_AXIS);
        nb__plot_text_at(cr, (p.x0 + p.x1) / 2, (p.y0 + p.y1) / 2, 0.5, "no data");
    }
    draw_legend(cr, &p, n, l, mr);
}

/* ---- curves and series ---------------------------------------------------------------------- */

nb_status nb_plot_curves(const char *path, const char *title, int n, const double *train_loss,
                         const double *test_loss, const double *train_acc,
                         const double *test_acc) {
    if (!path) return nb__err(NB_ERR_ARG, "nb_plot_curves: path is NULL");
    if (n < 1 || n > 1000000)
        return nb__err(NB_ERR_ARG, "nb_plot_curves: %s: %d epochs; expected 1..1000000", path, n);
    enum { W = 1200, H = 500 };
    cairo_t *cr;
    cairo_surface_t *s = nb__plot_canvas(W, H, "nb_plot_curves", path, &cr);
    if (!s) return NB_ERR_MEM;
    double top = 10;
    if (title && *title) {
        nb__plot_title(cr, W / 2.0, 36, 20, W - 40, title);
        top = 50;
    }
    lines loss = {2, {"train", "test"}, {train_loss, test_loss}};
    lines acc = {2, {"train", "test"}, {train_acc, test_acc}};
    draw_panel(cr, 0, top, W / 2.0, H - top, "Loss", "loss", false, n, &loss);
    draw_panel(cr, W / 2.0, top, W / 2.0, H - top, "Accuracy", "accuracy", true, n, &acc);
    cairo_destroy(cr);
    nb_status st = nb__plot_write(s, path, "nb_plot_curves");
    cairo_surface_destroy(s);
    return st;
}

nb_status nb_plot_series(const char *path, const char *title, int n_panels,
                         const nb_plot_panel *panels, int n_points) {
    if (!path) return nb__err(NB_ERR_ARG, "nb_plot_series: path is NULL");
    if (!panels) return nb__err(NB_ERR_ARG, "nb_plot_series: %s: panels is NULL", path);
    if (n_panels < 1 || n_panels > 4)
        return nb__err(NB_ERR_ARG, "nb_plot_series: %s: %d panels; expected 1..4", path,
                       n_panels);
    if (n_points < 0)
        return nb__err(NB_ERR_ARG, "nb_plot_series: %s: %d points; expected 0 or more", path,
                       n_points);
    for (int i = 0; i < n_panels; i++) {
        int ns = panels[i].n_series;
        if (ns < 0 || ns > NB_PLOT_MAX_SERIES)
            return nb__err(NB_ERR_ARG, "nb_plot_series: %s: panels[%d].n_series is %d; expected 0..%d",
                           path, i, ns, NB_PLOT_MAX_SERIES);
        for (int k = 0; k < ns; k++)
            if (!panels[i].y[k] && n_points > 0)
                return nb__err(NB_ERR_ARG, "nb_plot_series: %s: panels[%d].y[%d] is NULL", path, i, k);
    }
    /* 600 pixels a panel, as nb_plot_curves; a lone panel a little wider. */
    int W = n_panels == 1 ? 700 : 600 * n_panels, H = 500;
    cairo_t *cr;
    cairo_surface_t *s = nb__plot_canvas(W, H, "nb_plot_series", path, &cr);
    if (!s) return NB_ERR_MEM;
    double top = 10, pw = (double)W / n_panels;
    if (title && *title) {
        nb__plot_title(cr, W / 2.0, 36, 20, W - 40, title);
        top = 50;
    }
    for (int i = 0; i < n_panels; i++) {
        lines l = {panels[i].n_series, {0}, {0}};
        for (int k = 0; k < l.n_series; k++) {
            l.name[k] = panels[i].name[k];
            l.y[k] = n_points > 0 ? panels[i].y[k] : NULL;
        }
        draw_panel(cr, i * pw, top, pw, H - top, NULL, panels[i].ylabel, false, n_points, &l);
    }
    cairo_destroy(cr);
    nb_status st = nb__plot_write(s, path, "nb_plot_series");
    cairo_surface_destroy(s);
    return st;
}

/* ---- image grid ----------------------------------------------------------------------------- */

static void caption_of(char *buf, size_t cap, const char *const *names, int64_t pred,
                       const int64_t *truth, int i) {
    char a[32], b[32];
    const char *pn = names && pred >= 0 ? names[pred] : NULL;
    if (!pn) {
        snprintf(a, sizeof a, "%lld", (long long)pred);
        pn = a;
    }
    if (!truth) {
        snprintf(buf, cap, "%s", pn);
        return;
    }
    const char *tn = names && truth[i] >= 0 ? names[truth[i]] : NULL;
    if (!tn) {
        snprintf(b, sizeof b, "%lld", (long long)truth[i]);
        tn = b;
    }
    snprintf(buf, cap, "%s (%s)", pn, tn);
}

nb_status nb_plot_image_grid(const char *path, const uint8_t *images, int n, int h, int w,
                             int cols, const int64_t *pred, const int64_t *truth,
                             const char *const *names) {
    if (!path) return nb__err(NB_ERR_ARG, "nb_plot_image_grid: path is NULL");
    if (!images || !pred)
        return nb__err(NB_ERR_ARG, "nb_plot_image_grid: %s: images or pred is NULL", path);
    if (n < 1 || h < 1 || w < 1 || cols < 1 || h > 4096 || w > 4096 || n > 100000)
        return nb__err(NB_ERR_ARG,
                       "nb_plot_image_grid: %s: %d images of %d x %d in %d columns; expected "
                       "1..100000 images of 1..4096 pixels a side and cols >= 1",
                       path, n, h, w, cols);
    if (cols > n) cols = n;
    int rows = (n + cols - 1) / cols;
    /* Scale small images up (28 -> 84 pixels) with nearest-neighbour sampling. */
    int side = h > w ? h : w, scale = (84 + side - 1) / side;
    if (scale < 1) scale = 1;

    /* Measure the captions on a scratch surface to size the cells. */
    const double cap_size = 13, gap = 14, margin = 16, header = 40, cap_h = 22;
    cairo_surface_t *scratch = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
    cairo_t *cm = cairo_create(scratch);
    nb__plot_font(cm, cap_size, false);
    char buf[160];
    double widest = 0;
    for (int i = 0; i < n; i++) {
        caption_of(buf, sizeof buf, names, pred[i], truth, i);
        widest = fmax(widest, nb__plot_text_w(cm, buf));
    }
    cairo_destroy(cm);
    cairo_surface_destroy(scratch);
    double img_w = (double)w * scale, img_h = (double)h * scale;
    double cell_w = ceil(fmax(img_w, fmin(widest, 190.0))) + gap;
    double cell_h = img_h + cap_h + gap;
    double tw = 2 * margin + cols * cell_w - gap, th = header + margin + rows * cell_h - gap;
    if (tw > 32000 || th > 32000)
        return nb__err(NB_ERR_ARG,
                       "nb_plot_image_grid: %s: a %.0f x %.0f picture is too large; show fewer "
                       "images or more columns",
                       path, th, tw);

    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)tw, (int)th);
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(s);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS ||
        cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_destroy(cr);
        cairo_surface_destroy(s);
        cairo_surface_destroy(img);
        return nb__err(NB_ERR_MEM, "nb_plot_image_grid: %s: cannot create a %.0f x %.0f picture",
                       path, th, tw);
    }
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    nb__plot_font(cr, 14, false);
    nb__plot_rgb(cr, NB_COL_TEXT);
    nb__plot_text_at(cr, margin, 26, 0,
            truth ? "Captions: predicted (true) class \xe2\x80\x94 green when right, red when wrong"
                  : "Captions: predicted class");

    int stride = cairo_image_surface_get_stride(img);
    for (int i = 0; i < n; i++) {
        /* Copy image i (H, W) of gray bytes into the xRGB surface. */
        const uint8_t *src = images + (size_t)i * (size_t)h * (size_t)w;
        cairo_surface_flush(img);
        unsigned char *dst = cairo_image_surface_get_data(img);
        for (int y = 0; y < h; y++) {
            uint32_t *row = (uint32_t *)(void *)(dst + (size_t)y * stride);
            for (int x = 0; x < w; x++) {
                uint32_t g = src[(size_t)y * w + x];
                row[x] = 0xff000000u | g << 16 | g << 8 | g;
            }
        }
        cairo_surface_mark_dirty(img);

        double cx = margin + (i % cols) * cell_w, cy = header + (i / cols) * cell_h;
        double ix = cx + floor((cell_w - gap - img_w) / 2);
        cairo_save(cr);
        cairo_translate(cr, ix, cy);
        cairo_scale(cr, scale, scale);
        cairo_set_source_surface(cr, img, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
        cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
        cairo_rectangle(cr, 0, 0, w, h);
        cairo_fill(cr);
        cairo_restore(cr);
        cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
        cairo_set_line_width(cr, 1.0);
        cairo_rectangle(cr, ix - 0.5, cy - 0.5, img_w + 1, img_h + 1);
        cairo_stroke(cr);

        /* Caption, shrunk to fit its cell when the names are long. */
        caption_of(buf, sizeof buf, names, pred[i], truth, i);
        double size = cap_size;
        nb__plot_font(cr, size, false);
        double avail = cell_w - gap + 10;
        while (nb__plot_text_w(cr, buf) > avail && size > 8) {
            size -= 0.5;
            nb__plot_font(cr, size, false);
        }
        if (!truth) nb__plot_rgb(cr, NB_COL_TEXT);
        else nb__plot_rgb(cr, pred[i] == truth[i] ? COL_RIGHT : COL_WRONG);
        nb__plot_text_at(cr, cx + (cell_w - gap) / 2, cy + img_h + 16, 0.5, buf);
    }
    cairo_destroy(cr);
    cairo_surface_destroy(img);
    nb_status st = nb__plot_write(s, path, "nb_plot_image_grid");
    cairo_surface_destroy(s);
    return st;
}
