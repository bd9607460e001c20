/* oncolm/backend.h — the compute backend interface model code calls.
 *
 * Design (ggml-backend style). A backend is an opaque onc_backend holding a
 * table of functions (src/compute/backend_impl.h): its name, buffer
 * management and the operations below. Model code only builds onc_tensor
 * descriptors and calls onc_backend_* functions, so it never knows where
 * memory lives or which kernels run.
 *
 *  - Memory: tensors live in onc_backend_buffer objects allocated by the
 *    backend (onc_backend_buffer_alloc) or wrapping caller memory
 *    (onc_backend_buffer_from_host, e.g. a read-only GGUF mapping: zero copy
 *    on CPU). onc_tensor.data is an address inside such a buffer; it is a
 *    host pointer only when onc_backend_buffer_is_host() is true.
 *    Data moves in and out with onc_backend_tensor_set / _get, which are
 *    memcpy on CPU and host<->device copies elsewhere.
 *  - Ops: every op takes its output tensor first, then inputs; tensors are
 *    described by type, shape ne[] and byte strides nb[] (rows need not be
 *    contiguous with each other; elements inside a row must be, nb[0] equal
 *    to the element size). Ops may run asynchronously; onc_backend_synchronize
 *    waits for completion (the CPU backend is synchronous).
 *  - A CUDA backend would add src/compute/backend_cuda.c (built only when
 *    enabled) with onc_backend_cuda_new() filling the same table: buffer
 *    alloc = cudaMalloc, tensor_set/get = cudaMemcpyAsync on its stream,
 *    mul_mat = dequantizing/MMQ kernels or cuBLAS, elementwise ops = small
 *    kernels, synchronize = cudaStreamSynchronize. The model picks a backend
 *    at load time, allocates its weight buffers from it, uploads tensors,
 *    and the forward pass is unchanged. Ops a backend lacks return
 *    ONC_ERR_UNSUPPORTED (a scheduler could then fall back to the CPU).
 *
 * Shapes follow ggml: ne[0] is the contiguous dimension. For matrices,
 * ne[0] = columns (row length), ne[1] = rows; ne[2], ne[3] = batch dims
 * (ops below treat a tensor as ne[1]*ne[2]*ne[3] rows unless stated).
 *
 * Thread-safety: a backend and its buffers may be used by one thread at a
 * time (the CPU backend owns a thread pool it uses inside each op).
 * Different backends are independent. onc_tensor is plain data. */
#ifndef ONCOLM_BACKEND_H
#define ONCOLM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"
#include "oncolm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_backend onc_backend;               /* opaque function table + state */
typedef struct onc_backend_buffer onc_backend_buffer; /* opaque memory block of a backend */

#define ONC_TENSOR_MAX_DIMS 4
#define ONC_TENSOR_NAME_MAX 64

/* A tensor descriptor. Plain data: the caller owns it and may copy it;
 * the memory it points to belongs to `buffer`. */
typedef struct onc_tensor {
    onc_type type;                      /* element / block type */
    int64_t ne[ONC_TENSOR_MAX_DIMS];    /* elements per dim, ne[0] contiguous; unused dims 1 */
    size_t nb[ONC_TENSOR_MAX_DIMS];     /* byte strides: nb[0] = type_size (per block for quantized),
                                           nb[1] = bytes between rows, nb[2], nb[3] likewise */
    void *data;                         /* first element; a host pointer iff the buffer is host memory */
    char name[ONC_TENSOR_NAME_MAX];     /* for messages; may be "" */
    onc_backend_buffer *buffer;         /* buffer holding data (NULL: plain host memory, CPU only) */
} onc_tensor;

/* Fill t as a contiguous tensor of `type` and shape ne[0..n_dims-1] (other
 * dims 1) at `data` in `buffer`; strides computed. name may be NULL. */
void onc_tensor_init(onc_tensor *t, onc_type type, int n_dims, const int64_t *ne, void *data,
                     onc_backend_buffer *buffer, const char *name);
/* F32 views of host memory for model code's scratch buffers:
 *   onc_tensor_f32_view:  {ne0, ne1} with rows row_floats apart;
 *   onc_tensor_f32_heads: {D, H, T} where head h of token t starts at
 *                         data + t*row_floats + h*D. */
onc_tensor onc_tensor_f32_view(float *data, int64_t ne0, int64_t ne1, int64_t row_floats, const char *name);
onc_tensor onc_tensor_f32_heads(float *data, int64_t D, int64_t H, int64_t T, int64_t row_floats, const char *name);

