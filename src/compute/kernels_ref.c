/* kernels_ref.c — plain-C reference dot products for every weight type
 * against its converted activation type (see oncolm/compute.h). They are
 * the definition the SIMD kernels are tested against. Float types
 * accumulate in double. Quantized types compute every integer sum exactly
 * (per block / sub-block), then combine with the float scales per block in
 * float, as ggml's generic kernels do. */
#include "compute/kernels.h"
#include "tensor/blocks.h"

static void dot_f32(float *s, const void *vw, const void *vx, int64_t n) {
    const float *w = vw, *x = vx;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)w[i] * x[i];
    *s = (float)sum;
}

static void dot_f16(float *s, const void *vw, const void *vx, int64_t n) {
    const uint16_t *w = vw, *x = vx;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)onc_f16_to_f32(w[i]) * onc_f16_to_f32(x[i]);
    *s = (float)sum;
}

static void dot_bf16(float *s, const void *vw, const void *vx, int64_t n) {
    const uint16_t *w = vw, *x = vx;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)onc_bf16_to_f32(w[i]) * onc_bf16_to_f32(x[i]);
    *s = (float)sum;
}

static void dot_q8_0(float *s, const void *vw, const void *vx, int64_t n) {
    const onc_block_q8_0 *w = vw, *x = vx;
    float sum = 0;
    for (int64_t b = 0; b < n / ONC_QK; b++) {
        int sumi = 0;
        for (int j = 0; j < ONC_QK; j++) sumi += w[b].qs[j] * x[b].qs[j];
        sum += (float)sumi * (onc_f16_to_f32(w[b].d) * onc_f16_to_f32(x[b].d));
    }
    *s = sum;
}

static void dot_q4_0(float *s, const void *vw, const void *vx, int64_t n) {
    const onc_block_q4_0 *w = vw;
    const onc_block_q8_0 *x = vx;
    float sum = 0;
    for (int64_t b = 0; b < n / ONC_QK; b++) {
        int sumi = 0;
        for (int j = 0; j < ONC_QK / 2; j++) {
            sumi += ((w[b].qs[j] & 0xF) - 8) * x[b].qs[j];
            sumi += ((w[b].qs[j] >> 4) - 8) * x[b].qs[j + ONC_QK / 2];
        }
        sum += (float)sumi * (onc_f16_to_f32(w[b].d) * onc_f16_to_f32(x[b].d));
    }
    *s = sum;
}

/* Q4_K/Q5_K: sum = d*Σ_j sc_j Σ q*y - dmin*Σ_j m_j Σ y (the Σ y from bsums) */
static void dot_q4_K(float *s, const void *vw, const void *vx, int64_t n) {
    const onc_block_q4_K *w = vw;
    const onc_block_q8_K *x = vx;
    float sum = 0;
    for (int64_t b = 0; b < n / ONC_QK_K; b++) {
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            onc_get_scale_min_k4(j, w[b].scales, &sc, &m);
            const uint8_t *q = w[b].qs + 32 * (j / 2);
            const int8_t *y = x[b].qs + 32 * j;
            const int shift = (j & 1) * 4;
            int si = 0;
            for (int l = 0; l < 32; l++) si += ((q[l] >> shift) & 0xF) * y[l];
            sumi += sc * si;
            summ += m * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        }
        const float d = onc_f16_to_f32(w[b].d) * x[b].d, dmin = onc_f16_to_f32(w[b].dmin) * x[b].d;
        sum += d * (float)sumi - dmin * (float)summ;
    }
    *s = sum;
}

static void dot_q5_K(float *s, const void *vw, const void *vx, int64_t n) {
    const onc_block_q5_K *w = vw;
    const onc_block_q8_K *x = vx;
    float sum = 0;
    for (int64_t b = 0; b < n / ONC_QK_K; b++) {
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            onc_get_scale_min_k4(j, w[b].scales, &sc, &m);
            const uint8_t *q = w[b].qs + 32 * (j / 2);
            const int8_t *y = x[b].qs + 32 * j;
            const int shift = (j & 1) * 4;
            int si = 0;
            for (int l = 0; l < 32; l++) {
                const int v = ((q[l] >> shift) & 0xF) | (((w[b].qh[l] >> j) & 1) << 4);
                si += v * y[l];
            }
            sumi += sc * si;
            summ += m * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        }
        const float d = onc_f16_to_f32(w[b].d) * x[b].d, dmin = onc_f16_to_f32(w[b].dmin) * x[b].d;
        sum += d * (float)sumi - dmin * (float)summ;
    }
    *s = sum;
}

static void dot_q6_K(float *s, const void *vw, const void *vx, int64_t n) {
    const onc_block_q6_K *w = vw;
    const onc_block_q8_K *x = vx;
    float sum = 0;
    for (int64_t b = 0; b < n / ONC_QK_K; b++) {
        int sumi = 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w[b].ql + 64 * h, *qh = w[b].qh + 32 * h;
            const int8_t *sc = w[b].scales + 8 * h, *y = x[b].qs + 128 * h;
            int part[8] = {0};
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                part[is + 0] += (((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32) * y[l];
                part[is + 2] += (((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32) * y[l + 32];
                part[is + 4] += (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32) * y[l + 64];
                part[is + 6] += (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32) * y[l + 96];
            }
            for (int k = 0; k < 8; k++) sumi += sc[k] * part[k];
        }
        sum += onc_f16_to_f32(w[b].d) * x[b].d * (float)sumi;
    }
    *s = sum;
}

void onc_kernels_fill_ref(onc_vec_dot_fn tbl[ONC_TYPE_COUNT]) {
    tbl[ONC_TYPE_F32] = dot_f32;
    tbl[ONC_TYPE_F16] = dot_f16;
    tbl[ONC_TYPE_BF16] = dot_bf16;
    tbl[ONC_TYPE_Q8_0] = dot_q8_0;
    tbl[ONC_TYPE_Q4_0] = dot_q4_0;
    tbl[ONC_TYPE_Q4_K] = dot_q4_K;
    tbl[ONC_TYPE_Q5_K] = dot_q5_K;
    tbl[ONC_TYPE_Q6_K] = dot_q6_K;
}
