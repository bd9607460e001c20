/* test_rouge.c — oncolm/rouge.h on hand-computed cases (the arithmetic is
 * in the comments; tests/oracle/test_rouge_oracle.py compares thousands of
 * random items with a Python re-implementation and nltk):
 * - ROUGE-1/2/L/Lsum of "the cat sat on the mat" vs "the cat lay on the
 *   mat", and of the rouge-score README example with the stemmer;
 * - edge cases: empty target, empty prediction, both empty, punctuation
 *   only, no overlap (F = 0, not NaN), NULL texts;
 * - ROUGE-Lsum: sentence order (Lsum 1 where L is 0.5) with "\n\n" and
 *   whitespace lines, clipped token counts, rouge-score's backtracking tie
 *   rule deciding a hit;
 * - stemming changing a match ("Treatments" vs "treatment");
 * - Porter stems of the examples in Porter (1980) and nltk's docstrings
 *   (expected values: nltk 3.8 PorterStemmer().stem, Debian python3-nltk);
 * - tokenizer: case, digits, U+0130, U+212A, other non-ASCII, NUL, invalid
 *   UTF-8, line numbers;
 * - means, length statistics, the ROUGE-Lsum size limit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/rouge.h"

#define EPS 1e-15

/* |got - want| <= eps, printing both on failure (this cmocka has no
 * assert_double_equal). */
#define assert_near(got, want, eps) assert_near_at((got), (want), (eps), #got, __LINE__)
static void assert_near_at(double got, double want, double eps, const char *what, int line) {
    if (!(fabs(got - want) <= eps)) fprintf(stderr, "line %d: %s = %.17g, want %.17g\n", line, what, got, want);
    assert_true(fabs(got - want) <= eps);
}

static onc_rouge_scores score_of(const char *target, const char *prediction, bool stem) {
    onc_rouge_scores s;
    onc_error err = {0};
    const onc_status st = onc_rouge_score(target, strlen(target), prediction, strlen(prediction), stem, &s, &err);
    if (st != ONC_OK) fprintf(stderr, "rouge: %s\n", err.msg);
    assert_int_equal(st, ONC_OK);
    return s;
}

static void assert_prf(const onc_rouge_prf *s, double p, double r, double f) {
    assert_near(s->precision, p, EPS);
    assert_near(s->recall, r, EPS);
    assert_near(s->fmeasure, f, EPS);
}

static void assert_all_zero(const onc_rouge_scores *s) {
    assert_prf(&s->rouge1, 0, 0, 0);
    assert_prf(&s->rouge2, 0, 0, 0);
    assert_prf(&s->rougeL, 0, 0, 0);
    assert_prf(&s->rougeLsum, 0, 0, 0);
}

/* target  the cat sat on the mat   (6 tokens)
 * predict the cat lay on the mat   (6 tokens)
 * rouge1: target counts the 2, cat, sat, on, mat; prediction the 2, cat,
 *   lay, on, mat -> overlap 2+1+0+1+1 = 5: P = R = F = 5/6.
 * rouge2: target bigrams the-cat cat-sat sat-on on-the the-mat, prediction
 *   the-cat cat-lay lay-on on-the the-mat -> overlap 3 of 5: 0.6.
 * rougeL: LCS "the cat on the mat" = 5 -> 5/6. rougeLsum (one line each):
 *   the union LCS is the same 5 tokens, all within both counts -> 5/6. */
static void test_cat_mat(void **state) {
    (void)state;
    const onc_rouge_scores s = score_of("the cat sat on the mat", "the cat lay on the mat", false);
    assert_prf(&s.rouge1, 5.0 / 6, 5.0 / 6, 5.0 / 6);
    assert_prf(&s.rouge2, 0.6, 0.6, 0.6);
    assert_prf(&s.rougeL, 5.0 / 6, 5.0 / 6, 5.0 / 6);
    assert_prf(&s.rougeLsum, 5.0 / 6, 5.0 / 6, 5.0 / 6);
    assert_int_equal(s.target_tokens, 6);
    assert_int_equal(s.prediction_tokens, 6);
}

