/* test_eval_classify.c — oncolm/eval_classify.h on hand-computed cases (the
 * arithmetic is in the comments) and on the published examples of the
 * scikit-learn 1.2 docstrings in sklearn/metrics/_classification.py
 * (precision_recall_fscore_support, precision_score, recall_score,
 * f1_score, balanced_accuracy_score, confusion_matrix,
 * multilabel_confusion_matrix, accuracy_score, hamming_loss):
 * - per-class counts, P/R/F1, specificity, NPV, accuracy; micro, macro,
 *   weighted and binary averages; zero division (0 and 1) and its flags;
 *   balanced accuracy (plain, adjusted);
 * - label order: numeric ("9" < "10", "1" vs "1.0"), byte order, explicit
 *   lists (order, subsets dropping items from the matrix, unseen labels);
 * - Cohen's kappa unweighted/linear/quadratic by hand, and NaN when both
 *   raters use one class (sklearn returns nan);
 * - single class, all correct, all wrong, missing predictions;
 * - multi-label sets: samples average with empty sets (sklearn 1.2.1
 *   scores an item with both sets empty 0), repeated labels, explicit
 *   universes, subset accuracy, Hamming loss;
 * - ICD-10 normalisation and code/category metrics; field extraction;
 * - numpy's pairwise summation (fixtures computed with numpy 1.24 np.sum);
 * - every error case. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eval/classify_internal.h"
#include "oncolm/eval_classify.h"

#define EPS 1e-12
static bool near(double a, double b) { return fabs(a - b) <= EPS * (1 + fabs(b)); }
#define NEAR(a, b) assert_true(near((a), (b)))
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static onc_cls_result *eval(const char *const *gold, const char *const *pred, size_t n, const onc_cls_opts *o) {
    onc_error err = {0};
    onc_cls_result *r = onc_cls_evaluate(gold, pred, n, o, &err);
    if (!r) fprintf(stderr, "onc_cls_evaluate: %s\n", err.msg);
    assert_non_null(r);
    return r;
}

static const onc_cls_class *cls(const onc_cls_result *r, const char *label) {
    const int64_t i = onc_cls_find(r, label);
    assert_true(i >= 0);
    return &r->classes[i];
}

static void counts(const onc_cls_class *c, int64_t tp, int64_t fp, int64_t fn, int64_t tn) {
    assert_int_equal(c->tp, tp);
    assert_int_equal(c->fp, fp);
    assert_int_equal(c->fn, fn);
    assert_int_equal(c->tn, tn);
    assert_int_equal(c->support, tp + fn);
    assert_int_equal(c->n_predicted, tp + fp);
}

/* ---- published examples: scikit-learn 1.2 docstrings ------------------------------------- */

/* precision_recall_fscore_support docstring:
 * y_true = ['cat','dog','pig','cat','dog','pig'], y_pred = ['cat','pig','dog','cat','cat','dog']
 * macro (0.22..., 0.33..., 0.26...), micro (0.33..., 0.33..., 0.33...),
 * weighted (0.22..., 0.33..., 0.26...); average=None with labels
 * ['pig','dog','cat']: P [0, 0, 0.66...], R [0, 0, 1], F [0, 0, 0.8],
 * support [2, 2, 2]. Exactly: cat tp 2 fp 1 fn 0 -> P 2/3, R 1, F 0.8;
 * dog and pig 0; macro P 2/9, R 1/3, F 0.8/3. */
static void test_docstring_prfs(void **state) {
    (void)state;
    const char *gold[] = {"cat", "dog", "pig", "cat", "dog", "pig"};
    const char *pred[] = {"cat", "pig", "dog", "cat", "cat", "dog"};
    onc_cls_result *r = eval(gold, pred, 6, NULL);
    assert_int_equal(r->n_labels, 3);
    assert_string_equal(r->classes[0].label, "cat");
    assert_string_equal(r->classes[2].label, "pig");
    NEAR(r->macro.precision.value, 2.0 / 9), NEAR(r->macro.recall.value, 1.0 / 3), NEAR(r->macro.f1.value, 0.8 / 3);
    assert_true(fabs(r->macro.precision.value - 0.22) < 0.01 && fabs(r->macro.f1.value - 0.26) < 0.01);
    NEAR(r->micro.precision.value, 1.0 / 3), NEAR(r->micro.recall.value, 1.0 / 3), NEAR(r->micro.f1.value, 1.0 / 3);
    NEAR(r->weighted.precision.value, 2.0 / 9), NEAR(r->weighted.recall.value, 1.0 / 3);
    NEAR(r->weighted.f1.value, 0.8 / 3);
    assert_true(r->macro.precision.defined && r->micro.f1.defined && r->weighted.f1.defined);
    NEAR(r->accuracy, 1.0 / 3);
    onc_cls_result_free(r);

    const char *order[] = {"pig", "dog", "cat"};
    onc_cls_opts o;
    onc_cls_opts_default(&o);
    o.labels = order, o.n_labels = 3;
    r = eval(gold, pred, 6, &o);
    const double P[] = {0, 0, 2.0 / 3}, R[] = {0, 0, 1}, F[] = {0, 0, 0.8};
    for (int j = 0; j < 3; j++) {
        assert_string_equal(r->classes[j].label, order[j]);
        NEAR(r->classes[j].precision.value, P[j]), NEAR(r->classes[j].recall.value, R[j]);
        NEAR(r->classes[j].f1.value, F[j]);
        assert_int_equal(r->classes[j].support, 2);
    }
    onc_cls_result_free(r);
}

/* precision_score / recall_score / f1_score docstrings: y_true = [0,1,2,0,1,2],
 * y_pred = [0,2,1,0,0,1]: precision [0.66..., 0, 0] (macro 0.22...), recall
 * [1, 0, 0] (macro 0.33...), f1 [0.8, 0, 0] (macro 0.26..., micro 0.33...).
 * With y_pred = [0,0,0,0,0,0]: precision [0.33..., 0, 0], zero_division=1
 * -> [0.33..., 1, 1]. recall_score with y_true = [0]*6 and y_pred =
 * [0,2,1,0,0,1]: [0.5, 0, 0], zero_division=1 -> [0.5, 1, 1]. f1_score of
 * y_true = y_pred = [0]*6 with zero_division=1 (average='binary',
 * pos_label=1, absent) -> 1.0. */
