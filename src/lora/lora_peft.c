/* lora_peft.c — HF PEFT adapters: dir/adapter_model.safetensors (keys
 * base_model.model.model.layers.N.{self_attn,mlp}.X_proj.lora_{A,B}.weight,
 * A [r, in], B [out, r], metadata {"format": "pt"}) and
 * dir/adapter_config.json (peft_type, task_type, r, lora_alpha,
 * target_modules, base_model_name_or_path, use_rslora, lora_dropout, bias,
 * fan_in_fan_out).
 *
 * B rows are in HF order in the files: for llama, attn_q / attn_k rows are
 * permuted as llama.cpp's converter does on load and un-permuted on save.
 * Tensors are written F32; F16 and BF16 tensors are accepted on load and
 * converted to F32 (exactly: every F16/BF16 value is an F32 value). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lora/lora_internal.h"
#include "lora/safetensors.h"
#include "oncolm/fileio.h"
#include "oncolm/types.h"

#define PEFT_PREFIX "base_model.model.model.layers."

/* PEFT key of weight (layer, module), part 'A' or 'B'. */
static void peft_key(char *buf, size_t cap, int32_t layer, onc_lora_module m, char part) {
    snprintf(buf, cap, PEFT_PREFIX "%d.%s.lora_%c.weight", layer, lora_module_peft(m), part);
}

/* The last component of a PEFT module path ("q_proj"). */
static const char *peft_short(onc_lora_module m) {
    const char *p = lora_module_peft(m), *dot = strrchr(p, '.');
    return dot ? dot + 1 : p;
}

static json_t *config_json(const onc_lora *l) {
    json_t *mods = json_array();
    unsigned seen = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!(seen & (unsigned)l->w[i].module)) {
            seen |= (unsigned)l->w[i].module;
            json_array_append_new(mods, json_string(peft_short(l->w[i].module)));
        }
    return json_pack("{s:s,s:s,s:I,s:f,s:o,s:o,s:b,s:f,s:s,s:b,s:b}", "peft_type", "LORA", "task_type", "CAUSAL_LM", "r",
                     (json_int_t)l->rank, "lora_alpha", (double)l->alpha, "target_modules", mods,
                     "base_model_name_or_path", l->base_model[0] ? json_string(l->base_model) : json_null(),
                     "use_rslora", (int)l->rslora, "lora_dropout", (double)l->dropout, "bias", "none",
                     "fan_in_fan_out", 0, "inference_mode", 1);
}

onc_status onc_lora_save_peft(const onc_lora *l, const char *dir, onc_error *err) {
    if (!l || !dir) return onc_error_set(err, ONC_ERR_INVALID, "onc_lora_save_peft: NULL argument");
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return onc_error_set(err, ONC_ERR_IO, "%s: cannot create folder: %s", dir, strerror(errno));
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return onc_error_set(err, ONC_ERR_IO, "%s: not a folder", dir);
    const size_t cap = strlen(dir) + 64;
    char *st_path = malloc(cap), *cfg_path = malloc(cap);
    onc_st_entry *e = calloc(2 * l->n + 1, sizeof *e);
    char(*keys)[128] = calloc(2 * l->n + 1, sizeof *keys);
    float **perm = calloc(l->n + 1, sizeof *perm);
    void *buf = NULL;
    char *js = NULL;
    size_t size = 0;
    onc_status st = ONC_OK;
    if (!st_path || !cfg_path || !e || !keys || !perm) {
        st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", dir);
        goto done;
    }
    snprintf(st_path, cap, "%s/adapter_model.safetensors", dir);
    snprintf(cfg_path, cap, "%s/adapter_config.json", dir);
    for (size_t i = 0; i < l->n; i++) {
        const onc_lora_weight *w = &l->w[i];
        const float *b = w->b;
        const int64_t heads = lora_perm_heads(l, w);
        if (heads) {
            if (w->n_out % (2 * heads) != 0) {
                st = onc_error_set(err, ONC_ERR_INVALID, "%s: %s: %lld rows do not split into %lld heads", dir,
                                   w->base_name, (long long)w->n_out, (long long)heads);
                goto done;
            }
            if (!(perm[i] = malloc((size_t)(w->n_out * l->rank) * sizeof(float)))) {
                st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", dir);
                goto done;
            }
            lora_permute_rows(perm[i], w->b, w->n_out, l->rank, heads, false);
            b = perm[i];
        }
        peft_key(keys[2 * i], sizeof keys[0], w->layer, w->module, 'A');
        peft_key(keys[2 * i + 1], sizeof keys[0], w->layer, w->module, 'B');
        e[2 * i] = (onc_st_entry){keys[2 * i], ONC_ST_F32, 2, {l->rank, w->n_in}, w->a};
        e[2 * i + 1] = (onc_st_entry){keys[2 * i + 1], ONC_ST_F32, 2, {w->n_out, l->rank}, b};
    }
    if ((st = onc_st_write_mem(e, 2 * l->n, &buf, &size, err)) != ONC_OK) {
        onc_error_prefix(err, "%s", st_path);
        goto done;
    }
    json_t *cfg = config_json(l);
    js = cfg ? json_dumps(cfg, JSON_INDENT(2)) : NULL;
    json_decref(cfg);
    if (!js) {
        st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", cfg_path);
        goto done;
    }
    if ((st = onc_write_file_atomic(st_path, buf, size, err)) != ONC_OK) goto done;
    st = onc_write_file_atomic(cfg_path, js, strlen(js), err);
done:
    for (size_t i = 0; perm && i < l->n; i++) free(perm[i]);
    free(perm);
    free(keys);
    free(e);
    free(buf);
    free(js);
    free(st_path);
    free(cfg_path);
    return st;
}

