/* oncolm/eval_classify.h — classification, multi-label, field-extraction and
 * ICD-10 code metrics, number for number as scikit-learn 1.2.1
 * (sklearn/metrics/_classification.py):
 *
 *   onc_cls_evaluate     one label per item (binary or multiclass):
 *                        accuracy_score, balanced_accuracy_score (adjusted
 *                        too), confusion_matrix, precision_recall_fscore_support
 *                        per class and average='micro'|'macro'|'weighted'|
 *                        'binary' (pos_label), cohen_kappa_score with
 *                        weights None|'linear'|'quadratic'; plus per-class
 *                        specificity and NPV (no sklearn function)
 *   onc_cls_kappa        cohen_kappa_score of two label arrays (two readers)
 *   onc_ml_evaluate      a set of labels per item, as sklearn on the
 *                        MultiLabelBinarizer indicator matrices:
 *                        precision_recall_fscore_support per label and
 *                        'micro'|'macro'|'weighted'|'samples',
 *                        accuracy_score (subset accuracy), hamming_loss
 *   onc_extract_evaluate field -> value per item (e.g. the grade of each of
 *                        12 toxicity symptoms): onc_cls_evaluate per field
 *   onc_icd10_evaluate   a set of ICD-10 codes per item: onc_ml_evaluate on
 *                        the normalised codes and on their 3-character
 *                        categories (= sklearn with MultiLabelBinarizer on
 *                        the normalised sets)
 *
 * Labels are strings (callers write JSON numbers and booleans as text: 3 ->
 * "3", true -> "true"). Two labels are the same label when their bytes are
 * equal. The default label order is the sorted union of the gold and
 * predicted labels (sklearn's np.unique / sorted()): numeric order when
 * every label is a finite decimal number ([+-]digits[.digits][e[+-]digits],
 * so "9" < "10" as for numeric arrays in numpy), ties between different
 * spellings of one number ("1", "1.0") broken by strcmp; otherwise byte
 * order (strcmp, which equals Python's code-point order for UTF-8). The
 * order fixes the rows of the confusion matrix, the weights of the weighted
 * kappas, and the summation order of the averages.
 *
 * Arithmetic follows sklearn operation by operation, so results are
 * bit-identical to it, not merely close: precision = tp / (tp + fp) and
 * recall = tp / (tp + fn) as double divisions, F1 = (2 P) R / (P + R) (0 when
 * P + R = 0) — from P and R as sklearn 1.2.1 does, not from the counts —
 * and means are numpy's pairwise sums (8 partial sums per block of <= 128,
 * halves above, blocks of 8192 added in order) divided by the count.
 *
 * Zero division: a ratio whose denominator is 0 takes the value
 * `zero_division` (0, sklearn's default "warn" behaviour, or 1) and its
 * `defined` flag is false, so reports can print "n/a". F1 is undefined only
 * when 2 tp + fp + fn = 0 (class neither present nor predicted); with P or R
 * undefined otherwise it is computed from the fallback values as sklearn
 * does (0 with zero_division 0).
 *
 * Errors (ONC_ERR_INVALID, message says what): no items (sklearn raises on
 * empty input), a NULL array or gold label, duplicate or empty explicit
 * label lists, zero_division other than 0 or 1; ONC_ERR_NOMEM.
 *
 * Library code: never prints, never exits. Every function is reentrant; a
 * result is plain data owned by the caller (free it with its free function,
 * which accepts NULL) and may be read from several threads. */
#ifndef ONCOLM_EVAL_CLASSIFY_H
#define ONCOLM_EVAL_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The label of a missing prediction (a NULL prediction in onc_cls_evaluate,
 * a field absent from the prediction in onc_extract_evaluate). A gold label
 * may not be this text, so a missing prediction is always wrong. */
#define ONC_CLS_MISSING "(missing)"

/* ---- values and per-class rows ------------------------------------------------ */

typedef struct onc_cls_score {
    double value; /* the metric; zero_division when !defined (kappa: NaN) */
    bool defined; /* false: the denominator was 0 (sklearn's UndefinedMetricWarning) */
} onc_cls_score;

/* One class (multiclass, one-vs-rest over every item) or one label
 * (multi-label, one indicator column). */
