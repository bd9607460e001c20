/* test_model_create.c — architecture tables (oncolm/arch.h) and random-weight
 * model creation (oncolm/model_create.h): tensor lists and shapes per the
 * reference (Q3/Q4), hyper-parameters round-tripping through GGUF with the
 * exact key types, created files holding every tensor with the right type
 * (and fallbacks), tied embeddings, classifier heads, weight statistics,
 * byte-identical files for the same seed, and each family's special tokens,
 * ids, chat template and tokenizer round trips. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "oncolm/arch.h"
#include "oncolm/chat.h"
#include "oncolm/gguf.h"
#include "oncolm/model_create.h"
#include "oncolm/tokenizer.h"
#include "test_util.h"

static const onc_arch_tensor *find(const onc_arch_tensor *t, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0) return &t[i];
    return NULL;
}

static void expect_shape(const onc_arch_tensor *t, size_t n, const char *name, int64_t ne0, int64_t ne1) {
    const onc_arch_tensor *x = find(t, n, name);
    if (!x) fprintf(stderr, "missing tensor %s\n", name);
    assert_non_null(x);
    assert_int_equal(x->ne[0], ne0);
    assert_int_equal(x->ne[1], ne1 ? ne1 : 1);
    assert_int_equal(x->n_dims, ne1 ? 2 : 1);
}

static onc_hparams dims(onc_arch arch, uint32_t embd, uint32_t layers, uint32_t heads, uint32_t kv, uint32_t ff) {
    onc_hparams hp = onc_hparams_default(arch);
    hp.n_vocab = 1000;
    hp.n_ctx_train = 128;
    hp.n_embd = embd;
    hp.n_layer = layers;
    hp.n_head = heads;
    hp.n_head_kv = kv;
    hp.n_ff = ff;
    hp.n_embd_head_k = hp.n_embd_head_v = hp.n_rot = embd / heads;
    return hp;
}

// --- arch tables ---------------------------------------------------------------------

static void test_llama_tensors(void **state) {
    (void)state;
    onc_hparams hp = dims(ONC_ARCH_LLAMA, 256, 2, 8, 2, 512);
    size_t n;
    onc_arch_tensor *t = onc_arch_tensors(&hp, &n, NULL);
    assert_non_null(t);
    assert_int_equal(n, 3 + 2 * 9);
    expect_shape(t, n, "token_embd.weight", 256, 1000);
    expect_shape(t, n, "output_norm.weight", 256, 0);
    expect_shape(t, n, "output.weight", 256, 1000);
    expect_shape(t, n, "blk.1.attn_norm.weight", 256, 0);
    expect_shape(t, n, "blk.1.attn_q.weight", 256, 256);
    expect_shape(t, n, "blk.1.attn_k.weight", 256, 64); /* GQA: 2 kv heads of 32 */
    expect_shape(t, n, "blk.1.attn_v.weight", 256, 64);
    expect_shape(t, n, "blk.1.attn_output.weight", 256, 256);
    expect_shape(t, n, "blk.1.ffn_norm.weight", 256, 0);
    expect_shape(t, n, "blk.1.ffn_gate.weight", 256, 512);
    expect_shape(t, n, "blk.1.ffn_up.weight", 256, 512);
    expect_shape(t, n, "blk.1.ffn_down.weight", 512, 256);
    const onc_arch_tensor *norm = find(t, n, "blk.0.attn_norm.weight");
    assert_true(norm->keep_f32 && norm->init == ONC_INIT_ONES && norm->required);
    assert_false(find(t, n, "output.weight")->required);
    free(t);
    hp.tied_embeddings = true;
    hp.has_rope_freqs = true;
    t = onc_arch_tensors(&hp, &n, NULL);
    assert_null(find(t, n, "output.weight"));
    expect_shape(t, n, "rope_freqs.weight", 16, 0);
    free(t);
}

static void test_qwen2_phi3_tensors(void **state) {
    (void)state;
    onc_hparams hp = dims(ONC_ARCH_QWEN2, 256, 1, 8, 2, 512);
    size_t n;
    onc_arch_tensor *t = onc_arch_tensors(&hp, &n, NULL);
    expect_shape(t, n, "blk.0.attn_q.bias", 256, 0);
    expect_shape(t, n, "blk.0.attn_k.bias", 64, 0);
    expect_shape(t, n, "blk.0.attn_v.bias", 64, 0);
    assert_true(find(t, n, "blk.0.attn_q.bias")->required);
    assert_int_equal(find(t, n, "blk.0.attn_q.bias")->init, ONC_INIT_ZEROS);
    assert_null(find(t, n, "blk.0.attn_output.bias"));
    assert_int_equal(onc_arch_rope_type(ONC_ARCH_QWEN2), ONC_ROPE_NEOX);
    free(t);

    hp = dims(ONC_ARCH_PHI3, 256, 1, 8, 8, 512);
    assert_true(hp.fused_qkv);
    t = onc_arch_tensors(&hp, &n, NULL);
    expect_shape(t, n, "blk.0.attn_qkv.weight", 256, 768);
    expect_shape(t, n, "blk.0.ffn_up.weight", 256, 1024);
    expect_shape(t, n, "blk.0.ffn_down.weight", 512, 256);
    assert_null(find(t, n, "blk.0.ffn_gate.weight"));
    assert_null(find(t, n, "blk.0.attn_q.weight"));
    free(t);
    hp.has_rope_factors = true;
    t = onc_arch_tensors(&hp, &n, NULL);
    expect_shape(t, n, "rope_factors_long.weight", 16, 0);
    expect_shape(t, n, "rope_factors_short.weight", 16, 0);
    free(t);
}