/* ---- load --------------------------------------------------------------------- */

typedef struct peft_config {
    int64_t r;
    double alpha;
    bool rslora;
    double dropout;
    unsigned modules; /* 0 when target_modules is absent */
    char base_model[256];
} peft_config;

/* True for names oncolm never adapts. */
static bool is_embed_or_head(const char *s) {
    return strstr(s, "embed_tokens") || strstr(s, "lm_head") || strstr(s, "wte") || strstr(s, "embed_out");
}

/* One target_modules name into *mask; errors name the file. */
static onc_status target_module(const char *path, const char *name, unsigned *mask, onc_error *err) {
    if (is_embed_or_head(name))
        return onc_error_set(err, ONC_ERR_UNSUPPORTED,
                             "%s: target_modules has \"%s\": oncolm does not adapt embeddings or the output head",
                             path, name);
    onc_error e = {0};
    const unsigned m = onc_lora_modules_parse(name, &e);
    if (!m)
        return onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: target_modules: unknown module \"%s\"", path, name);
    *mask |= m;
    return ONC_OK;
}

/* Parse and check adapter_config.json. */
static onc_status read_config(const char *path, peft_config *c, onc_error *err) {
    *c = (peft_config){.r = 8, .alpha = 8.0};
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        FILE *f = fopen(path, "rb");
        if (!f) return onc_error_set(err, ONC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        fclose(f);
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: not valid JSON: %s (line %d)", path, je.text, je.line);
    }
    onc_status st = ONC_OK;
    json_t *v;
    if (!json_is_object(root)) {
        st = onc_error_set(err, ONC_ERR_FORMAT, "%s: not a JSON object", path);
        goto done;
    }
    if ((v = json_object_get(root, "peft_type")) && !(json_is_string(v) && strcmp(json_string_value(v), "LORA") == 0)) {
        st = onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: key peft_type must be \"LORA\"", path);
        goto done;
    }
    if ((v = json_object_get(root, "r"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > (1 << 20)) {
            st = onc_error_set(err, ONC_ERR_FORMAT, "%s: key r must be an integer in 1..%d", path, 1 << 20);
            goto done;
        }
        c->r = (int64_t)json_integer_value(v);
    }
    if ((v = json_object_get(root, "lora_alpha"))) {
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            st = onc_error_set(err, ONC_ERR_FORMAT, "%s: key lora_alpha must be a number", path);
            goto done;
        }
        c->alpha = json_number_value(v);
    }
    if ((v = json_object_get(root, "use_rslora")) && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            st = onc_error_set(err, ONC_ERR_FORMAT, "%s: key use_rslora must be true or false", path);
            goto done;
        }
        c->rslora = json_is_true(v);
    }
    if ((v = json_object_get(root, "lora_dropout")) && !json_is_null(v)) {
        if (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) < 1)) {
            st = onc_error_set(err, ONC_ERR_FORMAT, "%s: key lora_dropout must be a number in [0, 1)", path);
            goto done;
        }
        c->dropout = json_number_value(v);
    }
    if ((v = json_object_get(root, "fan_in_fan_out")) && json_is_true(v)) {
        st = onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: key fan_in_fan_out true is not supported", path);
        goto done;
    }
    if ((v = json_object_get(root, "use_dora")) && json_is_true(v)) {
        st = onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: key use_dora: DoRA adapters are not supported", path);
        goto done;
    }
    static const char *const patterns[] = {"rank_pattern", "alpha_pattern"};
    for (int i = 0; i < 2; i++)
        if ((v = json_object_get(root, patterns[i])) && json_is_object(v) && json_object_size(v) > 0) {
            st = onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: key %s (per-layer rank or alpha) is not supported",
                               path, patterns[i]);
            goto done;
        }
    if ((v = json_object_get(root, "target_modules")) && !json_is_null(v)) {
        if (json_is_string(v)) {
            st = target_module(path, json_string_value(v), &c->modules, err);
        } else if (json_is_array(v)) {
            for (size_t i = 0; i < json_array_size(v) && st == ONC_OK; i++) {
                const json_t *x = json_array_get(v, i);
                if (!json_is_string(x)) st = onc_error_set(err, ONC_ERR_FORMAT, "%s: target_modules[%zu] is not a string", path, i);
                else st = target_module(path, json_string_value(x), &c->modules, err);
            }
        } else {
            st = onc_error_set(err, ONC_ERR_FORMAT, "%s: key target_modules must be a list of names", path);
        }
        if (st != ONC_OK) goto done;
    }
    if ((v = json_object_get(root, "base_model_name_or_path")) && json_is_string(v))
        snprintf(c->base_model, sizeof c->base_model, "%s", json_string_value(v));
