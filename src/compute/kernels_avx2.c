/* kernels_avx2.c — AVX2/FMA/F16C dot products (see oncolm/compute.h):
 * F32, F16 (F16C conversion), BF16 (shift into f32) with four 8-wide FMA
 * accumulators, and the integer kernels of kernels_x86_int.inc with
 * vpmaddubsw/vpmaddwd. Compiled with -mavx2 -mfma -mf16c only; called only
 * after cpu_features.c has checked the CPU. */
#include "compute/kernels.h"

#if defined(ONC_HAVE_X86_SIMD)
#include <immintrin.h>
#include <string.h>

#include "tensor/blocks.h"

static inline float onc_f16_to_f32_fast(uint16_t h) { return _cvtsh_ss(h); }

#define KFN(name) name##_avx2
#define DOT_U8S8(acc, u, s) \
    ((acc) = _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1))))
#define DOT_I16(acc, a, b) ((acc) = _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b))))
#include "compute/kernels_x86_int.inc"

static inline __m256 load_f16x8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline __m256 load_bf16x8(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

static void dot_f32_avx2(float *s, const void *vw, const void *vx, int64_t n) {
    const float *w = vw, *x = vx;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
    float sum = hsum_ps_avx2(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += w[i] * x[i];
    *s = sum;
}

static void dot_f16_avx2(float *s, const void *vw, const void *vx, int64_t n) {
    const uint16_t *w = vw, *x = vx;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(load_f16x8(w + i), load_f16x8(x + i), a0);
        a1 = _mm256_fmadd_ps(load_f16x8(w + i + 8), load_f16x8(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(load_f16x8(w + i + 16), load_f16x8(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(load_f16x8(w + i + 24), load_f16x8(x + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_f16x8(w + i), load_f16x8(x + i), a0);
    float sum = hsum_ps_avx2(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += _cvtsh_ss(w[i]) * _cvtsh_ss(x[i]);
    *s = sum;
}

static void dot_bf16_avx2(float *s, const void *vw, const void *vx, int64_t n) {
    const uint16_t *w = vw, *x = vx;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(load_bf16x8(w + i), load_bf16x8(x + i), a0);
        a1 = _mm256_fmadd_ps(load_bf16x8(w + i + 8), load_bf16x8(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(load_bf16x8(w + i + 16), load_bf16x8(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(load_bf16x8(w + i + 24), load_bf16x8(x + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_bf16x8(w + i), load_bf16x8(x + i), a0);
    float sum = hsum_ps_avx2(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += onc_bf16_to_f32(w[i]) * onc_bf16_to_f32(x[i]);
    *s = sum;
}

void onc_kernels_fill_avx2(onc_vec_dot_fn tbl[ONC_TYPE_COUNT], onc_vec_dot4_fn tbl4[ONC_TYPE_COUNT]) {
    tbl[ONC_TYPE_F32] = dot_f32_avx2;
    tbl[ONC_TYPE_F16] = dot_f16_avx2;
    tbl[ONC_TYPE_BF16] = dot_bf16_avx2;
    tbl[ONC_TYPE_Q8_0] = dot_q8_0_avx2;
    tbl[ONC_TYPE_Q4_0] = dot_q4_0_avx2;
    tbl[ONC_TYPE_Q4_K] = dot_q4_K_avx2;
    tbl[ONC_TYPE_Q5_K] = dot_q5_K_avx2;
    tbl[ONC_TYPE_Q6_K] = dot_q6_K_avx2;
    tbl4[ONC_TYPE_Q8_0] = dot4_q8_0_avx2;
    tbl4[ONC_TYPE_Q4_0] = dot4_q4_0_avx2;
    tbl4[ONC_TYPE_Q4_K] = dot4_q4_K_avx2;
    tbl4[ONC_TYPE_Q5_K] = dot4_q5_K_avx2;
    tbl4[ONC_TYPE_Q6_K] = dot4_q6_K_avx2;
}

#else
void onc_kernels_fill_avx2(onc_vec_dot_fn tbl[ONC_TYPE_COUNT], onc_vec_dot4_fn tbl4[ONC_TYPE_COUNT]) { (void)tbl; }
#endif
