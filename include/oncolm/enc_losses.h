/* oncolm/enc_losses.h — the pieces of encoder training that sit around the
 * model: pooling and its backward, the contrastive loss of sentence
 * embedders, masked-LM masking, and the class-imbalance remedies of the
 * CT-report study. Pure functions on plain F32 arrays (conventions of
 * oncolm/train_ops.h: gradients accumulate, NULL gradient outputs are
 * skipped, results independent of thread count).
 *
 * References: sentence-transformers' MultipleNegativesRankingLoss and
 * MultipleNegativesSymmetricRankingLoss, Hugging Face's
 * DataCollatorForLanguageModeling, scikit-learn's
 * compute_class_weight("balanced"), imbalanced-learn's RandomOverSampler
 * and RandomUnderSampler. */
#ifndef ONCOLM_ENC_LOSSES_H
#define ONCOLM_ENC_LOSSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/arch.h"
#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- pooling ------------------------------------------------------------------ */

/* Pool the states h[T][E] of n_seq packed inputs (input s: rows
 * seq_start[s] .. seq_start[s] + seq_len[s] - 1, seq_len >= 1) into
 * out[n_seq][E]: MEAN (average of every row), CLS (first row), LAST (last
 * row) — onc_encoder_pool's definitions. Other poolings: asserted. */
void onc_pool_fwd(onc_pooling pooling, float *out, const float *h, const int32_t *seq_start, const int32_t *seq_len,
                  int32_t n_seq, int64_t E);
/* dh (+=) from dout[n_seq][E]. */
void onc_pool_bwd(onc_pooling pooling, float *dh, const float *dout, const int32_t *seq_start,
                  const int32_t *seq_len, int32_t n_seq, int64_t E);

/* ---- contrastive loss ------------------------------------------------------------ */

/* MultipleNegativesRankingLoss over n anchors a[n][E] and m >= n candidates
 * c[m][E], where candidate i < n is the positive of anchor i and the rest
 * (rows n .. m-1) are extra (hard) negatives shared by every anchor:
 *   S[i][j] = scale * cos(a_i, c_j)   (cos with ||x|| clamped below at 1e-12
 *                                      as torch.nn.functional.normalize)
 *   loss = mean_i CE(S[i], target i)
 * symmetric = true adds sentence-transformers' symmetric term and halves:
 *   loss = (mean_i CE(S[i][:], i) + mean_j CE(S[:n][j]^T, j)) / 2, the second
 *   over the n x n block (positive j against all anchors).
 * Returns the loss (double); da[n][E] and dc[m][E] get its gradient times
 * grad_scale (+=; either may be NULL). Single-threaded, double
 * accumulators. Scratch: allocates n x m + 2n + m + E doubles (returns NaN
 * when out of memory). */
double onc_mnrl_loss(const float *a, const float *c, int32_t n, int32_t m, int64_t E, float scale, bool symmetric,
                     float grad_scale, float *da, float *dc);

/* ---- masked language modelling ----------------------------------------------------- */

/* Hugging Face DataCollatorForLanguageModeling (mlm_probability p, default
 * 0.15) on tokens[n] in place: each token whose is_special[tokens[i]] is
 * false (is_special may be NULL = none special) is selected with
 * probability p; labels[i] = the original id for selected tokens, -1
 * otherwise; a selected token becomes mask_id with probability 0.8, else a
 * uniform random id in [0, n_vocab) with probability 0.5 of the rest, else
 * stays. Random numbers: onc_rng seeded with seed, drawn in token order
 * (three uniforms per token: select, mask, random-or-keep; then the random
 * id), four draws for every token whatever its fate, so the result depends
 * only on (tokens, seed) and token i's fate only on (i, seed). Returns the
 * number of selected tokens. */
int64_t onc_mlm_mask(int32_t *tokens, int32_t *labels, int64_t n, const bool *is_special, int32_t n_vocab,
                     int32_t mask_id, float p, uint64_t seed);

/* ---- class imbalance ------------------------------------------------------------------ */

/* scikit-learn compute_class_weight("balanced"): w[c] = n / (C * count[c])
 * over labels[n] in [0, C); a class with no example gets weight 0. */
void onc_class_weights_balanced(float *w, const int32_t *labels, int64_t n, int32_t C);

typedef enum onc_resample {
    ONC_RESAMPLE_NONE = 0,
    ONC_RESAMPLE_OVER = 1,  /* random oversampling: every class up to the largest class's count */
    ONC_RESAMPLE_UNDER = 2, /* random undersampling: every class down to the smallest (non-empty) count */
} onc_resample;

/* Resampled example indices for labels[n] in [0, C): *out (malloc()ed) gets
 * *n_out indices into labels. OVER keeps every example and adds copies
 * drawn with replacement from each smaller class; UNDER keeps a random
 * subset without replacement of each larger class; NONE returns 0..n-1.
 * The indices are grouped by class (class 0 first), each class's kept
 * originals in their order followed by the draws; the trainer shuffles.
 * Deterministic for a seed. ONC_ERR_NOMEM / ONC_ERR_INVALID (a label out of
 * range, n = 0). */
onc_status onc_resample_indices(onc_resample how, const int32_t *labels, int64_t n, int32_t C, uint64_t seed,
                                int64_t **out, int64_t *n_out, onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_ENC_LOSSES_H */
