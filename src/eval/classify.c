/* classify.c — one label per item: confusion matrix, per-class and averaged
 * precision/recall/F1, specificity, NPV, accuracy, balanced accuracy,
 * Cohen's kappa (sklearn 1.2.1 arithmetic), and per-field extraction on top
 * of them. Contracts in oncolm/eval_classify.h; the shared arithmetic is in
 * classify_common.c. Multi-label sets are in multilabel.c, ICD-10 codes in
 * codes.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/classify_internal.h"

/* Labels beyond this make the K x K confusion matrix (and kappa's expected
 * matrix) too large to be useful: such data is free text, not classes. */
#define CLS_MAX_LABELS 4096

static const char *const kappa_names[ONC_KAPPA_N_WEIGHTS] = {"none", "linear", "quadratic"};

const char *onc_kappa_weights_name(onc_kappa_weights w) {
    return (unsigned)w < ONC_KAPPA_N_WEIGHTS ? kappa_names[w] : "?";
}

int onc_kappa_weights_parse(const char *s) {
    for (int i = 0; i < ONC_KAPPA_N_WEIGHTS; i++)
        if (s && strcmp(s, kappa_names[i]) == 0) return i;
    return -1;
}

void onc_cls_opts_default(onc_cls_opts *o) { memset(o, 0, sizeof *o); }

void onc_cls_result_free(onc_cls_result *r) { free(r); /* one block: see cls_compute */ }

int64_t onc_cls_find(const onc_cls_result *r, const char *label) {
    for (size_t i = 0; i < r->n_labels; i++)
        if (strcmp(r->classes[i].label, label) == 0) return (int64_t)i;
    return -1;
}

/* ---- labels of the items ------------------------------------------------------------ */

/* The items as label ids and the label list. */
typedef struct cls_data {
    ir_strtab tab;   /* every label: the data's first (ids 0..n_seen-1), then listed ones */
    int64_t *gid;    /* [n] gold label id of each item */
    int64_t *pid;    /* [n] predicted label id */
    int64_t n_seen;  /* labels occurring in the data */
    int64_t *order;  /* [n_seen] the data's labels in sorted order */
    bool numeric;    /* sorted as numbers */
    int64_t *list;   /* [k] the listed labels (explicit list, or order) */
    size_t k;
} cls_data;

static void cls_data_free(cls_data *d) {
    ir_strtab_free(&d->tab);
    free(d->gid), free(d->pid), free(d->order);
    if (d->list != d->order) free(d->list);
    memset(d, 0, sizeof *d);
}

/* Intern the labels of n items (and an explicit list), sort the data's
 * labels. A NULL prediction is ONC_CLS_MISSING when null_pred_is_missing,
 * else an error; `what` names the arrays in messages ("gold", "y1"). */
