/* test_enc_losses.c — oncolm/enc_losses.h:
 *   - onc_pool_bwd against central finite differences of onc_pool_fwd
 *     (MEAN, CLS, LAST; packed sequences of different lengths), and that it
 *     accumulates;
 *   - onc_mnrl_loss: gradients against finite differences (plain and
 *     symmetric, with hard negatives, grad_scale, accumulation, NULL
 *     outputs); the loss of a worked case; scale invariance of the inputs;
 *   - onc_mlm_mask: statistics over 100k tokens (15 % selected, 80/10/10),
 *     specials never selected, labels, determinism for a seed;
 *   - onc_class_weights_balanced: worked examples (scikit-learn's formula);
 *   - onc_resample_indices: counts (OVER to the largest class, UNDER to the
 *     smallest), grouping, originals kept, no duplicates in UNDER,
 *     determinism, errors.
 * The numpy oracle (tests/oracle/test_enc_losses_oracle.py) checks the
 * values of the loss and pooling against the formulas. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/enc_losses.h"
#include "oncolm/rng.h"

static float frand(onc_rng *r) { return (float)((double)(onc_rng_next(r) >> 11) * 0x1.0p-53 * 2.0 - 1.0); }

static void fill(float *x, int64_t n, onc_rng *r, float amp) {
    for (int64_t i = 0; i < n; i++) x[i] = amp * frand(r);
}

// --- pooling -----------------------------------------------------------------------

/* sum_s,e w[s][e] * pool(h)[s][e] in double */
static double pool_obj(onc_pooling pl, const float *h, const float *w, const int32_t *st, const int32_t *len,
                       int32_t ns, int64_t E) {
    float out[4 * 8];
    onc_pool_fwd(pl, out, h, st, len, ns, E);
    double s = 0;
    for (int64_t i = 0; i < ns * E; i++) s += (double)w[i] * out[i];
    return s;
}

static void test_pool_grad(void **state) {
    (void)state;
    const int32_t st[4] = {0, 1, 6, 9}, len[4] = {1, 5, 3, 4}; /* T = 13 */
    const int32_t ns = 4;
    const int64_t E = 8, T = 13;
    const onc_pooling pools[3] = {ONC_POOLING_MEAN, ONC_POOLING_CLS, ONC_POOLING_LAST};
    onc_rng r;
    onc_rng_seed(&r, 7);
    float h[13 * 8], w[4 * 8], dh[13 * 8];
    fill(h, T * E, &r, 1.0f);
    fill(w, ns * E, &r, 1.0f);
    for (int p = 0; p < 3; p++) {
        for (int64_t i = 0; i < T * E; i++) dh[i] = 0.25f; /* accumulates on top */
        onc_pool_bwd(pools[p], dh, w, st, len, ns, E);
        int touched = 0;
        for (int64_t i = 0; i < T * E; i++) {
            const float keep = h[i], eps = 1e-2f;
            h[i] = keep + eps;
            const double up = pool_obj(pools[p], h, w, st, len, ns, E);
            h[i] = keep - eps;
            const double dn = pool_obj(pools[p], h, w, st, len, ns, E);
            h[i] = keep;
            const double fd = (up - dn) / (2.0 * eps), got = dh[i] - 0.25;
            if (fabs(got - fd) > 1e-4 + 1e-3 * fabs(fd))
                fail_msg("pooling %d: dh[%lld] = %.7g, finite difference %.7g", (int)pools[p], (long long)i, got, fd);
            touched += got != 0;
        }
        /* MEAN touches every row, CLS and LAST one row per sequence */
        assert_int_equal(touched, pools[p] == ONC_POOLING_MEAN ? T * E : ns * E);
    }
    /* the forward values themselves */
    float out[4 * 8];
    onc_pool_fwd(ONC_POOLING_LAST, out, h, st, len, ns, E);
    assert_memory_equal(out + 2 * E, h + 8 * E, E * sizeof(float));
    onc_pool_fwd(ONC_POOLING_CLS, out, h, st, len, ns, E);
    assert_memory_equal(out + 1 * E, h + 1 * E, E * sizeof(float));
    onc_pool_fwd(ONC_POOLING_MEAN, out, h, st, len, ns, E);
    assert_float_equal(out[2 * E + 3], (h[6 * E + 3] + h[7 * E + 3] + h[8 * E + 3]) / 3.0f, 1e-6);
}

