/* test_sft_data.c — supervised fine-tuning data (oncolm/sft_data.h) on the
 * tokenizer of a small qwen2 model made here (byte-level BPE, ChatML):
 *   - prompt/completion: the ids are the tokens of prompt + completion plus
 *     EOS, and exactly the tokens after the prompt's token count are trained;
 *   - messages: the trained tokens decode to exactly the text the template
 *     adds for each assistant turn, nothing of the user's turns;
 *   - labels are the next trained token or -1;
 *   - truncation keeps the first max_len tokens; a row left with nothing to
 *     train is dropped and counted;
 *   - the split: "split" fields obeyed, the drawn split reproducible;
 *   - bad rows: errors name file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/gguf.h"
#include "oncolm/model_create.h"
#include "oncolm/sft_data.h"
#include "test_util.h"

static onc_tokenizer *tok;
static onc_gguf *gguf;

static int setup(void **state) {
    (void)state;
    onc_model_create_params p = tu_small_params(ONC_ARCH_QWEN2, 1, 32, 2, 32);
    p.n_head_kv = 2;
    tu_create_model("sft_qwen2.gguf", &p);
    tok = tu_open_tokenizer(tu_tmp_path("sft_qwen2.gguf"), &gguf);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_close_tokenizer(tok, gguf);
    return 0;
}

static size_t n_tokens(const char *text, bool special) {
    onc_tokenize_params tp = onc_tokenize_default_params();
    tp.parse_special = special;
    int32_t *ids = NULL;
    size_t n = 0;
    onc_error err = {0};
    if (onc_tokenize(tok, text, strlen(text), &tp, &ids, &n, &err) != ONC_OK) fail_msg("%s", err.msg);
    free(ids);
    return n;
}

static onc_sft_params params(void) {
    onc_sft_params p = onc_sft_default_params();
    p.val_fraction = 0;
    p.has_tmpl = true;
    p.tmpl = ONC_CHAT_CHATML;
    return p;
}

static void test_prompt_completion(void **s) {
    (void)s;
    const char *path = tu_write_file("sft_pc.jsonl", "{\"prompt\": \"Staging: pT2 N1.\\nAnswer:\", \"completion\": \" stage III\"}\n"
                                                  "\n"
                                                  "{\"prompt\": \"Dose?\", \"completion\": \" 60 Gy in 30 fractions\"}\n");
    onc_sft_params p = params();
    onc_error err = {0};
    onc_sft_dataset *d = onc_sft_load(path, tok, &p, &err);
    if (!d) fail_msg("%s", err.msg);
    assert_int_equal(d->n_train, 2);
    assert_int_equal(d->n_val, 0);
    const onc_sft_example *e = &d->train[0];
    assert_int_equal(e->line, 1);
    assert_int_equal(d->train[1].line, 3);
    const size_t np = n_tokens("Staging: pT2 N1.\nAnswer:", false), nall = n_tokens("Staging: pT2 N1.\nAnswer: stage III", false);
    const int32_t eos = onc_tokenizer_special(tok, ONC_SPECIAL_EOS);
    assert_true(eos >= 0);
    assert_int_equal(e->n, (int32_t)nall + 1);
    assert_int_equal(e->ids[e->n - 1], eos);
    for (int32_t t = 0; t < e->n; t++) assert_int_equal(e->train[t], (size_t)t >= np ? 1 : 0);
    assert_int_equal(e->n_train, e->n - (int32_t)np);
    int32_t labels[256];
    onc_sft_labels(e, labels);
    for (int32_t t = 0; t + 1 < e->n; t++) assert_int_equal(labels[t], (size_t)t + 1 >= np ? e->ids[t + 1] : -1);
    assert_int_equal(labels[e->n - 1], -1);
    assert_int_equal(d->train_target_tokens, d->train[0].n_train + d->train[1].n_train);
    onc_sft_free(d);
}

static void test_messages(void **s) {
    (void)s;
    const char *path = tu_write_file(
        "sft_msg.jsonl",
        "{\"messages\": [{\"role\": \"system\", \"content\": \"You extract toxicities.\"},"
        " {\"role\": \"user\", \"content\": \"Note: grade 2 dermatitis.\"},"
        " {\"role\": \"assistant\", \"content\": \"dermatitis: 2\"},"
        " {\"role\": \"user\", \"content\": \"And fatigue?\"},"
        " {\"role\": \"assistant\", \"content\": \"fatigue: 0\"}]}\n");
    onc_sft_params p = params();
    onc_error err = {0};
    onc_sft_dataset *d = onc_sft_load(path, tok, &p, &err);
    if (!d) fail_msg("%s", err.msg);
    assert_int_equal(d->n_train, 1);
    const onc_sft_example *e = &d->train[0];
    /* the trained tokens, in runs, decode to the assistant turns' text as ChatML writes it */
    char got[512] = "";
    onc_detokenize_params dp = {.unparse_special = true, .no_clean_spaces = true};
    for (int32_t t = 0; t < e->n;) {
        if (!e->train[t]) {
            t++;
            continue;
        }
        int32_t u = t;
        while (u < e->n && e->train[u]) u++;
        char *text = NULL;
        size_t len = 0;
        if (onc_detokenize(tok, e->ids + t, (size_t)(u - t), &dp, &text, &len, &err) != ONC_OK) fail_msg("%s", err.msg);
        strncat(got, text, sizeof got - strlen(got) - 2);
        strcat(got, "|");
        free(text);
        t = u;
    }
    /* ChatML ends an assistant turn with <|im_end|>\n; EOS (<|endoftext|>) is appended after the last one */
    const char *eos_text = onc_token_text(tok, onc_tokenizer_special(tok, ONC_SPECIAL_EOS), NULL);
    char want[512];
    snprintf(want, sizeof want, "dermatitis: 2<|im_end|>\n|fatigue: 0<|im_end|>\n%s|", eos_text);
    assert_string_equal(got, want);
    onc_sft_free(d);
}