/* rouge-score README: RougeScorer(['rouge1', 'rougeL'], use_stemmer=True)
 * .score('The quick brown fox jumps over the lazy dog',
 *        'The quick brown dog jumps on the log.')
 * Stems (tokens longer than 3): jumps -> jump, lazy -> lazi, quick, brown,
 * over stay; "log" has 3 letters and is not stemmed.
 *   target     the quick brown fox jump over the lazi dog   (9)
 *   prediction the quick brown dog jump on the log          (8)
 * rouge1: overlap the 2 + quick + brown + dog + jump = 6: P = 6/8 = 0.75,
 *   R = 6/9 = 2/3, F = 2 (3/4)(2/3) / (3/4 + 2/3) = 1 / (17/12) = 12/17.
 * rouge2: target bigrams 8, prediction 7, common the-quick quick-brown = 2:
 *   P = 2/7, R = 2/8, F = 2 (2/7)(1/4) / (2/7 + 1/4) = (1/7) / (15/28) = 4/15.
 * rougeL: LCS "the quick brown jump the" = 5 ("dog" ends the target, so
 *   taking it leaves only 4): P = 5/8, R = 5/9, F = (50/72) / (85/72) = 10/17.
 * rougeLsum: one line each, union LCS = those 5 tokens, all hits: as rougeL. */
static void test_readme_example(void **state) {
    (void)state;
    const onc_rouge_scores s =
        score_of("The quick brown fox jumps over the lazy dog", "The quick brown dog jumps on the log.", true);
    assert_prf(&s.rouge1, 0.75, 2.0 / 3, 12.0 / 17);
    assert_prf(&s.rouge2, 2.0 / 7, 0.25, 4.0 / 15);
    assert_prf(&s.rougeL, 0.625, 5.0 / 9, 10.0 / 17);
    assert_prf(&s.rougeLsum, 0.625, 5.0 / 9, 10.0 / 17);
    assert_int_equal(s.target_tokens, 9);
    assert_int_equal(s.prediction_tokens, 8);
}

/* Empty or token-free texts: ROUGE-N divides by max(count, 1) -> 0/1 = 0;
 * ROUGE-L and Lsum return (0, 0, 0) when either side has no token. No
 * overlap gives P = R = 0 and F = 0 (not 0/0). */
static void test_edges(void **state) {
    (void)state;
    onc_rouge_scores s = score_of("", "a b", false);
    assert_all_zero(&s);
    assert_int_equal(s.target_tokens, 0);
    assert_int_equal(s.prediction_tokens, 2);
    s = score_of("a b", "", true);
    assert_all_zero(&s);
    s = score_of("", "", false);
    assert_all_zero(&s);
    s = score_of("the patient", "?! ... -- ()", false);
    assert_all_zero(&s);
    assert_int_equal(s.prediction_tokens, 0);
    s = score_of("\n\n  \n", "\n", false);
    assert_all_zero(&s);
    s = score_of("alpha beta", "gamma delta", false);
    assert_all_zero(&s);
    assert_false(isnan(s.rouge1.fmeasure));

    onc_error err = {0};
    assert_int_equal(onc_rouge_score(NULL, 0, NULL, 0, false, &s, &err), ONC_OK);
    assert_all_zero(&s);
    assert_int_equal(onc_rouge_score(NULL, 3, "abc", 3, false, &s, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "target"));
    assert_int_equal(onc_rouge_score("abc", 3, NULL, 1, false, &s, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "prediction"));
    assert_int_equal(onc_rouge_score("abc", 3, "abc", 3, false, NULL, &err), ONC_ERR_INVALID);
}

