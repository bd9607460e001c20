/* k4_avx512.h — private: the 6-bit scales and mins of 16 Q4_K/Q5_K blocks
 * at once, one block per zmm lane (ggml's get_scale_min_k4 done lane-wise),
 * shared by the GEMM panel decoder (gemm_avx512.c) and the 16-row kernels
 * (repack_avx512.c). Include only from files compiled with AVX-512 flags. */
#ifndef ONC_COMPUTE_K4_AVX512_H
#define ONC_COMPUTE_K4_AVX512_H

#include <immintrin.h>

/* u0..u2: the 12 scale bytes of each lane's block as 3 32-bit words. Out:
 * byte k of sc03 / sc47 = scale k / 4 + k; of mn03 / mn47 = min k / 4 + k. */
static inline void k4_unpack16(__m512i u0, __m512i u1, __m512i u2, __m512i *sc03, __m512i *sc47, __m512i *mn03,
                               __m512i *mn47) {
    const __m512i km1 = _mm512_set1_epi32(0x3f3f3f3f), km2 = _mm512_set1_epi32(0x0f0f0f0f),
                  km3 = _mm512_set1_epi32(0x03030303);
    *sc03 = _mm512_and_si512(u0, km1);
    *sc47 = _mm512_or_si512(_mm512_and_si512(u2, km2),
                            _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u0, 6), km3), 4));
    *mn03 = _mm512_and_si512(u1, km1);
    *mn47 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 4), km2),
                            _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u1, 6), km3), 4));
}

#endif
