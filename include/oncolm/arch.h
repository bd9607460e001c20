/* oncolm/arch.h — the architectures oncolm supports, described once:
 * hyper-parameters (read from / written to GGUF with exactly llama.cpp's keys
 * and types) and the list of tensors each architecture has.
 *
 *   llama  Llama-2/3/3.1, Mistral, Zephyr, TinyLlama (RMS norm, NORM rope,
 *          SiLU-gated FFN, optional rope_freqs for Llama 3.1 scaling)
 *   qwen2  as llama plus q/k/v biases, NEOX rope
 *   phi3   fused attn_qkv, ffn_up holding gate and up (2*n_ff), NEOX rope,
 *          optional longrope factors
 *   bert   post-norm encoder with LayerNorm (weight+bias), learned positions,
 *          token types, pooling and an optional classifier head
 *
 * Facts: shared/reference/gguf-and-llama-formats.md, Q3 (llama/qwen2/phi3)
 * and Q4 (bert). Shapes are in ggml ne order (ne[0] contiguous): an HF
 * nn.Linear weight [out, in] is {in, out}.
 *
 * Thread-safety: plain data and pure functions; reentrant. */
#ifndef ONCOLM_ARCH_H
#define ONCOLM_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/gguf.h"
#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum onc_arch {
    ONC_ARCH_LLAMA = 0,
    ONC_ARCH_QWEN2 = 1,
    ONC_ARCH_PHI3 = 2,
    ONC_ARCH_BERT = 3,
    ONC_ARCH_COUNT = 4,
} onc_arch;

/* general.architecture value ("llama", "qwen2", "phi3", "bert"). */
const char *onc_arch_name(onc_arch arch);
/* Architecture from its name; false when not supported. */
bool onc_arch_from_name(const char *name, onc_arch *out);

/* llama.h llama_rope_type: how pairs of head values are rotated. */
typedef enum onc_rope_type {
    ONC_ROPE_NONE = -1, /* bert: learned absolute positions */
    ONC_ROPE_NORM = 0,  /* llama: (x[2i], x[2i+1]) */
    ONC_ROPE_NEOX = 2,  /* qwen2, phi3: (x[i], x[i + n_rot/2]) */
} onc_rope_type;
onc_rope_type onc_arch_rope_type(onc_arch arch);

typedef enum onc_rope_scaling {
    ONC_ROPE_SCALING_NONE = 0,
    ONC_ROPE_SCALING_LINEAR = 1,
    ONC_ROPE_SCALING_YARN = 2,
    ONC_ROPE_SCALING_LONGROPE = 3,
} onc_rope_scaling;

/* llama.h llama_pooling_type (stored as u32 bert.pooling_type). */
typedef enum onc_pooling {
    ONC_POOLING_UNSPECIFIED = -1,
    ONC_POOLING_NONE = 0,
    ONC_POOLING_MEAN = 1,
    ONC_POOLING_CLS = 2,
    ONC_POOLING_LAST = 3,
    ONC_POOLING_RANK = 4,
} onc_pooling;

/* Hyper-parameters of a model. Plain data except cls_labels (owned; release
 * with onc_hparams_clear). Start from onc_hparams_default(arch). */
typedef struct onc_hparams {
    onc_arch arch;
    uint32_t n_vocab;        /* rows of token_embd */
    uint32_t n_ctx_train;    /* {arch}.context_length (bert: position_embd rows) */
    uint32_t n_embd;         /* {arch}.embedding_length */
    uint32_t n_layer;        /* {arch}.block_count */
    uint32_t n_head;         /* {arch}.attention.head_count */
    uint32_t n_head_kv;      /* {arch}.attention.head_count_kv (default n_head) */
    uint32_t n_ff;           /* {arch}.feed_forward_length */
    uint32_t n_embd_head_k;  /* {arch}.attention.key_length (default n_embd/n_head) */
    uint32_t n_embd_head_v;  /* {arch}.attention.value_length (default n_embd/n_head) */
    uint32_t n_rot;          /* {arch}.rope.dimension_count (default n_embd_head_k) */
    float norm_rms_eps;      /* {arch}.attention.layer_norm_rms_epsilon (llama, qwen2, phi3) */
    float norm_eps;          /* {arch}.attention.layer_norm_epsilon (bert) */
    float rope_freq_base;    /* {arch}.rope.freq_base (default 10000) */
    onc_rope_scaling rope_scaling;    /* {arch}.rope.scaling.type (default none) */
    float rope_scaling_factor;        /* {arch}.rope.scaling.factor (0 = none) */
    uint32_t rope_scaling_orig_ctx;   /* {arch}.rope.scaling.original_context_length */
    bool causal_attn;        /* decoders true; bert.attention.causal (written false) */
    /* Tensor-set flags (read: derived from which tensors the file has). */
    bool tied_embeddings;    /* no output.weight: logits use token_embd */
    bool fused_qkv;          /* attn_qkv instead of attn_q/k/v (phi3 default) */
    bool has_rope_freqs;     /* llama: rope_freqs.weight {n_rot/2} (Llama 3.1) */
    bool has_rope_factors;   /* phi3: rope_factors_long/short {n_rot/2} */
    /* bert */
    uint32_t n_token_types;  /* tokenizer.ggml.token_type_count (0 = no token_types) */
    onc_pooling pooling;     /* bert.pooling_type */
    bool has_cls;            /* cls.weight/bias {n_embd, n_embd} (dense + tanh) */
    bool has_cls_out;        /* cls.output.weight/bias {n_embd, n_cls_out} */
    uint32_t n_cls_out;      /* classifier outputs (labels count; default 1) */
    char **cls_labels;       /* [n_cls_out] bert.classifier.output_labels, or NULL */
} onc_hparams;

