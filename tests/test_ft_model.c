/* test_ft_model.c — the trainable decoder (oncolm/ft_model.h) on small
 * random models made here (llama with grouped-query attention, qwen2 with
 * q/k/v biases, phi3 with fused qkv and gate|up; F32 and quantized bases):
 *   - the gradient of the loss with respect to the adapter's A and B
 *     equals central finite differences of the loss (whole model);
 *   - the training loss equals the cross-entropy of the logits the
 *     inference engine gives with the same adapter (onc_llm_ctx_set_adapters);
 *   - two sequences packed in one batch give the sum of their separate
 *     losses and gradients;
 *   - 1 and 2 threads give identical losses and gradients;
 *   - dropout: same seed, same loss; the gradient is still exact;
 *   - bad batches are refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/ft_model.h"
#include "oncolm/llm.h"
#include "oncolm/lora.h"
#include "oncolm/model_create.h"
#include "oncolm/quantize.h"
#include "oncolm/rng.h"

static char dir[2048];

static const char *tmp_path(const char *name) {
    static char buf[4][2200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void create(const char *name, onc_arch arch, onc_type wtype, int32_t kv_heads) {
    onc_model_create_params p = onc_model_create_default_params();
    p.arch = arch;
    p.n_layer = 2;
    p.n_embd = 64;
    p.n_head = 4;
    p.n_head_kv = kv_heads;
    p.n_ff = 96;
    p.n_ctx = 128;
    p.wtype = wtype;
    p.init_std = 0.2f;
    onc_error err = {0};
    if (onc_model_create(tmp_path(name), &p, NULL, &err) != ONC_OK) fail_msg("create %s: %s", name, err.msg);
}

static int setup(void **state) {
    (void)state;
    const char *t = getenv("ONCOLM_TMP");
    snprintf(dir, sizeof dir, "%s", t ? t : ".");
    create("ft_llama.gguf", ONC_ARCH_LLAMA, ONC_TYPE_F32, 2);
    create("ft_qwen2.gguf", ONC_ARCH_QWEN2, ONC_TYPE_F32, 2);
    create("ft_phi3.gguf", ONC_ARCH_PHI3, ONC_TYPE_F32, 4);
    /* a Q4_K base (rows of 256) and the same weights dequantized to F32 */
    onc_model_create_params p = onc_model_create_default_params();
    p.n_layer = 2, p.n_embd = 256, p.n_head = 4, p.n_head_kv = 2, p.n_ff = 256, p.n_ctx = 128;
    p.init_std = 0.1f;
    onc_error err = {0};
    if (onc_model_create(tmp_path("ft_llama256.gguf"), &p, NULL, &err) != ONC_OK) fail_msg("%s", err.msg);
    onc_quantize_params qp = onc_quantize_default_params();
    qp.ftype = ONC_FTYPE_MOSTLY_Q4_K_S;
    if (onc_quantize_file(tmp_path("ft_llama256.gguf"), tmp_path("ft_llama_q.gguf"), &qp, NULL, &err) != ONC_OK)
        fail_msg("quantize: %s", err.msg);
    qp.ftype = ONC_FTYPE_ALL_F32;
    if (onc_quantize_file(tmp_path("ft_llama_q.gguf"), tmp_path("ft_llama_qdeq.gguf"), &qp, NULL, &err) != ONC_OK)
        fail_msg("dequantize: %s", err.msg);
    return 0;
}

typedef struct fixture {
    onc_llm *m;
    onc_lora *lora;
    onc_ft_model *f;
} fixture;

