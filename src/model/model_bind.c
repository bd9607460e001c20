/* model_bind.c — checking and binding GGUF tensors (see model_bind.h). */
#include "model/model_bind.h"

#include "oncolm/compute.h"

onc_status onc_model_bind_tensor(const onc_gguf *g, onc_arch arch, const onc_arch_tensor *want, onc_tensor *dst,
                                 onc_error *err) {
    const char *path = onc_gguf_path(g);
    const onc_gguf_tensor *t = onc_gguf_find_tensor(g, want->name);
    if (!t) {
        if (!want->required) return ONC_OK;
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor '%s' is missing (needed by architecture %s)", path,
                             want->name, onc_arch_name(arch));
    }
    bool shape_ok = true;
    for (int d = 0; d < ONC_GGUF_MAX_DIMS; d++) shape_ok = shape_ok && t->ne[d] == want->ne[d];
    if (!shape_ok)
        return onc_error_set(err, ONC_ERR_FORMAT,
                             "%s: tensor '%s' has shape {%lld, %lld, %lld}, expected {%lld, %lld, %lld} for these "
                             "hyper-parameters",
                             path, want->name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                             (long long)want->ne[0], (long long)want->ne[1], (long long)want->ne[2]);
    const onc_type_traits *tr = onc_type_traits_of(t->type);
    if (want->n_dims == 1 ? t->type != ONC_TYPE_F32 : !onc_vec_dot_get(t->type, ONC_SIMD_SCALAR))
        return onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which oncolm cannot compute with%s",
                             path, want->name, tr->name ? tr->name : "?",
                             want->n_dims == 1 ? " (1-D tensors must be f32)" : "");
    onc_tensor_init(dst, t->type, (int)t->n_dims, t->ne, (void *)t->data, NULL, want->name);
    return ONC_OK;
}