done:
    json_decref(root);
    return st;
}

/* Copy tensor t (F32, F16 or BF16) into dst as F32. */
static void to_f32(float *dst, const onc_st_tensor *t) {
    const size_t n = t->nbytes / onc_st_dtype_size(t->dtype);
    for (size_t i = 0; i < n; i++) {
        if (t->dtype == ONC_ST_F32) {
            memcpy(&dst[i], t->data + 4 * i, 4);
        } else {
            const uint16_t h = (uint16_t)(t->data[2 * i] | t->data[2 * i + 1] << 8);
            dst[i] = t->dtype == ONC_ST_F16 ? onc_f16_to_f32(h) : onc_bf16_to_f32(h);
        }
    }
}

/* Check one tensor: F32/F16/BF16, 2-D [d0, d1]. */
static onc_status check_tensor(const char *path, const onc_st_tensor *t, int64_t d0, int64_t d1, onc_error *err) {
    if (t->dtype != ONC_ST_F32 && t->dtype != ONC_ST_F16 && t->dtype != ONC_ST_BF16)
        return onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: tensor %s has dtype %s (F32, F16 or BF16 expected)", path,
                             t->name, onc_st_dtype_name(t->dtype));
    if (t->n_dims != 2 || t->shape[0] != d0 || t->shape[1] != d1)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s has shape [%lld, %lld] (%d-D), expected [%lld, %lld]",
                             path, t->name, t->n_dims > 0 ? (long long)t->shape[0] : 0LL,
                             t->n_dims > 1 ? (long long)t->shape[1] : 0LL, t->n_dims, (long long)d0, (long long)d1);
    return ONC_OK;
}

/* The first tensor of st that is not one of the slots' keys: an error. */
static onc_status report_stray(const char *path, const onc_st *st, const lora_slot *slots, size_t n_slots,
                               const onc_gguf *base, onc_error *err) {
    for (size_t i = 0; i < onc_st_n(st); i++) {
        const char *name = onc_st_at(st, i)->name;
        if (is_embed_or_head(name))
            return onc_error_set(err, ONC_ERR_UNSUPPORTED,
                                 "%s: tensor %s adapts embeddings or the output head, which oncolm does not adapt",
                                 path, name);
        bool found = false;
        for (size_t s = 0; s < n_slots && !found; s++) {
            char k[128];
            peft_key(k, sizeof k, slots[s].layer, slots[s].module, 'A');
            found = strcmp(k, name) == 0;
            peft_key(k, sizeof k, slots[s].layer, slots[s].module, 'B');
            found = found || strcmp(k, name) == 0;
        }
        if (!found)
            return onc_error_set(err, ONC_ERR_FORMAT,
                                 "%s: tensor %s is not a LoRA weight of an adaptable layer of the base model %s", path,
                                 name, onc_gguf_path(base));
    }
    return ONC_OK;
}

