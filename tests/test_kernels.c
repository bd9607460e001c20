/* test_kernels.c — every dot-product kernel at every SIMD level this CPU
 * has against the plain-C reference; matvec/matmul drivers (odd row counts,
 * several batch sizes, 1..3 threads); the thread pool and its barrier; and
 * the CPU backend ops against naive loops on dequantized data.
 *
 * Tolerances:
 *  - SIMD vs reference kernel: integer sums are exact in both, only the
 *    order (and fusing) of the float combination differs: per-block terms
 *    are rounded once each (relative 2^-24) and summed in a different tree,
 *    so |diff| <= ~(log2(nblocks)+2) * 2^-24 * sum|terms|. We allow
 *    1e-5 * sum_i |w_i x_i| (dequantized values), i.e. ~100x that bound for
 *    n <= 8192, and far below any real bug (a wrong block is ~1e-2 relative).
 *    For the float types the reference sums in double and the SIMD kernels
 *    in float: same bound with n elements (n * 2^-24 <= 5e-4 worst case,
 *    ~sqrt(n) * 2^-24 in practice); we use 1e-5 * sum|w x| as well.
 *  - Reference kernel vs double dot of the dequantized rows: the same
 *    rounding argument, 1e-5 * sum|w x|.
 *  - Backend mul_mat vs naive f32 loop on dequantized W and *unquantized*
 *    X: the activation conversion error is bounded exactly: Q8_0/Q8_K round
 *    each x to the grid d = amax(block)/127, |x - xq| <= d/2 (Q8_K: d from
 *    the signed max, same bound), F16 <= |x| 2^-11, BF16 <= |x| 2^-8; so
 *    |err| <= sum |w_i| e_i + 1e-5 sum |w_i x_i|. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/backend.h"
#include "oncolm/compute.h"
#include "oncolm/gguf.h"
#include "test_util.h"

static const onc_type kTypes[] = {ONC_TYPE_F32,  ONC_TYPE_F16,  ONC_TYPE_BF16, ONC_TYPE_Q8_0,
                                  ONC_TYPE_Q4_0, ONC_TYPE_Q4_K, ONC_TYPE_Q5_K, ONC_TYPE_Q6_K};
#define N_TYPES ((int)(sizeof kTypes / sizeof kTypes[0]))

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void) { return tu_urand(&rng); }
static float gauss(void) { return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand())); }

static void fill(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) x[i] = scale * gauss();
}

/* sum |w_i x_i| of the dequantized weight row and converted activation row */
static double abs_dot(onc_type wt, const void *wq, const void *xq, int64_t n) {
    float *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4);
    onc_dequantize_row(wt, wq, a, n);
    onc_dequantize_row(onc_vec_dot_type(wt), xq, b, n);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)a[i] * b[i]);
    free(a);
    free(b);
    return s;
}

static double deq_dot(onc_type wt, const void *wq, const void *xq, int64_t n) {
    float *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4);
    onc_dequantize_row(wt, wq, a, n);
    onc_dequantize_row(onc_vec_dot_type(wt), xq, b, n);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    free(a);
    free(b);
    return s;
}

// --- vec_dot ------------------------------------------------------------------------

static void check_dot(onc_type t, int64_t n, float wscale, float xscale) {
    float *w = malloc((size_t)n * 4), *x = malloc((size_t)n * 4);
    fill(w, n, wscale);
    fill(x, n, xscale);
    void *wq = malloc(onc_type_row_size(t, n)), *xq = malloc(onc_activation_row_size(t, n));
    onc_quantize_row(t, w, wq, n);
    onc_convert_activation_row(t, xq, x, n);
    const double ad = abs_dot(t, wq, xq, n), tol = 1e-5 * ad + 1e-30;
    float ref;
    onc_vec_dot_get(t, ONC_SIMD_SCALAR)(&ref, wq, xq, n);
    const double dd = deq_dot(t, wq, xq, n);
    if (fabs(ref - dd) > tol) fail_msg("%s n=%lld: ref %.9g vs dequantized dot %.9g", onc_type_traits_of(t)->name, (long long)n, ref, dd);
    for (int l = ONC_SIMD_AVX2; l < ONC_SIMD_COUNT; l++) {
        if (!onc_simd_supported((onc_simd_level)l)) continue;
        float s;
        onc_vec_dot_get(t, (onc_simd_level)l)(&s, wq, xq, n);
        if (!(fabs(s - ref) <= tol))
            fail_msg("%s n=%lld level %s: %.9g vs ref %.9g (tol %.3g)", onc_type_traits_of(t)->name, (long long)n,
                     onc_simd_name((onc_simd_level)l), s, ref, tol);
    }
    free(w);
    free(x);
    free(wq);
    free(xq);
}

