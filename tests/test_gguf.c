/* test_gguf.c — GGUF reader/writer: round trips of every metadata type and
 * several tensor types/alignments, writer replace/validation behaviour, and a
 * table of malformed files (each must give NULL and a specific message naming
 * the file, never a crash; runs under ASan/UBSan in the sanitizer build). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "oncolm/gguf.h"
#include "test_util.h"

// --- helpers -----------------------------------------------------------------

/* Open a private exact-size copy (so ASan sees any over-read). On success the
 * copy is returned in *copy and must be freed after onc_gguf_close. */
static onc_gguf *open_copy(const void *data, size_t n, const char *name, onc_error *err, void **copy) {
    void *c = malloc(n ? n : 1);
    assert_non_null(c);
    memcpy(c, data, n);
    onc_gguf *g = onc_gguf_open_memory(c, n, name, err);
    if (!g) {
        free(c);
        c = NULL;
    }
    *copy = c;
    return g;
}

/* Opening must fail with a message naming the file and containing phrase. */
static void expect_fail_at(const void *data, size_t n, const char *phrase, int line) {
    onc_error err = {0};
    void *copy;
    onc_gguf *g = open_copy(data, n, "bad.gguf", &err, &copy);
    if (g) {
        onc_gguf_close(g);
        free(copy);
        fail_msg("line %d: expected failure containing '%s', but the file opened", line, phrase);
    }
    if (strncmp(err.msg, "bad.gguf: ", 10) != 0 || !strstr(err.msg, phrase))
        fail_msg("line %d: message '%s' lacks 'bad.gguf: ' or '%s'", line, err.msg, phrase);
    assert_int_equal(err.code, ONC_ERR_FORMAT);
}
#define expect_fail(d, n, phrase) expect_fail_at(d, n, phrase, __LINE__)

/* Byte builder for hand-made files. */
typedef struct fb {
    uint8_t b[8192];
    size_t n;
} fb;

static void put(fb *f, const void *p, size_t n) {
    assert_true(f->n + n <= sizeof f->b);
    memcpy(f->b + f->n, p, n);
    f->n += n;
}
static void u32(fb *f, uint32_t v) { put(f, &v, 4); }
static void u64(fb *f, uint64_t v) { put(f, &v, 8); }
static void str(fb *f, const char *s) {
    u64(f, strlen(s));
    put(f, s, strlen(s));
}
static void hdr(fb *f, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    f->n = 0;
    put(f, "GGUF", 4);
    u32(f, version);
    u64(f, n_tensors);
    u64(f, n_kv);
}
static void kv_u32(fb *f, const char *key, uint32_t v) {
    str(f, key);
    u32(f, ONC_GGUF_UINT32);
    u32(f, v);
}
/* Tensor info with n_dims dims from ne. */
static void tinfo(fb *f, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type, uint64_t off) {
    str(f, name);
    u32(f, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) u64(f, (uint64_t)ne[d]);
    u32(f, type);
    u64(f, off);
}
static void pad(fb *f, size_t a) {
    while (f->n % a) f->b[f->n++] = 0;
}
static void zeros(fb *f, size_t n) {
    assert_true(f->n + n <= sizeof f->b);
    memset(f->b + f->n, 0, n);
    f->n += n;
}

static void *write_mem(onc_gguf_writer *w, size_t *n) {
    void *buf = NULL;
    onc_error err = {0};
    onc_status st = onc_gguf_writer_write_mem(w, &buf, n, &err);
    if (st != ONC_OK) fail_msg("write_mem: %s", err.msg);
    return buf;
}

// --- metadata round trip -------------------------------------------------------

static void test_metadata_roundtrip(void **state) {
    (void)state;
    onc_gguf_writer *w = onc_gguf_writer_new();
    assert_non_null(w);
    assert_int_equal(onc_gguf_set_u8(w, "t.u8", 255), ONC_OK);
    assert_int_equal(onc_gguf_set_i8(w, "t.i8", -128), ONC_OK);
    assert_int_equal(onc_gguf_set_u16(w, "t.u16", 65535), ONC_OK);
    assert_int_equal(onc_gguf_set_i16(w, "t.i16", -32768), ONC_OK);
    assert_int_equal(onc_gguf_set_u32(w, "t.u32", 4000000000u), ONC_OK);
    assert_int_equal(onc_gguf_set_i32(w, "t.i32", -2000000000), ONC_OK);
    assert_int_equal(onc_gguf_set_u64(w, "t.u64", UINT64_MAX), ONC_OK);
    assert_int_equal(onc_gguf_set_i64(w, "t.i64", INT64_MIN), ONC_OK);
    assert_int_equal(onc_gguf_set_f32(w, "t.f32", 1e-5f), ONC_OK);
    assert_int_equal(onc_gguf_set_f64(w, "t.f64", 3.141592653589793), ONC_OK);
    assert_int_equal(onc_gguf_set_bool(w, "t.bool", true), ONC_OK);
    assert_int_equal(onc_gguf_set_bool(w, "t.false", false), ONC_OK);
    assert_int_equal(onc_gguf_set_str(w, "t.str", "héllo \"w\"\n"), ONC_OK);
    assert_int_equal(onc_gguf_set_str(w, "t.empty", ""), ONC_OK);
    assert_int_equal(onc_gguf_set_strn(w, "t.nul", "a\0b\x01", 4), ONC_OK);
    uint8_t a_u8[] = {1, 2, 255};
    int8_t a_i8[] = {-1, 0, 127};
    uint16_t a_u16[] = {0, 65535};
    int16_t a_i16[] = {-32768, 5};
    uint32_t a_u32[] = {7, 8, 9, 10};
    int32_t a_i32[] = {-7, 8};
    uint64_t a_u64[] = {UINT64_MAX, 0};
    int64_t a_i64[] = {INT64_MIN, INT64_MAX, 3};
    float a_f32[] = {0.5f, -2.25f};
    double a_f64[] = {1e300, -0.0};
    uint8_t a_bool[] = {1, 0, 1};
    const struct { const char *key; onc_gguf_type t; const void *p; uint64_t n; } arrs[] = {
        {"a.u8", ONC_GGUF_UINT8, a_u8, 3},     {"a.i8", ONC_GGUF_INT8, a_i8, 3},
        {"a.u16", ONC_GGUF_UINT16, a_u16, 2},  {"a.i16", ONC_GGUF_INT16, a_i16, 2},
        {"a.u32", ONC_GGUF_UINT32, a_u32, 4},  {"a.i32", ONC_GGUF_INT32, a_i32, 2},
        {"a.u64", ONC_GGUF_UINT64, a_u64, 2},  {"a.i64", ONC_GGUF_INT64, a_i64, 3},
        {"a.f32", ONC_GGUF_FLOAT32, a_f32, 2}, {"a.f64", ONC_GGUF_FLOAT64, a_f64, 2},
        {"a.bool", ONC_GGUF_BOOL, a_bool, 3},  {"a.empty", ONC_GGUF_FLOAT32, NULL, 0},
    };
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++)
        assert_int_equal(onc_gguf_set_arr(w, arrs[i].key, arrs[i].t, arrs[i].p, arrs[i].n), ONC_OK);
    const char *strs[] = {"", "b c", "\xe2\x96\x81x"};
    assert_int_equal(onc_gguf_set_arr_str(w, "a.str", strs, 3), ONC_OK);
    assert_int_equal(onc_gguf_set_arr_str(w, "a.str_empty", NULL, 0), ONC_OK);

    size_t n;
    void *buf = write_mem(w, &n);
    onc_gguf_writer_free(w);
    onc_error err = {0};
    void *copy;
    onc_gguf *g = open_copy(buf, n, "meta.gguf", &err, &copy);
    free(buf);
    if (!g) fail_msg("%s", err.msg);
    assert_int_equal(onc_gguf_version(g), 3);
    assert_int_equal(onc_gguf_alignment(g), 32);
    assert_int_equal(onc_gguf_n_tensors(g), 0);
    assert_int_equal(onc_gguf_n_kv(g), 15 + 12 + 2);
    assert_string_equal(onc_gguf_key(g, 0), "t.u8");
    assert_string_equal(onc_gguf_path(g), "meta.gguf");
    assert_int_equal(onc_gguf_find_key(g, "nope"), -1);
