/* oncolm/enc_data.h — the datasets of encoder training (`oncolm train`),
 * read from JSONL, tokenized with the model's tokenizer:
 *
 *   classify: {"text": "...", "label": "pre-treatment", "split": "train"}
 *             label a string or an integer; split optional; "input"
 *             accepted for "text" (the task files of `oncolm synth`).
 *   pairs:    {"query": "...", "positive": "...", "negative": "..." | [...],
 *              "split": "train"}   ("pos"/"neg" accepted; negative optional)
 *   texts:    {"text": "..."} per line (a "title" field, when present and
 *             non-empty, is prepended with a space, as BEIR corpora are
 *             embedded; "text" may then be ""); a file not ending in .jsonl
 *             is plain text with documents separated by blank lines
 *             (whitespace-only lines count as blank; a document is its lines
 *             with their line ends, the last one's dropped). Other kinds
 *             always read JSONL.
 *
 * Splits: "train"; "val", "validation" and "dev" are validation; "test"
 * rows are skipped (kept for evaluation; not parsed further, their labels
 * do not enter the label set). Rows without a split go to
 * training, except that when no row of the file names a validation split,
 * a reproducible fraction val_fraction of them (drawn from seed) becomes
 * validation (sft_data.c's draw: a hash of seed and line number).
 *
 * Tokenization: with the tokenizer's special tokens ([CLS] ... [SEP]),
 * truncated to max_len tokens (the end of the text cut off, a closing
 * [SEP]/EOS the tokenizer added kept, as Hugging Face tokenizers truncate;
 * each cut sequence counted in n_truncated).
 * Labels of a classify set: the distinct label strings sorted (integers:
 * numerically, named in decimal; a file mixing strings and integers is an
 * error), or the names given by the caller (then an integer label matches
 * its decimal text, and an unknown label is an error naming file and
 * line).
 *
 * Errors name the file and line: invalid JSON, invalid UTF-8, a missing or
 * empty field, an unknown split; no training rows names the file. Nothing
 * of the text is printed (Jansson's "near '...'" excerpt is cut; an unknown
 * label is named). */
#ifndef ONCOLM_ENC_DATA_H
#define ONCOLM_ENC_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"
#include "oncolm/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_token_seq {
    int32_t *ids;
    int32_t n;
} onc_token_seq;

typedef struct onc_enc_example {
    onc_token_seq text;      /* classify / texts: the text; pairs: the query */
    onc_token_seq positive;  /* pairs */
    onc_token_seq *negatives;/* pairs: n_negatives hard negatives */
    int32_t n_negatives;
    int32_t label;           /* classify: index into labels; else -1 */
    int64_t line;            /* 1-based line (plain text: first line of the document) */
} onc_enc_example;

typedef enum onc_enc_data_kind { ONC_ENC_DATA_CLASSIFY, ONC_ENC_DATA_PAIRS, ONC_ENC_DATA_TEXTS } onc_enc_data_kind;

typedef struct onc_enc_dataset {
    onc_enc_data_kind kind;
    onc_enc_example *train, *val;
    int64_t n_train, n_val;
    char **labels;          /* classify: [n_labels] */
    int32_t n_labels;
    int64_t n_truncated;    /* sequences cut to max_len */
    int64_t n_test_skipped; /* rows of split "test" */
} onc_enc_dataset;

typedef struct onc_enc_data_params {
    onc_enc_data_kind kind;
    int32_t max_len;            /* tokens per sequence, specials included (default 128, >= 2) */
    double val_fraction;        /* used only when the file names no validation split (0.1) */
    uint64_t seed;              /* 42 */
    const char *const *labels;  /* classify: fixed label names (NULL: from the data) */
    int32_t n_labels;
} onc_enc_data_params;

onc_enc_data_params onc_enc_data_default_params(onc_enc_data_kind kind);

onc_enc_dataset *onc_enc_data_load(const char *path, const onc_tokenizer *tok, const onc_enc_data_params *p,
                                   onc_error *err);
void onc_enc_data_free(onc_enc_dataset *d); /* accepts NULL */

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_ENC_DATA_H */
