/* oncolm/types.h — tensor element/block types (ggml numbering) and their
 * row-level conversions: dequantize to F32 and quantize from F32.
 *
 * Block layouts: shared/reference/gguf-and-llama-formats.md (Q2). Every type
 * has a plain-C reference implementation; SIMD paths live in src/compute and
 * are checked against these.
 *
 * Thread-safety: all functions are pure and thread-safe. */
#ifndef ONCOLM_TYPES_H
#define ONCOLM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ggml_type numbering, as stored in GGUF tensor infos. Only the types listed
 * with a name are supported for compute; other ids in range are recognised
 * by name and size (so `model info` can describe any file) but rejected by
 * kernels with ONC_ERR_UNSUPPORTED. */
typedef enum onc_type {
    ONC_TYPE_F32 = 0,
    ONC_TYPE_F16 = 1,
    ONC_TYPE_Q4_0 = 2,
    ONC_TYPE_Q4_1 = 3,
    ONC_TYPE_Q5_0 = 6,
    ONC_TYPE_Q5_1 = 7,
    ONC_TYPE_Q8_0 = 8,
    ONC_TYPE_Q8_1 = 9,
    ONC_TYPE_Q2_K = 10,
    ONC_TYPE_Q3_K = 11,
    ONC_TYPE_Q4_K = 12,
    ONC_TYPE_Q5_K = 13,
    ONC_TYPE_Q6_K = 14,
    ONC_TYPE_Q8_K = 15, /* intermediate activation format only */
    ONC_TYPE_IQ4_NL = 20,
    ONC_TYPE_IQ4_XS = 23,
    ONC_TYPE_I8 = 24,
    ONC_TYPE_I16 = 25,
    ONC_TYPE_I32 = 26,
    ONC_TYPE_I64 = 27,
    ONC_TYPE_F64 = 28,
    ONC_TYPE_BF16 = 30,
    /* In memory only, never in a file: Q6_K / Q4_K weights of 16 rows
     * interleaved for the AVX-512 kernels (oncolm/compute.h onc_repack_rows).
     * Rows are not self-contained: only whole 16-row groups are meaningful. */
    ONC_TYPE_Q6_K_R16 = 40,
    ONC_TYPE_Q4_K_R16 = 41,
    ONC_TYPE_COUNT = 42, /* ids >= this are invalid */
} onc_type;

#define ONC_QK 32   /* block size of Q4_0/Q8_0 */
#define ONC_QK_K 256 /* super-block size of the K-quants */

typedef struct onc_type_traits {
    const char *name;   /* "f32", "q4_K", ...; NULL for unknown ids */
    int64_t block_size; /* elements per block */
    size_t type_size;   /* bytes per block */
    bool is_quantized;
    bool can_compute;   /* dequantize/dot kernels exist */
    bool can_quantize;  /* quantize from F32 exists */
    bool memory_only;   /* a load-time layout: rejected in GGUF files, not found by name */
} onc_type_traits;

/* Traits of type id t; for unknown ids returns a traits with name NULL and
 * block_size 0 (never NULL itself). */
const onc_type_traits *onc_type_traits_of(onc_type t);
static inline bool onc_type_is_known(onc_type t);

/* Type from its name ("q4_k", "Q4_K", "f16"; case-insensitive).
 * Returns false when unknown. */
bool onc_type_from_name(const char *name, onc_type *out);

/* Bytes in a row of n elements (n must be a multiple of block size:
 * asserted). */
size_t onc_type_row_size(onc_type t, int64_t n);

/* --- scalar conversions --- */
float onc_f16_to_f32(uint16_t h);
uint16_t onc_f32_to_f16(float f);   /* round to nearest even, as ggml */
float onc_bf16_to_f32(uint16_t h);
uint16_t onc_f32_to_bf16(float f);  /* round to nearest even; NaN stays NaN */

/* Dequantize n elements (multiple of block size) of a row of type t into
 * dst. Reference C code. Asserts that t can_compute. */
void onc_dequantize_row(onc_type t, const void *src, float *dst, int64_t n);

/* Quantize n elements (multiple of block size) of src into dst, which must
 * hold onc_type_row_size(t, n) bytes. Returns bytes written. Works for
 * every type with can_quantize (F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K,
 * Q6_K, Q8_K). Deterministic. */
size_t onc_quantize_row(onc_type t, const float *src, void *dst, int64_t n);

static inline bool onc_type_is_known(onc_type t) {
    return onc_type_traits_of(t)->name != NULL;
}

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_TYPES_H */
