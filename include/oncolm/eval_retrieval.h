/* oncolm/eval_retrieval.h — retrieval evaluation identical to trec_eval.
 *
 * Reads relevance judgements (TREC qrels `qid iter docno rel`, or BEIR
 * `qrels/<split>.tsv` with a `query-id\tcorpus-id\tscore` header) and ranked runs
 * (TREC `qid iter docno rank sim run_id`), ranks every query as trec_eval
 * does, and computes per-query metrics under one of two conventions:
 *
 *   ONC_IR_TREC  trec_eval 9.0.x (what pytrec_eval embeds): ndcg_cut_k with
 *                linear gain = judged rel (negative rel -> 0), log2(i+2)
 *                discount and an ideal ranking of every judged rel > 0 doc;
 *                P_k = hits/k; recall_k = hits/num_rel (0 if none); map and
 *                map_cut_k divided by num_rel; recip_rank; success_k;
 *                plus MRR@k (recip_rank when the first relevant doc is in
 *                the top k, else 0). Queries in both files are evaluated
 *                (with `complete`, also qrels queries absent from the run,
 *                scoring 0: trec_eval -c).
 *   ONC_IR_ST    sentence-transformers InformationRetrievalEvaluator: binary
 *                relevance, queries without a relevant doc dropped, ndcg@k
 *                with IDCG = sum_{i<min(|R|,k)} 1/log2(i+2), MAP@k divided by
 *                min(k, |R|), MRR@k, precision@k, recall@k, accuracy@k.
 *
 * Ranking (both conventions): score descending, ties by docno descending
 * (strcmp(b, a) as trec_eval); the rank column is ignored. Scores are
 * rounded to float32 as trec_eval 9.0.x stores them, unless sim_double
 * (trec_eval 10.0). "Relevant" is rel >= rel_level (trec_eval -l, default 1).
 * docs/EVALUATION.md states every rule with its source.
 *
 * Errors name the file and line ("run.trec:17: expected 6 fields ...").
 * Duplicate docno within a query is an error in runs (trec_eval makes it
 * fatal) and in qrels (trec_eval would count it twice).
 *
 * Library code: never prints or exits. Objects are immutable after loading
 * and may be shared between threads; results belong to the caller. */
#ifndef ONCOLM_EVAL_RETRIEVAL_H
#define ONCOLM_EVAL_RETRIEVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- relevance judgements ------------------------------------------------------ */

typedef enum onc_qrels_format {
    ONC_QRELS_AUTO = 0, /* BEIR when the name ends in .tsv or the first line is the BEIR header, else TREC */
    ONC_QRELS_TREC = 1, /* qid iter docno rel, whitespace separated */
    ONC_QRELS_BEIR = 2, /* query-id<TAB>corpus-id<TAB>score, first line a header (skipped) */
} onc_qrels_format;

typedef struct onc_qrels onc_qrels;

/* Parse judgements from data[0..len) (need not be NUL-terminated; copied).
 * `name` is used in error messages ("qrels.tsv:3: ..."). CRLF line ends and
 * blank lines are accepted; rel must be an integer (negative allowed:
 * judged, never relevant, gain 0). A NUL byte, a wrong field count, an empty
 * id, a non-integer rel or a repeated (qid, docno) pair is ONC_ERR_FORMAT.
 * Returns NULL with err set on failure. */
onc_qrels *onc_qrels_parse(const char *data, size_t len, const char *name, onc_qrels_format fmt, onc_error *err);
/* Read and parse the file at path (ONC_ERR_IO when it cannot be read). */
onc_qrels *onc_qrels_load(const char *path, onc_qrels_format fmt, onc_error *err);
void onc_qrels_free(onc_qrels *q);

int64_t onc_qrels_n_queries(const onc_qrels *q);
int64_t onc_qrels_n_judgements(const onc_qrels *q);
/* i-th query id, in strcmp order, 0 <= i < n_queries. */
const char *onc_qrels_qid(const onc_qrels *q, int64_t i);
/* Judged relevance of (qid, docno): true with *rel set when judged. */
bool onc_qrels_get(const onc_qrels *q, const char *qid, const char *docno, int64_t *rel);

/* ---- runs -------------------------------------------------------------------------- */

typedef struct onc_run_opts {
    bool sim_double; /* keep scores as double (trec_eval 10.0) instead of float32 (9.0.x, default) */
} onc_run_opts;

typedef struct onc_run onc_run;

