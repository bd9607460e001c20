/* test_llm.c — the decoder engine (oncolm/llm.h) and generation
 * (oncolm/generate.h) on small random-weight models made here:
 *   - KV-cache decoding (one token at a time, F32 and F16 caches) equals the
 *     full batch; several sequences in one batch equal each run alone;
 *     2 threads equal 1 thread (bit for bit: the same kernels see the same
 *     rows, only split differently);
 *   - broken files: a missing tensor, a wrong shape, an encoder, a context
 *     overflow and a bad token id give clear errors naming what is wrong;
 *   - generation: same seed same tokens, stop strings, max tokens, log-probs
 *     equal the scorer's, continuation scores equal per-token scores.
 * The numpy oracle (tests/oracle/test_forward_oracle.py) checks the values
 * themselves against an independent forward pass. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "oncolm/compute.h"
#include "oncolm/generate.h"
#include "oncolm/gguf.h"
#include "oncolm/llm.h"
#include "oncolm/model_create.h"
#include "test_util.h"

static void create(const char *name, onc_arch arch, onc_type wtype, int32_t kv_heads) {
    onc_model_create_params p = tu_small_params(arch, 2, 64, 4, 128);
    p.preset = "tiny";
    p.n_head_kv = kv_heads;
    p.n_ctx = 128;
    p.wtype = wtype;
    p.init_std = 0.3f; /* peaked attention and logits: differences show */
    tu_create_model(name, &p);
}

static int setup(void **state) {
    (void)state;
    /* K-quants need rows of 256: wider models (repacked at load with AVX-512) */
    for (int q = 0; q < 2; q++) {
        onc_model_create_params p = tu_small_params(ONC_ARCH_LLAMA, 2, 256, 4, 512);
        p.preset = "tiny";
        p.n_head_kv = 2;
        p.n_ctx = 128;
        p.wtype = q ? ONC_TYPE_Q6_K : ONC_TYPE_Q4_K;
        /* 0.05, not 0.3: activations are rounded to 8 bits before each
         * product, so a 1e-7 difference between two exact-integer kernels
         * (summation order) can flip one code, and random weights of std
         * 0.3 (Q4_K) or 0.1 (Q6_K) amplify that to 1e-2 of the logits
         * (seen, also between the file layout's row kernel and its GEMM);
         * at 0.05 every path agrees within 1e-6 */
        p.init_std = 0.05f;
        tu_create_model(q ? "llm_llama_q6k.gguf" : "llm_llama_q4k.gguf", &p);
        if (q) continue;
        /* tied embeddings, vocabulary a multiple of 16: the embedding
         * matrix is repacked too and its rows are looked up in that layout */
        p.tied = true;
        p.pad_vocab_to = 1152;
        tu_create_model("llm_llama_q4k_tied.gguf", &p);
    }
    create("llm_llama.gguf", ONC_ARCH_LLAMA, ONC_TYPE_F32, 2);
    create("llm_qwen2.gguf", ONC_ARCH_QWEN2, ONC_TYPE_F32, 2);
    create("llm_phi3.gguf", ONC_ARCH_PHI3, ONC_TYPE_F32, 4);
    create("llm_llama_q8.gguf", ONC_ARCH_LLAMA, ONC_TYPE_Q8_0, 2);
    create("llm_bert.gguf", ONC_ARCH_BERT, ONC_TYPE_F32, 4);
    return 0;
}

static const int32_t prompt[] = {1, 45, 300, 12, 99, 7, 250, 31, 64, 88, 17, 5, 400, 123, 9, 77};
#define N_PROMPT ((int32_t)(sizeof prompt / sizeof *prompt))

static onc_llm_ctx *new_ctx(onc_llm *m, uint32_t n_seq, onc_type kv, int threads) {
    onc_llm_ctx_params cp = onc_llm_ctx_default_params();
    cp.n_seq = n_seq;
    cp.kv_type = kv;
    cp.n_threads = threads;
    cp.n_ctx = 64;
    onc_error err = {0};
    onc_llm_ctx *c = onc_llm_ctx_new(m, &cp, &err);
    if (!c) fail_msg("context: %s", err.msg);
    return c;
}

