/* encoder_bert.c — the `bert` architecture: binding its tensors and the
 * forward pass over a packed batch (see oncolm/encoder.h, encoder_impl.h).
 *
 * Graph (Hugging Face BertModel; llama.cpp's bert graph except for the
 * exact erf GELU and real token types):
 *   x = LN(tok_embd[id] + token_types[type] + position_embd[pos])
 *   per layer: a = Attn(x) (bidirectional inside each input);
 *              h = LN(x + a Wo + bo);  x = LN(h + gelu(h Wup + bup) Wdown + bdown)
 * Every step is an onc_backend_* op on descriptors over scratch buffers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/encoder_impl.h"
#include "model/model_bind.h"

#define TRY(expr)                                                                                                      \
    do {                                                                                                               \
        onc_status st_ = (expr);                                                                                       \
        if (st_ != ONC_OK) return st_;                                                                                 \
    } while (0)

static onc_tensor *slot_of(onc_encoder *e, const onc_arch_tensor *w) {
    enc_layer *L = w->layer >= 0 ? &e->layers[w->layer] : NULL;
    const bool b = w->is_bias;
    switch (w->role) {
    case ONC_ROLE_TOKEN_EMBD: return &e->tok_embd;
    case ONC_ROLE_TOKEN_TYPES: return &e->types;
    case ONC_ROLE_POS_EMBD: return &e->pos_embd;
    case ONC_ROLE_TOKEN_EMBD_NORM: return b ? &e->embd_norm_b : &e->embd_norm_w;
    case ONC_ROLE_ATTN_Q: return b ? &L->bq : &L->wq;
    case ONC_ROLE_ATTN_K: return b ? &L->bk : &L->wk;
    case ONC_ROLE_ATTN_V: return b ? &L->bv : &L->wv;
    case ONC_ROLE_ATTN_QKV: return b ? &L->bqkv : &L->wqkv;
    case ONC_ROLE_ATTN_OUT: return b ? &L->bo : &L->wo;
    case ONC_ROLE_ATTN_OUT_NORM: return b ? &L->attn_norm_b : &L->attn_norm_w;
    case ONC_ROLE_FFN_UP: return b ? &L->bup : &L->up;
    case ONC_ROLE_FFN_DOWN: return b ? &L->bdown : &L->down;
    case ONC_ROLE_LAYER_OUT_NORM: return b ? &L->out_norm_b : &L->out_norm_w;
    case ONC_ROLE_CLS: return b ? &e->cls_b : &e->cls_w;
    case ONC_ROLE_CLS_OUT: return b ? &e->cls_out_b : &e->cls_out_w;
    default: return NULL;
    }
}

onc_status enc_bert_init(onc_encoder *e, onc_error *err) {
    const char *path = onc_gguf_path(e->gguf);
    const onc_hparams *hp = &e->hp;
    if (hp->n_embd_head_k != hp->n_embd_head_v)
        return onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: key and value head sizes differ (%u, %u): not supported",
                             path, hp->n_embd_head_k, hp->n_embd_head_v);
    if (!(e->layers = calloc(hp->n_layer, sizeof *e->layers)))
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
    size_t n_list = 0;
    onc_arch_tensor *list = onc_arch_tensors(hp, &n_list, err);
    if (!list) return err ? err->code : ONC_ERR_FORMAT;
    onc_status st = ONC_OK;
    for (size_t i = 0; i < n_list && st == ONC_OK; i++) {
        onc_tensor *slot = slot_of(e, &list[i]);
        if (slot) st = onc_model_bind_tensor(e->gguf, hp->arch, &list[i], slot, err);
    }
    free(list);
    if (st != ONC_OK) return st;

    const size_t T = e->n_batch, E = hp->n_embd, F = hp->n_ff;
    const size_t nqkv = (size_t)hp->n_embd_head_k * (hp->n_head + 2 * hp->n_head_kv);
    e->x = malloc(T * E * sizeof(float));
    e->h = malloc(T * E * sizeof(float));
    e->q = malloc(T * nqkv * sizeof(float));
    e->k = malloc(T * E * sizeof(float));
    e->v = malloc(T * E * sizeof(float));
    e->vt = malloc(T * E * sizeof(float));
    e->attn = malloc(T * E * sizeof(float));
    e->tmp = malloc(T * E * sizeof(float));
    e->ff = malloc(T * F * sizeof(float));
    e->ids = malloc(T * sizeof(int32_t));
    e->type_ids = malloc(T * sizeof(int32_t));
    e->pos = malloc(T * sizeof(int32_t));
    e->cells = malloc(T * sizeof(int32_t));
    e->kv_start = malloc(T * sizeof(int32_t));
    e->kv_len = malloc(T * sizeof(int32_t));
    if (!e->x || !e->h || !e->q || !e->k || !e->v || !e->vt || !e->attn || !e->tmp || !e->ff || !e->ids ||
        !e->type_ids || !e->pos || !e->cells || !e->kv_start || !e->kv_len)
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory for a batch of %zu tokens", path, T);
    return ONC_OK;
}

void enc_bert_free(onc_encoder *e) {
    free(e->layers);
    free(e->x), free(e->h), free(e->q), free(e->k), free(e->v), free(e->vt), free(e->attn), free(e->tmp);
    free(e->ff), free(e->ids), free(e->type_ids), free(e->pos), free(e->cells), free(e->kv_start), free(e->kv_len);
}

/* dst = layer_norm(a) * w + b (dst may alias a). */
static onc_status layer_norm(onc_backend *be, onc_tensor *dst, const onc_tensor *a, const onc_tensor *w,
                             const onc_tensor *b, float eps, onc_error *err) {
    return onc_backend_layer_norm_affine(be, dst, a, w, b, eps, err);
}

