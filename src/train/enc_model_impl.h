/* enc_model_impl.h — private: the insides of onc_enc_model, shared by
 * enc_model.c (loading, forward, backward), enc_model_heads.c (the
 * classification and masked-LM heads) and enc_model_save.c. */
#ifndef ONC_ENC_MODEL_IMPL_H
#define ONC_ENC_MODEL_IMPL_H

#include "oncolm/compute.h"
#include "oncolm/enc_model.h"
#include "oncolm/gguf.h"
#include "oncolm/train_ops.h"

/* One linear layer y = x W^T + b (+ LoRA). */
typedef struct enc_lin {
    char name[64];        /* GGUF tensor name of the weight, e.g. "blk.0.attn_q.weight" */
    char bias_name[64];
    int64_t n_in, n_out;
    onc_matrix w;         /* the forward matrix: the F32 copy (full) or the file's tensor (LoRA) */
    float *wf, *gw;       /* full mode: F32 weight (== w.data) and its gradient */
    float *b, *gb;        /* F32 bias (NULL when the file has none); gradient in full mode */
    float *la, *lb;       /* LoRA A [r][n_in], B [n_out][r] (NULL when not adapted) */
    float *gla, *glb;
    float *u;             /* saved LoRA intermediate [max_T][r] */
} enc_lin;

typedef struct enc_ln {
    float *w, *b, *gw, *gb; /* gw/gb NULL when frozen (LoRA) */
} enc_ln;

enum { EL_Q, EL_K, EL_V, EL_QKV, EL_O, EL_UP, EL_DOWN, EL_N };

typedef struct enc_layer_t {
    enc_lin lin[EL_N]; /* q/k/v or qkv (fused), n_out 0 when unused */
    enc_ln ln1, ln2;
    /* saved activations (max_T rows) */
    float *qkv;           /* [T][nqkv] q | k | v */
    float *attn;          /* [T][E] attention output (input of o) */
    float *lse;           /* [T][H] */
    float *h_pre, *h;     /* [T][E] LN1 input and output */
    float *mean1, *rstd1; /* [T] */
    float *ff_pre;        /* [T][F] up output (before GELU) */
    float *out_pre;       /* [T][E] LN2 input */
    float *mean2, *rstd2;
} enc_layer_t;

struct onc_enc_model {
    onc_enc_model_params p;
    char *path;
    onc_gguf *g;
    onc_hparams hp;        /* the file's, plus our head (labels owned) */
    onc_tokenizer *tok;
    onc_threadpool *tp;
    bool lora;
    int64_t r;
    float lora_scale;
    int64_t T_max, E, H, Dh, F, V, nqkv, n_types, n_pos;

    /* embeddings (F32 copies in both modes; trained in full mode) */
    float *tok_embd, *g_tok_embd;     /* [V][E] */
    float *pos_embd, *g_pos_embd;     /* [n_pos][E] */
    float *type_embd, *g_type_embd;   /* [n_types][E] or NULL */
    enc_ln ln0;
    enc_layer_t *layers;

    /* classification head */
    uint32_t n_labels;
    bool has_cls;                     /* dense + tanh before the output layer */
    float *cls_w, *cls_b, *g_cls_w, *g_cls_b;   /* [E][E], [E] */
    float *out_w, *out_b, *g_out_w, *g_out_b;   /* [C][E], [C] */
    /* masked-LM head */
    bool has_mlm;
    float *mlm_w, *mlm_b, *g_mlm_w, *g_mlm_b;   /* dense [E][E], [E] */
    float *mlm_nw, *mlm_nb, *g_mlm_nw, *g_mlm_nb;
    float *mlm_ob, *g_mlm_ob;                   /* [V] */

    /* parameters */
    onc_train_param *params;
    size_t n_params, cap_params;

    /* activations of the last forward */
    float *xs;                  /* [(n_layer + 1)][T][E]: layer inputs; xs[n_layer] = final states */
    float *emb_pre, *mean0, *rstd0;
    int32_t *pos, *kv_lo, *kv_hi, *types, *ids;
    int32_t T;                  /* tokens of the last forward */
    bool saved;                 /* the last forward was a train one */
    uint64_t seed;              /* its dropout seed */
    float p_drop;               /* its hidden dropout (0 when not training) */
    /* backward scratch */
    float *dx, *dh, *dt, *dqkv, *dattn, *dff, *ff_act;
    float *gelu_g; /* gelu'(up output) in the backward (AVX-512 path; else NULL) */

    size_t bytes;
};

/* Parallel loop over [0, n) in contiguous parts, one per thread. */
typedef void (*enc_range_fn)(void *ctx, int64_t lo, int64_t hi);
void enc_pfor(onc_threadpool *tp, int64_t n, enc_range_fn fn, void *ctx);

/* dw[n_out][n_in] += dy^T x, threaded over fixed tiles of the output
 * (the same sgemm calls whatever the thread count). */
void enc_weight_grad(onc_threadpool *tp, float *dw, const float *dy, int64_t lddy, const float *x, int64_t ldx,
                     int64_t T, int64_t n_out, int64_t n_in);
/* y[T][n_out] = x W^T: F32 weights by sgemm over fixed output tiles
 * (bit-identical whatever the thread count; onc_linear_fwd is not, for
 * F32 with T >= 4), other types through onc_linear_fwd. */
onc_status enc_linear_fwd(onc_threadpool *tp, float *y, int64_t ldy, const onc_matrix *w, const float *x,
                          int64_t ldx, int64_t T, onc_error *err);
/* dx[T][n_in] += dy[T][n_out] W: F32 weights by sgemm over fixed output
 * tiles, other types through onc_linear_bwd_input. */
onc_status enc_linear_bwd_input(onc_threadpool *tp, float *dx, int64_t lddx, const onc_matrix *w, const float *dy,
                                int64_t lddy, int64_t T, onc_error *err);
/* db[n] += column sums of dy[T][n] (row stride ld), threaded over columns. */
void enc_bias_grad(onc_threadpool *tp, float *db, const float *dy, int64_t ld, int64_t T, int64_t n);
/* y[T][n] (stride ld) += b[n]. */
void enc_add_bias(onc_threadpool *tp, float *y, int64_t ld, const float *b, int64_t T, int64_t n);
/* LayerNorm forward over rows, threaded; backward: dx (+=) threaded over
 * rows, dw/db (+=, may be NULL) threaded over columns. */
void enc_ln_fwd(onc_threadpool *tp, float *y, float *mean, float *rstd, const float *x, const float *w,
                const float *b, int64_t T, int64_t D, float eps);
void enc_ln_bwd(onc_threadpool *tp, float *dx, float *dw, float *db, const float *dy, const float *x,
                const float *mean, const float *rstd, const float *w, int64_t T, int64_t D);
/* N(0, std^2) fill from rng seeded with seed. */
void enc_fill_normal(float *x, int64_t n, float std, uint64_t seed);

/* Exact (erf) GELU with AVX-512 (enc_model_avx512.c): y = x Phi(x), and
 * with g also g = gelu'(x) = Phi(x) + x phi(x), Phi through Abramowitz &
 * Stegun 7.1.26 (|error| < 1.5e-7) and one vector exp shared by Phi and
 * phi. The scalar path is onc_gelu_erf_fwd/bwd (libm erff). */
#if defined(ONC_HAVE_X86_SIMD)
void enc_gelu_avx512(float *y, float *g, const float *x, int64_t n);
#endif

#endif