/* Sentence order, with an empty line and lines of spaces/tab (kept as
 * sentences by rouge-score, but without tokens):
 *   target     "the cat sat" "" "   " "on the mat"    -> t1 = the cat sat, t2 = on the mat
 *   prediction "" "on the mat" "\t" "the cat sat"     -> p1 = on the mat, p2 = the cat sat
 * rougeL over the whole texts: the cat sat on the mat vs on the mat the cat
 *   sat: LCS 3 ("the cat sat") -> 3/6 = 0.5.
 * rougeLsum: t1 with p1: "the"; with p2: all 3 -> union the cat sat, all
 *   hits (the: 2 in both counts). t2 with p1: all 3 -> on the mat, hits
 *   (the: 1 left on each side). hits = 6 of 6 and 6: P = R = F = 1.
 * rouge2: target bigrams the-cat cat-sat sat-on on-the the-mat; prediction
 *   on-the the-mat mat-the the-cat cat-sat: 4 of 5 -> 0.8. */
static void test_lsum_order(void **state) {
    (void)state;
    const onc_rouge_scores s = score_of("the cat sat\n\n   \non the mat\n", "\non the mat\n\t\nthe cat sat", false);
    assert_prf(&s.rouge1, 1, 1, 1);
    assert_prf(&s.rouge2, 0.8, 0.8, 0.8);
    assert_prf(&s.rougeL, 0.5, 0.5, 0.5);
    assert_prf(&s.rougeLsum, 1, 1, 1);
}

/* Clipped counts: target lines "cat sat" twice, prediction one line "cat
 * sat" (n = 2, m = 4). Line 1: union cat sat, both hits (counts c: 1 each,
 * r: 2 each). Line 2: the prediction's counts are used up -> no hit.
 * hits 2: P = 2/2 = 1, R = 2/4 = 0.5, F = 1 / 1.5 = 2/3.
 * rouge2: target bigrams cat-sat sat-cat cat-sat (3), prediction cat-sat:
 *   overlap 1 -> P = 1, R = 1/3, F = (2/3) / (4/3) = 0.5. */
static void test_lsum_clipped(void **state) {
    (void)state;
    const onc_rouge_scores s = score_of("cat sat\ncat sat", "cat sat", false);
    assert_prf(&s.rougeLsum, 1, 0.5, 2.0 / 3);
    assert_prf(&s.rouge1, 1, 0.5, 2.0 / 3);
    assert_prf(&s.rouge2, 1, 1.0 / 3, 0.5);
}

/* The backtracking tie rule decides a hit. target lines r1 = alpha beta,
 * r2 = alpha; prediction one line beta alpha. LCS(r1, p) has length 1 and
 * two choices; from the corner (2,2): beta != alpha, table[2][1] = 1 is not
 * > table[1][2] = 1, so go up (i -= 1) to (1,2): alpha == alpha -> r1's
 * union is {alpha}: hit (prediction count of alpha 1 -> 0). r2 = alpha:
 * the prediction has no alpha left -> no hit. hits = 1, m = 3, n = 2:
 * P = 1/2, R = 1/3, F = (1/3) / (5/6) = 0.4. (Breaking the tie to the left
 * would pick beta first and give 2 hits.)
 * Whole texts: rouge1 overlap beta + alpha = 2: P = 1, R = 2/3, F = 0.8;
 * rougeL: LCS "beta alpha" = 2: the same. */
static void test_lsum_tie_rule(void **state) {
    (void)state;
    const onc_rouge_scores s = score_of("alpha beta\nalpha", "beta alpha", false);
    assert_prf(&s.rougeLsum, 0.5, 1.0 / 3, 0.4);
    assert_prf(&s.rouge1, 1, 2.0 / 3, 0.8);
    assert_prf(&s.rougeL, 1, 2.0 / 3, 0.8);
}

/* "Treatments were given" vs "treatment was given": without the stemmer
 * only "given" matches (1/3); with it treatments -> treatment (were and
 * given are unchanged; "was" has 3 letters) -> 2/3. */
