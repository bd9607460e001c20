/* eval_compare.c — `oncolm eval compare A B`: two systems on the same items.
 * Pairs the items by id, evaluates each system in full (eval_run.c), scores
 * every item for each system, runs the test that fits the per-item score
 * (McNemar for right/wrong, Wilcoxon signed-rank otherwise), bootstraps the
 * difference of the headline metrics and words a verdict. Contracts in
 * oncolm/eval_run.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"
#include "eval_run_internal.h"
#include "oncolm/stats.h"

/* ---- pairing ------------------------------------------------------------------------- */

static bool value_equal(const onc_pred_value *x, const onc_pred_value *y) {
    if (x->kind != y->kind) return false;
    if (x->kind == ONC_PRED_LABEL) return strcmp(x->label, y->label) == 0;
    if (x->n_items != y->n_items) return false;
    for (size_t i = 0; i < x->n_items; i++) {
        /* sets: same members in any order; fields: same field -> value */
        bool found = false;
        for (size_t j = 0; j < y->n_items && !found; j++) {
            if (strcmp(x->items[i], y->items[j]) != 0) continue;
            if (x->kind == ONC_PRED_SET)
                found = true;
            else {
                const char *a = x->values[i], *b = y->values[j];
                found = (!a && !b) || (a && b && strcmp(a, b) == 0);
            }
        }
        if (!found) return false;
    }
    return true;
}

typedef struct paired {
    onc_predictions a, b; /* views: items copied by value, strings shared */
    size_t only_a, only_b;
} paired;

static onc_status pair_items(const onc_predictions *a, const onc_predictions *b, paired *pr, onc_error *err) {
    memset(pr, 0, sizeof *pr);
    ir_strtab ids = {0};
    pr->a.items = malloc((a->n ? a->n : 1) * sizeof *pr->a.items);
    pr->b.items = malloc((a->n ? a->n : 1) * sizeof *pr->b.items);
    if (!pr->a.items || !pr->b.items) goto nomem;
    for (size_t j = 0; j < b->n; j++)
        if (ir_strtab_intern(&ids, b->items[j].id, NULL) < 0) goto nomem;
    for (size_t i = 0; i < a->n; i++) {
        int64_t j = ir_strtab_find(&ids, a->items[i].id);
        if (j < 0) {
            pr->only_a++;
            continue;
        }
        if (!value_equal(&a->items[i].gold, &b->items[j].gold)) {
            ir_strtab_free(&ids);
            free(pr->a.items), free(pr->b.items);
            return onc_error_set(err, ONC_ERR_FORMAT,
                                 "item \"%s\": the gold values differ between %s:%lld and %s:%lld (the files must "
                                 "describe the same items)",
                                 a->items[i].id, a->path, (long long)a->items[i].line, b->path,
                                 (long long)b->items[j].line);
        }
        pr->a.items[pr->a.n++] = a->items[i];
        pr->b.items[pr->b.n++] = b->items[j];
    }
    ir_strtab_free(&ids);
    pr->only_b = b->n - pr->a.n;
    pr->a.path = a->path, pr->b.path = b->path;
    if (pr->a.n == 0) {
        free(pr->a.items), free(pr->b.items);
        return onc_error_set(err, ONC_ERR_FORMAT, "%s and %s have no item id in common", a->path, b->path);
    }
    return ONC_OK;
nomem:
    ir_strtab_free(&ids);
    free(pr->a.items), free(pr->b.items);
    return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
}

/* ---- per-item scores ------------------------------------------------------------------ */

/* |G n P|, |P| and |G| of two label sets (distinct members). */
static void set_counts(const onc_pred_value *g, const onc_pred_value *p, double *inter, double *np, double *ng) {
    *inter = 0, *ng = (double)g->n_items, *np = p->kind == ONC_PRED_SET ? (double)p->n_items : 0;
    if (p->kind != ONC_PRED_SET) return;
    for (size_t i = 0; i < g->n_items; i++)
        for (size_t j = 0; j < p->n_items; j++)
            if (strcmp(g->items[i], p->items[j]) == 0) {
                *inter += 1;
                break;
            }
}

