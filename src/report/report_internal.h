/* report_internal.h — private pieces shared by the files of src/report/:
 * the document model behind onc_report (blocks kept in reading order, all
 * memory in one arena per report), the output buffer, number formatting,
 * axis ticks and the colours both renderers use.
 *
 *   report.c           model: adding blocks, copying, binning, summaries, writing files
 *   report_markdown.c  Markdown renderer
 *   report_html.c      HTML document, text and tables
 *   report_svg.c       the SVG charts of the HTML renderer
 *   report_lines.c     line charts: adding them, their data table, the
 *                      per-pixel-column reduction of their SVG polylines
 *
 * Not a public header: only the files of src/report/ (and the unit test,
 * for fault injection) include it. */
#ifndef ONCOLM_REPORT_INTERNAL_H
#define ONCOLM_REPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/report.h"
#include "oncolm/status.h"

// --- output buffer ------------------------------------------------------------------------

/* Growable byte buffer. A failed allocation sets `failed` and turns every
 * later append into a no-op, so renderers check once at the end. */
typedef struct rep_buf {
    char *p;     /* malloc()ed, NUL-terminated when len > 0 */
    size_t len, cap;
    bool failed; /* out of memory: content incomplete */
} rep_buf;

void rep_buf_put(rep_buf *b, const char *s, size_t n);
void rep_buf_puts(rep_buf *b, const char *s);
void rep_buf_printf(rep_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* s (or s[0..n)) with & < > " ' as character references: safe in HTML
 * text and attributes. */
void rep_buf_html(rep_buf *b, const char *s);
void rep_buf_html_n(rep_buf *b, const char *s, size_t n);

// --- document model -------------------------------------------------------------------------

typedef enum rep_kind {
    REP_HEADING,
    REP_PARAGRAPH,
    REP_TABLE,
    REP_HEATMAP,
    REP_BARS,
    REP_HISTOGRAM,
    REP_PAIRED,
    REP_LINES, /* charts are REP_HEATMAP and every kind after it */
} rep_kind;

struct onc_report_table {
    onc_report *owner;
    char *caption;  /* NULL = none */
    size_t n_cols;
    char **headers; /* [n_cols] */
    char *align;    /* [n_cols] of 'l' 'r' 'c' (not NUL-terminated) */
    size_t n_rows, cap_rows;
    char **cells;   /* [n_rows * n_cols] */
    bool *emph;     /* [n_rows] emphasised rows */
    bool open;      /* between begin and end */
};

typedef struct rep_heatmap {
    char *caption, *row_title, *col_title;
    size_t n_rows, n_cols;
    char **row_labels, **col_labels;
    double *counts;     /* [n_rows * n_cols]; NaN = n/a */
    double *row_totals; /* [n_rows] sum of the finite counts of each row */
} rep_heatmap;

typedef struct rep_bars {
    char *caption, *x_title, *y_title, *interval_label;
    size_t n_categories, n_series;
    char **categories, **series;
    double *values, *lo, *hi; /* [n_categories * n_series]; lo/hi NULL when not given */
    onc_report_range y_range;
    int decimals; /* resolved (1..10, or 0 for whole numbers) */
} rep_bars;

typedef struct rep_hist_series {
    char *name;
    size_t n;               /* values given */
    size_t n_counted;       /* values inside the bins */
    size_t n_na;            /* non-finite */
    size_t n_below, n_above; /* finite but outside a fixed range */
    double mean, median;    /* of the finite values (NaN when none) */
    uint64_t *counts;       /* [n_bins] */
} rep_hist_series;

/* Equal-width bins as numpy.histogram_bin_edges (see report.h). */
typedef struct rep_bins {
    size_t n_bins;
    double *edges; /* [n_bins + 1] */
} rep_bins;

typedef struct rep_histogram {
    char *caption, *x_title;
    size_t n_series;
    rep_hist_series *series;
    rep_bins bins;
    onc_report_hist_layout layout;
    int edge_decimals; /* digits that tell the edges apart */
} rep_histogram;

typedef struct rep_paired {
    char *caption, *a_name, *b_name, *metric, *test_name; /* test_name NULL = none */
    size_t n, n_finite, n_na;
    size_t n_b_better, n_a_better, n_tied; /* d > 0, d < 0, d == 0 */
    double mean, min, q1, median, q3, max; /* of the finite differences; NaN when none */
    double ci_level, ci_lo, ci_hi;         /* ci_level <= 0: none */
    double p_value;
    int decimals;
    double *sorted;  /* [n_finite] ascending when n_finite <= ONC_REPORT_PAIRED_STRIP_MAX, else NULL */
    rep_bins bins;   /* the histogram when sorted is NULL: bin i holds */
    uint64_t *bin_counts; /* [bins.n_bins] the d with floor(d / bin_width + 0.5) == bin_first_k + i */
    double bin_width, bin_first_k;
} rep_paired;

typedef struct rep_line_series {
    char *name;
    size_t n;         /* points given */
    double *x, *y;    /* [n] copies (NULL when n == 0) */
    size_t n_drawn;   /* points drawn: x and y finite (and y > 0 with log_y) */
} rep_line_series;

typedef struct rep_lines {
    char *caption, *x_title, *y_title;
    size_t n_series;
    rep_line_series *series;
    bool log_y;
    int decimals, x_decimals; /* y resolved as in rep_bars; x 0 when every x is whole, else 4 */
    double x_lo, x_hi, y_lo, y_hi; /* range of the drawn points (y as given, not log); NaN when none */
} rep_lines;

typedef struct rep_block {
    rep_kind kind;
    int number; /* tables and figures are numbered separately from 1 */
    int level;  /* headings */
    char *text; /* headings, paragraphs */
    union {
        onc_report_table *table;
        rep_heatmap *heatmap;
        rep_bars *bars;
        rep_histogram *histogram;
        rep_paired *paired;
        rep_lines *lines;
    } u;
} rep_block;

typedef struct rep_meta {
    char *key, *value;
} rep_meta;

typedef struct rep_arena_chunk rep_arena_chunk;

struct onc_report {
    char *title;
    rep_meta *meta;
    size_t n_meta, cap_meta;
    rep_block *blocks;
    size_t n_blocks, cap_blocks;
    int n_tables, n_figures;
    rep_arena_chunk *arena; /* every allocation of the report */
    onc_status status;      /* first error while building (ONC_OK when none) */
    char status_msg[256];
    long fail_after;        /* fault injection: allocations left before they fail; < 0 = never */
};

/* Fault injection for the unit test: the next n allocations of r succeed,
 * the ones after fail as if memory had run out (n < 0 turns it off). */
void rep_fail_allocations_after(onc_report *r, long n);

/* Building blocks of the add functions (report.c), shared with
 * report_lines.c. Each returns NULL with the report's first error recorded
 * when memory runs out or r has failed before. */
void *rep_calloc(onc_report *r, size_t count, size_t size);         /* zeroed arena memory */
double *rep_copy_doubles(onc_report *r, const double *v, size_t n); /* arena copy; NULL when n == 0 */
/* Sanitised arena copy of s (fallback when s is NULL; NULL when both are). */
char *rep_text(onc_report *r, const char *s, const char *fallback, bool one_line);
rep_block *rep_push(onc_report *r, rep_kind kind); /* a new block at the end, numbered */

// --- numbers ----------------------------------------------------------------------------------

#define REP_NUM_MAX 48 /* enough for any number formatted by rep_fmt* */

/* v with `decimals` digits after the point ("%.6g" from 1e15 on); "n/a"
 * for NaN and infinities (no chart value is meaningful there); never
 * "-0.00". Returns out. */
const char *rep_fmt(char out[REP_NUM_MAX], double v, int decimals);
/* The same with a sign always shown ("+0.0123", "-0.0040", "0.0000"). */
const char *rep_fmt_signed(char out[REP_NUM_MAX], double v, int decimals);
/* A p-value: "%.4f", or "%.2e" below 0.0001; "n/a" for NaN. */
const char *rep_fmt_p(char out[REP_NUM_MAX], double p);
/* decimals == 0 (automatic): 0 when every finite value of v[0..n) is a
 * whole number below 1e15 in size, else 4; otherwise decimals clamped to 1..10. */
int rep_resolve_decimals(int decimals, const double *v, size_t n);
/* A confidence level as a percentage label: 0.95 -> "95%", 0.975 -> "97.5%". */
const char *rep_fmt_level(char out[REP_NUM_MAX], double level);

/* Axis ticks: a "nice" step (1, 2 or 5 times a power of ten) giving about
 * `target` intervals over [lo, hi]; the axis becomes [first, last] (lo and hi
 * rounded outwards to the step) with n_ticks ticks; decimals = digits the
 * step needs. lo < hi, both finite. */
typedef struct rep_ticks {
    double first, last, step;
    int n_ticks;
    int decimals;
    bool log10; /* the axis is log10 of the value: tick k is labelled 10^(first + k step) */
} rep_ticks;
rep_ticks rep_nice_ticks(double lo, double hi, int target);

/* Number of code points of a UTF-8 string (for label widths). */
size_t rep_utf8_len(const char *s);
/* s cut to at most max_cp code points, "…" appended when cut, into out
 * (cap bytes, cap >= 8). Returns out. */
const char *rep_utf8_trunc(char *out, size_t cap, const char *s, size_t max_cp);

// --- colours -----------------------------------------------------------------------------------

/* Okabe-Ito palette, in the order series use it. */
#define REP_N_PALETTE 8
extern const char *const rep_palette[REP_N_PALETTE];
#define REP_COLOUR_B_BETTER "#009E73" /* bluish green: the compared system is better */
#define REP_COLOUR_A_BETTER "#D55E00" /* vermillion: the baseline is better */
#define REP_COLOUR_NA "#D9D9D9"       /* n/a cells */
/* Sequential single-hue colour (ColorBrewer Blues, 5 stops, interpolated
 * linearly in sRGB) of f in [0, 1] as "#rrggbb" into out[8]; text drawn on
 * it should be white when rep_heat_dark(f). */
const char *rep_heat_colour(char out[8], double f);
bool rep_heat_dark(double f);

// --- tables shared by the renderers ---------------------------------------------------------------

/* A table as the renderers see it: the caller's tables and the data tables
 * of charts. Cells are plain text (each renderer escapes them). */
typedef struct rep_table_view {
    size_t n_cols, n_rows;     /* body rows */
    const char *align;         /* n_cols letters 'l' 'r' 'c' */
    const char *const *headers; /* [n_cols] */
    const char *const *cells;  /* [n_rows * n_cols] */
    const bool *emph;          /* [n_rows] emphasised rows, or NULL */
} rep_table_view;

/* Builder of a table of formatted cells (the data of a chart). Cells are
 * added row by row, header row first; failures are sticky. */
typedef struct rep_grid {
    size_t n_cols;
    char *align;      /* malloc()ed, n_cols letters */
    rep_buf text;     /* the cells, each NUL-terminated */
    size_t *offsets;  /* start of each cell in text */
    size_t n_cells, cap_cells;
    const char **ptrs; /* filled by rep_grid_view */
    bool failed;
} rep_grid;

/* The data of a chart block as a table (rep_grid, n_cols == 0 when the
 * chart has no data) plus notes: plain-text lines separated by '\n' (the
 * paired summary, per-series statistics, n/a counts). Shared by the
 * Markdown output (where it replaces the chart) and the HTML data tables
 * under each chart. false when out of memory. */
bool rep_chart_data(const rep_block *blk, rep_grid *grid, rep_buf *notes);
/* View of a finished grid (valid until rep_grid_free); false when out of memory. */
bool rep_grid_view(rep_grid *g, rep_table_view *v);
void rep_grid_free(rep_grid *g);
/* View of a caller's table. */
rep_table_view rep_table_view_of(const onc_report_table *t);

// --- renderers -----------------------------------------------------------------------------------

void rep_render_markdown(const onc_report *r, rep_buf *b);
void rep_render_html(const onc_report *r, rep_buf *b);
/* One chart as <svg>...</svg> (the figure element around it is the caller's). */
void rep_svg_heatmap(rep_buf *b, const rep_heatmap *h, int number);
void rep_svg_bars(rep_buf *b, const rep_bars *c, int number);
void rep_svg_histogram(rep_buf *b, const rep_histogram *h, int number);
void rep_svg_paired(rep_buf *b, const rep_paired *p, int number);
void rep_svg_lines(rep_buf *b, const rep_lines *l, int number);

/* Drawn point of a line chart: x and y finite, y > 0 on a log axis. */
bool rep_lines_drawn(const rep_lines *l, double x, double y);
/* The SVG polylines of series s (one <polyline> per run of drawn points,
 * a <circle> for a run of one) at most two points per pixel column of each
 * run (the lowest and highest y, in their order); px(x) and py(y) map data
 * to pixels as x0 + (x - x_lo) * x_scale and y0 - (Y(y) - y_first) * y_scale
 * with Y = log10 on a log axis. Returns the number of points written. */
typedef struct rep_line_map {
    double x0, x_lo, x_scale;
    double y0, y_first, y_scale;
} rep_line_map;
size_t rep_lines_polylines(rep_buf *b, const rep_lines *l, size_t s, const rep_line_map *m);
/* The chart data of a line chart (see rep_chart_data). */
struct rep_grid;
void rep_lines_data(const rep_lines *l, struct rep_grid *g, rep_buf *notes);
/* Grid building (report_markdown.c), shared with report_lines.c. */
bool rep_grid_init(struct rep_grid *g, size_t n_cols, const char *align);
void rep_grid_cell(struct rep_grid *g, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* One-line summary of a paired comparison (plain text, UTF-8), shared by
 * both renderers: "Mean difference (B − A) in ROUGE-L F: +0.0123 (95% CI
 * ...); B better on 60 of 120 items, A better on 40, tied on 20; ...". */
void rep_paired_summary(rep_buf *b, const rep_paired *p);

#endif /* ONCOLM_REPORT_INTERNAL_H */
