/* report_sample.c — helper for tests/oracle/test_report_html.py: writes a
 * sample evaluation report with every element of oncolm/report.h (meta,
 * headings, paragraphs, tables with an emphasised row and hostile text,
 * heat map, grouped bars with intervals and an n/a bar, histograms overlaid
 * and side by side, paired differences as a strip and as a histogram, a
 * line chart of training and validation loss) to a Markdown and an HTML
 * file.
 *
 *   report_sample [--only KIND] [--values FILE] OUT.md OUT.html
 *
 * --only KIND writes a report holding just one chart (heatmap, bars,
 * histogram, paired, paired-hist, lines), so the screenshot test can tell which
 * chart drew what. --values FILE writes the raw values of the side-by-side
 * histogram ("series<TAB>value" lines, %.17g), for the numpy comparison of
 * the bins. The data are deterministic (oncolm's seeded RNG). Exit 1 with a
 * message on stderr on any error, 2 on bad usage. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/report.h"
#include "oncolm/rng.h"

/* Uniform in [0, 1) with 53 random bits. */
static double uniform(onc_rng *r) { return (double)(onc_rng_next(r) >> 11) * 0x1.0p-53; }

/* Roughly normal (sum of 12 uniforms), mean mu, standard deviation sd. */
static double normalish(onc_rng *r, double mu, double sd) {
    double s = 0;
    for (int i = 0; i < 12; i++) s += uniform(r);
    return mu + sd * (s - 6);
}

static double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

static void add_tables(onc_report *r) {
    onc_report_add_heading(r, 2, "Per-class scores");
    onc_report_add_paragraph(r, "Sensitivity, PPV and F1 per tumour stage on the test split.\n"
                                "Text is plain: <b>not bold</b>, *not italic*, a | pipe & an \"ampersand\".\n\n"
                                "A second paragraph with UTF-8: Größe, 腫瘍, naïve — ok.");
    onc_report_table *t = onc_report_table_begin(r, "Per-class scores (test split)", 5,
                                                 (const char *[]){"class", "support", "sensitivity", "PPV", "F1"},
                                                 "lrrrr");
    onc_report_table_row(t, (const char *[]){"T1", "40", "0.850", "0.810", "0.829"});
    onc_report_table_row(t, (const char *[]){"T2", "35", "0.714", "0.758", "0.735"});
    onc_report_table_row(t, (const char *[]){"T3", "25", "0.640", "0.615", "0.627"});
    onc_report_table_row(t, (const char *[]){"T4 <script>alert('x')</script> | pipe", "10", "0.500", "0.556",
                                              "0.526"});
    onc_report_table_row_emph(t, (const char *[]){"macro avg", "110", "0.676", "0.685", "0.679"});
    onc_report_table_end(t);
}

static void add_heatmap(onc_report *r) {
    static const double counts[4 * 4] = {34, 4, 2, 0, 5, 25, 4, 1, 1, 6, 16, 2, 0, 1, 4, 5};
    onc_report_add_heatmap(r, &(onc_report_heatmap){.caption = "Confusion matrix of tumour stage",
                                                    .n_rows = 4,
                                                    .n_cols = 4,
                                                    .row_labels = (const char *[]){"T1", "T2", "T3", "T4"},
                                                    .col_labels = (const char *[]){"T1", "T2", "T3", "T4"},
                                                    .counts = counts});
}

static void add_bars(onc_report *r) {
    static const double v[4 * 3] = {0.850, 0.810, 0.829, 0.714, 0.758, 0.735,
                                    0.640, 0.615, 0.627, 0.500, NAN,   0.526};
    static const double lo[4 * 3] = {0.74, 0.70, 0.73, 0.58, 0.62, 0.62, 0.47, 0.45, 0.49, 0.24, NAN, 0.30};
    static const double hi[4 * 3] = {0.93, 0.90, 0.91, 0.84, 0.87, 0.83, 0.79, 0.77, 0.75, 0.76, NAN, 0.72};
    onc_report_add_bars(r, &(onc_report_bars){.caption = "Per-class scores with 95% bootstrap intervals",
                                              .x_title = "tumour stage",
                                              .y_title = "score",
                                              .n_categories = 4,
                                              .n_series = 3,
                                              .categories = (const char *[]){"T1", "T2", "T3", "T4"},
                                              .series = (const char *[]){"sensitivity", "PPV", "F1"},
                                              .values = v,
                                              .lo = lo,
                                              .hi = hi,
                                              .interval_label = "95% CI"});
}

