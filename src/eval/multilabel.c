/* multilabel.c — a set of labels per item, scored as scikit-learn 1.2.1
 * scores the MultiLabelBinarizer indicator matrices: per-label counts and
 * precision/recall/F1 (one column each), micro/macro/weighted/samples
 * averages, subset accuracy and Hamming loss. Contracts in
 * oncolm/eval_classify.h; the shared arithmetic is in classify_common.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/classify_internal.h"

void onc_ml_opts_default(onc_ml_opts *o) { memset(o, 0, sizeof *o); }

void onc_ml_result_free(onc_ml_result *r) { free(r); /* one block: see onc_ml_evaluate */ }

int64_t onc_ml_find(const onc_ml_result *r, const char *label) {
    for (size_t i = 0; i < r->n_labels; i++)
        if (strcmp(r->labels[i].label, label) == 0) return (int64_t)i;
    return -1;
}

/* A set must not be NULL with n > 0 nor hold a NULL label. */
static onc_status check_set(const onc_label_set *s, size_t item, const char *what, onc_error *err) {
    if (s->n && !s->labels)
        return onc_error_set(err, ONC_ERR_INVALID, "item %zu: the %s set has %zu labels but no array", item, what,
                             s->n);
    for (size_t j = 0; j < s->n; j++)
        if (!s->labels[j])
            return onc_error_set(err, ONC_ERR_INVALID, "item %zu: label %zu of the %s set is NULL", item, j, what);
    return ONC_OK;
}

/* Scratch of one evaluation. Arrays indexed by label id are sized by the
 * number of interned labels (data and explicit list). */
typedef struct ml_work {
    ir_strtab tab;
    int64_t *ids;        /* universe: label ids in column order */
    size_t k;            /* columns */
    int64_t *col;        /* id -> column, -1 outside the universe */
    int64_t *tp, *truth, *predc; /* per id */
    int64_t *mark_g, *mark_p;    /* per id: last item (+1) whose gold / predicted set held it */
    double *sp, *sr, *sf;        /* per item samples P, R, F */
    const char **texts;          /* [k] */
} ml_work;

static void ml_work_free(ml_work *w) {
    ir_strtab_free(&w->tab);
    free(w->ids), free(w->col), free(w->tp), free(w->truth), free(w->predc);
    free(w->mark_g), free(w->mark_p), free(w->sp), free(w->sr), free(w->sf), free(w->texts);
}

/* Intern every label, choose the universe (explicit list or sorted union). */
static onc_status ml_labels(const onc_label_set *gold, const onc_label_set *pred, size_t n, const onc_ml_opts *o,
                            ml_work *w, bool *numeric, onc_error *err) {
    for (size_t i = 0; i < n; i++) {
        onc_status st = check_set(&gold[i], i, "gold", err);
        if (st == ONC_OK) st = check_set(&pred[i], i, "predicted", err);
        if (st != ONC_OK) return st;
        for (int side = 0; side < 2; side++) {
            const onc_label_set *s = side ? &pred[i] : &gold[i];
            for (size_t j = 0; j < s->n; j++)
                if (ir_strtab_intern(&w->tab, s->labels[j], NULL) < 0) goto nomem;
        }
    }
    const int64_t n_seen = w->tab.n;
    *numeric = false;
    if (o->labels) {
        w->k = o->n_labels;
        w->ids = malloc(w->k * sizeof *w->ids);
        if (!w->ids) goto nomem;
        for (size_t j = 0; j < w->k; j++)
            if ((w->ids[j] = ir_strtab_intern(&w->tab, o->labels[j], NULL)) < 0) goto nomem;
    } else {
        w->k = (size_t)n_seen;
        w->ids = malloc((w->k ? w->k : 1) * sizeof *w->ids);
        if (!w->ids) goto nomem;
        for (int64_t j = 0; j < n_seen; j++) w->ids[j] = j;
        if (!cls_sort_ids(&w->tab, w->ids, w->k, !o->byte_order, numeric)) goto nomem;
    }
    if (w->k == 0)
        return onc_error_set(err, ONC_ERR_INVALID, "no label in any gold or predicted set (scikit-learn cannot "
                                                   "score an empty indicator matrix)");
    return ONC_OK;
nomem:
    return onc_error_set(err, ONC_ERR_NOMEM, "out of memory reading the label sets of %zu items", n);
}

