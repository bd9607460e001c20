/* tok_wpm.c — WordPiece ("bert") as llama.cpp's llm_tokenizer_wpm_session.
 *
 * Normalisation (llama.cpp's preprocess): every code point is mapped to the
 * first code point of its canonical decomposition (so accents vanish),
 * whitespace ends a word, U+0000, U+FFFD and control/format characters are
 * dropped, everything is lower-cased, and punctuation, ASCII symbols and CJK
 * ideographs become one-character words.
 *
 * Matching: each word gets the phantom-space prefix "▁" (GGUF stores
 * word-initial pieces as "▁piece" and continuation pieces without "##"),
 * then greedy longest match over bytes; a word with any unmatched position
 * becomes one unknown token.
 *
 * Deliberately like llama.cpp and unlike HF's BertTokenizer: combining marks
 * typed as separate code points stay in the word, there is no 100-character
 * word limit, and lower-casing is applied whatever the model. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_impl.h"
#include "tokenizer/unicode.h"

static bool is_chinese_char(uint32_t cp) {
    return (cp >= 0x04E00 && cp <= 0x09FFF) || (cp >= 0x03400 && cp <= 0x04DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
           (cp >= 0x2B920 && cp <= 0x2CEAF) || /* llama.cpp/HF use 0x2B920 here */
           (cp >= 0x0F900 && cp <= 0x0FAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* Greedy longest-match of one word already prefixed with "▁". */
static void wpm_word(const onc_tokenizer *t, const char *w, size_t n, tok_ids *out) {
    size_t start = out->n;
    for (size_t i = 0; i < n; i++) {
        bool match = false;
        size_t jmax = i + t->max_token_len + 1;
        if (jmax > n) jmax = n;
        for (size_t j = jmax; j > i; j--) {
            int32_t id = tok_map_get(&t->token_map, w + i, j - i);
            if (id >= 0) {
                tok_ids_push(out, id);
                match = true;
                i = j - 1;
                break;
            }
        }
        if (!match) {
            out->n = start; /* discard the word's pieces */
            break;
        }
    }
    if (out->n == start && t->special_ids[ONC_SPECIAL_UNK] >= 0) tok_ids_push(out, t->special_ids[ONC_SPECIAL_UNK]);
}

void tok_wpm_tokenize(const onc_tokenizer *t, const char *text, size_t len, tok_ids *out) {
    /* word buffer: "▁" + up to 4 bytes per code point */
    char *w = malloc(3 + 4 * len + 8);
    if (!w) {
        out->oom = true;
        return;
    }
    memcpy(w, "\xE2\x96\x81", 3);
    size_t wn = 3;
    for (size_t i = 0; i < len && !out->oom;) {
        uint32_t cp;
        size_t cl = tok_utf8_decode(text + i, len - i, &cp);
        if (cl == 0) cp = 0xFFFD, cl = 1; /* input is validated; defensive only */
        i += cl;
        cp = tok_cpt_nfd_first(cp);
        unsigned f = tok_cpt_flags(cp);
        if (f & TOK_CPT_WHITESPACE) {
            if (wn > 3) wpm_word(t, w, wn, out), wn = 3;
            continue;
        }
        if (cp == 0 || cp == 0xFFFD || (f & TOK_CPT_CONTROL)) continue;
        char u[4];
        size_t ul = tok_utf8_encode(tok_cpt_tolower(cp), u);
        if ((f & TOK_CPT_PUNCTUATION) || (cp < 0x7F && (f & TOK_CPT_SYMBOL)) || is_chinese_char(cp)) {
            if (wn > 3) wpm_word(t, w, wn, out), wn = 3;
            memcpy(w + 3, u, ul);
            wpm_word(t, w, 3 + ul, out);
            continue;
        }
        memcpy(w + wn, u, ul);
        wn += ul;
    }
    if (wn > 3 && !out->oom) wpm_word(t, w, wn, out);
    free(w);
}
