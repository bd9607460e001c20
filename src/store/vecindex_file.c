/* vecindex_file.c — the oncolm vector index file format in plain C: the
 * 384-byte header (layout in vecindex_internal.h), its encoding, decoding
 * and validation, the checksum, opening and checking a file, reading only
 * the header (onc_vecindex_read_stamp), and the atomic write (temporary
 * file, fsync, rename, fsync of the folder). The FAISS payload itself is
 * written and parsed by vecindex_faiss.cpp. Semantics and messages:
 * include/oncolm/vecindex.h and vecindex_internal.h. */
#include "vecindex_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char kMagic[8] = {'O', 'N', 'C', 'V', 'E', 'C', 'I', 'X'};
enum {
    kStampOff = 96,      /* stamp bytes [96, 352) */
    kHeaderSumOff = 376, /* checksum of bytes [0, 376) */
};
#define kHeaderSize ((size_t)ONC_VECFILE_HEADER_SIZE)
#define kVersion ((uint32_t)ONC_VECFILE_VERSION)
#define kMetricIP ((uint32_t)1)
#define kMaxParam ONC_VECFILE_PARAM_MAX

/* ---- little-endian fields ------------------------------------------------ */

/* little-endian fields of n bytes */
static void put_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static void put32(uint8_t *p, uint32_t v) { put_le(p, v, 4); }
static void put64(uint8_t *p, uint64_t v) { put_le(p, v, 8); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get_le(p, 4); }
static uint64_t get64(const uint8_t *p) { return get_le(p, 8); }

/* ---- checksum (see vecindex_internal.h) ---------------------------------- */

#define K1 0x9e3779b185ebca87ULL
#define K2 0xc2b2ae3d27d4eb4fULL
#define K3 0x165667b19e3779f9ULL

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static void sum_block(onc_vecfile_sum *c, const uint8_t *p) {
    for (int i = 0; i < 4; i++) c->lane[i] = rotl(c->lane[i] + get_le(p + 8 * i, 8) * K1, 31) * K2;
}

void onc_vecfile_sum_init(onc_vecfile_sum *c) {
    memset(c, 0, sizeof *c);
    c->lane[0] = 0x243f6a8885a308d3ULL;
    c->lane[1] = 0x13198a2e03707344ULL;
    c->lane[2] = 0xa4093822299f31d0ULL;
    c->lane[3] = 0x082efa98ec4e6c89ULL;
}

void onc_vecfile_sum_update(onc_vecfile_sum *c, const void *data, size_t n) {
    if (n == 0) return; /* data may be NULL (FAISS writes empty vectors) */
    const uint8_t *p = (const uint8_t *)data;
    c->total += n;
    if (c->tail_n) {
        size_t room = sizeof c->tail - c->tail_n;
        size_t take = n < room ? n : room;
        memcpy(c->tail + c->tail_n, p, take);
        c->tail_n += take;
        p += take;
        n -= take;
        if (c->tail_n < sizeof c->tail) return;
        sum_block(c, c->tail);
        c->tail_n = 0;
    }
    while (n >= 32) {
        sum_block(c, p);
        p += 32;
        n -= 32;
    }
    if (n) {
        memcpy(c->tail, p, n);
        c->tail_n = n;
    }
}

