/* gguf_reader.c — the validating, zero-copy GGUF reader (see oncolm/gguf.h).
 *
 * onc_gguf_open() maps the file read-only (mmap PROT_READ, MAP_PRIVATE);
 * onc_gguf_open_memory() reads a caller buffer. Either way the whole header,
 * every metadata value and the tensor table are validated before the handle
 * is returned, with overflow-safe arithmetic and every read bounds-checked
 * against the buffer size (multi-byte values are read with memcpy, so the
 * buffer may be unaligned). The rules follow llama.cpp's gguf.cpp, as listed
 * in shared/reference/gguf-and-llama-formats.md Q1:
 *   magic "GGUF" (byte-swapped files are detected and refused), version 2 or
 *   3, counts >= 0 and able to fit in the file, non-empty unique keys,
 *   strings <= 1 GiB, arrays <= 2^30 elements and never nested, value type
 *   ids < 13, general.alignment a u32 power of two, tensor names non-empty,
 *   < 64 bytes and unique, n_dims <= 4, dims >= 1 (empty tensors refused),
 *   no overflow in element/byte counts, known ggml type, ne[0] a multiple of
 *   the block size, offsets equal to the running sum of padded sizes, data
 *   section at pad(end of tensor infos) and every tensor inside the file.
 *
 * Keys and tensor names are copied once into one NUL-terminated name buffer
 * (embedded NUL bytes are refused so the C strings are faithful); string
 * values stay in the mapping and are returned as onc_str. Lookups by key and
 * by tensor name use open-addressing hash tables (FNV-1a).
 *
 * Not here: the writer (gguf_writer.c), tensor type conversions. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oncolm/utf8.h"
#include "gguf/gguf_internal.h"

// --- types ------------------------------------------------------------------

typedef struct kv_entry {
    const char *key;        /* NUL-terminated, into g->names (fixed up after parse) */
    size_t key_off;         /* offset of the key in g->names during parsing */
    size_t key_len;
    onc_gguf_type type;
    onc_gguf_type arr_type; /* element type for arrays */
    uint64_t n;             /* array length (arrays only) */
    size_t val_off;         /* file offset: scalar value, string bytes, or first element */
    size_t str_len;         /* string value length */
    size_t str_first;       /* arrays of strings: index of element 0 in g->str_offs */
} kv_entry;

typedef struct name_table {
    int64_t *slots; /* entry index or -1 */
    size_t mask;    /* capacity - 1 (capacity is a power of two) */
} name_table;

struct onc_gguf {
    char *path;              /* name given at open (owned copy) */
    const uint8_t *base;     /* start of the file bytes */
    size_t size;             /* file size */
    void *map;               /* mmap()ed region, NULL for open_memory */
    size_t map_size;
    uint32_t version;
    size_t alignment;
    size_t data_offset;
    int64_t n_kv;
    kv_entry *kvs;
    int64_t n_tensors;
    onc_gguf_tensor *tensors;
    size_t *tensor_name_off; /* name offsets in g->names during parsing */
    char *names;             /* all keys and tensor names, NUL-terminated */
    size_t names_len, names_cap;
    size_t *str_offs;        /* string-array elements: file offset of each length prefix */
    size_t n_str_offs, str_offs_cap;
    name_table kv_index, tensor_index;
};

/* Parsing cursor. `ctx` describes the item being read, for messages. */
typedef struct reader {
    const uint8_t *p;
    size_t size;
    size_t pos;
    const char *name;
    onc_error *err;
    char ctx[160];
} reader;

// --- messages ---------------------------------------------------------------

/* Set a format error "NAME: CTX: message". Always returns false. */
__attribute__((format(printf, 2, 3))) static bool rd_fail(reader *r, const char *fmt, ...) {
    char msg[ONC_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->ctx[0])
        onc_error_set(r->err, ONC_ERR_FORMAT, "%s: %s: %s", r->name, r->ctx, msg);
    else
        onc_error_set(r->err, ONC_ERR_FORMAT, "%s: %s", r->name, msg);
    return false;
}

__attribute__((format(printf, 2, 3))) static void rd_ctx(reader *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->ctx, sizeof r->ctx, fmt, ap);
    va_end(ap);
}

/* Write a short printable rendering of n bytes of s into out (for names in
 * messages). */