/* Two systems' per-item ROUGE-L F on the same 300 items. */
static void rouge_values(double *a, double *b, size_t n) {
    onc_rng rng;
    onc_rng_seed(&rng, 20240101);
    for (size_t i = 0; i < n; i++) {
        a[i] = clamp01(normalish(&rng, 0.38, 0.12));
        b[i] = clamp01(a[i] + normalish(&rng, 0.05, 0.08));
    }
}

static void add_histograms(onc_report *r, bool overlay_too, const char *values_path) {
    enum { N = 300 };
    static double a[N], b[N];
    rouge_values(a, b, N);
    if (overlay_too)
        onc_report_add_histogram(r, &(onc_report_histogram){.caption = "ROUGE-L F per summary (overlaid, 20 bins on 0..1)",
                                                            .x_title = "ROUGE-L F",
                                                            .n_series = 2,
                                                            .series = (const char *[]){"baseline", "fine-tuned"},
                                                            .values = (const double *[]){a, b},
                                                            .n_values = (const size_t[]){N, N},
                                                            .n_bins = 20,
                                                            .range_lo = 0,
                                                            .range_hi = 1,
                                                            .layout = ONC_REPORT_HIST_OVERLAY});
    onc_report_add_histogram(r, &(onc_report_histogram){.caption = "ROUGE-L F per summary (Sturges bins)",
                                                        .x_title = "ROUGE-L F",
                                                        .n_series = 2,
                                                        .series = (const char *[]){"baseline", "fine-tuned"},
                                                        .values = (const double *[]){a, b},
                                                        .n_values = (const size_t[]){N, N},
                                                        .layout = ONC_REPORT_HIST_SIDE_BY_SIDE});
    if (values_path) {
        FILE *f = fopen(values_path, "w");
        if (!f) {
            fprintf(stderr, "report_sample: cannot write %s\n", values_path);
            exit(1);
        }
        for (size_t i = 0; i < N; i++) fprintf(f, "0\t%.17g\n", a[i]);
        for (size_t i = 0; i < N; i++) fprintf(f, "1\t%.17g\n", b[i]);
        if (fclose(f) != 0) {
            fprintf(stderr, "report_sample: cannot write %s\n", values_path);
            exit(1);
        }
    }
}

/* Paired differences of n items: a strip (n <= 500) or a histogram. */
static void add_paired(onc_report *r, size_t n, const char *caption) {
    double *d = malloc(n * sizeof *d);
    if (!d) {
        fprintf(stderr, "report_sample: out of memory\n");
        exit(1);
    }
    onc_rng rng;
    onc_rng_seed(&rng, 7 + n);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        d[i] = (i % 9 == 0) ? 0 : round(normalish(&rng, 0.04, 0.09) * 1e4) / 1e4;
        sum += d[i];
    }
    const double mean = sum / (double)n, half = 1.96 * 0.09 / sqrt((double)n);
    onc_report_add_paired(r, &(onc_report_paired){.caption = caption,
                                                  .a_name = "baseline",
                                                  .b_name = "fine-tuned",
                                                  .metric = "ROUGE-L F",
                                                  .n = n,
                                                  .diff = d,
                                                  .ci_level = 0.95,
                                                  .ci_lo = mean - half,
                                                  .ci_hi = mean + half,
                                                  .test_name = "Wilcoxon signed-rank",
                                                  .p_value = 0.00123});
    free(d);
}