/* Parse a TREC run from data[0..len) (copied). Lines are `qid iter docno
 * rank sim run_id` (exactly 6 whitespace-separated fields; iter and rank
 * are not interpreted); sim must be a number (NaN rejected). CRLF and blank
 * lines accepted. A docno repeated within a query is ONC_ERR_FORMAT naming
 * both lines. Each query's documents are sorted by (sim desc, docno desc).
 * opts NULL = defaults. NULL with err set on failure. */
onc_run *onc_run_parse(const char *data, size_t len, const char *name, const onc_run_opts *opts, onc_error *err);
onc_run *onc_run_load(const char *path, const onc_run_opts *opts, onc_error *err);
void onc_run_free(onc_run *r);

/* run_id column of the first line ("" for an empty run). */
const char *onc_run_tag(const onc_run *r);
int64_t onc_run_n_lines(const onc_run *r);
int64_t onc_run_n_queries(const onc_run *r);
/* i-th query id, strcmp order. */
const char *onc_run_qid(const onc_run *r, int64_t i);
int64_t onc_run_n_docs(const onc_run *r, int64_t i);
/* Document at 0-based `rank` of query i in trec_eval order; *sim (may be
 * NULL) receives its score as stored (float32-rounded unless sim_double). */
const char *onc_run_docno(const onc_run *r, int64_t i, int64_t rank, double *sim);

/* ---- metrics ----------------------------------------------------------------------- */

typedef enum onc_ir_convention {
    ONC_IR_TREC = 0,
    ONC_IR_ST = 1,
} onc_ir_convention;

typedef enum onc_ir_metric {
    /* at every cutoff k */
    ONC_IR_NDCG = 0, /* trec ndcg_cut_k | st ndcg@k */
    ONC_IR_P,        /* trec P_k | st precision@k */
    ONC_IR_RECALL,   /* trec recall_k | st recall@k */
    ONC_IR_MRR,      /* MRR@k: trec recip_rank_cut_k (oncolm's name; not a trec_eval measure) | st mrr@k */
    ONC_IR_MAP_CUT,  /* trec map_cut_k (/ num_rel) | st map@k (/ min(k, |R|)) */
    ONC_IR_SUCCESS,  /* trec success_k | st accuracy@k: 1 when a relevant doc is in the top k */
    /* full depth (one value; the cutoff index is ignored) */
    ONC_IR_MAP,        /* trec map (st: same formula, binary relevance) */
    ONC_IR_RECIP_RANK, /* trec recip_rank */
    ONC_IR_N_METRICS
} onc_ir_metric;

#define ONC_IR_MAX_CUTOFFS 32

typedef struct onc_ir_params {
    onc_ir_convention convention;
    int64_t cutoffs[ONC_IR_MAX_CUTOFFS]; /* ascending, distinct, each >= 1 */
    size_t n_cutoffs;
    int64_t rel_level; /* relevant iff rel >= rel_level (>= 1; trec_eval -l) */
    bool complete;     /* trec_eval -c: qrels queries missing from the run score 0 */
} onc_ir_params;

/* trec, cutoffs 5,10,15,20,30,100,200,500,1000 (trec_eval's), rel_level 1,
 * not complete. */
void onc_ir_params_default(onc_ir_params *p);
/* Replace the cutoffs with a comma-separated list ("5,10,100"); sorted and
 * de-duplicated. ONC_ERR_INVALID on a bad or empty list or too many. */
onc_status onc_ir_parse_cutoffs(onc_ir_params *p, const char *list, onc_error *err);
/* Add one cutoff (keeping the list sorted and distinct); returns its index
 * via *index (may be NULL). ONC_ERR_INVALID when k < 1 or the list is full. */
onc_status onc_ir_add_cutoff(onc_ir_params *p, int64_t k, size_t *index, onc_error *err);
/* Index of cutoff k in p->cutoffs, or -1. */
int onc_ir_cutoff_index(const onc_ir_params *p, int64_t k);

/* Whether metric m has a cutoff. */
bool onc_ir_metric_has_cutoff(onc_ir_metric m);
/* Output name of metric m at cutoff k under a convention (e.g. trec
 * "ndcg_cut_10", "P_10", "recall_10", "recip_rank_cut_10", "map_cut_10",
 * "success_10", "map", "recip_rank"; st "ndcg@10", "precision@10",
 * "recall@10", "mrr@10", "map@10", "accuracy@10", "map", "recip_rank").
 * Writes at most cap bytes (NUL included); returns buf. */
const char *onc_ir_metric_name(onc_ir_convention c, onc_ir_metric m, int64_t k, char *buf, size_t cap);
/* Metric from a short name: ndcg, P|precision, recall, mrr, map_cut, success|accuracy, map, recip_rank.
 * -1 when unknown. */