#define K(k) onc_gguf_find_key(g, k)
    assert_int_equal(onc_gguf_val_u8(g, K("t.u8")), 255);
    assert_int_equal(onc_gguf_val_i8(g, K("t.i8")), -128);
    assert_int_equal(onc_gguf_val_u16(g, K("t.u16")), 65535);
    assert_int_equal(onc_gguf_val_i16(g, K("t.i16")), -32768);
    assert_true(onc_gguf_val_u32(g, K("t.u32")) == 4000000000u);
    assert_true(onc_gguf_val_i32(g, K("t.i32")) == -2000000000);
    assert_true(onc_gguf_val_u64(g, K("t.u64")) == UINT64_MAX);
    assert_true(onc_gguf_val_i64(g, K("t.i64")) == INT64_MIN);
    assert_true(onc_gguf_val_f32(g, K("t.f32")) == 1e-5f);
    assert_true(onc_gguf_val_f64(g, K("t.f64")) == 3.141592653589793);
    assert_true(onc_gguf_val_bool(g, K("t.bool")));
    assert_false(onc_gguf_val_bool(g, K("t.false")));
    onc_str s = onc_gguf_val_str(g, K("t.str"));
    assert_int_equal(s.len, strlen("héllo \"w\"\n"));
    assert_memory_equal(s.ptr, "héllo \"w\"\n", s.len);
    assert_int_equal(onc_gguf_val_str(g, K("t.empty")).len, 0);
    s = onc_gguf_val_str(g, K("t.nul"));
    assert_int_equal(s.len, 4);
    assert_memory_equal(s.ptr, "a\0b\x01", 4);
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) {
        int64_t k = K(arrs[i].key);
        assert_true(k >= 0);
        assert_int_equal(onc_gguf_kv_type(g, k), ONC_GGUF_ARRAY);
        assert_int_equal(onc_gguf_arr_type(g, k), arrs[i].t);
        assert_int_equal(onc_gguf_arr_n(g, k), arrs[i].n);
        if (arrs[i].n) assert_memory_equal(onc_gguf_arr_data(g, k), arrs[i].p, arrs[i].n * onc_gguf_type_size(arrs[i].t));
    }
    int64_t k = K("a.str");
    assert_int_equal(onc_gguf_arr_type(g, k), ONC_GGUF_STRING);
    assert_int_equal(onc_gguf_arr_n(g, k), 3);
    for (uint64_t j = 0; j < 3; j++) {
        s = onc_gguf_arr_str(g, k, j);
        assert_int_equal(s.len, strlen(strs[j]));
        assert_memory_equal(s.ptr, strs[j], s.len);
    }
    assert_int_equal(onc_gguf_arr_n(g, K("a.str_empty")), 0);

    /* checked getters */
    uint32_t u;
    int64_t i64;
    float f;
    bool b;
    onc_error e = {0};
    assert_int_equal(onc_gguf_get_u32(g, "t.u8", &u, &e), ONC_OK);
    assert_int_equal(u, 255);
    assert_int_equal(onc_gguf_get_u32(g, "t.bool", &u, &e), ONC_OK);
    assert_int_equal(u, 1);
    assert_int_equal(onc_gguf_get_u32(g, "t.i32", &u, &e), ONC_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "does not fit"));
    assert_int_equal(onc_gguf_get_u32(g, "t.u64", &u, &e), ONC_ERR_FORMAT);
    assert_int_equal(onc_gguf_get_u32(g, "t.str", &u, &e), ONC_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "meta.gguf: key 't.str' has type string"));
    onc_error_clear(&e);
    assert_int_equal(onc_gguf_get_u32(g, "missing", &u, &e), ONC_ERR_NOT_FOUND);
    assert_int_equal(e.code, ONC_OK);
    assert_int_equal(onc_gguf_get_i64(g, "t.i64", &i64, &e), ONC_OK);
    assert_true(i64 == INT64_MIN);
    assert_int_equal(onc_gguf_get_i64(g, "t.u32", &i64, &e), ONC_OK);
    assert_true(i64 == 4000000000);
    assert_int_equal(onc_gguf_get_i64(g, "t.u64", &i64, &e), ONC_ERR_FORMAT);
    assert_int_equal(onc_gguf_get_f32(g, "t.f64", &f, &e), ONC_OK);
    assert_true(f == (float)3.141592653589793);
    assert_int_equal(onc_gguf_get_f32(g, "t.u8", &f, &e), ONC_ERR_FORMAT);
    assert_int_equal(onc_gguf_get_bool(g, "t.bool", &b, &e), ONC_OK);
    assert_true(b);
    assert_int_equal(onc_gguf_get_bool(g, "t.u8", &b, &e), ONC_ERR_FORMAT);
    assert_int_equal(onc_gguf_get_str(g, "t.str", &s, &e), ONC_OK);
    assert_int_equal(onc_gguf_get_str(g, "t.u8", &s, &e), ONC_ERR_FORMAT);

    /* display */
    char txt[256];
    assert_string_equal(onc_gguf_kv_to_string(g, K("t.u8"), txt, sizeof txt, 4), "255");
    assert_string_equal(onc_gguf_kv_to_string(g, K("t.i64"), txt, sizeof txt, 4), "-9223372036854775808");
    assert_string_equal(onc_gguf_kv_to_string(g, K("t.bool"), txt, sizeof txt, 4), "true");
    assert_string_equal(onc_gguf_kv_to_string(g, K("t.str"), txt, sizeof txt, 4), "\"héllo \\\"w\\\"\\n\"");
    assert_string_equal(onc_gguf_kv_to_string(g, K("t.nul"), txt, sizeof txt, 4), "\"a\\x00b\\x01\"");
    assert_string_equal(onc_gguf_kv_to_string(g, K("a.u32"), txt, sizeof txt, 2), "[u32 x 4] [7, 8, ...]");
    assert_string_equal(onc_gguf_kv_to_string(g, K("a.str"), txt, sizeof txt, 8), "[string x 3] [\"\", \"b c\", \"\xe2\x96\x81x\"]");
    assert_string_equal(onc_gguf_kv_to_string(g, K("a.empty"), txt, sizeof txt, 8), "[f32 x 0]");
    onc_gguf_kv_to_string(g, K("a.i64"), txt, 10, 8); /* truncation */
    assert_int_equal(strlen(txt), 9);
