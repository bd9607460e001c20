/* finetune_log.c — see finetune_log.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/fileio.h"
#include "oncolm/report.h"
#include "train/finetune_log.h"

bool ft_log_init(ft_log *l, int64_t cap) {
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
    return l->step && l->tokens && l->epoch && l->loss && l->lr && l->gnorm && l->val;
}

void ft_log_free(ft_log *l) {
    free(l->step), free(l->tokens), free(l->epoch), free(l->loss), free(l->lr), free(l->gnorm), free(l->val);
    memset(l, 0, sizeof *l);
}

void ft_log_add(ft_log *l, int64_t step, double epoch, double loss, double lr, double gnorm, int64_t tokens) {
    if (l->n == l->cap) return;
    const int64_t i = l->n++;
    l->step[i] = step, l->epoch[i] = epoch, l->loss[i] = loss, l->lr[i] = lr, l->gnorm[i] = gnorm;
    l->tokens[i] = tokens, l->val[i] = NAN;
}

void ft_log_set_val(ft_log *l, int64_t step, double v) {
    if (l->n > 0 && l->step[l->n - 1] == step) l->val[l->n - 1] = v;
}

onc_status ft_log_export(const ft_log *l, onc_gguf_writer *w) {
    const uint64_t n = (uint64_t)l->n;
    onc_status st = onc_gguf_set_arr(w, "finetune.log.step", ONC_GGUF_INT64, l->step, n);
    if (st == ONC_OK) st = onc_gguf_set_arr(w, "finetune.log.tokens", ONC_GGUF_INT64, l->tokens, n);
    const char *names[] = {"epoch", "loss", "lr", "grad_norm", "val_loss"};
    const double *cols[] = {l->epoch, l->loss, l->lr, l->gnorm, l->val};
    for (int k = 0; k < 5 && st == ONC_OK; k++) {
        char key[64];
        snprintf(key, sizeof key, "finetune.log.%s", names[k]);
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

onc_status ft_log_import(ft_log *l, const onc_gguf *g, int64_t step, onc_error *err) {
    const int64_t k = onc_gguf_find_key(g, "finetune.log.step");
    if (k < 0 || onc_gguf_kv_type(g, k) != ONC_GGUF_ARRAY)
        return onc_error_set(err, ONC_ERR_FORMAT, "key finetune.log.step missing");
    int64_t n = (int64_t)onc_gguf_arr_n(g, k);
    if (n > l->cap) return onc_error_set(err, ONC_ERR_FORMAT, "the loss log is longer than the run");
    onc_status st = read_arr(g, "finetune.log.step", ONC_GGUF_INT64, l->step, n, err);
    if (st == ONC_OK) st = read_arr(g, "finetune.log.tokens", ONC_GGUF_INT64, l->tokens, n, err);
    const char *names[] = {"finetune.log.epoch", "finetune.log.loss", "finetune.log.lr", "finetune.log.grad_norm",
                           "finetune.log.val_loss"};
    double *cols[] = {l->epoch, l->loss, l->lr, l->gnorm, l->val};
    for (int c = 0; c < 5 && st == ONC_OK; c++) st = read_arr(g, names[c], ONC_GGUF_FLOAT64, cols[c], n, err);
    if (st != ONC_OK) return st;
    while (n > 0 && l->step[n - 1] > step) n--;
    l->n = n;
    return ONC_OK;
}

/* Growable text buffer for the CSV / JSON files. */
typedef struct tbuf {
    char *p;
    size_t len, cap;
    bool oom;
} tbuf;

static void tprintf(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(tbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        const int k = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if (b->p && b->len + (size_t)k < b->cap) {
            b->len += (size_t)k;
            return;
        }
        const size_t nc = (b->cap + (size_t)k + 1) * 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np, b->cap = nc;
    }
}

/* %.17g, or null / empty for NaN. */
static void num(tbuf *b, double v, bool json) {
    if (isfinite(v)) tprintf(b, "%.10g", v);
    else if (json) tprintf(b, "null");
}

onc_status ft_log_write(const ft_log *l, const char *csv_path, const char *json_path, onc_error *err) {
    tbuf c = {0}, j = {0};
    tprintf(&c, "step,epoch,loss,lr,grad_norm,tokens,val_loss\n");
    tprintf(&j, "{\"steps\": [\n");
    for (int64_t i = 0; i < l->n; i++) {
        tprintf(&c, "%lld,", (long long)l->step[i]);
        tprintf(&j, "  {\"step\": %lld, \"epoch\": ", (long long)l->step[i]);
        const double v[] = {l->epoch[i], l->loss[i], l->lr[i], l->gnorm[i]};
        const char *jk[] = {", \"loss\": ", ", \"lr\": ", ", \"grad_norm\": ", ""};
        for (int k = 0; k < 4; k++) {
            num(&c, v[k], false), tprintf(&c, ",");
            num(&j, v[k], true), tprintf(&j, "%s", jk[k]);
        }
        tprintf(&c, "%lld,", (long long)l->tokens[i]);
        num(&c, l->val[i], false);
        tprintf(&c, "\n");
        tprintf(&j, ", \"tokens\": %lld, \"val_loss\": ", (long long)l->tokens[i]);
        num(&j, l->val[i], true);
        tprintf(&j, "}%s\n", i + 1 < l->n ? "," : "");
    }
    tprintf(&j, "]}\n");
    onc_status st = c.oom || j.oom ? onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", csv_path) : ONC_OK;
    if (st == ONC_OK) st = onc_write_file_atomic(csv_path, c.p, c.len, err);
    if (st == ONC_OK) st = onc_write_file_atomic(json_path, j.p, j.len, err);
    free(c.p);
    free(j.p);
    return st;
}