/* Logits of every prompt position: in one batch (step = N) or in steps. */
static float *run(onc_llm *m, onc_type kv, int threads, int step) {
    onc_llm_ctx *c = new_ctx(m, 1, kv, threads);
    const int32_t V = onc_llm_n_vocab(m);
    float *out = malloc((size_t)N_PROMPT * V * sizeof *out);
    bool want[N_PROMPT];
    for (int i = 0; i < N_PROMPT; i++) want[i] = true;
    onc_error err = {0};
    for (int32_t a = 0; a < N_PROMPT; a += step) {
        const int32_t n = N_PROMPT - a < step ? N_PROMPT - a : step;
        onc_llm_batch b = {.n_tokens = n, .tokens = prompt + a, .logits = want};
        assert_int_equal(onc_llm_decode(c, &b, &err), ONC_OK);
        for (int32_t i = 0; i < n; i++) memcpy(out + (size_t)(a + i) * V, onc_llm_logits(c, i), (size_t)V * sizeof *out);
    }
    assert_int_equal(onc_llm_seq_len(c, 0), N_PROMPT);
    onc_llm_ctx_free(c);
    return out;
}

/* max |a - b| / max |b| over all entries. */
static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    return d / s;
}

static void check_model(const char *name) {
    onc_error err = {0};
    onc_llm *m = onc_llm_load(tu_tmp_path(name), &err);
    if (!m) fail_msg("load %s: %s", name, err.msg);
    const size_t n = (size_t)N_PROMPT * onc_llm_n_vocab(m);
    float *batch = run(m, ONC_TYPE_F32, 1, N_PROMPT);
    float *inc = run(m, ONC_TYPE_F32, 1, 1), *chunks = run(m, ONC_TYPE_F32, 1, 5);
    float *two = run(m, ONC_TYPE_F32, 2, N_PROMPT), *inc16 = run(m, ONC_TYPE_F16, 1, 1);
    float *batch16 = run(m, ONC_TYPE_F16, 1, N_PROMPT);
    /* F32 cache: the same arithmetic up to summation order in the batched
     * matmul tiles: 1e-5 relative. */
    const double e_inc = rel_diff(inc, batch, n), e_chunks = rel_diff(chunks, batch, n);
    if (e_inc > 1e-5 || e_chunks > 1e-5) fail_msg("%s: KV-cache decoding differs: %g / %g", name, e_inc, e_chunks);
    /* threads only split rows and (token, head) items: bit for bit with
     * quantized weights; float weights go through OpenBLAS sgemm per thread
     * range, whose summation order can depend on the range's width: 1e-5
     * (seen: 1.8e-6 with Debian's OpenBLAS on an AVX-512 Xeon) */
    const double e_thr = rel_diff(two, batch, n);
    const bool quant = strstr(name, "_q8") || strstr(name, "_q4k") || strstr(name, "_q6k");
    if (quant) assert_memory_equal(two, batch, n * sizeof *two);
    else if (e_thr > 1e-5) fail_msg("%s: 2 threads vs 1: %g", name, e_thr);
    /* F16 cache: incremental and batch store the same F16 values: identical
     * up to order; vs the F32 cache, K/V/probabilities rounded to F16
     * (2^-11 relative) give ~1e-3 of the logit range at most. */
    const double e16 = rel_diff(inc16, batch16, n), e16_32 = rel_diff(batch16, batch, n);
    /* ... except that batched matmuls (many rows: the GEMM path) round
     * differently from the 1-row kernels (~1e-7 relative, summation order),
     * and a difference that small can flip the F16 rounding of a K/V value
     * (2^-11 relative): 1e-3. */
    /* With 8-bit activations such a K/V flip can in turn flip an
     * activation code (as for e16_32 below): 5e-2 for quantized weights. */
    if (e16 > (quant ? 5e-2 : 1e-3)) fail_msg("%s: F16 KV incremental vs batch %g", name, e16);
    /* With quantized weights the activations are rounded to 8-bit blocks too,
     * and a K/V change of 2^-11 can flip a rounding step: allow 5e-2 there
     * (the oracle bounds each format against numpy separately). */
    const double bound16 = quant ? 5e-2 : 5e-3;
    if (e16_32 > bound16) fail_msg("%s: F16 vs F32 KV cache %g", name, e16_32);
    free(batch), free(inc), free(chunks), free(two), free(inc16), free(batch16);
    onc_llm_free(m);
}

