/* quants_k.c — reference dequantization and quantization of the K-quants
 * Q4_K, Q5_K and Q6_K (256-element super-blocks; layouts in
 * tensor/blocks.h and shared/reference/gguf-and-llama-formats.md Q2).
 *
 * Quantization starts from ggml's reference search (make_qkx2_quants for
 * the scale/min of each 32-element sub-block of Q4_K/Q5_K, make_qx_quants
 * for the 16-element sub-blocks of Q6_K), then refines what ggml leaves
 * alone: after the sub-block scales are rounded to 6 (Q4_K/Q5_K) or 8 (Q6_K)
 * bits, each integer scale/min is moved by +-1 where that lowers the
 * weighted squared error of its sub-block, and the f16 super-block scales
 * are refitted by least squares with the integer codes fixed (kept only if
 * the error after re-rounding drops). Output is therefore not bit-identical
 * to ggml, but never worse on the block's objective; tests/test_quants.c
 * bounds the RMSE on Gaussian data.
 *
 * Robustness: all-zero and constant blocks reproduce exactly (up to f16 of
 * the scale); super-block scales that would overflow a half saturate at
 * 65504 (large error, but finite), tiny inputs flush to zero. No output is
 * inf/NaN for finite inputs. Not thread-hostile: no globals. */
#include <math.h>
#include <string.h>

#include "tensor/blocks.h"
#include "tensor/quants_impl.h"

#define F16_MAX 65504.0f

/* nearest int of v clamped to [lo, hi], safe for any finite v */
static inline int clamp_round(float v, int lo, int hi) {
    if (!(v > (float)lo - 1.0f)) return lo; /* also catches NaN */
    if (v > (float)hi + 1.0f) return hi;
    int l = onc_nearest_int(v);
    return l < lo ? lo : l > hi ? hi : l;
}

static inline float f16_round(float v) {
    if (v > F16_MAX) v = F16_MAX;
    return onc_f16_to_f32(onc_f32_to_f16(v));
}

// --- dequantization -------------------------------------------------------------

void onc_dequant_q4_K(const void *vx, float *y, int64_t n) {
    const onc_block_q4_K *x = vx;
    for (int64_t b = 0; b < n / ONC_QK_K; b++) {
        const float d = onc_f16_to_f32(x[b].d), dmin = onc_f16_to_f32(x[b].dmin);
        const uint8_t *q = x[b].qs;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            uint8_t sc, m;
            onc_get_scale_min_k4(2 * c, x[b].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            onc_get_scale_min_k4(2 * c + 1, x[b].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) y[l] = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) y[32 + l] = d2 * (q[l] >> 4) - m2;
        }
    }
}

