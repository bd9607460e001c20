/* test_sampler.c — oncolm/sampler.h against hand-computed expectations:
 * greedy (ties -> lowest id), temperature, top-k, top-p, min-p (and
 * min_keep), repetition / frequency / presence penalties and their window,
 * logit bias (order: bias before penalties, -inf bans), the raw-logit
 * log-probability of each draw, determinism per seed, a chi-square check
 * that draw frequencies follow the probabilities (fixed seed: cannot flake),
 * edge cases (one finite logit, NaN / +inf -> error naming the token,
 * top_k > n_vocab, top_p = 1, min_p = 0, everything banned), parameter
 * validation and the log-softmax / top-n utilities. The numpy oracle
 * (tests/oracle/test_sampler_oracle.py) covers random cases. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/sampler.h"

/* Parameters with every filter off and temperature 1: pure softmax. */
static onc_sampler_params plain(void) {
    onc_sampler_params p = onc_sampler_greedy_params();
    p.temperature = 1.0f;
    return p;
}

static onc_sampler *mk(int32_t n, const onc_sampler_params *p) {
    onc_error err = {0};
    onc_sampler *s = onc_sampler_new(n, p, &err);
    if (!s) fail_msg("onc_sampler_new: %s", err.msg);
    return s;
}

static void get_cands(onc_sampler *s, const float *logits, const onc_token_prob **c, size_t *n) {
    onc_error err = {0};
    if (onc_sampler_candidates(s, logits, c, n, &err) != ONC_OK) fail_msg("candidates: %s", err.msg);
}

/* softmax of x[0..n) in double into out. */
static void softmax_ref(const double *x, size_t n, double *out) {
    double mx = -INFINITY, sum = 0;
    for (size_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (size_t i = 0; i < n; i++) sum += (out[i] = exp(x[i] - mx));
    for (size_t i = 0; i < n; i++) out[i] /= sum;
}

static double lse_ref(const float *x, size_t n) {
    double mx = -INFINITY, sum = 0;
    for (size_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (size_t i = 0; i < n; i++) sum += exp(x[i] - mx);
    return mx + log(sum);
}

// --- greedy and temperature ------------------------------------------------------

static void test_greedy_ties_and_logprob(void **state) {
    (void)state;
    const float lg[4] = {1.0f, 3.0f, 2.0f, 3.0f};
    onc_sampler_params p = onc_sampler_greedy_params();
    onc_sampler *s = mk(4, &p);
    onc_sample r;
    for (int k = 0; k < 5; k++) {
        assert_int_equal(onc_sampler_sample(s, lg, &r, NULL), ONC_OK);
        assert_int_equal(r.token, 1); /* tie with id 3: lowest id wins */
    }
    const double want = 3.0 - log(exp(1.0) + 2 * exp(3.0) + exp(2.0));
    assert_true(fabs(r.logprob - want) < 1e-6);
    const onc_token_prob *c;
    size_t n;
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].id, 1);
    assert_true(c[0].p == 1.0f);
    onc_sampler_free(s);
}

static void test_temperature(void **state) {
    (void)state;
    const float lg[3] = {1.0f, 2.0f, 0.5f};
    onc_sampler_params p = plain();
    p.temperature = 2.0f;
    onc_sampler *s = mk(3, &p);
    const onc_token_prob *c;
    size_t n;
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 3);
    const double x[3] = {0.5, 1.0, 0.25};
    double want[3];
    softmax_ref(x, 3, want);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c[i].id, i);
        assert_true(fabsf(c[i].logit - (float)x[i]) < 1e-7f);
        assert_true(fabs(c[i].p - want[i]) < 1e-7);
    }
    onc_sampler_free(s);
    /* temperature 0 = greedy even with filters on */
    onc_sampler_params g = onc_sampler_default_params();
    g.temperature = 0.0f;
    s = mk(3, &g);
    onc_sample r;
    assert_int_equal(onc_sampler_sample(s, lg, &r, NULL), ONC_OK);
    assert_int_equal(r.token, 1);
    onc_sampler_free(s);
}

