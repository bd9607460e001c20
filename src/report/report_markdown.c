/* report_markdown.c — the Markdown renderer of oncolm/report.h, and the
 * data tables of the charts (rep_chart_data), which Markdown prints instead
 * of the charts and the HTML renderer shows under each chart.
 *
 * Output is GitHub-flavoured Markdown: "# title", the meta lines as a list,
 * headings, paragraphs, pipe tables with alignment rows. All text is plain
 * text: characters that could start markup are backslash-escaped ('|' and
 * '\' included), newlines in table cells become <br>, so what the caller
 * wrote is what a reader sees. Tables and figures are numbered ("Table 1.",
 * "Figure 1."). Nothing here draws; see report_svg.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

// --- grids -----------------------------------------------------------------------------------

bool rep_grid_init(rep_grid *g, size_t n_cols, const char *align) {
    memset(g, 0, sizeof *g);
    g->n_cols = n_cols;
    g->align = malloc(n_cols ? n_cols : 1);
    if (!g->align) {
        g->failed = true;
        return false;
    }
    memcpy(g->align, align, n_cols);
    return true;
}

/* Append the next cell (row-major, header row first). */
void rep_grid_cell(rep_grid *g, const char *fmt, ...) {
    if (g->failed) return;
    if (g->n_cells == g->cap_cells) {
        const size_t cap = g->cap_cells ? g->cap_cells * 2 : 64;
        size_t *o = realloc(g->offsets, cap * sizeof *o);
        if (!o) {
            g->failed = true;
            return;
        }
        g->offsets = o;
        g->cap_cells = cap;
    }
    g->offsets[g->n_cells++] = g->text.len;
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof small) {
        rep_buf_put(&g->text, small, (size_t)n + 1); /* with its NUL */
    } else {
        /* a long cell (a long label): format it again at its full length */
        char *big = n >= 0 && (size_t)n < SIZE_MAX / 4 ? malloc((size_t)n + 1) : NULL;
        if (!big) {
            g->failed = true;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        rep_buf_put(&g->text, big, (size_t)n + 1);
        free(big);
    }
    if (g->text.failed) g->failed = true;
}

bool rep_grid_view(rep_grid *g, rep_table_view *v) {
    memset(v, 0, sizeof *v);
    if (g->failed || g->n_cols == 0) return !g->failed;
    ONC_ASSERT(g->n_cells % g->n_cols == 0 && g->n_cells >= g->n_cols);
    free(g->ptrs);
    g->ptrs = malloc(g->n_cells * sizeof *g->ptrs);
    if (!g->ptrs) {
        g->failed = true;
        return false;
    }
    for (size_t i = 0; i < g->n_cells; i++) g->ptrs[i] = g->text.p + g->offsets[i];
    v->n_cols = g->n_cols;
    v->n_rows = g->n_cells / g->n_cols - 1;
    v->align = g->align;
    v->headers = g->ptrs;
    v->cells = g->ptrs + g->n_cols;
    return true;
}

void rep_grid_free(rep_grid *g) {
    free(g->align);
    free(g->text.p);
    free(g->offsets);
    free(g->ptrs);
    memset(g, 0, sizeof *g);
}

rep_table_view rep_table_view_of(const onc_report_table *t) {
    return (rep_table_view){.n_cols = t->n_cols,
                            .n_rows = t->n_rows,
                            .align = t->align,
                            .headers = (const char *const *)t->headers,
                            .cells = (const char *const *)t->cells,
                            .emph = t->emph};
}

// --- chart data ------------------------------------------------------------------------------

/* A run of `n` copies of letter c after `first` into out (n + 2 bytes). */
static char *rep_align_row(char *out, char first, char c, size_t n) {
    out[0] = first;
    memset(out + 1, c, n);
    out[n + 1] = '\0';
    return out;
}

