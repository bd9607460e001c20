/* train_ops_attn.c — scaled dot-product attention forward and backward for
 * training (oncolm/train_ops.h), F32 throughout.
 *
 * Forward: per head and tile of 64 queries, the scores of every key the
 * tile may see by sgemm, then per row the CPU backend's attention
 * arithmetic over an F32 cache: score = dot * scale, max, expf, sum in
 * double, probabilities scaled by a float inverse; out = P V by sgemm (dot
 * products and the output sum in BLAS order: inference's result up to
 * rounding). lse = max + log(sum) is saved.
 *
 * Backward (flash-attention style, nothing T x T kept): D[t][h] = dout .
 * out; P = exp(scale q.k - lse); dP = dout . v; dS = P (dP - D), computed
 * in tiles of 64 queries x 64 keys of one head with sgemm (OpenBLAS,
 * single-threaded inside our pool):
 *   dq[t][h] += scale sum_s dS k_s   — one (head, query tile) per task item,
 *                                      key tiles in increasing order;
 *   dk[s][g] += scale sum_{t, h in g} dS q[t][h], dv[s][g] += sum P dout
 *                                    — one (kv head, key tile) per task
 *                                      item, query tiles then heads in
 *                                      increasing order.
 * Each output element is owned by one item and summed in a fixed order
 * (same sgemm calls whatever the thread count), so
 * results do not depend on the thread count. */
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "compute/gemm.h"
#include "oncolm/train_ops.h"

/* Dot product with 8 fixed partial sums (vectorizable without reassociation
 * flags; the order is fixed, so results are reproducible). */
static float dotf(const float *a, const float *b, int64_t n) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static onc_status attn_check(int64_t T, int64_t H, int64_t Hkv, int64_t Dh, const int32_t *kv_lo,
                             const int32_t *kv_hi, onc_error *err) {
    if (T < 0 || H <= 0 || Hkv <= 0 || Dh <= 0 || H % Hkv)
        return onc_error_set(err, ONC_ERR_INVALID, "attention: bad heads H=%lld Hkv=%lld Dh=%lld", (long long)H,
                             (long long)Hkv, (long long)Dh);
    for (int64_t t = 0; t < T; t++)
        if (kv_lo[t] < 0 || kv_hi[t] < kv_lo[t] || kv_hi[t] > T)
            return onc_error_set(err, ONC_ERR_INVALID, "attention: token %lld has kv range [%d, %d) outside [0, %lld)",
                                 (long long)t, kv_lo[t], kv_hi[t], (long long)T);
    return ONC_OK;
}

typedef struct attn_ctx {
    float *out, *lse, *dq, *dk, *dv, *Dt;
    const float *q, *k, *v, *dout, *outc, *lsec;
    int64_t ldo, ldq, ldk, ldv, T, H, Hkv, Dh;
    const int32_t *kv_lo, *kv_hi;
    float scale;
    float *scratch; /* forward: ATT_BQ x T floats per thread; backward: 2 ATT_BQ x ATT_BK */
} attn_ctx;

/* Tiles: ATT_BQ queries (x ATT_BK keys in the backward) of one head. */
#define ATT_BQ 64
#define ATT_BK 64

/* One (head, query tile) per item: the keys any query of the tile may see,
 * [s0, s1), scores S = Q K^T by sgemm into scratch (ATT_BQ x T), then per
 * row the inference arithmetic (score * scale, max, expf, sum in double,
 * a float inverse) over its own range, zeros elsewhere, and out = P V by
 * sgemm. */
