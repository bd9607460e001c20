/* test_vocab_train.c — vocabulary training (onc_vocab_train): special tokens,
 * ids and types of each kind, determinism, consistency of merges, and that
 * the learned vocabularies tokenize as llama.cpp's algorithms would use them.
 *
 * The tokenizers here are small reference versions of llama.cpp's (SPM:
 * merge the adjacent pair whose concatenation has the highest score, byte
 * fallback; BPE: lowest merge rank first; WPM: greedy longest match with the
 * phantom-space convention), written for the test so it does not depend on
 * the runtime tokenizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "oncolm/model_create.h"
#include "oncolm/vocab.h"
#include "tokenizer/vocab_train_impl.h"

#define SP "\xE2\x96\x81"

static onc_vocab_spec *train(onc_vocab_kind kind, const char *pre, int32_t size) {
    size_t len;
    const char *text = onc_sample_clinical_text(&len);
    onc_vocab_train_params p = onc_vocab_train_default_params(kind);
    if (pre) p.pre = pre;
    p.vocab_size = size;
    onc_error err = {0};
    onc_vocab_spec *s = onc_vocab_train(text, len, &p, &err);
    if (!s) fprintf(stderr, "train failed: %s\n", err.msg);
    assert_non_null(s);
    return s;
}

static int32_t find_token(const onc_vocab_spec *s, const char *text, size_t len) {
    for (int32_t i = 0; i < s->n_tokens; i++)
        if (strlen(s->tokens[i]) == len && memcmp(s->tokens[i], text, len) == 0) return i;
    return -1;
}

static void assert_unique(const onc_vocab_spec *s) {
    vt_strtab *t = vt_strtab_new();
    for (int32_t i = 0; i < s->n_tokens; i++) {
        int32_t n = vt_strtab_n(t);
        assert_int_equal(vt_strtab_intern(t, s->tokens[i], strlen(s->tokens[i])), n);
    }
    vt_strtab_free(t);
}

static void assert_same(const onc_vocab_spec *a, const onc_vocab_spec *b) {
    assert_int_equal(a->n_tokens, b->n_tokens);
    assert_int_equal(a->n_merges, b->n_merges);
    for (int32_t i = 0; i < a->n_tokens; i++) {
        assert_string_equal(a->tokens[i], b->tokens[i]);
        if (a->scores) assert_true(a->scores[i] == b->scores[i]);
        assert_int_equal(a->token_types[i], b->token_types[i]);
    }
    for (int32_t i = 0; i < a->n_merges; i++) assert_string_equal(a->merges[i], b->merges[i]);
}

// --- reference SPM tokenizer (llama.cpp llm_tokenizer_spm, simplified) -------

/* Tokenize: " " prefix, spaces -> "▁", chars, then repeatedly merge the
 * adjacent pair whose concatenation is a token with the highest score
 * (leftmost on ties); unknown symbols -> byte tokens. Returns count. */
static int spm_tokenize(const onc_vocab_spec *s, const char *text, int32_t *out, int cap) {
    char norm[4096];
    size_t n = 0;
    memcpy(norm, SP, 3);
    n = 3;
    for (const char *p = text; *p && n + 4 < sizeof norm; p++) {
        if (*p == ' ') {
            memcpy(norm + n, SP, 3);
            n += 3;
        } else {
            norm[n++] = *p;
        }
    }
    size_t start[1024], len[1024];
    int ns = 0;
    for (size_t i = 0; i < n;) {
        size_t l = vt_utf8_len(norm + i);
        start[ns] = i;
        len[ns++] = l;
        i += l;
    }
    for (;;) {
        int best = -1;
        float best_score = 0;
        for (int i = 0; i + 1 < ns; i++) {
            int32_t id = find_token(s, norm + start[i], len[i] + len[i + 1]);
            if (id >= 0 && (best < 0 || s->scores[id] > best_score)) {
                best = i;
                best_score = s->scores[id];
            }
        }
        if (best < 0) break;
        len[best] += len[best + 1];
        memmove(start + best + 1, start + best + 2, (size_t)(ns - best - 2) * sizeof *start);
        memmove(len + best + 1, len + best + 2, (size_t)(ns - best - 2) * sizeof *len);
        ns--;
    }
    int k = 0;
    for (int i = 0; i < ns; i++) {
        int32_t id = find_token(s, norm + start[i], len[i]);
        if (id >= 0) {
            if (k < cap) out[k] = id;
            k++;
        } else {
            for (size_t b = 0; b < len[i]; b++) {
                if (k < cap) out[k] = 3 + (unsigned char)norm[start[i] + b];
                k++;
            }
        }
    }
    return k;
}

