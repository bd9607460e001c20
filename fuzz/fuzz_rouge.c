/* fuzz_rouge.c — libFuzzer target for oncolm/rouge.h. The input is split
 * at its first NUL byte (target before, prediction after; without a NUL,
 * in the middle) and scored with and without the Porter stemmer. Checks:
 * only ONC_ERR_NOMEM may fail; every precision, recall and F is in [0, 1],
 * and F lies between min(P, R) and max(P, R) (a harmonic mean; 4 ulps of
 * slack); the token counts equal onc_rouge_count_tokens and the tokenizer's
 * count, every token is [a-z0-9]+ and lines never decrease; swapping target
 * and prediction exchanges P and R of ROUGE-1, ROUGE-2 and ROUGE-L exactly;
 * a text against itself scores 1 on ROUGE-1, L and Lsum when it has tokens;
 * the Porter stem of the whole input (as one word) is no longer than it.
 * The swap and self checks run on inputs up to 8 KiB (the LCS tables are
 * quadratic). Replayed over fuzz/corpus/rouge/ by ctest (replay.fuzz_rouge). */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/rouge.h"

static void check_prf(const onc_rouge_prf *s) {
    const double p = s->precision, r = s->recall, f = s->fmeasure;
    if (!(p >= 0 && p <= 1 && r >= 0 && r <= 1 && f >= 0 && f <= 1)) __builtin_trap();
    const double hi = p > r ? p : r, lo = p > r ? r : p;
    if (f > hi * (1 + 4 * DBL_EPSILON) || f < lo * (1 - 4 * DBL_EPSILON)) __builtin_trap();
}

static void check_swap(const onc_rouge_prf *a, const onc_rouge_prf *b) {
    if (a->precision != b->recall || a->recall != b->precision || a->fmeasure != b->fmeasure) __builtin_trap();
}

static bool score(const char *t, size_t tl, const char *p, size_t pl, bool stem, onc_rouge_scores *s) {
    onc_error err = {0};
    if (onc_rouge_score(t, tl, p, pl, stem, s, &err) != ONC_OK) {
        if (err.code != ONC_ERR_NOMEM) __builtin_trap();
        return false;
    }
    check_prf(&s->rouge1);
    check_prf(&s->rouge2);
    check_prf(&s->rougeL);
    check_prf(&s->rougeLsum);
    return true;
}

static void check_tokens(const char *text, size_t len, bool stem, int64_t expected) {
    onc_rouge_tokens tk;
    onc_error err = {0};
    if (onc_rouge_tokenize(text, len, stem, &tk, &err) != ONC_OK) return;
    if ((int64_t)tk.n != expected || onc_rouge_count_tokens(text, len) != expected) __builtin_trap();
    for (size_t i = 0; i < tk.n; i++) {
        const char *w = tk.tokens[i];
        if (!*w) __builtin_trap();
        for (; *w; w++)
            if (!((*w >= 'a' && *w <= 'z') || (*w >= '0' && *w <= '9'))) __builtin_trap();
        if (i > 0 && tk.lines[i] < tk.lines[i - 1]) __builtin_trap();
    }
    onc_rouge_tokens_free(&tk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    const size_t tl = nul ? (size_t)(nul - text) : size / 2;
    const char *pred = nul ? nul + 1 : text + tl;
    const size_t pl = size - tl - (nul ? 1 : 0);
    for (int stem = 0; stem < 2; stem++) {
        onc_rouge_scores s, swapped, self;
        if (!score(text, tl, pred, pl, stem, &s)) continue;
        check_tokens(text, tl, stem, s.target_tokens);
        check_tokens(pred, pl, stem, s.prediction_tokens);
        if (size > 8192) continue;
        if (score(pred, pl, text, tl, stem, &swapped)) {
            check_swap(&s.rouge1, &swapped.rouge1);
            check_swap(&s.rouge2, &swapped.rouge2);
            check_swap(&s.rougeL, &swapped.rougeL);
        }
        if (score(text, tl, text, tl, stem, &self) && self.target_tokens > 0)
            if (self.rouge1.fmeasure != 1 || self.rougeL.fmeasure != 1 || self.rougeLsum.fmeasure != 1)
                __builtin_trap();
    }
    char *out = malloc(size + 1);
    if (out) {
        if (onc_porter_stem(text, size, out) > size || strlen(out) > size) __builtin_trap();
        free(out);
    }
    return 0;
}