void onc_dequant_q5_K(const void *vx, float *y, int64_t n) {
    const onc_block_q5_K *x = vx;
    for (int64_t b = 0; b < n / ONC_QK_K; b++) {
        const float d = onc_f16_to_f32(x[b].d), dmin = onc_f16_to_f32(x[b].dmin);
        const uint8_t *ql = x[b].qs, *qh = x[b].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int c = 0; c < 4; c++, ql += 32, y += 64, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            onc_get_scale_min_k4(2 * c, x[b].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            onc_get_scale_min_k4(2 * c + 1, x[b].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) y[l] = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) y[32 + l] = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

void onc_dequant_q6_K(const void *vx, float *y, int64_t n) {
    const onc_block_q6_K *x = vx;
    for (int64_t b = 0; b < n / ONC_QK_K; b++) {
        const float d = onc_f16_to_f32(x[b].d);
        const uint8_t *ql = x[b].ql, *qh = x[b].qh;
        const int8_t *sc = x[b].scales;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

// --- Q4_K / Q5_K: asymmetric sub-blocks of 32 ----------------------------------------

/* ggml make_qkx2_quants: scale and (positive) min for n values in [0,nmax]
 * minimising the weighted squared error, by least squares over a range of
 * candidate inverse scales. Writes codes to L; returns the scale. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *w, uint8_t *L,
                              float *the_min, float rmin, float rdelta, int nstep) {
    uint8_t Laux[32];
    float min = x[0], max = x[0], sum_w = w[0], sum_x = w[0] * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.0f;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale, best_error = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clamp_round(iscale * (x[i] - min), 0, nmax);
        const float diff = scale * L[i] + min - x[i];
        best_error += w[i] * diff * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            const int l = clamp_round(iscale * (x[i] - min), 0, nmax);
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                const float diff = this_scale * Laux[i] + this_min - x[i];
                cur_error += w[i] * diff * diff;
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* Best codes of one 32-sub-block for y = d*q - m; returns weighted error. */
static float sub_codes(const float *x, const float *w, float d, float m, int nmax, uint8_t *L) {
    float err = 0;
    for (int i = 0; i < 32; i++) {
        const int l = d > 0 ? clamp_round((x[i] + m) / d, 0, nmax) : 0;
        L[i] = (uint8_t)l;
        const float diff = d * l - m - x[i];
        err += w[i] * diff * diff;
    }
    return err;
}

typedef struct kq_state {
    float d, dmin;          /* f16-representable super-block scales */
    uint8_t ls[8], lm[8];   /* 6-bit scales and mins */
    uint8_t L[ONC_QK_K];    /* codes 0..nmax */
    float err[8];           /* weighted error per sub-block */
} kq_state;

static float kq_codes_all(kq_state *s, const float *x, const float *w, int nmax) {
    float e = 0;
    for (int j = 0; j < 8; j++) {
        s->err[j] = sub_codes(x + 32 * j, w + 32 * j, s->d * s->ls[j], s->dmin * s->lm[j], nmax, s->L + 32 * j);
        e += s->err[j];
    }
    return e;
}

/* Move each sub-block's 6-bit scale/min by -1..+1 where it helps. */
static void kq_refine_subscales(kq_state *s, const float *x, const float *w, int nmax) {
    uint8_t Lt[32];
    for (int j = 0; j < 8; j++) {
        const int ls0 = s->ls[j], lm0 = s->lm[j];
        for (int a = ls0 - 1; a <= ls0 + 1; a++) {
            for (int b = lm0 - 1; b <= lm0 + 1; b++) {
                if (a < 0 || a > 63 || b < 0 || b > 63 || (a == ls0 && b == lm0)) continue;
                const float e = sub_codes(x + 32 * j, w + 32 * j, s->d * a, s->dmin * b, nmax, Lt);
                if (e < s->err[j]) {
                    s->err[j] = e;
                    s->ls[j] = (uint8_t)a;
                    s->lm[j] = (uint8_t)b;
                    memcpy(s->L + 32 * j, Lt, 32);
                }
            }
        }
    }
}

/* Least-squares refit of (d, dmin) with codes and 6-bit scales fixed; kept
 * when the error after rounding to f16 and re-choosing codes drops. */
static void kq_refit_super(kq_state *s, const float *x, const float *w, int nmax) {
    double saa = 0, sab = 0, sbb = 0, sax = 0, sbx = 0;
    for (int j = 0; j < 8; j++) {
        for (int i = 0; i < 32; i++) {
            const double a = (double)s->ls[j] * s->L[32 * j + i], b = -(double)s->lm[j];
            const double wi = w[32 * j + i], xi = x[32 * j + i];
            saa += wi * a * a;
            sab += wi * a * b;
            sbb += wi * b * b;
            sax += wi * a * xi;
            sbx += wi * b * xi;
        }
    }
    double d, dmin;
    const double det = saa * sbb - sab * sab;
    if (sbb > 0 && det > 1e-12 * saa * sbb) {
        d = (sax * sbb - sbx * sab) / det;
        dmin = (saa * sbx - sab * sax) / det;
    } else if (saa > 0) {
        d = sax / saa;
        dmin = s->dmin;
    } else {
        return;
    }
    if (!(d >= 0) || !(dmin >= 0)) return;
    kq_state t = *s;
    t.d = f16_round((float)d);
    t.dmin = f16_round((float)dmin);
    float e_old = 0, e_new;
    for (int j = 0; j < 8; j++) e_old += s->err[j];
    e_new = kq_codes_all(&t, x, w, nmax);
    if (e_new < e_old) *s = t;
}

/* Shared Q4_K/Q5_K block quantizer: fills d, dmin, packed scales and codes. */
static void quant_kq_block(const float *x, int nmax, float rmin, int nstep, uint16_t *d_out,
                           uint16_t *dmin_out, uint8_t *scales_out, uint8_t *L_out) {
    float w[ONC_QK_K], scales[8], mins[8];
    kq_state s;
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xj = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xj[l] * xj[l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[32 * j + l] = av_x + fabsf(xj[l]);
        scales[j] = make_qkx2_quants(32, nmax, xj, w + 32 * j, s.L + 32 * j, &mins[j], rmin, 0.1f, nstep);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; j++) {
        s.ls[j] = (uint8_t)clamp_round(inv_scale * scales[j], 0, 63);
        s.lm[j] = (uint8_t)clamp_round(inv_min * mins[j], 0, 63);
    }
    s.d = f16_round(max_scale / 63.f);
    s.dmin = f16_round(max_min / 63.f);
    kq_codes_all(&s, x, w, nmax);
    kq_refine_subscales(&s, x, w, nmax);
    kq_refit_super(&s, x, w, nmax);
    kq_refine_subscales(&s, x, w, nmax);

    *d_out = onc_f32_to_f16(s.d);
    *dmin_out = onc_f32_to_f16(s.dmin);
    memset(scales_out, 0, 12);
    for (int j = 0; j < 8; j++) {
        const uint8_t ls = s.ls[j], lm = s.lm[j];
        if (j < 4) {
            scales_out[j] = ls;
            scales_out[j + 4] = lm;
        } else {
            scales_out[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
            scales_out[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales_out[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    memcpy(L_out, s.L, ONC_QK_K);
}

void onc_quant_q4_K(const float *x, void *vy, int64_t n) {
    onc_block_q4_K *y = vy;
    uint8_t L[ONC_QK_K];
    for (int64_t b = 0; b < n / ONC_QK_K; b++, x += ONC_QK_K) {
        quant_kq_block(x, 15, -1.f, 20, &y[b].d, &y[b].dmin, y[b].scales, L);
        uint8_t *q = y[b].qs;
        for (int j = 0; j < ONC_QK_K; j += 64, q += 32)
            for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

void onc_quant_q5_K(const float *x, void *vy, int64_t n) {
    onc_block_q5_K *y = vy;
    uint8_t L[ONC_QK_K];
    for (int64_t b = 0; b < n / ONC_QK_K; b++, x += ONC_QK_K) {
        quant_kq_block(x, 31, -0.5f, 15, &y[b].d, &y[b].dmin, y[b].scales, L);
        uint8_t *qh = y[b].qh, *ql = y[b].qs;
        memset(qh, 0, ONC_QK_K / 8);
        uint8_t m1 = 1, m2 = 2;
        for (int c = 0; c < ONC_QK_K; c += 64, ql += 32, m1 <<= 2, m2 <<= 2) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[c + j], l2 = L[c + j + 32];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                ql[j] = (uint8_t)(l1 | (l2 << 4));
            }
        }
    }
}

// --- Q6_K: symmetric sub-blocks of 16, int8 scales -------------------------------------

/* ggml make_qx_quants with rmse_type 1 (weights x^2): codes in
 * [-nmax, nmax-1] stored offset by nmax; returns the scale. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        const int l = clamp_round(iscale * x[i], -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            const int l = clamp_round(iscale * x[i], -nmax, nmax - 1);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + clamp_round(iscale * x[i], -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* codes (0..63) of a 16-sub-block for step ds; returns squared error */
static float q6_sub_codes(const float *x, float ds, uint8_t *L) {
    float err = 0;
    for (int i = 0; i < 16; i++) {
        const int l = ds != 0 ? clamp_round(x[i] / ds, -32, 31) : 0;
        L[i] = (uint8_t)(l + 32);
        const float diff = ds * l - x[i];
        err += diff * diff;
    }
    return err;
}

void onc_quant_q6_K(const float *x, void *vy, int64_t n) {
    onc_block_q6_K *y = vy;
    for (int64_t b = 0; b < n / ONC_QK_K; b++, x += ONC_QK_K) {
        int8_t L8[ONC_QK_K];
        uint8_t L[ONC_QK_K], Lt[16];
        float scales[16], max_scale = 0, max_abs_scale = 0, err[16];
        int sc[16];
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L8 + 16 * ib);
            if (fabsf(scales[ib]) > max_abs_scale) {
                max_abs_scale = fabsf(scales[ib]);
                max_scale = scales[ib];
            }
        }
        memset(&y[b], 0, sizeof y[b]);
        if (max_abs_scale < 1e-15f) continue; /* all (near) zero: d = 0 */
        const float iscale = -128.f / max_scale;
        float d = 1 / iscale;
        if (fabsf(d) > F16_MAX) d = d < 0 ? -F16_MAX : F16_MAX;
        d = onc_f16_to_f32(onc_f32_to_f16(d));
        for (int ib = 0; ib < 16; ib++) sc[ib] = clamp_round(iscale * scales[ib], -128, 127);
        float e_tot = 0;
        for (int ib = 0; ib < 16; ib++) e_tot += err[ib] = q6_sub_codes(x + 16 * ib, d * sc[ib], L + 16 * ib);
        /* refinement 1: each int8 scale +-1 */
        for (int ib = 0; ib < 16; ib++) {
            for (int a = sc[ib] - 1; a <= sc[ib] + 1; a += 2) {
                if (a < -128 || a > 127) continue;
                const float e = q6_sub_codes(x + 16 * ib, d * a, Lt);
                if (e < err[ib]) {
                    e_tot += e - err[ib];
                    err[ib] = e;
                    sc[ib] = a;
                    memcpy(L + 16 * ib, Lt, 16);
                }
            }
        }
        /* refinement 2: least-squares d with codes and scales fixed */
        double sxa = 0, saa = 0;
        for (int i = 0; i < ONC_QK_K; i++) {
            const double a = (double)sc[i / 16] * (L[i] - 32);
            sxa += a * x[i];
            saa += a * a;
        }
        if (saa > 0) {
            float d2 = (float)(sxa / saa);
            if (fabsf(d2) > F16_MAX) d2 = d2 < 0 ? -F16_MAX : F16_MAX;
            d2 = onc_f16_to_f32(onc_f32_to_f16(d2));
            uint8_t L2[ONC_QK_K];
            float e2[16], e2_tot = 0;
            for (int ib = 0; ib < 16; ib++) e2_tot += e2[ib] = q6_sub_codes(x + 16 * ib, d2 * sc[ib], L2 + 16 * ib);
            if (e2_tot < e_tot) {
                d = d2;
                memcpy(L, L2, sizeof L);
                memcpy(err, e2, sizeof err);
            }
        }
        y[b].d = onc_f32_to_f16(d);
        for (int ib = 0; ib < 16; ib++) y[b].scales[ib] = (int8_t)sc[ib];
        uint8_t *ql = y[b].ql, *qh = y[b].qh;
        for (int j = 0; j < ONC_QK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
                const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                  ((L[j + l + 96] >> 4) << 6));
            }
        }
    }
}
