/* eval_run_labels.c — the tables of label tasks: classification (binary and
 * multiclass), multi-label sets, per-field extraction and ICD-10 codes.
 * Numbers come from oncolm/eval_classify.h (sklearn-identical) and
 * oncolm/stats.h (Wilson intervals); this file lays them out as JSON and
 * report blocks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_run_internal.h"
#include "oncolm/stats.h"

/* Wilson interval of k of n at the options' level; NaN, NaN when n == 0. */
static void wilson(int64_t k, int64_t n, const onc_eval_opts *o, double *lo, double *hi) {
    *lo = *hi = NAN;
    if (n > 0) onc_wilson_interval((double)k, (double)n, 1.0 - o->level, lo, hi, NULL);
}

/* An average: sklearn's numbers (zero_division fallbacks included, as
 * sklearn returns them) plus "undefined": the names whose denominator was 0. */
static json_t *prf_json(const onc_cls_prf *a) {
    json_t *j = json_pack("{s:o,s:o,s:o}", "precision", evr_num(a->precision.value), "recall",
                          evr_num(a->recall.value), "f1", evr_num(a->f1.value));
    json_t *u = json_array();
    if (!j || !u) {
        json_decref(j), json_decref(u);
        return NULL;
    }
    if (!a->precision.defined) json_array_append_new(u, json_string("precision"));
    if (!a->recall.defined) json_array_append_new(u, json_string("recall"));
    if (!a->f1.defined) json_array_append_new(u, json_string("f1"));
    if (json_array_size(u))
        json_object_set_new(j, "undefined", u);
    else
        json_decref(u);
    return j;
}

/* One class / label row as JSON: sklearn's numbers, plus "undefined":
 * the names whose denominator was 0 (sklearn's UndefinedMetricWarning). */
static json_t *class_json(const onc_cls_class *c, const onc_eval_opts *o) {
    double slo, shi, plo, phi;
    wilson(c->tp, c->support, o, &slo, &shi);
    wilson(c->tn, c->tn + c->fp, o, &plo, &phi);
    json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "label", c->label, "support",
                          (json_int_t)c->support, "predicted", (json_int_t)c->n_predicted, "tp", (json_int_t)c->tp,
                          "fp", (json_int_t)c->fp, "fn", (json_int_t)c->fn, "tn", (json_int_t)c->tn, "sensitivity",
                          evr_score(c->recall), "sensitivity_ci", evr_pair(slo, shi), "specificity",
                          evr_score(c->specificity), "specificity_ci", evr_pair(plo, phi), "ppv",
                          evr_score(c->precision), "npv", evr_score(c->npv), "f1", evr_score(c->f1), "accuracy",
                          evr_num(c->accuracy));
    json_t *u = json_array();
    if (!j || !u) {
        json_decref(j), json_decref(u);
        return NULL;
    }
    const onc_cls_score *sc[5] = {&c->recall, &c->specificity, &c->precision, &c->npv, &c->f1};
    const char *names[5] = {"sensitivity", "specificity", "ppv", "npv", "f1"};
    for (int k = 0; k < 5; k++)
        if (!sc[k]->defined) json_array_append_new(u, json_string(names[k]));
    if (json_array_size(u))
        json_object_set_new(j, "undefined", u);
    else
        json_decref(u);
    return j;
}

/* Per-class table and bar chart (sensitivity with its Wilson interval,
 * PPV, F1) shared by classification and multi-label. */
