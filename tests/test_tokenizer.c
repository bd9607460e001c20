/* test_tokenizer.c — the tokenizers on small hand-built vocabularies, with
 * expected ids worked out by hand from llama.cpp's algorithms: SPM merge
 * order and byte fallback, BPE pre-tokenizer splits (gpt-2, llama3, qwen2,
 * default) and merge ranks, WordPiece normalisation and greedy matching;
 * special tokens, add_special, invalid UTF-8, round trips, the spec <-> GGUF
 * metadata round trip and a 1 MB input (time printed, not asserted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "oncolm/gguf.h"
#include "oncolm/tokenizer.h"
#include "oncolm/vocab.h"
#include "tokenizer/tok_impl.h"
#include "tokenizer/unicode.h"

// --- helpers ------------------------------------------------------------------------

#define CAP 1024
#define SP "\xE2\x96\x81" /* U+2581 */

static onc_vocab_spec *spec_new(onc_vocab_kind kind, const char *pre) {
    onc_vocab_spec *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->kind = kind;
    s->pre = pre ? strdup(pre) : NULL;
    s->tokens = calloc(CAP, sizeof *s->tokens);
    s->scores = calloc(CAP, sizeof *s->scores);
    s->token_types = calloc(CAP, sizeof *s->token_types);
    s->merges = calloc(CAP, sizeof *s->merges);
    s->bos_id = s->eos_id = s->unk_id = s->sep_id = s->pad_id = s->mask_id = ONC_TOKEN_NONE;
    return s;
}

static int32_t add_tok(onc_vocab_spec *s, const char *text, float score, onc_token_type type) {
    assert_true(s->n_tokens < CAP);
    s->tokens[s->n_tokens] = strdup(text);
    s->scores[s->n_tokens] = score;
    s->token_types[s->n_tokens] = type;
    return s->n_tokens++;
}

static void add_merge(onc_vocab_spec *s, const char *m) { s->merges[s->n_merges++] = strdup(m); }

static onc_tokenizer *build(const onc_vocab_spec *s) {
    onc_error err = {0};
    onc_tokenizer *t = onc_tokenizer_from_spec(s, &err);
    if (!t) fail_msg("tokenizer: %s", err.msg);
    return t;
}

/* Tokenize and compare with the expected ids (terminated by -1). */
static void expect_ids(const onc_tokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
                       const int32_t *exp) {
    onc_tokenize_params p = {add_special, parse_special, ONC_UTF8_ERROR};
    int32_t *ids;
    size_t n;
    onc_error err = {0};
    if (onc_tokenize(t, text, len, &p, &ids, &n, &err) != ONC_OK) fail_msg("tokenize: %s", err.msg);
    size_t ne = 0;
    while (exp[ne] >= 0) ne++;
    bool same = n == ne;
    for (size_t i = 0; same && i < n; i++) same = ids[i] == exp[i];
    if (!same) {
        fprintf(stderr, "text '%.*s'\n  expected:", (int)len, text);
        for (size_t i = 0; i < ne; i++) fprintf(stderr, " %d", exp[i]);
        fprintf(stderr, "\n  got:     ");
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
    }
    free(ids);
    assert_true(same);
}
#define EXPECT(t, text, add, parse, ...)                                                                               \
    do {                                                                                                               \
        const int32_t exp_[] = {__VA_ARGS__, -1};                                                                      \
        expect_ids(t, text, strlen(text), add, parse, exp_);                                                          \
    } while (0)
#define EXPECT_NONE(t, text, add, parse)                                                                               \
    do {                                                                                                               \
        const int32_t exp_[] = {-1};                                                                                   \
        expect_ids(t, text, strlen(text), add, parse, exp_);                                                          \
    } while (0)

static char *detok(const onc_tokenizer *t, const int32_t *ids, size_t n, bool remove_special, bool unparse,
                   bool no_clean) {
    onc_detokenize_params p = {remove_special, unparse, no_clean};
    char *s;
    size_t len;
    onc_error err = {0};
    if (onc_detokenize(t, ids, n, &p, &s, &len, &err) != ONC_OK) fail_msg("detokenize: %s", err.msg);
    assert_int_equal(strlen(s), len);
    return s;
}

