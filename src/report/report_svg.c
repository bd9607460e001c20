/* report_svg.c — the charts of the HTML report as inline SVG, drawn in C:
 * heat map (confusion matrix), grouped bars with error bars, histogram of
 * one or more series, paired differences (sorted strip or histogram), line
 * charts (their polylines are reduced in report_lines.c).
 *
 * Every chart has a <title> and a <desc> (referenced by aria-labelledby),
 * numbers on its axes, axis titles and a legend for its series; each mark
 * carries a <title> tooltip with its exact value. Text width is estimated
 * (CHAR_W per code point) since no font metrics are available; long labels
 * are cut with "…" and keep their full text in a tooltip. The size of the
 * output is bounded by the data's shape, never by the number of raw values
 * (histograms are binned in report.c, strips hold at most
 * ONC_REPORT_PAIRED_STRIP_MAX bars). Colours: Okabe-Ito for series
 * (rep_palette), a sequential blue scale for the heat map. No JavaScript,
 * no ids other than figure-N-title / figure-N-desc. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

#define CHAR_W 7.0    /* estimated advance of a 12px sans-serif character (DejaVu Sans is wide) */
#define LABEL_MAX 28  /* longer labels are cut */
#define TITLE_MAX 64  /* longer axis titles are cut */
#define TOOLTIP_MAX 4 /* bytes per code point: buffers for cut labels */

// --- helpers ---------------------------------------------------------------------------------

static double dmax(double a, double b) { return a > b ? a : b; }
static double dmin(double a, double b) { return a < b ? a : b; }

/* Width of a label (cut at max_cp code points) in a font of `px` pixels. */
static double label_w(const char *s, size_t max_cp, double px) {
    size_t n = rep_utf8_len(s);
    if (n > max_cp) n = max_cp;
    return (double)n * CHAR_W * px / 12.0;
}

/* <text ATTRS>label</text>, the label cut at max_cp code points; the full
 * label as a tooltip when cut. */
static void svg_label(rep_buf *b, const char *attrs, const char *s, size_t max_cp) {
    char cut[TITLE_MAX * TOOLTIP_MAX + 8];
    if (max_cp > TITLE_MAX) max_cp = TITLE_MAX;
    if (max_cp < 2) max_cp = 2;
    rep_utf8_trunc(cut, sizeof cut, s, max_cp);
    rep_buf_printf(b, "<text %s>", attrs);
    rep_buf_html(b, cut);
    if (strcmp(cut, s) != 0) {
        rep_buf_puts(b, "<title>");
        rep_buf_html(b, s);
        rep_buf_puts(b, "</title>");
    }
    rep_buf_puts(b, "</text>\n");
}

static void svg_begin(rep_buf *b, int number, double w, double h, const char *label, const char *desc) {
    rep_buf_printf(b,
                   "<svg class=\"chart\" role=\"img\" aria-labelledby=\"figure-%d-title figure-%d-desc\" "
                   "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n<title id=\"figure-%d-title\">",
                   number, number, ceil(w), ceil(h), ceil(w), ceil(h), number);
    rep_buf_html(b, label);
    rep_buf_printf(b, "</title>\n<desc id=\"figure-%d-desc\">", number);
    rep_buf_html(b, desc);
    rep_buf_puts(b, "</desc>\n");
}

static void svg_no_data(rep_buf *b, int number, const char *caption) {
    svg_begin(b, number, 360, 48, caption ? caption : "Chart", "No data.");
    rep_buf_puts(b, "<rect x=\"0.5\" y=\"0.5\" width=\"359\" height=\"47\" fill=\"#fafafa\" stroke=\"#ccc\"/>\n"
                    "<text x=\"180\" y=\"29\" text-anchor=\"middle\" class=\"na\">No data</text>\n</svg>\n");
}

/* Legend entries: a swatch of `colour` drawn as `glyph`, then the label. */
typedef enum legend_glyph {
    GLYPH_BOX,      /* filled square */
    GLYPH_SOFT_BOX, /* translucent square with an outline (overlaid histograms) */
    GLYPH_DASH,     /* dashed line (a mean) */
    GLYPH_INTERVAL, /* error bar (an interval) */
    GLYPH_LINE,     /* solid line (a series of a line chart) */
} legend_glyph;

typedef struct legend_item {
    const char *colour;
    const char *label;
    legend_glyph glyph;
} legend_item;

#define LEGEND_ROW 20
static double legend_item_w(const legend_item *it) { return 20 + label_w(it->label, 40, 12) + 18; }

/* Height of the legend laid out in rows no wider than avail. */
static double legend_height(const legend_item *items, size_t n, double avail) {
    if (n == 0) return 0;
    double x = 0;
    int rows = 1;
    for (size_t i = 0; i < n; i++) {
        const double w = legend_item_w(&items[i]);
        if (x > 0 && x + w > avail) {
            rows++;
            x = 0;
        }
        x += w;
    }
    return rows * LEGEND_ROW;
}

