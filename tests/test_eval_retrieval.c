/* test_eval_retrieval.c — oncolm/eval_retrieval.h and oncolm/stats.h on
 * hand-computed cases (the arithmetic is in the comments):
 * - every metric (ndcg_cut, P, recall, MRR@k, map_cut, success, map,
 *   recip_rank) under trec_eval's and sentence-transformers' conventions;
 * - ranking: ties in score broken by docno descending; scores equal only in
 *   float32 (default) vs double (--sim-double); the rank column ignored;
 * - graded relevance, rel 0 and negative rel, relevance level 2, queries
 *   without relevant documents, queries only in one file, `complete`,
 *   cutoffs larger than the ranking, means;
 * - parsers: TREC and BEIR qrels (header, auto-detection), CRLF, blank
 *   lines, errors naming file:line (field counts, bad numbers, NaN,
 *   duplicate docno in a run or qrels, NUL bytes), files on disk;
 * - categories from JSONL and TSV, summaries per category, paired values;
 * - statistics: ranks, normal CDF, numpy-linear quantiles, the exact
 *   Wilcoxon distribution, Wilcoxon p-values against published textbook
 *   values (Darwin's Zea mays data as analysed by Fisher 1935; Hollander &
 *   Wolfe 1973) and hand-computed normal approximations (ties, zeros, each
 *   zero_method, continuity correction), the int(r+) truncation with ties,
 *   error cases; the paired bootstrap (reproducible, degenerate cases). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/eval_retrieval.h"
#include "oncolm/stats.h"

#define EPS 1e-12

static onc_qrels *qrels_of(const char *text) {
    onc_error err = {0};
    onc_qrels *q = onc_qrels_parse(text, strlen(text), "test.qrels", ONC_QRELS_AUTO, &err);
    if (!q) fprintf(stderr, "qrels: %s\n", err.msg);
    assert_non_null(q);
    return q;
}

static onc_run *run_of(const char *text, bool sim_double) {
    onc_error err = {0};
    onc_run_opts o = {.sim_double = sim_double};
    onc_run *r = onc_run_parse(text, strlen(text), "test.run", &o, &err);
    if (!r) fprintf(stderr, "run: %s\n", err.msg);
    assert_non_null(r);
    return r;
}

static onc_ir_params params(onc_ir_convention c, const char *cutoffs) {
    onc_ir_params p;
    onc_ir_params_default(&p);
    p.convention = c;
    onc_error err = {0};
    assert_int_equal(onc_ir_parse_cutoffs(&p, cutoffs, &err), ONC_OK);
    return p;
}

/* value of metric m at cutoff k for query qid */
static double val(const onc_ir_result *r, const char *qid, onc_ir_metric m, int64_t k) {
    const int64_t i = onc_ir_find_query(r, qid);
    assert_true(i >= 0);
    const int c = onc_ir_metric_has_cutoff(m) ? onc_ir_cutoff_index(onc_ir_result_params(r), k) : 0;
    assert_true(c >= 0);
    return onc_ir_value(r, i, m, (size_t)c);
}

#define NEAR(a, b) assert_true(fabs((a) - (b)) <= EPS * (1 + fabs(b)))

/* Case A: graded judgements of q1: d1=2, d2=1, d3=0, d4=1, d5=-1.
 * Run scores d3 .9, d1 .8, d6 .7 (unjudged), d2 .6, d5 .5 (the rank column
 * is deliberately wrong: ignored). Ranked: d3(0) d1(2) d6(-) d2(1) d5(-1).
 * Relevant (rel >= 1): d1, d2, d4 -> num_rel 3; retrieved at ranks 2 and 4. */
static const char *qrels_a = "q1 0 d1 2\nq1 0 d2 1\nq1 0 d3 0\nq1 0 d4 1\nq1 0 d5 -1\n";
static const char *run_a = "q1 Q0 d3 5 0.9 r\nq1 Q0 d1 4 0.8 r\nq1 Q0 d6 3 0.7 r\nq1 Q0 d2 2 0.6 r\n"
                           "q1 Q0 d5 1 0.5 r\n";