static void test_kv_cache_llama(void **s) { (void)s, check_model("llm_llama.gguf"); }
static void test_kv_cache_qwen2(void **s) { (void)s, check_model("llm_qwen2.gguf"); }
static void test_kv_cache_phi3(void **s) { (void)s, check_model("llm_phi3.gguf"); }
static void test_kv_cache_q8(void **s) { (void)s, check_model("llm_llama_q8.gguf"); }
static void test_kv_cache_q4k(void **s) { (void)s, check_model("llm_llama_q4k.gguf"); }
static void test_kv_cache_q6k(void **s) { (void)s, check_model("llm_llama_q6k.gguf"); }

/* Q4_K / Q6_K weights repacked at load (AVX-512: Q4_K_R16 / Q6_K_R16) give
 * the logits of the file layout, in one batch (the GEMM path) and token by token (the 16-row
 * matrix-vector kernel): integer sums are exact in both, only the float
 * combination order differs, so 1e-5 of the logit range. */
static void check_repacked(const char *name) {
    onc_error err = {0};
    onc_llm_load_params lp = onc_llm_default_load_params();
    lp.repack = false;
    onc_llm *plain = onc_llm_load_with(tu_tmp_path(name), &lp, &err);
    lp.repack = true;
    onc_llm *rep = onc_llm_load_with(tu_tmp_path(name), &lp, &err);
    assert_non_null(plain);
    assert_non_null(rep);
    assert_int_equal(onc_llm_n_repacked(plain), 0);
    /* 2 layers x 7 matrices; the output (vocab rows) when a multiple of 16:
     * with tied embeddings, the embedding matrix */
    if (onc_simd_level_get() >= ONC_SIMD_AVX512)
        assert_true(onc_llm_n_repacked(rep) >= (strstr(name, "tied") ? 15 : 14));
    else assert_int_equal(onc_llm_n_repacked(rep), 0);
    const size_t n = (size_t)N_PROMPT * onc_llm_n_vocab(plain);
    for (int step = 1; step <= N_PROMPT; step += N_PROMPT - 1) {
        float *a = run(plain, ONC_TYPE_F32, 1, step), *b = run(rep, ONC_TYPE_F32, 2, step);
        const double e = rel_diff(b, a, n);
        if (e > 1e-5) fail_msg("%s: repacked vs file layout, step %d: %g", name, step, e);
        free(a), free(b);
    }
    onc_llm_free(plain);
    onc_llm_free(rep);
}
static void test_repacked_weights(void **state) {
    (void)state;
    check_repacked("llm_llama_q4k.gguf");
    check_repacked("llm_llama_q6k.gguf");
    check_repacked("llm_llama_q4k_tied.gguf");
}

/* Three sequences of different lengths interleaved in one batch equal each
 * decoded alone. */