/* Loss curves: 10,000 noisy training steps (NaN from step 4,000 to 4,199:
 * a gap) and a validation loss every 200 steps. */
static void add_lines(onc_report *r) {
    enum { N = 10000, V = N / 200 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), vx[V], vy[V];
    if (!x || !y) {
        free(x);
        free(y);
        onc_report_add_lines(r, &(onc_report_lines){0});
        return;
    }
    onc_rng rng;
    onc_rng_seed(&rng, 7);
    for (size_t i = 0; i < N; i++) {
        x[i] = (double)i;
        y[i] = 0.6 + 2.4 / sqrt(1.0 + (double)i / 50.0) + normalish(&rng, 0, 0.08);
        if (i >= 4000 && i < 4200) y[i] = NAN;
    }
    for (size_t k = 0; k < V; k++) {
        vx[k] = (double)(k * 200);
        vy[k] = 0.75 + 2.4 / sqrt(1.0 + vx[k] / 50.0) + 0.00002 * vx[k];
    }
    onc_report_add_lines(r, &(onc_report_lines){.caption = "Training and validation loss",
                                                 .x_title = "step",
                                                 .y_title = "cross-entropy loss",
                                                 .n_series = 2,
                                                 .series = (const char *[]){"train loss", "validation loss"},
                                                 .n_points = (const size_t[]){N, V},
                                                 .x = (const double *[]){x, vx},
                                                 .y = (const double *[]){y, vy}});
    free(x);
    free(y);
}

int main(int argc, char **argv) {
    const char *only = NULL, *values = NULL;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--only") == 0) only = argv[i + 1];
        else if (strcmp(argv[i], "--values") == 0) values = argv[i + 1];
        else break;
    }
    if (argc - i != 2) {
        fprintf(stderr, "usage: report_sample [--only heatmap|bars|histogram|paired|paired-hist|lines] [--values FILE] "
                        "OUT.md OUT.html\n");
        return 2;
    }
    const bool all = only == NULL;
    onc_report *r = onc_report_new(all ? "Sample evaluation report: tumour stage & summaries" : only);
    onc_report_add_meta(r, "gold", "data/test.jsonl");
    onc_report_add_meta(r, "predictions", "runs/model-a.jsonl");
    onc_report_add_meta(r, "generated by", "oncolm report_sample (test helper)");
    if (all) add_tables(r);
    if (all) onc_report_add_heading(r, 2, "Classification");
    if (all || strcmp(only, "heatmap") == 0) add_heatmap(r);
    if (all || strcmp(only, "bars") == 0) add_bars(r);
    if (all) onc_report_add_heading(r, 2, "Summaries");
    if (all || strcmp(only, "histogram") == 0) add_histograms(r, all, values);
    if (all) onc_report_add_heading(r, 3, "Paired comparison");
    if (all || strcmp(only, "paired") == 0) add_paired(r, 120, "Per-summary difference, fine-tuned minus baseline");
    if (all || strcmp(only, "paired-hist") == 0)
        add_paired(r, 2000, "Per-summary difference on 2,000 summaries (histogram)");
    if (all) onc_report_add_heading(r, 2, "Fine-tuning");
    if (all || strcmp(only, "lines") == 0) add_lines(r);
    if (!all && strcmp(only, "heatmap") && strcmp(only, "bars") && strcmp(only, "histogram") &&
        strcmp(only, "paired") && strcmp(only, "paired-hist") && strcmp(only, "lines")) {
        fprintf(stderr, "report_sample: unknown chart kind %s\n", only);
        onc_report_free(r);
        return 2;
    }
    onc_error err = {0};
    if (onc_report_write_markdown(r, argv[i], &err) != ONC_OK || onc_report_write_html(r, argv[i + 1], &err) != ONC_OK) {
        fprintf(stderr, "report_sample: %s\n", err.msg);
        onc_report_free(r);
        return 1;
    }
    onc_report_free(r);
    return 0;
}