static void legend_draw(rep_buf *b, double x0, double y0, double avail, const legend_item *items, size_t n) {
    double x = 0, y = y0;
    rep_buf_puts(b, "<g class=\"legend\">\n");
    for (size_t i = 0; i < n; i++) {
        const legend_item *it = &items[i];
        const double w = legend_item_w(it);
        if (x > 0 && x + w > avail) {
            x = 0;
            y += LEGEND_ROW;
        }
        const double gx = x0 + x, gy = y + 3;
        switch (it->glyph) {
        case GLYPH_BOX:
            rep_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"13\" height=\"13\" fill=\"%s\"/>\n", gx, gy,
                           it->colour);
            break;
        case GLYPH_SOFT_BOX:
            rep_buf_printf(b,
                           "<rect x=\"%.1f\" y=\"%.1f\" width=\"13\" height=\"13\" fill=\"%s\" fill-opacity=\"0.45\" "
                           "stroke=\"%s\"/>\n",
                           gx + 0.5, gy + 0.5, it->colour, it->colour);
            break;
        case GLYPH_DASH:
        case GLYPH_LINE:
            rep_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", gx, gy + 6.5,
                           gx + 14, it->colour, it->glyph == GLYPH_DASH ? " stroke-dasharray=\"4 3\"" : "");
            break;
        case GLYPH_INTERVAL:
            rep_buf_printf(b,
                           "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" stroke=\"%s\" "
                           "stroke-width=\"1.5\" fill=\"none\"/>\n",
                           gx + 6.5, gy, gy + 13, gx + 3, gy, gx + 10, gx + 3, gy + 13, gx + 10, it->colour);
            break;
        }
        char attrs[96];
        snprintf(attrs, sizeof attrs, "x=\"%.1f\" y=\"%.1f\"", gx + 19, gy + 11);
        svg_label(b, attrs, it->label, 40);
        x += w;
    }
    rep_buf_puts(b, "</g>\n");
}

/* Pixel position of value v on an axis [t.first, t.last] drawn from p0 (at
 * t.first) to p1 (at t.last). */
static double axis_pos(const rep_ticks *t, double v, double p0, double p1) {
    return p0 + (v - t->first) / (t->last - t->first) * (p1 - p0);
}

/* Label of tick i of t (10^v on a log axis, with the digits it needs). */
static const char *tick_label(char num[REP_NUM_MAX], const rep_ticks *t, int i) {
    const double v = t->first + i * t->step;
    if (!t->log10) return rep_fmt(num, v, t->decimals);
    const double k = round(v);
    return rep_fmt(num, pow(10.0, k), k < 0 ? (int)-k : 0);
}

/* Width of the widest tick label of t. */
static double ticks_label_w(const rep_ticks *t) {
    char num[REP_NUM_MAX];
    double w = 0;
    for (int i = 0; i < t->n_ticks; i++) w = dmax(w, label_w(tick_label(num, t, i), 20, 12));
    return w;
}

/* Value axis on the left: grid lines from x0 to x1, tick labels left of x0,
 * the title rotated at title_x. The plot spans top..top+ph. */
static void svg_y_axis(rep_buf *b, const rep_ticks *t, double x0, double x1, double top, double ph, const char *title,
                       double title_x) {
    char num[REP_NUM_MAX];
    rep_buf_puts(b, "<path stroke=\"#e4e4e4\" stroke-width=\"1\" d=\"");
    for (int i = 0; i < t->n_ticks; i++) {
        const double y = axis_pos(t, t->first + i * t->step, top + ph, top);
        rep_buf_printf(b, "M%.1f %.1fH%.1f", x0, y, x1);
    }
    rep_buf_puts(b, "\"/>\n<g class=\"tick\" text-anchor=\"end\">\n");
    for (int i = 0; i < t->n_ticks; i++) {
        const double v = t->first + i * t->step;
        const double y = axis_pos(t, v, top + ph, top);
        rep_buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">%s</text>\n", x0 - 6, y + 4,
                       tick_label(num, t, i));
    }
    rep_buf_printf(b, "</g>\n<path d=\"M%.1f %.1fV%.1f\" stroke=\"#555\"/>\n", x0, top, top + ph);
    if (title) {
        char attrs[160];
        snprintf(attrs, sizeof attrs,
                 "class=\"axis-title\" text-anchor=\"middle\" transform=\"translate(%.1f %.1f) rotate(-90)\"", title_x,
                 top + ph / 2);
        svg_label(b, attrs, title, (size_t)((ph - 8) / (CHAR_W * 13 / 12))); /* cut to the height of the plot */
    }
}

/* Numeric axis along the bottom from x0 (value lo) to x1 (value hi) at y:
 * the axis line, tick marks and labels at nice steps inside [lo, hi]. */
static void svg_x_axis(rep_buf *b, double lo, double hi, double x0, double x1, double y) {
    const rep_ticks t = rep_nice_ticks(lo, hi, (int)dmax(2, floor((x1 - x0) / 90)));
    const double eps = t.step * 1e-6;
    char num[REP_NUM_MAX];
    rep_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f", x0, y, x1);
    for (int i = 0; i < t.n_ticks; i++) {
        const double v = t.first + i * t.step;
        if (v < lo - eps || v > hi + eps) continue;
        rep_buf_printf(b, "M%.1f %.1fv5", x0 + (v - lo) / (hi - lo) * (x1 - x0), y);
    }
    rep_buf_puts(b, "\" stroke=\"#555\" fill=\"none\"/>\n<g text-anchor=\"middle\">\n");
    for (int i = 0; i < t.n_ticks; i++) {
        const double v = t.first + i * t.step;
        if (v < lo - eps || v > hi + eps) continue;
        rep_buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                       x0 + (v - lo) / (hi - lo) * (x1 - x0), y + 18, rep_fmt(num, v, t.decimals));
    }
    rep_buf_puts(b, "</g>\n");
}

static void svg_x_title(rep_buf *b, double cx, double y, const char *title) {
    if (!title) return;
    rep_buf_printf(b, "<text class=\"axis-title\" text-anchor=\"middle\" x=\"%.1f\" y=\"%.1f\">", cx, y);
    rep_buf_html(b, title);
    rep_buf_puts(b, "</text>\n");
}