#undef K
    onc_gguf_close(g);
    free(copy);
}

// --- tensors ------------------------------------------------------------------------

static onc_status fill_pattern(void *user, const char *name, void *dst, size_t nbytes, onc_error *err) {
    uint8_t *d = dst;
    for (size_t i = 0; i < nbytes; i++) d[i] = (uint8_t)(i * 7 + (uintptr_t)user);
    return ONC_OK;
}

static onc_status fill_fail(void *user, const char *name, void *dst, size_t nbytes, onc_error *err) {
    return onc_error_set(err, ONC_ERR_IO, "source went away");
}

static void tensors_roundtrip(uint32_t alignment) {
    onc_gguf_writer *w = onc_gguf_writer_new();
    if (alignment) assert_int_equal(onc_gguf_set_u32(w, "general.alignment", alignment), ONC_OK);
    assert_int_equal(onc_gguf_set_str(w, "general.architecture", "llama"), ONC_OK);
    struct { const char *name; onc_type t; uint32_t nd; int64_t ne[4]; size_t nbytes; } ts[] = {
        {"a.f32", ONC_TYPE_F32, 2, {3, 5}, 60},
        {"b.f16", ONC_TYPE_F16, 1, {7}, 14},
        {"c.q8_0", ONC_TYPE_Q8_0, 2, {64, 3}, 2 * 34 * 3},
        {"d.q4_k", ONC_TYPE_Q4_K, 1, {256}, 144},
        {"e.i8", ONC_TYPE_I8, 4, {3, 1, 2, 2}, 12},
        {"f.bf16", ONC_TYPE_BF16, 3, {2, 2, 2}, 16},
        {"g.q4_0", ONC_TYPE_Q4_0, 1, {32}, 18},
    };
    const size_t nt = sizeof ts / sizeof ts[0];
    uint8_t *data[8];
    onc_error err = {0};
    for (size_t i = 0; i < nt; i++) {
        data[i] = malloc(ts[i].nbytes);
        for (size_t j = 0; j < ts[i].nbytes; j++) data[i][j] = (uint8_t)(i * 31 + j);
        onc_status st = onc_gguf_add_tensor(w, ts[i].name, ts[i].t, ts[i].nd, ts[i].ne, data[i], NULL, NULL, &err);
        if (st != ONC_OK) fail_msg("%s", err.msg);
    }
    int64_t ne_fill[2] = {5, 3};
    assert_int_equal(onc_gguf_add_tensor(w, "h.fill", ONC_TYPE_F32, 2, ne_fill, NULL, fill_pattern, (void *)3, &err),
                     ONC_OK);
    size_t n;
    void *buf = write_mem(w, &n);
    onc_gguf_writer_free(w);
    void *copy;
    onc_gguf *g = open_copy(buf, n, "t.gguf", &err, &copy);
    free(buf);
    if (!g) fail_msg("%s", err.msg);
    size_t a = alignment ? alignment : 32;
    assert_int_equal(onc_gguf_alignment(g), a);
    assert_int_equal(onc_gguf_data_offset(g) % a, 0);
    assert_int_equal(onc_gguf_n_tensors(g), nt + 1);
    uint64_t off = 0;
    for (size_t i = 0; i < nt; i++) {
        const onc_gguf_tensor *t = onc_gguf_find_tensor(g, ts[i].name);
        assert_non_null(t);
        assert_ptr_equal(t, onc_gguf_tensor_at(g, (int64_t)i));
        assert_string_equal(t->name, ts[i].name);
        assert_int_equal(t->type, ts[i].t);
        assert_int_equal(t->n_dims, ts[i].nd);
        for (uint32_t d = 0; d < 4; d++) assert_int_equal(t->ne[d], d < ts[i].nd ? ts[i].ne[d] : 1);
        assert_int_equal(t->nbytes, ts[i].nbytes);
        assert_int_equal(t->offset, off);
        assert_memory_equal(t->data, data[i], ts[i].nbytes);
        off += (ts[i].nbytes + a - 1) / a * a;
        free(data[i]);
    }
    const onc_gguf_tensor *t = onc_gguf_find_tensor(g, "h.fill");
    assert_non_null(t);
    for (size_t j = 0; j < t->nbytes; j++) assert_int_equal(((const uint8_t *)t->data)[j], (uint8_t)(j * 7 + 3));
    /* the file ends with the last tensor padded to the alignment */
    assert_int_equal(onc_gguf_file_size(g), onc_gguf_data_offset(g) + off + (60 + a - 1) / a * a);
    assert_null(onc_gguf_find_tensor(g, "missing"));
    onc_gguf_close(g);
    free(copy);
}

