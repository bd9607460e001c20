/* arch.c — architecture tables (see oncolm/arch.h): hyper-parameters to and
 * from GGUF metadata with llama.cpp's exact keys and types, and the tensor
 * list of llama / qwen2 / phi3 / bert.
 *
 * Not here: loading tensor data or running models (issue 3: the loader
 * checks a file's tensors against onc_arch_tensors()). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/arch.h"

static const char *const arch_names[ONC_ARCH_COUNT] = {"llama", "qwen2", "phi3", "bert"};

const char *onc_arch_name(onc_arch arch) {
    return (unsigned)arch < ONC_ARCH_COUNT ? arch_names[arch] : "unknown";
}

bool onc_arch_from_name(const char *name, onc_arch *out) {
    for (int a = 0; a < ONC_ARCH_COUNT; a++)
        if (name && strcmp(name, arch_names[a]) == 0) {
            *out = (onc_arch)a;
            return true;
        }
    return false;
}

onc_rope_type onc_arch_rope_type(onc_arch arch) {
    switch (arch) {
    case ONC_ARCH_LLAMA: return ONC_ROPE_NORM;
    case ONC_ARCH_QWEN2:
    case ONC_ARCH_PHI3: return ONC_ROPE_NEOX;
    default: return ONC_ROPE_NONE;
    }
}

static bool is_decoder(onc_arch a) { return a != ONC_ARCH_BERT; }

onc_hparams onc_hparams_default(onc_arch arch) {
    onc_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.arch = arch;
    hp.norm_rms_eps = 1e-5f;
    hp.norm_eps = 1e-12f;
    hp.rope_freq_base = 10000.0f;
    hp.rope_scaling = ONC_ROPE_SCALING_NONE;
    hp.causal_attn = is_decoder(arch);
    hp.fused_qkv = arch == ONC_ARCH_PHI3;
    hp.pooling = arch == ONC_ARCH_BERT ? ONC_POOLING_CLS : ONC_POOLING_UNSPECIFIED;
    hp.n_token_types = arch == ONC_ARCH_BERT ? 2 : 0;
    hp.n_cls_out = 1;
    return hp;
}

void onc_hparams_clear(onc_hparams *hp) {
    if (!hp) return;
    if (hp->cls_labels)
        for (uint32_t i = 0; i < hp->n_cls_out; i++) free(hp->cls_labels[i]);
    free(hp->cls_labels);
    hp->cls_labels = NULL;
    hp->n_cls_out = 1;
}

onc_status onc_hparams_set_labels(onc_hparams *hp, const char *const *labels, uint32_t n) {
    onc_hparams_clear(hp);
    if (n == 0) return ONC_OK;
    char **l = calloc(n, sizeof *l);
    if (!l) return ONC_ERR_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        l[i] = strdup(labels[i]);
        if (!l[i]) {
            for (uint32_t j = 0; j < i; j++) free(l[j]);
            free(l);
            return ONC_ERR_NOMEM;
        }
    }
    hp->cls_labels = l;
    hp->n_cls_out = n;
    return ONC_OK;
}

// --- validation ---------------------------------------------------------------

onc_status onc_hparams_validate(const onc_hparams *hp, const char *what, onc_error *err) {
    const char *w = what ? what : "model";
    if ((unsigned)hp->arch >= ONC_ARCH_COUNT)
        return onc_error_set(err, ONC_ERR_INVALID, "%s: unknown architecture %d", w, (int)hp->arch);
#define NEED(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            char m_[256];                                                                          \
            snprintf(m_, sizeof m_, __VA_ARGS__);                                                  \
            return onc_error_set(err, ONC_ERR_INVALID, "%s (%s): %s", w, onc_arch_name(hp->arch), m_); \
        }                                                                                          \
    } while (0)
    NEED(hp->n_vocab > 0, "vocabulary size is 0");
    NEED(hp->n_ctx_train > 0, "context length is 0");
    NEED(hp->n_embd > 0 && hp->n_layer > 0 && hp->n_head > 0 && hp->n_ff > 0,
         "n_embd %u, n_layer %u, n_head %u, n_ff %u must all be > 0", hp->n_embd, hp->n_layer, hp->n_head, hp->n_ff);
    NEED(hp->n_layer <= 9999, "too many layers (%u)", hp->n_layer);
    NEED(hp->n_head_kv > 0 && hp->n_head % hp->n_head_kv == 0, "head_count %u is not a multiple of head_count_kv %u",
         hp->n_head, hp->n_head_kv);
    NEED(hp->n_embd_head_k > 0 && hp->n_embd_head_v > 0, "head size is 0 (n_embd %u, n_head %u)", hp->n_embd,
         hp->n_head);
    if (is_decoder(hp->arch)) {
        NEED(hp->n_rot > 0 && hp->n_rot % 2 == 0 && hp->n_rot <= hp->n_embd_head_k,
             "rope dimension %u must be even and at most the head size %u", hp->n_rot, hp->n_embd_head_k);
        NEED(hp->arch != ONC_ARCH_LLAMA || hp->n_rot == hp->n_embd_head_k,
             "llama needs rope.dimension_count (%u) == key_length (%u)", hp->n_rot, hp->n_embd_head_k);
        NEED(hp->norm_rms_eps > 0, "layer_norm_rms_epsilon must be > 0");
        NEED(hp->rope_freq_base > 0, "rope.freq_base must be > 0");
    } else {
        NEED(hp->norm_eps > 0, "layer_norm_epsilon must be > 0");
        NEED(hp->n_token_types > 0, "token type count must be > 0");
        NEED(hp->n_head_kv == hp->n_head, "bert has no grouped-query attention");
        NEED(!hp->has_cls_out || hp->n_cls_out > 0, "classifier needs at least one output");
    }
    NEED(!hp->has_rope_freqs || hp->arch == ONC_ARCH_LLAMA, "rope_freqs is a llama tensor");
    NEED(!hp->has_rope_factors || hp->arch == ONC_ARCH_PHI3, "rope_factors_long/short are phi3 tensors");
#undef NEED
    return ONC_OK;
}

// --- reading --------------------------------------------------------------------

/* A u32 key as llama.cpp reads it: stored type UINT32, or (per-layer form)
 * an array of UINT32/INT32, accepted only when all elements are equal.
 * Returns ONC_ERR_NOT_FOUND (err untouched) when absent. */