/* Ticks for counts: whole steps from 0 to at least max_count. */
static rep_ticks count_ticks(double max_count) {
    rep_ticks t = rep_nice_ticks(0, dmax(max_count, 1), 5);
    if (t.step < 1) {
        t.step = 1;
        t.first = 0;
        t.last = ceil(dmax(max_count, 1));
        t.n_ticks = (int)t.last + 1;
    }
    t.decimals = 0;
    return t;
}

// --- heat map ------------------------------------------------------------------------------------

void rep_svg_heatmap(rep_buf *b, const rep_heatmap *h, int number) {
    const size_t nr = h->n_rows, nc = h->n_cols;
    if (nr == 0 || nc == 0) {
        svg_no_data(b, number, h->caption);
        return;
    }
    const size_t nmax = nr > nc ? nr : nc;
    const double cs = dmin(72, dmax(14, floor(640.0 / (double)nmax))); /* cell size */
    const double font = cs < 16 ? 10 : 12; /* labels of small cells use the "small" class (10px) */
    const char *size_class = cs < 16 ? "small" : "label";
    const int dec = rep_resolve_decimals(0, h->counts, nr * nc);
    char num[REP_NUM_MAX], colour[8], attrs[160];

    double row_w = 0, col_w = 0, tot_w = label_w("total", 10, 12), all = 0;
    bool any_na = false;
    for (size_t i = 0; i < nr; i++) {
        row_w = dmax(row_w, label_w(h->row_labels[i], LABEL_MAX, font));
        tot_w = dmax(tot_w, label_w(rep_fmt(num, h->row_totals[i], dec), 30, font));
        all += h->row_totals[i];
    }
    for (size_t j = 0; j < nc; j++) col_w = dmax(col_w, label_w(h->col_labels[j], LABEL_MAX, font));
    for (size_t k = 0; k < nr * nc; k++) any_na |= !isfinite(h->counts[k]);
    /* column labels: level when they fit, else turned 45 degrees, or 90
     * when the columns are too narrow for slanted text not to overlap */
    const int turn = col_w <= cs - 4 ? 0 : cs >= 22 ? 45 : 90;
    const double col_lab_h = turn == 0 ? 22 : turn == 45 ? col_w * 0.78 + 18 : col_w * 1.1 + 14; /* estimates run short */
    const double gx = 36 + row_w + 10, gy = 10, gw = (double)nc * cs, gh = (double)nr * cs;
    const double tot_x = gx + gw + 10, lx = tot_x + tot_w + 24;
    const double legend_h = 22 + 5 * 20 + (any_na ? 22 : 0);
    const double W = lx + 100, H = dmax(gy + gh + col_lab_h + 30, gy + legend_h + 10);

    rep_buf desc = {0};
    rep_buf_printf(&desc,
                   "Heat map of a confusion matrix: %zu %s classes (rows) by %zu %s classes (columns), %s items in "
                   "all. Each cell shows its count and its share of the row; the colour goes from white (0%% of "
                   "the row) to dark blue (100%%).",
                   nr, h->row_title, nc, h->col_title, rep_fmt(num, all, dec));
    svg_begin(b, number, W, H, h->caption, desc.p ? desc.p : "");
    b->failed |= desc.failed;
    free(desc.p);

    rep_buf_printf(b, "<text class=\"axis-title\" text-anchor=\"middle\" transform=\"translate(14 %.1f) rotate(-90)\">",
                   gy + gh / 2);
    rep_buf_html(b, h->row_title);
    rep_buf_puts(b, "</text>\n<g stroke=\"#fff\" stroke-width=\"1\">\n");
    for (size_t i = 0; i < nr; i++)
        for (size_t j = 0; j < nc; j++) {
            const double v = h->counts[i * nc + j], total = h->row_totals[i];
            const double f = isfinite(v) && total > 0 ? v / total : 0;
            rep_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", gx + j * cs,
                           gy + i * cs, cs, cs, isfinite(v) ? rep_heat_colour(colour, f) : REP_COLOUR_NA);
            rep_buf_html(b, h->row_title);
            rep_buf_puts(b, " ");
            rep_buf_html(b, h->row_labels[i]);
            rep_buf_puts(b, ", ");
            rep_buf_html(b, h->col_title);
            rep_buf_puts(b, " ");
            rep_buf_html(b, h->col_labels[j]);
            rep_buf_printf(b, ": %s", rep_fmt(num, v, dec));
            if (isfinite(v) && total > 0) rep_buf_printf(b, " (%.1f%% of the row)", 100 * f);
            rep_buf_puts(b, "</title></rect>\n");
        }
    rep_buf_puts(b, "</g>\n");

    /* cell text: count (and row share when the cell is big enough) */
    if (cs >= 24) {
        rep_buf_puts(b, "<g text-anchor=\"middle\">\n");
        for (size_t i = 0; i < nr; i++)
            for (size_t j = 0; j < nc; j++) {
                const double v = h->counts[i * nc + j], total = h->row_totals[i];
                const double f = isfinite(v) && total > 0 ? v / total : 0;
                const char *cls = isfinite(v) ? (rep_heat_dark(f) ? "on-dark" : "on-light") : "na";
                rep_fmt(num, v, dec);
                const double cx = gx + j * cs + cs / 2, cy = gy + i * cs + cs / 2;
                const bool two_lines = cs >= 44 && isfinite(v) && total > 0;
                if (label_w(num, 30, 12) > cs - 4) continue;
                rep_buf_printf(b, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\">%s</text>\n", cls, cx,
                               two_lines ? cy - 1 : cy + 4, num);
                if (two_lines)
                    rep_buf_printf(b, "<text class=\"%s small\" x=\"%.1f\" y=\"%.1f\">%.1f%%</text>\n", cls, cx, cy + 13,
                                   100 * f);
            }
        rep_buf_puts(b, "</g>\n");
    }

    /* row labels, row totals, column labels, column title */
    for (size_t i = 0; i < nr; i++) {
        const double y = gy + i * cs + cs / 2 + font * 0.35;
        snprintf(attrs, sizeof attrs, "class=\"%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\"", size_class, gx - 6, y);
        svg_label(b, attrs, h->row_labels[i], LABEL_MAX);
        rep_buf_printf(b, "<text class=\"tick %s\" x=\"%.1f\" y=\"%.1f\">%s</text>\n", size_class, tot_x, y,
                       rep_fmt(num, h->row_totals[i], dec));
    }
    rep_buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">total</text>\n", tot_x, gy + gh + 16);
    for (size_t j = 0; j < nc; j++) {
        const double cx = gx + j * cs + cs / 2;
        if (turn)
            snprintf(attrs, sizeof attrs,
                     "class=\"%s\" text-anchor=\"end\" transform=\"translate(%.1f %.1f) rotate(-%d)\"", size_class,
                     cx + font * (turn == 45 ? 0.3 : 0.35), gy + gh + 8, turn);
        else
            snprintf(attrs, sizeof attrs, "class=\"%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\"", size_class,
                     cx, gy + gh + 16);
        svg_label(b, attrs, h->col_labels[j], LABEL_MAX);
    }
    svg_x_title(b, gx + gw / 2, gy + gh + col_lab_h + 16, h->col_title);

    /* legend: the colour scale in five steps, and n/a */
    rep_buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">share of row</text>\n", lx, gy + 10);
    for (int k = 0; k < 5; k++) {
        const double f = 1 - 0.25 * k, y = gy + 20 + 20 * k;
        rep_buf_printf(b,
                       "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"16\" fill=\"%s\" stroke=\"#bbb\"/>"
                       "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">%.0f%%</text>\n",
                       lx + 0.5, y + 0.5, rep_heat_colour(colour, f), lx + 22, y + 13, 100 * f);
    }
    if (any_na)
        rep_buf_printf(b,
                       "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"16\" fill=\"%s\" stroke=\"#bbb\"/>"
                       "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">n/a</text>\n",
                       lx + 0.5, gy + 122.5, REP_COLOUR_NA, lx + 22, gy + 135);
    rep_buf_puts(b, "</svg>\n");
}

