/* test_chat.c — oncolm/chat.h: every format's output for a conversation
 * (system, user, assistant, user, assistant with surrounding spaces, user)
 * against exact expected strings, with and without the generation prompt;
 * system handling in formats without a system role; detection from the
 * published Jinja templates of Llama-2-chat, Llama-3-Instruct,
 * Mistral-7B-Instruct v0.2 (original and revised) and v0.3, Zephyr-7B-beta,
 * Phi-3-mini, Qwen2-Instruct and a Mistral v7 template; names; unknown /
 * unsupported templates; GGUF tokenizer.chat_template; bad input.
 *
 * Where the expected strings come from: llama.cpp's llm_chat_apply_template
 * (src/llama-chat.cpp) and its tests/test-chat-template.cpp, which uses this
 * same six-message conversation. llama.cpp's formats differ in places from
 * the models' own Jinja output, on purpose (they are llama.cpp's legacy
 * formats, reproduced here byte for byte):
 *   - no "<s>" / "<|begin_of_text|>" at the start: the tokenizer adds BOS
 *     (Llama-3's and Mistral's Jinja write bos_token into the text);
 *   - llama2: "[/INST]" is followed directly by the answer and "</s>" by the
 *     next "[INST]" (Meta's template writes "[/INST] answer </s><s>[INST]");
 *   - llama3 trims every content (the Jinja does "| trim" too);
 *   - phi3 keeps system messages as a <|system|> turn (Phi-3-mini's Jinja
 *     drops them).
 * For Zephyr-7B-beta with eos_text "</s>" the output equals what its Jinja
 * template renders under HF's trim_blocks: "<|user|>\nHello</s>\n...". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/chat.h"
#include "oncolm/gguf.h"

static const onc_chat_message CONV[] = {
    {"system", "You are a helpful assistant"},
    {"user", "Hello"},
    {"assistant", "Hi there"},
    {"user", "Who are you"},
    {"assistant", "   I am an assistant   "},
    {"user", "Another question"},
};
#define N_CONV (sizeof CONV / sizeof *CONV)

static void expect(onc_chat_template t, const onc_chat_message *m, size_t n, const onc_chat_params *p,
                   const char *want) {
    char *text = NULL;
    size_t len = 0;
    onc_error err = {0};
    if (onc_chat_apply(t, m, n, p, &text, &len, &err) != ONC_OK) fail_msg("%s: %s", onc_chat_template_name(t), err.msg);
    if (strcmp(text, want) != 0)
        fail_msg("template %s\n got: [%s]\nwant: [%s]", onc_chat_template_name(t), text, want);
    assert_int_equal(len, strlen(want));
    free(text);
}

static void test_formats(void **state) {
    (void)state;
    struct {
        onc_chat_template t;
        const char *want;
    } cases[] = {
        {ONC_CHAT_CHATML,
         "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
         "<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n"
         "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n"
         "<|im_start|>assistant\n"},
        {ONC_CHAT_LLAMA2,
         "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an "
         "assistant   </s>[INST] Another question [/INST]"},
        {ONC_CHAT_LLAMA2_SYS,
         "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you "
         "[/INST]   I am an assistant   </s>[INST] Another question [/INST]"},
        {ONC_CHAT_LLAMA2_SYS_BOS,
         "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s><s>[INST] Who are you "
         "[/INST]   I am an assistant   </s><s>[INST] Another question [/INST]"},
        {ONC_CHAT_LLAMA2_SYS_STRIP,
         "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you "
         "[/INST]I am an assistant</s>[INST] Another question [/INST]"},
        {ONC_CHAT_MISTRAL_V1,
         " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]    I am an "
         "assistant   </s> [INST] Another question [/INST]"},
        {ONC_CHAT_MISTRAL_V3,
         "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are you[/INST] I am an "
         "assistant</s>[INST] Another question[/INST]"},
        {ONC_CHAT_MISTRAL_V3_TEKKEN,
         "[INST]You are a helpful assistant\n\nHello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an "
         "assistant   </s>[INST]Another question[/INST]"},
        {ONC_CHAT_MISTRAL_V7,
         "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>[INST] Who are "
         "you[/INST]    I am an assistant   </s>[INST] Another question[/INST]"},
        {ONC_CHAT_MISTRAL_V7_TEKKEN,
         "[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT][INST]Hello[/INST]Hi there</s>[INST]Who are "
         "you[/INST]   I am an assistant   </s>[INST]Another question[/INST]"},
        {ONC_CHAT_LLAMA3,
         "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|>"
         "<|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\n"},
        {ONC_CHAT_PHI3,
         "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n"
         "<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother "
         "question<|end|>\n<|assistant|>\n"},
        {ONC_CHAT_ZEPHYR,
         "<|system|>\nYou are a helpful assistant<|endoftext|>\n<|user|>\nHello<|endoftext|>\n<|assistant|>\nHi "
         "there<|endoftext|>\n<|user|>\nWho are you<|endoftext|>\n<|assistant|>\n   I am an assistant   "
         "<|endoftext|>\n<|user|>\nAnother question<|endoftext|>\n<|assistant|>\n"},
    };
    _Static_assert(sizeof cases / sizeof *cases == ONC_CHAT_TEMPLATE_COUNT, "one case per template");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) expect(cases[i].t, CONV, N_CONV, NULL, cases[i].want);
}

/* The brief's shape: system + user + assistant + user, with and without the
 * generation prompt. */