static void test_bert_tensors(void **state) {
    (void)state;
    onc_hparams hp = dims(ONC_ARCH_BERT, 128, 2, 4, 4, 512);
    const char *labels[] = {"neg", "pos", "neutral"};
    assert_int_equal(onc_hparams_set_labels(&hp, labels, 3), ONC_OK);
    hp.has_cls = hp.has_cls_out = true;
    size_t n;
    onc_arch_tensor *t = onc_arch_tensors(&hp, &n, NULL);
    assert_non_null(t);
    expect_shape(t, n, "token_embd.weight", 128, 1000);
    expect_shape(t, n, "token_types.weight", 128, 2);
    expect_shape(t, n, "position_embd.weight", 128, 128);
    expect_shape(t, n, "token_embd_norm.weight", 128, 0);
    expect_shape(t, n, "token_embd_norm.bias", 128, 0);
    const char *per_layer[][3] = {
        {"attn_q.weight", "128", "128"},          {"attn_q.bias", "128", "0"},
        {"attn_k.weight", "128", "128"},          {"attn_k.bias", "128", "0"},
        {"attn_v.weight", "128", "128"},          {"attn_v.bias", "128", "0"},
        {"attn_output.weight", "128", "128"},     {"attn_output.bias", "128", "0"},
        {"attn_output_norm.weight", "128", "0"},  {"attn_output_norm.bias", "128", "0"},
        {"ffn_up.weight", "128", "512"},          {"ffn_up.bias", "512", "0"},
        {"ffn_down.weight", "512", "128"},        {"ffn_down.bias", "128", "0"},
        {"layer_output_norm.weight", "128", "0"}, {"layer_output_norm.bias", "128", "0"},
    };
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < sizeof per_layer / sizeof per_layer[0]; i++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s", l, per_layer[i][0]);
            expect_shape(t, n, name, atoi(per_layer[i][1]), atoi(per_layer[i][2]));
        }
    expect_shape(t, n, "cls.weight", 128, 128);
    expect_shape(t, n, "cls.bias", 128, 0);
    expect_shape(t, n, "cls.output.weight", 128, 3);
    expect_shape(t, n, "cls.output.bias", 3, 0);
    assert_null(find(t, n, "output.weight"));
    assert_null(find(t, n, "output_norm.weight"));
    assert_int_equal(n, 5 + 2 * 16 + 4);
    free(t);
    onc_hparams_clear(&hp);
}

static void test_validate(void **state) {
    (void)state;
    onc_error err = {0};
    onc_hparams hp = dims(ONC_ARCH_LLAMA, 256, 2, 8, 3, 512); /* 8 % 3 != 0 */
    assert_int_equal(onc_hparams_validate(&hp, "x.gguf", &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "x.gguf"));
    hp = dims(ONC_ARCH_LLAMA, 256, 2, 8, 8, 512);
    hp.n_rot = 16; /* llama needs n_rot == head size */
    assert_int_equal(onc_hparams_validate(&hp, "x", &err), ONC_ERR_INVALID);
    hp = dims(ONC_ARCH_BERT, 256, 2, 8, 8, 512);
    assert_int_equal(onc_hparams_validate(&hp, "x", &err), ONC_OK);
    hp.n_token_types = 0;
    assert_int_equal(onc_hparams_validate(&hp, "x", &err), ONC_ERR_INVALID);
    onc_arch a;
    assert_true(onc_arch_from_name("phi3", &a) && a == ONC_ARCH_PHI3);
    assert_false(onc_arch_from_name("gpt2", &a));
}

/* Write hparams into a GGUF in memory and read them back; check key types. */
static void test_hparams_roundtrip(void **state) {
    (void)state;
    for (int arch = 0; arch < ONC_ARCH_COUNT; arch++) {
        onc_hparams hp = dims((onc_arch)arch, 256, 3, 8, arch == ONC_ARCH_BERT || arch == ONC_ARCH_PHI3 ? 8 : 2, 768);
        hp.rope_freq_base = 500000.0f;
        if (arch == ONC_ARCH_BERT) {
            const char *labels[] = {"a", "b"};
            onc_hparams_set_labels(&hp, labels, 2);
            hp.pooling = ONC_POOLING_RANK;
        }
        onc_gguf_writer *w = onc_gguf_writer_new();
        onc_error err = {0};
        assert_int_equal(onc_hparams_write_gguf(&hp, w, &err), ONC_OK);
        void *buf;
        size_t size;
        assert_int_equal(onc_gguf_writer_write_mem(w, &buf, &size, &err), ONC_OK);
        onc_gguf *g = onc_gguf_open_memory(buf, size, "mem.gguf", &err);
        assert_non_null(g);
        const char *a = onc_arch_name((onc_arch)arch);
        char key[128];
        const char *u32_keys[] = {"context_length", "embedding_length", "block_count", "feed_forward_length",
                                  "attention.head_count"};
        for (int i = 0; i < 5; i++) {
            snprintf(key, sizeof key, "%s.%s", a, u32_keys[i]);
            int64_t k = onc_gguf_find_key(g, key);
            assert_true(k >= 0);
            assert_int_equal(onc_gguf_kv_type(g, k), ONC_GGUF_UINT32);
        }
        if (arch == ONC_ARCH_BERT) {
            snprintf(key, sizeof key, "bert.attention.causal");
            assert_int_equal(onc_gguf_kv_type(g, onc_gguf_find_key(g, key)), ONC_GGUF_BOOL);
            assert_int_equal(onc_gguf_kv_type(g, onc_gguf_find_key(g, "bert.attention.layer_norm_epsilon")),
                             ONC_GGUF_FLOAT32);
            assert_int_equal(onc_gguf_kv_type(g, onc_gguf_find_key(g, "bert.pooling_type")), ONC_GGUF_UINT32);
            assert_int_equal(onc_gguf_kv_type(g, onc_gguf_find_key(g, "tokenizer.ggml.token_type_count")),
                             ONC_GGUF_UINT32);
        } else {
            snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", a);
            assert_int_equal(onc_gguf_kv_type(g, onc_gguf_find_key(g, key)), ONC_GGUF_FLOAT32);
            snprintf(key, sizeof key, "%s.rope.freq_base", a);
            assert_int_equal(onc_gguf_kv_type(g, onc_gguf_find_key(g, key)), ONC_GGUF_FLOAT32);
        }
        onc_hparams back;
        assert_int_equal(onc_hparams_from_gguf(g, &back, &err), ONC_OK);
        assert_int_equal(back.arch, arch);
        assert_int_equal(back.n_embd, 256);
        assert_int_equal(back.n_layer, 3);
        assert_int_equal(back.n_head_kv, hp.n_head_kv);
        assert_int_equal(back.n_ff, 768);
        assert_int_equal(back.n_vocab, 1000);
        assert_int_equal(back.n_rot, 32);
        if (arch == ONC_ARCH_BERT) {
            assert_false(back.causal_attn);
            assert_int_equal(back.pooling, ONC_POOLING_RANK);
            assert_int_equal(back.n_cls_out, 2);
            assert_string_equal(back.cls_labels[1], "b");
        } else {
            assert_true(back.rope_freq_base == 500000.0f);
        }
        onc_hparams_clear(&back);
        onc_hparams_clear(&hp);
        onc_gguf_close(g);
        free(buf);
        onc_gguf_writer_free(w);
    }
}

