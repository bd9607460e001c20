/* fuzz_safetensors.c — libFuzzer target for the safetensors reader used by
 * the PEFT adapter loader (src/lora/safetensors.c): parses the input with
 * onc_st_parse and, when it parses, checks the invariants the reader
 * promises (every tensor inside the buffer, size = shape x dtype, found by
 * name), touches every tensor byte and metadata string (so ASan catches a
 * range that escapes the input), then re-serialises the tensors with
 * onc_st_write_mem and requires the result to parse again with the same
 * tensors. Replayed over fuzz/corpus/safetensors/ by ctest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/lora/safetensors.h"

static volatile uint8_t sink;

static void touch(const void *p, size_t n) {
    const uint8_t *b = p;
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++) s ^= b[i];
    sink ^= s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = malloc(size ? size : 1); /* exact size: overreads are caught */
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    onc_error err = {0};
    onc_st *st = onc_st_parse(buf, size, "fuzz.safetensors", &err);
    if (!st) {
        if (err.code == ONC_OK || strncmp(err.msg, "fuzz.safetensors: ", 18) != 0) __builtin_trap();
        free(buf);
        return 0;
    }
    const size_t n = onc_st_n(st);
    onc_st_entry *e = calloc(n ? n : 1, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        const onc_st_tensor *t = onc_st_at(st, i);
        touch(t->name, strlen(t->name) + 1);
        if (onc_st_find(st, t->name) != t) __builtin_trap();
        if (t->n_dims < 0 || t->n_dims > ONC_ST_MAX_DIMS) __builtin_trap();
        if (t->data < buf || t->nbytes > size || t->data + t->nbytes > buf + size) __builtin_trap();
        size_t count = onc_st_dtype_size(t->dtype);
        for (int d = 0; d < t->n_dims; d++) count *= (size_t)t->shape[d];
        if (count != t->nbytes) __builtin_trap();
        touch(t->data, t->nbytes);
        if (e) {
            e[i].name = t->name;
            e[i].dtype = t->dtype;
            e[i].n_dims = t->n_dims;
            memcpy(e[i].shape, t->shape, sizeof e[i].shape);
            e[i].data = t->data;
        }
    }
    const char *fmt = onc_st_metadata(st, "format");
    if (fmt) touch(fmt, strlen(fmt));
    void *out = NULL;
    size_t out_size = 0;
    if (e && onc_st_write_mem(e, n, &out, &out_size, &err) == ONC_OK) {
        onc_st *st2 = onc_st_parse(out, out_size, "rewrite.safetensors", &err);
        if (!st2 || onc_st_n(st2) != n) __builtin_trap();
        for (size_t i = 0; i < n; i++) {
            const onc_st_tensor *a = onc_st_at(st, i), *b = onc_st_find(st2, a->name);
            if (!b || b->nbytes != a->nbytes || b->dtype != a->dtype || (a->nbytes && memcmp(a->data, b->data, a->nbytes)))
                __builtin_trap();
        }
        onc_st_free(st2);
        free(out);
    }
    free(e);
    onc_st_free(st);
    free(buf);
    return 0;
}
