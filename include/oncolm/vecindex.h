/* oncolm/vecindex.h — dense vector index for chunk embeddings (FAISS inside).
 *
 * An onc_vecindex holds float32 vectors of one dimension, each under a
 * caller-chosen int64 id (the note store's chunk id), and answers top-k
 * queries by INNER PRODUCT (callers L2-normalise embeddings, so this is
 * cosine similarity). Implemented in src/store/vecindex_faiss.cpp over
 * Debian's FAISS 1.7.3 (C++, every exception caught: nothing but onc_status
 * ever reaches C) and src/store/vecindex_exact.c (plain C exact top-k).
 *
 * Kinds (onc_vec_kind):
 *   EXACT  IndexFlatIP under an IndexIDMap: brute force, exact, no training.
 *   HNSW   IndexHNSWFlat (inner product) under an IndexIDMap: graph search.
 *          Parameters M, efConstruction, efSearch. No removal.
 *   IVF    IndexIVFFlat (inner product; ids stored in the inverted lists):
 *          k-means coarse quantizer trained at build time on a random
 *          sample of the build vectors; nlist lists, nprobe probed per query.
 *   AUTO   resolved at build time: EXACT when n < auto_threshold (default
 *          ONC_VEC_AUTO_THRESHOLD = 50,000), IVF otherwise. The kind never
 *          changes afterwards, whatever is added: the store rebuilds when it
 *          wants another kind (onc_vec_info.built_count tells how many
 *          vectors an index was built / its IVF lists trained for; rebuild
 *          when count has grown well past it, e.g. 2x).
 *          Why (bench_vecindex, 384-d clustered data, 2-vCPU Zen 4 VM,
 *          docs/PERFORMANCE.md): below 50k vectors an exact query takes
 *          < ~9 ms on one thread (< 5 ms on two), costs no build and has no
 *          recall loss. Above it IVF rather than HNSW: at 1M vectors IVF
 *          builds in ~77 s where HNSW (M 32, efConstruction 64) needs ~18
 *          min on 2 cores, IVF reaches recall@10 0.97-0.99 at 4-6 ms per
 *          query where HNSW stayed at 0.72 (efSearch 64) / 0.79 (128) on
 *          the same data, IVF can remove vectors (the store rebuilds an
 *          HNSW index for every deletion) and its filtered search scores
 *          allowed vectors straight from its lists. HNSW remains for
 *          explicit use: at 100k it answers in ~0.9 ms with recall 0.99.
 *
 * Ids: any int64 >= 0 (-1 is the "no result" padding), unique within the
 * index (build/add refuse duplicates with ONC_ERR_INVALID naming the id).
 *
 * Results: row q of a search fills scores[q*k .. q*k+k) and
 * ids[q*k .. q*k+k), best first (score descending). When fewer than k
 * results exist the tail is padded with id -1 and score -INFINITY.
 * EXACT returns the exact top-k (equal scores: smaller id first); HNSW and
 * IVF are approximate.
 *
 * Filtered search (onc_vecindex_search_filtered) NEVER returns an id outside
 * the allowed set: the exact paths score only the allowed ids' vectors, the
 * HNSW graph walk and the IVF scan get the set as a FAISS IDSelector (1.7.3
 * supports selectors for IndexHNSW and IndexIVF; the IndexIDMap layer does
 * not, so the selector translates internal positions to ids itself), and
 * every returned id is checked against the set again before the call
 * returns. Effort grows with selectivity:
 *   EXACT  scores exactly the allowed vectors, found through a sorted
 *          id -> position table: O(allowed * dim), not O(count).
 *   HNSW   the same exact scoring of the allowed vectors (they sit in the
 *          graph's flat storage) when
 *          present_allowed <= sqrt(max(efSearch,k) * M * count) (then the
 *          graph walk would cost more, and FAISS 1.7.3's filtered HNSW walk
 *          loses recall fast at low selectivity); otherwise a graph walk with
 *          efSearch multiplied by min(count/present_allowed, 16). A query
 *          that still finds fewer than min(k, present_allowed) ids is rerun
 *          with doubled efSearch, then exactly.
 *   IVF    nprobe multiplied by count/present_allowed (so about as many
 *          allowed vectors are scored as an unfiltered search scores: the
 *          selector test on the others is cheap); when that reaches nlist/4
 *          the allowed vectors are scored exactly instead, gathered from the
 *          lists (IVFFlat keeps raw floats) through the same id table;
 *          short queries are rerun with doubled nprobe, then exactly.
 * So a query gets min(k, number of allowed ids present) results, never
 * fewer. For small allowed sets the store may also skip the index and call
 * onc_vec_exact_topk over the allowed rows of its own matrix.
 *
 * Files (onc_vecindex_save / _load): an oncolm header of 384 bytes (magic
 * "ONCVECIX", version, kind, dim, count, search defaults, a caller "stamp"
 * string of up to ONC_VEC_STAMP_MAX bytes, payload size and checksum, header
 * checksum; little-endian) followed by FAISS's own serialization
 * (faiss::write_index). Written to "<path>.tmp.<pid>" in the same folder,
 * fsync'ed, renamed into place (then the folder is fsync'ed): a crash never
 * leaves a half file under the final name. Loading checks the magic,
 * version, header checksum, exact file size and payload checksum BEFORE
 * FAISS parses anything, so a truncated, corrupt or foreign file is an error
 * naming the path ("x.faiss: not an oncolm vector index", "x.faiss:
 * truncated: ..."), never a crash.
 *
 * Threads: n_threads sets the OpenMP threads of one call (0 = the index
 * default given at build / load, whose 0 means all cores,
 * omp_get_num_procs()); the calling thread's previous OpenMP setting is
 * restored afterwards. Like src/compute, this module sets OpenBLAS to one
 * thread (openblas_set_num_threads(1), on first use) and splits exact work
 * between its own threads: EXACT searches and exact filtered passes split
 * the queries (or, for fewer queries than threads, the vectors), as do
 * IVF's k-means and list assignment; jobs under ~4M multiply-adds per
 * thread stay on the calling thread. HNSW construction and HNSW / IVF
 * searches use FAISS's own OpenMP loops, which parallelise over queries:
 * one HNSW or IVF query runs on one thread.
 *
 * Thread-safety: an index may be searched (search, search_filtered, save,
 * info, contains) from any number of threads at once; add and remove take
 * it exclusively (an internal reader/writer lock). FAISS 1.7.3 ignores a
 * per-call efSearch, so an HNSW search whose efSearch differs from the
 * index's, and a filtered HNSW search that walks the graph (large allowed
 * sets), also run exclusively.
 *
 * Nothing here prints; errors fill an onc_error (status.h). */