static void test_generation_prompt(void **state) {
    (void)state;
    onc_chat_params no = onc_chat_default_params();
    no.add_generation_prompt = false;
    expect(ONC_CHAT_CHATML, CONV, 4, &no,
           "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
           "<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n");
    expect(ONC_CHAT_LLAMA3, CONV, 2, &no,
           "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
           "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>");
    expect(ONC_CHAT_PHI3, CONV + 1, 1, &no, "<|user|>\nHello<|end|>\n");
    expect(ONC_CHAT_ZEPHYR, CONV + 1, 1, &no, "<|user|>\nHello<|endoftext|>\n");
    /* llama2 / mistral end with [/INST] whatever the flag says */
    expect(ONC_CHAT_LLAMA2_SYS, CONV, 4, &no,
           "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you "
           "[/INST]");
    expect(ONC_CHAT_MISTRAL_V1, CONV, 4, NULL,
           " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]");
    /* an empty conversation: just the generation prompt */
    expect(ONC_CHAT_CHATML, CONV, 0, NULL, "<|im_start|>assistant\n");
    expect(ONC_CHAT_CHATML, CONV, 0, &no, "");
}

/* Zephyr-7B-beta: the model's EOS text as the turn end gives exactly its
 * Jinja output. */
static void test_zephyr_eos(void **state) {
    (void)state;
    onc_chat_params p = onc_chat_default_params();
    p.eos_text = "</s>";
    expect(ONC_CHAT_ZEPHYR, CONV, 4, &p,
           "<|system|>\nYou are a helpful assistant</s>\n<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n"
           "<|user|>\nWho are you</s>\n<|assistant|>\n");
}

