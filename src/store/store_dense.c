/* store_dense.c — the dense side of the note store: chunk embeddings (kept
 * in the vectors table, so a rebuild never re-embeds), the encoder, and the
 * vector index file DB.faiss (oncolm/vecindex.h) kept in step with the
 * notes (see oncolm/store.h). */
#include "store_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oncolm/encoder.h"
#include "oncolm/vecindex.h"

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


/* Embed every chunk that has no vector yet, committing every COMMIT_EVERY. */
static onc_status embed_missing(onc_store *s, onc_error *err) {
    const int64_t total = store_count(s, "SELECT count(*) FROM chunks c WHERE NOT EXISTS"
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

/* The stamp written into DB.faiss: what the index holds. */
typedef struct stamp {
    int64_t generation; /* store generation the index matches */
    char model[64];     /* dense_model_id */
    int64_t max_chunk;  /* largest chunk id in the index (ids only grow) */
} stamp;

static void stamp_format(const stamp *st, char *out, size_t cap) {
    snprintf(out, cap, "oncolm-store generation=%lld model=%s max_chunk=%lld", (long long)st->generation, st->model,
             (long long)st->max_chunk);
}

static bool stamp_parse(const char *text, stamp *st) {
    long long g = 0, m = 0;
    char model[64] = "";
    if (sscanf(text, "oncolm-store generation=%lld model=%63s max_chunk=%lld", &g, model, &m) != 3) return false;
    st->generation = g;
    st->max_chunk = m;
    snprintf(st->model, sizeof st->model, "%s", model);
    return true;
}

/* Vectors of chunks with id > after, in id order. */
static onc_status read_vectors(onc_store *s, uint32_t dim, int64_t after, float **x, int64_t **ids, int64_t *n,
                               onc_error *err) {
    *x = NULL;
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *cnt = store_prepare(s, "SELECT count(*) FROM vectors WHERE chunk > ?1", err);
    if (!cnt) return ONC_ERR_IO;
    sqlite3_bind_int64(cnt, 1, after);
    const int64_t total = sqlite3_step(cnt) == SQLITE_ROW ? sqlite3_column_int64(cnt, 0) : -1;
    sqlite3_finalize(cnt);
    if (total < 0) return store_sql_error(s, "counting vectors", err);
    *x = malloc(((size_t)total + 1) * dim * sizeof **x);
    *ids = malloc(((size_t)total + 1) * sizeof **ids);
    if (!*x || !*ids) {
        free(*x), free(*ids), *x = NULL, *ids = NULL;
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory for %lld vectors", s->path, (long long)total);
    }
    sqlite3_stmt *st = store_prepare(s, "SELECT chunk, vec FROM vectors WHERE chunk > ?1 ORDER BY chunk", err);
    if (!st) return ONC_ERR_IO;
    sqlite3_bind_int64(st, 1, after);
    onc_status rc = ONC_OK;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && *n < total) {
        if ((size_t)sqlite3_column_bytes(st, 1) != dim * sizeof(float)) {
            rc = onc_error_set(err, ONC_ERR_FORMAT, "%s: chunk %lld has a vector of the wrong size", s->path,
                               (long long)sqlite3_column_int64(st, 0));
            break;
        }
        (*ids)[*n] = sqlite3_column_int64(st, 0);
        memcpy(*x + (size_t)*n * dim, sqlite3_column_blob(st, 1), dim * sizeof(float));
        (*n)++;
    }
    if (!rc && step != SQLITE_ROW && step != SQLITE_DONE) rc = store_sql_error(s, "reading vectors", err);
    sqlite3_finalize(st);
    return rc;
}

static onc_status save_index(onc_store *s, const stamp *st, onc_error *err) {
    char text[ONC_VEC_STAMP_MAX + 1], gen[32];
    stamp_format(st, text, sizeof text);
    onc_status rc = onc_vecindex_save(s->ix, s->index_path, text, err);
    onc_vec_info info;
    onc_vecindex_info(s->ix, &info);
    snprintf(gen, sizeof gen, "%lld", (long long)st->generation);
    if (!rc) rc = store_exec(s, "BEGIN IMMEDIATE; DELETE FROM deleted_chunks;", err);
    if (!rc) rc = store_meta_set(s, "index_generation", gen, err);
    if (!rc) rc = store_meta_set(s, "index_kind", onc_vec_kind_name(info.kind), err);
    if (!rc) rc = store_exec(s, "COMMIT", err);
    else sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (!rc) s->ix_generation = st->generation;
    return rc;
}

static onc_vec_kind vec_kind(onc_ann_kind k) {
    return k == ONC_ANN_EXACT ? ONC_VEC_EXACT : k == ONC_ANN_HNSW ? ONC_VEC_HNSW : k == ONC_ANN_IVF ? ONC_VEC_IVF
                                                                                                     : ONC_VEC_AUTO;
}

/* Build DB.faiss from every stored vector. */
static onc_status build_index(onc_store *s, onc_ann_kind kind, int n_threads, onc_error *err) {
    const uint32_t dim = onc_encoder_dim(s->enc);
    stamp st = {.generation = store_meta_int(s, "generation", 0), .max_chunk = 0};
    char *model = store_meta_get(s, "dense_model_id");
    snprintf(st.model, sizeof st.model, "%s", model ? model : "?");
    free(model);
    float *x = NULL;
    int64_t *ids = NULL, n = 0;
    onc_status rc = read_vectors(s, dim, -1, &x, &ids, &n, err);
    if (!rc && kind == ONC_ANN_IVF && n < 39)
        rc = onc_error_set(err, ONC_ERR_INVALID, "%s: an IVF index needs at least 39 chunks (have %lld)", s->path,
                           (long long)n);
    if (!rc) {
        if (s->progress) s->progress(s->progress_ctx, "building the vector index", 0, n);
        onc_vec_params vp;
        onc_vec_params_default(&vp);
        vp.kind = vec_kind(kind);
        vp.n_threads = n_threads;
        onc_vecindex_free(s->ix);
        s->ix_generation = -1;
        if (!(s->ix = onc_vecindex_build((int)dim, x, ids, n, &vp, err))) rc = err ? err->code : ONC_ERR_INVALID;
        if (!rc && s->progress) s->progress(s->progress_ctx, "building the vector index", n, n);
    }
    if (!rc) st.max_chunk = n ? ids[n - 1] : 0;
    free(x);
    free(ids);
    if (!rc) rc = save_index(s, &st, err);
    return rc;
}

/* The kind the user asked for at the last build (meta index_request), else
 * auto (so an automatic choice is made again for the current size). */
static onc_ann_kind recorded_kind(onc_store *s) {
    char *k = store_meta_get(s, "index_request");
    onc_vec_kind v = ONC_VEC_AUTO;
    if (k) onc_vec_kind_parse(k, &v, NULL);
    free(k);
    return v == ONC_VEC_EXACT ? ONC_ANN_EXACT : v == ONC_VEC_HNSW ? ONC_ANN_HNSW : v == ONC_VEC_IVF ? ONC_ANN_IVF
                                                                                                    : ONC_ANN_AUTO;
}

/* Bring a loaded index from its stamp's generation to the store's: drop
 * deleted chunks, add chunks newer than its max_chunk. HNSW cannot drop
 * vectors: then rebuild. */
static onc_status update_index(onc_store *s, stamp *st, int n_threads, onc_error *err) {
    onc_vec_info info;
    onc_vecindex_info(s->ix, &info);
    const onc_ann_kind kind = info.kind == ONC_VEC_HNSW ? ONC_ANN_HNSW : info.kind == ONC_VEC_IVF ? ONC_ANN_IVF
                                                                                                  : ONC_ANN_EXACT;
    sqlite3_stmt *q = store_prepare(s, "SELECT chunk FROM deleted_chunks WHERE chunk <= ?1", err);
    if (!q) return ONC_ERR_IO;
    sqlite3_bind_int64(q, 1, st->max_chunk);
    int64_t *gone = NULL;
    size_t n_gone = 0, cap = 0;
    onc_status rc = ONC_OK;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (n_gone == cap) {
            int64_t *v = realloc(gone, (cap = cap ? cap * 2 : 256) * sizeof *v);
            if (!v) {
                rc = onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
                break;
            }
            gone = v;
        }
        gone[n_gone++] = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    /* Rebuild instead of patching when the index would drift from what a
     * fresh build gives: HNSW cannot drop vectors; an automatic exact index
     * that grew past the threshold should become IVF; an IVF index whose
     * lists were trained on less than half of its vectors is retrained. */
    const int64_t now = store_count(s, "SELECT count(*) FROM vectors");
    const onc_ann_kind requested = recorded_kind(s);
    const bool rebuild = (n_gone && kind == ONC_ANN_HNSW) ||
                         (requested == ONC_ANN_AUTO && kind == ONC_ANN_EXACT && now >= ONC_VEC_AUTO_THRESHOLD) ||
                         (kind == ONC_ANN_IVF && now > 2 * info.built_count);
    if (!rc && rebuild) {
        free(gone);
        return build_index(s, requested, n_threads, err);
    }
    if (!rc && n_gone) rc = onc_vecindex_remove(s->ix, gone, (int64_t)n_gone, NULL, err);
    free(gone);
    float *x = NULL;
    int64_t *ids = NULL, n = 0;
    if (!rc) rc = read_vectors(s, onc_encoder_dim(s->enc), st->max_chunk, &x, &ids, &n, err);
    if (!rc && n) rc = onc_vecindex_add(s->ix, x, ids, n, err);
    if (!rc && n) st->max_chunk = ids[n - 1];
    free(x);
    free(ids);
    st->generation = store_meta_int(s, "generation", 0);
    if (!rc) rc = save_index(s, st, err);
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
        rc = store_exec(s, "BEGIN IMMEDIATE; DELETE FROM vectors; DELETE FROM deleted_chunks;", err);
        if (!rc) rc = store_meta_set(s, "dense_model", path, err);
        if (!rc) rc = store_meta_set(s, "dense_model_id", id, err);
        if (!rc) rc = store_meta_set(s, "dense_dim", dim, err);
        if (!rc) rc = store_meta_set(s, "index_generation", "-1", err);
        if (!rc) rc = store_exec(s, "COMMIT", err);
        if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        onc_vecindex_free(s->ix);
        s->ix = NULL;
        s->ix_generation = -1;
    } else if (!rc && model_path && (!recorded || strcmp(recorded, model_path) != 0)) {
        rc = store_meta_set(s, "dense_model", path, err); /* same model, moved */
    }
    if (!rc) s->dense_setup = true;
    static const char *const request[] = {"auto", "exact", "hnsw", "ivf"};
    if (!rc) rc = store_meta_set(s, "index_request", request[kind >= 0 && kind <= ONC_ANN_IVF ? kind : 0], err);
    free(old_id);
    if (!rc) rc = embed_missing(s, err);
    if (!rc) rc = build_index(s, kind, n_threads, err);
    s->progress = saved_fn;
    s->progress_ctx = saved_ctx;
    free(recorded);
    return rc;
}

