/* classify_common.c — what the classification metrics share (contracts in
 * classify_internal.h): numpy's summation order, the label sort rule,
 * argument checks, and scikit-learn 1.2.1's per-class and averaged
 * precision/recall/F1 arithmetic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/classify_internal.h"

/* ---- numpy summation ------------------------------------------------------------- */

/* numpy's pairwise_sum_DOUBLE (umath/loops_utils.h.src). */
static double pairwise_sum(const double *a, size_t n) {
    if (n < 8) {
        double res = 0.;
        for (size_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

double cls_np_sum(const double *x, size_t n) {
    /* The reduction walks the array in buffer-sized chunks (8192). */
    double res = 0.0;
    for (size_t s = 0; s < n; s += 8192) res += pairwise_sum(x + s, n - s < 8192 ? n - s : 8192);
    return res;
}

double cls_np_mean(const double *x, size_t n) { return n ? cls_np_sum(x, n) / (double)n : NAN; }

/* ---- labels ------------------------------------------------------------------------- */

bool cls_parse_number(const char *s, double *v) {
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9') p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') p++, digits++;
    }
    if (digits == 0) return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return false;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p) return false;
    const double x = strtod(s, NULL);
    if (!isfinite(x)) return false;
    *v = x;
    return true;
}

/* Sort context: the numeric value of each id when sorting numerically. */
typedef struct sort_ctx {
    const ir_strtab *tab;
    const double *value; /* NULL: byte order */
} sort_ctx;

static int cmp_ids(const sort_ctx *c, int64_t a, int64_t b) {
    if (c->value) {
        const double x = c->value[a], y = c->value[b];
        if (x < y) return -1;
        if (x > y) return 1;
    }
    return strcmp(c->tab->strs[a], c->tab->strs[b]);
}

/* Stable merge sort (qsort would need the context in a global). */
static void merge_sort(int64_t *a, int64_t *tmp, size_t n, const sort_ctx *c) {
    if (n < 2) return;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            const int64_t key = a[i];
            size_t j = i;
            while (j > 0 && cmp_ids(c, a[j - 1], key) > 0) a[j] = a[j - 1], j--;
            a[j] = key;
        }
        return;
    }
    const size_t h = n / 2;
    merge_sort(a, tmp, h, c);
    merge_sort(a + h, tmp, n - h, c);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = cmp_ids(c, a[j], a[i]) < 0 ? a[j++] : a[i++];
    while (i < h) tmp[k++] = a[i++];
    while (j < n) tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

bool cls_sort_ids(const ir_strtab *tab, int64_t *ids, size_t n, bool allow_numeric, bool *numeric) {
    double *value = malloc((size_t)(tab->n ? tab->n : 1) * sizeof *value);
    int64_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!value || !tmp) {
        free(value), free(tmp);
        return false;
    }
    bool all_numeric = allow_numeric;
    for (size_t i = 0; i < n && all_numeric; i++)
        all_numeric = cls_parse_number(tab->strs[ids[i]], &value[ids[i]]);
    const sort_ctx c = {tab, all_numeric ? value : NULL};
    merge_sort(ids, tmp, n, &c);
    if (numeric) *numeric = all_numeric;
    free(value), free(tmp);
    return true;
}

onc_status cls_check_label_list(const char *const *labels, size_t n, const char *what, onc_error *err) {
    if (n == 0) return onc_error_set(err, ONC_ERR_INVALID, "%s: the list is empty", what);
    if (!labels) return onc_error_set(err, ONC_ERR_INVALID, "%s: NULL list of %zu labels", what, n);
    ir_strtab t = {0};
    onc_status st = ONC_OK;
    for (size_t i = 0; i < n && st == ONC_OK; i++) {
        if (!labels[i]) {
            st = onc_error_set(err, ONC_ERR_INVALID, "%s: entry %zu is NULL", what, i);
            break;
        }
        bool is_new;
        if (ir_strtab_intern(&t, labels[i], &is_new) < 0)
            st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", what);
        else if (!is_new)
            st = onc_error_set(err, ONC_ERR_INVALID, "%s: label \"%.200s\" is listed twice", what, labels[i]);
    }
    ir_strtab_free(&t);
    return st;
}

onc_status cls_check_zero_division(double zd, onc_error *err) {
    if (zd == 0.0 || zd == 1.0) return ONC_OK;
    return onc_error_set(err, ONC_ERR_INVALID, "zero_division must be 0 or 1 (got %g)", zd);
}

size_t cls_strings_size(const char *const *in, size_t n) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += strlen(in[i]) + 1;
    return total;
}

