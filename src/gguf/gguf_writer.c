/* gguf_writer.c — builds GGUF v3 files that llama.cpp's gguf.cpp loads (see
 * oncolm/gguf.h and shared/reference/gguf-and-llama-formats.md Q1).
 *
 * Metadata values are serialised to their on-disk bytes when set (so a
 * repeated key is replaced in place by swapping its payload). Tensors are
 * recorded with their shape and either a borrowed data pointer or a fill
 * callback; nothing is copied until write time. Layout written:
 *   header, kvs in insertion order, tensor infos in add order (offset = running
 *   sum of sizes padded to the alignment), zero padding to the alignment, then
 *   each tensor's bytes followed by zero padding to the alignment.
 * The alignment is the u32 value of "general.alignment" when set, else 32.
 *
 * Files are written atomically: "<path>.tmp.<pid>", fsync, rename; on any
 * error the temp file is removed and `path` is left untouched.
 *
 * Not here: reading (gguf_reader.c). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf/gguf_internal.h"
#include "oncolm/fileio.h"

// --- types ------------------------------------------------------------------

typedef struct wkv {
    char *key;
    onc_gguf_type type;
    uint8_t *payload; /* value bytes as written after the type id (malloc) */
    size_t payload_len;
} wkv;

typedef struct wtensor {
    char *name;
    onc_type type;
    uint32_t n_dims;
    int64_t ne[ONC_GGUF_MAX_DIMS];
    size_t nbytes;
    const void *data;
    onc_gguf_fill_fn fill;
    void *fill_user;
} wtensor;

struct onc_gguf_writer {
    wkv *kvs;
    size_t n_kv, cap_kv;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
};

/* Growable byte buffer. */
typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} bytes;

static void b_put(bytes *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = true;
                return;
            }
            cap *= 2;
        }
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void b_u32(bytes *b, uint32_t v) { b_put(b, &v, 4); }
static void b_u64(bytes *b, uint64_t v) { b_put(b, &v, 8); }
static void b_str(bytes *b, const char *s, size_t n) {
    b_u64(b, n);
    b_put(b, s, n);
}

// --- life cycle -------------------------------------------------------------

onc_gguf_writer *onc_gguf_writer_new(void) { return calloc(1, sizeof(onc_gguf_writer)); }

void onc_gguf_writer_free(onc_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kvs[i].key);
        free(w->kvs[i].payload);
    }
    for (size_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->kvs);
    free(w->tensors);
    free(w);
}

// --- metadata ---------------------------------------------------------------

static wkv *find_kv(onc_gguf_writer *w, const char *key) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kvs[i].key, key) == 0) return &w->kvs[i];
    return NULL;
}

/* Store (key, type, payload) taking ownership of payload bytes in b (freed
 * on failure too). Replaces an existing key in place. */
static onc_status put_kv(onc_gguf_writer *w, const char *key, onc_gguf_type type, bytes *b) {
    if (b->oom) {
        free(b->p);
        return ONC_ERR_NOMEM;
    }
    wkv *e = find_kv(w, key);
    if (e) {
        free(e->payload);
        e->type = type;
        e->payload = b->p;
        e->payload_len = b->len;
        return ONC_OK;
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        wkv *q = realloc(w->kvs, cap * sizeof *q);
        if (!q) {
            free(b->p);
            return ONC_ERR_NOMEM;
        }
        w->kvs = q;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(b->p);
        return ONC_ERR_NOMEM;
    }
    w->kvs[w->n_kv++] = (wkv){k, type, b->p, b->len};
    return ONC_OK;
}

static bool key_ok(const onc_gguf_writer *w, const char *key) {
    return w && key && key[0] != '\0' && strlen(key) <= ONC_GGUF_MAX_STRING;
}

/* Scalar setter: general.alignment may only be a u32 power of two. */
static onc_status set_scalar(onc_gguf_writer *w, const char *key, onc_gguf_type t, const void *v) {
    if (!key_ok(w, key)) return ONC_ERR_INVALID;
    if (strcmp(key, ONC_GGUF_ALIGNMENT_KEY) == 0) {
        uint32_t a;
        if (t != ONC_GGUF_UINT32) return ONC_ERR_INVALID;
        memcpy(&a, v, 4);
        if (!onc_gguf_is_pow2(a)) return ONC_ERR_INVALID;
    }
    bytes b = {0};
    b_put(&b, v, onc_gguf_type_size(t));
    return put_kv(w, key, t, &b);
}

