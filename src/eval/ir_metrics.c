/* ir_metrics.c — per-query retrieval metrics under the trec_eval and
 * sentence-transformers conventions, means, per-category summaries and
 * paired values (see oncolm/eval_retrieval.h; the formulas with their
 * sources are in docs/EVALUATION.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

struct onc_ir_result {
    onc_ir_params p;
    int64_t n;
    onc_ir_query *q;
    char *qid_store; /* the qids, NUL-separated */
    double *vals;    /* n * ONC_IR_N_METRICS * n_cutoffs */
};

/* ---- params and names ------------------------------------------------------------------- */

void onc_ir_params_default(onc_ir_params *p) {
    static const int64_t trec_cutoffs[] = {5, 10, 15, 20, 30, 100, 200, 500, 1000};
    memset(p, 0, sizeof *p);
    p->convention = ONC_IR_TREC;
    p->n_cutoffs = sizeof trec_cutoffs / sizeof trec_cutoffs[0];
    memcpy(p->cutoffs, trec_cutoffs, sizeof trec_cutoffs);
    p->rel_level = 1;
    p->complete = false;
}

int onc_ir_cutoff_index(const onc_ir_params *p, int64_t k) {
    for (size_t i = 0; i < p->n_cutoffs; i++)
        if (p->cutoffs[i] == k) return (int)i;
    return -1;
}

onc_status onc_ir_add_cutoff(onc_ir_params *p, int64_t k, size_t *index, onc_error *err) {
    if (k < 1 || k > 100000000) return onc_error_set(err, ONC_ERR_INVALID, "cutoff %lld must be in [1, 1e8]", (long long)k);
    size_t i = 0;
    while (i < p->n_cutoffs && p->cutoffs[i] < k) i++;
    if (i < p->n_cutoffs && p->cutoffs[i] == k) {
        if (index) *index = i;
        return ONC_OK;
    }
    if (p->n_cutoffs >= ONC_IR_MAX_CUTOFFS)
        return onc_error_set(err, ONC_ERR_INVALID, "at most %d cutoffs", ONC_IR_MAX_CUTOFFS);
    memmove(p->cutoffs + i + 1, p->cutoffs + i, (p->n_cutoffs - i) * sizeof *p->cutoffs);
    p->cutoffs[i] = k;
    p->n_cutoffs++;
    if (index) *index = i;
    return ONC_OK;
}

onc_status onc_ir_parse_cutoffs(onc_ir_params *p, const char *list, onc_error *err) {
    onc_ir_params tmp = *p;
    tmp.n_cutoffs = 0;
    const char *s = list;
    if (!s || !*s) return onc_error_set(err, ONC_ERR_INVALID, "empty cutoff list");
    while (*s) {
        char *end;
        const long long k = strtoll(s, &end, 10);
        if (end == s || (*end && *end != ','))
            return onc_error_set(err, ONC_ERR_INVALID, "bad cutoff list '%s' (expected e.g. 5,10,100)", list);
        onc_status st = onc_ir_add_cutoff(&tmp, k, NULL, err);
        if (st != ONC_OK) return st;
        s = *end ? end + 1 : end;
        if (*end && !*s) return onc_error_set(err, ONC_ERR_INVALID, "bad cutoff list '%s' (trailing comma)", list);
    }
    *p = tmp;
    return ONC_OK;
}

bool onc_ir_metric_has_cutoff(onc_ir_metric m) { return m < ONC_IR_MAP; }

const char *onc_ir_metric_name(onc_ir_convention c, onc_ir_metric m, int64_t k, char *buf, size_t cap) {
    static const char *const trec[] = {"ndcg_cut_", "P_", "recall_", "recip_rank_cut_", "map_cut_", "success_"};
    static const char *const st[] = {"ndcg@", "precision@", "recall@", "mrr@", "map@", "accuracy@"};
    if (m == ONC_IR_MAP) snprintf(buf, cap, "map");
    else if (m == ONC_IR_RECIP_RANK) snprintf(buf, cap, "recip_rank");
    else if ((unsigned)m < ONC_IR_MAP)
        snprintf(buf, cap, "%s%lld", c == ONC_IR_ST ? st[m] : trec[m], (long long)k);
    else snprintf(buf, cap, "?");
    return buf;
}