static void report_classes(onc_report *rep, const char *what, const onc_cls_class *cls, size_t n,
                           const onc_cls_prf *macro, const onc_cls_prf *weighted, const onc_cls_prf *micro,
                           bool with_accuracy, const onc_eval_opts *o) {
    char cap[128];
    snprintf(cap, sizeof cap, "Per %s: sensitivity (%.0f%% Wilson CI), specificity, PPV, NPV, F1", what,
             o->level * 100);
    const char *hdr[8] = {what, "support", "sensitivity", "specificity", "PPV", "NPV", "F1",
                          with_accuracy ? "accuracy" : NULL};
    size_t ncol = with_accuracy ? 8 : 7;
    onc_report_table *t = onc_report_table_begin(rep, cap, ncol, hdr, with_accuracy ? "lrrrrrrr" : "lrrrrrr");
    char b[8][96];
    for (size_t i = 0; i < n; i++) {
        const onc_cls_class *c = &cls[i];
        double lo, hi;
        wilson(c->tp, c->support, o, &lo, &hi);
        snprintf(b[1], 96, "%lld", (long long)c->support);
        if (c->recall.defined)
            evr_fmt_ci(b[2], c->recall.value, lo, hi);
        else
            strcpy(b[2], "n/a");
        const char *cells[8] = {c->label, b[1], b[2], evr_fmt_score(b[3], c->specificity),
                                evr_fmt_score(b[4], c->precision), evr_fmt_score(b[5], c->npv),
                                evr_fmt_score(b[6], c->f1), with_accuracy ? evr_fmt(b[7], c->accuracy) : NULL};
        onc_report_table_row(t, cells);
    }
    const onc_cls_prf *avg[3] = {micro, macro, weighted};
    const char *avg_name[3] = {"micro avg", "macro avg", "weighted avg"};
    for (int k = 0; k < 3; k++) {
        if (!avg[k]) continue;
        const char *cells[8] = {avg_name[k], "", evr_fmt_score(b[2], avg[k]->recall), "", evr_fmt_score(b[4], avg[k]->precision),
                                "", evr_fmt_score(b[6], avg[k]->f1), with_accuracy ? "" : NULL};
        onc_report_table_row_emph(t, cells);
    }
    onc_report_table_end(t);

    const char **cats = malloc((n ? n : 1) * sizeof *cats);
    double *vals = malloc((n ? n : 1) * 3 * sizeof *vals), *lo = malloc((n ? n : 1) * 3 * sizeof *lo),
           *hi = malloc((n ? n : 1) * 3 * sizeof *hi);
    if (cats && vals && lo && hi) {
        for (size_t i = 0; i < n; i++) {
            const onc_cls_class *c = &cls[i];
            cats[i] = c->label;
            vals[i * 3 + 0] = c->recall.defined ? c->recall.value : NAN;
            vals[i * 3 + 1] = c->precision.defined ? c->precision.value : NAN;
            vals[i * 3 + 2] = c->f1.defined ? c->f1.value : NAN;
            wilson(c->tp, c->support, o, &lo[i * 3], &hi[i * 3]);
            lo[i * 3 + 1] = hi[i * 3 + 1] = lo[i * 3 + 2] = hi[i * 3 + 2] = NAN;
        }
        char bcap[96], ci[32];
        snprintf(bcap, sizeof bcap, "Per %s: sensitivity, PPV and F1", what);
        snprintf(ci, sizeof ci, "%.0f%% Wilson CI of sensitivity", o->level * 100);
        onc_report_bars bars = {.caption = bcap,
                             .x_title = what,
                             .y_title = "score",
                             .n_categories = n,
                             .n_series = 3,
                             .categories = cats,
                             .series = (const char *[]){"sensitivity", "PPV", "F1"},
                             .values = vals,
                             .lo = lo,
                             .hi = hi,
                             .interval_label = ci,
                             .y_range = ONC_REPORT_RANGE_UNIT};
        onc_report_add_bars(rep, &bars);
    }
    free(cats), free(vals), free(lo), free(hi);
}

/* ---- classification ---------------------------------------------------------------- */