// --- MNRL ---------------------------------------------------------------------------

/* Check da and dc of onc_mnrl_loss against central differences; returns
 * the largest error relative to the gradient's largest magnitude. */
static double mnrl_fd_check(int32_t n, int32_t m, int64_t E, float scale, bool sym, float gs, uint64_t seed) {
    onc_rng r;
    onc_rng_seed(&r, seed);
    float *a = malloc((size_t)(n * E) * sizeof *a), *c = malloc((size_t)(m * E) * sizeof *c);
    float *da = malloc((size_t)(n * E) * sizeof *da), *dc = malloc((size_t)(m * E) * sizeof *dc);
    assert_non_null(a), assert_non_null(c), assert_non_null(da), assert_non_null(dc);
    fill(a, n * E, &r, 1.0f);
    fill(c, m * E, &r, 1.0f);
    /* positives somewhat near their anchors: the loss is neither flat nor saturated */
    for (int64_t i = 0; i < n * E; i++) c[i] = 0.3f * a[i] + 0.7f * c[i];
    memset(da, 0, (size_t)(n * E) * sizeof *da);
    memset(dc, 0, (size_t)(m * E) * sizeof *dc);
    const double loss = onc_mnrl_loss(a, c, n, m, E, scale, sym, gs, da, dc);
    assert_true(isfinite(loss) && loss > 0);
    /* accumulation: the same gradients added to what is there */
    float *acc = malloc((size_t)(m * E) * sizeof *acc);
    assert_non_null(acc);
    for (int64_t i = 0; i < m * E; i++) acc[i] = 1.0f;
    assert_float_equal(onc_mnrl_loss(a, c, n, m, E, scale, sym, gs, NULL, acc), loss, 0);
    for (int64_t i = 0; i < m * E; i++) assert_true(acc[i] == 1.0f + dc[i]);
    free(acc);
    double gmax = 0, emax = 0;
    for (int which = 0; which < 2; which++) {
        float *x = which ? c : a, *g = which ? dc : da;
        const int64_t cnt = (which ? m : n) * E;
        for (int64_t i = 0; i < cnt; i++) gmax = fmax(gmax, fabs(g[i]));
        for (int64_t i = 0; i < cnt; i++) {
            const float keep = x[i];
            x[i] = keep + 1e-3f;
            const double hu = (double)x[i] - keep, up = onc_mnrl_loss(a, c, n, m, E, scale, sym, gs, NULL, NULL);
            x[i] = keep - 1e-3f;
            const double hd = keep - (double)x[i], dn = onc_mnrl_loss(a, c, n, m, E, scale, sym, gs, NULL, NULL);
            x[i] = keep;
            const double fd = gs * (up - dn) / (hu + hd);
            emax = fmax(emax, fabs(g[i] - fd));
        }
    }
    assert_true(gmax > 0);
    free(a), free(c), free(da), free(dc);
    return emax / gmax;
}

static void test_mnrl_grad(void **state) {
    (void)state;
    static const struct {
        int32_t n, m;
        int64_t E;
        float scale, gs;
        bool sym;
    } cases[] = {
        {1, 3, 5, 20, 1, false},  {4, 4, 8, 20, 1, false}, {4, 10, 8, 20, 0.37f, false}, {3, 3, 6, 20, 1, true},
        {5, 11, 7, 20, 2.5f, true}, {6, 6, 16, 1, 1, true},  {2, 7, 4, 5, -0.5f, false},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const double e = mnrl_fd_check(cases[k].n, cases[k].m, cases[k].E, cases[k].scale, cases[k].sym, cases[k].gs,
                                       100 + k);
        print_message("mnrl n=%d m=%d E=%lld scale=%g sym=%d gs=%g: max |grad - fd| / max |grad| = %.2e\n",
                      (int)cases[k].n, (int)cases[k].m, (long long)cases[k].E, cases[k].scale, cases[k].sym,
                      cases[k].gs, e);
        if (!(e < 5e-4)) fail_msg("case %zu: gradient off by %.3g of its size", k, e);
    }
}