/* A normalised copy of a code set (onc_icd10_normalize, duplicates
 * collapsed) as an ONC_PRED_SET value; false when out of memory. */
static bool normalized_codes(const onc_pred_value *v, onc_pred_value *out) {
    memset(out, 0, sizeof *out);
    out->kind = v->kind == ONC_PRED_SET ? ONC_PRED_SET : ONC_PRED_NONE;
    if (v->kind != ONC_PRED_SET) return true;
    out->items = calloc(v->n_items + 1, sizeof *out->items);
    if (!out->items) return false;
    for (size_t i = 0; i < v->n_items; i++) {
        char *c = malloc(strlen(v->items[i]) + 2);
        if (!c) return false;
        onc_icd10_normalize(v->items[i], c);
        bool dup = false;
        for (size_t j = 0; j < out->n_items && !dup; j++) dup = strcmp(out->items[j], c) == 0;
        if (dup)
            free(c);
        else
            out->items[out->n_items++] = c;
    }
    return true;
}

static void free_value(onc_pred_value *v) {
    for (size_t i = 0; i < v->n_items; i++) free(v->items[i]);
    free(v->items);
}

/* Per-item F1 of a set prediction: 2|G n P| / (|G| + |P|), 1 when both sets
 * are empty (nothing to find, nothing claimed). */
static double set_f1(double inter, double np, double ng) { return np + ng == 0 ? 1.0 : 2 * inter / (np + ng); }

/* Everything the bootstrap metrics need, per item and system. */
typedef struct scores {
    size_t n;
    double *a, *b;             /* per-item score of A and B */
    double *ia, *pa, *ib, *pb, *g; /* sets: intersections and sizes (micro F1) */
    int *gold_code, *a_code, *b_code; /* classify: label codes (micro/macro F1) */
    int n_codes;
    int missing_code;          /* code of "no answer" (-1: none): not a class */
} scores;

static void scores_free(scores *s) {
    free(s->a), free(s->b), free(s->ia), free(s->pa), free(s->ib), free(s->pb), free(s->g);
    free(s->gold_code), free(s->a_code), free(s->b_code);
}

static int code_of(ir_strtab *t, const char *label) {
    return (int)ir_strtab_intern(t, label ? label : ONC_CLS_MISSING, NULL);
}