static void test_hparams_bad_types(void **state) {
    (void)state;
    onc_gguf_writer *w = onc_gguf_writer_new();
    onc_gguf_set_str(w, "general.architecture", "llama");
    onc_gguf_set_u64(w, "llama.context_length", 128); /* wrong: must be u32 */
    onc_gguf_set_u32(w, "llama.embedding_length", 64);
    void *buf;
    size_t size;
    onc_error err = {0};
    assert_int_equal(onc_gguf_writer_write_mem(w, &buf, &size, &err), ONC_OK);
    onc_gguf *g = onc_gguf_open_memory(buf, size, "bad.gguf", &err);
    assert_non_null(g);
    onc_hparams hp;
    assert_int_equal(onc_hparams_from_gguf(g, &hp, &err), ONC_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "bad.gguf"));
    assert_non_null(strstr(err.msg, "llama.context_length"));
    onc_gguf_close(g);
    free(buf);
    onc_gguf_writer_free(w);
}

// --- model create ------------------------------------------------------------------------

static onc_gguf *create(onc_arch arch, onc_type type, bool tied, const char *file, onc_model_create_report *rep) {
    onc_model_create_params p = onc_model_create_default_params();
    p.arch = arch;
    p.wtype = type;
    p.tied = tied;
    p.n_layer = 2;
    const char *labels[] = {"benign", "malignant"};
    if (arch == ONC_ARCH_BERT) {
        p.labels = labels;
        p.n_labels = 2;
    }
    onc_error err = {0};
    onc_status st = onc_model_create(tu_tmp_path(file), &p, rep, &err);
    if (st != ONC_OK) fprintf(stderr, "create: %s\n", err.msg);
    assert_int_equal(st, ONC_OK);
    onc_gguf *g = onc_gguf_open(tu_tmp_path(file), &err);
    assert_non_null(g);
    return g;
}

static void test_create_all(void **state) {
    (void)state;
    const onc_type types[] = {ONC_TYPE_F32, ONC_TYPE_F16, ONC_TYPE_Q4_K};
    for (int arch = 0; arch < ONC_ARCH_COUNT; arch++) {
        for (size_t ti = 0; ti < 3; ti++) {
            onc_model_create_report rep;
            onc_gguf *g = create((onc_arch)arch, types[ti], false, "m.gguf", &rep);
            onc_hparams hp;
            onc_error err = {0};
            assert_int_equal(onc_hparams_from_gguf(g, &hp, &err), ONC_OK);
            assert_int_equal(hp.arch, arch);
            assert_int_equal(hp.n_layer, 2);
            assert_int_equal((int32_t)hp.n_vocab, rep.n_vocab);
            size_t n;
            onc_arch_tensor *t = onc_arch_tensors(&hp, &n, &err);
            assert_non_null(t);
            assert_int_equal(onc_gguf_n_tensors(g), (int64_t)n);
            for (size_t i = 0; i < n; i++) {
                const onc_gguf_tensor *x = onc_gguf_find_tensor(g, t[i].name);
                assert_non_null(x);
                for (int d = 0; d < 4; d++) assert_int_equal(x->ne[d], t[i].ne[d]);
                if (t[i].keep_f32) assert_int_equal(x->type, ONC_TYPE_F32);
                else assert_int_equal(x->type, types[ti]); /* tiny rows are multiples of 256 */
            }
            uint32_t ft = 99;
            assert_int_equal(onc_gguf_get_u32(g, "general.file_type", &ft, NULL), ONC_OK);
            assert_int_equal(ft, types[ti] == ONC_TYPE_F32 ? 0u : types[ti] == ONC_TYPE_F16 ? 1u : 14u);
            assert_int_equal(onc_gguf_find_key(g, "general.quantization_version") >= 0, types[ti] == ONC_TYPE_Q4_K);
            assert_true(onc_gguf_find_key(g, "tokenizer.ggml.tokens") >= 0);
            free(t);
            onc_hparams_clear(&hp);
            onc_gguf_close(g);
        }
    }
}

