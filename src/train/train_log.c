/* train_log.c — the loss log of a training run and its report (see
 * train_common.h). */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/fileio.h"
#include "oncolm/report.h"
#include "train/train_common.h"

bool train_log_init(train_log *l, int64_t cap) {
    memset(l, 0, sizeof *l);
    l->cap = cap > 0 ? cap : 1;
    const size_t c = (size_t)l->cap;
    l->step = calloc(c, sizeof *l->step);
    l->tokens = calloc(c, sizeof *l->tokens);
    l->epoch = calloc(c, sizeof(double));
    l->loss = calloc(c, sizeof(double));
    l->lr = calloc(c, sizeof(double));
    l->gnorm = calloc(c, sizeof(double));
    l->val = calloc(c, sizeof(double));
    l->metric = calloc(c, sizeof(double));
    return l->step && l->tokens && l->epoch && l->loss && l->lr && l->gnorm && l->val && l->metric;
}

void train_log_free(train_log *l) {
    free(l->step), free(l->tokens), free(l->epoch), free(l->loss), free(l->lr), free(l->gnorm), free(l->val);
    free(l->metric);
    memset(l, 0, sizeof *l);
}

void train_log_add(train_log *l, int64_t step, double epoch, double loss, double lr, double gnorm, int64_t tokens) {
    if (l->n == l->cap) return;
    const int64_t i = l->n++;
    l->step[i] = step, l->epoch[i] = epoch, l->loss[i] = loss, l->lr[i] = lr, l->gnorm[i] = gnorm;
    l->tokens[i] = tokens, l->val[i] = NAN, l->metric[i] = NAN;
}

void train_log_set_val(train_log *l, int64_t step, double val_loss, double metric) {
    if (l->n > 0 && l->step[l->n - 1] == step) l->val[l->n - 1] = val_loss, l->metric[l->n - 1] = metric;
}

#define N_F64_COLS 6
static const char *const f64_names[N_F64_COLS] = {"epoch", "loss", "lr", "grad_norm", "val_loss", "val_metric"};

static double **f64_cols(const train_log *l, double *cols[N_F64_COLS]) {
    cols[0] = l->epoch, cols[1] = l->loss, cols[2] = l->lr, cols[3] = l->gnorm, cols[4] = l->val;
    cols[5] = l->metric;
    return cols;
}

onc_status train_log_export(const train_log *l, onc_gguf_writer *w, const char *prefix) {
    const uint64_t n = (uint64_t)l->n;
    char key[96];
    snprintf(key, sizeof key, "%s.log.step", prefix);
    onc_status st = onc_gguf_set_arr(w, key, ONC_GGUF_INT64, l->step, n);
    snprintf(key, sizeof key, "%s.log.tokens", prefix);
    if (st == ONC_OK) st = onc_gguf_set_arr(w, key, ONC_GGUF_INT64, l->tokens, n);
    double *cols[N_F64_COLS];
    f64_cols(l, cols);
    for (int k = 0; k < N_F64_COLS && st == ONC_OK; k++) {
        snprintf(key, sizeof key, "%s.log.%s", prefix, f64_names[k]);
        st = onc_gguf_set_arr(w, key, ONC_GGUF_FLOAT64, cols[k], n);
    }
    return st;
}

/* Copy array key `name` of type t and at least n elements into dst. */
static onc_status read_arr(const onc_gguf *g, const char *name, onc_gguf_type t, void *dst, int64_t n,
                           onc_error *err) {
    const int64_t k = onc_gguf_find_key(g, name);
    if (k < 0 || onc_gguf_kv_type(g, k) != ONC_GGUF_ARRAY || onc_gguf_arr_type(g, k) != t ||
        onc_gguf_arr_n(g, k) < (uint64_t)n)
        return onc_error_set(err, ONC_ERR_FORMAT, "key %s missing or too short", name);
    if (n) memcpy(dst, onc_gguf_arr_data(g, k), (size_t)n * 8);
    return ONC_OK;
}