onc_status evr_classify(const onc_predictions *p, const onc_eval_opts *o, json_t *out, onc_report *rep,
                        onc_error *err) {
    const char **gold = malloc(p->n * sizeof *gold), **pred = malloc(p->n * sizeof *pred);
    if (!gold || !pred) {
        free(gold), free(pred);
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", p->path);
    }
    for (size_t i = 0; i < p->n; i++) gold[i] = p->items[i].gold.label, pred[i] = evr_label(&p->items[i].prediction);
    onc_cls_opts co;
    onc_cls_opts_default(&co);
    co.labels = o->labels, co.n_labels = o->n_labels, co.pos_label = o->pos_label, co.zero_division = o->zero_division;
    bool any_missing = false;
    for (size_t i = 0; i < p->n; i++) any_missing |= pred[i] == NULL;
    /* Items without an answer are wrong, but "(missing)" is not a class:
     * the classes, averages and kappas are those of sklearn with
     * labels=[the real classes] (a no-answer item is a false negative of its
     * gold class), while accuracy, balanced accuracy and the confusion
     * matrix (with a "(missing)" column) come from all items. */
    if (any_missing) co.pos_label = NULL;
    onc_cls_result *full = onc_cls_evaluate(gold, pred, p->n, &co, err), *r = full;
    const char **real = NULL;
    if (full && any_missing && !o->labels) {
        real = malloc(full->n_labels * sizeof *real);
        size_t nr = 0;
        for (size_t i = 0; real && i < full->n_labels; i++)
            if (strcmp(full->classes[i].label, ONC_CLS_MISSING)) real[nr++] = full->classes[i].label;
        co.labels = real, co.n_labels = nr;
        r = real ? onc_cls_evaluate(gold, pred, p->n, &co, err) : NULL;
        if (!real) onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    }
    free(gold), free(pred);
    if (!r) {
        free(real);
        onc_cls_result_free(full);
        onc_error_prefix(err, "%s", p->path);
        return err ? err->code : ONC_ERR_INVALID;
    }
    int64_t no_answer = 0;
    for (size_t i = 0; i < p->n; i++) no_answer += p->items[i].prediction.kind == ONC_PRED_NONE;
    /* binary P/R/F of the positive class = its class row (sklearn
     * average='binary' equals labels=[pos] per class) */
    onc_cls_prf binary = r->binary;
    bool has_binary = r->has_binary;
    if (o->pos_label && !r->has_binary) {
        int64_t k = onc_cls_find(r, o->pos_label);
        if (k < 0) {
            free(real);
            if (r != full) onc_cls_result_free(r);
            onc_cls_result_free(full);
            return onc_error_set(err, ONC_ERR_INVALID, "%s: positive class \"%s\" does not occur", p->path,
                                 o->pos_label);
        }
        binary.precision = r->classes[k].precision, binary.recall = r->classes[k].recall, binary.f1 = r->classes[k].f1;
        has_binary = true;
    }
    bool ok = true;
    double alo, ahi;
    wilson(full->n_correct, full->n_items, o, &alo, &ahi);
    evr_set(out, "n_correct", json_integer(full->n_correct), &ok);
    evr_set(out, "no_answer", json_integer(no_answer), &ok);
    evr_set(out, "accuracy", evr_num(full->accuracy), &ok);
    evr_set(out, "accuracy_ci", evr_pair(alo, ahi), &ok);
    evr_set(out, "ci_level", json_real(o->level), &ok);
    evr_set(out, "balanced_accuracy", evr_num(full->balanced_accuracy), &ok);
    evr_set(out, "label_order", json_string(o->labels ? "given" : r->numeric_order ? "numeric" : "text"), &ok);
    json_t *labels = json_array(), *classes = json_array(), *matrix = json_array(), *mlabels = json_array();
    if (!labels || !classes || !matrix || !mlabels) ok = false;
    for (size_t i = 0; ok && i < r->n_labels; i++)
        if (json_array_append_new(labels, json_string(r->classes[i].label)) ||
            json_array_append_new(classes, class_json(&r->classes[i], o)))
            ok = false;
    for (size_t i = 0; ok && i < full->n_labels; i++) {
        if (json_array_append_new(mlabels, json_string(full->classes[i].label))) ok = false;
        json_t *row = json_array();
        for (size_t j = 0; row && j < full->n_labels; j++)
            if (json_array_append_new(row, json_integer(full->confusion[i * full->n_labels + j]))) ok = false;
        if (!row || json_array_append_new(matrix, row)) ok = false;
    }
    evr_set(out, "labels", labels, &ok);
    evr_set(out, "classes", classes, &ok);
    json_t *macro = prf_json(&r->macro);
    if (macro) {
        evr_set(macro, "specificity", evr_num(r->macro_specificity), &ok);
        evr_set(macro, "npv", evr_num(r->macro_npv), &ok);
    }
    evr_set(out, "averages",
            json_pack("{s:o,s:o,s:o}", "micro", prf_json(&r->micro), "macro", macro, "weighted", prf_json(&r->weighted)),
            &ok);
    if (has_binary) {
        json_t *bin = prf_json(&binary);
        if (bin) evr_set(bin, "positive", json_string(o->pos_label), &ok);
        evr_set(out, "binary", bin, &ok);
    }
    evr_set(out, "kappa",
            json_pack("{s:o,s:o,s:o}", "none", evr_score(r->kappa[ONC_KAPPA_NONE]), "linear",
                      evr_score(r->kappa[ONC_KAPPA_LINEAR]), "quadratic", evr_score(r->kappa[ONC_KAPPA_QUADRATIC])),
            &ok);
    evr_set(out, "confusion", json_pack("{s:o,s:o,s:I}", "labels", mlabels, "matrix", matrix, "n", (json_int_t)full->n_in_matrix),
            &ok);
    evr_set(out, "headline",
            json_pack("{s:o,s:o,s:o}", "accuracy", evr_num(full->accuracy), "balanced accuracy",
                      evr_num(full->balanced_accuracy), "macro F1", evr_score(r->macro.f1)),
            &ok);

    if (ok && rep) {
        char b[8][96];
        onc_report_add_heading(rep, 2, "Summary");
        char cap[96];
        snprintf(cap, sizeof cap, "Overall agreement with the gold labels (%.0f%% Wilson CI)", o->level * 100);
        onc_report_table *t = onc_report_table_begin(rep, cap, 2, (const char *[]){"metric", "value"}, "lr");
        snprintf(b[0], 96, "%lld (%lld without an answer)", (long long)full->n_items, (long long)no_answer);
        onc_report_table_row(t, (const char *[]){"items", b[0]});
        onc_report_table_row(t, (const char *[]){"accuracy", evr_fmt_ci(b[1], full->accuracy, alo, ahi)});
        onc_report_table_row(t, (const char *[]){"balanced accuracy", evr_fmt(b[2], full->balanced_accuracy)});
        onc_report_table_row(t, (const char *[]){"macro F1", evr_fmt_score(b[3], r->macro.f1)});
        onc_report_table_row(t, (const char *[]){"weighted F1", evr_fmt_score(b[4], r->weighted.f1)});
        onc_report_table_row(t, (const char *[]){"Cohen's kappa", evr_fmt_score(b[5], r->kappa[ONC_KAPPA_NONE])});
        onc_report_table_row(t, (const char *[]){"kappa, linear weights", evr_fmt_score(b[6], r->kappa[ONC_KAPPA_LINEAR])});
        onc_report_table_row(t, (const char *[]){"kappa, quadratic weights", evr_fmt_score(b[7], r->kappa[ONC_KAPPA_QUADRATIC])});
        if (has_binary) {
            char lbl[160];
            snprintf(lbl, sizeof lbl, "F1 of \"%s\" (binary)", o->pos_label);
            onc_report_table_row(t, (const char *[]){lbl, evr_fmt_score(b[0], binary.f1)});
        }
        onc_report_table_end(t);
        onc_report_add_heading(rep, 2, "Per class");
        report_classes(rep, "class", r->classes, r->n_labels, &r->macro, &r->weighted, NULL, false, o);
        /* rows: the classes (the "(missing)" row is always empty), columns:
         * every prediction including "(missing)" */
        size_t nl = full->n_labels, nrow = 0;
        const char **rows = malloc((nl ? nl : 1) * sizeof *rows), **cols = malloc((nl ? nl : 1) * sizeof *cols);
        double *counts = malloc((nl * nl + 1) * sizeof *counts);
        size_t *col_of = malloc((nl ? nl : 1) * sizeof *col_of);
        if (rows && cols && counts && col_of) {
            /* the "no answer" column goes last */
            size_t nc = 0;
            for (size_t j = 0; j < nl; j++)
                if (strcmp(full->classes[j].label, ONC_CLS_MISSING)) col_of[nc++] = j;
            for (size_t j = 0; j < nl; j++)
                if (!strcmp(full->classes[j].label, ONC_CLS_MISSING)) col_of[nc++] = j;
            for (size_t c = 0; c < nl; c++) {
                const char *l = full->classes[col_of[c]].label;
                cols[c] = strcmp(l, ONC_CLS_MISSING) ? l : "no answer";
            }
            for (size_t i = 0; i < nl; i++) {
                if (!strcmp(full->classes[i].label, ONC_CLS_MISSING)) continue;
                rows[nrow] = full->classes[i].label;
                for (size_t c = 0; c < nl; c++) counts[nrow * nl + c] = (double)full->confusion[i * nl + col_of[c]];
                nrow++;
            }
            onc_report_heatmap h = {.caption = "Confusion matrix (rows: gold, columns: predicted)",
                                    .n_rows = nrow,
                                    .n_cols = nl,
                                    .row_labels = rows,
                                    .col_labels = cols,
                                    .counts = counts};
            onc_report_add_heatmap(rep, &h);
        }
        free(rows), free(cols), free(counts), free(col_of);
    }
    free(real);
    if (r != full) onc_cls_result_free(r);
    onc_cls_result_free(full);
    if (!ok) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    return ONC_OK;
}