static void test_docstring_zero_division(void **state) {
    (void)state;
    const char *yt[] = {"0", "1", "2", "0", "1", "2"};
    const char *yp[] = {"0", "2", "1", "0", "0", "1"};
    onc_cls_result *r = eval(yt, yp, 6, NULL);
    assert_true(r->numeric_order);
    NEAR(r->classes[0].precision.value, 2.0 / 3), NEAR(r->classes[0].recall.value, 1);
    NEAR(r->classes[0].f1.value, 0.8);
    NEAR(r->macro.precision.value, 2.0 / 9), NEAR(r->macro.recall.value, 1.0 / 3), NEAR(r->macro.f1.value, 0.8 / 3);
    NEAR(r->micro.f1.value, 1.0 / 3);
    onc_cls_result_free(r);

    const char *zeros[] = {"0", "0", "0", "0", "0", "0"};
    onc_cls_opts o;
    onc_cls_opts_default(&o);
    for (int zd = 0; zd <= 1; zd++) {
        o.zero_division = zd;
        r = eval(yt, zeros, 6, &o); /* precision: labels 1 and 2 never predicted */
        NEAR(r->classes[0].precision.value, 1.0 / 3);
        assert_true(r->classes[0].precision.defined);
        for (int j = 1; j <= 2; j++) {
            NEAR(r->classes[j].precision.value, zd);
            assert_false(r->classes[j].precision.defined);
            NEAR(r->classes[j].recall.value, 0); /* recall defined: 0/2 */
            assert_true(r->classes[j].recall.defined);
            /* F from the fallback values: 2*zd*0/(zd+0) = 0, defined (fn > 0) */
            NEAR(r->classes[j].f1.value, 0);
            assert_true(r->classes[j].f1.defined);
        }
        assert_false(r->macro.precision.defined);
        onc_cls_result_free(r);

        r = eval(zeros, yp, 6, &o); /* recall: labels 1 and 2 absent from gold */
        NEAR(r->classes[0].recall.value, 0.5);
        NEAR(r->classes[1].recall.value, zd), NEAR(r->classes[2].recall.value, zd);
        assert_false(r->classes[1].recall.defined);
        onc_cls_result_free(r);
    }
    o.zero_division = 1;
    o.pos_label = "1";
    r = eval(zeros, zeros, 6, &o);
    assert_true(r->has_binary);
    NEAR(r->binary.f1.value, 1.0);
    assert_false(r->binary.f1.defined); /* 2 tp + fp + fn = 0 */
    onc_cls_result_free(r);
}

/* balanced_accuracy_score docstring: y_true = [0,1,0,0,1,0],
 * y_pred = [0,1,0,0,0,1] -> 0.625 (recall 3/4 and 1/2). Adjusted:
 * (0.625 - 1/2) / (1 - 1/2) = 0.25. Binary with pos_label 1: tp 1, fp 1,
 * fn 1 -> P = R = F = 0.5. */
static void test_docstring_balanced_accuracy(void **state) {
    (void)state;
    const char *yt[] = {"0", "1", "0", "0", "1", "0"};
    const char *yp[] = {"0", "1", "0", "0", "0", "1"};
    onc_cls_opts o;
    onc_cls_opts_default(&o);
    o.pos_label = "1";
    onc_cls_result *r = eval(yt, yp, 6, &o);
    assert_true(r->balanced_accuracy == 0.625);
    NEAR(r->balanced_accuracy_adjusted, 0.25);
    NEAR(r->binary.precision.value, 0.5), NEAR(r->binary.recall.value, 0.5), NEAR(r->binary.f1.value, 0.5);
    /* sensitivity / specificity of the positive class: 1/2 and 3/4 */
    NEAR(cls(r, "1")->recall.value, 0.5), NEAR(cls(r, "1")->specificity.value, 0.75);
    onc_cls_result_free(r);
}

/* confusion_matrix docstring: y_true = [2,0,2,2,0,1], y_pred = [0,0,2,2,0,2]
 * -> [[2,0,0],[0,0,1],[1,0,2]]; the same with y_true = ["cat","ant","cat",
 * "cat","ant","bird"], y_pred = ["ant","ant","cat","cat","ant","cat"],
 * labels ["ant","bird","cat"]; and tn, fp, fn, tp = confusion_matrix([0,1,0,1],
 * [1,1,1,0]).ravel() = (0, 2, 1, 1). multilabel_confusion_matrix docstring
 * (multiclass case, same animals): ant [[3,1],[0,2]], bird [[5,0],[1,0]],
 * cat [[2,1],[1,2]] as [[tn, fp], [fn, tp]]. accuracy_score docstring:
 * y_pred = [0,2,1,3], y_true = [0,1,2,3] -> 0.5. */
static void test_docstring_confusion(void **state) {
    (void)state;
    const int64_t want[9] = {2, 0, 0, 0, 0, 1, 1, 0, 2};
    const char *yt[] = {"2", "0", "2", "2", "0", "1"}, *yp[] = {"0", "0", "2", "2", "0", "2"};
    onc_cls_result *r = eval(yt, yp, 6, NULL);
    assert_memory_equal(r->confusion, want, sizeof want);
    assert_int_equal(r->n_in_matrix, 6);
    onc_cls_result_free(r);

    const char *at[] = {"cat", "ant", "cat", "cat", "ant", "bird"}, *ap[] = {"ant", "ant", "cat", "cat", "ant", "cat"};
    const char *labels[] = {"ant", "bird", "cat"};
    onc_cls_opts o;
    onc_cls_opts_default(&o);
    o.labels = labels, o.n_labels = 3;
    r = eval(at, ap, 6, &o);
    assert_memory_equal(r->confusion, want, sizeof want);
    counts(cls(r, "ant"), 2, 1, 0, 3);
    counts(cls(r, "bird"), 0, 0, 1, 5);
    counts(cls(r, "cat"), 2, 1, 1, 2);
    onc_cls_result_free(r);

    const char *bt[] = {"0", "1", "0", "1"}, *bp[] = {"1", "1", "1", "0"};
    r = eval(bt, bp, 4, NULL);
    assert_int_equal(r->confusion[0], 0); /* tn */
    assert_int_equal(r->confusion[1], 2); /* fp */
    assert_int_equal(r->confusion[2], 1); /* fn */
    assert_int_equal(r->confusion[3], 1); /* tp */
    onc_cls_result_free(r);

    const char *ct[] = {"0", "1", "2", "3"}, *cp[] = {"0", "2", "1", "3"};
    r = eval(ct, cp, 4, NULL);
    assert_true(r->accuracy == 0.5);
    onc_cls_result_free(r);
}