static void open_fixture(fixture *x, const char *name, float dropout, int threads, uint64_t seed) {
    onc_error err = {0};
    if (!(x->m = onc_llm_load(tmp_path(name), &err))) fail_msg("%s", err.msg);
    onc_lora_config cfg = onc_lora_config_default();
    cfg.rank = 4;
    cfg.alpha = 8;
    cfg.dropout = dropout;
    if (!(x->lora = onc_lora_new(onc_llm_gguf(x->m), onc_llm_hparams(x->m), &cfg, seed, &err))) fail_msg("%s", err.msg);
    /* B is zero at initialisation (no gradient reaches A): make it random */
    onc_rng r;
    onc_rng_seed(&r, seed + 1);
    for (size_t i = 0; i < x->lora->n; i++)
        for (int64_t j = 0; j < x->lora->rank * x->lora->w[i].n_out; j++)
            x->lora->w[i].b[j] = ((float)(onc_rng_next(&r) >> 40) / (float)(1 << 24) - 0.5f) * 0.4f;
    if (!(x->f = onc_ft_model_new(x->m, x->lora, 64, threads, &err))) fail_msg("%s", err.msg);
}

static void close_fixture(fixture *x) {
    onc_ft_model_free(x->f);
    onc_lora_free(x->lora);
    onc_llm_free(x->m);
}

static const int32_t ids[] = {1, 45, 300, 12, 99, 7, 250, 31, 64, 88, 17, 5, 400, 123};
#define N_IDS ((int64_t)(sizeof ids / sizeof *ids))

static void make_labels(int32_t *labels) {
    for (int64_t t = 0; t < N_IDS; t++) labels[t] = t + 1 < N_IDS && t >= 3 ? ids[t + 1] : -1;
}

