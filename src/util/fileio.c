/* fileio.c — whole-file writes that never leave a half-written file (see
 * oncolm/fileio.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oncolm/fileio.h"

void onc_sync_parent_dir(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    const int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

onc_status onc_write_file_atomic(const char *path, const void *data, size_t len, onc_error *err) {
    const size_t cap = strlen(path) + 32;
    char *tmp = malloc(cap);
    if (!tmp) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        const onc_status st = onc_error_set(err, ONC_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return st;
    }
    const char *failed = NULL;
    int e = 0;
    size_t done = 0;
    while (done < len) {
        const ssize_t w = write(fd, (const char *)data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            failed = "write";
            e = w < 0 ? errno : EIO;
            break;
        }
        done += (size_t)w;
    }
    if (!failed && fsync(fd) != 0) failed = "fsync", e = errno;
    if (close(fd) != 0 && !failed) failed = "close", e = errno;
    if (!failed && rename(tmp, path) != 0) failed = "rename", e = errno;
    if (failed) {
        const onc_status st = onc_error_set(err, ONC_ERR_IO, "%s: %s of %s failed: %s", path, failed, tmp, strerror(e));
        unlink(tmp);
        free(tmp);
        return st;
    }
    onc_sync_parent_dir(path);
    free(tmp);
    return ONC_OK;
}
