/* test_enc_model.c — the trainable bert encoder (oncolm/enc_model.h) on a
 * tiny random bert made here (32 wide, 2 layers, 4 heads, FFN 64, two
 * token types):
 *   - forward(train = false) gives the inference engine's hidden states
 *     (mean and [CLS] pooled per input of a packed batch, per-token states
 *     of a text);
 *   - central finite differences of a scalar loss (random projection of
 *     the states + classification cross-entropy + masked-LM loss) match the
 *     gradient of sampled entries of every parameter tensor: full
 *     fine-tuning with and without dropout, LoRA (B perturbed away from 0,
 *     LoRA and hidden dropout), all on a packed batch of 3 inputs of
 *     different lengths with both token types;
 *   - 1 and 2 threads give bit-identical states and gradients;
 *   - save -> onc_encoder_load -> onc_encoder_classify equals the softmax of
 *     onc_enc_model_classify; a LoRA-merged save equals the LoRA forward; an
 *     F16 save loads;
 *   - errors: a llama file, too many tokens, a token id / type out of
 *     range, a backward without a training forward;
 *   - a few AdamW steps overfit 4 examples of a 2-class task. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/enc_model.h"
#include "oncolm/encoder.h"
#include "oncolm/model_create.h"
#include "oncolm/optim.h"
#include "oncolm/rng.h"
#include "oncolm/train_ops.h"

static char dir[2048];

static const char *tmp_path(const char *name) {
    static char buf[4][2200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void create(const char *name, onc_arch arch, const char *const *labels, uint32_t n_labels) {
    onc_model_create_params p = onc_model_create_default_params();
    p.arch = arch;
    p.n_layer = 2;
    p.n_embd = 32;
    p.n_head = 4;
    p.n_head_kv = 4;
    p.n_ff = 64;
    p.n_ctx = 32;
    p.vocab_size = 300;
    p.pad_vocab_to = -1;
    p.init_std = 0.2f;
    p.labels = labels;
    p.n_labels = n_labels;
    onc_error err = {0};
    if (onc_model_create(tmp_path(name), &p, NULL, &err) != ONC_OK) fail_msg("create %s: %s", name, err.msg);
}

static int setup(void **state) {
    (void)state;
    const char *t = getenv("ONCOLM_TMP");
    snprintf(dir, sizeof dir, "%s", t ? t : ".");
    static const char *const labels[] = {"benign", "malignant", "unclear"};
    create("em_bert.gguf", ONC_ARCH_BERT, NULL, 0);
    create("em_head.gguf", ONC_ARCH_BERT, labels, 3);
    create("em_llama.gguf", ONC_ARCH_LLAMA, NULL, 0);
    return 0;
}

static onc_enc_model *load(const char *name, int threads, float dropout, int64_t rank, uint32_t n_labels, bool mlm) {
    onc_enc_model_params p = onc_enc_model_default_params();
    p.max_tokens = 64;
    p.n_threads = threads;
    p.dropout = dropout;
    p.n_labels = n_labels;
    p.mlm_head = mlm;
    p.lora.rank = rank;
    p.lora.alpha = 8;
    p.lora.dropout = rank > 0 && dropout > 0 ? 0.1f : 0.0f;
    p.seed = 7;
    onc_error err = {0};
    onc_enc_model *m = onc_enc_model_load(tmp_path(name), &p, &err);
    if (!m) fail_msg("load %s: %s", name, err.msg);
    return m;
}

/* A packed batch of 3 inputs (lengths 5, 9, 7), both token types. */
enum { NS = 3, NT = 21 };
static const int32_t seq_start[NS] = {0, 5, 14}, seq_len[NS] = {5, 9, 7};
static int32_t toks[NT], types[NT];

static onc_enc_batch make_batch(const onc_enc_model *m) {
    const uint32_t V = onc_enc_model_hparams(m)->n_vocab;
    onc_rng r;
    onc_rng_seed(&r, 99);
    for (int t = 0; t < NT; t++) {
        toks[t] = (int32_t)(onc_rng_next(&r) % V);
        types[t] = 0;
    }
    for (int t = 10; t < 14; t++) types[t] = 1; /* second half of input 2 */
    return (onc_enc_batch){toks, types, seq_start, seq_len, NT, NS};
}