uint64_t onc_vecfile_sum_digest(const onc_vecfile_sum *c) {
    uint64_t h = rotl(c->lane[0], 1) + rotl(c->lane[1], 7) + rotl(c->lane[2], 12) + rotl(c->lane[3], 18);
    h ^= c->total * K3;
    for (size_t i = 0; i < c->tail_n; i++) h = rotl(h ^ (c->tail[i] * K1), 11) * K2;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

uint64_t onc_vecfile_checksum(const void *data, size_t n) {
    onc_vecfile_sum c;
    onc_vecfile_sum_init(&c);
    onc_vecfile_sum_update(&c, data, n);
    return onc_vecfile_sum_digest(&c);
}

/* ---- the header ---------------------------------------------------------- */

static uint64_t header_sum(const uint8_t *h) { return onc_vecfile_checksum(h, kHeaderSumOff); }

void onc_vecfile_header_init(onc_vecfile_header *h) {
    memset(h, 0, sizeof *h);
    h->version = kVersion;
    h->metric = kMetricIP;
}

void onc_vecfile_encode_header(const onc_vecfile_header *h, uint8_t *out) {
    const size_t stamp_len = strnlen(h->stamp, sizeof h->stamp);
    ONC_ASSERT(stamp_len <= ONC_VEC_STAMP_MAX);
    memset(out, 0, kHeaderSize);
    memcpy(out, kMagic, 8);
    put32(out + 8, h->version);
    put32(out + 12, (uint32_t)kHeaderSize);
    put32(out + 16, h->kind);
    put32(out + 20, h->dim);
    put64(out + 24, h->count);
    put64(out + 32, h->payload_size);
    put64(out + 40, h->payload_sum);
    put32(out + 48, (uint32_t)stamp_len);
    put32(out + 52, h->metric);
    put32(out + 56, h->m);
    put32(out + 60, h->efc);
    put32(out + 64, h->efs);
    put32(out + 68, h->nlist);
    put32(out + 72, h->nprobe);
    put64(out + 80, h->built);
    memcpy(out + kStampOff, h->stamp, stamp_len);
    put64(out + kHeaderSumOff, header_sum(out));
}

/* Validate and decode the first kHeaderSize bytes of a file of file_size
 * bytes. Messages start with the path. */
onc_status onc_vecfile_decode_header(const char *path, const uint8_t *b, uint64_t file_size, onc_vecfile_header *h,
                                     onc_error *err) {
    if (file_size == 0) return onc_error_set(err, ONC_ERR_FORMAT, "%s: empty file (not an oncolm vector index)", path);
    if (file_size < 8 || memcmp(b, kMagic, 8) != 0)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: not an oncolm vector index", path);
    if (file_size < kHeaderSize)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: truncated: %llu bytes, the header alone is %zu", path,
                             (unsigned long long)file_size, kHeaderSize);
    if (get64(b + kHeaderSumOff) != header_sum(b))
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: corrupt header (checksum mismatch)", path);
    h->version = get32(b + 8);
    if (h->version != kVersion)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: oncolm vector index version %u is not supported (this build reads %u)",
                             path, h->version, kVersion);
    if (get32(b + 12) != kHeaderSize)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: corrupt header (header size %u)", path, get32(b + 12));
    h->kind = get32(b + 16);
    h->dim = get32(b + 20);
    h->count = get64(b + 24);
    h->payload_size = get64(b + 32);
    h->payload_sum = get64(b + 40);
    uint32_t stamp_len = get32(b + 48);
    h->metric = get32(b + 52);
    h->m = get32(b + 56);
    h->efc = get32(b + 60);
    h->efs = get32(b + 64);
    h->nlist = get32(b + 68);
    h->nprobe = get32(b + 72);
    h->built = get64(b + 80);
    if (h->kind < ONC_VEC_EXACT || h->kind > ONC_VEC_IVF)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: corrupt header (unknown index kind %u)", path, h->kind);
    if (h->dim < 1 || h->dim > ONC_VEC_DIM_MAX)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: corrupt header (dimension %u)", path, h->dim);
    if (h->metric != kMetricIP)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: unsupported metric %u (expected inner product)", path, h->metric);
    if (stamp_len > ONC_VEC_STAMP_MAX)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: corrupt header (stamp length %u)", path, stamp_len);
    const char *st = (const char *)(b + kStampOff);
    if (memchr(st, '\0', stamp_len))
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: corrupt header (NUL byte inside the stamp)", path);
    memcpy(h->stamp, st, stamp_len);
    h->stamp[stamp_len] = '\0';
    bool params_ok = true;
    if (h->kind == ONC_VEC_HNSW)
        params_ok = h->m >= 2 && h->m <= 256 && h->efc >= 1 && h->efc <= (uint32_t)kMaxParam && h->efs >= 1 &&
                    h->efs <= (uint32_t)kMaxParam;
    if (h->kind == ONC_VEC_IVF) params_ok = h->nlist >= 1 && h->nprobe >= 1 && h->nprobe <= h->nlist;
    if (!params_ok) return onc_error_set(err, ONC_ERR_FORMAT, "%s: corrupt header (index parameters)", path);
    if (h->payload_size == 0 || h->payload_size > file_size - kHeaderSize)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: truncated: %llu bytes, the header says %llu", path,
                             (unsigned long long)file_size, (unsigned long long)(kHeaderSize + h->payload_size));
    if (h->payload_size < file_size - kHeaderSize)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: corrupt: %llu unexpected bytes after the index data", path,
                             (unsigned long long)(file_size - kHeaderSize - h->payload_size));
    return ONC_OK;
}

/* ---- reading ------------------------------------------------------------- */