static void fwd_run(void *vctx, int ith, int nth) {
    const attn_ctx *c = vctx;
    onc_blas_single_thread();
    const int64_t H = c->H, Dh = c->Dh, group = H / c->Hkv, nqt = (c->T + ATT_BQ - 1) / ATT_BQ;
    float *sc = c->scratch + (size_t)ith * ATT_BQ * (size_t)c->T;
    int64_t lo, hi;
    onc_split_range(H * nqt, ith, nth, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        const int64_t h = item / nqt, g = h / group, t0 = (item % nqt) * ATT_BQ;
        const int64_t t1 = t0 + ATT_BQ < c->T ? t0 + ATT_BQ : c->T, nt = t1 - t0;
        int64_t s0 = c->T, s1 = 0;
        for (int64_t t = t0; t < t1; t++)
            if (c->kv_lo[t] < c->kv_hi[t]) {
                s0 = c->kv_lo[t] < s0 ? c->kv_lo[t] : s0;
                s1 = c->kv_hi[t] > s1 ? c->kv_hi[t] : s1;
            }
        if (s1 <= s0) { /* no query of the tile sees anything */
            for (int64_t t = t0; t < t1; t++) {
                memset(c->out + t * c->ldo + h * Dh, 0, (size_t)Dh * sizeof(float));
                if (c->lse) c->lse[t * H + h] = -INFINITY;
            }
            continue;
        }
        const int64_t ns = s1 - s0;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nt, (int)ns, (int)Dh, 1.0f,
                    c->q + t0 * c->ldq + h * Dh, (int)c->ldq, c->k + s0 * c->ldk + g * Dh, (int)c->ldk, 0.0f, sc,
                    (int)ns);
        for (int64_t i = 0; i < nt; i++) {
            const int64_t t = t0 + i, a = c->kv_lo[t] - s0, b = c->kv_hi[t] - s0;
            float *row = sc + i * ns;
            if (b <= a) {
                memset(row, 0, (size_t)ns * sizeof(float));
                if (c->lse) c->lse[t * H + h] = -INFINITY;
                continue;
            }
            float mx = -INFINITY;
            for (int64_t j = a; j < b; j++) {
                const float v = row[j] * c->scale;
                row[j] = v;
                mx = v > mx ? v : mx;
            }
            double sum = 0;
            for (int64_t j = a; j < b; j++) {
                const float e = expf(row[j] - mx);
                row[j] = e;
                sum += e;
            }
            const float inv = (float)(1.0 / sum);
            for (int64_t j = 0; j < ns; j++) row[j] = j >= a && j < b ? row[j] * inv : 0.0f;
            if (c->lse) c->lse[t * H + h] = (float)(mx + log(sum));
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nt, (int)Dh, (int)ns, 1.0f, sc, (int)ns,
                    c->v + s0 * c->ldv + g * Dh, (int)c->ldv, 0.0f, c->out + t0 * c->ldo + h * Dh, (int)c->ldo);
    }
}

onc_status onc_attention_fwd(onc_threadpool *tp, float *out, int64_t ldo, float *lse, const float *q, int64_t ldq,
                             const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t T, int64_t H,
                             int64_t Hkv, int64_t Dh, const int32_t *kv_lo, const int32_t *kv_hi, float scale,
                             onc_error *err) {
    onc_status st = attn_check(T, H, Hkv, Dh, kv_lo, kv_hi, err);
    if (st || T == 0) return st;
    const int nth = tp ? onc_threadpool_n_threads(tp) : 1;
    float *scratch = malloc((size_t)nth * ATT_BQ * (size_t)T * sizeof(float));
    if (!scratch) return onc_error_set(err, ONC_ERR_NOMEM, "attention: out of memory");
    attn_ctx c = {.out = out, .lse = lse, .q = q, .k = k, .v = v, .ldo = ldo, .ldq = ldq, .ldk = ldk, .ldv = ldv,
                  .T = T, .H = H, .Hkv = Hkv, .Dh = Dh, .kv_lo = kv_lo, .kv_hi = kv_hi, .scale = scale,
                  .scratch = scratch};
    onc_threadpool_run(tp, fwd_run, &c);
    free(scratch);
    return ONC_OK;
}

