/* model_create.c — random-weight GGUF models (see oncolm/model_create.h):
 * presets, tokenizer (given, loaded, or trained and padded), hyper-parameters
 * and metadata, and the streaming tensor generator.
 *
 * Each tensor gets its own xoshiro256** stream seeded from
 * splitmix64(seed ^ fnv1a(name)), so its content does not depend on which
 * other tensors exist or on the write order. Normals come from Box-Muller.
 * The writer calls fill_tensor() for each tensor at write time; rows are
 * generated into a one-row F32 buffer and quantized straight into the
 * writer's output buffer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/gguf.h"
#include "oncolm/model_create.h"
#include "oncolm/rng.h"

const char *const onc_model_create_presets[] = {"tiny", "small", "1b", "mini", "7b", "8b", "base", NULL};

onc_model_create_params onc_model_create_default_params(void) {
    onc_model_create_params p;
    memset(&p, 0, sizeof p);
    p.arch = ONC_ARCH_LLAMA;
    p.preset = "tiny";
    p.vocab_kind = -1;
    p.wtype = ONC_TYPE_F32;
    p.seed = 42;
    p.init_std = 0.02f;
    return p;
}

// --- presets -----------------------------------------------------------------------

typedef struct preset_dims {
    const char *name;
    int arch; /* onc_arch or -1 for every decoder */
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
    int32_t train_vocab; /* vocabulary training target */
    int32_t pad_vocab;   /* real model's vocabulary size (0 = no padding) */
    float rope_base, rms_eps;
    bool tied;
} preset_dims;

static const preset_dims presets[] = {
    /* tiny: a few M parameters, K-quant friendly rows (256, 768) */
    {"tiny", ONC_ARCH_LLAMA, 256, 4, 8, 4, 768, 512, 2000, 0, 10000.0f, 1e-5f, false},
    {"tiny", ONC_ARCH_QWEN2, 256, 4, 8, 4, 768, 512, 2000, 0, 1000000.0f, 1e-6f, false},
    {"tiny", ONC_ARCH_PHI3, 256, 4, 8, 8, 768, 512, 2000, 0, 10000.0f, 1e-5f, false},
    {"tiny", ONC_ARCH_BERT, 256, 4, 4, 4, 1024, 512, 2000, 0, 0, 0, false},
    /* small: ~100M */
    {"small", ONC_ARCH_LLAMA, 768, 12, 12, 4, 2048, 2048, 32000, 32000, 10000.0f, 1e-5f, false},
    /* Qwen2-0.5B shape: rows of 896 are not K-quant friendly (fallback);
     * regular tokens end at 151643 where the special block starts */
    {"small", ONC_ARCH_QWEN2, 896, 24, 14, 2, 4864, 32768, 151643, 151936, 1000000.0f, 1e-6f, true},
    {"small", ONC_ARCH_PHI3, 768, 12, 12, 12, 2048, 4096, 32000, 32064, 10000.0f, 1e-5f, false},
    /* TinyLlama-1.1B and Phi-3-mini (3.8B) shapes */
    {"1b", ONC_ARCH_LLAMA, 2048, 22, 32, 4, 5632, 2048, 32000, 32000, 10000.0f, 1e-5f, false},
    {"mini", ONC_ARCH_PHI3, 3072, 32, 32, 32, 8192, 4096, 32000, 32064, 10000.0f, 1e-5f, false},
    {"small", ONC_ARCH_BERT, 512, 4, 8, 8, 2048, 512, 30522, 30522, 0, 0, false},
    /* Llama-2-7B and Llama-3-8B shapes */
    {"7b", ONC_ARCH_LLAMA, 4096, 32, 32, 32, 11008, 4096, 32000, 32000, 10000.0f, 1e-5f, false},
    {"8b", ONC_ARCH_LLAMA, 4096, 32, 32, 8, 14336, 8192, 128000, 128256, 500000.0f, 1e-5f, false},
    /* BERT-base (110M) */
    {"base", ONC_ARCH_BERT, 768, 12, 12, 12, 3072, 512, 30522, 30522, 0, 0, false},
};

static const preset_dims *find_preset(onc_arch arch, const char *name) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (presets[i].arch == (int)arch && strcmp(presets[i].name, name) == 0) return &presets[i];
    return NULL;
}

static void apply_preset(const preset_dims *d, onc_hparams *hp) {
    hp->n_embd = d->n_embd;
    hp->n_layer = d->n_layer;
    hp->n_head = d->n_head;
    hp->n_head_kv = d->n_head_kv;
    hp->n_ff = d->n_ff;
    hp->n_ctx_train = d->n_ctx;
    if (d->rope_base > 0) hp->rope_freq_base = d->rope_base;
    if (d->rms_eps > 0) hp->norm_rms_eps = d->rms_eps;
    hp->tied_embeddings = d->tied;
}

