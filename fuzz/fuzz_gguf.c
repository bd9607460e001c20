/* fuzz_gguf.c — libFuzzer target for the GGUF reader: opens the input with
 * onc_gguf_open_memory and, when it opens, touches every key, value, array
 * element, string byte and tensor byte range (so ASan catches any accessor
 * that reaches outside the buffer), formats every value for display, and
 * re-serialises all metadata through the writer. Replayed over
 * fuzz/corpus/gguf/ by ctest (replay.fuzz_gguf). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/gguf.h"

static volatile uint8_t sink;

static void touch(const void *p, size_t n) {
    const uint8_t *b = p;
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++) s ^= b[i];
    sink ^= s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Exact-size copy so that reads past the end are caught even when the
     * fuzzer's buffer is larger. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    onc_error err = {0};
    onc_gguf *g = onc_gguf_open_memory(buf, size, "fuzz.gguf", &err);
    if (!g) {
        if (err.code == ONC_OK || strncmp(err.msg, "fuzz.gguf: ", 11) != 0) __builtin_trap();
        free(buf);
        return 0;
    }
    /* Re-serialise through the writer, unless the (valid) alignment is so
     * large that the padding alone would need gigabytes. */
    onc_gguf_writer *w = onc_gguf_alignment(g) <= 65536 ? onc_gguf_writer_new() : NULL;
    char txt[512];
    for (int64_t i = 0; i < onc_gguf_n_kv(g); i++) {
        const char *key = onc_gguf_key(g, i);
        touch(key, strlen(key) + 1);
        if (onc_gguf_find_key(g, key) != i) __builtin_trap();
        onc_gguf_type t = onc_gguf_kv_type(g, i);
        if (t == ONC_GGUF_STRING) {
            onc_str s = onc_gguf_val_str(g, i);
            touch(s.ptr, s.len);
        } else if (t == ONC_GGUF_ARRAY) {
            onc_gguf_type et = onc_gguf_arr_type(g, i);
            uint64_t n = onc_gguf_arr_n(g, i);
            if (et == ONC_GGUF_STRING) {
                for (uint64_t j = 0; j < n; j++) {
                    onc_str s = onc_gguf_arr_str(g, i, j);
                    touch(s.ptr, s.len);
                }
            } else {
                touch(onc_gguf_arr_data(g, i), (size_t)n * onc_gguf_type_size(et));
            }
        }
        onc_gguf_kv_to_string(g, i, txt, sizeof txt, 16);
        touch(txt, strlen(txt));
        if (w) (void)onc_gguf_set_from(w, g, i);
        uint32_t u;
        int64_t v;
        float f;
        bool b;
        onc_str s;
        onc_error e;
        (void)onc_gguf_get_u32(g, key, &u, &e);
        (void)onc_gguf_get_i64(g, key, &v, &e);
        (void)onc_gguf_get_f32(g, key, &f, &e);
        (void)onc_gguf_get_bool(g, key, &b, &e);
        (void)onc_gguf_get_str(g, key, &s, &e);
    }
    for (int64_t i = 0; i < onc_gguf_n_tensors(g); i++) {
        const onc_gguf_tensor *t = onc_gguf_tensor_at(g, i);
        touch(t->name, strlen(t->name) + 1);
        if (onc_gguf_find_tensor(g, t->name) != t) __builtin_trap();
        if (t->n_dims < 1 || t->n_dims > ONC_GGUF_MAX_DIMS || t->offset % onc_gguf_alignment(g) != 0)
            __builtin_trap();
        touch(t->data, t->nbytes);
        /* re-add with the borrowed data: the writer must accept what the reader did */
        if (w && onc_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, NULL, NULL, &err) != ONC_OK)
            __builtin_trap();
    }
    if (w) {
        void *out = NULL;
        size_t n = 0;
        if (onc_gguf_writer_write_mem(w, &out, &n, &err) == ONC_OK) {
            /* the rewritten file must open again */
            onc_gguf *g2 = onc_gguf_open_memory(out, n, "rewrite.gguf", &err);
            if (!g2 || onc_gguf_n_kv(g2) != onc_gguf_n_kv(g) || onc_gguf_n_tensors(g2) != onc_gguf_n_tensors(g))
                __builtin_trap();
            onc_gguf_close(g2);
            free(out);
        }
        onc_gguf_writer_free(w);
    }
    onc_gguf_close(g);
    free(buf);
    return 0;
}