/* D[t][h] = dout . out. */
static void bwd_d_run(void *vctx, int ith, int nth) {
    const attn_ctx *c = vctx;
    int64_t lo, hi;
    onc_split_range(c->T * c->H, ith, nth, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        const int64_t t = item / c->H, h = item % c->H;
        c->Dt[item] = dotf(c->dout + t * c->ldo + h * c->Dh, c->outc + t * c->ldo + h * c->Dh, c->Dh);
    }
}

/* Backward tiles: BQ queries x BK keys of one head. For a tile, S = Q K^T
 * and dP = dO V^T by sgemm, then P = exp(scale S - lse) and dS = P (dP - D)
 * scale on the allowed (t, s) pairs (0 elsewhere); dq += dS K, dk += dS^T
 * Q, dv += P^T dO by sgemm. Tiles whose key range misses every allowed
 * range of their queries are skipped. */
/* Whether queries [t0, t1) may attend some key in [s0, s1). */
static bool tile_live(const attn_ctx *c, int64_t t0, int64_t t1, int64_t s0, int64_t s1) {
    for (int64_t t = t0; t < t1; t++)
        if (c->kv_lo[t] < s1 && c->kv_hi[t] > s0 && c->kv_lo[t] < c->kv_hi[t]) return true;
    return false;
}

/* P (into sp) and dS (into dp) of the tile of head h, queries [t0, t1), keys
 * [s0, s1); row stride ATT_BK. */
static void tile_p_ds(const attn_ctx *c, int64_t h, int64_t t0, int64_t t1, int64_t s0, int64_t s1, float *sp,
                      float *dp) {
    const int64_t H = c->H, Dh = c->Dh, g = h / (H / c->Hkv), nt = t1 - t0, ns = s1 - s0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nt, (int)ns, (int)Dh, 1.0f, c->q + t0 * c->ldq + h * Dh,
                (int)c->ldq, c->k + s0 * c->ldk + g * Dh, (int)c->ldk, 0.0f, sp, ATT_BK);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nt, (int)ns, (int)Dh, 1.0f,
                c->dout + t0 * c->ldo + h * Dh, (int)c->ldo, c->v + s0 * c->ldv + g * Dh, (int)c->ldv, 0.0f, dp,
                ATT_BK);
    for (int64_t i = 0; i < nt; i++) {
        const int64_t t = t0 + i;
        const float L = c->lsec[t * H + h], D = c->Dt[t * H + h], scale = c->scale;
        const int64_t lo = c->kv_lo[t] - s0, hi = c->kv_hi[t] - s0;
        float *pr = sp + i * ATT_BK, *dr = dp + i * ATT_BK;
        for (int64_t j = 0; j < ns; j++) {
            if (j < lo || j >= hi) {
                pr[j] = dr[j] = 0.0f;
                continue;
            }
            const float p = expf(pr[j] * scale - L);
            pr[j] = p;
            dr[j] = p * (dr[j] - D) * scale;
        }
    }
}

/* dq: one (head, query tile) per item, key tiles in increasing order. */
static void bwd_dq_run(void *vctx, int ith, int nth) {
    const attn_ctx *c = vctx;
    onc_blas_single_thread();
    const int64_t H = c->H, Dh = c->Dh, group = H / c->Hkv, nqt = (c->T + ATT_BQ - 1) / ATT_BQ;
    float *sp = c->scratch + (size_t)ith * 2 * ATT_BQ * ATT_BK, *dp = sp + ATT_BQ * ATT_BK;
    int64_t lo, hi;
    onc_split_range(H * nqt, ith, nth, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        const int64_t h = item / nqt, g = h / group, t0 = (item % nqt) * ATT_BQ;
        const int64_t t1 = t0 + ATT_BQ < c->T ? t0 + ATT_BQ : c->T;
        for (int64_t s0 = 0; s0 < c->T; s0 += ATT_BK) {
            const int64_t s1 = s0 + ATT_BK < c->T ? s0 + ATT_BK : c->T;
            if (!tile_live(c, t0, t1, s0, s1)) continue;
            tile_p_ds(c, h, t0, t1, s0, s1, sp, dp);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(t1 - t0), (int)Dh, (int)(s1 - s0), 1.0f, dp,
                        ATT_BK, c->k + s0 * c->ldk + g * Dh, (int)c->ldk, 1.0f, c->dq + t0 * c->ldq + h * Dh,
                        (int)c->ldq);
        }
    }
}

