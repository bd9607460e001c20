/* oncolm/eval_run.h — the evaluation tables of prediction files: every
 * number of one file (`oncolm eval FILE`) or of two systems on the same
 * items (`oncolm eval compare A B`), as a JSON document and as a report
 * (oncolm/report.h) for people.
 *
 * The numbers come from the metric modules (eval_classify.h, rouge.h,
 * stats.h, eval_predictions.h); this module only selects them by task,
 * splits by group, pairs items of two files and picks the test:
 *
 *   task        per-item score of a comparison   test               bootstrap CI of
 *   classify    correct (0/1)                    McNemar (exact)    accuracy, macro F1
 *   multilabel  per-item F1 (sklearn "samples")  Wilcoxon           micro F1
 *   codes       per-item F1 of full codes        Wilcoxon           micro F1
 *   fields      share of fields right            Wilcoxon           mean field accuracy
 *   text        per-item ROUGE (default L F)     Wilcoxon           mean ROUGE F
 *
 * JSON numbers that are undefined (0/0 cases, NaN) are written as null;
 * docs/EVALUATION.md lists every key.
 *
 * Library code: never prints, never exits. */
#ifndef ONCOLM_EVAL_RUN_H
#define ONCOLM_EVAL_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/eval_predictions.h"
#include "oncolm/report.h"
#include "oncolm/stats.h"
#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct json_t; /* Jansson */

typedef enum onc_rouge_kind {
    ONC_ROUGE_KIND_1 = 0,
    ONC_ROUGE_KIND_2 = 1,
    ONC_ROUGE_KIND_L = 2,
    ONC_ROUGE_KIND_LSUM = 3
} onc_rouge_kind;

typedef struct onc_eval_opts {
    onc_eval_task task;          /* ONC_TASK_AUTO: onc_pred_guess_task */
    const char *const *labels;   /* explicit label order (classify, multilabel) or NULL */
    size_t n_labels;
    const char *pos_label;       /* binary P/R/F of this class (classify) or NULL */
    double zero_division;        /* 0 (default) or 1 */
    bool per_item;               /* JSON: also every item's scores */
    const onc_price *price;      /* cost figures, or NULL */
    const onc_price *price_b;    /* compare: the price of system B (NULL = price) */
    const char *currency;        /* printed with the cost */
    /* comparisons */
    int64_t bootstrap;           /* resamples (default 2000) */
    uint64_t seed;               /* bootstrap seed (default 42) */
    double level;                /* confidence level of every interval (default 0.95) */
    double alpha;                /* significance level of the verdict (default 0.05) */
    onc_alternative alternative; /* Wilcoxon: two-sided (default) or one-sided */
    onc_rouge_kind rouge;        /* text: the ROUGE variant compared (default L) */
    bool rouge_stem;             /* text: compare the stemmed scores (default true) */
    bool mcnemar_exact;          /* classify: exact binomial (default) or chi-square */
} onc_eval_opts;

void onc_eval_opts_default(onc_eval_opts *o);

/* Evaluate one prediction file. *json receives a new JSON object (caller
 * json_decref()s it); report (may be NULL) receives the tables and charts.
 * *task_used (may be NULL) tells the task evaluated. Errors: the task does
 * not fit the items (ONC_ERR_FORMAT naming file and line), the metric
 * modules' errors, ONC_ERR_NOMEM. */
onc_status onc_eval_predictions(const onc_predictions *p, const onc_eval_opts *o, struct json_t **json,
                                onc_report *report, onc_eval_task *task_used, onc_error *err);

/* Compare system B with system A (the baseline) on the items present in
 * both files (paired by id; the gold values of a pair must be equal, else
 * ONC_ERR_FORMAT naming both files and the id). The JSON holds both
 * systems' headline metrics, the per-item score of each, the test, the
 * bootstrap intervals and a verdict: {"better": "A"|"B"|null,
 * "significant": bool, "statement": "..."}. */
onc_status onc_eval_compare(const onc_predictions *a, const onc_predictions *b, const onc_eval_opts *o,
                            struct json_t **json, onc_report *report, onc_error *err);

/* "rouge1" "rouge2" "rougeL" "rougeLsum"; parse gives -1 for an unknown name. */
const char *onc_rouge_kind_name(onc_rouge_kind k);
int onc_rouge_kind_parse(const char *s);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_EVAL_RUN_H */
