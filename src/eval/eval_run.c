/* eval_run.c — `oncolm eval FILE`: the tables of one prediction file. Picks
 * the task, runs its evaluator (eval_run_labels.c, eval_run_text.c) on all
 * items and on each group, and adds time and cost. Contracts in
 * oncolm/eval_run.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"
#include "eval_run_internal.h"
#include "oncolm/stats.h"

void onc_eval_opts_default(onc_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->task = ONC_TASK_AUTO;
    o->bootstrap = 2000;
    o->seed = 42;
    o->level = 0.95;
    o->alpha = 0.05;
    o->alternative = ONC_ALT_TWO_SIDED;
    o->rouge = ONC_ROUGE_KIND_L;
    o->rouge_stem = true;
    o->mcnemar_exact = true;
}

static const char *const rouge_kind_names[] = {"rouge1", "rouge2", "rougeL", "rougeLsum"};
const char *onc_rouge_kind_name(onc_rouge_kind k) { return (unsigned)k < 4 ? rouge_kind_names[k] : "?"; }
int onc_rouge_kind_parse(const char *s) {
    for (int i = 0; i < 4; i++)
        if (strcmp(s, rouge_kind_names[i]) == 0) return i;
    return -1;
}

/* ---- small helpers ------------------------------------------------------------------ */

json_t *evr_num(double x) { return isfinite(x) ? json_real(x) : json_null(); }
json_t *evr_score(onc_cls_score s) { return evr_num(s.value); }
json_t *evr_pair(double lo, double hi) { return json_pack("[oo]", evr_num(lo), evr_num(hi)); }

void evr_set(json_t *obj, const char *key, json_t *val, bool *ok) {
    if (!val || json_object_set_new(obj, key, val) != 0) *ok = false;
}

const char *evr_fmt(char *buf, double x) {
    if (!isfinite(x))
        strcpy(buf, "n/a");
    else
        snprintf(buf, 32, "%.4f", x);
    return buf;
}

const char *evr_fmt_score(char *buf, onc_cls_score s) { return s.defined ? evr_fmt(buf, s.value) : strcpy(buf, "n/a"); }

const char *evr_fmt_ci(char *buf, double x, double lo, double hi) {
    char a[32], b[32], c[32];
    if (!isfinite(lo) || !isfinite(hi))
        snprintf(buf, 96, "%s", evr_fmt(a, x));
    else
        snprintf(buf, 96, "%s (%s\u2013%s)", evr_fmt(a, x), evr_fmt(b, lo), evr_fmt(c, hi));
    return buf;
}

const char *evr_label(const onc_pred_value *v) { return v->kind == ONC_PRED_LABEL ? v->label : NULL; }

onc_label_set evr_set_of(const onc_pred_value *v) {
    onc_label_set s = {NULL, 0};
    if (v->kind == ONC_PRED_SET) s.labels = (const char *const *)v->items, s.n = v->n_items;
    return s;
}

/* ---- groups ----------------------------------------------------------------------------- */

void evr_groups_free(evr_groups *g) {
    free(g->names);
    free(g->start);
    free(g->order);
    memset(g, 0, sizeof *g);
}

onc_status evr_groups_build(const onc_predictions *p, evr_groups *g, onc_error *err) {
    memset(g, 0, sizeof *g);
    ir_strtab tab = {0};
    int64_t *gid = malloc((p->n ? p->n : 1) * sizeof *gid);
    if (!gid) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", p->path);
    size_t in_groups = 0;
    for (size_t i = 0; i < p->n; i++) {
        gid[i] = -1;
        if (!p->items[i].group) continue;
        if ((gid[i] = ir_strtab_intern(&tab, p->items[i].group, NULL)) < 0) goto nomem;
        in_groups++;
    }
    g->n_groups = (size_t)tab.n;
    g->names = malloc((g->n_groups + 1) * sizeof *g->names);
    g->start = calloc(g->n_groups + 2, sizeof *g->start);
    g->order = malloc((in_groups + 1) * sizeof *g->order);
    if (!g->names || !g->start || !g->order) goto nomem;
    for (size_t k = 0; k < g->n_groups; k++) g->names[k] = tab.strs[k];
    for (size_t i = 0; i < p->n; i++)
        if (gid[i] >= 0) g->start[gid[i] + 2]++;
    for (size_t k = 2; k <= g->n_groups + 1; k++) g->start[k] += g->start[k - 1];
    for (size_t i = 0; i < p->n; i++)
        if (gid[i] >= 0) g->order[g->start[gid[i] + 1]++] = i;
    ir_strtab_free(&tab);
    free(gid);
    return ONC_OK;
nomem:
    ir_strtab_free(&tab);
    free(gid);
    evr_groups_free(g);
    return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", p->path);
}

/* ---- dispatch -------------------------------------------------------------------------- */