static double max_rel(const float *a, const float *b, int64_t n) {
    double d = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    return d / (s > 0 ? s : 1);
}

/* ---- forward = inference ---------------------------------------------------------------- */

static void test_forward_matches_encoder(void **state) {
    (void)state;
    onc_enc_model *m = load("em_bert.gguf", 2, 0.1f, 0, 0, false);
    onc_enc_batch b = make_batch(m);
    const float *h;
    onc_error err = {0};
    assert_int_equal(onc_enc_model_forward(m, &b, false, 1, &h, &err), ONC_OK);
    const int E = 32;
    for (int pool = 0; pool < 2; pool++) {
        onc_encoder_params ep = onc_encoder_default_params();
        ep.pooling = pool ? ONC_POOLING_CLS : ONC_POOLING_MEAN;
        ep.normalize = false;
        ep.n_threads = 1;
        onc_encoder *e = onc_encoder_load(tmp_path("em_bert.gguf"), &ep, &err);
        if (!e) fail_msg("%s", err.msg);
        onc_encoder_input in[NS];
        for (int s = 0; s < NS; s++)
            in[s] = (onc_encoder_input){toks + seq_start[s], types + seq_start[s], seq_len[s]};
        float out[NS * 32], mine[NS * 32];
        assert_int_equal(onc_encoder_embed_tokens(e, in, NS, out, &err), ONC_OK);
        for (int s = 0; s < NS; s++)
            for (int i = 0; i < E; i++) {
                double acc = 0;
                if (pool) acc = h[seq_start[s] * E + i];
                else {
                    for (int j = 0; j < seq_len[s]; j++) acc += h[(seq_start[s] + j) * E + i];
                    acc /= seq_len[s];
                }
                mine[s * E + i] = (float)acc;
            }
        const double rel = max_rel(mine, out, NS * E);
        print_message("forward vs encoder (%s pooling): max rel diff %.3g\n", pool ? "cls" : "mean", rel);
        assert_true(rel < 1e-4);
        if (pool == 0) {
            /* per-token states of a text */
            const char *text = "CT abdomen shows a 3 cm mass in the pancreatic head.";
            float *ts = NULL;
            int32_t nt = 0;
            assert_int_equal(onc_encoder_token_states(e, text, strlen(text), &ts, &nt, &err), ONC_OK);
            int32_t *ids = NULL;
            size_t n_ids = 0;
            assert_int_equal(onc_tokenize(onc_enc_model_tokenizer(m), text, strlen(text), NULL, &ids, &n_ids, &err),
                             ONC_OK);
            assert_int_equal((int32_t)n_ids, nt);
            const int32_t st0 = 0, ln0 = nt;
            onc_enc_batch tb = {ids, NULL, &st0, &ln0, nt, 1};
            assert_int_equal(onc_enc_model_forward(m, &tb, false, 1, &h, &err), ONC_OK);
            const double r2 = max_rel(h, ts, (int64_t)nt * E);
            print_message("token states of a %d-token text: max rel diff %.3g\n", nt, r2);
            assert_true(r2 < 1e-4);
            free(ids);
            free(ts);
            assert_int_equal(onc_enc_model_forward(m, &b, false, 1, &h, &err), ONC_OK);
        }
        onc_encoder_free(e);
    }
    onc_enc_model_free(m);
}

/* ---- gradients -------------------------------------------------------------------------- */

static float proj[NT * 32];
static const int32_t cls_labels[NS] = {0, 2, 1};
static const int32_t mlm_pos[4] = {1, 6, 12, 19};
static int32_t mlm_lab[4];

/* loss = sum proj . states + mean xent(classify(CLS rows)) + mlm loss sum;
 * with grad: zero_grad, then the backward of all three. */
