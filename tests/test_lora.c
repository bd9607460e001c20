/* test_lora.c — LoRA adapters (oncolm/lora.h): modules, initialisation,
 * scale, llama.cpp GGUF and PEFT files (round trips, exact names and
 * shapes, llama's Q/K row permutation), malformed inputs, atomic writes.
 * Tiny random base models are created in ONCOLM_TMP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lora/safetensors.h"
#include "oncolm/lora.h"
#include "oncolm/model_create.h"
#include "oncolm/rng.h"
#include "test_util.h"

/* Every file this test writes is named lora_<name> in the scratch folder. */
static const char *tmp_path(const char *name) {
    char prefixed[256];
    snprintf(prefixed, sizeof prefixed, "lora_%s", name);
    return tu_tmp_path(prefixed);
}

typedef struct base_model {
    onc_gguf *g;
    onc_hparams hp;
} base_model;

static void create(const char *name, onc_arch arch, onc_type wtype, int32_t n_embd, int32_t n_ff) {
    onc_model_create_params p = tu_small_params(arch, 2, n_embd, 4, n_ff);
    p.preset = "tiny";
    p.n_head_kv = 2;
    p.n_ctx = 64;
    p.wtype = wtype;
    onc_error err = {0};
    if (onc_model_create(tmp_path(name), &p, NULL, &err) != ONC_OK) fail_msg("create %s: %s", name, err.msg);
}

static base_model open_base(const char *name) {
    base_model b = {0};
    onc_error err = {0};
    b.g = onc_gguf_open(tmp_path(name), &err);
    if (!b.g) fail_msg("open %s: %s", name, err.msg);
    if (onc_hparams_from_gguf(b.g, &b.hp, &err) != ONC_OK) fail_msg("hparams %s: %s", name, err.msg);
    return b;
}

static void close_base(base_model *b) {
    onc_hparams_clear(&b->hp);
    onc_gguf_close(b->g);
}

static int setup(void **state) {
    (void)state;
    create("llama.gguf", ONC_ARCH_LLAMA, ONC_TYPE_F32, 64, 128);
    create("qwen2.gguf", ONC_ARCH_QWEN2, ONC_TYPE_F32, 64, 128);
    create("phi3.gguf", ONC_ARCH_PHI3, ONC_TYPE_F32, 64, 128);
    create("llama_q4k.gguf", ONC_ARCH_LLAMA, ONC_TYPE_Q4_K, 256, 256);
    return 0;
}

/* A new adapter with random non-zero B. */
static onc_lora *new_random(const base_model *b, int64_t rank, unsigned modules, uint64_t seed) {
    onc_lora_config cfg = onc_lora_config_default();
    cfg.rank = rank;
    cfg.alpha = 16.0f;
    cfg.modules = modules;
    onc_error err = {0};
    onc_lora *l = onc_lora_new(b->g, &b->hp, &cfg, seed, &err);
    if (!l) fail_msg("onc_lora_new: %s", err.msg);
    onc_rng r;
    onc_rng_seed(&r, seed + 1);
    for (size_t i = 0; i < l->n; i++)
        for (int64_t j = 0; j < l->w[i].n_out * rank; j++)
            l->w[i].b[j] = (float)((int64_t)(onc_rng_next(&r) >> 40) - (1 << 23)) / 8388608.0f;
    return l;
}

static void assert_equal(const onc_lora *x, const onc_lora *y) {
    assert_string_equal(x->arch, y->arch);
    assert_int_equal(x->rank, y->rank);
    assert_true(x->alpha == y->alpha);
    assert_int_equal(x->rslora, y->rslora);
    assert_int_equal(x->n, y->n);
    assert_int_equal(x->modules, y->modules);
    for (size_t i = 0; i < x->n; i++) {
        const onc_lora_weight *a = &x->w[i], *b = &y->w[i];
        assert_string_equal(a->base_name, b->base_name);
        assert_int_equal(a->layer, b->layer);
        assert_int_equal(a->module, b->module);
        assert_int_equal(a->n_in, b->n_in);
        assert_int_equal(a->n_out, b->n_out);
        assert_memory_equal(a->a, b->a, (size_t)(x->rank * a->n_in) * sizeof(float));
        assert_memory_equal(a->b, b->b, (size_t)(x->rank * a->n_out) * sizeof(float));
    }
}

/* ---- modules, new, scale ------------------------------------------------------- */

