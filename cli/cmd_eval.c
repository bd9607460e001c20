/* cmd_eval.c — `oncolm eval`: evaluation tables.
 *
 *   eval retrieval  nDCG/P/R/MRR/MAP of TREC runs against TREC or BEIR qrels,
 *                   identical to trec_eval (or sentence-transformers'
 *                   InformationRetrievalEvaluator), overall and per question
 *                   category, with paired comparisons of runs (bootstrap CI
 *                   and Wilcoxon signed-rank test);
 *   eval paired     the paired statistics alone on two columns of numbers
 *                   (per-query scores from any tool).
 *
 * `oncolm eval FILE.jsonl` and `oncolm eval compare A B` (prediction
 * files) live in cmd_eval_pred.c; cmd_eval() dispatches on argv[1]. All numbers come from
 * oncolm/eval_retrieval.h and oncolm/stats.h; this file parses options and
 * prints (table, trec_eval lines, or JSON). docs/EVALUATION.md describes
 * the output. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "oncolm/eval_retrieval.h"
#include "oncolm/stats.h"

static const char *usage_eval =
    "usage: oncolm eval [options] PREDICTIONS.jsonl   every metric of a prediction file (classification,\n"
    "                                                 multi-label, fields, ICD-10 codes, ROUGE, time, cost)\n"
    "       oncolm eval <subcommand> [options]\n"
    "  compare     two systems on the same items: McNemar or Wilcoxon, bootstrap CIs, a verdict\n"
    "  retrieval   nDCG@k, P@k, R@k, MRR@k, MAP of TREC runs against qrels, exactly as trec_eval\n"
    "              (or sentence-transformers); overall, per question category, per query;\n"
    "              paired comparison of runs (bootstrap CI, Wilcoxon signed-rank test)\n"
    "  paired      Wilcoxon signed-rank test (as scipy 1.10.1) and paired bootstrap CI of the mean\n"
    "              difference for two columns of numbers\n"
    "Run `oncolm eval <subcommand> --help` for the options. Definitions: docs/EVALUATION.md.\n";

static const char *usage_retrieval =
    "usage: oncolm eval retrieval (--qrels FILE | --beir DIR [--split test]) --run RUN [--run RUN2 ...] [options]\n"
    "inputs:\n"
    "  --qrels FILE          judgements: TREC qrels `qid iter docno rel`, or BEIR .tsv `query-id corpus-id score`\n"
    "  --beir DIR            BEIR folder: qrels DIR/qrels/SPLIT.tsv, categories DIR/queries.jsonl (if present)\n"
    "  --split NAME          BEIR split (default test)\n"
    "  --run FILE            TREC run `qid iter docno rank sim run_id`; repeat for several runs (the first is\n"
    "                        the baseline of the comparisons)\n"
    "  --queries FILE        BEIR queries.jsonl: category of each query from metadata.category\n"
    "  --categories FILE     TSV `qid<TAB>category` instead of --queries\n"
    "metrics:\n"
    "  --k K                 cutoff of the table and of the comparison (default 10)\n"
    "  --cutoffs LIST        cutoffs of --format trec and --json (default 5,10,15,20,30,100,200,500,1000;\n"
    "                        K is always included)\n"
    "  --convention C        trec (default): trec_eval 9.0.x / pytrec_eval; st: sentence-transformers\n"
    "                        InformationRetrievalEvaluator (binary relevance, queries without a relevant\n"
    "                        document dropped, MAP@k over min(k, |R|))\n"
    "  --rel-level L         a document is relevant when rel >= L (trec_eval -l; default 1)\n"
    "  --complete            queries of the qrels missing from a run count with 0 (trec_eval -c)\n"
    "  --sim-double          rank by scores as double (trec_eval 10.0) instead of float32 (9.0.x, pytrec_eval)\n"
    "output:\n"
    "  --format F            table (default), trec (trec_eval lines `%-22s\\t%s\\t%6.4f`) or json\n"
    "  --json                same as --format json (every number, full precision)\n"
    "  --per-query           also every query (trec: trec_eval -q)\n"
    "comparison of runs (each later run against the first, overall and per category):\n"
    "  --metric M            ndcg (default), P, recall, mrr, map, success\n"
    "  --bootstrap N         paired bootstrap resamples (default 10000)\n"
    "  --seed S              bootstrap seed (default 1)\n"
    "  --alpha A             significance level (default 0.05)\n"
    "  --alternative A       Wilcoxon alternative: two-sided (default), greater (later run better), less\n"
    "  --zero-method Z       wilcox (default), pratt, zsplit\n"
    "  --wilcoxon-method M   auto (default: exact when n <= 50 and no zero difference), exact, approx\n"
    "  --correction          continuity correction of the normal approximation\n";

static const char *usage_paired =
    "usage: oncolm eval paired A.txt [B.txt] [options]\n"
    "  Paired comparison of two columns of numbers (whitespace separated, one file each; with only A the\n"
    "  numbers are the differences). d = A - B, as scipy.stats.wilcoxon(A, B).\n"
    "  --zero-method Z       wilcox (default), pratt, zsplit\n"
    "  --alternative A       two-sided (default), greater, less\n"
    "  --method M            auto (default), exact, approx (scipy 1.10.1 rules)\n"
    "  --correction          continuity correction of the normal approximation\n"
    "  --bootstrap N         bootstrap resamples of mean(A - B) (default 10000; 0 = none)\n"
    "  --seed S              bootstrap seed (default 1)\n"
    "  --level L             confidence level (default 0.95)\n"
    "  --json                JSON output (full precision)\n";

/* ---- small output helpers ---------------------------------------------------------------- */

static void json_num(FILE *o, double v) {
    if (isfinite(v)) fprintf(o, "%.17g", v);
    else fputs("null", o);
}

static void json_s(FILE *o, const char *s) { cli_json_str(o, s, strlen(s)); }

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- eval retrieval ----------------------------------------------------------------------- */

#define MAX_RUNS 32

