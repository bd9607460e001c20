/* encoder_impl.h — private: the insides of onc_encoder, shared by
 * encoder_bert.c (loading and the bert forward pass) and encoder.c
 * (tokenization, windows, batching, pooling, heads, decoder embedders). */
#ifndef ONC_ENCODER_IMPL_H
#define ONC_ENCODER_IMPL_H

#include "oncolm/backend.h"
#include "oncolm/encoder.h"
#include "oncolm/llm.h"

typedef struct enc_layer {
    onc_tensor wq, bq, wk, bk, wv, bv, wqkv, bqkv, wo, bo;
    onc_tensor attn_norm_w, attn_norm_b; /* post-attention LayerNorm */
    onc_tensor up, bup, down, bdown;
    onc_tensor out_norm_w, out_norm_b; /* post-FFN LayerNorm */
} enc_layer;

struct onc_encoder {
    onc_encoder_params p;
    onc_pooling pooling;
    uint32_t max_tokens, n_batch;
    size_t n_truncated;
    onc_hparams hp; /* copy (labels owned) */
    char **labels;  /* [n_cls_out] names (file's or LABEL_i) */
    const onc_tokenizer *tok;

    /* bert */
    onc_gguf *gguf;
    onc_tokenizer *own_tok;
    onc_tensor tok_embd, types, pos_embd, embd_norm_w, embd_norm_b;
    onc_tensor cls_w, cls_b, cls_out_w, cls_out_b;
    enc_layer *layers;
    onc_backend *be;
    /* scratch for n_batch tokens */
    float *x, *h, *q, *k, *v, *vt, *attn, *tmp, *ff;
    int32_t *ids, *type_ids, *pos, *cells, *kv_start, *kv_len;

    /* decoder used as an embedder */
    onc_llm *llm;
    onc_llm_ctx *ctx;
};

/* A packed batch: n_seq inputs whose tokens lie one after another
 * (seq_start[s] .. seq_start[s] + seq_len[s] - 1), n_tokens in all. */
typedef struct enc_batch {
    const int32_t *tokens, *types; /* types may be NULL (all 0) */
    const int32_t *seq_start, *seq_len;
    int32_t n_tokens, n_seq;
} enc_batch;

/* bert: load tensors and allocate scratch for e->n_batch tokens (e->hp,
 * e->gguf already set). */
onc_status enc_bert_init(onc_encoder *e, onc_error *err);
void enc_bert_free(onc_encoder *e);
/* bert forward pass: final hidden states of every token into e->x
 * ({n_embd, n_tokens}, token-major). */
onc_status enc_bert_forward(onc_encoder *e, const enc_batch *b, onc_error *err);
/* Classifier head on rows P {n_embd, n} (host memory): logits out [n *
 * n_cls_out]. Uses e->h / e->tmp as scratch (n <= n_batch). */
onc_status enc_bert_head(onc_encoder *e, const float *P, int32_t n, float *out, onc_error *err);

#endif