static void test_vec_dot_all(void **state) {
    static const int64_t sizes_f[] = {1, 7, 16, 31, 33, 64, 100, 127, 129, 4096, 4103, 11008};
    static const int64_t sizes_q[] = {32, 64, 96, 160, 4096, 4128, 11008};
    static const int64_t sizes_k[] = {256, 512, 768, 4096, 4352, 11008};
    printf("levels: detected %s\n", onc_simd_name(onc_simd_detect()));
    for (int ti = 0; ti < N_TYPES; ti++) {
        const onc_type t = kTypes[ti];
        const int64_t bs = onc_type_traits_of(t)->block_size;
        const int64_t *sz = bs == 1 ? sizes_f : bs == 32 ? sizes_q : sizes_k;
        const int nsz = bs == 1 ? 12 : bs == 32 ? 7 : 6;
        for (int k = 0; k < nsz; k++) {
            check_dot(t, sz[k], 1.0f, 1.0f);
            check_dot(t, sz[k], 1e-3f, 50.0f);
        }
    }
}

/* Edge blocks: zeros, constants, extreme codes (all 0xFF / 0x00 bytes). */
static void test_vec_dot_extreme_blocks(void **state) {
    for (int ti = 0; ti < N_TYPES; ti++) {
        const onc_type t = kTypes[ti];
        if (!onc_type_traits_of(t)->is_quantized) continue;
        const int64_t n = 1024;
        const size_t wsz = onc_type_row_size(t, n);
        uint8_t *wq = malloc(wsz);
        float *x = malloc(n * 4);
        fill(x, n, 1.0f);
        x[5] = 127.0f; /* force full-range activation codes */
        void *xq = malloc(onc_activation_row_size(t, n));
        onc_convert_activation_row(t, xq, x, n);
        for (int pat = 0; pat < 3; pat++) {
            for (size_t i = 0; i < wsz; i++) wq[i] = pat == 0 ? 0xFF : pat == 1 ? 0x00 : (uint8_t)(urand() * 256);
            /* keep f16 scales finite: set every scale field to 1.0 (0x3C00) */
            const size_t bsz = onc_type_traits_of(t)->type_size;
            for (size_t b = 0; b < wsz; b += bsz) {
                uint16_t one = 0x3C00;
                if (t == ONC_TYPE_Q6_K) memcpy(wq + b + 208, &one, 2);
                else memcpy(wq + b, &one, 2);
                if (t == ONC_TYPE_Q4_K || t == ONC_TYPE_Q5_K) memcpy(wq + b + 2, &one, 2);
            }
            float ref;
            onc_vec_dot_get(t, ONC_SIMD_SCALAR)(&ref, wq, xq, n);
            const double tol = 1e-5 * abs_dot(t, wq, xq, n) + 1e-30;
            assert_true(fabs(ref - deq_dot(t, wq, xq, n)) <= tol);
            for (int l = ONC_SIMD_AVX2; l < ONC_SIMD_COUNT; l++) {
                if (!onc_simd_supported((onc_simd_level)l)) continue;
                float s;
                onc_vec_dot_get(t, (onc_simd_level)l)(&s, wq, xq, n);
                if (!(fabs(s - ref) <= tol))
                    fail_msg("%s pattern %d level %s: %.9g vs %.9g", onc_type_traits_of(t)->name, pat,
                             onc_simd_name((onc_simd_level)l), s, ref);
            }
        }
        free(wq);
        free(x);
        free(xq);
    }
}

// --- matvec / matmul drivers -----------------------------------------------------------