static double loss_fn(onc_enc_model *m, const onc_enc_batch *b, bool grad) {
    const int E = 32;
    const float *h;
    onc_error err = {0};
    if (onc_enc_model_forward(m, b, true, 1234, &h, &err) != ONC_OK) fail_msg("%s", err.msg);
    if (grad) onc_enc_model_zero_grad(m);
    double loss = 0;
    for (int i = 0; i < NT * E; i++) loss += (double)proj[i] * h[i];
    float *dstates = calloc(NT * 32, sizeof(float));
    memcpy(dstates, proj, sizeof proj);
    if (onc_enc_model_n_labels(m) > 0) {
        const int C = (int)onc_enc_model_n_labels(m);
        float x[NS * 32], logits[NS * 8], dl[NS * 8] = {0}, dx[NS * 32] = {0};
        for (int s = 0; s < NS; s++) memcpy(x + s * E, h + seq_start[s] * E, E * sizeof(float));
        assert_int_equal(onc_enc_model_classify(m, x, NS, logits, NULL, NULL, &err), ONC_OK);
        loss += onc_softmax_xent(dl, logits, cls_labels, NULL, NS, C);
        if (grad) {
            assert_int_equal(onc_enc_model_classify(m, x, NS, logits, dl, dx, &err), ONC_OK);
            for (int s = 0; s < NS; s++)
                for (int i = 0; i < E; i++) dstates[seq_start[s] * E + i] += dx[s * E + i];
        }
    }
    const onc_hparams *hp = onc_enc_model_hparams(m);
    for (int i = 0; i < 4; i++) mlm_lab[i] = (int32_t)((i * 37 + 5) % hp->n_vocab);
    double ml = 0;
    if (onc_enc_model_mlm_loss(m, h, mlm_pos, mlm_lab, 4, 0.5f, &ml, grad ? dstates : NULL, &err) == ONC_OK)
        loss += 0.5 * ml;
    if (grad && onc_enc_model_backward(m, dstates, &err) != ONC_OK) fail_msg("%s", err.msg);
    free(dstates);
    return loss;
}

/* Compare the gradient of 3 entries of every parameter (its largest |grad|
 * and two random ones) with central differences. */
static void grad_check(onc_enc_model *m, const char *what) {
    onc_enc_batch b = make_batch(m);
    onc_rng r;
    onc_rng_seed(&r, 5);
    for (int i = 0; i < NT * 32; i++) proj[i] = (float)((double)(onc_rng_next(&r) >> 11) / 9007199254740992.0 - 0.5);
    loss_fn(m, &b, true);
    const size_t np = onc_enc_model_n_params(m);
    /* copy the analytic gradients (later forwards do not touch them, but be safe) */
    float **g = calloc(np, sizeof *g);
    for (size_t i = 0; i < np; i++) {
        const onc_train_param *p = onc_enc_model_param(m, i);
        g[i] = malloc((size_t)p->n * sizeof(float));
        memcpy(g[i], p->grad, (size_t)p->n * sizeof(float));
    }
    const double eps = 1e-2;
    double worst = 0;
    const char *worst_name = "";
    int n_checked = 0;
    for (size_t i = 0; i < np; i++) {
        const onc_train_param *p = onc_enc_model_param(m, i);
        int64_t idx[3];
        int64_t best = 0;
        for (int64_t j = 1; j < p->n; j++)
            if (fabsf(g[i][j]) > fabsf(g[i][best])) best = j;
        idx[0] = best;
        idx[1] = (int64_t)(onc_rng_next(&r) % (uint64_t)p->n);
        idx[2] = (int64_t)(onc_rng_next(&r) % (uint64_t)p->n);
        for (int k = 0; k < 3; k++) {
            const int64_t j = idx[k];
            const float v = p->data[j];
            p->data[j] = v + (float)eps;
            const double lp = loss_fn(m, &b, false);
            p->data[j] = v - (float)eps;
            const double lm = loss_fn(m, &b, false);
            p->data[j] = v;
            const double fd = (lp - lm) / ((double)(v + (float)eps) - (double)(v - (float)eps));
            const double an = g[i][j];
            /* relative error, with an absolute floor of 2e-2 x 2e-2 for the
             * float rounding of the loss (about 1e-6 of 10, over 2 eps) */
            const double err = fabs(fd - an) / (fmax(fabs(fd), fabs(an)) + 2e-2);
            if (err > worst) worst = err, worst_name = p->name;
            if (err > 2e-2)
                fail_msg("%s: %s[%lld]: analytic %.6g, finite differences %.6g", what, p->name, (long long)j, an, fd);
            n_checked++;
        }
    }
    print_message("%s: %zu tensors, %d entries, worst relative error %.3g (%s)\n", what, np, n_checked, worst,
                  worst_name);
    for (size_t i = 0; i < np; i++) free(g[i]);
    free(g);
}

