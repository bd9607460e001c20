/* trec_io.c — readers for TREC/BEIR relevance judgements and TREC runs
 * (see oncolm/eval_retrieval.h). Files are read whole and cut in place;
 * query ids and docnos are interned in hash tables, so a run of a million
 * lines loads in a fraction of a second. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

/* ---- qrels ------------------------------------------------------------------------------- */

void onc_qrels_free(onc_qrels *q) {
    if (!q) return;
    free(q->buf);
    ir_strtab_free(&q->qids);
    ir_strtab_free(&q->docs);
    ir_u64map_free(&q->pairs);
    free(q->j);
    free(q->by_q);
    free(q->q_start);
    free(q->order);
    free(q);
}

static bool ends_with(const char *s, const char *suffix) {
    const size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* BEIR or TREC from the name and the first non-blank line (not modified). */
static onc_qrels_format detect_qrels_format(const char *buf, size_t len, const char *name) {
    if (ends_with(name, ".tsv") || ends_with(name, ".TSV")) return ONC_QRELS_BEIR;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        const size_t e = nl ? (size_t)(nl - buf) : len;
        bool blank = true, tab = false;
        for (size_t k = i; k < e; k++) {
            if (buf[k] == '\t') tab = true;
            if (buf[k] != ' ' && buf[k] != '\t' && buf[k] != '\r') blank = false;
        }
        if (!blank) {
            if (e - i >= 8 && memcmp(buf + i, "query-id", 8) == 0) return ONC_QRELS_BEIR;
            if (!tab) return ONC_QRELS_TREC;
            int tabs = 0;
            for (size_t k = i; k < e; k++) tabs += buf[k] == '\t';
            return tabs == 2 ? ONC_QRELS_BEIR : ONC_QRELS_TREC;
        }
        i = e + 1;
    }
    return ONC_QRELS_TREC;
}

/* Group judgements by query (counting sort, file order kept within a
 * query) and sort the query ids. */
static onc_status qrels_index(onc_qrels *q, const char *name, onc_error *err) {
    const int64_t nq = q->qids.n;
    q->q_start = calloc((size_t)nq + 1, sizeof *q->q_start);
    q->by_q = malloc((size_t)(q->n_j ? q->n_j : 1) * sizeof *q->by_q);
    q->order = ir_sorted_order(&q->qids);
    if (!q->q_start || !q->by_q || !q->order)
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory indexing judgements", name);
    for (int64_t i = 0; i < q->n_j; i++) q->q_start[q->j[i].q + 1]++;
    for (int64_t k = 0; k < nq; k++) q->q_start[k + 1] += q->q_start[k];
    int64_t *fill = malloc((size_t)(nq ? nq : 1) * sizeof *fill);
    if (!fill) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory indexing judgements", name);
    memcpy(fill, q->q_start, (size_t)nq * sizeof *fill);
    for (int64_t i = 0; i < q->n_j; i++) q->by_q[fill[q->j[i].q]++] = i;
    free(fill);
    return ONC_OK;
}

/* Parse buf[0..len) (NUL-terminated, malloc()ed; ownership taken, freed
 * on failure). */
