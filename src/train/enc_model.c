/* enc_model.c — a `bert` encoder as a trainable function (see
 * oncolm/enc_model.h): loading (F32 copies for full fine-tuning, frozen
 * file tensors plus LoRA adapters otherwise), the forward pass with its
 * activations saved, and the backward pass.
 *
 * Forward (as src/encoder/encoder_bert.c, in F32):
 *   e  = tok[id] + types[type] + pos[p];  x0 = drop(LN0(e))
 *   per layer: qkv = x W^T + b (+ LoRA);  a = attention(q, k, v)
 *              h = LN1(x + drop(a Wo^T + bo));  f = gelu(h Wup^T + bup)
 *              x' = LN2(h + drop(f Wdown^T + bdown))
 * Saved per layer and token (floats): qkv 3E, attention output E, lse H,
 * LN1 input and output 2E, up output F, LN2 input E, 4 norm statistics,
 * plus the layer input E (the previous layer's output) and LoRA
 * intermediates r per adapter: about (8E + F + H + 4) x 4 bytes per token
 * per layer (BERT-base: 37 KiB, so 1.8 GiB for 4096 tokens).
 *
 * Hidden dropout masks: row t of site s (0 embeddings, 1 attention output,
 * 2 FFN output) of layer l draws one onc_rng_next per element from a seed
 * hashing (dropout_seed, l, s, t); kept elements are scaled by 1/(1-p).
 * The backward pass regenerates them. Rows are independent, so the masks
 * do not depend on the thread count.
 *
 * GELU: erf form; with AVX-512 a vector version (enc_model_avx512.c,
 * within 5e-7 of libm's) that also yields gelu' for the backward, which
 * recomputes the up projection's activation instead of saving it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/gemm.h"
#include "model/model_bind.h"
#include "oncolm/rng.h"
#include "oncolm/types.h"
#include "train/enc_model_impl.h"

#include <cblas.h>

// --- small threaded helpers ----------------------------------------------------------

typedef struct pfor_ctx {
    enc_range_fn fn;
    void *ctx;
    int64_t n;
} pfor_ctx;

static void pfor_run(void *ctx, int ith, int nth) {
    const pfor_ctx *p = ctx;
    int64_t lo, hi;
    onc_split_range(p->n, ith, nth, &lo, &hi);
    if (lo < hi) p->fn(p->ctx, lo, hi);
}

void enc_pfor(onc_threadpool *tp, int64_t n, enc_range_fn fn, void *ctx) {
    if (n <= 0) return;
    pfor_ctx p = {fn, ctx, n};
    onc_threadpool_run(tp, pfor_run, &p);
}

/* C[M][N] = alpha op(A) op(B) + beta C (row-major) cut in fixed tiles of
 * tm x tn output elements, one sgemm per tile, tiles shared out to the
 * threads: every element sees the same computation whatever the thread
 * count (K is never split). */
typedef struct tile_ctx {
    bool ta, tb;
    int64_t M, N, K, lda, ldb, ldc, tm, tn, n_tn;
    float alpha, beta;
    const float *a, *b;
    float *c;
} tile_ctx;

static void tile_run(void *ctx, int64_t lo, int64_t hi) {
    const tile_ctx *c = ctx;
    onc_blas_single_thread();
    for (int64_t t = lo; t < hi; t++) {
        const int64_t i0 = (t / c->n_tn) * c->tm, j0 = (t % c->n_tn) * c->tn;
        const int64_t mi = c->M - i0 < c->tm ? c->M - i0 : c->tm, nj = c->N - j0 < c->tn ? c->N - j0 : c->tn;
        const float *a = c->ta ? c->a + i0 : c->a + i0 * c->lda;
        const float *b = c->tb ? c->b + j0 * c->ldb : c->b + j0;
        cblas_sgemm(CblasRowMajor, c->ta ? CblasTrans : CblasNoTrans, c->tb ? CblasTrans : CblasNoTrans, (int)mi,
                    (int)nj, (int)c->K, c->alpha, a, (int)c->lda, b, (int)c->ldb, c->beta, c->c + i0 * c->ldc + j0,
                    (int)c->ldc);
    }
}

/* Output tile edge of the three F32 products. Each tile is one sgemm call
 * that packs its A rows and B columns again, so small tiles pay packing
 * over and over: on the 2-core EPYC (OpenBLAS 0.3.21, one thread, T = 1024,
 * 768 x 768) 64 x 256 / 128 x 128 tiles ran at 97-106 GFLOP/s, 256 x 256 at
 * 106-112 (Haswell kernels; 175-188 vs 198-206 with OPENBLAS_CORETYPE=
 * SKYLAKEX). BERT-base dimensions (768, 3072) are multiples of 256, and
 * 1024 tokens x 768 still make 12 tiles to share out. */
#define ENC_TILE 256

static void sgemm_tiled(onc_threadpool *tp, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc,
                        int64_t tm, int64_t tn) {
    if (M <= 0 || N <= 0) return;
    const int64_t n_tm = (M + tm - 1) / tm, n_tn = (N + tn - 1) / tn;
    tile_ctx t = {ta, tb, M, N, K, lda, ldb, ldc, tm, tn, n_tn, alpha, beta, a, b, c};
    enc_pfor(tp, n_tm * n_tn, tile_run, &t);
}

void enc_weight_grad(onc_threadpool *tp, float *dw, const float *dy, int64_t lddy, const float *x, int64_t ldx,
                     int64_t T, int64_t n_out, int64_t n_in) {
    if (!dw || T <= 0) return;
    /* dw[n_out][n_in] += dy^T x */
    sgemm_tiled(tp, true, false, n_out, n_in, T, 1.0f, dy, lddy, x, ldx, 1.0f, dw, n_in, ENC_TILE, ENC_TILE);
}

onc_status enc_linear_fwd(onc_threadpool *tp, float *y, int64_t ldy, const onc_matrix *w, const float *x,
                          int64_t ldx, int64_t T, onc_error *err) {
    if (w->type != ONC_TYPE_F32 || w->stride != (size_t)w->n_in * sizeof(float))
        return onc_linear_fwd(tp, y, ldy, w, x, ldx, T, err);
    /* y[T][n_out] = x W^T */
    sgemm_tiled(tp, false, true, T, w->n_out, w->n_in, 1.0f, x, ldx, w->data, w->n_in, 0.0f, y, ldy, ENC_TILE,
                ENC_TILE);
    return ONC_OK;
}