static void test_multi_sequence(void **state) {
    (void)state;
    onc_error err = {0};
    onc_llm *m = onc_llm_load(tu_tmp_path("llm_llama.gguf"), &err);
    assert_non_null(m);
    const int32_t V = onc_llm_n_vocab(m);
    const int32_t lens[3] = {5, 15, 9}; /* sequence s reads prompt[s .. s + len) */
    float *alone[3];
    for (int s = 0; s < 3; s++) {
        onc_llm_ctx *c = new_ctx(m, 1, ONC_TYPE_F16, 1);
        onc_llm_batch b = {.n_tokens = lens[s], .tokens = prompt + s};
        assert_int_equal(onc_llm_decode(c, &b, &err), ONC_OK);
        alone[s] = malloc((size_t)V * sizeof(float));
        memcpy(alone[s], onc_llm_logits(c, lens[s] - 1), (size_t)V * sizeof(float));
        onc_llm_ctx_free(c);
    }
    /* interleave: token k of each sequence while it has one */
    int32_t toks[30];
    uint32_t seqs[30];
    bool want[30];
    int32_t last[3], n = 0;
    for (int k = 0; k < 16; k++)
        for (int s = 0; s < 3; s++)
            if (k < lens[s]) {
                toks[n] = prompt[s + k], seqs[n] = (uint32_t)s, want[n] = k == lens[s] - 1;
                if (want[n]) last[s] = n;
                n++;
            }
    onc_llm_ctx *c = new_ctx(m, 3, ONC_TYPE_F16, 2);
    onc_llm_batch b = {.n_tokens = n, .tokens = toks, .seq = seqs, .logits = want};
    assert_int_equal(onc_llm_decode(c, &b, &err), ONC_OK);
    for (int s = 0; s < 3; s++) {
        assert_int_equal(onc_llm_seq_len(c, (uint32_t)s), lens[s]);
        const double e = rel_diff(onc_llm_logits(c, last[s]), alone[s], (size_t)V);
        if (e > 1e-5) fail_msg("sequence %d: batched together differs from alone by %g", s, e);
        free(alone[s]);
    }
    assert_null(onc_llm_logits(c, 0)); /* not requested */
    /* one decoding step for all three at once continues each correctly */
    onc_llm_seq_truncate(c, 1, 4);
    assert_int_equal(onc_llm_seq_len(c, 1), 4);
    onc_llm_ctx_free(c);
    onc_llm_free(m);
}

/* Copy src to dst, dropping tensor `drop` or halving the first dim of
 * tensor `shrink` (NULL: neither). */
static void rewrite(const char *src, const char *dst, const char *drop, const char *shrink) {
    onc_error err = {0};
    onc_gguf *g = onc_gguf_open(src, &err);
    assert_non_null(g);
    onc_gguf_writer *w = onc_gguf_writer_new();
    for (int64_t i = 0; i < onc_gguf_n_kv(g); i++) assert_int_equal(onc_gguf_set_from(w, g, i), ONC_OK);
    for (int64_t i = 0; i < onc_gguf_n_tensors(g); i++) {
        const onc_gguf_tensor *t = onc_gguf_tensor_at(g, i);
        if (drop && !strcmp(t->name, drop)) continue;
        int64_t ne[4];
        memcpy(ne, t->ne, sizeof ne);
        if (shrink && !strcmp(t->name, shrink)) ne[0] /= 2;
        assert_int_equal(onc_gguf_add_tensor(w, t->name, t->type, t->n_dims, ne, t->data, NULL, NULL, &err), ONC_OK);
    }
    assert_int_equal(onc_gguf_writer_write(w, dst, &err), ONC_OK);
    onc_gguf_writer_free(w);
    onc_gguf_close(g);
}

static void expect_load_error(const char *path, const char *needle) {
    onc_error err = {0};
    onc_llm *m = onc_llm_load(path, &err);
    assert_null(m);
    if (!strstr(err.msg, needle)) fail_msg("error '%s' does not mention '%s'", err.msg, needle);
}