/* ---- hand-computed cases -------------------------------------------------------------------- */

/* gold [a, a, b], pred [a, a, a], labels [a, b, c] (c neither present nor predicted):
 *   a: tp 2 fp 1 fn 0 tn 0 -> P 2/3, R 1, F 0.8, spec 0/1 = 0, NPV 0/0 undefined
 *   b: tp 0 fp 0 fn 1 tn 2 -> P 0/0 undefined, R 0, F 0 (defined), spec 1, NPV 2/3
 *   c: tp 0 fp 0 fn 0 tn 3 -> P, R, F undefined; spec 1, NPV 1
 * zd 0: macro P (2/3 + 0 + 0)/3 = 2/9; weighted (support 2, 1, 0) P = (4/3)/3 = 4/9,
 * R = 2/3; micro tp 2 / 3 predicted / 3 true = 2/3. Balanced accuracy over the
 * gold labels a, b: (1 + 0)/2 = 0.5; adjusted (0.5 - 0.5)/0.5 = 0.
 * zd 1: P(b) = P(c) = 1, R(c) = 1, F(c) = 2*1*1/2 = 1, F(b) = 2*1*0/1 = 0,
 * NPV(a) = 1; macro P (2/3 + 1 + 1)/3 = 8/9, macro F (0.8 + 0 + 1)/3 = 0.6. */
static void test_zero_division_flags(void **state) {
    (void)state;
    const char *gold[] = {"a", "a", "b"}, *pred[] = {"a", "a", "a"}, *labels[] = {"a", "b", "c"};
    onc_cls_opts o;
    onc_cls_opts_default(&o);
    o.labels = labels, o.n_labels = 3;
    onc_cls_result *r = eval(gold, pred, 3, &o);
    const onc_cls_class *a = cls(r, "a"), *b = cls(r, "b"), *c = cls(r, "c");
    counts(a, 2, 1, 0, 0), counts(b, 0, 0, 1, 2), counts(c, 0, 0, 0, 3);
    NEAR(a->precision.value, 2.0 / 3), NEAR(a->f1.value, 0.8), NEAR(a->specificity.value, 0);
    assert_false(a->npv.defined);
    NEAR(a->npv.value, 0);
    assert_false(b->precision.defined);
    assert_true(b->recall.defined && b->f1.defined);
    NEAR(b->npv.value, 2.0 / 3), NEAR(b->specificity.value, 1);
    assert_false(c->precision.defined || c->recall.defined || c->f1.defined);
    assert_true(c->specificity.defined && c->npv.defined);
    NEAR(r->macro.precision.value, 2.0 / 9);
    assert_false(r->macro.precision.defined);
    NEAR(r->weighted.precision.value, 4.0 / 9), NEAR(r->weighted.recall.value, 2.0 / 3);
    assert_false(r->weighted.precision.defined); /* b has support and no prediction */
    assert_true(r->weighted.recall.defined);     /* c has no support: its recall does not count */
    NEAR(r->micro.precision.value, 2.0 / 3), NEAR(r->micro.f1.value, 2.0 / 3);
    NEAR(r->balanced_accuracy, 0.5), NEAR(r->balanced_accuracy_adjusted, 0);
    NEAR(r->macro_specificity, (0 + 1 + 1) / 3.0), NEAR(r->macro_npv, (0 + 2.0 / 3 + 1) / 3);
    NEAR(a->accuracy, 2.0 / 3);
    onc_cls_result_free(r);

    o.zero_division = 1;
    r = eval(gold, pred, 3, &o);
    a = cls(r, "a"), b = cls(r, "b"), c = cls(r, "c");
    NEAR(b->precision.value, 1), NEAR(c->precision.value, 1), NEAR(c->recall.value, 1);
    NEAR(c->f1.value, 1), NEAR(b->f1.value, 0), NEAR(a->npv.value, 1);
    NEAR(r->macro.precision.value, 8.0 / 9), NEAR(r->macro.f1.value, 0.6);
    onc_cls_result_free(r);
}

/* An explicit list that leaves labels out: gold [a, b, c, a], pred [a, c, b, b],
 * labels [b, a]. Matrix (rows b, a): only items 0 (a->a) and 3 (a->b) have both
 * labels listed: [[0, 0], [1, 1]], n_in_matrix 2. Per class over all 4 items:
 * b: tp 0, support 1 (item 1), predicted 2 (items 2, 3) -> fp 2, fn 1, tn 1;
 * a: tp 1, support 2, predicted 1 -> fp 0, fn 1, tn 2. micro over b, a:
 * tp 1 / predicted 3 / true 3 = 1/3. Accuracy ignores the list: 1/4.
 * Balanced accuracy ignores it too: recalls a 1/2, b 0, c 0 -> 1/6. */