static onc_qrels *qrels_parse_owned(char *buf, size_t len, const char *name, onc_qrels_format fmt, onc_error *err) {
    int64_t *jline = NULL; /* line of each judgement, for duplicate messages */
    int64_t cap = 0;
    onc_qrels *q = calloc(1, sizeof *q);
    if (!q) {
        free(buf);
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
        return NULL;
    }
    q->buf = buf;
    ir_lines it;
    ir_lines_init(&it, q->buf, 0);
    if (ir_check_no_nul(q->buf, len, name, err) != ONC_OK) goto fail_j;
    if (fmt == ONC_QRELS_AUTO) fmt = detect_qrels_format(q->buf, len, name);
    ir_lines_init(&it, q->buf, len);
    bool first = true;
    int64_t last_q = -1;
    for (char *line; (line = ir_lines_next(&it));) {
        if (ir_blank(line)) continue;
        char *f[4];
        int nf;
        const char *qid, *doc, *rels;
        if (fmt == ONC_QRELS_BEIR) {
            const bool was_first = first;
            first = false;
            nf = ir_split_tab(line, f, 3);
            int64_t dummy;
            if (was_first && (nf != 3 || !ir_parse_i64(f[2], &dummy))) continue; /* header */
            if (nf != 3) {
                onc_error_set(err, ONC_ERR_FORMAT,
                              "%s:%lld: expected 3 tab-separated fields (query-id corpus-id score), got %d", name,
                              (long long)it.lineno, nf);
                goto fail_j;
            }
            qid = f[0], doc = f[1], rels = f[2];
        } else {
            nf = ir_split_ws(line, f, 4);
            if (nf != 4) {
                onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: expected 4 fields (qid iter docno rel), got %d", name,
                              (long long)it.lineno, nf);
                goto fail_j;
            }
            qid = f[0], doc = f[2], rels = f[3];
        }
        if (!*qid || !*doc) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: empty %s", name, (long long)it.lineno,
                          *qid ? "document id" : "query id");
            goto fail_j;
        }
        int64_t rel;
        if (!ir_parse_i64(rels, &rel)) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: relevance '%.40s' is not an integer", name,
                          (long long)it.lineno, rels);
            goto fail_j;
        }
        const int64_t qi = last_q >= 0 && !strcmp(q->qids.strs[last_q], qid) ? last_q
                                                                              : ir_strtab_intern(&q->qids, qid, NULL);
        last_q = qi;
        const int64_t di = qi < 0 ? -1 : ir_strtab_intern(&q->docs, doc, NULL);
        if (di < 0) goto oom_j;
        int64_t prev;
        const int put = ir_u64map_put(&q->pairs, ir_pair_key(qi, di), q->n_j, &prev);
        if (put < 0) goto oom_j;
        if (put == 0) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: document '%.60s' judged twice for query '%.60s' (also line %lld)",
                          name, (long long)it.lineno, doc, qid, (long long)jline[prev]);
            goto fail_j;
        }
        if (q->n_j == cap) {
            cap = cap ? 2 * cap : 1024;
            ir_judgement *nj = realloc(q->j, (size_t)cap * sizeof *nj);
            if (!nj) goto oom_j;
            q->j = nj;
            int64_t *nl = realloc(jline, (size_t)cap * sizeof *nl);
            if (!nl) goto oom_j;
            jline = nl;
        }
        q->j[q->n_j] = (ir_judgement){.q = (int32_t)qi, .d = (int32_t)di, .rel = rel};
        jline[q->n_j++] = it.lineno;
    }
    free(jline);
    jline = NULL;
    if (qrels_index(q, name, err) != ONC_OK) goto fail_j;
    return q;
oom_j:
    onc_error_set(err, ONC_ERR_NOMEM, "%s:%lld: out of memory", name, (long long)it.lineno);
fail_j:
    free(jline);
    onc_qrels_free(q);
    return NULL;
}

onc_qrels *onc_qrels_parse(const char *data, size_t len, const char *name, onc_qrels_format fmt, onc_error *err) {
    if (!name) name = "qrels";
    char *buf = ir_copy_buf(data, len);
    if (!buf) {
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
        return NULL;
    }
    return qrels_parse_owned(buf, len, name, fmt, err);
}

onc_qrels *onc_qrels_load(const char *path, onc_qrels_format fmt, onc_error *err) {
    size_t len;
    char *buf = ir_read_file(path, &len, err);
    return buf ? qrels_parse_owned(buf, len, path, fmt, err) : NULL;
}

int64_t onc_qrels_n_queries(const onc_qrels *q) { return q->qids.n; }
int64_t onc_qrels_n_judgements(const onc_qrels *q) { return q->n_j; }

const char *onc_qrels_qid(const onc_qrels *q, int64_t i) {
    ONC_ASSERT(i >= 0 && i < q->qids.n);
    return q->qids.strs[q->order[i]];
}

bool onc_qrels_get(const onc_qrels *q, const char *qid, const char *docno, int64_t *rel) {
    const int64_t qi = ir_strtab_find(&q->qids, qid);
    const int64_t di = qi < 0 ? -1 : ir_strtab_find(&q->docs, docno);
    const int64_t k = di < 0 ? -1 : ir_u64map_get(&q->pairs, ir_pair_key(qi, di));
    if (k < 0) return false;
    if (rel) *rel = q->j[k].rel;
    return true;
}

