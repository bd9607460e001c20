/* bench_kernels.c — throughput of the weight x activation kernels.
 *
 *   bench_kernels [--types q4_K,q8_0,...] [--levels scalar,avx2,avx512]
 *                 [--threads 1,2] [--shapes 4096x4096,11008x4096] [--m 32,512]
 *                 [--min-time 0.3] [--repeat 1]
 *
 * For each weight type, SIMD level, thread count and shape ROWSxCOLS (W has
 * ROWS rows of COLS elements, as ggml ne = {COLS, ROWS}), times
 *   matvec: y = W x (one token; reads all of W once: bandwidth bound), and
 *   matmul: Y = X W^T for each --m count of activation rows (prompt batch;
 *           m >= 4 (AVX-512) / 12 (AVX2) takes the GEMM path, see
 *           src/compute/gemm.h),
 * through onc_mul_mat_f32 (activation conversion included), and prints
 * GFLOP/s (2*ROWS*COLS*m / time), GB/s of weight bytes streamed per
 * matvec, and per m the matmul GFLOP/s and speed-up per token over m
 * separate matvecs. --repeat R times every measurement R times and keeps
 * the best (shared machines: other jobs only ever slow a run down).
 * Also prints a read-bandwidth baseline (sum over a 256 MiB buffer).
 * Types q4_K_r16 / q6_K_r16 are Q4_K / Q6_K repacked as at model load
 * (oncolm/compute.h, onc_repack_rows; ROWS a multiple of 16). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oncolm/compute.h"
#include "oncolm/types.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int split_list(char *s, char **out, int max) {
    int n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ",")) out[n++] = tok;
    return n;
}

typedef struct bw_ctx {
    const double *p;
    size_t n;
    double sums[64];
} bw_ctx;

static void bw_task(void *vctx, int ith, int nth) {
    bw_ctx *c = vctx;
    int64_t lo, hi;
    onc_split_range((int64_t)c->n, ith, nth, &lo, &hi);
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t i = lo; i + 4 <= hi; i += 4) {
        s0 += c->p[i];
        s1 += c->p[i + 1];
        s2 += c->p[i + 2];
        s3 += c->p[i + 3];
    }
    c->sums[ith] = s0 + s1 + s2 + s3;
}

typedef struct run_t {
    double sec; /* per call */
} run_t;

static run_t time_mm1(onc_threadpool *tp, float *y, onc_type t, const void *w, size_t rs, int64_t rows,
                      const float *x, int64_t cols, int64_t m, double min_time) {
    onc_mul_mat_f32(tp, y, rows, t, w, rs, rows, x, cols, cols, m, NULL); /* warm up */
    int iters = 0;
    const double t0 = now();
    double t1;
    do {
        onc_mul_mat_f32(tp, y, rows, t, w, rs, rows, x, cols, cols, m, NULL);
        iters++;
        t1 = now();
    } while (t1 - t0 < min_time || iters < 3);
    return (run_t){(t1 - t0) / iters};
}

static int repeat = 1;
static run_t time_mm(onc_threadpool *tp, float *y, onc_type t, const void *w, size_t rs, int64_t rows,
                     const float *x, int64_t cols, int64_t m, double min_time) {
    run_t best = time_mm1(tp, y, t, w, rs, rows, x, cols, m, min_time);
    for (int r = 1; r < repeat; r++) {
        const run_t b = time_mm1(tp, y, t, w, rs, rows, x, cols, m, min_time);
        if (b.sec < best.sec) best = b;
    }
    return best;
}