// --- grouped bars ------------------------------------------------------------------------------------

void rep_svg_bars(rep_buf *b, const rep_bars *c, int number) {
    const size_t nc = c->n_categories, ns = c->n_series;
    if (nc == 0 || ns == 0) {
        svg_no_data(b, number, c->caption);
        return;
    }
    double lo = 0, hi = c->y_range == ONC_REPORT_RANGE_UNIT ? 1 : 0;
    bool any_interval = false;
    for (size_t i = 0; i < nc * ns; i++) {
        const double v[3] = {c->values[i], c->lo ? c->lo[i] : NAN, c->hi ? c->hi[i] : NAN};
        for (int k = 0; k < 3; k++)
            if (isfinite(v[k])) {
                lo = dmin(lo, v[k]);
                hi = dmax(hi, v[k]);
            }
        any_interval |= c->lo && isfinite(c->lo[i]) && isfinite(c->hi[i]);
    }
    if (!(hi > lo)) hi = lo + 1;
    const rep_ticks t = rep_nice_ticks(lo, hi, 5);

    const double bw = dmin(36, dmax(5, floor((680.0 / (double)nc - 10) / (double)ns))); /* bar width */
    const double gap = dmax(10, floor(bw * 0.8));
    const double gw = (double)ns * bw + gap, pw = (double)nc * gw;
    double cat_w = 0;
    for (size_t k = 0; k < nc; k++) cat_w = dmax(cat_w, label_w(c->categories[k], LABEL_MAX, 12));
    const bool rotate = cat_w > gw - 4;
    const double lab_h = rotate ? cat_w * 0.72 + 18 : 22;

    legend_item items[REP_N_PALETTE * 4 + 1];
    size_t n_items = 0;
    for (size_t s = 0; s < ns && n_items < REP_N_PALETTE * 4; s++)
        items[n_items++] = (legend_item){rep_palette[s % REP_N_PALETTE], c->series[s], GLYPH_BOX};
    if (any_interval) items[n_items++] = (legend_item){"#222", c->interval_label, GLYPH_INTERVAL};
    const double left = 30 + ticks_label_w(&t) + 10;
    const double avail = dmax(pw, 420);
    const double top = 8 + legend_height(items, n_items, avail) + 10, ph = 240;
    const double W = left + avail + 16, H = top + ph + lab_h + (c->x_title ? 24 : 6);

    char num[REP_NUM_MAX], l[REP_NUM_MAX], h[REP_NUM_MAX], tl[REP_NUM_MAX], th[REP_NUM_MAX];
    rep_buf desc = {0};
    rep_buf_printf(&desc, "Grouped bar chart of %zu categories", nc);
    if (c->x_title) rep_buf_printf(&desc, " (%s)", c->x_title);
    rep_buf_printf(&desc, " by %zu series:", ns);
    for (size_t s = 0; s < ns; s++) rep_buf_printf(&desc, "%s %s", s ? "," : "", c->series[s]);
    rep_buf_printf(&desc, ". Value axis%s%s from %s to %s%s%s.", c->y_title ? " " : "", c->y_title ? c->y_title : "",
                   rep_fmt(tl, t.first, t.decimals), rep_fmt(th, t.last, t.decimals),
                   any_interval ? "; error bars show the " : "", any_interval ? c->interval_label : "");
    svg_begin(b, number, W, H, c->caption ? c->caption : "Bar chart", desc.p ? desc.p : "");
    b->failed |= desc.failed;
    free(desc.p);

    legend_draw(b, left, 8, avail, items, n_items);
    svg_y_axis(b, &t, left, left + pw, top, ph, c->y_title, 14);
    const double y0 = axis_pos(&t, dmin(dmax(0, t.first), t.last), top + ph, top);
    rep_buf errs = {0};
    for (size_t s = 0; s < ns; s++) {
        rep_buf_printf(b, "<g fill=\"%s\">\n", rep_palette[s % REP_N_PALETTE]);
        for (size_t k = 0; k < nc; k++) {
            const size_t i = k * ns + s;
            const double v = c->values[i];
            const double x = left + (double)k * gw + gap / 2 + (double)s * bw, w = bw > 6 ? bw - 1 : bw;
            if (!isfinite(v)) {
                rep_buf_printf(b,
                               "<text class=\"na small\" transform=\"translate(%.1f %.1f) rotate(-90)\">n/a</text>\n",
                               x + w / 2 + 3, y0 - 3);
                continue;
            }
            const double y = axis_pos(&t, v, top + ph, top);
            rep_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>", x, dmin(y, y0), w,
                           fabs(y - y0));
            rep_buf_html(b, c->categories[k]);
            rep_buf_puts(b, ", ");
            rep_buf_html(b, c->series[s]);
            rep_buf_printf(b, ": %s", rep_fmt(num, v, c->decimals));
            if (c->lo && isfinite(c->lo[i]) && isfinite(c->hi[i])) {
                rep_buf_puts(b, " (");
                rep_buf_html(b, c->interval_label);
                rep_buf_printf(b, " %s to %s)", rep_fmt(l, c->lo[i], c->decimals), rep_fmt(h, c->hi[i], c->decimals));
                const double ya = axis_pos(&t, c->lo[i], top + ph, top), yb = axis_pos(&t, c->hi[i], top + ph, top);
                const double cx = x + w / 2, cap = dmin(4, w / 2);
                rep_buf_printf(&errs, "M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f", cx, ya, yb, cx - cap, ya,
                               cx + cap, cx - cap, yb, cx + cap);
            }
            rep_buf_puts(b, "</title></rect>\n");
        }
        rep_buf_puts(b, "</g>\n");
    }
    rep_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#333\"/>\n", left, y0, left + pw);
    if (errs.len) rep_buf_printf(b, "<path d=\"%s\" stroke=\"#222\" stroke-width=\"1.4\" fill=\"none\"/>\n", errs.p);
    b->failed |= errs.failed;
    free(errs.p);

    char attrs[160];
    for (size_t k = 0; k < nc; k++) {
        const double cx = left + (double)k * gw + gw / 2;
        if (rotate)
            snprintf(attrs, sizeof attrs, "text-anchor=\"end\" transform=\"translate(%.1f %.1f) rotate(-40)\"", cx + 4,
                     top + ph + 12);
        else
            snprintf(attrs, sizeof attrs, "x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\"", cx, top + ph + 17);
        svg_label(b, attrs, c->categories[k], LABEL_MAX);
    }
    svg_x_title(b, left + pw / 2, top + ph + lab_h + 16, c->x_title);
    rep_buf_puts(b, "</svg>\n");
}

