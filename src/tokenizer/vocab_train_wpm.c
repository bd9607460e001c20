/* vocab_train_wpm.c — BERT "basic tokenizer" pre-tokenization for WordPiece
 * training: drop control characters, lower-case and strip accents (NFD, drop
 * combining marks, category Mn) when asked, split on whitespace, make every
 * punctuation character and every CJK ideograph a word of its own. Words of
 * more than 100 characters are ignored (BERT maps them to [UNK]).
 *
 * Punctuation as BERT defines it: all non-alphanumeric ASCII in 33..47,
 * 58..64, 91..96, 123..126, plus every Unicode P* category. This matches
 * llama.cpp's WPM pre-splitting (punctuation, or ASCII symbols). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/vocab_train_impl.h"

#define WPM_MAX_WORD_CHARS 100

static bool is_cjk(int32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static bool is_punct(int32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
        (cp >= 123 && cp <= 126))
        return true;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: return true;
    default: return false;
    }
}

static bool is_space(int32_t cp) {
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' ||
           utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS;
}

static bool is_control(int32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return false;
    utf8proc_category_t c = utf8proc_category(cp);
    return cp == 0 || cp == 0xFFFD || c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF;
}

typedef struct word_buf {
    char *buf;
    size_t len, cap;
    int n_chars;
} word_buf;

static bool flush(word_buf *w, vt_strtab *words) {
    if (w->len > 0 && w->n_chars <= WPM_MAX_WORD_CHARS) {
        int32_t id = vt_strtab_intern(words, w->buf, w->len);
        if (id < 0) return false;
        (*vt_strtab_count(words, id))++;
    }
    w->len = 0;
    w->n_chars = 0;
    return true;
}

static bool push_cp(word_buf *w, int32_t cp) {
    if (w->len + 4 > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        char *b = realloc(w->buf, cap);
        if (!b) return false;
        w->buf = b;
        w->cap = cap;
    }
    w->len += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)w->buf + w->len);
    w->n_chars++;
    return true;
}

bool vt_wpm_count_words(const char *text, size_t len, bool lowercase, vt_strtab *words) {
    word_buf w = {0};
    bool ok = true;
    int32_t decomp[32];
    for (size_t i = 0; ok && i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) {
            i++;
            continue;
        }
        i += (size_t)n;
        if (is_control(cp)) continue;
        if (is_space(cp)) {
            ok = flush(&w, words);
            continue;
        }
        /* Expand to NFD and lower-case (only when lowercase: cased models
         * keep the text as is, like BERT with do_lower_case=False). */
        int n_out = 1;
        decomp[0] = cp;
        if (lowercase) {
            int last_boundclass = 0;
            utf8proc_ssize_t r = utf8proc_decompose_char(cp, decomp, 32, UTF8PROC_DECOMPOSE, &last_boundclass);
            n_out = r > 0 && r <= 32 ? (int)r : 1;
            if (r <= 0 || r > 32) decomp[0] = cp;
        }
        for (int k = 0; ok && k < n_out; k++) {
            int32_t c = decomp[k];
            if (lowercase) {
                if (utf8proc_category(c) == UTF8PROC_CATEGORY_MN) continue;
                c = utf8proc_tolower(c);
            }
            if (is_punct(c) || is_cjk(c)) {
                ok = flush(&w, words) && push_cp(&w, c) && flush(&w, words);
            } else {
                ok = push_cp(&w, c);
            }
        }
    }
    if (ok) ok = flush(&w, words);
    free(w.buf);
    return ok;
}