static void test_matmul_paths(void **state) {
    static const int64_t ms[] = {1, 2, 5, 9, 17};
    static const int64_t rows[] = {1, 37, 67};
    for (int ti = 0; ti < N_TYPES; ti++) {
        const onc_type t = kTypes[ti];
        const int64_t n = onc_type_traits_of(t)->block_size == 256 ? 512 : 160;
        for (int ri = 0; ri < 3; ri++) {
            const int64_t nr = rows[ri];
            float *wf = malloc((size_t)(nr * n) * 4);
            fill(wf, nr * n, 1.0f);
            const size_t rs = onc_type_row_size(t, n);
            char *wq = malloc(rs * (size_t)nr);
            for (int64_t r = 0; r < nr; r++) onc_quantize_row(t, wf + r * n, wq + r * rs, n);
            for (int mi = 0; mi < 5; mi++) {
                const int64_t m = ms[mi];
                float *x = malloc((size_t)(m * n) * 4);
                fill(x, m * n, 1.0f);
                const size_t xs = onc_activation_row_size(t, n);
                char *xq = malloc(xs * (size_t)m);
                for (int64_t i = 0; i < m; i++) onc_convert_activation_row(t, xq + i * xs, x + i * n, n);
                float *ref = malloc((size_t)(m * nr) * 4), *y = malloc((size_t)(m * nr) * 4);
                double *tols = malloc((size_t)(m * nr) * sizeof(double));
                for (int64_t i = 0; i < m; i++)
                    for (int64_t r = 0; r < nr; r++) {
                        onc_vec_dot_get(t, ONC_SIMD_SCALAR)(&ref[i * nr + r], wq + r * rs, xq + i * xs, n);
                        tols[i * nr + r] = 1e-5 * abs_dot(t, wq + r * rs, xq + i * xs, n) + 1e-30;
                    }
                for (int l = 0; l < ONC_SIMD_COUNT; l++) {
                    if (!onc_simd_supported((onc_simd_level)l)) continue;
                    onc_simd_force((onc_simd_level)l);
                    for (int nt = 1; nt <= 3; nt++) {
                        onc_threadpool *tp = onc_threadpool_new(nt, NULL);
                        assert_non_null(tp);
                        memset(y, 0xFF, (size_t)(m * nr) * 4);
                        assert_int_equal(onc_mul_mat_f32(tp, y, nr, t, wq, rs, nr, x, n, n, m, NULL), ONC_OK);
                        for (int64_t i = 0; i < m; i++)
                            for (int64_t r = 0; r < nr; r++) {
                                const double tol = tols[i * nr + r];
                                if (!(fabs(y[i * nr + r] - ref[i * nr + r]) <= tol))
                                    fail_msg("%s rows=%lld m=%lld level %s threads %d: [%lld,%lld] %.9g vs %.9g",
                                             onc_type_traits_of(t)->name, (long long)nr, (long long)m,
                                             onc_simd_name((onc_simd_level)l), nt, (long long)i, (long long)r,
                                             y[i * nr + r], ref[i * nr + r]);
                            }
                        /* row-range kernels directly: a middle range only */
                        if (nr > 2) {
                            float *z = malloc((size_t)(m * nr) * 4);
                            for (int64_t k = 0; k < m * nr; k++) z[k] = -7.0f;
                            if (m == 1) onc_matvec_rows(z, t, wq, rs, xq, n, 1, nr - 1);
                            else onc_matmul_rows(z, nr, t, wq, rs, xq, xs, n, m, 1, nr - 1);
                            for (int64_t i = 0; i < m; i++) {
                                assert_true(z[i * nr] == -7.0f && z[i * nr + nr - 1] == -7.0f);
                                /* same kernels, but BLAS may order sums by the range's shape */
                                for (int64_t r = 1; r < nr - 1; r++)
                                    assert_true(fabs(z[i * nr + r] - y[i * nr + r]) <= 2 * tols[i * nr + r]);
                            }
                            free(z);
                        }
                        onc_threadpool_free(tp);
                    }
                }
                onc_simd_force(ONC_SIMD_COUNT);
                free(x);
                free(xq);
                free(ref);
                free(tols);
                free(y);
            }
            free(wf);
            free(wq);
        }
    }
}

/* The GEMM path (m >= 4 activation rows with AVX-512, >= 12 with AVX2:
 * decoded weight panels x tiles of activation rows) on odd shapes: row
 * counts around the panel widths (4/8/16 rows), m around the tile heights
 * and the thresholds (1..9 take the 1-/4-row kernels on AVX2) up to 67, K from one block to
 * 4096+, every type and SIMD level, 1 and 2 threads, against the scalar
 * reference kernel per output. Weights are either quantized random data or
 * random bytes with unit scales (extreme codes: Q8_0 -128, Q6_K scale -128,
 * all-ones nibbles...). Same tolerance as the vec_dot tests: the integer sums
 * per sub-block are exact, only the f32 combination of the sub-block terms
 * differs from the reference (rounding/summation order), so results are
 * not bit-identical but within 1e-5 * sum|w x|. */
