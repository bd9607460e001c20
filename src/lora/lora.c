/* lora.c — LoRA adapters in memory: modules, configuration, PEFT-compatible
 * initialisation, lookup, scale, llama's Q/K row permutation, and the
 * format dispatch of onc_lora_load (see oncolm/lora.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lora/lora_internal.h"
#include "oncolm/rng.h"

static const struct {
    onc_lora_module bit;
    const char *name; /* short name */
    const char *gguf; /* base tensor name in a block */
    const char *peft; /* PEFT module path in a layer */
} MODS[] = {
    {ONC_LORA_Q, "q", "attn_q", "self_attn.q_proj"},
    {ONC_LORA_K, "k", "attn_k", "self_attn.k_proj"},
    {ONC_LORA_V, "v", "attn_v", "self_attn.v_proj"},
    {ONC_LORA_O, "o", "attn_output", "self_attn.o_proj"},
    {ONC_LORA_GATE, "gate", "ffn_gate", "mlp.gate_proj"},
    {ONC_LORA_UP, "up", "ffn_up", "mlp.up_proj"},
    {ONC_LORA_DOWN, "down", "ffn_down", "mlp.down_proj"},
    {ONC_LORA_QKV, "qkv", "attn_qkv", "self_attn.qkv_proj"},
    {ONC_LORA_GATE_UP, "gate_up", "ffn_up", "mlp.gate_up_proj"},
};
#define N_MODS (sizeof MODS / sizeof MODS[0])

const char *lora_module_gguf(onc_lora_module m) {
    for (size_t i = 0; i < N_MODS; i++)
        if (MODS[i].bit == m) return MODS[i].gguf;
    return "?";
}

const char *lora_module_peft(onc_lora_module m) {
    for (size_t i = 0; i < N_MODS; i++)
        if (MODS[i].bit == m) return MODS[i].peft;
    return "?";
}

unsigned lora_module_unfused(onc_lora_module m) {
    if (m == ONC_LORA_QKV) return ONC_LORA_Q | ONC_LORA_K | ONC_LORA_V;
    if (m == ONC_LORA_GATE_UP) return ONC_LORA_GATE | ONC_LORA_UP;
    return (unsigned)m;
}

/* Mask of one name: short ("q"), PEFT ("q_proj"), "qkv"/"qkv_proj" and
 * "gate_up"/"gate_up_proj" (the unfused bits they stand for), "all",
 * "all-linear"; 0 when unknown. */
static unsigned module_of_name(const char *s, size_t n) {
    if ((n == 3 && memcmp(s, "all", 3) == 0) || (n == 10 && memcmp(s, "all-linear", 10) == 0))
        return ONC_LORA_ALL_LINEAR;
    for (size_t i = 0; i < N_MODS; i++) {
        const size_t k = strlen(MODS[i].name);
        if ((n == k && memcmp(s, MODS[i].name, k) == 0) ||
            (n == k + 5 && memcmp(s, MODS[i].name, k) == 0 && memcmp(s + k, "_proj", 5) == 0))
            return lora_module_unfused(MODS[i].bit);
    }
    return 0;
}

unsigned onc_lora_modules_parse(const char *list, onc_error *err) {
    static const char valid[] = "q, k, v, o, gate, up, down (or q_proj, ..., down_proj, qkv_proj, gate_up_proj), "
                                "all, all-linear";
    if (!list) {
        onc_error_set(err, ONC_ERR_INVALID, "LoRA modules: empty list; valid names: %s", valid);
        return 0;
    }
    unsigned mask = 0;
    const char *p = list;
    for (;;) {
        while (*p && isspace((unsigned char)*p)) p++;
        const char *s = p;
        while (*p && *p != ',') p++;
        const char *e = p;
        while (e > s && isspace((unsigned char)e[-1])) e--;
        if (e > s) {
            const unsigned m = module_of_name(s, (size_t)(e - s));
            if (!m) {
                onc_error_set(err, ONC_ERR_INVALID, "LoRA modules: unknown module \"%.*s\"; valid names: %s",
                              (int)(e - s), s, valid);
                return 0;
            }
            mask |= m;
        }
        if (!*p) break;
        p++;
    }
    if (!mask) onc_error_set(err, ONC_ERR_INVALID, "LoRA modules: empty list; valid names: %s", valid);
    return mask;
}

