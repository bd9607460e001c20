/* demo_finetune.c — `oncolm demo` step 10: LoRA fine-tuning in miniature.
 * A small random llama (made here) learns the CT-report categories of the
 * synthetic records of step 7 as a prompt -> completion task: the prompt
 * holds the report's pancreas finding and impression (what fits the short
 * context of a tiny model), the completion is the category. It trains with
 * `oncolm finetune`'s machinery (checkpoints, validation, logs, report),
 * then both the base model and the base + adapter classify the test
 * reports by the likelihood of each category name, and the adapter is
 * written in llama.cpp's and PEFT's formats. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "demo.h"
#include "oncolm/finetune.h"
#include "oncolm/llm.h"
#include "oncolm/model_create.h"

static const char *const ct_names[3] = {"no cancer", "post-treatment", "pre-treatment"};

/* The prompt of a report: its pancreas finding and impression, then "Category:". */
static char *make_prompt(const char *report) {
    char *f = demo_ct_focus(report);
    const size_t n = f ? strlen(f) : 0;
    char *s = f ? malloc(n + 16) : NULL;
    if (s) snprintf(s, n + 16, "%s\nCategory:", f);
    free(f);
    return s;
}

/* Sum of log p(completion tokens | prompt) under the context's model. */
static double completion_logprob(onc_llm_ctx *c, const onc_tokenizer *tok, const char *prompt, const char *completion,
                                 onc_error *err) {
    char text[4096];
    snprintf(text, sizeof text, "%s %s", prompt, completion);
    int32_t *ids = NULL, *pids = NULL;
    size_t n = 0, np = 0;
    double lp = NAN;
    if (onc_tokenize(tok, text, strlen(text), NULL, &ids, &n, err) != ONC_OK ||
        onc_tokenize(tok, prompt, strlen(prompt), NULL, &pids, &np, err) != ONC_OK || np >= n || n > 1024)
        goto done;
    bool want[1024];
    for (size_t t = 0; t < n; t++) want[t] = t + 1 >= np && t + 1 < n;
    onc_llm_seq_clear(c, 0);
    onc_llm_batch b = {.n_tokens = (int32_t)n, .tokens = ids, .logits = want};
    if (onc_llm_decode(c, &b, err) != ONC_OK) goto done;
    const int32_t V = onc_llm_n_vocab(onc_llm_ctx_model(c));
    lp = 0;
    for (size_t t = np - 1; t + 1 < n; t++) {
        const float *lg = onc_llm_logits(c, (int32_t)t);
        double mx = lg[0], se = 0;
        for (int32_t v = 1; v < V; v++) mx = lg[v] > mx ? lg[v] : mx;
        for (int32_t v = 0; v < V; v++) se += exp(lg[v] - mx);
        lp += lg[ids[t + 1]] - mx - log(se);
    }
done:
    free(ids);
    free(pids);
    return lp;
}

/* Accuracy of classifying rows by the most likely category name. */
static double accuracy(onc_llm_ctx *c, const onc_tokenizer *tok, task_rows *rows, size_t max_rows, onc_error *err) {
    size_t right = 0, n = 0;
    for (size_t i = 0; i < rows->n && n < max_rows; i++, n++) {
        char *prompt = make_prompt(demo_row_str(rows->rows[i], "input"));
        const long gold = (long)json_integer_value(json_object_get(rows->rows[i], "label"));
        int best = -1;
        double best_lp = -INFINITY;
        for (int k = 0; k < 3 && prompt; k++) {
            const double lp = completion_logprob(c, tok, prompt, ct_names[k], err);
            if (lp > best_lp) best_lp = lp, best = k;
        }
        right += best == gold;
        free(prompt);
    }
    return n ? (double)right / (double)n : 0;
}