/* ---- multi-label sets and ICD-10 codes ----------------------------------------------- */

static json_t *ml_json(const onc_ml_result *r, const onc_eval_opts *o, bool *ok) {
    json_t *j = json_object(), *labels = json_array();
    if (!j || !labels) {
        json_decref(j), json_decref(labels);
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < r->n_labels; i++)
        if (json_array_append_new(labels, class_json(&r->labels[i], o))) *ok = false;
    double lo, hi;
    wilson(r->n_exact, r->n_items, o, &lo, &hi);
    evr_set(j, "labels", labels, ok);
    evr_set(j, "averages",
            json_pack("{s:o,s:o,s:o,s:o}", "micro", prf_json(&r->micro), "macro", prf_json(&r->macro), "weighted",
                      prf_json(&r->weighted), "samples", prf_json(&r->samples)),
            ok);
    evr_set(j, "exact_match", evr_num(r->subset_accuracy), ok);
    evr_set(j, "exact_match_ci", evr_pair(lo, hi), ok);
    evr_set(j, "n_exact", json_integer(r->n_exact), ok);
    evr_set(j, "hamming_loss", evr_num(r->hamming_loss), ok);
    return j;
}

static void report_ml_summary(onc_report *rep, const char *cap, const onc_ml_result *r, const onc_eval_opts *o) {
    char b[8][96];
    double lo, hi;
    wilson(r->n_exact, r->n_items, o, &lo, &hi);
    onc_report_table *t = onc_report_table_begin(rep, cap, 4, (const char *[]){"average", "precision", "recall", "F1"},
                                                 "lrrr");
    const onc_cls_prf *avg[4] = {&r->micro, &r->macro, &r->weighted, &r->samples};
    const char *names[4] = {"micro", "macro", "weighted", "samples (per item)"};
    for (int k = 0; k < 4; k++)
        onc_report_table_row(t, (const char *[]){names[k], evr_fmt_score(b[0], avg[k]->precision),
                                                 evr_fmt_score(b[1], avg[k]->recall), evr_fmt_score(b[2], avg[k]->f1)});
    onc_report_table_end(t);
    onc_report_table *t2 = onc_report_table_begin(rep, NULL, 2, (const char *[]){"metric", "value"}, "lr");
    onc_report_table_row(t2, (const char *[]){"exact match (whole set right)", evr_fmt_ci(b[3], r->subset_accuracy, lo, hi)});
    onc_report_table_row(t2, (const char *[]){"Hamming loss", evr_fmt(b[4], r->hamming_loss)});
    onc_report_table_end(t2);
}