static void rep_heatmap_data(const rep_heatmap *h, rep_grid *g, rep_buf *notes) {
    const size_t nc = h->n_cols + 2;
    char *align = malloc(nc + 1);
    if (!align || !rep_grid_init(g, nc, rep_align_row(align, 'l', 'r', nc - 1))) {
        free(align);
        g->failed = true;
        return;
    }
    free(align);
    const int dec = rep_resolve_decimals(0, h->counts, h->n_rows * h->n_cols);
    char num[REP_NUM_MAX];
    rep_grid_cell(g, "%s \\ %s", h->row_title, h->col_title);
    for (size_t j = 0; j < h->n_cols; j++) rep_grid_cell(g, "%s", h->col_labels[j]);
    rep_grid_cell(g, "total");
    for (size_t i = 0; i < h->n_rows; i++) {
        rep_grid_cell(g, "%s", h->row_labels[i]);
        const double total = h->row_totals[i];
        for (size_t j = 0; j < h->n_cols; j++) {
            const double v = h->counts[i * h->n_cols + j];
            if (isfinite(v) && total > 0) rep_grid_cell(g, "%s (%.1f%%)", rep_fmt(num, v, dec), 100.0 * v / total);
            else rep_grid_cell(g, "%s", rep_fmt(num, v, dec));
        }
        rep_grid_cell(g, "%s", rep_fmt(num, total, dec));
    }
    rep_buf_printf(notes, "Rows: %s; columns: %s. Each cell: count (share of the row).\n", h->row_title,
                   h->col_title);
}

static void rep_bars_data(const rep_bars *c, rep_grid *g, rep_buf *notes) {
    const size_t nc = c->n_series + 1;
    char *align = malloc(nc + 1);
    if (!align || !rep_grid_init(g, nc, rep_align_row(align, 'l', 'r', nc - 1))) {
        free(align);
        g->failed = true;
        return;
    }
    free(align);
    char v[REP_NUM_MAX], lo[REP_NUM_MAX], hi[REP_NUM_MAX];
    rep_grid_cell(g, "%s", c->x_title ? c->x_title : "");
    for (size_t s = 0; s < c->n_series; s++) rep_grid_cell(g, "%s", c->series[s]);
    bool any_interval = false;
    for (size_t k = 0; k < c->n_categories; k++) {
        rep_grid_cell(g, "%s", c->categories[k]);
        for (size_t s = 0; s < c->n_series; s++) {
            const size_t i = k * c->n_series + s;
            rep_fmt(v, c->values[i], c->decimals);
            if (c->lo && isfinite(c->lo[i]) && isfinite(c->hi[i])) {
                any_interval = true;
                rep_grid_cell(g, "%s (%s to %s)", v, rep_fmt(lo, c->lo[i], c->decimals),
                              rep_fmt(hi, c->hi[i], c->decimals));
            } else {
                rep_grid_cell(g, "%s", v);
            }
        }
    }
    if (c->y_title) rep_buf_printf(notes, "Values: %s.", c->y_title);
    if (any_interval) rep_buf_printf(notes, "%sIn parentheses: %s.", c->y_title ? " " : "", c->interval_label);
    if (c->y_title || any_interval) rep_buf_puts(notes, "\n");
}

/* "[a, b)" or, for the last bin, "[a, b]" into out. */
static const char *rep_bin_label(char *out, size_t cap, const rep_bins *b, size_t i, int decimals) {
    char lo[REP_NUM_MAX], hi[REP_NUM_MAX];
    snprintf(out, cap, "[%s, %s%c", rep_fmt(lo, b->edges[i], decimals), rep_fmt(hi, b->edges[i + 1], decimals),
             i + 1 == b->n_bins ? ']' : ')');
    return out;
}