typedef struct onc_cls_class {
    const char *label;      /* owned by the result */
    int64_t support;        /* tp + fn: gold items with this label */
    int64_t n_predicted;    /* tp + fp: items predicted with it */
    int64_t tp, fp, fn, tn; /* tn = n_items - tp - fp - fn */
    onc_cls_score precision;   /* PPV = tp / (tp + fp) */
    onc_cls_score recall;      /* sensitivity = tp / (tp + fn) */
    onc_cls_score f1;          /* (2 P) R / (P + R) */
    onc_cls_score specificity; /* tn / (tn + fp) */
    onc_cls_score npv;         /* tn / (tn + fn) */
    double accuracy;           /* (tp + tn) / n_items (multi-label: sklearn accuracy_score of the column) */
} onc_cls_class;

/* An average of precision, recall and F1. `defined` is false when any
 * averaged term fell back to zero_division (macro: any class; weighted: any
 * class with support > 0, or no support at all; micro, binary: its own
 * denominator; samples: any item). */
typedef struct onc_cls_prf {
    onc_cls_score precision, recall, f1;
} onc_cls_prf;

typedef enum onc_kappa_weights {
    ONC_KAPPA_NONE = 0,      /* unweighted: w = 1 off the diagonal */
    ONC_KAPPA_LINEAR = 1,    /* w = |i - j| in label order */
    ONC_KAPPA_QUADRATIC = 2, /* w = (i - j)^2 in label order */
    ONC_KAPPA_N_WEIGHTS
} onc_kappa_weights;

/* "none" "linear" "quadratic"; parse gives -1 for an unknown name. */
const char *onc_kappa_weights_name(onc_kappa_weights w);
int onc_kappa_weights_parse(const char *s);

/* ---- one label per item (binary, multiclass) ---------------------------------- */

typedef struct onc_cls_opts {
    /* Explicit label list, in the order given (sklearn's labels=): the
     * classes reported, the rows/columns of the confusion matrix and the
     * order of the weighted kappas. NULL = the sorted union. Must be
     * distinct; may hold labels absent from the data (zero rows) and may
     * leave out labels present in it:
     *   - the confusion matrix and the kappas drop every item whose gold or
     *     predicted label is outside the list (sklearn confusion_matrix);
     *     at least one listed label must occur in the gold labels, as
     *     sklearn requires;
     *   - per-class counts are one-vs-rest over ALL items (sklearn
     *     multilabel_confusion_matrix), and micro/macro/weighted average
     *     the listed classes only;
     *   - accuracy, balanced accuracy and the binary P/R/F ignore the list
     *     (sklearn's accuracy_score, balanced_accuracy_score and
     *     average='binary' take no labels). */
    const char *const *labels;
    size_t n_labels;
    /* Positive class for sklearn's average='binary' (result->binary), NULL
     * for none. As sklearn: an error when the data hold more than two
     * labels, or two labels and pos_label is not one of them. */
    const char *pos_label;
    double zero_division; /* 0 (default) or 1 */
} onc_cls_opts;

/* No label list, no positive class, zero_division 0. */
void onc_cls_opts_default(onc_cls_opts *o);

typedef struct onc_cls_result {
    int64_t n_items;
    int64_t n_correct;         /* gold == prediction */
    double accuracy;           /* n_correct / n_items */
    bool numeric_order;        /* the labels were sorted as numbers */
    size_t n_labels;           /* classes reported (label list order) */
    onc_cls_class *classes;    /* [n_labels] */
    int64_t *confusion;        /* [n_labels * n_labels]: confusion[gold * n_labels + pred] (rows true) */
    int64_t n_in_matrix;       /* items counted in the matrix (n_items unless a label list drops some) */
    double balanced_accuracy;  /* mean recall over the labels present in gold (sorted union order) */
    double balanced_accuracy_adjusted; /* (ba - 1/K) / (1 - 1/K), K = labels present in gold
                                          (K = 1: division by 0, NaN or -inf, as numpy) */
    onc_cls_prf micro, macro, weighted;
    double macro_specificity;  /* unweighted mean over the listed classes (no sklearn equivalent) */
    double macro_npv;          /* idem */
    bool has_binary;           /* pos_label was given */
    onc_cls_prf binary;        /* P/R/F of pos_label over all items (sklearn average='binary') */
    /* Cohen's kappa on the confusion matrix, indexed by onc_kappa_weights:
     * 1 - sum(w C) / sum(w E), E = outer(column sums, row sums) / total
     * (sklearn cohen_kappa_score). NaN and !defined when sum(w E) = 0,
     * i.e. both raters used one and the same class for every item (sklearn
     * returns nan there). */
    onc_cls_score kappa[ONC_KAPPA_N_WEIGHTS];
} onc_cls_result;

