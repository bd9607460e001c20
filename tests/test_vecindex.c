/* test_vecindex.c — oncolm/vecindex.h (FAISS bridge + plain C exact top-k).
 *
 * Data: clustered random unit vectors (seeded; centres + Gaussian noise,
 * L2-normalised), ids scattered over a large range so the id map matters.
 * Checks:
 *   - onc_vec_exact_topk against a double-precision brute force written here
 *     (scores 1e-5; ids equal except where scores tie within 1e-5), row
 *     subsets, row ids, deterministic tie order, padding, NaN rows;
 *   - EXACT search equals the brute force; 1 and 2 threads (the sharded
 *     single-query path) agree;
 *   - HNSW and IVF recall@10 >= 0.95 against exact on 4,000 vectors;
 *     AUTO resolves by the threshold (EXACT below, IVF at or above);
 *   - filtered search, every kind, allowed sets of size 0, 1, < k, absent
 *     ids, unsorted with duplicates, 1 %, 10 %, 60 %, all: never an id
 *     outside the set, exactly min(k, present) results, EXACT identical to
 *     the brute force over the subset, ANN recall against it, also at the
 *     lowest effort (efSearch = k, nprobe = 1) so the graph walk and the
 *     probe-doubling paths run; nearly consecutive ids (the id -> position
 *     array) with holes, across add and remove, against the brute force;
 *   - add / remove / contains; empty indexes;
 *   - save -> load gives bit-identical results; the stamp round-trips
 *     (including 256 bytes; 257 refused); read_stamp reads the header only;
 *   - empty, foreign, wrong-magic, truncated (many lengths), bit-flipped
 *     (header and payload), overlong and missing files are errors naming
 *     the path, and no temporary file is left behind;
 *   - argument errors: dim mismatch, k <= 0, k too large, NaN query,
 *     negative / duplicate ids, IVF without vectors, HNSW remove. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "oncolm/rng.h"
#include "oncolm/vecindex.h"
#include "test_util.h"

/* ---- data ------------------------------------------------------------------ */

