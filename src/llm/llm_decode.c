/* llm_decode.c — the decoder forward pass (llama, qwen2, phi3) and batch
 * bookkeeping (see oncolm/llm.h). Every step is an onc_backend_* op on
 * descriptors over the context's scratch buffers; fused phi3 tensors are
 * read through strided views, never copied. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm_impl.h"

/* adapter slots: bit index of the onc_lora_module */
enum { LORA_Q = 0, LORA_K, LORA_V, LORA_O, LORA_GATE, LORA_UP, LORA_DOWN, LORA_QKV, LORA_GATE_UP };

#define TRY(expr)                                                                                                      \
    do {                                                                                                               \
        onc_status st_ = (expr);                                                                                       \
        if (st_ != ONC_OK) return st_;                                                                                 \
    } while (0)

/* x = rms_norm(x) * w, rows of `a` into `dst`. */
static onc_status rms_norm_mul(onc_backend *be, onc_tensor *dst, const onc_tensor *a, const onc_tensor *w, float eps,
                               onc_error *err) {
    TRY(onc_backend_rms_norm(be, dst, a, eps, err));
    return onc_backend_mul(be, dst, dst, w, err);
}

onc_status llm_forward(onc_llm_ctx *c, const int32_t *tokens, const uint32_t *seq, const int32_t *pos, int32_t n,
                       const int32_t *out_row, onc_error *err) {
    const onc_llm *m = c->m;
    const onc_hparams *hp = &m->hp;
    onc_backend *be = c->be;
    const int64_t E = hp->n_embd, H = hp->n_head, Hkv = hp->n_head_kv, Dk = hp->n_embd_head_k,
                  Dv = hp->n_embd_head_v, F = hp->n_ff;
    const int64_t nq = H * Dk, gk = Hkv * Dk, gv = Hkv * Dv;
    const bool phi3 = hp->arch == ONC_ARCH_PHI3;

    /* rows whose logits are kept: out_src[k] = batch index, c->out_idx[k] = logits row */
    int32_t n_out = 0, *out_src = c->ids;
    for (int32_t i = 0; i < n; i++)
        if (out_row[i] >= 0) out_src[n_out] = i, c->out_idx[n_out++] = out_row[i];
    for (int32_t i = 0; i < n; i++) {
        c->pos[i] = pos[i];
        c->cells[i] = (int32_t)(seq[i] * c->p.n_ctx) + pos[i];
        c->kv_start[i] = (int32_t)(seq[i] * c->p.n_ctx);
        c->kv_len[i] = pos[i] + 1;
    }

    onc_tensor x = onc_tensor_f32_view(c->x, E, n, E, "x"), h = onc_tensor_f32_view(c->h, E, n, E, "h"),
               tmp = onc_tensor_f32_view(c->tmp, E, n, E, "tmp");
    TRY(onc_backend_get_rows(be, &x, &m->tok_embd, tokens, n, err));

    onc_rope_params rp = {.n_rot = (int)hp->n_rot,
                          .mode =
                              onc_arch_rope_type(hp->arch) == ONC_ROPE_NEOX ? ONC_ROPE_MODE_NEOX : ONC_ROPE_MODE_NORM,
                          .freq_base = hp->rope_freq_base,
                          .freq_scale = 1.0f,
                          .attn_factor = 1.0f,
                          .freq_factors = NULL};
    if (hp->rope_scaling == ONC_ROPE_SCALING_LINEAR && hp->rope_scaling_factor > 0)
        rp.freq_scale = 1.0f / hp->rope_scaling_factor;
    if (m->rope_freqs.data) rp.freq_factors = &m->rope_freqs;
    if (m->rope_long.data || m->rope_short.data) {
        /* Phi-3 long-context models: long factors beyond the original context (llama.cpp) */
        const uint32_t orig = hp->rope_scaling_orig_ctx ? hp->rope_scaling_orig_ctx : hp->n_ctx_train;
        rp.freq_factors = c->p.n_ctx > orig && m->rope_long.data ? &m->rope_long
                          : m->rope_short.data                    ? &m->rope_short
                                                                  : &m->rope_long;
    }
    const float kq_scale = 1.0f / sqrtf((float)Dk);

    for (uint32_t l = 0; l < hp->n_layer; l++) {
        const llm_layer *L = &m->layers[l];
        TRY(rms_norm_mul(be, &h, &x, &L->attn_norm, hp->norm_rms_eps, err));

        onc_tensor q, k, v;
        if (L->wqkv.data) {
            const int64_t row = nq + gk + gv;
            onc_tensor qkv = onc_tensor_f32_view(c->qkv, row, n, row, "qkv");
            TRY(onc_backend_mul_mat(be, &qkv, &L->wqkv, &h, err));
            TRY(llm_apply_lora(c, l, LORA_QKV, &qkv, &h, err));
            if (L->bqkv.data) TRY(onc_backend_add(be, &qkv, &qkv, &L->bqkv, err));
            q = onc_tensor_f32_heads(c->qkv, Dk, H, n, row, "q");
            k = onc_tensor_f32_heads(c->qkv + nq, Dk, Hkv, n, row, "k");
            v = onc_tensor_f32_view(c->qkv + nq + gk, gv, n, row, "v");
        } else {
            onc_tensor q2 = onc_tensor_f32_view(c->q, nq, n, nq, "q"), k2 = onc_tensor_f32_view(c->k, gk, n, gk, "k");
            v = onc_tensor_f32_view(c->v, gv, n, gv, "v");
            TRY(onc_backend_mul_mat(be, &q2, &L->wq, &h, err));
            TRY(onc_backend_mul_mat(be, &k2, &L->wk, &h, err));
            TRY(onc_backend_mul_mat(be, &v, &L->wv, &h, err));
            TRY(llm_apply_lora(c, l, LORA_Q, &q2, &h, err));
            TRY(llm_apply_lora(c, l, LORA_K, &k2, &h, err));
            TRY(llm_apply_lora(c, l, LORA_V, &v, &h, err));
            if (L->has_bias) {
                TRY(onc_backend_add(be, &q2, &q2, &L->bq, err));
                TRY(onc_backend_add(be, &k2, &k2, &L->bk, err));
                TRY(onc_backend_add(be, &v, &v, &L->bv, err));
            }
            q = onc_tensor_f32_heads(c->q, Dk, H, n, nq, "q");
            k = onc_tensor_f32_heads(c->k, Dk, Hkv, n, gk, "k");
        }
        TRY(onc_backend_rope(be, &q, &q, c->pos, &rp, err));
        TRY(onc_backend_rope(be, &k, &k, c->pos, &rp, err));

        /* store K rows and V (transposed) at the tokens' cells */
        onc_tensor k_rows = onc_tensor_f32_view(k.data, gk, n, (int64_t)(k.nb[2] / sizeof(float)), "k");
        TRY(onc_backend_set_rows(be, &c->k_cache[l], &k_rows, c->cells, false, err));
        TRY(onc_backend_set_rows(be, &c->v_cache[l], &v, c->cells, true, err));

        onc_tensor attn = onc_tensor_f32_heads(c->attn, Dv, H, n, H * Dv, "attn");
        TRY(onc_backend_attention(be, &attn, &q, &c->k_cache[l], &c->v_cache[l], c->kv_start, c->kv_len, kq_scale,
                                  err));
        onc_tensor attn2 = onc_tensor_f32_view(c->attn, H * Dv, n, H * Dv, "attn");
        if (l + 1 == hp->n_layer && n_out < n) {
            /* last layer: only the rows whose logits are kept go on through
             * the output projection and the FFN (as llama.cpp does) */
            n = n_out;
            if (n == 0) break;
            onc_tensor xo = onc_tensor_f32_view(c->out_rows, E, n, E, "x_out"),
                       ao = onc_tensor_f32_view(c->q, H * Dv, n, H * Dv, "attn_out");
            TRY(onc_backend_get_rows(be, &xo, &x, out_src, n, err));
            TRY(onc_backend_get_rows(be, &ao, &attn2, out_src, n, err));
            x = xo;
            attn2 = ao;
            h = onc_tensor_f32_view(c->h, E, n, E, "h");
            tmp = onc_tensor_f32_view(c->tmp, E, n, E, "tmp");
        }
        TRY(onc_backend_mul_mat(be, &tmp, &L->wo, &attn2, err));
        TRY(llm_apply_lora(c, l, LORA_O, &tmp, &attn2, err));
        TRY(onc_backend_add(be, &x, &x, &tmp, err));

        /* feed-forward: down(silu(gate) * up) */
        TRY(rms_norm_mul(be, &h, &x, &L->ffn_norm, hp->norm_rms_eps, err));
        onc_tensor gate, up;
        if (phi3) {
            onc_tensor gu = onc_tensor_f32_view(c->gate, 2 * F, n, 2 * F, "gate_up");
            TRY(onc_backend_mul_mat(be, &gu, &L->ffn_up, &h, err));
            TRY(llm_apply_lora(c, l, LORA_GATE_UP, &gu, &h, err));
            gate = onc_tensor_f32_view(c->gate, F, n, 2 * F, "gate");
            up = onc_tensor_f32_view(c->gate + F, F, n, 2 * F, "up");
        } else {
            gate = onc_tensor_f32_view(c->gate, F, n, F, "gate");
            up = onc_tensor_f32_view(c->up, F, n, F, "up");
            TRY(onc_backend_mul_mat(be, &gate, &L->ffn_gate, &h, err));
            TRY(onc_backend_mul_mat(be, &up, &L->ffn_up, &h, err));
            TRY(llm_apply_lora(c, l, LORA_GATE, &gate, &h, err));
            TRY(llm_apply_lora(c, l, LORA_UP, &up, &h, err));
        }
        TRY(onc_backend_silu(be, &gate, &gate, err));
        TRY(onc_backend_mul(be, &gate, &gate, &up, err));
        TRY(onc_backend_mul_mat(be, &tmp, &L->ffn_down, &gate, err));
        TRY(llm_apply_lora(c, l, LORA_DOWN, &tmp, &gate, err));
        TRY(onc_backend_add(be, &x, &x, &tmp, err));
    }

    /* x now holds the n_out kept rows, in batch order */
    if (n_out == 0) return ONC_OK;
    onc_tensor o = onc_tensor_f32_view(x.data, E, n_out, E, "out");
    TRY(rms_norm_mul(be, &o, &o, &m->output_norm, hp->norm_rms_eps, err));
    /* rows out_idx[] of c->logits are consecutive (assigned in batch order) */
    if (c->p.embeddings) {
        memcpy(c->logits + (size_t)c->out_idx[0] * E, o.data, (size_t)n_out * E * sizeof(float));
        return ONC_OK;
    }
    const int64_t V = hp->n_vocab;
    onc_tensor lg = onc_tensor_f32_view(c->logits + (size_t)c->out_idx[0] * V, V, n_out, V, "logits");
    return onc_backend_mul_mat(be, &lg, &m->output, &o, err);
}