int main(int argc, char **argv) {
    char types_s[256] = "f32,f16,bf16,q8_0,q4_0,q4_K,q5_K,q6_K", levels_s[64] = "scalar,avx2,avx512";
    char threads_s[64] = "1,2", shapes_s[128] = "4096x4096,11008x4096", ms_s[128] = "32";
    double min_time = 0.3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--types")) snprintf(types_s, sizeof types_s, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--levels")) snprintf(levels_s, sizeof levels_s, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) snprintf(threads_s, sizeof threads_s, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--shapes")) snprintf(shapes_s, sizeof shapes_s, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--m")) snprintf(ms_s, sizeof ms_s, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[i + 1]) > 0 ? atoi(argv[i + 1]) : 1;
        else if (!strcmp(argv[i], "--min-time")) min_time = atof(argv[i + 1]);
        else {
            fprintf(stderr, "bench_kernels: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    char *types[16], *levels[4], *threads[8], *shapes[8], *ms_str[16];
    const int nt = split_list(types_s, types, 16), nl = split_list(levels_s, levels, 4);
    const int nth = split_list(threads_s, threads, 8), ns = split_list(shapes_s, shapes, 8);
    const int nm = split_list(ms_s, ms_str, 16);
    int64_t ms[16], m = 1;
    for (int i = 0; i < nm; i++) {
        ms[i] = atoll(ms_str[i]) > 0 ? atoll(ms_str[i]) : 1;
        if (ms[i] > m) m = ms[i];
    }

    printf("# detected SIMD level: %s (avx512bf16: %s)\n", onc_simd_name(onc_simd_detect()),
           onc_cpu_has_avx512bf16() ? "yes" : "no");
    /* read bandwidth baseline */
    {
        const size_t n = (256u << 20) / sizeof(double);
        double *buf = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++) buf[i] = (double)i;
        for (int k = 0; k < nth; k++) {
            onc_threadpool *tp = onc_threadpool_new(atoi(threads[k]), NULL);
            bw_ctx c = {buf, n, {0}};
            onc_threadpool_run(tp, bw_task, &c);
            const double t0 = now();
            for (int r = 0; r < 5; r++) onc_threadpool_run(tp, bw_task, &c);
            const double dt = (now() - t0) / 5;
            printf("# read bandwidth, %s thread(s): %.1f GB/s (sum over 256 MiB)\n", threads[k],
                   n * sizeof(double) / dt / 1e9);
            onc_threadpool_free(tp);
        }
        free(buf);
    }
    printf("| type | level | thr | shape (rows x cols) | weights MB | matvec ms | matvec GB/s | matvec GFLOP/s |");
    for (int i = 0; i < nm; i++) printf(" m=%lld ms | m=%lld GFLOP/s | m=%lld speed-up/token |", (long long)ms[i], (long long)ms[i], (long long)ms[i]);
    printf("\n|---|---|---|---|---|---|---|---|");
    for (int i = 0; i < nm; i++) printf("---|---|---|");
    printf("\n");
    for (int si = 0; si < ns; si++) {
        int64_t rows, cols;
        if (sscanf(shapes[si], "%lldx%lld", (long long *)&rows, (long long *)&cols) != 2) return 2;
        float *wf = malloc((size_t)(rows * cols) * 4), *x = malloc((size_t)(m * cols) * 4);
        float *y = malloc((size_t)(m * rows) * 4);
        srand(1);
        for (int64_t i = 0; i < rows * cols; i++) wf[i] = (float)rand() / RAND_MAX - 0.5f;
        for (int64_t i = 0; i < m * cols; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
        for (int ti = 0; ti < nt; ti++) {
            onc_type t;
            const bool r16 = !strcmp(types[ti], "q4_K_r16") || !strcmp(types[ti], "q6_K_r16");
            if (r16 && rows % 16) {
                fprintf(stderr, "bench_kernels: %s needs rows a multiple of 16\n", types[ti]);
                continue;
            }
            if (r16) t = types[ti][1] == '4' ? ONC_TYPE_Q4_K : ONC_TYPE_Q6_K;
            else if (!onc_type_from_name(types[ti], &t) || !onc_vec_dot_get(t, ONC_SIMD_SCALAR)) {
                fprintf(stderr, "bench_kernels: no kernels for type %s\n", types[ti]);
                continue;
            }
            const size_t rs = onc_type_row_size(t, cols);
            char *w = malloc(rs * (size_t)rows);
            for (int64_t r = 0; r < rows; r++) onc_quantize_row(t, wf + r * cols, w + r * rs, cols);
            if (r16) {
                char *rw = aligned_alloc(64, (rs * (size_t)rows + 63) & ~(size_t)63);
                t = onc_repack_type(t, rows, cols);
                onc_repack_rows(t, rw, w, rs, rows, cols);
                free(w);
                w = rw;
            }
            for (int li = 0; li < nl; li++) {
                onc_simd_level lv = !strcmp(levels[li], "scalar") ? ONC_SIMD_SCALAR
                                    : !strcmp(levels[li], "avx2") ? ONC_SIMD_AVX2
                                                                  : ONC_SIMD_AVX512;
                if (!onc_simd_supported(lv)) continue;
                onc_simd_force(lv);
                for (int hi = 0; hi < nth; hi++) {
                    onc_threadpool *tp = onc_threadpool_new(atoi(threads[hi]), NULL);
                    const run_t mv = time_mm(tp, y, t, w, rs, rows, x, cols, 1, min_time);
                    const double flop = 2.0 * rows * cols;
                    printf("| %s | %s | %s | %lldx%lld | %.1f | %.3f | %.1f | %.1f |", types[ti], levels[li],
                           threads[hi], (long long)rows, (long long)cols, rs * rows / 1e6, mv.sec * 1e3,
                           rs * rows / mv.sec / 1e9, flop / mv.sec / 1e9);
                    for (int i = 0; i < nm; i++) {
                        const run_t mm = time_mm(tp, y, t, w, rs, rows, x, cols, ms[i], min_time);
                        printf(" %.2f | %.1f | %.2fx |", mm.sec * 1e3, flop * ms[i] / mm.sec / 1e9, mv.sec * ms[i] / mm.sec);
                    }
                    printf("\n");
                    fflush(stdout);
                    onc_threadpool_free(tp);
                }
            }
            onc_simd_force(ONC_SIMD_COUNT);
            free(w);
        }
        free(wf);
        free(x);
        free(y);
    }
    return 0;
}