const char *onc_lora_modules_name(unsigned mask, char *buf, size_t cap) {
    if (!cap) return buf;
    buf[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < N_MODS; i++) {
        if (!(mask & MODS[i].bit)) continue;
        const int w = snprintf(buf + len, cap - len, "%s%s", len ? "," : "", MODS[i].name);
        if (w < 0 || (size_t)w >= cap - len) break; /* truncated, still NUL-terminated */
        len += (size_t)w;
    }
    return buf;
}

onc_lora_config onc_lora_config_default(void) {
    return (onc_lora_config){.rank = 8, .alpha = 8.0f, .rslora = false, .dropout = 0.0f, .modules = ONC_LORA_ALL_LINEAR};
}

float onc_lora_scale(const onc_lora *l) {
    if (!l || l->rank < 1) return 0.0f;
    return l->rslora ? (float)(l->alpha / sqrt((double)l->rank)) : l->alpha / (float)l->rank;
}

void onc_lora_free(onc_lora *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->w[i].a);
        free(l->w[i].b);
    }
    free(l->w);
    free(l);
}

const onc_lora_weight *onc_lora_find(const onc_lora *l, const char *base_name) {
    if (!l || !base_name) return NULL;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->w[i].base_name, base_name) == 0) return &l->w[i];
    return NULL;
}

int64_t onc_lora_n_params(const onc_lora *l) {
    int64_t n = 0;
    if (!l) return 0;
    for (size_t i = 0; i < l->n; i++) n += l->rank * (l->w[i].n_in + l->w[i].n_out);
    return n;
}

lora_slot *lora_slots(const onc_gguf *base, const onc_hparams *hp, size_t *n, onc_error *err) {
    *n = 0;
    const char *what = onc_gguf_path(base);
    if (hp->arch != ONC_ARCH_LLAMA && hp->arch != ONC_ARCH_QWEN2 && hp->arch != ONC_ARCH_PHI3) {
        onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: LoRA adapters need a decoder model (llama, qwen2, phi3), not %s",
                      what, onc_arch_name(hp->arch));
        return NULL;
    }
    static const onc_lora_module plain[] = {ONC_LORA_Q, ONC_LORA_K, ONC_LORA_V, ONC_LORA_O,
                                            ONC_LORA_GATE, ONC_LORA_UP, ONC_LORA_DOWN};
    static const onc_lora_module fused[] = {ONC_LORA_O, ONC_LORA_DOWN, ONC_LORA_QKV, ONC_LORA_GATE_UP};
    const bool phi3 = hp->arch == ONC_ARCH_PHI3;
    const onc_lora_module *mods = phi3 ? fused : plain;
    const size_t n_mods = phi3 ? 4 : 7;
    lora_slot *s = calloc((size_t)hp->n_layer * n_mods + 1, sizeof *s);
    if (!s) {
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", what);
        return NULL;
    }
    for (uint32_t L = 0; L < hp->n_layer; L++)
        for (size_t k = 0; k < n_mods; k++) {
            char name[ONC_GGUF_MAX_NAME];
            snprintf(name, sizeof name, "blk.%u.%s.weight", L, lora_module_gguf(mods[k]));
            const onc_gguf_tensor *t = onc_gguf_find_tensor(base, name);
            if (!t || t->n_dims != 2) continue;
            s[*n] = (lora_slot){.layer = (int32_t)L, .module = mods[k], .base = t};
            (*n)++;
        }
    return s;
}

