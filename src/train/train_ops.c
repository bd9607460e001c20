/* train_ops.c — forward/backward kernels for training (oncolm/train_ops.h):
 * norms, activations, RoPE, linear layers (frozen quantized weights), LoRA,
 * embedding backward and the losses. Attention is in train_ops_attn.c.
 *
 * Forward passes repeat the CPU backend's arithmetic (backend_cpu.c,
 * backend_cpu_llm.c) so that training and inference agree. Products go
 * through OpenBLAS run single-threaded inside our pool (onc_blas_single_thread)
 * with fixed-size blocks, so results never depend on the thread count. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compute/gemm.h"
#include "oncolm/rng.h"
#include "oncolm/train_ops.h"
#include "train/train_dequant.h"

// --- norms -------------------------------------------------------------------------

/* Same arithmetic as backend_cpu.c do_norm(ONC_NORM_RMS): sum of squares in
 * double, scale rounded to float, then y = x * sc * w. */
void onc_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int64_t T, int64_t D, float eps) {
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * D;
        float *yr = y + t * D;
        double ss = 0;
        for (int64_t i = 0; i < D; i++) ss += (double)xr[i] * (double)xr[i];
        const float sc = (float)(1.0 / sqrt(ss / (double)D + eps));
        if (w)
            for (int64_t i = 0; i < D; i++) yr[i] = xr[i] * sc * w[i];
        else
            for (int64_t i = 0; i < D; i++) yr[i] = xr[i] * sc;
        if (rstd) rstd[t] = sc;
    }
}

/* With g = dy * w and r = rstd: dx = r (g - x r^2 mean(g x)); dw += dy x r. */
void onc_rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *rstd, const float *w,
                     int64_t T, int64_t D) {
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * D, *g = dy + t * D;
        const double r = rstd[t];
        if (dx) {
            double gx = 0;
            for (int64_t i = 0; i < D; i++) gx += (double)g[i] * (w ? w[i] : 1.0f) * xr[i];
            const double c = r * r * gx / (double)D;
            float *dxr = dx + t * D;
            for (int64_t i = 0; i < D; i++) dxr[i] += (float)(r * ((double)g[i] * (w ? w[i] : 1.0f) - xr[i] * c));
        }
        if (dw)
            for (int64_t i = 0; i < D; i++) dw[i] += (float)((double)g[i] * xr[i] * r);
    }
}

/* As do_norm(ONC_NORM_LAYER): mean and variance in double. */
void onc_layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int64_t T,
                       int64_t D, float eps) {
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * D;
        float *yr = y + t * D;
        double mu = 0;
        for (int64_t i = 0; i < D; i++) mu += xr[i];
        mu /= (double)D;
        double ss = 0;
        for (int64_t i = 0; i < D; i++) ss += ((double)xr[i] - mu) * ((double)xr[i] - mu);
        const float sc = (float)(1.0 / sqrt(ss / (double)D + eps));
        for (int64_t i = 0; i < D; i++) {
            float v = (float)(xr[i] - mu) * sc;
            if (w) v *= w[i];
            if (b) v += b[i];
            yr[i] = v;
        }
        if (mean) mean[t] = (float)mu;
        if (rstd) rstd[t] = sc;
    }
}

/* xhat = (x - mean) r, g = dy w: dx = r (g - mean(g) - xhat mean(g xhat));
 * dw += dy xhat; db += dy. */
void onc_layernorm_bwd(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
                       const float *rstd, const float *w, int64_t T, int64_t D) {
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * D, *dyr = dy + t * D;
        const double mu = mean[t], r = rstd[t];
        if (dx) {
            double sg = 0, sgx = 0;
            for (int64_t i = 0; i < D; i++) {
                const double g = (double)dyr[i] * (w ? w[i] : 1.0f), xh = ((double)xr[i] - mu) * r;
                sg += g;
                sgx += g * xh;
            }
            sg /= (double)D;
            sgx /= (double)D;
            float *dxr = dx + t * D;
            for (int64_t i = 0; i < D; i++) {
                const double g = (double)dyr[i] * (w ? w[i] : 1.0f), xh = ((double)xr[i] - mu) * r;
                dxr[i] += (float)(r * (g - sg - xh * sgx));
            }
        }
        if (dw)
            for (int64_t i = 0; i < D; i++) dw[i] += (float)((double)dyr[i] * ((double)xr[i] - mu) * r);
        if (db)
            for (int64_t i = 0; i < D; i++) db[i] += dyr[i];
    }
}

