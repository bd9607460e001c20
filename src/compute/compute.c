/* compute.c — kernel dispatch, activation conversion, and the matvec /
 * matmul drivers over row ranges (see oncolm/compute.h).
 *
 * Matmul cache blocking (as ggml's mul_mat on CPU): W rows are taken in
 * tiles of BLK_W and activation rows in tiles of BLK_X; inside a tile every
 * W row is dotted against every X row of the tile, so the W row stays in L1
 * and the X tile (BLK_X * ~4.6 KB for n = 4096 in Q8_K) in L1/L2, and each
 * W byte is read from memory once per X tile instead of once per token.
 * Where a level has a 4-row kernel (quantized types), each W block is
 * decoded once for 4 activation rows.
 *
 * With many activation rows (m >= ONC_GEMM_MIN_M_<level>) both entry points
 * take the register-blocked GEMM path of gemm.h instead (decoded weight
 * panels x tiles of activation rows). onc_mul_mat_f32 keeps its scratch
 * (aux activation rows + one panel per thread) in a per-calling-thread
 * buffer that only grows, so warmed-up calls do not allocate;
 * onc_matmul_rows allocates its scratch per call. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "compute/convert_simd.h"
#include "compute/gemm.h"
#include "compute/kernels.h"
#include "tensor/blocks.h"

#define BLK_W 16
#define BLK_X 8

static onc_vec_dot_fn tables[ONC_SIMD_COUNT][ONC_TYPE_COUNT];
static onc_vec_dot4_fn tables4[ONC_SIMD_COUNT][ONC_TYPE_COUNT];
static onc_gemm_fn gemm_tables[ONC_SIMD_COUNT][ONC_TYPE_COUNT];
static onc_matvec16_fn mv16_tables[ONC_SIMD_COUNT][ONC_TYPE_COUNT]; /* 16-row layouts */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void tables_init(void) {
    onc_kernels_fill_ref(tables[ONC_SIMD_SCALAR]);
    memcpy(tables[ONC_SIMD_AVX2], tables[ONC_SIMD_SCALAR], sizeof tables[0]);
    onc_kernels_fill_avx2(tables[ONC_SIMD_AVX2], tables4[ONC_SIMD_AVX2]);
    memcpy(tables[ONC_SIMD_AVX512], tables[ONC_SIMD_AVX2], sizeof tables[0]);
    memcpy(tables4[ONC_SIMD_AVX512], tables4[ONC_SIMD_AVX2], sizeof tables4[0]);
    onc_kernels_fill_avx512(tables[ONC_SIMD_AVX512], tables4[ONC_SIMD_AVX512], onc_cpu_has_avx512bf16());
    onc_gemm_fill_avx2(gemm_tables[ONC_SIMD_AVX2]);
    memcpy(gemm_tables[ONC_SIMD_AVX512], gemm_tables[ONC_SIMD_AVX2], sizeof gemm_tables[0]);
    onc_gemm_fill_avx512(gemm_tables[ONC_SIMD_AVX512]);
    onc_gemm_fill_blas(gemm_tables[ONC_SIMD_AVX2]);
    onc_gemm_fill_blas(gemm_tables[ONC_SIMD_AVX512]);
    onc_mv16_fill_generic(mv16_tables);
    onc_mv16_fill_avx512(mv16_tables);
}

/* 16-row layouts: y[i*ldy + r] for r in [r0, r1) (whole 16-row groups)
 * and m activation rows, one group at a time with the level's kernel. */
static void mv16_rows(float *y, int64_t ldy, onc_type wtype, const void *w, size_t w_stride, const void *xq, size_t xq_stride,
                      int64_t n, int64_t m, int64_t r0, int64_t r1) {
    ONC_ASSERT(r0 % 16 == 0 && (r1 - r0) % 16 == 0);
    pthread_once(&tables_once, tables_init);
    const onc_matvec16_fn f = mv16_tables[onc_simd_level_get()][wtype];
    for (int64_t r = r0; r < r1; r += 16)
        for (int64_t i = 0; i < m; i++)
            f(&y[i * ldy + r], (const char *)w + (size_t)r * w_stride, (const char *)xq + (size_t)i * xq_stride, n);
}

