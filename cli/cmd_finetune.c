/* cmd_finetune.c — `oncolm finetune`: LoRA fine-tuning of a decoder model
 * on a JSONL dataset (oncolm/finetune.h), with a progress line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "oncolm/finetune.h"

static const char finetune_usage[] =
    "usage: oncolm finetune -m MODEL.gguf --data TRAIN.jsonl -o OUT_DIR [options]\n"
    "Trains a LoRA adapter on a frozen base (any tensor type: F32 ... Q4_K). Rows of TRAIN.jsonl:\n"
    "  {\"prompt\": ..., \"completion\": ...}  (loss on the completion) or {\"messages\": [...]}\n"
    "  (chat template applied, loss on assistant turns); optional \"split\": \"train\"|\"validation\".\n"
    "Writes OUT_DIR/adapter.gguf (llama.cpp LoRA: use with --lora), adapter-peft/ (PEFT),\n"
    "best.gguf (lowest validation loss), checkpoint.gguf, loss.csv, loss.json, report.html/.md.\n"
    "  LoRA:      --rank R (8)  --alpha A (16)  --dropout P (0.05)  --rslora\n"
    "             --modules LIST (all: q,k,v,o,gate,up,down; also PEFT names)\n"
    "  data:      --max-len N (1024, longer examples keep their first N tokens)\n"
    "             --val-fraction F (0.1)  --template NAME (chat template; default: the model's)\n"
    "  batches:   --batch N (1 example per micro-batch)  --packing (fill micro-batches to --max-len)\n"
    "             --grad-accum N (1)  --epochs N (1)  --max-steps N (0 = by epochs)\n"
    "  optimizer: --lr LR (2e-4)  --schedule linear|cosine|constant|constant_with_warmup (linear)\n"
    "             --warmup-ratio F (0.03)  --warmup-steps N  --weight-decay W (0)  --max-grad-norm G (1; 0 = off)\n"
    "  run:       --eval-every N (50)  --patience N (0 = no early stopping)  --save-every N (50)\n"
    "             --resume (continue from OUT_DIR/checkpoint.gguf)  --seed S (42)  -t, --threads N\n";

static void progress(void *user, const onc_finetune_event *ev) {
    (void)user;
    switch (ev->kind) {
    case ONC_FT_EVENT_START:
        fprintf(stderr,
                "oncolm finetune: %lld training / %lld validation examples (%lld truncated, %lld dropped with "
                "nothing to train); %lld steps%s; %.1f MiB for activations, gradients and adapter\n",
                (long long)ev->n_train, (long long)ev->n_val, (long long)ev->n_truncated, (long long)ev->n_dropped,
                (long long)ev->total_steps, ev->step ? " (resuming)" : "", ev->memory_bytes / 1048576.0);
        if (ev->step) fprintf(stderr, "oncolm finetune: resuming after step %lld\n", (long long)ev->step);
        break;
    default: cli_train_progress(ev, false); break;
    }
}

int cmd_finetune(int argc, char **argv) {
    onc_finetune_params p = onc_finetune_default_params();
    onc_error err = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t iv;
        double dv;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(finetune_usage, stdout);
            return CLI_EXIT_OK;
        }
        if (!strcmp(a, "--rslora")) {
            p.lora.rslora = true;
            continue;
        }
        if (!strcmp(a, "--packing")) {
            p.packing = true;
            continue;
        }
        if (!strcmp(a, "--resume")) {
            p.resume = true;
            continue;
        }
        if (a[0] != '-' || !a[1]) return cli_usage_error(finetune_usage, "finetune: unexpected argument '%s'", a);
        if (!v) return cli_usage_error(finetune_usage, "finetune: %s needs a value", a);
        i++;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) p.model_path = v;
        else if (!strcmp(a, "--data")) p.data_path = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) p.out_dir = v;
        else if (!strcmp(a, "--template")) p.template_name = v;
        else if (!strcmp(a, "--modules")) {
            if (!(p.lora.modules = onc_lora_modules_parse(v, &err))) return cli_usage_error(finetune_usage, "%s", err.msg);
        } else if (!strcmp(a, "--schedule")) {
            if (onc_lr_schedule_parse(v, &p.schedule, &err) != ONC_OK) return cli_usage_error(finetune_usage, "%s", err.msg);
        }
        CLI_INT_OPT("--rank", 1, 4096, p.lora.rank)
        CLI_INT_OPT("--max-len", 2, 1 << 20, p.max_len)
        CLI_INT_OPT("--batch", 1, 4096, p.batch_size)
        CLI_INT_OPT("--grad-accum", 1, 1 << 20, p.grad_accum)
        CLI_INT_OPT("--epochs", 1, 1 << 20, p.epochs)
        CLI_INT_OPT("--max-steps", 0, INT64_MAX / 2, p.max_steps)
        CLI_INT_OPT("--warmup-steps", 0, INT64_MAX / 2, p.warmup_steps)
        CLI_INT_OPT("--eval-every", 0, INT64_MAX / 2, p.eval_every)
        CLI_INT_OPT("--patience", 0, 1 << 20, p.patience)
        CLI_INT_OPT("--save-every", 0, INT64_MAX / 2, p.save_every)
        CLI_INT_OPT("--seed", 0, INT64_MAX, p.seed)
        CLI_INT_OPT("--threads", 1, 1024, p.n_threads)
        CLI_INT_OPT("-t", 1, 1024, p.n_threads)
        CLI_F_OPT(finetune_usage, "finetune", "--alpha", 1e-6, 1e6, p.lora.alpha)
        CLI_F_OPT(finetune_usage, "finetune", "--dropout", 0, 0.95, p.lora.dropout)
        CLI_F_OPT(finetune_usage, "finetune", "--val-fraction", 0, 0.95, p.val_fraction)
        CLI_F_OPT(finetune_usage, "finetune", "--lr", 0, 10, p.lr)
        CLI_F_OPT(finetune_usage, "finetune", "--warmup-ratio", 0, 1, p.warmup_ratio)
        CLI_F_OPT(finetune_usage, "finetune", "--weight-decay", 0, 10, p.weight_decay)
        CLI_F_OPT(finetune_usage, "finetune", "--max-grad-norm", 0, 1e9, p.max_grad_norm)
        else return cli_usage_error(finetune_usage, "finetune: unknown option '%s'", a);
    }
    if (!p.model_path || !p.data_path || !p.out_dir)
        return cli_usage_error(finetune_usage, "finetune: -m MODEL, --data FILE and -o OUT_DIR are needed");
    p.progress = progress;
    onc_finetune_result res;
    if (onc_finetune_run(&p, &res, &err) != ONC_OK) {
        if (isatty(2)) fputc('\n', stderr);
        return cli_fail(&err);
    }
    fprintf(stderr, "%soncolm finetune: %lld steps, last loss %.4f", isatty(2) ? "\n" : "", (long long)res.steps,
            res.final_loss);
    if (isfinite(res.best_val_loss))
        fprintf(stderr, ", best validation loss %.4f at step %lld", res.best_val_loss, (long long)res.best_step);
    fprintf(stderr, "%s; %.1f s, %.0f tokens/s; adapter in %s/adapter.gguf\n", res.stopped_early ? " (early stop)" : "",
            res.seconds, res.seconds > 0 ? (double)res.tokens / res.seconds : 0.0, p.out_dir);
    return CLI_EXIT_OK;
}