// --- activations ---------------------------------------------------------------------

void onc_swiglu_fwd(float *out, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

/* silu'(g) = s (1 + g (1 - s)), s = sigmoid(g). */
void onc_swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i], s = 1.0f / (1.0f + expf(-g));
        if (dgate) dgate[i] += dout[i] * up[i] * s * (1.0f + g * (1.0f - s));
        if (dup) dup[i] += dout[i] * g * s;
    }
}

void onc_gelu_erf_fwd(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

/* gelu'(x) = Phi(x) + x phi(x). */
void onc_gelu_erf_bwd(float *dx, const float *dy, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        const float d = 0.5f * (1.0f + erff(v * 0.70710678118654752f)) + v * 0.39894228040143268f * expf(-0.5f * v * v);
        dx[i] += dy[i] * d;
    }
}

// --- rope -----------------------------------------------------------------------------

/* cos/sin table of one position, exactly as backend_cpu_llm.c rope_run. */
static void rope_table(float *cs, int32_t pos, const onc_rope_params *p) {
    const int half = p->n_rot / 2;
    const float *ff = p->freq_factors ? (const float *)p->freq_factors->data : NULL;
    const float theta_scale = powf(p->freq_base, -2.0f / (float)p->n_rot);
    float theta = (float)pos * p->freq_scale;
    for (int i = 0; i < half; i++) {
        const float th = ff ? theta / ff[i] : theta;
        cs[2 * i] = cosf(th) * p->attn_factor;
        cs[2 * i + 1] = sinf(th) * p->attn_factor;
        theta *= theta_scale;
    }
}

/* dir = +1 rotates by theta (forward), -1 by -theta (the transpose). */
static void rope_apply(float *x, int64_t T, int64_t H, int64_t Dh, int64_t ld, const int32_t *pos,
                       const onc_rope_params *p, float dir) {
    ONC_ASSERT(p->n_rot >= 0 && p->n_rot <= 1024 && p->n_rot <= Dh && p->n_rot % 2 == 0);
    const int half = p->n_rot / 2;
    float cs[1024];
    for (int64_t t = 0; t < T; t++) {
        rope_table(cs, pos[t], p);
        for (int64_t h = 0; h < H; h++) {
            float *y = x + t * ld + h * Dh;
            const int64_t st = p->mode == ONC_ROPE_MODE_NORM ? 1 : half;
            const int64_t step = p->mode == ONC_ROPE_MODE_NORM ? 2 : 1;
            for (int i = 0; i < half; i++) {
                float *pa = y + i * step, *pb = pa + st;
                const float a = *pa, b = *pb, c = cs[2 * i], s = dir * cs[2 * i + 1];
                *pa = a * c - b * s;
                *pb = a * s + b * c;
            }
        }
    }
}

void onc_rope_fwd(float *x, int64_t T, int64_t H, int64_t Dh, int64_t ld, const int32_t *pos,
                  const onc_rope_params *p) {
    rope_apply(x, T, H, Dh, ld, pos, p, 1.0f);
}

void onc_rope_bwd(float *dx, int64_t T, int64_t H, int64_t Dh, int64_t ld, const int32_t *pos,
                  const onc_rope_params *p) {
    rope_apply(dx, T, H, Dh, ld, pos, p, -1.0f);
}

// --- linear layers ----------------------------------------------------------------------

static onc_status check_matrix(const onc_matrix *w, onc_error *err) {
    const onc_type_traits *tr = onc_type_traits_of(w->type);
    if (!tr->name || !tr->can_compute || onc_vec_dot_type(w->type) == (onc_type)-1)
        return onc_error_set(err, ONC_ERR_UNSUPPORTED, "matrix: type %d has no kernels", (int)w->type);
    if (w->n_out < 0 || w->n_in <= 0 || w->n_in % tr->block_size)
        return onc_error_set(err, ONC_ERR_INVALID, "matrix: bad shape %lld x %lld", (long long)w->n_out,
                             (long long)w->n_in);
    return ONC_OK;
}