onc_status enc_linear_bwd_input(onc_threadpool *tp, float *dx, int64_t lddx, const onc_matrix *w, const float *dy,
                                int64_t lddy, int64_t T, onc_error *err) {
    if (w->type != ONC_TYPE_F32 || w->stride != (size_t)w->n_in * sizeof(float))
        return onc_linear_bwd_input(tp, dx, lddx, w, dy, lddy, T, err);
    /* dx[T][n_in] += dy W */
    sgemm_tiled(tp, false, false, T, w->n_in, w->n_out, 1.0f, dy, lddy, w->data, w->n_in, 1.0f, dx, lddx, ENC_TILE,
                ENC_TILE);
    return ONC_OK;
}

typedef struct col_ctx {
    float *out, *out2;
    const float *dy, *x, *mean, *rstd, *b;
    float *y;
    int64_t ld, T, n;
} col_ctx;

static void bias_grad_run(void *ctx, int64_t lo, int64_t hi) {
    const col_ctx *c = ctx;
    for (int64_t t = 0; t < c->T; t++) {
        const float *row = c->dy + t * c->ld;
        for (int64_t i = lo; i < hi; i++) c->out[i] += row[i];
    }
}

void enc_bias_grad(onc_threadpool *tp, float *db, const float *dy, int64_t ld, int64_t T, int64_t n) {
    if (!db) return;
    col_ctx c = {.out = db, .dy = dy, .ld = ld, .T = T, .n = n};
    enc_pfor(tp, n, bias_grad_run, &c);
}

static void add_bias_run(void *ctx, int64_t lo, int64_t hi) {
    const col_ctx *c = ctx;
    for (int64_t t = lo; t < hi; t++) {
        float *row = c->y + t * c->ld;
        for (int64_t i = 0; i < c->n; i++) row[i] += c->b[i];
    }
}

void enc_add_bias(onc_threadpool *tp, float *y, int64_t ld, const float *b, int64_t T, int64_t n) {
    if (!b) return;
    col_ctx c = {.y = y, .b = b, .ld = ld, .T = T, .n = n};
    enc_pfor(tp, T, add_bias_run, &c);
}

typedef struct ln_ctx {
    float *y, *mean, *rstd, *dx, *dw, *db;
    const float *x, *w, *b, *dy, *cmean, *crstd;
    int64_t D, T;
    float eps;
} ln_ctx;

static void ln_fwd_run(void *ctx, int64_t lo, int64_t hi) {
    const ln_ctx *c = ctx;
    onc_layernorm_fwd(c->y + lo * c->D, c->mean ? c->mean + lo : NULL, c->rstd ? c->rstd + lo : NULL,
                      c->x + lo * c->D, c->w, c->b, hi - lo, c->D, c->eps);
}

void enc_ln_fwd(onc_threadpool *tp, float *y, float *mean, float *rstd, const float *x, const float *w,
                const float *b, int64_t T, int64_t D, float eps) {
    ln_ctx c = {.y = y, .mean = mean, .rstd = rstd, .x = x, .w = w, .b = b, .D = D, .eps = eps};
    enc_pfor(tp, T, ln_fwd_run, &c);
}

static void ln_bwd_rows(void *ctx, int64_t lo, int64_t hi) {
    const ln_ctx *c = ctx;
    onc_layernorm_bwd(c->dx + lo * c->D, NULL, NULL, c->dy + lo * c->D, c->x + lo * c->D, c->cmean + lo,
                      c->crstd + lo, c->w, hi - lo, c->D);
}

static void ln_bwd_cols(void *ctx, int64_t lo, int64_t hi) {
    const ln_ctx *c = ctx;
    const int64_t D = c->D, T = c->T;
    for (int64_t t = 0; t < T; t++) {
        const float *x = c->x + t * D, *dy = c->dy + t * D;
        const float m = c->cmean[t], r = c->crstd[t];
        for (int64_t i = lo; i < hi; i++) {
            if (c->dw) c->dw[i] += dy[i] * ((x[i] - m) * r);
            if (c->db) c->db[i] += dy[i];
        }
    }
}

void enc_ln_bwd(onc_threadpool *tp, float *dx, float *dw, float *db, const float *dy, const float *x,
                const float *mean, const float *rstd, const float *w, int64_t T, int64_t D) {
    ln_ctx c = {.dx = dx, .dw = dw, .db = db, .dy = dy, .x = x, .cmean = mean, .crstd = rstd, .w = w, .D = D, .T = T};
    if (dx) enc_pfor(tp, T, ln_bwd_rows, &c);
    if (dw || db) enc_pfor(tp, D, ln_bwd_cols, &c);
}

