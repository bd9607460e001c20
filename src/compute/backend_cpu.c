/* backend_cpu.c — the CPU backend (see oncolm/backend.h): host buffers,
 * memcpy transfers, mul_mat through onc_mul_mat_f32 (SIMD kernels chosen at
 * run time, cache-blocked), and row-parallel elementwise / norm / softmax
 * ops on its thread pool. Elementwise math is plain C (the compiler
 * vectorises it; these ops are a small part of a forward pass). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compute/backend_impl.h"
#include "oncolm/compute.h"

typedef struct cpu_ctx {
    onc_threadpool *tp;
} cpu_ctx;

static onc_threadpool *pool_of(onc_backend *be) { return ((cpu_ctx *)be->ctx)->tp; }
onc_threadpool *onc_cpu_backend_pool(onc_backend *be) { return pool_of(be); }

// --- backend / buffers --------------------------------------------------------------

static void cpu_free(onc_backend *be) {
    onc_threadpool_free(pool_of(be));
    free(be->ctx);
    free(be);
}

static onc_status cpu_sync(onc_backend *be, onc_error *err) { return ONC_OK; }

static void cpu_buffer_free(onc_backend_buffer *buf) {
    if (buf->owned) free(buf->base);
    free(buf);
}

static onc_backend_buffer *cpu_buffer_new(onc_backend *be, void *base, size_t size, bool owned, onc_error *err) {
    onc_backend_buffer *buf = calloc(1, sizeof *buf);
    if (!buf) {
        if (owned) free(base);
        onc_error_set(err, ONC_ERR_NOMEM, "cpu backend: out of memory");
        return NULL;
    }
    buf->iface.free = cpu_buffer_free;
    buf->backend = be;
    buf->base = base;
    buf->size = size;
    buf->is_host = true;
    buf->owned = owned;
    return buf;
}

static onc_backend_buffer *cpu_buffer_alloc(onc_backend *be, size_t size, onc_error *err) {
    const size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded < size) {
        onc_error_set(err, ONC_ERR_NOMEM, "cpu backend: buffer size %zu overflows", size);
        return NULL;
    }
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) {
        onc_error_set(err, ONC_ERR_NOMEM, "cpu backend: cannot allocate %zu bytes", size);
        return NULL;
    }
    return cpu_buffer_new(be, p, size, true, err);
}

static onc_backend_buffer *cpu_buffer_from_host(onc_backend *be, void *ptr, size_t size, onc_error *err) {
    return cpu_buffer_new(be, ptr, size, false, err);
}

static onc_status cpu_tensor_set(onc_backend *be, onc_tensor *t, const void *src, size_t off, size_t size,
                                 onc_error *err) {
    memcpy((char *)t->data + off, src, size);
    return ONC_OK;
}

static onc_status cpu_tensor_get(onc_backend *be, const onc_tensor *t, void *dst, size_t off, size_t size,
                                 onc_error *err) {
    memcpy(dst, (const char *)t->data + off, size);
    return ONC_OK;
}

// --- row addressing ------------------------------------------------------------------

static inline char *row_ptr(const onc_tensor *t, int64_t r) {
    const int64_t i1 = r % t->ne[1], i2 = (r / t->ne[1]) % t->ne[2], i3 = r / (t->ne[1] * t->ne[2]);
    return (char *)t->data + (size_t)i1 * t->nb[1] + (size_t)i2 * t->nb[2] + (size_t)i3 * t->nb[3];
}

// --- mul_mat, get_rows ---------------------------------------------------------------

static onc_status cpu_mul_mat(onc_backend *be, onc_tensor *dst, const onc_tensor *w, const onc_tensor *x,
                              onc_error *err) {
    return onc_mul_mat_f32(pool_of(be), dst->data, (int64_t)(dst->nb[1] / sizeof(float)), w->type, w->data, w->nb[1],
                           w->ne[1], x->data, (int64_t)(x->nb[1] / sizeof(float)), x->ne[0], onc_tensor_nrows(x), err);
}

typedef struct rows_task {
    onc_tensor *dst;
    const onc_tensor *a, *b;
    const int32_t *ids;
    int kind; /* 0 get_rows, 1 unary, 2 binary, 3 norm, 4 softmax */
    int op;
    float p;
    const onc_tensor *c; /* norm: bias (b holds the gain) */
} rows_task;

static void do_unary(onc_unary_op op, float *y, const float *x, int64_t n, float p) {
    switch (op) {
    case ONC_UNARY_SCALE:
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * p;
        break;
    case ONC_UNARY_SILU:
        for (int64_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    case ONC_UNARY_GELU: {
        const float c = 0.7978845608028654f; /* sqrt(2/pi) */
        for (int64_t i = 0; i < n; i++) {
            const float v = x[i];
            y[i] = 0.5f * v * (1.0f + tanhf(c * v * (1.0f + 0.044715f * v * v)));
        }
        break;
    }
    case ONC_UNARY_GELU_ERF:
        for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        break;
    case ONC_UNARY_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    }
}

static void do_norm(onc_norm_op op, float *y, const float *x, int64_t n, float eps, const float *w, const float *bias) {
    double mean = 0;
    if (op == ONC_NORM_LAYER) {
        for (int64_t i = 0; i < n; i++) mean += x[i];
        mean /= (double)n;
    }
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += ((double)x[i] - mean) * ((double)x[i] - mean);
    const float sc = (float)(1.0 / sqrt(ss / (double)n + eps));
    if (w && bias)
        for (int64_t i = 0; i < n; i++) y[i] = (float)(x[i] - mean) * sc * w[i] + bias[i];
    else if (w)
        for (int64_t i = 0; i < n; i++) y[i] = (float)(x[i] - mean) * sc * w[i];
    else
        for (int64_t i = 0; i < n; i++) y[i] = (float)(x[i] - mean) * sc;
}

static void do_softmax(float *y, const float *x, int64_t n, float scale) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = fmaxf(max, x[i] * scale);
    if (max == -INFINITY) {
        memset(y, 0, (size_t)n * sizeof(float));
        return;
    }
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        const float e = expf(x[i] * scale - max);
        y[i] = e;
        sum += e;
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) y[i] *= inv;
}

