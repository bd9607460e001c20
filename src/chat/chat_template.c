/* chat_template.c — fixed chat formats and template detection (see
 * include/oncolm/chat.h).
 *
 * Each format reproduces llama.cpp's llm_chat_apply_template (non-Jinja
 * path, src/llama-chat.cpp) byte for byte, including its quirks: no BOS text
 * at the start, llama2's "[/INST]" directly followed by the answer, llama3's
 * trimmed contents, mistral-v3 trimming only assistant turns.
 *
 * Detection follows llm_chat_detect_template's substring rules for the
 * formats implemented here. One deliberate difference, about zephyr: current
 * llama.cpp first sends templates containing both "<|assistant|>" and
 * "<|user|>" to falcon3 (when a literal "</s>" is in it) or glmedge, and
 * only then tests "<|user|>" + "<|endoftext|>" for zephyr (older releases
 * took any "<|user|>" as zephyr). HuggingFaceH4/zephyr-7b-beta's template
 * contains "<|assistant|>" and "<|user|>" and neither literal "</s>" nor
 * "<|endoftext|>" (it writes eos_token), so llama.cpp formats that model as
 * glmedge ("<|user|>\nHello<|assistant|>\n...", no turn ends) — checked
 * against a llama.cpp build (libllama from node-llama-cpp 3.22.1). oncolm
 * implements neither falcon3 nor glmedge and keeps the older "<|user|>" ->
 * zephyr rule, which gives zephyr-7b-beta its trained format when the
 * caller passes the model's EOS text ("</s>"); without it the turn end is
 * llama.cpp's "<|endoftext|>" (StableLM-2-Zephyr).
 *
 * Checked byte for byte against that llama.cpp build's
 * llama_chat_apply_template for every name here, 9 conversations (0..6
 * messages, a late system message, trimming cases), with and without the
 * generation prompt, and for the Jinja templates in tests/test_chat.c: all
 * identical except the zephyr-7b-beta detection above.
 *
 * Does not: run Jinja, add default system prompts that some Jinja templates
 * add (Qwen2's "You are a helpful assistant."), validate role order. */
#include "oncolm/chat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const NAMES[ONC_CHAT_TEMPLATE_COUNT] = {
    [ONC_CHAT_CHATML] = "chatml",
    [ONC_CHAT_LLAMA2] = "llama2",
    [ONC_CHAT_LLAMA2_SYS] = "llama2-sys",
    [ONC_CHAT_LLAMA2_SYS_BOS] = "llama2-sys-bos",
    [ONC_CHAT_LLAMA2_SYS_STRIP] = "llama2-sys-strip",
    [ONC_CHAT_MISTRAL_V1] = "mistral-v1",
    [ONC_CHAT_MISTRAL_V3] = "mistral-v3",
    [ONC_CHAT_MISTRAL_V3_TEKKEN] = "mistral-v3-tekken",
    [ONC_CHAT_MISTRAL_V7] = "mistral-v7",
    [ONC_CHAT_MISTRAL_V7_TEKKEN] = "mistral-v7-tekken",
    [ONC_CHAT_LLAMA3] = "llama3",
    [ONC_CHAT_PHI3] = "phi3",
    [ONC_CHAT_ZEPHYR] = "zephyr",
};

static const char NAME_LIST[] = "chatml, llama2, llama2-sys, llama2-sys-bos, llama2-sys-strip, mistral-v1, "
                                "mistral-v3, mistral-v3-tekken, mistral-v7, mistral-v7-tekken, llama3, phi3, zephyr";

onc_chat_params onc_chat_default_params(void) {
    onc_chat_params p;
    p.add_generation_prompt = true;
    p.eos_text = NULL;
    return p;
}

const char *onc_chat_template_name(onc_chat_template t) {
    return (unsigned)t < ONC_CHAT_TEMPLATE_COUNT ? NAMES[t] : "?";
}

const char *onc_chat_template_names(void) { return NAME_LIST; }

/* Name lookup over a counted string; false when no name matches exactly. */
static bool name_lookup(const char *s, size_t len, onc_chat_template *out) {
    for (int i = 0; i < ONC_CHAT_TEMPLATE_COUNT; i++) {
        if (strlen(NAMES[i]) == len && memcmp(NAMES[i], s, len) == 0) {
            *out = (onc_chat_template)i;
            return true;
        }
    }
    return false;
}

