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
};

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
};

/* One forward pass over n tokens (n <= n_batch) already validated; writes the
 * logits of tokens with want[i] into rows out[i] of c->logits. */
onc_status llm_forward(onc_llm_ctx *c, const int32_t *tokens, const uint32_t *seq, const int32_t *pos, int32_t n,
                       const int32_t *out_row, onc_error *err);

#endif