/* Decode SPM ids: bytes, "▁" -> " ", drop the leading space. */
static void spm_decode(const onc_vocab_spec *s, const int32_t *ids, int n, char *out, size_t cap) {
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        const char *t = s->tokens[ids[i]];
        if (s->token_types[ids[i]] == ONC_TOKEN_BYTE) {
            out[o++] = (char)strtol(t + 3, NULL, 16);
            continue;
        }
        for (const char *p = t; *p && o + 1 < cap;) {
            if (strncmp(p, SP, 3) == 0) {
                out[o++] = ' ';
                p += 3;
            } else {
                out[o++] = *p++;
            }
        }
    }
    out[o] = '\0';
    if (out[0] == ' ') memmove(out, out + 1, o);
}

static void test_spm(void **state) {
    (void)state;
    onc_vocab_spec *s = train(ONC_VOCAB_SPM, NULL, 1000);
    assert_int_equal(s->kind, ONC_VOCAB_SPM);
    assert_true(s->n_tokens > 400 && s->n_tokens <= 1000);
    assert_non_null(s->scores);
    assert_string_equal(s->tokens[0], "<unk>");
    assert_string_equal(s->tokens[1], "<s>");
    assert_string_equal(s->tokens[2], "</s>");
    assert_int_equal(s->token_types[0], ONC_TOKEN_UNKNOWN);
    assert_int_equal(s->token_types[1], ONC_TOKEN_CONTROL);
    assert_int_equal(s->token_types[2], ONC_TOKEN_CONTROL);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        assert_string_equal(s->tokens[3 + b], name);
        assert_int_equal(s->token_types[3 + b], ONC_TOKEN_BYTE);
    }
    assert_int_equal(s->unk_id, 0);
    assert_int_equal(s->bos_id, 1);
    assert_int_equal(s->eos_id, 2);
    assert_true(s->add_bos);
    assert_false(s->add_eos);
    assert_true(s->add_space_prefix);
    assert_null(s->pre);
    assert_int_equal(s->n_merges, 0);
    /* Pieces: normal, scores strictly decreasing from -1. */
    assert_true(s->scores[259] == -1.0f);
    for (int32_t i = 260; i < s->n_tokens; i++) {
        assert_int_equal(s->token_types[i], ONC_TOKEN_NORMAL);
        assert_true(s->scores[i] < s->scores[i - 1]);
    }
    assert_true(find_token(s, SP, 3) >= 0);
    assert_unique(s);

    /* Frequent word: "▁chemotherapy" in very few tokens. */
    int32_t ids[512];
    int n = spm_tokenize(s, "chemotherapy", ids, 512);
    assert_true(n >= 1 && n <= 2);
    /* Round trip, including characters outside the vocabulary (bytes). */
    const char *texts[] = {"Continue carboplatin and pemetrexed every 21 days.",
                           "The patient reports mild fatigue; ECOG 1.", "caf\xC3\xA9 \xE2\x82\xAC 42 zzqx"};
    for (size_t t = 0; t < 3; t++) {
        n = spm_tokenize(s, texts[t], ids, 512);
        assert_true(n > 0 && n < 512);
        char back[2048];
        spm_decode(s, ids, n, back, sizeof back);
        assert_string_equal(back, texts[t]);
    }
    onc_vocab_spec *s2 = train(ONC_VOCAB_SPM, NULL, 1000);
    assert_same(s, s2);
    onc_vocab_spec_free(s2);
    onc_vocab_spec_free(s);
}

// --- byte-level BPE ---------------------------------------------------------------

