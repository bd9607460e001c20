/* ft_model.c — forward and backward of a decoder with a LoRA adapter over
 * a frozen base (see oncolm/ft_model.h). One block's forward:
 *   h  = rmsnorm(x) * attn_norm
 *   q,k,v = h W^T (+ bias) + LoRA      (phi3: one fused qkv product)
 *   rope(q), rope(k); a = attention(q, k, v)
 *   x' = x + a Wo^T + LoRA
 *   h2 = rmsnorm(x') * ffn_norm
 *   g,u = h2 W^T + LoRA                (phi3: one fused gate|up product)
 *   y  = x' + swiglu(g, u) Wd^T + LoRA
 * The backward pass walks the blocks from the last, recomputing each one's
 * intermediates from its saved input (activation checkpointing). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/compute.h"
#include "oncolm/ft_model.h"
#include "oncolm/rng.h"
#include "oncolm/train_ops.h"
#include "oncolm/types.h"

enum { S_Q, S_K, S_V, S_O, S_GATE, S_UP, S_DOWN, S_QKV, S_GATE_UP, N_SLOTS };

typedef struct ft_block {
    const float *attn_norm, *ffn_norm, *bq, *bk, *bv, *bqkv;
    onc_matrix w[N_SLOTS]; /* data NULL where the model has no such tensor */
    int lora[N_SLOTS];     /* index into lora->w, or -1 */
} ft_block;

struct onc_ft_model {
    const onc_llm *m;
    const onc_lora *lora;
    onc_hparams hp;
    onc_threadpool *tp;
    int64_t max_T, E, H, Hkv, Dh, F, V, nq, gk, gv, nqkv;
    float lora_scale;
    ft_block *blocks;
    onc_matrix tok_embd, output;
    const float *output_norm;
    onc_tensor rope_ff;
    onc_rope_params rope;
    /* activations */
    float *xs;                         /* [(n_layer + 1)][T][E] block inputs, then the final norm input */
    float *h, *qkv, *attn, *xmid, *h2, *gu, *act, *lse, *rstd1, *rstd2, *rstd_f, *hf;
    float *u[N_SLOTS];                 /* LoRA intermediates [T][rank] */
    /* gradients of activations */
    float *dx, *dxmid, *dh, *dqkv, *dattn, *dgu, *dact, *dhf;
    float **grad_a, **grad_b;
    int32_t *pos, *kv_lo, *kv_hi;
    size_t bytes;
};

/* Matrix view of GGUF tensor `name` (NULL data when absent). */
static onc_matrix matrix_of(const onc_gguf *g, const char *name) {
    onc_matrix w = {0};
    const onc_gguf_tensor *t = onc_gguf_find_tensor(g, name);
    if (!t) return w;
    w.type = t->type;
    w.data = t->data;
    w.stride = onc_type_row_size(t->type, t->ne[0]);
    w.n_in = t->ne[0];
    w.n_out = t->ne[1];
    return w;
}

static const float *vector_of(const onc_gguf *g, const char *name) {
    const onc_gguf_tensor *t = onc_gguf_find_tensor(g, name);
    return t && t->type == ONC_TYPE_F32 ? t->data : NULL;
}

static const char *const slot_tensor[N_SLOTS] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate",
                                                  "ffn_up", "ffn_down", "attn_qkv", "ffn_up"};

void onc_ft_model_free(onc_ft_model *f) {
    if (!f) return;
    onc_threadpool_free(f->tp);
    free(f->blocks);
    float *bufs[] = {f->xs,  f->h,     f->qkv,   f->attn, f->xmid,  f->h2,   f->gu,    f->act,   f->lse,
                     f->rstd1, f->rstd2, f->rstd_f, f->hf, f->dx, f->dxmid, f->dh,  f->dqkv, f->dattn,
                     f->dgu, f->dact, f->dhf};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    for (int s = 0; s < N_SLOTS; s++) free(f->u[s]);
    if (f->grad_a)
        for (size_t i = 0; i < f->lora->n; i++) free(f->grad_a[i]), free(f->grad_b[i]);
    free(f->grad_a);
    free(f->grad_b);
    free(f->pos);
    free(f->kv_lo);
    free(f->kv_hi);
    free(f);
}

