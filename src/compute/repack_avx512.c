/* repack_avx512.c — the AVX-512 matrix-vector kernels for Q4_K_R16 and
 * Q6_K_R16 weights (layouts in compute/repack.c): one zmm lane per weight
 * row, 16 rows per call. Q4_K_R16: Per block of 256 columns: the 16 rows' scales and mins are decoded
 * from three vectors (ggml's get_scale_min_k4 done lane-wise); each code
 * vector holds 4 columns of 16 rows, low nibbles for sub-block 2p and high
 * nibbles for 2p + 1, and is multiplied against a broadcast of the 4
 * matching activation bytes with vpdpbusd. Integer sums per block are exact
 * (|sum| <= 8 * 63 * 32 * 15 * 128 < 2^31); the float combination is that
 * of the Q4_K kernels (d * sum - dmin * mins, times the activation scale),
 * so results equal the row kernels up to float rounding. Each block
 * prefetches the next (prefetches never fault, also past the end). Never
 * emits AMX. */
#include "compute/kernels.h"

#if defined(ONC_HAVE_X86_SIMD)
#include <immintrin.h>
#include <string.h>

#include "compute/k4_avx512.h"
#include "tensor/blocks.h"

#define V(i) _mm512_loadu_si512((const void *)(w + 64 * (i)))

static inline int32_t ld32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void mv16_q4_K_r16_avx512(float *y, const void *vw, const void *vx, int64_t n) {
    const uint8_t *w = vw;
    const onc_block_q8_K *x = vx;
    const __m512i m4 = _mm512_set1_epi8(0x0F), b8 = _mm512_set1_epi32(0xFF), m8 = _mm512_set1_epi32(0x00FF00FF);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / ONC_QK_K; b++, w += 16 * sizeof(onc_block_q4_K)) {
        /* the next block: without this software prefetch the kernel
         * streams at ~20 GB/s on Zen 4 (the hardware prefetchers lag),
         * with it ~35 GB/s, the core's read bandwidth */
        for (int i = 0; i < 36; i++) _mm_prefetch((const char *)w + 16 * sizeof(onc_block_q4_K) + 64 * i, _MM_HINT_T0);
        const __m512i dw = V(0), u0 = V(1), u1 = V(2), u2 = V(3);
        __m512i sc03, sc47, mn03, mn47; /* bytes k: scales k / 4 + k, mins k / 4 + k */
        k4_unpack16(u0, u1, u2, &sc03, &sc47, &mn03, &mn47);
        const int8_t *q8 = x[b].qs;
        __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++) {
            __m512i al = _mm512_setzero_si512(), ah = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) {
                const __m512i wv = V(4 + 8 * p + k);
                al = _mm512_dpbusd_epi32(al, _mm512_and_si512(wv, m4), _mm512_set1_epi32(ld32(q8 + 64 * p + 4 * k)));
                ah = _mm512_dpbusd_epi32(ah, _mm512_and_si512(_mm512_srli_epi16(wv, 4), m4),
                                         _mm512_set1_epi32(ld32(q8 + 64 * p + 32 + 4 * k)));
            }
            const __m512i sv = p < 2 ? sc03 : sc47; /* sub-blocks 2p, 2p+1 = bytes 2(p%2), 2(p%2)+1 */
            const int sh = 16 * (p % 2);
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(al, _mm512_and_si512(_mm512_srli_epi32(sv, sh), b8)));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(ah, _mm512_and_si512(_mm512_srli_epi32(sv, sh + 8), b8)));
        }
        /* mins: int16 pairs (m0,m2) (m1,m3) (m4,m6) (m5,m7) against the
         * activation's 32-element sums in the same pairs */
        const int16_t *bs = x[b].bsums;
        int32_t s32[8];
        for (int j = 0; j < 8; j++) s32[j] = bs[2 * j] + bs[2 * j + 1];
