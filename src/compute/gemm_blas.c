/* gemm_blas.c — the GEMM path (gemm.h) for float weights (F32, F16, BF16)
 * through OpenBLAS's sgemm: Y = X W^T over the aux activation rows (already
 * rounded to the weight type's vec_dot type, as f32 values), so results are
 * those of the reference kernels up to float summation order. F32 weights
 * are read in place; F16/BF16 rows are converted to f32 ONC_GEMM_BLAS_ROWS
 * at a time into the caller's per-thread panel scratch. OpenBLAS runs
 * single-threaded inside each of our pool's threads (each thread owns a
 * range of weight rows), so the two thread pools never compete. */
#include <cblas.h>
#include <pthread.h>

#include "compute/gemm.h"

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_init(void) { openblas_set_num_threads(1); }
void onc_blas_single_thread(void) { pthread_once(&blas_once, blas_init); }

static void gemm_blas(onc_type t, float *y, int64_t ldy, const void *w, size_t w_stride, const void *aux,
                      size_t aux_stride, int64_t n, int64_t m, int64_t r0, int64_t r1, void *scratch) {
    onc_blas_single_thread();
    const float *x = aux; /* aux rows: the activations' f32 values */
    const int lda = (int)(aux_stride / sizeof(float));
    if (t == ONC_TYPE_F32) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)(r1 - r0), (int)n, 1.0f, x, lda,
                    (const float *)((const char *)w + (size_t)r0 * w_stride), (int)(w_stride / sizeof(float)), 0.0f,
                    y + r0, (int)ldy);
        return;
    }
    float *panel = scratch;
    for (int64_t p = r0; p < r1; p += ONC_GEMM_BLAS_ROWS) {
        const int64_t nr = r1 - p < ONC_GEMM_BLAS_ROWS ? r1 - p : ONC_GEMM_BLAS_ROWS;
        for (int64_t r = 0; r < nr; r++)
            onc_dequantize_row(t, (const char *)w + (size_t)(p + r) * w_stride, panel + r * n, n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)nr, (int)n, 1.0f, x, lda, panel, (int)n,
                    0.0f, y + p, (int)ldy);
    }
}

static void gemm_blas_f32(float *y, int64_t ldy, const void *w, size_t ws, const void *aux, size_t as, int64_t n,
                          int64_t m, int64_t r0, int64_t r1, void *scratch) {
    gemm_blas(ONC_TYPE_F32, y, ldy, w, ws, aux, as, n, m, r0, r1, scratch);
}
static void gemm_blas_f16(float *y, int64_t ldy, const void *w, size_t ws, const void *aux, size_t as, int64_t n,
                          int64_t m, int64_t r0, int64_t r1, void *scratch) {
    gemm_blas(ONC_TYPE_F16, y, ldy, w, ws, aux, as, n, m, r0, r1, scratch);
}
static void gemm_blas_bf16(float *y, int64_t ldy, const void *w, size_t ws, const void *aux, size_t as, int64_t n,
                           int64_t m, int64_t r0, int64_t r1, void *scratch) {
    gemm_blas(ONC_TYPE_BF16, y, ldy, w, ws, aux, as, n, m, r0, r1, scratch);
}

void onc_gemm_fill_blas(onc_gemm_fn tbl[ONC_TYPE_COUNT]) {
    tbl[ONC_TYPE_F32] = gemm_blas_f32;
    tbl[ONC_TYPE_F16] = gemm_blas_f16;
    tbl[ONC_TYPE_BF16] = gemm_blas_bf16;
}
