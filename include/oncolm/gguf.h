/* oncolm/gguf.h — GGUF v3 (and v2) model files: a validating, zero-copy
 * reader over mmap and a writer that produces files llama.cpp loads.
 *
 * Format facts: shared/reference/gguf-and-llama-formats.md (Q1, Q2).
 *
 * Reader contract: onc_gguf_open() validates the whole header, every metadata
 * value and the tensor table before returning — magic, version, counts, string
 * and array lengths, value types, tensor dims/types/offsets/alignment, sizes
 * against the file size, integer overflow. After a successful open, every
 * accessor below is memory-safe for any index in range. A malformed file gives
 * NULL and one message naming the file and the problem.
 *
 * Strings inside the file are not NUL-terminated: they are returned as
 * onc_str (pointer + length) pointing into the mapping (zero copy). Key and
 * tensor names are also available NUL-terminated for convenience.
 *
 * Thread-safety: an open onc_gguf is immutable; all accessors may be called
 * from any number of threads at once. A writer is single-threaded. */
#ifndef ONCOLM_GGUF_H
#define ONCOLM_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"
#include "oncolm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ONC_GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define ONC_GGUF_VERSION 3
#define ONC_GGUF_DEFAULT_ALIGNMENT 32
#define ONC_GGUF_MAX_DIMS 4
#define ONC_GGUF_MAX_NAME 64 /* tensor names must be shorter (llama.cpp) */

/* Metadata value types, numbered as in the file. */
typedef enum onc_gguf_type {
    ONC_GGUF_UINT8 = 0,
    ONC_GGUF_INT8 = 1,
    ONC_GGUF_UINT16 = 2,
    ONC_GGUF_INT16 = 3,
    ONC_GGUF_UINT32 = 4,
    ONC_GGUF_INT32 = 5,
    ONC_GGUF_FLOAT32 = 6,
    ONC_GGUF_BOOL = 7,
    ONC_GGUF_STRING = 8,
    ONC_GGUF_ARRAY = 9,
    ONC_GGUF_UINT64 = 10,
    ONC_GGUF_INT64 = 11,
    ONC_GGUF_FLOAT64 = 12,
    ONC_GGUF_TYPE_COUNT = 13,
} onc_gguf_type;

/* A byte string that is not necessarily NUL-terminated. */
typedef struct onc_str {
    const char *ptr;
    size_t len;
} onc_str;

/* Name of a metadata type ("u32", "string", ...). Never NULL. */
const char *onc_gguf_type_name(onc_gguf_type t);
/* Size in bytes of a fixed-size metadata type; 0 for STRING and ARRAY. */
size_t onc_gguf_type_size(onc_gguf_type t);

/* --------------------------------------------------------------------------
 * Reader
 * ------------------------------------------------------------------------ */

typedef struct onc_gguf onc_gguf; /* opaque, immutable after open */

/* One entry of the tensor table. All fields are validated: n_dims <= 4,
 * ne[i] >= 1 (missing dims are 1), ne[0] a multiple of the type's block size,
 * data + nbytes inside the file, offset aligned. */
typedef struct onc_gguf_tensor {
    const char *name;               /* NUL-terminated, owned by the onc_gguf */
    uint32_t n_dims;                /* 1..4; a stored 0 (scalar) reads as 1, ne[0] = 1 */
    int64_t ne[ONC_GGUF_MAX_DIMS];  /* ggml order: ne[0] is the contiguous dim */
    onc_type type;                  /* tensor element / block type */
    uint64_t offset;                /* relative to the data section */
    size_t nbytes;                  /* exact byte size of the data */
    const void *data;               /* points into the mapping (zero copy) */
} onc_gguf_tensor;

/* Open and validate a GGUF file via mmap. Returns NULL on any problem, with
 * err naming `path` and the problem. Caller closes with onc_gguf_close(). */
onc_gguf *onc_gguf_open(const char *path, onc_error *err);

/* Same over a caller-owned buffer (not copied; must outlive the handle).
 * `name` is used in error messages. Used by the fuzzer and tests. */
onc_gguf *onc_gguf_open_memory(const void *data, size_t size, const char *name, onc_error *err);

