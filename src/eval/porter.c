/* porter.c — the Porter stemmer exactly as nltk 3.8's PorterStemmer in its
 * default NLTK_EXTENSIONS mode (nltk/stem/porter.py is the specification),
 * for rouge.c (see oncolm/rouge.h, onc_porter_stem). Written in C from that
 * specification and Porter (1980); no code copied. The other two nltk modes
 * (ORIGINAL_ALGORITHM, MARTIN_EXTENSIONS) are not provided.
 *
 * nltk's departures from the 1980 paper that this file reproduces:
 *   - a pool of irregular forms looked up first (sky, skies, dying, lying,
 *     tying, news, innings, inning, outings, outing, cannings, canning,
 *     howe, proceed, exceed, succeed);
 *   - words of one or two characters are returned (lowercased) unchanged;
 *   - 1a: a 4-letter word ending in "ies" keeps "ie" (dies -> die);
 *   - 1b: "ied" becomes "ie" in a 4-letter word, else "i", and step 1b ends;
 *   - 1c: y -> i only after a consonant that is not the first letter;
 *   - 2: "alli" -> "al" is tried first (then step 2 again); "bli" -> "ble"
 *     instead of "abli" -> "able"; extra rules "fulli" -> "ful" and
 *     "logi" -> "log" (condition on the stem plus its "l");
 *   - *o also holds for a two-letter vowel-consonant stem.
 * Rule lists follow nltk's _apply_rule_list: the first rule whose suffix
 * the word ends with decides; if its condition fails the word is returned
 * unchanged (later rules are not tried).
 *
 * Every rule replaces a suffix by one no longer than it, so the stem is
 * built in place in the output buffer and never outgrows the input. */
#include <stdbool.h>
#include <string.h>

#include "oncolm/rouge.h"

// --- letters, measure and the paper's conditions -----------------------------------

static bool is_vowel_letter(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

/* Whether w[i] is a consonant in Porter's sense: not a, e, i, o, u, and not
 * a y that follows a consonant (a y at position 0 is a consonant). A run of
 * y's alternates, so walk back to the first letter before the run. */
static bool is_consonant(const char *w, size_t i) {
    bool flip = false;
    while (w[i] == 'y' && i > 0) {
        i--;
        flip = !flip;
    }
    const bool base = w[i] == 'y' ? true : !is_vowel_letter(w[i]);
    return flip ? !base : base;
}

/* Porter's m of w[0..n): the number of vowel-consonant transitions in its
 * consonant/vowel pattern [C](VC){m}[V]. */
static size_t measure(const char *w, size_t n) {
    size_t m = 0;
    bool prev_cons = true; /* so the first letter never closes a VC */
    for (size_t i = 0; i < n; i++) {
        bool cons;
        if (is_vowel_letter(w[i]))
            cons = false;
        else if (w[i] == 'y')
            cons = i == 0 ? true : !prev_cons;
        else
            cons = true;
        if (!prev_cons && cons) m++;
        prev_cons = cons;
    }
    return m;
}

static bool contains_vowel(const char *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_consonant(w, i)) return true;
    return false;
}

/* *d: w[0..n) ends with a doubled consonant. */
static bool ends_double_consonant(const char *w, size_t n) {
    return n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1);
}

/* *o with nltk's extension: consonant-vowel-consonant at the end with the
 * last not w, x or y; or the whole stem is vowel-consonant (two letters). */
static bool ends_cvc(const char *w, size_t n) {
    if (n >= 3 && is_consonant(w, n - 3) && !is_consonant(w, n - 2) && is_consonant(w, n - 1) &&
        w[n - 1] != 'w' && w[n - 1] != 'x' && w[n - 1] != 'y')
        return true;
    return n == 2 && !is_consonant(w, 0) && is_consonant(w, 1);
}

static bool ends_with(const char *w, size_t n, const char *suffix, size_t slen) {
    return n >= slen && memcmp(w + n - slen, suffix, slen) == 0;
}

// --- rule lists ------------------------------------------------------------------------

typedef enum rule_condition {
    COND_NONE,           /* unconditional */
    COND_MEASURE_GT0,    /* m(stem) > 0 */
    COND_MEASURE_GT1,    /* m(stem) > 1 */
    COND_ION,            /* m(stem) > 1 and the stem ends in s or t */
    COND_LOGI,           /* m(stem + its next letter "l") > 0 (nltk's logi rule) */
} rule_condition;

typedef struct suffix_rule {
    const char *suffix;
    const char *replacement; /* never longer than suffix */
    rule_condition condition;
} suffix_rule;