static float *fbuf(onc_ft_model *f, size_t n, bool *ok) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) *ok = false;
    f->bytes += n * sizeof(float);
    return p;
}

onc_ft_model *onc_ft_model_new(const onc_llm *m, const onc_lora *lora, int64_t max_tokens, int n_threads,
                               onc_error *err) {
    const onc_hparams *hp = onc_llm_hparams(m);
    const onc_gguf *g = onc_llm_gguf(m);
    if (hp->arch != ONC_ARCH_LLAMA && hp->arch != ONC_ARCH_QWEN2 && hp->arch != ONC_ARCH_PHI3) {
        onc_error_set(err, ONC_ERR_UNSUPPORTED, "fine-tuning: architecture %s is not a supported decoder",
                      onc_arch_name(hp->arch));
        return NULL;
    }
    if (strcmp(lora->arch, onc_arch_name(hp->arch)) != 0) {
        onc_error_set(err, ONC_ERR_INVALID, "fine-tuning: the adapter is for %s, the model is %s", lora->arch,
                      onc_arch_name(hp->arch));
        return NULL;
    }
    if (max_tokens < 1) {
        onc_error_set(err, ONC_ERR_INVALID, "fine-tuning: batches must hold at least one token");
        return NULL;
    }
    onc_ft_model *f = calloc(1, sizeof *f);
    if (!f) {
        onc_error_set(err, ONC_ERR_NOMEM, "fine-tuning: out of memory");
        return NULL;
    }
    f->m = m;
    f->lora = lora;
    f->hp = *hp;
    f->max_T = max_tokens;
    f->E = hp->n_embd, f->H = hp->n_head, f->Hkv = hp->n_head_kv, f->Dh = hp->n_embd_head_k, f->F = hp->n_ff;
    f->V = hp->n_vocab;
    f->nq = f->H * f->Dh, f->gk = f->Hkv * f->Dh, f->gv = f->Hkv * (int64_t)hp->n_embd_head_v;
    f->nqkv = f->nq + f->gk + f->gv;
    f->lora_scale = onc_lora_scale(lora);
    if (hp->n_embd_head_v != hp->n_embd_head_k) {
        onc_error_set(err, ONC_ERR_UNSUPPORTED, "fine-tuning: key and value head sizes differ");
        goto fail;
    }
    if (!(f->tp = onc_threadpool_new(n_threads, err))) goto fail;

    f->blocks = calloc(hp->n_layer, sizeof *f->blocks);
    if (!f->blocks) goto nomem;
    char name[96];
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        ft_block *b = &f->blocks[l];
#define VEC(field, t)                                                                                                  \
    snprintf(name, sizeof name, "blk.%u." t, l);                                                                       \
    b->field = vector_of(g, name)
        VEC(attn_norm, "attn_norm.weight");
        VEC(ffn_norm, "ffn_norm.weight");
        VEC(bq, "attn_q.bias");
        VEC(bk, "attn_k.bias");
        VEC(bv, "attn_v.bias");
        VEC(bqkv, "attn_qkv.bias");
#undef VEC
        if (!b->attn_norm || !b->ffn_norm) {
            onc_error_set(err, ONC_ERR_UNSUPPORTED, "fine-tuning: block %u: the norm weights must be F32", l);
            goto fail;
        }
        const bool phi3 = hp->arch == ONC_ARCH_PHI3;
        for (int s = 0; s < N_SLOTS; s++) {
            b->lora[s] = -1;
            /* phi3's ffn_up is the fused gate|up (slot GATE_UP); elsewhere it is UP */
            if ((s == S_UP && phi3) || (s == S_GATE_UP && !phi3)) continue;
            snprintf(name, sizeof name, "blk.%u.%s.weight", l, slot_tensor[s]);
            b->w[s] = matrix_of(g, name);
            const onc_lora_weight *lw = onc_lora_find(lora, name);
            if (lw) {
                if (!b->w[s].data || lw->n_in != b->w[s].n_in || lw->n_out != b->w[s].n_out) {
                    onc_error_set(err, ONC_ERR_INVALID, "fine-tuning: adapter tensor %s does not fit the model", name);
                    goto fail;
                }
                b->lora[s] = (int)(lw - lora->w);
            }
        }
    }
    f->tok_embd = matrix_of(g, "token_embd.weight");
    f->output = matrix_of(g, "output.weight");
    if (!f->output.data) f->output = f->tok_embd;
    f->output_norm = vector_of(g, "output_norm.weight");
    if (!f->output_norm || !f->tok_embd.data) {
        onc_error_set(err, ONC_ERR_UNSUPPORTED, "fine-tuning: token_embd / output_norm (F32) missing");
        goto fail;
    }

    /* rope exactly as llm_decode.c */
    f->rope = (onc_rope_params){.n_rot = (int)hp->n_rot,
                                .mode = onc_arch_rope_type(hp->arch) == ONC_ROPE_NEOX ? ONC_ROPE_MODE_NEOX
                                                                                       : ONC_ROPE_MODE_NORM,
                                .freq_base = hp->rope_freq_base,
                                .freq_scale = 1.0f,
                                .attn_factor = 1.0f,
                                .freq_factors = NULL};
    if (hp->rope_scaling == ONC_ROPE_SCALING_LINEAR && hp->rope_scaling_factor > 0)
        f->rope.freq_scale = 1.0f / hp->rope_scaling_factor;
    const onc_gguf_tensor *ff = onc_gguf_find_tensor(g, "rope_freqs.weight");
    if (hp->arch == ONC_ARCH_PHI3) {
        const uint32_t orig = hp->rope_scaling_orig_ctx ? hp->rope_scaling_orig_ctx : hp->n_ctx_train;
        const onc_gguf_tensor *lo = onc_gguf_find_tensor(g, "rope_factors_long.weight"),
                              *sh = onc_gguf_find_tensor(g, "rope_factors_short.weight");
        ff = (uint64_t)max_tokens > orig && lo ? lo : sh ? sh : lo;
    }
    if (ff) {
        onc_tensor_init(&f->rope_ff, ONC_TYPE_F32, 1, ff->ne, (void *)ff->data, NULL, ff->name);
        f->rope.freq_factors = &f->rope_ff;
    }

    const size_t T = (size_t)max_tokens, E = (size_t)f->E, L = hp->n_layer;
    bool ok = true;
    f->xs = fbuf(f, (L + 1) * T * E, &ok);
    f->h = fbuf(f, T * E, &ok);
    f->qkv = fbuf(f, T * (size_t)f->nqkv, &ok);
    f->attn = fbuf(f, T * (size_t)f->nq, &ok);
    f->xmid = fbuf(f, T * E, &ok);
    f->h2 = fbuf(f, T * E, &ok);
    f->gu = fbuf(f, T * 2 * (size_t)f->F, &ok);
    f->act = fbuf(f, T * (size_t)f->F, &ok);
    f->lse = fbuf(f, T * (size_t)f->H, &ok);
    f->rstd1 = fbuf(f, T, &ok);
    f->rstd2 = fbuf(f, T, &ok);
    f->rstd_f = fbuf(f, T, &ok);
    f->hf = fbuf(f, T * E, &ok);
    f->dx = fbuf(f, T * E, &ok);
    f->dxmid = fbuf(f, T * E, &ok);
    f->dh = fbuf(f, T * E, &ok);
    f->dqkv = fbuf(f, T * (size_t)f->nqkv, &ok);
    f->dattn = fbuf(f, T * (size_t)f->nq, &ok);
    f->dgu = fbuf(f, T * 2 * (size_t)f->F, &ok);
    f->dact = fbuf(f, T * (size_t)f->F, &ok);
    f->dhf = fbuf(f, T * E, &ok);
    for (int s = 0; s < N_SLOTS; s++) f->u[s] = fbuf(f, T * (size_t)lora->rank, &ok);
    f->grad_a = calloc(lora->n ? lora->n : 1, sizeof *f->grad_a);
    f->grad_b = calloc(lora->n ? lora->n : 1, sizeof *f->grad_b);
    if (!f->grad_a || !f->grad_b) goto nomem;
    for (size_t i = 0; i < lora->n; i++) {
        f->grad_a[i] = fbuf(f, (size_t)(lora->rank * lora->w[i].n_in), &ok);
        f->grad_b[i] = fbuf(f, (size_t)(lora->rank * lora->w[i].n_out), &ok);
    }
    f->pos = calloc(T, sizeof(int32_t));
    f->kv_lo = calloc(T, sizeof(int32_t));
    f->kv_hi = calloc(T, sizeof(int32_t));
    if (!ok || !f->pos || !f->kv_lo || !f->kv_hi) goto nomem;
    return f;
