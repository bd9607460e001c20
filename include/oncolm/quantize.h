/* oncolm/quantize.h — re-encode the tensors of a GGUF model to another type
 * or to a llama.cpp type mix (`oncolm quantize IN OUT TYPE`).
 *
 * Recipe (llama.cpp llama_tensor_get_type, for the types supported here):
 *  - only 2-D+ tensors whose name ends in ".weight" are converted; others
 *    (norms, biases, rope_freqs, integer tensors) are copied unchanged;
 *  - plain targets (f32 f16 bf16 q8_0 q4_0 q4_K q5_K q6_K): every converted
 *    tensor gets the target type;
 *  - mixes q4_K_M / q5_K_M (base Q4_K / Q5_K): output.weight -> Q6_K;
 *    blk.i.attn_v.weight and blk.i.ffn_down.weight -> Q6_K when
 *    use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2
 *    (n = number of such tensors), else base; blk.i.attn_qkv.weight ->
 *    Q5_K (q4_K_M) / Q6_K (q5_K_M); everything else (token_embd too) base;
 *  - a tensor whose row length ne[0] is not a multiple of the chosen type's
 *    block size falls back to q8_0 when ne[0] % 32 == 0, else f16;
 *  - a source tensor already of the chosen type is copied byte for byte;
 *    other computable types are dequantized to f32 first (requantizing a
 *    quantized tensor is reported, as it loses precision); tensors of types
 *    oncolm cannot compute are copied unchanged (reported).
 * All metadata is copied; general.file_type (llama_ftype numbering) and
 * general.quantization_version = 2 (u32) are set. The output is written
 * atomically (temp file + rename): on any error no output file appears.
 *
 * Thread-safety: onc_quantize_file may run in several threads on different
 * files; the progress callback is called from the calling thread. */
#ifndef ONCOLM_QUANTIZE_H
#define ONCOLM_QUANTIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"
#include "oncolm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Targets, numbered as llama.cpp's llama_ftype (= general.file_type). */
typedef enum onc_ftype {
    ONC_FTYPE_ALL_F32 = 0,
    ONC_FTYPE_MOSTLY_F16 = 1,
    ONC_FTYPE_MOSTLY_Q4_0 = 2,
    ONC_FTYPE_MOSTLY_Q8_0 = 7,
    ONC_FTYPE_MOSTLY_Q4_K_S = 14, /* "q4_K": every tensor Q4_K */
    ONC_FTYPE_MOSTLY_Q4_K_M = 15,
    ONC_FTYPE_MOSTLY_Q5_K_S = 16, /* "q5_K" */
    ONC_FTYPE_MOSTLY_Q5_K_M = 17,
    ONC_FTYPE_MOSTLY_Q6_K = 18,
    ONC_FTYPE_MOSTLY_BF16 = 32,
} onc_ftype;

/* Parse a target name (case-insensitive): f32 f16 bf16 q8_0 q4_0 q4_K
 * q5_K q6_K q4_K_M q5_K_M (also q4_K_S / q5_K_S). False when unknown. */
bool onc_ftype_from_name(const char *name, onc_ftype *out);
const char *onc_ftype_name(onc_ftype ft); /* "q4_K_M", ...; never NULL */

/* What happened to one tensor (progress callback). */
typedef struct onc_quantize_event {
    int64_t index, count;   /* tensor index (0-based) and number of tensors */
    const char *name;       /* tensor name */
    onc_type src_type, dst_type;
    int64_t ne[4];          /* shape (unused dims 1) */
    size_t src_bytes, dst_bytes;
    bool fallback;          /* row length did not fit the wanted type */
    onc_type wanted_type;   /* type the recipe asked for (== dst_type unless fallback) */
    bool requantized;       /* source was already quantized (precision loss) */
    bool copied;            /* bytes copied unchanged */
} onc_quantize_event;

typedef void (*onc_quantize_progress_fn)(void *user, const onc_quantize_event *ev);

/* An optional change of weights while writing (e.g. merging LoRA
 * adapters): applies(user, name) says whether tensor `name` is changed
 * (it must be a 2-D+ tensor of a computable type); rows(user, name, r,
 * row, n) changes its decoded F32 row r (n elements) in place before it is
 * encoded. rows is called from worker threads, on different rows at once. */
typedef struct onc_quantize_transform {
    bool (*applies)(void *user, const char *name);
    void (*rows)(void *user, const char *name, int64_t r, float *row, int64_t n);
    void *user;
} onc_quantize_transform;

typedef struct onc_quantize_params {
    onc_ftype ftype;                   /* target (ignored with keep_types) */
    const onc_quantize_transform *transform; /* NULL: none */
    /* true: tensors the transform does not change are copied unchanged, the
     * changed ones are written as F32 when their source is F32, BF16 when
     * BF16, else F16 (no requantization); general.file_type is kept */
    bool keep_types;
    int n_threads;                     /* <= 0: all online CPUs */
    onc_quantize_progress_fn progress; /* may be NULL */
    void *progress_user;
} onc_quantize_params;

onc_quantize_params onc_quantize_default_params(void); /* q8_0, all threads */

typedef struct onc_quantize_stats {
    int64_t n_tensors;
    int64_t n_converted;  /* tensors re-encoded */
    int64_t n_fallback;   /* of which fell back to q8_0/f16 */
    size_t src_bytes;     /* tensor data, input */
    size_t dst_bytes;     /* tensor data, output */
} onc_quantize_stats;

/* The recipe alone: type for tensor `name` of n_dims dims and shape ne
 * under ftype, with layer counts n_attn_v / n_ffn_down (tensors named
 * blk.*.attn_v.weight / blk.*.ffn_down.weight in the model). Returns the
 * source type src when the tensor is not converted. *fallback (may be
 * NULL) tells whether the row-length fallback applied; *wanted (may be
 * NULL) receives the type before the fallback. */
onc_type onc_quantize_tensor_type(onc_ftype ftype, const char *name, uint32_t n_dims, const int64_t *ne,
                                  onc_type src, int64_t n_attn_v, int64_t n_ffn_down, bool *fallback,
                                  onc_type *wanted);

/* Read GGUF `in`, write GGUF `out` per the recipe. stats may be NULL.
 * Errors name the file (and tensor) concerned. */
onc_status onc_quantize_file(const char *in, const char *out, const onc_quantize_params *params,
                             onc_quantize_stats *stats, onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_QUANTIZE_H */
