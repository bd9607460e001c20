/* oncolm/lora.h — LoRA adapters for decoder models: the adapter in memory,
 * PEFT-compatible initialisation, files in llama.cpp's GGUF LoRA format and
 * in PEFT's format (adapter_model.safetensors + adapter_config.json), and
 * merging into a base model.
 *
 * An adapter holds, for some linear layers W (out x in) of a base model, a
 * pair A (rank x in) and B (out x rank), both F32 and row-major exactly as
 * PEFT's lora_A.weight / lora_B.weight, and adds scale * B (A x) to W x,
 * with scale = alpha / rank (rsLoRA: alpha / sqrt(rank)).
 *
 * Row order. Weights are kept in the base GGUF file's row order: for the
 * llama architecture the converter permuted the rows of attn_q and attn_k
 * (and so the rows of their lora_b), see
 * ../shared/reference/gguf-and-llama-formats.md; the PEFT reader and writer
 * apply / undo that permutation, the GGUF ones write rows unchanged.
 *
 * Modules. llama and qwen2: q, k, v, o, gate, up, down (GGUF attn_q,
 * attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down). phi3 has fused
 * tensors: attn_qkv (PEFT qkv_proj) is adapted when any of q, k, v is asked
 * for, ffn_up (PEFT gate_up_proj, gate rows then up rows) when gate or up
 * is. The output head and embeddings are never adapted by oncolm (files
 * holding them are refused with a clear message). */
#ifndef ONCOLM_LORA_H
#define ONCOLM_LORA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/arch.h"
#include "oncolm/gguf.h"
#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The linear layers of a decoder block, as a bit mask. */
typedef enum onc_lora_module {
    ONC_LORA_Q = 1 << 0,
    ONC_LORA_K = 1 << 1,
    ONC_LORA_V = 1 << 2,
    ONC_LORA_O = 1 << 3,
    ONC_LORA_GATE = 1 << 4,
    ONC_LORA_UP = 1 << 5,
    ONC_LORA_DOWN = 1 << 6,
    ONC_LORA_QKV = 1 << 7,     /* phi3 fused attn_qkv */
    ONC_LORA_GATE_UP = 1 << 8, /* phi3 fused ffn_up (gate | up) */
} onc_lora_module;

#define ONC_LORA_ALL_LINEAR                                                                                            \
    (ONC_LORA_Q | ONC_LORA_K | ONC_LORA_V | ONC_LORA_O | ONC_LORA_GATE | ONC_LORA_UP | ONC_LORA_DOWN)

/* Parse "q,k,v,o,gate,up,down" / "all" / "all-linear" / PEFT names
 * ("q_proj", "gate_proj", ...) into a mask; 0 with err set on an unknown
 * name (the message lists the valid ones). */
unsigned onc_lora_modules_parse(const char *list, onc_error *err);
/* "q,k,v,o" style text of a mask into buf. */
const char *onc_lora_modules_name(unsigned mask, char *buf, size_t cap);

/* One adapted linear layer. */
typedef struct onc_lora_weight {
    char base_name[64];     /* GGUF name of the base tensor, e.g. "blk.3.attn_q.weight" */
    int32_t layer;          /* block index */
    onc_lora_module module; /* a single bit (phi3: ONC_LORA_QKV / ONC_LORA_GATE_UP for fused tensors) */
    int64_t n_in, n_out;    /* base W is n_out rows of n_in */
    float *a;               /* [rank][n_in] */
    float *b;               /* [n_out][rank], rows in the base file's order */
} onc_lora_weight;

typedef struct onc_lora {
    char arch[32];           /* base architecture ("llama", "qwen2", "phi3") */
    int64_t rank;
    float alpha;
    bool rslora;             /* scale alpha / sqrt(rank) instead of alpha / rank */
    float dropout;           /* training only (PEFT lora_dropout); 0 at inference */
    unsigned modules;        /* the mask asked for (before phi3 fusing) */
    char base_model[256];    /* base model name or path, for adapter_config.json ("" if unknown) */
    size_t n;                /* weights, in block order then module bit order */
    onc_lora_weight *w;
    /* llama Q/K permutation needs the head counts (from the base model) */
    int64_t n_head, n_head_kv;
} onc_lora;

typedef struct onc_lora_config {
    int64_t rank;     /* default 8 */
    float alpha;      /* default 8 (= rank) */
    bool rslora;      /* default false */
    float dropout;    /* default 0 */
    unsigned modules; /* default ONC_LORA_ALL_LINEAR */
} onc_lora_config;

onc_lora_config onc_lora_config_default(void);

/* Scale applied to B (A x): alpha / rank, or alpha / sqrt(rank) with rsLoRA. */
float onc_lora_scale(const onc_lora *l);

/* A new adapter for the base model described by base (its GGUF, for tensor
 * names and shapes) and hp (architecture, head counts): one weight per
 * block and module of cfg->modules present in the file (phi3: fused). A is
 * PEFT's kaiming_uniform(a = sqrt 5), i.e. U(-1/sqrt(n_in), 1/sqrt(n_in)),
 * drawn from onc_rng seeded with seed in weight order, A row-major; B is
 * zero. Errors: rank < 1, no module of the mask in the model, no memory. */
onc_lora *onc_lora_new(const onc_gguf *base, const onc_hparams *hp, const onc_lora_config *cfg, uint64_t seed,
                       onc_error *err);
void onc_lora_free(onc_lora *l); /* accepts NULL */
/* The weight adapting base tensor `base_name`, or NULL. */
const onc_lora_weight *onc_lora_find(const onc_lora *l, const char *base_name);
/* Total trainable parameters (sum of rank * (n_in + n_out)). */
int64_t onc_lora_n_params(const onc_lora *l);

/* ---- files -------------------------------------------------------------------- */

/* llama.cpp's GGUF LoRA (general.type "adapter", adapter.type "lora",
 * adapter.lora.alpha F32 — alpha * sqrt(rank) for rsLoRA, so llama.cpp's
 * alpha / rank gives the right scale — tensors "<base>.lora_a" ne {in, r}
 * and ".lora_b" ne {r, out}, F32), written to a temporary file and renamed. */
onc_status onc_lora_save_gguf(const onc_lora *l, const char *path, onc_error *err);
/* PEFT: dir/adapter_model.safetensors (F32, metadata {"format":"pt"}, keys
 * base_model.model.model.layers.N.{self_attn,mlp}.X_proj.lora_{A,B}.weight)
 * and dir/adapter_config.json; dir is created if missing; each file atomic. */
onc_status onc_lora_save_peft(const onc_lora *l, const char *dir, onc_error *err);
/* Load either format (a .gguf file; a PEFT directory, or its
 * adapter_model.safetensors / adapter_config.json) for the base model
 * (base, hp): the architecture, the tensor names and every shape must match
 * the base; a clear error names the file and the tensor otherwise.
 * Adapters of the embeddings or the output head are refused. PEFT tensors
 * may be F32, F16 or BF16 (converted to F32 exactly); adapter_config.json
 * gives r, lora_alpha, use_rslora, lora_dropout, target_modules (missing
 * keys take PEFT's defaults; rank_pattern, alpha_pattern, DoRA and
 * fan_in_fan_out are refused). A GGUF file cannot tell rsLoRA apart: it
 * loads with rslora false and alpha as stored, which gives the same scale.
 * Weights come in the order of onc_lora_new; modules is the mask of the
 * weights found (PEFT: target_modules when given). */
onc_lora *onc_lora_load(const char *path, const onc_gguf *base, const onc_hparams *hp, onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_LORA_H */