typedef enum out_format { OUT_TABLE, OUT_TREC, OUT_JSON } out_format;

typedef struct retr_opts {
    const char *qrels_path, *beir_dir, *split, *queries_path, *categories_path;
    const char *run_paths[MAX_RUNS];
    int n_runs;
    int64_t k;
    const char *cutoffs;
    onc_ir_params params;
    bool sim_double, per_query;
    out_format format;
    onc_ir_metric metric;
    int64_t bootstrap;
    uint64_t seed;
    double alpha;
    onc_wilcoxon_opts wopts;
} retr_opts;

typedef struct run_eval {
    const char *path;
    char name[128];
    onc_run *run;
    onc_ir_result *res;
    onc_ir_group *groups;
    size_t n_groups;
} run_eval;

typedef struct cmp_row {
    const char *category;
    size_t n;
    double mean_a, mean_b;
    onc_bootstrap_result boot;
    bool boot_ok;
    onc_wilcoxon_result w;
    bool w_ok;
    char w_msg[ONC_ERROR_MSG_MAX];
} cmp_row;

/* Column label of metric m at k for the table. */
static const char *table_label(onc_ir_metric m, int64_t k, char *buf, size_t cap) {
    switch (m) {
    case ONC_IR_NDCG: snprintf(buf, cap, "nDCG@%lld", (long long)k); break;
    case ONC_IR_P: snprintf(buf, cap, "P@%lld", (long long)k); break;
    case ONC_IR_RECALL: snprintf(buf, cap, "R@%lld", (long long)k); break;
    case ONC_IR_MRR: snprintf(buf, cap, "MRR@%lld", (long long)k); break;
    case ONC_IR_MAP_CUT: snprintf(buf, cap, "MAP@%lld", (long long)k); break;
    case ONC_IR_SUCCESS: snprintf(buf, cap, "S@%lld", (long long)k); break;
    case ONC_IR_MAP: snprintf(buf, cap, "MAP"); break;
    default: snprintf(buf, cap, "MRR"); break;
    }
    return buf;
}

/* The metric of the table's MAP column: full-depth map (trec) or MAP@k (st). */
static onc_ir_metric map_metric(onc_ir_convention c) { return c == ONC_IR_ST ? ONC_IR_MAP_CUT : ONC_IR_MAP; }

/* Metrics printed for --format trec and --json, in trec_eval's order. */
static size_t printed_metrics(onc_ir_convention c, onc_ir_metric *out) {
    size_t n = 0;
    if (c == ONC_IR_TREC) {
        out[n++] = ONC_IR_MAP;
        out[n++] = ONC_IR_RECIP_RANK;
    }
    out[n++] = ONC_IR_P;
    out[n++] = ONC_IR_RECALL;
    out[n++] = ONC_IR_NDCG;
    out[n++] = ONC_IR_MAP_CUT;
    out[n++] = ONC_IR_SUCCESS;
    out[n++] = ONC_IR_MRR;
    return n;
}

/* One trec_eval-style block of metric lines for query `qid` ("all" for
 * means; values[m * nc + c]). MRR@k (recip_rank_cut_k) is not a trec_eval
 * measure and is left out of the trec convention's lines. */
static void print_trec_lines(const onc_ir_params *p, const char *qid, const double *values) {
    onc_ir_metric ms[ONC_IR_N_METRICS];
    const size_t nm = printed_metrics(p->convention, ms);
    char name[64];
    for (size_t i = 0; i < nm; i++) {
        const onc_ir_metric m = ms[i];
        if (m == ONC_IR_MRR && p->convention == ONC_IR_TREC) continue;
        if (!onc_ir_metric_has_cutoff(m)) {
            printf("%-22s\t%s\t%6.4f\n", onc_ir_metric_name(p->convention, m, 0, name, sizeof name), qid,
                   values[m * p->n_cutoffs]);
            continue;
        }
        for (size_t c = 0; c < p->n_cutoffs; c++)
            printf("%-22s\t%s\t%6.4f\n", onc_ir_metric_name(p->convention, m, p->cutoffs[c], name, sizeof name), qid,
                   values[m * p->n_cutoffs + c]);
    }
}

/* All metric values of the i-th query of r into v[m * n_cutoffs + c]. */
static void query_values(const onc_ir_result *r, int64_t i, double *v) {
    const onc_ir_params *p = onc_ir_result_params(r);
    for (int m = 0; m < ONC_IR_N_METRICS; m++)
        for (size_t c = 0; c < p->n_cutoffs; c++) v[m * p->n_cutoffs + c] = onc_ir_value(r, i, (onc_ir_metric)m, c);
}

/* Sums of num_ret, num_rel and num_rel_ret over the evaluated queries (trec_eval's `all` counts). */
static void totals(const onc_ir_result *r, int64_t *ret, int64_t *rel, int64_t *relret) {
    *ret = *rel = *relret = 0;
    for (int64_t i = 0; i < onc_ir_n_queries(r); i++) {
        const onc_ir_query *q = onc_ir_query_at(r, i);
        *ret += q->num_ret, *rel += q->num_rel, *relret += q->num_rel_ret;
    }
}

/* --format trec: per run, the per-query blocks (with --per-query) then the
 * `all` block with runid and num_q, as trec_eval [-q] prints them. */