static void round_trip(const onc_tokenizer *t, const char *text, bool no_clean) {
    onc_tokenize_params p = {false, false, ONC_UTF8_ERROR};
    int32_t *ids;
    size_t n;
    onc_error err = {0};
    assert_int_equal(onc_tokenize(t, text, strlen(text), &p, &ids, &n, &err), ONC_OK);
    char *back = detok(t, ids, n, false, false, no_clean);
    if (strcmp(back, text) != 0) fail_msg("round trip of '%s' gave '%s'", text, back);
    free(back);
    free(ids);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char *clinical_text(size_t size) {
    static const char *para =
        "The patient, a 64-year-old woman with stage IIIA non-small-cell lung carcinoma (adenocarcinoma, EGFR "
        "exon 19 deletion), received 4 cycles of cisplatin/pemetrexed; CT on 2023-03-14 showed a partial "
        "response (RECIST 1.1: -42%). Tumour markers: CEA 12.5 ng/mL \xE2\x86\x92 3.1 ng/mL. Plan: osimertinib "
        "80 mg daily.\n\n";
    char *b = malloc(size + 1);
    assert_non_null(b);
    size_t o = 0, l = strlen(para);
    while (o < size) {
        size_t k = o + l > size ? size - o : l;
        memcpy(b + o, para, k);
        o += k;
    }
    /* do not end inside a UTF-8 sequence */
    while (o > 0 && ((unsigned char)b[o - 1] & 0xC0) == 0x80) o--;
    if (o > 0 && (unsigned char)b[o - 1] >= 0xC0) o--;
    b[o] = '\0';
    return b;
}

static void time_1mb(const onc_tokenizer *t, const char *name) {
    size_t size = 1 << 20;
    char *text = clinical_text(size);
    onc_tokenize_params p = onc_tokenize_default_params();
    int32_t *ids;
    size_t n;
    onc_error err = {0};
    double t0 = now_s();
    assert_int_equal(onc_tokenize(t, text, strlen(text), &p, &ids, &n, &err), ONC_OK);
    double dt = now_s() - t0;
    printf("# %s: 1 MB -> %zu tokens in %.3f s\n", name, n, dt);
    assert_true(n > 1000);
    free(ids);
    free(text);
}

static const char *k_round_trip_texts[] = {
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n\n",
    " \n \t ",
    "Hello world",
    " Hello  World!",
    "hello,world",
    "I'm sure you'll be fine; it's 9:30.",
    "h\xC3\xA9llo w\xC3\xB6rld",
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",
    "emoji \xF0\x9F\xA6\x99 ok \xF0\x9F\x98\xB6\xE2\x80\x8D\xF0\x9F\x8C\xAB\xEF\xB8\x8F",
    "x\r\ny",
    "3 33 333 3333 33333 3.14 1,000,000",
    "   leading and trailing   ",
    "tabs\tand\tnewlines\nmixed \n\n end",
    "\xD0\x9B\xD0\xB5\xD0\xBD\xD0\xB8\xD0\xBD",
    "a\0b", /* strlen stops at the NUL: tested as "a" */
};

// --- unicode helpers ----------------------------------------------------------------------

static void test_unicode(void **state) {
    (void)state;
    assert_int_equal(tok_cpt_nfd_first(0xC4), 'A');     /* Ä */
    assert_int_equal(tok_cpt_nfd_first(0x1E69), 's');   /* ṩ: two marks */
    assert_int_equal(tok_cpt_nfd_first(0xD55C), 0x1112); /* 한 -> leading jamo, as llama.cpp */
    assert_int_equal(tok_cpt_nfd_first('a'), 'a');
    assert_int_equal(tok_cpt_tolower(0xC4), 0xE4);
    assert_int_equal(tok_cpt_tolower('Q'), 'q');
    assert_true(tok_cpt_flags(0x3000) & TOK_CPT_WHITESPACE);
    assert_true(tok_cpt_flags(0x85) & TOK_CPT_WHITESPACE);
    assert_false(tok_cpt_flags(0x180E) & TOK_CPT_WHITESPACE);
    assert_false(tok_cpt_flags(0x200B) & TOK_CPT_WHITESPACE);
    assert_true(tok_cpt_flags(0x200D) & TOK_CPT_CONTROL);
    assert_true(tok_cpt_flags(0x4E2D) & TOK_CPT_LETTER);
    assert_true(tok_cpt_flags(0x0663) & TOK_CPT_NUMBER);
    assert_true(tok_cpt_flags(0x00BF) & TOK_CPT_PUNCTUATION);
    assert_true(tok_cpt_flags('$') & TOK_CPT_SYMBOL);
    assert_int_equal(tok_byte_to_cpt(' '), 0x120);
    assert_int_equal(tok_byte_to_cpt('\n'), 0x10A);
    assert_int_equal(tok_byte_to_cpt('A'), 'A');
    for (int b = 0; b < 256; b++) assert_int_equal(tok_cpt_to_byte(tok_byte_to_cpt((uint8_t)b)), b);
    for (int b = 0; b < 256; b++)
        for (int c = b + 1; c < 256; c++) assert_int_not_equal(tok_byte_to_cpt((uint8_t)b), tok_byte_to_cpt((uint8_t)c));

    static const struct {
        const char *in, *out;
        size_t bad;
    } cases[] = {
        {"abc", "abc", TOK_UTF8_VALID},
        {"a\xE2\x96" "b", "a\xEF\xBF\xBD" "b", 1},              /* truncated: one U+FFFD */
        {"\xF0\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 0}, /* overlong lead: one each */
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 0}, /* surrogate */
        {"x\xFF", "x\xEF\xBF\xBD", 1},
        {"\xC3\xA9\xC3", "\xC3\xA9\xEF\xBF\xBD", 2},
        {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 0}, /* > U+10FFFF */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].in), on;
        assert_int_equal(tok_utf8_check(cases[i].in, n), cases[i].bad);
        char *o = tok_utf8_sanitize(cases[i].in, n, &on);
        assert_non_null(o);
        assert_string_equal(o, cases[i].out);
        free(o);
    }
}

