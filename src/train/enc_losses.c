/* enc_losses.c — pooling, the contrastive loss of sentence embedders,
 * masked-LM masking and class-imbalance remedies (oncolm/enc_losses.h).
 *
 * Everything runs on one thread with double accumulators, so results never
 * depend on the thread count. The contrastive loss costs 3 n m E
 * multiply-adds (scores, then the two gradients): 64 anchors with 128
 * candidates of 768 dimensions take about 8 ms (-O2, one core), little next
 * to the encoder's own backward pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/enc_losses.h"
#include "oncolm/rng.h"

// --- pooling ---------------------------------------------------------------------

void onc_pool_fwd(onc_pooling pooling, float *out, const float *h, const int32_t *seq_start, const int32_t *seq_len,
                  int32_t n_seq, int64_t E) {
    ONC_ASSERT(pooling == ONC_POOLING_MEAN || pooling == ONC_POOLING_CLS || pooling == ONC_POOLING_LAST);
    for (int32_t s = 0; s < n_seq; s++) {
        const int64_t t0 = seq_start[s], len = seq_len[s];
        ONC_ASSERT(len >= 1 && t0 >= 0);
        float *o = out + (int64_t)s * E;
        if (pooling == ONC_POOLING_MEAN) {
            /* onc_encoder_pool: sum in double, divided, rounded once */
            for (int64_t d = 0; d < E; d++) {
                double acc = 0;
                for (int64_t t = 0; t < len; t++) acc += h[(t0 + t) * E + d];
                o[d] = (float)(acc / (double)len);
            }
        } else {
            const int64_t t = pooling == ONC_POOLING_LAST ? t0 + len - 1 : t0;
            memcpy(o, h + t * E, (size_t)E * sizeof *o);
        }
    }
}

void onc_pool_bwd(onc_pooling pooling, float *dh, const float *dout, const int32_t *seq_start,
                  const int32_t *seq_len, int32_t n_seq, int64_t E) {
    ONC_ASSERT(pooling == ONC_POOLING_MEAN || pooling == ONC_POOLING_CLS || pooling == ONC_POOLING_LAST);
    for (int32_t s = 0; s < n_seq; s++) {
        const int64_t t0 = seq_start[s], len = seq_len[s];
        ONC_ASSERT(len >= 1 && t0 >= 0);
        const float *g = dout + (int64_t)s * E;
        if (pooling == ONC_POOLING_MEAN) {
            for (int64_t t = 0; t < len; t++) {
                float *r = dh + (t0 + t) * E;
                for (int64_t d = 0; d < E; d++) r[d] += (float)((double)g[d] / (double)len);
            }
        } else {
            float *r = dh + (pooling == ONC_POOLING_LAST ? t0 + len - 1 : t0) * E;
            for (int64_t d = 0; d < E; d++) r[d] += g[d];
        }
    }
}

// --- contrastive loss ---------------------------------------------------------------

#define NORM_EPS 1e-12 /* torch.nn.functional.normalize's eps */

/* Four partial sums (a fixed order: vectorizable and reproducible). */
static double dot(const float *x, const float *y, int64_t E) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t k = 0;
    for (; k + 4 <= E; k += 4) {
        s0 += (double)x[k] * (double)y[k];
        s1 += (double)x[k + 1] * (double)y[k + 1];
        s2 += (double)x[k + 2] * (double)y[k + 2];
        s3 += (double)x[k + 3] * (double)y[k + 3];
    }
    for (; k < E; k++) s0 += (double)x[k] * (double)y[k];
    return (s0 + s1) + (s2 + s3);
}

/* dx += gs * d normalize(x) / dx applied to dy (dy = gradient wrt x / max(||x||, eps)):
 * ||x|| > eps: (dy - y (y . dy)) / ||x|| with y = x / ||x||; else dy / eps. */
static void normalize_bwd(float *dx, const float *x, double inv, bool clamped, const double *dy, int64_t E,
                          double gs) {
    double ydy = 0;
    if (!clamped)
        for (int64_t k = 0; k < E; k++) ydy += (double)x[k] * inv * dy[k];
    for (int64_t k = 0; k < E; k++) dx[k] += (float)(gs * inv * (dy[k] - (clamped ? 0 : (double)x[k] * inv * ydy)));
}