static void test_load_errors(void **state) {
    (void)state;
    char src[2200];
    snprintf(src, sizeof src, "%s", tu_tmp_path("llm_llama.gguf"));
    rewrite(src, tu_tmp_path("llm_missing.gguf"), "blk.1.ffn_down.weight", NULL);
    expect_load_error(tu_tmp_path("llm_missing.gguf"), "blk.1.ffn_down.weight");
    expect_load_error(tu_tmp_path("llm_missing.gguf"), "missing");
    rewrite(src, tu_tmp_path("llm_shape.gguf"), NULL, "blk.0.attn_norm.weight");
    expect_load_error(tu_tmp_path("llm_shape.gguf"), "blk.0.attn_norm.weight");
    expect_load_error(tu_tmp_path("llm_shape.gguf"), "expected {64");
    expect_load_error(tu_tmp_path("llm_bert.gguf"), "encoder");
    expect_load_error(tu_tmp_path("no_such_model.gguf"), "no_such_model.gguf");
}

static void test_decode_errors(void **state) {
    (void)state;
    onc_error err = {0};
    onc_llm *m = onc_llm_load(tu_tmp_path("llm_llama.gguf"), &err);
    assert_non_null(m);
    onc_llm_ctx *c = new_ctx(m, 1, ONC_TYPE_F16, 1); /* 64 positions */
    int32_t bad[2] = {5, onc_llm_n_vocab(m)};
    onc_llm_batch b = {.n_tokens = 2, .tokens = bad};
    assert_int_equal(onc_llm_decode(c, &b, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "outside the vocabulary"));
    assert_int_equal(onc_llm_seq_len(c, 0), 0); /* nothing appended */
    int32_t many[70];
    for (int i = 0; i < 70; i++) many[i] = i + 1;
    b = (onc_llm_batch){.n_tokens = 70, .tokens = many};
    assert_int_equal(onc_llm_decode(c, &b, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "full"));
    assert_int_equal(onc_llm_seq_len(c, 0), 0);
    uint32_t seq1 = 1;
    b = (onc_llm_batch){.n_tokens = 1, .tokens = many, .seq = &seq1};
    assert_int_equal(onc_llm_decode(c, &b, &err), ONC_ERR_INVALID);
    onc_llm_ctx_free(c);
    onc_llm_free(m);
}

static void test_generate(void **state) {
    (void)state;
    onc_error err = {0};
    onc_llm *m = onc_llm_load(tu_tmp_path("llm_llama.gguf"), &err);
    assert_non_null(m);
    onc_llm_ctx *c = new_ctx(m, 1, ONC_TYPE_F32, 1);
    onc_gen_params p = onc_gen_default_params();
    p.max_tokens = 12;
    p.ignore_eog = true;
    p.sampling.seed = 7;
    p.sampling.temperature = 1.5f;
    onc_gen_result r1, r2;
    assert_int_equal(onc_generate(c, 0, prompt, 6, &p, &r1, &err), ONC_OK);
    assert_int_equal(r1.n_tokens, 12);
    assert_int_equal(r1.finish, ONC_FINISH_LENGTH);
    assert_int_equal(onc_llm_seq_len(c, 0), 6 + 11); /* last token sampled, not decoded */
    onc_llm_seq_clear(c, 0);
    assert_int_equal(onc_generate(c, 0, prompt, 6, &p, &r2, &err), ONC_OK);
    assert_int_equal(r2.n_tokens, r1.n_tokens);
    assert_memory_equal(r1.tokens, r2.tokens, (size_t)r1.n_tokens * sizeof(int32_t));
    assert_string_equal(r1.text, r2.text);

    /* the log-probabilities of the generated tokens equal the scorer's */
    int32_t all[6 + 12];
    memcpy(all, prompt, 6 * sizeof *all);
    memcpy(all + 6, r1.tokens, 12 * sizeof *all);
    float per[12];
    double total = 0;
    assert_int_equal(onc_score_continuation(c, 0, prompt, 6, r1.tokens, 12, per, &total, &err), ONC_OK);
    double sum = 0;
    for (int i = 0; i < 12; i++) {
        if (fabs(per[i] - r1.logprobs[i]) > 1e-3) fail_msg("token %d: logprob %g vs scored %g", i, r1.logprobs[i], per[i]);
        sum += per[i];
    }
    assert_true(fabs(sum - total) < 1e-6);
    float lp[17];
    assert_int_equal(onc_score_tokens(c, 0, all, 18, lp, &err), ONC_OK);
    for (int i = 0; i < 12; i++) assert_true(fabs(lp[5 + i] - per[i]) < 1e-4);
    assert_int_equal(onc_llm_seq_len(c, 0), 0);

    /* a stop string cuts the text before it */
    if (r1.len > 4) {
        char stop[3] = {r1.text[r1.len / 2], r1.text[r1.len / 2 + 1], 0};
        const char *stops[1] = {stop};
        p.stop = stops;
        p.n_stop = 1;
        onc_gen_result r3;
        assert_int_equal(onc_generate(c, 0, prompt, 6, &p, &r3, &err), ONC_OK);
        assert_int_equal(r3.finish, ONC_FINISH_STOP);
        assert_null(strstr(r3.text, stop));
        const char *first = strstr(r1.text, stop);
        assert_int_equal(r3.len, (size_t)(first - r1.text));
        assert_memory_equal(r3.text, r1.text, r3.len);
        onc_gen_result_free(&r3);
    }
    onc_gen_result_free(&r1);
    onc_gen_result_free(&r2);
    onc_llm_ctx_free(c);
    onc_llm_free(m);
}

