/* vecindex_exact.c — exact top-k inner product over a caller's matrix,
 * restricted to chosen rows (onc_vec_exact_topk in oncolm/vecindex.h).
 * Plain C: candidate rows are scored in tiles of TILE rows with OpenBLAS
 * (sgemv for one query, sgemm for blocks of up to QBLOCK queries; a row
 * subset is gathered into a contiguous tile first) and pushed into one
 * bounded min-heap per query. */
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/vecindex.h"

enum { TILE = 256, QBLOCK = 1024 };

/* (score, id) order: a is better than b when its score is higher, or equal
 * with a smaller id (deterministic ties). */
static bool better(float sa, int64_t ia, float sb, int64_t ib) { return sa > sb || (sa == sb && ia < ib); }

/* Min-heap of the k best so far, root = worst. */
typedef struct heap {
    float *s;
    int64_t *id;
    int n, k;
} heap;

/* Move the hole at the root down to where (s, id) belongs among the first
 * h->n entries (children that rank ahead of it move up); returns its slot. */
static int sift_hole(heap *h, float s, int64_t id) {
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        float ws = s;
        int64_t wid = id;
        if (l < h->n && better(ws, wid, h->s[l], h->id[l])) {
            w = l;
            ws = h->s[l];
            wid = h->id[l];
        }
        if (r < h->n && better(ws, wid, h->s[r], h->id[r])) w = r;
        if (w == i) break;
        h->s[i] = h->s[w];
        h->id[i] = h->id[w];
        i = w;
    }
    return i;
}

static void heap_push(heap *h, float s, int64_t id) {
    if (h->n < h->k) {
        int i = h->n++;
        while (i > 0) {
            int p = (i - 1) / 2;
            if (!better(h->s[p], h->id[p], s, id)) break;
            h->s[i] = h->s[p];
            h->id[i] = h->id[p];
            i = p;
        }
        h->s[i] = s;
        h->id[i] = id;
        return;
    }
    if (!better(s, id, h->s[0], h->id[0])) return;
    const int i = sift_hole(h, s, id);
    h->s[i] = s;
    h->id[i] = id;
}

/* Empty the heap into out (best first), padding to k. */
static void heap_drain(heap *h, float *out_s, int64_t *out_id) {
    for (int j = h->k - 1; j >= h->n; j--) {
        out_s[j] = -INFINITY;
        out_id[j] = -1;
    }
    while (h->n > 0) {
        int last = --h->n;
        out_s[last] = h->s[0];
        out_id[last] = h->id[0];
        float s = h->s[last];
        int64_t id = h->id[last];
        /* sift the former last element down from the root */
        const int i = sift_hole(h, s, id);
        if (h->n > 0) {
            h->s[i] = s;
            h->id[i] = id;
        }
    }
}

/* Validate, then for each tile of candidate rows: score all queries against
 * it with one BLAS call and push every finite score into the query's heap;
 * finally drain the heaps best-first. NaN scores (a NaN in the matrix) are
 * skipped: such a row is never a result. */