static void rep_histogram_data(const rep_histogram *h, rep_grid *g, rep_buf *notes) {
    const size_t nc = h->n_series + 1;
    char *align = malloc(nc + 1);
    if (!align || !rep_grid_init(g, nc, rep_align_row(align, 'l', 'r', nc - 1))) {
        free(align);
        g->failed = true;
        return;
    }
    free(align);
    char label[2 * REP_NUM_MAX + 8], a[REP_NUM_MAX], b[REP_NUM_MAX];
    rep_grid_cell(g, "%s", h->x_title ? h->x_title : "bin");
    for (size_t s = 0; s < h->n_series; s++) rep_grid_cell(g, "%s", h->series[s].name);
    for (size_t i = 0; i < h->bins.n_bins; i++) {
        rep_grid_cell(g, "%s", rep_bin_label(label, sizeof label, &h->bins, i, h->edge_decimals));
        for (size_t s = 0; s < h->n_series; s++) rep_grid_cell(g, "%llu", (unsigned long long)h->series[s].counts[i]);
    }
    for (size_t s = 0; s < h->n_series; s++) {
        const rep_hist_series *hs = &h->series[s];
        rep_buf_printf(notes, "%s: %zu values, mean %s, median %s", hs->name, hs->n, rep_fmt(a, hs->mean, 4),
                       rep_fmt(b, hs->median, 4));
        if (hs->n_na) rep_buf_printf(notes, "; %zu n/a (not shown)", hs->n_na);
        if (hs->n_below || hs->n_above)
            rep_buf_printf(notes, "; %zu below and %zu above the range (not shown)", hs->n_below, hs->n_above);
        rep_buf_puts(notes, ".\n");
    }
}

static void rep_paired_data(const rep_paired *p, rep_grid *g, rep_buf *notes) {
    rep_paired_summary(notes, p);
    rep_buf_puts(notes, "\n");
    if (!rep_grid_init(g, 10, "rrrrrrrrrr")) return;
    rep_grid_cell(g, "items");
    rep_grid_cell(g, "%s better", p->b_name);
    rep_grid_cell(g, "%s better", p->a_name);
    rep_grid_cell(g, "tied");
    rep_grid_cell(g, "n/a");
    rep_grid_cell(g, "min");
    rep_grid_cell(g, "Q1");
    rep_grid_cell(g, "median");
    rep_grid_cell(g, "Q3");
    rep_grid_cell(g, "max");
    char num[REP_NUM_MAX];
    rep_grid_cell(g, "%zu", p->n);
    rep_grid_cell(g, "%zu", p->n_b_better);
    rep_grid_cell(g, "%zu", p->n_a_better);
    rep_grid_cell(g, "%zu", p->n_tied);
    rep_grid_cell(g, "%zu", p->n_na);
    const double q[5] = {p->min, p->q1, p->median, p->q3, p->max};
    for (int k = 0; k < 5; k++) rep_grid_cell(g, "%s", rep_fmt_signed(num, q[k], p->decimals));
}

void rep_paired_summary(rep_buf *b, const rep_paired *p) {
    char mean[REP_NUM_MAX], lo[REP_NUM_MAX], hi[REP_NUM_MAX], lvl[REP_NUM_MAX], pv[REP_NUM_MAX];
    if (p->n_finite == 0) {
        rep_buf_printf(b, "No item has a difference in %s to compare (%zu items n/a).", p->metric, p->n_na);
        return;
    }
    const int dec = p->decimals > 4 ? p->decimals : 4; /* a mean needs decimals even over whole numbers */
    rep_buf_printf(b, "Mean difference %s \xE2\x88\x92 %s in %s: %s", p->b_name, p->a_name, p->metric,
                   rep_fmt_signed(mean, p->mean, dec));
    if (p->ci_level > 0)
        rep_buf_printf(b, " (%s CI %s to %s)", rep_fmt_level(lvl, p->ci_level), rep_fmt_signed(lo, p->ci_lo, dec),
                       rep_fmt_signed(hi, p->ci_hi, dec));
    rep_buf_printf(b, " over %zu items; %s better on %zu, %s better on %zu, tied on %zu", p->n_finite, p->b_name,
                   p->n_b_better, p->a_name, p->n_a_better, p->n_tied);
    if (p->n_na) rep_buf_printf(b, "; %zu n/a", p->n_na);
    if (p->test_name) rep_buf_printf(b, "; %s p = %s", p->test_name, rep_fmt_p(pv, p->p_value));
    rep_buf_puts(b, ".");
}