#define PAIR(a, c) _mm512_set1_epi32((int32_t)(((uint32_t)s32[a] & 0xFFFFu) | ((uint32_t)s32[c] << 16)))
        __m512i im = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_and_si512(mn03, m8), PAIR(0, 2));
        im = _mm512_dpwssd_epi32(im, _mm512_and_si512(_mm512_srli_epi32(mn03, 8), m8), PAIR(1, 3));
        im = _mm512_dpwssd_epi32(im, _mm512_and_si512(mn47, m8), PAIR(4, 6));
        im = _mm512_dpwssd_epi32(im, _mm512_and_si512(_mm512_srli_epi32(mn47, 8), m8), PAIR(5, 7));
#undef PAIR
        const __m512 dx = _mm512_set1_ps(x[b].d);
        const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_and_si512(dw, _mm512_set1_epi32(0xFFFF))));
        const __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dw, 16)));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, dx), acc);
        acc = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(im), _mm512_mul_ps(dmin, dx), acc);
    }
    _mm512_storeu_ps(y, acc);
}

/* Q6_K_R16: per block, half h and quarter t, the 6-bit codes of columns
 * 128h + 32t + 4k.. for 16 rows are rebuilt from one ql and one qh vector
 * (ggml's dequantize_row_q6_K, lane-wise); each 16-column sub-block starts
 * from -32 x its activation sum (the codes' offset) and is scaled by its
 * signed 8-bit scale in int32 (|sum| < 16 * 128 * (16*63*128 + 32*2048)
 * < 2^31), as the Q6_K row kernels. */
static void mv16_q6_K_r16_avx512(float *y, const void *vw, const void *vx, int64_t n) {
    const uint8_t *w = vw;
    const onc_block_q8_K *x = vx;
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x03);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / ONC_QK_K; b++, w += 16 * sizeof(onc_block_q6_K)) {
        /* two blocks ahead: this kernel does more work per byte */
        for (int i = 0; i < 53; i++) _mm_prefetch((const char *)w + 2 * 16 * sizeof(onc_block_q6_K) + 64 * i, _MM_HINT_T0);
        const int8_t *q8 = x[b].qs;
        __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++)
#pragma GCC unroll 4
            for (int t = 0; t < 4; t++)
#pragma GCC unroll 2
                for (int u = 0; u < 2; u++) {
                    const int s = 8 * h + 2 * t + u; /* sub-block */
                    __m512i is = _mm512_set1_epi32(-32 * (int32_t)x[b].bsums[s]);
#pragma GCC unroll 4
                    for (int kk = 0; kk < 4; kk++) {
                        const int k = 4 * u + kk;
                        const __m512i ab = V(16 * h + 8 * (t & 1) + k), hb = V(32 + 8 * h + k);
                        const __m512i lo = t < 2 ? _mm512_and_si512(ab, m4) : _mm512_and_si512(_mm512_srli_epi32(ab, 4), m4);
                        const __m512i hi = _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, 2 * t), m2), 4);
                        is = _mm512_dpbusd_epi32(is, _mm512_or_si512(lo, hi),
                                                 _mm512_set1_epi32(ld32(q8 + 128 * h + 32 * t + 4 * k)));
                    }
                    const __m512i sc = _mm512_srai_epi32(_mm512_slli_epi32(V(48 + s / 4), 24 - 8 * (s % 4)), 24);
                    isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(is, sc));
                }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + 52 * 64)));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, _mm512_set1_ps(x[b].d)), acc);
    }
    _mm512_storeu_ps(y, acc);
}
#undef V

void onc_mv16_fill_avx512(onc_matvec16_fn tbl[ONC_SIMD_COUNT][ONC_TYPE_COUNT]) {
    tbl[ONC_SIMD_AVX512][ONC_TYPE_Q4_K_R16] = mv16_q4_K_r16_avx512;
    tbl[ONC_SIMD_AVX512][ONC_TYPE_Q6_K_R16] = mv16_q6_K_r16_avx512;
}

#else
void onc_mv16_fill_avx512(onc_matvec16_fn tbl[ONC_SIMD_COUNT][ONC_TYPE_COUNT]) { (void)tbl; }
#endif