// --- histogram ---------------------------------------------------------------------------------------------

void rep_svg_histogram(rep_buf *b, const rep_histogram *h, int number) {
    const size_t ns = h->n_series, nb = h->bins.n_bins;
    if (ns == 0) {
        svg_no_data(b, number, h->caption);
        return;
    }
    const double lo = h->bins.edges[0], hi = h->bins.edges[nb];
    double max_count = 0;
    for (size_t s = 0; s < ns; s++)
        for (size_t i = 0; i < nb; i++) max_count = dmax(max_count, (double)h->series[s].counts[i]);
    const rep_ticks t = count_ticks(max_count);
    const bool overlay = h->layout == ONC_REPORT_HIST_OVERLAY && ns > 1;

    char names[REP_N_PALETTE * 4][LABEL_MAX * TOOLTIP_MAX + 40];
    legend_item items[REP_N_PALETTE * 4];
    size_t n_items = 0;
    for (size_t s = 0; s < ns && n_items < REP_N_PALETTE * 4; s++) {
        char cut[LABEL_MAX * TOOLTIP_MAX + 8];
        snprintf(names[n_items], sizeof names[n_items], "%s (n = %zu)",
                 rep_utf8_trunc(cut, sizeof cut, h->series[s].name, LABEL_MAX), h->series[s].n_counted);
        items[n_items] = (legend_item){rep_palette[s % REP_N_PALETTE], names[n_items], overlay ? GLYPH_SOFT_BOX : GLYPH_BOX};
        n_items++;
    }
    const double left = 30 + ticks_label_w(&t) + 10, pw = 640, ph = 220;
    const double top = 8 + legend_height(items, n_items, pw) + 10;
    const double W = left + pw + 24, H = top + ph + 26 + (h->x_title ? 22 : 4);

    char a[REP_NUM_MAX], z[REP_NUM_MAX];
    rep_buf desc = {0};
    rep_buf_printf(&desc, "Histogram%s%s of %zu series (", h->x_title ? " of " : "", h->x_title ? h->x_title : "", ns);
    for (size_t s = 0; s < ns; s++) rep_buf_printf(&desc, "%s%s", s ? ", " : "", h->series[s].name);
    rep_buf_printf(&desc, ") in %zu equal bins from %s to %s, %s; the height of a bar is the number of items in its bin.",
                   nb, rep_fmt(a, lo, h->edge_decimals), rep_fmt(z, hi, h->edge_decimals),
                   overlay ? "series drawn over each other" : "series side by side");
    svg_begin(b, number, W, H, h->caption ? h->caption : "Histogram", desc.p ? desc.p : "");
    b->failed |= desc.failed;
    free(desc.p);

    legend_draw(b, left, 8, pw, items, n_items);
    svg_y_axis(b, &t, left, left + pw, top, ph, "items", 14);
    const double bin_w = pw / (double)nb, base = top + ph;
    for (size_t s = 0; s < ns; s++) {
        const char *colour = rep_palette[s % REP_N_PALETTE];
        if (overlay) rep_buf_printf(b, "<g fill=\"%s\" fill-opacity=\"0.45\" stroke=\"%s\">\n", colour, colour);
        else rep_buf_printf(b, "<g fill=\"%s\">\n", colour);
        for (size_t i = 0; i < nb; i++) {
            const uint64_t n = h->series[s].counts[i];
            if (n == 0) continue;
            double x = left + (double)i * bin_w, w = bin_w;
            if (!overlay) {
                w = bin_w / (double)ns;
                x += (double)s * w;
            }
            const double y = axis_pos(&t, (double)n, base, top);
            rep_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>[%s, %s%c ", x + 0.5, y,
                           dmax(w - 1, 0.5), base - y, rep_fmt(a, h->bins.edges[i], h->edge_decimals),
                           rep_fmt(z, h->bins.edges[i + 1], h->edge_decimals), i + 1 == nb ? ']' : ')');
            rep_buf_html(b, h->series[s].name);
            rep_buf_printf(b, ": %llu</title></rect>\n", (unsigned long long)n);
        }
        rep_buf_puts(b, "</g>\n");
    }
    svg_x_axis(b, lo, hi, left, left + pw, base);
    svg_x_title(b, left + pw / 2, base + 42, h->x_title);
    rep_buf_puts(b, "</svg>\n");
}