onc_status onc_chat_template_from_name(const char *name, onc_chat_template *out, onc_error *err) {
    if (name && name_lookup(name, strlen(name), out)) return ONC_OK;
    return onc_error_set(err, ONC_ERR_NOT_FOUND, "unknown chat template '%s' (supported: %s)", name ? name : "(null)",
                         NAME_LIST);
}

// --- detection ------------------------------------------------------------------------

typedef struct text_view {
    const char *p;
    size_t n;
} text_view;

static bool has(text_view t, const char *needle) {
    const size_t m = strlen(needle);
    if (m > t.n) return false;
    for (size_t i = 0; i + m <= t.n; i++)
        if (t.p[i] == needle[0] && memcmp(t.p + i, needle, m) == 0) return true;
    return false;
}

static onc_status unsupported(onc_error *err, const char *what) {
    return onc_error_set(err, ONC_ERR_UNSUPPORTED,
                         "chat template looks like %s, which oncolm does not implement (supported: %s)", what,
                         NAME_LIST);
}

onc_status onc_chat_template_detect(const char *tmpl, size_t len, onc_chat_template *out, onc_error *err) {
    if (!tmpl || len == 0) return onc_error_set(err, ONC_ERR_NOT_FOUND, "empty chat template (supported: %s)", NAME_LIST);
    if (name_lookup(tmpl, len, out)) return ONC_OK;
    const text_view t = {tmpl, len};
    if (has(t, "<|im_start|>")) {
        if (has(t, "<|im_sep|>")) return unsupported(err, "phi4");
        if (has(t, "<end_of_utterance>")) return unsupported(err, "smolvlm");
        *out = ONC_CHAT_CHATML;
        return ONC_OK;
    }
    if ((len >= 7 && memcmp(tmpl, "mistral", 7) == 0) || has(t, "[INST]")) {
        if (has(t, "[SYSTEM_PROMPT]")) {
            *out = ONC_CHAT_MISTRAL_V7;
        } else if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]")) {
            /* Mistral's official v1 / v3 / v3-tekken templates */
            if (has(t, " [INST]")) *out = ONC_CHAT_MISTRAL_V1;
            else if (has(t, "\"[INST]\"")) *out = ONC_CHAT_MISTRAL_V3_TEKKEN;
            else *out = ONC_CHAT_MISTRAL_V3;
        } else if (has(t, "content.strip()")) {
            *out = ONC_CHAT_LLAMA2_SYS_STRIP;
        } else if (has(t, "bos_token + '[INST]")) {
            *out = ONC_CHAT_LLAMA2_SYS_BOS;
        } else if (has(t, "<<SYS>>")) {
            *out = ONC_CHAT_LLAMA2_SYS;
        } else {
            *out = ONC_CHAT_LLAMA2;
        }
        return ONC_OK;
    }
    if (has(t, "<|assistant|>") && has(t, "<|end|>")) {
        *out = ONC_CHAT_PHI3;
        return ONC_OK;
    }
    if (has(t, "[gMASK]")) return unsupported(err, "chatglm");
    if (has(t, "<|user|>")) {
        *out = ONC_CHAT_ZEPHYR;
        return ONC_OK;
    }
    if (has(t, "<start_of_turn>")) return unsupported(err, "gemma");
    if (has(t, "GPT4 Correct ")) return unsupported(err, "openchat");
    if (has(t, "USER: ") && has(t, "ASSISTANT: ")) return unsupported(err, "vicuna");
    if (has(t, "### Instruction:") && has(t, "<|EOT|>")) return unsupported(err, "deepseek");
    if (has(t, "<|START_OF_TURN_TOKEN|>") && has(t, "<|USER_TOKEN|>")) return unsupported(err, "command-r");
    if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>")) {
        *out = ONC_CHAT_LLAMA3;
        return ONC_OK;
    }
    return onc_error_set(err, ONC_ERR_NOT_FOUND,
                         "chat template not recognised (%zu bytes; supported: %s; pick one by name)", len, NAME_LIST);
}

