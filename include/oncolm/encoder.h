/* oncolm/encoder.h — text encoders: sentence embeddings, sequence
 * classification and cross-encoder reranking.
 *
 * An onc_encoder wraps either
 *   - a `bert` GGUF (BERT, RoBERTa-style, MiniLM, BGE, E5, PubMedBERT ...):
 *     token + position + token-type embeddings, LayerNorm, post-norm blocks
 *     (exact erf GELU, as Hugging Face's "gelu"), bidirectional attention,
 *     optional classifier head (cls: dense + tanh, cls.output: linear); or
 *   - a decoder GGUF (llama, qwen2, phi3) used as an embedder (E5-Mistral
 *     style): the final hidden states after the output norm, pooled.
 *
 * Batching. Inputs of different lengths are packed one after another into a
 * forward pass of up to n_batch tokens; each token attends only to the
 * tokens of its own input (the attention mask of a padded batch, without
 * computing the padding). Results do not depend on how inputs are grouped
 * into batches beyond float rounding (tests check batched == one by one).
 *
 * Long inputs (more tokens than max_tokens, special tokens included):
 *   ONC_OVERFLOW_TRUNCATE (default) keeps the first max_tokens;
 *   ONC_OVERFLOW_WINDOWS splits the content into windows of max_tokens
 *     (special tokens added to each) starting every window_stride content
 *     tokens (default: half a window; the last window ends at the text's
 *     end), encodes each, and combines: embeddings = mean of the windows'
 *     pooled vectors weighted by their content tokens (then normalised);
 *     classification = mean of the windows' probabilities; reranking = the
 *     best window's score (MaxP);
 *   ONC_OVERFLOW_ERROR fails naming the input and its length.
 *
 * Pooling: ONC_POOLING_UNSPECIFIED takes the file's bert.pooling_type,
 * else MEAN for bert and LAST for decoders. MEAN averages every token
 * (special tokens included, as sentence-transformers); CLS takes the first
 * token, LAST the last. NONE returns per-token vectors
 * (onc_encoder_token_states). Heads always read the first ([CLS]) token,
 * as BertForSequenceClassification and llama.cpp's rank pooling do.
 *
 * Thread-safety: an encoder owns a thread pool and scratch; one thread at a
 * time per encoder. Load several encoders to run in parallel. */
#ifndef ONCOLM_ENCODER_H
#define ONCOLM_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/arch.h"
#include "oncolm/status.h"
#include "oncolm/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_encoder onc_encoder;

typedef enum onc_overflow {
    ONC_OVERFLOW_TRUNCATE = 0,
    ONC_OVERFLOW_WINDOWS = 1,
    ONC_OVERFLOW_ERROR = 2,
} onc_overflow;

typedef struct onc_encoder_params {
    int n_threads;          /* <= 0: all online CPUs */
    onc_pooling pooling;    /* ONC_POOLING_UNSPECIFIED: from the file (see above) */
    bool normalize;         /* L2-normalise pooled embeddings (default true) */
    uint32_t max_tokens;    /* tokens per input, specials included; 0 = the model's
                               context (decoders: at most 4096) */
    onc_overflow overflow;  /* default ONC_OVERFLOW_TRUNCATE */
    uint32_t window_stride; /* content tokens between window starts; 0 = half a window */
    uint32_t n_batch;       /* tokens per forward pass (default 2048; raised to max_tokens) */
} onc_encoder_params;

onc_encoder_params onc_encoder_default_params(void);

/* Load an encoder from a GGUF file (bert, llama, qwen2 or phi3). Errors name
 * the file: unsupported architecture, missing/misshapen tensors, bad
 * parameters (ONC_POOLING_RANK without a classifier head, max_tokens larger
 * than the model's context ...). */
onc_encoder *onc_encoder_load(const char *path, const onc_encoder_params *p, onc_error *err);
void onc_encoder_free(onc_encoder *e); /* accepts NULL */

const onc_hparams *onc_encoder_hparams(const onc_encoder *e);
const onc_tokenizer *onc_encoder_tokenizer(const onc_encoder *e);
uint32_t onc_encoder_dim(const onc_encoder *e);        /* embedding size (n_embd) */
uint32_t onc_encoder_max_tokens(const onc_encoder *e); /* effective max_tokens */
onc_pooling onc_encoder_pooling(const onc_encoder *e); /* effective pooling */
/* Classifier outputs: 0 when the model has no head (cls.output). */
uint32_t onc_encoder_n_labels(const onc_encoder *e);
/* Label name i (from bert.classifier.output_labels, else "LABEL_<i>"). */
const char *onc_encoder_label(const onc_encoder *e, uint32_t i);
/* Inputs truncated by the last call (ONC_OVERFLOW_TRUNCATE), for warnings. */
size_t onc_encoder_n_truncated(const onc_encoder *e);

/* One tokenized input: ids with optional token types (NULL = all 0). */
typedef struct onc_encoder_input {
    const int32_t *tokens;
    const int32_t *types;
    int32_t n_tokens;
} onc_encoder_input;

/* Pooled embeddings of n texts (lens NULL = NUL-terminated) into out
 * [n * dim], tokenized with the model's special tokens, long texts handled
 * by the overflow policy. Invalid UTF-8 is an error naming the input.
 * Pooling must not be NONE. */
onc_status onc_encoder_embed(onc_encoder *e, const char *const *texts, const size_t *lens, size_t n, float *out,
                             onc_error *err);

/* Pooled embeddings of pre-tokenized inputs (used as given: no special
 * tokens added; each at most max_tokens, else ONC_ERR_INVALID). */
onc_status onc_encoder_embed_tokens(onc_encoder *e, const onc_encoder_input *in, size_t n, float *out,
                                    onc_error *err);

/* Per-token final hidden states of one text (pooling NONE or any): *out is
 * malloc()ed [*n_tokens * dim] (caller frees). The overflow policy applies
 * (windows: an error; use truncate). */
onc_status onc_encoder_token_states(onc_encoder *e, const char *text, size_t len, float **out, int32_t *n_tokens,
                                    onc_error *err);

/* Class probabilities of n texts into probs [n * n_labels]: softmax over the
 * head's outputs (a single output: its sigmoid). Needs a classifier head. */
onc_status onc_encoder_classify(onc_encoder *e, const char *const *texts, const size_t *lens, size_t n, float *probs,
                                onc_error *err);

/* Cross-encoder relevance of n passages to a query into scores [n]: the
 * head's first output (a logit; higher = more relevant) for the pair
 * "[CLS] query [SEP] passage [SEP]" (RoBERTa vocabularies: "<s> q </s></s>
 * p </s>"), passage tokens of type 1 when the model has two token types.
 * Long pairs: the passage is truncated or windowed (the query never is).
 * Needs a classifier head. */
onc_status onc_encoder_rerank(onc_encoder *e, const char *query, size_t query_len, const char *const *passages,
                              const size_t *lens, size_t n, float *scores, onc_error *err);

/* Pool per-token states h [n_tokens * dim] into out [dim] (MEAN, CLS or
 * LAST), exposed for tests and training code. */
void onc_encoder_pool(onc_pooling pooling, const float *h, int32_t n_tokens, uint32_t dim, float *out);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_ENCODER_H */