// --- paired differences ----------------------------------------------------------------------------------------

/* The mean (dot) and its interval (whiskers) as a vertical marker at x. */
static void svg_mean_marker_v(rep_buf *b, const rep_paired *p, const rep_ticks *t, double x, double top, double ph) {
    if (p->ci_level > 0) {
        const double ya = axis_pos(t, p->ci_lo, top + ph, top), yb = axis_pos(t, p->ci_hi, top + ph, top);
        rep_buf_printf(b,
                       "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" stroke=\"#000\" stroke-width=\"2\" "
                       "fill=\"none\"/>\n",
                       x, ya, yb, x - 6, ya, x + 6, x - 6, yb, x + 6);
    }
    rep_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"#000\"/>\n", x,
                   axis_pos(t, p->mean, top + ph, top));
}

static void paired_strip(rep_buf *b, const rep_paired *p, const rep_ticks *t, double left, double top, double pw,
                         double ph) {
    const size_t n = p->n_finite;
    const double bar_w = pw / (double)n, y0 = axis_pos(t, 0, top + ph, top);
    char num[REP_NUM_MAX];
    if (p->ci_level > 0) {
        const double ya = axis_pos(t, p->ci_hi, top + ph, top), yb = axis_pos(t, p->ci_lo, top + ph, top);
        rep_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#000\" fill-opacity=\"0.07\"/>\n",
                       left, ya, pw, dmax(yb - ya, 1));
    }
    /* one group per colour: vermillion (a better), grey ticks (tied), green (b better) */
    static const char *const fills[3] = {REP_COLOUR_A_BETTER, "#999999", REP_COLOUR_B_BETTER};
    for (int g = 0; g < 3; g++) {
        rep_buf_printf(b, "<g fill=\"%s\" shape-rendering=\"crispEdges\">\n", fills[g]);
        for (size_t k = 0; k < n; k++) {
            const double d = p->sorted[k];
            if ((g == 0) != (d < 0) || (g == 1) != (d == 0)) continue;
            const double x = left + (double)k * bar_w, w = bar_w > 3 ? bar_w - 1 : dmax(bar_w, 0.6);
            const double y = axis_pos(t, d, top + ph, top);
            const double ytop = d == 0 ? y0 - 1 : dmin(y, y0), hgt = d == 0 ? 2 : dmax(fabs(y - y0), 0.8);
            rep_buf_printf(b, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\"><title>%s</title></rect>\n", x,
                           ytop, w, hgt, rep_fmt_signed(num, d, p->decimals));
        }
        rep_buf_puts(b, "</g>\n");
    }
    rep_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#333\" stroke-width=\"1.2\"/>\n", left, y0, left + pw);
    rep_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>\n",
                   left, axis_pos(t, p->mean, top + ph, top), left + pw);
    /* the mean with its interval, beside the strip */
    svg_mean_marker_v(b, p, t, left + pw + 44, top, ph);
    rep_buf_printf(b, "<text class=\"tick\" text-anchor=\"middle\" x=\"%.1f\" y=\"%.1f\">mean</text>\n", left + pw + 44,
                   top + ph + 18);
    rep_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#555\"/>\n", left, top + ph, left + pw);
    rep_buf_printf(b,
                   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">1</text>"
                   "<text class=\"tick\" text-anchor=\"end\" x=\"%.1f\" y=\"%.1f\">%zu</text>\n",
                   left, top + ph + 18, left + pw, top + ph + 18, n);
}