onc_status evr_multilabel(const onc_predictions *p, const onc_eval_opts *o, json_t *out, onc_report *rep,
                          onc_error *err) {
    onc_label_set *g = malloc(p->n * sizeof *g), *pr = malloc(p->n * sizeof *pr);
    if (!g || !pr) {
        free(g), free(pr);
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", p->path);
    }
    for (size_t i = 0; i < p->n; i++) g[i] = evr_set_of(&p->items[i].gold), pr[i] = evr_set_of(&p->items[i].prediction);
    onc_ml_opts mo;
    onc_ml_opts_default(&mo);
    mo.labels = o->labels, mo.n_labels = o->n_labels, mo.zero_division = o->zero_division;
    onc_ml_result *r = onc_ml_evaluate(g, pr, p->n, &mo, err);
    free(g), free(pr);
    if (!r) {
        onc_error_prefix(err, "%s", p->path);
        return err ? err->code : ONC_ERR_INVALID;
    }
    bool ok = true;
    json_t *j = ml_json(r, o, &ok);
    if (j) {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v) evr_set(out, key, json_incref(v), &ok);
        json_decref(j);
    }
    evr_set(out, "headline",
            json_pack("{s:o,s:o,s:o}", "micro F1", evr_score(r->micro.f1), "macro F1", evr_score(r->macro.f1),
                      "exact match", evr_num(r->subset_accuracy)),
            &ok);
    if (ok && rep) {
        onc_report_add_heading(rep, 2, "Summary");
        report_ml_summary(rep, "Label sets: averages over labels and items", r, o);
        onc_report_add_heading(rep, 2, "Per label");
        report_classes(rep, "label", r->labels, r->n_labels, &r->macro, &r->weighted, &r->micro, true, o);
    }
    onc_ml_result_free(r);
    return ok ? ONC_OK : onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
}

