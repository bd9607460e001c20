/* backend_cpu_llm.c — the CPU backend's decoder ops (see oncolm/backend.h):
 * RoPE, KV-cache stores and attention over the cache. Attention runs one
 * (token, head) pair per task item over the thread pool; its dot products
 * go through the SIMD vec_dot kernels of the cache type (F16 or F32), so the
 * rounding is ggml's: q converted to the cache type, probabilities too.
 * With an F32 cache and runs of tokens that attend the same cells (an
 * encoder's bidirectional attention over one input), a run and a head go
 * through OpenBLAS instead: S = scale Q K^T, row softmax, O = P V. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compute/backend_impl.h"
#include "compute/gemm.h"
#include "oncolm/compute.h"

// --- rope ------------------------------------------------------------------------

typedef struct rope_task {
    onc_tensor *dst;
    const onc_tensor *a;
    const int32_t *pos;
    const onc_rope_params *p;
} rope_task;

static void rope_run(void *ctx, int ith, int nth) {
    const rope_task *t = ctx;
    const onc_rope_params *p = t->p;
    const int64_t D = t->a->ne[0], H = t->a->ne[1], T = t->a->ne[2];
    const int half = p->n_rot / 2;
    const float *ff = p->freq_factors ? (const float *)p->freq_factors->data : NULL;
    float cs[2 * 512];
    int64_t lo, hi;
    onc_split_range(T, ith, nth, &lo, &hi);
    for (int64_t tok = lo; tok < hi; tok++) {
        /* theta_i = pos * scale * base^(-2i/n_rot) / ff[i], computed as ggml does:
         * theta *= base^(-2/n_rot) per step (float), then divided by ff. */
        const float theta_scale = powf(p->freq_base, -2.0f / (float)p->n_rot);
        float theta = (float)t->pos[tok] * p->freq_scale;
        for (int i = 0; i < half; i++) {
            const float th = ff ? theta / ff[i] : theta;
            cs[2 * i] = cosf(th) * p->attn_factor;
            cs[2 * i + 1] = sinf(th) * p->attn_factor;
            theta *= theta_scale;
        }
        for (int64_t h = 0; h < H; h++) {
            const float *x =
                (const float *)((const char *)t->a->data + (size_t)h * t->a->nb[1] + (size_t)tok * t->a->nb[2]);
            float *y = (float *)((char *)t->dst->data + (size_t)h * t->dst->nb[1] + (size_t)tok * t->dst->nb[2]);
            if (p->mode == ONC_ROPE_MODE_NORM) {
                for (int i = 0; i < half; i++) {
                    const float a = x[2 * i], b = x[2 * i + 1], c = cs[2 * i], s = cs[2 * i + 1];
                    y[2 * i] = a * c - b * s;
                    y[2 * i + 1] = a * s + b * c;
                }
            } else {
                for (int i = 0; i < half; i++) {
                    const float a = x[i], b = x[i + half], c = cs[2 * i], s = cs[2 * i + 1];
                    y[i] = a * c - b * s;
                    y[i + half] = a * s + b * c;
                }
            }
            if (y != x)
                for (int64_t i = p->n_rot; i < D; i++) y[i] = x[i];
        }
    }
}

onc_status onc_cpu_rope(onc_backend *be, onc_tensor *dst, const onc_tensor *a, const int32_t *pos,
                        const onc_rope_params *p, onc_error *err) {
    if (p->n_rot > 1024) return onc_error_set(err, ONC_ERR_UNSUPPORTED, "rope: n_rot %d above 1024", p->n_rot);
    rope_task t = {dst, a, pos, p};
    onc_threadpool_run(a->ne[2] > 1 ? onc_cpu_backend_pool(be) : NULL, rope_run, &t);
    return ONC_OK;
}

// --- set_rows --------------------------------------------------------------------

onc_status onc_cpu_set_rows(onc_backend *be, onc_tensor *dst, const onc_tensor *src, const int32_t *rows,
                            bool transposed, onc_error *err) {
    const int64_t n = onc_tensor_nrows(src), K = src->ne[0];
    const bool f16 = dst->type == ONC_TYPE_F16;
    for (int64_t i = 0; i < n; i++) {
        const float *x = (const float *)((const char *)src->data + (size_t)i * src->nb[1]);
        if (!transposed) {
            char *y = (char *)dst->data + (size_t)rows[i] * dst->nb[1];
            if (f16)
                for (int64_t k = 0; k < K; k++) ((uint16_t *)y)[k] = onc_f32_to_f16(x[k]);
            else
                memcpy(y, x, (size_t)K * sizeof(float));
        } else {
            char *col = (char *)dst->data + (size_t)rows[i] * dst->nb[0];
            for (int64_t k = 0; k < K; k++) {
                char *y = col + (size_t)k * dst->nb[1];
                if (f16) *(uint16_t *)y = onc_f32_to_f16(x[k]);
                else *(float *)y = x[k];
            }
        }
    }
    return ONC_OK;
}