static double loss_of(fixture *x, uint64_t seed) {
    int32_t labels[N_IDS];
    make_labels(labels);
    double loss = 0;
    int64_t n = 0;
    onc_error err = {0};
    if (onc_ft_model_step(x->f, ids, labels, NULL, N_IDS, false, 1.0f, seed, &loss, &n, &err) != ONC_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(n, N_IDS - 4);
    return loss;
}

/* Analytic gradient vs central differences on the coordinates with the
 * largest gradients and a few random ones, for A and B of several weights.
 * Tolerance: the loss is a float32 computation of ~10 tokens x log(V) ~ 60
 * nats, good to ~1e-5 relative (6e-4 absolute); with h = 1e-2 the
 * difference quotient carries ~0.03 absolute noise plus O(h^2) curvature
 * error, so |fd - g| <= 0.05 + 3% |g| is a bound an exact gradient meets
 * and a wrong one (a missing term, a transposed index) does not. */
static void fd_check(const char *name, float dropout) {
    fixture x;
    open_fixture(&x, name, dropout, 1, 7);
    int32_t labels[N_IDS];
    make_labels(labels);
    double loss = 0;
    int64_t n = 0;
    onc_error err = {0};
    onc_ft_model_zero_grad(x.f);
    if (onc_ft_model_step(x.f, ids, labels, NULL, N_IDS, true, 1.0f, 99, &loss, &n, &err) != ONC_OK)
        fail_msg("%s", err.msg);
    int checked = 0, big = 0;
    for (size_t i = 0; i < x.lora->n; i += 3) {
        for (int which = 0; which < 2; which++) {
            float *p = which ? x.lora->w[i].b : x.lora->w[i].a;
            const float *g = which ? onc_ft_model_grad_b(x.f, i) : onc_ft_model_grad_a(x.f, i);
            const int64_t cnt = x.lora->rank * (which ? x.lora->w[i].n_out : x.lora->w[i].n_in);
            int64_t best = 0;
            for (int64_t j = 1; j < cnt; j++)
                if (fabsf(g[j]) > fabsf(g[best])) best = j;
            const int64_t picks[3] = {best, (int64_t)(i * 7919 + 13) % cnt, (int64_t)(i * 104729 + 5) % cnt};
            for (int k = 0; k < 3; k++) {
                const int64_t j = picks[k];
                const float keep = p[j], h = 1e-2f;
                p[j] = keep + h;
                const double lp = loss_of(&x, 99);
                p[j] = keep - h;
                const double lm = loss_of(&x, 99);
                p[j] = keep;
                const double fd = (lp - lm) / (2.0 * h);
                if (fabs(fd - g[j]) > 0.05 + 0.03 * fabs(g[j]))
                    fail_msg("%s: %s of weight %zu (%s) index %lld: analytic %.6g, finite difference %.6g", name,
                             which ? "B" : "A", i, x.lora->w[i].base_name, (long long)j, (double)g[j], fd);
                checked++;
                big += fabs(g[j]) > 0.2;
            }
        }
    }
    /* the check must have looked at gradients well above its noise floor */
    assert_true(checked >= 12);
    assert_true(big >= checked / 4);
    close_fixture(&x);
}

static void test_fd_llama(void **s) { (void)s, fd_check("ft_llama.gguf", 0.0f); }
static void test_fd_qwen2(void **s) { (void)s, fd_check("ft_qwen2.gguf", 0.0f); }
static void test_fd_phi3(void **s) { (void)s, fd_check("ft_phi3.gguf", 0.0f); }
/* A Q4_K base: the forward pass rounds the activations to Q8_K before the
 * quantized products (as inference does), so the loss is not a smooth
 * function and finite differences do not apply; the gradient is that of
 * the same model with the dequantized weights in F32 (checked by finite
 * differences), up to the effect of that rounding on the activations. */
static void test_quantized_base(void **s) {
    (void)s;
    fd_check("ft_llama_qdeq.gguf", 0.0f);
    fixture q, d;
    open_fixture(&q, "ft_llama_q.gguf", 0.0f, 1, 7);
    open_fixture(&d, "ft_llama_qdeq.gguf", 0.0f, 1, 7);
    int32_t labels[N_IDS];
    make_labels(labels);
    double lq = 0, ld = 0;
    int64_t n = 0;
    onc_error err = {0};
    onc_ft_model_zero_grad(q.f);
    onc_ft_model_zero_grad(d.f);
    assert_int_equal(onc_ft_model_step(q.f, ids, labels, NULL, N_IDS, true, 1.0f, 0, &lq, &n, &err), ONC_OK);
    assert_int_equal(onc_ft_model_step(d.f, ids, labels, NULL, N_IDS, true, 1.0f, 0, &ld, &n, &err), ONC_OK);
    if (fabs(lq - ld) > 1e-2 * fabs(ld)) fail_msg("Q4_K loss %.6f, dequantized %.6f", lq, ld);
    double num = 0, den = 0;
    for (size_t i = 0; i < q.lora->n; i++) {
        const float *a = onc_ft_model_grad_a(q.f, i), *b = onc_ft_model_grad_a(d.f, i);
        for (int64_t j = 0; j < q.lora->rank * q.lora->w[i].n_in; j++)
            num += (a[j] - b[j]) * (double)(a[j] - b[j]), den += b[j] * (double)b[j];
    }
    /* measured: 8.6% (every weight between 5% and 12%: the rounding spreads
     * evenly, no module stands out); a wrong dequantization or a transposed
     * product gives differences of order 100% */
    if (sqrt(num / den) > 0.15) fail_msg("Q4_K gradient differs from the dequantized model's by %.2e", sqrt(num / den));
    close_fixture(&q);
    close_fixture(&d);
}
static void test_fd_dropout(void **s) { (void)s, fd_check("ft_qwen2.gguf", 0.25f); }

/* Training loss == cross-entropy of the inference engine's logits with the adapter. */
static void check_matches_inference(const char *name) {
    fixture x;
    open_fixture(&x, name, 0.0f, 1, 3);
    const double train_loss = loss_of(&x, 0);
    onc_error err = {0};
    onc_llm_ctx_params cp = onc_llm_ctx_default_params();
    cp.n_threads = 1;
    cp.kv_type = ONC_TYPE_F32;
    onc_llm_ctx *c = onc_llm_ctx_new(x.m, &cp, &err);
    assert_non_null(c);
    const onc_lora *ls[] = {x.lora};
    if (onc_llm_ctx_set_adapters(c, ls, NULL, 1, &err) != ONC_OK) fail_msg("%s", err.msg);
    bool want[N_IDS];
    for (int64_t t = 0; t < N_IDS; t++) want[t] = true;
    onc_llm_batch b = {.n_tokens = (int32_t)N_IDS, .tokens = ids, .logits = want};
    if (onc_llm_decode(c, &b, &err) != ONC_OK) fail_msg("%s", err.msg);
    int32_t labels[N_IDS];
    make_labels(labels);
    double ref = 0;
    const int32_t V = onc_llm_n_vocab(x.m);
    for (int64_t t = 0; t < N_IDS; t++) {
        if (labels[t] < 0) continue;
        const float *lg = onc_llm_logits(c, (int32_t)t);
        double mx = lg[0], se = 0;
        for (int32_t v = 1; v < V; v++) mx = lg[v] > mx ? lg[v] : mx;
        for (int32_t v = 0; v < V; v++) se += exp(lg[v] - mx);
        ref += mx + log(se) - lg[labels[t]];
    }
    /* also without the adapter the two differ: the adapter matters */
    if (onc_llm_ctx_set_adapters(c, NULL, NULL, 0, &err) != ONC_OK) fail_msg("%s", err.msg);
    onc_llm_seq_clear(c, 0);
    if (onc_llm_decode(c, &b, &err) != ONC_OK) fail_msg("%s", err.msg);
    double base = 0;
    for (int64_t t = 0; t < N_IDS; t++) {
        if (labels[t] < 0) continue;
        const float *lg = onc_llm_logits(c, (int32_t)t);
        double mx = lg[0], se = 0;
        for (int32_t v = 1; v < V; v++) mx = lg[v] > mx ? lg[v] : mx;
        for (int32_t v = 0; v < V; v++) se += exp(lg[v] - mx);
        base += mx + log(se) - lg[labels[t]];
    }
    if (fabs(train_loss - ref) > 1e-4 * fabs(ref))
        fail_msg("%s: training loss %.8f, inference %.8f", name, train_loss, ref);
    if (fabs(base - ref) < 2e-3 * fabs(ref)) fail_msg("%s: the adapter hardly changes the loss (%.6f vs %.6f)", name, base, ref);
    onc_llm_ctx_free(c);
    close_fixture(&x);
}

static void test_matches_inference(void **s) {
    (void)s;
    check_matches_inference("ft_llama.gguf");
    check_matches_inference("ft_qwen2.gguf");
    check_matches_inference("ft_phi3.gguf");
    check_matches_inference("ft_llama_q.gguf");
}

/* Two sequences packed = the sum of the two alone; 2 threads = 1 thread. */
static void test_packing_and_threads(void **s) {
    (void)s;
    fixture x1, x2;
    open_fixture(&x1, "ft_llama.gguf", 0.0f, 1, 5);
    open_fixture(&x2, "ft_llama.gguf", 0.0f, 2, 5);
    int32_t labels[N_IDS], start[N_IDS];
    make_labels(labels);
    const int64_t cut = 6;
    for (int64_t t = 0; t < N_IDS; t++) start[t] = t < cut ? 0 : (int32_t)cut;
    labels[cut - 1] = -1; /* no loss across the boundary */
    onc_error err = {0};
    double lp = 0, l1 = 0, l2 = 0, lt = 0;
    int64_t n = 0;
    onc_ft_model_zero_grad(x1.f);
    onc_ft_model_zero_grad(x2.f);
    assert_int_equal(onc_ft_model_step(x1.f, ids, labels, start, N_IDS, true, 1.0f, 0, &lp, &n, &err), ONC_OK);
    assert_int_equal(onc_ft_model_step(x2.f, ids, labels, start, N_IDS, true, 1.0f, 0, &lt, &n, &err), ONC_OK);
    /* 2 threads: bit for bit */
    assert_true(lp == lt);
    for (size_t i = 0; i < x1.lora->n; i++) {
        assert_memory_equal(onc_ft_model_grad_a(x1.f, i), onc_ft_model_grad_a(x2.f, i),
                            (size_t)(x1.lora->rank * x1.lora->w[i].n_in) * sizeof(float));
        assert_memory_equal(onc_ft_model_grad_b(x1.f, i), onc_ft_model_grad_b(x2.f, i),
                            (size_t)(x1.lora->rank * x1.lora->w[i].n_out) * sizeof(float));
    }
    /* separately, accumulating into x2's (zeroed) gradients */
    onc_ft_model_zero_grad(x2.f);
    assert_int_equal(onc_ft_model_step(x2.f, ids, labels, NULL, cut, true, 1.0f, 0, &l1, &n, &err), ONC_OK);
    assert_int_equal(onc_ft_model_step(x2.f, ids + cut, labels + cut, NULL, N_IDS - cut, true, 1.0f, 0, &l2, &n, &err),
                     ONC_OK);
    if (fabs(lp - (l1 + l2)) > 1e-5 * fabs(lp)) fail_msg("packed %.8f, separate %.8f", lp, l1 + l2);
    /* float32 sums in another order: compare each weight's gradient as a
     * whole, ||packed - separate|| / ||packed|| */
    double worst = 0;
    for (size_t i = 0; i < x1.lora->n; i++) {
        for (int which = 0; which < 2; which++) {
            const float *ga = which ? onc_ft_model_grad_b(x1.f, i) : onc_ft_model_grad_a(x1.f, i);
            const float *gb = which ? onc_ft_model_grad_b(x2.f, i) : onc_ft_model_grad_a(x2.f, i);
            const int64_t cnt = x1.lora->rank * (which ? x1.lora->w[i].n_out : x1.lora->w[i].n_in);
            double num = 0, den = 0;
            for (int64_t j = 0; j < cnt; j++) num += (ga[j] - gb[j]) * (double)(ga[j] - gb[j]), den += ga[j] * (double)ga[j];
            const double d = sqrt(num / (den + 1e-30));
            worst = d > worst ? d : worst;
        }
    }
    if (worst > 1e-4) fail_msg("packed and separate gradients differ (%.2e)", worst);
    close_fixture(&x1);
    close_fixture(&x2);
}

static void test_dropout_and_errors(void **s) {
    (void)s;
    fixture x;
    open_fixture(&x, "ft_qwen2.gguf", 0.3f, 1, 9);
    const double a = loss_of(&x, 1), b = loss_of(&x, 1), c = loss_of(&x, 2);
    assert_true(a == b);
    assert_true(a != c);
    int32_t bad[N_IDS];
    make_labels(bad);
    bad[5] = 1 << 20;
    double loss = 0;
    int64_t n = 0;
    onc_error err = {0};
    assert_int_not_equal(onc_ft_model_step(x.f, ids, bad, NULL, N_IDS, true, 1.0f, 0, &loss, &n, &err), ONC_OK);
    assert_non_null(strstr(err.msg, "vocabulary"));
    assert_int_not_equal(onc_ft_model_step(x.f, ids, bad, NULL, 65, true, 1.0f, 0, &loss, &n, &err), ONC_OK);
    assert_non_null(strstr(err.msg, "at most 64"));
    close_fixture(&x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_llama),         cmocka_unit_test(test_fd_qwen2),
        cmocka_unit_test(test_fd_phi3),          cmocka_unit_test(test_quantized_base),
        cmocka_unit_test(test_fd_dropout),       cmocka_unit_test(test_matches_inference),
        cmocka_unit_test(test_packing_and_threads), cmocka_unit_test(test_dropout_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
