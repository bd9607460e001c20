/* store_dense.c — the dense side of the note store: chunk embeddings (kept
 * in the vectors table, so a rebuild never re-embeds), the encoder, and
 * exact top-k over stored vectors (see oncolm/store.h). */
#include "store_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oncolm/encoder.h"

#define EMBED_BATCH 32
#define COMMIT_EVERY 1024

/* Identity of a model file: its size and an FNV-1a hash of its first and
 * last MiB (GGUF metadata and tensors both change the hash), as hex. */
static onc_status model_identity(const char *path, char *out, size_t cap, onc_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return onc_error_set(err, ONC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        fclose(f);
        return onc_error_set(err, ONC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    uint64_t h = 1469598103934665603ull;
    enum { MIB = 1 << 20 };
    unsigned char *buf = malloc(MIB);
    if (!buf) return fclose(f), onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    for (int part = 0; part < 2; part++) {
        const long off = part == 0 ? 0 : (sb.st_size > MIB ? (long)(sb.st_size - MIB) : 0);
        if (fseek(f, off, SEEK_SET) != 0) break;
        const size_t got = fread(buf, 1, MIB, f);
        for (size_t i = 0; i < got; i++) h = (h ^ buf[i]) * 1099511628211ull;
    }
    free(buf);
    fclose(f);
    snprintf(out, cap, "%llx-%016llx", (unsigned long long)sb.st_size, (unsigned long long)h);
    return ONC_OK;
}

static onc_status load_encoder(onc_store *s, const char *path, int n_threads, onc_error *err) {
    if (s->enc && s->enc_path && strcmp(s->enc_path, path) == 0) return ONC_OK;
    onc_encoder_free(s->enc);
    free(s->enc_path);
    s->enc_path = NULL;
    onc_encoder_params ep = onc_encoder_default_params();
    ep.n_threads = n_threads;
    ep.normalize = true;
    if (!(s->enc = onc_encoder_load(path, &ep, err))) return err ? err->code : ONC_ERR_IO;
    if (onc_encoder_pooling(s->enc) == ONC_POOLING_NONE) {
        onc_encoder_free(s->enc);
        s->enc = NULL;
        return onc_error_set(err, ONC_ERR_INVALID, "%s: the model has no pooling; it cannot embed passages", path);
    }
    if (!(s->enc_path = strdup(path))) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    return ONC_OK;
}

static int64_t scalar(onc_store *s, const char *sql) {
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Embed every chunk that has no vector yet, committing every COMMIT_EVERY. */
static onc_status embed_missing(onc_store *s, onc_error *err) {
    const int64_t total = scalar(s, "SELECT count(*) FROM chunks c WHERE NOT EXISTS"
                                    " (SELECT 1 FROM vectors v WHERE v.chunk = c.id)");
    if (total < 0) return store_sql_error(s, "counting chunks to embed", err);
    if (total == 0) return ONC_OK;
    const uint32_t dim = onc_encoder_dim(s->enc);
    sqlite3_stmt *q = store_prepare(s,
                                    "SELECT c.id FROM chunks c WHERE NOT EXISTS"
                                    " (SELECT 1 FROM vectors v WHERE v.chunk = c.id) ORDER BY c.id",
                                    err);
    if (!q) return ONC_ERR_IO;
    int64_t *ids = malloc((size_t)total * sizeof *ids);
    size_t n = 0;
    while (ids && n < (size_t)total && sqlite3_step(q) == SQLITE_ROW) ids[n++] = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (!ids) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", s->path);
    sqlite3_stmt *ins = store_prepare(s, "INSERT OR REPLACE INTO vectors(chunk, vec) VALUES(?1, ?2)", err);
    char *text[EMBED_BATCH] = {0};
    size_t len[EMBED_BATCH];
    float *vec = malloc((size_t)EMBED_BATCH * dim * sizeof *vec);
    onc_status rc = ins ? ONC_OK : ONC_ERR_IO;
    if (!rc && !vec) rc = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", s->path);
    bool in_tx = false;
    size_t since_commit = 0;
    for (size_t i = 0; !rc && i < n; i += EMBED_BATCH) {
        const size_t m = n - i < EMBED_BATCH ? n - i : EMBED_BATCH;
        for (size_t j = 0; !rc && j < m; j++)
            if (!(text[j] = onc_store_chunk_text(s, ids[i + j], &len[j], err))) rc = err ? err->code : ONC_ERR_IO;
        if (!rc) rc = onc_encoder_embed(s->enc, (const char *const *)text, len, m, vec, err);
        for (size_t j = 0; j < m; j++) free(text[j]), text[j] = NULL;
        if (!rc && !in_tx) rc = store_exec(s, "BEGIN IMMEDIATE", err), in_tx = !rc;
        for (size_t j = 0; !rc && j < m; j++) {
            sqlite3_bind_int64(ins, 1, ids[i + j]);
            sqlite3_bind_blob(ins, 2, vec + j * dim, (int)(dim * sizeof(float)), SQLITE_STATIC);
            if (sqlite3_step(ins) != SQLITE_DONE) rc = store_sql_error(s, "storing an embedding", err);
            sqlite3_reset(ins);
        }
        since_commit += m;
        if (!rc && (since_commit >= COMMIT_EVERY || i + m >= n)) {
            rc = store_exec(s, "COMMIT", err);
            in_tx = false;
            since_commit = 0;
        }
        if (!rc && s->progress) s->progress(s->progress_ctx, "embedding chunks", (int64_t)(i + m), (int64_t)n);
    }
    if (in_tx) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(ins);
    free(vec);
    free(ids);
    return rc;
}

onc_status onc_store_dense_build(onc_store *s, const char *model_path, onc_ann_kind kind, int n_threads,
                                 onc_progress_fn progress, void *progress_ctx, onc_error *err) {
    if (s->in_tx) return onc_error_set(err, ONC_ERR_INVALID, "%s: commit the ingest before building", s->path);
    char *recorded = store_meta_get(s, "dense_model");
    const char *path = model_path ? model_path : recorded;
    if (!path) {
        return onc_error_set(err, ONC_ERR_INVALID,
                             "%s: dense search is not set up: give an embedding model (index build --model M)",
                             s->path);
    }
    onc_progress_fn saved_fn = s->progress;
    void *saved_ctx = s->progress_ctx;
    if (progress) s->progress = progress, s->progress_ctx = progress_ctx;
    char id[64];
    onc_status rc = model_identity(path, id, sizeof id, err);
    if (!rc) rc = load_encoder(s, path, n_threads, err);
    char *old_id = rc ? NULL : store_meta_get(s, "dense_model_id");
    if (!rc && (!old_id || strcmp(old_id, id) != 0)) {
        /* A new model: every stored vector is obsolete. */
        char dim[16];
        snprintf(dim, sizeof dim, "%u", onc_encoder_dim(s->enc));
        rc = store_exec(s, "BEGIN IMMEDIATE; DELETE FROM vectors;", err);
        if (!rc) rc = store_meta_set(s, "dense_model", path, err);
        if (!rc) rc = store_meta_set(s, "dense_model_id", id, err);
        if (!rc) rc = store_meta_set(s, "dense_dim", dim, err);
        if (!rc) rc = store_meta_set(s, "index_generation", "-1", err);
        if (!rc) rc = store_exec(s, "COMMIT", err);
        if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    } else if (!rc && model_path && (!recorded || strcmp(recorded, model_path) != 0)) {
        rc = store_meta_set(s, "dense_model", path, err); /* same model, moved */
    }
    free(old_id);
    if (!rc) rc = embed_missing(s, err);
    (void)kind;
    s->progress = saved_fn;
    s->progress_ctx = saved_ctx;
    free(recorded);
    return rc;
}

onc_status store_dense_ready(onc_store *s, int n_threads, onc_error *err) {
    char *path = store_meta_get(s, "dense_model");
    if (!path)
        return onc_error_set(err, ONC_ERR_INVALID,
                             "%s: dense search is not set up: give an embedding model (index build --model M)",
                             s->path);
    onc_status rc = load_encoder(s, path, n_threads, err);
    const int64_t missing = rc ? 0
                               : scalar(s, "SELECT count(*) FROM chunks c WHERE NOT EXISTS"
                                           " (SELECT 1 FROM vectors v WHERE v.chunk = c.id)");
    if (!rc && missing != 0) rc = onc_store_dense_build(s, NULL, ONC_ANN_AUTO, n_threads, NULL, NULL, err);
    free(path);
    return rc;
}

onc_status store_dense_query(onc_store *s, const char *query, float **vec, uint32_t *dim, onc_error *err) {
    *dim = onc_encoder_dim(s->enc);
    *vec = malloc(*dim * sizeof **vec);
    if (!*vec) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    const onc_status rc = onc_encoder_embed(s->enc, &query, NULL, 1, *vec, err);
    if (rc) free(*vec), *vec = NULL;
    return rc;
}

/* Min-heap of the best `cap` (score, id) pairs. */
typedef struct topk {
    float *score;
    int64_t *id;
    size_t n, cap;
} topk;

static bool worse(const topk *t, size_t a, size_t b) {
    if (t->score[a] != t->score[b]) return t->score[a] < t->score[b];
    return t->id[a] > t->id[b]; /* equal scores: the smaller id ranks first */
}

static void swap_at(topk *t, size_t a, size_t b) {
    const float s = t->score[a];
    t->score[a] = t->score[b];
    t->score[b] = s;
    const int64_t i = t->id[a];
    t->id[a] = t->id[b];
    t->id[b] = i;
}

static void sift_down(topk *t, size_t i) {
    for (;;) {
        size_t m = i;
        const size_t l = 2 * i + 1, r = l + 1;
        if (l < t->n && worse(t, l, m)) m = l;
        if (r < t->n && worse(t, r, m)) m = r;
        if (m == i) return;
        swap_at(t, i, m);
        i = m;
    }
}

static void topk_push(topk *t, float score, int64_t id) {
    if (t->n < t->cap) {
        size_t i = t->n++;
        t->score[i] = score;
        t->id[i] = id;
        while (i > 0 && worse(t, i, (i - 1) / 2)) swap_at(t, i, (i - 1) / 2), i = (i - 1) / 2;
        return;
    }
    const float s0 = t->score[0];
    if (score < s0 || (score == s0 && id > t->id[0])) return;
    t->score[0] = score;
    t->id[0] = id;
    sift_down(t, 0);
}

static float dot(const float *a, const float *b, uint32_t n) {
    float s = 0;
    for (uint32_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

onc_status store_dense_topk(onc_store *s, const float *q, int32_t limit, const int64_t *allowed, size_t n_allowed,
                            int64_t *ids, float *scores, size_t *n_out, onc_error *err) {
    *n_out = 0;
    const uint32_t dim = onc_encoder_dim(s->enc);
    topk t = {scores, ids, 0, (size_t)limit};
    sqlite3_stmt *st = store_prepare(s, allowed ? "SELECT chunk, vec FROM vectors WHERE chunk = ?1"
                                                : "SELECT chunk, vec FROM vectors",
                                     err);
    if (!st) return ONC_ERR_IO;
    onc_status rc = ONC_OK;
    for (size_t i = 0; !rc && (allowed ? i < n_allowed : true); i++) {
        if (allowed) sqlite3_bind_int64(st, 1, allowed[i]);
        const int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            if ((size_t)sqlite3_column_bytes(st, 1) != dim * sizeof(float)) {
                rc = onc_error_set(err, ONC_ERR_FORMAT, "%s: chunk %lld has a vector of the wrong size", s->path,
                                   (long long)sqlite3_column_int64(st, 0));
                break;
            }
            topk_push(&t, dot(q, sqlite3_column_blob(st, 1), dim), sqlite3_column_int64(st, 0));
        } else if (step != SQLITE_DONE) {
            rc = store_sql_error(s, "reading vectors", err);
        } else if (!allowed) {
            break;
        }
        if (allowed) sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc) return rc;
    /* Heap to descending order. */
    const size_t n = t.n;
    while (t.n > 1) {
        swap_at(&t, 0, t.n - 1);
        t.n--;
        sift_down(&t, 0);
    }
    *n_out = n;
    return ONC_OK;
}

void store_dense_free(onc_store *s) {
    onc_encoder_free(s->enc);
    s->enc = NULL;
    free(s->enc_path);
    s->enc_path = NULL;
}