static void test_mnrl_values(void **state) {
    (void)state;
    /* Two orthogonal pairs, E = 2: S = 20 * I, loss = log(1 + e^-20). */
    const float a[4] = {1, 0, 0, 3}, c[4] = {2, 0, 0, 0.5f};
    double l = onc_mnrl_loss(a, c, 2, 2, 2, 20, false, 1, NULL, NULL);
    assert_float_equal(l, log1p(exp(-20.0)), 1e-15);
    l = onc_mnrl_loss(a, c, 2, 2, 2, 20, true, 1, NULL, NULL);
    assert_float_equal(l, log1p(exp(-20.0)), 1e-15);
    /* a hard negative equal to the positive of anchor 0: row 0 gets two
     * equal logits 20 and one 0 -> loss_0 = log(2 + e^-20); row 1 unchanged
     * but sees one more 0 logit: log(1 + 2 e^-20) */
    const float c3[6] = {2, 0, 0, 0.5f, 1, 0};
    l = onc_mnrl_loss(a, c3, 2, 3, 2, 20, false, 1, NULL, NULL);
    assert_float_equal(l, (log(2 + exp(-20.0)) + log1p(2 * exp(-20.0))) / 2, 1e-12);
    /* the symmetric term ignores the hard negatives */
    const double ls = onc_mnrl_loss(a, c3, 2, 3, 2, 20, true, 1, NULL, NULL);
    assert_float_equal(ls, (l + log1p(exp(-20.0))) / 2, 1e-12);
    /* one anchor, one candidate: loss 0, gradient 0 */
    float d1[2] = {0.5f, 0.5f};
    assert_float_equal(onc_mnrl_loss(a, c, 1, 1, 2, 20, true, 1, d1, NULL), 0.0, 0);
    assert_float_equal(d1[0], 0.5, 0), assert_float_equal(d1[1], 0.5, 0);
    /* invariance to the inputs' norms: cosine */
    onc_rng r;
    onc_rng_seed(&r, 3);
    float x[3 * 6], y[5 * 6], x2[3 * 6];
    fill(x, 18, &r, 1), fill(y, 30, &r, 1);
    for (int i = 0; i < 18; i++) x2[i] = x[i] * (i < 6 ? 7.0f : 0.125f);
    assert_float_equal(onc_mnrl_loss(x, y, 3, 5, 6, 20, true, 1, NULL, NULL),
                       onc_mnrl_loss(x2, y, 3, 5, 6, 20, true, 1, NULL, NULL), 1e-5);
    /* NULL outputs skipped independently */
    float dc[30] = {0}, dc2[30] = {0}, da[18] = {0};
    onc_mnrl_loss(x, y, 3, 5, 6, 20, false, 1, NULL, dc);
    onc_mnrl_loss(x, y, 3, 5, 6, 20, false, 1, da, dc2);
    assert_memory_equal(dc, dc2, sizeof dc);
}

// --- MLM masking -------------------------------------------------------------------------