static void print_trec(const retr_opts *o, const run_eval *runs) {
    const onc_ir_params *p = &o->params;
    double *v = malloc(ONC_IR_N_METRICS * p->n_cutoffs * sizeof *v);
    if (!v) return;
    for (int r = 0; r < o->n_runs; r++) {
        const onc_ir_result *res = runs[r].res;
        if (o->per_query)
            for (int64_t i = 0; i < onc_ir_n_queries(res); i++) {
                const onc_ir_query *q = onc_ir_query_at(res, i);
                printf("%-22s\t%s\t%lld\n", "num_ret", q->qid, (long long)q->num_ret);
                printf("%-22s\t%s\t%lld\n", "num_rel", q->qid, (long long)q->num_rel);
                printf("%-22s\t%s\t%lld\n", "num_rel_ret", q->qid, (long long)q->num_rel_ret);
                query_values(res, i, v);
                print_trec_lines(p, q->qid, v);
            }
        int64_t ret, rel, relret;
        totals(res, &ret, &rel, &relret);
        printf("%-22s\t%s\t%s\n", "runid", "all", runs[r].name);
        printf("%-22s\t%s\t%lld\n", "num_q", "all", (long long)onc_ir_n_queries(res));
        printf("%-22s\t%s\t%lld\n", "num_ret", "all", (long long)ret);
        printf("%-22s\t%s\t%lld\n", "num_rel", "all", (long long)rel);
        printf("%-22s\t%s\t%lld\n", "num_rel_ret", "all", (long long)relret);
        print_trec_lines(p, "all", runs[r].groups[0].means);
    }
    free(v);
}

/* JSON object {"name": value, ...} of the metrics printed_metrics() lists, at every cutoff. */
static void json_metrics(FILE *o, const onc_ir_params *p, const double *values) {
    onc_ir_metric ms[ONC_IR_N_METRICS];
    const size_t nm = printed_metrics(p->convention, ms);
    char name[64];
    bool first = true;
    fputc('{', o);
    for (size_t i = 0; i < nm; i++) {
        const onc_ir_metric m = ms[i];
        const size_t nc = onc_ir_metric_has_cutoff(m) ? p->n_cutoffs : 1;
        for (size_t c = 0; c < nc; c++) {
            fprintf(o, "%s\"%s\": ", first ? "" : ", ",
                    onc_ir_metric_name(p->convention, m, p->cutoffs[c], name, sizeof name));
            json_num(o, values[m * p->n_cutoffs + c]);
            first = false;
        }
    }
    fputc('}', o);
}

/* Compare run b with baseline a on the chosen metric, overall and per
 * category of a's summary. rows must hold a->n_groups entries. */
static onc_status compare_runs(const retr_opts *o, const run_eval *a, const run_eval *b,
                               const onc_ir_categories *cats, size_t ci, cmp_row *rows, onc_error *err) {
    for (size_t g = 0; g < a->n_groups; g++) {
        cmp_row *row = &rows[g];
        memset(row, 0, sizeof *row);
        row->category = a->groups[g].name;
        double *va, *vb;
        size_t n;
        const char *cat = g == 0 ? NULL : a->groups[g].name;
        onc_status st = onc_ir_paired_values(a->res, b->res, o->metric, ci, cats, cat, &va, &vb, &n, err);
        if (st != ONC_OK) return st;
        row->n = n;
        row->mean_a = n ? onc_mean(va, n) : NAN;
        row->mean_b = n ? onc_mean(vb, n) : NAN;
        if (n > 0 && o->bootstrap > 0) {
            st = onc_bootstrap_paired_mean_diff(va, vb, n, o->bootstrap, 0.95, o->seed, &row->boot, err);
            if (st != ONC_OK) {
                free(va), free(vb);
                return st;
            }
            row->boot_ok = true;
        }
        if (n > 0) {
            onc_error werr = {0};
            /* d = run - baseline: "greater" means the later run is better */
            if (onc_wilcoxon(vb, va, n, &o->wopts, &row->w, &werr) == ONC_OK) row->w_ok = true;
            else snprintf(row->w_msg, sizeof row->w_msg, "%s", werr.msg);
        }
        free(va), free(vb);
    }
    return ONC_OK;
}

/* "better" verdict of a comparison row. */
static const char *verdict(const cmp_row *row) {
    const double d = row->mean_b - row->mean_a;
    return row->n == 0 ? "none" : d > 0 ? "run" : d < 0 ? "baseline" : "tie";
}

/* Whether the row's Wilcoxon p-value is below --alpha (false when there is no test). */
static bool significant(const retr_opts *o, const cmp_row *row) {
    return row->w_ok && isfinite(row->w.pvalue) && row->w.pvalue < o->alpha;
}

/* --json: settings, qrels counts, per run the groups (and per query with
 * --per-query), and the comparison rows; numbers with %.17g, NaN as null. */
