/* fuzz_trec.c — libFuzzer target for the retrieval-evaluation readers
 * (oncolm/eval_retrieval.h): the input is parsed as a TREC run (float32 and
 * double scores), as TREC, BEIR and auto-detected qrels, and as a category
 * file (JSONL or TSV). An input holding the line "===" is also split there:
 * qrels before, run after. Whatever parses is evaluated under both
 * conventions (cutoffs 1, 3, 1000) and summarised per category, and the
 * results are checked: every error message starts with the given file
 * name; every metric is finite and within [0, 1]; relevant-retrieved never
 * exceeds retrieved or relevant; each run's ranking is in trec_eval order.
 * Replayed over fuzz/corpus/trec/ by ctest (replay.fuzz_trec). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/eval_retrieval.h"

static void check_err(const onc_error *err, const char *name) {
    const size_t n = strlen(name);
    if (err->code == ONC_OK || strncmp(err->msg, name, n) != 0 || err->msg[n] != ':') __builtin_trap();
}

static void check_run_order(const onc_run *r) {
    for (int64_t q = 0; q < onc_run_n_queries(r); q++) {
        if (q > 0 && strcmp(onc_run_qid(r, q - 1), onc_run_qid(r, q)) >= 0) __builtin_trap();
        double prev = 0;
        const char *pd = NULL;
        for (int64_t k = 0; k < onc_run_n_docs(r, q); k++) {
            double s;
            const char *d = onc_run_docno(r, q, k, &s);
            if (pd && (s > prev || (s == prev && strcmp(pd, d) <= 0))) __builtin_trap();
            prev = s, pd = d;
        }
    }
}

static void evaluate(const onc_qrels *q, const onc_run *r, const onc_ir_categories *cats) {
    for (int conv = 0; conv < 2; conv++) {
        for (int complete = 0; complete < 2; complete++) {
            onc_ir_params p;
            onc_ir_params_default(&p);
            p.convention = (onc_ir_convention)conv;
            p.complete = complete;
            onc_error err = {0};
            if (onc_ir_parse_cutoffs(&p, "1,3,1000", &err) != ONC_OK) __builtin_trap();
            onc_ir_result *res = onc_ir_evaluate(q, r, &p, &err);
            if (!res) {
                if (err.code != ONC_ERR_NOMEM) __builtin_trap();
                continue;
            }
            for (int64_t i = 0; i < onc_ir_n_queries(res); i++) {
                const onc_ir_query *qq = onc_ir_query_at(res, i);
                if (qq->num_rel_ret > qq->num_ret || qq->num_rel_ret > qq->num_rel) __builtin_trap();
                if (onc_ir_find_query(res, qq->qid) != i) __builtin_trap();
                for (int m = 0; m < ONC_IR_N_METRICS; m++)
                    for (size_t c = 0; c < p.n_cutoffs; c++) {
                        const double v = onc_ir_value(res, i, (onc_ir_metric)m, c);
                        if (!(v >= 0.0 && v <= 1.0 + 1e-12)) __builtin_trap();
                    }
            }
            size_t ng = 0;
            onc_ir_group *g = onc_ir_summarize(res, cats, &ng, &err);
            if (g) {
                int64_t total = 0;
                for (size_t k = 1; k < ng; k++) total += g[k].n_queries;
                if (ng < 1 || g[0].n_queries != onc_ir_n_queries(res) || (cats && total != g[0].n_queries))
                    __builtin_trap();
                onc_ir_groups_free(g, ng);
            }
            onc_ir_result_free(res);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    onc_error err = {0};
    /* as a run */
    for (int dbl = 0; dbl < 2; dbl++) {
        const onc_run_opts o = {.sim_double = dbl};
        onc_run *r = onc_run_parse(text, size, "fuzz.run", &o, &err);
        if (r) {
            check_run_order(r);
            onc_run_free(r);
        } else {
            check_err(&err, "fuzz.run");
        }
    }
    /* as qrels */
    const onc_qrels_format fmts[3] = {ONC_QRELS_AUTO, ONC_QRELS_TREC, ONC_QRELS_BEIR};
    for (int f = 0; f < 3; f++) {
        onc_qrels *q = onc_qrels_parse(text, size, "fuzz.qrels", fmts[f], &err);
        if (q) {
            for (int64_t i = 1; i < onc_qrels_n_queries(q); i++)
                if (strcmp(onc_qrels_qid(q, i - 1), onc_qrels_qid(q, i)) >= 0) __builtin_trap();
            onc_qrels_free(q);
        } else {
            check_err(&err, "fuzz.qrels");
        }
    }
    /* as categories */
    onc_ir_categories *cats = onc_ir_categories_parse(text, size, "fuzz.cats", &err);
    if (!cats) check_err(&err, "fuzz.cats");
    /* qrels "===" run */
    const char *sep = NULL;
    for (size_t i = 0; i + 5 <= size; i++)
        if (!memcmp(text + i, "\n===\n", 5)) {
            sep = text + i;
            break;
        }
    if (sep) {
        const size_t nq = (size_t)(sep - text) + 1, nr = size - nq - 4;
        onc_qrels *q = onc_qrels_parse(text, nq, "fuzz.qrels", ONC_QRELS_AUTO, &err);
        onc_run *r = onc_run_parse(sep + 5, nr, "fuzz.run", NULL, &err);
        if (q && r) evaluate(q, r, cats);
        onc_run_free(r);
        onc_qrels_free(q);
    }
    onc_ir_categories_free(cats);
    return 0;
}
