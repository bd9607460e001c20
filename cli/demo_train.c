/* demo_train.c — `oncolm demo` step 11: encoder training, the retrieval
 * study in miniature. On the synthetic records of step 7 and the note
 * store of step 8:
 *   1. a WordPiece vocabulary and a small BERT are made from the training
 *      patients' notes, and pre-trained on them as a masked LM;
 *   2. query-passage pairs are built from the training (and, for
 *      validation, dev) patients' template questions: the passage is the
 *      best BM25 chunk of a note judged highly relevant;
 *   3. the pre-trained encoder is fine-tuned as a sentence embedder
 *      (in-batch negatives, BM25 hard negatives from the store, gradient
 *      caching);
 *   4. the test patients' questions are run with BM25, the pre-trained
 *      starting point, the embedder and hybrid (BM25 + embedder), and
 *      evaluated per question category (nDCG@10, P@10, R@10);
 *   5. the same pre-trained encoder becomes a CT-report classifier
 *      (oversampling of the minority classes), against the majority class.
 * Everything goes through the CLI's own commands. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "demo.h"
#include "oncolm/encoder.h"
#include "oncolm/eval_classify.h"
#include "oncolm/eval_retrieval.h"
#include "oncolm/store.h"

/* Arguments in an argv array ending with NULL. */
#define ARGC(argv) ((int)(sizeof(argv) / sizeof((argv)[0])) - 1)

/* Write the text of every training-split note to path (vocabulary input). */
static bool write_train_text(const char *notes, const char *path) {
    task_rows rows = {0};
    if (!demo_read_rows(notes, "train", &rows)) return false;
    FILE *f = fopen(path, "w");
    bool ok = f != NULL;
    for (size_t i = 0; ok && i < rows.n; i++) ok = fprintf(f, "%s\n\n", demo_row_str(rows.rows[i], "text")) > 0;
    if (f && fclose(f) != 0) ok = false;
    demo_free_rows(&rows);
    return ok;
}

/* Text of query qid (queries.jsonl rows), or NULL. */
static const char *query_text(task_rows *q, const char *qid) {
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(demo_row_str(q->rows[i], "_id"), qid)) return demo_row_str(q->rows[i], "text");
    return NULL;
}

static const char *query_patient(task_rows *q, const char *qid) {
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(demo_row_str(q->rows[i], "_id"), qid))
            return json_string_value(json_object_get(json_object_get(q->rows[i], "metadata"), "patient"));
    return NULL;
}

/* Pairs of one split: for every judgement of relevance 2 in qrels/<split>.tsv,
 * the query and the best BM25 chunk (within the patient) of the judged note;
 * appended to f with "split": out_split. Returns the pairs written, -1 on error. */
static long write_pairs(onc_store *s, task_rows *q, const char *qrels_path, const char *out_split, FILE *f,
                        onc_error *err) {
    FILE *in = fopen(qrels_path, "r");
    if (!in) {
        onc_error_set(err, ONC_ERR_IO, "%s: cannot open", qrels_path);
        return -1;
    }
    char line[512];
    long n = 0;
    while (fgets(line, sizeof line, in)) {
        char qid[128], doc[128];
        int rel;
        if (sscanf(line, "%127s %127s %d", qid, doc, &rel) != 3 || rel < 2) continue;
        const char *text = query_text(q, qid), *patient = query_patient(q, qid);
        if (!text || !patient) continue;
        onc_search_params sp = onc_search_default_params();
        sp.mode = ONC_SEARCH_BM25;
        sp.k = 30;
        sp.patient = patient;
        onc_hit *h = NULL;
        size_t nh = 0;
        if (onc_store_search(s, text, &sp, &h, &nh, err) != ONC_OK) {
            fclose(in);
            return -1;
        }
        for (size_t i = 0; i < nh; i++) {
            if (strcmp(h[i].note, doc) != 0) continue;
            size_t len = 0;
            char *passage = onc_store_chunk_text(s, h[i].chunk, &len, err);
            if (!passage) break;
            json_t *o = json_pack("{s:s, s:s, s:s}", "query", text, "positive", passage, "split", out_split);
            char *js = o ? json_dumps(o, JSON_COMPACT) : NULL;
            if (js) fprintf(f, "%s\n", js), n++;
            free(js);
            json_decref(o);
            free(passage);
            break;
        }
        free(h);
    }
    fclose(in);
    return n;
}

/* The CT-report rows as {"text", "label", "split"} (label names), the text
 * being the report's pancreas finding and impression (what a 4-layer
 * model pre-trained for a minute learns from in the demo's time; the study's
 * BERT read whole reports), split again by class (every fifth report of a
 * class validates, the next one tests): the synthetic corpus splits by
 * patient, which can leave a split with a single class. */
