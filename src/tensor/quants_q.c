/* quants_q.c — reference row (de)quantization for F32, F16, BF16, Q4_0,
 * Q8_0 and Q8_K, and the onc_dequantize_row / onc_quantize_row dispatch
 * (see oncolm/types.h). The K-quants Q4_K/Q5_K/Q6_K live in quants_k.c.
 *
 * Q4_0 and Q8_0 quantization follow ggml's quantize_row_q4_0_ref /
 * quantize_row_q8_0_ref formula for formula, so the blocks are bit-identical
 * to ggml's reference whenever the block scale fits in a half (|x| up to
 * ~8e6 for Q8_0, ~5e5 for Q4_0). Beyond that ggml would store an infinite
 * scale; we saturate the scale to the largest finite half instead so that no
 * output is ever inf/NaN. Q8_K follows quantize_row_q8_K_ref. */
#include <math.h>
#include <string.h>

#include "oncolm/status.h"
#include "tensor/blocks.h"
#include "tensor/quants_impl.h"

#define F16_MAX 65504.0f

// --- f32 / f16 / bf16 -----------------------------------------------------------

static void dequant_f16(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = onc_f16_to_f32(x[i]);
}

static void dequant_bf16(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = onc_bf16_to_f32(x[i]);
}

// --- Q4_0 ------------------------------------------------------------------------

static void dequant_q4_0(const onc_block_q4_0 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / ONC_QK; b++) {
        const float d = onc_f16_to_f32(x[b].d);
        for (int j = 0; j < ONC_QK / 2; j++) {
            y[b * ONC_QK + j] = (float)((x[b].qs[j] & 0x0F) - 8) * d;
            y[b * ONC_QK + j + ONC_QK / 2] = (float)((x[b].qs[j] >> 4) - 8) * d;
        }
    }
}

/* ggml quantize_row_q4_0_ref: d = max / -8 where max is the signed value of
 * largest magnitude (first one on ties); q = MIN(15, (int8_t)(x/d + 8.5)). */
static void quant_q4_0(const float *x, onc_block_q4_0 *y, int64_t n) {
    for (int64_t b = 0; b < n / ONC_QK; b++) {
        const float *xb = x + b * ONC_QK;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < ONC_QK; j++) {
            const float v = xb[j];
            if (amax < fabsf(v)) {
                amax = fabsf(v);
                max = v;
            }
        }
        float d = max / -8;
        if (fabsf(d) > F16_MAX) d = d < 0 ? -F16_MAX : F16_MAX; /* see header */
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = onc_f32_to_f16(d);
        for (int j = 0; j < ONC_QK / 2; j++) {
            float x0 = xb[j] * id + 8.5f, x1 = xb[ONC_QK / 2 + j] * id + 8.5f;
            /* the clamps only act in the saturated case; ggml's cast is UB there */
            x0 = x0 < 0.0f ? 0.0f : x0 > 15.0f ? 15.0f : x0;
            x1 = x1 < 0.0f ? 0.0f : x1 > 15.0f ? 15.0f : x1;
            const uint8_t q0 = (uint8_t)(int8_t)x0, q1 = (uint8_t)(int8_t)x1;
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

// --- Q8_0 ------------------------------------------------------------------------

static void dequant_q8_0(const onc_block_q8_0 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / ONC_QK; b++) {
        const float d = onc_f16_to_f32(x[b].d);
        for (int j = 0; j < ONC_QK; j++) y[b * ONC_QK + j] = (float)x[b].qs[j] * d;
    }
}

/* ggml quantize_row_q8_0_ref: d = amax/127, q = roundf(x/d) computed with
 * the unrounded d; d stored as f16. */
void onc_quant_q8_0(const float *x, void *vy, int64_t n) {
    onc_block_q8_0 *y = vy;
    for (int64_t b = 0; b < n / ONC_QK; b++) {
        const float *xb = x + b * ONC_QK;
        float amax = 0.0f;
        for (int j = 0; j < ONC_QK; j++) {
            const float ax = fabsf(xb[j]);
            amax = ax > amax ? ax : amax; /* fmaxf without the libm call (NaN aside) */
        }
        float d = amax / ((1 << 7) - 1);
        if (d > F16_MAX) d = F16_MAX; /* see header */
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = onc_f32_to_f16(d);
        for (int j = 0; j < ONC_QK; j++) {
            /* |x * id| <= 127 (+ rounding), so the int conversion is exact;
             * roundf(v) = trunc(v) +- 1 when the exact remainder reaches 0.5 */
            const float v = xb[j] * id;
            const int32_t t = (int32_t)v;
            const float r = v - (float)t;
            int32_t q = t + (r >= 0.5f) - (r <= -0.5f);
            q = q < -127 ? -127 : q > 127 ? 127 : q; /* only when saturated */
            y[b].qs[j] = (int8_t)q;
        }
    }
}

// --- Q8_K ------------------------------------------------------------------------

static void dequant_q8_K(const onc_block_q8_K *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / ONC_QK_K; b++)
        for (int j = 0; j < ONC_QK_K; j++) y[b * ONC_QK_K + j] = x[b].d * (float)x[b].qs[j];
}