static void test_create_stats_and_tied(void **state) {
    (void)state;
    onc_model_create_report rep;
    onc_gguf *g = create(ONC_ARCH_LLAMA, ONC_TYPE_F32, true, "tied.gguf", &rep);
    assert_null(onc_gguf_find_tensor(g, "output.weight"));
    const onc_gguf_tensor *e = onc_gguf_find_tensor(g, "token_embd.weight");
    const float *v = e->data;
    int64_t n = e->ne[0] * e->ne[1];
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        s += v[i];
        s2 += (double)v[i] * v[i];
    }
    double mean = s / (double)n, std = sqrt(s2 / (double)n - mean * mean);
    assert_true(fabs(mean) < 0.002);
    assert_true(fabs(std - 0.02) < 0.001);
    const onc_gguf_tensor *norm = onc_gguf_find_tensor(g, "blk.0.attn_norm.weight");
    for (int64_t i = 0; i < norm->ne[0]; i++) assert_true(((const float *)norm->data)[i] == 1.0f);
    onc_gguf_close(g);
}

static bool same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = false;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void test_create_deterministic(void **state) {
    (void)state;
    onc_model_create_params p = onc_model_create_default_params();
    p.arch = ONC_ARCH_QWEN2;
    p.wtype = ONC_TYPE_Q8_0;
    p.n_layer = 1;
    onc_error err = {0};
    assert_int_equal(onc_model_create(tu_tmp_path("d1.gguf"), &p, NULL, &err), ONC_OK);
    assert_int_equal(onc_model_create(tu_tmp_path("d2.gguf"), &p, NULL, &err), ONC_OK);
    assert_true(same_file(tu_tmp_path("d1.gguf"), tu_tmp_path("d2.gguf")));
    p.seed = 7;
    assert_int_equal(onc_model_create(tu_tmp_path("d3.gguf"), &p, NULL, &err), ONC_OK);
    assert_false(same_file(tu_tmp_path("d1.gguf"), tu_tmp_path("d3.gguf")));
    remove(tu_tmp_path("d1.gguf"));
    remove(tu_tmp_path("d2.gguf"));
    remove(tu_tmp_path("d3.gguf"));
}

static void test_create_fallback_and_errors(void **state) {
    (void)state;
    onc_model_create_params p = onc_model_create_default_params();
    p.arch = ONC_ARCH_LLAMA;
    p.n_embd = 96; /* rows of 96: not a multiple of 256 -> q8_0 */
    p.n_head = 4;
    p.n_head_kv = 4;
    p.n_ff = 128;
    p.n_layer = 1;
    p.wtype = ONC_TYPE_Q4_K;
    onc_model_create_report rep;
    onc_error err = {0};
    assert_int_equal(onc_model_create(tu_tmp_path("fb.gguf"), &p, &rep, &err), ONC_OK);
    assert_true(rep.n_fallback > 0);
    assert_non_null(strstr(rep.note, "q8_0"));
    onc_gguf *g = onc_gguf_open(tu_tmp_path("fb.gguf"), &err);
    assert_non_null(g);
    assert_int_equal(onc_gguf_find_tensor(g, "blk.0.attn_q.weight")->type, ONC_TYPE_Q8_0);
    onc_gguf_close(g);
    remove(tu_tmp_path("fb.gguf"));

    p = onc_model_create_default_params();
    p.preset = "7b";
    p.arch = ONC_ARCH_BERT;
    assert_int_equal(onc_model_create(tu_tmp_path("x.gguf"), &p, NULL, &err), ONC_ERR_INVALID);
    p = onc_model_create_default_params();
    p.wtype = ONC_TYPE_Q2_K;
    assert_int_equal(onc_model_create(tu_tmp_path("x.gguf"), &p, NULL, &err), ONC_ERR_INVALID);
    p = onc_model_create_default_params();
    p.vocab_path = tu_tmp_path("does-not-exist.gguf");
    assert_int_not_equal(onc_model_create(tu_tmp_path("x.gguf"), &p, NULL, &err), ONC_OK);
    assert_non_null(strstr(err.msg, "does-not-exist.gguf"));
}

static void test_presets(void **state) {
    (void)state;
    onc_hparams hp;
    assert_int_equal(onc_model_create_preset(ONC_ARCH_LLAMA, "7b", &hp, NULL), ONC_OK);
    hp.n_vocab = 32000;
    int64_t n7 = onc_hparams_n_params(&hp);
    assert_true(n7 > 6600000000LL && n7 < 6800000000LL); /* Llama-2-7B: 6.74B */
    assert_int_equal(onc_model_create_preset(ONC_ARCH_LLAMA, "8b", &hp, NULL), ONC_OK);
    hp.n_vocab = 128256;
    int64_t n8 = onc_hparams_n_params(&hp);
    assert_true(n8 > 7900000000LL && n8 < 8100000000LL); /* Llama-3-8B: 8.03B */
    assert_int_equal(onc_model_create_preset(ONC_ARCH_BERT, "base", &hp, NULL), ONC_OK);
    hp.n_vocab = 30522;
    int64_t nb = onc_hparams_n_params(&hp);
    assert_true(nb > 100000000LL && nb < 115000000LL); /* bert-base: ~109M (no pooler) */
    assert_int_equal(onc_model_create_preset(ONC_ARCH_LLAMA, "1b", &hp, NULL), ONC_OK);
    assert_int_equal(hp.n_layer, 22);
    assert_int_equal(hp.n_head_kv, 4);
    assert_int_equal(hp.n_ctx_train, 2048);
    hp.n_vocab = 32000;
    int64_t n1 = onc_hparams_n_params(&hp);
    assert_true(n1 > 1090000000LL && n1 < 1110000000LL); /* TinyLlama-1.1B: 1.10B */
    assert_int_equal(onc_model_create_preset(ONC_ARCH_PHI3, "mini", &hp, NULL), ONC_OK);
    assert_int_equal(hp.n_layer, 32);
    assert_int_equal(hp.n_embd, 3072);
    assert_int_equal(hp.n_ff, 8192);
    assert_int_equal(hp.n_ctx_train, 4096);
    hp.n_vocab = 32064;
    int64_t nm = onc_hparams_n_params(&hp);
    assert_true(nm > 3800000000LL && nm < 3850000000LL); /* Phi-3-mini: 3.82B */
    assert_int_equal(onc_model_create_preset(ONC_ARCH_PHI3, "8b", &hp, NULL), ONC_ERR_INVALID);
    assert_int_equal(onc_model_create_preset(ONC_ARCH_QWEN2, "1b", &hp, NULL), ONC_ERR_INVALID);
}

