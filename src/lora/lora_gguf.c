/* lora_gguf.c — llama.cpp's GGUF LoRA format (convert_lora_to_gguf.py,
 * llama_adapter_lora_init_impl): general.type "adapter", adapter.type
 * "lora", adapter.lora.alpha F32, general.architecture = base arch;
 * tensors "<base>.lora_a" ne {n_in, r} (= A [r][n_in] bytes) and
 * "<base>.lora_b" ne {r, n_out} (= B [n_out][r] bytes), F32, B rows in the
 * base file's order (llama Q/K already permuted, as the converter does). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lora/lora_internal.h"

onc_status onc_lora_save_gguf(const onc_lora *l, const char *path, onc_error *err) {
    if (!l || !path) return onc_error_set(err, ONC_ERR_INVALID, "onc_lora_save_gguf: NULL argument");
    if (l->rank < 1) return onc_error_set(err, ONC_ERR_INVALID, "%s: LoRA rank must be >= 1", path);
    onc_gguf_writer *w = onc_gguf_writer_new();
    if (!w) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
    /* llama.cpp scales by alpha / rank: store alpha * sqrt(r) for rsLoRA so
     * that gives alpha / sqrt(r) */
    const float alpha = l->rslora ? (float)(l->alpha * sqrt((double)l->rank)) : l->alpha;
    onc_status st = onc_gguf_set_str(w, "general.architecture", l->arch);
    if (st == ONC_OK) st = onc_gguf_set_str(w, "general.type", "adapter");
    if (st == ONC_OK) st = onc_gguf_set_str(w, "adapter.type", "lora");
    if (st == ONC_OK) st = onc_gguf_set_f32(w, "adapter.lora.alpha", alpha);
    if (st == ONC_OK && l->base_model[0]) st = onc_gguf_set_str(w, "general.base_model.0.name", l->base_model);
    if (st != ONC_OK) {
        onc_gguf_writer_free(w);
        return onc_error_set(err, st, "%s: cannot set metadata: %s", path, onc_status_name(st));
    }
    for (size_t i = 0; i < l->n && st == ONC_OK; i++) {
        const onc_lora_weight *lw = &l->w[i];
        char name[96];
        const int64_t ne_a[2] = {lw->n_in, l->rank}, ne_b[2] = {l->rank, lw->n_out};
        snprintf(name, sizeof name, "%s.lora_a", lw->base_name);
        st = onc_gguf_add_tensor(w, name, ONC_TYPE_F32, 2, ne_a, lw->a, NULL, NULL, err);
        if (st != ONC_OK) break;
        snprintf(name, sizeof name, "%s.lora_b", lw->base_name);
        st = onc_gguf_add_tensor(w, name, ONC_TYPE_F32, 2, ne_b, lw->b, NULL, NULL, err);
    }
    if (st != ONC_OK) onc_error_prefix(err, "%s", path);
    else st = onc_gguf_writer_write(w, path, err);
    onc_gguf_writer_free(w);
    return st;
}

/* A string key that must have one value; err names file and key. */
static onc_status expect_str(const onc_gguf *g, const char *path, const char *key, const char *want,
                             onc_error *err) {
    onc_str s;
    const onc_status st = onc_gguf_get_str(g, key, &s, err);
    if (st == ONC_ERR_NOT_FOUND)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: key %s missing (expected \"%s\"): not a LoRA adapter", path,
                             key, want);
    if (st != ONC_OK) return st;
    if (s.len != strlen(want) || memcmp(s.ptr, want, s.len) != 0)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: key %s is \"%.*s\", expected \"%s\"", path, key,
                             (int)(s.len > 64 ? 64 : s.len), s.ptr, want);
    return ONC_OK;
}

static bool ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Check one lora_a / lora_b tensor: F32, 2-D, ne {ne0, ne1}. */
static onc_status check_tensor(const char *path, const onc_gguf_tensor *t, int64_t ne0, int64_t ne1,
                               onc_error *err) {
    if (t->type != ONC_TYPE_F32)
        return onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: tensor %s has type %s, oncolm reads F32 LoRA tensors",
                             path, t->name,
                             onc_type_traits_of(t->type)->name ? onc_type_traits_of(t->type)->name : "unknown");
    if (t->n_dims != 2 || t->ne[0] != ne0 || t->ne[1] != ne1)
        return onc_error_set(err, ONC_ERR_FORMAT,
                             "%s: tensor %s has shape {%lld, %lld} (%u-D), the base model needs {%lld, %lld}", path,
                             t->name, (long long)t->ne[0], (long long)t->ne[1], t->n_dims, (long long)ne0,
                             (long long)ne1);
    return ONC_OK;
}

/* Validate the tensor names: ".lora_a"/".lora_b" only, no embeddings or
 * output head. */
static onc_status check_names(const onc_gguf *g, const char *path, onc_error *err) {
    for (int64_t i = 0; i < onc_gguf_n_tensors(g); i++) {
        const char *name = onc_gguf_tensor_at(g, i)->name;
        if (!ends_with(name, ".lora_a") && !ends_with(name, ".lora_b"))
            return onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s has an unexpected suffix (not .lora_a/.lora_b)",
                                 path, name);
        if (strncmp(name, "token_embd.", 11) == 0 || strncmp(name, "output.", 7) == 0)
            return onc_error_set(err, ONC_ERR_UNSUPPORTED,
                                 "%s: tensor %s adapts the %s; oncolm adapts only the linear layers of the blocks",
                                 path, name, name[0] == 't' ? "token embeddings" : "output head");
    }
    return ONC_OK;
}