static const char *printable(const uint8_t *s, size_t n, char *out, size_t cap) {
    size_t o = 0, i = 0;
    for (; i < n && o + 8 < cap; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    if (i < n) memcpy(out + o, "...", 3), o += 3;
    out[o] = '\0';
    return out;
}

// --- bounds-checked reads ---------------------------------------------------

/* True when n more bytes are available; otherwise a "truncated" error. */
static bool rd_need(reader *r, uint64_t n, const char *what) {
    if (n > (uint64_t)(r->size - r->pos))
        return rd_fail(r, "file truncated: %s at byte %zu needs %" PRIu64 " bytes but the file has %zu bytes",
                       what, r->pos, n, r->size);
    return true;
}

static bool rd_u32(reader *r, uint32_t *v, const char *what) {
    if (!rd_need(r, 4, what)) return false;
    memcpy(v, r->p + r->pos, 4);
    r->pos += 4;
    return true;
}

static bool rd_u64(reader *r, uint64_t *v, const char *what) {
    if (!rd_need(r, 8, what)) return false;
    memcpy(v, r->p + r->pos, 8);
    r->pos += 8;
    return true;
}

/* Read a GGUF string header and check its bytes are in the file; returns the
 * offset of the bytes in *off and the length in *len, and skips them. */
static bool rd_string(reader *r, size_t *off, size_t *len, const char *what) {
    uint64_t n;
    size_t at = r->pos;
    char lw[96];
    snprintf(lw, sizeof lw, "%s length", what);
    if (!rd_u64(r, &n, lw)) return false;
    if (n > ONC_GGUF_MAX_STRING)
        return rd_fail(r, "%s at byte %zu has length %" PRIu64 ", over the 1 GiB limit", what, at, n);
    if (!rd_need(r, n, what)) return false;
    *off = r->pos;
    *len = (size_t)n;
    r->pos += (size_t)n;
    return true;
}

// --- name storage and hash tables ---------------------------------------------

/* Append n bytes + NUL to g->names; *off receives the start offset. */
static bool names_add(onc_gguf *g, const uint8_t *s, size_t n, size_t *off, onc_error *err) {
    if (g->names_len + n + 1 > g->names_cap) {
        size_t cap = g->names_cap ? g->names_cap : 256;
        while (cap < g->names_len + n + 1) cap *= 2;
        char *p = realloc(g->names, cap);
        if (!p) {
            onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory for names", g->path);
            return false;
        }
        g->names = p;
        g->names_cap = cap;
    }
    memcpy(g->names + g->names_len, s, n);
    g->names[g->names_len + n] = '\0';
    *off = g->names_len;
    g->names_len += n + 1;
    return true;
}

static bool table_init(name_table *t, int64_t n) {
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap *= 2;
    t->slots = malloc(cap * sizeof *t->slots);
    if (!t->slots) return false;
    for (size_t i = 0; i < cap; i++) t->slots[i] = -1;
    t->mask = cap - 1;
    return true;
}

/* Find `name` (len bytes) in table t whose entries have their names at
 * names + offs(i). Returns the slot index; slots[result] is -1 when absent. */
static size_t table_slot(const name_table *t, const char *names, const kv_entry *kvs,
                         const size_t *toffs, const char *name, size_t len) {
    size_t s = (size_t)onc_gguf_fnv1a(name, len) & t->mask;
    for (;;) {
        int64_t i = t->slots[s];
        if (i < 0) return s;
        const char *other = names + (kvs ? kvs[i].key_off : toffs[i]);
        if (strncmp(other, name, len) == 0 && other[len] == '\0') return s;
        s = (s + 1) & t->mask;
    }
}

// --- metadata -------------------------------------------------------------------

static bool valid_type(uint32_t t) { return t < ONC_GGUF_TYPE_COUNT; }

static bool has_nul(const uint8_t *s, size_t n) { return memchr(s, 0, n) != NULL; }

/* Read the value of kv entry e (type already read). */
static bool read_value(onc_gguf *g, reader *r, kv_entry *e) {
    if (e->type == ONC_GGUF_STRING) return rd_string(r, &e->val_off, &e->str_len, "string value");
    if (e->type != ONC_GGUF_ARRAY) {
        size_t sz = onc_gguf_type_size(e->type);
        if (!rd_need(r, sz, "value")) return false;
        e->val_off = r->pos;
        r->pos += sz;
        return true;
    }
    uint32_t et;
    size_t at = r->pos;
    if (!rd_u32(r, &et, "array element type")) return false;
    if (et == ONC_GGUF_ARRAY)
        return rd_fail(r, "nested arrays (element type ARRAY at byte %zu) are not supported", at);
    if (!valid_type(et)) return rd_fail(r, "invalid array element type id %" PRIu32 " at byte %zu", et, at);
    e->arr_type = (onc_gguf_type)et;
    uint64_t n;
    at = r->pos;
    if (!rd_u64(r, &n, "array length")) return false;
    if (n > ONC_GGUF_MAX_ARRAY)
        return rd_fail(r, "array length %" PRIu64 " at byte %zu is over the limit of 2^30 elements", n, at);
    e->n = n;
    e->val_off = r->pos;
    if (e->arr_type != ONC_GGUF_STRING) {
        uint64_t bytes = n * onc_gguf_type_size(e->arr_type); /* n <= 2^30, size <= 8 */
        if (bytes > (uint64_t)(r->size - r->pos))
            return rd_fail(r, "array of %" PRIu64 " %s at byte %zu needs %" PRIu64
                              " bytes but only %zu remain in the file (truncated)",
                           n, onc_gguf_type_name(e->arr_type), at, bytes, r->size - r->pos);
        r->pos += (size_t)bytes;
        return true;
    }
    /* Each string needs at least its 8-byte length. */
    if (n > (uint64_t)(r->size - r->pos) / 8)
        return rd_fail(r, "array of %" PRIu64 " strings at byte %zu cannot fit in the %zu bytes left (truncated)",
                       n, at, r->size - r->pos);
    if (g->n_str_offs + n > g->str_offs_cap) {
        size_t cap = g->str_offs_cap ? g->str_offs_cap : 64;
        while (cap < g->n_str_offs + n) cap *= 2;
        size_t *p = realloc(g->str_offs, cap * sizeof *p);
        if (!p) {
            onc_error_set(r->err, ONC_ERR_NOMEM, "%s: out of memory for a string array", r->name);
            return false;
        }
        g->str_offs = p;
        g->str_offs_cap = cap;
    }
    e->str_first = g->n_str_offs;
    for (uint64_t j = 0; j < n; j++) {
        size_t off, len;
        size_t lenpos = r->pos;
        char what[64];
        snprintf(what, sizeof what, "string element %" PRIu64, j);
        if (!rd_string(r, &off, &len, what)) return false;
        g->str_offs[g->n_str_offs++] = lenpos;
    }
    return true;
}

static bool read_kvs(onc_gguf *g, reader *r) {
    for (int64_t i = 0; i < g->n_kv; i++) {
        kv_entry *e = &g->kvs[i];
        rd_ctx(r, "metadata entry %" PRId64, i);
        size_t koff, klen, at = r->pos;
        if (!rd_string(r, &koff, &klen, "key")) return false;
        char pk[100];
        if (klen == 0) return rd_fail(r, "empty key at byte %zu", at);
        if (has_nul(r->p + koff, klen))
            return rd_fail(r, "key '%s' at byte %zu contains a NUL byte", printable(r->p + koff, klen, pk, sizeof pk), at);
        rd_ctx(r, "metadata entry %" PRId64 " ('%s')", i, printable(r->p + koff, klen, pk, sizeof pk));
        size_t slot = table_slot(&g->kv_index, g->names, g->kvs, NULL, (const char *)r->p + koff, klen);
        if (g->kv_index.slots[slot] >= 0)
            return rd_fail(r, "duplicate key (also metadata entry %" PRId64 ")", g->kv_index.slots[slot]);
        if (!names_add(g, r->p + koff, klen, &e->key_off, r->err)) return false;
        e->key_len = klen;
        g->kv_index.slots[slot] = i;
        uint32_t t;
        at = r->pos;
        if (!rd_u32(r, &t, "value type")) return false;
        if (!valid_type(t)) return rd_fail(r, "invalid value type id %" PRIu32 " at byte %zu", t, at);
        e->type = (onc_gguf_type)t;
        if (!read_value(g, r, e)) return false;
    }
    r->ctx[0] = '\0';
    return true;
}

/* general.alignment: UINT32, non-zero power of two; default 32. */
static bool read_alignment(onc_gguf *g, reader *r) {
    g->alignment = ONC_GGUF_DEFAULT_ALIGNMENT;
    size_t slot = table_slot(&g->kv_index, g->names, g->kvs, NULL, ONC_GGUF_ALIGNMENT_KEY,
                             strlen(ONC_GGUF_ALIGNMENT_KEY));
    int64_t i = g->kv_index.slots[slot];
    if (i < 0) return true;
    const kv_entry *e = &g->kvs[i];
    if (e->type != ONC_GGUF_UINT32)
        return rd_fail(r, "general.alignment has type %s, it must be u32", onc_gguf_type_name(e->type));
    uint32_t a;
    memcpy(&a, g->base + e->val_off, 4);
    if (!onc_gguf_is_pow2(a)) return rd_fail(r, "general.alignment = %" PRIu32 " is not a power of two", a);
    g->alignment = a;
    return true;
}

// --- tensor table --------------------------------------------------------------------

static bool read_tensor_infos(onc_gguf *g, reader *r) {
    uint64_t expected = 0; /* running sum of padded sizes */
    for (int64_t i = 0; i < g->n_tensors; i++) {
        onc_gguf_tensor *t = &g->tensors[i];
        rd_ctx(r, "tensor %" PRId64, i);
        size_t noff, nlen, at = r->pos;
        if (!rd_string(r, &noff, &nlen, "tensor name")) return false;
        char pn[100];
        const uint8_t *nm = r->p + noff;
        if (nlen == 0) return rd_fail(r, "empty tensor name at byte %zu", at);
        if (nlen >= ONC_GGUF_MAX_NAME)
            return rd_fail(r, "name '%s' at byte %zu is %zu bytes long, it must be shorter than %d",
                           printable(nm, nlen, pn, sizeof pn), at, nlen, ONC_GGUF_MAX_NAME);
        if (has_nul(nm, nlen))
            return rd_fail(r, "name '%s' at byte %zu contains a NUL byte", printable(nm, nlen, pn, sizeof pn), at);
        rd_ctx(r, "tensor %" PRId64 " ('%s')", i, printable(nm, nlen, pn, sizeof pn));
        size_t slot = table_slot(&g->tensor_index, g->names, NULL, g->tensor_name_off, (const char *)nm, nlen);
        if (g->tensor_index.slots[slot] >= 0)
            return rd_fail(r, "duplicate tensor name (also tensor %" PRId64 ")", g->tensor_index.slots[slot]);
        if (!names_add(g, nm, nlen, &g->tensor_name_off[i], r->err)) return false;
        g->tensor_index.slots[slot] = i;

        uint32_t n_dims;
        at = r->pos;
        if (!rd_u32(r, &n_dims, "n_dims")) return false;
        if (n_dims > ONC_GGUF_MAX_DIMS)
            return rd_fail(r, "n_dims = %" PRIu32 " at byte %zu, at most %d are supported", n_dims, at,
                           ONC_GGUF_MAX_DIMS);
        t->n_dims = n_dims ? n_dims : 1;
        int64_t nelem = 1;
        for (int d = 0; d < ONC_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < n_dims; d++) {
            uint64_t v;
            at = r->pos;
            if (!rd_u64(r, &v, "dimension")) return false;
            if (v > (uint64_t)INT64_MAX)
                return rd_fail(r, "dimension %" PRIu32 " at byte %zu is negative (%" PRId64 ")", d, at, (int64_t)v);
            if (v == 0)
                return rd_fail(r, "dimension %" PRIu32 " at byte %zu is 0 (empty tensors are not supported)", d, at);
            t->ne[d] = (int64_t)v;
            if (__builtin_mul_overflow(nelem, t->ne[d], &nelem))
                return rd_fail(r, "element count overflows 64 bits (dimension %" PRIu32 " = %" PRId64 ")", d,
                               t->ne[d]);
        }
        uint32_t type;
        at = r->pos;
        if (!rd_u32(r, &type, "tensor type")) return false;
        const onc_type_traits *tr = onc_type_traits_of((onc_type)type);
        if ((int32_t)type < 0 || tr->name == NULL || tr->memory_only)
            return rd_fail(r, "unknown tensor type id %" PRId32 " at byte %zu", (int32_t)type, at);
        t->type = (onc_type)type;
        if (t->ne[0] % tr->block_size != 0)
            return rd_fail(r, "ne[0] = %" PRId64 " is not a multiple of the block size %" PRId64 " of type %s",
                           t->ne[0], tr->block_size, tr->name);
        uint64_t nbytes;
        if (!onc_gguf_tensor_nbytes(t->type, t->ne, &nbytes))
            return rd_fail(r, "byte size of a %s tensor of %" PRId64 " elements overflows", tr->name, nelem);
        t->nbytes = (size_t)nbytes;
        at = r->pos;
        if (!rd_u64(r, &t->offset, "tensor data offset")) return false;
        if (t->offset % g->alignment != 0)
            return rd_fail(r, "data offset %" PRIu64 " (at byte %zu) is not a multiple of the alignment %zu",
                           t->offset, at, g->alignment);
        if (t->offset != expected)
            return rd_fail(r, "tensor has offset %" PRIu64 ", expected %" PRIu64
                              " (tensors must be contiguous in table order, each padded to %zu bytes)",
                           t->offset, expected, g->alignment);
        if (nbytes > r->size)
            return rd_fail(r, "data needs %" PRIu64 " bytes but the file has %zu bytes", nbytes, r->size);
        uint64_t padded = onc_gguf_pad(nbytes, g->alignment);
        if (__builtin_add_overflow(expected, padded, &expected))
            return rd_fail(r, "data section size overflows");
    }
    r->ctx[0] = '\0';
    return true;
}

/* Data section start and each tensor's bytes inside the file. */
static bool place_tensors(onc_gguf *g, reader *r) {
    uint64_t start = onc_gguf_pad(r->pos, g->alignment); /* pos <= size, alignment <= 2^31 */
    g->data_offset = (size_t)start;
    if (g->n_tensors == 0) return true;
    if (start > r->size)
        return rd_fail(r, "tensor data section would start at byte %" PRIu64
                          " (end of tensor infos %zu padded to %zu) but the file has %zu bytes",
                       start, r->pos, g->alignment, r->size);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        onc_gguf_tensor *t = &g->tensors[i];
        uint64_t begin = start + t->offset, end; /* offset <= running sum, checked */
        if (__builtin_add_overflow(begin, (uint64_t)t->nbytes, &end)) end = UINT64_MAX;
        if (end > r->size) {
            char pn[100];
            const char *nm = g->names + g->tensor_name_off[i];
            return rd_fail(r, "tensor %" PRId64 " ('%s'): data ends at byte %" PRIu64 " but the file has %zu bytes",
                           i, printable((const uint8_t *)nm, strlen(nm), pn, sizeof pn), end, r->size);
        }
        t->data = g->base + begin;
    }
    return true;
}