static void test_grad_full_dropout(void **state) {
    (void)state;
    onc_enc_model *m = load("em_bert.gguf", 2, 0.1f, 0, 3, true);
    assert_true(onc_enc_model_n_params(m) >= 45);
    grad_check(m, "full, dropout 0.1");
    onc_enc_model_free(m);
}

static void test_grad_full_nodrop(void **state) {
    (void)state;
    onc_enc_model *m = load("em_bert.gguf", 1, 0.0f, 0, 3, true);
    grad_check(m, "full, no dropout");
    onc_enc_model_free(m);
}

static void test_grad_lora(void **state) {
    (void)state;
    onc_enc_model *m = load("em_bert.gguf", 2, 0.1f, 4, 3, true);
    onc_rng r;
    onc_rng_seed(&r, 3);
    int n_lora = 0;
    for (size_t i = 0; i < onc_enc_model_n_params(m); i++) {
        const onc_train_param *p = onc_enc_model_param(m, i);
        if (strncmp(p->name, "mlm.", 4) != 0) assert_null(strstr(p->name, "norm")); /* base frozen */
        if (strstr(p->name, ".lora_b")) {
            n_lora++;
            for (int64_t j = 0; j < p->n; j++)
                p->data[j] = (float)(((double)(onc_rng_next(&r) >> 11) / 9007199254740992.0 - 0.5) * 0.5);
        }
    }
    assert_int_equal(n_lora, 2 * 6); /* q k v o up down in 2 layers */
    grad_check(m, "LoRA rank 4, dropout 0.1");
    onc_enc_model_free(m);
}

static void threads_identical(int64_t rank) {
    onc_enc_model *a = load("em_bert.gguf", 1, 0.1f, rank, 3, true), *c = load("em_bert.gguf", 2, 0.1f, rank, 3, true);
    for (size_t i = 0; i < onc_enc_model_n_params(a); i++) { /* B away from 0: every LoRA gradient non-zero */
        const onc_train_param *p = onc_enc_model_param(a, i), *q = onc_enc_model_param(c, i);
        if (!strstr(p->name, ".lora_b")) continue;
        for (int64_t j = 0; j < p->n; j++) p->data[j] = q->data[j] = 0.01f * (float)((j * 7 + (int64_t)i) % 13 - 6);
    }
    onc_enc_batch b = make_batch(a);
    const float *ha, *hc;
    onc_error err = {0};
    assert_int_equal(onc_enc_model_forward(a, &b, true, 9, &ha, &err), ONC_OK);
    assert_int_equal(onc_enc_model_forward(c, &b, true, 9, &hc, &err), ONC_OK);
    const bool same_states = memcmp(ha, hc, NT * 32 * sizeof(float)) == 0;
    const double la = loss_fn(a, &b, true), lc = loss_fn(c, &b, true);
    int n_diff = 0;
    for (size_t i = 0; i < onc_enc_model_n_params(a); i++) {
        const onc_train_param *p = onc_enc_model_param(a, i), *q = onc_enc_model_param(c, i);
        assert_string_equal(p->name, q->name);
        if (memcmp(p->grad, q->grad, (size_t)p->n * sizeof(float)) != 0) {
            n_diff++;
            print_message("  differs: %s\n", p->name);
        }
    }
    print_message("%s, 1 vs 2 threads: loss %.17g vs %.17g, %d of %zu tensors with different gradients\n",
                  rank ? "LoRA" : "full", la, lc, n_diff, onc_enc_model_n_params(a));
    assert_true(same_states);
    assert_true(la == lc);
    assert_int_equal(n_diff, 0);
    onc_enc_model_free(a);
    onc_enc_model_free(c);
}

/* A longer batch (10 inputs, 300 tokens: several row tiles per product),
 * 1 vs 3 threads, forward + backward of a fixed dstates. */
