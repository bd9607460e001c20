/* unicode.h — the Unicode helpers the tokenizers need: strict UTF-8
 * decoding/validation (with U+FFFD repair), code point classes as llama.cpp's
 * unicode tables define them (built on utf8proc's general categories), simple
 * lower-casing, llama.cpp's one-code-point "NFD", and GPT-2's byte <-> unicode
 * map used by byte-level BPE.
 *
 * Private to src/tokenizer/ (and its tests). All functions are pure and
 * thread-safe. */
#ifndef ONCOLM_TOK_UNICODE_H
#define ONCOLM_TOK_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// --- UTF-8 -------------------------------------------------------------------

#define TOK_UTF8_VALID SIZE_MAX

/* Decode the character at s[0..n). Returns its length (1..4) and stores the
 * code point, or returns 0 when the bytes there are not a well-formed
 * character (bad lead byte, truncated, overlong, surrogate, > U+10FFFF). */
size_t tok_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Byte offset of the first ill-formed sequence, or TOK_UTF8_VALID. */
size_t tok_utf8_check(const char *s, size_t n);

/* Copy of s[0..n) with every maximal ill-formed subsequence replaced by
 * U+FFFD (the Unicode "maximal subpart" practice). malloc()ed, NUL-terminated;
 * *out_len excludes the NUL. NULL on OOM. */
char *tok_utf8_sanitize(const char *s, size_t n, size_t *out_len);

/* Encode a code point (<= U+10FFFF) into out; returns 1..4. */
size_t tok_utf8_encode(uint32_t cp, char out[4]);

/* Length of the UTF-8 sequence a lead byte announces (1 for a stray byte),
 * as llama.cpp's unicode_len_utf8. */
size_t tok_utf8_len(unsigned char lead);

// --- code point classes -------------------------------------------------------

enum {
    TOK_CPT_UNDEFINED = 1u << 0,   /* Cn */
    TOK_CPT_NUMBER = 1u << 1,      /* N* */
    TOK_CPT_LETTER = 1u << 2,      /* L* */
    TOK_CPT_SEPARATOR = 1u << 3,   /* Z* */
    TOK_CPT_MARK = 1u << 4,        /* M* */
    TOK_CPT_PUNCTUATION = 1u << 5, /* P* */
    TOK_CPT_SYMBOL = 1u << 6,      /* S* */
    TOK_CPT_CONTROL = 1u << 7,     /* Cc Cf Co Cs */
    TOK_CPT_WHITESPACE = 1u << 8,  /* White_Space property */
};

/* Category flags of a code point (0 for values above U+10FFFF). */
unsigned tok_cpt_flags(uint32_t cp);
/* Simple lower-case mapping (UnicodeData field 13). */
uint32_t tok_cpt_tolower(uint32_t cp);
/* First code point of the canonical decomposition (the code point itself when
 * it has none): llama.cpp's unicode_cpts_normalize_nfd, which maps each code
 * point to one code point, so "Ä" becomes "A" and the accent is gone. */
uint32_t tok_cpt_nfd_first(uint32_t cp);

// --- GPT-2 byte-level map --------------------------------------------------------

/* The code point byte b stands for, e.g. ' ' -> U+0120 "Ġ". */
uint32_t tok_byte_to_cpt(uint8_t b);
/* Its UTF-8 text (1 or 2 bytes) written to out; returns the length. */
size_t tok_byte_to_utf8(uint8_t b, char out[2]);
/* Inverse: the byte a code point stands for, or -1 when it is not one of the
 * 256 byte symbols. */
int tok_cpt_to_byte(uint32_t cp);

#endif /* ONCOLM_TOK_UNICODE_H */