static void test_label_subset(void **state) {
    (void)state;
    const char *gold[] = {"a", "b", "c", "a"}, *pred[] = {"a", "c", "b", "b"}, *labels[] = {"b", "a"};
    onc_cls_opts o;
    onc_cls_opts_default(&o);
    o.labels = labels, o.n_labels = 2;
    onc_cls_result *r = eval(gold, pred, 4, &o);
    const int64_t want[4] = {0, 0, 1, 1};
    assert_memory_equal(r->confusion, want, sizeof want);
    assert_int_equal(r->n_in_matrix, 2);
    assert_string_equal(r->classes[0].label, "b");
    counts(&r->classes[0], 0, 2, 1, 1);
    counts(&r->classes[1], 1, 0, 1, 2);
    NEAR(r->micro.precision.value, 1.0 / 3), NEAR(r->micro.recall.value, 1.0 / 3);
    NEAR(r->accuracy, 0.25);
    NEAR(r->balanced_accuracy, 1.0 / 6);
    onc_cls_result_free(r);

    /* an unseen label in the list: a zero row and column */
    const char *more[] = {"c", "unseen", "a", "b"};
    o.labels = more, o.n_labels = 4;
    r = eval(gold, pred, 4, &o);
    assert_int_equal(r->n_in_matrix, 4);
    counts(cls(r, "unseen"), 0, 0, 0, 4);
    for (int j = 0; j < 4; j++) assert_int_equal(r->confusion[1 * 4 + j] + r->confusion[j * 4 + 1], 0);
    onc_cls_result_free(r);
}

/* Label order: all numbers -> numeric ("-1" < "2.5" < "9" < "10"; "1" and
 * "1.0" are two labels, tie broken by strcmp); one non-number -> bytes. */
static void test_label_order(void **state) {
    (void)state;
    const char *g[] = {"10", "9", "2.5", "-1", "1.0", "1"};
    onc_cls_result *r = eval(g, g, 6, NULL);
    assert_true(r->numeric_order);
    const char *want[] = {"-1", "1", "1.0", "2.5", "9", "10"};
    for (int j = 0; j < 6; j++) assert_string_equal(r->classes[j].label, want[j]);
    onc_cls_result_free(r);

    const char *g2[] = {"10", "9", "x", "1e3", "Inf"};
    r = eval(g2, g2, 5, NULL);
    assert_false(r->numeric_order);
    const char *want2[] = {"10", "1e3", "9", "Inf", "x"};
    for (int j = 0; j < 5; j++) assert_string_equal(r->classes[j].label, want2[j]);
    onc_cls_result_free(r);

    double v;
    assert_true(cls_parse_number("1e3", &v) && v == 1000);
    assert_true(cls_parse_number("+.5", &v) && v == 0.5);
    assert_true(cls_parse_number("5.", &v) && v == 5);
    assert_false(cls_parse_number("1e999", &v)); /* not finite */
    assert_false(cls_parse_number("nan", &v) || cls_parse_number(" 1", &v) || cls_parse_number("0x10", &v));
    assert_false(cls_parse_number("", &v) || cls_parse_number(".", &v) || cls_parse_number("1e", &v));
}

/* Kappa of y1 = [0,0,0,1,1,2], y2 = [0,1,2,1,1,2]:
 * C = [[1,1,1],[0,2,0],[0,0,1]], row sums [3,2,1], column sums [1,3,2], N = 6,
 * E[i][j] = col[i] row[j] / 6 = [[.5, 1/3, 1/6], [1.5, 1, .5], [1, 2/3, 1/3]].
 * none: sum(wC) = 2, sum(wE) = 25/6 -> 1 - 12/25 = 0.52 (po 4/6, pe 11/36);
 * sklearn 1.2.1 gives 0.5199999999999999, which must come out bit for bit.
 * linear: 3 / (16/3) -> 1 - 9/16 = 0.4375. quadratic: 5 / (23/3) -> 8/23. */
static void test_kappa(void **state) {
    (void)state;
    const char *y1[] = {"0", "0", "0", "1", "1", "2"}, *y2[] = {"0", "1", "2", "1", "1", "2"};
    onc_cls_result *r = eval(y1, y2, 6, NULL);
    assert_true(r->kappa[ONC_KAPPA_NONE].value == 0.5199999999999999);
    NEAR(r->kappa[ONC_KAPPA_LINEAR].value, 0.4375);
    NEAR(r->kappa[ONC_KAPPA_QUADRATIC].value, 8.0 / 23);
    assert_true(r->kappa[ONC_KAPPA_QUADRATIC].defined);
    onc_cls_result_free(r);
    double k;
    onc_error err = {0};
    assert_int_equal(onc_cls_kappa(y1, y2, 6, NULL, 0, ONC_KAPPA_LINEAR, &k, &err), ONC_OK);
    NEAR(k, 0.4375);
    /* swapping the raters changes nothing */
    assert_int_equal(onc_cls_kappa(y2, y1, 6, NULL, 0, ONC_KAPPA_QUADRATIC, &k, &err), ONC_OK);
    NEAR(k, 8.0 / 23);
    /* the label order sets the weights: order 2, 0, 1 makes |i-j| different */
    const char *order[] = {"2", "0", "1"};
    assert_int_equal(onc_cls_kappa(y1, y2, 6, order, 3, ONC_KAPPA_NONE, &k, &err), ONC_OK);
    NEAR(k, 0.52); /* unweighted: order does not matter */
    /* in order 2, 0, 1: C' = [[1,0,0],[1,1,1],[0,0,2]], row sums [1,3,2],
     * column sums [2,1,3], E'[i][j] = col[i] row[j] / 6. Linear: sum(wC') =
     * C'[1][0] + C'[1][2] = 2; sum(wE') = (1*6 + 2*4 + 1*1 + 1*2 + 2*3 + 1*9)/6
     * = 32/6 -> 1 - 2/(32/6) = 0.625 */
    assert_int_equal(onc_cls_kappa(y1, y2, 6, order, 3, ONC_KAPPA_LINEAR, &k, &err), ONC_OK);
    NEAR(k, 0.625);

    /* both raters used one class: expected disagreement 0 -> 0/0 = NaN as sklearn */
    const char *same[] = {"a", "a", "a"};
    assert_int_equal(onc_cls_kappa(same, same, 3, NULL, 0, ONC_KAPPA_NONE, &k, &err), ONC_OK);
    assert_true(isnan(k));
    r = eval(same, same, 3, NULL);
    assert_false(r->kappa[ONC_KAPPA_LINEAR].defined);
    assert_true(isnan(r->kappa[ONC_KAPPA_LINEAR].value));
    onc_cls_result_free(r);
    /* disjoint single classes: C = [[0,3],[0,0]], E = [[0,0],[3,0]] -> 1 - 3/3 = 0 */
    const char *other[] = {"b", "b", "b"};
    assert_int_equal(onc_cls_kappa(same, other, 3, NULL, 0, ONC_KAPPA_NONE, &k, &err), ONC_OK);
    NEAR(k, 0);
    assert_int_equal(onc_kappa_weights_parse("quadratic"), ONC_KAPPA_QUADRATIC);
    assert_int_equal(onc_kappa_weights_parse("cubic"), -1);
    assert_string_equal(onc_kappa_weights_name(ONC_KAPPA_LINEAR), "linear");
}