// --- SPM ---------------------------------------------------------------------------------

enum { SPM_SP = 259, SPM_H, SPM_E, SPM_L, SPM_O, SPM_LL, SPM_HE, SPM_HELL, SPM_HELLO, SPM_SPHELLO, SPM_LO, SPM_UD };
#define SPM_BYTE(b) (3 + (b))

static onc_vocab_spec *spm_spec(void) {
    onc_vocab_spec *s = spec_new(ONC_VOCAB_SPM, NULL);
    add_tok(s, "<unk>", 0, ONC_TOKEN_UNKNOWN);
    add_tok(s, "<s>", 0, ONC_TOKEN_CONTROL);
    add_tok(s, "</s>", 0, ONC_TOKEN_CONTROL);
    for (int b = 0; b < 256; b++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        add_tok(s, buf, 0, ONC_TOKEN_BYTE);
    }
    assert_int_equal(add_tok(s, SP, -1, ONC_TOKEN_NORMAL), SPM_SP);
    add_tok(s, "h", -2, ONC_TOKEN_NORMAL);
    add_tok(s, "e", -2, ONC_TOKEN_NORMAL);
    add_tok(s, "l", -2, ONC_TOKEN_NORMAL);
    add_tok(s, "o", -2, ONC_TOKEN_NORMAL);
    add_tok(s, "ll", -3, ONC_TOKEN_NORMAL);
    add_tok(s, "he", -4, ONC_TOKEN_NORMAL);
    add_tok(s, "hell", -5, ONC_TOKEN_NORMAL);
    add_tok(s, "hello", -6, ONC_TOKEN_NORMAL);
    add_tok(s, SP "hello", -7, ONC_TOKEN_NORMAL);
    add_tok(s, "lo", -1.5f, ONC_TOKEN_NORMAL);
    assert_int_equal(add_tok(s, "<ud>", 0, ONC_TOKEN_USER_DEFINED), SPM_UD);
    s->bos_id = 1, s->eos_id = 2, s->unk_id = 0;
    s->add_bos = true, s->add_space_prefix = true;
    return s;
}

static void test_spm(void **state) {
    (void)state;
    onc_vocab_spec *s = spm_spec();
    onc_tokenizer *t = build(s);
    assert_int_equal(onc_tokenizer_kind(t), ONC_VOCAB_SPM);
    assert_int_equal(onc_tokenizer_n_tokens(t), SPM_UD + 1);
    assert_int_equal(onc_tokenizer_special(t, ONC_SPECIAL_BOS), 1);
    assert_int_equal(onc_tokenizer_special(t, ONC_SPECIAL_EOS), 2);
    assert_true(onc_token_is_eog(t, 2));
    assert_false(onc_token_is_eog(t, 1));
    assert_int_equal(onc_token_find(t, "hell", 4), SPM_HELL);
    assert_int_equal(onc_token_get_type(t, SPM_BYTE(0x41)), ONC_TOKEN_BYTE);
    assert_true(onc_token_get_score(t, SPM_LO) == -1.5f);

    /* "▁hello": "lo" (-1.5) beats "ll" (-3), which is then stale; "he" (-4) next */
    EXPECT(t, "hello", false, false, SPM_SP, SPM_HE, SPM_L, SPM_LO);
    /* ties: leftmost pair first */
    EXPECT(t, "llll", false, false, SPM_SP, SPM_LL, SPM_LL);
    /* byte fallback for characters that are not tokens */
    EXPECT(t, "h\xC3\xA9", false, false, SPM_SP, SPM_H, SPM_BYTE(0xC3), SPM_BYTE(0xA9));
    EXPECT(t, " ", false, false, SPM_SP, SPM_SP);
    EXPECT(t, "\n", false, false, SPM_SP, SPM_BYTE(0x0A));
    EXPECT_NONE(t, "", false, false);
    EXPECT(t, "", true, false, 1);
    EXPECT(t, "hello", true, false, 1, SPM_SP, SPM_HE, SPM_L, SPM_LO);
    /* special text: parsed only on request; a space prefix follows a special token */
    EXPECT(t, "<s>hello", false, true, 1, SPM_SP, SPM_HE, SPM_L, SPM_LO);
    EXPECT(t, "<s>hello", false, false, SPM_SP, SPM_BYTE('<'), SPM_BYTE('s'), SPM_BYTE('>'), SPM_HE, SPM_L, SPM_LO);
    EXPECT(t, "<s>hello</s>", true, true, 1, 1, SPM_SP, SPM_HE, SPM_L, SPM_LO, 2);
    /* user-defined tokens are split out even without parse_special */
    EXPECT(t, "a<ud>b", false, false, SPM_SP, SPM_BYTE('a'), SPM_UD, SPM_SP, SPM_BYTE('b'));

    /* pieces and detokenize */
    const char *pc;
    size_t pl = onc_token_to_piece(t, SPM_SPHELLO, false, &pc);
    assert_int_equal(pl, 6);
    assert_memory_equal(pc, " hello", 6);
    assert_int_equal(onc_token_to_piece(t, SPM_BYTE(0x0A), false, &pc), 1);
    assert_int_equal(pc[0], '\n');
    assert_int_equal(onc_token_to_piece(t, 1, false, &pc), 0);
    assert_int_equal(onc_token_to_piece(t, 1, true, &pc), 3);
    assert_int_equal(onc_token_to_piece(t, 99999, true, &pc), 0);
    const int32_t ids[] = {SPM_SP, SPM_HE, SPM_L, SPM_LO};
    char *txt = detok(t, ids, 4, false, false, false);
    assert_string_equal(txt, "hello");
    free(txt);
    const int32_t ids2[] = {1, SPM_SPHELLO, 2};
    txt = detok(t, ids2, 3, false, true, false);
    assert_string_equal(txt, "<s> hello</s>");
    free(txt);
    const int32_t bad[] = {SPM_SP, 5000};
    char *out;
    size_t outn;
    onc_error err = {0};
    assert_int_equal(onc_detokenize(t, bad, 2, NULL, &out, &outn, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "5000"));

    for (size_t i = 0; i < sizeof k_round_trip_texts / sizeof *k_round_trip_texts; i++)
        round_trip(t, k_round_trip_texts[i], false);
    time_1mb(t, "spm (toy vocabulary)");
    onc_tokenizer_free(t);
    onc_vocab_spec_free(s);
}