static void threads_identical_long(void) {
    onc_enc_model_params p = onc_enc_model_default_params();
    p.max_tokens = 300;
    p.n_labels = 2;
    onc_enc_model *m[2];
    const float *h[2];
    int32_t tk[300], st[10], ln[10];
    for (int s = 0; s < 10; s++) st[s] = 30 * s, ln[s] = 30;
    for (int t = 0; t < 300; t++) tk[t] = (t * 31 + 7) % 300;
    onc_enc_batch b = {tk, NULL, st, ln, 300, 10};
    float *d = malloc(300 * 32 * sizeof(float));
    for (int i = 0; i < 300 * 32; i++) d[i] = (float)((i * 17) % 11 - 5) * 0.01f;
    onc_error err = {0};
    for (int k = 0; k < 2; k++) {
        p.n_threads = k ? 3 : 1;
        m[k] = onc_enc_model_load(tmp_path("em_bert.gguf"), &p, &err);
        assert_non_null(m[k]);
        assert_int_equal(onc_enc_model_forward(m[k], &b, true, 5, &h[k], &err), ONC_OK);
        assert_int_equal(onc_enc_model_backward(m[k], d, &err), ONC_OK);
    }
    assert_memory_equal(h[0], h[1], 300 * 32 * sizeof(float));
    int n_diff = 0;
    for (size_t i = 0; i < onc_enc_model_n_params(m[0]); i++) {
        const onc_train_param *a = onc_enc_model_param(m[0], i), *c = onc_enc_model_param(m[1], i);
        n_diff += memcmp(a->grad, c->grad, (size_t)a->n * sizeof(float)) != 0;
    }
    print_message("300 tokens, 1 vs 3 threads: states identical, %d tensors with different gradients\n", n_diff);
    assert_int_equal(n_diff, 0);
    free(d);
    onc_enc_model_free(m[0]);
    onc_enc_model_free(m[1]);
}

static void test_threads_identical(void **state) {
    (void)state;
    threads_identical(0);
    threads_identical(4);
    threads_identical_long();
}

/* ---- save ------------------------------------------------------------------------------- */

static void perturb(onc_enc_model *m, const char *substr, double amp, uint64_t seed) {
    onc_rng r;
    onc_rng_seed(&r, seed);
    for (size_t i = 0; i < onc_enc_model_n_params(m); i++) {
        const onc_train_param *p = onc_enc_model_param(m, i);
        if (!strstr(p->name, substr)) continue;
        for (int64_t j = 0; j < p->n; j++)
            p->data[j] += (float)(((double)(onc_rng_next(&r) >> 11) / 9007199254740992.0 - 0.5) * amp);
    }
}

static const char *const ctexts[] = {"No evidence of recurrence.", "Denies nausea.",
                                     "Stage IIIA adenocarcinoma of the right upper lobe."};

