/* oncolm/utf8.h — the one UTF-8 well-formedness check every module uses
 * (GGUF strings, CLI output escaping, JSON writers).
 *
 * Thread-safety: pure functions. */
#ifndef ONCOLM_UTF8_H
#define ONCOLM_UTF8_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Length (1..4) of the well-formed UTF-8 sequence that starts at s[0], with
 * n >= 1 bytes available; 0 when s[0] does not start one (stray continuation
 * byte, overlong form, surrogate, code point above U+10FFFF, truncated).
 * ASCII bytes, control characters included, have length 1. */
size_t onc_utf8_seq_len(const unsigned char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_UTF8_H */