// --- BPE ---------------------------------------------------------------------------------

enum { BPE_HE = 256, BPE_LL, BPE_HELL, BPE_HELLO, BPE_GWORLD, BPE_EOT, BPE_UD };

/* The 256 byte symbols (id = byte value) plus a few merged tokens. */
static onc_vocab_spec *bpe_spec(const char *pre) {
    onc_vocab_spec *s = spec_new(ONC_VOCAB_BPE, pre);
    for (int b = 0; b < 256; b++) {
        char u[3] = {0};
        tok_byte_to_utf8((uint8_t)b, u);
        add_tok(s, u, 0, ONC_TOKEN_NORMAL);
    }
    add_tok(s, "he", 0, ONC_TOKEN_NORMAL);
    add_tok(s, "ll", 0, ONC_TOKEN_NORMAL);
    add_tok(s, "hell", 0, ONC_TOKEN_NORMAL);
    add_tok(s, "hello", 0, ONC_TOKEN_NORMAL);
    add_tok(s, "\xC4\xA0world", 0, ONC_TOKEN_NORMAL); /* "Ġworld": no merges lead there */
    add_tok(s, "<|endoftext|>", 0, ONC_TOKEN_NORMAL);  /* forced to CONTROL (EOG by text) */
    add_tok(s, "<ud>", 0, ONC_TOKEN_USER_DEFINED);
    add_merge(s, "l l");
    add_merge(s, "h e");
    add_merge(s, "he ll");
    add_merge(s, "hell o");
    add_merge(s, "o o"); /* "oo" is no token: falls back to the bytes */
    s->bos_id = s->eos_id = BPE_EOT;
    return s;
}