static void test_trec_metrics(void **state) {
    (void)state;
    onc_qrels *q = qrels_of(qrels_a);
    onc_run *r = run_of(run_a, false);
    onc_ir_params p = params(ONC_IR_TREC, "1,2,5,10");
    onc_error err = {0};
    onc_ir_result *res = onc_ir_evaluate(q, r, &p, &err);
    assert_non_null(res);
    assert_int_equal(onc_ir_n_queries(res), 1);
    const onc_ir_query *qq = onc_ir_query_at(res, 0);
    assert_string_equal(qq->qid, "q1");
    assert_int_equal(qq->num_ret, 5);
    assert_int_equal(qq->num_rel, 3);
    assert_int_equal(qq->num_rel_ret, 2);
    assert_true(qq->in_run);
    /* P_k = hits in top k / k: P1 = 0/1, P2 = 1/2, P5 = 2/5, P10 = 2/10 (missing ranks are nonrelevant) */
    NEAR(val(res, "q1", ONC_IR_P, 1), 0.0);
    NEAR(val(res, "q1", ONC_IR_P, 2), 0.5);
    NEAR(val(res, "q1", ONC_IR_P, 5), 0.4);
    NEAR(val(res, "q1", ONC_IR_P, 10), 0.2);
    /* recall_k = hits / num_rel: 0, 1/3, 2/3, 2/3 (d4 never retrieved) */
    NEAR(val(res, "q1", ONC_IR_RECALL, 1), 0.0);
    NEAR(val(res, "q1", ONC_IR_RECALL, 2), 1.0 / 3);
    NEAR(val(res, "q1", ONC_IR_RECALL, 5), 2.0 / 3);
    /* map = (1/2 + 2/4) / 3 = 1/3; map_cut_2 = (1/2) / 3 = 1/6; map_cut_1 = 0 */
    NEAR(val(res, "q1", ONC_IR_MAP, 0), 1.0 / 3);
    NEAR(val(res, "q1", ONC_IR_MAP_CUT, 2), 1.0 / 6);
    NEAR(val(res, "q1", ONC_IR_MAP_CUT, 1), 0.0);
    NEAR(val(res, "q1", ONC_IR_MAP_CUT, 10), 1.0 / 3);
    /* recip_rank = 1/2; MRR@1 = 0 (first relevant at rank 2 > 1), MRR@2 = 1/2; success likewise 0, 1 */
    NEAR(val(res, "q1", ONC_IR_RECIP_RANK, 0), 0.5);
    NEAR(val(res, "q1", ONC_IR_MRR, 1), 0.0);
    NEAR(val(res, "q1", ONC_IR_MRR, 2), 0.5);
    NEAR(val(res, "q1", ONC_IR_SUCCESS, 1), 0.0);
    NEAR(val(res, "q1", ONC_IR_SUCCESS, 2), 1.0);
    /* ndcg (gain = rel, d5's -1 -> 0, d6 unjudged -> 0; discount log2(i+2)):
     *   DCG@5 = 0/log2 2 + 2/log2 3 + 0/log2 4 + 1/log2 5 + 0 = 1.26185951 + 0.43067656 = 1.69253607
     *   ideal gains 2,1,1 (every judged rel > 0, d4 included although never retrieved):
     *   IDCG@5 = 2/1 + 1/log2 3 + 1/log2 4 = 2 + 0.63092975 + 0.5 = 3.13092975
     *   ndcg_cut_5 = 1.69253607/3.13092975 = 0.54058577; ndcg_cut_2 = (2/log2 3) / (2 + 1/log2 3) = 1.26185951/2.63092975 = 0.47962...;
     *   ndcg_cut_1 = 0 / 2 = 0; ndcg_cut_10 = ndcg_cut_5 (ranking and ideal both exhausted) */
    const double dcg5 = 2 / log2(3.0) + 1 / log2(5.0), idcg5 = 2 + 1 / log2(3.0) + 0.5;
    NEAR(val(res, "q1", ONC_IR_NDCG, 5), dcg5 / idcg5);
    assert_true(fabs(val(res, "q1", ONC_IR_NDCG, 5) - 0.5405858) < 1e-6);
    NEAR(val(res, "q1", ONC_IR_NDCG, 2), (2 / log2(3.0)) / (2 + 1 / log2(3.0)));
    assert_true(fabs(val(res, "q1", ONC_IR_NDCG, 2) - 0.4796251) < 1e-6);
    NEAR(val(res, "q1", ONC_IR_NDCG, 1), 0.0);
    NEAR(val(res, "q1", ONC_IR_NDCG, 10), dcg5 / idcg5);
    onc_ir_result_free(res);

    /* relevance level 2 (trec_eval -l2): only d1 relevant -> num_rel 1, hit at rank 2:
     * P2 = 1/2, recall_2 = 1, map = (1/2)/1 = 0.5; ndcg unchanged (gains do not depend on -l) */
    p.rel_level = 2;
    res = onc_ir_evaluate(q, r, &p, &err);
    assert_non_null(res);
    assert_int_equal(onc_ir_query_at(res, 0)->num_rel, 1);
    NEAR(val(res, "q1", ONC_IR_P, 2), 0.5);
    NEAR(val(res, "q1", ONC_IR_RECALL, 2), 1.0);
    NEAR(val(res, "q1", ONC_IR_MAP, 0), 0.5);
    NEAR(val(res, "q1", ONC_IR_NDCG, 5), dcg5 / idcg5);
    onc_ir_result_free(res);
    onc_run_free(r);
    onc_qrels_free(q);
}

static void test_st_metrics(void **state) {
    (void)state;
    onc_qrels *q = qrels_of(qrels_a);
    onc_run *r = run_of(run_a, false);
    onc_ir_params p = params(ONC_IR_ST, "1,2,5,10");
    onc_error err = {0};
    onc_ir_result *res = onc_ir_evaluate(q, r, &p, &err);
    assert_non_null(res);
    /* binary relevance R = {d1, d2, d4}, |R| = 3; hits at ranks 2 and 4.
     * ndcg@5 = (1/log2 3 + 1/log2 5) / (1/log2 2 + 1/log2 3 + 1/log2 4)
     *        = (0.63092975 + 0.43067656) / (1 + 0.63092975 + 0.5) = 1.06160631/2.13092975 = 0.49818926
     * ndcg@2 = (1/log2 3) / (1 + 1/log2 3) = 0.38685...  (IDCG over min(|R|, k) = 2 ranks)
     * ndcg@1 = 0 / 1 = 0 */
    NEAR(val(res, "q1", ONC_IR_NDCG, 5), (1 / log2(3.0) + 1 / log2(5.0)) / (1 + 1 / log2(3.0) + 0.5));
    assert_true(fabs(val(res, "q1", ONC_IR_NDCG, 5) - 0.4981893) < 1e-6);
    NEAR(val(res, "q1", ONC_IR_NDCG, 2), (1 / log2(3.0)) / (1 + 1 / log2(3.0)));
    NEAR(val(res, "q1", ONC_IR_NDCG, 1), 0.0);
    /* map@k divides by min(k, |R|): map@1 = 0/1, map@2 = (1/2)/2 = 0.25, map@5 = (1/2 + 2/4)/3 = 1/3 */
    NEAR(val(res, "q1", ONC_IR_MAP_CUT, 1), 0.0);
    NEAR(val(res, "q1", ONC_IR_MAP_CUT, 2), 0.25);
    NEAR(val(res, "q1", ONC_IR_MAP_CUT, 5), 1.0 / 3);
    /* precision@5 = 2/5, recall@5 = 2/3, mrr@1 = 0, mrr@2 = 1/2, accuracy@1 = 0, accuracy@2 = 1 */
    NEAR(val(res, "q1", ONC_IR_P, 5), 0.4);
    NEAR(val(res, "q1", ONC_IR_RECALL, 5), 2.0 / 3);
    NEAR(val(res, "q1", ONC_IR_MRR, 1), 0.0);
    NEAR(val(res, "q1", ONC_IR_MRR, 2), 0.5);
    NEAR(val(res, "q1", ONC_IR_SUCCESS, 1), 0.0);
    NEAR(val(res, "q1", ONC_IR_SUCCESS, 2), 1.0);
    onc_ir_result_free(res);
    onc_run_free(r);
    onc_qrels_free(q);
}

/* Ties: dA, dB, dC all 1.0 -> trec_eval order docno descending: dC, dB, dA.
 * Float32: dP 0.5000000001 vs dQ 0.5 are equal in float32 (0.5) -> tie ->
 * docno descending puts dQ first; as doubles dP (higher) comes first. */
