/* bench_train.c — timings of the training kernels (oncolm/train_ops.h):
 *
 *   bench_train [--op linear|attn|all] [--type q4_K] [--min-time 0.3] [--threads N]
 *
 * linear: onc_linear_fwd (y = x W^T) and onc_linear_bwd_input (dx += dy W)
 * through a random weight of the given type, shapes rows x cols = n_out x
 * n_in of 4096x4096, 14336x4096 and 4096x14336 (the Llama-8B projections),
 * T = 64 and 512 tokens, 1 and 2 threads (or N only).
 * attn: onc_attention_fwd / onc_attention_bwd, causal, T = 512, H = 32,
 * Hkv = 8, Dh = 128, 1 and 2 threads.
 * Each number is the best of repeated runs lasting at least --min-time
 * seconds in all (results in docs/PERFORMANCE.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oncolm/compute.h"
#include "oncolm/rng.h"
#include "oncolm/train_ops.h"
#include "oncolm/types.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill(float *x, size_t n, uint64_t seed, float amp) {
    onc_rng r;
    onc_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = amp * ((float)(onc_rng_next(&r) >> 40) * (1.0f / 16777216.0f) - 0.5f);
}

static double min_time = 0.3;
static int thr_lo = 1, thr_hi = 2; /* thread counts measured */

typedef void (*bench_fn)(void *ctx);

/* Best time of one call in ms: run until min_time spent (at least 2 calls,
 * the first a warm-up). */
static double best_ms(bench_fn fn, void *ctx) {
    fn(ctx);
    double best = 1e30, spent = 0;
    int n = 0;
    while (n < 2 || spent < min_time) {
        const double t0 = now_s();
        fn(ctx);
        const double dt = now_s() - t0;
        best = dt < best ? dt : best;
        spent += dt;
        n++;
    }
    return best * 1e3;
}

typedef struct lin_ctx {
    onc_threadpool *tp;
    onc_matrix w;
    float *x, *y, *dy, *dx;
    int64_t T;
} lin_ctx;

static void run_fwd(void *v) {
    lin_ctx *c = v;
    onc_error err;
    if (onc_linear_fwd(c->tp, c->y, c->w.n_out, &c->w, c->x, c->w.n_in, c->T, &err)) abort();
}

static void run_bwd(void *v) {
    lin_ctx *c = v;
    onc_error err;
    if (onc_linear_bwd_input(c->tp, c->dx, c->w.n_in, &c->w, c->dy, c->w.n_out, c->T, &err)) abort();
}

static void bench_linear(onc_type type) {
    const int64_t shapes[][2] = {{4096, 4096}, {14336, 4096}, {4096, 14336}};
    const int64_t Ts[] = {64, 512};
    printf("| type | shape (n_out x n_in) | T | thr | fwd ms | bwd_input ms | bwd GFLOP/s |\n|---|---|---|---|---|---|---|\n");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int64_t n_out = shapes[si][0], n_in = shapes[si][1];
        const size_t rs = onc_type_row_size(type, n_in);
        char *wd = malloc(rs * (size_t)n_out);
        float *row = malloc((size_t)n_in * sizeof(float));
        for (int64_t r = 0; r < n_out; r++) {
            fill(row, (size_t)n_in, 1000 + (uint64_t)r, 0.1f);
            onc_quantize_row(type, row, wd + (size_t)r * rs, n_in);
        }
        free(row);
        for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
            const int64_t T = Ts[ti];
            lin_ctx c = {.w = {type, wd, rs, n_out, n_in}, .T = T};
            c.x = malloc((size_t)(T * n_in) * sizeof(float));
            c.dx = calloc((size_t)(T * n_in), sizeof(float));
            c.y = malloc((size_t)(T * n_out) * sizeof(float));
            c.dy = malloc((size_t)(T * n_out) * sizeof(float));
            fill(c.x, (size_t)(T * n_in), 1, 1.0f);
            fill(c.dy, (size_t)(T * n_out), 2, 1.0f);
            for (int nth = thr_lo; nth <= thr_hi; nth++) {
                onc_error err;
                c.tp = nth > 1 ? onc_threadpool_new(nth, &err) : NULL;
                const double tf = best_ms(run_fwd, &c), tb = best_ms(run_bwd, &c);
                printf("| %s | %lldx%lld | %lld | %d | %.2f | %.2f | %.1f |\n", onc_type_traits_of(type)->name,
                       (long long)n_out, (long long)n_in, (long long)T, nth, tf, tb,
                       2.0 * (double)T * (double)n_out * (double)n_in / (tb * 1e6));
                fflush(stdout);
                onc_threadpool_free(c.tp);
            }
            free(c.x);
            free(c.dx);
            free(c.y);
            free(c.dy);
        }
        free(wd);
    }
}