onc_status onc_vec_exact_topk(const float *mat, int64_t n_rows, int dim, const int64_t *row_ids, const int64_t *rows,
                              int64_t n_sel, const float *q, int64_t nq, int k, float *scores, int64_t *ids,
                              onc_error *err) {
    if (dim <= 0 || dim > ONC_VEC_DIM_MAX)
        return onc_error_set(err, ONC_ERR_INVALID, "exact top-k: dimension %d (must be 1..%d)", dim, ONC_VEC_DIM_MAX);
    if (k <= 0 || k > ONC_VEC_K_MAX)
        return onc_error_set(err, ONC_ERR_INVALID, "exact top-k: k = %d (must be 1..%d)", k, ONC_VEC_K_MAX);
    if (n_rows < 0 || nq < 0 || (rows && n_sel < 0))
        return onc_error_set(err, ONC_ERR_INVALID, "exact top-k: negative count");
    if (nq == 0) return ONC_OK;
    if (!q || !scores || !ids) return onc_error_set(err, ONC_ERR_INVALID, "exact top-k: NULL query or result array");
    const int64_t n_cand = rows ? n_sel : n_rows;
    if (n_cand > 0 && !mat) return onc_error_set(err, ONC_ERR_INVALID, "exact top-k: NULL matrix");
    if ((uint64_t)nq > (uint64_t)SIZE_MAX / ((uint64_t)(k + TILE) * sizeof(float) + sizeof(int64_t) * (uint64_t)k))
        return onc_error_set(err, ONC_ERR_NOMEM, "exact top-k: %lld queries: size overflow", (long long)nq);
    for (int64_t i = 0; i < n_sel && rows; i++)
        if (rows[i] < 0 || rows[i] >= n_rows)
            return onc_error_set(err, ONC_ERR_INVALID, "exact top-k: row %lld outside the matrix of %lld rows",
                                 (long long)rows[i], (long long)n_rows);
    for (int64_t i = 0; i < nq * (int64_t)dim; i++)
        if (!isfinite(q[i]))
            return onc_error_set(err, ONC_ERR_INVALID, "exact top-k: query %lld has a non-finite value",
                                 (long long)(i / dim));

    float *hs = malloc((size_t)nq * (size_t)k * sizeof *hs);
    int64_t *hid = malloc((size_t)nq * (size_t)k * sizeof *hid);
    heap *heaps = malloc((size_t)nq * sizeof *heaps);
    const int64_t qb = nq < QBLOCK ? nq : QBLOCK;
    float *sc = malloc((size_t)qb * TILE * sizeof *sc);
    float *tile = rows ? malloc((size_t)TILE * (size_t)dim * sizeof *tile) : NULL;
    if (!hs || !hid || !heaps || !sc || (rows && !tile)) {
        free(hs);
        free(hid);
        free(heaps);
        free(sc);
        free(tile);
        return onc_error_set(err, ONC_ERR_NOMEM, "exact top-k: out of memory (%lld queries, k = %d)", (long long)nq, k);
    }
    for (int64_t i = 0; i < nq; i++) heaps[i] = (heap){hs + i * k, hid + i * k, 0, k};

    for (int64_t t0 = 0; t0 < n_cand; t0 += TILE) {
        const int m = (int)(n_cand - t0 < TILE ? n_cand - t0 : TILE);
        const float *B;
        if (rows) {
            for (int j = 0; j < m; j++)
                memcpy(tile + (size_t)j * dim, mat + (size_t)rows[t0 + j] * dim, (size_t)dim * sizeof(float));
            B = tile;
        } else {
            B = mat + (size_t)t0 * dim;
        }
        for (int64_t q0 = 0; q0 < nq; q0 += QBLOCK) {
            const int mq = (int)(nq - q0 < QBLOCK ? nq - q0 : QBLOCK);
            const float *qp = q + (size_t)q0 * dim;
            if (mq == 1)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, m, dim, 1.0f, B, dim, qp, 1, 0.0f, sc, 1);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mq, m, dim, 1.0f, qp, dim, B, dim, 0.0f, sc, m);
            for (int qi = 0; qi < mq; qi++) {
                const float *s = sc + (size_t)qi * m;
                heap *h = &heaps[q0 + qi];
                for (int j = 0; j < m; j++) {
                    if (isnan(s[j])) continue;
                    int64_t row = rows ? rows[t0 + j] : t0 + j;
                    heap_push(h, s[j], row_ids ? row_ids[row] : row);
                }
            }
        }
    }
    for (int64_t qi = 0; qi < nq; qi++) heap_drain(&heaps[qi], scores + qi * k, ids + qi * k);
    free(hs);
    free(hid);
    free(heaps);
    free(sc);
    free(tile);
    return ONC_OK;
}