// --- attention -------------------------------------------------------------------

typedef struct attn_task {
    onc_tensor *dst;
    const onc_tensor *q, *k, *vt;
    const int32_t *kv_start, *kv_len;
    float scale;
    int64_t max_kv;
    char *scratch;       /* per thread: scores f32 [max_kv], probs [max_kv] (cache type), q row */
    size_t scratch_per_thread;
} attn_task;

static void attn_run(void *ctx, int ith, int nth) {
    const attn_task *t = ctx;
    const onc_tensor *q = t->q, *k = t->k, *vt = t->vt;
    const onc_type kt = k->type;
    const int64_t D = q->ne[0], H = q->ne[1], T = q->ne[2], Hkv = k->ne[0] / D, group = H / Hkv;
    const size_t es = onc_type_traits_of(kt)->type_size;
    char *scr = t->scratch + (size_t)ith * t->scratch_per_thread;
    float *scores = (float *)scr;
    void *probs = scr + (size_t)t->max_kv * sizeof(float);
    void *qc = (char *)probs + (size_t)t->max_kv * sizeof(float);
    const onc_vec_dot_fn dot = onc_vec_dot_get(kt, onc_simd_level_get());
    int64_t lo, hi;
    onc_split_range(T * H, ith, nth, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        const int64_t tok = item / H, h = item % H, g = h / group;
        const int64_t start = t->kv_start[tok], n = t->kv_len[tok];
        const float *qrow = (const float *)((const char *)q->data + (size_t)h * q->nb[1] + (size_t)tok * q->nb[2]);
        onc_convert_activation_row(kt, qc, qrow, D);
        float max = -INFINITY;
        for (int64_t j = 0; j < n; j++) {
            const char *krow = (const char *)k->data + (size_t)(start + j) * k->nb[1] + (size_t)(g * D) * es;
            float s;
            dot(&s, krow, qc, D);
            s *= t->scale;
            scores[j] = s;
            if (s > max) max = s;
        }
        double sum = 0;
        for (int64_t j = 0; j < n; j++) {
            const float e = expf(scores[j] - max);
            scores[j] = e;
            sum += e;
        }
        const float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < n; j++) scores[j] *= inv;
        onc_convert_activation_row(kt, probs, scores, n);
        float *out = (float *)((char *)t->dst->data + (size_t)h * t->dst->nb[1] + (size_t)tok * t->dst->nb[2]);
        for (int64_t d = 0; d < D; d++) {
            const char *vrow = (const char *)vt->data + (size_t)(g * D + d) * vt->nb[1] + (size_t)start * es;
            dot(&out[d], vrow, probs, n);
        }
    }
}

/* Runs of consecutive tokens with the same cells: run r covers tokens
 * run_tok[r] .. run_tok[r + 1] - 1. */
typedef struct attn_gemm_task {
    onc_tensor *dst;
    const onc_tensor *q, *k, *vt;
    const int32_t *kv_start, *kv_len, *run_tok;
    int64_t n_runs;
    float scale;
    float **scratch; /* per thread: [max run tokens * max cells] */
} attn_gemm_task;