onc_status onc_model_create_preset(onc_arch arch, const char *preset, onc_hparams *hp, onc_error *err) {
    const preset_dims *d = find_preset(arch, preset ? preset : "tiny");
    if (!d)
        return onc_error_set(err, ONC_ERR_INVALID, "model create: no preset '%s' for architecture %s",
                             preset ? preset : "tiny", onc_arch_name(arch));
    *hp = onc_hparams_default(arch);
    apply_preset(d, hp);
    hp->n_embd_head_k = hp->n_embd_head_v = hp->n_rot = hp->n_embd / hp->n_head;
    return ONC_OK;
}

// --- random numbers --------------------------------------------------------------------

typedef struct rng {
    onc_rng g;
    bool has_spare;
    double spare;
} rng;

static void rng_seed(rng *r, uint64_t seed, const char *name) {
    uint64_t h = 1469598103934665603ull;
    for (const char *p = name; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ull;
    }
    onc_rng_seed(&r->g, seed ^ h);
    r->has_spare = false;
}

/* Uniform in (0, 1]. */
static double rng_uniform(rng *r) { return ((double)(onc_rng_next(&r->g) >> 11) + 1.0) * (1.0 / 9007199254740992.0); }

static double rng_normal(rng *r) {
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    double m = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
    r->spare = m * sin(a);
    r->has_spare = true;
    return m * cos(a);
}

// --- vocabulary -------------------------------------------------------------------------

/* Append UNUSED tokens until spec has `target` tokens. */
static onc_status pad_vocab(onc_vocab_spec *s, int32_t target, onc_error *err) {
    if (target <= s->n_tokens) return ONC_OK;
    char **t = realloc(s->tokens, (size_t)target * sizeof *t);
    if (!t) goto oom;
    s->tokens = t;
    if (s->scores) {
        float *sc = realloc(s->scores, (size_t)target * sizeof *sc);
        if (!sc) goto oom;
        s->scores = sc;
    }
    int32_t *ty = s->token_types ? realloc(s->token_types, (size_t)target * sizeof *ty) : NULL;
    if (s->token_types && !ty) goto oom;
    if (ty) s->token_types = ty;
    int32_t k = 0;
    while (s->n_tokens < target) {
        char name[48];
        switch (s->kind) {
        case ONC_VOCAB_SPM: snprintf(name, sizeof name, "<unused%d>", (int)k); break;
        case ONC_VOCAB_BPE: snprintf(name, sizeof name, "<|reserved_%d|>", (int)k); break;
        default: snprintf(name, sizeof name, "[unused%d]", (int)k + 99); break;
        }
        k++;
        char *c = strdup(name);
        if (!c) goto oom;
        int32_t i = s->n_tokens++;
        s->tokens[i] = c;
        if (s->scores) s->scores[i] = -1e9f;
        if (s->token_types) s->token_types[i] = ONC_TOKEN_UNUSED;
    }
    return ONC_OK;
oom:
    return onc_error_set(err, ONC_ERR_NOMEM, "model create: out of memory padding the vocabulary");
}

// --- family special tokens and chat templates -------------------------------------------

/* Real chat templates (the models' tokenizer_config.json), short ones. */
static const char TMPL_LLAMA2[] =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif "
    "%}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
    "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
    "loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if "
    "message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] "
    "== 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";
static const char TMPL_LLAMA3[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 "
    "%}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
static const char TMPL_CHATML[] =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] "
    "+ '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|im_start|>assistant\n' }}{% endif %}";
static const char TMPL_PHI3[] =
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + "
    "'<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif "
    "message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor "
    "%}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}";
static const char TMPL_ZEPHYR[] =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token "
    "}}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% "
    "endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";
static const char TMPL_MISTRAL[] =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
    "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
    "message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
    "'assistant' %}{{ message['content'] + eos_token + ' ' }}{% else %}{{ raise_exception('Only user and assistant "
    "roles are supported!') }}{% endif %}{% endfor %}";

const char *const onc_model_create_chat_templates[] = {"llama2", "llama3", "chatml", "phi3", "zephyr", "mistral", NULL};

const char *onc_model_create_chat_template(const char *name) {
    static const char *const texts[] = {TMPL_LLAMA2, TMPL_LLAMA3, TMPL_CHATML, TMPL_PHI3, TMPL_ZEPHYR, TMPL_MISTRAL};
    if (!name) return NULL;
    for (size_t i = 0; onc_model_create_chat_templates[i]; i++)
        if (strcmp(onc_model_create_chat_templates[i], name) == 0) return texts[i];
    return NULL;
}

typedef struct family_token {
    const char *text;
    int32_t type; /* onc_token_type */
} family_token;

/* The special/added tokens of a model family as its real GGUF lays them out:
 * tokens[i] sits at base + i, where base is where the regular vocabulary
 * ends (pad_to - block for padded presets). A padded preset fills the rest
 * of the block with `fill` names (printf pattern over fill_first + k). */