static void test_ties(void **state) {
    (void)state;
    onc_qrels *q = qrels_of("t1 0 dA 1\nt2 0 dP 1\n");
    const char *text = "t1 Q0 dA 1 1.0 r\nt1 Q0 dC 2 1.0 r\nt1 Q0 dB 3 1 r\n"
                       "t2 Q0 dP 1 0.5000000001 r\nt2 Q0 dQ 2 0.5 r\n";
    onc_run *rf = run_of(text, false), *rd = run_of(text, true);
    assert_int_equal(onc_run_n_queries(rf), 2);
    assert_string_equal(onc_run_qid(rf, 0), "t1");
    assert_string_equal(onc_run_docno(rf, 0, 0, NULL), "dC");
    assert_string_equal(onc_run_docno(rf, 0, 1, NULL), "dB");
    assert_string_equal(onc_run_docno(rf, 0, 2, NULL), "dA");
    double s1, s2;
    assert_string_equal(onc_run_docno(rf, 1, 0, &s1), "dQ");
    assert_string_equal(onc_run_docno(rf, 1, 1, &s2), "dP");
    assert_true(s1 == 0.5 && s2 == 0.5);
    assert_string_equal(onc_run_docno(rd, 1, 0, &s1), "dP");
    assert_true(s1 > 0.5);
    onc_ir_params p = params(ONC_IR_TREC, "10");
    onc_error err = {0};
    onc_ir_result *a = onc_ir_evaluate(q, rf, &p, &err), *b = onc_ir_evaluate(q, rd, &p, &err);
    assert_non_null(a);
    assert_non_null(b);
    /* t1: relevant dA at rank 3 -> recip_rank 1/3, ndcg = (1/log2 4)/1 = 0.5 */
    NEAR(val(a, "t1", ONC_IR_RECIP_RANK, 0), 1.0 / 3);
    NEAR(val(a, "t1", ONC_IR_NDCG, 10), 0.5);
    /* t2: float32 -> dP at rank 2 (rr 1/2, ndcg 1/log2 3 = 0.6309...); double -> rank 1 (rr 1, ndcg 1) */
    NEAR(val(a, "t2", ONC_IR_RECIP_RANK, 0), 0.5);
    NEAR(val(a, "t2", ONC_IR_NDCG, 10), 1 / log2(3.0));
    NEAR(val(b, "t2", ONC_IR_RECIP_RANK, 0), 1.0);
    NEAR(val(b, "t2", ONC_IR_NDCG, 10), 1.0);
    onc_ir_result_free(a);
    onc_ir_result_free(b);
    onc_run_free(rf);
    onc_run_free(rd);
    onc_qrels_free(q);
}

/* Query sets: qA judged (rel 1 on x), qB judged with rel 0 only (no relevant
 * doc), qC only in the qrels, qD only in the run. */
static void test_query_sets(void **state) {
    (void)state;
    onc_qrels *q = qrels_of("qA 0 x 1\nqB 0 y 0\nqC 0 z 2\n");
    onc_run *r = run_of("qA Q0 w 1 2 r\nqA Q0 x 2 1 r\nqB Q0 y 1 1 r\nqD Q0 x 1 1 r\n", false);
    onc_ir_params p = params(ONC_IR_TREC, "1,10");
    onc_error err = {0};
    onc_ir_result *res = onc_ir_evaluate(q, r, &p, &err);
    assert_non_null(res);
    /* trec: qA and qB evaluated (qB all zeros: recall 0, ndcg 0 as IDCG = 0), qC and qD not */
    assert_int_equal(onc_ir_n_queries(res), 2);
    assert_int_equal(onc_ir_find_query(res, "qC"), -1);
    assert_int_equal(onc_ir_find_query(res, "qD"), -1);
    NEAR(val(res, "qB", ONC_IR_RECALL, 10), 0.0);
    NEAR(val(res, "qB", ONC_IR_NDCG, 10), 0.0);
    NEAR(val(res, "qB", ONC_IR_MAP, 0), 0.0);
    /* qA: x at rank 2 -> P_10 = 1/10 (k beyond the 2 retrieved), map = 1/2, ndcg_10 = (1/log2 3)/1 */
    NEAR(val(res, "qA", ONC_IR_P, 10), 0.1);
    NEAR(val(res, "qA", ONC_IR_MAP, 0), 0.5);
    NEAR(val(res, "qA", ONC_IR_NDCG, 10), 1 / log2(3.0));
    /* means over the 2 evaluated queries: map (0.5 + 0)/2 = 0.25; P_10 (0.1 + 0)/2 = 0.05 */
    NEAR(onc_ir_mean(res, ONC_IR_MAP, 0), 0.25);
    NEAR(onc_ir_mean(res, ONC_IR_P, (size_t)onc_ir_cutoff_index(&p, 10)), 0.05);
    onc_ir_result_free(res);

    /* complete (trec_eval -c): qC counts with zeros, not in the run; map mean (0.5 + 0 + 0)/3 */
    p.complete = true;
    res = onc_ir_evaluate(q, r, &p, &err);
    assert_non_null(res);
    assert_int_equal(onc_ir_n_queries(res), 3);
    const int64_t ic = onc_ir_find_query(res, "qC");
    assert_true(ic >= 0);
    assert_false(onc_ir_query_at(res, ic)->in_run);
    assert_int_equal(onc_ir_query_at(res, ic)->num_rel, 1);
    assert_int_equal(onc_ir_query_at(res, ic)->num_ret, 0);
    NEAR(onc_ir_mean(res, ONC_IR_MAP, 0), 0.5 / 3);
    onc_ir_result_free(res);

    /* st: qB dropped (no relevant doc); with complete qC kept (it has one) -> qA, qC */
    p = params(ONC_IR_ST, "1,10");
    res = onc_ir_evaluate(q, r, &p, &err);
    assert_int_equal(onc_ir_n_queries(res), 1);
    assert_string_equal(onc_ir_query_at(res, 0)->qid, "qA");
    onc_ir_result_free(res);
    p.complete = true;
    res = onc_ir_evaluate(q, r, &p, &err);
    assert_int_equal(onc_ir_n_queries(res), 2);
    assert_true(onc_ir_find_query(res, "qC") >= 0);
    onc_ir_result_free(res);

    /* no common query: 0 evaluated, means 0, not an error */
    onc_run *other = run_of("zz Q0 x 1 1 r\n", false);
    p = params(ONC_IR_TREC, "10");
    res = onc_ir_evaluate(q, other, &p, &err);
    assert_non_null(res);
    assert_int_equal(onc_ir_n_queries(res), 0);
    NEAR(onc_ir_mean(res, ONC_IR_NDCG, 0), 0.0);
    onc_ir_result_free(res);
    onc_run_free(other);
    onc_run_free(r);
    onc_qrels_free(q);
}

/* Graded ideal: judged rels 3, 0, 2 (one doc retrieved, rel 2 at rank 1).
 * DCG@2 = 2/log2 2 = 2; IDCG@2 = 3/1 + 2/log2 3 = 3 + 1.26185951 = 4.26185951 -> 0.46927873
 * IDCG@1 = 3 -> ndcg_cut_1 = 2/3. */