static bool condition_holds(rule_condition c, const char *w, size_t stem_len) {
    switch (c) {
    case COND_NONE: return true;
    case COND_MEASURE_GT0: return measure(w, stem_len) > 0;
    case COND_MEASURE_GT1: return measure(w, stem_len) > 1;
    case COND_ION:
        return measure(w, stem_len) > 1 && stem_len > 0 && (w[stem_len - 1] == 's' || w[stem_len - 1] == 't');
    case COND_LOGI: return measure(w, stem_len + 1) > 0;
    }
    return false;
}

/* nltk's _apply_rule_list on w[0..n) in place: the first rule whose suffix
 * ends the word decides (replaced when its condition holds, otherwise the
 * word stays as it is). Returns the new length. */
static size_t apply_rules(char *w, size_t n, const suffix_rule *rules, size_t n_rules) {
    for (size_t k = 0; k < n_rules; k++) {
        const size_t slen = strlen(rules[k].suffix);
        if (!ends_with(w, n, rules[k].suffix, slen)) continue;
        const size_t stem_len = n - slen;
        if (!condition_holds(rules[k].condition, w, stem_len)) return n;
        const size_t rlen = strlen(rules[k].replacement);
        memcpy(w + stem_len, rules[k].replacement, rlen);
        return stem_len + rlen;
    }
    return n;
}

#define N_RULES(a) (sizeof(a) / sizeof((a)[0]))

// --- the steps -------------------------------------------------------------------------

static size_t step1a(char *w, size_t n) {
    if (n == 4 && ends_with(w, n, "ies", 3)) return 3; /* "ies" -> "ie" */
    static const suffix_rule rules[] = {
        {"sses", "ss", COND_NONE},
        {"ies", "i", COND_NONE},
        {"ss", "ss", COND_NONE},
        {"s", "", COND_NONE},
    };
    return apply_rules(w, n, rules, N_RULES(rules));
}

static size_t step1b(char *w, size_t n) {
    if (ends_with(w, n, "ied", 3)) {
        if (n == 4) return 3; /* "ied" -> "ie" */
        return n - 2; /* "ied" -> "i" */
    }
    if (ends_with(w, n, "eed", 3)) return measure(w, n - 3) > 0 ? n - 1 : n; /* (m>0) eed -> ee */

    size_t k; /* length of the stem once "ed" or "ing" is removed */
    if (ends_with(w, n, "ed", 2) && contains_vowel(w, n - 2))
        k = n - 2;
    else if (ends_with(w, n, "ing", 3) && contains_vowel(w, n - 3))
        k = n - 3;
    else
        return n;

    /* After a removal: at -> ate, bl -> ble, iz -> ize; a doubled consonant
     * other than l, s, z loses one letter (l, s, z: kept, nothing more);
     * else (m = 1 and *o) adds an e. The literal "*d" branch mirrors nltk,
     * whose rule list matches that text when the stem is not doubled. */
    if (ends_with(w, k, "at", 2) || ends_with(w, k, "bl", 2) || ends_with(w, k, "iz", 2)) {
        w[k] = 'e';
        return k + 1;
    }
    if (ends_double_consonant(w, k)) {
        const char last = w[k - 1];
        return (last == 'l' || last == 's' || last == 'z') ? k : k - 1;
    }
    if (ends_with(w, k, "*d", 2)) {
        w[k - 2] = 'd';
        return k - 1;
    }
    if (measure(w, k) == 1 && ends_cvc(w, k)) {
        w[k] = 'e';
        return k + 1;
    }
    return k;
}

/* (*c and not c) y -> i: the letter before y is a consonant and not the
 * first letter of the word. */
static size_t step1c(char *w, size_t n) {
    if (!ends_with(w, n, "y", 1)) return n;
    const size_t stem_len = n - 1;
    if (stem_len > 1 && is_consonant(w, stem_len - 1)) w[stem_len] = 'i';
    return n;
}

static size_t step2(char *w, size_t n) {
    /* nltk tries alli -> al first, then step 2 again on the result (which
     * ends in "al", so no second "alli"). */
    if (ends_with(w, n, "alli", 4) && measure(w, n - 4) > 0) n -= 2;
    static const suffix_rule rules[] = {
        {"ational", "ate", COND_MEASURE_GT0},
        {"tional", "tion", COND_MEASURE_GT0},
        {"enci", "ence", COND_MEASURE_GT0},
        {"anci", "ance", COND_MEASURE_GT0},
        {"izer", "ize", COND_MEASURE_GT0},
        {"bli", "ble", COND_MEASURE_GT0},
        {"alli", "al", COND_MEASURE_GT0},
        {"entli", "ent", COND_MEASURE_GT0},
        {"eli", "e", COND_MEASURE_GT0},
        {"ousli", "ous", COND_MEASURE_GT0},
        {"ization", "ize", COND_MEASURE_GT0},
        {"ation", "ate", COND_MEASURE_GT0},
        {"ator", "ate", COND_MEASURE_GT0},
        {"alism", "al", COND_MEASURE_GT0},
        {"iveness", "ive", COND_MEASURE_GT0},
        {"fulness", "ful", COND_MEASURE_GT0},
        {"ousness", "ous", COND_MEASURE_GT0},
        {"aliti", "al", COND_MEASURE_GT0},
        {"iviti", "ive", COND_MEASURE_GT0},
        {"biliti", "ble", COND_MEASURE_GT0},
        {"fulli", "ful", COND_MEASURE_GT0},
        {"logi", "log", COND_LOGI},
    };
    return apply_rules(w, n, rules, N_RULES(rules));
}