/* Release the mapping and all tables. Accepts NULL. */
void onc_gguf_close(onc_gguf *g);
/* Let the OS drop the mapped pages wholly inside [p, p + n) (a range of
 * tensor data this process has copied elsewhere) from this process's
 * resident memory; they stay readable, re-read from the file if touched.
 * No-op for onc_gguf_open_memory and for ranges outside the mapping. */
void onc_gguf_release_range(const onc_gguf *g, const void *p, size_t n);

const char *onc_gguf_path(const onc_gguf *g);   /* file name given at open */
uint32_t onc_gguf_version(const onc_gguf *g);
size_t onc_gguf_alignment(const onc_gguf *g);
size_t onc_gguf_data_offset(const onc_gguf *g); /* file offset of tensor data */
size_t onc_gguf_file_size(const onc_gguf *g);

/* --- metadata: keys are indexed 0..n_kv-1 in file order --- */
int64_t onc_gguf_n_kv(const onc_gguf *g);
/* Index of `key`, or -1 when absent. O(1) average (hash table). */
int64_t onc_gguf_find_key(const onc_gguf *g, const char *key);
const char *onc_gguf_key(const onc_gguf *g, int64_t i); /* NUL-terminated */
onc_gguf_type onc_gguf_kv_type(const onc_gguf *g, int64_t i);

/* Scalar getters. The stored type must match exactly (as llama.cpp
 * requires); violating that is a programmer error (ONC_ASSERT). Use the
 * onc_gguf_get_* helpers below for checked, convenient access. */
uint8_t onc_gguf_val_u8(const onc_gguf *g, int64_t i);
int8_t onc_gguf_val_i8(const onc_gguf *g, int64_t i);
uint16_t onc_gguf_val_u16(const onc_gguf *g, int64_t i);
int16_t onc_gguf_val_i16(const onc_gguf *g, int64_t i);
uint32_t onc_gguf_val_u32(const onc_gguf *g, int64_t i);
int32_t onc_gguf_val_i32(const onc_gguf *g, int64_t i);
uint64_t onc_gguf_val_u64(const onc_gguf *g, int64_t i);
int64_t onc_gguf_val_i64(const onc_gguf *g, int64_t i);
float onc_gguf_val_f32(const onc_gguf *g, int64_t i);
double onc_gguf_val_f64(const onc_gguf *g, int64_t i);
bool onc_gguf_val_bool(const onc_gguf *g, int64_t i);
onc_str onc_gguf_val_str(const onc_gguf *g, int64_t i);

/* Arrays. Element type is never ARRAY (nested arrays are rejected at open,
 * as llama.cpp does). For numeric element types, arr_data points at the
 * packed little-endian elements inside the mapping (may be unaligned: copy
 * with memcpy). For string arrays use onc_gguf_arr_str. */
onc_gguf_type onc_gguf_arr_type(const onc_gguf *g, int64_t i);
uint64_t onc_gguf_arr_n(const onc_gguf *g, int64_t i);
const void *onc_gguf_arr_data(const onc_gguf *g, int64_t i);
onc_str onc_gguf_arr_str(const onc_gguf *g, int64_t i, uint64_t j);

/* Checked convenience getters by key. Integer getters accept any integer type
 * (and BOOL) whose value fits the target; float getters accept F32/F64.
 * Return ONC_ERR_NOT_FOUND when the key is absent (err untouched then, so a
 * default can be used), ONC_ERR_FORMAT with a message when the type is wrong
 * or the value does not fit. */
onc_status onc_gguf_get_u32(const onc_gguf *g, const char *key, uint32_t *out, onc_error *err);
onc_status onc_gguf_get_i64(const onc_gguf *g, const char *key, int64_t *out, onc_error *err);
onc_status onc_gguf_get_f32(const onc_gguf *g, const char *key, float *out, onc_error *err);
onc_status onc_gguf_get_bool(const onc_gguf *g, const char *key, bool *out, onc_error *err);
onc_status onc_gguf_get_str(const onc_gguf *g, const char *key, onc_str *out, onc_error *err);

/* Format value i as text for display (`oncolm model info`): scalars in full,
 * strings quoted and escaped, arrays as "[type x N] first elements...".
 * Writes at most cap-1 bytes plus NUL into buf; returns buf. */
char *onc_gguf_kv_to_string(const onc_gguf *g, int64_t i, char *buf, size_t cap, size_t max_elems);