/* F32 weights: the inference product is one OpenBLAS sgemm per thread over
 * its share of W's rows, whose sums depend on the share (OpenBLAS's edge
 * kernels sum in another order), hence on the thread count. Here W's rows
 * go in fixed blocks of FWD_ROWS, one sgemm (M = T, N = FWD_ROWS, K = n_in,
 * W read in place) per block, blocks shared out to the threads: the same
 * calls whatever the thread count. Same values as inference up to float
 * rounding (the activations are not rounded for F32 weights either). */
#define FWD_ROWS 256

typedef struct fwd_f32_task {
    float *y;
    int64_t ldy;
    const onc_matrix *w;
    const float *x;
    int64_t ldx, T;
} fwd_f32_task;

static void fwd_f32_run(void *ctx, int ith, int nth) {
    const fwd_f32_task *k = ctx;
    const onc_matrix *w = k->w;
    onc_blas_single_thread();
    int64_t b0, b1;
    onc_split_range((w->n_out + FWD_ROWS - 1) / FWD_ROWS, ith, nth, &b0, &b1);
    for (int64_t r0 = b0 * FWD_ROWS; r0 < b1 * FWD_ROWS && r0 < w->n_out; r0 += FWD_ROWS) {
        const int64_t nr = w->n_out - r0 < FWD_ROWS ? w->n_out - r0 : FWD_ROWS;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)k->T, (int)nr, (int)w->n_in, 1.0f, k->x,
                    (int)k->ldx, (const float *)((const char *)w->data + (size_t)r0 * w->stride),
                    (int)(w->stride / sizeof(float)), 0.0f, k->y + r0, (int)k->ldy);
    }
}

onc_status onc_linear_fwd(onc_threadpool *tp, float *y, int64_t ldy, const onc_matrix *w, const float *x,
                          int64_t ldx, int64_t T, onc_error *err) {
    onc_status st = check_matrix(w, err);
    if (st) return st;
    if (ldy < w->n_out || ldx < w->n_in)
        return onc_error_set(err, ONC_ERR_INVALID, "linear: row strides %lld, %lld below %lld, %lld", (long long)ldy,
                             (long long)ldx, (long long)w->n_out, (long long)w->n_in);
    if (T <= 0 || w->n_out == 0) return ONC_OK;
    if (w->type == ONC_TYPE_F32 && w->stride % sizeof(float) == 0) {
        fwd_f32_task k = {y, ldy, w, x, ldx, T};
        onc_threadpool_run(tp, fwd_f32_run, &k);
        return ONC_OK;
    }
    return onc_mul_mat_f32(tp, y, ldy, w->type, w->data, w->stride, w->n_out, x, ldx, w->n_in, T, err);
}

/* dx += dy W. The input columns are cut in fixed blocks of BWD_COLS (a
 * multiple of every block size); each thread owns a contiguous range of
 * blocks (onc_split_range). It walks its range BWD_PANEL columns at a time:
 * for each chunk of BWD_ROWS rows of W, in increasing order, it dequantizes
 * that chunk x panel into scratch (one row call per row, so the per-call
 * cost is amortized over several quant blocks; AVX-512 row dequantizers
 * for Q4_K/Q6_K, bit-identical to onc_dequantize_row; F32 is read in
 * place) and then issues
 * one sgemm per column block: dx[:, blk] += dy[:, chunk] W[chunk, blk]
 * (M = T, N = BWD_COLS, K = BWD_ROWS: shapes OpenBLAS runs near its peak).
 * Every element of dx sees the same sequence of sgemm calls (same shapes,
 * same operands) whatever the thread count, hence the same sums. */
#define BWD_ROWS 256
#define BWD_COLS 256
#define BWD_PANEL 1024 /* columns dequantized per row and call: 4 column blocks */

typedef struct bwd_task {
    float *dx;
    int64_t lddx;
    const onc_matrix *w;
    const float *dy;
    int64_t lddy, T;
    float *scratch; /* BWD_ROWS * BWD_PANEL per thread */
} bwd_task;

