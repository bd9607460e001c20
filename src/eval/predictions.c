/* predictions.c — reading prediction files (JSONL), guessing their task,
 * and price tables. Contracts in oncolm/eval_predictions.h. */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"
#include "oncolm/eval_predictions.h"

#define MAX_ITEMS 50000000

static void value_free(onc_pred_value *v) {
    free(v->label);
    for (size_t i = 0; i < v->n_items; i++) {
        free(v->items[i]);
        if (v->values) free(v->values[i]);
    }
    free(v->items);
    free(v->values);
    memset(v, 0, sizeof *v);
}

void onc_predictions_free(onc_predictions *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        onc_pred_item *it = &p->items[i];
        free(it->id);
        free(it->group);
        value_free(&it->gold);
        value_free(&it->prediction);
    }
    free(p->items);
    free(p->path);
    memset(p, 0, sizeof *p);
}

/* The text of a scalar JSON value as a label, malloc()ed; NULL with *bad
 * set when the value is not a scalar (or out of memory, *bad unset). */
static char *scalar_label(const json_t *v, bool *bad) {
    char buf[64];
    *bad = false;
    if (json_is_string(v)) return ir_copy_buf(json_string_value(v), json_string_length(v));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return strdup(buf);
    }
    if (json_is_real(v)) {
        double x = json_real_value(v);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, x);
            if (strtod(buf, NULL) == x) break;
        }
        return strdup(buf);
    }
    if (json_is_true(v)) return strdup("true");
    if (json_is_false(v)) return strdup("false");
    *bad = true;
    return NULL;
}

/* Convert gold or prediction of one line. `what` names it in messages. */
static onc_status parse_value(const json_t *v, onc_pred_value *out, const char *name, int64_t line,
                              const char *what, onc_error *err) {
    memset(out, 0, sizeof *out);
    bool bad;
    if (json_is_null(v)) {
        out->kind = ONC_PRED_NONE;
        return ONC_OK;
    }
    if (json_is_array(v)) {
        out->kind = ONC_PRED_SET;
        size_t n = json_array_size(v);
        out->items = calloc(n ? n : 1, sizeof *out->items);
        if (!out->items) goto nomem;
        for (size_t i = 0; i < n; i++) {
            char *s = scalar_label(json_array_get(v, i), &bad);
            if (!s) {
                if (bad)
                    return onc_error_set(err, ONC_ERR_FORMAT,
                                         "%s:%lld: \"%s\" element %zu is not a string, number or boolean", name,
                                         (long long)line, what, i);
                goto nomem;
            }
            bool dup = false;
            for (size_t j = 0; j < out->n_items && !dup; j++) dup = strcmp(out->items[j], s) == 0;
            if (dup)
                free(s);
            else
                out->items[out->n_items++] = s;
        }
        return ONC_OK;
    }
    if (json_is_object(v)) {
        out->kind = ONC_PRED_FIELDS;
        size_t n = json_object_size(v);
        out->items = calloc(n ? n : 1, sizeof *out->items);
        out->values = calloc(n ? n : 1, sizeof *out->values);
        if (!out->items || !out->values) goto nomem;
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val) {
            char *k = strdup(key);
            if (!k) goto nomem;
            out->items[out->n_items] = k;
            char *s = NULL;
            if (!json_is_null(val)) {
                s = scalar_label(val, &bad);
                if (!s) {
                    out->n_items++;
                    if (bad)
                        return onc_error_set(err, ONC_ERR_FORMAT,
                                             "%s:%lld: \"%s\" field \"%s\" is not a string, number, boolean or null",
                                             name, (long long)line, what, key);
                    goto nomem;
                }
            }
            out->values[out->n_items++] = s;
        }
        return ONC_OK;
    }
    out->kind = ONC_PRED_LABEL;
    out->label = scalar_label(v, &bad);
    if (!out->label) goto nomem;
    return ONC_OK;
nomem:
    return onc_error_set(err, ONC_ERR_NOMEM, "%s:%lld: out of memory", name, (long long)line);
}