// --- open / close ------------------------------------------------------------

/* Upper bound on how many items of at least `min_bytes` fit in the rest. */
static bool count_fits(const reader *r, int64_t n, size_t min_bytes) {
    return (uint64_t)n <= (uint64_t)(r->size - r->pos) / min_bytes;
}

static bool parse(onc_gguf *g, onc_error *err) {
    reader rr = {.p = g->base, .size = g->size, .pos = 0, .name = g->path, .err = err, .ctx = ""};
    reader *r = &rr;
    if (g->size < 4) return rd_fail(r, "file is too small to be a GGUF file (%zu bytes)", g->size);
    if (memcmp(g->base, "GGUF", 4) != 0) {
        if (memcmp(g->base, "FUGG", 4) == 0)
            return rd_fail(r, "magic is byte-swapped ('FUGG'): big-endian GGUF files are not supported");
        char pm[32];
        return rd_fail(r, "bad magic '%s' (expected 'GGUF'): not a GGUF file", printable(g->base, 4, pm, sizeof pm));
    }
    r->pos = 4;
    uint32_t version;
    if (!rd_u32(r, &version, "version")) return false;
    if (version != 0 && (version & 0xFFFFu) == 0)
        return rd_fail(r, "version field 0x%08" PRIx32 " looks byte-swapped: big-endian GGUF files are not supported",
                       version);
    if (version == 1) return rd_fail(r, "GGUF version 1 is not supported (only versions 2 and 3)");
    if (version == 0 || version > 3)
        return rd_fail(r, "unsupported GGUF version %" PRIu32 " (only versions 2 and 3 are supported)", version);
    g->version = version;
    uint64_t nt, nk;
    if (!rd_u64(r, &nt, "tensor count") || !rd_u64(r, &nk, "metadata count")) return false;
    if ((int64_t)nt < 0) return rd_fail(r, "tensor count %" PRId64 " is negative", (int64_t)nt);
    if ((int64_t)nk < 0) return rd_fail(r, "metadata count %" PRId64 " is negative", (int64_t)nk);
    /* A kv needs >= 8+1+4+1 bytes, a tensor info >= 8+1+4+4+8. */
    if (!count_fits(r, (int64_t)nk, 14))
        return rd_fail(r, "metadata count %" PRIu64 " cannot fit in a file of %zu bytes", nk, g->size);
    if (!count_fits(r, (int64_t)nt, 25))
        return rd_fail(r, "tensor count %" PRIu64 " cannot fit in a file of %zu bytes", nt, g->size);
    g->n_kv = (int64_t)nk;
    g->n_tensors = (int64_t)nt;
    g->kvs = calloc(nk ? nk : 1, sizeof *g->kvs);
    g->tensors = calloc(nt ? nt : 1, sizeof *g->tensors);
    g->tensor_name_off = calloc(nt ? nt : 1, sizeof *g->tensor_name_off);
    if (!g->kvs || !g->tensors || !g->tensor_name_off || !table_init(&g->kv_index, g->n_kv) ||
        !table_init(&g->tensor_index, g->n_tensors)) {
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory for the metadata tables", g->path);
        return false;
    }
    if (!read_kvs(g, r) || !read_alignment(g, r) || !read_tensor_infos(g, r) || !place_tensors(g, r)) return false;
    /* Fix up name pointers now that the name buffer no longer moves. */
    for (int64_t i = 0; i < g->n_kv; i++) g->kvs[i].key = g->names + g->kvs[i].key_off;
    for (int64_t i = 0; i < g->n_tensors; i++) g->tensors[i].name = g->names + g->tensor_name_off[i];
    return true;
}

