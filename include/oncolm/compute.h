/* oncolm/compute.h — CPU compute kernels: SIMD level selection, dot
 * products between a weight row and a converted activation row, matrix x
 * vector and matrix x matrix over row ranges, and a small thread pool.
 *
 * Model code does not call these directly: it goes through oncolm/backend.h.
 * They are public for the CPU backend, tests and benchmarks.
 *
 * Conventions (as ggml):
 *  - A weight matrix W is `nrows` rows of `n` elements of type `wtype`, row r
 *    at byte offset r * w_stride. Activations are f32 and are first converted
 *    (onc_convert_activation_row) into the weight type's "vec_dot type":
 *    F32 -> F32, F16 -> F16, BF16 -> BF16, Q4_0/Q8_0 -> Q8_0,
 *    Q4_K/Q5_K/Q6_K -> Q8_K. n must be a multiple of the weight block size.
 *  - Kernels take outputs first, then inputs, then dimensions; threaded ones
 *    take a row range [r0, r1) so that thread ith of nth computes its share.
 *  - Every kernel has a plain-C reference (level ONC_SIMD_SCALAR) and AVX2 /
 *    AVX-512 versions picked at run time. Integer dot products are exact;
 *    results differ from the reference only by float summation order.
 *
 * SIMD level: the best one the CPU supports (cpuid; AVX-512 needs
 * F+BW+VL+DQ+VNNI, AVX2 needs AVX2+FMA+F16C), capped by the environment
 * variable ONCOLM_SIMD=scalar|avx2|avx512 read on first use, and by
 * onc_simd_force() (tests, benchmarks).
 *
 * Thread-safety: kernels are pure and thread-safe. onc_simd_force() must not
 * race with running kernels. A thread pool may be used by one caller thread
 * at a time (onc_threadpool_run is not reentrant); distinct pools are
 * independent. */
#ifndef ONCOLM_COMPUTE_H
#define ONCOLM_COMPUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"
#include "oncolm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

// --- SIMD level ------------------------------------------------------------------

typedef enum onc_simd_level {
    ONC_SIMD_SCALAR = 0, /* plain C reference */
    ONC_SIMD_AVX2 = 1,   /* AVX2 + FMA + F16C */
    ONC_SIMD_AVX512 = 2, /* AVX-512 F/BW/VL/DQ/VNNI (+BF16 used when present) */
    ONC_SIMD_COUNT = 3,
} onc_simd_level;

/* Best level this CPU (and build) supports, ignoring the environment. */
onc_simd_level onc_simd_detect(void);
/* True when the CPU and build support `level`. */
bool onc_simd_supported(onc_simd_level level);
/* Level kernels use now: forced level, else ONCOLM_SIMD, else detected;
 * never above onc_simd_detect(). */
onc_simd_level onc_simd_level_get(void);
/* Force a level (capped at what is supported); returns the level in effect.
 * Pass ONC_SIMD_COUNT to go back to the default (environment/detection). */
onc_simd_level onc_simd_force(onc_simd_level level);
/* "scalar", "avx2", "avx512". */
const char *onc_simd_name(onc_simd_level level);
/* Whether the CPU has AVX512_BF16 (vdpbf16ps), used by the BF16 kernel. */
bool onc_cpu_has_avx512bf16(void);

// --- activation conversion and dot products ----------------------------------------

/* Type activations are converted to for a weight type, or -1 (as onc_type)
 * when the weight type has no kernels. */
onc_type onc_vec_dot_type(onc_type wtype);

/* Bytes of a converted activation row of n elements for weight type wtype. */
size_t onc_activation_row_size(onc_type wtype, int64_t n);

/* Convert an f32 activation row x[n] into the vec_dot type of wtype, into
 * dst (onc_activation_row_size bytes). Equals onc_quantize_row of the
 * vec_dot type bit for bit (SIMD paths included). */
void onc_convert_activation_row(onc_type wtype, void *dst, const float *x, int64_t n);

/* *s = dot(w, x) for a weight row w[n] of type wtype and a converted
 * activation row x. */
typedef void (*onc_vec_dot_fn)(float *s, const void *w, const void *x, int64_t n);

/* Kernel for (wtype, level), NULL when wtype has no kernels. A level the
 * CPU lacks still returns its kernel (calling it would crash): check
 * onc_simd_supported() first. Levels without a special kernel for a type
 * return the next lower level's kernel. */
onc_vec_dot_fn onc_vec_dot_get(onc_type wtype, onc_simd_level level);

/* Dot at the current level. */
void onc_vec_dot(onc_type wtype, float *s, const void *w, const void *x, int64_t n);

// --- matrix kernels (one thread's share) --------------------------------------------

/* y[r] = dot(W row r, xq) for r in [r0, r1). xq is a converted activation
 * row. y is indexed by absolute row number. */
void onc_matvec_rows(float *y, onc_type wtype, const void *w, size_t w_stride, const void *xq, int64_t n,
                     int64_t r0, int64_t r1);

