/* backend.c — backend-independent half of oncolm/backend.h: tensor
 * descriptor helpers, argument checks, and forwarding through the function
 * table (backend_impl.h). */
#include <string.h>

#include "compute/backend_impl.h"
#include "oncolm/compute.h"

// --- tensor descriptors -----------------------------------------------------------

void onc_tensor_init(onc_tensor *t, onc_type type, int n_dims, const int64_t *ne, void *data,
                     onc_backend_buffer *buffer, const char *name) {
    const onc_type_traits *tr = onc_type_traits_of(type);
    ONC_ASSERT(tr->name != NULL && n_dims >= 1 && n_dims <= ONC_TENSOR_MAX_DIMS);
    memset(t, 0, sizeof *t);
    t->type = type;
    for (int i = 0; i < ONC_TENSOR_MAX_DIMS; i++) t->ne[i] = i < n_dims ? ne[i] : 1;
    ONC_ASSERT(t->ne[0] % tr->block_size == 0);
    t->nb[0] = tr->type_size;
    t->nb[1] = onc_type_row_size(type, t->ne[0]);
    for (int i = 2; i < ONC_TENSOR_MAX_DIMS; i++) t->nb[i] = t->nb[i - 1] * (size_t)t->ne[i - 1];
    t->data = data;
    t->buffer = buffer;
    if (name) {
        strncpy(t->name, name, ONC_TENSOR_NAME_MAX - 1);
        t->name[ONC_TENSOR_NAME_MAX - 1] = '\0';
    }
}

onc_tensor onc_tensor_f32_view(float *data, int64_t ne0, int64_t ne1, int64_t row_floats, const char *name) {
    onc_tensor t;
    onc_tensor_init(&t, ONC_TYPE_F32, 2, (int64_t[]){ne0, ne1}, data, NULL, name);
    t.nb[1] = (size_t)row_floats * sizeof(float);
    t.nb[2] = t.nb[3] = t.nb[1] * (size_t)ne1;
    return t;
}

onc_tensor onc_tensor_f32_heads(float *data, int64_t D, int64_t H, int64_t T, int64_t row_floats, const char *name) {
    onc_tensor t;
    onc_tensor_init(&t, ONC_TYPE_F32, 3, (int64_t[]){D, H, T}, data, NULL, name);
    t.nb[1] = (size_t)D * sizeof(float);
    t.nb[2] = (size_t)row_floats * sizeof(float);
    t.nb[3] = t.nb[2] * (size_t)T;
    return t;
}

int64_t onc_tensor_nelements(const onc_tensor *t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }
int64_t onc_tensor_nrows(const onc_tensor *t) { return t->ne[1] * t->ne[2] * t->ne[3]; }
size_t onc_tensor_row_size(const onc_tensor *t) { return onc_type_row_size(t->type, t->ne[0]); }

size_t onc_tensor_nbytes(const onc_tensor *t) {
    size_t last = onc_tensor_row_size(t);
    for (int i = 1; i < ONC_TENSOR_MAX_DIMS; i++) last += (size_t)(t->ne[i] - 1) * t->nb[i];
    return last;
}

bool onc_tensor_is_contiguous(const onc_tensor *t) {
    if (t->nb[0] != onc_type_traits_of(t->type)->type_size || t->nb[1] != onc_tensor_row_size(t)) return false;
    for (int i = 2; i < ONC_TENSOR_MAX_DIMS; i++)
        if (t->nb[i] != t->nb[i - 1] * (size_t)t->ne[i - 1]) return false;
    return true;
}

// --- backend and buffers -----------------------------------------------------------

void onc_backend_free(onc_backend *be) {
    if (be) be->iface.free(be);
}
const char *onc_backend_name(const onc_backend *be) { return be->iface.name; }
onc_status onc_backend_synchronize(onc_backend *be, onc_error *err) { return be->iface.synchronize(be, err); }

onc_backend_buffer *onc_backend_buffer_alloc(onc_backend *be, size_t size, onc_error *err) {
    return be->iface.buffer_alloc(be, size, err);
}

