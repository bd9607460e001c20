/* enc_model_save.c — onc_enc_model_save: the trained encoder as a `bert`
 * GGUF that onc_encoder_load reads (see oncolm/enc_model.h).
 *
 * Metadata: every key of the source file except the bert.* keys,
 * general.file_type and tokenizer.ggml.token_type_count, which are
 * rewritten from the model's hyper-parameters (classifier labels, pooling).
 * Tensors: the canonical bert list for those hyper-parameters (heads
 * included when the model has them), then the MLM head (mlm.*). LoRA
 * adapters are merged: W + scale * B A, computed in F32 from the file's
 * weight dequantized. */
#include <stdlib.h>
#include <string.h>

#include "compute/gemm.h"
#include "oncolm/types.h"
#include "train/enc_model_impl.h"

#include <cblas.h>

typedef struct save_ctx {
    void **owned;
    size_t n_owned, cap;
} save_ctx;

static bool own(save_ctx *s, void *p) {
    if (!p) return false;
    if (s->n_owned == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        void **v = realloc(s->owned, cap * sizeof *v);
        if (!v) {
            free(p);
            return false;
        }
        s->owned = v;
        s->cap = cap;
    }
    s->owned[s->n_owned++] = p;
    return true;
}

/* The F32 data of a linear layer's weight, LoRA merged (owned by s when
 * computed here). */
static const float *lin_weight(const onc_enc_model *m, const enc_lin *w, save_ctx *s) {
    if (w->wf) return w->wf;
    const int64_t n_in = w->n_in, n_out = w->n_out;
    float *d = malloc((size_t)(n_in * n_out) * sizeof(float));
    if (!own(s, d)) return NULL;
    for (int64_t r = 0; r < n_out; r++)
        onc_dequantize_row(w->w.type, (const char *)w->w.data + (size_t)r * w->w.stride, d + r * n_in, n_in);
    onc_blas_single_thread();
    if (w->la)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n_out, (int)n_in, (int)m->r, m->lora_scale, w->lb,
                    (int)m->r, w->la, (int)n_in, 1.0f, d, (int)n_in);
    return d;
}

static const float *tensor_data(const onc_enc_model *m, const onc_arch_tensor *t, save_ctx *s, bool *oom) {
    *oom = false;
    const enc_layer_t *L = t->layer >= 0 ? &m->layers[t->layer] : NULL;
    const bool b = t->is_bias;
    const enc_lin *li = NULL;
    switch (t->role) {
    case ONC_ROLE_TOKEN_EMBD: return m->tok_embd;
    case ONC_ROLE_TOKEN_TYPES: return m->type_embd;
    case ONC_ROLE_POS_EMBD: return m->pos_embd;
    case ONC_ROLE_TOKEN_EMBD_NORM: return b ? m->ln0.b : m->ln0.w;
    case ONC_ROLE_ATTN_Q: li = &L->lin[EL_Q]; break;
    case ONC_ROLE_ATTN_K: li = &L->lin[EL_K]; break;
    case ONC_ROLE_ATTN_V: li = &L->lin[EL_V]; break;
    case ONC_ROLE_ATTN_QKV: li = &L->lin[EL_QKV]; break;
    case ONC_ROLE_ATTN_OUT: li = &L->lin[EL_O]; break;
    case ONC_ROLE_FFN_UP: li = &L->lin[EL_UP]; break;
    case ONC_ROLE_FFN_DOWN: li = &L->lin[EL_DOWN]; break;
    case ONC_ROLE_ATTN_OUT_NORM: return b ? L->ln1.b : L->ln1.w;
    case ONC_ROLE_LAYER_OUT_NORM: return b ? L->ln2.b : L->ln2.w;
    case ONC_ROLE_CLS: return b ? m->cls_b : m->cls_w;
    case ONC_ROLE_CLS_OUT: return b ? m->out_b : m->out_w;
    default: return NULL;
    }
    if (b) return li->b;
    const float *d = lin_weight(m, li, s);
    *oom = d == NULL;
    return d;
}

static onc_status add(onc_gguf_writer *w, save_ctx *s, const char *name, const float *data, uint32_t n_dims,
                      const int64_t *ne, onc_type type, const char *path, onc_error *err) {
    const void *out = data;
    if (type != ONC_TYPE_F32) {
        const size_t rs = onc_type_row_size(type, ne[0]);
        const int64_t rows = ne[1] * ne[2] * ne[3];
        char *q = malloc(rs * (size_t)rows);
        if (!own(s, q)) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory converting '%s'", path, name);
        for (int64_t r = 0; r < rows; r++) onc_quantize_row(type, data + r * ne[0], q + (size_t)r * rs, ne[0]);
        out = q;
    }
    return onc_gguf_add_tensor(w, name, type, n_dims, ne, out, NULL, NULL, err);
}

