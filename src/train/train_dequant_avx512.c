/* train_dequant_avx512.c — Q4_K and Q6_K row dequantization with AVX-512F
 * for the training kernels (train_dequant.h), with the same float
 * operations as the reference onc_dequant_q4_K / onc_dequant_q6_K (Q4_K:
 * (d sc) q - dmin m; Q6_K: (d sc) q; no FMA contraction under -std=c11),
 * so bit-identical. */
#include "train/train_dequant.h"

#if defined(ONC_HAVE_X86_SIMD)
#include <immintrin.h>

#include "tensor/blocks.h"

static inline void put16(float *y, __m128i q8, __m512 d, __m512 m) {
    const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q8));
    _mm512_storeu_ps(y, _mm512_sub_ps(_mm512_mul_ps(d, q), m));
}

void onc_train_dequant_q4_K_avx512(const void *vx, float *y, int64_t n) {
    const onc_block_q4_K *x = vx;
    const __m128i lo4 = _mm_set1_epi8(0x0F);
    for (int64_t b = 0; b < n / ONC_QK_K; b++) {
        const float d = onc_f16_to_f32(x[b].d), dmin = onc_f16_to_f32(x[b].dmin);
        const uint8_t *q = x[b].qs;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            uint8_t sc, m;
            onc_get_scale_min_k4(2 * c, x[b].scales, &sc, &m);
            const __m512 d1 = _mm512_set1_ps(d * sc), m1 = _mm512_set1_ps(dmin * m);
            onc_get_scale_min_k4(2 * c + 1, x[b].scales, &sc, &m);
            const __m512 d2 = _mm512_set1_ps(d * sc), m2 = _mm512_set1_ps(dmin * m);
            const __m128i a = _mm_loadu_si128((const __m128i *)q), bb = _mm_loadu_si128((const __m128i *)(q + 16));
            put16(y, _mm_and_si128(a, lo4), d1, m1);
            put16(y + 16, _mm_and_si128(bb, lo4), d1, m1);
            put16(y + 32, _mm_and_si128(_mm_srli_epi16(a, 4), lo4), d2, m2);
            put16(y + 48, _mm_and_si128(_mm_srli_epi16(bb, 4), lo4), d2, m2);
        }
    }
}

/* y = (d sc) q for 16 lanes of int32 codes q (already minus 32). */
static inline void put16s(float *y, __m512i q, float ds) {
    _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_set1_ps(ds), _mm512_cvtepi32_ps(q)));
}

void onc_train_dequant_q6_K_avx512(const void *vx, float *y, int64_t n) {
    const onc_block_q6_K *x = vx;
    const __m512i m4 = _mm512_set1_epi32(0xF), m3 = _mm512_set1_epi32(3), k32 = _mm512_set1_epi32(32);
    for (int64_t b = 0; b < n / ONC_QK_K; b++) {
        const float d = onc_f16_to_f32(x[b].d);
        const uint8_t *ql = x[b].ql, *qh = x[b].qh;
        const int8_t *sc = x[b].scales;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128) {
            for (int l = 0; l < 32; l += 16) {
                const int is = l / 16;
                const __m512i a = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(ql + l)));
                const __m512i c = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(ql + l + 32)));
                const __m512i hh = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qh + l)));
                const __m512i q1 = _mm512_sub_epi32(
                    _mm512_or_si512(_mm512_and_si512(a, m4), _mm512_slli_epi32(_mm512_and_si512(hh, m3), 4)), k32);
                const __m512i q2 = _mm512_sub_epi32(
                    _mm512_or_si512(_mm512_and_si512(c, m4),
                                    _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hh, 2), m3), 4)),
                    k32);
                const __m512i q3 = _mm512_sub_epi32(
                    _mm512_or_si512(_mm512_srli_epi32(a, 4),
                                    _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hh, 4), m3), 4)),
                    k32);
                const __m512i q4 = _mm512_sub_epi32(
                    _mm512_or_si512(_mm512_srli_epi32(c, 4),
                                    _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hh, 6), m3), 4)),
                    k32);
                put16s(y + l, q1, d * sc[is]);
                put16s(y + l + 32, q2, d * sc[is + 2]);
                put16s(y + l + 64, q3, d * sc[is + 4]);
                put16s(y + l + 96, q4, d * sc[is + 6]);
            }
        }
    }
}
#else
void onc_train_dequant_q4_K_avx512(const void *vx, float *y, int64_t n) { onc_dequantize_row(ONC_TYPE_Q4_K, vx, y, n); }
void onc_train_dequant_q6_K_avx512(const void *vx, float *y, int64_t n) { onc_dequantize_row(ONC_TYPE_Q6_K, vx, y, n); }
#endif