bool onc_mul_mat_supported(onc_type wtype) {
    return onc_is_r16(wtype) || onc_vec_dot_get(wtype, ONC_SIMD_SCALAR) != NULL;
}

/* GEMM kernel for (wtype, level) when m rows make it worthwhile, else NULL. */
static onc_gemm_fn gemm_get(onc_type wtype, onc_simd_level lv, int64_t m) {
    pthread_once(&tables_once, tables_init);
    if (m < (lv >= ONC_SIMD_AVX512 ? ONC_GEMM_MIN_M_AVX512 : ONC_GEMM_MIN_M_AVX2) || (int)wtype < 0 ||
        wtype >= ONC_TYPE_COUNT)
        return NULL;
    return gemm_tables[lv][wtype];
}

// --- per-thread scratch ---------------------------------------------------------------
/* One growing, 64-byte aligned buffer per calling thread, freed when the
 * thread exits: onc_mul_mat_f32 does not allocate once warmed up. */
typedef struct scratch_buf {
    void *p;
    size_t cap;
} scratch_buf;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static void scratch_free(void *v) {
    scratch_buf *b = v;
    if (b) free(b->p);
    free(b);
}
static void scratch_init(void) { (void)pthread_key_create(&scratch_key, scratch_free); }
static void *scratch_get(size_t size) {
    pthread_once(&scratch_once, scratch_init);
    scratch_buf *b = pthread_getspecific(scratch_key);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b || pthread_setspecific(scratch_key, b) != 0) {
            free(b);
            return NULL;
        }
    }
    if (b->cap < size) {
        free(b->p);
        b->cap = 0;
        b->p = aligned_alloc(64, (size + 63) & ~(size_t)63);
        if (!b->p) return NULL;
        b->cap = size;
    }
    return b->p;
}

onc_type onc_vec_dot_type(onc_type wtype) {
    switch (wtype) {
    case ONC_TYPE_F32: return ONC_TYPE_F32;
    case ONC_TYPE_F16: return ONC_TYPE_F16;
    case ONC_TYPE_BF16: return ONC_TYPE_BF16;
    case ONC_TYPE_Q4_0:
    case ONC_TYPE_Q8_0: return ONC_TYPE_Q8_0;
    case ONC_TYPE_Q4_K:
    case ONC_TYPE_Q4_K_R16:
    case ONC_TYPE_Q5_K:
    case ONC_TYPE_Q6_K:
    case ONC_TYPE_Q6_K_R16: return ONC_TYPE_Q8_K;
    default: return (onc_type)-1;
    }
}

size_t onc_activation_row_size(onc_type wtype, int64_t n) {
    const onc_type vt = onc_vec_dot_type(wtype);
    ONC_ASSERT((int)vt >= 0);
    return onc_type_row_size(vt, n);
}

void onc_convert_activation_row(onc_type wtype, void *dst, const float *x, int64_t n) {
    const onc_type vt = onc_vec_dot_type(wtype);
    ONC_ASSERT((int)vt >= 0);
    if (vt == ONC_TYPE_F16 && onc_simd_level_get() >= ONC_SIMD_AVX2) {
        onc_f32_to_f16_row_avx2(x, dst, n);
        return;
    }
    onc_quantize_row(vt, x, dst, n);
}

onc_vec_dot_fn onc_vec_dot_get(onc_type wtype, onc_simd_level level) {
    pthread_once(&tables_once, tables_init);
    if ((int)wtype < 0 || wtype >= ONC_TYPE_COUNT || (int)level < 0 || level >= ONC_SIMD_COUNT) return NULL;
    return tables[level][wtype];
}

void onc_vec_dot(onc_type wtype, float *s, const void *w, const void *x, int64_t n) {
    onc_vec_dot_fn f = onc_vec_dot_get(wtype, onc_simd_level_get());
    ONC_ASSERT(f != NULL);
    f(s, w, x, n);
}

