/* codes.c — ICD-10 code sets: normalisation and shape check of codes, and
 * their metrics at the full-code and the 3-character category level
 * (onc_ml_evaluate on the normalised sets). Contracts in
 * oncolm/eval_classify.h. */
#include <stdlib.h>
#include <string.h>

#include "eval/classify_internal.h"

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Shape of a normalised code: letter, digit, letter or digit, then nothing
 * or '.' and 1 to 4 letters or digits. */
static bool icd10_shape_ok(const char *s) {
    if (!is_upper(s[0]) || !is_digit(s[1]) || !(is_upper(s[2]) || is_digit(s[2]))) return false;
    if (s[3] == '\0') return true;
    if (s[3] != '.') return false;
    size_t m = 0;
    for (const char *p = s + 4; *p; p++, m++)
        if (!(is_upper(*p) || is_digit(*p))) return false;
    return m >= 1 && m <= 4;
}

bool onc_icd10_normalize(const char *code, char *out) {
    const char *b = code, *e = code + strlen(code);
    while (b < e && is_space(*b)) b++;
    while (e > b && is_space(e[-1])) e--;
    size_t len = 0, dots = 0;
    for (const char *p = b; p < e; p++) {
        const char c = *p;
        out[len++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
        dots += c == '.';
    }
    out[len] = '\0';
    if (dots <= 1) {
        /* drop the dot, then put it back after the 3rd character (UTF-8
         * code point: continuation bytes 10xxxxxx stay with their lead) */
        size_t m = 0, chars = 0, at = 0;
        for (size_t i = 0; i < len; i++)
            if (out[i] != '.') out[m++] = out[i];
        /* trim what the dot uncovered ("C34\t." -> "C34"), so the result is a fixed point */
        size_t lead = 0;
        while (m > 0 && is_space(out[m - 1])) m--;
        while (lead < m && is_space(out[lead])) lead++;
        memmove(out, out + lead, m - lead);
        m -= lead;
        for (size_t i = 0; i < m; i++)
            if (((unsigned char)out[i] & 0xC0) != 0x80 && ++chars == 4) at = i;
        if (chars > 3) {
            memmove(out + at + 1, out + at, m - at);
            out[at] = '.';
            m++;
        }
        out[m] = '\0';
    }
    return icd10_shape_ok(out);
}

void onc_icd10_result_free(onc_icd10_result *r) {
    if (!r) return;
    onc_ml_result_free(r->code);
    onc_ml_result_free(r->category);
    free(r->code_valid);
    free(r);
}

/* Normalised codes and categories of every set, cut from one text block. */
typedef struct code_sets {
    char *text;                       /* normalised codes, then categories */
    const char **codes, **cats;       /* every code of every set, in input order */
    onc_label_set *code_g, *code_p;   /* [n] sets of normalised codes */
    onc_label_set *cat_g, *cat_p;     /* [n] sets of categories */
} code_sets;

static void code_sets_free(code_sets *c) {
    free(c->text), free(c->codes), free(c->cats);
    free(c->code_g), free(c->code_p), free(c->cat_g), free(c->cat_p);
}

/* Normalise every code of the n gold and predicted sets. */
static onc_status build_sets(const onc_label_set *gold, const onc_label_set *pred, size_t n, code_sets *c,
                             onc_error *err) {
    size_t total = 0, bytes = 0;
    for (int side = 0; side < 2; side++)
        for (size_t i = 0; i < n; i++) {
            const onc_label_set *s = side ? &pred[i] : &gold[i];
            if (s->n && !s->labels)
                return onc_error_set(err, ONC_ERR_INVALID, "item %zu: the %s set has %zu codes but no array", i,
                                     side ? "predicted" : "gold", s->n);
            for (size_t j = 0; j < s->n; j++) {
                if (!s->labels[j])
                    return onc_error_set(err, ONC_ERR_INVALID, "item %zu: code %zu of the %s set is NULL", i, j,
                                         side ? "predicted" : "gold");
                /* code (+ dot + NUL) and its category (at most as long) */
                bytes += 2 * (strlen(s->labels[j]) + 2);
            }
            total += s->n;
        }
    c->text = malloc(bytes + 1);
    c->codes = malloc((total + 1) * sizeof *c->codes);
    c->cats = malloc((total + 1) * sizeof *c->cats);
    c->code_g = malloc(n * sizeof *c->code_g), c->code_p = malloc(n * sizeof *c->code_p);
    c->cat_g = malloc(n * sizeof *c->cat_g), c->cat_p = malloc(n * sizeof *c->cat_p);
    if (!c->text || !c->codes || !c->cats || !c->code_g || !c->code_p || !c->cat_g || !c->cat_p)
        return onc_error_set(err, ONC_ERR_NOMEM, "out of memory normalising %zu codes", total);
    char *t = c->text;
    size_t at = 0;
    for (int side = 0; side < 2; side++)
        for (size_t i = 0; i < n; i++) {
            const onc_label_set *s = side ? &pred[i] : &gold[i];
            (side ? c->code_p : c->code_g)[i] = (onc_label_set){c->codes + at, s->n};
            (side ? c->cat_p : c->cat_g)[i] = (onc_label_set){c->cats + at, s->n};
            for (size_t j = 0; j < s->n; j++, at++) {
                const bool valid = onc_icd10_normalize(s->labels[j], t);
                const size_t len = strlen(t);
                c->codes[at] = t;
                t += len + 1;
                /* category: first 3 characters of a valid code, else the whole text */
                const size_t cl = valid ? 3 : len;
                memcpy(t, c->codes[at], cl);
                t[cl] = '\0';
                c->cats[at] = t;
                t += cl + 1;
            }
        }
    return ONC_OK;
}

onc_icd10_result *onc_icd10_evaluate(const onc_label_set *gold, const onc_label_set *pred, size_t n,
                                     double zero_division, onc_error *err) {
    if (cls_check_zero_division(zero_division, err) != ONC_OK) return NULL;
    if (n == 0) {
        onc_error_set(err, ONC_ERR_INVALID, "no items to evaluate (scikit-learn rejects empty input)");
        return NULL;
    }
    if (!gold || !pred) {
        onc_error_set(err, ONC_ERR_INVALID, "NULL gold or predicted code sets");
        return NULL;
    }
    code_sets c = {0};
    onc_icd10_result *r = calloc(1, sizeof *r);
    if (!r) {
        onc_error_set(err, ONC_ERR_NOMEM, "out of memory evaluating codes");
        return NULL;
    }
    if (build_sets(gold, pred, n, &c, err) != ONC_OK) goto fail;
    onc_ml_opts o;
    onc_ml_opts_default(&o);
    o.zero_division = zero_division;
    o.byte_order = true; /* codes are text: sorted() of the normalised strings */
    r->code = onc_ml_evaluate(c.code_g, c.code_p, n, &o, err);
    if (!r->code) {
        onc_error_prefix(err, "ICD-10 codes");
        goto fail;
    }
    r->category = onc_ml_evaluate(c.cat_g, c.cat_p, n, &o, err);
    if (!r->category) {
        onc_error_prefix(err, "ICD-10 categories");
        goto fail;
    }
    r->code_valid = malloc((r->code->n_labels ? r->code->n_labels : 1) * sizeof *r->code_valid);
    if (!r->code_valid) {
        onc_error_set(err, ONC_ERR_NOMEM, "out of memory evaluating codes");
        goto fail;
    }
    for (size_t j = 0; j < r->code->n_labels; j++) {
        const onc_cls_class *row = &r->code->labels[j];
        r->code_valid[j] = icd10_shape_ok(row->label);
        if (!r->code_valid[j]) r->n_invalid_gold += row->support, r->n_invalid_pred += row->n_predicted;
    }
    code_sets_free(&c);
    return r;
fail:
    code_sets_free(&c);
    onc_icd10_result_free(r);
    return NULL;
}