void enc_fill_normal(float *x, int64_t n, float std, uint64_t seed) {
    onc_rng rng;
    onc_rng_seed(&rng, seed);
    for (int64_t i = 0; i < n; i += 2) {
        double u1 = ((onc_rng_next(&rng) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
        double u2 = (onc_rng_next(&rng) >> 11) * (1.0 / 9007199254740992.0);
        double r = sqrt(-2.0 * log(u1));
        x[i] = (float)(std * r * cos(2 * M_PI * u2));
        if (i + 1 < n) x[i + 1] = (float)(std * r * sin(2 * M_PI * u2));
    }
}

typedef struct ew_ctx {
    float *y;
    const float *a, *b;
    int64_t D;
    float p;
    uint64_t seed;
    int site, layer;
} ew_ctx;

static uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t s = seed ^ 0x9E3779B97F4A7C15ull;
    s = onc_splitmix64(&s) ^ (a * 0xD1B54A32D192ED03ull);
    s = onc_splitmix64(&s) ^ (b * 0xABC98388FB8FAC03ull);
    s = onc_splitmix64(&s) ^ (c * 0x8CB92BA72F3D8DD7ull);
    return onc_splitmix64(&s);
}

/* y[t] *= mask(l, site, t) for rows lo..hi. */
static void dropout_run(void *ctx, int64_t lo, int64_t hi) {
    const ew_ctx *c = ctx;
    const float keep = 1.0f / (1.0f - c->p);
    for (int64_t t = lo; t < hi; t++) {
        onc_rng rng;
        onc_rng_seed(&rng, mix_seed(c->seed, (uint64_t)c->layer, (uint64_t)c->site, (uint64_t)t));
        float *row = c->y + t * c->D;
        for (int64_t i = 0; i < c->D; i++) {
            const float u = (float)(onc_rng_next(&rng) >> 40) * (1.0f / 16777216.0f);
            row[i] = u < c->p ? 0.0f : row[i] * keep;
        }
    }
}

/* Inverted dropout in place on y[T][D] (forward; the backward applies the
 * same mask to the gradient). */
static void dropout(onc_enc_model *m, float *y, int64_t T, int layer, int site) {
    if (m->p_drop <= 0) return;
    ew_ctx c = {.y = y, .D = m->E, .p = m->p_drop, .seed = m->seed, .site = site, .layer = layer};
    enc_pfor(m->tp, T, dropout_run, &c);
}

static void add_run(void *ctx, int64_t lo, int64_t hi) {
    const ew_ctx *c = ctx;
    for (int64_t i = lo; i < hi; i++) c->y[i] = c->a[i] + c->b[i];
}

/* y = a + b over n floats (y may alias a or b). */
static void vadd(onc_threadpool *tp, float *y, const float *a, const float *b, int64_t n) {
    ew_ctx c = {.y = y, .a = a, .b = b};
    enc_pfor(tp, n, add_run, &c);
}

static bool use_avx512(void) {
#if defined(ONC_HAVE_X86_SIMD)
    return onc_simd_level_get() >= ONC_SIMD_AVX512;
#else
    return false;
#endif
}

/* y = gelu(a); with AVX-512 also b = gelu'(a) when b is set (c->b is
 * written through a cast: the backward's scratch). */
static void gelu_run(void *ctx, int64_t lo, int64_t hi) {
    const ew_ctx *c = ctx;
#if defined(ONC_HAVE_X86_SIMD)
    if (use_avx512()) {
        enc_gelu_avx512(c->y + lo, c->b ? (float *)c->b + lo : NULL, c->a + lo, hi - lo);
        return;
    }
#endif
    onc_gelu_erf_fwd(c->y + lo, c->a + lo, hi - lo);
}

/* y *= a */
static void mul_run(void *ctx, int64_t lo, int64_t hi) {
    const ew_ctx *c = ctx;
    for (int64_t i = lo; i < hi; i++) c->y[i] *= c->a[i];
}

static void gelu_bwd_run(void *ctx, int64_t lo, int64_t hi) {
    const ew_ctx *c = ctx;
    onc_gelu_erf_bwd(c->y + lo, c->b + lo, c->a + lo, hi - lo);
}

// --- parameters and loading ------------------------------------------------------------

static float *falloc(onc_enc_model *m, int64_t n) {
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (p) m->bytes += (size_t)n * sizeof(float);
    return p;
}

static bool add_param(onc_enc_model *m, const char *name, float *data, float *grad, int64_t n, bool decay) {
    if (m->n_params == m->cap_params) {
        size_t cap = m->cap_params ? 2 * m->cap_params : 64;
        onc_train_param *v = realloc(m->params, cap * sizeof *v);
        if (!v) return false;
        m->params = v;
        m->cap_params = cap;
    }
    char *nm = strdup(name);
    if (!nm) return false;
    m->params[m->n_params++] = (onc_train_param){nm, data, grad, n, decay};
    return true;
}

onc_enc_model_params onc_enc_model_default_params(void) {
    onc_enc_model_params p;
    memset(&p, 0, sizeof p);
    p.max_tokens = 4096;
    p.n_threads = 0;
    p.dropout = 0.1f;
    p.lora = onc_lora_config_default();
    p.lora.rank = 0;
    p.lora.modules = ONC_LORA_Q | ONC_LORA_K | ONC_LORA_V | ONC_LORA_O | ONC_LORA_UP | ONC_LORA_DOWN;
    p.seed = 42;
    return p;
}

void onc_enc_model_free(onc_enc_model *m) {
    if (!m) return;
    onc_threadpool_free(m->tp);
    for (size_t i = 0; i < m->n_params; i++) free((char *)m->params[i].name);
    free(m->params);
    if (m->layers)
        for (uint32_t l = 0; l < m->hp.n_layer; l++) {
            enc_layer_t *L = &m->layers[l];
            for (int s = 0; s < EL_N; s++) {
                enc_lin *w = &L->lin[s];
                free(w->wf), free(w->gw), free(w->b), free(w->gb), free(w->la), free(w->lb), free(w->gla);
                free(w->glb), free(w->u);
            }
            free(L->ln1.w), free(L->ln1.b), free(L->ln1.gw), free(L->ln1.gb);
            free(L->ln2.w), free(L->ln2.b), free(L->ln2.gw), free(L->ln2.gb);
            free(L->qkv), free(L->attn), free(L->lse), free(L->h_pre), free(L->h), free(L->mean1), free(L->rstd1);
            free(L->ff_pre), free(L->out_pre), free(L->mean2), free(L->rstd2);
        }
    free(m->layers);
    float *bufs[] = {m->tok_embd, m->g_tok_embd, m->pos_embd, m->g_pos_embd, m->type_embd, m->g_type_embd,
                     m->ln0.w,     m->ln0.b,     m->ln0.gw,    m->ln0.gb,     m->cls_w,     m->cls_b,
                     m->g_cls_w,   m->g_cls_b,   m->out_w,     m->out_b,      m->g_out_w,   m->g_out_b,
                     m->mlm_w,     m->mlm_b,     m->g_mlm_w,   m->g_mlm_b,    m->mlm_nw,    m->mlm_nb,
                     m->g_mlm_nw,  m->g_mlm_nb,  m->mlm_ob,    m->g_mlm_ob,   m->xs,        m->emb_pre,
                     m->mean0,     m->rstd0,     m->dx,        m->dh,         m->dt,        m->dqkv,
                     m->dattn,     m->dff,       m->ff_act,     m->gelu_g};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(m->pos), free(m->kv_lo), free(m->kv_hi), free(m->types), free(m->ids);
    onc_tokenizer_free(m->tok);
    onc_hparams_clear(&m->hp);
    onc_gguf_close(m->g);
    free(m->path);
    free(m);
}

/* F32 copy of a file tensor (dequantized), or NULL with err. Checks the
 * shape against `want` through the model binder (same messages as the
 * inference engine). *absent is set when an optional tensor is missing. */
static float *load_copy(onc_enc_model *m, const onc_arch_tensor *want, bool *absent, onc_error *err) {
    onc_tensor t;
    memset(&t, 0, sizeof t);
    *absent = false;
    if (onc_model_bind_tensor(m->g, ONC_ARCH_BERT, want, &t, err) != ONC_OK) return NULL;
    const onc_gguf_tensor *gt = onc_gguf_find_tensor(m->g, want->name);
    if (!gt) {
        *absent = true;
        return NULL;
    }
    const int64_t n_in = gt->ne[0], rows = gt->ne[1] * gt->ne[2] * gt->ne[3];
    float *d = falloc(m, n_in * rows);
    if (!d) {
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory for tensor '%s' (%lld bytes)", m->path, want->name,
                      (long long)(n_in * rows * 4));
        return NULL;
    }
    const size_t rs = onc_type_row_size(gt->type, n_in);
    for (int64_t r = 0; r < rows; r++)
        onc_dequantize_row(gt->type, (const char *)gt->data + (size_t)r * rs, d + r * n_in, n_in);
    return d;
}

static const onc_arch_tensor *find_want(const onc_arch_tensor *list, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0) return &list[i];
    return NULL;
}