static size_t step3(char *w, size_t n) {
    static const suffix_rule rules[] = {
        {"icate", "ic", COND_MEASURE_GT0}, {"ative", "", COND_MEASURE_GT0}, {"alize", "al", COND_MEASURE_GT0},
        {"iciti", "ic", COND_MEASURE_GT0}, {"ical", "ic", COND_MEASURE_GT0}, {"ful", "", COND_MEASURE_GT0},
        {"ness", "", COND_MEASURE_GT0},
    };
    return apply_rules(w, n, rules, N_RULES(rules));
}

static size_t step4(char *w, size_t n) {
    static const suffix_rule rules[] = {
        {"al", "", COND_MEASURE_GT1},   {"ance", "", COND_MEASURE_GT1}, {"ence", "", COND_MEASURE_GT1},
        {"er", "", COND_MEASURE_GT1},   {"ic", "", COND_MEASURE_GT1},   {"able", "", COND_MEASURE_GT1},
        {"ible", "", COND_MEASURE_GT1}, {"ant", "", COND_MEASURE_GT1},  {"ement", "", COND_MEASURE_GT1},
        {"ment", "", COND_MEASURE_GT1}, {"ent", "", COND_MEASURE_GT1},  {"ion", "", COND_ION},
        {"ou", "", COND_MEASURE_GT1},   {"ism", "", COND_MEASURE_GT1},  {"ate", "", COND_MEASURE_GT1},
        {"iti", "", COND_MEASURE_GT1},  {"ous", "", COND_MEASURE_GT1},  {"ive", "", COND_MEASURE_GT1},
        {"ize", "", COND_MEASURE_GT1},
    };
    return apply_rules(w, n, rules, N_RULES(rules));
}

/* (m>1) e -> ; (m=1 and not *o) e -> (both conditions tried). */
static size_t step5a(const char *w, size_t n) {
    if (!ends_with(w, n, "e", 1)) return n;
    const size_t m = measure(w, n - 1);
    if (m > 1 || (m == 1 && !ends_cvc(w, n - 1))) return n - 1;
    return n;
}

/* (m>1 and *d and *L) -> single letter; nltk measures the word minus its
 * last letter. */
static size_t step5b(const char *w, size_t n) {
    if (ends_with(w, n, "ll", 2) && measure(w, n - 1) > 1) return n - 1;
    return n;
}

// --- entry point ---------------------------------------------------------------------

typedef struct irregular_form {
    const char *word, *stem;
} irregular_form;

static const irregular_form IRREGULAR_FORMS[] = {
    {"sky", "sky"},         {"skies", "sky"},      {"dying", "die"},          {"lying", "lie"},
    {"tying", "tie"},       {"news", "news"},      {"innings", "inning"},     {"inning", "inning"},
    {"outings", "outing"},  {"outing", "outing"},  {"cannings", "canning"},   {"canning", "canning"},
    {"howe", "howe"},       {"proceed", "proceed"}, {"exceed", "exceed"},     {"succeed", "succeed"},
};

size_t onc_porter_stem(const char *word, size_t len, char *out) {
    /* The pool is consulted with the word as given (nltk: `word in pool`),
     * so "Skies" is stemmed by the rules while "skies" is not. */
    for (size_t k = 0; k < N_RULES(IRREGULAR_FORMS); k++) {
        const size_t wl = strlen(IRREGULAR_FORMS[k].word);
        if (wl == len && memcmp(word, IRREGULAR_FORMS[k].word, len) == 0) {
            const size_t sl = strlen(IRREGULAR_FORMS[k].stem);
            memmove(out, IRREGULAR_FORMS[k].stem, sl);
            out[sl] = '\0';
            return sl;
        }
    }
    for (size_t i = 0; i < len; i++) {
        const char c = word[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    size_t n = len;
    if (n > 2) {
        n = step1a(out, n);
        n = step1b(out, n);
        n = step1c(out, n);
        n = step2(out, n);
        n = step3(out, n);
        n = step4(out, n);
        n = step5a(out, n);
        n = step5b(out, n);
    }
    out[n] = '\0';
    return n;
}