static void bwd_run(void *ctx, int ith, int nth) {
    const bwd_task *k = ctx;
    const onc_matrix *w = k->w;
    onc_blas_single_thread();
    float *panel = k->scratch + (size_t)ith * BWD_ROWS * BWD_PANEL;
    const int64_t nblk = (w->n_in + BWD_COLS - 1) / BWD_COLS;
    int64_t b0, b1;
    onc_split_range(nblk, ith, nth, &b0, &b1);
    const onc_train_dequant_fn fast = onc_train_dequant_get(w->type); /* SIMD, bit-identical, or NULL */
    for (int64_t p0 = b0 * BWD_COLS; p0 < b1 * BWD_COLS && p0 < w->n_in; p0 += BWD_PANEL) {
        int64_t p1 = p0 + BWD_PANEL;
        if (p1 > b1 * BWD_COLS) p1 = b1 * BWD_COLS;
        if (p1 > w->n_in) p1 = w->n_in;
        const int64_t pw = p1 - p0;
        const size_t off = onc_type_row_size(w->type, p0);
        for (int64_t r0 = 0; r0 < w->n_out; r0 += BWD_ROWS) {
            const int64_t nr = w->n_out - r0 < BWD_ROWS ? w->n_out - r0 : BWD_ROWS;
            const float *tile = panel;
            int64_t ldt = pw;
            if (w->type == ONC_TYPE_F32 && w->stride % sizeof(float) == 0) { /* read in place */
                tile = (const float *)((const char *)w->data + (size_t)r0 * w->stride) + p0;
                ldt = (int64_t)(w->stride / sizeof(float));
            } else {
                for (int64_t r = 0; r < nr; r++) {
                    const char *src = (const char *)w->data + (size_t)(r0 + r) * w->stride + off;
                    if (fast)
                        fast(src, panel + r * pw, pw);
                    else
                        onc_dequantize_row(w->type, src, panel + r * pw, pw);
                }
            }
            for (int64_t c0 = p0; c0 < p1; c0 += BWD_COLS) {
                const int64_t cw = p1 - c0 < BWD_COLS ? p1 - c0 : BWD_COLS;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)k->T, (int)cw, (int)nr, 1.0f,
                            k->dy + r0, (int)k->lddy, tile + (c0 - p0), (int)ldt, 1.0f, k->dx + c0, (int)k->lddx);
            }
        }
    }
}

onc_status onc_linear_bwd_input(onc_threadpool *tp, float *dx, int64_t lddx, const onc_matrix *w, const float *dy,
                                int64_t lddy, int64_t T, onc_error *err) {
    onc_status st = check_matrix(w, err);
    if (st) return st;
    if (lddx < w->n_in || lddy < w->n_out)
        return onc_error_set(err, ONC_ERR_INVALID, "linear backward: row strides %lld, %lld below %lld, %lld",
                             (long long)lddx, (long long)lddy, (long long)w->n_in, (long long)w->n_out);
    if (T <= 0 || w->n_out == 0) return ONC_OK;
    const int nth = tp ? onc_threadpool_n_threads(tp) : 1;
    float *scratch = malloc((size_t)nth * BWD_ROWS * BWD_PANEL * sizeof(float));
    if (!scratch) return onc_error_set(err, ONC_ERR_NOMEM, "linear backward: out of memory");
    bwd_task k = {dx, lddx, w, dy, lddy, T, scratch};
    onc_threadpool_run(tp, bwd_run, &k);
    free(scratch);
    return ONC_OK;
}

void onc_linear_bwd_weight(float *dw, const float *dy, int64_t lddy, const float *x, int64_t ldx, int64_t T,
                           int64_t n_out, int64_t n_in) {
    if (T <= 0 || n_out <= 0 || n_in <= 0) return;
    onc_blas_single_thread();
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n_out, (int)n_in, (int)T, 1.0f, dy, (int)lddy, x,
                (int)ldx, 1.0f, dw, (int)n_in);
}

// --- LoRA -----------------------------------------------------------------------------

/* Dropout mask: one onc_rng_next per element in order (t, i); the element
 * is dropped when its top 24 bits / 2^24 < p, else scaled by 1 / (1 - p). */
static void lora_dropout(float *xd, const float *x, int64_t ldx, int64_t T, int64_t n, float p, uint64_t seed) {
    onc_rng rng;
    onc_rng_seed(&rng, seed);
    const float keep = 1.0f / (1.0f - p);
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < n; i++) {
            const float u = (float)(onc_rng_next(&rng) >> 40) * (1.0f / 16777216.0f);
            xd[t * n + i] = u < p ? 0.0f : x[t * ldx + i] * keep;
        }
}

