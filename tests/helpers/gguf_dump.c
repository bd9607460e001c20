/* gguf_dump.c — test helper: open a GGUF with the C reader and print a
 * canonical, byte-exact text dump for the numpy oracle
 * (tests/oracle/test_gguf_oracle.py). One item per line:
 *   version V / alignment A / data_offset D / n_kv N / n_tensors T
 *   kv KEYHEX TYPE VALUE            scalars: ints in decimal, floats as the
 *                                   hex bits (0x%08x / 0x%016llx), bool 0/1,
 *                                   strings as "s:" + hex of the bytes
 *   kv KEYHEX array ETYPE N V1 V2 ...
 *   tensor NAMEHEX TYPEID N_DIMS NE0 NE1 NE2 NE3 OFFSET NBYTES FNV1A64
 * Exit 1 with the reader's message on stderr when the file does not open. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "oncolm/gguf.h"

static void hex(const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
}

static void value(onc_gguf_type t, const uint8_t *p) {
    uint64_t u = 0;
    switch (t) {
    case ONC_GGUF_UINT8: case ONC_GGUF_BOOL: printf("%u", p[0]); break;
    case ONC_GGUF_INT8: printf("%d", (int8_t)p[0]); break;
    case ONC_GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); printf("%u", v); break; }
    case ONC_GGUF_INT16: { int16_t v; memcpy(&v, p, 2); printf("%d", v); break; }
    case ONC_GGUF_UINT32: { uint32_t v; memcpy(&v, p, 4); printf("%" PRIu32, v); break; }
    case ONC_GGUF_INT32: { int32_t v; memcpy(&v, p, 4); printf("%" PRId32, v); break; }
    case ONC_GGUF_UINT64: { memcpy(&u, p, 8); printf("%" PRIu64, u); break; }
    case ONC_GGUF_INT64: { int64_t v; memcpy(&v, p, 8); printf("%" PRId64, v); break; }
    case ONC_GGUF_FLOAT32: { uint32_t v; memcpy(&v, p, 4); printf("0x%08" PRIx32, v); break; }
    case ONC_GGUF_FLOAT64: { memcpy(&u, p, 8); printf("0x%016" PRIx64, u); break; }
    default: printf("?"); break;
    }
}

static void str(onc_str s) {
    printf("s:");
    hex(s.ptr, s.len);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gguf_dump FILE.gguf\n");
        return 2;
    }
    onc_error err = {0};
    onc_gguf *g = onc_gguf_open(argv[1], &err);
    if (!g) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("version %" PRIu32 "\nalignment %zu\ndata_offset %zu\nn_kv %" PRId64 "\nn_tensors %" PRId64 "\n",
           onc_gguf_version(g), onc_gguf_alignment(g), onc_gguf_data_offset(g), onc_gguf_n_kv(g),
           onc_gguf_n_tensors(g));
    for (int64_t i = 0; i < onc_gguf_n_kv(g); i++) {
        const char *k = onc_gguf_key(g, i);
        onc_gguf_type t = onc_gguf_kv_type(g, i);
        printf("kv ");
        hex(k, strlen(k));
        printf(" %s ", onc_gguf_type_name(t));
        if (t == ONC_GGUF_STRING) {
            str(onc_gguf_val_str(g, i));
        } else if (t == ONC_GGUF_ARRAY) {
            onc_gguf_type et = onc_gguf_arr_type(g, i);
            uint64_t n = onc_gguf_arr_n(g, i);
            printf("%s %" PRIu64, onc_gguf_type_name(et), n);
            for (uint64_t j = 0; j < n; j++) {
                putchar(' ');
                if (et == ONC_GGUF_STRING)
                    str(onc_gguf_arr_str(g, i, j));
                else
                    value(et, (const uint8_t *)onc_gguf_arr_data(g, i) + j * onc_gguf_type_size(et));
            }
        } else {
            /* through the typed accessors, to exercise them */
            uint8_t tmp[8];
            switch (t) {
            case ONC_GGUF_UINT8: { uint8_t v = onc_gguf_val_u8(g, i); memcpy(tmp, &v, 1); break; }
            case ONC_GGUF_INT8: { int8_t v = onc_gguf_val_i8(g, i); memcpy(tmp, &v, 1); break; }
            case ONC_GGUF_BOOL: tmp[0] = onc_gguf_val_bool(g, i); break;
            case ONC_GGUF_UINT16: { uint16_t v = onc_gguf_val_u16(g, i); memcpy(tmp, &v, 2); break; }
            case ONC_GGUF_INT16: { int16_t v = onc_gguf_val_i16(g, i); memcpy(tmp, &v, 2); break; }
            case ONC_GGUF_UINT32: { uint32_t v = onc_gguf_val_u32(g, i); memcpy(tmp, &v, 4); break; }
            case ONC_GGUF_INT32: { int32_t v = onc_gguf_val_i32(g, i); memcpy(tmp, &v, 4); break; }
            case ONC_GGUF_FLOAT32: { float v = onc_gguf_val_f32(g, i); memcpy(tmp, &v, 4); break; }
            case ONC_GGUF_UINT64: { uint64_t v = onc_gguf_val_u64(g, i); memcpy(tmp, &v, 8); break; }
            case ONC_GGUF_INT64: { int64_t v = onc_gguf_val_i64(g, i); memcpy(tmp, &v, 8); break; }
            case ONC_GGUF_FLOAT64: { double v = onc_gguf_val_f64(g, i); memcpy(tmp, &v, 8); break; }
            default: break;
            }
            value(t, tmp);
        }
        putchar('\n');
    }
    for (int64_t i = 0; i < onc_gguf_n_tensors(g); i++) {
        const onc_gguf_tensor *t = onc_gguf_tensor_at(g, i);
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t j = 0; j < t->nbytes; j++) {
            h ^= ((const uint8_t *)t->data)[j];
            h *= 0x100000001b3ull;
        }
        printf("tensor ");
        hex(t->name, strlen(t->name));
        printf(" %d %" PRIu32 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRIu64 " %zu %016" PRIx64 "\n",
               (int)t->type, t->n_dims, t->ne[0], t->ne[1], t->ne[2], t->ne[3], t->offset, t->nbytes, h);
    }
    onc_gguf_close(g);
    return 0;
}