#ifndef ONCOLM_VECINDEX_H
#define ONCOLM_VECINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_vecindex onc_vecindex; /* opaque */

typedef enum onc_vec_kind {
    ONC_VEC_AUTO = 0,
    ONC_VEC_EXACT = 1,
    ONC_VEC_HNSW = 2,
    ONC_VEC_IVF = 3,
} onc_vec_kind;

/* Defaults (what 0 in onc_vec_params means), chosen from bench_vecindex on
 * 384-d clustered data; see docs/PERFORMANCE.md. */
#define ONC_VEC_AUTO_THRESHOLD 50000 /* AUTO: EXACT below this many vectors */
#define ONC_VEC_HNSW_M 32
#define ONC_VEC_HNSW_EF_CONSTRUCTION 64
#define ONC_VEC_HNSW_EF_SEARCH 64
/* IVF: nlist = round(4 * sqrt(n)), trained on n_train = min(n,
 * ONC_VEC_IVF_TRAIN_PER_LIST * nlist) sampled vectors, then clamped to
 * [1, n_train / 39] (k-means wants >= 39 points per centroid);
 * nprobe = max(ONC_VEC_IVF_NPROBE_MIN, round(sqrt(nlist))), at most nlist
 * (36 at 100k vectors, 63 at 1M: recall@10 0.97 / 0.98 in bench_vecindex). */
#define ONC_VEC_IVF_TRAIN_PER_LIST 64
#define ONC_VEC_IVF_KMEANS_ITERS 10 /* spherical k-means iterations */
#define ONC_VEC_IVF_NPROBE_MIN 16
#define ONC_VEC_STAMP_MAX 256 /* bytes of stamp, excluding the NUL */
#define ONC_VEC_DIM_MAX 65536
#define ONC_VEC_K_MAX 100000 /* largest k a search accepts */