onc_status onc_vecfile_open(const char *path, onc_vecfile_header *h, int *fd_out, uint64_t *size_out,
                            onc_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return onc_error_set(err, ONC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat stt;
    if (fstat(fd, &stt) != 0) {
        int e = errno;
        close(fd);
        return onc_error_set(err, ONC_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(stt.st_mode)) {
        close(fd);
        return onc_error_set(err, ONC_ERR_IO, "%s: not a regular file", path);
    }
    uint64_t size = (uint64_t)stt.st_size;
    uint8_t hb[ONC_VECFILE_HEADER_SIZE];
    memset(hb, 0, sizeof hb);
    size_t want = (size_t)(size < kHeaderSize ? size : kHeaderSize), got = 0;
    while (got < want) {
        ssize_t k = pread(fd, hb + got, want - got, (off_t)got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int e = errno;
            close(fd);
            return onc_error_set(err, ONC_ERR_IO, "%s: read failed: %s", path, strerror(e));
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    onc_status st = onc_vecfile_decode_header(path, hb, got < want ? got : size, h, err);
    if (st != ONC_OK || !fd_out) {
        close(fd);
        return st;
    }
    *fd_out = fd;
    *size_out = size;
    return ONC_OK;
}

/* Header only (onc_vecfile_open without keeping the file): no payload
 * checksum, which would read the whole file. */
onc_status onc_vecindex_read_stamp(const char *path, char *stamp, onc_vec_info *info, onc_error *err) {
    if (!path) return onc_error_set(err, ONC_ERR_INVALID, "vector index: NULL path");
    onc_vecfile_header h;
    onc_status st = onc_vecfile_open(path, &h, NULL, NULL, err);
    if (st != ONC_OK) return st;
    if (stamp) {
        size_t n = strlen(h.stamp);
        memcpy(stamp, h.stamp, n);
        stamp[n] = '\0';
    }
    if (info) {
        memset(info, 0, sizeof *info);
        info->kind = (onc_vec_kind)h.kind;
        info->dim = (int)h.dim;
        info->count = (int64_t)h.count;
        if (info->kind == ONC_VEC_HNSW) {
            info->hnsw_m = (int)h.m;
            info->hnsw_ef_construction = (int)h.efc;
            info->hnsw_ef_search = (int)h.efs;
        } else if (info->kind == ONC_VEC_IVF) {
            info->ivf_nlist = (int)h.nlist;
            info->ivf_nprobe = (int)h.nprobe;
        }
        info->built_count = (int64_t)h.built;
    }
    return ONC_OK;
}

/* ---- atomic writing ------------------------------------------------------ */

int onc_vecfile_write_all(int fd, const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    while (n > 0) {
        ssize_t k = write(fd, p, n < ((size_t)1 << 30) ? n : ((size_t)1 << 30));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return k < 0 ? errno : EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* fsync the folder holding path so the rename is durable (best effort). */
static void sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    if (slash && slash != path) {
        dir = strndup(path, (size_t)(slash - path));
        if (!dir) return;
    }
    int fd = open(dir ? dir : slash ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

onc_status onc_vecfile_tmp_create(const char *path, onc_vecfile_tmp *t, onc_error *err) {
    t->fd = -1;
    size_t cap = strlen(path) + 32; /* ".tmp." + a long in decimal + NUL */
    t->name = malloc(cap);
    if (!t->name) return onc_error_set(err, ONC_ERR_NOMEM, "%s: cannot save: out of memory", path);
    snprintf(t->name, cap, "%s.tmp.%ld", path, (long)getpid());
    t->fd = open(t->name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (t->fd < 0) {
        onc_status st = onc_error_set(err, ONC_ERR_IO, "%s: cannot create %s: %s", path, t->name, strerror(errno));
        free(t->name);
        t->name = NULL;
        return st;
    }
    return ONC_OK;
}

void onc_vecfile_tmp_discard(onc_vecfile_tmp *t) {
    if (t->fd >= 0) close(t->fd);
    t->fd = -1;
    if (t->name) unlink(t->name);
    free(t->name);
    t->name = NULL;
}

/* "PATH: STEP TMP failed: REASON", temporary file removed */
onc_status onc_vecfile_tmp_fail(onc_vecfile_tmp *t, const char *path, const char *step, int e, onc_error *err) {
    if (t->fd >= 0) close(t->fd);
    t->fd = -1;
    if (t->name) unlink(t->name);
    onc_status st = onc_error_set(err, ONC_ERR_IO, "%s: %s %s failed: %s", path, step, t->name ? t->name : "",
                                  strerror(e ? e : EIO));
    free(t->name);
    t->name = NULL;
    return st;
}

onc_status onc_vecfile_tmp_commit(onc_vecfile_tmp *t, const char *path, const uint8_t *header, onc_error *err) {
    size_t off = 0;
    while (off < kHeaderSize) {
        ssize_t k = pwrite(t->fd, header + off, kHeaderSize - off, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return onc_vecfile_tmp_fail(t, path, "write to", k < 0 ? errno : EIO, err);
        off += (size_t)k;
    }
    if (fsync(t->fd) != 0) return onc_vecfile_tmp_fail(t, path, "fsync of", errno, err);
    int rc = close(t->fd);
    t->fd = -1;
    if (rc != 0) return onc_vecfile_tmp_fail(t, path, "close of", errno, err);
    if (rename(t->name, path) != 0) return onc_vecfile_tmp_fail(t, path, "renaming into place of", errno, err);
    free(t->name);
    t->name = NULL;
    sync_dir(path);
    return ONC_OK;
}