/* Formats without a system role (llama.cpp behaviour). */
static void test_system_without_role(void **state) {
    (void)state;
    const onc_chat_message m[] = {{"system", "Be brief."}, {"user", "Dx?"}};
    expect(ONC_CHAT_LLAMA2, m, 2, NULL, "[INST] Be brief.\nDx? [/INST]");
    expect(ONC_CHAT_MISTRAL_V1, m, 2, NULL, " [INST] Be brief.\n\nDx? [/INST]");
    expect(ONC_CHAT_MISTRAL_V3, m, 2, NULL, "[INST] Be brief.\n\nDx?[/INST]");
    expect(ONC_CHAT_MISTRAL_V3_TEKKEN, m, 2, NULL, "[INST]Be brief.\n\nDx?[/INST]");
    expect(ONC_CHAT_PHI3, m, 2, NULL, "<|system|>\nBe brief.<|end|>\n<|user|>\nDx?<|end|>\n<|assistant|>\n");
    expect(ONC_CHAT_ZEPHYR, m, 2, NULL,
           "<|system|>\nBe brief.<|endoftext|>\n<|user|>\nDx?<|endoftext|>\n<|assistant|>\n");
    /* a system message after the first turn lands in the current [INST] */
    const onc_chat_message late[] = {{"user", "A"}, {"assistant", "B"}, {"system", "S"}, {"user", "C"}};
    expect(ONC_CHAT_MISTRAL_V1, late, 4, NULL, " [INST] A [/INST] B</s> [INST] S\n\nC [/INST]");
    expect(ONC_CHAT_LLAMA2, late, 4, NULL, "[INST] A [/INST]B</s>[INST] S\nC [/INST]");
    /* llama3 trims with llama.cpp's whitespace set */
    const onc_chat_message ws[] = {{"user", "\t\n x y \r\n"}};
    expect(ONC_CHAT_LLAMA3, ws, 1, NULL,
           "<|start_header_id|>user<|end_header_id|>\n\nx y<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    const onc_chat_message blank[] = {{"user", "   "}};
    expect(ONC_CHAT_LLAMA3, blank, 1, &(onc_chat_params){.add_generation_prompt = false},
           "<|start_header_id|>user<|end_header_id|>\n\n<|eot_id|>");
}

// --- detection ------------------------------------------------------------------------

/* Published templates (tokenizer_config.json chat_template), verbatim except
 * where marked shortened. JSON "\n" escapes are real newlines here. */
static const char TMPL_LLAMA2_CHAT[] = /* meta-llama/Llama-2-7b-chat-hf */
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif "
    "%}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
    "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
    "loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if "
    "message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] "
    "== 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

static const char TMPL_LLAMA3[] = /* meta-llama/Meta-Llama-3-8B-Instruct */
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' "
    "%}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if "
    "add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

static const char TMPL_MISTRAL_V02[] = /* mistralai/Mistral-7B-Instruct-v0.2, original */
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
    "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
    "message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
    "'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles "
    "are supported!') }}{% endif %}{% endfor %}";

static const char TMPL_MISTRAL_V02_REV[] = /* mistralai/Mistral-7B-Instruct-v0.2, 2024 revision */
    "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content'] %}\n    {%- "
    "set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_messages = messages %}\n{%- endif "
    "%}\n\n{{- bos_token }}\n{%- for message in loop_messages %}\n    {%- if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}\n        {{- raise_exception('After the optional system message, conversation roles "
    "must alternate user/assistant/user/assistant...') }}\n    {%- endif %}\n    {%- if message['role'] == 'user' "
    "%}\n        {%- if loop.first and system_message is defined %}\n            {{- ' [INST] ' + system_message + "
    "'\\n\\n' + message['content'] + ' [/INST]' }}\n        {%- else %}\n            {{- ' [INST] ' + "
    "message['content'] + ' [/INST]' }}\n        {%- endif %}\n    {%- elif message['role'] == 'assistant' %}\n    "
    "    {{- ' ' + message['content'] + eos_token}}\n    {%- else %}\n        {{- raise_exception('Only user and "
    "assistant roles are supported, with the exception of an initial optional system message!') }}\n    {%- endif "
    "%}\n{%- endfor %}\n";

static const char TMPL_MISTRAL_V03[] = /* mistralai/Mistral-7B-Instruct-v0.3, shortened (tool-call branches cut) */
    "{%- if messages[0][\"role\"] == \"system\" %}\n    {%- set system_message = messages[0][\"content\"] %}\n    "
    "{%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_messages = messages %}\n{%- endif "
    "%}\n{%- if not tools is defined %}\n    {%- set tools = none %}\n{%- endif %}\n\n{{- bos_token }}\n{%- for "
    "message in loop_messages %}\n    {%- if message[\"role\"] == \"user\" %}\n        {%- if tools is not none and "
    "(message == user_messages[-1]) %}\n            {{- \"[AVAILABLE_TOOLS] [\" }}\n            {{- \"]\" }}\n    "
    "        {{- \"[/AVAILABLE_TOOLS]\" }}\n        {%- endif %}\n        {%- if loop.last and system_message is "
    "defined %}\n            {{- \"[INST] \" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" "
    "}}\n        {%- else %}\n            {{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}\n        {%- endif "
    "%}\n    {%- elif message[\"role\"] == \"assistant\" %}\n        {{- \" \" + message[\"content\"]|trim + "
    "eos_token}}\n    {%- endif %}\n{%- endfor %}\n";

static const char TMPL_MISTRAL_V7[] = /* Mistral-Small-24B-Instruct-2501 style, shortened */
    "{%- set today = strftime_now(\"%Y-%m-%d\") %}\n{{- bos_token }}\n\n{%- if messages[0]['role'] == 'system' "
    "%}\n    {%- set system_message = messages[0]['content'] %}\n    {%- set loop_messages = messages[1:] %}\n{%- "
    "endif %}\n\n{{- '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' }}\n\n{%- for message in "
    "loop_messages %}\n    {%- if message['role'] == 'user' %}\n        {{- '[INST]' + message['content'] + "
    "'[/INST]' }}\n    {%- elif message['role'] == 'assistant' %}\n        {{- message['content'] + eos_token "
    "}}\n    {%- endif %}\n{%- endfor %}";

static const char TMPL_ZEPHYR[] = /* HuggingFaceH4/zephyr-7b-beta */
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token "
    "}}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% "
    "endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

static const char TMPL_PHI3[] = /* microsoft/Phi-3-mini-4k-instruct */
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\n' + "
    "message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}{% elif (message['role'] == 'assistant') "
    "%}{{message['content'] + '<|end|>' + '\n'}}{% endif %}{% endfor %}";

static const char TMPL_QWEN2[] = /* Qwen/Qwen2-7B-Instruct */
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + "
    "message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt "
    "%}{{ '<|im_start|>assistant\n' }}{% endif %}";

static const char TMPL_GEMMA[] = /* google/gemma-2b-it, shortened */
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' "
    "%}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + "
    "message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt "
    "%}{{'<start_of_turn>model\n'}}{% endif %}";

static void detect_ok(const char *tmpl, onc_chat_template want) {
    onc_chat_template got = ONC_CHAT_TEMPLATE_COUNT;
    onc_error err = {0};
    if (onc_chat_template_detect(tmpl, strlen(tmpl), &got, &err) != ONC_OK)
        fail_msg("detect (want %s): %s", onc_chat_template_name(want), err.msg);
    if (got != want)
        fail_msg("detected %s, want %s for [%.60s...]", onc_chat_template_name(got), onc_chat_template_name(want),
                 tmpl);
}

static void test_detect_real_templates(void **state) {
    (void)state;
    detect_ok(TMPL_LLAMA2_CHAT, ONC_CHAT_LLAMA2_SYS_STRIP);
    detect_ok(TMPL_LLAMA3, ONC_CHAT_LLAMA3);
    detect_ok(TMPL_MISTRAL_V02, ONC_CHAT_LLAMA2);
    detect_ok(TMPL_MISTRAL_V02_REV, ONC_CHAT_MISTRAL_V1);
    detect_ok(TMPL_MISTRAL_V03, ONC_CHAT_MISTRAL_V3);
    detect_ok(TMPL_MISTRAL_V7, ONC_CHAT_MISTRAL_V7);
    detect_ok(TMPL_ZEPHYR, ONC_CHAT_ZEPHYR);
    detect_ok(TMPL_PHI3, ONC_CHAT_PHI3);
    detect_ok(TMPL_QWEN2, ONC_CHAT_CHATML);
    /* llama2 variants by their markers */
    detect_ok("{% if m %}<<SYS>>\\n{{ x }}[INST]{% endif %}", ONC_CHAT_LLAMA2_SYS);
    detect_ok("{{ bos_token + '[INST] ' + content + ' [/INST]' }}<<SYS>>", ONC_CHAT_LLAMA2_SYS_BOS);
    detect_ok("{{ \"[INST]\" + system_message }}[AVAILABLE_TOOLS]", ONC_CHAT_MISTRAL_V3_TEKKEN);
}

static void test_detect_names(void **state) {
    (void)state;
    for (int t = 0; t < ONC_CHAT_TEMPLATE_COUNT; t++) {
        const char *name = onc_chat_template_name((onc_chat_template)t);
        detect_ok(name, (onc_chat_template)t);
        onc_chat_template got;
        assert_int_equal(onc_chat_template_from_name(name, &got, NULL), ONC_OK);
        assert_int_equal(got, t);
        assert_non_null(strstr(onc_chat_template_names(), name));
    }
    /* llama.cpp: a string starting with "mistral" goes to the [INST] family */
    detect_ok("mistral", ONC_CHAT_LLAMA2);
    onc_error err = {0};
    onc_chat_template got;
    assert_int_equal(onc_chat_template_from_name("mistral", &got, &err), ONC_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "unknown chat template 'mistral'"));
    assert_non_null(strstr(err.msg, "mistral-v7-tekken"));
    assert_string_equal(onc_chat_template_name((onc_chat_template)99), "?");
}