static onc_status run_task(onc_eval_task task, const onc_predictions *p, const onc_eval_opts *o, json_t *out,
                           onc_report *rep, onc_error *err) {
    switch (task) {
    case ONC_TASK_CLASSIFY: return evr_classify(p, o, out, rep, err);
    case ONC_TASK_MULTILABEL: return evr_multilabel(p, o, out, rep, err);
    case ONC_TASK_FIELDS: return evr_fields(p, o, out, rep, err);
    case ONC_TASK_CODES: return evr_codes(p, o, out, rep, err);
    case ONC_TASK_TEXT: return evr_text(p, o, out, rep, err);
    default: return onc_error_set(err, ONC_ERR_INVALID, "eval: no task");
    }
}

/* Per-group headline numbers: the task's evaluator on each group's items
 * (no report), then one table and one bar chart of the headline. */
static onc_status run_groups(onc_eval_task task, const onc_predictions *p, const onc_eval_opts *o, json_t *out,
                             onc_report *rep, onc_error *err) {
    evr_groups g;
    onc_status st = evr_groups_build(p, &g, err);
    if (st != ONC_OK || g.n_groups == 0) {
        evr_groups_free(&g);
        return st;
    }
    json_t *arr = json_array();
    onc_pred_item *sub_items = malloc((p->n ? p->n : 1) * sizeof *sub_items);
    json_t **heads = calloc(g.n_groups, sizeof *heads);
    bool ok = arr && sub_items && heads;
    for (size_t k = 0; ok && k < g.n_groups; k++) {
        size_t m = 0;
        for (size_t j = g.start[k]; j < g.start[k + 1]; j++) sub_items[m++] = p->items[g.order[j]];
        onc_predictions sub = {sub_items, m, p->path};
        json_t *gj = json_object();
        if (!gj) {
            ok = false;
            break;
        }
        evr_set(gj, "group", json_string(g.names[k]), &ok);
        evr_set(gj, "n", json_integer((json_int_t)m), &ok);
        if ((st = run_task(task, &sub, o, gj, NULL, err)) != ONC_OK) {
            onc_error_prefix(err, "group \"%s\"", g.names[k]);
            json_decref(gj);
            break;
        }
        heads[k] = json_object_get(gj, "headline");
        if (json_array_append_new(arr, gj) != 0) ok = false;
    }
    if (st == ONC_OK && ok) evr_set(out, "groups", json_incref(arr), &ok);
    if (st == ONC_OK && ok && rep) {
        /* Table: group, n, then every headline number. */
        json_t *h0 = heads[0];
        size_t nh = json_object_size(h0);
        const char **hdr = calloc(nh + 2, sizeof *hdr);
        const char **cells = calloc(nh + 2, sizeof *cells);
        char (*bufs)[32] = calloc(nh + 2, sizeof *bufs);
        char *align = calloc(nh + 3, 1);
        double *vals = calloc(g.n_groups, sizeof *vals);
        if (!hdr || !cells || !bufs || !align || !vals) ok = false;
        if (ok) {
            hdr[0] = "group", hdr[1] = "items", align[0] = 'l', align[1] = 'r';
            size_t c = 2;
            const char *key;
            json_t *v;
            json_object_foreach(h0, key, v) hdr[c] = key, align[c] = 'r', c++;
            onc_report_add_heading(rep, 2, "By group");
            onc_report_table *t = onc_report_table_begin(rep, "Headline metrics per group", nh + 2, hdr, align);
            for (size_t k = 0; k < g.n_groups; k++) {
                cells[0] = g.names[k];
                snprintf(bufs[1], 32, "%zu", g.start[k + 1] - g.start[k]);
                cells[1] = bufs[1];
                c = 2;
                json_object_foreach(h0, key, v) {
                    json_t *x = json_object_get(heads[k], key);
                    cells[c] = evr_fmt(bufs[c], json_is_number(x) ? json_number_value(x) : NAN);
                    c++;
                }
                onc_report_table_row(t, cells);
            }
            onc_report_table_end(t);
            /* Bars of the first headline number. */
            const char *first = hdr[2];
            for (size_t k = 0; k < g.n_groups; k++) {
                json_t *x = json_object_get(heads[k], first);
                vals[k] = json_is_number(x) ? json_number_value(x) : NAN;
            }
            onc_report_bars b = {0};
            char cap[160];
            snprintf(cap, sizeof cap, "%s per group", first);
            b.caption = cap;
            b.x_title = "group";
            b.y_title = first;
            b.n_categories = g.n_groups;
            b.n_series = 1;
            b.categories = g.names;
            b.series = &first;
            b.values = vals;
            b.y_range = ONC_REPORT_RANGE_UNIT;
            onc_report_add_bars(rep, &b);
        }
        free(hdr), free(cells), free(bufs), free(align), free(vals);
    }
    json_decref(arr);
    free(sub_items);
    free(heads);
    evr_groups_free(&g);
    if (st == ONC_OK && !ok) st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", p->path);
    return st;
}

/* Time and cost: JSON "time" object and a report table, when any item has
 * a time or token count (or a price was given). */
