/* test_enc_data.c — encoder training data (oncolm/enc_data.h) on the
 * tokenizer of a small bert model made here (WordPiece, [CLS] ... [SEP]):
 *   - classify rows: ids are the tokenizer's, labels sorted (strings) or
 *     numeric (integers), fixed label names, an unknown label an error
 *     naming file:line;
 *   - pairs: query/positive/negative and the pos/neg spellings, negatives
 *     as a string or an array;
 *   - texts: JSONL with titles, plain text with documents between blank
 *     lines;
 *   - splits: train / val / validation / dev, test skipped and counted; the
 *     val_fraction draw when the file names no validation split,
 *     reproducible;
 *   - truncation to max_len keeping [SEP], counted;
 *   - errors name file and line and echo nothing of the text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/enc_data.h"
#include "oncolm/gguf.h"
#include "oncolm/model_create.h"
#include "test_util.h"

static onc_tokenizer *tok;
static onc_gguf *gguf;
static int32_t CLS, SEP;

static int setup(void **state) {
    (void)state;
    const onc_model_create_params p = tu_small_params(ONC_ARCH_BERT, 1, 32, 2, 32);
    tu_create_model("encdata_bert.gguf", &p);
    tok = tu_open_tokenizer(tu_tmp_path("encdata_bert.gguf"), &gguf);
    CLS = onc_tokenizer_special(tok, ONC_SPECIAL_BOS);
    SEP = onc_tokenizer_special(tok, ONC_SPECIAL_SEP);
    if (CLS < 0 || SEP < 0) fail_msg("no [CLS]/[SEP]");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_close_tokenizer(tok, gguf);
    return 0;
}

/* The example's sequence equals the tokenizer's ids for text. */
static void assert_seq(const onc_token_seq *s, const char *text) {
    int32_t *ids = NULL;
    size_t n = 0;
    onc_error err = {0};
    if (onc_tokenize(tok, text, strlen(text), NULL, &ids, &n, &err) != ONC_OK) fail_msg("%s", err.msg);
    if ((size_t)s->n != n) fail_msg("\"%s\": %d tokens, expected %zu", text, (int)s->n, n);
    assert_memory_equal(s->ids, ids, n * sizeof *ids);
    assert_int_equal(s->ids[0], CLS);
    assert_int_equal(s->ids[n - 1], SEP);
    free(ids);
}

static onc_enc_data_params params(onc_enc_data_kind kind) {
    onc_enc_data_params p = onc_enc_data_default_params(kind);
    p.val_fraction = 0;
    return p;
}

static onc_enc_dataset *load_ok(const char *path, const onc_enc_data_params *p) {
    onc_error err = {0};
    onc_enc_dataset *d = onc_enc_data_load(path, tok, p, &err);
    if (!d) fail_msg("%s", err.msg);
    return d;
}

/* Loading fails with a message holding every one of the given pieces
 * (NULL-terminated) and none of the secret. */
static void expect_error(const char *name, const char *content, const onc_enc_data_params *p, const char *secret,
                         ...) {
    const char *path = tu_write_file(name, content);
    onc_error err = {0};
    onc_enc_dataset *d = onc_enc_data_load(path, tok, p, &err);
    if (d) fail_msg("%s: loaded, expected an error", name);
    assert_int_not_equal(err.code, ONC_OK);
    va_list ap;
    va_start(ap, secret);
    for (const char *piece; (piece = va_arg(ap, const char *));)
        if (!strstr(err.msg, piece)) fail_msg("%s: message \"%s\" lacks \"%s\"", name, err.msg, piece);
    va_end(ap);
    if (secret && strstr(err.msg, secret)) fail_msg("%s: message \"%s\" shows the text", name, err.msg);
}