static void test_modules(void **state) {
    (void)state;
    onc_error err = {0};
    assert_int_equal(onc_lora_modules_parse("q,k,v", &err), ONC_LORA_Q | ONC_LORA_K | ONC_LORA_V);
    assert_int_equal(onc_lora_modules_parse("all", &err), ONC_LORA_ALL_LINEAR);
    assert_int_equal(onc_lora_modules_parse("all-linear", &err), ONC_LORA_ALL_LINEAR);
    assert_int_equal(onc_lora_modules_parse(" q_proj , gate_proj", &err), ONC_LORA_Q | ONC_LORA_GATE);
    assert_int_equal(onc_lora_modules_parse("qkv_proj", &err), ONC_LORA_Q | ONC_LORA_K | ONC_LORA_V);
    assert_int_equal(onc_lora_modules_parse("gate_up_proj,down", &err), ONC_LORA_GATE | ONC_LORA_UP | ONC_LORA_DOWN);
    assert_int_equal(err.code, ONC_OK);
    assert_int_equal(onc_lora_modules_parse("q,lm_head", &err), 0);
    assert_int_equal(err.code, ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "lm_head"));
    assert_non_null(strstr(err.msg, "gate"));
    onc_error_clear(&err);
    assert_int_equal(onc_lora_modules_parse("", &err), 0);
    assert_int_equal(err.code, ONC_ERR_INVALID);
    char buf[128];
    assert_string_equal(onc_lora_modules_name(ONC_LORA_ALL_LINEAR, buf, sizeof buf), "q,k,v,o,gate,up,down");
    assert_string_equal(onc_lora_modules_name(ONC_LORA_V | ONC_LORA_DOWN, buf, sizeof buf), "v,down");
    for (unsigned m = 1; m < 128; m += 7) {
        onc_lora_modules_name(m, buf, sizeof buf);
        assert_int_equal(onc_lora_modules_parse(buf, &err), m);
    }
    char small[4];
    assert_string_equal(onc_lora_modules_name(ONC_LORA_Q | ONC_LORA_K | ONC_LORA_V, small, sizeof small), "q,k");
}

static void test_new(void **state) {
    (void)state;
    base_model b = open_base("llama.gguf");
    onc_lora_config cfg = onc_lora_config_default();
    assert_int_equal(cfg.rank, 8);
    assert_true(cfg.alpha == 8.0f);
    assert_int_equal(cfg.modules, ONC_LORA_ALL_LINEAR);
    cfg.rank = 4;
    onc_error err = {0};
    onc_lora *l = onc_lora_new(b.g, &b.hp, &cfg, 7, &err);
    assert_non_null(l);
    assert_int_equal(l->n, 2 * 7);
    assert_string_equal(l->arch, "llama");
    assert_int_equal(l->n_head, 4);
    assert_int_equal(l->n_head_kv, 2);
    static const char *const order[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    int64_t n_params = 0;
    for (size_t i = 0; i < l->n; i++) {
        const onc_lora_weight *w = &l->w[i];
        char name[64];
        snprintf(name, sizeof name, "blk.%zu.%s.weight", i / 7, order[i % 7]);
        assert_string_equal(w->base_name, name);
        assert_int_equal(w->layer, (int32_t)(i / 7));
        assert_int_equal(w->module, 1u << (i % 7));
        const onc_gguf_tensor *t = onc_gguf_find_tensor(b.g, name);
        assert_int_equal(w->n_in, t->ne[0]);
        assert_int_equal(w->n_out, t->ne[1]);
        assert_ptr_equal(onc_lora_find(l, name), w);
        const float bound = 1.0f / sqrtf((float)w->n_in);
        float amax = 0;
        for (int64_t j = 0; j < 4 * w->n_in; j++) {
            assert_true(fabsf(w->a[j]) < bound);
            amax = fmaxf(amax, fabsf(w->a[j]));
        }
        assert_true(amax > 0.8f * bound); /* spread over the range, not tiny */
        for (int64_t j = 0; j < 4 * w->n_out; j++) assert_true(w->b[j] == 0.0f);
        n_params += 4 * (w->n_in + w->n_out);
    }
    assert_int_equal(onc_lora_n_params(l), n_params);
    assert_int_equal(n_params, 2 * 4 * (64 + 64 + 64 + 32 + 64 + 32 + 64 + 64 + 64 + 128 + 64 + 128 + 128 + 64));
    assert_null(onc_lora_find(l, "blk.0.attn_norm.weight"));
    /* deterministic per seed */
    onc_lora *same = onc_lora_new(b.g, &b.hp, &cfg, 7, &err), *other = onc_lora_new(b.g, &b.hp, &cfg, 8, &err);
    assert_memory_equal(same->w[3].a, l->w[3].a, (size_t)(4 * l->w[3].n_in) * sizeof(float));
    assert_memory_not_equal(other->w[3].a, l->w[3].a, (size_t)(4 * l->w[3].n_in) * sizeof(float));
    onc_lora_free(same);
    onc_lora_free(other);
    onc_lora_free(l);
    /* subset of modules */
    cfg.modules = ONC_LORA_Q | ONC_LORA_V;
    l = onc_lora_new(b.g, &b.hp, &cfg, 7, &err);
    assert_int_equal(l->n, 4);
    assert_string_equal(l->w[1].base_name, "blk.0.attn_v.weight");
    assert_string_equal(l->w[2].base_name, "blk.1.attn_q.weight");
    onc_lora_free(l);
    /* errors */
    cfg.rank = 0;
    assert_null(onc_lora_new(b.g, &b.hp, &cfg, 7, &err));
    assert_int_equal(err.code, ONC_ERR_INVALID);
    cfg.rank = 4;
    cfg.modules = ONC_LORA_QKV; /* not in a llama model */
    onc_error_clear(&err);
    assert_null(onc_lora_new(b.g, &b.hp, &cfg, 7, &err));
    assert_int_equal(err.code, ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "qkv"));
    close_base(&b);
    onc_lora_free(NULL);
}