/* Build parameters. Zero-initialise ({0}) or call onc_vec_params_default:
 * every 0 field means "the default above". */
typedef struct onc_vec_params {
    onc_vec_kind kind;          /* AUTO (default), EXACT, HNSW or IVF */
    int64_t auto_threshold;     /* AUTO: EXACT below this count; 0 = ONC_VEC_AUTO_THRESHOLD */
    int hnsw_m;                 /* HNSW graph degree (2..256); 0 = ONC_VEC_HNSW_M */
    int hnsw_ef_construction;   /* 1..65536; 0 = ONC_VEC_HNSW_EF_CONSTRUCTION */
    int hnsw_ef_search;         /* default efSearch of searches, 1..65536; 0 = ONC_VEC_HNSW_EF_SEARCH */
    int ivf_nlist;              /* number of lists; 0 = round(4 sqrt(n)); always
                                   clamped to [1, n_train / 39] */
    int ivf_nprobe;             /* default lists probed; 0 = the rule above;
                                   clamped to [1, nlist] */
    int64_t ivf_train_max;      /* most training vectors sampled; 0 = 64 * nlist */
    int n_threads;              /* default threads of the index's calls; 0 = all cores */
    uint64_t seed;              /* training sample and k-means seed (IVF) */
} onc_vec_params;

/* Per-search options; NULL or zero fields = the index's defaults. */
typedef struct onc_vec_search_opts {
    int n_threads;  /* threads for this call; 0 = index default */
    int ef_search;  /* HNSW efSearch for this call; 0 = index default */
    int nprobe;     /* IVF nprobe for this call; 0 = index default */
} onc_vec_search_opts;

/* What an index (or an index file's header) says about itself. */
typedef struct onc_vec_info {
    onc_vec_kind kind;         /* resolved kind (never AUTO) */
    int dim;
    int64_t count;             /* vectors held */
    int hnsw_m, hnsw_ef_construction, hnsw_ef_search; /* HNSW, else 0 */
    int ivf_nlist, ivf_nprobe;                        /* IVF, else 0 */
    size_t memory_bytes;       /* approximate heap bytes held (0 from a file header) */
    int64_t built_count;       /* vectors when built (IVF: what the lists were trained for) */
} onc_vec_info;

/* Fill *p with kind AUTO and every default written out (ivf_nlist and
 * ivf_train_max stay 0: they depend on n). */
void onc_vec_params_default(onc_vec_params *p);

/* "auto", "exact", "hnsw", "ivf" (never NULL; "?" for bad values). */
const char *onc_vec_kind_name(onc_vec_kind kind);
/* Parse one of the names above into *out. ONC_ERR_INVALID otherwise. */
onc_status onc_vec_kind_parse(const char *name, onc_vec_kind *out, onc_error *err);

/* Build an index of x[0 .. n*dim) (row-major, n rows of dim floats) under
 * ids[0..n) (NULL = ids 0..n-1), in one call. p may be NULL (all defaults).
 * n may be 0 except for IVF (nothing to train on). dim in 1..ONC_VEC_DIM_MAX.
 * Errors: ONC_ERR_INVALID (bad dim/params, a negative or duplicate id, a
 * non-finite value: the message names the row), ONC_ERR_NOMEM, or a FAISS
 * failure. The vectors are copied. Caller frees with onc_vecindex_free. */
onc_vecindex *onc_vecindex_build(int dim, const float *x, const int64_t *ids, int64_t n,
                                 const onc_vec_params *p, onc_error *err);

/* Add n more vectors (n >= 0) under ids (required, each new to the index).
 * IVF assigns them to the lists trained at build (no retraining). The kind
 * never changes (AUTO decided at build). Same errors as build. */
onc_status onc_vecindex_add(onc_vecindex *ix, const float *x, const int64_t *ids, int64_t n,
                            onc_error *err);

/* Remove the listed ids (absent ones are ignored); *n_removed (may be NULL)
 * gets the number actually removed. EXACT and IVF: O(count log count) per
 * call (the flat storage / lists are compacted, the id table rebuilt).
 * HNSW: ONC_ERR_UNSUPPORTED (FAISS graphs cannot drop nodes): the store
 * rebuilds instead. */
