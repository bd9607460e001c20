/* unicode.c — UTF-8 decoding and repair, code point classes, lower-casing,
 * one-code-point NFD and the GPT-2 byte map (see unicode.h).
 *
 * Classes follow llama.cpp's unicode tables (generated from UnicodeData.txt):
 * the general category decides letter/number/mark/punctuation/symbol/
 * separator/control, and "whitespace" is the White_Space property. The
 * category data comes from utf8proc, so results can differ from a given
 * llama.cpp build only for code points assigned in a newer Unicode version. */
#include "tokenizer/unicode.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

// --- UTF-8 -------------------------------------------------------------------

size_t tok_utf8_len(unsigned char lead) {
    static const size_t lookup[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[lead >> 4];
}

size_t tok_utf8_decode(const char *str, size_t n, uint32_t *cp) {
    const unsigned char *s = (const unsigned char *)str;
    if (n == 0) return 0;
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

/* Length of the maximal ill-formed subpart at s (>= 1): the lead byte plus
 * the continuation bytes that could still have begun a valid character. */
static size_t utf8_bad_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) need = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) need = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 1;
    size_t i = 1;
    for (; i <= need && i < n; i++) {
        unsigned char lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xBF;
        if (s[i] < lo_i || s[i] > hi_i) break;
    }
    return i;
}

size_t tok_utf8_check(const char *s, size_t n) {
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = tok_utf8_decode(s + i, n - i, &cp);
        if (l == 0) return i;
        i += l;
    }
    return TOK_UTF8_VALID;
}

char *tok_utf8_sanitize(const char *s, size_t n, size_t *out_len) {
    if (n > (SIZE_MAX - 1) / 3) return NULL;
    char *out = malloc(3 * n + 1); /* a bad byte (1) becomes 3 bytes at most */
    if (!out) return NULL;
    size_t o = 0, i = 0;
    uint32_t cp;
    while (i < n) {
        size_t l = tok_utf8_decode(s + i, n - i, &cp);
        if (l > 0) {
            memcpy(out + o, s + i, l);
            o += l, i += l;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += utf8_bad_len((const unsigned char *)s + i, n - i);
        }
    }
    out[o] = '\0';
    if (out_len) *out_len = o;
    return out;
}

size_t tok_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// --- code point classes ---------------------------------------------------------

static bool is_white_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

unsigned tok_cpt_flags(uint32_t cp) {
    if (cp > 0x10FFFF) return 0;
    unsigned f = 0;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_CN: f = TOK_CPT_UNDEFINED; break;
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: f = TOK_CPT_LETTER; break;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME: f = TOK_CPT_MARK; break;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: f = TOK_CPT_NUMBER; break;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: f = TOK_CPT_PUNCTUATION; break;
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO: f = TOK_CPT_SYMBOL; break;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: f = TOK_CPT_SEPARATOR; break;
    default: f = TOK_CPT_CONTROL; break; /* Cc Cf Cs Co */
    }
    if (is_white_space(cp)) f |= TOK_CPT_WHITESPACE;
    return f;
}

uint32_t tok_cpt_tolower(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (cp > 0x10FFFF) return cp;
    return (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
}

uint32_t tok_cpt_nfd_first(uint32_t cp) {
    if (cp < 0xC0 || cp > 0x10FFFF) return cp; /* nothing below U+00C0 decomposes */
    utf8proc_int32_t buf[32];
    int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)cp, buf, 32, UTF8PROC_DECOMPOSE, &last);
    return n >= 1 ? (uint32_t)buf[0] : cp;
}

// --- GPT-2 byte map -------------------------------------------------------------------
/* bytes_to_unicode(): printable bytes '!'..'~', '¡'..'¬', '®'..'ÿ' stand for
 * themselves; the other 68 bytes, in increasing order, get U+0100.. U+0143. */

uint32_t tok_byte_to_cpt(uint8_t b) {
    if (b <= 0x20) return 0x100u + b;
    if (b >= 0x7F && b <= 0xA0) return 0x121u + (b - 0x7Fu);
    if (b == 0xAD) return 0x143u;
    return b;
}

size_t tok_byte_to_utf8(uint8_t b, char out[2]) {
    char tmp[4];
    size_t n = tok_utf8_encode(tok_byte_to_cpt(b), tmp);
    memcpy(out, tmp, n);
    return n;
}

int tok_cpt_to_byte(uint32_t cp) {
    if (cp >= 0x100 && cp <= 0x120) return (int)(cp - 0x100);
    if (cp >= 0x121 && cp <= 0x142) return (int)(cp - 0x121 + 0x7F);
    if (cp == 0x143) return 0xAD;
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF)) return (int)cp;
    return -1;
}