onc_status evr_codes(const onc_predictions *p, const onc_eval_opts *o, json_t *out, onc_report *rep,
                     onc_error *err) {
    onc_label_set *g = malloc(p->n * sizeof *g), *pr = malloc(p->n * sizeof *pr);
    if (!g || !pr) {
        free(g), free(pr);
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", p->path);
    }
    for (size_t i = 0; i < p->n; i++) g[i] = evr_set_of(&p->items[i].gold), pr[i] = evr_set_of(&p->items[i].prediction);
    onc_icd10_result *r = onc_icd10_evaluate(g, pr, p->n, o->zero_division, err);
    free(g), free(pr);
    if (!r) {
        onc_error_prefix(err, "%s", p->path);
        return err ? err->code : ONC_ERR_INVALID;
    }
    bool ok = true;
    evr_set(out, "code", ml_json(r->code, o, &ok), &ok);
    evr_set(out, "category", ml_json(r->category, o, &ok), &ok);
    evr_set(out, "invalid_gold", json_integer(r->n_invalid_gold), &ok);
    evr_set(out, "invalid_predicted", json_integer(r->n_invalid_pred), &ok);
    evr_set(out, "headline",
            json_pack("{s:o,s:o,s:o}", "code micro F1", evr_score(r->code->micro.f1), "category micro F1",
                      evr_score(r->category->micro.f1), "code exact match", evr_num(r->code->subset_accuracy)),
            &ok);
    if (ok && rep) {
        onc_report_add_heading(rep, 2, "Full codes");
        report_ml_summary(rep, "ICD-10 codes, exact match of the normalised code", r->code, o);
        onc_report_add_heading(rep, 2, "3-character categories");
        report_ml_summary(rep, "ICD-10 categories (first 3 characters)", r->category, o);
        if (r->n_invalid_gold || r->n_invalid_pred) {
            char msg[160];
            snprintf(msg, sizeof msg,
                     "%lld gold and %lld predicted codes do not have the shape of an ICD-10 code; they count "
                     "as misses.",
                     (long long)r->n_invalid_gold, (long long)r->n_invalid_pred);
            onc_report_add_paragraph(rep, msg);
        }
        onc_report_add_heading(rep, 2, "Per category");
        report_classes(rep, "category", r->category->labels, r->category->n_labels, &r->category->macro,
                       &r->category->weighted, &r->category->micro, false, o);
    }
    onc_icd10_result_free(r);
    return ok ? ONC_OK : onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
}

