/* generate.c — generation and scoring loops over a decoder context (see
 * oncolm/generate.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oncolm/generate.h"
#include "oncolm/stop.h"
#include "oncolm/tokenizer.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

onc_gen_params onc_gen_default_params(void) {
    return (onc_gen_params){.max_tokens = 256, .sampling = onc_sampler_default_params(), .penalize_prompt = true};
}

const char *onc_finish_name(onc_finish f) {
    return f == ONC_FINISH_EOG ? "eog" : f == ONC_FINISH_STOP ? "stop" : "length";
}

void onc_gen_result_free(onc_gen_result *r) {
    if (!r) return;
    free(r->text);
    free(r->tokens);
    free(r->logprobs);
    memset(r, 0, sizeof *r);
}

/* Growable text buffer. */
typedef struct text_buf {
    char *p;
    size_t n, cap;
} text_buf;

static bool text_append(text_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) return false;
        b->p = q, b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return true;
}

static bool emit(text_buf *b, const onc_gen_params *p, const onc_stop_result *r) {
    if (r->len == 0) return true;
    if (p->on_text) p->on_text(p->user, r->text, r->len);
    return text_append(b, r->text, r->len);
}

onc_status onc_generate(onc_llm_ctx *c, uint32_t seq, const int32_t *prompt, int32_t n_prompt,
                        const onc_gen_params *params, onc_gen_result *out, onc_error *err) {
    const onc_gen_params p = params ? *params : onc_gen_default_params();
    const onc_llm *m = onc_llm_ctx_model(c);
    const onc_tokenizer *tok = onc_llm_tokenizer(m);
    memset(out, 0, sizeof *out);
    out->n_prompt = n_prompt;
    if (n_prompt <= 0) return onc_error_set(err, ONC_ERR_INVALID, "generate: empty prompt");
    if (p.max_tokens < 0) return onc_error_set(err, ONC_ERR_INVALID, "generate: max_tokens must be >= 0");

    onc_status st = ONC_OK;
    onc_sampler *s = onc_sampler_new(onc_llm_n_vocab(m), &p.sampling, err);
    onc_stop *stop = s ? onc_stop_new(p.stop, p.n_stop, err) : NULL;
    text_buf text = {0};
    int32_t cap = p.max_tokens > 0 ? p.max_tokens : 1;
    out->tokens = malloc((size_t)cap * sizeof *out->tokens);
    out->logprobs = malloc((size_t)cap * sizeof *out->logprobs);
    if (!s || !stop) {
        st = err && err->code ? err->code : ONC_ERR_NOMEM;
        goto done;
    }
    if (!out->tokens || !out->logprobs || !text_append(&text, "", 0)) {
        st = onc_error_set(err, ONC_ERR_NOMEM, "generate: out of memory");
        goto done;
    }
    for (size_t i = 0; i < p.n_logit_bias && st == ONC_OK; i++)
        st = onc_sampler_set_logit_bias(s, p.logit_bias_ids[i], p.logit_bias[i], err);
    if (p.penalize_prompt)
        for (int32_t i = 0; i < n_prompt && st == ONC_OK; i++) st = onc_sampler_accept(s, prompt[i], err);
    if (st != ONC_OK) goto done;

    double t0 = now_s();
    onc_llm_batch b = {.n_tokens = n_prompt, .tokens = prompt, .seq = &seq};
    uint32_t *seqs = malloc((size_t)n_prompt * sizeof *seqs);
    if (!seqs) {
        st = onc_error_set(err, ONC_ERR_NOMEM, "generate: out of memory");
        goto done;
    }
    for (int32_t i = 0; i < n_prompt; i++) seqs[i] = seq;
    b.seq = seqs;
    st = onc_llm_decode(c, &b, err);
    free(seqs);
    if (st != ONC_OK) goto done;
    out->t_prompt_s = now_s() - t0;
    t0 = now_s();
    const float *logits = onc_llm_logits(c, n_prompt - 1);
    out->finish = ONC_FINISH_LENGTH;
    onc_stop_result r;
    for (int32_t g = 0; g < p.max_tokens; g++) {
        onc_sample smp;
        if ((st = onc_sampler_sample(s, logits, &smp, err)) != ONC_OK) goto done;
        if (!p.ignore_eog && onc_token_is_eog(tok, smp.token)) {
            out->finish = ONC_FINISH_EOG;
            break;
        }
        out->tokens[out->n_tokens] = smp.token;
        out->logprobs[out->n_tokens++] = smp.logprob;
        if ((st = onc_sampler_accept(s, smp.token, err)) != ONC_OK) goto done;
        const char *piece;
        size_t pl = onc_token_to_piece(tok, smp.token, false, &piece);
        if ((st = onc_stop_feed(stop, piece, pl, &r, err)) != ONC_OK) goto done;
        if (!emit(&text, &p, &r)) {
            st = onc_error_set(err, ONC_ERR_NOMEM, "generate: out of memory");
            goto done;
        }
        if (r.stopped) {
            out->finish = ONC_FINISH_STOP;
            break;
        }
        if (g + 1 == p.max_tokens) break;
        if (onc_llm_seq_len(c, seq) >= onc_llm_ctx_n_ctx(c)) break; /* context full: finish = length */
        onc_llm_batch nb = {.n_tokens = 1, .tokens = &out->tokens[out->n_tokens - 1], .seq = &seq};
        if ((st = onc_llm_decode(c, &nb, err)) != ONC_OK) goto done;
        logits = onc_llm_logits(c, 0);
    }
    if (out->finish != ONC_FINISH_STOP) {
        onc_stop_flush(stop, &r);
        if (!emit(&text, &p, &r)) st = onc_error_set(err, ONC_ERR_NOMEM, "generate: out of memory");
    }
    out->t_gen_s = now_s() - t0;
done:
    onc_sampler_free(s);
    onc_stop_free(stop);
    if (st != ONC_OK) {
        free(text.p);
        onc_gen_result_free(out);
        return st;
    }
    out->text = text.p;
    out->len = text.n;
    return ONC_OK;
}