static bool lora_wanted(unsigned mask, int slot) {
    switch (slot) {
    case EL_Q: return mask & ONC_LORA_Q;
    case EL_K: return mask & ONC_LORA_K;
    case EL_V: return mask & ONC_LORA_V;
    case EL_QKV: return mask & (ONC_LORA_Q | ONC_LORA_K | ONC_LORA_V | ONC_LORA_QKV);
    case EL_O: return mask & ONC_LORA_O;
    case EL_UP: return mask & (ONC_LORA_UP | ONC_LORA_GATE_UP);
    case EL_DOWN: return mask & ONC_LORA_DOWN;
    default: return false;
    }
}

static const char *const lin_base[EL_N] = {"attn_q", "attn_k", "attn_v", "attn_qkv", "attn_output", "ffn_up",
                                           "ffn_down"};

#define FAIL(code, ...)                                                                                                \
    do {                                                                                                               \
        onc_error_set(err, code, __VA_ARGS__);                                                                         \
        goto fail;                                                                                                     \
    } while (0)
#define NOMEM() FAIL(ONC_ERR_NOMEM, "%s: out of memory (%zu bytes held so far)", path, m->bytes)

onc_enc_model *onc_enc_model_load(const char *path, const onc_enc_model_params *pp, onc_error *err) {
    const onc_enc_model_params p = pp ? *pp : onc_enc_model_default_params();
    onc_enc_model *m = calloc(1, sizeof *m);
    onc_arch_tensor *list = NULL;
    size_t n_list = 0;
    char name[96];
    if (!m) {
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    m->p = p;
    if (!(m->path = strdup(path))) NOMEM();
    if (p.max_tokens < 1) FAIL(ONC_ERR_INVALID, "%s: max_tokens must be at least 1", path);
    if (!(p.dropout >= 0.0f && p.dropout < 1.0f)) FAIL(ONC_ERR_INVALID, "%s: dropout must lie in [0, 1)", path);
    if (p.lora.rank < 0) FAIL(ONC_ERR_INVALID, "%s: LoRA rank must be >= 0", path);
    if (p.lora.rank > 0 && !(p.lora.dropout >= 0.0f && p.lora.dropout < 1.0f))
        FAIL(ONC_ERR_INVALID, "%s: LoRA dropout must lie in [0, 1)", path);
    if (!(m->g = onc_gguf_open(path, err))) goto fail;
    if (onc_hparams_from_gguf(m->g, &m->hp, err) != ONC_OK) goto fail;
    if (m->hp.arch != ONC_ARCH_BERT)
        FAIL(ONC_ERR_UNSUPPORTED, "%s: architecture '%s' is not a bert encoder (encoder fine-tuning needs bert)",
             path, onc_arch_name(m->hp.arch));
    const onc_hparams *hp = &m->hp;
    if (hp->n_embd_head_k != hp->n_embd_head_v || hp->n_head_kv != hp->n_head ||
        (int64_t)hp->n_embd_head_k * hp->n_head != hp->n_embd)
        FAIL(ONC_ERR_UNSUPPORTED, "%s: unusual attention head sizes are not supported for training", path);
    if (!(m->tok = onc_tokenizer_from_gguf(m->g, err))) goto fail;
    if (!(m->tp = onc_threadpool_new(p.n_threads, err))) goto fail;
    m->lora = p.lora.rank > 0;
    m->r = p.lora.rank;
    m->lora_scale = m->lora ? (p.lora.rslora ? p.lora.alpha / sqrtf((float)p.lora.rank)
                                             : p.lora.alpha / (float)p.lora.rank)
                            : 0.0f;
    m->T_max = p.max_tokens;
    m->E = hp->n_embd, m->H = hp->n_head, m->Dh = hp->n_embd_head_k, m->F = hp->n_ff, m->V = hp->n_vocab;
    m->nqkv = 3 * m->E;
    m->n_pos = hp->n_ctx_train;
    const int64_t E = m->E, F = m->F, T = m->T_max, V = m->V;
    const bool full = !m->lora;

    /* the tensor list of the file's own tensors (heads as the file has them) */
    if (!(list = onc_arch_tensors(hp, &n_list, err))) goto fail;
    bool absent;
    const onc_arch_tensor *w;

#define COPY(dst, nm, need)                                                                                            \
    do {                                                                                                               \
        w = find_want(list, n_list, nm);                                                                               \
        dst = w ? load_copy(m, w, &absent, err) : NULL;                                                                \
        if (!dst && (!w || !absent)) {                                                                                 \
            if (!w) FAIL(ONC_ERR_FORMAT, "%s: tensor '%s' is not expected in a bert model", path, nm);                 \
            goto fail;                                                                                                 \
        }                                                                                                              \
        if (!dst && (need)) FAIL(ONC_ERR_FORMAT, "%s: tensor '%s' is missing", path, nm);                             \
    } while (0)
#define GRAD(g, n)                                                                                                     \
    do {                                                                                                               \
        if (!((g) = falloc(m, (n)))) NOMEM();                                                                          \
    } while (0)

    COPY(m->tok_embd, "token_embd.weight", true);
    COPY(m->pos_embd, "position_embd.weight", true);
    m->type_embd = NULL;
    m->n_types = 0;
    if (hp->n_token_types > 0 && onc_gguf_find_tensor(m->g, "token_types.weight")) {
        COPY(m->type_embd, "token_types.weight", false);
        m->n_types = hp->n_token_types;
    }
    COPY(m->ln0.w, "token_embd_norm.weight", true);
    COPY(m->ln0.b, "token_embd_norm.bias", true);
    if (full) {
        GRAD(m->g_tok_embd, V * E);
        if (m->type_embd) GRAD(m->g_type_embd, m->n_types * E);
        GRAD(m->g_pos_embd, m->n_pos * E);
        GRAD(m->ln0.gw, E);
        GRAD(m->ln0.gb, E);
        if (!add_param(m, "token_embd.weight", m->tok_embd, m->g_tok_embd, V * E, true)) NOMEM();
        if (m->type_embd &&
            !add_param(m, "token_types.weight", m->type_embd, m->g_type_embd, m->n_types * E, true))
            NOMEM();
        if (!add_param(m, "position_embd.weight", m->pos_embd, m->g_pos_embd, m->n_pos * E, true)) NOMEM();
        if (!add_param(m, "token_embd_norm.weight", m->ln0.w, m->ln0.gw, E, false)) NOMEM();
        if (!add_param(m, "token_embd_norm.bias", m->ln0.b, m->ln0.gb, E, false)) NOMEM();
    }

    if (!(m->layers = calloc(hp->n_layer, sizeof *m->layers))) NOMEM();
    m->bytes += hp->n_layer * sizeof *m->layers;
    onc_rng lrng;
    onc_rng_seed(&lrng, p.seed);
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        enc_layer_t *L = &m->layers[l];
        for (int s = 0; s < EL_N; s++) {
            enc_lin *li = &L->lin[s];
            if (hp->fused_qkv ? (s == EL_Q || s == EL_K || s == EL_V) : s == EL_QKV) continue;
            snprintf(li->name, sizeof li->name, "blk.%u.%s.weight", l, lin_base[s]);
            snprintf(li->bias_name, sizeof li->bias_name, "blk.%u.%s.bias", l, lin_base[s]);
            w = find_want(list, n_list, li->name);
            if (!w) FAIL(ONC_ERR_FORMAT, "%s: tensor '%s' is missing", path, li->name);
            li->n_in = w->ne[0], li->n_out = w->ne[1];
            if (full) {
                if (!(li->wf = load_copy(m, w, &absent, err))) goto fail;
                GRAD(li->gw, li->n_in * li->n_out);
                li->w = (onc_matrix){ONC_TYPE_F32, li->wf, (size_t)li->n_in * sizeof(float), li->n_out, li->n_in};
                if (!add_param(m, li->name, li->wf, li->gw, li->n_in * li->n_out, true)) NOMEM();
            } else {
                onc_tensor t;
                if (onc_model_bind_tensor(m->g, ONC_ARCH_BERT, w, &t, err) != ONC_OK) goto fail;
                const onc_gguf_tensor *gt = onc_gguf_find_tensor(m->g, li->name);
                li->w = (onc_matrix){gt->type, gt->data, onc_type_row_size(gt->type, li->n_in), li->n_out, li->n_in};
            }
            COPY(li->b, li->bias_name, false);
            if (li->b && full) {
                GRAD(li->gb, li->n_out);
                if (!add_param(m, li->bias_name, li->b, li->gb, li->n_out, false)) NOMEM();
            }
            if (m->lora && lora_wanted(p.lora.modules, s)) {
                const int64_t r = m->r;
                if (!(li->la = falloc(m, r * li->n_in)) || !(li->lb = falloc(m, li->n_out * r)) ||
                    !(li->gla = falloc(m, r * li->n_in)) || !(li->glb = falloc(m, li->n_out * r)) ||
                    !(li->u = falloc(m, T * r)))
                    NOMEM();
                /* PEFT: kaiming_uniform_(a = sqrt 5) = U(-1/sqrt(in), 1/sqrt(in)); B = 0 */
                const float bound = (float)(1.0 / sqrt((double)li->n_in));
                for (int64_t j = 0; j < r * li->n_in; j++)
                    li->la[j] = (2.0f * ((float)(onc_rng_next(&lrng) >> 40) * (1.0f / 16777216.0f)) - 1.0f) * bound;
                snprintf(name, sizeof name, "blk.%u.%s.lora_a", l, lin_base[s]);
                if (!add_param(m, name, li->la, li->gla, r * li->n_in, true)) NOMEM();
                snprintf(name, sizeof name, "blk.%u.%s.lora_b", l, lin_base[s]);
                if (!add_param(m, name, li->lb, li->glb, li->n_out * r, true)) NOMEM();
            }
        }
        struct {
            enc_ln *ln;
            const char *base;
        } lns[2] = {{&L->ln1, "attn_output_norm"}, {&L->ln2, "layer_output_norm"}};
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "blk.%u.%s.weight", l, lns[k].base);
            COPY(lns[k].ln->w, name, true);
            if (full) {
                GRAD(lns[k].ln->gw, E);
                if (!add_param(m, name, lns[k].ln->w, lns[k].ln->gw, E, false)) NOMEM();
            }
            snprintf(name, sizeof name, "blk.%u.%s.bias", l, lns[k].base);
            COPY(lns[k].ln->b, name, true);
            if (full) {
                GRAD(lns[k].ln->gb, E);
                if (!add_param(m, name, lns[k].ln->b, lns[k].ln->gb, E, false)) NOMEM();
            }
        }
        /* saved activations */
        if (!(L->qkv = falloc(m, T * m->nqkv)) || !(L->attn = falloc(m, T * E)) || !(L->lse = falloc(m, T * m->H)) ||
            !(L->h_pre = falloc(m, T * E)) || !(L->h = falloc(m, T * E)) || !(L->mean1 = falloc(m, T)) ||
            !(L->rstd1 = falloc(m, T)) || !(L->ff_pre = falloc(m, T * F)) || !(L->out_pre = falloc(m, T * E)) ||
            !(L->mean2 = falloc(m, T)) || !(L->rstd2 = falloc(m, T)))
            NOMEM();
    }

    if (m->lora && m->n_params == 0)
        FAIL(ONC_ERR_INVALID, "%s: LoRA asked but no module of the mask exists in bert (q, k, v, o, up, down)", path);

    /* classification head */
    if (p.n_labels > 0) {
        const onc_gguf_tensor *co = onc_gguf_find_tensor(m->g, "cls.output.weight");
        const int64_t C = p.n_labels;
        m->n_labels = p.n_labels;
        if (co) {
            if (co->ne[0] != E || co->ne[1] != C)
                FAIL(ONC_ERR_INVALID, "%s: the file's classification head has %lld outputs, %lld were asked", path,
                     (long long)co->ne[1], (long long)C);
            m->has_cls = hp->has_cls;
            if (m->has_cls) {
                COPY(m->cls_w, "cls.weight", true);
                COPY(m->cls_b, "cls.bias", false);
            }
            COPY(m->out_w, "cls.output.weight", true);
            COPY(m->out_b, "cls.output.bias", false);
            if ((m->has_cls && !m->cls_b && !(m->cls_b = falloc(m, E))) || (!m->out_b && !(m->out_b = falloc(m, C))))
                NOMEM();
        } else {
            /* a new output layer; the pooler dense comes from the file when it has one (BertModel's pooler) */
            m->has_cls = true;
            if (hp->has_cls) {
                COPY(m->cls_w, "cls.weight", true);
                COPY(m->cls_b, "cls.bias", false);
            }
            if ((!m->cls_w && !(m->cls_w = falloc(m, E * E))) || (!m->cls_b && !(m->cls_b = falloc(m, E))) ||
                !(m->out_w = falloc(m, C * E)) || !(m->out_b = falloc(m, C)))
                NOMEM();
            if (!hp->has_cls) enc_fill_normal(m->cls_w, E * E, 0.02f, mix_seed(p.seed, 1, 0, 0));
            enc_fill_normal(m->out_w, C * E, 0.02f, mix_seed(p.seed, 2, 0, 0));
        }
        if (m->has_cls) {
            GRAD(m->g_cls_w, E * E);
            GRAD(m->g_cls_b, E);
            if (!add_param(m, "cls.weight", m->cls_w, m->g_cls_w, E * E, true) ||
                !add_param(m, "cls.bias", m->cls_b, m->g_cls_b, E, false))
                NOMEM();
        }
        GRAD(m->g_out_w, C * E);
        GRAD(m->g_out_b, C);
        if (!add_param(m, "cls.output.weight", m->out_w, m->g_out_w, C * E, true) ||
            !add_param(m, "cls.output.bias", m->out_b, m->g_out_b, C, false))
            NOMEM();
        /* labels: given, else the file's when they fit, else LABEL_i */
        char **own = NULL;
        const char *const *labels = p.labels;
        if (!labels && hp->cls_labels && hp->n_cls_out == (uint32_t)C) labels = (const char *const *)hp->cls_labels;
        if (!labels) {
            if (!(own = calloc((size_t)C, sizeof *own))) NOMEM();
            for (int64_t i = 0; i < C; i++) {
                char buf[32];
                snprintf(buf, sizeof buf, "LABEL_%lld", (long long)i);
                own[i] = strdup(buf);
            }
            labels = (const char *const *)own;
        }
        /* copy before replacing (labels may point into hp) */
        char **copy = calloc((size_t)C, sizeof *copy);
        bool ok = copy != NULL;
        for (int64_t i = 0; ok && i < C; i++) ok = labels[i] && (copy[i] = strdup(labels[i])) != NULL;
        if (own)
            for (int64_t i = 0; i < C; i++) free(own[i]);
        free(own);
        ok = ok && onc_hparams_set_labels(&m->hp, (const char *const *)copy, (uint32_t)C) == ONC_OK;
        if (copy)
            for (int64_t i = 0; i < C; i++) free(copy[i]);
        free(copy);
        if (!ok) NOMEM();
        m->hp.has_cls = m->has_cls;
        m->hp.has_cls_out = true;
    } else {
        m->hp.has_cls = m->hp.has_cls_out = false;
    }

    /* masked-LM head */
    if (p.mlm_head) {
        m->has_mlm = true;
        const char *nm[5] = {"mlm.dense.weight", "mlm.dense.bias", "mlm.norm.weight", "mlm.norm.bias",
                             "mlm.output.bias"};
        float **dst[5] = {&m->mlm_w, &m->mlm_b, &m->mlm_nw, &m->mlm_nb, &m->mlm_ob};
        float **gdst[5] = {&m->g_mlm_w, &m->g_mlm_b, &m->g_mlm_nw, &m->g_mlm_nb, &m->g_mlm_ob};
        const int64_t ne0[5] = {E, E, E, E, V}, ne1[5] = {E, 1, 1, 1, 1};
        const bool have = onc_gguf_find_tensor(m->g, nm[0]) != NULL;
        for (int k = 0; k < 5; k++) {
            const int64_t n = ne0[k] * ne1[k];
            if (have) {
                onc_arch_tensor want;
                memset(&want, 0, sizeof want);
                snprintf(want.name, sizeof want.name, "%s", nm[k]);
                want.n_dims = ne1[k] > 1 ? 2 : 1;
                want.ne[0] = ne0[k], want.ne[1] = ne1[k], want.ne[2] = want.ne[3] = 1;
                want.required = true;
                if (!(*dst[k] = load_copy(m, &want, &absent, err))) goto fail;
            } else {
                if (!(*dst[k] = falloc(m, n))) NOMEM();
                if (k == 0) enc_fill_normal(m->mlm_w, E * E, 0.02f, mix_seed(p.seed, 3, 0, 0));
                if (k == 2)
                    for (int64_t i = 0; i < E; i++) m->mlm_nw[i] = 1.0f;
            }
            GRAD(*gdst[k], n);
            if (!add_param(m, nm[k], *dst[k], *gdst[k], n, k == 0)) NOMEM();
        }
    }

    /* activations and scratch */
    if (!(m->xs = falloc(m, (int64_t)(hp->n_layer + 1) * T * E)) || !(m->emb_pre = falloc(m, T * E)) ||
        !(m->mean0 = falloc(m, T)) || !(m->rstd0 = falloc(m, T)) || !(m->dx = falloc(m, T * E)) ||
        !(m->dh = falloc(m, T * E)) || !(m->dt = falloc(m, T * E)) || !(m->dqkv = falloc(m, T * m->nqkv)) ||
        !(m->dattn = falloc(m, T * E)) || !(m->dff = falloc(m, T * F)) || !(m->ff_act = falloc(m, T * F)) ||
        (use_avx512() && !(m->gelu_g = falloc(m, T * F))))
        NOMEM();
    m->pos = malloc((size_t)T * sizeof(int32_t));
    m->kv_lo = malloc((size_t)T * sizeof(int32_t));
    m->kv_hi = malloc((size_t)T * sizeof(int32_t));
    m->types = malloc((size_t)T * sizeof(int32_t));
    m->ids = malloc((size_t)T * sizeof(int32_t));
    if (!m->pos || !m->kv_lo || !m->kv_hi || !m->types || !m->ids) NOMEM();
    m->bytes += 5 * (size_t)T * sizeof(int32_t);
    free(list);
    return m;
