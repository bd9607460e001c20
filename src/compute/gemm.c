/* gemm.c — plain-C parts of the GEMM path (see gemm.h): aux activation
 * rows and scratch sizes. The level-specific panels and micro-kernels for
 * quantized weights are in gemm_x86.inc (gemm_avx2.c, gemm_avx512.c); float
 * weights go through OpenBLAS (gemm_blas.c). */
#include <string.h>

#include "compute/gemm.h"
#include "tensor/blocks.h"

size_t onc_gemm_aux_row_size(onc_type wtype, int64_t n) {
    const int64_t kp = onc_gemm_kpad(n);
    size_t s;
    switch (wtype) {
    case ONC_TYPE_Q8_0:
    case ONC_TYPE_Q4_0: s = (size_t)kp + 8 * (size_t)(n / ONC_QK); break;
    case ONC_TYPE_Q4_K:
    case ONC_TYPE_Q4_K_R16:
    case ONC_TYPE_Q5_K: s = (size_t)kp + 20 * (size_t)(n / ONC_QK_K); break;
    case ONC_TYPE_Q6_K:
    case ONC_TYPE_Q6_K_R16: s = (size_t)kp + 68 * (size_t)(n / ONC_QK_K); break;
    case ONC_TYPE_F32:
    case ONC_TYPE_F16:
    case ONC_TYPE_BF16: s = 4 * (size_t)kp; break;
    default: return 0;
    }
    return (s + 63) & ~(size_t)63;
}

size_t onc_gemm_panel_size(int64_t n) {
    /* quantized: 16 lanes: codes Kp*16 + metadata <= 4 bytes per lane per 16
     * elements (Q6_K) + a 16x256-byte decoding tile; float types:
     * ONC_GEMM_BLAS_ROWS weight rows converted to f32 (gemm_blas.c) */
    const size_t kp = (size_t)onc_gemm_kpad(n);
    const size_t quant = kp * 16 * 4 + 16 * 256 * 4 + 256, blas = (size_t)ONC_GEMM_BLAS_ROWS * kp * 4;
    return quant > blas ? quant : blas;
}

void onc_gemm_aux_row(onc_type wtype, void *aux, const void *xq, int64_t n) {
    const int64_t kp = onc_gemm_kpad(n);
    int8_t *qs = aux;
    char *meta = (char *)aux + kp;
    switch (wtype) {
    case ONC_TYPE_Q8_0:
    case ONC_TYPE_Q4_0: {
        const onc_block_q8_0 *x = xq;
        const int64_t nb = n / ONC_QK;
        const int32_t off = wtype == ONC_TYPE_Q8_0 ? -128 : -8;
        int32_t *o = (int32_t *)meta;
        float *d = (float *)(meta + 4 * nb);
        for (int64_t b = 0; b < nb; b++) {
            memcpy(qs + ONC_QK * b, x[b].qs, ONC_QK);
            int32_t s = 0;
            for (int j = 0; j < ONC_QK; j++) s += x[b].qs[j];
            o[b] = off * s;
            d[b] = onc_f16_to_f32(x[b].d);
        }
        memset(qs + n, 0, (size_t)(kp - n));
        break;
    }
    case ONC_TYPE_Q4_K:
    case ONC_TYPE_Q4_K_R16:
    case ONC_TYPE_Q5_K:
    case ONC_TYPE_Q6_K:
    case ONC_TYPE_Q6_K_R16: {
        const onc_block_q8_K *x = xq;
        const int64_t nb = n / ONC_QK_K;
        float *d = (float *)meta;
        int32_t *o = (int32_t *)(meta + 4 * nb);
        for (int64_t b = 0; b < nb; b++) {
            memcpy(qs + ONC_QK_K * b, x[b].qs, ONC_QK_K);
            d[b] = x[b].d;
            if (wtype == ONC_TYPE_Q6_K || wtype == ONC_TYPE_Q6_K_R16) {
                for (int j = 0; j < 16; j++) o[16 * b + j] = -32 * x[b].bsums[j];
            } else {
                for (int p = 0; p < 4; p++) { /* 32-element sums (j, j+2), j = 4*(p/2) + p%2 */
                    const int j = 4 * (p / 2) + (p & 1);
                    const int s0 = x[b].bsums[2 * j] + x[b].bsums[2 * j + 1];
                    const int s1 = x[b].bsums[2 * j + 4] + x[b].bsums[2 * j + 5];
                    o[4 * b + p] = (int32_t)(((uint32_t)(uint16_t)(int16_t)s1 << 16) | (uint16_t)(int16_t)s0);
                }
            }
        }
        break;
    }
    case ONC_TYPE_F32: {
        float *f = aux;
        memcpy(f, xq, (size_t)n * 4);
        memset(f + n, 0, (size_t)(kp - n) * 4);
        break;
    }
    case ONC_TYPE_F16:
    case ONC_TYPE_BF16: {
        float *f = aux;
        onc_dequantize_row(wtype, xq, f, n);
        memset(f + n, 0, (size_t)(kp - n) * 4);
        break;
    }
    default: ONC_ASSERT(0 && "gemm: type without aux rows");
    }
}

void onc_gemm_aux_row_f32(onc_type wtype, void *aux, const float *x, int64_t n, void *tmp) {
    if (wtype == ONC_TYPE_F32) {
        onc_gemm_aux_row(wtype, aux, x, n);
        return;
    }
    onc_convert_activation_row(wtype, tmp, x, n);
    onc_gemm_aux_row(wtype, aux, tmp, n);
}