/* A single class all correct: P = R = F = 1 for it, accuracy 1, balanced
 * accuracy 1, adjusted (1 - 1)/(1 - 1) = 0/0 = NaN (numpy too); no negatives,
 * so specificity is 0/0. All wrong between two classes: gold [p, n, p, n],
 * pred [n, p, n, p]: C (rows n, p) = [[0, 2], [2, 0]], row and column sums
 * [2, 2], E = 2*2/4 = 1 everywhere; unweighted sum(wC) = 4, sum(wE) = 2 ->
 * kappa 1 - 4/2 = -1. */
static void test_single_all_correct_all_wrong(void **state) {
    (void)state;
    const char *one[] = {"x", "x", "x"};
    onc_cls_result *r = eval(one, one, 3, NULL);
    assert_int_equal(r->n_labels, 1);
    NEAR(r->accuracy, 1), NEAR(r->balanced_accuracy, 1);
    assert_true(isnan(r->balanced_accuracy_adjusted));
    NEAR(r->macro.f1.value, 1), NEAR(r->micro.f1.value, 1), NEAR(r->weighted.f1.value, 1);
    counts(&r->classes[0], 3, 0, 0, 0);
    assert_false(r->classes[0].specificity.defined); /* no negatives */
    onc_cls_result_free(r);

    const char *g[] = {"p", "n", "p", "n"}, *p[] = {"n", "p", "n", "p"};
    r = eval(g, p, 4, NULL);
    NEAR(r->accuracy, 0), NEAR(r->balanced_accuracy, 0), NEAR(r->macro.f1.value, 0);
    NEAR(r->kappa[ONC_KAPPA_NONE].value, -1);
    onc_cls_result_free(r);
}

/* A NULL prediction is "(missing)", a label of its own that is always wrong:
 * gold [a, b, a], pred [a, NULL, NULL]: labels "(missing)" < "a" < "b";
 * "(missing)": tp 0 fp 2 -> P 0 (defined), R 0/0 undefined; accuracy 1/3. */
static void test_missing_prediction(void **state) {
    (void)state;
    const char *gold[] = {"a", "b", "a"}, *pred[] = {"a", NULL, NULL};
    onc_cls_result *r = eval(gold, pred, 3, NULL);
    assert_string_equal(r->classes[0].label, ONC_CLS_MISSING);
    counts(&r->classes[0], 0, 2, 0, 1);
    assert_true(r->classes[0].precision.defined);
    assert_false(r->classes[0].recall.defined);
    NEAR(r->accuracy, 1.0 / 3);
    /* balanced accuracy over gold labels a (1/2) and b (0): 0.25 */
    NEAR(r->balanced_accuracy, 0.25);
    onc_cls_result_free(r);
}

static void expect_cls_error(const char *const *g, const char *const *p, size_t n, const onc_cls_opts *o,
                             const char *needle) {
    onc_error err = {0};
    assert_null(onc_cls_evaluate(g, p, n, o, &err));
    assert_int_equal(err.code, ONC_ERR_INVALID);
    if (!strstr(err.msg, needle)) fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.msg, needle);
    assert_non_null(strstr(err.msg, needle));
}

static void test_errors(void **state) {
    (void)state;
    const char *g[] = {"a", "b", "c"}, *p[] = {"a", "b", "c"};
    onc_cls_opts o;
    onc_cls_opts_default(&o);
    expect_cls_error(g, p, 0, NULL, "no items");
    expect_cls_error(NULL, p, 3, NULL, "NULL");
    const char *gnull[] = {"a", NULL};
    expect_cls_error(gnull, p, 2, NULL, "item 1");
    const char *gmiss[] = {ONC_CLS_MISSING};
    expect_cls_error(gmiss, p, 1, NULL, "reserved");
    const char *dup[] = {"a", "b", "a"};
    o.labels = dup, o.n_labels = 3;
    expect_cls_error(g, p, 3, &o, "listed twice");
    o.n_labels = 0;
    expect_cls_error(g, p, 3, &o, "empty");
    const char *none[] = {"z"};
    o.labels = none, o.n_labels = 1;
    expect_cls_error(g, p, 3, &o, "none of the 1 listed labels");
    onc_cls_opts_default(&o);
    o.zero_division = 0.5;
    expect_cls_error(g, p, 3, &o, "zero_division");
    onc_cls_opts_default(&o);
    o.pos_label = "a";
    expect_cls_error(g, p, 3, &o, "binary"); /* three labels */
    o.pos_label = "z";
    expect_cls_error(g, p, 2, &o, "not one of"); /* two labels, z is neither */
    /* too many labels for a confusion matrix */
    enum { BIG = 4097 };
    char(*names)[16] = malloc(BIG * sizeof *names);
    const char **many = malloc(BIG * sizeof *many);
    for (int i = 0; i < BIG; i++) snprintf(names[i], sizeof names[i], "l%d", i), many[i] = names[i];
    expect_cls_error(many, many, BIG, NULL, "too many");
    free(names), free(many);
    double k;
    onc_error err = {0};
    const char *pnull[] = {"a", NULL};
    assert_int_equal(onc_cls_kappa(g, pnull, 2, NULL, 0, ONC_KAPPA_NONE, &k, &err), ONC_ERR_INVALID);
    assert_int_equal(onc_cls_kappa(g, p, 3, NULL, 0, (onc_kappa_weights)7, &k, &err), ONC_ERR_INVALID);
    assert_int_equal(onc_cls_kappa(g, p, 3, NULL, 0, ONC_KAPPA_NONE, &k, NULL), ONC_OK); /* err may be NULL */
}

