/* store_search.c — BM25 (FTS5), dense and hybrid (reciprocal-rank fusion)
 * search with patient / type / date filters and an optional cross-encoder
 * rerank (see oncolm/store.h). */
#include "store_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/encoder.h"

onc_search_params onc_search_default_params(void) {
    return (onc_search_params){.mode = ONC_SEARCH_BM25,
                               .k = 10,
                               .depth = 0,
                               .rrf_k = 60.0,
                               .w_bm25 = 1.0,
                               .w_dense = 1.0,
                               .rerank_n = 50,
                               .n_threads = 0};
}

/* A retrieved chunk before details are looked up. */
typedef struct cand {
    int64_t chunk;
    double score;
} cand;

typedef struct cand_list {
    cand *v;
    size_t n;
} cand_list;

static bool has_filter(const onc_search_params *p) {
    return (p->patient && *p->patient) || (p->type && *p->type) || (p->date_from && *p->date_from) ||
           (p->date_to && *p->date_to);
}

static bool has_date(const onc_search_params *p) {
    return (p->date_from && *p->date_from) || (p->date_to && *p->date_to);
}

static void bind_opt(sqlite3_stmt *st, int i, const char *v) {
    if (v && *v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* English function words left out of BM25 queries (as Lucene's English
 * analyzer does): they match most chunks, add nothing to the ranking and
 * make every query scan the whole index. Sorted for bsearch. */
static const char *const stopwords[] = {
    "a",     "about", "an",   "and",   "any",  "are",  "as",    "at",   "be",    "been",  "but",  "by",
    "can",   "did",   "do",   "does",  "for",  "from", "had",   "has",  "have",  "he",    "her",  "his",
    "how",   "i",     "if",   "in",    "into", "is",   "it",    "its",  "of",    "on",    "or",   "she",
    "such",  "that",  "the",  "their", "then", "there", "these", "they", "this",  "to",    "was",  "were",
    "what",  "when",  "where", "which", "who",  "will", "with",  "would"};

static int cmp_word(const void *key, const void *elem) { return strcmp(key, *(const char *const *)elem); }

static bool is_stopword(const char *w, size_t n) {
    char low[16];
    if (n >= sizeof low) return false;
    for (size_t i = 0; i < n; i++) low[i] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] + 32 : w[i]);
    low[n] = '\0';
    return bsearch(low, stopwords, sizeof stopwords / sizeof stopwords[0], sizeof stopwords[0], cmp_word) != NULL;
}