typedef struct family {
    const char *name;
    const family_token *tokens;
    int n_tokens;
    int32_t block;                  /* real special block size, 0 = no block */
    const char *fill;               /* names of the reserved block fill, or NULL */
    int fill_first;
    int32_t fill_type;
    int bos, eos, eot, pad;         /* indices into tokens, -1 = keep the trained id */
    int add_bos;                    /* -1 keep, 0/1 set */
    float score;                    /* SPM score of the added tokens */
    const char *tmpl;               /* built-in chat template name, NULL = none */
} family;

static const family_token llama3_tokens[] = {
    {"<|begin_of_text|>", ONC_TOKEN_CONTROL},           {"<|end_of_text|>", ONC_TOKEN_CONTROL},
    {"<|reserved_special_token_0|>", ONC_TOKEN_CONTROL}, {"<|reserved_special_token_1|>", ONC_TOKEN_CONTROL},
    {"<|reserved_special_token_2|>", ONC_TOKEN_CONTROL}, {"<|reserved_special_token_3|>", ONC_TOKEN_CONTROL},
    {"<|start_header_id|>", ONC_TOKEN_CONTROL},         {"<|end_header_id|>", ONC_TOKEN_CONTROL},
    {"<|reserved_special_token_4|>", ONC_TOKEN_CONTROL}, {"<|eot_id|>", ONC_TOKEN_CONTROL},
};
static const family_token qwen2_tokens[] = {
    {"<|endoftext|>", ONC_TOKEN_CONTROL}, {"<|im_start|>", ONC_TOKEN_CONTROL}, {"<|im_end|>", ONC_TOKEN_CONTROL}};
/* Phi-3-mini: <|endoftext|> is special (CONTROL); the chat tokens are added
 * tokens that are not marked special in its tokenizer_config, which the
 * converter stores as USER_DEFINED (llama.cpp forces <|end|> to CONTROL as an
 * end-of-turn token at load time). */
static const family_token phi3_tokens[] = {
    {"<|endoftext|>", ONC_TOKEN_CONTROL},       {"<|assistant|>", ONC_TOKEN_USER_DEFINED},
    {"<|placeholder1|>", ONC_TOKEN_USER_DEFINED}, {"<|placeholder2|>", ONC_TOKEN_USER_DEFINED},
    {"<|placeholder3|>", ONC_TOKEN_USER_DEFINED}, {"<|placeholder4|>", ONC_TOKEN_USER_DEFINED},
    {"<|system|>", ONC_TOKEN_USER_DEFINED},       {"<|end|>", ONC_TOKEN_USER_DEFINED},
    {"<|placeholder5|>", ONC_TOKEN_USER_DEFINED}, {"<|placeholder6|>", ONC_TOKEN_USER_DEFINED},
    {"<|user|>", ONC_TOKEN_USER_DEFINED},
};

static const family fam_llama3 = {"llama3", llama3_tokens, 10, 256, "<|reserved_special_token_%d|>", 5,
                                   ONC_TOKEN_CONTROL, 0, 1, 9, -1, 1, 0.0f, "llama3"};
static const family fam_qwen2 = {"qwen2", qwen2_tokens, 3, 293, NULL, 0, 0, 0, 2, 2, 0, 0, 0.0f, "chatml"};
static const family fam_phi3 = {"phi3", phi3_tokens, 11, 64, NULL, 0, 0, -1, 0, 7, 0, -1, -1000.0f, "phi3"};
static const family fam_llama2 = {"llama2", NULL, 0, 0, NULL, 0, 0, -1, -1, -1, -1, -1, 0.0f, "llama2"};
static const family fam_bert = {"bert", NULL, 0, 0, NULL, 0, 0, -1, -1, -1, -1, -1, 0.0f, NULL};
static const family fam_gpt2 = {"gpt2", NULL, 0, 0, NULL, 0, 0, -1, -1, -1, -1, -1, 0.0f, NULL};

static const family *family_of(onc_arch arch, const onc_vocab_spec *v) {
    switch (v->kind) {
    case ONC_VOCAB_WPM: return &fam_bert;
    case ONC_VOCAB_SPM: return arch == ONC_ARCH_PHI3 ? &fam_phi3 : &fam_llama2;
    case ONC_VOCAB_BPE:
        if (v->pre && (strcmp(v->pre, "llama-bpe") == 0 || strcmp(v->pre, "llama3") == 0 ||
                       strcmp(v->pre, "llama-v3") == 0))
            return &fam_llama3;
        if (v->pre && strcmp(v->pre, "qwen2") == 0) return &fam_qwen2;
        return &fam_gpt2;
    }
    return &fam_gpt2;
}