static void test_bpe_merges(void **state) {
    (void)state;
    onc_vocab_spec *s = bpe_spec("gpt-2");
    onc_tokenizer *t = build(s);
    assert_string_equal(onc_tokenizer_pre(t), "gpt-2");
    assert_true(onc_token_get_attrs(t, BPE_EOT) & ONC_TOKEN_ATTR_CONTROL);
    assert_true(onc_token_is_eog(t, BPE_EOT));
    assert_int_equal(onc_tokenizer_special(t, ONC_SPECIAL_EOT), BPE_EOT);

    EXPECT(t, "hello", false, false, BPE_HELLO);
    EXPECT(t, "lll", false, false, BPE_LL, 'l');
    EXPECT(t, "hellhe", false, false, BPE_HELL, BPE_HE);
    EXPECT(t, "oo", false, false, 'o', 'o');
    EXPECT(t, " world", false, false, ' ', 'w', 'o', 'r', 'l', 'd');
    EXPECT(t, "a<ud>b", false, false, 'a', BPE_UD, 'b');
    EXPECT(t, "<|endoftext|>hello", false, true, BPE_EOT, BPE_HELLO);
    EXPECT(t, "hello", true, false, BPE_HELLO); /* gpt-2: no BOS added */
    EXPECT_NONE(t, "", true, false);

    int32_t *ids;
    size_t n;
    onc_tokenize_params p = {false, false, ONC_UTF8_ERROR};
    assert_int_equal(onc_tokenize(t, "<|endoftext|>", 13, &p, &ids, &n, NULL), ONC_OK);
    assert_true(n > 1);
    for (size_t i = 0; i < n; i++) assert_int_not_equal(ids[i], BPE_EOT);
    free(ids);

    /* pieces: byte-level symbols back to bytes */
    const char *pc;
    assert_int_equal(onc_token_to_piece(t, BPE_GWORLD, false, &pc), 6);
    assert_memory_equal(pc, " world", 6);
    assert_int_equal(onc_token_to_piece(t, 0x0A, false, &pc), 1);
    assert_int_equal(pc[0], '\n');
    /* clean-up of " ," etc. unless asked not to */
    assert_int_equal(onc_tokenize(t, "a ,b 's", 7, &p, &ids, &n, NULL), ONC_OK);
    char *txt = detok(t, ids, n, false, false, false);
    assert_string_equal(txt, "a,b's");
    free(txt);
    txt = detok(t, ids, n, false, false, true);
    assert_string_equal(txt, "a ,b 's");
    free(txt);
    free(ids);

    for (size_t i = 0; i < sizeof k_round_trip_texts / sizeof *k_round_trip_texts; i++)
        round_trip(t, k_round_trip_texts[i], true);
    time_1mb(t, "bpe gpt-2 (toy vocabulary)");
    onc_tokenizer_free(t);
    onc_vocab_spec_free(s);

    /* llama3: a piece that is a token is emitted whole (ignore_merges), BOS added */
    s = bpe_spec("llama-bpe");
    s->add_bos = true;
    t = build(s);
    EXPECT(t, " world", false, false, BPE_GWORLD);
    EXPECT(t, "hello world", true, false, BPE_EOT, BPE_HELLO, BPE_GWORLD);
    time_1mb(t, "bpe llama3 (toy vocabulary)");
    onc_tokenizer_free(t);
    onc_vocab_spec_free(s);

    /* unknown pre-tokenizer: refused */
    s = bpe_spec("no-such-pre");
    onc_error err = {0};
    assert_null(onc_tokenizer_from_spec(s, &err));
    assert_int_equal(err.code, ONC_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "no-such-pre"));
    onc_vocab_spec_free(s);
}

/* Pre-tokenizer pieces of `text`, compared with a NULL-terminated list. */
static void expect_split(const onc_tokenizer *t, const char *text, const char *const *exp) {
    size_t *pieces = NULL, n = 0;
    onc_error err = {0};
    assert_int_equal(tok_bpe_pretokenize(t, text, strlen(text), &pieces, &n, &err), ONC_OK);
    size_t ne = 0;
    while (exp[ne]) ne++;
    bool same = n == ne;
    for (size_t i = 0; same && i < n; i++)
        same = pieces[2 * i + 1] == strlen(exp[i]) && memcmp(text + pieces[2 * i], exp[i], strlen(exp[i])) == 0;
    if (!same) {
        fprintf(stderr, "[%s] split of '%s':\n  expected:", onc_tokenizer_pre(t), text);
        for (size_t i = 0; i < ne; i++) fprintf(stderr, " [%s]", exp[i]);
        fprintf(stderr, "\n  got:     ");
        for (size_t i = 0; i < n; i++) fprintf(stderr, " [%.*s]", (int)pieces[2 * i + 1], text + pieces[2 * i]);
        fprintf(stderr, "\n");
    }
    free(pieces);
    assert_true(same);
}
#define SPLIT(t, text, ...)                                                                                            \
    do {                                                                                                               \
        const char *const exp_[] = {__VA_ARGS__, NULL};                                                                \
        expect_split(t, text, exp_);                                                                                   \
    } while (0)

