/* test_quantize.c — `oncolm quantize` (oncolm/quantize.h): a small F32
 * llama-like GGUF is written with the GGUF writer, quantized to several
 * targets, read back; checks the type of every tensor against the recipe
 * (q4_K_M: output/attn_v/ffn_down Q6_K in use_more_bits layers, 1-D kept,
 * fallbacks for odd row lengths), that every converted tensor's bytes equal
 * quantizing the same source rows directly, that metadata is copied and
 * general.file_type / quantization_version are set, and that bad inputs give
 * an error naming the file and leave no output. Also runs the CLI. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "oncolm/gguf.h"
#include "oncolm/quantize.h"
#include "test_util.h"

#define N_LAYER 8

static void path_in_tmp(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", tu_tmp_dir(), name); }

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) - 0.5f;
}

typedef struct src_tensor {
    char name[64];
    onc_type type;
    uint32_t n_dims;
    int64_t ne[4];
    void *data;
} src_tensor;

static src_tensor tensors[64];
static int n_tensors;

static void add(const char *name, onc_type type, uint32_t n_dims, int64_t ne0, int64_t ne1) {
    src_tensor *t = &tensors[n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = n_dims > 1 ? ne1 : 1;
    t->ne[2] = t->ne[3] = 1;
    const int64_t n = t->ne[0] * t->ne[1];
    float *f = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) f[i] = frand() * 0.1f;
    const size_t rs = onc_type_row_size(type, ne0);
    t->data = malloc(rs * (size_t)t->ne[1]);
    for (int64_t r = 0; r < t->ne[1]; r++) onc_quantize_row(type, f + r * ne0, (char *)t->data + r * rs, ne0);
    free(f);
}

static void write_model(const char *path) {
    n_tensors = 0;
    add("token_embd.weight", ONC_TYPE_F32, 2, 256, 50);
    for (int i = 0; i < N_LAYER; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "blk.%d.attn_norm.weight", i);
        add(nm, ONC_TYPE_F32, 1, 256, 1);
        snprintf(nm, sizeof nm, "blk.%d.attn_q.weight", i);
        add(nm, i == 1 ? ONC_TYPE_F16 : ONC_TYPE_F32, 2, 256, 256); /* one F16 source */
        snprintf(nm, sizeof nm, "blk.%d.attn_v.weight", i);
        add(nm, ONC_TYPE_F32, 2, 256, 64);
        snprintf(nm, sizeof nm, "blk.%d.ffn_down.weight", i);
        add(nm, i == 2 ? ONC_TYPE_Q8_0 : ONC_TYPE_F32, 2, 512, 256); /* one already quantized */
    }
    add("blk.0.attn_qkv.weight", ONC_TYPE_BF16, 2, 256, 96);
    add("blk.0.odd32.weight", ONC_TYPE_F32, 2, 96, 8); /* -> q8_0 fallback for K-quants */
    add("blk.0.odd.weight", ONC_TYPE_F32, 2, 40, 8);   /* -> f16 fallback */
    add("blk.0.attn_q.bias", ONC_TYPE_F32, 1, 256, 1);
    add("output_norm.weight", ONC_TYPE_F32, 1, 256, 1);
    add("output.weight", ONC_TYPE_F32, 2, 256, 50);
    onc_gguf_writer *w = onc_gguf_writer_new();
    assert_non_null(w);
    assert_int_equal(onc_gguf_set_str(w, "general.architecture", "llama"), ONC_OK);
    assert_int_equal(onc_gguf_set_str(w, "general.name", "quantize-test"), ONC_OK);
    assert_int_equal(onc_gguf_set_u32(w, "llama.block_count", N_LAYER), ONC_OK);
    assert_int_equal(onc_gguf_set_u32(w, "general.file_type", 0), ONC_OK);
    const float arr[3] = {1.5f, 2.5f, -1.0f};
    assert_int_equal(onc_gguf_set_arr(w, "test.array", ONC_GGUF_FLOAT32, arr, 3), ONC_OK);
    onc_error err = {0};
    for (int i = 0; i < n_tensors; i++)
        assert_int_equal(onc_gguf_add_tensor(w, tensors[i].name, tensors[i].type, tensors[i].n_dims, tensors[i].ne,
                                             tensors[i].data, NULL, NULL, &err),
                         ONC_OK);
    assert_int_equal(onc_gguf_writer_write(w, path, &err), ONC_OK);
    onc_gguf_writer_free(w);
}

static void free_model(void) {
    for (int i = 0; i < n_tensors; i++) free(tensors[i].data);
    n_tensors = 0;
}

