/* lora_merge.c — see oncolm/lora_merge.h: a row transform for the
 * quantizer that adds the adapters' scale * B A to each adapted tensor. */
#include <string.h>

#include "oncolm/lora_merge.h"

typedef struct merge_ctx {
    const onc_lora *const *adapters;
    const float *scales;
    size_t n;
} merge_ctx;

static bool merge_applies(void *user, const char *name) {
    const merge_ctx *m = user;
    for (size_t i = 0; i < m->n; i++)
        if (onc_lora_find(m->adapters[i], name)) return true;
    return false;
}

/* row r of W: += s * sum_k B[r][k] A[k][:] for each adapter touching it */
static void merge_rows(void *user, const char *name, int64_t r, float *row, int64_t n) {
    const merge_ctx *m = user;
    for (size_t i = 0; i < m->n; i++) {
        const onc_lora_weight *w = onc_lora_find(m->adapters[i], name);
        if (!w) continue;
        const float s = (m->scales ? m->scales[i] : 1.0f) * onc_lora_scale(m->adapters[i]);
        const int64_t rank = m->adapters[i]->rank;
        for (int64_t k = 0; k < rank; k++) {
            const float c = s * w->b[r * rank + k];
            const float *a = w->a + k * w->n_in;
            for (int64_t j = 0; j < n; j++) row[j] += c * a[j];
        }
    }
}

onc_status onc_lora_merge_file(const char *base, const char *out, const onc_lora *const *adapters,
                               const float *scales, size_t n, const onc_ftype *ftype, int n_threads,
                               onc_quantize_stats *stats, onc_error *err) {
    /* every adapted tensor must exist in the base with the adapter's shape */
    onc_gguf *g = onc_gguf_open(base, err);
    if (!g) return err ? err->code : ONC_ERR_IO;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < adapters[i]->n; j++) {
            const onc_lora_weight *w = &adapters[i]->w[j];
            const onc_gguf_tensor *t = onc_gguf_find_tensor(g, w->base_name);
            if (!t || t->n_dims != 2 || t->ne[0] != w->n_in || t->ne[1] != w->n_out) {
                onc_gguf_close(g);
                return onc_error_set(err, ONC_ERR_INVALID, "%s: adapter %zu: tensor %s (%lld x %lld) %s", base, i + 1,
                                     w->base_name, (long long)w->n_out, (long long)w->n_in,
                                     t ? "does not match the base tensor's shape" : "is not in the base model");
            }
        }
    }
    onc_gguf_close(g);
    merge_ctx m = {.adapters = adapters, .scales = scales, .n = n};
    onc_quantize_transform tf = {.applies = merge_applies, .rows = merge_rows, .user = &m};
    onc_quantize_params p = onc_quantize_default_params();
    p.n_threads = n_threads;
    p.transform = &tf;
    p.keep_types = ftype == NULL;
    if (ftype) p.ftype = *ftype;
    return onc_quantize_file(base, out, &p, stats, err);
}