void onc_matvec_rows(float *y, onc_type wtype, const void *w, size_t w_stride, const void *xq, int64_t n,
                     int64_t r0, int64_t r1) {
    if (onc_is_r16(wtype)) {
        mv16_rows(y, 0, wtype, w, w_stride, xq, 0, n, 1, r0, r1);
        return;
    }
    onc_vec_dot_fn f = onc_vec_dot_get(wtype, onc_simd_level_get());
    ONC_ASSERT(f != NULL);
    const char *wb = w;
    for (int64_t r = r0; r < r1; r++) f(&y[r], wb + (size_t)r * w_stride, xq, n);
}

void onc_matmul_rows(float *y, int64_t ldy, onc_type wtype, const void *w, size_t w_stride, const void *xq,
                     size_t xq_stride, int64_t n, int64_t m, int64_t r0, int64_t r1) {
    const onc_simd_level lv = onc_simd_level_get();
    onc_vec_dot_fn f = onc_vec_dot_get(wtype, lv);
    onc_gemm_fn g = gemm_get(wtype, lv, m);
    ONC_ASSERT(f != NULL || (onc_is_r16(wtype) && r0 % 16 == 0 && (r1 - r0) % 16 == 0));
    if (g && r1 > r0) {
        const size_t as = onc_gemm_aux_row_size(wtype, n), ps = onc_gemm_panel_size(n);
        char *buf = aligned_alloc(64, as * (size_t)m + ps);
        if (buf) {
            for (int64_t i = 0; i < m; i++) onc_gemm_aux_row(wtype, buf + (size_t)i * as, (const char *)xq + (size_t)i * xq_stride, n);
            g(y, ldy, w, w_stride, buf, as, n, m, r0, r1, buf + as * (size_t)m);
            free(buf);
            return;
        }
    }
    if (onc_is_r16(wtype)) {
        mv16_rows(y, ldy, wtype, w, w_stride, xq, xq_stride, n, m, r0, r1);
        return;
    }
    onc_vec_dot4_fn f4 = tables4[lv][wtype];
    const char *wb = w, *xb = xq;
    for (int64_t rr = r0; rr < r1; rr += BLK_W) {
        const int64_t re = rr + BLK_W < r1 ? rr + BLK_W : r1;
        for (int64_t ii = 0; ii < m; ii += BLK_X) {
            const int64_t ie = ii + BLK_X < m ? ii + BLK_X : m;
            for (int64_t r = rr; r < re; r++) {
                const char *wr = wb + (size_t)r * w_stride;
                int64_t i = ii;
                if (f4)
                    for (; i + 4 <= ie; i += 4) f4(&y[i * ldy + r], (size_t)ldy, wr, xb + (size_t)i * xq_stride, xq_stride, n);
                for (; i < ie; i++) f(&y[i * ldy + r], wr, xb + (size_t)i * xq_stride, n);
            }
        }
    }
}

// --- threaded whole product ---------------------------------------------------------

typedef struct mm_task {
    float *y;
    int64_t ldy;
    onc_type wtype;
    const void *w;
    size_t w_stride;
    int64_t nrows;
    const float *x;
    int64_t ldx, n, m;
    void *xq;
    size_t xq_stride;
    onc_threadpool *tp;
} mm_task;

/* GEMM path: aux rows (threaded), then 16-row-aligned W ranges. */
typedef struct gemm_task {
    float *y;
    int64_t ldy;
    onc_type wtype;
    const void *w;
    size_t w_stride;
    int64_t nrows;
    const float *x;
    int64_t ldx, n, m;
    char *aux;
    size_t aux_stride;
    char *thr; /* per thread: panel then one converted activation row */
    size_t thr_stride, panel_size;
    onc_gemm_fn fn;
    onc_threadpool *tp;
} gemm_task;