static void test_stemming_changes_match(void **state) {
    (void)state;
    onc_rouge_scores s = score_of("Treatments were given", "treatment was given", false);
    assert_prf(&s.rouge1, 1.0 / 3, 1.0 / 3, 1.0 / 3);
    s = score_of("Treatments were given", "treatment was given", true);
    assert_prf(&s.rouge1, 2.0 / 3, 2.0 / 3, 2.0 / 3);
    assert_prf(&s.rougeL, 2.0 / 3, 2.0 / 3, 2.0 / 3);
    assert_prf(&s.rouge2, 0, 0, 0);
}

/* Porter (1980) examples and nltk's extensions; expected values are nltk
 * 3.8 PorterStemmer().stem (Debian python3-nltk), which differ from the
 * paper where nltk changed the rules (ties -> tie, happy -> happi, ...). */
static void test_porter(void **state) {
    (void)state;
    static const char *pairs[][2] = {
        {"caresses", "caress"}, {"ponies", "poni"},         {"ties", "tie"},           {"cats", "cat"},
        {"feed", "feed"},       {"agreed", "agre"},         {"plastered", "plaster"},  {"bled", "bled"},
        {"motoring", "motor"},  {"sing", "sing"},           {"conflated", "conflat"},  {"troubled", "troubl"},
        {"sized", "size"},      {"hopping", "hop"},         {"tanned", "tan"},         {"falling", "fall"},
        {"hissing", "hiss"},    {"fizzed", "fizz"},         {"failing", "fail"},       {"filing", "file"},
        {"happy", "happi"},     {"sky", "sky"},             {"skies", "sky"},          {"dying", "die"},
        {"news", "news"},       {"innings", "inning"},      {"relational", "relat"},   {"conditional", "condit"},
        {"rational", "ration"}, {"radicalli", "radic"},     {"vileli", "vile"},        {"analogousli", "analog"},
        {"feudalism", "feudal"}, {"hopefulness", "hope"},   {"sensibiliti", "sensibl"}, {"triplicate", "triplic"},
        {"formative", "form"},  {"electrical", "electr"},   {"goodness", "good"},      {"revival", "reviv"},
        {"allowance", "allow"}, {"airliner", "airlin"},     {"gyroscopic", "gyroscop"}, {"replacement", "replac"},
        {"adoption", "adopt"},  {"homologous", "homolog"},  {"bowdlerize", "bowdler"}, {"probate", "probat"},
        {"rate", "rate"},       {"cease", "ceas"},          {"controll", "control"},   {"roll", "roll"},
        {"enjoy", "enjoy"},     {"flies", "fli"},           {"dies", "die"},           {"spied", "spi"},
        {"died", "die"},        {"generalization", "gener"}, {"archaeology", "archaeolog"},
        {"geology", "geolog"},  {"treatments", "treatment"}, {"lazy", "lazi"},         {"jumps", "jump"},
        {"Skies", "ski"},       {"SKY", "ski"},             {"proceed", "proceed"},    {"exceeding", "exceed"},
        {"a", "a"},             {"Is", "is"},
    };
    char out[64];
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        const size_t n = onc_porter_stem(pairs[k][0], strlen(pairs[k][0]), out);
        if (strcmp(out, pairs[k][1]) != 0) fprintf(stderr, "stem(%s) = %s, want %s\n", pairs[k][0], out, pairs[k][1]);
        assert_string_equal(out, pairs[k][1]);
        assert_int_equal(n, strlen(pairs[k][1]));
    }
    /* in place */
    char buf[] = "generalizations";
    assert_int_equal(onc_porter_stem(buf, strlen(buf), buf), 5);
    assert_string_equal(buf, "gener");
}