/* Number of elements, number of rows (ne[1]*ne[2]*ne[3]), bytes of one row,
 * bytes spanned (contiguous size when contiguous). */
int64_t onc_tensor_nelements(const onc_tensor *t);
int64_t onc_tensor_nrows(const onc_tensor *t);
size_t onc_tensor_row_size(const onc_tensor *t);
size_t onc_tensor_nbytes(const onc_tensor *t);
bool onc_tensor_is_contiguous(const onc_tensor *t);

// --- backends ----------------------------------------------------------------------

/* CPU backend with a pool of n_threads (<= 0: all online CPUs). Kernels use
 * the SIMD level of onc_simd_level_get() (oncolm/compute.h). */
onc_backend *onc_backend_cpu_new(int n_threads, onc_error *err);
void onc_backend_free(onc_backend *be); /* accepts NULL */
const char *onc_backend_name(const onc_backend *be);
/* Wait until all queued ops finished. */
onc_status onc_backend_synchronize(onc_backend *be, onc_error *err);

// --- buffers ------------------------------------------------------------------------

/* Allocate size bytes (64-byte aligned). NULL with err set on failure.
 * Free with onc_backend_buffer_free. */
onc_backend_buffer *onc_backend_buffer_alloc(onc_backend *be, size_t size, onc_error *err);
/* Wrap caller-owned host memory (not copied, not freed; may be read-only
 * when only read by ops). CPU only; other backends return NULL with
 * ONC_ERR_UNSUPPORTED (they upload instead). */
onc_backend_buffer *onc_backend_buffer_from_host(onc_backend *be, void *ptr, size_t size, onc_error *err);
void onc_backend_buffer_free(onc_backend_buffer *buf); /* accepts NULL */
/* Base address (device address for non-host buffers) and size. */
void *onc_backend_buffer_base(const onc_backend_buffer *buf);
size_t onc_backend_buffer_size(const onc_backend_buffer *buf);
bool onc_backend_buffer_is_host(const onc_backend_buffer *buf);

/* Copy size bytes between host memory and t's data at byte offset. */
onc_status onc_backend_tensor_set(onc_backend *be, onc_tensor *t, const void *src, size_t offset, size_t size,
                                  onc_error *err);
onc_status onc_backend_tensor_get(onc_backend *be, const onc_tensor *t, void *dst, size_t offset, size_t size,
                                  onc_error *err);

// --- ops ---------------------------------------------------------------------------
/* All ops return ONC_OK, ONC_ERR_INVALID (shape/type mismatch, message says
 * which) or ONC_ERR_UNSUPPORTED. Outputs are F32 and must not alias inputs
 * unless stated. */

/* dst = x W^T: w {K, N} of any type with kernels, x {K, M} F32, dst {N, M}
 * F32: dst[m][n] = sum_k w[n][k] x[m][k] (ggml_mul_mat(w, x)). ne[2..3]
 * of x/dst are folded into M (w is not batched). */
onc_status onc_backend_mul_mat(onc_backend *be, onc_tensor *dst, const onc_tensor *w, const onc_tensor *x,
                               onc_error *err);

/* dst {K, n_ids} F32 = rows ids[i] of emb {K, V} (any type with kernels),
 * dequantized. ids outside [0, V) are ONC_ERR_INVALID. */
onc_status onc_backend_get_rows(onc_backend *be, onc_tensor *dst, const onc_tensor *emb, const int32_t *ids,
                                int64_t n_ids, onc_error *err);

/* Elementwise over F32 tensors of the same shape as dst; b may instead
 * have a single row (ne[1..3] == 1) broadcast to every row of a.
 * dst may alias a. */
onc_status onc_backend_add(onc_backend *be, onc_tensor *dst, const onc_tensor *a, const onc_tensor *b,
                           onc_error *err);
onc_status onc_backend_mul(onc_backend *be, onc_tensor *dst, const onc_tensor *a, const onc_tensor *b,
                           onc_error *err);
/* dst = a * s (dst may alias a). */
onc_status onc_backend_scale(onc_backend *be, onc_tensor *dst, const onc_tensor *a, float s, onc_error *err);
/* dst = silu(a) = a / (1 + exp(-a)); gelu (tanh approximation, as ggml). */
onc_status onc_backend_silu(onc_backend *be, onc_tensor *dst, const onc_tensor *a, onc_error *err);
onc_status onc_backend_gelu(onc_backend *be, onc_tensor *dst, const onc_tensor *a, onc_error *err);
/* dst = gelu_erf(a) = a/2 (1 + erf(a / sqrt 2)) (exact GELU: BERT/HF "gelu");
 * dst = tanh(a). */