static void test_classify(void **s) {
    (void)s;
    const char *path =
        tu_write_file("ed_cls.jsonl", "{\"text\": \"CT shows a new liver lesion.\", \"label\": \"pre\"}\n"
                                   "\n"
                                   "{\"text\": \"No evidence of disease.\", \"label\": \"post\"}\n"
                                   "{\"text\": \"Follow-up.\", \"label\": \"none\", \"split\": \"train\"}\n"
                                   "{\"text\": \"Stable disease.\", \"label\": \"post\"}\n");
    onc_enc_data_params p = params(ONC_ENC_DATA_CLASSIFY);
    onc_enc_dataset *d = load_ok(path, &p);
    assert_int_equal(d->kind, ONC_ENC_DATA_CLASSIFY);
    assert_int_equal(d->n_train, 4);
    assert_int_equal(d->n_val, 0);
    assert_int_equal(d->n_labels, 3);
    assert_string_equal(d->labels[0], "none");
    assert_string_equal(d->labels[1], "post");
    assert_string_equal(d->labels[2], "pre");
    const int32_t want_label[4] = {2, 1, 0, 1};
    const int64_t want_line[4] = {1, 3, 4, 5};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(d->train[i].label, want_label[i]);
        assert_int_equal(d->train[i].line, want_line[i]);
        assert_int_equal(d->train[i].n_negatives, 0);
        assert_int_equal(d->train[i].positive.n, 0);
    }
    assert_seq(&d->train[0].text, "CT shows a new liver lesion.");
    assert_seq(&d->train[3].text, "Stable disease.");
    assert_int_equal(d->n_truncated, 0);
    onc_enc_data_free(d);

    /* integer labels: numeric order */
    path = tu_write_file("ed_int.jsonl", "{\"text\": \"a\", \"label\": 10}\n{\"text\": \"b\", \"label\": 2}\n"
                                      "{\"text\": \"c\", \"label\": 0}\n{\"text\": \"d\", \"label\": 2}\n");
    d = load_ok(path, &p);
    assert_int_equal(d->n_labels, 3);
    assert_string_equal(d->labels[0], "0");
    assert_string_equal(d->labels[1], "2");
    assert_string_equal(d->labels[2], "10");
    assert_int_equal(d->train[0].label, 2);
    assert_int_equal(d->train[1].label, 1);
    assert_int_equal(d->train[2].label, 0);
    onc_enc_data_free(d);

    /* fixed names: their order, integers matched by their decimal text */
    static const char *const names[] = {"10", "2", "0", "7"};
    p.labels = names;
    p.n_labels = 4;
    d = load_ok(path, &p);
    assert_int_equal(d->n_labels, 4);
    assert_string_equal(d->labels[3], "7");
    assert_int_equal(d->train[0].label, 0);
    assert_int_equal(d->train[1].label, 1);
    assert_int_equal(d->train[2].label, 2);
    onc_enc_data_free(d);
    static const char *const names2[] = {"pre", "post"};
    p.labels = names2;
    p.n_labels = 2;
    expect_error("ed_unknown.jsonl",
                 "{\"text\": \"x\", \"label\": \"pre\"}\n{\"text\": \"y\", \"label\": \"post\"}\n"
                 "{\"text\": \"z\", \"label\": \"none\"}\n",
                 &p, NULL, "ed_unknown.jsonl:3:", "\"none\"", (const char *)NULL);
    p.labels = NULL;
    p.n_labels = 0;
    expect_error("ed_mixed.jsonl", "{\"text\": \"x\", \"label\": \"pre\"}\n{\"text\": \"y\", \"label\": 1}\n", &p, NULL,
                 "ed_mixed.jsonl:2:", (const char *)NULL);
    expect_error("ed_boollabel.jsonl", "{\"text\": \"x\", \"label\": true}\n", &p, NULL, "ed_boollabel.jsonl:1:",
                 "label", (const char *)NULL);
    expect_error("ed_nolabel.jsonl", "{\"text\": \"x\", \"label\": \"a\"}\n{\"text\": \"x\"}\n", &p, NULL,
                 "ed_nolabel.jsonl:2:", "label", (const char *)NULL);
    expect_error("ed_emptylabel.jsonl", "{\"text\": \"x\", \"label\": \"\"}\n", &p, NULL, "ed_emptylabel.jsonl:1:",
                 "empty", (const char *)NULL);
}

