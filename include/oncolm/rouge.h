/* oncolm/rouge.h — ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum as Google's
 * rouge-score 0.1.2 (google-research/rouge: rouge_score/tokenize.py,
 * rouge_scorer.py), with its Porter stemmer (nltk 3.8 PorterStemmer in the
 * default NLTK_EXTENSIONS mode), per item and as means; length statistics
 * of generated texts.
 *
 * Every per-item number equals RougeScorer(["rouge1", "rouge2", "rougeL",
 * "rougeLsum"], use_stemmer=...).score(target, prediction) bit for bit (the
 * same integer counts and the same IEEE operations in the same order):
 *
 *   tokens     text.lower(); runs of [a-z0-9] are the tokens, everything else
 *              separates them; with the stemmer, tokens longer than 3
 *              characters are replaced by their Porter stem.
 *   ROUGE-N    n-gram multisets (n = 1, 2); overlap = sum of min counts;
 *              P = overlap / max(#prediction n-grams, 1),
 *              R = overlap / max(#target n-grams, 1).
 *   ROUGE-L    LCS of the two token lists; P = lcs / #prediction tokens,
 *              R = lcs / #target tokens; (0, 0, 0) when either is empty.
 *   ROUGE-Lsum sentences = lines (split on "\n" only, rouge-score's
 *              split_summaries=False); summary-level union LCS with
 *              rouge-score's backtracking and clipped token counts.
 *   F          2 P R / (P + R), 0 when P + R == 0 (never NaN).
 *
 * Text is UTF-8. After Python's full Unicode lowercasing only ASCII letters
 * and digits survive, and exactly two non-ASCII characters lower to ASCII
 * letters (checked over every code point with Python 3.11): U+0130 'İ' ->
 * "i" + U+0307 (an "i" followed by a separator) and U+212A KELVIN SIGN ->
 * "k". Every other non-ASCII character, NUL, and every byte of invalid
 * UTF-8 is a separator (Python could not decode invalid UTF-8 at all; this
 * equals decoding with errors="replace", since U+FFFD is a separator too).
 *
 * Means are arithmetic means of the per-item precision, recall and F
 * (summed left to right), i.e. what HF evaluate's rouge reports with
 * use_aggregator=False followed by a mean; its default bootstrap aggregate
 * is unseeded and therefore not imitated.
 *
 * Library code: never prints, never exits; errors go to an onc_error.
 * Thread-safety: every function is reentrant (no global state). */
#ifndef ONCOLM_ROUGE_H
#define ONCOLM_ROUGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Porter stemmer ----------------------------------------------------------- */

/* Porter stem of word[0..len) into out, as nltk 3.8
 * PorterStemmer().stem(word) (mode NLTK_EXTENSIONS): the irregular-forms
 * pool (looked up with the word as given, before lowercasing, as nltk
 * does), words of 1-2 characters returned lowercased, then steps 1a, 1b,
 * 1c, 2, 3, 4, 5a, 5b with nltk's rule changes. ASCII A-Z are lowercased;
 * every other byte is taken as it is and counts as a consonant (the rules
 * are defined on ASCII words: what rouge passes is always [a-z0-9]+).
 * No rule lengthens a word, so out must hold len + 1 bytes; it receives the
 * stem and a terminating NUL. Returns the stem's length (<= len). word and
 * out may be the same buffer. */
size_t onc_porter_stem(const char *word, size_t len, char *out);

/* ---- tokenizer ------------------------------------------------------------------ */

typedef struct onc_rouge_tokens {
    char **tokens;  /* n NUL-terminated tokens ([a-z0-9]+), pointing into one block */
    int64_t *lines; /* n line indexes: 0-based number of '\n' before the token */
    size_t n;
    char *block_;   /* owned storage (internal) */
} onc_rouge_tokens;

/* Tokens of text[0..len) as rouge-score's tokenize(text, stemmer) (see the
 * top of this file), each with the line it lies on (what ROUGE-Lsum splits
 * on). text may hold NUL bytes and invalid UTF-8 (both separate tokens).
 * text may be NULL when len == 0. Errors: ONC_ERR_INVALID (text NULL with
 * len > 0), ONC_ERR_NOMEM. On error *out is left empty (safe to free).
 * Free with onc_rouge_tokens_free. */
