/* enc_model_avx512.c — the exact-erf GELU of onc_enc_model with AVX-512F
 * (declared in enc_model_impl.h). libm's erff/expf are scalar calls and
 * took ~5 % of a BERT-base training step (forward, the backward's
 * recomputation and the derivative); this does 16 elements per iteration.
 *
 * For z = |x| / sqrt 2, t = 1 / (1 + p z) and e = exp(-x^2 / 2):
 *   q = (a1 t + a2 t^2 + a3 t^3 + a4 t^4 + a5 t^5) e = erfc(z)  (A&S 7.1.26)
 *   Phi(x) = 1 - q/2 (x >= 0), q/2 (x < 0);  gelu = x Phi;
 *   gelu' = Phi + x e / sqrt(2 pi).
 * exp by 2^k exp(r), |r| <= ln2/2, Cephes' expf polynomial, scalef. Every
 * element is computed alone (masked tails), so the result does not depend
 * on how the caller splits the range between threads. */
#include "train/enc_model_impl.h"

#if defined(ONC_HAVE_X86_SIMD)
#include <immintrin.h>

static inline __m512 exp_neg(__m512 a) { /* a <= 0 */
    a = _mm512_max_ps(a, _mm512_set1_ps(-87.0f));
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(a, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), a);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(y, k);
}

static inline void gelu16(__m512 x, __m512 *y, __m512 *g) {
    const __m512 ax = _mm512_abs_ps(x);
    const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f),
                                   _mm512_fmadd_ps(ax, _mm512_set1_ps(0.3275911f * 0.70710678118654752f),
                                                   _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    p = _mm512_mul_ps(p, t);
    const __m512 e = exp_neg(_mm512_mul_ps(_mm512_mul_ps(x, x), _mm512_set1_ps(-0.5f)));
    const __m512 hq = _mm512_mul_ps(_mm512_mul_ps(p, e), _mm512_set1_ps(0.5f)); /* erfc(z) / 2 */
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 phi = _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(1.0f), hq), hq);
    *y = _mm512_mul_ps(x, phi);
    if (g) *g = _mm512_fmadd_ps(_mm512_mul_ps(x, e), _mm512_set1_ps(0.39894228040143268f), phi);
}

void enc_gelu_avx512(float *y, float *g, const float *x, int64_t n) {
    int64_t i = 0;
    __m512 vy, vg;
    for (; i + 16 <= n; i += 16) {
        gelu16(_mm512_loadu_ps(x + i), &vy, g ? &vg : NULL);
        _mm512_storeu_ps(y + i, vy);
        if (g) _mm512_storeu_ps(g + i, vg);
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        gelu16(_mm512_maskz_loadu_ps(m, x + i), &vy, g ? &vg : NULL);
        _mm512_mask_storeu_ps(y + i, m, vy);
        if (g) _mm512_mask_storeu_ps(g + i, m, vg);
    }
}
#endif
