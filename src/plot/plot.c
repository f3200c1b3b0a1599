/* Pictures drawn with cairo: training curves (loss and accuracy panels with nice ticks, axis
 * titles, legends and per-epoch markers) and captioned image grids. Both are written
 * atomically through the helpers in png.c. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <unistd.h>

/* plot/png.c */

#define FONT "DejaVu Sans"
#define NB_PI 3.14159265358979323846

typedef struct rgb {
    double r, g, b;
} rgb;

static const rgb COL_TRAIN = {0.122, 0.467, 0.706}; /* #1f77b4 */
static const rgb COL_TEST = {1.000, 0.498, 0.055};  /* #ff7f0e */
static const rgb COL_TEXT = {0.13, 0.13, 0.13};
static const rgb COL_AXIS = {0.35, 0.35, 0.35};
static const rgb COL_GRID = {0.90, 0.90, 0.90};
static const rgb COL_RIGHT = {0.10, 0.56, 0.10}; /* captions of correct predictions */
static const rgb COL_WRONG = {0.84, 0.10, 0.10}; /* and of wrong ones */

static void set_rgb(cairo_t *cr, rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

static void font(cairo_t *cr, double size, bool bold) {
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_w(cairo_t *cr, const char *s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Draws s with its baseline at y; align 0 = left at x, 0.5 = centred, 1 = right. */
static void text_at(cairo_t *cr, double x, double y, double align, const char *s) {
    cairo_move_to(cr, x - align * text_w(cr, s), y);
    cairo_show_text(cr, s);
}

/* Renders surface s into "<path>.tmp.<pid>" and renames it over path. */
static nb_status write_surface(cairo_surface_t *s, const char *path, const char *fn) {
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

/* ---- curves --------------------------------------------------------------------------------- */

/* A "nice" step (1, 2 or 5 times a power of ten) giving at most about max_ticks intervals. */
static double nice_step(double range, int max_ticks) {
    double raw = range / max_ticks;
    double mag = pow(10.0, floor(log10(raw)));
    double norm = raw / mag;
    double f = norm <= 1.0 ? 1.0 : norm <= 2.0 ? 2.0 : norm <= 5.0 ? 5.0 : 10.0;
    return f * mag;
}

typedef struct axis {
    double lo, hi, step; /* visible range and tick spacing */
    int decimals;        /* of tick labels; -1 = %g */
} axis;

/* Range of the finite values of up to two series; false when there are none. */
static bool data_range(int n, const double *a, const double *b, double *lo, double *hi) {
    bool any = false;
    const double *s[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        if (!s[k]) continue;
        for (int i = 0; i < n; i++) {
            double v = s[k][i];
            if (!isfinite(v)) continue;
            if (!any || v < *lo) *lo = v;
            if (!any || v > *hi) *hi = v;
            any = true;
        }
    }
    return any;
}

/* A value axis around [lo, hi] with nice ends; unit01 keeps it inside [0, 1] when the data
 * are, and it starts at 0 rather than below when the data are nonnegative. */
static axis value_axis(bool any, double lo, double hi, bool unit01) {
    axis a;
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
    bool nonneg = lo >= 0.0, in01 = unit01 && lo >= 0.0 && hi <= 1.0;
    double span = hi - lo, mag = fmax(fabs(lo), fabs(hi));
    if (span <= 1e-9 * mag || span == 0.0) { /* all equal: open a window around the value */
        double pad = mag > 0.0 ? 0.1 * mag : 0.5;
        lo -= pad;
        hi += pad;
    } else {
        lo -= 0.05 * span;
        hi += 0.05 * span;
    }
    a.step = nice_step(hi - lo, 5);
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

static void tick_label(char *buf, size_t cap, const axis *a, double v) {
    if (fabs(v) < a->step * 1e-9) v = 0.0; /* no "-0.00" */
    if (a->decimals < 0) snprintf(buf, cap, "%.3g", v);
    else snprintf(buf, cap, "%.*f", a->decimals, v);
}

typedef struct panel {
    double x0, y0, x1, y1; /* plot rectangle in pixels (y0 at the top) */
    axis xa, ya;
} panel;

static double px_x(const panel *p, double v) {
    return p->x0 + (v - p->xa.lo) / (p->xa.hi - p->xa.lo) * (p->x1 - p->x0);
}
static double px_y(const panel *p, double v) {
    return p->y1 - (v - p->ya.lo) / (p->ya.hi - p->ya.lo) * (p->y1 - p->y0);
}

static void marker(cairo_t *cr, double x, double y, double r, bool square) {
    if (square) cairo_rectangle(cr, x - r, y - r, 2 * r, 2 * r);
    else cairo_arc(cr, x, y, r, 0, 2 * NB_PI);
}

/* One series: a line broken at non-finite values, and a marker on every finite epoch. */
static void draw_series(cairo_t *cr, const panel *p, int n, const double *v, rgb col,
                        bool square, double mr) {
    set_rgb(cr, col);
    cairo_set_line_width(cr, 2.2);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    bool pen = false;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            pen = false;
            continue;
        }
        double x = px_x(p, i + 1), y = px_y(p, v[i]);
        if (pen) cairo_line_to(cr, x, y);
        else cairo_move_to(cr, x, y);
        pen = true;
    }
    cairo_stroke(cr);
    if (mr <= 0) return;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        marker(cr, px_x(p, i + 1), px_y(p, v[i]), mr, square);
        set_rgb(cr, col);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 1.0);
        cairo_stroke(cr);
    }
}

/* Points of the series that fall inside the box (for placing the legend). */
static int points_in(const panel *p, int n, const double *v, double bx, double by, double bw,
                     double bh) {
    int c = 0;
    if (!v) return 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        double x = px_x(p, i + 1), y = px_y(p, v[i]);
        if (x >= bx - 8 && x <= bx + bw + 8 && y >= by - 8 && y <= by + bh + 8) c++;
        /* Segments crossing the box count too: sample their midpoints. */
        if (i + 1 < n && isfinite(v[i + 1])) {
            double mx = (x + px_x(p, i + 2)) / 2, my = (y + px_y(p, v[i + 1])) / 2;
            if (mx >= bx && mx <= bx + bw && my >= by && my <= by + bh) c++;
        }
    }
    return c;
}