onc_status onc_backend_gelu_erf(onc_backend *be, onc_tensor *dst, const onc_tensor *a, onc_error *err);
onc_status onc_backend_tanh(onc_backend *be, onc_tensor *dst, const onc_tensor *a, onc_error *err);
/* Per row: rms_norm x / sqrt(mean(x^2) + eps); layer_norm (x - mean) /
 * sqrt(var + eps). No gain/bias: multiply/add them with mul/add. */
onc_status onc_backend_rms_norm(onc_backend *be, onc_tensor *dst, const onc_tensor *a, float eps, onc_error *err);
onc_status onc_backend_layer_norm(onc_backend *be, onc_tensor *dst, const onc_tensor *a, float eps,
                                  onc_error *err);
/* dst = layer_norm(a) * w + b in one pass; w and b F32 {ne0} (one row). */
onc_status onc_backend_layer_norm_affine(onc_backend *be, onc_tensor *dst, const onc_tensor *a, const onc_tensor *w,
                                         const onc_tensor *b, float eps, onc_error *err);
/* Per row: softmax(a * scale) over ne[0]; -inf entries give 0 (rows all
 * -inf give all 0). dst may alias a. */
onc_status onc_backend_softmax(onc_backend *be, onc_tensor *dst, const onc_tensor *a, float scale,
                               onc_error *err);


// --- ops for decoder models: rotary positions, KV cache, attention ------------------

typedef enum onc_rope_mode {
    ONC_ROPE_MODE_NORM = 0, /* llama: rotate pairs (x[2i], x[2i+1]) */
    ONC_ROPE_MODE_NEOX = 2, /* qwen2, phi3: rotate pairs (x[i], x[i + n_rot/2]) */
} onc_rope_mode;

typedef struct onc_rope_params {
    int n_rot;                        /* rotated dims (even, <= head size); the rest pass through */
    onc_rope_mode mode;
    float freq_base;                  /* theta base, e.g. 10000 or 500000 */
    float freq_scale;                 /* linear scaling: 1 / factor (1 = none) */
    float attn_factor;                /* cos/sin multiplier (ggml mscale; 1 = none) */
    const onc_tensor *freq_factors;   /* F32 {n_rot/2} divisors of the angle (Llama-3.1
                                         rope_freqs, Phi-3 rope factors) or NULL */
} onc_rope_params;

/* Rotary position embedding, as ggml_rope_ext without YaRN: for token t at
 * position pos[t] and pair i < n_rot/2, theta = pos * freq_scale *
 * freq_base^(-2i/n_rot) / freq_factors[i], and the pair (a, b) becomes
 * attn_factor * (a cos - b sin, a sin + b cos). a and dst are F32
 * {head_size, n_head, n_tokens} (dst may alias a). */
onc_status onc_backend_rope(onc_backend *be, onc_tensor *dst, const onc_tensor *a, const int32_t *pos,
                            const onc_rope_params *p, onc_error *err);

/* Store F32 rows in a cache tensor, converting to its type (F32 or F16).
 * src {K, n}. transposed = false: row i of src becomes row rows[i] of dst
 * {K, N}. transposed = true: dst is {N, K} and element k of src row i goes to
 * dst row k, column rows[i] (the V cache is kept transposed so attention
 * reads it row by row). rows[i] outside [0, N) is ONC_ERR_INVALID. */
onc_status onc_backend_set_rows(onc_backend *be, onc_tensor *dst, const onc_tensor *src, const int32_t *rows,
                                bool transposed, onc_error *err);

/* Attention over cached keys and values. q F32 {D, H, T}; k cache {D * Hkv,
 * N} and vt (transposed V cache) {N, D * Hkv}, both F32 or F16 (the same
 * type); dst F32 {D, H, T}. Token t attends cells kv_start[t] ..
 * kv_start[t] + kv_len[t] - 1 (kv_len >= 1): dst[t][h] = sum_j softmax_j(
 * scale * q[t][h] . k[c_j][g]) v[c_j][g] with kv head g = h / (H / Hkv)
 * (grouped-query attention). q is rounded to the cache type for the dot
 * products and the probabilities to it for the sum over values (as ggml). */
onc_status onc_backend_attention(onc_backend *be, onc_tensor *dst, const onc_tensor *q, const onc_tensor *k,
                                 const onc_tensor *vt, const int32_t *kv_start, const int32_t *kv_len, float scale,
                                 onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_BACKEND_H */
