/* cmd_eval_pred.c — `oncolm eval FILE.jsonl` and `oncolm eval compare A B`:
 * the tables of prediction files (classification, multi-label, per-field
 * extraction, ICD-10 codes, generated text), time and cost, and paired
 * comparisons of two systems. Numbers come from oncolm/eval_run.h; this
 * file parses options, writes JSON / Markdown / HTML and prints the
 * Markdown report (or the verdict) on stdout. docs/EVALUATION.md. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "oncolm/eval_run.h"

static const char *usage_pred =
    "usage: oncolm eval [options] PREDICTIONS.jsonl\n"
    "Every metric of a prediction file: JSONL lines {\"id\", \"gold\", \"prediction\", optional \"group\",\n"
    "\"time_s\", \"tokens_in\", \"tokens_out\"}. gold/prediction: a label (string/number/boolean), a set of\n"
    "labels (array), fields (object field -> label), or null for no answer.\n"
    "  --task T            auto (default: from the gold values), classify, multilabel, fields, codes (ICD-10), text\n"
    "  --labels A,B,C      label order (confusion matrix, weighted kappa) and the classes reported\n"
    "  --positive LABEL    also the binary precision/recall/F1 of this class\n"
    "  --zero-division Z   value of 0/0 ratios, 0 (default, as scikit-learn) or 1\n"
    "  --level L           confidence level of the Wilson intervals (default 0.95)\n"
    "  --stem | --no-stem  text: headline ROUGE with (default) or without the Porter stemmer (both are computed)\n"
    "  --prices FILE       price table (JSON, see docs/EVALUATION.md) ...\n"
    "  --price NAME        ... and the entry to charge: cost of the tokens and wall time in the file\n"
    "                      (compare: NAME for both systems or NAME_A,NAME_B)\n"
    "  --per-item          JSON: also every item's scores (text)\n"
    "  --json FILE         write every number as JSON (\"-\" = stdout)\n"
    "  --md FILE           write the Markdown report\n"
    "  --html FILE         write the self-contained HTML report (charts; opens in any browser)\n"
    "  --quiet             do not print the Markdown report on stdout\n"
    "Subcommands: `oncolm eval compare A.jsonl B.jsonl` (paired test of two systems), `oncolm eval retrieval`,\n"
    "`oncolm eval paired`. Definitions: docs/EVALUATION.md.\n";

static const char *usage_compare =
    "usage: oncolm eval compare [options] A.jsonl B.jsonl\n"
    "Compare system B with system A (the baseline) on the items of both files (paired by id; the gold values\n"
    "must agree). Runs the test that fits the metric (McNemar for right/wrong labels, Wilcoxon signed-rank for\n"
    "per-item scores), paired bootstrap intervals of the headline differences, and says which is better.\n"
    "  --task T            as in `oncolm eval` (default auto)\n"
    "  --alternative A     two-sided (default), greater (B better than A) or less\n"
    "  --alpha X           significance level of the verdict (default 0.05)\n"
    "  --level L           confidence level of the intervals (default 0.95)\n"
    "  --bootstrap N       bootstrap resamples (default 2000)\n"
    "  --seed S            bootstrap seed (default 42)\n"
    "  --mcnemar M         exact (default) or chi2 (with continuity correction)\n"
    "  --rouge V           text: rouge1, rouge2, rougeL (default) or rougeLsum\n"
    "  --no-stem           text: compare ROUGE without the Porter stemmer\n"
    "  --labels, --positive, --zero-division, --prices, --price, --per-item, --json, --md, --html, --quiet\n"
    "                      as in `oncolm eval`\n";

typedef struct pred_cli {
    onc_eval_opts o;
    const char *json, *md, *html, *prices, *price;
    bool quiet;
    char **labels;
    size_t n_labels;
    const char *files[2];
    int n_files;
} pred_cli;

/* Split "a,b,c" into cli->labels (empty pieces kept out). */
static bool split_labels(pred_cli *c, const char *s) {
    size_t n = 1;
    for (const char *p = s; *p; p++) n += *p == ',';
    c->labels = calloc(n, sizeof *c->labels);
    if (!c->labels) return false;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == ',' || *p == 0) {
            if (p > start) c->labels[c->n_labels++] = strndup(start, (size_t)(p - start));
            if (!*p) break;
            start = p + 1;
        }
    }
    c->o.labels = (const char *const *)c->labels;
    c->o.n_labels = c->n_labels;
    return true;
}

static void free_cli(pred_cli *c) {
    for (size_t i = 0; i < c->n_labels; i++) free(c->labels[i]);
    free(c->labels);
}

/* Parse the options shared by both commands; compare-only ones when
 * `compare`. Returns CLI_EXIT_OK or the exit code to return. */