typedef struct attn_bctx {
    onc_threadpool *tp;
    int64_t T, H, Hkv, Dh;
    float *q, *k, *v, *out, *lse, *dout, *dq, *dk, *dv;
    int32_t *lo, *hi;
} attn_bctx;

static void run_attn_fwd(void *v) {
    attn_bctx *c = v;
    onc_error err;
    const int64_t E = c->H * c->Dh, Ek = c->Hkv * c->Dh;
    if (onc_attention_fwd(c->tp, c->out, E, c->lse, c->q, E, c->k, Ek, c->v, Ek, c->T, c->H, c->Hkv, c->Dh, c->lo,
                          c->hi, 1.0f / sqrtf((float)c->Dh), &err))
        abort();
}

static void run_attn_bwd(void *v) {
    attn_bctx *c = v;
    onc_error err;
    const int64_t E = c->H * c->Dh, Ek = c->Hkv * c->Dh;
    if (onc_attention_bwd(c->tp, c->dq, c->dk, c->dv, c->dout, E, c->out, c->lse, c->q, E, c->k, Ek, c->v, Ek, c->T,
                          c->H, c->Hkv, c->Dh, c->lo, c->hi, 1.0f / sqrtf((float)c->Dh), &err))
        abort();
}

static void bench_attn(void) {
    attn_bctx c = {.T = 512, .H = 32, .Hkv = 8, .Dh = 128};
    const size_t nq = (size_t)(c.T * c.H * c.Dh), nk = (size_t)(c.T * c.Hkv * c.Dh);
    c.q = malloc(nq * 4), c.out = malloc(nq * 4), c.dout = malloc(nq * 4), c.dq = calloc(nq, 4);
    c.k = malloc(nk * 4), c.v = malloc(nk * 4), c.dk = calloc(nk, 4), c.dv = calloc(nk, 4);
    c.lse = malloc((size_t)(c.T * c.H) * 4);
    c.lo = malloc((size_t)c.T * 4), c.hi = malloc((size_t)c.T * 4);
    for (int64_t t = 0; t < c.T; t++) c.lo[t] = 0, c.hi[t] = (int32_t)t + 1;
    fill(c.q, nq, 3, 2.0f), fill(c.k, nk, 4, 2.0f), fill(c.v, nk, 5, 2.0f), fill(c.dout, nq, 6, 1.0f);
    printf("\n| attention causal T=%lld H=%lld Hkv=%lld Dh=%lld | thr | fwd ms | bwd ms |\n|---|---|---|---|\n",
           (long long)c.T, (long long)c.H, (long long)c.Hkv, (long long)c.Dh);
    for (int nth = thr_lo; nth <= thr_hi; nth++) {
        onc_error err;
        c.tp = nth > 1 ? onc_threadpool_new(nth, &err) : NULL;
        const double tf = best_ms(run_attn_fwd, &c), tb = best_ms(run_attn_bwd, &c);
        printf("| | %d | %.2f | %.2f |\n", nth, tf, tb);
        fflush(stdout);
        onc_threadpool_free(c.tp);
    }
}

int main(int argc, char **argv) {
    const char *op = "all";
    onc_type type = ONC_TYPE_Q4_K;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--op") && i + 1 < argc)
            op = argv[++i];
        else if (!strcmp(argv[i], "--min-time") && i + 1 < argc)
            min_time = atof(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            thr_lo = thr_hi = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
            const char *name = argv[++i];
            type = (onc_type)-1;
            for (int t = 0; t < ONC_TYPE_COUNT; t++)
                if (onc_type_traits_of((onc_type)t)->name && !strcmp(onc_type_traits_of((onc_type)t)->name, name))
                    type = (onc_type)t;
            if (type == (onc_type)-1) {
                fprintf(stderr, "bench_train: unknown type %s\n", name);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: bench_train [--op linear|attn|all] [--type q4_K] [--min-time S] [--threads N]\n");
            return 2;
        }
    }
    if (!strcmp(op, "linear") || !strcmp(op, "all")) bench_linear(type);
    if (!strcmp(op, "attn") || !strcmp(op, "all")) bench_attn();
    return 0;
}