static void test_tensors_align_default(void **state) { tensors_roundtrip(0); }
static void test_tensors_align_32(void **state) { tensors_roundtrip(32); }
static void test_tensors_align_64(void **state) { tensors_roundtrip(64); }
static void test_tensors_align_128(void **state) { tensors_roundtrip(128); }

// --- writer behaviour -----------------------------------------------------------

static void test_replace_key(void **state) {
    onc_gguf_writer *w = onc_gguf_writer_new();
    assert_int_equal(onc_gguf_set_u32(w, "a", 1), ONC_OK);
    assert_int_equal(onc_gguf_set_str(w, "b", "x"), ONC_OK);
    assert_int_equal(onc_gguf_set_u32(w, "c", 3), ONC_OK);
    assert_int_equal(onc_gguf_set_u32(w, "a", 10), ONC_OK);
    assert_int_equal(onc_gguf_set_f32(w, "b", 2.5f), ONC_OK); /* type may change */
    assert_int_equal(onc_gguf_set_u32(w, "d", 4), ONC_OK);
    onc_gguf_remove_key(w, "c");
    onc_gguf_remove_key(w, "zzz");
    assert_int_equal(onc_gguf_set_u32(w, "general.alignment", 64), ONC_OK);
    onc_gguf_remove_key(w, "general.alignment"); /* back to 32 */
    size_t n;
    void *buf = write_mem(w, &n);
    onc_gguf_writer_free(w);
    onc_error err = {0};
    void *copy;
    onc_gguf *g = open_copy(buf, n, "r.gguf", &err, &copy);
    free(buf);
    assert_non_null(g);
    assert_int_equal(onc_gguf_n_kv(g), 3);
    assert_string_equal(onc_gguf_key(g, 0), "a");
    assert_int_equal(onc_gguf_val_u32(g, 0), 10);
    assert_string_equal(onc_gguf_key(g, 1), "b");
    assert_true(onc_gguf_val_f32(g, 1) == 2.5f);
    assert_string_equal(onc_gguf_key(g, 2), "d");
    assert_int_equal(onc_gguf_alignment(g), 32);

    /* set_from copies every type */
    onc_gguf_writer *w2 = onc_gguf_writer_new();
    for (int64_t i = 0; i < onc_gguf_n_kv(g); i++) assert_int_equal(onc_gguf_set_from(w2, g, i), ONC_OK);
    void *buf2 = write_mem(w2, &n);
    onc_gguf_writer_free(w2);
    assert_int_equal(n, onc_gguf_file_size(g));
    assert_memory_equal(buf2, copy, n);
    free(buf2);
    onc_gguf_close(g);
    free(copy);
}