static void print_json(const retr_opts *o, const char *qrels_name, const onc_qrels *qrels, const char *cats_name,
                       const onc_ir_categories *cats, const run_eval *runs, cmp_row **cmp, size_t k_index) {
    const onc_ir_params *p = &o->params;
    FILE *f = stdout;
    char name[64];
    fprintf(f, "{\"convention\": \"%s\", \"sim\": \"%s\", \"rel_level\": %lld, \"complete\": %s, \"k\": %lld, ",
            p->convention == ONC_IR_ST ? "st" : "trec", o->sim_double ? "double" : "float32",
            (long long)p->rel_level, p->complete ? "true" : "false", (long long)o->k);
    fputs("\"cutoffs\": [", f);
    for (size_t c = 0; c < p->n_cutoffs; c++) fprintf(f, "%s%lld", c ? ", " : "", (long long)p->cutoffs[c]);
    fputs("],\n \"qrels\": {\"file\": ", f);
    json_s(f, qrels_name);
    fprintf(f, ", \"queries\": %lld, \"judgements\": %lld},\n \"categories\": ", (long long)onc_qrels_n_queries(qrels),
            (long long)onc_qrels_n_judgements(qrels));
    if (cats_name) json_s(f, cats_name);
    else fputs("null", f);
    fputs(",\n \"runs\": [", f);
    double *v = malloc(ONC_IR_N_METRICS * p->n_cutoffs * sizeof *v);
    for (int r = 0; r < o->n_runs && v; r++) {
        const run_eval *re = &runs[r];
        int64_t ret, rel, relret;
        totals(re->res, &ret, &rel, &relret);
        fprintf(f, "%s\n  {\"name\": ", r ? "," : "");
        json_s(f, re->name);
        fputs(", \"file\": ", f);
        json_s(f, re->path);
        fprintf(f,
                ", \"lines\": %lld, \"run_queries\": %lld, \"num_q\": %lld, \"num_ret\": %lld, \"num_rel\": %lld, "
                "\"num_rel_ret\": %lld,\n   \"groups\": [",
                (long long)onc_run_n_lines(re->run), (long long)onc_run_n_queries(re->run),
                (long long)onc_ir_n_queries(re->res), (long long)ret, (long long)rel, (long long)relret);
        for (size_t g = 0; g < re->n_groups; g++) {
            fprintf(f, "%s\n    {\"category\": ", g ? "," : "");
            json_s(f, re->groups[g].name);
            fprintf(f, ", \"num_q\": %lld, \"metrics\": ", (long long)re->groups[g].n_queries);
            json_metrics(f, p, re->groups[g].means);
            fputc('}', f);
        }
        fputs("]", f);
        if (o->per_query) {
            fputs(",\n   \"per_query\": [", f);
            for (int64_t i = 0; i < onc_ir_n_queries(re->res); i++) {
                const onc_ir_query *q = onc_ir_query_at(re->res, i);
                const char *cat = cats ? onc_ir_category_of(cats, q->qid) : NULL;
                fprintf(f, "%s\n    {\"qid\": ", i ? "," : "");
                json_s(f, q->qid);
                fputs(", \"category\": ", f);
                if (cat) json_s(f, cat);
                else fputs("null", f);
                fprintf(f, ", \"in_run\": %s, \"num_ret\": %lld, \"num_rel\": %lld, \"num_rel_ret\": %lld, \"metrics\": ",
                        q->in_run ? "true" : "false", (long long)q->num_ret, (long long)q->num_rel,
                        (long long)q->num_rel_ret);
                query_values(re->res, i, v);
                json_metrics(f, p, v);
                fputc('}', f);
            }
            fputs("]", f);
        }
        fputs("}", f);
    }
    free(v);
    fputs("],\n \"comparisons\": [", f);
    for (int r = 1; r < o->n_runs; r++) {
        fprintf(f, "%s\n  {\"baseline\": ", r > 1 ? "," : "");
        json_s(f, runs[0].name);
        fputs(", \"run\": ", f);
        json_s(f, runs[r].name);
        fprintf(f,
                ", \"metric\": \"%s\", \"difference\": \"run - baseline\", \"alpha\": %.17g, \"bootstrap\": %lld, "
                "\"seed\": %llu, \"alternative\": \"%s\", \"zero_method\": \"%s\", \"wilcoxon_method\": \"%s\", "
                "\"correction\": %s,\n   \"groups\": [",
                onc_ir_metric_name(p->convention, o->metric, p->cutoffs[k_index], name, sizeof name), o->alpha,
                (long long)o->bootstrap, (unsigned long long)o->seed, onc_alternative_name(o->wopts.alternative),
                onc_wilcoxon_zero_name(o->wopts.zero_method), onc_wilcoxon_method_name(o->wopts.method),
                o->wopts.correction ? "true" : "false");
        for (size_t g = 0; g < runs[0].n_groups; g++) {
            const cmp_row *row = &cmp[r][g];
            fprintf(f, "%s\n    {\"category\": ", g ? "," : "");
            json_s(f, row->category);
            fprintf(f, ", \"n\": %zu, \"baseline_mean\": ", row->n);
            json_num(f, row->mean_a);
            fputs(", \"run_mean\": ", f);
            json_num(f, row->mean_b);
            fputs(", \"mean_diff\": ", f);
            json_num(f, row->n ? row->mean_b - row->mean_a : NAN);
            if (row->boot_ok) {
                fputs(", \"bootstrap\": {\"estimate\": ", f);
                json_num(f, row->boot.estimate);
                fputs(", \"ci_low\": ", f);
                json_num(f, row->boot.lo);
                fputs(", \"ci_high\": ", f);
                json_num(f, row->boot.hi);
                fputs(", \"level\": ", f);
                json_num(f, row->boot.level);
                fputs(", \"se\": ", f);
                json_num(f, row->boot.se);
                fputc('}', f);
            } else {
                fputs(", \"bootstrap\": null", f);
            }
            if (row->w_ok) {
                fputs(", \"wilcoxon\": {\"statistic\": ", f);
                json_num(f, row->w.statistic);
                fputs(", \"pvalue\": ", f);
                json_num(f, row->w.pvalue);
                fputs(", \"zstatistic\": ", f);
                json_num(f, row->w.z);
                fprintf(f, ", \"method\": \"%s\", \"n_zero\": %lld}", row->w.exact ? "exact" : "approx",
                        (long long)row->w.n_zero);
            } else {
                fputs(", \"wilcoxon\": null", f);
                if (row->w_msg[0]) {
                    fputs(", \"wilcoxon_error\": ", f);
                    json_s(f, row->w_msg);
                }
            }
            fprintf(f, ", \"better\": \"%s\", \"significant\": %s}", verdict(row), significant(o, row) ? "true" : "false");
        }
        fputs("]}", f);
    }
    fputs("]}\n", f);
}

/* Default output: a header with the inputs, one table per run (rows = all
 * and the categories; columns nDCG@k P@k R@k MRR@k MAP), optional per-query
 * rows, then one comparison table per later run. */