/* Evaluate gold[i] against pred[i], i < n. pred[i] == NULL is the label
 * ONC_CLS_MISSING (no answer: always wrong). opts NULL = defaults. NULL with
 * err set on error (see the top of this file; also: a gold label equal to
 * ONC_CLS_MISSING, a listed label occurring in no gold item, pos_label with
 * more than two labels, more than 4096 labels: the K x K confusion matrix
 * would be unreasonable, the data are free text rather than classes). */
onc_cls_result *onc_cls_evaluate(const char *const *gold, const char *const *pred, size_t n,
                                 const onc_cls_opts *opts, onc_error *err);
void onc_cls_result_free(onc_cls_result *r);
/* Index of label among r->classes, or -1. */
int64_t onc_cls_find(const onc_cls_result *r, const char *label);

/* Cohen's kappa of two raters (sklearn cohen_kappa_score(y1, y2, labels,
 * weights)): y1 gives the rows. labels NULL = sorted union, else as
 * onc_cls_opts.labels. *kappa is NaN when undefined (see kappa above).
 * Same errors as onc_cls_evaluate; both arrays must be free of NULLs. */
onc_status onc_cls_kappa(const char *const *y1, const char *const *y2, size_t n, const char *const *labels,
                         size_t n_labels, onc_kappa_weights weights, double *kappa, onc_error *err);

/* ---- a set of labels per item (multi-label) ------------------------------------ */

typedef struct onc_label_set {
    const char *const *labels; /* may repeat a label (counted once); NULL when n == 0 */
    size_t n;
} onc_label_set;

typedef struct onc_ml_opts {
    /* Label universe in the order given (MultiLabelBinarizer(classes=...)):
     * labels outside it are ignored (counted in n_unknown). NULL = the
     * sorted union of every gold and predicted label. Must be distinct. */
    const char *const *labels;
    size_t n_labels;
    double zero_division; /* 0 (default) or 1 */
    bool byte_order;      /* sort the union by strcmp even when every label is a number (codes) */
} onc_ml_opts;

void onc_ml_opts_default(onc_ml_opts *o);

typedef struct onc_ml_result {
    int64_t n_items;
    bool numeric_order;
    size_t n_labels;        /* indicator columns */
    onc_cls_class *labels;  /* [n_labels], column order */
    /* sklearn precision_recall_fscore_support(Y, Yhat, average=...) on the
     * indicator matrices. samples: per item P = |G n P| / |P|, R = |G n P| /
     * |G|, F from them, zero_division when a set is empty (sklearn 1.2.1:
     * an item with both sets empty scores 0, 0, 0 by default), averaged
     * over items. */
    onc_cls_prf micro, macro, weighted, samples;
    int64_t n_exact;        /* items whose sets are equal (within the universe) */
    double subset_accuracy; /* n_exact / n_items (accuracy_score on the matrices) */
    double hamming_loss;    /* differing cells / (n_items * n_labels) */
    int64_t n_unknown;      /* (item, set, label) occurrences outside an explicit universe, ignored */
} onc_ml_result;

/* Evaluate gold[i] against pred[i], i < n. opts NULL = defaults. NULL with
 * err set on error; besides the common ones: no label at all in the
 * universe (sklearn cannot tell the task then). */
onc_ml_result *onc_ml_evaluate(const onc_label_set *gold, const onc_label_set *pred, size_t n,
                               const onc_ml_opts *opts, onc_error *err);
void onc_ml_result_free(onc_ml_result *r);
/* Index of label among r->labels, or -1. */
int64_t onc_ml_find(const onc_ml_result *r, const char *label);

/* ---- field -> value per item (multi-output extraction) ----------------------------- */

typedef struct onc_extract_field {
    const char *name;     /* owned by the result */
    int64_t n_items;      /* items with a gold value for the field */
    int64_t n_missing;    /* of those, items whose prediction lacks the field */
    onc_cls_result *cls;  /* multiclass metrics of the field; its classes are the real values (never ONC_CLS_MISSING) */
} onc_extract_field;