/* ---- per-field extraction -------------------------------------------------------------- */

bool evr_fields_table(const onc_predictions *p, const char ***fields_out, size_t *n_fields, const char ***gold_out,
                      const char ***pred_out) {
    size_t cap = 16, nf = 0;
    const char **fields = malloc(cap * sizeof *fields);
    if (!fields) return false;
    for (size_t i = 0; i < p->n; i++) {
        const onc_pred_value *g = &p->items[i].gold;
        for (size_t k = 0; k < g->n_items; k++) {
            size_t f = 0;
            while (f < nf && strcmp(fields[f], g->items[k]) != 0) f++;
            if (f < nf) continue;
            if (nf == cap) {
                const char **nfp = realloc(fields, 2 * cap * sizeof *nfp);
                if (!nfp) return free(fields), false;
                fields = nfp, cap *= 2;
            }
            fields[nf++] = g->items[k];
        }
    }
    const char **gold = calloc(p->n * nf + 1, sizeof *gold), **pred = calloc(p->n * nf + 1, sizeof *pred);
    if (!gold || !pred) return free(fields), free(gold), free(pred), false;
    for (size_t i = 0; i < p->n; i++) {
        const onc_pred_value *g = &p->items[i].gold, *pv = &p->items[i].prediction;
        for (size_t f = 0; f < nf; f++) {
            for (size_t k = 0; k < g->n_items; k++)
                if (strcmp(g->items[k], fields[f]) == 0) gold[i * nf + f] = g->values[k];
            for (size_t k = 0; pv->kind == ONC_PRED_FIELDS && k < pv->n_items; k++)
                if (strcmp(pv->items[k], fields[f]) == 0) pred[i * nf + f] = pv->values[k];
        }
    }
    *fields_out = fields, *n_fields = nf, *gold_out = gold, *pred_out = pred;
    return true;
}