static int layer_num(const char *name) { return strncmp(name, "blk.", 4) ? -1 : atoi(name + 4); }

/* expected type per the llama.cpp recipe, written out independently */
static onc_type expected(onc_ftype ft, const src_tensor *s) {
    if (s->n_dims < 2) return s->type;
    onc_type base;
    switch (ft) {
    case ONC_FTYPE_MOSTLY_Q4_K_M:
    case ONC_FTYPE_MOSTLY_Q4_K_S: base = ONC_TYPE_Q4_K; break;
    case ONC_FTYPE_MOSTLY_Q5_K_M: base = ONC_TYPE_Q5_K; break;
    case ONC_FTYPE_MOSTLY_Q8_0: base = ONC_TYPE_Q8_0; break;
    case ONC_FTYPE_MOSTLY_F16: base = ONC_TYPE_F16; break;
    default: base = ONC_TYPE_F32; break;
    }
    onc_type t = base;
    if (ft == ONC_FTYPE_MOSTLY_Q4_K_M || ft == ONC_FTYPE_MOSTLY_Q5_K_M) {
        const int i = layer_num(s->name);
        const int more = i == 0 || i == 3 || i == 6 || i == 7; /* use_more_bits(i, 8) */
        if (!strcmp(s->name, "output.weight")) t = ONC_TYPE_Q6_K;
        else if (strstr(s->name, ".attn_v.weight") && more) t = ONC_TYPE_Q6_K;
        else if (strstr(s->name, ".ffn_down.weight") && more) t = ONC_TYPE_Q6_K;
        else if (strstr(s->name, ".attn_qkv.weight")) t = ft == ONC_FTYPE_MOSTLY_Q4_K_M ? ONC_TYPE_Q5_K : ONC_TYPE_Q6_K;
    }
    if (s->ne[0] % onc_type_traits_of(t)->block_size) t = s->ne[0] % 32 == 0 ? ONC_TYPE_Q8_0 : ONC_TYPE_F16;
    return t;
}

static int n_events, n_requant, n_fallback;
static void on_progress(void *user, const onc_quantize_event *ev) {
    (void)user;
    assert_int_equal(ev->index, n_events);
    n_events++;
    n_requant += ev->requantized;
    n_fallback += ev->fallback;
}

static void check_target(onc_ftype ft, int threads) {
    char in[2048], out[2048];
    path_in_tmp(in, sizeof in, "qz_in.gguf");
    path_in_tmp(out, sizeof out, "qz_out.gguf");
    write_model(in);
    onc_quantize_params p = onc_quantize_default_params();
    p.ftype = ft;
    p.n_threads = threads;
    p.progress = on_progress;
    n_events = n_requant = n_fallback = 0;
    onc_quantize_stats st;
    onc_error err = {0};
    if (onc_quantize_file(in, out, &p, &st, &err) != ONC_OK) fail_msg("quantize: %s", err.msg);
    assert_int_equal(n_events, n_tensors);
    assert_int_equal(st.n_tensors, n_tensors);
    onc_gguf *g = onc_gguf_open(out, &err);
    assert_non_null(g);
    uint32_t v;
    assert_int_equal(onc_gguf_get_u32(g, "general.file_type", &v, &err), ONC_OK);
    assert_int_equal(v, (uint32_t)ft);
    int64_t k = onc_gguf_find_key(g, "general.quantization_version");
    assert_true(k >= 0 && onc_gguf_kv_type(g, k) == ONC_GGUF_UINT32 && onc_gguf_val_u32(g, k) == 2);
    onc_str s;
    assert_int_equal(onc_gguf_get_str(g, "general.name", &s, &err), ONC_OK);
    assert_true(s.len == 13 && !memcmp(s.ptr, "quantize-test", 13));
    k = onc_gguf_find_key(g, "test.array");
    assert_true(k >= 0 && onc_gguf_arr_n(g, k) == 3);
    assert_int_equal(onc_gguf_n_tensors(g), n_tensors);
    for (int i = 0; i < n_tensors; i++) {
        const src_tensor *src = &tensors[i];
        const onc_gguf_tensor *t = onc_gguf_find_tensor(g, src->name);
        assert_non_null(t);
        const onc_type want = expected(ft, src);
        if (t->type != want)
            fail_msg("%s: %s is %s, want %s", onc_ftype_name(ft), src->name, onc_type_traits_of(t->type)->name,
                     onc_type_traits_of(want)->name);
        /* bytes == quantizing the same source rows directly */
        const int64_t n = src->ne[0];
        const size_t srs = onc_type_row_size(src->type, n), drs = onc_type_row_size(want, n);
        assert_int_equal(t->nbytes, drs * (size_t)src->ne[1]);
        float *row = malloc((size_t)n * 4);
        void *q = malloc(drs);
        for (int64_t r = 0; r < src->ne[1]; r++) {
            const void *sr = (const char *)src->data + r * srs;
            if (want == src->type) {
                assert_memory_equal((const char *)t->data + r * drs, sr, drs);
                continue;
            }
            onc_dequantize_row(src->type, sr, row, n);
            onc_quantize_row(want, row, q, n);
            if (memcmp((const char *)t->data + r * drs, q, drs)) fail_msg("%s row %lld differs", src->name, (long long)r);
        }
        free(row);
        free(q);
    }
    if (ft == ONC_FTYPE_MOSTLY_Q4_K_M || ft == ONC_FTYPE_MOSTLY_Q4_K_S) assert_int_equal(n_fallback, 2);
    assert_int_equal(n_requant, 1); /* blk.2.ffn_down (Q8_0 source) unless target is q8_0 */
    onc_gguf_close(g);
    free_model();
    unlink(in);
    unlink(out);
}