onc_backend_buffer *onc_backend_buffer_from_host(onc_backend *be, void *ptr, size_t size, onc_error *err) {
    if (!be->iface.buffer_from_host) {
        onc_error_set(err, ONC_ERR_UNSUPPORTED, "backend %s: cannot wrap host memory", be->iface.name);
        return NULL;
    }
    return be->iface.buffer_from_host(be, ptr, size, err);
}

void onc_backend_buffer_free(onc_backend_buffer *buf) {
    if (buf) buf->iface.free(buf);
}
void *onc_backend_buffer_base(const onc_backend_buffer *buf) { return buf->base; }
size_t onc_backend_buffer_size(const onc_backend_buffer *buf) { return buf->size; }
bool onc_backend_buffer_is_host(const onc_backend_buffer *buf) { return buf->is_host; }

static onc_status check_range(const onc_tensor *t, size_t off, size_t size, onc_error *err) {
    if (off > onc_tensor_nbytes(t) || size > onc_tensor_nbytes(t) - off)
        return onc_error_set(err, ONC_ERR_INVALID, "tensor '%s': copy of %zu bytes at %zu exceeds its %zu bytes",
                             t->name, size, off, onc_tensor_nbytes(t));
    return ONC_OK;
}

onc_status onc_backend_tensor_set(onc_backend *be, onc_tensor *t, const void *src, size_t offset, size_t size,
                                  onc_error *err) {
    onc_status st = check_range(t, offset, size, err);
    return st ? st : be->iface.tensor_set(be, t, src, offset, size, err);
}

onc_status onc_backend_tensor_get(onc_backend *be, const onc_tensor *t, void *dst, size_t offset, size_t size,
                                  onc_error *err) {
    onc_status st = check_range(t, offset, size, err);
    return st ? st : be->iface.tensor_get(be, t, dst, offset, size, err);
}

// --- ops: checks + forwarding --------------------------------------------------------

static bool rows_dense(const onc_tensor *t) {
    /* rows evenly spaced: row r at r * nb[1] across dims 1..3 */
    return t->nb[2] == t->nb[1] * (size_t)t->ne[1] && t->nb[3] == t->nb[2] * (size_t)t->ne[2];
}

static onc_status need_f32(const onc_tensor *t, const char *op, onc_error *err) {
    if (t->type != ONC_TYPE_F32)
        return onc_error_set(err, ONC_ERR_INVALID, "%s: tensor '%s' must be f32, is %s", op, t->name,
                             onc_type_traits_of(t->type)->name ? onc_type_traits_of(t->type)->name : "?");
    if (t->nb[0] != sizeof(float))
        return onc_error_set(err, ONC_ERR_INVALID, "%s: tensor '%s' rows are not contiguous", op, t->name);
    return ONC_OK;
}

static bool same_shape(const onc_tensor *a, const onc_tensor *b) {
    return a->ne[0] == b->ne[0] && a->ne[1] == b->ne[1] && a->ne[2] == b->ne[2] && a->ne[3] == b->ne[3];
}

onc_status onc_backend_mul_mat(onc_backend *be, onc_tensor *dst, const onc_tensor *w, const onc_tensor *x,
                               onc_error *err) {
    onc_status st;
    if ((st = need_f32(dst, "mul_mat", err)) || (st = need_f32(x, "mul_mat", err))) return st;
    if (!onc_mul_mat_supported(w->type))
        return onc_error_set(err, ONC_ERR_UNSUPPORTED, "mul_mat: weight '%s' has unsupported type %s", w->name,
                             onc_type_traits_of(w->type)->name ? onc_type_traits_of(w->type)->name : "?");
    if (w->ne[2] != 1 || w->ne[3] != 1 || x->ne[0] != w->ne[0] || dst->ne[0] != w->ne[1] ||
        onc_tensor_nrows(dst) != onc_tensor_nrows(x) || !rows_dense(x) || !rows_dense(dst) ||
        x->nb[1] % sizeof(float) || dst->nb[1] % sizeof(float))
        return onc_error_set(err, ONC_ERR_INVALID,
                             "mul_mat: shapes w '%s' {%lld,%lld}, x '%s' {%lld,%lld}, dst '%s' {%lld,%lld} do not fit",
                             w->name, (long long)w->ne[0], (long long)w->ne[1], x->name, (long long)x->ne[0],
                             (long long)onc_tensor_nrows(x), dst->name, (long long)dst->ne[0],
                             (long long)onc_tensor_nrows(dst));
    return be->iface.mul_mat(be, dst, w, x, err);
}

