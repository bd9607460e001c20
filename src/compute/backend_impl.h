/* backend_impl.h — private: the function table behind onc_backend and
 * onc_backend_buffer (see oncolm/backend.h for the design). A new backend
 * fills an onc_backend_iface and an onc_buffer_iface; backend.c checks
 * arguments that are backend-independent and forwards. */
#ifndef ONC_COMPUTE_BACKEND_IMPL_H
#define ONC_COMPUTE_BACKEND_IMPL_H

#include "oncolm/backend.h"

typedef enum onc_unary_op { ONC_UNARY_SCALE, ONC_UNARY_SILU, ONC_UNARY_GELU, ONC_UNARY_GELU_ERF, ONC_UNARY_TANH } onc_unary_op;
typedef enum onc_binary_op { ONC_BINARY_ADD, ONC_BINARY_MUL } onc_binary_op;
typedef enum onc_norm_op { ONC_NORM_RMS, ONC_NORM_LAYER } onc_norm_op;

typedef struct onc_buffer_iface {
    void (*free)(onc_backend_buffer *buf);
} onc_buffer_iface;

struct onc_backend_buffer {
    onc_buffer_iface iface;
    onc_backend *backend;
    void *base;
    size_t size;
    bool is_host;
    bool owned; /* base freed with the buffer */
};

typedef struct onc_backend_iface {
    const char *name;
    void (*free)(onc_backend *be);
    onc_status (*synchronize)(onc_backend *be, onc_error *err);
    onc_backend_buffer *(*buffer_alloc)(onc_backend *be, size_t size, onc_error *err);
    onc_backend_buffer *(*buffer_from_host)(onc_backend *be, void *ptr, size_t size, onc_error *err);
    onc_status (*tensor_set)(onc_backend *be, onc_tensor *t, const void *src, size_t off, size_t size, onc_error *err);
    onc_status (*tensor_get)(onc_backend *be, const onc_tensor *t, void *dst, size_t off, size_t size, onc_error *err);
    /* ops: arguments already checked by backend.c (shapes, types) */
    onc_status (*mul_mat)(onc_backend *be, onc_tensor *dst, const onc_tensor *w, const onc_tensor *x, onc_error *err);
    onc_status (*get_rows)(onc_backend *be, onc_tensor *dst, const onc_tensor *emb, const int32_t *ids, int64_t n,
                           onc_error *err);
    onc_status (*unary)(onc_backend *be, onc_unary_op op, onc_tensor *dst, const onc_tensor *a, float p,
                        onc_error *err);
    onc_status (*binary)(onc_backend *be, onc_binary_op op, onc_tensor *dst, const onc_tensor *a,
                         const onc_tensor *b, onc_error *err);
    /* w, b: optional per-column gain and bias applied in the same pass (NULL: none) */
    onc_status (*norm)(onc_backend *be, onc_norm_op op, onc_tensor *dst, const onc_tensor *a, const onc_tensor *w,
                       const onc_tensor *b, float eps, onc_error *err);
    onc_status (*softmax)(onc_backend *be, onc_tensor *dst, const onc_tensor *a, float scale, onc_error *err);
    /* decoder ops (NULL: unsupported) */
    onc_status (*rope)(onc_backend *be, onc_tensor *dst, const onc_tensor *a, const int32_t *pos,
                       const onc_rope_params *p, onc_error *err);
    onc_status (*set_rows)(onc_backend *be, onc_tensor *dst, const onc_tensor *src, const int32_t *rows,
                           bool transposed, onc_error *err);
    onc_status (*attention)(onc_backend *be, onc_tensor *dst, const onc_tensor *q, const onc_tensor *k,
                            const onc_tensor *vt, const int32_t *kv_start, const int32_t *kv_len, float scale,
                            onc_error *err);
} onc_backend_iface;

struct onc_backend {
    onc_backend_iface iface;
    void *ctx; /* backend-specific state */
};

/* CPU backend internals shared by backend_cpu.c and backend_cpu_llm.c. */
struct onc_threadpool;
struct onc_threadpool *onc_cpu_backend_pool(onc_backend *be);
onc_status onc_cpu_rope(onc_backend *be, onc_tensor *dst, const onc_tensor *a, const int32_t *pos,
                        const onc_rope_params *p, onc_error *err);
onc_status onc_cpu_set_rows(onc_backend *be, onc_tensor *dst, const onc_tensor *src, const int32_t *rows,
                            bool transposed, onc_error *err);
onc_status onc_cpu_attention(onc_backend *be, onc_tensor *dst, const onc_tensor *q, const onc_tensor *k,
                             const onc_tensor *vt, const int32_t *kv_start, const int32_t *kv_len, float scale,
                             onc_error *err);

#endif