onc_lora *lora_alloc(const onc_hparams *hp, size_t n, onc_error *err) {
    onc_lora *l = calloc(1, sizeof *l);
    if (l) l->w = calloc(n ? n : 1, sizeof *l->w);
    if (!l || !l->w) {
        free(l);
        onc_error_set(err, ONC_ERR_NOMEM, "LoRA adapter: out of memory");
        return NULL;
    }
    snprintf(l->arch, sizeof l->arch, "%s", onc_arch_name(hp->arch));
    l->n_head = hp->n_head;
    l->n_head_kv = hp->n_head_kv ? hp->n_head_kv : hp->n_head;
    return l;
}

onc_status lora_weight_init(onc_lora *l, onc_lora_weight *w, const lora_slot *s, onc_error *err) {
    snprintf(w->base_name, sizeof w->base_name, "%s", s->base->name);
    w->layer = s->layer;
    w->module = s->module;
    w->n_in = s->base->ne[0];
    w->n_out = s->base->ne[1];
    const uint64_t na = (uint64_t)l->rank * (uint64_t)w->n_in, nb = (uint64_t)l->rank * (uint64_t)w->n_out;
    if (l->rank > (1 << 20) || na > SIZE_MAX / sizeof(float) / 2 || nb > SIZE_MAX / sizeof(float) / 2)
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: LoRA rank %lld too large", w->base_name, (long long)l->rank);
    w->a = calloc((size_t)na, sizeof(float));
    w->b = calloc((size_t)nb, sizeof(float));
    if (!w->a || !w->b)
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory for LoRA rank %lld", w->base_name,
                             (long long)l->rank);
    return ONC_OK;
}

/* Whether slot module m is adapted under mask (phi3 fused tensors when any
 * of their parts is asked for). */
static bool module_wanted(onc_lora_module m, unsigned mask) {
    return (mask & (unsigned)m) || (mask & lora_module_unfused(m));
}

/* Uniform float in [0, 1) from 24 random bits. */
static float rng_uniform(onc_rng *r) { return (float)(onc_rng_next(r) >> 40) * (1.0f / 16777216.0f); }

onc_lora *onc_lora_new(const onc_gguf *base, const onc_hparams *hp, const onc_lora_config *cfg, uint64_t seed,
                       onc_error *err) {
    const onc_lora_config def = onc_lora_config_default();
    if (!cfg) cfg = &def;
    const char *what = onc_gguf_path(base);
    if (cfg->rank < 1 || cfg->rank > (1 << 20)) {
        onc_error_set(err, ONC_ERR_INVALID, "LoRA rank must be in 1..%d, got %lld", 1 << 20, (long long)cfg->rank);
        return NULL;
    }
    if (!isfinite(cfg->alpha) || !(cfg->dropout >= 0.0f && cfg->dropout < 1.0f)) {
        onc_error_set(err, ONC_ERR_INVALID, "LoRA alpha must be finite and dropout in [0, 1)");
        return NULL;
    }
    size_t n_slots;
    lora_slot *slots = lora_slots(base, hp, &n_slots, err);
    if (!slots) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < n_slots; i++) n += module_wanted(slots[i].module, cfg->modules);
    if (!n) {
        char buf[128];
        onc_error_set(err, ONC_ERR_INVALID, "%s: no module of \"%s\" in this %s model", what,
                      onc_lora_modules_name(cfg->modules, buf, sizeof buf), onc_arch_name(hp->arch));
        free(slots);
        return NULL;
    }
    onc_lora *l = lora_alloc(hp, n, err);
    if (!l) {
        free(slots);
        return NULL;
    }
    l->rank = cfg->rank;
    l->alpha = cfg->alpha;
    l->rslora = cfg->rslora;
    l->dropout = cfg->dropout;
    l->modules = cfg->modules;
    onc_rng rng;
    onc_rng_seed(&rng, seed);
    for (size_t i = 0; i < n_slots; i++) {
        if (!module_wanted(slots[i].module, cfg->modules)) continue;
        onc_lora_weight *w = &l->w[l->n++];
        if (lora_weight_init(l, w, &slots[i], err) != ONC_OK) {
            free(slots);
            onc_lora_free(l);
            return NULL;
        }
        /* PEFT: kaiming_uniform_(a = sqrt 5) on (r, in) = U(-1/sqrt(in), 1/sqrt(in)) */
        const float bound = (float)(1.0 / sqrt((double)w->n_in));
        const size_t na = (size_t)(l->rank * w->n_in);
        for (size_t j = 0; j < na; j++) w->a[j] = (2.0f * rng_uniform(&rng) - 1.0f) * bound;
    }
    free(slots);
    return l;
}