/* ggml quantize_row_q8_K_ref: scale from the signed value of largest
 * magnitude so that it maps to -127 exactly (q = nearest(-127/max * x),
 * capped at 127), plus sums of each 16 quants for the K-quant dots. */
void onc_quant_q8_K(const float *x, void *vy, int64_t n) {
    onc_block_q8_K *y = vy;
    for (int64_t b = 0; b < n / ONC_QK_K; b++) {
        const float *xb = x + b * ONC_QK_K;
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < ONC_QK_K; j++) {
            const float ax = fabsf(xb[j]);
            if (ax > amax) {
                amax = ax;
                max = xb[j];
            }
        }
        if (amax == 0.0f) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < ONC_QK_K; j++) {
            const int v = onc_nearest_int(iscale * xb[j]);
            y[b].qs[j] = (int8_t)(v > 127 ? 127 : v);
        }
        for (int j = 0; j < ONC_QK_K / 16; j++) {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += y[b].qs[j * 16 + i];
            y[b].bsums[j] = (int16_t)sum;
        }
        y[b].d = 1 / iscale;
    }
}

// --- dispatch --------------------------------------------------------------------

void onc_dequantize_row(onc_type t, const void *src, float *dst, int64_t n) {
    const onc_type_traits *tr = onc_type_traits_of(t);
    ONC_ASSERT((tr->can_compute || t == ONC_TYPE_Q8_K) && n % tr->block_size == 0);
    switch (t) {
    case ONC_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case ONC_TYPE_F16: dequant_f16(src, dst, n); break;
    case ONC_TYPE_BF16: dequant_bf16(src, dst, n); break;
    case ONC_TYPE_Q4_0: dequant_q4_0(src, dst, n); break;
    case ONC_TYPE_Q8_0: dequant_q8_0(src, dst, n); break;
    case ONC_TYPE_Q4_K: onc_dequant_q4_K(src, dst, n); break;
    case ONC_TYPE_Q5_K: onc_dequant_q5_K(src, dst, n); break;
    case ONC_TYPE_Q6_K: onc_dequant_q6_K(src, dst, n); break;
    case ONC_TYPE_Q8_K: dequant_q8_K(src, dst, n); break;
    default: ONC_ASSERT(!"dequantize: unsupported type");
    }
}

size_t onc_quantize_row(onc_type t, const float *src, void *dst, int64_t n) {
    const onc_type_traits *tr = onc_type_traits_of(t);
    ONC_ASSERT(tr->can_quantize && n % tr->block_size == 0);
    switch (t) {
    case ONC_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case ONC_TYPE_F16: {
        uint16_t *y = dst;
        for (int64_t i = 0; i < n; i++) y[i] = onc_f32_to_f16(src[i]);
        break;
    }
    case ONC_TYPE_BF16: {
        uint16_t *y = dst;
        for (int64_t i = 0; i < n; i++) y[i] = onc_f32_to_bf16(src[i]);
        break;
    }
    case ONC_TYPE_Q4_0: quant_q4_0(src, dst, n); break;
    case ONC_TYPE_Q8_0: onc_quant_q8_0(src, dst, n); break;
    case ONC_TYPE_Q4_K: onc_quant_q4_K(src, dst, n); break;
    case ONC_TYPE_Q5_K: onc_quant_q5_K(src, dst, n); break;
    case ONC_TYPE_Q6_K: onc_quant_q6_K(src, dst, n); break;
    case ONC_TYPE_Q8_K: onc_quant_q8_K(src, dst, n); break;
    default: ONC_ASSERT(!"quantize: unsupported type");
    }
    return onc_type_row_size(t, n);
}
