/* oncolm/train_ops.h — forward and backward kernels for training on the
 * CPU: the ops of the llama/qwen2/phi3 and bert forward passes, LoRA, and
 * the losses.
 *
 * Conventions (every function):
 *  - Plain row-major F32 arrays: "x[T][D]" is T rows of D floats, row t at
 *    x + t*D unless a leading dimension says otherwise.
 *  - Backward functions ACCUMULATE into their gradient outputs (dx += ...,
 *    dw += ...): the caller zeroes them once, and residual branches simply
 *    add up. A NULL gradient output is skipped (not computed).
 *  - tp is an onc_threadpool (oncolm/compute.h) or NULL for the calling
 *    thread only; results do not depend on the number of threads (each
 *    output element is summed in a fixed order).
 *  - Forward functions compute exactly what the inference engine computes
 *    (src/compute), in F32, so an adapter trained here gives the same
 *    logits at inference (up to rounding).
 *  - No function prints or allocates more than the scratch it documents;
 *    functions returning onc_status fail only on bad shapes / types
 *    (ONC_ERR_INVALID, ONC_ERR_UNSUPPORTED) or memory (ONC_ERR_NOMEM). */
#ifndef ONCOLM_TRAIN_OPS_H
#define ONCOLM_TRAIN_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/backend.h"
#include "oncolm/compute.h"
#include "oncolm/status.h"
#include "oncolm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- norms ------------------------------------------------------------------- */

/* RMSNorm: y[t] = x[t] * rstd[t] * w, rstd[t] = 1 / sqrt(mean(x[t]^2) + eps).
 * rstd[T] is saved for the backward pass (may be NULL). w may be NULL (no gain). */
void onc_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int64_t T, int64_t D, float eps);
/* Gradients of onc_rmsnorm_fwd given dy: dx (+=) and dw (+=, may be NULL). */
void onc_rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *rstd, const float *w,
                     int64_t T, int64_t D);

/* LayerNorm: y = (x - mean) * rstd * w + b (w, b may be NULL); mean[T],
 * rstd[T] saved (may be NULL). */
void onc_layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int64_t T,
                       int64_t D, float eps);
void onc_layernorm_bwd(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
                       const float *rstd, const float *w, int64_t T, int64_t D);

/* ---- activations --------------------------------------------------------------- */

/* SwiGLU: out[i] = silu(gate[i]) * up[i] over n elements; backward: dgate,
 * dup (+=). */
void onc_swiglu_fwd(float *out, const float *gate, const float *up, int64_t n);
void onc_swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int64_t n);
/* Exact GELU (erf), BERT's: y = x/2 (1 + erf(x / sqrt 2)); dx (+=). */
void onc_gelu_erf_fwd(float *y, const float *x, int64_t n);
void onc_gelu_erf_bwd(float *dx, const float *dy, const float *x, int64_t n);

/* ---- rotary positions ----------------------------------------------------------- */

/* RoPE in place on x[T][H][Dh] (row t at x + t*ld, ld >= H*Dh), as
 * onc_backend_rope (same theta, modes, freq_factors, attn_factor); the
 * backward rotates the gradient by -theta (the transpose), also in place;
 * it is the inverse of the forward only when attn_factor = 1 (the
 * transpose multiplies by attn_factor too). n_rot must be even and
 * <= min(Dh, 1024) (asserted). Single-threaded. */
void onc_rope_fwd(float *x, int64_t T, int64_t H, int64_t Dh, int64_t ld, const int32_t *pos,
                  const onc_rope_params *p);
void onc_rope_bwd(float *dx, int64_t T, int64_t H, int64_t Dh, int64_t ld, const int32_t *pos,
                  const onc_rope_params *p);

/* ---- attention ------------------------------------------------------------------ */