nomem:
    onc_error_set(err, ONC_ERR_NOMEM, "fine-tuning: cannot allocate %.1f MiB of activations and gradients for %lld tokens",
                  f->bytes / 1048576.0, (long long)max_tokens);
fail:
    onc_ft_model_free(f);
    return NULL;
}

float *onc_ft_model_grad_a(onc_ft_model *f, size_t i) { return i < f->lora->n ? f->grad_a[i] : NULL; }
float *onc_ft_model_grad_b(onc_ft_model *f, size_t i) { return i < f->lora->n ? f->grad_b[i] : NULL; }
size_t onc_ft_model_bytes(const onc_ft_model *f) { return f->bytes; }

void onc_ft_model_zero_grad(onc_ft_model *f) {
    for (size_t i = 0; i < f->lora->n; i++) {
        memset(f->grad_a[i], 0, (size_t)(f->lora->rank * f->lora->w[i].n_in) * sizeof(float));
        memset(f->grad_b[i], 0, (size_t)(f->lora->rank * f->lora->w[i].n_out) * sizeof(float));
    }
}

#define TRY(expr)                                                                                                      \
    do {                                                                                                               \
        onc_status st_ = (expr);                                                                                       \
        if (st_ != ONC_OK) return st_;                                                                                 \
    } while (0)

