/* bench_vecindex.c — the dense vector index (oncolm/vecindex.h) per kind.
 *
 *   bench_vecindex [--n 100000,1000000] [--dim 384] [--kinds exact,hnsw,ivf]
 *                  [--threads 1,2] [--queries 200] [--filter 0.01]
 *                  [--clusters 100] [--spread 4] [--intrinsic 32]
 *                  [--ef 32,64,128] [--nprobe 8,16,32] [--hnsw-m 32]
 *                  [--ef-construction 64] [--max-time 3] [--seed 1] [--json]
 *                  [--cache DIR]
 *
 * Data: N unit vectors (float32, dim DIM) around --clusters random unit
 * centres: x = normalise(c + spread * (0.8 * B_c z / sqrt(intrinsic) +
 * 0.2 * g / sqrt(dim))) where z ~ N(0, I_intrinsic) and B_c is a random
 * Gaussian basis of the cluster (so most of the noise lives in a
 * low-dimensional subspace per cluster, as with real text embeddings),
 * g ~ N(0, I_dim) (--intrinsic 0: isotropic noise only). Queries are fresh
 * points from the same model. Ids are the row numbers.
 *
 * For each N and kind it reports: build time (one call, all threads of the
 * largest --threads value), memory (the index's own estimate and the RSS
 * growth over the build), single-query latency p50/p95 (one query per call,
 * for each thread count, over at most --queries queries or --max-time
 * seconds), the same filtered to a random --filter fraction of the ids,
 * batch throughput (all queries in one call), and recall@10 against the
 * exact top-10 (computed with onc_vec_exact_topk) for plain and filtered
 * queries. --ef / --nprobe add rows for other efSearch / nprobe values on
 * the same HNSW / IVF index (one thread). --cache DIR saves each built index
 * (onc_vecindex_save, the build time and data parameters in the stamp) and
 * later runs with the same parameters load it instead of rebuilding (the
 * table then shows the recorded build time and a load time): a 1M-vector
 * HNSW build takes the better part of an hour on 2 cores. The machine is
 * shared: numbers are wall-clock and noisy; run twice and compare. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oncolm/rng.h"
#include "oncolm/vecindex.h"

enum { K = 10, MAXL = 16 };

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double rss_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
        fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static int parse_list(const char *s, long *out, int max) {
    int n = 0;
    char *copy = strdup(s);
    for (char *tok = strtok(copy, ","); tok && n < max; tok = strtok(NULL, ",")) out[n++] = atol(tok);
    free(copy);
    return n;
}

static double uniform(onc_rng *r) { return ((onc_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

/* Two standard normals per call (Box-Muller). */
static void gauss2(onc_rng *r, float *a, float *b) {
    double u = sqrt(-2.0 * log(uniform(r))), t = 6.283185307179586 * uniform(r);
    *a = (float)(u * cos(t));
    *b = (float)(u * sin(t));
}

static void fill_gauss(onc_rng *r, float *v, size_t n) {
    size_t i = 0;
    for (; i + 1 < n; i += 2) gauss2(r, v + i, v + i + 1);
    if (i < n) {
        float dummy;
        gauss2(r, v + i, &dummy);
    }
}

static void normalise(float *v, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)v[j] * v[j];
    float inv = (float)(1.0 / sqrt(s > 0 ? s : 1));
    for (int j = 0; j < d; j++) v[j] *= inv;
}

typedef struct model {
    int dim, nc, intr;
    double spread;
    float *centres; /* nc x dim */
    float *basis;   /* nc x intr x dim */
} model;

static void model_init(model *m, int dim, int nc, int intr, double spread, uint64_t seed) {
    onc_rng r;
    onc_rng_seed(&r, seed);
    m->dim = dim;
    m->nc = nc;
    m->intr = intr;
    m->spread = spread;
    m->centres = malloc((size_t)nc * dim * sizeof(float));
    fill_gauss(&r, m->centres, (size_t)nc * dim);
    for (int c = 0; c < nc; c++) normalise(m->centres + (size_t)c * dim, dim);
    m->basis = intr > 0 ? malloc((size_t)nc * intr * dim * sizeof(float)) : NULL;
    if (intr > 0) fill_gauss(&r, m->basis, (size_t)nc * intr * dim);
}

