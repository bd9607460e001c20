/* timecost.c — time, token and cost totals of a prediction file, and price
 * tables. Contracts in oncolm/eval_predictions.h. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/eval_predictions.h"
#include "oncolm/stats.h"

void onc_price_table_free(onc_price_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) free(t->prices[i].name);
    free(t->prices);
    free(t->currency);
    memset(t, 0, sizeof *t);
}

const onc_price *onc_price_find(const onc_price_table *t, const char *name) {
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->prices[i].name, name) == 0) return &t->prices[i];
    return NULL;
}

onc_status onc_price_table_read(const char *path, onc_price_table *out, onc_error *err) {
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (jerr.line <= 0)
            return onc_error_set(err, ONC_ERR_IO, "%s: cannot read price table: %s", path, jerr.text);
        return onc_error_set(err, ONC_ERR_FORMAT, "%s:%d: not JSON: %s", path, jerr.line, jerr.text);
    }
    onc_status st = ONC_OK;
    json_t *models = json_object_get(root, "models");
    json_t *cur = json_object_get(root, "currency");
    if (!json_is_object(root) || !json_is_object(models)) {
        st = onc_error_set(err, ONC_ERR_FORMAT, "%s: a price table is {\"currency\": ..., \"models\": {NAME: {...}}}",
                           path);
        goto done;
    }
    if (cur && !json_is_string(cur)) {
        st = onc_error_set(err, ONC_ERR_FORMAT, "%s: \"currency\" must be a string", path);
        goto done;
    }
    out->currency = strdup(cur ? json_string_value(cur) : "");
    out->prices = calloc(json_object_size(models) + 1, sizeof *out->prices);
    if (!out->currency || !out->prices) {
        st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    const char *name;
    json_t *entry;
    json_object_foreach(models, name, entry) {
        if (!json_is_object(entry)) {
            st = onc_error_set(err, ONC_ERR_FORMAT, "%s: model \"%s\": expected an object of rates", path, name);
            goto done;
        }
        onc_price *p = &out->prices[out->n];
        if (!(p->name = strdup(name))) {
            st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        out->n++;
        const char *key;
        json_t *v;
        json_object_foreach(entry, key, v) {
            double *dst = strcmp(key, "input_per_million") == 0    ? &p->input_per_million
                          : strcmp(key, "output_per_million") == 0 ? &p->output_per_million
                          : strcmp(key, "per_hour") == 0           ? &p->per_hour
                                                                   : NULL;
            if (!dst) {
                st = onc_error_set(err, ONC_ERR_FORMAT,
                                   "%s: model \"%s\": unknown key \"%s\" (input_per_million, output_per_million, "
                                   "per_hour)",
                                   path, name, key);
                goto done;
            }
            if (!json_is_number(v) || !(json_number_value(v) >= 0) || !isfinite(json_number_value(v))) {
                st = onc_error_set(err, ONC_ERR_FORMAT, "%s: model \"%s\": \"%s\" must be a number >= 0", path, name,
                                   key);
                goto done;
            }
            *dst = json_number_value(v);
        }
    }
done:
    json_decref(root);
    if (st != ONC_OK) onc_price_table_free(out);
    return st;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void onc_timecost_compute(const onc_predictions *p, const onc_price *price, onc_timecost *out) {
    memset(out, 0, sizeof *out);
    out->n = (int64_t)p->n;
    out->time_mean_s = out->time_median_s = out->time_p95_s = out->time_max_s = NAN;
    out->tokens_out_per_s = out->cost = out->cost_per_item = NAN;
    double *times = malloc((p->n ? p->n : 1) * sizeof *times);
    double rate_tokens = 0, rate_time = 0;
    for (size_t i = 0; i < p->n; i++) {
        const onc_pred_item *it = &p->items[i];
        bool timed = !isnan(it->time_s), tokens = it->tokens_in >= 0 && it->tokens_out >= 0;
        if (timed) {
            if (times) times[out->n_timed] = it->time_s;
            out->n_timed++;
            out->time_total_s += it->time_s;
        }
        if (it->tokens_in >= 0) out->tokens_in += it->tokens_in;
        if (it->tokens_out >= 0) out->tokens_out += it->tokens_out;
        if (tokens) out->n_tokens++;
        if (timed && it->tokens_out >= 0) {
            rate_tokens += (double)it->tokens_out;
            rate_time += it->time_s;
        }
    }
    if (out->n_timed > 0 && times) {
        size_t m = (size_t)out->n_timed;
        out->time_mean_s = onc_mean(times, m);
        qsort(times, m, sizeof *times, cmp_double);
        out->time_median_s = onc_quantile_linear(times, m, 0.5);
        out->time_p95_s = onc_quantile_linear(times, m, 0.95);
        out->time_max_s = times[m - 1];
    }
    free(times);
    if (rate_time > 0) out->tokens_out_per_s = rate_tokens / rate_time;
    if (price) {
        out->cost = (double)out->tokens_in * price->input_per_million / 1e6 +
                    (double)out->tokens_out * price->output_per_million / 1e6 +
                    out->time_total_s / 3600.0 * price->per_hour;
        out->cost_per_item = p->n ? out->cost / (double)p->n : NAN;
    }
}