static onc_status cls_prepare(const char *const *gold, const char *const *pred, size_t n, const char *const *labels,
                              size_t n_labels, bool null_pred_is_missing, const char *what_gold,
                              const char *what_pred, cls_data *d, onc_error *err) {
    memset(d, 0, sizeof *d);
    if (n == 0) return onc_error_set(err, ONC_ERR_INVALID, "no items to evaluate (scikit-learn rejects empty input)");
    if (!gold || !pred) return onc_error_set(err, ONC_ERR_INVALID, "NULL %s or %s array", what_gold, what_pred);
    if (labels || n_labels) {
        const onc_status st = cls_check_label_list(labels, n_labels, "labels", err);
        if (st != ONC_OK) return st;
    }
    if (n > (size_t)INT32_MAX) return onc_error_set(err, ONC_ERR_INVALID, "too many items (%zu)", n);
    d->gid = malloc(n * sizeof *d->gid);
    d->pid = malloc(n * sizeof *d->pid);
    if (!d->gid || !d->pid) goto nomem;
    for (size_t i = 0; i < n; i++) {
        const char *g = gold[i], *p = pred[i];
        if (!g) {
            cls_data_free(d);
            return onc_error_set(err, ONC_ERR_INVALID, "item %zu: the %s label is NULL", i, what_gold);
        }
        if (null_pred_is_missing && strcmp(g, ONC_CLS_MISSING) == 0) {
            cls_data_free(d);
            return onc_error_set(err, ONC_ERR_INVALID,
                                 "item %zu: the gold label is \"" ONC_CLS_MISSING
                                 "\", the text reserved for a missing prediction",
                                 i);
        }
        if (!p) {
            if (!null_pred_is_missing) {
                cls_data_free(d);
                return onc_error_set(err, ONC_ERR_INVALID, "item %zu: the %s label is NULL", i, what_pred);
            }
            p = ONC_CLS_MISSING;
        }
        d->gid[i] = ir_strtab_intern(&d->tab, g, NULL);
        d->pid[i] = ir_strtab_intern(&d->tab, p, NULL);
        if (d->gid[i] < 0 || d->pid[i] < 0) goto nomem;
    }
    d->n_seen = d->tab.n;
    d->order = malloc((size_t)d->n_seen * sizeof *d->order);
    if (!d->order) goto nomem;
    for (int64_t i = 0; i < d->n_seen; i++) d->order[i] = i;
    if (!cls_sort_ids(&d->tab, d->order, (size_t)d->n_seen, true, &d->numeric)) goto nomem;
    if (labels) {
        d->k = n_labels;
        d->list = malloc(n_labels * sizeof *d->list);
        if (!d->list) goto nomem;
        for (size_t j = 0; j < n_labels; j++)
            if ((d->list[j] = ir_strtab_intern(&d->tab, labels[j], NULL)) < 0) goto nomem;
    } else {
        d->k = (size_t)d->n_seen;
        d->list = d->order;
    }
    if (d->k > CLS_MAX_LABELS) {
        const size_t k = d->k;
        cls_data_free(d);
        return onc_error_set(err, ONC_ERR_INVALID,
                             "%zu distinct labels: more than %d, too many for a confusion matrix (free text "
                             "rather than classes?)",
                             k, CLS_MAX_LABELS);
    }
    return ONC_OK;
nomem:
    cls_data_free(d);
    return onc_error_set(err, ONC_ERR_NOMEM, "out of memory reading %zu labelled items", n);
}

/* ---- metrics --------------------------------------------------------------------------- */

/* sklearn cohen_kappa_score on a k x k confusion matrix (rows: first rater). */
static onc_cls_score kappa_of(const int64_t *cm, size_t k, onc_kappa_weights weights, int64_t *isum,
                              double *we) {
    int64_t *sum0 = isum, *sum1 = isum + k; /* we: k * k */
    int64_t total = 0;
    for (size_t j = 0; j < k; j++) {
        int64_t col = 0, row = 0;
        for (size_t i = 0; i < k; i++) col += cm[i * k + j], row += cm[j * k + i];
        sum0[j] = col; /* np.sum(confusion, axis=0) */
        sum1[j] = row; /* np.sum(confusion, axis=1) */
        total += col;
    }
    int64_t num = 0; /* np.sum(w_mat * confusion): integers, exact */
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            const int64_t d = (int64_t)i - (int64_t)j;
            const int64_t w = weights == ONC_KAPPA_NONE ? (d != 0) : weights == ONC_KAPPA_LINEAR ? (d < 0 ? -d : d) : d * d;
            num += w * cm[i * k + j];
            /* expected = np.outer(sum0, sum1) / np.sum(sum0); int64 products, then one division */
            const double e = (double)(sum0[i] * sum1[j]) / (double)total;
            we[i * k + j] = (double)w * e;
        }
    const double den = cls_np_sum(we, k * k);
    onc_cls_score s;
    s.value = 1 - (double)num / den;
    s.defined = den != 0.0 && !isnan(den);
    if (!s.defined) s.value = NAN;
    return s;
}

/* The result of prepared data: one allocation holding the struct, the
 * classes, the confusion matrix and the label texts. */