static void test_graded_ideal(void **state) {
    (void)state;
    onc_qrels *q = qrels_of("g 0 a 3\ng 0 b 0\ng 0 c 2\n");
    onc_run *r = run_of("g Q0 c 1 1 r\n", false);
    onc_ir_params p = params(ONC_IR_TREC, "1,2");
    onc_error err = {0};
    onc_ir_result *res = onc_ir_evaluate(q, r, &p, &err);
    NEAR(val(res, "g", ONC_IR_NDCG, 1), 2.0 / 3);
    NEAR(val(res, "g", ONC_IR_NDCG, 2), 2 / (3 + 2 / log2(3.0)));
    assert_true(fabs(val(res, "g", ONC_IR_NDCG, 2) - 0.4692787) < 1e-6);
    onc_ir_result_free(res);
    onc_run_free(r);
    onc_qrels_free(q);
}

static void expect_run_error(const char *text, const char *needle) {
    onc_error err = {0};
    onc_run *r = onc_run_parse(text, strlen(text), "run.trec", NULL, &err);
    assert_null(r);
    assert_int_equal(err.code, ONC_ERR_FORMAT);
    if (!strstr(err.msg, needle)) fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, needle);
    assert_non_null(strstr(err.msg, needle));
}

static void expect_qrels_error(const char *text, onc_qrels_format fmt, const char *needle) {
    onc_error err = {0};
    onc_qrels *q = onc_qrels_parse(text, strlen(text), "q.txt", fmt, &err);
    assert_null(q);
    assert_int_equal(err.code, ONC_ERR_FORMAT);
    if (!strstr(err.msg, needle)) fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, needle);
    assert_non_null(strstr(err.msg, needle));
}

static void test_parse_errors(void **state) {
    (void)state;
    expect_run_error("q Q0 d 1 1 r\nq Q0 e 1 1\n", "run.trec:2: expected 6 fields");
    expect_run_error("q Q0 d 1 1 r x\n", "run.trec:1: expected 6 fields");
    expect_run_error("q Q0 d 1 abc r\n", "run.trec:1: score 'abc' is not a number");
    expect_run_error("q Q0 d 1 1.5x r\n", "is not a number");
    expect_run_error("\n\nq Q0 d 1 nan r\n", "run.trec:3: score is NaN");
    expect_run_error("q Q0 d 1 2 r\nq Q0 e 2 1 r\nq Q0 d 3 0 r\n", "run.trec:3: document 'd' retrieved twice for query 'q' (also line 1)");
    {
        static const char nul[] = "q Q0 d 1 2 r\nq Q0 e\0 2 1 r\n";
        onc_error err = {0};
        assert_null(onc_run_parse(nul, sizeof nul - 1, "run.trec", NULL, &err));
        assert_non_null(strstr(err.msg, "run.trec:2: NUL byte"));
    }
    expect_qrels_error("q 0 d 1\nq 0 e\n", ONC_QRELS_TREC, "q.txt:2: expected 4 fields");
    expect_qrels_error("q 0 d 1.5\n", ONC_QRELS_TREC, "q.txt:1: relevance '1.5' is not an integer");
    expect_qrels_error("q 0 d 1\nq 0 d 2\n", ONC_QRELS_TREC, "q.txt:2: document 'd' judged twice for query 'q' (also line 1)");
    expect_qrels_error("query-id\tcorpus-id\tscore\nq\td\n", ONC_QRELS_BEIR, "q.txt:2: expected 3 tab-separated fields");
    expect_qrels_error("query-id\tcorpus-id\tscore\n\td\t1\n", ONC_QRELS_BEIR, "q.txt:2: empty query id");
    /* the same pair in two queries is fine; the same docno in two queries of a run too */
    onc_qrels *q = qrels_of("a 0 d 1\nb 0 d 1\n");
    onc_qrels_free(q);
    onc_run *r = run_of("a Q0 d 1 1 r\nb Q0 d 1 1 r\n", false);
    onc_run_free(r);
    /* bad cutoffs */
    onc_ir_params p;
    onc_ir_params_default(&p);
    onc_error err = {0};
    assert_int_equal(onc_ir_parse_cutoffs(&p, "5,,10", &err), ONC_ERR_INVALID);
    assert_int_equal(onc_ir_parse_cutoffs(&p, "0", &err), ONC_ERR_INVALID);
    assert_int_equal(onc_ir_parse_cutoffs(&p, "5,", &err), ONC_ERR_INVALID);
    assert_int_equal(onc_ir_parse_cutoffs(&p, "", &err), ONC_ERR_INVALID);
    assert_int_equal(onc_ir_parse_cutoffs(&p, "100,5,10,5", &err), ONC_OK);
    assert_int_equal(p.n_cutoffs, 3);
    assert_true(p.cutoffs[0] == 5 && p.cutoffs[1] == 10 && p.cutoffs[2] == 100);
    char name[64];
    assert_string_equal(onc_ir_metric_name(ONC_IR_TREC, ONC_IR_NDCG, 10, name, sizeof name), "ndcg_cut_10");
    assert_string_equal(onc_ir_metric_name(ONC_IR_TREC, ONC_IR_P, 5, name, sizeof name), "P_5");
    assert_string_equal(onc_ir_metric_name(ONC_IR_ST, ONC_IR_MAP_CUT, 100, name, sizeof name), "map@100");
    assert_int_equal(onc_ir_metric_parse("recall"), ONC_IR_RECALL);
    assert_int_equal(onc_ir_metric_parse("nope"), -1);
}