static void paired_histogram(rep_buf *b, const rep_paired *p, double left, double top, double pw, double ph) {
    const rep_bins *bins = &p->bins;
    const size_t nb = bins->n_bins;
    const double lo = bins->edges[0], hi = bins->edges[nb];
    double max_count = 0;
    for (size_t i = 0; i < nb; i++) max_count = dmax(max_count, (double)p->bin_counts[i]);
    const rep_ticks t = count_ticks(max_count * 1.15); /* headroom for the interval drawn at the top */
    const double base = top + ph, bin_w = pw / (double)nb;
    char a[REP_NUM_MAX], z[REP_NUM_MAX];
    const int dec = p->decimals > 4 ? p->decimals : 4;
    svg_y_axis(b, &t, left, left + pw, top, ph, "items", 14);
    for (size_t i = 0; i < nb; i++) {
        const uint64_t n = p->bin_counts[i];
        if (n == 0) continue;
        const double e0 = bins->edges[i], e1 = bins->edges[i + 1];
        const bool has_zero = e0 <= 0 && (0 < e1 || (i + 1 == nb && 0 <= e1));
        const char *fill = has_zero ? "#999999" : e0 > 0 ? REP_COLOUR_B_BETTER : REP_COLOUR_A_BETTER;
        const double y = axis_pos(&t, (double)n, base, top);
        rep_buf_printf(b,
                       "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>[%s, %s%c: "
                       "%llu items</title></rect>\n",
                       left + (double)i * bin_w + 0.5, y, dmax(bin_w - 1, 0.5), base - y, fill, rep_fmt_signed(a, e0, dec),
                       rep_fmt_signed(z, e1, dec), i + 1 == nb ? ']' : ')', (unsigned long long)n);
    }
    const double x0 = left + (0 - lo) / (hi - lo) * pw, xm = left + (p->mean - lo) / (hi - lo) * pw;
    rep_buf_printf(b, "<path d=\"M%.1f %.1fV%.1f\" stroke=\"#333\" stroke-width=\"1.2\"/>\n", x0, top, base);
    rep_buf_printf(b, "<path d=\"M%.1f %.1fV%.1f\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>\n", xm,
                   top + 14, base);
    if (p->ci_level > 0) {
        const double xa = left + (p->ci_lo - lo) / (hi - lo) * pw, xb = left + (p->ci_hi - lo) / (hi - lo) * pw;
        rep_buf_printf(b,
                       "<path d=\"M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fV%.1f\" stroke=\"#000\" stroke-width=\"2\" "
                       "fill=\"none\"/>\n",
                       xa, top + 8, xb, xa, top + 2, top + 14, xb, top + 2, top + 14);
    }
    rep_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"#000\"/>\n", xm, top + 8);
    svg_x_axis(b, lo, hi, left, left + pw, base);
}

void rep_svg_paired(rep_buf *b, const rep_paired *p, int number) {
    if (p->n_finite == 0) {
        svg_no_data(b, number, p->caption);
        return;
    }
    const bool strip = p->sorted != NULL;
    double lo = dmin(p->min, 0), hi = dmax(p->max, 0);
    if (p->ci_level > 0) {
        lo = dmin(lo, p->ci_lo);
        hi = dmax(hi, p->ci_hi);
    }
    if (!(hi > lo)) {
        lo -= 1;
        hi += 1;
    }
    const rep_ticks t = rep_nice_ticks(lo, hi, 6);

    char b_better[LABEL_MAX * TOOLTIP_MAX + 16], a_better[LABEL_MAX * TOOLTIP_MAX + 16], cut[LABEL_MAX * TOOLTIP_MAX + 8];
    char lvl[REP_NUM_MAX], ci_label[REP_NUM_MAX + 32];
    snprintf(b_better, sizeof b_better, "%s better", rep_utf8_trunc(cut, sizeof cut, p->b_name, LABEL_MAX));
    snprintf(a_better, sizeof a_better, "%s better", rep_utf8_trunc(cut, sizeof cut, p->a_name, LABEL_MAX));
    snprintf(ci_label, sizeof ci_label, "%s CI of the mean", rep_fmt_level(lvl, p->ci_level));
    legend_item items[5];
    size_t n_items = 0;
    items[n_items++] = (legend_item){REP_COLOUR_B_BETTER, b_better, GLYPH_BOX};
    items[n_items++] = (legend_item){REP_COLOUR_A_BETTER, a_better, GLYPH_BOX};
    if (p->n_tied || !strip) items[n_items++] = (legend_item){"#999999", strip ? "tied" : "about equal (bin of 0)", GLYPH_BOX};
    items[n_items++] = (legend_item){"#000", "mean difference", GLYPH_DASH};
    if (p->ci_level > 0) items[n_items++] = (legend_item){"#000", ci_label, GLYPH_INTERVAL};

    const double pw = 640, ph = 240;
    const double left = 30 + (strip ? ticks_label_w(&t) : 40) + 10;
    const double top = 8 + legend_height(items, n_items, pw) + 10;
    const double W = left + pw + (strip ? 76 : 24), H = top + ph + 48;

    /* axis titles: "difference in ROUGE-L F" (upright, short) for the strip,
     * "difference in ROUGE-L F (fine-tuned − baseline)" along the histogram */
    char title[LABEL_MAX * TOOLTIP_MAX * 3 + 48];
    char c1[LABEL_MAX * TOOLTIP_MAX + 8], c2[LABEL_MAX * TOOLTIP_MAX + 8];
    rep_utf8_trunc(cut, sizeof cut, p->metric, LABEL_MAX);
    if (strip)
        snprintf(title, sizeof title, "difference in %s", cut);
    else
        snprintf(title, sizeof title, "difference in %s (%s \xE2\x88\x92 %s)", cut,
                 rep_utf8_trunc(c1, sizeof c1, p->b_name, LABEL_MAX), rep_utf8_trunc(c2, sizeof c2, p->a_name, LABEL_MAX));
    rep_buf desc = {0};
    rep_buf_printf(&desc, "%s of the per-item differences. ",
                   strip ? "Bars sorted from the most negative to the most positive" : "Histogram");
    rep_paired_summary(&desc, p);
    svg_begin(b, number, W, H, p->caption ? p->caption : "Paired differences", desc.p ? desc.p : "");
    b->failed |= desc.failed;
    free(desc.p);

    legend_draw(b, left, 8, pw, items, n_items);
    if (strip) {
        svg_y_axis(b, &t, left, left + pw, top, ph, title, 14);
        paired_strip(b, p, &t, left, top, pw, ph);
        svg_x_title(b, left + pw / 2, top + ph + 36, "items, sorted by difference");
    } else {
        paired_histogram(b, p, left, top, pw, ph);
        svg_x_title(b, left + pw / 2, top + ph + 42, title);
    }
    rep_buf_puts(b, "</svg>\n");
}