onc_status train_log_import(train_log *l, const onc_gguf *g, const char *prefix, int64_t step, onc_error *err) {
    char key[96];
    snprintf(key, sizeof key, "%s.log.step", prefix);
    const int64_t k = onc_gguf_find_key(g, key);
    if (k < 0 || onc_gguf_kv_type(g, k) != ONC_GGUF_ARRAY)
        return onc_error_set(err, ONC_ERR_FORMAT, "key %s missing", key);
    int64_t n = (int64_t)onc_gguf_arr_n(g, k);
    if (n > l->cap) return onc_error_set(err, ONC_ERR_FORMAT, "the loss log is longer than the run");
    onc_status st = read_arr(g, key, ONC_GGUF_INT64, l->step, n, err);
    snprintf(key, sizeof key, "%s.log.tokens", prefix);
    if (st == ONC_OK) st = read_arr(g, key, ONC_GGUF_INT64, l->tokens, n, err);
    double *cols[N_F64_COLS];
    f64_cols(l, cols);
    for (int c = 0; c < N_F64_COLS && st == ONC_OK; c++) {
        snprintf(key, sizeof key, "%s.log.%s", prefix, f64_names[c]);
        st = read_arr(g, key, ONC_GGUF_FLOAT64, cols[c], n, err);
    }
    if (st != ONC_OK) return st;
    while (n > 0 && l->step[n - 1] > step) n--;
    l->n = n;
    return ONC_OK;
}

/* A JSON number, or null for NaN / infinity. */
static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* %.10g, or empty for NaN (CSV). */
static int csv_num(char *buf, size_t cap, double v) { return isfinite(v) ? snprintf(buf, cap, "%.10g", v) : (buf[0] = 0, 0); }

onc_status train_log_write(const train_log *l, const char *csv_path, const char *json_path, const char *metric_name,
                           onc_error *err) {
    /* CSV: a fixed-width line per row, so one allocation */
    const size_t line_cap = 8 * 32 + 8;
    char *csv = malloc((size_t)(l->n + 1) * line_cap + 64);
    json_t *root = json_object(), *rows = json_array();
    onc_status st = ONC_OK;
    if (!csv || !root || !rows || json_object_set_new(root, "steps", rows) != 0) {
        if (!root) json_decref(rows);
        st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", csv_path);
        goto done;
    }
    if (metric_name) json_object_set_new(root, "metric", json_string(metric_name));
    size_t len = (size_t)snprintf(csv, line_cap + 64, "step,epoch,loss,lr,grad_norm,tokens,val_loss%s\n",
                                  metric_name ? ",val_metric" : "");
    for (int64_t i = 0; i < l->n; i++) {
        char c[7][32];
        csv_num(c[0], 32, l->epoch[i]), csv_num(c[1], 32, l->loss[i]), csv_num(c[2], 32, l->lr[i]);
        csv_num(c[3], 32, l->gnorm[i]), csv_num(c[4], 32, l->val[i]), csv_num(c[5], 32, l->metric[i]);
        len += (size_t)snprintf(csv + len, line_cap, "%lld,%s,%s,%s,%s,%lld,%s%s%s\n", (long long)l->step[i], c[0],
                                c[1], c[2], c[3], (long long)l->tokens[i], c[4], metric_name ? "," : "",
                                metric_name ? c[5] : "");
        json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:I, s:o}", "step", (json_int_t)l->step[i], "epoch",
                              jnum(l->epoch[i]), "loss", jnum(l->loss[i]), "lr", jnum(l->lr[i]), "grad_norm",
                              jnum(l->gnorm[i]), "tokens", (json_int_t)l->tokens[i], "val_loss", jnum(l->val[i]));
        if (o && metric_name) json_object_set_new(o, "val_metric", jnum(l->metric[i]));
        if (!o || json_array_append_new(rows, o) != 0) {
            st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", json_path);
            goto done;
        }
    }
    char *js = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
    if (!js) {
        st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", json_path);
        goto done;
    }
    st = onc_write_file_atomic(csv_path, csv, len, err);
    if (st == ONC_OK) {
        const size_t jl = strlen(js);
        char *withnl = realloc(js, jl + 2);
        if (withnl) js = withnl, js[jl] = '\n', js[jl + 1] = 0;
        st = onc_write_file_atomic(json_path, js, strlen(js), err);
    }
    free(js);
done:
    free(csv);
    json_decref(root);
    return st;
}

/* One curve series from the rows where y is finite (all rows when all_rows). */
static size_t series(const train_log *l, const double *y, bool all_rows, double *xs, double *ys) {
    size_t n = 0;
    for (int64_t i = 0; i < l->n; i++)
        if (all_rows || isfinite(y[i])) xs[n] = (double)l->step[i], ys[n++] = y[i];
    return n;
}