static bool word_byte(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* FTS5 query for a free-text question: every word a quoted term (function
 * words dropped unless nothing else is left), OR-ed (BM25 over the bag of
 * words), AND-ed with the exact-match filter tags. Returns NULL (no error)
 * when the query has no searchable word. */
static char *fts_query(const char *q, const onc_search_params *p) {
    const size_t n = strlen(q);
    size_t cap = n * 3 + 512, o = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    int terms = 0;
    o += (size_t)snprintf(out + o, cap - o, "(");
    for (int pass = 0; pass < 2 && terms == 0; pass++) {
        for (size_t i = 0; i < n && terms < 64;) {
            if (!word_byte((unsigned char)q[i])) {
                i++;
                continue;
            }
            size_t j = i;
            while (j < n && word_byte((unsigned char)q[j])) j++;
            if (pass == 1 || !is_stopword(q + i, j - i)) {
                o += (size_t)snprintf(out + o, cap - o, "%s\"%.*s\"", terms ? " OR " : "", (int)(j - i), q + i);
                terms++;
            }
            i = j;
        }
    }
    if (!terms) {
        free(out);
        return NULL;
    }
    o += (size_t)snprintf(out + o, cap - o, ")");
    char tag[200];
    if (p->patient && *p->patient) {
        store_tag('p', p->patient, tag, sizeof tag);
        o += (size_t)snprintf(out + o, cap - o, " AND tags : \"%s\"", tag);
    }
    if (p->type && *p->type) {
        store_tag('t', p->type, tag, sizeof tag);
        o += (size_t)snprintf(out + o, cap - o, " AND tags : \"%s\"", tag);
    }
    return out;
}

/* Top `limit` chunks by BM25 (FTS5's bm25 with k1 = 1.2, b = 0.75 over the
 * text column; scores negated so that higher is better). */
static onc_status bm25_top(onc_store *s, const char *query, const onc_search_params *p, int32_t limit,
                           cand_list *out, onc_error *err) {
    out->v = NULL;
    out->n = 0;
    char *match = fts_query(query, p);
    if (!match) return ONC_OK;
    const char *sql_plain = "SELECT rowid, bm25(chunks_fts, 1.0, 0.0) AS r FROM chunks_fts"
                            " WHERE chunks_fts MATCH ?1 ORDER BY r, rowid LIMIT ?2";
    const char *sql_date = "SELECT chunks_fts.rowid, bm25(chunks_fts, 1.0, 0.0) AS r FROM chunks_fts"
                           " JOIN chunks c ON c.id = chunks_fts.rowid JOIN notes n ON n.rowid = c.note"
                           " WHERE chunks_fts MATCH ?1 AND (?3 IS NULL OR n.date >= ?3)"
                           " AND (?4 IS NULL OR substr(n.date, 1, length(?4)) <= ?4)"
                           " ORDER BY r, chunks_fts.rowid LIMIT ?2";
    sqlite3_stmt *st = store_prepare(s, has_date(p) ? sql_date : sql_plain, err);
    if (!st) return free(match), ONC_ERR_IO;
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, limit);
    if (has_date(p)) {
        bind_opt(st, 3, p->date_from);
        bind_opt(st, 4, p->date_to);
    }
    onc_status rc = ONC_OK;
    out->v = malloc((size_t)limit * sizeof *out->v);
    if (!out->v) rc = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", s->path);
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
        out->v[out->n++] = (cand){sqlite3_column_int64(st, 0), -sqlite3_column_double(st, 1)};
    if (!rc && step != SQLITE_DONE) rc = store_sql_error(s, "BM25 search", err);
    sqlite3_finalize(st);
    free(match);
    return rc;
}

/* Sorted chunk ids that pass the filters. */
static onc_status allowed_chunks(onc_store *s, const onc_search_params *p, int64_t **ids, size_t *n,
                                 onc_error *err) {
    *ids = NULL;
    *n = 0;
    /* Only the conditions in use, so that SQLite can pick the patient, type
     * or date index (an "?1 IS NULL OR ..." form would scan every note). */
    char sql[512] = "SELECT c.id FROM notes n JOIN chunks c ON c.note = n.rowid WHERE 1";
    const char *conds[4] = {" AND n.patient = ?1", " AND n.type = ?2", " AND n.date >= ?3",
                            " AND substr(n.date, 1, length(?4)) <= ?4"};
    const char *vals[4] = {p->patient, p->type, p->date_from, p->date_to};
    for (int i = 0; i < 4; i++)
        if (vals[i] && *vals[i]) strncat(sql, conds[i], sizeof sql - strlen(sql) - 1);
    strncat(sql, " ORDER BY c.id", sizeof sql - strlen(sql) - 1);
    sqlite3_stmt *st = store_prepare(s, sql, err);
    if (!st) return ONC_ERR_IO;
    for (int i = 0; i < 4; i++)
        if (vals[i] && *vals[i]) sqlite3_bind_text(st, i + 1, vals[i], -1, SQLITE_STATIC);
    size_t cap = 0;
    onc_status rc = ONC_OK;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            int64_t *v = realloc(*ids, (cap = cap ? cap * 2 : 256) * sizeof *v);
            if (!v) {
                rc = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", s->path);
                break;
            }
            *ids = v;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    if (!rc && step != SQLITE_DONE) rc = store_sql_error(s, "filtering chunks", err);
    sqlite3_finalize(st);
    if (rc) free(*ids), *ids = NULL, *n = 0;
    return rc;
}

