/* test_utf8.c — onc_utf8_seq_len against the well-formed byte sequences of
 * Unicode table 3-7 and the classic malformed cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/utf8.h"

static size_t len_of(const char *s, size_t n) { return onc_utf8_seq_len((const unsigned char *)s, n); }

static void test_well_formed(void **state) {
    (void)state;
    assert_int_equal(len_of("a", 1), 1);
    assert_int_equal(len_of("\n", 1), 1);
    assert_int_equal(len_of("\x7f", 1), 1);
    assert_int_equal(len_of("\xc2\x80", 2), 2);           /* U+0080 */
    assert_int_equal(len_of("\xdf\xbf", 2), 2);           /* U+07FF */
    assert_int_equal(len_of("\xe0\xa0\x80", 3), 3);       /* U+0800 */
    assert_int_equal(len_of("\xed\x9f\xbf", 3), 3);       /* U+D7FF */
    assert_int_equal(len_of("\xee\x80\x80", 3), 3);       /* U+E000 */
    assert_int_equal(len_of("\xe2\x96\x81", 3), 3);       /* U+2581 */
    assert_int_equal(len_of("\xf0\x90\x80\x80", 4), 4);   /* U+10000 */
    assert_int_equal(len_of("\xf4\x8f\xbf\xbf", 4), 4);   /* U+10FFFF */
    assert_int_equal(len_of("\xf0\x9f\x98\x80xyz", 7), 4); /* emoji, more text after */
}

static void test_malformed(void **state) {
    (void)state;
    assert_int_equal(len_of("", 0), 0);
    assert_int_equal(len_of("\x80", 1), 0);               /* lone continuation */
    assert_int_equal(len_of("\xc0\xaf", 2), 0);           /* overlong '/' */
    assert_int_equal(len_of("\xc1\xbf", 2), 0);           /* overlong */
    assert_int_equal(len_of("\xe0\x80\xaf", 3), 0);       /* overlong 3-byte */
    assert_int_equal(len_of("\xf0\x80\x80\xaf", 4), 0);   /* overlong 4-byte */
    assert_int_equal(len_of("\xed\xa0\x80", 3), 0);       /* surrogate U+D800 */
    assert_int_equal(len_of("\xed\xbf\xbf", 3), 0);       /* surrogate U+DFFF */
    assert_int_equal(len_of("\xf4\x90\x80\x80", 4), 0);   /* U+110000 */
    assert_int_equal(len_of("\xf5\x80\x80\x80", 4), 0);
    assert_int_equal(len_of("\xff", 1), 0);
    assert_int_equal(len_of("\xe2\x96", 2), 0);           /* truncated */
    assert_int_equal(len_of("\xe2\x96\x81", 2), 0);       /* n cuts the sequence */
    assert_int_equal(len_of("\xe2\x41\x81", 3), 0);       /* bad continuation */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_formed),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
