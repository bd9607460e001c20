/* fuzz_codes.c — libFuzzer target for the ICD-10 normaliser and the
 * classification metrics (oncolm/eval_classify.h). The input is split into
 * items at '\n'; an item is `gold<TAB>prediction`, each side a
 * comma-separated list of codes (arbitrary bytes, NUL ends a code early).
 * Every code is normalised twice (the normaliser must be idempotent and
 * agree on validity; the output may grow by at most one byte). The sets
 * are evaluated by onc_icd10_evaluate and onc_ml_evaluate (zero_division 0
 * and 1), and the first code of each side as a label by onc_cls_evaluate
 * and onc_extract_evaluate (no tab = a missing prediction). Checks:
 * tp/fp/fn/tn add up to the items, support and predictions match the
 * pooled counts, every ratio is in [0, 1], flags agree with denominators,
 * the confusion matrix sums to n_in_matrix; errors are only the documented
 * ones. Replayed over fuzz/corpus/codes/ by ctest (replay.fuzz_codes). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/eval_classify.h"

#define MAX_ITEMS 4096

static void check_unit(double v) {
    if (!(v >= 0.0 && v <= 1.0)) __builtin_trap();
}

static void check_rows(const onc_cls_class *rows, size_t k, int64_t n) {
    for (size_t j = 0; j < k; j++) {
        const onc_cls_class *c = &rows[j];
        if (c->tp < 0 || c->fp < 0 || c->fn < 0 || c->tn < 0) __builtin_trap();
        if (c->tp + c->fp + c->fn + c->tn != n) __builtin_trap();
        if (c->support != c->tp + c->fn || c->n_predicted != c->tp + c->fp) __builtin_trap();
        if (c->precision.defined != (c->n_predicted > 0) || c->recall.defined != (c->support > 0)) __builtin_trap();
        check_unit(c->precision.value), check_unit(c->recall.value), check_unit(c->f1.value);
        check_unit(c->specificity.value), check_unit(c->npv.value), check_unit(c->accuracy);
    }
}

static void check_prf(const onc_cls_prf *p) {
    check_unit(p->precision.value), check_unit(p->recall.value), check_unit(p->f1.value);
}

static void check_ml(const onc_ml_result *r, size_t n) {
    if (r->n_items != (int64_t)n || r->n_labels == 0) __builtin_trap();
    check_rows(r->labels, r->n_labels, r->n_items);
    check_prf(&r->micro), check_prf(&r->macro), check_prf(&r->weighted), check_prf(&r->samples);
    check_unit(r->subset_accuracy), check_unit(r->hamming_loss);
    if (r->n_exact < 0 || r->n_exact > r->n_items) __builtin_trap();
    for (size_t j = 0; j + 1 < r->n_labels; j++)
        if (!r->numeric_order && strcmp(r->labels[j].label, r->labels[j + 1].label) >= 0) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    /* cut items and codes in place */
    onc_label_set *sets = calloc(2 * MAX_ITEMS, sizeof *sets);
    const char **codes = malloc((size + 2 * MAX_ITEMS + 1) * sizeof *codes);
    const char **first = calloc(2 * MAX_ITEMS, sizeof *first);
    size_t n = 0, nc = 0;
    char *line = buf, *end = buf + size;
    while (line <= end && n < MAX_ITEMS && sets && codes && first) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        if (nl) *nl = '\0';
        char *tab = strchr(line, '\t');
        if (tab) *tab = '\0';
        for (int side = 0; side < 2; side++) {
            char *s = side ? (tab ? tab + 1 : NULL) : line;
            onc_label_set *set = &sets[2 * n + side];
            set->labels = codes + nc;
            set->n = 0;
            if (!s) continue;
            for (char *tok = s;;) {
                char *comma = strchr(tok, ',');
                if (comma) *comma = '\0';
                codes[nc++] = tok, set->n++;
                if (!comma) break;
                tok = comma + 1;
            }
            first[2 * n + side] = set->labels[0];
        }
        n++;
        if (!nl) break;
        line = nl + 1;
    }
    if (!sets || !codes || !first) goto done;

    /* normaliser: idempotent, at most one byte longer */
    for (size_t i = 0; i < nc; i++) {
        const size_t len = strlen(codes[i]);
        char *a = malloc(len + 2), *b = malloc(len + 3);
        if (!a || !b) {
            free(a), free(b);
            continue;
        }
        const bool va = onc_icd10_normalize(codes[i], a);
        if (strlen(a) > len + 1) __builtin_trap();
        const bool vb = onc_icd10_normalize(a, b);
        if (va != vb || strcmp(a, b) != 0) __builtin_trap();
        free(a), free(b);
    }

    onc_label_set *gold = malloc((n ? n : 1) * sizeof *gold), *pred = malloc((n ? n : 1) * sizeof *pred);
    const char **g1 = malloc((n ? n : 1) * sizeof *g1), **p1 = malloc((n ? n : 1) * sizeof *p1);
    if (!gold || !pred || !g1 || !p1) {
        free(gold), free(pred), free(g1), free(p1);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        gold[i] = sets[2 * i], pred[i] = sets[2 * i + 1];
        g1[i] = first[2 * i] ? first[2 * i] : "";
        p1[i] = first[2 * i + 1]; /* NULL: missing prediction */
    }
    for (int zd = 0; zd <= 1; zd++) {
        onc_error err = {0};
        onc_icd10_result *r = onc_icd10_evaluate(gold, pred, n, zd, &err);
        if (r) {
            check_ml(r->code, n), check_ml(r->category, n);
            if (r->category->n_labels > r->code->n_labels) __builtin_trap();
            int64_t inv_g = 0, inv_p = 0;
            for (size_t j = 0; j < r->code->n_labels; j++)
                if (!r->code_valid[j]) inv_g += r->code->labels[j].support, inv_p += r->code->labels[j].n_predicted;
            if (inv_g != r->n_invalid_gold || inv_p != r->n_invalid_pred) __builtin_trap();
            onc_icd10_result_free(r);
        } else if (err.code != ONC_ERR_INVALID && err.code != ONC_ERR_NOMEM) {
            __builtin_trap();
        }
        onc_ml_opts mo;
        onc_ml_opts_default(&mo);
        mo.zero_division = zd;
        onc_ml_result *m = onc_ml_evaluate(gold, pred, n, &mo, &err);
        if (m) {
            check_ml(m, n);
            onc_ml_result_free(m);
        }

        onc_cls_opts co;
        onc_cls_opts_default(&co);
        co.zero_division = zd;
        onc_cls_result *c = onc_cls_evaluate(g1, p1, n, &co, &err);
        if (c) {
            check_rows(c->classes, c->n_labels, c->n_items);
            check_prf(&c->micro), check_prf(&c->macro), check_prf(&c->weighted);
            check_unit(c->accuracy), check_unit(c->balanced_accuracy);
            int64_t total = 0;
            for (size_t j = 0; j < c->n_labels * c->n_labels; j++) total += c->confusion[j];
            if (total != c->n_in_matrix || c->n_in_matrix != c->n_items) __builtin_trap();
            for (int w = 0; w < ONC_KAPPA_N_WEIGHTS; w++) /* kappa <= 1; NaN exactly when undefined */
                if (c->kappa[w].defined ? !(c->kappa[w].value <= 1.0) : !isnan(c->kappa[w].value))
                    __builtin_trap();
            onc_cls_result_free(c);
        } else if (err.code != ONC_ERR_INVALID && err.code != ONC_ERR_NOMEM) {
            __builtin_trap();
        }
        /* two fields: the first codes of both sides as gold, the prediction's as prediction */
        if (n > 0) {
            const char *fields[2] = {"f0", "f1"};
            const char **fg = malloc(2 * n * sizeof *fg), **fp = malloc(2 * n * sizeof *fp);
            if (fg && fp) {
                for (size_t i = 0; i < n; i++) {
                    fg[2 * i] = g1[i], fg[2 * i + 1] = p1[i];
                    fp[2 * i] = p1[i], fp[2 * i + 1] = g1[i];
                }
                onc_extract_result *x = onc_extract_evaluate(fields, 2, fg, fp, n, zd, &err);
                if (x) {
                    check_unit(x->mean_accuracy), check_unit(x->mean_macro_f1);
                    onc_extract_result_free(x);
                }
            }
            free(fg), free(fp);
        }
    }
    free(gold), free(pred), free(g1), free(p1);
done:
    free(sets), free(codes), free(first), free(buf);
    return 0;
}