static void check_gemm_case(onc_type t, int64_t n, int64_t nr, int64_t m, int raw, int repack) {
    const size_t rs = onc_type_row_size(t, n), xs = onc_activation_row_size(t, n);
    char *wq = malloc(rs * (size_t)nr);
    if (raw && onc_type_traits_of(t)->is_quantized) {
        for (size_t i = 0; i < rs * (size_t)nr; i++) wq[i] = (char)(urand() * 256);
        const size_t bsz = onc_type_traits_of(t)->type_size;
        const uint16_t one = 0x3C00;
        for (size_t b = 0; b < rs * (size_t)nr; b += bsz) {
            if (t == ONC_TYPE_Q6_K) memcpy(wq + b + 208, &one, 2);
            else memcpy(wq + b, &one, 2);
            if (t == ONC_TYPE_Q4_K || t == ONC_TYPE_Q5_K) memcpy(wq + b + 2, &one, 2);
        }
    } else {
        float *wf = malloc((size_t)n * 4);
        for (int64_t r = 0; r < nr; r++) {
            fill(wf, n, r % 3 == 0 ? 0.01f : 1.0f);
            onc_quantize_row(t, wf, wq + r * rs, n);
        }
        free(wf);
    }
    float *x = malloc((size_t)(m * n) * 4);
    fill(x, m * n, 1.0f);
    if (m > 1) x[n + n / 2] = 300.0f; /* one large activation: full-range codes */
    char *xq = malloc(xs * (size_t)m);
    for (int64_t i = 0; i < m; i++) onc_convert_activation_row(t, xq + i * xs, x + i * n, n);
    float *ref = malloc((size_t)(m * nr) * 4), *y = malloc((size_t)(m * nr) * 4);
    double *tols = malloc((size_t)(m * nr) * sizeof(double));
    for (int64_t i = 0; i < m; i++)
        for (int64_t r = 0; r < nr; r++) {
            onc_vec_dot_get(t, ONC_SIMD_SCALAR)(&ref[i * nr + r], wq + r * rs, xq + i * xs, n);
            tols[i * nr + r] = 1e-5 * abs_dot(t, wq + r * rs, xq + i * xs, n) + 1e-30;
        }
    /* repack: the same weight in its 16-row layout (unpacking must give the
     * bytes back), run at every level including the scalar fallback */
    const onc_type wt = !repack ? t : t == ONC_TYPE_Q6_K ? ONC_TYPE_Q6_K_R16 : ONC_TYPE_Q4_K_R16;
    char *wk = wq;
    if (repack) {
        wk = malloc(rs * (size_t)nr);
        char *back = malloc(rs * (size_t)nr);
        onc_repack_rows(wt, wk, wq, rs, nr, n);
        onc_unpack_rows(wt, back, rs, wk, nr, n);
        assert_memory_equal(back, wq, rs * (size_t)nr);
        free(back);
        /* row lookups in the repacked layout (tied embeddings) */
        float *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4);
        for (int64_t r = 0; r < nr; r += 7) {
            onc_dequantize_row(t, wq + r * rs, a, n);
            onc_weight_row_f32(wt, wk, rs, r, b, n);
            assert_memory_equal(a, b, (size_t)n * 4);
        }
        free(a);
        free(b);
    }
    for (int l = repack ? ONC_SIMD_SCALAR : ONC_SIMD_AVX2; l < ONC_SIMD_COUNT; l++) {
        if (!onc_simd_supported((onc_simd_level)l)) continue;
        onc_simd_force((onc_simd_level)l);
        for (int nt = 1; nt <= 2; nt++) {
            onc_threadpool *tp = onc_threadpool_new(nt, NULL);
            for (int via_rows = 0; via_rows < 2; via_rows++) {
                for (int64_t k = 0; k < m * nr; k++) y[k] = NAN;
                if (via_rows) onc_matmul_rows(y, nr, wt, wk, rs, xq, xs, n, m, 0, nr);
                else assert_int_equal(onc_mul_mat_f32(tp, y, nr, wt, wk, rs, nr, x, n, n, m, NULL), ONC_OK);
                for (int64_t k = 0; k < m * nr; k++)
                    if (!(fabs(y[k] - ref[k]) <= tols[k]))
                        fail_msg("gemm %s%s K=%lld rows=%lld m=%lld raw=%d level %s thr %d rows_api %d: [%lld,%lld] %.9g vs "
                                 "ref %.9g (tol %.3g)",
                                 onc_type_traits_of(t)->name, repack ? " repacked" : "", (long long)n, (long long)nr, (long long)m, raw,
                                 onc_simd_name((onc_simd_level)l), nt, via_rows, (long long)(k / nr),
                                 (long long)(k % nr), y[k], ref[k], tols[k]);
            }
            onc_threadpool_free(tp);
        }
    }
    onc_simd_force(ONC_SIMD_COUNT);
    if (wk != wq) free(wk);
    free(wq);
    free(x);
    free(xq);
    free(ref);
    free(y);
    free(tols);
}

static void test_gemm_shapes(void **state) {
    static const int64_t ms[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 33, 67};
    static const int64_t rows[] = {1, 7, 15, 16, 17, 40};
    for (int ti = 0; ti < N_TYPES; ti++) {
        const onc_type t = kTypes[ti];
        const int64_t bs = onc_type_traits_of(t)->block_size;
        /* K: one block (float: odd), odd block counts, > 1024 (several
         * decoding chunks), 4096 + a partial chunk */
        const int64_t ks_k[] = {256, 768, 1280, 4352}, ks_q[] = {32, 160, 1312, 4128}, ks_f[] = {3, 256, 1000, 4112};
        const int64_t *ks = bs == 256 ? ks_k : bs == 32 ? ks_q : ks_f;
        for (int ki = 0; ki < 4; ki++)
            for (int ri = 0; ri < 6; ri++)
                for (int mi = 0; mi < 11; mi++) {
                    const int64_t n = ks[ki], nr = rows[ri], m = ms[mi];
                    if (n > 2000 && (nr > 17 || (m > 9 && m != 67))) continue; /* keep the run short */
                    check_gemm_case(t, n, nr, m, 0, 0);
                    if (mi % 3 == 0 && bs > 1) check_gemm_case(t, n, nr, m, 1, 0);
                }
    }
}

