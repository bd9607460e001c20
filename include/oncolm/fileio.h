/* oncolm/fileio.h — writing whole files safely.
 *
 * Thread-safety: safe from several threads on different paths. */
#ifndef ONCOLM_FILEIO_H
#define ONCOLM_FILEIO_H

#include <stddef.h>

#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* data[0..len) to path through "<path>.tmp.<pid>", fsync, rename and an
 * fsync of the folder: a reader sees the old file or the whole new one,
 * never a part, even after a crash. On any failure the temporary file is
 * removed, path is left untouched, and err names path and the step that
 * failed. */
onc_status onc_write_file_atomic(const char *path, const void *data, size_t len, onc_error *err);

/* fsync the folder holding path, so a rename into it survives a crash
 * (best effort: errors are ignored). */
void onc_sync_parent_dir(const char *path);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_FILEIO_H */