bool rep_chart_data(const rep_block *blk, rep_grid *grid, rep_buf *notes) {
    memset(grid, 0, sizeof *grid);
    switch (blk->kind) {
    case REP_HEATMAP:
        if (blk->u.heatmap->n_rows && blk->u.heatmap->n_cols) rep_heatmap_data(blk->u.heatmap, grid, notes);
        else rep_buf_puts(notes, "No data.\n");
        break;
    case REP_BARS:
        if (blk->u.bars->n_categories && blk->u.bars->n_series) rep_bars_data(blk->u.bars, grid, notes);
        else rep_buf_puts(notes, "No data.\n");
        break;
    case REP_HISTOGRAM:
        if (blk->u.histogram->n_series) rep_histogram_data(blk->u.histogram, grid, notes);
        else rep_buf_puts(notes, "No data.\n");
        break;
    case REP_PAIRED: rep_paired_data(blk->u.paired, grid, notes); break;
    case REP_LINES:
        if (blk->u.lines->n_series) rep_lines_data(blk->u.lines, grid, notes);
        else rep_buf_puts(notes, "No data.\n");
        break;
    default: ONC_ASSERT(!"not a chart");
    }
    return !grid->failed && !notes->failed;
}

// --- Markdown text ----------------------------------------------------------------------------

/* s[0..n) as inline Markdown: characters that could start markup are
 * backslash-escaped; '&' too when it could start an entity; '#' when
 * escape_hash (headings). In table cells a newline becomes <br>, elsewhere
 * a space. */
static void md_inline(rep_buf *b, const char *s, size_t n, bool cell, bool escape_hash) {
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char c = s[i];
        const char *rep = NULL;
        char esc[3] = {'\\', c, '\0'};
        switch (c) {
        case '\\': case '`': case '*': case '_': case '[': case ']': case '<': case '>': case '|': case '~':
            rep = esc;
            break;
        case '#':
            if (escape_hash) rep = esc;
            break;
        case '&': {
            const char next = i + 1 < n ? s[i + 1] : '\0';
            if (next == '#' || (next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') ||
                (next >= '0' && next <= '9'))
                rep = esc;
            break;
        }
        case '\n': rep = cell ? "<br>" : " "; break;
        case '\t': rep = " "; break;
        default: break;
        }
        if (!rep) continue;
        rep_buf_put(b, s + run, i - run);
        rep_buf_puts(b, rep);
        run = i + 1;
    }
    rep_buf_put(b, s + run, n - run);
}

/* One line of block text (paragraph line, list item, heading): leading
 * blanks dropped and a line-start marker (#, +, -, =, "1." or "1)")
 * escaped, then md_inline. */
static void md_line(rep_buf *b, const char *s, size_t n, bool escape_hash) {
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    if (n > 0 && (*s == '#' || *s == '+' || *s == '-' || *s == '=')) {
        const char marker[3] = {'\\', *s, '\0'};
        rep_buf_puts(b, marker);
        s++;
        n--;
    } else {
        size_t d = 0;
        while (d < n && d < 9 && s[d] >= '0' && s[d] <= '9') d++;
        if (d > 0 && d < n && (s[d] == '.' || s[d] == ')')) {
            rep_buf_put(b, s, d);
            rep_buf_puts(b, "\\");
            s += d;
            n -= d;
        }
    }
    md_inline(b, s, n, false, escape_hash);
}

/* Paragraph text: lines joined by hard breaks ("\" at the end of the
 * line), blank lines start new paragraphs. */
static void md_paragraph(rep_buf *b, const char *text) {
    bool in_par = false, pending_break = false;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        const size_t n = nl ? (size_t)(nl - line) : strlen(line);
        bool blank = true;
        for (size_t i = 0; i < n; i++)
            if (line[i] != ' ' && line[i] != '\t') blank = false;
        if (blank) {
            if (in_par) rep_buf_puts(b, "\n\n");
            in_par = pending_break = false;
        } else {
            if (pending_break) rep_buf_puts(b, "\\\n");
            md_line(b, line, n, false);
            in_par = pending_break = true;
        }
        line += n + (nl ? 1 : 0);
    }
    if (in_par) rep_buf_puts(b, "\n\n");
}