/* Two contexts over one model, decoding at the same time from two threads,
 * give the same logits as one context alone (weights are shared, read-only). */
typedef struct thread_job {
    onc_llm *m;
    float *out;
    int ok;
} thread_job;

static void *thread_decode(void *arg) {
    thread_job *j = arg;
    onc_llm_ctx_params cp = onc_llm_ctx_default_params();
    cp.n_threads = 1;
    cp.n_ctx = 64;
    onc_error err = {0};
    onc_llm_ctx *c = onc_llm_ctx_new(j->m, &cp, &err);
    if (!c) return NULL;
    /* all logits, as run() keeps: the same matmul shapes as the reference
     * (the GEMM path for many rows rounds differently from the 1-row one) */
    bool want[N_PROMPT];
    for (int i = 0; i < N_PROMPT; i++) want[i] = true;
    onc_llm_batch b = {.n_tokens = N_PROMPT, .tokens = prompt, .logits = want};
    for (int rep = 0; rep < 5; rep++) {
        onc_llm_seq_clear(c, 0);
        if (onc_llm_decode(c, &b, &err) != ONC_OK) break;
        memcpy(j->out, onc_llm_logits(c, N_PROMPT - 1), (size_t)onc_llm_n_vocab(j->m) * sizeof(float));
        j->ok = rep + 1;
    }
    onc_llm_ctx_free(c);
    return NULL;
}

static void test_concurrent_contexts(void **state) {
    (void)state;
    onc_error err = {0};
    onc_llm *m = onc_llm_load(tu_tmp_path("llm_qwen2.gguf"), &err);
    assert_non_null(m);
    const size_t V = (size_t)onc_llm_n_vocab(m);
    float *ref = run(m, ONC_TYPE_F16, 1, N_PROMPT);
    thread_job jobs[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        jobs[i] = (thread_job){m, malloc(V * sizeof(float)), 0};
        assert_int_equal(pthread_create(&th[i], NULL, thread_decode, &jobs[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].ok, 5);
        assert_memory_equal(jobs[i].out, ref + (size_t)(N_PROMPT - 1) * V, V * sizeof(float));
        free(jobs[i].out);
    }
    free(ref);
    onc_llm_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_cache_llama), cmocka_unit_test(test_kv_cache_qwen2),
        cmocka_unit_test(test_kv_cache_phi3),  cmocka_unit_test(test_kv_cache_q8),
        cmocka_unit_test(test_kv_cache_q4k),   cmocka_unit_test(test_kv_cache_q6k),
        cmocka_unit_test(test_repacked_weights),
        cmocka_unit_test(test_multi_sequence), cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_decode_errors),  cmocka_unit_test(test_generate),
        cmocka_unit_test(test_concurrent_contexts),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