static onc_status get_u32(const onc_gguf *g, const char *key, uint32_t *out, onc_error *err) {
    int64_t i = onc_gguf_find_key(g, key);
    if (i < 0) return ONC_ERR_NOT_FOUND;
    onc_gguf_type t = onc_gguf_kv_type(g, i);
    if (t == ONC_GGUF_UINT32) {
        *out = onc_gguf_val_u32(g, i);
        return ONC_OK;
    }
    if (t == ONC_GGUF_ARRAY) {
        onc_gguf_type et = onc_gguf_arr_type(g, i);
        uint64_t n = onc_gguf_arr_n(g, i);
        if ((et == ONC_GGUF_UINT32 || et == ONC_GGUF_INT32) && n > 0) {
            const unsigned char *d = onc_gguf_arr_data(g, i);
            uint32_t first, v;
            memcpy(&first, d, 4);
            for (uint64_t j = 1; j < n; j++) {
                memcpy(&v, d + 4 * j, 4);
                if (v != first)
                    return onc_error_set(err, ONC_ERR_UNSUPPORTED,
                                         "%s: key %s has per-layer values that differ (not supported)",
                                         onc_gguf_path(g), key);
            }
            if (et == ONC_GGUF_INT32 && (int32_t)first < 0)
                return onc_error_set(err, ONC_ERR_FORMAT, "%s: key %s is negative", onc_gguf_path(g), key);
            *out = first;
            return ONC_OK;
        }
    }
    return onc_error_set(err, ONC_ERR_FORMAT, "%s: key %s has wrong type %s but expected type u32", onc_gguf_path(g),
                         key, onc_gguf_type_name(t));
}