static void expect_tokens(const char *text, size_t len, bool stem, const char *joined, const char *lines) {
    onc_rouge_tokens t;
    onc_error err = {0};
    assert_int_equal(onc_rouge_tokenize(text, len, stem, &t, &err), ONC_OK);
    char got[512] = "", got_lines[512] = "";
    for (size_t i = 0; i < t.n; i++) {
        if (i) strcat(got, " "), strcat(got_lines, " ");
        strcat(got, t.tokens[i]);
        snprintf(got_lines + strlen(got_lines), sizeof got_lines - strlen(got_lines), "%lld", (long long)t.lines[i]);
    }
    assert_string_equal(got, joined);
    assert_string_equal(got_lines, lines);
    assert_int_equal(onc_rouge_count_tokens(text, len), (int64_t)t.n);
    onc_rouge_tokens_free(&t);
    onc_rouge_tokens_free(&t); /* a freed struct is zeroed: freeing again is harmless */
}

/* Python: "İ".lower() == "i\u0307" (then a separator), "\u212a".lower() ==
 * "k"; every other non-ASCII character is a separator (é, ß, 中); invalid
 * bytes and NUL are separators too. */
static void test_tokenizer(void **state) {
    (void)state;
    const char *t1 = "The T2N1M0 tumour, 5.5cm; HER2-positive!";
    expect_tokens(t1, strlen(t1), false, "the t2n1m0 tumour 5 5cm her2 positive", "0 0 0 0 0 0 0");
    const char *t2 = "\xC4\xB0stanbul 5\xE2\x84\xAAg caf\xC3\xA9 stra\xC3\x9F" "e \xE4\xB8\xAD" "x";
    expect_tokens(t2, strlen(t2), false, "i stanbul 5kg caf stra e x", "0 0 0 0 0 0 0");
    const char t3[] = "a\0b\xFF" "c\xC4" "d\xE2\x84" "e\n\nf \r\ng";
    expect_tokens(t3, sizeof t3 - 1, false, "a b c d e f g", "0 0 0 0 0 2 3");
    const char *t4 = "Running patients\nwere treated daily";
    expect_tokens(t4, strlen(t4), true, "run patient were treat daili", "0 0 1 1 1");
    expect_tokens("", 0, true, "", "");
    expect_tokens(NULL, 0, false, "", "");
    onc_rouge_tokens t;
    onc_error err = {0};
    assert_int_equal(onc_rouge_tokenize(NULL, 2, false, &t, &err), ONC_ERR_INVALID);
    assert_int_equal(t.n, 0);
    onc_rouge_tokens_free(NULL);
    assert_int_equal(onc_rouge_count_tokens(NULL, 5), 0);
}

/* Means: items (cat/mat: 5/6 everywhere, rouge2 0.6) and (empty: 0):
 * rouge1 mean (5/6 + 0) / 2 = 5/12; rouge2 0.3; token totals 6+0, 6+2.
 * No items: NaN means. */
static void test_means(void **state) {
    (void)state;
    onc_rouge_scores items[2];
    items[0] = score_of("the cat sat on the mat", "the cat lay on the mat", false);
    items[1] = score_of("", "a b", false);
    onc_rouge_scores m;
    onc_rouge_mean(items, 2, &m);
    assert_prf(&m.rouge1, 5.0 / 12, 5.0 / 12, 5.0 / 12);
    assert_prf(&m.rouge2, 0.3, 0.3, 0.3);
    assert_prf(&m.rougeLsum, 5.0 / 12, 5.0 / 12, 5.0 / 12);
    assert_int_equal(m.target_tokens, 6);
    assert_int_equal(m.prediction_tokens, 8);
    onc_rouge_mean(items, 0, &m);
    assert_true(isnan(m.rouge1.precision) && isnan(m.rougeLsum.fmeasure));
    assert_int_equal(m.target_tokens, 0);
}

/* Lengths (prediction, target): (3, 4), (5, 0), (1, 2), (2, 2).
 * prediction mean 11/4 = 2.75, sorted 1 2 3 5 -> median (2 + 3)/2 = 2.5,
 * min 1, max 5; target mean 8/4 = 2, sorted 0 2 2 4 -> median 2, min 0,
 * max 4; ratios 3/4, 1/2, 1 (the item with target 0 has none) -> mean
 * 2.25/3 = 0.75, n_ratio 3; ratio of totals 11/8. */
