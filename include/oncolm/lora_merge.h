/* oncolm/lora_merge.h — fold LoRA adapters into a base model's weights and
 * write the result as a new GGUF (`oncolm lora merge`).
 *
 * Every adapted tensor W becomes W + sum_i scales[i] * s_i * B_i A_i (s_i
 * the adapter's alpha / rank), computed in F32 row by row from the
 * dequantized base rows (the whole matrix is never held). Then either the
 * adapted tensors are written as F16 (F32 / BF16 bases keep their type) and
 * every other tensor is copied byte for byte (ftype NULL), or the whole
 * model is re-encoded with the quantization recipe of oncolm/quantize.h
 * (e.g. "q4_K_M"). Metadata is copied; the output is atomic. */
#ifndef ONCOLM_LORA_MERGE_H
#define ONCOLM_LORA_MERGE_H

#include <stddef.h>

#include "oncolm/lora.h"
#include "oncolm/quantize.h"
#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Merge adapters[0..n) (loaded for the model at `base`, with per-adapter
 * user scales, NULL = all 1) into `out`. ftype: NULL keeps types as above,
 * else a target of oncolm/quantize.h. n_threads <= 0: all CPUs. stats may
 * be NULL. Errors name the file and tensor. */
onc_status onc_lora_merge_file(const char *base, const char *out, const onc_lora *const *adapters,
                               const float *scales, size_t n, const onc_ftype *ftype, int n_threads,
                               onc_quantize_stats *stats, onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_LORA_MERGE_H */