static void print_table(const retr_opts *o, const char *qrels_name, const onc_qrels *qrels, const char *cats_name,
                        const onc_ir_categories *cats, const run_eval *runs, cmp_row **cmp, size_t k_index) {
    const onc_ir_params *p = &o->params;
    const size_t nc = p->n_cutoffs;
    const int64_t k = p->cutoffs[k_index];
    const onc_ir_metric cols[5] = {ONC_IR_NDCG, ONC_IR_P, ONC_IR_RECALL, ONC_IR_MRR, map_metric(p->convention)};
    char lab[5][32];
    for (int i = 0; i < 5; i++) table_label(cols[i], k, lab[i], sizeof lab[i]);
    int w = 8;
    for (int r = 0; r < o->n_runs; r++)
        for (size_t g = 0; g < runs[r].n_groups; g++) {
            const int l = (int)strlen(runs[r].groups[g].name);
            if (l > w) w = l > 40 ? 40 : l;
        }
    printf("retrieval evaluation: %s, scores as %s, relevant = rel >= %lld%s\n",
           p->convention == ONC_IR_ST ? "sentence-transformers convention (binary relevance)"
                                      : "trec_eval convention (graded nDCG gain = rel)",
           o->sim_double ? "double" : "float32", (long long)p->rel_level,
           p->complete ? ", complete (qrels queries missing from a run count as 0)" : "");
    printf("qrels: %s (%lld queries, %lld judgements)%s%s\n", qrels_name, (long long)onc_qrels_n_queries(qrels),
           (long long)onc_qrels_n_judgements(qrels), cats_name ? "; categories: " : "", cats_name ? cats_name : "");
    for (int r = 0; r < o->n_runs; r++)
        printf("run %d: %s = %s (%lld lines, %lld queries; %lld evaluated)\n", r + 1, runs[r].name, runs[r].path,
               (long long)onc_run_n_lines(runs[r].run), (long long)onc_run_n_queries(runs[r].run),
               (long long)onc_ir_n_queries(runs[r].res));
    for (int r = 0; r < o->n_runs; r++) {
        const run_eval *re = &runs[r];
        printf("\n%s\n%-*s %7s", re->name, w, "category", "queries");
        for (int i = 0; i < 5; i++) printf(" %8s", lab[i]);
        putchar('\n');
        for (size_t g = 0; g < re->n_groups; g++) {
            printf("%-*.*s %7lld", w, w, re->groups[g].name, (long long)re->groups[g].n_queries);
            for (int i = 0; i < 5; i++) {
                const size_t c = onc_ir_metric_has_cutoff(cols[i]) ? k_index : 0;
                printf(" %8.4f", re->groups[g].means[cols[i] * nc + c]);
            }
            putchar('\n');
        }
        if (onc_ir_n_queries(re->res) == 0)
            printf("(no query of this run is in the qrels%s: check the query ids)\n",
                   p->convention == ONC_IR_ST ? " with a relevant document" : "");
        if (o->per_query && onc_ir_n_queries(re->res) > 0) {
            printf("\n%s per query\n%-*s %-*s", re->name, w, "qid", w, "category");
            for (int i = 0; i < 5; i++) printf(" %8s", lab[i]);
            putchar('\n');
            for (int64_t q = 0; q < onc_ir_n_queries(re->res); q++) {
                const onc_ir_query *qq = onc_ir_query_at(re->res, q);
                const char *cat = cats ? onc_ir_category_of(cats, qq->qid) : NULL;
                printf("%-*s %-*.*s", w, qq->qid, w, w, cat ? cat : "-");
                for (int i = 0; i < 5; i++)
                    printf(" %8.4f", onc_ir_value(re->res, q, cols[i], onc_ir_metric_has_cutoff(cols[i]) ? k_index : 0));
                printf("%s\n", qq->in_run ? "" : "  (not in run)");
            }
        }
    }
    char mname[32];
    table_label(o->metric, k, mname, sizeof mname);
    for (int r = 1; r < o->n_runs; r++) {
        printf("\n%s vs %s on %s: per-query difference %s - %s; 95%% paired bootstrap CI (%lld resamples, seed "
               "%llu); Wilcoxon signed-rank (%s, zero_method %s, %s)\n",
               runs[r].name, runs[0].name, mname, runs[r].name, runs[0].name, (long long)o->bootstrap,
               (unsigned long long)o->seed, onc_alternative_name(o->wopts.alternative),
               onc_wilcoxon_zero_name(o->wopts.zero_method), onc_wilcoxon_method_name(o->wopts.method));
        printf("%-*s %5s %8s %8s %8s  %-19s %9s  %s\n", w, "category", "pairs", "baseline", "run", "diff", "95% CI",
               "p-value", "result");
        for (size_t g = 0; g < runs[0].n_groups; g++) {
            const cmp_row *row = &cmp[r][g];
            printf("%-*.*s %5zu", w, w, row->category, row->n);
            if (row->n == 0) {
                printf("  (no query evaluated in both runs)\n");
                continue;
            }
            printf(" %8.4f %8.4f %+8.4f  ", row->mean_a, row->mean_b, row->mean_b - row->mean_a);
            if (row->boot_ok) printf("[%+.4f, %+.4f]", row->boot.lo, row->boot.hi);
            else printf("%-19s", "-");
            if (row->w_ok) printf(" %9.2e  ", row->w.pvalue);
            else printf(" %9s  ", "-");
            const char *v = verdict(row);
            const double pv = row->w_ok ? row->w.pvalue : NAN;
            if (!strcmp(v, "tie")) printf("same mean");
            else printf("%s better", !strcmp(v, "run") ? runs[r].name : runs[0].name);
            if (!row->w_ok) printf(" (no test: %s)\n", row->w_msg[0] ? "all differences zero" : "n/a");
            else if (significant(o, row)) printf(", p < %g\n", o->alpha);
            else printf(", not significant (p = %.3g >= %g)\n", pv, o->alpha);
        }
    }
}