/* Make room for `cap` tokens in every per-token array. */
static bool spec_reserve(onc_vocab_spec *s, int32_t cap) {
    char **t = realloc(s->tokens, (size_t)cap * sizeof *t);
    if (!t) return false;
    s->tokens = t;
    if (s->scores) {
        float *sc = realloc(s->scores, (size_t)cap * sizeof *sc);
        if (!sc) return false;
        s->scores = sc;
    }
    if (s->token_types) {
        int32_t *ty = realloc(s->token_types, (size_t)cap * sizeof *ty);
        if (!ty) return false;
        s->token_types = ty;
    }
    return true;
}

/* Append one token (room must have been reserved). */
static bool spec_push(onc_vocab_spec *s, const char *text, float score, int32_t type) {
    char *c = strdup(text);
    if (!c) return false;
    int32_t i = s->n_tokens++;
    s->tokens[i] = c;
    if (s->scores) s->scores[i] = score;
    if (s->token_types) s->token_types[i] = type;
    return true;
}

static bool is_family_text(const family *f, const char *text) {
    for (int i = 0; i < f->n_tokens; i++)
        if (strcmp(f->tokens[i].text, text) == 0) return true;
    return false;
}

/* Remove the family's tokens wherever training put them (the BPE trainer
 * appends its family specials after the merged symbols), keeping the order
 * of the rest and remapping the special ids. */
static onc_status strip_family_tokens(onc_vocab_spec *s, const family *f, onc_error *err) {
    if (f->n_tokens == 0) return ONC_OK;
    int32_t *map = malloc((size_t)s->n_tokens * sizeof *map + 1);
    if (!map) return onc_error_set(err, ONC_ERR_NOMEM, "model create: out of memory");
    int32_t n = 0;
    for (int32_t i = 0; i < s->n_tokens; i++) {
        if (is_family_text(f, s->tokens[i])) {
            free(s->tokens[i]);
            map[i] = ONC_TOKEN_NONE;
            continue;
        }
        map[i] = n;
        s->tokens[n] = s->tokens[i];
        if (s->scores) s->scores[n] = s->scores[i];
        if (s->token_types) s->token_types[n] = s->token_types[i];
        n++;
    }
    int32_t *ids[] = {&s->bos_id, &s->eos_id, &s->unk_id, &s->sep_id, &s->pad_id, &s->mask_id};
    for (size_t k = 0; k < sizeof ids / sizeof *ids; k++)
        if (*ids[k] >= 0 && *ids[k] < s->n_tokens) *ids[k] = map[*ids[k]];
    s->n_tokens = n;
    free(map);
    return ONC_OK;
}

/* Give a trained vocabulary its family's special tokens in the real layout:
 * [trained][regular padding up to pad_to - block][family tokens][block fill]
 * [tail padding up to pad_to]. *eot gets the end-of-turn id or -1. */
static onc_status apply_family(onc_vocab_spec *s, const family *f, int32_t pad_to, int32_t *eot, int32_t *n_added,
                               onc_error *err) {
    *eot = ONC_TOKEN_NONE;
    *n_added = 0;
    onc_status st;
    if ((st = strip_family_tokens(s, f, err)) != ONC_OK) return st;
    int32_t base = s->n_tokens;
    if (pad_to > 0 && f->block > 0 && pad_to - f->block > base) base = pad_to - f->block;
    if ((st = pad_vocab(s, base, err)) != ONC_OK) return st;
    int32_t block_end = s->n_tokens + f->n_tokens;
    if (pad_to > 0 && f->block > 0 && f->fill && base + f->block > block_end) block_end = base + f->block;
    int32_t total = block_end;
    if (pad_to > total) total = pad_to;
    if (!spec_reserve(s, total + 1)) goto oom;
    int32_t first = s->n_tokens;
    for (int i = 0; i < f->n_tokens; i++)
        if (!spec_push(s, f->tokens[i].text, f->score, f->tokens[i].type)) goto oom;
    for (int k = f->fill_first; s->n_tokens < block_end; k++) {
        char name[64];
        snprintf(name, sizeof name, f->fill, k);
        if (!spec_push(s, name, f->score, f->fill_type)) goto oom;
    }
    /* the tail: unused ids the way the converters name them */
    while (s->n_tokens < total) {
        char name[32];
        snprintf(name, sizeof name, "[PAD%d]", (int)s->n_tokens);
        if (!spec_push(s, name, -1000.0f, ONC_TOKEN_UNUSED)) goto oom;
    }
    *n_added = block_end - first;
    if (f->bos >= 0) s->bos_id = first + f->bos;
    if (f->eos >= 0) s->eos_id = first + f->eos;
    if (f->pad >= 0) s->pad_id = first + f->pad;
    if (f->eot >= 0) *eot = first + f->eot;
    if (f->add_bos >= 0) s->add_bos = f->add_bos != 0;
    return ONC_OK;
oom:
    return onc_error_set(err, ONC_ERR_NOMEM, "model create: out of memory adding special tokens");
}