int onc_ir_metric_parse(const char *s) {
    static const struct {
        const char *name;
        onc_ir_metric m;
    } names[] = {{"ndcg", ONC_IR_NDCG},       {"P", ONC_IR_P},           {"precision", ONC_IR_P},
                 {"recall", ONC_IR_RECALL},   {"mrr", ONC_IR_MRR},       {"map_cut", ONC_IR_MAP_CUT},
                 {"success", ONC_IR_SUCCESS}, {"accuracy", ONC_IR_SUCCESS}, {"map", ONC_IR_MAP},
                 {"recip_rank", ONC_IR_RECIP_RANK}};
    if (!s) return -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) return (int)names[i].m;
    return -1;
}

/* ---- evaluation --------------------------------------------------------------------------- */

#define UNJUDGED INT64_MIN

static int cmp_i64_desc(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x > y ? -1 : x < y;
}

typedef struct eval_scratch {
    int64_t *rels;  /* relevance of each ranked doc (UNJUDGED when not judged) */
    int64_t *gains; /* judged rel > 0, descending */
    size_t cap_rels, cap_gains;
} eval_scratch;

/* Grow *p (capacity *cap) to hold need entries; false when out of memory. */
static bool scratch_reserve(int64_t **p, size_t *cap, size_t need) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    int64_t *np = realloc(*p, c * sizeof *np);
    if (!np) return false;
    *p = np;
    *cap = c;
    return true;
}

/* Metrics of one query. rels[0..num_ret) in rank order, gains[0..n_gains)
 * the judged positive relevances descending, num_rel the judged relevant
 * count. Writes v[m * nc + c]; returns nothing (pure arithmetic). */
static void query_metrics(const onc_ir_params *p, const int64_t *rels, int64_t num_ret, const int64_t *gains,
                          int64_t n_gains, int64_t num_rel, onc_ir_query *qo, double *v) {
    const size_t nc = p->n_cutoffs;
    const int64_t level = p->rel_level;
    const bool st = p->convention == ONC_IR_ST;
    double dcg = 0.0, sum_prec = 0.0;
    int64_t hits = 0, first_rel = 0;
    size_t ci = 0;
    /* state at each cutoff */
    for (int64_t i = 0; i <= num_ret; i++) {
        while (ci < nc && (i == p->cutoffs[ci] || i == num_ret)) {
            const int64_t k = p->cutoffs[ci];
            /* ideal DCG at k */
            double idcg = 0.0;
            if (st) {
                const int64_t lim = num_rel < k ? num_rel : k;
                for (int64_t r = 0; r < lim; r++) idcg += 1.0 / log2((double)(r + 2));
            } else {
                const int64_t lim = n_gains < k ? n_gains : k;
                for (int64_t r = 0; r < lim; r++) idcg += (double)gains[r] / log2((double)(r + 2));
            }
            v[ONC_IR_NDCG * nc + ci] = idcg > 0.0 ? dcg / idcg : 0.0;
            v[ONC_IR_P * nc + ci] = (double)hits / (double)k;
            v[ONC_IR_RECALL * nc + ci] = num_rel > 0 ? (double)hits / (double)num_rel : 0.0;
            v[ONC_IR_MRR * nc + ci] = first_rel > 0 && first_rel <= k ? 1.0 / (double)first_rel : 0.0;
            const int64_t map_div = st ? (num_rel < k ? num_rel : k) : num_rel;
            v[ONC_IR_MAP_CUT * nc + ci] = map_div > 0 ? sum_prec / (double)map_div : 0.0;
            v[ONC_IR_SUCCESS * nc + ci] = first_rel > 0 && first_rel <= k ? 1.0 : 0.0;
            ci++;
        }
        if (i == num_ret) break;
        const int64_t rel = rels[i];
        if (st) {
            if (rel != UNJUDGED && rel >= level) dcg += 1.0 / log2((double)(i + 2));
        } else if (rel != UNJUDGED && rel > 0) {
            dcg += (double)rel / log2((double)(i + 2)); /* trec_eval: gain = rel level, 0 for rel <= 0 */
        }
        if (rel != UNJUDGED && rel >= level) {
            hits++;
            sum_prec += (double)hits / (double)(i + 1);
            if (!first_rel) first_rel = i + 1;
        }
    }
    const double map = num_rel > 0 ? sum_prec / (double)num_rel : 0.0;
    const double rr = first_rel > 0 ? 1.0 / (double)first_rel : 0.0;
    for (size_t c = 0; c < nc; c++) {
        v[ONC_IR_MAP * nc + c] = map;
        v[ONC_IR_RECIP_RANK * nc + c] = rr;
    }
    qo->num_ret = num_ret;
    qo->num_rel = num_rel;
    qo->num_rel_ret = hits;
}