// --- family special tokens, chat templates, round trips ---------------------------------

static onc_gguf *create_vocab_model(onc_model_create_params *p, const char *file, onc_model_create_report *rep) {
    p->n_layer = 1;
    if (p->n_embd == 0) {
        p->n_embd = 64;
        p->n_head = 2;
        p->n_head_kv = 2;
        p->n_ff = 128;
    }
    onc_error err = {0};
    onc_status st = onc_model_create(tu_tmp_path(file), p, rep, &err);
    if (st != ONC_OK) fprintf(stderr, "create: %s\n", err.msg);
    assert_int_equal(st, ONC_OK);
    onc_gguf *g = onc_gguf_open(tu_tmp_path(file), &err);
    assert_non_null(g);
    return g;
}

static void expect_token(const onc_tokenizer *tok, int32_t id, const char *text, onc_token_type type) {
    const char *t = onc_token_text(tok, id, NULL);
    if (!t || strcmp(t, text) != 0) fprintf(stderr, "token %d: '%s', want '%s'\n", (int)id, t ? t : "(null)", text);
    assert_non_null(t);
    assert_string_equal(t, text);
    assert_int_equal(onc_token_get_type(tok, id), type);
}

static int32_t u32_key(const onc_gguf *g, const char *key) {
    uint32_t v = 0;
    return onc_gguf_get_u32(g, key, &v, NULL) == ONC_OK ? (int32_t)v : -1;
}