// --- filters -------------------------------------------------------------------------

static void test_top_k(void **state) {
    (void)state;
    const float lg[5] = {0.1f, 0.5f, 0.3f, 0.9f, 0.2f};
    onc_sampler_params p = plain();
    p.top_k = 2;
    onc_sampler *s = mk(5, &p);
    const onc_token_prob *c;
    size_t n;
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 2);
    assert_int_equal(c[0].id, 1); /* ascending id */
    assert_int_equal(c[1].id, 3);
    const double want1 = 1.0 / (1.0 + exp(0.4));
    assert_true(fabs(c[0].p - want1) < 1e-7);
    onc_sampler_free(s);

    /* heap path: k much smaller than n, with ties broken by id */
    float big[100];
    for (int i = 0; i < 100; i++) big[i] = (float)(i % 10);
    p.top_k = 3;
    s = mk(100, &p);
    get_cands(s, big, &c, &n);
    assert_int_equal(n, 3);
    assert_int_equal(c[0].id, 9);
    assert_int_equal(c[1].id, 19);
    assert_int_equal(c[2].id, 29);
    onc_sampler_free(s);

    /* top_k > n_vocab: no-op */
    p.top_k = 1000;
    s = mk(5, &p);
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 5);
    onc_sampler_free(s);
}

/* Logits whose softmax is exactly q (up to float rounding). */
static void logits_of(const double *q, int n, float *out) {
    for (int i = 0; i < n; i++) out[i] = (float)log(q[i]);
}

static void test_top_p(void **state) {
    (void)state;
    const double q[5] = {0.1, 0.5, 0.05, 0.2, 0.15};
    float lg[5];
    logits_of(q, 5, lg);
    onc_sampler_params p = plain();
    p.top_p = 0.8f; /* sorted: 0.5, 0.2 (0.7), 0.15 (0.85 >= 0.8) -> ids 1, 3, 4 */
    onc_sampler *s = mk(5, &p);
    const onc_token_prob *c;
    size_t n;
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 3);
    assert_int_equal(c[0].id, 1);
    assert_int_equal(c[1].id, 3);
    assert_int_equal(c[2].id, 4);
    assert_true(fabs(c[0].p - 0.5 / 0.85) < 1e-6);
    assert_true(fabs(c[2].p - 0.15 / 0.85) < 1e-6);
    onc_sampler_free(s);

    p.top_p = 0.0f; /* keeps only the best */
    s = mk(5, &p);
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].id, 1);
    onc_sampler_free(s);

    p.min_keep = 3; /* ... unless min_keep says otherwise */
    s = mk(5, &p);
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 3);
    onc_sampler_free(s);

    p = plain();
    p.top_p = 1.0f; /* no-op */
    s = mk(5, &p);
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 5);
    for (int i = 0; i < 5; i++) assert_true(fabs(c[i].p - q[i]) < 1e-6);
    onc_sampler_free(s);

    /* top-p works on the top-k survivors' renormalised distribution */
    p.top_k = 2;
    p.top_p = 0.7f; /* survivors 0.5, 0.2 -> 0.714, 0.286: 0.714 >= 0.7 keeps one */
    s = mk(5, &p);
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].id, 1);
    onc_sampler_free(s);
}

static void test_min_p(void **state) {
    (void)state;
    const double q[5] = {0.5, 0.2, 0.15, 0.1, 0.05};
    float lg[5];
    logits_of(q, 5, lg);
    onc_sampler_params p = plain();
    p.min_p = 0.25f; /* p >= 0.125 -> ids 0, 1, 2 */
    onc_sampler *s = mk(5, &p);
    const onc_token_prob *c;
    size_t n;
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 3);
    assert_int_equal(c[2].id, 2);
    assert_true(fabs(c[0].p - 0.5 / 0.85) < 1e-6);
    onc_sampler_free(s);

    p.min_p = 0.35f; /* p >= 0.175 -> ids 0, 1 */
    s = mk(5, &p);
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 2);
    onc_sampler_free(s);

    p.min_p = 1.0f; /* only the max... */
    s = mk(5, &p);
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 1);
    onc_sampler_free(s);
    p.min_keep = 4; /* ...unless min_keep: the best 4 */
    s = mk(5, &p);
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 4);
    assert_int_equal(c[3].id, 3);
    onc_sampler_free(s);

    p = plain();
    p.min_p = 0.0f; /* no-op */
    s = mk(5, &p);
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 5);
    onc_sampler_free(s);
}