onc_status onc_llm_decode(onc_llm_ctx *c, const onc_llm_batch *b, onc_error *err) {
    const int32_t n = b->n_tokens;
    const int64_t V = c->m->hp.n_vocab, W = c->p.embeddings ? (int64_t)c->m->hp.n_embd : V; /* kept row width */
    if (n <= 0) return onc_error_set(err, ONC_ERR_INVALID, "decode: empty batch");
    /* validate everything first: nothing changes on error */
    uint32_t *len = malloc((size_t)c->p.n_seq * sizeof *len);
    int32_t *pos = malloc((size_t)n * sizeof *pos);
    uint32_t *seq = malloc((size_t)n * sizeof *seq);
    if (!len || !pos || !seq) {
        free(len), free(pos), free(seq);
        return onc_error_set(err, ONC_ERR_NOMEM, "decode: out of memory");
    }
    memcpy(len, c->seq_len, (size_t)c->p.n_seq * sizeof *len);
    onc_status st = ONC_OK;
    int32_t n_out = 0;
    for (int32_t i = 0; i < n && st == ONC_OK; i++) {
        const uint32_t s = b->seq ? b->seq[i] : 0;
        if (b->tokens[i] < 0 || b->tokens[i] >= V)
            st = onc_error_set(err, ONC_ERR_INVALID,
                               "decode: token %d at batch index %d is outside the vocabulary (%lld)", b->tokens[i], i,
                               (long long)V);
        else if (s >= c->p.n_seq)
            st = onc_error_set(err, ONC_ERR_INVALID, "decode: sequence %u at batch index %d, the context holds %u",
                               s, i, c->p.n_seq);
        else if (len[s] >= c->p.n_ctx)
            st = onc_error_set(err, ONC_ERR_INVALID,
                               "decode: sequence %u is full (%u positions, the context length); start a new one or "
                               "use a larger --ctx",
                               s, c->p.n_ctx);
        else {
            seq[i] = s;
            pos[i] = (int32_t)len[s]++;
            if (b->logits ? b->logits[i] : i == n - 1) n_out++;
        }
    }
    if (st == ONC_OK && (size_t)n > c->logits_of_cap) {
        int32_t *lo = realloc(c->logits_of, (size_t)n * sizeof *lo);
        if (!lo) st = onc_error_set(err, ONC_ERR_NOMEM, "decode: out of memory");
        else c->logits_of = lo, c->logits_of_cap = (size_t)n;
    }
    if (st == ONC_OK && (size_t)n_out * W > c->logits_cap) {
        float *lg = realloc(c->logits, (size_t)n_out * W * sizeof *lg);
        if (!lg) st = onc_error_set(err, ONC_ERR_NOMEM, "decode: cannot hold the outputs of %d tokens", n_out);
        else c->logits = lg, c->logits_cap = (size_t)n_out * W;
    }
    if (st == ONC_OK) {
        int32_t r = 0;
        for (int32_t i = 0; i < n; i++) c->logits_of[i] = (b->logits ? b->logits[i] : i == n - 1) ? r++ : -1;
        for (size_t i = (size_t)n; i < c->logits_of_cap; i++) c->logits_of[i] = -1;
        for (int32_t i0 = 0; i0 < n && st == ONC_OK; i0 += (int32_t)c->p.n_batch) {
            const int32_t cnt = n - i0 < (int32_t)c->p.n_batch ? n - i0 : (int32_t)c->p.n_batch;
            st = llm_forward(c, b->tokens + i0, seq + i0, pos + i0, cnt, c->logits_of + i0, err);
            if (st == ONC_OK)
                for (int32_t i = i0; i < i0 + cnt; i++) c->seq_len[seq[i]] = (uint32_t)pos[i] + 1;
        }
        if (st != ONC_OK)
            for (size_t i = 0; i < c->logits_of_cap; i++) c->logits_of[i] = -1;
    }
    free(len), free(pos), free(seq);
    return st;
}

const float *onc_llm_logits(const onc_llm_ctx *c, int32_t i) {
    if (c->p.embeddings || i < 0 || (size_t)i >= c->logits_of_cap || !c->logits_of || c->logits_of[i] < 0) return NULL;
    return c->logits + (size_t)c->logits_of[i] * c->m->hp.n_vocab;
}

const float *onc_llm_embedding(const onc_llm_ctx *c, int32_t i) {
    if (!c->p.embeddings || i < 0 || (size_t)i >= c->logits_of_cap || !c->logits_of || c->logits_of[i] < 0)
        return NULL;
    return c->logits + (size_t)c->logits_of[i] * c->m->hp.n_embd;
}
