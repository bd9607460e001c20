/* oncolm/store.h — the clinical note store: notes, chunks, BM25 and dense
 * retrieval, filters, hybrid fusion.
 *
 * Files. A store is one SQLite database (WAL mode) DB plus, once dense
 * search is set up, the vector index DB.faiss beside it.
 *
 * Tables: patients(id), notes(rowid, id UNIQUE, patient, date, type, text,
 * metadata JSON), chunks(id, note, ordinal, byte offsets into the note's
 * text, heading offsets, tokens), chunks_fts (FTS5, contentless, tokenizer
 * porter+unicode61: the chunk text plus exact-match tags for patient and
 * type), vectors(chunk, float32 embedding), meta(key, value).
 *
 * Consistency. Every change runs inside a transaction: a killed ingest
 * loses at most the batch in flight (ingest commits every `batch` notes),
 * never leaves a note without its chunks or FTS entries. Chunk ids are never
 * reused. A note id seen again replaces the note (its chunks, FTS entries
 * and vectors). Every change bumps meta.generation; the vector index file
 * records the generation it was built at, so a stale index is detected and
 * rebuilt from the stored vectors (embedding only chunks that have none).
 *
 * Dense search uses one encoder model, recorded in meta when dense search is
 * set up (onc_store_dense_build); a different model re-embeds everything.
 *
 * Thread-safety: one onc_store per thread. Several processes may read while
 * one writes (WAL). */
#ifndef ONCOLM_STORE_H
#define ONCOLM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/chunk.h"
#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_store onc_store;
typedef struct onc_encoder onc_encoder;

/* Open DB, creating it when `create` is set (and it does not exist). The
 * chunking parameters are fixed when the store is created (later opens
 * read them from meta; `chunking` is then ignored, NULL = defaults). */
onc_store *onc_store_open(const char *path, bool create, const onc_chunk_params *chunking, onc_error *err);
void onc_store_close(onc_store *s); /* accepts NULL */

/* One note to ingest. Strings need not be NUL-terminated except id, patient,
 * date, type and metadata_json, which are NUL-terminated or NULL. */
typedef struct onc_note {
    const char *id;            /* required, unique key */
    const char *patient;       /* NULL = unknown */
    const char *date;          /* "YYYY-MM-DD..." or NULL */
    const char *type;          /* note type ("radiology", ...) or NULL */
    const char *text;
    size_t text_len;
    const char *metadata_json; /* a JSON object or NULL */
} onc_note;

/* Ingest sessions group notes into transactions of `batch` notes. */
onc_status onc_store_begin(onc_store *s, onc_error *err);
onc_status onc_store_put(onc_store *s, const onc_note *note, onc_error *err); /* insert or replace */
onc_status onc_store_commit(onc_store *s, onc_error *err);
void onc_store_rollback(onc_store *s);

/* Ingest a file or folder, committing every `batch` notes (<= 0: 1000):
 *   ONC_INGEST_JSONL  one JSON object per line: "id" (or "_id"), "text",
 *                     optional "title" (prepended to the text, as BEIR does),
 *                     "patient"/"patient_id", "date", "type"/"note_type",
 *                     each also read from a "metadata" object, which is kept;
 *   ONC_INGEST_BEIR   a BEIR folder (its corpus.jsonl, same fields);
 *   ONC_INGEST_CSV    RFC 4180 with a header naming the same columns;
 *   ONC_INGEST_TXT    a folder of .txt files (recursively): id = the path
 *                     below the folder without ".txt", patient = the name of
 *                     the file's folder when it is not the top folder;
 *   ONC_INGEST_AUTO   by name: *.jsonl / *.json, *.csv, a folder holding
 *                     corpus.jsonl, else a folder of .txt files.
 * A bad record stops the ingest with an error naming file and line; the
 * batches committed before it stay (re-running replaces them). */
typedef enum onc_ingest_format {
    ONC_INGEST_AUTO = 0,
    ONC_INGEST_JSONL,
    ONC_INGEST_BEIR,
    ONC_INGEST_CSV,
    ONC_INGEST_TXT,
} onc_ingest_format;

typedef struct onc_ingest_counts {
    int64_t notes;     /* notes written (new or replaced) */
    int64_t replaced;  /* of which replaced an existing note */
    int64_t bytes;     /* text bytes */
} onc_ingest_counts;

onc_status onc_store_ingest(onc_store *s, const char *path, onc_ingest_format format, int32_t batch,
                            onc_ingest_counts *counts, onc_error *err);