/* ---- runs -------------------------------------------------------------------------------- */

void onc_run_free(onc_run *r) {
    if (!r) return;
    free(r->buf);
    ir_strtab_free(&r->qids);
    free(r->e);
    free(r->q_start);
    free(r->order);
    free(r);
}

/* trec_eval's order: sim descending, then docno descending (strcmp(b, a)). */
static int cmp_rank(const void *a, const void *b) {
    const ir_run_doc *x = a, *y = b;
    if (x->sim > y->sim) return -1;
    if (x->sim < y->sim) return 1;
    return strcmp(y->docno, x->docno);
}

/* docno ascending, then line: puts repeated documents side by side. */
static int cmp_docno_line(const void *a, const void *b) {
    const ir_run_doc *x = a, *y = b;
    const int c = strcmp(x->docno, y->docno);
    if (c) return c;
    return x->line < y->line ? -1 : x->line > y->line;
}

typedef struct run_line {
    int32_t q;
    double sim;
    const char *docno;
    int64_t line;
} run_line;

/* Duplicate documents within each query (grouped entries of r): sorts a
 * copy of every group by docno and reports, among all repeats, the one
 * whose second occurrence comes first in the file. */
static onc_status run_check_duplicates(const onc_run *r, const char *name, onc_error *err) {
    int64_t max = 0;
    for (int64_t k = 0; k < r->qids.n; k++)
        if (r->q_start[k + 1] - r->q_start[k] > max) max = r->q_start[k + 1] - r->q_start[k];
    ir_run_doc *tmp = malloc((size_t)(max ? max : 1) * sizeof *tmp);
    if (!tmp) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
    int64_t best_line = -1, best_first = 0, best_q = 0;
    const char *best_doc = NULL;
    for (int64_t k = 0; k < r->qids.n; k++) {
        const int64_t m = r->q_start[k + 1] - r->q_start[k];
        memcpy(tmp, r->e + r->q_start[k], (size_t)m * sizeof *tmp);
        qsort(tmp, (size_t)m, sizeof *tmp, cmp_docno_line);
        for (int64_t i = 1; i < m; i++)
            if (!strcmp(tmp[i].docno, tmp[i - 1].docno) && (best_line < 0 || tmp[i].line < best_line)) {
                int64_t first = i - 1;
                while (first > 0 && !strcmp(tmp[first - 1].docno, tmp[i].docno)) first--;
                best_line = tmp[i].line, best_first = tmp[first].line, best_doc = tmp[i].docno, best_q = k;
            }
    }
    free(tmp);
    if (best_line < 0) return ONC_OK;
    return onc_error_set(err, ONC_ERR_FORMAT,
                         "%s:%lld: document '%.60s' retrieved twice for query '%.60s' (also line %lld); trec_eval "
                         "rejects duplicate documents",
                         name, (long long)best_line, best_doc, r->qids.strs[best_q], (long long)best_first);
}

/* Parse buf[0..len) (NUL-terminated, malloc()ed; ownership taken, freed
 * on failure). */