#define SCALAR_SETTER(fn, ctype, gt) \
    onc_status fn(onc_gguf_writer *w, const char *key, ctype v) { return set_scalar(w, key, gt, &v); }
SCALAR_SETTER(onc_gguf_set_u8, uint8_t, ONC_GGUF_UINT8)
SCALAR_SETTER(onc_gguf_set_i8, int8_t, ONC_GGUF_INT8)
SCALAR_SETTER(onc_gguf_set_u16, uint16_t, ONC_GGUF_UINT16)
SCALAR_SETTER(onc_gguf_set_i16, int16_t, ONC_GGUF_INT16)
SCALAR_SETTER(onc_gguf_set_u32, uint32_t, ONC_GGUF_UINT32)
SCALAR_SETTER(onc_gguf_set_i32, int32_t, ONC_GGUF_INT32)
SCALAR_SETTER(onc_gguf_set_u64, uint64_t, ONC_GGUF_UINT64)
SCALAR_SETTER(onc_gguf_set_i64, int64_t, ONC_GGUF_INT64)
SCALAR_SETTER(onc_gguf_set_f32, float, ONC_GGUF_FLOAT32)
SCALAR_SETTER(onc_gguf_set_f64, double, ONC_GGUF_FLOAT64)
#undef SCALAR_SETTER

onc_status onc_gguf_set_bool(onc_gguf_writer *w, const char *key, bool v) {
    uint8_t u = v ? 1 : 0;
    return set_scalar(w, key, ONC_GGUF_BOOL, &u);
}

onc_status onc_gguf_set_strn(onc_gguf_writer *w, const char *key, const char *v, size_t len) {
    if (!key_ok(w, key) || (!v && len) || len > ONC_GGUF_MAX_STRING) return ONC_ERR_INVALID;
    if (strcmp(key, ONC_GGUF_ALIGNMENT_KEY) == 0) return ONC_ERR_INVALID;
    bytes b = {0};
    b_str(&b, v, len);
    return put_kv(w, key, ONC_GGUF_STRING, &b);
}

onc_status onc_gguf_set_str(onc_gguf_writer *w, const char *key, const char *v) {
    if (!v) return ONC_ERR_INVALID;
    return onc_gguf_set_strn(w, key, v, strlen(v));
}

onc_status onc_gguf_set_arr(onc_gguf_writer *w, const char *key, onc_gguf_type t, const void *data, uint64_t n) {
    if (!key_ok(w, key) || (unsigned)t >= ONC_GGUF_TYPE_COUNT || t == ONC_GGUF_STRING || t == ONC_GGUF_ARRAY ||
        n > ONC_GGUF_MAX_ARRAY || (n && !data) || strcmp(key, ONC_GGUF_ALIGNMENT_KEY) == 0)
        return ONC_ERR_INVALID;
    bytes b = {0};
    b_u32(&b, (uint32_t)t);
    b_u64(&b, n);
    b_put(&b, data, (size_t)n * onc_gguf_type_size(t));
    return put_kv(w, key, ONC_GGUF_ARRAY, &b);
}

/* String array from n (ptr, len) pairs given by a getter. */
static onc_status set_arr_strs(onc_gguf_writer *w, const char *key, uint64_t n,
                               onc_str (*get)(const void *ctx, uint64_t j), const void *ctx) {
    if (!key_ok(w, key) || n > ONC_GGUF_MAX_ARRAY || strcmp(key, ONC_GGUF_ALIGNMENT_KEY) == 0)
        return ONC_ERR_INVALID;
    bytes b = {0};
    b_u32(&b, ONC_GGUF_STRING);
    b_u64(&b, n);
    for (uint64_t j = 0; j < n && !b.oom; j++) {
        onc_str s = get(ctx, j);
        if ((!s.ptr && s.len) || s.len > ONC_GGUF_MAX_STRING) {
            free(b.p);
            return ONC_ERR_INVALID;
        }
        b_str(&b, s.ptr, s.len);
    }
    return put_kv(w, key, ONC_GGUF_ARRAY, &b);
}

static onc_str cstr_at(const void *ctx, uint64_t j) {
    const char *const *strs = ctx;
    return strs[j] ? (onc_str){strs[j], strlen(strs[j])} : (onc_str){NULL, 1};
}

onc_status onc_gguf_set_arr_str(onc_gguf_writer *w, const char *key, const char *const *strs, uint64_t n) {
    if (n && !strs) return ONC_ERR_INVALID;
    return set_arr_strs(w, key, n, cstr_at, strs);
}

