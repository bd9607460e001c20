/* llm_lora.c — LoRA adapters at inference (onc_llm_ctx_set_adapters): the
 * adapters' A and B are used in place as F32 weight tensors, and after each
 * adapted product y = W x the forward pass adds scale * B (A x) with two
 * small products (llm_apply_lora), as llama.cpp does for unmerged adapters. */
#include <stdlib.h>
#include <string.h>

#include "llm/llm_impl.h"

void llm_lora_clear(onc_llm_ctx *c) {
    free(c->lora_slots);
    free(c->lora_mats);
    free(c->lora_u);
    free(c->lora_t);
    c->lora_slots = NULL;
    c->lora_mats = NULL;
    c->lora_u = c->lora_t = NULL;
}

/* Slot index of a single-bit module mask, or -1. */
static int slot_of(onc_lora_module m) {
    for (int s = 0; s < LLM_LORA_SLOTS; s++)
        if ((unsigned)m == 1u << s) return s;
    return -1;
}

/* The model tensor a slot adapts in block L (data NULL when the model has none). */
static const onc_tensor *slot_tensor(const llm_layer *L, int slot) {
    static const onc_tensor none;
    switch (1u << slot) {
    case ONC_LORA_Q: return &L->wq;
    case ONC_LORA_K: return &L->wk;
    case ONC_LORA_V: return &L->wv;
    case ONC_LORA_O: return &L->wo;
    case ONC_LORA_GATE: return &L->ffn_gate;
    case ONC_LORA_UP: return &L->ffn_up;
    case ONC_LORA_DOWN: return &L->ffn_down;
    case ONC_LORA_QKV: return &L->wqkv;
    case ONC_LORA_GATE_UP: return &L->ffn_up;
    default: return &none;
    }
}

onc_status onc_llm_ctx_set_adapters(onc_llm_ctx *c, const onc_lora *const *adapters, const float *scales, size_t n,
                                    onc_error *err) {
    const onc_hparams *hp = &c->m->hp;
    const bool phi3 = hp->arch == ONC_ARCH_PHI3;
    size_t n_mats = 0;
    int64_t r_max = 0, out_max = 0;
    /* validate everything before changing anything */
    for (size_t i = 0; i < n; i++) {
        const onc_lora *a = adapters[i];
        if (!a) return onc_error_set(err, ONC_ERR_INVALID, "adapter %zu is NULL", i + 1);
        if (strcmp(a->arch, onc_arch_name(hp->arch)) != 0)
            return onc_error_set(err, ONC_ERR_INVALID, "adapter %zu is for a %s model, this model is %s", i + 1,
                                 a->arch, onc_arch_name(hp->arch));
        for (size_t j = 0; j < a->n; j++) {
            const onc_lora_weight *w = &a->w[j];
            const int slot = slot_of(w->module);
            if (w->layer < 0 || (uint32_t)w->layer >= hp->n_layer || slot < 0)
                return onc_error_set(err, ONC_ERR_INVALID, "adapter %zu: tensor %s: block %d is not in the model (%u blocks)",
                                     i + 1, w->base_name, (int)w->layer, hp->n_layer);
            const onc_tensor *t = slot_tensor(&c->m->layers[w->layer], slot);
            /* phi3's ffn_up is gate|up: only the fused slot may adapt it */
            const bool wrong_kind = phi3 ? w->module == ONC_LORA_UP : w->module == ONC_LORA_GATE_UP;
            if (!t->data || wrong_kind)
                return onc_error_set(err, ONC_ERR_INVALID, "adapter %zu: tensor %s: the model has no such layer", i + 1,
                                     w->base_name);
            if (t->ne[0] != w->n_in || t->ne[1] != w->n_out || a->rank < 1 || !w->a || !w->b)
                return onc_error_set(err, ONC_ERR_INVALID,
                                     "adapter %zu: tensor %s: shape %lld x %lld (rank %lld), the model's is %lld x %lld",
                                     i + 1, w->base_name, (long long)w->n_out, (long long)w->n_in,
                                     (long long)a->rank, (long long)t->ne[1], (long long)t->ne[0]);
            if (a->rank > r_max) r_max = a->rank;
            if (w->n_out > out_max) out_max = w->n_out;
            n_mats++;
        }
    }
    llm_lora_clear(c);
    if (n_mats == 0) return ONC_OK;
    const size_t B = c->p.n_batch;
    c->lora_slots = calloc((size_t)hp->n_layer * LLM_LORA_SLOTS, sizeof *c->lora_slots);
    c->lora_mats = calloc(n_mats, sizeof *c->lora_mats);
    c->lora_u = malloc(B * (size_t)r_max * sizeof(float));
    c->lora_t = malloc(B * (size_t)out_max * sizeof(float));
    if (!c->lora_slots || !c->lora_mats || !c->lora_u || !c->lora_t) {
        llm_lora_clear(c);
        return onc_error_set(err, ONC_ERR_NOMEM, "adapters: out of memory");
    }
    /* count per slot, then place the matrices slot by slot (adapter order kept) */
    size_t k = 0;
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        for (int s = 0; s < LLM_LORA_SLOTS; s++) {
            llm_lora_slot *sl = &c->lora_slots[(size_t)l * LLM_LORA_SLOTS + s];
            sl->mats = c->lora_mats + k;
            for (size_t i = 0; i < n; i++) {
                const onc_lora *a = adapters[i];
                for (size_t j = 0; j < a->n; j++) {
                    onc_lora_weight *w = &a->w[j];
                    if ((uint32_t)w->layer != l || slot_of(w->module) != s) continue;
                    llm_lora_mat *m = &c->lora_mats[k++];
                    m->a = onc_tensor_f32_view(w->a, w->n_in, a->rank, w->n_in, w->base_name);
                    m->b = onc_tensor_f32_view(w->b, a->rank, w->n_out, a->rank, w->base_name);
                    m->scale = (scales ? scales[i] : 1.0f) * onc_lora_scale(a);
                    sl->n++;
                }
            }
        }
    }
    return ONC_OK;
}

onc_status llm_apply_lora(onc_llm_ctx *c, uint32_t l, int slot, onc_tensor *y, const onc_tensor *x, onc_error *err) {
    if (!c->lora_slots) return ONC_OK;
    const llm_lora_slot *sl = &c->lora_slots[(size_t)l * LLM_LORA_SLOTS + slot];
    const int64_t n = x->ne[1] * x->ne[2] * x->ne[3];
    for (int i = 0; i < sl->n; i++) {
        const llm_lora_mat *m = &sl->mats[i];
        const int64_t r = m->a.ne[1], n_out = m->b.ne[1];
        onc_tensor u = onc_tensor_f32_view(c->lora_u, r, n, r, "lora_u"),
                   t = onc_tensor_f32_view(c->lora_t, n_out, n, n_out, "lora_t");
        onc_status st = onc_backend_mul_mat(c->be, &u, &m->a, x, err);
        if (st == ONC_OK) st = onc_backend_scale(c->be, &u, &u, m->scale, err);
        if (st == ONC_OK) st = onc_backend_mul_mat(c->be, &t, &m->b, &u, err);
        if (st == ONC_OK) st = onc_backend_add(c->be, y, y, &t, err);
        if (st != ONC_OK) return st;
    }
    return ONC_OK;
}