int demo_step_finetune(demo *d) {
    printf("\n[10/11] LoRA fine-tuning: a small llama learns the CT-report categories\n");
    char *model = demo_path(d, "llama-ft-base.gguf"), *data = demo_path(d, "ct-sft.jsonl"),
         *out = demo_path(d, "finetune"), *ct = demo_path(d, "synth/ct_classification.jsonl");
    int rc = CLI_EXIT_FAIL;
    task_rows train = {0}, test = {0};
    onc_llm *m = NULL;
    onc_llm_ctx *c = NULL;
    onc_lora *lora = NULL;
    onc_error err = {0};
    if (!model || !data || !out || !ct) goto done;
    if (!demo_read_rows(ct, "train", &train) || !demo_read_rows(ct, "test", &test) || !train.n || !test.n) {
        fprintf(stderr, "oncolm demo: %s: cannot read the CT task of step 7\n", ct);
        goto done;
    }
    /* the training file */
    FILE *f = fopen(data, "w");
    if (!f) {
        fprintf(stderr, "oncolm demo: cannot write %s\n", data);
        goto done;
    }
    for (size_t i = 0; i < train.n; i++) {
        char *prompt = make_prompt(demo_row_str(train.rows[i], "input"));
        const long label = (long)json_integer_value(json_object_get(train.rows[i], "label"));
        char completion[64];
        snprintf(completion, sizeof completion, " %s", ct_names[label >= 0 && label < 3 ? label : 0]);
        json_t *row = json_pack("{s:s, s:s}", "prompt", prompt ? prompt : "", "completion", completion);
        char *line = row ? json_dumps(row, JSON_COMPACT) : NULL;
        if (line) fprintf(f, "%s\n", line);
        free(line);
        json_decref(row);
        free(prompt);
    }
    fclose(f);
    /* a small llama whose output head can express confident predictions */
    onc_model_create_params mp = onc_model_create_default_params();
    mp.n_layer = 2, mp.n_embd = 64, mp.n_head = 4, mp.n_head_kv = 2, mp.n_ff = 128, mp.n_ctx = 256;
    mp.init_std = 0.5f;
    if (onc_model_create(model, &mp, NULL, &err) != ONC_OK) goto fail;

    onc_finetune_params fp = onc_finetune_default_params();
    fp.model_path = model, fp.data_path = data, fp.out_dir = out;
    fp.lora.rank = 8, fp.lora.dropout = 0;
    fp.lr = 5e-3;
    fp.schedule = ONC_LR_COSINE;
    fp.max_len = 160;
    fp.packing = true;
    fp.max_steps = d->quick ? 100 : 300;
    fp.eval_every = fp.max_steps / 4;
    fp.save_every = fp.max_steps / 4;
    onc_finetune_result res;
    const double t0 = demo_now();
    if (onc_finetune_run(&fp, &res, &err) != ONC_OK) goto fail;
    printf("  %zu training reports as prompt -> category; LoRA rank 8 on all linear layers, packed to 160 tokens\n",
           train.n);
    printf("  %lld steps in %.1f s (%.0f tokens/s): last training loss %.3f, best validation loss %.3f at step %lld\n",
           (long long)res.steps, demo_now() - t0, res.tokens / (res.seconds > 0 ? res.seconds : 1), res.final_loss,
           res.best_val_loss, (long long)res.best_step);
    /* the first logged loss, from loss.csv */
    char *csv = demo_path(d, "finetune/loss.csv");
    double first = NAN;
    FILE *lf = csv ? fopen(csv, "r") : NULL;
    char line[256];
    if (lf && fgets(line, sizeof line, lf) && fgets(line, sizeof line, lf)) {
        const char *p = strchr(line, ',');
        p = p ? strchr(p + 1, ',') : NULL;
        if (p) first = atof(p + 1);
    }
    if (lf) fclose(lf);
    free(csv);
    demo_check(d, isfinite(first) && res.final_loss < 0.5 * first, "the training loss at least halves");

    /* classify the test reports by likelihood, base vs base + adapter */
    if (!(m = onc_llm_load(model, &err))) goto fail;
    onc_llm_ctx_params cp = onc_llm_ctx_default_params();
    cp.n_ctx = 256;
    if (!(c = onc_llm_ctx_new(m, &cp, &err))) goto fail;
    char *ad = demo_path(d, "finetune/adapter.gguf");
    lora = ad ? onc_lora_load(ad, onc_llm_gguf(m), onc_llm_hparams(m), &err) : NULL;
    free(ad);
    if (!lora) goto fail;
    const size_t n_test = d->quick ? 40 : 120;
    const double acc_base = accuracy(c, onc_llm_tokenizer(m), &test, n_test, &err);
    const onc_lora *ls[] = {lora};
    if (onc_llm_ctx_set_adapters(c, ls, NULL, 1, &err) != ONC_OK) goto fail;
    const double acc_tuned = accuracy(c, onc_llm_tokenizer(m), &test, n_test, &err);
    size_t counts[3] = {0};
    for (size_t i = 0; i < train.n; i++) {
        const long l = (long)json_integer_value(json_object_get(train.rows[i], "label"));
        if (l >= 0 && l < 3) counts[l]++;
    }
    const size_t maj = counts[1] > counts[0] ? (counts[2] > counts[1] ? 2 : 1) : (counts[2] > counts[0] ? 2 : 0);
    size_t maj_right = 0, n_eval = test.n < n_test ? test.n : n_test;
    for (size_t i = 0; i < n_eval; i++)
        maj_right += (size_t)json_integer_value(json_object_get(test.rows[i], "label")) == maj;
    printf("  test reports (%zu): accuracy base model %.1f%%, with the adapter %.1f%% (majority class \"%s\": %.1f%%)\n",
           n_eval, 100 * acc_base, 100 * acc_tuned, ct_names[maj], 100.0 * (double)maj_right / (double)n_eval);
    /* the quick corpus may hold a single category among its few test
     * reports: then no better is possible, only not worse */
    demo_check(d, acc_tuned >= acc_base && (acc_tuned > acc_base || acc_base == 1.0),
               "the fine-tuned model classifies better than its base");
    printf("  adapter: %s/adapter.gguf (llama.cpp --lora), %s/adapter-peft/ (PEFT); loss curves in %s/report.html\n",
           out, out, out);
    rc = CLI_EXIT_OK;
    goto done;
fail:
    fprintf(stderr, "oncolm demo: %s\n", err.msg);
done:
    onc_lora_free(lora);
    onc_llm_ctx_free(c);
    onc_llm_free(m);
    demo_free_rows(&train);
    demo_free_rows(&test);
    free(model), free(data), free(out), free(ct);
    return rc;
}