static void test_formats(void **state) {
    (void)state;
    /* BEIR with header, CRLF and blank lines; auto-detected by content */
    const char *beir = "query-id\tcorpus-id\tscore\r\nq1\tdoc 1\t2\r\n\r\nq1\td2\t0\r\nq2\td3\t1\r\n";
    onc_error err = {0};
    onc_qrels *q = onc_qrels_parse(beir, strlen(beir), "x", ONC_QRELS_AUTO, &err);
    assert_non_null(q);
    assert_int_equal(onc_qrels_n_queries(q), 2);
    assert_int_equal(onc_qrels_n_judgements(q), 3);
    int64_t rel = -9;
    assert_true(onc_qrels_get(q, "q1", "doc 1", &rel)); /* tab-separated: spaces belong to the id */
    assert_int_equal(rel, 2);
    assert_false(onc_qrels_get(q, "q1", "d3", &rel));
    assert_false(onc_qrels_get(q, "q9", "d3", &rel));
    onc_qrels_free(q);
    /* BEIR chosen by the .tsv name even without a header; TREC with CRLF and tabs */
    q = onc_qrels_parse("q1\td\t1\n", 7, "test.tsv", ONC_QRELS_AUTO, &err);
    assert_non_null(q);
    assert_true(onc_qrels_get(q, "q1", "d", &rel) && rel == 1);
    onc_qrels_free(q);
    q = qrels_of("b 0\td -2\r\n\n  \na 0 d 1\r\n");
    assert_int_equal(onc_qrels_n_queries(q), 2);
    assert_string_equal(onc_qrels_qid(q, 0), "a");
    assert_string_equal(onc_qrels_qid(q, 1), "b");
    assert_true(onc_qrels_get(q, "b", "d", &rel) && rel == -2);
    onc_qrels_free(q);
    /* run: CRLF, tabs, blank lines, run tag, empty run */
    onc_run *r = run_of("\r\nq\tQ0\td\t1\t1e-3\tmyrun\r\n  \n", false);
    assert_string_equal(onc_run_tag(r), "myrun");
    assert_int_equal(onc_run_n_lines(r), 1);
    onc_run_free(r);
    r = run_of("", false);
    assert_int_equal(onc_run_n_queries(r), 0);
    assert_string_equal(onc_run_tag(r), "");
    onc_run_free(r);
    /* files on disk, and a missing file */
    FILE *f = fopen("eval_test.run", "w");
    assert_non_null(f);
    fputs("q1 Q0 d1 1 3 x\nq1 Q0 d2 2 2 x\n", f);
    fclose(f);
    r = onc_run_load("eval_test.run", NULL, &err);
    assert_non_null(r);
    assert_int_equal(onc_run_n_docs(r, 0), 2);
    onc_run_free(r);
    assert_null(onc_run_load("no/such/file.run", NULL, &err));
    assert_int_equal(err.code, ONC_ERR_IO);
    assert_non_null(strstr(err.msg, "no/such/file.run"));
    assert_null(onc_qrels_load("no/such/qrels", ONC_QRELS_AUTO, &err));
}

static void test_categories(void **state) {
    (void)state;
    const char *jsonl = "{\"_id\": \"q1\", \"text\": \"?\", \"metadata\": {\"category\": \"biomarkers\"}}\n"
                        "\n{\"_id\": \"q2\", \"text\": \"?\", \"metadata\": {\"category\": \"staging\"}}\n"
                        "{\"_id\": 3, \"text\": \"?\", \"metadata\": {\"category\": \"biomarkers\"}}\n"
                        "{\"_id\": \"q4\", \"text\": \"?\", \"metadata\": {}}\n";
    onc_error err = {0};
    onc_ir_categories *c = onc_ir_categories_parse(jsonl, strlen(jsonl), "queries.jsonl", &err);
    assert_non_null(c);
    assert_string_equal(onc_ir_category_of(c, "q1"), "biomarkers");
    assert_string_equal(onc_ir_category_of(c, "3"), "biomarkers");
    assert_null(onc_ir_category_of(c, "q4"));
    assert_int_equal(onc_ir_categories_n_queries(c), 3);

    /* q1: rel doc first (ndcg 1); q2: rel doc second (1/log2 3); 3: nothing relevant retrieved (0); q4: (none) 1 */
    onc_qrels *q = qrels_of("q1 0 a 1\nq2 0 a 1\n3 0 a 1\nq4 0 a 1\n");
    onc_run *r = run_of("q1 Q0 a 1 2 r\nq2 Q0 b 1 2 r\nq2 Q0 a 2 1 r\n3 Q0 b 1 1 r\nq4 Q0 a 1 1 r\n", false);
    onc_ir_params p = params(ONC_IR_TREC, "10");
    onc_ir_result *res = onc_ir_evaluate(q, r, &p, &err);
    size_t ng = 0;
    onc_ir_group *g = onc_ir_summarize(res, c, &ng, &err);
    assert_non_null(g);
    /* groups: all, biomarkers {q1, 3}, staging {q2}, (none) {q4} */
    assert_int_equal(ng, 4);
    assert_string_equal(g[0].name, "all");
    assert_int_equal(g[0].n_queries, 4);
    assert_string_equal(g[1].name, "biomarkers");
    assert_int_equal(g[1].n_queries, 2);
    assert_string_equal(g[2].name, "staging");
    assert_string_equal(g[3].name, "(none)");
    const size_t nc = p.n_cutoffs;
    NEAR(g[0].means[ONC_IR_NDCG * nc], (1 + 1 / log2(3.0) + 0 + 1) / 4);
    NEAR(g[1].means[ONC_IR_NDCG * nc], 0.5);
    NEAR(g[2].means[ONC_IR_NDCG * nc], 1 / log2(3.0));
    NEAR(g[3].means[ONC_IR_NDCG * nc], 1.0);
    onc_ir_groups_free(g, ng);
    g = onc_ir_summarize(res, NULL, &ng, &err);
    assert_int_equal(ng, 1);
    onc_ir_groups_free(g, ng);

    /* paired values against a second run where q2 is perfect and 3 is missing */
    onc_run *r2 = run_of("q1 Q0 a 1 2 r\nq2 Q0 a 1 2 r\nq4 Q0 b 1 1 r\n", false);
    onc_ir_result *res2 = onc_ir_evaluate(q, r2, &p, &err);
    double *va, *vb;
    size_t n;
    assert_int_equal(onc_ir_paired_values(res, res2, ONC_IR_NDCG, 0, c, NULL, &va, &vb, &n, &err), ONC_OK);
    assert_int_equal(n, 3); /* q1, q2, q4 (qid order: "3" < "q1" < "q2" < "q4"; 3 missing in run 2) */
    NEAR(va[1], 1 / log2(3.0));
    NEAR(vb[1], 1.0);
    NEAR(va[2], 1.0);
    NEAR(vb[2], 0.0);
    free(va), free(vb);
    assert_int_equal(onc_ir_paired_values(res, res2, ONC_IR_NDCG, 0, c, "biomarkers", &va, &vb, &n, &err), ONC_OK);
    assert_int_equal(n, 1);
    free(va), free(vb);
    assert_int_equal(onc_ir_paired_values(res, res2, ONC_IR_NDCG, 0, c, "(none)", &va, &vb, &n, &err), ONC_OK);
    assert_int_equal(n, 1);
    free(va), free(vb);
    onc_ir_params p2 = params(ONC_IR_TREC, "5");
    onc_ir_result *res3 = onc_ir_evaluate(q, r2, &p2, &err);
    assert_int_equal(onc_ir_paired_values(res, res3, ONC_IR_NDCG, 0, NULL, NULL, &va, &vb, &n, &err), ONC_ERR_INVALID);
    onc_ir_result_free(res3);
    onc_ir_result_free(res2);
    onc_ir_result_free(res);
    onc_run_free(r2);
    onc_run_free(r);
    onc_qrels_free(q);
    onc_ir_categories_free(c);

    /* TSV with header; a conflict names both lines; bad JSON names the line */
    const char *tsv = "qid\tcategory\nq1\ta\nq2\tb\nq1\ta\n";
    c = onc_ir_categories_parse(tsv, strlen(tsv), "c.tsv", &err);
    assert_non_null(c);
    assert_string_equal(onc_ir_category_of(c, "q2"), "b");
    onc_ir_categories_free(c);
    const char *bad = "q1\ta\nq1\tb\n";
    assert_null(onc_ir_categories_parse(bad, strlen(bad), "c.tsv", &err));
    assert_non_null(strstr(err.msg, "c.tsv:2: query 'q1' has category 'b' here but 'a' on line 1"));
    const char *badj = "{\"_id\": \"q1\"}\n{\"_id\": \n";
    assert_null(onc_ir_categories_parse(badj, strlen(badj), "q.jsonl", &err));
    assert_non_null(strstr(err.msg, "q.jsonl:2: invalid JSON"));
}

