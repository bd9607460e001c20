/* oncolm/enc_model.h — a BERT-family encoder (`bert` GGUF) as a trainable
 * function: the forward pass over a packed batch with its activations
 * saved, the backward pass into gradients of every trainable parameter,
 * the classification head (pooler dense + tanh, then a linear layer, read
 * at the [CLS] token as BertForSequenceClassification) and the masked-LM
 * head (BertForMaskedLM's transform: dense + GELU + LayerNorm, then the
 * decoder tied to the token embeddings plus an output bias), and saving
 * the result as a `bert` GGUF that oncolm/encoder.h loads.
 *
 * Parameters. Full fine-tuning (lora.rank == 0): every weight of the file
 * is dequantized to an F32 copy and trained. LoRA (lora.rank > 0): the
 * base weights stay frozen as in the file, adapters A/B are trained on the
 * chosen linear layers (q, k, v, o, up, down), and the heads are trained
 * in full; onc_enc_model_save merges the adapters into the weights.
 * Weight decay applies to 2-D weights only (biases, LayerNorm parameters
 * and the MLM output bias are excluded, as Hugging Face's Trainer does).
 *
 * The forward pass is the inference engine's (src/encoder/encoder_bert.c)
 * in F32, so a model saved here and loaded with onc_encoder_load gives the
 * same hidden states (a test checks it). Hidden dropout (Hugging Face's
 * hidden_dropout_prob) is applied, when training, to the embeddings after
 * their LayerNorm, to the attention output projection and to the FFN
 * output before each residual add; masks come from the seed of the call,
 * so a forward/backward pair is reproducible. Attention-probability
 * dropout is not implemented (documented, p treated as 0).
 *
 * Batches: n_seq inputs laid end to end (seq_start[s], seq_len[s]); each
 * token attends only to the tokens of its own input (a padding mask
 * without the padding); positions restart at 0 in each input.
 *
 * What is trained. Full mode: every tensor of the file (embeddings
 * included) plus the heads. LoRA mode: the adapters and the heads only;
 * embeddings, biases and LayerNorms stay frozen (PEFT's bias = "none").
 * A file with a fused attn_qkv gets one adapter on it when any of q, k, v
 * is asked. The MLM decoder is tied to token_embd: in full mode the MLM
 * loss's gradient reaches token_embd.weight; in LoRA mode it does not
 * (frozen), only the MLM transform and output bias learn from it.
 * n_labels = 0 means no classification head even when the file has one
 * (it is then neither trained nor saved).
 *
 * Memory (onc_enc_model_bytes): F32 copies and gradients of the trained
 * tensors (full mode: 8 bytes per parameter; embeddings are F32 copies in
 * both modes), and every activation the backward pass needs, sized for
 * max_tokens at load: about (8 E + F + H + 4) floats per token per layer
 * plus 7 E + 2 F per token of scratch (BERT-base: about 40 KiB per token,
 * 1.3 GiB in all with max_tokens 1024 in full mode).
 *
 * Thread-safety: one onc_enc_model per thread; it uses its own pool.
 * Results do not depend on the number of threads (F32 products by sgemm
 * over fixed blocks; dropout masks drawn per row). Exception: a LoRA base
 * stored quantized or F16 goes through the inference kernels, whose
 * rounding order may depend on the thread count. */
#ifndef ONCOLM_ENC_MODEL_H
#define ONCOLM_ENC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/arch.h"
#include "oncolm/lora.h"
#include "oncolm/status.h"
#include "oncolm/tokenizer.h"
#include "oncolm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_enc_model onc_enc_model;

typedef struct onc_enc_model_params {
    int64_t max_tokens;         /* tokens per forward call (packed batch); default 4096 */
    int n_threads;              /* <= 0: all online CPUs */
    float dropout;              /* hidden dropout while training; default 0.1 */
    /* Classification head. n_labels > 0 asks for one with that many
     * outputs: loaded when the file has cls.weight/cls.output.weight of
     * that shape, else created (weights N(0, 0.02) from seed, biases 0, as
     * BertForSequenceClassification's _init_weights). labels: names of the
     * outputs (NULL: the file's, else LABEL_<i>). */
    uint32_t n_labels;
    const char *const *labels;
    bool mlm_head;              /* load (mlm.* tensors) or create the masked-LM head */
    onc_lora_config lora;       /* rank 0 (default) = full fine-tuning */
    uint64_t seed;              /* initialisation of new heads and LoRA A; default 42 */
} onc_enc_model_params;

onc_enc_model_params onc_enc_model_default_params(void);

/* Load a `bert` GGUF for training. Errors name the file: not a bert model,
 * missing/misshapen tensors, a tensor type oncolm cannot dequantize, a
 * head of another shape than asked, no memory (with the bytes asked). */