onc_status onc_vecindex_remove(onc_vecindex *ix, const int64_t *ids, int64_t n, int64_t *n_removed,
                               onc_error *err);

/* Top-k search of nq >= 0 queries q[0 .. nq*dim) (dim must be the index's:
 * pass it, a mismatch is ONC_ERR_INVALID). Fills scores/ids [nq*k] as
 * described above. k in 1..ONC_VEC_K_MAX, else ONC_ERR_INVALID; a
 * non-finite query value is ONC_ERR_INVALID. */
onc_status onc_vecindex_search(const onc_vecindex *ix, int dim, const float *q, int64_t nq, int k,
                               float *scores, int64_t *ids, const onc_vec_search_opts *opts,
                               onc_error *err);

/* As onc_vecindex_search, restricted to the ids in allowed[0..n_allowed)
 * (any order, duplicates and ids absent from the index allowed; n_allowed
 * may be 0: every row is then padding). Never returns an id outside the
 * set; returns min(k, allowed ids present) results per query (see the top
 * of this file for how). A sorted array is used in place; an unsorted one is
 * copied and sorted (O(n log n) per call). */
onc_status onc_vecindex_search_filtered(const onc_vecindex *ix, int dim, const float *q, int64_t nq,
                                        int k, const int64_t *allowed, int64_t n_allowed,
                                        float *scores, int64_t *ids,
                                        const onc_vec_search_opts *opts, onc_error *err);

/* 1 when id is in the index, else 0. */
int onc_vecindex_contains(const onc_vecindex *ix, int64_t id);

/* Describe the index. */
void onc_vecindex_info(const onc_vecindex *ix, onc_vec_info *out);

/* The stamp this index was loaded with or last saved with ("" for a fresh
 * one). Points into the index (valid until free); a concurrent save may
 * change it. */
const char *onc_vecindex_stamp(const onc_vecindex *ix);

/* Write the index to path atomically (see the top of this file) with the
 * given stamp (NULL = "", at most ONC_VEC_STAMP_MAX bytes, else
 * ONC_ERR_INVALID). ONC_ERR_IO names the path and the failing step. */
onc_status onc_vecindex_save(const onc_vecindex *ix, const char *path, const char *stamp,
                             onc_error *err);

/* Load an index written by onc_vecindex_save. ONC_ERR_IO (cannot open or
 * read), ONC_ERR_FORMAT (not an oncolm vector index, unsupported version,
 * truncated, corrupt header or data, or FAISS data that does not match the
 * header), each message starting with the path. n_threads as in
 * onc_vec_params (0 = all cores). */
onc_vecindex *onc_vecindex_load(const char *path, int n_threads, onc_error *err);

/* Read only the header of an index file: its stamp (into
 * stamp[ONC_VEC_STAMP_MAX + 1], NUL-terminated; may be NULL) and *info
 * (may be NULL; memory_bytes 0). Checks magic, version, header checksum and
 * that the file is exactly as long as the header says (not the payload
 * checksum: that would read the whole file). Errors as for load. */
onc_status onc_vecindex_read_stamp(const char *path, char *stamp, onc_vec_info *info, onc_error *err);

void onc_vecindex_free(onc_vecindex *ix); /* accepts NULL */

/* Exact top-k by inner product over a caller's matrix, in plain C (no
 * index): mat[0 .. n_rows*dim) row-major; only the rows listed in
 * rows[0..n_sel) are candidates (rows == NULL: all n_rows rows, n_sel
 * ignored); a row's reported id is row_ids[row] (row_ids == NULL: the row
 * number). Results as for a search (best first; equal scores: smaller id
 * first; -1 / -INFINITY padding). Uses OpenBLAS sgemm on tiles of 256
 * candidate rows; single-threaded apart from OpenBLAS's own threads.
 * ONC_ERR_INVALID for dim <= 0, k outside 1..ONC_VEC_K_MAX, a row index
 * outside [0, n_rows), a non-finite query value; ONC_ERR_NOMEM. */
onc_status onc_vec_exact_topk(const float *mat, int64_t n_rows, int dim, const int64_t *row_ids,
                              const int64_t *rows, int64_t n_sel, const float *q, int64_t nq, int k,
                              float *scores, int64_t *ids, onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_VECINDEX_H */