static void attn_gemm_run(void *ctx, int ith, int nth) {
    attn_gemm_task *t = ctx;
    const onc_tensor *q = t->q, *k = t->k, *vt = t->vt, *dst = t->dst;
    const int64_t D = q->ne[0], H = q->ne[1], Hkv = k->ne[0] / D, group = H / Hkv;
    float *S = t->scratch[ith];
    int64_t lo, hi;
    onc_split_range(t->n_runs * H, ith, nth, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        const int64_t r = item / H, h = item % H, g = h / group;
        const int64_t t0 = t->run_tok[r], nt = t->run_tok[r + 1] - t0;
        const int64_t start = t->kv_start[t0], nkv = t->kv_len[t0];
        const float *Q = (const float *)((const char *)q->data + (size_t)h * q->nb[1] + (size_t)t0 * q->nb[2]);
        const float *K = (const float *)((const char *)k->data + (size_t)start * k->nb[1]) + g * D;
        const float *VT = (const float *)((const char *)vt->data + (size_t)(g * D) * vt->nb[1]) + start;
        float *O = (float *)((char *)dst->data + (size_t)h * dst->nb[1] + (size_t)t0 * dst->nb[2]);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nt, (int)nkv, (int)D, t->scale, Q,
                    (int)(q->nb[2] / sizeof(float)), K, (int)(k->nb[1] / sizeof(float)), 0.0f, S, (int)nkv);
        for (int64_t i = 0; i < nt; i++) {
            float *row = S + i * nkv, max = -INFINITY;
            for (int64_t j = 0; j < nkv; j++) max = row[j] > max ? row[j] : max;
            double sum = 0;
            for (int64_t j = 0; j < nkv; j++) {
                row[j] = expf(row[j] - max);
                sum += row[j];
            }
            const float inv = (float)(1.0 / sum);
            for (int64_t j = 0; j < nkv; j++) row[j] *= inv;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nt, (int)D, (int)nkv, 1.0f, S, (int)nkv, VT,
                    (int)(vt->nb[1] / sizeof(float)), 0.0f, O, (int)(dst->nb[2] / sizeof(float)));
    }
}

/* The BLAS path when the cache is F32 and tokens come in runs of >= 4 on
 * average sharing their cells; returns false to use the per-token path. */
static bool attention_gemm(onc_threadpool *tp, onc_tensor *dst, const onc_tensor *q, const onc_tensor *k,
                           const onc_tensor *vt, const int32_t *kv_start, const int32_t *kv_len, float scale) {
    const int64_t T = q->ne[2];
    if (k->type != ONC_TYPE_F32 || T < 4) return false;
    int32_t *run_tok = malloc((size_t)(T + 1) * sizeof *run_tok);
    if (!run_tok) return false;
    int64_t n_runs = 0, max_nt = 0, max_kv = 0;
    for (int64_t i = 0; i < T; i++) {
        if (i == 0 || kv_start[i] != kv_start[i - 1] || kv_len[i] != kv_len[i - 1]) run_tok[n_runs++] = (int32_t)i;
        if (kv_len[i] > max_kv) max_kv = kv_len[i];
    }
    run_tok[n_runs] = (int32_t)T;
    for (int64_t r = 0; r < n_runs; r++)
        if (run_tok[r + 1] - run_tok[r] > max_nt) max_nt = run_tok[r + 1] - run_tok[r];
    const int nth = onc_threadpool_n_threads(tp);
    float **scr = calloc((size_t)nth, sizeof *scr);
    bool ok = T >= 4 * n_runs && scr;
    for (int i = 0; ok && i < nth; i++) ok = (scr[i] = malloc((size_t)(max_nt * max_kv) * sizeof(float))) != NULL;
    if (ok) {
        onc_blas_single_thread();
        attn_gemm_task t = {dst, q, k, vt, kv_start, kv_len, run_tok, n_runs, scale, scr};
        onc_threadpool_run(n_runs * q->ne[1] > 1 ? tp : NULL, attn_gemm_run, &t);
    }
    for (int i = 0; scr && i < nth; i++) free(scr[i]);
    free(scr);
    free(run_tok);
    return ok;
}

onc_status onc_cpu_attention(onc_backend *be, onc_tensor *dst, const onc_tensor *q, const onc_tensor *k,
                             const onc_tensor *vt, const int32_t *kv_start, const int32_t *kv_len, float scale,
                             onc_error *err) {
    onc_threadpool *tp = onc_cpu_backend_pool(be);
    if (attention_gemm(tp, dst, q, k, vt, kv_start, kv_len, scale)) return ONC_OK;
    const int nth = onc_threadpool_n_threads(tp);
    int64_t max_kv = 1;
    for (int64_t t = 0; t < q->ne[2]; t++)
        if (kv_len[t] > max_kv) max_kv = kv_len[t];
    size_t per = (size_t)max_kv * 2 * sizeof(float) + (size_t)q->ne[0] * sizeof(float) + 64;
    per = (per + 63) & ~(size_t)63;
    attn_task t = {dst, q, k, vt, kv_start, kv_len, scale, max_kv, malloc(per * (size_t)nth), per};
    if (!t.scratch) return onc_error_set(err, ONC_ERR_NOMEM, "attention: out of memory");
    onc_threadpool_run(q->ne[1] * q->ne[2] > 1 ? tp : NULL, attn_run, &t);
    free(t.scratch);
    return ONC_OK;
}
