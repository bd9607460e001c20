/* stop.c — incremental stop-string matcher (see include/oncolm/stop.h).
 *
 * State: buf[0..held) is the text fed but not emitted yet. Invariant between
 * calls (when not stopped): buf contains no complete stop string, and every
 * position where a stop string could still start lies inside buf. Each feed
 * appends the piece, looks for the first-ending stop string in buf, else
 * emits everything except the longest tail that is a proper prefix of a stop
 * string and an incomplete UTF-8 tail. Emitted bytes are copied to out so
 * buf can be compacted before returning. */
#include "oncolm/stop.h"

#include <stdlib.h>
#include <string.h>

struct onc_stop {
    char **stops;     /* (n_stops) copies */
    size_t *stop_len; /* (n_stops) */
    size_t n_stops;
    char *buf; /* held text */
    size_t held, cap;
    char *out; /* emitted bytes of the last call */
    size_t out_cap;
    uint64_t emitted; /* bytes emitted since the last reset */
    bool stopped;
};

onc_stop *onc_stop_new(const char *const *stops, size_t n, onc_error *err) {
    for (size_t i = 0; i < n; i++) {
        if (!stops[i] || !stops[i][0]) {
            onc_error_set(err, ONC_ERR_INVALID, "stop string %zu is empty", i);
            return NULL;
        }
    }
    onc_stop *m = calloc(1, sizeof *m);
    if (!m) goto nomem;
    if (n) {
        m->stops = calloc(n, sizeof *m->stops);
        m->stop_len = calloc(n, sizeof *m->stop_len);
        if (!m->stops || !m->stop_len) goto nomem;
    }
    m->n_stops = n;
    for (size_t i = 0; i < n; i++) {
        m->stop_len[i] = strlen(stops[i]);
        m->stops[i] = malloc(m->stop_len[i] + 1);
        if (!m->stops[i]) goto nomem;
        memcpy(m->stops[i], stops[i], m->stop_len[i] + 1);
    }
    return m;
nomem:
    onc_stop_free(m);
    onc_error_set(err, ONC_ERR_NOMEM, "stop strings: out of memory");
    return NULL;
}

void onc_stop_free(onc_stop *m) {
    if (!m) return;
    for (size_t i = 0; m->stops && i < m->n_stops; i++) free(m->stops[i]);
    free(m->stops);
    free(m->stop_len);
    free(m->buf);
    free(m->out);
    free(m);
}

void onc_stop_reset(onc_stop *m) {
    m->held = 0;
    m->emitted = 0;
    m->stopped = false;
}

size_t onc_stop_held(const onc_stop *m) { return m->held; }

/* Grow *p (capacity *cap) to hold at least need bytes. */
static bool ensure_cap(char **p, size_t *cap, size_t need) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2) return false;
        c *= 2;
    }
    char *q = realloc(*p, c);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

/* Move buf[0..n) to out, shift the rest of buf down, fill res. */
static void emit_prefix(onc_stop *m, size_t n, onc_stop_result *res) {
    if (n) memcpy(m->out, m->buf, n); /* out_cap >= held, checked by callers */
    res->text = m->out;
    res->len = n;
    m->emitted += n;
    if (m->held > n) memmove(m->buf, m->buf + n, m->held - n);
    m->held -= n;
}

/* Length of an incomplete UTF-8 sequence at the end of s[0..n): a lead byte
 * within the last 3 bytes whose sequence needs more bytes than are there. 0
 * when the tail is complete or not UTF-8 at all (then nothing is held). */
static size_t utf8_incomplete_tail(const unsigned char *s, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        const unsigned char c = s[n - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation byte: look further back */
        size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

onc_status onc_stop_feed(onc_stop *m, const char *piece, size_t len, onc_stop_result *res, onc_error *err) {
    res->text = NULL;
    res->len = 0;
    res->stopped = false;
    res->which = -1;
    res->stop_offset = 0;
    if (m->stopped) return onc_error_set(err, ONC_ERR_INVALID, "stop matcher: already stopped (reset it first)");
    if (len > SIZE_MAX - m->held || !ensure_cap(&m->buf, &m->cap, m->held + len) ||
        !ensure_cap(&m->out, &m->out_cap, m->held + len))
        return onc_error_set(err, ONC_ERR_NOMEM, "stop matcher: cannot hold %zu bytes", m->held + len);
    if (len) memcpy(m->buf + m->held, piece, len);
    m->held += len;

    /* first-ending complete stop string; ties: the earliest start */
    size_t best_end = SIZE_MAX, best_start = 0;
    int32_t best = -1;
    for (size_t k = 0; k < m->n_stops; k++) {
        const size_t sl = m->stop_len[k];
        if (sl > m->held) continue;
        for (size_t start = 0; start + sl <= m->held && start + sl <= best_end; start++) {
            if (memcmp(m->buf + start, m->stops[k], sl) != 0) continue;
            if (start + sl < best_end || (start + sl == best_end && start < best_start)) {
                best_end = start + sl;
                best_start = start;
                best = (int32_t)k;
            }
            break; /* later starts of this string end later */
        }
    }
    if (best >= 0) {
        const uint64_t at = m->emitted + best_start;
        emit_prefix(m, best_start, res);
        m->held = 0; /* the stop string and what follows it are dropped */
        m->stopped = true;
        res->stopped = true;
        res->which = best;
        res->stop_offset = at;
        return ONC_OK;
    }

    /* hold the longest tail that is a proper prefix of a stop string */
    size_t hold = 0;
    for (size_t k = 0; k < m->n_stops; k++) {
        const size_t sl = m->stop_len[k];
        size_t t = sl - 1 < m->held ? sl - 1 : m->held;
        for (; t > hold; t--) {
            if (memcmp(m->buf + m->held - t, m->stops[k], t) == 0) {
                hold = t;
                break;
            }
        }
    }
    const size_t u = utf8_incomplete_tail((const unsigned char *)m->buf, m->held);
    if (u > hold) hold = u;
    emit_prefix(m, m->held - hold, res);
    return ONC_OK;
}

void onc_stop_flush(onc_stop *m, onc_stop_result *res) {
    res->stopped = false;
    res->which = -1;
    res->stop_offset = 0;
    res->text = NULL;
    res->len = 0;
    if (m->stopped || m->held == 0) {
        m->held = 0;
        return;
    }
    /* out_cap >= held: out was grown to at least held on the feed that
     * stored these bytes */
    emit_prefix(m, m->held, res);
}