int onc_ir_metric_parse(const char *s);

typedef struct onc_ir_query {
    const char *qid;
    bool in_run;         /* false: only in the qrels, evaluated because of `complete`; all zeros */
    int64_t num_ret;     /* documents the run returned for it */
    int64_t num_rel;     /* judged relevant (rel >= rel_level) */
    int64_t num_rel_ret; /* relevant among the returned */
} onc_ir_query;

typedef struct onc_ir_result onc_ir_result;

/* Evaluate `run` against `qrels` under p (NULL = defaults). Queries come out
 * in strcmp order of qid. Under trec: every qid in both (plus, if complete,
 * the qrels-only ones); under st the same set minus queries with no relevant
 * doc. NULL with err set on bad params (ONC_ERR_INVALID) or no memory. An
 * empty intersection is not an error (0 queries, means 0). */
onc_ir_result *onc_ir_evaluate(const onc_qrels *qrels, const onc_run *run, const onc_ir_params *p, onc_error *err);
void onc_ir_result_free(onc_ir_result *r);

const onc_ir_params *onc_ir_result_params(const onc_ir_result *r);
int64_t onc_ir_n_queries(const onc_ir_result *r);
const onc_ir_query *onc_ir_query_at(const onc_ir_result *r, int64_t i);
/* Index of qid among the evaluated queries, or -1. */
int64_t onc_ir_find_query(const onc_ir_result *r, const char *qid);
/* Value of metric m at cutoff index c (ignored for full-depth metrics) for
 * the i-th evaluated query. */
double onc_ir_value(const onc_ir_result *r, int64_t i, onc_ir_metric m, size_t c);
/* Mean over all evaluated queries (sum in query order / count; 0 when none). */
double onc_ir_mean(const onc_ir_result *r, onc_ir_metric m, size_t c);

/* ---- categories and per-category summaries ---------------------------------------- */

typedef struct onc_ir_categories onc_ir_categories;

/* Category of each query id from a BEIR queries.jsonl (one JSON object per
 * line: "_id" string or integer, "metadata": {"category": string}; lines
 * without a category are skipped; what `oncolm synth corpus` writes) or a
 * TSV of `qid<TAB>category` lines (a first line starting with `query-id`,
 * `qid` or `_id` is a header). JSONL when the first non-blank byte is '{'.
 * A qid given two different categories is ONC_ERR_FORMAT (file:line). */
onc_ir_categories *onc_ir_categories_parse(const char *data, size_t len, const char *name, onc_error *err);
onc_ir_categories *onc_ir_categories_load(const char *path, onc_error *err);
void onc_ir_categories_free(onc_ir_categories *c);
/* Category of qid, or NULL. */
const char *onc_ir_category_of(const onc_ir_categories *c, const char *qid);
int64_t onc_ir_categories_n_queries(const onc_ir_categories *c);

/* Name of the overall group and of the group of queries without category. */
#define ONC_IR_GROUP_ALL "all"
#define ONC_IR_GROUP_NONE "(none)"

typedef struct onc_ir_group {
    char *name;        /* "all", a category, or "(none)" */
    int64_t n_queries; /* evaluated queries in the group */
    double *means;     /* [ONC_IR_N_METRICS * n_cutoffs]: means[m * n_cutoffs + c] */
} onc_ir_group;

/* Means of every metric overall (group 0, "all") and per category (sorted
 * by name, then "(none)" for evaluated queries without a category, present
 * only when there are any). cats NULL: only "all". *n_groups receives the
 * count. NULL with err set when out of memory. */
onc_ir_group *onc_ir_summarize(const onc_ir_result *r, const onc_ir_categories *cats, size_t *n_groups,
                               onc_error *err);
void onc_ir_groups_free(onc_ir_group *g, size_t n_groups);

/* Paired per-query values of metric m at cutoff index c for the queries
 * evaluated in both a and b (same params required), restricted to
 * `category` when non-NULL (ONC_IR_GROUP_NONE = uncategorized; cats may be
 * NULL only when category is NULL), in qid order: *va, *vb malloc()ed (free
 * both), *n pairs (may be 0, then *va = *vb = NULL). ONC_ERR_INVALID when
 * the params differ; ONC_ERR_NOMEM. */
onc_status onc_ir_paired_values(const onc_ir_result *a, const onc_ir_result *b, onc_ir_metric m, size_t c,
                                const onc_ir_categories *cats, const char *category, double **va, double **vb,
                                size_t *n, onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_EVAL_RETRIEVAL_H */
