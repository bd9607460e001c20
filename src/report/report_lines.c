/* report_lines.c — line charts (training and validation loss against the
 * step): adding one (copies of every name and point), the reduction of many
 * points to at most two per pixel column for the SVG polylines, and the
 * data table shared by Markdown and the HTML data table. The axes, legend
 * and frame of the SVG are drawn by rep_svg_lines in report_svg.c with the
 * helpers of the other charts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

// --- adding ------------------------------------------------------------------------------------

bool rep_lines_drawn(const rep_lines *l, double x, double y) {
    return isfinite(x) && isfinite(y) && (!l->log_y || y > 0);
}

void onc_report_add_lines(onc_report *r, const onc_report_lines *l) {
    ONC_ASSERT(l);
    ONC_ASSERT(l->n_series == 0 || (l->series && l->n_points && l->x && l->y));
    for (size_t s = 0; s < l->n_series; s++) {
        ONC_ASSERT(l->n_points[s] == 0 || (l->x[s] && l->y[s]));
        double prev = -INFINITY;
        for (size_t i = 0; i < l->n_points[s]; i++) { /* x non-decreasing among finite values */
            const double x = l->x[s][i];
            if (!isfinite(x)) continue;
            ONC_ASSERT(x >= prev);
            prev = x;
        }
    }
    if (!r || r->status != ONC_OK) return;
    rep_lines *m = rep_calloc(r, 1, sizeof *m);
    if (!m) return;
    m->caption = rep_text(r, l->caption, NULL, true);
    m->x_title = rep_text(r, l->x_title, NULL, true);
    m->y_title = rep_text(r, l->y_title, NULL, true);
    m->n_series = l->n_series;
    m->log_y = l->log_y;
    m->series = l->n_series ? rep_calloc(r, l->n_series, sizeof *m->series) : NULL;
    if (r->status != ONC_OK) return;
    m->x_lo = m->y_lo = INFINITY;
    m->x_hi = m->y_hi = -INFINITY;
    int x_dec = 0;
    bool auto_whole = true; /* every finite y whole: automatic decimals 0 */
    for (size_t s = 0; s < l->n_series; s++) {
        rep_line_series *ls = &m->series[s];
        ls->name = rep_text(r, l->series[s], "", true);
        ls->n = l->n_points[s];
        ls->x = rep_copy_doubles(r, l->x[s], ls->n);
        ls->y = rep_copy_doubles(r, l->y[s], ls->n);
        if (r->status != ONC_OK) return;
        if (rep_resolve_decimals(0, ls->x, ls->n) != 0) x_dec = 4;
        if (rep_resolve_decimals(0, ls->y, ls->n) != 0) auto_whole = false;
        for (size_t i = 0; i < ls->n; i++) {
            const double x = ls->x[i], y = ls->y[i];
            if (!rep_lines_drawn(m, x, y)) continue;
            ls->n_drawn++;
            m->x_lo = fmin(m->x_lo, x);
            m->x_hi = fmax(m->x_hi, x);
            m->y_lo = fmin(m->y_lo, y);
            m->y_hi = fmax(m->y_hi, y);
        }
    }
    if (!(m->x_lo <= m->x_hi)) m->x_lo = m->x_hi = m->y_lo = m->y_hi = NAN;
    m->x_decimals = x_dec;
    m->decimals = l->decimals != 0 ? rep_resolve_decimals(l->decimals, NULL, 0) : (auto_whole ? 0 : 4);
    rep_block *b = rep_push(r, REP_LINES);
    if (b) b->u.lines = m;
}

// --- SVG polylines -------------------------------------------------------------------------------

/* One run of drawn points being reduced to the lowest and highest y per
 * pixel column. */
typedef struct line_run {
    rep_buf pts;        /* "x,y x,y ..." of the run so far */
    size_t n_pts;       /* points in pts */
    double first_x, first_y; /* the first point (a run of one is a dot) */
    bool open;          /* a column is pending */
    long col;           /* its pixel column */
    size_t i_min, i_max; /* its lowest and highest points */
} line_run;

static void run_point(line_run *u, const rep_lines *l, size_t s, size_t i, const rep_line_map *m) {
    const double x = l->series[s].x[i], y = l->series[s].y[i];
    const double yy = l->log_y ? log10(y) : y;
    const double px = m->x0 + (x - m->x_lo) * m->x_scale, py = m->y0 - (yy - m->y_first) * m->y_scale;
    if (u->n_pts == 0) {
        u->first_x = px;
        u->first_y = py;
    }
    rep_buf_printf(&u->pts, "%s%.1f,%.1f", u->n_pts ? " " : "", px, py);
    u->n_pts++;
}

/* Write the pending column of u: its lowest and highest points in order. */
static void run_flush_column(line_run *u, const rep_lines *l, size_t s, const rep_line_map *m) {
    if (!u->open) return;
    const size_t a = u->i_min < u->i_max ? u->i_min : u->i_max, z = u->i_min < u->i_max ? u->i_max : u->i_min;
    run_point(u, l, s, a, m);
    if (z != a) run_point(u, l, s, z, m);
    u->open = false;
}

/* Write the run of u as a polyline (or a dot) into b and start a new one;
 * returns the points written. */
