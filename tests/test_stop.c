/* test_stop.c — oncolm/stop.h: stop strings split across pieces, partial
 * matches that turn out not to be stops (held text released), overlapping
 * prefixes ("aab" in "aaab"), several stop strings (first-ending wins,
 * independent of how the text is cut), UTF-8 multi-byte characters split
 * across pieces (never emitted half), flush at the end, errors, and an
 * exhaustive check that every way of cutting a text into pieces gives the
 * same emitted text and stop decision as a whole-text reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/stop.h"

/* What a stream produced: emitted text, whether/which it stopped. */
typedef struct outcome {
    char text[512];
    size_t len;
    int stopped;
    int which;
    uint64_t offset;
} outcome;

static onc_stop *mk(const char *const *stops, size_t n) {
    onc_error err = {0};
    onc_stop *m = onc_stop_new(stops, n, &err);
    if (!m) fail_msg("onc_stop_new: %s", err.msg);
    return m;
}

static void take(outcome *o, const onc_stop_result *r) {
    assert_true(o->len + r->len < sizeof o->text);
    if (r->len) memcpy(o->text + o->len, r->text, r->len);
    o->len += r->len;
    o->text[o->len] = '\0';
    if (r->stopped) {
        o->stopped = 1;
        o->which = r->which;
        o->offset = r->stop_offset;
    }
}

/* Feed pieces (NULL-terminated list) then flush unless stopped. */
static outcome run_pieces(onc_stop *m, const char *const *pieces) {
    outcome o = {.which = -1};
    onc_stop_reset(m);
    for (size_t i = 0; pieces[i]; i++) {
        onc_stop_result r;
        assert_int_equal(onc_stop_feed(m, pieces[i], strlen(pieces[i]), &r, NULL), ONC_OK);
        take(&o, &r);
        if (o.stopped) return o;
    }
    onc_stop_result r;
    onc_stop_flush(m, &r);
    take(&o, &r);
    return o;
}

