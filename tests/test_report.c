/* test_report.c — oncolm/report.h: the Markdown of a small report byte for
 * byte (hand-computed chart data: row shares, bins, quantiles); escaping of
 * hostile text in Markdown and HTML (|, <script>, quotes, newlines,
 * invalid UTF-8, control characters); the HTML refers to nothing outside
 * itself; NaN, infinities and empty charts render as n/a / "No data"
 * without crashing; histogram bins as numpy.histogram_bin_edges (published
 * numpy behaviour, worked by hand in the comments); large inputs stay small
 * (100k-value histograms, 100k paired differences, a 50-label heat map);
 * files are written atomically and a failed write names the file and
 * leaves no temporary file; out of memory at every allocation of a full
 * report is reported by the write functions (and leaks nothing under
 * ASan); the stream and string outputs equal the file output; line charts
 * (points per polyline, NaN gaps, log ticks, escaping, empty series,
 * copies of the inputs, 10,000 points reduced per pixel column). */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "oncolm/report.h"
#include "report/report_internal.h" /* rep_fail_allocations_after: fault injection */

static char *render_md(const onc_report *r) {
    char *text = NULL;
    size_t len = 0;
    onc_error err = {0};
    const onc_status st = onc_report_render_markdown(r, &text, &len, &err);
    if (st != ONC_OK) fprintf(stderr, "markdown: %s\n", err.msg);
    assert_int_equal(st, ONC_OK);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static char *render_html(const onc_report *r) {
    char *text = NULL;
    size_t len = 0;
    onc_error err = {0};
    const onc_status st = onc_report_render_html(r, &text, &len, &err);
    if (st != ONC_OK) fprintf(stderr, "html: %s\n", err.msg);
    assert_int_equal(st, ONC_OK);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

/* Fails with the text around the first difference, for readable failures. */
static void assert_text_equal(const char *got, const char *want) {
    if (strcmp(got, want) == 0) return;
    size_t i = 0;
    while (got[i] && got[i] == want[i]) i++;
    const size_t from = i > 60 ? i - 60 : 0;
    fprintf(stderr, "texts differ at byte %zu\n--- got:\n%.160s\n--- want:\n%.160s\n--- full got:\n%s\n", i, got + from,
            want + from, got);
    fail();
}

static size_t count_of(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

// --- exact Markdown ----------------------------------------------------------------------------

/* The small report of the exact-output tests. Chart data worked by hand:
 * heat map rows {3, 1} and {0, 2}: totals 4 and 2, shares 75.0/25.0 and
 * 0.0/100.0 %; bars: one category, two series, an interval on the first;
 * histogram of {0, 0.5, 1, 1} in 2 bins on [0, 1]: [0, 0.5) holds 0,
 * [0.5, 1] holds 0.5, 1, 1 -> 1 and 3; mean 2.5/4 = 0.625, median of
 * 0, 0.5, 1, 1 = (0.5 + 1)/2 = 0.75; paired differences {0.1, -0.2, 0,
 * 0.3}: mean 0.2/4 = 0.05, sorted -0.2 0 0.1 0.3, numpy-linear quartiles
 * at positions 0.75, 1.5, 2.25: -0.2 + 0.75*0.2 = -0.05, (0 + 0.1)/2 =
 * 0.05, 0.1 + 0.25*0.2 = 0.15. */
static onc_report *small_report(void) {
    onc_report *r = onc_report_new("Stage classifier");
    onc_report_add_meta(r, "gold", "test.jsonl");
    onc_report_add_meta(r, "model", NULL);
    onc_report_add_heading(r, 2, "Scores");
    onc_report_add_paragraph(r, "Line one\nline two\n\nSecond paragraph.");
    onc_report_table *t =
        onc_report_table_begin(r, "Per class", 3, (const char *[]){"class", "F1", "n"}, "lrc");
    onc_report_table_row(t, (const char *[]){"T1", "0.800", "10"});
    onc_report_table_row(t, (const char *[]){"T2", NULL, "5"});
    onc_report_table_row_emph(t, (const char *[]){"macro avg", "0.700", ""});
    onc_report_table_end(t);
    onc_report_add_heading(r, 3, "Charts");
    const double counts[4] = {3, 1, 0, 2};
    onc_report_add_heatmap(r, &(onc_report_heatmap){.caption = "Confusion",
                                                    .n_rows = 2,
                                                    .n_cols = 2,
                                                    .row_labels = (const char *[]){"T1", "T2"},
                                                    .col_labels = (const char *[]){"T1", "T2"},
                                                    .counts = counts});
    const double v[2] = {0.5, 0.25}, lo[2] = {0.4, NAN}, hi[2] = {0.6, NAN};
    onc_report_add_bars(r, &(onc_report_bars){.caption = "Bars",
                                              .x_title = "class",
                                              .y_title = "F1",
                                              .n_categories = 1,
                                              .n_series = 2,
                                              .categories = (const char *[]){"T1"},
                                              .series = (const char *[]){"model A", "model B"},
                                              .values = v,
                                              .lo = lo,
                                              .hi = hi,
                                              .interval_label = "95% CI",
                                              .decimals = 2});
    const double h[4] = {0, 0.5, 1, 1};
    onc_report_add_histogram(r, &(onc_report_histogram){.caption = "Scores",
                                                        .x_title = "score",
                                                        .n_series = 1,
                                                        .series = (const char *[]){"A"},
                                                        .values = (const double *[]){h},
                                                        .n_values = (const size_t[]){4},
                                                        .n_bins = 2,
                                                        .range_lo = 0,
                                                        .range_hi = 1});
    const double d[4] = {0.1, -0.2, 0, 0.3};
    onc_report_add_paired(r, &(onc_report_paired){.caption = "Paired",
                                                  .a_name = "A",
                                                  .b_name = "B",
                                                  .metric = "F1",
                                                  .n = 4,
                                                  .diff = d,
                                                  .ci_level = 0.95,
                                                  .ci_lo = -0.1,
                                                  .ci_hi = 0.2,
                                                  .test_name = "Wilcoxon",
                                                  .p_value = 0.5});
    return r;
}

static const char small_md[] =
    "# Stage classifier\n"
    "\n"
    "- **gold:** test.jsonl\n"
    "- **model:** \n"
    "\n"
    "## Scores\n"
    "\n"
    "Line one\\\n"
    "line two\n"
    "\n"
    "Second paragraph.\n"
    "\n"
    "**Table 1.** Per class\n"
    "\n"
    "| class | F1 | n |\n"
    "| :--- | ---: | :---: |\n"
    "| T1 | 0.800 | 10 |\n"
    "| T2 |  | 5 |\n"
    "| **macro avg** | **0.700** |  |\n"
    "\n"
    "### Charts\n"
    "\n"
    "**Figure 1.** Confusion\n"
    "\n"
    "| gold \\\\ predicted | T1 | T2 | total |\n"
    "| :--- | ---: | ---: | ---: |\n"
    "| T1 | 3 (75.0%) | 1 (25.0%) | 4 |\n"
    "| T2 | 0 (0.0%) | 2 (100.0%) | 2 |\n"
    "\n"
    "Rows: gold; columns: predicted. Each cell: count (share of the row).\n"
    "\n"
    "**Figure 2.** Bars\n"
    "\n"
    "| class | model A | model B |\n"
    "| :--- | ---: | ---: |\n"
    "| T1 | 0.50 (0.40 to 0.60) | 0.25 |\n"
    "\n"
    "Values: F1. In parentheses: 95% CI.\n"
    "\n"
    "**Figure 3.** Scores\n"
    "\n"
    "| score | A |\n"
    "| :--- | ---: |\n"
    "| \\[0.0, 0.5) | 1 |\n"
    "| \\[0.5, 1.0\\] | 3 |\n"
    "\n"
    "A: 4 values, mean 0.6250, median 0.7500.\n"
    "\n"
    "**Figure 4.** Paired\n"
    "\n"
    "Mean difference B \xE2\x88\x92 A in F1: +0.0500 (95% CI -0.1000 to +0.2000) over 4 items; B better on 2, A "
    "better on 1, tied on 1; Wilcoxon p = 0.5000.\n"
    "\n"
    "| items | B better | A better | tied | n/a | min | Q1 | median | Q3 | max |\n"
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    "| 4 | 2 | 1 | 1 | 0 | -0.2000 | -0.0500 | +0.0500 | +0.1500 | +0.3000 |\n"
    "\n";

static void test_markdown_exact(void **state) {
    (void)state;
    onc_report *r = small_report();
    char *md = render_md(r);
    assert_text_equal(md, small_md);
    free(md);
    onc_report_free(r);
}

/* The same report through a file and through a stream: identical bytes. */
static void test_outputs_agree(void **state) {
    (void)state;
    onc_report *r = small_report();
    onc_error err = {0};
    const char *path = "test_report_small.md";
    assert_int_equal(onc_report_write_markdown(r, path, &err), ONC_OK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[8192];
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_text_equal(buf, small_md);
    remove(path);

    char *html = render_html(r);
    FILE *tf = tmpfile();
    assert_non_null(tf);
    assert_int_equal(onc_report_fwrite_html(r, tf, &err), ONC_OK);
    const long len = ftell(tf);
    assert_int_equal((size_t)len, strlen(html));
    rewind(tf);
    char *back = malloc((size_t)len + 1);
    assert_non_null(back);
    assert_int_equal(fread(back, 1, (size_t)len, tf), (size_t)len);
    back[len] = '\0';
    assert_text_equal(back, html);
    fclose(tf);
    free(back);
    free(html);
    onc_report_free(r);
}

// --- HTML structure ----------------------------------------------------------------------------

static void test_html_structure(void **state) {
    (void)state;
    onc_report *r = small_report();
    char *html = render_html(r);
    assert_true(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
    assert_non_null(strstr(html, "<meta charset=\"utf-8\">"));
    assert_non_null(strstr(html, "<title>Stage classifier</title>"));
    assert_non_null(strstr(html, "<h1>Stage classifier</h1>"));
    assert_non_null(strstr(html, "<h2>Scores</h2>"));
    assert_non_null(strstr(html, "<h3>Charts</h3>"));
    assert_non_null(strstr(html, "<p>Line one<br>\nline two</p>\n<p>Second paragraph.</p>"));
    assert_non_null(strstr(html, "<caption><span class=\"no\">Table 1.</span> Per class</caption>"));
    assert_non_null(strstr(html, "<tr class=\"emph\"><td class=\"l\">macro avg</td>"));
    assert_non_null(strstr(html, "<td class=\"c\">10</td>"));
    assert_non_null(strstr(html, "@media print"));
    /* one <svg> per chart, each with its title and description */
    assert_int_equal(count_of(html, "<svg "), 4);
    assert_int_equal(count_of(html, "</svg>"), 4);
    for (int k = 1; k <= 4; k++) {
        char id[96];
        snprintf(id, sizeof id, "aria-labelledby=\"figure-%d-title figure-%d-desc\"", k, k);
        assert_non_null(strstr(html, id));
        snprintf(id, sizeof id, "<desc id=\"figure-%d-desc\">", k);
        assert_non_null(strstr(html, id));
    }
    /* heat map: the 100% cell is the darkest colour of the scale, the 0% cell the lightest */
    assert_non_null(strstr(html, "fill=\"#08306b\""));
    assert_non_null(strstr(html, "fill=\"#f7fbff\""));
    /* bars in the first two Okabe-Ito colours, the series named in the legend */
    assert_non_null(strstr(html, "<g fill=\"#0072B2\">"));
    assert_non_null(strstr(html, "<g fill=\"#E69F00\">"));
    assert_non_null(strstr(html, ">model B</text>"));
    /* exact values in tooltips */
    assert_non_null(strstr(html, "<title>T1, model A: 0.50 (95% CI 0.40 to 0.60)</title>"));
    assert_non_null(strstr(html, "gold T2, predicted T2: 2 (100.0% of the row)"));
    /* the paired strip: 2 bars where B is better, 1 where A is, a tie mark */
    assert_non_null(strstr(html, "<title>+0.3000</title>"));
    assert_non_null(strstr(html, "<title>-0.2000</title>"));
    assert_int_equal(count_of(html, "<details>"), 4);
    free(html);
    onc_report_free(r);
}

/* The page loads nothing: no scheme, no protocol-relative URL, no url(),
 * @import, script, link, image, font or iframe; "http" appears only in the
 * Content-Security-Policy's http-equiv. */
static void assert_self_contained(const char *html) {
    static const char *const banned[] = {"https:", "http:", "//", "url(", "@import", "<script", "<link", "<img",
                                         "<iframe", "<object", "<embed", "src=", "href=", "@font-face", "xlink"};
    for (size_t i = 0; i < sizeof banned / sizeof *banned; i++) {
        if (strstr(html, banned[i])) fprintf(stderr, "found %s\n", banned[i]);
        assert_null(strstr(html, banned[i]));
    }
    assert_int_equal(count_of(html, "http"), count_of(html, "http-equiv"));
    assert_int_equal(count_of(html, "http-equiv"), 1);
    assert_non_null(strstr(html, "content=\"default-src 'none'; style-src 'unsafe-inline'\""));
}

static void test_html_self_contained(void **state) {
    (void)state;
    onc_report *r = small_report();
    char *html = render_html(r);
    assert_self_contained(html);
    free(html);
    onc_report_free(r);
}

// --- escaping ------------------------------------------------------------------------------------

static const char hostile[] = "a|b <script>alert('x')</script> \"q\" & T\xC3\xA4ter 腫瘍\nnext";

static void test_escaping(void **state) {
    (void)state;
    onc_report *r = onc_report_new("Title <i>&</i> #1");
    onc_report_add_meta(r, "<key>", hostile);
    onc_report_add_heading(r, 2, "# not a heading #");
    onc_report_add_paragraph(r, "1. not a list\n- not a bullet\n*x* _y_ `z` [l](u) &amp; ~s~ \\");
    onc_report_table *t = onc_report_table_begin(r, "cap|tion", 2, (const char *[]){"h|1", "h2"}, "lr");
    onc_report_table_row(t, (const char *[]){hostile, "x"});
    onc_report_table_end(t);
    /* invalid UTF-8 (a stray continuation byte, a truncated sequence) and
     * control characters (BEL, ESC, a C1 control) become U+FFFD */
    onc_report_add_paragraph(r, "bad \x80 and \xE2\x82 and \a\x1b and \xC2\x85 end");
    onc_report_add_bars(r, &(onc_report_bars){.n_categories = 1,
                                              .n_series = 1,
                                              .categories = (const char *[]){"<cat>"},
                                              .series = (const char *[]){"s\"1'"},
                                              .values = (const double[]){0.5}});

    char *md = render_md(r);
    assert_non_null(strstr(md, "# Title \\<i\\>&\\</i\\> \\#1\n"));
    assert_non_null(strstr(md, "- **\\<key\\>:** a\\|b \\<script\\>alert('x')\\</script\\> \"q\" & T\xC3\xA4ter 腫瘍 next\n"));
    assert_non_null(strstr(md, "## \\# not a heading \\#\n"));
    assert_non_null(strstr(md, "1\\. not a list\\\n\\- not a bullet\\\n\\*x\\* \\_y\\_ \\`z\\` \\[l\\](u) \\&amp; \\~s\\~ \\\\\n"));
    assert_non_null(strstr(md, "**Table 1.** cap\\|tion\n"));
    assert_non_null(strstr(md, "| h\\|1 | h2 |\n"));
    /* the cell: '|' escaped, the newline a <br>, UTF-8 untouched */
    assert_non_null(strstr(md, "| a\\|b \\<script\\>alert('x')\\</script\\> \"q\" & T\xC3\xA4ter 腫瘍<br>next | x |\n"));
    assert_non_null(strstr(md, "bad \xEF\xBF\xBD and \xEF\xBF\xBD\xEF\xBF\xBD and \xEF\xBF\xBD\xEF\xBF\xBD and "
                               "\xEF\xBF\xBD end"));
    assert_non_null(strstr(md, "| \\<cat\\> | 0.5000 |"));
    /* every line of the table has exactly the separators of its columns */
    const char *row = strstr(md, "| a\\|b");
    size_t bars = 0;
    for (const char *p = row; *p != '\n'; p++) bars += *p == '|' && p[-1] != '\\';
    assert_int_equal(bars, 3);
    free(md);

    char *html = render_html(r);
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<i>"));
    assert_null(strstr(html, "<key>"));
    assert_null(strstr(html, "<cat>"));
    assert_non_null(strstr(html, "<title>Title &lt;i&gt;&amp;&lt;/i&gt; #1</title>"));
    assert_non_null(strstr(html, "<dt>&lt;key&gt;</dt>"));
    assert_non_null(strstr(html, "a|b &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &quot;q&quot; &amp; T\xC3\xA4ter "
                                 "腫瘍<br>next</td>"));
    assert_non_null(strstr(html, "&amp;amp;"));
    assert_non_null(strstr(html, ">s&quot;1&#39;</text>"));
    assert_non_null(strstr(html, "bad \xEF\xBF\xBD and"));
    assert_null(strstr(html, "\x1b"));
    assert_null(strstr(html, "\a"));
    assert_self_contained(html);
    free(html);
    onc_report_free(r);
}

// --- n/a and empty charts ------------------------------------------------------------------------

static void test_nan_and_empty(void **state) {
    (void)state;
    onc_report *r = onc_report_new("n/a");
    const double counts[4] = {NAN, 2, 1, INFINITY};
    onc_report_add_heatmap(r, &(onc_report_heatmap){.n_rows = 2,
                                                    .n_cols = 2,
                                                    .row_labels = (const char *[]){"a", "b"},
                                                    .col_labels = (const char *[]){"a", "b"},
                                                    .counts = counts});
    const double all_nan[2] = {NAN, NAN};
    onc_report_add_bars(r, &(onc_report_bars){.n_categories = 1,
                                              .n_series = 2,
                                              .categories = (const char *[]){"c"},
                                              .series = (const char *[]){"s1", "s2"},
                                              .values = all_nan,
                                              .lo = all_nan,
                                              .hi = all_nan,
                                              .y_range = ONC_REPORT_RANGE_AUTO});
    const double hv[5] = {NAN, INFINITY, -INFINITY, 0.5, 2};
    onc_report_add_histogram(r, &(onc_report_histogram){.n_series = 2,
                                                        .series = (const char *[]){"mixed", "empty"},
                                                        .values = (const double *[]){hv, NULL},
                                                        .n_values = (const size_t[]){5, 0},
                                                        .range_lo = 0,
                                                        .range_hi = 1});
    const double dv[3] = {NAN, NAN, NAN};
    onc_report_add_paired(r, &(onc_report_paired){.n = 3, .diff = dv, .ci_level = 0.95, .ci_lo = NAN, .ci_hi = 1});
    onc_report_add_paired(r, &(onc_report_paired){.n = 0});
    onc_report_add_heatmap(r, &(onc_report_heatmap){.n_rows = 0});
    onc_report_add_bars(r, &(onc_report_bars){.n_categories = 0});
    onc_report_add_histogram(r, &(onc_report_histogram){.n_series = 0});
    /* all differences 0: a strip of ties, the axis still spans a range */
    const double zeros[3] = {0, 0, 0};
    onc_report_add_paired(r, &(onc_report_paired){.n = 3, .diff = zeros});

    char *md = render_md(r);
    /* heat map: the NaN cell is n/a and left out of the row total (2); the
     * infinite count is n/a too (1 + inf is not a total) */
    assert_non_null(strstr(md, "| a | n/a | 2 (100.0%) | 2 |\n"));
    assert_non_null(strstr(md, "| b | 1 (100.0%) | n/a | 1 |\n"));
    assert_non_null(strstr(md, "| c | n/a | n/a |\n"));
    /* histogram: 3 non-finite values n/a, 2 (above the range) not drawn, 0.5 counted */
    assert_non_null(strstr(md, "mixed: 5 values, mean 1.2500, median 1.2500; 3 n/a (not shown); 0 below and 1 above "
                               "the range (not shown).\\\n"));
    assert_non_null(strstr(md, "empty: 0 values, mean n/a, median n/a.\n"));
    assert_non_null(strstr(md, "No item has a difference in score to compare (3 items n/a)."));
    assert_non_null(strstr(md, "| 3 | 0 | 0 | 0 | 3 | n/a | n/a | n/a | n/a | n/a |\n"));
    assert_int_equal(count_of(md, "No data."), 3);
    assert_non_null(strstr(md, "| 3 | 0 | 0 | 3 | 0 | 0 | 0 | 0 | 0 | 0 |\n"));
    free(md);

    char *html = render_html(r);
    assert_non_null(strstr(html, "fill=\"#D9D9D9\"")); /* the n/a cell */
    assert_non_null(strstr(html, ">n/a</text>"));
    assert_int_equal(count_of(html, ">No data</text>"), 5); /* 3 empty charts, the all-n/a and the n = 0 paired */
    assert_null(strstr(html, "nan"));
    assert_null(strstr(html, "inf\""));
    assert_self_contained(html);
    free(html);
    onc_report_free(r);
}

// --- bins ----------------------------------------------------------------------------------------

/* numpy.histogram(np.arange(1, 9), bins="sturges") -> counts [2 2 2 2],
 * edges [1. 2.75 4.5 6.25 8.]: width = ptp / (log2 8 + 1) = 7/4 = 1.75,
 * 4 bins; the last bin is closed. A constant series gets [v - 0.5,
 * v + 0.5] in one bin; no finite value gives [0, 1] in one bin. */
static void test_histogram_bins(void **state) {
    (void)state;
    onc_report *r = onc_report_new("bins");
    const double v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    onc_report_add_histogram(r, &(onc_report_histogram){.n_series = 1,
                                                        .series = (const char *[]){"s"},
                                                        .values = (const double *[]){v},
                                                        .n_values = (const size_t[]){8}});
    const double c[3] = {5, 5, 5};
    onc_report_add_histogram(r, &(onc_report_histogram){.n_series = 1,
                                                        .series = (const char *[]){"s"},
                                                        .values = (const double *[]){c},
                                                        .n_values = (const size_t[]){3}});
    const double none[1] = {NAN};
    onc_report_add_histogram(r, &(onc_report_histogram){.n_series = 1,
                                                        .series = (const char *[]){"s"},
                                                        .values = (const double *[]){none},
                                                        .n_values = (const size_t[]){1}});
    /* two series pooled for the edges: {0, 1} and {3}: ptp 3, n 3,
     * width 3 / (log2 3 + 1) = 1.1605 -> ceil(2.585) = 3 bins of width 1:
     * [0,1) [1,2) [2,3] -> first series 1 1 0, second 0 0 1 */
    const double s1[2] = {0, 1}, s2[1] = {3};
    onc_report_add_histogram(r, &(onc_report_histogram){.n_series = 2,
                                                        .series = (const char *[]){"one", "two"},
                                                        .values = (const double *[]){s1, s2},
                                                        .n_values = (const size_t[]){2, 1}});
    char *md = render_md(r);
    assert_non_null(strstr(md, "| \\[1.00, 2.75) | 2 |\n| \\[2.75, 4.50) | 2 |\n| \\[4.50, 6.25) | 2 |\n"
                               "| \\[6.25, 8.00\\] | 2 |\n"));
    assert_non_null(strstr(md, "| \\[4.5, 5.5\\] | 3 |\n"));
    assert_non_null(strstr(md, "| \\[0, 1\\] | 0 |\n"));
    assert_non_null(strstr(md, "| \\[0, 1) | 1 | 0 |\n| \\[1, 2) | 1 | 0 |\n| \\[2, 3\\] | 0 | 1 |\n"));
    free(md);
    onc_report_free(r);
}

// --- size bounds ---------------------------------------------------------------------------------

static void test_large_inputs_stay_small(void **state) {
    (void)state;
    enum { N = 100000, L = 50 };
    double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    uint64_t x = 12345;
    for (size_t i = 0; i < N; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        a[i] = (double)(x >> 11) * 0x1.0p-53;
        b[i] = a[i] * a[i];
    }
    onc_report *r = onc_report_new("large");
    onc_report_add_histogram(r, &(onc_report_histogram){.n_series = 2,
                                                        .series = (const char *[]){"a", "b"},
                                                        .values = (const double *[]){a, b},
                                                        .n_values = (const size_t[]){N, N},
                                                        .layout = ONC_REPORT_HIST_SIDE_BY_SIDE});
    for (size_t i = 0; i < N; i++) b[i] -= a[i];
    onc_report_add_paired(r, &(onc_report_paired){.n = N, .diff = b});
    char *html = render_html(r);
    /* Sturges for 200k pooled values: ceil(log2(200000) + 1) = 19 bins, never one element per value */
    assert_true(strlen(html) < 60000);
    assert_true(count_of(html, "<rect") < 200);
    char *md = render_md(r);
    assert_true(strlen(md) < 4000);
    assert_non_null(strstr(md, "| 100000 |"));
    free(md);
    free(html);
    onc_report_free(r);

    /* a 50 x 50 confusion matrix: every cell drawn (with a tooltip), text dropped */
    char names[L][32];
    const char *labels[L];
    double *counts = malloc(L * L * sizeof *counts);
    assert_non_null(counts);
    for (int i = 0; i < L; i++) {
        snprintf(names[i], sizeof names[i], "C%02d-long-name", i);
        labels[i] = names[i];
        for (int j = 0; j < L; j++) counts[i * L + j] = i == j ? 90 : (i + j) % 7;
    }
    r = onc_report_new("50 classes");
    onc_report_add_heatmap(r, &(onc_report_heatmap){.n_rows = L,
                                                    .n_cols = L,
                                                    .row_labels = labels,
                                                    .col_labels = labels,
                                                    .counts = counts});
    html = render_html(r);
    assert_int_equal(count_of(html, "<rect"), L * L + 5); /* cells and the five legend steps */
    assert_true(strlen(html) < 600000);
    assert_non_null(strstr(html, "rotate(-90)")); /* long labels of narrow columns stand upright */
    free(html);
    free(counts);
    free(a);
    free(b);
    onc_report_free(r);
}

// --- line charts ----------------------------------------------------------------------------------

/* Points of the k-th <polyline> of html (0-based); -1 when there is none. */
static long polyline_points(const char *html, size_t k) {
    const char *p = html;
    for (size_t i = 0; i <= k; i++) {
        p = strstr(p, "<polyline points=\"");
        if (!p) return -1;
        p += strlen("<polyline points=\"");
    }
    long n = 1;
    for (; *p && *p != '"'; p++) n += *p == ' ';
    return n;
}

/* A train-loss series of 10 steps with a NaN at step 5 and a validation
 * series of 3 points whose name needs escaping. */
static onc_report *lines_report(double *train_x, double *train_y, char *name) {
    onc_report *r = onc_report_new("loss");
    onc_report_add_lines(r, &(onc_report_lines){.caption = "Loss curves",
                                                 .x_title = "step",
                                                 .y_title = "loss",
                                                 .n_series = 2,
                                                 .series = (const char *[]){"train loss", name},
                                                 .n_points = (const size_t[]){10, 3},
                                                 .x = (const double *[]){train_x, (const double[]){0, 4, 9}},
                                                 .y = (const double *[]){train_y, (const double[]){2.5, 1.5, 1.25}}});
    return r;
}

static void test_lines(void **state) {
    (void)state;
    double x[10], y[10];
    for (int i = 0; i < 10; i++) {
        x[i] = i;
        y[i] = 3.0 / (1 + i);
    }
    y[5] = NAN;
    char name[] = "validation <loss> & \"x\"";
    onc_report *r = lines_report(x, y, name);
    char *html = render_html(r), *md = render_md(r);
    /* the NaN splits train loss into 5 + 4 points; validation is one line of 3 */
    assert_int_equal(count_of(html, "<polyline"), 3);
    assert_int_equal(polyline_points(html, 0), 5);
    assert_int_equal(polyline_points(html, 1), 4);
    assert_int_equal(polyline_points(html, 2), 3);
    assert_non_null(strstr(html, "train loss"));
    assert_non_null(strstr(html, "validation &lt;loss&gt; &amp; &quot;x&quot;"));
    assert_null(strstr(html, "<loss>"));
    assert_non_null(strstr(html, "aria-labelledby=\"figure-1-title figure-1-desc\""));
    assert_non_null(strstr(html, "<desc id=\"figure-1-desc\">Line chart of 2 series"));
    assert_non_null(strstr(html, "stroke=\"#0072B2\""));                     /* palette colours, in order */
    assert_non_null(strstr(html, "stroke=\"#E69F00\""));
    assert_non_null(strstr(html, "<summary>Data table</summary>"));
    assert_non_null(strstr(md, "**Figure 1.** Loss curves\n"));
    assert_non_null(strstr(html, "loss against step from 0 to 9; values from 0.3000 to 3.0000 on a linear axis"));
    assert_non_null(strstr(md, "Rows: 10 evenly spaced values of step"));
    assert_non_null(strstr(md, "| step | train loss | validation \\<loss\\> & \"x\" |"));
    /* rows at whole steps 0..9 (20 rows collapse to the 10 distinct whole values) */
    assert_non_null(strstr(md, "| 0 | 3.0000 | 2.5000 |"));
    assert_non_null(strstr(md, "| 5 | n/a | 1.5000 |")); /* step 5 of train loss is the gap; validation nearest is step 4 */
    assert_non_null(strstr(md, "| 9 | 0.3000 | 1.2500 |"));
    assert_non_null(strstr(md, "train loss: 10 points, last 0.3000 at 9, minimum 0.3000 at 9; 1 not drawn (n/a)."));
    free(html);
    free(md);

    /* copies: changing the caller's arrays and names after the add changes nothing */
    char *before = render_html(r);
    for (int i = 0; i < 10; i++) x[i] = y[i] = -1;
    memset(name, 'z', sizeof name - 1);
    char *after = render_html(r);
    assert_string_equal(before, after);
    free(before);
    free(after);
    onc_report_free(r);
}

static void test_lines_log_and_empty(void **state) {
    (void)state;
    /* log scale: decades 0.01 .. 10 as ticks; the 0 and the negative value are gaps */
    const double x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {8, 0.5, 0, 0.05, -1, 0.02};
    onc_report *r = onc_report_new("log");
    onc_report_add_lines(r, &(onc_report_lines){.n_series = 1,
                                                 .series = (const char *[]){"loss"},
                                                 .n_points = (const size_t[]){6},
                                                 .x = (const double *[]){x},
                                                 .y = (const double *[]){y},
                                                 .log_y = true});
    char *html = render_html(r), *md = render_md(r);
    for (const char *const *t = (const char *const[]){">0.01</text>", ">0.1</text>", ">1</text>", ">10</text>", NULL}; *t;
         t++)
        assert_non_null(strstr(html, *t));
    assert_non_null(strstr(html, "logarithmic"));
    assert_int_equal(count_of(html, "<polyline"), 1); /* 8, 0.5 */
    assert_int_equal(polyline_points(html, 0), 2);
    assert_int_equal(count_of(html, "<circle"), 2); /* 0.05 and 0.02 alone between gaps */
    assert_non_null(strstr(md, "logarithmic y axis"));
    assert_non_null(strstr(md, "loss: 6 points, last 0.0200 at 6, minimum 0.0200 at 6; 2 not drawn (n/a)."));
    free(html);
    free(md);
    onc_report_free(r);

    /* no series: "No data"; an empty series and an all-NaN one: legend only */
    r = onc_report_new("empty");
    onc_report_add_lines(r, &(onc_report_lines){.caption = "nothing"});
    const double nan2[2] = {NAN, NAN};
    onc_report_add_lines(r, &(onc_report_lines){.n_series = 2,
                                                 .series = (const char *[]){"empty", "all n/a"},
                                                 .n_points = (const size_t[]){0, 2},
                                                 .x = (const double *[]){NULL, nan2},
                                                 .y = (const double *[]){NULL, nan2}});
    html = render_html(r);
    md = render_md(r);
    assert_non_null(strstr(html, "No data"));
    assert_null(strstr(html, "<polyline"));
    assert_non_null(strstr(html, ">all n/a</text>"));
    assert_non_null(strstr(md, "No data."));
    assert_non_null(strstr(md, "| x | empty | all n/a |"));
    assert_non_null(strstr(md, "all n/a: 2 points; 2 not drawn (n/a)."));
    free(html);
    free(md);
    onc_report_free(r);
}

static void test_lines_many_points(void **state) {
    (void)state;
    enum { N = 10000 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *v = malloc(N / 100 * sizeof *v),
           *vx = malloc(N / 100 * sizeof *vx);
    assert_true(x && y && v && vx);
    for (size_t i = 0; i < N; i++) {
        x[i] = (double)i;
        y[i] = 2.0 / sqrt(1.0 + (double)i) + 0.05 * sin((double)i * 0.7); /* noisy descent */
    }
    for (size_t i = 0; i < N / 100; i++) {
        vx[i] = (double)(i * 100);
        v[i] = y[i * 100] + 0.1;
    }
    onc_report *r = onc_report_new("many");
    onc_report_add_lines(r, &(onc_report_lines){.x_title = "step",
                                                 .n_series = 2,
                                                 .series = (const char *[]){"train", "validation"},
                                                 .n_points = (const size_t[]){N, N / 100},
                                                 .x = (const double *[]){x, vx},
                                                 .y = (const double *[]){y, v}});
    char *html = render_html(r), *md = render_md(r);
    /* at most the lowest and highest point of each of the 640 (+1) pixel columns */
    const long n0 = polyline_points(html, 0);
    assert_true(n0 > 640 && n0 <= 2 * 641);
    assert_int_equal(polyline_points(html, 1), N / 100);
    assert_true(strlen(html) < 60000);
    /* the data table: 20 rows */
    assert_int_equal(count_of(md, "\n| "), 2 + 20);
    assert_non_null(strstr(md, "| 9999 |"));
    assert_true(strlen(md) < 4000);
    free(html);
    free(md);
    onc_report_free(r);
    free(x);
    free(y);
    free(v);
    free(vx);
}

static void test_lines_out_of_memory(void **state) {
    (void)state;
    enum { N = 10000 }; /* copies larger than an arena chunk: each needs its own allocation */
    static double x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = y[i] = i;
    long n = 0;
    for (; n < 100; n++) {
        onc_report *r = onc_report_new("oom");
        assert_non_null(r);
        rep_fail_allocations_after(r, n);
        onc_report_add_lines(r, &(onc_report_lines){.n_series = 1,
                                                     .series = (const char *[]){"s"},
                                                     .n_points = (const size_t[]){N},
                                                     .x = (const double *[]){x},
                                                     .y = (const double *[]){y}});
        onc_error err = {0};
        char *text = NULL;
        const onc_status st = onc_report_render_markdown(r, &text, NULL, &err);
        free(text);
        onc_report_free(r);
        if (st == ONC_OK) break;
        assert_int_equal(st, ONC_ERR_NOMEM);
    }
    assert_true(n >= 2 && n < 100); /* the chart and its copies failed one after the other, then it worked */
    onc_report_add_lines(NULL, &(onc_report_lines){0});
}

// --- files and errors ----------------------------------------------------------------------------

/* No "<base>.tmp.*" file in the working folder. */
static bool temp_files_left(const char *base) {
    DIR *d = opendir(".");
    assert_non_null(d);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s.tmp.", base);
    bool found = false;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) found = true;
    closedir(d);
    return found;
}

static void test_write_errors(void **state) {
    (void)state;
    onc_report *r = small_report();
    onc_error err = {0};
    /* a folder that does not exist */
    assert_int_equal(onc_report_write_html(r, "no-such-folder/report.html", &err), ONC_ERR_IO);
    assert_non_null(strstr(err.msg, "no-such-folder/report.html"));
    /* the path is a folder: the temporary file is written, the rename fails,
     * the temporary file is removed and the folder is untouched */
    const char *dir = "test_report_is_a_folder";
    rmdir(dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    onc_error_clear(&err);
    assert_int_equal(onc_report_write_markdown(r, dir, &err), ONC_ERR_IO);
    assert_non_null(strstr(err.msg, dir));
    assert_non_null(strstr(err.msg, "rename"));
    assert_false(temp_files_left(dir));
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    rmdir(dir);
    /* success replaces an older file atomically and leaves no temporary file */
    const char *path = "test_report_replace.html";
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("old", f);
    fclose(f);
    assert_int_equal(onc_report_write_html(r, path, &err), ONC_OK);
    assert_false(temp_files_left(path));
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 1000);
    remove(path);
    onc_report_free(r);
}

/* Builds the small report with every allocation after the first `n`
 * failing; returns the status of rendering it. */
static onc_status build_with_failure(long n, onc_error *err) {
    onc_report *r = onc_report_new("fault injection");
    assert_non_null(r);
    rep_fail_allocations_after(r, n);
    onc_report_add_meta(r, "k", "v");
    onc_report_add_heading(r, 2, "h");
    onc_report_table *t = onc_report_table_begin(r, "t", 2, (const char *[]){"a", "b"}, NULL);
    for (int i = 0; i < 40; i++) onc_report_table_row(t, (const char *[]){"x", "y"});
    onc_report_table_end(t);
    double v[600];
    for (int i = 0; i < 600; i++) v[i] = (i % 13) / 13.0 - 0.4;
    onc_report_add_histogram(r, &(onc_report_histogram){.n_series = 1,
                                                        .series = (const char *[]){"s"},
                                                        .values = (const double *[]){v},
                                                        .n_values = (const size_t[]){600}});
    onc_report_add_paired(r, &(onc_report_paired){.n = 600, .diff = v});
    onc_report_add_paired(r, &(onc_report_paired){.n = 50, .diff = v});
    /* a block large enough to need its own arena chunk */
    static double big[100 * 100];
    onc_report_add_heatmap(r, &(onc_report_heatmap){.n_rows = 100,
                                                    .n_cols = 100,
                                                    .row_labels = (const char *[100]){0},
                                                    .col_labels = (const char *[100]){0},
                                                    .counts = big});
    onc_report_add_paragraph(r, "after the failure");
    char *text = NULL;
    onc_error_clear(err);
    const onc_status st = onc_report_render_markdown(r, &text, NULL, err);
    if (st == ONC_OK) {
        assert_non_null(text);
        assert_non_null(strstr(text, "after the failure"));
    } else {
        assert_null(text);
    }
    free(text);
    /* the HTML and file writers report the same recorded error */
    onc_error err2 = {0};
    assert_int_equal(onc_report_write_html(r, "test_report_fault.html", &err2), st);
    if (st != ONC_OK) assert_non_null(strstr(err2.msg, "test_report_fault.html"));
    remove("test_report_fault.html");
    onc_report_free(r);
    return st;
}

static void test_out_of_memory(void **state) {
    (void)state;
    onc_error err = {0};
    long n = 0;
    for (; n < 1000; n++) {
        const onc_status st = build_with_failure(n, &err);
        if (st == ONC_OK) break;
        assert_int_equal(st, ONC_ERR_NOMEM);
        assert_non_null(strstr(err.msg, "out of memory"));
        assert_non_null(strstr(err.msg, "fault injection"));
    }
    assert_true(n >= 3 && n < 1000); /* several allocations failed one after the other, then it worked */
    /* a failed onc_report_new (NULL): adds are no-ops, writes report it */
    onc_report_add_meta(NULL, "k", "v");
    onc_report_add_heading(NULL, 2, "h");
    onc_report_add_paragraph(NULL, "p");
    assert_null(onc_report_table_begin(NULL, "t", 1, (const char *[]){"a"}, "l"));
    onc_report_table_row(NULL, (const char *[]){"a"});
    onc_report_table_end(NULL);
    onc_report_add_bars(NULL, &(onc_report_bars){0});
    char *text = (char *)"unchanged";
    assert_int_equal(onc_report_render_html(NULL, &text, NULL, &err), ONC_ERR_NOMEM);
    assert_null(text);
    assert_int_equal(onc_report_write_markdown(NULL, "x.md", &err), ONC_ERR_NOMEM);
    assert_non_null(strstr(err.msg, "x.md"));
    onc_report_free(NULL);
}

// --- formatting helpers --------------------------------------------------------------------------

static void test_number_formats(void **state) {
    (void)state;
    char s[REP_NUM_MAX];
    assert_string_equal(rep_fmt(s, -0.00001, 4), "0.0000");
    assert_string_equal(rep_fmt(s, NAN, 2), "n/a");
    assert_string_equal(rep_fmt(s, -INFINITY, 2), "n/a");
    assert_string_equal(rep_fmt_signed(s, 0.01234, 3), "+0.012");
    assert_string_equal(rep_fmt_signed(s, 0.00001, 3), "0.000");
    assert_string_equal(rep_fmt_signed(s, -0.5, 1), "-0.5");
    assert_string_equal(rep_fmt_p(s, 0.000012), "1.20e-05");
    assert_string_equal(rep_fmt_p(s, 0.04), "0.0400");
    assert_string_equal(rep_fmt_level(s, 0.95), "95%");
    assert_string_equal(rep_fmt_level(s, 0.975), "97.5%");
    const double ints[3] = {1, 20, NAN}, frac[2] = {1, 0.5};
    assert_int_equal(rep_resolve_decimals(0, ints, 3), 0);
    assert_int_equal(rep_resolve_decimals(0, frac, 2), 4);
    assert_int_equal(rep_resolve_decimals(3, frac, 2), 3);
    const rep_ticks t = rep_nice_ticks(0, 1, 5);
    assert_true(t.first == 0 && fabs(t.last - 1) < 1e-12 && fabs(t.step - 0.2) < 1e-12);
    assert_int_equal(t.n_ticks, 6);
    assert_int_equal(t.decimals, 1);
    const rep_ticks u = rep_nice_ticks(-0.14, 0.27, 6);
    assert_true(fabs(u.step - 0.1) < 1e-12 && fabs(u.first + 0.2) < 1e-12 && fabs(u.last - 0.3) < 1e-12);
    char cut[64];
    assert_string_equal(rep_utf8_trunc(cut, sizeof cut, "short", 10), "short");
    assert_string_equal(rep_utf8_trunc(cut, sizeof cut, "Gr\xC3\xB6\xC3\x9F" "enordnung", 5), "Gr\xC3\xB6\xC3\x9F\xE2\x80\xA6");
    assert_int_equal(rep_utf8_len("腫瘍 ok"), 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markdown_exact),      cmocka_unit_test(test_outputs_agree),
        cmocka_unit_test(test_html_structure),      cmocka_unit_test(test_html_self_contained),
        cmocka_unit_test(test_escaping),            cmocka_unit_test(test_nan_and_empty),
        cmocka_unit_test(test_histogram_bins),      cmocka_unit_test(test_large_inputs_stay_small),
        cmocka_unit_test(test_write_errors),        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_number_formats),      cmocka_unit_test(test_lines),
        cmocka_unit_test(test_lines_log_and_empty), cmocka_unit_test(test_lines_many_points),
        cmocka_unit_test(test_lines_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
