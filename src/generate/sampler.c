/* sampler.c — token sampling over a logits row (see include/oncolm/sampler.h
 * for the order and the semantics of each step, which follow llama.cpp's
 * src/llama-sampling.cpp and common/sampling.cpp).
 *
 * Does: logit bias, repeat/frequency/presence penalties, top-k, top-p, min-p,
 * temperature, greedy, a seeded xoshiro256** draw, log-softmax utilities.
 * Does not: grammar constraints, mirostat, DRY, XTC, typical-p (not needed
 * yet); it never allocates after onc_sampler_new.
 *
 * Working layout: cand[0..n) holds the surviving candidates (id, transformed
 * logit); right after the bias/penalty step it is indexed by id, later steps
 * compact and reorder it. pd[0..n) holds their probabilities in double. */
#include "oncolm/sampler.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/rng.h"

struct onc_sampler {
    int32_t n_vocab;
    onc_sampler_params params;
    onc_rng rng;

    float *bias;          /* (n_vocab) additive bias, 0 = none */
    uint8_t *bias_listed; /* (n_vocab) 1 when the id is in bias_ids */
    int32_t *bias_ids;    /* (n_vocab) ids that ever got a bias since the last clear */
    int32_t n_bias;

    int32_t *counts;   /* (n_vocab) occurrences in the penalty window */
    int32_t *seen_pos; /* (n_vocab) index in seen_ids, -1 when count == 0 */
    int32_t *seen_ids; /* (n_vocab) ids with count > 0, in no particular order */
    int32_t n_seen;
    int32_t *ring; /* (penalty_last_n) window of accepted ids, when > 0 */
    int32_t ring_len, ring_pos;

    onc_token_prob *cand; /* (n_vocab) candidates */
    double *pd;           /* (n_vocab) candidate probabilities */
};

// --- random numbers (oncolm/rng.h) ----------------------------------------------------