static onc_status item_scores(onc_eval_task task, const paired *pr, const onc_eval_opts *o, scores *s,
                              onc_error *err) {
    size_t n = pr->a.n;
    memset(s, 0, sizeof *s);
    s->n = n;
    s->a = calloc(n, sizeof *s->a), s->b = calloc(n, sizeof *s->b);
    if (!s->a || !s->b) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    if (task == ONC_TASK_CLASSIFY) {
        ir_strtab t = {0};
        s->gold_code = malloc(n * sizeof(int)), s->a_code = malloc(n * sizeof(int)), s->b_code = malloc(n * sizeof(int));
        bool ok = s->gold_code && s->a_code && s->b_code;
        for (size_t i = 0; ok && i < n; i++) {
            s->gold_code[i] = code_of(&t, pr->a.items[i].gold.label);
            s->a_code[i] = code_of(&t, evr_label(&pr->a.items[i].prediction));
            s->b_code[i] = code_of(&t, evr_label(&pr->b.items[i].prediction));
            ok = s->gold_code[i] >= 0 && s->a_code[i] >= 0 && s->b_code[i] >= 0;
            s->a[i] = s->a_code[i] == s->gold_code[i];
            s->b[i] = s->b_code[i] == s->gold_code[i];
        }
        s->n_codes = (int)t.n;
        s->missing_code = (int)ir_strtab_find(&t, ONC_CLS_MISSING);
        ir_strtab_free(&t);
        return ok ? ONC_OK : onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    }
    if (task == ONC_TASK_MULTILABEL || task == ONC_TASK_CODES) {
        s->ia = malloc(n * sizeof(double)), s->pa = malloc(n * sizeof(double)), s->ib = malloc(n * sizeof(double));
        s->pb = malloc(n * sizeof(double)), s->g = malloc(n * sizeof(double));
        if (!s->ia || !s->pa || !s->ib || !s->pb || !s->g) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            onc_pred_value g = pr->a.items[i].gold, pa = pr->a.items[i].prediction, pb = pr->b.items[i].prediction;
            onc_pred_value ng, npa, npb;
            bool codes = task == ONC_TASK_CODES, ok = true;
            if (codes) {
                ok = normalized_codes(&g, &ng) & normalized_codes(&pa, &npa) & normalized_codes(&pb, &npb);
                g = ng, pa = npa, pb = npb;
            }
            if (ok) {
                set_counts(&g, &pa, &s->ia[i], &s->pa[i], &s->g[i]);
                set_counts(&g, &pb, &s->ib[i], &s->pb[i], &s->g[i]);
                s->a[i] = set_f1(s->ia[i], s->pa[i], s->g[i]);
                s->b[i] = set_f1(s->ib[i], s->pb[i], s->g[i]);
            }
            if (codes) free_value(&ng), free_value(&npa), free_value(&npb);
            if (!ok) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
        }
        return ONC_OK;
    }
    if (task == ONC_TASK_FIELDS) {
        for (size_t i = 0; i < n; i++) {
            const onc_pred_value *g = &pr->a.items[i].gold;
            const onc_pred_value *p2[2] = {&pr->a.items[i].prediction, &pr->b.items[i].prediction};
            double *dst[2] = {&s->a[i], &s->b[i]};
            for (int k = 0; k < 2; k++) {
                size_t right = 0, asked = 0;
                for (size_t f = 0; f < g->n_items; f++) {
                    if (!g->values[f]) continue;
                    asked++;
                    for (size_t j = 0; p2[k]->kind == ONC_PRED_FIELDS && j < p2[k]->n_items; j++)
                        if (strcmp(p2[k]->items[j], g->items[f]) == 0 && p2[k]->values[j] &&
                            strcmp(p2[k]->values[j], g->values[f]) == 0)
                            right++;
                }
                *dst[k] = asked ? (double)right / (double)asked : NAN;
            }
        }
        return ONC_OK;
    }
    /* text */
    onc_rouge_scores *ra, *rb;
    onc_status st = evr_text_scores(&pr->a, o->rouge_stem, &ra, err);
    if (st != ONC_OK) return st;
    if ((st = evr_text_scores(&pr->b, o->rouge_stem, &rb, err)) != ONC_OK) {
        free(ra);
        return st;
    }
    for (size_t i = 0; i < n; i++) {
        s->a[i] = evr_rouge_pick(&ra[i], o->rouge)->fmeasure;
        s->b[i] = evr_rouge_pick(&rb[i], o->rouge)->fmeasure;
    }
    free(ra), free(rb);
    return ONC_OK;
}

/* ---- bootstrap metrics ---------------------------------------------------------------- */

/* Macro F1 of one system on the resample, as sklearn f1_score(average=
 * 'macro') with labels = union of the resample's gold and predicted labels
 * except "no answer" (F from P and R, zero division 0), as the headline
 * macro F1 of the file is. */
static double macro_f1_codes(const scores *s, const int *pred, const size_t *idx, size_t n, int64_t *cnt) {
    int64_t *tp = cnt, *np = cnt + s->n_codes, *ng = cnt + 2 * s->n_codes;
    memset(cnt, 0, 3 * (size_t)s->n_codes * sizeof *cnt);
    for (size_t k = 0; k < n; k++) {
        size_t i = idx[k];
        np[pred[i]]++, ng[s->gold_code[i]]++;
        if (pred[i] == s->gold_code[i]) tp[pred[i]]++;
    }
    double sum = 0;
    int labels = 0;
    for (int c = 0; c < s->n_codes; c++) {
        if ((!np[c] && !ng[c]) || c == s->missing_code) continue;
        labels++;
        double p = np[c] ? (double)tp[c] / (double)np[c] : 0, r = ng[c] ? (double)tp[c] / (double)ng[c] : 0;
        sum += p + r > 0 ? 2 * p * r / (p + r) : 0;
    }
    return labels ? sum / labels : NAN;
}