static onc_status get_f32(const onc_gguf *g, const char *key, float *out, onc_error *err) {
    int64_t i = onc_gguf_find_key(g, key);
    if (i < 0) return ONC_ERR_NOT_FOUND;
    onc_gguf_type t = onc_gguf_kv_type(g, i);
    if (t != ONC_GGUF_FLOAT32)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: key %s has wrong type %s but expected type f32",
                             onc_gguf_path(g), key, onc_gguf_type_name(t));
    *out = onc_gguf_val_f32(g, i);
    return ONC_OK;
}

static onc_status get_bool(const onc_gguf *g, const char *key, bool *out, onc_error *err) {
    int64_t i = onc_gguf_find_key(g, key);
    if (i < 0) return ONC_ERR_NOT_FOUND;
    onc_gguf_type t = onc_gguf_kv_type(g, i);
    if (t != ONC_GGUF_BOOL)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: key %s has wrong type %s but expected type bool",
                             onc_gguf_path(g), key, onc_gguf_type_name(t));
    *out = onc_gguf_val_bool(g, i);
    return ONC_OK;
}

static onc_status get_str(const onc_gguf *g, const char *key, onc_str *out, onc_error *err) {
    int64_t i = onc_gguf_find_key(g, key);
    if (i < 0) return ONC_ERR_NOT_FOUND;
    onc_gguf_type t = onc_gguf_kv_type(g, i);
    if (t != ONC_GGUF_STRING)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: key %s has wrong type %s but expected type string",
                             onc_gguf_path(g), key, onc_gguf_type_name(t));
    *out = onc_gguf_val_str(g, i);
    return ONC_OK;
}