static int parse(int argc, char **argv, bool compare, pred_cli *c) {
    const char *usage = compare ? usage_compare : usage_pred;
    memset(c, 0, sizeof *c);
    onc_eval_opts_default(&c->o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = a[0] == '-' && a[1] == '-' && strcmp(a, "--per-item") && strcmp(a, "--quiet") &&
                     strcmp(a, "--stem") && strcmp(a, "--no-stem") && strcmp(a, "--help");
        if (takes && !v) return cli_usage_error(usage, "%s needs a value", a);
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return -1;
        } else if (!strcmp(a, "--task")) {
            int t = onc_eval_task_parse(v);
            if (t < 0) return cli_usage_error(usage, "--task must be auto, classify, multilabel, fields, codes or text");
            c->o.task = (onc_eval_task)t, i++;
        } else if (!strcmp(a, "--labels")) {
            if (!split_labels(c, v) || c->n_labels == 0) return cli_usage_error(usage, "--labels needs a,b,c");
            i++;
        } else if (!strcmp(a, "--positive")) {
            c->o.pos_label = v, i++;
        } else if (!strcmp(a, "--zero-division")) {
            if (strcmp(v, "0") && strcmp(v, "1")) return cli_usage_error(usage, "--zero-division must be 0 or 1");
            c->o.zero_division = v[0] == '1', i++;
        } else if (!strcmp(a, "--level")) {
            if (!cli_parse_f64(a, v, &c->o.level)) return CLI_EXIT_USAGE;
            if (!(c->o.level > 0 && c->o.level < 1)) return cli_usage_error(usage, "--level must be in (0, 1)");
            i++;
        } else if (!strcmp(a, "--stem")) {
            c->o.rouge_stem = true;
        } else if (!strcmp(a, "--no-stem")) {
            c->o.rouge_stem = false;
        } else if (!strcmp(a, "--prices")) {
            c->prices = v, i++;
        } else if (!strcmp(a, "--price")) {
            c->price = v, i++;
        } else if (!strcmp(a, "--per-item")) {
            c->o.per_item = true;
        } else if (!strcmp(a, "--json")) {
            c->json = v, i++;
        } else if (!strcmp(a, "--md")) {
            c->md = v, i++;
        } else if (!strcmp(a, "--html")) {
            c->html = v, i++;
        } else if (!strcmp(a, "--quiet")) {
            c->quiet = true;
        } else if (compare && !strcmp(a, "--alternative")) {
            int x = onc_alternative_parse(v);
            if (x < 0) return cli_usage_error(usage, "--alternative must be two-sided, greater or less");
            c->o.alternative = (onc_alternative)x, i++;
        } else if (compare && !strcmp(a, "--alpha")) {
            if (!cli_parse_f64(a, v, &c->o.alpha)) return CLI_EXIT_USAGE;
            if (!(c->o.alpha > 0 && c->o.alpha < 1)) return cli_usage_error(usage, "--alpha must be in (0, 1)");
            i++;
        } else if (compare && !strcmp(a, "--bootstrap")) {
            if (!cli_parse_i64(a, v, 1, 10000000, &c->o.bootstrap)) return CLI_EXIT_USAGE;
            i++;
        } else if (compare && !strcmp(a, "--seed")) {
            int64_t s;
            if (!cli_parse_i64(a, v, 0, INT64_MAX, &s)) return CLI_EXIT_USAGE;
            c->o.seed = (uint64_t)s, i++;
        } else if (compare && !strcmp(a, "--mcnemar")) {
            if (strcmp(v, "exact") && strcmp(v, "chi2")) return cli_usage_error(usage, "--mcnemar must be exact or chi2");
            c->o.mcnemar_exact = !strcmp(v, "exact"), i++;
        } else if (compare && !strcmp(a, "--rouge")) {
            int k = onc_rouge_kind_parse(v);
            if (k < 0) return cli_usage_error(usage, "--rouge must be rouge1, rouge2, rougeL or rougeLsum");
            c->o.rouge = (onc_rouge_kind)k, i++;
        } else if (a[0] == '-' && a[1] != 0) {
            return cli_usage_error(usage, "unknown option %s", a);
        } else {
            if (c->n_files == (compare ? 2 : 1))
                return cli_usage_error(usage, "too many files (%s)", a);
            c->files[c->n_files++] = a;
        }
    }
    if (c->n_files != (compare ? 2 : 1))
        return cli_usage_error(usage, compare ? "give two prediction files, A then B" : "give a prediction file");
    if ((c->prices == NULL) != (c->price == NULL)) return cli_usage_error(usage, "--prices and --price go together");
    return CLI_EXIT_OK;
}

