/* enc_model_heads.c — the heads of onc_enc_model: sequence classification
 * (BertForSequenceClassification: pooler dense + tanh, then a linear
 * layer) and masked-LM (BertForMaskedLM: dense + GELU + LayerNorm, then
 * the decoder tied to token_embd plus an output bias). Forward and
 * backward of both; see oncolm/enc_model.h.
 *
 * The tied decoder: in full fine-tuning the MLM loss's gradient reaches
 * token_embd.weight (as in PyTorch, where the decoder weight is the
 * embedding table); with LoRA the embeddings are frozen, so only the MLM
 * transform and the output bias learn from it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/enc_model_impl.h"

onc_status onc_enc_model_classify(onc_enc_model *m, const float *x, int32_t n, float *logits, const float *dlogits,
                                  float *dx, onc_error *err) {
    if (m->n_labels == 0)
        return onc_error_set(err, ONC_ERR_INVALID, "%s: the model has no classification head (ask n_labels > 0)",
                             m->path);
    if (n <= 0) return ONC_OK;
    const int64_t E = m->E, C = m->n_labels;
    onc_status st = ONC_OK;
    float *y = NULL, *dy = NULL;
    const float *in = x;
    const onc_matrix wo = {ONC_TYPE_F32, m->out_w, (size_t)E * sizeof(float), C, E};
    const onc_matrix wc = {ONC_TYPE_F32, m->cls_w, (size_t)E * sizeof(float), E, E};
    if (m->has_cls) {
        if (!(y = malloc((size_t)(n * E) * sizeof(float))))
            return onc_error_set(err, ONC_ERR_NOMEM, "classification head: out of memory");
        if ((st = enc_linear_fwd(m->tp, y, E, &wc, x, E, n, err))) goto done;
        for (int64_t t = 0; t < n; t++)
            for (int64_t i = 0; i < E; i++) y[t * E + i] = tanhf(y[t * E + i] + m->cls_b[i]);
        in = y;
    }
    if ((st = enc_linear_fwd(m->tp, logits, C, &wo, in, E, n, err))) goto done;
    for (int64_t t = 0; t < n; t++)
        for (int64_t j = 0; j < C; j++) logits[t * C + j] += m->out_b[j];
    if (!dlogits) goto done;
    enc_weight_grad(m->tp, m->g_out_w, dlogits, C, in, E, n, C, E);
    enc_bias_grad(m->tp, m->g_out_b, dlogits, C, n, C);
    if (!m->has_cls) {
        if (dx) st = enc_linear_bwd_input(m->tp, dx, E, &wo, dlogits, C, n, err);
        goto done;
    }
    if (!(dy = calloc((size_t)(n * E), sizeof(float)))) {
        st = onc_error_set(err, ONC_ERR_NOMEM, "classification head: out of memory");
        goto done;
    }
    if ((st = enc_linear_bwd_input(m->tp, dy, E, &wo, dlogits, C, n, err))) goto done;
    for (int64_t i = 0; i < n * E; i++) dy[i] *= 1.0f - y[i] * y[i];
    enc_weight_grad(m->tp, m->g_cls_w, dy, E, x, E, n, E, E);
    enc_bias_grad(m->tp, m->g_cls_b, dy, E, n, E);
    if (dx) st = enc_linear_bwd_input(m->tp, dx, E, &wc, dy, E, n, err);
done:
    free(y);
    free(dy);
    return st;
}

#define MLM_CHUNK 64

typedef struct sm_ctx {
    float *logits;
    const int32_t *labels;
    double *nll;
    int64_t V;
    float grad_scale;
    bool grad;
} sm_ctx;

/* Per row: log-softmax in double; nll[i]; when grad, the row becomes
 * grad_scale * (softmax - onehot). */
static void softmax_run(void *ctx, int64_t lo, int64_t hi) {
    const sm_ctx *c = ctx;
    for (int64_t i = lo; i < hi; i++) {
        float *row = c->logits + i * c->V;
        const int32_t y = c->labels[i];
        float mx = -INFINITY;
        for (int64_t j = 0; j < c->V; j++) mx = row[j] > mx ? row[j] : mx;
        double sum = 0;
        for (int64_t j = 0; j < c->V; j++) sum += exp((double)row[j] - mx);
        const double lse = mx + log(sum);
        c->nll[i] = lse - row[y];
        if (c->grad) {
            for (int64_t j = 0; j < c->V; j++) row[j] = (float)(c->grad_scale * exp((double)row[j] - lse));
            row[y] -= c->grad_scale;
        }
    }
}

typedef struct gl_ctx {
    float *y;
    const float *a, *b;
} gl_ctx;

static void gelu_run(void *ctx, int64_t lo, int64_t hi) {
    const gl_ctx *c = ctx;
    onc_gelu_erf_fwd(c->y + lo, c->a + lo, hi - lo);
}