typedef struct src_arr {
    const onc_gguf *g;
    int64_t i;
} src_arr;

static onc_str src_str_at(const void *ctx, uint64_t j) {
    const src_arr *s = ctx;
    return onc_gguf_arr_str(s->g, s->i, j);
}

onc_status onc_gguf_set_from(onc_gguf_writer *w, const onc_gguf *src, int64_t i) {
    if (!w || !src || i < 0 || i >= onc_gguf_n_kv(src)) return ONC_ERR_INVALID;
    const char *key = onc_gguf_key(src, i);
    onc_gguf_type t = onc_gguf_kv_type(src, i);
    switch (t) {
    case ONC_GGUF_UINT8: return onc_gguf_set_u8(w, key, onc_gguf_val_u8(src, i));
    case ONC_GGUF_INT8: return onc_gguf_set_i8(w, key, onc_gguf_val_i8(src, i));
    case ONC_GGUF_UINT16: return onc_gguf_set_u16(w, key, onc_gguf_val_u16(src, i));
    case ONC_GGUF_INT16: return onc_gguf_set_i16(w, key, onc_gguf_val_i16(src, i));
    case ONC_GGUF_UINT32: return onc_gguf_set_u32(w, key, onc_gguf_val_u32(src, i));
    case ONC_GGUF_INT32: return onc_gguf_set_i32(w, key, onc_gguf_val_i32(src, i));
    case ONC_GGUF_UINT64: return onc_gguf_set_u64(w, key, onc_gguf_val_u64(src, i));
    case ONC_GGUF_INT64: return onc_gguf_set_i64(w, key, onc_gguf_val_i64(src, i));
    case ONC_GGUF_FLOAT32: return onc_gguf_set_f32(w, key, onc_gguf_val_f32(src, i));
    case ONC_GGUF_FLOAT64: return onc_gguf_set_f64(w, key, onc_gguf_val_f64(src, i));
    case ONC_GGUF_BOOL: return onc_gguf_set_bool(w, key, onc_gguf_val_bool(src, i));
    case ONC_GGUF_STRING: {
        onc_str s = onc_gguf_val_str(src, i);
        return onc_gguf_set_strn(w, key, s.ptr, s.len);
    }
    case ONC_GGUF_ARRAY: {
        onc_gguf_type et = onc_gguf_arr_type(src, i);
        uint64_t n = onc_gguf_arr_n(src, i);
        if (et != ONC_GGUF_STRING) return onc_gguf_set_arr(w, key, et, onc_gguf_arr_data(src, i), n);
        src_arr ctx = {src, i};
        return set_arr_strs(w, key, n, src_str_at, &ctx);
    }
    default: return ONC_ERR_INVALID;
    }
}

void onc_gguf_remove_key(onc_gguf_writer *w, const char *key) {
    if (!w || !key) return;
    wkv *e = find_kv(w, key);
    if (!e) return;
    size_t i = (size_t)(e - w->kvs);
    free(e->key);
    free(e->payload);
    memmove(&w->kvs[i], &w->kvs[i + 1], (w->n_kv - i - 1) * sizeof *w->kvs);
    w->n_kv--;
}

static size_t writer_alignment(onc_gguf_writer *w) {
    wkv *e = find_kv(w, ONC_GGUF_ALIGNMENT_KEY);
    uint32_t a = ONC_GGUF_DEFAULT_ALIGNMENT;
    if (e && e->type == ONC_GGUF_UINT32) memcpy(&a, e->payload, 4);
    return a;
}

// --- tensors ------------------------------------------------------------------

