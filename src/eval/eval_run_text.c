/* eval_run_text.c — the tables of generated text: ROUGE-1/2/L/Lsum with and
 * without the Porter stemmer (oncolm/rouge.h, identical to rouge-score),
 * their means, length statistics and the distribution of per-item scores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_run_internal.h"

const onc_rouge_prf *evr_rouge_pick(const onc_rouge_scores *s, onc_rouge_kind k) {
    switch (k) {
    case ONC_ROUGE_KIND_1: return &s->rouge1;
    case ONC_ROUGE_KIND_2: return &s->rouge2;
    case ONC_ROUGE_KIND_LSUM: return &s->rougeLsum;
    default: return &s->rougeL;
    }
}

onc_status evr_text_scores(const onc_predictions *p, bool stem, onc_rouge_scores **out, onc_error *err) {
    onc_rouge_scores *s = calloc(p->n ? p->n : 1, sizeof *s);
    if (!s) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", p->path);
    for (size_t i = 0; i < p->n; i++) {
        const onc_pred_item *it = &p->items[i];
        const char *pred = it->prediction.kind == ONC_PRED_LABEL ? it->prediction.label : "";
        onc_status st = onc_rouge_score(it->gold.label, strlen(it->gold.label), pred, strlen(pred), stem, &s[i], err);
        if (st != ONC_OK) {
            onc_error_prefix(err, "%s:%lld", p->path, (long long)it->line);
            free(s);
            return st;
        }
    }
    *out = s;
    return ONC_OK;
}

static json_t *prf_json(const onc_rouge_prf *x) {
    return json_pack("{s:o,s:o,s:o}", "precision", evr_num(x->precision), "recall", evr_num(x->recall), "f",
                     evr_num(x->fmeasure));
}

static json_t *scores_json(const onc_rouge_scores *s) {
    return json_pack("{s:o,s:o,s:o,s:o}", "rouge1", prf_json(&s->rouge1), "rouge2", prf_json(&s->rouge2), "rougeL",
                     prf_json(&s->rougeL), "rougeLsum", prf_json(&s->rougeLsum));
}

static const char *const kind_titles[4] = {"ROUGE-1", "ROUGE-2", "ROUGE-L", "ROUGE-Lsum"};

onc_status evr_text(const onc_predictions *p, const onc_eval_opts *o, json_t *out, onc_report *rep,
                    onc_error *err) {
    onc_rouge_scores *stemmed = NULL, *plain = NULL;
    onc_status st = evr_text_scores(p, true, &stemmed, err);
    if (st == ONC_OK) st = evr_text_scores(p, false, &plain, err);
    onc_rouge_lengths len;
    if (st == ONC_OK) st = onc_rouge_length_stats(plain, p->n, &len, err);
    if (st != ONC_OK) {
        free(stemmed), free(plain);
        return st;
    }
    onc_rouge_scores mean_s, mean_p;
    onc_rouge_mean(stemmed, p->n, &mean_s);
    onc_rouge_mean(plain, p->n, &mean_p);
    const onc_rouge_scores *headline = o->rouge_stem ? &mean_s : &mean_p;
    int64_t no_answer = 0;
    for (size_t i = 0; i < p->n; i++) no_answer += p->items[i].prediction.kind == ONC_PRED_NONE;
    bool ok = true;
    evr_set(out, "rouge", json_pack("{s:o,s:o}", "stemmed", scores_json(&mean_s), "unstemmed", scores_json(&mean_p)),
            &ok);
    evr_set(out, "no_answer", json_integer(no_answer), &ok);
    evr_set(out, "lengths",
            json_pack("{s:{s:o,s:o,s:I,s:I},s:{s:o,s:o,s:I,s:I},s:o,s:o}", "prediction", "mean",
                      evr_num(len.prediction_mean), "median", evr_num(len.prediction_median), "min",
                      (json_int_t)len.prediction_min, "max", (json_int_t)len.prediction_max, "reference", "mean",
                      evr_num(len.target_mean), "median", evr_num(len.target_median), "min",
                      (json_int_t)len.target_min, "max", (json_int_t)len.target_max, "ratio_mean",
                      evr_num(len.ratio_mean), "ratio_of_totals", evr_num(len.ratio_of_totals)),
            &ok);
    if (o->per_item) {
        json_t *items = json_array();
        for (size_t i = 0; items && i < p->n; i++) {
            json_t *it = json_pack("{s:s,s:o,s:o,s:I,s:I}", "id", p->items[i].id, "stemmed", scores_json(&stemmed[i]),
                                   "unstemmed", scores_json(&plain[i]), "prediction_tokens",
                                   (json_int_t)plain[i].prediction_tokens, "reference_tokens",
                                   (json_int_t)plain[i].target_tokens);
            if (!it || json_array_append_new(items, it)) ok = false;
        }
        evr_set(out, "items", items, &ok);
    }
    evr_set(out, "headline",
            json_pack("{s:o,s:o,s:o,s:o}", "ROUGE-1 F", evr_num(headline->rouge1.fmeasure), "ROUGE-2 F",
                      evr_num(headline->rouge2.fmeasure), "ROUGE-L F", evr_num(headline->rougeL.fmeasure),
                      "ROUGE-Lsum F", evr_num(headline->rougeLsum.fmeasure)),
            &ok);
    if (ok && rep) {
        char b[6][96];
        onc_report_add_heading(rep, 2, "ROUGE");
        onc_report_add_paragraph(rep, "Means over items of the per-item scores of Google's rouge-score "
                                      "(RougeScorer(target, prediction)), with and without its Porter stemmer.");
        onc_report_table *t = onc_report_table_begin(
            rep, "Mean ROUGE precision, recall and F", 7,
            (const char *[]){"variant", "P (stem)", "R (stem)", "F (stem)", "P", "R", "F"}, "lrrrrrr");
        for (int k = 0; k < 4; k++) {
            const onc_rouge_prf *a = evr_rouge_pick(&mean_s, (onc_rouge_kind)k), *c = evr_rouge_pick(&mean_p, (onc_rouge_kind)k);
            onc_report_table_row(t, (const char *[]){kind_titles[k], evr_fmt(b[0], a->precision), evr_fmt(b[1], a->recall),
                                                     evr_fmt(b[2], a->fmeasure), evr_fmt(b[3], c->precision),
                                                     evr_fmt(b[4], c->recall), evr_fmt(b[5], c->fmeasure)});
        }
        onc_report_table_end(t);
        onc_report_add_heading(rep, 2, "Lengths");
        onc_report_table *lt = onc_report_table_begin(
            rep, "Length in rouge-score tokens", 5, (const char *[]){"text", "mean", "median", "min", "max"}, "lrrrr");
        char mn[2][32], mx[2][32];
        snprintf(mn[0], 32, "%lld", (long long)len.prediction_min);
        snprintf(mx[0], 32, "%lld", (long long)len.prediction_max);
        snprintf(mn[1], 32, "%lld", (long long)len.target_min);
        snprintf(mx[1], 32, "%lld", (long long)len.target_max);
        onc_report_table_row(lt, (const char *[]){"prediction", evr_fmt(b[0], len.prediction_mean),
                                                  evr_fmt(b[1], len.prediction_median), mn[0], mx[0]});
        onc_report_table_row(lt, (const char *[]){"reference", evr_fmt(b[2], len.target_mean),
                                                  evr_fmt(b[3], len.target_median), mn[1], mx[1]});
        onc_report_table_end(lt);
        char ratio[160];
        snprintf(ratio, sizeof ratio, "Prediction / reference length: mean of per-item ratios %s, ratio of totals %s.%s",
                 evr_fmt(b[4], len.ratio_mean), evr_fmt(b[5], len.ratio_of_totals),
                 no_answer ? " Items without an answer score 0." : "");
        onc_report_add_paragraph(rep, ratio);
        /* Distribution of the per-item F of ROUGE-1 and ROUGE-L. */
        double *f1 = malloc(p->n * sizeof *f1), *fl = malloc(p->n * sizeof *fl);
        if (f1 && fl) {
            const onc_rouge_scores *src = o->rouge_stem ? stemmed : plain;
            for (size_t i = 0; i < p->n; i++) f1[i] = src[i].rouge1.fmeasure, fl[i] = src[i].rougeL.fmeasure;
            size_t ns[2] = {p->n, p->n};
            onc_report_histogram h = {.caption = "Distribution of per-item ROUGE F",
                                      .x_title = o->rouge_stem ? "F per item (stemmed)" : "F per item",
                                      .n_series = 2,
                                      .series = (const char *[]){"ROUGE-1", "ROUGE-L"},
                                      .values = (const double *const[]){f1, fl},
                                      .n_values = ns,
                                      .n_bins = 20,
                                      .range_lo = 0,
                                      .range_hi = 1,
                                      .layout = ONC_REPORT_HIST_SIDE_BY_SIDE};
            onc_report_add_histogram(rep, &h);
        }
        free(f1), free(fl);
    }
    free(stemmed), free(plain);
    return ok ? ONC_OK : onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
}