onc_lora *lora_load_peft(const char *dir, const char *st_path, const char *cfg_path, const onc_gguf *base,
                         const onc_hparams *hp, onc_error *err) {
    (void)dir;
    peft_config c;
    if (read_config(cfg_path, &c, err) != ONC_OK) return NULL;
    onc_st *st = onc_st_read_file(st_path, err);
    if (!st) return NULL;
    onc_lora *l = NULL;
    size_t n_slots = 0, n = 0;
    lora_slot *slots = lora_slots(base, hp, &n_slots, err);
    float *tmp = NULL;
    if (!slots) goto fail;
    for (size_t i = 0; i < n_slots; i++) {
        char ka[128], kb[128];
        peft_key(ka, sizeof ka, slots[i].layer, slots[i].module, 'A');
        peft_key(kb, sizeof kb, slots[i].layer, slots[i].module, 'B');
        const onc_st_tensor *ta = onc_st_find(st, ka), *tb = onc_st_find(st, kb);
        if (!ta && !tb) continue;
        if (!ta || !tb) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s is missing (its pair %s is present)", st_path,
                          ta ? kb : ka, ta ? ka : kb);
            goto fail;
        }
        if (ta->n_dims == 2 && ta->shape[0] != c.r) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s has rank %lld, %s says r = %lld", st_path, ka,
                          (long long)ta->shape[0], cfg_path, (long long)c.r);
            goto fail;
        }
        if (check_tensor(st_path, ta, c.r, slots[i].base->ne[0], err) != ONC_OK ||
            check_tensor(st_path, tb, slots[i].base->ne[1], c.r, err) != ONC_OK)
            goto fail;
        n++;
    }
    if (2 * n != onc_st_n(st)) {
        if (report_stray(st_path, st, slots, n_slots, base, err) == ONC_OK)
            onc_error_set(err, ONC_ERR_FORMAT, "%s: unexpected tensors", st_path);
        goto fail;
    }
    if (!n) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: no LoRA tensors", st_path);
        goto fail;
    }
    if (!(l = lora_alloc(hp, n, err))) goto fail;
    l->rank = c.r;
    l->alpha = (float)c.alpha;
    l->rslora = c.rslora;
    l->dropout = (float)c.dropout;
    snprintf(l->base_model, sizeof l->base_model, "%s", c.base_model);
    for (size_t i = 0; i < n_slots; i++) {
        char ka[128], kb[128];
        peft_key(ka, sizeof ka, slots[i].layer, slots[i].module, 'A');
        peft_key(kb, sizeof kb, slots[i].layer, slots[i].module, 'B');
        const onc_st_tensor *ta = onc_st_find(st, ka), *tb = onc_st_find(st, kb);
        if (!ta) continue;
        onc_lora_weight *w = &l->w[l->n++];
        if (lora_weight_init(l, w, &slots[i], err) != ONC_OK) goto fail;
        to_f32(w->a, ta);
        const int64_t heads = lora_perm_heads(l, w);
        if (!heads) {
            to_f32(w->b, tb);
        } else {
            if (heads < 1 || w->n_out % (2 * heads) != 0) {
                onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s: %lld rows do not split into %lld heads", st_path,
                              kb, (long long)w->n_out, (long long)heads);
                goto fail;
            }
            free(tmp);
            if (!(tmp = malloc((size_t)(w->n_out * l->rank) * sizeof(float)))) {
                onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", st_path);
                goto fail;
            }
            to_f32(tmp, tb);
            lora_permute_rows(w->b, tmp, w->n_out, l->rank, heads, true);
        }
        l->modules |= lora_module_unfused(w->module);
    }
    if (c.modules) l->modules = c.modules;
    free(tmp);
    free(slots);
    onc_st_free(st);
    return l;
fail:
    free(tmp);
    onc_lora_free(l);
    free(slots);
    onc_st_free(st);
    return NULL;
}