static double uniform(onc_rng *r) { return ((onc_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static double gauss(onc_rng *r) { return sqrt(-2.0 * log(uniform(r))) * cos(6.283185307179586 * uniform(r)); }

static void normalise(float *v, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)v[j] * v[j];
    float inv = (float)(1.0 / sqrt(s > 0 ? s : 1));
    for (int j = 0; j < d; j++) v[j] *= inv;
}

/* n unit vectors around n_clusters random centres (noise norm ~ spread). */
static float *clustered(int64_t n, int d, int n_clusters, double spread, uint64_t seed) {
    onc_rng r;
    onc_rng_seed(&r, seed);
    float *c = malloc((size_t)n_clusters * d * sizeof *c);
    float *x = malloc((size_t)n * d * sizeof *x);
    assert_non_null(c);
    assert_non_null(x);
    for (int i = 0; i < n_clusters * d; i++) c[i] = (float)gauss(&r);
    for (int i = 0; i < n_clusters; i++) normalise(c + (size_t)i * d, d);
    for (int64_t i = 0; i < n; i++) {
        const float *ci = c + (size_t)(onc_rng_next(&r) % (uint64_t)n_clusters) * d;
        for (int j = 0; j < d; j++) x[i * d + j] = ci[j] + (float)(spread * gauss(&r) / sqrt((double)d));
        normalise(x + i * d, d);
    }
    free(c);
    return x;
}

/* Distinct ids spread over [0, 2^40): 7919 * i + small noise keeps them unique. */
static int64_t *scattered_ids(int64_t n, uint64_t seed) {
    onc_rng r;
    onc_rng_seed(&r, seed);
    int64_t *ids = malloc((size_t)(n > 0 ? n : 1) * sizeof *ids);
    assert_non_null(ids);
    for (int64_t i = 0; i < n; i++) ids[i] = i * 7919 + (int64_t)(onc_rng_next(&r) % 7000) + 1000000000LL;
    /* shuffle so ids are not in row order */
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(onc_rng_next(&r) % (uint64_t)(i + 1));
        int64_t t = ids[i];
        ids[i] = ids[j];
        ids[j] = t;
    }
    return ids;
}

/* ---- reference: brute force in double ------------------------------------------ */

typedef struct ref_hit {
    double s;
    int64_t id;
} ref_hit;

static int cmp_hit(const void *a, const void *b) {
    const ref_hit *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Top k of query q over rows whose id passes keep (NULL = all). Fills
 * s/id [k] with -inf/-1 padding; returns the number of candidates. */
static int64_t brute(const float *x, const int64_t *ids, int64_t n, int d, const float *q, int k,
                     const int64_t *allowed, int64_t n_allowed, double *s, int64_t *out) {
    ref_hit *h = malloc((size_t)(n > 0 ? n : 1) * sizeof *h);
    assert_non_null(h);
    int64_t *sorted = NULL;
    if (allowed) {
        sorted = malloc((size_t)(n_allowed > 0 ? n_allowed : 1) * sizeof *sorted);
        assert_non_null(sorted);
        if (n_allowed) memcpy(sorted, allowed, (size_t)n_allowed * sizeof *sorted);
        qsort(sorted, (size_t)n_allowed, sizeof *sorted, cmp_i64);
    }
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (allowed && !bsearch(&ids[i], sorted, (size_t)n_allowed, sizeof *sorted, cmp_i64)) continue;
        double acc = 0;
        for (int j = 0; j < d; j++) acc += (double)x[i * d + j] * q[j];
        h[m++] = (ref_hit){acc, ids[i]};
    }
    free(sorted);
    qsort(h, (size_t)m, sizeof *h, cmp_hit);
    for (int j = 0; j < k; j++) {
        s[j] = j < m ? h[j].s : -INFINITY;
        out[j] = j < m ? h[j].id : -1;
    }
    free(h);
    return m;
}

/* Row equality up to ties: scores within tol, and an id may differ only
 * where its score is within tol of a neighbouring score. */
static void assert_row_matches(const float *s, const int64_t *id, const double *rs, const int64_t *rid, int k,
                               double tol) {
    for (int j = 0; j < k; j++) {
        if (rid[j] < 0) {
            assert_int_equal(id[j], -1);
            assert_true(isinf(s[j]) && s[j] < 0);
            continue;
        }
        if (fabs(s[j] - rs[j]) > tol) fail_msg("rank %d: score %.7f, reference %.7f", j, s[j], rs[j]);
        if (id[j] != rid[j]) {
            int tie = (j > 0 && fabs(rs[j] - rs[j - 1]) <= tol) || (j + 1 < k && fabs(rs[j] - rs[j + 1]) <= tol);
            if (!tie) fail_msg("rank %d: id %lld, reference %lld (no tie)", j, (long long)id[j], (long long)rid[j]);
        }
    }
}

static double recall_at(const int64_t *got, const int64_t *truth, int64_t nq, int k) {
    int64_t hit = 0, tot = 0;
    for (int64_t q = 0; q < nq; q++)
        for (int j = 0; j < k; j++) {
            if (truth[q * k + j] < 0) continue;
            tot++;
            for (int a = 0; a < k; a++)
                if (got[q * k + a] == truth[q * k + j]) {
                    hit++;
                    break;
                }
        }
    return tot ? (double)hit / tot : 1.0;
}

static onc_vecindex *build_kind(onc_vec_kind kind, int d, const float *x, const int64_t *ids, int64_t n) {
    onc_vec_params p;
    onc_vec_params_default(&p);
    p.kind = kind;
    p.seed = 42;
    onc_error err = {0};
    onc_vecindex *ix = onc_vecindex_build(d, x, ids, n, &p, &err);
    if (!ix) fail_msg("build %s: %s", onc_vec_kind_name(kind), err.msg);
    return ix;
}

/* ---- shared fixture: 4,000 x 64 clustered --------------------------------------- */

enum { N = 4000, D = 64, NQ = 60, K = 10 };

typedef struct fixture {
    float *x, *q;
    int64_t *ids;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->x = clustered(N, D, 40, 0.8, 11);
    f->q = clustered(NQ, D, 40, 0.8, 11); /* same centres (same seed), first rows */
    /* queries: perturb data rows a little so they are near but not equal */
    onc_rng r;
    onc_rng_seed(&r, 99);
    for (int i = 0; i < NQ; i++) {
        const float *src = f->x + (size_t)(onc_rng_next(&r) % N) * D;
        for (int j = 0; j < D; j++) f->q[i * D + j] = src[j] + (float)(0.3 * gauss(&r) / 8.0);
        normalise(f->q + i * D, D);
    }
    f->ids = scattered_ids(N, 5);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    free(f->x);
    free(f->q);
    free(f->ids);
    free(f);
    return 0;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_exact_topk_c(void **state) {
    fixture *f = *state;
    float s[NQ * K];
    int64_t id[NQ * K];
    double rs[K];
    int64_t rid[K];
    onc_error err = {0};
    /* all rows, row ids */
    assert_int_equal(onc_vec_exact_topk(f->x, N, D, f->ids, NULL, 0, f->q, NQ, K, s, id, &err), ONC_OK);
    for (int q = 0; q < NQ; q++) {
        brute(f->x, f->ids, N, D, f->q + q * D, K, NULL, 0, rs, rid);
        assert_row_matches(s + q * K, id + q * K, rs, rid, K, 1e-5);
    }
    /* one query (sgemv path) equals row 0 of the batch */
    float s1[K];
    int64_t id1[K];
    assert_int_equal(onc_vec_exact_topk(f->x, N, D, f->ids, NULL, 0, f->q, 1, K, s1, id1, &err), ONC_OK);
    for (int j = 0; j < K; j++) {
        assert_true(fabsf(s1[j] - s[j]) < 1e-5f);
        assert_int_equal(id1[j], id[j]);
    }
    /* a row subset of 7 rows, k = 10: 7 results + 3 padding; no row ids */
    int64_t rows[7] = {5, 17, 3999, 0, 1234, 42, 777};
    assert_int_equal(onc_vec_exact_topk(f->x, N, D, NULL, rows, 7, f->q, 2, K, s, id, &err), ONC_OK);
    for (int q = 0; q < 2; q++) {
        int64_t rowid[N];
        for (int i = 0; i < N; i++) rowid[i] = i;
        brute(f->x, rowid, N, D, f->q + q * D, K, rows, 7, rs, rid);
        assert_row_matches(s + q * K, id + q * K, rs, rid, K, 1e-5);
        assert_int_equal(id[q * K + 7], -1);
    }
    /* ties: identical rows -> smaller id first; NaN row skipped */
    float m[4 * 2] = {1, 0, 1, 0, NAN, 0, 1, 0};
    int64_t mid[4] = {30, 20, 5, 10};
    float qq[2] = {1, 0};
    assert_int_equal(onc_vec_exact_topk(m, 4, 2, mid, NULL, 0, qq, 1, 4, s, id, &err), ONC_OK);
    assert_int_equal(id[0], 10);
    assert_int_equal(id[1], 20);
    assert_int_equal(id[2], 30);
    assert_int_equal(id[3], -1);
    /* errors */
    assert_int_equal(onc_vec_exact_topk(f->x, N, D, NULL, NULL, 0, f->q, 1, 0, s, id, &err), ONC_ERR_INVALID);
    int64_t bad_row = N;
    assert_int_equal(onc_vec_exact_topk(f->x, N, D, NULL, &bad_row, 1, f->q, 1, K, s, id, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "row"));
    float nanq[D];
    memcpy(nanq, f->q, sizeof nanq);
    nanq[3] = NAN;
    assert_int_equal(onc_vec_exact_topk(f->x, N, D, NULL, NULL, 0, nanq, 1, K, s, id, &err), ONC_ERR_INVALID);
}

static void test_exact_index(void **state) {
    fixture *f = *state;
    onc_vecindex *ix = build_kind(ONC_VEC_EXACT, D, f->x, f->ids, N);
    onc_vec_info info;
    onc_vecindex_info(ix, &info);
    assert_int_equal(info.kind, ONC_VEC_EXACT);
    assert_int_equal(info.count, N);
    assert_int_equal(info.dim, D);
    assert_true(info.memory_bytes >= (size_t)N * D * 4);
    float s[NQ * K];
    int64_t id[NQ * K];
    double rs[K];
    int64_t rid[K];
    onc_error err = {0};
    assert_int_equal(onc_vecindex_search(ix, D, f->q, NQ, K, s, id, NULL, &err), ONC_OK);
    for (int q = 0; q < NQ; q++) {
        brute(f->x, f->ids, N, D, f->q + q * D, K, NULL, 0, rs, rid);
        assert_row_matches(s + q * K, id + q * K, rs, rid, K, 1e-5);
    }
    /* k larger than the index: padding */
    onc_vecindex *small = build_kind(ONC_VEC_EXACT, D, f->x, f->ids, 3);
    assert_int_equal(onc_vecindex_search(small, D, f->q, 1, 5, s, id, NULL, &err), ONC_OK);
    assert_true(id[2] >= 0);
    assert_int_equal(id[3], -1);
    assert_int_equal(id[4], -1);
    assert_true(isinf(s[4]) && s[4] < 0);
    onc_vecindex_free(small);
    /* empty index */
    onc_vecindex *empty = build_kind(ONC_VEC_EXACT, D, NULL, NULL, 0);
    assert_int_equal(onc_vecindex_search(empty, D, f->q, 1, 3, s, id, NULL, &err), ONC_OK);
    assert_int_equal(id[0], -1);
    onc_vecindex_free(empty);
    onc_vecindex_free(ix);
}

/* 20,000 vectors so one query with 2 threads takes the sharded path. */
static void test_exact_threads(void **state) {
    (void)state;
    enum { BN = 20000, BD = 32 };
    float *x = clustered(BN, BD, 50, 0.9, 3);
    float *q = clustered(3, BD, 50, 0.9, 4);
    onc_vecindex *ix = build_kind(ONC_VEC_EXACT, BD, x, NULL, BN);
    int64_t allowed[500];
    for (int i = 0; i < 500; i++) allowed[i] = i * 37;
    for (int filtered = 0; filtered < 2; filtered++)
        for (int nq = 1; nq <= 3; nq += 2) {
            float s1[3 * 20], s2[3 * 20];
            int64_t i1[3 * 20], i2[3 * 20];
            onc_error err = {0};
            onc_vec_search_opts o1 = {.n_threads = 1}, o2 = {.n_threads = 2};
            if (filtered) {
                assert_int_equal(onc_vecindex_search_filtered(ix, BD, q, nq, 20, allowed, 500, s1, i1, &o1, &err), ONC_OK);
                assert_int_equal(onc_vecindex_search_filtered(ix, BD, q, nq, 20, allowed, 500, s2, i2, &o2, &err), ONC_OK);
            } else {
                assert_int_equal(onc_vecindex_search(ix, BD, q, nq, 20, s1, i1, &o1, &err), ONC_OK);
                assert_int_equal(onc_vecindex_search(ix, BD, q, nq, 20, s2, i2, &o2, &err), ONC_OK);
            }
            for (int j = 0; j < nq * 20; j++) {
                assert_true(fabsf(s1[j] - s2[j]) < 1e-5f);
                if (i1[j] != i2[j]) { /* only where scores tie */
                    int r = j % 20;
                    int tie = (r > 0 && fabsf(s1[j] - s1[j - 1]) < 1e-5f) || (r < 19 && fabsf(s1[j] - s1[j + 1]) < 1e-5f);
                    assert_true(tie);
                }
                if (filtered) assert_true(i1[j] % 37 == 0 && i1[j] < 500 * 37);
            }
        }
    onc_vecindex_free(ix);
    free(x);
    free(q);
}

static void test_ann_recall(void **state) {
    fixture *f = *state;
    int64_t truth[NQ * K], got[NQ * K];
    float s[NQ * K];
    onc_error err = {0};
    onc_vecindex *ex = build_kind(ONC_VEC_EXACT, D, f->x, f->ids, N);
    assert_int_equal(onc_vecindex_search(ex, D, f->q, NQ, K, s, truth, NULL, &err), ONC_OK);
    onc_vecindex_free(ex);
    const onc_vec_kind kinds[2] = {ONC_VEC_HNSW, ONC_VEC_IVF};
    for (int i = 0; i < 2; i++) {
        onc_vecindex *ix = build_kind(kinds[i], D, f->x, f->ids, N);
        onc_vec_info info;
        onc_vecindex_info(ix, &info);
        assert_int_equal(info.kind, kinds[i]);
        assert_int_equal(info.count, N);
        if (kinds[i] == ONC_VEC_IVF) {
            assert_true(info.ivf_nlist >= 1 && info.ivf_nprobe >= 1 && info.ivf_nprobe <= info.ivf_nlist);
        } else {
            assert_int_equal(info.hnsw_m, ONC_VEC_HNSW_M);
        }
        assert_int_equal(onc_vecindex_search(ix, D, f->q, NQ, K, s, got, NULL, &err), ONC_OK);
        double r = recall_at(got, truth, NQ, K);
        print_message("# %s recall@10 = %.3f\n", onc_vec_kind_name(kinds[i]), r);
        assert_true(r >= 0.95);
        /* scores descending and real */
        for (int q = 0; q < NQ; q++)
            for (int j = 1; j < K; j++) assert_true(s[q * K + j] <= s[q * K + j - 1]);
        /* per-call knobs accepted */
        onc_vec_search_opts o = {.n_threads = 1, .ef_search = 200, .nprobe = 64};
        assert_int_equal(onc_vecindex_search(ix, D, f->q, NQ, K, s, got, &o, &err), ONC_OK);
        assert_true(recall_at(got, truth, NQ, K) >= r - 0.02);
        onc_vecindex_free(ix);
    }
    /* AUTO: exact below the threshold, IVF at or above */
    onc_vec_params p = {.kind = ONC_VEC_AUTO, .auto_threshold = 1000};
    onc_vecindex *a = onc_vecindex_build(D, f->x, f->ids, 999, &p, &err);
    onc_vecindex *b = onc_vecindex_build(D, f->x, f->ids, 1000, &p, &err);
    assert_non_null(a);
    assert_non_null(b);
    onc_vec_info ia, ib;
    onc_vecindex_info(a, &ia);
    onc_vecindex_info(b, &ib);
    assert_int_equal(ia.kind, ONC_VEC_EXACT);
    assert_int_equal(ib.kind, ONC_VEC_IVF);
    assert_int_equal(ib.built_count, 1000);
    onc_vecindex_free(a);
    onc_vecindex_free(b);
}

static int64_t count_present(const int64_t *allowed, int64_t na, const int64_t *ids, int64_t n) {
    int64_t c = 0;
    for (int64_t a = 0; a < na; a++) {
        int dup = 0;
        for (int64_t b = 0; b < a && !dup; b++) dup = allowed[b] == allowed[a];
        if (dup) continue;
        for (int64_t i = 0; i < n; i++)
            if (ids[i] == allowed[a]) {
                c++;
                break;
            }
    }
    return c;
}

static void test_filtered(void **state) {
    fixture *f = *state;
    onc_rng r;
    onc_rng_seed(&r, 7);
    /* allowed sets */
    enum { NSETS = 9 };
    int64_t *sets[NSETS];
    int64_t sizes[NSETS];
    const char *names[NSETS] = {"empty", "one", "five (< k)", "absent only", "unsorted+dups+absent",
                                "1%", "10%", "60%", "all"};
    sizes[0] = 0;
    sizes[1] = 1;
    sizes[2] = 5;
    sizes[3] = 4;
    sizes[4] = 300;
    sizes[5] = N / 100;
    sizes[6] = N / 10;
    sizes[7] = N * 6 / 10;
    sizes[8] = N;
    for (int i = 0; i < NSETS; i++) {
        sets[i] = malloc((size_t)(sizes[i] > 0 ? sizes[i] : 1) * sizeof(int64_t));
        for (int64_t j = 0; j < sizes[i]; j++) sets[i][j] = f->ids[onc_rng_next(&r) % N];
    }
    for (int j = 0; j < 4; j++) sets[3][j] = 5 + j; /* below every id */
    for (int j = 0; j < 300; j += 3) sets[4][j] = 999999999999LL - j; /* absent */
    /* sets 5..7: distinct rows, sorted by id for some, not others */
    for (int i = 5; i <= 7; i++) {
        int64_t step = N / sizes[i];
        int64_t off = (int64_t)(onc_rng_next(&r) % (uint64_t)step);
        for (int64_t j = 0; j < sizes[i]; j++) sets[i][j] = f->ids[(j * step + off) % N];
    }
    memcpy(sets[8], f->ids, N * sizeof(int64_t));
    const onc_vec_kind kinds[3] = {ONC_VEC_EXACT, ONC_VEC_HNSW, ONC_VEC_IVF};
    onc_vecindex *ix[3];
    for (int k = 0; k < 3; k++) ix[k] = build_kind(kinds[k], D, f->x, f->ids, N);
    enum { FQ = 12 };
    float s[FQ * K];
    int64_t id[FQ * K];
    double rs[K];
    int64_t rid[K];
    /* configurations: each kind with its defaults, then HNSW and IVF at the
     * lowest effort (efSearch = k, nprobe = 1) so the graph walk and the
     * probe-doubling paths run for the larger sets too */
    typedef struct cfg {
        int ix;
        onc_vec_search_opts o;
        int strict; /* assert recall */
    } cfg;
    const cfg cfgs[5] = {{0, {0}, 1}, {1, {0}, 1}, {2, {0}, 1}, {1, {.ef_search = K}, 0}, {2, {.nprobe = 1}, 0}};
    for (int si = 0; si < NSETS; si++) {
        const int64_t present = count_present(sets[si], sizes[si], f->ids, N);
        const int64_t want = present < K ? present : K;
        for (int c = 0; c < 5; c++) {
            const int k = cfgs[c].ix;
            onc_error err = {0};
            if (onc_vecindex_search_filtered(ix[k], D, f->q, FQ, K, sets[si], sizes[si], s, id, &cfgs[c].o, &err) != ONC_OK)
                fail_msg("filtered search: %s", err.msg);
            int64_t hit = 0, tot = 0;
            for (int q = 0; q < FQ; q++) {
                int64_t found = 0;
                for (int j = 0; j < K; j++) {
                    int64_t v = id[q * K + j];
                    if (v < 0) {
                        assert_true(isinf(s[q * K + j]) && s[q * K + j] < 0);
                        continue;
                    }
                    found++;
                    int ok = 0;
                    for (int64_t a = 0; a < sizes[si] && !ok; a++) ok = sets[si][a] == v;
                    if (!ok)
                        fail_msg("%s, set %s: id %lld is not allowed", onc_vec_kind_name(kinds[k]), names[si],
                                 (long long)v);
                    if (j) assert_true(s[q * K + j] <= s[q * K + j - 1]);
                }
                if (found != want)
                    fail_msg("%s, set %s: %lld results, expected %lld", onc_vec_kind_name(kinds[k]), names[si],
                             (long long)found, (long long)want);
                brute(f->x, f->ids, N, D, f->q + q * D, K, sets[si], sizes[si], rs, rid);
                if (kinds[k] == ONC_VEC_EXACT) assert_row_matches(s + q * K, id + q * K, rs, rid, K, 1e-5);
                for (int j = 0; j < K; j++) {
                    if (rid[j] < 0) continue;
                    tot++;
                    for (int a = 0; a < K; a++) hit += id[q * K + a] == rid[j];
                }
            }
            double rec = tot ? (double)hit / tot : 1.0;
            if (kinds[k] != ONC_VEC_EXACT)
                print_message("# filtered %-22s %-5s%s recall@10 = %.3f\n", names[si], onc_vec_kind_name(kinds[k]),
                              cfgs[c].strict ? "        " : " (low)  ", rec);
            if (cfgs[c].strict) assert_true(rec >= 0.9);
        }
    }
    /* a bad list */
    onc_error err = {0};
    assert_int_equal(onc_vecindex_search_filtered(ix[0], D, f->q, 1, K, NULL, 3, s, id, NULL, &err), ONC_ERR_INVALID);
    for (int k = 0; k < 3; k++) onc_vecindex_free(ix[k]);
    for (int i = 0; i < NSETS; i++) free(sets[i]);
}

/* Nearly consecutive ids (as the store's rowids) take the id -> position
 * array: holes, out-of-range and negative allowed ids, and the table after
 * add and remove; 300 allowed of 4,000 is the exact path of every kind (IVF
 * gathers the vectors from its lists), so results equal the brute force. */
static void test_filtered_dense_ids(void **state) {
    fixture *f = *state;
    int64_t *ids = malloc(N * sizeof *ids);
    for (int i = 0; i < N; i++) ids[i] = 100 + i + (i >= N / 2 ? 500 : 0); /* a hole of 500 */
    onc_rng r;
    onc_rng_seed(&r, 21);
    enum { NA = 300 };
    int64_t allowed[NA];
    for (int i = 0; i < NA; i++) allowed[i] = (int64_t)(onc_rng_next(&r) % (N + 800)) - 50; /* some < 0, holes, past end */
    float s[4 * K];
    int64_t id[4 * K];
    double rs[K];
    int64_t rid[K];
    const onc_vec_kind kinds[3] = {ONC_VEC_EXACT, ONC_VEC_HNSW, ONC_VEC_IVF};
    for (int k = 0; k < 3; k++) {
        onc_error err = {0};
        onc_vecindex *ix = build_kind(kinds[k], D, f->x, ids, N - 100);
        const int removes = kinds[k] != ONC_VEC_HNSW;
        for (int round = 0; round < 3; round++) {
            const int64_t held = round == 0 ? N - 100 : N;
            assert_int_equal(onc_vecindex_search_filtered(ix, D, f->q, 4, K, allowed, NA, s, id, NULL, &err), ONC_OK);
            for (int q = 0; q < 4; q++) {
                /* reference over the rows currently held (minus the removed row 7) */
                int64_t n_ref = held;
                int64_t *ref_ids = malloc((size_t)n_ref * sizeof *ref_ids);
                memcpy(ref_ids, ids, (size_t)n_ref * sizeof *ref_ids);
                if (round == 2 && removes) ref_ids[7] = -999; /* removed */
                brute(f->x, ref_ids, n_ref, D, f->q + q * D, K, allowed, NA, rs, rid);
                assert_row_matches(s + q * K, id + q * K, rs, rid, K, 1e-5);
                free(ref_ids);
            }
            if (round == 0) assert_int_equal(onc_vecindex_add(ix, f->x + (size_t)(N - 100) * D, ids + N - 100, 100, &err), ONC_OK);
            if (round == 1 && removes) {
                int64_t gone = ids[7];
                allowed[0] = gone; /* make sure it would be a candidate */
                assert_int_equal(onc_vecindex_remove(ix, &gone, 1, NULL, &err), ONC_OK);
            }
        }
        onc_vecindex_free(ix);
    }
    free(ids);
}

static void test_add_remove(void **state) {
    fixture *f = *state;
    const onc_vec_kind kinds[3] = {ONC_VEC_EXACT, ONC_VEC_HNSW, ONC_VEC_IVF};
    for (int k = 0; k < 3; k++) {
        onc_error err = {0};
        onc_vecindex *ix = build_kind(kinds[k], D, f->x, f->ids, N / 2);
        assert_int_equal(onc_vecindex_add(ix, f->x + (size_t)(N / 2) * D, f->ids + N / 2, N / 2, &err), ONC_OK);
        onc_vec_info info;
        onc_vecindex_info(ix, &info);
        assert_int_equal(info.count, N);
        assert_true(onc_vecindex_contains(ix, f->ids[N - 1]));
        assert_false(onc_vecindex_contains(ix, 3));
        /* a query equal to an added row finds it first */
        float s[K];
        int64_t id[K];
        assert_int_equal(onc_vecindex_search(ix, D, f->x + (size_t)(N - 5) * D, 1, K, s, id, NULL, &err), ONC_OK);
        assert_int_equal(id[0], f->ids[N - 5]);
        /* adding an id again fails and changes nothing */
        assert_int_equal(onc_vecindex_add(ix, f->x, f->ids + 7, 1, &err), ONC_ERR_INVALID);
        assert_non_null(strstr(err.msg, "already"));
        onc_vecindex_info(ix, &info);
        assert_int_equal(info.count, N);
        int64_t gone[3] = {f->ids[N - 5], f->ids[0], 123};
        int64_t removed = -1;
        onc_status st = onc_vecindex_remove(ix, gone, 3, &removed, &err);
        if (kinds[k] == ONC_VEC_HNSW) {
            assert_int_equal(st, ONC_ERR_UNSUPPORTED);
            assert_int_equal(removed, 0);
        } else {
            assert_int_equal(st, ONC_OK);
            assert_int_equal(removed, 2);
            assert_false(onc_vecindex_contains(ix, f->ids[N - 5]));
            onc_vecindex_info(ix, &info);
            assert_int_equal(info.count, N - 2);
            assert_int_equal(onc_vecindex_search(ix, D, f->x + (size_t)(N - 5) * D, 1, K, s, id, NULL, &err), ONC_OK);
            for (int j = 0; j < K; j++) assert_true(id[j] != gone[0] && id[j] != gone[1]);
            /* and can be added back */
            assert_int_equal(onc_vecindex_add(ix, f->x + (size_t)(N - 5) * D, &gone[0], 1, &err), ONC_OK);
            assert_true(onc_vecindex_contains(ix, gone[0]));
        }
        onc_vecindex_free(ix);
    }
}

static void path_in_tmp(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tu_tmp_dir(), name); }

static void test_save_load(void **state) {
    fixture *f = *state;
    const onc_vec_kind kinds[3] = {ONC_VEC_EXACT, ONC_VEC_HNSW, ONC_VEC_IVF};
    char stamp[ONC_VEC_STAMP_MAX + 2];
    memset(stamp, 'g', ONC_VEC_STAMP_MAX);
    memcpy(stamp, "gen=17 model=bge-base", 21);
    stamp[ONC_VEC_STAMP_MAX] = '\0';
    for (int k = 0; k < 3; k++) {
        char path[512];
        char name[64];
        snprintf(name, sizeof name, "vecindex_%s.faiss", onc_vec_kind_name(kinds[k]));
        path_in_tmp(path, sizeof path, name);
        onc_error err = {0};
        onc_vecindex *ix = build_kind(kinds[k], D, f->x, f->ids, N);
        assert_string_equal(onc_vecindex_stamp(ix), "");
        const char *st = k == 0 ? "gen=3 model=e5-small" : k == 1 ? stamp : "";
        assert_int_equal(onc_vecindex_save(ix, path, st, &err), ONC_OK);
        assert_string_equal(onc_vecindex_stamp(ix), st);
        onc_vecindex *back = onc_vecindex_load(path, 0, &err);
        if (!back) fail_msg("load: %s", err.msg);
        assert_string_equal(onc_vecindex_stamp(back), st);
        onc_vec_info a, b, h;
        onc_vecindex_info(ix, &a);
        onc_vecindex_info(back, &b);
        assert_int_equal(a.kind, b.kind);
        assert_int_equal(a.count, b.count);
        assert_int_equal(a.hnsw_ef_search, b.hnsw_ef_search);
        assert_int_equal(a.ivf_nprobe, b.ivf_nprobe);
        assert_int_equal(a.ivf_nlist, b.ivf_nlist);
        assert_int_equal(b.built_count, N);
        char got[ONC_VEC_STAMP_MAX + 1];
        assert_int_equal(onc_vecindex_read_stamp(path, got, &h, &err), ONC_OK);
        assert_string_equal(got, st);
        assert_int_equal(h.kind, kinds[k]);
        assert_int_equal(h.count, N);
        assert_int_equal(h.dim, D);
        float s1[NQ * K], s2[NQ * K];
        int64_t i1[NQ * K], i2[NQ * K];
        onc_vec_search_opts o = {.n_threads = 1};
        assert_int_equal(onc_vecindex_search(ix, D, f->q, NQ, K, s1, i1, &o, &err), ONC_OK);
        assert_int_equal(onc_vecindex_search(back, D, f->q, NQ, K, s2, i2, &o, &err), ONC_OK);
        assert_memory_equal(i1, i2, sizeof i1);
        assert_memory_equal(s1, s2, sizeof s1);
        assert_int_equal(onc_vecindex_search_filtered(ix, D, f->q, NQ, K, f->ids, N / 3, s1, i1, &o, &err), ONC_OK);
        assert_int_equal(onc_vecindex_search_filtered(back, D, f->q, NQ, K, f->ids, N / 3, s2, i2, &o, &err), ONC_OK);
        assert_memory_equal(i1, i2, sizeof i1);
        /* a loaded index still accepts vectors */
        int64_t nid = 77;
        assert_int_equal(onc_vecindex_add(back, f->q, &nid, 1, &err), ONC_OK);
        /* overwrite in place: the old file is replaced atomically */
        assert_int_equal(onc_vecindex_save(back, path, "gen=18", &err), ONC_OK);
        assert_int_equal(onc_vecindex_read_stamp(path, got, &h, &err), ONC_OK);
        assert_string_equal(got, "gen=18");
        assert_int_equal(h.count, N + 1);
        assert_int_equal(h.built_count, N);
        onc_vecindex_free(back);
        onc_vecindex_free(ix);
    }
    /* empty indexes (EXACT, HNSW) survive the round trip and accept vectors */
    for (int k = 0; k < 2; k++) {
        char path[512];
        path_in_tmp(path, sizeof path, "vecindex_empty.faiss");
        onc_error err = {0};
        onc_vecindex *e = build_kind(kinds[k], D, NULL, NULL, 0);
        assert_int_equal(onc_vecindex_save(e, path, "empty", &err), ONC_OK);
        onc_vecindex_free(e);
        e = onc_vecindex_load(path, 1, &err);
        if (!e) fail_msg("load empty: %s", err.msg);
        float s[K];
        int64_t id[K];
        assert_int_equal(onc_vecindex_search(e, D, f->q, 1, K, s, id, NULL, &err), ONC_OK);
        assert_int_equal(id[0], -1);
        assert_int_equal(onc_vecindex_add(e, f->x, f->ids, 100, &err), ONC_OK);
        assert_int_equal(onc_vecindex_search(e, D, f->x, 1, K, s, id, NULL, &err), ONC_OK);
        assert_int_equal(id[0], f->ids[0]);
        onc_vecindex_free(e);
        unlink(path);
    }
    /* a stamp of 257 bytes is refused */
    onc_vecindex *ix = build_kind(ONC_VEC_EXACT, D, f->x, f->ids, 10);
    char big[ONC_VEC_STAMP_MAX + 2];
    memset(big, 's', ONC_VEC_STAMP_MAX + 1);
    big[ONC_VEC_STAMP_MAX + 1] = '\0';
    char path[512];
    path_in_tmp(path, sizeof path, "vecindex_bigstamp.faiss");
    onc_error err = {0};
    assert_int_equal(onc_vecindex_save(ix, path, big, &err), ONC_ERR_INVALID);
    assert_int_equal(access(path, F_OK), -1);
    /* a folder that does not exist: I/O error naming the path */
    path_in_tmp(path, sizeof path, "no/such/dir/x.faiss");
    assert_int_equal(onc_vecindex_save(ix, path, "", &err), ONC_ERR_IO);
    assert_non_null(strstr(err.msg, "x.faiss"));
    onc_vecindex_free(ix);
    /* no temporary files left in the scratch folder */
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
    DIR *dir = opendir(tu_tmp_dir());
    assert_non_null(dir);
    for (struct dirent *e; (e = readdir(dir));)
        if (strncmp(e->d_name, "vecindex_", 9) == 0 && strstr(e->d_name, suffix))
            fail_msg("temporary file left behind: %s", e->d_name);
    closedir(dir);
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return b;
}

static void spill(const char *path, const unsigned char *b, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (n) assert_int_equal(fwrite(b, 1, n, fp), n);
    fclose(fp);
}

/* Load and read_stamp of path both fail with code and a message holding
 * the path and needle. */
static void expect_bad(const char *path, onc_status code, const char *needle) {
    onc_error err = {0};
    onc_vecindex *ix = onc_vecindex_load(path, 1, &err);
    if (ix) fail_msg("%s loaded, expected '%s'", path, needle);
    assert_int_equal(err.code, code);
    if (!strstr(err.msg, path) || !strstr(err.msg, needle))
        fail_msg("load message '%s' lacks '%s' or the path", err.msg, needle);
    onc_error_clear(&err);
    char stamp[ONC_VEC_STAMP_MAX + 1];
    onc_vec_info info;
    onc_status st = onc_vecindex_read_stamp(path, stamp, &info, &err);
    /* read_stamp does not checksum the payload: it may accept payload damage */
    if (st != ONC_OK) assert_non_null(strstr(err.msg, path));
}

static void test_bad_files(void **state) {
    fixture *f = *state;
    char good[512], bad[512];
    path_in_tmp(good, sizeof good, "vecindex_good.faiss");
    path_in_tmp(bad, sizeof bad, "vecindex_bad.faiss");
    onc_error err = {0};
    const onc_vec_kind kinds[3] = {ONC_VEC_EXACT, ONC_VEC_HNSW, ONC_VEC_IVF};
    for (int k = 0; k < 3; k++) {
        onc_vecindex *ix = build_kind(kinds[k], D, f->x, f->ids, 300);
        assert_int_equal(onc_vecindex_save(ix, good, "gen=1", &err), ONC_OK);
        onc_vecindex_free(ix);
        size_t n;
        unsigned char *b = slurp(good, &n);
        assert_true(n > 384);
        /* empty, foreign, short */
        spill(bad, b, 0);
        expect_bad(bad, ONC_ERR_FORMAT, "empty");
        spill(bad, (const unsigned char *)"GGUF\3\0\0\0 some other file format here", 36);
        expect_bad(bad, ONC_ERR_FORMAT, "not an oncolm vector index");
        spill(bad, b, 5);
        expect_bad(bad, ONC_ERR_FORMAT, "not an oncolm vector index");
        /* truncated at many lengths, header included */
        const size_t cuts[] = {8, 100, 383, 384, 385, 400, n / 2, n - 9, n - 1};
        for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
            spill(bad, b, cuts[c]);
            expect_bad(bad, ONC_ERR_FORMAT, "truncated");
            onc_error e2 = {0};
            assert_int_not_equal(onc_vecindex_read_stamp(bad, NULL, NULL, &e2), ONC_OK);
        }
        /* trailing garbage */
        unsigned char *longer = malloc(n + 7);
        memcpy(longer, b, n);
        memset(longer + n, 0xAB, 7);
        spill(bad, longer, n + 7);
        expect_bad(bad, ONC_ERR_FORMAT, "unexpected bytes");
        free(longer);
        /* wrong magic (one byte) */
        b[3] ^= 0x20;
        spill(bad, b, n);
        expect_bad(bad, ONC_ERR_FORMAT, "not an oncolm vector index");
        b[3] ^= 0x20;
        /* header bit flips anywhere after the magic: corrupt header */
        const size_t hpos[] = {9, 16, 20, 30, 45, 60, 100, 300, 380};
        for (size_t i = 0; i < sizeof hpos / sizeof *hpos; i++) {
            b[hpos[i]] ^= 0x04;
            spill(bad, b, n);
            expect_bad(bad, ONC_ERR_FORMAT, "corrupt header");
            onc_error e2 = {0};
            assert_int_equal(onc_vecindex_read_stamp(bad, NULL, NULL, &e2), ONC_ERR_FORMAT);
            b[hpos[i]] ^= 0x04;
        }
        /* payload bit flips: checksum */
        const size_t ppos[] = {384, 390, 384 + (n - 384) / 3, n / 2, n - 1};
        for (size_t i = 0; i < sizeof ppos / sizeof *ppos; i++) {
            b[ppos[i]] ^= 0x01;
            spill(bad, b, n);
            expect_bad(bad, ONC_ERR_FORMAT, "checksum");
            b[ppos[i]] ^= 0x01;
        }
        /* the untouched bytes still load */
        spill(bad, b, n);
        onc_vecindex *ok = onc_vecindex_load(bad, 1, &err);
        if (!ok) fail_msg("%s", err.msg);
        onc_vecindex_free(ok);
        free(b);
    }
    /* missing file and a folder */
    char missing[512];
    path_in_tmp(missing, sizeof missing, "vecindex_missing.faiss");
    unlink(missing);
    expect_bad(missing, ONC_ERR_IO, "cannot open");
    expect_bad(tu_tmp_dir(), ONC_ERR_IO, "not a regular file");
    unlink(bad);
    unlink(good);
}