static onc_status add_timecost(const onc_predictions *p, const onc_eval_opts *o, json_t *out, onc_report *rep,
                               onc_error *err) {
    onc_timecost tc;
    onc_timecost_compute(p, o->price, &tc);
    bool any = tc.n_timed > 0 || tc.tokens_in > 0 || tc.tokens_out > 0 || o->price;
    if (!any) return ONC_OK;
    bool ok = true;
    json_t *t = json_object();
    if (!t) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    evr_set(t, "items", json_integer(tc.n), &ok);
    evr_set(t, "items_timed", json_integer(tc.n_timed), &ok);
    evr_set(t, "total_s", evr_num(tc.time_total_s), &ok);
    evr_set(t, "mean_s", evr_num(tc.time_mean_s), &ok);
    evr_set(t, "median_s", evr_num(tc.time_median_s), &ok);
    evr_set(t, "p95_s", evr_num(tc.time_p95_s), &ok);
    evr_set(t, "max_s", evr_num(tc.time_max_s), &ok);
    evr_set(t, "tokens_in", json_integer(tc.tokens_in), &ok);
    evr_set(t, "tokens_out", json_integer(tc.tokens_out), &ok);
    evr_set(t, "tokens_out_per_s", evr_num(tc.tokens_out_per_s), &ok);
    if (o->price) {
        evr_set(t, "price", json_string(o->price->name), &ok);
        evr_set(t, "currency", json_string(o->currency ? o->currency : ""), &ok);
        evr_set(t, "cost", evr_num(tc.cost), &ok);
        evr_set(t, "cost_per_item", evr_num(tc.cost_per_item), &ok);
    }
    evr_set(out, "time", t, &ok);
    if (!ok) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    if (rep) {
        char b[8][64];
        onc_report_add_heading(rep, 2, "Time and cost");
        onc_report_table *tb = onc_report_table_begin(rep, "Time, tokens and cost", 2,
                                                      (const char *[]){"quantity", "value"}, "lr");
        snprintf(b[0], 64, "%lld of %lld", (long long)tc.n_timed, (long long)tc.n);
        onc_report_table_row(tb, (const char *[]){"items with a time", b[0]});
        snprintf(b[1], 64, "%.2f s", tc.time_total_s);
        onc_report_table_row(tb, (const char *[]){"total wall time", b[1]});
        snprintf(b[2], 64, "%.3f / %.3f / %.3f s", tc.time_mean_s, tc.time_median_s, tc.time_p95_s);
        onc_report_table_row(tb, (const char *[]){"per item: mean / median / p95", tc.n_timed ? b[2] : "n/a"});
        snprintf(b[3], 64, "%lld / %lld", (long long)tc.tokens_in, (long long)tc.tokens_out);
        onc_report_table_row(tb, (const char *[]){"tokens in / out", b[3]});
        snprintf(b[4], 64, "%.1f", tc.tokens_out_per_s);
        onc_report_table_row(tb, (const char *[]){"output tokens per second", isfinite(tc.tokens_out_per_s) ? b[4] : "n/a"});
        if (o->price) {
            snprintf(b[5], 64, "%.4f %s (%s)", tc.cost, o->currency ? o->currency : "", o->price->name);
            onc_report_table_row(tb, (const char *[]){"cost", b[5]});
            snprintf(b[6], 64, "%.6f %s", tc.cost_per_item, o->currency ? o->currency : "");
            onc_report_table_row(tb, (const char *[]){"cost per item", b[6]});
        }
        onc_report_table_end(tb);
    }
    return ONC_OK;
}

onc_status onc_eval_predictions(const onc_predictions *p, const onc_eval_opts *opts, json_t **json,
                                onc_report *report, onc_eval_task *task_used, onc_error *err) {
    onc_eval_opts defaults;
    if (!opts) onc_eval_opts_default(&defaults), opts = &defaults;
    *json = NULL;
    onc_eval_task task = opts->task;
    onc_status st = ONC_OK;
    if (task == ONC_TASK_AUTO && (st = onc_pred_guess_task(p, &task, err)) != ONC_OK) return st;
    if ((st = onc_pred_check_task(p, task, err)) != ONC_OK) return st;
    if (task_used) *task_used = task;
    json_t *out = json_object();
    bool ok = out != NULL;
    if (ok) {
        evr_set(out, "file", json_string(p->path), &ok);
        evr_set(out, "task", json_string(onc_eval_task_name(task)), &ok);
        evr_set(out, "n", json_integer((json_int_t)p->n), &ok);
    }
    if (!ok) {
        json_decref(out);
        return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    }
    if (report) {
        onc_report_add_meta(report, "predictions", p->path);
        onc_report_add_meta(report, "task", onc_eval_task_name(task));
        char n[32];
        snprintf(n, sizeof n, "%zu", p->n);
        onc_report_add_meta(report, "items", n);
    }
    if ((st = run_task(task, p, opts, out, report, err)) == ONC_OK &&
        (st = run_groups(task, p, opts, out, report, err)) == ONC_OK)
        st = add_timecost(p, opts, out, report, err);
    if (st != ONC_OK) {
        json_decref(out);
        return st;
    }
    *json = out;
    return ONC_OK;
}
