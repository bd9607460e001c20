/* lora_internal.h — shared by the files of src/lora/: the module table, the base
 * model's adaptable layers, adapter allocation and llama's Q/K permutation. */
#ifndef ONCOLM_LORA_INTERNAL_H
#define ONCOLM_LORA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/lora.h"

/* One adaptable linear layer of the base model. */
typedef struct lora_slot {
    int32_t layer;
    onc_lora_module module;
    const onc_gguf_tensor *base; /* 2-D base tensor: ne {n_in, n_out} */
} lora_slot;

/* Every adaptable layer of the base (blocks in order, then module bits in
 * order; phi3: attn_output, ffn_down, attn_qkv, ffn_up as GATE_UP). Refuses
 * architectures without decoder blocks (bert). malloc()ed; *n may be 0. */
lora_slot *lora_slots(const onc_gguf *base, const onc_hparams *hp, size_t *n, onc_error *err);

/* Tensor base name of a module ("attn_q"), PEFT name ("self_attn.q_proj"). */
const char *lora_module_gguf(onc_lora_module m);
const char *lora_module_peft(onc_lora_module m);
/* The unfused modules a single bit stands for (QKV -> Q|K|V, GATE_UP -> GATE|UP). */
unsigned lora_module_unfused(onc_lora_module m);

/* A new adapter for hp's architecture with room for n weights (all zeroed);
 * n_head / n_head_kv / arch set. NULL with err on OOM. */
onc_lora *lora_alloc(const onc_hparams *hp, size_t n, onc_error *err);
/* Fill weight w of l for slot s and allocate a and b (zeroed) of l->rank. */
onc_status lora_weight_init(onc_lora *l, onc_lora_weight *w, const lora_slot *s, onc_error *err);

/* Heads of the llama Q/K permutation for weight w (0: rows not permuted). */
int64_t lora_perm_heads(const onc_lora *l, const onc_lora_weight *w);
/* Reorder the n_out rows of r floats of src into dst (distinct buffers):
 * to_gguf: HF order -> GGUF (converter's permute); else the inverse. */
void lora_permute_rows(float *dst, const float *src, int64_t n_out, int64_t r, int64_t heads, bool to_gguf);

onc_lora *lora_load_gguf(const char *path, const onc_gguf *base, const onc_hparams *hp, onc_error *err);
onc_lora *lora_load_peft(const char *dir, const char *st_path, const char *cfg_path, const onc_gguf *base,
                         const onc_hparams *hp, onc_error *err);

#endif /* ONCOLM_LORA_INTERNAL_H */