onc_status onc_chat_template_from_gguf(const onc_gguf *g, onc_chat_template *out, onc_error *err) {
    onc_str s;
    onc_status st = onc_gguf_get_str(g, "tokenizer.chat_template", &s, err);
    if (st == ONC_ERR_NOT_FOUND)
        return onc_error_set(err, ONC_ERR_NOT_FOUND,
                             "model has no tokenizer.chat_template; pick a chat template by name (%s)", NAME_LIST);
    if (st != ONC_OK) return st;
    return onc_chat_template_detect(s.ptr, s.len, out, err);
}

// --- formatting ---------------------------------------------------------------------

/* Growable output string; a failed append sets oom and is otherwise a no-op. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void put_n(sbuf *b, const char *s, size_t m) {
    if (b->oom) return;
    if (b->n + m + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + m + 1) {
            if (c > SIZE_MAX / 2) {
                b->oom = true;
                return;
            }
            c *= 2;
        }
        char *q = realloc(b->p, c);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->n, s, m);
    b->n += m;
    b->p[b->n] = '\0';
}

static void put(sbuf *b, const char *s) { put_n(b, s, strlen(s)); }

/* Write s without leading/trailing whitespace (llama.cpp's trim: the
 * isspace set " \t\n\v\f\r"). */
static void put_trimmed(sbuf *b, const char *s) {
    size_t i = 0, j = strlen(s);
    while (i < j && strchr(" \t\n\v\f\r", s[i])) i++;
    while (j > i && strchr(" \t\n\v\f\r", s[j - 1])) j--;
    put_n(b, s + i, j - i);
}

static void put_content(sbuf *b, const char *s, bool trim) {
    if (trim) put_trimmed(b, s);
    else put(b, s);
}

/* llama2 and variants (llama.cpp LLM_CHAT_TEMPLATE_LLAMA_2*). */
static void fmt_llama2(sbuf *b, onc_chat_template t, const onc_chat_message *m, size_t n) {
    const bool sys_tags = t != ONC_CHAT_LLAMA2;
    const bool bos_inside = t == ONC_CHAT_LLAMA2_SYS_BOS;
    const bool strip = t == ONC_CHAT_LLAMA2_SYS_STRIP;
    bool inside_turn = true; /* the first "[INST] " is written before the loop */
    put(b, "[INST] ");
    for (size_t i = 0; i < n; i++) {
        if (!inside_turn) {
            inside_turn = true;
            put(b, bos_inside ? "<s>[INST] " : "[INST] ");
        }
        if (strcmp(m[i].role, "system") == 0) {
            if (sys_tags) {
                put(b, "<<SYS>>\n");
                put_content(b, m[i].content, strip);
                put(b, "\n<</SYS>>\n\n");
            } else { /* no system role: the text goes into the first turn */
                put_content(b, m[i].content, strip);
                put(b, "\n");
            }
        } else if (strcmp(m[i].role, "user") == 0) {
            put_content(b, m[i].content, strip);
            put(b, " [/INST]");
        } else {
            put_content(b, m[i].content, strip);
            put(b, "</s>");
            inside_turn = false;
        }
    }
}

/* mistral v1 / v3 / v3-tekken (llama.cpp LLM_CHAT_TEMPLATE_MISTRAL_V1/V3*). */
static void fmt_mistral_v13(sbuf *b, onc_chat_template t, const onc_chat_message *m, size_t n) {
    const char *lead = t == ONC_CHAT_MISTRAL_V1 ? " " : "";
    const char *trail = t == ONC_CHAT_MISTRAL_V3_TEKKEN ? "" : " ";
    const bool trim_assistant = t == ONC_CHAT_MISTRAL_V3;
    bool inside_turn = false;
    for (size_t i = 0; i < n; i++) {
        if (!inside_turn) {
            put(b, lead);
            put(b, "[INST]");
            put(b, trail);
            inside_turn = true;
        }
        if (strcmp(m[i].role, "system") == 0) {
            put(b, m[i].content);
            put(b, "\n\n");
        } else if (strcmp(m[i].role, "user") == 0) {
            put(b, m[i].content);
            put(b, lead);
            put(b, "[/INST]");
        } else {
            put(b, trail);
            put_content(b, m[i].content, trim_assistant);
            put(b, "</s>");
            inside_turn = false;
        }
    }
}

