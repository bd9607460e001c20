/* demo_retrieval.c — `oncolm demo` step 8: the note store and retrieval on
 * the synthetic records of step 7: ingest, a patient-filtered search,
 * dense search with the BERT model of step 3, batch runs of the test
 * questions in BM25, dense and hybrid mode, and their evaluation as
 * trec_eval computes it, per question category. The model is random, so
 * only BM25's numbers mean something here; the retrieval study in miniature
 * (a trained embedder) comes with encoder training. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "demo.h"
#include "oncolm/store.h"

/* First test-split query of the synthetic set: its text and patient. */
static bool first_test_query(const char *queries, char *text, size_t tcap, char *patient, size_t pcap) {
    FILE *f = fopen(queries, "r");
    if (!f) return false;
    char *line = NULL;
    size_t cap = 0;
    bool found = false;
    while (!found && getline(&line, &cap, f) > 0) {
        if (!strstr(line, "\"split\":\"test\"")) continue;
        const char *t = strstr(line, "\"text\":\""), *p = strstr(line, "\"patient\":\"");
        if (!t || !p) continue;
        t += 8, p += 11;
        const char *te = strchr(t, '"'), *pe = strchr(p, '"');
        if (!te || !pe) continue;
        snprintf(text, tcap, "%.*s", (int)(te - t), t);
        snprintf(patient, pcap, "%.*s", (int)(pe - p), p);
        found = true;
    }
    free(line);
    fclose(f);
    return found;
}

int demo_step_retrieval(demo *d) {
    printf("\n[8/11] Note store and retrieval: BM25, dense and hybrid search, evaluated as trec_eval\n");
    char *db = demo_path(d, "notes.db"), *synth = demo_path(d, "synth"), *bert = demo_path(d, "bert-f32.gguf");
    char *queries = demo_path(d, "synth/queries.jsonl"), *qrels = demo_path(d, "synth/qrels/test.tsv");
    char *runs[3] = {demo_path(d, "run-bm25.trec"), demo_path(d, "run-dense.trec"), demo_path(d, "run-hybrid.trec")};
    onc_error err = {0};
    onc_store *s = NULL;
    onc_hit *h = NULL;
    int rc = CLI_EXIT_OK;
    if (!db || !synth || !bert || !queries || !qrels || !runs[0] || !runs[1] || !runs[2]) {
        onc_error_set(&err, ONC_ERR_NOMEM, "out of memory");
        goto fail;
    }
    static const char *const suffix[] = {"", "-wal", "-shm", ".faiss"};
    for (int i = 0; i < 4; i++) {
        char old[4096];
        snprintf(old, sizeof old, "%s%s", db, suffix[i]);
        unlink(old);
    }
    if (!(s = onc_store_open(db, true, NULL, &err))) goto fail;
    onc_ingest_counts c;
    double t0 = demo_now();
    if (onc_store_ingest(s, synth, ONC_INGEST_BEIR, 1000, &c, &err) != ONC_OK) goto fail;
    onc_store_stats st;
    if (onc_store_stats_get(s, &st, &err) != ONC_OK) goto fail;
    printf("  ingested %lld notes of %lld patients into %s: %lld section-aware chunks, %.2f s\n", (long long)c.notes,
           (long long)st.patients, db, (long long)st.chunks, demo_now() - t0);
    demo_check(d, st.notes == c.notes && onc_store_check(s, &err) == ONC_OK, "store holds every note, consistent");

    char question[512], patient[64];
    demo_check(d, first_test_query(queries, question, sizeof question, patient, sizeof patient),
               "a test question exists");
    onc_search_params sp = onc_search_default_params();
    sp.k = 3;
    sp.patient = patient;
    size_t n = 0;
    if (onc_store_search(s, question, &sp, &h, &n, &err) != ONC_OK) goto fail;
    printf("  BM25, patient %s only: \"%s\"\n", patient, question);
    bool own = true;
    for (size_t i = 0; i < n; i++) {
        printf("    %zu. %-16s %-10s %s  score %.3f\n", i + 1, h[i].note, h[i].type, h[i].date, h[i].score);
        own &= strcmp(h[i].patient, patient) == 0;
    }
    demo_check(d, own, "a patient-filtered search returns only that patient's notes");
    free(h), h = NULL;

    t0 = demo_now();
    if (onc_store_dense_build(s, bert, ONC_ANN_AUTO, 0, NULL, NULL, &err) != ONC_OK) goto fail;
    if (onc_store_stats_get(s, &st, &err) != ONC_OK) goto fail;
    printf("  dense index: %lld chunks embedded by bert-f32.gguf (dim %u), %s index, %.2f s\n",
           (long long)st.vectors, st.dim, st.index_kind, demo_now() - t0);
    demo_check(d, st.vectors == st.chunks && st.index_generation == st.generation, "every chunk in the vector index");
    onc_store_close(s), s = NULL;

    /* Batch runs through the same code as `oncolm search --queries`. */
    static const char *const modes[] = {"bm25", "dense", "hybrid"};
    for (int m = 0; m < 3; m++) {
        char *argv[] = {"search", "--db", db, "--queries", queries, "--split", "test", "--run", runs[m],
                        "--mode", (char *)modes[m], "--k", "10", NULL};
        printf("  ");
        fflush(stdout);
        if ((rc = cmd_search(13, argv)) != CLI_EXIT_OK) goto done;
    }
    printf("\n");
    fflush(stdout);
    char *eargv[] = {"eval", "retrieval", "--beir", synth, "--split", "test", "--complete", "--run", runs[0],
                     "--run", runs[1], "--run", runs[2], NULL};
    if ((rc = cmd_eval(13, eargv)) != CLI_EXIT_OK) goto done;
    const double bm25 = demo_ndcg10(qrels, runs[0], &err);
    if (bm25 < 0) goto fail;
    printf("  Read with care: the BERT model is random, so dense and hybrid orders are arbitrary, and each question\n"
           "  searches only its patient's ~8 notes, so any retriever returning all of them gets R@10 = 1 while BM25\n"
           "  returns only notes sharing a word. A trained embedder (encoder training) makes this comparison real.\n");
    demo_check(d, bm25 > 0.4, "BM25 nDCG@10 on the synthetic test questions above 0.4");
    goto done;
fail:
    rc = cli_fail(&err);
done:
    free(h);
    onc_store_close(s);
    free(db), free(synth), free(bert), free(queries), free(qrels);
    for (int i = 0; i < 3; i++) free(runs[i]);
    return rc;
}