static bool has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

onc_status onc_enc_model_save(const onc_enc_model *m, const char *path, onc_type wtype, onc_pooling pooling,
                              onc_error *err) {
    if (wtype != ONC_TYPE_F32 && wtype != ONC_TYPE_F16)
        return onc_error_set(err, ONC_ERR_INVALID, "%s: weights can be saved as f32 or f16 only", path);
    onc_hparams h = m->hp; /* shallow: labels stay m's */
    if (pooling != ONC_POOLING_UNSPECIFIED) h.pooling = pooling;
    if (m->n_labels == 0) {
        h.has_cls = h.has_cls_out = false;
        h.cls_labels = NULL;
        h.n_cls_out = 1;
    }
    if (h.pooling == ONC_POOLING_RANK && m->n_labels == 0)
        return onc_error_set(err, ONC_ERR_INVALID, "%s: rank pooling needs a classification head", path);
    onc_gguf_writer *w = onc_gguf_writer_new();
    save_ctx s = {0};
    onc_arch_tensor *list = NULL;
    size_t n_list = 0;
    onc_status st = ONC_OK;
    if (!w) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
    for (int64_t i = 0; i < onc_gguf_n_kv(m->g); i++) {
        const char *key = onc_gguf_key(m->g, i);
        if (has_prefix(key, "bert.") || strcmp(key, "general.file_type") == 0 ||
            strcmp(key, "tokenizer.ggml.token_type_count") == 0)
            continue;
        if ((st = onc_gguf_set_from(w, m->g, i)) != ONC_OK) {
            onc_error_set(err, st, "%s: cannot copy key %s", path, key);
            goto done;
        }
    }
    if ((st = onc_hparams_write_gguf(&h, w, err)) != ONC_OK) goto done;
    if ((st = onc_gguf_set_u32(w, "general.file_type", wtype == ONC_TYPE_F16 ? 1u : 0u)) != ONC_OK) {
        onc_error_set(err, st, "%s: cannot set general.file_type", path);
        goto done;
    }
    if (!(list = onc_arch_tensors(&h, &n_list, err))) {
        st = err ? err->code : ONC_ERR_INVALID;
        goto done;
    }
    for (size_t i = 0; i < n_list; i++) {
        const onc_arch_tensor *t = &list[i];
        bool oom;
        const float *d = tensor_data(m, t, &s, &oom);
        if (oom) {
            st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory merging '%s'", path, t->name);
            goto done;
        }
        if (!d) {
            if (!t->required) continue;
            st = onc_error_set(err, ONC_ERR_INVALID, "%s: no data for tensor '%s'", path, t->name);
            goto done;
        }
        const onc_type ty = t->keep_f32 ? ONC_TYPE_F32 : wtype;
        if ((st = add(w, &s, t->name, d, t->n_dims, t->ne, ty, path, err)) != ONC_OK) goto done;
    }
    if (m->has_mlm) {
        const int64_t E = m->E, V = m->V;
        const int64_t ne_w[4] = {E, E, 1, 1}, ne_e[4] = {E, 1, 1, 1}, ne_v[4] = {V, 1, 1, 1};
        if ((st = add(w, &s, "mlm.dense.weight", m->mlm_w, 2, ne_w, wtype, path, err)) ||
            (st = add(w, &s, "mlm.dense.bias", m->mlm_b, 1, ne_e, ONC_TYPE_F32, path, err)) ||
            (st = add(w, &s, "mlm.norm.weight", m->mlm_nw, 1, ne_e, ONC_TYPE_F32, path, err)) ||
            (st = add(w, &s, "mlm.norm.bias", m->mlm_nb, 1, ne_e, ONC_TYPE_F32, path, err)) ||
            (st = add(w, &s, "mlm.output.bias", m->mlm_ob, 1, ne_v, ONC_TYPE_F32, path, err)))
            goto done;
    }
    st = onc_gguf_writer_write(w, path, err);
done:
    onc_gguf_writer_free(w);
    for (size_t i = 0; i < s.n_owned; i++) free(s.owned[i]);
    free(s.owned);
    free(list);
    return st;
}
