/* oncolm/status.h — error reporting shared by every module.
 *
 * Library functions never exit and never print. They return an onc_status
 * (or NULL) and, when the caller passes a non-NULL onc_error, fill it with one
 * human-readable message that names the object (usually a file) and what is
 * wrong. Only the CLI turns errors into messages on stderr and exit codes.
 *
 * Programmer errors (a violated precondition that no input can cause) hit
 * ONC_ASSERT, which is always on and reports file:line before aborting.
 *
 * Thread-safety: everything here is thread-safe; an onc_error belongs to the
 * caller and must not be shared between threads. */
#ifndef ONCOLM_STATUS_H
#define ONCOLM_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum onc_status {
    ONC_OK = 0,
    ONC_ERR_IO = -1,          /* open/read/write/mmap/rename failed */
    ONC_ERR_FORMAT = -2,      /* malformed input file or data */
    ONC_ERR_NOMEM = -3,       /* allocation failed or size overflow */
    ONC_ERR_INVALID = -4,     /* invalid argument (bad shape, bad option) */
    ONC_ERR_UNSUPPORTED = -5, /* valid but not supported (e.g. tensor type) */
    ONC_ERR_NOT_FOUND = -6,   /* missing key, tensor, token */
} onc_status;

#define ONC_ERROR_MSG_MAX 512

typedef struct onc_error {
    onc_status code;              /* ONC_OK when nothing went wrong */
    char msg[ONC_ERROR_MSG_MAX];  /* NUL-terminated message, "" when ok */
} onc_error;

/* Record an error. No-op when err is NULL. Returns code, so callers can write
 * `return onc_error_set(err, ONC_ERR_FORMAT, "%s: bad magic", path);`.
 * If err already holds an error, the new one replaces it. */
onc_status onc_error_set(onc_error *err, onc_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prefix an existing error message with "prefix: " (e.g. a file name).
 * No-op when err is NULL or holds no error. */
void onc_error_prefix(onc_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Reset to ONC_OK with an empty message. Accepts NULL. */
void onc_error_clear(onc_error *err);

/* Short name of a status code ("format error", ...). Never NULL. */
const char *onc_status_name(onc_status code);

/* Always-on assertion for programmer errors: prints file:line and aborts. */
void onc_assert_fail(const char *expr, const char *file, int line)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;
#define ONC_ASSERT(x) ((x) ? (void)0 : onc_assert_fail(#x, __FILE__, __LINE__))

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_STATUS_H */