static void test_detect_failures(void **state) {
    (void)state;
    onc_error err = {0};
    onc_chat_template got;
    assert_int_equal(onc_chat_template_detect(TMPL_GEMMA, strlen(TMPL_GEMMA), &got, &err), ONC_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "gemma"));
    assert_non_null(strstr(err.msg, "chatml, llama2"));
    const char *phi4 = "{{'<|im_start|>' + message['role'] + '<|im_sep|>'}}";
    assert_int_equal(onc_chat_template_detect(phi4, strlen(phi4), &got, &err), ONC_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "phi4"));
    const char *junk = "{{ messages | tojson }}";
    assert_int_equal(onc_chat_template_detect(junk, strlen(junk), &got, &err), ONC_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "not recognised"));
    assert_non_null(strstr(err.msg, "zephyr"));
    assert_int_equal(onc_chat_template_detect("", 0, &got, &err), ONC_ERR_NOT_FOUND);
    /* counted string: only tmpl[0..len) is looked at */
    assert_int_equal(onc_chat_template_detect("llama3xyz", 6, &got, &err), ONC_OK);
    assert_int_equal(got, ONC_CHAT_LLAMA3);
}

static void test_from_gguf(void **state) {
    (void)state;
    onc_gguf_writer *w = onc_gguf_writer_new();
    assert_int_equal(onc_gguf_set_str(w, "tokenizer.chat_template", TMPL_LLAMA3), ONC_OK);
    void *mem;
    size_t size;
    onc_error err = {0};
    assert_int_equal(onc_gguf_writer_write_mem(w, &mem, &size, &err), ONC_OK);
    onc_gguf_writer_free(w);
    onc_gguf *g = onc_gguf_open_memory(mem, size, "mem.gguf", &err);
    assert_non_null(g);
    onc_chat_template got;
    assert_int_equal(onc_chat_template_from_gguf(g, &got, &err), ONC_OK);
    assert_int_equal(got, ONC_CHAT_LLAMA3);
    onc_gguf_close(g);
    free(mem);

    w = onc_gguf_writer_new();
    assert_int_equal(onc_gguf_set_u32(w, "general.alignment", 32), ONC_OK);
    assert_int_equal(onc_gguf_writer_write_mem(w, &mem, &size, &err), ONC_OK);
    onc_gguf_writer_free(w);
    g = onc_gguf_open_memory(mem, size, "mem.gguf", &err);
    assert_non_null(g);
    assert_int_equal(onc_chat_template_from_gguf(g, &got, &err), ONC_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "no tokenizer.chat_template"));
    onc_gguf_close(g);
    free(mem);
}