static void test_save_classify(void **state) {
    (void)state;
    onc_enc_model *m = load("em_bert.gguf", 2, 0.1f, 0, 3, true);
    perturb(m, "", 0.05, 11); /* every parameter moves: the saved file must carry all */
    onc_error err = {0};
    assert_int_equal(onc_enc_model_save(m, tmp_path("em_saved.gguf"), ONC_TYPE_F32, ONC_POOLING_CLS, &err), ONC_OK);
    onc_encoder_params ep = onc_encoder_default_params();
    onc_encoder *e = onc_encoder_load(tmp_path("em_saved.gguf"), &ep, &err);
    if (!e) fail_msg("%s", err.msg);
    assert_int_equal(onc_encoder_n_labels(e), 3);
    assert_string_equal(onc_encoder_label(e, 2), "LABEL_2");
    float probs[3 * 3];
    assert_int_equal(onc_encoder_classify(e, ctexts, NULL, 3, probs, &err), ONC_OK);
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        assert_int_equal(onc_tokenize(onc_enc_model_tokenizer(m), ctexts[i], strlen(ctexts[i]), NULL, &ids, &n, &err),
                         ONC_OK);
        const int32_t s0 = 0, l0 = (int32_t)n;
        onc_enc_batch b = {ids, NULL, &s0, &l0, (int32_t)n, 1};
        const float *h;
        assert_int_equal(onc_enc_model_forward(m, &b, false, 0, &h, &err), ONC_OK);
        float logits[3];
        assert_int_equal(onc_enc_model_classify(m, h, 1, logits, NULL, NULL, &err), ONC_OK);
        double mx = fmax(logits[0], fmax(logits[1], logits[2])), z = 0;
        for (int j = 0; j < 3; j++) z += exp(logits[j] - mx);
        for (int j = 0; j < 3; j++) worst = fmax(worst, fabs(exp(logits[j] - mx) / z - probs[i * 3 + j]));
        free(ids);
    }
    print_message("saved F32 model: classify probabilities max abs diff %.3g\n", worst);
    assert_true(worst < 1e-5);
    onc_encoder_free(e);

    /* the saved MLM head reloads with the same loss */
    onc_enc_model *m2 = load("em_saved.gguf", 1, 0.0f, 0, 3, true);
    onc_enc_batch b = make_batch(m);
    const float *h;
    double l1 = 0, l2 = 0;
    for (int i = 0; i < 4; i++) mlm_lab[i] = i + 3;
    assert_int_equal(onc_enc_model_forward(m, &b, false, 0, &h, &err), ONC_OK);
    assert_int_equal(onc_enc_model_mlm_loss(m, h, mlm_pos, mlm_lab, 4, 1, &l1, NULL, &err), ONC_OK);
    assert_int_equal(onc_enc_model_forward(m2, &b, false, 0, &h, &err), ONC_OK);
    assert_int_equal(onc_enc_model_mlm_loss(m2, h, mlm_pos, mlm_lab, 4, 1, &l2, NULL, &err), ONC_OK);
    print_message("MLM loss before / after save: %.9g / %.9g\n", l1, l2);
    assert_true(fabs(l1 - l2) < 1e-5 * fabs(l1));
    onc_enc_model_free(m2);

    /* F16 save loads and stays close */
    assert_int_equal(onc_enc_model_save(m, tmp_path("em_f16.gguf"), ONC_TYPE_F16, ONC_POOLING_UNSPECIFIED, &err),
                     ONC_OK);
    e = onc_encoder_load(tmp_path("em_f16.gguf"), &ep, &err);
    if (!e) fail_msg("%s", err.msg);
    float p16[9];
    assert_int_equal(onc_encoder_classify(e, ctexts, NULL, 3, p16, &err), ONC_OK);
    double d16 = 0;
    for (int i = 0; i < 9; i++) d16 = fmax(d16, fabs(p16[i] - probs[i]));
    print_message("F16 save: probabilities max abs diff to F32 %.3g\n", d16);
    assert_true(d16 < 1e-2);
    onc_encoder_free(e);
    assert_int_equal(onc_enc_model_save(m, tmp_path("em_bad.gguf"), ONC_TYPE_Q8_0, ONC_POOLING_CLS, &err),
                     ONC_ERR_INVALID);
    onc_enc_model_free(m);
}

/* A file's own classification head (pooler + output, labels) is loaded:
 * onc_enc_model_classify equals onc_encoder_classify on the file itself,
 * and a save keeps the labels. */
static void test_file_head(void **state) {
    (void)state;
    onc_enc_model *m = load("em_head.gguf", 2, 0.1f, 0, 3, false);
    onc_error err = {0};
    onc_encoder *e = onc_encoder_load(tmp_path("em_head.gguf"), NULL, &err);
    if (!e) fail_msg("%s", err.msg);
    float probs[9];
    assert_int_equal(onc_encoder_classify(e, ctexts, NULL, 3, probs, &err), ONC_OK);
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        assert_int_equal(onc_tokenize(onc_enc_model_tokenizer(m), ctexts[i], strlen(ctexts[i]), NULL, &ids, &n, &err),
                         ONC_OK);
        const int32_t s0 = 0, l0 = (int32_t)n;
        onc_enc_batch b = {ids, NULL, &s0, &l0, (int32_t)n, 1};
        const float *h;
        float logits[3];
        assert_int_equal(onc_enc_model_forward(m, &b, false, 0, &h, &err), ONC_OK);
        assert_int_equal(onc_enc_model_classify(m, h, 1, logits, NULL, NULL, &err), ONC_OK);
        double mx = fmax(logits[0], fmax(logits[1], logits[2])), z = 0;
        for (int j = 0; j < 3; j++) z += exp(logits[j] - mx);
        for (int j = 0; j < 3; j++) worst = fmax(worst, fabs(exp(logits[j] - mx) / z - probs[i * 3 + j]));
        free(ids);
    }
    print_message("the file's head: classify probabilities max abs diff %.3g\n", worst);
    assert_true(worst < 1e-5);
    onc_encoder_free(e);
    assert_int_equal(onc_enc_model_save(m, tmp_path("em_head2.gguf"), ONC_TYPE_F32, ONC_POOLING_UNSPECIFIED, &err),
                     ONC_OK);
    e = onc_encoder_load(tmp_path("em_head2.gguf"), NULL, &err);
    if (!e) fail_msg("%s", err.msg);
    assert_int_equal(onc_encoder_n_labels(e), 3);
    assert_string_equal(onc_encoder_label(e, 1), "malignant");
    onc_encoder_free(e);
    onc_enc_model_free(m);
}