/* Whether a retrieval option is followed by a value. */
static bool takes_value(const char *a) {
    static const char *const opts[] = {"--qrels",  "--run",     "--beir",        "--split",       "--queries",
                                       "--categories", "--k",   "--cutoffs",     "--convention",  "--rel-level",
                                       "--format", "--metric",  "--bootstrap",   "--seed",        "--alpha",
                                       "--alternative", "--zero-method", "--wilcoxon-method"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (!strcmp(a, opts[i])) return true;
    return false;
}

/* Options into *o. Returns 0 to go on, -1 after printing --help, or a
 * usage exit code (message printed). */
static int parse_retrieval_args(int argc, char **argv, retr_opts *o) {
    memset(o, 0, sizeof *o);
    onc_ir_params_default(&o->params);
    o->split = "test";
    o->k = 10;
    o->format = OUT_TABLE;
    o->metric = ONC_IR_NDCG;
    o->bootstrap = 10000;
    o->seed = 1;
    o->alpha = 0.05;
    onc_wilcoxon_opts_default(&o->wopts);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t iv;
        double dv;
        int e;
        if (takes_value(a) && !v) return cli_usage_error(usage_retrieval, "%s needs a value", a);
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_retrieval, stdout);
            return -1;
        } else if (!strcmp(a, "--qrels")) {
            o->qrels_path = v, i++;
        } else if (!strcmp(a, "--run")) {
            if (o->n_runs == MAX_RUNS) return cli_usage_error(usage_retrieval, "at most %d runs", MAX_RUNS);
            o->run_paths[o->n_runs++] = v, i++;
        } else if (!strcmp(a, "--beir")) {
            o->beir_dir = v, i++;
        } else if (!strcmp(a, "--split")) {
            o->split = v, i++;
        } else if (!strcmp(a, "--queries")) {
            o->queries_path = v, i++;
        } else if (!strcmp(a, "--categories")) {
            o->categories_path = v, i++;
        } else if (!strcmp(a, "--k")) {
            if (!cli_parse_i64(a, v, 1, 100000000, &iv)) return CLI_EXIT_USAGE;
            o->k = iv, i++;
        } else if (!strcmp(a, "--cutoffs")) {
            o->cutoffs = v, i++;
        } else if (!strcmp(a, "--convention")) {
            if (!strcmp(v, "trec")) o->params.convention = ONC_IR_TREC;
            else if (!strcmp(v, "st")) o->params.convention = ONC_IR_ST;
            else return cli_usage_error(usage_retrieval, "--convention must be trec or st");
            i++;
        } else if (!strcmp(a, "--rel-level")) {
            if (!cli_parse_i64(a, v, INT32_MIN, INT32_MAX, &iv)) return CLI_EXIT_USAGE;
            o->params.rel_level = iv, i++;
        } else if (!strcmp(a, "--complete")) {
            o->params.complete = true;
        } else if (!strcmp(a, "--sim-double")) {
            o->sim_double = true;
        } else if (!strcmp(a, "--per-query")) {
            o->per_query = true;
        } else if (!strcmp(a, "--json")) {
            o->format = OUT_JSON;
        } else if (!strcmp(a, "--format")) {
            if (!strcmp(v, "table")) o->format = OUT_TABLE;
            else if (!strcmp(v, "trec")) o->format = OUT_TREC;
            else if (!strcmp(v, "json")) o->format = OUT_JSON;
            else return cli_usage_error(usage_retrieval, "--format must be table, trec or json");
            i++;
        } else if (!strcmp(a, "--metric")) {
            e = onc_ir_metric_parse(v);
            if (e < 0 || e == ONC_IR_RECIP_RANK || e == ONC_IR_MAP_CUT)
                return cli_usage_error(usage_retrieval, "--metric must be ndcg, P, recall, mrr, map or success");
            o->metric = (onc_ir_metric)e, i++;
        } else if (!strcmp(a, "--bootstrap")) {
            if (!cli_parse_i64(a, v, 0, 10000000, &iv)) return CLI_EXIT_USAGE;
            o->bootstrap = iv, i++;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_i64(a, v, 0, INT64_MAX, &iv)) return CLI_EXIT_USAGE;
            o->seed = (uint64_t)iv, i++;
        } else if (!strcmp(a, "--alpha")) {
            if (!cli_parse_f64(a, v, &dv)) return CLI_EXIT_USAGE;
            if (!(dv > 0 && dv < 1)) return cli_usage_error(usage_retrieval, "--alpha must be in (0, 1)");
            o->alpha = dv, i++;
        } else if (!strcmp(a, "--alternative")) {
            if ((e = onc_alternative_parse(v)) < 0)
                return cli_usage_error(usage_retrieval, "--alternative must be two-sided, greater or less");
            o->wopts.alternative = (onc_alternative)e, i++;
        } else if (!strcmp(a, "--zero-method")) {
            if ((e = onc_wilcoxon_zero_parse(v)) < 0)
                return cli_usage_error(usage_retrieval, "--zero-method must be wilcox, pratt or zsplit");
            o->wopts.zero_method = (onc_wilcoxon_zero)e, i++;
        } else if (!strcmp(a, "--wilcoxon-method")) {
            if ((e = onc_wilcoxon_method_parse(v)) < 0)
                return cli_usage_error(usage_retrieval, "--wilcoxon-method must be auto, exact or approx");
            o->wopts.method = (onc_wilcoxon_method)e, i++;
        } else if (!strcmp(a, "--correction")) {
            o->wopts.correction = true;
        } else {
            return cli_usage_error(usage_retrieval, "eval retrieval: unknown option '%s'", a);
        }
    }
    if (o->n_runs == 0) return cli_usage_error(usage_retrieval, "eval retrieval: --run FILE is required");
    if (!o->qrels_path == !o->beir_dir)
        return cli_usage_error(usage_retrieval, "eval retrieval: give exactly one of --qrels FILE and --beir DIR");
    if (o->queries_path && o->categories_path)
        return cli_usage_error(usage_retrieval, "eval retrieval: give --queries or --categories, not both");
    /* under st the MAP column is MAP@k, so compare that */
    if (o->params.convention == ONC_IR_ST && o->metric == ONC_IR_MAP) o->metric = ONC_IR_MAP_CUT;
    onc_error err = {0};
    if (o->cutoffs && onc_ir_parse_cutoffs(&o->params, o->cutoffs, &err) != ONC_OK)
        return cli_usage_error(usage_retrieval, "--cutoffs: %s", err.msg);
    if (onc_ir_add_cutoff(&o->params, o->k, NULL, &err) != ONC_OK)
        return cli_usage_error(usage_retrieval, "--k: %s", err.msg);
    return 0;
}