/* Scaled dot-product attention with grouped-query heads over one packed
 * batch of T tokens: q[T][H][Dh] (row stride ldq floats), k and v
 * [T][Hkv][Dh] (strides ldk, ldv), out[T][H][Dh] (stride ldo); query head h
 * uses key/value head h / (H / Hkv). Token t attends tokens
 * kv_lo[t] <= s < kv_hi[t] (causal decoder: kv_lo = start of t's sequence,
 * kv_hi = t + 1; bidirectional encoder with padding: the sequence's
 * range), with softmax(scale * q.k). lse[T][H] saves the log-sum-exp of
 * each row (for the backward pass; may be NULL). A token with an empty
 * range (kv_lo == kv_hi) gets out = 0 and lse = -inf. Ranges must lie in
 * [0, T) and H be a multiple of Hkv (else ONC_ERR_INVALID). Computed per
 * head and tile of 64 queries with sgemm for q.k and p.v (threaded over
 * tiles; results do not depend on the thread count). Scratch: 64 x T
 * floats per thread. */
onc_status onc_attention_fwd(onc_threadpool *tp, float *out, int64_t ldo, float *lse, const float *q, int64_t ldq,
                             const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t T, int64_t H,
                             int64_t Hkv, int64_t Dh, const int32_t *kv_lo, const int32_t *kv_hi, float scale,
                             onc_error *err);
/* Gradients dq, dk, dv (+=, same layouts and strides as q, k, v) from dout,
 * recomputing the probabilities from q, k and lse (out is needed for the
 * softmax backward: D_t = dout_t . out_t). Recomputes the scores (about
 * 3.5x the forward's products; nothing T x T is stored) in tiles of 64
 * queries x 64 keys of one head, products by sgemm; dq is threaded over
 * (head, query tile), dk/dv over (kv head, key tile) with query tiles and
 * heads summed in increasing order. Scratch: T x H floats plus 2 x 64 x 64
 * per thread. */
onc_status onc_attention_bwd(onc_threadpool *tp, float *dq, float *dk, float *dv, const float *dout, int64_t ldo,
                             const float *out, const float *lse, const float *q, int64_t ldq, const float *k,
                             int64_t ldk, const float *v, int64_t ldv, int64_t T, int64_t H, int64_t Hkv, int64_t Dh,
                             const int32_t *kv_lo, const int32_t *kv_hi, float scale, onc_error *err);

/* ---- linear layers ----------------------------------------------------------------- */

/* A weight matrix of any type with kernels (F32, F16, BF16, Q8_0, Q4_0,
 * Q4_K, Q5_K, Q6_K): n_out rows of n_in elements, row r at data + r*stride
 * bytes (e.g. a GGUF tensor, or a row range of a fused one). */
typedef struct onc_matrix {
    onc_type type;
    const void *data;
    size_t stride;
    int64_t n_out, n_in;
} onc_matrix;

/* y[T][n_out] (row stride ldy) = x[T][n_in] W^T (the inference product;
 * F32 weights: one sgemm per fixed block of 256 rows of W, read in place,
 * so the sums do not depend on the thread count as the inference path's
 * do: the same values up to float rounding). Overwrites y. */
onc_status onc_linear_fwd(onc_threadpool *tp, float *y, int64_t ldy, const onc_matrix *w, const float *x,
                          int64_t ldx, int64_t T, onc_error *err);
/* Input gradient through a frozen W: dx[T][n_in] += dy[T][n_out] W. W is
 * dequantized a tile at a time (never whole): the input columns are cut in
 * fixed blocks of 256 (whole quant blocks) shared out to the threads; a
 * thread dequantizes 256 rows x up to 1024 of its columns at a time
 * (scratch: 1 MiB per thread) and accumulates with one sgemm per 256 rows x
 * 256 columns, so each dx element sees the same sums whatever the thread
 * count. F32 arithmetic (sgemm), so it costs about 4-6x the forward's
 * integer kernels for quantized W (docs/PERFORMANCE.md). */
onc_status onc_linear_bwd_input(onc_threadpool *tp, float *dx, int64_t lddx, const onc_matrix *w, const float *dy,
                                int64_t lddy, int64_t T, onc_error *err);