/* Q4_K_R16 / Q6_K_R16: repacking is exact and reversible, and every path
 * (16-row kernel, the fallback at the lower levels, the GEMM for many
 * rows, threaded or not) equals the plain type's reference kernel on the
 * original rows, for quantized and raw random blocks (extreme scales and
 * codes). Which weights are repacked: Q4_K and Q6_K with whole 16-row
 * groups, AVX-512 only. */
static void test_repack(void **state) {
    (void)state;
    static const int64_t ms[] = {1, 2, 3, 4, 9, 33};
    static const int64_t ks[] = {256, 768, 4352};
    static const int64_t rows[] = {16, 48};
    for (int ki = 0; ki < 3; ki++)
        for (int ri = 0; ri < 2; ri++)
            for (int mi = 0; mi < 6; mi++) {
                if (ks[ki] > 2000 && ms[mi] > 9) continue;
                for (int q = 0; q < 2; q++) {
                    const onc_type t = q ? ONC_TYPE_Q6_K : ONC_TYPE_Q4_K;
                    check_gemm_case(t, ks[ki], rows[ri], ms[mi], 0, 1);
                    check_gemm_case(t, ks[ki], rows[ri], ms[mi], 1, 1);
                }
            }
    for (int l = ONC_SIMD_SCALAR; l < ONC_SIMD_COUNT; l++) {
        if (!onc_simd_supported((onc_simd_level)l)) continue;
        onc_simd_force((onc_simd_level)l);
        const bool r16 = l == ONC_SIMD_AVX512;
        assert_int_equal(onc_repack_type(ONC_TYPE_Q4_K, 32, 512), r16 ? ONC_TYPE_Q4_K_R16 : ONC_TYPE_Q4_K);
        assert_int_equal(onc_repack_type(ONC_TYPE_Q6_K, 32, 512), r16 ? ONC_TYPE_Q6_K_R16 : ONC_TYPE_Q6_K);
        assert_int_equal(onc_repack_type(ONC_TYPE_Q4_K, 17, 512), ONC_TYPE_Q4_K);
        assert_int_equal(onc_repack_type(ONC_TYPE_Q8_0, 32, 512), ONC_TYPE_Q8_0);
    }
    onc_simd_force(ONC_SIMD_COUNT);
    onc_type t;
    assert_false(onc_type_from_name("q4_K_r16", &t)); /* not a file type: not offered by name */
    assert_false(onc_type_from_name("q6_K_r16", &t));
    assert_true(onc_type_traits_of(ONC_TYPE_Q4_K_R16)->memory_only);
    assert_true(onc_type_traits_of(ONC_TYPE_Q6_K_R16)->memory_only);
    /* and never written to a file */
    onc_gguf_writer *gw = onc_gguf_writer_new();
    onc_error err = {0};
    static uint8_t blk[16 * 144];
    assert_int_equal(onc_gguf_add_tensor(gw, "w", ONC_TYPE_Q4_K_R16, 2, (int64_t[]){256, 16}, blk, NULL, NULL, &err),
                     ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "in-memory layout"));
    onc_gguf_writer_free(gw);
}

// --- thread pool ---------------------------------------------------------------------------

typedef struct pool_ctx {
    int counts[8];
    int phase_ok;
    onc_threadpool *tp;
    int values[8];
} pool_ctx;

static void pool_task(void *vctx, int ith, int nth) {
    pool_ctx *c = vctx;
    c->counts[ith]++;
    for (int round = 0; round < 50; round++) {
        c->values[ith] = round;
        onc_threadpool_barrier(c->tp);
        for (int j = 0; j < nth; j++)
            if (c->values[j] != round) __atomic_store_n(&c->phase_ok, 0, __ATOMIC_RELAXED);
        onc_threadpool_barrier(c->tp);
    }
}

static void test_threadpool(void **state) {
    for (int nt = 1; nt <= 4; nt++) {
        onc_threadpool *tp = onc_threadpool_new(nt, NULL);
        assert_non_null(tp);
        assert_int_equal(onc_threadpool_n_threads(tp), nt);
        pool_ctx c;
        memset(&c, 0, sizeof c);
        c.phase_ok = 1;
        c.tp = tp;
        for (int k = 0; k < 40; k++) onc_threadpool_run(tp, pool_task, &c);
        for (int i = 0; i < nt; i++) assert_int_equal(c.counts[i], 40);
        assert_int_equal(c.phase_ok, 1);
        onc_threadpool_free(tp);
    }
    onc_threadpool_free(NULL);
    pool_ctx c;
    memset(&c, 0, sizeof c);
    c.phase_ok = 1;
    onc_threadpool_run(NULL, pool_task, &c); /* NULL pool: caller alone */
    assert_int_equal(c.counts[0], 1);
}

