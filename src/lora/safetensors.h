/* safetensors.h — a small, validating reader and writer of the safetensors
 * format (library-internal; used by the PEFT adapter files).
 *
 * Layout: u64 little-endian N, then N bytes of a JSON object (the header),
 * then the byte buffer. Each header entry other than "__metadata__" is
 * "name": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [b, e]}
 * with b, e relative to the start of the byte buffer. "__metadata__" is an
 * object of string values. The writer pads the header with spaces to a
 * multiple of 8 bytes, as the reference implementation does.
 *
 * Reader contract: onc_st_parse() validates everything before returning —
 * header size against the input, JSON well-formed and an object, no
 * duplicate keys, known dtype, shape of 0..8 non-negative integers, offsets
 * integers with b <= e <= buffer size, e - b == product(shape) * dtype size
 * (no overflow), and tensors not overlapping. A problem gives NULL and one
 * message naming `name` (the file) and the tensor or key. */
#ifndef ONCOLM_LORA_SAFETENSORS_H
#define ONCOLM_LORA_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"

typedef enum onc_st_dtype {
    ONC_ST_F64,
    ONC_ST_F32,
    ONC_ST_F16,
    ONC_ST_BF16,
    ONC_ST_I64,
    ONC_ST_I32,
    ONC_ST_I16,
    ONC_ST_I8,
    ONC_ST_U8,
    ONC_ST_BOOL,
    ONC_ST_DTYPE_COUNT,
} onc_st_dtype;

#define ONC_ST_MAX_DIMS 8

typedef struct onc_st_tensor {
    char *name;                    /* NUL-terminated, owned by the onc_st */
    onc_st_dtype dtype;
    int n_dims;                    /* 0..ONC_ST_MAX_DIMS */
    int64_t shape[ONC_ST_MAX_DIMS];
    size_t nbytes;
    const uint8_t *data;           /* inside the parsed buffer; may be unaligned */
} onc_st_tensor;

typedef struct onc_st onc_st;

const char *onc_st_dtype_name(onc_st_dtype t);
size_t onc_st_dtype_size(onc_st_dtype t);

/* Parse a buffer (borrowed: must outlive the result). */
onc_st *onc_st_parse(const void *data, size_t size, const char *name, onc_error *err);
/* Read a whole file and parse it (the result owns the bytes). */
onc_st *onc_st_read_file(const char *path, onc_error *err);
void onc_st_free(onc_st *st); /* accepts NULL */

size_t onc_st_n(const onc_st *st);
const onc_st_tensor *onc_st_at(const onc_st *st, size_t i);
const onc_st_tensor *onc_st_find(const onc_st *st, const char *name);
/* "__metadata__" value for key, or NULL. */
const char *onc_st_metadata(const onc_st *st, const char *key);

/* One tensor to write (data borrowed, nbytes = product(shape) * size). */
typedef struct onc_st_entry {
    const char *name;
    onc_st_dtype dtype;
    int n_dims;
    int64_t shape[ONC_ST_MAX_DIMS];
    const void *data;
} onc_st_entry;

/* Serialise entries (in order) with metadata {"format": "pt"} into a
 * malloc()ed buffer (caller frees). */
onc_status onc_st_write_mem(const onc_st_entry *e, size_t n, void **out, size_t *out_size, onc_error *err);


#endif /* ONCOLM_LORA_SAFETENSORS_H */