static onc_status lora_check(int64_t T, int64_t n_in, int64_t n_out, int64_t r, float p, onc_error *err) {
    if (T < 0 || n_in <= 0 || n_out <= 0 || r <= 0)
        return onc_error_set(err, ONC_ERR_INVALID, "lora: bad shape");
    if (!(p >= 0.0f && p < 1.0f)) return onc_error_set(err, ONC_ERR_INVALID, "lora: dropout %g not in [0, 1)", p);
    return ONC_OK;
}

onc_status onc_lora_fwd(float *y, int64_t ldy, float *u, const float *x, int64_t ldx, const float *a, const float *b,
                        int64_t T, int64_t n_in, int64_t n_out, int64_t r, float scale, float p, uint64_t seed,
                        onc_error *err) {
    onc_status st = lora_check(T, n_in, n_out, r, p, err);
    if (st || T == 0) return st;
    onc_blas_single_thread();
    float *xd = NULL;
    const float *xs = x;
    int64_t lds = ldx;
    if (p > 0) {
        if (!(xd = malloc((size_t)T * (size_t)n_in * sizeof(float))))
            return onc_error_set(err, ONC_ERR_NOMEM, "lora: out of memory");
        lora_dropout(xd, x, ldx, T, n_in, p, seed);
        xs = xd;
        lds = n_in;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)r, (int)n_in, 1.0f, xs, (int)lds, a, (int)n_in,
                0.0f, u, (int)r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)n_out, (int)r, scale, u, (int)r, b, (int)r,
                1.0f, y, (int)ldy);
    free(xd);
    return ONC_OK;
}

/* du = scale dy B; db += scale dy^T u; da += du^T drop(x); dx += mask *
 * (du A) / (1 - p). Scratch: T x r, plus 2 T x n_in floats when p > 0. */
onc_status onc_lora_bwd(float *dx, int64_t lddx, float *da, float *db, const float *dy, int64_t lddy, const float *u,
                        const float *x, int64_t ldx, const float *a, const float *b, int64_t T, int64_t n_in,
                        int64_t n_out, int64_t r, float scale, float p, uint64_t seed, onc_error *err) {
    onc_status st = lora_check(T, n_in, n_out, r, p, err);
    if (st || T == 0) return st;
    onc_blas_single_thread();
    if (db)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n_out, (int)r, (int)T, scale, dy, (int)lddy, u,
                    (int)r, 1.0f, db, (int)r);
    if (!da && !dx) return ONC_OK;
    const size_t nx = p > 0 ? (size_t)T * (size_t)n_in : 0;
    float *du = malloc(((size_t)T * (size_t)r + 2 * nx) * sizeof(float));
    if (!du) return onc_error_set(err, ONC_ERR_NOMEM, "lora: out of memory");
    float *xd = du + (size_t)T * (size_t)r, *dxd = xd + nx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)r, (int)n_out, scale, dy, (int)lddy, b,
                (int)r, 0.0f, du, (int)r);
    if (da) {
        const float *xs = x;
        int64_t lds = ldx;
        if (p > 0) {
            lora_dropout(xd, x, ldx, T, n_in, p, seed);
            xs = xd;
            lds = n_in;
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)n_in, (int)T, 1.0f, du, (int)r, xs,
                    (int)lds, 1.0f, da, (int)n_in);
    }
    if (dx) {
        if (p == 0) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)n_in, (int)r, 1.0f, du, (int)r, a,
                        (int)n_in, 1.0f, dx, (int)lddx);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)n_in, (int)r, 1.0f, du, (int)r, a,
                        (int)n_in, 0.0f, dxd, (int)n_in);
            onc_rng rng;
            onc_rng_seed(&rng, seed);
            const float keep = 1.0f / (1.0f - p);
            for (int64_t t = 0; t < T; t++)
                for (int64_t i = 0; i < n_in; i++) {
                    const float uu = (float)(onc_rng_next(&rng) >> 40) * (1.0f / 16777216.0f);
                    if (!(uu < p)) dx[t * lddx + i] += dxd[t * n_in + i] * keep;
                }
        }
    }
    free(du);
    return ONC_OK;
}

void onc_embedding_bwd(float *demb, const float *dx, const int32_t *ids, int64_t T, int64_t D) {
    for (int64_t t = 0; t < T; t++) {
        float *row = demb + (int64_t)ids[t] * D;
        for (int64_t i = 0; i < D; i++) row[i] += dx[t * D + i];
    }
}

// --- losses ----------------------------------------------------------------------------