static onc_status dense_top(onc_store *s, const char *query, const onc_search_params *p, int32_t limit,
                            cand_list *out, onc_error *err) {
    out->v = NULL;
    out->n = 0;
    onc_status rc = store_dense_ready(s, p->n_threads, err);
    float *q = NULL;
    uint32_t dim = 0;
    if (!rc) rc = store_dense_query(s, query, &q, &dim, err);
    int64_t *allowed = NULL;
    size_t n_allowed = 0;
    const bool filtered = has_filter(p);
    if (!rc && filtered) rc = allowed_chunks(s, p, &allowed, &n_allowed, err);
    int64_t *ids = rc ? NULL : malloc((size_t)limit * sizeof *ids);
    float *sc = rc ? NULL : malloc((size_t)limit * sizeof *sc);
    out->v = rc ? NULL : malloc((size_t)limit * sizeof *out->v);
    if (!rc && (!ids || !sc || !out->v)) rc = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", s->path);
    size_t n = 0;
    if (!rc && (!filtered || n_allowed > 0))
        rc = store_dense_topk(s, q, limit, filtered ? allowed : NULL, n_allowed, ids, sc, &n, err);
    for (size_t i = 0; !rc && i < n; i++) out->v[out->n++] = (cand){ids[i], sc[i]};
    free(ids);
    free(sc);
    free(q);
    free(allowed);
    if (rc) free(out->v), out->v = NULL, out->n = 0;
    return rc;
}

/* Look up a chunk's note, patient, type, date and ordinal. */
static onc_status fill_hit(onc_store *s, sqlite3_stmt *st, int64_t chunk, onc_hit *h, onc_error *err) {
    memset(h, 0, sizeof *h);
    h->chunk = chunk;
    sqlite3_bind_int64(st, 1, chunk);
    const int step = sqlite3_step(st);
    onc_status rc = ONC_OK;
    if (step == SQLITE_ROW) {
        h->ordinal = sqlite3_column_int(st, 0);
        const char *cols[4];
        for (int i = 0; i < 4; i++) cols[i] = (const char *)sqlite3_column_text(st, 1 + i);
        snprintf(h->note, sizeof h->note, "%s", cols[0] ? cols[0] : "");
        snprintf(h->patient, sizeof h->patient, "%s", cols[1] ? cols[1] : "");
        snprintf(h->type, sizeof h->type, "%s", cols[2] ? cols[2] : "");
        snprintf(h->date, sizeof h->date, "%s", cols[3] ? cols[3] : "");
    } else if (step == SQLITE_DONE) {
        rc = onc_error_set(err, ONC_ERR_FORMAT, "%s: chunk %lld is in an index but not in the store", s->path,
                           (long long)chunk);
    } else {
        rc = store_sql_error(s, "reading a chunk", err);
    }
    sqlite3_reset(st);
    return rc;
}

static int by_score_desc(const void *a, const void *b) {
    const onc_hit *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

/* Reciprocal-rank fusion of two ranked lists into hits (sorted). */
static onc_hit *fuse(const cand_list *bm, const cand_list *de, const onc_search_params *p, size_t *n_out) {
    onc_hit *h = calloc(bm->n + de->n + 1, sizeof *h);
    if (!h) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < bm->n; i++) {
        h[n].chunk = bm->v[i].chunk;
        h[n].rank_bm25 = (int32_t)i + 1;
        h[n].score = p->w_bm25 / (p->rrf_k + (double)(i + 1));
        n++;
    }
    for (size_t i = 0; i < de->n; i++) {
        size_t j = 0;
        while (j < bm->n && h[j].chunk != de->v[i].chunk) j++;
        if (j == bm->n) {
            j = n++;
            h[j].chunk = de->v[i].chunk;
        }
        h[j].rank_dense = (int32_t)i + 1;
        h[j].score += p->w_dense / (p->rrf_k + (double)(i + 1));
    }
    qsort(h, n, sizeof *h, by_score_desc);
    *n_out = n;
    return h;
}