static onc_gguf *gguf_new(const char *name, onc_error *err) {
    onc_gguf *g = calloc(1, sizeof *g);
    if (g) g->path = strdup(name ? name : "(memory)");
    if (!g || !g->path) {
        free(g);
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name ? name : "(memory)");
        return NULL;
    }
    return g;
}

onc_gguf *onc_gguf_open_memory(const void *data, size_t size, const char *name, onc_error *err) {
    onc_gguf *g = gguf_new(name, err);
    if (!g) return NULL;
    g->base = data;
    g->size = size;
    if (size > 0 && data == NULL) {
        onc_error_set(err, ONC_ERR_INVALID, "%s: NULL buffer", g->path);
        onc_gguf_close(g);
        return NULL;
    }
    if (!parse(g, err)) {
        onc_gguf_close(g);
        return NULL;
    }
    return g;
}

onc_gguf *onc_gguf_open(const char *path, onc_error *err) {
    ONC_ASSERT(path != NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        onc_error_set(err, ONC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        onc_error_set(err, ONC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        onc_error_set(err, ONC_ERR_IO, "%s: is a directory, not a GGUF file", path);
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        onc_error_set(err, ONC_ERR_IO, "%s: is not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_size == 0) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: file is empty (0 bytes), not a GGUF file", path);
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
        onc_error_set(err, ONC_ERR_IO, "%s: file too large to map", path);
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) {
        onc_error_set(err, ONC_ERR_IO, "%s: cannot mmap %zu bytes: %s", path, size, strerror(map_errno));
        return NULL;
    }
    onc_gguf *g = gguf_new(path, err);
    if (!g) {
        munmap(map, size);
        return NULL;
    }
    g->map = map;
    g->map_size = size;
    g->base = map;
    g->size = size;
    if (!parse(g, err)) {
        onc_gguf_close(g);
        return NULL;
    }
    return g;
}

void onc_gguf_close(onc_gguf *g) {
    if (!g) return;
    if (g->map) munmap(g->map, g->map_size);
    free(g->kvs);
    free(g->tensors);
    free(g->tensor_name_off);
    free(g->names);
    free(g->str_offs);
    free(g->kv_index.slots);
    free(g->tensor_index.slots);
    free(g->path);
    free(g);
}

void onc_gguf_release_range(const onc_gguf *g, const void *p, size_t n) {
    if (!g || !g->map || !p || n == 0) return;
    const uintptr_t lo = (uintptr_t)g->map, hi = lo + g->map_size, a = (uintptr_t)p;
    if (a < lo || a > hi || n > hi - a) return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t s = (a + page - 1) & ~(page - 1), e = (a + n) & ~(page - 1);
    if (e > s) (void)madvise((void *)s, e - s, MADV_DONTNEED); /* private, never written: pages re-read */
}

// --- simple accessors ------------------------------------------------------------

const char *onc_gguf_type_name(onc_gguf_type t) {
    static const char *const names[ONC_GGUF_TYPE_COUNT] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                                           "bool", "string", "array", "u64", "i64", "f64"};
    return (unsigned)t < ONC_GGUF_TYPE_COUNT ? names[t] : "invalid";
}

size_t onc_gguf_type_size(onc_gguf_type t) {
    static const size_t sizes[ONC_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return (unsigned)t < ONC_GGUF_TYPE_COUNT ? sizes[t] : 0;
}

const char *onc_gguf_path(const onc_gguf *g) { return g->path; }
uint32_t onc_gguf_version(const onc_gguf *g) { return g->version; }
size_t onc_gguf_alignment(const onc_gguf *g) { return g->alignment; }
size_t onc_gguf_data_offset(const onc_gguf *g) { return g->data_offset; }
size_t onc_gguf_file_size(const onc_gguf *g) { return g->size; }
int64_t onc_gguf_n_kv(const onc_gguf *g) { return g->n_kv; }
int64_t onc_gguf_n_tensors(const onc_gguf *g) { return g->n_tensors; }

int64_t onc_gguf_find_key(const onc_gguf *g, const char *key) {
    if (!key || g->n_kv == 0) return -1;
    return g->kv_index.slots[table_slot(&g->kv_index, g->names, g->kvs, NULL, key, strlen(key))];
}

static const kv_entry *kv_at(const onc_gguf *g, int64_t i) {
    ONC_ASSERT(i >= 0 && i < g->n_kv);
    return &g->kvs[i];
}

const char *onc_gguf_key(const onc_gguf *g, int64_t i) { return kv_at(g, i)->key; }
onc_gguf_type onc_gguf_kv_type(const onc_gguf *g, int64_t i) { return kv_at(g, i)->type; }

/* Pointer to the scalar value of entry i after asserting its type. */
static const uint8_t *scalar(const onc_gguf *g, int64_t i, onc_gguf_type t) {
    const kv_entry *e = kv_at(g, i);
    ONC_ASSERT(e->type == t);
    return g->base + e->val_off;
}

#define SCALAR_GETTER(fn, ctype, gt)                              \
    ctype fn(const onc_gguf *g, int64_t i) {                      \
        ctype v;                                                  \
        memcpy(&v, scalar(g, i, gt), sizeof v);                   \
        return v;                                                 \
    }
SCALAR_GETTER(onc_gguf_val_u8, uint8_t, ONC_GGUF_UINT8)
SCALAR_GETTER(onc_gguf_val_i8, int8_t, ONC_GGUF_INT8)
SCALAR_GETTER(onc_gguf_val_u16, uint16_t, ONC_GGUF_UINT16)
SCALAR_GETTER(onc_gguf_val_i16, int16_t, ONC_GGUF_INT16)
SCALAR_GETTER(onc_gguf_val_u32, uint32_t, ONC_GGUF_UINT32)
SCALAR_GETTER(onc_gguf_val_i32, int32_t, ONC_GGUF_INT32)
SCALAR_GETTER(onc_gguf_val_u64, uint64_t, ONC_GGUF_UINT64)
SCALAR_GETTER(onc_gguf_val_i64, int64_t, ONC_GGUF_INT64)
SCALAR_GETTER(onc_gguf_val_f32, float, ONC_GGUF_FLOAT32)
SCALAR_GETTER(onc_gguf_val_f64, double, ONC_GGUF_FLOAT64)
#undef SCALAR_GETTER

bool onc_gguf_val_bool(const onc_gguf *g, int64_t i) { return *scalar(g, i, ONC_GGUF_BOOL) != 0; }

onc_str onc_gguf_val_str(const onc_gguf *g, int64_t i) {
    const kv_entry *e = kv_at(g, i);
    ONC_ASSERT(e->type == ONC_GGUF_STRING);
    return (onc_str){(const char *)g->base + e->val_off, e->str_len};
}

static const kv_entry *arr_at(const onc_gguf *g, int64_t i) {
    const kv_entry *e = kv_at(g, i);
    ONC_ASSERT(e->type == ONC_GGUF_ARRAY);
    return e;
}

onc_gguf_type onc_gguf_arr_type(const onc_gguf *g, int64_t i) { return arr_at(g, i)->arr_type; }
uint64_t onc_gguf_arr_n(const onc_gguf *g, int64_t i) { return arr_at(g, i)->n; }

const void *onc_gguf_arr_data(const onc_gguf *g, int64_t i) {
    const kv_entry *e = arr_at(g, i);
    ONC_ASSERT(e->arr_type != ONC_GGUF_STRING);
    return g->base + e->val_off;
}

onc_str onc_gguf_arr_str(const onc_gguf *g, int64_t i, uint64_t j) {
    const kv_entry *e = arr_at(g, i);
    ONC_ASSERT(e->arr_type == ONC_GGUF_STRING && j < e->n);
    size_t at = g->str_offs[e->str_first + j];
    uint64_t len;
    memcpy(&len, g->base + at, 8);
    return (onc_str){(const char *)g->base + at + 8, (size_t)len};
}

const onc_gguf_tensor *onc_gguf_tensor_at(const onc_gguf *g, int64_t i) {
    ONC_ASSERT(i >= 0 && i < g->n_tensors);
    return &g->tensors[i];
}

const onc_gguf_tensor *onc_gguf_find_tensor(const onc_gguf *g, const char *name) {
    if (!name || g->n_tensors == 0) return NULL;
    int64_t i = g->tensor_index.slots[table_slot(&g->tensor_index, g->names, NULL, g->tensor_name_off, name,
                                                 strlen(name))];
    return i < 0 ? NULL : &g->tensors[i];
}

// --- checked getters ------------------------------------------------------------

/* Integer value of a scalar integer/bool entry: signed in *s or unsigned in
 * *u (*is_signed tells which). False when not an integer type. */
static bool int_value(const onc_gguf *g, int64_t i, int64_t *s, uint64_t *u, bool *is_signed) {
    const kv_entry *e = &g->kvs[i];
    const uint8_t *p = g->base + e->val_off;
    *is_signed = false;
    switch (e->type) {
    case ONC_GGUF_UINT8: case ONC_GGUF_BOOL: { uint8_t v; memcpy(&v, p, 1); *u = v; return true; }
    case ONC_GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); *u = v; return true; }
    case ONC_GGUF_UINT32: { uint32_t v; memcpy(&v, p, 4); *u = v; return true; }
    case ONC_GGUF_UINT64: { uint64_t v; memcpy(&v, p, 8); *u = v; return true; }
    case ONC_GGUF_INT8: { int8_t v; memcpy(&v, p, 1); *s = v; break; }
    case ONC_GGUF_INT16: { int16_t v; memcpy(&v, p, 2); *s = v; break; }
    case ONC_GGUF_INT32: { int32_t v; memcpy(&v, p, 4); *s = v; break; }
    case ONC_GGUF_INT64: { int64_t v; memcpy(&v, p, 8); *s = v; break; }
    default: return false;
    }
    *is_signed = true;
    return true;
}