// --- line chart ------------------------------------------------------------------------------------------------

/* Ticks of the y axis of a line chart: nice steps over the drawn range, or
 * whole decades of log10 on a log axis (at least one decade). */
static rep_ticks lines_y_ticks(const rep_lines *l) {
    if (!l->log_y) {
        double lo = l->y_lo, hi = l->y_hi;
        if (!(hi > lo)) {
            const double pad = lo != 0 ? fabs(lo) * 0.1 : 1;
            lo -= pad;
            hi += pad;
        }
        return rep_nice_ticks(lo, hi, 5);
    }
    const double lo = floor(log10(l->y_lo) + 1e-9), hi = ceil(log10(l->y_hi) - 1e-9);
    rep_ticks t = {.first = lo, .last = hi > lo ? hi : lo + 1, .step = 1, .decimals = 0, .log10 = true};
    t.n_ticks = (int)(t.last - t.first) + 1;
    return t;
}

void rep_svg_lines(rep_buf *b, const rep_lines *l, int number) {
    const size_t ns = l->n_series;
    if (ns == 0) {
        svg_no_data(b, number, l->caption);
        return;
    }
    const bool any = isfinite(l->x_lo);
    legend_item items[REP_N_PALETTE * 4];
    size_t n_items = 0;
    for (size_t s = 0; s < ns && n_items < REP_N_PALETTE * 4; s++)
        items[n_items++] = (legend_item){rep_palette[s % REP_N_PALETTE], l->series[s].name, GLYPH_LINE};
    const rep_ticks t = any ? lines_y_ticks(l) : rep_nice_ticks(0, 1, 5);
    const double left = 30 + ticks_label_w(&t) + 10, pw = 640, ph = 240;
    const double top = 8 + legend_height(items, n_items, pw) + 10;
    const double W = left + pw + 24, H = top + ph + 26 + (l->x_title ? 22 : 4);
    double x_lo = any ? l->x_lo : 0, x_hi = any ? l->x_hi : 1;
    if (!(x_hi > x_lo)) {
        x_lo -= 0.5;
        x_hi += 0.5;
    }

    char a[REP_NUM_MAX], z[REP_NUM_MAX], ya[REP_NUM_MAX], yz[REP_NUM_MAX];
    rep_buf desc = {0};
    rep_buf_printf(&desc, "Line chart of %zu series (", ns);
    for (size_t s = 0; s < ns; s++) rep_buf_printf(&desc, "%s%s", s ? ", " : "", l->series[s].name);
    rep_buf_printf(&desc, ")%s%s", l->y_title ? ": " : "", l->y_title ? l->y_title : "");
    rep_buf_printf(&desc, " against %s", l->x_title ? l->x_title : "x");
    if (any)
        rep_buf_printf(&desc, " from %s to %s; values from %s to %s on a %s axis", rep_fmt(a, l->x_lo, l->x_decimals),
                       rep_fmt(z, l->x_hi, l->x_decimals), rep_fmt(ya, l->y_lo, l->decimals),
                       rep_fmt(yz, l->y_hi, l->decimals), l->log_y ? "logarithmic" : "linear");
    else rep_buf_puts(&desc, "; no point to draw");
    rep_buf_puts(&desc, ". A gap in a line is a missing value.");
    svg_begin(b, number, W, H, l->caption ? l->caption : "Line chart", desc.p ? desc.p : "");
    b->failed |= desc.failed;
    free(desc.p);

    legend_draw(b, left, 8, pw, items, n_items);
    svg_y_axis(b, &t, left, left + pw, top, ph, l->y_title, 14);
    const rep_line_map map = {.x0 = left,
                              .x_lo = x_lo,
                              .x_scale = pw / (x_hi - x_lo),
                              .y0 = top + ph,
                              .y_first = t.first,
                              .y_scale = ph / (t.last - t.first)};
    for (size_t s = 0; s < ns; s++) {
        const char *colour = rep_palette[s % REP_N_PALETTE];
        rep_buf_printf(b,
                       "<g class=\"line\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\" "
                       "stroke-linecap=\"round\"><title>",
                       colour);
        rep_buf_html(b, l->series[s].name);
        rep_buf_printf(b, " (%zu points)</title>\n", l->series[s].n);
        rep_lines_polylines(b, l, s, &map);
        rep_buf_puts(b, "</g>\n");
    }
    svg_x_axis(b, x_lo, x_hi, left, left + pw, top + ph);
    svg_x_title(b, left + pw / 2, top + ph + 42, l->x_title);
    rep_buf_puts(b, "</svg>\n");
}