static onc_status rerank(onc_store *s, const char *query, const onc_search_params *p, onc_hit *h, size_t n,
                         onc_error *err) {
    const size_t m = n < (size_t)p->rerank_n ? n : (size_t)p->rerank_n;
    if (!m) return ONC_OK;
    if (!s->rerank_enc || strcmp(s->rerank_path, p->rerank_model) != 0) { /* load once per model */
        onc_encoder_free(s->rerank_enc);
        free(s->rerank_path);
        s->rerank_path = NULL;
        onc_encoder_params ep = onc_encoder_default_params();
        ep.n_threads = p->n_threads;
        if (!(s->rerank_enc = onc_encoder_load(p->rerank_model, &ep, err))) return err ? err->code : ONC_ERR_IO;
        if (!(s->rerank_path = strdup(p->rerank_model))) {
            onc_encoder_free(s->rerank_enc);
            s->rerank_enc = NULL;
            return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
        }
    }
    onc_encoder *e = s->rerank_enc;
    char **text = calloc(m, sizeof *text);
    size_t *len = calloc(m, sizeof *len);
    float *sc = calloc(m, sizeof *sc);
    onc_status rc = text && len && sc ? ONC_OK : onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", s->path);
    for (size_t i = 0; !rc && i < m; i++)
        if (!(text[i] = onc_store_chunk_text(s, h[i].chunk, &len[i], err))) rc = err ? err->code : ONC_ERR_IO;
    if (!rc) rc = onc_encoder_rerank(e, query, strlen(query), (const char *const *)text, len, m, sc, err);
    if (!rc) {
        for (size_t i = 0; i < m; i++) h[i].score = sc[i];
        qsort(h, m, sizeof *h, by_score_desc);
    }
    for (size_t i = 0; text && i < m; i++) free(text[i]);
    free(text);
    free(len);
    free(sc);
    return rc;
}

/* One pass at a given candidate depth; *exhausted when the retrievers
 * returned fewer candidates than asked (deeper search finds nothing new). */
static onc_status search_pass(onc_store *s, const char *query, const onc_search_params *p, int32_t depth,
                              onc_hit **hits, size_t *n_hits, bool *exhausted, onc_error *err) {
    cand_list bm = {0}, de = {0};
    onc_status rc = ONC_OK;
    if (p->mode != ONC_SEARCH_DENSE) rc = bm25_top(s, query, p, depth, &bm, err);
    if (!rc && p->mode != ONC_SEARCH_BM25) rc = dense_top(s, query, p, depth, &de, err);
    *exhausted = bm.n < (size_t)depth && de.n < (size_t)depth;
    onc_hit *h = NULL;
    size_t n = 0;
    if (!rc && p->mode == ONC_SEARCH_HYBRID) {
        h = fuse(&bm, &de, p, &n);
    } else if (!rc) {
        const cand_list *l = p->mode == ONC_SEARCH_BM25 ? &bm : &de;
        h = calloc(l->n + 1, sizeof *h);
        for (size_t i = 0; h && i < l->n; i++) {
            h[i].chunk = l->v[i].chunk;
            h[i].score = l->v[i].score;
            if (p->mode == ONC_SEARCH_BM25)
                h[i].rank_bm25 = (int32_t)i + 1;
            else
                h[i].rank_dense = (int32_t)i + 1;
        }
        n = h ? l->n : 0;
    }
    free(bm.v);
    free(de.v);
    if (!rc && !h) rc = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", s->path);
    if (rc) return free(h), rc;
    sqlite3_stmt *st = store_prepare(s,
                                     "SELECT c.ordinal, n.id, n.patient, n.type, n.date FROM chunks c"
                                     " JOIN notes n ON n.rowid = c.note WHERE c.id = ?1",
                                     err);
    if (!st) return free(h), ONC_ERR_IO;
    for (size_t i = 0; !rc && i < n; i++) {
        onc_hit keep = h[i];
        rc = fill_hit(s, st, h[i].chunk, &h[i], err);
        h[i].score = keep.score;
        h[i].rank_bm25 = keep.rank_bm25;
        h[i].rank_dense = keep.rank_dense;
    }
    sqlite3_finalize(st);
    if (rc) return free(h), rc;
    *hits = h;
    *n_hits = n;
    return ONC_OK;
}