fail:
    free(list);
    onc_enc_model_free(m);
    return NULL;
}

const onc_hparams *onc_enc_model_hparams(const onc_enc_model *m) { return &m->hp; }
const onc_tokenizer *onc_enc_model_tokenizer(const onc_enc_model *m) { return m->tok; }
uint32_t onc_enc_model_n_labels(const onc_enc_model *m) { return m->n_labels; }
size_t onc_enc_model_n_params(const onc_enc_model *m) { return m->n_params; }
const onc_train_param *onc_enc_model_param(const onc_enc_model *m, size_t i) {
    return i < m->n_params ? &m->params[i] : NULL;
}
void onc_enc_model_zero_grad(onc_enc_model *m) {
    for (size_t i = 0; i < m->n_params; i++) memset(m->params[i].grad, 0, (size_t)m->params[i].n * sizeof(float));
}
int64_t onc_enc_model_n_trainable(const onc_enc_model *m) {
    int64_t n = 0;
    for (size_t i = 0; i < m->n_params; i++) n += m->params[i].n;
    return n;
}
size_t onc_enc_model_bytes(const onc_enc_model *m) { return m->bytes; }

// --- forward -------------------------------------------------------------------------

typedef struct emb_ctx {
    onc_enc_model *m;
} emb_ctx;

