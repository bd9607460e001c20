/* oncolm/tokenizer.h — text <-> token ids with a model's vocabulary, exactly
 * as llama.cpp tokenizes:
 *   SPM  ("llama"): SentencePiece BPE by piece score, byte fallback <0xXX>;
 *   BPE  ("gpt2"):  pre-tokenizer regex (tokenizer.ggml.pre), byte-level
 *                   symbols, merges by rank;
 *   WPM  ("bert"):  BERT basic normalisation, greedy longest-match WordPiece
 *                   over GGUF's phantom-space vocabulary.
 * Special tokens (CONTROL / USER_DEFINED texts) are split out of the input
 * first, longest text first, as llama.cpp's tokenizer_st_partition.
 *
 * The vocabulary as plain data (and its GGUF keys) is in oncolm/vocab.h.
 *
 * Thread-safety: a tokenizer is immutable after construction; every function
 * taking a const onc_tokenizer* may be called from any number of threads at
 * once. */
#ifndef ONCOLM_TOKENIZER_H
#define ONCOLM_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/gguf.h"
#include "oncolm/status.h"
#include "oncolm/vocab.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_tokenizer onc_tokenizer; /* opaque, immutable */

/* Per-token attributes (llama.h llama_token_attr), derived from the GGUF
 * token type plus llama.cpp's per-model adjustments. A bit set. */
typedef enum onc_token_attr {
    ONC_TOKEN_ATTR_UNDEFINED = 0,
    ONC_TOKEN_ATTR_UNKNOWN = 1 << 0,
    ONC_TOKEN_ATTR_UNUSED = 1 << 1,
    ONC_TOKEN_ATTR_NORMAL = 1 << 2,
    ONC_TOKEN_ATTR_CONTROL = 1 << 3,
    ONC_TOKEN_ATTR_USER_DEFINED = 1 << 4,
    ONC_TOKEN_ATTR_BYTE = 1 << 5,
    ONC_TOKEN_ATTR_LSTRIP = 1 << 7, /* eat spaces before the token (parse) */
    ONC_TOKEN_ATTR_RSTRIP = 1 << 8, /* eat spaces after the token (parse) */
} onc_token_attr;

/* Which special token onc_tokenizer_special() returns. */
typedef enum onc_special {
    ONC_SPECIAL_BOS = 0, /* BERT: [CLS] */
    ONC_SPECIAL_EOS,
    ONC_SPECIAL_EOT, /* end of turn; found by text when not in metadata */
    ONC_SPECIAL_EOM, /* end of message (<|eom_id|>) */
    ONC_SPECIAL_UNK,
    ONC_SPECIAL_SEP,
    ONC_SPECIAL_PAD,
    ONC_SPECIAL_MASK,
} onc_special;

// --- construction -------------------------------------------------------------

/* Build the tokenizer of an open GGUF (tokenizer.ggml.* keys, plus
 * general.name for llama.cpp's per-model token attributes). The file may be
 * closed afterwards: everything needed is copied. Fails with
 * ONC_ERR_FORMAT/UNSUPPORTED for a missing or malformed vocabulary, an
 * unknown tokenizer.ggml.model or an unknown tokenizer.ggml.pre (llama.cpp
 * refuses those too; a missing/empty pre means "default"). Caller frees. */
onc_tokenizer *onc_tokenizer_from_gguf(const onc_gguf *g, onc_error *err);

/* Build from a plain vocabulary description (copied; the spec may be freed
 * afterwards). The spec's special ids and add_* flags are used as given (no
 * per-model defaults are applied: onc_vocab_spec_from_gguf resolves those).
 * Caller frees. */
onc_tokenizer *onc_tokenizer_from_spec(const onc_vocab_spec *spec, onc_error *err);

void onc_tokenizer_free(onc_tokenizer *tok); /* accepts NULL */

// --- queries ------------------------------------------------------------------

onc_vocab_kind onc_tokenizer_kind(const onc_tokenizer *tok);
/* The BPE pre-tokenizer in use ("default", "gpt-2", "llama-bpe", ...; as
 * named in the file) — "default" for SPM/WPM. Never NULL. */
const char *onc_tokenizer_pre(const onc_tokenizer *tok);
int32_t onc_tokenizer_n_tokens(const onc_tokenizer *tok);

/* Token text as stored in the vocabulary (NUL-terminated; *len set when
 * non-NULL), or NULL for an id out of range. Empty texts read as
 * "[EMPTY_<id>]", as llama.cpp renames them. */