/* ---- statistics ----------------------------------------------------------------------------- */

static void test_stats_basics(void **state) {
    (void)state;
    onc_error err = {0};
    /* average ranks: 3 1 4 1 5 -> 3, 1.5, 4, 1.5, 5 */
    const double x[] = {3, 1, 4, 1, 5};
    double r[5];
    assert_int_equal(onc_rankdata(x, 5, r, &err), ONC_OK);
    assert_true(r[0] == 3 && r[1] == 1.5 && r[2] == 4 && r[3] == 1.5 && r[4] == 5);
    /* normal distribution (tables: Phi(1.96) = 0.9750021048517795, Phi(-1) = 0.15865525393145707) */
    NEAR(onc_norm_cdf(0), 0.5);
    NEAR(onc_norm_cdf(1.96), 0.9750021048517795);
    NEAR(onc_norm_sf(1.96), 0.024997895148220435);
    NEAR(onc_norm_cdf(-1.0), 0.15865525393145707);
    assert_true(fabs(onc_norm_sf(10.0) / 7.61985302416047e-24 - 1) < 1e-13); /* tail keeps relative precision */
    /* numpy.quantile linear: [1 2 3 4] at .25 -> 1 + .75 = 1.75, .5 -> 2.5, .9 -> 3.7 */
    const double s[] = {1, 2, 3, 4};
    NEAR(onc_quantile_linear(s, 4, 0.25), 1.75);
    NEAR(onc_quantile_linear(s, 4, 0.5), 2.5);
    NEAR(onc_quantile_linear(s, 4, 0.9), 3.7);
    NEAR(onc_quantile_linear(s, 4, 0.0), 1.0);
    NEAR(onc_quantile_linear(s, 4, 1.0), 4.0);
    NEAR(onc_mean(s, 4), 2.5);
    /* exact null distribution, n = 3: sums of subsets of {1,2,3}: 0:1 1:1 2:1 3:2 4:1 5:1 6:1 (/8) */
    size_t len;
    double *pmf = onc_wilcoxon_pmf(3, &len, &err);
    assert_int_equal(len, 7);
    const double c3[] = {1, 1, 1, 2, 1, 1, 1};
    for (size_t i = 0; i < 7; i++) assert_true(pmf[i] == c3[i] / 8);
    free(pmf);
    assert_null(onc_wilcoxon_pmf(-1, &len, &err));
    /* bounded integers: bound 1 -> 0; always below bound */
    onc_rng rng;
    onc_rng_seed(&rng, 5);
    assert_int_equal(onc_rng_uniform_index(&rng, 1), 0);
    for (int i = 0; i < 1000; i++) assert_true(onc_rng_uniform_index(&rng, 7) < 7);
    assert_int_equal(onc_alternative_parse("less"), ONC_ALT_LESS);
    assert_int_equal(onc_wilcoxon_zero_parse("zsplit"), ONC_WILCOXON_ZERO_ZSPLIT);
    assert_int_equal(onc_wilcoxon_method_parse("bogus"), -1);
}

static onc_wilcoxon_result wil(const double *x, const double *y, size_t n, onc_wilcoxon_zero z, onc_alternative a,
                               onc_wilcoxon_method m, bool corr) {
    onc_wilcoxon_opts o = {.zero_method = z, .correction = corr, .alternative = a, .method = m};
    onc_wilcoxon_result w;
    onc_error err = {0};
    assert_int_equal(onc_wilcoxon(x, y, n, &o, &w, &err), ONC_OK);
    return w;
}

static void test_wilcoxon_textbook(void **state) {
    (void)state;
    /* Darwin's Zea mays data: height differences (eighths of an inch) of 15
     * crossed vs self-fertilised pairs, Fisher (1935) The Design of
     * Experiments, sec. 17; the example of the scipy.stats.wilcoxon docs:
     * T = 24, two-sided exact p = 2 * 676/32768 = 0.041259765625; one-sided
     * r+ = 96, p = 676/32768 = 0.0206298828125; normal approximation
     * p = 0.04088813291185591. */
    const double d[] = {6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75};
    onc_wilcoxon_result w = wil(d, NULL, 15, ONC_WILCOXON_ZERO_WILCOX, ONC_ALT_TWO_SIDED, ONC_WILCOXON_AUTO, false);
    assert_true(w.exact);
    assert_true(w.statistic == 24);
    assert_true(w.pvalue == 0.041259765625);
    w = wil(d, NULL, 15, ONC_WILCOXON_ZERO_WILCOX, ONC_ALT_GREATER, ONC_WILCOXON_AUTO, false);
    assert_true(w.statistic == 96 && w.pvalue == 0.0206298828125);
    w = wil(d, NULL, 15, ONC_WILCOXON_ZERO_WILCOX, ONC_ALT_TWO_SIDED, ONC_WILCOXON_APPROX, false);
    NEAR(w.pvalue, 0.04088813291185591);
    /* Hollander & Wolfe (1973), Nonparametric Statistical Methods, p. 29
     * (the example of R's wilcox.test): Hamilton depression scale, first vs
     * second visit, 9 patients: V = r+ = 40, one-sided p = 10/512 =
     * 0.01953125; two-sided T = 5, p = 20/512 = 0.0390625. */
    const double hx[] = {1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30};
    const double hy[] = {0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29};
    w = wil(hx, hy, 9, ONC_WILCOXON_ZERO_WILCOX, ONC_ALT_GREATER, ONC_WILCOXON_AUTO, false);
    assert_true(w.statistic == 40 && w.pvalue == 0.01953125);
    w = wil(hx, hy, 9, ONC_WILCOXON_ZERO_WILCOX, ONC_ALT_TWO_SIDED, ONC_WILCOXON_AUTO, false);
    assert_true(w.statistic == 5 && w.pvalue == 0.0390625);
}