static void test_writer_errors(void **state) {
    onc_gguf_writer *w = onc_gguf_writer_new();
    onc_error err = {0};
    float d[64] = {0};
    int64_t ne[4] = {32, 2, 1, 1};
    char long_name[80];
    memset(long_name, 'x', 64);
    long_name[64] = '\0';
    assert_int_equal(onc_gguf_set_u32(w, "", 1), ONC_ERR_INVALID);
    assert_int_equal(onc_gguf_set_u32(w, NULL, 1), ONC_ERR_INVALID);
    assert_int_equal(onc_gguf_set_str(w, "k", NULL), ONC_ERR_INVALID);
    assert_int_equal(onc_gguf_set_u32(w, "general.alignment", 48), ONC_ERR_INVALID);
    assert_int_equal(onc_gguf_set_u32(w, "general.alignment", 0), ONC_ERR_INVALID);
    assert_int_equal(onc_gguf_set_i32(w, "general.alignment", 64), ONC_ERR_INVALID);
    assert_int_equal(onc_gguf_set_arr(w, "k", ONC_GGUF_ARRAY, d, 1), ONC_ERR_INVALID);
    assert_int_equal(onc_gguf_set_arr(w, "k", ONC_GGUF_STRING, d, 1), ONC_ERR_INVALID);
    assert_int_equal(onc_gguf_set_arr(w, "k", ONC_GGUF_UINT8, NULL, 3), ONC_ERR_INVALID);
    assert_int_equal(onc_gguf_set_arr(w, "k", ONC_GGUF_UINT8, d, ((uint64_t)1 << 30) + 1), ONC_ERR_INVALID);
#define ADD_FAIL(phrase, ...)                                                                    \
    do {                                                                                         \
        onc_error_clear(&err);                                                                   \
        assert_int_equal(onc_gguf_add_tensor(w, __VA_ARGS__, &err), ONC_ERR_INVALID);             \
        if (!strstr(err.msg, phrase)) fail_msg("message '%s' lacks '%s'", err.msg, phrase);      \
    } while (0)
    ADD_FAIL("empty tensor name", "", ONC_TYPE_F32, 2, ne, d, NULL, NULL);
    ADD_FAIL("shorter than 64", long_name, ONC_TYPE_F32, 2, ne, d, NULL, NULL);
    ADD_FAIL("n_dims = 0", "t", ONC_TYPE_F32, 0, ne, d, NULL, NULL);
    ADD_FAIL("n_dims = 5", "t", ONC_TYPE_F32, 5, ne, d, NULL, NULL);
    ADD_FAIL("unknown tensor type id 4", "t", (onc_type)4, 2, ne, d, NULL, NULL);
    ADD_FAIL("unknown tensor type id 99", "t", (onc_type)99, 2, ne, d, NULL, NULL);
    int64_t ne0[2] = {0, 2}, neneg[2] = {4, -1}, ne33[1] = {33}, big[4] = {INT64_MAX, 2, 1, 1};
    ADD_FAIL("ne[0] = 0", "t", ONC_TYPE_F32, 2, ne0, d, NULL, NULL);
    ADD_FAIL("ne[1] = -1", "t", ONC_TYPE_F32, 2, neneg, d, NULL, NULL);
    ADD_FAIL("not a multiple of the block size 32", "t", ONC_TYPE_Q4_0, 1, ne33, d, NULL, NULL);
    ADD_FAIL("overflows", "t", ONC_TYPE_F32, 2, big, d, NULL, NULL);
    ADD_FAIL("exactly one", "t", ONC_TYPE_F32, 2, ne, NULL, NULL, NULL);
    ADD_FAIL("exactly one", "t", ONC_TYPE_F32, 2, ne, d, fill_pattern, NULL);
    assert_int_equal(onc_gguf_add_tensor(w, "t", ONC_TYPE_F32, 2, ne, d, NULL, NULL, &err), ONC_OK);
    ADD_FAIL("duplicate tensor name 't'", "t", ONC_TYPE_F32, 2, ne, d, NULL, NULL);
#undef ADD_FAIL
    /* a failing fill callback fails the write and names the tensor */
    assert_int_equal(onc_gguf_add_tensor(w, "bad", ONC_TYPE_F32, 1, ne, NULL, fill_fail, NULL, &err), ONC_OK);
    void *buf = NULL;
    size_t n = 0;
    assert_int_equal(onc_gguf_writer_write_mem(w, &buf, &n, &err), ONC_ERR_IO);
    assert_null(buf);
    assert_non_null(strstr(err.msg, "tensor 'bad': source went away"));
    char path[1024], tmpf[1100];
    snprintf(path, sizeof path, "%s", tu_tmp_path("gguf_fail.gguf"));
    unlink(path);
    assert_int_equal(onc_gguf_writer_write(w, path, &err), ONC_ERR_IO);
    assert_non_null(strstr(err.msg, "source went away"));
    assert_int_not_equal(access(path, F_OK), 0); /* untouched */
    snprintf(tmpf, sizeof tmpf, "%s.tmp.%ld", path, (long)getpid());
    assert_int_not_equal(access(tmpf, F_OK), 0); /* temp removed */
    onc_gguf_writer_free(w);

    /* a directory that does not exist */
    w = onc_gguf_writer_new();
    assert_int_equal(onc_gguf_writer_write(w, "/nonexistent-dir/x.gguf", &err), ONC_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.gguf"));
    onc_gguf_writer_free(w);
}

// --- files on disk ------------------------------------------------------------------

static void test_open_files(void **state) {
    char path[1024];
    onc_error err = {0};
    snprintf(path, sizeof path, "%s", tu_tmp_path("gguf_missing.gguf"));
    unlink(path);
    assert_null(onc_gguf_open(path, &err));
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "cannot open"));
    assert_int_equal(err.code, ONC_ERR_IO);

    assert_null(onc_gguf_open(tu_tmp_dir(), &err));
    assert_non_null(strstr(err.msg, "is a directory"));

    snprintf(path, sizeof path, "%s", tu_tmp_path("gguf_empty.gguf"));
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_null(onc_gguf_open(path, &err));
    assert_non_null(strstr(err.msg, "empty"));
    assert_non_null(strstr(err.msg, path));

    /* write atomically, read back, then a truncated copy on disk */
    snprintf(path, sizeof path, "%s", tu_tmp_path("gguf_ok.gguf"));
    onc_gguf_writer *w = onc_gguf_writer_new();
    float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t ne[1] = {8};
    assert_int_equal(onc_gguf_set_str(w, "general.architecture", "llama"), ONC_OK);
    assert_int_equal(onc_gguf_add_tensor(w, "w", ONC_TYPE_F32, 1, ne, v, NULL, NULL, &err), ONC_OK);
    assert_int_equal(onc_gguf_writer_write(w, path, &err), ONC_OK);
    assert_int_equal(onc_gguf_writer_write(w, path, &err), ONC_OK); /* overwrite */
    onc_gguf_writer_free(w);
    onc_gguf *g = onc_gguf_open(path, &err);
    if (!g) fail_msg("%s", err.msg);
    assert_memory_equal(onc_gguf_find_tensor(g, "w")->data, v, sizeof v);
    size_t size = onc_gguf_file_size(g);
    onc_gguf_close(g);
    assert_int_equal(truncate(path, (off_t)size - 8), 0);
    assert_null(onc_gguf_open(path, &err));
    assert_non_null(strstr(err.msg, "data ends at byte"));
    assert_non_null(strstr(err.msg, path));
}

// --- malformed inputs ----------------------------------------------------------------

/* A valid file with metadata and two tensors; truncating it anywhere before
 * the end of the last tensor's data must fail cleanly. */
