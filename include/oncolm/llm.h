/* oncolm/llm.h — running decoder language models (llama, qwen2, phi3) from
 * GGUF files on the CPU.
 *
 * Two objects, weights apart from state:
 *   onc_llm      the model: the GGUF file mapped once (weights are read in
 *                place, except Q4_K/Q6_K matrices rewritten at load into a
 *                faster layout on AVX-512 CPUs: onc_llm_load_params),
 *                hyper-parameters, tokenizer. Immutable
 *                after loading; any number of contexts may use it at once,
 *                from different threads.
 *   onc_llm_ctx  per-sequence state: a KV cache holding up to n_seq
 *                sequences of up to n_ctx positions each, scratch buffers for
 *                batches of up to n_batch tokens, a thread pool. One thread
 *                at a time per context.
 *
 * Decoding: a batch lists tokens with the sequence each belongs to; every
 * token is appended at the end of its sequence (its position is the
 * sequence's length so far), and the whole batch runs as one forward pass
 * (matrix-matrix products), so prompt processing is batched and several
 * sequences decode together in one step. Logits are kept for the tokens the
 * batch asks for.
 *
 * The forward pass follows llama.cpp's graphs (llama: RMS norm, NORM rope
 * with optional rope_freqs, SiLU-gated FFN, grouped-query attention, tied
 * output; qwen2: q/k/v biases and NEOX rope; phi3: fused qkv, fused
 * gate|up, NEOX rope, long/short rope factors). It calls only onc_backend_*
 * operations (oncolm/backend.h). */
#ifndef ONCOLM_LLM_H
#define ONCOLM_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/arch.h"
#include "oncolm/gguf.h"
#include "oncolm/lora.h"
#include "oncolm/status.h"
#include "oncolm/tokenizer.h"
#include "oncolm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_llm onc_llm;
typedef struct onc_llm_ctx onc_llm_ctx;

/* Load a decoder model. Validates the architecture (llama, qwen2, phi3; an
 * encoder or an unknown architecture is a clear error), the hyper-parameters
 * and every tensor the architecture needs: a missing tensor, a wrong shape
 * (expected and found are given) or a type without kernels is an error
 * naming the file and the tensor. */
onc_llm *onc_llm_load(const char *path, onc_error *err);

/* Loading options. repack: rewrite weights whose type has a faster
 * in-memory layout at this CPU's SIMD level (oncolm/compute.h: Q4_K ->
 * Q4_K_R16 with AVX-512) into memory of their own, and let the OS drop
 * the file's copy (resident memory stays at about the file size); the
 * weights are then no longer the file's bytes in place, so code that
 * reads tensors through onc_llm_gguf (training) turns it off. Default on,
 * unless the environment sets ONCOLM_REPACK=0. */
typedef struct onc_llm_load_params {
    bool repack;
} onc_llm_load_params;
onc_llm_load_params onc_llm_default_load_params(void);
/* onc_llm_load with these options (NULL: the defaults). */
onc_llm *onc_llm_load_with(const char *path, const onc_llm_load_params *p, onc_error *err);
/* Number of weight tensors rewritten at load (0 when repack was off or no
 * weight has a faster layout here). */
int onc_llm_n_repacked(const onc_llm *m);
void onc_llm_free(onc_llm *m); /* accepts NULL */

const onc_hparams *onc_llm_hparams(const onc_llm *m);
const onc_tokenizer *onc_llm_tokenizer(const onc_llm *m);
const onc_gguf *onc_llm_gguf(const onc_llm *m); /* metadata, e.g. tokenizer.chat_template */
int32_t onc_llm_n_vocab(const onc_llm *m);
/* Bytes of tensor data in the file (what is mapped, or repacked). */
size_t onc_llm_weight_bytes(const onc_llm *m);
/* "llama 1.10B q4_K_M"-style one-line description into buf. */
const char *onc_llm_describe(const onc_llm *m, char *buf, size_t cap);

typedef struct onc_llm_ctx_params {
    uint32_t n_ctx;    /* positions per sequence; 0 = the model's context length, at most 4096 */
    uint32_t n_seq;    /* sequences held at once (default 1) */
    uint32_t n_batch;  /* tokens per forward pass; longer batches run in chunks (default 512) */
    onc_type kv_type;  /* ONC_TYPE_F16 (default) or ONC_TYPE_F32 */
    int n_threads;     /* <= 0: all online CPUs */
    bool embeddings;   /* keep final hidden states (after the output norm, n_embd floats)
                          instead of logits: decoder models as embedders (default false) */
} onc_llm_ctx_params;

onc_llm_ctx_params onc_llm_ctx_default_params(void);

/* New context over m (which must outlive it). Errors: bad parameters,
 * out of memory (the message gives the KV cache size asked for). */
onc_llm_ctx *onc_llm_ctx_new(const onc_llm *m, const onc_llm_ctx_params *p, onc_error *err);
void onc_llm_ctx_free(onc_llm_ctx *c); /* accepts NULL */

const onc_llm *onc_llm_ctx_model(const onc_llm_ctx *c);
uint32_t onc_llm_ctx_n_ctx(const onc_llm_ctx *c);
uint32_t onc_llm_ctx_n_seq(const onc_llm_ctx *c);
/* Bytes of the KV cache. */
size_t onc_llm_ctx_kv_bytes(const onc_llm_ctx *c);

/* Sequence state: length (= next position), truncate to the first n_keep
 * positions (n_keep <= length), clear. seq must be < n_seq. */
uint32_t onc_llm_seq_len(const onc_llm_ctx *c, uint32_t seq);
void onc_llm_seq_truncate(onc_llm_ctx *c, uint32_t seq, uint32_t n_keep);
void onc_llm_seq_clear(onc_llm_ctx *c, uint32_t seq);

typedef struct onc_llm_batch {
    int32_t n_tokens;
    const int32_t *tokens;  /* [n_tokens] */
    const uint32_t *seq;    /* [n_tokens] sequence of each token; NULL = all sequence 0 */
    const bool *logits;     /* [n_tokens] keep logits of this token; NULL = only the last token */
} onc_llm_batch;

/* Run a batch. Tokens are appended to their sequences in batch order. On
 * error (token id out of range, sequence full: the message says which and
 * its length) nothing is appended and the context is unchanged. */
onc_status onc_llm_decode(onc_llm_ctx *c, const onc_llm_batch *batch, onc_error *err);

/* LoRA adapters (oncolm/lora.h) for the following decodes: every adapted
 * linear layer W x becomes W x + sum_i scales[i] * s_i * B_i (A_i x), s_i
 * the adapter's own alpha / rank (llama.cpp's --lora-scaled). Replaces the
 * adapters set before; n = 0 removes them. The adapters are not copied and
 * must outlive their use. Each must be for this model: same architecture,
 * blocks that exist, and every A and B shaped for the tensor it adapts (an
 * error names the adapter's tensor otherwise, and nothing changes). The KV
 * cache is kept: clear the sequences when switching adapters mid-text. */
onc_status onc_llm_ctx_set_adapters(onc_llm_ctx *c, const onc_lora *const *adapters, const float *scales, size_t n,
                                    onc_error *err);

/* Logits (n_vocab floats) of batch token i of the last decode, or NULL when
 * not kept. Valid until the next decode. */
const float *onc_llm_logits(const onc_llm_ctx *c, int32_t i);
/* With embeddings = true: the final hidden state (n_embd floats, after the
 * output norm) of batch token i of the last decode, or NULL when not kept;
 * onc_llm_logits then returns NULL. Valid until the next decode. */
const float *onc_llm_embedding(const onc_llm_ctx *c, int32_t i);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_LLM_H */