static bool write_ct(const char *in, const char *out) {
    static const char *const names[3] = {"no cancer", "post-treatment", "pre-treatment"};
    task_rows rows = {0};
    if (!demo_read_rows(in, NULL, &rows)) return false;
    FILE *f = fopen(out, "w");
    bool ok = f != NULL;
    size_t seen[3] = {0, 0, 0};
    for (size_t i = 0; ok && i < rows.n; i++) {
        json_int_t l = json_integer_value(json_object_get(rows.rows[i], "label"));
        l = l >= 0 && l < 3 ? l : 0;
        const size_t k = seen[l]++ % 5;
        char *text = demo_ct_focus(demo_row_str(rows.rows[i], "input"));
        json_t *o = text ? json_pack("{s:s, s:s, s:s}", "text", text, "label", names[l], "split",
                                     k == 0 ? "validation" : k == 1 ? "test" : "train")
                         : NULL;
        free(text);
        char *js = o ? json_dumps(o, JSON_COMPACT) : NULL;
        ok = js && fprintf(f, "%s\n", js) > 0;
        free(js);
        json_decref(o);
    }
    if (f && fclose(f) != 0) ok = false;
    demo_free_rows(&rows);
    return ok;
}

/* Run the test questions against the store with `mode` into run_path
 * (oncolm search --queries), named `name` in the run file and the tables. */
static int search_run(char *db, char *queries, char *mode, char *name, char *run_path) {
    char *argv[] = {"search", "--db", db, "--queries", queries, "--split", "test", "--run", run_path,
                    "--mode", mode, "--k", "10", "--run-name", name, NULL};
    printf("  ");
    fflush(stdout);
    return cmd_search(ARGC(argv), argv);
}

/* Macro-F1 and accuracy of a classifier GGUF on the test rows of ct. */
static bool classify_test(const char *model, const char *ct, double *macro_f1, double *acc, double *base_f1,
                          double *base_acc, size_t *n_test, onc_error *err) {
    task_rows rows = {0};
    if (!demo_read_rows(ct, "test", &rows) || rows.n == 0) {
        demo_free_rows(&rows);
        onc_error_set(err, ONC_ERR_FORMAT, "%s: no test rows", ct);
        return false;
    }
    onc_encoder *e = onc_encoder_load(model, NULL, err);
    const size_t n = rows.n;
    const char **texts = malloc(n * sizeof *texts), **gold = malloc(n * sizeof *gold),
               **pred = malloc(n * sizeof *pred), **major = malloc(n * sizeof *major);
    float *probs = e ? malloc(n * onc_encoder_n_labels(e) * sizeof *probs) : NULL;
    bool ok = e && texts && gold && pred && major && probs;
    for (size_t i = 0; ok && i < n; i++) {
        texts[i] = demo_row_str(rows.rows[i], "text");
        gold[i] = demo_row_str(rows.rows[i], "label");
        major[i] = "no cancer";
    }
    ok = ok && onc_encoder_classify(e, texts, NULL, n, probs, err) == ONC_OK;
    const uint32_t C = ok ? onc_encoder_n_labels(e) : 0;
    for (size_t i = 0; ok && i < n; i++) {
        uint32_t b = 0;
        for (uint32_t c = 1; c < C; c++)
            if (probs[i * C + c] > probs[i * C + b]) b = c;
        pred[i] = onc_encoder_label(e, b);
    }
    onc_cls_result *r = ok ? onc_cls_evaluate(gold, pred, n, NULL, err) : NULL;
    onc_cls_result *rb = r ? onc_cls_evaluate(gold, major, n, NULL, err) : NULL;
    ok = rb != NULL;
    if (ok) {
        *macro_f1 = r->macro.f1.value, *acc = r->accuracy;
        *base_f1 = rb->macro.f1.value, *base_acc = rb->accuracy;
        *n_test = n;
    }
    onc_cls_result_free(r), onc_cls_result_free(rb);
    free(texts), free(gold), free(pred), free(major), free(probs);
    onc_encoder_free(e);
    demo_free_rows(&rows);
    return ok;
}