static void test_mlm_mask(void **state) {
    (void)state;
    enum { N = 100000, V = 1000, MASK = 4 };
    int32_t *tok = malloc(N * sizeof *tok), *orig = malloc(N * sizeof *orig), *lab = malloc(N * sizeof *lab);
    int32_t *tok2 = malloc(N * sizeof *tok2), *lab2 = malloc(N * sizeof *lab2);
    assert_non_null(tok), assert_non_null(orig), assert_non_null(lab), assert_non_null(tok2), assert_non_null(lab2);
    bool special[V] = {false};
    for (int i = 0; i < 5; i++) special[i] = true; /* [PAD] [UNK] [CLS] [SEP] [MASK] */
    onc_rng r;
    onc_rng_seed(&r, 11);
    int64_t n_special = 0;
    for (int i = 0; i < N; i++) {
        orig[i] = i % 32 == 0 ? 2 : i % 32 == 31 ? 3 : 5 + (int32_t)(onc_rng_next(&r) % (V - 5));
        n_special += special[orig[i]];
    }
    memcpy(tok, orig, N * sizeof *tok);
    const int64_t k = onc_mlm_mask(tok, lab, N, special, V, MASK, 0.15f, 1234);
    int64_t sel = 0, masked = 0, randomized = 0, kept = 0;
    for (int i = 0; i < N; i++) {
        if (lab[i] == -1) {
            assert_int_equal(tok[i], orig[i]); /* untouched */
            continue;
        }
        assert_int_equal(lab[i], orig[i]);
        assert_false(special[orig[i]]);
        sel++;
        if (tok[i] == MASK) masked++;
        else if (tok[i] == orig[i]) kept++;
        else randomized++;
        assert_true(tok[i] >= 0 && tok[i] < V);
    }
    assert_int_equal(k, sel);
    const double frac = (double)sel / (double)(N - n_special);
    const double fm = (double)masked / sel, fr = (double)randomized / sel, fk = (double)kept / sel;
    print_message("mlm: %lld of %lld eligible selected (%.4f); mask %.4f random %.4f kept %.4f\n", (long long)sel,
                  (long long)(N - n_special), frac, fm, fr, fk);
    assert_true(fabs(frac - 0.15) < 0.005);
    assert_true(fabs(fm - 0.8) < 0.015);
    assert_true(fabs(fr - 0.1) < 0.012);
    assert_true(fabs(fk - 0.1) < 0.012);

    /* the same seed: the same result; another seed: another */
    memcpy(tok2, orig, N * sizeof *tok2);
    assert_int_equal(onc_mlm_mask(tok2, lab2, N, special, V, MASK, 0.15f, 1234), k);
    assert_memory_equal(tok, tok2, N * sizeof *tok);
    assert_memory_equal(lab, lab2, N * sizeof *lab);
    memcpy(tok2, orig, N * sizeof *tok2);
    onc_mlm_mask(tok2, lab2, N, special, V, MASK, 0.15f, 1235);
    assert_memory_not_equal(lab, lab2, N * sizeof *lab);
    /* a token's fate depends on its position only: a prefix masks the same */
    memcpy(tok2, orig, N * sizeof *tok2);
    onc_mlm_mask(tok2, lab2, 1000, special, V, MASK, 0.15f, 1234);
    assert_memory_equal(tok, tok2, 1000 * sizeof *tok);
    /* is_special NULL: specials are candidates too; p = 0: nothing; p = 1: all */
    memcpy(tok2, orig, N * sizeof *tok2);
    const int64_t k_all = onc_mlm_mask(tok2, lab2, N, NULL, V, MASK, 0.15f, 1234);
    int64_t sel_special = 0;
    for (int i = 0; i < N; i++) sel_special += lab2[i] >= 0 && special[orig[i]];
    assert_true(sel_special > 0 && k_all > k);
    memcpy(tok2, orig, N * sizeof *tok2);
    assert_int_equal(onc_mlm_mask(tok2, lab2, N, special, V, MASK, 0.0f, 1), 0);
    assert_memory_equal(tok2, orig, N * sizeof *tok2);
    memcpy(tok2, orig, N * sizeof *tok2);
    assert_int_equal(onc_mlm_mask(tok2, lab2, N, special, V, MASK, 1.0f, 1), N - n_special);
    free(tok), free(orig), free(lab), free(tok2), free(lab2);
}

// --- class imbalance ------------------------------------------------------------------------

static void test_class_weights(void **state) {
    (void)state;
    /* sklearn: compute_class_weight("balanced", classes=[0,1,2], y=[0,0,0,1,2,2])
     *   = 6 / (3 * [3, 1, 2]) = [0.6667, 2, 1] */
    const int32_t y[6] = {0, 0, 0, 1, 2, 2};
    float w[4];
    onc_class_weights_balanced(w, y, 6, 3);
    assert_float_equal(w[0], 2.0 / 3.0, 1e-7);
    assert_float_equal(w[1], 2.0, 1e-7);
    assert_float_equal(w[2], 1.0, 1e-7);
    /* a fourth class without examples: 7 / (4 * count), weight 0 for it */
    const int32_t y2[7] = {0, 0, 0, 0, 1, 1, 2};
    onc_class_weights_balanced(w, y2, 7, 4);
    assert_float_equal(w[0], 0.4375, 1e-7);
    assert_float_equal(w[1], 0.875, 1e-7);
    assert_float_equal(w[2], 1.75, 1e-7);
    assert_float_equal(w[3], 0.0, 0);
    /* sum_c w[c] count[c] = n * (non-empty classes) / C */
    assert_float_equal(4 * w[0] + 2 * w[1] + 1 * w[2], 7.0 * 3 / 4, 1e-6);
}

static void count_classes(const int64_t *idx, int64_t n, const int32_t *labels, int32_t C, int64_t *cnt) {
    memset(cnt, 0, (size_t)C * sizeof *cnt);
    for (int64_t i = 0; i < n; i++) cnt[labels[idx[i]]]++;
    for (int64_t i = 1; i < n; i++) assert_true(labels[idx[i]] >= labels[idx[i - 1]]); /* grouped, class 0 first */
}