static bool template_is(const onc_gguf *g, const char *name) {
    onc_str s;
    if (onc_gguf_get_str(g, "tokenizer.chat_template", &s, NULL) != ONC_OK) return name == NULL;
    const char *want = name ? onc_model_create_chat_template(name) : NULL;
    return want && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* Tokenize, detokenize, compare; returns the ids (caller frees). Text with
 * special tokens does not come back byte for byte with SPM (llama.cpp puts a
 * space prefix after each special token; Phi-3's special tokens eat the
 * whitespace after them): the check is then only that the text survives with
 * whitespace dropped. */
static int32_t *roundtrip(const onc_tokenizer *tok, const char *text, bool parse_special, size_t *n) {
    onc_tokenize_params tp = onc_tokenize_default_params();
    tp.add_special = false;
    tp.parse_special = parse_special;
    int32_t *ids = NULL;
    onc_error err = {0};
    assert_int_equal(onc_tokenize(tok, text, strlen(text), &tp, &ids, n, &err), ONC_OK);
    onc_detokenize_params dp = onc_detokenize_default_params();
    dp.unparse_special = true;
    dp.no_clean_spaces = true;
    char *back = NULL;
    size_t len = 0;
    assert_int_equal(onc_detokenize(tok, ids, *n, &dp, &back, &len, &err), ONC_OK);
    bool exact = onc_tokenizer_kind(tok) != ONC_VOCAB_SPM || strchr(text, '<') == NULL;
    char a[256], b[256];
    size_t na = 0, nb = 0;
    for (const char *c = text; *c && na + 1 < sizeof a; c++)
        if (exact || (*c != ' ' && *c != '\n')) a[na++] = *c;
    for (const char *c = back; *c && nb + 1 < sizeof b; c++)
        if (exact || (*c != ' ' && *c != '\n')) b[nb++] = *c;
    a[na] = b[nb] = '\0';
    if (strcmp(a, b) != 0) fprintf(stderr, "round trip:\n  in  '%s'\n  out '%s'\n", text, back);
    assert_string_equal(a, b);
    free(back);
    return ids;
}

static bool has_id(const int32_t *ids, size_t n, int32_t id) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

static const char k_sentence[] = "The patient received 60 Gy in 30 fractions; HER2-negative, Ki-67 20%.";

static void test_family_phi3(void **state) {
    (void)state;
    /* Phi-3-mini layout: 32000 regular, added tokens at 32000.., 32064 total */
    onc_model_create_params p = onc_model_create_default_params();
    p.arch = ONC_ARCH_PHI3;
    p.pad_vocab_to = 32064;
    p.wtype = ONC_TYPE_Q8_0;
    onc_model_create_report rep;
    onc_gguf *g = create_vocab_model(&p, "phi3.gguf", &rep);
    assert_int_equal(rep.n_vocab, 32064);
    assert_int_equal(rep.n_added, 11);
    assert_string_equal(rep.family, "phi3");
    assert_string_equal(rep.chat_template, "phi3");
    onc_error err = {0};
    onc_tokenizer *tok = onc_tokenizer_from_gguf(g, &err);
    assert_non_null(tok);
    assert_int_equal(onc_tokenizer_n_tokens(tok), 32064);
    expect_token(tok, 0, "<unk>", ONC_TOKEN_UNKNOWN);
    expect_token(tok, 1, "<s>", ONC_TOKEN_CONTROL);
    expect_token(tok, 2, "</s>", ONC_TOKEN_CONTROL);
    expect_token(tok, 32000, "<|endoftext|>", ONC_TOKEN_CONTROL);
    expect_token(tok, 32001, "<|assistant|>", ONC_TOKEN_USER_DEFINED);
    expect_token(tok, 32002, "<|placeholder1|>", ONC_TOKEN_USER_DEFINED);
    expect_token(tok, 32005, "<|placeholder4|>", ONC_TOKEN_USER_DEFINED);
    expect_token(tok, 32006, "<|system|>", ONC_TOKEN_USER_DEFINED);
    expect_token(tok, 32007, "<|end|>", ONC_TOKEN_USER_DEFINED);
    expect_token(tok, 32009, "<|placeholder6|>", ONC_TOKEN_USER_DEFINED);
    expect_token(tok, 32010, "<|user|>", ONC_TOKEN_USER_DEFINED);
    expect_token(tok, 32011, "[PAD32011]", ONC_TOKEN_UNUSED);
    expect_token(tok, 32063, "[PAD32063]", ONC_TOKEN_UNUSED);
    assert_int_equal(u32_key(g, "tokenizer.ggml.eos_token_id"), 32000);
    assert_int_equal(u32_key(g, "tokenizer.ggml.eot_token_id"), 32007);
    assert_int_equal(u32_key(g, "tokenizer.ggml.padding_token_id"), 32000);
    assert_int_equal(u32_key(g, "tokenizer.ggml.bos_token_id"), 1);
    assert_int_equal(onc_tokenizer_special(tok, ONC_SPECIAL_EOT), 32007);
    assert_true(onc_token_is_eog(tok, 32000));
    assert_true(onc_token_is_eog(tok, 32007));
    assert_true(onc_tokenizer_add_bos(tok));
    assert_true(template_is(g, "phi3"));
    size_t n;
    int32_t *ids = roundtrip(tok, k_sentence, false, &n);
    for (size_t i = 0; i < n; i++) assert_true(ids[i] < 32000);
    free(ids);
    /* USER_DEFINED tokens are recognised even without parse_special; <|end|>
     * is forced to CONTROL as the end-of-turn token (llama.cpp does the same),
     * so it needs parse_special */
    const char *chat = "<|user|>\nStage IIIA?<|end|>\n<|assistant|>\n";
    ids = roundtrip(tok, chat, false, &n);
    assert_true(has_id(ids, n, 32010) && has_id(ids, n, 32001));
    assert_false(has_id(ids, n, 32007));
    free(ids);
    ids = roundtrip(tok, chat, true, &n);
    assert_true(has_id(ids, n, 32010) && has_id(ids, n, 32007) && has_id(ids, n, 32001));
    free(ids);
    onc_tokenizer_free(tok);
    onc_gguf_close(g);
    remove(tu_tmp_path("phi3.gguf"));
}

static void test_family_llama3(void **state) {
    (void)state;
    onc_model_create_params p = onc_model_create_default_params();
    p.arch = ONC_ARCH_LLAMA;
    p.vocab_kind = ONC_VOCAB_BPE;
    p.pre = "llama-bpe";
    p.pad_vocab_to = 128256;
    p.wtype = ONC_TYPE_Q8_0;
    onc_model_create_report rep;
    onc_gguf *g = create_vocab_model(&p, "llama3.gguf", &rep);
    assert_int_equal(rep.n_vocab, 128256);
    assert_int_equal(rep.n_added, 256);
    onc_error err = {0};
    onc_tokenizer *tok = onc_tokenizer_from_gguf(g, &err);
    assert_non_null(tok);
    expect_token(tok, 128000, "<|begin_of_text|>", ONC_TOKEN_CONTROL);
    expect_token(tok, 128001, "<|end_of_text|>", ONC_TOKEN_CONTROL);
    expect_token(tok, 128002, "<|reserved_special_token_0|>", ONC_TOKEN_CONTROL);
    expect_token(tok, 128006, "<|start_header_id|>", ONC_TOKEN_CONTROL);
    expect_token(tok, 128007, "<|end_header_id|>", ONC_TOKEN_CONTROL);
    expect_token(tok, 128008, "<|reserved_special_token_4|>", ONC_TOKEN_CONTROL);
    expect_token(tok, 128009, "<|eot_id|>", ONC_TOKEN_CONTROL);
    expect_token(tok, 128010, "<|reserved_special_token_5|>", ONC_TOKEN_CONTROL);
    expect_token(tok, 128255, "<|reserved_special_token_250|>", ONC_TOKEN_CONTROL);
    assert_int_equal(u32_key(g, "tokenizer.ggml.bos_token_id"), 128000);
    assert_int_equal(u32_key(g, "tokenizer.ggml.eos_token_id"), 128001);
    assert_int_equal(u32_key(g, "tokenizer.ggml.eot_token_id"), 128009);
    assert_int_equal(onc_tokenizer_special(tok, ONC_SPECIAL_EOT), 128009);
    assert_true(onc_tokenizer_add_bos(tok));
    assert_true(template_is(g, "llama3"));
    size_t n;
    int32_t *ids = roundtrip(tok, k_sentence, false, &n);
    for (size_t i = 0; i < n; i++) assert_true(ids[i] < 128000);
    free(ids);
    /* CONTROL texts: split out only with parse_special */
    const char *chat = "<|start_header_id|>user<|end_header_id|>\n\nDose?<|eot_id|>";
    ids = roundtrip(tok, chat, true, &n);
    assert_true(ids[0] == 128006 && has_id(ids, n, 128007) && ids[n - 1] == 128009);
    free(ids);
    ids = roundtrip(tok, chat, false, &n);
    assert_false(has_id(ids, n, 128006));
    free(ids);
    onc_tokenizer_free(tok);
    onc_gguf_close(g);
    remove(tu_tmp_path("llama3.gguf"));
}

static void test_family_qwen2_llama2_bert(void **state) {
    (void)state;
    onc_error err = {0};
    onc_model_create_report rep;
    size_t n;
    int32_t *ids;
    /* qwen2 (unpadded): the three ChatML tokens right after the trained ones */
    onc_model_create_params p = onc_model_create_default_params();
    p.arch = ONC_ARCH_QWEN2;
    onc_gguf *g = create_vocab_model(&p, "qwen2.gguf", &rep);
    onc_tokenizer *tok = onc_tokenizer_from_gguf(g, &err);
    assert_non_null(tok);
    int32_t base = rep.n_vocab - 3;
    assert_int_equal(rep.n_added, 3);
    expect_token(tok, base, "<|endoftext|>", ONC_TOKEN_CONTROL);
    expect_token(tok, base + 1, "<|im_start|>", ONC_TOKEN_CONTROL);
    expect_token(tok, base + 2, "<|im_end|>", ONC_TOKEN_CONTROL);
    assert_int_equal(u32_key(g, "tokenizer.ggml.bos_token_id"), base);
    assert_int_equal(u32_key(g, "tokenizer.ggml.eos_token_id"), base + 2);
    assert_int_equal(u32_key(g, "tokenizer.ggml.padding_token_id"), base);
    assert_int_equal(u32_key(g, "tokenizer.ggml.eot_token_id"), base + 2);
    assert_false(onc_tokenizer_add_bos(tok));
    assert_true(template_is(g, "chatml"));
    free(roundtrip(tok, k_sentence, false, &n));
    ids = roundtrip(tok, "<|im_start|>user\nDose?<|im_end|>\n<|im_start|>assistant\n", true, &n);
    assert_true(ids[0] == base + 1 && has_id(ids, n, base + 2));
    free(ids);
    onc_tokenizer_free(tok);
    onc_gguf_close(g);

    /* a --vocab file keeps its tokens, eot and chat template */
    p = onc_model_create_default_params();
    p.arch = ONC_ARCH_LLAMA;
    p.vocab_path = tu_tmp_path("qwen2.gguf");
    g = create_vocab_model(&p, "given.gguf", &rep);
    assert_string_equal(rep.family, "given");
    assert_string_equal(rep.chat_template, "file");
    assert_int_equal(u32_key(g, "tokenizer.ggml.eot_token_id"), base + 2);
    assert_true(template_is(g, "chatml"));
    onc_gguf_close(g);
    /* no family tokens: the trained vocabulary as trained, no template */
    p = onc_model_create_default_params();
    p.arch = ONC_ARCH_PHI3;
    p.no_family_tokens = true;
    g = create_vocab_model(&p, "plain.gguf", &rep);
    tok = onc_tokenizer_from_gguf(g, &err);
    assert_int_equal(rep.n_added, 0);
    assert_int_equal(onc_token_find(tok, "<|end|>", 7), ONC_TOKEN_NONE);
    assert_true(template_is(g, NULL));
    assert_int_equal(u32_key(g, "tokenizer.ggml.eot_token_id"), -1);
    onc_tokenizer_free(tok);
    onc_gguf_close(g);
    /* explicit templates: none, and a custom one */
    p = onc_model_create_default_params();
    p.chat_template = "";
    g = create_vocab_model(&p, "plain.gguf", &rep);
    assert_true(template_is(g, NULL));
    assert_string_equal(rep.chat_template, "none");
    onc_gguf_close(g);
    p = onc_model_create_default_params();
    p.chat_template = onc_model_create_chat_template("zephyr");
    assert_non_null(p.chat_template);
    g = create_vocab_model(&p, "plain.gguf", &rep);
    assert_true(template_is(g, "zephyr"));
    assert_string_equal(rep.chat_template, "zephyr");
    onc_gguf_close(g);
    assert_null(onc_model_create_chat_template("nope"));

    /* llama SPM (Llama-2 family): <unk> <s> </s>, Llama-2-chat template */
    p = onc_model_create_default_params();
    g = create_vocab_model(&p, "llama2.gguf", &rep);
    tok = onc_tokenizer_from_gguf(g, &err);
    assert_string_equal(rep.family, "llama2");
    expect_token(tok, 0, "<unk>", ONC_TOKEN_UNKNOWN);
    expect_token(tok, 1, "<s>", ONC_TOKEN_CONTROL);
    expect_token(tok, 2, "</s>", ONC_TOKEN_CONTROL);
    assert_int_equal(u32_key(g, "tokenizer.ggml.bos_token_id"), 1);
    assert_int_equal(u32_key(g, "tokenizer.ggml.eos_token_id"), 2);
    assert_true(template_is(g, "llama2"));
    free(roundtrip(tok, k_sentence, false, &n));
    ids = roundtrip(tok, "<s>[INST] Dose? [/INST]", true, &n);
    assert_int_equal(ids[0], 1);
    free(ids);
    onc_tokenizer_free(tok);
    onc_gguf_close(g);

    /* bert: BERT's special ids, CONTROL, no chat template */
    p = onc_model_create_default_params();
    p.arch = ONC_ARCH_BERT;
    g = create_vocab_model(&p, "bert.gguf", &rep);
    tok = onc_tokenizer_from_gguf(g, &err);
    expect_token(tok, 0, "[PAD]", ONC_TOKEN_CONTROL);
    expect_token(tok, 100, "[UNK]", ONC_TOKEN_CONTROL);
    expect_token(tok, 101, "[CLS]", ONC_TOKEN_CONTROL);
    expect_token(tok, 102, "[SEP]", ONC_TOKEN_CONTROL);
    expect_token(tok, 103, "[MASK]", ONC_TOKEN_CONTROL);
    assert_int_equal(onc_tokenizer_special(tok, ONC_SPECIAL_BOS), 101);
    assert_int_equal(onc_tokenizer_special(tok, ONC_SPECIAL_SEP), 102);
    assert_true(template_is(g, NULL));
    onc_tokenizer_free(tok);
    onc_gguf_close(g);
    remove(tu_tmp_path("qwen2.gguf"));
    remove(tu_tmp_path("given.gguf"));
    remove(tu_tmp_path("plain.gguf"));
    remove(tu_tmp_path("llama2.gguf"));
    remove(tu_tmp_path("bert.gguf"));
}

/* The built-in templates are detected as llama.cpp detects the real ones,
 * and a created model's template works end to end: detect from the GGUF,
 * format a conversation, tokenize it with the family's special tokens. */
static void test_chat_templates(void **state) {
    (void)state;
    static const char *const want[][2] = {{"llama2", "llama2-sys-strip"}, {"llama3", "llama3"}, {"chatml", "chatml"},
                                          {"phi3", "phi3"},     {"zephyr", "zephyr"}, {"mistral", "llama2"}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const char *t = onc_model_create_chat_template(want[i][0]);
        assert_non_null(t);
        onc_chat_template ct;
        onc_error err = {0};
        assert_int_equal(onc_chat_template_detect(t, strlen(t), &ct, &err), ONC_OK);
        if (strcmp(onc_chat_template_name(ct), want[i][1]) != 0)
            fprintf(stderr, "%s detected as %s\n", want[i][0], onc_chat_template_name(ct));
        assert_string_equal(onc_chat_template_name(ct), want[i][1]);
    }
    static const struct {
        onc_arch arch;
        int kind;
        const char *pre;
        onc_chat_template tmpl;
        const char *turn_end; /* a special token the prompt must contain */
    } fams[] = {
        {ONC_ARCH_PHI3, -1, NULL, ONC_CHAT_PHI3, "<|end|>"},
        {ONC_ARCH_QWEN2, -1, NULL, ONC_CHAT_CHATML, "<|im_end|>"},
        {ONC_ARCH_LLAMA, ONC_VOCAB_BPE, "llama-bpe", ONC_CHAT_LLAMA3, "<|eot_id|>"},
        {ONC_ARCH_LLAMA, -1, NULL, ONC_CHAT_LLAMA2_SYS_STRIP, "</s>"},
    };
    const onc_chat_message msgs[] = {{"system", "You summarise oncology notes."},
                                     {"user", "Stage IIIA NSCLC, EGFR exon 19 deletion."},
                                     {"assistant", "Locally advanced EGFR-mutant lung cancer."},
                                     {"user", "Dose?"}};
    for (size_t i = 0; i < sizeof fams / sizeof *fams; i++) {
        onc_model_create_params p = onc_model_create_default_params();
        p.arch = fams[i].arch;
        p.vocab_kind = fams[i].kind;
        p.pre = fams[i].pre;
        onc_model_create_report rep;
        onc_gguf *g = create_vocab_model(&p, "chat.gguf", &rep);
        onc_error err = {0};
        onc_chat_template ct;
        assert_int_equal(onc_chat_template_from_gguf(g, &ct, &err), ONC_OK);
        assert_int_equal(ct, fams[i].tmpl);
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(onc_chat_apply(ct, msgs, 4, NULL, &text, &len, &err), ONC_OK);
        onc_tokenizer *tok = onc_tokenizer_from_gguf(g, &err);
        assert_non_null(tok);
        onc_tokenize_params tp = onc_tokenize_default_params();
        tp.parse_special = true;
        int32_t *ids = NULL;
        size_t n = 0;
        assert_int_equal(onc_tokenize(tok, text, len, &tp, &ids, &n, &err), ONC_OK);
        int32_t end = onc_token_find(tok, fams[i].turn_end, strlen(fams[i].turn_end));
        assert_true(end >= 0);
        assert_true(has_id(ids, n, end));
        assert_true(onc_token_is_eog(tok, end));
        free(ids);
        free(text);
        onc_tokenizer_free(tok);
        onc_gguf_close(g);
    }
    remove(tu_tmp_path("chat.gguf"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_tensors),
        cmocka_unit_test(test_qwen2_phi3_tensors),
        cmocka_unit_test(test_bert_tensors),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_hparams_roundtrip),
        cmocka_unit_test(test_hparams_bad_types),
        cmocka_unit_test(test_create_all),
        cmocka_unit_test(test_create_stats_and_tied),
        cmocka_unit_test(test_create_deterministic),
        cmocka_unit_test(test_create_fallback_and_errors),
        cmocka_unit_test(test_family_phi3),
        cmocka_unit_test(test_family_llama3),
        cmocka_unit_test(test_family_qwen2_llama2_bert),
        cmocka_unit_test(test_chat_templates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