static void test_new_phi3(void **state) {
    (void)state;
    base_model b = open_base("phi3.gguf");
    onc_lora_config cfg = onc_lora_config_default();
    cfg.modules = ONC_LORA_Q;
    onc_error err = {0};
    onc_lora *l = onc_lora_new(b.g, &b.hp, &cfg, 1, &err);
    assert_non_null(l);
    assert_int_equal(l->n, 2);
    assert_string_equal(l->w[0].base_name, "blk.0.attn_qkv.weight");
    assert_int_equal(l->w[0].module, ONC_LORA_QKV);
    assert_int_equal(l->w[0].n_out, 64 + 2 * 2 * 16);
    onc_lora_free(l);
    cfg.modules = ONC_LORA_UP | ONC_LORA_DOWN;
    l = onc_lora_new(b.g, &b.hp, &cfg, 1, &err);
    assert_int_equal(l->n, 4);
    assert_string_equal(l->w[0].base_name, "blk.0.ffn_down.weight");
    assert_string_equal(l->w[1].base_name, "blk.0.ffn_up.weight");
    assert_int_equal(l->w[1].module, ONC_LORA_GATE_UP);
    assert_int_equal(l->w[1].n_out, 2 * 128);
    onc_lora_free(l);
    cfg.modules = ONC_LORA_ALL_LINEAR;
    l = onc_lora_new(b.g, &b.hp, &cfg, 1, &err);
    assert_int_equal(l->n, 2 * 4);
    onc_lora_free(l);
    close_base(&b);
}

static void test_scale(void **state) {
    (void)state;
    onc_lora l = {.rank = 4, .alpha = 8.0f};
    assert_true(onc_lora_scale(&l) == 2.0f);
    l.rslora = true;
    assert_true(onc_lora_scale(&l) == 4.0f);
    l.rank = 16;
    l.alpha = 32.0f;
    assert_true(onc_lora_scale(&l) == 8.0f);
    l.rslora = false;
    assert_true(onc_lora_scale(&l) == 2.0f);
}

/* ---- GGUF ------------------------------------------------------------------------- */

static void gguf_roundtrip(const char *model, const char *file) {
    base_model b = open_base(model);
    onc_lora *l = new_random(&b, 4, ONC_LORA_ALL_LINEAR, 11);
    snprintf(l->base_model, sizeof l->base_model, "org/%s", model);
    onc_error err = {0};
    const char *path = tmp_path(file);
    assert_int_equal(onc_lora_save_gguf(l, path, &err), ONC_OK);
    onc_lora *r = onc_lora_load(path, b.g, &b.hp, &err);
    if (!r) fail_msg("load: %s", err.msg);
    assert_equal(l, r);
    assert_string_equal(r->base_model, l->base_model);
    assert_true(onc_lora_scale(r) == onc_lora_scale(l));
    /* the file as llama.cpp reads it */
    onc_gguf *g = onc_gguf_open(path, &err);
    assert_non_null(g);
    onc_str s;
    assert_int_equal(onc_gguf_get_str(g, "general.type", &s, &err), ONC_OK);
    assert_true(s.len == 7 && memcmp(s.ptr, "adapter", 7) == 0);
    assert_int_equal(onc_gguf_get_str(g, "adapter.type", &s, &err), ONC_OK);
    assert_true(s.len == 4 && memcmp(s.ptr, "lora", 4) == 0);
    assert_int_equal(onc_gguf_get_str(g, "general.architecture", &s, &err), ONC_OK);
    assert_true(s.len == strlen(l->arch) && memcmp(s.ptr, l->arch, s.len) == 0);
    const int64_t ki = onc_gguf_find_key(g, "adapter.lora.alpha");
    assert_true(ki >= 0);
    assert_int_equal(onc_gguf_kv_type(g, ki), ONC_GGUF_FLOAT32);
    assert_true(onc_gguf_val_f32(g, ki) == 16.0f);
    assert_int_equal(onc_gguf_n_tensors(g), (int64_t)(2 * l->n));
    for (size_t i = 0; i < l->n; i++) {
        const onc_lora_weight *w = &l->w[i];
        char name[96];
        snprintf(name, sizeof name, "%s.lora_a", w->base_name);
        const onc_gguf_tensor *ta = onc_gguf_find_tensor(g, name);
        assert_non_null(ta);
        assert_int_equal(ta->type, ONC_TYPE_F32);
        assert_int_equal(ta->n_dims, 2);
        assert_int_equal(ta->ne[0], w->n_in);
        assert_int_equal(ta->ne[1], 4);
        assert_memory_equal(ta->data, w->a, ta->nbytes);
        snprintf(name, sizeof name, "%s.lora_b", w->base_name);
        const onc_gguf_tensor *tb = onc_gguf_find_tensor(g, name);
        assert_non_null(tb);
        assert_int_equal(tb->ne[0], 4);
        assert_int_equal(tb->ne[1], w->n_out);
        assert_memory_equal(tb->data, w->b, tb->nbytes); /* rows unchanged, also for llama q/k */
    }
    assert_non_null(onc_gguf_find_tensor(g, "blk.1.ffn_down.weight.lora_b"));
    onc_gguf_close(g);
    onc_lora_free(r);
    onc_lora_free(l);
    close_base(&b);
}