/* Log-softmax value of logits[id] (double accumulation). */
static float logprob_of(const float *logits, int32_t n_vocab, int32_t id) {
    float max = -INFINITY;
    for (int32_t v = 0; v < n_vocab; v++)
        if (logits[v] > max) max = logits[v];
    double sum = 0;
    for (int32_t v = 0; v < n_vocab; v++) sum += exp((double)logits[v] - max);
    return (float)((double)logits[id] - max - log(sum));
}

/* Append ids[0..n) to sequence seq in chunks of SCORE_CHUNK tokens, keeping
 * every token's logits, and store logprobs[i] = log p(next[i]) for each
 * position i (next = the token each position must predict). Positions
 * whose next[i] < 0 are skipped. Chunking bounds the logits held at once. */
#define SCORE_CHUNK 128
static onc_status decode_scored(onc_llm_ctx *c, uint32_t seq, const int32_t *ids, const int32_t *next, int32_t n,
                                float *logprobs, onc_error *err) {
    const int32_t V = onc_llm_n_vocab(onc_llm_ctx_model(c));
    bool want[SCORE_CHUNK];
    uint32_t seqs[SCORE_CHUNK];
    for (int32_t i = 0; i < SCORE_CHUNK; i++) want[i] = true, seqs[i] = seq;
    for (int32_t a = 0; a < n; a += SCORE_CHUNK) {
        const int32_t cnt = n - a < SCORE_CHUNK ? n - a : SCORE_CHUNK;
        onc_llm_batch b = {.n_tokens = cnt, .tokens = ids + a, .seq = seqs, .logits = want};
        onc_status st = onc_llm_decode(c, &b, err);
        if (st != ONC_OK) return st;
        for (int32_t j = 0; j < cnt; j++)
            if (next[a + j] >= 0) logprobs[a + j] = logprob_of(onc_llm_logits(c, j), V, next[a + j]);
    }
    return ONC_OK;
}

onc_status onc_score_tokens(onc_llm_ctx *c, uint32_t seq, const int32_t *ids, int32_t n, float *logprobs,
                            onc_error *err) {
    const int32_t W = (int32_t)onc_llm_ctx_n_ctx(c);
    if (n < 2) return onc_error_set(err, ONC_ERR_INVALID, "score: need at least 2 tokens, have %d", n);
    int32_t *next = malloc((size_t)n * sizeof *next);
    float *lp = malloc((size_t)n * sizeof *lp);
    if (!next || !lp) {
        free(next), free(lp);
        return onc_error_set(err, ONC_ERR_NOMEM, "score: out of memory");
    }
    for (int32_t i = 0; i < n; i++) next[i] = i + 1 < n ? ids[i + 1] : -1;
    onc_status st = ONC_OK;
    for (int32_t a = 0; a < n - 1 && st == ONC_OK; a += W) {
        const int32_t cnt = n - a < W ? n - a : W;
        onc_llm_seq_clear(c, seq);
        st = decode_scored(c, seq, ids + a, next + a, cnt, lp + a, err);
    }
    if (st == ONC_OK) memcpy(logprobs, lp, (size_t)(n - 1) * sizeof *lp);
    onc_llm_seq_clear(c, seq);
    free(next), free(lp);
    return st;
}

onc_status onc_score_continuation(onc_llm_ctx *c, uint32_t seq, const int32_t *prompt, int32_t n_prompt,
                                  const int32_t *cont, int32_t n_cont, float *per_token, double *total,
                                  onc_error *err) {
    const int64_t n = (int64_t)n_prompt + n_cont;
    if (n_prompt < 1 || n_cont < 1)
        return onc_error_set(err, ONC_ERR_INVALID, "score: prompt and continuation must not be empty");
    if (n > onc_llm_ctx_n_ctx(c))
        return onc_error_set(err, ONC_ERR_INVALID, "score: prompt + continuation (%lld tokens) exceed the context (%u)",
                             (long long)n, onc_llm_ctx_n_ctx(c));
    int32_t *ids = malloc((size_t)n * sizeof *ids), *next = malloc((size_t)n * sizeof *next);
    float *lp = malloc((size_t)n * sizeof *lp);
    if (!ids || !next || !lp) {
        free(ids), free(next), free(lp);
        return onc_error_set(err, ONC_ERR_NOMEM, "score: out of memory");
    }
    memcpy(ids, prompt, (size_t)n_prompt * sizeof *ids);
    memcpy(ids + n_prompt, cont, (size_t)n_cont * sizeof *ids);
    for (int64_t i = 0; i < n; i++) next[i] = i >= n_prompt - 1 && i + 1 < n ? ids[i + 1] : -1;
    onc_llm_seq_clear(c, seq);
    onc_status st = decode_scored(c, seq, ids, next, (int32_t)n, lp, err);
    double sum = 0;
    if (st == ONC_OK)
        for (int32_t i = 0; i < n_cont; i++) {
            if (per_token) per_token[i] = lp[n_prompt - 1 + i];
            sum += lp[n_prompt - 1 + i];
        }
    onc_llm_seq_clear(c, seq);
    free(ids), free(next), free(lp);
    if (st == ONC_OK && total) *total = sum;
    return st;
}