static void test_bpe_pretokenizers(void **state) {
    (void)state;
    onc_vocab_spec *s = bpe_spec("gpt-2");
    onc_tokenizer *t = build(s);
    SPLIT(t, "I'm here's", "I", "'m", " here", "'s");
    SPLIT(t, "It'S", "It", "'", "S"); /* gpt-2 contractions are lower-case only */
    SPLIT(t, "abc  def", "abc", " ", " def");
    SPLIT(t, "x\n\ny", "x", "\n", "\n", "y");
    SPLIT(t, "a 12345 b", "a", " 12345", " b");
    SPLIT(t, "end.  ", "end", ".", "  ");
    SPLIT(t, "Jos\xC3\xA9 \xC3\xBCnd", "Jos\xC3\xA9", " \xC3\xBCnd");
    SPLIT(t, "\xE6\x88\x91\xE6\x83\xB3" "apple", "\xE6\x88\x91\xE6\x83\xB3" "apple");
    SPLIT(t, "a\xE3\x80\x80\xE3\x80\x80" "b", "a", "\xE3\x80\x80", "\xE3\x80\x80", "b"); /* U+3000 is \s */
    onc_tokenizer_free(t);
    onc_vocab_spec_free(s);

    s = bpe_spec("llama-bpe");
    t = build(s);
    SPLIT(t, "I'M HERE's", "I", "'M", " HERE", "'s");
    SPLIT(t, "12345", "123", "45");
    SPLIT(t, "a\n\n b", "a", "\n\n", " b");
    SPLIT(t, "x  \ty", "x", "  ", "\ty");
    SPLIT(t, "hi!!\n\nok", "hi", "!!\n\n", "ok");
    SPLIT(t, "\xC3\xBC" "ber 42", "\xC3\xBC" "ber", " ", "42");
    SPLIT(t, ",hello", ",hello");
    SPLIT(t, "ok  \n  x", "ok", "  \n", " ", " x");
    SPLIT(t, "trailing ", "trailing", " ");
    onc_tokenizer_free(t);
    onc_vocab_spec_free(s);

    s = bpe_spec("qwen2");
    t = build(s);
    SPLIT(t, "12345", "1", "2", "3", "4", "5");
    SPLIT(t, "I'M", "I", "'M");
    SPLIT(t, "\xD0\x9B\xD0\xB5\xD0\xBD\xD0\xB8\xD0\xBD 7", "\xD0\x9B\xD0\xB5\xD0\xBD\xD0\xB8\xD0\xBD", " ", "7");
    onc_tokenizer_free(t);
    onc_vocab_spec_free(s);

    s = bpe_spec(NULL); /* missing pre: default */
    t = build(s);
    assert_string_equal(onc_tokenizer_pre(t), "default");
    SPLIT(t, "a+b=12345 ok", "a", "+", "b", "=", "123", "45", " ok");
    onc_tokenizer_free(t);
    onc_vocab_spec_free(s);
}

// --- WPM ---------------------------------------------------------------------------------

enum { W_PAD, W_UNK, W_CLS, W_SEP, W_MASK, W_HELLO, W_WORLD, W_EXCL, W_COMMA, W_UN, W_AFF, W_ABLE, W_APFEL, W_ZHONG,
       W_A, W_APOS, W_S };

