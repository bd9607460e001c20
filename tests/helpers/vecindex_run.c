/* vecindex_run.c — helper for tests/oracle/test_vecindex_oracle.py: runs one
 * oncolm/vecindex.h operation on raw little-endian files and writes the
 * results as raw float32 scores [nq*k] followed by int64 ids [nq*k].
 *
 *   vecindex_run index KIND DIM DATA.f32 IDS.i64|- QUERIES.f32 K OUT
 *                [--allowed A.i64] [--threads N] [--save PATH STAMP] [--load PATH]
 *   vecindex_run ctopk DIM DATA.f32 IDS.i64|- QUERIES.f32 K OUT [--rows R.i64]
 *
 * `index` builds an index of KIND (auto/exact/hnsw/ivf) over DATA (or loads
 * --load PATH instead), optionally saves it, and searches (filtered when
 * --allowed is given). `ctopk` calls onc_vec_exact_topk. Row counts come
 * from the file sizes. Prints the stamp of a loaded index on stdout. Exit 1
 * with a message on stderr on any error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/vecindex.h"

static void *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "vecindex_run: cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc(len > 0 ? (size_t)len : 1);
    if (!b || fread(b, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "vecindex_run: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void die(const onc_error *err) {
    fprintf(stderr, "vecindex_run: %s\n", err->msg);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: see the top of vecindex_run.c\n");
        return 2;
    }
    const int is_index = strcmp(argv[1], "index") == 0;
    const int a0 = is_index ? 3 : 2; /* position of DIM */
    if (!is_index && strcmp(argv[1], "ctopk") != 0) return 2;
    if (argc < a0 + 6) return 2;
    const int dim = atoi(argv[a0]);
    size_t nb, nidb, nqb;
    float *x = slurp(argv[a0 + 1], &nb);
    int64_t *ids = strcmp(argv[a0 + 2], "-") ? slurp(argv[a0 + 2], &nidb) : NULL;
    float *q = slurp(argv[a0 + 3], &nqb);
    const int k = atoi(argv[a0 + 4]);
    const char *out = argv[a0 + 5];
    const int64_t n = (int64_t)(nb / (sizeof(float) * (size_t)dim));
    const int64_t nq = (int64_t)(nqb / (sizeof(float) * (size_t)dim));
    if (ids && nidb / sizeof(int64_t) != (size_t)n) {
        fprintf(stderr, "vecindex_run: %lld vectors but %zu ids\n", (long long)n, nidb / sizeof(int64_t));
        return 1;
    }
    int64_t *allowed = NULL, *rows = NULL;
    size_t n_allowed = 0, n_rows = 0;
    int threads = 0;
    const char *save = NULL, *stamp = "", *load = NULL;
    for (int i = a0 + 6; i < argc; i++) {
        if (!strcmp(argv[i], "--allowed") && i + 1 < argc) {
            allowed = slurp(argv[++i], &n_allowed);
            n_allowed /= sizeof(int64_t);
        } else if (!strcmp(argv[i], "--rows") && i + 1 < argc) {
            rows = slurp(argv[++i], &n_rows);
            n_rows /= sizeof(int64_t);
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--save") && i + 2 < argc) {
            save = argv[++i];
            stamp = argv[++i];
        } else if (!strcmp(argv[i], "--load") && i + 1 < argc) {
            load = argv[++i];
        } else {
            fprintf(stderr, "vecindex_run: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    float *scores = malloc((size_t)(nq * k + 1) * sizeof *scores);
    int64_t *res = malloc((size_t)(nq * k + 1) * sizeof *res);
    onc_error err = {0};
    if (is_index) {
        onc_vecindex *ix;
        if (load) {
            ix = onc_vecindex_load(load, threads, &err);
            if (!ix) die(&err);
            printf("%s\n", onc_vecindex_stamp(ix));
        } else {
            onc_vec_params p;
            onc_vec_params_default(&p);
            if (onc_vec_kind_parse(argv[2], &p.kind, &err) != ONC_OK) die(&err);
            p.n_threads = threads;
            ix = onc_vecindex_build(dim, x, ids, n, &p, &err);
            if (!ix) die(&err);
        }
        if (save && onc_vecindex_save(ix, save, stamp, &err) != ONC_OK) die(&err);
        onc_status st = allowed ? onc_vecindex_search_filtered(ix, dim, q, nq, k, allowed, (int64_t)n_allowed, scores,
                                                               res, NULL, &err)
                                : onc_vecindex_search(ix, dim, q, nq, k, scores, res, NULL, &err);
        if (st != ONC_OK) die(&err);
        onc_vecindex_free(ix);
    } else {
        if (onc_vec_exact_topk(x, n, dim, ids, rows, (int64_t)n_rows, q, nq, k, scores, res, &err) != ONC_OK) die(&err);
    }
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(scores, sizeof *scores, (size_t)(nq * k), f) != (size_t)(nq * k) ||
        fwrite(res, sizeof *res, (size_t)(nq * k), f) != (size_t)(nq * k) || fclose(f) != 0) {
        fprintf(stderr, "vecindex_run: cannot write %s\n", out);
        return 1;
    }
    free(scores);
    free(res);
    free(x);
    free(ids);
    free(q);
    free(allowed);
    free(rows);
    return 0;
}