static void embed_run(void *ctx, int64_t lo, int64_t hi) {
    onc_enc_model *m = ((emb_ctx *)ctx)->m;
    const int64_t E = m->E;
    for (int64_t t = lo; t < hi; t++) {
        float *y = m->emb_pre + t * E;
        const float *a = m->tok_embd + (int64_t)m->ids[t] * E, *p = m->pos_embd + (int64_t)m->pos[t] * E;
        if (m->type_embd) {
            const float *ty = m->type_embd + (int64_t)m->types[t] * E;
            /* the inference order: (tok + type) + pos */
            for (int64_t i = 0; i < E; i++) y[i] = (a[i] + ty[i]) + p[i];
        } else {
            for (int64_t i = 0; i < E; i++) y[i] = a[i] + p[i];
        }
    }
}

/* y[T][n_out] (stride ldy) = x W^T + b + LoRA; saves u. */
static onc_status lin_fwd(onc_enc_model *m, enc_lin *w, float *y, int64_t ldy, const float *x, int64_t T, int layer,
                          int slot, onc_error *err) {
    onc_status st = enc_linear_fwd(m->tp, y, ldy, &w->w, x, w->n_in, T, err);
    if (st) return st;
    enc_add_bias(m->tp, y, ldy, w->b, T, w->n_out);
    if (w->la) {
        const float p = m->saved ? m->p.lora.dropout : 0.0f;
        st = onc_lora_fwd(y, ldy, w->u, x, w->n_in, w->la, w->lb, T, w->n_in, w->n_out, m->r, m->lora_scale, p,
                          mix_seed(m->seed, (uint64_t)layer, 10 + (uint64_t)slot, 0), err);
    }
    return st;
}