/* One cell: trimmed, escaped, bold when emph and not empty. */
static void md_cell(rep_buf *b, const char *s, bool emph) {
    size_t n = strlen(s);
    while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n')) n--;
    rep_buf_puts(b, " ");
    if (emph && n) rep_buf_puts(b, "**");
    md_inline(b, s, n, true, false);
    if (emph && n) rep_buf_puts(b, "**");
    rep_buf_puts(b, " |");
}

static void md_table(rep_buf *b, const rep_table_view *v) {
    rep_buf_puts(b, "|");
    for (size_t j = 0; j < v->n_cols; j++) md_cell(b, v->headers[j], false);
    rep_buf_puts(b, "\n|");
    for (size_t j = 0; j < v->n_cols; j++)
        rep_buf_puts(b, v->align[j] == 'r' ? " ---: |" : v->align[j] == 'c' ? " :---: |" : " :--- |");
    rep_buf_puts(b, "\n");
    for (size_t i = 0; i < v->n_rows; i++) {
        rep_buf_puts(b, "|");
        for (size_t j = 0; j < v->n_cols; j++) md_cell(b, v->cells[i * v->n_cols + j], v->emph && v->emph[i]);
        rep_buf_puts(b, "\n");
    }
    rep_buf_puts(b, "\n");
}

/* "**Table 3.** caption" / "**Figure 2.** caption" */
static void md_caption(rep_buf *b, const char *what, int number, const char *caption) {
    rep_buf_printf(b, "**%s %d.**", what, number);
    if (caption) {
        rep_buf_puts(b, " ");
        md_inline(b, caption, strlen(caption), false, false);
    }
    rep_buf_puts(b, "\n\n");
}

static const char *rep_chart_caption(const rep_block *blk) {
    switch (blk->kind) {
    case REP_HEATMAP: return blk->u.heatmap->caption;
    case REP_BARS: return blk->u.bars->caption;
    case REP_HISTOGRAM: return blk->u.histogram->caption;
    case REP_PAIRED: return blk->u.paired->caption;
    case REP_LINES: return blk->u.lines->caption;
    default: return NULL;
    }
}

static void md_chart(rep_buf *b, const rep_block *blk) {
    md_caption(b, "Figure", blk->number, rep_chart_caption(blk));
    rep_grid g;
    rep_buf notes = {0};
    rep_table_view v;
    if (!rep_chart_data(blk, &g, &notes) || !rep_grid_view(&g, &v)) {
        b->failed = true;
    } else {
        /* the paired summary comes before its table, other notes after */
        const bool notes_first = blk->kind == REP_PAIRED;
        if (notes_first && notes.len) md_paragraph(b, notes.p);
        if (v.n_cols) md_table(b, &v);
        if (!notes_first && notes.len) md_paragraph(b, notes.p);
    }
    rep_grid_free(&g);
    free(notes.p);
}

void rep_render_markdown(const onc_report *r, rep_buf *b) {
    rep_buf_puts(b, "# ");
    md_line(b, r->title, strlen(r->title), true);
    rep_buf_puts(b, "\n\n");
    for (size_t i = 0; i < r->n_meta; i++) {
        rep_buf_puts(b, "- **");
        md_inline(b, r->meta[i].key, strlen(r->meta[i].key), false, false);
        rep_buf_puts(b, ":** ");
        md_inline(b, r->meta[i].value, strlen(r->meta[i].value), false, false);
        rep_buf_puts(b, "\n");
    }
    if (r->n_meta) rep_buf_puts(b, "\n");
    for (size_t k = 0; k < r->n_blocks; k++) {
        const rep_block *blk = &r->blocks[k];
        switch (blk->kind) {
        case REP_HEADING:
            rep_buf_printf(b, "%.*s ", blk->level, "####");
            md_line(b, blk->text, strlen(blk->text), true);
            rep_buf_puts(b, "\n\n");
            break;
        case REP_PARAGRAPH: md_paragraph(b, blk->text); break;
        case REP_TABLE: {
            const rep_table_view v = rep_table_view_of(blk->u.table);
            md_caption(b, "Table", blk->number, blk->u.table->caption);
            md_table(b, &v);
            break;
        }
        default: md_chart(b, blk); break;
        }
    }
}