static void test_resample(void **state) {
    (void)state;
    /* counts: class 0: 5, class 1: 2, class 2: 9, class 3: 0 */
    const int32_t y[16] = {2, 0, 2, 1, 2, 0, 2, 2, 0, 2, 1, 0, 2, 2, 0, 2};
    const int32_t C = 4;
    onc_error err = {0};
    int64_t *o = NULL, n = 0, cnt[4];

    assert_int_equal(onc_resample_indices(ONC_RESAMPLE_OVER, y, 16, C, 5, &o, &n, &err), ONC_OK);
    assert_int_equal(n, 27);
    count_classes(o, n, y, C, cnt);
    assert_int_equal(cnt[0], 9), assert_int_equal(cnt[1], 9), assert_int_equal(cnt[2], 9), assert_int_equal(cnt[3], 0);
    /* every original kept, in order, at the head of its class's group */
    int64_t pos = 0;
    for (int32_t c = 0; c < 3; c++) {
        int64_t k = 0;
        for (int64_t i = 0; i < 16; i++)
            if (y[i] == c) assert_int_equal(o[pos + k++], i);
        pos += 9;
    }
    int64_t *o2 = NULL, n2 = 0;
    assert_int_equal(onc_resample_indices(ONC_RESAMPLE_OVER, y, 16, C, 5, &o2, &n2, &err), ONC_OK);
    assert_int_equal(n2, n);
    assert_memory_equal(o, o2, (size_t)n * sizeof *o);
    free(o2);
    /* another seed draws other copies (class 1: 7 draws from 2 examples) */
    assert_int_equal(onc_resample_indices(ONC_RESAMPLE_OVER, y, 16, C, 6, &o2, &n2, &err), ONC_OK);
    assert_memory_not_equal(o, o2, (size_t)n * sizeof *o);
    free(o2);
    free(o);

    assert_int_equal(onc_resample_indices(ONC_RESAMPLE_UNDER, y, 16, C, 5, &o, &n, &err), ONC_OK);
    assert_int_equal(n, 6);
    count_classes(o, n, y, C, cnt);
    assert_int_equal(cnt[0], 2), assert_int_equal(cnt[1], 2), assert_int_equal(cnt[2], 2);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) assert_true(o[i] != o[j]);
    for (int64_t i = 1; i < n; i++)
        if (y[o[i]] == y[o[i - 1]]) assert_true(o[i] > o[i - 1]); /* originals in their order */
    assert_int_equal(o[2], 3), assert_int_equal(o[3], 10);        /* the smallest class whole */
    assert_int_equal(onc_resample_indices(ONC_RESAMPLE_UNDER, y, 16, C, 5, &o2, &n2, &err), ONC_OK);
    assert_memory_equal(o, o2, (size_t)n * sizeof *o);
    free(o2);
    free(o);
    /* UNDER over many seeds: every example of a large class gets kept sometimes */
    int hits[16] = {0};
    for (uint64_t s = 0; s < 200; s++) {
        assert_int_equal(onc_resample_indices(ONC_RESAMPLE_UNDER, y, 16, C, s, &o, &n, &err), ONC_OK);
        for (int64_t i = 0; i < n; i++) hits[o[i]]++;
        free(o);
    }
    for (int i = 0; i < 16; i++) assert_true(hits[i] > 0);
    assert_int_equal(hits[3], 200);

    assert_int_equal(onc_resample_indices(ONC_RESAMPLE_NONE, y, 16, C, 5, &o, &n, &err), ONC_OK);
    assert_int_equal(n, 16);
    for (int64_t i = 0; i < n; i++) assert_int_equal(o[i], i);
    free(o);

    const int32_t bad[3] = {0, 4, 1};
    assert_int_equal(onc_resample_indices(ONC_RESAMPLE_OVER, bad, 3, C, 5, &o, &n, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "label 4"));
    assert_null(o);
    assert_int_equal(onc_resample_indices(ONC_RESAMPLE_UNDER, y, 0, C, 5, &o, &n, &err), ONC_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_grad),   cmocka_unit_test(test_mnrl_grad),     cmocka_unit_test(test_mnrl_values),
        cmocka_unit_test(test_mlm_mask),    cmocka_unit_test(test_class_weights), cmocka_unit_test(test_resample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