static void draw_legend(cairo_t *cr, const panel *p, int n, const double *tr, const double *te,
                        double mr) {
    const char *lab[2] = {"train", "test"};
    const double *ser[2] = {tr, te};
    int count = (tr != NULL) + (te != NULL);
    if (count == 0) return;
    font(cr, 13, false);
    double bw = 36 + fmax(text_w(cr, "train"), text_w(cr, "test")) + 14, bh = 10 + 20 * count;
    /* Try the four corners and keep the one that hides the fewest points. */
    double pad = 10, best_x = 0, best_y = 0;
    int best = -1;
    for (int c = 0; c < 4; c++) {
        double bx = (c & 1) ? p->x0 + pad : p->x1 - pad - bw;
        double by = (c & 2) ? p->y1 - pad - bh : p->y0 + pad;
        int hits = points_in(p, n, tr, bx, by, bw, bh) + points_in(p, n, te, bx, by, bw, bh);
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
    for (int k = 0; k < 2; k++) {
        if (!ser[k]) continue;
        rgb col = k == 0 ? COL_TRAIN : COL_TEST;
        set_rgb(cr, col);
        cairo_set_line_width(cr, 2.2);
        cairo_move_to(cr, best_x + 8, y);
        cairo_line_to(cr, best_x + 32, y);
        cairo_stroke(cr);
        marker(cr, best_x + 20, y, mr > 0 ? mr : 3.5, k == 1);
        cairo_fill(cr);
        set_rgb(cr, COL_TEXT);
        text_at(cr, best_x + 40, y + 4.5, 0, lab[k]);
        y += 20;
    }
}

/* One panel in the box [bx, bx + bw] x [by, by + bh]. */
static void draw_panel(cairo_t *cr, double bx, double by, double bw, double bh, const char *name,
                       const char *ylabel, bool unit01, int n, const double *tr,
                       const double *te) {
    panel p;
    double lo = 0, hi = 0;
    bool any = data_range(n, tr, te, &lo, &hi);
    p.ya = value_axis(any, lo, hi, unit01);
    /* Epochs 1..n with half a marker of air at the ends; integer ticks. */
    double xpad = n > 1 ? fmax(0.3, 0.02 * (n - 1)) : 1.0;
    p.xa.lo = 1 - xpad;
    p.xa.hi = n + xpad;
    p.xa.step = n > 1 ? fmax(1.0, nice_step(n - 1, 8)) : 1.0;
    p.xa.decimals = 0;

    /* The left margin fits the widest tick label and the rotated axis title. */
    char buf[64];
    font(cr, 12, false);
    double lab_w = 0;
    int yt0 = (int)ceil(p.ya.lo / p.ya.step - 1e-9), yt1 = (int)floor(p.ya.hi / p.ya.step + 1e-9);
    for (int t = yt0; t <= yt1; t++) {
        tick_label(buf, sizeof buf, &p.ya, t * p.ya.step);
        lab_w = fmax(lab_w, text_w(cr, buf));
    }
    p.x0 = bx + 30 + lab_w + 10;
    p.x1 = bx + bw - 20;
    p.y0 = by + 34;
    p.y1 = by + bh - 52;

    /* Panel name above the plot. */
    set_rgb(cr, COL_TEXT);
    font(cr, 15, true);
    text_at(cr, (p.x0 + p.x1) / 2, by + 20, 0.5, name);

    /* Grid lines and tick labels. */
    cairo_set_line_width(cr, 1.0);
    font(cr, 12, false);
    for (int t = yt0; t <= yt1; t++) {
        double v = t * p.ya.step, y = round(px_y(&p, v)) + 0.5;
        set_rgb(cr, COL_GRID);
        cairo_move_to(cr, p.x0, y);
        cairo_line_to(cr, p.x1, y);
        cairo_stroke(cr);
        set_rgb(cr, COL_TEXT);
        tick_label(buf, sizeof buf, &p.ya, v);
        text_at(cr, p.x0 - 8, y + 4.5, 1.0, buf);
    }
    int xt0 = (int)ceil(p.xa.lo / p.xa.step), xt1 = (int)floor(p.xa.hi / p.xa.step);
    for (int t = xt0; t <= xt1; t++) {
        double v = t * p.xa.step;
        if (v < 1 || v > n) continue;
        double x = round(px_x(&p, v)) + 0.5;
        set_rgb(cr, COL_GRID);
        cairo_move_to(cr, x, p.y0);
        cairo_line_to(cr, x, p.y1);
        cairo_stroke(cr);
        set_rgb(cr, COL_AXIS);
        cairo_move_to(cr, x, p.y1);
        cairo_line_to(cr, x, p.y1 + 5);
        cairo_stroke(cr);
        set_rgb(cr, COL_TEXT);
        snprintf(buf, sizeof buf, "%d", (int)v);
        text_at(cr, x, p.y1 + 19, 0.5, buf);
    }
    /* Frame. */
    set_rgb(cr, COL_AXIS);
    cairo_rectangle(cr, round(p.x0) + 0.5, round(p.y0) + 0.5, round(p.x1 - p.x0),
                    round(p.y1 - p.y0));
    cairo_stroke(cr);

    /* Axis titles. */
    font(cr, 13, false);
    set_rgb(cr, COL_TEXT);
    text_at(cr, (p.x0 + p.x1) / 2, p.y1 + 40, 0.5, "epoch");
    cairo_save(cr);
    cairo_translate(cr, bx + 20, (p.y0 + p.y1) / 2);
    cairo_rotate(cr, -NB_PI / 2);
    text_at(cr, 0, 0, 0.5, ylabel);
    cairo_restore(cr);

    /* The series, clipped to the plot. */
    double mr = n > 80 ? 0.0 : n > 30 ? 2.5 : 3.5;
    cairo_save(cr);
    cairo_rectangle(cr, p.x0, p.y0, p.x1 - p.x0, p.y1 - p.y0);
    cairo_clip(cr);
    if (tr) draw_series(cr, &p, n, tr, COL_TRAIN, false, mr);
    if (te) draw_series(cr, &p, n, te, COL_TEST, true, mr);
    cairo_restore(cr);
    if (!any) {
        font(cr, 14, false);
        set_rgb(cr, COL_AXIS);
        text_at(cr, (p.x0 + p.x1) / 2, (p.y0 + p.y1) / 2, 0.5, "no data");
    }
    draw_legend(cr, &p, n, tr, te, mr);
}

nb_status nb_plot_curves(const char *path, const char *title, int n, const double *train_loss,
                         const double *test_loss, const double *train_acc,
                         const double *test_acc) {
    if (!path) return nb__err(NB_ERR_ARG, "nb_plot_curves: path is NULL");
    if (n < 1 || n > 1000000)
        return nb__err(NB_ERR_ARG, "nb_plot_curves: %s: %d epochs; expected 1..1000000", path, n);
    enum { W = 1200, H = 500 };
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        nb_status st = nb__err(NB_ERR_MEM, "nb_plot_curves: %s: cannot create a %dx%d picture (%s)",
                               path, W, H, cairo_status_to_string(cairo_status(cr)));
        cairo_destroy(cr);
        cairo_surface_destroy(s);
        return st;
    }
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    double top = 10;
    if (title && *title) {
        double size = 20;
        font(cr, size, true);
        while (text_w(cr, title) > W - 40 && size > 9) { /* long titles shrink to fit */
            size -= 1;
            font(cr, size, true);
        }
        set_rgb(cr, COL_TEXT);
        text_at(cr, W / 2.0, 36, 0.5, title);
        top = 50;
    }
    draw_panel(cr, 0, top, W / 2.0, H - top, "Loss", "loss", false, n, train_loss, test_loss);
    draw_panel(cr, W / 2.0, top, W / 2.0, H - top, "Accuracy", "accuracy", true, n, train_acc,
               test_acc);
    cairo_destroy(cr);
    nb_status st = write_surface(s, path, "nb_plot_curves");
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
    font(cm, cap_size, false);
    char buf[160];
    double widest = 0;
    for (int i = 0; i < n; i++) {
        caption_of(buf, sizeof buf, names, pred[i], truth, i);
        widest = fmax(widest, text_w(cm, buf));
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
    font(cr, 14, false);
    set_rgb(cr, COL_TEXT);
    text_at(cr, margin, 26, 0,
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
        font(cr, size, false);
        double avail = cell_w - gap + 10;
        while (text_w(cr, buf) > avail && size > 8) {
            size -= 0.5;
            font(cr, size, false);
        }
        if (!truth) set_rgb(cr, COL_TEXT);
        else set_rgb(cr, pred[i] == truth[i] ? COL_RIGHT : COL_WRONG);
        text_at(cr, cx + (cell_w - gap) / 2, cy + img_h + 16, 0.5, buf);
    }
    cairo_destroy(cr);
    cairo_surface_destroy(img);
    nb_status st = write_surface(s, path, "nb_plot_image_grid");
    cairo_surface_destroy(s);
    return st;
}