onc_status onc_enc_model_forward(onc_enc_model *m, const onc_enc_batch *b, bool train, uint64_t dropout_seed,
                                 const float **states, onc_error *err) {
    const onc_hparams *hp = &m->hp;
    m->saved = false;
    if (!b || b->n_tokens < 1 || b->n_seq < 1 || !b->tokens || !b->seq_start || !b->seq_len)
        return onc_error_set(err, ONC_ERR_INVALID, "encoder forward: empty or incomplete batch");
    if (b->n_tokens > m->T_max)
        return onc_error_set(err, ONC_ERR_INVALID, "encoder forward: %d tokens, more than max_tokens %lld",
                             b->n_tokens, (long long)m->T_max);
    const int64_t T = b->n_tokens, E = m->E, F = m->F;
    int64_t next = 0;
    for (int32_t s = 0; s < b->n_seq; s++) {
        if (b->seq_start[s] != next || b->seq_len[s] < 1 || next + b->seq_len[s] > T)
            return onc_error_set(err, ONC_ERR_INVALID,
                                 "encoder forward: input %d (start %d, length %d) does not follow the previous one "
                                 "inside %lld tokens",
                                 s, b->seq_start[s], b->seq_len[s], (long long)T);
        if (b->seq_len[s] > m->n_pos)
            return onc_error_set(err, ONC_ERR_INVALID, "encoder forward: input %d has %d tokens, more than the model's "
                                 "context %lld", s, b->seq_len[s], (long long)m->n_pos);
        for (int32_t j = 0; j < b->seq_len[s]; j++) {
            const int64_t t = next + j;
            m->pos[t] = j;
            m->kv_lo[t] = (int32_t)next;
            m->kv_hi[t] = hp->causal_attn ? (int32_t)(t + 1) : (int32_t)(next + b->seq_len[s]);
        }
        next += b->seq_len[s];
    }
    if (next != T)
        return onc_error_set(err, ONC_ERR_INVALID, "encoder forward: the inputs cover %lld of %lld tokens",
                             (long long)next, (long long)T);
    for (int64_t t = 0; t < T; t++) {
        const int32_t id = b->tokens[t], ty = b->types ? b->types[t] : 0;
        if (id < 0 || id >= m->V)
            return onc_error_set(err, ONC_ERR_INVALID, "encoder forward: token id %d at %lld outside the vocabulary "
                                 "[0, %lld)", id, (long long)t, (long long)m->V);
        if (ty < 0 || (ty > 0 && ty >= m->n_types))
            return onc_error_set(err, ONC_ERR_INVALID, "encoder forward: token type %d at %lld outside the model's "
                                 "%lld types", ty, (long long)t, (long long)m->n_types);
        m->ids[t] = id;
        m->types[t] = ty;
    }
    m->T = (int32_t)T;
    m->seed = dropout_seed;
    m->p_drop = train ? m->p.dropout : 0.0f;
    m->saved = train; /* read by lin_fwd for LoRA dropout */

    onc_status st = ONC_OK;
    emb_ctx ec = {m};
    enc_pfor(m->tp, T, embed_run, &ec);
    float *x = m->xs;
    enc_ln_fwd(m->tp, x, m->mean0, m->rstd0, m->emb_pre, m->ln0.w, m->ln0.b, T, E, hp->norm_eps);
    dropout(m, x, T, 0, 0);
    const float scale = 1.0f / sqrtf((float)m->Dh);
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        enc_layer_t *L = &m->layers[l];
        const int64_t ld = m->nqkv;
        if (hp->fused_qkv) {
            if ((st = lin_fwd(m, &L->lin[EL_QKV], L->qkv, ld, x, T, (int)l, EL_QKV, err))) goto done;
        } else {
            for (int s = EL_Q; s <= EL_V; s++)
                if ((st = lin_fwd(m, &L->lin[s], L->qkv + s * E, ld, x, T, (int)l, s, err))) goto done;
        }
        if ((st = onc_attention_fwd(m->tp, L->attn, E, L->lse, L->qkv, ld, L->qkv + E, ld, L->qkv + 2 * E, ld, T,
                                    m->H, m->H, m->Dh, m->kv_lo, m->kv_hi, scale, err)))
            goto done;
        if ((st = lin_fwd(m, &L->lin[EL_O], m->dt, E, L->attn, T, (int)l, EL_O, err))) goto done;
        dropout(m, m->dt, T, (int)l + 1, 1);
        vadd(m->tp, L->h_pre, x, m->dt, T * E);
        enc_ln_fwd(m->tp, L->h, L->mean1, L->rstd1, L->h_pre, L->ln1.w, L->ln1.b, T, E, hp->norm_eps);
        if ((st = lin_fwd(m, &L->lin[EL_UP], L->ff_pre, F, L->h, T, (int)l, EL_UP, err))) goto done;
        ew_ctx gc = {.y = m->ff_act, .a = L->ff_pre};
        enc_pfor(m->tp, T * F, gelu_run, &gc);
        if ((st = lin_fwd(m, &L->lin[EL_DOWN], m->dt, E, m->ff_act, T, (int)l, EL_DOWN, err))) goto done;
        dropout(m, m->dt, T, (int)l + 1, 2);
        vadd(m->tp, L->out_pre, L->h, m->dt, T * E);
        float *xn = x + T * E;
        enc_ln_fwd(m->tp, xn, L->mean2, L->rstd2, L->out_pre, L->ln2.w, L->ln2.b, T, E, hp->norm_eps);
        x = xn;
    }
    if (states) *states = x;