onc_status ft_log_report(const ft_log *l, const onc_finetune_params *p, const onc_lora *lora, size_t n_train,
                         size_t n_val, double best_val, int64_t best_step, const char *md_path, const char *html_path,
                         onc_error *err) {
    onc_report *r = onc_report_new("LoRA fine-tuning");
    if (!r) return onc_error_set(err, ONC_ERR_NOMEM, "report: out of memory");
    onc_report_add_meta(r, "model", p->model_path);
    onc_report_add_meta(r, "data", p->data_path);
    char a[128], b[128], mods[96];
    onc_report_add_heading(r, 2, "Settings");
    const char *hdr[] = {"setting", "value"};
    onc_report_table *t = onc_report_table_begin(r, NULL, 2, hdr, "lr");
#define ROW(k, ...)                                                                                                    \
    snprintf(b, sizeof b, __VA_ARGS__);                                                                                \
    onc_report_table_row(t, (const char *[]){k, b})
    ROW("LoRA", "rank %lld, alpha %g%s, dropout %g, scale %g", (long long)lora->rank, lora->alpha,
        lora->rslora ? " (rsLoRA)" : "", lora->dropout, onc_lora_scale(lora));
    ROW("modules", "%s (%lld trainable parameters)", onc_lora_modules_name(lora->modules, mods, sizeof mods),
        (long long)onc_lora_n_params(lora));
    ROW("learning rate", "%g, %s schedule, warmup %g of the steps%s", p->lr, onc_lr_schedule_name(p->schedule),
        p->warmup_ratio, p->warmup_steps > 0 ? " (or the steps given)" : "");
    ROW("batches", "%d example(s) per micro-batch%s, %d micro-batch(es) per step", p->batch_size,
        p->packing ? " (packed)" : "", p->grad_accum);
    ROW("optimizer", "AdamW, weight decay %g, gradient clipping at %g", p->weight_decay, p->max_grad_norm);
    ROW("data", "%zu training / %zu validation examples, at most %d tokens", n_train, n_val, p->max_len);
    ROW("seed", "%llu", (unsigned long long)p->seed);
    onc_report_table_end(t);
    onc_report_add_heading(r, 2, "Results");
    if (l->n) {
        snprintf(a, sizeof a, "%lld steps; last training loss %.4f", (long long)l->step[l->n - 1], l->loss[l->n - 1]);
        if (isfinite(best_val))
            snprintf(a + strlen(a), sizeof a - strlen(a), "; best validation loss %.4f at step %lld", best_val,
                     (long long)best_step);
        onc_report_add_paragraph(r, a);
    }
    /* the curves */
    double *xs = malloc((size_t)(l->n ? l->n : 1) * sizeof *xs), *vx = malloc((size_t)(l->n ? l->n : 1) * sizeof *vx),
           *vy = malloc((size_t)(l->n ? l->n : 1) * sizeof *vy);
    if (xs && vx && vy) {
        size_t nv = 0;
        for (int64_t i = 0; i < l->n; i++) {
            xs[i] = (double)l->step[i];
            if (isfinite(l->val[i])) vx[nv] = xs[i], vy[nv++] = l->val[i];
        }
        const char *names[] = {"training loss", "validation loss"};
        const size_t np[] = {(size_t)l->n, nv};
        const double *x[] = {xs, vx}, *y[] = {l->loss, vy};
        onc_report_lines lc = {.caption = "Loss (nats per trained token) by optimizer step",
                               .x_title = "step",
                               .y_title = "loss",
                               .n_series = nv ? 2 : 1,
                               .series = names,
                               .n_points = np,
                               .x = x,
                               .y = y,
                               .decimals = 4};
        onc_report_add_lines(r, &lc);
    }
    free(xs), free(vx), free(vy);
    /* the numbers: up to 40 evenly spaced rows */
    const char *h2[] = {"step", "epoch", "training loss", "validation loss", "learning rate", "gradient norm"};
    t = onc_report_table_begin(r, "Loss by step", 6, h2, "rrrrrr");
    const int64_t every = l->n > 40 ? (l->n + 39) / 40 : 1;
    for (int64_t i = 0; i < l->n; i++) {
        if (i % every && i + 1 < l->n && !isfinite(l->val[i])) continue;
        char c[6][32];
        snprintf(c[0], 32, "%lld", (long long)l->step[i]);
        snprintf(c[1], 32, "%.2f", l->epoch[i]);
        snprintf(c[2], 32, "%.4f", l->loss[i]);
        if (isfinite(l->val[i])) snprintf(c[3], 32, "%.4f", l->val[i]);
        else c[3][0] = 0;
        snprintf(c[4], 32, "%.3g", l->lr[i]);
        snprintf(c[5], 32, "%.3g", l->gnorm[i]);
        onc_report_table_row(t, (const char *[]){c[0], c[1], c[2], c[3], c[4], c[5]});
    }
    onc_report_table_end(t);
#undef ROW
    onc_status st = onc_report_write_markdown(r, md_path, err);
    if (st == ONC_OK) st = onc_report_write_html(r, html_path, err);
    onc_report_free(r);
    return st;
}