static void test_truncation_and_split(void **s) {
    (void)s;
    char rows[8192] = "";
    for (int i = 0; i < 40; i++) {
        char r[256];
        snprintf(r, sizeof r, "{\"prompt\": \"Patient %d has a long history of many things over many years.\", "
                              "\"completion\": \" ok\"%s}\n", i, i == 3 ? ", \"split\": \"validation\"" : "");
        strcat(rows, r);
    }
    const char *path = tu_write_file("sft_split.jsonl", rows);
    onc_sft_params p = params();
    p.val_fraction = 0.3;
    onc_error err = {0};
    onc_sft_dataset *a = onc_sft_load(path, tok, &p, &err), *b = onc_sft_load(path, tok, &p, &err);
    if (!a || !b) fail_msg("%s", err.msg);
    assert_int_equal(a->n_train + a->n_val, 40);
    assert_true(a->n_val >= 4 && a->n_val <= 24); /* 1 fixed + ~30% of 39 */
    assert_int_equal(a->n_val, b->n_val);
    bool line4_in_val = false;
    for (size_t i = 0; i < a->n_val; i++) {
        assert_int_equal(a->val[i].line, b->val[i].line);
        line4_in_val |= a->val[i].line == 4;
    }
    assert_true(line4_in_val);
    onc_sft_free(b);
    p.seed = 7;
    b = onc_sft_load(path, tok, &p, &err);
    bool differs = b->n_val != a->n_val;
    for (size_t i = 0; i < a->n_val && i < b->n_val && !differs; i++) differs = a->val[i].line != b->val[i].line;
    assert_true(differs); /* another seed, another split */
    onc_sft_free(a);
    onc_sft_free(b);

    /* max_len shorter than the prompt: every completion is cut away -> dropped -> no training set */
    p.val_fraction = 0;
    p.max_len = 4;
    a = onc_sft_load(path, tok, &p, &err);
    assert_null(a);
    assert_non_null(strstr(err.msg, "no training example"));
    assert_non_null(strstr(err.msg, "40 dropped"));
    /* long enough for some: truncated to max_len, counted */
    const size_t np = n_tokens("Patient 1 has a long history of many things over many years.", false);
    p.max_len = (int32_t)np + 1;
    a = onc_sft_load(path, tok, &p, &err);
    if (!a) fail_msg("%s", err.msg);
    assert_true(a->n_truncated > 0);
    for (size_t i = 0; i < a->n_train; i++) {
        assert_true(a->train[i].n <= p.max_len);
        assert_true(a->train[i].n_train >= 1);
    }
    onc_sft_free(a);
}

static void expect_error(const char *name, const char *text, bool tmpl, const char *needle) {
    const char *path = tu_write_file(name, text);
    onc_sft_params p = params();
    p.has_tmpl = tmpl;
    onc_error err = {0};
    onc_sft_dataset *d = onc_sft_load(path, tok, &p, &err);
    if (d) fail_msg("%s: loaded, expected an error with '%s'", name, needle);
    if (!strstr(err.msg, needle) || !strstr(err.msg, name)) fail_msg("%s: message '%s' lacks '%s'", name, err.msg, needle);
}

static void test_errors(void **s) {
    (void)s;
    expect_error("sft_e1.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"a\", \n", true, ":2:");
    expect_error("sft_e2.jsonl", "{\"prompt\": \"a\"}\n", true, ":1: a row needs");
    expect_error("sft_e3.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", \"content\": \"y\"}]}\n",
                 false, "chat template");
    expect_error("sft_e4.jsonl", "{\"messages\": [{\"role\": \"doctor\", \"content\": \"x\"}]}\n", true, "role must be");
    expect_error("sft_e5.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}\n", true, "no assistant");
    expect_error("sft_e6.jsonl", "\n\n", true, "no training example");
    expect_error("sft_e7.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\", \"split\": \"test\"}\n", true, "split must");
    expect_error("sft_e8.jsonl", "[1, 2]\n", true, "JSON object");
    expect_error("sft_e9.jsonl", "{\"prompt\": \"a\xff\", \"completion\": \"b\"}\n", true, ":1:");
    onc_error err = {0};
    assert_null(onc_sft_load(tu_tmp_path("sft_missing.jsonl"), tok, NULL, &err));
    assert_non_null(strstr(err.msg, "sft_missing.jsonl"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompt_completion),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_truncation_and_split),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
