/* test_encoder.c — the encoder API (oncolm/encoder.h) on small random bert
 * and llama models: packing invariance (inputs grouped into forward passes
 * in different ways give the same vectors), pooling, token types,
 * truncation counts, windows on the API level, classifier probabilities
 * summing to one, and every error path. Numerical agreement with an
 * independent reference is tests/oracle/test_encoder_oracle.py. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/encoder.h"
#include "oncolm/model_create.h"
#include "test_util.h"

static void create(const char *name, onc_arch arch, const char *const *labels, uint32_t n_labels) {
    onc_model_create_params p = tu_small_params(arch, 2, 64, 4, 128);
    p.n_ctx = 64;
    p.init_std = 0.3f; /* peaked attention: mixing inputs would show */
    p.labels = labels;
    p.n_labels = n_labels;
    tu_create_model(name, &p);
}

static int setup(void **state) {
    (void)state;
    static const char *const labels[] = {"none", "post", "pre"};
    create("enc_bert.gguf", ONC_ARCH_BERT, NULL, 0);
    create("enc_cls.gguf", ONC_ARCH_BERT, labels, 3);
    create("enc_llama.gguf", ONC_ARCH_LLAMA, NULL, 0);
    return 0;
}

static const char *const texts[] = {
    "CT abdomen shows a 3 cm mass in the pancreatic head.",
    "No evidence of recurrence.",
    "Denies nausea.",
    "Stage IIIA adenocarcinoma of the right upper lobe, EGFR exon 19 deletion, on osimertinib since March.",
    "x",
};
#define N_TEXTS 5