static onc_status parse_line(const char *text, size_t len, const char *name, int64_t line, onc_pred_item *it,
                             onc_error *err) {
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) return onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: not JSON: %s", name, (long long)line, jerr.text);
    onc_status st = ONC_OK;
    it->time_s = NAN;
    it->tokens_in = it->tokens_out = -1;
    it->line = line;
    if (!json_is_object(o)) {
        st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: a line must be a JSON object", name, (long long)line);
        goto done;
    }
    json_t *id = json_object_get(o, "id"), *gold = json_object_get(o, "gold"),
           *pred = json_object_get(o, "prediction");
    const char *missing = !id ? "id" : !gold ? "gold" : !pred ? "prediction" : NULL;
    if (missing) {
        st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: no \"%s\"", name, (long long)line, missing);
        goto done;
    }
    bool bad;
    if (!(json_is_string(id) || json_is_integer(id)) || !(it->id = scalar_label(id, &bad))) {
        st = onc_error_set(err, json_is_string(id) || json_is_integer(id) ? ONC_ERR_NOMEM : ONC_ERR_FORMAT,
                           "%s:%lld: \"id\" must be a string or an integer", name, (long long)line);
        goto done;
    }
    if (json_is_null(gold)) {
        st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: \"gold\" is null", name, (long long)line);
        goto done;
    }
    if ((st = parse_value(gold, &it->gold, name, line, "gold", err)) != ONC_OK) goto done;
    if ((st = parse_value(pred, &it->prediction, name, line, "prediction", err)) != ONC_OK) goto done;
    json_t *group = json_object_get(o, "group");
    if (group && !json_is_null(group)) {
        if (!json_is_string(group) && !json_is_integer(group)) {
            st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: \"group\" must be a string", name, (long long)line);
            goto done;
        }
        if (!(it->group = scalar_label(group, &bad))) {
            st = onc_error_set(err, ONC_ERR_NOMEM, "%s:%lld: out of memory", name, (long long)line);
            goto done;
        }
    }
    json_t *t = json_object_get(o, "time_s");
    if (t && !json_is_null(t)) {
        if (!json_is_number(t) || !(json_number_value(t) >= 0) || !isfinite(json_number_value(t))) {
            st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: \"time_s\" must be a number >= 0", name,
                               (long long)line);
            goto done;
        }
        it->time_s = json_number_value(t);
    }
    const char *tok_keys[2] = {"tokens_in", "tokens_out"};
    int64_t *tok_dst[2] = {&it->tokens_in, &it->tokens_out};
    for (int k = 0; k < 2; k++) {
        json_t *v = json_object_get(o, tok_keys[k]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: \"%s\" must be an integer >= 0", name,
                               (long long)line, tok_keys[k]);
            goto done;
        }
        *tok_dst[k] = (int64_t)json_integer_value(v);
    }
done:
    json_decref(o);
    return st;
}

onc_status onc_predictions_parse(const char *data, size_t len, const char *name, onc_predictions *out,
                                 onc_error *err) {
    memset(out, 0, sizeof *out);
    onc_status st = ir_check_no_nul(data, len, name, err);
    if (st != ONC_OK) return st;
    char *buf = ir_copy_buf(data, len);
    out->path = strdup(name);
    if (!buf || !out->path) {
        free(buf);
        onc_predictions_free(out);
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
    }
    ir_strtab ids = {0};
    size_t cap = 0;
    ir_lines lines;
    ir_lines_init(&lines, buf, len);
    char *line;
    while ((line = ir_lines_next(&lines))) {
        if (ir_blank(line)) continue;
        if (out->n == MAX_ITEMS) {
            st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: more than %d items", name, (long long)lines.lineno,
                               MAX_ITEMS);
            break;
        }
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            onc_pred_item *ni = realloc(out->items, ncap * sizeof *ni);
            if (!ni) {
                st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory at line %lld", name,
                                   (long long)lines.lineno);
                break;
            }
            out->items = ni, cap = ncap;
        }
        onc_pred_item *it = &out->items[out->n];
        memset(it, 0, sizeof *it);
        out->n++; /* counted now so that a failed line is freed with the rest */
        if ((st = parse_line(line, strlen(line), name, lines.lineno, it, err)) != ONC_OK) break;
        bool is_new;
        int64_t k = ir_strtab_intern(&ids, it->id, &is_new);
        if (k < 0) {
            st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
            break;
        }
        if (!is_new) {
            st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: duplicate id \"%s\" (first on line %lld)", name,
                               (long long)lines.lineno, it->id, (long long)out->items[k].line);
            break;
        }
    }
    ir_strtab_free(&ids);
    free(buf);
    if (st == ONC_OK && out->n == 0) st = onc_error_set(err, ONC_ERR_FORMAT, "%s: no items", name);
    if (st != ONC_OK) onc_predictions_free(out);
    return st;
}