typedef struct onc_extract_result {
    size_t n_fields;
    onc_extract_field *fields; /* [n_fields], order given */
    double mean_accuracy;      /* mean over fields of cls->accuracy */
    double mean_macro_f1;      /* mean over fields of cls->macro.f1.value */
} onc_extract_result;

/* Per-field multiclass metrics: gold and pred are [n_items * n_fields]
 * row-major (value of field f for item i at [i * n_fields + f]); NULL =
 * missing. A missing gold value leaves the item out of that field (not
 * annotated); a missing prediction is ONC_CLS_MISSING (always wrong) but
 * not a class. Each field is onc_cls_evaluate with labels = the sorted union
 * of its real values, so accuracy equals sklearn's accuracy_score over all
 * the field's items and macro F1 / kappa equal f1_score(average='macro',
 * labels=...) / cohen_kappa_score(labels=...) with those labels (without
 * missing predictions: the plain sklearn calls). Errors: n_fields or n_items 0, duplicate field
 * names, a field without any gold value, a gold value equal to
 * ONC_CLS_MISSING, zero_division not 0 or 1. */
onc_extract_result *onc_extract_evaluate(const char *const *fields, size_t n_fields, const char *const *gold,
                                         const char *const *pred, size_t n_items, double zero_division,
                                         onc_error *err);
void onc_extract_result_free(onc_extract_result *r);

/* ---- ICD-10 codes -------------------------------------------------------------- */

/* Normalise one code: trim ASCII white space, upper-case ASCII letters;
 * when the text holds at most one '.', drop it (and trim the white space
 * that uncovers: "C34 ." -> "C34") and, if more than 3 characters remain,
 * put it back after the 3rd ("c341" -> "C34.1",
 * " C34. " -> "C34", "c3.41" -> "C34.1"). Writes the result to out, which
 * must hold strlen(code) + 2 bytes, and returns whether it has the shape of
 * a code: a letter, a digit, a letter or digit, then optionally '.' and 1
 * to 4 letters or digits (ICD-10 and ICD-10-CM/-GM shapes: "C34", "C34.1",
 * "C7A.01", "S72.001A"). Anything else (two dots, inner spaces, "C3",
 * "34.1", "") is invalid; the normalised text is still written. "The 3rd
 * character" counts UTF-8 code points, so a non-ASCII (invalid) code is
 * never cut inside a character. Idempotent: normalising the output again
 * gives the same text and validity. */
bool onc_icd10_normalize(const char *code, char *out);

typedef struct onc_icd10_result {
    /* Full codes: onc_ml_evaluate on the normalised sets (duplicates after
     * normalisation collapse). An invalid code stays in the sets as its
     * normalised text: as a prediction it is a false positive (it can
     * never equal a valid code), as a gold code a false negative unless
     * the prediction holds the identical invalid text. */
    onc_ml_result *code;
    /* Categories: the first 3 characters of each valid code (an invalid
     * code is its own category, its whole text), sets de-duplicated. */
    onc_ml_result *category;
    bool *code_valid;          /* [code->n_labels]: whether code->labels[i] is a valid code */
    int64_t n_invalid_gold;    /* invalid codes in the gold sets (after de-duplication per item) */
    int64_t n_invalid_pred;    /* invalid codes in the predicted sets */
} onc_icd10_result;

/* Evaluate predicted code sets against gold ones (i < n). Numbers equal
 * sklearn precision_recall_fscore_support / accuracy_score / hamming_loss
 * on MultiLabelBinarizer().fit(gold + pred) matrices of the normalised
 * sets (and of the category sets); codes are ordered as text (strcmp,
 * sklearn's sorted() of strings), never as numbers. An item whose gold and
 * predicted sets are both empty scores P = R = F = zero_division in the
 * samples average (sklearn 1.2.1). zero_division 0 or 1. Errors as
 * onc_ml_evaluate (every set empty is ONC_ERR_INVALID). */
onc_icd10_result *onc_icd10_evaluate(const onc_label_set *gold, const onc_label_set *pred, size_t n,
                                     double zero_division, onc_error *err);
void onc_icd10_result_free(onc_icd10_result *r);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_EVAL_CLASSIFY_H */