/* ONC_ERR_INVALID unless p has a known convention, 1..MAX ascending
 * distinct cutoffs >= 1 and a usable relevance level. */
static onc_status check_params(const onc_ir_params *p, onc_error *err) {
    if (p->convention != ONC_IR_TREC && p->convention != ONC_IR_ST)
        return onc_error_set(err, ONC_ERR_INVALID, "unknown convention %d", (int)p->convention);
    if (p->n_cutoffs < 1 || p->n_cutoffs > ONC_IR_MAX_CUTOFFS)
        return onc_error_set(err, ONC_ERR_INVALID, "need 1 to %d cutoffs, got %zu", ONC_IR_MAX_CUTOFFS, p->n_cutoffs);
    if (p->rel_level == INT64_MIN) return onc_error_set(err, ONC_ERR_INVALID, "relevance level out of range");
    for (size_t i = 0; i < p->n_cutoffs; i++)
        if (p->cutoffs[i] < 1 || (i > 0 && p->cutoffs[i] <= p->cutoffs[i - 1]))
            return onc_error_set(err, ONC_ERR_INVALID, "cutoffs must be >= 1, ascending and distinct");
    return ONC_OK;
}

typedef struct eval_pair {
    int64_t qq; /* qrels query index */
    int64_t rq; /* run query index, -1 when absent */
} eval_pair;

onc_ir_result *onc_ir_evaluate(const onc_qrels *qrels, const onc_run *run, const onc_ir_params *params,
                               onc_error *err) {
    onc_ir_params defp;
    if (!params) onc_ir_params_default(&defp), params = &defp;
    if (check_params(params, err) != ONC_OK) return NULL;
    const size_t nc = params->n_cutoffs, stride = ONC_IR_N_METRICS * nc;
    onc_ir_result *res = calloc(1, sizeof *res);
    eval_pair *pairs = malloc((size_t)(qrels->qids.n + 1) * sizeof *pairs);
    eval_scratch sc = {0};
    if (!res || !pairs) goto oom;
    res->p = *params;

    /* queries to evaluate, merged in strcmp order */
    int64_t np = 0, i = 0, j = 0;
    const int64_t nr = run->qids.n, nq = qrels->qids.n;
    while (i < nr || j < nq) {
        const int c = i >= nr ? 1
                      : j >= nq
                          ? -1
                          : strcmp(run->qids.strs[run->order[i]], qrels->qids.strs[qrels->order[j]]);
        if (c < 0) i++; /* only in the run: never evaluated */
        else if (c > 0) {
            if (params->complete) pairs[np++] = (eval_pair){qrels->order[j], -1};
            j++;
        } else {
            pairs[np++] = (eval_pair){qrels->order[j], run->order[i]};
            i++, j++;
        }
    }
    res->q = calloc((size_t)(np ? np : 1), sizeof *res->q);
    res->vals = calloc((size_t)(np ? np : 1) * stride, sizeof *res->vals);
    size_t store_len = 1;
    for (int64_t k = 0; k < np; k++) store_len += strlen(qrels->qids.strs[pairs[k].qq]) + 1;
    res->qid_store = malloc(store_len);
    if (!res->q || !res->vals || !res->qid_store) goto oom;
    char *sp = res->qid_store;
    int64_t n_out = 0;
    for (int64_t k = 0; k < np; k++) {
        const int64_t qq = pairs[k].qq, rq = pairs[k].rq;
        const int64_t j0 = qrels->q_start[qq], j1 = qrels->q_start[qq + 1];
        int64_t num_rel = 0, n_gains = 0;
        if (!scratch_reserve(&sc.gains, &sc.cap_gains, (size_t)(j1 - j0) + 1)) goto oom;
        for (int64_t t = j0; t < j1; t++) {
            const int64_t rel = qrels->j[qrels->by_q[t]].rel;
            if (rel >= params->rel_level) num_rel++;
            if (rel > 0) sc.gains[n_gains++] = rel;
        }
        if (params->convention == ONC_IR_ST && num_rel == 0) continue; /* sentence-transformers drops it */
        qsort(sc.gains, (size_t)n_gains, sizeof *sc.gains, cmp_i64_desc);
        int64_t num_ret = 0;
        if (rq >= 0) {
            const int64_t e0 = run->q_start[rq], e1 = run->q_start[rq + 1];
            num_ret = e1 - e0;
            if (!scratch_reserve(&sc.rels, &sc.cap_rels, (size_t)num_ret + 1)) goto oom;
            for (int64_t t = 0; t < num_ret; t++) {
                const int64_t qd = ir_strtab_find(&qrels->docs, run->e[e0 + t].docno);
                const int64_t jk = qd < 0 ? -1 : ir_u64map_get(&qrels->pairs, ir_pair_key(qq, qd));
                sc.rels[t] = jk < 0 ? UNJUDGED : qrels->j[jk].rel;
            }
        }
        onc_ir_query *qo = &res->q[n_out];
        const char *qid = qrels->qids.strs[qq];
        const size_t ql = strlen(qid) + 1;
        memcpy(sp, qid, ql);
        qo->qid = sp;
        sp += ql;
        qo->in_run = rq >= 0;
        query_metrics(params, sc.rels, num_ret, sc.gains, n_gains, num_rel, qo, res->vals + (size_t)n_out * stride);
        n_out++;
    }
    res->n = n_out;
    free(pairs), free(sc.rels), free(sc.gains);
    return res;
oom:
    free(pairs), free(sc.rels), free(sc.gains);
    onc_ir_result_free(res);
    onc_error_set(err, ONC_ERR_NOMEM, "retrieval evaluation: out of memory");
    return NULL;
}

