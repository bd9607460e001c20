/* classify_internal.h — private pieces shared by the classification files
 * of src/eval/ (classify.c, multilabel.c, codes.c): numpy's summation
 * order, label tables with oncolm's sort rule, and the per-class and
 * averaged precision/recall/F1 arithmetic of scikit-learn 1.2.1 that the
 * multiclass and multi-label metrics have in common. Not a public header. */
#ifndef ONCOLM_CLASSIFY_INTERNAL_H
#define ONCOLM_CLASSIFY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eval/eval_internal.h"
#include "oncolm/eval_classify.h"
#include "oncolm/status.h"

/* Sum of x[0..n) exactly as numpy's add.reduce over a contiguous float64
 * array (numpy 1.24): blocks of 8192 elements (the iterator's buffer) added
 * in order to 0.0, each block summed pairwise (pairwise_sum_DOUBLE: fewer
 * than 8 elements one by one; up to 128 with 8 running partial sums combined
 * as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) plus the remainder one by one;
 * above, split at n/2 rounded down to a multiple of 8). */
double cls_np_sum(const double *x, size_t n);
/* numpy.mean of x[0..n): cls_np_sum / n (NaN when n == 0). */
double cls_np_mean(const double *x, size_t n);

/* Whether s is a finite decimal number ([+-]digits[.digits][e[+-]digits],
 * also "5." and ".5"); its value in *v. */
bool cls_parse_number(const char *s, double *v);

/* Interned labels and the default order. */
typedef struct cls_labels {
    ir_strtab tab;  /* label text -> id; pointers into the caller's strings */
    int64_t n_seen; /* ids 0..n_seen-1 occur in the data (interned first) */
} cls_labels;

/* ids[0..n) sorted by oncolm's label rule (see eval_classify.h): numeric
 * when allow_numeric and every one of them parses as a finite number (then
 * ties by strcmp), else strcmp. *numeric (may be NULL) says which. false
 * when out of memory. */
bool cls_sort_ids(const ir_strtab *tab, int64_t *ids, size_t n, bool allow_numeric, bool *numeric);

/* Check an explicit label list: NULL entries, duplicates, n == 0.
 * `what` names it in messages ("labels"). */
onc_status cls_check_label_list(const char *const *labels, size_t n, const char *what, onc_error *err);

/* zero_division must be 0 or 1 (sklearn's choices besides "warn"). */
onc_status cls_check_zero_division(double zd, onc_error *err);

/* Fill the scores of one row from its counts (support, n_predicted, tp, fp,
 * fn, tn and n_items already set): precision, recall, F1 (sklearn's
 * arithmetic), specificity, NPV, accuracy. */
void cls_row_scores(onc_cls_class *row, int64_t n_items, double zero_division);

/* F1 from precision and recall as sklearn 1.2.1 (beta = 1):
 * ((1 + 1) * p) * r / (1 * p + r), the denominator replaced by 1 when 0. */
double cls_f1_from_pr(double p, double r);

/* micro, macro and weighted averages of rows[0..k) (k >= 1) as
 * precision_recall_fscore_support. scratch: 2 k doubles. */
void cls_averages(const onc_cls_class *rows, size_t k, double zero_division, double *scratch, onc_cls_prf *micro,
                  onc_cls_prf *macro, onc_cls_prf *weighted);

/* Bytes needed for copies of in[0..n) (NULs included), and the copy into
 * dst with out[i] pointing at the copy of in[i]. */
size_t cls_strings_size(const char *const *in, size_t n);
void cls_strings_copy(const char *const *in, size_t n, char *dst, const char **out);

/* Round a byte count up to a multiple of 16 (blocks cut from one malloc). */
static inline size_t cls_align16(size_t n) { return (n + 15) & ~(size_t)15; }

#endif /* ONCOLM_CLASSIFY_INTERNAL_H */