double onc_mnrl_loss(const float *a, const float *c, int32_t n, int32_t m, int64_t E, float scale, bool symmetric,
                     float grad_scale, float *da, float *dc) {
    ONC_ASSERT(n >= 1 && m >= n && E >= 1);
    const size_t nm = (size_t)n * (size_t)m;
    /* S (then G) [n][m], 1/||a_i||, 1/||c_j||, column log-sum-exps [n], a vector [E] */
    double *S = malloc((nm + (size_t)n + (size_t)m + (size_t)n + (size_t)E) * sizeof *S);
    if (!S) return NAN;
    double *inv_a = S + nm, *inv_c = inv_a + n, *col_lse = inv_c + m, *v = col_lse + n;
    for (int32_t i = 0; i < n; i++)
        inv_a[i] = 1.0 / fmax(sqrt(dot(a + (int64_t)i * E, a + (int64_t)i * E, E)), NORM_EPS);
    for (int32_t j = 0; j < m; j++)
        inv_c[j] = 1.0 / fmax(sqrt(dot(c + (int64_t)j * E, c + (int64_t)j * E, E)), NORM_EPS);
    for (int32_t i = 0; i < n; i++)
        for (int32_t j = 0; j < m; j++)
            S[(size_t)i * m + j] =
                (double)scale * dot(a + (int64_t)i * E, c + (int64_t)j * E, E) * inv_a[i] * inv_c[j];

    /* Loss and G = dloss/dS. Forward term: row i of S against target i;
     * backward (symmetric) term: column j < n of the n x n block against
     * target j; each a mean over its n rows/columns. */
    const double wf = symmetric ? 0.5 : 1.0, wb = 0.5;
    double loss = 0;
    if (symmetric)
        for (int32_t j = 0; j < n; j++) {
            double mx = -INFINITY, s = 0;
            for (int32_t i = 0; i < n; i++) mx = fmax(mx, S[(size_t)i * m + j]);
            for (int32_t i = 0; i < n; i++) s += exp(S[(size_t)i * m + j] - mx);
            col_lse[j] = mx + log(s);
            loss += wb * (col_lse[j] - S[(size_t)j * m + j]) / n;
        }
    for (int32_t i = 0; i < n; i++) {
        double *row = S + (size_t)i * m, mx = -INFINITY, s = 0;
        for (int32_t j = 0; j < m; j++) mx = fmax(mx, row[j]);
        for (int32_t j = 0; j < m; j++) s += exp(row[j] - mx);
        const double lse = mx + log(s);
        loss += wf * (lse - row[i]) / n;
        for (int32_t j = 0; j < m; j++) {
            double g = wf * (exp(row[j] - lse) - (j == i)) / n;
            if (symmetric && j < n) g += wb * (exp(row[j] - col_lse[j]) - (j == i)) / n;
            row[j] = g;
        }
    }

    /* dS -> d(normalized a), d(normalized c) -> da, dc (times grad_scale) */
    const double gs = grad_scale;
    if (da)
        for (int32_t i = 0; i < n; i++) {
            const double *g = S + (size_t)i * m;
            for (int64_t k = 0; k < E; k++) v[k] = 0;
            for (int32_t j = 0; j < m; j++) {
                const double w = (double)scale * g[j] * inv_c[j];
                const float *cj = c + (int64_t)j * E;
                for (int64_t k = 0; k < E; k++) v[k] += w * cj[k];
            }
            normalize_bwd(da + (int64_t)i * E, a + (int64_t)i * E, inv_a[i], inv_a[i] == 1.0 / NORM_EPS, v, E, gs);
        }
    if (dc)
        for (int32_t j = 0; j < m; j++) {
            for (int64_t k = 0; k < E; k++) v[k] = 0;
            for (int32_t i = 0; i < n; i++) {
                const double w = (double)scale * S[(size_t)i * m + j] * inv_a[i];
                const float *ai = a + (int64_t)i * E;
                for (int64_t k = 0; k < E; k++) v[k] += w * ai[k];
            }
            normalize_bwd(dc + (int64_t)j * E, c + (int64_t)j * E, inv_c[j], inv_c[j] == 1.0 / NORM_EPS, v, E, gs);
        }
    free(S);
    return loss;
}

// --- masked language modelling ---------------------------------------------------------

static double uniform(onc_rng *r) { return (double)(onc_rng_next(r) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, k), k >= 1 (multiply-shift; bias below k / 2^64). */
static uint64_t below(onc_rng *r, uint64_t k) {
    return (uint64_t)(((unsigned __int128)onc_rng_next(r) * k) >> 64);
}

int64_t onc_mlm_mask(int32_t *tokens, int32_t *labels, int64_t n, const bool *is_special, int32_t n_vocab,
                     int32_t mask_id, float p, uint64_t seed) {
    ONC_ASSERT(n_vocab >= 1 && mask_id >= 0 && mask_id < n_vocab);
    onc_rng r;
    onc_rng_seed(&r, seed);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        /* four draws per token whatever happens: token i's fate depends on i and the seed only */
        const double u_sel = uniform(&r), u_mask = uniform(&r), u_rand = uniform(&r);
        const int32_t rid = (int32_t)below(&r, (uint64_t)n_vocab);
        const int32_t t = tokens[i];
        const bool special = is_special && t >= 0 && t < n_vocab && is_special[t];
        if (special || !(u_sel < (double)p)) {
            labels[i] = -1;
            continue;
        }
        labels[i] = t;
        k++;
        if (u_mask < 0.8) tokens[i] = mask_id;
        else if (u_rand < 0.5) tokens[i] = rid;
    }
    return k;
}