onc_ml_result *onc_ml_evaluate(const onc_label_set *gold, const onc_label_set *pred, size_t n,
                               const onc_ml_opts *opts, onc_error *err) {
    onc_ml_opts o;
    if (opts)
        o = *opts;
    else
        onc_ml_opts_default(&o);
    if (cls_check_zero_division(o.zero_division, err) != ONC_OK) return NULL;
    if (n == 0) {
        onc_error_set(err, ONC_ERR_INVALID, "no items to evaluate (scikit-learn rejects empty input)");
        return NULL;
    }
    if (!gold || !pred) {
        onc_error_set(err, ONC_ERR_INVALID, "NULL gold or predicted sets");
        return NULL;
    }
    if ((o.labels || o.n_labels) && cls_check_label_list(o.labels, o.n_labels, "labels", err) != ONC_OK) return NULL;

    ml_work w = {0};
    onc_ml_result *r = NULL;
    bool numeric;
    if (ml_labels(gold, pred, n, &o, &w, &numeric, err) != ONC_OK) goto fail;
    const size_t u = (size_t)w.tab.n, k = w.k;
    w.col = malloc(u * sizeof *w.col);
    w.tp = calloc(u, sizeof *w.tp), w.truth = calloc(u, sizeof *w.truth), w.predc = calloc(u, sizeof *w.predc);
    w.mark_g = calloc(u, sizeof *w.mark_g), w.mark_p = calloc(u, sizeof *w.mark_p);
    w.sp = malloc(n * sizeof *w.sp), w.sr = malloc(n * sizeof *w.sr), w.sf = malloc(n * sizeof *w.sf);
    w.texts = malloc(k * sizeof *w.texts);
    if (!w.col || !w.tp || !w.truth || !w.predc || !w.mark_g || !w.mark_p || !w.sp || !w.sr || !w.sf || !w.texts)
        goto nomem;
    for (size_t i = 0; i < u; i++) w.col[i] = -1;
    for (size_t j = 0; j < k; j++) w.col[w.ids[j]] = (int64_t)j, w.texts[j] = w.tab.strs[w.ids[j]];

    const size_t off_rows = cls_align16(sizeof *r);
    const size_t off_text = off_rows + cls_align16(k * sizeof(onc_cls_class));
    r = calloc(1, off_text + cls_strings_size(w.texts, k) + 1);
    if (!r) goto nomem;
    r->labels = (onc_cls_class *)(void *)((char *)r + off_rows);
    r->n_items = (int64_t)n;
    r->numeric_order = numeric;
    r->n_labels = k;

    /* One pass over the items: per-label counts and per-item (samples) scores. */
    const double zd = o.zero_division;
    bool sp_def = true, sr_def = true, sf_def = true;
    int64_t differing = 0;
    for (size_t i = 0; i < n; i++) {
        const int64_t stamp = (int64_t)i + 1;
        int64_t t = 0, p = 0, c = 0;
        for (size_t j = 0; j < gold[i].n; j++) {
            const int64_t id = ir_strtab_find(&w.tab, gold[i].labels[j]);
            if (w.mark_g[id] == stamp) continue; /* repeated within the set */
            w.mark_g[id] = stamp;
            if (w.col[id] < 0) {
                r->n_unknown++;
                continue;
            }
            w.truth[id]++, t++;
        }
        for (size_t j = 0; j < pred[i].n; j++) {
            const int64_t id = ir_strtab_find(&w.tab, pred[i].labels[j]);
            if (w.mark_p[id] == stamp) continue;
            w.mark_p[id] = stamp;
            if (w.col[id] < 0) {
                r->n_unknown++;
                continue;
            }
            w.predc[id]++, p++;
            if (w.mark_g[id] == stamp) w.tp[id]++, c++;
        }
        if (t == c && p == c) r->n_exact++;
        differing += t + p - 2 * c;
        /* sklearn samplewise: _prf_divide(tp, pred), (tp, true), then F */
        w.sp[i] = p ? (double)c / (double)p : zd;
        w.sr[i] = t ? (double)c / (double)t : zd;
        w.sf[i] = cls_f1_from_pr(w.sp[i], w.sr[i]);
        sp_def = sp_def && p, sr_def = sr_def && t, sf_def = sf_def && (p + t);
    }
    r->subset_accuracy = (double)r->n_exact / (double)n;
    r->hamming_loss = (double)differing / (double)((int64_t)n * (int64_t)k);
    r->samples.precision = (onc_cls_score){cls_np_mean(w.sp, n), sp_def};
    r->samples.recall = (onc_cls_score){cls_np_mean(w.sr, n), sr_def};
    r->samples.f1 = (onc_cls_score){cls_np_mean(w.sf, n), sf_def};

    const char **names = (const char **)w.texts; /* reuse: names replace texts after the copy */
    cls_strings_copy(w.texts, k, (char *)r + off_text, names);
    for (size_t j = 0; j < k; j++) {
        onc_cls_class *row = &r->labels[j];
        const int64_t id = w.ids[j];
        row->label = names[j];
        row->tp = w.tp[id];
        row->support = w.truth[id];
        row->n_predicted = w.predc[id];
        row->fp = row->n_predicted - row->tp;
        row->fn = row->support - row->tp;
        row->tn = (int64_t)n - row->tp - row->fp - row->fn;
        cls_row_scores(row, (int64_t)n, zd);
    }
    double *scratch = w.sp; /* 2 k doubles needed; reuse when large enough */
    double *own = NULL;
    if (2 * k > n) {
        own = malloc(2 * k * sizeof *own);
        if (!own) goto nomem;
        scratch = own;
    }
    cls_averages(r->labels, k, zd, scratch, &r->micro, &r->macro, &r->weighted);
    free(own);
    ml_work_free(&w);
    return r;
nomem:
    onc_error_set(err, ONC_ERR_NOMEM, "out of memory evaluating the label sets of %zu items", n);
fail:
    ml_work_free(&w);
    free(r);
    return NULL;
}
