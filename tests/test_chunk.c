/* test_chunk.c — oncolm/chunk.h: section-aware chunking.
 * - headings of each kind start sections; small sections are packed, a long
 *   one is windowed with its heading repeated;
 * - invariants on random notes: every non-blank byte is covered, chunks are
 *   in order, within max_tokens (unless one word is longer), windows of a
 *   section overlap by at least `overlap` tokens, chunk text = heading + body;
 * - the caller's token counter is used; blank text has no chunks; bad
 *   parameters fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/chunk.h"

static char *chunk_text(const char *t, const onc_chunk *c) {
    char *s = onc_chunk_str(t, c, NULL);
    assert_non_null(s);
    return s;
}

static void test_sections_packed_and_split(void **state) {
    (void)state;
    const char *note = "CT CHEST WITH CONTRAST\n"
                       "Date: 2021-03-04\n\n"
                       "FINDINGS:\nThere is a 2.1 cm spiculated mass in the right upper lobe.\n\n"
                       "IMPRESSION: Findings suspicious for primary lung malignancy.\n"
                       "Social history:\nFormer smoker.\n";
    onc_chunk_params p = onc_chunk_default_params();
    /* Sections of 11, 17, 9 and 6 estimated tokens: with 17, each of the
     * first two stands alone, the last two are packed together. */
    p.max_tokens = 17;
    p.overlap = 2;
    onc_chunk *c = NULL;
    size_t n = 0;
    assert_int_equal(onc_chunk_text(note, strlen(note), &p, &c, &n, NULL), ONC_OK);
    /* The all-caps title line starts the first section; FINDINGS:,
     * IMPRESSION: (inline) and "Social history:" each start one. */
    assert_int_equal(n, 3);
    char *t0 = chunk_text(note, &c[0]), *t1 = chunk_text(note, &c[1]), *t2 = chunk_text(note, &c[2]);
    assert_string_equal(t0, "CT CHEST WITH CONTRAST\nDate: 2021-03-04");
    assert_string_equal(t1, "FINDINGS:\nThere is a 2.1 cm spiculated mass in the right upper lobe.");
    assert_string_equal(t2, "IMPRESSION: Findings suspicious for primary lung malignancy.\nSocial history:\nFormer smoker.");
    assert_int_equal(c[1].n_tokens, 17);
    assert_int_equal(c[2].n_tokens, 15);
    free(t0), free(t1), free(t2);
    free(c);

    /* One token less: FINDINGS is windowed (heading kept in the first window). */
    p.max_tokens = 16;
    assert_int_equal(onc_chunk_text(note, strlen(note), &p, &c, &n, NULL), ONC_OK);
    assert_int_equal(n, 4);
    t1 = chunk_text(note, &c[1]);
    t2 = chunk_text(note, &c[2]);
    assert_string_equal(t1, "FINDINGS:\nThere is a 2.1 cm spiculated mass in the right upper");
    assert_string_equal(t2, "FINDINGS:\nright upper lobe."); /* 2 tokens of overlap */
    free(t1), free(t2);
    free(c);

    /* A large budget packs everything into one chunk. */
    p.max_tokens = 1000;
    p.overlap = 10;
    assert_int_equal(onc_chunk_text(note, strlen(note), &p, &c, &n, NULL), ONC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].start, 0);
    assert_int_equal(c[0].end, strlen(note) - 1); /* trailing newline trimmed */
    assert_int_equal(c[0].n_tokens, onc_chunk_estimate_tokens(NULL, note, strlen(note)));
    free(c);
}

static void test_long_section_windows(void **state) {
    (void)state;
    /* "ASSESSMENT AND PLAN:" heading + 60 words of one token each. */
    char note[2048];
    size_t o = (size_t)snprintf(note, sizeof note, "ASSESSMENT AND PLAN:\n");
    for (int i = 0; i < 60; i++) o += (size_t)snprintf(note + o, sizeof note - o, "w%02d ", i);
    onc_chunk_params p = onc_chunk_default_params();
    p.max_tokens = 20;
    p.overlap = 5;
    onc_chunk *c = NULL;
    size_t n = 0;
    assert_int_equal(onc_chunk_text(note, strlen(note), &p, &c, &n, NULL), ONC_OK);
    assert_true(n >= 4);
    /* heading = 4 tokens ("ASSESSMENT", "AND", "PLAN", ":"): the first window
     * holds it and 16 words; later ones repeat it and hold 16 words. */
    char *first = chunk_text(note, &c[0]);
    assert_memory_equal(first, "ASSESSMENT AND PLAN:\nw00 ", 25);
    assert_int_equal(c[0].head_end, 0);
    free(first);
    for (size_t i = 0; i < n; i++) {
        assert_true(c[i].n_tokens <= 20);
        if (i > 0) {
            assert_int_equal(c[i].head_start, 0);
            assert_int_equal(c[i].head_end, strlen("ASSESSMENT AND PLAN:"));
            char *t = chunk_text(note, &c[i]);
            assert_memory_equal(t, "ASSESSMENT AND PLAN:\nw", 22);
            free(t);
            /* overlap: this window starts at least 5 words before the last ended */
            assert_true(c[i].start < c[i - 1].end);
            const size_t shared = onc_chunk_estimate_tokens(NULL, note + c[i].start, c[i - 1].end - c[i].start);
            assert_true(shared >= 5);
            assert_true(c[i].start > c[i - 1].start);
        }
    }
    assert_int_equal(c[n - 1].end, strlen(note) - 1);
    free(c);
}