static uint64_t dropout_seed_of(uint64_t seed, uint32_t layer, int slot) {
    uint64_t x = seed ^ ((uint64_t)layer << 32) ^ (uint64_t)(slot + 1) * 0x9E3779B97F4A7C15ull;
    return onc_splitmix64(&x);
}

/* y[T][n_out] (stride ldy) = x W^T (+ LoRA of slot s, its intermediate saved). */
static onc_status lin_fwd(onc_ft_model *f, const ft_block *b, uint32_t l, int s, float *y, int64_t ldy, const float *x,
                          int64_t ldx, int64_t T, uint64_t seed, onc_error *err) {
    TRY(onc_linear_fwd(f->tp, y, ldy, &b->w[s], x, ldx, T, err));
    if (b->lora[s] < 0) return ONC_OK;
    const onc_lora_weight *w = &f->lora->w[b->lora[s]];
    return onc_lora_fwd(y, ldy, f->u[s], x, ldx, w->a, w->b, T, w->n_in, w->n_out, f->lora->rank, f->lora_scale,
                        f->lora->dropout, dropout_seed_of(seed, l, s), err);
}

/* dx += dy W (+ LoRA backward of slot s: dA, dB, dx). */
static onc_status lin_bwd(onc_ft_model *f, const ft_block *b, uint32_t l, int s, float *dx, int64_t lddx,
                          const float *dy, int64_t lddy, const float *x, int64_t ldx, int64_t T, uint64_t seed,
                          onc_error *err) {
    TRY(onc_linear_bwd_input(f->tp, dx, lddx, &b->w[s], dy, lddy, T, err));
    if (b->lora[s] < 0) return ONC_OK;
    const int i = b->lora[s];
    const onc_lora_weight *w = &f->lora->w[i];
    return onc_lora_bwd(dx, lddx, f->grad_a[i], f->grad_b[i], dy, lddy, f->u[s], x, ldx, w->a, w->b, T, w->n_in,
                        w->n_out, f->lora->rank, f->lora_scale, f->lora->dropout, dropout_seed_of(seed, l, s), err);
}

