/* gemm_avx2.c — the GEMM path (gemm.h) with AVX2/FMA/F16C: panels of 8
 * weight rows (one ymm lane per row), tiles of 4 activation rows; u8*s8
 * sums with vpmaddubsw+vpmaddwd (weight codes <= 63, so the int16 pair sums
 * cannot saturate; Q8_0, whose biased codes reach 255, is not done here and
 * keeps the 4-row kernels). */
#include "compute/gemm.h"

#if defined(ONC_HAVE_X86_SIMD)
#include <immintrin.h>
#include <string.h>

#include "tensor/blocks.h"

#define GFN(name) name##_avx2
#define GR 8
#define GC 4
#define VI __m256i
#define VF __m256
#define VI_LOAD(p) _mm256_load_si256((const __m256i *)(p))
#define VI_SET1(v) _mm256_set1_epi32(v)
#define VI_ZERO() _mm256_setzero_si256()
#define VI_DPBUSD(acc, u, s) \
    _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#define VI_DPWSSD(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#define VF_LOAD(p) _mm256_load_ps((const float *)(p))
#define VF_SET1(f) _mm256_set1_ps(f)
#define VF_ZERO() _mm256_setzero_ps()
#define VF_CVT(v) _mm256_cvtepi32_ps(v)
#define VF_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VF_FNMA(a, b, c) _mm256_fnmadd_ps((a), (b), (c))
#define VF_MUL(a, b) _mm256_mul_ps((a), (b))
#define VF_STORE(p, v) _mm256_store_ps((p), (v))

/* 8x8 transposes of dwords: dst[(g*8 + r)*4] = tmp[r*1024 + 4g]. */
static void transpose_avx2(const uint8_t *tmp, uint8_t *dst, int ngroups) {
    for (int t = 0; t < ngroups / 8; t++) {
        __m256i r[8], a[8], b[8];
        for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_si256((const __m256i *)(tmp + i * 1024 + 32 * t));
        for (int i = 0; i < 4; i++) {
            a[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
            a[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
        }
        for (int i = 0; i < 2; i++) {
            b[4 * i + 0] = _mm256_unpacklo_epi64(a[4 * i], a[4 * i + 2]);
            b[4 * i + 1] = _mm256_unpackhi_epi64(a[4 * i], a[4 * i + 2]);
            b[4 * i + 2] = _mm256_unpacklo_epi64(a[4 * i + 1], a[4 * i + 3]);
            b[4 * i + 3] = _mm256_unpackhi_epi64(a[4 * i + 1], a[4 * i + 3]);
        }
        uint8_t *o = dst + (size_t)t * 8 * 32;
        for (int s = 0; s < 4; s++) {
            _mm256_store_si256((__m256i *)(o + s * 32), _mm256_permute2x128_si256(b[s], b[4 + s], 0x20));
            _mm256_store_si256((__m256i *)(o + (4 + s) * 32), _mm256_permute2x128_si256(b[s], b[4 + s], 0x31));
        }
    }
}

#include "compute/gemm_x86.inc"

void onc_gemm_fill_avx2(onc_gemm_fn tbl[ONC_TYPE_COUNT]) {
    tbl[ONC_TYPE_Q4_0] = gemm_q4_0_avx2;
    tbl[ONC_TYPE_Q4_K] = gemm_q4_K_avx2;
    tbl[ONC_TYPE_Q5_K] = gemm_q5_K_avx2;
    tbl[ONC_TYPE_Q6_K] = gemm_q6_K_avx2;
    (void)gemm_q8_0_avx2; /* biased Q8_0 codes would saturate vpmaddubsw */
}

#else
void onc_gemm_fill_avx2(onc_gemm_fn tbl[ONC_TYPE_COUNT]) { (void)tbl; }
#endif