typedef struct progress_bridge {
    const onc_model_create_params *p;
} progress_bridge;

static void vocab_progress(void *user, int64_t done, int64_t total) {
    const onc_model_create_params *p = ((progress_bridge *)user)->p;
    p->progress(p->progress_user, "vocab", done, total);
}

/* A vocabulary spec owned by the caller afterwards. */
static onc_vocab_spec *get_vocab(const onc_model_create_params *p, const preset_dims *d, const char *preset,
                                 onc_error *err) {
    if (p->vocab) { /* deep copy via GGUF round trip would be heavy: copy fields */
        const onc_vocab_spec *v = p->vocab;
        onc_vocab_spec *s = calloc(1, sizeof *s);
        if (!s) goto oom;
        *s = *v;
        s->pre = NULL;
        s->tokens = NULL;
        s->scores = NULL;
        s->token_types = NULL;
        s->merges = NULL;
        s->n_tokens = s->n_merges = 0;
        if (v->pre && !(s->pre = strdup(v->pre))) goto oom_s;
        if (!(s->tokens = calloc((size_t)v->n_tokens + 1, sizeof *s->tokens))) goto oom_s;
        for (; s->n_tokens < v->n_tokens; s->n_tokens++)
            if (!(s->tokens[s->n_tokens] = strdup(v->tokens[s->n_tokens]))) goto oom_s;
        if (v->scores) {
            if (!(s->scores = malloc((size_t)v->n_tokens * sizeof *s->scores + 1))) goto oom_s;
            memcpy(s->scores, v->scores, (size_t)v->n_tokens * sizeof *s->scores);
        }
        if (v->token_types) {
            if (!(s->token_types = malloc((size_t)v->n_tokens * sizeof *s->token_types + 1))) goto oom_s;
            memcpy(s->token_types, v->token_types, (size_t)v->n_tokens * sizeof *s->token_types);
        }
        if (v->n_merges > 0) {
            if (!(s->merges = calloc((size_t)v->n_merges, sizeof *s->merges))) goto oom_s;
            for (; s->n_merges < v->n_merges; s->n_merges++)
                if (!(s->merges[s->n_merges] = strdup(v->merges[s->n_merges]))) goto oom_s;
        }
        return s;
    oom_s:
        onc_vocab_spec_free(s);
        goto oom;
    }
    if (p->vocab_path) {
        onc_gguf *g = onc_gguf_open(p->vocab_path, err);
        if (!g) return NULL;
        onc_vocab_spec *s = onc_vocab_spec_from_gguf(g, err);
        onc_gguf_close(g);
        if (!s) onc_error_prefix(err, "model create: vocabulary %s", p->vocab_path);
        return s;
    }
    onc_vocab_kind kind;
    const char *pre = p->pre;
    if (p->vocab_kind >= 0) {
        kind = (onc_vocab_kind)p->vocab_kind;
    } else if (p->arch == ONC_ARCH_QWEN2) {
        kind = ONC_VOCAB_BPE;
        if (!pre) pre = "qwen2";
    } else if (p->arch == ONC_ARCH_BERT) {
        kind = ONC_VOCAB_WPM;
    } else if (p->arch == ONC_ARCH_LLAMA && strcmp(preset, "8b") == 0) {
        kind = ONC_VOCAB_BPE;
        if (!pre) pre = "llama-bpe";
    } else {
        kind = ONC_VOCAB_SPM;
    }
    if (kind > ONC_VOCAB_WPM) {
        onc_error_set(err, ONC_ERR_INVALID, "model create: unknown vocabulary kind %d", p->vocab_kind);
        return NULL;
    }
    onc_vocab_train_params tp = onc_vocab_train_default_params(kind);
    if (pre) tp.pre = pre;
    tp.vocab_size = p->vocab_size > 0 ? p->vocab_size : d->train_vocab;
    progress_bridge bridge = {p};
    if (p->progress) {
        tp.progress = vocab_progress;
        tp.progress_user = &bridge;
    }
    size_t len = p->corpus_len;
    const char *text = p->corpus;
    if (!text) text = onc_sample_clinical_text(&len);
    return onc_vocab_train(text, len, &tp, err);
oom:
    onc_error_set(err, ONC_ERR_NOMEM, "model create: out of memory copying the vocabulary");
    return NULL;
}

// --- tensor generation --------------------------------------------------------------------

typedef struct gen_tensor {
    const onc_arch_tensor *info;
    onc_type type;
} gen_tensor;

typedef struct gen_ctx {
    const onc_model_create_params *p;
    const onc_hparams *hp;
    gen_tensor *tensors;
    size_t n_tensors;
    float *row; /* one row of F32 */
    int64_t done, total; /* elements, for progress */
} gen_ctx;

/* Llama 3.1 rope frequency factors (conversion/llama.py), factor 8,
 * low/high frequency factors 1 and 4, original context 8192. */