static void add_bias(float *y, int64_t ldy, const float *bias, int64_t n, int64_t T) {
    if (!bias) return;
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < n; i++) y[t * ldy + i] += bias[i];
}

/* One block forward from x (block input) to y, keeping its intermediates
 * (and the LoRA intermediates u) in f's buffers. y == NULL is the
 * recomputation for the backward pass: the block output is not needed, so
 * the FFN down product (T x F x E, the largest of the block) is skipped and
 * only the down slot's LoRA intermediate u = drop(act) A^T is computed (its
 * rank-r output product goes to the dh scratch, unused). */
static onc_status block_fwd(onc_ft_model *f, uint32_t l, const float *x, float *y, int64_t T, uint64_t seed,
                            onc_error *err) {
    const ft_block *b = &f->blocks[l];
    const int64_t E = f->E, R = f->nqkv, F = f->F;
    const float eps = f->hp.norm_rms_eps;
    onc_rmsnorm_fwd(f->h, f->rstd1, x, b->attn_norm, T, E, eps);
    if (b->w[S_QKV].data) {
        TRY(lin_fwd(f, b, l, S_QKV, f->qkv, R, f->h, E, T, seed, err));
        add_bias(f->qkv, R, b->bqkv, R, T);
    } else {
        TRY(lin_fwd(f, b, l, S_Q, f->qkv, R, f->h, E, T, seed, err));
        TRY(lin_fwd(f, b, l, S_K, f->qkv + f->nq, R, f->h, E, T, seed, err));
        TRY(lin_fwd(f, b, l, S_V, f->qkv + f->nq + f->gk, R, f->h, E, T, seed, err));
        add_bias(f->qkv, R, b->bq, f->nq, T);
        add_bias(f->qkv + f->nq, R, b->bk, f->gk, T);
        add_bias(f->qkv + f->nq + f->gk, R, b->bv, f->gv, T);
    }
    onc_rope_fwd(f->qkv, T, f->H, f->Dh, R, f->pos, &f->rope);
    onc_rope_fwd(f->qkv + f->nq, T, f->Hkv, f->Dh, R, f->pos, &f->rope);
    const float scale = 1.0f / sqrtf((float)f->Dh);
    TRY(onc_attention_fwd(f->tp, f->attn, f->nq, f->lse, f->qkv, R, f->qkv + f->nq, R, f->qkv + f->nq + f->gk, R, T,
                          f->H, f->Hkv, f->Dh, f->kv_lo, f->kv_hi, scale, err));
    /* xmid = x + attn Wo^T */
    memcpy(f->xmid, x, (size_t)(T * E) * sizeof(float));
    float *o = f->h2; /* h2 is free until the FFN norm */
    TRY(lin_fwd(f, b, l, S_O, o, E, f->attn, f->nq, T, seed, err));
    for (int64_t i = 0; i < T * E; i++) f->xmid[i] += o[i];
    onc_rmsnorm_fwd(f->h2, f->rstd2, f->xmid, b->ffn_norm, T, E, eps);
    /* gate | up side by side in gu[T][2F] */
    if (b->w[S_GATE_UP].data) {
        TRY(lin_fwd(f, b, l, S_GATE_UP, f->gu, 2 * F, f->h2, E, T, seed, err));
    } else {
        TRY(lin_fwd(f, b, l, S_GATE, f->gu, 2 * F, f->h2, E, T, seed, err));
        TRY(lin_fwd(f, b, l, S_UP, f->gu + F, 2 * F, f->h2, E, T, seed, err));
    }
    for (int64_t t = 0; t < T; t++) onc_swiglu_fwd(f->act + t * F, f->gu + t * 2 * F, f->gu + t * 2 * F + F, F);
    if (!y) {
        if (b->lora[S_DOWN] < 0) return ONC_OK;
        const onc_lora_weight *w = &f->lora->w[b->lora[S_DOWN]];
        return onc_lora_fwd(f->dh, E, f->u[S_DOWN], f->act, F, w->a, w->b, T, w->n_in, w->n_out, f->lora->rank,
                            f->lora_scale, f->lora->dropout, dropout_seed_of(seed, l, S_DOWN), err);
    }
    TRY(lin_fwd(f, b, l, S_DOWN, y, E, f->act, F, T, seed, err));
    for (int64_t i = 0; i < T * E; i++) y[i] += f->xmid[i];
    return ONC_OK;
}

