/* train_ops_attn.c — scaled dot-product attention forward and backward for
 * training (oncolm/train_ops.h), F32 throughout.
 *
 * Forward: one (token, head) row per task item, as the CPU backend's
 * attention over an F32 cache: score = dot * scale, max, expf, sum in
 * double, probabilities scaled by a float inverse, out = sum_s p_s v_s.
 * lse = max + log(sum) is saved.
 *
 * Backward (flash-attention style, nothing T x T kept): D[t][h] = dout .
 * out; P = exp(scale q.k - lse); dP = dout . v; dS = P (dP - D).
 *   dq[t][h] += scale sum_s dS k_s   — one (t, h) per task item;
 *   dk[s][g] += scale sum_{t, h in g} dS q[t][h], dv[s][g] += sum P dout
 *                                    — one (s, g) per task item, t and h
 *                                      visited in increasing order.
 * Each output element is owned by one item and summed in a fixed order, so
 * results do not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    float *scratch; /* T floats per thread */
} attn_ctx;

static void fwd_run(void *vctx, int ith, int nth) {
    const attn_ctx *c = vctx;
    const int64_t H = c->H, Dh = c->Dh, group = H / c->Hkv;
    float *sc = c->scratch + (size_t)ith * (size_t)c->T;
    int64_t lo, hi;
    onc_split_range(c->T * H, ith, nth, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        const int64_t t = item / H, h = item % H, g = h / group, s0 = c->kv_lo[t], s1 = c->kv_hi[t];
        const float *qr = c->q + t * c->ldq + h * Dh;
        float *o = c->out + t * c->ldo + h * Dh;
        memset(o, 0, (size_t)Dh * sizeof(float));
        if (s1 <= s0) {
            if (c->lse) c->lse[t * H + h] = -INFINITY;
            continue;
        }
        float mx = -INFINITY;
        for (int64_t s = s0; s < s1; s++) {
            const float v = dotf(qr, c->k + s * c->ldk + g * Dh, Dh) * c->scale;
            sc[s - s0] = v;
            mx = v > mx ? v : mx;
        }
        double sum = 0;
        for (int64_t s = s0; s < s1; s++) {
            const float e = expf(sc[s - s0] - mx);
            sc[s - s0] = e;
            sum += e;
        }
        const float inv = (float)(1.0 / sum);
        for (int64_t s = s0; s < s1; s++) {
            const float p = sc[s - s0] * inv;
            const float *vr = c->v + s * c->ldv + g * Dh;
            for (int64_t d = 0; d < Dh; d++) o[d] += p * vr[d];
        }
        if (c->lse) c->lse[t * H + h] = (float)(mx + log(sum));
    }
}

onc_status onc_attention_fwd(onc_threadpool *tp, float *out, int64_t ldo, float *lse, const float *q, int64_t ldq,
                             const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t T, int64_t H,
                             int64_t Hkv, int64_t Dh, const int32_t *kv_lo, const int32_t *kv_hi, float scale,
                             onc_error *err) {
    onc_status st = attn_check(T, H, Hkv, Dh, kv_lo, kv_hi, err);
    if (st || T == 0) return st;
    const int nth = tp ? onc_threadpool_n_threads(tp) : 1;
    float *scratch = malloc((size_t)nth * (size_t)T * sizeof(float));
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

static void bwd_dq_run(void *vctx, int ith, int nth) {
    const attn_ctx *c = vctx;
    const int64_t H = c->H, Dh = c->Dh, group = H / c->Hkv;
    int64_t lo, hi;
    onc_split_range(c->T * H, ith, nth, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        const int64_t t = item / H, h = item % H, g = h / group;
        const float *qr = c->q + t * c->ldq + h * Dh, *dor = c->dout + t * c->ldo + h * Dh;
        const float L = c->lsec[item], D = c->Dt[item];
        float *dqr = c->dq + t * c->ldq + h * Dh;
        for (int64_t s = c->kv_lo[t]; s < c->kv_hi[t]; s++) {
            const float *kr = c->k + s * c->ldk + g * Dh;
            const float p = expf(dotf(qr, kr, Dh) * c->scale - L);
            const float ds = p * (dotf(dor, c->v + s * c->ldv + g * Dh, Dh) - D) * c->scale;
            for (int64_t d = 0; d < Dh; d++) dqr[d] += ds * kr[d];
        }
    }
}

static void bwd_dkv_run(void *vctx, int ith, int nth) {
    const attn_ctx *c = vctx;
    const int64_t H = c->H, Dh = c->Dh, group = H / c->Hkv;
    int64_t lo, hi;
    onc_split_range(c->T * c->Hkv, ith, nth, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        const int64_t s = item / c->Hkv, g = item % c->Hkv;
        const float *kr = c->k + s * c->ldk + g * Dh, *vr = c->v + s * c->ldv + g * Dh;
        float *dkr = c->dk ? c->dk + s * c->ldk + g * Dh : NULL;
        float *dvr = c->dv ? c->dv + s * c->ldv + g * Dh : NULL;
        for (int64_t t = 0; t < c->T; t++) {
            if (s < c->kv_lo[t] || s >= c->kv_hi[t]) continue;
            for (int64_t h = g * group; h < (g + 1) * group; h++) {
                const float *qr = c->q + t * c->ldq + h * Dh, *dor = c->dout + t * c->ldo + h * Dh;
                const float p = expf(dotf(qr, kr, Dh) * c->scale - c->lsec[t * H + h]);
                if (dvr)
                    for (int64_t d = 0; d < Dh; d++) dvr[d] += p * dor[d];
                if (dkr) {
                    const float ds = p * (dotf(dor, vr, Dh) - c->Dt[t * H + h]) * c->scale;
                    for (int64_t d = 0; d < Dh; d++) dkr[d] += ds * qr[d];
                }
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
    float *Dt = malloc((size_t)T * (size_t)H * sizeof(float));
    if (!Dt) return onc_error_set(err, ONC_ERR_NOMEM, "attention backward: out of memory");
    attn_ctx c = {.dq = dq, .dk = dk, .dv = dv, .Dt = Dt, .q = q, .k = k, .v = v, .dout = dout, .outc = out,
                  .lsec = lse, .ldo = ldo, .ldq = ldq, .ldk = ldk, .ldv = ldv, .T = T, .H = H, .Hkv = Hkv, .Dh = Dh,
                  .kv_lo = kv_lo, .kv_hi = kv_hi, .scale = scale};
    onc_threadpool_run(tp, bwd_d_run, &c);
    if (dq) onc_threadpool_run(tp, bwd_dq_run, &c);
    if (dk || dv) onc_threadpool_run(tp, bwd_dkv_run, &c);
    free(Dt);
    return ONC_OK;
}