onc_status onc_enc_model_mlm_loss(onc_enc_model *m, const float *states, const int32_t *pos, const int32_t *labels,
                                  int64_t m_pos, float grad_scale, double *loss_sum, float *dstates, onc_error *err) {
    if (!m->has_mlm)
        return onc_error_set(err, ONC_ERR_INVALID, "%s: the model has no masked-LM head (ask mlm_head)", m->path);
    const int64_t E = m->E, V = m->V, T = m->T;
    for (int64_t i = 0; i < m_pos; i++) {
        if (pos[i] < 0 || pos[i] >= T)
            return onc_error_set(err, ONC_ERR_INVALID, "masked-LM loss: position %d outside the %lld tokens of the "
                                 "last forward pass", pos[i], (long long)T);
        if (labels[i] < 0 || labels[i] >= V)
            return onc_error_set(err, ONC_ERR_INVALID, "masked-LM loss: label %d outside the vocabulary [0, %lld)",
                                 labels[i], (long long)V);
    }
    const int64_t K = MLM_CHUNK;
    float *buf = malloc((size_t)(K * V + 6 * K * E + 2 * K) * sizeof(float));
    double *nll = malloc((size_t)K * sizeof(double));
    if (!buf || !nll) {
        free(buf);
        free(nll);
        return onc_error_set(err, ONC_ERR_NOMEM, "masked-LM loss: out of memory (%lld bytes)",
                             (long long)((K * V + 6 * K * E) * 4));
    }
    float *logits = buf, *hc = logits + K * V, *z = hc + K * E, *g = z + K * E, *mm = g + K * E, *dmm = mm + K * E,
          *dg = dmm + K * E, *mean = dg + K * E, *rstd = mean + K;
    const onc_matrix wd = {ONC_TYPE_F32, m->mlm_w, (size_t)E * sizeof(float), E, E};
    const onc_matrix te = {ONC_TYPE_F32, m->tok_embd, (size_t)E * sizeof(float), V, E};
    const float eps = m->hp.norm_eps;
    onc_status st = ONC_OK;
    double loss = 0;
    for (int64_t c0 = 0; c0 < m_pos; c0 += K) {
        const int64_t n = m_pos - c0 < K ? m_pos - c0 : K;
        for (int64_t i = 0; i < n; i++) memcpy(hc + i * E, states + (int64_t)pos[c0 + i] * E, (size_t)E * sizeof(float));
        if ((st = enc_linear_fwd(m->tp, z, E, &wd, hc, E, n, err))) goto done;
        enc_add_bias(m->tp, z, E, m->mlm_b, n, E);
        gl_ctx gc = {g, z, NULL};
        enc_pfor(m->tp, n * E, gelu_run, &gc);
        enc_ln_fwd(m->tp, mm, mean, rstd, g, m->mlm_nw, m->mlm_nb, n, E, eps);
        if ((st = enc_linear_fwd(m->tp, logits, V, &te, mm, E, n, err))) goto done;
        enc_add_bias(m->tp, logits, V, m->mlm_ob, n, V);
        sm_ctx sc = {logits, labels + c0, nll, V, grad_scale, dstates != NULL};
        enc_pfor(m->tp, n, softmax_run, &sc);
        for (int64_t i = 0; i < n; i++) loss += nll[i];
        if (!dstates) continue;
        enc_bias_grad(m->tp, m->g_mlm_ob, logits, V, n, V);
        if (m->g_tok_embd) enc_weight_grad(m->tp, m->g_tok_embd, logits, V, mm, E, n, V, E);
        memset(dmm, 0, (size_t)(n * E) * sizeof(float));
        if ((st = enc_linear_bwd_input(m->tp, dmm, E, &te, logits, V, n, err))) goto done;
        memset(dg, 0, (size_t)(n * E) * sizeof(float));
        enc_ln_bwd(m->tp, dg, m->g_mlm_nw, m->g_mlm_nb, dmm, g, mean, rstd, m->mlm_nw, n, E);
        memset(dmm, 0, (size_t)(n * E) * sizeof(float)); /* dz */
        onc_gelu_erf_bwd(dmm, dg, z, n * E);
        enc_weight_grad(m->tp, m->g_mlm_w, dmm, E, hc, E, n, E, E);
        enc_bias_grad(m->tp, m->g_mlm_b, dmm, E, n, E);
        memset(dg, 0, (size_t)(n * E) * sizeof(float)); /* dhc */
        if ((st = enc_linear_bwd_input(m->tp, dg, E, &wd, dmm, E, n, err))) goto done;
        for (int64_t i = 0; i < n; i++) {
            float *d = dstates + (int64_t)pos[c0 + i] * E;
            for (int64_t e = 0; e < E; e++) d[e] += dg[i * E + e];
        }
    }
done:
    free(buf);
    free(nll);
    if (st == ONC_OK) *loss_sum += loss;
    return st;
}