static void test_wilcoxon_hand(void **state) {
    (void)state;
    /* d = 1, -1, 2, 0 (a zero: auto -> normal approximation, scipy's fallback)
     * wilcox: drop the 0 -> |d| 1 1 2 ranks 1.5 1.5 3; r+ = 4.5, r- = 1.5, T = 1.5;
     *   mn = 3*4/4 = 3; var*24 = 3*4*7 - (2^3-2)/2 = 84 - 3 = 81; se = sqrt(81/24) = 1.8371173;
     *   z = (1.5 - 3)/1.8371173 = -0.81649658; p = 2 sf(0.8165) = 0.4142161782425252
     *   with continuity correction: z = (1.5 - 3 + 0.5)/1.8371173 = -0.5443311, p = 0.58621368107314
     * pratt: ranks of |1 -1 2 0| = 2.5 2.5 4 1, zero's rank dropped: r+ = 6.5, r- = 2.5, T = 2.5;
     *   mn = 4*5/4 - 1*2/4 = 4.5; var*24 = 4*5*9 - 1*2*3 - (2^3-2)/2 = 180 - 6 - 3 = 171;
     *   z = (2.5 - 4.5)/sqrt(171/24) = -0.7492686, p = 0.4536952997039291
     * zsplit: zero rank 1 split: r+ = 7, r- = 3, T = 3; mn = 5; var*24 = 180 - 3 = 177;
     *   z = (3 - 5)/sqrt(177/24) = -0.7364596, p = 0.4614509878333607 */
    const double d[] = {1, -1, 2, 0};
    onc_wilcoxon_result w = wil(d, NULL, 4, ONC_WILCOXON_ZERO_WILCOX, ONC_ALT_TWO_SIDED, ONC_WILCOXON_AUTO, false);
    assert_false(w.exact);
    assert_true(w.fell_back);
    assert_true(w.statistic == 1.5);
    NEAR(w.z, -1.5 / sqrt(81.0 / 24));
    NEAR(w.pvalue, 0.4142161782425252);
    w = wil(d, NULL, 4, ONC_WILCOXON_ZERO_WILCOX, ONC_ALT_TWO_SIDED, ONC_WILCOXON_AUTO, true);
    NEAR(w.pvalue, 0.58621368107314);
    w = wil(d, NULL, 4, ONC_WILCOXON_ZERO_PRATT, ONC_ALT_TWO_SIDED, ONC_WILCOXON_APPROX, false);
    assert_true(w.statistic == 2.5);
    NEAR(w.z, -2.0 / sqrt(171.0 / 24));
    NEAR(w.pvalue, 0.4536952997039291);
    w = wil(d, NULL, 4, ONC_WILCOXON_ZERO_ZSPLIT, ONC_ALT_TWO_SIDED, ONC_WILCOXON_EXACT, false);
    assert_false(w.exact); /* exact asked, zeros present -> approximation, as scipy */
    assert_true(w.statistic == 3 && w.r_plus == 7 && w.r_minus == 3);
    NEAR(w.pvalue, 0.4614509878333607);
    /* exact with ties, d = 1 -1 2 3: ranks 1.5 1.5 3 4, r+ = 8.5 (T two-sided = r- = 1.5).
     * scipy 1.10.1 truncates: int(8.5) = 8. n = 4 subset-sum counts 0..10: 1 1 1 2 2 2 2 2 1 1 1 (/16):
     * greater P(R >= 8) = 3/16 = 0.1875; less P(R <= 8) = 14/16 = 0.875; two-sided 2 min = 0.375 */
    const double t[] = {1, -1, 2, 3};
    w = wil(t, NULL, 4, ONC_WILCOXON_ZERO_WILCOX, ONC_ALT_GREATER, ONC_WILCOXON_AUTO, false);
    assert_true(w.exact && w.ties && w.statistic == 8.5 && w.pvalue == 0.1875);
    w = wil(t, NULL, 4, ONC_WILCOXON_ZERO_WILCOX, ONC_ALT_LESS, ONC_WILCOXON_AUTO, false);
    assert_true(w.pvalue == 0.875);
    w = wil(t, NULL, 4, ONC_WILCOXON_ZERO_WILCOX, ONC_ALT_TWO_SIDED, ONC_WILCOXON_AUTO, false);
    assert_true(w.statistic == 1.5 && w.pvalue == 0.375);
    /* centre of the distribution (n = 4: r+ in 0..10, centre (len-1)//2 = 5):
     * d = 1 -2 -3 4 -> r+ = 1 + 4 = 5 = centre -> p = 1 (scipy's special case);
     * d = 1 -2 3 -4 -> r+ = 1 + 3 = 4: P(R <= 4) = (1+1+1+2+2)/16 = 7/16,
     * P(R >= 4) = 11/16 -> p = 2 * 7/16 = 0.875 */
    const double cdiff[] = {1, -2, -3, 4};
    w = wil(cdiff, NULL, 4, ONC_WILCOXON_ZERO_WILCOX, ONC_ALT_TWO_SIDED, ONC_WILCOXON_EXACT, false);
    assert_true(w.pvalue == 1.0);
    const double c4[] = {1, -2, 3, -4};
    w = wil(c4, NULL, 4, ONC_WILCOXON_ZERO_WILCOX, ONC_ALT_TWO_SIDED, ONC_WILCOXON_EXACT, false);
    assert_true(w.pvalue == 0.875);
    /* n > 50 -> approximation under auto */
    double big[60];
    for (int i = 0; i < 60; i++) big[i] = (i % 3 == 0 ? -1.0 : 1.0) * (i + 1);
    w = wil(big, NULL, 60, ONC_WILCOXON_ZERO_WILCOX, ONC_ALT_TWO_SIDED, ONC_WILCOXON_AUTO, false);
    assert_false(w.exact);
    assert_false(w.fell_back);
    /* errors and degenerate inputs */
    onc_error err = {0};
    onc_wilcoxon_result wr;
    const double z3[] = {0, 0, 0};
    assert_int_equal(onc_wilcoxon(z3, NULL, 3, NULL, &wr, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "zero"));
    onc_wilcoxon_opts o;
    onc_wilcoxon_opts_default(&o);
    o.zero_method = ONC_WILCOXON_ZERO_ZSPLIT;
    assert_int_equal(onc_wilcoxon(z3, NULL, 3, &o, &wr, &err), ONC_OK);
    assert_true(wr.pvalue == 1.0 && wr.statistic == 3.0);
    assert_int_equal(onc_wilcoxon(z3, NULL, 0, NULL, &wr, &err), ONC_OK);
    assert_true(isnan(wr.pvalue) && isnan(wr.statistic));
    const double nanv[] = {1, NAN};
    assert_int_equal(onc_wilcoxon(nanv, NULL, 2, NULL, &wr, &err), ONC_ERR_INVALID);
}

