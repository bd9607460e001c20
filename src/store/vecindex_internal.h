/* vecindex_internal.h — private to src/store/vecindex_*: the oncolm vector
 * index *file format* (vecindex_file.c, plain C), used by the FAISS bridge
 * (vecindex_faiss.cpp), which serialises the payload itself.
 *
 * A file is a 384-byte header followed by the payload (FAISS's own
 * serialization, faiss::write_index). Header fields (offsets in bytes, all
 * little-endian):
 *    0 magic "ONCVECIX"     8 u32 version       12 u32 header size (384)
 *   16 u32 kind            20 u32 dim          24 u64 count
 *   32 u64 payload bytes   40 u64 payload checksum
 *   48 u32 stamp length    52 u32 metric (1 = inner product)
 *   56 u32 hnsw M  60 efConstruction  64 efSearch  68 ivf nlist  72 nprobe
 *   76 u32 zero  80 u64 vectors at build time (IVF: the lists were trained
 *   for this many)  88..96 zero  96..352 stamp (zero padded)  352..376 zero
 *  376 u64 checksum of bytes [0, 376)
 * Semantics of the public side (save / load / read_stamp):
 * include/oncolm/vecindex.h.
 *
 * Nothing here prints; messages start with the file's path and are the ones
 * vecindex.h documents. Thread-safety: every function is reentrant (no
 * shared state); a checksum or temporary-file object belongs to one thread. */
#ifndef ONCOLM_STORE_VECINDEX_INTERNAL_H
#define ONCOLM_STORE_VECINDEX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"
#include "oncolm/vecindex.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ONC_VECFILE_HEADER_SIZE 384 /* bytes before the payload */
#define ONC_VECFILE_VERSION 1       /* the only version written and read */
#define ONC_VECFILE_PARAM_MAX 65536 /* largest HNSW efConstruction / efSearch */

/* ---- checksum ------------------------------------------------------------ */

/* A streaming 64-bit checksum for corruption detection (not cryptographic):
 * four lanes each absorb one little-endian 64-bit word of every 32-byte
 * block (lane = rotl(lane + w * K1, 31) * K2), the tail bytes and the length
 * are folded in at the end and the result goes through a splitmix64-style
 * finaliser. The value does not depend on how the stream is chunked.
 * Fields are private to vecindex_file.c. */
typedef struct onc_vecfile_sum {
    uint64_t lane[4];
    uint8_t tail[32];
    size_t tail_n;
    uint64_t total;
} onc_vecfile_sum;

/* Start an empty stream. */
void onc_vecfile_sum_init(onc_vecfile_sum *c);
/* Absorb n bytes; data may be NULL when n == 0 (FAISS writes empty vectors). */
void onc_vecfile_sum_update(onc_vecfile_sum *c, const void *data, size_t n);
/* The checksum of everything absorbed so far (the stream may go on). */
uint64_t onc_vecfile_sum_digest(const onc_vecfile_sum *c);
/* One-shot: the checksum of n bytes at data. */
uint64_t onc_vecfile_checksum(const void *data, size_t n);

/* ---- the header ---------------------------------------------------------- */

/* The decoded header (layout above). */
typedef struct onc_vecfile_header {
    uint32_t version;               /* ONC_VECFILE_VERSION */
    uint32_t kind, dim;             /* onc_vec_kind (EXACT..IVF), 1..ONC_VEC_DIM_MAX */
    uint64_t count, payload_size, payload_sum;
    uint32_t metric;                /* 1 = inner product, the only one */
    uint32_t m, efc, efs;           /* HNSW, else 0 */
    uint32_t nlist, nprobe;         /* IVF, else 0 */
    uint64_t built;                 /* vectors at build time */
    char stamp[ONC_VEC_STAMP_MAX + 1]; /* NUL-terminated, no NUL inside */
} onc_vecfile_header;

/* Fill h with the defaults of a new file: current version, inner product,
 * everything else zero and an empty stamp. */