/* dk, dv: one (kv head, key tile) per item, query tiles in increasing order
 * and within each the group's heads in increasing order. */
static void bwd_dkv_run(void *vctx, int ith, int nth) {
    const attn_ctx *c = vctx;
    onc_blas_single_thread();
    const int64_t Dh = c->Dh, group = c->H / c->Hkv, nkt = (c->T + ATT_BK - 1) / ATT_BK;
    float *sp = c->scratch + (size_t)ith * 2 * ATT_BQ * ATT_BK, *dp = sp + ATT_BQ * ATT_BK;
    int64_t lo, hi;
    onc_split_range(c->Hkv * nkt, ith, nth, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        const int64_t g = item / nkt, s0 = (item % nkt) * ATT_BK;
        const int64_t s1 = s0 + ATT_BK < c->T ? s0 + ATT_BK : c->T, ns = s1 - s0;
        for (int64_t t0 = 0; t0 < c->T; t0 += ATT_BQ) {
            const int64_t t1 = t0 + ATT_BQ < c->T ? t0 + ATT_BQ : c->T, nt = t1 - t0;
            if (!tile_live(c, t0, t1, s0, s1)) continue;
            for (int64_t h = g * group; h < (g + 1) * group; h++) {
                tile_p_ds(c, h, t0, t1, s0, s1, sp, dp);
                if (c->dv)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ns, (int)Dh, (int)nt, 1.0f, sp, ATT_BK,
                                c->dout + t0 * c->ldo + h * Dh, (int)c->ldo, 1.0f, c->dv + s0 * c->ldv + g * Dh,
                                (int)c->ldv);
                if (c->dk)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ns, (int)Dh, (int)nt, 1.0f, dp, ATT_BK,
                                c->q + t0 * c->ldq + h * Dh, (int)c->ldq, 1.0f, c->dk + s0 * c->ldk + g * Dh,
                                (int)c->ldk);
            }
        }
    }
}

onc_status onc_attention_bwd(onc_threadpool *tp, float *dq, float *dk, float *dv, const float *dout, int64_t ldo,
                             const float *out, const float *lse, const float *q, int64_t ldq, const float *k,
                             int64_t ldk, const float *v, int64_t ldv, int64_t T, int64_t H, int64_t Hkv, int64_t Dh,
                             const int32_t *kv_lo, const int32_t *kv_hi, float scale, onc_error *err) {
    onc_status st = attn_check(T, H, Hkv, Dh, kv_lo, kv_hi, err);
    if (st || T == 0) return st;
    const int nth = tp ? onc_threadpool_n_threads(tp) : 1;
    float *Dt = malloc(((size_t)T * (size_t)H + (size_t)nth * 2 * ATT_BQ * ATT_BK) * sizeof(float));
    if (!Dt) return onc_error_set(err, ONC_ERR_NOMEM, "attention backward: out of memory");
    attn_ctx c = {.dq = dq, .dk = dk, .dv = dv, .Dt = Dt, .scratch = Dt + (size_t)T * (size_t)H, .q = q, .k = k, .v = v, .dout = dout, .outc = out,
                  .lsec = lse, .ldo = ldo, .ldq = ldq, .ldk = ldk, .ldv = ldv, .T = T, .H = H, .Hkv = Hkv, .Dh = Dh,
                  .kv_lo = kv_lo, .kv_hi = kv_hi, .scale = scale};
    onc_threadpool_run(tp, bwd_d_run, &c);
    if (dq) onc_threadpool_run(tp, bwd_dq_run, &c);
    if (dk || dv) onc_threadpool_run(tp, bwd_dkv_run, &c);
    free(Dt);
    return ONC_OK;
}