static float llama31_rope_factor(int64_t i, uint32_t n_rot, float base) {
    const double factor = 8.0, low = 1.0, high = 4.0, old_ctx = 8192.0;
    double freq = 1.0 / pow((double)base, (double)(2 * i) / (double)n_rot);
    double wavelen = 2.0 * M_PI / freq;
    if (wavelen < old_ctx / high) return 1.0f;
    if (wavelen > old_ctx / low) return (float)factor;
    double smooth = (old_ctx / wavelen - low) / (high - low);
    return (float)(1.0 / ((1.0 - smooth) / factor + smooth));
}

static onc_status fill_tensor(void *user, const char *name, void *dst, size_t nbytes, onc_error *err) {
    gen_ctx *g = user;
    const gen_tensor *gt = NULL;
    for (size_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].info->name, name) == 0) {
            gt = &g->tensors[i];
            break;
        }
    if (!gt) return onc_error_set(err, ONC_ERR_INVALID, "model create: unknown tensor %s", name);
    const onc_arch_tensor *t = gt->info;
    const int64_t ne0 = t->ne[0], rows = t->ne[1] * t->ne[2] * t->ne[3];
    const size_t row_bytes = onc_type_row_size(gt->type, ne0);
    if (row_bytes * (size_t)rows != nbytes)
        return onc_error_set(err, ONC_ERR_INVALID, "model create: %s: size mismatch (%zu != %zu)", name,
                             row_bytes * (size_t)rows, nbytes);
    rng r;
    rng_seed(&r, g->p->seed, name);
    const double std = g->p->init_std > 0 ? g->p->init_std : 0.02;
    unsigned char *out = dst;
    for (int64_t row = 0; row < rows; row++) {
        for (int64_t i = 0; i < ne0; i++) {
            float v;
            if (t->role == ONC_ROLE_ROPE_FREQS)
                v = llama31_rope_factor(i, g->hp->n_rot, g->hp->rope_freq_base);
            else if (t->init == ONC_INIT_ONES)
                v = 1.0f;
            else if (t->init == ONC_INIT_ZEROS)
                v = 0.0f;
            else
                v = (float)(rng_normal(&r) * std);
            g->row[i] = v;
        }
        if (gt->type == ONC_TYPE_F32)
            memcpy(out, g->row, row_bytes);
        else
            onc_quantize_row(gt->type, g->row, out, ne0);
        out += row_bytes;
    }
    g->done += ne0 * rows;
    if (g->p->progress) g->p->progress(g->p->progress_user, "tensors", g->done, g->total);
    return ONC_OK;
}

static uint32_t file_type_of(onc_type t) {
    switch (t) {
    case ONC_TYPE_F32: return 0;
    case ONC_TYPE_F16: return 1;
    case ONC_TYPE_Q4_0: return 2;
    case ONC_TYPE_Q8_0: return 7;
    case ONC_TYPE_Q4_K: return 14; /* Q4_K_S: every weight q4_K */
    case ONC_TYPE_Q5_K: return 16; /* Q5_K_S */
    case ONC_TYPE_Q6_K: return 18;
    case ONC_TYPE_BF16: return 32;
    default: return 0;
    }
}

// --- entry point ---------------------------------------------------------------------------