static void test_gguf_llama(void **s) { (void)s, gguf_roundtrip("llama.gguf", "rt_llama.gguf"); }
static void test_gguf_qwen2(void **s) { (void)s, gguf_roundtrip("qwen2.gguf", "rt_qwen2.gguf"); }
static void test_gguf_phi3(void **s) { (void)s, gguf_roundtrip("phi3.gguf", "rt_phi3.gguf"); }
static void test_gguf_q4k(void **s) { (void)s, gguf_roundtrip("llama_q4k.gguf", "rt_q4k.gguf"); }

static void test_gguf_rslora(void **state) {
    (void)state;
    base_model b = open_base("llama.gguf");
    onc_lora_config cfg = onc_lora_config_default();
    cfg.rank = 16;
    cfg.alpha = 8.0f;
    cfg.rslora = true;
    cfg.modules = ONC_LORA_V;
    onc_error err = {0};
    onc_lora *l = onc_lora_new(b.g, &b.hp, &cfg, 3, &err);
    const char *path = tmp_path("rslora.gguf");
    assert_int_equal(onc_lora_save_gguf(l, path, &err), ONC_OK);
    onc_gguf *g = onc_gguf_open(path, &err);
    float alpha = 0;
    assert_int_equal(onc_gguf_get_f32(g, "adapter.lora.alpha", &alpha, &err), ONC_OK);
    assert_true(alpha == 32.0f); /* 8 * sqrt(16) */
    onc_gguf_close(g);
    onc_lora *r = onc_lora_load(path, b.g, &b.hp, &err);
    assert_non_null(r);
    assert_false(r->rslora);
    assert_true(r->alpha == 32.0f);
    assert_true(onc_lora_scale(r) == onc_lora_scale(l)); /* 2 either way */
    assert_true(onc_lora_scale(l) == 2.0f);
    onc_lora_free(r);
    onc_lora_free(l);
    close_base(&b);
}

/* ---- PEFT ------------------------------------------------------------------------- */

static json_t *read_json(const char *path) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) fail_msg("%s: %s", path, je.text);
    return j;
}

static void peft_roundtrip(const char *model, const char *sub, unsigned modules, const char *const *targets) {
    base_model b = open_base(model);
    onc_lora *l = new_random(&b, 4, modules, 21);
    l->rslora = true;
    l->dropout = 0.125f;
    snprintf(l->base_model, sizeof l->base_model, "org/base-%s", sub);
    onc_error err = {0};
    const char *d = tmp_path(sub);
    assert_int_equal(onc_lora_save_peft(l, d, &err), ONC_OK);
    onc_lora *r = onc_lora_load(d, b.g, &b.hp, &err);
    if (!r) fail_msg("load: %s", err.msg);
    assert_equal(l, r);
    assert_true(r->dropout == 0.125f);
    assert_string_equal(r->base_model, l->base_model);
    onc_lora_free(r);
    /* also through the file names */
    char p[2400];
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", d);
    r = onc_lora_load(p, b.g, &b.hp, &err);
    assert_non_null(r);
    assert_equal(l, r);
    onc_lora_free(r);
    snprintf(p, sizeof p, "%s/adapter_config.json", d);
    r = onc_lora_load(p, b.g, &b.hp, &err);
    assert_non_null(r);
    onc_lora_free(r);
    json_t *j = read_json(p);
    assert_string_equal(json_string_value(json_object_get(j, "peft_type")), "LORA");
    assert_string_equal(json_string_value(json_object_get(j, "task_type")), "CAUSAL_LM");
    assert_int_equal(json_integer_value(json_object_get(j, "r")), 4);
    assert_true(json_number_value(json_object_get(j, "lora_alpha")) == 16.0);
    assert_true(json_is_true(json_object_get(j, "use_rslora")));
    assert_true(json_is_false(json_object_get(j, "fan_in_fan_out")));
    assert_true(json_number_value(json_object_get(j, "lora_dropout")) == 0.125);
    assert_string_equal(json_string_value(json_object_get(j, "bias")), "none");
    assert_string_equal(json_string_value(json_object_get(j, "base_model_name_or_path")), l->base_model);
    const json_t *tm = json_object_get(j, "target_modules");
    size_t nt = 0;
    while (targets[nt]) nt++;
    assert_int_equal(json_array_size(tm), nt);
    for (size_t i = 0; i < nt; i++) assert_string_equal(json_string_value(json_array_get(tm, i)), targets[i]);
    json_decref(j);
    /* safetensors: metadata, keys, shapes */
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", d);
    onc_st *st = onc_st_read_file(p, &err);
    assert_non_null(st);
    assert_string_equal(onc_st_metadata(st, "format"), "pt");
    assert_int_equal(onc_st_n(st), 2 * l->n);
    char key[160];
    snprintf(key, sizeof key, "base_model.model.model.layers.1.%s.lora_A.weight",
             strcmp(l->arch, "phi3") == 0 ? "self_attn.qkv_proj" : "self_attn.q_proj");
    const onc_st_tensor *t = onc_st_find(st, key);
    assert_non_null(t);
    assert_int_equal(t->dtype, ONC_ST_F32);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->shape[0], 4);
    assert_int_equal(t->shape[1], 64);
    key[strlen(key) - 8] = 'B';
    t = onc_st_find(st, key);
    assert_non_null(t);
    assert_int_equal(t->shape[0], onc_lora_find(l, "blk.1.attn_q.weight") ? 64 : 128);
    assert_int_equal(t->shape[1], 4);
    onc_st_free(st);
    onc_lora_free(l);
    close_base(&b);
}

