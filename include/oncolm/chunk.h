/* oncolm/chunk.h — section-aware chunking of clinical notes.
 *
 * A note is cut into passages ("chunks") that retrieval indexes and ranks.
 *
 * Sections. A line is a section heading when it is
 *   - short text ending in ':' ("FINDINGS:", "Social history:", "A/P:"):
 *     at most 60 bytes and 6 words, starting with a letter; or
 *   - an all-capitals line without a final period ("SURGICAL PATHOLOGY
 *     REPORT", "IMPRESSION"): at most 60 bytes and 8 words; or
 *   - an all-capitals label of at most 5 words followed by ':' and text on
 *     the same line ("IMPRESSION: No evidence of disease.").
 * A section runs from its heading to the next heading; text before the first
 * heading is a preamble section.
 *
 * Chunks. Consecutive whole sections are packed into one chunk while the
 * chunk stays within max_tokens. A section longer than max_tokens gets
 * windows of at most max_tokens (its heading included, repeated at the top
 * of every later window) that overlap by at least `overlap` tokens, cut at
 * whitespace. With sections off the whole note is one section.
 *
 * Tokens. Lengths are counted by a caller's counter (a model's tokenizer,
 * so chunks fit the encoder) or, without one, by the built-in estimate: the
 * number of letter/digit runs plus punctuation marks, as BERT's basic
 * tokenizer splits (a lower bound of WordPiece counts).
 *
 * Thread-safety: pure functions; safe from any thread. */
#ifndef ONCOLM_CHUNK_H
#define ONCOLM_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tokens in text[0..n); must be additive over whitespace-separated words
 * (counting a word alone or inside its text gives the same total). */
typedef size_t (*onc_token_counter)(void *ctx, const char *text, size_t n);

typedef struct onc_chunk_params {
    int32_t max_tokens;       /* default 256 */
    int32_t overlap;          /* default 32; < max_tokens / 2 */
    bool sections;            /* default true */
    onc_token_counter count;  /* NULL: built-in estimate */
    void *count_ctx;
} onc_chunk_params;

onc_chunk_params onc_chunk_default_params(void);

/* One chunk: bytes [start, end) of the note, preceded by the section heading
 * [head_start, head_end) when the window does not contain it (both 0
 * otherwise). The chunk's text is heading + "\n" + body in that case. */
typedef struct onc_chunk {
    uint32_t start, end;
    uint32_t head_start, head_end;
    uint32_t n_tokens;        /* tokens of the chunk's text */
} onc_chunk;

/* Cut text[0..len) into chunks. *out is malloc()ed (free() it), *n_out >= 1
 * for non-blank text and 0 for blank text. Fails (ONC_ERR_INVALID) on bad
 * params or a text of 4 GiB or more. */
onc_status onc_chunk_text(const char *text, size_t len, const onc_chunk_params *p, onc_chunk **out, size_t *n_out,
                          onc_error *err);

/* The chunk's text (heading + "\n" + body, or the body) into a malloc()ed
 * NUL-terminated string; *n_out its length. NULL when out of memory. */
char *onc_chunk_str(const char *text, const onc_chunk *c, size_t *n_out);

/* The built-in token estimate (see above). */
size_t onc_chunk_estimate_tokens(void *unused, const char *text, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_CHUNK_H */