onc_status onc_rouge_tokenize(const char *text, size_t len, bool use_stemmer, onc_rouge_tokens *out,
                              onc_error *err);

/* Release the tokens and zero *t. Accepts NULL and an already freed or
 * zeroed struct. */
void onc_rouge_tokens_free(onc_rouge_tokens *t);

/* Number of tokens in text[0..len) (with or without the stemmer: a stem is
 * never empty, so the count is the same). 0 when text is NULL. */
int64_t onc_rouge_count_tokens(const char *text, size_t len);

/* ---- scores -------------------------------------------------------------------- */

typedef struct onc_rouge_prf {
    double precision; /* against the prediction's length */
    double recall;    /* against the target's length */
    double fmeasure;  /* 2PR / (P + R), 0 when P + R == 0 */
} onc_rouge_prf;

typedef struct onc_rouge_scores {
    onc_rouge_prf rouge1, rouge2, rougeL, rougeLsum;
    int64_t target_tokens;     /* tokens of the target (reference) */
    int64_t prediction_tokens; /* tokens of the prediction */
} onc_rouge_scores;

/* Largest table, in cells, of one target line x prediction line pair that
 * ROUGE-Lsum backtracks through (one bit per cell: 2^31 cells = 256 MiB).
 * Plain ROUGE-L needs only its length and runs in linear memory at any size
 * (O(m n) time). */
#define ONC_ROUGE_MAX_LSUM_CELLS ((uint64_t)1 << 31)

/* Score one prediction against its target (reference), in rouge-score's
 * argument order: RougeScorer.score(target, prediction). Texts are UTF-8
 * (see the top of this file for NUL and invalid bytes); either may be NULL
 * when its length is 0. use_stemmer applies the Porter stemmer to tokens
 * longer than 3 characters. Errors: ONC_ERR_INVALID (NULL text with a
 * length, NULL out, or a ROUGE-Lsum line pair over ONC_ROUGE_MAX_LSUM_CELLS:
 * split such texts into lines), ONC_ERR_NOMEM. */
onc_status onc_rouge_score(const char *target, size_t target_len, const char *prediction,
                           size_t prediction_len, bool use_stemmer, onc_rouge_scores *out, onc_error *err);

/* Means over n items: each precision, recall and F is the arithmetic mean
 * of the items' values (summed left to right, then divided by n); the two
 * token fields receive the totals over the items. n == 0 gives NaN means
 * and zero totals. */
void onc_rouge_mean(const onc_rouge_scores *items, size_t n, onc_rouge_scores *out);

/* ---- length statistics ----------------------------------------------------------- */

/* Prediction length over target length in tokens of one item; NaN when the
 * target has no token. */
double onc_rouge_length_ratio(const onc_rouge_scores *item);

typedef struct onc_rouge_lengths {
    int64_t n_items;
    double prediction_mean, prediction_median; /* median as numpy.median */
    int64_t prediction_min, prediction_max;
    double target_mean, target_median;
    int64_t target_min, target_max;
    double ratio_mean;       /* mean of the per-item ratios over items whose target has tokens */
    int64_t n_ratio;         /* items entering ratio_mean */
    double ratio_of_totals;  /* total prediction tokens / total target tokens (BLEU-style) */
} onc_rouge_lengths;

/* Length statistics of n items from their token counts (the fields
 * target_tokens / prediction_tokens, as onc_rouge_score fills them).
 * Undefined values are NaN: every mean and median when n == 0, ratio_mean
 * when no target has tokens, ratio_of_totals when the target total is 0;
 * min/max are 0 when n == 0. Errors: ONC_ERR_INVALID (items NULL with
 * n > 0, out NULL), ONC_ERR_NOMEM (scratch for the medians). */
onc_status onc_rouge_length_stats(const onc_rouge_scores *items, size_t n, onc_rouge_lengths *out,
                                  onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_ROUGE_H */