static onc_status wrong_type(const onc_gguf *g, int64_t i, const char *want, onc_error *err) {
    return onc_error_set(err, ONC_ERR_FORMAT, "%s: key '%s' has type %s, expected %s", g->path, g->kvs[i].key,
                         onc_gguf_type_name(g->kvs[i].type), want);
}

onc_status onc_gguf_get_u32(const onc_gguf *g, const char *key, uint32_t *out, onc_error *err) {
    int64_t i = onc_gguf_find_key(g, key);
    if (i < 0) return ONC_ERR_NOT_FOUND;
    int64_t s = 0;
    uint64_t u = 0;
    bool sg;
    if (!int_value(g, i, &s, &u, &sg)) return wrong_type(g, i, "an integer", err);
    if (sg ? (s < 0 || s > (int64_t)UINT32_MAX) : u > UINT32_MAX)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: key '%s' = %s%" PRIu64 " does not fit in u32", g->path, key,
                             sg && s < 0 ? "-" : "", sg ? (s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s) : u);
    *out = sg ? (uint32_t)s : (uint32_t)u;
    return ONC_OK;
}

onc_status onc_gguf_get_i64(const onc_gguf *g, const char *key, int64_t *out, onc_error *err) {
    int64_t i = onc_gguf_find_key(g, key);
    if (i < 0) return ONC_ERR_NOT_FOUND;
    int64_t s = 0;
    uint64_t u = 0;
    bool sg;
    if (!int_value(g, i, &s, &u, &sg)) return wrong_type(g, i, "an integer", err);
    if (!sg && u > (uint64_t)INT64_MAX)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: key '%s' = %" PRIu64 " does not fit in i64", g->path, key, u);
    *out = sg ? s : (int64_t)u;
    return ONC_OK;
}