onc_status onc_predictions_read(const char *path, onc_predictions *out, onc_error *err) {
    memset(out, 0, sizeof *out);
    size_t len;
    char *data = ir_read_file(path, &len, err);
    if (!data) return err ? err->code : ONC_ERR_IO;
    onc_status st = onc_predictions_parse(data, len, path, out, err);
    free(data);
    return st;
}

/* ---- tasks ------------------------------------------------------------------------ */

static const char *const task_names[] = {"auto", "classify", "multilabel", "fields", "codes", "text"};

const char *onc_eval_task_name(onc_eval_task t) { return (unsigned)t < 6 ? task_names[t] : "?"; }

int onc_eval_task_parse(const char *s) {
    for (int i = 0; i < 6; i++)
        if (strcmp(s, task_names[i]) == 0) return i;
    return -1;
}

/* Letter, two digits, then optionally '.' and up to 4 letters/digits (or
 * the same without the dot). Case-insensitive, surrounding spaces allowed. */
static bool looks_like_icd10(const char *s) {
    while (*s == ' ') s++;
    if (!isalpha((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || !isalnum((unsigned char)s[2])) return false;
    s += 3;
    if (*s == '.') s++;
    int extra = 0;
    while (isalnum((unsigned char)*s) && extra < 5) s++, extra++;
    while (*s == ' ') s++;
    return *s == 0 && extra <= 4;
}

static const char *kind_name(onc_pred_kind k) {
    switch (k) {
    case ONC_PRED_LABEL: return "a label";
    case ONC_PRED_SET: return "an array";
    case ONC_PRED_FIELDS: return "an object";
    default: return "null";
    }
}

onc_status onc_pred_guess_task(const onc_predictions *p, onc_eval_task *task, onc_error *err) {
    *task = ONC_TASK_CLASSIFY;
    if (p->n == 0) return onc_error_set(err, ONC_ERR_FORMAT, "%s: no items", p->path);
    onc_pred_kind k = p->items[0].gold.kind;
    for (size_t i = 1; i < p->n; i++)
        if (p->items[i].gold.kind != k)
            return onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: \"gold\" is %s but line %lld has %s", p->path,
                                 (long long)p->items[i].line, kind_name(p->items[i].gold.kind),
                                 (long long)p->items[0].line, kind_name(k));
    if (k == ONC_PRED_FIELDS) {
        *task = ONC_TASK_FIELDS;
        return ONC_OK;
    }
    if (k == ONC_PRED_SET) {
        bool codes = false, all = true;
        for (size_t i = 0; i < p->n && all; i++)
            for (size_t j = 0; j < p->items[i].gold.n_items && all; j++) {
                codes = true;
                all = looks_like_icd10(p->items[i].gold.items[j]);
            }
        *task = codes && all ? ONC_TASK_CODES : ONC_TASK_MULTILABEL;
        return ONC_OK;
    }
    ir_strtab distinct = {0};
    bool newline = false;
    for (size_t i = 0; i < p->n; i++) {
        if (strchr(p->items[i].gold.label, '\n')) newline = true;
        if (ir_strtab_intern(&distinct, p->items[i].gold.label, NULL) < 0) {
            ir_strtab_free(&distinct);
            return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", p->path);
        }
    }
    int64_t nd = distinct.n;
    ir_strtab_free(&distinct);
    *task = newline || (nd > 20 && (size_t)nd * 2 > p->n) ? ONC_TASK_TEXT : ONC_TASK_CLASSIFY;
    return ONC_OK;
}

onc_status onc_pred_check_task(const onc_predictions *p, onc_eval_task task, onc_error *err) {
    onc_pred_kind want = task == ONC_TASK_MULTILABEL || task == ONC_TASK_CODES ? ONC_PRED_SET
                         : task == ONC_TASK_FIELDS                               ? ONC_PRED_FIELDS
                                                                                 : ONC_PRED_LABEL;
    for (size_t i = 0; i < p->n; i++) {
        const onc_pred_item *it = &p->items[i];
        const char *bad = it->gold.kind != want ? "gold"
                          : it->prediction.kind != want && it->prediction.kind != ONC_PRED_NONE ? "prediction"
                                                                                                : NULL;
        if (bad)
            return onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: \"%s\" is %s; task %s needs %s", p->path,
                                 (long long)it->line, bad,
                                 kind_name(strcmp(bad, "gold") == 0 ? it->gold.kind : it->prediction.kind),
                                 onc_eval_task_name(task), kind_name(want));
    }
    return ONC_OK;
}
