/* oncolm/stop.h — incremental stop-string matching over generated text.
 *
 * Generation produces text one token piece at a time (onc_token_to_piece);
 * a stop string ("\nPatient:", "###") may arrive split over several pieces.
 * The matcher takes each piece and hands back the bytes that are safe to
 * show now. It holds back:
 *   - the longest tail of the text that is a proper prefix of some stop
 *     string (it may still become a stop string), and
 *   - an incomplete UTF-8 sequence at the very end (a piece may carry half a
 *     character; it is released when the rest arrives, or by a flush).
 * When a stop string is complete, the result says so: the bytes before it
 * are released, the stop string and anything after it are not.
 *
 * Which stop string wins when several occur: the one that ENDS first in the
 * text (the first that would be complete if the text arrived byte by byte),
 * and among those the one that starts first. So the outcome does not depend
 * on how the text is cut into pieces. (llama.cpp's server takes the earliest
 * start; the two differ only when one stop string lies strictly inside a
 * longer one's span, e.g. "b" vs "abc" on "abc".)
 *
 * Matching is on bytes; stop strings and text are expected to be UTF-8, in
 * which a byte match of valid strings always falls on character boundaries.
 *
 * Thread-safety: a matcher is mutable state for one generation stream. */
#ifndef ONCOLM_STOP_H
#define ONCOLM_STOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_stop onc_stop; /* opaque */

/* The outcome of one onc_stop_feed / onc_stop_flush. */
typedef struct onc_stop_result {
    const char *text;     /* bytes to emit now; points into the matcher, valid
                             until its next call (may be NULL when len == 0) */
    size_t len;           /* number of bytes to emit now */
    bool stopped;         /* a stop string was completed: text is everything
                             before it that was not emitted yet */
    int32_t which;        /* index of that stop string, -1 when not stopped */
    uint64_t stop_offset; /* byte offset of the stop string in the whole
                             stream fed so far (0 when not stopped) */
} onc_stop_result;

/* A matcher for stops[0..n) (copied; n may be 0: then only the UTF-8 hold
 * back applies). ONC_ERR_INVALID for a NULL or empty stop string (the
 * message gives its index), ONC_ERR_NOMEM. Caller frees. */
onc_stop *onc_stop_new(const char *const *stops, size_t n, onc_error *err);

void onc_stop_free(onc_stop *m); /* accepts NULL */

/* Feed the next piece (piece[0..len), any bytes, len may be 0). Fills *res.
 * After a stop the matcher refuses further input (ONC_ERR_INVALID) until
 * onc_stop_reset. ONC_ERR_NOMEM when the held text cannot grow. */
onc_status onc_stop_feed(onc_stop *m, const char *piece, size_t len, onc_stop_result *res, onc_error *err);

/* End of generation without a stop (EOG token, length limit): release every
 * held byte (a partial stop string or an incomplete UTF-8 tail). */
void onc_stop_flush(onc_stop *m, onc_stop_result *res);

/* Drop held text and the stopped state for a new stream. */
void onc_stop_reset(onc_stop *m);

/* Bytes currently held back. */
size_t onc_stop_held(const onc_stop *m);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_STOP_H */