onc_status onc_gguf_get_f32(const onc_gguf *g, const char *key, float *out, onc_error *err) {
    int64_t i = onc_gguf_find_key(g, key);
    if (i < 0) return ONC_ERR_NOT_FOUND;
    if (g->kvs[i].type == ONC_GGUF_FLOAT32) {
        *out = onc_gguf_val_f32(g, i);
        return ONC_OK;
    }
    if (g->kvs[i].type != ONC_GGUF_FLOAT64) return wrong_type(g, i, "f32 or f64", err);
    double d = onc_gguf_val_f64(g, i);
    if (d == d && (d > 3.4028234663852886e38 || d < -3.4028234663852886e38) && d - d == 0)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: key '%s' = %g does not fit in f32", g->path, key, d);
    *out = (float)d;
    return ONC_OK;
}

onc_status onc_gguf_get_bool(const onc_gguf *g, const char *key, bool *out, onc_error *err) {
    int64_t i = onc_gguf_find_key(g, key);
    if (i < 0) return ONC_ERR_NOT_FOUND;
    if (g->kvs[i].type != ONC_GGUF_BOOL) return wrong_type(g, i, "bool", err);
    *out = onc_gguf_val_bool(g, i);
    return ONC_OK;
}

onc_status onc_gguf_get_str(const onc_gguf *g, const char *key, onc_str *out, onc_error *err) {
    int64_t i = onc_gguf_find_key(g, key);
    if (i < 0) return ONC_ERR_NOT_FOUND;
    if (g->kvs[i].type != ONC_GGUF_STRING) return wrong_type(g, i, "string", err);
    *out = onc_gguf_val_str(g, i);
    return ONC_OK;
}