/* Keep each note's first (best) hit. */
static size_t one_per_note(onc_hit *h, size_t n) {
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < kept && !seen; j++) seen = strcmp(h[j].note, h[i].note) == 0;
        if (!seen) h[kept++] = h[i];
    }
    return kept;
}

onc_status onc_store_search(onc_store *s, const char *query, const onc_search_params *params, onc_hit **hits,
                            size_t *n_hits, onc_error *err) {
    *hits = NULL;
    *n_hits = 0;
    const onc_search_params p = params ? *params : onc_search_default_params();
    if (p.k <= 0 || p.k > 100000) return onc_error_set(err, ONC_ERR_INVALID, "search: k must be in 1..100000");
    if (p.mode == ONC_SEARCH_HYBRID && !(p.rrf_k >= 0) )
        return onc_error_set(err, ONC_ERR_INVALID, "search: the RRF constant must be >= 0");
    if (p.rerank_model && p.rerank_n <= 0)
        return onc_error_set(err, ONC_ERR_INVALID, "search: the rerank depth must be positive");
    int32_t depth = p.k;
    if (p.mode == ONC_SEARCH_HYBRID) depth = p.depth > 0 ? p.depth : (p.k > 100 ? p.k : 100);
    if (p.rerank_model && depth < p.rerank_n) depth = p.rerank_n;
    if (p.per_note) depth *= 4;
    for (;;) {
        onc_hit *h = NULL;
        size_t n = 0;
        bool exhausted = false;
        onc_status rc = search_pass(s, query, &p, depth, &h, &n, &exhausted, err);
        if (rc) return rc;
        if (p.per_note) n = one_per_note(h, n);
        if (p.per_note && n < (size_t)p.k && !exhausted && depth < 1000000) {
            free(h);
            depth *= 4;
            continue;
        }
        if (p.rerank_model && (rc = rerank(s, query, &p, h, n, err))) return free(h), rc;
        *hits = h;
        *n_hits = n < (size_t)p.k ? n : (size_t)p.k;
        return ONC_OK;
    }
}

char *onc_store_chunk_text(onc_store *s, int64_t chunk, size_t *len, onc_error *err) {
    sqlite3_stmt *st = store_prepare(s,
                                     "SELECT n.text, c.start, c.end, c.head_start, c.head_end FROM chunks c"
                                     " JOIN notes n ON n.rowid = c.note WHERE c.id = ?1",
                                     err);
    if (!st) return NULL;
    sqlite3_bind_int64(st, 1, chunk);
    char *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        const size_t tlen = (size_t)sqlite3_column_bytes(st, 0);
        const onc_chunk c = {(uint32_t)sqlite3_column_int64(st, 1), (uint32_t)sqlite3_column_int64(st, 2),
                             (uint32_t)sqlite3_column_int64(st, 3), (uint32_t)sqlite3_column_int64(st, 4), 0};
        if (c.end > tlen || c.start > c.end || c.head_end > tlen || c.head_start > c.head_end)
            onc_error_set(err, ONC_ERR_FORMAT, "%s: chunk %lld has offsets outside its note", s->path,
                          (long long)chunk);
        else if (!(out = onc_chunk_str(text, &c, len)))
            onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", s->path);
    } else {
        onc_error_set(err, ONC_ERR_NOT_FOUND, "%s: no chunk %lld", s->path, (long long)chunk);
    }
    sqlite3_finalize(st);
    return out;
}
