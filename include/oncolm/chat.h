/* oncolm/chat.h — chat templates: a conversation -> the prompt text.
 *
 * A small set of fixed formats, each producing exactly what llama.cpp's
 * llm_chat_apply_template (src/llama-chat.cpp, the non-Jinja path) produces
 * for the same template, and detection of the format from a GGUF
 * `tokenizer.chat_template` Jinja string by the distinctive substrings
 * llama.cpp's llm_chat_detect_template looks for. No Jinja is executed.
 *
 * The output is prompt TEXT. Turning it into ids is the caller's job, with
 * onc_tokenize(..., add_special = true, parse_special = true): special-token
 * texts such as "<|im_start|>", "[INST]", "</s>" must be parsed as the
 * special tokens, and BOS is added by the tokenizer — llama.cpp's formats
 * (and these) never write "<s>" or "<|begin_of_text|>" at the start. (The
 * llama2-sys-bos variant writes "<s>" between turns, as llama.cpp does.)
 *
 * Supported names (llama.cpp's names):
 *   chatml             <|im_start|>role\ncontent<|im_end|>\n ... (Qwen2)
 *   llama2             [INST] sys\nuser [/INST]assistant</s>[INST] ...
 *   llama2-sys         as llama2, system as <<SYS>>\nsys\n<</SYS>>\n\n
 *   llama2-sys-bos     as llama2-sys, "<s>[INST] " before later turns
 *   llama2-sys-strip   as llama2-sys, every content trimmed (Llama-2-chat)
 *   mistral-v1         " [INST] sys\n\nuser [/INST] assistant</s>"
 *   mistral-v3         "[INST] sys\n\nuser[/INST] assistant</s>" (assistant trimmed)
 *   mistral-v3-tekken  "[INST]sys\n\nuser[/INST]assistant</s>"
 *   mistral-v7         "[SYSTEM_PROMPT] sys[/SYSTEM_PROMPT][INST] user[/INST] assistant</s>"
 *   mistral-v7-tekken  as mistral-v7 without the spaces
 *   llama3             <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> (trimmed)
 *   phi3               <|role|>\ncontent<|end|>\n
 *   zephyr             <|role|>\ncontent<EOS>\n (EOS text: see onc_chat_params)
 * Mistral-7B-Instruct-v0.2's original template is detected as llama2 (as in
 * llama.cpp); its 2024 revision (system_message) as mistral-v1; v0.3 as
 * mistral-v3.
 *
 * System messages in formats without a system role follow llama.cpp: llama2
 * puts the system text plus "\n" inside the first [INST]; mistral-v1/v3 put
 * it plus "\n\n" inside the current [INST]; phi3 and zephyr write it as a
 * "<|system|>" turn; chatml/llama3 as a "system" turn.
 *
 * Thread-safety: every function here is thread-safe (no state). */
#ifndef ONCOLM_CHAT_H
#define ONCOLM_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "oncolm/gguf.h"
#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum onc_chat_template {
    ONC_CHAT_CHATML = 0,
    ONC_CHAT_LLAMA2,
    ONC_CHAT_LLAMA2_SYS,
    ONC_CHAT_LLAMA2_SYS_BOS,
    ONC_CHAT_LLAMA2_SYS_STRIP,
    ONC_CHAT_MISTRAL_V1,
    ONC_CHAT_MISTRAL_V3,
    ONC_CHAT_MISTRAL_V3_TEKKEN,
    ONC_CHAT_MISTRAL_V7,
    ONC_CHAT_MISTRAL_V7_TEKKEN,
    ONC_CHAT_LLAMA3,
    ONC_CHAT_PHI3,
    ONC_CHAT_ZEPHYR,
    ONC_CHAT_TEMPLATE_COUNT
} onc_chat_template;

/* One message. role is "system", "user" or "assistant" (other roles are
 * written as they are by formats that print the role, and treated as
 * assistant by the llama2/mistral formats, as llama.cpp does). */
typedef struct onc_chat_message {
    const char *role;    /* NUL-terminated, not NULL */
    const char *content; /* NUL-terminated, not NULL */
} onc_chat_message;

typedef struct onc_chat_params {
    bool add_generation_prompt; /* end with the assistant header (formats that have
                                   one: chatml, llama3, phi3, zephyr; the llama2 and
                                   mistral formats end with [/INST] anyway) */
    const char *eos_text;       /* the model's EOS token text, for zephyr's turn end.
                                   NULL = llama.cpp's "<|endoftext|>" (StableLM-2-Zephyr);
                                   HuggingFaceH4/zephyr-7b-beta needs "</s>" (its
                                   Jinja template writes eos_token there) */
} onc_chat_params;

/* add_generation_prompt = true, eos_text = NULL. */
onc_chat_params onc_chat_default_params(void);

/* The llama.cpp name of a template ("chatml", "llama2-sys", ...); "?" for a
 * value out of range. */
const char *onc_chat_template_name(onc_chat_template t);

/* "chatml, llama2, llama2-sys, ..." — every supported name, for messages. */
const char *onc_chat_template_names(void);

/* Exact name -> template. ONC_ERR_NOT_FOUND with a message listing the
 * supported names when the name is unknown. */
onc_status onc_chat_template_from_name(const char *name, onc_chat_template *out, onc_error *err);

/* Detect the format from a template text tmpl[0..len): a supported name
 * first, then llama.cpp's substring rules, in llama.cpp's order:
 *   "<|im_start|>"                      -> chatml ("<|im_sep|>": phi4, unsupported)
 *   starts with "mistral" or "[INST]"   -> "[SYSTEM_PROMPT]": mistral-v7;
 *       "' [INST] ' + system_message" or "[AVAILABLE_TOOLS]": " [INST]" -> mistral-v1,
 *       "\"[INST]\"" -> mistral-v3-tekken, else mistral-v3;
 *       otherwise llama2: "content.strip()" -> llama2-sys-strip,
 *       "bos_token + '[INST]" -> llama2-sys-bos, "<<SYS>>" -> llama2-sys, else llama2
 *   "<|assistant|>" and "<|end|>"       -> phi3
 *   "<|user|>"                          -> zephyr (older llama.cpp rule; current llama.cpp
 *       formats zephyr-7b-beta's template as glmedge: see chat_template.c)
 *   "<|start_header_id|>" and "<|end_header_id|>" -> llama3
 * ONC_ERR_UNSUPPORTED naming the format for templates llama.cpp knows but
 * oncolm does not implement (gemma, phi4, chatglm, command-r, ...), and
 * ONC_ERR_NOT_FOUND listing the supported names for anything else. */
onc_status onc_chat_template_detect(const char *tmpl, size_t len, onc_chat_template *out, onc_error *err);

/* Detect from an open GGUF's tokenizer.chat_template. ONC_ERR_NOT_FOUND when
 * the key is absent (message says so), ONC_ERR_FORMAT when it is not a
 * string, else as onc_chat_template_detect. */
onc_status onc_chat_template_from_gguf(const onc_gguf *g, onc_chat_template *out, onc_error *err);

/* Format msgs[0..n) with template t (params NULL = defaults). On success
 * *text is malloc()ed and NUL-terminated (caller frees), *len excludes the
 * NUL. ONC_ERR_INVALID for a NULL role/content or a template out of range,
 * ONC_ERR_NOMEM. On failure *text = NULL, *len = 0. */
onc_status onc_chat_apply(onc_chat_template t, const onc_chat_message *msgs, size_t n, const onc_chat_params *params,
                          char **text, size_t *len, onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_CHAT_H */
