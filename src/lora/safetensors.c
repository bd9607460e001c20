/* safetensors.c — see safetensors.h for the format and the contract. */
#include "lora/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct onc_st {
    uint8_t *owned; /* file bytes when read by onc_st_read_file */
    size_t n;
    onc_st_tensor *t;
    size_t n_meta;
    char **meta; /* key, value pairs */
};

static const struct {
    const char *name;
    size_t size;
} DTYPES[ONC_ST_DTYPE_COUNT] = {
    [ONC_ST_F64] = {"F64", 8}, [ONC_ST_F32] = {"F32", 4}, [ONC_ST_F16] = {"F16", 2}, [ONC_ST_BF16] = {"BF16", 2},
    [ONC_ST_I64] = {"I64", 8}, [ONC_ST_I32] = {"I32", 4}, [ONC_ST_I16] = {"I16", 2}, [ONC_ST_I8] = {"I8", 1},
    [ONC_ST_U8] = {"U8", 1},   [ONC_ST_BOOL] = {"BOOL", 1},
};

const char *onc_st_dtype_name(onc_st_dtype t) { return (unsigned)t < ONC_ST_DTYPE_COUNT ? DTYPES[t].name : "?"; }
size_t onc_st_dtype_size(onc_st_dtype t) { return (unsigned)t < ONC_ST_DTYPE_COUNT ? DTYPES[t].size : 0; }

void onc_st_free(onc_st *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) free(st->t[i].name);
    for (size_t i = 0; i < 2 * st->n_meta; i++) free(st->meta[i]);
    free(st->t);
    free(st->meta);
    free(st->owned);
    free(st);
}

size_t onc_st_n(const onc_st *st) { return st->n; }
const onc_st_tensor *onc_st_at(const onc_st *st, size_t i) { return i < st->n ? &st->t[i] : NULL; }

const onc_st_tensor *onc_st_find(const onc_st *st, const char *name) {
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0) return &st->t[i];
    return NULL;
}

const char *onc_st_metadata(const onc_st *st, const char *key) {
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[2 * i], key) == 0) return st->meta[2 * i + 1];
    return NULL;
}

typedef struct span {
    size_t b, e, i;
} span;

static int span_cmp(const void *x, const void *y) {
    const span *a = x, *b = y;
    return a->b < b->b ? -1 : a->b > b->b ? 1 : (a->e < b->e ? -1 : a->e > b->e);
}

/* A non-negative JSON integer as size_t; false when not one. */
static bool json_size(const json_t *v, size_t *out) {
    if (!json_is_integer(v)) return false;
    const json_int_t x = json_integer_value(v);
    if (x < 0 || (unsigned long long)x > SIZE_MAX) return false;
    *out = (size_t)x;
    return true;
}

/* Validate one header entry into t (name already set). */
static onc_status parse_entry(const char *file, const char *key, json_t *v, size_t buf_size, onc_st_tensor *t,
                              span *sp, onc_error *err) {
    if (!json_is_object(v)) return onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s: entry is not an object", file, key);
    const json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
                 *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt))
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s: missing or non-string dtype", file, key);
    int d = -1;
    for (int i = 0; i < ONC_ST_DTYPE_COUNT; i++)
        if (strcmp(DTYPES[i].name, json_string_value(dt)) == 0) d = i;
    if (d < 0)
        return onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: tensor %s: unsupported dtype \"%s\"", file, key,
                             json_string_value(dt));
    t->dtype = (onc_st_dtype)d;
    if (!json_is_array(sh) || json_array_size(sh) > ONC_ST_MAX_DIMS)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s: shape must be an array of at most %d integers", file,
                             key, ONC_ST_MAX_DIMS);
    t->n_dims = (int)json_array_size(sh);
    size_t count = 1;
    bool overflow = false;
    for (int i = 0; i < t->n_dims; i++) {
        size_t x;
        if (!json_size(json_array_get(sh, (size_t)i), &x) || x > INT64_MAX)
            return onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s: shape[%d] is not a non-negative integer", file,
                                 key, i);
        t->shape[i] = (int64_t)x;
        if (x && count > SIZE_MAX / x) overflow = true;
        count *= x;
    }
    if (overflow || count > SIZE_MAX / DTYPES[d].size)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s: shape too large", file, key);
    size_t b, e;
    if (!json_is_array(off) || json_array_size(off) != 2 || !json_size(json_array_get(off, 0), &b) ||
        !json_size(json_array_get(off, 1), &e))
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s: data_offsets must be two non-negative integers",
                             file, key);
    if (b > e || e > buf_size)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s: data_offsets [%zu, %zu] outside the %zu-byte data",
                             file, key, b, e, buf_size);
    t->nbytes = count * DTYPES[d].size;
    if (e - b != t->nbytes)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s: data_offsets span %zu bytes, shape and dtype need %zu",
                             file, key, e - b, t->nbytes);
    sp->b = b;
    sp->e = e;
    return ONC_OK;
}