/* --- tensors --- */
int64_t onc_gguf_n_tensors(const onc_gguf *g);
const onc_gguf_tensor *onc_gguf_tensor_at(const onc_gguf *g, int64_t i);
/* Tensor by name, or NULL when absent. O(1) average. */
const onc_gguf_tensor *onc_gguf_find_tensor(const onc_gguf *g, const char *name);

/* --------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------ */

typedef struct onc_gguf_writer onc_gguf_writer;

/* Fills `dst` (exactly `nbytes`, the tensor's size) with the data of one
 * tensor at write time; returns ONC_OK or an error (set err). Lets callers
 * stream tensors (quantize, model create) without holding all in memory. */
typedef onc_status (*onc_gguf_fill_fn)(void *user, const char *name, void *dst, size_t nbytes,
                                       onc_error *err);

/* New empty writer (version 3, alignment 32). Caller frees. NULL on OOM. */
onc_gguf_writer *onc_gguf_writer_new(void);
void onc_gguf_writer_free(onc_gguf_writer *w); /* accepts NULL */

/* Metadata setters. Keys are copied; setting an existing key replaces its
 * value in place (order of first insertion is kept). Setting
 * "general.alignment" (must be a power of two, u32) changes the alignment
 * used for the data section. Return ONC_OK or ONC_ERR_NOMEM/INVALID. */
onc_status onc_gguf_set_u8(onc_gguf_writer *w, const char *key, uint8_t v);
onc_status onc_gguf_set_i8(onc_gguf_writer *w, const char *key, int8_t v);
onc_status onc_gguf_set_u16(onc_gguf_writer *w, const char *key, uint16_t v);
onc_status onc_gguf_set_i16(onc_gguf_writer *w, const char *key, int16_t v);
onc_status onc_gguf_set_u32(onc_gguf_writer *w, const char *key, uint32_t v);
onc_status onc_gguf_set_i32(onc_gguf_writer *w, const char *key, int32_t v);
onc_status onc_gguf_set_u64(onc_gguf_writer *w, const char *key, uint64_t v);
onc_status onc_gguf_set_i64(onc_gguf_writer *w, const char *key, int64_t v);
onc_status onc_gguf_set_f32(onc_gguf_writer *w, const char *key, float v);
onc_status onc_gguf_set_f64(onc_gguf_writer *w, const char *key, double v);
onc_status onc_gguf_set_bool(onc_gguf_writer *w, const char *key, bool v);
onc_status onc_gguf_set_str(onc_gguf_writer *w, const char *key, const char *v);
onc_status onc_gguf_set_strn(onc_gguf_writer *w, const char *key, const char *v, size_t len);
/* Numeric array of element type `t` (not STRING/ARRAY); data copied. */
onc_status onc_gguf_set_arr(onc_gguf_writer *w, const char *key, onc_gguf_type t, const void *data,
                            uint64_t n);
/* String array; the strings (NUL-terminated) are copied. */
onc_status onc_gguf_set_arr_str(onc_gguf_writer *w, const char *key, const char *const *strs,
                                uint64_t n);
/* Copy value i of an open file (any type) under the same key. */
onc_status onc_gguf_set_from(onc_gguf_writer *w, const onc_gguf *src, int64_t i);
/* Remove a key if present. */
void onc_gguf_remove_key(onc_gguf_writer *w, const char *key);

/* Add a tensor. Validates name length/uniqueness, n_dims 1..4, ne >= 1, and
 * ne[0] % block size; the data size is computed from type and shape.
 * `data` is borrowed (not copied) and must stay valid until write; pass
 * data == NULL together with `fill` to produce it at write time instead.
 * Tensors are written in the order added, each padded to the alignment. */
onc_status onc_gguf_add_tensor(onc_gguf_writer *w, const char *name, onc_type type, uint32_t n_dims,
                               const int64_t *ne, const void *data, onc_gguf_fill_fn fill,
                               void *fill_user, onc_error *err);

/* Write the file atomically: to "<path>.tmp.<pid>", fsync, rename over
 * `path`. On any error the temp file is removed and `path` is untouched. */
onc_status onc_gguf_writer_write(onc_gguf_writer *w, const char *path, onc_error *err);

/* Serialise into a malloc()ed buffer (caller frees). For tests and fuzzing. */
onc_status onc_gguf_writer_write_mem(onc_gguf_writer *w, void **out, size_t *out_size, onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_GGUF_H */