/* Backward through block l: f->dx holds dL/dy on entry and dL/dx on return. */
static onc_status block_bwd(onc_ft_model *f, uint32_t l, const float *x, int64_t T, uint64_t seed, onc_error *err) {
    const ft_block *b = &f->blocks[l];
    const int64_t E = f->E, R = f->nqkv, F = f->F;
    TRY(block_fwd(f, l, x, NULL, T, seed, err)); /* recompute the intermediates (not the output) */
    memcpy(f->dxmid, f->dx, (size_t)(T * E) * sizeof(float));
    memset(f->dact, 0, (size_t)(T * F) * sizeof(float));
    TRY(lin_bwd(f, b, l, S_DOWN, f->dact, F, f->dx, E, f->act, F, T, seed, err));
    memset(f->dgu, 0, (size_t)(T * 2 * F) * sizeof(float));
    for (int64_t t = 0; t < T; t++)
        onc_swiglu_bwd(f->dgu + t * 2 * F, f->dgu + t * 2 * F + F, f->dact + t * F, f->gu + t * 2 * F,
                       f->gu + t * 2 * F + F, F);
    memset(f->dh, 0, (size_t)(T * E) * sizeof(float));
    if (b->w[S_GATE_UP].data) {
        TRY(lin_bwd(f, b, l, S_GATE_UP, f->dh, E, f->dgu, 2 * F, f->h2, E, T, seed, err));
    } else {
        TRY(lin_bwd(f, b, l, S_GATE, f->dh, E, f->dgu, 2 * F, f->h2, E, T, seed, err));
        TRY(lin_bwd(f, b, l, S_UP, f->dh, E, f->dgu + F, 2 * F, f->h2, E, T, seed, err));
    }
    onc_rmsnorm_bwd(f->dxmid, NULL, f->dh, f->xmid, f->rstd2, b->ffn_norm, T, E);
    /* attention output: dx = dxmid (residual) + back through Wo, attention, qkv, norm */
    memcpy(f->dx, f->dxmid, (size_t)(T * E) * sizeof(float));
    memset(f->dattn, 0, (size_t)(T * f->nq) * sizeof(float));
    TRY(lin_bwd(f, b, l, S_O, f->dattn, f->nq, f->dxmid, E, f->attn, f->nq, T, seed, err));
    memset(f->dqkv, 0, (size_t)(T * R) * sizeof(float));
    const float scale = 1.0f / sqrtf((float)f->Dh);
    TRY(onc_attention_bwd(f->tp, f->dqkv, f->dqkv + f->nq, f->dqkv + f->nq + f->gk, f->dattn, f->nq, f->attn, f->lse,
                          f->qkv, R, f->qkv + f->nq, R, f->qkv + f->nq + f->gk, R, T, f->H, f->Hkv, f->Dh, f->kv_lo,
                          f->kv_hi, scale, err));
    onc_rope_bwd(f->dqkv, T, f->H, f->Dh, R, f->pos, &f->rope);
    onc_rope_bwd(f->dqkv + f->nq, T, f->Hkv, f->Dh, R, f->pos, &f->rope);
    memset(f->dh, 0, (size_t)(T * E) * sizeof(float));
    if (b->w[S_QKV].data) {
        TRY(lin_bwd(f, b, l, S_QKV, f->dh, E, f->dqkv, R, f->h, E, T, seed, err));
    } else {
        TRY(lin_bwd(f, b, l, S_Q, f->dh, E, f->dqkv, R, f->h, E, T, seed, err));
        TRY(lin_bwd(f, b, l, S_K, f->dh, E, f->dqkv + f->nq, R, f->h, E, T, seed, err));
        TRY(lin_bwd(f, b, l, S_V, f->dh, E, f->dqkv + f->nq + f->gk, R, f->h, E, T, seed, err));
    }
    onc_rmsnorm_bwd(f->dx, NULL, f->dh, x, f->rstd1, b->attn_norm, T, E);
    return ONC_OK;
}