/* llama.cpp's order: top-k, then top-p, then min-p, then temperature. */
static void test_chain_order(void **state) {
    (void)state;
    const double q[6] = {0.3, 0.25, 0.2, 0.15, 0.07, 0.03};
    float lg[6];
    logits_of(q, 6, lg);
    onc_sampler_params p = plain();
    p.top_k = 4;           /* 0.3 .25 .2 .15 (sum .9) */
    p.top_p = 0.6f;        /* renormalised .333 .278 (.611 >= .6) -> ids 0, 1 */
    p.min_p = 0.5f;        /* both >= 0.5 * max */
    p.temperature = 0.5f;  /* logits doubled afterwards */
    onc_sampler *s = mk(6, &p);
    const onc_token_prob *c;
    size_t n;
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 2);
    const double x[2] = {2 * (double)lg[0], 2 * (double)lg[1]};
    double want[2];
    softmax_ref(x, 2, want);
    assert_true(fabs(c[0].p - want[0]) < 1e-6); /* 0.09 / (0.09 + 0.0625) */
    onc_sampler_free(s);
}

// --- penalties and bias ------------------------------------------------------------

static void test_penalties(void **state) {
    (void)state;
    const float lg[4] = {2.0f, -1.0f, 0.5f, 1.0f};
    onc_sampler_params p = plain();
    p.penalty_last_n = 64;
    p.penalty_repeat = 2.0f;
    onc_sampler *s = mk(4, &p);
    assert_int_equal(onc_sampler_accept(s, 0, NULL), ONC_OK);
    assert_int_equal(onc_sampler_accept(s, 1, NULL), ONC_OK);
    assert_int_equal(onc_sampler_accept(s, 1, NULL), ONC_OK);
    const onc_token_prob *c;
    size_t n;
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 4);
    assert_true(c[0].logit == 1.0f);  /* > 0: divided */
    assert_true(c[1].logit == -2.0f); /* <= 0: multiplied */
    assert_true(c[2].logit == 0.5f);
    assert_true(c[3].logit == 1.0f);
    onc_sampler_free(s);

    p.penalty_freq = 0.5f;
    p.penalty_present = 0.25f;
    s = mk(4, &p);
    onc_sampler_accept(s, 0, NULL);
    onc_sampler_accept(s, 1, NULL);
    onc_sampler_accept(s, 1, NULL);
    get_cands(s, lg, &c, &n);
    assert_true(c[0].logit == 1.0f - 0.5f - 0.25f);
    assert_true(c[1].logit == -2.0f - 2 * 0.5f - 0.25f);
    onc_sampler_free(s);

    /* window: only the last 2 accepted tokens count */
    p = plain();
    p.penalty_last_n = 2;
    p.penalty_repeat = 2.0f;
    s = mk(4, &p);
    onc_sampler_accept(s, 0, NULL);
    onc_sampler_accept(s, 2, NULL);
    onc_sampler_accept(s, 3, NULL);
    get_cands(s, lg, &c, &n);
    assert_true(c[0].logit == 2.0f); /* evicted */
    assert_true(c[2].logit == 0.25f);
    assert_true(c[3].logit == 0.5f);
    onc_sampler_reset(s, 0); /* forgets the history */
    get_cands(s, lg, &c, &n);
    assert_true(c[2].logit == 0.5f);
    onc_sampler_free(s);

    /* penalty_last_n = 0: off */
    p.penalty_last_n = 0;
    s = mk(4, &p);
    onc_sampler_accept(s, 0, NULL);
    get_cands(s, lg, &c, &n);
    assert_true(c[0].logit == 2.0f);
    assert_int_equal(onc_sampler_accept(s, 4, NULL), ONC_ERR_INVALID);
    onc_sampler_free(s);
}