onc_status store_dense_ready(onc_store *s, int n_threads, onc_error *err) {
    char *path = store_meta_get(s, "dense_model");
    char *model_id = store_meta_get(s, "dense_model_id");
    onc_status rc = ONC_OK;
    if (!path || !model_id)
        rc = onc_error_set(err, ONC_ERR_INVALID,
                           "%s: dense search is not set up: give an embedding model (index build --model M)",
                           s->path);
    if (!rc) rc = load_encoder(s, path, n_threads, err);
    const int64_t generation = store_meta_int(s, "generation", 0);
    if (!rc && !(s->ix && s->ix_generation == generation)) {
        /* Load the file when it belongs to this model; bring it up to date
         * incrementally; rebuild when it is missing, foreign or damaged. */
        char text[ONC_VEC_STAMP_MAX + 1];
        stamp st;
        onc_error ignored = {0};
        bool usable = onc_vecindex_read_stamp(s->index_path, text, NULL, &ignored) == ONC_OK &&
                      stamp_parse(text, &st) && strcmp(st.model, model_id) == 0;
        if (usable && !s->ix) {
            s->ix = onc_vecindex_load(s->index_path, n_threads, &ignored);
            usable = s->ix != NULL;
        }
        if (usable && s->ix) {
            stamp_parse(onc_vecindex_stamp(s->ix), &st);
            usable = strcmp(st.model, model_id) == 0 && st.generation <= generation;
        }
        if (!rc) rc = embed_missing(s, err);
        if (!rc) {
            if (usable && st.generation == generation) s->ix_generation = generation;
            else if (usable) rc = update_index(s, &st, n_threads, err);
            else rc = build_index(s, recorded_kind(s), n_threads, err);
        }
    }
    free(path);
    free(model_id);
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

onc_status store_dense_topk(onc_store *s, const float *q, int32_t limit, const int64_t *allowed, size_t n_allowed,
                            int64_t *ids, float *scores, size_t *n_out, onc_error *err) {
    *n_out = 0;
    const int dim = (int)onc_encoder_dim(s->enc);
    const onc_status rc =
        allowed ? onc_vecindex_search_filtered(s->ix, dim, q, 1, limit, allowed, (int64_t)n_allowed, scores, ids,
                                               NULL, err)
                : onc_vecindex_search(s->ix, dim, q, 1, limit, scores, ids, NULL, err);
    if (rc) return rc;
    size_t n = 0;
    while (n < (size_t)limit && ids[n] >= 0) n++;
    *n_out = n;
    return ONC_OK;
}

void store_dense_free(onc_store *s) {
    onc_encoder_free(s->enc);
    s->enc = NULL;
    free(s->enc_path);
    s->enc_path = NULL;
    onc_vecindex_free(s->ix);
    s->ix = NULL;
    s->ix_generation = -1;
    onc_encoder_free(s->rerank_enc);
    s->rerank_enc = NULL;
    free(s->rerank_path);
    s->rerank_path = NULL;
}
