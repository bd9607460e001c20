/* convert_avx2.c — F32 -> F16 rows with F16C (see convert_simd.h). vcvtps2ph
 * with round-to-nearest-even gives the same bits as onc_f32_to_f16 for every
 * finite value, infinities and NaNs (quieted, payload kept, as the scalar
 * code), which test_kernels checks over edge values. */
#include "compute/convert_simd.h"
#include "oncolm/types.h"

#if defined(ONC_HAVE_X86_SIMD)
#include <immintrin.h>

void onc_f32_to_f16_row_avx2(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(y + i), h);
    }
    for (; i < n; i++) y[i] = onc_f32_to_f16(x[i]);
}
#else
void onc_f32_to_f16_row_avx2(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = onc_f32_to_f16(x[i]);
}
#endif