static void test_pairs(void **s) {
    (void)s;
    const char *path =
        tu_write_file("ed_pairs.jsonl",
                   "{\"query\": \"EGFR exon 19\", \"positive\": \"osimertinib first line\"}\n"
                   "{\"query\": \"HER2 positive\", \"pos\": \"trastuzumab\", \"neg\": \"tamoxifen\"}\n"
                   "{\"query\": \"BRCA\", \"positive\": \"olaparib\", \"negative\": [\"imatinib\", \"rituximab\"]}\n"
                   "{\"query\": \"ALK\", \"positive\": \"alectinib\", \"negative\": []}\n");
    onc_enc_data_params p = params(ONC_ENC_DATA_PAIRS);
    onc_enc_dataset *d = load_ok(path, &p);
    assert_int_equal(d->kind, ONC_ENC_DATA_PAIRS);
    assert_int_equal(d->n_train, 4);
    assert_int_equal(d->n_labels, 0);
    assert_seq(&d->train[0].text, "EGFR exon 19");
    assert_seq(&d->train[0].positive, "osimertinib first line");
    assert_int_equal(d->train[0].n_negatives, 0);
    assert_int_equal(d->train[0].label, -1);
    assert_seq(&d->train[1].positive, "trastuzumab");
    assert_int_equal(d->train[1].n_negatives, 1);
    assert_seq(&d->train[1].negatives[0], "tamoxifen");
    assert_int_equal(d->train[2].n_negatives, 2);
    assert_seq(&d->train[2].negatives[0], "imatinib");
    assert_seq(&d->train[2].negatives[1], "rituximab");
    assert_int_equal(d->train[3].n_negatives, 0);
    onc_enc_data_free(d);
    expect_error("ed_nopos.jsonl", "{\"query\": \"q\", \"negative\": \"n\"}\n", &p, NULL, "ed_nopos.jsonl:1:",
                 "positive", (const char *)NULL);
    expect_error(
        "ed_badneg.jsonl",
        "{\"query\": \"q\", \"positive\": \"p\"}\n{\"query\": \"q\", \"positive\": \"p\", \"negative\": [\"n\", 3]}\n",
        &p, NULL, "ed_badneg.jsonl:2:", "negative 2", (const char *)NULL);
    expect_error("ed_emptyq.jsonl", "{\"query\": \"\", \"positive\": \"p\"}\n", &p, NULL, "ed_emptyq.jsonl:1:",
                 "query", (const char *)NULL);
}

static void test_texts(void **s) {
    (void)s;
    const char *path = tu_write_file("ed_texts.jsonl", "{\"text\": \"Adjuvant chemotherapy.\"}\n"
                                                   "{\"title\": \"Staging\", \"text\": \"pT2 N1 M0.\"}\n"
                                                   "{\"title\": \"\", \"text\": \"No title.\"}\n");
    onc_enc_data_params p = params(ONC_ENC_DATA_TEXTS);
    onc_enc_dataset *d = load_ok(path, &p);
    assert_int_equal(d->kind, ONC_ENC_DATA_TEXTS);
    assert_int_equal(d->n_train, 3);
    assert_seq(&d->train[0].text, "Adjuvant chemotherapy.");
    assert_seq(&d->train[1].text, "Staging pT2 N1 M0.");
    assert_seq(&d->train[2].text, "No title.");
    assert_int_equal(d->train[1].label, -1);
    onc_enc_data_free(d);

    /* plain text: documents between blank lines (whitespace-only lines count as blank) */
    path = tu_write_file("ed_plain.txt", "\n\nFirst document,\nsecond line.\n\n  \t\nSecond document.\n\n\n"
                                      "Third\r\ndocument\n \nFourth, no newline at the end");
    d = load_ok(path, &p);
    assert_int_equal(d->n_train, 4);
    assert_int_equal(d->train[0].line, 3);
    assert_int_equal(d->train[1].line, 7);
    assert_int_equal(d->train[2].line, 10);
    assert_int_equal(d->train[3].line, 13);
    assert_seq(&d->train[0].text, "First document,\nsecond line.");
    assert_seq(&d->train[1].text, "Second document.");
    assert_seq(&d->train[2].text, "Third\r\ndocument");
    assert_seq(&d->train[3].text, "Fourth, no newline at the end");
    onc_enc_data_free(d);
    expect_error("ed_plain_bad.txt", "Fine.\n\nAlso fine\nbut \xC3\x28 here\n", &p, NULL,
                 "ed_plain_bad.txt:4:", "UTF-8", (const char *)NULL);
    expect_error("ed_plain_empty.txt", "\n \n\n", &p, NULL, "ed_plain_empty.txt", "no training", (const char *)NULL);
    expect_error("ed_notext.jsonl", "{\"title\": \"T\"}\n", &p, NULL, "ed_notext.jsonl:1:", "\"text\"",
                 (const char *)NULL);
    expect_error("ed_emptytext.jsonl", "{\"text\": \"ok\"}\n{\"title\": \"\", \"text\": \"\"}\n", &p, NULL,
                 "ed_emptytext.jsonl:2:", "empty", (const char *)NULL);
}