static void test_save_lora_merged(void **state) {
    (void)state;
    onc_enc_model *m = load("em_bert.gguf", 2, 0.0f, 4, 0, false);
    perturb(m, ".lora_b", 0.5, 12);
    onc_enc_batch b = make_batch(m);
    const float *h;
    onc_error err = {0};
    assert_int_equal(onc_enc_model_forward(m, &b, false, 0, &h, &err), ONC_OK);
    float *ref = malloc(NT * 32 * sizeof(float));
    memcpy(ref, h, NT * 32 * sizeof(float));
    assert_int_equal(onc_enc_model_save(m, tmp_path("em_merged.gguf"), ONC_TYPE_F32, ONC_POOLING_UNSPECIFIED, &err),
                     ONC_OK);
    onc_enc_model *full = load("em_merged.gguf", 1, 0.0f, 0, 0, false);
    assert_int_equal(onc_enc_model_forward(full, &b, false, 0, &h, &err), ONC_OK);
    const double rel = max_rel(h, ref, NT * 32);
    /* and the base differs: the merge did something */
    onc_enc_model *base = load("em_bert.gguf", 1, 0.0f, 0, 0, false);
    const float *h0;
    assert_int_equal(onc_enc_model_forward(base, &b, false, 0, &h0, &err), ONC_OK);
    const double moved = max_rel(h0, ref, NT * 32);
    print_message("LoRA-merged save: states max rel diff %.3g (base vs LoRA %.3g)\n", rel, moved);
    assert_true(rel < 1e-4);
    assert_true(moved > 1e-2);
    free(ref);
    onc_enc_model_free(base);
    onc_enc_model_free(full);
    onc_enc_model_free(m);
}

/* ---- errors ----------------------------------------------------------------------------- */

static void test_errors(void **state) {
    (void)state;
    onc_error err = {0};
    onc_enc_model_params p = onc_enc_model_default_params();
    assert_null(onc_enc_model_load(tmp_path("em_llama.gguf"), &p, &err));
    assert_int_equal(err.code, ONC_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "not a bert"));
    p.lora.rank = 4;
    p.lora.modules = ONC_LORA_GATE; /* bert has no gate */
    assert_null(onc_enc_model_load(tmp_path("em_bert.gguf"), &p, &err));
    assert_int_equal(err.code, ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "no module"));
    p.lora.rank = 0;
    assert_null(onc_enc_model_load(tmp_path("em_missing.gguf"), &p, &err));
    assert_non_null(strstr(err.msg, "em_missing.gguf"));

    p.max_tokens = 16;
    p.n_threads = 1;
    onc_enc_model *m = onc_enc_model_load(tmp_path("em_bert.gguf"), &p, &err);
    assert_non_null(m);
    onc_enc_batch b = make_batch(m);
    const float *h;
    assert_int_equal(onc_enc_model_forward(m, &b, true, 0, &h, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "max_tokens"));
    b.n_tokens = 14, b.n_seq = 2;
    toks[3] = 300; /* vocabulary of 300 */
    assert_int_equal(onc_enc_model_forward(m, &b, true, 0, &h, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "outside the vocabulary"));
    toks[3] = 1;
    types[2] = 2;
    assert_int_equal(onc_enc_model_forward(m, &b, true, 0, &h, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "token type"));
    types[2] = 0;
    const int32_t bad_len[2] = {5, 8};
    b.seq_len = bad_len;
    assert_int_equal(onc_enc_model_forward(m, &b, true, 0, &h, &err), ONC_ERR_INVALID);
    b.seq_len = seq_len;
    assert_int_equal(onc_enc_model_forward(m, &b, false, 0, &h, &err), ONC_OK);
    float d[14 * 32] = {0};
    assert_int_equal(onc_enc_model_backward(m, d, &err), ONC_ERR_INVALID);
    float logits[4];
    assert_int_equal(onc_enc_model_classify(m, h, 1, logits, NULL, NULL, &err), ONC_ERR_INVALID);
    double l = 0;
    assert_int_equal(onc_enc_model_mlm_loss(m, h, mlm_pos, mlm_lab, 1, 1, &l, NULL, &err), ONC_ERR_INVALID);
    onc_enc_model_free(m);

    /* a head of another shape than the file's */
    p.max_tokens = 64;
    p.n_labels = 3;
    m = onc_enc_model_load(tmp_path("em_bert.gguf"), &p, &err);
    assert_non_null(m);
    assert_int_equal(onc_enc_model_save(m, tmp_path("em_cls3.gguf"), ONC_TYPE_F32, ONC_POOLING_CLS, &err), ONC_OK);
    onc_enc_model_free(m);
    p.n_labels = 2;
    assert_null(onc_enc_model_load(tmp_path("em_cls3.gguf"), &p, &err));
    assert_non_null(strstr(err.msg, "3 outputs"));
}

