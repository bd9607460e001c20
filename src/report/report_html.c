/* report_html.c — the HTML renderer of oncolm/report.h: one self-contained
 * UTF-8 document (<!DOCTYPE html>, inline <style>, inline <svg> charts from
 * report_svg.c), readable typography, styled tables, a print stylesheet.
 *
 * Nothing in the output refers outside the file: no script, no link, no
 * font or image, no url() or @import, and a Content-Security-Policy meta
 * element forbids loading anything anyway ("default-src 'none'"). All text
 * goes through rep_buf_html (& < > " ' escaped). Under every chart its data
 * table (the same one Markdown prints) sits in a closed <details>, so the
 * exact numbers are one click away and readable by screen readers. */
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

/* The stylesheet. Colours: text #1b1b1b on white, rules #d0d0d0; the
 * charts' own colours are set on their elements (report_svg.c). */
static const char rep_css[] =
    ":root{color-scheme:light}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:#fff;color:#1b1b1b;"
    "font:16px/1.55 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",\"DejaVu Sans\",\"Liberation Sans\","
    "Arial,sans-serif}\n"
    "main{max-width:1120px;margin:0 auto;padding:2rem 1.5rem 4rem}\n"
    "h1{font-size:1.9rem;line-height:1.2;margin:0 0 .8rem}\n"
    "h2{font-size:1.4rem;line-height:1.25;margin:2.4rem 0 .7rem;padding-bottom:.3rem;border-bottom:1px solid #d0d0d0}\n"
    "h3{font-size:1.15rem;margin:1.8rem 0 .5rem}\n"
    "h4{font-size:1rem;margin:1.4rem 0 .4rem}\n"
    "p{margin:.5rem 0 1rem;max-width:78ch}\n"
    "dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1.2rem;margin:0 0 2rem;"
    "padding:.8rem 1rem;background:#f6f7f9;border-left:4px solid #0072B2;font-size:.92rem}\n"
    "dl.meta dt{font-weight:600;color:#444}\n"
    "dl.meta dd{margin:0;overflow-wrap:anywhere}\n"
    ".table-wrap{overflow-x:auto;margin:1rem 0 1.8rem}\n"
    "table{border-collapse:collapse;font-size:.92rem;font-variant-numeric:tabular-nums}\n"
    "caption{caption-side:top;text-align:left;font-weight:600;padding:0 0 .45rem}\n"
    "th,td{padding:.35rem .8rem;border-bottom:1px solid #d0d0d0;vertical-align:top}\n"
    "thead th{background:#eef1f5;border-bottom:2px solid #777}\n"
    "tbody tr:nth-child(even){background:#fafbfc}\n"
    "tr.emph td{font-weight:700;background:#e6eef7;border-top:1.5px solid #777}\n"
    ".l{text-align:left}.r{text-align:right}.c{text-align:center}\n"
    ".no{color:#555}\n"
    "figure{margin:1.6rem 0 2.4rem}\n"
    "figcaption{font-weight:600;margin:0 0 .6rem}\n"
    "svg.chart{display:block;max-width:100%;height:auto;overflow:visible}\n"
    "svg.chart text{font-family:inherit;font-size:12px;fill:#222}\n"
    "svg.chart .axis-title{font-size:13px;font-weight:600;fill:#333}\n"
    "svg.chart .tick{fill:#444}\n"
    "svg.chart .small{font-size:10px}\n"
    "svg.chart text.on-dark{fill:#fff}\n"
    "svg.chart text.na{fill:#666}\n"
    ".note{font-size:.92rem;color:#333;margin:.5rem 0}\n"
    "details{margin:.4rem 0 0;font-size:.9rem}\n"
    "summary{cursor:pointer;color:#0a4f8a}\n"
    "@media print{\n"
    "  body{font-size:10.5pt}\n"
    "  main{max-width:none;padding:0}\n"
    "  h2,h3,h4{break-after:avoid}\n"
    "  figure,.table-wrap,tr{break-inside:avoid}\n"
    "  .table-wrap{overflow:visible}\n"
    "  details{display:none}\n"
    "  dl.meta{background:none;border-left:2px solid #000}\n"
    "}\n";

/* Text with newlines as <br>. */
static void html_lines(rep_buf *b, const char *s) {
    for (const char *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
        rep_buf_html_n(b, s, (size_t)(nl - s));
        rep_buf_puts(b, "<br>");
    }
    rep_buf_html(b, s);
}

/* Paragraph text: blank lines separate <p> elements, other newlines are <br>. */
static void html_paragraphs(rep_buf *b, const char *text) {
    bool open = false, pending_br = false;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        const size_t n = nl ? (size_t)(nl - line) : strlen(line);
        bool blank = true;
        for (size_t i = 0; i < n; i++)
            if (line[i] != ' ' && line[i] != '\t') blank = false;
        if (blank) {
            if (open) rep_buf_puts(b, "</p>\n");
            open = pending_br = false;
        } else {
            if (!open) rep_buf_puts(b, "<p>");
            if (pending_br) rep_buf_puts(b, "<br>\n");
            rep_buf_html_n(b, line, n);
            open = pending_br = true;
        }
        line += n + (nl ? 1 : 0);
    }
    if (open) rep_buf_puts(b, "</p>\n");
}