// --- backend --------------------------------------------------------------------------------

static void test_backend_mul_mat(void **state) {
    onc_error err = {0};
    for (int nt = 1; nt <= 3; nt++) {
        onc_backend *be = onc_backend_cpu_new(nt, &err);
        assert_non_null(be);
        assert_string_equal(onc_backend_name(be), "cpu");
        for (int ti = 0; ti < N_TYPES; ti++) {
            const onc_type t = kTypes[ti];
            const int64_t K = onc_type_traits_of(t)->block_size == 256 ? 768 : 96, N = 45, M = nt == 2 ? 1 : 11;
            float *wf = malloc((size_t)(K * N) * 4), *xf = malloc((size_t)(K * M) * 4);
            fill(wf, K * N, 0.5f);
            fill(xf, K * M, 2.0f);
            const size_t rs = onc_type_row_size(t, K);
            onc_backend_buffer *wb = onc_backend_buffer_alloc(be, rs * N, &err);
            onc_backend_buffer *xb = onc_backend_buffer_alloc(be, (size_t)(K * M) * 4, &err);
            onc_backend_buffer *yb = onc_backend_buffer_alloc(be, (size_t)(N * M) * 4, &err);
            assert_true(wb && xb && yb && onc_backend_buffer_is_host(wb));
            onc_tensor W, X, Y;
            onc_tensor_init(&W, t, 2, (int64_t[]){K, N}, onc_backend_buffer_base(wb), wb, "w");
            onc_tensor_init(&X, ONC_TYPE_F32, 2, (int64_t[]){K, M}, onc_backend_buffer_base(xb), xb, "x");
            onc_tensor_init(&Y, ONC_TYPE_F32, 2, (int64_t[]){N, M}, onc_backend_buffer_base(yb), yb, "y");
            char *wq = malloc(rs * N);
            for (int64_t r = 0; r < N; r++) onc_quantize_row(t, wf + r * K, wq + r * rs, K);
            assert_int_equal(onc_backend_tensor_set(be, &W, wq, 0, rs * N, &err), ONC_OK);
            assert_int_equal(onc_backend_tensor_set(be, &X, xf, 0, (size_t)(K * M) * 4, &err), ONC_OK);
            assert_int_equal(onc_backend_mul_mat(be, &Y, &W, &X, &err), ONC_OK);
            assert_int_equal(onc_backend_synchronize(be, &err), ONC_OK);
            float *y = malloc((size_t)(N * M) * 4), *wd = malloc((size_t)K * 4);
            assert_int_equal(onc_backend_tensor_get(be, &Y, y, 0, (size_t)(N * M) * 4, &err), ONC_OK);
            const onc_type vt = onc_vec_dot_type(t);
            for (int64_t r = 0; r < N; r++) {
                onc_dequantize_row(t, wq + r * rs, wd, K);
                for (int64_t i = 0; i < M; i++) {
                    const float *x = xf + i * K;
                    double s = 0, bound = 0, ab = 0;
                    const int64_t bk = vt == ONC_TYPE_Q8_0 ? 32 : 256;
                    for (int64_t k = 0; k < K; k++) {
                        s += (double)wd[k] * x[k];
                        ab += fabs((double)wd[k] * x[k]);
                        double e;
                        if (vt == ONC_TYPE_Q8_0 || vt == ONC_TYPE_Q8_K) {
                            float amax = 0;
                            for (int64_t j = k / bk * bk; j < k / bk * bk + bk; j++) amax = fmaxf(amax, fabsf(x[j]));
                            e = amax / 127.0 / 2.0 * 1.0001;
                        } else if (vt == ONC_TYPE_F16) {
                            e = fabs(x[k]) / 2048.0;
                        } else if (vt == ONC_TYPE_BF16) {
                            e = fabs(x[k]) / 256.0;
                        } else {
                            e = 0;
                        }
                        bound += fabs(wd[k]) * e;
                    }
                    const double tol = bound + 1e-5 * ab + 1e-30;
                    if (!(fabs(y[i * N + r] - s) <= tol))
                        fail_msg("backend mul_mat %s threads %d [%lld,%lld]: %.9g vs naive %.9g (tol %.3g)",
                                 onc_type_traits_of(t)->name, nt, (long long)i, (long long)r, y[i * N + r], s, tol);
                }
            }
            /* get_rows: dequantized rows */
            onc_backend_buffer *gb = onc_backend_buffer_alloc(be, (size_t)K * 3 * 4, &err);
            onc_tensor G;
            onc_tensor_init(&G, ONC_TYPE_F32, 2, (int64_t[]){K, 3}, onc_backend_buffer_base(gb), gb, "g");
            const int32_t ids[3] = {44, 0, 7};
            assert_int_equal(onc_backend_get_rows(be, &G, &W, ids, 3, &err), ONC_OK);
            for (int j = 0; j < 3; j++) {
                onc_dequantize_row(t, wq + ids[j] * rs, wd, K);
                assert_memory_equal((float *)G.data + j * K, wd, (size_t)K * 4);
            }
            const int32_t bad[1] = {45};
            assert_int_equal(onc_backend_get_rows(be, &G, &W, bad, 1, &err), ONC_ERR_INVALID);
            onc_backend_buffer_free(gb);
            /* shape mismatch is reported, not crashed on */
            onc_tensor Xbad = X;
            Xbad.ne[0] = K - onc_type_traits_of(t)->block_size;
            assert_int_equal(onc_backend_mul_mat(be, &Y, &W, &Xbad, &err), ONC_ERR_INVALID);
            free(wf);
            free(xf);
            free(wq);
            free(y);
            free(wd);
            onc_backend_buffer_free(wb);
            onc_backend_buffer_free(xb);
            onc_backend_buffer_free(yb);
        }
        onc_backend_free(be);
    }
}