/* ---- overfit ---------------------------------------------------------------------------- */

static void test_overfit(void **state) {
    (void)state;
    onc_enc_model *m = load("em_bert.gguf", 2, 0.0f, 0, 2, false);
    onc_error err = {0};
    onc_adamw_config cfg = onc_adamw_config_default();
    cfg.lr = 1e-3;
    onc_adamw *opt = onc_adamw_new(&cfg, &err);
    for (size_t i = 0; i < onc_enc_model_n_params(m); i++) {
        const onc_train_param *p = onc_enc_model_param(m, i);
        assert_int_equal(onc_adamw_add_param(opt, p->name, p->data, p->grad, p->n, p->decay, NULL, &err), ONC_OK);
    }
    /* 4 inputs of 6 tokens; label = whether token 7 appears */
    int32_t tk[24], st[4] = {0, 6, 12, 18}, ln[4] = {6, 6, 6, 6}, y[4] = {1, 0, 1, 0};
    onc_rng r;
    onc_rng_seed(&r, 4);
    for (int i = 0; i < 24; i++) tk[i] = 10 + (int32_t)(onc_rng_next(&r) % 200);
    tk[2] = 7, tk[14] = 7;
    onc_enc_batch b = {tk, NULL, st, ln, 24, 4};
    double loss = 1e9, first = 0;
    int step;
    for (step = 0; step < 100 && loss >= 0.05; step++) {
        const float *h;
        assert_int_equal(onc_enc_model_forward(m, &b, true, (uint64_t)step, &h, &err), ONC_OK);
        float x[4 * 32], logits[8], dl[8] = {0}, dx[4 * 32] = {0}, dst[24 * 32] = {0};
        for (int s = 0; s < 4; s++) memcpy(x + s * 32, h + st[s] * 32, 32 * sizeof(float));
        onc_enc_model_zero_grad(m);
        assert_int_equal(onc_enc_model_classify(m, x, 4, logits, NULL, NULL, &err), ONC_OK);
        loss = onc_softmax_xent(dl, logits, y, NULL, 4, 2);
        if (step == 0) first = loss;
        assert_int_equal(onc_enc_model_classify(m, x, 4, logits, dl, dx, &err), ONC_OK);
        for (int s = 0; s < 4; s++) memcpy(dst + st[s] * 32, dx + s * 32, 32 * sizeof(float));
        assert_int_equal(onc_enc_model_backward(m, dst, &err), ONC_OK);
        onc_adamw_step(opt, 1e-3);
    }
    print_message("overfit: loss %.4f -> %.4f in %d AdamW steps (full fine-tuning, %lld parameters, %zu bytes)\n",
                  first, loss, step, (long long)onc_enc_model_n_trainable(m), onc_enc_model_bytes(m));
    assert_true(loss < 0.05);
    onc_adamw_free(opt);
    onc_enc_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_matches_encoder),
        cmocka_unit_test(test_grad_full_dropout),
        cmocka_unit_test(test_grad_full_nodrop),
        cmocka_unit_test(test_grad_lora),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_save_classify),
        cmocka_unit_test(test_file_head),
        cmocka_unit_test(test_save_lora_merged),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_overfit),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