/* Apply merges by rank to the byte-level symbols of one pre-token. */
static int bpe_tokenize_word(const onc_vocab_spec *s, const char *word, int32_t *out) {
    char syms[64][64];
    int ns = 0;
    for (const char *p = word; *p;) {
        size_t l = vt_utf8_len(p);
        memcpy(syms[ns], p, l);
        syms[ns++][l] = '\0';
        p += l;
    }
    for (;;) {
        int best = -1, best_rank = 0;
        for (int i = 0; i + 1 < ns; i++) {
            char m[160];
            snprintf(m, sizeof m, "%.63s %.63s", syms[i], syms[i + 1]);
            for (int32_t r = 0; r < s->n_merges; r++)
                if (strcmp(s->merges[r], m) == 0) {
                    if (best < 0 || r < best_rank) {
                        best = i;
                        best_rank = r;
                    }
                    break;
                }
        }
        if (best < 0) break;
        size_t la = strlen(syms[best]), lb = strlen(syms[best + 1]);
        assert_true(la + lb < sizeof syms[0]);
        memcpy(syms[best] + la, syms[best + 1], lb + 1);
        memmove(syms[best + 1], syms[best + 2], (size_t)(ns - best - 2) * sizeof syms[0]);
        ns--;
    }
    for (int i = 0; i < ns; i++) {
        out[i] = find_token(s, syms[i], strlen(syms[i]));
        assert_true(out[i] >= 0);
    }
    return ns;
}

static void check_bpe(const char *pre, const char *const *specials, int n_special, int bos, int eos) {
    onc_vocab_spec *s = train(ONC_VOCAB_BPE, pre, 1200);
    assert_int_equal(s->kind, ONC_VOCAB_BPE);
    assert_string_equal(s->pre, pre);
    assert_true(s->n_tokens > 600 && s->n_tokens <= 1200);
    assert_int_equal(s->n_merges, s->n_tokens - 256 - n_special);
    /* 256 byte-level symbols: "!" first, "Ġ" (space) among them. */
    assert_string_equal(s->tokens[0], "!");
    assert_true(find_token(s, "\xC4\xA0", 2) >= 0 && find_token(s, "\xC4\xA0", 2) < 256);
    for (int i = 0; i < n_special; i++) {
        int32_t id = s->n_tokens - n_special + i;
        assert_string_equal(s->tokens[id], specials[i]);
        assert_int_equal(s->token_types[id], ONC_TOKEN_CONTROL);
    }
    for (int32_t i = 0; i < s->n_tokens - n_special; i++) assert_int_equal(s->token_types[i], ONC_TOKEN_NORMAL);
    assert_int_equal(s->bos_id, s->n_tokens - n_special + bos);
    assert_int_equal(s->eos_id, s->n_tokens - n_special + eos);
    /* Every merge: both parts and the result are tokens. */
    for (int32_t i = 0; i < s->n_merges; i++) {
        const char *m = s->merges[i];
        const char *sp = strchr(m + 1, ' ');
        assert_non_null(sp);
        char joined[256];
        size_t ll = (size_t)(sp - m), rl = strlen(sp + 1);
        assert_true(find_token(s, m, ll) >= 0);
        assert_true(find_token(s, sp + 1, rl) >= 0);
        memcpy(joined, m, ll);
        memcpy(joined + ll, sp + 1, rl);
        assert_true(find_token(s, joined, ll + rl) >= 0);
    }
    assert_unique(s);
    int32_t ids[64];
    int n = bpe_tokenize_word(s, "\xC4\xA0" "chemotherapy", ids); /* " chemotherapy" */
    assert_true(n >= 1 && n <= 2);
    onc_vocab_spec *s2 = train(ONC_VOCAB_BPE, pre, 1200);
    assert_same(s, s2);
    onc_vocab_spec_free(s2);
    onc_vocab_spec_free(s);
}

static void test_bpe_llama3(void **state) {
    (void)state;
    const char *sp[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                        "<|eot_id|>"};
    check_bpe("llama-bpe", sp, 5, 0, 1);
}

