/* eval_run_internal.h — private helpers shared by the files that build the
 * evaluation tables of prediction files (eval_run*.c, eval_compare.c):
 * JSON numbers that may be undefined, number formatting for reports,
 * groups of items, and the per-task evaluators. Not a public header. */
#ifndef ONCOLM_EVAL_RUN_INTERNAL_H
#define ONCOLM_EVAL_RUN_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "oncolm/eval_classify.h"
#include "oncolm/eval_predictions.h"
#include "oncolm/eval_run.h"
#include "oncolm/report.h"
#include "oncolm/rouge.h"

/* A JSON real, or null when x is not finite. */
json_t *evr_num(double x);
/* A JSON real of a score as scikit-learn returns it (the zero_division
 * value when undefined; null only for NaN, e.g. an undefined kappa). */
json_t *evr_score(onc_cls_score s);
/* [lo, hi] as a JSON array of two evr_num. */
json_t *evr_pair(double lo, double hi);
/* Set key of obj to val (a new reference, stolen); records out-of-memory in
 * *ok (false) instead of failing, so builders check once at the end. */
void evr_set(json_t *obj, const char *key, json_t *val, bool *ok);

/* "%.4f" of x into buf (size >= 32), or "n/a" when x is not finite. */
const char *evr_fmt(char *buf, double x);
/* "%.4f" of a score, "n/a" when undefined. */
const char *evr_fmt_score(char *buf, onc_cls_score s);
/* "0.8123 (0.7710–0.8480)" into buf (size >= 96). */
const char *evr_fmt_ci(char *buf, double x, double lo, double hi);

/* Groups of items in first-seen order: items[start[g] .. start[g+1]) of
 * `order` are the indices of group g. Items without a group are not in any
 * group. n_groups 0 when no item has a group. */
typedef struct evr_groups {
    size_t n_groups;
    const char **names; /* not owned (point into the predictions) */
    size_t *start;      /* [n_groups + 1] */
    size_t *order;      /* [items in a group] */
} evr_groups;
onc_status evr_groups_build(const onc_predictions *p, evr_groups *g, onc_error *err);
void evr_groups_free(evr_groups *g);

/* The label of a prediction as the metric modules take it: the label, or
 * NULL for no answer. */
const char *evr_label(const onc_pred_value *v);
/* The set of a prediction (empty for no answer). */
onc_label_set evr_set_of(const onc_pred_value *v);

/* Per-task evaluators: add their keys to `out` and their blocks to `rep`
 * (may be NULL). Each also sets out["headline"]: an object of the few
 * numbers that summarise the task (the per-group table and comparisons
 * show those), in display order. */
onc_status evr_classify(const onc_predictions *p, const onc_eval_opts *o, json_t *out, onc_report *rep,
                        onc_error *err);
onc_status evr_multilabel(const onc_predictions *p, const onc_eval_opts *o, json_t *out, onc_report *rep,
                          onc_error *err);
onc_status evr_fields(const onc_predictions *p, const onc_eval_opts *o, json_t *out, onc_report *rep,
                      onc_error *err);
onc_status evr_codes(const onc_predictions *p, const onc_eval_opts *o, json_t *out, onc_report *rep,
                     onc_error *err);
onc_status evr_text(const onc_predictions *p, const onc_eval_opts *o, json_t *out, onc_report *rep,
                    onc_error *err);

/* Per-item ROUGE of every item (no answer = empty prediction), malloc()ed
 * into *out; errors name the file and line. */
onc_status evr_text_scores(const onc_predictions *p, bool stem, onc_rouge_scores **out, onc_error *err);
/* The P/R/F of one variant. */
const onc_rouge_prf *evr_rouge_pick(const onc_rouge_scores *s, onc_rouge_kind k);

/* Fields of the items as the [n_items * n_fields] arrays of
 * onc_extract_evaluate: field names in first-seen order over the gold
 * values. Returns false when out of memory. The arrays point into p. */
bool evr_fields_table(const onc_predictions *p, const char ***fields, size_t *n_fields, const char ***gold,
                      const char ***pred);

#endif /* ONCOLM_EVAL_RUN_INTERNAL_H */