void onc_vecfile_header_init(onc_vecfile_header *h);

/* Encode h into out[ONC_VECFILE_HEADER_SIZE] (unused bytes zero, header
 * checksum last). h->stamp must be NUL-terminated and at most
 * ONC_VEC_STAMP_MAX bytes long (ONC_ASSERT). */
void onc_vecfile_encode_header(const onc_vecfile_header *h, uint8_t *out);

/* Validate and decode the first ONC_VECFILE_HEADER_SIZE bytes (b; fewer are
 * meaningful when file_size is smaller) of a file of file_size bytes: magic,
 * size, header checksum, version, header size, kind, dimension, metric,
 * stamp, kind parameters, then that the file is exactly header + payload
 * bytes long. ONC_ERR_FORMAT with a message starting with path on any
 * failure (h is then partly filled). */
onc_status onc_vecfile_decode_header(const char *path, const uint8_t *b, uint64_t file_size, onc_vecfile_header *h,
                                     onc_error *err);

/* ---- reading ------------------------------------------------------------- */

/* Open path and read + validate its header (h), leaving the descriptor open
 * in *fd_out (or closed when fd_out is NULL) and the size in *size_out
 * (may be NULL when fd_out is). On failure nothing stays open: ONC_ERR_IO
 * (cannot open / stat / read, not a regular file) or ONC_ERR_FORMAT
 * (onc_vecfile_decode_header). The payload checksum is not checked. */
onc_status onc_vecfile_open(const char *path, onc_vecfile_header *h, int *fd_out, uint64_t *size_out,
                            onc_error *err);

/* (onc_vecindex_read_stamp, public in oncolm/vecindex.h, is defined in
 * vecindex_file.c on top of onc_vecfile_open.) */

/* ---- atomic writing ------------------------------------------------------ */

/* Write all n bytes to fd (retrying short writes and EINTR). Returns 0, or
 * the errno of the failure (EIO when write returned 0). */
int onc_vecfile_write_all(int fd, const void *data, size_t n);

/* A temporary file "<path>.tmp.<pid>" beside path, written and then renamed
 * over path. Start from ONC_VECFILE_TMP_INIT (empty: fd -1, name NULL). */
typedef struct onc_vecfile_tmp {
    int fd;     /* open for writing, -1 once closed */
    char *name; /* the temporary path (malloc'ed), NULL once renamed or removed */
} onc_vecfile_tmp;
#define ONC_VECFILE_TMP_INIT {-1, NULL}

/* Create (truncate) "<path>.tmp.<pid>" with mode 0666 (less umask).
 * ONC_ERR_IO "PATH: cannot create TMP: REASON", or ONC_ERR_NOMEM
 * "PATH: cannot save: out of memory"; t is then empty (fd -1, name NULL). */
onc_status onc_vecfile_tmp_create(const char *path, onc_vecfile_tmp *t, onc_error *err);

/* Give up on t after a failed step: close it, remove the temporary file and
 * return ONC_ERR_IO "PATH: STEP TMP failed: REASON" (strerror(e), EIO when
 * e is 0), e.g. step "write to". t is left empty. */
onc_status onc_vecfile_tmp_fail(onc_vecfile_tmp *t, const char *path, const char *step, int e, onc_error *err);

/* Close and remove the temporary file, if any, without reporting anything
 * (cleanup on an exception path). Safe on an empty t, and to call twice. */
void onc_vecfile_tmp_discard(onc_vecfile_tmp *t);

/* Finish t: write header[ONC_VECFILE_HEADER_SIZE] over the first bytes
 * (pwrite at offset 0, the payload already follows it), fsync, close,
 * rename onto path, then fsync the folder holding path (best effort). On a
 * failure, onc_vecfile_tmp_fail with step "write to", "fsync of", "close
 * of" or "renaming into place of". t is left empty either way. */
onc_status onc_vecfile_tmp_commit(onc_vecfile_tmp *t, const char *path, const uint8_t *header, onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_STORE_VECINDEX_INTERNAL_H */