/* n points of the model into x (n x dim). */
static void model_sample(const model *m, float *x, int64_t n, uint64_t seed) {
    onc_rng r;
    onc_rng_seed(&r, seed);
    const int d = m->dim;
    float *g = malloc((size_t)d * sizeof(float));
    float z[256];
    const double wl = m->intr > 0 ? 0.8 : 0.0, wi = m->intr > 0 ? 0.2 : 1.0;
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(onc_rng_next(&r) % (uint64_t)m->nc);
        float *xi = x + i * d;
        memcpy(xi, m->centres + (size_t)c * d, (size_t)d * sizeof(float));
        fill_gauss(&r, g, (size_t)d);
        const float si = (float)(m->spread * wi / sqrt((double)d));
        for (int j = 0; j < d; j++) xi[j] += si * g[j];
        if (m->intr > 0) {
            fill_gauss(&r, z, (size_t)m->intr);
            const float sl = (float)(m->spread * wl / sqrt((double)m->intr * d));
            for (int t = 0; t < m->intr; t++) {
                const float *b = m->basis + ((size_t)c * m->intr + t) * d;
                const float w = sl * z[t];
                for (int j = 0; j < d; j++) xi[j] += w * b[j];
            }
        }
        normalise(xi, d);
    }
    free(g);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p) {
    if (n == 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)ceil(p * n) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static double recall(const int64_t *got, const int64_t *truth, int64_t nq) {
    int64_t hit = 0, tot = 0;
    for (int64_t q = 0; q < nq; q++)
        for (int j = 0; j < K; j++) {
            if (truth[q * K + j] < 0) continue;
            tot++;
            for (int a = 0; a < K; a++)
                if (got[q * K + a] == truth[q * K + j]) {
                    hit++;
                    break;
                }
        }
    return tot ? (double)hit / tot : 1;
}

typedef struct latency {
    double p50, p95; /* ms */
    int n;
} latency;

/* One query per call; stops after max_time seconds (at least 10 queries). */
static latency single_queries(const onc_vecindex *ix, int dim, const float *q, int64_t nq, const int64_t *allowed,
                              int64_t n_allowed, const onc_vec_search_opts *o, double max_time, int64_t *ids_out) {
    double *t = malloc((size_t)nq * sizeof *t);
    float s[K];
    int64_t id[K];
    onc_error err = {0};
    int n = 0;
    const double start = now();
    for (int64_t i = 0; i < nq; i++) {
        double t0 = now();
        onc_status st = allowed ? onc_vecindex_search_filtered(ix, dim, q + i * dim, 1, K, allowed, n_allowed, s, id, o, &err)
                                : onc_vecindex_search(ix, dim, q + i * dim, 1, K, s, id, o, &err);
        if (st != ONC_OK) {
            fprintf(stderr, "bench_vecindex: %s\n", err.msg);
            exit(1);
        }
        t[n++] = (now() - t0) * 1e3;
        if (ids_out) memcpy(ids_out + i * K, id, sizeof id);
        if (now() - start > max_time && n >= 10 && !ids_out) break;
    }
    latency l = {pct(t, n, 0.5), pct(t, n, 0.95), n};
    free(t);
    return l;
}

typedef struct opts_t {
    long ns[MAXL];
    int n_ns;
    int dim;
    onc_vec_kind kinds[4];
    int n_kinds;
    long threads[MAXL];
    int n_threads;
    int queries;
    double filter;
    int clusters, intrinsic;
    double spread;
    long efs[MAXL], nprobes[MAXL];
    int n_efs, n_nprobes;
    int hnsw_m, efc;
    double max_time;
    uint64_t seed;
    int json;
    const char *cache;
} opts_t;

int main(int argc, char **argv) {
    opts_t op = {.dim = 384, .queries = 200, .filter = 0.01, .clusters = 100, .intrinsic = 32, .spread = 4.0,
                 .hnsw_m = 0, .efc = 0, .max_time = 3.0, .seed = 1};
    op.n_ns = parse_list("100000,1000000", op.ns, MAXL);
    op.n_threads = parse_list("1,2", op.threads, MAXL);
    op.kinds[0] = ONC_VEC_EXACT;
    op.kinds[1] = ONC_VEC_HNSW;
    op.kinds[2] = ONC_VEC_IVF;
    op.n_kinds = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            op.json = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_vecindex: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--n")) op.n_ns = parse_list(v, op.ns, MAXL);
        else if (!strcmp(a, "--dim")) op.dim = atoi(v);
        else if (!strcmp(a, "--threads")) op.n_threads = parse_list(v, op.threads, MAXL);
        else if (!strcmp(a, "--queries")) op.queries = atoi(v);
        else if (!strcmp(a, "--filter")) op.filter = atof(v);
        else if (!strcmp(a, "--clusters")) op.clusters = atoi(v);
        else if (!strcmp(a, "--intrinsic")) op.intrinsic = atoi(v);
        else if (!strcmp(a, "--spread")) op.spread = atof(v);
        else if (!strcmp(a, "--ef")) op.n_efs = parse_list(v, op.efs, MAXL);
        else if (!strcmp(a, "--nprobe")) op.n_nprobes = parse_list(v, op.nprobes, MAXL);
        else if (!strcmp(a, "--hnsw-m")) op.hnsw_m = atoi(v);
        else if (!strcmp(a, "--ef-construction")) op.efc = atoi(v);
        else if (!strcmp(a, "--max-time")) op.max_time = atof(v);
        else if (!strcmp(a, "--seed")) op.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--cache")) op.cache = v;
        else if (!strcmp(a, "--kinds")) {
            op.n_kinds = 0;
            char *copy = strdup(v);
            onc_error err = {0};
            for (char *tok = strtok(copy, ","); tok && op.n_kinds < 4; tok = strtok(NULL, ","))
                if (onc_vec_kind_parse(tok, &op.kinds[op.n_kinds++], &err) != ONC_OK) {
                    fprintf(stderr, "bench_vecindex: %s\n", err.msg);
                    return 2;
                }
            free(copy);
        } else {
            fprintf(stderr, "bench_vecindex: unknown option %s\n", a);
            return 2;
        }
    }
    if (op.dim < 1 || op.queries < 1 || op.intrinsic > 256 || op.clusters < 1) {
        fprintf(stderr, "bench_vecindex: bad options\n");
        return 2;
    }
    int max_threads = 1;
    for (int t = 0; t < op.n_threads; t++)
        if (op.threads[t] > max_threads) max_threads = (int)op.threads[t];

    if (op.json) printf("{\"bench\":\"vecindex\",\"dim\":%d,\"k\":%d,\"clusters\":%d,\"intrinsic\":%d,\"spread\":%g,"
                        "\"filter\":%g,\"queries\":%d,\"results\":[",
                        op.dim, K, op.clusters, op.intrinsic, op.spread, op.filter, op.queries);
    else
        printf("# bench_vecindex: dim %d, k %d, %d clusters, intrinsic %d, spread %.2f, filter %.3g, %d queries\n"
               "# %-8s %-6s %-16s %8s %9s %9s | %-3s %9s %9s %9s %9s %9s | %7s %7s\n",
               op.dim, K, op.clusters, op.intrinsic, op.spread, op.filter, op.queries, "N", "kind", "params",
               "build_s", "index_MB", "rss_MB", "thr", "p50_ms", "p95_ms", "fp50_ms", "fp95_ms", "batch_qps",
               "rec@10", "frec@10");
    int first = 1;
    const int d = op.dim;
    model m;
    model_init(&m, d, op.clusters, op.intrinsic, op.spread, op.seed);
    for (int ni = 0; ni < op.n_ns; ni++) {
        const int64_t n = op.ns[ni];
        const int64_t nq = op.queries;
        float *x = malloc((size_t)n * d * sizeof(float));
        float *q = malloc((size_t)nq * d * sizeof(float));
        if (!x || !q) {
            fprintf(stderr, "bench_vecindex: cannot allocate %lld x %d floats\n", (long long)n, d);
            return 1;
        }
        double t0 = now();
        model_sample(&m, x, n, op.seed * 1000003 + (uint64_t)n);
        model_sample(&m, q, nq, op.seed * 7 + 12345);
        double gen_s = now() - t0;
        /* the filter: a random fraction of ids, sorted */
        onc_rng r;
        onc_rng_seed(&r, op.seed + 99);
        int64_t n_allowed = 0;
        int64_t *allowed = malloc((size_t)n * sizeof *allowed);
        for (int64_t i = 0; i < n; i++)
            if (uniform(&r) < op.filter) allowed[n_allowed++] = i;
        /* ground truth */
        int64_t *truth = malloc((size_t)nq * K * sizeof *truth), *ftruth = malloc((size_t)nq * K * sizeof *ftruth);
        float *ts = malloc((size_t)nq * K * sizeof *ts);
        int64_t *got = malloc((size_t)nq * K * sizeof *got);
        onc_error err = {0};
        t0 = now();
        if (onc_vec_exact_topk(x, n, d, NULL, NULL, 0, q, nq, K, ts, truth, &err) != ONC_OK ||
            onc_vec_exact_topk(x, n, d, NULL, allowed, n_allowed, q, nq, K, ts, ftruth, &err) != ONC_OK) {
            fprintf(stderr, "bench_vecindex: %s\n", err.msg);
            return 1;
        }
        double truth_s = now() - t0;
        if (!op.json)
            printf("# N=%lld: data generated in %.1f s, ground truth (onc_vec_exact_topk, %lld queries, plain + "
                   "filtered to %lld ids) in %.1f s\n",
                   (long long)n, gen_s, (long long)nq, (long long)n_allowed, truth_s);
        for (int ki = 0; ki < op.n_kinds; ki++) {
            onc_vec_params p;
            onc_vec_params_default(&p);
            p.kind = op.kinds[ki];
            if (op.hnsw_m) p.hnsw_m = op.hnsw_m;
            if (op.efc) p.hnsw_ef_construction = op.efc;
            p.n_threads = max_threads;
            p.seed = op.seed;
            const double rss0 = rss_mb();
            /* the cache file and the stamp that must match */
            char cpath[1024] = "", want[ONC_VEC_STAMP_MAX + 1], got_stamp[ONC_VEC_STAMP_MAX + 1];
            snprintf(want, sizeof want, "bench n=%lld dim=%d kind=%s m=%d efc=%d seed=%llu clusters=%d intr=%d spread=%g",
                     (long long)n, d, onc_vec_kind_name(p.kind), p.hnsw_m, p.hnsw_ef_construction,
                     (unsigned long long)op.seed, op.clusters, op.intrinsic, op.spread);
            if (op.cache)
                snprintf(cpath, sizeof cpath, "%s/bench_vecindex_%s_%lld_%d.faiss", op.cache,
                         onc_vec_kind_name(p.kind), (long long)n, d);
            onc_vecindex *ix = NULL;
            double build_s = -1, load_s = -1;
            if (op.cache && onc_vecindex_read_stamp(cpath, got_stamp, NULL, &err) == ONC_OK &&
                strncmp(got_stamp, want, strlen(want)) == 0 && sscanf(got_stamp + strlen(want), " build_s=%lf", &build_s) == 1) {
                t0 = now();
                ix = onc_vecindex_load(cpath, max_threads, &err);
                load_s = now() - t0;
                if (!ix) fprintf(stderr, "bench_vecindex: cached %s unusable (%s): rebuilding\n", cpath, err.msg);
            }
            if (!ix) {
                t0 = now();
                ix = onc_vecindex_build(d, x, NULL, n, &p, &err);
                build_s = now() - t0;
                if (!ix) {
                    fprintf(stderr, "bench_vecindex: %s\n", err.msg);
                    return 1;
                }
                if (op.cache) {
                    char stamp[ONC_VEC_STAMP_MAX + 1];
                    snprintf(stamp, sizeof stamp, "%.200s build_s=%.1f", want, build_s);
                    t0 = now();
                    if (onc_vecindex_save(ix, cpath, stamp, &err) != ONC_OK) fprintf(stderr, "bench_vecindex: %s\n", err.msg);
                    else if (!op.json) printf("# saved %s in %.1f s\n", cpath, now() - t0);
                }
            } else if (!op.json) {
                printf("# loaded %s in %.1f s (build time recorded when it was built)\n", cpath, load_s);
            }
            const double rss_grow = rss_mb() - rss0;
            onc_vec_info info;
            onc_vecindex_info(ix, &info);
            char params[64] = "-";
            if (info.kind == ONC_VEC_HNSW)
                snprintf(params, sizeof params, "M%d,efc%d,ef%d", info.hnsw_m, info.hnsw_ef_construction,
                         info.hnsw_ef_search);
            if (info.kind == ONC_VEC_IVF)
                snprintf(params, sizeof params, "nlist%d,np%d", info.ivf_nlist, info.ivf_nprobe);
            /* recall (one thread, batch, all queries) */
            onc_vec_search_opts o1 = {.n_threads = 1};
            if (onc_vecindex_search(ix, d, q, nq, K, ts, got, &o1, &err) != ONC_OK) return 1;
            const double rec = recall(got, truth, nq);
            if (onc_vecindex_search_filtered(ix, d, q, nq, K, allowed, n_allowed, ts, got, &o1, &err) != ONC_OK) return 1;
            const double frec = recall(got, ftruth, nq);
            for (int ti = 0; ti < op.n_threads; ti++) {
                onc_vec_search_opts o = {.n_threads = (int)op.threads[ti]};
                latency l = single_queries(ix, d, q, nq, NULL, 0, &o, op.max_time, NULL);
                latency fl = single_queries(ix, d, q, nq, allowed, n_allowed, &o, op.max_time, NULL);
                double b0 = now();
                if (onc_vecindex_search(ix, d, q, nq, K, ts, got, &o, &err) != ONC_OK) return 1;
                const double qps = nq / (now() - b0);
                if (op.json) {
                    printf("%s\n{\"n\":%lld,\"kind\":\"%s\",\"params\":\"%s\",\"build_s\":%.3f,\"load_s\":%.3f,\"index_mb\":%.1f,"
                           "\"rss_growth_mb\":%.1f,\"threads\":%ld,\"p50_ms\":%.4f,\"p95_ms\":%.4f,\"lat_queries\":%d,"
                           "\"filtered_p50_ms\":%.4f,\"filtered_p95_ms\":%.4f,\"filtered_ids\":%lld,\"batch_qps\":%.1f,"
                           "\"recall10\":%.4f,\"filtered_recall10\":%.4f}",
                           first ? "" : ",", (long long)n, onc_vec_kind_name(info.kind), params, build_s, load_s,
                           info.memory_bytes / 1048576.0, rss_grow, op.threads[ti], l.p50, l.p95, l.n, fl.p50, fl.p95,
                           (long long)n_allowed, qps, rec, frec);
                    first = 0;
                } else {
                    printf("  %-8lld %-6s %-16s %8.1f %9.0f %9.0f | %-3ld %9.3f %9.3f %9.3f %9.3f %9.0f | %7.3f %7.3f\n",
                           (long long)n, onc_vec_kind_name(info.kind), params, build_s, info.memory_bytes / 1048576.0,
                           rss_grow, op.threads[ti], l.p50, l.p95, fl.p50, fl.p95, qps, rec, frec);
                }
                fflush(stdout);
            }
            /* parameter sweeps, one thread */
            const int nsw = info.kind == ONC_VEC_HNSW ? op.n_efs : info.kind == ONC_VEC_IVF ? op.n_nprobes : 0;
            for (int s = 0; s < nsw; s++) {
                onc_vec_search_opts o = {.n_threads = 1};
                if (info.kind == ONC_VEC_HNSW) o.ef_search = (int)op.efs[s];
                else o.nprobe = (int)op.nprobes[s];
                latency l = single_queries(ix, d, q, nq, NULL, 0, &o, 1e30, got);
                const double srec = recall(got, truth, nq);
                latency fl = single_queries(ix, d, q, nq, allowed, n_allowed, &o, 1e30, got);
                const double sfrec = recall(got, ftruth, nq);
                char sp[64];
                snprintf(sp, sizeof sp, "%s=%ld", info.kind == ONC_VEC_HNSW ? "ef" : "nprobe",
                         info.kind == ONC_VEC_HNSW ? op.efs[s] : op.nprobes[s]);
                if (op.json) {
                    printf(",\n{\"n\":%lld,\"kind\":\"%s\",\"sweep\":\"%s\",\"threads\":1,\"p50_ms\":%.4f,"
                           "\"p95_ms\":%.4f,\"filtered_p50_ms\":%.4f,\"filtered_p95_ms\":%.4f,\"recall10\":%.4f,"
                           "\"filtered_recall10\":%.4f}",
                           (long long)n, onc_vec_kind_name(info.kind), sp, l.p50, l.p95, fl.p50, fl.p95, srec, sfrec);
                    first = 0;
                } else {
                    printf("  %-8lld %-6s %-16s %8s %9s %9s | %-3d %9.3f %9.3f %9.3f %9.3f %9s | %7.3f %7.3f\n",
                           (long long)n, onc_vec_kind_name(info.kind), sp, "", "", "", 1, l.p50, l.p95, fl.p50, fl.p95,
                           "", srec, sfrec);
                }
                fflush(stdout);
            }
            onc_vecindex_free(ix);
        }
        free(x);
        free(q);
        free(allowed);
        free(truth);
        free(ftruth);
        free(ts);
        free(got);
    }
    if (op.json) printf("\n]}\n");
    free(m.centres);
    free(m.basis);
    return 0;
}