static void test_truncate_everywhere(void **state) {
    onc_gguf_writer *w = onc_gguf_writer_new();
    onc_error err = {0};
    const char *strs[] = {"a", "", "ccc"};
    uint16_t u16s[] = {1, 2, 3};
    assert_int_equal(onc_gguf_set_str(w, "general.architecture", "llama"), ONC_OK);
    assert_int_equal(onc_gguf_set_u32(w, "general.alignment", 64), ONC_OK);
    assert_int_equal(onc_gguf_set_arr_str(w, "tokens", strs, 3), ONC_OK);
    assert_int_equal(onc_gguf_set_arr(w, "u16s", ONC_GGUF_UINT16, u16s, 3), ONC_OK);
    assert_int_equal(onc_gguf_set_f64(w, "f", 1.5), ONC_OK);
    uint8_t d[200] = {0};
    int64_t ne1[2] = {3, 4}, ne2[1] = {32};
    assert_int_equal(onc_gguf_add_tensor(w, "t1", ONC_TYPE_F32, 2, ne1, d, NULL, NULL, &err), ONC_OK);
    assert_int_equal(onc_gguf_add_tensor(w, "t2", ONC_TYPE_Q8_0, 1, ne2, d, NULL, NULL, &err), ONC_OK);
    size_t n;
    uint8_t *buf = write_mem(w, &n);
    onc_gguf_writer_free(w);
    void *copy;
    onc_gguf *g = open_copy(buf, n, "bad.gguf", &err, &copy);
    assert_non_null(g);
    const onc_gguf_tensor *t2 = onc_gguf_find_tensor(g, "t2");
    size_t data_end = onc_gguf_data_offset(g) + t2->offset + t2->nbytes;
    onc_gguf_close(g);
    free(copy);
    for (size_t len = 0; len < n; len++) {
        if (len < data_end) {
            onc_error e = {0};
            g = open_copy(buf, len, "bad.gguf", &e, &copy);
            if (g) fail_msg("truncated to %zu of %zu bytes but opened", len, n);
            if (strncmp(e.msg, "bad.gguf: ", 10) != 0) fail_msg("len %zu: bad message '%s'", len, e.msg);
            if (len >= 8 && !strstr(e.msg, "truncated") && !strstr(e.msg, "cannot fit") &&
                !strstr(e.msg, "data ends at byte") && !strstr(e.msg, "would start") &&
                !strstr(e.msg, "data needs"))
                fail_msg("len %zu: unexpected message '%s'", len, e.msg);
        } else {
            g = open_copy(buf, len, "ok.gguf", &err, &copy); /* only the final padding is missing */
            if (!g) fail_msg("len %zu: %s", len, err.msg);
            onc_gguf_close(g);
            free(copy);
        }
    }
    free(buf);
}

static void test_malformed_header(void **state) {
    fb f;
    hdr(&f, 3, 0, 0);
    memcpy(f.b, "GGML", 4);
    expect_fail(f.b, f.n, "bad magic");
    memcpy(f.b, "FUGG", 4);
    expect_fail(f.b, f.n, "big-endian");
    expect_fail(f.b, 0, "too small");
    expect_fail("GGU", 3, "too small");
    hdr(&f, 1, 0, 0);
    expect_fail(f.b, f.n, "version 1 is not supported");
    hdr(&f, 0, 0, 0);
    expect_fail(f.b, f.n, "unsupported GGUF version 0");
    hdr(&f, 4, 0, 0);
    expect_fail(f.b, f.n, "unsupported GGUF version 4");
    hdr(&f, 0x03000000u, 0, 0);
    expect_fail(f.b, f.n, "big-endian");
    hdr(&f, 3, (uint64_t)-1, 0);
    expect_fail(f.b, f.n, "tensor count -1 is negative");
    hdr(&f, 3, 0, (uint64_t)-5);
    expect_fail(f.b, f.n, "metadata count -5 is negative");
    hdr(&f, 3, 0, (uint64_t)1 << 40);
    expect_fail(f.b, f.n, "cannot fit");
    hdr(&f, 3, (uint64_t)1 << 40, 0);
    expect_fail(f.b, f.n, "cannot fit");
    hdr(&f, 3, 0, 1);
    expect_fail(f.b, f.n, "cannot fit"); /* 1 kv needs >= 14 bytes */
    /* version 2 and an empty v3 file are fine */
    void *copy;
    onc_error err = {0};
    hdr(&f, 2, 0, 0);
    onc_gguf *g = open_copy(f.b, f.n, "v2.gguf", &err, &copy);
    assert_non_null(g);
    assert_int_equal(onc_gguf_version(g), 2);
    onc_gguf_close(g);
    free(copy);
}