/* `oncolm eval retrieval`: load qrels, categories and runs, evaluate,
 * summarise, compare, print. Exit code 0, 1 (error printed) or 2 (usage). */
static int eval_retrieval_main(int argc, char **argv) {
    retr_opts o;
    const int pr = parse_retrieval_args(argc, argv, &o);
    if (pr < 0) return CLI_EXIT_OK;
    if (pr > 0) return pr;
    char qpath[4096], cpath[4096];
    const char *qrels_name = o.qrels_path, *cats_name = o.queries_path ? o.queries_path : o.categories_path;
    if (o.beir_dir) {
        snprintf(qpath, sizeof qpath, "%s/qrels/%s.tsv", o.beir_dir, o.split);
        qrels_name = qpath;
        snprintf(cpath, sizeof cpath, "%s/queries.jsonl", o.beir_dir);
        if (!cats_name && file_exists(cpath)) cats_name = cpath;
    }
    onc_error err = {0};
    int rc = CLI_EXIT_FAIL;
    run_eval runs[MAX_RUNS];
    memset(runs, 0, sizeof runs);
    cmp_row *cmp[MAX_RUNS] = {0};
    onc_ir_categories *cats = NULL;
    onc_qrels *qrels = onc_qrels_load(qrels_name, ONC_QRELS_AUTO, &err);
    if (!qrels) goto done;
    if (cats_name && !(cats = onc_ir_categories_load(cats_name, &err))) goto done;
    const onc_run_opts ro = {.sim_double = o.sim_double};
    for (int r = 0; r < o.n_runs; r++) {
        run_eval *re = &runs[r];
        re->path = o.run_paths[r];
        if (!(re->run = onc_run_load(re->path, &ro, &err))) goto done;
        const char *tag = onc_run_tag(re->run);
        snprintf(re->name, sizeof re->name, "%s", *tag ? tag : base_name(re->path));
        for (int s = 0; s < r; s++)
            if (!strcmp(runs[s].name, re->name)) {
                snprintf(re->name, sizeof re->name, "%s", base_name(re->path));
                break;
            }
        for (int s = 0; s < r; s++)
            if (!strcmp(runs[s].name, re->name)) {
                snprintf(re->name, sizeof re->name, "run%d", r + 1);
                break;
            }
        if (!(re->res = onc_ir_evaluate(qrels, re->run, &o.params, &err))) goto done;
        if (!(re->groups = onc_ir_summarize(re->res, cats, &re->n_groups, &err))) goto done;
        if (onc_ir_n_queries(re->res) == 0 && o.format != OUT_TABLE)
            cli_errorf("eval retrieval: warning: run %s shares no query with %s", re->path, qrels_name);
    }
    const size_t k_index = (size_t)onc_ir_cutoff_index(&o.params, o.k);
    for (int r = 1; r < o.n_runs; r++) {
        cmp[r] = calloc(runs[0].n_groups, sizeof *cmp[r]);
        if (!cmp[r]) {
            onc_error_set(&err, ONC_ERR_NOMEM, "eval retrieval: out of memory");
            goto done;
        }
        if (compare_runs(&o, &runs[0], &runs[r], cats, k_index, cmp[r], &err) != ONC_OK) goto done;
    }
    if (o.format == OUT_TREC) print_trec(&o, runs);
    else if (o.format == OUT_JSON) print_json(&o, qrels_name, qrels, cats_name, cats, runs, cmp, k_index);
    else print_table(&o, qrels_name, qrels, cats_name, cats, runs, cmp, k_index);
    rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
done:
    if (rc != CLI_EXIT_OK && err.code != ONC_OK) cli_fail(&err);
    for (int r = 0; r < o.n_runs; r++) {
        free(cmp[r]);
        onc_ir_groups_free(runs[r].groups, runs[r].n_groups);
        onc_ir_result_free(runs[r].res);
        onc_run_free(runs[r].run);
    }
    onc_ir_categories_free(cats);
    onc_qrels_free(qrels);
    return rc;
}

/* ---- eval paired --------------------------------------------------------------------------- */

/* Numbers of a text file (whitespace separated) into a malloc()ed array. */
static double *read_numbers(const char *path, size_t *n, onc_error *err) {
    size_t len;
    char *buf = cli_read_file(path, &len, err);
    if (!buf) return NULL;
    size_t cap = 256, k = 0;
    double *v = malloc(cap * sizeof *v);
    char *p = buf;
    int64_t line = 1;
    while (v) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',') line += *p++ == '\n';
        if (!*p) break;
        char *end;
        errno = 0;
        const double x = strtod(p, &end);
        if (end == p || (*end && !strchr(" \t\r\n,", *end)) || isnan(x)) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: not a number", path, (long long)line);
            free(v), free(buf);
            return NULL;
        }
        if (k == cap) {
            double *nv = realloc(v, 2 * cap * sizeof *nv);
            if (!nv) break;
            v = nv, cap *= 2;
        }
        v[k++] = x;
        p = end;
    }
    free(buf);
    if (!v || (k == cap && *p)) {
        free(v);
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    *n = k;
    return v;
}

/* `oncolm eval paired A [B]`: Wilcoxon signed-rank test of A - B and the
 * bootstrap CI of mean(A - B); scipy's ValueError cases exit 1. */