static void test_logit_bias(void **state) {
    (void)state;
    const float lg[4] = {2.0f, -0.5f, 0.5f, 1.0f};
    onc_sampler_params p = plain();
    onc_sampler *s = mk(4, &p);
    onc_error err = {0};
    assert_int_equal(onc_sampler_set_logit_bias(s, 2, 1.0f, &err), ONC_OK);
    assert_int_equal(onc_sampler_set_logit_bias(s, 0, -INFINITY, &err), ONC_OK);
    const onc_token_prob *c;
    size_t n;
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 3); /* banned token 0 left out */
    assert_int_equal(c[0].id, 1);
    assert_true(c[1].logit == 1.5f);
    onc_sample r;
    for (int k = 0; k < 200; k++) {
        assert_int_equal(onc_sampler_sample(s, lg, &r, NULL), ONC_OK);
        assert_int_not_equal(r.token, 0);
    }
    /* the logprob is still from the raw logits */
    const double want = (double)lg[r.token] - lse_ref(lg, 4);
    assert_true(fabs(r.logprob - want) < 1e-6);
    assert_int_equal(onc_sampler_set_logit_bias(s, 9, 1.0f, &err), ONC_ERR_INVALID);
    assert_int_equal(onc_sampler_set_logit_bias(s, 1, NAN, &err), ONC_ERR_INVALID);
    assert_int_equal(onc_sampler_set_logit_bias(s, 1, INFINITY, &err), ONC_ERR_INVALID);
    onc_sampler_clear_logit_bias(s);
    get_cands(s, lg, &c, &n);
    assert_int_equal(n, 4);
    assert_true(c[2].logit == 0.5f);
    onc_sampler_free(s);

    /* bias is applied before the penalty (llama.cpp): -0.5 + 1 = 0.5 > 0,
     * then / 2 = 0.25 (penalty first would give -1 + 1 = 0) */
    p.penalty_repeat = 2.0f;
    s = mk(4, &p);
    onc_sampler_set_logit_bias(s, 1, 1.0f, NULL);
    onc_sampler_accept(s, 1, NULL);
    get_cands(s, lg, &c, &n);
    assert_true(c[1].logit == 0.25f);
    onc_sampler_free(s);
}

// --- randomness ---------------------------------------------------------------------

static void test_determinism(void **state) {
    (void)state;
    float lg[50];
    for (int i = 0; i < 50; i++) lg[i] = (float)sin(i * 0.7) * 2;
    onc_sampler_params p = plain();
    p.seed = 1234;
    onc_sampler *a = mk(50, &p), *b = mk(50, &p);
    p.seed = 1235;
    onc_sampler *c = mk(50, &p);
    int32_t first[200];
    int differ = 0;
    for (int k = 0; k < 200; k++) {
        onc_sample ra, rb, rc;
        onc_sampler_sample(a, lg, &ra, NULL);
        onc_sampler_sample(b, lg, &rb, NULL);
        onc_sampler_sample(c, lg, &rc, NULL);
        assert_int_equal(ra.token, rb.token);
        differ += ra.token != rc.token;
        first[k] = ra.token;
    }
    assert_true(differ > 100);
    onc_sampler_reset(a, 1234); /* reset restarts the same sequence */
    for (int k = 0; k < 200; k++) {
        onc_sample r;
        onc_sampler_sample(a, lg, &r, NULL);
        assert_int_equal(r.token, first[k]);
    }
    onc_sampler_free(a);
    onc_sampler_free(b);
    onc_sampler_free(c);
}