static void test_backend_elementwise(void **state) {
    onc_error err = {0};
    onc_backend *be = onc_backend_cpu_new(2, &err);
    assert_non_null(be);
    const int64_t C = 300, R = 33; /* > 4096 elements: threaded */
    float *a = malloc((size_t)(C * R) * 4), *b = malloc((size_t)(C * R) * 4), *o = malloc((size_t)(C * R) * 4);
    fill(a, C * R, 3.0f);
    fill(b, C * R, 1.0f);
    onc_tensor A, B, B1, O;
    onc_tensor_init(&A, ONC_TYPE_F32, 2, (int64_t[]){C, R}, a, NULL, "a");
    onc_tensor_init(&B, ONC_TYPE_F32, 2, (int64_t[]){C, R}, b, NULL, "b");
    onc_tensor_init(&B1, ONC_TYPE_F32, 1, (int64_t[]){C}, b, NULL, "b1");
    onc_tensor_init(&O, ONC_TYPE_F32, 2, (int64_t[]){C, R}, o, NULL, "o");
    assert_int_equal(onc_backend_add(be, &O, &A, &B, &err), ONC_OK);
    for (int64_t i = 0; i < C * R; i++) assert_true(o[i] == a[i] + b[i]);
    assert_int_equal(onc_backend_mul(be, &O, &A, &B1, &err), ONC_OK);
    for (int64_t i = 0; i < C * R; i++) assert_true(o[i] == a[i] * b[i % C]);
    assert_int_equal(onc_backend_scale(be, &O, &A, 0.25f, &err), ONC_OK);
    for (int64_t i = 0; i < C * R; i++) assert_true(o[i] == a[i] * 0.25f);
    assert_int_equal(onc_backend_silu(be, &O, &A, &err), ONC_OK);
    for (int64_t i = 0; i < C * R; i++) assert_true(fabs(o[i] - a[i] / (1 + exp(-a[i]))) <= 1e-5 * (1 + fabs(a[i])));
    assert_int_equal(onc_backend_gelu(be, &O, &A, &err), ONC_OK);
    for (int64_t i = 0; i < C * R; i++) {
        const double v = a[i], g = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        assert_true(fabs(o[i] - g) <= 1e-5 * (1 + fabs(v)));
    }
    assert_int_equal(onc_backend_gelu_erf(be, &O, &A, &err), ONC_OK);
    for (int64_t i = 0; i < C * R; i++) {
        const double v = a[i], g = 0.5 * v * (1 + erf(v / sqrt(2.0)));
        assert_true(fabs(o[i] - g) <= 1e-6 * (1 + fabs(v)));
    }
    assert_int_equal(onc_backend_tanh(be, &O, &A, &err), ONC_OK);
    for (int64_t i = 0; i < C * R; i++) assert_true(fabs(o[i] - tanh(a[i])) <= 1e-6);
    assert_int_equal(onc_backend_rms_norm(be, &O, &A, 1e-6f, &err), ONC_OK);
    for (int64_t r = 0; r < R; r++) {
        double ss = 0;
        for (int64_t i = 0; i < C; i++) ss += (double)a[r * C + i] * a[r * C + i];
        const double sc = 1 / sqrt(ss / C + 1e-6);
        for (int64_t i = 0; i < C; i++) assert_true(fabs(o[r * C + i] - a[r * C + i] * sc) <= 1e-5);
    }
    assert_int_equal(onc_backend_layer_norm(be, &O, &A, 1e-5f, &err), ONC_OK);
    for (int64_t r = 0; r < R; r++) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < C; i++) mean += a[r * C + i];
        mean /= C;
        for (int64_t i = 0; i < C; i++) var += (a[r * C + i] - mean) * (a[r * C + i] - mean);
        const double sc = 1 / sqrt(var / C + 1e-5);
        for (int64_t i = 0; i < C; i++) assert_true(fabs(o[r * C + i] - (a[r * C + i] - mean) * sc) <= 1e-5);
    }
    /* fused gain and bias: the same values as layer_norm, mul, add */
    {
        float *g = malloc((size_t)C * 4), *bb = malloc((size_t)C * 4), *o2 = malloc((size_t)(C * R) * 4);
        fill(g, C, 2.0f);
        fill(bb, C, 1.0f);
        onc_tensor G, BB, O2;
        onc_tensor_init(&G, ONC_TYPE_F32, 1, (int64_t[]){C}, g, NULL, "g");
        onc_tensor_init(&BB, ONC_TYPE_F32, 1, (int64_t[]){C}, bb, NULL, "bb");
        onc_tensor_init(&O2, ONC_TYPE_F32, 2, (int64_t[]){C, R}, o2, NULL, "o2");
        assert_int_equal(onc_backend_layer_norm(be, &O, &A, 1e-5f, &err), ONC_OK);
        assert_int_equal(onc_backend_mul(be, &O, &O, &G, &err), ONC_OK);
        assert_int_equal(onc_backend_add(be, &O, &O, &BB, &err), ONC_OK);
        assert_int_equal(onc_backend_layer_norm_affine(be, &O2, &A, &G, &BB, 1e-5f, &err), ONC_OK);
        for (int64_t i = 0; i < C * R; i++) assert_true(fabs(o2[i] - o[i]) <= 1e-6 * (1 + fabs(o[i])));
        assert_int_equal(onc_backend_layer_norm_affine(be, &O2, &A, &A, &BB, 1e-5f, &err), ONC_ERR_INVALID);
        free(g), free(bb), free(o2);
    }
    a[0] = -INFINITY;
    assert_int_equal(onc_backend_softmax(be, &O, &A, 0.5f, &err), ONC_OK);
    for (int64_t r = 0; r < R; r++) {
        double mx = -INFINITY, sum = 0;
        for (int64_t i = 0; i < C; i++) mx = fmax(mx, 0.5 * a[r * C + i]);
        for (int64_t i = 0; i < C; i++) sum += exp(0.5 * a[r * C + i] - mx);
        double tot = 0;
        for (int64_t i = 0; i < C; i++) {
            assert_true(fabs(o[r * C + i] - exp(0.5 * a[r * C + i] - mx) / sum) <= 1e-6);
            tot += o[r * C + i];
        }
        assert_true(fabs(tot - 1) < 1e-5);
    }
    assert_true(o[0] == 0.0f);
    /* in place + errors */
    assert_int_equal(onc_backend_scale(be, &A, &A, 2.0f, &err), ONC_OK);
    onc_tensor Q = A;
    Q.type = ONC_TYPE_F16;
    assert_int_equal(onc_backend_silu(be, &O, &Q, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "silu"));
    onc_tensor small = O;
    small.ne[1] = 2;
    assert_int_equal(onc_backend_add(be, &small, &A, &B, &err), ONC_ERR_INVALID);
    free(a);
    free(b);
    free(o);
    onc_backend_free(be);
    onc_backend_free(NULL);
}