static void test_bpe_qwen2(void **state) {
    (void)state;
    const char *sp[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    check_bpe("qwen2", sp, 3, 0, 2);
}

static void test_bpe_gpt2(void **state) {
    (void)state;
    const char *sp[] = {"<|endoftext|>"};
    check_bpe("gpt-2", sp, 1, 0, 0);
}

// --- WordPiece -------------------------------------------------------------------------

/* Greedy longest match of one (lower-case) word: first piece "▁"-prefixed,
 * the rest plain. Returns count or -1 when [UNK]. */
static int wpm_tokenize_word(const onc_vocab_spec *s, const char *word, int32_t *out) {
    char buf[256];
    snprintf(buf, sizeof buf, SP "%s", word);
    size_t n = strlen(buf), pos = 0;
    int k = 0;
    while (pos < n) {
        size_t end = n;
        int32_t id = -1;
        for (; end > pos; end--) {
            if (pos == 0 && end <= 3) break;
            if ((id = find_token(s, buf + pos, end - pos)) >= 0) break;
        }
        if (id < 0) return -1;
        out[k++] = id;
        pos = end;
    }
    return k;
}

static void test_wpm(void **state) {
    (void)state;
    onc_vocab_spec *s = train(ONC_VOCAB_WPM, NULL, 1000);
    assert_int_equal(s->kind, ONC_VOCAB_WPM);
    assert_true(s->n_tokens > 400 && s->n_tokens <= 1000);
    assert_string_equal(s->tokens[0], "[PAD]");
    assert_string_equal(s->tokens[1], "[unused0]");
    assert_string_equal(s->tokens[99], "[unused98]");
    assert_string_equal(s->tokens[100], "[UNK]");
    assert_string_equal(s->tokens[101], "[CLS]");
    assert_string_equal(s->tokens[102], "[SEP]");
    assert_string_equal(s->tokens[103], "[MASK]");
    assert_int_equal(s->token_types[0], ONC_TOKEN_CONTROL);
    assert_int_equal(s->token_types[50], ONC_TOKEN_UNUSED);
    for (int i = 100; i < 104; i++) assert_int_equal(s->token_types[i], ONC_TOKEN_CONTROL);
    assert_int_equal(s->pad_id, 0);
    assert_int_equal(s->unk_id, 100);
    assert_int_equal(s->bos_id, 101);
    assert_int_equal(s->sep_id, 102);
    assert_int_equal(s->mask_id, 103);
    assert_int_equal(s->eos_id, ONC_TOKEN_NONE);
    assert_true(s->add_bos && s->add_sep && !s->add_eos);
    /* Phantom-space form: no "##", no upper case (uncased). */
    for (int32_t i = 104; i < s->n_tokens; i++) {
        assert_int_equal(s->token_types[i], ONC_TOKEN_NORMAL);
        assert_null(strstr(s->tokens[i], "##"));
        for (const char *p = s->tokens[i]; *p; p++) assert_false(*p >= 'A' && *p <= 'Z');
    }
    assert_true(find_token(s, SP ".", 4) >= 0);
    assert_unique(s);
    int32_t ids[64];
    int n = wpm_tokenize_word(s, "chemotherapy", ids);
    assert_true(n >= 1 && n <= 2);
    n = wpm_tokenize_word(s, "pemetrexed", ids); /* composed of pieces */
    assert_true(n >= 1);
    onc_vocab_spec *s2 = train(ONC_VOCAB_WPM, NULL, 1000);
    assert_same(s, s2);
    onc_vocab_spec_free(s2);
    onc_vocab_spec_free(s);
}

static void test_wpm_basic_tokenizer(void **state) {
    (void)state;
    vt_strtab *w = vt_strtab_new();
    const char *text = "R\xC3\xA9sum\xC3\xA9: CT-scan, 5mg\t\xE4\xB8\xAD\xE6\x96\x87 x";
    assert_true(vt_wpm_count_words(text, strlen(text), true, w));
    const char *expect[] = {"resume", ":", "ct", "-", "scan", ",", "5mg", "\xE4\xB8\xAD", "\xE6\x96\x87", "x"};
    assert_int_equal(vt_strtab_n(w), 10);
    for (int i = 0; i < 10; i++) assert_string_equal(vt_strtab_str(w, i, NULL), expect[i]);
    vt_strtab_free(w);
}

// --- engine and errors ---------------------------------------------------------------------

static void test_engine_ties(void **state) {
    (void)state;
    /* "ab" and "cd" equally frequent: the pair with smaller ids wins. */
    vt_bpe *b = vt_bpe_new(NULL);
    vt_strtab *sym = vt_bpe_symbols(b);
    int32_t a = vt_strtab_intern(sym, "a", 1), bb = vt_strtab_intern(sym, "b", 1);
    int32_t c = vt_strtab_intern(sym, "c", 1), d = vt_strtab_intern(sym, "d", 1);
    int32_t w1[] = {c, d, c, d}, w2[] = {a, bb, a, bb}, w3[] = {a, a, a, a};
    assert_true(vt_bpe_add_word(b, w1, 4, 3));
    assert_true(vt_bpe_add_word(b, w2, 4, 3));
    assert_true(vt_bpe_add_word(b, w3, 4, 1)); /* "aa" x3 occurrences but overlapping -> 3 */
    onc_error err = {0};
    assert_int_equal(vt_bpe_train(b, 100, 1, NULL, NULL, &err), ONC_OK);
    const vt_merge *m = vt_bpe_merges(b);
    assert_true(vt_bpe_n_merges(b) >= 3);
    assert_int_equal(m[0].left, a);
    assert_int_equal(m[0].right, bb);
    assert_string_equal(vt_strtab_str(sym, m[0].result, NULL), "ab");
    assert_string_equal(vt_strtab_str(sym, m[1].result, NULL), "cd");
    vt_bpe_free(b);
}

static void test_errors_and_bad_input(void **state) {
    (void)state;
    onc_error err = {0};
    onc_vocab_train_params p = onc_vocab_train_default_params(ONC_VOCAB_SPM);
    p.vocab_size = 100;
    assert_null(onc_vocab_train("hello", 5, &p, &err));
    assert_int_equal(err.code, ONC_ERR_INVALID);
    p = onc_vocab_train_default_params(ONC_VOCAB_BPE);
    p.pre = "nonsense";
    assert_null(onc_vocab_train("hello", 5, &p, &err));
    assert_int_equal(err.code, ONC_ERR_UNSUPPORTED);
    /* Invalid UTF-8, NULs and control bytes: no crash, valid result. */
    const char bad[] = "ab\xFF\xFE cd\x00 ef \xC3 abab abab\n\x01 cdcd";
    for (int k = 0; k < 3; k++) {
        p = onc_vocab_train_default_params((onc_vocab_kind)k);
        p.vocab_size = 400;
        p.min_frequency = 1;
        onc_vocab_spec *s = onc_vocab_train(bad, sizeof bad - 1, &p, &err);
        assert_non_null(s);
        assert_unique(s);
        onc_vocab_spec_free(s);
    }
    /* Empty text gives just the fixed tokens. */
    p = onc_vocab_train_default_params(ONC_VOCAB_SPM);
    onc_vocab_spec *s = onc_vocab_train("", 0, &p, &err);
    assert_non_null(s);
    assert_true(s->n_tokens >= 259 && s->n_tokens <= 260);
    onc_vocab_spec_free(s);
}

static int64_t g_progress_calls, g_progress_last_done, g_progress_total;
static void progress(void *user, int64_t done, int64_t total) {
    (void)user;
    g_progress_calls++;
    assert_true(done >= g_progress_last_done || done == 0);
    g_progress_last_done = done;
    g_progress_total = total;
}

static void test_progress(void **state) {
    (void)state;
    size_t len;
    const char *text = onc_sample_clinical_text(&len);
    onc_vocab_train_params p = onc_vocab_train_default_params(ONC_VOCAB_SPM);
    p.vocab_size = 800;
    p.progress = progress;
    onc_vocab_spec *s = onc_vocab_train(text, len, &p, NULL);
    assert_non_null(s);
    assert_true(g_progress_calls >= 2);
    assert_int_equal(g_progress_last_done, g_progress_total);
    onc_vocab_spec_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spm),
        cmocka_unit_test(test_bpe_llama3),
        cmocka_unit_test(test_bpe_qwen2),
        cmocka_unit_test(test_bpe_gpt2),
        cmocka_unit_test(test_wpm),
        cmocka_unit_test(test_wpm_basic_tokenizer),
        cmocka_unit_test(test_engine_ties),
        cmocka_unit_test(test_errors_and_bad_input),
        cmocka_unit_test(test_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