static size_t run_end(rep_buf *b, line_run *u, const rep_lines *l, size_t s, const rep_line_map *m) {
    run_flush_column(u, l, s, m);
    const size_t n = u->n_pts;
    if (n == 1) rep_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>\n", u->first_x, u->first_y);
    else if (n > 1) rep_buf_printf(b, "<polyline points=\"%s\"/>\n", u->pts.p);
    b->failed |= u->pts.failed;
    u->pts.len = 0;
    if (u->pts.p) u->pts.p[0] = '\0';
    u->n_pts = 0;
    return n;
}

size_t rep_lines_polylines(rep_buf *b, const rep_lines *l, size_t s, const rep_line_map *m) {
    const rep_line_series *ls = &l->series[s];
    line_run u = {0};
    size_t written = 0;
    for (size_t i = 0; i < ls->n; i++) {
        const double x = ls->x[i], y = ls->y[i];
        if (!rep_lines_drawn(l, x, y)) {
            written += run_end(b, &u, l, s, m);
            continue;
        }
        const long col = (long)floor((x - m->x_lo) * m->x_scale);
        if (u.open && col == u.col) {
            if (y < ls->y[u.i_min]) u.i_min = i;
            if (y > ls->y[u.i_max]) u.i_max = i;
            continue;
        }
        run_flush_column(&u, l, s, m);
        u.open = true;
        u.col = col;
        u.i_min = u.i_max = i;
    }
    written += run_end(b, &u, l, s, m);
    free(u.pts.p);
    return written;
}

// --- data table ----------------------------------------------------------------------------------

/* Index of the point of ls whose finite x is nearest to x (the earlier on a
 * tie); ls->n when no x is finite. */
static size_t nearest_point(const rep_line_series *ls, double x) {
    size_t best = ls->n;
    double best_d = INFINITY;
    for (size_t i = 0; i < ls->n; i++) {
        const double d = fabs(ls->x[i] - x);
        if (isfinite(ls->x[i]) && d < best_d) {
            best_d = d;
            best = i;
        }
    }
    return best;
}

void rep_lines_data(const rep_lines *l, rep_grid *g, rep_buf *notes) {
    const size_t nc = l->n_series + 1;
    char *align = malloc(nc + 1);
    if (!align) {
        g->failed = true;
        return;
    }
    align[0] = 'r';
    memset(align + 1, 'r', nc - 1);
    const bool ok = rep_grid_init(g, nc, align);
    free(align);
    if (!ok) return;
    char num[REP_NUM_MAX], at[REP_NUM_MAX];
    rep_grid_cell(g, "%s", l->x_title ? l->x_title : "x");
    for (size_t s = 0; s < l->n_series; s++) rep_grid_cell(g, "%s", l->series[s].name);
    /* rows at up to ONC_REPORT_LINES_TABLE_ROWS evenly spaced x values over
     * the drawn range (whole x values stay whole); no rows when nothing is drawn */
    size_t n_rows = isfinite(l->x_lo) ? ONC_REPORT_LINES_TABLE_ROWS : 0;
    if (n_rows && l->x_hi == l->x_lo) n_rows = 1;
    double prev = NAN;
    size_t shown = 0;
    for (size_t k = 0; k < n_rows; k++) {
        double x = n_rows == 1 ? l->x_lo : l->x_lo + (l->x_hi - l->x_lo) * (double)k / (double)(n_rows - 1);
        if (l->x_decimals == 0) x = round(x);
        if (x == prev) continue; /* few distinct whole x values */
        prev = x;
        shown++;
        rep_grid_cell(g, "%s", rep_fmt(num, x, l->x_decimals));
        for (size_t s = 0; s < l->n_series; s++) {
            const rep_line_series *ls = &l->series[s];
            const size_t i = nearest_point(ls, x);
            const bool drawn = i < ls->n && rep_lines_drawn(l, ls->x[i], ls->y[i]);
            rep_grid_cell(g, "%s", drawn ? rep_fmt(num, ls->y[i], l->decimals) : "n/a");
        }
    }
    if (shown)
        rep_buf_printf(notes, "Rows: %zu evenly spaced values of %s; each cell is the value at the series' point nearest to it.\n",
                       shown, l->x_title ? l->x_title : "x");
    if (l->log_y) rep_buf_puts(notes, "The chart has a logarithmic y axis; values <= 0 are not drawn.\n");
    for (size_t s = 0; s < l->n_series; s++) {
        const rep_line_series *ls = &l->series[s];
        rep_buf_printf(notes, "%s: %zu points", ls->name, ls->n);
        size_t i_last = ls->n, i_min = ls->n;
        for (size_t i = 0; i < ls->n; i++) {
            if (!rep_lines_drawn(l, ls->x[i], ls->y[i])) continue;
            i_last = i;
            if (i_min == ls->n || ls->y[i] < ls->y[i_min]) i_min = i;
        }
        if (i_last < ls->n) {
            rep_buf_printf(notes, ", last %s", rep_fmt(num, ls->y[i_last], l->decimals));
            rep_buf_printf(notes, " at %s", rep_fmt(at, ls->x[i_last], l->x_decimals));
            rep_buf_printf(notes, ", minimum %s", rep_fmt(num, ls->y[i_min], l->decimals));
            rep_buf_printf(notes, " at %s", rep_fmt(at, ls->x[i_min], l->x_decimals));
        }
        if (ls->n_drawn < ls->n) rep_buf_printf(notes, "; %zu not drawn (n/a)", ls->n - ls->n_drawn);
        rep_buf_puts(notes, ".\n");
    }
}