int demo_step_train(demo *d) {
    printf("\n[11/11] Encoder training: the retrieval study in miniature, and a CT-report classifier\n");
    char *synth = demo_path(d, "synth"), *notes = demo_path(d, "synth/notes.jsonl"),
         *queries = demo_path(d, "synth/queries.jsonl"), *db = demo_path(d, "notes.db"),
         *text = demo_path(d, "train-notes.txt"), *init = demo_path(d, "encoder-init.gguf"),
         *mlm = demo_path(d, "train-mlm"), *mlm_model = demo_path(d, "train-mlm/model.gguf"),
         *pairs = demo_path(d, "pairs.jsonl"), *emb = demo_path(d, "train-embed"),
         *emb_model = demo_path(d, "train-embed/best.gguf"), *qrels_train = demo_path(d, "synth/qrels/train.tsv"),
         *qrels_dev = demo_path(d, "synth/qrels/dev.tsv"), *qrels_test = demo_path(d, "synth/qrels/test.tsv"),
         *ct_dir = demo_path(d, "synth-ct"),
         *ct_in = demo_path(d, "synth-ct/ct_classification.jsonl"), *ct = demo_path(d, "ct-reports.jsonl"),
         *cls = demo_path(d, "train-classify"), *cls_model = demo_path(d, "train-classify/best.gguf");
    char *runs[4] = {demo_path(d, "run11-bm25.trec"), demo_path(d, "run11-start.trec"),
                     demo_path(d, "run11-embedder.trec"), demo_path(d, "run11-hybrid.trec")};
    onc_error err = {0};
    onc_store *s = NULL;
    FILE *pf = NULL;
    int rc = CLI_EXIT_OK;
    if (!runs[0] || !runs[1] || !runs[2] || !runs[3] || !synth || !notes || !queries || !db || !text || !init || !mlm || !mlm_model || !pairs || !emb ||
        !emb_model || !qrels_train || !qrels_dev || !qrels_test || !ct_dir || !ct_in || !ct || !cls || !cls_model) {
        onc_error_set(&err, ONC_ERR_NOMEM, "out of memory");
        goto fail;
    }

    /* 1. vocabulary, model, masked-LM pre-training on the training patients' notes */
    if (!write_train_text(notes, text)) {
        onc_error_set(&err, ONC_ERR_IO, "%s: cannot write the training notes", text);
        goto fail;
    }
    double t0 = demo_now();
    {
        char *argv[] = {"model", "create", "--arch", "bert", "--preset", "tiny", "--corpus", text, "--vocab-size",
                        "4000", "--layers", "4", "--embd", "256", "--heads", "4", "--ff", "1024", "-o", init, NULL};
        if ((rc = cmd_model(ARGC(argv), argv)) != CLI_EXIT_OK) goto done;
    }
    printf("  a 4-layer BERT (256 wide) with a 4,000-token WordPiece vocabulary learnt from the training notes, %.1f s\n",
           demo_now() - t0);
    t0 = demo_now();
    {
        char *argv[] = {"train", "mlm", "-m", init, "--data", notes, "-o", mlm, "--max-len", "128", "--batch", "16",
                        "--lr", "5e-4", "--max-steps", d->quick ? "30" : "60", "--eval-every", "0", "--save-every", "0",
                        "--warmup-ratio", "0.05", NULL};
        if ((rc = cmd_train(ARGC(argv), argv)) != CLI_EXIT_OK) goto done;
    }
    printf("  masked-LM pre-training on the notes (15%% masked), %.1f s\n", demo_now() - t0);

    /* 2. query-passage pairs from the training and dev patients */
    if (!(s = onc_store_open(db, false, NULL, &err))) goto fail;
    task_rows q = {0};
    if (!demo_read_rows(queries, NULL, &q)) {
        onc_error_set(&err, ONC_ERR_IO, "%s: cannot read", queries);
        goto fail;
    }
    if (!(pf = fopen(pairs, "w"))) {
        demo_free_rows(&q);
        onc_error_set(&err, ONC_ERR_IO, "%s: cannot create", pairs);
        goto fail;
    }
    const long n_train = write_pairs(s, &q, qrels_train, "train", pf, &err);
    const long n_val = n_train >= 0 ? write_pairs(s, &q, qrels_dev, "validation", pf, &err) : -1;
    demo_free_rows(&q);
    if (fclose(pf) != 0 && n_val >= 0) onc_error_set(&err, ONC_ERR_IO, "%s: cannot write", pairs), pf = NULL;
    pf = NULL;
    onc_store_close(s), s = NULL;
    if (n_train < 0 || n_val < 0) goto fail;
    printf("  %ld training / %ld validation query-passage pairs (template questions; the passage: the best BM25\n"
           "  chunk of a note judged highly relevant)\n", n_train, n_val);
    demo_check(d, n_train > 50, "enough training pairs");

    /* 3. the embedder */
    t0 = demo_now();
    {
        char *argv[] = {"train", "embed", "-m", mlm_model, "--data", pairs, "-o", emb, "--max-len", "128",
                        "--batch", "32", "--chunk", "32", "--lr", "5e-4", "--max-steps", d->quick ? "24" : "40",
                        "--mine-store", db, "--eval-every", "0", "--save-every", "0", NULL};
        if ((rc = cmd_train(ARGC(argv), argv)) != CLI_EXIT_OK) goto done;
    }
    printf("  contrastive fine-tuning (in-batch + BM25 hard negatives, chunks of 32 sequences), %.1f s\n",
           demo_now() - t0);

    /* 4. the test patients' questions: BM25, starting point, embedder, hybrid */
    if ((rc = search_run(db, queries, "bm25", "bm25", runs[0])) != CLI_EXIT_OK) goto done;
    const char *models[2] = {mlm_model, emb_model};
    for (int m = 0; m < 2; m++) {
        if (!(s = onc_store_open(db, false, NULL, &err))) goto fail;
        t0 = demo_now();
        if (onc_store_dense_build(s, models[m], ONC_ANN_AUTO, 0, NULL, NULL, &err) != ONC_OK) goto fail;
        onc_store_close(s), s = NULL;
        char *name = m ? "embedder" : "pretrained-start";
        if ((rc = search_run(db, queries, "dense", name, runs[1 + m])) != CLI_EXIT_OK) goto done;
    }
    if ((rc = search_run(db, queries, "hybrid", "hybrid", runs[3])) != CLI_EXIT_OK) goto done;
    printf("\n  Runs: 1 BM25, 2 the pre-trained encoder before contrastive training, 3 the trained embedder,\n"
           "  4 hybrid (BM25 + embedder, reciprocal rank fusion). Per question category, as trec_eval:\n");
    fflush(stdout);
    {
        char *argv[] = {"eval", "retrieval", "--beir", synth, "--split", "test", "--complete", "--run", runs[0],
                        "--run", runs[1], "--run", runs[2], "--run", runs[3], NULL};
        if ((rc = cmd_eval(ARGC(argv), argv)) != CLI_EXIT_OK) goto done;
    }
    const double nd[4] = {demo_ndcg10(qrels_test, runs[0], &err), demo_ndcg10(qrels_test, runs[1], &err),
                          demo_ndcg10(qrels_test, runs[2], &err), demo_ndcg10(qrels_test, runs[3], &err)};
    if (nd[0] < 0 || nd[1] < 0 || nd[2] < 0 || nd[3] < 0) goto fail;
    printf("  nDCG@10: BM25 %.4f, pre-trained start %.4f, embedder %.4f, hybrid %.4f\n", nd[0], nd[1], nd[2], nd[3]);
    demo_check(d, nd[2] > nd[1] + 0.05, "the fine-tuned embedder beats its starting point on nDCG@10");

    /* 5. the CT-report classifier, on a larger synthetic set of its own */
    {
        char *argv[] = {"synth", "corpus", "--patients", d->quick ? "200" : "400", "--seed", "11", "--out", ct_dir,
                        NULL};
        if ((rc = cmd_synth(ARGC(argv), argv)) != CLI_EXIT_OK) goto done;
    }
    if (!write_ct(ct_in, ct)) {
        onc_error_set(&err, ONC_ERR_IO, "%s: cannot write", ct);
        goto fail;
    }
    t0 = demo_now();
    {
        char *argv[] = {"train", "classify", "-m", mlm_model, "--data", ct, "-o", cls, "--max-len", "96",
                        "--batch", "16", "--lr", "1e-3", "--epochs", "3", "--oversample",
                        "--eval-every", "10", "--save-every", "0", NULL};
        if ((rc = cmd_train(ARGC(argv), argv)) != CLI_EXIT_OK) goto done;
    }
    double f1 = 0, acc = 0, bf1 = 0, bacc = 0;
    size_t n_test = 0;
    if (!classify_test(cls_model, ct, &f1, &acc, &bf1, &bacc, &n_test, &err)) goto fail;
    printf("  CT-report classifier on the reports' pancreas findings and impressions (oversampled minority classes,\n"
           "  best checkpoint by validation macro-F1), %.1f s:\n"
           "  %zu test reports: macro-F1 %.3f, accuracy %.3f; majority class: macro-F1 %.3f, accuracy %.3f\n",
           demo_now() - t0, n_test, f1, acc, bf1, bacc);
    demo_check(d, f1 > bf1 + 0.2, "the CT-report classifier beats the majority class on macro-F1 by a wide margin");
    goto done;
fail:
    rc = cli_fail(&err);
done:
    if (pf) fclose(pf);
    onc_store_close(s);
    free(synth), free(notes), free(queries), free(db), free(text), free(init), free(mlm), free(mlm_model);
    free(pairs), free(emb), free(emb_model), free(qrels_train), free(qrels_dev), free(qrels_test), free(ct_dir), free(ct_in);
    free(ct), free(cls), free(cls_model);
    for (int i = 0; i < 4; i++) free(runs[i]);
    return rc;
}