static onc_vocab_spec *wpm_spec(void) {
    onc_vocab_spec *s = spec_new(ONC_VOCAB_WPM, NULL);
    const char *texts[] = {"[PAD]",    "[UNK]",    "[CLS]",  "[SEP]", "[MASK]", SP "hello",          SP "world", SP "!",
                           SP ",",     SP "un",    "aff",    "able",  SP "apfel", SP "\xE4\xB8\xAD", SP "a",     SP "'",
                           SP "s"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        add_tok(s, texts[i], 0, i <= W_MASK ? ONC_TOKEN_CONTROL : ONC_TOKEN_NORMAL);
    s->pad_id = W_PAD, s->unk_id = W_UNK, s->bos_id = W_CLS, s->sep_id = W_SEP, s->mask_id = W_MASK;
    s->add_bos = true, s->add_sep = true;
    return s;
}

static void test_wpm(void **state) {
    (void)state;
    onc_vocab_spec *s = wpm_spec();
    onc_tokenizer *t = build(s);
    EXPECT(t, "Hello, World!", false, false, W_HELLO, W_COMMA, W_WORLD, W_EXCL);
    EXPECT(t, "Unaffable", false, false, W_UN, W_AFF, W_ABLE);
    EXPECT(t, "unaffablex", false, false, W_UNK); /* a word that cannot be split is one [UNK] */
    EXPECT(t, "\xC3\x84pfel", false, false, W_APFEL);
    EXPECT(t, "\xE4\xB8\xAD\xE6\x96\x87", false, false, W_ZHONG, W_UNK); /* CJK: one word per ideograph */
    EXPECT(t, "xyz", false, false, W_UNK);
    EXPECT(t, "\x01" "a\xE2\x80\x8B", false, false, W_A); /* control and format characters dropped */
    EXPECT(t, "\xC2\xA0" "a\xE3\x80\x80" "a", false, false, W_A, W_A);
    EXPECT(t, "it's", false, false, W_UNK, W_APOS, W_S);
    EXPECT_NONE(t, "  \n\t ", false, false);
    EXPECT(t, "hello", true, false, W_CLS, W_HELLO, W_SEP);
    EXPECT(t, "[CLS]hello", false, true, W_CLS, W_HELLO);
    EXPECT(t, "[cls]", false, false, W_UNK, W_UNK, W_UNK); /* "[", "cls", "]" */
    EXPECT_NONE(t, "", false, false);
    EXPECT(t, "", true, false, W_CLS, W_SEP);

    const int32_t ids[] = {W_CLS, W_HELLO, W_COMMA, W_WORLD, W_EXCL, W_SEP};
    char *txt = detok(t, ids, 6, true, false, false);
    assert_string_equal(txt, "hello, world!");
    free(txt);
    txt = detok(t, ids + 1, 4, false, false, true);
    assert_string_equal(txt, "hello , world !");
    free(txt);
    txt = detok(t, ids, 6, false, true, false);
    assert_string_equal(txt, "[CLS] hello, world![SEP]");
    free(txt);
    time_1mb(t, "wpm (toy vocabulary)");
    onc_tokenizer_free(t);
    onc_vocab_spec_free(s);
}

// --- invalid UTF-8, robustness -------------------------------------------------------------

static void test_invalid_utf8(void **state) {
    (void)state;
    onc_vocab_spec *specs[3] = {spm_spec(), bpe_spec("llama-bpe"), wpm_spec()};
    for (int k = 0; k < 3; k++) {
        onc_tokenizer *t = build(specs[k]);
        const char text[] = "ab\xFF" "cd\xE2\x96";
        onc_tokenize_params p = {false, false, ONC_UTF8_ERROR};
        int32_t *ids = (int32_t *)1;
        size_t n = 7;
        onc_error err = {0};
        assert_int_equal(onc_tokenize(t, text, sizeof text - 1, &p, &ids, &n, &err), ONC_ERR_INVALID);
        assert_null(ids);
        assert_int_equal(n, 0);
        assert_non_null(strstr(err.msg, "offset 2"));
        p.invalid_utf8 = ONC_UTF8_REPLACE;
        assert_int_equal(onc_tokenize(t, text, sizeof text - 1, &p, &ids, &n, &err), ONC_OK);
        assert_true(n > 0);
        if (k < 2) {
            char *back = detok(t, ids, n, false, false, true);
            assert_string_equal(back, "ab\xEF\xBF\xBD" "cd\xEF\xBF\xBD");
            free(back);
        } else {
            assert_int_equal(ids[0], W_UNK); /* U+FFFD dropped: "abcd" is not in the vocabulary */
        }
        free(ids);

        /* NUL bytes and every single byte value: never a crash */
        char all[256];
        for (int b = 0; b < 256; b++) all[b] = (char)b;
        assert_int_equal(onc_tokenize(t, all, 256, &p, &ids, &n, &err), ONC_OK);
        free(ids);
        assert_int_equal(onc_tokenize(t, "a\0b", 3, &p, &ids, &n, &err), ONC_OK);
        free(ids);
        assert_int_equal(onc_tokenize(t, NULL, 0, &p, &ids, &n, &err), ONC_OK);
        assert_int_equal(n, 0);
        onc_tokenizer_free(t);
        onc_vocab_spec_free(specs[k]);
    }
}

static void test_bad_specs(void **state) {
    (void)state;
    onc_error err = {0};
    onc_vocab_spec *s = spec_new(ONC_VOCAB_SPM, NULL);
    assert_null(onc_tokenizer_from_spec(s, &err)); /* no tokens */
    assert_int_equal(err.code, ONC_ERR_INVALID);
    add_tok(s, "", 0, ONC_TOKEN_NORMAL); /* empty text: renamed */
    add_tok(s, "a", 0, 42);               /* unknown type: undefined attributes */
    s->bos_id = 7;                        /* out of range: dropped */
    onc_tokenizer *t = onc_tokenizer_from_spec(s, &err);
    assert_non_null(t);
    assert_string_equal(onc_token_text(t, 0, NULL), "[EMPTY_0]");
    assert_null(onc_token_text(t, 2, NULL));
    assert_int_equal(onc_tokenizer_special(t, ONC_SPECIAL_BOS), ONC_TOKEN_NONE);
    assert_int_equal(onc_token_get_attrs(t, 1), ONC_TOKEN_ATTR_UNDEFINED);
    const char *pc;
    assert_int_equal(onc_token_to_piece(t, 1, true, &pc), 0);
    /* no byte tokens, no unk: unknown characters vanish, no crash */
    EXPECT(t, "a", false, false, 1);
    EXPECT_NONE(t, "b", false, false);
    onc_tokenizer_free(t);
    onc_vocab_spec_free(s);
}

// --- spec <-> GGUF -----------------------------------------------------------------------------

static onc_gguf *to_gguf(onc_gguf_writer *w, void **mem) {
    size_t size;
    onc_error err = {0};
    if (onc_gguf_writer_write_mem(w, mem, &size, &err) != ONC_OK) fail_msg("write: %s", err.msg);
    onc_gguf *g = onc_gguf_open_memory(*mem, size, "vocab.gguf", &err);
    if (!g) fail_msg("open: %s", err.msg);
    return g;
}

static void test_spec_gguf(void **state) {
    (void)state;
    onc_vocab_spec *specs[3] = {spm_spec(), bpe_spec("qwen2"), wpm_spec()};
    for (int k = 0; k < 3; k++) {
        onc_vocab_spec *s = specs[k];
        onc_gguf_writer *w = onc_gguf_writer_new();
        onc_error err = {0};
        assert_int_equal(onc_vocab_spec_write_gguf(s, w, &err), ONC_OK);
        void *mem;
        onc_gguf *g = to_gguf(w, &mem);
        onc_vocab_spec *r = onc_vocab_spec_from_gguf(g, &err);
        if (!r) fail_msg("read: %s", err.msg);
        assert_int_equal(r->kind, s->kind);
        assert_int_equal(r->n_tokens, s->n_tokens);
        for (int32_t i = 0; i < s->n_tokens; i++) {
            assert_string_equal(r->tokens[i], s->tokens[i]);
            assert_true(r->scores[i] == s->scores[i]);
            assert_int_equal(r->token_types[i], s->token_types[i]);
        }
        assert_int_equal(r->n_merges, s->n_merges);
        for (int32_t i = 0; i < s->n_merges; i++) assert_string_equal(r->merges[i], s->merges[i]);
        assert_int_equal(r->bos_id, s->bos_id);
        assert_int_equal(r->eos_id, s->eos_id);
        assert_int_equal(r->unk_id, s->unk_id);
        assert_int_equal(r->sep_id, s->sep_id);
        assert_int_equal(r->pad_id, s->pad_id);
        assert_int_equal(r->mask_id, s->mask_id);
        assert_int_equal(r->add_bos, s->add_bos);
        assert_int_equal(r->add_eos, s->add_eos);
        assert_int_equal(r->add_sep, s->add_sep);
        assert_int_equal(r->add_space_prefix, s->add_space_prefix);
        if (s->pre) assert_string_equal(r->pre, s->pre);
        onc_tokenizer *t = onc_tokenizer_from_gguf(g, &err);
        if (!t) fail_msg("tokenizer: %s", err.msg);
        assert_int_equal(onc_tokenizer_n_tokens(t), s->n_tokens);
        onc_tokenizer_free(t);
        onc_vocab_spec_free(r);
        onc_gguf_close(g);
        free(mem);
        onc_gguf_writer_free(w);
        onc_vocab_spec_free(s);
    }

    /* defaults for absent keys (llama.cpp load), out-of-range ids keep them */
    onc_gguf_writer *w = onc_gguf_writer_new();
    const char *toks[] = {"<unk>", "<s>", "</s>", "a"};
    onc_gguf_set_str(w, "tokenizer.ggml.model", "llama");
    onc_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 4);
    onc_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 99);
    void *mem;
    onc_gguf *g = to_gguf(w, &mem);
    onc_error err = {0};
    onc_vocab_spec *r = onc_vocab_spec_from_gguf(g, &err);
    assert_non_null(r);
    assert_int_equal(r->bos_id, 1);
    assert_int_equal(r->eos_id, 2);
    assert_int_equal(r->unk_id, 0);
    assert_true(r->add_bos);
    assert_false(r->add_eos);
    assert_true(r->add_space_prefix);
    assert_null(r->scores);
    onc_vocab_spec_free(r);
    onc_gguf_close(g);
    free(mem);

    /* wrong shapes are errors */
    float sc[3] = {0};
    onc_gguf_set_arr(w, "tokenizer.ggml.scores", ONC_GGUF_FLOAT32, sc, 3);
    g = to_gguf(w, &mem);
    assert_null(onc_vocab_spec_from_gguf(g, &err));
    assert_int_equal(err.code, ONC_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "scores"));
    onc_gguf_close(g);
    free(mem);
    onc_gguf_remove_key(w, "tokenizer.ggml.scores");
    onc_gguf_set_str(w, "tokenizer.ggml.model", "gpt2"); /* no merges */
    g = to_gguf(w, &mem);
    assert_null(onc_vocab_spec_from_gguf(g, &err));
    assert_non_null(strstr(err.msg, "merges"));
    onc_gguf_close(g);
    free(mem);
    onc_gguf_set_str(w, "tokenizer.ggml.model", "t5");
    g = to_gguf(w, &mem);
    assert_null(onc_vocab_spec_from_gguf(g, &err));
    assert_int_equal(err.code, ONC_ERR_UNSUPPORTED);
    onc_gguf_close(g);
    free(mem);
    onc_gguf_writer_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unicode),           cmocka_unit_test(test_spm),
        cmocka_unit_test(test_bpe_merges),        cmocka_unit_test(test_bpe_pretokenizers),
        cmocka_unit_test(test_wpm),               cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_bad_specs),         cmocka_unit_test(test_spec_gguf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