static onc_status cls_compute(const cls_data *d, size_t n, const onc_cls_opts *o, onc_cls_result **out,
                              onc_error *err) {
    const size_t k = d->k, u = (size_t)d->tab.n;
    int64_t *tp = calloc(u, sizeof *tp), *truth = calloc(u, sizeof *truth), *predc = calloc(u, sizeof *predc);
    int64_t *pos = malloc((u + 2 * k) * sizeof *pos); /* u positions, then 2 k kappa sums */
    double *scratch = malloc((2 * k + k * k + (size_t)d->n_seen + 1) * sizeof *scratch);
    const char **texts = malloc((k ? k : 1) * sizeof *texts);
    const char **names = malloc((k ? k : 1) * sizeof *names);
    onc_cls_result *r = NULL;
    onc_status st = ONC_OK;
    *out = NULL;
    if (!tp || !truth || !predc || !pos || !scratch || !texts || !names) goto nomem;

    int64_t n_correct = 0;
    for (size_t i = 0; i < n; i++) {
        truth[d->gid[i]]++, predc[d->pid[i]]++;
        if (d->gid[i] == d->pid[i]) tp[d->gid[i]]++, n_correct++;
    }
    if (o->labels) {
        bool any = false;
        for (size_t j = 0; j < k && !any; j++) any = truth[d->list[j]] > 0;
        if (!any) {
            st = onc_error_set(err, ONC_ERR_INVALID, "labels: none of the %zu listed labels occurs in the gold labels "
                          "(scikit-learn's confusion_matrix requires one)", k);
            goto fail;
        }
    }
    /* sklearn average='binary': only for at most two labels in the data */
    int64_t pos_id = -1;
    if (o->pos_label) {
        pos_id = ir_strtab_find(&d->tab, o->pos_label);
        if (pos_id >= d->n_seen) pos_id = -1; /* only in the explicit list */
        if (d->n_seen > 2) {
            st = onc_error_set(err, ONC_ERR_INVALID, "pos_label \"%.200s\": the data hold %lld labels, a positive class "
                          "needs a binary task (scikit-learn average='binary')", o->pos_label, (long long)d->n_seen);
            goto fail;
        }
        if (pos_id < 0 && d->n_seen == 2) {
            st = onc_error_set(err, ONC_ERR_INVALID, "pos_label \"%.200s\" is not one of the labels \"%.100s\" and "
                          "\"%.100s\"", o->pos_label, d->tab.strs[d->order[0]], d->tab.strs[d->order[1]]);
            goto fail;
        }
    }

    for (size_t j = 0; j < k; j++) texts[j] = d->tab.strs[d->list[j]];
    const size_t off_classes = cls_align16(sizeof *r);
    const size_t off_cm = off_classes + cls_align16(k * sizeof(onc_cls_class));
    const size_t off_text = off_cm + cls_align16(k * k * sizeof(int64_t));
    r = calloc(1, off_text + cls_strings_size(texts, k) + 1);
    if (!r) goto nomem;
    r->classes = (onc_cls_class *)(void *)((char *)r + off_classes);
    r->confusion = (int64_t *)(void *)((char *)r + off_cm);
    cls_strings_copy(texts, k, (char *)r + off_text, names);

    r->n_items = (int64_t)n;
    r->n_correct = n_correct;
    r->accuracy = (double)n_correct / (double)n;
    r->numeric_order = d->numeric;
    r->n_labels = k;

    /* confusion matrix: items whose both labels are listed */
    for (size_t i = 0; i < u; i++) pos[i] = -1;
    for (size_t j = 0; j < k; j++) pos[d->list[j]] = (int64_t)j;
    for (size_t i = 0; i < n; i++) {
        const int64_t g = pos[d->gid[i]], p = pos[d->pid[i]];
        if (g >= 0 && p >= 0) r->confusion[(size_t)g * k + (size_t)p]++, r->n_in_matrix++;
    }

    /* per class: one-vs-rest over every item */
    for (size_t j = 0; j < k; j++) {
        onc_cls_class *c = &r->classes[j];
        const int64_t id = d->list[j];
        c->label = names[j];
        c->tp = tp[id];
        c->support = truth[id];
        c->n_predicted = predc[id];
        c->fp = c->n_predicted - c->tp;
        c->fn = c->support - c->tp;
        c->tn = (int64_t)n - c->tp - c->fp - c->fn;
        cls_row_scores(c, (int64_t)n, o->zero_division);
    }
    cls_averages(r->classes, k, o->zero_division, scratch, &r->micro, &r->macro, &r->weighted);
    for (size_t j = 0; j < k; j++) scratch[j] = r->classes[j].specificity.value;
    r->macro_specificity = cls_np_mean(scratch, k);
    for (size_t j = 0; j < k; j++) scratch[j] = r->classes[j].npv.value;
    r->macro_npv = cls_np_mean(scratch, k);

    /* balanced_accuracy_score: diag / row sums over the data's sorted labels,
     * classes absent from the gold labels (NaN) dropped, then np.mean */
    size_t n_present = 0;
    for (int64_t j = 0; j < d->n_seen; j++) {
        const int64_t id = d->order[j];
        if (truth[id] > 0) scratch[n_present++] = (double)tp[id] / (double)truth[id];
    }
    r->balanced_accuracy = cls_np_mean(scratch, n_present);
    const double chance = 1.0 / (double)n_present;
    r->balanced_accuracy_adjusted = (r->balanced_accuracy - chance) / (1 - chance);

    if (o->pos_label) {
        onc_cls_class b = {0};
        if (pos_id >= 0) b.tp = tp[pos_id], b.support = truth[pos_id], b.n_predicted = predc[pos_id];
        b.fp = b.n_predicted - b.tp;
        b.fn = b.support - b.tp;
        b.tn = (int64_t)n - b.tp - b.fp - b.fn;
        cls_row_scores(&b, (int64_t)n, o->zero_division);
        r->has_binary = true;
        r->binary.precision = b.precision;
        r->binary.recall = b.recall;
        r->binary.f1 = b.f1;
    }

    for (int w = 0; w < ONC_KAPPA_N_WEIGHTS; w++)
        r->kappa[w] = kappa_of(r->confusion, k, (onc_kappa_weights)w, pos + u, scratch);

    free(tp), free(truth), free(predc), free(pos), free(scratch), free(texts), free(names);
    *out = r;
    return ONC_OK;
nomem:
    st = onc_error_set(err, ONC_ERR_NOMEM, "out of memory evaluating %zu items with %zu labels", n, k);
fail:
    free(tp), free(truth), free(predc), free(pos), free(scratch), free(texts), free(names);
    free(r);
    return st;
}