static onc_encoder *load(const char *name, onc_pooling pooling, uint32_t n_batch, int threads) {
    onc_encoder_params p = onc_encoder_default_params();
    p.pooling = pooling;
    p.n_batch = n_batch;
    p.n_threads = threads;
    onc_error err = {0};
    onc_encoder *e = onc_encoder_load(tu_tmp_path(name), &p, &err);
    if (!e) fail_msg("load %s: %s", name, err.msg);
    return e;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* The same inputs embedded all in one pass, in passes of one input, and one
 * call per input, with 1 and 2 threads: equal up to float rounding (the
 * GEMM path for many rows sums in another order than the 1-row kernels). */
static void check_packing(const char *model, onc_pooling pooling) {
    onc_encoder *big = load(model, pooling, 4096, 2), *small = load(model, pooling, 64, 1);
    const uint32_t E = onc_encoder_dim(big);
    float *a = malloc(N_TEXTS * E * sizeof(float)), *b = malloc(N_TEXTS * E * sizeof(float)),
          *c = malloc(N_TEXTS * E * sizeof(float));
    onc_error err = {0};
    assert_int_equal(onc_encoder_embed(big, texts, NULL, N_TEXTS, a, &err), ONC_OK);
    assert_int_equal(onc_encoder_embed(small, texts, NULL, N_TEXTS, b, &err), ONC_OK);
    for (int i = 0; i < N_TEXTS; i++)
        assert_int_equal(onc_encoder_embed(big, texts + i, NULL, 1, c + (size_t)i * E, &err), ONC_OK);
    const double d1 = max_diff(a, b, (size_t)N_TEXTS * E), d2 = max_diff(a, c, (size_t)N_TEXTS * E);
    if (d1 > 1e-5 || d2 > 1e-5) fail_msg("%s pooling %d: packed vs split %g, vs one by one %g", model, pooling, d1, d2);
    /* different inputs give different vectors (nothing leaks or is shared) */
    assert_true(max_diff(a, a + E, E) > 1e-3);
    for (int i = 0; i < N_TEXTS; i++) { /* normalised */
        double ss = 0;
        for (uint32_t d = 0; d < E; d++) ss += (double)a[i * E + d] * a[i * E + d];
        assert_true(fabs(ss - 1) < 1e-5);
    }
    free(a), free(b), free(c);
    onc_encoder_free(big);
    onc_encoder_free(small);
}

static void test_packing_invariance(void **state) {
    (void)state;
    check_packing("enc_bert.gguf", ONC_POOLING_MEAN);
    check_packing("enc_bert.gguf", ONC_POOLING_CLS);
    check_packing("enc_bert.gguf", ONC_POOLING_LAST);
    check_packing("enc_llama.gguf", ONC_POOLING_LAST);
    check_packing("enc_llama.gguf", ONC_POOLING_MEAN);
}

/* Pooled vectors equal pooling the per-token states; the pool helper. */
static void test_pooling(void **state) {
    (void)state;
    const float h[6] = {1, 2, 3, 4, 5, 9};
    float o[2];
    onc_encoder_pool(ONC_POOLING_MEAN, h, 3, 2, o);
    assert_true(o[0] == 3 && o[1] == 5);
    onc_encoder_pool(ONC_POOLING_CLS, h, 3, 2, o);
    assert_true(o[0] == 1 && o[1] == 2);
    onc_encoder_pool(ONC_POOLING_LAST, h, 3, 2, o);
    assert_true(o[0] == 5 && o[1] == 9);

    onc_encoder_params p = onc_encoder_default_params();
    p.pooling = ONC_POOLING_MEAN;
    p.normalize = false;
    onc_error err = {0};
    onc_encoder *e = onc_encoder_load(tu_tmp_path("enc_bert.gguf"), &p, &err);
    assert_non_null(e);
    const uint32_t E = onc_encoder_dim(e);
    float *states = NULL, *v = malloc(E * sizeof(float)), *m = malloc(E * sizeof(float));
    int32_t n = 0;
    assert_int_equal(onc_encoder_token_states(e, texts[0], strlen(texts[0]), &states, &n, &err), ONC_OK);
    assert_true(n > 5);
    assert_int_equal(onc_encoder_embed(e, texts, NULL, 1, v, &err), ONC_OK);
    onc_encoder_pool(ONC_POOLING_MEAN, states, n, E, m);
    assert_true(max_diff(v, m, E) < 1e-5);
    free(states), free(v), free(m);
    onc_encoder_free(e);
}

/* Token types change the result; pre-tokenized inputs are used as given. */
static void test_token_types(void **state) {
    (void)state;
    onc_encoder *e = load("enc_bert.gguf", ONC_POOLING_MEAN, 0, 1);
    const uint32_t E = onc_encoder_dim(e);
    const int32_t toks[6] = {2, 10, 11, 12, 3, 13}, types0[6] = {0}, types1[6] = {0, 0, 0, 1, 1, 1};
    onc_encoder_input in[3] = {{toks, NULL, 6}, {toks, types0, 6}, {toks, types1, 6}};
    float *v = malloc(3 * E * sizeof(float));
    onc_error err = {0};
    assert_int_equal(onc_encoder_embed_tokens(e, in, 3, v, &err), ONC_OK);
    /* the same input at another place of the packed batch: equal up to the
     * rounding of the matrix kernels' row blocking */
    assert_true(max_diff(v, v + E, E) < 1e-5);
    assert_true(max_diff(v, v + 2 * E, E) > 1e-4);
    const int32_t bad_tok[2] = {2, 1 << 20}, bad_type[2] = {0, 7};
    onc_encoder_input b1 = {bad_tok, NULL, 2}, b2 = {toks, bad_type, 2}, b3 = {toks, NULL, 0};
    assert_int_equal(onc_encoder_embed_tokens(e, &b1, 1, v, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "outside the vocabulary"));
    assert_int_equal(onc_encoder_embed_tokens(e, &b2, 1, v, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "token type"));
    assert_int_equal(onc_encoder_embed_tokens(e, &b3, 1, v, &err), ONC_ERR_INVALID);
    free(v);
    onc_encoder_free(e);
}

/* Truncation is counted; windows cover long texts; the error policy fails. */
static void test_overflow(void **state) {
    (void)state;
    char longtext[4096] = "";
    for (int i = 0; i < 20; i++) strcat(longtext, texts[i % N_TEXTS]), strcat(longtext, " ");
    const char *in[2] = {longtext, texts[2]};
    onc_error err = {0};
    for (int pol = 0; pol < 3; pol++) {
        onc_encoder_params p = onc_encoder_default_params();
        p.pooling = ONC_POOLING_MEAN;
        p.max_tokens = 24;
        p.overflow = (onc_overflow)pol;
        onc_encoder *e = onc_encoder_load(tu_tmp_path("enc_bert.gguf"), &p, &err);
        assert_non_null(e);
        assert_int_equal(onc_encoder_max_tokens(e), 24);
        float *v = malloc(2 * onc_encoder_dim(e) * sizeof(float));
        const onc_status st = onc_encoder_embed(e, in, NULL, 2, v, &err);
        if (pol == ONC_OVERFLOW_ERROR) {
            assert_int_equal(st, ONC_ERR_INVALID);
            assert_non_null(strstr(err.msg, "input 1"));
        } else {
            assert_int_equal(st, ONC_OK);
            assert_int_equal(onc_encoder_n_truncated(e), pol == ONC_OVERFLOW_TRUNCATE ? 1 : 0);
        }
        /* per-token states cannot be windowed */
        float *s = NULL;
        int32_t n = 0;
        const onc_status st2 = onc_encoder_token_states(e, longtext, strlen(longtext), &s, &n, &err);
        assert_int_equal(st2, pol == ONC_OVERFLOW_TRUNCATE ? ONC_OK : ONC_ERR_INVALID);
        if (st2 == ONC_OK) assert_int_equal(n, 24);
        free(s);
        free(v);
        onc_encoder_free(e);
    }
}

static void test_classify_rerank(void **state) {
    (void)state;
    onc_encoder *e = load("enc_cls.gguf", ONC_POOLING_UNSPECIFIED, 0, 2);
    assert_int_equal(onc_encoder_n_labels(e), 3);
    assert_string_equal(onc_encoder_label(e, 2), "pre");
    assert_null(onc_encoder_label(e, 3));
    assert_int_equal(onc_encoder_pooling(e), ONC_POOLING_RANK);
    float pr[N_TEXTS * 3], pr1[3], sc[N_TEXTS], sc1;
    onc_error err = {0};
    assert_int_equal(onc_encoder_classify(e, texts, NULL, N_TEXTS, pr, &err), ONC_OK);
    for (int i = 0; i < N_TEXTS; i++) {
        assert_true(fabs(pr[3 * i] + pr[3 * i + 1] + pr[3 * i + 2] - 1) < 1e-5);
        assert_int_equal(onc_encoder_classify(e, texts + i, NULL, 1, pr1, &err), ONC_OK);
        assert_true(max_diff(pr + 3 * i, pr1, 3) < 1e-5);
    }
    const char *q = "pancreatic mass";
    assert_int_equal(onc_encoder_rerank(e, q, strlen(q), texts, NULL, N_TEXTS, sc, &err), ONC_OK);
    assert_int_equal(onc_encoder_rerank(e, q, strlen(q), texts + 3, NULL, 1, &sc1, &err), ONC_OK);
    assert_true(fabs(sc[3] - sc1) < 1e-4);
    assert_true(fabs(sc[0] - sc[1]) > 1e-6); /* passages differ */
    /* embeddings from a rank-pooled model need an explicit pooling */
    float v[64];
    assert_int_equal(onc_encoder_embed(e, texts, NULL, 1, v, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "reranker"));
    onc_encoder_free(e);

    /* no head: classify / rerank fail clearly */
    e = load("enc_bert.gguf", ONC_POOLING_UNSPECIFIED, 0, 1);
    assert_int_equal(onc_encoder_n_labels(e), 0);
    assert_int_equal(onc_encoder_classify(e, texts, NULL, 1, pr, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "classifier head"));
    assert_int_equal(onc_encoder_rerank(e, q, strlen(q), texts, NULL, 1, sc, &err), ONC_ERR_INVALID);
    onc_encoder_free(e);
}

static void test_errors(void **state) {
    (void)state;
    onc_error err = {0};
    onc_encoder_params p = onc_encoder_default_params();
    assert_null(onc_encoder_load(tu_tmp_path("no_such.gguf"), &p, &err));
    assert_non_null(strstr(err.msg, "no_such.gguf"));
    p.max_tokens = 100000;
    assert_null(onc_encoder_load(tu_tmp_path("enc_bert.gguf"), &p, &err));
    assert_non_null(strstr(err.msg, "context length"));
    p = onc_encoder_default_params();
    p.pooling = ONC_POOLING_RANK;
    assert_null(onc_encoder_load(tu_tmp_path("enc_bert.gguf"), &p, &err));
    assert_non_null(strstr(err.msg, "classifier head"));

    onc_encoder *e = load("enc_bert.gguf", ONC_POOLING_MEAN, 0, 1);
    const char bad[] = "valid then \xff\xfe broken";
    const char *in[2] = {texts[0], bad};
    float v[2 * 64];
    assert_int_equal(onc_encoder_embed(e, in, NULL, 2, v, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "input 2"));
    onc_encoder_free(e);

    e = load("enc_bert.gguf", ONC_POOLING_NONE, 0, 1);
    assert_int_equal(onc_encoder_embed(e, in, NULL, 1, v, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "per-token"));
    onc_encoder_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packing_invariance), cmocka_unit_test(test_pooling),
        cmocka_unit_test(test_token_types),        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_classify_rerank),    cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