void onc_ir_result_free(onc_ir_result *r) {
    if (!r) return;
    free(r->q);
    free(r->qid_store);
    free(r->vals);
    free(r);
}

const onc_ir_params *onc_ir_result_params(const onc_ir_result *r) { return &r->p; }
int64_t onc_ir_n_queries(const onc_ir_result *r) { return r->n; }

const onc_ir_query *onc_ir_query_at(const onc_ir_result *r, int64_t i) {
    ONC_ASSERT(i >= 0 && i < r->n);
    return &r->q[i];
}

int64_t onc_ir_find_query(const onc_ir_result *r, const char *qid) {
    int64_t lo = 0, hi = r->n - 1;
    while (lo <= hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        const int c = strcmp(r->q[mid].qid, qid);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

double onc_ir_value(const onc_ir_result *r, int64_t i, onc_ir_metric m, size_t c) {
    ONC_ASSERT(i >= 0 && i < r->n && (unsigned)m < ONC_IR_N_METRICS && c < r->p.n_cutoffs);
    return r->vals[(size_t)i * ONC_IR_N_METRICS * r->p.n_cutoffs + (size_t)m * r->p.n_cutoffs + c];
}

double onc_ir_mean(const onc_ir_result *r, onc_ir_metric m, size_t c) {
    if (r->n == 0) return 0.0;
    double s = 0.0;
    for (int64_t i = 0; i < r->n; i++) s += onc_ir_value(r, i, m, c);
    return s / (double)r->n;
}

/* ---- summaries ----------------------------------------------------------------------------- */

void onc_ir_groups_free(onc_ir_group *g, size_t n_groups) {
    if (!g) return;
    for (size_t i = 0; i < n_groups; i++) {
        free(g[i].name);
        free(g[i].means);
    }
    free(g);
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Group index of query i: 0 = no category ("(none)"), 1.. = names[k-1]. */
static size_t group_of(const onc_ir_result *r, int64_t i, const onc_ir_categories *cats, const char **names,
                       size_t n_names) {
    const char *c = cats ? onc_ir_category_of(cats, r->q[i].qid) : NULL;
    if (!c) return 0;
    const char **hit = bsearch(&c, names, n_names, sizeof *names, cmp_str_ptr);
    return hit ? (size_t)(hit - names) + 1 : 0;
}

onc_ir_group *onc_ir_summarize(const onc_ir_result *r, const onc_ir_categories *cats, size_t *n_groups,
                               onc_error *err) {
    const size_t nc = r->p.n_cutoffs, stride = ONC_IR_N_METRICS * nc;
    /* distinct category names among evaluated queries, sorted */
    const char **names = malloc((size_t)(r->n ? r->n : 1) * sizeof *names);
    if (!names) goto oom0;
    size_t n_names = 0;
    for (int64_t i = 0; cats && i < r->n; i++) {
        const char *c = onc_ir_category_of(cats, r->q[i].qid);
        if (c) names[n_names++] = c;
    }
    qsort(names, n_names, sizeof *names, cmp_str_ptr);
    size_t u = 0;
    for (size_t i = 0; i < n_names; i++)
        if (u == 0 || strcmp(names[u - 1], names[i])) names[u++] = names[i];
    n_names = u;
    /* per group: "(none)" at slot 0, categories 1..n_names */
    int64_t *count = calloc(n_names + 1, sizeof *count);
    double *sums = calloc((n_names + 1) * stride, sizeof *sums);
    onc_ir_group *g = calloc(n_names + 2, sizeof *g);
    if (!count || !sums || !g) {
        free(count), free(sums), free(g), free(names);
        goto oom0;
    }
    for (int64_t i = 0; i < r->n; i++) {
        const size_t k = group_of(r, i, cats, names, n_names);
        count[k]++;
        const double *v = r->vals + (size_t)i * stride;
        for (size_t t = 0; t < stride; t++) sums[k * stride + t] += v[t];
    }
    size_t ng = 0;
    /* "all": plain mean in query order (not a sum of group sums) */
    g[ng].name = strdup(ONC_IR_GROUP_ALL);
    g[ng].n_queries = r->n;
    g[ng].means = calloc(stride, sizeof *g[ng].means);
    if (!g[ng].name || !g[ng].means) goto oom;
    for (int64_t i = 0; i < r->n; i++)
        for (size_t t = 0; t < stride; t++) g[ng].means[t] += r->vals[(size_t)i * stride + t];
    for (size_t t = 0; t < stride && r->n; t++) g[ng].means[t] /= (double)r->n;
    ng++;
    for (size_t k = 1; k <= n_names + 1; k++) {
        const size_t slot = k == n_names + 1 ? 0 : k;
        if (count[slot] == 0 || (slot == 0 && !cats)) continue;
        g[ng].name = strdup(slot == 0 ? ONC_IR_GROUP_NONE : names[slot - 1]);
        g[ng].n_queries = count[slot];
        g[ng].means = malloc(stride * sizeof *g[ng].means);
        ng++;
        if (!g[ng - 1].name || !g[ng - 1].means) goto oom;
        for (size_t t = 0; t < stride; t++) g[ng - 1].means[t] = sums[slot * stride + t] / (double)count[slot];
    }
    free(count), free(sums), free(names);
    *n_groups = ng;
    return g;
oom:
    free(count), free(sums), free(names);
    onc_ir_groups_free(g, n_names + 2);
oom0:
    onc_error_set(err, ONC_ERR_NOMEM, "retrieval summary: out of memory");
    return NULL;
}

onc_status onc_ir_paired_values(const onc_ir_result *a, const onc_ir_result *b, onc_ir_metric m, size_t c,
                                const onc_ir_categories *cats, const char *category, double **va, double **vb,
                                size_t *n, onc_error *err) {
    *va = *vb = NULL;
    *n = 0;
    if (a->p.convention != b->p.convention || a->p.n_cutoffs != b->p.n_cutoffs || a->p.rel_level != b->p.rel_level ||
        memcmp(a->p.cutoffs, b->p.cutoffs, a->p.n_cutoffs * sizeof *a->p.cutoffs) != 0)
        return onc_error_set(err, ONC_ERR_INVALID, "paired values: the two results were computed with different settings");
    if ((unsigned)m >= ONC_IR_N_METRICS || c >= a->p.n_cutoffs)
        return onc_error_set(err, ONC_ERR_INVALID, "paired values: bad metric or cutoff index");
    if (category && !cats) return onc_error_set(err, ONC_ERR_INVALID, "paired values: a category needs categories");
    const int64_t cap = a->n < b->n ? a->n : b->n;
    double *x = malloc((size_t)(cap ? cap : 1) * sizeof *x);
    double *y = malloc((size_t)(cap ? cap : 1) * sizeof *y);
    if (!x || !y) {
        free(x), free(y);
        return onc_error_set(err, ONC_ERR_NOMEM, "paired values: out of memory");
    }
    size_t k = 0;
    for (int64_t i = 0, j = 0; i < a->n && j < b->n;) {
        const int cmp = strcmp(a->q[i].qid, b->q[j].qid);
        if (cmp < 0) i++;
        else if (cmp > 0) j++;
        else {
            bool keep = true;
            if (category) {
                const char *cat = onc_ir_category_of(cats, a->q[i].qid);
                keep = cat ? strcmp(cat, category) == 0 : strcmp(category, ONC_IR_GROUP_NONE) == 0;
            }
            if (keep) {
                x[k] = onc_ir_value(a, i, m, c);
                y[k] = onc_ir_value(b, j, m, c);
                k++;
            }
            i++, j++;
        }
    }
    if (k == 0) {
        free(x), free(y);
        return ONC_OK;
    }
    *va = x, *vb = y, *n = k;
    return ONC_OK;
}
