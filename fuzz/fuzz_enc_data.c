/* fuzz_enc_data.c — libFuzzer target for the encoder-training data reader
 * (oncolm/enc_data.h). Byte 0 picks the kind (classify, pairs, texts), the
 * file name's extension (.jsonl or .txt: texts read plain text) and fixed
 * label names or none; byte 1 the maximum length (2..33) and the
 * validation share (0, 0.5); the rest is the file, read with a small
 * WordPiece tokenizer trained once on a built-in text. Checks: a failure
 * sets an error that starts with the file name; a success has training
 * rows, sequences of 1..max_len in-vocabulary ids, labels in range (-1 for
 * pairs and texts), 1-based lines, data labels sorted and distinct, and
 * counts that add up. Replayed over fuzz/corpus/enc_data/ by ctest. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oncolm/enc_data.h"
#include "oncolm/vocab.h"

static onc_tokenizer *tokenizer(void) {
    static onc_tokenizer *tok;
    if (tok) return tok;
    static const char text[] = "CT chest shows a new 2 cm nodule in the right upper lobe. No evidence of disease. "
                               "Stage IIIA adenocarcinoma, EGFR exon 19 deletion, on osimertinib. Follow-up in "
                               "three months. Pre-treatment staging; post-treatment response: partial response.";
    onc_vocab_train_params vp = onc_vocab_train_default_params(ONC_VOCAB_WPM);
    vp.vocab_size = 300;
    vp.min_frequency = 1;
    onc_error err = {0};
    onc_vocab_spec *spec = onc_vocab_train(text, sizeof text - 1, &vp, &err);
    if (!spec) abort();
    tok = onc_tokenizer_from_spec(spec, &err);
    onc_vocab_spec_free(spec);
    if (!tok) abort();
    return tok;
}

static void check_seq(const onc_token_seq *s, int32_t max_len, int32_t n_vocab) {
    if (s->n < 1 || s->n > max_len || !s->ids) __builtin_trap();
    for (int32_t i = 0; i < s->n; i++)
        if (s->ids[i] < 0 || s->ids[i] >= n_vocab) __builtin_trap();
}

static void check_examples(const onc_enc_dataset *d, const onc_enc_example *e, int64_t n, int32_t max_len,
                           int32_t n_vocab) {
    for (int64_t i = 0; i < n; i++) {
        check_seq(&e[i].text, max_len, n_vocab);
        if (e[i].line < 1 || (i > 0 && e[i].line <= e[i - 1].line)) __builtin_trap();
        if (d->kind == ONC_ENC_DATA_CLASSIFY ? (e[i].label < 0 || e[i].label >= d->n_labels) : e[i].label != -1)
            __builtin_trap();
        if (d->kind == ONC_ENC_DATA_PAIRS) {
            check_seq(&e[i].positive, max_len, n_vocab);
            for (int32_t k = 0; k < e[i].n_negatives; k++) check_seq(&e[i].negatives[k], max_len, n_vocab);
        } else if (e[i].positive.n || e[i].n_negatives) {
            __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    const onc_enc_data_kind kind = (onc_enc_data_kind)(data[0] % 3);
    const bool plain = (data[0] >> 2) & 1, fixed = (data[0] >> 3) & 1;
    char path[64];
    snprintf(path, sizeof path, "/tmp/oncolm-fuzz-enc-data-%ld.%s", (long)getpid(), plain ? "txt" : "jsonl");
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data + 2, 1, size - 2, f);
    fclose(f);
    const onc_tokenizer *tok = tokenizer();
    const int32_t n_vocab = onc_tokenizer_n_tokens(tok);
    onc_enc_data_params p = onc_enc_data_default_params(kind);
    p.max_len = 2 + (data[1] & 31);
    p.val_fraction = (data[1] >> 5) & 1 ? 0.5 : 0.0;
    static const char *const names[] = {"pre", "post", "0", "1"};
    if (fixed) p.labels = names, p.n_labels = 4;
    onc_error err = {0};
    onc_enc_dataset *d = onc_enc_data_load(path, tok, &p, &err);
    unlink(path);
    if (!d) {
        const size_t n = strlen(path);
        if (err.code == ONC_OK || strncmp(err.msg, path, n) != 0 || err.msg[n] != ':') __builtin_trap();
        return 0;
    }
    if (d->kind != kind || d->n_train < 1 || d->n_val < 0 || d->n_truncated < 0 || d->n_test_skipped < 0)
        __builtin_trap();
    if (kind == ONC_ENC_DATA_CLASSIFY) {
        if (d->n_labels < 1) __builtin_trap();
        if (fixed && d->n_labels != 4) __builtin_trap();
        /* from the data: sorted as strings, or (integer labels) as numbers */
        bool by_str = true, by_num = true;
        for (int32_t i = 1; !fixed && i < d->n_labels; i++) {
            const char *a = d->labels[i - 1], *b = d->labels[i];
            by_str &= strcmp(a, b) < 0;
            by_num &= strtoll(a, NULL, 10) < strtoll(b, NULL, 10);
        }
        if (!by_str && !by_num) __builtin_trap();
    } else if (d->n_labels != 0) {
        __builtin_trap();
    }
    check_examples(d, d->train, d->n_train, p.max_len, n_vocab);
    check_examples(d, d->val, d->n_val, p.max_len, n_vocab);
    onc_enc_data_free(d);
    return 0;
}
