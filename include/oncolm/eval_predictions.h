/* oncolm/eval_predictions.h — prediction files and their time/cost figures.
 *
 * A prediction file is JSONL, one item per line:
 *   {"id": "r17", "gold": ..., "prediction": ..., "group": "photon",
 *    "time_s": 1.8, "tokens_in": 812, "tokens_out": 64}
 * id, gold and prediction are required; group, time_s, tokens_in and
 * tokens_out are optional. gold and prediction hold one of:
 *   - a label or a text: a string, number or boolean (numbers keep their
 *     JSON spelling as far as it is an integer: 3 -> "3"; other numbers are
 *     written as the shortest "%.*g" that reads back the same double;
 *     booleans -> "true"/"false");
 *   - a set: an array of labels (multi-label extraction, ICD-10 codes);
 *     duplicates collapse;
 *   - fields: an object field -> label (one label per field, e.g. the grade
 *     of each of 12 toxicity symptoms).
 * A null or missing-in-object prediction is kept as "no answer" (always
 * wrong, never dropped). Every line's error names the file and line.
 *
 * The task of a file (how gold/prediction are compared) is guessed from the
 * gold values by onc_pred_guess_task or given by the caller.
 *
 * Library code: never prints, never exits. */
#ifndef ONCOLM_EVAL_PREDICTIONS_H
#define ONCOLM_EVAL_PREDICTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum onc_pred_kind {
    ONC_PRED_NONE = 0,  /* null: the system gave no answer */
    ONC_PRED_LABEL = 1, /* one label or text */
    ONC_PRED_SET = 2,   /* a set of labels */
    ONC_PRED_FIELDS = 3 /* field -> label */
} onc_pred_kind;

typedef struct onc_pred_value {
    onc_pred_kind kind;
    char *label;   /* ONC_PRED_LABEL */
    char **items;  /* ONC_PRED_SET: distinct labels in first-seen order; ONC_PRED_FIELDS: field names */
    char **values; /* ONC_PRED_FIELDS: values[i] is the label of items[i] (NULL = null) */
    size_t n_items;
} onc_pred_value;

typedef struct onc_pred_item {
    char *id;
    onc_pred_value gold, prediction;
    char *group;      /* NULL when absent */
    double time_s;    /* NaN when absent */
    int64_t tokens_in, tokens_out; /* -1 when absent */
    int64_t line;     /* 1-based line in the file */
} onc_pred_item;

typedef struct onc_predictions {
    onc_pred_item *items;
    size_t n;
    char *path;
} onc_predictions;

/* Read a prediction file (path "-" is not special). Blank lines are
 * skipped; ids must be unique; a line that is not a JSON object, lacks
 * id/gold/prediction, or holds a value of the wrong shape (e.g. an array
 * nested in an array, a field value that is an object) is an
 * ONC_ERR_FORMAT error "PATH:LINE: ...". An empty file is ONC_ERR_FORMAT
 * too ("no items"). At most 50 million items. */
onc_status onc_predictions_read(const char *path, onc_predictions *out, onc_error *err);
/* Same from a NUL-free buffer; `name` is used in messages. */
onc_status onc_predictions_parse(const char *data, size_t len, const char *name, onc_predictions *out,
                                 onc_error *err);
void onc_predictions_free(onc_predictions *p);

typedef enum onc_eval_task {
    ONC_TASK_AUTO = 0,
    ONC_TASK_CLASSIFY,   /* one label per item: binary or multiclass */
    ONC_TASK_MULTILABEL, /* a set of labels per item */
    ONC_TASK_FIELDS,     /* field -> label per item (extraction) */
    ONC_TASK_CODES,      /* a set of ICD-10 codes per item */
    ONC_TASK_TEXT        /* generated text against a reference */
} onc_eval_task;

/* "auto" "classify" "multilabel" "fields" "codes" "text"; parse gives -1
 * for an unknown name. */
const char *onc_eval_task_name(onc_eval_task t);
int onc_eval_task_parse(const char *s);

/* The task the gold values suggest: sets -> multilabel (codes when every
 * gold element looks like an ICD-10 code: letter, two digits, optional
 * dot and up to 4 more letters/digits), objects -> fields, labels -> text
 * when the gold labels are mostly distinct (more than 20 distinct values
 * and more than half of the items) or contain a line break, else
 * classify. Mixed kinds of gold value give ONC_ERR_FORMAT naming the
 * first line that differs. */
onc_status onc_pred_guess_task(const onc_predictions *p, onc_eval_task *task, onc_error *err);

/* Check that every item fits the task (labels for classify/text, sets for
 * multilabel/codes, fields for fields; a prediction may also be null).
 * ONC_ERR_FORMAT "PATH:LINE: ..." otherwise. */
onc_status onc_pred_check_task(const onc_predictions *p, onc_eval_task task, onc_error *err);

/* ---- time and cost ------------------------------------------------------------ */

typedef struct onc_price {
    char *name;
    double input_per_million;  /* currency per 1e6 input tokens */
    double output_per_million; /* currency per 1e6 output tokens */
    double per_hour;           /* currency per hour of wall time (local hardware, staff) */
} onc_price;

typedef struct onc_price_table {
    char *currency; /* e.g. "USD" */
    onc_price *prices;
    size_t n;
} onc_price_table;

/* Read a price table:
 *   {"currency": "USD", "models": {"teacher-70b": {"input_per_million": 0.9,
 *     "output_per_million": 0.9}, "local-7b": {"per_hour": 1.2}}}
 * Missing rates are 0; negative or non-numeric rates and unknown keys in a
 * model entry are ONC_ERR_FORMAT errors naming the file and the model (a
 * misspelt key would silently cost nothing). */
onc_status onc_price_table_read(const char *path, onc_price_table *out, onc_error *err);
void onc_price_table_free(onc_price_table *t);
/* The entry called name, or NULL. */
const onc_price *onc_price_find(const onc_price_table *t, const char *name);

typedef struct onc_timecost {
    int64_t n;              /* items */
    int64_t n_timed;        /* items with time_s */
    int64_t n_tokens;       /* items with tokens_in and tokens_out */
    double time_total_s;    /* sum of time_s */
    double time_mean_s, time_median_s, time_p95_s, time_max_s; /* over timed items (NaN if none) */
    int64_t tokens_in, tokens_out;       /* sums over items that have them */
    double tokens_out_per_s; /* tokens_out / time over items that have both (NaN if none) */
    double cost;             /* NaN without a price */
    double cost_per_item;    /* cost / n */
} onc_timecost;

/* Totals of time_s / tokens over the items; cost from `price` (may be
 * NULL): tokens_in * input/1e6 + tokens_out * output/1e6 + time_total/3600
 * * per_hour. Quantiles as numpy.quantile (linear). */
void onc_timecost_compute(const onc_predictions *p, const onc_price *price, onc_timecost *out);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_EVAL_PREDICTIONS_H */