/* Y[i*ldy + r] = dot(W row r, Xq row i) for i in [0, m), r in [r0, r1):
 * Y = X W^T restricted to columns [r0, r1). Xq rows are converted
 * activations, row i at byte offset i * xq_stride. Cache-blocked: tiles of
 * W rows are dotted against tiles of X rows while both are in cache; with
 * many rows (>= 4 with AVX-512, >= 12 with AVX2) a register-blocked GEMM
 * (scratch malloc()ed per call) whose results equal the 1-row kernels' up
 * to float rounding order, not bit for bit. */
void onc_matmul_rows(float *y, int64_t ldy, onc_type wtype, const void *w, size_t w_stride, const void *xq,
                     size_t xq_stride, int64_t n, int64_t m, int64_t r0, int64_t r1);

/* Whether onc_matvec_rows / onc_matmul_rows / onc_mul_mat_f32 take
 * weights of this type (the types with dot kernels, and Q4_K_R16). */
bool onc_mul_mat_supported(onc_type wtype);

// --- repacking: load-time weight layouts -------------------------------------------
/* A weight may be rewritten once at load into a layout the current SIMD
 * level multiplies faster; the rewritten bytes replace the originals (same
 * size), and the matrix kernels above take the new type. Today: Q4_K ->
 * ONC_TYPE_Q4_K_R16 (16 rows interleaved by 4-byte words; layout in
 * compute/repack.c) at the AVX-512 level, for nrows a multiple of 16. Row
 * r of a repacked weight lives in group r/16, at w + (r/16)*16*row_size,
 * so kernels take only whole groups ([r0, r1) multiples of 16); the
 * threaded entry points split work that way. Other levels run such weights
 * correctly through a slower fallback. */

/* The faster layout for an nrows x n weight of wtype at the current level,
 * or wtype itself when there is none. */
onc_type onc_repack_type(onc_type wtype, int64_t nrows, int64_t n);
/* Rewrite the nrows x n weight src (rows src_stride bytes apart, of the
 * type dst_type is the layout of) into dst, which holds
 * nrows * onc_type_row_size(dst_type, n) bytes. Plain C, exact. */
void onc_repack_rows(onc_type dst_type, void *dst, const void *src, size_t src_stride, int64_t nrows, int64_t n);
/* The inverse: the plain rows (dst_stride bytes apart) of a repacked weight. */
void onc_unpack_rows(onc_type src_type, void *dst, size_t dst_stride, const void *src, int64_t nrows, int64_t n);
/* Row r (n elements) of a weight of type t, plain or repacked, as f32
 * (onc_dequantize_row for plain types): embedding lookups of a repacked
 * tied embedding/output matrix. w_stride = the type's row size. */
void onc_weight_row_f32(onc_type t, const void *w, size_t w_stride, int64_t r, float *dst, int64_t n);

// --- thread pool --------------------------------------------------------------------

typedef struct onc_threadpool onc_threadpool; /* opaque */

/* Task run by every participant: ith in [0, nth). */
typedef void (*onc_task_fn)(void *ctx, int ith, int nth);

/* Pool of n_threads participants: the caller plus n_threads-1 workers
 * (n_threads <= 0 means the number of online CPUs). NULL with err set when
 * threads cannot be created. Workers spin briefly after each task, then
 * sleep on a futex. */
onc_threadpool *onc_threadpool_new(int n_threads, onc_error *err);
/* Stop and join the workers. Accepts NULL. */
void onc_threadpool_free(onc_threadpool *tp);
int onc_threadpool_n_threads(const onc_threadpool *tp);
/* Run fn(ctx, ith, nth) on all participants (the caller is ith = 0) and
 * return when all have finished. tp may be NULL: then fn(ctx, 0, 1). */
void onc_threadpool_run(onc_threadpool *tp, onc_task_fn fn, void *ctx);
/* Barrier among the participants of the task being run; call from inside a
 * task by all nth participants (no-op when nth == 1). */
void onc_threadpool_barrier(onc_threadpool *tp);

/* Split [0, n) into nth near-equal parts; part ith is [*lo, *hi). */
static inline void onc_split_range(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    const int64_t per = (n + nth - 1) / nth;
    int64_t a = per * ith, b = a + per;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

// --- convenience: whole products with a pool ------------------------------------------

/* Y = X W^T: y[i*ldy + r] for m activation rows x[i*ldx .. +n] (f32) and
 * nrows weight rows. Converts X (threaded), then splits W rows across the
 * pool (matvec kernel when m == 1, GEMM path for many rows). Scratch is
 * kept per calling thread and grown as needed (freed at thread exit).
 * Returns ONC_ERR_UNSUPPORTED for types without kernels, ONC_ERR_NOMEM. */
onc_status onc_mul_mat_f32(onc_threadpool *tp, float *y, int64_t ldy, onc_type wtype, const void *w,
                           size_t w_stride, int64_t nrows, const float *x, int64_t ldx, int64_t n, int64_t m,
                           onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_COMPUTE_H */