int64_t lora_perm_heads(const onc_lora *l, const onc_lora_weight *w) {
    if (strcmp(l->arch, "llama") != 0) return 0;
    if (w->module == ONC_LORA_Q) return l->n_head;
    if (w->module == ONC_LORA_K) return l->n_head != l->n_head_kv ? l->n_head_kv : l->n_head;
    return 0;
}

void lora_permute_rows(float *dst, const float *src, int64_t n_out, int64_t r, int64_t heads, bool to_gguf) {
    const int64_t d = n_out / heads, half = d / 2;
    for (int64_t h = 0; h < heads; h++)
        for (int64_t j = 0; j < half; j++)
            for (int64_t s = 0; s < 2; s++) {
                const int64_t g = h * d + 2 * j + s;  /* GGUF row */
                const int64_t f = h * d + s * half + j; /* HF row */
                const int64_t to = to_gguf ? g : f, from = to_gguf ? f : g;
                memcpy(dst + to * r, src + from * r, (size_t)r * sizeof(float));
            }
}

static bool ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* GGUF files: ".gguf" or the GGUF magic. */
static bool is_gguf_file(const char *path) {
    if (ends_with(path, ".gguf")) return true;
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    unsigned char m[4] = {0};
    const bool yes = fread(m, 1, 4, f) == 4 && memcmp(m, "GGUF", 4) == 0;
    fclose(f);
    return yes;
}

onc_lora *onc_lora_load(const char *path, const onc_gguf *base, const onc_hparams *hp, onc_error *err) {
    if (!path || !base || !hp) {
        onc_error_set(err, ONC_ERR_INVALID, "onc_lora_load: NULL argument");
        return NULL;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) {
        onc_error_set(err, ONC_ERR_IO, "%s: cannot open LoRA adapter: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(sb.st_mode) && is_gguf_file(path)) return lora_load_gguf(path, base, hp, err);
    if (!S_ISDIR(sb.st_mode) && !ends_with(path, ".json") && !ends_with(path, ".safetensors")) {
        onc_error_set(err, ONC_ERR_FORMAT,
                      "%s: not a LoRA adapter: neither a GGUF file nor a PEFT adapter (a folder holding "
                      "adapter_config.json and adapter_model.safetensors, or one of those two files)",
                      path);
        return NULL;
    }
    /* PEFT: a folder, or one of its two files (the other beside it) */
    const size_t cap = strlen(path) + 64;
    char *dir = malloc(cap), *st = malloc(cap), *cfg = malloc(cap);
    onc_lora *l = NULL;
    if (!dir || !st || !cfg) {
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(dir, cap, "%s", path);
    } else {
        const char *slash = strrchr(path, '/');
        if (slash) snprintf(dir, cap, "%.*s", (int)(slash - path), path);
        else snprintf(dir, cap, ".");
        if (slash == path) snprintf(dir, cap, "/");
    }
    snprintf(cfg, cap, "%s/adapter_config.json", dir);
    if (!S_ISDIR(sb.st_mode) && !ends_with(path, ".json")) snprintf(st, cap, "%s", path);
    else snprintf(st, cap, "%s/adapter_model.safetensors", dir);
    l = lora_load_peft(dir, st, cfg, base, hp, err);
done:
    free(dir);
    free(st);
    free(cfg);
    return l;
}
