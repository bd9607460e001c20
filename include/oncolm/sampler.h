/* oncolm/sampler.h — choose the next token from a row of logits.
 *
 * A sampler holds the sampling parameters, a seeded random generator and the
 * history of accepted tokens (for the penalties). Each call transforms a copy
 * of the logits in llama.cpp's default order (common/sampling.cpp, which
 * puts the logit-bias sampler first in the chain, then its default list):
 *
 *   logit bias -> penalties (repeat, frequency, presence) -> top-k -> top-p
 *   -> min-p -> temperature -> draw
 *
 * with llama.cpp's semantics for each step:
 *   logit bias   logit[id] += bias[id]; a bias of -INFINITY bans the token.
 *   penalties    for each token seen c > 0 times in the last penalty_last_n
 *                accepted tokens: logit <= 0 ? logit *= repeat
 *                : logit /= repeat; then logit -= c * freq + presence.
 *   top-k        keep the k highest logits (k <= 0 or k >= n: no-op).
 *   top-p        softmax over the survivors (no temperature yet), keep the
 *                smallest prefix of them, by descending probability, whose
 *                probability sum is >= p (p >= 1: no-op).
 *   min-p        keep the tokens whose logit >= max logit + log(p), i.e.
 *                probability >= p * max probability (p <= 0: no-op).
 *   temperature  logits /= t; t <= 0 means greedy: the highest logit wins
 *                (ties: the lowest token id), no random number is drawn.
 *   draw         softmax over the survivors; one uniform double u in [0,1)
 *                from the generator; walk the survivors in ascending token
 *                id and take the first whose running probability sum
 *                exceeds u * total.
 * Ties in the sort (equal logits) are broken by ascending token id, so every
 * step is deterministic. Probabilities are computed in double precision
 * (llama.cpp: float), so when a top-p cut falls exactly on a tie (e.g. ten
 * equal logits and top_p 0.8) the two may keep one token more or less; on
 * 3,000 random chains with continuous logits the survivors and transformed
 * logits equal llama.cpp's libllama samplers exactly.
 * min_keep (llama.cpp's min_keep; 0 acts as 1) makes top-p and min-p keep at
 * least that many tokens.
 *
 * Random numbers: xoshiro256** seeded through splitmix64 from a 64-bit
 * seed, implemented here (never rand()); the same seed, parameters, history
 * and logits give the same tokens on every platform (up to last-bit
 * differences of the platform's exp(), which could move a choice only when
 * the uniform number falls within ~1e-16 of a boundary).
 *
 * The log-probability reported with each token is log-softmax of the RAW
 * logits passed in, i.e. under the model's full distribution before any
 * bias, penalty, truncation or temperature; evaluation (perplexity,
 * likelihood scoring) needs exactly that.
 *
 * Memory: every buffer is sized by n_vocab at construction; sampling,
 * accepting and the utilities below never allocate.
 *
 * Thread-safety: a sampler is mutable state; use one per sequence, from one
 * thread at a time. The free utilities (onc_log_softmax, onc_logprobs_top_n)
 * are thread-safe. */
#ifndef ONCOLM_SAMPLER_H
#define ONCOLM_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_sampler onc_sampler; /* opaque */

typedef struct onc_sampler_params {
    uint64_t seed;          /* random generator seed (default 0: fixed, so runs repeat) */
    float temperature;      /* <= 0: greedy (default 0.8) */
    int32_t top_k;          /* <= 0: off (default 40) */
    float top_p;            /* >= 1: off (default 0.95); must be >= 0 */
    float min_p;            /* <= 0: off (default 0.05); must be <= 1 */
    int32_t min_keep;       /* top-p / min-p keep at least this many (default 0, acts as 1) */
    int32_t penalty_last_n; /* history window for penalties: 0 = off, -1 = every
                               accepted token (llama.cpp: the context size)
                               (default 64) */
    float penalty_repeat;   /* 1 = off (default 1); must be > 0 */
    float penalty_freq;     /* 0 = off (default 0) */
    float penalty_present;  /* 0 = off (default 0) */
} onc_sampler_params;