onc_cls_result *onc_cls_evaluate(const char *const *gold, const char *const *pred, size_t n,
                                 const onc_cls_opts *opts, onc_error *err) {
    onc_cls_opts o;
    if (opts)
        o = *opts;
    else
        onc_cls_opts_default(&o);
    if (cls_check_zero_division(o.zero_division, err) != ONC_OK) return NULL;
    cls_data d;
    if (cls_prepare(gold, pred, n, o.labels, o.n_labels, true, "gold", "predicted", &d, err) != ONC_OK) return NULL;
    onc_cls_result *r;
    cls_compute(&d, n, &o, &r, err);
    cls_data_free(&d);
    return r;
}

onc_status onc_cls_kappa(const char *const *y1, const char *const *y2, size_t n, const char *const *labels,
                         size_t n_labels, onc_kappa_weights weights, double *kappa, onc_error *err) {
    *kappa = NAN;
    if ((unsigned)weights >= ONC_KAPPA_N_WEIGHTS)
        return onc_error_set(err, ONC_ERR_INVALID, "unknown kappa weighting %d", (int)weights);
    cls_data d;
    onc_status st = cls_prepare(y1, y2, n, labels, n_labels, false, "y1", "y2", &d, err);
    if (st != ONC_OK) return st;
    onc_cls_opts o;
    onc_cls_opts_default(&o);
    o.labels = labels;
    o.n_labels = n_labels;
    onc_cls_result *r;
    st = cls_compute(&d, n, &o, &r, err);
    cls_data_free(&d);
    if (st != ONC_OK) return st;
    *kappa = r->kappa[weights].value;
    onc_cls_result_free(r);
    return ONC_OK;
}

/* ---- field -> value per item ------------------------------------------------------------ */

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sorted distinct non-NULL values of a[0..n) and b[0..n) into out (room
 * for 2n); returns their count. */
static size_t sorted_real_values(const char *const *a, const char *const *b, size_t n, const char **out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i]) out[k++] = a[i];
        if (b[i]) out[k++] = b[i];
    }
    qsort(out, k, sizeof *out, cmp_cstr);
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (m == 0 || strcmp(out[m - 1], out[i]) != 0) out[m++] = out[i];
    return m;
}