void cls_strings_copy(const char *const *in, size_t n, char *dst, const char **out) {
    for (size_t i = 0; i < n; i++) {
        const size_t len = strlen(in[i]);
        memcpy(dst, in[i], len + 1);
        out[i] = dst;
        dst += len + 1;
    }
}

/* ---- precision, recall, F1 ----------------------------------------------------------- */

/* sklearn's _prf_divide for one element: num / den, or zero_division. */
static onc_cls_score ratio(int64_t num, int64_t den, double zero_division) {
    onc_cls_score s;
    s.defined = den != 0;
    s.value = s.defined ? (double)num / (double)den : zero_division;
    return s;
}

double cls_f1_from_pr(double p, double r) {
    /* beta2 = 1.0: denom = beta2 * precision + recall; f = (1 + beta2) * precision * recall / denom */
    double denom = 1.0 * p + r;
    if (denom == 0.0) denom = 1;
    return (1.0 + 1.0) * p * r / denom;
}

void cls_row_scores(onc_cls_class *row, int64_t n_items, double zero_division) {
    row->precision = ratio(row->tp, row->n_predicted, zero_division);
    row->recall = ratio(row->tp, row->support, zero_division);
    row->f1.value = cls_f1_from_pr(row->precision.value, row->recall.value);
    row->f1.defined = 2 * row->tp + row->fp + row->fn > 0;
    row->specificity = ratio(row->tn, row->tn + row->fp, zero_division);
    row->npv = ratio(row->tn, row->tn + row->fn, zero_division);
    row->accuracy = (double)(row->tp + row->tn) / (double)n_items;
}

/* np.average(values) and np.average(values, weights=support) of one score
 * field (selected by its offset in onc_cls_class). */
static double field_value(const onc_cls_class *row, size_t off) {
    return ((const onc_cls_score *)(const void *)((const char *)row + off))->value;
}
static bool field_defined(const onc_cls_class *row, size_t off) {
    return ((const onc_cls_score *)(const void *)((const char *)row + off))->defined;
}

static onc_cls_score macro_of(const onc_cls_class *rows, size_t k, size_t off, double *scratch) {
    onc_cls_score s = {0, true};
    for (size_t i = 0; i < k; i++) {
        scratch[i] = field_value(&rows[i], off);
        s.defined = s.defined && field_defined(&rows[i], off);
    }
    s.value = cls_np_mean(scratch, k);
    return s;
}

static onc_cls_score weighted_of(const onc_cls_class *rows, size_t k, size_t off, double *scratch) {
    double *prod = scratch, *w = scratch + k;
    onc_cls_score s = {0, true};
    for (size_t i = 0; i < k; i++) {
        w[i] = (double)rows[i].support;
        prod[i] = field_value(&rows[i], off) * w[i];
        if (rows[i].support > 0) s.defined = s.defined && field_defined(&rows[i], off);
    }
    s.value = cls_np_sum(prod, k) / cls_np_sum(w, k);
    return s;
}

void cls_averages(const onc_cls_class *rows, size_t k, double zero_division, double *scratch, onc_cls_prf *micro,
                  onc_cls_prf *macro, onc_cls_prf *weighted) {
    const size_t off_p = offsetof(onc_cls_class, precision), off_r = offsetof(onc_cls_class, recall),
                 off_f = offsetof(onc_cls_class, f1);
    int64_t tp = 0, pred = 0, truth = 0;
    for (size_t i = 0; i < k; i++) tp += rows[i].tp, pred += rows[i].n_predicted, truth += rows[i].support;

    micro->precision = ratio(tp, pred, zero_division);
    micro->recall = ratio(tp, truth, zero_division);
    micro->f1.value = cls_f1_from_pr(micro->precision.value, micro->recall.value);
    micro->f1.defined = pred + truth > 0;

    macro->precision = macro_of(rows, k, off_p, scratch);
    macro->recall = macro_of(rows, k, off_r, scratch);
    macro->f1 = macro_of(rows, k, off_f, scratch);

    if (truth == 0) {
        /* sklearn: weights sum to 0 -> zero_division everywhere when nothing
         * was predicted either, else precision 0, recall zero_division, F 0. */
        const onc_cls_score zd = {zero_division, false}, zero = {0.0, false};
        weighted->precision = pred == 0 ? zd : zero;
        weighted->recall = zd;
        weighted->f1 = pred == 0 ? zd : zero;
    } else {
        weighted->precision = weighted_of(rows, k, off_p, scratch);
        weighted->recall = weighted_of(rows, k, off_r, scratch);
        weighted->f1 = weighted_of(rows, k, off_f, scratch);
    }
}