// --- class imbalance ------------------------------------------------------------------------

void onc_class_weights_balanced(float *w, const int32_t *labels, int64_t n, int32_t C) {
    ONC_ASSERT(C >= 1);
    int64_t *count = calloc((size_t)C, sizeof *count);
    ONC_ASSERT(count != NULL);
    for (int64_t i = 0; i < n; i++)
        if (labels[i] >= 0 && labels[i] < C) count[labels[i]]++;
    for (int32_t c = 0; c < C; c++) w[c] = count[c] ? (float)((double)n / ((double)C * (double)count[c])) : 0.0f;
    free(count);
}

static int cmp_i64(const void *x, const void *y) {
    const int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

onc_status onc_resample_indices(onc_resample how, const int32_t *labels, int64_t n, int32_t C, uint64_t seed,
                                int64_t **out, int64_t *n_out, onc_error *err) {
    *out = NULL;
    *n_out = 0;
    if (n <= 0 || C < 1) return onc_error_set(err, ONC_ERR_INVALID, "resampling: no examples or no classes");
    if (how != ONC_RESAMPLE_NONE && how != ONC_RESAMPLE_OVER && how != ONC_RESAMPLE_UNDER)
        return onc_error_set(err, ONC_ERR_INVALID, "resampling: unknown method %d", (int)how);
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= C)
            return onc_error_set(err, ONC_ERR_INVALID, "resampling: example %lld has label %d outside [0, %d)",
                                 (long long)i, (int)labels[i], (int)C);
    if (how == ONC_RESAMPLE_NONE) {
        if (!(*out = malloc((size_t)n * sizeof **out)))
            return onc_error_set(err, ONC_ERR_NOMEM, "resampling: out of memory");
        for (int64_t i = 0; i < n; i++) (*out)[i] = i;
        *n_out = n;
        return ONC_OK;
    }
    /* examples grouped by class, in order: byclass[first[c] .. first[c + 1]) */
    int64_t *first = calloc((size_t)C + 1, sizeof *first), *byclass = malloc((size_t)n * sizeof *byclass),
            *fill = calloc((size_t)C, sizeof *fill);
    if (!first || !byclass || !fill) {
        free(first), free(byclass), free(fill);
        return onc_error_set(err, ONC_ERR_NOMEM, "resampling: out of memory");
    }
    for (int64_t i = 0; i < n; i++) first[labels[i] + 1]++;
    int64_t target = how == ONC_RESAMPLE_OVER ? 0 : INT64_MAX;
    for (int32_t c = 0; c < C; c++) {
        const int64_t k = first[c + 1];
        if (how == ONC_RESAMPLE_OVER && k > target) target = k;
        if (how == ONC_RESAMPLE_UNDER && k > 0 && k < target) target = k;
        first[c + 1] += first[c];
    }
    for (int64_t i = 0; i < n; i++) byclass[first[labels[i]] + fill[labels[i]]++] = i;
    int64_t total = 0;
    for (int32_t c = 0; c < C; c++) total += first[c + 1] > first[c] ? target : 0;
    int64_t *o = malloc((size_t)total * sizeof *o);
    if (!o) {
        free(first), free(byclass), free(fill);
        return onc_error_set(err, ONC_ERR_NOMEM, "resampling: out of memory");
    }
    onc_rng r;
    onc_rng_seed(&r, seed);
    int64_t w = 0;
    for (int32_t c = 0; c < C; c++) {
        int64_t *idx = byclass + first[c];
        const int64_t k = first[c + 1] - first[c];
        if (k == 0) continue;
        if (how == ONC_RESAMPLE_OVER) {
            memcpy(o + w, idx, (size_t)k * sizeof *o);
            w += k;
            for (int64_t d = k; d < target; d++) o[w++] = idx[below(&r, (uint64_t)k)];
        } else {
            /* partial Fisher-Yates: the first `target` of idx become a uniform subset */
            for (int64_t d = 0; d < target && target < k; d++) {
                const int64_t e = d + (int64_t)below(&r, (uint64_t)(k - d));
                const int64_t t = idx[d];
                idx[d] = idx[e], idx[e] = t;
            }
            qsort(idx, (size_t)target, sizeof *idx, cmp_i64);
            memcpy(o + w, idx, (size_t)target * sizeof *o);
            w += target;
        }
    }
    free(first), free(byclass), free(fill);
    *out = o;
    *n_out = w;
    return ONC_OK;
}