onc_status onc_gguf_add_tensor(onc_gguf_writer *w, const char *name, onc_type type, uint32_t n_dims,
                               const int64_t *ne, const void *data, onc_gguf_fill_fn fill, void *fill_user,
                               onc_error *err) {
    if (!w || !name) return onc_error_set(err, ONC_ERR_INVALID, "gguf writer: NULL writer or tensor name");
    size_t len = strlen(name);
    if (len == 0) return onc_error_set(err, ONC_ERR_INVALID, "gguf writer: empty tensor name");
    if (len >= ONC_GGUF_MAX_NAME)
        return onc_error_set(err, ONC_ERR_INVALID,
                             "gguf writer: tensor name '%.40s...' is %zu bytes, it must be shorter than %d", name, len,
                             ONC_GGUF_MAX_NAME);
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return onc_error_set(err, ONC_ERR_INVALID, "gguf writer: duplicate tensor name '%s'", name);
    if (n_dims < 1 || n_dims > ONC_GGUF_MAX_DIMS || !ne)
        return onc_error_set(err, ONC_ERR_INVALID, "gguf writer: tensor '%s': n_dims = %" PRIu32 ", must be 1..%d",
                             name, n_dims, ONC_GGUF_MAX_DIMS);
    const onc_type_traits *tr = onc_type_traits_of(type);
    if (!tr->name)
        return onc_error_set(err, ONC_ERR_INVALID, "gguf writer: tensor '%s': unknown tensor type id %d", name,
                             (int)type);
    if (tr->memory_only)
        return onc_error_set(err, ONC_ERR_INVALID, "gguf writer: tensor '%s': type %s is an in-memory layout, not a file type",
                             name, tr->name);
    wtensor t = {.type = type, .n_dims = n_dims, .data = data, .fill = fill, .fill_user = fill_user};
    for (int d = 0; d < ONC_GGUF_MAX_DIMS; d++) t.ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] < 1)
            return onc_error_set(err, ONC_ERR_INVALID, "gguf writer: tensor '%s': ne[%" PRIu32 "] = %" PRId64
                                 " (every dimension must be >= 1)", name, d, ne[d]);
        t.ne[d] = ne[d];
    }
    if (t.ne[0] % tr->block_size != 0)
        return onc_error_set(err, ONC_ERR_INVALID,
                             "gguf writer: tensor '%s': ne[0] = %" PRId64 " is not a multiple of the block size %" PRId64
                             " of %s", name, t.ne[0], tr->block_size, tr->name);
    int64_t nel = 1;
    uint64_t nbytes;
    for (int d = 0; d < ONC_GGUF_MAX_DIMS; d++)
        if (__builtin_mul_overflow(nel, t.ne[d], &nel))
            return onc_error_set(err, ONC_ERR_INVALID, "gguf writer: tensor '%s': element count overflows", name);
    if (!onc_gguf_tensor_nbytes(type, t.ne, &nbytes) || nbytes > SIZE_MAX / 2)
        return onc_error_set(err, ONC_ERR_INVALID, "gguf writer: tensor '%s': byte size overflows", name);
    t.nbytes = (size_t)nbytes;
    if ((data == NULL) == (fill == NULL))
        return onc_error_set(err, ONC_ERR_INVALID,
                             "gguf writer: tensor '%s': give exactly one of data and a fill callback", name);
    if (w->n_tensors == w->cap_tensors) {
        size_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        wtensor *q = realloc(w->tensors, cap * sizeof *q);
        if (!q) return onc_error_set(err, ONC_ERR_NOMEM, "gguf writer: out of memory");
        w->tensors = q;
        w->cap_tensors = cap;
    }
    t.name = strdup(name);
    if (!t.name) return onc_error_set(err, ONC_ERR_NOMEM, "gguf writer: out of memory");
    w->tensors[w->n_tensors++] = t;
    return ONC_OK;
}

// --- serialisation --------------------------------------------------------------

/* Header + kvs + tensor infos + padding to the alignment into b; *total gets
 * the whole file size. */
