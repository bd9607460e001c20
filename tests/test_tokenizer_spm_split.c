/* test_tokenizer_spm_split.c — the segmented SentencePiece merge
 * (tok_spm.c, used when no token has a "▁" after another character) must give
 * exactly the ids of llama.cpp's whole-text merge. Compared on the same
 * tokenizer with the segmenting switched off, over clinical text, runs of
 * spaces, newlines, tabs, CJK, emoji and vocabulary-specific pieces; with a
 * trained vocabulary and, when present, the Llama-2 conformance vocabulary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/gguf.h"
#include "oncolm/model_create.h"
#include "oncolm/tokenizer.h"
#include "tokenizer/tok_impl.h"

static const char *const extra_texts[] = {
    "",
    " ",
    "   leading and trailing   ",
    "a  b   c    d\t\te\n\nf \n g",
    "Dose: 45 Gy / 25 fx, then boost 5.4 Gy.  ",
    "\xe8\x82\xba\xe7\x99\x8c \xe5\x8c\x96\xe7\x96\x97 (CJK)  and emoji \xf0\x9f\x98\x80\xf0\x9f\x91\x8d" "  ok",
    "\xe2\x96\x81" "already" "\xe2\x96\x81" "escaped \xe2\x96\x81\xe2\x96\x81 text",
};

static void tokenize_both(onc_tokenizer *tok, const char *text, size_t len) {
    onc_error err = {0};
    onc_tokenize_params p = onc_tokenize_default_params();
    int32_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    const bool saved = tok->spm_space_split;
    assert_int_equal(onc_tokenize(tok, text, len, &p, &a, &na, &err), ONC_OK);
    tok->spm_space_split = false;
    assert_int_equal(onc_tokenize(tok, text, len, &p, &b, &nb, &err), ONC_OK);
    tok->spm_space_split = saved;
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++)
        if (a[i] != b[i]) fail_msg("id %zu differs: %d (segmented) vs %d (whole text)", i, a[i], b[i]);
    free(a);
    free(b);
}

static void check_tokenizer(onc_tokenizer *tok) {
    assert_int_equal(onc_tokenizer_kind(tok), ONC_VOCAB_SPM);
    size_t sample_len;
    const char *sample = onc_sample_clinical_text(&sample_len);
    const size_t reps = 8;
    char *big = malloc(sample_len * reps + 1);
    assert_non_null(big);
    for (size_t i = 0; i < reps; i++) memcpy(big + i * sample_len, sample, sample_len);
    big[sample_len * reps] = '\0';
    tokenize_both(tok, big, sample_len * reps);
    free(big);
    for (size_t i = 0; i < sizeof extra_texts / sizeof *extra_texts; i++)
        tokenize_both(tok, extra_texts[i], strlen(extra_texts[i]));
}

static void test_trained_vocab(void **state) {
    (void)state;
    size_t len;
    const char *text = onc_sample_clinical_text(&len);
    onc_error err = {0};
    onc_vocab_train_params p = onc_vocab_train_default_params(ONC_VOCAB_SPM);
    p.vocab_size = 1500;
    onc_vocab_spec *spec = onc_vocab_train(text, len, &p, &err);
    assert_non_null(spec);
    onc_tokenizer *tok = onc_tokenizer_from_spec(spec, &err);
    assert_non_null(tok);
    assert_true(tok->spm_space_split); /* trained pieces never hold an inner "▁" */
    check_tokenizer(tok);
    onc_tokenizer_free(tok);
    onc_vocab_spec_free(spec);
}

static void test_llama_vocab(void **state) {
    (void)state;
    const char *dir = getenv("ONCOLM_CONFORMANCE");
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizers/ggml-vocab-llama-spm.gguf", dir ? dir : "");
    onc_error err = {0};
    onc_gguf *g = dir ? onc_gguf_open(path, &err) : NULL;
    if (!g) skip();
    onc_tokenizer *tok = onc_tokenizer_from_gguf(g, &err);
    assert_non_null(tok);
    check_tokenizer(tok);
    onc_tokenizer_free(tok);
    onc_gguf_close(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trained_vocab),
        cmocka_unit_test(test_llama_vocab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