/* ---- multi-label ------------------------------------------------------------------------------- */

#define SET(...) ((onc_label_set){(const char *const[]){__VA_ARGS__}, N_OF(((const char *const[]){__VA_ARGS__}))})
#define EMPTY ((onc_label_set){NULL, 0})

static onc_ml_result *ml(const onc_label_set *g, const onc_label_set *p, size_t n, const onc_ml_opts *o) {
    onc_error err = {0};
    onc_ml_result *r = onc_ml_evaluate(g, p, n, o, &err);
    if (!r) fprintf(stderr, "onc_ml_evaluate: %s\n", err.msg);
    assert_non_null(r);
    return r;
}

/* precision_score / recall_score / f1_score docstrings (multilabel):
 * y_true = [[0,0,0],[1,1,1],[0,1,1]], y_pred = [[0,0,0],[1,1,1],[1,1,0]]:
 * precision [0.5, 1, 1], recall [1, 1, 0.5], f1 [0.66666667, 1, 0.66666667].
 * multilabel_confusion_matrix docstring: y_true [[1,0,1],[0,1,0]], y_pred
 * [[1,0,0],[0,1,1]] -> label 0 [[1,0],[0,1]], 1 [[1,0],[0,1]], 2 [[0,1],[1,0]].
 * accuracy_score docstring: accuracy_score([[0,1],[1,1]], ones((2,2))) = 0.5;
 * hamming_loss docstring: hamming_loss([[0,1],[1,1]], zeros((2,2))) = 0.75. */
static void test_ml_docstrings(void **state) {
    (void)state;
    onc_label_set g[] = {EMPTY, SET("0", "1", "2"), SET("1", "2")};
    onc_label_set p[] = {EMPTY, SET("0", "1", "2"), SET("0", "1")};
    onc_ml_result *r = ml(g, p, 3, NULL);
    const double P[] = {0.5, 1, 1}, R[] = {1, 1, 0.5}, F[] = {2.0 / 3, 1, 2.0 / 3};
    for (int j = 0; j < 3; j++)
        NEAR(r->labels[j].precision.value, P[j]), NEAR(r->labels[j].recall.value, R[j]),
            NEAR(r->labels[j].f1.value, F[j]);
    assert_true(fabs(r->labels[0].f1.value - 0.66666667) < 1e-8);
    onc_ml_result_free(r);

    onc_label_set g2[] = {SET("0", "2"), SET("1")}, p2[] = {SET("0"), SET("1", "2")};
    r = ml(g2, p2, 2, NULL);
    counts(&r->labels[0], 1, 0, 0, 1), counts(&r->labels[1], 1, 0, 0, 1), counts(&r->labels[2], 0, 1, 1, 0);
    onc_ml_result_free(r);

    onc_label_set g3[] = {SET("1"), SET("0", "1")}, ones[] = {SET("0", "1"), SET("0", "1")}, zeros[] = {EMPTY, EMPTY};
    r = ml(g3, ones, 2, NULL);
    NEAR(r->subset_accuracy, 0.5);
    assert_int_equal(r->n_exact, 1);
    onc_ml_result_free(r);
    r = ml(g3, zeros, 2, NULL);
    NEAR(r->hamming_loss, 0.75);
    onc_ml_result_free(r);
}

/* Samples average with empty sets: gold [{a}, {}, {b}], pred [{a}, {}, {}].
 * zd 0 (sklearn 1.2.1 default): item 0 P = R = F = 1; item 1 (both empty)
 * 0, 0, 0; item 2 P 0/0 -> 0, R 0/1 = 0, F 0 -> samples P = R = F = 1/3.
 * zd 1: item 1 1, 1, 1; item 2 P 1, R 0, F 2*1*0/1 = 0 -> P 1, R 2/3, F 2/3.
 * Per label: a tp 1 tn 2; b fn 1 tn 2 -> P(b) undefined. micro tp 1,
 * predicted 1, true 2 -> P 1, R 1/2, F 2/3. Hamming: 1 cell of 6. */
static void test_ml_samples_empty(void **state) {
    (void)state;
    onc_label_set g[] = {SET("a"), EMPTY, SET("b")}, p[] = {SET("a"), EMPTY, EMPTY};
    onc_ml_result *r = ml(g, p, 3, NULL);
    NEAR(r->samples.precision.value, 1.0 / 3), NEAR(r->samples.recall.value, 1.0 / 3);
    NEAR(r->samples.f1.value, 1.0 / 3);
    assert_false(r->samples.precision.defined || r->samples.recall.defined || r->samples.f1.defined);
    NEAR(r->micro.precision.value, 1), NEAR(r->micro.recall.value, 0.5), NEAR(r->micro.f1.value, 2.0 / 3);
    counts(&r->labels[0], 1, 0, 0, 2), counts(&r->labels[1], 0, 0, 1, 2);
    assert_false(r->labels[1].precision.defined);
    NEAR(r->hamming_loss, 1.0 / 6), NEAR(r->subset_accuracy, 2.0 / 3);
    NEAR(r->labels[1].accuracy, 2.0 / 3);
    onc_ml_result_free(r);

    onc_ml_opts o;
    onc_ml_opts_default(&o);
    o.zero_division = 1;
    r = ml(g, p, 3, &o);
    NEAR(r->samples.precision.value, 1), NEAR(r->samples.recall.value, 2.0 / 3), NEAR(r->samples.f1.value, 2.0 / 3);
    onc_ml_result_free(r);
}