onc_status onc_backend_get_rows(onc_backend *be, onc_tensor *dst, const onc_tensor *emb, const int32_t *ids,
                                int64_t n_ids, onc_error *err) {
    onc_status st;
    if ((st = need_f32(dst, "get_rows", err))) return st;
    if (!onc_type_traits_of(emb->type)->can_compute && !onc_type_traits_of(emb->type)->memory_only)
        return onc_error_set(err, ONC_ERR_UNSUPPORTED, "get_rows: '%s' has unsupported type", emb->name);
    if (dst->ne[0] != emb->ne[0] || onc_tensor_nrows(dst) != n_ids || !rows_dense(dst) || emb->ne[2] != 1 ||
        emb->ne[3] != 1)
        return onc_error_set(err, ONC_ERR_INVALID, "get_rows: dst '%s' does not fit %lld rows of '%s'", dst->name,
                             (long long)n_ids, emb->name);
    for (int64_t i = 0; i < n_ids; i++)
        if (ids[i] < 0 || ids[i] >= emb->ne[1])
            return onc_error_set(err, ONC_ERR_INVALID, "get_rows: id %d out of range [0, %lld) for '%s'", ids[i],
                                 (long long)emb->ne[1], emb->name);
    return be->iface.get_rows(be, dst, emb, ids, n_ids, err);
}

static onc_status binary(onc_backend *be, onc_binary_op op, const char *name, onc_tensor *dst, const onc_tensor *a,
                         const onc_tensor *b, onc_error *err) {
    onc_status st;
    if ((st = need_f32(dst, name, err)) || (st = need_f32(a, name, err)) || (st = need_f32(b, name, err))) return st;
    const bool bcast = b->ne[0] == a->ne[0] && onc_tensor_nrows(b) == 1;
    if (!same_shape(dst, a) || !(same_shape(a, b) || bcast))
        return onc_error_set(err, ONC_ERR_INVALID, "%s: shapes of '%s', '%s', '%s' do not match", name, dst->name,
                             a->name, b->name);
    return be->iface.binary(be, op, dst, a, b, err);
}

onc_status onc_backend_add(onc_backend *be, onc_tensor *dst, const onc_tensor *a, const onc_tensor *b,
                           onc_error *err) {
    return binary(be, ONC_BINARY_ADD, "add", dst, a, b, err);
}

onc_status onc_backend_mul(onc_backend *be, onc_tensor *dst, const onc_tensor *a, const onc_tensor *b,
                           onc_error *err) {
    return binary(be, ONC_BINARY_MUL, "mul", dst, a, b, err);
}

static onc_status unary_check(const char *name, onc_tensor *dst, const onc_tensor *a, onc_error *err) {
    onc_status st;
    if ((st = need_f32(dst, name, err)) || (st = need_f32(a, name, err))) return st;
    if (!same_shape(dst, a))
        return onc_error_set(err, ONC_ERR_INVALID, "%s: shapes of '%s' and '%s' differ", name, dst->name, a->name);
    return ONC_OK;
}

onc_status onc_backend_scale(onc_backend *be, onc_tensor *dst, const onc_tensor *a, float s, onc_error *err) {
    onc_status st = unary_check("scale", dst, a, err);
    return st ? st : be->iface.unary(be, ONC_UNARY_SCALE, dst, a, s, err);
}