static void test_bootstrap(void **state) {
    (void)state;
    onc_error err = {0};
    onc_bootstrap_result b1, b2, b3;
    const double a[] = {0.1, 0.5, 0.3, 0.9, 0.2, 0.4};
    const double b[] = {0.3, 0.5, 0.6, 0.8, 0.6, 0.4};
    assert_int_equal(onc_bootstrap_paired_mean_diff(a, b, 6, 2000, 0.95, 11, &b1, &err), ONC_OK);
    assert_int_equal(onc_bootstrap_paired_mean_diff(a, b, 6, 2000, 0.95, 11, &b2, &err), ONC_OK);
    assert_int_equal(onc_bootstrap_paired_mean_diff(a, b, 6, 2000, 0.95, 12, &b3, &err), ONC_OK);
    /* mean(b - a) = (0.2 + 0 + 0.3 - 0.1 + 0.4 + 0)/6 = 0.8/6 */
    NEAR(b1.estimate, 0.8 / 6);
    assert_true(b1.lo == b2.lo && b1.hi == b2.hi); /* same seed, same interval */
    assert_true(b1.lo != b3.lo || b1.hi != b3.hi);
    assert_true(b1.lo <= b1.estimate && b1.estimate <= b1.hi);
    assert_true(b1.lo >= -0.1 && b1.hi <= 0.4); /* within the range of the differences */
    /* constant differences: the interval collapses; n = 1 likewise */
    const double c[] = {1, 2, 3}, c2[] = {1.5, 2.5, 3.5};
    assert_int_equal(onc_bootstrap_paired_mean_diff(c, c2, 3, 100, 0.9, 1, &b1, &err), ONC_OK);
    assert_true(b1.lo == 0.5 && b1.hi == 0.5 && b1.se == 0);
    assert_int_equal(onc_bootstrap_paired_mean_diff(c, c2, 1, 10, 0.9, 1, &b1, &err), ONC_OK);
    assert_true(b1.lo == 0.5 && b1.hi == 0.5);
    assert_int_equal(onc_bootstrap_paired_mean_diff(c, c2, 0, 10, 0.9, 1, &b1, &err), ONC_ERR_INVALID);
    assert_int_equal(onc_bootstrap_paired_mean_diff(c, c2, 3, 10, 1.0, 1, &b1, &err), ONC_ERR_INVALID);
    assert_int_equal(onc_bootstrap_paired_mean_diff(c, c2, 3, 0, 0.9, 1, &b1, &err), ONC_ERR_INVALID);
}

/* Proportions. Published examples: Newcombe (1998), "Two-sided confidence
 * intervals for the single proportion", Stat Med 17:857-872, Table II,
 * method 3 (Wilson score, 95%): 81/263 -> 0.2553-0.3662, 15/148 ->
 * 0.0624-0.1605, 0/20 -> 0-0.1611, 1/29 -> 0.0061-0.1718 (4 decimals, so
 * |error| < 5e-5). Agresti (2002), Categorical Data Analysis, 2nd ed., sec.
 * 10.1.1: presidential approval, discordant pairs 150 and 86: z = -4.17, so
 * McNemar's chi-square (no correction) = 64^2/236 = 17.36 and p < 0.001
 * (2 Phi(-4.166) = 3.10e-5). Hand-computed: binomial cdf(2; 4, 1/2) =
 * (1 + 4 + 6)/16; exact McNemar b = 1, c = 5: 2 (1 + 6)/64 = 14/64; with
 * the correction b == c == 3 gives (0 - 1)^2 / 6 (statsmodels' arithmetic);
 * no discordant pair: exact p = 1; chi-square NaN without the correction,
 * statistic inf and p 0 with it (statsmodels' division by zero). */
static void test_proportions(void **state) {
    (void)state;
    onc_error err = {0};
    const double newcombe[4][4] = {
        {81, 263, 0.2553, 0.3662}, {15, 148, 0.0624, 0.1605}, {0, 20, 0, 0.1611}, {1, 29, 0.0061, 0.1718}};
    for (int i = 0; i < 4; i++) {
        double lo, hi;
        assert_int_equal(onc_wilson_interval(newcombe[i][0], newcombe[i][1], 0.05, &lo, &hi, &err), ONC_OK);
        assert_true(fabs(lo - newcombe[i][2]) < 5e-5 && fabs(hi - newcombe[i][3]) < 5e-5);
    }
    double lo, hi;
    assert_int_equal(onc_wilson_interval(3, 2, 0.05, &lo, &hi, &err), ONC_ERR_INVALID);
    assert_int_equal(onc_wilson_interval(1, 2, 0, &lo, &hi, &err), ONC_ERR_INVALID);

    onc_mcnemar_result m;
    assert_int_equal(onc_mcnemar(150, 86, false, false, &m, &err), ONC_OK);
    NEAR(m.statistic, 4096.0 / 236);
    assert_true(fabs(m.pvalue - 3.10e-5) < 0.01e-5);
    assert_int_equal(onc_mcnemar(1, 5, true, false, &m, &err), ONC_OK);
    assert_true(m.statistic == 1 && fabs(m.pvalue - 14.0 / 64) < 1e-15);
    assert_int_equal(onc_mcnemar(3, 3, false, true, &m, &err), ONC_OK);
    NEAR(m.statistic, 1.0 / 6);
    assert_int_equal(onc_mcnemar(0, 0, true, false, &m, &err), ONC_OK);
    assert_true(m.pvalue == 1);
    assert_int_equal(onc_mcnemar(0, 0, false, false, &m, &err), ONC_OK);
    assert_true(isnan(m.pvalue) && isnan(m.statistic));
    assert_int_equal(onc_mcnemar(0, 0, false, true, &m, &err), ONC_OK);
    assert_true(isinf(m.statistic) && m.pvalue == 0);
    assert_int_equal(onc_mcnemar(-1, 2, true, false, &m, &err), ONC_ERR_INVALID);
    assert_true(fabs(onc_binom_cdf_half(2, 4) - 11.0 / 16) < 1e-15);
    assert_true(onc_binom_cdf_half(-1, 4) == 0 && onc_binom_cdf_half(4, 4) == 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trec_metrics),      cmocka_unit_test(test_st_metrics),
        cmocka_unit_test(test_ties),              cmocka_unit_test(test_query_sets),
        cmocka_unit_test(test_graded_ideal),      cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_formats),           cmocka_unit_test(test_categories),
        cmocka_unit_test(test_stats_basics),      cmocka_unit_test(test_wilcoxon_textbook),
        cmocka_unit_test(test_wilcoxon_hand),     cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_proportions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