onc_status train_log_report(const train_log *l, const train_report *info, const char *md_path, const char *html_path,
                            onc_error *err) {
    onc_report *r = onc_report_new(info->title);
    if (!r) return onc_error_set(err, ONC_ERR_NOMEM, "report: out of memory");
    onc_report_add_meta(r, "model", info->model);
    onc_report_add_meta(r, "data", info->data);
    onc_report_add_heading(r, 2, "Settings");
    const char *hdr[] = {"setting", "value"};
    onc_report_table *t = onc_report_table_begin(r, NULL, 2, hdr, "lr");
    for (size_t i = 0; i < info->n_settings; i++) onc_report_table_row(t, info->settings[i]);
    onc_report_table_end(t);
    onc_report_add_heading(r, 2, "Results");
    if (info->results) onc_report_add_paragraph(r, info->results);
    const size_t cap = (size_t)(l->n ? l->n : 1);
    double *buf = malloc(6 * cap * sizeof *buf);
    if (buf) {
        double *tx = buf, *ty = buf + cap, *vx = buf + 2 * cap, *vy = buf + 3 * cap, *mx = buf + 4 * cap,
               *my = buf + 5 * cap;
        const size_t nt = series(l, l->loss, true, tx, ty), nv = series(l, l->val, false, vx, vy),
                     nm = series(l, l->metric, false, mx, my);
        char cap1[160];
        snprintf(cap1, sizeof cap1, "Loss (%s) by optimizer step", info->loss_unit ? info->loss_unit : "nats");
        const char *names[] = {"training loss", "validation loss"};
        const size_t np[] = {nt, nv};
        const double *x[] = {tx, vx}, *y[] = {ty, vy};
        onc_report_lines lc = {.caption = cap1, .x_title = "step", .y_title = "loss", .n_series = nv ? 2 : 1,
                               .series = names, .n_points = np, .x = x, .y = y, .decimals = 4};
        onc_report_add_lines(r, &lc);
        if (info->metric_name && nm) {
            char cap2[160];
            snprintf(cap2, sizeof cap2, "Validation %s by optimizer step", info->metric_name);
            const char *mn[] = {info->metric_name};
            const size_t mp[] = {nm};
            const double *mxs[] = {mx}, *mys[] = {my};
            onc_report_lines mc = {.caption = cap2, .x_title = "step", .y_title = info->metric_name, .n_series = 1,
                                   .series = mn, .n_points = mp, .x = mxs, .y = mys, .decimals = 4};
            onc_report_add_lines(r, &mc);
        }
    }
    free(buf);
    /* the numbers: up to 40 evenly spaced rows, plus every validation */
    const bool has_metric = info->metric_name != NULL;
    const char *h2[] = {"step", "epoch", "training loss", "validation loss", "learning rate", "gradient norm",
                        has_metric ? info->metric_name : ""};
    const int ncol = has_metric ? 7 : 6;
    t = onc_report_table_begin(r, "Loss by step", (size_t)ncol, h2, has_metric ? "rrrrrrr" : "rrrrrr");
    const int64_t every = l->n > 40 ? (l->n + 39) / 40 : 1;
    for (int64_t i = 0; i < l->n; i++) {
        if (i % every && i + 1 < l->n && !isfinite(l->val[i])) continue;
        char c[7][32];
        snprintf(c[0], 32, "%lld", (long long)l->step[i]);
        snprintf(c[1], 32, "%.2f", l->epoch[i]);
        snprintf(c[2], 32, "%.4f", l->loss[i]);
        if (isfinite(l->val[i])) snprintf(c[3], 32, "%.4f", l->val[i]);
        else c[3][0] = 0;
        snprintf(c[4], 32, "%.3g", l->lr[i]);
        snprintf(c[5], 32, "%.3g", l->gnorm[i]);
        if (isfinite(l->metric[i])) snprintf(c[6], 32, "%.4f", l->metric[i]);
        else c[6][0] = 0;
        onc_report_table_row(t, (const char *[]){c[0], c[1], c[2], c[3], c[4], c[5], c[6]});
    }
    onc_report_table_end(t);
    onc_status st = onc_report_write_markdown(r, md_path, err);
    if (st == ONC_OK) st = onc_report_write_html(r, html_path, err);
    onc_report_free(r);
    return st;
}