onc_st *onc_st_parse(const void *data, size_t size, const char *name, onc_error *err) {
    const uint8_t *p = data;
    if (size < 8) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: truncated safetensors file (%zu bytes, no header size)", name, size);
        return NULL;
    }
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--) hn = hn << 8 | p[i];
    if (hn < 2 || hn > size - 8) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: header size %llu does not fit the %zu-byte file (truncated?)", name,
                      (unsigned long long)hn, size);
        return NULL;
    }
    const uint8_t *buf = p + 8 + hn;
    const size_t buf_size = size - 8 - (size_t)hn;
    json_error_t je;
    json_t *root = json_loadb((const char *)p + 8, (size_t)hn, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: header is not valid JSON: %s (at byte %d)", name, je.text,
                      je.position);
        return NULL;
    }
    onc_st *st = calloc(1, sizeof *st);
    span *spans = NULL;
    if (!st || !json_is_object(root)) {
        if (st) onc_error_set(err, ONC_ERR_FORMAT, "%s: header is not a JSON object", name);
        else onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    const size_t n_keys = json_object_size(root);
    st->t = calloc(n_keys ? n_keys : 1, sizeof *st->t);
    spans = calloc(n_keys ? n_keys : 1, sizeof *spans);
    if (!st->t || !spans) {
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(v)) {
                onc_error_set(err, ONC_ERR_FORMAT, "%s: __metadata__ is not an object", name);
                goto fail;
            }
            st->meta = calloc(2 * json_object_size(v) + 1, sizeof *st->meta);
            if (!st->meta) {
                onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
                goto fail;
            }
            const char *mk;
            json_t *mv;
            json_object_foreach(v, mk, mv) {
                if (!json_is_string(mv)) {
                    onc_error_set(err, ONC_ERR_FORMAT, "%s: __metadata__ value of \"%s\" is not a string", name, mk);
                    goto fail;
                }
                st->meta[2 * st->n_meta] = strdup(mk);
                st->meta[2 * st->n_meta + 1] = strdup(json_string_value(mv));
                st->n_meta++;
                if (!st->meta[2 * st->n_meta - 2] || !st->meta[2 * st->n_meta - 1]) {
                    onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
                    goto fail;
                }
            }
            continue;
        }
        onc_st_tensor *t = &st->t[st->n];
        if (!(t->name = strdup(key))) {
            onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
            goto fail;
        }
        st->n++;
        if (parse_entry(name, key, v, buf_size, t, &spans[st->n - 1], err) != ONC_OK) goto fail;
        spans[st->n - 1].i = st->n - 1;
        t->data = buf + spans[st->n - 1].b;
    }
    qsort(spans, st->n, sizeof *spans, span_cmp);
    for (size_t i = 1; i < st->n; i++)
        if (spans[i].b < spans[i - 1].e) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s: tensors %s and %s overlap in the data buffer", name,
                          st->t[spans[i - 1].i].name, st->t[spans[i].i].name);
            goto fail;
        }
    free(spans);
    json_decref(root);
    return st;
fail:
    free(spans);
    json_decref(root);
    onc_st_free(st);
    return NULL;
}

onc_st *onc_st_read_file(const char *path, onc_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        onc_error_set(err, ONC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        onc_error_set(err, ONC_ERR_IO, "%s: not a regular file", path);
        fclose(f);
        return NULL;
    }
    const size_t size = (size_t)sb.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, size);
        fclose(f);
        return NULL;
    }
    if (size && fread(buf, 1, size, f) != size) {
        onc_error_set(err, ONC_ERR_IO, "%s: read failed", path);
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    onc_st *st = onc_st_parse(buf, size, path, err);
    if (!st) {
        free(buf);
        return NULL;
    }
    st->owned = buf;
    return st;
}

onc_status onc_st_write_mem(const onc_st_entry *e, size_t n, void **out, size_t *out_size, onc_error *err) {
    *out = NULL;
    *out_size = 0;
    json_t *root = json_object(), *meta = json_pack("{s:s}", "format", "pt");
    if (!root || !meta || json_object_set_new(root, "__metadata__", meta) != 0) {
        json_decref(root);
        return onc_error_set(err, ONC_ERR_NOMEM, "safetensors: out of memory");
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t bytes = onc_st_dtype_size(e[i].dtype);
        json_t *shape = json_array();
        for (int d = 0; d < e[i].n_dims; d++) {
            bytes *= (size_t)e[i].shape[d];
            json_array_append_new(shape, json_integer(e[i].shape[d]));
        }
        json_t *ent = json_pack("{s:s,s:o,s:[I,I]}", "dtype", onc_st_dtype_name(e[i].dtype), "shape", shape,
                                "data_offsets", (json_int_t)off, (json_int_t)(off + bytes));
        if (!ent || json_object_set_new(root, e[i].name, ent) != 0) {
            json_decref(root);
            return onc_error_set(err, ONC_ERR_NOMEM, "safetensors: out of memory (tensor %s)", e[i].name);
        }
        off += bytes;
    }
    char *hdr = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!hdr) return onc_error_set(err, ONC_ERR_NOMEM, "safetensors: out of memory");
    const size_t hl = strlen(hdr), hn = (hl + 7) / 8 * 8;
    uint8_t *buf = malloc(8 + hn + off);
    if (!buf) {
        free(hdr);
        return onc_error_set(err, ONC_ERR_NOMEM, "safetensors: out of memory (%zu bytes)", 8 + hn + off);
    }
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    memset(buf + 8 + hl, ' ', hn - hl);
    free(hdr);
    size_t pos = 8 + hn;
    for (size_t i = 0; i < n; i++) {
        size_t bytes = onc_st_dtype_size(e[i].dtype);
        for (int d = 0; d < e[i].n_dims; d++) bytes *= (size_t)e[i].shape[d];
        if (bytes) memcpy(buf + pos, e[i].data, bytes);
        pos += bytes;
    }
    *out = buf;
    *out_size = pos;
    return ONC_OK;
}
