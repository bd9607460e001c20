/* test_util.h — helpers shared by the C tests (tests/test_*.c).
 *
 * Header-only on purpose: every tests/test_*.c is its own executable (see
 * tests/CMakeLists.txt), so a .c helper would need build changes and would be
 * picked up by the test glob. Each test gets its own copy of the static state
 * below (the rotating path buffers).
 *
 * Include after the test's own includes or on its own: it pulls in what
 * cmocka needs (setjmp/stdarg/stddef/stdint) and cmocka itself. */
#ifndef ONCOLM_TESTS_TEST_UTIL_H
#define ONCOLM_TESTS_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/gguf.h"
#include "oncolm/model_create.h"
#include "oncolm/tokenizer.h"

/* The scratch folder the tests write into: $ONCOLM_TMP when it is set and not
 * empty, else "." (ctest always sets it, see tests/CMakeLists.txt). Never
 * NULL; the string is the environment's, do not free or modify it. */
static inline const char *tu_tmp_dir(void) {
    const char *t = getenv("ONCOLM_TMP");
    return t && *t ? t : ".";
}

/* "<tu_tmp_dir()>/<name>" in one of 8 rotating static buffers: the result
 * stays valid until 8 further calls (so a handful of paths can be held at
 * once, as in f(tu_tmp_path("a"), tu_tmp_path("b"))). Fails the current test
 * when the path would not fit (4 KiB). */
static inline const char *tu_tmp_path(const char *name) {
    static char buf[8][4096];
    static int k;
    k = (k + 1) % 8;
    const int n = snprintf(buf[k], sizeof buf[k], "%s/%s", tu_tmp_dir(), name);
    if (n < 0 || (size_t)n >= sizeof buf[k]) fail_msg("tmp path too long: %s/%s", tu_tmp_dir(), name);
    return buf[k];
}

/* Writes `text` (a C string, without its NUL) to tu_tmp_path(name),
 * replacing any file there; asserts the file opened. Returns the path (a
 * tu_tmp_path buffer, same lifetime rules). */
static inline const char *tu_write_file(const char *name, const char *text) {
    const char *p = tu_tmp_path(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* Parameters for a small random model: onc_model_create_default_params()
 * with arch, n_layer, n_embd, n_head and n_ff set; everything else (preset,
 * n_head_kv, n_ctx, wtype, init_std, vocabulary...) stays at its default so
 * callers set only what their test needs on the result. */
static inline onc_model_create_params tu_small_params(onc_arch arch, int32_t n_layer, int32_t n_embd, int32_t n_head,
                                                      int32_t n_ff) {
    onc_model_create_params p = onc_model_create_default_params();
    p.arch = arch;
    p.n_layer = n_layer;
    p.n_embd = n_embd;
    p.n_head = n_head;
    p.n_ff = n_ff;
    return p;
}

/* Creates the model described by `p` at tu_tmp_path(name); fails the current
 * test with "create <name>: <error>" when onc_model_create does. */
static inline void tu_create_model(const char *name, const onc_model_create_params *p) {
    onc_error err = {0};
    if (onc_model_create(tu_tmp_path(name), p, NULL, &err) != ONC_OK) fail_msg("create %s: %s", name, err.msg);
}

/* Opens the GGUF at `path` and its tokenizer; fails the current test with
 * "open: ..." / "tokenizer: ..." on error. The caller owns both: free with
 * onc_tokenizer_free(tok) and onc_gguf_close(*gguf). */
static inline onc_tokenizer *tu_open_tokenizer(const char *path, onc_gguf **gguf) {
    onc_error err = {0};
    if (!(*gguf = onc_gguf_open(path, &err))) fail_msg("open: %s", err.msg);
    onc_tokenizer *tok = onc_tokenizer_from_gguf(*gguf, &err);
    if (!tok) fail_msg("tokenizer: %s", err.msg);
    return tok;
}

/* Frees what tu_open_tokenizer gave (either may be NULL). */
static inline void tu_close_tokenizer(onc_tokenizer *tok, onc_gguf *gguf) {
    onc_tokenizer_free(tok);
    onc_gguf_close(gguf);
}

/* xorshift64 step on *state (which must not be 0), mapped to a double in
 * (0, 1): never exactly 0 or 1, so log() of it is finite. Deterministic for a
 * given seed; each test keeps its own state and seed. */
static inline double tu_urand(uint64_t *state) {
    uint64_t r = *state;
    r ^= r << 13;
    r ^= r >> 7;
    r ^= r << 17;
    *state = r;
    return ((r >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

#endif