static void test_splits(void **s) {
    (void)s;
    const char *path = tu_write_file("ed_split.jsonl", "{\"text\": \"a\", \"label\": \"x\", \"split\": \"train\"}\n"
                                                   "{\"text\": \"b\", \"label\": \"y\", \"split\": \"val\"}\n"
                                                   "{\"text\": \"c\", \"label\": \"x\", \"split\": \"validation\"}\n"
                                                   "{\"text\": \"d\", \"label\": \"y\", \"split\": \"dev\"}\n"
                                                   "{\"text\": \"e\", \"label\": \"z\", \"split\": \"test\"}\n"
                                                   "{\"text\": \"f\", \"label\": \"x\", \"split\": \"test\"}\n"
                                                   "{\"text\": \"g\", \"label\": \"y\"}\n"
                                                   "{\"text\": \"h\", \"label\": \"x\"}\n");
    onc_enc_data_params p = params(ONC_ENC_DATA_CLASSIFY);
    p.val_fraction = 0.9; /* ignored: the file names a validation split */
    onc_enc_dataset *d = load_ok(path, &p);
    assert_int_equal(d->n_train, 3);
    assert_int_equal(d->n_val, 3);
    assert_int_equal(d->n_test_skipped, 2);
    assert_int_equal(d->n_labels, 2); /* "z" is only in a test row */
    assert_int_equal(d->train[0].line, 1);
    assert_int_equal(d->train[1].line, 7);
    assert_int_equal(d->train[2].line, 8);
    assert_int_equal(d->val[0].line, 2);
    assert_int_equal(d->val[1].line, 3);
    assert_int_equal(d->val[2].line, 4);
    onc_enc_data_free(d);
    expect_error("ed_badsplit.jsonl",
                 "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"a\", \"label\": \"x\", \"split\": \"holdout\"}\n",
                 &p, NULL, "ed_badsplit.jsonl:2:", "split", (const char *)NULL);
    expect_error("ed_onlyval.jsonl", "{\"text\": \"a\", \"label\": \"x\", \"split\": \"val\"}\n", &p, NULL,
                 "ed_onlyval.jsonl", "no training", (const char *)NULL);
}

static void test_val_fraction(void **s) {
    (void)s;
    enum { N = 400 };
    static char buf[N * 64];
    size_t k = 0;
    for (int i = 0; i < N; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "{\"text\": \"report %d\"%s}\n", i,
                              i % 4 == 0 ? ", \"split\": \"train\"" : "");
    const char *path = tu_write_file("ed_frac.jsonl", buf);
    onc_enc_data_params p = params(ONC_ENC_DATA_TEXTS);
    p.val_fraction = 0.25;
    onc_enc_dataset *a = load_ok(path, &p), *b = load_ok(path, &p);
    assert_int_equal(a->n_train + a->n_val, N);
    print_message("val_fraction 0.25 of %d unsplit rows: %lld validation\n", 3 * N / 4, (long long)a->n_val);
    assert_true(a->n_val > 45 && a->n_val < 105); /* 75 expected, sd 7.5 */
    for (int64_t i = 0; i < a->n_val; i++) assert_true(a->val[i].line % 4 != 1); /* "train" rows stay */
    assert_int_equal(b->n_val, a->n_val);
    for (int64_t i = 0; i < a->n_val; i++) assert_int_equal(a->val[i].line, b->val[i].line);
    onc_enc_data_free(b);
    p.seed = 43;
    b = load_ok(path, &p);
    bool differ = b->n_val != a->n_val;
    for (int64_t i = 0; !differ && i < a->n_val; i++) differ = a->val[i].line != b->val[i].line;
    assert_true(differ);
    onc_enc_data_free(a);
    onc_enc_data_free(b);
}