static onc_status build_header(onc_gguf_writer *w, bytes *b, uint64_t *total, const char *what, onc_error *err) {
    size_t align = writer_alignment(w);
    b_put(b, "GGUF", 4);
    b_u32(b, ONC_GGUF_VERSION);
    b_u64(b, (uint64_t)w->n_tensors);
    b_u64(b, (uint64_t)w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        b_str(b, w->kvs[i].key, strlen(w->kvs[i].key));
        b_u32(b, (uint32_t)w->kvs[i].type);
        b_put(b, w->kvs[i].payload, w->kvs[i].payload_len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        b_str(b, t->name, strlen(t->name));
        b_u32(b, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) b_u64(b, (uint64_t)t->ne[d]);
        b_u32(b, (uint32_t)t->type);
        b_u64(b, off);
        if (__builtin_add_overflow(off, onc_gguf_pad(t->nbytes, align), &off))
            return onc_error_set(err, ONC_ERR_NOMEM, "%s: tensor data size overflows", what);
    }
    static const uint8_t zeros[64] = {0};
    size_t padded = (size_t)onc_gguf_pad(b->len, align);
    while (b->len < padded) {
        size_t n = padded - b->len;
        b_put(b, zeros, n < sizeof zeros ? n : sizeof zeros);
    }
    if (b->oom) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory building the header", what);
    if (__builtin_add_overflow((uint64_t)b->len, off, total))
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: file size overflows", what);
    return ONC_OK;
}

/* Produce tensor i's bytes into dst (nbytes). */
static onc_status tensor_bytes(const wtensor *t, void *dst, const char *what, onc_error *err) {
    if (t->data) {
        memcpy(dst, t->data, t->nbytes);
        return ONC_OK;
    }
    onc_error e = {0};
    onc_status st = t->fill(t->fill_user, t->name, dst, t->nbytes, &e);
    if (st == ONC_OK) return ONC_OK;
    if (e.code == ONC_OK) onc_error_set(&e, st, "fill callback failed (%s)", onc_status_name(st));
    return onc_error_set(err, st, "%s: tensor '%s': %s", what, t->name, e.msg);
}

onc_status onc_gguf_writer_write_mem(onc_gguf_writer *w, void **out, size_t *out_size, onc_error *err) {
    ONC_ASSERT(w && out && out_size);
    *out = NULL;
    *out_size = 0;
    bytes b = {0};
    uint64_t total;
    onc_status st = build_header(w, &b, &total, "gguf writer", err);
    if (st != ONC_OK || total > SIZE_MAX) {
        free(b.p);
        return st != ONC_OK ? st : onc_error_set(err, ONC_ERR_NOMEM, "gguf writer: file too large for memory");
    }
    uint8_t *buf = malloc(total ? (size_t)total : 1);
    if (!buf) {
        free(b.p);
        return onc_error_set(err, ONC_ERR_NOMEM, "gguf writer: cannot allocate %" PRIu64 " bytes", total);
    }
    memcpy(buf, b.p, b.len);
    size_t pos = b.len, align = writer_alignment(w);
    free(b.p);
    for (size_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        st = tensor_bytes(t, buf + pos, "gguf writer", err);
        if (st != ONC_OK) {
            free(buf);
            return st;
        }
        size_t padded = (size_t)onc_gguf_pad(t->nbytes, align);
        memset(buf + pos + t->nbytes, 0, padded - t->nbytes);
        pos += padded;
    }
    ONC_ASSERT(pos == total);
    *out = buf;
    *out_size = (size_t)total;
    return ONC_OK;
}

static bool write_all(int fd, const void *p, size_t n) {
    const uint8_t *c = p;
    while (n > 0) {
        size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        ssize_t k = write(fd, c, chunk);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        c += k;
        n -= (size_t)k;
    }
    return true;
}

onc_status onc_gguf_writer_write(onc_gguf_writer *w, const char *path, onc_error *err) {
    ONC_ASSERT(w && path);
    bytes b = {0};
    uint64_t total;
    onc_status st = build_header(w, &b, &total, path, err);
    if (st != ONC_OK) {
        free(b.p);
        return st;
    }
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(b.p);
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        st = onc_error_set(err, ONC_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        free(b.p);
        return st;
    }
    size_t align = writer_alignment(w);
    void *scratch = NULL;
    size_t scratch_cap = 0;
    static const uint8_t zeros[256] = {0};
    if (!write_all(fd, b.p, b.len)) goto io_error;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        if (t->data) {
            if (!write_all(fd, t->data, t->nbytes)) goto io_error;
        } else {
            if (t->nbytes > scratch_cap) {
                void *q = realloc(scratch, t->nbytes ? t->nbytes : 1);
                if (!q) {
                    st = onc_error_set(err, ONC_ERR_NOMEM, "%s: tensor '%s': cannot allocate %zu bytes", path,
                                       t->name, t->nbytes);
                    goto fail;
                }
                scratch = q;
                scratch_cap = t->nbytes;
            }
            st = tensor_bytes(t, scratch, path, err);
            if (st != ONC_OK) goto fail;
            if (!write_all(fd, scratch, t->nbytes)) goto io_error;
        }
        size_t pad = (size_t)onc_gguf_pad(t->nbytes, align) - t->nbytes;
        while (pad > 0) {
            size_t n = pad < sizeof zeros ? pad : sizeof zeros;
            if (!write_all(fd, zeros, n)) goto io_error;
            pad -= n;
        }
    }
    if (fsync(fd) != 0) goto io_error;
    if (close(fd) != 0) {
        fd = -1;
        goto io_error;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = onc_error_set(err, ONC_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
        goto fail;
    }
    onc_sync_parent_dir(path);
    free(scratch);
    free(tmp);
    free(b.p);
    return ONC_OK;

io_error:
    st = onc_error_set(err, ONC_ERR_IO, "%s: write to %s failed: %s", path, tmp, strerror(errno));
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
    free(scratch);
    free(tmp);
    free(b.p);
    return st;
}
