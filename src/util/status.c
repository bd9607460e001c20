/* status.c — onc_error helpers (see include/oncolm/status.h). */
#include "oncolm/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

onc_status onc_error_set(onc_error *err, onc_status code, const char *fmt, ...) {
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void onc_error_prefix(onc_error *err, const char *fmt, ...) {
    if (!err || err->code == ONC_OK) return;
    char prefix[ONC_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char joined[2 * ONC_ERROR_MSG_MAX + 2];
    snprintf(joined, sizeof joined, "%s: %s", prefix, err->msg);
    memcpy(err->msg, joined, sizeof err->msg - 1);
    err->msg[sizeof err->msg - 1] = '\0';
}

void onc_error_clear(onc_error *err) {
    if (!err) return;
    err->code = ONC_OK;
    err->msg[0] = '\0';
}

const char *onc_status_name(onc_status code) {
    switch (code) {
    case ONC_OK: return "ok";
    case ONC_ERR_IO: return "I/O error";
    case ONC_ERR_FORMAT: return "format error";
    case ONC_ERR_NOMEM: return "out of memory";
    case ONC_ERR_INVALID: return "invalid argument";
    case ONC_ERR_UNSUPPORTED: return "unsupported";
    case ONC_ERR_NOT_FOUND: return "not found";
    }
    return "unknown error";
}

void onc_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "oncolm: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
    fflush(stderr);
    abort();
}