static void test_malformed_metadata(void **state) {
    fb f;
    hdr(&f, 3, 0, 1);
    str(&f, "");
    u32(&f, ONC_GGUF_UINT32);
    u32(&f, 1);
    expect_fail(f.b, f.n, "empty key");

    hdr(&f, 3, 0, 2);
    kv_u32(&f, "a.b", 1);
    kv_u32(&f, "a.b", 2);
    expect_fail(f.b, f.n, "duplicate key");

    hdr(&f, 3, 0, 1);
    u64(&f, 3);
    put(&f, "a\0b", 3);
    u32(&f, ONC_GGUF_UINT8);
    u32(&f, 0);
    expect_fail(f.b, f.n, "NUL byte");

    hdr(&f, 3, 0, 1);
    u64(&f, (uint64_t)1 << 31);
    zeros(&f, 16);
    expect_fail(f.b, f.n, "1 GiB");

    hdr(&f, 3, 0, 1);
    u64(&f, 100);
    zeros(&f, 16);
    expect_fail(f.b, f.n, "truncated");

    hdr(&f, 3, 0, 1);
    str(&f, "k");
    u32(&f, 13);
    u32(&f, 0);
    expect_fail(f.b, f.n, "invalid value type id 13");

    hdr(&f, 3, 0, 1);
    str(&f, "k");
    u32(&f, 0xFFFFFFFFu);
    u32(&f, 0);
    expect_fail(f.b, f.n, "invalid value type id 4294967295");

    hdr(&f, 3, 0, 1);
    str(&f, "k");
    u32(&f, ONC_GGUF_ARRAY);
    u32(&f, ONC_GGUF_ARRAY);
    u64(&f, 1);
    u32(&f, ONC_GGUF_UINT8);
    u64(&f, 1);
    zeros(&f, 1);
    expect_fail(f.b, f.n, "nested arrays");

    hdr(&f, 3, 0, 1);
    str(&f, "k");
    u32(&f, ONC_GGUF_ARRAY);
    u32(&f, 99);
    u64(&f, 0);
    expect_fail(f.b, f.n, "invalid array element type id 99");

    hdr(&f, 3, 0, 1);
    str(&f, "k");
    u32(&f, ONC_GGUF_ARRAY);
    u32(&f, ONC_GGUF_UINT8);
    u64(&f, ((uint64_t)1 << 30) + 1);
    zeros(&f, 8);
    expect_fail(f.b, f.n, "over the limit of 2^30");

    hdr(&f, 3, 0, 1);
    str(&f, "k");
    u32(&f, ONC_GGUF_ARRAY);
    u32(&f, ONC_GGUF_UINT32);
    u64(&f, 1000);
    zeros(&f, 8);
    expect_fail(f.b, f.n, "needs 4000 bytes");

    hdr(&f, 3, 0, 1);
    str(&f, "k");
    u32(&f, ONC_GGUF_ARRAY);
    u32(&f, ONC_GGUF_STRING);
    u64(&f, (uint64_t)1 << 29);
    zeros(&f, 16);
    expect_fail(f.b, f.n, "cannot fit");

    hdr(&f, 3, 0, 1);
    str(&f, "k");
    u32(&f, ONC_GGUF_ARRAY);
    u32(&f, ONC_GGUF_STRING);
    u64(&f, 2);
    str(&f, "ok");
    u64(&f, (uint64_t)1 << 35);
    expect_fail(f.b, f.n, "string element 1 at byte");

    hdr(&f, 3, 0, 1);
    str(&f, "k");
    u32(&f, ONC_GGUF_STRING);
    u64(&f, (uint64_t)1 << 40);
    expect_fail(f.b, f.n, "1 GiB");

    hdr(&f, 3, 0, 1);
    str(&f, "general.alignment");
    u32(&f, ONC_GGUF_INT32);
    u32(&f, 32);
    expect_fail(f.b, f.n, "general.alignment has type i32, it must be u32");

    hdr(&f, 3, 0, 1);
    kv_u32(&f, "general.alignment", 0);
    expect_fail(f.b, f.n, "general.alignment = 0 is not a power of two");

    hdr(&f, 3, 0, 1);
    kv_u32(&f, "general.alignment", 48);
    expect_fail(f.b, f.n, "general.alignment = 48 is not a power of two");
}

/* A file with one kv (alignment a) and tensor infos given by the caller. */
static void test_malformed_tensors(void **state) {
    fb f;
    const int64_t ne8[1] = {8}, ne0[2] = {8, 0}, neneg[1] = {-3}, ne33[1] = {33};
    const int64_t huge[4] = {(int64_t)1 << 32, (int64_t)1 << 32, 1, 1};
    const int64_t huge2[4] = {(int64_t)1 << 40, (int64_t)1 << 30, 1, 1};
    const int64_t bytes_ovf[1] = {(int64_t)1 << 62};
    const int64_t five[5] = {1, 1, 1, 1, 1};

#define ONE_TENSOR(name, nd, ne, type, off, ndata)   \
    hdr(&f, 3, 1, 0);                                \
    tinfo(&f, name, nd, ne, type, off);              \
    pad(&f, 32);                                     \
    zeros(&f, ndata)

    ONE_TENSOR("", 1, ne8, 0, 0, 32);
    expect_fail(f.b, f.n, "empty tensor name");
    ONE_TENSOR("0123456789012345678901234567890123456789012345678901234567890123", 1, ne8, 0, 0, 32);
    expect_fail(f.b, f.n, "must be shorter than 64");
    ONE_TENSOR("t", 5, five, 0, 0, 32);
    expect_fail(f.b, f.n, "n_dims = 5");
    ONE_TENSOR("t", 2, ne0, 0, 0, 32);
    expect_fail(f.b, f.n, "dimension 1 at byte");
    expect_fail(f.b, f.n, "is 0 (empty tensors are not supported)");
    ONE_TENSOR("t", 1, neneg, 0, 0, 32);
    expect_fail(f.b, f.n, "is negative (-3)");
    ONE_TENSOR("t", 4, huge, 0, 0, 32);
    expect_fail(f.b, f.n, "element count overflows");
    ONE_TENSOR("t", 2, huge2, 0, 0, 32);
    expect_fail(f.b, f.n, "element count overflows");
    ONE_TENSOR("t", 1, bytes_ovf, 0, 0, 32);
    expect_fail(f.b, f.n, "byte size of a f32 tensor");
    ONE_TENSOR("t", 1, ne8, 4, 0, 32);
    expect_fail(f.b, f.n, "unknown tensor type id 4");
    ONE_TENSOR("t", 1, ne8, 1000, 0, 32);
    expect_fail(f.b, f.n, "unknown tensor type id 1000");
    ONE_TENSOR("t", 1, ne8, ONC_TYPE_Q4_K_R16, 0, 32); /* in-memory layouts are not file types */
    expect_fail(f.b, f.n, "unknown tensor type id 41");
    ONE_TENSOR("t", 1, ne8, ONC_TYPE_Q6_K_R16, 0, 32);
    expect_fail(f.b, f.n, "unknown tensor type id 40");
    ONE_TENSOR("t", 1, ne8, 0xFFFFFFFFu, 0, 32);
    expect_fail(f.b, f.n, "unknown tensor type id -1");
    ONE_TENSOR("t", 1, ne33, 2, 0, 32);
    expect_fail(f.b, f.n, "ne[0] = 33 is not a multiple of the block size 32 of type q4_0");
    ONE_TENSOR("t", 1, ne8, 0, 8, 64);
    expect_fail(f.b, f.n, "not a multiple of the alignment 32");
    ONE_TENSOR("t", 1, ne8, 0, 32, 64);
    expect_fail(f.b, f.n, "tensor has offset 32, expected 0");
    ONE_TENSOR("t", 1, ne8, 0, 0, 31);
    expect_fail(f.b, f.n, "tensor 0 ('t'): data ends at byte");
    expect_fail(f.b, f.n, "but the file has");
    const int64_t big[1] = {(int64_t)1 << 40};
    ONE_TENSOR("t", 1, big, 0, 0, 32);
    expect_fail(f.b, f.n, "data needs 4398046511104 bytes");
#undef ONE_TENSOR

    /* two tensors: duplicate, overlapping, gap, misaligned after alignment 64 */
    hdr(&f, 3, 2, 0);
    tinfo(&f, "t", 1, ne8, 0, 0);
    tinfo(&f, "t", 1, ne8, 0, 32);
    pad(&f, 32);
    zeros(&f, 64);
    expect_fail(f.b, f.n, "duplicate tensor name");
    hdr(&f, 3, 2, 0);
    tinfo(&f, "a", 1, ne8, 0, 0);
    tinfo(&f, "b", 1, ne8, 0, 0);
    pad(&f, 32);
    zeros(&f, 64);
    expect_fail(f.b, f.n, "tensor 1 ('b'): tensor has offset 0, expected 32");
    hdr(&f, 3, 2, 0);
    tinfo(&f, "a", 1, ne8, 0, 0);
    tinfo(&f, "b", 1, ne8, 0, 64);
    pad(&f, 32);
    zeros(&f, 96);
    expect_fail(f.b, f.n, "offset 64, expected 32");
    hdr(&f, 3, 2, 1);
    kv_u32(&f, "general.alignment", 64);
    tinfo(&f, "a", 1, ne8, 0, 0);
    tinfo(&f, "b", 1, ne8, 0, 32);
    pad(&f, 64);
    zeros(&f, 128);
    expect_fail(f.b, f.n, "not a multiple of the alignment 64");
    hdr(&f, 3, 1, 0);
    u64(&f, 2);
    put(&f, "a\0", 2);
    u32(&f, 1);
    u64(&f, 8);
    u32(&f, 0);
    u64(&f, 0);
    pad(&f, 32);
    zeros(&f, 32);
    expect_fail(f.b, f.n, "contains a NUL byte");
    /* and the same two-tensor layout with correct offsets opens, with n_dims 0
     * read as a 1-d tensor of one element */
    hdr(&f, 3, 2, 1);
    kv_u32(&f, "general.alignment", 64);
    tinfo(&f, "a", 1, ne8, 0, 0);
    tinfo(&f, "s", 0, ne8, 0, 64);
    pad(&f, 64);
    zeros(&f, 68);
    onc_error err = {0};
    void *copy;
    onc_gguf *g = open_copy(f.b, f.n, "ok.gguf", &err, &copy);
    if (!g) fail_msg("%s", err.msg);
    const onc_gguf_tensor *t = onc_gguf_find_tensor(g, "s");
    assert_int_equal(t->n_dims, 1);
    assert_int_equal(t->ne[0], 1);
    assert_int_equal(t->nbytes, 4);
    onc_gguf_close(g);
    free(copy);
}