static void rows_run(void *ctx, int ith, int nth) {
    rows_task *t = ctx;
    const int64_t nrows = onc_tensor_nrows(t->dst), n = t->dst->ne[0];
    int64_t lo, hi;
    onc_split_range(nrows, ith, nth, &lo, &hi);
    for (int64_t r = lo; r < hi; r++) {
        float *y = (float *)row_ptr(t->dst, r);
        switch (t->kind) {
        case 0: onc_weight_row_f32(t->a->type, t->a->data, t->a->nb[1], t->ids[r], y, n); break;
        case 1: do_unary((onc_unary_op)t->op, y, (const float *)row_ptr(t->a, r), n, t->p); break;
        case 2: {
            const float *a = (const float *)row_ptr(t->a, r);
            const float *b = (const float *)row_ptr(t->b, onc_tensor_nrows(t->b) == 1 ? 0 : r);
            if (t->op == ONC_BINARY_ADD)
                for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
            else
                for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i];
            break;
        }
        case 3:
            do_norm((onc_norm_op)t->op, y, (const float *)row_ptr(t->a, r), n, t->p,
                    t->b ? (const float *)t->b->data : NULL, t->c ? (const float *)t->c->data : NULL);
            break;
        case 4: do_softmax(y, (const float *)row_ptr(t->a, r), n, t->p); break;
        }
    }
}

static onc_status run_rows(onc_backend *be, rows_task *t) {
    onc_threadpool_run(onc_tensor_nrows(t->dst) * t->dst->ne[0] >= 4096 ? pool_of(be) : NULL, rows_run, t);
    return ONC_OK;
}

static onc_status cpu_get_rows(onc_backend *be, onc_tensor *dst, const onc_tensor *emb, const int32_t *ids, int64_t n,
                               onc_error *err) {
    rows_task t = {dst, emb, NULL, ids, 0, 0, 0, NULL};
    return run_rows(be, &t);
}

static onc_status cpu_unary(onc_backend *be, onc_unary_op op, onc_tensor *dst, const onc_tensor *a, float p,
                            onc_error *err) {
    rows_task t = {dst, a, NULL, NULL, 1, op, p, NULL};
    return run_rows(be, &t);
}

static onc_status cpu_binary(onc_backend *be, onc_binary_op op, onc_tensor *dst, const onc_tensor *a,
                             const onc_tensor *b, onc_error *err) {
    rows_task t = {dst, a, b, NULL, 2, op, 0, NULL};
    return run_rows(be, &t);
}

static onc_status cpu_norm(onc_backend *be, onc_norm_op op, onc_tensor *dst, const onc_tensor *a, const onc_tensor *w,
                           const onc_tensor *b, float eps, onc_error *err) {
    rows_task t = {dst, a, w, NULL, 3, op, eps, b};
    return run_rows(be, &t);
}

static onc_status cpu_softmax(onc_backend *be, onc_tensor *dst, const onc_tensor *a, float scale, onc_error *err) {
    rows_task t = {dst, a, NULL, NULL, 4, 0, scale, NULL};
    return run_rows(be, &t);
}

onc_backend *onc_backend_cpu_new(int n_threads, onc_error *err) {
    onc_backend *be = calloc(1, sizeof *be);
    cpu_ctx *ctx = calloc(1, sizeof *ctx);
    if (!be || !ctx) {
        free(be);
        free(ctx);
        onc_error_set(err, ONC_ERR_NOMEM, "cpu backend: out of memory");
        return NULL;
    }
    ctx->tp = onc_threadpool_new(n_threads, err);
    if (!ctx->tp) {
        free(be);
        free(ctx);
        return NULL;
    }
    be->ctx = ctx;
    be->iface = (onc_backend_iface){
        .name = "cpu",
        .free = cpu_free,
        .synchronize = cpu_sync,
        .buffer_alloc = cpu_buffer_alloc,
        .buffer_from_host = cpu_buffer_from_host,
        .tensor_set = cpu_tensor_set,
        .tensor_get = cpu_tensor_get,
        .mul_mat = cpu_mul_mat,
        .get_rows = cpu_get_rows,
        .unary = cpu_unary,
        .binary = cpu_binary,
        .norm = cpu_norm,
        .softmax = cpu_softmax,
        .rope = onc_cpu_rope,
        .set_rows = onc_cpu_set_rows,
        .attention = onc_cpu_attention,
    };
    return be;
}