/* dst = x W^T (+ bias when present). */
static onc_status linear(onc_backend *be, onc_tensor *dst, const onc_tensor *w, const onc_tensor *bias,
                         const onc_tensor *x, onc_error *err) {
    TRY(onc_backend_mul_mat(be, dst, w, x, err));
    return bias->data ? onc_backend_add(be, dst, dst, bias, err) : ONC_OK;
}

onc_status enc_bert_forward(onc_encoder *e, const enc_batch *b, onc_error *err) {
    const onc_hparams *hp = &e->hp;
    onc_backend *be = e->be;
    const int64_t T = b->n_tokens, E = hp->n_embd, H = hp->n_head, Hkv = hp->n_head_kv, D = hp->n_embd_head_k,
                  F = hp->n_ff;
    const int64_t nq = H * D, gk = Hkv * D, gv = Hkv * D;
    const bool causal = hp->causal_attn;

    /* positions restart at 0 in every input; each token attends its own input */
    for (int32_t s = 0; s < b->n_seq; s++)
        for (int32_t j = 0; j < b->seq_len[s]; j++) {
            const int32_t t = b->seq_start[s] + j;
            e->pos[t] = j;
            e->cells[t] = t;
            e->kv_start[t] = b->seq_start[s];
            e->kv_len[t] = causal ? j + 1 : b->seq_len[s];
            e->type_ids[t] = b->types ? b->types[t] : 0;
        }

    onc_tensor x = onc_tensor_f32_view(e->x, E, T, E, "x"), h = onc_tensor_f32_view(e->h, E, T, E, "h"),
               tmp = onc_tensor_f32_view(e->tmp, E, T, E, "tmp");
    TRY(onc_backend_get_rows(be, &x, &e->tok_embd, b->tokens, T, err));
    if (e->types.data) {
        TRY(onc_backend_get_rows(be, &tmp, &e->types, e->type_ids, T, err));
        TRY(onc_backend_add(be, &x, &x, &tmp, err));
    }
    TRY(onc_backend_get_rows(be, &tmp, &e->pos_embd, e->pos, T, err));
    TRY(onc_backend_add(be, &x, &x, &tmp, err));
    TRY(layer_norm(be, &x, &x, &e->embd_norm_w, &e->embd_norm_b, hp->norm_eps, err));

    const float kq_scale = 1.0f / sqrtf((float)D);
    onc_tensor vt = onc_tensor_f32_view(e->vt, T, gv, T, "vt");
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        const enc_layer *L = &e->layers[l];
        onc_tensor q, k, v;
        if (L->wqkv.data) {
            const int64_t row = nq + gk + gv;
            onc_tensor qkv = onc_tensor_f32_view(e->q, row, T, row, "qkv");
            TRY(linear(be, &qkv, &L->wqkv, &L->bqkv, &x, err));
            q = onc_tensor_f32_heads(e->q, D, H, T, row, "q");
            k = onc_tensor_f32_view(e->q + nq, gk, T, row, "k");
            v = onc_tensor_f32_view(e->q + nq + gk, gv, T, row, "v");
        } else {
            onc_tensor q2 = onc_tensor_f32_view(e->q, nq, T, nq, "q");
            k = onc_tensor_f32_view(e->k, gk, T, gk, "k");
            v = onc_tensor_f32_view(e->v, gv, T, gv, "v");
            TRY(linear(be, &q2, &L->wq, &L->bq, &x, err));
            TRY(linear(be, &k, &L->wk, &L->bk, &x, err));
            TRY(linear(be, &v, &L->wv, &L->bv, &x, err));
            q = onc_tensor_f32_heads(e->q, D, H, T, nq, "q");
        }
        /* K rows serve as the key "cache" directly (cell = token); V goes
         * transposed as the attention op reads it */
        TRY(onc_backend_set_rows(be, &vt, &v, e->cells, true, err));
        onc_tensor attn = onc_tensor_f32_heads(e->attn, D, H, T, nq, "attn");
        TRY(onc_backend_attention(be, &attn, &q, &k, &vt, e->kv_start, e->kv_len, kq_scale, err));
        onc_tensor attn2 = onc_tensor_f32_view(e->attn, nq, T, nq, "attn");
        TRY(linear(be, &tmp, &L->wo, &L->bo, &attn2, err));
        TRY(onc_backend_add(be, &h, &x, &tmp, err));
        TRY(layer_norm(be, &h, &h, &L->attn_norm_w, &L->attn_norm_b, hp->norm_eps, err));

        onc_tensor ff = onc_tensor_f32_view(e->ff, F, T, F, "ff");
        TRY(linear(be, &ff, &L->up, &L->bup, &h, err));
        TRY(onc_backend_gelu_erf(be, &ff, &ff, err));
        TRY(linear(be, &tmp, &L->down, &L->bdown, &ff, err));
        TRY(onc_backend_add(be, &x, &h, &tmp, err));
        TRY(layer_norm(be, &x, &x, &L->out_norm_w, &L->out_norm_b, hp->norm_eps, err));
    }
    return ONC_OK;
}

onc_status enc_bert_head(onc_encoder *e, const float *P, int32_t n, float *out, onc_error *err) {
    const int64_t E = e->hp.n_embd, C = e->hp.n_cls_out;
    onc_backend *be = e->be;
    onc_tensor in = onc_tensor_f32_view((float *)P, E, n, E, "pooled");
    if (e->cls_w.data) {
        onc_tensor y = onc_tensor_f32_view(e->h, E, n, E, "cls");
        TRY(linear(be, &y, &e->cls_w, &e->cls_b, &in, err));
        TRY(onc_backend_tanh(be, &y, &y, err));
        in = y;
    }
    onc_tensor o = onc_tensor_f32_view(e->tmp, C, n, C, "cls_out");
    TRY(linear(be, &o, &e->cls_out_w, &e->cls_out_b, &in, err));
    memcpy(out, e->tmp, (size_t)(n * C) * sizeof(float));
    return ONC_OK;
}