onc_status onc_ft_model_step(onc_ft_model *f, const int32_t *ids, const int32_t *labels, const int32_t *seq_start,
                             int64_t T, bool backward, float grad_scale, uint64_t dropout_seed, double *loss_sum,
                             int64_t *n_counted, onc_error *err) {
    if (T < 1 || T > f->max_T)
        return onc_error_set(err, ONC_ERR_INVALID, "fine-tuning: %lld tokens in a batch, at most %lld", (long long)T,
                             (long long)f->max_T);
    for (int64_t t = 0; t < T; t++) {
        if (ids[t] < 0 || ids[t] >= f->V || labels[t] < -1 || labels[t] >= f->V)
            return onc_error_set(err, ONC_ERR_INVALID, "fine-tuning: token or label at %lld is outside the vocabulary",
                                 (long long)t);
        const int32_t s = seq_start ? seq_start[t] : 0;
        if (s < 0 || s > t || (t > 0 && s != (seq_start ? seq_start[t - 1] : 0) && s != t))
            return onc_error_set(err, ONC_ERR_INVALID, "fine-tuning: bad sequence start %d at token %lld", s,
                                 (long long)t);
        f->kv_lo[t] = s;
        f->kv_hi[t] = (int32_t)t + 1;
        f->pos[t] = (int32_t)t - s;
    }
    const int64_t E = f->E;
    const uint32_t L = f->hp.n_layer;
    /* embeddings (dequantized rows) */
    for (int64_t t = 0; t < T; t++)
        onc_dequantize_row(f->tok_embd.type, (const char *)f->tok_embd.data + (size_t)ids[t] * f->tok_embd.stride,
                           f->xs + t * E, E);
    for (uint32_t l = 0; l < L; l++)
        TRY(block_fwd(f, l, f->xs + (size_t)l * f->max_T * E, f->xs + (size_t)(l + 1) * f->max_T * E, T,
                      dropout_seed, err));
    const float *xl = f->xs + (size_t)L * f->max_T * E;
    onc_rmsnorm_fwd(f->hf, f->rstd_f, xl, f->output_norm, T, E, f->hp.norm_rms_eps);
    if (backward) memset(f->dhf, 0, (size_t)(T * E) * sizeof(float));
    TRY(onc_cross_entropy_chunked(f->tp, loss_sum, n_counted, backward ? f->dhf : NULL, f->hf, &f->output, labels, T,
                                  grad_scale, err));
    if (!backward) return ONC_OK;
    memset(f->dx, 0, (size_t)(T * E) * sizeof(float));
    onc_rmsnorm_bwd(f->dx, NULL, f->dhf, xl, f->rstd_f, f->output_norm, T, E);
    for (uint32_t l = L; l-- > 0;)
        TRY(block_bwd(f, l, f->xs + (size_t)l * f->max_T * E, T, dropout_seed, err));
    return ONC_OK;
}