static void test_peft_llama(void **s) {
    (void)s;
    static const char *const t[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", NULL};
    peft_roundtrip("llama.gguf", "peft_llama", ONC_LORA_ALL_LINEAR, t);
}
static void test_peft_qwen2(void **s) {
    (void)s;
    static const char *const t[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", NULL};
    peft_roundtrip("qwen2.gguf", "peft_qwen2", ONC_LORA_ALL_LINEAR, t);
}
static void test_peft_phi3(void **s) {
    (void)s;
    static const char *const t[] = {"o_proj", "down_proj", "qkv_proj", "gate_up_proj", NULL};
    peft_roundtrip("phi3.gguf", "peft_phi3", ONC_LORA_ALL_LINEAR, t);
}

/* Row `row` of tensor t (F32 [rows, r]) at column c. */
static float st_at(const onc_st_tensor *t, int64_t row, int64_t c) {
    float v;
    memcpy(&v, t->data + 4 * (size_t)(row * t->shape[1] + c), 4);
    return v;
}

/* B rows hand-built in GGUF order land in HF order as the reference's
 * permute says: HF row h*d + j -> GGUF h*d + 2j, HF h*d + d/2 + j -> 2j+1. */
static void permutation_check(const char *model, const char *sub, bool permuted) {
    base_model b = open_base(model);
    onc_lora *l = new_random(&b, 2, ONC_LORA_Q | ONC_LORA_K, 5);
    for (size_t i = 0; i < l->n; i++)
        for (int64_t row = 0; row < l->w[i].n_out; row++) {
            l->w[i].b[row * 2] = (float)row;         /* GGUF row index */
            l->w[i].b[row * 2 + 1] = (float)(-row - 1);
        }
    onc_error err = {0};
    const char *d = tmp_path(sub);
    assert_int_equal(onc_lora_save_peft(l, d, &err), ONC_OK);
    char p[2400];
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", d);
    onc_st *st = onc_st_read_file(p, &err);
    assert_non_null(st);
    const onc_st_tensor *q = onc_st_find(st, "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
    const onc_st_tensor *k = onc_st_find(st, "base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight");
    assert_non_null(q);
    assert_non_null(k);
    assert_int_equal(q->shape[0], 64);
    assert_int_equal(k->shape[0], 32);
    const int64_t d_head = 16, half = 8;
    /* q: 4 heads of 16; k: 2 kv heads of 16 */
    for (int64_t h = 0; h < 4; h++)
        for (int64_t j = 0; j < half; j++) {
            const float lo = st_at(q, h * d_head + j, 0), hi = st_at(q, h * d_head + half + j, 0);
            assert_true(lo == (float)(permuted ? h * d_head + 2 * j : h * d_head + j));
            assert_true(hi == (float)(permuted ? h * d_head + 2 * j + 1 : h * d_head + half + j));
            assert_true(st_at(q, h * d_head + j, 1) == -lo - 1);
        }
    /* head 1, pair j = 3 by hand */
    assert_true(st_at(q, 16 + 3, 0) == (permuted ? 22.0f : 19.0f));
    assert_true(st_at(q, 16 + 8 + 3, 0) == (permuted ? 23.0f : 27.0f));
    for (int64_t h = 0; h < 2; h++)
        for (int64_t j = 0; j < half; j++) {
            assert_true(st_at(k, h * d_head + j, 0) == (float)(permuted ? h * d_head + 2 * j : h * d_head + j));
            assert_true(st_at(k, h * d_head + half + j, 0) ==
                        (float)(permuted ? h * d_head + 2 * j + 1 : h * d_head + half + j));
        }
    onc_st_free(st);
    onc_lora *r = onc_lora_load(d, b.g, &b.hp, &err);
    assert_non_null(r);
    assert_equal(l, r);
    onc_lora_free(r);
    onc_lora_free(l);
    close_base(&b);
}

static void test_peft_permutation(void **s) {
    (void)s;
    permutation_check("llama.gguf", "perm_llama", true);
    permutation_check("qwen2.gguf", "perm_qwen2", false);
}

/* ---- malformed inputs -------------------------------------------------------------- */

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void *read_whole(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(*n + 1);
    assert_int_equal(fread(p, 1, *n, f), *n);
    fclose(f);
    return p;
}

/* A PEFT folder `sub` with config r and the given tensors. */
static const char *write_peft(const char *sub, int r, const onc_st_entry *e, size_t n) {
    const char *d = tmp_path(sub);
    mkdir(d, 0777);
    char p[2400];
    snprintf(p, sizeof p, "%s/adapter_config.json", d);
    char js[256];
    snprintf(js, sizeof js, "{\"peft_type\":\"LORA\",\"r\":%d,\"lora_alpha\":8,\"target_modules\":[\"q_proj\"]}", r);
    write_file(p, js, strlen(js));
    void *buf;
    size_t size;
    onc_error err = {0};
    assert_int_equal(onc_st_write_mem(e, n, &buf, &size, &err), ONC_OK);
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", d);
    write_file(p, buf, size);
    free(buf);
    return d;
}

static void expect_error(const char *path, const base_model *b, const char *n1, const char *n2) {
    onc_error err = {0};
    onc_lora *l = onc_lora_load(path, b->g, &b->hp, &err);
    if (l) fail_msg("%s loaded, expected an error", path);
    assert_int_not_equal(err.code, ONC_OK);
    if (n1 && !strstr(err.msg, n1)) fail_msg("message \"%s\" lacks \"%s\"", err.msg, n1);
    if (n2 && !strstr(err.msg, n2)) fail_msg("message \"%s\" lacks \"%s\"", err.msg, n2);
}

#define QA "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
#define QB "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"
#define VA "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight"
#define VB "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"

static void test_peft_errors(void **state) {
    (void)state;
    base_model b = open_base("llama.gguf");
    static float z[4096];
    static uint16_t h[4096];
    for (int i = 0; i < 4096; i++) {
        z[i] = (float)(i % 13) * 0.25f - 1.0f;
        h[i] = onc_f32_to_f16(z[i]);
    }
    /* good one first (the test must be able to tell) */
    onc_st_entry good[] = {{QA, ONC_ST_F32, 2, {4, 64}, z}, {QB, ONC_ST_F32, 2, {64, 4}, z}};
    onc_error err = {0};
    onc_lora *l = onc_lora_load(write_peft("e_good", 4, good, 2), b.g, &b.hp, &err);
    if (!l) fail_msg("%s", err.msg);
    assert_int_equal(l->n, 1);
    /* F16 accepted and converted exactly (values representable) */
    onc_st_entry f16[] = {{QA, ONC_ST_F16, 2, {4, 64}, h}, {QB, ONC_ST_BF16, 2, {64, 4}, h}};
    onc_lora *l16 = onc_lora_load(write_peft("e_f16", 4, f16, 2), b.g, &b.hp, &err);
    assert_non_null(l16);
    assert_memory_equal(l16->w[0].a, l->w[0].a, 4 * 64 * sizeof(float));
    assert_true(l16->w[0].b[0] == onc_bf16_to_f32(h[0]));
    onc_lora_free(l16);
    onc_lora_free(l);
    /* wrong shape */
    onc_st_entry shape[] = {{QA, ONC_ST_F32, 2, {4, 64}, z}, {QB, ONC_ST_F32, 2, {60, 4}, z}};
    expect_error(write_peft("e_shape", 4, shape, 2), &b, "e_shape/adapter_model.safetensors", QB);
    /* wrong rank: config says 4, tensors 2 */
    onc_st_entry rank[] = {{QA, ONC_ST_F32, 2, {2, 64}, z}, {QB, ONC_ST_F32, 2, {64, 2}, z}};
    expect_error(write_peft("e_rank", 4, rank, 2), &b, "e_rank", "rank");
    /* inconsistent rank between A and B */
    onc_st_entry rank2[] = {{QA, ONC_ST_F32, 2, {4, 64}, z}, {QB, ONC_ST_F32, 2, {64, 2}, z}};
    expect_error(write_peft("e_rank2", 4, rank2, 2), &b, "e_rank2", QB);
    /* missing B */
    onc_st_entry miss[] = {{QA, ONC_ST_F32, 2, {4, 64}, z}, {VA, ONC_ST_F32, 2, {4, 64}, z}, {VB, ONC_ST_F32, 2, {32, 4}, z}};
    expect_error(write_peft("e_missing", 4, miss, 3), &b, "e_missing", QB);
    /* unsupported dtype */
    onc_st_entry dt[] = {{QA, ONC_ST_I32, 2, {4, 64}, z}, {QB, ONC_ST_F32, 2, {64, 4}, z}};
    expect_error(write_peft("e_dtype", 4, dt, 2), &b, "e_dtype", QA);
    /* embeddings refused */
    onc_st_entry emb[] = {{QA, ONC_ST_F32, 2, {4, 64}, z},
                          {QB, ONC_ST_F32, 2, {64, 4}, z},
                          {"base_model.model.model.embed_tokens.lora_embedding_A", ONC_ST_F32, 2, {4, 8}, z}};
    expect_error(write_peft("e_embed", 4, emb, 3), &b, "embed_tokens", "output head");
    /* a layer the model does not have */
    onc_st_entry far[] = {{QA, ONC_ST_F32, 2, {4, 64}, z},
                          {QB, ONC_ST_F32, 2, {64, 4}, z},
                          {"base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight", ONC_ST_F32, 2, {4, 64}, z}};
    expect_error(write_peft("e_layer", 4, far, 3), &b, "e_layer", "layers.9.self_attn");
    /* truncated file: header ok, data cut -> names the tensor */
    const char *d = write_peft("e_trunc", 4, good, 2);
    char p[2400];
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", d);
    size_t n;
    uint8_t *bytes = read_whole(p, &n);
    write_file(p, bytes, n - 10);
    expect_error(d, &b, "e_trunc/adapter_model.safetensors", QB);
    write_file(p, bytes, 5);
    expect_error(d, &b, "e_trunc/adapter_model.safetensors", "truncated");
    write_file(p, bytes, 40); /* header cut */
    expect_error(d, &b, "e_trunc/adapter_model.safetensors", "header");
    /* bad header JSON */
    memcpy(bytes + 8, "{{bad", 5);
    write_file(p, bytes, n);
    expect_error(d, &b, "e_trunc/adapter_model.safetensors", "JSON");
    free(bytes);
    /* bad config */
    write_peft("e_cfg", 4, good, 2);
    snprintf(p, sizeof p, "%s/adapter_config.json", tmp_path("e_cfg"));
    write_file(p, "{\"r\": \"four\"}", 13);
    expect_error(tmp_path("e_cfg"), &b, "e_cfg/adapter_config.json", "key r");
    write_file(p, "{\"r\": 4, \"target_modules\": [\"q_proj\", \"lm_head\"]}", 49);
    expect_error(tmp_path("e_cfg"), &b, "adapter_config.json", "lm_head");
    write_file(p, "{\"r\": 4, \"use_rslora\": 1}", 25);
    expect_error(tmp_path("e_cfg"), &b, "adapter_config.json", "use_rslora");
    write_file(p, "{\"r\": 4,", 8);
    expect_error(tmp_path("e_cfg"), &b, "adapter_config.json", "JSON");
    /* no such file */
    expect_error(tmp_path("does_not_exist"), &b, "does_not_exist", NULL);
    /* adapter of another architecture: phi3 PEFT on llama */
    base_model ph = open_base("phi3.gguf");
    onc_lora *lp = new_random(&ph, 4, ONC_LORA_ALL_LINEAR, 2);
    assert_int_equal(onc_lora_save_peft(lp, tmp_path("e_phi3"), &err), ONC_OK);
    expect_error(tmp_path("e_phi3"), &b, "e_phi3", "qkv_proj");
    onc_lora_free(lp);
    close_base(&ph);
    close_base(&b);
}

static void test_gguf_errors(void **state) {
    (void)state;
    base_model b = open_base("llama.gguf"), q = open_base("qwen2.gguf");
    onc_error err = {0};
    /* another architecture */
    onc_lora *lq = new_random(&q, 4, ONC_LORA_ALL_LINEAR, 3);
    assert_int_equal(onc_lora_save_gguf(lq, tmp_path("e_qwen2.gguf"), &err), ONC_OK);
    expect_error(tmp_path("e_qwen2.gguf"), &b, "e_qwen2.gguf", "qwen2");
    onc_lora_free(lq);
    /* a file that is neither GGUF nor PEFT is named as such (not as a
     * missing adapter_config.json beside it) */
    FILE *jf = fopen(tmp_path("e_rows.jsonl"), "w");
    assert_non_null(jf);
    fputs("{\"prompt\": \"a\"}\n", jf);
    fclose(jf);
    expect_error(tmp_path("e_rows.jsonl"), &b, "e_rows.jsonl", "not a LoRA adapter");
    /* hand-written files */
    static float z[64 * 8];
    static uint16_t h[64 * 8];
    const int64_t ne_a[2] = {64, 4}, ne_b[2] = {4, 64}, ne_bad[2] = {4, 60}, ne_a2[2] = {64, 2};
    struct {
        const char *file;
        bool type, atype, alpha;
        const char *a_name, *b_name;
        const int64_t *nea, *neb;
        bool f16;
        const char *n1, *n2;
    } cases[] = {
        {"g_ok.gguf", 1, 1, 1, "blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b", ne_a, ne_b, 0, NULL, NULL},
        {"g_type.gguf", 0, 1, 1, "blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b", ne_a, ne_b, 0,
         "g_type.gguf", "general.type"},
        {"g_alpha.gguf", 1, 1, 0, "blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b", ne_a, ne_b, 0,
         "g_alpha.gguf", "adapter.lora.alpha"},
        {"g_atype.gguf", 1, 0, 1, "blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b", ne_a, ne_b, 0,
         "g_atype.gguf", "adapter.type"},
        {"g_shape.gguf", 1, 1, 1, "blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b", ne_a, ne_bad, 0,
         "g_shape.gguf", "blk.0.attn_q.weight.lora_b"},
        {"g_rank.gguf", 1, 1, 1, "blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b", ne_a2, ne_b, 0,
         "g_rank.gguf", "blk.0.attn_q.weight.lora_a"},
        {"g_f16.gguf", 1, 1, 1, "blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b", ne_a, ne_b, 1,
         "g_f16.gguf", "blk.0.attn_q.weight.lora_a"},
        {"g_missing.gguf", 1, 1, 1, "blk.0.attn_q.weight.lora_a", "blk.0.attn_v.weight.lora_b", ne_a, ne_b, 0,
         "g_missing.gguf", "blk.0.attn_q.weight.lora_b"},
        {"g_embd.gguf", 1, 1, 1, "token_embd.weight.lora_a", "token_embd.weight.lora_b", ne_a, ne_b, 0,
         "g_embd.gguf", "token embeddings"},
        {"g_out.gguf", 1, 1, 1, "output.weight.lora_a", "output.weight.lora_b", ne_a, ne_b, 0, "g_out.gguf",
         "output head"},
        {"g_suffix.gguf", 1, 1, 1, "blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_x", ne_a, ne_b, 0,
         "g_suffix.gguf", "blk.0.attn_q.weight.lora_x"},
        {"g_stray.gguf", 1, 1, 1, "blk.0.attn_norm.weight.lora_a", "blk.0.attn_norm.weight.lora_b", ne_a, ne_b, 0,
         "g_stray.gguf", "blk.0.attn_norm.weight"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        onc_gguf_writer *w = onc_gguf_writer_new();
        onc_gguf_set_str(w, "general.architecture", "llama");
        if (cases[i].type) onc_gguf_set_str(w, "general.type", "adapter");
        if (cases[i].atype) onc_gguf_set_str(w, "adapter.type", "lora");
        if (cases[i].alpha) onc_gguf_set_f32(w, "adapter.lora.alpha", 8.0f);
        assert_int_equal(onc_gguf_add_tensor(w, cases[i].a_name, cases[i].f16 ? ONC_TYPE_F16 : ONC_TYPE_F32, 2,
                                             cases[i].nea, cases[i].f16 ? (const void *)h : z, NULL, NULL, &err),
                         ONC_OK);
        assert_int_equal(
            onc_gguf_add_tensor(w, cases[i].b_name, ONC_TYPE_F32, 2, cases[i].neb, z, NULL, NULL, &err), ONC_OK);
        assert_int_equal(onc_gguf_writer_write(w, tmp_path(cases[i].file), &err), ONC_OK);
        onc_gguf_writer_free(w);
        if (!cases[i].n1) {
            onc_lora *l = onc_lora_load(tmp_path(cases[i].file), b.g, &b.hp, &err);
            if (!l) fail_msg("%s: %s", cases[i].file, err.msg);
            assert_int_equal(l->n, 1);
            assert_true(l->alpha == 8.0f);
            onc_lora_free(l);
        } else {
            expect_error(tmp_path(cases[i].file), &b, cases[i].n1, cases[i].n2);
        }
    }
    /* not a GGUF at all, named .gguf */
    write_file(tmp_path("g_junk.gguf"), "GGUFjunk", 8);
    expect_error(tmp_path("g_junk.gguf"), &b, "g_junk.gguf", NULL);
    close_base(&q);
    close_base(&b);
}

/* ---- atomic writes ------------------------------------------------------------------ */

static int count_tmp(const char *d) {
    DIR *dp = opendir(d);
    if (!dp) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(dp);
    return n;
}

static void test_atomic(void **state) {
    (void)state;
    base_model b = open_base("llama.gguf");
    onc_lora *l = new_random(&b, 2, ONC_LORA_Q, 4);
    onc_error err = {0};
    char p[2400];
    /* folder missing: fails, nothing written */
    snprintf(p, sizeof p, "%s/no_such_dir/x.gguf", tmp_path("atomic"));
    assert_int_not_equal(onc_lora_save_gguf(l, p, &err), ONC_OK);
    assert_non_null(strstr(err.msg, "x.gguf"));
    assert_int_not_equal(access(p, F_OK), 0);
    /* the target is a folder: rename fails, the temporary file is removed */
    const char *d = tmp_path("atomic_dir");
    mkdir(d, 0777);
    snprintf(p, sizeof p, "%s/a.gguf", d);
    mkdir(p, 0777);
    onc_error_clear(&err);
    assert_int_not_equal(onc_lora_save_gguf(l, p, &err), ONC_OK);
    assert_int_equal(count_tmp(d), 0);
    /* PEFT: adapter_model.safetensors is a folder: no temporary file, no config */
    const char *pd = tmp_path("atomic_peft");
    mkdir(pd, 0777);
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", pd);
    mkdir(p, 0777);
    onc_error_clear(&err);
    assert_int_not_equal(onc_lora_save_peft(l, pd, &err), ONC_OK);
    assert_non_null(strstr(err.msg, "adapter_model.safetensors"));
    assert_int_equal(count_tmp(pd), 0);
    snprintf(p, sizeof p, "%s/adapter_config.json", pd);
    assert_int_not_equal(access(p, F_OK), 0);
    /* and a good save leaves exactly the two files */
    const char *ok = tmp_path("atomic_ok");
    assert_int_equal(onc_lora_save_peft(l, ok, &err), ONC_OK);
    assert_int_equal(count_tmp(ok), 0);
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", ok);
    assert_int_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/adapter_config.json", ok);
    assert_int_equal(access(p, F_OK), 0);
    onc_lora_free(l);
    close_base(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modules),        cmocka_unit_test(test_new),         cmocka_unit_test(test_new_phi3),
        cmocka_unit_test(test_scale),          cmocka_unit_test(test_gguf_llama),  cmocka_unit_test(test_gguf_qwen2),
        cmocka_unit_test(test_gguf_phi3),      cmocka_unit_test(test_gguf_q4k),    cmocka_unit_test(test_gguf_rslora),
        cmocka_unit_test(test_peft_llama),     cmocka_unit_test(test_peft_qwen2),  cmocka_unit_test(test_peft_phi3),
        cmocka_unit_test(test_peft_permutation), cmocka_unit_test(test_peft_errors), cmocka_unit_test(test_gguf_errors),
        cmocka_unit_test(test_atomic),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