const char *onc_token_text(const onc_tokenizer *tok, int32_t id, size_t *len);
/* Id of a token text, or ONC_TOKEN_NONE. (Duplicate texts: the last id.) */
int32_t onc_token_find(const onc_tokenizer *tok, const char *text, size_t len);
onc_token_type onc_token_get_type(const onc_tokenizer *tok, int32_t id); /* UNDEFINED when out of range */
uint32_t onc_token_get_attrs(const onc_tokenizer *tok, int32_t id);      /* onc_token_attr bits; 0 when out of range */
float onc_token_get_score(const onc_tokenizer *tok, int32_t id);         /* 0 when out of range or no scores */

/* A special token id, or ONC_TOKEN_NONE. */
int32_t onc_tokenizer_special(const onc_tokenizer *tok, onc_special which);
/* True for end-of-generation tokens: EOS, EOT, EOM and the tokens llama.cpp
 * recognises by text (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>,
 * <|endoftext|>, <|eom_id|>, <|end_of_text|>, ...). */
bool onc_token_is_eog(const onc_tokenizer *tok, int32_t id);
/* True for CONTROL/UNKNOWN tokens and other ids rendered only on request. */
bool onc_token_is_control(const onc_tokenizer *tok, int32_t id);

bool onc_tokenizer_add_bos(const onc_tokenizer *tok);
bool onc_tokenizer_add_eos(const onc_tokenizer *tok);
bool onc_tokenizer_add_sep(const onc_tokenizer *tok);

// --- text -> ids --------------------------------------------------------------

typedef enum onc_utf8_policy {
    ONC_UTF8_ERROR = 0,   /* invalid UTF-8 -> ONC_ERR_INVALID naming the byte offset */
    ONC_UTF8_REPLACE = 1, /* each maximal invalid subsequence -> U+FFFD */
} onc_utf8_policy;

typedef struct onc_tokenize_params {
    bool add_special;   /* BOS/EOS/SEP (BERT: [CLS] ... [SEP]) as the model's add_* flags say */
    bool parse_special; /* recognise CONTROL token texts ("<s>", "<|im_end|>") in the
                           text; USER_DEFINED tokens are always recognised (llama.cpp) */
    onc_utf8_policy invalid_utf8;
} onc_tokenize_params;

/* add_special = true, parse_special = false, invalid_utf8 = ONC_UTF8_ERROR. */
onc_tokenize_params onc_tokenize_default_params(void);

/* Tokenize text[0..len) (NUL bytes allowed). params NULL = defaults. On
 * success *ids is a malloc()ed array of *n_ids ids (caller frees; may be
 * NULL when *n_ids == 0). On failure *ids = NULL, *n_ids = 0 and err is
 * set. */
onc_status onc_tokenize(const onc_tokenizer *tok, const char *text, size_t len, const onc_tokenize_params *params,
                        int32_t **ids, size_t *n_ids, onc_error *err);

// --- ids -> text --------------------------------------------------------------

typedef struct onc_detokenize_params {
    bool remove_special;   /* drop a leading BOS / trailing EOS (SEP) the model adds */
    bool unparse_special;  /* render CONTROL/UNKNOWN tokens as their text */
    bool no_clean_spaces;  /* skip llama.cpp's clean-up of " ," " ." " 's" ... (BPE,
                              WPM): gives exact round trips of the input text */
} onc_detokenize_params;

/* All false. */
onc_detokenize_params onc_detokenize_default_params(void);

/* Concatenate the pieces of ids[0..n) as llama.cpp's llama_detokenize: the
 * leading space SPM (add_space_prefix) or WPM (phantom space) put before the
 * first word is removed, then BPE/WPM clean-up. params NULL = defaults.
 * *text is malloc()ed and NUL-terminated (caller frees); *len excludes the
 * NUL. An id out of range is ONC_ERR_INVALID. */
onc_status onc_detokenize(const onc_tokenizer *tok, const int32_t *ids, size_t n, const onc_detokenize_params *params,
                          char **text, size_t *len, onc_error *err);

/* The text one token stands for (llama.cpp token_to_piece): SPM "▁" -> " "
 * and <0xXX> -> the raw byte; BPE byte-level symbols -> bytes; WPM
 * "▁word" -> " word", continuation pieces as they are. CONTROL/UNKNOWN tokens
 * give their text only when `special`, else "". The piece may be a partial
 * UTF-8 sequence. *piece points into the tokenizer (valid until it is freed);
 * returns the length. Out-of-range ids give "" (0). */
size_t onc_token_to_piece(const onc_tokenizer *tok, int32_t id, bool special, const char **piece);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_TOKENIZER_H */