static void test_bad_input(void **state) {
    (void)state;
    onc_error err = {0};
    char *text = (char *)1;
    size_t len = 7;
    const onc_chat_message m[] = {{"user", NULL}};
    assert_int_equal(onc_chat_apply(ONC_CHAT_CHATML, m, 1, NULL, &text, &len, &err), ONC_ERR_INVALID);
    assert_null(text);
    assert_int_equal(len, 0);
    assert_non_null(strstr(err.msg, "message 0 has no content"));
    const onc_chat_message m2[] = {{NULL, "x"}};
    assert_int_equal(onc_chat_apply(ONC_CHAT_CHATML, m2, 1, NULL, &text, &len, &err), ONC_ERR_INVALID);
    assert_int_equal(onc_chat_apply((onc_chat_template)42, CONV, 1, NULL, &text, &len, &err), ONC_ERR_INVALID);
    /* long content grows the buffer */
    char *big = malloc(100001);
    memset(big, 'x', 100000);
    big[100000] = '\0';
    const onc_chat_message m3[] = {{"user", big}, {"assistant", big}};
    assert_int_equal(onc_chat_apply(ONC_CHAT_LLAMA2, m3, 2, NULL, &text, &len, &err), ONC_OK);
    assert_int_equal(len, strlen("[INST] ") + 100000 + strlen(" [/INST]") + 100000 + strlen("</s>"));
    free(text);
    free(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),          cmocka_unit_test(test_generation_prompt),
        cmocka_unit_test(test_zephyr_eos),       cmocka_unit_test(test_system_without_role),
        cmocka_unit_test(test_detect_real_templates), cmocka_unit_test(test_detect_names),
        cmocka_unit_test(test_detect_failures),  cmocka_unit_test(test_from_gguf),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