static void test_q4_K_M(void **state) { check_target(ONC_FTYPE_MOSTLY_Q4_K_M, 2); }
static void test_q5_K_M(void **state) { check_target(ONC_FTYPE_MOSTLY_Q5_K_M, 1); }
static void test_q4_K(void **state) { check_target(ONC_FTYPE_MOSTLY_Q4_K_S, 3); }
static void test_f16(void **state) { check_target(ONC_FTYPE_MOSTLY_F16, 2); }

static void test_q8_0_copies(void **state) {
    /* Q8_0 source tensor stays byte-identical (no requantization) */
    char in[2048], out[2048];
    path_in_tmp(in, sizeof in, "qz_in8.gguf");
    path_in_tmp(out, sizeof out, "qz_out8.gguf");
    write_model(in);
    onc_quantize_params p = onc_quantize_default_params();
    p.progress = on_progress;
    n_events = n_requant = n_fallback = 0;
    onc_error err = {0};
    assert_int_equal(onc_quantize_file(in, out, &p, NULL, &err), ONC_OK);
    assert_int_equal(n_requant, 0);
    onc_gguf *g = onc_gguf_open(out, &err);
    assert_non_null(g);
    const onc_gguf_tensor *t = onc_gguf_find_tensor(g, "blk.2.ffn_down.weight");
    assert_true(t && t->type == ONC_TYPE_Q8_0);
    for (int i = 0; i < n_tensors; i++)
        if (!strcmp(tensors[i].name, "blk.2.ffn_down.weight")) assert_memory_equal(t->data, tensors[i].data, t->nbytes);
    assert_int_equal(onc_gguf_find_tensor(g, "blk.0.odd.weight")->type, ONC_TYPE_F16);
    onc_gguf_close(g);
    free_model();
    unlink(in);
    unlink(out);
}