// --- display --------------------------------------------------------------------

typedef struct sbuf {
    char *buf;
    size_t cap, len; /* len may exceed cap-1: output is truncated then */
} sbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->len + 1 >= b->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len += (size_t)n;
    if (b->len >= b->cap) b->len = b->cap - 1;
}


/* Quoted string with C-style escapes; valid UTF-8 is kept as is. */
static void sb_quoted(sbuf *b, onc_str s) {
    const uint8_t *p = (const uint8_t *)s.ptr;
    sb_printf(b, "\"");
    for (size_t i = 0; i < s.len && b->len + 1 < b->cap;) {
        uint8_t c = p[i];
        size_t k;
        if (c == '"' || c == '\\') sb_printf(b, "\\%c", c), i++;
        else if (c == '\n') sb_printf(b, "\\n"), i++;
        else if (c == '\t') sb_printf(b, "\\t"), i++;
        else if (c == '\r') sb_printf(b, "\\r"), i++;
        else if (c >= 0x20 && c < 0x7f) sb_printf(b, "%c", c), i++;
        else if (c >= 0x80 && (k = onc_utf8_seq_len(p + i, s.len - i)) > 0) {
            sb_printf(b, "%.*s", (int)k, (const char *)p + i);
            i += k;
        } else sb_printf(b, "\\x%02x", c), i++;
    }
    sb_printf(b, "\"");
}