/* mistral v7 / v7-tekken (llama.cpp LLM_CHAT_TEMPLATE_MISTRAL_V7*). */
static void fmt_mistral_v7(sbuf *b, onc_chat_template t, const onc_chat_message *m, size_t n) {
    const char *sp = t == ONC_CHAT_MISTRAL_V7 ? " " : "";
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].role, "system") == 0) {
            put(b, "[SYSTEM_PROMPT]");
            put(b, sp);
            put(b, m[i].content);
            put(b, "[/SYSTEM_PROMPT]");
        } else if (strcmp(m[i].role, "user") == 0) {
            put(b, "[INST]");
            put(b, sp);
            put(b, m[i].content);
            put(b, "[/INST]");
        } else {
            put(b, sp);
            put(b, m[i].content);
            put(b, "</s>");
        }
    }
}

onc_status onc_chat_apply(onc_chat_template t, const onc_chat_message *msgs, size_t n, const onc_chat_params *params,
                          char **text, size_t *len, onc_error *err) {
    *text = NULL;
    *len = 0;
    const onc_chat_params p = params ? *params : onc_chat_default_params();
    if ((unsigned)t >= ONC_CHAT_TEMPLATE_COUNT)
        return onc_error_set(err, ONC_ERR_INVALID, "chat template id %d out of range", (int)t);
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content)
            return onc_error_set(err, ONC_ERR_INVALID, "chat message %zu has no %s", i,
                                 msgs[i].role ? "content" : "role");
    sbuf b = {0};
    put(&b, ""); /* an empty conversation still gives an allocated "" */
    switch (t) {
    case ONC_CHAT_CHATML:
        for (size_t i = 0; i < n; i++) {
            put(&b, "<|im_start|>");
            put(&b, msgs[i].role);
            put(&b, "\n");
            put(&b, msgs[i].content);
            put(&b, "<|im_end|>\n");
        }
        if (p.add_generation_prompt) put(&b, "<|im_start|>assistant\n");
        break;
    case ONC_CHAT_LLAMA2:
    case ONC_CHAT_LLAMA2_SYS:
    case ONC_CHAT_LLAMA2_SYS_BOS:
    case ONC_CHAT_LLAMA2_SYS_STRIP: fmt_llama2(&b, t, msgs, n); break;
    case ONC_CHAT_MISTRAL_V1:
    case ONC_CHAT_MISTRAL_V3:
    case ONC_CHAT_MISTRAL_V3_TEKKEN: fmt_mistral_v13(&b, t, msgs, n); break;
    case ONC_CHAT_MISTRAL_V7:
    case ONC_CHAT_MISTRAL_V7_TEKKEN: fmt_mistral_v7(&b, t, msgs, n); break;
    case ONC_CHAT_LLAMA3:
        for (size_t i = 0; i < n; i++) {
            put(&b, "<|start_header_id|>");
            put(&b, msgs[i].role);
            put(&b, "<|end_header_id|>\n\n");
            put_trimmed(&b, msgs[i].content);
            put(&b, "<|eot_id|>");
        }
        if (p.add_generation_prompt) put(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case ONC_CHAT_PHI3:
        for (size_t i = 0; i < n; i++) {
            put(&b, "<|");
            put(&b, msgs[i].role);
            put(&b, "|>\n");
            put(&b, msgs[i].content);
            put(&b, "<|end|>\n");
        }
        if (p.add_generation_prompt) put(&b, "<|assistant|>\n");
        break;
    case ONC_CHAT_ZEPHYR:
        for (size_t i = 0; i < n; i++) {
            put(&b, "<|");
            put(&b, msgs[i].role);
            put(&b, "|>\n");
            put(&b, msgs[i].content);
            put(&b, p.eos_text ? p.eos_text : "<|endoftext|>");
            put(&b, "\n");
        }
        if (p.add_generation_prompt) put(&b, "<|assistant|>\n");
        break;
    case ONC_CHAT_TEMPLATE_COUNT: break;
    }
    if (b.oom) {
        free(b.p);
        return onc_error_set(err, ONC_ERR_NOMEM, "chat template: out of memory");
    }
    *text = b.p;
    *len = b.n;
    return ONC_OK;
}