done:
    m->saved = st == ONC_OK && train;
    return st;
}

// --- backward ------------------------------------------------------------------------

/* Backward of lin_fwd given dy: weight/bias/LoRA gradients (+=) and dx (+=). */
static onc_status lin_bwd(onc_enc_model *m, enc_lin *w, float *dx, const float *dy, int64_t lddy, const float *x,
                          int64_t T, int layer, int slot, onc_error *err) {
    onc_status st;
    if (w->gw) enc_weight_grad(m->tp, w->gw, dy, lddy, x, w->n_in, T, w->n_out, w->n_in);
    if (w->gb) enc_bias_grad(m->tp, w->gb, dy, lddy, T, w->n_out);
    if (dx && (st = enc_linear_bwd_input(m->tp, dx, w->n_in, &w->w, dy, lddy, T, err))) return st;
    if (w->la) {
        const float p = m->p.lora.dropout;
        if ((st = onc_lora_bwd(dx, w->n_in, w->gla, w->glb, dy, lddy, w->u, x, w->n_in, w->la, w->lb, T, w->n_in,
                               w->n_out, m->r, m->lora_scale, p,
                               mix_seed(m->seed, (uint64_t)layer, 10 + (uint64_t)slot, 0), err)))
            return st;
    }
    return ONC_OK;
}

onc_status onc_enc_model_backward(onc_enc_model *m, const float *dstates, onc_error *err) {
    if (!m->saved)
        return onc_error_set(err, ONC_ERR_INVALID, "encoder backward: no training forward pass to differentiate");
    const onc_hparams *hp = &m->hp;
    const int64_t T = m->T, E = m->E, F = m->F;
    onc_status st;
    float *dx = m->dx, *dh = m->dh, *dt = m->dt;
    memcpy(dx, dstates, (size_t)(T * E) * sizeof(float));
    for (int l = (int)hp->n_layer - 1; l >= 0; l--) {
        enc_layer_t *L = &m->layers[l];
        const float *x = m->xs + (int64_t)l * T * E;
        /* LN2: dx -> d out_pre (into dh, which is also the residual branch into h) */
        memset(dh, 0, (size_t)(T * E) * sizeof(float));
        enc_ln_bwd(m->tp, dh, L->ln2.gw, L->ln2.gb, dx, L->out_pre, L->mean2, L->rstd2, L->ln2.w, T, E);
        /* FFN branch: dt = drop^T(d out_pre) */
        memcpy(dt, dh, (size_t)(T * E) * sizeof(float));
        dropout(m, dt, T, l + 1, 2);
        /* gelu output again (not saved), and with AVX-512 gelu' in the same pass
         * (the level is asked again: it may have been lowered since the load) */
        const bool fused = m->gelu_g && use_avx512();
        ew_ctx gc = {.y = m->ff_act, .a = L->ff_pre, .b = fused ? m->gelu_g : NULL};
        enc_pfor(m->tp, T * F, gelu_run, &gc);
        float *dact = m->dff; /* d gelu output */
        memset(dact, 0, (size_t)(T * F) * sizeof(float));
        if ((st = lin_bwd(m, &L->lin[EL_DOWN], dact, dt, E, m->ff_act, T, l, EL_DOWN, err))) return st;
        /* d ff_pre = gelu'(ff_pre) * dact: in place in dact, or into ff_act (no longer needed) */
        float *dpre = dact;
        if (fused) {
            ew_ctx gm = {.y = dact, .a = m->gelu_g};
            enc_pfor(m->tp, T * F, mul_run, &gm);
        } else {
            dpre = m->ff_act;
            memset(dpre, 0, (size_t)(T * F) * sizeof(float));
            ew_ctx gb = {.y = dpre, .a = L->ff_pre, .b = dact};
            enc_pfor(m->tp, T * F, gelu_bwd_run, &gb);
        }
        if ((st = lin_bwd(m, &L->lin[EL_UP], dh, dpre, F, L->h, T, l, EL_UP, err))) return st;
        /* LN1: dh -> d h_pre into dx (dx is free now: it held d x_{l+1}) */
        memset(dx, 0, (size_t)(T * E) * sizeof(float));
        enc_ln_bwd(m->tp, dx, L->ln1.gw, L->ln1.gb, dh, L->h_pre, L->mean1, L->rstd1, L->ln1.w, T, E);
        /* attention output branch */
        memcpy(dt, dx, (size_t)(T * E) * sizeof(float));
        dropout(m, dt, T, l + 1, 1);
        memset(m->dattn, 0, (size_t)(T * E) * sizeof(float));
        if ((st = lin_bwd(m, &L->lin[EL_O], m->dattn, dt, E, L->attn, T, l, EL_O, err))) return st;
        memset(m->dqkv, 0, (size_t)(T * m->nqkv) * sizeof(float));
        const int64_t ld = m->nqkv;
        if ((st = onc_attention_bwd(m->tp, m->dqkv, m->dqkv + E, m->dqkv + 2 * E, m->dattn, E, L->attn, L->lse,
                                    L->qkv, ld, L->qkv + E, ld, L->qkv + 2 * E, ld, T, m->H, m->H, m->Dh, m->kv_lo,
                                    m->kv_hi, 1.0f / sqrtf((float)m->Dh), err)))
            return st;
        /* q/k/v: dx (residual, already d h_pre) += dqkv W */
        if (hp->fused_qkv) {
            if ((st = lin_bwd(m, &L->lin[EL_QKV], dx, m->dqkv, ld, x, T, l, EL_QKV, err))) return st;
        } else {
            for (int s = EL_Q; s <= EL_V; s++)
                if ((st = lin_bwd(m, &L->lin[s], dx, m->dqkv + s * E, ld, x, T, l, s, err))) return st;
        }
    }
    /* embeddings: dropout, LN0, tables */
    dropout(m, dx, T, 0, 0);
    const bool full = !m->lora;
    if (full) {
        memset(dh, 0, (size_t)(T * E) * sizeof(float));
        enc_ln_bwd(m->tp, dh, m->ln0.gw, m->ln0.gb, dx, m->emb_pre, m->mean0, m->rstd0, m->ln0.w, T, E);
        onc_embedding_bwd(m->g_tok_embd, dh, m->ids, T, E);
        onc_embedding_bwd(m->g_pos_embd, dh, m->pos, T, E);
        if (m->type_embd) onc_embedding_bwd(m->g_type_embd, dh, m->types, T, E);
    }
    return ONC_OK;
}
