/* gguf_write_sample.c — test helper: write FILE with the C GGUF writer,
 * covering every metadata type (scalars, strings, arrays of every element
 * type incl. empty ones), a replaced key, alignment ALIGN (argv[2], default
 * 32) and tensors of several types, some given by a fill callback. The
 * numpy oracle (tests/oracle/test_gguf_oracle.py) checks every value and
 * byte; the expected content is defined identically there:
 *   tensor i byte j = (i*37 + j*11) & 0xFF, except "w.f32" whose element k
 *   (flat, ggml order) is k*0.5f - 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/gguf.h"

static onc_status fill(void *user, const char *name, void *dst, size_t nbytes, onc_error *err) {
    size_t i = (size_t)(uintptr_t)user;
    for (size_t j = 0; j < nbytes; j++) ((uint8_t *)dst)[j] = (uint8_t)((i * 37 + j * 11) & 0xFF);
    return ONC_OK;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: gguf_write_sample FILE [ALIGN]\n");
        return 2;
    }
    uint32_t align = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 32;
    onc_gguf_writer *w = onc_gguf_writer_new();
    onc_error err = {0};
    int bad = 0;
    bad |= onc_gguf_set_str(w, "general.architecture", "llama");
    if (align != 32) bad |= onc_gguf_set_u32(w, "general.alignment", align);
    bad |= onc_gguf_set_u8(w, "s.u8", 200);
    bad |= onc_gguf_set_i8(w, "s.i8", -100);
    bad |= onc_gguf_set_u16(w, "s.u16", 60000);
    bad |= onc_gguf_set_i16(w, "s.i16", -30000);
    bad |= onc_gguf_set_u32(w, "s.u32", 4000000000u);
    bad |= onc_gguf_set_i32(w, "s.i32", -2000000000);
    bad |= onc_gguf_set_u64(w, "s.u64", 18000000000000000000ull);
    bad |= onc_gguf_set_i64(w, "s.i64", -9000000000000000000ll);
    bad |= onc_gguf_set_f32(w, "s.f32", 0.1f);
    bad |= onc_gguf_set_f64(w, "s.f64", -2.5e-300);
    bad |= onc_gguf_set_bool(w, "s.bool", true);
    bad |= onc_gguf_set_str(w, "s.str", "caf\xc3\xa9 \"q\"\n");
    bad |= onc_gguf_set_str(w, "s.empty", "");
    bad |= onc_gguf_set_u32(w, "s.replaced", 1);
    bad |= onc_gguf_set_u32(w, "s.replaced", 2);
    uint8_t u8[] = {0, 1, 255};
    int8_t i8[] = {-128, 127};
    uint16_t u16[] = {1, 65535};
    int16_t i16[] = {-1, 300};
    uint32_t u32[] = {0, 4294967295u, 7};
    int32_t i32[] = {-5, 5};
    uint64_t u64[] = {1, 18446744073709551615ull};
    int64_t i64[] = {-1, 9223372036854775807ll};
    float f32[] = {1.5f, -0.0f, 3.25f};
    double f64[] = {1e-10, 2.0};
    uint8_t bl[] = {1, 0};
    bad |= onc_gguf_set_arr(w, "a.u8", ONC_GGUF_UINT8, u8, 3);
    bad |= onc_gguf_set_arr(w, "a.i8", ONC_GGUF_INT8, i8, 2);
    bad |= onc_gguf_set_arr(w, "a.u16", ONC_GGUF_UINT16, u16, 2);
    bad |= onc_gguf_set_arr(w, "a.i16", ONC_GGUF_INT16, i16, 2);
    bad |= onc_gguf_set_arr(w, "a.u32", ONC_GGUF_UINT32, u32, 3);
    bad |= onc_gguf_set_arr(w, "a.i32", ONC_GGUF_INT32, i32, 2);
    bad |= onc_gguf_set_arr(w, "a.u64", ONC_GGUF_UINT64, u64, 2);
    bad |= onc_gguf_set_arr(w, "a.i64", ONC_GGUF_INT64, i64, 2);
    bad |= onc_gguf_set_arr(w, "a.f32", ONC_GGUF_FLOAT32, f32, 3);
    bad |= onc_gguf_set_arr(w, "a.f64", ONC_GGUF_FLOAT64, f64, 2);
    bad |= onc_gguf_set_arr(w, "a.bool", ONC_GGUF_BOOL, bl, 2);
    bad |= onc_gguf_set_arr(w, "a.empty", ONC_GGUF_INT32, NULL, 0);
    const char *strs[] = {"hello", "", "\xe2\x96\x81world"};
    bad |= onc_gguf_set_arr_str(w, "a.str", strs, 3);
    bad |= onc_gguf_set_arr_str(w, "a.str_empty", NULL, 0);
    if (bad) {
        fprintf(stderr, "gguf_write_sample: a setter failed\n");
        return 1;
    }
    float wf[12];
    for (int k = 0; k < 12; k++) wf[k] = (float)k * 0.5f - 1.0f;
    int64_t ne_f32[2] = {4, 3};
    if (onc_gguf_add_tensor(w, "w.f32", ONC_TYPE_F32, 2, ne_f32, wf, NULL, NULL, &err) != ONC_OK) goto fail;
    struct { const char *name; onc_type t; uint32_t nd; int64_t ne[4]; } ts[] = {
        {"w.f16", ONC_TYPE_F16, 3, {5, 2, 3}},  {"w.q8_0", ONC_TYPE_Q8_0, 2, {64, 2}},
        {"w.q4_0", ONC_TYPE_Q4_0, 1, {96}},     {"w.q4_K", ONC_TYPE_Q4_K, 2, {256, 2}},
        {"w.q6_K", ONC_TYPE_Q6_K, 1, {256}},    {"w.bf16", ONC_TYPE_BF16, 4, {3, 2, 2, 2}},
        {"w.i32", ONC_TYPE_I32, 1, {7}},
    };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        if (onc_gguf_add_tensor(w, ts[i].name, ts[i].t, ts[i].nd, ts[i].ne, NULL, fill, (void *)(uintptr_t)(i + 1),
                                &err) != ONC_OK)
            goto fail;
    if (onc_gguf_writer_write(w, argv[1], &err) != ONC_OK) goto fail;
    onc_gguf_writer_free(w);
    return 0;
fail:
    fprintf(stderr, "gguf_write_sample: %s\n", err.msg);
    onc_gguf_writer_free(w);
    return 1;
}