/* Flip every byte of the header region of a valid file, one at a time: the
 * reader must either accept it or fail with a message naming the file. */
static void test_byte_flips(void **state) {
    onc_gguf_writer *w = onc_gguf_writer_new();
    onc_error err = {0};
    const char *strs[] = {"x", "yy"};
    assert_int_equal(onc_gguf_set_arr_str(w, "s", strs, 2), ONC_OK);
    assert_int_equal(onc_gguf_set_u32(w, "general.alignment", 32), ONC_OK);
    uint8_t d[64] = {0};
    int64_t ne[1] = {32};
    assert_int_equal(onc_gguf_add_tensor(w, "q", ONC_TYPE_Q8_0, 1, ne, d, NULL, NULL, &err), ONC_OK);
    assert_int_equal(onc_gguf_add_tensor(w, "f", ONC_TYPE_F16, 1, ne, d, NULL, NULL, &err), ONC_OK);
    size_t n;
    uint8_t *buf = write_mem(w, &n);
    onc_gguf_writer_free(w);
    const uint8_t vals[] = {0x00, 0xFF, 0x80, 0x7F, 0x01, 0x40};
    for (size_t pos = 0; pos < n; pos++) {
        for (size_t v = 0; v < sizeof vals; v++) {
            uint8_t old = buf[pos];
            buf[pos] = vals[v];
            onc_error e = {0};
            void *copy;
            onc_gguf *g = open_copy(buf, n, "flip.gguf", &e, &copy);
            if (g) {
                for (int64_t i = 0; i < onc_gguf_n_tensors(g); i++) {
                    const onc_gguf_tensor *t = onc_gguf_tensor_at(g, i);
                    volatile uint8_t s = 0;
                    for (size_t j = 0; j < t->nbytes; j++) s ^= ((const uint8_t *)t->data)[j];
                    (void)s;
                }
                onc_gguf_close(g);
                free(copy);
            } else if (strncmp(e.msg, "flip.gguf: ", 11) != 0) {
                fail_msg("pos %zu: message '%s'", pos, e.msg);
            }
            buf[pos] = old;
        }
    }
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata_roundtrip), cmocka_unit_test(test_tensors_align_default),
        cmocka_unit_test(test_tensors_align_32),   cmocka_unit_test(test_tensors_align_64),
        cmocka_unit_test(test_tensors_align_128),  cmocka_unit_test(test_replace_key),
        cmocka_unit_test(test_writer_errors),      cmocka_unit_test(test_open_files),
        cmocka_unit_test(test_truncate_everywhere), cmocka_unit_test(test_malformed_header),
        cmocka_unit_test(test_malformed_metadata), cmocka_unit_test(test_malformed_tensors),
        cmocka_unit_test(test_byte_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