/* Uniform double in [0, 1): the top 53 bits of one output. */
static double rng_uniform(onc_rng *r) { return (double)(onc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

// --- parameters and lifetime -------------------------------------------------------

onc_sampler_params onc_sampler_default_params(void) {
    onc_sampler_params p;
    p.seed = 0;
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.min_keep = 0;
    p.penalty_last_n = 64;
    p.penalty_repeat = 1.0f;
    p.penalty_freq = 0.0f;
    p.penalty_present = 0.0f;
    return p;
}

onc_sampler_params onc_sampler_greedy_params(void) {
    onc_sampler_params p = onc_sampler_default_params();
    p.temperature = 0.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}

/* Check every parameter; the message names the first bad one. */
static onc_status check_params(const onc_sampler_params *p, onc_error *err) {
    if (isnan(p->temperature)) return onc_error_set(err, ONC_ERR_INVALID, "sampler: temperature is NaN");
    if (isnan(p->top_p) || p->top_p < 0.0f)
        return onc_error_set(err, ONC_ERR_INVALID, "sampler: top_p must be >= 0 (got %g)", (double)p->top_p);
    if (isnan(p->min_p) || p->min_p > 1.0f)
        return onc_error_set(err, ONC_ERR_INVALID, "sampler: min_p must be <= 1 (got %g)", (double)p->min_p);
    if (p->min_keep < 0) return onc_error_set(err, ONC_ERR_INVALID, "sampler: min_keep must be >= 0");
    if (p->penalty_last_n < -1)
        return onc_error_set(err, ONC_ERR_INVALID, "sampler: penalty_last_n must be >= -1 (got %d)",
                             (int)p->penalty_last_n);
    if (!isfinite(p->penalty_repeat) || p->penalty_repeat <= 0.0f)
        return onc_error_set(err, ONC_ERR_INVALID, "sampler: penalty_repeat must be > 0 and finite (got %g)",
                             (double)p->penalty_repeat);
    if (!isfinite(p->penalty_freq))
        return onc_error_set(err, ONC_ERR_INVALID, "sampler: penalty_freq must be finite");
    if (!isfinite(p->penalty_present))
        return onc_error_set(err, ONC_ERR_INVALID, "sampler: penalty_present must be finite");
    return ONC_OK;
}

onc_sampler *onc_sampler_new(int32_t n_vocab, const onc_sampler_params *params, onc_error *err) {
    onc_sampler_params p = params ? *params : onc_sampler_default_params();
    if (n_vocab <= 0) {
        onc_error_set(err, ONC_ERR_INVALID, "sampler: n_vocab must be > 0 (got %d)", (int)n_vocab);
        return NULL;
    }
    if (check_params(&p, err) != ONC_OK) return NULL;
    onc_sampler *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->n_vocab = n_vocab;
    s->params = p;
    const size_t n = (size_t)n_vocab;
    s->bias = calloc(n, sizeof *s->bias);
    s->bias_listed = calloc(n, 1);
    s->bias_ids = malloc(n * sizeof *s->bias_ids);
    s->counts = calloc(n, sizeof *s->counts);
    s->seen_pos = malloc(n * sizeof *s->seen_pos);
    s->seen_ids = malloc(n * sizeof *s->seen_ids);
    s->cand = malloc(n * sizeof *s->cand);
    s->pd = malloc(n * sizeof *s->pd);
    if (p.penalty_last_n > 0) s->ring = malloc((size_t)p.penalty_last_n * sizeof *s->ring);
    if (!s->bias || !s->bias_listed || !s->bias_ids || !s->counts || !s->seen_pos || !s->seen_ids || !s->cand ||
        !s->pd || (p.penalty_last_n > 0 && !s->ring))
        goto nomem;
    onc_sampler_reset(s, p.seed);
    return s;
nomem:
    onc_sampler_free(s);
    onc_error_set(err, ONC_ERR_NOMEM, "sampler: cannot allocate buffers for %d tokens", (int)n_vocab);
    return NULL;
}

void onc_sampler_free(onc_sampler *s) {
    if (!s) return;
    free(s->bias);
    free(s->bias_listed);
    free(s->bias_ids);
    free(s->counts);
    free(s->seen_pos);
    free(s->seen_ids);
    free(s->ring);
    free(s->cand);
    free(s->pd);
    free(s);
}

int32_t onc_sampler_n_vocab(const onc_sampler *s) { return s->n_vocab; }
const onc_sampler_params *onc_sampler_params_get(const onc_sampler *s) { return &s->params; }

void onc_sampler_reset(onc_sampler *s, uint64_t seed) {
    s->params.seed = seed;
    onc_rng_seed(&s->rng, seed);
    memset(s->counts, 0, (size_t)s->n_vocab * sizeof *s->counts);
    for (int32_t i = 0; i < s->n_vocab; i++) s->seen_pos[i] = -1;
    s->n_seen = 0;
    s->ring_len = s->ring_pos = 0;
}

// --- logit bias and history -----------------------------------------------------------

onc_status onc_sampler_set_logit_bias(onc_sampler *s, int32_t id, float bias, onc_error *err) {
    if (id < 0 || id >= s->n_vocab)
        return onc_error_set(err, ONC_ERR_INVALID, "logit bias: token id %d out of range [0, %d)", (int)id,
                             (int)s->n_vocab);
    if (isnan(bias) || bias == INFINITY)
        return onc_error_set(err, ONC_ERR_INVALID, "logit bias of token %d: %g is not allowed (use -inf to ban)",
                             (int)id, (double)bias);
    s->bias[id] = bias;
    if (!s->bias_listed[id]) {
        s->bias_listed[id] = 1;
        s->bias_ids[s->n_bias++] = id;
    }
    return ONC_OK;
}

void onc_sampler_clear_logit_bias(onc_sampler *s) {
    for (int32_t i = 0; i < s->n_bias; i++) {
        s->bias[s->bias_ids[i]] = 0.0f;
        s->bias_listed[s->bias_ids[i]] = 0;
    }
    s->n_bias = 0;
}

/* count[id] += delta, keeping seen_ids = { id : count[id] > 0 }. */
static void count_add(onc_sampler *s, int32_t id, int32_t delta) {
    const int32_t before = s->counts[id];
    s->counts[id] = before + delta;
    if (before == 0 && s->counts[id] > 0) {
        s->seen_pos[id] = s->n_seen;
        s->seen_ids[s->n_seen++] = id;
    } else if (before > 0 && s->counts[id] == 0) {
        const int32_t pos = s->seen_pos[id];
        const int32_t last = s->seen_ids[--s->n_seen];
        s->seen_ids[pos] = last;
        s->seen_pos[last] = pos;
        s->seen_pos[id] = -1;
    }
}

onc_status onc_sampler_accept(onc_sampler *s, int32_t id, onc_error *err) {
    if (id < 0 || id >= s->n_vocab)
        return onc_error_set(err, ONC_ERR_INVALID, "sampler accept: token id %d out of range [0, %d)", (int)id,
                             (int)s->n_vocab);
    const int32_t last_n = s->params.penalty_last_n;
    if (last_n == 0) return ONC_OK;
    if (last_n > 0) {
        if (s->ring_len == last_n) count_add(s, s->ring[s->ring_pos], -1); /* evict the oldest */
        else s->ring_len++;
        s->ring[s->ring_pos] = id;
        s->ring_pos = (s->ring_pos + 1) % last_n;
    }
    count_add(s, id, +1);
    return ONC_OK;
}

// --- ordering helpers ---------------------------------------------------------------

/* Orders over candidates, as "a comes before b". glibc's qsort may call
 * malloc, so sorting here is an in-place heap sort (no allocation). */
typedef bool (*before_fn)(const onc_token_prob *a, const onc_token_prob *b);

/* a ranks before b: higher logit, then lower id. */
static bool ranks_before(const onc_token_prob *a, const onc_token_prob *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}
static bool ranks_after(const onc_token_prob *a, const onc_token_prob *b) { return ranks_before(b, a); }
static bool id_before(const onc_token_prob *a, const onc_token_prob *b) { return a->id < b->id; }

/* Sift c[i] down the heap c[0..n) whose root is the element that comes
 * LAST in the order `before`. */
static void heap_sift(onc_token_prob *c, size_t n, size_t i, before_fn before) {
    for (;;) {
        size_t w = i;
        const size_t l = 2 * i + 1, r = l + 1;
        if (l < n && before(&c[w], &c[l])) w = l;
        if (r < n && before(&c[w], &c[r])) w = r;
        if (w == i) return;
        const onc_token_prob t = c[i];
        c[i] = c[w];
        c[w] = t;
        i = w;
    }
}

static void heap_build(onc_token_prob *c, size_t n, before_fn before) {
    for (size_t i = n / 2; i-- > 0;) heap_sift(c, n, i, before);
}

/* Sort c[0..n) into the order `before` (first element first). */
static void heap_sort(onc_token_prob *c, size_t n, before_fn before) {
    heap_build(c, n, before);
    for (size_t m = n; m > 1; m--) {
        const onc_token_prob t = c[0];
        c[0] = c[m - 1];
        c[m - 1] = t;
        heap_sift(c, m - 1, 0, before);
    }
}

/* Reorder c[0..n) so that c[0..k) are the k best candidates in rank order
 * (0 < k <= n): a heap of the k best so far (worst at the root), O(n log k). */
static void select_top(onc_token_prob *c, size_t n, size_t k) {
    heap_build(c, k, ranks_before);
    for (size_t i = k; i < n; i++) {
        if (ranks_before(&c[i], &c[0])) {
            c[0] = c[i];
            heap_sift(c, k, 0, ranks_before);
        }
    }
    heap_sort(c, k, ranks_before);
}

/* top-p over unsorted candidates without sorting them all: a heap with the
 * best at the root, popped best first until the probability sum reaches
 * top_p (and min_keep are taken). Leaves the kept ones in c[0..) in rank
 * order and returns how many. O(n + kept * log n). */
static size_t top_p_unsorted(onc_token_prob *c, size_t n, double top_p, size_t min_keep) {
    double mx = -INFINITY, sum = 0.0;
    for (size_t i = 0; i < n; i++)
        if (c[i].logit > mx) mx = c[i].logit;
    for (size_t i = 0; i < n; i++) sum += exp((double)c[i].logit - mx);
    heap_build(c, n, ranks_after);
    double cum = 0.0;
    size_t m = n; /* heap size; popped ones collect in c[m..n), best at n-1 */
    while (m > 0) {
        const onc_token_prob t = c[0];
        c[0] = c[m - 1];
        c[m - 1] = t;
        m--;
        heap_sift(c, m, 0, ranks_after);
        cum += exp((double)t.logit - mx) / sum;
        if (cum >= top_p && n - m >= min_keep) break;
    }
    const size_t kept = n - m;
    for (size_t i = 0; i < kept / 2; i++) { /* reverse to best first */
        const onc_token_prob t = c[m + i];
        c[m + i] = c[n - 1 - i];
        c[n - 1 - i] = t;
    }
    if (m) memmove(c, c + m, kept * sizeof *c);
    return kept;
}

/* pd[i] = softmax(c[0..n).logit), in double (n > 0, some logit finite). */
static void softmax_into(const onc_token_prob *c, size_t n, double *pd) {
    double mx = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (c[i].logit > mx) mx = c[i].logit;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        pd[i] = exp((double)c[i].logit - mx);
        sum += pd[i];
    }
    for (size_t i = 0; i < n; i++) pd[i] /= sum;
}

/* A NaN or +inf logit: ONC_ERR_INVALID naming the token. -inf is allowed. */
static onc_status check_logits(const float *logits, size_t n, const char *what, onc_error *err) {
    for (size_t i = 0; i < n; i++) {
        if (isnan(logits[i]))
            return onc_error_set(err, ONC_ERR_INVALID, "%s: logit of token %zu is NaN", what, i);
        if (logits[i] == INFINITY)
            return onc_error_set(err, ONC_ERR_INVALID, "%s: logit of token %zu is +inf", what, i);
    }
    return ONC_OK;
}

// --- the chain ------------------------------------------------------------------------

/* Run bias, penalties, filters and temperature over logits; leaves the
 * survivors in s->cand[0..*n_out) in ascending id with probabilities in
 * s->pd and cand[].p. Tokens at -INFINITY are dropped (probability 0; they
 * can never be drawn). */
static onc_status run_chain(onc_sampler *s, const float *logits, size_t *n_out, onc_error *err) {
    const onc_sampler_params *p = &s->params;
    onc_token_prob *c = s->cand;
    const size_t V = (size_t)s->n_vocab;
    onc_status st = check_logits(logits, V, "sampler", err);
    if (st != ONC_OK) return st;

    for (size_t i = 0; i < V; i++) {
        c[i].id = (int32_t)i;
        c[i].logit = logits[i];
        c[i].p = 0.0f;
    }
    /* logit bias (llama.cpp: first in the chain) */
    for (int32_t j = 0; j < s->n_bias; j++) c[s->bias_ids[j]].logit += s->bias[s->bias_ids[j]];
    /* penalties */
    if (p->penalty_last_n != 0 &&
        (p->penalty_repeat != 1.0f || p->penalty_freq != 0.0f || p->penalty_present != 0.0f)) {
        for (int32_t j = 0; j < s->n_seen; j++) {
            const int32_t id = s->seen_ids[j];
            const int32_t cnt = s->counts[id];
            float l = c[id].logit;
            if (l <= 0.0f) l *= p->penalty_repeat;
            else l /= p->penalty_repeat;
            l -= (float)cnt * p->penalty_freq + (float)(cnt > 0) * p->penalty_present;
            c[id].logit = l;
        }
    }
    /* drop impossible tokens; catch overflow from bias/penalties */
    size_t n = 0;
    for (size_t i = 0; i < V; i++) {
        if (isnan(c[i].logit) || c[i].logit == INFINITY)
            return onc_error_set(err, ONC_ERR_INVALID,
                                 "sampler: logit of token %zu is not finite after logit bias and penalties", i);
        if (c[i].logit != -INFINITY) c[n++] = c[i];
    }
    if (n == 0)
        return onc_error_set(err, ONC_ERR_INVALID,
                             "sampler: no token can be chosen (every logit is -inf after logit bias and penalties)");

    if (p->temperature <= 0.0f) { /* greedy: every filter keeps the argmax, so skip them */
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (c[i].logit > c[best].logit) best = i; /* strict: ties keep the lower id */
        c[0] = c[best];
        c[0].p = 1.0f;
        s->pd[0] = 1.0;
        *n_out = 1;
        return ONC_OK;
    }

    bool sorted = false;
    const size_t min_keep = p->min_keep > 0 ? (size_t)p->min_keep : 1;
    /* top-k */
    if (p->top_k > 0 && (size_t)p->top_k < n) {
        select_top(c, n, (size_t)p->top_k);
        n = (size_t)p->top_k;
        sorted = true;
    }
    /* top-p: smallest rank-ordered prefix with probability sum >= top_p */
    if (p->top_p < 1.0f) {
        if (!sorted) {
            n = top_p_unsorted(c, n, (double)p->top_p, min_keep);
        } else {
            softmax_into(c, n, s->pd);
            double cum = 0.0;
            size_t last = n;
            for (size_t i = 0; i < n; i++) {
                cum += s->pd[i];
                if (cum >= (double)p->top_p && i + 1 >= min_keep) {
                    last = i + 1;
                    break;
                }
            }
            n = last;
        }
        sorted = true;
    }
    /* min-p: logit >= max logit + log(min_p) */
    if (p->min_p > 0.0f) {
        double mx = -INFINITY;
        for (size_t i = 0; i < n; i++)
            if (c[i].logit > mx) mx = c[i].logit;
        const double thr = mx + log((double)p->min_p);
        size_t keep = 0;
        for (size_t i = 0; i < n; i++) keep += (double)c[i].logit >= thr;
        if (keep >= min_keep || keep == n) {
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if ((double)c[i].logit >= thr) c[m++] = c[i];
            n = m;
        } else { /* too few: keep the best min_keep */
            const size_t k = min_keep < n ? min_keep : n;
            if (!sorted) select_top(c, n, k);
            sorted = true;
            n = k;
        }
    }
    /* temperature */
    for (size_t i = 0; i < n; i++) c[i].logit /= p->temperature;
    if (sorted) heap_sort(c, n, id_before);
    softmax_into(c, n, s->pd);
    for (size_t i = 0; i < n; i++) c[i].p = (float)s->pd[i];
    *n_out = n;
    return ONC_OK;
}

onc_status onc_sampler_candidates(onc_sampler *s, const float *logits, const onc_token_prob **cands, size_t *n_cands,
                                  onc_error *err) {
    size_t n = 0;
    *cands = NULL;
    *n_cands = 0;
    onc_status st = run_chain(s, logits, &n, err);
    if (st != ONC_OK) return st;
    *cands = s->cand;
    *n_cands = n;
    return ONC_OK;
}

/* log-softmax of raw logits at one index (logits already checked, at least
 * one finite). */
static float raw_logprob(const float *logits, size_t n, size_t at) {
    double mx = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
    return (float)((double)logits[at] - mx - log(sum));
}

onc_status onc_sampler_sample(onc_sampler *s, const float *logits, onc_sample *out, onc_error *err) {
    out->token = -1;
    out->logprob = -INFINITY;
    size_t n = 0;
    onc_status st = run_chain(s, logits, &n, err);
    if (st != ONC_OK) return st;
    size_t pick = 0;
    if (s->params.temperature > 0.0f) {
        double total = 0.0;
        for (size_t i = 0; i < n; i++) total += s->pd[i];
        const double target = rng_uniform(&s->rng) * total;
        double cum = 0.0;
        pick = n - 1;
        for (size_t i = 0; i < n; i++) {
            cum += s->pd[i];
            if (cum > target) {
                pick = i;
                break;
            }
        }
    }
    out->token = s->cand[pick].id;
    out->logprob = raw_logprob(logits, (size_t)s->n_vocab, (size_t)out->token);
    return ONC_OK;
}

// --- utilities ------------------------------------------------------------------------

/* Max and log(sum exp(x - max)) of a checked row; ONC_ERR_INVALID when no
 * logit is finite. */
static onc_status row_lse(const float *logits, size_t n, double *mx_out, double *lse_out, onc_error *err) {
    if (n == 0) return onc_error_set(err, ONC_ERR_INVALID, "log-softmax: empty logits row");
    onc_status st = check_logits(logits, n, "log-softmax", err);
    if (st != ONC_OK) return st;
    double mx = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    if (mx == -INFINITY) return onc_error_set(err, ONC_ERR_INVALID, "log-softmax: every logit is -inf");
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
    *mx_out = mx;
    *lse_out = log(sum);
    return ONC_OK;
}

onc_status onc_log_softmax(const float *logits, size_t n, float *out, onc_error *err) {
    double mx, lse;
    onc_status st = row_lse(logits, n, &mx, &lse, err);
    if (st != ONC_OK) return st;
    for (size_t i = 0; i < n; i++) out[i] = (float)((double)logits[i] - mx - lse);
    return ONC_OK;
}

/* id a ranks before id b in logits: higher value, then lower id. */
static bool id_ranks_before(const float *logits, int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
}

/* Sift ids[i] down a heap ids[0..n) whose root is the id ranked last. */
static void id_heap_sift(const float *logits, int32_t *ids, size_t n, size_t i) {
    for (;;) {
        size_t w = i;
        const size_t l = 2 * i + 1, r = l + 1;
        if (l < n && id_ranks_before(logits, ids[w], ids[l])) w = l;
        if (r < n && id_ranks_before(logits, ids[w], ids[r])) w = r;
        if (w == i) return;
        const int32_t t = ids[i];
        ids[i] = ids[w];
        ids[w] = t;
        i = w;
    }
}

onc_status onc_logprobs_top_n(const float *logits, size_t n, size_t k, int32_t *ids, float *logprobs, size_t *n_out,
                              onc_error *err) {
    *n_out = 0;
    double mx, lse;
    onc_status st = row_lse(logits, n, &mx, &lse, err);
    if (st != ONC_OK) return st;
    if (n > (size_t)INT32_MAX) return onc_error_set(err, ONC_ERR_INVALID, "top-n: row too long");
    if (k > n) k = n;
    if (k == 0) return ONC_OK;
    for (size_t i = 0; i < k; i++) ids[i] = (int32_t)i;
    for (size_t i = k / 2; i-- > 0;) id_heap_sift(logits, ids, k, i);
    for (size_t i = k; i < n; i++) {
        if (id_ranks_before(logits, (int32_t)i, ids[0])) {
            ids[0] = (int32_t)i;
            id_heap_sift(logits, ids, k, 0);
        }
    }
    /* heap sort: moving the worst to the end each time leaves best first */
    for (size_t m = k; m > 1; m--) {
        const int32_t t = ids[0];
        ids[0] = ids[m - 1];
        ids[m - 1] = t;
        id_heap_sift(logits, ids, m - 1, 0);
    }
    for (size_t i = 0; i < k; i++) logprobs[i] = (float)((double)logits[ids[i]] - mx - lse);
    *n_out = k;
    return ONC_OK;
}