/* llama.cpp's defaults: seed 0, temperature 0.8, top_k 40, top_p 0.95,
 * min_p 0.05, min_keep 0, penalty_last_n 64, repeat 1, freq 0, present 0. */
onc_sampler_params onc_sampler_default_params(void);

/* Greedy: the defaults with temperature 0 and every filter off. */
onc_sampler_params onc_sampler_greedy_params(void);

/* A new sampler for a vocabulary of n_vocab tokens (params NULL = defaults).
 * Fails with ONC_ERR_INVALID naming the parameter when n_vocab <= 0 or a
 * parameter is NaN or out of range, ONC_ERR_NOMEM when the buffers cannot be
 * allocated. Caller frees with onc_sampler_free. */
onc_sampler *onc_sampler_new(int32_t n_vocab, const onc_sampler_params *params, onc_error *err);

void onc_sampler_free(onc_sampler *s); /* accepts NULL */

int32_t onc_sampler_n_vocab(const onc_sampler *s);
const onc_sampler_params *onc_sampler_params_get(const onc_sampler *s);

/* Forget the accepted-token history and restart the generator from seed. The
 * logit bias is kept. */
void onc_sampler_reset(onc_sampler *s, uint64_t seed);

/* Set the additive bias of one token (replaces an earlier bias of the same
 * token; 0 removes it). -INFINITY bans the token. ONC_ERR_INVALID for an id
 * out of range, a NaN or +INFINITY bias. */
onc_status onc_sampler_set_logit_bias(onc_sampler *s, int32_t id, float bias, onc_error *err);
void onc_sampler_clear_logit_bias(onc_sampler *s);

/* Add a token to the history the penalties look at (the prompt's tokens too,
 * if the caller wants them penalised, as llama.cpp's CLI does). The history
 * keeps the last penalty_last_n tokens. ONC_ERR_INVALID for an id out of
 * range. */
onc_status onc_sampler_accept(onc_sampler *s, int32_t id, onc_error *err);

/* What one draw returns. */
typedef struct onc_sample {
    int32_t token;   /* the chosen id */
    float logprob;   /* log-softmax of the raw logits at token (full distribution,
                        before bias/penalties/filters/temperature) */
} onc_sample;

/* Choose a token from logits[0..n_vocab) (not modified). Does not accept the
 * token into the history: call onc_sampler_accept. Errors (ONC_ERR_INVALID):
 * a NaN or +INFINITY logit (the message names the token id), or no token left
 * that can be chosen (every logit -INFINITY after bias and penalties). */
onc_status onc_sampler_sample(onc_sampler *s, const float *logits, onc_sample *out, onc_error *err);

/* One surviving candidate after the transforms. */
typedef struct onc_token_prob {
    int32_t id;    /* token id */
    float logit;   /* transformed logit (after bias, penalties, temperature) */
    float p;       /* probability among the survivors (softmax of .logit) */
} onc_token_prob;

/* Run every step except the draw and expose the surviving candidates, in
 * ascending token id, with the distribution the draw would use (greedy: the
 * single winner with p = 1). Tokens whose logit is -INFINITY after bias and
 * penalties have probability 0 and are left out. *cands points into the sampler and is valid
 * until its next call. Same errors as onc_sampler_sample. */
onc_status onc_sampler_candidates(onc_sampler *s, const float *logits, const onc_token_prob **cands, size_t *n_cands,
                                  onc_error *err);

// --- utilities ------------------------------------------------------------------

/* out[i] = logits[i] - log(sum_j exp(logits[j])), computed in double
 * precision (out may alias logits). -INFINITY logits give -INFINITY.
 * ONC_ERR_INVALID for n == 0, a NaN or +INFINITY logit, or every logit
 * -INFINITY. */
onc_status onc_log_softmax(const float *logits, size_t n, float *out, onc_error *err);

/* The k most likely tokens of logits[0..n) with their log-softmax values,
 * most likely first (ties: lower id first); k is clamped to n and *n_out set
 * to the number written. ids and logprobs hold at least k entries.
 * O(n log k), no allocation. Same errors as onc_log_softmax. */
onc_status onc_logprobs_top_n(const float *logits, size_t n, size_t k, int32_t *ids, float *logprobs, size_t *n_out,
                              onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_SAMPLER_H */