static onc_run *run_parse_owned(char *buf, size_t len, const char *name, const onc_run_opts *opts, onc_error *err) {
    onc_run *r = calloc(1, sizeof *r);
    if (!r) {
        free(buf);
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
        return NULL;
    }
    r->buf = buf;
    r->sim_double = opts && opts->sim_double;
    r->tag = "";
    run_line *lines = NULL;
    int64_t n = 0, cap = 0;
    int64_t last_q = -1;
    if (ir_check_no_nul(r->buf, len, name, err) != ONC_OK) goto fail;
    ir_lines it;
    ir_lines_init(&it, r->buf, len);
    for (char *line; (line = ir_lines_next(&it));) {
        if (ir_blank(line)) continue;
        char *f[6];
        const int nf = ir_split_ws(line, f, 6);
        if (nf != 6) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: expected 6 fields (qid iter docno rank sim run_id), got %d",
                          name, (long long)it.lineno, nf);
            goto fail;
        }
        char *end;
        double sim = strtod(f[4], &end);
        if (end == f[4] || *end) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: score '%.40s' is not a number", name, (long long)it.lineno,
                          f[4]);
            goto fail;
        }
        if (isnan(sim)) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: score is NaN", name, (long long)it.lineno);
            goto fail;
        }
        if (!r->sim_double) sim = (double)(float)sim; /* trec_eval 9.0.x: float sim = atof(...) */
        if (n == 0) r->tag = f[5];
        /* runs list a query's documents together: reuse the previous line's query */
        const int64_t qi = last_q >= 0 && !strcmp(r->qids.strs[last_q], f[0]) ? last_q
                                                                                : ir_strtab_intern(&r->qids, f[0], NULL);
        if (qi < 0) goto oom;
        last_q = qi;
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            run_line *nl = realloc(lines, (size_t)cap * sizeof *nl);
            if (!nl) goto oom;
            lines = nl;
        }
        lines[n++] = (run_line){.q = (int32_t)qi, .sim = sim, .docno = f[2], .line = it.lineno};
    }
    r->n_lines = n;
    /* group by query (file order kept), check duplicates, then rank each group */
    const int64_t nq = r->qids.n;
    r->q_start = calloc((size_t)nq + 1, sizeof *r->q_start);
    r->e = malloc((size_t)(n ? n : 1) * sizeof *r->e);
    r->order = ir_sorted_order(&r->qids);
    int64_t *fill = malloc((size_t)(nq ? nq : 1) * sizeof *fill);
    if (!r->q_start || !r->e || !r->order || !fill) {
        free(fill);
        goto oom;
    }
    for (int64_t i = 0; i < n; i++) r->q_start[lines[i].q + 1]++;
    for (int64_t k = 0; k < nq; k++) r->q_start[k + 1] += r->q_start[k];
    memcpy(fill, r->q_start, (size_t)nq * sizeof *fill);
    for (int64_t i = 0; i < n; i++) {
        const run_line *l = &lines[i];
        r->e[fill[l->q]++] = (ir_run_doc){.docno = l->docno, .sim = l->sim, .line = l->line};
    }
    free(fill);
    free(lines);
    lines = NULL;
    if (run_check_duplicates(r, name, err) != ONC_OK) goto fail;
    for (int64_t k = 0; k < nq; k++)
        qsort(r->e + r->q_start[k], (size_t)(r->q_start[k + 1] - r->q_start[k]), sizeof *r->e, cmp_rank);
    return r;
oom:
    onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
fail:
    free(lines);
    onc_run_free(r);
    return NULL;
}

onc_run *onc_run_parse(const char *data, size_t len, const char *name, const onc_run_opts *opts, onc_error *err) {
    if (!name) name = "run";
    char *buf = ir_copy_buf(data, len);
    if (!buf) {
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
        return NULL;
    }
    return run_parse_owned(buf, len, name, opts, err);
}

onc_run *onc_run_load(const char *path, const onc_run_opts *opts, onc_error *err) {
    size_t len;
    char *buf = ir_read_file(path, &len, err);
    return buf ? run_parse_owned(buf, len, path, opts, err) : NULL;
}

const char *onc_run_tag(const onc_run *r) { return r->tag; }
int64_t onc_run_n_lines(const onc_run *r) { return r->n_lines; }
int64_t onc_run_n_queries(const onc_run *r) { return r->qids.n; }

const char *onc_run_qid(const onc_run *r, int64_t i) {
    ONC_ASSERT(i >= 0 && i < r->qids.n);
    return r->qids.strs[r->order[i]];
}

int64_t onc_run_n_docs(const onc_run *r, int64_t i) {
    ONC_ASSERT(i >= 0 && i < r->qids.n);
    const int64_t k = r->order[i];
    return r->q_start[k + 1] - r->q_start[k];
}

const char *onc_run_docno(const onc_run *r, int64_t i, int64_t rank, double *sim) {
    ONC_ASSERT(i >= 0 && i < r->qids.n);
    const int64_t k = r->order[i];
    ONC_ASSERT(rank >= 0 && rank < r->q_start[k + 1] - r->q_start[k]);
    const ir_run_doc *d = &r->e[r->q_start[k] + rank];
    if (sim) *sim = d->sim;
    return d->docno;
}