static void test_errors(void **state) {
    fixture *f = *state;
    onc_error err = {0};
    float s[K];
    int64_t id[K];
    const onc_vec_kind kinds[3] = {ONC_VEC_EXACT, ONC_VEC_HNSW, ONC_VEC_IVF};
    for (int k = 0; k < 3; k++) {
        onc_vecindex *ix = build_kind(kinds[k], D, f->x, f->ids, 500);
        assert_int_equal(onc_vecindex_search(ix, D + 1, f->q, 1, K, s, id, NULL, &err), ONC_ERR_INVALID);
        assert_non_null(strstr(err.msg, "dimension"));
        assert_int_equal(onc_vecindex_search(ix, D, f->q, 1, 0, s, id, NULL, &err), ONC_ERR_INVALID);
        assert_int_equal(onc_vecindex_search(ix, D, f->q, 1, -3, s, id, NULL, &err), ONC_ERR_INVALID);
        assert_int_equal(onc_vecindex_search(ix, D, f->q, 1, ONC_VEC_K_MAX + 1, s, id, NULL, &err), ONC_ERR_INVALID);
        assert_int_equal(onc_vecindex_search_filtered(ix, D - 1, f->q, 1, K, f->ids, 3, s, id, NULL, &err),
                         ONC_ERR_INVALID);
        assert_int_equal(onc_vecindex_search_filtered(ix, D, f->q, 1, 0, f->ids, 3, s, id, NULL, &err), ONC_ERR_INVALID);
        float nanq[D];
        memcpy(nanq, f->q, sizeof nanq);
        nanq[D - 1] = INFINITY;
        assert_int_equal(onc_vecindex_search(ix, D, nanq, 1, K, s, id, NULL, &err), ONC_ERR_INVALID);
        assert_non_null(strstr(err.msg, "non-finite"));
        /* nq = 0 is fine */
        assert_int_equal(onc_vecindex_search(ix, D, NULL, 0, K, NULL, NULL, NULL, &err), ONC_OK);
        /* adding a wrong vector */
        int64_t nid = -5;
        assert_int_equal(onc_vecindex_add(ix, f->x, &nid, 1, &err), ONC_ERR_INVALID);
        assert_non_null(strstr(err.msg, "negative"));
        onc_vecindex_free(ix);
    }
    /* build errors */
    int64_t dup[3] = {4, 9, 4};
    assert_null(onc_vecindex_build(D, f->x, dup, 3, NULL, &err));
    assert_non_null(strstr(err.msg, "duplicate id 4"));
    assert_null(onc_vecindex_build(0, f->x, NULL, 3, NULL, &err));
    assert_int_equal(err.code, ONC_ERR_INVALID);
    onc_vec_params p = {.kind = ONC_VEC_IVF};
    assert_null(onc_vecindex_build(D, NULL, NULL, 0, &p, &err));
    assert_non_null(strstr(err.msg, "IVF"));
    float nanx[2 * D];
    memcpy(nanx, f->x, sizeof nanx);
    nanx[D + 2] = NAN;
    assert_null(onc_vecindex_build(D, nanx, NULL, 2, NULL, &err));
    assert_non_null(strstr(err.msg, "vector 1"));
    p.kind = (onc_vec_kind)9;
    assert_null(onc_vecindex_build(D, f->x, NULL, 3, &p, &err));
    /* tiny IVF: nlist clamps, still searchable */
    p = (onc_vec_params){.kind = ONC_VEC_IVF, .ivf_nlist = 64};
    onc_vecindex *tiny = onc_vecindex_build(D, f->x, f->ids, 20, &p, &err);
    assert_non_null(tiny);
    onc_vec_info info;
    onc_vecindex_info(tiny, &info);
    assert_int_equal(info.ivf_nlist, 1);
    assert_int_equal(onc_vecindex_search(tiny, D, f->x, 1, K, s, id, NULL, &err), ONC_OK);
    assert_int_equal(id[0], f->ids[0]);
    onc_vecindex_free(tiny);
    /* names */
    onc_vec_kind kk;
    assert_int_equal(onc_vec_kind_parse("hnsw", &kk, &err), ONC_OK);
    assert_int_equal(kk, ONC_VEC_HNSW);
    assert_int_equal(onc_vec_kind_parse("annoy", &kk, &err), ONC_ERR_INVALID);
    assert_string_equal(onc_vec_kind_name(ONC_VEC_IVF), "ivf");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_topk_c), cmocka_unit_test(test_exact_index), cmocka_unit_test(test_exact_threads),
        cmocka_unit_test(test_ann_recall),   cmocka_unit_test(test_filtered),    cmocka_unit_test(test_filtered_dense_ids),
        cmocka_unit_test(test_add_remove),
        cmocka_unit_test(test_save_load),    cmocka_unit_test(test_bad_files),   cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