typedef struct boot_ctx {
    const scores *s;
    int64_t *cnt;
} boot_ctx;

static bool boot_macro_f1(const size_t *idx, size_t n, void *ctx, double *diff) {
    boot_ctx *c = ctx;
    double fa = macro_f1_codes(c->s, c->s->a_code, idx, n, c->cnt), fb = macro_f1_codes(c->s, c->s->b_code, idx, n, c->cnt);
    *diff = fb - fa;
    return isfinite(*diff);
}

static double micro_f1(const double *inter, const double *np, const double *ng, const size_t *idx, size_t n) {
    double si = 0, sp = 0, sg = 0;
    for (size_t k = 0; k < n; k++) si += inter[idx[k]], sp += np[idx[k]], sg += ng[idx[k]];
    double p = sp ? si / sp : 0, r = sg ? si / sg : 0;
    return p + r > 0 ? 2 * p * r / (p + r) : 0;
}

static bool boot_micro_f1(const size_t *idx, size_t n, void *ctx, double *diff) {
    const scores *s = ((boot_ctx *)ctx)->s;
    *diff = micro_f1(s->ib, s->pb, s->g, idx, n) - micro_f1(s->ia, s->pa, s->g, idx, n);
    return true;
}

/* Mean of b - a over the resample (summed in draw order as
 * onc_bootstrap_paired_mean_diff does), skipping items a score is
 * undefined for. */
static bool boot_mean(const size_t *idx, size_t n, void *ctx, double *diff) {
    const scores *s = ((boot_ctx *)ctx)->s;
    double sum = 0;
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        double x = s->a[idx[k]], y = s->b[idx[k]];
        if (isnan(x) || isnan(y)) continue;
        sum += y - x, m++;
    }
    if (!m) return false;
    *diff = sum / (double)m;
    return true;
}

/* ---- the comparison --------------------------------------------------------------------- */

typedef struct boot_row {
    const char *metric;
    double a, b;
    onc_bootstrap_result r;
} boot_row;

static const char *per_item_name(onc_eval_task t) {
    switch (t) {
    case ONC_TASK_CLASSIFY: return "correct (1) or not (0)";
    case ONC_TASK_MULTILABEL: return "F1 of the item's label set";
    case ONC_TASK_CODES: return "F1 of the item's code set";
    case ONC_TASK_FIELDS: return "share of fields right";
    default: return "ROUGE F";
    }
}