onc_status onc_backend_silu(onc_backend *be, onc_tensor *dst, const onc_tensor *a, onc_error *err) {
    onc_status st = unary_check("silu", dst, a, err);
    return st ? st : be->iface.unary(be, ONC_UNARY_SILU, dst, a, 0, err);
}

onc_status onc_backend_gelu(onc_backend *be, onc_tensor *dst, const onc_tensor *a, onc_error *err) {
    onc_status st = unary_check("gelu", dst, a, err);
    return st ? st : be->iface.unary(be, ONC_UNARY_GELU, dst, a, 0, err);
}

onc_status onc_backend_gelu_erf(onc_backend *be, onc_tensor *dst, const onc_tensor *a, onc_error *err) {
    onc_status st = unary_check("gelu_erf", dst, a, err);
    return st ? st : be->iface.unary(be, ONC_UNARY_GELU_ERF, dst, a, 0, err);
}

onc_status onc_backend_tanh(onc_backend *be, onc_tensor *dst, const onc_tensor *a, onc_error *err) {
    onc_status st = unary_check("tanh", dst, a, err);
    return st ? st : be->iface.unary(be, ONC_UNARY_TANH, dst, a, 0, err);
}

onc_status onc_backend_rms_norm(onc_backend *be, onc_tensor *dst, const onc_tensor *a, float eps, onc_error *err) {
    onc_status st = unary_check("rms_norm", dst, a, err);
    return st ? st : be->iface.norm(be, ONC_NORM_RMS, dst, a, NULL, NULL, eps, err);
}

onc_status onc_backend_layer_norm(onc_backend *be, onc_tensor *dst, const onc_tensor *a, float eps,
                                  onc_error *err) {
    onc_status st = unary_check("layer_norm", dst, a, err);
    return st ? st : be->iface.norm(be, ONC_NORM_LAYER, dst, a, NULL, NULL, eps, err);
}

onc_status onc_backend_layer_norm_affine(onc_backend *be, onc_tensor *dst, const onc_tensor *a, const onc_tensor *w,
                                         const onc_tensor *b, float eps, onc_error *err) {
    onc_status st = unary_check("layer_norm", dst, a, err);
    if (st) return st;
    for (int k = 0; k < 2; k++) {
        const onc_tensor *v = k ? b : w;
        if ((st = need_f32(v, "layer_norm", err))) return st;
        if (v->ne[0] != a->ne[0] || onc_tensor_nrows(v) != 1)
            return onc_error_set(err, ONC_ERR_INVALID, "layer_norm: '%s' is not one row of %lld", v->name,
                                 (long long)a->ne[0]);
    }
    return be->iface.norm(be, ONC_NORM_LAYER, dst, a, w, b, eps, err);
}

onc_status onc_backend_softmax(onc_backend *be, onc_tensor *dst, const onc_tensor *a, float scale,
                               onc_error *err) {
    onc_status st = unary_check("softmax", dst, a, err);
    return st ? st : be->iface.softmax(be, dst, a, scale, err);
}

// --- decoder ops -------------------------------------------------------------------

static onc_status unsupported(onc_backend *be, const char *op, onc_error *err) {
    return onc_error_set(err, ONC_ERR_UNSUPPORTED, "backend %s has no %s op", be->iface.name, op);
}

onc_status onc_backend_rope(onc_backend *be, onc_tensor *dst, const onc_tensor *a, const int32_t *pos,
                            const onc_rope_params *p, onc_error *err) {
    onc_status st;
    if ((st = need_f32(dst, "rope", err)) || (st = need_f32(a, "rope", err))) return st;
    if (!same_shape(dst, a) || p->n_rot <= 0 || p->n_rot % 2 || p->n_rot > a->ne[0] ||
        (p->mode != ONC_ROPE_MODE_NORM && p->mode != ONC_ROPE_MODE_NEOX))
        return onc_error_set(err, ONC_ERR_INVALID, "rope: '%s' {%lld,...} with n_rot %d, mode %d does not fit", a->name,
                             (long long)a->ne[0], p->n_rot, (int)p->mode);
    if (p->freq_factors &&
        (p->freq_factors->type != ONC_TYPE_F32 || onc_tensor_nelements(p->freq_factors) < p->n_rot / 2))
        return onc_error_set(err, ONC_ERR_INVALID, "rope: frequency factors '%s' must be f32 with %d values",
                             p->freq_factors->name, p->n_rot / 2);
    if (!be->iface.rope) return unsupported(be, "rope", err);
    return be->iface.rope(be, dst, a, pos, p, err);
}