/* Weight gradient of an F32 weight (full fine-tuning, heads):
 * dw[n_out][n_in] += dy^T x. */
void onc_linear_bwd_weight(float *dw, const float *dy, int64_t lddy, const float *x, int64_t ldx, int64_t T,
                           int64_t n_out, int64_t n_in);

/* LoRA branch: y[T][n_out] += scale * (drop(x) A^T) B^T with A[r][n_in],
 * B[n_out][r]; u[T][r] = drop(x) A^T is saved for the backward pass.
 * Dropout (p in [0, 1)): inverted dropout of x with a mask drawn from
 * onc_rng seeded with `seed` (element order t, i), so the backward pass
 * (and a recomputation under activation checkpointing) regenerates the
 * same mask from the same seed; p = 0 uses x itself. The mask: one
 * onc_rng_next per element of x in order (t, i) from onc_rng_seed(seed);
 * the element is dropped when (bits >> 40) / 2^24 < p (top 24 bits as a
 * uniform in [0, 1)), else multiplied by 1 / (1 - p). Scratch: T x n_in
 * floats when p > 0. ONC_ERR_INVALID for p outside [0, 1) or bad shapes. */
onc_status onc_lora_fwd(float *y, int64_t ldy, float *u, const float *x, int64_t ldx, const float *a, const float *b,
                        int64_t T, int64_t n_in, int64_t n_out, int64_t r, float scale, float p, uint64_t seed,
                        onc_error *err);
/* Backward of onc_lora_fwd: da[r][n_in] +=, db[n_out][r] +=, dx[T][n_in] +=
 * (NULL skips); same p and seed as the forward (the mask is regenerated).
 * Scratch: T x r floats, plus 2 T x n_in when p > 0. */
onc_status onc_lora_bwd(float *dx, int64_t lddx, float *da, float *db, const float *dy, int64_t lddy, const float *u,
                        const float *x, int64_t ldx, const float *a, const float *b, int64_t T, int64_t n_in,
                        int64_t n_out, int64_t r, float scale, float p, uint64_t seed, onc_error *err);

/* Embedding lookup backward: demb[ids[t]][D] += dx[t] for t < T. */
void onc_embedding_bwd(float *demb, const float *dx, const int32_t *ids, int64_t T, int64_t D);

/* ---- losses -------------------------------------------------------------------------- */

/* Causal-LM cross-entropy over the vocabulary, in chunks of tokens so
 * memory stays chunk x V floats (never T x V): logits = h W^T for the
 * output matrix W (V rows of E, any type), for every t with labels[t] >= 0
 * (-1 = no loss at t). *loss_sum (+=) gets the summed negative
 * log-likelihood (computed in double), *n_counted (+=) the number of
 * counted tokens; dh[T][E] (+=, may be NULL) gets grad_scale * (softmax -
 * onehot) W for counted rows (pass grad_scale = 1 / total counted tokens of
 * the step for a mean). Chunks of 32 counted tokens; scratch 32 x (V + 2E)
 * floats. A label >= V or < -1 is ONC_ERR_INVALID (nothing accumulated).
 * The gradient goes through onc_linear_bwd_input. */
onc_status onc_cross_entropy_chunked(onc_threadpool *tp, double *loss_sum, int64_t *n_counted, float *dh,
                                     const float *h, const onc_matrix *w, const int32_t *labels, int64_t T,
                                     float grad_scale, onc_error *err);

/* Softmax cross-entropy of small logits rows (classifier heads):
 * logits[T][C], labels[T] (-1 skips), optional class weights[C] (NULL = 1;
 * the loss is then sum w_y * nll / sum w_y, as PyTorch's weighted mean);
 * returns the mean loss and writes dlogits (+=) of that mean. Returns 0
 * (no gradient) when no row counts; labels must be < C (asserted). */
double onc_softmax_xent(float *dlogits, const float *logits, const int32_t *labels, const float *class_weights,
                        int64_t T, int64_t C);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_TRAIN_OPS_H */