/* Write the outputs and print the report (or the verdict). */
static int emit(const pred_cli *c, json_t *json, onc_report *rep) {
    onc_error err = {0};
    if (c->json) {
        char *text = json_dumps(json, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        if (!text) {
            cli_errorf("out of memory writing JSON");
            return CLI_EXIT_FAIL;
        }
        size_t n = strlen(text);
        bool ok = cli_write_file_atomic(c->json, text, n) && (strcmp(c->json, "-") || cli_write_file_atomic("-", "\n", 1));
        free(text);
        if (!ok) return CLI_EXIT_FAIL;
    }
    if (c->md && onc_report_write_markdown(rep, c->md, &err) != ONC_OK) return cli_fail(&err);
    if (c->html && onc_report_write_html(rep, c->html, &err) != ONC_OK) return cli_fail(&err);
    bool json_on_stdout = c->json && !strcmp(c->json, "-");
    if (!c->quiet && !json_on_stdout && onc_report_fwrite_markdown(rep, stdout, &err) != ONC_OK) return cli_fail(&err);
    return CLI_EXIT_OK;
}

static void add_common_meta(onc_report *rep) {
    char date[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm);
    onc_report_add_meta(rep, "generated", date);
    onc_report_add_meta(rep, "by", "oncolm " ONCOLM_VERSION_STRING);
}

/* Price table and entry into c->o (kept in *table). */
static int load_prices(pred_cli *c, onc_price_table *table) {
    memset(table, 0, sizeof *table);
    if (!c->prices) return CLI_EXIT_OK;
    onc_error err = {0};
    if (onc_price_table_read(c->prices, table, &err) != ONC_OK) return cli_fail(&err);
    /* "NAME" for every system, or "NAME_A,NAME_B" in a comparison. */
    char *names = strdup(c->price);
    if (!names) {
        cli_errorf("out of memory");
        return CLI_EXIT_FAIL;
    }
    char *comma = strchr(names, ',');
    if (comma) *comma = 0;
    c->o.price = onc_price_find(table, names);
    c->o.price_b = comma ? onc_price_find(table, comma + 1) : NULL;
    if (!c->o.price || (comma && !c->o.price_b)) {
        cli_errorf("%s: no price entry \"%s\"", c->prices, !c->o.price ? names : comma + 1);
        free(names);
        return CLI_EXIT_FAIL;
    }
    free(names);
    c->o.currency = table->currency;
    return CLI_EXIT_OK;
}

/* Parse the command line and load the price table. CLI_EXIT_OK when the
 * command should go on; otherwise c and prices are freed and the result is
 * the exit code, or negative when parse already answered (--help). */
static int setup(int argc, char **argv, bool compare, pred_cli *c, onc_price_table *prices) {
    memset(prices, 0, sizeof *prices);
    int rc = parse(argc, argv, compare, c);
    if (rc == CLI_EXIT_OK) rc = load_prices(c, prices);
    if (rc != CLI_EXIT_OK) {
        onc_price_table_free(prices);
        free_cli(c);
    }
    return rc;
}

/* Write the outputs of a finished evaluation (or report its error st);
 * frees json and rep. */
static int finish(pred_cli *c, onc_status st, json_t *json, onc_report *rep, onc_error *err) {
    int rc = st != ONC_OK ? cli_fail(err) : emit(c, json, rep);
    json_decref(json);
    onc_report_free(rep);
    return rc;
}

int cmd_eval_predictions(int argc, char **argv) {
    pred_cli c;
    onc_price_table prices;
    int rc = setup(argc, argv, false, &c, &prices);
    if (rc != CLI_EXIT_OK) return rc < 0 ? CLI_EXIT_OK : rc;
    onc_error err = {0};
    onc_predictions p;
    if (onc_predictions_read(c.files[0], &p, &err) != ONC_OK) {
        rc = cli_fail(&err);
    } else {
        onc_report *rep = onc_report_new("Evaluation");
        add_common_meta(rep);
        json_t *json = NULL;
        onc_eval_task task;
        onc_status st = onc_eval_predictions(&p, &c.o, &json, rep, &task, &err);
        rc = finish(&c, st, json, rep, &err);
        onc_predictions_free(&p);
    }
    onc_price_table_free(&prices);
    free_cli(&c);
    return rc;
}

int cmd_eval_compare(int argc, char **argv) {
    pred_cli c;
    onc_price_table prices;
    int rc = setup(argc, argv, true, &c, &prices);
    if (rc != CLI_EXIT_OK) return rc < 0 ? CLI_EXIT_OK : rc;
    onc_error err = {0};
    onc_predictions a, b;
    if (onc_predictions_read(c.files[0], &a, &err) != ONC_OK) {
        rc = cli_fail(&err);
    } else if (onc_predictions_read(c.files[1], &b, &err) != ONC_OK) {
        rc = cli_fail(&err);
        onc_predictions_free(&a);
    } else {
        onc_report *rep = onc_report_new("Comparison of two systems");
        add_common_meta(rep);
        json_t *json = NULL;
        onc_status st = onc_eval_compare(&a, &b, &c.o, &json, rep, &err);
        rc = finish(&c, st, json, rep, &err);
        onc_predictions_free(&a);
        onc_predictions_free(&b);
    }
    onc_price_table_free(&prices);
    free_cli(&c);
    return rc;
}
