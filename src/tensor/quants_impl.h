/* quants_impl.h — private: per-type reference (de)quantizers shared by
 * quants_q.c and quants_k.c (and usable by src/compute for activations). */
#ifndef ONC_TENSOR_QUANTS_IMPL_H
#define ONC_TENSOR_QUANTS_IMPL_H

#include <stdint.h>

/* All take n elements (multiple of the block size); source first, as
 * onc_quantize_row / onc_dequantize_row. */
void onc_quant_q8_0(const float *x, void *y, int64_t n);
void onc_quant_q8_K(const float *x, void *y, int64_t n);
void onc_quant_q4_K(const float *x, void *y, int64_t n);
void onc_quant_q5_K(const float *x, void *y, int64_t n);
void onc_quant_q6_K(const float *x, void *y, int64_t n);
void onc_dequant_q4_K(const void *x, float *y, int64_t n);
void onc_dequant_q5_K(const void *x, float *y, int64_t n);
void onc_dequant_q6_K(const void *x, float *y, int64_t n);

#endif
