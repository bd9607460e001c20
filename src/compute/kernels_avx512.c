/* kernels_avx512.c — AVX-512 dot products (see oncolm/compute.h): F32, F16
 * and BF16 with four 16-wide FMA accumulators (BF16 with vdpbf16ps when the
 * CPU has AVX512_BF16: bf16*bf16 products are exact in f32, only the
 * summation order differs; denormal bf16 inputs are treated as zero), and
 * the integer kernels of kernels_x86_int.inc with AVX-512 VNNI
 * (vpdpbusd/vpdpwssd on 256-bit registers, which fuse the multiply and the
 * accumulation of vpmaddubsw+vpmaddwd+vpaddd). Never emits AMX. */
#include "compute/kernels.h"

#if defined(ONC_HAVE_X86_SIMD)
#include <immintrin.h>
#include <string.h>

#include "tensor/blocks.h"

static inline float onc_f16_to_f32_fast(uint16_t h) { return _cvtsh_ss(h); }

#define KFN(name) name##_avx512
#define DOT_U8S8(acc, u, s) ((acc) = _mm256_dpbusd_epi32((acc), (u), (s)))
#define DOT_I16(acc, a, b) ((acc) = _mm256_dpwssd_epi32((acc), (a), (b)))
#include "compute/kernels_x86_int.inc"

static inline __m512 load_f16x16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}
static inline __m512 load_bf16x16(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

static void dot_f32_avx512(float *s, const void *vw, const void *vx, int64_t n) {
    const float *w = vw, *x = vx;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 32), _mm512_loadu_ps(x + i + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 48), _mm512_loadu_ps(x + i + 48), a3);
    }
    for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
    if (i < n) { /* masked tail */
        const __mmask16 k = (__mmask16)((1u << (n - i)) - 1u);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, w + i), _mm512_maskz_loadu_ps(k, x + i), a1);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

static void dot_f16_avx512(float *s, const void *vw, const void *vx, int64_t n) {
    const uint16_t *w = vw, *x = vx;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(load_f16x16(w + i), load_f16x16(x + i), a0);
        a1 = _mm512_fmadd_ps(load_f16x16(w + i + 16), load_f16x16(x + i + 16), a1);
        a2 = _mm512_fmadd_ps(load_f16x16(w + i + 32), load_f16x16(x + i + 32), a2);
        a3 = _mm512_fmadd_ps(load_f16x16(w + i + 48), load_f16x16(x + i + 48), a3);
    }
    for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(load_f16x16(w + i), load_f16x16(x + i), a0);
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    for (; i < n; i++) sum += _cvtsh_ss(w[i]) * _cvtsh_ss(x[i]);
    *s = sum;
}

static void dot_bf16_avx512(float *s, const void *vw, const void *vx, int64_t n) {
    const uint16_t *w = vw, *x = vx;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(load_bf16x16(w + i), load_bf16x16(x + i), a0);
        a1 = _mm512_fmadd_ps(load_bf16x16(w + i + 16), load_bf16x16(x + i + 16), a1);
        a2 = _mm512_fmadd_ps(load_bf16x16(w + i + 32), load_bf16x16(x + i + 32), a2);
        a3 = _mm512_fmadd_ps(load_bf16x16(w + i + 48), load_bf16x16(x + i + 48), a3);
    }
    for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(load_bf16x16(w + i), load_bf16x16(x + i), a0);
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    for (; i < n; i++) sum += onc_bf16_to_f32(w[i]) * onc_bf16_to_f32(x[i]);
    *s = sum;
}

static void dot_bf16_avx512bf16(float *s, const void *vw, const void *vx, int64_t n) {
    const uint16_t *w = vw, *x = vx;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
#define LBH(p) ((__m512bh)_mm512_loadu_si512((const void *)(p)))
    for (; i + 128 <= n; i += 128) {
        a0 = _mm512_dpbf16_ps(a0, LBH(w + i), LBH(x + i));
        a1 = _mm512_dpbf16_ps(a1, LBH(w + i + 32), LBH(x + i + 32));
        a2 = _mm512_dpbf16_ps(a2, LBH(w + i + 64), LBH(x + i + 64));
        a3 = _mm512_dpbf16_ps(a3, LBH(w + i + 96), LBH(x + i + 96));
    }
    for (; i + 32 <= n; i += 32) a0 = _mm512_dpbf16_ps(a0, LBH(w + i), LBH(x + i));
#undef LBH
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    for (; i < n; i++) sum += onc_bf16_to_f32(w[i]) * onc_bf16_to_f32(x[i]);
    *s = sum;
}

void onc_kernels_fill_avx512(onc_vec_dot_fn tbl[ONC_TYPE_COUNT], onc_vec_dot4_fn tbl4[ONC_TYPE_COUNT], bool have_bf16) {
    tbl[ONC_TYPE_F32] = dot_f32_avx512;
    tbl[ONC_TYPE_F16] = dot_f16_avx512;
    tbl[ONC_TYPE_BF16] = have_bf16 ? dot_bf16_avx512bf16 : dot_bf16_avx512;
    tbl[ONC_TYPE_Q8_0] = dot_q8_0_avx512;
    tbl[ONC_TYPE_Q4_0] = dot_q4_0_avx512;
    tbl[ONC_TYPE_Q4_K] = dot_q4_K_avx512;
    tbl[ONC_TYPE_Q5_K] = dot_q5_K_avx512;
    tbl[ONC_TYPE_Q6_K] = dot_q6_K_avx512;
    tbl4[ONC_TYPE_Q8_0] = dot4_q8_0_avx512;
    tbl4[ONC_TYPE_Q4_0] = dot4_q4_0_avx512;
    tbl4[ONC_TYPE_Q4_K] = dot4_q4_K_avx512;
    tbl4[ONC_TYPE_Q5_K] = dot4_q5_K_avx512;
    tbl4[ONC_TYPE_Q6_K] = dot4_q6_K_avx512;
}

#else
void onc_kernels_fill_avx512(onc_vec_dot_fn tbl[ONC_TYPE_COUNT], onc_vec_dot4_fn tbl4[ONC_TYPE_COUNT], bool have_bf16) {
    (void)tbl;
    (void)tbl4;
    (void)have_bf16;
}
#endif