/* Defaults as llama.cpp for arch (counts 0: the caller fills them). */
onc_hparams onc_hparams_default(onc_arch arch);
/* Free cls_labels and reset them. Accepts NULL. */
void onc_hparams_clear(onc_hparams *hp);
/* Set the classifier labels (copied; replaces earlier ones; n_cls_out = n).
 * ONC_ERR_NOMEM on allocation failure. */
onc_status onc_hparams_set_labels(onc_hparams *hp, const char *const *labels, uint32_t n);

/* Check internal consistency: counts > 0, n_embd_head_k*n_head sizes,
 * n_head % n_head_kv == 0, n_rot <= head size and even, ... `what` names
 * the model in the message. */
onc_status onc_hparams_validate(const onc_hparams *hp, const char *what, onc_error *err);

/* Read hyper-parameters from an open GGUF: general.architecture selects the
 * architecture; every key is type-checked as llama.cpp does (u32 counts,
 * f32 eps/freq_base, bool causal, u32 pooling, string labels) and missing
 * optional keys take llama.cpp's defaults. Flags are derived from the tensor
 * table (output.weight absent -> tied, ...). n_vocab comes from
 * {arch}.vocab_size, else tokenizer.ggml.tokens, else token_embd.weight.
 * Errors name the file and the key. *out is overwritten; on success the
 * caller owns its labels (onc_hparams_clear). */
onc_status onc_hparams_from_gguf(const onc_gguf *g, onc_hparams *out, onc_error *err);

/* Write general.architecture and every {arch}.* key (plus, for bert,
 * tokenizer.ggml.token_type_count) with the exact types llama.cpp requires.
 * Optional keys are written only when they differ from the defaults a
 * reader would assume (key_length, rope scaling). Validates first. */
onc_status onc_hparams_write_gguf(const onc_hparams *hp, onc_gguf_writer *w, onc_error *err);

// --- tensors -------------------------------------------------------------------

typedef enum onc_tensor_role {
    ONC_ROLE_TOKEN_EMBD,
    ONC_ROLE_TOKEN_TYPES,
    ONC_ROLE_POS_EMBD,
    ONC_ROLE_TOKEN_EMBD_NORM,
    ONC_ROLE_OUTPUT_NORM,
    ONC_ROLE_OUTPUT,
    ONC_ROLE_ROPE_FREQS,
    ONC_ROLE_ROPE_FACTORS_LONG,
    ONC_ROLE_ROPE_FACTORS_SHORT,
    ONC_ROLE_ATTN_NORM,
    ONC_ROLE_ATTN_Q,
    ONC_ROLE_ATTN_K,
    ONC_ROLE_ATTN_V,
    ONC_ROLE_ATTN_QKV,
    ONC_ROLE_ATTN_OUT,
    ONC_ROLE_ATTN_OUT_NORM, /* bert post-attention LayerNorm */
    ONC_ROLE_FFN_NORM,
    ONC_ROLE_FFN_GATE,
    ONC_ROLE_FFN_UP,
    ONC_ROLE_FFN_DOWN,
    ONC_ROLE_LAYER_OUT_NORM, /* bert post-FFN LayerNorm */
    ONC_ROLE_CLS,
    ONC_ROLE_CLS_OUT,
    ONC_ROLE_COUNT,
} onc_tensor_role;

/* Base name of a role ("attn_q", "cls.output", ...). */
const char *onc_tensor_role_name(onc_tensor_role role);

/* How a freshly created model initialises a tensor. */
typedef enum onc_init_kind {
    ONC_INIT_NORMAL = 0, /* N(0, std^2) weights */
    ONC_INIT_ONES = 1,   /* norm weights, rope factors */
    ONC_INIT_ZEROS = 2,  /* biases */
} onc_init_kind;

typedef struct onc_arch_tensor {
    char name[ONC_GGUF_MAX_NAME]; /* full GGUF name, e.g. "blk.3.attn_q.weight" */
    onc_tensor_role role;
    int32_t layer;                /* block index, -1 for global tensors */
    bool is_bias;                 /* ".bias" (else ".weight") */
    uint32_t n_dims;              /* 1 or 2 */
    int64_t ne[ONC_GGUF_MAX_DIMS];/* ggml order; unused dims are 1 */
    bool required;                /* llama.cpp fails to load without it */
    bool keep_f32;                /* 1-D (norms, biases, rope factors) or tiny
                                     table: never quantized */
    onc_init_kind init;
} onc_arch_tensor;

/* The tensors of a model with these hyper-parameters, in the canonical
 * order (global input tensors, then blocks in order, then output tensors).
 * Optional tensors appear when the hparams flags say the model has them
 * (marked required=false); e.g. output.weight is absent when tied. Returns a
 * malloc()ed array (caller frees) and its length, or NULL with err. */
onc_arch_tensor *onc_arch_tensors(const onc_hparams *hp, size_t *n_out, onc_error *err);

/* Number of parameters of those tensors. */
int64_t onc_hparams_n_params(const onc_hparams *hp);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_ARCH_H */