static void test_truncation(void **s) {
    (void)s;
    const char *long_text = "The patient presents with metastatic adenocarcinoma of the colon with liver lesions.";
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"query\": \"%s\", \"positive\": \"short\", \"negative\": [\"%s\", \"also short\"]}\n", long_text,
             long_text);
    const char *path = tu_write_file("ed_trunc.jsonl", buf);
    onc_enc_data_params p = params(ONC_ENC_DATA_PAIRS);
    p.max_len = 8;
    onc_enc_dataset *d = load_ok(path, &p);
    assert_int_equal(d->n_truncated, 2);
    int32_t *ids = NULL;
    size_t n = 0;
    onc_error err = {0};
    assert_int_equal(onc_tokenize(tok, long_text, strlen(long_text), NULL, &ids, &n, &err), ONC_OK);
    assert_true(n > 8);
    const onc_token_seq *q = &d->train[0].text;
    assert_int_equal(q->n, 8);
    assert_memory_equal(q->ids, ids, 7 * sizeof *ids); /* [CLS] and the first six tokens */
    assert_int_equal(q->ids[7], SEP);
    assert_int_equal(d->train[0].negatives[0].n, 8);
    assert_seq(&d->train[0].positive, "short");
    assert_seq(&d->train[0].negatives[1], "also short");
    free(ids);
    onc_enc_data_free(d);
    p.max_len = 1;
    onc_enc_dataset *bad = onc_enc_data_load(path, tok, &p, &err);
    assert_null(bad);
    assert_int_equal(err.code, ONC_ERR_INVALID);
}

static void test_errors(void **s) {
    (void)s;
    onc_enc_data_params p = params(ONC_ENC_DATA_CLASSIFY);
    expect_error("ed_badjson.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"SECRETWORD\", oops}\n", &p,
                 "oops", "ed_badjson.jsonl:2:", "JSON", (const char *)NULL);
    expect_error("ed_badjson2.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n\n{\"text\": SECRETWORD}\n", &p,
                 "SECRETWORD", "ed_badjson2.jsonl:3:", "JSON", (const char *)NULL);
    expect_error("ed_utf8.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": \"x\"}\n"
                                  "{\"text\": \"caf\xE9\", \"label\": \"x\"}\n",
                 &p, NULL, "ed_utf8.jsonl:3:", "UTF-8", (const char *)NULL);
    expect_error("ed_array.jsonl", "[1, 2]\n", &p, NULL, "ed_array.jsonl:1:", "object", (const char *)NULL);
    expect_error("ed_notext2.jsonl", "{\"txt\": \"a\", \"label\": \"x\"}\n", &p, NULL,
                 "ed_notext2.jsonl:1:", "\"text\"", (const char *)NULL);
    expect_error("ed_numtext.jsonl", "{\"text\": 5, \"label\": \"x\"}\n", &p, NULL, "ed_numtext.jsonl:1:", "string",
                 (const char *)NULL);
    expect_error("ed_empty.jsonl", "", &p, NULL, "ed_empty.jsonl", "no training", (const char *)NULL);
    expect_error("ed_blank.jsonl", "\n\n  \n", &p, NULL, "ed_blank.jsonl", "no training", (const char *)NULL);
    onc_error err = {0};
    assert_null(onc_enc_data_load(tu_tmp_path("ed_does_not_exist.jsonl"), tok, &p, &err));
    assert_int_equal(err.code, ONC_ERR_IO);
    assert_non_null(strstr(err.msg, "ed_does_not_exist.jsonl"));
    onc_enc_data_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),     cmocka_unit_test(test_pairs),      cmocka_unit_test(test_texts),
        cmocka_unit_test(test_splits),       cmocka_unit_test(test_val_fraction), cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