onc_status onc_backend_set_rows(onc_backend *be, onc_tensor *dst, const onc_tensor *src, const int32_t *rows,
                                bool transposed, onc_error *err) {
    onc_status st;
    if ((st = need_f32(src, "set_rows", err))) return st;
    if (dst->type != ONC_TYPE_F32 && dst->type != ONC_TYPE_F16)
        return onc_error_set(err, ONC_ERR_INVALID, "set_rows: cache '%s' must be f32 or f16", dst->name);
    const int64_t n = onc_tensor_nrows(src), width = transposed ? onc_tensor_nrows(dst) : dst->ne[0];
    const int64_t n_slots = transposed ? dst->ne[0] : onc_tensor_nrows(dst);
    if (src->ne[0] != width || !rows_dense(dst))
        return onc_error_set(err, ONC_ERR_INVALID, "set_rows: rows of '%s' (%lld) do not fit cache '%s'", src->name,
                             (long long)src->ne[0], dst->name);
    for (int64_t i = 0; i < n; i++)
        if (rows[i] < 0 || rows[i] >= n_slots)
            return onc_error_set(err, ONC_ERR_INVALID, "set_rows: slot %d outside cache '%s' of %lld", rows[i],
                                 dst->name, (long long)n_slots);
    if (!be->iface.set_rows) return unsupported(be, "set_rows", err);
    return be->iface.set_rows(be, dst, src, rows, transposed, err);
}

onc_status onc_backend_attention(onc_backend *be, onc_tensor *dst, const onc_tensor *q, const onc_tensor *k,
                                 const onc_tensor *vt, const int32_t *kv_start, const int32_t *kv_len, float scale,
                                 onc_error *err) {
    onc_status st;
    if ((st = need_f32(dst, "attention", err)) || (st = need_f32(q, "attention", err))) return st;
    const int64_t D = q->ne[0], H = q->ne[1], T = q->ne[2], N = k->ne[1];
    const int64_t Hkv = D > 0 ? k->ne[0] / D : 0;
    if (!same_shape(dst, q) || k->type != vt->type || (k->type != ONC_TYPE_F32 && k->type != ONC_TYPE_F16) ||
        Hkv <= 0 || k->ne[0] != D * Hkv || H % Hkv || vt->ne[0] != N || vt->ne[1] != D * Hkv || !rows_dense(k) ||
        !rows_dense(vt))
        return onc_error_set(err, ONC_ERR_INVALID,
                             "attention: q '%s' {%lld,%lld,%lld}, k '%s' {%lld,%lld}, v '%s' {%lld,%lld} do not fit",
                             q->name, (long long)D, (long long)H, (long long)T, k->name, (long long)k->ne[0],
                             (long long)N, vt->name, (long long)vt->ne[0], (long long)vt->ne[1]);
    for (int64_t t = 0; t < T; t++)
        if (kv_len[t] < 1 || kv_start[t] < 0 || (int64_t)kv_start[t] + kv_len[t] > N)
            return onc_error_set(err, ONC_ERR_INVALID, "attention: token %lld attends cells [%d, %d) outside 0..%lld",
                                 (long long)t, kv_start[t], kv_start[t] + kv_len[t], (long long)N);
    if (!be->iface.attention) return unsupported(be, "attention", err);
    return be->iface.attention(be, dst, q, k, vt, kv_start, kv_len, scale, err);
}