static void test_recipe_table(void **state) {
    const int64_t ne[4] = {4096, 4096, 1, 1};
    bool fb;
    onc_type wanted;
    /* 32 layers: use_more_bits true for i < 4, i >= 28, (i-4)%3 == 2 */
    for (int i = 0; i < 32; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "blk.%d.ffn_down.weight", i);
        const bool more = i < 4 || i >= 28 || (i - 4) % 3 == 2;
        assert_int_equal(onc_quantize_tensor_type(ONC_FTYPE_MOSTLY_Q4_K_M, nm, 2, ne, ONC_TYPE_F32, 32, 32, &fb, &wanted),
                         more ? ONC_TYPE_Q6_K : ONC_TYPE_Q4_K);
        assert_false(fb);
        snprintf(nm, sizeof nm, "blk.%d.attn_k.weight", i);
        assert_int_equal(onc_quantize_tensor_type(ONC_FTYPE_MOSTLY_Q5_K_M, nm, 2, ne, ONC_TYPE_F32, 32, 32, &fb, NULL),
                         ONC_TYPE_Q5_K);
    }
    assert_int_equal(onc_quantize_tensor_type(ONC_FTYPE_MOSTLY_Q4_K_M, "token_embd.weight", 2, ne, ONC_TYPE_F32, 32,
                                              32, NULL, NULL),
                     ONC_TYPE_Q4_K);
    assert_int_equal(onc_quantize_tensor_type(ONC_FTYPE_MOSTLY_Q6_K, "blk.0.attn_norm.weight", 1, ne, ONC_TYPE_F32, 32,
                                              32, NULL, NULL),
                     ONC_TYPE_F32);
    /* BERT position / token-type embeddings keep their type (llama.cpp) */
    const int64_t ne_pos[4] = {256, 512, 1, 1}, ne_tt[4] = {256, 2, 1, 1};
    assert_int_equal(onc_quantize_tensor_type(ONC_FTYPE_MOSTLY_Q8_0, "position_embd.weight", 2, ne_pos, ONC_TYPE_F32,
                                              0, 0, NULL, NULL),
                     ONC_TYPE_F32);
    assert_int_equal(onc_quantize_tensor_type(ONC_FTYPE_MOSTLY_Q4_K_M, "token_types.weight", 2, ne_tt, ONC_TYPE_F32, 0,
                                              0, NULL, NULL),
                     ONC_TYPE_F32);
    assert_int_equal(onc_quantize_tensor_type(ONC_FTYPE_MOSTLY_F16, "token_types.weight", 2, ne_tt, ONC_TYPE_F32, 0, 0,
                                              NULL, NULL),
                     ONC_TYPE_F32);
    assert_int_equal(onc_quantize_tensor_type(ONC_FTYPE_MOSTLY_Q8_0, "blk.0.position_embd.weight", 2, ne_pos,
                                              ONC_TYPE_F32, 0, 0, NULL, NULL),
                     ONC_TYPE_Q8_0);
    onc_ftype ft;
    assert_true(onc_ftype_from_name("Q4_K_M", &ft) && ft == ONC_FTYPE_MOSTLY_Q4_K_M);
    assert_true(onc_ftype_from_name("q5_k", &ft) && ft == ONC_FTYPE_MOSTLY_Q5_K_S);
    assert_true(onc_ftype_from_name("bf16", &ft) && ft == ONC_FTYPE_MOSTLY_BF16);
    assert_false(onc_ftype_from_name("q3_K_M", &ft));
}

static void test_bad_input(void **state) {
    char in[2048], out[2048];
    path_in_tmp(in, sizeof in, "qz_bad.gguf");
    path_in_tmp(out, sizeof out, "qz_bad_out.gguf");
    unlink(out);
    FILE *f = fopen(in, "wb");
    assert_non_null(f);
    fputs("this is not a gguf file at all", f);
    fclose(f);
    onc_quantize_params p = onc_quantize_default_params();
    onc_error err = {0};
    assert_int_not_equal(onc_quantize_file(in, out, &p, NULL, &err), ONC_OK);
    assert_non_null(strstr(err.msg, "qz_bad.gguf"));
    assert_int_not_equal(access(out, F_OK), 0);
    path_in_tmp(in, sizeof in, "qz_missing.gguf");
    unlink(in);
    assert_int_not_equal(onc_quantize_file(in, out, &p, NULL, &err), ONC_OK);
    assert_non_null(strstr(err.msg, "qz_missing.gguf"));
    assert_int_not_equal(access(out, F_OK), 0);
}

static void test_cli(void **state) {
    const char *bin = getenv("ONCOLM_BIN");
    if (!bin) skip();
    char in[2048], out[2048], cmd[8192];
    path_in_tmp(in, sizeof in, "qz_cli_in.gguf");
    path_in_tmp(out, sizeof out, "qz_cli_out.gguf");
    write_model(in);
    snprintf(cmd, sizeof cmd, "'%s' quantize '%s' '%s' q4_K_M --threads 2 2>/dev/null", bin, in, out);
    assert_int_equal(system(cmd), 0);
    onc_error err = {0};
    onc_gguf *g = onc_gguf_open(out, &err);
    assert_non_null(g);
    assert_int_equal(onc_gguf_find_tensor(g, "output.weight")->type, ONC_TYPE_Q6_K);
    onc_gguf_close(g);
    unlink(out);
    snprintf(cmd, sizeof cmd, "'%s' quantize '%s' '%s' q9_X 2>/dev/null", bin, in, out);
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "'%s' quantize '%s/nope.gguf' '%s' q8_0 2>/dev/null", bin, tu_tmp_dir(), out);
    assert_int_equal(WEXITSTATUS(system(cmd)), 1);
    assert_int_not_equal(access(out, F_OK), 0);
    free_model();
    unlink(in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipe_table), cmocka_unit_test(test_q4_K_M),     cmocka_unit_test(test_q5_K_M),
        cmocka_unit_test(test_q4_K),         cmocka_unit_test(test_f16),        cmocka_unit_test(test_q8_0_copies),
        cmocka_unit_test(test_bad_input),    cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
