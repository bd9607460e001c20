/* convert_simd.h — private: SIMD row conversions used by compute.c for
 * activation rows. Each equals the scalar reference (oncolm/types.h) bit
 * for bit; callers check the SIMD level first. */
#ifndef ONC_COMPUTE_CONVERT_SIMD_H
#define ONC_COMPUTE_CONVERT_SIMD_H

#include <stdint.h>

/* y[i] = onc_f32_to_f16(x[i]) (round to nearest even) with F16C. */
void onc_f32_to_f16_row_avx2(const float *x, uint16_t *y, int64_t n);

#endif
