/* train_dequant.h — private: fast row dequantization for the training
 * kernels (train_ops.c), bit-identical to onc_dequantize_row. */
#ifndef ONC_TRAIN_DEQUANT_H
#define ONC_TRAIN_DEQUANT_H

#include <stdint.h>

#include "oncolm/types.h"

typedef void (*onc_train_dequant_fn)(const void *src, float *dst, int64_t n);

/* The SIMD row dequantizer for type t at the current SIMD level
 * (onc_simd_level_get), or NULL (then use onc_dequantize_row). AVX-512:
 * Q4_K and Q6_K. */
onc_train_dequant_fn onc_train_dequant_get(onc_type t);

/* AVX-512F rows (n a multiple of 256); only where the CPU has AVX-512. */
void onc_train_dequant_q4_K_avx512(const void *src, float *dst, int64_t n);
void onc_train_dequant_q6_K_avx512(const void *src, float *dst, int64_t n);

#endif