static double headline_of(json_t *sys, const char *key) {
    json_t *v = json_object_get(json_object_get(sys, "headline"), key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Time, tokens and cost of A and B side by side (from their "time"
 * objects), when either file has them. */
static void add_timecost_table(onc_report *rep, json_t *ja, json_t *jb) {
    json_t *ta = json_object_get(ja, "time"), *tb = json_object_get(jb, "time");
    if (!ta && !tb) return;
    static const struct {
        const char *key, *name, *fmt;
    } rows[] = {{"total_s", "total wall time (s)", "%.2f"},
                {"mean_s", "mean time per item (s)", "%.3f"},
                {"p95_s", "p95 time per item (s)", "%.3f"},
                {"tokens_in", "tokens in", "%.0f"},
                {"tokens_out", "tokens out", "%.0f"},
                {"tokens_out_per_s", "output tokens per second", "%.1f"},
                {"cost", "cost", "%.4f"},
                {"cost_per_item", "cost per item", "%.6f"}};
    onc_report_add_heading(rep, 2, "Time and cost");
    onc_report_table *t = onc_report_table_begin(rep, "Time, tokens and cost of each system", 3,
                                                 (const char *[]){"quantity", "A", "B"}, "lrr");
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        char cells[2][48];
        json_t *v[2] = {json_object_get(ta, rows[k].key), json_object_get(tb, rows[k].key)};
        if (!json_is_number(v[0]) && !json_is_number(v[1])) continue;
        for (int s = 0; s < 2; s++) {
            if (json_is_number(v[s]))
                snprintf(cells[s], sizeof cells[s], rows[k].fmt, json_number_value(v[s]));
            else
                strcpy(cells[s], "n/a");
        }
        onc_report_table_row(t, (const char *[]){rows[k].name, cells[0], cells[1]});
    }
    onc_report_table_end(t);
}

onc_status onc_eval_compare(const onc_predictions *a, const onc_predictions *b, const onc_eval_opts *opts,
                            json_t **json, onc_report *rep, onc_error *err) {
    onc_eval_opts defaults;
    if (!opts) onc_eval_opts_default(&defaults), opts = &defaults;
    *json = NULL;
    paired pr;
    onc_status st = pair_items(a, b, &pr, err);
    if (st != ONC_OK) return st;
    onc_eval_task task = opts->task;
    json_t *ja = NULL, *jb = NULL, *out = NULL, *test = NULL, *boots = NULL;
    char rname[48];
    scores s = {0};
    int64_t *cnt = NULL;
    if (task == ONC_TASK_AUTO && (st = onc_pred_guess_task(&pr.a, &task, err)) != ONC_OK) goto done;
    onc_eval_opts o = *opts;
    o.task = task;
    o.per_item = false;
    if ((st = onc_eval_predictions(&pr.a, &o, &ja, NULL, NULL, err)) != ONC_OK) goto done;
    onc_eval_opts ob = o;
    if (o.price_b) ob.price = o.price_b;
    if ((st = onc_eval_predictions(&pr.b, &ob, &jb, NULL, NULL, err)) != ONC_OK) goto done;
    if ((st = item_scores(task, &pr, &o, &s, err)) != ONC_OK) goto done;

    /* The test on the per-item scores. */
    size_t n = pr.a.n;
    bool ok = true;
    out = json_object();
    if (!out) goto nomem;
    test = json_object();
    if (!test) goto nomem;
    double pvalue = NAN;
    char test_name[64], test_detail[160];
    if (task == ONC_TASK_CLASSIFY) {
        int64_t bb = 0, cc = 0, both = 0, neither = 0;
        for (size_t i = 0; i < n; i++) {
            bool ra = s.a[i] > 0.5, rb = s.b[i] > 0.5;
            bb += ra && !rb, cc += !ra && rb, both += ra && rb, neither += !ra && !rb;
        }
        /* One-sided: the exact binomial tail of the discordant pairs (there
         * is no one-sided chi-square); no discordant pair: nothing to test
         * (statsmodels' chi-square with correction would give p = 0). */
        bool one_sided = o.alternative != ONC_ALT_TWO_SIDED, exact = o.mcnemar_exact || one_sided;
        onc_mcnemar_result m;
        onc_mcnemar(bb, cc, exact, true, &m, NULL);
        pvalue = m.pvalue;
        if (one_sided)
            pvalue = o.alternative == ONC_ALT_GREATER ? onc_binom_cdf_half(bb, bb + cc) : onc_binom_cdf_half(cc, bb + cc);
        if (bb + cc == 0) pvalue = 1.0;
        snprintf(test_name, sizeof test_name, "McNemar%s%s", exact ? " exact" : " chi-square",
                 one_sided ? " (one-sided binomial)" : "");
        if (bb + cc == 0)
            snprintf(test_detail, sizeof test_detail, "no item right with one system and wrong with the other");
        else
            snprintf(test_detail, sizeof test_detail, "%lld items right only with %s, %lld only with %s",
                     (long long)cc, "B", (long long)bb, "A");
        evr_set(test, "statistic", evr_num(m.statistic), &ok);
        evr_set(test, "a_right_b_wrong", json_integer(bb), &ok);
        evr_set(test, "a_wrong_b_right", json_integer(cc), &ok);
        evr_set(test, "both_right", json_integer(both), &ok);
        evr_set(test, "both_wrong", json_integer(neither), &ok);
        evr_set(test, "exact", json_boolean(exact), &ok);
    } else {
        double *xa = malloc(n * sizeof *xa), *xb = malloc(n * sizeof *xb);
        if (!xa || !xb) {
            free(xa), free(xb);
            goto nomem;
        }
        size_t m = 0, zeros = 0;
        for (size_t i = 0; i < n; i++)
            if (!isnan(s.a[i]) && !isnan(s.b[i])) {
                xa[m] = s.a[i], xb[m] = s.b[i];
                zeros += xa[m] == xb[m];
                m++;
            }
        onc_wilcoxon_opts wo;
        onc_wilcoxon_opts_default(&wo);
        wo.alternative = o.alternative;
        onc_wilcoxon_result w;
        snprintf(test_name, sizeof test_name, "Wilcoxon signed-rank");
        if (zeros == m) {
            /* scipy raises here; with no difference anywhere there is nothing to test. */
            pvalue = 1.0;
            snprintf(test_detail, sizeof test_detail, "every per-item difference is 0");
            evr_set(test, "statistic", json_null(), &ok);
        } else {
            onc_status ws = onc_wilcoxon(xb, xa, m, &wo, &w, err);
            if (ws != ONC_OK) {
                free(xa), free(xb);
                st = ws;
                goto done;
            }
            pvalue = w.pvalue;
            snprintf(test_detail, sizeof test_detail, "%zu pairs, %zu ties dropped, %s, statistic %.1f", m, zeros,
                     w.exact ? "exact distribution" : "normal approximation", w.statistic);
            evr_set(test, "statistic", evr_num(w.statistic), &ok);
            evr_set(test, "z", evr_num(w.z), &ok);
            evr_set(test, "exact", json_boolean(w.exact), &ok);
            evr_set(test, "zero_differences", json_integer((json_int_t)zeros), &ok);
        }
        free(xa), free(xb);
    }
    evr_set(test, "name", json_string(test_name), &ok);
    evr_set(test, "alternative", json_string(onc_alternative_name(o.alternative)), &ok);
    evr_set(test, "pvalue", evr_num(pvalue), &ok);
    evr_set(test, "per_item_score", json_string(per_item_name(task)), &ok);
    evr_set(test, "detail", json_string(test_detail), &ok);

    /* Bootstrap intervals of the headline differences. */
    boot_row rows[2];
    size_t n_rows = 0;
    boot_ctx bc = {&s, NULL};
    if (task == ONC_TASK_CLASSIFY) {
        cnt = malloc(3 * (size_t)(s.n_codes + 1) * sizeof *cnt);
        if (!cnt) goto nomem;
        bc.cnt = cnt;
        rows[n_rows++] = (boot_row){.metric = "accuracy", .a = headline_of(ja, "accuracy"), .b = headline_of(jb, "accuracy")};
        rows[n_rows++] = (boot_row){.metric = "macro F1", .a = headline_of(ja, "macro F1"), .b = headline_of(jb, "macro F1")};
    } else if (task == ONC_TASK_MULTILABEL) {
        rows[n_rows++] = (boot_row){.metric = "micro F1", .a = headline_of(ja, "micro F1"), .b = headline_of(jb, "micro F1")};
    } else if (task == ONC_TASK_CODES) {
        rows[n_rows++] = (boot_row){.metric = "code micro F1", .a = headline_of(ja, "code micro F1"), .b = headline_of(jb, "code micro F1")};
    } else if (task == ONC_TASK_FIELDS) {
        rows[n_rows++] = (boot_row){.metric = "share of fields right", .a = NAN, .b = NAN};
    } else {
        snprintf(rname, sizeof rname, "%s F%s", onc_rouge_kind_name(o.rouge), o.rouge_stem ? " (stemmed)" : "");
        rows[n_rows++] = (boot_row){.metric = rname, .a = NAN, .b = NAN};
    }
    for (size_t k = 0; k < n_rows; k++) {
        onc_paired_metric_fn fn = boot_mean;
        if (task == ONC_TASK_CLASSIFY && k == 1) fn = boot_macro_f1;
        if (task == ONC_TASK_MULTILABEL || task == ONC_TASK_CODES) fn = boot_micro_f1;
        if ((st = onc_bootstrap_paired_metric(n, fn, &bc, o.bootstrap, o.level, o.seed, &rows[k].r, NULL, err)) != ONC_OK)
            goto done;
        if (isnan(rows[k].a)) { /* means of the per-item scores */
            double sa = 0, sb = 0;
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (!isnan(s.a[i]) && !isnan(s.b[i])) sa += s.a[i], sb += s.b[i], m++;
            rows[k].a = m ? sa / (double)m : NAN, rows[k].b = m ? sb / (double)m : NAN;
        }
    }
    boots = json_array();
    if (!boots) goto nomem;
    for (size_t k = 0; k < n_rows; k++) {
        json_t *bj = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:f,s:I,s:I}", "metric", rows[k].metric, "a", evr_num(rows[k].a),
                               "b", evr_num(rows[k].b), "difference", evr_num(rows[k].r.estimate), "ci",
                               evr_pair(rows[k].r.lo, rows[k].r.hi), "se", evr_num(rows[k].r.se), "level",
                               rows[k].r.level, "resamples", (json_int_t)rows[k].r.n_resamples, "seed",
                               (json_int_t)rows[k].r.seed);
        if (!bj || json_array_append_new(boots, bj)) ok = false;
    }

    /* Verdict from the test and the direction of the first headline difference. */
    double d = rows[0].r.estimate;
    bool significant = isfinite(pvalue) && pvalue < o.alpha;
    const char *better = !significant ? NULL : d > 0 ? "B" : d < 0 ? "A" : NULL;
    if (significant && o.alternative == ONC_ALT_GREATER && d <= 0) better = NULL;
    if (significant && o.alternative == ONC_ALT_LESS && d >= 0) better = NULL;
    char stmt[512], lo_s[32], hi_s[32], d_s[32];
    snprintf(d_s, sizeof d_s, "%+.4f", d);
    evr_fmt(lo_s, rows[0].r.lo), evr_fmt(hi_s, rows[0].r.hi);
    if (better)
        snprintf(stmt, sizeof stmt,
                 "%s (%s) is better than %s (%s) on %s: difference B - A %s (%.0f%% CI %s to %s); %s p = %.3g "
                 "(%s), significant at %g.",
                 better, better[0] == 'B' ? b->path : a->path, better[0] == 'B' ? "A" : "B",
                 better[0] == 'B' ? a->path : b->path, rows[0].metric, d_s, o.level * 100, lo_s, hi_s, test_name, pvalue,
                 onc_alternative_name(o.alternative), o.alpha);
    else
        snprintf(stmt, sizeof stmt,
                 "No significant difference between A (%s) and B (%s) on %s at %g: difference B - A %s (%.0f%% CI %s "
                 "to %s); %s p = %.3g (%s).",
                 a->path, b->path, rows[0].metric, o.alpha, d_s, o.level * 100, lo_s, hi_s, test_name, pvalue,
                 onc_alternative_name(o.alternative));
    evr_set(out, "a", json_string(a->path), &ok);
    evr_set(out, "b", json_string(b->path), &ok);
    evr_set(out, "task", json_string(onc_eval_task_name(task)), &ok);
    evr_set(out, "n_paired", json_integer((json_int_t)n), &ok);
    evr_set(out, "only_in_a", json_integer((json_int_t)pr.only_a), &ok);
    evr_set(out, "only_in_b", json_integer((json_int_t)pr.only_b), &ok);
    evr_set(out, "test", test, &ok);
    evr_set(out, "bootstrap", boots, &ok);
    test = boots = NULL; /* stolen */
    evr_set(out, "verdict",
            json_pack("{s:o,s:b,s:f,s:s}", "better", better ? json_string(better) : json_null(), "significant",
                      significant, "alpha", o.alpha, "statement", stmt),
            &ok);
    evr_set(out, "system_a", json_incref(ja), &ok);
    evr_set(out, "system_b", json_incref(jb), &ok);
    if (o.per_item) {
        json_t *items = json_array();
        for (size_t i = 0; items && i < n; i++) {
            json_t *it = json_pack("{s:s,s:o,s:o}", "id", pr.a.items[i].id, "a", evr_num(s.a[i]), "b", evr_num(s.b[i]));
            if (!it || json_array_append_new(items, it)) ok = false;
        }
        evr_set(out, "items", items, &ok);
    }
    if (!ok) goto nomem;

    if (rep) {
        char nb[3][32], cells[5][96];
        onc_report_add_meta(rep, "A (baseline)", a->path);
        onc_report_add_meta(rep, "B", b->path);
        onc_report_add_meta(rep, "task", onc_eval_task_name(task));
        snprintf(nb[0], 32, "%zu", n);
        onc_report_add_meta(rep, "paired items", nb[0]);
        if (pr.only_a || pr.only_b) {
            snprintf(nb[1], 32, "%zu only in A, %zu only in B", pr.only_a, pr.only_b);
            onc_report_add_meta(rep, "unpaired items (left out)", nb[1]);
        }
        onc_report_add_heading(rep, 2, "Verdict");
        onc_report_add_paragraph(rep, stmt);
        onc_report_add_heading(rep, 2, "Headline metrics");
        char cap[96];
        snprintf(cap, sizeof cap, "A, B and the difference B - A (%.0f%% paired bootstrap CI, %lld resamples, seed %llu)",
                 o.level * 100, (long long)o.bootstrap, (unsigned long long)o.seed);
        onc_report_table *t = onc_report_table_begin(rep, cap, 4, (const char *[]){"metric", "A", "B", "B - A"}, "lrrr");
        for (size_t k = 0; k < n_rows; k++)
            onc_report_table_row(t, (const char *[]){rows[k].metric, evr_fmt(cells[0], rows[k].a),
                                                     evr_fmt(cells[1], rows[k].b),
                                                     evr_fmt_ci(cells[2], rows[k].r.estimate, rows[k].r.lo, rows[k].r.hi)});
        onc_report_table_end(t);
        onc_report_add_heading(rep, 2, "Test");
        char para[320];
        snprintf(para, sizeof para, "%s on the per-item score (%s), %s: p = %.4g. %s.", test_name, per_item_name(task),
                 onc_alternative_name(o.alternative), pvalue, test_detail);
        onc_report_add_paragraph(rep, para);
        double *diff = malloc(n * sizeof *diff);
        if (diff) {
            for (size_t i = 0; i < n; i++) diff[i] = s.b[i] - s.a[i];
            onc_report_paired pp = {.caption = "Per-item differences B - A",
                                    .a_name = "A",
                                    .b_name = "B",
                                    .metric = per_item_name(task),
                                    .n = n,
                                    .diff = diff,
                                    .ci_level = o.level, /* rows[0] is the mean of diff */
                                    .ci_lo = rows[0].r.lo,
                                    .ci_hi = rows[0].r.hi,
                                    .test_name = test_name,
                                    .p_value = pvalue};
            onc_report_add_paired(rep, &pp);
            free(diff);
        }
        add_timecost_table(rep, ja, jb);
        if (task != ONC_TASK_CLASSIFY) {
            size_t ns[2] = {n, n};
            onc_report_histogram h = {.caption = "Per-item scores of A and B",
                                      .x_title = per_item_name(task),
                                      .n_series = 2,
                                      .series = (const char *[]){"A", "B"},
                                      .values = (const double *const[]){s.a, s.b},
                                      .n_values = ns,
                                      .n_bins = 20,
                                      .range_lo = 0,
                                      .range_hi = 1,
                                      .layout = ONC_REPORT_HIST_OVERLAY};
            onc_report_add_histogram(rep, &h);
        }
    }
    *json = out;
    out = NULL;
    st = ONC_OK;
    goto done;
nomem:
    st = onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
done:
    json_decref(out);
    json_decref(test), json_decref(boots);
    json_decref(ja), json_decref(jb);
    scores_free(&s);
    free(cnt);
    free(pr.a.items), free(pr.b.items);
    return st;
}