/* Chi-square goodness of fit over 8 tokens, 40000 draws, fixed seed: the
 * statistic must stay under the p = 0.001 critical value for 7 degrees of
 * freedom (24.32). Deterministic, so it cannot flake; a biased draw (e.g.
 * an off-by-one in the walk) gives a statistic in the thousands. */
static void test_chi_square(void **state) {
    (void)state;
    const double q[8] = {0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02};
    float lg[8];
    logits_of(q, 8, lg);
    onc_sampler_params p = plain();
    p.seed = 987654321;
    onc_sampler *s = mk(8, &p);
    const onc_token_prob *c;
    size_t n;
    get_cands(s, lg, &c, &n);
    double pr[8];
    for (int i = 0; i < 8; i++) pr[i] = c[i].p;
    long cnt[8] = {0};
    const int N = 40000;
    for (int k = 0; k < N; k++) {
        onc_sample r;
        assert_int_equal(onc_sampler_sample(s, lg, &r, NULL), ONC_OK);
        cnt[r.token]++;
    }
    double chi2 = 0;
    for (int i = 0; i < 8; i++) {
        const double e = N * pr[i];
        chi2 += (cnt[i] - e) * (cnt[i] - e) / e;
    }
    print_message("chi-square = %.3f (critical 24.32)\n", chi2);
    assert_true(chi2 < 24.32);
    onc_sampler_free(s);
}

// --- edge cases ---------------------------------------------------------------------

