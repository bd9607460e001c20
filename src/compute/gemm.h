/* gemm.h — private: register-blocked GEMM for many activation rows
 * (prompt processing), used by compute.c when m >= ONC_GEMM_MIN_M_<level>.
 *
 * Scheme (AVX2 and AVX-512 levels; the scalar level has no GEMM path):
 *  1. Each activation row, already converted to the weight type's vec_dot
 *     type (Q8_0 / Q8_K / F16 / BF16 / F32), is rewritten once per call into
 *     an "aux" row (onc_gemm_aux_row, plain C): its int8 codes contiguous
 *     (quantized types) plus per-block metadata (scale, block sums times the
 *     weight type's code offset, bsum pairs for the K-quant mins), or its
 *     values as f32 (float types: the f16/bf16-rounded values, so results
 *     are those of the converted activation).
 *  Float weights (F32, F16, BF16) then go through OpenBLAS sgemm
 *  (gemm_blas.c) at both levels; quantized weights through our kernels
 *  (gemm_x86.inc):
 *  2. A thread takes GR consecutive weight rows (a "panel": GR = 16 for
 *     AVX-512, 8 for AVX2), decodes them once into a scratch buffer with the
 *     rows interleaved per 4 elements: group g = elements 4g..4g+3 holds
 *     GR lanes of 4 unsigned bytes, plus per-lane sub-block scales. Rows
 *     past the range repeat the last row (results dropped).
 *  3. Tiles of GC activation rows run against the panel with GC vector
 *     accumulators of GR lanes (one lane per weight row): vpdpbusd of a
 *     weight group vector with the broadcast 4 activation bytes (VNNI; AVX2
 *     uses vpmaddubsw+vpmaddwd, whose int16 pair sums cannot saturate since
 *     weight codes are <= 63 there), per-sub-block scaling in f32.
 * Integer sums per sub-block are exact; results differ from the reference
 * kernels only by float rounding/summation order (sub-block scales are
 * applied in f32 instead of summing scale*isum in int32 per block).
 * The weights are never copied beyond one panel per thread (mmapped models
 * keep resident memory ~ file size). */
#ifndef ONC_COMPUTE_GEMM_H
#define ONC_COMPUTE_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/compute.h"

/* Smallest number of activation rows for which the GEMM path is used, per
 * level (measured break-even against the 4-row kernels on Zen 4: the
 * AVX-512 panel decoder transposes 16 rows per instruction, the AVX2 one
 * decodes row by row). Below it, the 1-/4-row kernels run. */
#define ONC_GEMM_MIN_M_AVX512 4
#define ONC_GEMM_MIN_M_AVX2 12

/* Y[i*ldy + r] for i in [0, m), r in [r0, r1) from aux rows (aux_stride
 * bytes apart) and weight rows w + r*w_stride; n elements per row.
 * `panel` is onc_gemm_panel_size(n) bytes of per-thread scratch, 64-byte
 * aligned. */
typedef void (*onc_gemm_fn)(float *y, int64_t ldy, const void *w, size_t w_stride, const void *aux,
                            size_t aux_stride, int64_t n, int64_t m, int64_t r0, int64_t r1, void *panel);

/* Bytes of one aux row (multiple of 64), 0 when wtype has no GEMM. */
size_t onc_gemm_aux_row_size(onc_type wtype, int64_t n);
/* Build the aux row from a converted activation row xq (vec_dot type). */
void onc_gemm_aux_row(onc_type wtype, void *aux, const void *xq, int64_t n);
/* Build the aux row straight from f32 activations (converting as
 * onc_convert_activation_row would); tmp holds onc_activation_row_size. */
void onc_gemm_aux_row_f32(onc_type wtype, void *aux, const float *x, int64_t n, void *tmp);
/* Per-thread panel scratch bytes (multiple of 64) for rows of n elements. */
size_t onc_gemm_panel_size(int64_t n);

/* Fill tbl[type] for the quantized types a level implements (empty
 * without ONC_HAVE_X86_SIMD). */
void onc_gemm_fill_avx2(onc_gemm_fn tbl[ONC_TYPE_COUNT]);
void onc_gemm_fill_avx512(onc_gemm_fn tbl[ONC_TYPE_COUNT]);
/* Float weights (F32, F16, BF16) through OpenBLAS sgemm (gemm_blas.c);
 * F16/BF16 rows are converted ONC_GEMM_BLAS_ROWS at a time into the panel. */
#define ONC_GEMM_BLAS_ROWS 64
void onc_gemm_fill_blas(onc_gemm_fn tbl[ONC_TYPE_COUNT]);
/* Pin OpenBLAS to one thread, once per process (idempotent, thread-safe):
 * every sgemm caller runs inside one of our pool's threads, so OpenBLAS's
 * own pool must not compete with it. Call before the first cblas_* call. */
void onc_blas_single_thread(void);

/* Aux row layout (Kp = n rounded up to 256), shared with gemm_x86.inc:
 *  quantized: int8 qs[Kp] (zero padded), then at byte Kp:
 *    Q8_0/Q4_0: int32 off[n/32] (-128 or -8 times the block's code sum),
 *               float d[n/32]
 *    Q4_K/Q5_K: float d[n/256], int32 mp[n/256][4] (int16 pairs of the
 *               32-element sums: (s0,s2) (s1,s3) (s4,s6) (s5,s7))
 *    Q6_K:      float d[n/256], int32 off[n/256][16] (-32 * bsums)
 *  F32/F16/BF16: float x[n]. */
static inline int64_t onc_gemm_kpad(int64_t n) { return (n + 255) / 256 * 256; }

#endif