/* Deterministic pseudo-random notes. */
static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(uint32_t n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static size_t random_note(char *buf, size_t cap) {
    static const char *heads[] = {"FINDINGS:", "IMPRESSION:", "HPI:", "Medications:", "PLAN", "A/P:"};
    static const char *words[] = {"mass", "the", "2.1", "cm", "no", "evidence", "of", "disease,", "ER+", "(grade",
                                  "3)", "supraclavicular", "lymphadenopathy.", "héma", "x"};
    size_t o = 0;
    const int n_sec = 1 + (int)rnd(6);
    for (int s = 0; s < n_sec && o + 400 < cap; s++) {
        if (rnd(3)) o += (size_t)snprintf(buf + o, cap - o, "%s\n", heads[rnd(6)]);
        const int n_words = (int)rnd(120);
        for (int w = 0; w < n_words && o + 40 < cap; w++)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", words[rnd(15)], rnd(9) ? " " : "\n");
        o += (size_t)snprintf(buf + o, cap - o, "\n\n");
    }
    return o;
}

static void test_invariants_random(void **state) {
    (void)state;
    static char note[1 << 16];
    for (int trial = 0; trial < 300; trial++) {
        const size_t len = random_note(note, sizeof note);
        onc_chunk_params p = onc_chunk_default_params();
        p.max_tokens = 8 + (int32_t)rnd(100);
        p.overlap = (int32_t)rnd((uint32_t)(p.max_tokens / 2));
        p.sections = rnd(4) != 0;
        onc_chunk *c = NULL;
        size_t n = 0;
        assert_int_equal(onc_chunk_text(note, len, &p, &c, &n, NULL), ONC_OK);
        char *covered = calloc(len + 1, 1);
        for (size_t i = 0; i < n; i++) {
            assert_true(c[i].start < c[i].end && c[i].end <= len);
            if (i) assert_true(c[i].start > c[i - 1].start && c[i].end > c[i - 1].end);
            for (uint32_t b = c[i].start; b < c[i].end; b++) covered[b] = 1;
            size_t tlen = 0;
            char *t = onc_chunk_str(note, &c[i], &tlen);
            assert_int_equal(onc_chunk_estimate_tokens(NULL, t, tlen), c[i].n_tokens);
            /* Over budget only when a single word is: then the body has one word. */
            if (c[i].n_tokens > (uint32_t)p.max_tokens) {
                bool space = false;
                for (uint32_t b = c[i].start; b < c[i].end; b++) space |= note[b] == ' ' || note[b] == '\n';
                assert_false(space);
            }
            free(t);
        }
        for (size_t b = 0; b < len; b++)
            if (note[b] != ' ' && note[b] != '\n') assert_true(covered[b]);
        free(covered);
        free(c);
    }
}

static size_t count_bytes(void *ctx, const char *s, size_t n) {
    (*(int *)ctx)++;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] != ' ' && s[i] != '\n';
    return k;
}

static void test_counter_blank_and_errors(void **state) {
    (void)state;
    int calls = 0;
    onc_chunk_params p = onc_chunk_default_params();
    p.count = count_bytes;
    p.count_ctx = &calls;
    p.max_tokens = 10;
    p.overlap = 0;
    const char *t = "aaaa bbbb cccc dddd";
    onc_chunk *c = NULL;
    size_t n = 0;
    assert_int_equal(onc_chunk_text(t, strlen(t), &p, &c, &n, NULL), ONC_OK);
    assert_true(calls > 0);
    assert_int_equal(n, 2); /* 16 "tokens" of 4 per word: 2 words per chunk */
    assert_int_equal(c[0].n_tokens, 8);
    assert_int_equal(c[1].start, 10);
    free(c);

    assert_int_equal(onc_chunk_text(" \n\t\n ", 5, NULL, &c, &n, NULL), ONC_OK);
    assert_int_equal(n, 0);
    free(c);

    onc_error err = {0};
    p = onc_chunk_default_params();
    p.overlap = p.max_tokens / 2;
    assert_int_equal(onc_chunk_text(t, strlen(t), &p, &c, &n, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "overlap"));
    p = onc_chunk_default_params();
    p.max_tokens = 4;
    assert_int_equal(onc_chunk_text(t, strlen(t), &p, &c, &n, &err), ONC_ERR_INVALID);
}

static void test_estimate(void **state) {
    (void)state;
    /* letter/digit runs + punctuation marks */
    assert_int_equal(onc_chunk_estimate_tokens(NULL, "ER+, PR-", 8), 5); /* ER + , PR - */
    assert_int_equal(onc_chunk_estimate_tokens(NULL, "2.1 cm", 6), 4);
    assert_int_equal(onc_chunk_estimate_tokens(NULL, "héma x", 7), 2);
    assert_int_equal(onc_chunk_estimate_tokens(NULL, "", 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sections_packed_and_split), cmocka_unit_test(test_long_section_windows),
        cmocka_unit_test(test_invariants_random),         cmocka_unit_test(test_counter_blank_and_errors),
        cmocka_unit_test(test_estimate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