/* Shortest of %.{lo..hi}g that reads back to the same value (exact round
 * trip at hi), so 1e-5f prints as 1e-05 rather than 9.99999975e-06. */
static void sb_float(sbuf *b, double v, int lo, int hi, bool is_f32) {
    char tmp[64];
    for (int p = lo; p <= hi; p++) {
        snprintf(tmp, sizeof tmp, "%.*g", p, v);
        if (p == hi || (is_f32 ? (double)strtof(tmp, NULL) == v : strtod(tmp, NULL) == v)) break;
    }
    sb_printf(b, "%s", tmp);
}

/* One element of type t at p. */
static void sb_elem(sbuf *b, onc_gguf_type t, const uint8_t *p) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; uint64_t u64;
            int64_t i64; float f32; double f64; } v;
    memcpy(&v, p, onc_gguf_type_size(t));
    switch (t) {
    case ONC_GGUF_UINT8: sb_printf(b, "%u", v.u8); break;
    case ONC_GGUF_INT8: sb_printf(b, "%d", v.i8); break;
    case ONC_GGUF_UINT16: sb_printf(b, "%u", v.u16); break;
    case ONC_GGUF_INT16: sb_printf(b, "%d", v.i16); break;
    case ONC_GGUF_UINT32: sb_printf(b, "%" PRIu32, v.u32); break;
    case ONC_GGUF_INT32: sb_printf(b, "%" PRId32, v.i32); break;
    case ONC_GGUF_UINT64: sb_printf(b, "%" PRIu64, v.u64); break;
    case ONC_GGUF_INT64: sb_printf(b, "%" PRId64, v.i64); break;
    case ONC_GGUF_FLOAT32: sb_float(b, v.f32, 6, 9, true); break;
    case ONC_GGUF_FLOAT64: sb_float(b, v.f64, 15, 17, false); break;
    case ONC_GGUF_BOOL: sb_printf(b, "%s", v.u8 ? "true" : "false"); break;
    default: sb_printf(b, "?"); break;
    }
}

char *onc_gguf_kv_to_string(const onc_gguf *g, int64_t i, char *buf, size_t cap, size_t max_elems) {
    if (!buf || cap == 0) return buf;
    buf[0] = '\0';
    const kv_entry *e = kv_at(g, i);
    sbuf b = {buf, cap, 0};
    if (e->type == ONC_GGUF_STRING) {
        sb_quoted(&b, onc_gguf_val_str(g, i));
    } else if (e->type != ONC_GGUF_ARRAY) {
        sb_elem(&b, e->type, g->base + e->val_off);
    } else {
        sb_printf(&b, "[%s x %" PRIu64 "]", onc_gguf_type_name(e->arr_type), e->n);
        uint64_t show = e->n < max_elems ? e->n : max_elems;
        if (show > 0) sb_printf(&b, " [");
        for (uint64_t j = 0; j < show && b.len + 1 < b.cap; j++) {
            if (j) sb_printf(&b, ", ");
            if (e->arr_type == ONC_GGUF_STRING)
                sb_quoted(&b, onc_gguf_arr_str(g, i, j));
            else
                sb_elem(&b, e->arr_type, g->base + e->val_off + j * onc_gguf_type_size(e->arr_type));
        }
        if (show > 0) sb_printf(&b, "%s]", show < e->n ? ", ..." : "");
    }
    return buf;
}
