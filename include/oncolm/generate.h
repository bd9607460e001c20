/* oncolm/generate.h — text generation and scoring over a decoder context
 * (oncolm/llm.h): sampling (oncolm/sampler.h), stop strings
 * (oncolm/stop.h), end-of-generation tokens, token limits, the
 * log-probability of every chosen token, and log-likelihoods of given text.
 *
 * Thread-safety: as the context (one thread at a time per context). */
#ifndef ONCOLM_GENERATE_H
#define ONCOLM_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/llm.h"
#include "oncolm/sampler.h"
#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_gen_params {
    int32_t max_tokens;              /* tokens to generate at most (default 256) */
    onc_sampler_params sampling;     /* default: onc_sampler_default_params() */
    const char *const *stop;         /* stop strings (not part of the result) */
    size_t n_stop;
    const int32_t *logit_bias_ids;   /* additive logit biases (-INFINITY bans a token) */
    const float *logit_bias;
    size_t n_logit_bias;
    bool ignore_eog;                 /* keep going past end-of-generation tokens */
    bool penalize_prompt;            /* prompt tokens enter the penalty history (default true) */
    /* streamed text, in the bytes that are final (held back while a stop
     * string might be starting; never a partial UTF-8 character) */
    void (*on_text)(void *user, const char *text, size_t len);
    void *user;
} onc_gen_params;

onc_gen_params onc_gen_default_params(void);

typedef enum onc_finish { ONC_FINISH_LENGTH = 0, ONC_FINISH_EOG = 1, ONC_FINISH_STOP = 2 } onc_finish;
const char *onc_finish_name(onc_finish f); /* "length", "eog", "stop" */

typedef struct onc_gen_result {
    char *text;            /* generated text without the stop string (malloc()ed, NUL-terminated) */
    size_t len;
    int32_t *tokens;       /* generated ids (an end-of-generation id is not included) */
    float *logprobs;       /* log-probability of each under the model (full softmax) */
    int32_t n_tokens;
    int32_t n_prompt;
    double t_prompt_s;     /* prompt processing time */
    double t_gen_s;        /* generation time (after the first token's logits) */
    onc_finish finish;
} onc_gen_result;

void onc_gen_result_free(onc_gen_result *r); /* frees the arrays; accepts NULL */

/* Append prompt[0..n_prompt) to sequence `seq` of c (which should be empty
 * or hold the earlier turns), then generate. On success *out is filled
 * (caller frees with onc_gen_result_free). The sequence keeps the prompt and
 * the generated tokens. Errors: context full before anything was generated,
 * bad sampling parameters, out of memory; a context that fills up during
 * generation ends it with finish = length. */
onc_status onc_generate(onc_llm_ctx *c, uint32_t seq, const int32_t *prompt, int32_t n_prompt,
                        const onc_gen_params *p, onc_gen_result *out, onc_error *err);

/* Log-likelihood of a token sequence: logprobs[i] = log p(ids[i+1] |
 * ids[0..i]) for i in [0, n-1), computed in one pass per window of at most
 * the context length (texts longer than the context are cut into
 * consecutive windows of n_ctx tokens that each restart from empty, like
 * llama.cpp's perplexity: a token's history then reaches back only to the
 * start of its window). Uses sequence `seq`, which is cleared first and left
 * empty. */
onc_status onc_score_tokens(onc_llm_ctx *c, uint32_t seq, const int32_t *ids, int32_t n, float *logprobs,
                            onc_error *err);

/* Log-probability of a continuation given a prompt: per_token[i] = log p(
 * cont[i] | prompt, cont[0..i)) (per_token may be NULL), *total their sum.
 * prompt + continuation must fit the context. Sequence `seq` is cleared
 * first and left empty. */
onc_status onc_score_continuation(onc_llm_ctx *c, uint32_t seq, const int32_t *prompt, int32_t n_prompt,
                                  const int32_t *cont, int32_t n_cont, float *per_token, double *total,
                                  onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_GENERATE_H */