onc_status evr_fields(const onc_predictions *p, const onc_eval_opts *o, json_t *out, onc_report *rep,
                      onc_error *err) {
    const char **fields, **gold, **pred;
    size_t nf;
    if (!evr_fields_table(p, &fields, &nf, &gold, &pred))
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", p->path);
    onc_extract_result *r = onc_extract_evaluate(fields, nf, gold, pred, p->n, o->zero_division, err);
    free(fields), free(gold), free(pred);
    if (!r) {
        onc_error_prefix(err, "%s", p->path);
        return err ? err->code : ONC_ERR_INVALID;
    }
    bool ok = true;
    json_t *arr = json_array();
    if (!arr) ok = false;
    for (size_t f = 0; ok && f < r->n_fields; f++) {
        const onc_extract_field *fd = &r->fields[f];
        double lo, hi;
        wilson(fd->cls->n_correct, fd->cls->n_items, o, &lo, &hi);
        json_t *vals = json_array();
        for (size_t c = 0; vals && c < fd->cls->n_labels; c++)
            if (json_array_append_new(vals, class_json(&fd->cls->classes[c], o))) ok = false;
        json_t *fj = json_pack("{s:s,s:I,s:I,s:o,s:o,s:o,s:o,s:o}", "field", fd->name, "n", (json_int_t)fd->n_items,
                               "missing", (json_int_t)fd->n_missing, "accuracy", evr_num(fd->cls->accuracy),
                               "accuracy_ci", evr_pair(lo, hi), "macro_f1", evr_score(fd->cls->macro.f1),
                               "kappa", evr_score(fd->cls->kappa[ONC_KAPPA_NONE]), "values", vals ? vals : json_null());
        if (!fj || json_array_append_new(arr, fj)) ok = false;
    }
    evr_set(out, "fields", arr, &ok);
    evr_set(out, "mean_accuracy", evr_num(r->mean_accuracy), &ok);
    evr_set(out, "mean_macro_f1", evr_num(r->mean_macro_f1), &ok);
    evr_set(out, "headline",
            json_pack("{s:o,s:o}", "mean field accuracy", evr_num(r->mean_accuracy), "mean macro F1",
                      evr_num(r->mean_macro_f1)),
            &ok);
    if (ok && rep) {
        char b[6][96], cap[128];
        onc_report_add_heading(rep, 2, "Per field");
        snprintf(cap, sizeof cap, "Accuracy (%.0f%% Wilson CI), macro F1 and kappa of each field", o->level * 100);
        onc_report_table *t = onc_report_table_begin(
            rep, cap, 6, (const char *[]){"field", "items", "no answer", "accuracy", "macro F1", "kappa"}, "lrrrrr");
        const char **cats = malloc(r->n_fields * sizeof *cats);
        double *vals = malloc(r->n_fields * 2 * sizeof *vals), *lo = malloc(r->n_fields * 2 * sizeof *lo),
               *hi = malloc(r->n_fields * 2 * sizeof *hi);
        for (size_t f = 0; f < r->n_fields; f++) {
            const onc_extract_field *fd = &r->fields[f];
            double l, h;
            wilson(fd->cls->n_correct, fd->cls->n_items, o, &l, &h);
            snprintf(b[0], 96, "%lld", (long long)fd->n_items);
            snprintf(b[1], 96, "%lld", (long long)fd->n_missing);
            onc_report_table_row(t, (const char *[]){fd->name, b[0], b[1], evr_fmt_ci(b[2], fd->cls->accuracy, l, h),
                                                     evr_fmt_score(b[3], fd->cls->macro.f1),
                                                     evr_fmt_score(b[4], fd->cls->kappa[ONC_KAPPA_NONE])});
            if (cats && vals && lo && hi) {
                cats[f] = fd->name;
                vals[f * 2] = fd->cls->accuracy, lo[f * 2] = l, hi[f * 2] = h;
                vals[f * 2 + 1] = fd->cls->macro.f1.defined ? fd->cls->macro.f1.value : NAN;
                lo[f * 2 + 1] = hi[f * 2 + 1] = NAN;
            }
        }
        onc_report_table_row_emph(t, (const char *[]){"mean", "", "", evr_fmt(b[2], r->mean_accuracy),
                                                      evr_fmt(b[3], r->mean_macro_f1), ""});
        onc_report_table_end(t);
        if (cats && vals && lo && hi) {
            char ci[48];
            snprintf(ci, sizeof ci, "%.0f%% Wilson CI of accuracy", o->level * 100);
            onc_report_bars bars = {.caption = "Accuracy and macro F1 per field",
                                    .x_title = "field",
                                    .y_title = "score",
                                    .n_categories = r->n_fields,
                                    .n_series = 2,
                                    .categories = cats,
                                    .series = (const char *[]){"accuracy", "macro F1"},
                                    .values = vals,
                                    .lo = lo,
                                    .hi = hi,
                                    .interval_label = ci,
                                    .y_range = ONC_REPORT_RANGE_UNIT};
            onc_report_add_bars(rep, &bars);
        }
        free(cats), free(vals), free(lo), free(hi);
    }
    onc_extract_result_free(r);
    return ok ? ONC_OK : onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
}