static void test_lengths(void **state) {
    (void)state;
    onc_rouge_scores items[4];
    memset(items, 0, sizeof items);
    const int64_t lp[4] = {3, 5, 1, 2}, lt[4] = {4, 0, 2, 2};
    for (int i = 0; i < 4; i++) items[i].prediction_tokens = lp[i], items[i].target_tokens = lt[i];
    onc_rouge_lengths L;
    onc_error err = {0};
    assert_int_equal(onc_rouge_length_stats(items, 4, &L, &err), ONC_OK);
    assert_int_equal(L.n_items, 4);
    assert_near(L.prediction_mean, 2.75, EPS);
    assert_near(L.prediction_median, 2.5, EPS);
    assert_int_equal(L.prediction_min, 1);
    assert_int_equal(L.prediction_max, 5);
    assert_near(L.target_mean, 2.0, EPS);
    assert_near(L.target_median, 2.0, EPS);
    assert_int_equal(L.target_min, 0);
    assert_int_equal(L.target_max, 4);
    assert_near(L.ratio_mean, 0.75, EPS);
    assert_int_equal(L.n_ratio, 3);
    assert_near(L.ratio_of_totals, 11.0 / 8, EPS);
    assert_true(isnan(onc_rouge_length_ratio(&items[1])));
    assert_near(onc_rouge_length_ratio(&items[0]), 0.75, EPS);

    assert_int_equal(onc_rouge_length_stats(items, 0, &L, &err), ONC_OK);
    assert_true(isnan(L.prediction_mean) && isnan(L.target_median) && isnan(L.ratio_mean));
    assert_int_equal(L.n_items, 0);
    assert_int_equal(onc_rouge_length_stats(NULL, 3, &L, &err), ONC_ERR_INVALID);
}

/* Long texts: identical texts of 3,000 tokens on 300 lines score 1 on
 * every measure; one line of 46,341 tokens on each side needs 46,341^2 >
 * 2^31 ROUGE-Lsum cells: refused with a clear message before any work. */
static void test_large(void **state) {
    (void)state;
    const size_t n = 3000;
    char *text = malloc(n * 6 + 1);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) pos += (size_t)sprintf(text + pos, "w%02zu%c", i % 97, i % 10 == 9 ? '\n' : ' ');
    onc_rouge_scores s = score_of(text, text, true);
    assert_prf(&s.rouge1, 1, 1, 1);
    assert_prf(&s.rouge2, 1, 1, 1);
    assert_prf(&s.rougeL, 1, 1, 1);
    assert_prf(&s.rougeLsum, 1, 1, 1);
    assert_int_equal(s.target_tokens, (int64_t)n);
    free(text);

    const size_t big = 46341;
    char *line = malloc(2 * big + 1);
    for (size_t i = 0; i < big; i++) line[2 * i] = 'a', line[2 * i + 1] = ' ';
    line[2 * big] = '\0';
    onc_error err = {0};
    assert_int_equal(onc_rouge_score(line, 2 * big, line, 2 * big, false, &s, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "rougeLsum"));
    assert_non_null(strstr(err.msg, "46341"));
    assert_all_zero(&s);
    free(line);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cat_mat),       cmocka_unit_test(test_readme_example),
        cmocka_unit_test(test_edges),         cmocka_unit_test(test_lsum_order),
        cmocka_unit_test(test_lsum_clipped),  cmocka_unit_test(test_lsum_tie_rule),
        cmocka_unit_test(test_stemming_changes_match), cmocka_unit_test(test_porter),
        cmocka_unit_test(test_tokenizer),     cmocka_unit_test(test_means),
        cmocka_unit_test(test_lengths),       cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