static void test_simd_levels(void **state) {
    const onc_simd_level d = onc_simd_detect();
    assert_true(onc_simd_supported(ONC_SIMD_SCALAR));
    assert_int_equal(onc_simd_force(ONC_SIMD_SCALAR), ONC_SIMD_SCALAR);
    assert_int_equal(onc_simd_force(ONC_SIMD_AVX512), d); /* capped */
    onc_simd_force(ONC_SIMD_COUNT);
    assert_true(onc_simd_level_get() <= d);
    assert_int_equal((int)onc_vec_dot_type(ONC_TYPE_Q4_1), -1);
    assert_null(onc_vec_dot_get(ONC_TYPE_Q4_1, ONC_SIMD_SCALAR));
    assert_int_equal(onc_vec_dot_type(ONC_TYPE_Q5_K), ONC_TYPE_Q8_K);
    assert_int_equal(onc_vec_dot_type(ONC_TYPE_Q4_0), ONC_TYPE_Q8_0);
    assert_int_equal(onc_vec_dot_type(ONC_TYPE_BF16), ONC_TYPE_BF16);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simd_levels),        cmocka_unit_test(test_vec_dot_all),
        cmocka_unit_test(test_vec_dot_extreme_blocks), cmocka_unit_test(test_matmul_paths),
        cmocka_unit_test(test_gemm_shapes),        cmocka_unit_test(test_repack),
        cmocka_unit_test(test_threadpool),         cmocka_unit_test(test_backend_mul_mat),
        cmocka_unit_test(test_backend_elementwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