/* Repeated labels count once; an explicit universe ignores other labels:
 * gold [{a, a, x}], pred [{a, y, y}] with universe [z, a]: x and y are
 * unknown (2 occurrences after de-duplication), a is a hit, z unseen. */
static void test_ml_universe(void **state) {
    (void)state;
    onc_label_set g[] = {SET("a", "a", "x")}, p[] = {SET("a", "y", "y")};
    onc_ml_result *r = ml(g, p, 1, NULL);
    assert_int_equal(r->n_labels, 3);
    counts(&r->labels[0], 1, 0, 0, 0);
    assert_int_equal(r->n_exact, 0);
    onc_ml_result_free(r);

    const char *u[] = {"z", "a"};
    onc_ml_opts o;
    onc_ml_opts_default(&o);
    o.labels = u, o.n_labels = 2;
    r = ml(g, p, 1, &o);
    assert_int_equal(r->n_unknown, 2);
    assert_string_equal(r->labels[0].label, "z");
    counts(&r->labels[0], 0, 0, 0, 1), counts(&r->labels[1], 1, 0, 0, 0);
    assert_int_equal(r->n_exact, 1); /* equal within the universe */
    NEAR(r->hamming_loss, 0);
    assert_int_equal(onc_ml_find(r, "a"), 1);
    assert_int_equal(onc_ml_find(r, "x"), -1);
    onc_ml_result_free(r);

    /* numeric labels sort as numbers unless byte_order */
    onc_label_set gn[] = {SET("10", "9")}, pn[] = {SET("2")};
    r = ml(gn, pn, 1, NULL);
    assert_true(r->numeric_order);
    assert_string_equal(r->labels[0].label, "2"), assert_string_equal(r->labels[2].label, "10");
    onc_ml_result_free(r);
    onc_ml_opts_default(&o);
    o.byte_order = true;
    r = ml(gn, pn, 1, &o);
    assert_false(r->numeric_order);
    assert_string_equal(r->labels[0].label, "10");
    onc_ml_result_free(r);
}

static void test_ml_errors(void **state) {
    (void)state;
    onc_error err = {0};
    onc_label_set e[] = {EMPTY, EMPTY};
    assert_null(onc_ml_evaluate(e, e, 2, NULL, &err));
    assert_non_null(strstr(err.msg, "no label"));
    onc_label_set g[] = {SET("a")};
    assert_null(onc_ml_evaluate(g, g, 0, NULL, &err));
    assert_non_null(strstr(err.msg, "no items"));
    onc_label_set bad[] = {{NULL, 2}};
    assert_null(onc_ml_evaluate(g, bad, 1, NULL, &err));
    assert_non_null(strstr(err.msg, "no array"));
    onc_label_set holey[] = {SET("a", NULL)};
    assert_null(onc_ml_evaluate(holey, g, 1, NULL, &err));
    assert_non_null(strstr(err.msg, "NULL"));
    onc_ml_opts o;
    onc_ml_opts_default(&o);
    const char *dup[] = {"a", "a"};
    o.labels = dup, o.n_labels = 2;
    assert_null(onc_ml_evaluate(g, g, 1, &o, &err));
    assert_non_null(strstr(err.msg, "twice"));
    onc_ml_opts_default(&o);
    o.zero_division = -1;
    assert_null(onc_ml_evaluate(g, g, 1, &o, &err));
    assert_int_equal(err.code, ONC_ERR_INVALID);
}

/* ---- ICD-10 --------------------------------------------------------------------------------- */

static void norm_is(const char *in, const char *want, bool valid) {
    char out[64];
    const bool v = onc_icd10_normalize(in, out);
    if (strcmp(out, want) != 0 || v != valid) fprintf(stderr, "\"%s\" -> \"%s\" %d\n", in, out, v);
    assert_string_equal(out, want);
    assert_int_equal(v, valid);
}

static void test_icd10_normalize(void **state) {
    (void)state;
    norm_is("c341", "C34.1", true);
    norm_is(" C34. ", "C34", true);
    norm_is("c3.41", "C34.1", true);
    norm_is("C34.90", "C34.90", true);
    norm_is("s72001a", "S72.001A", true);
    norm_is("C7A01", "C7A.01", true);
    norm_is("\tz51.11\n", "Z51.11", true);
    norm_is("C34..1", "C34..1", false); /* two dots: left alone */
    norm_is("C3", "C3", false);
    norm_is("34.1", "341", false);
    norm_is("", "", false);
    norm_is("   ", "", false);
    norm_is("C34.12345", "C34.12345", false); /* 5 characters after the dot */
    norm_is("C 34", "C 3.4", false);
    norm_is("CA1", "CA1", false);
    norm_is("aa4\t.", "AA4", false); /* white space uncovered by the dot is trimmed (found by fuzz_codes) */
    norm_is(". c34", "C34", true);
    norm_is("c3\xc3\xa4" "1", "C3\xc3\xa4" ".1", false); /* the dot after the 3rd character, not byte */
}

/* gold [{C34.1, C50.9}], pred [{c341, C50.2, XYZ}]:
 * codes: tp C34.1; fp C50.2, XYZ; fn C50.9 -> micro P 1/3, R 1/2,
 * F (2 * 1/3) * 1/2 / (5/6) = 0.4; XYZ invalid (1 predicted).
 * categories: gold {C34, C50}, pred {C34, C50, XYZ} -> P 2/3, R 1, F 0.8. */
