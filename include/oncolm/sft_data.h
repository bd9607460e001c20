/* oncolm/sft_data.h — supervised fine-tuning data: JSONL rows turned into
 * token ids and the positions that carry loss, as TRL's SFTTrainer does.
 *
 * Rows (one JSON object per line; blank lines skipped):
 *   {"prompt": "...", "completion": "..."}       loss on the completion only
 *   {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}
 *                                                  the chat template applied,
 *                                                  loss on assistant turns only
 *   optional "split": "train" | "validation" (else the split is drawn).
 *
 * Tokens: the whole text is tokenized at once (BOS as the model says,
 * special-token texts of the template parsed), as TRL does; the boundary of
 * a trained span at character offset b is the number of tokens of the text
 * up to b (TRL's prompt-length rule), so a token merged across a boundary
 * belongs to the span it starts in. For messages, an assistant turn's span
 * is the text the template adds for that turn (its content and the turn's
 * end marker); the template must render each conversation prefix as a
 * prefix of the whole (all built-in templates do; an error says otherwise).
 * The EOS token is appended, and trained, when the text does not end with
 * it (TRL: "EOS appended when missing"); with the chat templates that end
 * turns with their own marker (<|im_end|>, <|eot_id|>, <|end|>) the marker
 * is trained as part of the turn.
 *
 * Truncation: a sequence longer than max_len keeps its first max_len tokens
 * (TRL's truncation side "right"); an example left with no trained token is
 * dropped and counted (never silently trained on nothing).
 *
 * Split: rows with "split" go where it says; the others go to validation
 * when a uniform number drawn from a hash of (seed, line number) is below
 * val_fraction (same file and seed: same split; editing one row never moves
 * another).
 *
 * Privacy: errors name the file and the line, never the text. */
#ifndef ONCOLM_SFT_DATA_H
#define ONCOLM_SFT_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/chat.h"
#include "oncolm/status.h"
#include "oncolm/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_sft_params {
    int32_t max_len;          /* tokens per example (default 1024) */
    double val_fraction;      /* share of rows without "split" held out (default 0.1) */
    uint64_t seed;            /* split draw (default 42) */
    onc_chat_template tmpl;   /* template for "messages" rows */
    bool has_tmpl;            /* false: "messages" rows are an error */
    const char *eos_text;     /* zephyr's turn end (onc_chat_params.eos_text) */
    bool add_eos;             /* append EOS when missing (default true) */
} onc_sft_params;

onc_sft_params onc_sft_default_params(void);

typedef struct onc_sft_example {
    int32_t *ids;     /* [n] */
    uint8_t *train;   /* [n] 1 where token t is a target (its prediction from t-1 carries loss) */
    int32_t n;
    int32_t n_train;  /* tokens with train = 1 (t >= 1) */
    int64_t line;     /* 1-based line in the file */
    bool truncated;
} onc_sft_example;

typedef struct onc_sft_dataset {
    onc_sft_example *train, *val;
    size_t n_train, n_val;
    size_t n_truncated, n_dropped; /* rows cut at max_len; rows dropped with nothing to train */
    int64_t train_tokens, train_target_tokens;
} onc_sft_dataset;

/* Read and tokenize a JSONL file. Errors (file name and line): unreadable
 * file, invalid JSON or UTF-8, a row with neither prompt/completion nor
 * messages, a role other than system/user/assistant, messages without an
 * assistant turn, messages without a template, an unknown split; an empty
 * training set is an error too. */
onc_sft_dataset *onc_sft_load(const char *path, const onc_tokenizer *tok, const onc_sft_params *params,
                              onc_error *err);
void onc_sft_free(onc_sft_dataset *d); /* accepts NULL */

/* Next-token labels of an example for a causal LM: labels[t] = ids[t+1]
 * when token t+1 is trained, else -1; labels[n-1] = -1. */
void onc_sft_labels(const onc_sft_example *ex, int32_t *labels);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_SFT_DATA_H */