static void html_table(rep_buf *b, const rep_table_view *v, const char *what, int number, const char *caption) {
    rep_buf_puts(b, "<div class=\"table-wrap\"><table>");
    if (what) {
        rep_buf_printf(b, "<caption><span class=\"no\">%s %d.</span>", what, number);
        if (caption) {
            rep_buf_puts(b, " ");
            rep_buf_html(b, caption);
        }
        rep_buf_puts(b, "</caption>");
    }
    rep_buf_puts(b, "\n<thead><tr>");
    for (size_t j = 0; j < v->n_cols; j++) {
        rep_buf_printf(b, "<th class=\"%c\" scope=\"col\">", v->align[j]);
        html_lines(b, v->headers[j]);
        rep_buf_puts(b, "</th>");
    }
    rep_buf_puts(b, "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < v->n_rows; i++) {
        rep_buf_puts(b, v->emph && v->emph[i] ? "<tr class=\"emph\">" : "<tr>");
        for (size_t j = 0; j < v->n_cols; j++) {
            rep_buf_printf(b, "<td class=\"%c\">", v->align[j]);
            html_lines(b, v->cells[i * v->n_cols + j]);
            rep_buf_puts(b, "</td>");
        }
        rep_buf_puts(b, "</tr>\n");
    }
    rep_buf_puts(b, "</tbody></table></div>\n");
}

static void html_chart(rep_buf *b, const rep_block *blk) {
    const char *caption = NULL;
    switch (blk->kind) {
    case REP_HEATMAP: caption = blk->u.heatmap->caption; break;
    case REP_BARS: caption = blk->u.bars->caption; break;
    case REP_HISTOGRAM: caption = blk->u.histogram->caption; break;
    case REP_PAIRED: caption = blk->u.paired->caption; break;
    case REP_LINES: caption = blk->u.lines->caption; break;
    default: ONC_ASSERT(!"not a chart");
    }
    rep_buf_printf(b, "<figure class=\"chart\" id=\"figure-%d\">\n<figcaption><span class=\"no\">Figure %d.</span>",
                   blk->number, blk->number);
    if (caption) {
        rep_buf_puts(b, " ");
        rep_buf_html(b, caption);
    }
    rep_buf_puts(b, "</figcaption>\n");
    switch (blk->kind) {
    case REP_HEATMAP: rep_svg_heatmap(b, blk->u.heatmap, blk->number); break;
    case REP_BARS: rep_svg_bars(b, blk->u.bars, blk->number); break;
    case REP_HISTOGRAM: rep_svg_histogram(b, blk->u.histogram, blk->number); break;
    case REP_LINES: rep_svg_lines(b, blk->u.lines, blk->number); break;
    default: rep_svg_paired(b, blk->u.paired, blk->number); break;
    }
    rep_grid g;
    rep_buf notes = {0};
    rep_table_view v;
    if (!rep_chart_data(blk, &g, &notes) || !rep_grid_view(&g, &v)) {
        b->failed = true;
    } else {
        for (const char *line = notes.p; line && *line;) {
            const char *nl = strchr(line, '\n');
            const size_t n = nl ? (size_t)(nl - line) : strlen(line);
            rep_buf_puts(b, "<p class=\"note\">");
            rep_buf_html_n(b, line, n);
            rep_buf_puts(b, "</p>\n");
            line += n + (nl ? 1 : 0);
        }
        if (v.n_cols) {
            rep_buf_puts(b, "<details><summary>Data table</summary>\n");
            html_table(b, &v, NULL, 0, NULL);
            rep_buf_puts(b, "</details>\n");
        }
    }
    rep_grid_free(&g);
    free(notes.p);
    rep_buf_puts(b, "</figure>\n");
}

void rep_render_html(const onc_report *r, rep_buf *b) {
    rep_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                    "style-src 'unsafe-inline'\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<meta name=\"generator\" content=\"oncolm\">\n<title>");
    rep_buf_html(b, r->title);
    rep_buf_puts(b, "</title>\n<style>\n");
    rep_buf_puts(b, rep_css);
    rep_buf_puts(b, "</style>\n</head>\n<body>\n<main>\n<h1>");
    rep_buf_html(b, r->title);
    rep_buf_puts(b, "</h1>\n");
    if (r->n_meta) {
        rep_buf_puts(b, "<dl class=\"meta\">\n");
        for (size_t i = 0; i < r->n_meta; i++) {
            rep_buf_puts(b, "<dt>");
            rep_buf_html(b, r->meta[i].key);
            rep_buf_puts(b, "</dt><dd>");
            rep_buf_html(b, r->meta[i].value);
            rep_buf_puts(b, "</dd>\n");
        }
        rep_buf_puts(b, "</dl>\n");
    }
    for (size_t k = 0; k < r->n_blocks; k++) {
        const rep_block *blk = &r->blocks[k];
        switch (blk->kind) {
        case REP_HEADING:
            rep_buf_printf(b, "<h%d>", blk->level);
            rep_buf_html(b, blk->text);
            rep_buf_printf(b, "</h%d>\n", blk->level);
            break;
        case REP_PARAGRAPH: html_paragraphs(b, blk->text); break;
        case REP_TABLE: {
            const rep_table_view v = rep_table_view_of(blk->u.table);
            html_table(b, &v, "Table", blk->number, blk->u.table->caption);
            break;
        }
        default: html_chart(b, blk); break;
        }
    }
    rep_buf_puts(b, "</main>\n</body>\n</html>\n");
}