onc_lora *lora_load_gguf(const char *path, const onc_gguf *base, const onc_hparams *hp, onc_error *err) {
    onc_gguf *g = onc_gguf_open(path, err);
    if (!g) return NULL;
    onc_lora *l = NULL;
    lora_slot *slots = NULL;
    size_t n_slots = 0;
    if (expect_str(g, path, "general.type", "adapter", err) != ONC_OK ||
        expect_str(g, path, "adapter.type", "lora", err) != ONC_OK)
        goto fail;
    onc_str arch;
    const onc_status ast = onc_gguf_get_str(g, "general.architecture", &arch, err);
    if (ast == ONC_ERR_NOT_FOUND) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: key general.architecture missing", path);
        goto fail;
    }
    if (ast != ONC_OK) goto fail;
    const char *want = onc_arch_name(hp->arch);
    if (arch.len != strlen(want) || memcmp(arch.ptr, want, arch.len) != 0) {
        onc_error_set(err, ONC_ERR_INVALID, "%s: general.architecture: adapter is for a %.*s model, the base is %s",
                      path, (int)(arch.len > 32 ? 32 : arch.len), arch.ptr, want);
        goto fail;
    }
    const int64_t ki = onc_gguf_find_key(g, "adapter.lora.alpha");
    if (ki < 0 || onc_gguf_kv_type(g, ki) != ONC_GGUF_FLOAT32) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: key adapter.lora.alpha %s", path,
                      ki < 0 ? "missing" : "must be FLOAT32");
        goto fail;
    }
    const float alpha = onc_gguf_val_f32(g, ki);
    if (!isfinite(alpha)) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: key adapter.lora.alpha is not finite", path);
        goto fail;
    }
    if (check_names(g, path, err) != ONC_OK) goto fail;
    if (!(slots = lora_slots(base, hp, &n_slots, err))) goto fail;
    /* pass 1: pairs, shapes, rank */
    size_t n = 0;
    int64_t rank = 0;
    const char *rank_from = NULL;
    for (size_t i = 0; i < n_slots; i++) {
        char na[96], nb[96];
        snprintf(na, sizeof na, "%s.lora_a", slots[i].base->name);
        snprintf(nb, sizeof nb, "%s.lora_b", slots[i].base->name);
        const onc_gguf_tensor *ta = onc_gguf_find_tensor(g, na), *tb = onc_gguf_find_tensor(g, nb);
        if (!ta && !tb) continue;
        if (!ta || !tb) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s is missing (its pair %s is present)", path,
                          ta ? nb : na, ta ? na : nb);
            goto fail;
        }
        const int64_t r = tb->ne[0];
        if (!rank) {
            rank = r;
            rank_from = tb->name;
        }
        if (r != rank) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s has rank %lld, %s has rank %lld", path, tb->name,
                          (long long)r, rank_from, (long long)rank);
            goto fail;
        }
        if (check_tensor(path, ta, slots[i].base->ne[0], rank, err) != ONC_OK ||
            check_tensor(path, tb, rank, slots[i].base->ne[1], err) != ONC_OK)
            goto fail;
        n++;
    }
    if ((int64_t)(2 * n) != onc_gguf_n_tensors(g)) {
        for (int64_t i = 0; i < onc_gguf_n_tensors(g); i++) {
            const char *name = onc_gguf_tensor_at(g, i)->name;
            char b[96];
            snprintf(b, sizeof b, "%.*s", (int)(strlen(name) - 7), name);
            bool found = false;
            for (size_t s = 0; s < n_slots && !found; s++) found = strcmp(slots[s].base->name, b) == 0;
            if (!found) {
                onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s: %s is not an adaptable layer of the base model %s",
                              path, name, b, onc_gguf_path(base));
                goto fail;
            }
        }
        onc_error_set(err, ONC_ERR_FORMAT, "%s: duplicate LoRA tensors", path);
        goto fail;
    }
    if (!n) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: no LoRA tensors", path);
        goto fail;
    }
    /* pass 2: copy */
    if (!(l = lora_alloc(hp, n, err))) goto fail;
    l->rank = rank;
    /* rsLoRA cannot be told apart: alpha / rank is the right scale; alpha 0
     * means "scale 1" to llama.cpp (the user scale alone), i.e. alpha = rank */
    l->alpha = alpha == 0.0f ? (float)rank : alpha;
    onc_str bm;
    onc_error ignored = {0};
    if (onc_gguf_get_str(g, "general.base_model.0.name", &bm, &ignored) == ONC_OK)
        snprintf(l->base_model, sizeof l->base_model, "%.*s", (int)(bm.len < 255 ? bm.len : 255), bm.ptr);
    for (size_t i = 0; i < n_slots; i++) {
        char na[96], nb[96];
        snprintf(na, sizeof na, "%s.lora_a", slots[i].base->name);
        snprintf(nb, sizeof nb, "%s.lora_b", slots[i].base->name);
        const onc_gguf_tensor *ta = onc_gguf_find_tensor(g, na), *tb = onc_gguf_find_tensor(g, nb);
        if (!ta) continue;
        onc_lora_weight *w = &l->w[l->n++];
        if (lora_weight_init(l, w, &slots[i], err) != ONC_OK) goto fail;
        memcpy(w->a, ta->data, ta->nbytes);
        memcpy(w->b, tb->data, tb->nbytes);
        l->modules |= lora_module_unfused(w->module);
    }
    free(slots);
    onc_gguf_close(g);
    return l;
fail:
    onc_lora_free(l);
    free(slots);
    onc_gguf_close(g);
    return NULL;
}