onc_enc_model *onc_enc_model_load(const char *path, const onc_enc_model_params *p, onc_error *err);
void onc_enc_model_free(onc_enc_model *m); /* accepts NULL */

const onc_hparams *onc_enc_model_hparams(const onc_enc_model *m);
const onc_tokenizer *onc_enc_model_tokenizer(const onc_enc_model *m);
uint32_t onc_enc_model_n_labels(const onc_enc_model *m); /* 0 without a classification head */

/* Trainable parameters (stable order and names, e.g. "blk.3.attn_q.weight",
 * "blk.3.attn_q.lora_a", "cls.output.weight", "mlm.dense.weight"): data and
 * grad are n floats owned by the model; an optimizer updates data in place. */
typedef struct onc_train_param {
    const char *name;
    float *data, *grad;
    int64_t n;
    bool decay; /* weight decay applies */
} onc_train_param;

size_t onc_enc_model_n_params(const onc_enc_model *m);
const onc_train_param *onc_enc_model_param(const onc_enc_model *m, size_t i);
void onc_enc_model_zero_grad(onc_enc_model *m);
int64_t onc_enc_model_n_trainable(const onc_enc_model *m); /* sum of n */
/* Bytes held for weights copies, gradients and saved activations. */
size_t onc_enc_model_bytes(const onc_enc_model *m);

typedef struct onc_enc_batch {
    const int32_t *tokens; /* [n_tokens] */
    const int32_t *types;  /* [n_tokens] token types, NULL = all 0 */
    const int32_t *seq_start, *seq_len; /* [n_seq] */
    int32_t n_tokens, n_seq;
} onc_enc_batch;

/* Forward pass: final hidden states [n_tokens][n_embd] into *states (owned
 * by the model, valid until the next forward). train = true applies dropout
 * (masks from dropout_seed) and saves what the backward pass needs; train =
 * false is plain inference (no dropout, nothing saved, a later backward is
 * ONC_ERR_INVALID). Errors: n_tokens above max_tokens, a token id outside
 * the vocabulary, a type outside the model's token types, an input longer
 * than the model's context, inconsistent seq_start/seq_len. */
onc_status onc_enc_model_forward(onc_enc_model *m, const onc_enc_batch *b, bool train, uint64_t dropout_seed,
                                 const float **states, onc_error *err);

/* Backward of the last train forward: dstates [n_tokens][n_embd] (the
 * gradient of the loss w.r.t. the states it returned) into the parameter
 * gradients (+=). */
onc_status onc_enc_model_backward(onc_enc_model *m, const float *dstates, onc_error *err);

/* Classification head on n pooled rows x [n][n_embd] (the [CLS] states):
 * logits [n][n_labels] = W_out tanh(W_cls x + b_cls) + b_out. When dlogits
 * is non-NULL, also the backward: head gradients (+=) and dx [n][n_embd]
 * (+=, may be NULL), from the same x. Without a head: ONC_ERR_INVALID. */
onc_status onc_enc_model_classify(onc_enc_model *m, const float *x, int32_t n, float *logits, const float *dlogits,
                                  float *dx, onc_error *err);

/* Masked-LM loss at m_pos positions of the last forward's states: pos[i]
 * indexes the token (0 <= pos < n_tokens), labels[i] the original token id.
 * *loss_sum (+=) the summed cross-entropy over the vocabulary (double),
 * computed in chunks (never m_pos x n_vocab floats at once). When dstates
 * is non-NULL the backward too: MLM-head and tied-embedding gradients (+=)
 * and dstates [n_tokens][n_embd] (+=) of grad_scale x loss_sum. Without an
 * MLM head: ONC_ERR_INVALID. */
onc_status onc_enc_model_mlm_loss(onc_enc_model *m, const float *states, const int32_t *pos, const int32_t *labels,
                                  int64_t m_pos, float grad_scale, double *loss_sum, float *dstates, onc_error *err);

/* Write the model as a `bert` GGUF (temporary file + rename) that
 * onc_encoder_load reads: metadata and tokenizer of the source file,
 * trained weights (LoRA merged) with 2-D weights in wtype (F32 or F16;
 * 1-D tensors F32), pooling type `pooling` (UNSPECIFIED keeps the file's),
 * the classification head with its labels (bert.classifier.output_labels),
 * and the MLM head as tensors mlm.dense.weight/bias, mlm.norm.weight/bias
 * and mlm.output.bias, which the inference engine ignores. */
onc_status onc_enc_model_save(const onc_enc_model *m, const char *path, onc_type wtype, onc_pooling pooling,
                              onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_ENC_MODEL_H */