static void test_edges(void **state) {
    (void)state;
    onc_sampler_params p = onc_sampler_default_params();
    const float one[4] = {-INFINITY, -INFINITY, 0.25f, -INFINITY};
    onc_sampler *s = mk(4, &p);
    onc_sample r;
    for (int k = 0; k < 20; k++) {
        assert_int_equal(onc_sampler_sample(s, one, &r, NULL), ONC_OK);
        assert_int_equal(r.token, 2);
        assert_true(r.logprob == 0.0f);
    }
    onc_error err = {0};
    const float withnan[4] = {0.0f, 1.0f, NAN, 2.0f};
    assert_int_equal(onc_sampler_sample(s, withnan, &r, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "token 2 is NaN"));
    assert_int_equal(r.token, -1);
    const float withinf[4] = {0.0f, INFINITY, 0.0f, 0.0f};
    assert_int_equal(onc_sampler_sample(s, withinf, &r, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "token 1 is +inf"));
    const float allinf[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    assert_int_equal(onc_sampler_sample(s, allinf, &r, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "no token can be chosen"));
    const onc_token_prob *c;
    size_t n;
    assert_int_equal(onc_sampler_candidates(s, withnan, &c, &n, &err), ONC_ERR_INVALID);
    assert_int_equal(n, 0);
    onc_sampler_free(s);

    /* greedy with everything else -inf but one negative logit */
    p = onc_sampler_greedy_params();
    s = mk(4, &p);
    const float neg[4] = {-INFINITY, -7.0f, -INFINITY, -INFINITY};
    assert_int_equal(onc_sampler_sample(s, neg, &r, NULL), ONC_OK);
    assert_int_equal(r.token, 1);
    onc_sampler_free(s);

    /* n_vocab = 1 */
    p = onc_sampler_default_params();
    s = mk(1, &p);
    const float single[1] = {3.0f};
    assert_int_equal(onc_sampler_sample(s, single, &r, NULL), ONC_OK);
    assert_int_equal(r.token, 0);
    onc_sampler_free(s);
}

static void test_param_validation(void **state) {
    (void)state;
    onc_error err = {0};
    assert_null(onc_sampler_new(0, NULL, &err));
    assert_int_equal(err.code, ONC_ERR_INVALID);
    onc_sampler_params p = onc_sampler_default_params();
    p.temperature = NAN;
    assert_null(onc_sampler_new(10, &p, &err));
    assert_non_null(strstr(err.msg, "temperature"));
    p = onc_sampler_default_params();
    p.top_p = -0.1f;
    assert_null(onc_sampler_new(10, &p, &err));
    assert_non_null(strstr(err.msg, "top_p"));
    p = onc_sampler_default_params();
    p.min_p = 1.5f;
    assert_null(onc_sampler_new(10, &p, &err));
    assert_non_null(strstr(err.msg, "min_p"));
    p = onc_sampler_default_params();
    p.penalty_repeat = 0.0f;
    assert_null(onc_sampler_new(10, &p, &err));
    assert_non_null(strstr(err.msg, "penalty_repeat"));
    p = onc_sampler_default_params();
    p.penalty_last_n = -2;
    assert_null(onc_sampler_new(10, &p, &err));
    assert_non_null(strstr(err.msg, "penalty_last_n"));
    p = onc_sampler_default_params();
    onc_sampler *s = onc_sampler_new(10, NULL, &err);
    assert_non_null(s);
    assert_int_equal(onc_sampler_n_vocab(s), 10);
    assert_true(onc_sampler_params_get(s)->top_k == 40);
    assert_true(onc_sampler_params_get(s)->min_p == 0.05f);
    onc_sampler_free(s);
    onc_sampler_free(NULL);
}

// --- utilities ----------------------------------------------------------------------

static void test_log_softmax_top_n(void **state) {
    (void)state;
    const float lg[6] = {0.5f, -INFINITY, 2.0f, 2.0f, -1.0f, 1.0f};
    float out[6];
    onc_error err = {0};
    assert_int_equal(onc_log_softmax(lg, 6, out, &err), ONC_OK);
    const double lse = lse_ref(lg, 6);
    double total = 0;
    for (int i = 0; i < 6; i++) {
        if (i == 1) {
            assert_true(out[i] == -INFINITY);
            continue;
        }
        assert_true(fabs(out[i] - ((double)lg[i] - lse)) < 1e-6);
        total += exp(out[i]);
    }
    assert_true(fabs(total - 1.0) < 1e-6);

    int32_t ids[32];
    float lp[32];
    size_t n;
    assert_int_equal(onc_logprobs_top_n(lg, 6, 3, ids, lp, &n, &err), ONC_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 2); /* tie 2/3: lower id first */
    assert_int_equal(ids[1], 3);
    assert_int_equal(ids[2], 5);
    assert_true(fabs(lp[2] - (1.0 - lse)) < 1e-6);
    assert_int_equal(onc_logprobs_top_n(lg, 6, 10, ids, lp, &n, &err), ONC_OK);
    assert_int_equal(n, 6); /* clamped */
    assert_int_equal(ids[4], 4);
    assert_int_equal(ids[5], 1);
    assert_true(lp[5] == -INFINITY);

    /* a bigger row against a plain full sort */
    float big[1000];
    for (int i = 0; i < 1000; i++) big[i] = (float)((i * 7919) % 1009) * 0.01f;
    assert_int_equal(onc_logprobs_top_n(big, 1000, 20, ids, lp, &n, &err), ONC_OK);
    assert_int_equal(n, 20);
    for (size_t i = 1; i < n; i++) assert_true(big[ids[i - 1]] > big[ids[i]]);
    for (int i = 0; i < 1000; i++) {
        int rank = 0;
        for (int j = 0; j < 1000; j++) rank += big[j] > big[i];
        if (rank < 20) assert_int_equal(ids[rank], i);
    }

    const float bad[2] = {0.0f, NAN};
    assert_int_equal(onc_log_softmax(bad, 2, out, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "token 1"));
    const float none[2] = {-INFINITY, -INFINITY};
    assert_int_equal(onc_log_softmax(none, 2, out, &err), ONC_ERR_INVALID);
    assert_int_equal(onc_log_softmax(lg, 0, out, &err), ONC_ERR_INVALID);
    assert_int_equal(onc_logprobs_top_n(bad, 2, 1, ids, lp, &n, &err), ONC_ERR_INVALID);
    assert_int_equal(n, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_ties_and_logprob),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_chain_order),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_logit_bias),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_chi_square),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_param_validation),
        cmocka_unit_test(test_log_softmax_top_n),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
