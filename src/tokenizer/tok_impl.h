/* tok_impl.h — the insides of onc_tokenizer, shared by tokenizer.c (build,
 * special-token partition, detokenize), tok_spm.c, tok_bpe.c, tok_wpm.c,
 * tok_map.c and vocab_spec.c (pre-tokenizer names).
 *
 * Not a public API: include only from src/tokenizer/ and tests. */
#ifndef ONCOLM_TOK_IMPL_H
#define ONCOLM_TOK_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"
#include "oncolm/tokenizer.h"
#include "oncolm/vocab.h"

// --- byte-string -> int32 hash map ----------------------------------------------

/* Open addressing over borrowed keys (the caller keeps the key bytes alive as
 * long as the map). Insert replaces the value of an existing key. */
typedef struct tok_map {
    uint32_t *slots; /* entry index + 1; 0 = empty */
    size_t mask;     /* slot count - 1 (power of two) */
    struct tok_map_entry {
        const char *key;
        uint32_t len;
        uint32_t hash;
        int32_t val;
    } *entries;
    size_t n, cap;
} tok_map;

bool tok_map_init(tok_map *m, size_t expected); /* false on OOM */
void tok_map_free(tok_map *m);
bool tok_map_put(tok_map *m, const char *key, size_t len, int32_t val); /* false on OOM */
int32_t tok_map_get(const tok_map *m, const char *key, size_t len);      /* -1 when absent */
/* Lookup of the key a ++ "\xFF" ++ b without building it (merge pairs). */
int32_t tok_map_get_pair(const tok_map *m, const char *a, size_t alen, const char *b, size_t blen);

// --- growable id vector ----------------------------------------------------------

typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
    bool oom;
} tok_ids;

void tok_ids_push(tok_ids *o, int32_t id); /* sets o->oom on failure */

// --- pre-tokenizers (BPE) -----------------------------------------------------------

typedef enum tok_pre_type {
    TOK_PRE_DEFAULT = 0,
    TOK_PRE_GPT2,
    TOK_PRE_LLAMA3,    /* llama3 regex with ignore_merges */
    TOK_PRE_LLAMA3_RE, /* llama3 regex, merges always applied (dbrx, smaug, chatglm4) */
    TOK_PRE_QWEN2,
    TOK_PRE_STARCODER,
} tok_pre_type;

typedef struct tok_pre_info {
    tok_pre_type type;
    bool ignore_merges;
    bool add_bos;      /* the pre-type's add_bos default */
    bool add_sep;      /* the pre-type's add_sep default */
    bool clean_spaces; /* detokenize clean-up */
} tok_pre_info;

/* Look up a tokenizer.ggml.pre value (NULL or "" = default). false when the
 * name is unknown. */
bool tok_pre_lookup(const char *name, tok_pre_info *info);

// --- the tokenizer -----------------------------------------------------------------

#define TOK_MAX_REGEX 4

struct onc_tokenizer {
    onc_vocab_kind kind;
    tok_pre_info pre;
    char *pre_name;

    int32_t n_tokens;
    char *text_pool;      /* all token texts, NUL-terminated */
    uint32_t *text_off;   /* [n_tokens] offset into text_pool */
    uint32_t *text_len;   /* [n_tokens] */
    float *scores;        /* [n_tokens] (0 when absent) */
    int32_t *types;       /* [n_tokens] onc_token_type as given */
    uint32_t *attrs;      /* [n_tokens] onc_token_attr */
    uint32_t max_token_len;
    tok_map token_map;    /* text -> id (last duplicate wins) */

    tok_map merge_map;    /* "left\xFFright" -> rank (BPE) */
    char *merge_pool;

    char *piece_pool;     /* token_to_piece(special = true) of every token */
    uint32_t *piece_off, *piece_len;

    int32_t special_ids[8];  /* indexed by onc_special */
    int32_t *eog;            /* sorted end-of-generation ids */
    size_t n_eog;
    int32_t *special_cache;  /* CONTROL/USER_DEFINED/UNKNOWN ids, longest text first */
    size_t n_special_cache;

    int32_t byte_token[256]; /* SPM: <0xXX> (or the raw byte); BPE: the 1-byte text; -1 none */

    bool add_bos, add_eos, add_sep;
    bool add_space_prefix; /* SPM: prepend " " to text after BOS/special tokens */
    bool spm_space_split;  /* SPM: no token has a "▁" right after another character,
                              so merges never cross such a boundary (tok_spm.c) */
    bool clean_spaces;

    void *regex[TOK_MAX_REGEX]; /* pcre2_code* (BPE pre-tokenizer), applied in order */
    int n_regex;
};

static inline const char *tok_text(const onc_tokenizer *t, int32_t id) { return t->text_pool + t->text_off[id]; }

/* Per-kind tokenizers of one raw-text fragment (valid UTF-8). */
void tok_spm_tokenize(const onc_tokenizer *t, const char *text, size_t len, bool space_prefix, tok_ids *out);
onc_status tok_bpe_tokenize(const onc_tokenizer *t, const char *text, size_t len, tok_ids *out, onc_error *err);
void tok_wpm_tokenize(const onc_tokenizer *t, const char *text, size_t len, tok_ids *out);

/* BPE set-up: compile the pre-tokenizer regexes and the merge map. */
onc_status tok_bpe_init(onc_tokenizer *t, const onc_vocab_spec *spec, onc_error *err);
void tok_bpe_free(onc_tokenizer *t);

/* Split text into pre-tokenizer pieces: appends (offset, length) pairs to
 * *pieces (2 entries per piece). Exposed for tests. */
onc_status tok_bpe_pretokenize(const onc_tokenizer *t, const char *text, size_t len, size_t **pieces,
                               size_t *n_pieces, onc_error *err);

#endif /* ONCOLM_TOK_IMPL_H */
