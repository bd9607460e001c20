/* llm_impl.h — private: the insides of onc_llm and onc_llm_ctx, shared by
 * llm_load.c (model, tensors, contexts) and llm_decode.c (forward pass). */
#ifndef ONC_LLM_IMPL_H
#define ONC_LLM_IMPL_H

#include "oncolm/backend.h"
#include "oncolm/llm.h"

typedef struct llm_layer {
    onc_tensor attn_norm, wq, wk, wv, wqkv, bq, bk, bv, bqkv, wo;
    onc_tensor ffn_norm, ffn_gate, ffn_up, ffn_down;
    bool has_bias;
} llm_layer;

struct onc_llm {
    onc_gguf *gguf;
    onc_hparams hp;
    onc_tokenizer *tok;
    onc_tensor tok_embd, output_norm, output; /* output = tok_embd when tied */
    onc_tensor rope_freqs, rope_long, rope_short;
    llm_layer *layers;
    size_t weight_bytes;
    int ftype_tensor_type; /* most common 2-D weight type (for describe) */
    void **repacked;       /* [n_repacked] memory of weights rewritten at load (owned) */
    int n_repacked;
};

/* LoRA adapters applied at inference: for each block and linear layer
 * ("slot" = bit index of onc_lora_module), a list of (A, B, scale). */
enum { LLM_LORA_SLOTS = 9 };
typedef struct llm_lora_mat {
    onc_tensor a, b; /* F32 views of the adapter's A {n_in, r} and B {r, n_out} (not owned) */
    float scale;     /* user scale x alpha / r */
} llm_lora_mat;
typedef struct llm_lora_slot {
    llm_lora_mat *mats;
    int n;
} llm_lora_slot;

struct onc_llm_ctx {
    const onc_llm *m;
    onc_llm_ctx_params p;
    onc_backend *be;
    uint32_t *seq_len;           /* [n_seq] */
    /* KV cache: per layer K {n_embd_k_gqa, n_cells} and transposed V {n_cells, n_embd_v_gqa} */
    onc_tensor *k_cache, *v_cache;
    void *kv_mem;
    size_t kv_bytes;
    /* scratch for n_batch tokens */
    float *x, *h, *q, *k, *v, *qkv, *attn, *tmp, *gate, *up, *out_rows, *logits_rows;
    int32_t *pos, *cells, *kv_start, *kv_len, *ids, *out_idx;
    /* kept logits of the last decode */
    float *logits;
    size_t logits_cap;           /* floats allocated */
    int32_t *logits_of;          /* [batch token] -> row in logits or -1 */
    size_t logits_of_cap;
    /* adapters (onc_llm_ctx_set_adapters): slots[layer * LLM_LORA_SLOTS + slot] */
    llm_lora_slot *lora_slots;
    llm_lora_mat *lora_mats;
    float *lora_u, *lora_t; /* scratch: n_batch x max rank, n_batch x max n_out */
};

/* y += sum over the adapters of block l, slot `slot`: scale * B (A x)
 * (x {n_in, n}, y {n_out, n}); nothing when no adapter is set. */
onc_status llm_apply_lora(onc_llm_ctx *c, uint32_t l, int slot, onc_tensor *y, const onc_tensor *x, onc_error *err);
void llm_lora_clear(onc_llm_ctx *c);

/* One forward pass over n tokens (n <= n_batch) already validated; writes the
 * logits of tokens with want[i] into rows out[i] of c->logits. */
onc_status llm_forward(onc_llm_ctx *c, const int32_t *tokens, const uint32_t *seq, const int32_t *pos, int32_t n,
                       const int32_t *out_row, onc_error *err);

#endif