static void test_icd10_metrics(void **state) {
    (void)state;
    onc_label_set g[] = {SET("C34.1", "C50.9")}, p[] = {SET("c341", "C50.2", "XYZ", "C34.1")};
    onc_error err = {0};
    onc_icd10_result *r = onc_icd10_evaluate(g, p, 1, 0, &err);
    assert_non_null(r);
    NEAR(r->code->micro.precision.value, 1.0 / 3), NEAR(r->code->micro.recall.value, 0.5);
    NEAR(r->code->micro.f1.value, 0.4);
    NEAR(r->code->samples.f1.value, 0.4);
    assert_int_equal(r->n_invalid_pred, 1);
    assert_int_equal(r->n_invalid_gold, 0);
    const int64_t x = onc_ml_find(r->code, "XYZ");
    assert_true(x >= 0);
    assert_false(r->code_valid[x]);
    assert_true(r->code_valid[onc_ml_find(r->code, "C34.1")]);
    NEAR(r->category->micro.precision.value, 2.0 / 3), NEAR(r->category->micro.recall.value, 1);
    NEAR(r->category->micro.f1.value, 0.8);
    assert_int_equal(r->category->n_labels, 3);
    NEAR(r->code->subset_accuracy, 0);
    onc_icd10_result_free(r);

    onc_label_set e[] = {EMPTY};
    assert_null(onc_icd10_evaluate(e, e, 1, 0, &err));
    assert_int_equal(err.code, ONC_ERR_INVALID);
    assert_null(onc_icd10_evaluate(g, p, 1, 2, &err));
}

/* ---- field extraction ------------------------------------------------------------------------ */

/* fields [nausea, fatigue], 3 items (NULL = missing):
 *   gold  (1, 0) (2, 1) (NULL, 0);  pred (1, NULL) (1, 1) (3, 0)
 * nausea: items 0, 1 -> gold [1, 2], pred [1, 1]: accuracy 1/2; class 1
 *   P 1/2 R 1 F 2/3, class 2 P 0/0 R 0 F 0 -> macro F1 1/3.
 * fatigue: gold [0, 1, 0], pred [(missing), 1, 0]: accuracy 2/3 (every
 *   item); classes are the real values only ("(missing)" is not a class):
 *   "0" P 1 R 1/2 F 2/3, "1" F 1 -> macro F1 5/6.
 * means: accuracy 7/12, macro F1 7/12. */
static void test_extract(void **state) {
    (void)state;
    const char *fields[] = {"nausea", "fatigue"};
    const char *gold[] = {"1", "0", "2", "1", NULL, "0"};
    const char *pred[] = {"1", NULL, "1", "1", "3", "0"};
    onc_error err = {0};
    onc_extract_result *r = onc_extract_evaluate(fields, 2, gold, pred, 3, 0, &err);
    assert_non_null(r);
    assert_string_equal(r->fields[0].name, "nausea");
    assert_int_equal(r->fields[0].n_items, 2), assert_int_equal(r->fields[1].n_items, 3);
    assert_int_equal(r->fields[0].n_missing, 0), assert_int_equal(r->fields[1].n_missing, 1);
    NEAR(r->fields[0].cls->accuracy, 0.5), NEAR(r->fields[0].cls->macro.f1.value, 1.0 / 3);
    NEAR(r->fields[1].cls->accuracy, 2.0 / 3), NEAR(r->fields[1].cls->macro.f1.value, 5.0 / 6);
    assert_int_equal(r->fields[1].cls->n_labels, 2);
    assert_string_equal(r->fields[1].cls->classes[0].label, "0");
    NEAR(r->mean_accuracy, 7.0 / 12), NEAR(r->mean_macro_f1, 7.0 / 12);
    onc_extract_result_free(r);

    const char *g_none[] = {NULL, "0", NULL, "1", NULL, "0"};
    assert_null(onc_extract_evaluate(fields, 2, g_none, pred, 3, 0, &err));
    assert_non_null(strstr(err.msg, "nausea"));
    const char *g_miss[] = {"1", ONC_CLS_MISSING, "2", "1", "3", "0"};
    assert_null(onc_extract_evaluate(fields, 2, g_miss, pred, 3, 0, &err));
    assert_non_null(strstr(err.msg, "fatigue"));
    const char *dup[] = {"a", "a"};
    assert_null(onc_extract_evaluate(dup, 2, gold, pred, 3, 0, &err));
    assert_null(onc_extract_evaluate(fields, 2, gold, pred, 0, 0, &err));
    assert_null(onc_extract_evaluate(fields, 0, gold, pred, 3, 0, &err));
}

/* ---- numpy's summation ------------------------------------------------------------------------- */

/* Fixtures computed with numpy 1.24 (Debian 12): np.sum([1e16] + [1.0]*8) =
 * 1.0000000000000008e16 (plain left-to-right: 1e16); np.sum([0.1]*10) = 1.0
 * (plain: 0.9999999999999999); np.sum([0.1]*200) = 20.0 (plain:
 * 20.000000000000014); np.sum([0.1]*20000) = 2000.0000000000005 (8192-blocks). */
static void test_numpy_sum(void **state) {
    (void)state;
    double a[9] = {1e16, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_true(cls_np_sum(a, 9) == 1.0000000000000008e16);
    double *b = malloc(20000 * sizeof *b);
    for (int i = 0; i < 20000; i++) b[i] = 0.1;
    assert_true(cls_np_sum(b, 10) == 1.0);
    assert_true(cls_np_sum(b, 200) == 20.0);
    assert_true(cls_np_sum(b, 20000) == 2000.0000000000005);
    assert_true(cls_np_mean(b, 20000) == 0.10000000000000002);
    assert_true(isnan(cls_np_mean(b, 0)));
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docstring_prfs),
        cmocka_unit_test(test_docstring_zero_division),
        cmocka_unit_test(test_docstring_balanced_accuracy),
        cmocka_unit_test(test_docstring_confusion),
        cmocka_unit_test(test_zero_division_flags),
        cmocka_unit_test(test_label_subset),
        cmocka_unit_test(test_label_order),
        cmocka_unit_test(test_kappa),
        cmocka_unit_test(test_single_all_correct_all_wrong),
        cmocka_unit_test(test_missing_prediction),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_ml_docstrings),
        cmocka_unit_test(test_ml_samples_empty),
        cmocka_unit_test(test_ml_universe),
        cmocka_unit_test(test_ml_errors),
        cmocka_unit_test(test_icd10_normalize),
        cmocka_unit_test(test_icd10_metrics),
        cmocka_unit_test(test_extract),
        cmocka_unit_test(test_numpy_sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
