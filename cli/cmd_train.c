/* cmd_train.c — `oncolm train classify|embed|mlm`: encoder training
 * (oncolm/enc_train.h) with a progress line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "oncolm/enc_train.h"

static const char train_usage[] =
    "usage: oncolm train classify|embed|mlm -m MODEL.gguf --data FILE -o OUT_DIR [options]\n"
    "Trains a BERT-family encoder (full fine-tuning, or LoRA with --rank).\n"
    "  classify  rows {\"text\", \"label\", \"split\"?}: a classification head over [CLS]; the best\n"
    "            checkpoint by validation macro-F1. `oncolm classify -m OUT_DIR/best.gguf` runs it.\n"
    "  embed     rows {\"query\", \"positive\", \"negative\"?, \"split\"?}: a sentence embedder trained with\n"
    "            in-batch negatives (MultipleNegativesRankingLoss). `oncolm embed` / `oncolm index` use it.\n"
    "  mlm       rows {\"text\"} (.jsonl, e.g. a BEIR corpus) or plain text, documents separated by\n"
    "            blank lines: masked-LM pre-training or domain adaptation.\n"
    "Writes OUT_DIR/model.gguf (last step), best.gguf (best validation), checkpoint.gguf, loss.csv,\n"
    "loss.json, report.html/.md. Splits: \"train\", \"val\"|\"validation\"|\"dev\", \"test\" (skipped).\n"
    "  model:     --rank R (0 = full fine-tuning)  --alpha A (16)  --lora-dropout P (0.1)\n"
    "             --dropout P (hidden dropout 0.1)  --out-type f32|f16 (f32)\n"
    "  data:      --max-len N (128 tokens, [CLS]/[SEP] included; longer texts lose their end)\n"
    "             --val-fraction F (0.1, when the data name no validation split)\n"
    "  batches:   --batch N (classify/mlm 16, embed 32)  --grad-accum N (1)  --epochs N (classify 3, else 1)\n"
    "             --max-steps N (0 = by epochs)\n"
    "  optimizer: --lr LR (2e-5; mlm 5e-5)  --schedule linear|cosine|constant|constant_with_warmup (linear)\n"
    "             --warmup-ratio F (0.1)  --warmup-steps N  --weight-decay W (0.01)  --max-grad-norm G (1)\n"
    "  classify:  --oversample | --undersample (random, to the largest / smallest class)\n"
    "             --class-weights (balanced, in the loss)  --metric macro-f1|accuracy|loss (macro-f1)\n"
    "  embed:     --pooling mean|cls|last (mean)  --scale S (20)  --symmetric\n"
    "             --chunk N (sequences per forward pass: gradient caching for large batches; 0 = all)\n"
    "             --mine-store NOTES.db (BM25 hard negatives from an `oncolm index` store)  --mine-negatives N (1)\n"
    "             --eval-beir DIR (corpus.jsonl, queries.jsonl, qrels/test.tsv: nDCG@10 selects best.gguf)\n"
    "  mlm:       --mlm-probability P (0.15)\n"
    "  run:       --eval-every N (100)  --patience N (0 = no early stopping)  --save-every N (100)\n"
    "             --resume (continue from OUT_DIR/checkpoint.gguf)  --seed S (42)  -t, --threads N\n";

static void progress(void *user, const onc_finetune_event *ev) {
    (void)user;
    switch (ev->kind) {
    case ONC_FT_EVENT_START:
        fprintf(stderr,
                "oncolm train: %lld training / %lld validation examples (%lld truncated); %lld steps; %.1f MiB for "
                "weights, gradients, activations and optimizer\n",
                (long long)ev->n_train, (long long)ev->n_val, (long long)ev->n_truncated, (long long)ev->total_steps,
                ev->memory_bytes / 1048576.0);
        if (ev->n_mined)
            fprintf(stderr, "oncolm train: %lld BM25 hard negatives mined from the store\n", (long long)ev->n_mined);
        if (ev->step) fprintf(stderr, "oncolm train: resuming after step %lld\n", (long long)ev->step);
        break;
    default: cli_train_progress(ev, true); break;
    }
}

static bool parse_task(const char *s, onc_train_task *t) {
    if (!strcmp(s, "classify")) *t = ONC_TRAIN_CLASSIFY;
    else if (!strcmp(s, "embed")) *t = ONC_TRAIN_EMBED;
    else if (!strcmp(s, "mlm")) *t = ONC_TRAIN_MLM;
    else return false;
    return true;
}

static bool parse_metric(const char *s, onc_train_metric *m) {
    if (!strcmp(s, "macro-f1") || !strcmp(s, "macro_f1")) *m = ONC_METRIC_MACRO_F1;
    else if (!strcmp(s, "accuracy")) *m = ONC_METRIC_ACCURACY;
    else if (!strcmp(s, "loss")) *m = ONC_METRIC_LOSS;
    else if (!strcmp(s, "ndcg@10") || !strcmp(s, "ndcg10")) *m = ONC_METRIC_NDCG10;
    else return false;
    return true;
}

static bool parse_pooling(const char *s, onc_pooling *p) {
    if (!strcmp(s, "mean")) *p = ONC_POOLING_MEAN;
    else if (!strcmp(s, "cls")) *p = ONC_POOLING_CLS;
    else if (!strcmp(s, "last")) *p = ONC_POOLING_LAST;
    else return false;
    return true;
}

int cmd_train(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        if (argc >= 2) {
            fputs(train_usage, stdout);
            return CLI_EXIT_OK;
        }
        return cli_usage_error(train_usage, "train: which task? classify, embed or mlm");
    }
    onc_train_task task;
    if (!parse_task(argv[1], &task))
        return cli_usage_error(train_usage, "train: unknown task '%s' (classify, embed, mlm)", argv[1]);
    onc_train_params p = onc_train_default_params(task);
    bool lr_given = false, metric_given = false;
    onc_error err = {0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t iv;
        double dv;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(train_usage, stdout);
            return CLI_EXIT_OK;
        }
        if (!strcmp(a, "--resume")) p.resume = true;
        else if (!strcmp(a, "--symmetric")) p.symmetric = true;
        else if (!strcmp(a, "--oversample")) p.resample = ONC_RESAMPLE_OVER;
        else if (!strcmp(a, "--undersample")) p.resample = ONC_RESAMPLE_UNDER;
        else if (!strcmp(a, "--class-weights")) p.class_weights = true;
        if (!strcmp(a, "--resume") || !strcmp(a, "--symmetric") || !strcmp(a, "--oversample") ||
            !strcmp(a, "--undersample") || !strcmp(a, "--class-weights"))
            continue;
        if (a[0] != '-' || !a[1]) return cli_usage_error(train_usage, "train: unexpected argument '%s'", a);
        if (!v) return cli_usage_error(train_usage, "train: %s needs a value", a);
        i++;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) p.model_path = v;
        else if (!strcmp(a, "--data")) p.data_path = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) p.out_dir = v;
        else if (!strcmp(a, "--mine-store")) p.mine_store = v;
        else if (!strcmp(a, "--eval-beir")) p.eval_beir = v;
        else if (!strcmp(a, "--schedule")) {
            if (onc_lr_schedule_parse(v, &p.schedule, &err) != ONC_OK) return cli_usage_error(train_usage, "%s", err.msg);
        } else if (!strcmp(a, "--metric")) {
            if (!parse_metric(v, &p.metric))
                return cli_usage_error(train_usage, "train: unknown metric '%s' (macro-f1, accuracy, loss, ndcg@10)", v);
            metric_given = true;
        } else if (!strcmp(a, "--pooling")) {
            if (!parse_pooling(v, &p.pooling)) return cli_usage_error(train_usage, "train: unknown pooling '%s'", v);
        } else if (!strcmp(a, "--out-type")) {
            if (!strcmp(v, "f32")) p.out_type = ONC_TYPE_F32;
            else if (!strcmp(v, "f16")) p.out_type = ONC_TYPE_F16;
            else return cli_usage_error(train_usage, "train: --out-type must be f32 or f16");
        } else if (!strcmp(a, "--lr")) {
            if (!cli_parse_f64(a, v, &dv)) return CLI_EXIT_USAGE;
            if (!(dv >= 0 && dv <= 10)) return cli_usage_error(train_usage, "train: --lr must be in [0, 10]");
            p.lr = dv, lr_given = true;
        }
        CLI_INT_OPT("--rank", 0, 4096, p.lora.rank)
        CLI_INT_OPT("--max-len", 4, 1 << 16, p.max_len)
        CLI_INT_OPT("--batch", 1, 1 << 16, p.batch_size)
        CLI_INT_OPT("--grad-accum", 1, 1 << 20, p.grad_accum)
        CLI_INT_OPT("--epochs", 1, 1 << 20, p.epochs)
        CLI_INT_OPT("--max-steps", 0, INT64_MAX / 2, p.max_steps)
        CLI_INT_OPT("--warmup-steps", 0, INT64_MAX / 2, p.warmup_steps)
        CLI_INT_OPT("--eval-every", 0, INT64_MAX / 2, p.eval_every)
        CLI_INT_OPT("--patience", 0, 1 << 20, p.patience)
        CLI_INT_OPT("--save-every", 0, INT64_MAX / 2, p.save_every)
        CLI_INT_OPT("--chunk", 0, 1 << 20, p.chunk)
        CLI_INT_OPT("--mine-negatives", 0, 64, p.mine_negatives)
        CLI_INT_OPT("--seed", 0, INT64_MAX, p.seed)
        CLI_INT_OPT("--threads", 1, 1024, p.n_threads)
        CLI_INT_OPT("-t", 1, 1024, p.n_threads)
        CLI_F_OPT(train_usage, "train", "--alpha", 1e-6, 1e6, p.lora.alpha)
        CLI_F_OPT(train_usage, "train", "--lora-dropout", 0, 0.95, p.lora.dropout)
        CLI_F_OPT(train_usage, "train", "--dropout", 0, 0.95, p.dropout)
        CLI_F_OPT(train_usage, "train", "--val-fraction", 0, 0.95, p.val_fraction)
        CLI_F_OPT(train_usage, "train", "--warmup-ratio", 0, 1, p.warmup_ratio)
        CLI_F_OPT(train_usage, "train", "--weight-decay", 0, 10, p.weight_decay)
        CLI_F_OPT(train_usage, "train", "--max-grad-norm", 0, 1e9, p.max_grad_norm)
        CLI_F_OPT(train_usage, "train", "--scale", 1e-3, 1e4, p.scale)
        CLI_F_OPT(train_usage, "train", "--mlm-probability", 1e-3, 0.999, p.mlm_probability)
        else return cli_usage_error(train_usage, "train: unknown option '%s'", a);
    }
    if (!p.model_path || !p.data_path || !p.out_dir)
        return cli_usage_error(train_usage, "train: -m MODEL, --data FILE and -o OUT_DIR are needed");
    if (!lr_given && p.lora.rank > 0) p.lr = 2e-4; /* LoRA learns with larger steps */
    if (!metric_given && task == ONC_TRAIN_EMBED && p.eval_beir) p.metric = ONC_METRIC_NDCG10;
    p.progress = progress;
    onc_train_result res;
    if (onc_train_run(&p, &res, &err) != ONC_OK) {
        if (isatty(2)) fputc('\n', stderr);
        return cli_fail(&err);
    }
    fprintf(stderr, "%soncolm train: %lld steps, last loss %.4f", isatty(2) ? "\n" : "", (long long)res.steps,
            res.final_loss);
    if (isfinite(res.best_metric))
        fprintf(stderr, ", best %s %.4f at step %lld", onc_train_metric_name(p.metric), res.best_metric,
                (long long)res.best_step);
    fprintf(stderr, "%s; %.1f s, %.1f examples/s; model in %s/model.gguf\n", res.stopped_early ? " (early stop)" : "",
            res.seconds, res.seconds > 0 ? (double)res.examples / res.seconds : 0.0, p.out_dir);
    return CLI_EXIT_OK;
}
