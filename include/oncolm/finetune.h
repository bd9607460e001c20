/* oncolm/finetune.h — LoRA fine-tuning of a decoder GGUF model on a JSONL
 * dataset (`oncolm finetune`): data (oncolm/sft_data.h), the trainable
 * model (oncolm/ft_model.h), AdamW with a schedule and clipping
 * (oncolm/optim.h), gradient accumulation, validation, early stopping,
 * checkpoints and exact resume, loss logs and adapters out.
 *
 * Steps. The training examples are shuffled at each epoch (a permutation
 * drawn from the seed and the epoch number) and grouped into micro-batches:
 * batch_size examples, or with packing as many whole examples as fit in
 * max_len tokens; the examples of a micro-batch are laid end to end and
 * attend only within themselves. An optimizer step accumulates grad_accum
 * micro-batches; the loss is the mean token cross-entropy over all trained
 * tokens of the step (TRL / Hugging Face), so the gradient is scaled by one
 * over the step's trained tokens. Then clipping (max_grad_norm), the
 * learning rate of the schedule at this step, and one AdamW update.
 *
 * Determinism and resume. Everything random (the shuffles, the LoRA
 * initialisation, dropout masks) is a function of the seed, the epoch and
 * the step, so a checkpoint needs no generator state: it holds the adapter,
 * AdamW's moments and step, the early-stopping state and the loss history,
 * written atomically (temporary file + rename) to OUT/checkpoint.gguf every
 * save_every steps. resume = true continues from it, and the losses after
 * the resume equal those of a run that was never interrupted (a test kills
 * a run with SIGKILL and checks it). A checkpoint made with other
 * settings, data or model is refused.
 *
 * Outputs in OUT (each written atomically): adapter.gguf (llama.cpp LoRA
 * format, loads with `--lora`), adapter-peft/ (PEFT), best.gguf (lowest
 * validation loss, when there is validation), loss.csv and loss.json (one
 * row per step: step, epoch, loss, lr, grad_norm, tokens, val_loss), and
 * report.html / report.md (settings, results, loss curves).
 *
 * Privacy: nothing of the notes is logged; messages name files and lines. */
#ifndef ONCOLM_FINETUNE_H
#define ONCOLM_FINETUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/lora.h"
#include "oncolm/optim.h"
#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum onc_finetune_event_kind {
    ONC_FT_EVENT_START, /* data read, model ready: total_steps, n_train, n_val known */
    ONC_FT_EVENT_STEP,  /* one optimizer step done */
    ONC_FT_EVENT_EVAL,  /* validation loss computed */
    ONC_FT_EVENT_SAVE,  /* checkpoint written */
    ONC_FT_EVENT_STOP,  /* early stopping */
} onc_finetune_event_kind;

typedef struct onc_finetune_event {
    onc_finetune_event_kind kind;
    int64_t step, total_steps;
    double epoch;                 /* fractional epochs done */
    double loss, lr, grad_norm;   /* of the step (STEP) */
    double val_loss;              /* EVAL (NaN otherwise) */
    double val_metric;            /* EVAL: the selection metric of encoder training (NaN: none) */
    const char *metric_name;      /* its name ("macro-F1", "nDCG@10" ...), NULL: none */
    double examples_per_s;        /* STEP: encoder training, examples per second this step */
    double tokens_per_s;          /* trained-on tokens (all tokens of the step) per second, this step */
    double eta_s;                 /* estimated seconds left */
    int64_t n_train, n_val, n_truncated, n_dropped; /* START */
    int64_t n_mined;              /* START: hard negatives mined (encoder training) */
    size_t memory_bytes;          /* START: activations, gradients, optimizer state */
} onc_finetune_event;

typedef struct onc_finetune_params {
    const char *model_path, *data_path, *out_dir;
    onc_lora_config lora;        /* rank 8, alpha 16, dropout 0.05, all linear layers */
    const char *template_name;   /* chat template for "messages" rows; NULL = the model's */
    uint64_t seed;               /* 42 */
    int32_t max_len;             /* 1024 */
    double val_fraction;         /* 0.1 */
    int32_t batch_size;          /* examples per micro-batch without packing (1) */
    bool packing;                /* fill micro-batches up to max_len tokens (false) */
    int32_t grad_accum;          /* micro-batches per step (1) */
    int32_t epochs;              /* 1 */
    int64_t max_steps;           /* > 0: stop there (epochs repeat as needed); 0 = epochs */
    double lr;                   /* 2e-4 */
    onc_lr_schedule schedule;    /* linear (Hugging Face's default) */
    double warmup_ratio;         /* 0.03 of the steps, unless warmup_steps > 0 */
    int64_t warmup_steps;
    double weight_decay;         /* 0 (Hugging Face's default) */
    double max_grad_norm;        /* 1.0; 0 = no clipping */
    int64_t eval_every;          /* steps between validations (50); 0 = at the end only */
    int32_t patience;            /* early stopping after this many validations without improvement; 0 = off */
    int64_t save_every;          /* steps between checkpoints (50); 0 = at the end only */
    bool resume;                 /* continue from OUT/checkpoint.gguf */
    int n_threads;               /* <= 0: all CPUs */
    void (*progress)(void *user, const onc_finetune_event *ev);
    void *progress_user;
} onc_finetune_params;

onc_finetune_params onc_finetune_default_params(void);

typedef struct onc_finetune_result {
    int64_t steps;               /* optimizer steps done (in total, with resumed ones) */
    double final_loss;           /* loss of the last step */
    double best_val_loss;        /* NaN without validation */
    int64_t best_step;
    double seconds;              /* this run */
    int64_t tokens;              /* tokens processed this run */
    bool stopped_early;
} onc_finetune_result;

/* Run a fine-tuning as described above. Errors name the file and the
 * problem; a run that fails leaves the last checkpoint intact. */
onc_status onc_finetune_run(const onc_finetune_params *p, onc_finetune_result *res, onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_FINETUNE_H */
