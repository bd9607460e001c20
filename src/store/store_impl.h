/* store_impl.h — internals shared by the note store's files (store.c:
 * schema, ingest, delete, stats; store_search.c: BM25, dense, hybrid;
 * store_dense.c: embeddings and the vector index). */
#ifndef ONCOLM_STORE_IMPL_H
#define ONCOLM_STORE_IMPL_H

#include <sqlite3.h>

#include "oncolm/chunk.h"
#include "oncolm/store.h"

struct onc_vecindex;

struct onc_store {
    sqlite3 *db;
    char *path;            /* the database file */
    char *index_path;      /* DB.faiss */
    onc_chunk_params chunking;
    bool in_tx;
    sqlite3_stmt *st_find_note, *st_insert_note, *st_insert_chunk, *st_insert_fts, *st_patient, *st_bump;
    /* dense state, loaded on first use */
    onc_encoder *enc;
    char *enc_path;
    onc_encoder *rerank_enc; /* cross-encoder of the last reranked search, kept for the next */
    char *rerank_path;
    bool dense_setup;      /* meta has a dense model: deletions are logged */
    struct onc_vecindex *ix;
    int64_t ix_generation; /* generation the loaded index matches, -1 none */
    onc_progress_fn progress;
    void *progress_ctx;
};

/* Run SQL without results; on failure set err naming the store. */
onc_status store_exec(onc_store *s, const char *sql, onc_error *err);
/* The first column of the first row of a query (a count), -1 on error. */
int64_t store_count(onc_store *s, const char *sql);
/* Prepare or fail with err. */
sqlite3_stmt *store_prepare(onc_store *s, const char *sql, onc_error *err);
/* Set err from the connection's last error, with context. */
onc_status store_sql_error(onc_store *s, const char *what, onc_error *err);

/* onc_store_put, telling whether the note replaced one with its id. */
onc_status store_put(onc_store *s, const onc_note *nt, bool *replaced, onc_error *err);

/* meta table */
char *store_meta_get(onc_store *s, const char *key);       /* malloc()ed or NULL */
onc_status store_meta_set(onc_store *s, const char *key, const char *value, onc_error *err);
int64_t store_meta_int(onc_store *s, const char *key, int64_t fallback);

/* The FTS tags for a note ("xp<hex>g0 xt<hex>g0") into buf; exact-match
 * filter terms that the stemmer leaves alone. */
void store_tags(const char *patient, const char *type, char *buf, size_t cap);
/* One tag term (prefix 'p' or 't') for a filter value. */
void store_tag(char kind, const char *value, char *buf, size_t cap);

/* Dense side (store_dense.c). */
/* Load the store's encoder and a fresh vector index (rebuilding a stale or
 * missing one from the stored vectors). Fails when dense search was never
 * set up (onc_store_dense_build). */
onc_status store_dense_ready(onc_store *s, int n_threads, onc_error *err);
/* Embed one query with the store's encoder into *vec (malloc()ed, [*dim]). */
onc_status store_dense_query(onc_store *s, const char *query, float **vec, uint32_t *dim, onc_error *err);
/* The `limit` chunks of highest inner product with q, restricted to the
 * sorted chunk ids allowed[0..n_allowed) when allowed is not NULL. ids and
 * scores have room for limit entries; *n_out found. */
onc_status store_dense_topk(onc_store *s, const float *q, int32_t limit, const int64_t *allowed, size_t n_allowed,
                            int64_t *ids, float *scores, size_t *n_out, onc_error *err);
void store_dense_free(onc_store *s);

#endif
