/* oncolm/vocab.h — a vocabulary as plain data (what GGUF stores under
 * tokenizer.ggml.*), its GGUF serialisation, and vocabulary training.
 *
 * This is the *description* of a vocabulary. The runtime tokenizer built from
 * a GGUF file is in oncolm/tokenizer.h.
 *
 * Metadata keys and types follow llama.cpp exactly (see
 * shared/reference/gguf-and-llama-formats.md, Q5): tokens array[string],
 * scores array[f32], token_type array[i32], merges array[string], special ids
 * u32, add_* flags bool.
 *
 * Thread-safety: plain data; functions are reentrant. */
#ifndef ONCOLM_VOCAB_H
#define ONCOLM_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/gguf.h"
#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tokenizer.ggml.model */
typedef enum onc_vocab_kind {
    ONC_VOCAB_SPM = 0, /* "llama": SentencePiece BPE with byte fallback */
    ONC_VOCAB_BPE = 1, /* "gpt2": byte-level BPE with merges */
    ONC_VOCAB_WPM = 2, /* "bert": WordPiece */
} onc_vocab_kind;

/* tokenizer.ggml.token_type values (llama.h llama_token_type). */
typedef enum onc_token_type {
    ONC_TOKEN_UNDEFINED = 0,
    ONC_TOKEN_NORMAL = 1,
    ONC_TOKEN_UNKNOWN = 2,
    ONC_TOKEN_CONTROL = 3,
    ONC_TOKEN_USER_DEFINED = 4,
    ONC_TOKEN_UNUSED = 5,
    ONC_TOKEN_BYTE = 6,
} onc_token_type;

#define ONC_TOKEN_NONE (-1) /* "no such special token" */

/* A vocabulary as plain data. All pointers are owned by the spec (malloc)
 * and released by onc_vocab_spec_free(). */
typedef struct onc_vocab_spec {
    onc_vocab_kind kind;
    char *pre;            /* tokenizer.ggml.pre for BPE ("gpt-2", "llama-bpe",
                             "qwen2", "default"); NULL otherwise */
    int32_t n_tokens;
    char **tokens;        /* [n_tokens] UTF-8 token texts, as stored in GGUF */
    float *scores;        /* [n_tokens] or NULL */
    int32_t *token_types; /* [n_tokens] onc_token_type, or NULL */
    int32_t n_merges;
    char **merges;        /* [n_merges] "left right" (BPE only), rank = index */
    int32_t bos_id, eos_id, unk_id, sep_id, pad_id, mask_id; /* or ONC_TOKEN_NONE */
    bool add_bos, add_eos, add_sep;
    bool add_space_prefix; /* SPM */
} onc_vocab_spec;

/* Name stored in tokenizer.ggml.model for a kind ("llama", "gpt2", "bert"). */
const char *onc_vocab_kind_name(onc_vocab_kind kind);

/* Write every tokenizer.ggml.* key of `spec` into `w` (types as llama.cpp
 * requires; special ids that are ONC_TOKEN_NONE are omitted). The BERT key
 * tokenizer.ggml.token_type_count is NOT written here: it is architecture
 * metadata (onc_hparams_write_gguf in oncolm/arch.h writes it). Returns
 * ONC_OK or an error. */
onc_status onc_vocab_spec_write_gguf(const onc_vocab_spec *spec, onc_gguf_writer *w, onc_error *err);

/* Read the tokenizer.ggml.* keys of an open GGUF into a freshly allocated
 * spec (all strings copied). Validates types and lengths (scores/types
 * arrays must match the token count, special ids < n_tokens or they are
 * dropped, as llama.cpp does). Caller frees with onc_vocab_spec_free(). */
onc_vocab_spec *onc_vocab_spec_from_gguf(const onc_gguf *g, onc_error *err);

void onc_vocab_spec_free(onc_vocab_spec *spec); /* accepts NULL */

/* --- training ------------------------------------------------------------ */

typedef struct onc_vocab_train_params {
    onc_vocab_kind kind;    /* which model to learn */
    const char *pre;        /* BPE pre-tokenizer ("llama-bpe" default) */
    int32_t vocab_size;     /* target size including special/byte tokens; the
                               result is smaller when the text runs out of
                               pairs seen min_frequency times */
    int32_t min_frequency;  /* stop when the best pair is seen fewer times (default 2) */
    bool lowercase;         /* WPM: uncased model (default true) */
    int n_threads;          /* counting threads (default 1; training is
                               single-threaded for now) */
    double char_coverage;   /* SPM: keep the most frequent characters covering
                               this fraction of the text (default 0.9999); the
                               rest falls back to byte tokens */
    /* optional progress callback: called with done/total units of work */
    void (*progress)(void *user, int64_t done, int64_t total);
    void *progress_user;
} onc_vocab_train_params;

onc_vocab_train_params onc_vocab_train_default_params(onc_vocab_kind kind);

/* Learn a vocabulary from UTF-8 text (invalid sequences are replaced by
 * U+FFFD). The result tokenizes with oncolm's (and llama.cpp's) tokenizer of
 * the same kind: SPM gets <unk>=0,<s>=1,</s>=2, 256 byte tokens <0xXX> and
 * pieces with "▁" for spaces scored -k for merge k (then the characters);
 * BPE gets the 256 byte-level symbols (GPT-2 order), merged symbols, merges
 * and the pre-tokenizer family's special tokens at the end ("llama-bpe":
 * <|begin_of_text|> ... <|eot_id|>; "qwen2": <|endoftext|> <|im_start|>
 * <|im_end|>; "gpt-2": <|endoftext|>); WPM gets BERT's ids ([PAD]=0,
 * [unused0..98], [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103), then
 * characters and pieces learned by frequency merges in GGUF's phantom-space
 * form (word-initial pieces "▁"-prefixed, continuation pieces without "##").
 * Details in src/tokenizer/vocab_train.c. Returns NULL with err set on
 * failure. Deterministic for the same input and params. Caller frees with
 * onc_vocab_spec_free(). */
onc_vocab_spec *onc_vocab_train(const char *text, size_t len, const onc_vocab_train_params *params,
                                onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_VOCAB_H */