onc_status onc_model_create(const char *path, const onc_model_create_params *params,
                            onc_model_create_report *report, onc_error *err) {
    onc_model_create_params p = params ? *params : onc_model_create_default_params();
    const char *preset = p.preset ? p.preset : "tiny";
    onc_model_create_report rep;
    memset(&rep, 0, sizeof rep);
    if ((unsigned)p.arch >= ONC_ARCH_COUNT)
        return onc_error_set(err, ONC_ERR_INVALID, "model create: unknown architecture %d", (int)p.arch);
    const preset_dims *d = find_preset(p.arch, preset);
    if (!d)
        return onc_error_set(err, ONC_ERR_INVALID, "model create: no preset '%s' for architecture %s", preset,
                             onc_arch_name(p.arch));
    switch (p.wtype) {
    case ONC_TYPE_F32: case ONC_TYPE_F16: case ONC_TYPE_BF16: case ONC_TYPE_Q8_0:
    case ONC_TYPE_Q4_0: case ONC_TYPE_Q4_K: case ONC_TYPE_Q5_K: case ONC_TYPE_Q6_K: break;
    default:
        return onc_error_set(err, ONC_ERR_INVALID,
                             "model create: weight type %s not supported (f32, f16, bf16, q8_0, q4_0, q4_K, q5_K, q6_K)",
                             onc_type_traits_of(p.wtype)->name ? onc_type_traits_of(p.wtype)->name : "?");
    }
    if (p.n_labels > 0 && p.arch != ONC_ARCH_BERT)
        return onc_error_set(err, ONC_ERR_INVALID, "model create: classifier labels need --arch bert");
    if (p.rope_freqs && p.arch != ONC_ARCH_LLAMA)
        return onc_error_set(err, ONC_ERR_INVALID, "model create: rope_freqs is for --arch llama");
    if (p.tied && p.arch == ONC_ARCH_BERT)
        return onc_error_set(err, ONC_ERR_INVALID, "model create: bert has no output layer to tie");

    onc_hparams hp = onc_hparams_default(p.arch);
    apply_preset(d, &hp);
    if (p.n_layer > 0) hp.n_layer = (uint32_t)p.n_layer;
    if (p.n_embd > 0) hp.n_embd = (uint32_t)p.n_embd;
    if (p.n_head > 0) {
        hp.n_head = (uint32_t)p.n_head;
        if (p.n_head_kv <= 0 && hp.n_head % hp.n_head_kv != 0) hp.n_head_kv = hp.n_head;
    }
    if (p.n_head_kv > 0) hp.n_head_kv = (uint32_t)p.n_head_kv;
    if (p.arch == ONC_ARCH_BERT) hp.n_head_kv = hp.n_head;
    if (p.n_ff > 0) hp.n_ff = (uint32_t)p.n_ff;
    if (p.n_ctx > 0) hp.n_ctx_train = (uint32_t)p.n_ctx;
    if (p.tied) hp.tied_embeddings = true;
    if (hp.n_head == 0 || hp.n_embd % hp.n_head != 0)
        return onc_error_set(err, ONC_ERR_INVALID, "model create: n_embd %u is not a multiple of n_head %u",
                             hp.n_embd, hp.n_head);
    hp.n_embd_head_k = hp.n_embd_head_v = hp.n_rot = hp.n_embd / hp.n_head;
    hp.has_rope_freqs = p.rope_freqs;
    if (p.arch == ONC_ARCH_BERT && p.n_labels > 0) {
        if (onc_hparams_set_labels(&hp, p.labels, p.n_labels) != ONC_OK)
            return onc_error_set(err, ONC_ERR_NOMEM, "model create: out of memory");
        hp.has_cls = hp.has_cls_out = true;
        hp.pooling = ONC_POOLING_RANK;
    }

    onc_status st = ONC_OK;
    onc_vocab_spec *vocab = NULL;
    onc_arch_tensor *tensors = NULL;
    gen_tensor *gen = NULL;
    onc_gguf_writer *w = NULL;
    gen_ctx ctx = {0};
    size_t n_tensors = 0;

    vocab = get_vocab(&p, d, preset, err);
    if (!vocab) {
        st = err ? err->code : ONC_ERR_INVALID;
        goto done;
    }
    const bool given = p.vocab || p.vocab_path;
    const family *fam = given ? NULL : family_of(p.arch, vocab);
    int32_t pad_to = p.pad_vocab_to == 0 ? d->pad_vocab : p.pad_vocab_to;
    int32_t eot = ONC_TOKEN_NONE;
    rep.family = fam ? fam->name : "given";
    if (!given && !p.no_family_tokens) {
        if ((st = strip_family_tokens(vocab, fam, err)) != ONC_OK) goto done;
        rep.n_vocab_trained = vocab->n_tokens;
        if ((st = apply_family(vocab, fam, pad_to, &eot, &rep.n_added, err)) != ONC_OK) goto done;
    } else {
        rep.n_vocab_trained = vocab->n_tokens;
        if (pad_to > 0 && !given && (st = pad_vocab(vocab, pad_to, err)) != ONC_OK) goto done;
    }
    rep.eot_id = eot;
    hp.n_vocab = (uint32_t)vocab->n_tokens;
    rep.n_vocab = vocab->n_tokens;

    if ((st = onc_hparams_validate(&hp, "model create", err)) != ONC_OK) goto done;
    tensors = onc_arch_tensors(&hp, &n_tensors, err);
    if (!tensors) {
        st = ONC_ERR_NOMEM;
        goto done;
    }
    gen = calloc(n_tensors, sizeof *gen);
    w = onc_gguf_writer_new();
    if (!gen || !w) goto oom;

    /* Metadata: architecture and name first, then hparams and tokenizer. */
    char name[128];
    if (p.name)
        snprintf(name, sizeof name, "%s", p.name);
    else
        snprintf(name, sizeof name, "oncolm-%s-%s", onc_arch_name(p.arch), preset);
    if (onc_gguf_set_str(w, "general.architecture", onc_arch_name(p.arch)) != ONC_OK ||
        onc_gguf_set_str(w, "general.name", name) != ONC_OK)
        goto oom;
    if ((st = onc_hparams_write_gguf(&hp, w, err)) != ONC_OK) goto done;

    /* Tensor types, with fallbacks for rows that do not fit the block. */
    const int64_t wblock = onc_type_traits_of(p.wtype)->block_size;
    int64_t fallback_ne0 = 0;
    onc_type fallback_type = ONC_TYPE_F32;
    int64_t max_ne0 = 1;
    bool any_quant = false;
    for (size_t i = 0; i < n_tensors; i++) {
        const onc_arch_tensor *t = &tensors[i];
        onc_type type = t->keep_f32 ? ONC_TYPE_F32 : p.wtype;
        if (!t->keep_f32 && t->ne[0] % wblock != 0) {
            type = (wblock == ONC_QK_K && t->ne[0] % ONC_QK == 0) ? ONC_TYPE_Q8_0 : ONC_TYPE_F32;
            rep.n_fallback++;
            fallback_ne0 = t->ne[0];
            fallback_type = type;
        }
        any_quant |= onc_type_traits_of(type)->is_quantized;
        gen[i] = (gen_tensor){t, type};
        if (t->ne[0] > max_ne0) max_ne0 = t->ne[0];
        ctx.total += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    rep.n_params = ctx.total;
    rep.n_tensors = (int32_t)n_tensors;
    if (rep.n_fallback > 0)
        snprintf(rep.note, sizeof rep.note,
                 "%d tensor(s) with rows (e.g. %lld) not a multiple of %s's block of %lld stored as %s",
                 (int)rep.n_fallback, (long long)fallback_ne0, onc_type_traits_of(p.wtype)->name,
                 (long long)wblock, onc_type_traits_of(fallback_type)->name);
    if (onc_gguf_set_u32(w, "general.file_type", file_type_of(p.wtype)) != ONC_OK) goto oom;
    if (any_quant && onc_gguf_set_u32(w, "general.quantization_version", 2) != ONC_OK) goto oom;
    if ((st = onc_vocab_spec_write_gguf(vocab, w, err)) != ONC_OK) goto done;
    /* end of turn and chat template: the family's, or the vocabulary file's */
    rep.chat_template = "none";
    if (p.vocab_path) {
        onc_gguf *vg = onc_gguf_open(p.vocab_path, err);
        if (!vg) {
            st = err ? err->code : ONC_ERR_IO;
            goto done;
        }
        uint32_t v;
        onc_str tmpl;
        bool ok = true;
        if (onc_gguf_get_u32(vg, "tokenizer.ggml.eot_token_id", &v, NULL) == ONC_OK && v < (uint32_t)vocab->n_tokens)
            eot = (int32_t)v;
        if (!p.chat_template && onc_gguf_get_str(vg, "tokenizer.chat_template", &tmpl, NULL) == ONC_OK) {
            ok = onc_gguf_set_strn(w, "tokenizer.chat_template", tmpl.ptr, tmpl.len) == ONC_OK;
            rep.chat_template = "file";
        }
        onc_gguf_close(vg);
        if (!ok) goto oom;
    }
    if (eot >= 0 && onc_gguf_set_u32(w, "tokenizer.ggml.eot_token_id", (uint32_t)eot) != ONC_OK) goto oom;
    rep.eot_id = eot;
    {
        const char *tmpl = NULL;
        if (p.chat_template) {
            if (*p.chat_template) {
                tmpl = p.chat_template;
                rep.chat_template = "custom";
                for (size_t i = 0; onc_model_create_chat_templates[i]; i++)
                    if (strcmp(onc_model_create_chat_template(onc_model_create_chat_templates[i]), tmpl) == 0)
                        rep.chat_template = onc_model_create_chat_templates[i];
            }
        } else if (fam && !p.no_family_tokens && fam->tmpl) {
            tmpl = onc_model_create_chat_template(fam->tmpl);
            rep.chat_template = fam->tmpl;
        }
        if (tmpl && onc_gguf_set_str(w, "tokenizer.chat_template", tmpl) != ONC_OK) goto oom;
    }

    ctx.p = &p;
    ctx.hp = &hp;
    ctx.tensors = gen;
    ctx.n_tensors = n_tensors;
    ctx.row = malloc((size_t)max_ne0 * sizeof *ctx.row);
    if (!ctx.row) goto oom;
    for (size_t i = 0; i < n_tensors; i++) {
        const onc_arch_tensor *t = &tensors[i];
        if ((st = onc_gguf_add_tensor(w, t->name, gen[i].type, t->n_dims, t->ne, NULL, fill_tensor, &ctx, err)) !=
            ONC_OK)
            goto done;
    }
    if ((st = onc_gguf_writer_write(w, path, err)) != ONC_OK) goto done;
    if (report) *report = rep;
    goto done;
oom:
    st = onc_error_set(err, ONC_ERR_NOMEM, "model create: %s: out of memory", path);
done:
    free(ctx.row);
    onc_gguf_writer_free(w);
    free(gen);
    free(tensors);
    onc_vocab_spec_free(vocab);
    onc_hparams_clear(&hp);
    return st;
}