void onc_extract_result_free(onc_extract_result *r) {
    if (!r) return;
    for (size_t f = 0; f < r->n_fields; f++) onc_cls_result_free(r->fields[f].cls);
    free(r);
}

onc_extract_result *onc_extract_evaluate(const char *const *fields, size_t n_fields, const char *const *gold,
                                         const char *const *pred, size_t n_items, double zero_division,
                                         onc_error *err) {
    if (cls_check_zero_division(zero_division, err) != ONC_OK) return NULL;
    if (n_items == 0) {
        onc_error_set(err, ONC_ERR_INVALID, "no items to evaluate (scikit-learn rejects empty input)");
        return NULL;
    }
    if (cls_check_label_list(fields, n_fields, "fields", err) != ONC_OK) return NULL;
    if (!gold || !pred) {
        onc_error_set(err, ONC_ERR_INVALID, "NULL gold or predicted values");
        return NULL;
    }
    if (n_items > SIZE_MAX / n_fields) {
        onc_error_set(err, ONC_ERR_INVALID, "too many items x fields (%zu x %zu)", n_items, n_fields);
        return NULL;
    }
    const size_t off_fields = cls_align16(sizeof(onc_extract_result));
    const size_t off_names = off_fields + cls_align16(n_fields * sizeof(onc_extract_field));
    onc_extract_result *r = calloc(1, off_names + cls_strings_size(fields, n_fields) + 1);
    const char **col_gold = malloc(n_items * sizeof *col_gold);
    const char **col_pred = malloc(n_items * sizeof *col_pred);
    const char **names = malloc(n_fields * sizeof *names);
    const char **values = malloc(2 * n_items * sizeof *values);
    double *acc = malloc(n_fields * sizeof *acc), *f1 = malloc(n_fields * sizeof *f1);
    if (!r || !col_gold || !col_pred || !names || !values || !acc || !f1) {
        onc_error_set(err, ONC_ERR_NOMEM, "out of memory evaluating %zu fields", n_fields);
        goto fail;
    }
    r->fields = (onc_extract_field *)(void *)((char *)r + off_fields);
    cls_strings_copy(fields, n_fields, (char *)r + off_names, names);
    r->n_fields = n_fields;
    onc_cls_opts o;
    onc_cls_opts_default(&o);
    o.zero_division = zero_division;
    for (size_t f = 0; f < n_fields; f++) {
        onc_extract_field *ef = &r->fields[f];
        ef->name = names[f];
        size_t m = 0;
        for (size_t i = 0; i < n_items; i++) {
            const char *g = gold[i * n_fields + f];
            if (!g) continue; /* not annotated */
            col_gold[m] = g;
            col_pred[m] = pred[i * n_fields + f];
            if (!col_pred[m]) ef->n_missing++;
            m++;
        }
        ef->n_items = (int64_t)m;
        if (m == 0) {
            onc_error_set(err, ONC_ERR_INVALID, "field \"%.200s\": no item has a gold value", fields[f]);
            goto fail;
        }
        /* "(missing)" is not a class: with missing predictions the classes
         * (and so macro F1 and the kappas) are the real values only, as
         * oncolm eval does for one label per item; accuracy counts every
         * item (sklearn's accuracy_score takes no labels). */
        o.labels = NULL, o.n_labels = 0;
        if (ef->n_missing > 0) {
            o.labels = values;
            o.n_labels = sorted_real_values(col_gold, col_pred, m, values);
        }
        ef->cls = onc_cls_evaluate(col_gold, col_pred, m, &o, err);
        if (!ef->cls) {
            onc_error_prefix(err, "field \"%.200s\"", fields[f]);
            goto fail;
        }
        acc[f] = ef->cls->accuracy;
        f1[f] = ef->cls->macro.f1.value;
    }
    r->mean_accuracy = cls_np_mean(acc, n_fields);
    r->mean_macro_f1 = cls_np_mean(f1, n_fields);
    free(col_gold), free(col_pred), free(names), free(values), free(acc), free(f1);
    return r;
fail:
    free(col_gold), free(col_pred), free(names), free(values), free(acc), free(f1);
    onc_extract_result_free(r);
    return NULL;
}