/* Delete notes by id (missing ids are counted in *missing, not an error) or
 * every note of a patient. *deleted = notes removed. */
onc_status onc_store_delete_note(onc_store *s, const char *id, bool *found, onc_error *err);
onc_status onc_store_delete_patient(onc_store *s, const char *patient, int64_t *deleted, onc_error *err);

typedef struct onc_store_stats {
    int64_t patients, notes, chunks, vectors;
    int64_t generation;        /* bumped by every change */
    int64_t index_generation;  /* generation of DB.faiss, -1 when absent */
    int64_t text_bytes;
    int32_t chunk_max_tokens, chunk_overlap;
    char dense_model[512];     /* "" when dense search is not set up */
    char index_kind[16];       /* "exact" | "hnsw" | "ivf" | "" */
    uint32_t dim;
} onc_store_stats;

onc_status onc_store_stats_get(onc_store *s, onc_store_stats *st, onc_error *err);

/* Full consistency check (SQLite integrity_check, FTS5 integrity-check, every
 * note has chunks, every vector a chunk). ONC_ERR_FORMAT naming the problem. */
onc_status onc_store_check(onc_store *s, onc_error *err);

/* --- dense ------------------------------------------------------------------ */

typedef enum onc_ann_kind {
    ONC_ANN_AUTO = 0, /* exact below 50,000 chunks, IVF above */
    ONC_ANN_EXACT,
    ONC_ANN_HNSW,
    ONC_ANN_IVF,
} onc_ann_kind;

/* Progress of long work: called with (done, total) now and then. */
typedef void (*onc_progress_fn)(void *ctx, const char *what, int64_t done, int64_t total);

/* Set up or refresh dense search with the encoder at model_path (NULL: the
 * model recorded in meta): embed every chunk without a vector (all of them
 * when the model changed), then build and save DB.faiss. */
onc_status onc_store_dense_build(onc_store *s, const char *model_path, onc_ann_kind kind, int n_threads,
                                 onc_progress_fn progress, void *progress_ctx, onc_error *err);

/* --- search ----------------------------------------------------------------- */

typedef enum onc_search_mode {
    ONC_SEARCH_BM25 = 0,
    ONC_SEARCH_DENSE,
    ONC_SEARCH_HYBRID,
} onc_search_mode;

typedef struct onc_search_params {
    onc_search_mode mode;
    int32_t k;                  /* results wanted (default 10) */
    const char *patient;        /* filters; NULL = any */
    const char *type;
    const char *date_from;      /* inclusive, compared as strings (ISO dates) */
    const char *date_to;        /* inclusive; "2020-05" matches "2020-05-31" */
    bool per_note;              /* one result per note (its best chunk) */
    int32_t depth;              /* hybrid: candidates from each retriever (default max(100, k)) */
    double rrf_k;               /* default 60 */
    double w_bm25, w_dense;     /* RRF weights (default 1, 1) */
    const char *rerank_model;   /* cross-encoder GGUF; NULL = no rerank */
    int32_t rerank_n;           /* rerank the top N fused (default 50) */
    int n_threads;              /* <= 0: all cores */
} onc_search_params;

onc_search_params onc_search_default_params(void);

typedef struct onc_hit {
    int64_t chunk;          /* chunk id */
    char note[128];         /* note id (truncated if longer) */
    char patient[64];
    char type[32];
    char date[32];
    int32_t ordinal;        /* chunk's place in its note, from 0 */
    double score;           /* mode's score: BM25 (higher = better), cosine, RRF, or reranker */
    int32_t rank_bm25;      /* 1-based rank in each retriever, 0 = not retrieved */
    int32_t rank_dense;
} onc_hit;

/* Search. *hits is malloc()ed (free() it), *n_hits <= k. Dense and hybrid
 * modes load the store's encoder on first use and keep it; a stale vector
 * index is rebuilt first (progress reported through `progress`). */
onc_status onc_store_search(onc_store *s, const char *query, const onc_search_params *p, onc_hit **hits,
                            size_t *n_hits, onc_error *err);

/* Text of a chunk (heading + body) into a malloc()ed string; NULL with err
 * set when the chunk does not exist. */
char *onc_store_chunk_text(onc_store *s, int64_t chunk, size_t *len, onc_error *err);

void onc_store_set_progress(onc_store *s, onc_progress_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_STORE_H */
