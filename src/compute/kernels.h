/* kernels.h — private: per-SIMD-level tables of dot-product kernels. Each
 * fill function stores its kernels into tbl[type] for the weight types it
 * implements and leaves other entries alone, so levels are layered:
 * reference first, then AVX2, then AVX-512 (see compute.c). */
#ifndef ONC_COMPUTE_KERNELS_H
#define ONC_COMPUTE_KERNELS_H

#include <stdbool.h>

#include "oncolm/compute.h"

/* One weight row against 4 activation rows: s[k*ss] = dot(w, x_k) with x_k
 * at byte offset k*xs from x (k = 0..3). Optional per type and level (NULL:
 * the driver calls the 1-row kernel 4 times). Must give the same values as
 * 4 calls of the level's 1-row kernel. */
typedef void (*onc_vec_dot4_fn)(float *s, size_t ss, const void *w, const void *x, size_t xs, int64_t n);

void onc_kernels_fill_ref(onc_vec_dot_fn tbl[ONC_TYPE_COUNT]);
/* These two are empty when built without ONC_HAVE_X86_SIMD. */
void onc_kernels_fill_avx2(onc_vec_dot_fn tbl[ONC_TYPE_COUNT], onc_vec_dot4_fn tbl4[ONC_TYPE_COUNT]);
void onc_kernels_fill_avx512(onc_vec_dot_fn tbl[ONC_TYPE_COUNT], onc_vec_dot4_fn tbl4[ONC_TYPE_COUNT], bool have_bf16);

/* Repacked weights (compute/repack.c): y[r] = dot(row r of one 16-row
 * group of a Q4_K_R16 / Q6_K_R16 weight starting at w, x), r = 0..15. */
typedef void (*onc_matvec16_fn)(float *y, const void *w, const void *x, int64_t n);
/* The 16-row layouts (the memory-only types). */
static inline bool onc_is_r16(onc_type t) { return t == ONC_TYPE_Q4_K_R16 || t == ONC_TYPE_Q6_K_R16; }
/* tbl[level][type]: the fallback (per-row kernels) at every level ... */
void onc_mv16_fill_generic(onc_matvec16_fn tbl[ONC_SIMD_COUNT][ONC_TYPE_COUNT]);
/* ... then the AVX-512 kernels (nothing without ONC_HAVE_X86_SIMD). */
void onc_mv16_fill_avx512(onc_matvec16_fn tbl[ONC_SIMD_COUNT][ONC_TYPE_COUNT]);

#endif