static void test_split_across_pieces(void **state) {
    (void)state;
    const char *stops[] = {"\nPatient:"};
    onc_stop *m = mk(stops, 1);
    onc_stop_result r;
    assert_int_equal(onc_stop_feed(m, "Dose 5 mg.", 10, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 10); /* no prefix of the stop at the end */
    assert_false(r.stopped);
    assert_int_equal(onc_stop_feed(m, "\nPat", 4, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 0); /* "\nPat" may become the stop */
    assert_int_equal(onc_stop_held(m), 4);
    assert_int_equal(onc_stop_feed(m, "ient", 4, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 0);
    assert_int_equal(onc_stop_feed(m, ": next", 6, &r, NULL), ONC_OK);
    assert_true(r.stopped);
    assert_int_equal(r.which, 0);
    assert_int_equal(r.len, 0);
    assert_int_equal(r.stop_offset, 10);
    onc_error err = {0};
    assert_int_equal(onc_stop_feed(m, "x", 1, &r, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "already stopped"));
    onc_stop_reset(m);
    assert_int_equal(onc_stop_feed(m, "ok", 2, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 2);
    onc_stop_free(m);
}

static void test_false_alarm_released(void **state) {
    (void)state;
    const char *stops[] = {"###"};
    onc_stop *m = mk(stops, 1);
    onc_stop_result r;
    assert_int_equal(onc_stop_feed(m, "a #", 3, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 2);
    assert_memory_equal(r.text, "a ", 2);
    assert_int_equal(onc_stop_feed(m, "#", 1, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 0);
    assert_int_equal(onc_stop_feed(m, " b", 2, &r, NULL), ONC_OK); /* "## b": not a stop */
    assert_int_equal(r.len, 4);
    assert_memory_equal(r.text, "## b", 4);
    /* held at the end of generation comes out with flush */
    assert_int_equal(onc_stop_feed(m, "##", 2, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 0);
    onc_stop_flush(m, &r);
    assert_int_equal(r.len, 2);
    assert_memory_equal(r.text, "##", 2);
    assert_false(r.stopped);
    onc_stop_free(m);
}

static void test_overlapping_prefix(void **state) {
    (void)state;
    const char *stops[] = {"aab"};
    onc_stop *m = mk(stops, 1);
    const char *p1[] = {"xa", "a", "a", "b", "tail", NULL};
    outcome o = run_pieces(m, p1);
    assert_true(o.stopped);
    assert_string_equal(o.text, "xa"); /* "xaaab": the stop starts at 2 */
    assert_int_equal(o.offset, 2);
    const char *p2[] = {"aaa", "ab", NULL};
    o = run_pieces(m, p2);
    assert_true(o.stopped);
    assert_string_equal(o.text, "aa");
    const char *p3[] = {"aa", "c", "aa", NULL};
    o = run_pieces(m, p3);
    assert_false(o.stopped);
    assert_string_equal(o.text, "aacaa");
    onc_stop_free(m);
}

static void test_several_stops(void **state) {
    (void)state;
    const char *stops[] = {"abc", "b", "</s>", "User:"};
    onc_stop *m = mk(stops, 4);
    /* "b" ends before "abc": it wins however the text is cut */
    const char *p1[] = {"xabc", NULL};
    outcome o = run_pieces(m, p1);
    assert_true(o.stopped);
    assert_int_equal(o.which, 1);
    assert_string_equal(o.text, "xa");
    const char *p2[] = {"x", "a", "b", "c", NULL};
    o = run_pieces(m, p2);
    assert_int_equal(o.which, 1);
    assert_string_equal(o.text, "xa");
    const char *p3[] = {"done.</", "s>User:", NULL};
    o = run_pieces(m, p3);
    assert_int_equal(o.which, 2);
    assert_string_equal(o.text, "done.");
    onc_stop_free(m);

    /* same end: the longer (earlier start) wins */
    const char *st2[] = {"bc", "abc"};
    m = mk(st2, 2);
    const char *p4[] = {"zab", "c", NULL};
    o = run_pieces(m, p4);
    assert_int_equal(o.which, 1);
    assert_string_equal(o.text, "z");
    onc_stop_free(m);
}

static void test_utf8(void **state) {
    (void)state;
    /* "é" = C3 A9, "→" = E2 86 92, "😀" = F0 9F 98 80 */
    onc_stop *m = mk(NULL, 0);
    onc_stop_result r;
    assert_int_equal(onc_stop_feed(m, "caf\xC3", 4, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 3); /* half of é held */
    assert_int_equal(onc_stop_feed(m, "\xA9 \xF0\x9F", 4, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 3);
    assert_memory_equal(r.text, "\xC3\xA9 ", 3);
    assert_int_equal(onc_stop_feed(m, "\x98", 1, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 0);
    assert_int_equal(onc_stop_feed(m, "\x80!", 2, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 5);
    assert_memory_equal(r.text, "\xF0\x9F\x98\x80!", 5);
    /* invalid bytes pass through */
    assert_int_equal(onc_stop_feed(m, "\xFF\x80", 2, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 2);
    /* an incomplete tail at the end comes out with flush */
    assert_int_equal(onc_stop_feed(m, "\xE2\x86", 2, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 0);
    onc_stop_flush(m, &r);
    assert_int_equal(r.len, 2);
    onc_stop_free(m);

    /* a multi-byte stop string split inside a character */
    const char *stops[] = {"→ Plan"};
    m = mk(stops, 1);
    const char *p[] = {"A \xE2", "\x86", "\x92 Pl", "an x", NULL};
    outcome o = run_pieces(m, p);
    assert_true(o.stopped);
    assert_string_equal(o.text, "A ");
    const char *q[] = {"A \xE2\x86\x92 Pa", NULL}; /* not a stop: everything out */
    o = run_pieces(m, q);
    assert_false(o.stopped);
    assert_string_equal(o.text, "A \xE2\x86\x92 Pa");
    onc_stop_free(m);
}

static void test_errors(void **state) {
    (void)state;
    onc_error err = {0};
    const char *bad[] = {"ok", ""};
    assert_null(onc_stop_new(bad, 2, &err));
    assert_int_equal(err.code, ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "stop string 1"));
    const char *bad2[] = {NULL};
    assert_null(onc_stop_new(bad2, 1, &err));
    onc_stop_free(NULL);
    /* zero-length feeds are fine */
    const char *stops[] = {"x"};
    onc_stop *m = mk(stops, 1);
    onc_stop_result r;
    assert_int_equal(onc_stop_feed(m, "", 0, &r, NULL), ONC_OK);
    assert_int_equal(r.len, 0);
    assert_false(r.stopped);
    onc_stop_free(m);
}

/* Reference on the whole text: first-ending match (ties: earliest start). */
static outcome reference(const char *text, const char *const *stops, size_t n) {
    outcome o = {.which = -1};
    const size_t tl = strlen(text);
    for (size_t end = 1; end <= tl && !o.stopped; end++) {
        size_t best_start = SIZE_MAX;
        for (size_t k = 0; k < n; k++) {
            const size_t sl = strlen(stops[k]);
            if (sl <= end && memcmp(text + end - sl, stops[k], sl) == 0 && end - sl < best_start) {
                best_start = end - sl;
                o.which = (int)k;
            }
        }
        if (best_start != SIZE_MAX) {
            o.stopped = 1;
            o.offset = best_start;
            memcpy(o.text, text, best_start);
            o.len = best_start;
        }
    }
    if (!o.stopped) {
        memcpy(o.text, text, tl);
        o.len = tl;
    }
    o.text[o.len] = '\0';
    return o;
}

/* Every cut of each text into pieces (2^(len-1) ways) matches the reference. */
static void test_every_split(void **state) {
    (void)state;
    const char *stops[] = {"aba", "ab\xC3\xA9", "ba", "xyz"};
    const char *texts[] = {"xxababa", "ab\xC3\xA9z", "abxyab", "aab\xC3", "zzzzzzzz", "abab\xC3\xA9", "xyxyz"};
    for (size_t ns = 1; ns <= 4; ns++) {
        onc_stop *m = mk(stops, ns);
        for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
            const char *text = texts[t];
            const size_t tl = strlen(text);
            const outcome want = reference(text, stops, ns);
            for (unsigned mask = 0; mask < (1u << (tl - 1)); mask++) {
                outcome o = {.which = -1};
                onc_stop_reset(m);
                size_t start = 0;
                for (size_t i = 1; i <= tl && !o.stopped; i++) {
                    if (i == tl || (mask >> (i - 1)) & 1) {
                        onc_stop_result r;
                        assert_int_equal(onc_stop_feed(m, text + start, i - start, &r, NULL), ONC_OK);
                        take(&o, &r);
                        start = i;
                    }
                }
                if (!o.stopped) {
                    onc_stop_result r;
                    onc_stop_flush(m, &r);
                    take(&o, &r);
                }
                if (o.stopped != want.stopped || o.len != want.len || memcmp(o.text, want.text, o.len) != 0 ||
                    o.which != want.which || o.offset != want.offset)
                    fail_msg("stops=%zu text #%zu cut mask %#x: got '%s' stopped=%d which=%d, want '%s' %d %d", ns,
                             t, mask, o.text, o.stopped, o.which, want.text, want.stopped, want.which);
            }
        }
        onc_stop_free(m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_across_pieces), cmocka_unit_test(test_false_alarm_released),
        cmocka_unit_test(test_overlapping_prefix),  cmocka_unit_test(test_several_stops),
        cmocka_unit_test(test_utf8),                cmocka_unit_test(test_errors),
        cmocka_unit_test(test_every_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