static void gemm_run(void *ctx, int ith, int nth) {
    gemm_task *t = ctx;
    char *mine = t->thr + (size_t)ith * t->thr_stride;
    int64_t lo, hi;
    onc_split_range(t->m, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++)
        onc_gemm_aux_row_f32(t->wtype, t->aux + (size_t)i * t->aux_stride, t->x + i * t->ldx, t->n, mine + t->panel_size);
    onc_threadpool_barrier(t->tp);
    const int64_t nblk = (t->nrows + 15) / 16;
    onc_split_range(nblk, ith, nth, &lo, &hi);
    lo *= 16;
    hi = hi * 16 < t->nrows ? hi * 16 : t->nrows;
    if (lo < hi) t->fn(t->y, t->ldy, t->w, t->w_stride, t->aux, t->aux_stride, t->n, t->m, lo, hi, mine);
}

static void mm_run(void *ctx, int ith, int nth) {
    mm_task *t = ctx;
    int64_t lo, hi;
    onc_split_range(t->m, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++)
        onc_convert_activation_row(t->wtype, (char *)t->xq + (size_t)i * t->xq_stride, t->x + i * t->ldx, t->n);
    onc_threadpool_barrier(t->tp);
    /* split W rows in chunks of BLK_W-aligned ranges */
    const int64_t nblk = (t->nrows + BLK_W - 1) / BLK_W;
    onc_split_range(nblk, ith, nth, &lo, &hi);
    lo *= BLK_W;
    hi = hi * BLK_W < t->nrows ? hi * BLK_W : t->nrows;
    if (lo >= hi) return;
    if (t->m == 1)
        onc_matvec_rows(t->y, t->wtype, t->w, t->w_stride, t->xq, t->n, lo, hi);
    else
        onc_matmul_rows(t->y, t->ldy, t->wtype, t->w, t->w_stride, t->xq, t->xq_stride, t->n, t->m, lo, hi);
}

onc_status onc_mul_mat_f32(onc_threadpool *tp, float *y, int64_t ldy, onc_type wtype, const void *w,
                           size_t w_stride, int64_t nrows, const float *x, int64_t ldx, int64_t n, int64_t m,
                           onc_error *err) {
    if (!onc_mul_mat_supported(wtype))
        return onc_error_set(err, ONC_ERR_UNSUPPORTED, "mul_mat: weight type %s has no kernels",
                             onc_type_traits_of(wtype)->name ? onc_type_traits_of(wtype)->name : "?");
    if (n % onc_type_traits_of(wtype)->block_size != 0)
        return onc_error_set(err, ONC_ERR_INVALID, "mul_mat: row length %lld not a multiple of the %s block size",
                             (long long)n, onc_type_traits_of(wtype)->name);
    if (m <= 0 || nrows <= 0) return ONC_OK;
    onc_gemm_fn g = gemm_get(wtype, onc_simd_level_get(), m);
    if (g) {
        const int nth = onc_threadpool_n_threads(tp);
        const size_t as = onc_gemm_aux_row_size(wtype, n), ps = onc_gemm_panel_size(n);
        const size_t ts = ps + ((onc_activation_row_size(wtype, n) + 63) & ~(size_t)63);
        char *buf = scratch_get(as * (size_t)m + ts * (size_t)nth);
        if (!buf) return onc_error_set(err, ONC_ERR_NOMEM, "mul_mat: out of memory for %lld activation rows", (long long)m);
        gemm_task gt = {y, ldy, wtype, w, w_stride, nrows, x, ldx, n, m, buf, as, buf + as * (size_t)m, ts, ps, g, tp};
        onc_threadpool_run(tp, gemm_run, &gt);
        return ONC_OK;
    }
    const size_t xq_stride = (onc_activation_row_size(wtype, n) + 63) & ~(size_t)63;
    void *xq = aligned_alloc(64, xq_stride * (size_t)m);
    if (!xq) return onc_error_set(err, ONC_ERR_NOMEM, "mul_mat: out of memory for %lld activation rows", (long long)m);
    mm_task t = {y, ldy, wtype, w, w_stride, nrows, x, ldx, n, m, xq, xq_stride, tp};
    onc_threadpool_run(tp, mm_run, &t);
    free(xq);
    return ONC_OK;
}