#define XENT_CHUNK 32

/* Per chunk of up to XENT_CHUNK counted tokens: gather their h rows, logits
 * by onc_linear_fwd (the inference product), log-softmax in double per row, then (when dh)
 * the rows become grad_scale * (softmax - onehot) and go back through
 * onc_linear_bwd_input. Scratch: XENT_CHUNK x (V + 2 E) floats. */
onc_status onc_cross_entropy_chunked(onc_threadpool *tp, double *loss_sum, int64_t *n_counted, float *dh,
                                     const float *h, const onc_matrix *w, const int32_t *labels, int64_t T,
                                     float grad_scale, onc_error *err) {
    onc_status st = check_matrix(w, err);
    if (st) return st;
    const int64_t V = w->n_out, E = w->n_in;
    for (int64_t t = 0; t < T; t++)
        if (labels[t] < -1 || labels[t] >= V)
            return onc_error_set(err, ONC_ERR_INVALID, "cross-entropy: label %d at %lld outside [-1, %lld)",
                                 labels[t], (long long)t, (long long)V);
    float *buf = malloc((size_t)XENT_CHUNK * (size_t)(V + 2 * E) * sizeof(float));
    if (!buf) return onc_error_set(err, ONC_ERR_NOMEM, "cross-entropy: out of memory");
    float *logits = buf, *hc = logits + (size_t)XENT_CHUNK * V, *dhc = hc + (size_t)XENT_CHUNK * E;
    int64_t rows[XENT_CHUNK];
    double loss = 0;
    int64_t counted = 0, t = 0;
    while (t < T) {
        int n = 0;
        for (; t < T && n < XENT_CHUNK; t++)
            if (labels[t] >= 0) {
                rows[n] = t;
                memcpy(hc + (size_t)n * E, h + t * E, (size_t)E * sizeof(float));
                n++;
            }
        if (n == 0) break;
        if ((st = onc_linear_fwd(tp, logits, V, w, hc, E, n, err))) goto done;
        for (int i = 0; i < n; i++) {
            float *row = logits + (size_t)i * V;
            const int32_t y = labels[rows[i]];
            float mx = -INFINITY;
            for (int64_t j = 0; j < V; j++) mx = row[j] > mx ? row[j] : mx;
            double sum = 0;
            for (int64_t j = 0; j < V; j++) sum += exp((double)row[j] - mx);
            const double lse = mx + log(sum);
            loss += lse - row[y];
            if (dh) {
                for (int64_t j = 0; j < V; j++) row[j] = (float)(grad_scale * exp((double)row[j] - lse));
                row[y] -= grad_scale;
            }
        }
        counted += n;
        if (dh) {
            memset(dhc, 0, (size_t)n * E * sizeof(float));
            if ((st = onc_linear_bwd_input(tp, dhc, E, w, logits, V, n, err))) goto done;
            for (int i = 0; i < n; i++)
                for (int64_t e = 0; e < E; e++) dh[rows[i] * E + e] += dhc[(size_t)i * E + e];
        }
    }
done:
    free(buf);
    if (st) return st;
    *loss_sum += loss;
    *n_counted += counted;
    return ONC_OK;
}

double onc_softmax_xent(float *dlogits, const float *logits, const int32_t *labels, const float *class_weights,
                        int64_t T, int64_t C) {
    double wsum = 0, loss = 0;
    for (int64_t t = 0; t < T; t++)
        if (labels[t] >= 0) wsum += class_weights ? class_weights[labels[t]] : 1.0;
    if (wsum <= 0) return 0.0;
    for (int64_t t = 0; t < T; t++) {
        const int32_t y = labels[t];
        if (y < 0) continue;
        ONC_ASSERT(y < C);
        const float *row = logits + t * C;
        double mx = -INFINITY;
        for (int64_t j = 0; j < C; j++) mx = row[j] > mx ? row[j] : mx;
        double sum = 0;
        for (int64_t j = 0; j < C; j++) sum += exp(row[j] - mx);
        const double lse = mx + log(sum), wy = class_weights ? class_weights[y] : 1.0;
        loss += wy * (lse - row[y]);
        if (dlogits) {
            const double g = wy / wsum;
            for (int64_t j = 0; j < C; j++) dlogits[t * C + j] += (float)(g * (exp(row[j] - lse) - (j == y)));
        }
    }
    return loss / wsum;
}
