/* vocab_train_impl.h — private pieces shared by the vocabulary trainers
 * (vocab_train.c: SPM and byte-level BPE front ends and result assembly;
 * vocab_train_wpm.c: BERT pre-tokenization; vocab_train_bpe.c: the word
 * counter and the merge engine all three kinds use).
 *
 * Not a public API: include only from src/tokenizer/vocab_train*.c and tests.
 *
 * Thread-safety: every object here belongs to one thread. */
#ifndef ONCOLM_VOCAB_TRAIN_IMPL_H
#define ONCOLM_VOCAB_TRAIN_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"
#include "oncolm/vocab.h"

// --- string -> (id) intern table ------------------------------------------

/* Maps byte strings to dense ids 0..n-1 in insertion order, keeping a copy of
 * each string and a 64-bit count per id. */
typedef struct vt_strtab vt_strtab;

vt_strtab *vt_strtab_new(void);
void vt_strtab_free(vt_strtab *t); /* accepts NULL */
/* Id of `s`, adding it (count 0) when absent. -1 on OOM. */
int32_t vt_strtab_intern(vt_strtab *t, const char *s, size_t len);
/* Id of `s` or -1 when absent. */
int32_t vt_strtab_find(const vt_strtab *t, const char *s, size_t len);
int32_t vt_strtab_n(const vt_strtab *t);
const char *vt_strtab_str(const vt_strtab *t, int32_t id, size_t *len); /* NUL-terminated */
int64_t *vt_strtab_count(vt_strtab *t, int32_t id);                     /* mutable counter */

// --- merge engine ------------------------------------------------------------

/* Byte-pair merge learning over a multiset of words, each a sequence of
 * symbol ids with a count. Pair counts live in a hash table with, for each
 * pair, the list of words containing it; the best pair comes from a lazy
 * max-heap. Each merge only re-examines the words containing the merged pair
 * (incremental count updates), so the cost is proportional to the text
 * actually touched, not to the corpus per merge.
 *
 * Best pair = highest count; ties -> smaller (left id, right id). Symbol ids
 * are assigned in a deterministic order by the callers, so training is
 * deterministic. Negative symbol ids in a word are barriers: no pair
 * containing them is counted or merged. */
typedef struct vt_bpe vt_bpe;

typedef struct vt_merge {
    int32_t left, right, result; /* symbol ids; result may be an older symbol */
} vt_merge;

/* `cont_prefix` (e.g. "##", or NULL): when the right part of a merge starts
 * with it, it is dropped in the joined string ("ab" + "##c" -> "abc"). */
vt_bpe *vt_bpe_new(const char *cont_prefix);
void vt_bpe_free(vt_bpe *b); /* accepts NULL */
/* The symbol table (ids are symbol ids). Intern the alphabet through it
 * before adding words. */
vt_strtab *vt_bpe_symbols(vt_bpe *b);
/* Add a word (symbol ids copied). Returns false on OOM. */
bool vt_bpe_add_word(vt_bpe *b, const int32_t *syms, int32_t n, int64_t count);
/* Learn merges until the symbol table holds max_symbols symbols, no pair is
 * left, or the best pair is seen fewer than min_frequency times.
 * progress(user, done, total) is called now and then (may be NULL). */
onc_status vt_bpe_train(vt_bpe *b, int32_t max_symbols, int64_t min_frequency,
                        void (*progress)(void *, int64_t, int64_t), void *progress_user,
                        onc_error *err);
int32_t vt_bpe_n_merges(const vt_bpe *b);
const vt_merge *vt_bpe_merges(const vt_bpe *b);

// --- helpers -----------------------------------------------------------------

/* Copy of text with every invalid UTF-8 sequence replaced by U+FFFD (and NUL
 * bytes dropped); malloc()ed, NUL-terminated, *out_len excludes the NUL.
 * NULL on OOM. */
char *vt_sanitize_utf8(const char *text, size_t len, size_t *out_len);

/* Length in bytes of the UTF-8 character starting at s (1 for a bad lead
 * byte; input is sanitized, so this is exact). */
size_t vt_utf8_len(const char *s);

/* BERT basic pre-tokenization (vocab_train_wpm.c): count the words of
 * `text` (sanitized UTF-8) into `words` (counts added). */
bool vt_wpm_count_words(const char *text, size_t len, bool lowercase, vt_strtab *words);

#endif /* ONCOLM_VOCAB_TRAIN_IMPL_H */