static int eval_paired_main(int argc, char **argv) {
    onc_wilcoxon_opts w;
    onc_wilcoxon_opts_default(&w);
    const char *files[2] = {NULL, NULL};
    int n_files = 0;
    int64_t boot = 10000;
    uint64_t seed = 1;
    double level = 0.95;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int e;
        int64_t iv;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_paired, stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--zero-method")) {
            if ((e = onc_wilcoxon_zero_parse(v)) < 0)
                return cli_usage_error(usage_paired, "--zero-method must be wilcox, pratt or zsplit");
            w.zero_method = (onc_wilcoxon_zero)e, i++;
        } else if (!strcmp(a, "--alternative")) {
            if ((e = onc_alternative_parse(v)) < 0)
                return cli_usage_error(usage_paired, "--alternative must be two-sided, greater or less");
            w.alternative = (onc_alternative)e, i++;
        } else if (!strcmp(a, "--method")) {
            if ((e = onc_wilcoxon_method_parse(v)) < 0)
                return cli_usage_error(usage_paired, "--method must be auto, exact or approx");
            w.method = (onc_wilcoxon_method)e, i++;
        } else if (!strcmp(a, "--correction")) {
            w.correction = true;
        } else if (!strcmp(a, "--bootstrap")) {
            if (!cli_parse_i64(a, v, 0, 10000000, &iv)) return CLI_EXIT_USAGE;
            boot = iv, i++;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_i64(a, v, 0, INT64_MAX, &iv)) return CLI_EXIT_USAGE;
            seed = (uint64_t)iv, i++;
        } else if (!strcmp(a, "--level")) {
            if (!cli_parse_f64(a, v, &level)) return CLI_EXIT_USAGE;
            if (!(level > 0 && level < 1)) return cli_usage_error(usage_paired, "--level must be in (0, 1)");
            i++;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(usage_paired, "eval paired: unknown option '%s'", a);
        } else {
            if (n_files == 2) return cli_usage_error(usage_paired, "eval paired: at most two files");
            files[n_files++] = a;
        }
    }
    if (n_files == 0) return cli_usage_error(usage_paired, "eval paired: give A.txt [B.txt]");
    onc_error err = {0};
    size_t na = 0, nb = 0;
    double *a = read_numbers(files[0], &na, &err), *b = NULL;
    if (!a) return cli_fail(&err);
    if (n_files == 2) {
        if (!(b = read_numbers(files[1], &nb, &err))) {
            free(a);
            return cli_fail(&err);
        }
        if (na != nb) {
            free(a), free(b);
            cli_errorf("eval paired: %s has %zu numbers but %s has %zu", files[0], na, files[1], nb);
            return CLI_EXIT_FAIL;
        }
    } else if (!(b = calloc(na ? na : 1, sizeof *b))) {
        free(a);
        cli_errorf("eval paired: out of memory");
        return CLI_EXIT_FAIL;
    }
    onc_wilcoxon_result wr;
    onc_bootstrap_result br;
    bool have_boot = false;
    int rc = CLI_EXIT_FAIL;
    if (onc_wilcoxon(a, b, na, &w, &wr, &err) != ONC_OK) goto out;
    if (boot > 0 && na > 0) {
        /* mean(A - B): the bootstrap takes mean(second - first) */
        if (onc_bootstrap_paired_mean_diff(b, a, na, boot, level, seed, &br, &err) != ONC_OK) goto out;
        have_boot = true;
    }
    if (json) {
        printf("{\"n\": %zu, \"n_zero\": %lld, \"n_ranked\": %lld, \"zero_method\": \"%s\", \"alternative\": \"%s\", "
               "\"method\": \"%s\", \"correction\": %s,\n \"wilcoxon\": {\"statistic\": ",
               na, (long long)wr.n_zero, (long long)wr.n_ranked, onc_wilcoxon_zero_name(w.zero_method),
               onc_alternative_name(w.alternative), onc_wilcoxon_method_name(w.method), w.correction ? "true" : "false");
        json_num(stdout, wr.statistic);
        fputs(", \"pvalue\": ", stdout);
        json_num(stdout, wr.pvalue);
        fputs(", \"zstatistic\": ", stdout);
        json_num(stdout, wr.z);
        fputs(", \"r_plus\": ", stdout);
        json_num(stdout, wr.r_plus);
        fputs(", \"r_minus\": ", stdout);
        json_num(stdout, wr.r_minus);
        printf(", \"exact\": %s, \"fell_back\": %s, \"ties\": %s}", wr.exact ? "true" : "false",
               wr.fell_back ? "true" : "false", wr.ties ? "true" : "false");
        if (have_boot) {
            fputs(",\n \"bootstrap\": {\"estimate\": ", stdout);
            json_num(stdout, br.estimate);
            fputs(", \"ci_low\": ", stdout);
            json_num(stdout, br.lo);
            fputs(", \"ci_high\": ", stdout);
            json_num(stdout, br.hi);
            fputs(", \"se\": ", stdout);
            json_num(stdout, br.se);
            printf(", \"level\": %.17g, \"resamples\": %lld, \"seed\": %llu}", br.level, (long long)br.n_resamples,
                   (unsigned long long)br.seed);
        }
        fputs("}\n", stdout);
    } else {
        printf("pairs %zu (zero differences %lld)\n", na, (long long)wr.n_zero);
        printf("Wilcoxon signed-rank (%s, zero_method %s, %s%s): statistic %g, p-value %.6g, %s%s\n",
               onc_alternative_name(w.alternative), onc_wilcoxon_zero_name(w.zero_method),
               onc_wilcoxon_method_name(w.method), w.correction ? ", continuity correction" : "", wr.statistic,
               wr.pvalue, wr.exact ? "exact distribution" : "normal approximation",
               wr.fell_back ? " (zeros: exact impossible)" : "");
        if (!wr.exact && isfinite(wr.z)) printf("z = %.6g\n", wr.z);
        if (have_boot)
            printf("mean difference %.6g, %g%% bootstrap CI [%.6g, %.6g] (%lld resamples, seed %llu)\n", br.estimate,
                   100 * br.level, br.lo, br.hi, (long long)br.n_resamples, (unsigned long long)br.seed);
    }
    rc = CLI_EXIT_OK;
out:
    if (rc != CLI_EXIT_OK) cli_fail(&err);
    free(a), free(b);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage_eval, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "retrieval")) return eval_retrieval_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "paired")) return eval_paired_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "compare")) return cmd_eval_compare(argc - 1, argv + 1);
    /* Anything else is `oncolm eval [options] PREDICTIONS.jsonl`. */
    return cmd_eval_predictions(argc, argv);
}