/* Status helpers: a required key that is absent is an error naming it. */
#define REQUIRED(call, key)                                                                        \
    do {                                                                                           \
        onc_status s_ = (call);                                                                    \
        if (s_ == ONC_ERR_NOT_FOUND) {                                                             \
            st = onc_error_set(err, ONC_ERR_NOT_FOUND, "%s: required key %s is missing", path, key); \
            goto fail;                                                                             \
        }                                                                                          \
        if (s_ != ONC_OK) {                                                                        \
            st = s_;                                                                               \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)
#define OPTIONAL(call)                                                                             \
    do {                                                                                           \
        onc_status s_ = (call);                                                                    \
        if (s_ != ONC_OK && s_ != ONC_ERR_NOT_FOUND) {                                             \
            st = s_;                                                                               \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

onc_status onc_hparams_from_gguf(const onc_gguf *g, onc_hparams *out, onc_error *err) {
    const char *path = onc_gguf_path(g);
    onc_status st = ONC_OK;
    char key[128];
    onc_str s;
    memset(out, 0, sizeof *out);
    onc_hparams hp;
    memset(&hp, 0, sizeof hp);
    st = get_str(g, "general.architecture", &s, err);
    if (st == ONC_ERR_NOT_FOUND)
        return onc_error_set(err, ONC_ERR_NOT_FOUND, "%s: required key general.architecture is missing", path);
    if (st != ONC_OK) return st;
    char arch_name[32];
    if (s.len >= sizeof arch_name) s.len = sizeof arch_name - 1;
    memcpy(arch_name, s.ptr, s.len);
    arch_name[s.len] = '\0';
    onc_arch arch;
    if (!onc_arch_from_name(arch_name, &arch))
        return onc_error_set(err, ONC_ERR_UNSUPPORTED,
                             "%s: architecture '%s' is not supported (llama, qwen2, phi3, bert)", path, arch_name);
    hp = onc_hparams_default(arch);
    const char *a = arch_name;

#define K(suffix) (snprintf(key, sizeof key, "%s." suffix, a), key)
    REQUIRED(get_u32(g, K("context_length"), &hp.n_ctx_train, err), key);
    REQUIRED(get_u32(g, K("embedding_length"), &hp.n_embd, err), key);
    REQUIRED(get_u32(g, K("block_count"), &hp.n_layer, err), key);
    REQUIRED(get_u32(g, K("feed_forward_length"), &hp.n_ff, err), key);
    REQUIRED(get_u32(g, K("attention.head_count"), &hp.n_head, err), key);
    hp.n_head_kv = hp.n_head;
    OPTIONAL(get_u32(g, K("attention.head_count_kv"), &hp.n_head_kv, err));
    if (hp.n_head == 0) {
        st = onc_error_set(err, ONC_ERR_FORMAT, "%s: %s.attention.head_count is 0", path, a);
        goto fail;
    }
    hp.n_embd_head_k = hp.n_embd_head_v = hp.n_embd / hp.n_head;
    OPTIONAL(get_u32(g, K("attention.key_length"), &hp.n_embd_head_k, err));
    OPTIONAL(get_u32(g, K("attention.value_length"), &hp.n_embd_head_v, err));
    hp.n_rot = hp.n_embd_head_k;
    if (is_decoder(arch)) {
        OPTIONAL(get_u32(g, K("rope.dimension_count"), &hp.n_rot, err));
        REQUIRED(get_f32(g, K("attention.layer_norm_rms_epsilon"), &hp.norm_rms_eps, err), key);
        OPTIONAL(get_f32(g, K("rope.freq_base"), &hp.rope_freq_base, err));
        onc_str scaling;
        onc_status ss = get_str(g, K("rope.scaling.type"), &scaling, err);
        if (ss == ONC_OK) {
            static const char *const names[] = {"none", "linear", "yarn", "longrope"};
            bool found = false;
            for (int i = 0; i < 4; i++)
                if (scaling.len == strlen(names[i]) && memcmp(scaling.ptr, names[i], scaling.len) == 0) {
                    hp.rope_scaling = (onc_rope_scaling)i;
                    found = true;
                }
            if (!found) {
                st = onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: %s: unknown rope scaling type '%.*s'", path, key,
                                   (int)(scaling.len > 32 ? 32 : scaling.len), scaling.ptr);
                goto fail;
            }
        } else if (ss != ONC_ERR_NOT_FOUND) {
            st = ss;
            goto fail;
        }
        OPTIONAL(get_f32(g, K("rope.scaling.factor"), &hp.rope_scaling_factor, err));
        OPTIONAL(get_u32(g, K("rope.scaling.original_context_length"), &hp.rope_scaling_orig_ctx, err));
    } else {
        REQUIRED(get_f32(g, K("attention.layer_norm_epsilon"), &hp.norm_eps, err), key);
        hp.causal_attn = true; /* llama.cpp's generic default when the key is absent */
        OPTIONAL(get_bool(g, K("attention.causal"), &hp.causal_attn, err));
        uint32_t pooling = 0;
        onc_status ps = get_u32(g, K("pooling_type"), &pooling, err);
        if (ps == ONC_OK) {
            if (pooling > ONC_POOLING_RANK) {
                st = onc_error_set(err, ONC_ERR_FORMAT, "%s: %s: unknown pooling type %u", path, key, pooling);
                goto fail;
            }
            hp.pooling = (onc_pooling)pooling;
        } else if (ps != ONC_ERR_NOT_FOUND) {
            st = ps;
            goto fail;
        } else {
            hp.pooling = ONC_POOLING_UNSPECIFIED;
        }
        hp.n_token_types = 0;
        REQUIRED(get_u32(g, "tokenizer.ggml.token_type_count", &hp.n_token_types, err),
                 "tokenizer.ggml.token_type_count");
        int64_t li = onc_gguf_find_key(g, K("classifier.output_labels"));
        if (li >= 0) {
            if (onc_gguf_kv_type(g, li) != ONC_GGUF_ARRAY || onc_gguf_arr_type(g, li) != ONC_GGUF_STRING) {
                st = onc_error_set(err, ONC_ERR_FORMAT, "%s: key %s must be an array of strings", path, key);
                goto fail;
            }
            uint64_t n = onc_gguf_arr_n(g, li);
            if (n > 0 && n <= 1u << 20) {
                hp.cls_labels = calloc(n, sizeof *hp.cls_labels);
                if (!hp.cls_labels) goto oom;
                hp.n_cls_out = (uint32_t)n;
                for (uint64_t j = 0; j < n; j++) {
                    onc_str l = onc_gguf_arr_str(g, li, j);
                    if (!(hp.cls_labels[j] = strndup(l.ptr, l.len))) goto oom;
                }
            }
        }
    }
    uint32_t vocab = 0;
    onc_status vs = get_u32(g, K("vocab_size"), &vocab, err);
    if (vs != ONC_OK && vs != ONC_ERR_NOT_FOUND) {
        st = vs;
        goto fail;
    }
#undef K
    if (vs == ONC_ERR_NOT_FOUND) {
        int64_t ti = onc_gguf_find_key(g, "tokenizer.ggml.tokens");
        if (ti >= 0 && onc_gguf_kv_type(g, ti) == ONC_GGUF_ARRAY && onc_gguf_arr_n(g, ti) <= UINT32_MAX)
            vocab = (uint32_t)onc_gguf_arr_n(g, ti);
    }
    const onc_gguf_tensor *te = onc_gguf_find_tensor(g, "token_embd.weight");
    if (vocab == 0 && te) vocab = (uint32_t)te->ne[1];
    hp.n_vocab = vocab;

    /* Flags from the tensor table. */
    hp.tied_embeddings = is_decoder(arch) && onc_gguf_find_tensor(g, "output.weight") == NULL;
    hp.fused_qkv = onc_gguf_find_tensor(g, "blk.0.attn_qkv.weight") != NULL;
    hp.has_rope_freqs = arch == ONC_ARCH_LLAMA && onc_gguf_find_tensor(g, "rope_freqs.weight") != NULL;
    hp.has_rope_factors = arch == ONC_ARCH_PHI3 && onc_gguf_find_tensor(g, "rope_factors_long.weight") != NULL;
    if (arch == ONC_ARCH_BERT) {
        hp.has_cls = onc_gguf_find_tensor(g, "cls.weight") != NULL;
        const onc_gguf_tensor *co = onc_gguf_find_tensor(g, "cls.output.weight");
        hp.has_cls_out = co != NULL;
        if (co && !hp.cls_labels) hp.n_cls_out = (uint32_t)co->ne[1];
    }
    st = onc_hparams_validate(&hp, path, err);
    if (st != ONC_OK) goto fail;
    *out = hp;
    return ONC_OK;
oom:
    st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory reading hyper-parameters", path);
fail:
    onc_hparams_clear(&hp);
    return st;
}

// --- writing ---------------------------------------------------------------------

onc_status onc_hparams_write_gguf(const onc_hparams *hp, onc_gguf_writer *w, onc_error *err) {
    onc_status st = onc_hparams_validate(hp, "hyper-parameters", err);
    if (st != ONC_OK) return st;
    const char *a = onc_arch_name(hp->arch);
    char key[128];
#define K(suffix) (snprintf(key, sizeof key, "%s." suffix, a), key)
#define PUT(call)                                                                                  \
    do {                                                                                           \
        if ((st = (call)) != ONC_OK) goto fail;                                                    \
    } while (0)
    PUT(onc_gguf_set_str(w, "general.architecture", a));
    PUT(onc_gguf_set_u32(w, K("vocab_size"), hp->n_vocab));
    PUT(onc_gguf_set_u32(w, K("context_length"), hp->n_ctx_train));
    PUT(onc_gguf_set_u32(w, K("embedding_length"), hp->n_embd));
    PUT(onc_gguf_set_u32(w, K("block_count"), hp->n_layer));
    PUT(onc_gguf_set_u32(w, K("feed_forward_length"), hp->n_ff));
    PUT(onc_gguf_set_u32(w, K("attention.head_count"), hp->n_head));
    const uint32_t head = hp->n_embd / hp->n_head;
    if (hp->n_embd_head_k != head) PUT(onc_gguf_set_u32(w, K("attention.key_length"), hp->n_embd_head_k));
    if (hp->n_embd_head_v != head) PUT(onc_gguf_set_u32(w, K("attention.value_length"), hp->n_embd_head_v));
    if (is_decoder(hp->arch)) {
        PUT(onc_gguf_set_u32(w, K("attention.head_count_kv"), hp->n_head_kv));
        PUT(onc_gguf_set_f32(w, K("attention.layer_norm_rms_epsilon"), hp->norm_rms_eps));
        PUT(onc_gguf_set_u32(w, K("rope.dimension_count"), hp->n_rot));
        PUT(onc_gguf_set_f32(w, K("rope.freq_base"), hp->rope_freq_base));
        if (hp->rope_scaling != ONC_ROPE_SCALING_NONE) {
            static const char *const names[] = {"none", "linear", "yarn", "longrope"};
            PUT(onc_gguf_set_str(w, K("rope.scaling.type"), names[hp->rope_scaling]));
            if (hp->rope_scaling_factor > 0)
                PUT(onc_gguf_set_f32(w, K("rope.scaling.factor"), hp->rope_scaling_factor));
            if (hp->rope_scaling_orig_ctx > 0)
                PUT(onc_gguf_set_u32(w, K("rope.scaling.original_context_length"), hp->rope_scaling_orig_ctx));
        }
    } else {
        PUT(onc_gguf_set_f32(w, K("attention.layer_norm_epsilon"), hp->norm_eps));
        PUT(onc_gguf_set_bool(w, K("attention.causal"), false));
        if (hp->pooling != ONC_POOLING_UNSPECIFIED)
            PUT(onc_gguf_set_u32(w, K("pooling_type"), (uint32_t)hp->pooling));
        PUT(onc_gguf_set_u32(w, "tokenizer.ggml.token_type_count", hp->n_token_types));
        if (hp->cls_labels && hp->n_cls_out > 0)
            PUT(onc_gguf_set_arr_str(w, K("classifier.output_labels"), (const char *const *)hp->cls_labels,
                                     hp->n_cls_out));
    }
#undef K
#undef PUT
    return ONC_OK;
fail:
    return onc_error_set(err, st, "writing hyper-parameters: cannot set %s (%s)", key, onc_status_name(st));
}

// --- tensors -----------------------------------------------------------------------

static const char *const role_names[ONC_ROLE_COUNT] = {
    [ONC_ROLE_TOKEN_EMBD] = "token_embd",
    [ONC_ROLE_TOKEN_TYPES] = "token_types",
    [ONC_ROLE_POS_EMBD] = "position_embd",
    [ONC_ROLE_TOKEN_EMBD_NORM] = "token_embd_norm",
    [ONC_ROLE_OUTPUT_NORM] = "output_norm",
    [ONC_ROLE_OUTPUT] = "output",
    [ONC_ROLE_ROPE_FREQS] = "rope_freqs",
    [ONC_ROLE_ROPE_FACTORS_LONG] = "rope_factors_long",
    [ONC_ROLE_ROPE_FACTORS_SHORT] = "rope_factors_short",
    [ONC_ROLE_ATTN_NORM] = "attn_norm",
    [ONC_ROLE_ATTN_Q] = "attn_q",
    [ONC_ROLE_ATTN_K] = "attn_k",
    [ONC_ROLE_ATTN_V] = "attn_v",
    [ONC_ROLE_ATTN_QKV] = "attn_qkv",
    [ONC_ROLE_ATTN_OUT] = "attn_output",
    [ONC_ROLE_ATTN_OUT_NORM] = "attn_output_norm",
    [ONC_ROLE_FFN_NORM] = "ffn_norm",
    [ONC_ROLE_FFN_GATE] = "ffn_gate",
    [ONC_ROLE_FFN_UP] = "ffn_up",
    [ONC_ROLE_FFN_DOWN] = "ffn_down",
    [ONC_ROLE_LAYER_OUT_NORM] = "layer_output_norm",
    [ONC_ROLE_CLS] = "cls",
    [ONC_ROLE_CLS_OUT] = "cls.output",
};

const char *onc_tensor_role_name(onc_tensor_role role) {
    return (unsigned)role < ONC_ROLE_COUNT ? role_names[role] : "unknown";
}

typedef struct tensor_list {
    onc_arch_tensor *v;
    size_t n, cap;
    bool oom;
} tensor_list;

/* Append one tensor. ne1 == 0 means 1-D. */
static void add(tensor_list *l, onc_tensor_role role, int32_t layer, bool bias, int64_t ne0, int64_t ne1,
                bool required) {
    if (l->oom) return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        onc_arch_tensor *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    onc_arch_tensor *t = &l->v[l->n++];
    memset(t, 0, sizeof *t);
    if (layer >= 0)
        snprintf(t->name, sizeof t->name, "blk.%d.%s.%s", (int)layer, role_names[role], bias ? "bias" : "weight");
    else
        snprintf(t->name, sizeof t->name, "%s.%s", role_names[role], bias ? "bias" : "weight");
    t->role = role;
    t->layer = layer;
    t->is_bias = bias;
    t->n_dims = ne1 > 0 ? 2 : 1;
    t->ne[0] = ne0;
    t->ne[1] = ne1 > 0 ? ne1 : 1;
    t->ne[2] = t->ne[3] = 1;
    t->required = required;
    const bool norm = role == ONC_ROLE_ATTN_NORM || role == ONC_ROLE_FFN_NORM || role == ONC_ROLE_OUTPUT_NORM ||
                      role == ONC_ROLE_TOKEN_EMBD_NORM || role == ONC_ROLE_ATTN_OUT_NORM ||
                      role == ONC_ROLE_LAYER_OUT_NORM;
    const bool factors =
        role == ONC_ROLE_ROPE_FREQS || role == ONC_ROLE_ROPE_FACTORS_LONG || role == ONC_ROLE_ROPE_FACTORS_SHORT;
    t->keep_f32 = t->n_dims == 1 || role == ONC_ROLE_TOKEN_TYPES || role == ONC_ROLE_POS_EMBD;
    t->init = bias ? ONC_INIT_ZEROS : (norm || factors) ? ONC_INIT_ONES : ONC_INIT_NORMAL;
}

static void add_wb(tensor_list *l, onc_tensor_role role, int32_t layer, int64_t ne0, int64_t ne1, bool bias_required) {
    add(l, role, layer, false, ne0, ne1, true);
    add(l, role, layer, true, ne1 > 0 ? ne1 : ne0, 0, bias_required);
}

onc_arch_tensor *onc_arch_tensors(const onc_hparams *hp, size_t *n_out, onc_error *err) {
    *n_out = 0;
    if (onc_hparams_validate(hp, "hyper-parameters", err) != ONC_OK) return NULL;
    tensor_list l = {0};
    const int64_t E = hp->n_embd, V = hp->n_vocab, F = hp->n_ff;
    const int64_t n_q = (int64_t)hp->n_embd_head_k * hp->n_head;
    const int64_t n_k = (int64_t)hp->n_embd_head_k * hp->n_head_kv;
    const int64_t n_v = (int64_t)hp->n_embd_head_v * hp->n_head_kv;
    const int64_t n_o = (int64_t)hp->n_embd_head_v * hp->n_head;

    if (hp->arch == ONC_ARCH_BERT) {
        add(&l, ONC_ROLE_TOKEN_EMBD, -1, false, E, V, true);
        if (hp->n_token_types > 0) add(&l, ONC_ROLE_TOKEN_TYPES, -1, false, E, hp->n_token_types, false);
        add(&l, ONC_ROLE_POS_EMBD, -1, false, E, hp->n_ctx_train, true);
        add_wb(&l, ONC_ROLE_TOKEN_EMBD_NORM, -1, E, 0, true);
        for (int32_t i = 0; i < (int32_t)hp->n_layer; i++) {
            if (hp->fused_qkv) {
                add_wb(&l, ONC_ROLE_ATTN_QKV, i, E, n_q + n_k + n_v, true);
            } else {
                add_wb(&l, ONC_ROLE_ATTN_Q, i, E, n_q, true);
                add_wb(&l, ONC_ROLE_ATTN_K, i, E, n_k, true);
                add_wb(&l, ONC_ROLE_ATTN_V, i, E, n_v, true);
            }
            add_wb(&l, ONC_ROLE_ATTN_OUT, i, n_o, E, false);
            add_wb(&l, ONC_ROLE_ATTN_OUT_NORM, i, E, 0, true);
            add_wb(&l, ONC_ROLE_FFN_UP, i, E, F, false);
            add_wb(&l, ONC_ROLE_FFN_DOWN, i, F, E, false);
            add_wb(&l, ONC_ROLE_LAYER_OUT_NORM, i, E, 0, true);
        }
        if (hp->has_cls) {
            add(&l, ONC_ROLE_CLS, -1, false, E, E, false);
            add(&l, ONC_ROLE_CLS, -1, true, E, 0, false);
        }
        if (hp->has_cls_out) {
            add(&l, ONC_ROLE_CLS_OUT, -1, false, E, hp->n_cls_out, false);
            add(&l, ONC_ROLE_CLS_OUT, -1, true, hp->n_cls_out, 0, false);
        }
    } else {
        const bool qkv_bias = hp->arch == ONC_ARCH_QWEN2;
        add(&l, ONC_ROLE_TOKEN_EMBD, -1, false, E, V, true);
        if (hp->has_rope_freqs) add(&l, ONC_ROLE_ROPE_FREQS, -1, false, hp->n_rot / 2, 0, false);
        if (hp->has_rope_factors) {
            add(&l, ONC_ROLE_ROPE_FACTORS_LONG, -1, false, hp->n_rot / 2, 0, false);
            add(&l, ONC_ROLE_ROPE_FACTORS_SHORT, -1, false, hp->n_rot / 2, 0, false);
        }
        for (int32_t i = 0; i < (int32_t)hp->n_layer; i++) {
            add(&l, ONC_ROLE_ATTN_NORM, i, false, E, 0, true);
            if (hp->fused_qkv) {
                add(&l, ONC_ROLE_ATTN_QKV, i, false, E, n_q + n_k + n_v, true);
                if (qkv_bias) add(&l, ONC_ROLE_ATTN_QKV, i, true, n_q + n_k + n_v, 0, true);
            } else {
                add(&l, ONC_ROLE_ATTN_Q, i, false, E, n_q, true);
                if (qkv_bias) add(&l, ONC_ROLE_ATTN_Q, i, true, n_q, 0, true);
                add(&l, ONC_ROLE_ATTN_K, i, false, E, n_k, true);
                if (qkv_bias) add(&l, ONC_ROLE_ATTN_K, i, true, n_k, 0, true);
                add(&l, ONC_ROLE_ATTN_V, i, false, E, n_v, true);
                if (qkv_bias) add(&l, ONC_ROLE_ATTN_V, i, true, n_v, 0, true);
            }
            add(&l, ONC_ROLE_ATTN_OUT, i, false, n_o, E, true);
            add(&l, ONC_ROLE_FFN_NORM, i, false, E, 0, true);
            if (hp->arch == ONC_ARCH_PHI3) {
                add(&l, ONC_ROLE_FFN_UP, i, false, E, 2 * F, true); /* [gate | up] */
                add(&l, ONC_ROLE_FFN_DOWN, i, false, F, E, true);
            } else {
                add(&l, ONC_ROLE_FFN_GATE, i, false, E, F, true);
                add(&l, ONC_ROLE_FFN_UP, i, false, E, F, true);
                add(&l, ONC_ROLE_FFN_DOWN, i, false, F, E, true);
            }
        }
        add(&l, ONC_ROLE_OUTPUT_NORM, -1, false, E, 0, true);
        if (!hp->tied_embeddings) add(&l, ONC_ROLE_OUTPUT, -1, false, E, V, false);
    }
    if (l.oom) {
        free(l.v);
        onc_error_set(err, ONC_ERR_NOMEM, "tensor list: out of memory");
        return NULL;
    }
    *n_out = l.n;
    return l.v;
}

int64_t onc_hparams_n_params(const onc_hparams *hp) {
    size_t n;
    onc_arch_tensor *t = onc_arch_tensors(hp, &n, NULL);
    if (!t) return 0;
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) total += t[i].ne[0] * t[i].ne[1] * t[i].ne[2] * t[i].ne[3];
    free(t);
    return total;
}
